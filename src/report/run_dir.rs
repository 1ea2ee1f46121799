//! A run directory: `run.json`, `latency.hgrm`, `latency.hlog` and `report.html`. The
//! one place that knows those files' names and writes or reads them as a run's
//! (`load`, `merge` and an experiment's runs write here; `merge` and `gate` read).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::report::merge::{IntervalLog, parse_interval_log};
use crate::report::{RunReport, hgrm, hlog};

/// The directory of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

/// The run's report.
pub const RUN_JSON: &str = "run.json";
/// The overall histogram as a percentile distribution (HdrHistogram's text form).
pub const HGRM: &str = "latency.hgrm";
/// The rendered page.
pub const REPORT_HTML: &str = "report.html";

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its run.json.
    pub fn run_json(&self) -> PathBuf {
        self.path.join(RUN_JSON)
    }

    /// Its report.html.
    pub fn report_html(&self) -> PathBuf {
        self.path.join(REPORT_HTML)
    }

    /// Reads its run.json.
    pub fn read(&self) -> anyhow::Result<RunReport> {
        RunReport::read(&self.run_json())
    }

    /// Reads its latency.hlog; `None` when it has none.
    pub fn read_hlog(&self) -> anyhow::Result<Option<IntervalLog>> {
        let path = self.path.join(hlog::FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(
                parse_interval_log(&text).with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `run.json`, `latency.hgrm` and (when the run has intervals)
    /// `latency.hlog` (the directory is created if needed).
    pub fn write(&self, report: &RunReport) -> anyhow::Result<()> {
        let dir = &self.path;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the output directory {}", dir.display()))?;
        let json = serde_json::to_string_pretty(report).context("serializing run.json")?;
        let path = self.run_json();
        std::fs::write(&path, json + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        let histogram = report.overall_histogram()?;
        let path = dir.join(HGRM);
        std::fs::write(&path, hgrm::percentile_distribution(&histogram, 1000.0))
            .with_context(|| format!("writing {}", path.display()))?;
        if let Some(hlog) = &report.hlog {
            let path = dir.join(hlog::FILE_NAME);
            std::fs::write(&path, hlog).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// [`RunDir::write`] over an older run (`merge --force`): the old run's report.html
    /// and flamegraph, and its latency.hlog when the new run has none, are removed so
    /// that nothing beside the new run.json describes another run.
    pub fn replace(&self, report: &RunReport) -> anyhow::Result<()> {
        let mut stale = vec![REPORT_HTML, "flamegraph.svg"];
        if report.hlog.is_none() {
            stale.push(hlog::FILE_NAME);
        }
        for name in stale {
            let path = self.path.join(name);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e)
                        .with_context(|| format!("removing the stale {}", path.display()));
                }
                _ => {}
            }
        }
        self.write(report)
    }
}
