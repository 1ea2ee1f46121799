//! The terminal tables: the sections of `sections.rs` drawn with comfy-table (printed
//! after a run, and by `report --format table`).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::report::run::RunReport;
use crate::report::sections::{self, Grid, Section};
use crate::report::targets::TargetResult;

/// A grid as a terminal table.
pub fn table(grid: &Grid) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(grid.header.clone());
    for row in &grid.rows {
        t.add_row(row.clone());
    }
    for (i, numeric) in grid.numeric.iter().enumerate() {
        if *numeric && let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// Sections as text: a title line, the note, the table.
pub fn render(sections: &[Section]) -> String {
    let mut out = String::new();
    for s in sections {
        out.push_str(&s.title);
        if let Some(note) = &s.note {
            out.push_str(" — ");
            out.push_str(note);
        }
        out.push('\n');
        if let Some(grid) = &s.grid {
            out.push_str(&table(grid).to_string());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Requests, req/s, errors and the latency spectrum per endpoint, then all together.
pub fn endpoints(run: &RunReport) -> Table {
    table(&sections::endpoints_grid(run, None))
}

/// Failures by kind per endpoint, their latency, and the requests not sent.
pub fn failures(run: &RunReport) -> Option<Table> {
    sections::failures_grid(run).map(|g| table(&g))
}

/// Logins, token refreshes and discovery requests.
pub fn logins(run: &RunReport) -> Option<Table> {
    sections::logins_grid(run).map(|g| table(&g))
}

/// The targets with their measured values and PASS / FAIL / not measured.
pub fn targets(results: &[TargetResult]) -> Table {
    table(&sections::targets_grid(results))
}

/// The top statements of pg_stat_statements over the run.
pub fn statements(run: &RunReport) -> Option<Table> {
    sections::statements_grid(run).map(|g| table(&g))
}

/// CPU and memory of the server, Postgres and the generator.
pub fn resources(run: &RunReport) -> Option<Table> {
    sections::resources_grid(run).map(|g| table(&g))
}

/// CO2 per request with its breakdown, and KoproGo's published method on the same run.
pub fn carbon(run: &RunReport) -> Option<Table> {
    sections::carbon_grid(run).map(|g| table(&g))
}

/// The inputs of the CO2 figure, so that a reader can recompute it.
pub fn carbon_inputs(run: &RunReport) -> Option<Table> {
    sections::carbon_inputs_grid(run).map(|g| table(&g))
}

/// The run's phases (ramp-up, steady state, ramp-down, or a plan's steps).
pub fn phases(run: &RunReport) -> Option<Table> {
    sections::phases_grid(run).map(|g| table(&g))
}

/// A finished run as `load` prints it: its verdict's headline and warnings, then every
/// table that has something to show.
pub fn run(report: &RunReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let verdict = report.effective_verdict();
    // A failed run says so before any figure.
    if let Some(line) = crate::report::verdict::headline(&verdict) {
        let _ = writeln!(out, "{line}");
    }
    for w in &verdict.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out, "{}", endpoints(report));
    for table in [
        failures(report),
        logins(report),
        statements(report),
        resources(report),
        carbon(report),
        carbon_inputs(report),
        phases(report),
    ]
    .into_iter()
    .flatten()
    {
        let _ = writeln!(out, "{table}");
    }
    // The heap (`--heap-profile`) with its titles: its note says how to read it.
    out.push_str(&render(&crate::report::memory::sections(report)));
    let _ = writeln!(out, "{}", targets(&report.targets));
    out
}

/// The run's last line: requests, throughput and p99 of the successes, failures, and
/// the files written (`run_json`, latency.hgrm, and latency.hlog when `hlog`).
pub fn summary(report: &RunReport, run_json: &std::path::Path, hlog: bool) -> String {
    format!(
        "{} requests in {:.1} s: {}; {} failed and {} not sent ({:.2}% error rate); wrote {} and latency.hgrm{}",
        report.totals.requests,
        report.duration_s,
        match report.totals.requests.saturating_sub(report.totals.errors) {
            0 => "no successful response".to_string(),
            _ => format!(
                "{:.1} req/s and p99 {} of the successful ones",
                report.totals.rps,
                crate::units::format_us(report.totals.latency_us.p99 as f64)
            ),
        },
        report.totals.errors,
        report.skipped_requests,
        report.totals.error_rate * 100.0,
        run_json.display(),
        if hlog { ", latency.hlog" } else { "" }
    )
}

/// A constant-rate run's line: the rates and both latencies; with what to do when the
/// users could not keep up.
pub fn rate(report: &RunReport) -> Option<(String, Option<String>)> {
    let (rate, raw) = (
        report.rate.as_ref()?,
        report.totals.latency_uncorrected_us.as_ref()?,
    );
    let us = |v: u64| crate::units::format_us(v as f64);
    let line = format!(
        "rate: {} req/s requested, {} achieved; {} sends late, {} slots missed (every user busy); \
         p50/p99 from the intended send {} / {}, from the actual send {} / {}",
        rate.requested,
        rate.achieved,
        rate.late,
        rate.missed,
        us(report.totals.latency_us.p50),
        us(report.totals.latency_us.p99),
        us(raw.p50),
        us(raw.p99)
    );
    let short = (rate.missed > 0 || rate.achieved < rate.requested * 0.95).then(|| {
        format!(
            "the users could not keep up with --rate {}: raise --vus (maximum concurrency) or lower the rate",
            rate.requested
        )
    });
    Some((line, short))
}
