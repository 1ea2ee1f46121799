//! The run report built from what `load` measured: the one place that turns a
//! [`LoadOutcome`] (load's own records) into the run.json contract, so that `report`
//! reads only the contract.

use std::collections::BTreeMap;

use crate::latency::{Latency, encode_histogram, new_histogram};
use crate::load::{EndpointStats, LoadOutcome};
use crate::measure::pgss::PostgresReport;
use crate::report::run::{
    DiscoveryReport, EndpointReport, LoginReport, PhaseReport, RateInfo, RunReport, SCHEMA_VERSION,
    ScenarioInfo, SeriesPoint, TargetInfo, Totals, TransportErrors, add_map,
};
use crate::units::round3;

/// Everything a report needs besides what `load` measured.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub vus: usize,
    pub ramp_up_s: f64,
    pub scenario: ScenarioInfo,
    pub target: TargetInfo,
}

impl RunReport {
    /// Builds the report of a run; `targets` is filled by the caller once checked.
    pub fn build(outcome: &LoadOutcome, context: RunContext) -> RunReport {
        let secs = outcome.duration.as_secs_f64().max(1e-9);
        let mut all = new_histogram();
        let mut failed = new_histogram();
        let endpoints: Vec<EndpointReport> = outcome
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, (name, stats))| {
                all.add(&stats.histogram).expect("histograms share bounds");
                failed
                    .add(&stats.failed_histogram)
                    .expect("histograms share bounds");
                let mut report = endpoint_report(name, stats, secs);
                report.latency_uncorrected_us =
                    outcome.uncorrected.as_ref().map(|raw| Latency::of(&raw[i]));
                report
            })
            .collect();
        RunReport {
            schema_version: SCHEMA_VERSION,
            tool: format!("koprogo-perf {}", env!("CARGO_PKG_VERSION")),
            started_at: outcome
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_s: round3(outcome.duration.as_secs_f64()),
            ramp_up_s: context.ramp_up_s,
            vus: context.vus,
            scenario: context.scenario,
            target: context.target,
            interrupted: outcome.interrupted,
            host_down: outcome.host_down,
            warmup_requests: outcome.warmup_requests,
            relogins: outcome.relogins,
            skipped_requests: outcome.skipped_requests,
            unsent: {
                let mut unsent = BTreeMap::new();
                for e in &endpoints {
                    add_map(&mut unsent, &e.unsent);
                }
                unsent
            },
            logins: outcome.logins.as_ref().map(|l| LoginReport {
                attempts: l.attempts,
                successes: l.successes,
                failures: l.failures.clone(),
                refreshes: l.refreshes,
                refresh_failures: l.refresh_failures,
                users_logged_in: l.users.len() as u64,
                latency_us: Latency::of(&l.histogram),
            }),
            discovery: Some(DiscoveryReport {
                requests: outcome.discovery.requests,
                failures: outcome.discovery.failures,
                retries: outcome.discovery.retries,
            }),
            host_down_at_s: outcome.host_down_at.map(|d| round3(d.as_secs_f64())),
            database_unavailable: None,
            verdict: None,
            totals: Totals {
                requests: all.len() + failed.len(),
                errors: failed.len(),
                error_rate: 0.0,
                rps: round3(all.len() as f64 / secs),
                status_codes: BTreeMap::new(),
                transport_errors: TransportErrors::default(),
                checks_failed: 0,
                latency_us: Latency::of(&all),
                failed_latency_us: (!failed.is_empty()).then(|| Latency::of(&failed)),
                latency_uncorrected_us: outcome.uncorrected.as_ref().map(|raw| {
                    let mut h = new_histogram();
                    for e in raw {
                        h.add(e).expect("histograms share bounds");
                    }
                    Latency::of(&h)
                }),
            },
            endpoints,
            histogram: encode_histogram(&all),
            targets: Vec::new(),
            network_bytes: outcome.network_bytes,
            postgres: PostgresReport::not_measured("not collected"),
            resources: None,
            carbon: None,
            flamegraph: None,
            flamegraph_skipped_reason: None,
            flamegraph_sampler: None,
            series: outcome.intervals.iter().map(series_point).collect(),
            phases: outcome.phases.iter().map(phase_report).collect(),
            rate: outcome.rate.as_ref().map(|r| RateInfo {
                requested: r.requested,
                achieved: round3((all.len() + failed.len()) as f64 / secs),
                missed: r.missed,
                late: r.late,
            }),
            merged_from: Vec::new(),
            plan: None,
            hlog: crate::report::hlog::render(
                outcome.started_at.into(),
                &outcome.names,
                &outcome.intervals,
            )
            .map_err(|e| eprintln!("no latency.hlog: {e:#}"))
            .ok(),
        }
        .with_totals_counted()
    }
}

fn endpoint_report(name: &str, stats: &EndpointStats, secs: f64) -> EndpointReport {
    let failed = &stats.failed_histogram;
    EndpointReport {
        name: name.to_string(),
        requests: stats.requests(),
        errors: stats.errors(),
        rps: round3(stats.histogram.len() as f64 / secs),
        status_codes: stats
            .status_codes
            .iter()
            .map(|(code, n)| (code.to_string(), *n))
            .collect(),
        transport_errors: TransportErrors {
            timeout: stats.timeouts,
            connect: stats.connect_errors,
            reset: stats.resets,
            other: stats.other_errors,
        },
        checks_failed: stats.checks_failed,
        unsent: stats.unsent.clone(),
        latency_us: Latency::of(&stats.histogram),
        latency_uncorrected_us: None,
        failed_latency_us: (!failed.is_empty()).then(|| Latency::of(failed)),
        histogram: encode_histogram(&stats.histogram),
        failed_histogram: (!failed.is_empty()).then(|| encode_histogram(failed)),
    }
}

fn series_point(i: &crate::latency::IntervalRecord) -> SeriesPoint {
    SeriesPoint {
        t: i.start.as_secs_f64().round() as u64,
        phase: i.phase.clone(),
        requests: i.requests,
        errors: i.errors,
        rps: round3(
            (i.requests - i.errors.min(i.requests)) as f64 / i.length.as_secs_f64().max(1e-3),
        ),
        p50_us: i.p50_us,
        p99_us: i.p99_us,
        users: i.users,
    }
}

fn phase_report(p: &crate::load::PhaseOutcome) -> PhaseReport {
    PhaseReport {
        name: p.name.clone(),
        steady: p.steady,
        start_s: round3(p.start.as_secs_f64()),
        duration_s: round3(p.length.as_secs_f64()),
        users: p.users,
        rate: p.rate,
        requests: p.histogram.len() + p.errors,
        errors: p.errors,
        rps: round3(p.histogram.len() as f64 / p.length.as_secs_f64().max(1e-3)),
        latency_us: Latency::of(&p.histogram),
    }
}
