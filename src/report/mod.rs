//! Run output: the `run.json` contract, the targets check, the terminal tables and
//! HdrHistogram's percentile-distribution text (`latency.hgrm`) and interval log
//! (`hlog`); `merge` of several machines' runs; reading runs back (`runs`), comparing
//! them (`compare`), and showing them (`sections` rendered by `tables`, `markdown`,
//! `html` with `charts`); an experiment's arms side by side (`experiment`); the
//! performance gate (`gate`, `stats`).

pub mod charts;
pub mod compare;
pub mod experiment;
pub mod gate;
pub mod hgrm;
pub mod hlog;
pub mod html;
pub mod markdown;
pub mod merge;
pub mod run;
pub mod runs;
pub mod sections;
pub mod stats;
pub mod tables;
pub mod targets;
pub mod verdict;

use std::path::Path;

use anyhow::Context;

pub use run::RunReport;

/// Writes `run.json`, `latency.hgrm` and (when the run has intervals) `latency.hlog` into `dir` (created if needed).
pub fn write_run(dir: &Path, report: &RunReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the output directory {}", dir.display()))?;
    let json = serde_json::to_string_pretty(report).context("serializing run.json")?;
    let path = dir.join("run.json");
    std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    let histogram = report.overall_histogram()?;
    let path = dir.join("latency.hgrm");
    std::fs::write(&path, hgrm::percentile_distribution(&histogram, 1000.0))
        .with_context(|| format!("writing {}", path.display()))?;
    if let Some(hlog) = &report.hlog {
        let path = dir.join(hlog::FILE_NAME);
        std::fs::write(&path, hlog).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Something the user gave (a file, a flag's value) cannot be used: the command exits
/// with code 2, as for a usage error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct InputError(#[from] pub anyhow::Error);

impl InputError {
    /// An input error with this message.
    pub fn msg(message: impl std::fmt::Display) -> InputError {
        InputError(anyhow::anyhow!("{message}"))
    }
}
