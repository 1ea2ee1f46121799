//! The run report built from what `load` measured: the one place that turns a
//! [`LoadOutcome`] (load's own records) into the run.json contract, so that `report`
//! reads only the contract.

use std::collections::BTreeMap;

use crate::latency::{Latency, new_histogram};
use crate::load::{EndpointStats, LoadOutcome};
use crate::measure::pgss::PostgresReport;
use crate::report::run::{
    DiscoveryReport, LoginReport, PhaseReport, RateInfo, RunReport, SCHEMA_VERSION, ScenarioInfo,
    SeriesPoint, TargetInfo, TransportErrors, add_map,
};
use crate::report::tally::{EndpointCounts, EndpointTally, Rates, Tally};
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
        // Endpoints as the scenario lists them (not matched by name, as `+=` would).
        let mut tally = Tally::default();
        for (name, stats) in &outcome.endpoints {
            tally.endpoints.push(endpoint_tally(name, stats));
            tally.ok += &stats.histogram;
            tally.failed += &stats.failed_histogram;
            tally.requests += stats.requests();
            tally.errors += stats.errors();
        }
        let mut figures = tally.figures(Rates::Over(secs), true);
        if let Some(raw) = &outcome.uncorrected {
            for (e, h) in figures.endpoints.iter_mut().zip(raw) {
                e.latency_uncorrected_us = Some(Latency::of(h));
            }
            let all = crate::latency::sum(raw).unwrap_or_else(new_histogram);
            figures.totals.latency_uncorrected_us = Some(Latency::of(&all));
        }
        let mut unsent = BTreeMap::new();
        for e in &figures.endpoints {
            add_map(&mut unsent, &e.unsent);
        }
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
            unsent,
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
            totals: figures.totals,
            endpoints: figures.endpoints,
            histogram: figures.histogram,
            targets: Vec::new(),
            network_bytes: outcome.network_bytes,
            postgres: PostgresReport::not_measured("not collected"),
            resources: None,
            carbon: None,
            flamegraph: None,
            flamegraph_skipped_reason: None,
            flamegraph_sampler: None,
            heap: None,
            heap_skipped_reason: None,
            series: outcome.intervals.iter().map(series_point).collect(),
            phases: outcome.phases.iter().map(phase_report).collect(),
            rate: outcome.rate.as_ref().map(|r| RateInfo {
                requested: r.requested,
                achieved: round3(tally.held() as f64 / secs),
                missed: r.missed,
                late: r.late,
            }),
            merged_from: Vec::new(),
            plan: None,
        }
        .with_totals_counted()
    }
}

/// The interval log of a measured run (`latency.hlog`); `None`, said on standard error,
/// when an interval's histogram does not decode.
pub fn interval_log(outcome: &LoadOutcome) -> Option<crate::report::hlog::Log> {
    crate::report::hlog::Log::of_intervals(
        outcome.started_at.into(),
        &outcome.names,
        &outcome.intervals,
    )
    .map_err(|e| eprintln!("no latency.hlog: {e:#}"))
    .ok()
}

fn endpoint_tally(name: &str, stats: &EndpointStats) -> EndpointTally {
    let counts = EndpointCounts {
        name: name.to_string(),
        requests: stats.requests(),
        errors: stats.errors(),
        rps: 0.0,
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
    };
    EndpointTally::new(counts, &stats.histogram, &stats.failed_histogram)
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
