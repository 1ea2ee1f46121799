//! `koprogo-perf`: parse, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use koprogo_perf::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(koprogo_perf::run(cli));
    // Let background tasks (server connections) end without waiting on them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            koprogo_perf::commands::exit_code_for(&e)
        }
    }
}
