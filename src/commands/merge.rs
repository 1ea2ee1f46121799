//! `koprogo-perf merge RUN_DIR... --out DIR`: runs made at the same time by several load
//! machines, combined into one run directory (run.json, latency.hgrm, latency.hlog) that
//! reads like any other. Every input is read and the merge is built in memory first, so
//! a refused merge writes nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::MergeArgs;
use crate::report::RunDir;
use crate::report::merge::{Input, MergeError};
use crate::report::run_dir::Run;

/// `koprogo-perf merge`.
pub async fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let inputs = read_inputs(&args)?;
    let merged = crate::report::merge::merge(&inputs)?;
    let mut run = Run {
        report: merged.report,
        hlog: merged.hlog,
    };
    let thresholds = crate::report::targets::guide_targets()?;
    run.report.targets = crate::report::targets::check_all(&thresholds, &run.report);
    let report = &run.report;

    println!("{}", crate::report::tables::endpoints(report));
    println!("{}", crate::report::tables::targets(&report.targets));
    for note in &merged.notes {
        eprintln!("note: {note}");
    }
    RunDir::new(&args.out).replace(&run)?;
    println!(
        "merged {} runs: {} requests, {:.1} req/s, p99 {}, {} errors; wrote {}, latency.hgrm{}",
        report.merged_from.len(),
        report.totals.requests,
        report.totals.rps,
        crate::units::format_us(report.totals.latency_us.p99 as f64),
        report.totals.errors,
        args.out.join("run.json").display(),
        if run.hlog.is_some() {
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
            let run = RunDir::new(dir);
            let report = run.read()?;
            let hlog = run.read_hlog()?;
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
