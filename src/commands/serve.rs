//! `koprogo-perf serve`: the reference API server until Ctrl-C.

use std::process::ExitCode;

use std::io::Write;

use anyhow::Context;

use crate::cli::{Announce, ServeArgs};
use crate::interrupt::{CancellationToken, interruptible};

/// `koprogo-perf serve`: until `cancel` (Ctrl-C, or for a child the parent's end).
pub async fn serve(args: ServeArgs, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    if args.child {
        crate::interrupt::quiet();
    }
    let config = args.server.resolve().context("server settings")?;
    let mut stack = interruptible(
        &cancel,
        super::LocalStack::start_quiet(
            args.db.database_url.as_deref(),
            &args.scale.resolve(),
            config,
            args.child,
        ),
    )
    .await?;
    if let Some(file) = args.profile_to.clone() {
        let sampler = crate::measure::sampler::install(file)
            .context("installing the built-in sampler's signal handlers")?;
        tokio::spawn(sampler);
    }
    if args.child {
        // Started by load/demo: stop when the parent is gone, whatever killed it.
        let parent = nix::unistd::getppid();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if nix::unistd::getppid() != parent {
                    cancel.cancel();
                    return;
                }
            }
        });
    }
    // Written without println!: a closed stdout (a parent that stopped reading) must
    // not kill the server.
    let mut out = std::io::stdout();
    if args.child || args.announce == Announce::Json {
        // The parent reads the address from this one line.
        let line = crate::engine::stack::Announcement { addr: stack.addr }.line();
        let _ = writeln!(out, "{line}");
    } else {
        announce(&mut out, &stack);
    }
    if args.db.keep_db {
        stack.db.keep();
    }
    cancel.cancelled().await;
    if !args.child {
        eprintln!("stopping the server…");
    }
    stack.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// The address, the database and a login to try, for whoever started `serve`.
fn announce(out: &mut impl Write, stack: &crate::engine::LocalStack) {
    let _ = writeln!(
        out,
        "serving the reference KoproGo API on {}/api/v1 (database {}, pool {} connections); Ctrl-C stops it",
        stack.base_url(),
        stack.db.display_url(),
        stack.pool_max_connections
    );
    if let Some(login) = stack.logins.first() {
        let _ = writeln!(
            out,
            "  try: curl -s -X POST {}/api/v1/auth/login -H 'content-type: application/json' -d '{{\"email\":\"{}\",\"password\":\"{}\"}}'",
            stack.base_url(),
            login.email,
            login.password
        );
    }
}
