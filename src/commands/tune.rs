//! `koprogo-perf tune-db`: diff (default), apply or roll back a tuning profile.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use sqlx::PgPool;

use crate::cli::TuneDbArgs;
use crate::pg::Database;
use crate::tune::explain::PlanSummary;
use crate::tune::profile::{self, AutoInputs};
use crate::tune::{self as engine, Needs, Plan, RollbackFile};

pub async fn tune_db(args: TuneDbArgs) -> anyhow::Result<ExitCode> {
    // Everything that can be checked without the database is checked first.
    let mut auto = AutoInputs::detect();
    if let Some(memory) = &args.memory {
        auto.memory_bytes = parse_bytes(memory).with_context(|| format!("--memory `{memory}`"))?;
    }
    if let Some(cpus) = args.cpus {
        auto.cpus = cpus;
    }
    auto.connections = args.connections.or(auto.connections);
    auto.storage = args.storage;
    auto.workload = args.workload;
    let rollback = match &args.rollback {
        Some(path) => Some((path.clone(), RollbackFile::read(path)?)),
        None => None,
    };
    let profile = match rollback {
        Some(_) => None,
        None => Some(profile::load(&args.profile, &auto)?),
    };

    let mut db = super::interruptible(Database::open(args.db.database_url.as_deref())).await?;
    let result = run(&mut db, &args, profile, rollback).await;
    if args.db.keep_db {
        db.keep();
    }
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
    if let Some((path, file)) = rollback {
        return roll_back(db, pool, args, &path, file).await;
    }
    let profile = profile.expect("a profile unless rolling back");
    let plan = engine::plan(&pool, profile).await?;
    print_plan(&plan);
    let unindexed = engine::indexes::unindexed_foreign_keys(&pool).await?;
    if !unindexed.is_empty() {
        println!(
            "foreign keys that no index leads with ({}):",
            unindexed.len()
        );
        for fk in &unindexed {
            println!(
                "  {} ({}) — {}",
                fk.table_name, fk.columns, fk.constraint_name
            );
        }
    }
    let changed = plan.changed().count();
    let to_build = plan.indexes_to_build().count();
    if !args.apply {
        if args.explain {
            print_explain(&crate::tune::explain::hot_queries(&pool).await?, None);
        }
        println!(
            "dry run: {changed} of {} settings and {to_build} of {} indexes would change; nothing was changed (apply with --apply)",
            plan.settings.len(),
            plan.indexes.len()
        );
        pool.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    if plan.is_noop() {
        ensure_extension(&pool).await?;
        let verified = engine::verify(&pool, &plan).await?;
        print_verified(&verified);
        println!(
            "nothing to change: every setting and index of profile {} is already in place",
            plan.profile.name
        );
        pool.close().await;
        return Ok(ExitCode::SUCCESS);
    }

    // 1. The rollback file, before any change.
    let names: Vec<String> = plan.settings.iter().map(|s| s.name.clone()).collect();
    let mut saved = RollbackFile {
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        profile: plan.profile.name.clone(),
        database: db.display_url(),
        settings: engine::snapshot(&pool, &names).await?,
        indexes_created: Vec::new(),
    };
    let path = Path::new("reports").join(format!(
        "tune-{}.json",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    ));
    saved.write(&path)?;
    println!(
        "rollback file: {} (undo with --rollback {})",
        path.display(),
        path.display()
    );
    let before = if to_build > 0 {
        crate::tune::explain::hot_queries(&pool).await?
    } else {
        Vec::new()
    };

    // 2. Settings, one ALTER SYSTEM each, then a reload and, if needed, a restart.
    for s in plan.changed() {
        engine::alter_system_set(&pool, &s.name, &s.target).await?;
    }
    engine::reload(&pool).await?;
    let restart: Vec<&str> = plan
        .changed()
        .filter(|s| s.needs == Needs::Restart)
        .map(|s| s.name.as_str())
        .collect();
    let pool = if restart.is_empty() {
        pool
    } else {
        restart_server(db, pool, args, &restart).await?
    };

    // 3. pg_stat_statements in this database, then the indexes.
    ensure_extension(&pool).await?;
    let created = engine::build_indexes(&pool, &plan, |name, action, took| {
        println!("index {name}: {action:?} in {:.2} s", took.as_secs_f64());
    })
    .await;
    // Whatever was built is recorded for the rollback, even when a later one failed.
    let created = match created {
        Ok(c) => c,
        Err(e) => {
            saved.write(&path)?;
            return Err(e);
        }
    };
    saved.indexes_created = created;
    saved.write(&path)?;

    // 4. Read everything back.
    let verified = engine::verify(&pool, &plan).await?;
    print_verified(&verified);
    let errors = engine::file_errors(&pool).await?;
    for e in &errors {
        eprintln!("configuration file error: {e}");
    }
    if to_build > 0 {
        let after = crate::tune::explain::hot_queries(&pool).await?;
        print_explain(&before, Some(&after));
    }
    pool.close().await;
    let wrong: Vec<&str> = verified
        .iter()
        .filter(|v| !v.ok && !v.pending_restart)
        .map(|v| v.name.as_str())
        .collect();
    if !wrong.is_empty() || !errors.is_empty() {
        anyhow::bail!(
            "after applying, {} do not read back as the profile says{}; undo with --rollback {}",
            wrong.join(", "),
            if errors.is_empty() {
                ""
            } else {
                " and the configuration files have errors"
            },
            path.display()
        );
    }
    let pending = verified.iter().filter(|v| v.pending_restart).count();
    println!(
        "applied profile {}: {changed} settings changed, {} indexes built{}",
        plan.profile.name,
        saved.indexes_created.len(),
        if pending > 0 {
            format!("; {pending} settings take effect after a restart")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Restores a rollback file: the saved values (RESET where auto.conf held none), reload,
/// restart when needed, drop the indexes that apply created, verify.
async fn roll_back(
    db: &mut Database,
    pool: PgPool,
    args: &TuneDbArgs,
    path: &Path,
    file: RollbackFile,
) -> anyhow::Result<ExitCode> {
    for s in &file.settings {
        match &s.auto_conf {
            Some(value) => engine::alter_system_set(&pool, &s.name, value).await?,
            None => engine::alter_system_reset(&pool, &s.name).await?,
        }
    }
    engine::reload(&pool).await?;
    let server = engine::read_settings(&pool).await?;
    let restart: Vec<&str> = file
        .settings
        .iter()
        .filter(|s| server.get(&s.name).is_some_and(|r| r.pending_restart))
        .map(|s| s.name.as_str())
        .collect();
    let pool = if restart.is_empty() {
        pool
    } else {
        restart_server(db, pool, args, &restart).await?
    };
    for name in &file.indexes_created {
        engine::indexes::drop(&pool, name)
            .await
            .with_context(|| format!("dropping index {name}"))?;
        println!("index {name}: dropped");
    }
    let server = engine::read_settings(&pool).await?;
    let mut table = table(&["setting", "restored", "in effect", "state"]);
    let mut wrong = Vec::new();
    for s in &file.settings {
        let row = &server[&s.name];
        let state = if row.setting == s.setting {
            "ok"
        } else if row.pending_restart {
            "after restart"
        } else {
            wrong.push(s.name.as_str());
            "DIFFERS"
        };
        table.add_row(vec![
            s.name.clone(),
            s.shown.clone(),
            row.setting.clone(),
            state.into(),
        ]);
    }
    println!("{table}");
    pool.close().await;
    if !wrong.is_empty() {
        anyhow::bail!(
            "rollback from {}: {} did not return to the saved values",
            path.display(),
            wrong.join(", ")
        );
    }
    println!(
        "rolled back {} settings and {} indexes from {}",
        file.settings.len(),
        file.indexes_created.len(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Restarts the server for `settings` — the embedded cluster itself, or through
/// `--restart-cmd` — and returns a fresh pool once it accepts connections. Without
/// either, says which settings wait for a restart and keeps the pool.
async fn restart_server(
    db: &mut Database,
    pool: PgPool,
    args: &TuneDbArgs,
    settings: &[&str],
) -> anyhow::Result<PgPool> {
    if let Some(cluster) = db.cluster_mut() {
        pool.close().await;
        let began = Instant::now();
        // A second or two of blocking: nothing else runs during tune-db.
        cluster
            .restart()
            .context("restarting the embedded cluster")?;
        println!(
            "restarted the embedded cluster for {} in {:.1} s",
            settings.join(", "),
            began.elapsed().as_secs_f64()
        );
    } else if let Some(cmd) = &args.restart_cmd {
        pool.close().await;
        let began = Instant::now();
        let status = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .status()
            .await
            .with_context(|| format!("running --restart-cmd `{cmd}`"))?;
        if !status.success() {
            anyhow::bail!(
                "--restart-cmd `{cmd}` failed ({status}); the new settings are saved in postgresql.auto.conf and wait for a restart"
            );
        }
        println!(
            "restarted with --restart-cmd for {} in {:.1} s",
            settings.join(", "),
            began.elapsed().as_secs_f64()
        );
    } else {
        println!(
            "{} take effect after a restart of PostgreSQL: restart it (e.g. `systemctl restart postgresql` \
             or `pg_ctl restart -D DATADIR`), or pass --restart-cmd CMD next time",
            settings.join(", ")
        );
        return Ok(pool);
    }
    // Wait until it accepts connections again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match crate::pg::connect(db.url(), 2).await {
            Ok(pool) => return Ok(pool),
            Err(e) if Instant::now() > deadline => {
                return Err(e.context("the server did not come back after the restart"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

async fn ensure_extension(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(pool)
        .await
        .context("CREATE EXTENSION pg_stat_statements (Debian package postgresql-contrib)")?;
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

fn print_plan(plan: &Plan) {
    println!("profile {} ({})", plan.profile.name, plan.profile.source);
    let mut t = table(&[
        "setting", "current", "source", "target", "unit", "needs", "change",
    ]);
    for s in &plan.settings {
        t.add_row(vec![
            s.name.clone(),
            s.current.clone(),
            s.source.clone(),
            s.target.clone(),
            s.unit.clone(),
            s.needs.label().to_string(),
            if s.changes { "yes".into() } else { "no".into() },
        ]);
    }
    println!("{t}");
    let mut t = table(&["index", "table", "state", "definition"]);
    for i in &plan.indexes {
        t.add_row(vec![
            i.name.clone(),
            i.table.clone(),
            i.state.clone(),
            i.definition.clone(),
        ]);
    }
    println!("{t}");
}

fn print_verified(verified: &[engine::Verified]) {
    let mut t = table(&["setting", "in effect", "target", "state"]);
    for v in verified {
        let state = if v.ok {
            "ok"
        } else if v.pending_restart {
            "pending restart"
        } else {
            "DIFFERS"
        };
        t.add_row(vec![
            v.name.clone(),
            v.in_effect.clone(),
            v.target.clone(),
            state.into(),
        ]);
    }
    println!("{t}");
}

fn print_explain(before: &[PlanSummary], after: Option<&[PlanSummary]>) {
    if before.is_empty() {
        return;
    }
    let mut t = match after {
        Some(_) => table(&[
            "query",
            "plan before",
            "plan after",
            "rows",
            "buffers before → after",
            "mean before → after",
        ]),
        None => table(&["query", "plan", "rows", "buffers", "mean"]),
    };
    for (i, b) in before.iter().enumerate() {
        match after.and_then(|a| a.get(i)) {
            Some(a) => t.add_row(vec![
                b.query.clone(),
                b.shape.clone(),
                a.shape.clone(),
                a.rows.to_string(),
                format!("{} → {}", b.buffers, a.buffers),
                format!(
                    "{:.3} ms → {:.3} ms ({:.1}×)",
                    b.mean_ms,
                    a.mean_ms,
                    b.mean_ms / a.mean_ms.max(1e-6)
                ),
            ]),
            None => t.add_row(vec![
                b.query.clone(),
                b.shape.clone(),
                b.rows.to_string(),
                b.buffers.to_string(),
                format!("{:.3} ms", b.mean_ms),
            ]),
        };
    }
    println!(
        "EXPLAIN (ANALYZE, BUFFERS), mean of {} runs:\n{t}",
        crate::tune::explain::RUNS
    );
}

/// `1GB`, `512MB`, `2048kB` or a number of bytes.
fn parse_bytes(text: &str) -> anyhow::Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split]
        .parse()
        .context("expected a size such as 1GB or 512MB")?;
    let mult = match t[split..].trim() {
        "" | "B" => 1,
        "kB" | "KB" | "k" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        "TB" | "T" => 1 << 40,
        other => anyhow::bail!("unknown unit `{other}` (kB, MB, GB, TB)"),
    };
    Ok(n * mult)
}
