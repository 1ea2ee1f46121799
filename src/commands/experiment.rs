//! `koprogo-perf experiment`: the arms and the run plan resolved, the experiment run by
//! [`crate::engine::experiment::Runner`] (one cluster, a fresh copy of the data and a
//! server per run, every measurement of `load`), then its table printed.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::load;
use crate::cli::ExperimentArgs;
use crate::engine::experiment::Runner;
use crate::engine::external::{self, External, WritesPolicy};
use crate::experiment::{self, ExperimentReport, Setup};
use crate::interrupt::{CancellationToken, interruptible};
use crate::pg::Database;
use crate::report::InputError;
use crate::tune::profile::AutoInputs;

/// `koprogo-perf experiment`.
pub async fn experiment(
    args: ExperimentArgs,
    cancel: CancellationToken,
) -> anyhow::Result<ExitCode> {
    // Everything that can be refused is refused before the cluster starts.
    let (arms, added) = experiment::arms(&args.arms, args.each)
        .map_err(|e| InputError::msg(format!("--arms: {e}")))?;
    let mut plan = load::plan(&args.run, Duration::from_secs(30), cancel)?;
    // Enough statements that one missing from an arm's list was not run at all.
    plan.pgss_top = plan.pgss_top.max(100);
    let profile = crate::tune::profile::load(&args.profile, &AutoInputs::detect())
        .map_err(|e| InputError::msg(format!("--profile: {e}")))?;
    // Claimed last: nothing is created when a flag is refused.
    let out = crate::report::claim_out_dir(
        args.run.out.as_deref(),
        "experiment-",
        "experiment.json",
        args.run.force,
    )?;
    let external = match &args.external.host {
        Some(host) => Some(external(&args, &plan, &arms, host)?),
        None => None,
    };
    let server_bin = match &external {
        Some(_) => std::path::PathBuf::new(),
        None => plan.server_bin.clone().context(
            "experiment runs the reference server as its own process: call it through the koprogo-perf binary",
        )?,
    };
    if added {
        eprintln!("experiment: baseline added to the arms (every ratio is to it)");
    }
    let schedule = experiment::schedule(arms.len(), args.repeat);
    let per_run = plan
        .test_plan
        .as_ref()
        .map_or(plan.ramp_up + plan.duration, |p| p.total());
    eprintln!(
        "experiment: {} arms ({}) × {} round{} = {} runs of about {} s each (about {} min with setup), scenario {}, scale {}; writing {}",
        arms.len(),
        arms.iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.repeat,
        if args.repeat == 1 { "" } else { "s" },
        schedule.len(),
        per_run.as_secs() + 5,
        (schedule.len() as u64 * (per_run.as_secs() + 10)).div_ceil(60),
        plan.scenario.name,
        args.scale.scale,
        out.display()
    );

    // An external stack has its own database: no cluster is started.
    let database = external.as_ref().map(|e| e.database_url.clone());
    let mut db = interruptible(&plan.cancel, Database::open(database.as_deref())).await?;
    let mut runner = Runner {
        plan,
        out,
        arms,
        profile,
        server_bin,
        scale: args.scale.scale,
        setup: Setup {
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            scenario: String::new(),
            scale: args.scale.scale,
            rng_seed: args.scale.rng_seed,
            vus: 0,
            duration_s: 0.0,
            rate: args.run.rate,
            repeat: args.repeat,
            profile: args.profile.clone(),
            interrupted: false,
            target: external.as_ref().map(|e| e.shown.clone()),
        },
        reports: Vec::new(),
        settings: Vec::new(),
        tune_plan: None,
        external,
    };
    runner.setup.scenario = runner.plan.scenario.name.clone();
    runner.setup.vus = runner.plan.vus;
    runner.setup.duration_s = runner.plan.duration.as_secs_f64();
    let result = runner.run(&mut db, &schedule, args.scale.rng_seed).await;
    db.close().await;
    let (x, took) = result?;
    finish(&x, took, &runner.out)
}

/// `--host`: the running stack, its logins and what its scenario's writes become, all
/// checked before anything runs.
fn external(
    args: &ExperimentArgs,
    plan: &crate::engine::RunPlan,
    arms: &[crate::experiment::Arm],
    host: &str,
) -> anyhow::Result<External> {
    let ext = &args.external;
    let (host, shown) = super::validated_host("--host", host)?;
    external::check_arms(arms).map_err(|e| InputError::msg(format!("--arms: {e}")))?;
    let database_url = ext.database_url.clone().ok_or_else(|| {
        InputError::msg("--host needs --database-url (its database, as a superuser)")
    })?;
    crate::pg::connect_options(&database_url)?;
    let logins = crate::load::resolve_logins(&ext.logins, ext.logins_file.as_deref())
        .map_err(InputError::msg)?;
    if plan.scenario.needs_login() && logins.is_empty() {
        return Err(InputError(
            crate::load::LoadError::NoLogins(plan.scenario.name.clone()).into(),
        )
        .into());
    }
    let writes = plan
        .scenario
        .requests
        .iter()
        .filter(|r| r.method != crate::load::scenario::Method::Get)
        .map(|r| r.name.clone())
        .collect::<Vec<_>>();
    let written_tables = match ext.writes {
        WritesPolicy::Refuse if !writes.is_empty() => {
            return Err(InputError::msg(format!(
                "scenario {} writes ({}): on a running KoproGo each run's rows would stay for the next; use a read-only scenario, --writes delete or --writes keep (see --help)",
                plan.scenario.name,
                writes.join(", ")
            ))
            .into());
        }
        WritesPolicy::Delete => external::written_tables(plan).map_err(InputError::msg)?,
        _ => Vec::new(),
    };
    if arms.iter().any(|a| a.name == "tuned") {
        eprintln!(
            "experiment: with --host, tuned is the profile's settings and indexes (KoproGo runs as it is)"
        );
    }
    Ok(External {
        host,
        shown,
        database_url,
        logins,
        restart_cmd: ext.restart_cmd.clone(),
        writes: ext.writes,
        server_pid: ext.server_pid,
        postgres_pid: ext.postgres_pid,
        written_tables,
    })
}

/// Prints the arms' table and where the files are; 130 after Ctrl-C.
fn finish(x: &ExperimentReport, took: Duration, out: &Path) -> anyhow::Result<ExitCode> {
    println!("{}", crate::experiment::render::table(x));
    eprintln!(
        "experiment: {} runs in {:.0} s; wrote {} and report.html (`koprogo-perf report {}` for Markdown)",
        x.runs.len(),
        took.as_secs_f64(),
        out.join("experiment.json").display(),
        out.display()
    );
    if x.setup.interrupted {
        eprintln!("interrupted: the figures cover the runs that ended");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}
