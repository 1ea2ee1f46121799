//! heaptrack as `--heap-profile` runs it: found once, before anything starts (`$HEAPTRACK`
//! or `heaptrack` on the `PATH`, then the preload library and interpreter beside it, where
//! its own script looks for them); preloaded into the server's process, which writes its
//! raw events into a FIFO that `zstd -1` (or `gzip -1`) compresses into a private
//! temporary directory; interpreted (symbols resolved) after the server has exited,
//! straight into [`super::trace::read`].
//!
//! Why not the `heaptrack` script itself: it runs the program as its own child, so the
//! process the tool would signal, sample and stop is the script, not the server; and it
//! interprets the events while the run goes on. Interpreting took 1.6 s of CPU per
//! million allocations here (the reference server makes 200 to 500 per request), most of
//! a core at a few thousand requests per second on the machine under load; compressing
//! the raw events with zstd -1 costs a few percent of one, and leaves about 2.3 KB a
//! request on disk (a sixth of the raw events) until the session ends.

use std::ffi::OsString;
use std::io::{BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::trace::{Series, Timeline, Window};

/// heaptrack's parts, found.
#[derive(Debug, Clone)]
pub struct Heaptrack {
    /// `heaptrack 1.4.0`.
    pub version: String,
    preload: PathBuf,
    interpret: PathBuf,
    /// `zstd` or `gzip`, for the raw events.
    compressor: PathBuf,
}

/// How to get heaptrack, for the message when it is missing.
const INSTALL: &str = "install it (Debian/Ubuntu: apt-get install heaptrack; Fedora: dnf install heaptrack) or set HEAPTRACK to its path";

impl Heaptrack {
    /// heaptrack from `$HEAPTRACK` or the `PATH`, with the two files it needs; one line
    /// saying what to install when something is missing.
    pub fn find() -> Result<Heaptrack, String> {
        let script = match std::env::var_os("HEAPTRACK") {
            Some(path) => {
                let path = PathBuf::from(path);
                if !path.is_file() {
                    return Err(format!(
                        "--heap-profile: HEAPTRACK={} is not a file: {INSTALL}",
                        path.display()
                    ));
                }
                path
            }
            None => on_path("heaptrack").ok_or_else(|| {
                format!("--heap-profile needs heaptrack, which is not on the PATH: {INSTALL}")
            })?,
        };
        let script = script.canonicalize().unwrap_or(script);
        let lib = script
            .parent()
            .unwrap_or(Path::new("/"))
            .join("../lib/heaptrack");
        let preload = lib.join("libheaptrack_preload.so");
        let interpret = lib.join("libexec/heaptrack_interpret");
        for part in [&preload, &interpret] {
            if !part.is_file() {
                return Err(format!(
                    "--heap-profile: heaptrack at {} lacks {} (an incomplete install): reinstall heaptrack",
                    script.display(),
                    part.display()
                ));
            }
        }
        let compressor = on_path("zstd").or_else(|| on_path("gzip")).ok_or_else(|| {
            "--heap-profile compresses heaptrack's data with zstd or gzip, and neither is on the PATH: install zstd".to_string()
        })?;
        let version = Command::new(&script)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|v| v.starts_with("heaptrack"))
            .unwrap_or_else(|| "heaptrack (version unknown)".into());
        Ok(Heaptrack {
            version,
            preload: preload.canonicalize().unwrap_or(preload),
            interpret,
            compressor,
        })
    }

    /// A session for one server process: its FIFO, and the compressor waiting on it.
    pub fn session(&self) -> std::io::Result<Session> {
        let dir = tempfile::Builder::new()
            .prefix("koprogo-perf-heap-")
            .tempdir()?;
        let fifo = dir.path().join("heaptrack.fifo");
        nix::unistd::mkfifo(
            &fifo,
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .map_err(std::io::Error::from)?;
        let data = dir.path().join("heaptrack.raw.z");
        // The compressor opens the FIFO itself: the open waits, in its process, for the
        // server's heaptrack to open the other end.
        let recorder = Command::new(&self.compressor)
            .args(["-1", "-c", "-f", "-q"])
            .arg(&fifo)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&data)?)
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Session {
            fifo,
            data,
            dir,
            tool: self.clone(),
            recorder: Some(recorder),
            started: None,
        })
    }
}

/// The first `name` on the `PATH` that is a file.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// heaptrack recording one server process: the environment its command gets, then its
/// data once it has exited. The raw data lives in a 0700 temporary directory, removed
/// with the session.
pub struct Session {
    dir: tempfile::TempDir,
    fifo: PathBuf,
    /// The compressed raw events.
    data: PathBuf,
    tool: Heaptrack,
    /// The compressor reading the FIFO, until it has ended.
    recorder: Option<Child>,
    started: Option<SystemTime>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut recorder) = self.recorder.take() {
            let _ = recorder.kill();
            let _ = recorder.wait();
        }
    }
}

impl Session {
    /// The variables that make the process record itself: heaptrack's library preloaded
    /// (before any the environment already preloads) and where it writes. heaptrack
    /// removes them from the process's own environment, so its children are not traced.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let mut preload = self.tool.preload.clone().into_os_string();
        if let Some(already) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
            preload.push(":");
            preload.push(already);
        }
        vec![
            ("LD_PRELOAD".into(), preload),
            (
                "DUMP_HEAPTRACK_OUTPUT".into(),
                self.fifo.clone().into_os_string(),
            ),
        ]
    }

    /// Says the process is being started now: heaptrack's clock starts with it.
    pub fn mark_started(&mut self) {
        self.started = Some(SystemTime::now());
    }

    /// When the process started (heaptrack's time 0).
    pub fn started(&self) -> Option<SystemTime> {
        self.started
    }

    /// The profiler's name and version.
    pub fn profiler(&self) -> &str {
        &self.tool.version
    }

    /// Interprets the data of the exited process and reads it (see
    /// [`super::trace::read`]). Blocking: seconds for a long run.
    pub fn read(&mut self, window: Window, series: Series) -> Result<Timeline, String> {
        self.end_recording();
        if std::fs::metadata(&self.data).map_or(0, |m| m.len()) == 0 {
            return Err(
                "the server wrote no heap data: heaptrack's library did not load in it \
                 (a statically linked binary, or a command that is a script starting the server: \
                 give the server's own executable)"
                    .into(),
            );
        }
        let mut unpack = Command::new(&self.tool.compressor)
            .args(["-d", "-c", "-q"])
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.tool.compressor.display()))?;
        let unpacked = unpack.stdout.take().expect("piped stdout");
        let interpret = Command::new(&self.tool.interpret)
            .stdin(unpacked)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .current_dir(self.dir.path())
            .spawn();
        let mut child = match interpret {
            Ok(c) => c,
            Err(e) => {
                let _ = unpack.kill();
                let _ = unpack.wait();
                return Err(format!(
                    "cannot run heaptrack's interpreter {}: {e}",
                    self.tool.interpret.display()
                ));
            }
        };
        let stderr = child.stderr.take().expect("piped stderr");
        // Drained aside, so that the interpreter never blocks on a full pipe.
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr)
                .take(64 * 1024)
                .read_to_string(&mut text);
            text
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let timeline =
            super::trace::read(BufReader::with_capacity(1 << 20, stdout), window, series);
        // Reap both even when reading stopped early.
        if timeline.is_err() {
            let _ = child.kill();
            let _ = unpack.kill();
        }
        let status = child.wait();
        let _ = unpack.wait();
        let errors = errors.join().unwrap_or_default();
        let timeline = timeline
            .map_err(|e| format!("heaptrack's data cannot be read: {e}{}", tail(&errors)))?;
        match status {
            Ok(s) if s.success() => Ok(timeline),
            Ok(s) => Err(format!("heaptrack_interpret failed ({s}){}", tail(&errors))),
            Err(e) => Err(format!("cannot wait for heaptrack_interpret: {e}")),
        }
    }

    /// Waits for the compressor to see the end of the server's data (the server has
    /// exited, closing the FIFO). One whose server never opened the FIFO still waits in
    /// its open: opening the writing end here, without waiting, and closing it ends it.
    fn end_recording(&mut self) {
        let Some(mut recorder) = self.recorder.take() else {
            return;
        };
        let began = Instant::now();
        let mut nudged = false;
        loop {
            match recorder.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if began.elapsed() > Duration::from_secs(30) => {
                    let _ = recorder.kill();
                    let _ = recorder.wait();
                    break;
                }
                Ok(None) => {
                    if !nudged && began.elapsed() > Duration::from_millis(500) {
                        nudged = true;
                        let _ = std::fs::OpenOptions::new()
                            .write(true)
                            .custom_flags(nix::libc::O_NONBLOCK)
                            .open(&self.fifo);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// `: <the last line of a tool's stderr>`, or nothing.
fn tail(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.contains("ERROR") || l.contains("rror"))
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default()
}
