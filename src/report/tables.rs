//! The terminal tables printed after a run: one row per endpoint, and the targets with
//! PASS/FAIL.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::report::run::{Latency, RunReport};
use crate::report::targets::{TargetResult, format_us};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

fn latency_cells(l: &Latency) -> Vec<String> {
    [l.p50, l.p90, l.p95, l.p99, l.p999, l.max]
        .iter()
        .map(|v| format_us(*v as f64))
        .collect()
}

/// Requests, req/s, errors and the latency spectrum per endpoint, then all together.
pub fn endpoints(run: &RunReport) -> Table {
    let mut t = table(&[
        "endpoint", "requests", "req/s", "errors", "p50", "p90", "p95", "p99", "p99.9", "max",
    ]);
    let rows = run
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.requests, e.rps, e.errors, &e.latency_us))
        .chain(std::iter::once((
            "all",
            run.totals.requests,
            run.totals.rps,
            run.totals.errors,
            &run.totals.latency_us,
        )));
    for (name, requests, rps, errors, latency) in rows {
        let mut row = vec![
            name.to_string(),
            requests.to_string(),
            format!("{rps:.1}"),
            errors.to_string(),
        ];
        row.extend(latency_cells(latency));
        t.add_row(row);
    }
    for i in 1..10 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// The targets with their measured values and PASS / FAIL / not measured.
pub fn targets(results: &[TargetResult]) -> Table {
    let mut t = table(&["target", "goal", "actual", "result"]);
    for r in results {
        let verdict = match r.pass {
            Some(true) => "PASS".to_string(),
            Some(false) => "FAIL".to_string(),
            None => r.note.clone().unwrap_or_else(|| "not measured".into()),
        };
        t.add_row(vec![
            r.name.clone(),
            r.target.clone(),
            r.actual.clone().unwrap_or_else(|| "not measured".into()),
            verdict,
        ]);
    }
    t
}
