//! The reference server's settings: raw command-line/environment arguments
//! ([`ServerArgs`]) resolved once into a validated [`ServerConfig`].
//!
//! Later optimizations from the tuning guide (PCMN cache, parallel queries, gzip,
//! caching headers) are meant to arrive here as new switches: a field on each
//! struct and a line in [`ServerArgs::resolve`], nothing reshaped.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Lifetime of an access token, as in KoproGo.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Shortest JWT secret accepted from the user, in bytes.
pub const MIN_JWT_SECRET_LEN: usize = 16;

/// Longest accepted pool acquire timeout: beyond that a load test is measuring queues.
const MAX_ACQUIRE_TIMEOUT_SECS: f64 = 3600.0;

/// The server's command-line flags (and environment variables), unvalidated.
#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "KOPROGO_PERF_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Maximum number of connections in the server's database pool.
    #[arg(long, env = "KOPROGO_PERF_POOL_MAX", default_value_t = 10)]
    pub pool_max: u32,

    /// Seconds a request waits for a pooled connection before answering 503.
    #[arg(long, env = "KOPROGO_PERF_ACQUIRE_TIMEOUT", default_value_t = 3.0)]
    pub acquire_timeout: f64,

    /// HS256 secret for the JWTs (at least 16 bytes); 32 random bytes when absent.
    #[arg(
        long,
        env = "KOPROGO_PERF_JWT_SECRET",
        hide_env_values = true,
        value_parser = parse_jwt_secret
    )]
    pub jwt_secret: Option<JwtSecret>,
}

impl Default for ServerArgs {
    /// The same values as the flags' defaults (environment variables not consulted).
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_string(),
            pool_max: 10,
            acquire_timeout: 3.0,
            jwt_secret: None,
        }
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
}

impl ServerArgs {
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
            jwt_secret,
            token_ttl: ACCESS_TOKEN_TTL,
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
    /// HS256 key of the access tokens.
    pub jwt_secret: JwtSecret,
    /// Lifetime of an access token.
    pub token_ttl: Duration,
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

fn parse_jwt_secret(value: &str) -> Result<JwtSecret, String> {
    if value.len() < MIN_JWT_SECRET_LEN {
        return Err(format!("must be at least {MIN_JWT_SECRET_LEN} bytes long"));
    }
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
        assert_eq!(config.pool_max_connections, 10);
        assert_eq!(config.acquire_timeout, Duration::from_secs(3));
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

    #[test]
    fn bad_values_are_rejected() {
        assert!(Cli::try_parse_from(["x", "--jwt-secret", "short"]).is_err());
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
