//! `koprogo-perf tune-db`: diff (default), apply or roll back a tuning profile.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::TuneDbArgs;
use crate::interrupt::{CancellationToken, interruptible};
use crate::pg::Database;
use crate::tune::apply::{self, Event, Restarter};
use crate::tune::profile::{self, AutoInputs};
use crate::tune::render;
use crate::tune::{self as engine, RollbackFile};

pub async fn tune_db(args: TuneDbArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    // Everything that can be checked without the database is checked first.
    let mut auto = AutoInputs::detect();
    if let Some(memory) = &args.memory {
        auto.memory_bytes =
            profile::parse_bytes(memory).with_context(|| format!("--memory `{memory}`"))?;
    }
    if let Some(cpus) = args.cpus {
        auto.cpus = cpus;
    }
    auto.connections = args.connections.or(auto.connections);
    auto.storage = args.storage;
    auto.workload = args.workload;
    if args.advise {
        return advise(&args, cancel).await;
    }
    let rollback = match &args.rollback {
        Some(path) => Some((path.clone(), RollbackFile::read(path)?)),
        None => None,
    };
    let profile = match rollback {
        Some(_) => None,
        None => Some(profile::load(&args.profile, &auto)?),
    };

    let mut db = interruptible(cancel, Database::open(args.db.database_url.as_deref())).await?;
    let result = run(&mut db, &args, profile, rollback).await;
    if args.db.keep_db {
        db.keep();
    }
    db.close().await;
    result
}

/// `--advise`: the statements (a run's, or the live view's), the advice, the profile.
async fn advise(args: &TuneDbArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    use crate::report::InputError;
    use crate::tune::advise::{self, Statement};
    if let Some(out) = &args.out
        && out.exists()
    {
        return Err(InputError::msg(format!(
            "--out {}: already exists; give a new file (nothing is overwritten)",
            out.display()
        ))
        .into());
    }
    let from_run = match &args.from {
        Some(path) => {
            let runs = crate::report::runs::load(path, "--from")?;
            let run = runs.into_iter().next().context("--from: no run found")?;
            if !run.report.postgres.measured {
                return Err(InputError::msg(format!(
                    "--from {}: the run has no pg_stat_statements figures ({})",
                    path.display(),
                    run.report.postgres.note.unwrap_or_default()
                ))
                .into());
            }
            let statements: Vec<Statement> = run
                .report
                .postgres
                .statements
                .into_iter()
                .map(|s| Statement {
                    query: s.query,
                    calls: s.calls,
                    total_ms: s.total_ms,
                    rows: s.rows,
                })
                .collect();
            Some((run.path.display().to_string(), statements))
        }
        None => None,
    };
    let db = interruptible(cancel, Database::open(args.db.database_url.as_deref())).await?;
    let result = async {
        let pool = crate::pg::connect(db.url(), 2).await?;
        engine::require_superuser(&pool).await?;
        let (source, statements) = match from_run {
            Some(s) => s,
            None => (
                "the live pg_stat_statements".to_string(),
                advise::live_statements(&pool).await?,
            ),
        };
        let advice = advise::advise(&pool, statements, args.top).await?;
        pool.close().await;
        print!("{}", render::advice(&advice, &source));
        if let Some(out) = &args.out {
            match advice.profile_toml(&source) {
                Some(text) => {
                    std::fs::write(out, text)
                        .with_context(|| format!("writing {}", out.display()))?;
                    println!(
                        "advised indexes written to {} (tune-db --apply --profile {})",
                        out.display(),
                        out.display()
                    );
                }
                None => println!("nothing advised: {} not written", out.display()),
            }
        }
        Ok(ExitCode::SUCCESS)
    }
    .await;
    db.close().await;
    result
}

async fn run(
    db: &mut Database,
    args: &TuneDbArgs,
    profile: Option<profile::Profile>,
    rollback: Option<(PathBuf, RollbackFile)>,
) -> anyhow::Result<ExitCode> {
    let pool = crate::pg::connect(db.url(), 2).await?;
    engine::require_superuser(&pool).await?;
    let restarter = Restarter {
        db,
        command: args.restart_cmd.as_deref(),
    };
    if let Some((path, file)) = rollback {
        let done = apply::roll_back(restarter, pool, &path, file, &mut print_event).await?;
        return rolled_back(&done, &path);
    }
    let profile = profile.expect("a profile unless rolling back");
    let mut diff = engine::plan_with(&pool, profile, args.fk_indexes).await?;
    let impossible = diff.impossible();
    let skipped = if args.skip_invalid {
        diff.skip_impossible()
    } else {
        0
    };
    print!("{}", render::plan(&diff));
    if let Some(error) = impossible {
        if !args.skip_invalid {
            pool.close().await;
            return Err(anyhow::Error::new(error).context(
                "nothing was changed: fix the profile, or pass --skip-invalid to leave these \
                 indexes out",
            ));
        }
        println!("--skip-invalid: {skipped} indexes that cannot exist here are left out:\n{error}");
    }
    let changed = diff.changed().count();
    let to_build = diff.indexes_to_build().count();
    if !args.apply {
        if args.explain {
            print!(
                "{}",
                render::explain(&crate::tune::explain::hot_queries(&pool).await?, None)
            );
        }
        println!(
            "dry run: {changed} of {} settings and {to_build} of {} indexes would change; nothing was changed (apply with --apply)",
            diff.settings.len(),
            diff.indexes.len()
        );
        pool.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let applied = apply::apply(
        restarter,
        pool,
        &diff,
        Path::new("reports"),
        &mut print_event,
    )
    .await?;
    print!("{}", render::verified(&applied.verified));
    for e in &applied.file_errors {
        eprintln!("configuration file error: {e}");
    }
    if let Some((before, after)) = &applied.explain {
        print!("{}", render::explain(before, Some(after)));
    }
    let Some(path) = &applied.rollback_file else {
        println!(
            "nothing to change: every setting and index of profile {} is already in place",
            diff.profile.name
        );
        return Ok(ExitCode::SUCCESS);
    };
    let problems = applied.problems(to_build);
    if !problems.is_empty() {
        anyhow::bail!(
            "after applying, {}; apply again once fixed, or undo with --rollback {}",
            problems.join("; "),
            path.display()
        );
    }
    let pending = applied.pending_restart();
    println!(
        "applied profile {}: {changed} settings changed, {} indexes built{}",
        diff.profile.name,
        applied.built.len(),
        if pending > 0 {
            format!("; {pending} settings take effect after a restart")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints each step of apply and rollback as it happens.
fn print_event(event: Event<'_>) {
    let line = render::event(&event);
    match event {
        Event::IndexFailed { .. } => eprintln!("{line}"),
        _ => println!("{line}"),
    }
}

/// The rollback's table and verdict.
fn rolled_back(done: &apply::RolledBack, path: &Path) -> anyhow::Result<ExitCode> {
    println!("{}", render::rolled_back(done));
    let wrong = done.differing();
    if !wrong.is_empty() {
        anyhow::bail!(
            "rollback from {}: {} did not return to the saved values",
            path.display(),
            wrong.join(", ")
        );
    }
    println!(
        "rolled back {} settings and {} indexes from {}",
        done.settings.len(),
        done.indexes_dropped,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
