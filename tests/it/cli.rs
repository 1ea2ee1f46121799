//! Bad input: a clear one-line error naming the thing, a non-zero exit, nothing started.

use crate::common;

fn run_fail(args: &[&str]) -> (i32, String) {
    let tmp = common::private_tmp();
    let out = common::bin()
        .args(args)
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        common::leftovers(tmp.path()).is_empty(),
        "{args:?} left {:?}",
        common::leftovers(tmp.path())
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

#[test]
fn an_unknown_scenario_is_refused_before_anything_starts() {
    let (code, err) = run_fail(&["load", "--scenario", "nope"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: scenario `nope` not found"), "{err}");
    assert!(!err.contains("embedded PostgreSQL"), "{err}");
}

#[test]
fn a_malformed_scenario_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[request]]\nmethod = \"GET\"\npath = \"/api/v1/x/{building}\"\nweight = 1\n",
    )
    .unwrap();
    let (code, err) = run_fail(&["load", "--scenario", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with(&format!(
            "error: {}:3: unknown placeholder `{{building}}`",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn an_unreachable_host_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("http://127.0.0.1:{port}");
    let (code, err) = run_fail(&[
        "load",
        "--host",
        &host,
        "--scenario",
        "health",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 1);
    let err = err.lines().last().unwrap();
    assert!(
        err.starts_with(&format!("error: cannot reach {host}")),
        "{err}"
    );
    assert!(
        err.ends_with("Connection refused (os error 111); start the server or check --host"),
        "{err}"
    );
}

#[test]
fn a_host_without_logins_is_refused_and_passwords_are_never_echoed() {
    let (code, err) = run_fail(&["load", "--host", "http://127.0.0.1:9", "--duration", "1s"]);
    assert_eq!(code, 2);
    assert!(err.contains("no login was given"), "{err}");
    let (code, err) = run_fail(&["load", "--host", "not a url"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not an http(s) URL"), "{err}");
    let (code, err) = run_fail(&[
        "load",
        "--host",
        "http://127.0.0.1:9",
        "--login",
        "a@b.be:hunter2secret",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 1);
    assert!(!err.contains("hunter2secret"), "{err}");
}

#[test]
fn a_malformed_login_is_refused_without_echoing_it() {
    let (code, err) = run_fail(&[
        "load",
        "--host",
        "http://127.0.0.1:9",
        "--login",
        ":hunter2secret",
    ]);
    assert_eq!(code, 2);
    assert_eq!(err, "error: --login: expected EMAIL:PASSWORD");
    let (code, err) = run_fail(&["load", "--host", "http://127.0.0.1:9", "--keep-db"]);
    assert_eq!(code, 2);
    assert!(err.contains("--keep-db"), "{err}");
}

#[test]
fn an_unreachable_database_url_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:t0psecret@127.0.0.1:{port}/koprogo");
    let (code, err) = run_fail(&["seed", "--database-url", &url]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("postgres://app:***@127.0.0.1:{port}/koprogo")),
        "{err}"
    );
    assert!(!err.contains("t0psecret"), "{err}");
    // At once, with the cause: not a pool retrying until "pool timed out".
    assert!(err.contains("Connection refused (os error 111)"), "{err}");
    assert!(!err.contains("timed out"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, err) = run_fail(&[
        "seed",
        "--database-url",
        "mysql://root:t0psecret@127.0.0.1/k",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err,
        "error: mysql://root:***@127.0.0.1/k is not a PostgreSQL URL: give \
         postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    );
}

#[test]
fn causes_are_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let (code, err) = run_fail(&["load", "--scenario", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.matches("(os error 2)").count(), 1, "{err}");
}

/// A port in use fails before the cluster is started and seeded: nothing is left in
/// TMPDIR (`run_fail` checks) and no seed summary was printed.
#[test]
fn serve_on_a_port_in_use_fails_before_the_cluster_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = run_fail(&["serve", "--bind", &addr]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err,
        format!(
            "error: cannot listen on {addr}: pick another --bind address: Address already in use (os error 98)"
        )
    );
}

#[test]
fn bad_flags_exit_with_usage_errors() {
    let (code, err) = run_fail(&["load", "--vus", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--vus"), "{err}");
    let (code, _) = run_fail(&["demo", "--duration", "tomorrow"]);
    assert_eq!(code, 2);
}

/// Every invalid input exits 2 with one line on stderr that names it, before anything
/// starts (no cluster left in TMPDIR, no run directory).
#[test]
fn invalid_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("afile");
    std::fs::write(&file, "x").unwrap();
    let bad_scenario = d.join("bad.toml");
    std::fs::write(&bad_scenario, "[[request]]\nmethod = \"GET\"\n").unwrap();
    let bad_think = d.join("think.toml");
    std::fs::write(
        &bad_think,
        "[[request]]\nmethod = \"GET\"\npath = \"/x\"\nweight = 1\nthink_time = \"18446744073709551615s1s\"\n",
    )
    .unwrap();
    let empty_thresholds = d.join("t.toml");
    std::fs::write(&empty_thresholds, "thresholds = []\n").unwrap();
    let run_dir = d.join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::write(run_dir.join("run.json"), "{}").unwrap();
    let experiment_dir = d.join("experiment");
    std::fs::create_dir(&experiment_dir).unwrap();
    std::fs::write(experiment_dir.join("experiment.json"), "{}").unwrap();
    let p = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let host = ["--host", "http://127.0.0.1:9", "--login", "a@b.be:pw"];
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["load".into(), "--duration".into(), "0s".into()],
            "--duration",
        ),
        (
            vec![
                "load".into(),
                "--duration".into(),
                "18446744073709551615s1s".into(),
            ],
            "at most 30 days",
        ),
        (
            vec![
                "load".into(),
                "--duration".into(),
                "18446744073709551615s".into(),
            ],
            "at most 30 days",
        ),
        (
            vec![
                "load".into(),
                "--duration".into(),
                "307445734561825861m".into(),
            ],
            "at most 30 days",
        ),
        (
            vec!["load".into(), "--timeout".into(), "0s".into()],
            "--timeout",
        ),
        (
            vec!["load".into(), "--plan".into(), "banana".into()],
            "--plan `banana`",
        ),
        (
            vec![
                "load".into(),
                "--plan".into(),
                "10,99999999999999999999s".into(),
            ],
            "--plan step 1",
        ),
        (
            vec!["load".into(), "--region".into(), "ZZ".into()],
            "--region",
        ),
        (
            vec!["load".into(), "--host".into(), "ftp://127.0.0.1/".into()],
            "--host",
        ),
        (
            vec!["load".into(), "--scenario".into(), "nope".into()],
            "scenario `nope`",
        ),
        (
            vec![
                "load".into(),
                "--scenario".into(),
                p(&d.join("missing.toml")),
            ],
            "missing.toml",
        ),
        (
            vec!["load".into(), "--scenario".into(), p(&bad_scenario)],
            "bad.toml",
        ),
        (
            vec!["load".into(), "--scenario".into(), p(&bad_think)],
            "think.toml:5: think_time",
        ),
        (
            vec!["serve".into(), "--pool-max".into(), "0".into()],
            "--pool-max",
        ),
        (
            vec!["serve".into(), "--acquire-timeout".into(), "-1".into()],
            "-1",
        ),
        (
            vec!["serve".into(), "--acquire-timeout=-1".into()],
            "--acquire-timeout",
        ),
        (
            vec!["serve".into(), "--bind".into(), "999.1.1.1:80".into()],
            "--bind",
        ),
        (
            vec!["merge".into(), p(&run_dir), "--out".into(), p(&d.join("m"))],
            "at least two run directories",
        ),
        (
            vec![
                "gate".into(),
                p(&run_dir),
                "--thresholds".into(),
                p(&empty_thresholds),
            ],
            "`thresholds` is empty",
        ),
        (
            vec!["load".into(), "--out".into(), p(&file)]
                .into_iter()
                .chain(host.iter().map(|s| s.to_string()))
                .collect(),
            "is a file",
        ),
        (
            vec!["load".into(), "--out".into(), p(&run_dir)]
                .into_iter()
                .chain(host.iter().map(|s| s.to_string()))
                .collect(),
            "--force",
        ),
        (
            vec![
                "audit".into(),
                "--url".into(),
                "http://127.0.0.1:9".into(),
                "--out".into(),
                p(&d.join("nodir/a.json")),
            ],
            "does not exist",
        ),
        (
            vec![
                "merge".into(),
                p(&run_dir),
                p(&run_dir),
                "--out".into(),
                p(&file),
            ],
            "is a file",
        ),
        (vec!["demo".into(), "--out".into(), p(&file)], "is a file"),
        (
            vec![
                "load".into(),
                "--host".into(),
                "http://u:pw@127.0.0.1:9".into(),
            ],
            "--host `http://u:***@127.0.0.1:9` carries credentials",
        ),
        (
            vec![
                "audit".into(),
                "--url".into(),
                "http://u:pw@127.0.0.1:9".into(),
            ],
            "--url `http://u:***@127.0.0.1:9` carries credentials",
        ),
        (
            vec!["experiment".into(), "--out".into(), p(&file)],
            "is a file",
        ),
        (
            vec!["experiment".into(), "--out".into(), p(&experiment_dir)],
            "already holds an experiment (experiment.json)",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = run_fail(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
        assert!(!err.contains("Error {") && !err.contains("kind:"), "{err}");
    }
    // Nothing was written beside the inputs.
    assert_eq!(
        std::fs::read_dir(&run_dir).unwrap().count(),
        1,
        "the existing run was touched"
    );
}

/// `report` on a run whose histogram is corrupt: one line naming the file, exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_histogram_is_named_and_an_existing_run_needs_force() {
    let stack = common::stack(1).await;
    let host = stack.base_url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.clone();
    let (first, second, forced) = tokio::task::spawn_blocking(move || {
        let load = |extra: &[&str]| {
            common::bin()
                .args([
                    "load",
                    "--host",
                    &host,
                    "--scenario",
                    "health",
                    "--vus",
                    "2",
                ])
                .args(["--ramp-up", "0s", "--duration", "1s", "--quiet", "--out"])
                .arg(&o)
                .args(extra)
                .output()
                .unwrap()
        };
        let first = load(&[]);
        std::fs::write(o.join("report.html"), "old report").unwrap();
        let second = load(&[]);
        let forced = load(&["--force"]);
        (first, second, forced)
    })
    .await
    .unwrap();
    stack.stop().await;
    assert!(first.status.success(), "{first:?}");
    assert_eq!(second.status.code(), Some(2), "{second:?}");
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(forced.status.success(), "{forced:?}");
    assert!(
        !out.join("report.html").exists(),
        "the old report.html stayed"
    );

    let path = out.join("run.json");
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    run["histogram"] = serde_json::Value::String("SGVsbG8gd29ybGQ=".into());
    std::fs::write(&path, serde_json::to_string(&run).unwrap()).unwrap();
    let report = common::bin().arg("report").arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&report.stderr);
    assert_eq!(report.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "{}: the overall histogram is corrupt",
            path.display()
        )),
        "{err}"
    );
    assert!(!err.contains("IoError") && !err.contains("kind:"), "{err}");
}

/// The check that the host answers is bounded by --timeout, and says so: a listener
/// that accepts and never answers.
#[test]
fn the_host_check_honours_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", silent.local_addr().unwrap());
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let (code, err) = run_fail(&[
        "load",
        "--host",
        &host,
        "--scenario",
        "health",
        "--timeout",
        "1s",
        "--duration",
        "1s",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.lines().last().unwrap().contains(&format!(
            "cannot reach {host}: no answer within 1 s (--timeout)"
        )),
        "{err}"
    );
}
