//! Our own measurements around each request: HdrHistograms (microseconds, 3
//! significant digits) per endpoint — one of the successful responses, which the
//! headline figures are made of, and one of the failed requests — with the status
//! codes, transport errors by kind, failed checks and the requests not sent by reason;
//! and the users' logins and discovery, counted apart. Goose runs the users; these
//! numbers, not goose's log-linear buckets, are what reports show.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub use crate::latency::IntervalRecord;
use crate::latency::{
    MAX_LATENCY_US, encode_bytes as encode, interval_histogram, is_success, new_histogram,
};

/// How a request ended, when it got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    Timeout,
    /// The connection was refused (on loopback: nothing listens).
    Connect,
    /// The connection was closed or reset before the whole response came.
    Reset,
    Other,
}

impl TransportError {
    /// Its name in reports: `timeout`, `refused`, `reset`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            TransportError::Timeout => "timeout",
            TransportError::Connect => "refused",
            TransportError::Reset => "reset",
            TransportError::Other => "other",
        }
    }
}

/// How one request ended, as the scenario judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status, or why there was none.
    pub outcome: Result<u16, TransportError>,
    /// True when the status is one the request expects and its checks held.
    pub ok: bool,
    /// True when the status was expected but a check of the body failed.
    pub check_failed: bool,
}

impl Answer {
    /// Judged by the default rule: 2xx and 3xx succeed.
    pub fn of(outcome: Result<u16, TransportError>) -> Answer {
        Answer {
            outcome,
            ok: matches!(outcome, Ok(code) if is_success(code)),
            check_failed: false,
        }
    }
}

/// One endpoint's measurements. The histogram holds the successful responses only;
/// failed ones (unexpected statuses, failed checks, no response) have their own.
#[derive(Debug, Clone)]
pub struct EndpointStats {
    pub histogram: Histogram<u64>,
    pub failed_histogram: Histogram<u64>,
    /// Every status received, expected or not.
    pub status_codes: BTreeMap<u16, u64>,
    pub timeouts: u64,
    pub connect_errors: u64,
    pub resets: u64,
    pub other_errors: u64,
    /// Responses with an expected status whose body failed a check.
    pub checks_failed: u64,
    /// Requests not sent, by reason (never in a histogram).
    pub unsent: BTreeMap<String, u64>,
}

impl EndpointStats {
    fn new() -> Self {
        Self {
            histogram: new_histogram(),
            failed_histogram: new_histogram(),
            status_codes: BTreeMap::new(),
            timeouts: 0,
            connect_errors: 0,
            resets: 0,
            other_errors: 0,
            checks_failed: 0,
            unsent: BTreeMap::new(),
        }
    }

    /// Requests sent and ended: successes and failures.
    pub fn requests(&self) -> u64 {
        self.histogram.len() + self.failed_histogram.len()
    }

    /// Requests that failed: an unexpected status, a failed check, or no response.
    pub fn errors(&self) -> u64 {
        self.failed_histogram.len()
    }
}

/// Logins over the whole run (ramp-up included: that is when users log in).
#[derive(Debug, Clone)]
pub struct LoginStats {
    pub attempts: u64,
    pub successes: u64,
    /// Failed logins by HTTP status (`429`) or transport kind (`refused`).
    pub failures: BTreeMap<String, u64>,
    /// Access tokens renewed with the refresh token instead of a login.
    pub refreshes: u64,
    pub refresh_failures: u64,
    /// Latency of every login attempt.
    pub histogram: Histogram<u64>,
    /// Users that logged in at least once.
    pub users: std::collections::HashSet<usize>,
}

/// Discovery of the users' ids (`GET` of the list endpoints), over the whole run.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscoveryStats {
    pub requests: u64,
    pub failures: u64,
    /// Rediscoveries after a request found no id (bounded per user).
    pub retries: u64,
}

/// Shared by all virtual users of one run. The run is a sequence of phases (ramp-up,
/// steady state, ramp-down, or a plan's steps); a request belongs to the phase in which
/// it was meant to start, and only requests of steady phases are in the endpoint
/// statistics — the others are counted apart as warm-up. Every request also lands in
/// the current one-second interval ([`Recorder::flush`]) for the time series.
#[derive(Debug)]
pub struct Recorder {
    /// The run's start: intervals and phases are offsets from it.
    t0: Instant,
    names: Vec<String>,
    /// Steady-state statistics per endpoint (latency from the intended send time).
    endpoints: Vec<Mutex<EndpointStats>>,
    /// Rate mode: latency from the actual send time, per endpoint (steady state).
    uncorrected: Option<Vec<Mutex<Histogram<u64>>>>,
    timeline: Mutex<Timeline>,
    interval: Mutex<Interval>,
    intervals: Mutex<Vec<IntervalRecord>>,
    warmup: Mutex<u64>,
    relogins: Mutex<u64>,
    skipped: Mutex<u64>,
    bytes: Mutex<u64>,
    liveness: Mutex<Liveness>,
    logins: Mutex<LoginStats>,
    discovery: Mutex<DiscoveryStats>,
}

/// Whether the host still answers: when the last HTTP response came, and how many
/// connections were refused since.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    pub last_response: Instant,
    pub refused_since: u64,
}

/// `RunReport`'s unsent reasons, when a request needs an id its user has not learned.
pub fn missing_id_reason(placeholder: &str) -> String {
    format!("no {placeholder} known to the user")
}

/// The phases so far, and when the run was cut short.
#[derive(Debug)]
struct Timeline {
    phases: Vec<PhaseAcc>,
    /// Nothing counts from then on (end of run, Ctrl-C, host down).
    closed_at: Option<Instant>,
}

#[derive(Debug)]
struct PhaseAcc {
    name: String,
    steady: bool,
    from: Instant,
    users: Option<usize>,
    rate: Option<f64>,
    histogram: Histogram<u64>,
    errors: u64,
}

/// One phase of a run, as measured.
#[derive(Debug, Clone)]
pub struct PhaseOutcome {
    pub name: String,
    pub steady: bool,
    /// Since the run's start.
    pub start: Duration,
    pub length: Duration,
    pub users: Option<usize>,
    pub rate: Option<f64>,
    pub histogram: Histogram<u64>,
    pub errors: u64,
}

/// The interval being filled.
#[derive(Debug)]
struct Interval {
    from: Instant,
    /// Successful responses only, like the endpoint statistics.
    all: Histogram<u64>,
    per_endpoint: Vec<Histogram<u64>>,
    errors: u64,
    /// Users that sent a request in the interval.
    users: std::collections::HashSet<usize>,
}

impl Recorder {
    /// One slot per endpoint name, in scenario order; the run starts now, in a
    /// `ramp_up` phase. `rate_mode` also keeps the uncorrected latencies.
    pub fn new(names: Vec<String>) -> Self {
        Self::with_mode(names, false)
    }

    /// [`Recorder::new`]; with `rate_mode`, latencies count from each request's
    /// intended send time and the uncorrected ones are kept too.
    pub fn with_mode(names: Vec<String>, rate_mode: bool) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            endpoints: names
                .iter()
                .map(|_| Mutex::new(EndpointStats::new()))
                .collect(),
            uncorrected: rate_mode
                .then(|| names.iter().map(|_| Mutex::new(new_histogram())).collect()),
            timeline: Mutex::new(Timeline {
                phases: vec![PhaseAcc {
                    name: "ramp_up".into(),
                    steady: false,
                    from: t0,
                    users: None,
                    rate: None,
                    histogram: interval_histogram(),
                    errors: 0,
                }],
                closed_at: None,
            }),
            interval: Mutex::new(Interval {
                from: t0,
                all: interval_histogram(),
                per_endpoint: names.iter().map(|_| interval_histogram()).collect(),
                errors: 0,
                users: Default::default(),
            }),
            intervals: Mutex::new(Vec::new()),
            names,
            warmup: Mutex::new(0),
            relogins: Mutex::new(0),
            skipped: Mutex::new(0),
            bytes: Mutex::new(0),
            liveness: Mutex::new(Liveness {
                last_response: t0,
                refused_since: 0,
            }),
            logins: Mutex::new(LoginStats {
                attempts: 0,
                successes: 0,
                failures: BTreeMap::new(),
                refreshes: 0,
                refresh_failures: 0,
                histogram: new_histogram(),
                users: Default::default(),
            }),
            discovery: Mutex::new(DiscoveryStats::default()),
        }
    }

    /// When the run started.
    pub fn t0(&self) -> Instant {
        self.t0
    }

    /// Counts a login attempt of user `number` that took `latency` and ended with
    /// `outcome`; `ok` when it gave a token.
    pub fn record_login(
        &self,
        number: usize,
        latency: Duration,
        outcome: Result<u16, TransportError>,
        ok: bool,
    ) {
        self.note(outcome);
        let mut l = lock(&self.logins);
        l.attempts += 1;
        l.histogram.saturating_record(micros(latency));
        if ok {
            l.successes += 1;
            l.users.insert(number);
        } else {
            let kind = match outcome {
                Ok(code) => code.to_string(),
                Err(e) => e.name().to_string(),
            };
            *l.failures.entry(kind).or_default() += 1;
        }
    }

    /// Counts a token refresh (`ok` when it gave a new access token).
    pub fn record_refresh(&self, number: usize, outcome: Result<u16, TransportError>, ok: bool) {
        self.note(outcome);
        let mut l = lock(&self.logins);
        if ok {
            l.refreshes += 1;
            l.users.insert(number);
        } else {
            l.refresh_failures += 1;
        }
    }

    /// The logins so far.
    pub fn logins(&self) -> LoginStats {
        lock(&self.logins).clone()
    }

    /// Counts a discovery request (`failed` when it gave no list), or a rediscovery.
    pub fn record_discovery(&self, outcome: Result<u16, TransportError>, failed: bool) {
        self.note(outcome);
        let mut d = lock(&self.discovery);
        d.requests += 1;
        d.failures += u64::from(failed);
    }

    /// Counts a rediscovery after a request found no id to fill in.
    pub fn record_rediscovery(&self) {
        lock(&self.discovery).retries += 1;
    }

    /// The discovery requests so far.
    pub fn discovery(&self) -> DiscoveryStats {
        *lock(&self.discovery)
    }

    /// Adds the bytes a request of the steady state carried (request and response,
    /// headers included), for the network share of the carbon estimate.
    pub fn add_bytes(&self, started: Instant, bytes: u64) {
        if self.in_window(started) {
            *lock(&self.bytes) += bytes;
        }
    }

    /// Bytes carried by the requests of the steady state.
    pub fn bytes(&self) -> u64 {
        *lock(&self.bytes)
    }

    /// Requests that could not be sent.
    pub fn skipped(&self) -> u64 {
        *lock(&self.skipped)
    }

    /// Notes the outcome of a request that is not part of the statistics (login,
    /// discovery) for the host-liveness check.
    pub fn note(&self, outcome: Result<u16, TransportError>) {
        let mut live = lock(&self.liveness);
        match outcome {
            Ok(_) => {
                live.last_response = Instant::now();
                live.refused_since = 0;
            }
            Err(TransportError::Connect) => live.refused_since += 1,
            Err(_) => {}
        }
    }

    /// When the host last answered and how many connections failed since.
    pub fn liveness(&self) -> Liveness {
        *lock(&self.liveness)
    }

    /// Starts a phase at `at` (phases follow each other; the previous one ends there).
    /// Ignored once the run is closed.
    pub fn begin_phase(
        &self,
        name: &str,
        steady: bool,
        at: Instant,
        users: Option<usize>,
        rate: Option<f64>,
    ) {
        let mut timeline = lock(&self.timeline);
        if timeline.closed_at.is_some_and(|c| c <= at) {
            return;
        }
        timeline.phases.push(PhaseAcc {
            name: name.to_string(),
            steady,
            from: at,
            users,
            rate,
            histogram: interval_histogram(),
            errors: 0,
        });
    }

    /// Opens the steady state at `from` for `length`, followed by `ramp_down` (what
    /// users send while the run stops).
    pub fn open_window(&self, from: Instant, length: Duration) {
        self.begin_phase("steady", true, from, None, None);
        self.begin_phase("ramp_down", false, from + length, None, None);
    }

    /// Ends the run at `at` (or earlier, when already closed): later requests do not
    /// count.
    pub fn close_window(&self, at: Instant) {
        let mut timeline = lock(&self.timeline);
        if timeline.closed_at.is_none_or(|c| at < c) {
            timeline.closed_at = Some(at);
        }
    }

    /// The start of the first steady phase and the steady phases' total length, once
    /// one has begun.
    pub fn window(&self) -> Option<(Instant, Duration)> {
        let phases = self.phases();
        let first = phases.iter().find(|p| p.steady)?;
        let length = phases.iter().filter(|p| p.steady).map(|p| p.length).sum();
        Some((self.t0 + first.start, length))
    }

    /// The phases with what they measured; a phase still open ends now (or when the
    /// run was closed).
    pub fn phases(&self) -> Vec<PhaseOutcome> {
        let timeline = lock(&self.timeline);
        let closed = timeline.closed_at;
        let phases = &timeline.phases;
        phases
            .iter()
            .enumerate()
            .filter(|(_, p)| closed.is_none_or(|c| p.from < c))
            .map(|(i, p)| {
                let next = phases.get(i + 1).map(|n| n.from);
                let until = match (next, closed) {
                    (Some(n), Some(c)) => n.min(c),
                    (Some(n), None) => n,
                    (None, Some(c)) => c,
                    (None, None) => Instant::now(),
                };
                PhaseOutcome {
                    name: p.name.clone(),
                    steady: p.steady,
                    start: p.from.saturating_duration_since(self.t0),
                    length: until.saturating_duration_since(p.from),
                    users: p.users,
                    rate: p.rate,
                    histogram: p.histogram.clone(),
                    errors: p.errors,
                }
            })
            // A plan's first step replaces the initial ramp-up at once.
            .filter(|p| !(p.length.is_zero() && p.histogram.is_empty()))
            .collect()
    }

    /// Index of the phase `at` falls in; `None` after the run closed.
    fn phase_index(timeline: &Timeline, at: Instant) -> Option<usize> {
        if timeline.closed_at.is_some_and(|c| at >= c) {
            return None;
        }
        timeline.phases.iter().rposition(|p| p.from <= at)
    }

    fn in_window(&self, started: Instant) -> bool {
        let timeline = lock(&self.timeline);
        Self::phase_index(&timeline, started).is_some_and(|i| timeline.phases[i].steady)
    }

    /// Records one request of endpoint `index`, started at `started`, lasting `latency`,
    /// that ended with `outcome` (closed-loop: sent when intended).
    pub fn record(
        &self,
        index: usize,
        started: Instant,
        latency: Duration,
        outcome: Result<u16, TransportError>,
    ) {
        self.record_at(index, started, started, latency, outcome);
    }

    /// Counts a request of endpoint `index` that was not sent, and why (no id to fill
    /// its path with, no login, a path that makes no URL). It is no latency and no
    /// throughput: counted apart, when it was meant for the steady state.
    pub fn record_unsent(&self, index: usize, intended: Option<Instant>, reason: &str) {
        if !self.in_window(intended.unwrap_or_else(Instant::now)) {
            return;
        }
        *lock(&self.skipped) += 1;
        *lock(&self.endpoints[index])
            .unsent
            .entry(reason.to_string())
            .or_default() += 1;
    }

    /// Records one request meant to start at `intended`, sent at `sent`, answered
    /// `latency` after `sent`, judged by the default rule (2xx and 3xx succeed).
    pub fn record_at(
        &self,
        index: usize,
        intended: Instant,
        sent: Instant,
        latency: Duration,
        outcome: Result<u16, TransportError>,
    ) {
        self.record_answer(index, intended, sent, latency, Answer::of(outcome));
    }

    /// Records one request meant to start at `intended`, sent at `sent`, answered
    /// `latency` after `sent`. Its latency counts from `intended` (coordinated-omission
    /// correction); in rate mode the uncorrected one is kept too. A successful answer
    /// goes to the headline histograms, a failed one to the endpoint's failed histogram.
    pub fn record_answer(
        &self,
        index: usize,
        intended: Instant,
        sent: Instant,
        latency: Duration,
        answer: Answer,
    ) {
        let outcome = answer.outcome;
        self.note(outcome);
        let done = sent + latency;
        let corrected = micros(done.saturating_duration_since(intended));
        let is_error = !answer.ok;
        {
            let mut interval = lock(&self.interval);
            if is_error {
                interval.errors += 1;
            } else {
                let _ = interval.all.record(corrected);
                let _ = interval.per_endpoint[index].record(corrected);
            }
        }
        let steady = {
            let mut timeline = lock(&self.timeline);
            match Self::phase_index(&timeline, intended) {
                Some(i) => {
                    let phase = &mut timeline.phases[i];
                    if is_error {
                        phase.errors += 1;
                    } else {
                        phase.histogram.record(corrected).ok();
                    }
                    phase.steady
                }
                None => false,
            }
        };
        if !steady {
            *lock(&self.warmup) += 1;
            return;
        }
        if let Some(raw) = &self.uncorrected
            && !is_error
        {
            lock(&raw[index]).saturating_record(micros(latency));
        }
        let mut stats = lock(&self.endpoints[index]);
        if is_error {
            stats.failed_histogram.saturating_record(corrected);
        } else {
            stats.histogram.saturating_record(corrected);
        }
        stats.checks_failed += u64::from(answer.check_failed);
        match outcome {
            Ok(code) => *stats.status_codes.entry(code).or_default() += 1,
            Err(TransportError::Timeout) => stats.timeouts += 1,
            Err(TransportError::Connect) => stats.connect_errors += 1,
            Err(TransportError::Reset) => stats.resets += 1,
            Err(TransportError::Other) => stats.other_errors += 1,
        }
    }

    /// Closes the current interval at `now` and starts the next; returns the closed
    /// one (also kept for the time series and `latency.hlog`).
    pub fn flush(&self, now: Instant) -> IntervalRecord {
        let mut interval = lock(&self.interval);
        let from = std::mem::replace(&mut interval.from, now);
        let requests = interval.all.len() + interval.errors;
        let (p50_us, p99_us) = if interval.all.is_empty() {
            (0, 0)
        } else {
            (
                interval.all.value_at_quantile(0.5),
                interval.all.value_at_quantile(0.99),
            )
        };
        let all = encode(&interval.all);
        let per_endpoint: Vec<(usize, Vec<u8>)> = interval
            .per_endpoint
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(i, h)| (i, encode(h)))
            .collect();
        interval.all.reset();
        interval.per_endpoint.iter_mut().for_each(Histogram::reset);
        let errors = std::mem::take(&mut interval.errors);
        let users = interval.users.len();
        interval.users.clear();
        drop(interval);
        let phase = {
            let timeline = lock(&self.timeline);
            Self::phase_index(&timeline, from)
                .map_or("ramp_down".to_string(), |i| timeline.phases[i].name.clone())
        };
        let record = IntervalRecord {
            start: from.saturating_duration_since(self.t0),
            length: now.saturating_duration_since(from),
            phase,
            requests,
            errors,
            p50_us,
            p99_us,
            users,
            all,
            per_endpoint,
        };
        lock(&self.intervals).push(record.clone());
        record
    }

    /// Notes that user `number` is sending in the current interval.
    pub fn note_user(&self, number: usize) {
        lock(&self.interval).users.insert(number);
    }

    /// The intervals closed so far.
    pub fn intervals(&self) -> Vec<IntervalRecord> {
        lock(&self.intervals).clone()
    }

    /// Endpoint names, in scenario order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Counts a re-login after a 401 (an expired token).
    pub fn record_relogin(&self) {
        *lock(&self.relogins) += 1;
    }

    /// Copies out what was measured: `(name, stats)` per endpoint, in scenario order.
    pub fn snapshot(&self) -> Vec<(String, EndpointStats)> {
        self.names
            .iter()
            .cloned()
            .zip(self.endpoints.iter().map(|m| lock(m).clone()))
            .collect()
    }

    /// Rate mode: the uncorrected latencies per endpoint, in scenario order.
    pub fn uncorrected(&self) -> Option<Vec<Histogram<u64>>> {
        self.uncorrected
            .as_ref()
            .map(|v| v.iter().map(|m| lock(m).clone()).collect())
    }

    /// Requests left out of the statistics because they started outside the steady
    /// state (ramp-up, ramp-down).
    pub fn warmup_requests(&self) -> u64 {
        *lock(&self.warmup)
    }

    /// Re-logins after a 401.
    pub fn relogins(&self) -> u64 {
        *lock(&self.relogins)
    }
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_LATENCY_US)
}

/// A poisoned lock only means another user's task panicked mid-update of a counter; the
/// numbers are still usable, so take them.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_up_requests_are_kept_out_and_errors_counted() {
        let r = Recorder::new(vec!["a".into(), "b".into()]);
        let t0 = Instant::now();
        // Before the window opens, and a request that started before it, are warm-up.
        r.record(0, t0, Duration::from_millis(5), Ok(200));
        r.open_window(t0 + Duration::from_secs(1), Duration::from_secs(10));
        assert_eq!(r.snapshot()[0].1.requests(), 0);
        r.record(0, t0, Duration::from_millis(5), Ok(200));
        // After it closes too.
        r.record(
            0,
            t0 + Duration::from_secs(11),
            Duration::from_millis(5),
            Ok(200),
        );
        r.record(
            0,
            t0 + Duration::from_secs(2),
            Duration::from_millis(5),
            Ok(200),
        );
        r.record(
            1,
            t0 + Duration::from_secs(2),
            Duration::from_millis(7),
            Ok(404),
        );
        r.record(
            1,
            t0 + Duration::from_secs(2),
            Duration::from_secs(30),
            Err(TransportError::Timeout),
        );
        let snap = r.snapshot();
        assert_eq!(r.warmup_requests(), 3);
        assert_eq!(r.window().unwrap().1, Duration::from_secs(10));
        assert_eq!(snap[0].1.requests(), 1);
        assert_eq!(snap[0].1.errors(), 0);
        assert_eq!(snap[1].1.requests(), 2);
        assert_eq!(snap[1].1.errors(), 2);
        // Failures keep their own latency, out of the headline histogram.
        assert!(snap[1].1.histogram.is_empty());
        assert!(snap[1].1.failed_histogram.max() >= 29_900_000);
        assert_eq!(snap[1].1.timeouts, 1);
        assert_eq!(snap[1].1.status_codes[&404], 1);
        // Unsent requests are counted apart, by reason, never as latency.
        r.record_unsent(0, Some(t0 + Duration::from_secs(3)), "no unit_id known");
        r.record_unsent(0, Some(t0), "during the ramp-up: not counted");
        let snap = r.snapshot();
        assert_eq!(snap[0].1.requests(), 1);
        assert_eq!(snap[0].1.unsent["no unit_id known"], 1);
        assert_eq!(snap[0].1.unsent.len(), 1);
        assert_eq!(r.skipped(), 1);
    }
}
