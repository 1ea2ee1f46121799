//! Finding and reading the runs that `report` and `gate` look at: a run directory, a
//! run.json, or a directory holding several runs (a baseline); the newest run under
//! `reports/` by default; and several runs pooled into one for display and thresholds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::InputError;
use crate::report::run::{Latency, RunReport, SCHEMA_VERSION, decode_histogram, encode_histogram};
use crate::report::tally::Tally;

/// One run.json, read.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    /// The run.json file.
    pub path: PathBuf,
    /// The run.
    pub report: RunReport,
}

impl LoadedRun {
    /// The directory the run.json is in (where its flamegraph is).
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Reads the runs at `path`: a run.json file; a directory with a run.json; or a directory
/// of runs (`*/run.json` and `*.json` directly inside it, in name order).
pub fn load(path: &Path, what: &str) -> Result<Vec<LoadedRun>, InputError> {
    let files = run_files(path, what)?;
    files.into_iter().map(|f| read(&f, what)).collect()
}

fn run_files(path: &Path, what: &str) -> Result<Vec<PathBuf>, InputError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(InputError::msg(format!(
            "{what} {}: no such file or directory (give a run directory, its run.json, or a directory of runs)",
            path.display()
        )));
    }
    let single = path.join("run.json");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| InputError::msg(format!("{what} {}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter_map(|p| {
            if p.is_dir() {
                Some(p.join("run.json")).filter(|f| f.is_file())
            } else {
                (p.extension().is_some_and(|x| x == "json")).then_some(p)
            }
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(InputError::msg(format!(
            "{what} {} holds no run.json (nor run directories): point it at a run made by `koprogo-perf demo` or `load`",
            path.display()
        )));
    }
    Ok(files)
}

fn read(path: &Path, what: &str) -> Result<LoadedRun, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::msg(format!("{what} {}: {e}", path.display())))?;
    let version: Option<u64> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("schema_version").and_then(|v| v.as_u64()));
    if let Some(v) = version.filter(|v| *v != u64::from(SCHEMA_VERSION)) {
        return Err(InputError::msg(format!(
            "{what} {}: run.json schema version {v}, this koprogo-perf reads version {SCHEMA_VERSION}",
            path.display()
        )));
    }
    let report: RunReport = serde_json::from_str(&text).map_err(|e| {
        InputError::msg(format!(
            "{what} {} is not a koprogo-perf run.json: {e}",
            path.display()
        ))
    })?;
    // Every histogram decodes, or the file is refused now with its name (not later
    // with a decoder's message and no file).
    let histograms = std::iter::once(("the overall histogram".to_string(), &report.histogram))
        .chain(
            report
                .endpoints
                .iter()
                .map(|e| (format!("the histogram of {}", e.name), &e.histogram)),
        );
    for (which, text) in histograms {
        decode_histogram(text).map_err(|e| {
            InputError::msg(format!(
                "{what} {}: {which} is corrupt: {e:#}",
                path.display()
            ))
        })?;
    }
    Ok(LoadedRun {
        path: path.to_path_buf(),
        report,
    })
}

/// The newest run.json under `reports` (by modification time), leaving out the committed
/// `reports/baseline/`: one level down (`reports/<timestamp>/run.json`) or two (a gate's
/// `reports/gate-<timestamp>/run-N/run.json`).
pub fn newest(reports: &Path) -> Result<PathBuf, InputError> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let mut visit = |dir: &Path| {
        let file = dir.join("run.json");
        if let Ok(meta) = std::fs::metadata(&file)
            && let Ok(modified) = meta.modified()
        {
            found.push((modified, file));
        }
    };
    for entry in std::fs::read_dir(reports).into_iter().flatten().flatten() {
        let dir = entry.path();
        if !dir.is_dir() || entry.file_name() == "baseline" {
            continue;
        }
        visit(&dir);
        for sub in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if sub.path().is_dir() {
                visit(&sub.path());
            }
        }
    }
    found
        .into_iter()
        .max()
        .map(|(_, path)| path)
        .ok_or_else(|| {
            InputError::msg(format!(
                "no run under {}/: pass RUN (a run directory or its run.json), or make one with `koprogo-perf demo`",
                reports.display()
            ))
        })
}

/// Several runs as one: histograms merged (so percentiles are those of all requests
/// together), counts added, rates over the summed durations. Everything that is not
/// additive (statements, resources, carbon, series, flamegraph) is the first run's.
/// One run is returned as it is.
pub fn pool(runs: &[LoadedRun]) -> anyhow::Result<RunReport> {
    let first = runs
        .first()
        .ok_or_else(|| anyhow::anyhow!("no run to pool"))?;
    if runs.len() == 1 {
        return Ok(first.report.clone());
    }
    let mut pooled = first.report.clone();
    let duration: f64 = runs.iter().map(|r| r.report.duration_s).sum();
    let rate = |n: u64| {
        if duration > 0.0 {
            (n as f64 / duration * 1000.0).round() / 1000.0
        } else {
            0.0
        }
    };

    let mut tally = Tally::default();
    for run in runs {
        let one = Tally::decode(&run.report)
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.path.display()))?;
        tally
            .add(&one)
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.path.display()))?;
    }
    let all = &tally.ok;
    let requests: u64 = runs.iter().map(|r| r.report.totals.requests).sum();
    pooled.totals.requests = requests;
    pooled.totals.errors = runs.iter().map(|r| r.report.totals.errors).sum();
    // Throughput of the successful responses, like each run's.
    pooled.totals.rps = rate(all.len());
    pooled.totals.latency_us = Latency::of(all);
    pooled.totals.latency_uncorrected_us = None;
    pooled.histogram = encode_histogram(all);
    pooled.duration_s = duration;
    pooled.warmup_requests = runs.iter().map(|r| r.report.warmup_requests).sum();
    pooled.skipped_requests = runs.iter().map(|r| r.report.skipped_requests).sum();
    pooled.unsent = BTreeMap::new();
    for r in runs {
        crate::report::run::add_map(&mut pooled.unsent, &r.report.unsent);
    }
    pooled.relogins = runs.iter().map(|r| r.report.relogins).sum();
    pooled.network_bytes = runs.iter().map(|r| r.report.network_bytes).sum();
    pooled.interrupted = runs.iter().any(|r| r.report.interrupted);
    pooled.host_down = runs.iter().any(|r| r.report.host_down);
    pooled.merged_from = runs.iter().map(|r| r.dir().display().to_string()).collect();

    // Rates over the summed durations; the pooled failed latencies are not kept (the
    // gate does not compare them).
    pooled.endpoints = tally.endpoint_reports(|e| rate(e.ok.len()), false);
    pooled.totals.failed_latency_us = None;
    Ok(pooled.with_totals_counted())
}

/// A short label for a set of runs: `reports/x` or `reports/baseline (3 runs)`.
pub fn label(path: &Path, runs: &[LoadedRun]) -> String {
    if runs.len() == 1 {
        runs[0].dir().display().to_string()
    } else {
        format!("{} ({} runs)", path.display(), runs.len())
    }
}
