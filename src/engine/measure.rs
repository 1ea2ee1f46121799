//! The measured run: a [`RunPlan`] run against a target with the probes around it —
//! pg_stat_statements, resources, the database watcher, the flamegraph sampler, CO2 —
//! each started before the load and finished after it, and the run report returned
//! whole (targets and verdict included). Commands only resolve, call and print.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::RunContext;
use crate::load::{LoadOptions, Login, Scenario};
use crate::measure::Profiler;
use crate::measure::carbon::{Inputs as CarbonInputs, Model as CarbonModel, Region};
use crate::measure::pgss::PostgresReport;
use crate::measure::resources::{Sampler, Watch};
use crate::report::RunReport;
use crate::report::run::{ScenarioInfo, TargetInfo};
use crate::report::run_dir::Run;

/// The resolved options of a run, before any I/O.
pub struct RunPlan {
    pub scenario: Scenario,
    pub vus: usize,
    pub duration: Duration,
    pub ramp_up: Duration,
    pub timeout: Duration,
    /// `--max-error-rate`, a fraction.
    pub max_error_rate: f64,
    pub out: PathBuf,
    pub rate: Option<f64>,
    /// `--plan`, parsed.
    pub test_plan: Option<crate::load::plan::TestPlan>,
    pub quiet: bool,
    pub flamegraph: bool,
    pub profiler: Profiler,
    pub pgss_top: usize,
    pub pgss_reset: bool,
    pub region: Region,
    pub carbon: CarbonModel,
    pub server_bin: Option<PathBuf>,
    /// `--heap-profile`: heaptrack, found before the run.
    pub heap: Option<crate::measure::heap::Heaptrack>,
    /// Cancelled by Ctrl-C: the run stops, and its report covers what was measured.
    pub cancel: crate::interrupt::CancellationToken,
}

/// A flamegraph being sampled.
enum Flame {
    Perf(crate::measure::flamegraph::Profiler),
    Builtin(crate::measure::sampler::Remote),
}

impl Flame {
    /// The sampler's name in run.json.
    fn name(&self) -> &'static str {
        match self {
            Flame::Perf(_) => "perf",
            Flame::Builtin(_) => "builtin",
        }
    }

    async fn finish(self, out: &Path) -> Result<(&'static str, String), String> {
        let name = self.name();
        let title = "koprogo-perf reference server";
        let file = match self {
            Flame::Perf(p) => p.finish(None, title).await?,
            Flame::Builtin(b) => b.finish(title, out).await?,
        };
        Ok((name, file))
    }
}

/// Starts the chosen sampler on the server `pid`; `sampler_file` is where the bundled
/// server's built-in sampler writes (None for any other server).
fn start_flame(
    choice: Profiler,
    pid: u32,
    out: &Path,
    sampler_file: Option<&Path>,
) -> Result<Flame, String> {
    let builtin = |why: Option<String>| match sampler_file {
        Some(file) => {
            if let Some(why) = &why {
                eprintln!("perf cannot sample the server ({why}): using the built-in sampler");
            }
            eprintln!(
                "built-in sampler: from now on the server's memory includes the sampler's (it maps the executable's debug info, about twice the binary's size)"
            );
            crate::measure::sampler::Remote::start(pid, file).map(Flame::Builtin)
        }
        None => Err(why.unwrap_or_else(|| {
            "the built-in sampler runs only inside the bundled reference server".into()
        })),
    };
    match choice {
        Profiler::Builtin => builtin(None),
        Profiler::Perf | Profiler::Auto => {
            let perf = std::fs::create_dir_all(out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))
                .and_then(|()| crate::measure::flamegraph::start(pid, out));
            match perf {
                Ok(p) => Ok(Flame::Perf(p)),
                Err(why) if choice == Profiler::Auto => builtin(Some(why)),
                Err(why) => Err(why),
            }
        }
    }
}

/// What the measurements around the load can reach.
pub struct Probe {
    /// The run's database, for pg_stat_statements.
    pub database_url: Option<String>,
    pub server_pid: Option<u32>,
    pub server_note: Option<String>,
    pub postgres_pid: Option<u32>,
    pub postgres_note: Option<String>,
    /// Where the bundled server's built-in sampler writes, when it has one.
    pub sampler_file: Option<PathBuf>,
    /// The database is the tool's own (its stack): watch that it stays up.
    pub watch_database: bool,
}

impl Probe {
    /// What can be measured of an external target: its database when given, and the
    /// server's and postmaster's processes when their pids are.
    pub fn external(
        database_url: Option<String>,
        server_pid: Option<u32>,
        postgres_pid: Option<u32>,
    ) -> Probe {
        Probe {
            database_url,
            server_pid,
            server_note: server_pid.is_none().then(|| {
                "an external target: pass --server-pid PID when it runs on this machine".into()
            }),
            postgres_pid,
            postgres_note: postgres_pid.is_none().then(|| {
                "an external target: pass --postgres-pid PID (the postmaster) when it runs on \
                 this machine"
                    .into()
            }),
            sampler_file: None,
            watch_database: false,
        }
    }

    /// Everything of the tool's own stack: its database (watched), the server's process
    /// (when it is a child) and the postmaster's (when the cluster is embedded).
    pub fn of_stack(stack: &crate::engine::LocalStack) -> Probe {
        let postgres_pid = stack.db.cluster().and_then(|c| c.postmaster_pid());
        Probe {
            database_url: Some(stack.db.url().to_string()),
            server_pid: stack.server_pid(),
            server_note: stack.server_pid().is_none().then(|| {
                "the server runs inside the load generator's process (library use)".into()
            }),
            postgres_pid,
            postgres_note: postgres_pid.is_none().then(|| {
                "a database given by URL: pass it to load --host with --postgres-pid".into()
            }),
            sampler_file: stack.sampler_file(),
            watch_database: true,
        }
    }
}

/// pg_stat_statements around the run: a snapshot before, the difference after.
struct Statements {
    before: Option<(sqlx::PgPool, crate::measure::pgss::Snapshot)>,
    note: Option<String>,
}

impl Statements {
    async fn start(plan: &RunPlan, probe: &Probe) -> Statements {
        let mut before = None;
        let mut note = None;
        match &probe.database_url {
            Some(url) => match crate::pg::connect(url, 1).await {
                Ok(pool) => match crate::measure::pgss::prepare(&pool).await {
                    Ok(()) => {
                        let mut snapshot = Default::default();
                        if plan.pgss_reset
                            && let Err(e) = crate::measure::pgss::reset(&pool).await
                        {
                            eprintln!("pg_stat_statements: {e}");
                        }
                        match crate::measure::pgss::snapshot(&pool).await {
                            Ok(s) => snapshot = s,
                            Err(e) => note = Some(e),
                        }
                        if note.is_none() {
                            before = Some((pool, snapshot));
                        }
                    }
                    Err(e) => note = Some(e),
                },
                Err(e) => note = Some(format!("{e:#}")),
            },
            None => {
                note =
                    Some("the target's database is unknown: pass --database-url with --host".into())
            }
        }
        if let Some(note) = &note {
            eprintln!("pg_stat_statements not measured: {note}");
        }
        Statements { before, note }
    }

    async fn finish(self, top: usize) -> PostgresReport {
        match self.before {
            Some((pool, before)) => {
                let report = match crate::measure::pgss::snapshot(&pool).await {
                    Ok(after) => PostgresReport {
                        measured: true,
                        note: None,
                        statements: crate::measure::pgss::diff(&before, &after, top),
                    },
                    Err(e) => PostgresReport::not_measured(e),
                };
                pool.close().await;
                report
            }
            None => PostgresReport::not_measured(self.note.unwrap_or_default()),
        }
    }
}

/// The flamegraph of the steady state: the sampler starts when it begins (after the
/// ramp-up and the logins).
struct FlameProbe {
    task: Option<tokio::task::JoinHandle<Result<Flame, String>>>,
}

/// What the flamegraph probe leaves in run.json.
struct FlameResult {
    file: Option<String>,
    skipped_reason: Option<String>,
    sampler: Option<String>,
}

impl FlameProbe {
    fn start(plan: &RunPlan, probe: &Probe, steady: &std::sync::Arc<tokio::sync::Notify>) -> Self {
        let task = match (plan.flamegraph, probe.server_pid) {
            (true, Some(pid)) => {
                let out = plan.out.clone();
                let steady = steady.clone();
                let choice = plan.profiler;
                let sampler_file = probe.sampler_file.clone();
                Some(tokio::spawn(async move {
                    steady.notified().await;
                    start_flame(choice, pid, &out, sampler_file.as_deref())
                }))
            }
            _ => None,
        };
        FlameProbe { task }
    }

    async fn finish(self, plan: &RunPlan, probe: &Probe) -> FlameResult {
        let mut sampler = None;
        let (file, skipped_reason) = match (plan.flamegraph, self.task) {
            (false, _) => (None, Some("not asked for (--flamegraph)".to_string())),
            (true, None) => (
                None,
                Some(
                    probe
                        .server_note
                        .clone()
                        .unwrap_or_else(|| "no server process to profile".into()),
                ),
            ),
            (true, Some(mut task)) => match tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .unwrap_or_else(|_| {
                    // The steady state never began (Ctrl-C, host down): perf never started.
                    task.abort();
                    Ok(Err("the run ended before its steady state began".into()))
                }) {
                Ok(Ok(flame)) => match flame.finish(&plan.out).await {
                    Ok((name, file)) => {
                        sampler = Some(name.to_string());
                        (Some(file), None)
                    }
                    Err(reason) => (None, Some(reason)),
                },
                Ok(Err(reason)) => (None, Some(reason)),
                Err(e) => (None, Some(format!("the profiler task failed: {e}"))),
            },
        };
        if let Some(reason) = skipped_reason.as_deref().filter(|_| plan.flamegraph) {
            eprintln!("no flamegraph: {reason}");
        }
        FlameResult {
            file,
            skipped_reason,
            sampler,
        }
    }
}

/// The line that says what is about to run.
fn announce(plan: &RunPlan, target: &TargetInfo) {
    match &plan.test_plan {
        Some(p) => eprintln!(
            "load: scenario {} ({} request kinds), plan {} ({} s: {}), against {}",
            plan.scenario.name,
            plan.scenario.requests.len(),
            p.name,
            p.total().as_secs(),
            p.phases()
                .iter()
                .map(|ph| format!("{} for {} s", ph.name, ph.duration.as_secs()))
                .collect::<Vec<_>>()
                .join(", "),
            target.host
        ),
        None => eprintln!(
            "load: scenario {} ({} request kinds), {} users, ramp-up {} s, {} s steady{}, against {}",
            plan.scenario.name,
            plan.scenario.requests.len(),
            plan.vus,
            plan.ramp_up.as_secs(),
            plan.duration.as_secs(),
            plan.rate
                .map_or(String::new(), |r| format!(" at {r} req/s")),
            target.host
        ),
    }
}

/// Runs the load with the measurements around it, and builds the run: its report and
/// interval log.
pub async fn measure(
    plan: &RunPlan,
    host: String,
    logins: Vec<Login>,
    target: TargetInfo,
    probe: Probe,
) -> anyhow::Result<Run> {
    if plan.cancel.is_cancelled() {
        return Err(crate::interrupt::Interrupted.into());
    }
    let logins = if plan.scenario.needs_login() {
        logins
    } else {
        Vec::new()
    };
    let statements = Statements::start(plan, &probe).await;
    let sampler = Sampler::start(
        Watch {
            server: probe.server_pid,
            postgres: probe.postgres_pid,
            generator: std::process::id(),
            server_note: probe.server_note.clone(),
            postgres_note: probe.postgres_note.clone(),
        },
        Duration::from_secs(1),
    );
    let steady = std::sync::Arc::new(tokio::sync::Notify::new());
    let flame = FlameProbe::start(plan, &probe, &steady);
    announce(plan, &target);
    let watcher = probe
        .database_url
        .clone()
        .filter(|_| probe.watch_database)
        .map(|url| crate::measure::availability::Watcher::start(url, probe.postgres_pid));
    let outcome = crate::load::run(LoadOptions {
        host,
        vus: plan.vus,
        duration: plan.duration,
        ramp_up: plan.ramp_up,
        scenario: plan.scenario.clone(),
        logins,
        timeout: plan.timeout,
        steady: Some(steady),
        rate: plan.rate.map(crate::load::schedule::RateCurve::constant),
        plan: plan.test_plan.clone(),
        quiet: plan.quiet,
        cancel: plan.cancel.clone(),
    })
    .await;
    let resources = sampler.stop().await;
    let outage = match watcher {
        Some(w) => w.stop().await,
        None => None,
    };
    let flame = flame.finish(plan, &probe).await;
    let outcome = outcome?;
    let postgres = statements.finish(plan.pgss_top).await;

    let mut report = RunReport::build(
        &outcome,
        RunContext {
            vus: plan
                .test_plan
                .as_ref()
                .and_then(|p| p.max_users())
                .unwrap_or(plan.vus),
            ramp_up_s: plan.ramp_up.as_secs_f64(),
            scenario: ScenarioInfo {
                name: plan.scenario.name.clone(),
                source: plan.scenario.source.clone(),
            },
            target,
        },
    );
    report.carbon = carbon(plan, &report, &resources, outcome.network_bytes);
    report.postgres = postgres;
    report.resources = Some(resources);
    report.flamegraph = flame.file;
    report.flamegraph_skipped_reason = flame.skipped_reason;
    report.flamegraph_sampler = flame.sampler;
    report.plan = plan.test_plan.as_ref().map(|p| p.describe());
    report.database_unavailable = outage.map(|o| {
        let since = |t: chrono::DateTime<chrono::Utc>| {
            ((t - outcome.started_at).num_milliseconds().max(0) as f64 / 1000.0 * 10.0).round()
                / 10.0
        };
        crate::report::run::Outage {
            from_s: since(o.from),
            until_s: o.until.map(since),
            detail: o.detail,
        }
    });
    report.targets = crate::report::targets::check_all(&thresholds(plan)?, &report);
    report.verdict = Some(crate::report::verdict::judge(&report, plan.max_error_rate));
    Ok(Run {
        report,
        hlog: crate::engine::build::interval_log(&outcome),
    })
}

/// Reads the heap profile of the run's server, which has exited, into the report
/// (`heap`, or `heap_skipped_reason`), draws its allocation flamegraph into the run
/// directory, and checks the targets again (`server_heap` is one).
pub async fn attach_heap(
    plan: &RunPlan,
    run: &mut Run,
    session: crate::measure::heap::Session,
) -> anyhow::Result<()> {
    let report = &run.report;
    let started_at = chrono::DateTime::parse_from_rfc3339(&report.started_at)
        .map(std::time::SystemTime::from)
        .unwrap_or_else(|_| std::time::SystemTime::now());
    let clock = crate::measure::heap::RunClock {
        started_at,
        steady: report
            .phases
            .iter()
            .filter(|p| p.steady)
            .map(|p| (p.start_s, p.start_s + p.duration_s))
            .collect(),
        end_s: report
            .phases
            .iter()
            .map(|p| p.start_s + p.duration_s)
            .fold(0.0, f64::max),
        requests: report.totals.requests,
    };
    let out = plan.out.clone();
    eprintln!("heap profile: reading heaptrack's data…");
    let profiled =
        tokio::task::spawn_blocking(move || crate::measure::heap::profile(session, &clock, &out))
            .await
            .unwrap_or_else(|e| Err(format!("the heap profile's task failed: {e}")));
    match profiled {
        Ok(heap) => run.report.heap = Some(heap),
        Err(reason) => {
            eprintln!("no heap profile: {reason}");
            run.report.heap_skipped_reason = Some(reason);
        }
    }
    run.report.targets = crate::report::targets::check_all(&thresholds(plan)?, &run.report);
    Ok(())
}

/// CO2 of the run from its requests, resources and bytes; None without a request.
fn carbon(
    plan: &RunPlan,
    report: &RunReport,
    resources: &crate::measure::resources::Resources,
    network_bytes: u64,
) -> Option<crate::measure::carbon::Carbon> {
    let carbon_inputs = CarbonInputs {
        requests: report.totals.requests,
        wall_s: report.duration_s,
        cpus: resources.machine.cpus,
        server_cpu_s: resources.server.measured.then_some(resources.server.cpu_s),
        postgres_cpu_s: resources
            .postgres
            .measured
            .then_some(resources.postgres.cpu_s),
        server_mean_rss_bytes: resources
            .server
            .measured
            .then_some(resources.server.mean_rss_bytes),
        postgres_mean_rss_bytes: resources
            .postgres
            .measured
            .then_some(resources.postgres.mean_rss_bytes),
        network_bytes,
    };
    if report.totals.requests == 0 {
        return None;
    }
    match crate::measure::carbon::compute(&plan.carbon, &plan.region, &carbon_inputs) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("CO2 not computed: {e}");
            None
        }
    }
}

/// A preset's expectations are its run's thresholds; otherwise the guide's targets.
fn thresholds(plan: &RunPlan) -> anyhow::Result<Vec<crate::report::targets::Threshold>> {
    Ok(
        match plan.test_plan.as_ref().filter(|p| !p.thresholds.is_empty()) {
            Some(p) => p
                .thresholds
                .iter()
                .map(|t| crate::report::targets::parse(t))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("the {} preset's thresholds: {e}", p.name))?,
            None => crate::report::targets::guide_targets()?,
        },
    )
}
