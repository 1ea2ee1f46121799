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
