//! `koprogo-perf load` and `koprogo-perf demo`: a goose run against a URL, or against
//! the in-process stack (embedded PostgreSQL, seeded, reference server on a free port);
//! then the tables, run.json and latency.hgrm.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::{DemoArgs, HeapArgs, LoadArgs, RunArgs, ScaleArgs};
use crate::engine::process::ServerCommand;
use crate::engine::{LocalStack, Probe, RunPlan, attach_heap, measure};
use crate::interrupt::{CancellationToken, interruptible};
use crate::measure::carbon::{Model as CarbonModel, Region};
use crate::report::InputError;
use crate::report::run::TargetInfo;
use crate::report::run_dir::Run;
use crate::server::ServerArgs;

pub(super) fn plan(
    run: &RunArgs,
    default_duration: Duration,
    cancel: CancellationToken,
) -> anyhow::Result<RunPlan> {
    let test_plan = run
        .plan
        .as_deref()
        .map(|p| crate::load::plan::TestPlan::parse(p, run.ramp_up, run.duration))
        .transpose()
        .map_err(InputError::msg)?;
    let scenario_name = run
        .scenario
        .as_deref()
        .or(test_plan.as_ref().and_then(|p| p.scenario))
        .unwrap_or("api-load");
    let scenario = crate::load::scenario::load(scenario_name)?;
    // Not 0: clap refuses `--duration 0s`.
    let duration = run.duration.unwrap_or(default_duration);
    let region: Region = run
        .region
        .parse()
        .map_err(|e| InputError::msg(format!("--region: {e}")))?;
    let carbon = CarbonModel::load()?;
    // An unknown region name fails now, not after the run.
    carbon
        .grid(&region)
        .map_err(|e| InputError::msg(format!("--region: {e}")))?;
    Ok(RunPlan {
        scenario,
        vus: run.vus as usize,
        duration,
        ramp_up: run.ramp_up,
        timeout: run.timeout,
        max_error_rate: run.max_error_rate,
        // Claimed by the command (`claim_run_dir`): an experiment's --out is not a run's.
        out: run.out.clone().unwrap_or_default(),
        rate: run.rate,
        test_plan,
        quiet: run.quiet,
        flamegraph: run.flamegraph,
        profiler: run.profiler,
        pgss_top: run.pgss_top,
        pgss_reset: run.pgss_reset,
        region,
        carbon,
        server_bin: run.server_bin.clone().or_else(own_binary),
        heap: None,
        cancel,
    })
}

/// `--heap-profile`: heaptrack, found before anything starts.
fn heaptrack(heap: &HeapArgs) -> anyhow::Result<Option<crate::measure::heap::Heaptrack>> {
    let found = heap
        .heap_profile
        .then(crate::measure::heap::Heaptrack::find);
    Ok(found.transpose().map_err(InputError::msg)?)
}

/// This executable when it is koprogo-perf (not a test harness linking the library).
fn own_binary() -> Option<PathBuf> {
    std::env::current_exe().ok().filter(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("koprogo-perf"))
    })
}

/// `--out` of `load`/`demo` checked and created before any work (see
/// [`crate::report::claim_out_dir`]).
fn claim_run_dir(plan: &mut RunPlan, run: &RunArgs) -> anyhow::Result<()> {
    plan.out = crate::report::claim_out_dir(run.out.as_deref(), "", "run.json", run.force)?;
    Ok(())
}

/// `koprogo-perf demo`.
pub async fn demo(args: DemoArgs, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    let began = Instant::now();
    let mut plan = plan(&args.run, Duration::from_secs(30), cancel)?;
    plan.heap = heaptrack(&args.heap)?;
    claim_run_dir(&mut plan, &args.run)?;
    let code = local(plan, &args.scale, None, &ServerArgs::default(), false).await?;
    eprintln!(
        "demo finished in {:.1} s; everything it started is stopped and removed",
        began.elapsed().as_secs_f64()
    );
    Ok(code)
}

/// `koprogo-perf load`.
pub async fn load(args: LoadArgs, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    let mut plan = plan(&args.run, Duration::from_secs(60), cancel)?;
    plan.heap = heaptrack(&args.heap)?;
    match &args.host {
        Some(host) => external(&args, host, plan).await,
        None => {
            claim_run_dir(&mut plan, &args.run)?;
            local(
                plan,
                &args.scale,
                args.db.database_url.as_deref(),
                &args.server,
                args.db.keep_db,
            )
            .await
        }
    }
}

/// `load --host`: the flags checked, then the run against the host, which is either
/// running already or started by `--server-cmd`.
async fn external(args: &LoadArgs, host: &str, mut plan: RunPlan) -> anyhow::Result<ExitCode> {
    // `shown` is what is printed and stored: never a password of the URL.
    let (host, shown) = super::validated_host("--host", host)?;
    let url = reqwest::Url::parse(&host).expect("validated_host parsed it");
    if args.db.keep_db {
        return Err(InputError::msg(
            "--keep-db applies to the embedded cluster, which --host does not start",
        )
        .into());
    }
    let command = args
        .server_cmd
        .as_deref()
        .map(ServerCommand::parse)
        .transpose()?;
    if plan.heap.is_some() && command.is_none() {
        return Err(InputError::msg(
            "--heap-profile with --host needs --server-cmd: heaptrack records a server the tool \
             starts (without --host, the reference server is profiled)",
        )
        .into());
    }
    if command.is_some() {
        crate::engine::process::ensure_free(&url).await?;
    }
    let logins = crate::load::resolve_logins(&args.logins, args.logins_file.as_deref())
        .map_err(InputError::msg)?;
    if plan.scenario.needs_login() && logins.is_empty() {
        return Err(InputError(
            crate::load::LoadError::NoLogins(plan.scenario.name.clone()).into(),
        )
        .into());
    }
    claim_run_dir(&mut plan, &args.run)?;
    let target = TargetInfo {
        host: shown,
        embedded: false,
        server: None,
        command: command.as_ref().map(|c| c.shown.clone()),
    };
    let db = args.db.database_url.clone();
    let Some(command) = command else {
        let probe = Probe::external(db, args.server_pid, args.postgres_pid);
        let run = measure(&plan, host, logins, target, probe).await?;
        return finish(&plan, &run);
    };
    let run = crate::engine::process::measure_started(
        &plan,
        &command,
        &url,
        (host, logins, target),
        Probe::external(db, None, args.postgres_pid),
        args.server_start_timeout,
    )
    .await?;
    finish(&plan, &run)
}

/// Starts the local stack (the server as its own process when this is the
/// koprogo-perf binary), loads it, stops it (also on error or Ctrl-C), reports.
async fn local(
    plan: RunPlan,
    scale: &ScaleArgs,
    database_url: Option<&str>,
    server: &ServerArgs,
    keep_db: bool,
) -> anyhow::Result<ExitCode> {
    // The server's only clients are this run's virtual users, all from 127.0.0.1.
    let server = &server.clone().for_own_load();
    let mut stack = interruptible(
        &plan.cancel,
        LocalStack::start_for_run(
            database_url,
            &scale.resolve(),
            server,
            plan.server_bin.as_deref(),
            plan.flamegraph,
            plan.heap
                .as_ref()
                .map(|h| h.session())
                .transpose()
                .context("preparing heaptrack's recording")?,
        ),
    )
    .await?;
    if keep_db {
        stack.db.keep();
    }
    eprintln!("{}", stack.describe());
    let (target, probe) = (stack.target(), Probe::of_stack(&stack));
    let logins = crate::load::logins_for(&plan.scenario, stack.logins.clone());
    let result = measure(&plan, stack.base_url(), logins, target, probe).await;
    let heap = stack.take_heap();
    stack.stop().await;
    let mut run = result?;
    if let Some(session) = heap {
        attach_heap(&plan, &mut run, session).await?;
    }
    finish(&plan, &run)
}

/// Prints the tables, writes the files, and decides the exit code: 0 when the run
/// completed (whatever the targets say), non-zero after Ctrl-C or when the server
/// stopped answering — with the report of what was measured written either way.
fn finish(plan: &RunPlan, run: &Run) -> anyhow::Result<ExitCode> {
    let report = &run.report;
    let verdict = report.effective_verdict();
    print!("{}", crate::report::tables::run(report));
    if let Some(svg) = &report.flamegraph {
        println!("flamegraph: {}", plan.out.join(svg).display());
    }
    if let Some(svg) = report.heap.as_ref().and_then(|h| h.flamegraph.as_ref()) {
        println!("heap flamegraph: {}", plan.out.join(svg).display());
    }
    crate::report::RunDir::new(&plan.out).write(run)?;
    println!(
        "{}",
        crate::report::tables::summary(report, &plan.out.join("run.json"), run.hlog.is_some())
    );
    if let Some((line, short)) = crate::report::tables::rate(report) {
        println!("{line}");
        if let Some(short) = short {
            eprintln!("{short}");
        }
    }
    if report.interrupted {
        eprintln!(
            "interrupted: the report covers the {:.1} s measured",
            report.duration_s
        );
        return Ok(ExitCode::from(130));
    }
    if report.totals.requests == 0 && report.skipped_requests == 0 {
        anyhow::bail!(
            "no request completed in the steady state against {} ({} during warm-up); \
             check the server and the scenario — the report is in {}",
            report.target.host,
            report.warmup_requests,
            plan.out.display()
        );
    }
    if verdict.failed {
        // The last line says it again, for whoever reads only the end.
        anyhow::bail!(
            "{} — the report of the {:.1} s measured is in {}",
            verdict.reasons.join("; "),
            report.duration_s,
            plan.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
