//! GitHub-flavoured Markdown: the report's sections for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`, with ✅/❌ marks.

use std::fmt::Write;

use crate::report::run::RunReport;
use crate::report::sections::{Grid, Section};

/// A cell made safe for a Markdown table, with PASS/FAIL marked.
fn cell(text: &str) -> String {
    let text = text.replace('|', "\\|").replace('\n', " ");
    match text.as_str() {
        "PASS" => "✅ PASS".to_string(),
        "FAIL" => "❌ FAIL".to_string(),
        _ => text,
    }
}

/// A grid as a Markdown table.
pub fn table(grid: &Grid) -> String {
    let mut out = String::new();
    let row = |cells: &mut dyn Iterator<Item = String>| {
        let cells: Vec<String> = cells.collect();
        format!("| {} |\n", cells.join(" | "))
    };
    out.push_str(&row(&mut grid.header.iter().map(|h| cell(h))));
    out.push_str(&row(&mut grid
        .numeric
        .iter()
        .map(|n| if *n { "---:" } else { "---" }.to_string())));
    for r in &grid.rows {
        out.push_str(&row(&mut r.iter().map(|c| cell(c.trim_start()))));
    }
    out
}

/// Sections as Markdown, each under a `###` heading.
pub fn sections(sections: &[Section]) -> String {
    let mut out = String::new();
    for s in sections {
        let _ = writeln!(out, "### {}\n", s.title);
        if let Some(note) = &s.note {
            let _ = writeln!(out, "{}\n", note.replace('\n', " "));
        }
        if let Some(grid) = &s.grid {
            out.push_str(&table(grid));
            out.push('\n');
        }
    }
    out
}

/// The headline: what ran, and how the targets came out.
pub fn headline(run: &RunReport) -> String {
    let failed = run.targets.iter().filter(|t| t.pass == Some(false)).count();
    let checked = run.targets.iter().filter(|t| t.pass.is_some()).count();
    let verdict = if run.targets.is_empty() {
        String::new()
    } else if failed == 0 {
        format!(" — ✅ {checked} of {} targets met", run.targets.len())
    } else {
        format!(" — ❌ {failed} of {} targets missed", run.targets.len())
    };
    let failed = match crate::report::verdict::headline(&run.effective_verdict()) {
        Some(line) => format!("## ❌ {line}\n\n"),
        None => String::new(),
    };
    // Requests never sent are no errors, but a headline without them flatters a run
    // whose users could not log in.
    let unsent = match run.skipped_requests {
        0 => String::new(),
        n => format!(", {n} not sent"),
    };
    format!(
        "{failed}## koprogo-perf run: {} req/s, p99 {}, {} errors{unsent}{verdict}\n\n{} · {} users · {:.0} s steady · started {} · {}\n\n",
        format_args!("{:.1}", run.totals.rps),
        crate::units::format_us(run.totals.latency_us.p99 as f64),
        run.totals.errors,
        run.scenario.name,
        run.vus,
        run.duration_s,
        run.started_at,
        run.tool,
    )
}

/// The whole report.
pub fn report(run: &RunReport, sections: &[Section]) -> String {
    headline(run) + &self::sections(sections)
}
