//! `audit` against real stacks: an embedded cluster seeded at scale 1 and the reference
//! server on a free port. The baseline server on an untuned database fails the checks
//! that the tuned server on a database tuned by `tune-db --apply` passes; the audit
//! changes nothing; without a database, or against nothing, it says so and exits 2.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use koprogo_perf::audit::http::{self, Session};
use koprogo_perf::audit::{AuditReport, Burst, CheckId, Status};
use koprogo_perf::load::Login;
use koprogo_perf::pg::embedded::find_bindir;
use koprogo_perf::pg::{Database, connect};
use koprogo_perf::server::{Preset, ServerArgs};

use crate::common;

/// A burst small enough for a shared 2-core machine, and a per-request timeout that is
/// only a hang guard: these tests judge the switches, not this machine's speed.
const BURST: &[&str] = &[
    "--burst",
    "40",
    "--burst-duration",
    "2s",
    "--timeout",
    "20s",
];

/// The reference seed's first syndic.
fn syndic() -> Login {
    koprogo_perf::seed::demo_logins(1).remove(0).into()
}

/// `koprogo-perf audit --url URL` (JSON on stdout), the database URL in the
/// environment when given, never inherited.
fn audit(url: &str, database_url: Option<&str>, extra: &[&str]) -> Output {
    let mut command = common::bin();
    command
        .args(["audit", "--url", url])
        .args(BURST)
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("KOPROGO_PERF_LOGINS");
    if let Some(db) = database_url {
        command.env("DATABASE_URL", db);
    }
    command.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The report printed by `--format json`.
fn report(out: &Output) -> AuditReport {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("audit printed no report ({e}):\n{}", text(out)))
}

fn status(report: &AuditReport, id: CheckId) -> Status {
    report.check(id).expect("every check is reported").status
}

/// What an audit must leave untouched: every setting (in effect and saved), every
/// index with its validity, every extension.
#[derive(Debug, PartialEq, Eq)]
struct DatabaseState {
    settings: BTreeMap<String, (String, bool)>,
    saved: Vec<(String, String)>,
    indexes: Vec<(String, String, bool)>,
    extensions: Vec<(String, String)>,
}

impl DatabaseState {
    async fn read(url: &str) -> DatabaseState {
        let pool = connect(url, 1).await.unwrap();
        let settings: Vec<(String, String, bool)> =
            sqlx::query_as("SELECT name, setting, pending_restart FROM pg_settings")
                .fetch_all(&pool)
                .await
                .unwrap();
        let saved = sqlx::query_as(
            "SELECT name, setting FROM pg_file_settings \
              WHERE sourcefile LIKE '%postgresql.auto.conf' ORDER BY seqno",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let indexes = sqlx::query_as(
            "SELECT c.relname::text, pg_get_indexdef(c.oid), i.indisvalid \
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'public' ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let extensions =
            sqlx::query_as("SELECT extname::text, extversion FROM pg_extension ORDER BY 1")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        DatabaseState {
            settings: settings
                .into_iter()
                .map(|(name, setting, pending)| (name, (setting, pending)))
                .collect(),
            saved,
            indexes,
            extensions,
        }
    }
}

/// The cluster's password, to check that it is never printed.
fn password_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .password()
        .expect("the cluster's URL has a password")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_fails_the_checks_that_the_tuned_stack_passes() {
    // Started without pg_stat_statements, as a stock PostgreSQL is.
    let cluster = crate::common::stock_cluster().await;
    let url = cluster.url();
    let pool = connect(&url, 2).await.unwrap();
    koprogo_perf::seed::seed(&pool, &Default::default())
        .await
        .unwrap();
    pool.close().await;
    let secret = password_of(&url);

    // The guide's "before": the baseline server on an untuned database.
    let untouched = DatabaseState::read(&url).await;
    let baseline = common::server(&url, ServerArgs::default()).await;
    let out = audit(&baseline.base, Some(&url), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains(&secret), "{}", text(&out));
    let before = report(&out);
    for id in [
        CheckId::Gzip,
        CheckId::CachingHeaders,
        CheckId::PgStatStatements,
        CheckId::ForeignKeyIndexes,
        CheckId::GuideIndexes,
        CheckId::Settings,
    ] {
        assert_eq!(status(&before, id), Status::Fail, "{id:?}: {before:#?}");
    }
    // axum keeps connections alive in both presets. The burst is not judged here:
    // at scale 1 a pool of 10 usually keeps up (see `BurstOutcome::check`).
    assert_eq!(status(&before, CheckId::KeepAlive), Status::Pass);
    let evidence = |id| before.check(id).unwrap().evidence.clone();
    assert!(
        evidence(CheckId::GuideIndexes).contains("idx_expenses_building_status: missing"),
        "{}",
        evidence(CheckId::GuideIndexes)
    );
    assert!(
        evidence(CheckId::Settings).contains("shared_buffers 128MB → 256MB"),
        "{}",
        evidence(CheckId::Settings)
    );
    assert!(
        evidence(CheckId::Gzip).contains("sent uncompressed"),
        "{}",
        evidence(CheckId::Gzip)
    );
    assert_eq!(before.database, Some(koprogo_perf::pg::redact_url(&url)));
    assert_eq!(before.login, syndic().email);
    assert_eq!(before.exit_code, 1);
    assert_eq!(
        DatabaseState::read(&url).await,
        untouched,
        "the audit changed the database"
    );
    // Its session is read-only: PostgreSQL refuses what tune-db would do.
    let session = koprogo_perf::audit::db::connect_read_only(&url)
        .await
        .unwrap();
    for statement in [
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
        "CREATE INDEX idx_expenses_building_status ON expenses (building_id, status)",
    ] {
        let refused = sqlx::raw_sql(statement)
            .execute(&session)
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("read-only transaction"),
            "{statement}: {refused}"
        );
    }
    session.close().await;
    baseline.stop().await;

    // The guide's "after": tune-db --apply (settings, restart, extension, indexes) and
    // the tuned server.
    let cwd = tempfile::tempdir().unwrap();
    let restart = format!(
        "runuser -u postgres -- {} -D {} -w -t 60 restart >/dev/null",
        find_bindir().unwrap().join("pg_ctl").display(),
        cluster.data_dir().display()
    );
    let tune = common::bin()
        .args(["tune-db", "--apply", "--restart-cmd", &restart])
        .env("DATABASE_URL", &url)
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(tune.status.success(), "{}", text(&tune));
    let tuned_state = DatabaseState::read(&url).await;
    let tuned = common::server(&url, ServerArgs::from_preset(Preset::Tuned)).await;
    let file = cwd.path().join("audit.json");
    let out = audit(&tuned.base, Some(&url), &["--out", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.ends_with("audit: 8 passed, 0 failed, 0 not checked\n"),
        "{table}"
    );
    assert!(table.contains("│ Check"), "{table}");
    assert!(!text(&out).contains(&secret), "{}", text(&out));
    let after: AuditReport =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(after.checks.len(), CheckId::ALL.len());
    for check in &after.checks {
        assert_eq!(check.status, Status::Pass, "{check:?}");
    }
    assert_eq!(after.exit_code, 0);
    assert!(
        after
            .check(CheckId::Gzip)
            .unwrap()
            .evidence
            .starts_with("GET /api/v1/accounts: Content-Encoding: gzip"),
        "{:?}",
        after.check(CheckId::Gzip)
    );
    assert_eq!(
        DatabaseState::read(&url).await,
        tuned_state,
        "the audit changed the database"
    );
    tuned.stop().await;
    drop(cluster);
}

/// A seeded embedded database (with pg_stat_statements preloaded, as the embedded
/// cluster always has).
async fn seeded_db() -> Database {
    let db = Database::open(None).await.unwrap();
    let pool = connect(db.url(), 2).await.unwrap();
    koprogo_perf::seed::seed(&pool, &Default::default())
        .await
        .unwrap();
    pool.close().await;
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_database_the_database_checks_are_not_checked_and_exit_2() {
    let db = seeded_db().await;
    let server = common::server(db.url(), ServerArgs::from_preset(Preset::Tuned)).await;
    let out = audit(&server.base, None, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.ends_with("audit: 4 passed, 0 failed, 4 not checked\n"),
        "{table}"
    );
    assert!(table.contains("pass --database-url"), "{table}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no --login given: logged in as syndic@"),
        "the default login is said: {err}"
    );

    // The same as JSON: the HTTP checks pass, the others are not checked.
    let out = audit(&server.base, None, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let r = report(&out);
    for check in &r.checks {
        let expected = if check.id.needs_database() {
            Status::NotChecked
        } else {
            Status::Pass
        };
        assert_eq!(check.status, expected, "{check:?}");
    }
    assert_eq!(r.database, None);

    // A refused login and an unreachable database: one line each, exit 2, no secret.
    let out = audit(
        &server.base,
        None,
        &["--login", "syndic@grandplace.be:wrong-password-123"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: login as syndic@grandplace.be at {} failed (HTTP 401 Unauthorized)",
            server.base
        )),
        "{err}"
    );
    assert!(!text(&out).contains("wrong-password-123"));
    assert!(out.stdout.is_empty());
    let port = free_port();
    let unreachable_db = format!("postgres://app:t0psecret@127.0.0.1:{port}/koprogo");
    let out = audit(&server.base, Some(&unreachable_db), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: cannot connect to the database at postgres://app:***@127.0.0.1:{port}/koprogo: "
        )),
        "{err}"
    );
    assert!(!err.contains("t0psecret"), "{err}");

    server.stop().await;
    db.close().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_unreachable_url_exits_2_with_one_line() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = audit(&url, None, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(
        err,
        format!(
            "error: cannot reach {url}: Connection refused (os error 111); start the server or \
             check --url"
        )
    );
    assert!(out.stdout.is_empty());
    // Invalid flags are usage errors too.
    let out = audit("not a url", None, &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = audit(&url, None, &["--burst-duration", "5m"]);
    assert_eq!(out.status.code(), Some(2));
    let out = audit(&url, None, &["--login", ":hunter2secret"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out).contains("hunter2secret"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_fails_the_burst_with_its_503s() {
    let db = seeded_db().await;
    // One connection, a short wait for it, and the test holding it: every request of
    // the burst waits, then gets its 503.
    let starved = common::server(
        db.url(),
        ServerArgs {
            pool_max: 1,
            acquire_timeout: 0.2,
            ..ServerArgs::default()
        },
    )
    .await;
    let session = Session::open(&starved.base, &syndic(), Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let held = starved.state.pool.acquire().await.unwrap();
    let check = session
        .burst(Burst {
            clients: 5,
            duration: Duration::from_secs(1),
        })
        .await;
    drop(held);
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(
        check.evidence.contains(": 0 ok, ") && !check.evidence.contains(" ok, 0 × 503"),
        "{}",
        check.evidence
    );
    starved.stop().await;
    db.close().await;
}

/// Answers every request with `Connection: close` and closes the connection, as a
/// server without keep-alive does.
async fn closing_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                          content-length: 15\r\nconnection: close\r\n\r\n{\"status\":\"ok\"}",
                    )
                    .await;
                let _ = socket.shutdown().await;
            });
        }
    });
    base
}

#[tokio::test]
async fn a_server_that_closes_each_connection_fails_keep_alive() {
    let base = closing_server().await;
    let check = http::keep_alive(&base, Duration::from_secs(20)).await;
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(
        check
            .evidence
            .contains(": 200 with Connection: close, then the connection was closed"),
        "{}",
        check.evidence
    );
    // https is not spoken by this check: said, not guessed.
    let check = http::keep_alive("https://127.0.0.1:9", Duration::from_secs(1)).await;
    assert_eq!(check.status, Status::NotChecked, "{check:?}");
    assert!(check.evidence.starts_with("https:// is not checked"));
}
