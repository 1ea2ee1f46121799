//! The reference API server: an imitation of KoproGo's backend (axum + sqlx) over
//! the reference schema, close enough that tuning and load results mean something
//! for KoproGo. Routes live under `/api/v1`; every query is scoped to the caller's
//! organization and tagged with a leading `/* METHOD /api/v1/route */` comment so
//! that pg_stat_statements entries can be attributed to endpoints. pg_stat_statements
//! keys a statement by its parse tree, comments ignored, so no two routes share a
//! statement of the same shape: the text it keeps is the first one it saw.
//!
//! [`app`] builds the router from an [`AppState`]; [`serve`] runs it on a listener
//! the caller bound (port 0 in tests) until the shutdown future resolves. The tuning
//! guide's optimizations are switches of [`ServerConfig`] (see [`config`]).

pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod http_cache;
pub mod limiter;
pub mod model;
pub mod openapi;
pub mod password;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use config::{ConfigError, JwtSecret, Optimization, Preset, ServerArgs, ServerConfig};
pub use error::ApiError;

/// Smallest response body the `gzip` switch compresses: below about 1 KiB the gzip
/// header and the CPU cost outweigh what little is saved (nginx's gzip_min_length
/// advice is of the same order).
pub const GZIP_MIN_SIZE: u16 = 1024;

/// What every handler shares: the pool, the settings and the JWT keys.
#[derive(Clone)]
pub struct AppState {
    /// The server's database pool (`pool_max_connections`, `acquire_timeout`).
    pub pool: PgPool,
    /// The validated settings.
    pub config: Arc<ServerConfig>,
    /// Keys derived from `config.jwt_secret`.
    pub keys: Arc<auth::Keys>,
    /// Bounds concurrent password checks to the CPU count: they are pure CPU work, and
    /// 100 users logging in at once would otherwise start 100 blocking threads without
    /// finishing any sooner.
    pub password_checks: Arc<tokio::sync::Semaphore>,
    /// The PCMN accounts held in memory (used only with `config.account_cache`).
    pub accounts: Arc<cache::AccountCache>,
    /// KoproGo's login limiter (`config.login_limit`).
    pub logins: Arc<limiter::LoginLimiter>,
}

impl AppState {
    /// Connects a pool sized and timed by `config` and builds the state.
    pub async fn connect(database_url: &str, config: ServerConfig) -> anyhow::Result<Self> {
        let options = crate::pg::connect_options(database_url)?;
        let shown = crate::pg::redact_url(database_url);
        crate::pg::probe(&options).await.map_err(|detail| {
            anyhow::anyhow!("cannot connect the server's pool to {shown}: {detail}")
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(config.pool_max_connections)
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire(config.pool_ping)
            .connect_with(options)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect the server's pool to {shown}: {}",
                    crate::error::root_cause(&e)
                )
            })?;
        Ok(Self::new(pool, config))
    }

    /// The state over an existing pool (whose size and timeout are the caller's).
    pub fn new(pool: PgPool, config: ServerConfig) -> Self {
        let keys = Arc::new(auth::Keys::new(&config.jwt_secret));
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            pool,
            logins: Arc::new(limiter::LoginLimiter::new(config.login_limit)),
            config: Arc::new(config),
            keys,
            password_checks: Arc::new(tokio::sync::Semaphore::new(cpus)),
            accounts: Arc::new(cache::AccountCache::default()),
        }
    }
}

/// The whole HTTP application; with the `gzip` switch, behind tower-http's compression.
pub fn app(state: AppState) -> axum::Router {
    let gzip = state.config.gzip;
    let router = routes::router().with_state(state);
    if !gzip {
        return router;
    }
    use tower_http::compression::predicate::SizeAbove;
    use tower_http::compression::{CompressionLayer, CompressionLevel};
    let compression = CompressionLayer::new()
        .no_br()
        .no_deflate()
        .no_zstd()
        // Level 1, nginx's default gzip_comp_level: JSON still shrinks several times,
        // for a fraction of the CPU of the default level 6 on a 2-core machine.
        .quality(CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(GZIP_MIN_SIZE));
    router
        .layer(compression)
        .layer(axum::middleware::map_response(
            http_cache::weaken_encoded_etag,
        ))
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish. HTTP/1.1 through hyper's own connection builder (axum::serve sets
/// no header timeout): a client that does not send a request's headers within
/// `header_read_timeout` has its connection closed. Each request carries its peer's
/// address (`ConnectInfo`), which the login limiter keys on.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.header_read_timeout);
    let router = app(state);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                tower::ServiceExt::oneshot(router.clone(), request)
            },
        );
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        // A connection's end (a client gone, a header timeout) concerns that client only.
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// What axum::serve does on an accept error: a client that reset before we accepted
/// concerns no one; anything else (out of file descriptors) is retried after a pause
/// instead of spinning or ending the server.
async fn accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    eprintln!("koprogo-perf server: accept error: {error}");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}
