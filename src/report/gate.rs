//! The performance gate's decision: absolute thresholds on the candidate runs (pooled),
//! and regression against a baseline decided statistically — a one-sided Mann–Whitney U
//! test per metric on per-run figures plus a minimum effect size, or, with one run on a
//! side, a plain percentage tolerance (a weaker verdict, and said so). Renders the
//! checks as a table, Markdown and JUnit XML.

use std::fmt::Write;

use serde::Serialize;

use crate::report::run::RunReport;
use crate::report::runs::LoadedRun;
use crate::report::sections::Grid;
use crate::report::stats::{mann_whitney_greater, median, smallest_p};
use crate::report::targets::Threshold;
use crate::units::format_us;

/// How regressions are decided.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Significance level of the test (0.05).
    pub alpha: f64,
    /// Smallest change that counts, as a fraction (0.05): a significant change smaller
    /// than this is noise that happens to be consistent.
    pub min_effect: f64,
    /// With too few runs for the test: the change that fails, as a fraction.
    pub tolerance: f64,
}

/// The figures a regression check can compare, in order.
pub const METRIC_NAMES: [&str; 6] = ["rps", "p50", "p90", "p95", "p99", "p999"];

/// Kind of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Threshold,
    Regression,
}

/// Outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Not measured in this run (no server RSS for an external host, …).
    Skipped,
}

/// One check of the gate.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub kind: Kind,
    /// `p99 < 5ms`, `p99 vs baseline`.
    pub name: String,
    pub status: Status,
    /// The baseline's figure (regressions).
    pub baseline: Option<String>,
    /// The measured figure.
    pub measured: Option<String>,
    /// What must hold: `< 5ms`, `≤ +5% (p ≤ 0.05)`.
    pub limit: String,
    /// By how much it failed, or why it passed or was skipped.
    pub detail: String,
}

/// Everything the gate decided.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The candidate runs (run.json files).
    pub candidate: Vec<String>,
    /// The baseline runs (run.json files), if any.
    pub baseline: Vec<String>,
    pub checks: Vec<Check>,
    /// How regressions were decided, and anything else the reader should know.
    pub notes: Vec<String>,
}

impl Verdict {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

/// One side of the gate: its runs, each and pooled, and how to name them.
pub struct Side<'a> {
    /// `reports/x`, `reports/baseline (3 runs)`.
    pub label: String,
    /// Each run.
    pub runs: &'a [LoadedRun],
    /// The runs pooled (`runs::pool`).
    pub pooled: &'a RunReport,
}

/// The gate's decision on the candidate: a failing check when it completed no request
/// and for each of its runs that failed its own verdict, the thresholds on its runs
/// pooled, and with a baseline the regressions (per-run figures compared) and the error
/// rate's; with the notes that say how each was decided.
pub fn decide(
    thresholds: &[Threshold],
    candidate: &Side,
    baseline: Option<&Side>,
    metrics: &[String],
    options: &Options,
) -> Verdict {
    let pooled = candidate.pooled;
    let mut checks = Vec::new();
    let mut notes = Vec::new();
    if pooled.totals.requests == 0 {
        checks.push(Check {
            kind: Kind::Threshold,
            name: "requests > 0".into(),
            status: Status::Fail,
            baseline: None,
            measured: Some("0".into()),
            limit: "> 0".into(),
            detail: "no request completed in the steady state".into(),
        });
    }
    let labelled: Vec<(String, &RunReport)> = candidate
        .runs
        .iter()
        .map(|r| (r.path.display().to_string(), &r.report))
        .collect();
    checks.extend(run_verdicts(&labelled));
    checks.extend(self::thresholds(thresholds, pooled, candidate.runs.len()));
    if let Some(b) = baseline {
        let base: Vec<RunReport> = b.runs.iter().map(|r| r.report.clone()).collect();
        let cand: Vec<RunReport> = candidate.runs.iter().map(|r| r.report.clone()).collect();
        let (regressions, note) = regressions(&base, &cand, metrics, options);
        checks.extend(regressions);
        checks.push(error_regression(b.pooled, pooled, options));
        notes.push(note);
        notes.extend(
            crate::report::compare::compare(pooled, b.pooled, &b.label, b.runs.len()).notes,
        );
        notes.push(format!("baseline: {}", b.label));
    }
    notes.push(format!("candidate: {}", candidate.label));
    if candidate.runs.len() > 1 && !thresholds.is_empty() {
        notes.push(format!(
            "thresholds are checked on the {} candidate runs pooled (histograms merged)",
            candidate.runs.len()
        ));
    }
    let files = |side: &Side| -> Vec<String> {
        side.runs
            .iter()
            .map(|r| r.path.display().to_string())
            .collect()
    };
    Verdict {
        candidate: files(candidate),
        baseline: baseline.map(files).unwrap_or_default(),
        checks,
        notes,
    }
}

/// A per-endpoint threshold must name an endpoint of the run: a typo would otherwise
/// pass as "not measured".
pub fn check_endpoints(thresholds: &[Threshold], run: &RunReport) -> anyhow::Result<()> {
    for t in thresholds {
        if let Some(name) = &t.endpoint
            && !run.endpoints.iter().any(|e| &e.name == name)
        {
            let known: Vec<&str> = run.endpoints.iter().map(|e| e.name.as_str()).collect();
            anyhow::bail!(
                "threshold `{}`: the run has no endpoint `{name}`; its endpoints: {}",
                t.text,
                known.join(", ")
            );
        }
    }
    Ok(())
}

/// Checks each threshold against the (pooled) candidate.
pub fn thresholds(thresholds: &[Threshold], candidate: &RunReport, runs: usize) -> Vec<Check> {
    thresholds
        .iter()
        .map(|t| {
            let limit = t.condition().to_string();
            match t.value(candidate) {
                Ok(v) => {
                    let pass = t.op.holds(v, t.bound);
                    let pooled = if runs > 1 {
                        format!(" ({runs} runs pooled)")
                    } else {
                        String::new()
                    };
                    Check {
                        kind: Kind::Threshold,
                        name: t.text.clone(),
                        status: if pass { Status::Pass } else { Status::Fail },
                        baseline: None,
                        measured: Some(format!("{}{pooled}", t.format(v))),
                        limit,
                        detail: if pass { "holds".into() } else { t.miss(v) },
                    }
                }
                Err(reason) => Check {
                    kind: Kind::Threshold,
                    name: t.text.clone(),
                    status: Status::Skipped,
                    baseline: None,
                    measured: None,
                    limit,
                    detail: format!("not measured: {reason}"),
                },
            }
        })
        .collect()
}

/// A failed run never passes: one failing check per candidate run whose own verdict
/// failed (error rate, host or database down, users never logged in).
pub fn run_verdicts(candidate: &[(String, &RunReport)]) -> Vec<Check> {
    candidate
        .iter()
        .filter_map(|(label, run)| {
            let verdict = run.effective_verdict();
            verdict.failed.then(|| Check {
                kind: Kind::Threshold,
                name: "the run succeeded".into(),
                status: Status::Fail,
                baseline: None,
                measured: Some(format!(
                    "{:.2}% failed or not sent",
                    crate::report::run::error_rate(
                        run.totals.requests,
                        run.totals.errors,
                        run.skipped_requests
                    ) * 100.0
                )),
                limit: "run verdict passes".into(),
                detail: format!("{label}: {}", verdict.reasons.join("; ")),
            })
        })
        .collect()
}

/// Absolute slack of the error-rate regression check: 0.1 percentage point, so that a
/// stray error in a thousand requests is not a regression of a clean baseline.
const ERROR_RATE_SLACK: f64 = 0.001;

/// More errors than the baseline: the candidate's pooled error rate (failed and unsent
/// requests) must stay within the baseline's × (1 + tolerance), plus 0.1 point.
pub fn error_regression(baseline: &RunReport, candidate: &RunReport, options: &Options) -> Check {
    // Computed, not read: a run.json older than `error_rate` has the counts only.
    let rate = |r: &RunReport| {
        crate::report::run::error_rate(r.totals.requests, r.totals.errors, r.skipped_requests)
    };
    let (b, c) = (rate(baseline), rate(candidate));
    let limit = b * (1.0 + options.tolerance) + ERROR_RATE_SLACK;
    let pct = |v: f64| format!("{:.3}%", v * 100.0);
    let fail = c > limit;
    Check {
        kind: Kind::Regression,
        name: "error_rate vs baseline".into(),
        status: if fail { Status::Fail } else { Status::Pass },
        baseline: Some(pct(b)),
        measured: Some(pct(c)),
        limit: format!(
            "≤ baseline × {:.2} + 0.1 point = {}",
            1.0 + options.tolerance,
            pct(limit)
        ),
        detail: if fail {
            format!(
                "more errors than the baseline: {} failed or not sent",
                crate::report::run::describe_kinds(&candidate.failure_kinds())
            )
        } else {
            "within the tolerance".into()
        },
    }
}

/// The per-run figures the regression check compares.
struct Metric {
    name: &'static str,
    /// True when larger is better (throughput).
    higher_is_better: bool,
    get: fn(&RunReport) -> f64,
    format: fn(f64) -> String,
}

const METRICS: [Metric; 6] = [
    Metric {
        name: "rps",
        higher_is_better: true,
        get: |r| r.totals.rps,
        format: |v| format!("{v:.1} req/s"),
    },
    Metric {
        name: "p50",
        higher_is_better: false,
        get: |r| r.totals.latency_us.p50 as f64,
        format: format_us,
    },
    Metric {
        name: "p90",
        higher_is_better: false,
        get: |r| r.totals.latency_us.p90 as f64,
        format: format_us,
    },
    Metric {
        name: "p95",
        higher_is_better: false,
        get: |r| r.totals.latency_us.p95 as f64,
        format: format_us,
    },
    Metric {
        name: "p99",
        higher_is_better: false,
        get: |r| r.totals.latency_us.p99 as f64,
        format: format_us,
    },
    Metric {
        name: "p999",
        higher_is_better: false,
        get: |r| r.totals.latency_us.p999 as f64,
        format: format_us,
    },
];

/// How much worse `candidate` is than `baseline`, as a fraction (0.1 = 10 % worse):
/// latency candidate/baseline − 1, throughput baseline/candidate − 1, so that "300 %"
/// means four times slower either way. Negative when better.
fn worse_by(baseline: f64, candidate: f64, higher_is_better: bool) -> f64 {
    let (num, den) = if higher_is_better {
        (baseline, candidate)
    } else {
        (candidate, baseline)
    };
    if den <= 0.0 {
        if num <= 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        num / den - 1.0
    }
}

/// Regression checks of throughput and each percentile, candidate runs against
/// baseline runs (the figures named in `metrics`); also returns the note that says how
/// they were decided.
pub fn regressions(
    baseline: &[RunReport],
    candidate: &[RunReport],
    metrics: &[String],
    options: &Options,
) -> (Vec<Check>, String) {
    let (nb, nc) = (baseline.len(), candidate.len());
    let statistical = smallest_p(nb, nc) <= options.alpha + 1e-12;
    let note = if statistical {
        format!(
            "regression: one-sided Mann–Whitney U on per-run figures ({nb} baseline runs, {nc} candidate runs), \
             significance {}, minimum effect {:.1}% on the medians",
            options.alpha,
            options.min_effect * 100.0
        )
    } else {
        format!(
            "regression: WEAKER VERDICT — {nb} baseline and {nc} candidate run(s) are too few for a \
             significance test at {} (it needs at least 3 runs per side), so being slower by more than {:.1}% \
             on the medians fails; use --runs N and a baseline of several runs to tell a change from noise",
            options.alpha,
            options.tolerance * 100.0
        )
    };
    let checks = METRICS
        .iter()
        .filter(|m| metrics.iter().any(|n| n == m.name))
        .map(|m| {
            let b: Vec<f64> = baseline.iter().map(m.get).collect();
            let c: Vec<f64> = candidate.iter().map(m.get).collect();
            let (mb, mc) = (median(&b), median(&c));
            let worse = worse_by(mb, mc, m.higher_is_better);
            let of = |n: usize| {
                if n > 1 {
                    format!(" (median of {n})")
                } else {
                    String::new()
                }
            };
            // The plain change of the medians, and how many times slower that is.
            let plain = if mb == 0.0 {
                "–".to_string()
            } else {
                format!("{:+.1}%", (mc - mb) / mb * 100.0)
            };
            let change = if worse > 0.0 {
                format!("{plain} ({:.2}× slower)", 1.0 + worse)
            } else {
                format!("{plain} (not slower)")
            };
            let (status, limit, detail) = if statistical {
                // Worse means larger latency or smaller throughput.
                let p = if m.higher_is_better {
                    mann_whitney_greater(&c, &b)
                } else {
                    mann_whitney_greater(&b, &c)
                };
                let significant = p <= options.alpha + 1e-12;
                let big = worse >= options.min_effect;
                let detail = match (significant, big) {
                    (true, true) => format!("{change}, p = {p:.3}"),
                    (true, false) => format!(
                        "{change}, p = {p:.3}: consistent but under the {:.1}% minimum effect",
                        options.min_effect * 100.0
                    ),
                    (false, _) => format!("{change}, p = {p:.3}: not significant"),
                };
                (
                    if significant && big {
                        Status::Fail
                    } else {
                        Status::Pass
                    },
                    format!(
                        "slower by < {:.1}% or p > {}",
                        options.min_effect * 100.0,
                        options.alpha
                    ),
                    detail,
                )
            } else {
                let fail = worse > options.tolerance;
                let detail = if fail {
                    format!(
                        "{change}: past the {:.1}% tolerance",
                        options.tolerance * 100.0
                    )
                } else {
                    format!(
                        "{change}: within the {:.1}% tolerance",
                        options.tolerance * 100.0
                    )
                };
                (
                    if fail { Status::Fail } else { Status::Pass },
                    format!(
                        "slower by ≤ {:.1}% (weaker: single run)",
                        options.tolerance * 100.0
                    ),
                    detail,
                )
            };
            Check {
                kind: Kind::Regression,
                name: format!("{} vs baseline", m.name),
                status,
                baseline: Some(format!("{}{}", (m.format)(mb), of(nb))),
                measured: Some(format!("{}{}", (m.format)(mc), of(nc))),
                limit,
                detail,
            }
        })
        .collect();
    (checks, note)
}

fn status_text(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Skipped => "SKIPPED",
    }
}

/// The checks as a grid (`only_failed` keeps the failures).
pub fn grid(verdict: &Verdict, only_failed: bool) -> Grid {
    let mut g = Grid {
        header: ["check", "result", "baseline", "measured", "limit", "detail"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
        numeric: vec![false, false, true, true, false, false],
    };
    for c in &verdict.checks {
        if only_failed && c.status != Status::Fail {
            continue;
        }
        g.rows.push(vec![
            c.name.clone(),
            status_text(c.status).to_string(),
            c.baseline.clone().unwrap_or_else(|| "–".into()),
            c.measured.clone().unwrap_or_else(|| "–".into()),
            c.limit.clone(),
            c.detail.clone(),
        ]);
    }
    g
}

/// One line: `gate: FAIL — 2 of 10 checks failed`.
pub fn headline(verdict: &Verdict) -> String {
    let (failed, skipped) = (verdict.count(Status::Fail), verdict.count(Status::Skipped));
    let skipped = if skipped > 0 {
        format!(", {skipped} not measured")
    } else {
        String::new()
    };
    if verdict.passed() {
        format!(
            "gate: PASS — {} checks passed{skipped}",
            verdict.count(Status::Pass)
        )
    } else {
        format!(
            "gate: FAIL — {failed} of {} checks failed{skipped}",
            verdict.checks.len()
        )
    }
}

/// The verdict for a terminal: failed checks first, then all of them, then the notes.
pub fn table(verdict: &Verdict) -> String {
    let mut out = String::new();
    if !verdict.passed() {
        let _ = writeln!(
            out,
            "failed checks\n{}\n",
            crate::report::tables::table(&grid(verdict, true))
        );
    }
    let _ = writeln!(
        out,
        "all checks\n{}",
        crate::report::tables::table(&grid(verdict, false))
    );
    for n in &verdict.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "{}", headline(verdict));
    out
}

/// The verdict as Markdown for a pull request or `$GITHUB_STEP_SUMMARY`.
pub fn markdown(verdict: &Verdict) -> String {
    let mark = if verdict.passed() { "✅" } else { "❌" };
    let mut out = format!("## {mark} koprogo-perf {}\n\n", headline(verdict));
    if !verdict.passed() {
        out.push_str("### Failed checks\n\n");
        out.push_str(&crate::report::markdown::table(&grid(verdict, true)));
        out.push('\n');
    }
    out.push_str("### All checks\n\n");
    out.push_str(&crate::report::markdown::table(&grid(verdict, false)));
    out.push('\n');
    for n in &verdict.notes {
        let _ = writeln!(out, "- {}", n.replace('\n', " "));
    }
    out
}

/// The verdict as JUnit XML (quick-junit): a test suite per kind of check, a test case
/// per check; a failed check is a `<failure>` with its detail as the message, a skipped
/// one `<skipped>`, and every case's figures in its text.
pub fn junit(verdict: &Verdict) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("koprogo-perf gate");
    for (kind, suite) in [
        (Kind::Threshold, "thresholds"),
        (Kind::Regression, "regression"),
    ] {
        let checks: Vec<&Check> = verdict.checks.iter().filter(|c| c.kind == kind).collect();
        if checks.is_empty() {
            continue;
        }
        let classname = format!("koprogo-perf.{suite}");
        let mut test_suite = TestSuite::new(classname.as_str());
        for c in checks {
            let summary = format!(
                "measured {}; baseline {}; limit {}; {}",
                c.measured.as_deref().unwrap_or("–"),
                c.baseline.as_deref().unwrap_or("–"),
                c.limit,
                c.detail
            );
            let status = match c.status {
                Status::Pass => TestCaseStatus::success(),
                Status::Fail => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(c.detail.as_str())
                        .set_description(summary.as_str());
                    s
                }
                Status::Skipped => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(c.detail.as_str());
                    s
                }
            };
            let mut case = TestCase::new(c.name.as_str(), status);
            case.set_classname(classname.as_str());
            if c.status == Status::Pass {
                case.set_system_out(summary.as_str());
            }
            test_suite.add_test_case(case);
        }
        report.add_test_suite(test_suite);
    }
    report
        .to_string()
        .expect("JUnit XML of strings serializes into memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worse_is_symmetric_in_slowdown() {
        // Four times slower is +300 % for latency and for throughput alike.
        assert!((worse_by(10.0, 40.0, false) - 3.0).abs() < 1e-12);
        assert!((worse_by(400.0, 100.0, true) - 3.0).abs() < 1e-12);
        assert!(worse_by(100.0, 110.0, true) < 0.0);
        assert_eq!(worse_by(0.0, 0.0, false), 0.0);
    }
}
