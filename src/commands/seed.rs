//! `koprogo-perf seed`: migrate and fill a database with the reference data, or create
//! the same data on a running KoproGo through its API (`--host`).

use std::process::ExitCode;

use crate::cli::SeedArgs;
use crate::interrupt::{CancellationToken, interruptible};
use crate::logins::Login;
use crate::pg::Database;
use crate::report::InputError;
use crate::seed::SeedOptions;
use crate::seed::api::{ApiSeedError, ApiSeedOptions, ApiSeedSummary};

pub async fn seed(args: SeedArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    if let Some(host) = &args.host {
        return through_api(&args, host, cancel).await;
    }
    if args.admin.is_some() {
        return Err(InputError::msg(
            "--admin is for --host (seeding a running KoproGo through its API)",
        )
        .into());
    }
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

/// `seed --host`: the data set through KoproGo's API.
async fn through_api(
    args: &SeedArgs,
    host: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    let (host, shown) = super::validated_host("--host", host)?;
    let admin: Login = args
        .admin
        .as_deref()
        .ok_or_else(|| {
            InputError::msg(
                "seed --host needs KoproGo's superadmin: --admin EMAIL:PASSWORD or KOPROGO_PERF_ADMIN",
            )
        })?
        .parse()
        .map_err(|_| InputError::msg("--admin: expected EMAIL:PASSWORD (not shown)"))?;
    if args.logins_out.is_dir() {
        return Err(InputError::msg(format!(
            "--logins-out {} is a directory: name a file",
            args.logins_out.display()
        ))
        .into());
    }
    let options = ApiSeedOptions {
        host,
        admin,
        scale: args.scale.scale,
        rng_seed: args.scale.rng_seed,
        concurrency: args.concurrency as usize,
        logins_out: args.logins_out.clone(),
    };
    eprintln!(
        "seeding {shown} through its API: scale {} ({} organizations, {} expenses), {} requests in flight",
        options.scale,
        options.scale * 3,
        crate::seed::api::expected_expenses(options.scale),
        options.concurrency
    );
    match crate::seed::api::seed_via_api(&options, cancel).await {
        Ok(summary) => {
            print_summary(&summary, &shown, &args.logins_out.display().to_string());
            Ok(ExitCode::SUCCESS)
        }
        Err(ApiSeedError::Interrupted) if cancel.is_cancelled() => {
            Err(crate::interrupt::Interrupted.into())
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("seed --host {shown}"))),
    }
}

fn print_summary(s: &ApiSeedSummary, shown: &str, logins: &str) {
    use comfy_table::Table;
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["rows", "created", "already there"]);
    let (c, f) = (&s.created, &s.found);
    for (name, created, found) in [
        ("organizations", c.organizations, f.organizations),
        ("users", c.users, f.users),
        ("accounts (PCMN)", c.accounts, f.accounts),
        ("buildings", c.buildings, f.buildings),
        ("units", c.units, f.units),
        ("owners", c.owners, f.owners),
        ("current ownerships", c.unit_owners, f.unit_owners),
        ("expenses", c.expenses, f.expenses),
        ("expense workflow moves", c.expense_moves, f.expense_moves),
    ] {
        table.add_row([name.to_string(), created.to_string(), found.to_string()]);
    }
    println!("{table}");
    let secs = s.elapsed.as_secs_f64();
    println!(
        "seeded {shown} in {secs:.1} s: {} requests ({:.0}/s), {} rate-limited (429) and {} unavailable answers retried",
        s.requests,
        s.requests as f64 / secs.max(0.001),
        s.rate_limited,
        s.unavailable
    );
    println!(
        "logins: {logins} ({} syndics; mode 0600) — e.g. koprogo-perf load --host {shown} --logins-file {logins}",
        s.syndic_logins
    );
    if s.created.approvals_refused > 0 {
        println!(
            "{} invoices left pending_approval: the target refused their approval (KoproGo approves a Works invoice only with a validated contractor report, which the seed does not create)",
            s.created.approvals_refused
        );
    }
    println!(
        "not created (KoproGo's API offers no way): {}",
        s.not_created.join("; ")
    );
}
