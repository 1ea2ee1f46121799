//! Run output: the `run.json` contract, `merge` of several machines' runs, the targets
//! check, the terminal tables and HdrHistogram's percentile-distribution text
//! (`latency.hgrm`).

pub mod hgrm;
pub mod hlog;
pub mod merge;
pub mod run;
pub mod tables;
pub mod targets;

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
