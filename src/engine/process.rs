//! A target server the tool starts itself (`load --host URL --server-cmd "CMD ARGS"`), so
//! that an operator's own build (KoproGo's `koprogo-api`) can be measured and profiled
//! like the reference server: the command is checked before anything starts, run in a
//! process group of its own with the tool's environment (and heaptrack's, with
//! `--heap-profile`), waited for until `--host` answers, and stopped at the end — SIGINT,
//! then SIGTERM and SIGKILL to its whole group — on every path, Ctrl-C and errors
//! included. Its output is kept only as its last lines, shown (passwords of URLs hidden)
//! when it fails.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead};

use crate::error::InputError;
use crate::measure::heap::Session;

/// The last lines of the server's output kept for an error message.
const TAIL_LINES: usize = 12;
/// How long the server has to stop after SIGINT, then after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// `--server-cmd`, checked: a program that exists, and its arguments.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The command as shown (URL passwords hidden).
    pub shown: String,
}

impl ServerCommand {
    /// Splits `text` as a shell would (quotes, backslashes; no variables, no pipes) and
    /// finds its program: a path, or a name on the `PATH`.
    pub fn parse(text: &str) -> Result<ServerCommand, InputError> {
        let shown = crate::redact::redact(text.trim());
        let words = shlex::split(text).ok_or_else(|| {
            InputError::msg(format!(
                "--server-cmd `{shown}`: unbalanced quotes (it is split as a shell would, without running one)"
            ))
        })?;
        let Some((first, args)) = words.split_first() else {
            return Err(InputError::msg(
                "--server-cmd is empty: give the server's executable and its arguments, e.g. --server-cmd \"./target/release/koprogo-api\"",
            ));
        };
        let program = if first.contains('/') {
            let path = PathBuf::from(first);
            if !path.is_file() {
                return Err(InputError::msg(format!(
                    "--server-cmd: {first} does not exist (or is not a file): give the path of the server's executable"
                )));
            }
            path
        } else {
            crate::measure::heap::heaptrack::on_path(first).ok_or_else(|| {
                InputError::msg(format!(
                    "--server-cmd: `{first}` is not a program on the PATH: give its path, e.g. ./target/release/{first}"
                ))
            })?
        };
        if std::fs::metadata(&program)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 == 0)
            .unwrap_or(true)
        {
            return Err(InputError::msg(format!(
                "--server-cmd: {} is not executable (chmod +x it)",
                program.display()
            )));
        }
        Ok(ServerCommand {
            program,
            args: args.to_vec(),
            shown,
        })
    }
}

/// Refuses `--host` when something already listens on its address: the run would load
/// it rather than the command's server (which could not bind it anyway).
pub async fn ensure_free(host: &reqwest::Url) -> Result<(), InputError> {
    let addrs = host.socket_addrs(|| None).map_err(|e| {
        InputError::msg(format!("--host {}: cannot be resolved: {e}", host.as_str()))
    })?;
    for addr in &addrs {
        let connect = tokio::net::TcpStream::connect(addr);
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), connect).await {
            return Err(InputError::msg(format!(
                "--server-cmd: something already listens on {addr} (--host): the run would load it \
                 rather than the command's server; stop it, or give --host the address the \
                 command listens on"
            )));
        }
    }
    Ok(())
}

/// The server process, running. Dropped without [`ServerProcess::stop`] (an error, a
/// panic), it kills its process group.
pub struct ServerProcess {
    child: tokio::process::Child,
    /// Its process group (its own pid).
    group: Option<Pid>,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// The tasks reading its outputs; they end with it.
    readers: Vec<tokio::task::JoinHandle<()>>,
    heap: Option<Session>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

impl ServerProcess {
    /// Starts `command` and waits until `host` answers an HTTP request (any status), at
    /// most `timeout`. Fails at once, with its last lines, when the process exits first.
    pub async fn start(
        command: &ServerCommand,
        host: &reqwest::Url,
        mut heap: Option<Session>,
        timeout: Duration,
    ) -> anyhow::Result<ServerProcess> {
        let mut cmd = tokio::process::Command::new(&command.program);
        cmd.args(&command.args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            // Its own group: stopping it reaches whatever it started; the terminal's
            // Ctrl-C comes to the tool, which stops it.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(session) = &mut heap {
            cmd.envs(session.env());
            session.mark_started();
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("--server-cmd: cannot start {}: {e}", command.shown))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let mut readers = Vec::new();
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|e| Box::new(e) as Box<dyn AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            readers.push(tokio::spawn(keep_tail(out, tail.clone())));
        }
        let mut process = ServerProcess {
            group: child.id().map(|pid| Pid::from_raw(pid as i32)),
            child,
            tail,
            readers,
            heap,
        };
        process.wait_ready(command, host, timeout).await?;
        Ok(process)
    }

    /// Polls `host` until it answers; fails when the process exits or time runs out.
    async fn wait_ready(
        &mut self,
        command: &ServerCommand,
        host: &reqwest::Url,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let began = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                // Its last words, read to their end (a child of its own may hold them open).
                for reader in self.readers.drain(..) {
                    let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
                }
                anyhow::bail!(
                    "--server-cmd `{}` exited ({status}) before {} answered{}",
                    command.shown,
                    crate::redact::redact(host.as_str()),
                    self.last_lines()
                );
            }
            if client.get(host.clone()).send().await.is_ok() {
                return Ok(());
            }
            if began.elapsed() > timeout {
                anyhow::bail!(
                    "--server-cmd `{}`: {} did not answer within {} s (--server-start-timeout){}",
                    command.shown,
                    crate::redact::redact(host.as_str()),
                    timeout.as_secs(),
                    self.last_lines()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The process id, for the resources sampler and the flamegraph.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `; its last lines: …`, or nothing.
    fn last_lines(&self) -> String {
        let tail = self.tail.lock().map(|t| t.clone()).unwrap_or_default();
        if tail.is_empty() {
            return String::new();
        }
        let lines: Vec<String> = tail.iter().map(|l| crate::redact::redact(l)).collect();
        format!("; its last lines:\n  {}", lines.join("\n  "))
    }

    /// Stops it: SIGINT to the server, then SIGTERM and SIGKILL to its group when it does
    /// not end within [`STOP_GRACE`] each; then its group is killed in case it left
    /// anything. Returns the heap session (complete now) and how it ended.
    pub async fn stop(mut self) -> (Option<Session>, String) {
        let how = match self.child.id() {
            None => "it had already exited".to_string(),
            Some(pid) => {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGINT);
                match self.wait(STOP_GRACE).await {
                    Some(status) => format!("stopped by SIGINT ({status})"),
                    None => {
                        if let Some(group) = self.group {
                            let _ = killpg(group, Signal::SIGTERM);
                        }
                        match self.wait(STOP_GRACE).await {
                            Some(status) => format!("stopped by SIGTERM ({status})"),
                            None => {
                                if let Some(group) = self.group {
                                    let _ = killpg(group, Signal::SIGKILL);
                                }
                                let _ = self.child.wait().await;
                                "killed (SIGKILL): it ignored SIGINT and SIGTERM".to_string()
                            }
                        }
                    }
                }
            }
        };
        if let Some(group) = self.group.take() {
            let _ = killpg(group, Signal::SIGKILL);
        }
        (self.heap.take(), how)
    }

    async fn wait(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(grace, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

/// Keeps the last [`TAIL_LINES`] lines of one of the server's outputs.
async fn keep_tail(out: Box<dyn AsyncRead + Send + Unpin>, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = tokio::io::BufReader::new(out).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}

/// A measured run of a server the tool starts: `command` started (with heaptrack when
/// the plan profiles the heap) and waited for, the load with `probe` (its server pid
/// filled in), the server stopped whatever happened, its heap read into the run.
pub async fn measure_started(
    plan: &crate::engine::RunPlan,
    command: &ServerCommand,
    url: &reqwest::Url,
    (host, logins, target): (
        String,
        Vec<crate::load::Login>,
        crate::report::run::TargetInfo,
    ),
    mut probe: crate::engine::Probe,
    start_timeout: Duration,
) -> anyhow::Result<crate::report::run_dir::Run> {
    let heap = plan
        .heap
        .as_ref()
        .map(|h| h.session())
        .transpose()
        .context("preparing heaptrack's recording")?;
    eprintln!("starting the server under test: {}", command.shown);
    let started = ServerProcess::start(command, url, heap, start_timeout);
    let process = crate::interrupt::interruptible(&plan.cancel, started).await?;
    eprintln!(
        "server under test: pid {}, answering on {}",
        process.pid().unwrap_or(0),
        target.host
    );
    probe.server_pid = process.pid();
    probe.server_note = None;
    let result = crate::engine::measure(plan, host, logins, target, probe).await;
    let (heap, how) = process.stop().await;
    eprintln!("the server under test is stopped: {how}");
    let mut run = result?;
    if let Some(session) = heap {
        crate::engine::attach_heap(plan, &mut run, session).await?;
    }
    Ok(run)
}
