//! The reference server's limits: against hostile clients, the header read timeout
//! (slowloris) and KoproGo's login limiter, which the tool's own load runs raise; and
//! against a database that dies under it, 503s with `Retry-After` rather than 500s or
//! a dead server.

use std::time::Duration;

use clap::Parser;
use koprogo_perf::report::RunReport;
use koprogo_perf::server::ServerArgs;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common;

/// Reads until the server closes the connection (or 60 s pass: a hang guard, not a
/// timing bound); returns what it sent, or None when it kept the connection open.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let (db, _pool) = common::migrated_db().await;
    let server = common::server(
        db.url(),
        ServerArgs {
            header_read_timeout: 1.0,
            ..ServerArgs::default()
        },
    )
    .await;
    let addr = server.base.trim_start_matches("http://").to_string();

    // A whole request on its own connection is answered (the control).
    let mut whole = tokio::net::TcpStream::connect(&addr).await.unwrap();
    whole
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut whole).await.expect("closed after");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Half a header, then nothing: the server hangs up (possibly after a 408).
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow")
        .await
        .unwrap();
    let answer = read_until_closed(&mut slow)
        .await
        .expect("the server keeps a stalled connection open");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // A connection that never sends a byte is closed too.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(read_until_closed(&mut silent).await.is_some());

    server.stop().await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_login_from_one_ip_in_the_window_gets_429_even_with_the_right_password() {
    let stack = common::stack(1).await;
    let login = stack.logins[0].clone();
    // A server as KoproGo runs by default: 5 attempts per IP per 900 s.
    let limited = common::server_as_given(stack.db.url(), ServerArgs::default()).await;
    let client = common::client();
    let url = format!("{}/api/v1/auth/login", limited.base);
    let right = json!({"email": login.email, "password": login.password});
    let wrong = json!({"email": login.email, "password": "not-the-password"});
    let post = |body: String| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Every attempt counts: successful, failed and malformed alike.
    let mut statuses = Vec::new();
    for body in [
        right.to_string(),
        wrong.to_string(),
        "{not json".to_string(),
        right.to_string(),
        wrong.to_string(),
    ] {
        statuses.push(post(body).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 401, 400, 200, 401]);

    let sixth = post(right.to_string()).await.unwrap();
    assert_eq!(sixth.status(), 429);
    let retry: u64 = sixth.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    let body: Value = sixth.json().await.unwrap();
    assert_eq!(body["retry_after"], retry);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Too many login attempts"),
        "{body}"
    );
    assert!(body.get("token").is_none());

    // Other routes are not limited, and the stack's own server (raised) still logs in.
    let health = client
        .get(format!("{}/api/v1/health", limited.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    for _ in 0..10 {
        common::token(&stack.base_url(), &login.email, &login.password).await;
    }
    limited.stop().await;
    stack.stop().await;
}

#[test]
fn the_login_limit_is_read_from_koprogos_variables_and_validated() {
    let parse = |env: &[(&str, &str)]| {
        let out = common::bin()
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url"])
            .arg("postgres://nobody@127.0.0.1:1/none")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let zero = parse(&[("LOGIN_RATE_LIMIT_MAX", "0")]);
    assert!(zero.contains("login limit"), "{zero}");
    let window = parse(&[("LOGIN_RATE_LIMIT_WINDOW_SECS", "0")]);
    assert!(window.contains("login window"), "{window}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_with_more_users_than_the_login_limit_logs_every_one_in() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("run");
    // 12 users, each logging in from 127.0.0.1: over KoproGo's 5, which `load` raises
    // for the server it starts.
    let cli = koprogo_perf::Cli::parse_from([
        "koprogo-perf",
        "load",
        "--vus",
        "12",
        "--duration",
        "2s",
        "--ramp-up",
        "0s",
        "--scenario",
        "buildings-list",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let code = koprogo_perf::run(cli).await.expect("the run completes");
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let run: RunReport =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run.vus, 12);
    assert_eq!(run.skipped_requests, 0);
    for e in &run.endpoints {
        assert_eq!(e.errors, 0, "{}: {:?}", e.name, e.status_codes);
        assert!(
            e.status_codes.keys().all(|c| c.starts_with('2')),
            "{}: {:?}",
            e.name,
            e.status_codes
        );
    }
}

/// A child process killed when dropped, so that a failing test leaves no server behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `koprogo-perf serve` over `database_url` on a free port; returns it and its base URL.
fn spawn_serve_on(database_url: &str, extra: &[&str]) -> (KillOnDrop, String) {
    let mut child = common::bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--announce", "json"])
        .args(extra)
        .env("DATABASE_URL", database_url)
        .env("LOGIN_RATE_LIMIT_MAX", "1000000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = common::announced_url(&mut child);
    (KillOnDrop(child), url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_postmaster_gets_503_with_retry_after_and_the_server_lives_on() {
    // With the ping on acquire (baseline) a dead connection is noticed before the query;
    // without it (tuned) the query itself meets the backend's FATAL 57P01 or a reset.
    for preset in ["baseline", "tuned"] {
        killed_postmaster(preset).await;
    }
}

async fn killed_postmaster(preset: &str) {
    let cluster = common::stock_cluster().await;
    let (mut serve, base) = spawn_serve_on(
        &cluster.url(),
        &["--preset", preset, "--acquire-timeout", "1"],
    );
    let login = koprogo_perf::seed::demo_logins(1).remove(0);
    let token = common::token(&base, &login.email, &login.password).await;
    let client = common::client();
    let get = |path: &str| {
        client
            .get(format!("{base}/api/v1{path}"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(get("/buildings").await.unwrap().status(), 200);

    let postmaster = cluster.postmaster_pid().expect("a postmaster");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(postmaster as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    while koprogo_perf::pg::embedded::process_alive(postmaster) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Pooled connections whose backend is gone, then new ones that are refused: every
    // database route answers 503 with Retry-After, never 500, and names nothing.
    let mut seen = Vec::new();
    for path in [
        "/buildings",
        "/units",
        "/buildings",
        "/owners",
        "/expenses",
        "/accounts",
        "/buildings",
    ] {
        let response = get(path).await.unwrap();
        let status = response.status().as_u16();
        let retry = response.headers().get("retry-after").cloned();
        let body = response.text().await.unwrap();
        seen.push(format!("{path} {status} {retry:?} {body}"));
    }
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": login.email, "password": login.password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").cloned();
    seen.push(format!(
        "/auth/login {status} {retry:?} {}",
        response.text().await.unwrap()
    ));

    for line in &seen {
        assert!(line.contains(" 503 Some("), "{seen:#?}");
        let lower = line.to_lowercase();
        for leak in [
            "57p0",
            "postgres",
            "sqlx",
            "127.0.0.1",
            "refused",
            "os error",
        ] {
            assert!(!lower.contains(leak), "{line}");
        }
    }

    // The server itself is alive and stops cleanly on Ctrl-C.
    assert!(serve.0.try_wait().unwrap().is_none(), "the server died");
    let health = client
        .get(format!("{base}/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    common::signal(&serve.0, nix::sys::signal::Signal::SIGINT);
    let status = common::wait_with_guard(&mut serve.0);
    assert!(status.success(), "{status}");
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
