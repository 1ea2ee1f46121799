//! The two sequences that change a server, `--apply` and `--rollback`, told step by step
//! to an [`Observer`] (the command prints from it) and returned whole as a value.
//!
//! Apply: the rollback file first, `ALTER SYSTEM SET` per setting, a reload, a restart
//! when a postmaster setting changed (the embedded cluster itself, or `--restart-cmd`),
//! pg_stat_statements in the database, each index built on its own (a failed one is
//! reported and the others still built), then every setting read back.
//!
//! The rollback file holds the state before the *first* apply: an apply finds the open
//! rollback file of the same cluster and database in the reports directory (one that
//! was not rolled back yet) and adds to it — settings it has not saved yet, indexes it
//! created — instead of writing a new one whose "before" values would be the tuned
//! ones. A rollback marks its file as done, so that the next apply starts afresh.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;

use crate::pg::Database;
use crate::tune::explain::PlanSummary;
use crate::tune::indexes::{self, IndexAction};
use crate::tune::{self as engine, Needs, ProfileDiff, RollbackFile, Verified};

/// One step of a sequence, as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// The rollback file is written; `first_apply` is the time of the apply whose
    /// "before" it keeps, when that is an earlier one.
    RollbackFile {
        path: &'a Path,
        first_apply: Option<&'a str>,
    },
    /// The server was restarted for `settings`: `how` is `the embedded cluster` or
    /// `--restart-cmd`.
    Restarted {
        how: &'static str,
        settings: &'a [String],
        took: Duration,
    },
    /// `settings` wait for a restart that neither the embedded cluster nor
    /// `--restart-cmd` can make.
    RestartWaiting { settings: &'a [String] },
    /// An index was built (or found built).
    IndexBuilt {
        name: &'a str,
        action: IndexAction,
        took: Duration,
    },
    /// An index could not be built; the others are still built.
    IndexFailed { name: &'a str, error: &'a str },
    /// A rollback dropped an index that an apply created.
    IndexDropped { name: &'a str },
}

/// Receives the [`Event`]s of a sequence.
pub trait Observer {
    fn event(&mut self, event: Event<'_>);
}

impl<F: FnMut(Event<'_>)> Observer for F {
    fn event(&mut self, event: Event<'_>) {
        self(event)
    }
}

/// How to restart the server when a setting needs it.
pub struct Restarter<'a> {
    /// The database: its embedded cluster, when it is one, is restarted directly.
    pub db: &'a mut Database,
    /// Otherwise this shell command (`--restart-cmd`).
    pub command: Option<&'a str>,
}

/// What `--apply` did.
#[derive(Debug)]
pub struct Applied {
    /// `None` when there was nothing to change (no file written).
    pub rollback_file: Option<PathBuf>,
    /// Settings changed with ALTER SYSTEM.
    pub settings_changed: usize,
    /// Indexes built (created or rebuilt) by this apply.
    pub built: Vec<String>,
    /// Indexes that failed, with PostgreSQL's error.
    pub failed: Vec<(String, String)>,
    /// Every setting of the diff, read back.
    pub verified: Vec<Verified>,
    /// Errors PostgreSQL found in its configuration files.
    pub file_errors: Vec<String>,
    /// The guide's queries explained before and after the index builds (when any was
    /// built).
    pub explain: Option<(Vec<PlanSummary>, Vec<PlanSummary>)>,
}

impl Applied {
    /// Settings that do not read back as the profile says (and wait for no restart).
    pub fn wrong(&self) -> Vec<&str> {
        self.verified
            .iter()
            .filter(|v| !v.ok && !v.pending_restart)
            .map(|v| v.name.as_str())
            .collect()
    }

    /// What went wrong, one clause each (empty when all is well): indexes that failed
    /// (of `to_build`), settings that read back otherwise, configuration file errors.
    pub fn problems(&self, to_build: usize) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.failed.is_empty() {
            problems.push(format!(
                "{} of {to_build} indexes failed ({}), the others were built",
                self.failed.len(),
                self.failed
                    .iter()
                    .map(|(name, e)| format!("{name}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let wrong = self.wrong();
        if !wrong.is_empty() {
            problems.push(format!(
                "{} do not read back as the profile says",
                wrong.join(", ")
            ));
        }
        if !self.file_errors.is_empty() {
            problems.push("the configuration files have errors".into());
        }
        problems
    }

    /// Settings that take effect after a restart.
    pub fn pending_restart(&self) -> usize {
        self.verified.iter().filter(|v| v.pending_restart).count()
    }
}

/// Which cluster and database a rollback file belongs to: the cluster's
/// `system_identifier` and the database's name.
async fn identity(pool: &PgPool) -> anyhow::Result<(String, String)> {
    sqlx::query_as(
        "SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()::text",
    )
    .fetch_one(pool)
    .await
    .context("reading the cluster's system identifier")
}

/// The newest rollback file in `dir` of this cluster and database that was not rolled
/// back yet.
fn open_rollback_file(
    dir: &Path,
    cluster: &str,
    database: &str,
) -> Option<(PathBuf, RollbackFile)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tune-") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    paths.into_iter().rev().find_map(|p| {
        let file = RollbackFile::read(&p).ok()?;
        (file.cluster.as_deref() == Some(cluster)
            && file.database_name.as_deref() == Some(database)
            && file.rolled_back_at.is_none())
        .then_some((p, file))
    })
}

/// Applies `diff` (whose impossible items must have been refused or skipped): see the
/// module's header. Closes `pool`.
pub async fn apply(
    restarter: Restarter<'_>,
    pool: PgPool,
    diff: &ProfileDiff,
    reports_dir: &Path,
    observer: &mut dyn Observer,
) -> anyhow::Result<Applied> {
    if let Some(e) = diff.impossible() {
        return Err(e.into());
    }
    if diff.is_noop() {
        ensure_extension(&pool).await?;
        let verified = engine::verify(&pool, diff).await?;
        let file_errors = engine::file_errors(&pool).await?;
        pool.close().await;
        return Ok(Applied {
            rollback_file: None,
            settings_changed: 0,
            built: Vec::new(),
            failed: Vec::new(),
            verified,
            file_errors,
            explain: None,
        });
    }

    // 1. The rollback file, before any change: the first apply's, when there is one.
    let (path, mut saved, first_apply) =
        rollback_file(&pool, diff, &restarter.db.display_url(), reports_dir).await?;
    saved.write(&path)?;
    observer.event(Event::RollbackFile {
        path: &path,
        first_apply: first_apply.as_deref(),
    });
    let to_build = diff.indexes_to_build().count();
    let before = if to_build > 0 {
        crate::tune::explain::hot_queries(&pool).await?
    } else {
        Vec::new()
    };

    // 2. Settings, one ALTER SYSTEM each, then a reload and, if needed, a restart.
    for s in diff.changed() {
        engine::alter_system_set(&pool, &s.name, &s.target).await?;
    }
    engine::reload(&pool).await?;
    let restart: Vec<String> = diff
        .changed()
        .filter(|s| s.needs == Needs::Restart)
        .map(|s| s.name.clone())
        .collect();
    let pool = if restart.is_empty() {
        pool
    } else {
        restart_server(restarter, pool, &restart, observer).await?
    };

    // 3. pg_stat_statements in this database, then each index on its own; what was
    // built is recorded for the rollback as soon as it is.
    ensure_extension(&pool).await?;
    let (built, failed) = build_indexes(&pool, diff, &mut saved, &path, observer).await?;

    // 4. Read everything back.
    let verified = engine::verify(&pool, diff).await?;
    let file_errors = engine::file_errors(&pool).await?;
    let explain = if to_build > 0 {
        Some((before, crate::tune::explain::hot_queries(&pool).await?))
    } else {
        None
    };
    pool.close().await;
    Ok(Applied {
        rollback_file: Some(path),
        settings_changed: diff.changed().count(),
        built,
        failed,
        verified,
        file_errors,
        explain,
    })
}

/// The rollback file to write before the first change, with the time of the apply whose
/// "before" it keeps when that is an earlier one: the open file of this cluster and
/// database in `reports_dir`, with the settings it has not saved yet, or a new one.
async fn rollback_file(
    pool: &PgPool,
    diff: &ProfileDiff,
    database: &str,
    reports_dir: &Path,
) -> anyhow::Result<(PathBuf, RollbackFile, Option<String>)> {
    let (cluster, database_name) = identity(pool).await?;
    let names: Vec<String> = diff.settings.iter().map(|s| s.name.clone()).collect();
    Ok(
        match open_rollback_file(reports_dir, &cluster, &database_name) {
            Some((path, mut file)) => {
                let new: Vec<String> = names
                    .iter()
                    .filter(|n| !file.settings.iter().any(|s| &s.name == *n))
                    .cloned()
                    .collect();
                file.settings.extend(engine::snapshot(pool, &new).await?);
                let first = file.created_at.clone();
                (path, file, Some(first))
            }
            None => {
                let now = chrono::Utc::now();
                let file = RollbackFile {
                    created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    profile: diff.profile.name.clone(),
                    database: database.to_string(),
                    settings: engine::snapshot(pool, &names).await?,
                    indexes_created: Vec::new(),
                    cluster: Some(cluster),
                    database_name: Some(database_name),
                    rolled_back_at: None,
                };
                let path =
                    reports_dir.join(format!("tune-{}.json", now.format("%Y%m%dT%H%M%S%.3fZ")));
                (path, file, None)
            }
        },
    )
}

/// Builds each index of `diff` on its own (a failed one is told and the others still
/// built), recording in the rollback file each that this apply created as soon as it
/// is; returns the built ones and the failed ones with their error.
async fn build_indexes(
    pool: &PgPool,
    diff: &ProfileDiff,
    saved: &mut RollbackFile,
    path: &Path,
    observer: &mut dyn Observer,
) -> anyhow::Result<(Vec<String>, Vec<(String, String)>)> {
    let mut built = Vec::new();
    let mut failed = Vec::new();
    for index in diff.indexes_to_build() {
        match indexes::ensure(pool, index.spec()).await {
            Ok((action, took)) => {
                if action != IndexAction::AlreadyPresent {
                    built.push(index.name.clone());
                    if !saved.indexes_created.contains(&index.name) {
                        saved.indexes_created.push(index.name.clone());
                    }
                    saved.write(path)?;
                }
                observer.event(Event::IndexBuilt {
                    name: &index.name,
                    action,
                    took,
                });
            }
            Err(e) => {
                let error = format!("{e:#}");
                observer.event(Event::IndexFailed {
                    name: &index.name,
                    error: &error,
                });
                failed.push((index.name.clone(), error));
            }
        }
    }

    Ok((built, failed))
}

/// One setting after a rollback.
#[derive(Debug)]
pub struct Restored {
    pub name: String,
    /// `SHOW` text saved before the first apply.
    pub saved: String,
    /// `pg_settings.setting` now.
    pub in_effect: String,
    /// Equal to the saved value.
    pub ok: bool,
    /// Restored, waiting for a restart.
    pub pending_restart: bool,
}

/// What `--rollback` did.
#[derive(Debug)]
pub struct RolledBack {
    pub settings: Vec<Restored>,
    pub indexes_dropped: usize,
}

impl RolledBack {
    /// Settings that did not return to the saved value (and wait for no restart).
    pub fn differing(&self) -> Vec<&str> {
        self.settings
            .iter()
            .filter(|s| !s.ok && !s.pending_restart)
            .map(|s| s.name.as_str())
            .collect()
    }
}

/// Restores a rollback file: the saved values (RESET where auto.conf held none), reload,
/// restart when needed, drop the indexes that apply created, read back; then marks the
/// file as rolled back. Closes `pool`.
pub async fn roll_back(
    restarter: Restarter<'_>,
    pool: PgPool,
    path: &Path,
    mut file: RollbackFile,
    observer: &mut dyn Observer,
) -> anyhow::Result<RolledBack> {
    for s in &file.settings {
        match &s.auto_conf {
            Some(value) => engine::alter_system_set(&pool, &s.name, value).await?,
            None => engine::alter_system_reset(&pool, &s.name).await?,
        }
    }
    engine::reload(&pool).await?;
    let server = engine::read_settings(&pool).await?;
    let restart: Vec<String> = file
        .settings
        .iter()
        .filter(|s| server.get(&s.name).is_some_and(|r| r.pending_restart))
        .map(|s| s.name.clone())
        .collect();
    let pool = if restart.is_empty() {
        pool
    } else {
        restart_server(restarter, pool, &restart, observer).await?
    };
    for name in &file.indexes_created {
        indexes::drop(&pool, name)
            .await
            .with_context(|| format!("dropping index {name}"))?;
        observer.event(Event::IndexDropped { name });
    }
    let server = engine::read_settings(&pool).await?;
    pool.close().await;
    let settings: Vec<Restored> = file
        .settings
        .iter()
        .map(|s| {
            let row = &server[&s.name];
            Restored {
                name: s.name.clone(),
                saved: s.shown.clone(),
                in_effect: row.setting.clone(),
                ok: row.setting == s.setting,
                pending_restart: row.pending_restart,
            }
        })
        .collect();
    let indexes_dropped = file.indexes_created.len();
    file.rolled_back_at =
        Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    file.write(path)?;
    Ok(RolledBack {
        settings,
        indexes_dropped,
    })
}

/// Restarts the server for `settings` — the embedded cluster itself, or through
/// `--restart-cmd` — and returns a fresh pool once it accepts connections. Without
/// either, reports which settings wait for a restart and keeps the pool.
async fn restart_server(
    restarter: Restarter<'_>,
    pool: PgPool,
    settings: &[String],
    observer: &mut dyn Observer,
) -> anyhow::Result<PgPool> {
    let Restarter { db, command } = restarter;
    let began = Instant::now();
    let how = if let Some(cluster) = db.cluster_mut() {
        pool.close().await;
        // A second or two of blocking: nothing else runs during tune-db.
        cluster
            .restart()
            .context("restarting the embedded cluster")?;
        "the embedded cluster"
    } else if let Some(cmd) = command {
        pool.close().await;
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
        "--restart-cmd"
    } else {
        observer.event(Event::RestartWaiting { settings });
        return Ok(pool);
    };
    observer.event(Event::Restarted {
        how,
        settings,
        took: began.elapsed(),
    });
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

/// `CREATE EXTENSION IF NOT EXISTS pg_stat_statements` in the database.
pub async fn ensure_extension(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(pool)
        .await
        .context("CREATE EXTENSION pg_stat_statements (Debian package postgresql-contrib)")?;
    Ok(())
}
