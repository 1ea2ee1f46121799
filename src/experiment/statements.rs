//! Which statements an arm removed, called less, sped up, slowed down or added, against
//! baseline: pg_stat_statements of each arm's runs added up per query text, then
//! compared per request (an arm that serves more requests runs each statement more
//! often; what matters is how often per request, and how long each call takes). The
//! statements that changed less than 2× are listed too, the ones with the most database
//! time first: "nothing changed 2×" is a finding, and their times before and after are
//! what an operator reads it from.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::report::RunReport;

/// Calls per request below which a statement not tied to a measured endpoint is left
/// out: such a statement (a login, a migration check) does not scale with the load.
const MIN_CALLS_PER_REQUEST: f64 = 0.02;

/// Calls below which a statement's mean time is too noisy to compare.
const MIN_CALLS_FOR_TIMING: i64 = 20;

/// Statements within 2× of baseline kept per arm, by database time per request.
const MAX_UNCHANGED: usize = 10;

/// How a statement changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Baseline ran it; the arm never did.
    Removed,
    /// Called less than half as often per request.
    Fewer,
    /// Each call took at most half the time.
    SpedUp,
    /// Each call took at least twice the time.
    Slower,
    /// Called at least twice as often per request.
    More,
    /// The arm ran it; baseline never did.
    Added,
    /// Ran on both sides, often enough to time, and changed less than 2× in calls per
    /// request and in mean time.
    Unchanged,
}

impl Change {
    /// Its name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Change::Removed => "removed",
            Change::Fewer => "fewer calls",
            Change::SpedUp => "sped up",
            Change::Slower => "slower",
            Change::More => "more calls",
            Change::Added => "added",
            Change::Unchanged => "within 2×",
        }
    }
}

/// One statement's change.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StatementChange {
    /// Normalized query text.
    pub query: String,
    /// Endpoints that issue it.
    pub endpoints: Vec<String>,
    pub change: Change,
    /// Calls per steady-state request in baseline and in the arm.
    pub baseline_calls_per_request: f64,
    pub calls_per_request: f64,
    /// Mean execution time of a call, milliseconds (0 when it never ran).
    pub baseline_mean_ms: f64,
    pub mean_ms: f64,
    /// Database time per request saved by the arm, milliseconds (negative: added).
    pub saved_ms_per_request: f64,
}

/// A query's calls and time over a set of runs.
#[derive(Default)]
struct Totals {
    calls: i64,
    total_ms: f64,
    endpoints: BTreeSet<String>,
}

/// Per query text, over `runs`; and their steady-state requests.
fn totals(runs: &[&RunReport]) -> (BTreeMap<String, Totals>, u64) {
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for run in runs {
        for s in &run.postgres.statements {
            let t = out.entry(s.query.clone()).or_default();
            t.calls += s.calls;
            t.total_ms += s.total_ms;
            t.endpoints.extend(s.endpoints.iter().cloned());
        }
    }
    (out, runs.iter().map(|r| r.totals.requests).sum())
}

/// `/api/v1/buildings/{id}` and `/api/v1/buildings/{building_id}` alike.
fn route_shape(endpoint: &str) -> String {
    let mut out = String::new();
    let mut in_braces = false;
    for c in endpoint.chars() {
        match c {
            '{' => {
                in_braces = true;
                out.push('{');
            }
            '}' => {
                in_braces = false;
                out.push('}');
            }
            _ if in_braces => {}
            _ => out.push(c),
        }
    }
    out
}

/// The statements that changed between `baseline`'s runs and `arm`'s, biggest saving
/// first, then up to [`MAX_UNCHANGED`] that changed less than 2×, most database time per
/// request first. Empty when either side has no statements (pg_stat_statements not
/// measured).
pub fn changes(baseline: &[&RunReport], arm: &[&RunReport]) -> Vec<StatementChange> {
    let (base, base_requests) = totals(baseline);
    let (this, requests) = totals(arm);
    if base.is_empty() || this.is_empty() || base_requests == 0 || requests == 0 {
        return Vec::new();
    }
    // The endpoints the scenario measured: statements of other routes (the logins of
    // the ramp-up) do not scale with the steady state.
    let measured: BTreeSet<String> = baseline
        .iter()
        .chain(arm)
        .flat_map(|r| r.endpoints.iter().map(|e| route_shape(&e.name)))
        .collect();
    let empty = Totals::default();
    let queries: BTreeSet<&String> = base.keys().chain(this.keys()).collect();
    let mut out = Vec::new();
    for query in queries {
        let b = base.get(query).unwrap_or(&empty);
        let a = this.get(query).unwrap_or(&empty);
        let endpoints: Vec<String> = b.endpoints.union(&a.endpoints).cloned().collect();
        let b_cpr = b.calls as f64 / base_requests as f64;
        let a_cpr = a.calls as f64 / requests as f64;
        let scales = if endpoints.is_empty() {
            b_cpr.max(a_cpr) >= MIN_CALLS_PER_REQUEST
        } else {
            endpoints.iter().any(|e| measured.contains(&route_shape(e)))
        };
        if !scales {
            continue;
        }
        let mean = |t: &Totals| {
            if t.calls > 0 {
                t.total_ms / t.calls as f64
            } else {
                0.0
            }
        };
        let (b_mean, a_mean) = (mean(b), mean(a));
        let timed = b.calls >= MIN_CALLS_FOR_TIMING && a.calls >= MIN_CALLS_FOR_TIMING;
        let change = if b.calls > 0 && a.calls == 0 {
            Change::Removed
        } else if b.calls == 0 && a.calls > 0 {
            Change::Added
        } else if a_cpr < b_cpr * 0.5 {
            Change::Fewer
        } else if a_cpr > b_cpr * 2.0 {
            Change::More
        } else if timed && a_mean <= b_mean * 0.5 {
            Change::SpedUp
        } else if timed && a_mean >= b_mean * 2.0 {
            Change::Slower
        } else if timed {
            Change::Unchanged
        } else {
            continue;
        };
        out.push(StatementChange {
            query: query.clone(),
            endpoints,
            change,
            baseline_calls_per_request: b_cpr,
            calls_per_request: a_cpr,
            baseline_mean_ms: b_mean,
            mean_ms: a_mean,
            saved_ms_per_request: b_cpr * b_mean - a_cpr * a_mean,
        });
    }
    let (mut out, mut unchanged): (Vec<_>, Vec<_>) =
        out.into_iter().partition(|c| c.change != Change::Unchanged);
    out.sort_by(|x, y| {
        y.saved_ms_per_request
            .abs()
            .total_cmp(&x.saved_ms_per_request.abs())
    });
    let db_ms = |c: &StatementChange| {
        (c.baseline_calls_per_request * c.baseline_mean_ms).max(c.calls_per_request * c.mean_ms)
    };
    unchanged.sort_by(|x, y| db_ms(y).total_cmp(&db_ms(x)));
    out.extend(unchanged.into_iter().take(MAX_UNCHANGED));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::pgss::{PostgresReport, Statement};

    fn run(requests: u64, endpoints: &[&str], statements: &[(&str, &str, i64, f64)]) -> RunReport {
        let mut r: RunReport =
            serde_json::from_str(include_str!("../../tests/fixtures/report/run/run.json")).unwrap();
        r.totals.requests = requests;
        let template = r.endpoints[0].clone();
        r.endpoints = endpoints
            .iter()
            .map(|e| {
                let mut x = template.clone();
                x.name = e.to_string();
                x
            })
            .collect();
        r.postgres = PostgresReport {
            measured: true,
            note: None,
            statements: statements
                .iter()
                .map(|(q, e, calls, mean)| Statement {
                    query: q.to_string(),
                    calls: *calls,
                    total_ms: *calls as f64 * mean,
                    mean_ms: *mean,
                    rows: 0,
                    hit_ratio: None,
                    endpoints: if e.is_empty() {
                        vec![]
                    } else {
                        vec![e.to_string()]
                    },
                })
                .collect(),
        };
        r
    }

    #[test]
    fn removed_sped_up_and_unchanged_statements_are_told_apart() {
        let eps = [
            "GET /api/v1/accounts",
            "GET /api/v1/buildings/{building_id}",
        ];
        let base = run(
            1000,
            &eps,
            &[
                ("SELECT accounts", "GET /api/v1/accounts", 200, 5.0),
                ("SELECT building", "GET /api/v1/buildings/{id}", 300, 60.0),
                ("SELECT same", "GET /api/v1/buildings/{id}", 300, 1.0),
                // A login of the ramp-up: not a measured endpoint.
                ("SELECT users", "POST /api/v1/auth/login", 100, 0.5),
            ],
        );
        let arm = run(
            10_000,
            &eps,
            &[
                ("SELECT building", "GET /api/v1/buildings/{id}", 3000, 0.2),
                ("SELECT same", "GET /api/v1/buildings/{id}", 3000, 1.1),
                ("SELECT users", "POST /api/v1/auth/login", 100, 0.5),
            ],
        );
        let changes = changes(&[&base], &[&arm]);
        let got: Vec<(&str, Change)> = changes
            .iter()
            .map(|c| (c.query.as_str(), c.change))
            .collect();
        // Biggest saving first: 0.3 calls × 59.8 ms, then 0.2 × 5 ms; then what changed
        // less than 2×; never the login, which does not scale with the load.
        assert_eq!(
            got,
            [
                ("SELECT building", Change::SpedUp),
                ("SELECT accounts", Change::Removed),
                ("SELECT same", Change::Unchanged),
            ]
        );
        assert_eq!(changes[2].mean_ms, 1.1);
        assert!((changes[0].saved_ms_per_request - (0.3 * 60.0 - 0.3 * 0.2)).abs() < 1e-9);
        assert_eq!(changes[1].calls_per_request, 0.0);
    }

    #[test]
    fn unchanged_statements_come_after_the_changes_most_database_time_first_and_are_capped() {
        let eps = ["GET /x"];
        let names: Vec<String> = (0..15).map(|i| format!("SELECT q{i}")).collect();
        let mut b: Vec<(&str, &str, i64, f64)> = names
            .iter()
            .enumerate()
            .map(|(i, q)| (q.as_str(), "GET /x", 100, 1.0 + i as f64))
            .collect();
        // Too few calls to time: left out rather than called unchanged.
        b.push(("SELECT rare", "GET /x", 5, 100.0));
        let mut a: Vec<(&str, &str, i64, f64)> =
            b.iter().map(|&(q, e, c, m)| (q, e, c, m * 1.2)).collect();
        a.push(("SELECT new", "GET /x", 50, 0.1));
        let got = changes(&[&run(1000, &eps, &b)], &[&run(1000, &eps, &a)]);
        assert_eq!(got[0].query, "SELECT new");
        assert_eq!(got[0].change, Change::Added);
        let unchanged: Vec<&str> = got[1..].iter().map(|c| c.query.as_str()).collect();
        let want: Vec<String> = (5..15).rev().map(|i| format!("SELECT q{i}")).collect();
        assert_eq!(unchanged, want);
        assert!(got[1..].iter().all(|c| c.change == Change::Unchanged));
    }

    #[test]
    fn nothing_is_said_without_statements() {
        let base = run(1000, &["GET /x"], &[("SELECT 1", "GET /x", 100, 1.0)]);
        let arm = run(1000, &["GET /x"], &[]);
        assert!(changes(&[&base], &[&arm]).is_empty());
    }
}
