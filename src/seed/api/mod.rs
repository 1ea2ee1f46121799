//! `seed --host`: the reference data set created on a running KoproGo through its own
//! API, as its superadmin, so that an operator can load their own deployment at scale.
//!
//! The rows are the reference seed's (the same [`SeedMaterial`] stream: organization
//! *i* is the same at every scale), sent as KoproGo's routes take them:
//!
//! | rows | request | as |
//! | --- | --- | --- |
//! | organizations | `POST /organizations` | superadmin |
//! | syndic, accountant and owner users | `POST /users` | superadmin |
//! | the PCMN chart | `POST /accounts/seed/belgian-pcmn` | superadmin |
//! | buildings, units | `POST /buildings`, `POST /units` | superadmin |
//! | owners, current ownerships | `POST /owners`, `POST /units/{id}/owners` | the syndic |
//! | expenses | `POST /expenses` (draft), then `PUT /invoices/{id}/submit`, `/approve` or `/reject`, `PUT /expenses/{id}/mark-paid`, `POST /expenses/{id}/mark-overdue` or `/cancel` | the syndic |
//!
//! KoproGo's API cannot create the rest, which is left out and said so in the summary:
//! past ownerships (an ownership starts when it is added), meetings, the history of
//! `created_at` (KoproGo stamps the time of the request), and the link from the owner
//! user to its owner record.
//!
//! Resuming: everything is found again by its natural key (an organization's slug, a
//! user's e-mail, a building's name and address, a unit's number, an owner's e-mail,
//! an expense's invoice number, description and amount) before it is created, and an
//! expense found in an earlier state is moved on; what a first run created from
//! scratch is not looked up at all. A second run therefore creates nothing twice.

mod client;
mod logins_out;
mod org;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::generate::{EXPENSES_PER_BUILDING, SHAPES, SeedMaterial};
use crate::logins::Login;
pub use client::{Api, Session};
pub use logins_out::LoginsOut;

/// What to create, and where.
#[derive(Debug, Clone)]
pub struct ApiSeedOptions {
    /// The target's base URL (without /api/v1), validated.
    pub host: String,
    /// The superadmin's login.
    pub admin: Login,
    pub scale: u32,
    pub rng_seed: u64,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Where the created logins go (and where a resumed run finds them).
    pub logins_out: PathBuf,
}

/// Why the seed stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApiSeedError {
    #[error("cannot reach {host}: {cause}; is KoproGo running there?")]
    Unreachable { host: String, cause: String },
    #[error("{request} answered {status}: {message}")]
    Refused {
        request: String,
        status: u16,
        message: String,
    },
    #[error(
        "login as {email} refused (HTTP {status}): check the password{}",
        if *status == 429 { " (or raise KoproGo's LOGIN_RATE_LIMIT_MAX)" } else { "" }
    )]
    LoginFailed { email: String, status: u16 },
    #[error("{email} logs in as {role}, not as KoproGo's superadmin: --admin needs the superadmin")]
    NotSuperadmin { email: String, role: String },
    #[error(
        "user {email} already exists on the target but {file} has no password for it: \
         restore the logins file of the run that created it, or delete the user"
    )]
    UnknownPassword { email: String, file: String },
    #[error("logins file {path}: {cause}")]
    LoginsFile { path: String, cause: String },
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("interrupted: run the same command again to finish what is missing")]
    Interrupted,
}

/// Rows of each kind.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Rows {
    pub organizations: u64,
    pub users: u64,
    pub accounts: u64,
    pub buildings: u64,
    pub units: u64,
    pub owners: u64,
    pub unit_owners: u64,
    pub expenses: u64,
    /// Workflow and payment moves of expenses (submit, approve, reject, mark-paid, …).
    pub expense_moves: u64,
    /// Approvals the target refused for want of something the API seed does not
    /// create (KoproGo: a Works invoice needs a validated contractor report); those
    /// invoices stay pending_approval.
    pub approvals_refused: u64,
}

impl std::ops::AddAssign for Rows {
    fn add_assign(&mut self, o: Rows) {
        self.organizations += o.organizations;
        self.users += o.users;
        self.accounts += o.accounts;
        self.buildings += o.buildings;
        self.units += o.units;
        self.owners += o.owners;
        self.unit_owners += o.unit_owners;
        self.expenses += o.expenses;
        self.expense_moves += o.expense_moves;
        self.approvals_refused += o.approvals_refused;
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct ApiSeedSummary {
    /// Created by this run.
    pub created: Rows,
    /// Found on the target, left as they were (or moved on, for expenses).
    pub found: Rows,
    pub requests: u64,
    /// 429 answers waited out.
    pub rate_limited: u64,
    /// 408/502/503/504 answers and broken connections retried.
    pub unavailable: u64,
    #[serde(rename = "elapsed_secs", serialize_with = "super::as_secs_f64")]
    pub elapsed: Duration,
    /// Syndic logins in the logins file.
    pub syndic_logins: usize,
    /// What KoproGo's API cannot create.
    pub not_created: &'static [&'static str],
}

/// What the API offers no way to create.
pub const NOT_CREATED: &[&str] = &[
    "past ownerships (an ownership starts when it is added)",
    "meetings",
    "the seed's created_at history (KoproGo stamps the request's time)",
    "the owner user's link to its owner record",
];

/// Shared by the organizations being seeded.
struct Run {
    api: Api,
    admin: Session,
    material: SeedMaterial,
    logins: Mutex<LoginsOut>,
    logins_path: String,
    /// Slug → id of the organizations the target had when the run started.
    existing: std::collections::HashMap<String, String>,
    progress: indicatif::ProgressBar,
    cancel: CancellationToken,
}

/// Creates what is missing of the reference data set at `options.scale` on the target.
pub async fn seed_via_api(
    options: &ApiSeedOptions,
    cancel: &CancellationToken,
) -> Result<ApiSeedSummary, ApiSeedError> {
    let started = Instant::now();
    let shown = crate::redact::redact(&options.host);
    let api = Api::new(&options.host, shown, options.concurrency)?;
    let logins = LoginsOut::open(&options.logins_out)?;
    let admin = api.login(&options.admin).await?;
    if admin.role != "superadmin" {
        return Err(ApiSeedError::NotSuperadmin {
            email: options.admin.email.clone(),
            role: admin.role,
        });
    }
    let listed = api
        .expect_ok(Method::GET, "/organizations", &admin.token, None)
        .await?;
    let existing = items(&listed)
        .iter()
        .filter_map(|o| Some((text(o, "slug")?, text(o, "id")?)))
        .collect();
    let material = SeedMaterial::new(options.scale, options.rng_seed);
    let organizations = material.organizations();
    let run = Arc::new(Run {
        api,
        admin,
        material,
        logins: Mutex::new(logins),
        logins_path: options.logins_out.display().to_string(),
        existing,
        progress: progress_bar(organizations),
        cancel: cancel.clone(),
    });
    // A few organizations at a time: each keeps several requests in flight, and the
    // semaphore holds the total to --concurrency.
    let parallel = options.concurrency.div_ceil(4).clamp(1, 16);
    let mut results = futures::stream::iter(0..organizations)
        .map(|index| {
            let run = Arc::clone(&run);
            async move { org::seed_organization(&run, index).await }
        })
        .buffer_unordered(parallel);
    let (mut created, mut found) = (Rows::default(), Rows::default());
    let mut failure = None;
    let mut done = 0usize;
    while let Some(result) = results.next().await {
        match result {
            Ok((c, f)) => {
                created += c;
                found += f;
                done += 1;
                run.progress.inc(1);
                // Without a terminal (CI logs): a line at every tenth of the way.
                if run.progress.is_hidden()
                    && (done * 10 / organizations) > ((done - 1) * 10 / organizations)
                {
                    eprintln!(
                        "seed: {done}/{organizations} organizations, {} expenses created, {} found, {:.0} s",
                        created.expenses,
                        found.expenses,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            Err(e) => {
                // Stop sending: the organizations under way see the token and end.
                run.cancel.cancel();
                if failure.is_none() || matches!(failure, Some(ApiSeedError::Interrupted)) {
                    failure = Some(e);
                }
            }
        }
    }
    run.progress.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    let counters = &run.api.counters;
    Ok(ApiSeedSummary {
        created,
        found,
        requests: counters.requests.load(Ordering::Relaxed),
        rate_limited: counters.rate_limited.load(Ordering::Relaxed),
        unavailable: counters.unavailable.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        syndic_logins: run.logins.lock().await.syndics(),
        not_created: NOT_CREATED,
    })
}

/// The expenses a full seed at `scale` has (for the summary's ratio).
pub fn expected_expenses(scale: u32) -> u64 {
    let per_round: usize =
        SHAPES.iter().map(|s| s.buildings).sum::<usize>() * EXPENSES_PER_BUILDING;
    u64::from(scale) * per_round as u64
}

fn progress_bar(organizations: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(organizations as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} organizations  {elapsed_precise}  eta {eta}",
        )
        .expect("the template is valid"),
    );
    bar
}

/// The rows of a list answer: a plain array, or KoproGo's `{"data": [...]}` page.
fn items(body: &Value) -> &[Value] {
    body.as_array()
        .or_else(|| body.get("data").and_then(Value::as_array))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}
