//! `koprogo-perf seed`: migrate and fill a database with the reference data.

use std::process::ExitCode;

use crate::cli::SeedArgs;
use crate::pg::Database;
use crate::seed::{SeedOptions, SeedSummary};

pub async fn seed(args: SeedArgs) -> anyhow::Result<ExitCode> {
    let mut db = super::interruptible(Database::open(args.db.database_url.as_deref())).await?;
    if db.is_embedded() && !args.db.keep_db {
        eprintln!(
            "note: seeding a throwaway embedded cluster (removed at exit); pass --database-url or --keep-db to keep the data"
        );
    }
    let options = SeedOptions {
        scale: args.scale.scale,
        rng_seed: args.scale.rng_seed,
        reset: args.reset,
    };
    let url = db.url().to_string();
    let summary = super::interruptible(async move {
        let pool = crate::pg::connect(&url, 4).await?;
        let summary = crate::seed::seed(&pool, &options).await?;
        pool.close().await;
        Ok(summary)
    })
    .await?;
    print_summary(&summary, &db.display_url());
    if args.db.keep_db {
        db.keep();
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Prints what was seeded, how long it took and the demo credentials.
pub fn print_summary(s: &SeedSummary, where_: &str) {
    println!(
        "seeded {where_} in {:.2} s: {} organizations, {} users, {} buildings, {} units, {} owners, \
         {} unit_owners, {} expenses, {} accounts, {} meetings",
        s.elapsed.as_secs_f64(),
        s.organizations,
        s.users,
        s.buildings,
        s.units,
        s.owners,
        s.unit_owners,
        s.expenses,
        s.accounts,
        s.meetings
    );
    let shown = 3.min(s.logins.len());
    for login in &s.logins[..shown] {
        println!(
            "  login: {} / {} ({})",
            login.email, login.password, login.organization
        );
    }
    if s.logins.len() > shown {
        println!(
            "  … and {} more syndics: syndic@<org-slug>.be / syndic123",
            s.logins.len() - shown
        );
    }
}
