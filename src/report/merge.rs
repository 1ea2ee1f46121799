//! `merge`: runs of one scenario, made at the same time by several load machines against
//! one server, combined into one run. Histograms are added (HdrHistogram addition is
//! exact, so the merged percentiles are those of all samples together), counts and rates
//! are summed, and the per-second series and interval logs are aligned by wall clock
//! (`started_at` + seconds). What belongs to one machine — its CPU and memory, the
//! pg_stat_statements deltas (every machine saw the same server's statements), CO2, the
//! flamegraph — cannot be added honestly: the merged run marks it "not measured" and says
//! why.
//!
//! Everything here works in memory, so that a refused merge writes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;

use crate::measure::pgss::PostgresReport;
use crate::measure::resources::{ProcessStats, Resources};
use crate::report::hlog::{Entry, Log};
use crate::report::run::{
    DiscoveryReport, Latency, LoginReport, PhaseReport, RateInfo, RunReport, SCHEMA_VERSION,
    SeriesPoint, add_map,
};
use crate::report::tally::{Rates, Tally};
use crate::units::round3;

/// One run to merge.
#[derive(Debug)]
pub struct Input {
    /// The run directory as the user named it (for messages and `merged_from`).
    pub dir: String,
    /// Its run.json.
    pub report: RunReport,
    /// Its `latency.hlog`, parsed; `None` when the run has none.
    pub hlog: Option<IntervalLog>,
}

/// Why runs cannot be merged. Each message is one line naming the run directories.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    /// Fewer than two runs.
    #[error("merge needs at least two run directories, got {0}")]
    TooFew(String),
    /// Not the same scenario.
    #[error("runs of different scenarios: {0}; merge combines runs of one scenario")]
    Scenarios(String),
    /// No moment when all of them ran.
    #[error(
        "runs do not overlap in time: {ended} ran {ended_span} and {began} only began at \
         {began_at}; merge combines runs made at the same time"
    )]
    NoOverlap {
        ended: String,
        ended_span: String,
        began: String,
        began_at: String,
    },
    /// Constant-rate and closed-loop runs measure latency differently.
    #[error(
        "{rate} ran at a constant rate (--rate) and {closed} did not: their latencies are \
         measured differently and cannot be added"
    )]
    Modes { rate: String, closed: String },
    /// A run against its own embedded stack did not load a shared server.
    #[error(
        "{dir} ran against its own embedded server ({host}), not a shared one: merge combines \
         runs of `load --host URL` against one server"
    )]
    Embedded { dir: String, host: String },
    /// A run whose files are not what `load` writes.
    #[error("{dir}: {message}")]
    Invalid { dir: String, message: String },
}

fn invalid(dir: &str, message: impl Into<String>) -> MergeError {
    MergeError::Invalid {
        dir: dir.to_string(),
        message: message.into(),
    }
}

/// The merged run.
#[derive(Debug)]
pub struct Merged {
    /// The merged run.json (targets left empty: the caller checks them), with the
    /// merged `latency.hlog` when every input had one.
    pub report: RunReport,
    pub hlog: Option<Log>,
    /// What is not exact or not merged, to tell the user.
    pub notes: Vec<String>,
}

/// One interval histogram of a `latency.hlog`.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Endpoint tag (its name with spaces replaced by `_`); `None` for all endpoints.
    pub tag: Option<String>,
    /// Start of the interval, milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// Length of the interval, milliseconds.
    pub duration_ms: u64,
    /// Latencies in microseconds.
    pub histogram: Histogram<u64>,
}

/// A parsed HdrHistogram interval log.
#[derive(Debug, Clone, Default)]
pub struct IntervalLog {
    pub intervals: Vec<Interval>,
}

/// Seconds of a year: HdrHistogram's Java reader treats interval timestamps this much
/// smaller than StartTime as offsets from it, others as Unix times.
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Reads a `latency.hlog` (see [`crate::report::hlog`]) onto the wall clock. Interval
/// timestamps are read as the Java `HistogramLogReader` reads them: offsets from
/// StartTime when they are far smaller than it (what `load` writes), else Unix times.
pub fn parse_interval_log(text: &str) -> anyhow::Result<IntervalLog> {
    let (start_time, entries) = crate::report::hlog::parse(text)?;
    let intervals = entries
        .into_iter()
        .map(|e| {
            let absolute = match start_time {
                Some(start) if e.start + YEAR < start => start + e.start,
                _ => e.start,
            };
            Interval {
                tag: e.tag,
                start_ms: absolute.as_millis() as i64,
                duration_ms: e.length.as_millis() as u64,
                histogram: e.histogram,
            }
        })
        .collect();
    Ok(IntervalLog { intervals })
}

/// A histogram of one merged second: small, growing as needed (like `load`'s interval
/// histograms), so that a long run's thousands of them fit in memory.
/// Merged interval histograms by (second since the merged start, tag): the untagged one
/// (all endpoints) sorts first within a second.
type Grid = BTreeMap<(u64, Option<String>), (u64, Histogram<u64>)>;

/// The merged interval log: StartTime `start`, each interval's timestamp in seconds
/// since it (as `load` writes them).
fn interval_log(start: DateTime<Utc>, grid: &Grid, comment: &str) -> Log {
    let start = std::time::UNIX_EPOCH + Duration::from_millis(start.timestamp_millis() as u64);
    let entries = grid
        .iter()
        .map(|((second, tag), (duration_ms, histogram))| Entry {
            tag: tag.clone(),
            start: Duration::from_secs(*second),
            length: Duration::from_millis(*duration_ms),
            histogram: histogram.clone(),
        })
        .collect();
    Log {
        start,
        comment: comment.to_string(),
        entries,
    }
}

/// The second of the merged run that a moment `offset_ms` after the merged start falls
/// in: the nearest whole second. Runs start at arbitrary milliseconds, so a run's second
/// `t` (which began `offset + t` seconds after the merged start) lands on the merged
/// second it overlaps most.
pub fn second_of(offset_ms: i64) -> u64 {
    (offset_ms + 500).div_euclid(1000).max(0) as u64
}

/// Milliseconds since the Unix epoch of an RFC 3339 time.
fn epoch_ms(text: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("started_at `{text}` is not an RFC 3339 time: {e}"))
}

/// How long a run lasted, in milliseconds: its ramp-up and steady state, or its series
/// and phases when they reach further (ramp-down, plans).
pub fn span_ms(r: &RunReport) -> i64 {
    let planned = (r.ramp_up_s + r.duration_s) * 1000.0;
    let series = r.series.last().map_or(0.0, |p| (p.t + 1) as f64 * 1000.0);
    let phases = r
        .phases
        .iter()
        .map(|p| (p.start_s + p.duration_s) * 1000.0)
        .fold(0.0, f64::max);
    planned.max(series).max(phases).round() as i64
}

fn clock(ms: i64, date: bool) -> String {
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    if date {
        t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
    } else {
        t.format("%H:%M:%S%.3f").to_string()
    }
}

/// Checks that at one moment every run was running: the latest start comes before the
/// earliest end. `runs` are (dir, start ms, span ms).
pub fn check_overlap(runs: &[(&str, i64, i64)]) -> Result<(), MergeError> {
    let Some(began) = runs.iter().max_by_key(|r| r.1) else {
        return Ok(());
    };
    let Some(ended) = runs.iter().min_by_key(|r| r.1 + r.2) else {
        return Ok(());
    };
    if began.1 < ended.1 + ended.2 {
        return Ok(());
    }
    Err(MergeError::NoOverlap {
        ended: ended.0.to_string(),
        ended_span: format!(
            "{}–{}",
            clock(ended.1, true),
            clock(ended.1 + ended.2, false)
        ),
        began: began.0.to_string(),
        began_at: clock(began.1, true),
    })
}

/// Combines `inputs` (in the order given; their first one's order of endpoints and
/// phase labels win). Refuses fewer than two runs, different scenarios, runs that never
/// ran at the same time, a mix of constant-rate and closed-loop runs, runs against an
/// embedded server, and histograms that do not match their counts.
pub fn merge(inputs: &[Input]) -> Result<Merged, MergeError> {
    check_inputs(inputs)?;
    let (starts, earliest, merged_start) = clocks(inputs)?;
    let offsets: Vec<i64> = starts.iter().map(|s| s - merged_start).collect();
    let mut notes = Vec::new();

    // The requests: histograms added, counts summed, endpoints matched by name.
    let mut tally = Tally::default();
    for i in inputs {
        tally += &Tally::of(&i.report).map_err(|e| invalid(&i.dir, e))?;
    }
    note_uncorrected(inputs, &mut notes);
    let (all_hlogs, grid) = merge_hlogs(inputs, &starts, &offsets, &mut notes);

    // The first run's scenario, target and plan; what belongs to one machine replaced.
    let mut report = inputs[0].report.clone();
    // The runs ran side by side: their rates add.
    tally.fill(&mut report, Rates::Summed, true);
    report.tool = format!("koprogo-perf {}", env!("CARGO_PKG_VERSION"));
    report.started_at = inputs[earliest].report.started_at.clone();
    let longest =
        |f: fn(&RunReport) -> f64| inputs.iter().map(|i| f(&i.report)).fold(0.0, f64::max);
    report.duration_s = longest(|r| r.duration_s);
    report.ramp_up_s = longest(|r| r.ramp_up_s);
    report.vus = inputs.iter().map(|i| i.report.vus).sum();
    report.logins = merge_logins(inputs, &mut notes);
    report.discovery = merge_discovery(inputs);
    report.host_down_at_s = inputs
        .iter()
        .filter_map(|i| i.report.host_down_at_s)
        .reduce(f64::min);
    report.database_unavailable = None;
    report.targets = Vec::new();
    report.series = merge_series(inputs, &offsets, &grid);
    report.phases = merge_phases(inputs, &offsets, &tally.ok, &mut notes);
    report.rate = merge_rate(inputs);
    unmerged_measurements(&mut report, inputs, &mut notes);
    report.merged_from = inputs.iter().map(|i| i.dir.clone()).collect();
    // The merged run is judged on its sums, with the first run's limit.
    let max_error_rate = inputs[0].report.effective_verdict().max_error_rate;
    report.verdict = None;
    report.verdict = Some(crate::report::verdict::judge(&report, max_error_rate));
    let hlog = all_hlogs.then(|| {
        interval_log(
            DateTime::<Utc>::from_timestamp_millis(merged_start).unwrap_or_default(),
            &grid,
            &format!(
                "koprogo-perf merge of {} (latencies in microseconds)",
                report.merged_from.join(" ")
            ),
        )
    });
    Ok(Merged {
        report,
        hlog,
        notes,
    })
}

/// Each run's start (ms since the epoch), checked to overlap; the earliest run and
/// its start.
fn clocks(inputs: &[Input]) -> Result<(Vec<i64>, usize, i64), MergeError> {
    let starts = inputs
        .iter()
        .map(|i| epoch_ms(&i.report.started_at).map_err(|e| invalid(&i.dir, e)))
        .collect::<Result<Vec<i64>, _>>()?;
    let spans: Vec<(&str, i64, i64)> = inputs
        .iter()
        .zip(&starts)
        .map(|(i, s)| (i.dir.as_str(), *s, span_ms(&i.report)))
        .collect();
    check_overlap(&spans)?;
    let (earliest, merged_start) = starts
        .iter()
        .enumerate()
        .min_by_key(|(_, s)| **s)
        .map(|(k, s)| (k, *s))
        .expect("at least two inputs");
    Ok((starts, earliest, merged_start))
}

/// The uncorrected latencies keep only percentiles: say they are not merged.
fn note_uncorrected(inputs: &[Input], notes: &mut Vec<String>) {
    if inputs.iter().any(|i| {
        i.report.totals.latency_uncorrected_us.is_some()
            || i.report
                .endpoints
                .iter()
                .any(|e| e.latency_uncorrected_us.is_some())
    }) {
        notes.push(
            "latency_uncorrected_us is not merged: run.json keeps only its percentiles, which \
             cannot be added (the corrected latencies are merged exactly)"
                .into(),
        );
    }
}

/// What belongs to one machine is not merged: its resources, pg_stat_statements, CO2
/// and flamegraph are marked not measured, and say why (and notes, about the URLs too).
fn unmerged_measurements(report: &mut RunReport, inputs: &[Input], notes: &mut Vec<String>) {
    let n = inputs.len();
    let machine_note = format!(
        "not measured: a merge of {n} runs from separate load machines; each one's figures are \
         in its own run.json"
    );
    let unmeasured = ProcessStats::unmeasured(&machine_note);
    // The machine figure is only context for CPU %, which is not measured here; the first
    // run's machine (or this one) keeps the section's shape.
    let machine = inputs
        .iter()
        .find_map(|i| i.report.resources.as_ref().map(|r| r.machine.clone()))
        .unwrap_or_else(crate::measure::resources::Machine::current);
    notes.push(format!(
        "resources, pg_stat_statements, CO2 and the flamegraph belong to one machine and are \
         not merged; see each of the {n} run directories"
    ));

    let hosts: Vec<&str> = inputs
        .iter()
        .map(|i| i.report.target.host.as_str())
        .collect();
    if hosts.iter().any(|h| *h != hosts[0]) {
        notes.push(format!(
            "the runs loaded different URLs ({}); the merged run names the first",
            hosts.join(", ")
        ));
    }

    report.resources = Some(Resources {
        server: unmeasured.clone(),
        postgres: unmeasured.clone(),
        generator: unmeasured,
        machine,
    });
    report.postgres = PostgresReport::not_measured(format!(
        "a merge of {n} runs: each machine's pg_stat_statements delta covers the whole \
         server's statements, so they cannot be added; see each run.json"
    ));
    report.carbon = None;
    report.flamegraph = None;
    report.flamegraph_skipped_reason = Some(format!(
        "a merge of {n} runs has no flamegraph of its own; see each run directory"
    ));
    report.flamegraph_sampler = None;
    if report.heap.take().is_some() || report.heap_skipped_reason.is_some() {
        report.heap_skipped_reason = Some(format!(
            "a merge of {n} runs has no heap profile of its own; see each run directory"
        ));
    }
}

/// Refuses what cannot be merged: fewer than two runs, another schema, different
/// scenarios, constant-rate with closed-loop runs, runs against their own stacks.
fn check_inputs(inputs: &[Input]) -> Result<(), MergeError> {
    if inputs.len() < 2 {
        return Err(MergeError::TooFew(match inputs.first() {
            Some(i) => format!("only {}", i.dir),
            None => "none".into(),
        }));
    }
    for i in inputs {
        if i.report.schema_version != SCHEMA_VERSION {
            return Err(invalid(
                &i.dir,
                format!(
                    "run.json has schema_version {}, this koprogo-perf reads {SCHEMA_VERSION}",
                    i.report.schema_version
                ),
            ));
        }
    }
    let first = &inputs[0].report;
    if inputs
        .iter()
        .any(|i| i.report.scenario.name != first.scenario.name)
    {
        return Err(MergeError::Scenarios(
            inputs
                .iter()
                .map(|i| format!("{} ({})", i.dir, i.report.scenario.name))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if let (Some(rate), Some(closed)) = (
        inputs.iter().find(|i| i.report.rate.is_some()),
        inputs.iter().find(|i| i.report.rate.is_none()),
    ) {
        return Err(MergeError::Modes {
            rate: rate.dir.clone(),
            closed: closed.dir.clone(),
        });
    }
    if let Some(i) = inputs.iter().find(|i| i.report.target.embedded) {
        return Err(MergeError::Embedded {
            dir: i.dir.clone(),
            host: i.report.target.host.clone(),
        });
    }
    Ok(())
}

/// The interval logs on the merged run's seconds, when every run has one (the first
/// value says so); otherwise a note.
fn merge_hlogs(
    inputs: &[Input],
    starts: &[i64],
    offsets: &[i64],
    notes: &mut Vec<String>,
) -> (bool, Grid) {
    // The interval logs, on the merged run's seconds.
    let all_hlogs = inputs.iter().all(|i| i.hlog.is_some());
    let mut grid: Grid = BTreeMap::new();
    if all_hlogs {
        for ((i, start), offset) in inputs.iter().zip(starts).zip(offsets) {
            for iv in &i.hlog.as_ref().expect("checked").intervals {
                // The run's own second first (its StartTime and started_at may differ by
                // a millisecond of rounding), then the same mapping as its series point.
                let own = second_of(iv.start_ms - start) as i64;
                let second = second_of(offset + own * 1000);
                let (duration_ms, h) = grid
                    .entry((second, iv.tag.clone()))
                    .or_insert_with(|| (0, crate::latency::interval_histogram()));
                *duration_ms = (*duration_ms).max(iv.duration_ms);
                // Auto-resizing (an interval histogram): `+=` cannot fail.
                *h += &iv.histogram;
            }
        }
    } else {
        let missing: Vec<&str> = inputs
            .iter()
            .filter(|i| i.hlog.is_none())
            .map(|i| i.dir.as_str())
            .collect();
        notes.push(format!(
            "no latency.hlog in {}: the merged run has none, and the p50/p99 of each second in \
             its series are the highest of the runs' (an upper bound), not exact",
            missing.join(", ")
        ));
    }

    (all_hlogs, grid)
}

/// The series, summed per wall-clock second; the p50/p99 from the interval logs when
/// there are any.
fn merge_series(inputs: &[Input], offsets: &[i64], grid: &Grid) -> Vec<SeriesPoint> {
    // The series, summed per wall-clock second.
    let mut seconds: BTreeMap<u64, SeriesPoint> = BTreeMap::new();
    for (i, off) in inputs.iter().zip(offsets) {
        for p in &i.report.series {
            let second = second_of(off + p.t as i64 * 1000);
            let m = seconds.entry(second).or_insert_with(|| SeriesPoint {
                t: second,
                phase: p.phase.clone(),
                requests: 0,
                errors: 0,
                rps: 0.0,
                p50_us: 0,
                p99_us: 0,
                users: 0,
            });
            m.requests += p.requests;
            // Each machine's users are its own.
            m.users += p.users;
            m.errors += p.errors;
            m.rps += p.rps;
            m.p50_us = m.p50_us.max(p.p50_us);
            m.p99_us = m.p99_us.max(p.p99_us);
        }
    }
    seconds
        .into_values()
        .map(|mut p| {
            p.rps = round3(p.rps);
            if let Some((_, h)) = grid.get(&(p.t, None)) {
                let l = Latency::of(h);
                p.p50_us = l.p50;
                p.p99_us = l.p99;
            }
            p
        })
        .collect()
}

/// Constant-rate runs side by side: the rates add.
fn merge_rate(inputs: &[Input]) -> Option<RateInfo> {
    if inputs.iter().all(|i| i.report.rate.is_some()) {
        let rates: Vec<&RateInfo> = inputs
            .iter()
            .filter_map(|i| i.report.rate.as_ref())
            .collect();
        Some(RateInfo {
            requested: round3(rates.iter().map(|r| r.requested).sum()),
            achieved: round3(rates.iter().map(|r| r.achieved).sum()),
            missed: rates.iter().map(|r| r.missed).sum(),
            late: rates.iter().map(|r| r.late).sum(),
        })
    } else {
        None
    }
}

/// The users' discovery, counted over every run.
fn merge_discovery(inputs: &[Input]) -> Option<DiscoveryReport> {
    let mut parts = inputs.iter().filter_map(|i| i.report.discovery.as_ref());
    let mut sum = parts.next()?.clone();
    for d in parts {
        sum += d;
    }
    Some(sum)
}

/// The runs' logins: counts summed exactly; the latency percentiles are the highest of
/// the runs' (an upper bound: run.json keeps no login histogram).
fn merge_logins(inputs: &[Input], notes: &mut Vec<String>) -> Option<LoginReport> {
    let parts: Vec<&LoginReport> = inputs
        .iter()
        .filter_map(|i| i.report.logins.as_ref())
        .collect();
    if parts.is_empty() {
        return None;
    }
    if parts.len() > 1 {
        notes.push(
            "the login latency percentiles are the highest of the runs' (an upper bound); the \
             login counts are exact sums"
                .into(),
        );
    }
    let mut failures = BTreeMap::new();
    for l in &parts {
        add_map(&mut failures, &l.failures);
    }
    Some(LoginReport {
        attempts: parts.iter().map(|l| l.attempts).sum(),
        successes: parts.iter().map(|l| l.successes).sum(),
        failures,
        refreshes: parts.iter().map(|l| l.refreshes).sum(),
        refresh_failures: parts.iter().map(|l| l.refresh_failures).sum(),
        users_logged_in: parts.iter().map(|l| l.users_logged_in).sum(),
        latency_us: Latency::upper_bound(parts.iter().map(|l| (&l.latency_us, l.attempts))),
    })
}

/// Phases matched by name, in order of first appearance. Counts and rates are summed,
/// start and length cover every run's phase on the merged clock. Latency: the merged
/// overall histogram for the one steady phase (the totals cover exactly it, so it is
/// exact). run.json keeps no histogram of the other phases, and interval histograms do
/// not end at phase boundaries, so theirs are bounds: each percentile the highest of the
/// runs' (a percentile of a mix of samples never exceeds the highest of the parts'), the
/// max exact, the mean weighted by requests.
fn merge_phases(
    inputs: &[Input],
    offsets: &[i64],
    overall: &Histogram<u64>,
    notes: &mut Vec<String>,
) -> Vec<PhaseReport> {
    let mut names: Vec<&str> = Vec::new();
    for i in inputs {
        for p in &i.report.phases {
            if !names.contains(&p.name.as_str()) {
                names.push(&p.name);
            }
        }
    }
    let steady: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| {
            inputs
                .iter()
                .flat_map(|i| &i.report.phases)
                .any(|p| p.name == *n && p.steady)
        })
        .collect();
    let mut bounded = Vec::new();
    let mut merged = Vec::new();
    for name in names {
        let parts: Vec<(usize, &PhaseReport)> = inputs
            .iter()
            .enumerate()
            .flat_map(|(k, i)| i.report.phases.iter().map(move |p| (k, p)))
            .filter(|(_, p)| p.name == name)
            .collect();
        let begin_ms = parts
            .iter()
            .map(|(k, p)| offsets[*k] + (p.start_s * 1000.0).round() as i64)
            .min()
            .unwrap_or(0);
        let end_ms = parts
            .iter()
            .map(|(k, p)| offsets[*k] + ((p.start_s + p.duration_s) * 1000.0).round() as i64)
            .max()
            .unwrap_or(0);
        let requests: u64 = parts.iter().map(|(_, p)| p.requests).sum();
        let latency_us = if steady == [name] {
            Latency::of(overall)
        } else {
            if requests > 0 {
                bounded.push(name);
            }
            Latency::upper_bound(parts.iter().map(|(_, p)| (&p.latency_us, p.requests)))
        };
        merged.push(PhaseReport {
            name: name.to_string(),
            steady: parts.iter().any(|(_, p)| p.steady),
            start_s: begin_ms as f64 / 1000.0,
            duration_s: (end_ms - begin_ms) as f64 / 1000.0,
            users: parts.iter().map(|(_, p)| p.users).sum::<Option<usize>>(),
            rate: parts
                .iter()
                .map(|(_, p)| p.rate)
                .sum::<Option<f64>>()
                .map(round3),
            requests,
            errors: parts.iter().map(|(_, p)| p.errors).sum(),
            rps: round3(parts.iter().map(|(_, p)| p.rps).sum()),
            latency_us,
        });
    }
    if !bounded.is_empty() {
        notes.push(format!(
            "the percentiles of phase{} {} are the highest of the runs' (an upper bound; max \
             and mean exact): run.json keeps no histogram per phase",
            if bounded.len() > 1 { "s" } else { "" },
            bounded.join(", ")
        ));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::encode_histogram;
    use crate::latency::new_histogram;
    use crate::report::run::{EndpointReport, ScenarioInfo, TargetInfo, Totals, TransportErrors};

    const T0: &str = "2025-03-01T12:00:00.000Z";

    /// A run made of `samples` (second since its start, endpoint, latency µs), with the
    /// series, phases and interval log `load` writes for them.
    fn run(dir: &str, started_at: &str, samples: &[(u64, &str, u64)]) -> Input {
        let start = epoch_ms(started_at).unwrap();
        let mut overall = new_histogram();
        let mut per: Vec<(String, Histogram<u64>)> = Vec::new();
        let mut seconds: BTreeMap<(u64, Option<String>), Histogram<u64>> = BTreeMap::new();
        for (t, name, us) in samples {
            overall.record(*us).unwrap();
            match per.iter_mut().find(|(n, _)| n == name) {
                Some((_, h)) => h.record(*us).unwrap(),
                None => {
                    let mut h = new_histogram();
                    h.record(*us).unwrap();
                    per.push((name.to_string(), h));
                }
            }
            for tag in [None, Some(name.replace(' ', "_"))] {
                seconds
                    .entry((*t, tag))
                    .or_insert_with(new_histogram)
                    .record(*us)
                    .unwrap();
            }
        }
        let duration = samples.iter().map(|s| s.0 + 1).max().unwrap_or(1);
        let series = (0..duration)
            .map(|t| {
                let h = seconds
                    .get(&(t, None))
                    .cloned()
                    .unwrap_or_else(new_histogram);
                let l = Latency::of(&h);
                SeriesPoint {
                    users: 0,
                    t,
                    phase: "steady".into(),
                    requests: h.len(),
                    errors: 0,
                    rps: h.len() as f64,
                    p50_us: l.p50,
                    p99_us: l.p99,
                }
            })
            .collect();
        let intervals = seconds
            .into_iter()
            .map(|((t, tag), histogram)| Interval {
                tag,
                start_ms: start + t as i64 * 1000,
                duration_ms: 1000,
                histogram,
            })
            .collect();
        let report = report_of(started_at, duration as f64, &overall, &per, series);
        Input {
            dir: dir.into(),
            report,
            hlog: Some(IntervalLog { intervals }),
        }
    }

    /// The run.json `load` writes for these histograms and series over `secs` seconds.
    fn report_of(
        started_at: &str,
        secs: f64,
        overall: &Histogram<u64>,
        per: &[(String, Histogram<u64>)],
        series: Vec<SeriesPoint>,
    ) -> RunReport {
        RunReport {
            plan: None,
            schema_version: SCHEMA_VERSION,
            tool: "koprogo-perf test".into(),
            started_at: started_at.into(),
            duration_s: secs,
            ramp_up_s: 0.0,
            vus: 2,
            scenario: ScenarioInfo {
                name: "health".into(),
                source: "builtin:health".into(),
            },
            target: TargetInfo {
                host: "http://10.0.0.1:8080".into(),
                embedded: false,
                server: None,
                command: None,
            },
            interrupted: false,
            host_down: false,
            warmup_requests: 3,
            relogins: 0,
            skipped_requests: 1,
            unsent: BTreeMap::from([("no building_id known to the user".to_string(), 1)]),
            logins: None,
            discovery: None,
            host_down_at_s: None,
            database_unavailable: None,
            verdict: None,
            totals: Totals {
                requests: overall.len(),
                errors: 0,
                error_rate: 0.0,
                rps: round3(overall.len() as f64 / secs),
                status_codes: BTreeMap::new(),
                transport_errors: TransportErrors::default(),
                checks_failed: 0,
                latency_us: Latency::of(overall),
                failed_latency_us: None,
                latency_uncorrected_us: None,
            },
            endpoints: per
                .iter()
                .map(|(name, h)| EndpointReport {
                    name: name.clone(),
                    requests: h.len(),
                    errors: 0,
                    rps: round3(h.len() as f64 / secs),
                    status_codes: BTreeMap::from([("200".to_string(), h.len())]),
                    transport_errors: TransportErrors::default(),
                    checks_failed: 0,
                    unsent: BTreeMap::new(),
                    latency_us: Latency::of(h),
                    latency_uncorrected_us: None,
                    failed_latency_us: None,
                    histogram: h.clone(),
                    failed_histogram: None,
                })
                .collect(),
            histogram: overall.clone(),
            targets: Vec::new(),
            network_bytes: 1000,
            postgres: PostgresReport::not_measured("test"),
            resources: None,
            carbon: None,
            flamegraph: None,
            flamegraph_skipped_reason: None,
            flamegraph_sampler: None,
            heap: None,
            heap_skipped_reason: None,
            series,
            phases: vec![PhaseReport {
                name: "steady".into(),
                steady: true,
                start_s: 0.0,
                duration_s: secs,
                users: Some(2),
                rate: None,
                requests: overall.len(),
                errors: 0,
                rps: round3(overall.len() as f64 / secs),
                latency_us: Latency::of(overall),
            }],
            rate: None,
            merged_from: Vec::new(),
        }
    }

    const A: &str = "GET /api/v1/health";
    const B: &str = "GET /api/v1/buildings";

    fn histogram_of(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = new_histogram();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn a_moment_lands_on_the_nearest_merged_second() {
        assert_eq!(second_of(0), 0);
        assert_eq!(second_of(499), 0);
        assert_eq!(second_of(500), 1);
        assert_eq!(second_of(1_499), 1);
        // A run that began 700 ms after the first: its second 2 starts at 2.7 s.
        assert_eq!(second_of(700 + 2_000), 3);
        // A run that began 300 ms after: its second 2 starts at 2.3 s.
        assert_eq!(second_of(300 + 2_000), 2);
        // An interval logged a little before its run's start is clamped to 0.
        assert_eq!(second_of(-400), 0);
        assert_eq!(second_of(-2_000), 0);
    }

    #[test]
    fn runs_overlap_when_the_latest_start_precedes_the_earliest_end() {
        assert_eq!(
            check_overlap(&[("a", 0, 5_000), ("b", 4_999, 5_000)]),
            Ok(())
        );
        assert_eq!(
            check_overlap(&[("a", 0, 5_000), ("b", 1_000, 1_000), ("c", 1_500, 9_000)]),
            Ok(())
        );
        // b ends at 2 s, c begins at 2.5 s: never all three at once.
        let err = check_overlap(&[("a", 0, 5_000), ("b", 1_000, 1_000), ("c", 2_500, 9_000)])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("runs do not overlap in time: b ran "),
            "{err}"
        );
        assert!(
            err.contains("and c only began at 1970-01-01 00:00:02.500 UTC"),
            "{err}"
        );
        // Touching is not overlapping.
        assert!(check_overlap(&[("a", 0, 1_000), ("b", 1_000, 1_000)]).is_err());
    }

    #[test]
    fn a_run_spans_its_ramp_up_steady_state_series_and_phases() {
        let mut r = run("a", T0, &[(0, A, 100), (1, A, 100)]).report;
        r.ramp_up_s = 2.0;
        r.duration_s = 3.0;
        assert_eq!(span_ms(&r), 5_000);
        r.series.push(SeriesPoint {
            t: 6,
            ..r.series[0].clone()
        });
        assert_eq!(span_ms(&r), 7_000);
    }

    #[test]
    fn failures_logins_and_unsent_requests_are_summed_exactly() {
        let with_failures = |dir: &str, at: &str, failed: &[u64]| {
            let mut i = run(dir, at, &[(0, A, 100), (1, A, 120)]);
            let r = &mut i.report;
            let h = histogram_of(failed.iter().copied());
            let e = &mut r.endpoints[0];
            e.requests += h.len();
            e.errors += h.len();
            e.status_codes.insert("429".into(), h.len());
            e.failed_histogram = Some(h.clone());
            r.totals.requests += h.len();
            r.totals.errors += h.len();
            r.logins = Some(LoginReport {
                attempts: 3,
                successes: 2,
                failures: BTreeMap::from([("429".to_string(), 1)]),
                refreshes: 0,
                refresh_failures: 0,
                users_logged_in: 2,
                latency_us: Latency::of(&histogram_of([5_000, 9_000])),
            });
            i
        };
        let a = with_failures("runs/a", T0, &[30, 40]);
        let b = with_failures("runs/b", "2025-03-01T12:00:00.400Z", &[2_000_000]);
        let r = merge(&[a, b]).unwrap().report;
        let e = &r.endpoints[0];
        assert_eq!(e.requests, 7);
        assert_eq!(e.errors, 3);
        assert_eq!(e.status_codes["429"], 3);
        assert_eq!(e.status_codes["200"], 4);
        assert_eq!(
            e.failed_histogram.clone().unwrap(),
            histogram_of([30, 40, 2_000_000])
        );
        // The headline holds the successes only.
        assert_eq!(r.histogram.len(), 4);
        assert_eq!(r.totals.requests, 7);
        assert_eq!(r.totals.errors, 3);
        assert_eq!(r.totals.status_codes["429"], 3);
        assert_eq!(r.unsent["no building_id known to the user"], 2);
        let l = r.logins.as_ref().unwrap();
        assert_eq!((l.attempts, l.successes, l.failures["429"]), (6, 4, 2));
        assert_eq!(l.users_logged_in, 4);
        assert!(r.verdict.as_ref().unwrap().failed, "3 failed of 7");
    }

    #[test]
    fn merged_histograms_counts_and_series_are_exact() {
        // a starts at 12:00:00.000, b 700 ms later: b's second t is merged second t + 1.
        let a_samples = [
            (0, A, 100),
            (0, B, 2_000),
            (1, A, 150),
            (2, A, 90),
            (2, B, 5_000),
        ];
        let b_samples = [(0, A, 400), (0, A, 410), (1, B, 9_000), (2, A, 120)];
        let a = run("runs/a", T0, &a_samples);
        let b = run("runs/b", "2025-03-01T12:00:00.700Z", &b_samples);
        let merged = merge(&[a, b]).unwrap();
        let r = &merged.report;

        let all = histogram_of(a_samples.iter().chain(&b_samples).map(|s| s.2));
        assert_eq!(r.totals.requests, 9);
        assert_eq!(r.totals.latency_us, Latency::of(&all));
        assert_eq!(r.histogram, all);
        assert_eq!(
            r.endpoints
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            [A, B]
        );
        let only = |name: &str| {
            histogram_of(
                a_samples
                    .iter()
                    .chain(&b_samples)
                    .filter(|s| s.1 == name)
                    .map(|s| s.2),
            )
        };
        for e in &r.endpoints {
            assert_eq!(e.latency_us, Latency::of(&only(&e.name)), "{}", e.name);
            assert_eq!(e.status_codes["200"], e.requests);
        }
        assert_eq!(r.endpoints[0].requests, 6);
        assert_eq!(r.totals.rps, round3(round3(5.0 / 3.0) + round3(4.0 / 3.0)));
        assert_eq!(r.vus, 4);
        assert_eq!(r.warmup_requests, 6);
        assert_eq!(r.skipped_requests, 2);
        assert_eq!(r.network_bytes, 2000);
        assert_eq!(r.started_at, T0);
        assert_eq!(r.merged_from, ["runs/a", "runs/b"]);
        assert!(!r.postgres.measured);
        assert!(r.resources.as_ref().is_some_and(|x| !x.server.measured));

        // Series: merged second 1 = a's second 1 + b's second 0, its p99 from both.
        let counts: Vec<(u64, u64)> = r.series.iter().map(|p| (p.t, p.requests)).collect();
        assert_eq!(counts, [(0, 2), (1, 3), (2, 3), (3, 1)]);
        let second_1 = histogram_of([150, 400, 410]);
        assert_eq!(r.series[1].p99_us, Latency::of(&second_1).p99);
        assert_eq!(r.series[1].p50_us, Latency::of(&second_1).p50);
        assert_eq!(r.series[2].rps, 3.0);

        // The merged interval log parses back: per second and per endpoint, and its
        // untagged intervals add up to the merged histogram.
        let log = parse_interval_log(&merged.hlog.as_ref().unwrap().render().unwrap()).unwrap();
        let start = epoch_ms(T0).unwrap();
        let mut total = new_histogram();
        for iv in log.intervals.iter().filter(|iv| iv.tag.is_none()) {
            total.add(&iv.histogram).unwrap();
        }
        assert_eq!(total, all);
        let at = |second: i64, tag: Option<&str>| {
            log.intervals
                .iter()
                .find(|iv| iv.start_ms == start + second * 1000 && iv.tag.as_deref() == tag)
                .map(|iv| iv.histogram.clone())
        };
        assert_eq!(at(1, None).unwrap(), second_1);
        assert_eq!(
            at(2, Some("GET_/api/v1/buildings")).unwrap(),
            histogram_of([5_000, 9_000])
        );
        assert!(merged.notes.iter().all(|n| !n.contains("upper bound")));
        // The steady phase is the totals; start and length cover both runs.
        assert_eq!(r.phases.len(), 1);
        assert_eq!(r.phases[0].latency_us, Latency::of(&all));
        assert_eq!(r.phases[0].requests, 9);
        assert_eq!(r.phases[0].users, Some(4));
        assert_eq!((r.phases[0].start_s, r.phases[0].duration_s), (0.0, 3.7));
    }

    #[test]
    fn an_interval_log_a_millisecond_off_its_started_at_stays_on_its_series_second() {
        // b began 499 ms after a; its log's StartTime rounds to 500 ms.
        let a = run("a", T0, &[(0, A, 100), (1, A, 100)]);
        let mut b = run(
            "b",
            "2025-03-01T12:00:00.499Z",
            &[(0, A, 7_000), (1, A, 100)],
        );
        for iv in &mut b.hlog.as_mut().unwrap().intervals {
            iv.start_ms += 1;
        }
        let merged = merge(&[a, b]).unwrap();
        let first = &merged.report.series[0];
        assert_eq!(first.requests, 2);
        assert_eq!(first.p99_us, Latency::of(&histogram_of([100, 7_000])).p99);
    }

    #[test]
    fn without_an_interval_log_the_series_percentiles_are_an_upper_bound_and_said_so() {
        let a = run("a", T0, &[(0, A, 100), (0, A, 100), (0, A, 100)]);
        let mut b = run("b", T0, &[(0, A, 900)]);
        b.hlog = None;
        let merged = merge(&[a, b]).unwrap();
        assert!(merged.hlog.is_none());
        assert!(
            merged
                .notes
                .iter()
                .any(|n| n.starts_with("no latency.hlog in b:") && n.contains("upper bound")),
            "{:?}",
            merged.notes
        );
        assert_eq!(merged.report.series[0].requests, 4);
        assert_eq!(merged.report.series[0].p50_us, 900);
        // The totals stay exact: they come from run.json's histograms.
        assert_eq!(
            merged.report.totals.latency_us,
            Latency::of(&histogram_of([100, 100, 100, 900]))
        );
    }

    #[test]
    fn refusals_name_the_runs() {
        let one = || run("a", T0, &[(0, A, 100)]);
        let two = || run("b", "2025-03-01T12:00:00.200Z", &[(0, A, 100)]);

        assert_eq!(
            merge(&[one()]).unwrap_err().to_string(),
            "merge needs at least two run directories, got only a"
        );

        let mut other = two();
        other.report.scenario.name = "tiny".into();
        assert_eq!(
            merge(&[one(), other]).unwrap_err().to_string(),
            "runs of different scenarios: a (health), b (tiny); merge combines runs of one scenario"
        );

        let late = run("b", "2025-03-01T12:00:01.000Z", &[(0, A, 100)]);
        let err = merge(&[one(), late]).unwrap_err().to_string();
        assert_eq!(
            err,
            "runs do not overlap in time: a ran 2025-03-01 12:00:00.000 UTC–12:00:01.000 and b \
             only began at 2025-03-01 12:00:01.000 UTC; merge combines runs made at the same time"
        );

        let mut rated = two();
        rated.report.rate = Some(RateInfo {
            requested: 10.0,
            achieved: 10.0,
            missed: 0,
            late: 0,
        });
        assert!(matches!(
            merge(&[one(), rated]).unwrap_err(),
            MergeError::Modes { rate, closed } if rate == "b" && closed == "a"
        ));

        let mut embedded = two();
        embedded.report.target.embedded = true;
        assert!(matches!(
            merge(&[one(), embedded]).unwrap_err(),
            MergeError::Embedded { dir, .. } if dir == "b"
        ));

        let mut lying = two();
        lying.report.totals.requests = 7;
        assert_eq!(
            merge(&[one(), lying]).unwrap_err().to_string(),
            "b: the overall histogram holds 1 requests, totals.requests says 7"
        );
    }

    #[test]
    fn constant_rate_runs_sum_their_rates() {
        let mut a = run("a", T0, &[(0, A, 100)]);
        let mut b = run("b", T0, &[(0, A, 100)]);
        for (r, requested) in [(&mut a, 10.0), (&mut b, 15.0)] {
            r.report.rate = Some(RateInfo {
                requested,
                achieved: requested - 1.0,
                missed: 2,
                late: 3,
            });
        }
        let merged = merge(&[a, b]).unwrap();
        assert_eq!(
            merged.report.rate,
            Some(RateInfo {
                requested: 25.0,
                achieved: 23.0,
                missed: 4,
                late: 6,
            })
        );
    }

    #[test]
    fn the_steady_phase_is_exact_and_the_others_are_bounded_and_said_so() {
        let a = run("a", T0, &[(0, A, 100), (1, A, 200), (2, A, 300)]);
        let b = run(
            "b",
            "2025-03-01T12:00:00.250Z",
            &[(0, A, 1_000), (1, A, 50)],
        );
        let mut inputs = [a, b];
        for input in &mut inputs {
            let steady = input.report.phases[0].clone();
            let ramp = PhaseReport {
                name: "ramp_up".into(),
                steady: false,
                start_s: 0.0,
                duration_s: 1.0,
                users: Some(1),
                rate: None,
                requests: 2,
                errors: 1,
                rps: 2.0,
                latency_us: Latency {
                    mean: 500.0,
                    ..Latency::of(&histogram_of([400, 600]))
                },
            };
            input.report.phases = vec![ramp, steady];
        }
        inputs[1].report.phases[0].latency_us = Latency {
            mean: 2_000.0,
            ..Latency::of(&histogram_of([1_000, 3_000]))
        };
        let merged = merge(&inputs).unwrap();
        let phases = &merged.report.phases;
        assert_eq!(
            phases.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["ramp_up", "steady"]
        );
        let all = histogram_of([100, 200, 300, 1_000, 50]);
        assert_eq!(phases[1].latency_us, Latency::of(&all));
        assert_eq!((phases[1].start_s, phases[1].duration_s), (0.0, 3.0));
        let ramp = &phases[0];
        assert_eq!(
            (ramp.requests, ramp.errors, ramp.rps, ramp.users),
            (4, 2, 4.0, Some(2))
        );
        assert_eq!((ramp.start_s, ramp.duration_s), (0.0, 1.25));
        assert_eq!(
            ramp.latency_us.p50,
            Latency::of(&histogram_of([1_000, 3_000])).p50
        );
        assert_eq!(ramp.latency_us.max, histogram_of([3_000]).max());
        assert_eq!(ramp.latency_us.mean, 1_250.0);
        assert!(
            merged
                .notes
                .iter()
                .any(|n| n.starts_with("the percentiles of phase ramp_up are the highest")),
            "{:?}",
            merged.notes
        );
    }

    #[test]
    fn interval_timestamps_are_read_as_the_java_reader_reads_them() {
        let h = encode_histogram(&histogram_of([42]));
        // Offsets from StartTime, as `load` writes them.
        let log =
            format!("#[StartTime: 1740830400.250 (seconds since epoch)]\n1.000,1.000,42.000,{h}\n");
        let parsed = parse_interval_log(&log).unwrap();
        assert_eq!(parsed.intervals[0].start_ms, 1_740_830_401_250);
        assert_eq!(parsed.intervals[0].duration_ms, 1_000);
        assert_eq!(parsed.intervals[0].histogram.len(), 1);
        // Unix times.
        let log = format!(
            "#[StartTime: 1740830400.250 (seconds since epoch)]\nTag=x,1740830402.000,1.000,42.000,{h}\n"
        );
        let parsed = parse_interval_log(&log).unwrap();
        assert_eq!(parsed.intervals[0].start_ms, 1_740_830_402_000);
        assert_eq!(parsed.intervals[0].tag.as_deref(), Some("x"));
        assert!(parse_interval_log("1.0,1.0,42.0,not-a-histogram\n").is_err());
        assert!(parse_interval_log("garbage\n").is_err());
    }
}
