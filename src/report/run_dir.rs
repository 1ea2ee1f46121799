//! A run directory: `run.json`, `latency.hgrm`, `latency.hlog` and `report.html`. The
//! one place that knows those files' names and writes or reads them as a run's
//! (`load`, `merge` and an experiment's runs write here; `report`, `merge` and `gate`
//! read; `report --format html` writes its page here).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::InputError;
use crate::report::merge::{IntervalLog, parse_interval_log};
use crate::report::run::SCHEMA_VERSION;
use crate::report::{RunReport, hgrm, hlog};

/// The directory of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

/// What a run directory holds besides its page: the report (run.json, and
/// latency.hgrm from its histogram) and, when the run has one, its interval log.
#[derive(Debug, Clone)]
pub struct Run {
    /// run.json.
    pub report: RunReport,
    /// `latency.hlog`, when written.
    pub hlog: Option<hlog::Log>,
}

/// The run's report.
pub const RUN_JSON: &str = "run.json";
/// The overall histogram as a percentile distribution (HdrHistogram's text form).
pub const HGRM: &str = "latency.hgrm";
/// The rendered page.
pub const REPORT_HTML: &str = "report.html";

impl RunDir {
    /// The run directory at `path` (nothing is read or created yet).
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    /// Where it is.
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

    /// Reads its run.json as `report` and `gate` do: a version this tool does not read,
    /// a file that is not a run.json, and a corrupt histogram are each one line naming
    /// the file and `what` (the argument it came from).
    pub fn read_checked(&self, what: &str) -> Result<RunReport, InputError> {
        read_run_json(&self.run_json(), what)
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
    pub fn write(&self, run: &Run) -> anyhow::Result<()> {
        let dir = &self.path;
        let report = &run.report;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the output directory {}", dir.display()))?;
        let json = serde_json::to_string_pretty(report).context("serializing run.json")?;
        let path = self.run_json();
        std::fs::write(&path, json + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        let path = dir.join(HGRM);
        std::fs::write(
            &path,
            hgrm::percentile_distribution(&report.histogram, 1000.0),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        if let Some(log) = &run.hlog {
            let path = dir.join(hlog::FILE_NAME);
            let text = log
                .render()
                .with_context(|| format!("writing {}", path.display()))?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// [`RunDir::write`] over an older run (`merge --force`): the old run's report.html
    /// and flamegraphs, and its latency.hlog when the new run has none, are removed so
    /// that nothing beside the new run.json describes another run.
    pub fn replace(&self, run: &Run) -> anyhow::Result<()> {
        let mut stale = vec![
            REPORT_HTML,
            "flamegraph.svg",
            crate::measure::heap::SVG_FILE_NAME,
        ];
        if run.hlog.is_none() {
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
        self.write(run)
    }

    /// Writes its report.html; returns the file's path.
    pub fn write_html(&self, page: &str) -> anyhow::Result<PathBuf> {
        let path = self.report_html();
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl RunReport {
    /// Reads a run.json.
    pub fn read(path: &Path) -> anyhow::Result<RunReport> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a run.json", path.display()))
    }
}

/// Reads a run.json file, which may stand loose in a directory of runs (`*.json`): see
/// [`RunDir::read_checked`].
pub fn read_run_json(path: &Path, what: &str) -> Result<RunReport, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::msg(format!("{what} {}: {e}", path.display())))?;
    let value: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let version = value
        .as_ref()
        .and_then(|v| v.get("schema_version").and_then(|v| v.as_u64()));
    if let Some(v) = version.filter(|v| *v != u64::from(SCHEMA_VERSION)) {
        return Err(InputError::msg(format!(
            "{what} {}: run.json schema version {v}, this koprogo-perf reads version {SCHEMA_VERSION}",
            path.display()
        )));
    }
    serde_json::from_str(&text).map_err(|e| {
        // The histograms decode as the file is read: name the one that does not (not
        // the decoder's message at a line and column).
        match value.as_ref().and_then(corrupt_histogram) {
            Some((which, why)) => InputError::msg(format!(
                "{what} {}: {which} is corrupt: {why}",
                path.display()
            )),
            None => InputError::msg(format!(
                "{what} {} is not a koprogo-perf run.json: {e}",
                path.display()
            )),
        }
    })
}

/// The first histogram of a run.json (as JSON) that does not decode, and why.
fn corrupt_histogram(run: &serde_json::Value) -> Option<(String, String)> {
    let decodes = |v: Option<&serde_json::Value>| match v.and_then(|v| v.as_str()) {
        Some(text) => crate::latency::decode_histogram(text)
            .err()
            .map(|e| format!("{e:#}")),
        None => None,
    };
    if let Some(why) = decodes(run.get("histogram")) {
        return Some(("the overall histogram".into(), why));
    }
    for e in run.get("endpoints")?.as_array()? {
        let name = e.get("name").and_then(|n| n.as_str()).unwrap_or("?");
        if let Some(why) = decodes(e.get("histogram")) {
            return Some((format!("the histogram of {name}"), why));
        }
        if let Some(why) = decodes(e.get("failed_histogram")) {
            return Some((format!("the failed histogram of {name}"), why));
        }
    }
    None
}
