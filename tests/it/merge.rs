//! `merge`: three `load` processes run at once against one server, merged; then the
//! refusals, on run.json files made for them.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use koprogo_perf::report::RunReport;
use koprogo_perf::report::run::{Latency, encode_histogram};
use serde_json::{Value, json};

fn validate(path: &Path) {
    let instance: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("../../src/report/run.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        problems.is_empty(),
        "{} does not match its schema: {problems:#?}",
        path.display()
    );
}

fn merge(args: &[&Path], extra: &[&str]) -> std::process::Output {
    crate::common::bin()
        .arg("merge")
        .args(args)
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Untagged interval histograms of a latency.hlog, added up.
fn hlog_total(path: &Path) -> Histogram<u64> {
    let bytes = std::fs::read(path).unwrap();
    let mut total = koprogo_perf::latency::new_histogram();
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(iv) = entry.unwrap()
            && iv.tag().is_none()
        {
            let raw = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                iv.encoded_histogram(),
            )
            .unwrap();
            let h: Histogram<u64> = Deserializer::new()
                .deserialize(&mut raw.as_slice())
                .unwrap();
            total.add(&h).unwrap();
        }
    }
    total
}

fn epoch_ms(started_at: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(started_at)
        .unwrap()
        .timestamp_millis()
}

/// Runs `n` `load --scenario health` processes at once against one `serve`, each into
/// its own directory of the returned temporary directory.
fn concurrent_loads(n: usize, extra: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = crate::common::private_tmp();
    let (mut serve, host) = crate::common::spawn_serve(tmp.path());
    let out = tempfile::tempdir().unwrap();
    let parts: Vec<PathBuf> = (0..n).map(|k| out.path().join(k.to_string())).collect();
    let loads: Vec<std::process::Child> = parts
        .iter()
        .map(|dir| {
            crate::common::bin()
                .args(["load", "--host", &host, "--scenario", "health"])
                .args(["--duration", "3s", "--ramp-up", "0s"])
                .args(extra)
                .arg("--out")
                .arg(dir)
                .env_remove("DATABASE_URL")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failures = Vec::new();
    for mut load in loads {
        let status = crate::common::wait_with_guard(&mut load);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut load.stderr.take().unwrap(), &mut text).unwrap();
        if !status.success() {
            failures.push(text);
        }
    }
    crate::common::signal(&serve, nix::sys::signal::Signal::SIGINT);
    crate::common::wait_with_guard(&mut serve);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        crate::common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        crate::common::leftovers(tmp.path())
    );
    (out, parts)
}

#[test]
fn three_concurrent_load_processes_merge_into_exact_totals_percentiles_and_series() {
    let (out, parts) = concurrent_loads(3, &["--vus", "2"]);
    let merged_dir = out.path().join("merged");
    let refs: Vec<&Path> = parts.iter().map(PathBuf::as_path).collect();
    let output = merge(&refs, &["--out", merged_dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    validate(&merged_dir.join("run.json"));
    let merged = RunReport::read(&merged_dir.join("run.json")).unwrap();
    let parts: Vec<RunReport> = parts
        .iter()
        .map(|d| RunReport::read(&d.join("run.json")).unwrap())
        .collect();

    // Counts are the sums of the parts.
    assert!(parts.iter().all(|p| p.totals.requests > 0));
    let sum = |f: fn(&RunReport) -> u64| parts.iter().map(f).sum::<u64>();
    assert_eq!(merged.totals.requests, sum(|p| p.totals.requests));
    assert_eq!(merged.totals.errors, sum(|p| p.totals.errors));
    assert_eq!(merged.vus, 6);
    assert_eq!(
        merged.merged_from,
        refs.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
    );
    let rps: f64 = parts.iter().map(|p| p.totals.rps).sum();
    assert!(
        (merged.totals.rps - rps).abs() < 0.01,
        "{} vs {rps}",
        merged.totals.rps
    );

    // Percentiles are those of one histogram holding every part's samples.
    let mut all = koprogo_perf::latency::new_histogram();
    for p in &parts {
        all.add(&p.histogram).unwrap();
    }
    assert_eq!(merged.histogram, all);
    assert_eq!(merged.totals.latency_us, Latency::of(&all));
    let l = &merged.totals.latency_us;
    assert_eq!(
        (l.p50, l.p90, l.p99, l.max),
        (
            all.value_at_quantile(0.5),
            all.value_at_quantile(0.9),
            all.value_at_quantile(0.99),
            all.max()
        )
    );
    for e in &merged.endpoints {
        let same: Vec<_> = parts
            .iter()
            .flat_map(|p| p.endpoints.iter().filter(|x| x.name == e.name))
            .collect();
        assert_eq!(same.len(), 3, "{} in every part", e.name);
        assert_eq!(e.requests, same.iter().map(|x| x.requests).sum::<u64>());
        assert_eq!(
            e.status_codes["200"],
            same.iter().map(|x| x.status_codes["200"]).sum::<u64>()
        );
        let mut h = koprogo_perf::latency::new_histogram();
        for x in &same {
            h.add(&x.histogram).unwrap();
        }
        assert_eq!(e.latency_us, Latency::of(&h), "{}", e.name);
        assert_eq!(encode_histogram(&e.histogram), encode_histogram(&h));
    }

    // The series: each wall-clock second holds the parts' requests of that second.
    assert!(parts.iter().all(|p| !p.series.is_empty()));
    let start = parts.iter().map(|p| epoch_ms(&p.started_at)).min().unwrap();
    assert_eq!(epoch_ms(&merged.started_at), start);
    let mut expected = std::collections::BTreeMap::<u64, u64>::new();
    for p in &parts {
        let offset = epoch_ms(&p.started_at) - start;
        for point in &p.series {
            let second = ((offset + point.t as i64 * 1000 + 500) / 1000) as u64;
            *expected.entry(second).or_default() += point.requests;
        }
    }
    let got: std::collections::BTreeMap<u64, u64> =
        merged.series.iter().map(|p| (p.t, p.requests)).collect();
    assert_eq!(got, expected);

    // The interval log holds every part's samples, and the hgrm the merged count.
    let mut logged = koprogo_perf::latency::new_histogram();
    for dir in &refs {
        logged.add(hlog_total(&dir.join("latency.hlog"))).unwrap();
    }
    assert_eq!(hlog_total(&merged_dir.join("latency.hlog")), logged);
    let hgrm = std::fs::read_to_string(merged_dir.join("latency.hgrm")).unwrap();
    assert!(hgrm.contains(&format!("Total count    = {:>12}", merged.totals.requests)));
}

#[test]
fn constant_rate_runs_merge_with_summed_rates() {
    let (out, parts) = concurrent_loads(2, &["--vus", "4", "--rate", "100"]);
    let merged_dir = out.path().join("merged");
    let output = merge(
        &[&parts[0], &parts[1]],
        &["--out", merged_dir.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("latency_uncorrected_us is not merged"),
        "{}",
        stderr(&output)
    );
    validate(&merged_dir.join("run.json"));
    let merged = RunReport::read(&merged_dir.join("run.json")).unwrap();
    let parts: Vec<RunReport> = parts
        .iter()
        .map(|d| RunReport::read(&d.join("run.json")).unwrap())
        .collect();
    let rates: Vec<_> = parts.iter().map(|p| p.rate.clone().unwrap()).collect();
    let rate = merged.rate.unwrap();
    assert_eq!(rate.requested, 200.0);
    assert_eq!(rate.missed, rates.iter().map(|r| r.missed).sum::<u64>());
    assert_eq!(rate.late, rates.iter().map(|r| r.late).sum::<u64>());
    let achieved: f64 = rates.iter().map(|r| r.achieved).sum();
    assert!((rate.achieved - achieved).abs() < 0.01);
    let mut all = koprogo_perf::latency::new_histogram();
    for p in &parts {
        all.add(&p.histogram).unwrap();
    }
    assert_eq!(merged.totals.requests, all.len());
    assert_eq!(merged.totals.latency_us, Latency::of(&all));
    assert!(merged.totals.latency_uncorrected_us.is_none());
}

/// A run.json of three health requests, started at `started_at`.
fn fixture(dir: &Path, started_at: &str, scenario: &str) {
    let mut h = koprogo_perf::latency::new_histogram();
    for v in [120, 340, 5_000] {
        h.record(v).unwrap();
    }
    let latency = serde_json::to_value(Latency::of(&h)).unwrap();
    let encoded = encode_histogram(&h);
    let run = json!({
        "schema_version": 1, "tool": "koprogo-perf test", "started_at": started_at,
        "duration_s": 3.0, "ramp_up_s": 0.0, "vus": 2,
        "scenario": {"name": scenario, "source": format!("builtin:{scenario}")},
        "target": {"host": "http://127.0.0.1:9", "embedded": false},
        "interrupted": false, "host_down": false,
        "warmup_requests": 0, "relogins": 0, "skipped_requests": 0,
        "totals": {"requests": 3, "errors": 0, "rps": 1.0, "latency_us": latency},
        "endpoints": [{
            "name": "GET /api/v1/health", "requests": 3, "errors": 0, "rps": 1.0,
            "status_codes": {"200": 3},
            "transport_errors": {"timeout": 0, "connect": 0, "other": 0},
            "latency_us": latency, "histogram": encoded,
        }],
        "histogram": encoded, "targets": [], "network_bytes": 0,
        "postgres": {"measured": false, "statements": []},
        "resources": null, "carbon": null, "flamegraph": null,
        "series": [], "phases": [],
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("run.json"), run.to_string()).unwrap();
}

/// The merge is refused with one line naming the runs, and nothing is written.
fn refused(inputs: &[&Path], out: &Path, expect: &[&str]) {
    refused_with(1, inputs, out, expect)
}

/// [`refused`], with this exit code (2: invalid input).
fn refused_with(code: i32, inputs: &[&Path], out: &Path, expect: &[&str]) {
    let output = merge(inputs, &["--out", out.to_str().unwrap()]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    assert!(text.starts_with("error: "), "{text}");
    for needle in expect {
        assert!(text.contains(needle), "{text} lacks {needle}");
    }
    assert!(!out.exists(), "{text}: wrote {}", out.display());
}

#[test]
fn merge_refuses_what_cannot_be_merged_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name);
    let t0 = "2025-03-01T12:00:00.000Z";
    fixture(&dir("a"), t0, "health");
    fixture(&dir("b"), "2025-03-01T12:00:00.400Z", "health");
    fixture(&dir("tiny"), t0, "tiny");
    fixture(&dir("later"), "2025-03-01T13:00:00.000Z", "health");
    std::fs::create_dir_all(dir("broken")).unwrap();
    std::fs::write(dir("broken").join("run.json"), "{ not json").unwrap();
    let out = dir("merged");
    let a = dir("a");
    let a_name = a.display().to_string();

    refused(
        &[&a, &dir("tiny")],
        &out,
        &[
            "different scenarios",
            &format!("{a_name} (health)"),
            "tiny (tiny)",
        ],
    );
    refused(
        &[&a, &dir("later")],
        &out,
        &[
            "do not overlap in time",
            &a_name,
            "later only began at 2025-03-01 13:00:00.000 UTC",
        ],
    );
    refused_with(2, &[&a], &out, &["at least two run directories", &a_name]);
    refused(
        &[&a, &dir("broken")],
        &out,
        &["broken/run.json is not a run.json"],
    );
    refused(&[&a, &dir("missing")], &out, &["missing/run.json"]);
    refused(
        &[&a, &dir("b"), &a],
        &out,
        &["the same run directory", &a_name],
    );

    // Two runs at the same time merge; the result validates, and a second merge into
    // the same directory needs --force.
    let output = merge(&[&a, &dir("b")], &["--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    validate(&out.join("run.json"));
    let first = std::fs::read_to_string(out.join("run.json")).unwrap();
    let run = RunReport::read(&out.join("run.json")).unwrap();
    assert_eq!(run.totals.requests, 6);
    assert!(!run.postgres.measured);
    assert!(
        run.postgres
            .note
            .as_deref()
            .unwrap()
            .starts_with("not measured: a merge of 2 runs"),
        "{:?}",
        run.postgres.note
    );
    assert!(
        stderr(&output).contains("no latency.hlog in"),
        "{}",
        stderr(&output)
    );
    assert!(!out.join("latency.hlog").exists());

    let again = merge(&[&a, &dir("b")], &["--out", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already holds a run.json"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("run.json")).unwrap(),
        first
    );
    let itself = merge(
        &[&a, &dir("b"), &out],
        &["--out", out.to_str().unwrap(), "--force"],
    );
    assert_eq!(itself.status.code(), Some(1));
    assert!(
        stderr(&itself).contains("is the --out directory"),
        "{}",
        stderr(&itself)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("run.json")).unwrap(),
        first
    );
    let forced = merge(
        &[&a, &dir("b")],
        &["--out", out.to_str().unwrap(), "--force"],
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
}
