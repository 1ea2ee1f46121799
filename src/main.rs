//! `koprogo-perf`: parse, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use koprogo_perf::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line, as for every other bad input: clap's message up to its first
            // blank line (the usage and tips after it are what --help shows).
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see --help)", message.join(" "));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(koprogo_perf::run(cli));
    // Async tasks (server connections) are dropped at once; blocking ones — an embedded
    // cluster still starting or stopping after Ctrl-C — are waited for, so that its
    // `Drop` can stop it and remove its directory.
    runtime.shutdown_timeout(std::time::Duration::from_secs(90));
    match result {
        Ok(code) => code,
        Err(e) => {
            // The chain on one line, each cause once: a layer that already quotes its
            // source's text (`… (os error 2)`) is not followed by it again.
            let mut parts: Vec<String> = Vec::new();
            for cause in e.chain() {
                let text = cause.to_string();
                if !parts.last().is_some_and(|p| p.contains(&text)) {
                    parts.push(text);
                }
            }
            eprintln!("error: {}", parts.join(": "));
            koprogo_perf::commands::exit_code_for(&e)
        }
    }
}
