//! `audit`: the tuning guide's quick wins checked on a running KoproGo (or the reference
//! server) and its database, each with pass, fail or "not checked" and the evidence
//! seen — header values, sizes, counts, index names, the settings that differ.
//!
//! It only reads: over HTTP, GETs and one login ([`http`], [`burst`]); on the database,
//! SELECTs on a session opened with `default_transaction_read_only` ([`db`]), so that
//! PostgreSQL itself would refuse a write. The settings and indexes are compared through
//! `tune-db`'s own diff ([`crate::tune::plan_settings`], [`crate::tune::plan_indexes`]),
//! and a failed check names a remedy only where that plan would make it ([`fixes`]).
//! The application's own database role will do: what it may not read is "not
//! checked", with the privilege it needs.
//!
//! [`run`] returns an [`AuditReport`], the typed value the command prints as a table
//! ([`render`]) or JSON and turns into the exit code: 0 every check passed, 1 one
//! failed, 2 nothing failed but something could not be checked. When the audit cannot
//! run at all (host unreachable, login refused, database unreachable) it returns a
//! [`CannotAudit`] instead, which also exits 2.
//!
//! [`frontend`] audits a front end instead (`--frontend DIR|URL`): bundles, images and
//! served headers, with the same statuses and exit codes.

pub mod burst;
pub mod db;
pub mod fixes;
pub mod frontend;
pub mod http;
pub mod render;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::load::Login;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The check could not be made (no database URL, an https URL for keep-alive,
    /// nothing to judge by); the evidence says why.
    NotChecked,
}

impl Status {
    /// As shown in the table.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::NotChecked => "not checked",
        }
    }
}

/// The checks, in the order they run and are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// A large list answered with `Content-Encoding: gzip`.
    Gzip,
    /// `ETag`/`Last-Modified` and `Cache-Control` on cacheable GETs, and a 304.
    CachingHeaders,
    /// Two requests answered on one TCP connection.
    KeepAlive,
    /// No 503, other 5xx or timeout under a short burst of concurrent requests.
    PoolBurst,
    /// `pg_stat_statements` preloaded and created.
    PgStatStatements,
    /// Every foreign key has an index leading with it.
    ForeignKeyIndexes,
    /// The guide's two indexes exist, valid and ready.
    GuideIndexes,
    /// The profile's settings are in effect.
    Settings,
}

impl CheckId {
    /// Every check, in order.
    pub const ALL: &'static [CheckId] = &[
        CheckId::Gzip,
        CheckId::CachingHeaders,
        CheckId::KeepAlive,
        CheckId::PoolBurst,
        CheckId::PgStatStatements,
        CheckId::ForeignKeyIndexes,
        CheckId::GuideIndexes,
        CheckId::Settings,
    ];

    /// Its name in the table.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::Gzip => "gzip",
            CheckId::CachingHeaders => "caching headers",
            CheckId::KeepAlive => "HTTP keep-alive",
            CheckId::PoolBurst => "pool under a burst",
            CheckId::PgStatStatements => "pg_stat_statements",
            CheckId::ForeignKeyIndexes => "foreign key indexes",
            CheckId::GuideIndexes => "guide's indexes",
            CheckId::Settings => "settings vs profile",
        }
    }

    /// True for the checks made on the database (they need `--database-url`).
    pub fn needs_database(self) -> bool {
        matches!(
            self,
            CheckId::PgStatStatements
                | CheckId::ForeignKeyIndexes
                | CheckId::GuideIndexes
                | CheckId::Settings
        )
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Which check (stable, for scripts).
    pub id: CheckId,
    /// Its name as the table shows it.
    pub name: String,
    pub status: Status,
    /// What was seen, in one line: header values, sizes, counts, names, values.
    pub evidence: String,
}

impl Check {
    pub fn new(id: CheckId, status: Status, evidence: impl Into<String>) -> Check {
        Check {
            id,
            name: id.title().to_string(),
            status,
            evidence: evidence.into(),
        }
    }

    pub fn pass(id: CheckId, evidence: impl Into<String>) -> Check {
        Check::new(id, Status::Pass, evidence)
    }

    pub fn fail(id: CheckId, evidence: impl Into<String>) -> Check {
        Check::new(id, Status::Fail, evidence)
    }

    pub fn not_checked(id: CheckId, evidence: impl Into<String>) -> Check {
        Check::new(id, Status::NotChecked, evidence)
    }
}

/// How many checks ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub not_checked: usize,
}

/// What `audit` found: the contract between [`run`] and its table, JSON and exit code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// koprogo-perf's version.
    pub tool_version: String,
    /// When the audit started (UTC, RFC 3339).
    pub started_at: String,
    /// The API's base URL.
    pub url: String,
    /// The database, password hidden; null when none was given.
    pub database: Option<String>,
    /// The e-mail the authenticated checks logged in with (never the password).
    pub login: String,
    /// The profile the settings were compared with.
    pub profile: String,
    /// Every check, in [`CheckId::ALL`]'s order.
    pub checks: Vec<Check>,
    pub summary: Summary,
    /// The exit code: 0 all passed, 1 one failed, 2 nothing failed but something was
    /// not checked.
    pub exit_code: u8,
}

impl AuditReport {
    /// The report of `checks`, with its summary and exit code.
    pub fn new(
        url: &str,
        database: Option<String>,
        login: &str,
        profile: &str,
        checks: Vec<Check>,
    ) -> AuditReport {
        let summary = summarize(&checks);
        AuditReport {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            url: crate::redact::redact(url),
            database,
            login: login.to_string(),
            profile: profile.to_string(),
            checks,
            summary,
            exit_code: exit_code(&summary),
        }
    }

    /// `audit: 5 passed, 3 failed, 0 not checked`.
    pub fn summary_line(&self) -> String {
        format!(
            "audit: {} passed, {} failed, {} not checked",
            self.summary.passed, self.summary.failed, self.summary.not_checked
        )
    }

    /// The check `id`, when it was made.
    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// Counts the checks by status.
pub fn summarize(checks: &[Check]) -> Summary {
    let mut s = Summary::default();
    for c in checks {
        match c.status {
            Status::Pass => s.passed += 1,
            Status::Fail => s.failed += 1,
            Status::NotChecked => s.not_checked += 1,
        }
    }
    s
}

/// 1 when anything failed, else 2 when anything was not checked, else 0.
pub fn exit_code(summary: &Summary) -> u8 {
    if summary.failed > 0 {
        1
    } else if summary.not_checked > 0 {
        2
    } else {
        0
    }
}

/// Why the audit could not run at all. The command exits 2 with this one line.
#[derive(Debug, thiserror::Error)]
pub enum CannotAudit {
    #[error("cannot reach {url}: {detail}; start the server or check --url")]
    Unreachable { url: String, detail: String },
    #[error(
        "{url}/api/v1/health answered HTTP {status}: is --url the base of a KoproGo API \
         (without /api/v1)?"
    )]
    NotAnApi { url: String, status: u16 },
    #[error(
        "login as {email} at {url} failed ({detail}); check the credentials (--login \
         EMAIL:PASSWORD or KOPROGO_PERF_LOGINS)"
    )]
    Login {
        url: String,
        email: String,
        detail: String,
    },
    #[error(
        "cannot connect to the database at {url}: {detail}; check that it runs and \
         --database-url is right (or leave it out to audit the API only)"
    )]
    Database { url: String, detail: String },
}

/// The burst of the pool check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// Concurrent clients.
    pub clients: usize,
    /// How long they send.
    pub duration: Duration,
}

/// A validated audit. `Debug` hides the database URL's password and the login's.
#[derive(Clone)]
pub struct AuditOptions {
    /// Base URL without a trailing slash nor `/api/v1`: `http://127.0.0.1:8080`.
    pub url: String,
    /// The API's database, for the database checks.
    pub database_url: Option<String>,
    /// Who the authenticated checks log in as.
    pub login: Login,
    /// The profile to compare with (and plan tune-db's remedies from), as given, and
    /// the guide's indexes.
    pub db: db::DbInputs,
    pub burst: Burst,
    /// What the burst sends.
    pub burst_request: burst::BurstRequest,
    /// Per-request timeout (and, in the burst, the latency that fails the check).
    pub timeout: Duration,
}

impl std::fmt::Debug for AuditOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditOptions")
            .field("url", &self.url)
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::pg::redact_url),
            )
            .field("login", &self.login)
            .field("profile", &self.db.profile.name)
            .field("burst", &self.burst)
            .field("burst_request", &self.burst_request.origin)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The base URL an audit takes: `http(s)://host[:port][/prefix]`, without a trailing
/// slash, and without `/api/v1` when the user gave the API's prefix too.
pub fn base_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api/v1").unwrap_or(trimmed);
    match reqwest::Url::parse(trimmed) {
        Ok(u) if !u.username().is_empty() || u.password().is_some() => Err(format!(
            "--url `{}` carries credentials (USER:PASSWORD@): sent as HTTP basic auth they \
             would replace the login token; give the API's login with --login or --logins-file",
            crate::redact::redact(text)
        )),
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(trimmed.to_string()),
        _ => Err(format!(
            "--url `{}` is not an http(s) URL (e.g. http://127.0.0.1:8080)",
            crate::redact::redact(text)
        )),
    }
}

/// Runs every check: the API is reached and logged into first and the database
/// connected, so that a wrong URL or password fails at once with one line; then each
/// check in order. A check that meets an error (a privilege the role lacks included)
/// records it as "not checked" rather than stopping the others, and a database check
/// cannot take the HTTP results with it ([`db::checks`]).
pub async fn run(options: &AuditOptions) -> Result<AuditReport, CannotAudit> {
    let session = http::Session::open(&options.url, &options.login, options.timeout).await?;
    let pool = match &options.database_url {
        Some(url) => Some(db::connect_read_only(url).await?),
        None => None,
    };
    let mut checks = vec![
        session.gzip().await,
        session.caching_headers().await,
        http::keep_alive(&options.url, options.timeout).await,
        session.burst(options.burst, &options.burst_request).await,
    ];
    match &pool {
        Some(pool) => checks.extend(db::checks(pool, &options.db).await),
        None => checks.extend(
            CheckId::ALL
                .iter()
                .filter(|id| id.needs_database())
                .map(|&id| {
                    Check::not_checked(id, "no database given: pass --database-url (read-only)")
                }),
        ),
    }
    if let Some(pool) = pool {
        pool.close().await;
    }
    Ok(AuditReport::new(
        &options.url,
        options.database_url.as_deref().map(crate::pg::redact_url),
        &options.login.email,
        &options.db.profile.name,
        checks,
    ))
}

pub(crate) use crate::error::root_cause;

/// `12345` → `12,345`, for sizes and counts in the evidence.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(statuses: &[Status]) -> Vec<Check> {
        statuses
            .iter()
            .zip(CheckId::ALL)
            .map(|(&s, &id)| Check::new(id, s, "seen"))
            .collect()
    }

    #[test]
    fn the_exit_code_is_fail_first_then_not_checked() {
        use Status::*;
        let all_pass = summarize(&checks(&[Pass; 8]));
        assert_eq!(exit_code(&all_pass), 0);
        let one_fail = summarize(&checks(&[Pass, Fail, NotChecked, Pass]));
        assert_eq!(
            one_fail,
            Summary {
                passed: 2,
                failed: 1,
                not_checked: 1
            }
        );
        assert_eq!(exit_code(&one_fail), 1);
        assert_eq!(exit_code(&summarize(&checks(&[Pass, NotChecked]))), 2);
        let report = AuditReport::new("http://h", None, "a@b.be", "koprogo-vps", checks(&[]));
        assert_eq!(report.exit_code, 0, "nothing to fail");
        let report = AuditReport::new(
            "http://h",
            None,
            "a@b.be",
            "koprogo-vps",
            checks(&[Pass, Fail, NotChecked]),
        );
        assert_eq!(
            report.summary_line(),
            "audit: 1 passed, 1 failed, 1 not checked"
        );
        assert_eq!(report.exit_code, 1);
    }

    #[test]
    fn base_urls_lose_the_slash_and_the_api_prefix() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert_eq!(
            base_url("https://api.example.be/api/v1/").as_deref(),
            Ok("https://api.example.be")
        );
        assert!(base_url("127.0.0.1:8080").is_err());
        assert!(base_url("ftp://example.be").is_err());
        assert!(
            base_url("not a url")
                .unwrap_err()
                .starts_with("--url `not a url` is not an http(s) URL")
        );
    }

    #[test]
    fn the_options_hide_passwords() {
        let options = AuditOptions {
            url: "http://h".into(),
            database_url: Some("postgres://app:s3cret@db/k".into()),
            login: "a@b.be:hunter2".parse().unwrap(),
            db: db::DbInputs {
                profile: crate::tune::profile::parse(
                    "[settings]\nwork_mem = \"4MB\"\n",
                    "x.toml",
                    "x",
                )
                .unwrap(),
                profile_arg: "x.toml".into(),
                guide: Vec::new(),
            },
            burst: Burst {
                clients: 1,
                duration: Duration::from_secs(1),
            },
            burst_request: burst::BurstRequest::path("/api/v1/health").unwrap(),
            timeout: Duration::from_secs(1),
        };
        let text = format!("{options:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(text.contains("postgres://app:***@db/k"), "{text}");
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn the_json_names_are_stable() {
        let c = Check::fail(CheckId::PoolBurst, "3 × 503");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["id"], "pool_burst");
        assert_eq!(json["name"], "pool under a burst");
        assert_eq!(json["status"], "fail");
        assert_eq!(
            serde_json::to_value(Status::NotChecked).unwrap(),
            "not_checked"
        );
    }
}
