//! Our own measurements around each request: an HdrHistogram (microseconds, 3
//! significant digits) per endpoint with its status codes and errors. Goose runs the
//! users; these numbers, not goose's log-linear buckets, are what reports show.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Highest latency a histogram can hold: one hour, in microseconds.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A new latency histogram: 1 µs to one hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

/// How a request ended, when it got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    Timeout,
    Connect,
    Other,
}

/// One endpoint's measurements.
#[derive(Debug, Clone)]
pub struct EndpointStats {
    pub histogram: Histogram<u64>,
    pub status_codes: BTreeMap<u16, u64>,
    pub timeouts: u64,
    pub connect_errors: u64,
    pub other_errors: u64,
}

impl EndpointStats {
    fn new() -> Self {
        Self {
            histogram: new_histogram(),
            status_codes: BTreeMap::new(),
            timeouts: 0,
            connect_errors: 0,
            other_errors: 0,
        }
    }

    /// Requests measured (every outcome lands in the histogram).
    pub fn requests(&self) -> u64 {
        self.histogram.len()
    }

    /// Non-2xx responses plus requests that got no response.
    pub fn errors(&self) -> u64 {
        let bad_status: u64 = self
            .status_codes
            .iter()
            .filter(|(code, _)| !(200..300).contains(*code))
            .map(|(_, n)| n)
            .sum();
        bad_status + self.timeouts + self.connect_errors + self.other_errors
    }
}

/// Shared by all virtual users of one run. Only requests that start inside the
/// steady-state window count; the others (ramp-up and logins before it, shutdown after
/// it) are counted apart as warm-up.
#[derive(Debug)]
pub struct Recorder {
    endpoints: Vec<Mutex<EndpointStats>>,
    names: Vec<String>,
    window: Mutex<Window>,
    warmup: Mutex<u64>,
    relogins: Mutex<u64>,
    skipped: Mutex<u64>,
    bytes: Mutex<u64>,
    liveness: Mutex<Liveness>,
}

/// Whether the host still answers: when the last HTTP response came, and how many
/// connections were refused since.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    pub last_response: Instant,
    pub refused_since: u64,
}

/// The steady-state window: `[from, until)`; nothing counts before it is opened.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    from: Option<Instant>,
    until: Option<Instant>,
    /// Closed early (Ctrl-C, host down): it cannot be opened any more.
    closed: bool,
}

impl Recorder {
    /// One slot per endpoint name, in scenario order.
    pub fn new(names: Vec<String>) -> Self {
        Self {
            endpoints: names
                .iter()
                .map(|_| Mutex::new(EndpointStats::new()))
                .collect(),
            names,
            window: Mutex::new(Window::default()),
            warmup: Mutex::new(0),
            relogins: Mutex::new(0),
            skipped: Mutex::new(0),
            bytes: Mutex::new(0),
            liveness: Mutex::new(Liveness {
                last_response: Instant::now(),
                refused_since: 0,
            }),
        }
    }

    /// Counts a request that could not be sent (it needs an id its user has not learned).
    pub fn record_skipped(&self) {
        *lock(&self.skipped) += 1;
    }

    /// Adds the bytes a request of the window carried (request and response, headers
    /// included), for the network share of the carbon estimate.
    pub fn add_bytes(&self, started: Instant, bytes: u64) {
        if self.in_window(started) {
            *lock(&self.bytes) += bytes;
        }
    }

    /// Bytes carried by the requests of the window.
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

    /// Opens the steady-state window at `from` for `length`. Whatever was recorded
    /// before (requests of users that were ready early) moves to the warm-up count.
    pub fn open_window(&self, from: Instant, length: Duration) {
        {
            let mut window = lock(&self.window);
            if window.closed {
                return;
            }
            *window = Window {
                from: Some(from),
                until: Some(from + length),
                closed: false,
            };
        }
        let mut moved = 0;
        for slot in &self.endpoints {
            let mut stats = lock(slot);
            moved += stats.requests();
            *stats = EndpointStats::new();
        }
        *lock(&self.warmup) += moved;
    }

    /// Closes the window early (Ctrl-C) at `at`.
    pub fn close_window(&self, at: Instant) {
        let mut window = lock(&self.window);
        window.closed = true;
        if window.until.is_none_or(|u| at < u) {
            window.until = Some(at);
        }
    }

    /// The window's start and length, once opened.
    pub fn window(&self) -> Option<(Instant, Duration)> {
        let window = *lock(&self.window);
        Some((
            window.from?,
            window.until?.saturating_duration_since(window.from?),
        ))
    }

    fn in_window(&self, started: Instant) -> bool {
        let window = *lock(&self.window);
        window.from.is_some_and(|f| started >= f) && window.until.is_none_or(|u| started < u)
    }

    /// Records one request of endpoint `index`, started at `started`, lasting `latency`,
    /// that ended with `outcome`.
    pub fn record(
        &self,
        index: usize,
        started: Instant,
        latency: Duration,
        outcome: Result<u16, TransportError>,
    ) {
        self.note(outcome);
        if !self.in_window(started) {
            *lock(&self.warmup) += 1;
            return;
        }
        let micros = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        let mut stats = lock(&self.endpoints[index]);
        stats.histogram.saturating_record(micros);
        match outcome {
            Ok(code) => *stats.status_codes.entry(code).or_default() += 1,
            Err(TransportError::Timeout) => stats.timeouts += 1,
            Err(TransportError::Connect) => stats.connect_errors += 1,
            Err(TransportError::Other) => stats.other_errors += 1,
        }
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

    /// Requests left out of the statistics because they started during ramp-up.
    pub fn warmup_requests(&self) -> u64 {
        *lock(&self.warmup)
    }

    /// Re-logins after a 401.
    pub fn relogins(&self) -> u64 {
        *lock(&self.relogins)
    }
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
        assert!(snap[1].1.histogram.max() >= 29_900_000);
    }
}
