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

/// A copy of `h` that takes any other histogram's values: auto-resizing, so adding
/// into it (`+=`) cannot fail. HdrHistogram addition fails only when the receiver's
/// range cannot hold the other's highest value; a growing histogram widens its range
/// instead (its figures and its V2 encoding are those of the same values in a fixed
/// one, since the encoding holds the counts and the bounds, not the flag).
pub fn absorbing(h: &Histogram<u64>) -> Histogram<u64> {
    let mut h = h.clone();
    h.auto(true);
    h
}

/// The histograms added (exactly, into an [`absorbing`] copy of the first, so it cannot
/// fail); `None` when there is none.
pub fn sum<'a>(histograms: impl IntoIterator<Item = &'a Histogram<u64>>) -> Option<Histogram<u64>> {
    let mut histograms = histograms.into_iter();
    let mut all = absorbing(histograms.next()?);
    for h in histograms {
        all += h;
    }
    Some(all)
}

/// The serde codec of run.json's histograms: HdrHistogram V2-deflate in base64, used as
/// `#[serde(with = "crate::latency::v2_base64")]` (and [`v2_base64::option`] for an
/// optional one). A histogram that does not decode fails the whole run.json, with the
/// decoder's message.
pub mod v2_base64 {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode_histogram(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        super::decode_histogram(&text).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }

    /// The same codec for an `Option<Histogram<u64>>` (absent or `null` is `None`).
    pub mod option {
        use hdrhistogram::Histogram;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            h: &Option<Histogram<u64>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match h {
                Some(h) => s.serialize_some(&super::super::encode_histogram(h)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Histogram<u64>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| {
                    super::super::decode_histogram(&text)
                        .map_err(|e| serde::de::Error::custom(format!("{e:#}")))
                })
                .transpose()
        }
    }
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

impl Latency {
    /// A bound on the latency of several parts' samples together, from their summaries
    /// alone (`(summary, samples)`): each percentile the highest of the parts' (a
    /// percentile of a mix never exceeds the highest of the parts'), the max exact, the
    /// mean weighted by samples. Parts without a sample are left out.
    pub fn upper_bound<'a>(parts: impl IntoIterator<Item = (&'a Latency, u64)>) -> Latency {
        let parts: Vec<(&Latency, u64)> = parts.into_iter().filter(|(_, n)| *n > 0).collect();
        let max = |f: fn(&Latency) -> u64| parts.iter().map(|(l, _)| f(l)).max().unwrap_or(0);
        let samples: u64 = parts.iter().map(|(_, n)| n).sum();
        let weighted: f64 = parts.iter().map(|(l, n)| l.mean * *n as f64).sum();
        Latency {
            p50: max(|l| l.p50),
            p90: max(|l| l.p90),
            p95: max(|l| l.p95),
            p99: max(|l| l.p99),
            p999: max(|l| l.p999),
            max: max(|l| l.max),
            mean: if samples == 0 {
                0.0
            } else {
                (weighted / samples as f64 * 10.0).round() / 10.0
            },
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
