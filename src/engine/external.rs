//! `experiment --host`: the experiment's protocol on a running KoproGo and its own
//! database. The server's switches cannot be toggled there, so the arms are the
//! database's: each run applies its arm's part of the profile through tune-db (the
//! settings with ALTER SYSTEM, reload, and `--restart-cmd` when one needs a restart;
//! the indexes with CREATE INDEX CONCURRENTLY), loads the target, then rolls the arm
//! back from the rollback file the apply wrote in the run's directory — also after a
//! failed run or Ctrl-C. The baseline is the database as it was.
//!
//! A scenario that writes would leave each run's rows to the next: refused unless
//! `--writes delete` (the rows each run created in the tables it POSTs to are deleted
//! after it) or `--writes keep` (they stay; the growth is reported).

use std::path::Path;

use anyhow::Context;
use sqlx::PgPool;

use crate::engine::experiment::Runner;
use crate::engine::{Probe, RunPlan};
use crate::experiment::Arm;
use crate::load::Login;
use crate::load::scenario::Method;
use crate::pg::Database;
use crate::report::RunReport;
use crate::report::run::TargetInfo;
use crate::tune::apply::{self, Event, Restarter};
use crate::tune::profile::Profile;

/// What `experiment --host` does with the rows a writing scenario creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WritesPolicy {
    Refuse,
    Delete,
    Keep,
}

/// The running stack an experiment measures.
#[derive(Debug, Clone)]
pub struct External {
    /// Base URL, validated.
    pub host: String,
    /// Printable.
    pub shown: String,
    pub database_url: String,
    pub logins: Vec<Login>,
    pub restart_cmd: Option<String>,
    pub writes: WritesPolicy,
    pub server_pid: Option<u32>,
    pub postgres_pid: Option<u32>,
    /// With `--writes delete`: the tables the scenario POSTs to.
    pub written_tables: Vec<String>,
}

/// The arms an external stack can have, or the first that needs the server's switches.
pub fn check_arms(arms: &[Arm]) -> Result<(), String> {
    match arms.iter().find(|a| {
        !matches!(
            a.name.as_str(),
            "baseline" | "pg_settings" | "indexes" | "tuned"
        )
    }) {
        Some(arm) => Err(format!(
            "arm `{}` toggles the reference server's switches, which a running KoproGo does not \
             have: with --host the arms are baseline, pg_settings, indexes and tuned (both)",
            arm.name
        )),
        None => Ok(()),
    }
}

/// The tables a writing scenario adds rows to, for `--writes delete`: the resource of
/// each `POST /api/v1/<table>`; an error names a write it cannot undo.
pub fn written_tables(plan: &RunPlan) -> Result<Vec<String>, String> {
    let mut tables = Vec::new();
    for r in &plan.scenario.requests {
        if r.method == Method::Get {
            continue;
        }
        let path = r.path.text.split('?').next().unwrap_or_default();
        let table = path.strip_prefix("/api/v1/").filter(|t| {
            r.method == Method::Post
                && !t.is_empty()
                && t.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        });
        match table {
            Some(t) if !tables.iter().any(|x| x == t) => tables.push(t.to_string()),
            Some(_) => {}
            None => {
                return Err(format!(
                    "`{}` writes in a way --writes delete cannot undo (only POST /api/v1/<table> \
                     rows are deleted): use a read-only scenario or --writes keep",
                    r.name
                ));
            }
        }
    }
    Ok(tables)
}

/// The arm's part of the profile: its settings, its indexes, or both.
fn arm_profile(profile: &Profile, arm: &Arm) -> Profile {
    let mut p = profile.clone();
    if !arm.database.settings {
        p.settings.clear();
        p.preload.clear();
    }
    if !arm.database.indexes {
        p.indexes.clear();
    }
    p
}

impl Runner {
    /// Before any run: a superuser on the target's database, the profile possible
    /// there, a restart command when its settings need one, the scenario's writes.
    pub(super) async fn prepare_external(&mut self, ext: &External) -> anyhow::Result<()> {
        let pool = crate::pg::connect(&ext.database_url, 2).await?;
        crate::tune::require_superuser(&pool).await?;
        let plan = crate::tune::plan(&pool, self.profile.clone()).await?;
        pool.close().await;
        if self.arms.iter().any(|a| a.database.indexes)
            && let Some(error) = plan.impossible()
        {
            return Err(anyhow::Error::new(error).context(
                "the indexes arm cannot build the profile as written on this database: fix the \
                 profile (tune-db --dry-run --profile FILE shows each index against the schema)",
            ));
        }
        let restart: Vec<&str> = plan
            .changed()
            .filter(|s| s.needs == crate::tune::Needs::Restart)
            .map(|s| s.name.as_str())
            .collect();
        if self.arms.iter().any(|a| a.database.settings)
            && !restart.is_empty()
            && ext.restart_cmd.is_none()
        {
            return Err(crate::report::InputError::msg(format!(
                "the profile's {} need a PostgreSQL restart: give --restart-cmd (e.g. \"systemctl restart postgresql\"), or a profile without them",
                restart.join(", ")
            ))
            .into());
        }
        for index in &plan.indexes {
            if let crate::tune::IndexStep::ServedBy(by) = &index.step {
                eprintln!(
                    "experiment: the profile's {} is not built: served by {by}",
                    index.name
                );
            }
        }
        self.settings = plan
            .changed()
            .map(|s| (s.name.clone(), s.target.clone()))
            .collect();
        self.tune_plan = Some(plan);
        eprintln!(
            "experiment: {} on {}; the {} profile changes {} settings and builds {} indexes there",
            ext.shown,
            crate::redact::redact(&ext.database_url),
            self.profile.name,
            self.settings.len(),
            self.tune_plan
                .as_ref()
                .map_or(0, |p| p.indexes_to_build().count()),
        );
        Ok(())
    }

    /// One run on the external stack: the arm applied, the load, the arm rolled back
    /// (whatever the load did), the run's rows deleted with `--writes delete`.
    pub(super) async fn one_external(
        &mut self,
        ext: &External,
        arm: &Arm,
        dir: &str,
    ) -> anyhow::Result<RunReport> {
        let run_dir = self.out.join(dir);
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        let started = chrono::Utc::now();
        let rollback = self.apply_arm(ext, arm, &run_dir).await?;
        let target = TargetInfo {
            host: ext.shown.clone(),
            embedded: false,
            server: None,
            command: None,
        };
        let probe = Probe::external(
            Some(ext.database_url.clone()),
            ext.server_pid,
            ext.postgres_pid,
        );
        self.plan.out = run_dir.clone();
        let result = crate::engine::measure(
            &self.plan,
            ext.host.clone(),
            ext.logins.clone(),
            target,
            probe,
        )
        .await;
        // Rolled back whatever happened, and before any error is returned.
        let restored = match &rollback {
            Some(path) => roll_back(ext, path).await,
            None => Ok(()),
        };
        let deleted = match ext.writes {
            WritesPolicy::Delete => delete_rows(ext, started).await,
            _ => Ok(0),
        };
        let run = result?;
        restored.with_context(|| match &rollback {
            Some(path) => format!(
                "rolling back the {} arm failed: the database keeps it; run tune-db --rollback {}",
                arm.name,
                path.display()
            ),
            None => String::new(),
        })?;
        let deleted = deleted.context("deleting the run's rows (--writes delete)")?;
        if deleted > 0 {
            eprintln!(
                "experiment: deleted the {deleted} rows the run created ({})",
                ext.written_tables.join(", ")
            );
        }
        crate::report::RunDir::new(&run_dir).write(&run)?;
        let report = run.report;
        if report.totals.requests == 0 && !report.interrupted {
            anyhow::bail!(
                "no request completed in the steady state (see {})",
                run_dir.display()
            );
        }
        if report.host_down {
            anyhow::bail!(
                "{} stopped accepting connections (see {})",
                ext.shown,
                run_dir.display()
            );
        }
        Ok(report)
    }

    /// Applies the arm's part of the profile; the rollback file it wrote, if any.
    async fn apply_arm(
        &self,
        ext: &External,
        arm: &Arm,
        run_dir: &Path,
    ) -> anyhow::Result<Option<std::path::PathBuf>> {
        if !arm.database.settings && !arm.database.indexes {
            return Ok(None);
        }
        let pool = crate::pg::connect(&ext.database_url, 2).await?;
        let diff = crate::tune::plan(&pool, arm_profile(&self.profile, arm)).await?;
        let to_build = diff.indexes_to_build().count();
        let mut db = Database::open(Some(&ext.database_url)).await?;
        let mut observer = |e: Event<'_>| {
            if let Event::Restarted { took, .. } = e {
                eprintln!(
                    "experiment: PostgreSQL restarted by --restart-cmd in {:.1} s",
                    took.as_secs_f64()
                );
            }
        };
        let applied = apply::apply(
            Restarter {
                db: &mut db,
                command: ext.restart_cmd.as_deref(),
            },
            pool,
            &diff,
            run_dir,
            &mut observer,
        )
        .await;
        db.close().await;
        let applied = applied.with_context(|| format!("applying the {} arm", arm.name))?;
        let problems = applied.problems(to_build);
        let waiting = applied.pending_restart();
        if !problems.is_empty() || waiting > 0 {
            if let Some(path) = &applied.rollback_file {
                roll_back(ext, path).await?;
            }
            anyhow::bail!(
                "the {} arm is not what it says on this database: {}",
                arm.name,
                if problems.is_empty() {
                    format!("{waiting} settings still wait for a restart")
                } else {
                    problems.join("; ")
                }
            );
        }
        Ok(applied.rollback_file)
    }
}

async fn roll_back(ext: &External, path: &Path) -> anyhow::Result<()> {
    let file = crate::tune::RollbackFile::read(path)?;
    let pool = crate::pg::connect(&ext.database_url, 2).await?;
    let mut db = Database::open(Some(&ext.database_url)).await?;
    let result = apply::roll_back(
        Restarter {
            db: &mut db,
            command: ext.restart_cmd.as_deref(),
        },
        pool,
        path,
        file,
        &mut |_: Event<'_>| {},
    )
    .await;
    db.close().await;
    let rolled = result?;
    let differing = rolled.differing();
    if !differing.is_empty() {
        anyhow::bail!(
            "after the rollback {} differ from before",
            differing.join(", ")
        );
    }
    Ok(())
}

/// `--writes delete`: the rows of the written tables created since `since`, newest
/// tables first (a later POST may reference an earlier one's row).
async fn delete_rows(ext: &External, since: chrono::DateTime<chrono::Utc>) -> anyhow::Result<u64> {
    let pool: PgPool = crate::pg::connect(&ext.database_url, 1).await?;
    let mut deleted = 0;
    for table in ext.written_tables.iter().rev() {
        // The names come from the scenario, checked to be lower-case identifiers.
        let sql = format!("DELETE FROM \"{table}\" WHERE created_at >= $1");
        deleted += sqlx::query(&sql)
            .bind(since)
            .execute(&pool)
            .await
            .with_context(|| format!("DELETE FROM {table} WHERE created_at >= the run's start"))?
            .rows_affected();
    }
    pool.close().await;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_database_arms_run_on_an_external_stack() {
        let (arms, _) = crate::experiment::arms(
            &[
                "baseline".into(),
                "pg_settings".into(),
                "indexes".into(),
                "tuned".into(),
            ],
            false,
        )
        .unwrap();
        assert!(check_arms(&arms).is_ok());
        let (arms, _) =
            crate::experiment::arms(&["baseline".into(), "gzip".into()], false).unwrap();
        let err = check_arms(&arms).unwrap_err();
        assert!(
            err.contains("`gzip`") && err.contains("pg_settings"),
            "{err}"
        );
    }
}
