//! `koprogo-perf report`: reads a run (and a baseline), renders it as terminal tables,
//! Markdown, JSON or HTML, and writes it to standard output, a file, and for Markdown
//! `$GITHUB_STEP_SUMMARY`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{ReportArgs, ReportFormat};
use crate::report::compare::{Comparison, compare};
use crate::report::runs::{self, LoadedRun};
use crate::report::{InputError, RunReport};

/// Runs read from one argument, pooled when there are several.
pub struct Side {
    /// The argument (or the newest run found).
    pub path: PathBuf,
    pub runs: Vec<LoadedRun>,
    /// The runs as one.
    pub pooled: RunReport,
}

impl Side {
    /// Reads RUN (or the newest run under reports/ when `None`); `what` names the
    /// argument in errors.
    pub fn read(path: Option<&Path>, what: &str) -> Result<Side, InputError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => runs::newest(Path::new("reports"))?,
        };
        let runs = runs::load(&path, what)?;
        let pooled = runs::pool(&runs)
            .map_err(|e| InputError::msg(format!("{what} {}: {e:#}", path.display())))?;
        Ok(Side { path, runs, pooled })
    }

    /// `reports/x` or `reports/baseline (3 runs)`.
    pub fn label(&self) -> String {
        runs::label(&self.path, &self.runs)
    }

    /// The directory of the (first) run, where its flamegraph is.
    pub fn dir(&self) -> &Path {
        self.runs[0].dir()
    }
}

/// experiment.json at `path` (the file, or a directory holding it), when it is one.
fn experiment_file(path: Option<&Path>) -> Option<PathBuf> {
    let path = path?;
    if path.file_name().is_some_and(|n| n == "experiment.json") {
        return Some(path.to_path_buf());
    }
    let file = path.join("experiment.json");
    file.is_file().then_some(file)
}

/// `report` of an experiment: the same formats as a run's.
fn experiment(args: &ReportArgs, file: &Path) -> anyhow::Result<ExitCode> {
    if args.baseline.is_some() {
        return Err(InputError::msg(
            "--baseline applies to runs: an experiment compares its arms with its own baseline arm",
        )
        .into());
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError::msg(format!("RUN {}: {e}", file.display())))?;
    let x: crate::experiment::ExperimentReport = serde_json::from_str(&text).map_err(|e| {
        InputError::msg(format!(
            "RUN {}: not an experiment.json of this version ({e})",
            file.display()
        ))
    })?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let text = match args.format {
        ReportFormat::Table => crate::experiment::render::table(&x),
        ReportFormat::Markdown => crate::experiment::render::markdown(&x),
        ReportFormat::Json => serde_json::to_string_pretty(&x)? + "\n",
        ReportFormat::Html => crate::experiment::render::html(&x, dir)?,
    };
    let out = match (&args.out, args.format) {
        (Some(out), _) => Some(out.clone()),
        (None, ReportFormat::Html) => Some(dir.join("report.html")),
        (None, _) => None,
    };
    emit(&text, out.as_deref(), args.format)
}

/// Writes `text` to `out` or standard output; Markdown also to $GITHUB_STEP_SUMMARY.
fn emit(text: &str, out: Option<&Path>, format: ReportFormat) -> anyhow::Result<ExitCode> {
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = stdout.write_all(text.as_bytes());
        }
    }
    if format == ReportFormat::Markdown {
        append_step_summary(text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `koprogo-perf report`.
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = experiment_file(args.run.as_deref()) {
        return experiment(&args, &file);
    }
    let run = Side::read(args.run.as_deref(), "RUN")?;
    let baseline = args
        .baseline
        .as_deref()
        .map(|b| Side::read(Some(b), "--baseline"))
        .transpose()?;
    let mut pooled = run.pooled.clone();
    if run.runs.len() > 1 {
        // The stored targets were checked per run; check the guide's on the pool.
        let targets = crate::report::targets::guide_targets()?;
        pooled.targets = crate::report::targets::check_all(&targets, &pooled);
    }
    let comparison: Option<Comparison> = baseline
        .as_ref()
        .map(|b| compare(&pooled, &b.pooled, &b.label(), b.runs.len()));
    let sections = crate::report::sections::sections(&pooled, comparison.as_ref());

    let text = match args.format {
        ReportFormat::Table => {
            let mut text = format!(
                "run: {} ({}, {} users, {:.1} s steady, started {})\n\n",
                run.label(),
                pooled.scenario.name,
                pooled.vus,
                pooled.duration_s,
                pooled.started_at
            );
            text.push_str(&crate::report::tables::render(&sections));
            text
        }
        ReportFormat::Markdown => crate::report::markdown::report(&pooled, &sections),
        ReportFormat::Json => {
            let value = match &comparison {
                None => serde_json::to_value(&pooled)?,
                Some(c) => serde_json::json!({ "run": pooled, "comparison": c }),
            };
            serde_json::to_string_pretty(&value)? + "\n"
        }
        ReportFormat::Html => {
            let label = baseline.as_ref().map(|b| b.label()).unwrap_or_default();
            crate::report::html::render(
                &pooled,
                sections,
                baseline.as_ref().map(|b| crate::report::html::Baseline {
                    run: &b.pooled,
                    label: &label,
                }),
                run.dir(),
            )?
        }
    };

    if args.out.is_none() && args.format == ReportFormat::Html {
        // The page of a run goes beside its run.json.
        let path = crate::report::RunDir::new(run.dir()).write_html(&text)?;
        eprintln!("wrote {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    emit(&text, args.out.as_deref(), args.format)
}

/// Appends Markdown to the file `$GITHUB_STEP_SUMMARY` names, when it is set.
pub fn append_step_summary(markdown: &str) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening $GITHUB_STEP_SUMMARY {}", path.display()))?;
    file.write_all(markdown.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .with_context(|| format!("appending to $GITHUB_STEP_SUMMARY {}", path.display()))?;
    Ok(())
}
