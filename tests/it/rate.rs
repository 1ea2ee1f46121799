//! Constant-rate runs (`load --rate`) against a loopback server whose timing the test
//! controls: a stall must show in the corrected latencies and not in the uncorrected
//! ones, the requested rate must be met when the server keeps up, and slots the users
//! cannot serve must be counted.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How the test server answers `GET /work`.
#[derive(Clone, Copy)]
struct Behaviour {
    /// Requests arriving in `[from, from + length)` after the server started wait
    /// until that period is over.
    stall: Option<(Duration, Duration)>,
    /// Every answer takes at least this long.
    delay: Duration,
}

/// Starts the server on a free loopback port in a thread of its own; it lives as long
/// as the test process.
fn start_server(behaviour: Behaviour) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            let started = Instant::now();
            let app = axum::Router::new()
                .route(
                    "/etag",
                    axum::routing::get(|headers: axum::http::HeaderMap| async move {
                        // A resource that never changes: 304 once the client has its tag.
                        let tag = "\"v1\"";
                        if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(tag) {
                            (axum::http::StatusCode::NOT_MODIFIED, [("etag", tag)], "")
                        } else {
                            (axum::http::StatusCode::OK, [("etag", tag)], "the body")
                        }
                    }),
                )
                .route(
                    "/work",
                    axum::routing::get(move || async move {
                        let now = Instant::now();
                        if let Some((from, length)) = behaviour.stall {
                            let (begin, end) = (started + from, started + from + length);
                            if now >= begin && now < end {
                                tokio::time::sleep_until(end.into()).await;
                            }
                        }
                        tokio::time::sleep(behaviour.delay).await;
                        "ok"
                    }),
                );
            tx.send(addr).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

fn scenario(dir: &Path) -> String {
    let path = dir.join("work.toml");
    std::fs::write(
        &path,
        "name = \"work\"\n[[request]]\nmethod = \"GET\"\npath = \"/work\"\nauth = false\nweight = 1\n",
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs `load --rate RATE --vus VUS --duration SECS` against `host`; returns run.json.
fn run(host: &str, rate: &str, vus: &str, secs: &str) -> Value {
    run_with(
        host,
        &[
            "--rate",
            rate,
            "--vus",
            vus,
            "--duration",
            secs,
            "--ramp-up",
            "0s",
        ],
    )
}

fn us(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[test]
fn a_stall_shows_in_the_corrected_latencies_and_not_in_the_uncorrected_ones() {
    // One second of stall, well inside a 6-second run at 200 req/s: about 200 of the
    // run's 1,200 requests were meant to go out during it.
    let stall = Duration::from_secs(1);
    let host = start_server(Behaviour {
        stall: Some((Duration::from_millis(2500), stall)),
        delay: Duration::ZERO,
    });
    let run = run(&host, "200", "4", "6s");
    let corrected = &run["totals"]["latency_us"];
    let raw = &run["totals"]["latency_uncorrected_us"];
    // Corrected: the requests scheduled during the stall waited for it, so the 99th
    // percentile is a large part of the stall (the earliest waited the whole second).
    assert!(
        us(&corrected["p99"]) >= 500_000,
        "corrected p99 {} µs should reflect the 1 s stall: {run:#}",
        corrected["p99"]
    );
    assert!(us(&corrected["max"]) >= 900_000, "{corrected}");
    // Uncorrected: only the 4 requests in flight saw the stall (0.3 % of the run), so
    // its p99 is a small part of the corrected one. Relative, not a bound in ms: on a
    // loaded machine every response is slower, the stall's share stays what it is.
    assert!(
        us(&raw["p99"]) * 4 < us(&corrected["p99"]),
        "uncorrected p99 {} µs should hide the stall (corrected {} µs)",
        raw["p99"],
        corrected["p99"]
    );
    assert!(
        us(&raw["max"]) >= 900_000,
        "the in-flight requests did wait: {raw}"
    );
    // Every endpoint has both figures.
    let endpoint = &run["endpoints"][0];
    assert!(endpoint["latency_uncorrected_us"]["p99"].is_u64());
    assert_eq!(run["rate"]["requested"], 200.0);
    assert!(us(&run["rate"]["late"]) > 0, "{}", run["rate"]);
}

#[test]
fn a_low_rate_is_met_when_the_server_keeps_up() {
    let host = start_server(Behaviour {
        stall: None,
        delay: Duration::ZERO,
    });
    let run = run(&host, "50", "4", "4s");
    let achieved = run["rate"]["achieved"].as_f64().unwrap();
    assert!(
        (achieved - 50.0).abs() <= 50.0 * 0.05,
        "achieved {achieved} req/s for 50 requested: {}",
        run["rate"]
    );
    assert_eq!(run["rate"]["missed"], 0, "{}", run["rate"]);
    assert_eq!(run["totals"]["errors"], 0);
}

#[test]
fn slots_the_users_cannot_serve_are_counted_as_missed_and_late() {
    // Two users and 200 ms per answer serve at most 10 req/s: 100 req/s cannot be met.
    let host = start_server(Behaviour {
        stall: None,
        delay: Duration::from_millis(200),
    });
    let run = run(&host, "100", "2", "3s");
    let rate = &run["rate"];
    let missed = us(&rate["missed"]);
    let late = us(&rate["late"]);
    let achieved = rate["achieved"].as_f64().unwrap();
    assert!(achieved < 30.0, "{rate}");
    // About 300 slots, about 30 served: the rest are missed.
    assert!(missed >= 200, "{rate}");
    assert!(late > 0, "{rate}");
}

#[test]
fn progress_is_a_line_every_ten_seconds_off_a_terminal_and_nothing_with_quiet() {
    let host = start_server(Behaviour {
        stall: None,
        delay: Duration::from_millis(5),
    });
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path());
    let spawn = |quiet: bool, out: &str| {
        let mut command = crate::common::bin();
        command
            .args(["load", "--host", &host, "--scenario", &scenario])
            .args(["--vus", "2", "--duration", "11s", "--ramp-up", "0s"])
            .args(["--out", dir.path().join(out).to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null());
        if quiet {
            command.arg("--quiet");
        }
        command.spawn().unwrap()
    };
    let loud = spawn(false, "loud");
    let quiet = spawn(true, "quiet");
    let loud = loud.wait_with_output().unwrap();
    let quiet = quiet.wait_with_output().unwrap();
    assert!(loud.status.success() && quiet.status.success());
    let loud = String::from_utf8_lossy(&loud.stderr);
    let line = loud
        .lines()
        .find(|l| l.starts_with("progress: 10/11 s, "))
        .unwrap_or_else(|| panic!("no progress line: {loud}"));
    assert!(
        line.contains("req/s, p99 ") && line.contains(" 0 errors"),
        "{line}"
    );
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("progress:"));
}

/// Runs `load` with `args` against `host` (the `/work` scenario); returns run.json.
fn run_with(host: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    run_scenario(host, &scenario(dir.path()), args)
}

/// Runs `load --scenario SCENARIO` with `args` against `host`; returns run.json.
fn run_scenario(host: &str, scenario: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = crate::common::bin()
        .args(["load", "--host", host, "--scenario", scenario])
        .args(args)
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

#[test]
fn a_users_plan_runs_its_steps_in_order_with_the_planned_users() {
    let host = start_server(Behaviour {
        stall: None,
        delay: Duration::from_millis(2),
    });
    let run = run_with(&host, &["--plan", "2,1s;2,3s;5,1s;5,3s;0,1s"]);
    let phases = run["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "ramp_up 2 users",
            "steady 2 users",
            "ramp_up 5 users",
            "steady 5 users",
            "ramp_down 0 users"
        ]
    );
    let starts: Vec<f64> = phases
        .iter()
        .map(|p| p["start_s"].as_f64().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    // The totals are the two holds together.
    let steady: u64 = phases
        .iter()
        .filter(|p| p["steady"] == true)
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(run["totals"]["requests"].as_u64().unwrap(), steady);
    assert_eq!(run["vus"], 5);
    assert!(
        run["plan"]
            .as_str()
            .unwrap()
            .starts_with("custom: 2,1s;2,3s")
    );
    // Users over time follow the plan: in the middle of each hold, exactly the
    // planned number of users sent requests.
    let users_at = |t: u64| {
        run["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["t"] == t)
            .map(|p| p["users"].as_u64().unwrap())
    };
    assert_eq!(users_at(2), Some(2), "{}", run["series"]);
    assert_eq!(users_at(6), Some(5), "{}", run["series"]);
}

#[test]
fn a_rate_plan_ramps_the_arrival_rate_step_by_step() {
    let host = start_server(Behaviour {
        stall: None,
        delay: Duration::ZERO,
    });
    let run = run_with(
        &host,
        &["--plan", "20/s,1s;20/s,3s;60/s,1s;60/s,3s", "--vus", "8"],
    );
    let phases = run["phases"].as_array().unwrap();
    let holds: Vec<(f64, f64)> = phases
        .iter()
        .filter(|p| p["steady"] == true)
        .map(|p| (p["rate"].as_f64().unwrap(), p["rps"].as_f64().unwrap()))
        .collect();
    assert_eq!(holds.len(), 2, "{phases:?}");
    for (requested, achieved) in holds {
        assert!(
            (achieved - requested).abs() <= requested * 0.1,
            "a {requested}/s hold achieved {achieved}/s"
        );
    }
    assert!(run["totals"]["latency_uncorrected_us"].is_object());
}

#[test]
fn users_send_if_none_match_for_tags_they_have_seen_and_a_304_is_no_error() {
    let host = start_server(Behaviour {
        stall: None,
        delay: Duration::from_millis(1),
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etag.toml");
    std::fs::write(
        &path,
        "name = \"etag\"\n[[request]]\nmethod = \"GET\"\npath = \"/etag\"\nauth = false\nweight = 1\n",
    )
    .unwrap();
    let run = run_scenario(
        &host,
        path.to_str().unwrap(),
        &[
            "--vus",
            "2",
            "--duration",
            "2s",
            "--ramp-up",
            "0s",
            "--quiet",
        ],
    );
    let codes = &run["endpoints"][0]["status_codes"];
    // Each user's first answer was a 200 (during the ramp-up or the first steady
    // request); every later one a 304.
    assert!(codes["304"].as_u64().unwrap() > 100, "{codes}");
    assert!(
        codes.get("200").and_then(Value::as_u64).unwrap_or(0) <= 2,
        "{codes}"
    );
    assert_eq!(run["totals"]["errors"], 0);
}
