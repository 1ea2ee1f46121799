//! The audit as text: a Check | Result | Evidence table, then the one-line summary.
//! Rows are ruled apart: the evidence wraps over several lines.

use comfy_table::presets::UTF8_FULL;
use comfy_table::{ContentArrangement, Table};

use super::AuditReport;

/// Width the table wraps its evidence to when stdout is no terminal (CI logs, files).
pub const DEFAULT_WIDTH: u16 = 120;

/// The table and the summary line. `width`: the terminal's, or [`DEFAULT_WIDTH`].
pub fn table(report: &AuditReport, width: u16) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(vec!["Check", "Result", "Evidence"]);
    for c in &report.checks {
        t.add_row(vec![
            c.name.clone(),
            c.status.label().to_string(),
            c.evidence.clone(),
        ]);
    }
    let mut out = format!("{t}\n{}\n", report.summary_line());
    if report
        .checks
        .iter()
        .any(|c| c.evidence.contains("koprogo-perf tune-db"))
    {
        out.push_str(TUNE_DB_NOTE);
        out.push('\n');
    }
    out
}

/// Said once under a table whose remedies name tune-db: it changes the server, so it
/// needs more than the audit's read-only role.
pub const TUNE_DB_NOTE: &str = "tune-db runs on this same database (--database-url) as a superuser; without --apply it \
     only shows its plan";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Check, CheckId};

    #[test]
    fn the_table_is_pinned() {
        let report = AuditReport::new(
            "http://127.0.0.1:8080",
            None,
            "syndic@example.be",
            "koprogo-vps",
            vec![
                Check::fail(
                    CheckId::Gzip,
                    "GET /api/v1/accounts with Accept-Encoding: gzip: 12,093 B sent uncompressed (no Content-Encoding)",
                ),
                Check::pass(
                    CheckId::KeepAlive,
                    "GET /api/v1/health twice on one TCP connection to 127.0.0.1:8080: 200 then 200, no Connection: close",
                ),
                Check::not_checked(
                    CheckId::Settings,
                    "no database given: pass --database-url (read-only)",
                ),
            ],
        );
        let expected = "\
┌─────────────────────┬─────────────┬──────────────────────────────────────────────────────────┐
│ Check               ┆ Result      ┆ Evidence                                                 │
╞═════════════════════╪═════════════╪══════════════════════════════════════════════════════════╡
│ gzip                ┆ FAIL        ┆ GET /api/v1/accounts with Accept-Encoding: gzip: 12,093  │
│                     ┆             ┆ B sent uncompressed (no Content-Encoding)                │
├╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌┤
│ HTTP keep-alive     ┆ pass        ┆ GET /api/v1/health twice on one TCP connection to        │
│                     ┆             ┆ 127.0.0.1:8080: 200 then 200, no Connection: close       │
├╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌┤
│ settings vs profile ┆ not checked ┆ no database given: pass --database-url (read-only)       │
└─────────────────────┴─────────────┴──────────────────────────────────────────────────────────┘
audit: 1 passed, 1 failed, 1 not checked
";
        let got = table(&report, 96);
        assert_eq!(got, expected, "got:\n{got}");
    }
}
