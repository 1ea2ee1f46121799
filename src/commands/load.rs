//! `koprogo-perf load` and `koprogo-perf demo`: a goose run against a URL, or against
//! the in-process stack (embedded PostgreSQL, seeded, reference server on a free port);
//! then the tables, run.json and latency.hgrm.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cli::{DemoArgs, LoadArgs, RunArgs, ScaleArgs};
use crate::load::{LoadOptions, Login, Scenario};
use crate::pg::Database;
use crate::report::RunReport;
use crate::report::run::{RunContext, ScenarioInfo, ServerInfo, TargetInfo};
use crate::seed::SeedOptions;
use crate::server::{AppState, ServerConfig};

/// The reference stack in this process: a database (embedded unless a URL is given),
/// migrated and seeded, and the reference server listening on a loopback port.
pub struct LocalStack {
    pub db: Database,
    pub addr: SocketAddr,
    /// The seeded syndics' credentials.
    pub logins: Vec<Login>,
    pub scale: u32,
    pub pool_max_connections: u32,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl LocalStack {
    /// Opens the database, migrates it, seeds it when empty (always for an embedded
    /// cluster), and starts the server on `config.bind` (port 0 for any free port).
    pub async fn start(
        database_url: Option<&str>,
        scale: &ScaleArgs,
        config: ServerConfig,
    ) -> anyhow::Result<LocalStack> {
        let db = Database::open(database_url).await?;
        let pool = crate::pg::connect(db.url(), 4).await?;
        crate::pg::migrate(&pool).await?;
        let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations")
            .fetch_one(&pool)
            .await
            .context("counting organizations")?;
        if existing == 0 {
            let summary = crate::seed::seed(
                &pool,
                &SeedOptions {
                    scale: scale.scale,
                    rng_seed: scale.rng_seed,
                    reset: false,
                },
            )
            .await?;
            super::seed::print_summary(&summary, &db.display_url());
        } else {
            eprintln!(
                "{} already holds {existing} organizations: serving them as they are (logins assume a koprogo-perf seed at --scale {})",
                db.display_url(),
                scale.scale
            );
        }
        pool.close().await;
        let logins = crate::seed::demo_logins(scale.scale)
            .into_iter()
            .map(|l| Login {
                email: l.email,
                password: l.password,
            })
            .collect();
        let pool_max_connections = config.pool_max_connections;
        let listener = TcpListener::bind(config.bind).await.with_context(|| {
            format!(
                "cannot listen on {}: pick another --bind address",
                config.bind
            )
        })?;
        let addr = listener.local_addr()?;
        let state = AppState::connect(db.url(), config).await?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(crate::server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Ok(LocalStack {
            db,
            addr,
            logins,
            scale: scale.scale,
            pool_max_connections,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server gracefully, then the embedded cluster.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.db.close().await;
    }
}

/// The resolved options of a run, before any I/O.
struct Plan {
    scenario: Scenario,
    vus: usize,
    duration: Duration,
    ramp_up: Duration,
    timeout: Duration,
    out: PathBuf,
}

fn plan(run: &RunArgs, default_duration: Duration) -> anyhow::Result<Plan> {
    let scenario = crate::load::scenario::load(&run.scenario)?;
    let duration = run.duration.unwrap_or(default_duration);
    if duration.is_zero() {
        anyhow::bail!("--duration must be at least 1s");
    }
    Ok(Plan {
        scenario,
        vus: run.vus as usize,
        duration,
        ramp_up: run.ramp_up,
        timeout: run.timeout,
        out: run.out.clone().unwrap_or_else(default_out_dir),
    })
}

fn default_out_dir() -> PathBuf {
    Path::new("reports").join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string())
}

/// `koprogo-perf demo`.
pub async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let began = Instant::now();
    let plan = plan(&args.run, Duration::from_secs(30))?;
    let mut config = crate::server::ServerArgs::default()
        .resolve()
        .context("server settings")?;
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    let code = in_process(plan, &args.scale, None, config, false).await?;
    eprintln!(
        "demo finished in {:.1} s; everything it started is stopped and removed",
        began.elapsed().as_secs_f64()
    );
    Ok(code)
}

/// `koprogo-perf load`.
pub async fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let plan = plan(&args.run, Duration::from_secs(60))?;
    match &args.host {
        Some(host) => {
            let host = host.trim_end_matches('/').to_string();
            reqwest::Url::parse(&host)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                .with_context(|| {
                    format!("--host `{host}` is not an http(s) URL (e.g. http://127.0.0.1:8080)")
                })?;
            if args.db.keep_db {
                anyhow::bail!(
                    "--keep-db applies to the embedded cluster, which --host does not start"
                );
            }
            let mut logins = args
                .logins
                .iter()
                .map(|l| l.parse().map_err(|e| anyhow::anyhow!("--login: {e}")))
                .collect::<anyhow::Result<Vec<Login>>>()?;
            if logins.is_empty()
                && let Ok(env) = std::env::var("KOPROGO_PERF_LOGINS")
            {
                logins = crate::load::parse_logins(&env).map_err(anyhow::Error::msg)?;
            }
            let target = TargetInfo {
                host: host.clone(),
                embedded: false,
                server: None,
            };
            let report = measure(&plan, host, logins, target).await?;
            finish(&plan, &report)
        }
        None => {
            let mut config = args.server.resolve().context("server settings")?;
            config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
            in_process(
                plan,
                &args.scale,
                args.db.database_url.as_deref(),
                config,
                args.db.keep_db,
            )
            .await
        }
    }
}

/// Starts the local stack, loads it, stops it (also on error or Ctrl-C), reports.
async fn in_process(
    plan: Plan,
    scale: &ScaleArgs,
    database_url: Option<&str>,
    config: ServerConfig,
    keep_db: bool,
) -> anyhow::Result<ExitCode> {
    let mut stack = super::interruptible(LocalStack::start(database_url, scale, config)).await?;
    if keep_db {
        stack.db.keep();
    }
    eprintln!(
        "reference server on {} (pool {} connections)",
        stack.base_url(),
        stack.pool_max_connections
    );
    let target = TargetInfo {
        host: stack.base_url(),
        embedded: stack.db.is_embedded(),
        server: Some(ServerInfo {
            scale: stack.scale,
            pool_max_connections: stack.pool_max_connections,
            postgres_version: stack.db.cluster().map(|c| c.version().to_string()),
        }),
    };
    let result = measure(&plan, stack.base_url(), stack.logins.clone(), target).await;
    stack.stop().await;
    finish(&plan, &result?)
}

/// Runs the load and builds the report (targets checked).
async fn measure(
    plan: &Plan,
    host: String,
    logins: Vec<Login>,
    target: TargetInfo,
) -> anyhow::Result<RunReport> {
    if crate::interrupt::interrupted() {
        return Err(crate::interrupt::Interrupted.into());
    }
    let logins = if plan.scenario.needs_login() {
        logins
    } else {
        Vec::new()
    };
    eprintln!(
        "load: scenario {} ({} request kinds), {} users, ramp-up {} s, {} s steady, against {host}",
        plan.scenario.name,
        plan.scenario.requests.len(),
        plan.vus,
        plan.ramp_up.as_secs(),
        plan.duration.as_secs()
    );
    let outcome = crate::load::run(LoadOptions {
        host,
        vus: plan.vus,
        duration: plan.duration,
        ramp_up: plan.ramp_up,
        scenario: plan.scenario.clone(),
        logins,
        timeout: plan.timeout,
    })
    .await?;
    let mut report = RunReport::build(
        &outcome,
        RunContext {
            vus: plan.vus,
            ramp_up_s: plan.ramp_up.as_secs_f64(),
            scenario: ScenarioInfo {
                name: plan.scenario.name.clone(),
                source: plan.scenario.source.clone(),
            },
            target,
        },
    );
    let thresholds = crate::report::targets::guide_targets()?;
    report.targets = crate::report::targets::check_all(&thresholds, &report);
    Ok(report)
}

/// Prints the tables, writes the files, and decides the exit code: 0 when the run
/// completed (whatever the targets say), non-zero after Ctrl-C or when the server
/// stopped answering — with the report of what was measured written either way.
fn finish(plan: &Plan, report: &RunReport) -> anyhow::Result<ExitCode> {
    println!("{}", crate::report::tables::endpoints(report));
    println!("{}", crate::report::tables::targets(&report.targets));
    crate::report::write_run(&plan.out, report)?;
    println!(
        "{} requests in {:.1} s: {:.1} req/s, p99 {}, {} errors; wrote {} and latency.hgrm",
        report.totals.requests,
        report.duration_s,
        report.totals.rps,
        crate::report::targets::format_us(report.totals.latency_us.p99 as f64),
        report.totals.errors,
        plan.out.join("run.json").display()
    );
    if report.interrupted {
        eprintln!(
            "interrupted: the report covers the {:.1} s measured",
            report.duration_s
        );
        return Ok(ExitCode::from(130));
    }
    if report.totals.requests == 0 {
        anyhow::bail!(
            "no request completed in the steady state against {} ({} during warm-up, {} skipped); \
             check the server and the scenario — the report is in {}",
            report.target.host,
            report.warmup_requests,
            report.skipped_requests,
            plan.out.display()
        );
    }
    if report.host_down {
        let connect_errors: u64 = report
            .endpoints
            .iter()
            .map(|e| e.transport_errors.connect)
            .sum();
        anyhow::bail!(
            "{} stopped accepting connections during the run ({connect_errors} refused); check that the \
             server is up — the report of the {:.1} s measured is in {}",
            report.target.host,
            report.duration_s,
            plan.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
