//! `experiment --host`: the database's arms on a running stack (the reference server on
//! its own seeded cluster, started by the test), each applied before its run and rolled
//! back after it, so that the database ends as it began; refusals before any run.

use std::path::Path;

use koprogo_perf::seed::{SeedOptions, seed};
use koprogo_perf::server::ServerArgs;
use serde_json::Value;
use sqlx::PgPool;

use crate::common;

/// Reloadable settings and two of the guide's indexes: no restart needed.
const PROFILE: &str = r#"
description = "test: reloadable settings and two indexes"
[settings]
work_mem = "8MB"
random_page_cost = 1.1
[[index]]
name = "idx_expenses_building_status"
table = "expenses"
columns = "building_id, approval_status"
[[index]]
name = "idx_buildings_organization_id_name"
table = "buildings"
columns = "organization_id, name"
"#;

async fn database_state(pool: &PgPool) -> (Vec<String>, String, String, i64) {
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let work_mem: String = sqlx::query_scalar("SHOW work_mem")
        .fetch_one(pool)
        .await
        .unwrap();
    let rpc: String = sqlx::query_scalar("SHOW random_page_cost")
        .fetch_one(pool)
        .await
        .unwrap();
    let expenses: i64 = sqlx::query_scalar("SELECT count(*) FROM expenses")
        .fetch_one(pool)
        .await
        .unwrap();
    (indexes, work_mem, rpc, expenses)
}

/// `experiment --host` with two logins, `profile`, one short round and `extra`, run off
/// the test's runtime (the server under test shares it).
async fn experiment(
    base: &str,
    url: &str,
    profile: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = common::bin();
    cmd.args(["experiment", "--host", base, "--database-url", url])
        .args([
            "--login",
            "syndic@grandplace.be:syndic123",
            "--login",
            "syndic@meir.be:syndic123",
        ])
        .args([
            "--profile",
            &profile.display().to_string(),
            "--out",
            &out.display().to_string(),
        ])
        .args([
            "--repeat",
            "1",
            "--vus",
            "2",
            "--duration",
            "2s",
            "--ramp-up",
            "1s",
        ])
        .args(extra);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_arm_is_applied_for_its_run_and_the_database_ends_as_it_began() {
    let (db, pool) = common::migrated_db().await;
    seed(&pool, &SeedOptions::default()).await.unwrap();
    let server = common::server(db.url(), ServerArgs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let before = database_state(&pool).await;
    assert!(
        !before
            .0
            .contains(&"idx_expenses_building_status".to_string())
    );

    let run = experiment(
        &server.base,
        db.url(),
        &profile,
        &dir.path().join("x"),
        &[
            "--arms",
            "baseline,pg_settings,indexes",
            "--scenario",
            "buildings-list",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(!stderr.contains("syndic123"), "{stderr}");
    // Each run's line says what the arm changes on the target, not the reference
    // server's switches.
    assert!(stderr.contains("the target as it runs"), "{stderr}");
    assert!(!stderr.contains("every switch"), "{stderr}");

    let x: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("x/experiment.json")).unwrap(),
    )
    .unwrap();
    let arms: Vec<&str> = x["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(arms, ["baseline", "pg_settings", "indexes"]);
    assert_eq!(x["target"].as_str(), Some(server.base.as_str()));
    assert!(
        x["method"].as_str().unwrap().contains("rolled back"),
        "{}",
        x["method"]
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("(its own data)"));
    // pg_stat_statements was read on the target's database, and the indexes arm lists the
    // buildings query whether or not the index changed its time 2×: "nothing changed"
    // is told from "not measured", with the times it is read from.
    assert!(x.get("pgss_note").is_none(), "{}", x["pgss_note"]);
    let indexes = &x["arms"][2];
    let buildings = indexes["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["query"].as_str().unwrap().contains("FROM buildings"))
        .unwrap_or_else(|| panic!("no buildings statement: {}", indexes["statements"]));
    assert!(buildings["mean_ms"].as_f64().unwrap() > 0.0, "{buildings}");
    assert!(
        buildings["baseline_mean_ms"].as_f64().unwrap() > 0.0,
        "{buildings}"
    );
    assert!(stdout.contains("Statements against baseline"), "{stdout}");
    assert!(!stdout.contains("was not measured"), "{stdout}");
    for arm in x["arms"].as_array().unwrap() {
        assert!(arm["rps"].as_f64().unwrap() > 0.0, "{arm}");
        // Nothing of the reference server's switches is claimed of the target's server.
        assert_eq!(arm["switches"], "the target's own (not toggled)", "{arm}");
        assert!(
            !arm["description"].as_str().unwrap().contains("switch"),
            "{arm}"
        );
    }
    // The indexes run had its indexes, and its rollback file says it was rolled back.
    let mut rolled_back = 0;
    for entry in std::fs::read_dir(dir.path().join("x/runs")).unwrap() {
        let run_dir = entry.unwrap().path();
        for file in std::fs::read_dir(&run_dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("tune-") && name.ends_with(".json") {
                let f: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                assert!(f["rolled_back_at"].is_string(), "{}", path.display());
                if run_dir.to_string_lossy().ends_with("indexes") {
                    let built: Vec<&str> = f["indexes_created"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                        .collect();
                    assert!(built.contains(&"idx_expenses_building_status"), "{built:?}");
                }
                rolled_back += 1;
            }
        }
    }
    assert_eq!(rolled_back, 2, "one rollback file for each tuned run");
    assert_eq!(database_state(&pool).await, before);

    // A writing scenario: refused by default, its rows deleted after each run with --writes delete.
    let refused = experiment(
        &server.base,
        db.url(),
        &profile,
        &dir.path().join("w"),
        &["--arms", "baseline,indexes"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("writes") && stderr.contains("--writes delete"),
        "{stderr}"
    );
    assert!(!dir.path().join("w/experiment.json").exists());

    let deleted = experiment(
        &server.base,
        db.url(),
        &profile,
        &dir.path().join("d"),
        &["--arms", "baseline,indexes", "--writes", "delete"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&deleted.stderr);
    assert!(deleted.status.success(), "{stderr}");
    assert!(stderr.contains("deleted the"), "{stderr}");
    assert_eq!(database_state(&pool).await, before);

    server.stop().await;
    pool.close().await;
    db.close().await;
}

#[tokio::test]
async fn arms_a_running_koprogo_cannot_have_and_restart_settings_without_a_command_are_refused() {
    let (db, pool) = common::migrated_db().await;
    seed(&pool, &SeedOptions::default()).await.unwrap();
    let server = common::server(db.url(), ServerArgs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let before = database_state(&pool).await;

    let gzip = experiment(
        &server.base,
        db.url(),
        &profile,
        &dir.path().join("g"),
        &["--arms", "baseline,gzip", "--scenario", "buildings-list"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&gzip.stderr);
    assert_eq!(gzip.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`gzip`"), "{stderr}");

    // The guide's profile sets shared_buffers, which needs a restart.
    let (base, url, out) = (
        server.base.clone(),
        db.url().to_string(),
        dir.path().join("r"),
    );
    let restart = tokio::task::spawn_blocking(move || {
        common::bin()
            .args([
                "experiment",
                "--host",
                &base,
                "--database-url",
                &url,
                "--out",
                &out.display().to_string(),
            ])
            .args([
                "--login",
                "syndic@grandplace.be:syndic123",
                "--arms",
                "baseline,pg_settings",
            ])
            .args([
                "--scenario",
                "buildings-list",
                "--repeat",
                "1",
                "--duration",
                "2s",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&restart.stderr);
    assert_eq!(restart.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("shared_buffers") && stderr.contains("--restart-cmd"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(db.url()),
        "the database's password is never printed: {stderr}"
    );
    assert_eq!(database_state(&pool).await, before);

    server.stop().await;
    pool.close().await;
    db.close().await;
}
