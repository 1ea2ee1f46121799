//! `koprogo-perf gate`: reads (or makes, with `--runs`) the candidate runs, reads the
//! thresholds and the baseline, decides, prints the checks, and exits 0 (pass), 1 (a
//! check failed) or 2 (the gate could not decide: bad flags or input).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;

use super::report::{Side, append_step_summary};
use crate::cli::{Cli, Command, GateArgs, GateFormat};
use crate::interrupt::{CancellationToken, Interrupted};
use crate::report::InputError;
use crate::report::gate::{self, Options};
use crate::report::runs::{self, LoadedRun};
use crate::report::targets::Threshold;

/// `koprogo-perf gate`. Every error is an input error (exit 2), except Ctrl-C.
pub async fn gate(args: GateArgs, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    match decide(args, cancel).await {
        Err(e) if e.is::<Interrupted>() || e.is::<InputError>() => Err(e),
        Err(e) => Err(InputError(e).into()),
        ok => ok,
    }
}

async fn decide(args: GateArgs, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    if args.runs.is_some() && args.run.is_some() {
        bail!(
            "give RUN or --runs N, not both: --runs makes the candidate runs, RUN reads existing ones"
        );
    }
    if args.runs.is_none() && !args.load.is_empty() {
        bail!("a load command after `--` needs --runs N (how many times to run it)");
    }
    if args.thresholds.is_none() && args.baseline.is_none() {
        bail!(
            "nothing to check: give --thresholds FILE (e.g. profiles/targets.toml), --baseline RUN|DIR, or both"
        );
    }
    // Everything that can be checked before a run is checked before any run.
    let thresholds: Vec<Threshold> = match &args.thresholds {
        Some(path) => crate::report::targets::load_file(path)
            .with_context(|| format!("--thresholds {}", path.display()))?,
        None => Vec::new(),
    };
    let baseline = args
        .baseline
        .as_deref()
        .map(|b| Side::read(Some(b), "--baseline"))
        .transpose()?;
    // A failed run is no reference: its figures are those of a broken target.
    if let Some(b) = &baseline {
        for r in &b.runs {
            let verdict = r.report.effective_verdict();
            if verdict.failed {
                bail!(
                    "the baseline {} is a failed run ({}): gate against a run that succeeded",
                    r.path.display(),
                    verdict.reasons.join("; ")
                );
            }
        }
    }

    let (candidate_label, candidate_runs, candidate) = match args.runs {
        Some(n) => {
            let runs = make_runs(n, &args.load, &cancel).await?;
            let pooled = runs::pool(&runs)?;
            let label = runs
                .first()
                .and_then(|r| r.dir().parent())
                .map_or_else(String::new, |p| p.display().to_string());
            (label, runs, pooled)
        }
        None => {
            let side = Side::read(args.run.as_deref(), "RUN")?;
            (side.label(), side.runs, side.pooled)
        }
    };
    gate::check_endpoints(&thresholds, &candidate)?;
    if let Some(b) = &baseline
        && b.pooled.scenario.name != candidate.scenario.name
    {
        bail!(
            "the baseline {} ran scenario {} and the run {} ran {}: gate runs of one scenario",
            b.label(),
            b.pooled.scenario.name,
            candidate_label,
            candidate.scenario.name
        );
    }

    let options = Options {
        alpha: args.alpha,
        min_effect: args.min_effect,
        tolerance: args.tolerance,
    };
    let verdict = gate::decide(
        &thresholds,
        &gate::Side {
            label: candidate_label,
            runs: &candidate_runs,
            pooled: &candidate,
        },
        baseline
            .as_ref()
            .map(|b| gate::Side {
                label: b.label(),
                runs: &b.runs,
                pooled: &b.pooled,
            })
            .as_ref(),
        &args.metrics,
        &options,
    );

    let text = match args.format {
        GateFormat::Table => gate::table(&verdict),
        GateFormat::Markdown => gate::markdown(&verdict),
        GateFormat::Json => serde_json::to_string_pretty(&verdict)? + "\n",
    };
    write_out(args.out.as_deref(), &text)?;
    append_step_summary(&gate::markdown(&verdict))?;
    if let Some(path) = &args.junit {
        std::fs::write(path, gate::junit(&verdict))
            .with_context(|| format!("--junit {}", path.display()))?;
    }
    if args.out.is_some() || args.format != GateFormat::Table {
        // The verdict's one line, also when the checks went to a file or are not a table.
        eprintln!("{}", gate::headline(&verdict));
    }
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_out(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("--out {}", path.display()))
        }
        None => {
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
    }
}

/// Runs the load `n` times with the `demo`/`load` command line `command` (default
/// `demo`), each into its own directory, and reads the runs back.
async fn make_runs(
    n: u32,
    command: &[String],
    cancel: &CancellationToken,
) -> anyhow::Result<Vec<LoadedRun>> {
    let argv: Vec<String> = if command.is_empty() {
        vec!["demo".into()]
    } else {
        command.to_vec()
    };
    let parse = || {
        Cli::try_parse_from(std::iter::once("koprogo-perf").chain(argv.iter().map(String::as_str)))
            .map_err(|e| {
                let message = e.to_string();
                let first = message.lines().next().unwrap_or_default();
                anyhow::anyhow!(
                    "the load command after `--` ({}): {}",
                    shown_argv(&argv),
                    first.trim_start_matches("error: ")
                )
            })
    };
    let parent = match parse()?.command {
        Command::Demo(a) => a.run.out,
        Command::Load(a) => a.run.out,
        _ => bail!(
            "the command after `--` must be `demo …` or `load …`, not `{}`",
            argv[0]
        ),
    };
    let parent = parent.unwrap_or_else(|| {
        PathBuf::from("reports").join(format!(
            "gate-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    let mut runs = Vec::new();
    for k in 1..=n {
        let out = parent.join(format!("run-{k}"));
        eprintln!("gate: run {k} of {n} into {}", out.display());
        let code = match parse()?.command {
            Command::Demo(mut a) => {
                a.run.out = Some(out.clone());
                super::load::demo(a, cancel.clone()).await
            }
            Command::Load(mut a) => {
                a.run.out = Some(out.clone());
                super::load::load(a, cancel.clone()).await
            }
            _ => unreachable!("checked above"),
        };
        // A run that failed its own verdict still wrote its report: it is a candidate
        // the gate fails (exit 1), not a gate that could not decide.
        let failed_run = || {
            crate::report::RunDir::new(&out)
                .read()
                .ok()
                .is_some_and(|r| r.effective_verdict().failed)
        };
        let code = match code {
            Err(e) if !e.is::<Interrupted>() && failed_run() => {
                eprintln!("gate: run {k} of {n} failed: {e:#}");
                ExitCode::SUCCESS
            }
            other => other.with_context(|| format!("run {k} of {n}"))?,
        };
        if cancel.is_cancelled() {
            return Err(Interrupted.into());
        }
        if code != ExitCode::SUCCESS {
            bail!("run {k} of {n} did not complete (see its output above)");
        }
        runs.extend(runs::load(&out, "run")?);
    }
    Ok(runs)
}

/// A command line as it may be printed: the values of `--login` and `--jwt-secret`
/// hidden, every URL redacted. clap's own message is not shown past its first line,
/// and that line quotes a rejected value only for flags other than those.
fn shown_argv(argv: &[String]) -> String {
    let mut hide_next = false;
    argv.iter()
        .map(|arg| {
            let shown = if hide_next {
                crate::redact::MASK.to_string()
            } else if let Some((flag, _)) = arg.split_once('=').filter(|(f, _)| is_secret_flag(f)) {
                format!("{flag}={}", crate::redact::MASK)
            } else {
                crate::redact::redact(arg)
            };
            hide_next = is_secret_flag(arg);
            shown
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_secret_flag(arg: &str) -> bool {
    matches!(arg, "--login" | "--jwt-secret")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_printed_load_command_holds_no_secret() {
        let argv: Vec<String> = [
            "load",
            "--host",
            "http://u:cAnArY1@h:8080",
            "--login",
            "a@b.be:cAnArY2",
            "--login=a@b.be:cAnArY3",
            "--jwt-secret",
            "cAnArY4",
            "--database-url=postgres://p:cAnArY5@h/d",
            "--vus",
            "x",
        ]
        .map(String::from)
        .to_vec();
        let shown = super::shown_argv(&argv);
        assert!(!shown.contains("cAnArY"), "{shown}");
        assert!(shown.ends_with("--vus x"), "{shown}");
    }
}
