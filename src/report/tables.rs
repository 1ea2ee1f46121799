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
