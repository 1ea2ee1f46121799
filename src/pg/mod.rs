//! PostgreSQL: the embedded throwaway cluster, connecting to a database (embedded or a
//! user's URL), and the reference schema's migrations.

pub mod embedded;

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};

pub use embedded::{Cluster, ClusterError};

/// The reference schema (`migrations/`), embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies the reference schema's migrations that `pool`'s database lacks.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("applying the reference schema migrations")
}

/// Opens a small pool for tool-side work (migrations, seeding, statistics), naming the
/// database by its redacted URL in the error so that no password is ever printed.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = connect_options(url)?;
    probe(&options).await.map_err(|detail| {
        anyhow::anyhow!(
            "cannot connect to the database at {}: {detail}; check that it runs and the URL is right",
            redact_url(url)
        )
    })?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to the database at {}: {}; check that it runs and the URL is right",
                redact_url(url),
                crate::error::root_cause(&e)
            )
        })
}

/// Parses a PostgreSQL URL; anything else (`mysql://…`, a key=value string, a password
/// with a raw `?` or `/`) is refused as input, without the parser's text (it may quote
/// the URL, password included).
pub fn connect_options(url: &str) -> Result<PgConnectOptions, crate::error::InputError> {
    let shown = redact_url(url);
    let scheme_ok = ["postgres://", "postgresql://"]
        .iter()
        .any(|s| url.len() >= s.len() && url[..s.len()].eq_ignore_ascii_case(s));
    if !scheme_ok {
        return Err(crate::error::InputError::msg(format!(
            "{shown} is not a PostgreSQL URL: give postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        )));
    }
    url.parse().map_err(|_| {
        crate::error::InputError::msg(format!(
            "{shown} is not a valid PostgreSQL URL: give postgres://USER:PASSWORD@HOST:PORT/DATABASE, \
             with @ : / ? # in the password percent-encoded (%40 %3A %2F %3F %23)"
        ))
    })
}

/// One connection, at once: a refused connection or a wrong password says so now,
/// instead of a pool retrying until its acquire timeout ("pool timed out").
pub async fn probe(options: &PgConnectOptions) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(crate::error::root_cause(&e)),
        Err(_) => Err("no answer within 10 s".into()),
    }
}

/// The URL (or key=value connection string) with its password hidden, for messages and
/// reports: [`crate::redact::redact`], the one redaction of the tool.
pub fn redact_url(url: &str) -> String {
    crate::redact::redact(url)
}

/// The database a command works on: a user's URL, or an embedded cluster this process
/// started and stops again when the value is dropped.
#[derive(Debug)]
pub struct Database {
    url: String,
    cluster: Option<Cluster>,
}

impl Database {
    /// Uses `url` when given, otherwise starts an embedded cluster (reporting its startup
    /// time on stderr).
    pub async fn open(url: Option<&str>) -> anyhow::Result<Database> {
        if let Some(url) = url {
            return Ok(Database {
                url: url.to_string(),
                cluster: None,
            });
        }
        let cluster = tokio::task::spawn_blocking(|| Cluster::start(&Default::default()))
            .await
            .context("starting the embedded PostgreSQL cluster")??;
        eprintln!(
            "embedded PostgreSQL {} started in {:.2} s on 127.0.0.1:{} ({})",
            cluster.version(),
            cluster.startup_time().as_secs_f64(),
            cluster.port(),
            cluster.dir().display()
        );
        Ok(Database {
            url: cluster.url(),
            cluster: Some(cluster),
        })
    }

    /// The connection URL (may hold a user's password: print [`Database::display_url`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL with any password hidden.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The embedded cluster, when this database is one.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Mutable access to the embedded cluster (restarts).
    pub fn cluster_mut(&mut self) -> Option<&mut Cluster> {
        self.cluster.as_mut()
    }

    /// True when this process started the cluster.
    pub fn is_embedded(&self) -> bool {
        self.cluster.is_some()
    }

    /// Leaves an embedded cluster running after the command and prints how to reach and
    /// stop it. No effect on a user's database.
    pub fn keep(&mut self) {
        if let Some(cluster) = self.cluster.as_mut() {
            let stop = cluster.keep();
            eprintln!(
                "--keep-db: the embedded cluster stays up at {} (password in the URL the tool used; \
                 not printed)\n  connect: {}\n  stop it with: {stop}",
                cluster.display_url(),
                cluster.psql_command()
            );
        }
    }

    /// Stops an embedded cluster now (off the async runtime's threads).
    pub async fn close(mut self) {
        if let Some(mut cluster) = self.cluster.take() {
            let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
        }
    }
}
