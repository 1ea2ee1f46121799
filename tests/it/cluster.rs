//! The embedded cluster: starts with pg_stat_statements preloaded, and is stopped and
//! removed when its owner ends — normally, on error, and on Ctrl-C.

use koprogo_perf::pg::Cluster;

use crate::common;

#[tokio::test]
async fn cluster_starts_with_pg_stat_statements_and_is_removed_on_drop() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(&Default::default()))
        .await
        .unwrap()
        .expect("the embedded cluster starts");
    let dir = cluster.dir().to_path_buf();
    let pid = cluster.postmaster_pid().expect("a postmaster pid");
    let pool = koprogo_perf::pg::connect(&cluster.url(), 1).await.unwrap();
    let libs: String = sqlx::query_scalar("SHOW shared_preload_libraries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(libs.contains("pg_stat_statements"), "{libs}");
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(listen, "127.0.0.1");
    pool.close().await;
    assert!(dir.join("data/PG_VERSION").is_file());

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(
        !koprogo_perf::pg::embedded::process_alive(pid),
        "postmaster {pid} still runs"
    );
}

#[test]
fn a_command_that_fails_after_starting_the_cluster_leaves_nothing() {
    // A server binary that does not exist: the cluster is up and seeded when `load`
    // tries to start it. (`serve --bind` on a port in use now fails before the cluster
    // starts: cli::serve_on_a_port_in_use_fails_before_the_cluster_starts.)
    let tmp = common::private_tmp();
    let run = tempfile::tempdir().unwrap();
    let out = common::bin()
        .args([
            "load",
            "--server-bin",
            "/nonexistent/koprogo-perf",
            "--duration",
            "1s",
        ])
        .arg("--out")
        .arg(run.path().join("run"))
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("embedded PostgreSQL"),
        "the cluster did start: {stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: starting the reference server /nonexistent/koprogo-perf"),
        "{stderr}"
    );
    assert!(
        common::leftovers(tmp.path()).is_empty(),
        "left: {:?}",
        common::leftovers(tmp.path())
    );
    assert!(common::processes_mentioning(&tmp.path().display().to_string()).is_empty());
}

#[test]
fn ctrl_c_stops_serve_and_removes_its_cluster() {
    let tmp = common::private_tmp();
    let (mut child, url) = common::spawn_serve(tmp.path());
    let health = reqwest::blocking_get(&format!("{url}/api/v1/health"));
    assert_eq!(health, 200, "{url}/api/v1/health");
    assert!(!common::processes_mentioning(&tmp.path().display().to_string()).is_empty());

    common::signal(&child, nix::sys::signal::Signal::SIGINT);
    let status = common::wait_with_guard(&mut child);
    assert!(status.success(), "{status}");
    assert!(
        common::leftovers(tmp.path()).is_empty(),
        "left: {:?}",
        common::leftovers(tmp.path())
    );
    assert!(common::processes_mentioning(&tmp.path().display().to_string()).is_empty());
}

mod reqwest {
    /// Status of a GET, from a plain thread (the test is not async).
    pub fn blocking_get(url: &str) -> u16 {
        let url = url.to_string();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                ::reqwest::get(&url)
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .join()
        .unwrap()
    }
}

#[test]
fn a_cluster_left_by_a_killed_process_is_swept_by_the_next_start() {
    let tmp = common::private_tmp();
    let (mut serve, _) = common::spawn_serve(tmp.path());
    // SIGKILL: no handler runs, the cluster stays behind.
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert_eq!(common::leftovers(tmp.path()).len(), 1);
    assert!(!common::processes_mentioning(&tmp.path().display().to_string()).is_empty());

    let out = common::bin()
        .args(["seed"])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("removed an embedded cluster left by a killed koprogo-perf"),
        "{stderr}"
    );
    assert!(
        common::leftovers(tmp.path()).is_empty(),
        "left: {:?}",
        common::leftovers(tmp.path())
    );
    assert!(common::processes_mentioning(&tmp.path().display().to_string()).is_empty());
}

/// Runs `args` as the unprivileged `nobody` (a second local user), returning whether it
/// succeeded and what it printed.
fn as_nobody(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGPASSWORD")
        .current_dir("/")
        .output()
        .expect("runuser runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every path under `dir` (not following links).
fn all_paths(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(next) = todo.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                todo.push(path.clone());
            }
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn another_local_user_can_neither_connect_to_nor_read_the_cluster() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (to act as `nobody`, as the tool runs on shared machines)"
    );
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(&Default::default()))
        .await
        .unwrap()
        .expect("the embedded cluster starts");
    let dir = cluster.dir().to_path_buf();
    let port = cluster.port().to_string();
    let psql = koprogo_perf::pg::embedded::find_bindir()
        .unwrap()
        .join("psql")
        .display()
        .to_string();
    let password = cluster
        .url()
        .split_once("postgres:")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(p, _)| p.to_string())
        .unwrap();

    // The directory and everything in it belong to the cluster's user, 0700/0600.
    use std::os::unix::fs::MetadataExt;
    let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "{}", dir.display());
    assert_eq!(meta.uid(), postgres.uid.as_raw());
    assert!(!dir.join("pwfile").exists(), "the password file is left");
    let paths = all_paths(&dir);
    for path in &paths {
        if std::fs::symlink_metadata(path).unwrap().is_file()
            && let Ok(bytes) = std::fs::read(path)
        {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&password),
                "{} holds the password",
                path.display()
            );
        }
    }

    // The socket: neither the directory, nor the socket path, nor psql through it.
    let dir_s = dir.display().to_string();
    for args in [
        vec!["ls", dir_s.as_str()],
        vec!["cat", &format!("{dir_s}/data/postgresql.conf")],
        vec!["cat", &format!("{dir_s}/data/pg_hba.conf")],
        vec!["cat", &format!("{dir_s}/postgres.log")],
        vec![
            &psql, "-h", &dir_s, "-p", &port, "-U", "postgres", "postgres", "-w", "-c", "SELECT 1",
        ],
        vec![
            &psql, "-h", &dir_s, "-p", &port, "-U", "nobody", "postgres", "-w", "-c", "SELECT 1",
        ],
    ] {
        let (ok, text) = as_nobody(&args);
        assert!(!ok, "nobody ran {args:?}: {text}");
    }
    // No file of the cluster is readable by nobody (one shell for all of them).
    let mut script = vec![
        "sh",
        "-c",
        r#"for f in "$@"; do [ -r "$f" ] && echo "readable: $f"; done; true"#,
        "sh",
    ];
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    script.extend(names.iter().map(String::as_str));
    let (_, text) = as_nobody(&script);
    assert!(!text.contains("readable:"), "{text}");

    // TCP, knowing host and port: no password, a wrong one, another role.
    for (user, pass) in [("postgres", ""), ("postgres", "wrong"), ("nobody", "")] {
        let conninfo = format!(
            "host=127.0.0.1 port={port} user={user} dbname=postgres password={}",
            if pass.is_empty() { "''" } else { pass }
        );
        let (ok, text) = as_nobody(&[&psql, "-w", &conninfo, "-c", "SELECT 1"]);
        assert!(!ok, "nobody connected over TCP as {user}: {text}");
        assert!(
            text.contains("authentication failed")
                || text.contains("no password supplied")
                || text.contains("no pg_hba.conf entry")
                || text.contains("rejects connection"),
            "refused for another reason than authentication: {text}"
        );
    }

    // The tool itself still gets in: TCP with the password, and the --keep-db command.
    let pool = koprogo_perf::pg::connect(&cluster.url(), 1).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
    // Behind the directory's permissions, the rules the server runs with admit the
    // socket only to `postgres` by peer (mapped OS users) and TCP only from 127.0.0.1
    // with scram; everything else falls to `reject`.
    type Rule = (String, Vec<String>, Option<String>, String);
    let rules: Vec<Rule> = sqlx::query_as(
        "SELECT type, user_name, address, auth_method FROM pg_hba_file_rules \
         WHERE error IS NULL ORDER BY line_number",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let accepting: Vec<&Rule> = rules.iter().filter(|r| r.3 != "reject").collect();
    assert_eq!(accepting.len(), 2, "{rules:?}");
    assert_eq!(
        (
            accepting[0].0.as_str(),
            accepting[0].1.clone(),
            accepting[0].3.as_str()
        ),
        ("local", vec!["postgres".to_string()], "peer"),
        "{rules:?}"
    );
    assert_eq!(
        (
            accepting[1].0.as_str(),
            accepting[1].2.as_deref(),
            accepting[1].3.as_str()
        ),
        ("host", Some("127.0.0.1"), "scram-sha-256"),
        "{rules:?}"
    );
    let mapped: Vec<String> = sqlx::query_scalar(
        "SELECT sys_name FROM pg_ident_file_mappings WHERE error IS NULL ORDER BY sys_name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(mapped, ["postgres", "root"]);
    pool.close().await;
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} -w -A -t -c 'SELECT 42'",
            cluster.psql_command()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "42",
        "{}: {}",
        cluster.psql_command(),
        String::from_utf8_lossy(&out.stderr)
    );

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    assert!(!dir.exists());
}
