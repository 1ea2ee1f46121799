//! Ctrl-C and SIGTERM: the first one asks the running command to stop (a load run stops
//! its users and still writes its report; every command then stops the server and the
//! embedded cluster it started). A second one is acknowledged, but cleanup still runs:
//! exiting at once would leave a PostgreSQL cluster behind.
//!
//! A signal is the process's, so the handler is installed once per process; all it does
//! is cancel a token. [`install`] hands each command a child of that token
//! ([`CancellationToken`], tokio-util), and every stage that must stop takes it as a
//! parameter: nothing below reads a global flag.
//!
//! goose installs its own Ctrl-C handler when none is set; ours is installed first, and
//! pulls goose's kill switch itself.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

pub use tokio_util::sync::CancellationToken;

static SIGNALS: AtomicU32 = AtomicU32::new(0);
static QUIET: AtomicBool = AtomicBool::new(false);
static ROOT: OnceLock<CancellationToken> = OnceLock::new();

/// The token the signal handler cancels.
fn root() -> &'static CancellationToken {
    ROOT.get_or_init(|| {
        let token = CancellationToken::new();
        let on_signal = token.clone();
        let _ = ctrlc::set_handler(move || {
            let n = SIGNALS.fetch_add(1, Ordering::SeqCst) + 1;
            if QUIET.load(Ordering::SeqCst) {
                on_signal.cancel();
            } else if n == 1 {
                eprintln!(
                    "\ninterrupted: stopping (the report of what was measured is kept; cleaning up)…"
                );
                goose::trigger_killswitch("interrupted by the user");
                on_signal.cancel();
            } else {
                eprintln!("still cleaning up: stopping the server and the embedded PostgreSQL…");
            }
        });
        token
    })
}

/// Installs the handler (once per process; later calls only hand out a new token) and
/// returns a token for one command: cancelled by Ctrl-C or SIGTERM, or by the command
/// itself (a child server whose parent is gone).
pub fn install() -> CancellationToken {
    root().child_token()
}

/// Stops on a signal without a word: a child server is stopped by its parent with
/// SIGINT at the end of every run, and shares the terminal's Ctrl-C with it; the parent
/// speaks for both.
pub fn quiet() {
    QUIET.store(true, Ordering::SeqCst);
}

/// The error a command returns when it was interrupted.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by Ctrl-C / SIGTERM")]
pub struct Interrupted;

/// Runs `work` until it finishes or `cancel` is cancelled; then the future is dropped
/// (which stops what it started) and [`Interrupted`] is returned.
pub async fn interruptible<T>(
    cancel: &CancellationToken,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::select! {
        result = work => result,
        _ = cancel.cancelled() => Err(Interrupted.into()),
    }
}
