//! The GitHub Action's steps (action.yml, scripts in deploy/github-action/) run as a
//! runner would run them, against the reference server: the inputs checked, the runs
//! made and gated with the outputs a workflow reads, then gated again against the first
//! runs as the baseline. What needs GitHub itself (the artifact API, the comment) is
//! not run here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `script` with `env` as the action's step does (bash, from the repository, the
/// koprogo-perf under test first on PATH); its output and the step outputs it wrote.
fn step(script: &str, env: &[(&str, &str)], temp: &Path) -> (Output, HashMap<String, String>) {
    let outputs = temp.join(format!("{script}.out"));
    std::fs::write(&outputs, "").unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_koprogo-perf"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .arg(root().join("deploy/github-action").join(script))
        .current_dir(root())
        .env("PATH", path)
        .env("RUNNER_TEMP", temp)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", temp.join("summary.md"))
        .env_remove("KOPROGO_PERF_LOGINS")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let written = std::fs::read_to_string(&outputs).unwrap();
    let map = written
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (output, map)
}

#[test]
fn every_script_the_action_names_exists() {
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let named: Vec<&str> = action
        .split("$GITHUB_ACTION_PATH/deploy/github-action/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(named.len(), 6, "{named:?}");
    for script in named {
        assert!(
            root().join("deploy/github-action").join(script).is_file(),
            "{script}"
        );
    }
}

#[test]
fn bad_inputs_are_refused_with_one_error_line_and_the_baseline_is_recorded_on_its_branch() {
    let temp = tempfile::tempdir().unwrap();
    let base = [
        ("SEED_SCALE", "1"),
        ("ADMIN", "admin@koprogo.com:Pw-9zq"),
        ("LOGINS", ""),
        ("RUNS", "3"),
        ("BASELINE_BRANCH", ""),
        ("DEFAULT_BRANCH", "main"),
        ("EVENT", "push"),
        ("GITHUB_REF", "refs/heads/main"),
    ];
    let with = |changes: &[(&'static str, &'static str)]| {
        let mut env = base.to_vec();
        for (k, v) in changes {
            env.retain(|(key, _)| key != k);
            env.push((k, v));
        }
        env
    };
    for (changes, says) in [
        (vec![("RUNS", "three")], "runs: `three`"),
        (
            vec![("SEED_SCALE", "0")],
            "seed-scale 0 (no seed) needs logins",
        ),
        (vec![("ADMIN", "")], "seed-scale 1 needs admin"),
    ] {
        let (output, _) = step("context.sh", &with(&changes), temp.path());
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(output.status.code(), Some(2), "{stdout}");
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(
            stdout.starts_with("::error::") && stdout.contains(says),
            "{stdout}"
        );
        assert!(!stdout.contains("Pw-9zq"));
    }
    let (output, outputs) = step("context.sh", &base, temp.path());
    assert!(output.status.success());
    assert_eq!(outputs["record"], "true");
    assert_eq!(outputs["baseline-branch"], "main");
    assert!(Path::new(&outputs["dir"]).is_dir());
    let (_, outputs) = step(
        "context.sh",
        &with(&[
            ("EVENT", "pull_request"),
            ("GITHUB_REF", "refs/pull/7/merge"),
        ]),
        temp.path(),
    );
    assert_eq!(outputs["record"], "false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_step_runs_and_gates_a_scenario_from_the_servers_openapi_document() {
    let stack = common::stack(1).await;
    let host = stack.base_url();
    let openapi = format!("{host}/api-docs/openapi.json");
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("koprogo-perf");
    let first = dir.join("first");
    std::fs::create_dir_all(dir.join("baseline")).unwrap();
    let gate = |found: &'static str, run_dir: PathBuf| {
        let (host, openapi, temp) = (host.clone(), openapi.clone(), temp.path().to_path_buf());
        tokio::task::spawn_blocking(move || {
            let dir = run_dir.display().to_string();
            std::fs::create_dir_all(&dir).unwrap();
            step(
                "gate.sh",
                &[
                    ("HOST", host.as_str()),
                    ("SCENARIO", "api-load"),
                    ("FROM_OPENAPI", openapi.as_str()),
                    ("RUNS", "1"),
                    ("LOAD_ARGS", "--duration 1s --vus 2 --ramp-up 0s"),
                    ("GATE_ARGS", "--tolerance 400"),
                    ("THRESHOLDS", ""),
                    (
                        "KOPROGO_PERF_LOGINS",
                        "syndic@grandplace.be:syndic123,syndic@sablon.be:syndic123",
                    ),
                    ("BASELINE_FOUND", found),
                    ("DIR", dir.as_str()),
                ],
                &temp,
            )
        })
    };
    let (output, outputs) = gate("false", first.clone()).await.unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    assert_eq!(
        (outputs["exit-code"].as_str(), outputs["verdict"].as_str()),
        ("0", "pass"),
        "{log}"
    );
    let md = std::fs::read_to_string(first.join("gate.md")).unwrap();
    assert!(
        md.contains("No baseline of the baseline branch yet"),
        "{md}"
    );
    assert!(first.join("gate.xml").is_file() && first.join("report.html").is_file());
    assert!(first.join("runs/run-1/run.json").is_file());
    let summary = std::fs::read_to_string(temp.path().join("summary.md")).unwrap();
    assert!(summary.contains("No baseline"), "{summary}");

    // The first runs as the baseline of the second (as the artifact would be unzipped).
    let second = dir.join("second");
    std::fs::create_dir_all(second.join("baseline")).unwrap();
    std::fs::rename(first.join("runs/run-1"), second.join("baseline/run-1")).unwrap();
    let (output, outputs) = gate("true", second.clone()).await.unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(outputs["exit-code"], "0", "{log}");
    let md = std::fs::read_to_string(second.join("gate.md")).unwrap();
    assert!(!md.contains("No baseline"), "{md}");
    assert!(md.contains("baseline"), "{md}");
    stack.stop().await;
}
