//! Targets: readable threshold expressions such as `"p99 < 5ms"` or `"rps > 100000"`,
//! from a TOML file's `thresholds` array (`profiles/targets.toml` holds the tuning
//! guide's). Parsed once into typed [`Threshold`]s, then checked against a run; a metric
//! the run did not measure is reported as "not measured", never as a made-up value.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::report::run::RunReport;
use crate::units::{format_grams, format_us};

/// The guide's targets, shipped in the binary (used when `profiles/targets.toml` is not
/// in the current directory).
pub const BUILTIN_TARGETS: &str = include_str!("../../profiles/targets.toml");

/// A threshold file or expression that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ThresholdError {
    #[error("threshold `{text}` at character {position}: {message}")]
    Invalid {
        text: String,
        position: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A latency percentile (0–100) or max/mean, in microseconds.
    Latency(LatencyStat),
    /// Requests per second.
    Rps,
    /// (Failed + unsent requests) ÷ (requests + unsent requests).
    ErrorRate,
    /// Responses with this HTTP status: `status_429`.
    StatusCount(u16),
    /// Responses whose body failed a check of the scenario.
    ChecksFailed,
    /// Peak resident memory of the server, bytes.
    ServerRss,
    /// Peak heap of the server during the steady state (`--heap-profile`), bytes.
    ServerHeap,
    /// Grams of CO2 per request.
    Co2PerRequest,
}

/// Which latency statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyStat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    /// Whether `actual op bound` holds.
    pub fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Op::Lt => actual < bound,
            Op::Le => actual <= bound,
            Op::Gt => actual > bound,
            Op::Ge => actual >= bound,
            Op::Eq => actual == bound,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        })
    }
}

/// A parsed threshold: `metric op bound [for ENDPOINT]`, the bound in the metric's base
/// unit (microseconds, req/s, fraction, bytes, grams).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written (trimmed).
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    pub bound: f64,
    /// `for ENDPOINT`: the endpoint's name as in run.json (`GET /api/v1/buildings`);
    /// `None` for all requests together.
    pub endpoint: Option<String>,
    /// Where the condition starts in `text` (after the metric's name), in bytes.
    condition_at: usize,
}

/// One target checked against a run (an element of run.json `targets`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetResult {
    /// The metric's name, e.g. `p99`.
    pub name: String,
    /// The condition, e.g. `< 5ms`.
    pub target: String,
    /// The measured value, human-readable (`3.42ms`); null when not measured.
    pub actual: Option<String>,
    /// The measured value in the metric's base unit (µs, req/s, fraction, bytes, g).
    pub value: Option<f64>,
    /// True/false when measured; null when not measured.
    pub pass: Option<bool>,
    /// Why there is no value, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    thresholds: Vec<String>,
}

/// Reads a thresholds file.
pub fn load_file(path: &Path) -> Result<Vec<Threshold>, ThresholdError> {
    let text = std::fs::read_to_string(path).map_err(|e| ThresholdError::File {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse_file(&text, &path.display().to_string())
}

/// The guide's targets: `profiles/targets.toml` in the current directory when present
/// (so an edit takes effect), otherwise the copy in the binary.
pub fn guide_targets() -> Result<Vec<Threshold>, ThresholdError> {
    let local = Path::new("profiles/targets.toml");
    if local.is_file() {
        load_file(local)
    } else {
        parse_file(BUILTIN_TARGETS, "builtin:profiles/targets.toml")
    }
}

/// Parses the text of a thresholds file.
pub fn parse_file(text: &str, file: &str) -> Result<Vec<Threshold>, ThresholdError> {
    let raw: RawThresholds = toml::from_str(text).map_err(|e| ThresholdError::File {
        file: file.to_string(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    if raw.thresholds.is_empty() {
        return Err(ThresholdError::File {
            file: file.to_string(),
            message: "`thresholds` is empty: give at least one, e.g. \"p99 < 5ms\"".into(),
        });
    }
    raw.thresholds.iter().map(|t| parse(t)).collect()
}

/// Parses one expression: `METRIC OP NUMBER[UNIT] [for ENDPOINT]`, e.g. `p99 < 5ms` or
/// `p95 <= 50ms for GET /api/v1/buildings`. Errors give the character position (1-based)
/// of what is wrong.
pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
    let original = text;
    let lead = text.len() - text.trim_start().len();
    let text = text.trim();
    // `at` is a byte offset into the trimmed text; positions are reported in characters
    // of the expression as written.
    let invalid = |at: usize, message: &str| ThresholdError::Invalid {
        text: original.trim().to_string(),
        position: original[..lead + at].chars().count() + 1 - lead,
        message: message.to_string(),
    };
    let metric_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let name = &text[..metric_end];
    let metric = metric_named(name).map_err(|m| invalid(0, m))?;
    let skip_spaces = |at: usize| at + (text[at..].len() - text[at..].trim_start().len());
    let op_at = skip_spaces(metric_end);
    let rest = &text[op_at..];
    let (op, op_len) = if rest.starts_with("==") {
        (Op::Eq, 2)
    } else if rest.starts_with("<=") {
        (Op::Le, 2)
    } else if rest.starts_with(">=") {
        (Op::Ge, 2)
    } else if rest.starts_with('<') {
        (Op::Lt, 1)
    } else if rest.starts_with('>') {
        (Op::Gt, 1)
    } else {
        return Err(invalid(op_at, "expected one of < <= > >= =="));
    };
    let value_at = skip_spaces(op_at + op_len);
    let number_len = text[value_at..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len() - value_at);
    let number: f64 = text[value_at..value_at + number_len]
        .replace('_', "")
        .parse()
        .map_err(|_| invalid(value_at, "expected a number"))?;
    // The unit: the next word (`5ms`, `5 ms`), unless that word starts `for ENDPOINT`.
    let unit_at = skip_spaces(value_at + number_len);
    let word_len = text[unit_at..]
        .find(char::is_whitespace)
        .unwrap_or(text.len() - unit_at);
    let (unit, unit_len) = match &text[unit_at..unit_at + word_len] {
        "for" => ("", 0),
        word => (word, word_len),
    };
    let scale = unit_scale(metric, unit).map_err(|m| invalid(unit_at, m))?;
    let tail_at = skip_spaces(unit_at + unit_len);
    let endpoint = if tail_at == text.len() {
        None
    } else if let Some(after) = text[tail_at..].strip_prefix("for") {
        let endpoint = after.trim();
        if !after.starts_with(char::is_whitespace) || endpoint.is_empty() {
            return Err(invalid(
                tail_at,
                "expected `for ENDPOINT`, e.g. `for GET /api/v1/buildings`",
            ));
        }
        if matches!(
            metric,
            Metric::ServerRss | Metric::ServerHeap | Metric::Co2PerRequest
        ) {
            return Err(invalid(
                tail_at,
                "server_rss, server_heap and co2_per_request cover the whole run, not one endpoint",
            ));
        }
        Some(endpoint.to_string())
    } else {
        return Err(invalid(
            tail_at,
            "unexpected text; only `for ENDPOINT` may follow the value",
        ));
    };
    if !number.is_finite() {
        return Err(invalid(value_at, "expected a finite number"));
    }
    Ok(Threshold {
        text: text.to_string(),
        metric,
        op,
        bound: number * scale,
        endpoint,
        condition_at: metric_end,
    })
}

/// The metric a threshold names; the message when it names none.
fn metric_named(name: &str) -> Result<Metric, &'static str> {
    Ok(match name {
        "p50" => Metric::Latency(LatencyStat::P50),
        "p90" => Metric::Latency(LatencyStat::P90),
        "p95" => Metric::Latency(LatencyStat::P95),
        "p99" => Metric::Latency(LatencyStat::P99),
        "p999" | "p99.9" => Metric::Latency(LatencyStat::P999),
        "max" => Metric::Latency(LatencyStat::Max),
        "mean" => Metric::Latency(LatencyStat::Mean),
        "rps" => Metric::Rps,
        "error_rate" => Metric::ErrorRate,
        "server_rss" => Metric::ServerRss,
        "server_heap" => Metric::ServerHeap,
        "co2_per_request" => Metric::Co2PerRequest,
        "checks_failed" => Metric::ChecksFailed,
        "" => return Err("expected a metric name"),
        _ => match name
            .strip_prefix("status_")
            .and_then(|code| code.parse::<u16>().ok())
            .filter(|code| (100..=599).contains(code))
        {
            Some(code) => Metric::StatusCount(code),
            None => {
                return Err(
                    "unknown metric; known: p50 p90 p95 p99 p999 max mean rps error_rate \
                     status_NNN (e.g. status_429) checks_failed server_rss server_heap co2_per_request",
                );
            }
        },
    })
}

/// What a value in `unit` is in the metric's own unit (µs, bytes, grams, a fraction);
/// the message when the metric takes no such unit.
fn unit_scale(metric: Metric, unit: &str) -> Result<f64, &'static str> {
    Ok(match (metric, unit) {
        (Metric::Latency(_), "us" | "µs") => 1.0,
        (Metric::Latency(_), "ms") => 1e3,
        (Metric::Latency(_), "s") => 1e6,
        (Metric::Latency(_), _) => {
            return Err("latency needs a unit: us, ms or s");
        }
        (Metric::Rps, "" | "/s" | "req/s") => 1.0,
        (Metric::ErrorRate, "%") => 0.01,
        (Metric::ErrorRate, "") => 1.0,
        (Metric::ServerRss | Metric::ServerHeap, "B") => 1.0,
        (Metric::ServerRss | Metric::ServerHeap, "KB") => 1e3,
        (Metric::ServerRss | Metric::ServerHeap, "MB") => 1e6,
        (Metric::ServerRss | Metric::ServerHeap, "GB") => 1e9,
        (Metric::ServerRss | Metric::ServerHeap, "KiB") => 1024.0,
        (Metric::ServerRss | Metric::ServerHeap, "MiB") => 1024.0 * 1024.0,
        (Metric::ServerRss | Metric::ServerHeap, "GiB") => 1024.0 * 1024.0 * 1024.0,
        (Metric::ServerRss | Metric::ServerHeap, _) => {
            return Err("memory needs a unit: B, KB, MB, GB, KiB, MiB or GiB");
        }
        (Metric::Co2PerRequest, "g") => 1.0,
        (Metric::Co2PerRequest, "mg") => 1e-3,
        (Metric::Co2PerRequest, _) => {
            return Err("CO2 needs a unit: g or mg");
        }
        (Metric::StatusCount(_) | Metric::ChecksFailed, "") => 1.0,
        (Metric::StatusCount(_) | Metric::ChecksFailed, _) => {
            return Err("a count takes no unit");
        }
        (Metric::Rps, _) => return Err("rps takes no unit (or req/s)"),
        (Metric::ErrorRate, _) => {
            return Err("error_rate is a % or a fraction");
        }
    })
}

impl Threshold {
    /// The metric's name as written in expressions.
    pub fn metric_name(&self) -> String {
        let name = match self.metric {
            Metric::Latency(LatencyStat::P50) => "p50",
            Metric::Latency(LatencyStat::P90) => "p90",
            Metric::Latency(LatencyStat::P95) => "p95",
            Metric::Latency(LatencyStat::P99) => "p99",
            Metric::Latency(LatencyStat::P999) => "p999",
            Metric::Latency(LatencyStat::Max) => "max",
            Metric::Latency(LatencyStat::Mean) => "mean",
            Metric::Rps => "rps",
            Metric::ErrorRate => "error_rate",
            Metric::ServerRss => "server_rss",
            Metric::ServerHeap => "server_heap",
            Metric::Co2PerRequest => "co2_per_request",
            Metric::StatusCount(code) => return format!("status_{code}"),
            Metric::ChecksFailed => "checks_failed",
        };
        name.to_string()
    }

    /// The condition as written after the metric's name: `< 5ms`,
    /// `<= 50ms for GET /api/v1/buildings`.
    pub fn condition(&self) -> &str {
        self.text[self.condition_at..].trim()
    }

    /// The measured value this threshold bounds, in its base unit, or why there is none.
    pub fn value(&self, run: &RunReport) -> Result<f64, String> {
        let (latency, requests, errors, rps, unsent, codes, checks) = match &self.endpoint {
            None => (
                &run.totals.latency_us,
                run.totals.requests,
                run.totals.errors,
                run.totals.rps,
                run.skipped_requests,
                &run.totals.status_codes,
                run.totals.checks_failed,
            ),
            Some(name) => match run.endpoints.iter().find(|e| &e.name == name) {
                Some(e) => (
                    &e.latency_us,
                    e.requests,
                    e.errors,
                    e.rps,
                    e.unsent_total(),
                    &e.status_codes,
                    e.checks_failed,
                ),
                None => return Err(format!("the run has no endpoint `{name}`")),
            },
        };
        // Counts and the error rate are measured whenever something was tried; latency
        // and throughput need a successful response.
        match self.metric {
            Metric::ErrorRate if requests + unsent > 0 => {
                return Ok(crate::report::run::error_rate(requests, errors, unsent));
            }
            Metric::StatusCount(code) if requests + unsent > 0 => {
                return Ok(codes.get(&code.to_string()).copied().unwrap_or(0) as f64);
            }
            Metric::ChecksFailed if requests + unsent > 0 => return Ok(checks as f64),
            _ => {}
        }
        let requests = requests - errors.min(requests);
        let value = match self.metric {
            Metric::Latency(stat) => Ok(match stat {
                LatencyStat::P50 => latency.p50 as f64,
                LatencyStat::P90 => latency.p90 as f64,
                LatencyStat::P95 => latency.p95 as f64,
                LatencyStat::P99 => latency.p99 as f64,
                LatencyStat::P999 => latency.p999 as f64,
                LatencyStat::Max => latency.max as f64,
                LatencyStat::Mean => latency.mean,
            }),
            Metric::Rps => Ok(rps),
            Metric::ErrorRate | Metric::StatusCount(_) | Metric::ChecksFailed => {
                Err("no request was sent".into())
            }
            Metric::ServerRss => match &run.resources {
                Some(r) if r.server.measured => Ok(r.server.peak_rss_bytes as f64),
                Some(r) => Err(r
                    .server
                    .note
                    .clone()
                    .unwrap_or_else(|| "the server's process is unknown".into())),
                None => Err("process resources were not sampled".into()),
            },
            Metric::ServerHeap => match (&run.heap, &run.heap_skipped_reason) {
                (Some(h), _) => Ok(h.peak_bytes as f64),
                (None, Some(why)) => Err(why.clone()),
                (None, None) => Err("the heap was not profiled (load --heap-profile)".into()),
            },
            Metric::Co2PerRequest => match &run.carbon {
                Some(c) => Ok(c.g_per_request),
                None => Err("carbon per request was not computed".into()),
            },
        };
        match value {
            Ok(_) if requests == 0 => Err("no request succeeded".into()),
            other => other,
        }
    }

    /// Checks the threshold against a run.
    pub fn check(&self, run: &RunReport) -> TargetResult {
        let target = self.condition().to_string();
        match self.value(run) {
            Ok(v) => TargetResult {
                name: self.metric_name(),
                target,
                actual: Some(self.format(v)),
                value: Some(v),
                pass: Some(self.op.holds(v, self.bound)),
                note: None,
            },
            Err(reason) => TargetResult {
                name: self.metric_name(),
                target,
                actual: None,
                value: None,
                pass: None,
                note: Some(if reason.starts_with("not measured") {
                    reason
                } else {
                    format!("not measured: {reason}")
                }),
            },
        }
    }

    /// How far a measured value is past the bound, in words: `2.20ms over (+44.0%)`.
    pub fn miss(&self, value: f64) -> String {
        let by = (value - self.bound).abs();
        let pct = if self.bound == 0.0 {
            String::new()
        } else {
            format!(" ({:+.1}%)", (value - self.bound) / self.bound * 100.0)
        };
        let side = if matches!(self.op, Op::Lt | Op::Le) {
            "over"
        } else {
            "under"
        };
        format!("{} {side}{pct}", self.format(by))
    }

    /// A value of this threshold's metric, human-readable.
    pub fn format(&self, v: f64) -> String {
        match self.metric {
            Metric::Latency(_) => format_us(v),
            Metric::Rps => format!("{v:.1} req/s"),
            Metric::ErrorRate => format!("{:.3}%", v * 100.0),
            Metric::StatusCount(_) | Metric::ChecksFailed => format!("{v:.0}"),
            Metric::ServerRss | Metric::ServerHeap => format!("{:.1} MB", v / 1e6),
            Metric::Co2PerRequest => format_grams(v),
        }
    }
}

/// Checks every threshold against the run.
pub fn check_all(thresholds: &[Threshold], run: &RunReport) -> Vec<TargetResult> {
    thresholds.iter().map(|t| t.check(run)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_targets_parse() {
        let t = parse_file(BUILTIN_TARGETS, "targets.toml").unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(t[0].metric, Metric::Latency(LatencyStat::P99));
        assert_eq!(t[0].op, Op::Lt);
        assert_eq!(t[0].bound, 5000.0);
        assert_eq!(t[1].metric, Metric::Rps);
        assert_eq!(t[1].bound, 100_000.0);
        assert_eq!(t[2].bound, 80e6);
        assert_eq!((t[3].metric, t[3].bound), (Metric::ServerHeap, 80e6));
        assert_eq!(t[4].bound, 0.12);
    }

    #[test]
    fn bad_expressions_name_the_text_and_position() {
        let e = parse("p99 = 5ms").unwrap_err();
        assert_eq!(
            e.to_string(),
            "threshold `p99 = 5ms` at character 5: expected one of < <= > >= =="
        );
        let e = parse("p99 < 5").unwrap_err().to_string();
        assert!(e.contains("at character 8") && e.contains("unit"), "{e}");
        let e = parse("latency < 5ms").unwrap_err().to_string();
        assert!(e.contains("at character 1: unknown metric"), "{e}");
        let e = parse("p99 <<< fast").unwrap_err().to_string();
        assert_eq!(
            e,
            "threshold `p99 <<< fast` at character 6: expected a number"
        );
        let e = parse("p99 < 5 parsecs").unwrap_err().to_string();
        assert!(e.contains("at character 9: latency needs a unit"), "{e}");
        let e = parse("rps > 10 MB").unwrap_err().to_string();
        assert!(e.contains("at character 10: rps takes no unit"), "{e}");
        // Positions count characters, not bytes: `µs` is two bytes.
        let e = parse("p99 < 5µs soon").unwrap_err().to_string();
        assert!(e.contains("at character 11: unexpected text"), "{e}");
        let e = parse("server_rss < 80MB for GET /x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at character 19") && e.contains("whole run"),
            "{e}"
        );
        let e = parse("p95 < 50ms for").unwrap_err().to_string();
        assert!(
            e.contains("at character 12: expected `for ENDPOINT`"),
            "{e}"
        );
        let e = parse("p95 < 50ms fr GET /x").unwrap_err().to_string();
        assert!(e.contains("at character 12: unexpected text"), "{e}");
        assert!(parse_file("thresholds = [\"p99 <\"]", "x.toml").is_err());
        assert!(
            parse_file("thresholds = 3", "x.toml")
                .unwrap_err()
                .to_string()
                .starts_with("x.toml: ")
        );
        assert!(parse_file("thresholds = [\"p99 < 1ms\"]\nextra = 1", "x.toml").is_err());
    }

    #[test]
    fn units_and_endpoints_parse() {
        let cases: [(&str, f64); 14] = [
            ("p99 < 5ms", 5000.0),
            ("p99 < 5 ms", 5000.0),
            ("p50 <= 800us", 800.0),
            ("p50 <= 800µs", 800.0),
            ("max < 1.5s", 1.5e6),
            ("p99.9 < 20ms", 20_000.0),
            ("rps > 1_000", 1000.0),
            ("rps >= 250 req/s", 250.0),
            ("error_rate < 1%", 0.01),
            ("error_rate < 0.001", 0.001),
            ("server_rss < 80MB", 80e6),
            ("server_rss < 1GiB", 1024.0 * 1024.0 * 1024.0),
            ("co2_per_request < 0.12g", 0.12),
            ("co2_per_request < 5mg", 0.005),
        ];
        for (text, bound) in cases {
            let t = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!((t.bound - bound).abs() < 1e-9, "{text}: {}", t.bound);
            assert_eq!(t.endpoint, None, "{text}");
        }
        let t = parse("  p95 <= 50ms for GET /api/v1/buildings ").unwrap();
        assert_eq!(t.metric, Metric::Latency(LatencyStat::P95));
        assert_eq!(t.op, Op::Le);
        assert_eq!(t.bound, 50_000.0);
        assert_eq!(t.endpoint.as_deref(), Some("GET /api/v1/buildings"));
        assert_eq!(t.condition(), "<= 50ms for GET /api/v1/buildings");
        let t = parse("rps > 100 for GET /api/v1/buildings/{building_id}").unwrap();
        assert_eq!(t.bound, 100.0);
        assert_eq!(
            t.endpoint.as_deref(),
            Some("GET /api/v1/buildings/{building_id}")
        );
        let t = parse("error_rate < 1% for POST /api/v1/expenses").unwrap();
        assert_eq!(t.endpoint.as_deref(), Some("POST /api/v1/expenses"));
        assert_eq!(parse("p99.9 < 1ms").unwrap().condition(), "< 1ms");
    }

    #[test]
    fn misses_say_by_how_much() {
        let t = parse("p99 < 5ms").unwrap();
        assert_eq!(t.miss(7200.0), "2.20ms over (+44.0%)");
        let t = parse("rps > 1000").unwrap();
        assert_eq!(t.miss(750.0), "250.0 req/s under (-25.0%)");
        assert_eq!(format_grams(1.18e-6), "1.180 µg");
        assert_eq!(format_grams(0.12), "0.120 g");
    }
}
