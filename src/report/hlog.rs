//! `latency.hlog`: the run's one-second interval histograms in HdrHistogram's interval
//! log format (V1.3, the format of HdrHistogram's `HistogramLogProcessor` and
//! `HdrLogProcessing`), written with the hdrhistogram crate. Untagged intervals hold
//! all endpoints together; `Tag=METHOD_/path` intervals each endpoint. Timestamps are
//! seconds since the `StartTime` header, which is the run's `started_at`; values are
//! microseconds.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use crate::latency::IntervalRecord;

/// The file name in a run directory.
pub const FILE_NAME: &str = "latency.hlog";

/// An endpoint's tag: its name with the characters tags cannot hold replaced.
pub fn tag_of(endpoint: &str) -> String {
    endpoint.replace([' ', ','], "_")
}

/// An interval log to write: its `StartTime`, a comment, and the intervals.
#[derive(Debug, Clone)]
pub struct Log {
    /// The `StartTime` header: entries' starts are relative to it.
    pub start: SystemTime,
    /// The comment line at the top.
    pub comment: String,
    /// The intervals, in order.
    pub entries: Vec<Entry>,
}

impl Log {
    /// The interval log of a run that started at `started_at`, from `load`'s interval
    /// records.
    pub fn of_intervals(
        started_at: SystemTime,
        names: &[String],
        intervals: &[IntervalRecord],
    ) -> anyhow::Result<Log> {
        let tags: Vec<String> = names.iter().map(|n| tag_of(n)).collect();
        let mut deserializer = Deserializer::new();
        let mut decode = |bytes: &[u8]| -> anyhow::Result<Histogram<u64>> {
            deserializer
                .deserialize(&mut &bytes[..])
                .map_err(|e| anyhow::anyhow!("an interval histogram is corrupt: {e:?}"))
        };
        let mut entries = Vec::new();
        for interval in intervals {
            entries.push(Entry {
                tag: None,
                start: interval.start,
                length: interval.length,
                histogram: decode(&interval.all)?,
            });
            for (index, bytes) in &interval.per_endpoint {
                entries.push(Entry {
                    tag: Some(tags[*index].clone()),
                    start: interval.start,
                    length: interval.length,
                    histogram: decode(bytes)?,
                });
            }
        }
        Ok(Log {
            start: started_at,
            comment: "koprogo-perf latency intervals (microseconds)".into(),
            entries,
        })
    }

    /// The log's text: the `StartTime` header, then each entry (its start relative to
    /// `start`) as a V2-deflate histogram.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment(&self.comment)
            .with_start_time(self.start)
            .begin_log_with(&mut out, &mut serializer)
            .context("writing the interval log header")?;
        writer
            .write_comment("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")
            .context("writing the interval log legend")?;
        for e in &self.entries {
            let tag = match e.tag.as_deref() {
                Some(t) => Some(
                    Tag::new(t).with_context(|| format!("`{t}` cannot be an interval log tag"))?,
                ),
                None => None,
            };
            writer
                .write_histogram(&e.histogram, e.start, e.length, tag)
                .map_err(|e| anyhow::anyhow!("writing the interval log: {e}"))?;
        }
        drop(writer);
        String::from_utf8(out).context("the interval log is not UTF-8")
    }
}

/// One interval read back from a log.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `None` for the all-endpoints intervals.
    pub tag: Option<String>,
    /// Since the log's `StartTime` (or since the epoch when it has none).
    pub start: Duration,
    pub length: Duration,
    pub histogram: Histogram<u64>,
}

/// Parses an interval log: its `StartTime` (when present) and intervals.
pub fn parse(text: &str) -> anyhow::Result<(Option<Duration>, Vec<Entry>)> {
    let mut start_time = None;
    let mut entries = Vec::new();
    let mut deserializer = Deserializer::new();
    for item in IntervalLogIterator::new(text.as_bytes()) {
        match item.map_err(|e| anyhow::anyhow!("the interval log does not parse: {e:?}"))? {
            LogEntry::StartTime(t) => start_time = Some(t),
            LogEntry::BaseTime(_) => {}
            LogEntry::Interval(i) => {
                let bytes = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    i.encoded_histogram(),
                )
                .context("an interval histogram is not base64")?;
                let histogram = deserializer
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| anyhow::anyhow!("an interval histogram is corrupt: {e:?}"))?;
                entries.push(Entry {
                    tag: i.tag().map(|t| t.as_str().to_string()),
                    start: i.start_timestamp(),
                    length: i.duration(),
                    histogram,
                });
            }
        }
    }
    Ok((start_time, entries))
}
