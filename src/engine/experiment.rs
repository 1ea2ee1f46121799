//! The experiment's protocol: one embedded cluster, the data seeded once into a
//! template database (and a copy with the profile's indexes); then, run after run in
//! the order of [`crate::experiment::schedule`], the cluster restarted with the arm's
//! settings, a fresh copy of the data, the reference server with the arm's switches as
//! its own process, and the measured run. The runs' run.json files and one
//! experiment.json (with report.html) are written as they come, so that an error or
//! Ctrl-C loses nothing that ran.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;

use crate::engine::stack::seeded_logins;
use crate::engine::{LocalStack, Probe, RunPlan};
use crate::experiment::{self, Arm, Done, ExperimentReport, Setup, Slot};
use crate::interrupt::interruptible;
use crate::pg::Database;
use crate::report::RunReport;
use crate::report::run::{ServerInfo, TargetInfo};
use crate::seed::SeedOptions;
use crate::tune::profile::Profile;

/// The seeded data every run starts from.
pub const TEMPLATE: &str = "koprogo_template";
/// The same with the profile's indexes.
pub const TEMPLATE_INDEXED: &str = "koprogo_template_indexed";

/// The experiment as it goes.
pub struct Runner {
    pub plan: RunPlan,
    pub out: PathBuf,
    pub arms: Vec<Arm>,
    pub profile: Profile,
    pub server_bin: PathBuf,
    pub scale: u32,
    pub setup: Setup,
    /// The runs so far: slot, directory relative to `out`, report.
    pub reports: Vec<(Slot, String, RunReport)>,
    /// The profile's settings that differ from the cluster's defaults: (name, value).
    pub settings: Vec<(String, String)>,
    /// tune-db's plan of the profile on this cluster, to verify the settings with.
    pub tune_plan: Option<crate::tune::ProfileDiff>,
    /// A running KoproGo instead of the embedded stack (`experiment --host`).
    pub external: Option<crate::engine::external::External>,
}

impl Runner {
    /// Prepares the cluster, runs the schedule, and writes experiment.json (also
    /// after a failed run); returns it with the time the runs took.
    pub async fn run(
        &mut self,
        db: &mut Database,
        schedule: &[Slot],
        rng_seed: u64,
    ) -> anyhow::Result<(ExperimentReport, Duration)> {
        let external = self.external.clone();
        match &external {
            Some(ext) => {
                interruptible(&self.plan.cancel.clone(), self.prepare_external(ext)).await?
            }
            None => interruptible(&self.plan.cancel.clone(), self.prepare(db, rng_seed)).await?,
        }
        let began = Instant::now();
        for (i, slot) in schedule.iter().enumerate() {
            if self.plan.cancel.is_cancelled() {
                self.setup.interrupted = true;
                break;
            }
            let arm = self.arms[slot.arm].clone();
            let dir = format!("runs/{:02}-{}", i + 1, arm.name);
            eprintln!(
                "run {}/{} (round {}, {}): {}",
                i + 1,
                schedule.len(),
                slot.round,
                arm.name,
                if external.is_some() {
                    arm.describe_external()
                } else {
                    arm.describe()
                }
            );
            let report = match &external {
                Some(ext) => self.one_external(ext, &arm, &dir).await,
                None => self.one(db, i + 1, &arm, &dir).await,
            };
            let report = match report {
                Ok(r) => r,
                Err(e) => {
                    let written = self.write().ok();
                    return Err(e.context(format!(
                        "run {} ({}) failed{}",
                        i + 1,
                        arm.name,
                        match written {
                            Some(_) if !self.reports.is_empty() => format!(
                                "; the {} runs before it are in {}",
                                self.reports.len(),
                                self.out.join("experiment.json").display()
                            ),
                            _ => String::new(),
                        }
                    )));
                }
            };
            eprintln!(
                "run {}/{} (round {}, {}): {:.1} req/s, p50 {}, p99 {}, {} errors → {}",
                i + 1,
                schedule.len(),
                slot.round,
                arm.name,
                report.totals.rps,
                crate::units::format_us(report.totals.latency_us.p50 as f64),
                crate::units::format_us(report.totals.latency_us.p99 as f64),
                report.totals.errors,
                self.out.join(&dir).display()
            );
            let interrupted = report.interrupted;
            self.reports.push((*slot, dir, report));
            if interrupted {
                self.setup.interrupted = true;
                break;
            }
        }
        let x = self.write()?;
        Ok((x, began.elapsed()))
    }

    /// Seeds the template database (and its indexed copy), and finds the profile's
    /// settings that differ from the cluster's defaults.
    async fn prepare(&mut self, db: &mut Database, rng_seed: u64) -> anyhow::Result<()> {
        let cluster = db.cluster().context("the experiment's cluster")?;
        let admin = crate::pg::connect(&cluster.url(), 2).await?;
        crate::tune::require_superuser(&admin).await?;
        let began = Instant::now();
        create_database(&admin, TEMPLATE, None).await?;
        {
            let pool = crate::pg::connect(&cluster.url_for(TEMPLATE), 4).await?;
            crate::pg::migrate(&pool).await?;
            let summary = crate::seed::seed(
                &pool,
                &SeedOptions {
                    scale: self.scale,
                    rng_seed,
                    reset: false,
                },
            )
            .await?;
            eprintln!(
                "experiment: seeded {} organizations, {} buildings, {} units, {} expenses into template database {TEMPLATE}",
                summary.organizations, summary.buildings, summary.units, summary.expenses
            );
            // Apart: VACUUM refuses to run in the implicit transaction of a multi-statement string.
            for sql in [
                "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
                "VACUUM ANALYZE",
            ] {
                sqlx::raw_sql(sql)
                    .execute(&pool)
                    .await
                    .with_context(|| format!("{sql} in the template database"))?;
            }
            pool.close().await;
        }
        let plan = crate::tune::plan(&admin, self.profile.clone()).await?;
        self.settings = plan
            .changed()
            .map(|s| (s.name.clone(), s.target.clone()))
            .collect();
        self.tune_plan = Some(plan);
        if self.arms.iter().any(|a| a.database.indexes) {
            create_database(&admin, TEMPLATE_INDEXED, Some(TEMPLATE)).await?;
            let pool = crate::pg::connect(&cluster.url_for(TEMPLATE_INDEXED), 2).await?;
            let plan = crate::tune::plan(&pool, self.profile.clone()).await?;
            // An index the schema cannot hold would leave the arm measuring less than
            // the profile says: refused as tune-db refuses it, before any run.
            if let Some(error) = plan.impossible() {
                pool.close().await;
                return Err(anyhow::Error::new(error).context(
                    "the indexes arm cannot build the profile as written: fix the profile \
                     (tune-db --dry-run --profile FILE shows each index against the schema)",
                ));
            }
            for index in &plan.indexes {
                if let crate::tune::IndexStep::ServedBy(by) = &index.step {
                    eprintln!(
                        "experiment: the profile's {} is not built: served by {by}",
                        index.name
                    );
                }
            }
            let built = crate::tune::build_indexes(&pool, &plan, |_, _, _| {}).await?;
            sqlx::raw_sql("ANALYZE")
                .execute(&pool)
                .await
                .context("analyzing the indexed template")?;
            pool.close().await;
            eprintln!(
                "experiment: template {TEMPLATE_INDEXED} with the {} profile's {} indexes",
                self.profile.name,
                built.len()
            );
        }
        admin.close().await;
        eprintln!(
            "experiment: data ready in {:.1} s; the {} profile changes {} settings ({})",
            began.elapsed().as_secs_f64(),
            self.profile.name,
            self.settings.len(),
            self.settings
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(())
    }

    /// One run: settings and restart, a fresh copy of the data, the server, the load.
    async fn one(
        &mut self,
        db: &mut Database,
        index: usize,
        arm: &Arm,
        dir: &str,
    ) -> anyhow::Result<RunReport> {
        let name = format!("run_{index:02}");
        interruptible(&self.plan.cancel.clone(), self.set_cluster(db, arm)).await?;
        let cluster = db.cluster().context("the experiment's cluster")?;
        let admin = crate::pg::connect(&cluster.url(), 1).await?;
        let template = if arm.database.indexes {
            TEMPLATE_INDEXED
        } else {
            TEMPLATE
        };
        create_database(&admin, &name, Some(template)).await?;
        let run_db = Database::open(Some(&cluster.url_for(&name))).await?;
        // Its only clients are this run's virtual users, all from 127.0.0.1.
        let server = arm.server.clone().for_own_load();
        let started = LocalStack::spawn_child(
            run_db,
            seeded_logins(self.scale),
            self.scale,
            &server,
            &self.server_bin,
            self.plan.flamegraph,
            None,
        );
        let result = match interruptible(&self.plan.cancel.clone(), started).await {
            Ok(stack) => {
                let database = match arm.database {
                    d if d.settings && d.indexes => {
                        format!("{} settings and indexes", self.profile.name)
                    }
                    d if d.settings => format!("{} settings", self.profile.name),
                    d if d.indexes => format!("{} indexes", self.profile.name),
                    _ => "untuned".into(),
                };
                let target = TargetInfo {
                    host: stack.base_url(),
                    embedded: true,
                    server: Some(ServerInfo {
                        scale: self.scale,
                        pool_max_connections: stack.pool_max_connections,
                        postgres_version: Some(cluster.version().to_string()),
                        switches: Some(format!(
                            "{}; database {name} (a fresh copy of {template}): {database}",
                            stack.switches
                        )),
                    }),
                    command: None,
                };
                let postgres_pid = cluster.postmaster_pid();
                let probe = Probe {
                    database_url: Some(stack.db.url().to_string()),
                    server_pid: stack.server_pid(),
                    server_note: None,
                    postgres_pid,
                    postgres_note: postgres_pid
                        .is_none()
                        .then(|| "the postmaster's pid could not be read".into()),
                    sampler_file: stack.sampler_file(),
                    watch_database: true,
                };
                self.plan.out = self.out.join(dir);
                let result = crate::engine::measure(
                    &self.plan,
                    stack.base_url(),
                    crate::load::logins_for(&self.plan.scenario, stack.logins.clone()),
                    target,
                    probe,
                )
                .await;
                stack.stop().await;
                result
            }
            Err(e) => Err(e),
        };
        // The copy goes whatever happened; the next run starts from the template again.
        let dropped = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
        admin.close().await;
        let run = result?;
        dropped.with_context(|| format!("dropping database {name}"))?;
        crate::report::RunDir::new(self.out.join(dir)).write(&run)?;
        let report = run.report;
        if report.totals.requests == 0 && !report.interrupted {
            anyhow::bail!(
                "no request completed in the steady state (see {})",
                self.out.join(dir).display()
            );
        }
        if report.host_down {
            anyhow::bail!(
                "the server stopped accepting connections (see {})",
                self.out.join(dir).display()
            );
        }
        Ok(report)
    }

    /// The arm's settings (the profile's, or the defaults), then a restart: every run
    /// starts from a cold cluster, whatever ran before it.
    async fn set_cluster(&self, db: &mut Database, arm: &Arm) -> anyhow::Result<()> {
        {
            let cluster = db.cluster().context("the experiment's cluster")?;
            let pool = crate::pg::connect(&cluster.url(), 1).await?;
            for (name, value) in &self.settings {
                if arm.database.settings {
                    crate::tune::alter_system_set(&pool, name, value).await?;
                } else {
                    crate::tune::alter_system_reset(&pool, name).await?;
                }
            }
            pool.close().await;
        }
        // A second or two of blocking between runs, when nothing else is running.
        db.cluster_mut()
            .context("the experiment's cluster")?
            .restart()
            .context("restarting the embedded cluster with the arm's settings")?;
        if arm.database.settings
            && let Some(plan) = &self.tune_plan
        {
            let cluster = db.cluster().context("the experiment's cluster")?;
            let pool = crate::pg::connect(&cluster.url(), 1).await?;
            let verified = crate::tune::verify(&pool, plan).await;
            pool.close().await;
            let wrong: Vec<String> = verified?
                .into_iter()
                .filter(|v| !v.ok)
                .map(|v| format!("{} is {} (profile: {})", v.name, v.in_effect, v.target))
                .collect();
            if !wrong.is_empty() {
                anyhow::bail!(
                    "after the restart {}: the arm would not be what it says",
                    wrong.join(", ")
                );
            }
        }
        Ok(())
    }

    /// experiment.json and report.html from the runs so far.
    fn write(&self) -> anyhow::Result<ExperimentReport> {
        let done: Vec<Done> = self
            .reports
            .iter()
            .map(|(slot, dir, report)| Done {
                slot: *slot,
                dir: dir.clone(),
                report,
            })
            .collect();
        let x = experiment::summarize(self.setup.clone(), &self.arms, &done)?;
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("creating {}", self.out.display()))?;
        let path = self.out.join("experiment.json");
        std::fs::write(&path, serde_json::to_string_pretty(&x)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        let html = crate::experiment::render::html(&x, &self.out)?;
        let path = self.out.join("report.html");
        std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
        Ok(x)
    }
}

/// `CREATE DATABASE name [TEMPLATE template]`; names are ours, never the user's.
async fn create_database(admin: &PgPool, name: &str, template: Option<&str>) -> anyhow::Result<()> {
    let sql = match template {
        Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
        None => format!("CREATE DATABASE {name}"),
    };
    sqlx::raw_sql(&sql)
        .execute(admin)
        .await
        .with_context(|| format!("creating database {name}"))?;
    Ok(())
}
