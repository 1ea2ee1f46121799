//! The built-in CPU sampler: the flamegraph's fallback when `perf` cannot run (not
//! installed, `kernel.perf_event_paranoid` too high, not permitted in a container).
//!
//! It lives inside the bundled reference server, which is a child process of
//! `load`/`demo` (`serve --child --profile-to FILE`). pprof-rs samples the server's
//! own threads with `SIGPROF` timers at [`FREQUENCY_HZ`] and unwinds each stack from
//! the signal handler; the parent drives it with two signals:
//!
//! - `SIGUSR1` ([`Remote::start`]): start sampling (the steady state has begun);
//! - `SIGUSR2` ([`Remote::finish`]): stop, symbolize, and write the folded stacks to
//!   `FILE` (written to `FILE.tmp`, then renamed, so the parent never reads half a
//!   file); the parent renders them with inferno like perf's.
//!
//! Only our own server can be sampled this way: an external target gets the reason
//! perf could not run instead.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::flamegraph::{SVG_FILE_NAME, render, tidy_rust_name};

/// Samples per second of CPU time, as for perf.
pub const FREQUENCY_HZ: i32 = 199;
/// How long the parent waits for the server to symbolize and write its stacks.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Libraries pprof must not unwind through from a signal handler (their unwinding can
/// deadlock): pprof-rs's own recommendation.
const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];
/// First line of the file when the server could not profile.
const ERROR_PREFIX: &str = "error: ";

/// Server side: installs the handlers of the parent's two signals now (their default
/// action would kill the server) and returns the task that profiles between them.
pub fn install(out: PathBuf) -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut start = signal(SignalKind::user_defined1())?;
    let mut stop = signal(SignalKind::user_defined2())?;
    Ok(async move {
        let mut guard = None;
        loop {
            tokio::select! {
                Some(()) = start.recv() => {
                    guard = Some(
                        pprof::ProfilerGuardBuilder::default()
                            .frequency(FREQUENCY_HZ)
                            .blocklist(&BLOCKLIST)
                            .build()
                            .map_err(|e| format!("the built-in sampler could not start: {e}")),
                    );
                }
                Some(()) = stop.recv() => {
                    let taken = guard.take();
                    let path = out.clone();
                    // Symbolizing reads the executable's debug info: seconds of CPU,
                    // off the server's worker threads.
                    let _ = tokio::task::spawn_blocking(move || {
                        write_atomically(&path, &stacks_or_error(taken))
                    })
                    .await;
                }
                else => return,
            }
        }
    })
}

fn stacks_or_error(guard: Option<Result<pprof::ProfilerGuard<'static>, String>>) -> String {
    match guard {
        None => format!("{ERROR_PREFIX}the sampler was never started\n"),
        Some(Err(e)) => format!("{ERROR_PREFIX}{e}\n"),
        Some(Ok(guard)) => match guard.report().build() {
            Ok(report) => folded(&report).join("\n"),
            Err(e) => format!("{ERROR_PREFIX}the built-in sampler failed: {e}\n"),
        },
    }
}

/// The report as folded stacks: `thread;root;…;leaf count`, inlined frames included.
fn folded(report: &pprof::Report) -> Vec<String> {
    let mut lines: Vec<String> = report
        .data
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(frames, count)| {
            let mut line = frames.thread_name_or_id().replace(';', ",");
            // pprof lists the leaf first, and each frame's inlined functions innermost
            // first.
            for frame in frames.frames.iter().rev() {
                for symbol in frame.iter().rev() {
                    line.push(';');
                    line.push_str(&tidy_rust_name(&symbol.name()).replace(';', ","));
                }
            }
            line.push(' ');
            line.push_str(&count.to_string());
            line
        })
        .collect();
    lines.sort();
    lines
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Parent side: the built-in sampler of a `serve --child --profile-to FILE` process.
pub struct Remote {
    pid: u32,
    file: PathBuf,
}

impl Remote {
    /// Tells the server `pid` to start sampling; its stacks will be written to `file`.
    pub fn start(pid: u32, file: &Path) -> Result<Remote, String> {
        let _ = std::fs::remove_file(file);
        kill(Pid::from_raw(pid as i32), Signal::SIGUSR1)
            .map_err(|e| format!("cannot signal the server (pid {pid}) to sample: {e}"))?;
        Ok(Remote {
            pid,
            file: file.to_path_buf(),
        })
    }

    /// Stops the sampler, waits for its stacks and renders [`SVG_FILE_NAME`] into
    /// `out_dir`. Returns the file name, or why no flamegraph was made.
    pub async fn finish(self, title: &str, out_dir: &Path) -> Result<String, String> {
        kill(Pid::from_raw(self.pid as i32), Signal::SIGUSR2).map_err(|e| {
            format!(
                "cannot signal the server (pid {}) to stop sampling: {e}",
                self.pid
            )
        })?;
        let started = Instant::now();
        let text = loop {
            // Checked before the read, so that a file written just before the exit is
            // still found.
            let alive = crate::pg::embedded::process_alive(self.pid);
            match tokio::fs::read_to_string(&self.file).await {
                Ok(text) => break text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot read the sampled stacks: {e}")),
            }
            // A Ctrl-C reaches the server too (the terminal signals the whole process
            // group), and a signalled zombie still accepts signals: waiting for a dead
            // server's samples would only delay the exit.
            if !alive {
                return Err(format!(
                    "the server (pid {}) exited before writing its samples",
                    self.pid
                ));
            }
            if started.elapsed() > WRITE_TIMEOUT {
                return Err(format!(
                    "the server wrote no samples within {} s",
                    WRITE_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let _ = std::fs::remove_file(&self.file);
        if let Some(error) = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix(ERROR_PREFIX))
        {
            return Err(error.to_owned());
        }
        let lines: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if lines.is_empty() {
            return Err("the built-in sampler took no samples (the server was idle)".into());
        }
        let title = format!("{title} (built-in sampler, {FREQUENCY_HZ} Hz)");
        let path = out_dir.join(SVG_FILE_NAME);
        let out = out_dir.to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            render(&lines, &title, "samples", &path)
        })
        .await
        .map_err(|e| format!("flamegraph task failed: {e}"))??;
        Ok(SVG_FILE_NAME.to_owned())
    }
}
