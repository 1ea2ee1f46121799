//! `koprogo-perf serve`: the reference API server until Ctrl-C.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::ServeArgs;

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.server.resolve().context("server settings")?;
    let mut stack = super::interruptible(super::LocalStack::start(
        args.db.database_url.as_deref(),
        &args.scale,
        config,
    ))
    .await?;
    println!(
        "serving the reference KoproGo API on {}/api/v1 (database {}, pool {} connections); Ctrl-C stops it",
        stack.base_url(),
        stack.db.display_url(),
        stack.pool_max_connections
    );
    if let Some(login) = stack.logins.first() {
        println!(
            "  try: curl -s -X POST {}/api/v1/auth/login -H 'content-type: application/json' -d '{{\"email\":\"{}\",\"password\":\"{}\"}}'",
            stack.base_url(),
            login.email,
            login.password
        );
    }
    if args.db.keep_db {
        stack.db.keep();
    }
    crate::interrupt::wait().await;
    eprintln!("stopping the server…");
    stack.stop().await;
    Ok(ExitCode::SUCCESS)
}
