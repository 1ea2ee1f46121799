//! A run next to a baseline: per metric and per endpoint, both values and the change,
//! absolute and in percent. Descriptive only; whether a change is a regression is the
//! gate's call (`gate.rs`), which uses statistics.

use serde::Serialize;

use crate::measure::resources::ProcessStats;
use crate::report::run::{Latency, RunReport};
use crate::units::{format_grams, format_us};

/// What a metric's numbers are, for formatting and for which direction is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Microseconds; lower is better.
    Latency,
    /// Requests per second; higher is better.
    Rate,
    /// A count (requests, errors).
    Count,
    /// A fraction (error rate); lower is better.
    Fraction,
    /// Bytes; lower is better.
    Bytes,
    /// CPU seconds; lower is better.
    CpuSeconds,
    /// Grams of CO2; lower is better.
    Grams,
}

impl Kind {
    /// A value in this kind's unit, human-readable.
    pub fn format(self, v: f64) -> String {
        match self {
            Kind::Latency => format_us(v),
            Kind::Rate => format!("{v:.1}"),
            Kind::Count if v.fract().abs() < 1e-9 => format!("{v:.0}"),
            Kind::Count => format!("{v:.1}"),
            Kind::Fraction => format!("{:.3}%", v * 100.0),
            Kind::Bytes => format!("{:.1} MB", v / 1e6),
            Kind::CpuSeconds => format!("{v:.1} s"),
            Kind::Grams => format_grams(v),
        }
    }

    /// A signed change in this kind's unit: `+1.20ms`, `-35.2`.
    pub fn format_change(self, d: f64) -> String {
        let sign = if d < 0.0 { "-" } else { "+" };
        format!("{sign}{}", self.format(d.abs()))
    }
}

/// One metric, this run against the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Delta {
    /// `p99`, `req/s`, …
    pub metric: String,
    pub kind: Kind,
    /// The baseline's value; null when it did not measure it.
    pub baseline: Option<f64>,
    /// This run's value; null when it did not measure it.
    pub value: Option<f64>,
}

impl Delta {
    fn new(metric: &str, kind: Kind, baseline: Option<f64>, value: Option<f64>) -> Delta {
        Delta {
            metric: metric.to_string(),
            kind,
            baseline,
            value,
        }
    }

    /// value − baseline.
    pub fn change(&self) -> Option<f64> {
        Some(self.value? - self.baseline?)
    }

    /// (value − baseline) ÷ baseline, as a fraction; null for a zero baseline.
    pub fn change_fraction(&self) -> Option<f64> {
        let (b, v) = (self.baseline?, self.value?);
        (b != 0.0).then(|| (v - b) / b)
    }

    /// `+1.20ms (+5.4%)`, `+0 (0.0%)`, or `–` when either side is missing.
    pub fn describe(&self) -> String {
        match (self.change(), self.change_fraction()) {
            (Some(d), Some(f)) => {
                format!("{} ({:+.1}%)", self.kind.format_change(d), f * 100.0)
            }
            (Some(d), None) => self.kind.format_change(d),
            _ => "–".to_string(),
        }
    }
}

/// One endpoint against the same endpoint of the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointDeltas {
    /// `GET /api/v1/buildings`.
    pub name: String,
    /// req/s, errors, p50, p90, p95, p99, p99.9, max.
    pub deltas: Vec<Delta>,
}

/// A run against its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Where the baseline came from (a run directory, or a directory and its run count).
    pub baseline: String,
    /// How many runs the baseline pools.
    pub baseline_runs: usize,
    /// All requests together, then resources and carbon.
    pub totals: Vec<Delta>,
    /// Per endpoint, for endpoints of this run (the baseline's missing ones are null).
    pub endpoints: Vec<EndpointDeltas>,
    /// What differs between the two runs' set-ups (scenario, users, duration).
    pub notes: Vec<String>,
}

fn latency_deltas(base: Option<&Latency>, run: Option<&Latency>) -> Vec<Delta> {
    type Get = fn(&Latency) -> f64;
    let stats: [(&str, Get); 7] = [
        ("p50", |l| l.p50 as f64),
        ("p90", |l| l.p90 as f64),
        ("p95", |l| l.p95 as f64),
        ("p99", |l| l.p99 as f64),
        ("p99.9", |l| l.p999 as f64),
        ("max", |l| l.max as f64),
        ("mean", |l| l.mean),
    ];
    stats
        .iter()
        .map(|(name, get)| Delta::new(name, Kind::Latency, base.map(get), run.map(get)))
        .collect()
}

fn error_rate(requests: u64, errors: u64) -> Option<f64> {
    (requests > 0).then(|| errors as f64 / requests as f64)
}

/// Compares `run` with `baseline` (`label` and `runs` say where the baseline came from).
pub fn compare(run: &RunReport, baseline: &RunReport, label: &str, runs: usize) -> Comparison {
    // A pooled side adds its runs' counts: compare counts per run.
    let per_run = |r: &RunReport, n: u64| n as f64 / r.merged_from.len().max(1) as f64;
    let mut totals = vec![
        Delta::new(
            "requests per run",
            Kind::Count,
            Some(per_run(baseline, baseline.totals.requests)),
            Some(per_run(run, run.totals.requests)),
        ),
        Delta::new(
            "req/s",
            Kind::Rate,
            Some(baseline.totals.rps),
            Some(run.totals.rps),
        ),
        Delta::new(
            "errors per run",
            Kind::Count,
            Some(per_run(baseline, baseline.totals.errors)),
            Some(per_run(run, run.totals.errors)),
        ),
        Delta::new(
            "error rate",
            Kind::Fraction,
            error_rate(baseline.totals.requests, baseline.totals.errors),
            error_rate(run.totals.requests, run.totals.errors),
        ),
    ];
    totals.extend(latency_deltas(
        Some(&baseline.totals.latency_us),
        Some(&run.totals.latency_us),
    ));
    fn process<'a>(r: &'a RunReport, which: &str) -> Option<&'a ProcessStats> {
        let res = r.resources.as_ref()?;
        let p = match which {
            "server" => &res.server,
            _ => &res.postgres,
        };
        p.measured.then_some(p)
    }
    for which in ["server", "postgres"] {
        let (b, v) = (process(baseline, which), process(run, which));
        totals.push(Delta::new(
            &format!("{which} CPU"),
            Kind::CpuSeconds,
            b.map(|p| p.cpu_s),
            v.map(|p| p.cpu_s),
        ));
        totals.push(Delta::new(
            &format!("{which} peak RSS"),
            Kind::Bytes,
            b.map(|p| p.peak_rss_bytes as f64),
            v.map(|p| p.peak_rss_bytes as f64),
        ));
    }
    totals.push(Delta::new(
        "CO2 per request",
        Kind::Grams,
        baseline.carbon.as_ref().map(|c| c.g_per_request),
        run.carbon.as_ref().map(|c| c.g_per_request),
    ));

    let endpoints = run
        .endpoints
        .iter()
        .map(|e| {
            let b = baseline.endpoints.iter().find(|b| b.name == e.name);
            let mut deltas = vec![
                Delta::new("req/s", Kind::Rate, b.map(|b| b.rps), Some(e.rps)),
                Delta::new(
                    "errors",
                    Kind::Count,
                    b.map(|b| b.errors as f64),
                    Some(e.errors as f64),
                ),
            ];
            deltas.extend(latency_deltas(
                b.map(|b| &b.latency_us),
                Some(&e.latency_us),
            ));
            EndpointDeltas {
                name: e.name.clone(),
                deltas,
            }
        })
        .collect();

    let mut notes = Vec::new();
    if run.scenario.name != baseline.scenario.name {
        notes.push(format!(
            "different scenarios: this run {}, the baseline {}",
            run.scenario.name, baseline.scenario.name
        ));
    }
    if run.vus != baseline.vus {
        notes.push(format!(
            "different users: this run {}, the baseline {}",
            run.vus, baseline.vus
        ));
    }
    let per_run = |r: &RunReport| r.duration_s / r.merged_from.len().max(1) as f64;
    if (per_run(run) - per_run(baseline)).abs() > 0.5 {
        notes.push(format!(
            "different durations: this run {:.0} s, the baseline {:.0} s per run",
            per_run(run),
            per_run(baseline)
        ));
    }
    Comparison {
        baseline: label.to_string(),
        baseline_runs: runs,
        totals,
        endpoints,
        notes,
    }
}

impl Comparison {
    /// The delta of `metric` for endpoint `name`.
    pub fn endpoint(&self, name: &str, metric: &str) -> Option<&Delta> {
        self.endpoints
            .iter()
            .find(|e| e.name == name)?
            .deltas
            .iter()
            .find(|d| d.metric == metric)
    }
}
