//! The reference data set: KoproGo's "realistic" seed (three organizations of 5, 8 and
//! 10 buildings) repeated `scale` times, with 50 invoices per building and the Belgian
//! chart of accounts, generated deterministically from `--rng-seed`, and KoproGo's
//! platform superadmin (`admin@koprogo.com`, no organization).
//!
//! [`seed`] is the only function that touches the database: it applies the schema,
//! refuses a database that already holds organizations unless told to reset it, and
//! writes every row in one transaction with array-bound multi-row inserts.

pub mod api;
mod generate;
mod insert;
mod names;
pub use crate::pcmn;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;

use generate::{DEMO_USERS, SeedMaterial};

/// The largest `--scale`: 30,000 organizations, 11.5 million invoices.
pub const MAX_SCALE: u32 = 10_000;

/// Organizations generated and inserted together: 16 rounds of the three shapes make
/// about 18,000 invoices, a few tens of megabytes in memory at any scale.
const ORGS_PER_BATCH: usize = 48;

/// The tables the seed writes, children after parents.
const TABLES: &str =
    "organizations, users, buildings, units, owners, unit_owners, expenses, accounts, meetings";

/// What to seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    /// How many times KoproGo's three realistic organizations are repeated (1..=10000).
    pub scale: u32,
    /// Seeds every random choice and UUID: the same number gives the same rows.
    pub rng_seed: u64,
    /// Empty every seeded table first (TRUNCATE … CASCADE, in the seeding transaction)
    /// instead of refusing a database that already has organizations.
    pub reset: bool,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            scale: 1,
            rng_seed: 42,
            reset: false,
        }
    }
}

/// What a seed run wrote, printed by the `seed` command and kept in reports.
#[derive(Debug, Clone, Serialize)]
pub struct SeedSummary {
    /// Rows written to `organizations` (3 per unit of scale).
    pub organizations: u64,
    /// Rows written to `users`: a syndic, an accountant and an owner per organization,
    /// and the superadmin.
    pub users: u64,
    /// Rows written to `buildings` (23 per unit of scale).
    pub buildings: u64,
    /// Rows written to `units` (190 per unit of scale).
    pub units: u64,
    /// Rows written to `owners` (126 per unit of scale).
    pub owners: u64,
    /// Rows written to `unit_owners`, current and past ownerships together.
    pub unit_owners: u64,
    /// Rows written to `expenses` (50 per building).
    pub expenses: u64,
    /// Rows written to `accounts` (the PCMN chart, once per organization).
    pub accounts: u64,
    /// Rows written to `meetings` (two or three per building).
    pub meetings: u64,
    /// Wall-clock time of the whole run, migrations and VACUUM ANALYZE included.
    #[serde(rename = "elapsed_secs", serialize_with = "as_secs_f64")]
    pub elapsed: Duration,
    /// The syndic login of every organization.
    pub logins: Vec<DemoLogin>,
}

fn as_secs_f64<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A login the seed creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoLogin {
    /// `syndic@<organization slug>.be`.
    pub email: String,
    /// The plain-text demo password (`syndic123`).
    pub password: String,
    /// The organization's display name.
    pub organization: String,
}

/// Why [`seed`] wrote nothing (every error rolls the whole transaction back).
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The database has organizations and `reset` was not asked for.
    #[error(
        "the database already holds data ({organizations} organizations); pass --reset to replace it"
    )]
    NotEmpty { organizations: u64 },
    /// `scale` is 0 or above [`MAX_SCALE`].
    #[error("the scale must be between 1 and {MAX_SCALE}")]
    InvalidScale,
    /// A statement failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Migrations failed, or a hashing task panicked.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// KoproGo's default superadmin, as its backend creates it at start
/// (infrastructure/database/seed.rs `seed_superadmin`): this id and e-mail, KoproGo's
/// demo password, role `superadmin`, no organization.
pub const SUPERADMIN_ID: uuid::Uuid = uuid::Uuid::from_u128(1);
pub const SUPERADMIN_EMAIL: &str = "admin@koprogo.com";
const SUPERADMIN_PASSWORD: &str = "admin123";

/// The superadmin's login (KoproGo's demo credentials; the password is never printed).
pub fn superadmin_login() -> DemoLogin {
    DemoLogin {
        email: SUPERADMIN_EMAIL.to_string(),
        password: SUPERADMIN_PASSWORD.to_string(),
        organization: "the platform".to_string(),
    }
}

/// The syndic logins [`seed`] creates at `scale`, one per organization, in order.
pub fn demo_logins(scale: u32) -> Vec<DemoLogin> {
    let (prefix, password, _) = DEMO_USERS[0];
    (0..scale as usize * generate::SHAPES.len())
        .map(|index| {
            let (_, slug, name) = generate::organization(index);
            DemoLogin {
                email: format!("{prefix}@{slug}.be"),
                password: password.to_string(),
                organization: name,
            }
        })
        .collect()
}

/// Seeds the database behind `pool`: migrations, then every row in one transaction,
/// then VACUUM ANALYZE so that the first load run starts with fresh statistics and
/// visibility maps (pgbench's initialisation does the same).
pub async fn seed(pool: &PgPool, opts: &SeedOptions) -> Result<SeedSummary, SeedError> {
    let started = Instant::now();
    if !(1..=MAX_SCALE).contains(&opts.scale) {
        return Err(SeedError::InvalidScale);
    }
    crate::pg::migrate(pool).await?;

    let plan = SeedMaterial::new(opts.scale, opts.rng_seed);
    let mut tx = pool.begin().await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations")
        .fetch_one(&mut *tx)
        .await?;
    if opts.reset {
        sqlx::query(&format!("TRUNCATE {TABLES} CASCADE"))
            .execute(&mut *tx)
            .await?;
    } else if existing > 0 {
        return Err(SeedError::NotEmpty {
            organizations: existing as u64,
        });
    }

    // bcrypt takes tens of milliseconds a password: hash each demo password once,
    // on blocking threads, while the first batch is generated.
    let mut hashing: Option<Vec<_>> = Some(
        DEMO_USERS
            .iter()
            .zip(plan.salts)
            .map(|(&(_, password, _), salt)| {
                tokio::task::spawn_blocking(move || {
                    (
                        password,
                        crate::server::password::hash_password(password, &salt),
                    )
                })
            })
            .collect(),
    );

    // The insert-time trigger on unit_owners sums a unit's current shares for every
    // row; without an index on unit_id that is a scan of the table per row. The index
    // lives only inside this transaction, so the schema tune-db measures is unchanged.
    sqlx::query("CREATE INDEX seed_unit_owners_unit_id ON unit_owners (unit_id)")
        .execute(&mut *tx)
        .await?;

    let mut hashes = HashMap::new();
    let mut summary = SeedSummary {
        organizations: 0,
        users: 0,
        buildings: 0,
        units: 0,
        owners: 0,
        unit_owners: 0,
        expenses: 0,
        accounts: 0,
        meetings: 0,
        elapsed: Duration::ZERO,
        logins: demo_logins(opts.scale),
    };
    let organizations = plan.organizations();
    for start in (0..organizations).step_by(ORGS_PER_BATCH) {
        let batch = plan.batch(start..(start + ORGS_PER_BATCH).min(organizations));
        for task in hashing.take().into_iter().flatten() {
            let (password, hash) = task.await.map_err(anyhow::Error::from)?;
            hashes.insert(password, hash);
        }
        insert::batch(&mut tx, &batch, &hashes).await?;
        summary.add(&batch);
    }

    sqlx::query("DROP INDEX seed_unit_owners_unit_id")
        .execute(&mut *tx)
        .await?;
    superadmin(&mut tx, plan.admin_salt).await?;
    summary.users += 1;
    tx.commit().await?;
    sqlx::raw_sql(&format!("VACUUM (ANALYZE) {TABLES}"))
        .execute(pool)
        .await?;

    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Inserts KoproGo's superadmin (hashing its password on a blocking thread).
async fn superadmin(tx: &mut sqlx::PgConnection, salt: [u8; 16]) -> Result<(), SeedError> {
    let hash = tokio::task::spawn_blocking(move || {
        crate::server::password::hash_password(SUPERADMIN_PASSWORD, &salt)
    })
    .await
    .map_err(anyhow::Error::from)?;
    // Dated like the rest of the seed, never by the clock: the same seed, the same rows.
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, role, \
         organization_id, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Super', 'Admin', 'superadmin', NULL, $4, $4)",
    )
    .bind(SUPERADMIN_ID)
    .bind(SUPERADMIN_EMAIL)
    .bind(hash)
    .bind(generate::base_time())
    .execute(tx)
    .await?;
    Ok(())
}

impl SeedSummary {
    fn add(&mut self, batch: &generate::Batch) {
        let n = |len: usize| len as u64;
        self.organizations += n(batch.organizations.id.len());
        self.users += n(batch.users.id.len());
        self.buildings += n(batch.buildings.id.len());
        self.units += n(batch.units.id.len());
        self.owners += n(batch.owners.id.len());
        self.unit_owners += n(batch.unit_owners.id.len());
        self.expenses += n(batch.expenses.id.len());
        self.accounts += n(batch.accounts.id.len());
        self.meetings += n(batch.meetings.id.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_logins_name_each_organizations_syndic() {
        let logins = demo_logins(1);
        assert_eq!(
            logins[0],
            DemoLogin {
                email: "syndic@grandplace.be".into(),
                password: "syndic123".into(),
                organization: "Syndic Grand-Place".into(),
            }
        );
        assert_eq!(logins.len(), 3);
        assert_eq!(logins[2].email, "syndic@meir.be");
        let logins = demo_logins(4);
        assert_eq!(logins.len(), 12);
        assert_eq!(logins[11].email, "syndic@meir-4.be");
    }

    #[test]
    fn demo_logins_are_the_generated_syndics() {
        let batch = SeedMaterial::new(2, 9).batch(0..6);
        let syndics: Vec<_> = (0..batch.users.id.len())
            .filter(|&i| batch.users.role[i] == "syndic")
            .map(|i| (batch.users.email[i].clone(), batch.users.password[i]))
            .collect();
        let logins: Vec<_> = demo_logins(2)
            .into_iter()
            .map(|l| (l.email, l.password))
            .collect();
        assert_eq!(
            syndics,
            logins
                .iter()
                .map(|(e, p)| (e.clone(), p.as_str()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn summary_serializes_elapsed_as_seconds() {
        let summary = SeedSummary {
            organizations: 3,
            users: 9,
            buildings: 23,
            units: 190,
            owners: 126,
            unit_owners: 250,
            expenses: 1150,
            accounts: 300,
            meetings: 50,
            elapsed: Duration::from_millis(1500),
            logins: demo_logins(1),
        };
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["elapsed_secs"], 1.5);
        assert_eq!(json["logins"][0]["email"], "syndic@grandplace.be");
    }

    #[test]
    fn options_default_to_scale_one_seed_42() {
        assert_eq!(
            SeedOptions::default(),
            SeedOptions {
                scale: 1,
                rng_seed: 42,
                reset: false
            }
        );
    }
}
