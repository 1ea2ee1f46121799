//! The front-end audit as one self-contained HTML page (styles inline, the treemap as
//! inline SVG, no script, nothing fetched): the checks, the bundles' treemap — every
//! JavaScript and CSS file a rectangle of its size, grouped by folder, coloured by
//! when the pages load it, its three sizes in its tooltip, as vite-bundle-visualizer
//! shows a build — then the pages, the files, the images and the served headers.
//! Laid out by the minijinja template `templates/frontend.html`.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::FrontendReport;
use super::analyze::{Asset, Kind};
use super::budgets::format_size;
use super::treemap::{Rect, squarify};

const TEMPLATE: &str = include_str!("../../../templates/frontend.html");

/// The treemap's size in SVG units (it scales to the page's width).
const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 620.0;
/// Height of a folder's title bar.
const FOLDER_BAR: f64 = 16.0;

#[derive(Serialize)]
struct Card {
    label: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Grid {
    header: Vec<&'static str>,
    /// Right-aligned columns.
    numeric: Vec<bool>,
    rows: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct Page<'a> {
    title: String,
    subtitle: String,
    cards: Vec<Card>,
    checks: &'a [super::FrontendCheck],
    summary: String,
    treemap: String,
    legend: Vec<(&'static str, &'static str)>,
    notes: &'a [String],
    pages: Grid,
    files: Grid,
    images: Option<Grid>,
    served: Option<Grid>,
}

/// When the pages load a file, and its colour.
fn colour(a: &Asset) -> &'static str {
    match (a.kind, a.first_load_pages > 0, a.lazy_pages > 0) {
        (Kind::Stylesheet, _, _) => "#d97706",
        (_, true, _) => "#2563eb",
        (_, false, true) => "#16a34a",
        _ => "#9ca3af",
    }
}

const LEGEND: &[(&str, &str)] = &[
    ("#2563eb", "JavaScript loaded up front by some page"),
    (
        "#16a34a",
        "JavaScript loaded only lazily (dynamic import, island on visibility)",
    ),
    (
        "#9ca3af",
        "JavaScript no page loads (service worker, unused)",
    ),
    ("#d97706", "CSS"),
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The bundles' treemap: folders, then their files, areas the raw sizes.
pub fn treemap_svg(assets: &[Asset]) -> String {
    let bundles: Vec<&Asset> = assets
        .iter()
        .filter(|a| matches!(a.kind, Kind::Script | Kind::Stylesheet) && a.sizes.raw > 0)
        .collect();
    let mut folders: BTreeMap<String, Vec<&Asset>> = BTreeMap::new();
    for a in &bundles {
        let folder = a.path.rsplit_once('/').map_or("/", |(f, _)| f);
        folders.entry(format!("{folder}/")).or_default().push(a);
    }
    let folders: Vec<(String, Vec<&Asset>)> = folders.into_iter().collect();
    let weights: Vec<f64> = folders
        .iter()
        .map(|(_, files)| files.iter().map(|a| a.sizes.raw as f64).sum())
        .collect();
    let area = Rect {
        x: 0.0,
        y: 0.0,
        w: WIDTH,
        h: HEIGHT,
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Treemap of the JavaScript and CSS files by raw size" font-family="system-ui, sans-serif" font-size="11">"#
    );
    for ((folder, files), rect) in folders.iter().zip(squarify(&weights, area)) {
        let total: u64 = files.iter().map(|a| a.sizes.raw).sum();
        let _ = write!(
            svg,
            r##"<g class="folder"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#374151"><title>{} — {} files, {} raw</title></rect>"##,
            rect.x,
            rect.y,
            rect.w,
            rect.h,
            escape(folder),
            files.len(),
            format_size(total)
        );
        if rect.w > 40.0 && rect.h > 2.0 * FOLDER_BAR {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" fill="#f9fafb">{}</text>"##,
                rect.x + 4.0,
                rect.y + 12.0,
                escape(&fit(
                    &format!("{folder} {}", format_size(total)),
                    rect.w - 8.0
                ))
            );
        }
        // A folder too small for its title bar lays its files over its whole area.
        let inner = match rect.w > 40.0 && rect.h > 2.0 * FOLDER_BAR {
            true => rect.inset(FOLDER_BAR, 1.0),
            false => rect,
        };
        let weights: Vec<f64> = files.iter().map(|a| a.sizes.raw as f64).collect();
        for (a, r) in files.iter().zip(squarify(&weights, inner)) {
            file_rect(&mut svg, a, r);
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

fn file_rect(svg: &mut String, a: &Asset, r: Rect) {
    if r.area() <= 0.0 {
        return;
    }
    let name = a.path.rsplit('/').next().unwrap_or(&a.path);
    let _ = write!(
        svg,
        r##"<g class="file"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="#fff" stroke-width="0.5"><title>{}
{} raw, {} gzip, {} brotli
loaded up front by {} pages, lazily by {}</title></rect>"##,
        r.x,
        r.y,
        r.w,
        r.h,
        colour(a),
        escape(&a.path),
        format_size(a.sizes.raw),
        format_size(a.sizes.gzip),
        format_size(a.sizes.brotli),
        a.first_load_pages,
        a.lazy_pages
    );
    if r.w > 50.0 && r.h > 14.0 {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" fill="#fff" pointer-events="none">{}</text>"##,
            r.x + 3.0,
            r.y + 12.0,
            escape(&fit(name, r.w - 6.0))
        );
        if r.h > 28.0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" fill="#e5e7eb" pointer-events="none">{}</text>"##,
                r.x + 3.0,
                r.y + 25.0,
                escape(&fit(
                    &format!(
                        "{} / {} gz",
                        format_size(a.sizes.raw),
                        format_size(a.sizes.gzip)
                    ),
                    r.w - 6.0
                ))
            );
        }
    }
    svg.push_str("</g>");
}

/// `text` cut to what `width` units hold at 11 px (about 6 units a character).
fn fit(text: &str, width: f64) -> String {
    let max = (width / 6.2).floor().max(0.0) as usize;
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{keep}…")
}

fn sizes_row(s: super::sizes::Sizes) -> [String; 3] {
    [
        format_size(s.raw),
        format_size(s.gzip),
        format_size(s.brotli),
    ]
}

fn pages_grid(report: &FrontendReport) -> Grid {
    let c = report.compression;
    let mut rows: Vec<Vec<String>> = report
        .analysis
        .pages
        .iter()
        .map(|p| {
            vec![
                p.path.clone(),
                p.first_load.scripts.len().to_string(),
                format_size(p.first_load.script.get(c)),
                format_size(p.first_load.stylesheet.get(c)),
                format_size(p.document.get(c)),
                p.lazy.scripts.len().to_string(),
                format_size(p.lazy.script.get(c)),
            ]
        })
        .collect();
    rows.sort_by_key(|r| r[0].clone());
    Grid {
        header: vec![
            "Page",
            "JS files up front",
            "JS up front",
            "CSS up front",
            "HTML",
            "lazy JS files",
            "lazy JS",
        ],
        numeric: vec![false, true, true, true, true, true, true],
        rows,
    }
}

fn files_grid(report: &FrontendReport) -> Grid {
    let rows = report
        .analysis
        .assets
        .iter()
        .filter(|a| matches!(a.kind, Kind::Script | Kind::Stylesheet))
        .map(|a| {
            let [raw, gzip, brotli] = sizes_row(a.sizes);
            vec![
                a.path.clone(),
                raw,
                gzip,
                brotli,
                a.first_load_pages.to_string(),
                a.lazy_pages.to_string(),
                if a.fingerprinted { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    Grid {
        header: vec![
            "File",
            "raw",
            "gzip",
            "brotli",
            "pages up front",
            "pages lazily",
            "fingerprinted",
        ],
        numeric: vec![false, true, true, true, true, true, false],
        rows,
    }
}

fn images_grid(report: &FrontendReport) -> Option<Grid> {
    let images = &report.analysis.images;
    (!images.is_empty()).then(|| Grid {
        header: vec![
            "Image",
            "size",
            "pixels",
            "WebP q80",
            "WebP lossless",
            "saving",
            "served as WebP",
        ],
        numeric: vec![false, true, true, true, true, true, false],
        rows: images
            .iter()
            .map(|i| {
                vec![
                    i.path.clone(),
                    format_size(i.bytes),
                    format!("{}×{}", i.width, i.height),
                    format_size(i.webp),
                    i.webp_lossless.map_or("—".into(), format_size),
                    format_size(i.webp_saving),
                    if i.webp_served { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect(),
    })
}

fn served_grid(report: &FrontendReport) -> Option<Grid> {
    let rows: Vec<Vec<String>> = report
        .analysis
        .assets
        .iter()
        .filter_map(|a| a.served.as_ref().map(|s| (a, s)))
        .map(|(a, s)| {
            let none = || "—".to_string();
            vec![
                a.path.clone(),
                s.content_encoding.clone().unwrap_or_else(none),
                format_size(s.bytes_sent),
                s.cache_control.clone().unwrap_or_else(none),
                s.etag.clone().unwrap_or_else(none),
                s.revalidated.map_or_else(none, |c| c.to_string()),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| Grid {
        header: vec![
            "File",
            "Content-Encoding",
            "sent",
            "Cache-Control",
            "ETag",
            "conditional GET",
        ],
        numeric: vec![false, false, true, false, false, true],
        rows,
    })
}

/// The page.
pub fn render(report: &FrontendReport) -> Result<String, minijinja::Error> {
    let t = &report.totals;
    let c = report.compression.label();
    let page = Page {
        title: format!("Front-end audit: {}", report.target),
        subtitle: format!(
            "{} · budgets {} (compared {c}) · koprogo-perf {}",
            report.started_at, report.budgets, report.tool_version
        ),
        cards: vec![
            Card {
                label: "pages",
                value: t.pages.to_string(),
            },
            Card {
                label: "JS files",
                value: t.scripts.to_string(),
            },
            Card {
                label: "JS raw / gzip / brotli",
                value: sizes_row(t.script).join(" / "),
            },
            Card {
                label: "CSS raw / gzip / brotli",
                value: sizes_row(t.stylesheet).join(" / "),
            },
            Card {
                label: "WebP would save",
                value: format_size(t.webp_saving),
            },
            Card {
                label: "checks",
                value: format!(
                    "{} pass, {} fail",
                    report.summary.passed, report.summary.failed
                ),
            },
        ],
        checks: &report.checks,
        summary: report.summary_line(),
        treemap: treemap_svg(&report.analysis.assets),
        legend: LEGEND.to_vec(),
        notes: &report.notes,
        pages: pages_grid(report),
        files: files_grid(report),
        images: images_grid(report),
        served: served_grid(report),
    };
    let mut env = minijinja::Environment::new();
    env.add_template("frontend.html", TEMPLATE)?;
    env.get_template("frontend.html")?
        .render(minijinja::value::Serde(page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::frontend::sizes::Sizes;

    fn asset(path: &str, raw: u64, first: usize) -> Asset {
        Asset {
            path: path.into(),
            kind: super::super::analyze::Kind::Script,
            sizes: Sizes {
                raw,
                gzip: raw / 3,
                brotli: raw / 4,
            },
            fingerprinted: true,
            first_load_pages: first,
            lazy_pages: 0,
            served: None,
        }
    }

    #[test]
    fn the_treemap_draws_every_file_in_its_folder() {
        let svg = treemap_svg(&[
            asset("/_astro/i18n.B1.js", 480_000, 3),
            asset("/_astro/<x>.js", 20_000, 0),
            // A folder too small for a title bar still shows its file.
            asset("/sw.js", 40, 0),
        ]);
        assert_eq!(svg.matches(r#"<g class="file">"#).count(), 3);
        assert_eq!(svg.matches(r#"<g class="folder">"#).count(), 2);
        assert!(svg.contains("/_astro/i18n.B1.js\n480.0 kB raw, 160.0 kB gzip"));
        assert!(svg.contains("&lt;x&gt;.js") && !svg.contains("<x>"));
        assert!(svg.contains("#2563eb") && svg.contains("#9ca3af"));
    }

    #[test]
    fn long_names_are_cut_to_fit() {
        assert_eq!(fit("abcdef", 100.0), "abcdef");
        assert_eq!(fit("abcdefghijklmnop", 31.0), "abcd…");
    }
}
