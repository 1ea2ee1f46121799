//! `koprogo-perf seed`: migrate and fill a database with the reference data.

use std::process::ExitCode;

use crate::cli::SeedArgs;
use crate::interrupt::{CancellationToken, interruptible};
use crate::pg::Database;
use crate::seed::SeedOptions;

pub async fn seed(args: SeedArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let mut db = interruptible(cancel, Database::open(args.db.database_url.as_deref())).await?;
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
    let summary = interruptible(cancel, async move {
        let pool = crate::pg::connect(&url, 4).await?;
        let summary = crate::seed::seed(&pool, &options).await?;
        pool.close().await;
        Ok(summary)
    })
    .await?;
    crate::engine::stack::print_seed_summary(&summary, &db.display_url());
    if args.db.keep_db {
        db.keep();
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
