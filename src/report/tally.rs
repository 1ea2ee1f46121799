//! One tally of a run's requests: per endpoint its counts and its histograms of
//! successful and failed responses, all endpoints together, and the run's counts that
//! add (warm-up, unsent, relogins, bytes). Tallies add with `+=`; [`Tally::figures`] is
//! the one function that turns the sums into run.json's totals and per-endpoint
//! figures. `engine::build` tallies a measured run, and `merge` and `pool` (in
//! [`crate::report::runs`]) add runs' tallies: they differ only in how they turn the
//! sums back into rates and clocks ([`Rates`]).

use std::collections::BTreeMap;
use std::ops::AddAssign;

use hdrhistogram::Histogram;

use crate::latency::{Latency, absorbing, new_histogram};
use crate::report::run::{EndpointReport, RunReport, Totals, TransportErrors, add_map};
use crate::units::round3;

/// One endpoint's counts: the [`EndpointReport`] fields that add.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointCounts {
    /// Method and path template.
    pub name: String,
    /// Requests sent and ended, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// The sum of the runs' rates (what runs side by side achieved together).
    pub rps: f64,
    /// HTTP status code → count.
    pub status_codes: BTreeMap<String, u64>,
    /// Requests that got no response, by cause.
    pub transport_errors: TransportErrors,
    /// Responses whose body failed a check.
    pub checks_failed: u64,
    /// Requests not sent, by reason.
    pub unsent: BTreeMap<String, u64>,
}

impl AddAssign<&EndpointCounts> for EndpointCounts {
    /// Adds the same endpoint's counts from another run.
    fn add_assign(&mut self, other: &EndpointCounts) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.rps += other.rps;
        add_map(&mut self.status_codes, &other.status_codes);
        self.transport_errors.add(&other.transport_errors);
        self.checks_failed += other.checks_failed;
        add_map(&mut self.unsent, &other.unsent);
    }
}

impl EndpointCounts {
    /// The counts of an endpoint's report.
    pub fn of(e: &EndpointReport) -> EndpointCounts {
        EndpointCounts {
            name: e.name.clone(),
            requests: e.requests,
            errors: e.errors,
            rps: e.rps,
            status_codes: e.status_codes.clone(),
            transport_errors: e.transport_errors.clone(),
            checks_failed: e.checks_failed,
            unsent: e.unsent.clone(),
        }
    }
}

/// One endpoint's counts and histograms.
#[derive(Debug, Clone)]
pub struct EndpointTally {
    /// Its counts, summed.
    pub counts: EndpointCounts,
    /// Successful responses (auto-resizing: see [`absorbing`]).
    pub ok: Histogram<u64>,
    /// Failed requests (auto-resizing).
    pub failed: Histogram<u64>,
}

impl EndpointTally {
    /// An endpoint's tally from its counts and histograms.
    pub fn new(counts: EndpointCounts, ok: &Histogram<u64>, failed: &Histogram<u64>) -> Self {
        EndpointTally {
            counts,
            ok: absorbing(ok),
            failed: absorbing(failed),
        }
    }
}

/// The counts of a run that add, beside its requests' (see [`RunReport`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunCounts {
    /// Requests of the ramp-up.
    pub warmup_requests: u64,
    /// Logins repeated after a 401.
    pub relogins: u64,
    /// Requests not sent.
    pub skipped_requests: u64,
    /// `skipped_requests` by reason.
    pub unsent: BTreeMap<String, u64>,
    /// Bytes on the wire.
    pub network_bytes: u64,
    /// Any run interrupted.
    pub interrupted: bool,
    /// Any run whose host went down.
    pub host_down: bool,
}

impl AddAssign<&RunCounts> for RunCounts {
    fn add_assign(&mut self, other: &RunCounts) {
        self.warmup_requests += other.warmup_requests;
        self.relogins += other.relogins;
        self.skipped_requests += other.skipped_requests;
        add_map(&mut self.unsent, &other.unsent);
        self.network_bytes += other.network_bytes;
        self.interrupted |= other.interrupted;
        self.host_down |= other.host_down;
    }
}

impl RunCounts {
    /// A run's counts.
    pub fn of(r: &RunReport) -> RunCounts {
        RunCounts {
            warmup_requests: r.warmup_requests,
            relogins: r.relogins,
            skipped_requests: r.skipped_requests,
            unsent: r.unsent.clone(),
            network_bytes: r.network_bytes,
            interrupted: r.interrupted,
            host_down: r.host_down,
        }
    }

    /// Writes them into `r`.
    pub fn fill(&self, r: &mut RunReport) {
        r.warmup_requests = self.warmup_requests;
        r.relogins = self.relogins;
        r.skipped_requests = self.skipped_requests;
        r.unsent = self.unsent.clone();
        r.network_bytes = self.network_bytes;
        r.interrupted = self.interrupted;
        r.host_down = self.host_down;
    }
}

/// A run's requests, or several runs' added with `+=`.
///
/// Every histogram in a tally is auto-resizing (made so when it enters: [`absorbing`]),
/// so adding one tally into another cannot fail: HdrHistogram addition fails only when
/// the receiver's range is too small, and these widen theirs instead.
#[derive(Debug, Clone)]
pub struct Tally {
    /// The overall histogram of successful responses, as run.json's `histogram`.
    pub ok: Histogram<u64>,
    /// The failed requests of every endpoint.
    pub failed: Histogram<u64>,
    /// `totals.requests`, summed.
    pub requests: u64,
    /// `totals.errors`, summed.
    pub errors: u64,
    /// `totals.rps`, summed (what runs side by side achieved together).
    pub rps: f64,
    /// By name, in the order they first appear.
    pub endpoints: Vec<EndpointTally>,
    /// The run's other counts.
    pub run: RunCounts,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            ok: absorbing(&new_histogram()),
            failed: absorbing(&new_histogram()),
            requests: 0,
            errors: 0,
            rps: 0.0,
            endpoints: Vec::new(),
            run: RunCounts::default(),
        }
    }
}

impl AddAssign<&Tally> for Tally {
    /// Histograms added (exactly), counts and rates summed, endpoints matched by name.
    fn add_assign(&mut self, other: &Tally) {
        // `+=` on a histogram panics where `add` would fail: it cannot here (see
        // [`Tally`]).
        self.ok += &other.ok;
        self.failed += &other.failed;
        self.requests += other.requests;
        self.errors += other.errors;
        self.rps += other.rps;
        self.run += &other.run;
        for e in &other.endpoints {
            match self
                .endpoints
                .iter_mut()
                .find(|m| m.counts.name == e.counts.name)
            {
                Some(m) => {
                    m.counts += &e.counts;
                    m.ok += &e.ok;
                    m.failed += &e.failed;
                }
                None => self.endpoints.push(e.clone()),
            }
        }
    }
}

impl From<&RunReport> for Tally {
    /// A run's tally as its run.json holds it, not checked against its counts.
    fn from(report: &RunReport) -> Tally {
        let empty = new_histogram();
        let endpoints: Vec<EndpointTally> = report
            .endpoints
            .iter()
            .map(|e| {
                // Runs written before failed requests had their own histogram hold every
                // request in `histogram`.
                let failed = e.failed_histogram.as_ref().unwrap_or(&empty);
                EndpointTally::new(EndpointCounts::of(e), &e.histogram, failed)
            })
            .collect();
        let mut failed = absorbing(&empty);
        for e in &endpoints {
            failed += &e.failed;
        }
        Tally {
            ok: absorbing(&report.histogram),
            failed,
            requests: report.totals.requests,
            errors: report.totals.errors,
            rps: report.totals.rps,
            endpoints,
            run: RunCounts::of(report),
        }
    }
}

/// How a tally's sums become rates.
#[derive(Debug, Clone, Copy)]
pub enum Rates {
    /// The successful responses over one clock of this many seconds: one run, or runs
    /// one after another (`pool`: their durations summed). No time, no rate.
    Over(f64),
    /// Runs side by side (`merge`): their rates add.
    Summed,
}

impl Rates {
    fn of(self, successes: u64, summed: f64) -> f64 {
        match self {
            Rates::Over(secs) if secs > 0.0 => round3(successes as f64 / secs),
            Rates::Over(_) => 0.0,
            Rates::Summed => round3(summed),
        }
    }
}

/// The figures of a tally (see [`Tally::figures`]).
#[derive(Debug, Clone)]
pub struct Figures {
    /// run.json's `totals` (its per-status counts not yet counted).
    pub totals: Totals,
    /// run.json's `endpoints`.
    pub endpoints: Vec<EndpointReport>,
    /// run.json's overall `histogram`.
    pub histogram: Histogram<u64>,
}

impl Tally {
    /// A run's tally, checked: the histograms must hold the requests its counts say. An
    /// error names what is wrong, without the run.
    pub fn of(report: &RunReport) -> Result<Tally, String> {
        let tally = Tally::from(report);
        for t in &tally.endpoints {
            let held = t.ok.len() + t.failed.len();
            if held != t.counts.requests {
                return Err(format!(
                    "{}'s histograms hold {held} requests, its count says {}",
                    t.counts.name, t.counts.requests
                ));
            }
        }
        if tally.held() != report.totals.requests {
            return Err(format!(
                "the overall histogram holds {} requests, totals.requests says {}",
                tally.held(),
                report.totals.requests
            ));
        }
        Ok(tally)
    }

    /// Requests in the histograms, failed ones included.
    pub fn held(&self) -> u64 {
        self.ok.len() + self.failed.len()
    }

    /// The totals and per-endpoint figures: latency from the summed histograms, rates as
    /// `rates` says, the failed requests' latency and histogram when `keep_failed` (and
    /// there were any). The totals' per-status counts and error rate are left for
    /// [`RunReport::with_totals_counted`]; the uncorrected latencies for the caller.
    pub fn figures(&self, rates: Rates, keep_failed: bool) -> Figures {
        let failed_of = |h: &Histogram<u64>| (keep_failed && !h.is_empty()).then(|| h.clone());
        let endpoints = self
            .endpoints
            .iter()
            .map(|t| {
                let c = &t.counts;
                let failed = failed_of(&t.failed);
                EndpointReport {
                    name: c.name.clone(),
                    requests: c.requests,
                    errors: c.errors,
                    rps: rates.of(t.ok.len(), c.rps),
                    status_codes: c.status_codes.clone(),
                    transport_errors: c.transport_errors.clone(),
                    checks_failed: c.checks_failed,
                    unsent: c.unsent.clone(),
                    latency_us: Latency::of(&t.ok),
                    latency_uncorrected_us: None,
                    failed_latency_us: failed.as_ref().map(Latency::of),
                    histogram: t.ok.clone(),
                    failed_histogram: failed,
                }
            })
            .collect();
        let totals = Totals {
            requests: self.requests,
            errors: self.errors,
            error_rate: 0.0,
            rps: rates.of(self.ok.len(), self.rps),
            status_codes: BTreeMap::new(),
            transport_errors: TransportErrors::default(),
            checks_failed: 0,
            latency_us: Latency::of(&self.ok),
            failed_latency_us: failed_of(&self.failed).as_ref().map(Latency::of),
            latency_uncorrected_us: None,
        };
        Figures {
            totals,
            endpoints,
            histogram: self.ok.clone(),
        }
    }

    /// Writes the sums into `report`: its totals, endpoints, overall histogram and run
    /// counts (then recounts the totals' statuses and error rate).
    pub fn fill(&self, report: &mut RunReport, rates: Rates, keep_failed: bool) {
        let f = self.figures(rates, keep_failed);
        report.totals = f.totals;
        report.endpoints = f.endpoints;
        report.histogram = f.histogram;
        self.run.fill(report);
        report.count_totals();
    }
}
