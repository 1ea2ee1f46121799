//! `run.json`: the contract between `load` and everything that reads a run later
//! (`report`, `gate`, `merge`). Its JSON schema is `src/report/run.schema.json`; a test
//! validates real output against it. Bump [`SCHEMA_VERSION`] on any incompatible change.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::latency::{Latency, decode_histogram, encode_histogram};
use crate::measure::carbon::Carbon;
pub use crate::measure::heap::HeapReport;
use crate::measure::pgss::PostgresReport;
use crate::measure::resources::Resources;
use crate::report::targets::TargetResult;

/// Version of the run.json layout.
pub const SCHEMA_VERSION: u32 = 1;

/// One load run, as written to `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Layout version of this file.
    pub schema_version: u32,
    /// The tool that wrote it, `koprogo-perf X.Y.Z`.
    pub tool: String,
    /// When the load started (UTC, RFC 3339).
    pub started_at: String,
    /// Seconds of steady state the statistics cover (ramp-up excluded).
    pub duration_s: f64,
    /// Seconds of ramp-up before the steady state.
    pub ramp_up_s: f64,
    /// Virtual users (goose users) at steady state.
    pub vus: usize,
    /// The scenario's name and where it was loaded from.
    pub scenario: ScenarioInfo,
    /// What was loaded.
    pub target: TargetInfo,
    /// True when Ctrl-C ended the run early; the numbers cover what was measured.
    pub interrupted: bool,
    /// True when the run stopped early because the host refused every connection for a
    /// few seconds (the server died); the numbers cover what was measured.
    pub host_down: bool,
    /// Requests sent during ramp-up, not in the statistics.
    pub warmup_requests: u64,
    /// Logins repeated after a 401 (expired tokens).
    pub relogins: u64,
    /// Requests of the steady state not sent (their user was not logged in, or had not
    /// learned an id the path or body needs); never in a histogram or a rate.
    pub skipped_requests: u64,
    /// `skipped_requests` by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsent: BTreeMap<String, u64>,
    /// The users' logins over the whole run, when the scenario logs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logins: Option<LoginReport>,
    /// The users' discovery of their organization's ids (list requests, not in the
    /// statistics), over the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryReport>,
    /// Seconds since `started_at` when the host last answered, when it went down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_down_at_s: Option<f64>,
    /// When the database of a stack the tool started was unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_unavailable: Option<Outage>,
    /// Whether the run failed, and why: what `report` shows first and `gate` obeys.
    /// Absent in runs written before it existed (then derived from the counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<RunVerdict>,
    /// All endpoints together.
    pub totals: Totals,
    /// Per endpoint (method + path template), in scenario order.
    pub endpoints: Vec<EndpointReport>,
    /// The successful responses' latencies, every endpoint together (in run.json:
    /// HdrHistogram V2-compressed, base64; mergeable).
    #[serde(with = "crate::latency::v2_base64")]
    pub histogram: Histogram<u64>,
    /// The targets of `profiles/targets.toml` checked against this run.
    pub targets: Vec<TargetResult>,
    /// Bytes on the wire during the steady state (requests and responses; headers
    /// estimated from their fields).
    pub network_bytes: u64,
    /// pg_stat_statements over the run.
    pub postgres: PostgresReport,
    /// CPU and memory of the server, Postgres and the generator.
    pub resources: Option<Resources>,
    /// CO2 per request (profiles/carbon.toml), with every input used.
    pub carbon: Option<Carbon>,
    /// File name of the server's flamegraph in the run directory, when made.
    pub flamegraph: Option<String>,
    /// Why there is no flamegraph.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flamegraph_skipped_reason: Option<String>,
    /// What sampled the flamegraph: `perf`, or `builtin` (the sampler inside the
    /// bundled server, used when perf cannot run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flamegraph_sampler: Option<String>,
    /// The server's heap over the run (`--heap-profile`): its peak during the steady
    /// state, over time, and the allocation sites at the peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap: Option<HeapReport>,
    /// Why `--heap-profile` gave no heap profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_skipped_reason: Option<String>,
    /// One point per second of the whole run (ramp-up and ramp-down included, marked
    /// by `phase`), for plots over time.
    #[serde(default)]
    pub series: Vec<SeriesPoint>,
    /// The run's phases (ramp-up, steady state, ramp-down, or a plan's steps), each
    /// with its own statistics; the totals cover only the steady ones.
    #[serde(default)]
    pub phases: Vec<PhaseReport>,
    /// Constant-rate mode (`--rate`): the requested and achieved rates. When present,
    /// `latency_us` figures count from each request's intended send time (corrected
    /// for coordinated omission) and `latency_uncorrected_us` from its actual send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateInfo>,
    /// The test plan (`--plan`), as `NAME: LEVEL,DURATION;…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// For a report made by `merge`: the run directories it combines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

/// Logins of the virtual users.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoginReport {
    /// `POST /api/v1/auth/login` requests sent by the users (the preflight's excluded).
    pub attempts: u64,
    /// Logins that gave a token.
    pub successes: u64,
    /// Failed logins by HTTP status (`"429"`) or transport kind (`"refused"`).
    pub failures: BTreeMap<String, u64>,
    /// Access tokens renewed with the refresh token (`POST /api/v1/auth/refresh`).
    #[serde(default)]
    pub refreshes: u64,
    /// Refreshes refused (the user then logged in again).
    #[serde(default)]
    pub refresh_failures: u64,
    /// Users that logged in at least once, of `vus`.
    pub users_logged_in: u64,
    /// Latency of the login attempts, microseconds.
    pub latency_us: Latency,
}

/// The users' discovery requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DiscoveryReport {
    /// List requests sent to learn ids.
    pub requests: u64,
    /// Those that gave no list.
    pub failures: u64,
    /// Discoveries repeated after a request found no id (at most two per user).
    pub retries: u64,
}

impl std::ops::AddAssign<&DiscoveryReport> for DiscoveryReport {
    /// Another run's discovery, counted in.
    fn add_assign(&mut self, other: &DiscoveryReport) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.retries += other.retries;
    }
}

/// A time the database was unavailable, in seconds since `started_at`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Outage {
    /// The first failed probe.
    pub from_s: f64,
    /// The first probe that succeeded again; absent when it never came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_s: Option<f64>,
    /// What the probe saw (`connection refused`).
    pub detail: String,
}

/// A run's own verdict.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunVerdict {
    /// True when the run failed: its figures do not describe a working target.
    pub failed: bool,
    /// Why it failed, most important first; each one sentence.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// What limits the figures without failing the run (a generator at its limit, a
    /// rate limiter that answered 429).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The error rate above which the run fails (`--max-error-rate`), as a fraction.
    pub max_error_rate: f64,
}

/// One second of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeriesPoint {
    /// Seconds since `started_at` at the start of this interval.
    pub t: u64,
    /// `ramp_up`, `steady` or `ramp_down` (or a plan step's name).
    pub phase: String,
    /// Requests completed in this second, failed ones included.
    pub requests: u64,
    /// Failed ones among them.
    pub errors: u64,
    /// Successful responses per second.
    pub rps: f64,
    /// Median latency of this second's successful responses, microseconds (0 when none).
    pub p50_us: u64,
    /// 99th percentile latency of this second, microseconds.
    pub p99_us: u64,
    /// Distinct users that sent a request in this second.
    #[serde(default)]
    pub users: usize,
}

/// One phase of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseReport {
    /// `ramp_up`, `steady`, `ramp_down`, or a plan step's name.
    pub name: String,
    /// True when its requests count in the totals.
    pub steady: bool,
    /// Seconds since `started_at` when it began.
    pub start_s: f64,
    /// Its length in seconds.
    pub duration_s: f64,
    /// Users at the end of the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<usize>,
    /// Requested rate during the phase (rate mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Requests (failed ones included), errors, rate and latency (of the successful
    /// responses) within the phase.
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub latency_us: Latency,
}

/// Requested versus achieved arrival rate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RateInfo {
    /// Requests per second asked for (`--rate`; the steady step's rate for a plan).
    pub requested: f64,
    /// Requests per second actually sent during the steady state.
    pub achieved: f64,
    /// Sends that could not happen at their intended time because every user was busy
    /// (k6's dropped iterations); they are not in the histograms.
    pub missed: u64,
    /// Sends of the steady state that went out more than 10 ms after their intended
    /// time because every user was busy; their wait is in their (corrected) latency.
    pub late: u64,
}

/// Which scenario ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Its name.
    pub name: String,
    /// Its file, or `builtin:NAME`.
    pub source: String,
}

/// The system under load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Base URL the requests went to.
    pub host: String,
    /// True when the tool started the server and its embedded PostgreSQL itself.
    pub embedded: bool,
    /// The reference server's pool size and the seed scale, when it is ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerInfo>,
    /// The command the tool started the server with (`--server-cmd`), passwords of URLs
    /// hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// The bundled reference server's settings for this run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Seed scale of its database.
    pub scale: u32,
    /// Maximum pool connections.
    pub pool_max_connections: u32,
    /// PostgreSQL version of the embedded cluster, when embedded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres_version: Option<String>,
    /// The server's switches (preset and flags), e.g. `pool 10, …, gzip off, …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switches: Option<String>,
}

/// Counts and latency of a set of requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Totals {
    /// Requests sent and ended in the steady state, failed ones included.
    pub requests: u64,
    /// Failed requests: unexpected statuses, failed checks, no response.
    pub errors: u64,
    /// (errors + requests not sent) ÷ (requests + requests not sent).
    #[serde(default)]
    pub error_rate: f64,
    /// Successful responses per second over the steady state.
    pub rps: f64,
    /// HTTP status code → count, every endpoint together.
    #[serde(default)]
    pub status_codes: BTreeMap<String, u64>,
    /// Requests that got no response, by cause.
    #[serde(default)]
    pub transport_errors: TransportErrors,
    /// Responses with an expected status whose body failed a check.
    #[serde(default)]
    pub checks_failed: u64,
    /// Latency percentiles of the successful responses, microseconds.
    pub latency_us: Latency,
    /// Latency of the failed requests, when there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_latency_us: Option<Latency>,
    /// Rate mode only: latency from each request's actual send time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_uncorrected_us: Option<Latency>,
}

/// One endpoint's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointReport {
    /// Method and path template, e.g. `GET /api/v1/buildings/{building_id}`.
    pub name: String,
    /// Requests sent and ended, failed ones included.
    pub requests: u64,
    /// Failed requests: unexpected statuses, failed checks, no response.
    pub errors: u64,
    /// Successful responses per second over the steady state.
    pub rps: f64,
    /// HTTP status code → count (expected or not).
    pub status_codes: BTreeMap<String, u64>,
    /// Requests that got no response, by cause.
    pub transport_errors: TransportErrors,
    /// Responses with an expected status whose body failed a check.
    #[serde(default)]
    pub checks_failed: u64,
    /// Requests not sent, by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsent: BTreeMap<String, u64>,
    /// Latency percentiles of the successful responses, microseconds.
    pub latency_us: Latency,
    /// Rate mode only: latency from each request's actual send time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_uncorrected_us: Option<Latency>,
    /// Latency of the failed requests, when there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_latency_us: Option<Latency>,
    /// The successful responses' latencies (in run.json: HdrHistogram V2-compressed,
    /// base64).
    #[serde(with = "crate::latency::v2_base64")]
    pub histogram: Histogram<u64>,
    /// The failed requests' latencies, when there were any.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::latency::v2_base64::option"
    )]
    pub failed_histogram: Option<Histogram<u64>>,
}

impl EndpointReport {
    /// Requests not sent.
    pub fn unsent_total(&self) -> u64 {
        self.unsent.values().sum()
    }

    /// The successful responses (what `histogram` holds).
    pub fn successes(&self) -> u64 {
        self.requests - self.errors.min(self.requests)
    }

    /// The failures by kind, most frequent first: `429 ×35015`, `refused ×3`,
    /// `check ×2`, `unsent ×10` (statuses that succeeded left out).
    pub fn failure_kinds(&self) -> Vec<(String, u64)> {
        failure_kinds(
            &self.status_codes,
            &self.transport_errors,
            self.checks_failed,
            self.unsent_total(),
        )
    }
}

/// The failures by kind, most frequent first (see [`EndpointReport::failure_kinds`]).
/// A status counts as a failure when it is not 2xx or 3xx: a request that declares
/// `expect` may fail on a 2xx too, and then shows as `check`-free `errors` only.
pub fn failure_kinds(
    status_codes: &BTreeMap<String, u64>,
    transport: &TransportErrors,
    checks_failed: u64,
    unsent: u64,
) -> Vec<(String, u64)> {
    let mut kinds: Vec<(String, u64)> = status_codes
        .iter()
        .filter(|(code, _)| {
            code.parse::<u16>()
                .is_ok_and(|c| !crate::latency::is_success(c))
        })
        .map(|(code, n)| (code.clone(), *n))
        .collect();
    for (name, n) in [
        ("refused", transport.connect),
        ("reset", transport.reset),
        ("timeout", transport.timeout),
        ("other", transport.other),
        ("check", checks_failed),
        ("unsent", unsent),
    ] {
        if n > 0 {
            kinds.push((name.to_string(), n));
        }
    }
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    kinds
}

/// `429 ×35015, refused ×3`, or `none`.
pub fn describe_kinds(kinds: &[(String, u64)]) -> String {
    if kinds.is_empty() {
        return "none".into();
    }
    kinds
        .iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds `other`'s counts into `into`, key by key.
pub fn add_map(into: &mut BTreeMap<String, u64>, other: &BTreeMap<String, u64>) {
    for (k, n) in other {
        *into.entry(k.clone()).or_default() += n;
    }
}

/// Requests that got no HTTP response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TransportErrors {
    pub timeout: u64,
    /// Connections refused.
    pub connect: u64,
    /// Connections reset or closed before the whole response came.
    #[serde(default)]
    pub reset: u64,
    pub other: u64,
}

impl TransportErrors {
    /// Adds another set of counts.
    pub fn add(&mut self, other: &TransportErrors) {
        self.timeout += other.timeout;
        self.connect += other.connect;
        self.reset += other.reset;
        self.other += other.other;
    }
}

/// `--max-error-rate`'s default: 1 %.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;

/// (errors + unsent) ÷ (requests + unsent); 0 when nothing was tried.
pub fn error_rate(requests: u64, errors: u64, unsent: u64) -> f64 {
    let tried = requests + unsent;
    if tried == 0 {
        0.0
    } else {
        (errors + unsent) as f64 / tried as f64
    }
}

impl RunReport {
    /// Fills the totals' counts (statuses, transport errors, checks, error rate) from
    /// the endpoints.
    pub fn with_totals_counted(mut self) -> RunReport {
        self.count_totals();
        self
    }

    /// [`RunReport::with_totals_counted`] in place.
    pub fn count_totals(&mut self) {
        let mut codes = BTreeMap::new();
        let mut transport = TransportErrors::default();
        let mut checks = 0;
        for e in &self.endpoints {
            add_map(&mut codes, &e.status_codes);
            transport.add(&e.transport_errors);
            checks += e.checks_failed;
        }
        self.totals.status_codes = codes;
        self.totals.transport_errors = transport;
        self.totals.checks_failed = checks;
        self.totals.error_rate = error_rate(
            self.totals.requests,
            self.totals.errors,
            self.skipped_requests,
        );
    }

    /// The failures of all endpoints by kind, most frequent first.
    pub fn failure_kinds(&self) -> Vec<(String, u64)> {
        failure_kinds(
            &self.totals.status_codes,
            &self.totals.transport_errors,
            self.totals.checks_failed,
            self.skipped_requests,
        )
    }

    /// This run's verdict: the stored one, or for a run written before verdicts, the
    /// one its counts give with the default `--max-error-rate`.
    pub fn effective_verdict(&self) -> RunVerdict {
        self.verdict.clone().unwrap_or_else(|| {
            // An older run.json has no per-status totals: count them from its endpoints.
            crate::report::verdict::judge(
                &self.clone().with_totals_counted(),
                DEFAULT_MAX_ERROR_RATE,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_through_base64() {
        let mut h = crate::latency::new_histogram();
        for v in [120, 450, 450, 9_000, 2_000_000] {
            h.record(v).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert_eq!(Latency::of(&back), Latency::of(&h));
        assert!(decode_histogram("not base64!").is_err());
    }
}
