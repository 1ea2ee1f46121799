//! Which statements an arm removed, called less, sped up, slowed down or added, against
//! baseline: pg_stat_statements of each arm's runs added up per query text, then
//! compared per request (an arm that serves more requests runs each statement more
//! often; what matters is how often per request, and how long each call takes).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::report::RunReport;

/// Calls per request below which a statement not tied to a measured endpoint is left
/// out: such a statement (a login, a migration check) does not scale with the load.
const MIN_CALLS_PER_REQUEST: f64 = 0.02;

/// Calls below which a statement's mean time is too noisy to compare.
const MIN_CALLS_FOR_TIMING: i64 = 20;

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
/// first. Empty when either side has no statements (pg_stat_statements not measured).
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
    out.sort_by(|x, y| {
        y.saved_ms_per_request
            .abs()
            .total_cmp(&x.saved_ms_per_request.abs())
    });
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
        // Biggest saving first: 0.3 calls × 59.8 ms, then 0.2 × 5 ms.
        assert_eq!(
            got,
            [
                ("SELECT building", Change::SpedUp),
                ("SELECT accounts", Change::Removed)
            ]
        );
        assert!((changes[0].saved_ms_per_request - (0.3 * 60.0 - 0.3 * 0.2)).abs() < 1e-9);
        assert_eq!(changes[1].calls_per_request, 0.0);
    }

    #[test]
    fn nothing_is_said_without_statements() {
        let base = run(1000, &["GET /x"], &[("SELECT 1", "GET /x", 100, 1.0)]);
        let arm = run(1000, &["GET /x"], &[]);
        assert!(changes(&[&base], &[&arm]).is_empty());
    }
}
