//! A short real run: goose with 4 users of `api-load` against the embedded stack.

use std::collections::BTreeSet;

use clap::Parser;
use koprogo_perf::report::RunReport;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_api_load_run_hits_every_endpoint_and_writes_a_valid_run_json() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("run");
    let cli = koprogo_perf::Cli::parse_from([
        "koprogo-perf",
        "load",
        "--vus",
        "4",
        "--duration",
        "2s",
        "--ramp-up",
        "0s",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let code = koprogo_perf::run(cli).await.expect("the run completes");
    assert_eq!(code, std::process::ExitCode::SUCCESS);

    // run.json validates against the schema in the repository.
    let text = std::fs::read_to_string(out_dir.join("run.json")).unwrap();
    let instance: Value = serde_json::from_str(&text).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("../../src/report/run.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        problems.is_empty(),
        "run.json does not match its schema: {problems:#?}"
    );

    let run: RunReport = serde_json::from_value(instance).unwrap();
    assert_eq!(run.endpoints.len(), 12);
    assert!(run.target.embedded);
    assert_eq!(run.vus, 4);
    assert!(run.totals.requests > 0);
    // Every request kind got a 2xx, and the run had no errors at all.
    for e in &run.endpoints {
        let ok: u64 = e
            .status_codes
            .iter()
            .filter(|(c, _)| c.starts_with('2'))
            .map(|(_, n)| n)
            .sum();
        assert!(ok > 0, "{} got no 2xx: {:?}", e.name, e.status_codes);
        assert_eq!(
            e.errors, 0,
            "{}: {:?} {:?}",
            e.name, e.status_codes, e.transport_errors
        );
    }
    let posts: BTreeSet<u16> = run
        .endpoints
        .iter()
        .filter(|e| e.name.starts_with("POST"))
        .flat_map(|e| e.status_codes.keys().map(|c| c.parse().unwrap()))
        .collect();
    assert_eq!(posts, BTreeSet::from([201]));
    // Per-endpoint counts sum to the total and equal their histograms' counts.
    let sum: u64 = run.endpoints.iter().map(|e| e.requests).sum();
    assert_eq!(sum, run.totals.requests);
    for e in &run.endpoints {
        assert_eq!(e.histogram.len(), e.requests, "{}", e.name);
        let codes: u64 = e.status_codes.values().sum();
        assert_eq!(codes, e.requests, "{}", e.name);
    }
    let overall = &run.histogram;
    assert_eq!(overall.len(), run.totals.requests);
    assert_eq!(overall.value_at_quantile(0.99), run.totals.latency_us.p99);
    // The mix follows the weights: GET buildings list (15) well above auth/me (2).
    let count = |name: &str| {
        run.endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap()
            .requests
    };
    assert!(count("GET /api/v1/buildings") > count("GET /api/v1/auth/me"));
    // Targets: measured ones have a verdict, the others say so.
    let p99 = run.targets.iter().find(|t| t.name == "p99").unwrap();
    assert!(p99.pass.is_some());
    let rss = run.targets.iter().find(|t| t.name == "server_rss").unwrap();
    assert_eq!(rss.pass, None);
    assert!(rss.note.as_deref().unwrap().starts_with("not measured"));
    // latency.hgrm is HdrHistogram's percentile text with the same count.
    let hgrm = std::fs::read_to_string(out_dir.join("latency.hgrm")).unwrap();
    assert!(
        hgrm.contains(&format!("Total count    = {:>12}", run.totals.requests)),
        "{hgrm}"
    );
    // The time series covers every request of the run, ramp-down included, once; its
    // steady seconds hold at least the steady requests' worth minus the partial edges.
    let in_series: u64 = run.series.iter().map(|p| p.requests).sum();
    assert_eq!(in_series, run.totals.requests + run.warmup_requests);
    assert!(run.series.iter().any(|p| p.phase == "steady"));
    assert!(run.series.windows(2).all(|w| w[0].t < w[1].t));
    let steady: Vec<_> = run.phases.iter().filter(|p| p.steady).collect();
    assert_eq!(steady.len(), 1);
    assert_eq!(steady[0].requests, run.totals.requests);
    // latency.hlog parses back into the whole run's histogram.
    let hlog = std::fs::read_to_string(out_dir.join("latency.hlog")).unwrap();
    let (start, entries) = koprogo_perf::report::hlog::parse(&hlog).unwrap();
    assert!(start.is_some());
    let mut whole = koprogo_perf::latency::new_histogram();
    for e in entries.iter().filter(|e| e.tag.is_none()) {
        whole.add(&e.histogram).unwrap();
    }
    assert_eq!(whole.len(), in_series);
    assert!(whole.value_at_quantile(0.99) >= 1);
    let tags: BTreeSet<&str> = entries.iter().filter_map(|e| e.tag.as_deref()).collect();
    assert!(tags.contains("GET_/api/v1/buildings"), "{tags:?}");
}

#[test]
fn a_server_dying_mid_run_is_reported_and_what_was_measured_is_kept() {
    let tmp = crate::common::private_tmp();
    let _cleanup = KillLeftovers(tmp.path().to_path_buf());
    let (mut serve, host) = crate::common::spawn_serve(tmp.path());
    let out = tempfile::tempdir().unwrap();
    let mut load = crate::common::bin()
        .args([
            "load",
            "--host",
            &host,
            "--scenario",
            "health",
            "--vus",
            "4",
            "--ramp-up",
            "0s",
        ])
        .args(["--duration", "30s", "--out", out.path().to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let the load run a while, then take the server down under it.
    std::thread::sleep(std::time::Duration::from_secs(3));
    crate::common::signal(&serve, nix::sys::signal::Signal::SIGKILL);
    serve.wait().unwrap();
    let status = crate::common::wait_with_guard(&mut load);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut load.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: {host} stopped accepting connections during the run"
        )),
        "{stderr}"
    );
    let run: RunReport = RunReport::read(&out.path().join("run.json")).unwrap();
    let ok = run.endpoints[0]
        .status_codes
        .get("200")
        .copied()
        .unwrap_or(0);
    assert!(ok > 0, "the requests before the crash are kept");
    assert!(run.endpoints[0].transport_errors.connect > 0);
    assert!(run.host_down);
    assert!(
        run.duration_s < 20.0,
        "the run stopped early: {}",
        run.duration_s
    );
    // A dead target's near-zero refusals are no latency, and the gate fails the run.
    assert!(run.verdict.as_ref().is_some_and(|v| v.failed));
    let t = out.path().join("t.toml");
    std::fs::write(&t, "thresholds = [\"p99 < 60s\"]\n").unwrap();
    let gate = crate::common::bin()
        .args(["gate", out.path().to_str().unwrap(), "--thresholds"])
        .arg(&t)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(gate.status.code(), Some(1), "{gate:?}");
}

/// The killed server cannot stop its cluster: stop whatever still runs from `dir`.
struct KillLeftovers(std::path::PathBuf);

impl Drop for KillLeftovers {
    fn drop(&mut self) {
        for pid in crate::common::processes_mentioning(&self.0.display().to_string()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGQUIT,
            );
        }
    }
}

#[test]
fn ctrl_c_during_a_run_writes_the_report_marked_interrupted() {
    let tmp = crate::common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let mut load = crate::common::bin()
        .args(["load", "--vus", "4", "--ramp-up", "0s", "--duration", "60s"])
        .args(["--out", out.path().to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the users are running (the stack prints this line before the load).
    crate::common::wait_for_stderr(&mut load, "load: scenario api-load", 1);
    std::thread::sleep(std::time::Duration::from_secs(4));
    crate::common::signal(&load, nix::sys::signal::Signal::SIGINT);
    let status = crate::common::wait_with_guard(&mut load);
    assert_eq!(status.code(), Some(130));
    let run = RunReport::read(&out.path().join("run.json")).unwrap();
    assert!(run.interrupted);
    assert!(run.totals.requests > 0);
    assert!(run.duration_s < 60.0);
    assert!(
        crate::common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        crate::common::leftovers(tmp.path())
    );
    assert!(crate::common::processes_mentioning(&tmp.path().display().to_string()).is_empty());
}
