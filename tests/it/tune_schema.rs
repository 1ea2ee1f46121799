//! `tune-db` on a schema that is not the reference one, as on any real database: indexes
//! that duplicate others, a partial index on a foreign key, an unindexed foreign key, and
//! a profile with an index that cannot exist and one whose build fails.

use std::path::PathBuf;
use std::process::Output;

use koprogo_perf::pg::connect;
use koprogo_perf::tune::RollbackFile;
use sqlx::PgPool;

use crate::common;

const SCHEMA: &str = "
CREATE TABLE parents (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE kids (
    id int PRIMARY KEY,
    parent_id int NOT NULL REFERENCES parents (id),
    other_id int REFERENCES parents (id),
    note text,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kids_parent_a ON kids (parent_id);
CREATE INDEX kids_parent_b ON kids (parent_id);
CREATE INDEX kids_parent_note ON kids (parent_id, note);
-- Partial: it does not serve the foreign key (ON DELETE looks for every row), and it
-- has the name --fk-indexes would give the key's index.
CREATE INDEX idx_kids_other_id ON kids (other_id) WHERE active;
CREATE TABLE toys (id int PRIMARY KEY, kid_id int REFERENCES kids (id), name text);
-- Partial, but on the key's own NOT NULL: every lookup of the key implies it.
CREATE TABLE gifts (id int PRIMARY KEY, kid_id int REFERENCES kids (id));
CREATE INDEX gifts_kid ON gifts (kid_id) WHERE kid_id IS NOT NULL;
INSERT INTO parents SELECT g, 'p' || g FROM generate_series(1, 50) g;
INSERT INTO kids (id, parent_id, other_id, note)
    SELECT g, 1 + g % 50, 1 + g % 7, 'n' || g FROM generate_series(1, 500) g;
INSERT INTO toys SELECT g, 1 + g % 500, 't' || g FROM generate_series(1, 1000) g;
";

/// Line 12 names a column `kids` does not have; line 23's condition uses `now()`, which
/// PostgreSQL plans but refuses in an index (not IMMUTABLE); the last one is served by
/// `idx_kids_other_id` (`active = true` and `active` are one condition).
const PROFILE: &str = r#"[settings]
work_mem = "8MB"

[[index]]
name = "idx_kids_parent"
table = "kids"
columns = "parent_id"

[[index]]
name = "idx_kids_colour"
table = "kids"
columns = "colour"

[[index]]
name = "idx_toys_name"
table = "toys"
columns = "name"

[[index]]
name = "idx_kids_recent"
table = "kids"
columns = "created_at"
where = "created_at > now()"

[[index]]
name = "idx_kids_active"
table = "kids"
columns = "other_id"
where = "active = true"
"#;

struct Fixture {
    cluster: koprogo_perf::pg::embedded::Cluster,
    pool: PgPool,
    cwd: tempfile::TempDir,
    profile: PathBuf,
}

impl Fixture {
    async fn new() -> Fixture {
        let cluster = common::stock_cluster().await;
        let pool = connect(&cluster.url(), 2).await.unwrap();
        sqlx::raw_sql(SCHEMA).execute(&pool).await.unwrap();
        let cwd = tempfile::tempdir().unwrap();
        let profile = cwd.path().join("schema.toml");
        std::fs::write(&profile, PROFILE).unwrap();
        Fixture {
            cluster,
            pool,
            cwd,
            profile,
        }
    }

    fn tune(&self, args: &[&str]) -> Output {
        common::bin()
            .arg("tune-db")
            .args(["--database-url", &self.cluster.url()])
            .args(["--profile", self.profile.to_str().unwrap()])
            .args(args)
            .current_dir(self.cwd.path())
            .output()
            .unwrap()
    }

    async fn work_mem(&self) -> String {
        // A new session: the pool's may predate a reload.
        let pool = connect(&self.cluster.url(), 1).await.unwrap();
        let v = sqlx::query_scalar("SHOW work_mem")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        v
    }

    async fn indexes(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    fn rollback_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.cwd.path().join("reports"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn all(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_schema_plan_skip_partial_failure_converge_and_roll_back() {
    let f = Fixture::new().await;
    let original_indexes = f.indexes().await;
    let original_work_mem = f.work_mem().await;
    assert_ne!(original_work_mem, "8MB");

    // The dry run refuses the impossible index, naming the line and the column, and
    // shows what the database already has.
    let out = f.tune(&["--dry-run", "--explain"]);
    assert!(!out.status.success(), "{}", all(&out));
    let err = stderr(&out);
    assert!(
        err.contains("schema.toml:12") && err.contains("no column `colour`"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    let plan = stdout(&out);
    assert!(plan.contains("served by kids_parent_a"), "{plan}");
    assert!(plan.contains("served by idx_kids_other_id"), "{plan}");
    assert!(
        plan.contains("kids_parent_b on kids (") && plan.contains("duplicate of kids_parent_a"),
        "{plan}"
    );
    assert!(plan.contains("prefix of kids_parent_note"), "{plan}");
    // The partial index does not cover kids.other_id; nothing covers toys.kid_id.
    assert!(
        plan.contains("kids (other_id) — kids_other_id_fkey"),
        "{plan}"
    );
    assert!(plan.contains("toys (kid_id) — toys_kid_id_fkey"), "{plan}");
    assert!(!plan.contains("gifts_kid_id_fkey"), "{plan}");

    // --apply without --skip-invalid: the same refusal, and nothing applied, settings
    // included.
    let out = f.tune(&["--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert!(stderr(&out).contains("schema.toml:12"), "{}", all(&out));
    assert_eq!(f.work_mem().await, original_work_mem);
    assert_eq!(f.indexes().await, original_indexes);
    assert!(f.rollback_files().is_empty());

    // The dry run with --skip-invalid explains the guide's queries: this schema has none
    // of their tables, and each says so instead of vanishing.
    let out = f.tune(&["--dry-run", "--skip-invalid", "--explain", "--fk-indexes"]);
    assert!(out.status.success(), "{}", all(&out));
    let dry = stdout(&out);
    assert!(
        dry.contains("skipped: table `kids` has no column `colour`"),
        "{dry}"
    );
    assert!(
        dry.contains("ERROR: relation \"expenses\" does not exist")
            && dry.contains("ERROR: relation \"unit_owners\" does not exist"),
        "{dry}"
    );
    assert!(dry.contains("idx_kids_other_id_fk "), "{dry}");
    assert!(dry.contains("idx_toys_kid_id"), "{dry}");

    // Apply with one failing index: the others are built, exit 1 names it.
    let out = f.tune(&["--apply", "--skip-invalid", "--fk-indexes"]);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    let err = stderr(&out);
    assert!(
        err.contains("index idx_kids_recent: FAILED") && err.contains("IMMUTABLE"),
        "{err}"
    );
    assert!(err.contains("1 of 4 indexes failed"), "{err}");
    assert_eq!(f.work_mem().await, "8MB");
    let built: Vec<String> = f
        .indexes()
        .await
        .into_iter()
        .filter(|i| !original_indexes.contains(i))
        .collect();
    assert_eq!(
        built,
        ["idx_kids_other_id_fk", "idx_toys_kid_id", "idx_toys_name"]
    );
    let invalid: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        .fetch_one(&f.pool)
        .await
        .unwrap();
    assert_eq!(invalid, 0, "the failed build leaves no INVALID index");
    let files = f.rollback_files();
    assert_eq!(files.len(), 1);
    let saved = RollbackFile::read(&files[0]).unwrap();
    let work_mem = saved
        .settings
        .iter()
        .find(|s| s.name == "work_mem")
        .unwrap();
    assert_eq!(work_mem.shown, original_work_mem);
    assert_eq!(work_mem.auto_conf, None);
    let mut created = saved.indexes_created.clone();
    created.sort();
    assert_eq!(created, built);
    // The foreign keys are covered now, by non-partial indexes.
    let unindexed = koprogo_perf::tune::indexes::unindexed_foreign_keys(&f.pool)
        .await
        .unwrap();
    assert!(unindexed.is_empty(), "{unindexed:?}");

    // A second apply, the failing index fixed: it converges on the same rollback file,
    // whose "before" is still the state before the first apply.
    std::fs::write(
        &f.profile,
        PROFILE.replace("created_at > now()", "created_at IS NOT NULL"),
    )
    .unwrap();
    let out = f.tune(&["--apply", "--skip-invalid", "--fk-indexes"]);
    assert!(out.status.success(), "{}", all(&out));
    assert!(
        stdout(&out).contains("kept from the first apply"),
        "{}",
        all(&out)
    );
    assert!(
        stdout(&out).contains("index idx_kids_recent: Created"),
        "{}",
        all(&out)
    );
    assert_eq!(f.rollback_files(), files);
    let saved = RollbackFile::read(&files[0]).unwrap();
    let work_mem = saved
        .settings
        .iter()
        .find(|s| s.name == "work_mem")
        .unwrap();
    assert_eq!(work_mem.shown, original_work_mem, "never the tuned value");
    assert_eq!(saved.indexes_created.len(), 4);
    let out = f.tune(&["--apply", "--skip-invalid", "--fk-indexes"]);
    assert!(out.status.success(), "{}", all(&out));
    assert!(stdout(&out).contains("nothing to change"), "{}", all(&out));

    // The rollback restores the state before the first apply exactly.
    let out = f.tune(&["--rollback", files[0].to_str().unwrap()]);
    assert!(out.status.success(), "{}", all(&out));
    assert_eq!(f.work_mem().await, original_work_mem);
    assert_eq!(f.indexes().await, original_indexes);
    let saved = RollbackFile::read(&files[0]).unwrap();
    assert!(saved.rolled_back_at.is_some());
    f.pool.close().await;
}

/// The seeded reference schema without its performance indexes, and the guide's two
/// hot queries as the server sends them (prepared, so that pg_stat_statements
/// normalizes them), 300 times each, after the statistics were reset.
async fn guide_workload(pool: &PgPool) {
    koprogo_perf::seed::seed(pool, &Default::default())
        .await
        .unwrap();
    // The workload's window starts after the seed: its bulk inserts are no write rate.
    sqlx::raw_sql(
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; ANALYZE; \
         SELECT pg_stat_statements_reset()",
    )
    .execute(pool)
    .await
    .unwrap();
    let buildings: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM buildings")
        .fetch_all(pool)
        .await
        .unwrap();
    let units: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM units")
        .fetch_all(pool)
        .await
        .unwrap();
    for round in 0..300 {
        sqlx::query("SELECT * FROM expenses WHERE building_id = $1 AND approval_status = $2")
            .bind(buildings[round % buildings.len()])
            .bind("approved")
            .fetch_all(pool)
            .await
            .unwrap();
        sqlx::query(
            "SELECT o.* FROM unit_owners uo JOIN owners o ON o.id = uo.owner_id \
             WHERE uo.unit_id = $1 AND uo.end_date IS NULL",
        )
        .bind(units[round % units.len()])
        .fetch_all(pool)
        .await
        .unwrap();
    }
}

/// The advisor on the seeded reference schema without its performance indexes, from
/// the guide's two hot queries as the server sends them (prepared, so that
/// pg_stat_statements normalizes them): with hypopg, it advises the expense index and
/// the current-owners one, and the profile it writes is one `tune-db` applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advisor_finds_the_guide_indexes_from_the_workload() {
    let (db, pool) = common::migrated_db().await;
    guide_workload(&pool).await;
    let cwd = tempfile::tempdir().unwrap();
    let out = common::bin()
        .args(["tune-db", "--advise", "--out", "advised.toml"])
        .args(["--database-url", db.url()])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all(&out));
    let advised = std::fs::read_to_string(cwd.path().join("advised.toml"))
        .unwrap_or_else(|_| panic!("no advised.toml: {}", all(&out)));
    assert!(
        advised.contains("table = \"expenses\"\ncolumns = \"building_id, approval_status\""),
        "{advised}\n{}",
        all(&out)
    );
    assert!(
        advised.contains(
            "table = \"unit_owners\"\ncolumns = \"unit_id\"\nwhere = \"end_date IS NULL\""
        ),
        "{advised}\n{}",
        all(&out)
    );
    // Not also the non-partial one, which serves the same lookups for a lower score.
    assert_eq!(advised.matches("[[index]]").count(), 2, "{advised}");
    assert!(
        stdout(&out).contains("served by the advised (unit_id) WHERE end_date IS NULL"),
        "{}",
        all(&out)
    );
    // The advice changed nothing (its hypothetical indexes and hypopg were rolled back).
    let hypopg: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(hypopg, 0);
    // A profile tune-db takes as it is.
    let out = common::bin()
        .args(["tune-db", "--dry-run", "--profile", "advised.toml"])
        .args(["--database-url", db.url()])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all(&out));
    assert!(stdout(&out).contains("would change"), "{}", all(&out));
    pool.close().await;
    db.close().await;
}

/// With pg_qualstats preloaded and created, the advisor also takes the predicates it
/// sampled: the expense lookup's two `=` columns come from it as well as from the plan,
/// and the advice is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advisor_takes_pg_qualstats_predicates_where_it_is_loaded() {
    use koprogo_perf::pg::embedded::{Cluster, ClusterOptions};
    let cluster = tokio::task::spawn_blocking(|| {
        Cluster::start(&ClusterOptions {
            settings: vec![
                (
                    "shared_preload_libraries".into(),
                    "pg_stat_statements,pg_qualstats".into(),
                ),
                // Every statement sampled (the default is 1 / max_connections).
                ("pg_qualstats.sample_rate".into(), "1".into()),
            ],
        })
    })
    .await
    .unwrap()
    .expect("a cluster with pg_qualstats preloaded starts");
    let pool = connect(&cluster.url(), 2).await.unwrap();
    koprogo_perf::pg::migrate(&pool).await.unwrap();
    sqlx::raw_sql("CREATE EXTENSION pg_qualstats")
        .execute(&pool)
        .await
        .unwrap();
    guide_workload(&pool).await;
    let cwd = tempfile::tempdir().unwrap();
    let out = common::bin()
        .args(["tune-db", "--advise", "--out", "advised.toml"])
        .args(["--database-url", &cluster.url()])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all(&out));
    let text = stdout(&out);
    assert!(text.contains("pg_qualstats: 2."), "{}", all(&out));
    let expense_row = text
        .lines()
        .find(|l| l.contains("expenses") && l.contains("building_id, approval_status"))
        .unwrap_or_else(|| panic!("no expense candidate: {}", all(&out)));
    assert!(
        expense_row.contains("pg_qualstats"),
        "{expense_row}\n{}",
        all(&out)
    );
    let advised = std::fs::read_to_string(cwd.path().join("advised.toml")).unwrap();
    assert!(
        advised.contains("table = \"expenses\"\ncolumns = \"building_id, approval_status\""),
        "{advised}"
    );
    pool.close().await;
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

/// Beyond a scan's own conditions: the key a join looks rows up by, and an ORDER BY …
/// LIMIT an index can return in order, each found in the workload's plans and scored.
#[tokio::test]
async fn the_advisor_indexes_joins_and_orderings() {
    let (db, pool) = common::migrated_db().await;
    sqlx::raw_sql(
        "CREATE TABLE t_parent (id int PRIMARY KEY, name text NOT NULL); \
         CREATE TABLE t_child (id int PRIMARY KEY, parent_id int NOT NULL, \
                               kind text NOT NULL, created timestamptz NOT NULL); \
         INSERT INTO t_parent SELECT g, 'p' || g FROM generate_series(1, 2000) g; \
         INSERT INTO t_child SELECT g, 1 + g % 2000, 'k' || (g % 50), \
                now() - g * interval '1 minute' FROM generate_series(1, 100000) g; \
         CREATE EXTENSION IF NOT EXISTS pg_stat_statements; ANALYZE; \
         SELECT pg_stat_statements_reset()",
    )
    .execute(&pool)
    .await
    .unwrap();
    for round in 0..100 {
        sqlx::query(
            "SELECT c.id FROM t_parent p JOIN t_child c ON c.parent_id = p.id WHERE p.name = $1",
        )
        .bind(format!("p{}", round + 1))
        .fetch_all(&pool)
        .await
        .unwrap();
        sqlx::query("SELECT id FROM t_child WHERE kind = $1 ORDER BY created DESC LIMIT 20")
            .bind(format!("k{}", round % 50))
            .fetch_all(&pool)
            .await
            .unwrap();
    }
    let cwd = tempfile::tempdir().unwrap();
    let out = common::bin()
        .args(["tune-db", "--advise", "--out", "advised.toml"])
        .args(["--database-url", db.url()])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all(&out));
    let advised = std::fs::read_to_string(cwd.path().join("advised.toml"))
        .unwrap_or_else(|_| panic!("no advised.toml: {}", all(&out)));
    // The join's key on the big side, from the join alone (no filter names it).
    assert!(
        advised.contains("table = \"t_child\"\ncolumns = \"parent_id\""),
        "{advised}\n{}",
        all(&out)
    );
    // The filter's key, then the sort's, in its direction.
    assert!(
        advised.contains("table = \"t_child\"\ncolumns = \"kind, created DESC\""),
        "{advised}\n{}",
        all(&out)
    );
    // Not also the filter's key alone, which the longer one serves.
    assert!(
        !advised.contains("columns = \"kind\"\n"),
        "{advised}\n{}",
        all(&out)
    );
    assert!(stdout(&out).contains("ORDER BY"), "{}", all(&out));
    // A profile tune-db builds as it is, and the plans then use it.
    let out = common::bin()
        .args(["tune-db", "--apply", "--profile", "advised.toml"])
        .args(["--database-url", db.url()])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all(&out));
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM t_child WHERE kind = 'k1' ORDER BY created DESC LIMIT 20",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        plan.iter().all(|l| !l.contains("Sort")) && plan.iter().any(|l| l.contains("Index")),
        "{plan:?}"
    );
    pool.close().await;
    db.close().await;
}
