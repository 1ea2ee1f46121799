//! The shared harness: a seeded embedded database with the reference server on port 0,
//! a logged-in HTTP client, and the `koprogo-perf` binary for end-to-end runs.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use koprogo_perf::engine::stack::{LocalStack, Scale};
use koprogo_perf::pg::Database;
use koprogo_perf::server::{AppState, ServerArgs};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Seed used by the tests (the CLI's default).
pub const RNG_SEED: u64 = 42;

/// A fresh embedded cluster, migrated and seeded at `scale`, with the reference server
/// on a free port. Call `stop()` at the end; a panicking test still removes the cluster
/// (the database's `Drop`).
pub async fn stack(scale: u32) -> LocalStack {
    let mut config = ServerArgs::default()
        .for_own_load()
        .resolve()
        .expect("default server settings");
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    LocalStack::start(
        None,
        &Scale {
            scale,
            rng_seed: RNG_SEED,
        },
        config,
    )
    .await
    .expect("the local stack starts")
}

/// A fresh embedded cluster holding the reference schema and no rows, with a small
/// pool for the test's own queries. `db.close().await` at the end (its `Drop` also
/// removes it).
pub async fn migrated_db() -> (Database, PgPool) {
    let db = Database::open(None)
        .await
        .expect("the embedded cluster starts");
    let pool = koprogo_perf::pg::connect(db.url(), 2).await.unwrap();
    koprogo_perf::pg::migrate(&pool)
        .await
        .expect("the migrations apply");
    (db, pool)
}

/// The reference server over `database_url`, with the settings `args` resolve to, on a
/// free loopback port (`args.bind` is ignored), and the login limiter raised (tests log
/// in many times from 127.0.0.1) unless `args` set it.
pub async fn server(database_url: &str, args: ServerArgs) -> Server {
    server_as_given(database_url, args.for_own_load()).await
}

/// [`server`] without raising the login limiter.
pub async fn server_as_given(database_url: &str, args: ServerArgs) -> Server {
    let mut config = args.resolve().expect("valid server settings");
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = tokio::net::TcpListener::bind(config.bind).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::connect(database_url, config)
        .await
        .expect("the server's pool connects");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(koprogo_perf::server::serve(
        listener,
        state.clone(),
        async move {
            let _ = rx.await;
        },
    ));
    Server {
        base,
        state,
        shutdown: Some(tx),
        task: Some(task),
    }
}

/// A reference server running in this process (see [`server`]).
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server's state; its pool is the one requests use.
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Shuts the server down gracefully and asserts that it stops cleanly (a minute is
    /// a hang guard, not a timing bound).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(std::time::Duration::from_secs(60), task)
                .await
                .expect("the server shuts down")
                .expect("the server task did not panic")
                .expect("the server ended without an I/O error");
        }
        self.state.pool.close().await;
    }
}

/// An HTTP client for the tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Logs in and returns the access token.
pub async fn token(base: &str, email: &str, password: &str) -> String {
    let response = client()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "login as {email}");
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().expect("a token").to_string()
}

/// An embedded cluster as a stock PostgreSQL starts: without pg_stat_statements
/// preloaded (what tune-db and audit find on a fresh install).
pub async fn stock_cluster() -> koprogo_perf::pg::embedded::Cluster {
    tokio::task::spawn_blocking(|| {
        koprogo_perf::pg::embedded::Cluster::start(&koprogo_perf::pg::embedded::ClusterOptions {
            settings: Vec::new(),
        })
    })
    .await
    .unwrap()
    .expect("cluster starts")
}

/// Reads the piped stderr of `child` until `needle` has appeared `times` times (the
/// rest is drained in the background so that the child never blocks on it); returns
/// what was read.
pub fn wait_for_stderr(child: &mut std::process::Child, needle: &str, times: usize) -> String {
    use std::io::BufRead;
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut seen = String::new();
    while seen.matches(needle).count() < times {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    seen
}

/// The `koprogo-perf` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_koprogo-perf"))
}

/// A private temporary directory, used as TMPDIR of a child process so that the
/// embedded cluster it creates can be found (and must be gone) afterwards.
pub fn private_tmp() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("kp-it.").tempdir().unwrap();
    // The embedded server runs as `postgres` and must be able to traverse into it.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir
}

/// Entries left in a directory.
pub fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// Processes whose command line mentions `needle` (e.g. a cluster's directory).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(pid);
            }
        }
    }
    found
}

/// Spawns `koprogo-perf serve` on a free port with its own embedded cluster in `tmp`;
/// returns the child and the base URL (without `/api/v1`) once it announces it.
pub fn spawn_serve(tmp: &std::path::Path) -> (std::process::Child, String) {
    let mut child = bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--announce", "json"])
        .env("TMPDIR", tmp)
        // Tests log in to it many times from 127.0.0.1.
        .env("LOGIN_RATE_LIMIT_MAX", "1000000")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = announced_url(&mut child);
    (child, url)
}

/// The base URL a `serve --announce json` child announces on its standard output (a
/// piped one); its later output is read on and dropped, as a terminal would, so that
/// the server never writes into a closed pipe.
pub fn announced_url(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let announced = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find_map(|l| koprogo_perf::engine::stack::Announcement::parse(&l))
        .expect("serve announces its address");
    std::thread::spawn(move || lines.for_each(drop));
    format!("http://{}", announced.addr)
}

pub fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

pub fn wait_with_guard(child: &mut std::process::Child) -> std::process::ExitStatus {
    let began = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(120),
            "the process hangs"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
