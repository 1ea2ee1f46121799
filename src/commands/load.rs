//! `koprogo-perf load` and `koprogo-perf demo`: a goose run against a URL, or against
//! the in-process stack (embedded PostgreSQL, seeded, reference server on a free port);
//! then the tables, run.json and latency.hgrm.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::os::unix::ffi::OsStrExt;

use anyhow::Context;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cli::{DemoArgs, LoadArgs, Profiler, RunArgs, ScaleArgs};
use crate::engine::RunContext;
use crate::load::{LoadOptions, Login, Scenario};
use crate::measure::carbon::{Inputs as CarbonInputs, Model as CarbonModel, Region};
use crate::measure::pgss::PostgresReport;
use crate::measure::resources::{Sampler, Watch};
use crate::pg::Database;
use crate::report::run::{ScenarioInfo, ServerInfo, TargetInfo};
use crate::report::{InputError, RunReport};
use crate::seed::SeedOptions;
use crate::server::{AppState, ServerArgs, ServerConfig};

/// The reference stack in this process: a database (embedded unless a URL is given),
/// migrated and seeded, and the reference server listening on a loopback port.
pub struct LocalStack {
    pub db: Database,
    pub addr: SocketAddr,
    /// The seeded syndics' credentials.
    pub logins: Vec<Login>,
    pub scale: u32,
    pub pool_max_connections: u32,
    /// The server's switches, in one line (`ServerConfig::switches`).
    pub switches: String,
    server: Option<Server>,
    /// Holds the file a child server's built-in sampler writes its stacks to.
    sampler_dir: Option<tempfile::TempDir>,
}

/// The built-in sampler's stacks, in the stack's sampler directory.
const SAMPLER_FILE: &str = "stacks.folded";

/// Where the reference server runs.
enum Server {
    /// A task of this process.
    InProcess {
        shutdown: oneshot::Sender<()>,
        task: JoinHandle<std::io::Result<()>>,
    },
    /// A `koprogo-perf serve --child` process: its CPU, memory and flamegraph are its own.
    Child(tokio::process::Child),
}

impl LocalStack {
    /// Opens the database, migrates it, seeds it when empty (always for an embedded
    /// cluster), and starts the server on `config.bind` (port 0 for any free port).
    pub async fn start(
        database_url: Option<&str>,
        scale: &ScaleArgs,
        config: ServerConfig,
    ) -> anyhow::Result<LocalStack> {
        Self::start_quiet(database_url, scale, config, false).await
    }

    /// [`LocalStack::start`]; `quiet` leaves out the note about existing data (a child
    /// server's parent has just seeded it).
    pub async fn start_quiet(
        database_url: Option<&str>,
        scale: &ScaleArgs,
        config: ServerConfig,
        quiet: bool,
    ) -> anyhow::Result<LocalStack> {
        // The address first: a port in use fails before a cluster is started and seeded.
        let listener = TcpListener::bind(config.bind).await.with_context(|| {
            format!(
                "cannot listen on {}: pick another --bind address",
                config.bind
            )
        })?;
        let (db, logins) = prepare_database(database_url, scale, quiet).await?;
        let pool_max_connections = config.pool_max_connections;
        let switches = config.switches();
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
            switches,
            server: Some(Server::InProcess { shutdown: tx, task }),
            sampler_dir: None,
        })
    }

    /// Like [`LocalStack::start`], but the server runs as a separate process of
    /// `server_bin` (`koprogo-perf serve --child`) on a free loopback port. With
    /// `sampler`, the child can run the built-in CPU sampler ([`LocalStack::sampler_file`]).
    pub async fn start_child(
        database_url: Option<&str>,
        scale: &ScaleArgs,
        args: &crate::server::ServerArgs,
        server_bin: &Path,
        sampler: bool,
    ) -> anyhow::Result<LocalStack> {
        let (db, logins) = prepare_database(database_url, scale, false).await?;
        Self::spawn_child(db, logins, scale.scale, args, server_bin, sampler).await
    }

    /// Starts `server_bin serve --child` on `db`, already migrated and seeded at `scale`
    /// (`logins` are its syndics').
    pub(super) async fn spawn_child(
        db: Database,
        logins: Vec<Login>,
        scale: u32,
        args: &crate::server::ServerArgs,
        server_bin: &Path,
        sampler: bool,
    ) -> anyhow::Result<LocalStack> {
        let sampler_dir = if sampler {
            Some(
                tempfile::Builder::new()
                    .prefix("koprogo-perf-sampler-")
                    .tempdir()
                    .context("creating a directory for the server's CPU samples")?,
            )
        } else {
            None
        };
        let mut command = tokio::process::Command::new(server_bin);
        command
            .args(["serve", "--child", "--bind", "127.0.0.1:0"])
            // Every switch spelled out, so that the child runs exactly these values.
            .args(args.child_args())
            .args(["--scale", &scale.to_string()])
            // In the environment, not argv: the URL holds the cluster's password.
            .env("DATABASE_URL", db.url())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = &sampler_dir {
            // pprof keeps its samples in a temporary file it never removes (its
            // profiler is a static): keep it in the directory this stack removes.
            command
                .arg("--profile-to")
                .arg(dir.path().join(SAMPLER_FILE))
                .env("TMPDIR", dir.path());
        }
        if let Some(secret) = &args.jwt_secret {
            command.env(
                "KOPROGO_PERF_JWT_SECRET",
                std::ffi::OsStr::from_bytes(secret.as_bytes()),
            );
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting the reference server {}", server_bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let announce = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) =
                    line.strip_prefix("serving the reference KoproGo API on http://")
                {
                    return Ok::<_, std::io::Error>(rest.split('/').next().map(str::to_string));
                }
            }
            Ok(None)
        })
        .await;
        let addr: SocketAddr = match announce {
            Ok(Ok(Some(addr))) => addr.parse().context("the server announced a bad address")?,
            _ => {
                let _ = child.kill().await;
                anyhow::bail!("the reference server process did not start (see its error above)");
            }
        };
        // Keep draining its stdout so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(LocalStack {
            db,
            addr,
            logins,
            scale,
            pool_max_connections: args.pool_max,
            switches: args.resolve().map(|c| c.switches()).unwrap_or_default(),
            server: Some(Server::Child(child)),
            sampler_dir,
        })
    }

    /// Where the child server's built-in sampler writes, when it has one.
    pub fn sampler_file(&self) -> Option<PathBuf> {
        self.sampler_dir
            .as_ref()
            .map(|d| d.path().join(SAMPLER_FILE))
    }

    /// The server's process id when it runs as its own process.
    pub fn server_pid(&self) -> Option<u32> {
        match &self.server {
            Some(Server::Child(child)) => child.id(),
            _ => None,
        }
    }
}

/// Opens the database, migrates it, seeds it when empty (always for an embedded
/// cluster); returns it with the seeded syndics' logins.
async fn prepare_database(
    database_url: Option<&str>,
    scale: &ScaleArgs,
    quiet: bool,
) -> anyhow::Result<(Database, Vec<Login>)> {
    {
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
        } else if !quiet {
            eprintln!(
                "{} already holds {existing} organizations: serving them as they are (logins assume a koprogo-perf seed at --scale {})",
                db.display_url(),
                scale.scale
            );
        }
        pool.close().await;
        Ok((db, seeded_logins(scale.scale)))
    }
}

/// The credentials of the syndics a koprogo-perf seed at `scale` creates.
pub(super) fn seeded_logins(scale: u32) -> Vec<Login> {
    crate::seed::demo_logins(scale)
        .into_iter()
        .map(Login::from)
        .collect()
}

impl LocalStack {
    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server gracefully, then the embedded cluster.
    pub async fn stop(mut self) {
        match self.server.take() {
            Some(Server::InProcess { shutdown, task }) => {
                let _ = shutdown.send(());
                let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
            }
            Some(Server::Child(mut child)) => {
                if let Some(pid) = child.id() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGINT,
                    );
                }
                if tokio::time::timeout(Duration::from_secs(10), child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.kill().await;
                }
            }
            None => {}
        }
        self.db.close().await;
    }
}

/// The resolved options of a run, before any I/O.
pub(super) struct Plan {
    pub(super) scenario: Scenario,
    pub(super) vus: usize,
    pub(super) duration: Duration,
    pub(super) ramp_up: Duration,
    pub(super) timeout: Duration,
    /// `--max-error-rate`, a fraction.
    pub(super) max_error_rate: f64,
    pub(super) out: PathBuf,
    pub(super) rate: Option<f64>,
    /// `--plan`, parsed.
    pub(super) test_plan: Option<crate::load::plan::Plan>,
    pub(super) quiet: bool,
    pub(super) flamegraph: bool,
    pub(super) profiler: Profiler,
    pub(super) pgss_top: usize,
    pub(super) pgss_reset: bool,
    pub(super) region: Region,
    pub(super) carbon: CarbonModel,
    pub(super) server_bin: Option<PathBuf>,
}

pub(super) fn plan(run: &RunArgs, default_duration: Duration) -> anyhow::Result<Plan> {
    let test_plan = run
        .plan
        .as_deref()
        .map(|p| crate::load::plan::Plan::parse(p, run.ramp_up, run.duration))
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
    Ok(Plan {
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
    })
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
fn claim_run_dir(plan: &mut Plan, run: &RunArgs) -> anyhow::Result<()> {
    plan.out = crate::report::claim_out_dir(run.out.as_deref(), "", "run.json", run.force)?;
    Ok(())
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
pub(super) struct Probe {
    /// The run's database, for pg_stat_statements.
    pub(super) database_url: Option<String>,
    pub(super) server_pid: Option<u32>,
    pub(super) server_note: Option<String>,
    pub(super) postgres_pid: Option<u32>,
    pub(super) postgres_note: Option<String>,
    /// Where the bundled server's built-in sampler writes, when it has one.
    pub(super) sampler_file: Option<PathBuf>,
    /// The database is the tool's own (its stack): watch that it stays up.
    pub(super) watch_database: bool,
}

/// `koprogo-perf demo`.
pub async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let began = Instant::now();
    let mut plan = plan(&args.run, Duration::from_secs(30))?;
    claim_run_dir(&mut plan, &args.run)?;
    let code = local(plan, &args.scale, None, &ServerArgs::default(), false).await?;
    eprintln!(
        "demo finished in {:.1} s; everything it started is stopped and removed",
        began.elapsed().as_secs_f64()
    );
    Ok(code)
}

/// `koprogo-perf load`.
pub async fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let mut plan = plan(&args.run, Duration::from_secs(60))?;
    match &args.host {
        Some(host) => {
            let host = host.trim_end_matches('/').to_string();
            // What is printed and stored: never a password of the URL.
            let shown = crate::redact::redact(&host);
            let Some(url) = reqwest::Url::parse(&host)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            else {
                return Err(InputError::msg(format!(
                    "--host `{shown}` is not an http(s) URL (e.g. http://127.0.0.1:8080)"
                ))
                .into());
            };
            if !url.username().is_empty() || url.password().is_some() {
                return Err(InputError::msg(format!(
                    "--host `{shown}` carries credentials (USER:PASSWORD@): sent as HTTP basic \
                     auth they would replace the login token, and every request would get a \
                     401; give the API's logins with --login or --logins-file"
                ))
                .into());
            }
            if args.db.keep_db {
                return Err(InputError::msg(
                    "--keep-db applies to the embedded cluster, which --host does not start",
                )
                .into());
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
            };
            let probe = Probe {
                database_url: args.db.database_url.clone(),
                server_pid: args.server_pid,
                server_note: args
                    .server_pid
                    .is_none()
                    .then(|| "an external target: pass --server-pid PID when it runs on this machine".into()),
                postgres_pid: args.postgres_pid,
                postgres_note: args
                    .postgres_pid
                    .is_none()
                    .then(|| "an external target: pass --postgres-pid PID (the postmaster) when it runs on this machine".into()),
                sampler_file: None,
                watch_database: false,
            };
            let report = measure(&plan, host, logins, target, probe).await?;
            finish(&plan, &report)
        }
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

/// Starts the local stack (the server as its own process when this is the
/// koprogo-perf binary), loads it, stops it (also on error or Ctrl-C), reports.
async fn local(
    plan: Plan,
    scale: &ScaleArgs,
    database_url: Option<&str>,
    server: &ServerArgs,
    keep_db: bool,
) -> anyhow::Result<ExitCode> {
    // The server's only clients are this run's virtual users, all from 127.0.0.1.
    let server = &server.clone().for_own_load();
    let start = async {
        match &plan.server_bin {
            Some(bin) => {
                LocalStack::start_child(database_url, scale, server, bin, plan.flamegraph).await
            }
            None => {
                let mut config = server.resolve().context("server settings")?;
                config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
                LocalStack::start(database_url, scale, config).await
            }
        }
    };
    let mut stack = super::interruptible(start).await?;
    if keep_db {
        stack.db.keep();
    }
    eprintln!(
        "reference server on {} (pool {} connections{})",
        stack.base_url(),
        stack.pool_max_connections,
        stack
            .server_pid()
            .map_or(", in this process".to_string(), |p| format!(", pid {p}"))
    );
    let target = TargetInfo {
        host: stack.base_url(),
        embedded: stack.db.is_embedded(),
        server: Some(ServerInfo {
            scale: stack.scale,
            pool_max_connections: stack.pool_max_connections,
            postgres_version: stack.db.cluster().map(|c| c.version().to_string()),
            switches: Some(stack.switches.clone()),
        }),
    };
    let postgres_pid = stack.db.cluster().and_then(|c| c.postmaster_pid());
    let probe = Probe {
        database_url: Some(stack.db.url().to_string()),
        server_pid: stack.server_pid(),
        server_note: stack
            .server_pid()
            .is_none()
            .then(|| "the server runs inside the load generator's process (library use)".into()),
        postgres_pid,
        postgres_note: postgres_pid
            .is_none()
            .then(|| "a database given by URL: pass it to load --host with --postgres-pid".into()),
        sampler_file: stack.sampler_file(),
        watch_database: true,
    };
    let result = measure(&plan, stack.base_url(), stack.logins.clone(), target, probe).await;
    stack.stop().await;
    finish(&plan, &result?)
}

/// Runs the load with the measurements around it, and builds the report.
pub(super) async fn measure(
    plan: &Plan,
    host: String,
    logins: Vec<Login>,
    target: TargetInfo,
    probe: Probe,
) -> anyhow::Result<RunReport> {
    if crate::interrupt::interrupted() {
        return Err(crate::interrupt::Interrupted.into());
    }
    let logins = if plan.scenario.needs_login() {
        logins
    } else {
        Vec::new()
    };

    // pg_stat_statements: before.
    let mut pgss = None;
    let mut pgss_note = None;
    match &probe.database_url {
        Some(url) => match crate::pg::connect(url, 1).await {
            Ok(pool) => match crate::measure::pgss::prepare(&pool).await {
                Ok(()) => {
                    let mut before = Default::default();
                    if plan.pgss_reset
                        && let Err(e) = crate::measure::pgss::reset(&pool).await
                    {
                        eprintln!("pg_stat_statements: {e}");
                    }
                    match crate::measure::pgss::snapshot(&pool).await {
                        Ok(s) => before = s,
                        Err(e) => pgss_note = Some(e),
                    }
                    if pgss_note.is_none() {
                        pgss = Some((pool, before));
                    }
                }
                Err(e) => pgss_note = Some(e),
            },
            Err(e) => pgss_note = Some(format!("{e:#}")),
        },
        None => {
            pgss_note =
                Some("the target's database is unknown: pass --database-url with --host".into())
        }
    }
    if let Some(note) = &pgss_note {
        eprintln!("pg_stat_statements not measured: {note}");
    }

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
    // The flamegraph samples the steady state: perf starts when it begins (after the
    // ramp-up and the logins).
    let steady = std::sync::Arc::new(tokio::sync::Notify::new());
    let profiler = if plan.flamegraph {
        match probe.server_pid {
            Some(pid) => {
                let out = plan.out.clone();
                let steady = steady.clone();
                let choice = plan.profiler;
                let sampler_file = probe.sampler_file.clone();
                Some(tokio::spawn(async move {
                    steady.notified().await;
                    start_flame(choice, pid, &out, sampler_file.as_deref())
                }))
            }
            None => None,
        }
    } else {
        None
    };

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
    })
    .await;
    let resources = sampler.stop().await;
    let outage = match watcher {
        Some(w) => w.stop().await,
        None => None,
    };
    let mut flamegraph_sampler = None;
    let (flamegraph, flamegraph_skipped_reason) = match (plan.flamegraph, profiler) {
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
                Ok((sampler, file)) => {
                    flamegraph_sampler = Some(sampler.to_string());
                    (Some(file), None)
                }
                Err(reason) => (None, Some(reason)),
            },
            Ok(Err(reason)) => (None, Some(reason)),
            Err(e) => (None, Some(format!("the profiler task failed: {e}"))),
        },
    };
    if let Some(reason) = flamegraph_skipped_reason
        .as_deref()
        .filter(|_| plan.flamegraph)
    {
        eprintln!("no flamegraph: {reason}");
    }
    let outcome = outcome?;

    // pg_stat_statements: after.
    let postgres = match pgss {
        Some((pool, before)) => {
            let report = match crate::measure::pgss::snapshot(&pool).await {
                Ok(after) => PostgresReport {
                    measured: true,
                    note: None,
                    statements: crate::measure::pgss::diff(&before, &after, plan.pgss_top),
                },
                Err(e) => PostgresReport::not_measured(e),
            };
            pool.close().await;
            report
        }
        None => PostgresReport::not_measured(pgss_note.unwrap_or_default()),
    };

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
        network_bytes: outcome.network_bytes,
    };
    report.carbon = if report.totals.requests > 0 {
        match crate::measure::carbon::compute(&plan.carbon, &plan.region, &carbon_inputs) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("CO2 not computed: {e}");
                None
            }
        }
    } else {
        None
    };
    report.postgres = postgres;
    report.resources = Some(resources);
    report.flamegraph = flamegraph;
    report.flamegraph_skipped_reason = flamegraph_skipped_reason;
    report.flamegraph_sampler = flamegraph_sampler;
    report.plan = plan.test_plan.as_ref().map(|p| p.describe());
    // A preset's expectations are its run's thresholds; otherwise the guide's targets.
    let thresholds = match plan.test_plan.as_ref().filter(|p| !p.thresholds.is_empty()) {
        Some(p) => p
            .thresholds
            .iter()
            .map(|t| crate::report::targets::parse(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("the {} preset's thresholds: {e}", p.name))?,
        None => crate::report::targets::guide_targets()?,
    };
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
    report.targets = crate::report::targets::check_all(&thresholds, &report);
    report.verdict = Some(crate::report::verdict::judge(&report, plan.max_error_rate));
    Ok(report)
}

/// Prints the tables, writes the files, and decides the exit code: 0 when the run
/// completed (whatever the targets say), non-zero after Ctrl-C or when the server
/// stopped answering — with the report of what was measured written either way.
fn finish(plan: &Plan, report: &RunReport) -> anyhow::Result<ExitCode> {
    let verdict = report.effective_verdict();
    // A failed run says so before any figure.
    if let Some(line) = crate::report::verdict::headline(&verdict) {
        println!("{line}");
    }
    for w in &verdict.warnings {
        println!("warning: {w}");
    }
    println!("{}", crate::report::tables::endpoints(report));
    for table in [
        crate::report::tables::failures(report),
        crate::report::tables::logins(report),
        crate::report::tables::statements(report),
        crate::report::tables::resources(report),
        crate::report::tables::carbon(report),
        crate::report::tables::carbon_inputs(report),
        crate::report::tables::phases(report),
    ]
    .into_iter()
    .flatten()
    {
        println!("{table}");
    }
    println!("{}", crate::report::tables::targets(&report.targets));
    if let Some(svg) = &report.flamegraph {
        println!("flamegraph: {}", plan.out.join(svg).display());
    }
    crate::report::write_run(&plan.out, report)?;
    println!(
        "{} requests in {:.1} s: {:.1} req/s and p99 {} of the successful ones; {} failed and {} not sent ({:.2}% error rate); wrote {} and latency.hgrm{}",
        report.totals.requests,
        report.duration_s,
        report.totals.rps,
        crate::units::format_us(report.totals.latency_us.p99 as f64),
        report.totals.errors,
        report.skipped_requests,
        report.totals.error_rate * 100.0,
        plan.out.join("run.json").display(),
        if report.hlog.is_some() {
            ", latency.hlog"
        } else {
            ""
        }
    );
    if let (Some(rate), Some(raw)) = (&report.rate, &report.totals.latency_uncorrected_us) {
        let us = |v: u64| crate::units::format_us(v as f64);
        println!(
            "rate: {} req/s requested, {} achieved; {} sends late, {} slots missed (every user busy); \
             p50/p99 from the intended send {} / {}, from the actual send {} / {}",
            rate.requested,
            rate.achieved,
            rate.late,
            rate.missed,
            us(report.totals.latency_us.p50),
            us(report.totals.latency_us.p99),
            us(raw.p50),
            us(raw.p99)
        );
        if rate.missed > 0 || rate.achieved < rate.requested * 0.95 {
            eprintln!(
                "the users could not keep up with --rate {}: raise --vus (maximum concurrency) or lower the rate",
                rate.requested
            );
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
