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
    assert_eq!(code, 1);
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
    assert_eq!(code, 1);
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
    assert_eq!(code, 1);
    assert!(err.contains("no login was given"), "{err}");
    let (code, err) = run_fail(&["load", "--host", "not a url"]);
    assert_eq!(code, 1);
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
    assert_eq!(code, 1);
    assert_eq!(err, "error: --login: expected EMAIL:PASSWORD");
    let (code, err) = run_fail(&["load", "--host", "http://127.0.0.1:9", "--keep-db"]);
    assert_eq!(code, 1);
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
}

#[test]
fn bad_flags_exit_with_usage_errors() {
    let (code, err) = run_fail(&["load", "--vus", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--vus"), "{err}");
    let (code, _) = run_fail(&["demo", "--duration", "tomorrow"]);
    assert_eq!(code, 2);
}
