//! `seed --host` against the reference server (which follows KoproGo's contract for
//! every route the seeder calls) on a database holding only KoproGo's superadmin: the
//! same data set as the direct seed, state by state; a second run and a run after an
//! interruption create nothing twice; the logins file logs `load` in; refusals.

use std::time::Duration;

use koprogo_perf::logins::Login;
use koprogo_perf::seed::api::{ApiSeedError, ApiSeedOptions, seed_via_api};
use koprogo_perf::seed::{SeedOptions, seed};
use koprogo_perf::server::ServerArgs;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::common;

/// A database as a fresh KoproGo has it: the schema and its superadmin, nothing else.
async fn empty_koprogo() -> (koprogo_perf::pg::Database, PgPool) {
    let (db, pool) = common::migrated_db().await;
    let hash = koprogo_perf::server::password::hash_password("admin123", b"0123456789abcdef");
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, role) \
         VALUES (gen_random_uuid(), 'admin@koprogo.com', $1, 'Super', 'Admin', 'superadmin')",
    )
    .bind(hash)
    .execute(&pool)
    .await
    .unwrap();
    (db, pool)
}

/// The data set's generator seed: with 9 (unlike the other tests' 42), two owners of one
/// organization share an e-mail, which KoproGo's platform-wide uniqueness makes the
/// seeder tag, and a second run claim once each.
const SEED: u64 = 9;

/// The direct seed of the same data set.
fn reference_options() -> SeedOptions {
    SeedOptions {
        rng_seed: SEED,
        ..SeedOptions::default()
    }
}

fn options(host: &str, logins_out: &std::path::Path) -> ApiSeedOptions {
    ApiSeedOptions {
        host: host.to_string(),
        admin: "admin@koprogo.com:admin123".parse().unwrap(),
        scale: 1,
        rng_seed: SEED,
        concurrency: 8,
        logins_out: logins_out.to_path_buf(),
    }
}

/// What the API can reproduce of a data set: organizations, users, buildings, units,
/// owners and current ownerships by count, expenses by approval and payment state.
async fn shape(pool: &PgPool) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT 'organizations', count(*) FROM organizations \
         UNION ALL SELECT 'users ' || role, count(*) FROM users GROUP BY role \
         UNION ALL SELECT 'buildings', count(*) FROM buildings \
         UNION ALL SELECT 'units ' || unit_type, count(*) FROM units GROUP BY unit_type \
         UNION ALL SELECT 'owners', count(*) FROM owners \
         UNION ALL SELECT 'current ownerships', count(*) FROM unit_owners WHERE end_date IS NULL \
         UNION ALL SELECT 'shares', sum(ownership_percentage)::bigint FROM unit_owners WHERE end_date IS NULL \
         UNION ALL SELECT 'expenses ' || approval_status || '/' || payment_status, count(*) \
           FROM expenses GROUP BY approval_status, payment_status \
         UNION ALL SELECT 'expense total cents', (sum(amount) * 100)::bigint FROM expenses",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.sort();
    rows
}

#[tokio::test]
async fn the_api_seed_builds_the_reference_data_set_and_a_second_run_creates_nothing() {
    // The reference: the direct seed at scale 1.
    let (reference_db, reference) = common::migrated_db().await;
    seed(&reference, &reference_options()).await.unwrap();
    let expected = shape(&reference).await;
    reference.close().await;
    reference_db.close().await;

    let (db, pool) = empty_koprogo().await;
    let server = common::server(db.url(), ServerArgs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let logins = dir.path().join("logins.txt");
    let cancel = CancellationToken::new();

    let first = seed_via_api(&options(&server.base, &logins), &cancel)
        .await
        .unwrap();
    assert_eq!(first.created.organizations, 3);
    assert_eq!(first.created.users, 9);
    assert_eq!((first.created.buildings, first.created.units), (23, 190));
    assert_eq!((first.created.owners, first.created.expenses), (126, 1150));
    assert!(first.created.accounts > 90, "{:?}", first.created);
    assert_eq!(first.found.organizations + first.found.expenses, 0);
    // Everything but the superadmin, state by state as the direct seed has it.
    let mut got = shape(&pool).await;
    got.retain(|(k, _)| k != "users superadmin");
    let mut want = expected.clone();
    want.retain(|(k, _)| k != "users superadmin");
    assert_eq!(got, want);

    // The owner whose e-mail another owner of its organization took has it tagged.
    let tagged: i64 = sqlx::query_scalar("SELECT count(*) FROM owners WHERE email LIKE '%+%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(tagged >= 1, "{tagged}");

    // The file logs load's users in: the three syndics, mode 0600.
    let text = std::fs::read_to_string(&logins).unwrap();
    let syndics = koprogo_perf::logins::parse_logins_file(&text, "logins.txt").unwrap();
    assert_eq!(syndics.len(), 3);
    assert!(syndics.iter().all(|l| l.email.starts_with("syndic@")));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&logins).unwrap().permissions().mode() & 0o777,
        0o600
    );
    common::token(&server.base, &syndics[2].email, &syndics[2].password).await;

    // A second run finds everything and creates nothing.
    let second = seed_via_api(&options(&server.base, &logins), &cancel)
        .await
        .unwrap();
    assert_eq!(
        second.created.organizations + second.created.users + second.created.buildings,
        0
    );
    assert_eq!(
        second.created.units + second.created.owners + second.created.unit_owners,
        0
    );
    assert_eq!(
        (second.created.expenses, second.created.expense_moves),
        (0, 0)
    );
    assert_eq!((second.found.buildings, second.found.expenses), (23, 1150));
    let mut again = shape(&pool).await;
    again.retain(|(k, _)| k != "users superadmin");
    assert_eq!(again, want);

    server.stop().await;
    pool.close().await;
    db.close().await;
}

#[tokio::test]
async fn a_run_after_an_interrupted_one_finishes_the_data_set_without_duplicates() {
    let (db, pool) = empty_koprogo().await;
    let server = common::server(db.url(), ServerArgs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let logins = dir.path().join("logins.txt");

    // Interrupted once some expenses exist, in whatever state their chains were.
    let cancel = CancellationToken::new();
    let watcher = {
        let (pool, cancel) = (pool.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM expenses")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                if n >= 200 {
                    cancel.cancel();
                    return n;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let interrupted = seed_via_api(&options(&server.base, &logins), &cancel).await;
    assert!(
        matches!(interrupted, Err(ApiSeedError::Interrupted)),
        "{interrupted:?}"
    );
    assert!(watcher.await.unwrap() < 1150);

    let resumed = seed_via_api(&options(&server.base, &logins), &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        resumed.found.organizations >= 1 && resumed.found.expenses >= 200,
        "{:?}",
        resumed.found
    );
    let totals: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM units), \
         (SELECT count(*) FROM expenses), (SELECT count(*) FROM expenses WHERE approval_status = 'draft')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (reference_db, reference) = common::migrated_db().await;
    seed(&reference, &reference_options()).await.unwrap();
    let drafts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM expenses WHERE approval_status = 'draft'")
            .fetch_one(&reference)
            .await
            .unwrap();
    assert_eq!(totals, (3, 190, 1150, drafts));
    reference.close().await;
    reference_db.close().await;

    server.stop().await;
    pool.close().await;
    db.close().await;
}

#[tokio::test]
async fn the_seed_refuses_a_wrong_admin_and_a_user_whose_password_it_does_not_have() {
    let (db, pool) = empty_koprogo().await;
    let server = common::server(db.url(), ServerArgs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let logins = dir.path().join("logins.txt");
    let cancel = CancellationToken::new();

    let mut wrong = options(&server.base, &logins);
    wrong.admin = "admin@koprogo.com:not-the-password".parse().unwrap();
    let err = seed_via_api(&wrong, &cancel).await.unwrap_err();
    assert!(
        matches!(err, ApiSeedError::LoginFailed { status: 401, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("not-the-password"));

    // A syndic of another tool: the seed cannot know its password, and says so.
    sqlx::query(
        "INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'GP', 'grandplace'); \
         ",
    )
    .execute(&pool)
    .await
    .unwrap();
    let hash = koprogo_perf::server::password::hash_password("theirs", b"0123456789abcdef");
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, role, organization_id) \
         SELECT gen_random_uuid(), 'syndic@grandplace.be', $1, 'An', 'Other', 'syndic', id \
         FROM organizations WHERE slug = 'grandplace'",
    )
    .bind(hash)
    .execute(&pool)
    .await
    .unwrap();
    let err = seed_via_api(&options(&server.base, &logins), &cancel)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ApiSeedError::UnknownPassword { .. }),
        "{text}"
    );
    assert!(
        text.contains("syndic@grandplace.be") && text.contains("logins.txt"),
        "{text}"
    );
    // The password it made up for that user is not left in the file.
    let file = std::fs::read_to_string(&logins).unwrap_or_default();
    assert!(!file.contains("syndic@grandplace.be"), "{file}");

    // A non-superadmin as --admin.
    let mut syndic = options(&server.base, &dir.path().join("other.txt"));
    syndic.admin = Login {
        email: "syndic@grandplace.be".into(),
        password: "theirs".into(),
    };
    let err = seed_via_api(&syndic, &cancel).await.unwrap_err();
    assert!(matches!(err, ApiSeedError::NotSuperadmin { .. }), "{err}");

    server.stop().await;
    pool.close().await;
    db.close().await;
}

#[tokio::test]
async fn seed_host_from_the_command_line_then_load_logs_in_with_its_file() {
    let (db, pool) = empty_koprogo().await;
    let server = common::server(db.url(), ServerArgs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let logins = dir.path().join("logins.txt");
    let base = server.base.clone();
    let logins_arg = logins.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        common::bin()
            .args(["seed", "--host", &base, "--logins-out", &logins_arg])
            .env("KOPROGO_PERF_ADMIN", "admin@koprogo.com:admin123")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("expenses") && stdout.contains("1150"),
        "{stdout}"
    );
    assert!(stdout.contains("not created"), "{stdout}");
    let passwords: Vec<String> = std::fs::read_to_string(&logins)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| l.rsplit_once(':').unwrap().1.to_string())
        .collect();
    assert!(passwords.len() >= 9);
    for p in passwords.iter().chain(["admin123".to_string()].iter()) {
        assert!(!stdout.contains(p.as_str()) && !stderr.contains(p.as_str()));
    }

    // The seeded syndics run api-load with no error at all.
    let run_dir = dir.path().join("run");
    let (base, logins_arg, run_arg) = (
        server.base.clone(),
        logins.display().to_string(),
        run_dir.display().to_string(),
    );
    let out = tokio::task::spawn_blocking(move || {
        common::bin()
            .args([
                "load",
                "--host",
                &base,
                "--logins-file",
                &logins_arg,
                "--vus",
                "3",
            ])
            .args(["--duration", "3s", "--ramp-up", "1s", "--out", &run_arg])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: koprogo_perf::report::RunReport =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    assert!(run.totals.requests > 0);
    for e in &run.endpoints {
        assert_eq!(e.errors, 0, "{}: {:?}", e.name, e.status_codes);
    }

    // --admin is required, and a bad one is not echoed.
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        common::bin()
            .args(["seed", "--host", &base, "--admin", "no-colon-secret"])
            .env_remove("KOPROGO_PERF_ADMIN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--admin") && !stderr.contains("no-colon-secret"),
        "{stderr}"
    );

    server.stop().await;
    pool.close().await;
    db.close().await;
}
