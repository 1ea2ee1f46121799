//! Targets: readable threshold expressions such as `"p99 < 5ms"` or `"rps > 100000"`,
//! from a TOML file's `thresholds` array (`profiles/targets.toml` holds the tuning
//! guide's). Parsed once into typed [`Threshold`]s, then checked against a run; a metric
//! the run did not measure is reported as "not measured", never as a made-up value.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::report::run::RunReport;

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
    /// Errors ÷ requests.
    ErrorRate,
    /// Peak resident memory of the server, bytes.
    ServerRss,
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
}

impl Op {
    fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Op::Lt => actual < bound,
            Op::Le => actual <= bound,
            Op::Gt => actual > bound,
            Op::Ge => actual >= bound,
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
        })
    }
}

/// A parsed threshold: `metric op bound`, the bound in the metric's base unit
/// (microseconds, req/s, fraction, bytes, grams).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written.
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    pub bound: f64,
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
    raw.thresholds.iter().map(|t| parse(t)).collect()
}

/// Parses one expression, e.g. `p99 < 5ms`.
pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
    let invalid = |position: usize, message: &str| ThresholdError::Invalid {
        text: text.to_string(),
        position: position + 1,
        message: message.to_string(),
    };
    let metric_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let name = &text[..metric_end];
    let metric = match name {
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
        "co2_per_request" => Metric::Co2PerRequest,
        "" => return Err(invalid(0, "expected a metric name")),
        _ => {
            return Err(invalid(
                0,
                "unknown metric; known: p50 p90 p95 p99 p999 max mean rps error_rate \
                 server_rss co2_per_request",
            ));
        }
    };
    let rest = &text[metric_end..];
    let op_at = metric_end + (rest.len() - rest.trim_start().len());
    let rest = rest.trim_start();
    let (op, op_len) = if rest.starts_with("<=") {
        (Op::Le, 2)
    } else if rest.starts_with(">=") {
        (Op::Ge, 2)
    } else if rest.starts_with('<') {
        (Op::Lt, 1)
    } else if rest.starts_with('>') {
        (Op::Gt, 1)
    } else {
        return Err(invalid(op_at, "expected one of < <= > >="));
    };
    let rest = &rest[op_len..];
    let value_at = op_at + op_len + (rest.len() - rest.trim_start().len());
    let rest = rest.trim();
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(rest.len());
    let number: f64 = rest[..number_end]
        .replace('_', "")
        .parse()
        .map_err(|_| invalid(value_at, "expected a number"))?;
    let unit = rest[number_end..].trim();
    let unit_at = value_at + number_end;
    let scale = match (metric, unit) {
        (Metric::Latency(_), "us" | "µs") => 1.0,
        (Metric::Latency(_), "ms") => 1e3,
        (Metric::Latency(_), "s") => 1e6,
        (Metric::Latency(_), _) => {
            return Err(invalid(unit_at, "latency needs a unit: us, ms or s"));
        }
        (Metric::Rps, "" | "/s" | "req/s") => 1.0,
        (Metric::ErrorRate, "%") => 0.01,
        (Metric::ErrorRate, "") => 1.0,
        (Metric::ServerRss, "KB") => 1e3,
        (Metric::ServerRss, "MB") => 1e6,
        (Metric::ServerRss, "GB") => 1e9,
        (Metric::ServerRss, "KiB") => 1024.0,
        (Metric::ServerRss, "MiB") => 1024.0 * 1024.0,
        (Metric::ServerRss, "GiB") => 1024.0 * 1024.0 * 1024.0,
        (Metric::Co2PerRequest, "g") => 1.0,
        (Metric::Co2PerRequest, "mg") => 1e-3,
        _ => return Err(invalid(unit_at, "unit does not fit this metric")),
    };
    Ok(Threshold {
        text: text.to_string(),
        metric,
        op,
        bound: number * scale,
    })
}

impl Threshold {
    /// The metric's name as written in expressions.
    pub fn metric_name(&self) -> &'static str {
        match self.metric {
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
            Metric::Co2PerRequest => "co2_per_request",
        }
    }

    /// Checks the threshold against a run.
    pub fn check(&self, run: &RunReport) -> TargetResult {
        let l = &run.totals.latency_us;
        let value = match self.metric {
            Metric::Latency(stat) => Ok(match stat {
                LatencyStat::P50 => l.p50 as f64,
                LatencyStat::P90 => l.p90 as f64,
                LatencyStat::P95 => l.p95 as f64,
                LatencyStat::P99 => l.p99 as f64,
                LatencyStat::P999 => l.p999 as f64,
                LatencyStat::Max => l.max as f64,
                LatencyStat::Mean => l.mean,
            }),
            Metric::Rps => Ok(run.totals.rps),
            Metric::ErrorRate => Ok(if run.totals.requests == 0 {
                0.0
            } else {
                run.totals.errors as f64 / run.totals.requests as f64
            }),
            Metric::ServerRss => match &run.resources {
                Some(r) if r.server.measured => Ok(r.server.peak_rss_bytes as f64),
                Some(r) => Err(r
                    .server
                    .note
                    .as_deref()
                    .unwrap_or("the server's process is unknown")),
                None => Err("process resources were not sampled"),
            },
            Metric::Co2PerRequest => match &run.carbon {
                Some(c) => Ok(c.g_per_request),
                None => Err("carbon per request was not computed"),
            },
        };
        let value = match value {
            Ok(_) if run.totals.requests == 0 => Err("no request completed"),
            other => other,
        };
        let target = self.text[self.metric_name().len()..].trim().to_string();
        let target = if target.is_empty() {
            self.text.clone()
        } else {
            target
        };
        match value {
            Ok(v) => TargetResult {
                name: self.metric_name().to_string(),
                target,
                actual: Some(self.format(v)),
                value: Some(v),
                pass: Some(self.op.holds(v, self.bound)),
                note: None,
            },
            Err(reason) => TargetResult {
                name: self.metric_name().to_string(),
                target,
                actual: None,
                value: None,
                pass: None,
                note: Some(format!("not measured: {reason}")),
            },
        }
    }

    fn format(&self, v: f64) -> String {
        match self.metric {
            Metric::Latency(_) => format_us(v),
            Metric::Rps => format!("{v:.1} req/s"),
            Metric::ErrorRate => format!("{:.3}%", v * 100.0),
            Metric::ServerRss => format!("{:.1} MB", v / 1e6),
            Metric::Co2PerRequest => format!("{v:.6} g"),
        }
    }
}

/// A latency in microseconds, in the unit that reads best.
pub fn format_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
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
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].metric, Metric::Latency(LatencyStat::P99));
        assert_eq!(t[0].op, Op::Lt);
        assert_eq!(t[0].bound, 5000.0);
        assert_eq!(t[1].metric, Metric::Rps);
        assert_eq!(t[1].bound, 100_000.0);
        assert_eq!(t[2].bound, 80e6);
        assert_eq!(t[3].bound, 0.12);
    }

    #[test]
    fn bad_expressions_name_the_text_and_position() {
        let e = parse("p99 = 5ms").unwrap_err();
        assert_eq!(
            e.to_string(),
            "threshold `p99 = 5ms` at character 5: expected one of < <= > >="
        );
        let e = parse("p99 < 5").unwrap_err().to_string();
        assert!(e.contains("at character 8") && e.contains("unit"), "{e}");
        let e = parse("latency < 5ms").unwrap_err().to_string();
        assert!(e.contains("at character 1: unknown metric"), "{e}");
        assert_eq!(parse("error_rate < 1%").unwrap().bound, 0.01);
        assert!(parse_file("thresholds = [\"p99 <\"]", "x.toml").is_err());
        assert!(
            parse_file("thresholds = 3", "x.toml")
                .unwrap_err()
                .to_string()
                .starts_with("x.toml: ")
        );
    }
}
