//! `tune-db` against real clusters, each test its own (ALTER SYSTEM is cluster-wide),
//! started without pg_stat_statements so that applying must add it and restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use koprogo_perf::pg::embedded::find_bindir;
use koprogo_perf::pg::{Cluster, connect};
use sqlx::PgPool;

use crate::common;

/// The guide's values, as `SHOW` prints them.
const GUIDE: &[(&str, &str)] = &[
    ("shared_buffers", "256MB"),
    ("effective_cache_size", "768MB"),
    ("maintenance_work_mem", "64MB"),
    ("checkpoint_completion_target", "0.9"),
    ("wal_buffers", "16MB"),
    ("default_statistics_target", "100"),
    ("random_page_cost", "1.1"),
    ("effective_io_concurrency", "200"),
    ("work_mem", "4MB"),
    ("min_wal_size", "1GB"),
    ("max_wal_size", "4GB"),
    ("max_worker_processes", "2"),
    ("max_parallel_workers_per_gather", "1"),
    ("max_parallel_workers", "2"),
];

struct Fixture {
    cluster: Cluster,
    pool: PgPool,
    /// Working directory of the command (its reports/ lands here).
    cwd: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let cluster = crate::common::stock_cluster().await;
        let pool = connect(&cluster.url(), 2).await.unwrap();
        koprogo_perf::seed::seed(&pool, &Default::default())
            .await
            .unwrap();
        Fixture {
            cluster,
            pool,
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    fn restart_cmd(&self) -> String {
        let pg_ctl = find_bindir().unwrap().join("pg_ctl");
        format!(
            "runuser -u postgres -- {} -D {} -w -t 60 restart >/dev/null",
            pg_ctl.display(),
            self.cluster.data_dir().display()
        )
    }

    fn tune(&self, args: &[&str]) -> Output {
        common::bin()
            .arg("tune-db")
            .args(["--database-url", &self.cluster.url()])
            .args(args)
            .current_dir(self.cwd.path())
            .output()
            .unwrap()
    }

    /// pg_settings.setting of the guide's names and shared_preload_libraries.
    async fn settings(&self) -> BTreeMap<String, String> {
        let pool = connect(&self.cluster.url(), 1).await.unwrap();
        let names: Vec<String> = GUIDE
            .iter()
            .map(|(n, _)| n.to_string())
            .chain(["shared_preload_libraries".to_string()])
            .collect();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, setting FROM pg_settings WHERE name = ANY($1)")
                .bind(&names)
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        rows.into_iter().collect()
    }

    async fn show(&self, name: &str) -> String {
        let pool = connect(&self.cluster.url(), 1).await.unwrap();
        let v: String = sqlx::query_scalar(&format!("SHOW {name}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        v
    }

    async fn index_count(&self) -> i64 {
        let pool = connect(&self.cluster.url(), 1).await.unwrap();
        let n = sqlx::query_scalar("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }

    fn rollback_file(&self) -> PathBuf {
        let dir = self.cwd.path().join("reports");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files.pop().expect("a rollback file")
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_apply_again_and_rollback_round_trip() {
    let f = Fixture::new().await;
    let original = f.settings().await;
    let indexes_before = f.index_count().await;

    // Dry run: a table, and nothing changes.
    let out = f.tune(&["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let dry = text(&out);
    assert!(
        dry.contains("shared_buffers") && dry.contains("restart"),
        "{dry}"
    );
    assert!(dry.contains("idx_expenses_building_status"), "{dry}");
    assert_eq!(f.settings().await, original);
    assert_eq!(f.index_count().await, indexes_before);
    assert!(
        !f.cwd.path().join("reports").exists(),
        "a dry run writes no rollback file"
    );

    // Apply, restarting through --restart-cmd: every setting reads back as the guide says.
    let out = f.tune(&["--apply", "--restart-cmd", &f.restart_cmd()]);
    assert!(out.status.success(), "{}", text(&out));
    for (name, value) in GUIDE {
        assert_eq!(f.show(name).await, *value, "{name}");
    }
    assert!(
        f.show("shared_preload_libraries")
            .await
            .contains("pg_stat_statements")
    );
    let valid: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname IN ('idx_expenses_building_status', 'idx_unit_owners_unit_active')",
    )
    .fetch_all(&connect(&f.cluster.url(), 1).await.unwrap())
    .await
    .unwrap();
    assert_eq!(valid.len(), 2);
    assert!(valid.iter().all(|(_, v)| *v));
    let pool = connect(&f.cluster.url(), 1).await.unwrap();
    let def: String =
        sqlx::query_scalar("SELECT pg_get_indexdef('idx_unit_owners_unit_active'::regclass)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(def.contains("WHERE (end_date IS NULL)"), "{def}");
    let unindexed = koprogo_perf::tune::indexes::unindexed_foreign_keys(&pool)
        .await
        .unwrap();
    assert!(
        unindexed.is_empty(),
        "every foreign key is indexed: {unindexed:?}"
    );
    let ext: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(ext, 1);
    pool.close().await;
    let indexes_after = f.index_count().await;
    assert!(indexes_after > indexes_before);
    let rollback = f.rollback_file();

    // A second apply changes nothing.
    let out = f.tune(&["--apply", "--restart-cmd", &f.restart_cmd()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));
    assert_eq!(f.index_count().await, indexes_after);
    assert_eq!(
        f.rollback_file(),
        rollback,
        "a no-op writes no new rollback file"
    );

    // Rollback restores exactly the saved values and drops the indexes.
    let out = f.tune(&[
        "--rollback",
        rollback.to_str().unwrap(),
        "--restart-cmd",
        &f.restart_cmd(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(f.settings().await, original);
    assert_eq!(f.index_count().await, indexes_before);
    drop(f.pool);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_profile_changes_nothing() {
    let f = Fixture::new().await;
    let original = f.settings().await;
    let profile = f.cwd.path().join("bad.toml");
    std::fs::write(
        &profile,
        "[settings]\nwork_mem = \"4MB\"\nshared_buffers = \"lots\"\n",
    )
    .unwrap();
    let out = f.tune(&["--apply", "--profile", profile.to_str().unwrap()]);
    // Invalid input, as a bad flag: exit 2.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:3") && err.contains("shared_buffers"),
        "{err}"
    );
    assert_eq!(f.settings().await, original);
    assert!(!f.cwd.path().join("reports").exists());
    drop(f.pool);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_condition_that_closes_the_where_to_append_sql_is_a_profile_error() {
    let f = Fixture::new().await;
    let original = f.settings().await;
    let indexes = f.index_count().await;
    let bad_setting = f.cwd.path().join("bad-setting.toml");
    std::fs::write(&bad_setting, "[settings]\nshared_buffers = \"lots\"\n").unwrap();
    let setting_code = f
        .tune(&["--apply", "--profile", bad_setting.to_str().unwrap()])
        .status
        .code();
    for hostile in [
        "end_date IS NULL) OR (true",
        "is_active) ; DROP TABLE units; --",
    ] {
        let profile = f.cwd.path().join("hostile.toml");
        std::fs::write(
            &profile,
            format!(
                "[settings]\nwork_mem = \"8MB\"\n\n[[index]]\nname = \"idx_hostile\"\n\
                 table = \"unit_owners\"\ncolumns = \"unit_id\"\nwhere = {hostile:?}\n"
            ),
        )
        .unwrap();
        let out = f.tune(&["--apply", "--profile", profile.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        // Refused as any other profile error is, naming the file, the line and the index.
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert_eq!(out.status.code(), setting_code, "{err}");
        assert!(
            err.contains("hostile.toml:8") && err.contains("idx_hostile") && err.contains("where"),
            "{err}"
        );
        assert_eq!(f.settings().await, original);
        assert_eq!(f.index_count().await, indexes);
        assert!(!f.cwd.path().join("reports").exists());
    }
    drop(f.pool);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_leftover_index_is_rebuilt() {
    let f = Fixture::new().await;
    // A unique concurrent build over duplicate keys fails and leaves an INVALID index.
    let broken = sqlx::raw_sql(
        "CREATE UNIQUE INDEX CONCURRENTLY idx_expenses_building_status ON expenses (building_id, approval_status)",
    )
    .execute(&f.pool)
    .await;
    assert!(broken.is_err());
    let valid: bool = sqlx::query_scalar(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'idx_expenses_building_status'",
    )
    .fetch_one(&f.pool)
    .await
    .unwrap();
    assert!(!valid);
    // Without --restart-cmd on an external server: applied, and the restart is left to
    // the operator, plainly.
    let out = f.tune(&["--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("index idx_expenses_building_status: Rebuilt"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("take effect after a restart of PostgreSQL"),
        "{}",
        text(&out)
    );
    assert_eq!(
        f.show("work_mem").await,
        "4MB",
        "reload settings apply at once"
    );
    assert_ne!(
        f.show("shared_buffers").await,
        "256MB",
        "restart settings wait"
    );
    let pool = connect(&f.cluster.url(), 1).await.unwrap();
    let (valid, unique): (bool, bool) = sqlx::query_as(
        "SELECT i.indisvalid, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'idx_expenses_building_status'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(valid && !unique);
    let invalid: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(invalid, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_superuser_is_refused_before_any_change() {
    let f = Fixture::new().await;
    sqlx::raw_sql("CREATE ROLE app LOGIN PASSWORD 'app-password-123'")
        .execute(&f.pool)
        .await
        .unwrap();
    let original = f.settings().await;
    let url = format!(
        "postgres://app:app-password-123@127.0.0.1:{}/postgres",
        f.cluster.port()
    );
    let out = common::bin()
        .args(["tune-db", "--apply", "--database-url", &url])
        .current_dir(f.cwd.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("role `app` is not a superuser"), "{err}");
    assert!(!err.contains("app-password-123"), "{err}");
    assert_eq!(f.settings().await, original);
    assert!(!Path::new(&f.cwd.path().join("reports")).exists());
}
