//! Command glue: each subcommand resolves its arguments, then wires the pipeline stages
//! (database → seed → server → load → report). Errors carry context for the one-line
//! message `main` prints.

mod audit;
mod experiment;
mod frontend;
mod gate;
mod load;
mod merge;
mod report;
mod scenario;
mod seed;
mod serve;
mod tune;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::interrupt::Interrupted;

pub use crate::engine::LocalStack;

/// Runs a parsed command line. `Ok(code)` for the process's exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cancel = crate::interrupt::install();
    match cli.command {
        Command::Demo(args) => load::demo(args, cancel).await,
        Command::Load(args) => load::load(args, cancel).await,
        Command::Experiment(args) => experiment::experiment(args, cancel).await,
        Command::Merge(args) => merge::merge(args).await,
        Command::Serve(args) => serve::serve(args, cancel).await,
        Command::Seed(args) => seed::seed(args, &cancel).await,
        Command::TuneDb(args) => tune::tune_db(args, &cancel).await,
        Command::Report(args) => report::report(args),
        Command::Gate(args) => gate::gate(args, cancel).await,
        Command::Audit(args) => audit::audit(args).await,
        Command::Scenario(args) => scenario::scenario(args).await,
    }
}

/// `work` until Ctrl-C: for `audit`, whose command takes no token (its file is another
/// change's); every other command passes its own token to
/// [`crate::interrupt::interruptible`].
async fn interruptible<T>(
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    crate::interrupt::interruptible(&crate::interrupt::install(), work).await
}

/// The exit code for an error: 130 after Ctrl-C (the shell convention), 2 for input the
/// user must fix (as for usage errors: an [`InputError`](crate::report::InputError), a
/// scenario file, server settings, a profile or one of its indexes the schema cannot hold) and for an audit that could not check, 1 otherwise.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    if error.downcast_ref::<Interrupted>().is_some() {
        ExitCode::from(130)
    } else if error.chain().any(|e| {
        e.is::<crate::report::InputError>()
            || e.is::<crate::audit::CannotAudit>()
            || e.is::<crate::audit::frontend::CannotAuditFrontend>()
            || e.is::<crate::audit::frontend::budgets::BudgetsError>()
            || e.is::<crate::load::scenario::ScenarioError>()
            || e.is::<crate::server::ConfigError>()
            || e.is::<crate::tune::profile::ProfileError>()
    }) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// A `--host` (or `--url`) as the commands take it: an http(s) URL without trailing
/// slash and without credentials, and the form of it that may be printed (no password).
pub fn validated_host(
    flag: &str,
    host: &str,
) -> Result<(String, String), crate::report::InputError> {
    use crate::report::InputError;
    let host = host.trim_end_matches('/').to_string();
    let shown = crate::redact::redact(&host);
    let Some(url) = reqwest::Url::parse(&host)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
    else {
        return Err(InputError::msg(format!(
            "{flag} `{shown}` is not an http(s) URL (e.g. http://127.0.0.1:8080)"
        )));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(InputError::msg(format!(
            "{flag} `{shown}` carries credentials (USER:PASSWORD@): sent as HTTP basic \
             auth they would replace the login token, and every request would get a \
             401; give the API's logins with --login or --logins-file"
        )));
    }
    Ok((host, shown))
}
