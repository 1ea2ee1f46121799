//! Secrets never leave: every command that takes one is run with canaries (unique
//! strings) in its passwords, URLs and secrets, and its stdout, stderr and every file
//! it wrote are searched for them. And a scenario cannot send the login token to
//! another host.

use std::path::Path;
use std::process::Output;

use crate::common;

/// Unique strings that only the secrets carry.
const HOST_PW: &str = "cAnArY1hostpw";
const DB_PW: &str = "cAnArY2dbpw";
const LOGIN_PW: &str = "cAnArY3loginpw";
const JWT: &str = "cAnArY4jwt";
const ENV_PW: &str = "cAnArY5envpw";
const KV_PW: &str = "cAnArY6kvpw";

/// Fragments of every canary: a secret split by a parser must not leak in pieces
/// either (each canary's tail after its digit).
const CANARIES: &[&str] = &[
    "cAnArY", "hostpw", "dbpw", "loginpw", "4jwt", "envpw", "kvpw",
];

fn assert_clean(what: &str, out: &Output, dir: &Path) {
    assert_free_of(what, out, dir, CANARIES)
}

/// No `secrets` in `out`'s stdout and stderr nor in any file under `dir` (but the
/// logins file the test wrote).
fn assert_free_of(what: &str, out: &Output, dir: &Path, secrets: &[&str]) {
    let mut texts = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        ),
    ];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for entry in std::fs::read_dir(&p).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if !p.ends_with("logins.txt") {
            let bytes = std::fs::read(&p).unwrap();
            texts.push((
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).to_string(),
            ));
        }
    }
    for (name, text) in &texts {
        for canary in secrets {
            assert!(
                !text.contains(canary),
                "{what}: `{canary}` in {name}:\n{text}"
            );
        }
    }
}

/// What a command is called, its arguments and its environment.
type Case<'a> = (&'static str, Vec<&'a str>, Vec<(&'static str, &'a str)>);

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = common::bin();
    command
        .current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("KOPROGO_PERF_LOGINS")
        .env_remove("KOPROGO_PERF_JWT_SECRET")
        .env("TMPDIR", dir);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_secrets_appear_in_no_output_and_no_file() {
    let stack = common::stack(1).await;
    let port = stack.addr.port();
    let pg_port = stack.db.cluster().unwrap().port();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_path_buf();
    let syndic = &stack.logins[0];
    // A real login first (the run needs one), then one whose password is a canary with
    // the characters that split other parsers.
    std::fs::write(
        dir.join("logins.txt"),
        format!(
            "# logins\n{}:{}\n\nnobody@example.be:{LOGIN_PW}, #=?{LOGIN_PW}\n",
            syndic.email, syndic.password
        ),
    )
    .unwrap();
    let host = format!("http://127.0.0.1:{port}");
    let db_url = format!("postgres://postgres:{DB_PW}?x=y@127.0.0.1:{pg_port}/postgres");

    let d = dir.clone();
    let (load, report, audit) = tokio::task::spawn_blocking(move || {
        let dir = d.as_path();
        let load = run(
            dir,
            &[
                "load",
                "--host",
                &host,
                "--logins-file",
                "logins.txt",
                "--database-url",
                &db_url,
                "--vus",
                "2",
                "--ramp-up",
                "0s",
                "--duration",
                "1s",
                "--quiet",
                "--out",
                "run",
            ],
            &[],
        );
        let report = run(dir, &["report", "run", "--format", "html"], &[]);
        let audit = run(
            dir,
            &[
                "audit",
                "--url",
                &host,
                "--logins-file",
                "logins.txt",
                "--burst",
                "2",
                "--burst-duration",
                "1s",
                "--timeout",
                "20s",
                "--out",
                "audit.json",
            ],
            &[],
        );
        (load, report, audit)
    })
    .await
    .unwrap();
    assert_clean("load", &load, &dir);
    assert!(dir.join("run/run.json").is_file(), "{load:?}");
    let run_json = std::fs::read_to_string(dir.join("run/run.json")).unwrap();
    assert!(
        run_json.contains("\"measured\": false"),
        "pg_stat_statements not measured with a wrong password: {run_json}"
    );
    assert!(report.status.success(), "{report:?}");
    assert!(dir.join("run/report.html").is_file());
    assert_clean("audit", &audit, &dir);
    assert!(dir.join("audit.json").is_file(), "{audit:?}");

    // Commands that fail on their secret, each one line without it.
    let d = dir.to_str().unwrap().to_string();
    let failures = tokio::task::spawn_blocking(move || {
        let dir = Path::new(&d);
        let host = format!("http://127.0.0.1:{port}");
        let db_url = format!("postgres://postgres:{DB_PW}@127.0.0.1:{pg_port}/postgres");
        let odd_url = format!("postgres://postgres:{DB_PW}?a=b@127.0.0.1:{pg_port}/postgres");
        let kv_url = format!("host=127.0.0.1 port={pg_port} password='{KV_PW} x=?y' user=postgres");
        let user_host = format!("http://canaryuser:{HOST_PW}@127.0.0.1:{port}");
        let short_jwt = format!("{JWT}xx");
        let env_logins = format!("a@b.be:se,{ENV_PW} c@d.be");
        let cases: Vec<Case> = vec![
            // Credentials in the URL would replace the login token: refused, redacted.
            (
                "load --host user:pw@",
                vec!["load", "--host", &user_host, "--logins-file", "logins.txt"],
                vec![],
            ),
            (
                "audit --url user:pw@",
                vec!["audit", "--url", &user_host],
                vec![],
            ),
            (
                "serve --jwt-secret",
                vec!["serve", "--jwt-secret", &short_jwt],
                vec![],
            ),
            (
                "KOPROGO_PERF_JWT_SECRET",
                vec!["serve"],
                vec![("KOPROGO_PERF_JWT_SECRET", &short_jwt)],
            ),
            (
                "seed --database-url",
                vec!["seed", "--database-url", &db_url],
                vec![],
            ),
            (
                "seed ?= in the password",
                vec!["seed", "--database-url", &odd_url],
                vec![],
            ),
            (
                "seed key=value",
                vec!["seed", "--database-url", &kv_url],
                vec![],
            ),
            (
                "tune-db",
                vec!["tune-db", "--dry-run"],
                vec![("DATABASE_URL", &db_url)],
            ),
            (
                "serve --database-url",
                vec!["serve", "--bind", "127.0.0.1:0", "--database-url", &db_url],
                vec![],
            ),
            (
                "load --database-url",
                vec!["load", "--database-url", &kv_url, "--duration", "1s"],
                vec![],
            ),
            (
                "audit --database-url",
                vec!["audit", "--url", &host, "--database-url", &odd_url],
                vec![],
            ),
            (
                "KOPROGO_PERF_LOGINS",
                vec!["load", "--host", &host],
                vec![("KOPROGO_PERF_LOGINS", &env_logins)],
            ),
            (
                "load --login refused",
                vec![
                    "load",
                    "--host",
                    &host,
                    "--login",
                    "x@y.be:cAnArY3loginpw",
                    "--duration",
                    "1s",
                ],
                vec![],
            ),
        ];
        cases
            .into_iter()
            .map(|(what, args, env)| (what, run(dir, &args, &env)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (what, out) in &failures {
        assert!(!out.status.success(), "{what}: {out:?}");
        assert_clean(what, out, &dir);
    }

    // The cluster's own password (random, so a canary too) on the paths that work:
    // pg_stat_statements in a run, the audit's database checks, tune-db's rollback file.
    let url = stack.db.url().to_string();
    let password = reqwest::Url::parse(&url)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    let d = dir.clone();
    let works = tokio::task::spawn_blocking(move || {
        let dir = d.as_path();
        let host = format!("http://127.0.0.1:{port}");
        let cases: Vec<Case> = vec![
            (
                "load --database-url",
                vec![
                    "load",
                    "--host",
                    &host,
                    "--logins-file",
                    "logins.txt",
                    "--database-url",
                    &url,
                    "--vus",
                    "2",
                    "--ramp-up",
                    "0s",
                    "--duration",
                    "1s",
                    "--quiet",
                    "--out",
                    "run2",
                ],
                vec![],
            ),
            (
                "audit --database-url",
                vec![
                    "audit",
                    "--url",
                    &host,
                    "--burst",
                    "2",
                    "--burst-duration",
                    "1s",
                    "--timeout",
                    "20s",
                    "--out",
                    "audit2.json",
                ],
                vec![("DATABASE_URL", &url)],
            ),
            (
                "tune-db --apply",
                vec!["tune-db", "--apply"],
                vec![("DATABASE_URL", &url)],
            ),
            ("seed", vec!["seed"], vec![("DATABASE_URL", &url)]),
        ];
        cases
            .into_iter()
            .map(|(what, args, env)| (what, run(dir, &args, &env)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (what, out) in &works {
        assert_free_of(what, out, &dir, &[&password]);
    }
    let run2 = std::fs::read_to_string(dir.join("run2/run.json")).unwrap();
    assert!(
        run2.contains("\"measured\": true"),
        "pg_stat_statements measured"
    );
    assert!(dir.join("audit2.json").is_file());
    let rollback = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .find(|n| n.starts_with("tune-"));
    assert!(rollback.is_some(), "tune-db --apply wrote a rollback file");
    stack.stop().await;
}

/// Paths that would leave the host: each is a scenario error naming the file, the line
/// and the request (exit 2), and a second listener, where they point, receives nothing.
#[test]
fn a_scenario_cannot_send_the_token_to_another_host() {
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let port = other.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let paths = [
        format!("//127.0.0.1:{port}/steal"),
        format!("http://127.0.0.1:{port}/steal"),
        format!("/\\\\127.0.0.1:{port}/steal"),
        format!("\\\\127.0.0.1:{port}/steal"),
        format!("/\\t/127.0.0.1:{port}/steal"),
        "api/v1/buildings".to_string(),
    ];
    for (i, path) in paths.iter().enumerate() {
        let file = dir.path().join(format!("s{i}.toml"));
        std::fs::write(
            &file,
            format!(
                "name = \"steal\"\n\n[[request]]\nname = \"steal\"\nmethod = \"GET\"\npath = \"{path}\"\nweight = 1\n"
            ),
        )
        .unwrap();
        let out = common::bin()
            .args([
                "load",
                "--host",
                "http://127.0.0.1:9",
                "--login",
                "a@b.be:pw",
            ])
            .args(["--duration", "1s", "--scenario", file.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "error: {}:6: request `steal`: path",
                file.display()
            )),
            "{path}: {err}"
        );
    }
    assert!(
        other.accept().is_err(),
        "the other host received a connection"
    );
}

/// Defence in depth: whatever a placeholder fills in (an id a hostile server sent), the
/// URL joined to the host keeps the host's origin or is not sent.
#[test]
fn joined_urls_never_leave_the_hosts_origin() {
    use koprogo_perf::load::join_same_origin;
    let base = reqwest::Url::parse("http://127.0.0.1:8080/").unwrap();
    for evil in [
        "//127.0.0.1:47999/steal",
        "/\\127.0.0.1:47999/steal",
        "http://127.0.0.1:47999/",
        "https://127.0.0.1:8080/",
        "/\t/evil.example/x",
    ] {
        assert_eq!(join_same_origin(&base, evil), None, "{evil:?}");
    }
    assert_eq!(
        join_same_origin(&base, "/api/v1/buildings?x=//y").map(|u| u.to_string()),
        Some("http://127.0.0.1:8080/api/v1/buildings?x=//y".to_string())
    );
}
