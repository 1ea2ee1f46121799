//! PostgreSQL: the embedded throwaway cluster, connecting to a database (embedded or a
//! user's URL), and the reference schema's migrations.

pub mod embedded;

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

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
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .with_context(|| {
            format!(
                "cannot connect to the database at {}: check that it runs and the URL is right",
                redact_url(url)
            )
        })
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
