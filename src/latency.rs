//! Latency as every stage holds it: HdrHistograms in microseconds (the constructors),
//! their run.json form (HdrHistogram V2-deflate in base64, and a serde codec for it),
//! the [`Latency`] summary, and one interval of the latency log. A leaf module: `load`
//! records into these histograms, `report` and `audit` read them, none imports another
//! stage for them.

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Highest latency a histogram can hold: one hour, in microseconds.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A new latency histogram: 1 µs to one hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

/// A small histogram that grows as needed: one per interval and endpoint, so a second
/// of fast requests costs kilobytes, not the fixed one-hour range's 200 KB.
/// (Record into it with `record`: `saturating_record` clamps instead of growing.)
pub fn interval_histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant digits is valid");
    h.auto(true);
    h
}

/// A 2xx or a 3xx (a 304 answers the client's `If-None-Match`: its copy is current).
pub fn is_success(code: u16) -> bool {
    (200..400).contains(&code)
}

/// A histogram as HdrHistogram V2-compressed (deflate) bytes.
pub fn encode_bytes(h: &Histogram<u64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serializing a histogram into memory cannot fail");
    bytes
}

/// Encodes a histogram as HdrHistogram V2-compressed (deflate) bytes in base64.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    base64::engine::general_purpose::STANDARD.encode(encode_bytes(h))
}

/// Decodes what [`encode_histogram`] wrote.
pub fn decode_histogram(text: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .context("histogram is not base64")?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("histogram is not HdrHistogram V2 ({e})"))
}

/// Adds `other` into `into` (exact HdrHistogram addition); `what` names the histogram
/// in the error (when `into`'s range cannot hold `other`'s values).
pub fn add_into(
    into: &mut Histogram<u64>,
    other: &Histogram<u64>,
    what: &str,
) -> Result<(), String> {
    into.add(other)
        .map_err(|e| format!("{what}: cannot be added: {e:?}"))
}

/// Latency summary in microseconds (from the HdrHistogram; 0 when no request).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Latency {
    /// Summarizes a histogram.
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency {
                p50: 0,
                p90: 0,
                p95: 0,
                p99: 0,
                p999: 0,
                max: 0,
                mean: 0.0,
            };
        }
        Latency {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    }
}

/// One closed interval of the latency log: its histograms (HdrHistogram V2-deflate
/// bytes) and summary.
#[derive(Debug, Clone)]
pub struct IntervalRecord {
    /// Since the run's start.
    pub start: Duration,
    pub length: Duration,
    /// The phase at the interval's start.
    pub phase: String,
    /// Requests that ended in the interval, failed ones included.
    pub requests: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Distinct users that sent a request in the interval.
    pub users: usize,
    /// All endpoints together.
    pub all: Vec<u8>,
    /// `(endpoint index, histogram)` for the endpoints with requests in the interval.
    pub per_endpoint: Vec<(usize, Vec<u8>)>,
}
