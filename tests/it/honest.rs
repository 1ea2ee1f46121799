//! Honest numbers: a run whose target fails never looks faster, and says why. Each test
//! loads a small server of its own on loopback (not the reference server) that fails in
//! one way — a login limiter, instant 400s, connections closed mid-run — or the
//! reference stack with its database killed; then checks the exit code, the first line,
//! the counts by kind in run.json, that the headline latency excludes the failures, and
//! that `gate` fails the run.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use koprogo_perf::report::RunReport;

/// Serves `app` on a free loopback port from a thread of its own; returns its base URL.
fn serve(app: Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

fn scenario(dir: &Path, text: &str) -> String {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `load --host HOST` with `args`; the output and the run written.
fn load(host: &str, out: &Path, args: &[&str]) -> (Output, RunReport) {
    let output = crate::common::bin()
        .args(["load", "--host", host, "--quiet", "--ramp-up", "0s"])
        .args(["--out", out.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let run = RunReport::read(&out.join("run.json"))
        .unwrap_or_else(|e| panic!("{e:#}: {}", String::from_utf8_lossy(&output.stderr)));
    (output, run)
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `gate RUN --thresholds` (a lenient threshold only): the exit code and stdout.
fn gate(dir: &Path, run: &Path, lines: &[&str]) -> (i32, String) {
    let t = dir.join("thresholds.toml");
    let quoted: Vec<String> = lines.iter().map(|l| format!("{l:?}")).collect();
    std::fs::write(&t, format!("thresholds = [{}]\n", quoted.join(", "))).unwrap();
    let out = crate::common::bin()
        .args(["gate", run.to_str().unwrap(), "--thresholds"])
        .arg(&t)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const ME_SCENARIO: &str = r#"
name = "me"
[[request]]
method = "GET"
path = "/api/v1/auth/me"
weight = 1
think_time = "10ms"
"#;

/// A login limiter like KoproGo's: the first `allowed` logins succeed, then 429 with
/// Retry-After; `/auth/me` answers a bearer token.
fn limited_login_server(allowed: usize) -> (String, Arc<AtomicUsize>) {
    let logins = Arc::new(AtomicUsize::new(0));
    let counter = logins.clone();
    let app = Router::new()
        .route(
            "/api/v1/auth/login",
            post(move || {
                let counter = counter.clone();
                async move {
                    if counter.fetch_add(1, Ordering::SeqCst) < allowed {
                        (
                            StatusCode::OK,
                            r#"{"token":"t0k3n","refresh_token":"r3fr3sh"}"#,
                        )
                            .into_response()
                    } else {
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "900")],
                            "Too many login attempts",
                        )
                            .into_response()
                    }
                }
            }),
        )
        .route(
            "/api/v1/auth/me",
            get(|headers: HeaderMap| async move {
                match headers.get("authorization") {
                    Some(_) => (StatusCode::OK, "{}").into_response(),
                    None => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        );
    (serve(app), logins)
}

#[test]
fn a_login_limiter_fails_the_run_and_says_what_limited_it() {
    let (host, logins) = limited_login_server(5);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let s = scenario(tmp.path(), ME_SCENARIO);
    let (output, run) = load(
        &host,
        &out,
        &[
            "--scenario",
            &s,
            "--vus",
            "20",
            "--duration",
            "3s",
            "--login",
            "syndic@grandplace.be:syndic123",
        ],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("run FAILED: "), "{stdout}");
    assert!(first.contains("16 of 20 users never logged in"), "{first}");
    assert!(first.contains("LOGIN_RATE_LIMIT_MAX"), "{first}");
    assert!(first.contains("LOGIN_RATE_LIMIT_WINDOW_SECS"), "{first}");
    assert!(
        stderr
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("error: "),
        "{stderr}"
    );
    let verdict = run.verdict.as_ref().expect("a verdict in run.json");
    assert!(verdict.failed);
    // Every login is counted (the preflight's one aside): 4 users in, 16 refused, and
    // each refused user backs off instead of posting a login before every request.
    let l = run.logins.as_ref().expect("a login block");
    assert_eq!(l.successes, 4);
    assert_eq!(l.users_logged_in, 4);
    assert!(l.failures["429"] >= 16, "{l:?}");
    assert_eq!(l.attempts, l.successes + l.failures["429"]);
    assert_eq!(logins.load(Ordering::SeqCst) as u64, l.attempts + 1);
    // One login each: a 429's Retry-After (900 s) holds them off for the bound, 30 s.
    assert_eq!(l.attempts, 20, "no backoff: {} logins", l.attempts);
    // Requests without a token are not sent, and counted so, never as latency.
    assert!(run.skipped_requests > 0);
    assert!(
        run.unsent
            .keys()
            .all(|reason| reason.starts_with("not logged in")),
        "{:?}",
        run.unsent
    );
    assert_eq!(run.totals.errors, 0, "every request sent had a token");
    let (code, stdout) = gate(tmp.path(), &out, &["p99 < 60s"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("the run succeeded"), "{stdout}");
    // The report shows the verdict as a banner above the figures.
    let md = crate::common::bin()
        .args(["report", out.to_str().unwrap(), "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.starts_with("## ❌ run FAILED: "), "{md}");
    assert!(md.contains("| login |"), "{md}");
    // The figures' headline names the requests never sent beside the errors.
    let not_sent = format!(", {} not sent", run.skipped_requests);
    assert!(
        md.lines()
            .any(|l| l.starts_with("## koprogo-perf run:") && l.contains(&not_sent)),
        "{md}"
    );
    let html = crate::common::bin()
        .args(["report", out.to_str().unwrap(), "--format", "html", "--out"])
        .arg(tmp.path().join("report.html"))
        .output()
        .unwrap();
    assert!(html.status.success(), "{html:?}");
    let html = std::fs::read_to_string(tmp.path().join("report.html")).unwrap();
    let banner = html.find("class=\"failed\"").expect("a failure banner");
    assert!(
        banner < html.find("class=\"cards\"").unwrap(),
        "above the figures"
    );
    let table = crate::common::bin()
        .args(["report", out.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    let first = table
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with("run: "))
        .unwrap_or_default();
    assert!(first.starts_with("RUN FAILED — 16 of 20 users"), "{table}");
}

/// Access tokens that expire: `old` works for its first 20 requests, then answers 401;
/// `POST /api/v1/auth/refresh` with the login's refresh token gives `new`, which lasts.
fn expiring_token_server() -> (String, Arc<AtomicUsize>) {
    let logins = Arc::new(AtomicUsize::new(0));
    let counter = logins.clone();
    let uses = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/api/v1/auth/login",
            post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { r#"{"token":"old","refresh_token":"r3fr3sh"}"# }
            }),
        )
        .route(
            "/api/v1/auth/refresh",
            post(|body: String| async move {
                if body.contains("r3fr3sh") {
                    (StatusCode::OK, r#"{"token":"new"}"#).into_response()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        )
        .route(
            "/api/v1/auth/me",
            get(move |headers: HeaderMap| {
                let uses = uses.clone();
                async move {
                    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                        Some("Bearer new") => (StatusCode::OK, "{}").into_response(),
                        Some("Bearer old") if uses.fetch_add(1, Ordering::SeqCst) < 20 => {
                            (StatusCode::OK, "{}").into_response()
                        }
                        _ => StatusCode::UNAUTHORIZED.into_response(),
                    }
                }
            }),
        );
    (serve(app), logins)
}

#[test]
fn an_expired_token_is_renewed_with_the_refresh_token_not_a_login() {
    let (host, logins) = expiring_token_server();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let s = scenario(tmp.path(), ME_SCENARIO);
    let (output, run) = load(
        &host,
        &out,
        &[
            "--scenario",
            &s,
            "--vus",
            "2",
            "--duration",
            "2s",
            "--login",
            "syndic@grandplace.be:syndic123",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let l = run.logins.as_ref().unwrap();
    assert_eq!(l.attempts, 2, "one login per user: {l:?}");
    assert_eq!(
        logins.load(Ordering::SeqCst),
        3,
        "the preflight's and the users'"
    );
    assert_eq!(l.refreshes, 2, "{l:?}");
    assert_eq!(run.relogins, 2);
    assert_eq!(run.totals.errors, 0);
    assert!(!run.verdict.unwrap().failed);
}

/// GETs take 20 ms and succeed; POSTs answer 400 at once; `POST /api/v1/created`
/// answers 201 without the `id` its check needs.
fn fast_failure_server() -> String {
    let app = Router::new()
        .route(
            "/api/v1/things",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                (StatusCode::OK, r#"{"data":[]}"#)
            })
            .post(|| async { (StatusCode::BAD_REQUEST, "missing field `organization_id`") }),
        )
        .route(
            "/api/v1/created",
            post(|| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                (StatusCode::CREATED, r#"{"name":"x"}"#)
            }),
        )
        .route(
            "/api/v1/busy",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "1")],
                    r#"{"error":"database unreachable or restarting"}"#,
                )
            }),
        )
        .route("/", get(|| async { "ok" }));
    serve(app)
}

#[test]
fn instant_400s_never_make_the_headline_faster_and_fail_the_run() {
    let host = fast_failure_server();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let s = scenario(
        tmp.path(),
        r#"
name = "mixed"
[[request]]
name = "GET /api/v1/things"
method = "GET"
path = "/api/v1/things"
weight = 2
auth = false
[[request]]
name = "POST /api/v1/things"
method = "POST"
path = "/api/v1/things"
body = '{{"name": "x"}}'
weight = 2
auth = false
[[request]]
name = "POST /api/v1/created"
method = "POST"
path = "/api/v1/created"
body = '{{"name": "x"}}'
weight = 1
auth = false
expect = 201
check = ["/id"]
[[request]]
name = "GET /api/v1/busy"
method = "GET"
path = "/api/v1/busy"
weight = 1
auth = false
"#,
    );
    let (output, run) = load(
        &host,
        &out,
        &["--scenario", &s, "--vus", "4", "--duration", "2s"],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("run FAILED: "), "{stdout}");
    assert!(first.contains("% of requests failed"), "{first}");
    assert!(first.contains("400 ×"), "{first}");
    let post = &run.endpoints[1];
    assert!(post.status_codes["400"] > 0);
    assert_eq!(post.errors, post.requests, "every POST failed");
    assert_eq!(post.latency_us.p50, 0, "no successful POST");
    // and the table shows no latency for it rather than a flattering 0 µs.
    let row = stdout
        .lines()
        .find(|l| l.contains(&post.name) && l.contains('┆'))
        .expect("the POST's row");
    let cells: Vec<&str> = row.split('┆').map(str::trim).collect();
    assert!(cells[5..].iter().all(|c| c.starts_with('–')), "{row}");
    assert!(post.failed_latency_us.is_some());
    let created = &run.endpoints[2];
    assert!(created.checks_failed > 0);
    assert_eq!(created.checks_failed, created.errors);
    assert_eq!(run.totals.checks_failed, created.checks_failed);
    // Sustained 503s (with Retry-After) are failures like any other, and said so.
    assert_eq!(run.endpoints[3].errors, run.endpoints[3].requests);
    assert!(run.totals.status_codes["503"] > 0);
    assert!(
        stdout.contains("answered 503 Service Unavailable"),
        "{stdout}"
    );
    // The headline is of the successful GETs only: each took at least 20 ms.
    let gets = &run.endpoints[0];
    assert_eq!(gets.errors, 0);
    assert!(run.totals.latency_us.p50 >= 20_000, "{:?}", run.totals);
    assert!(run.totals.latency_us.p99 >= 20_000, "{:?}", run.totals);
    assert_eq!(run.histogram.len(), run.totals.requests - run.totals.errors);
    assert!(run.totals.error_rate > 0.3);
    let (code, stdout) = gate(tmp.path(), &out, &["status_400 == 0"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("status_400 == 0"), "{stdout}");
    // The same run passes its own verdict with a high enough --max-error-rate: the
    // limit is the user's.
    let again = tmp.path().join("again");
    let (output, run) = load(
        &host,
        &again,
        &[
            "--scenario",
            &s,
            "--vus",
            "2",
            "--duration",
            "1s",
            "--max-error-rate",
            "100%",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    assert!(!run.verdict.unwrap().failed);
}

/// Answers `GET /` for `healthy_for`, then accepts connections and closes them without
/// an answer (still listening: not a refused connection).
fn closing_server(healthy_for: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let began = Instant::now();
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if began.elapsed() >= healthy_for {
                            return; // dropped: closed without an answer
                        }
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if socket.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

#[test]
fn connections_closed_mid_run_are_counted_as_resets_and_fail_the_run() {
    let host = closing_server(Duration::from_secs(2));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let s = scenario(
        tmp.path(),
        "name = \"root\"\n[[request]]\nmethod = \"GET\"\npath = \"/\"\nweight = 1\nauth = false\nthink_time = \"5ms\"\n",
    );
    let (output, run) = load(
        &host,
        &out,
        &["--scenario", &s, "--vus", "2", "--duration", "4s"],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("run FAILED: "), "{stdout}");
    assert!(first.contains("reset ×"), "{first}");
    let e = &run.endpoints[0];
    assert!(e.transport_errors.reset > 0, "{:?}", e.transport_errors);
    assert!(e.status_codes["200"] > 0);
    assert_eq!(
        e.errors,
        e.transport_errors.reset + e.transport_errors.other
    );
    assert!(!run.host_down, "the server still accepted connections");
    let (code, stdout) = gate(tmp.path(), &out, &["p99 < 60s"]);
    assert_eq!(code, 1, "{stdout}");
}

#[test]
fn the_database_dying_mid_run_fails_the_run_and_says_when() {
    let tmp = crate::common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let mut load = crate::common::bin()
        .args(["load", "--vus", "4", "--ramp-up", "0s", "--duration", "8s"])
        .args(["--scenario", "buildings-list", "--quiet"])
        .args(["--out", out.path().to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::common::wait_for_stderr(&mut load, "load: scenario buildings-list", 1);
    std::thread::sleep(Duration::from_secs(2));
    let pid_file = walk(tmp.path(), "postmaster.pid").expect("the cluster's postmaster.pid");
    let pid: i32 = std::fs::read_to_string(pid_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = crate::common::wait_with_guard(&mut load);
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut load.stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}");
    // The run's summary (after the seed's) starts with the verdict, before any table.
    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|l| l.starts_with("seeded ") || l.starts_with("  login: "))
        .collect();
    let first = summary.first().copied().unwrap_or_default();
    assert!(first.starts_with("run FAILED: "), "{stdout}");
    assert!(
        first.contains("the database was unavailable from "),
        "{first}"
    );
    let run = RunReport::read(&out.path().join("run.json")).unwrap();
    let outage = run.database_unavailable.as_ref().expect("an outage");
    assert!(outage.from_s > 0.0);
    assert!(run.totals.errors > 0, "the server's answers failed");
    let (code, stdout) = gate(out.path(), out.path(), &["p99 < 60s"]);
    assert_eq!(code, 1, "{stdout}");
    // Nothing is left behind: the dead cluster's backends and directory are gone.
    for _ in 0..50 {
        if crate::common::processes_mentioning(&tmp.path().display().to_string()).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = crate::common::processes_mentioning(&tmp.path().display().to_string());
    for pid in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(
        crate::common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        crate::common::leftovers(tmp.path())
    );
}

fn walk(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = walk(&path, name)
        {
            return Some(found);
        }
    }
    None
}
