//! Errors every stage shares: [`InputError`] (the user's input cannot be used: exit
//! code 2) and [`root_cause`] for one-line messages. A leaf module.

/// Something the user gave (a file, a flag's value) cannot be used: the command exits
/// with code 2, as for a usage error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct InputError(#[from] pub anyhow::Error);

impl InputError {
    /// An input error with this message.
    pub fn msg(message: impl std::fmt::Display) -> InputError {
        InputError(anyhow::anyhow!("{message}"))
    }
}

/// The innermost cause of an error (e.g. "Connection refused (os error 111)"):
/// reqwest's and sqlx's outer layers only repeat the URL or the operation.
pub fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
