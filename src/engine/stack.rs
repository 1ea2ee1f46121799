//! The local stack: a database (the embedded cluster unless a URL is given), migrated
//! and seeded, and the reference server on a loopback port — in this process or as a
//! `koprogo-perf serve --child` process, which announces its address with one typed
//! line ([`Announcement`]) that only this module writes and parses.

use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::load::Login;
use crate::measure::heap::Session;
use crate::pg::Database;
use crate::report::run::{ServerInfo, TargetInfo};
use crate::seed::{SeedOptions, SeedSummary};
use crate::server::{AppState, ServerConfig};

/// The data a stack seeds: scale and generator seed.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub scale: u32,
    pub rng_seed: u64,
}

/// The line a `serve --child` process writes on stdout once it listens: one JSON object
/// (`{"serving":"127.0.0.1:PORT"}`), so that the parent reads an address, not a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    #[serde(rename = "serving")]
    pub addr: SocketAddr,
}

impl Announcement {
    /// The line, without its newline.
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("an address serializes")
    }

    /// The announcement in `line`, if it is one.
    pub fn parse(line: &str) -> Option<Announcement> {
        serde_json::from_str(line.trim()).ok()
    }
}

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
    /// heaptrack recording a child server (`--heap-profile`).
    heap: Option<Session>,
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
    /// The stack of a measured run: the server as its own process of `server_bin`
    /// (`serve --child`, so that its CPU, memory and flamegraph are its own) when there
    /// is one, else in this process on a free loopback port. `sampler` lets the child
    /// run the built-in CPU sampler; `heap` records the child's heap.
    pub async fn start_for_run(
        database_url: Option<&str>,
        scale: &Scale,
        server: &crate::server::ServerArgs,
        server_bin: Option<&Path>,
        sampler: bool,
        heap: Option<Session>,
    ) -> anyhow::Result<LocalStack> {
        match server_bin {
            Some(bin) => {
                let (db, logins) = prepare_database(database_url, scale, false).await?;
                Self::spawn_child(db, logins, scale.scale, server, bin, sampler, heap).await
            }
            None if heap.is_some() => anyhow::bail!(
                "--heap-profile profiles the server as its own process, and this program \
                 (not koprogo-perf) cannot start one"
            ),
            None => {
                let mut config = server.resolve().context("server settings")?;
                config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
                Self::start(database_url, scale, config).await
            }
        }
    }

    /// The stack as run.json's target.
    pub fn target(&self) -> TargetInfo {
        TargetInfo {
            host: self.base_url(),
            embedded: self.db.is_embedded(),
            server: Some(ServerInfo {
                scale: self.scale,
                pool_max_connections: self.pool_max_connections,
                postgres_version: self.db.cluster().map(|c| c.version().to_string()),
                switches: Some(self.switches.clone()),
            }),
            command: None,
        }
    }

    /// One line for whoever started it: where it listens, its pool, its process.
    pub fn describe(&self) -> String {
        format!(
            "reference server on {} (pool {} connections{})",
            self.base_url(),
            self.pool_max_connections,
            self.server_pid()
                .map_or(", in this process".to_string(), |p| format!(", pid {p}"))
        )
    }
}

impl LocalStack {
    /// Opens the database, migrates it, seeds it when empty (always for an embedded
    /// cluster), and starts the server on `config.bind` (port 0 for any free port).
    pub async fn start(
        database_url: Option<&str>,
        scale: &Scale,
        config: ServerConfig,
    ) -> anyhow::Result<LocalStack> {
        Self::start_quiet(database_url, scale, config, false).await
    }

    /// [`LocalStack::start`]; `quiet` leaves out the note about existing data (a child
    /// server's parent has just seeded it).
    pub async fn start_quiet(
        database_url: Option<&str>,
        scale: &Scale,
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
            heap: None,
        })
    }

    /// Starts `server_bin serve --child` on `db`, already migrated and seeded at `scale`
    /// (`logins` are its syndics'), on a free loopback port. With `sampler`, the child can
    /// run the built-in CPU sampler ([`LocalStack::sampler_file`]); with `heap`, heaptrack
    /// records it ([`LocalStack::take_heap`]).
    pub async fn spawn_child(
        db: Database,
        logins: Vec<Login>,
        scale: u32,
        args: &crate::server::ServerArgs,
        server_bin: &Path,
        sampler: bool,
        mut heap: Option<Session>,
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
        if let Some(session) = &mut heap {
            command.envs(session.env());
            session.mark_started();
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
                if let Some(announced) = Announcement::parse(&line) {
                    return Ok::<_, std::io::Error>(Some(announced.addr));
                }
            }
            Ok(None)
        })
        .await;
        let addr: SocketAddr = match announce {
            Ok(Ok(Some(addr))) => addr,
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
            heap,
        })
    }

    /// Where the child server's built-in sampler writes, when it has one.
    pub fn sampler_file(&self) -> Option<PathBuf> {
        self.sampler_dir
            .as_ref()
            .map(|d| d.path().join(SAMPLER_FILE))
    }

    /// The heap session of the child server, to read once the stack has stopped.
    pub fn take_heap(&mut self) -> Option<Session> {
        self.heap.take()
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
    scale: &Scale,
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
            print_seed_summary(&summary, &db.display_url());
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
pub fn seeded_logins(scale: u32) -> Vec<Login> {
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

/// Prints what was seeded, how long it took and the demo credentials.
pub fn print_seed_summary(s: &SeedSummary, where_: &str) {
    println!(
        "seeded {where_} in {:.2} s: {} organizations, {} users, {} buildings, {} units, {} owners, \
         {} unit_owners, {} expenses, {} accounts, {} meetings",
        s.elapsed.as_secs_f64(),
        s.organizations,
        s.users,
        s.buildings,
        s.units,
        s.owners,
        s.unit_owners,
        s.expenses,
        s.accounts,
        s.meetings
    );
    let shown = 3.min(s.logins.len());
    for login in &s.logins[..shown] {
        println!(
            "  login: {} / {} ({})",
            login.email, login.password, login.organization
        );
    }
    if s.logins.len() > shown {
        println!(
            "  … and {} more syndics: syndic@<org-slug>.be / syndic123",
            s.logins.len() - shown
        );
    }
}
