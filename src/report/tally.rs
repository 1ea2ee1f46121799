//! One tally of a run's requests: per endpoint its counts and its histograms of
//! successful and failed responses, and all endpoints together. `merge` and `pool` (in
//! [`crate::report::runs`]) both add runs' tallies; they differ only in how they turn
//! the sums back into rates and clocks.

use hdrhistogram::Histogram;

use crate::latency::{Latency, decode_histogram, encode_histogram, new_histogram};
use crate::report::run::{EndpointReport, RunReport};

/// One endpoint's counts (its [`EndpointReport`] fields that add) and histograms.
#[derive(Debug, Clone)]
pub struct EndpointTally {
    /// Counts summed with [`EndpointReport::add_counts`]; `rps` is the sum of the runs'.
    pub counts: EndpointReport,
    pub ok: Histogram<u64>,
    pub failed: Histogram<u64>,
}

/// A run's requests, or several runs' added.
#[derive(Debug, Clone)]
pub struct Tally {
    /// The overall histogram of successful responses, as run.json's `histogram`.
    pub ok: Histogram<u64>,
    /// The failed requests of every endpoint.
    pub failed: Histogram<u64>,
    /// By name, in the order they first appear.
    pub endpoints: Vec<EndpointTally>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            ok: new_histogram(),
            failed: new_histogram(),
            endpoints: Vec::new(),
        }
    }
}

impl Tally {
    /// A run's tally, decoded from its run.json and checked: the histograms must hold
    /// the requests its counts say. An error names what is wrong, without the run.
    pub fn of(report: &RunReport) -> Result<Tally, String> {
        let tally = Tally::decode(report)?;
        for (t, e) in tally.endpoints.iter().zip(&report.endpoints) {
            if t.ok.len() + t.failed.len() != e.requests {
                return Err(format!(
                    "{}'s histograms hold {} requests, its count says {}",
                    e.name,
                    t.ok.len() + t.failed.len(),
                    e.requests
                ));
            }
        }
        if tally.requests() != report.totals.requests {
            return Err(format!(
                "the overall histogram holds {} requests, totals.requests says {}",
                tally.requests(),
                report.totals.requests
            ));
        }
        Ok(tally)
    }

    /// A run's tally as its run.json holds it, not checked against its counts.
    pub fn decode(report: &RunReport) -> Result<Tally, String> {
        let ok = decode_histogram(&report.histogram)
            .map_err(|e| format!("the overall histogram: {e:#}"))?;
        let mut tally = Tally {
            ok,
            ..Tally::default()
        };
        for e in &report.endpoints {
            let h = decode_histogram(&e.histogram)
                .map_err(|err| format!("{}'s histogram: {err:#}", e.name))?;
            // Runs written before failed requests had their own histogram hold every
            // request in `histogram`.
            let failed = match &e.failed_histogram {
                Some(text) => decode_histogram(text)
                    .map_err(|err| format!("{}'s failed histogram: {err:#}", e.name))?,
                None => new_histogram(),
            };
            add(&mut tally.failed, &failed, &e.name, "failed histogram")?;
            tally.endpoints.push(EndpointTally {
                counts: e.clone(),
                ok: h,
                failed,
            });
        }
        Ok(tally)
    }

    /// Adds `other` in: histograms added (exactly), counts and rates summed, endpoints
    /// matched by name. Fails only when a histogram's range cannot hold the other's.
    pub fn add(&mut self, other: &Tally) -> Result<(), String> {
        add(&mut self.ok, &other.ok, "overall", "histogram")?;
        add(
            &mut self.failed,
            &other.failed,
            "overall",
            "failed histogram",
        )?;
        for e in &other.endpoints {
            match self
                .endpoints
                .iter_mut()
                .find(|m| m.counts.name == e.counts.name)
            {
                Some(m) => {
                    m.counts.add_counts(&e.counts);
                    m.counts.rps += e.counts.rps;
                    add(&mut m.ok, &e.ok, &e.counts.name, "histogram")?;
                    add(&mut m.failed, &e.failed, &e.counts.name, "failed histogram")?;
                }
                None => self.endpoints.push(e.clone()),
            }
        }
        Ok(())
    }

    /// Requests in the histograms, failed ones included.
    pub fn requests(&self) -> u64 {
        self.ok.len() + self.failed.len()
    }

    /// The per-endpoint figures: latency and histograms from the sums, `rps` from
    /// `rate` (how the caller combines the runs' clocks), the failed requests' latency
    /// when `keep_failed`.
    pub fn endpoint_reports(
        &self,
        rate: impl Fn(&EndpointTally) -> f64,
        keep_failed: bool,
    ) -> Vec<EndpointReport> {
        self.endpoints
            .iter()
            .map(|t| {
                let mut e = t.counts.clone();
                e.rps = rate(t);
                e.latency_us = Latency::of(&t.ok);
                e.latency_uncorrected_us = None;
                e.histogram = encode_histogram(&t.ok);
                let failed = (keep_failed && !t.failed.is_empty()).then_some(&t.failed);
                e.failed_latency_us = failed.map(Latency::of);
                e.failed_histogram = failed.map(encode_histogram);
                e
            })
            .collect()
    }

    /// The overall latency of the successful responses, and of the failed ones when
    /// there were any.
    pub fn latency(&self) -> (Latency, Option<Latency>) {
        (
            Latency::of(&self.ok),
            (!self.failed.is_empty()).then(|| Latency::of(&self.failed)),
        )
    }
}

fn add(
    into: &mut Histogram<u64>,
    h: &Histogram<u64>,
    name: &str,
    what: &str,
) -> Result<(), String> {
    crate::latency::add_into(into, h, &format!("{name}'s {what}"))
}
