//! The reference server's settings: raw command-line/environment arguments
//! ([`ServerArgs`]) resolved once into a validated [`ServerConfig`].
//!
//! The tuning guide's optimizations are switches here, each a field of both structs
//! and a flag of `serve`/`load`: the pool's size and acquire timeout, the PCMN
//! account cache, concurrent list queries, gzip and HTTP caching headers, plus one
//! of ours that the guide does not name, `pool_ping` (sqlx's `test_before_acquire`,
//! which a flamegraph showed at about a quarter of the server's CPU).
//!
//! A [`Preset`] gives every switch its starting value (`baseline` is the guide's
//! "before", `tuned` its "after"); a flag given on its own overrides the preset. An
//! [`Optimization`] is one switch moved from its baseline value to its tuned one,
//! which is how `experiment --each` builds "baseline plus one optimization" arms
//! ([`ServerArgs::for_arm`]).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Lifetime of an access token, as in KoproGo.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Shortest JWT secret accepted from the user, in bytes.
pub const MIN_JWT_SECRET_LEN: usize = 16;

/// Longest accepted pool acquire timeout: beyond that a load test is measuring queues.
const MAX_ACQUIRE_TIMEOUT_SECS: f64 = 3600.0;

/// Default seconds a client has to send a request's headers.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: f64 = 5.0;
/// Longest accepted header read timeout.
const MAX_HEADER_READ_TIMEOUT_SECS: f64 = 3600.0;
/// Longest accepted login window: 30 days.
const MAX_LOGIN_WINDOW_SECS: u64 = 30 * 24 * 3600;

/// A named set of starting values for the switches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// The guide's "before": every switch off, a pool of 10 with sqlx's default 30 s
    /// acquire timeout (the guide's code set none before its change), and sqlx's
    /// default ping on every acquire.
    #[default]
    Baseline,
    /// The guide's "after": every switch on, a pool of 20 with a 3 s acquire timeout,
    /// no ping on acquire.
    Tuned,
}

impl Preset {
    /// Every preset.
    pub const ALL: &'static [Preset] = &[Preset::Baseline, Preset::Tuned];

    /// Its name on the command line and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Tuned => "tuned",
        }
    }

    /// The preset named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One optimization: a switch moved from its `baseline` value to its `tuned` one.
/// `tuned` is `baseline` with all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Optimization {
    /// The guide's pool change: 20 connections, a 3 s acquire timeout.
    Pool20,
    /// Ours, not the guide's: no ping (`test_before_acquire`) on every acquire.
    NoPoolPing,
    /// PCMN accounts served from memory.
    AccountCache,
    /// A list's COUNT and page query (and the building sub-lists' lookups) at once.
    ParallelQueries,
    /// gzip responses above 1 KiB for clients that accept it.
    Gzip,
    /// `ETag`, `Cache-Control` and `304 Not Modified` on cacheable GETs.
    HttpCacheHeaders,
}

impl Optimization {
    /// Every optimization, in the order `experiment --each` runs them.
    pub const ALL: &'static [Optimization] = &[
        Optimization::Pool20,
        Optimization::NoPoolPing,
        Optimization::AccountCache,
        Optimization::ParallelQueries,
        Optimization::Gzip,
        Optimization::HttpCacheHeaders,
    ];

    /// Its name, as an arm of an experiment.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pool20 => "pool20",
            Self::NoPoolPing => "no_pool_ping",
            Self::AccountCache => "account_cache",
            Self::ParallelQueries => "parallel_queries",
            Self::Gzip => "gzip",
            Self::HttpCacheHeaders => "http_cache_headers",
        }
    }

    /// False for the one that is ours rather than the tuning guide's.
    pub const fn from_guide(self) -> bool {
        !matches!(self, Self::NoPoolPing)
    }

    /// The optimization named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| o.name() == name)
    }
}

impl fmt::Display for Optimization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Optimization {
    type Err = ConfigError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_name(name).ok_or_else(|| ConfigError::UnknownArm(name.to_string()))
    }
}

/// The tuning values of a preset, kept in one place.
struct PresetValues {
    pool_max: u32,
    acquire_timeout_secs: f64,
    pool_ping: bool,
    /// account_cache, parallel_queries, gzip and http_cache_headers.
    switches: bool,
}

/// sqlx's own default acquire timeout, which the guide's "before" ran with.
const SQLX_DEFAULT_ACQUIRE_TIMEOUT_SECS: f64 = 30.0;

impl Preset {
    const fn values(self) -> PresetValues {
        match self {
            Self::Baseline => PresetValues {
                pool_max: 10,
                acquire_timeout_secs: SQLX_DEFAULT_ACQUIRE_TIMEOUT_SECS,
                pool_ping: true,
                switches: false,
            },
            Self::Tuned => PresetValues {
                pool_max: 20,
                acquire_timeout_secs: 3.0,
                pool_ping: false,
                switches: true,
            },
        }
    }
}

/// The server's flags as typed: every switch optional, so that one given overrides
/// the preset and one left out takes the preset's value. [`ServerArgs`] is these with
/// the preset applied.
#[derive(Clone, Debug, clap::Args)]
struct ServerFlags {
    /// Address to listen on.
    #[arg(long, env = "KOPROGO_PERF_BIND", default_value = "127.0.0.1:8080")]
    bind: String,

    /// Starting values of the switches: baseline (the tuning guide's "before": every
    /// switch off, pool 10, 30 s acquire timeout, ping on acquire) or tuned (the
    /// guide's "after": every switch on, pool 20, 3 s, no ping). A switch given on its
    /// own overrides the preset.
    #[arg(
        long,
        value_enum,
        env = "KOPROGO_PERF_PRESET",
        default_value_t = Preset::Baseline
    )]
    preset: Preset,

    /// Maximum number of connections in the server's database pool [baseline 10,
    /// tuned 20].
    #[arg(long, env = "KOPROGO_PERF_POOL_MAX")]
    pool_max: Option<u32>,

    /// Seconds a request waits for a pooled connection before answering 503
    /// [baseline 30, sqlx's default; tuned 3].
    #[arg(long, env = "KOPROGO_PERF_ACQUIRE_TIMEOUT")]
    acquire_timeout: Option<f64>,

    /// Ping each pooled connection before handing it out (sqlx's test_before_acquire;
    /// our addition, not the guide's) [baseline on, tuned off]. `--pool-ping=false`
    /// turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pool_ping: Option<bool>,

    /// Serve PCMN accounts from memory per organization, loaded on first use and
    /// dropped when that organization's accounts change [baseline off, tuned on].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    account_cache: Option<bool>,

    /// Run a list's COUNT and page query, and a building sub-list's row and
    /// building lookups, concurrently on separate connections [baseline off, tuned on].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    parallel_queries: Option<bool>,

    /// gzip responses of at least 1 KiB for clients that accept it [baseline off,
    /// tuned on].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    gzip: Option<bool>,

    /// ETag and Cache-Control on cacheable GETs (PCMN accounts, a building), 304 on a
    /// matching If-None-Match [baseline off, tuned on].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    http_cache_headers: Option<bool>,

    /// KoproGo's login limiter: `POST /auth/login` attempts allowed per client IP and
    /// window, successful or not; over it, 429 [default 5, as KoproGo; demo, load and
    /// experiment raise it for the servers they start unless it is given].
    #[arg(long, env = "LOGIN_RATE_LIMIT_MAX", value_name = "N")]
    login_rate_limit_max: Option<u32>,

    /// The login limiter's window in seconds, from an IP's first attempt.
    #[arg(
        long,
        env = "LOGIN_RATE_LIMIT_WINDOW_SECS",
        value_name = "SECS",
        default_value_t = super::limiter::DEFAULT_WINDOW_SECS
    )]
    login_rate_limit_window_secs: u64,

    /// Seconds a client has to send a request's headers (on a new connection, or on an
    /// idle kept-alive one) before the server closes it: slow or stalled clients
    /// (slowloris) cannot hold connections open. 5 s, as actix-web's
    /// client_request_timeout that KoproGo runs with.
    #[arg(
        long,
        env = "KOPROGO_PERF_HEADER_READ_TIMEOUT",
        value_name = "SECS",
        default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECS
    )]
    header_read_timeout: f64,

    /// HS256 secret for the JWTs (at least 16 bytes); 32 random bytes when absent.
    #[arg(
        long,
        env = "KOPROGO_PERF_JWT_SECRET",
        hide_env_values = true,
        value_parser = parse_jwt_secret
    )]
    jwt_secret: Option<JwtSecret>,
}

/// The server's arguments with the preset applied, unvalidated. Parsed from the flags
/// of `serve` and `load` (a flag overrides the preset), or built by code from a preset
/// ([`ServerArgs::from_preset`]) or an experiment arm ([`ServerArgs::for_arm`]).
#[derive(Clone, Debug)]
pub struct ServerArgs {
    /// Address to listen on.
    pub bind: String,
    /// The preset the values started from (flags may have overridden some).
    pub preset: Preset,
    /// Maximum number of connections in the server's database pool.
    pub pool_max: u32,
    /// Seconds a request waits for a pooled connection before answering 503.
    pub acquire_timeout: f64,
    /// sqlx's `test_before_acquire`.
    pub pool_ping: bool,
    /// PCMN accounts from memory.
    pub account_cache: bool,
    /// Concurrent queries in lists and building sub-lists.
    pub parallel_queries: bool,
    /// gzip responses.
    pub gzip: bool,
    /// ETag, Cache-Control and 304.
    pub http_cache_headers: bool,
    /// HS256 secret for the JWTs; generated when None.
    pub jwt_secret: Option<JwtSecret>,
    /// Login attempts per IP and window; KoproGo's default (5) when None.
    pub login_rate_limit_max: Option<u32>,
    /// The login limiter's window, in seconds.
    pub login_rate_limit_window_secs: u64,
    /// Seconds a client has to send a request's headers.
    pub header_read_timeout: f64,
}

impl Default for ServerArgs {
    /// The `baseline` preset and the flags' other defaults (environment variables not
    /// consulted).
    fn default() -> Self {
        Self::from_preset(Preset::Baseline)
    }
}

impl From<ServerFlags> for ServerArgs {
    fn from(flags: ServerFlags) -> Self {
        let base = Self::from_preset(flags.preset);
        Self {
            bind: flags.bind,
            preset: flags.preset,
            pool_max: flags.pool_max.unwrap_or(base.pool_max),
            acquire_timeout: flags.acquire_timeout.unwrap_or(base.acquire_timeout),
            pool_ping: flags.pool_ping.unwrap_or(base.pool_ping),
            account_cache: flags.account_cache.unwrap_or(base.account_cache),
            parallel_queries: flags.parallel_queries.unwrap_or(base.parallel_queries),
            gzip: flags.gzip.unwrap_or(base.gzip),
            http_cache_headers: flags.http_cache_headers.unwrap_or(base.http_cache_headers),
            jwt_secret: flags.jwt_secret,
            login_rate_limit_max: flags.login_rate_limit_max,
            login_rate_limit_window_secs: flags.login_rate_limit_window_secs,
            header_read_timeout: flags.header_read_timeout,
        }
    }
}

// `ServerArgs` is flattened into the commands' clap structs through `ServerFlags`: the
// flags are defined once there, and the preset is applied as they are parsed, so that
// every reader of a `ServerArgs` (the child-process launcher included) sees the values
// the server will run with.
impl clap::FromArgMatches for ServerArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        ServerFlags::from_arg_matches(matches).map(Self::from)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for ServerArgs {
    fn group_id() -> Option<clap::Id> {
        ServerFlags::group_id()
    }

    fn augment_args(cmd: clap::Command) -> clap::Command {
        ServerFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        ServerFlags::augment_args_for_update(cmd)
    }
}

/// Why [`ServerArgs`] could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid --bind address {value:?}: expected IP:PORT, e.g. 127.0.0.1:8080")]
    Bind { value: String },
    #[error("--pool-max must be at least 1")]
    PoolMax,
    #[error("--acquire-timeout must be a number of seconds in (0, 3600], got {0}")]
    AcquireTimeout(f64),
    #[error("the JWT secret must be at least {MIN_JWT_SECRET_LEN} bytes long")]
    JwtSecretTooShort,
    #[error("the login limit (--login-rate-limit-max, LOGIN_RATE_LIMIT_MAX) must be at least 1")]
    LoginRateLimitMax,
    #[error(
        "the login window (--login-rate-limit-window-secs, LOGIN_RATE_LIMIT_WINDOW_SECS) must \
         be 1 to {MAX_LOGIN_WINDOW_SECS} seconds, got {0}"
    )]
    LoginRateLimitWindow(u64),
    #[error("--header-read-timeout must be a number of seconds in (0, 3600], got {0}")]
    HeaderReadTimeout(f64),
    #[error(
        "unknown arm {0:?}: expected baseline, tuned or one of pool20, no_pool_ping, \
         account_cache, parallel_queries, gzip, http_cache_headers"
    )]
    UnknownArm(String),
}

impl ServerArgs {
    /// The preset's values, on the default address, with a generated JWT secret.
    pub fn from_preset(preset: Preset) -> Self {
        let v = preset.values();
        Self {
            bind: "127.0.0.1:8080".to_string(),
            preset,
            pool_max: v.pool_max,
            acquire_timeout: v.acquire_timeout_secs,
            pool_ping: v.pool_ping,
            account_cache: v.switches,
            parallel_queries: v.switches,
            gzip: v.switches,
            http_cache_headers: v.switches,
            jwt_secret: None,
            login_rate_limit_max: None,
            login_rate_limit_window_secs: super::limiter::DEFAULT_WINDOW_SECS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT_SECS,
        }
    }

    /// These arguments for a server whose only clients are the caller's own virtual
    /// users (`demo`, `load` without `--host`, `experiment`): the login limiter raised,
    /// unless a limit was given.
    pub fn for_own_load(mut self) -> Self {
        self.login_rate_limit_max
            .get_or_insert(super::limiter::RAISED_MAX);
        self
    }

    /// These arguments with `optimization` at its tuned value.
    pub fn with(self, optimization: Optimization) -> Self {
        self.set(optimization, Preset::Tuned)
    }

    /// These arguments with `optimization` back at its baseline value (the arms
    /// `tuned-<optimization>` of an experiment).
    pub fn without(self, optimization: Optimization) -> Self {
        self.set(optimization, Preset::Baseline)
    }

    /// `optimization`'s switch at `preset`'s value.
    fn set(mut self, optimization: Optimization, preset: Preset) -> Self {
        let from = Self::from_preset(preset);
        match optimization {
            Optimization::Pool20 => {
                self.pool_max = from.pool_max;
                self.acquire_timeout = from.acquire_timeout;
            }
            Optimization::NoPoolPing => self.pool_ping = from.pool_ping,
            Optimization::AccountCache => self.account_cache = from.account_cache,
            Optimization::ParallelQueries => self.parallel_queries = from.parallel_queries,
            Optimization::Gzip => self.gzip = from.gzip,
            Optimization::HttpCacheHeaders => self.http_cache_headers = from.http_cache_headers,
        }
        self
    }

    /// The arguments of an experiment arm: `baseline`, `tuned`, or an optimization's
    /// name ([`Optimization::name`]) for baseline plus that one optimization.
    pub fn for_arm(name: &str) -> Result<Self, ConfigError> {
        let name = name.trim();
        if let Some(preset) = Preset::from_name(name) {
            return Ok(Self::from_preset(preset));
        }
        let optimization: Optimization = name.parse()?;
        Ok(Self::from_preset(Preset::Baseline).with(optimization))
    }

    /// The flags that make a `serve` child process run with exactly these tuning
    /// values (not `--bind` nor the secret, which the launcher passes its own way).
    /// Every value is explicit, so the child's preset does not matter.
    pub fn child_args(&self) -> Vec<String> {
        let mut args = vec![
            "--pool-max".to_string(),
            self.pool_max.to_string(),
            "--acquire-timeout".to_string(),
            self.acquire_timeout.to_string(),
            format!("--pool-ping={}", self.pool_ping),
            format!("--account-cache={}", self.account_cache),
            format!("--parallel-queries={}", self.parallel_queries),
            format!("--gzip={}", self.gzip),
            format!("--http-cache-headers={}", self.http_cache_headers),
            "--login-rate-limit-window-secs".to_string(),
            self.login_rate_limit_window_secs.to_string(),
            "--header-read-timeout".to_string(),
            self.header_read_timeout.to_string(),
        ];
        if let Some(max) = self.login_rate_limit_max {
            args.extend(["--login-rate-limit-max".to_string(), max.to_string()]);
        }
        args
    }

    /// Validates the arguments into a [`ServerConfig`]; generates the JWT secret when
    /// none was given.
    pub fn resolve(&self) -> Result<ServerConfig, ConfigError> {
        let bind = self
            .bind
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| ConfigError::Bind {
                value: self.bind.clone(),
            })?;
        if self.pool_max == 0 {
            return Err(ConfigError::PoolMax);
        }
        let secs = self.acquire_timeout;
        if !(secs.is_finite() && secs > 0.0 && secs <= MAX_ACQUIRE_TIMEOUT_SECS) {
            return Err(ConfigError::AcquireTimeout(secs));
        }
        let max = self
            .login_rate_limit_max
            .unwrap_or(super::limiter::DEFAULT_MAX);
        if max == 0 {
            return Err(ConfigError::LoginRateLimitMax);
        }
        let window = self.login_rate_limit_window_secs;
        if !(1..=MAX_LOGIN_WINDOW_SECS).contains(&window) {
            return Err(ConfigError::LoginRateLimitWindow(window));
        }
        let header = self.header_read_timeout;
        if !(header.is_finite() && header > 0.0 && header <= MAX_HEADER_READ_TIMEOUT_SECS) {
            return Err(ConfigError::HeaderReadTimeout(header));
        }
        let jwt_secret = match &self.jwt_secret {
            Some(secret) if secret.len() < MIN_JWT_SECRET_LEN => {
                return Err(ConfigError::JwtSecretTooShort);
            }
            Some(secret) => secret.clone(),
            None => JwtSecret::generate(),
        };
        Ok(ServerConfig {
            bind,
            pool_max_connections: self.pool_max,
            acquire_timeout: Duration::from_secs_f64(secs),
            pool_ping: self.pool_ping,
            account_cache: self.account_cache,
            parallel_queries: self.parallel_queries,
            gzip: self.gzip,
            http_cache_headers: self.http_cache_headers,
            jwt_secret,
            token_ttl: ACCESS_TOKEN_TTL,
            login_limit: super::limiter::LoginLimit {
                max,
                window: Duration::from_secs(window),
            },
            header_read_timeout: Duration::from_secs_f64(header),
        })
    }
}

/// The server's validated settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address [`crate::server::serve`]'s caller should bind.
    pub bind: SocketAddr,
    /// `max_connections` of the database pool.
    pub pool_max_connections: u32,
    /// How long a request waits for a pooled connection before a 503.
    pub acquire_timeout: Duration,
    /// sqlx's `test_before_acquire`: a round trip to the database on every acquire.
    pub pool_ping: bool,
    /// PCMN accounts served from memory per organization ([`crate::server::cache`]).
    pub account_cache: bool,
    /// A list's COUNT and page query, and a building sub-list's rows and building
    /// check, issued at once on separate connections.
    pub parallel_queries: bool,
    /// gzip responses of at least [`crate::server::GZIP_MIN_SIZE`] bytes.
    pub gzip: bool,
    /// `ETag`/`Cache-Control`/304 on cacheable GETs ([`crate::server::http_cache`]).
    pub http_cache_headers: bool,
    /// HS256 key of the access tokens.
    pub jwt_secret: JwtSecret,
    /// Lifetime of an access token.
    pub token_ttl: Duration,
    /// KoproGo's login limiter ([`crate::server::limiter`]).
    pub login_limit: super::limiter::LoginLimit,
    /// How long a client has to send a request's headers before its connection is
    /// closed.
    pub header_read_timeout: Duration,
}

impl ServerConfig {
    /// The preset's settings, on the default address, with a generated JWT secret.
    pub fn preset(preset: Preset) -> Self {
        ServerArgs::from_preset(preset)
            .resolve()
            .expect("a preset's values are valid")
    }

    /// These settings with `optimization` at its tuned value.
    pub fn with(mut self, optimization: Optimization) -> Self {
        let tuned = Preset::Tuned.values();
        match optimization {
            Optimization::Pool20 => {
                self.pool_max_connections = tuned.pool_max;
                self.acquire_timeout = Duration::from_secs_f64(tuned.acquire_timeout_secs);
            }
            Optimization::NoPoolPing => self.pool_ping = tuned.pool_ping,
            Optimization::AccountCache => self.account_cache = tuned.switches,
            Optimization::ParallelQueries => self.parallel_queries = tuned.switches,
            Optimization::Gzip => self.gzip = tuned.switches,
            Optimization::HttpCacheHeaders => self.http_cache_headers = tuned.switches,
        }
        self
    }

    /// One line for logs and reports, e.g. `pool 20, acquire timeout 3s, pool_ping off,
    /// account_cache on, parallel_queries on, gzip on, http_cache_headers on`.
    pub fn switches(&self) -> String {
        let on = |b: bool| if b { "on" } else { "off" };
        format!(
            "pool {}, acquire timeout {:?}, pool_ping {}, account_cache {}, \
             parallel_queries {}, gzip {}, http_cache_headers {}",
            self.pool_max_connections,
            self.acquire_timeout,
            on(self.pool_ping),
            on(self.account_cache),
            on(self.parallel_queries),
            on(self.gzip),
            on(self.http_cache_headers)
        )
    }
}

/// A JWT signing secret; its `Debug` output is `***` so that it never reaches a log.
#[derive(Clone)]
pub struct JwtSecret(Arc<[u8]>);

impl JwtSecret {
    /// The secret made of these bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Arc::from(bytes.into()))
    }

    /// 32 random bytes: tokens then die with the process, which suits a bench server.
    pub fn generate() -> Self {
        Self::new(rand::random::<[u8; 32]>().to_vec())
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty secret (never produced by [`ServerArgs::resolve`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Never fails: clap would echo a rejected value, the secret itself.
/// [`ServerArgs::resolve`] checks its length.
fn parse_jwt_secret(value: &str) -> Result<JwtSecret, String> {
    Ok(JwtSecret::new(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn defaults_resolve() {
        let config = ServerArgs::default().resolve().unwrap();
        assert_eq!(config.bind, "127.0.0.1:8080".parse().unwrap());
        // The default is the baseline preset.
        assert_eq!(config.pool_max_connections, 10);
        assert_eq!(config.acquire_timeout, Duration::from_secs(30));
        assert!(config.pool_ping);
        assert!(
            !(config.account_cache
                || config.parallel_queries
                || config.gzip
                || config.http_cache_headers)
        );
        assert_eq!(config.token_ttl, Duration::from_secs(900));
        assert_eq!(config.jwt_secret.len(), 32);
        // Two generated secrets differ.
        assert_ne!(
            config.jwt_secret.as_bytes(),
            ServerArgs::default()
                .resolve()
                .unwrap()
                .jwt_secret
                .as_bytes()
        );
    }

    #[test]
    fn flags_parse_and_secret_is_redacted() {
        let cli = Cli::try_parse_from([
            "x",
            "--bind",
            "0.0.0.0:9000",
            "--pool-max",
            "20",
            "--acquire-timeout",
            "0.5",
            "--jwt-secret",
            "a-very-secret-value-1234",
        ])
        .unwrap();
        let debug = format!("{:?}", cli.server);
        assert!(!debug.contains("a-very-secret"), "{debug}");
        let config = cli.server.resolve().unwrap();
        assert!(!format!("{config:?}").contains("a-very-secret"));
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.pool_max_connections, 20);
        assert_eq!(config.acquire_timeout, Duration::from_millis(500));
        assert_eq!(config.jwt_secret.as_bytes(), b"a-very-secret-value-1234");
    }

    fn parse(args: &[&str]) -> ServerArgs {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .server
    }

    #[test]
    fn presets_parse_and_flags_override_them() {
        let baseline = parse(&[]).resolve().unwrap();
        assert_eq!(
            baseline.switches(),
            ServerConfig::preset(Preset::Baseline).switches()
        );
        assert_eq!(
            baseline.switches(),
            "pool 10, acquire timeout 30s, pool_ping on, account_cache off, \
             parallel_queries off, gzip off, http_cache_headers off"
        );
        let tuned = parse(&["--preset", "tuned"]);
        assert_eq!(tuned.preset, Preset::Tuned);
        assert_eq!(
            tuned.resolve().unwrap().switches(),
            "pool 20, acquire timeout 3s, pool_ping off, account_cache on, \
             parallel_queries on, gzip on, http_cache_headers on"
        );
        // A flag given on its own wins over the preset, either way.
        let mixed = parse(&[
            "--preset",
            "tuned",
            "--pool-max",
            "10",
            "--gzip=false",
            "--pool-ping",
        ]);
        assert_eq!(mixed.pool_max, 10);
        assert_eq!(mixed.acquire_timeout, 3.0);
        assert!(!mixed.gzip && mixed.pool_ping && mixed.account_cache);
        let on = parse(&["--account-cache", "--http-cache-headers=true"]);
        assert!(on.account_cache && on.http_cache_headers && !on.gzip);
        assert_eq!(on.pool_max, 10);
        assert!(Cli::try_parse_from(["x", "--preset", "fast"]).is_err());
        assert!(Cli::try_parse_from(["x", "--gzip=maybe"]).is_err());
    }

    #[test]
    fn arms_are_baseline_plus_one_optimization() {
        let baseline = ServerArgs::for_arm("baseline").unwrap().resolve().unwrap();
        let mut all = ServerConfig::preset(Preset::Baseline);
        for &o in Optimization::ALL {
            let args = ServerArgs::for_arm(o.name()).unwrap();
            let config = args.resolve().unwrap();
            // Exactly one thing differs from baseline, and the config-side helper
            // agrees with the args-side one.
            assert_ne!(config.switches(), baseline.switches(), "{o}");
            assert_eq!(
                config.switches(),
                ServerConfig::preset(Preset::Baseline).with(o).switches()
            );
            all = all.with(o);
        }
        // Every optimization together is the tuned preset.
        assert_eq!(
            all.switches(),
            ServerConfig::preset(Preset::Tuned).switches()
        );
        assert!(Optimization::ALL.iter().filter(|o| !o.from_guide()).count() == 1);
        assert!(matches!(
            ServerArgs::for_arm("turbo"),
            Err(ConfigError::UnknownArm(_))
        ));
    }

    #[test]
    fn child_args_reproduce_the_values() {
        let names = Preset::ALL
            .iter()
            .map(|p| p.name())
            .chain(Optimization::ALL.iter().map(|o| o.name()));
        for name in names {
            let args = ServerArgs::for_arm(name).unwrap();
            let child_args = args.child_args();
            // Parsed by a child under any preset, the flags give the same values.
            for preset in ["baseline", "tuned"] {
                let mut argv = vec!["--preset", preset];
                argv.extend(child_args.iter().map(String::as_str));
                let child = parse(&argv);
                assert_eq!(
                    child.resolve().unwrap().switches(),
                    args.resolve().unwrap().switches(),
                    "{name} under {preset}"
                );
            }
        }
    }

    #[test]
    fn bad_values_are_rejected() {
        // A short secret is refused by `resolve` (below), never by clap, which would
        // echo it.
        assert!(
            Cli::try_parse_from(["x", "--jwt-secret", "short"])
                .unwrap()
                .server
                .resolve()
                .is_err()
        );
        let bad = |f: fn(&mut ServerArgs)| {
            let mut args = ServerArgs::default();
            f(&mut args);
            args.resolve().unwrap_err()
        };
        assert!(matches!(
            bad(|a| a.bind = "localhost".into()),
            ConfigError::Bind { .. }
        ));
        assert!(matches!(bad(|a| a.pool_max = 0), ConfigError::PoolMax));
        assert!(matches!(
            bad(|a| a.acquire_timeout = 0.0),
            ConfigError::AcquireTimeout(_)
        ));
        assert!(matches!(
            bad(|a| a.acquire_timeout = f64::NAN),
            ConfigError::AcquireTimeout(_)
        ));
        assert!(matches!(
            bad(|a| a.jwt_secret = Some(JwtSecret::new(*b"short"))),
            ConfigError::JwtSecretTooShort
        ));
    }
}
