//! An experiment (experiment.json) as report sections: the arms side by side with their
//! ratios to baseline, the statements each arm changed, and every run in order. The
//! terminal tables, the Markdown and the HTML page render these sections as they do a
//! run's.

use std::fmt::Write;
use std::path::Path;

use crate::experiment::ExperimentReport;
use crate::report::html::ComparisonPage;
use crate::report::sections::{Grid, Section, section};
use crate::units::{format_grams, format_us};

/// Statements shown per arm (experiment.json has them all).
const STATEMENTS_PER_ARM: usize = 4;

/// `×3.21`, with ` [2.90–3.55]` when there is an interval.
fn ratio(r: f64, interval: Option<[f64; 2]>) -> String {
    let mut s = format!("×{r:.2}");
    if let Some([lo, hi]) = interval {
        let _ = write!(s, " [{lo:.2}–{hi:.2}]");
    }
    s
}

/// The query text shortened for a table cell, without the route tag.
fn short_query(query: &str) -> String {
    let q = match (query.find("/*"), query.find("*/")) {
        (Some(0), Some(end)) => query[end + 2..].trim_start(),
        _ => query,
    };
    let q: String = q.split_whitespace().collect::<Vec<_>>().join(" ");
    if q.chars().count() > 60 {
        q.chars().take(59).collect::<String>() + "…"
    } else {
        q
    }
}

/// The arms side by side.
pub fn arms_grid(x: &ExperimentReport) -> Grid {
    let mut g = Grid::new(
        &[
            "arm",
            "runs",
            "req/s",
            "req/s vs baseline",
            "p50",
            "p99",
            "p99 vs baseline",
            "errors",
            "server CPU/req",
            "CO2/req",
        ],
        &[1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    for a in &x.arms {
        let baseline = a.name == "baseline";
        g.rows.push(vec![
            a.name.clone(),
            a.runs.to_string(),
            format!("{:.1}", a.rps),
            if baseline {
                "—".into()
            } else {
                ratio(a.rps_ratio_to_baseline, a.rps_ratio_interval)
            },
            format_us(a.p50_us as f64),
            format_us(a.p99_us as f64),
            if baseline {
                "—".into()
            } else {
                ratio(a.p99_ratio_to_baseline, a.p99_ratio_interval)
            },
            format!("{:.2}%", a.error_rate * 100.0),
            a.server_cpu_ms_per_request
                .map_or("not measured".into(), |ms| format!("{ms:.3} ms")),
            a.co2_g_per_request
                .map_or("not computed".into(), format_grams),
        ]);
    }
    g
}

/// What each arm is.
pub fn setup_grid(x: &ExperimentReport) -> Grid {
    let mut g = Grid::new(&["arm", "what it changes", "settings"], &[]);
    for a in &x.arms {
        g.rows.push(vec![
            a.name.clone(),
            a.description.clone(),
            a.switches.clone(),
        ]);
    }
    g
}

/// The statements each arm changed most against baseline, then those that took the most
/// database time and changed less than 2×.
pub fn statements_grid(x: &ExperimentReport) -> Option<Grid> {
    let mut g = Grid::new(
        &[
            "arm",
            "change",
            "statement",
            "calls/req",
            "mean ms",
            "saved ms/req",
        ],
        &[3, 4, 5],
    );
    for a in &x.arms {
        for s in a.statements.iter().take(STATEMENTS_PER_ARM) {
            g.rows.push(vec![
                a.name.clone(),
                s.change.label().to_string(),
                short_query(&s.query),
                format!(
                    "{:.3} → {:.3}",
                    s.baseline_calls_per_request, s.calls_per_request
                ),
                format!("{:.3} → {:.3}", s.baseline_mean_ms, s.mean_ms),
                format!("{:+.3}", s.saved_ms_per_request),
            ]);
        }
    }
    (!g.rows.is_empty()).then_some(g)
}

/// Every run, in the order it ran.
pub fn runs_grid(x: &ExperimentReport) -> Grid {
    let mut g = Grid::new(
        &["#", "round", "arm", "req/s", "p50", "p99", "errors", "run"],
        &[0, 1, 3, 4, 5, 6],
    );
    for r in &x.runs {
        g.rows.push(vec![
            r.index.to_string(),
            r.round.to_string(),
            r.arm.clone(),
            format!("{:.1}", r.rps),
            format_us(r.p50_us as f64),
            format_us(r.p99_us as f64),
            r.errors.to_string(),
            if r.interrupted {
                format!("{} (interrupted)", r.dir)
            } else {
                r.dir.clone()
            },
        ]);
    }
    g
}

/// The experiment's sections.
pub fn sections(x: &ExperimentReport) -> Vec<Section> {
    let intervals = if x.setup.repeat >= 2 {
        format!(
            "; [brackets]: {:.0} % confidence interval over the rounds",
            x.confidence * 100.0
        )
    } else {
        "; one run per arm, so no confidence interval (--repeat 3 gives them)".into()
    };
    let statements = statements_grid(x);
    let statements_note = match (&statements, &x.pgss_note) {
        (_, Some(note)) => format!("pg_stat_statements {note}"),
        (Some(_), None) => format!(
            "from pg_stat_statements, per steady-state request; per arm its {STATEMENTS_PER_ARM} \
             first: the changes of 2× or more (calls per request or mean time), biggest saving \
             first, then the statements with the most database time that changed less \
             (within 2×); all in experiment.json"
        ),
        (None, None) => "pg_stat_statements measured, but no statement ran in baseline and an \
                         arm 20 times or more to compare"
            .into(),
    };
    vec![
        section(
            "arms",
            "Arms",
            Some(arms_grid(x)),
            Some(format!(
                "req/s: mean of the arm's runs; p50/p99: all its requests together; vs baseline: \
                 the arm's figure ÷ baseline's{intervals}"
            )),
        ),
        section("setup", "What each arm changes", Some(setup_grid(x)), None),
        section(
            "statements",
            "Statements against baseline",
            statements,
            Some(statements_note),
        ),
        section("runs", "Runs", Some(runs_grid(x)), Some(x.method.clone())),
    ]
}

/// One line on what ran.
pub fn headline(x: &ExperimentReport) -> String {
    format!(
        "experiment: {} {}, {} users{}, {:.0} s steady per run, {} round{} of {} arms, profile {}, started {}{}",
        x.setup.scenario,
        match &x.setup.target {
            Some(target) => format!("on {target} (its own data)"),
            None => format!("at scale {}", x.setup.scale),
        },
        x.setup.vus,
        x.setup
            .rate
            .map_or(String::new(), |r| format!(" at {r} req/s")),
        x.setup.duration_s,
        x.setup.repeat,
        if x.setup.repeat == 1 { "" } else { "s" },
        x.arms.len(),
        x.setup.profile,
        x.setup.started_at,
        if x.setup.interrupted {
            " — INTERRUPTED: the figures cover the runs that ended"
        } else {
            ""
        }
    )
}

/// The terminal text.
pub fn table(x: &ExperimentReport) -> String {
    format!(
        "{}\n\n{}",
        headline(x),
        crate::report::tables::render(&sections(x))
    )
}

/// The Markdown.
pub fn markdown(x: &ExperimentReport) -> String {
    let tuned = x
        .arms
        .iter()
        .find(|a| a.name == "tuned")
        .or(x.arms.last())
        .filter(|a| a.name != "baseline");
    let title = match tuned {
        Some(a) => format!(
            "## koprogo-perf experiment: {} ×{:.2} req/s, ×{:.2} p99 against baseline\n\n",
            a.name, a.rps_ratio_to_baseline, a.p99_ratio_to_baseline
        ),
        None => "## koprogo-perf experiment\n\n".into(),
    };
    title + &headline(x) + "\n\n" + &crate::report::markdown::sections(&sections(x))
}

/// The HTML page; `dir` is the experiment's directory, where the runs' histograms are
/// read for the latency chart.
pub fn html(x: &ExperimentReport, dir: &Path) -> anyhow::Result<String> {
    let mut histograms = Vec::new();
    for arm in &x.arms {
        let mut loaded = Vec::new();
        for run in x
            .runs
            .iter()
            .filter(|r| r.arm == arm.name && !r.interrupted)
        {
            let path = dir.join(&run.dir).join("run.json");
            if let Ok(runs) = crate::report::runs::load(&path, "run") {
                loaded.extend(runs);
            }
        }
        let all = crate::latency::sum(loaded.iter().map(|r| &r.report.histogram));
        if let Some(h) = all {
            histograms.push((arm.name.clone(), h));
        }
    }
    let mut cards = vec![
        ("arms", x.arms.len().to_string()),
        ("runs", x.runs.len().to_string()),
    ];
    if let Some(a) = x.arms.iter().find(|a| a.name == "tuned") {
        cards.push((
            "tuned req/s vs baseline",
            format!("×{:.2}", a.rps_ratio_to_baseline),
        ));
        cards.push((
            "tuned p99 vs baseline",
            format!("×{:.2}", a.p99_ratio_to_baseline),
        ));
    }
    let head = ComparisonPage {
        title: format!("koprogo-perf experiment: {}", x.setup.scenario),
        subtitle: headline(x),
        cards,
        warnings: if x.setup.interrupted {
            vec!["Interrupted by Ctrl-C: the figures cover the runs that ended.".into()]
        } else {
            Vec::new()
        },
        footer: x.tool.clone(),
    };
    crate::report::html::comparison(head, sections(x), &histograms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_lose_their_route_tag_and_are_shortened() {
        assert_eq!(
            short_query("/* GET /api/v1/accounts */ SELECT id,\n  code FROM accounts"),
            "SELECT id, code FROM accounts"
        );
        let long = format!("SELECT {} FROM t", "x, ".repeat(40));
        assert_eq!(short_query(&long).chars().count(), 60);
        assert_eq!(ratio(3.214, Some([2.9, 3.55])), "×3.21 [2.90–3.55]");
        assert_eq!(ratio(0.5, None), "×0.50");
    }
}
