//! Load generation: goose runs the virtual users (scenario, weighted transactions,
//! ramp-up); each transaction is one request kind of a [`Scenario`], timed by our own
//! code into the [`Recorder`]'s HdrHistograms.
//!
//! goose is embedded through `GooseConfiguration` and never reads the process's argv.
//! Its own metrics are off: they would measure the same requests a second time, in
//! coarser buckets, on the same two cores.

pub mod plan;
pub mod progress;
pub mod record;
pub mod scenario;
pub mod schedule;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use goose::config::GooseConfiguration;
use goose::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::error::root_cause;
pub use record::{
    Answer, DiscoveryStats, EndpointStats, IntervalRecord, LoginStats, PhaseOutcome, Recorder,
    TransportError,
};
pub use scenario::{Placeholder, Scenario};

/// Credentials a virtual user logs in with. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub email: String,
    pub password: String,
}

impl From<crate::seed::DemoLogin> for Login {
    fn from(demo: crate::seed::DemoLogin) -> Login {
        Login {
            email: demo.email,
            password: demo.password,
        }
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Login({}, ***)", self.email)
    }
}

impl std::str::FromStr for Login {
    type Err = String;

    /// `EMAIL:PASSWORD` (the password may itself contain `:`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((email, password)) if !email.is_empty() && !password.is_empty() => Ok(Login {
                email: email.to_string(),
                password: password.to_string(),
            }),
            _ => Err("expected EMAIL:PASSWORD".into()),
        }
    }
}

/// Parses `KOPROGO_PERF_LOGINS`: `EMAIL:PASSWORD` entries separated by commas or
/// whitespace (so a password holding either needs [`parse_logins_file`]). An error
/// names the entry by its number only: any fragment could be a piece of a password.
pub fn parse_logins(text: &str) -> Result<Vec<Login>, String> {
    let entries: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    entries
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse().map_err(|_| {
                format!(
                    "KOPROGO_PERF_LOGINS entry {} of {} is not EMAIL:PASSWORD (not shown); a \
                     password with a comma or a space needs --logins-file",
                    i + 1,
                    entries.len()
                )
            })
        })
        .collect()
}

/// Parses a logins file: one `EMAIL:PASSWORD` a line, the password everything after the
/// first colon (spaces, commas, `#` and `=` included); blank lines and lines starting
/// with `#` are skipped. `file` names it in errors, which give the line number only.
pub fn parse_logins_file(text: &str, file: &str) -> Result<Vec<Login>, String> {
    let mut logins = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim_start();
        if trimmed.trim_end().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let login = match trimmed.split_once(':') {
            Some((email, password)) if !email.trim().is_empty() && !password.is_empty() => Login {
                email: email.trim().to_string(),
                password: password.to_string(),
            },
            _ => {
                return Err(format!(
                    "{file}:{}: expected EMAIL:PASSWORD (the line is not shown)",
                    i + 1
                ));
            }
        };
        logins.push(login);
    }
    if logins.is_empty() {
        return Err(format!("{file}: no EMAIL:PASSWORD line"));
    }
    Ok(logins)
}

/// `--host`, checked: an http(s) URL without credentials, its trailing `/` removed.
/// Errors show it with any password hidden.
pub fn parse_host(host: &str) -> Result<(String, reqwest::Url), String> {
    let host = host.trim_end_matches('/').to_string();
    let shown = crate::redact::redact(&host);
    let Some(url) = reqwest::Url::parse(&host)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
    else {
        return Err(format!(
            "--host `{shown}` is not an http(s) URL (e.g. http://127.0.0.1:8080)"
        ));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "--host `{shown}` carries credentials (USER:PASSWORD@): sent as HTTP basic \
             auth they would replace the login token, and every request would get a \
             401; give the API's logins with --login or --logins-file"
        ));
    }
    Ok((host, url))
}

/// The logins a command was given: `--login` flags and `--logins-file`, or else
/// `KOPROGO_PERF_LOGINS`. Errors never hold a password.
pub fn resolve_logins(
    flags: &[String],
    file: Option<&std::path::Path>,
) -> Result<Vec<Login>, String> {
    let mut logins = flags
        .iter()
        .map(|l| l.parse().map_err(|e| format!("--login: {e}")))
        .collect::<Result<Vec<Login>, String>>()?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--logins-file {}: {e}", path.display()))?;
        logins.extend(parse_logins_file(&text, &path.display().to_string())?);
    }
    if logins.is_empty()
        && let Ok(env) = std::env::var("KOPROGO_PERF_LOGINS")
    {
        logins = parse_logins(&env)?;
    }
    Ok(logins)
}

/// The logins of a stack koprogo-perf seeded (`seeded`: its syndics) that a
/// scenario's users log in with: KoproGo's superadmin for a `role = "superadmin"`
/// scenario, the syndics otherwise.
pub fn logins_for(scenario: &Scenario, seeded: Vec<Login>) -> Vec<Login> {
    match scenario.role {
        scenario::LoginRole::Syndic => seeded,
        scenario::LoginRole::Superadmin => vec![crate::seed::superadmin_login().into()],
    }
}

/// A validated load run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub host: String,
    pub vus: usize,
    /// Steady-state duration, after the ramp-up. Whole seconds (goose's resolution).
    pub duration: Duration,
    /// Users are started evenly over this period; its requests are not in the statistics.
    pub ramp_up: Duration,
    pub scenario: Scenario,
    /// Users are spread over these (round robin). Empty when the scenario needs none.
    pub logins: Vec<Login>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Notified when the steady state begins (e.g. to start a profiler then).
    pub steady: Option<Arc<tokio::sync::Notify>>,
    /// Constant-rate mode (`--rate`): requests per second over the run, across all
    /// users; `vus` is then the maximum concurrency.
    pub rate: Option<schedule::RateCurve>,
    /// A test plan: its steps replace `vus`/`ramp_up`/`duration` (a rate plan keeps
    /// `vus` as the maximum concurrency).
    pub plan: Option<plan::TestPlan>,
    /// No live progress on stderr.
    pub quiet: bool,
    /// Cancelled by Ctrl-C: the statistics end then, and the users are stopped.
    pub cancel: crate::interrupt::CancellationToken,
}

/// What a run measured.
#[derive(Debug)]
pub struct LoadOutcome {
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Wall time of the steady-state window (after ramp-up) that the statistics cover.
    pub duration: Duration,
    pub endpoints: Vec<(String, EndpointStats)>,
    pub warmup_requests: u64,
    pub relogins: u64,
    /// Requests of the steady state not sent (no login, no id to fill in), by reason in
    /// the endpoints' `unsent`.
    pub skipped_requests: u64,
    /// Bytes on the wire (requests and responses, headers estimated from their fields)
    /// of the steady state.
    pub network_bytes: u64,
    /// Stopped early by Ctrl-C: the statistics cover what was measured until then.
    pub interrupted: bool,
    /// Stopped early because the host refused every connection for [`HOST_DOWN_AFTER`].
    pub host_down: bool,
    /// When the host last answered before it went down, since the run's start.
    pub host_down_at: Option<Duration>,
    /// The users' logins (whole run), when the scenario logs in.
    pub logins: Option<LoginStats>,
    /// The users' discovery of ids (whole run).
    pub discovery: DiscoveryStats,
    /// Endpoint names, in scenario order (the intervals' endpoint indexes).
    pub names: Vec<String>,
    /// One-second intervals of the whole run.
    pub intervals: Vec<IntervalRecord>,
    /// The run's phases.
    pub phases: Vec<PhaseOutcome>,
    /// Rate mode: what the schedule asked for and could not do.
    pub rate: Option<RateOutcome>,
    /// Rate mode: latencies from the actual send, per endpoint (scenario order).
    pub uncorrected: Option<Vec<hdrhistogram::Histogram<u64>>>,
}

/// The schedule's side of a constant-rate run.
#[derive(Debug, Clone, PartialEq)]
pub struct RateOutcome {
    /// Requests per second asked for at the end of the run.
    pub requested: f64,
    /// Steady-state sends later than [`schedule::LATE_AFTER`] after their slot.
    pub late: u64,
    /// Steady-state slots no user could take before the end (every user was busy).
    pub missed: u64,
}

/// Why a run could not start or complete.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot reach {host}: {detail}; start the server or check --host")]
    Unreachable { host: String, detail: String },
    #[error(
        "login as {email} at {host} failed ({detail}); check the credentials (--login \
         EMAIL:PASSWORD or KOPROGO_PERF_LOGINS)"
    )]
    LoginFailed {
        host: String,
        email: String,
        detail: String,
    },
    #[error(
        "login as {email} at {host} answered 429 Too Many Requests: the target's login rate \
         limiter refuses it (KoproGo: raise LOGIN_RATE_LIMIT_MAX and LOGIN_RATE_LIMIT_WINDOW_SECS, \
         5 logins per IP per 900 s by default), or wait for its window to pass"
    )]
    LoginLimited { host: String, email: String },
    #[error(
        "scenario `{0}` calls authenticated routes but no login was given: pass --login EMAIL:PASSWORD or set KOPROGO_PERF_LOGINS"
    )]
    NoLogins(String),
    #[error("goose could not run the load test: {0}")]
    Goose(String),
}

/// What every virtual user shares.
struct Shared {
    scenario: Scenario,
    logins: Vec<Login>,
    recorder: Arc<Recorder>,
    /// Users that finished logging in; the steady state starts when all have.
    started_users: std::sync::atomic::AtomicUsize,
    vus: usize,
    /// Signalled when the last user has logged in.
    all_ready: tokio::sync::Notify,
    /// Set when the run was stopped because the host went away.
    host_down: std::sync::atomic::AtomicBool,
    /// Distinguishes this load process's unique values from any other's.
    run_tag: String,
    needs: Needs,
    /// Rate mode: the intended send times.
    schedule: Option<schedule::Schedule>,
    /// The host, parsed once.
    base: reqwest::Url,
    /// Per request kind: its whole URL when the path has no placeholder (most GETs),
    /// so that sending it parses nothing.
    fixed_urls: Vec<Option<reqwest::Url>>,
    /// Per request kind: whether its path or body names `{building_id}` (its
    /// `{organization_id}` is then that building's).
    names_building: Vec<bool>,
    /// Per-request timeout, for the users' HTTP clients.
    timeout: Duration,
    /// The run's Ctrl-C.
    cancel: crate::interrupt::CancellationToken,
}

/// Which ids the scenario's templates need, so users discover only those.
#[derive(Debug, Clone, Copy)]
struct Needs {
    buildings: bool,
    units: bool,
    owners: bool,
}

/// One virtual user's state (goose session data).
#[derive(Clone)]
struct Vu {
    number: usize,
    login: Option<Login>,
    token: Option<String>,
    /// The login's refresh token, when the target gives one (KoproGo does).
    refresh_token: Option<String>,
    /// Failed logins in a row, for the backoff.
    login_failures: u32,
    /// No login before then (backoff after a failure).
    login_after: Option<Instant>,
    /// Discoveries made after the first (bounded by [`REDISCOVERIES`]).
    rediscoveries: u32,
    /// The user's organization, from its login (none for a superadmin).
    organization: Option<String>,
    buildings: Vec<String>,
    /// The organization of each of `buildings`, when the list said.
    building_orgs: Vec<Option<String>>,
    units: Vec<String>,
    owners: Vec<String>,
    rng: ChaCha8Rng,
    seq: u64,
    /// ETags seen per GET path, sent back as `If-None-Match` like a browser does.
    etags: std::collections::HashMap<String, String>,
}

/// ETags a user remembers at most (then it forgets them all, like a small cache).
const ETAGS_PER_USER: usize = 256;

/// Times a user learns its ids again after a request found none to fill in.
const REDISCOVERIES: u32 = 2;

/// A failed login waits 1 s, then twice as long after each further failure, up to this.
const LOGIN_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How long a failed login waits before the next: exponential from 1 s, bounded by
/// [`LOGIN_BACKOFF_MAX`], and at least the target's `Retry-After` (bounded too).
fn login_backoff(failures: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = Duration::from_secs(1 << failures.saturating_sub(1).min(5));
    exponential
        .max(retry_after.unwrap_or_default())
        .min(LOGIN_BACKOFF_MAX)
}

/// Runs the scenario and returns what was measured.
pub async fn run(options: LoadOptions) -> anyhow::Result<LoadOutcome> {
    let host = options.host.trim_end_matches('/').to_string();
    if options.scenario.needs_login() && options.logins.is_empty() {
        return Err(LoadError::NoLogins(options.scenario.name.clone()).into());
    }
    preflight(&host, &options).await?;

    let names = options
        .scenario
        .requests
        .iter()
        .map(|r| r.name.clone())
        .collect();
    let rate_mode =
        options.rate.is_some() || options.plan.as_ref().is_some_and(plan::TestPlan::is_rate);
    let recorder = Arc::new(Recorder::with_mode(names, rate_mode));
    let base = reqwest::Url::parse(&format!("{host}/"))
        .map_err(|e| LoadError::Goose(format!("--host {}: {e}", crate::redact::redact(&host))))?;
    let fixed_urls = options
        .scenario
        .requests
        .iter()
        .map(|r| {
            r.path
                .parts
                .iter()
                .all(|p| matches!(p, scenario::Part::Literal(_)))
                .then(|| join_same_origin(&base, &r.path.text))
                .flatten()
        })
        .collect();
    let started_at = chrono::Utc::now();
    let shared = Arc::new(Shared {
        needs: Needs {
            // `{organization_id}` may come from a building (a superadmin has no
            // organization of its own).
            buildings: options.scenario.uses(Placeholder::BuildingId)
                || options.scenario.uses(Placeholder::OrganizationId),
            units: options.scenario.uses(Placeholder::UnitId),
            owners: options.scenario.uses(Placeholder::OwnerId),
        },
        scenario: options.scenario.clone(),
        logins: options.logins.clone(),
        recorder: recorder.clone(),
        started_users: Default::default(),
        vus: options.vus,
        all_ready: tokio::sync::Notify::new(),
        host_down: Default::default(),
        run_tag: format!("{:06x}", rand::rng().random::<u32>() & 0xff_ffff),
        schedule: options
            .plan
            .as_ref()
            .and_then(plan::TestPlan::rate_points)
            .map(schedule::RateCurve::from_points)
            .or_else(|| options.rate.clone())
            .map(|curve| schedule::Schedule::new(curve, recorder.t0())),
        base,
        fixed_urls,
        names_building: options
            .scenario
            .requests
            .iter()
            .map(|r| {
                r.path.uses(Placeholder::BuildingId)
                    || r.body
                        .as_ref()
                        .is_some_and(|b| b.uses(Placeholder::BuildingId))
            })
            .collect(),
        timeout: options.timeout,
        cancel: options.cancel.clone(),
    });

    let attack = attack(&host, &options, &shared)?;

    let ramp_end = Instant::now() + options.ramp_up;
    let controller = match &options.plan {
        Some(p) => tokio::spawn(control_plan(
            shared.clone(),
            p.phases(),
            options.steady.clone(),
        )),
        None => tokio::spawn(control(
            shared.clone(),
            ramp_end,
            options.duration,
            options.steady.clone(),
        )),
    };
    let watchdog = tokio::spawn(watch_host(shared.clone()));
    let planned = options
        .plan
        .as_ref()
        .map_or(options.ramp_up + options.duration, plan::TestPlan::total);
    let progress = progress::Progress::new(planned, options.quiet);
    let ticker = tokio::spawn(tick(recorder.clone(), progress));
    let result = attack.execute().await;
    controller.abort();
    watchdog.abort();
    ticker.abort();
    let end = Instant::now();
    recorder.close_window(end);
    recorder.flush(end);
    let rate = shared.schedule.as_ref().map(|s| RateOutcome {
        requested: s.final_rate(),
        late: s.late(),
        missed: recorder
            .window()
            .map_or(0, |(from, length)| s.missed(from + length)),
    });
    result.map_err(|e| LoadError::Goose(e.to_string()))?;
    Ok(outcome(&recorder, &shared, started_at, rate))
}

/// What the recorder holds once the run is over.
fn outcome(
    recorder: &Recorder,
    shared: &Shared,
    started_at: chrono::DateTime<chrono::Utc>,
    rate: Option<RateOutcome>,
) -> LoadOutcome {
    let interrupted = shared.cancel.is_cancelled();
    let duration = recorder
        .window()
        .map_or(Duration::ZERO, |(_, length)| length);

    LoadOutcome {
        started_at,
        duration,
        endpoints: recorder.snapshot(),
        warmup_requests: recorder.warmup_requests(),
        relogins: recorder.relogins(),
        skipped_requests: recorder.skipped(),
        network_bytes: recorder.bytes(),
        interrupted,
        host_down: shared.host_down.load(std::sync::atomic::Ordering::SeqCst),
        host_down_at: shared
            .host_down
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| {
                recorder
                    .liveness()
                    .last_response
                    .saturating_duration_since(recorder.t0())
            }),
        logins: shared.scenario.needs_login().then(|| recorder.logins()),
        discovery: recorder.discovery(),
        names: recorder.names().to_vec(),
        intervals: recorder.intervals(),
        phases: recorder.phases(),
        rate,
        uncorrected: recorder.uncorrected(),
    }
}

/// The goose attack: a `start` transaction per user, then the scenario's requests by
/// weight, with the plan's shape when there is one.
fn attack(
    host: &str,
    options: &LoadOptions,
    shared: &Arc<Shared>,
) -> Result<GooseAttack, LoadError> {
    let mut goose_scenario = goose::goose::Scenario::new(&options.scenario.name);
    let start_shared = shared.clone();
    goose_scenario = goose_scenario.register_transaction(
        Transaction::new(Arc::new(move |user: &mut GooseUser| {
            let shared = start_shared.clone();
            Box::pin(async move { start_user(user, &shared).await })
        }))
        .set_name("start")
        .set_on_start(),
    );
    for (index, spec) in options.scenario.requests.iter().enumerate() {
        let shared = shared.clone();
        let transaction = Transaction::new(Arc::new(move |user: &mut GooseUser| {
            let shared = shared.clone();
            Box::pin(async move { send(user, &shared, index).await })
        }))
        .set_name(&spec.name)
        .set_weight(spec.weight as usize)
        .map_err(|e| LoadError::Goose(e.to_string()))?;
        goose_scenario = goose_scenario.register_transaction(transaction);
    }

    let config = goose_config(host, options);
    let mut attack = GooseAttack::initialize_with_config(config)
        .map_err(|e| LoadError::Goose(e.to_string()))?
        .register_scenario(goose_scenario)
        .set_scheduler(GooseScheduler::Random);
    if let Some(test_plan) = options
        .plan
        .as_ref()
        .and_then(plan::TestPlan::goose_test_plan)
    {
        attack = attack
            .set_default(GooseDefault::TestPlan, test_plan.as_str())
            .map_err(|e| LoadError::Goose(e.to_string()))
            .map(|boxed| *boxed)?;
    }

    Ok(attack)
}

/// Closes an interval every second of the run, on the run's clock, and shows progress
/// (the bar goes when the task is aborted at the end).
async fn tick(recorder: Arc<Recorder>, mut progress: progress::Progress) {
    let second = Duration::from_secs(1);
    let mut clock = tokio::time::interval_at((recorder.t0() + second).into(), second);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        clock.tick().await;
        let now = Instant::now();
        let interval = recorder.flush(now);
        progress.update(now.saturating_duration_since(recorder.t0()), &interval);
    }
}

/// `path` joined to `base`, or None when it is not a URL or when the result's origin
/// (scheme, host, port) is not `base`'s: a request with the login token goes to the
/// host under test and nowhere else. Scenario paths are already refused unless they
/// are origin-relative ([`scenario::origin_relative`]); this also covers what the
/// placeholders fill in.
pub fn join_same_origin(base: &reqwest::Url, path: &str) -> Option<reqwest::Url> {
    base.join(path)
        .ok()
        .filter(|url| url.origin() == base.origin())
}

/// Fails fast, with a clear message, when the host is down or the credentials are
/// wrong, instead of a run made of errors.
async fn preflight(host: &str, options: &LoadOptions) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .build()
        .context("building the HTTP client")?;
    let unreachable = |e: reqwest::Error| LoadError::Unreachable {
        host: crate::redact::redact(host),
        detail: if e.is_timeout() {
            format!(
                "no answer within {} s (--timeout)",
                options.timeout.as_secs_f64()
            )
        } else {
            root_cause(&e)
        },
    };
    if !options.scenario.needs_login() {
        client.get(host).send().await.map_err(unreachable)?;
        return Ok(());
    }
    let login = &options.logins[0];
    let (status, token) = post_login(&client, host, login)
        .await
        .map_err(unreachable)?;
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(LoadError::LoginLimited {
            host: host.to_string(),
            email: login.email.clone(),
        }
        .into());
    }
    if !status.is_success() || token.is_none() {
        return Err(LoadError::LoginFailed {
            host: crate::redact::redact(host),
            email: login.email.clone(),
            detail: format!("HTTP {status}"),
        }
        .into());
    }
    Ok(())
}

/// `POST {base}/api/v1/auth/login` with `login`: the status, and the token when the
/// answer carries one (`token`, or `access_token` as some deployments name it).
pub async fn post_login(
    client: &reqwest::Client,
    base: &str,
    login: &Login,
) -> Result<(reqwest::StatusCode, Option<String>), reqwest::Error> {
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": login.email, "password": login.password}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Ok((status, token_of(&body)))
}

/// How long after the ramp-up the steady state waits for the last logins.
const LOGIN_GRACE: Duration = Duration::from_secs(30);

/// The run's clock: the steady state starts when the ramp-up is over and every user
/// has logged in (logins are not the workload), lasts `duration`, then goose is told
/// to stop. goose's own run time is only a backstop.
async fn control(
    shared: Arc<Shared>,
    ramp_end: Instant,
    duration: Duration,
    steady: Option<Arc<tokio::sync::Notify>>,
) {
    let clock = async {
        let ready = shared.all_ready.notified();
        let _ = tokio::time::timeout_at((ramp_end + LOGIN_GRACE).into(), ready).await;
        tokio::time::sleep_until(ramp_end.into()).await;
        let now = Instant::now();
        if let Some(schedule) = &shared.schedule {
            schedule.restart(now);
        }
        shared.recorder.open_window(now, duration);
        if let Some(steady) = &steady {
            steady.notify_one();
        }
        tokio::time::sleep(duration).await;
        goose::trigger_killswitch("koprogo-perf: the steady state is over");
    };
    until_interrupted(&shared, clock).await;
}

/// Runs `clock` unless Ctrl-C comes first; then ends the statistics and stops goose.
async fn until_interrupted(shared: &Shared, clock: impl std::future::Future<Output = ()>) {
    tokio::select! {
        _ = clock => {}
        _ = shared.cancel.cancelled() => {
            // Ctrl-C: the statistics end now, not when goose has drained its users.
            shared.recorder.close_window(Instant::now());
            // goose clears its kill switch while it sets up (our handler is installed
            // first), so a Ctrl-C that came before then must be repeated.
            loop {
                if !goose::is_killswitch_triggered() {
                    goose::trigger_killswitch("interrupted by the user");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The clock of a test plan: each step's phase begins at its planned time (goose
/// follows the same plan for the users; the schedule for a rate plan); the first
/// steady step starts the steady state (profiler, late/missed counting); goose is
/// stopped when the plan is over.
async fn control_plan(
    shared: Arc<Shared>,
    phases: Vec<plan::PhaseSpec>,
    steady: Option<Arc<tokio::sync::Notify>>,
) {
    let t0 = shared.recorder.t0();
    let clock = async {
        let mut first_steady = true;
        let mut end = t0;
        for phase in &phases {
            let at = t0 + phase.start;
            tokio::time::sleep_until(at.into()).await;
            let (users, rate) = match phase.level {
                plan::Level::Users(n) => (Some(n), None),
                plan::Level::Rate(r) => (None, Some(r)),
            };
            if phase.steady && first_steady {
                first_steady = false;
                if let Some(schedule) = &shared.schedule {
                    schedule.restart(at);
                }
                if let Some(steady) = &steady {
                    steady.notify_one();
                }
            }
            shared
                .recorder
                .begin_phase(&phase.name, phase.steady, at, users, rate);
            end = at + phase.duration;
        }
        tokio::time::sleep_until(end.into()).await;
        shared.recorder.close_window(end);
        goose::trigger_killswitch("koprogo-perf: the plan is over");
    };
    until_interrupted(&shared, clock).await;
}

/// A host that refuses every connection for this long has gone away: the run stops
/// instead of spinning on refused connections until the end.
pub const HOST_DOWN_AFTER: Duration = Duration::from_secs(3);

async fn watch_host(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let live = shared.recorder.liveness();
        // Refused connections (not slow answers) for a while: on loopback, that is a
        // server that is gone.
        if live.refused_since >= 10 && live.last_response.elapsed() >= HOST_DOWN_AFTER {
            shared
                .host_down
                .store(true, std::sync::atomic::Ordering::SeqCst);
            shared.recorder.close_window(Instant::now());
            goose::trigger_killswitch("koprogo-perf: the host stopped accepting connections");
            return;
        }
    }
}

fn goose_config(host: &str, options: &LoadOptions) -> GooseConfiguration {
    let mut config = GooseConfiguration::default();
    config.host = Some(host.to_string());
    config.timeout = Some(options.timeout.as_secs().max(1).to_string());
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_metrics = true;
    config.no_telnet = true;
    config.no_gzip = true;
    match &options.plan {
        // goose runs the users' plan itself (set as its default test plan).
        Some(p) if !p.is_rate() => return config,
        // A rate plan: every user from the start, the schedule paces them.
        Some(p) => {
            config.users = Some(options.vus);
            config.increase_rate = Some((options.vus * 1000).to_string());
            let backstop = p.total() + Duration::from_secs(10);
            config.run_time = Some(backstop.as_secs().to_string());
            return config;
        }
        None => {}
    }
    config.users = Some(options.vus);
    let ramp = options.ramp_up.as_secs();
    if ramp > 0 && options.vus >= 2 {
        config.increase_time = Some(ramp.to_string());
    } else {
        // All at once: a rate far above the user count.
        config.increase_rate = Some((options.vus * 1000).to_string());
    }
    let backstop = options.duration + LOGIN_GRACE + Duration::from_secs(10);
    config.run_time = Some(backstop.as_secs().to_string());
    config
}

/// goose's on-start transaction: give the user a lean HTTP client, log in and learn
/// the organization's ids.
async fn start_user(user: &mut GooseUser, shared: &Shared) -> TransactionResult {
    // goose's default client keeps a cookie jar, follows redirects and asks for gzip;
    // KoproGo's API needs none of these (a bearer token, JSON answers), and each costs
    // the generator CPU on every request (see benches/generator.sh --profile).
    user.set_client_builder(
        reqwest::Client::builder()
            .timeout(shared.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("koprogo-perf/", env!("CARGO_PKG_VERSION"))),
    )
    .await?;
    let number = user.weighted_users_index;
    let login = (!shared.logins.is_empty() && shared.scenario.needs_login())
        .then(|| shared.logins[number % shared.logins.len()].clone());
    user.set_session_data(Vu {
        number,
        login,
        token: None,
        refresh_token: None,
        login_failures: 0,
        login_after: None,
        rediscoveries: 0,
        organization: None,
        buildings: Vec::new(),
        building_orgs: Vec::new(),
        units: Vec::new(),
        owners: Vec::new(),
        rng: ChaCha8Rng::seed_from_u64(rand::rng().random()),
        seq: 0,
        etags: Default::default(),
    });
    if shared.scenario.needs_login() {
        log_in(user, shared).await;
        discover(user, shared).await;
    }
    // Logins are not the workload: the statistics start once every user is ready.
    let ready = shared
        .started_users
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        + 1;
    if ready == shared.vus {
        shared.all_ready.notify_one();
    }
    Ok(())
}

/// Logs the user in (again), timed and counted; on failure leaves the token empty and
/// sets the backoff before the next attempt.
async fn log_in(user: &mut GooseUser, shared: &Shared) {
    let Some(login) = vu(user).login.clone() else {
        return;
    };
    let body = serde_json::json!({"email": login.email, "password": login.password});
    let url = shared
        .base
        .join("api/v1/auth/login")
        .expect("a fixed path joins");
    let started = Instant::now();
    let response = user.client.post(url).json(&body).send().await;
    let (outcome, retry_after, tokens) = match response {
        Ok(r) => {
            let status = r.status();
            let retry_after = r
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            match r.bytes().await {
                Ok(bytes) => {
                    let tokens = status
                        .is_success()
                        .then(|| serde_json::from_slice::<Value>(&bytes).ok())
                        .flatten()
                        .and_then(|v| {
                            token_of(&v).map(|t| (t, refresh_token_of(&v), organization_of(&v)))
                        });
                    (Ok(status.as_u16()), retry_after, tokens)
                }
                Err(e) => (Err(classify(&e)), None, None),
            }
        }
        Err(e) => (Err(classify(&e)), None, None),
    };
    let number = vu(user).number;
    shared
        .recorder
        .record_login(number, started.elapsed(), outcome, tokens.is_some());
    let state = vu_mut(user);
    match tokens {
        Some((token, refresh, organization)) => {
            state.token = Some(token);
            state.refresh_token = refresh;
            state.organization = organization;
            state.login_failures = 0;
            state.login_after = None;
        }
        None => {
            state.token = None;
            state.login_failures += 1;
            state.login_after =
                Some(Instant::now() + login_backoff(state.login_failures, retry_after));
        }
    }
}

/// Renews the access token with the refresh token (`POST /api/v1/auth/refresh`, as
/// KoproGo); true when it gave a new one. The refresh token is used once either way.
async fn refresh(user: &mut GooseUser, shared: &Shared) -> bool {
    let Some(refresh_token) = vu_mut(user).refresh_token.take() else {
        return false;
    };
    let url = shared
        .base
        .join("api/v1/auth/refresh")
        .expect("a fixed path joins");
    let response = user
        .client
        .post(url)
        .json(&serde_json::json!({"refresh_token": refresh_token}))
        .send()
        .await;
    let (outcome, tokens) = match response {
        Ok(r) => {
            let status = r.status();
            let body = r.json::<Value>().await.ok();
            let tokens = status
                .is_success()
                .then_some(body)
                .flatten()
                .and_then(|v| token_of(&v).map(|t| (t, refresh_token_of(&v))));
            (Ok(status.as_u16()), tokens)
        }
        Err(e) => (Err(classify(&e)), None),
    };
    let number = vu(user).number;
    shared
        .recorder
        .record_refresh(number, outcome, tokens.is_some());
    match tokens {
        Some((token, next)) => {
            let state = vu_mut(user);
            state.token = Some(token);
            // Rotating refresh tokens come back new; otherwise the same one stays valid.
            state.refresh_token = next.or(Some(refresh_token));
            true
        }
        None => false,
    }
}

/// Makes sure the user has a token: the refresh token first, then a login unless a
/// failed one is backing off. False when the user still has none.
async fn ensure_token(user: &mut GooseUser, shared: &Shared) -> bool {
    if vu(user).token.is_some() {
        return true;
    }
    if refresh(user, shared).await {
        return true;
    }
    if vu(user)
        .login_after
        .is_some_and(|after| Instant::now() < after)
    {
        return false;
    }
    log_in(user, shared).await;
    vu(user).token.is_some()
}

/// Waits for the user's login backoff to end, one second at most (so a user without a
/// token counts one unsent request per second of waiting), in short sleeps so that a
/// stopping run is not held.
/// It always yields: goose calls the next transaction until it stops the user, and a
/// transaction that never awaits would starve goose's own tasks.
async fn wait_for_login(user: &GooseUser) {
    let until = Instant::now() + Duration::from_secs(1);
    loop {
        if goose::is_killswitch_triggered() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            return;
        }
        let now = Instant::now();
        let end = vu(user).login_after.map_or(now, |after| after.min(until));
        if now >= end {
            tokio::task::yield_now().await;
            return;
        }
        tokio::time::sleep((end - now).min(Duration::from_millis(100))).await;
    }
}

/// The access token of a login response: KoproGo's `token`, or OAuth's `access_token`.
fn token_of(body: &Value) -> Option<String> {
    body.get("token")
        .or_else(|| body.get("access_token"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The organization of the user a login response names (KoproGo's
/// `user.organization_id`; null for a superadmin).
fn organization_of(body: &Value) -> Option<String> {
    body.get("user")?
        .get("organization_id")?
        .as_str()
        .map(str::to_string)
}

/// The refresh token of a login or refresh response, when there is one.
fn refresh_token_of(body: &Value) -> Option<String> {
    body.get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The list each id placeholder is learned from after login (`data[].id` of its first
/// page of 100), by every virtual user and by the audit's burst alike.
pub const DISCOVERY: [(Placeholder, &str); 3] = [
    (
        Placeholder::BuildingId,
        "api/v1/buildings?page=1&per_page=100",
    ),
    (Placeholder::UnitId, "api/v1/units?page=1&per_page=100"),
    (Placeholder::OwnerId, "api/v1/owners?page=1&per_page=100"),
];

/// The ids of a list's answer (`data[].id`); `None` when it is not such a list.
pub fn ids_of(body: &Value) -> Option<Vec<String>> {
    rows_of(body).map(|rows| rows.into_iter().map(|(id, _)| id).collect())
}

/// The ids of a list's answer with each row's `organization_id` when it has one
/// (KoproGo's buildings do: a superadmin's span organizations).
pub fn rows_of(body: &Value) -> Option<Vec<(String, Option<String>)>> {
    body.get("data")?.as_array().map(|items| {
        items
            .iter()
            .filter_map(|i| {
                let id = i.get("id")?.as_str()?.to_string();
                let org = i
                    .get("organization_id")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Some((id, org))
            })
            .collect()
    })
}

/// Learns the ids of the user's organization through the list endpoints
/// ([`DISCOVERY`]), counted apart from the workload.
async fn discover(user: &mut GooseUser, shared: &Shared) {
    let needs = shared.needs;
    for (placeholder, path) in DISCOVERY {
        let needed = match placeholder {
            Placeholder::BuildingId => needs.buildings,
            Placeholder::UnitId => needs.units,
            _ => needs.owners,
        };
        if !needed {
            continue;
        }
        let Ok(url) = shared.base.join(path) else {
            continue;
        };
        let mut builder = user.client.get(url);
        if let Some(token) = vu(user).token.clone() {
            builder = builder.bearer_auth(token);
        }
        let (outcome, rows) = match builder.send().await {
            Ok(r) => {
                let status = r.status();
                let rows = if status.is_success() {
                    r.json::<Value>().await.ok().as_ref().and_then(rows_of)
                } else {
                    None
                };
                (Ok(status.as_u16()), rows)
            }
            Err(e) => (Err(classify(&e)), None),
        };
        shared.recorder.record_discovery(outcome, rows.is_none());
        let (ids, orgs): (Vec<String>, Vec<Option<String>>) =
            rows.unwrap_or_default().into_iter().unzip();
        let state = vu_mut(user);
        match placeholder {
            Placeholder::BuildingId => {
                state.buildings = ids;
                state.building_orgs = orgs;
            }
            Placeholder::UnitId => state.units = ids,
            _ => state.owners = ids,
        }
    }
}

/// The ids a user learned ([`DISCOVERY`]), for filling templates outside a load.
#[derive(Debug, Clone, Default)]
pub struct Learned {
    pub buildings: Vec<String>,
    /// The organization of each of `buildings`, when the list said (for
    /// `{organization_id}`).
    pub building_orgs: Vec<Option<String>>,
    pub units: Vec<String>,
    pub owners: Vec<String>,
    /// The user's own organization, from its login (none for a superadmin).
    pub organization: Option<String>,
}

/// Fills `template` once as virtual user `number` would with the ids `learned` (an id
/// picked at random, random values drawn from `seed`); `Err` names the id it needs that
/// `learned` has none of. The audit's burst fills its request this way.
pub fn fill(
    template: &scenario::Template,
    learned: &Learned,
    number: usize,
    seed: u64,
) -> Result<String, &'static str> {
    let mut state = Vu {
        number,
        login: None,
        token: None,
        refresh_token: None,
        login_failures: 0,
        login_after: None,
        rediscoveries: 0,
        organization: learned.organization.clone(),
        buildings: learned.buildings.clone(),
        building_orgs: learned.building_orgs.clone(),
        units: learned.units.clone(),
        owners: learned.owners.clone(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        seq: 0,
        etags: Default::default(),
    };
    let names_building = template.uses(Placeholder::BuildingId);
    render(
        template,
        &mut state,
        &mut Picks::default(),
        names_building,
        "audit",
    )
}

fn vu(user: &GooseUser) -> &Vu {
    user.get_session_data_unchecked::<Vu>()
}

fn vu_mut(user: &mut GooseUser) -> &mut Vu {
    user.get_session_data_unchecked_mut::<Vu>()
}

/// What one request has picked so far, shared by its path and its body: the
/// building, so that `{building_id}` and `{organization_id}` agree.
#[derive(Default)]
struct Picks {
    building: Option<usize>,
}

/// The request's building, picked on first use.
fn building(state: &mut Vu, picks: &mut Picks) -> Option<usize> {
    if picks.building.is_none() && !state.buildings.is_empty() {
        picks.building = Some(state.rng.random_range(0..state.buildings.len()));
    }
    picks.building
}

/// The request's organization: its building's when it names one, else the user's own,
/// else (a superadmin) a learned building's.
fn organization(state: &mut Vu, picks: &mut Picks, uses_building: bool) -> Option<String> {
    if uses_building
        && let Some(b) = building(state, picks)
        && let Some(Some(org)) = state.building_orgs.get(b)
    {
        return Some(org.clone());
    }
    if let Some(org) = &state.organization {
        return Some(org.clone());
    }
    let known: Vec<usize> = (0..state.building_orgs.len())
        .filter(|&i| state.building_orgs[i].is_some())
        .collect();
    if known.is_empty() {
        return None;
    }
    let i = known[state.rng.random_range(0..known.len())];
    state.building_orgs[i].clone()
}

/// Fills a template for this user. `Err` names the id it needs that the user has not
/// learned (its organization has no such rows, or discovery failed).
fn render(
    template: &scenario::Template,
    state: &mut Vu,
    picks: &mut Picks,
    uses_building: bool,
    run_tag: &str,
) -> Result<String, &'static str> {
    let mut missing = None;
    let text = template.render(|p, out| {
        let pick = |ids: &[String], rng: &mut ChaCha8Rng| -> Option<String> {
            (!ids.is_empty()).then(|| ids[rng.random_range(0..ids.len())].clone())
        };
        let value = match p {
            Placeholder::BuildingId => building(state, picks).map(|b| state.buildings[b].clone()),
            Placeholder::OrganizationId => organization(state, picks, uses_building),
            Placeholder::UnitId => pick(&state.units, &mut state.rng),
            Placeholder::OwnerId => pick(&state.owners, &mut state.rng),
            Placeholder::Unique => {
                state.seq += 1;
                Some(format!("{run_tag}-{}-{}", state.number, state.seq))
            }
            Placeholder::Vu => Some(state.number.to_string()),
            Placeholder::Int(lo, hi) => Some(state.rng.random_range(*lo..=*hi).to_string()),
            Placeholder::Amount(lo, hi) => {
                let cents = state.rng.random_range(lo * 100..=hi * 100).max(1);
                Some(format!("{}.{:02}", cents / 100, cents % 100))
            }
            Placeholder::Date => {
                let days = state.rng.random_range(0..365);
                let date = chrono::Utc::now().date_naive() - chrono::Days::new(days);
                Some(date.format("%Y-%m-%d").to_string())
            }
            Placeholder::DateTime => {
                let seconds = state.rng.random_range(0..365 * 86_400);
                let at = chrono::Utc::now() - chrono::Duration::seconds(seconds);
                Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            }
            Placeholder::Uuid => Some(uuid::Uuid::from_bytes(state.rng.random()).to_string()),
        };
        match value {
            Some(v) => out.push_str(&v),
            None => {
                missing = Some(match p {
                    Placeholder::BuildingId => "building_id",
                    Placeholder::UnitId => "unit_id",
                    Placeholder::OrganizationId => "organization_id",
                    _ => "owner_id",
                })
            }
        }
    });
    match missing {
        None => Ok(text),
        Some(name) => Err(name),
    }
}

/// Fills a request's path and body for this user, one building for both (see
/// [`Picks`]); `Err` as [`render`].
fn render_request(
    spec: &scenario::RequestSpec,
    state: &mut Vu,
    names_building: bool,
    run_tag: &str,
) -> Result<(String, Option<String>), &'static str> {
    let mut picks = Picks::default();
    let path = render(&spec.path, state, &mut picks, names_building, run_tag)?;
    let body = match &spec.body {
        Some(b) => Some(render(b, state, &mut picks, names_building, run_tag)?),
        None => None,
    };
    Ok((path, body))
}

/// Rate mode: waits for this request's slot and returns it (its latency counts from
/// it); None when the user sends nothing now (the plan asks for no more requests, or
/// the run is stopping).
async fn wait_for_slot(schedule: &schedule::Schedule) -> Option<Instant> {
    let Some(slot) = schedule.claim(Instant::now()) else {
        // The plan asks for no more requests: idle until goose stops the user.
        tokio::time::sleep(Duration::from_millis(100)).await;
        return None;
    };
    // In short sleeps, so that a stopping run does not wait on a far slot.
    while Instant::now() < slot {
        if goose::is_killswitch_triggered() {
            // goose calls the next transaction until it stops the user: yield
            // rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return None;
        }
        let left = slot.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_millis(100))).await;
    }
    Some(slot)
}

fn http_method(method: scenario::Method) -> reqwest::Method {
    match method {
        scenario::Method::Get => reqwest::Method::GET,
        scenario::Method::Post => reqwest::Method::POST,
        scenario::Method::Put => reqwest::Method::PUT,
        scenario::Method::Patch => reqwest::Method::PATCH,
        scenario::Method::Delete => reqwest::Method::DELETE,
    }
}

/// One request of kind `index`: render, send, time (body included), record; on a 401
/// log in again and retry once (KoproGo's access tokens expire after 15 minutes).
async fn send(user: &mut GooseUser, shared: &Shared, index: usize) -> TransactionResult {
    let spec = &shared.scenario.requests[index];
    shared.recorder.note_user(vu(user).number);
    // Rate mode: wait for this request's slot; its latency counts from the slot.
    let intended = match &shared.schedule {
        Some(schedule) => match wait_for_slot(schedule).await {
            Some(slot) => Some(slot),
            None => return Ok(()),
        },
        None => None,
    };
    for attempt in 0..2 {
        if spec.auth && !ensure_token(user, shared).await {
            // No token and the login failed (or backs off): the request is not sent, and
            // the user waits for its next login instead of posting one before every
            // request.
            shared
                .recorder
                .record_unsent(index, intended, "not logged in (the login failed)");
            wait_for_login(user).await;
            return Ok(());
        }
        let state = vu_mut(user);
        let rendered = render_request(spec, state, shared.names_building[index], &shared.run_tag);
        let (path, body) = match rendered {
            Ok(rendered) => rendered,
            Err(missing) => {
                // The user knows none of the ids this request needs: learn again (a few
                // times at most), and count the request apart, never as latency.
                if vu(user).rediscoveries < REDISCOVERIES {
                    vu_mut(user).rediscoveries += 1;
                    shared.recorder.record_rediscovery();
                    discover(user, shared).await;
                }
                shared
                    .recorder
                    .record_unsent(index, intended, &record::missing_id_reason(missing));
                // Not a hot loop over requests that cannot be sent.
                tokio::time::sleep(spec.think_time.max(Duration::from_millis(100))).await;
                return Ok(());
            }
        };
        let token = if spec.auth { state.token.clone() } else { None };
        // Request line, body and headers (bearer token plus ~100 bytes of the rest).
        let request_bytes = (spec.method.to_string().len()
            + path.len()
            + body.as_ref().map_or(0, String::len)
            + token.as_ref().map_or(0, |t| t.len() + 22)
            + 100) as u64;
        let method = http_method(spec.method);
        // The user's own client, straight: goose's request path would parse the URL
        // twice and copy it into per-request metrics that are switched off anyway.
        let url = match &shared.fixed_urls[index] {
            Some(url) => url.clone(),
            None => match join_same_origin(&shared.base, &path) {
                Some(url) => url,
                // Not a URL, or one that leaves the host (an id learned from a response
                // that reads `/other.host`): never sent, so the token stays home.
                None => {
                    shared.recorder.record_unsent(
                        index,
                        intended,
                        "the path makes no URL on the host's origin",
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return Ok(());
                }
            },
        };
        let is_get = method == reqwest::Method::GET;
        let mut builder = user.client.request(method, url);
        if is_get && let Some(tag) = vu(user).etags.get(&path) {
            builder = builder.header(reqwest::header::IF_NONE_MATCH, tag.as_str());
        }
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let started = Instant::now();
        let (outcome, body, response_bytes) =
            receive(user, builder.send().await, is_get.then_some(path.as_str())).await;
        let latency = started.elapsed();
        if outcome == Ok(401) && spec.auth && attempt == 0 {
            shared.recorder.record_relogin();
            vu_mut(user).token = None;
            continue;
        }
        let answer = judge(spec, outcome, body.as_deref());
        let intended = intended.unwrap_or(started);
        shared
            .recorder
            .record_answer(index, intended, started, latency, answer);
        shared
            .recorder
            .add_bytes(intended, request_bytes + response_bytes);
        break;
    }
    // The schedule paces a rate-mode run; think time paces a closed-loop one.
    if shared.schedule.is_none() && !spec.think_time.is_zero() {
        tokio::time::sleep(spec.think_time).await;
    }
    Ok(())
}

/// A response read whole: its status (or why there is none), its body, and its bytes
/// on the wire (status line, headers, body). For a GET (`get_path`), the ETag it
/// carries is kept for the user's next `If-None-Match`.
async fn receive(
    user: &mut GooseUser,
    response: reqwest::Result<reqwest::Response>,
    get_path: Option<&str>,
) -> (Result<u16, TransportError>, Option<hyper::body::Bytes>, u64) {
    let r = match response {
        Ok(r) => r,
        Err(e) => return (Err(classify(&e)), None, 0),
    };
    let status = r.status().as_u16();
    if let Some(path) = get_path
        && let Some(tag) = r
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
    {
        let etags = &mut vu_mut(user).etags;
        if etags.len() >= ETAGS_PER_USER {
            etags.clear();
        }
        etags.insert(path.to_string(), tag.to_string());
    }
    // Status line and headers as they travel: "name: value\r\n" each.
    let headers: usize = r
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    match r.bytes().await {
        Ok(body) => {
            let bytes = (17 + headers + body.len()) as u64;
            (Ok(status), Some(body), bytes)
        }
        Err(e) => (Err(classify(&e)), None, 0),
    }
}

/// Whether a response succeeded: its status is one the request expects (2xx and 3xx
/// unless it declares `expect`), and every JSON pointer of its `check` is in the body.
fn judge(
    spec: &scenario::RequestSpec,
    outcome: Result<u16, TransportError>,
    body: Option<&[u8]>,
) -> Answer {
    let Ok(status) = outcome else {
        return Answer::of(outcome);
    };
    let expected = if spec.expect.is_empty() {
        crate::latency::is_success(status)
    } else {
        spec.expect.contains(&status)
    };
    let checks_hold = !expected
        || spec.check.is_empty()
        || body
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .is_some_and(|v| spec.check.iter().all(|p| v.pointer(p).is_some()));
    Answer {
        outcome,
        ok: expected && checks_hold,
        check_failed: expected && !checks_hold,
    }
}

/// The kind of a request that got no response: timed out, refused, reset or closed
/// before the whole response came, or something else.
fn classify(e: &reqwest::Error) -> TransportError {
    if e.is_timeout() {
        return TransportError::Timeout;
    }
    if e.is_connect() {
        return TransportError::Connect;
    }
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return TransportError::Reset;
        }
        if let Some(h) = c.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            return TransportError::Reset;
        }
        cause = c.source();
    }
    TransportError::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_parse_and_never_show_their_password() {
        let l: Login = "syndic@grandplace.be:syn:dic123".parse().unwrap();
        assert_eq!(l.email, "syndic@grandplace.be");
        assert_eq!(l.password, "syn:dic123");
        assert!(!format!("{l:?}").contains("dic123"));
        assert!("nopassword".parse::<Login>().is_err());
        let all = parse_logins("a@b.be:x, c@d.be:y\ne@f.be:z").unwrap();
        assert_eq!(all.len(), 3);
        let e = parse_logins("a@b.be:x,bad").unwrap_err();
        assert!(!e.contains(":x"), "{e}");
        // A password with a comma is split; the piece after it is not echoed.
        let e = parse_logins("a@b.be:sec,retCANARY").unwrap_err();
        assert!(!e.contains("CANARY") && !e.contains("sec"), "{e}");
        assert!(e.contains("entry 2 of 2"), "{e}");
    }

    #[test]
    fn a_logins_file_carries_any_password() {
        let text = "# the syndics\n\n  a@b.be:pa ss, w#o=rd:?\r\nc@d.be::colon \n";
        let all = parse_logins_file(text, "logins.txt").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].email, "a@b.be");
        assert_eq!(all[0].password, "pa ss, w#o=rd:?");
        assert_eq!(all[1].password, ":colon ");
        let e = parse_logins_file("a@b.be:x\nnoCANARYcolon\n", "f").unwrap_err();
        assert_eq!(e, "f:2: expected EMAIL:PASSWORD (the line is not shown)");
        assert!(parse_logins_file("# only\n", "f").is_err());
    }
}
