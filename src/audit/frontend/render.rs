//! The front-end audit as text: every JavaScript and CSS file with its three sizes,
//! every page's first load against its lazy loads, the images, the served headers
//! (URL mode), then the checks and the summary line.

use comfy_table::presets::{UTF8_FULL, UTF8_FULL_CONDENSED};
use comfy_table::{CellAlignment, ContentArrangement, Table};

use super::FrontendReport;
use super::analyze::Kind;
use super::budgets::format_size;

fn table(header: &[&str], width: u16, condensed: bool) -> Table {
    let mut t = Table::new();
    t.load_preset(if condensed {
        UTF8_FULL_CONDENSED
    } else {
        UTF8_FULL
    })
    .set_content_arrangement(ContentArrangement::Dynamic)
    .set_width(width)
    .set_header(header.to_vec());
    t
}

/// Right-aligns every column but the first.
fn numbers(t: &mut Table) {
    let n = t.column_count();
    for i in 1..n {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Everything, for a terminal `width` wide.
pub fn text(report: &FrontendReport, width: u16) -> String {
    let mut out = files(report, width);
    out.push_str(&pages(report, width));
    if !report.analysis.images.is_empty() {
        out.push_str(&images(report, width));
    }
    if report.served {
        out.push_str(&served(report, width));
    }
    out.push_str(&checks(report, width));
    out
}

fn files(report: &FrontendReport, width: u16) -> String {
    let mut t = table(
        &[
            "File",
            "raw",
            "gzip",
            "brotli",
            "pages up front",
            "pages lazily",
        ],
        width,
        true,
    );
    let bundles = report
        .analysis
        .assets
        .iter()
        .filter(|x| matches!(x.kind, Kind::Script | Kind::Stylesheet));
    for x in bundles {
        t.add_row(vec![
            x.path.clone(),
            format_size(x.sizes.raw),
            format_size(x.sizes.gzip),
            format_size(x.sizes.brotli),
            x.first_load_pages.to_string(),
            x.lazy_pages.to_string(),
        ]);
    }
    numbers(&mut t);
    let n = &report.totals;
    let sizes = |s: super::sizes::Sizes| {
        format!(
            "{} raw / {} gzip / {} brotli",
            format_size(s.raw),
            format_size(s.gzip),
            format_size(s.brotli)
        )
    };
    format!(
        "Bundles: {} JavaScript files, {}; {} CSS files, {}\n{t}\n\n",
        n.scripts,
        sizes(n.script),
        n.stylesheets,
        sizes(n.stylesheet)
    )
}

fn pages(report: &FrontendReport, width: u16) -> String {
    let c = report.compression;
    let label = c.label();
    let mut t = table(
        &[
            "Page",
            &format!("JS up front ({label})"),
            "files",
            &format!("CSS up front ({label})"),
            &format!("lazy JS ({label})"),
            "files",
        ],
        width,
        true,
    );
    for p in &report.analysis.pages {
        t.add_row(vec![
            p.path.clone(),
            format_size(p.first_load.script.get(c)),
            p.first_load.scripts.len().to_string(),
            format_size(p.first_load.stylesheet.get(c)),
            format_size(p.lazy.script.get(c)),
            p.lazy.scripts.len().to_string(),
        ]);
    }
    numbers(&mut t);
    format!("Pages: {}\n{t}\n\n", report.analysis.pages.len())
}

fn images(report: &FrontendReport, width: u16) -> String {
    let header = [
        "Image",
        "size",
        "WebP q80",
        "WebP lossless",
        "saving",
        "served as WebP",
    ];
    let mut t = table(&header, width, true);
    for i in &report.analysis.images {
        t.add_row(vec![
            i.path.clone(),
            format_size(i.bytes),
            format_size(i.webp),
            i.webp_lossless.map_or("—".into(), format_size),
            format_size(i.webp_saving),
            if i.webp_served { "yes" } else { "no" }.into(),
        ]);
    }
    numbers(&mut t);
    format!("Images: {}\n{t}\n\n", report.analysis.images.len())
}

fn served(report: &FrontendReport, width: u16) -> String {
    let header = [
        "File",
        "Content-Encoding",
        "sent",
        "Cache-Control",
        "ETag",
        "conditional",
    ];
    let mut t = table(&header, width, true);
    for x in &report.analysis.assets {
        let Some(s) = &x.served else { continue };
        let none = || "—".to_string();
        t.add_row(vec![
            x.path.clone(),
            s.content_encoding.clone().unwrap_or_else(none),
            format_size(s.bytes_sent),
            s.cache_control.clone().unwrap_or_else(none),
            s.etag.clone().unwrap_or_else(none),
            s.revalidated.map_or_else(none, |c| c.to_string()),
        ]);
    }
    format!("Served headers\n{t}\n\n")
}

/// The checks table, the notes and the summary line.
pub fn checks(report: &FrontendReport, width: u16) -> String {
    let mut t = table(&["Check", "Result", "Evidence"], width, false);
    for c in &report.checks {
        t.add_row(vec![
            c.name.clone(),
            c.status.label().to_string(),
            c.evidence.clone(),
        ]);
    }
    let mut out = format!("{t}\n");
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(&report.summary_line());
    out.push('\n');
    out
}
