//! Finding and reading the runs that `report` and `gate` look at: a run directory, a
//! run.json, or a directory holding several runs (a baseline); the newest run under
//! `reports/` by default; and several runs pooled into one for display and thresholds.

use std::path::{Path, PathBuf};

use crate::error::InputError;
use crate::report::run::RunReport;
use crate::report::tally::{Rates, Tally};

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
    Ok(LoadedRun {
        path: path.to_path_buf(),
        report: crate::report::run_dir::read_run_json(path, what)?,
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
    let mut tally = Tally::default();
    for run in runs {
        tally += &Tally::from(&run.report);
    }
    let mut pooled = first.report.clone();
    // One run after another: rates over the summed durations. The pooled failed
    // latencies are not kept (the gate does not compare them).
    let duration: f64 = runs.iter().map(|r| r.report.duration_s).sum();
    pooled.duration_s = duration;
    tally.fill(&mut pooled, Rates::Over(duration), false);
    pooled.merged_from = runs.iter().map(|r| r.dir().display().to_string()).collect();
    Ok(pooled)
}

/// A short label for a set of runs: `reports/x` or `reports/baseline (3 runs)`.
pub fn label(path: &Path, runs: &[LoadedRun]) -> String {
    if runs.len() == 1 {
        runs[0].dir().display().to_string()
    } else {
        format!("{} ({} runs)", path.display(), runs.len())
    }
}
