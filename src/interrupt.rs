//! Ctrl-C and SIGTERM: the first one asks the running command to stop (a load run stops
//! its users and still writes its report; every command then stops the server and the
//! embedded cluster it started). A second one is acknowledged, but cleanup still runs:
//! exiting at once would leave a PostgreSQL cluster behind.
//!
//! goose installs its own Ctrl-C handler when none is set; ours is installed first, and
//! pulls goose's kill switch itself.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tokio::sync::watch;

static SIGNALS: AtomicU32 = AtomicU32::new(0);
static QUIET: AtomicBool = AtomicBool::new(false);
static CHANNEL: OnceLock<watch::Sender<bool>> = OnceLock::new();

fn channel() -> &'static watch::Sender<bool> {
    CHANNEL.get_or_init(|| watch::channel(false).0)
}

/// Installs the handler (once per process; later calls do nothing).
pub fn install() {
    let _ = channel();
    let _ = ctrlc::set_handler(|| {
        let n = SIGNALS.fetch_add(1, Ordering::SeqCst) + 1;
        if QUIET.load(Ordering::SeqCst) {
            channel().send_replace(true);
        } else if n == 1 {
            eprintln!(
                "\ninterrupted: stopping (the report of what was measured is kept; cleaning up)…"
            );
            goose::trigger_killswitch("interrupted by the user");
            channel().send_replace(true);
        } else {
            eprintln!("still cleaning up: stopping the server and the embedded PostgreSQL…");
        }
    });
}

/// Stops on a signal without a word: a child server is stopped by its parent with
/// SIGINT at the end of every run, and shares the terminal's Ctrl-C with it; the parent
/// speaks for both.
pub fn quiet() {
    QUIET.store(true, Ordering::SeqCst);
}

/// Asks the running command to stop, as Ctrl-C would, without counting as one (used
/// when a child server's parent has gone).
pub fn request_stop() {
    channel().send_replace(true);
}

/// True once Ctrl-C or SIGTERM arrived.
pub fn interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// Resolves when Ctrl-C or SIGTERM arrives (at once if it already has).
pub async fn wait() {
    let mut rx = channel().subscribe();
    let _ = rx.wait_for(|v| *v).await;
}

/// The error a command returns when it was interrupted.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by Ctrl-C / SIGTERM")]
pub struct Interrupted;

/// Runs `work` until it finishes or Ctrl-C arrives; on Ctrl-C the future is dropped
/// (which stops what it started) and [`Interrupted`] is returned.
pub async fn interruptible<T>(
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::select! {
        result = work => result,
        _ = wait() => Err(Interrupted.into()),
    }
}
