//! Measurements around a run, on real parts: pg_stat_statements on the embedded
//! cluster, and a full `load` whose report carries every section.

use koprogo_perf::measure::pgss;
use serde_json::Value;

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_expense_query_shows_up_with_the_right_call_count() {
    let stack = common::stack(1).await;
    let base = stack.base_url();
    let pool = koprogo_perf::pg::connect(stack.db.url(), 1).await.unwrap();
    pgss::prepare(&pool)
        .await
        .expect("the embedded cluster preloads pg_stat_statements");
    let token = common::token(&base, "syndic@grandplace.be", "syndic123").await;
    let client = common::client();
    let list: Value = client
        .get(format!("{base}/api/v1/buildings"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let building = list["data"][0]["id"].as_str().unwrap().to_string();

    let before = pgss::snapshot(&pool).await.unwrap();
    const N: i64 = 7;
    for _ in 0..N {
        let r = client
            .get(format!("{base}/api/v1/buildings/{building}/expenses"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let after = pgss::snapshot(&pool).await.unwrap();
    let statements = pgss::diff(&before, &after, 50);
    let guide = statements
        .iter()
        .find(|s| {
            s.query
                .contains("FROM expenses WHERE building_id = $1 AND organization_id = $2")
        })
        .unwrap_or_else(|| panic!("the building's expenses are missing: {statements:#?}"));
    assert_eq!(guide.calls, N);
    assert_eq!(guide.endpoints, vec!["GET /api/v1/buildings/{id}/expenses"]);
    assert!(guide.rows > 0);
    assert!(guide.mean_ms > 0.0);
    pool.close().await;
    stack.stop().await;
}

#[test]
fn a_load_run_reports_statements_resources_carbon_and_validates() {
    let tmp = common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let output = common::bin()
        .args([
            "load",
            "--vus",
            "4",
            "--duration",
            "3s",
            "--ramp-up",
            "0s",
            "--region",
            "FR",
        ])
        .args(["--out", run_dir.to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(run_dir.join("run.json")).unwrap();
    let run: Value = serde_json::from_str(&text).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("../../src/report/run.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&run)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");

    // The terminal shows the CO2 figure's inputs, with the grid of --region.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let grid = run["carbon"]["grid_g_per_kwh"].as_f64().unwrap();
    assert!(
        stdout.contains("CO2 input")
            && stdout.contains("W per vCPU")
            && stdout.contains(&format!("{grid} g CO2e/kWh (FR)")),
        "{stdout}"
    );

    // The server ran as its own process: its own numbers.
    let server = &run["resources"]["server"];
    assert_eq!(server["measured"], true, "{server}");
    assert!(server["cpu_s"].as_f64().unwrap() > 0.0);
    assert!(server["peak_rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(run["resources"]["postgres"]["cpu_s"].as_f64().unwrap() > 0.0);
    assert!(run["resources"]["generator"]["cpu_s"].as_f64().unwrap() > 0.0);
    // Statements, attributed to endpoints.
    let statements = run["postgres"]["statements"].as_array().unwrap();
    assert!(statements.len() >= 3, "{statements:#?}");
    assert!(
        statements
            .iter()
            .any(|s| !s["endpoints"].as_array().unwrap().is_empty())
    );
    // Carbon adds up, in France's grid.
    let carbon = &run["carbon"];
    assert_eq!(carbon["region"], "FR");
    assert_eq!(carbon["grid_g_per_kwh"], 56.0);
    let total = carbon["g_per_request"].as_f64().unwrap();
    let parts: f64 = carbon["breakdown_g_per_request"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!(
        total > 0.0 && (total - parts).abs() <= 1e-9 * total.max(1e-12),
        "{total} vs {parts}"
    );
    assert!(run["network_bytes"].as_u64().unwrap() > 0);
    // No flamegraph asked for: null, with the reason.
    assert_eq!(run["flamegraph"], Value::Null);
    // The memory and CO2 targets now have values.
    let targets = run["targets"].as_array().unwrap();
    for name in ["server_rss", "co2_per_request"] {
        let t = targets.iter().find(|t| t["name"] == name).unwrap();
        assert!(t["pass"].is_boolean(), "{t}");
    }
    assert!(common::leftovers(tmp.path()).is_empty());
}

#[test]
fn an_external_target_without_database_or_pids_still_gets_a_complete_report() {
    let tmp = common::private_tmp();
    let (mut serve, host) = common::spawn_serve(tmp.path());
    let out = tempfile::tempdir().unwrap();
    let output = common::bin()
        .args([
            "load",
            "--host",
            &host,
            "--scenario",
            "health",
            "--vus",
            "2",
            "--ramp-up",
            "0s",
        ])
        .args(["--duration", "2s", "--out", out.path().to_str().unwrap()])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    common::signal(&serve, nix::sys::signal::Signal::SIGINT);
    common::wait_with_guard(&mut serve);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("run.json")).unwrap())
            .unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("../../src/report/run.schema.json")).unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&run));
    assert_eq!(run["postgres"]["measured"], false);
    assert!(
        run["postgres"]["note"]
            .as_str()
            .unwrap()
            .starts_with("not measured")
    );
    assert_eq!(run["resources"]["server"]["measured"], false);
    assert!(
        run["resources"]["server"]["note"]
            .as_str()
            .unwrap()
            .contains("--server-pid")
    );
    let rss = run["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "server_rss")
        .unwrap()
        .clone();
    assert_eq!(rss["pass"], Value::Null);
    assert!(
        run["carbon"]["note"].is_string(),
        "missing parts are said: {}",
        run["carbon"]
    );
}

/// A 4-second `load --flamegraph` on the local stack, with `env` set; returns its
/// run.json, the SVG and stderr, and checks that nothing was left in TMPDIR.
fn flamegraph_run(env: &[(&str, &str)]) -> (Value, String, String) {
    let tmp = common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let output = common::bin()
        .args([
            "load",
            "--vus",
            "4",
            "--duration",
            "4s",
            "--ramp-up",
            "0s",
            "--flamegraph",
        ])
        .args(["--out", run_dir.to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .envs(env.iter().copied())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run["flamegraph"], "flamegraph.svg",
        "{:?}",
        run["flamegraph_skipped_reason"]
    );
    let svg = std::fs::read_to_string(run_dir.join("flamegraph.svg")).unwrap();
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.contains("koprogo_perf::server::"),
        "no reference-server frame in the flamegraph"
    );
    let left = common::leftovers(tmp.path());
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    (run, svg, stderr)
}

#[test]
fn a_flamegraph_names_the_reference_servers_functions_where_perf_works() {
    let perf_ok = std::process::Command::new("perf")
        .args(["record", "-o", "/dev/null", "--", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !perf_ok {
        eprintln!("skipped: perf is missing or not permitted here");
        return;
    }
    let (run, _, _) = flamegraph_run(&[]);
    assert_eq!(run["flamegraph_sampler"], "perf");
}

#[test]
fn without_perf_the_builtin_sampler_makes_the_flamegraph() {
    // $PERF names the perf binary; a missing one is what a machine without perf sees.
    let (run, svg, stderr) = flamegraph_run(&[("PERF", "/nonexistent/perf")]);
    assert_eq!(run["flamegraph_sampler"], "builtin");
    assert!(
        svg.contains("built-in sampler"),
        "the title names the sampler"
    );
    assert!(
        stderr.contains("perf cannot sample the server") && stderr.contains("built-in sampler"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_during_a_builtin_flamegraph_run_exits_130_at_once_with_the_partial_report() {
    let tmp = common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let mut command = common::bin();
    command
        .args([
            "load",
            "--vus",
            "4",
            "--ramp-up",
            "0s",
            "--duration",
            "120s",
        ])
        .args(["--flamegraph", "--profiler", "builtin"])
        .args(["--out", out.path().to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // Its own process group, so that the signal reaches it and its server as a
    // terminal's Ctrl-C does (the whole foreground group), and not this test.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut load = command.spawn().unwrap();
    common::wait_for_stderr(&mut load, "built-in sampler: from now on", 1);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let began = std::time::Instant::now();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(load.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = common::wait_with_guard(&mut load);
    let took = began.elapsed();
    assert_eq!(status.code(), Some(130));
    // A hang guard, not a performance claim: the old wait for a dead server's samples
    // was 60 s.
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    let run = koprogo_perf::report::RunReport::read(&out.path().join("run.json")).unwrap();
    assert!(run.interrupted);
    assert!(run.totals.requests > 0);
    assert!(
        common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        common::leftovers(tmp.path())
    );
    assert!(common::processes_mentioning(&tmp.path().display().to_string()).is_empty());
}
