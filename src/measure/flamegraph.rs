//! A flamegraph of a process's CPU: `perf record` samples the server while the load
//! runs, `perf script` turns the samples into stacks, inferno folds and renders them
//! into `flamegraph.svg`.
//!
//! Settings, and why (measured on 2 cores against `serve` under `wrk`):
//!
//! - `perf record -F 199 --call-graph dwarf,16384 -N`: Rust release builds omit
//!   frame pointers, so only DWARF unwinding gives whole stacks; 199 Hz keeps perf's
//!   own cost and the data modest (about 70 MB for 30 s of two busy workers) while
//!   still giving thousands of samples. 16 KiB of stack reaches `clone3` for the deep
//!   async stacks of axum/hyper/tokio. `-N` keeps perf from copying every profiled
//!   binary into `~/.debug`.
//! - `perf script --no-inline`, then our own inline expansion: perf 6.1 resolves
//!   inlined frames by asking `addr2line` one address at a time, which took 21 s for a
//!   10 s profile and 45 s for a 30 s one. Without inlining, `perf script` takes under
//!   a second, but the handlers themselves vanish (an async handler is inlined into
//!   axum's `Handler::call` closure). So the distinct addresses of the profiled
//!   executable are resolved in one batch, in this process, by the `addr2line` crate
//!   (its program headers read with `object`), and their inlined frames are spliced
//!   back into the `perf script` stream, marked `(inlined)` exactly as perf would. (A
//!   `llvm-addr2line -i -f -C` process did it before; in one run on 1,500 addresses of
//!   a release build the crate took 0.3-0.4 of its time.)
//! - `-e cpu-clock`: present on every machine, VMs included; the graph's counts are
//!   nanoseconds of CPU.
//!
//! The folded stacks stay in memory (they are small: one line per distinct stack);
//! the `perf script` text is streamed into the collapser and never held whole.
//! `perf.data` lives in a temporary directory removed when the profiler is dropped.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inferno::collapse::Collapse;
use inferno::collapse::perf::{Folder, Options as CollapseOptions};
use inferno::flamegraph::{self, Options as FlameOptions};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The file name `finish` writes into the output directory.
pub const SVG_FILE_NAME: &str = "flamegraph.svg";

/// Sampling frequency: enough samples for a readable graph without drowning 2 cores.
const FREQUENCY_HZ: u32 = 199;
/// Bytes of user stack copied per sample for DWARF unwinding.
const DWARF_STACK_BYTES: u32 = 16384;
/// How long `start` watches perf for an early failure (bad pid, not permitted).
const STARTUP_GRACE: Duration = Duration::from_millis(500);
/// How long perf may take to flush `perf.data` after SIGINT.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Linux truncates thread names (`comm`) to 15 bytes.
const COMM_MAX_LEN: usize = 15;

/// A running `perf record` on one process. Dropping it without `finish` stops perf
/// and removes its data.
pub struct Profiler {
    child: Option<Child>,
    pid: u32,
    /// The profiled executable, for resolving inlined frames.
    exe: Option<PathBuf>,
    /// Holds `perf.data` and perf's log; removed on drop.
    work: tempfile::TempDir,
    out_dir: PathBuf,
}

/// Starts sampling the CPU of every thread of process `pid` with `perf record`
/// (`finish` picks the threads to show). Returns why not when perf is missing, not
/// permitted (`kernel.perf_event_paranoid`), or fails to start.
pub fn start(pid: u32, out_dir: &Path) -> Result<Profiler, String> {
    match perf_command()
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => {}
        Ok(status) => return Err(format!("`perf --version` failed ({status})")),
        Err(e) => return Err(format!("perf is not available: {e}")),
    }
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return Err(format!("no process with pid {pid}"));
    }
    if !nix::unistd::geteuid().is_root()
        && let Some(level) = perf_event_paranoid()
        && level > 2
    {
        return Err(format!(
            "kernel.perf_event_paranoid is {level}: perf needs it at 2 or below, or root/CAP_PERFMON"
        ));
    }
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .filter(|p| p.is_file());
    let work = tempfile::Builder::new()
        .prefix("koprogo-perf-flame-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory for perf.data: {e}"))?;
    let log = File::create(work.path().join("perf-record.log"))
        .map_err(|e| format!("cannot create perf's log: {e}"))?;
    let mut child = perf_command()
        .arg("record")
        // cpu-clock exists on every machine (VMs have no cycle counter) and weighs each
        // sample in nanoseconds of CPU, so the graph's counts read as time.
        .args(["-e", "cpu-clock", "-F", &FREQUENCY_HZ.to_string()])
        .args(["--call-graph", &format!("dwarf,{DWARF_STACK_BYTES}")])
        .arg("-N")
        .args(["-p", &pid.to_string()])
        .arg("-o")
        .arg(work.path().join("perf.data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start perf record: {e}"))?;

    let started = Instant::now();
    while started.elapsed() < STARTUP_GRACE {
        match child.try_wait() {
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Ok(Some(status)) => {
                return Err(format!(
                    "perf record exited at start ({status}): {}",
                    log_tail(work.path())
                ));
            }
            Err(e) => return Err(format!("cannot watch perf record: {e}")),
        }
    }
    Ok(Profiler {
        child: Some(child),
        pid,
        exe,
        work,
        out_dir: out_dir.to_path_buf(),
    })
}

impl Profiler {
    /// Stops perf (SIGINT, then waits for it to write its data), folds the samples with
    /// inferno's perf collapser — keeping only threads whose name starts with
    /// `thread_prefix` when given — and renders [`SVG_FILE_NAME`] into the output
    /// directory. Returns the file name, or why no flamegraph was made. Never panics;
    /// `perf.data` is removed either way.
    pub async fn finish(self, thread_prefix: Option<&str>, title: &str) -> Result<String, String> {
        let prefix = thread_prefix.map(str::to_owned);
        let title = title.to_owned();
        tokio::task::spawn_blocking(move || self.finish_blocking(prefix.as_deref(), &title))
            .await
            .unwrap_or_else(|e| Err(format!("flamegraph task failed: {e}")))
    }

    fn finish_blocking(
        mut self,
        thread_prefix: Option<&str>,
        title: &str,
    ) -> Result<String, String> {
        self.stop()?;
        let data = self.work.path().join("perf.data");
        if std::fs::metadata(&data).map(|m| m.len()).unwrap_or(0) == 0 {
            return Err(format!(
                "perf recorded nothing for pid {}: {}",
                self.pid,
                log_tail(self.work.path())
            ));
        }
        let inlined = match &self.exe {
            Some(exe) => resolve_inlined(&data, exe).unwrap_or_else(|e| {
                eprintln!("flamegraph: inlined frames not resolved ({e})");
                Inlined::default()
            }),
            None => Inlined::default(),
        };

        let mut script = perf_command()
            .args(["script", "--no-inline", "-i"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run perf script: {e}"))?;
        let Some(stdout) = script.stdout.take() else {
            let _ = script.kill();
            let _ = script.wait();
            return Err("perf script has no output pipe".into());
        };
        let stacks = BufReader::new(InlineExpander::new(BufReader::new(stdout), &inlined));
        let folded = fold(stacks, thread_prefix);
        // Reap perf script even when folding stopped early.
        let _ = script.kill();
        let _ = script.wait();
        let folded = folded?;
        if folded.is_empty() {
            return Err(match thread_prefix {
                Some(p) => format!("no samples from threads named {p}* of pid {}", self.pid),
                None => format!("no samples from pid {}", self.pid),
            });
        }
        // Counts are perf's sample periods: nanoseconds of CPU for the cpu-clock event.
        render(&folded, title, "ns", &self.out_dir.join(SVG_FILE_NAME))?;
        Ok(SVG_FILE_NAME.to_owned())
    }

    /// SIGINT makes perf write a complete `perf.data`; SIGKILL only past the timeout.
    fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Ok(None) = child.try_wait() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGINT);
        }
        let asked = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if asked.elapsed() < STOP_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "perf record did not stop within {} s",
                        STOP_TIMEOUT.as_secs()
                    ));
                }
                Err(e) => return Err(format!("cannot wait for perf record: {e}")),
            }
        }
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn perf_event_paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The last lines perf wrote to its log, to say why it failed.
fn log_tail(work: &Path) -> String {
    let log = std::fs::read_to_string(work.join("perf-record.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    if tail.is_empty() {
        "no message from perf".into()
    } else {
        tail
    }
}

/// Folds `perf script` text with inferno, keeping only the stacks of threads whose
/// name starts with `thread_prefix` (compared on the 15 bytes the kernel keeps).
/// Returns folded lines, `thread;frame;…;leaf count`.
fn fold(perf_script: impl BufRead, thread_prefix: Option<&str>) -> Result<Vec<String>, String> {
    let mut options = CollapseOptions::default();
    options.nthreads = 1;
    let mut folded = Vec::new();
    Folder::from(options)
        .collapse(perf_script, &mut folded)
        .map_err(|e| format!("cannot fold perf script output: {e}"))?;
    let folded =
        String::from_utf8(folded).map_err(|e| format!("folded stacks are not UTF-8: {e}"))?;
    // inferno writes a thread name with its spaces turned into underscores.
    let prefix = thread_prefix.map(|p| truncate(p, COMM_MAX_LEN).replace(' ', "_"));
    Ok(folded
        .lines()
        .filter(|line| match &prefix {
            Some(p) => line.starts_with(p.as_str()),
            None => !line.trim().is_empty(),
        })
        .map(str::to_owned)
        .collect())
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The perf binary: `$PERF` when set (as cargo-flamegraph reads it), else `perf` on
/// the `PATH`.
fn perf_command() -> Command {
    Command::new(std::env::var_os("PERF").unwrap_or_else(|| "perf".into()))
}

/// Renders folded lines into an SVG flamegraph at `path`; `count_name` is the unit of
/// the counts.
pub(crate) fn render(
    folded: &[String],
    title: &str,
    count_name: &str,
    path: &Path,
) -> Result<(), String> {
    let mut options = FlameOptions::default();
    options.title = title.to_owned();
    options.count_name = count_name.to_owned();
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut writer = BufWriter::new(file);
    flamegraph::from_lines(&mut options, folded.iter().map(String::as_str), &mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| format!("cannot render {}: {e}", path.display()))
}

/// Inlined frames of the profiled executable, by the address `perf script` prints
/// (a file offset): the names innermost first, without the containing function that
/// perf already names.
#[derive(Default)]
struct Inlined {
    dso: String,
    frames: HashMap<u64, Vec<String>>,
}

/// Collects the executable's distinct addresses from a cheap `perf script` pass and
/// resolves them all from its DWARF.
fn resolve_inlined(data: &Path, exe: &Path) -> Result<Inlined, String> {
    let dso = exe.to_string_lossy().into_owned();
    let segments = load_segments(exe)?;
    let mut pass = perf_command()
        .args(["script", "--no-inline", "-F", "ip,dso", "-i"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run perf script: {e}"))?;
    let mut addresses = HashSet::new();
    if let Some(stdout) = pass.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some((addr, line_dso)) = address_and_dso(&line)
                && line_dso == dso
            {
                addresses.insert(addr);
            }
        }
    }
    let _ = pass.wait();

    // addr2line wants virtual addresses; keep the file offset each came from.
    let by_vaddr: HashMap<u64, u64> = addresses
        .into_iter()
        .filter_map(|offset| Some((file_offset_to_vaddr(&segments, offset)?, offset)))
        .collect();
    let mut frames = HashMap::new();
    if by_vaddr.is_empty() {
        return Ok(Inlined { dso, frames });
    }
    let loader = addr2line::Loader::new(exe)
        .map_err(|e| format!("cannot read the debug info of {}: {e}", exe.display()))?;
    for (vaddr, offset) in &by_vaddr {
        if let Some(names) = frames_at(&loader, *vaddr) {
            frames.insert(*offset, names);
        }
    }
    Ok(Inlined { dso, frames })
}

/// Finishes demangling a Rust legacy symbol that a tool only split into `::` paths:
/// `_$LT$F$u20$as$u20$a..B$GT$::call::_$u7b$$u7b$closure$u7d$$u7d$::h0123456789abcdef
/// (.llvm.42)` becomes `<F as a::B>::call::{{closure}}`, as perf and rustc-demangle
/// print it. Names already demangled are returned unchanged.
pub(crate) fn tidy_rust_name(name: &str) -> String {
    let mut name = name;
    if let Some(at) = name.find(" (.llvm.") {
        name = &name[..at];
    }
    let mut hashed = false;
    if let Some((path, hash)) = name.rsplit_once("::h")
        && hash.len() == 16
        && hash.chars().all(|c| c.is_ascii_hexdigit())
    {
        name = path;
        hashed = true;
    }
    if !hashed && !name.contains('$') {
        return name.to_owned();
    }
    const ESCAPES: [(&str, &str); 20] = [
        ("$SP$", "@"),
        ("$BP$", "*"),
        ("$RF$", "&"),
        ("$LT$", "<"),
        ("$GT$", ">"),
        ("$LP$", "("),
        ("$RP$", ")"),
        ("$C$", ","),
        ("$u7e$", "~"),
        ("$u20$", " "),
        ("$u27$", "'"),
        ("$u3d$", "="),
        ("$u5b$", "["),
        ("$u5d$", "]"),
        ("$u7b$", "{"),
        ("$u7d$", "}"),
        ("$u3b$", ";"),
        ("$u2b$", "+"),
        ("$u21$", "!"),
        ("$u22$", "\""),
    ];
    // A path segment that starts with an escape was prefixed with `_`.
    let mut tidy = name.replace("::_$", "::$").replace("..", "::");
    if tidy.starts_with("_$") {
        tidy.remove(0);
    }
    for (escape, plain) in ESCAPES {
        tidy = tidy.replace(escape, plain);
    }
    tidy
}

/// `\t   7e020a sym+0x1 (/path/dso)` → (0x7e020a, "/path/dso").
fn address_and_dso(line: &str) -> Option<(u64, &str)> {
    let line = line.trim();
    let (addr, _) = line.split_once(' ')?;
    let open = line.rfind(" (")?;
    let dso = line[open + 2..].strip_suffix(')')?;
    Some((u64::from_str_radix(addr, 16).ok()?, dso))
}

/// The functions inlined at `vaddr`, innermost first, without the function they are
/// inlined into (perf names that one itself); `None` when nothing is inlined there or
/// a frame has no name.
fn frames_at(loader: &addr2line::Loader, vaddr: u64) -> Option<Vec<String>> {
    let mut iter = loader.find_frames(vaddr).ok()?;
    let mut names = Vec::new();
    while let Ok(Some(frame)) = iter.next() {
        let name = frame.function.as_ref()?.demangle().ok()?;
        names.push(tidy_rust_name(&name));
    }
    names.pop();
    (!names.is_empty()).then_some(names)
}

/// Executable `PT_LOAD` segments of an ELF64 little-endian file: (file offset, vaddr,
/// size), read with `object` from the file header and program headers alone (a debug
/// build's hundreds of megabytes of DWARF are never read).
fn load_segments(exe: &Path) -> Result<Vec<(u64, u64, u64)>, String> {
    use object::read::elf::{FileHeader, ProgramHeader};
    let file = File::open(exe).map_err(|e| format!("cannot read {}: {e}", exe.display()))?;
    let data = object::ReadCache::new(file);
    let not_elf = || format!("{} is not a 64-bit little-endian ELF", exe.display());
    let header =
        object::elf::FileHeader64::<object::LittleEndian>::parse(&data).map_err(|_| not_elf())?;
    let endian = header.endian().map_err(|_| not_elf())?;
    let headers = header
        .program_headers(endian, &data)
        .map_err(|_| format!("{} has no readable program headers", exe.display()))?;
    Ok(headers
        .iter()
        .filter(|h| {
            h.p_type(endian) == object::elf::PT_LOAD
                && h.p_flags(endian).contains(object::elf::PF_X)
        })
        .map(|h| (h.p_offset(endian), h.p_vaddr(endian), h.p_filesz(endian)))
        .collect())
}

fn file_offset_to_vaddr(segments: &[(u64, u64, u64)], offset: u64) -> Option<u64> {
    segments
        .iter()
        .find(|(start, _, size)| (*start..start + size).contains(&offset))
        .map(|(start, vaddr, _)| offset - start + vaddr)
}

/// Passes `perf script` text through, inserting before each frame of the profiled
/// executable the functions inlined at that address, as `perf script` itself prints
/// them (`addr name (inlined)`, innermost first).
struct InlineExpander<'a, R> {
    inner: R,
    inlined: &'a Inlined,
    line: String,
    pending: Vec<u8>,
    pos: usize,
}

impl<'a, R: BufRead> InlineExpander<'a, R> {
    fn new(inner: R, inlined: &'a Inlined) -> Self {
        Self {
            inner,
            inlined,
            line: String::new(),
            pending: Vec::new(),
            pos: 0,
        }
    }

    /// Loads the next input line, expanded, into `pending`; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        self.line.clear();
        self.pending.clear();
        self.pos = 0;
        let mut raw = Vec::new();
        if self.inner.read_until(b'\n', &mut raw)? == 0 {
            return Ok(false);
        }
        // perf can print symbols that are not valid UTF-8; inferno reads lossily too.
        self.line.push_str(&String::from_utf8_lossy(&raw));
        if !self.inlined.frames.is_empty()
            && self.line.starts_with('\t')
            && let Some((addr, dso)) = address_and_dso(&self.line)
            && dso == self.inlined.dso
            && let Some(names) = self.inlined.frames.get(&addr)
        {
            for name in names {
                writeln!(self.pending, "\t{addr:16x} {name} (inlined)")?;
            }
        }
        self.pending.extend_from_slice(self.line.as_bytes());
        Ok(true)
    }
}

impl<R: BufRead> Read for InlineExpander<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.pending.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test binary's executable segment maps its own file offsets back to the
    /// addresses it runs at; a file that is not ELF is named.
    #[test]
    fn the_executable_segments_of_an_elf_are_read() {
        let exe = std::env::current_exe().unwrap();
        let segments = load_segments(&exe).unwrap();
        assert!(!segments.is_empty());
        let (offset, vaddr, size) = segments[0];
        assert!(size > 0);
        assert_eq!(file_offset_to_vaddr(&segments, offset + 1), Some(vaddr + 1));
        assert_eq!(file_offset_to_vaddr(&segments, offset + size), None);
        let text = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(text.path(), "#!/bin/sh\n").unwrap();
        let err = load_segments(text.path()).unwrap_err();
        assert!(err.ends_with("is not a 64-bit little-endian ELF"), "{err}");
    }

    /// Three samples as `perf script` prints them: two on server workers, one on a
    /// load-generator thread of the same process.
    const PERF_SCRIPT: &str = "\
kp-server-0  7798 10460.195355:    5025125 cpu-clock:ppp: 
\t          82e0b0 koprogo_perf::server::routes::buildings::list+0x10 (/opt/kp/koprogo-perf)
\t          6cc1db tokio::runtime::task::harness::Harness<T,S>::poll+0xeb (/opt/kp/koprogo-perf)
\t           891f4 start_thread+0x304 (/usr/lib/x86_64-linux-gnu/libc.so.6)

kp-server-1  7799 10460.199977:    5025125 cpu-clock:ppp: 
\tffffffff82200809 _raw_spin_unlock_irqrestore+0x19 ([kernel.kallsyms])
\t          7e020a koprogo_perf::server::auth::Keys::decode+0x2a (/opt/kp/koprogo-perf)
\t          6cc1db tokio::runtime::task::harness::Harness<T,S>::poll+0xeb (/opt/kp/koprogo-perf)
\t           891f4 start_thread+0x304 (/usr/lib/x86_64-linux-gnu/libc.so.6)

tokio-rt-worker  7800 10460.200001:    5025125 cpu-clock:ppp: 
\t          5e1ca4 goose::GooseAttack::launch_users+0xc74 (/opt/kp/koprogo-perf)
\t           891f4 start_thread+0x304 (/usr/lib/x86_64-linux-gnu/libc.so.6)

";

    fn svg_in(dir: &Path) -> String {
        std::fs::read_to_string(dir.join(SVG_FILE_NAME)).expect("svg written")
    }

    fn assert_well_formed(svg: &str) {
        assert!(
            svg.starts_with("<?xml"),
            "starts with {:?}",
            &svg[..svg.len().min(40)]
        );
        assert!(svg.trim_end().ends_with("</svg>"), "SVG not closed");
    }

    #[test]
    fn folds_and_renders_synthetic_perf_script() {
        let folded = fold(PERF_SCRIPT.as_bytes(), None).unwrap();
        assert_eq!(folded.len(), 3, "{folded:?}");
        let dir = tempfile::tempdir().unwrap();
        render(&folded, "synthetic", "ns", &dir.path().join(SVG_FILE_NAME)).unwrap();
        let svg = svg_in(dir.path());
        assert_well_formed(&svg);
        for name in [
            "koprogo_perf::server::routes::buildings::list",
            "koprogo_perf::server::auth::Keys::decode",
            "goose::GooseAttack::launch_users",
            "start_thread",
            "synthetic",
        ] {
            assert!(svg.contains(name), "{name} missing from the SVG");
        }
    }

    #[test]
    fn thread_prefix_keeps_only_matching_threads() {
        let folded = fold(PERF_SCRIPT.as_bytes(), Some("kp-server")).unwrap();
        assert_eq!(folded.len(), 2, "{folded:?}");
        assert!(folded.iter().all(|l| l.starts_with("kp-server-")));
        assert!(!folded.iter().any(|l| l.contains("goose")));
        // The kernel keeps 15 bytes of a thread name; a longer prefix still matches.
        let long = fold(PERF_SCRIPT.as_bytes(), Some("tokio-rt-worker-pool")).unwrap();
        assert_eq!(long.len(), 1, "{long:?}");
        assert!(
            fold(PERF_SCRIPT.as_bytes(), Some("nobody"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn inlined_frames_are_spliced_before_their_container() {
        let inlined = Inlined {
            dso: "/opt/kp/koprogo-perf".into(),
            frames: HashMap::from([(
                0x82e0b0,
                vec![
                    "koprogo_perf::server::routes::list::fetch_page::{{closure}}".to_owned(),
                    "koprogo_perf::server::routes::buildings::list::{{closure}}".to_owned(),
                ],
            )]),
        };
        let mut text = String::new();
        InlineExpander::new(PERF_SCRIPT.as_bytes(), &inlined)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text.lines().count(), PERF_SCRIPT.lines().count() + 2);
        let folded = fold(text.as_bytes(), Some("kp-server-0")).unwrap();
        assert_eq!(
            folded,
            [
                "kp-server-0;start_thread;tokio::runtime::task::harness::Harness<T,S>::poll;\
              koprogo_perf::server::routes::buildings::list;\
              koprogo_perf::server::routes::buildings::list::{{closure}};\
              koprogo_perf::server::routes::list::fetch_page::{{closure}} 5025125"
            ]
        );
    }

    #[test]
    fn tidies_half_demangled_rust_names() {
        assert_eq!(
            tidy_rust_name(
                "_$LT$F$u20$as$u20$axum..handler..Handler$LT$$LP$M$C$T1$RP$$C$S$GT$$GT$::call::\
                 _$u7b$$u7b$closure$u7d$$u7d$::hc8dbeb423ff807ac (.llvm.736256560247380495)"
            ),
            "<F as axum::handler::Handler<(M,T1),S>>::call::{{closure}}"
        );
        assert_eq!(
            tidy_rust_name(
                "koprogo_perf::server::routes::list::fetch_page::_$u7b$$u7b$closure$u7d$$u7d$::h876155f07c1079c2"
            ),
            "koprogo_perf::server::routes::list::fetch_page::{{closure}}"
        );
        let plain = "<F as axum::handler::Handler<(M,T1),S>>::call::{{closure}}";
        assert_eq!(tidy_rust_name(plain), plain);
        assert_eq!(tidy_rust_name("start_thread"), "start_thread");
    }

    const SPIN_ENV: &str = "KOPROGO_PERF_FLAME_SPIN";

    /// Burns CPU in a function the flamegraph must name.
    #[inline(never)]
    fn koprogo_perf_flame_spin(until: Instant) -> u64 {
        let mut x = 0u64;
        while Instant::now() < until {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        x
    }

    /// Not a test on its own: the busy child of `profiles_a_busy_child`, which
    /// re-invokes this test binary with `KOPROGO_PERF_FLAME_SPIN` set.
    #[test]
    fn spin_child() {
        if let Ok(secs) = std::env::var(SPIN_ENV) {
            let secs: u64 = secs.parse().unwrap_or(5);
            koprogo_perf_flame_spin(Instant::now() + Duration::from_secs(secs));
        }
    }

    /// Kills the spinning child whatever happens to the test.
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn perf_unusable() -> Option<String> {
        let version = Command::new("perf").arg("--version").output();
        if !matches!(&version, Ok(o) if o.status.success()) {
            return Some("perf is not installed".into());
        }
        let dir = tempfile::tempdir().ok()?;
        let probe = Command::new("perf")
            .args(["record", "-q", "-N", "-o"])
            .arg(dir.path().join("probe.data"))
            .args(["--", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match probe {
            Ok(status) if status.success() => None,
            _ => Some("`perf record -- true` fails here (not permitted?)".into()),
        }
    }

    #[tokio::test]
    async fn profiles_a_busy_child() {
        if let Some(reason) = perf_unusable() {
            eprintln!("skipping profiles_a_busy_child: {reason}");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let child = Command::new(exe)
            .args([
                "--exact",
                "measure::flamegraph::tests::spin_child",
                "--test-threads=1",
            ])
            .env(SPIN_ENV, "10")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = KillOnDrop(child);
        tokio::time::sleep(Duration::from_millis(300)).await;

        let dir = tempfile::tempdir().unwrap();
        let profiler = start(child.0.id(), dir.path()).expect("perf starts");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let finished = Instant::now();
        let file = profiler
            .finish(None, "busy child")
            .await
            .expect("flamegraph");
        eprintln!("finish took {:?}", finished.elapsed());
        drop(child);

        assert_eq!(file, SVG_FILE_NAME);
        let svg = svg_in(dir.path());
        assert_well_formed(&svg);
        assert!(
            svg.contains("koprogo_perf_flame_spin"),
            "spin function not in the SVG"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            [SVG_FILE_NAME],
            "only the SVG stays in the out dir"
        );
    }
}
