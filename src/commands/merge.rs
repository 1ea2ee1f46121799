//! `koprogo-perf merge RUN_DIR... --out DIR`: runs made at the same time by several load
//! machines, combined into one run directory (run.json, latency.hgrm, latency.hlog) that
//! reads like any other. Every input is read and the merge is built in memory first, so
//! a refused merge writes nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::MergeArgs;
use crate::report::RunReport;
use crate::report::hlog::FILE_NAME as HLOG;
use crate::report::merge::{Input, MergeError, parse_interval_log};

/// `koprogo-perf merge`.
pub async fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let inputs = read_inputs(&args)?;
    let merged = crate::report::merge::merge(&inputs)?;
    let mut report = merged.report;
    let thresholds = crate::report::targets::guide_targets()?;
    report.targets = crate::report::targets::check_all(&thresholds, &report);

    println!("{}", crate::report::tables::endpoints(&report));
    println!("{}", crate::report::tables::targets(&report.targets));
    for note in &merged.notes {
        eprintln!("note: {note}");
    }
    write(&args.out, &report)?;
    println!(
        "merged {} runs: {} requests, {:.1} req/s, p99 {}, {} errors; wrote {}, latency.hgrm{}",
        report.merged_from.len(),
        report.totals.requests,
        report.totals.rps,
        crate::units::format_us(report.totals.latency_us.p99 as f64),
        report.totals.errors,
        args.out.join("run.json").display(),
        if report.hlog.is_some() {
            " and latency.hlog"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Checks the arguments and reads every run (run.json, and latency.hlog when present).
fn read_inputs(args: &MergeArgs) -> anyhow::Result<Vec<Input>> {
    let names: Vec<String> = args.runs.iter().map(|p| p.display().to_string()).collect();
    if args.runs.len() < 2 {
        // Invalid input (exit 2), as a usage error would be.
        return Err(crate::report::InputError(
            MergeError::TooFew(match names.first() {
                Some(n) => format!("only {n}"),
                None => "none".into(),
            })
            .into(),
        )
        .into());
    }
    if args.out.exists() && !args.out.is_dir() {
        return Err(crate::report::InputError::msg(format!(
            "--out {} is a file, not a directory: choose a directory (nothing was written)",
            args.out.display()
        ))
        .into());
    }
    let out_json = args.out.join("run.json");
    if out_json.exists() && !args.force {
        anyhow::bail!(
            "{} already holds a run.json: choose another --out, or --force to replace it",
            args.out.display()
        );
    }
    let out = canonical(&args.out);
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    for (path, name) in args.runs.iter().zip(&names) {
        // A missing directory is reported when its run.json is read.
        let Some(real) = canonical(path) else {
            continue;
        };
        if out.as_ref() == Some(&real) {
            anyhow::bail!(
                "{name} is the --out directory: list only the runs to merge (e.g. /results/[0-9]*)"
            );
        }
        if let Some((_, other)) = seen.iter().find(|(p, _)| *p == real) {
            anyhow::bail!("{name} and {other} are the same run directory: each run counts once");
        }
        seen.push((real, name));
    }
    args.runs
        .iter()
        .zip(names)
        .map(|(dir, name)| {
            let report = RunReport::read(&dir.join("run.json"))?;
            let hlog_path = dir.join(HLOG);
            let hlog = match std::fs::read_to_string(&hlog_path) {
                Ok(text) => Some(
                    parse_interval_log(&text)
                        .with_context(|| format!("reading {}", hlog_path.display()))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(e).with_context(|| format!("reading {}", hlog_path.display()));
                }
            };
            Ok(Input {
                dir: name,
                report,
                hlog,
            })
        })
        .collect()
}

/// The path with symlinks and `..` resolved; `None` when it does not exist.
fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// Writes run.json, latency.hgrm and latency.hlog as `load` does; without a merged
/// interval log, removes a stale one that --force would otherwise leave beside the new
/// run.json.
fn write(out: &Path, report: &RunReport) -> anyhow::Result<()> {
    // An old run's report.html and flamegraph would describe another run.
    for stale in ["report.html", "flamegraph.svg"] {
        let path = out.join(stale);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing the stale {}", path.display()));
            }
            _ => {}
        }
    }
    if report.hlog.is_none() {
        let path = out.join(HLOG);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing the stale {}", path.display()));
            }
            _ => {}
        }
    }
    crate::report::write_run(out, report)
}
