//! Command glue: each subcommand resolves its arguments, then wires the pipeline stages
//! (database → seed → server → load → report). Errors carry context for the one-line
//! message `main` prints.

mod audit;
mod experiment;
mod gate;
mod load;
mod merge;
mod report;
mod seed;
mod serve;
mod tune;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::interrupt::Interrupted;

pub use crate::engine::LocalStack;
pub use crate::interrupt::interruptible;

/// Runs a parsed command line. `Ok(code)` for the process's exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::interrupt::install();
    match cli.command {
        Command::Demo(args) => load::demo(args).await,
        Command::Load(args) => load::load(args).await,
        Command::Experiment(args) => experiment::experiment(args).await,
        Command::Merge(args) => merge::merge(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Seed(args) => seed::seed(args).await,
        Command::TuneDb(args) => tune::tune_db(args).await,
        Command::Report(args) => report::report(args),
        Command::Gate(args) => gate::gate(args).await,
        Command::Audit(args) => audit::audit(args).await,
    }
}

/// The exit code for an error: 130 after Ctrl-C (the shell convention), 2 for input the
/// user must fix (as for usage errors: an [`InputError`](crate::report::InputError), a
/// scenario file, server settings) and for an audit that could not check, 1 otherwise.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    if error.downcast_ref::<Interrupted>().is_some() {
        ExitCode::from(130)
    } else if error.chain().any(|e| {
        e.is::<crate::report::InputError>()
            || e.is::<crate::audit::CannotAudit>()
            || e.is::<crate::load::scenario::ScenarioError>()
            || e.is::<crate::server::ConfigError>()
    }) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}
