//! `koprogo-perf experiment`: two short arms end to end on the embedded cluster, the
//! comparison it writes, and the input it refuses.

use koprogo_perf::experiment::ExperimentReport;
use koprogo_perf::report::RunReport;

fn read(path: &std::path::Path) -> ExperimentReport {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn two_arms_alternate_on_fresh_copies_and_are_compared_to_baseline() {
    let tmp = crate::common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("x");
    let output = crate::common::bin()
        .args([
            "experiment",
            "--arms",
            "tuned",
            "--scale",
            "1",
            "--repeat",
            "2",
        ])
        .args(["--vus", "4", "--ramp-up", "1s", "--duration", "2s", "-q"])
        .arg("--out")
        .arg(&dir)
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("baseline added to the arms"), "{stderr}");

    let x = read(&dir.join("experiment.json"));
    let names: Vec<&str> = x.arms.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["baseline", "tuned"]);
    // A B A B, each on its own copy of the template its arm asks for.
    let order: Vec<(u32, &str)> = x.runs.iter().map(|r| (r.round, r.arm.as_str())).collect();
    assert_eq!(
        order,
        [(1, "baseline"), (1, "tuned"), (2, "baseline"), (2, "tuned")]
    );
    let mut databases = Vec::new();
    for run in &x.runs {
        let report = RunReport::read(&dir.join(&run.dir).join("run.json")).unwrap();
        assert_eq!(report.totals.requests, run.requests);
        assert!(run.requests > 0 && !run.interrupted);
        let switches = report.target.server.unwrap().switches.unwrap();
        let (template, database) = if run.arm == "tuned" {
            assert!(
                switches.contains("gzip on") && switches.contains("pool 20"),
                "{switches}"
            );
            (
                "koprogo_template_indexed",
                "koprogo-vps settings and indexes",
            )
        } else {
            assert!(
                switches.contains("gzip off") && switches.contains("pool 10"),
                "{switches}"
            );
            ("koprogo_template", "untuned")
        };
        assert!(
            switches.ends_with(&format!("(a fresh copy of {template}): {database}")),
            "{switches}"
        );
        databases.push(
            switches
                .split("; database ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string(),
        );
        // Statements were measured in the run's own database.
        assert!(report.postgres.measured && !report.postgres.statements.is_empty());
    }
    databases.dedup();
    assert_eq!(
        databases.len(),
        4,
        "every run has its own database: {databases:?}"
    );

    let (base, tuned) = (&x.arms[0], &x.arms[1]);
    for arm in [base, tuned] {
        assert_eq!(arm.runs, 2);
        assert!(arm.rps > 0.0 && arm.p99_us >= arm.p50_us && arm.p50_us > 0);
        assert!(arm.server_cpu_ms_per_request.unwrap() > 0.0);
        assert!(arm.co2_g_per_request.unwrap() > 0.0);
    }
    assert_eq!(base.rps_ratio_to_baseline, 1.0);
    assert!((tuned.rps_ratio_to_baseline - tuned.rps / base.rps).abs() < 1e-9);
    assert!((tuned.p99_ratio_to_baseline - tuned.p99_us as f64 / base.p99_us as f64).abs() < 1e-9);
    let [lo, hi] = tuned
        .rps_ratio_interval
        .expect("two rounds give an interval");
    assert!(0.0 < lo && lo <= hi, "{lo} {hi}");
    assert!(tuned.p99_ratio_interval.is_some());
    assert!(base.rps_ratio_interval.is_none());

    // The same renderers as `report`.
    let md = crate::common::bin()
        .args(["report", "--format", "markdown"])
        .arg(&dir)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("| tuned | 2 |") && md.contains("req/s vs baseline"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    // One latency spectrum with a curve per arm.
    assert_eq!(html.matches("<svg").count(), 1);
    assert!(
        html.contains("Latency by percentile") && html.contains(">tuned<"),
        "{html}"
    );

    // Nothing left behind.
    assert!(
        crate::common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        crate::common::leftovers(tmp.path())
    );
    assert!(crate::common::processes_mentioning(&tmp.path().display().to_string()).is_empty());
}

#[test]
fn bad_arms_and_a_used_out_directory_are_refused_before_anything_starts() {
    let tmp = crate::common::private_tmp();
    let output = crate::common::bin()
        .args(["experiment", "--arms", "baseline,turbo"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown arm `turbo`") && stderr.contains("http_cache_headers"),
        "{stderr}"
    );

    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("experiment.json"), "{}").unwrap();
    let output = crate::common::bin()
        .args(["experiment", "--out"])
        .arg(out.path())
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("already holds an experiment"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(out.path().join("experiment.json")).unwrap(),
        "{}"
    );
    assert!(
        crate::common::leftovers(tmp.path()).is_empty(),
        "no cluster was started"
    );
}

#[test]
fn ctrl_c_keeps_the_runs_that_ended_and_stops_everything() {
    let tmp = crate::common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("x");
    let mut child = crate::common::bin()
        .args(["experiment", "--scale", "1", "--repeat", "2", "--vus", "4"])
        .args(["--ramp-up", "1s", "--duration", "8s", "-q", "--out"])
        .arg(&dir)
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the second run's load to start, then interrupt it.
    crate::common::wait_for_stderr(&mut child, "load: scenario api-load", 2);
    std::thread::sleep(std::time::Duration::from_secs(2));
    crate::common::signal(&child, nix::sys::signal::Signal::SIGINT);
    let status = crate::common::wait_with_guard(&mut child);
    assert_eq!(status.code(), Some(130));

    let x = read(&dir.join("experiment.json"));
    assert!(x.setup.interrupted);
    let runs: Vec<(&str, bool)> = x
        .runs
        .iter()
        .map(|r| (r.arm.as_str(), r.interrupted))
        .collect();
    assert_eq!(runs, [("baseline", false), ("tuned", true)]);
    // The interrupted run's report is kept, and not counted in its arm.
    assert!(dir.join(&x.runs[1].dir).join("run.json").is_file());
    assert_eq!((x.arms[0].runs, x.arms[1].runs), (1, 0));
    assert!(
        crate::common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        crate::common::leftovers(tmp.path())
    );
    assert!(crate::common::processes_mentioning(&tmp.path().display().to_string()).is_empty());
}

/// An index the reference schema cannot hold is refused before the first run, as
/// tune-db refuses it: the indexes arm would otherwise measure less than the profile
/// says, without a word.
#[test]
fn an_index_the_schema_cannot_hold_is_refused_before_any_run() {
    let tmp = crate::common::private_tmp();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("bad.toml");
    std::fs::write(
        &profile,
        "description = \"one impossible index\"\n\n[[index]]\nname = \"idx_nope\"\n\
         table = \"expenses\"\ncolumns = \"building_id, no_such_column\"\n",
    )
    .unwrap();
    let out = dir.path().join("exp");
    let output = crate::common::bin()
        .args(["experiment", "--scale", "1", "--arms", "baseline,indexes"])
        .args(["--vus", "2", "--ramp-up", "1s", "--duration", "2s", "-q"])
        .arg("--profile")
        .arg(&profile)
        .arg("--out")
        .arg(&out)
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no_such_column") && stderr.contains("indexes arm"),
        "{stderr}"
    );
    assert!(!out.join("runs").exists(), "no run was made: {stderr}");
    assert!(
        crate::common::leftovers(tmp.path()).is_empty(),
        "the cluster was stopped"
    );
}
