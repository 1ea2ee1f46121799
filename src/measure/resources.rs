//! Process resources during a run: CPU time and resident memory of the server, the
//! Postgres cluster (the postmaster and every backend together) and the load
//! generator, sampled with sysinfo on a background thread, plus the machine's size.
//!
//! CPU seconds are differences of the kernel's accumulated CPU time per process
//! (utime + stime, which sysinfo reads from `/proc/<pid>/stat`), not integrals of
//! sampled percentages, so they are exact to a clock tick whatever the interval. The
//! per-sample series is for plots; the summaries come from the accumulated times.
//!
//! Sampling stays cheap because it runs on the machine under test: each tick refreshes
//! only the watched processes, plus one pass over `/proc/*/stat` to find the
//! postmaster's descendants when Postgres is watched.

use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sysinfo::{CpuRefreshKind, Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};
use tokio::sync::oneshot;

/// Shortest interval accepted: shorter ones would turn the sampler into a busy loop.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Which processes to watch.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The server process, when it runs on this machine.
    pub server: Option<u32>,
    /// The postmaster: it and all its descendants are measured together.
    pub postgres: Option<u32>,
    /// The load generator, usually `std::process::id()`.
    pub generator: u32,
    /// Why the server is not measured, when `server` is `None`.
    pub server_note: Option<String>,
    /// Why Postgres is not measured, when `postgres` is `None`.
    pub postgres_note: Option<String>,
}

/// Running sampler: samples once in [`Sampler::start`], then every interval on its own
/// thread, and once more in [`Sampler::stop`].
///
/// Dropping it without calling `stop` ends the thread at its next tick.
pub struct Sampler {
    stop_tx: mpsc::Sender<()>,
    result_rx: oneshot::Receiver<Resources>,
    spawn_error: Option<String>,
}

impl Sampler {
    /// Takes the first sample (the baseline CPU counts from) and starts sampling every
    /// `interval` (1 s in production) on a background thread.
    pub fn start(watch: Watch, interval: Duration) -> Sampler {
        let interval = interval.max(MIN_INTERVAL);
        let mut state = State::new(&watch);
        state.sample();
        let (stop_tx, stop_rx) = mpsc::channel();
        let (result_tx, result_rx) = oneshot::channel();
        let spawned = thread::Builder::new()
            .name("resources-sampler".into())
            .spawn(move || {
                if let Some(resources) = run(state, interval, &stop_rx) {
                    // The receiver is gone only when the Sampler was dropped: nothing to do.
                    let _ = result_tx.send(resources);
                }
            });
        Sampler {
            stop_tx,
            result_rx,
            spawn_error: spawned.err().map(|e| e.to_string()),
        }
    }

    /// Takes the last sample and returns the summaries and series.
    pub async fn stop(self) -> Resources {
        // A send error means the thread is already gone; the receive below says so.
        let _ = self.stop_tx.send(());
        match self.result_rx.await {
            Ok(resources) => resources,
            Err(_) => {
                let reason = match self.spawn_error {
                    Some(e) => format!("the sampler thread could not start: {e}"),
                    None => "the sampler thread ended without a result".to_string(),
                };
                Resources::unmeasured(&reason)
            }
        }
    }
}

/// What the run cost in CPU and memory (run.json `resources`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// The server process.
    pub server: ProcessStats,
    /// The Postgres cluster: postmaster and all its descendants together.
    pub postgres: ProcessStats,
    /// The load generator itself (reported, not charged to the server).
    pub generator: ProcessStats,
    /// The machine the run happened on.
    pub machine: Machine,
}

impl Resources {
    fn unmeasured(reason: &str) -> Resources {
        Resources {
            server: ProcessStats::unmeasured(reason),
            postgres: ProcessStats::unmeasured(reason),
            generator: ProcessStats::unmeasured(reason),
            machine: Machine::current(),
        }
    }
}

/// CPU and memory of one watched process, or of a process tree for Postgres.
///
/// For Postgres every figure is a sum over the postmaster and its descendants,
/// including backends that start and end during the run. A backend that exits between
/// two samples loses the CPU it used since the last sample it was seen in (its final
/// interval). RSS counts shared memory (shared_buffers pages) in every backend that
/// touched it, so the Postgres RSS sum overstates real memory use: read it as an upper
/// bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessStats {
    /// Whether the process was found at the start of the run.
    pub measured: bool,
    /// "not measured: <reason>", or what happened during the run (the process exited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every pid seen (for Postgres: the postmaster and each backend).
    pub pids: Vec<u32>,
    /// CPU seconds (user + system) consumed between start and stop.
    pub cpu_s: f64,
    /// `cpu_s` over the run's wall time, in percent: 100 is one core busy.
    pub cpu_pct_mean: f64,
    /// Highest RSS in bytes: the largest sample, or for a single process the kernel's
    /// own peak (VmHWM, over the process's lifetime) when that is larger.
    pub peak_rss_bytes: u64,
    /// Mean RSS in bytes over the samples taken while the process was alive.
    pub mean_rss_bytes: u64,
    /// One sample per interval (1 s in production), plus the first and last.
    pub series: Vec<Sample>,
}

impl ProcessStats {
    /// A process that was not measured, with why ("not measured: " is prefixed once).
    pub fn unmeasured(reason: &str) -> ProcessStats {
        let note = if reason.starts_with("not measured") {
            reason.to_string()
        } else {
            format!("not measured: {reason}")
        };
        ProcessStats {
            measured: false,
            note: Some(note),
            pids: Vec::new(),
            cpu_s: 0.0,
            cpu_pct_mean: 0.0,
            peak_rss_bytes: 0,
            mean_rss_bytes: 0,
            series: Vec::new(),
        }
    }
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the sampler started.
    pub t_s: f64,
    /// CPU use over the interval ending at `t_s`, in percent (100 = one core); 0 for
    /// the first sample.
    pub cpu_pct: f64,
    /// Resident memory in bytes at `t_s`.
    pub rss_bytes: u64,
}

/// The machine's size, for reading CPU % and RSS against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// Total RAM in bytes.
    pub memory_bytes: u64,
}

impl Machine {
    /// The machine this process runs on.
    pub fn current() -> Machine {
        let mut sys = System::new();
        sys.refresh_cpu_list(CpuRefreshKind::nothing());
        sys.refresh_memory();
        Machine {
            cpus: sys.cpus().len(),
            memory_bytes: sys.total_memory(),
        }
    }
}

/// The sampling loop: ticks on a fixed schedule until told to stop. Returns `None`
/// when the Sampler was dropped (nobody wants the result).
fn run(mut state: State, interval: Duration, stop_rx: &mpsc::Receiver<()>) -> Option<Resources> {
    let mut next = state.t0 + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match stop_rx.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {
                state.sample();
                next += interval;
                // After a stall (suspended machine), resume the schedule from now
                // rather than firing a burst of catch-up samples.
                let now = Instant::now();
                if next < now {
                    next = now + interval;
                }
            }
            Ok(()) => {
                state.sample();
                return Some(state.finish());
            }
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// Everything the sampler thread owns.
struct State {
    sys: System,
    t0: Instant,
    /// Time of the previous sample, seconds since `t0`.
    last_t: f64,
    /// Pids refreshed at the previous tick, refreshed again so that sysinfo drops the
    /// ones that died (it keeps their stat files open otherwise).
    last_pids: Vec<Pid>,
    first: bool,
    server: Group,
    postgres: Group,
    generator: Group,
}

impl State {
    fn new(watch: &Watch) -> State {
        let unwatched = |note: &Option<String>, what: &str| {
            Group::unwatched(
                note.clone()
                    .unwrap_or_else(|| format!("no {what} pid given")),
            )
        };
        State {
            sys: System::new(),
            t0: Instant::now(),
            last_t: 0.0,
            last_pids: Vec::new(),
            first: true,
            server: match watch.server {
                Some(pid) => Group::new(Target::Single(pid)),
                None => unwatched(&watch.server_note, "server"),
            },
            postgres: match watch.postgres {
                Some(pid) => Group::new(Target::Tree(pid)),
                None => unwatched(&watch.postgres_note, "postmaster"),
            },
            generator: Group::new(Target::Single(watch.generator)),
        }
    }

    fn sample(&mut self) {
        let t = self.t0.elapsed().as_secs_f64();
        let groups = [&self.server, &self.postgres, &self.generator];
        let pids: Vec<Vec<Pid>> = groups.iter().map(|g| g.current_pids()).collect();
        let mut refresh: Vec<Pid> = pids.iter().flatten().copied().collect();
        let current = refresh.clone();
        refresh.extend(self.last_pids.iter().copied());
        refresh.sort_unstable();
        refresh.dedup();
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&refresh),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        self.last_pids = current;

        let dt = t - self.last_t;
        let groups = [&mut self.server, &mut self.postgres, &mut self.generator];
        for (group, pids) in groups.into_iter().zip(&pids) {
            group.record(&self.sys, pids, t, dt, self.first);
        }
        self.last_t = t;
        self.first = false;
    }

    fn finish(self) -> Resources {
        let wall = self.last_t;
        Resources {
            server: self.server.finish(wall),
            postgres: self.postgres.finish(wall),
            generator: self.generator.finish(wall),
            machine: Machine::current(),
        }
    }
}

/// What one section watches.
enum Target {
    /// Not watched; the note says why.
    Unwatched,
    /// One process.
    Single(u32),
    /// A process and all its descendants (the postmaster and its backends).
    Tree(u32),
}

/// A process seen at least once: its accumulated CPU time (ms) when first seen (0 when
/// it started after the first sample, so that all of its CPU counts) and at the last
/// sample it was seen in.
struct Track {
    base_ms: u64,
    last_ms: u64,
}

/// Running totals for one section of [`Resources`].
struct Group {
    target: Target,
    measured: bool,
    alive: bool,
    note: Option<String>,
    /// Keyed by pid and start time, so a recycled pid counts as a new process.
    procs: HashMap<(u32, u64), Track>,
    seen: BTreeSet<u32>,
    prev_cpu_ms: u64,
    series: Vec<Sample>,
    peak_rss: u64,
    /// The kernel's peak RSS (VmHWM), single processes only.
    hwm: u64,
}

impl Group {
    fn new(target: Target) -> Group {
        Group {
            target,
            measured: true,
            alive: true,
            note: None,
            procs: HashMap::new(),
            seen: BTreeSet::new(),
            prev_cpu_ms: 0,
            series: Vec::new(),
            peak_rss: 0,
            hwm: 0,
        }
    }

    fn unwatched(reason: String) -> Group {
        let mut group = Group::new(Target::Unwatched);
        group.measured = false;
        group.alive = false;
        group.note = Some(reason);
        group
    }

    fn root(&self) -> Option<u32> {
        match self.target {
            Target::Unwatched => None,
            Target::Single(pid) | Target::Tree(pid) => Some(pid),
        }
    }

    /// The pids to read this tick; empty once the section has ended.
    fn current_pids(&self) -> Vec<Pid> {
        if !self.alive {
            return Vec::new();
        }
        match self.target {
            Target::Unwatched => Vec::new(),
            Target::Single(pid) => vec![Pid::from_u32(pid)],
            Target::Tree(root) => descendants_and_self(root)
                .into_iter()
                .map(Pid::from_u32)
                .collect(),
        }
    }

    fn record(&mut self, sys: &System, pids: &[Pid], t: f64, dt: f64, first: bool) {
        if !self.alive {
            return;
        }
        let mut rss = 0u64;
        let mut any_alive = false;
        for &pid in pids {
            let Some(process) = sys.process(pid) else {
                continue;
            };
            let cpu_ms = process.accumulated_cpu_time();
            let track = self
                .procs
                .entry((pid.as_u32(), process.start_time()))
                .or_insert(Track {
                    base_ms: if first { cpu_ms } else { 0 },
                    last_ms: cpu_ms,
                });
            track.last_ms = track.last_ms.max(cpu_ms);
            self.seen.insert(pid.as_u32());
            // A zombie has exited: its CPU time is final and it holds no memory.
            if process.status() != ProcessStatus::Zombie {
                any_alive = true;
                rss += process.memory();
            }
        }

        let root = self.root().unwrap_or_default();
        if !any_alive {
            self.alive = false;
            if first {
                self.measured = false;
                self.note = Some(format!(
                    "not measured: process {root} does not exist or has exited"
                ));
            } else {
                self.note = Some(format!(
                    "process {root} exited {t:.1} s after the start; figures cover the time before"
                ));
            }
            return;
        }
        if let Target::Single(pid) = self.target
            && let Some(hwm) = vm_hwm_bytes(pid)
        {
            self.hwm = self.hwm.max(hwm);
        }

        let cpu_ms = self.cpu_ms();
        let cpu_pct = if first || dt <= 0.0 {
            0.0
        } else {
            cpu_ms.saturating_sub(self.prev_cpu_ms) as f64 / 1000.0 / dt * 100.0
        };
        self.prev_cpu_ms = cpu_ms;
        self.peak_rss = self.peak_rss.max(rss);
        self.series.push(Sample {
            t_s: t,
            cpu_pct,
            rss_bytes: rss,
        });
    }

    fn cpu_ms(&self) -> u64 {
        self.procs
            .values()
            .map(|t| t.last_ms.saturating_sub(t.base_ms))
            .sum()
    }

    fn finish(self, wall_s: f64) -> ProcessStats {
        if !self.measured {
            let reason = self.note.as_deref().unwrap_or("not measured");
            return ProcessStats::unmeasured(reason);
        }
        let cpu_s = self.cpu_ms() as f64 / 1000.0;
        let mean_rss = if self.series.is_empty() {
            0
        } else {
            let sum: u128 = self.series.iter().map(|s| u128::from(s.rss_bytes)).sum();
            (sum / self.series.len() as u128) as u64
        };
        ProcessStats {
            measured: true,
            note: self.note,
            pids: self.seen.into_iter().collect(),
            cpu_s,
            cpu_pct_mean: if wall_s > 0.0 {
                cpu_s / wall_s * 100.0
            } else {
                0.0
            },
            peak_rss_bytes: self.peak_rss.max(self.hwm),
            mean_rss_bytes: mean_rss,
            series: self.series,
        }
    }
}

/// The fields of `/proc/<pid>/stat` after the command name, which may itself contain
/// spaces and parentheses: index 0 is the state, 1 the ppid.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// `root` and all its living descendants, from one pass over `/proc/*/stat`; empty
/// when `root` does not exist.
fn descendants_and_self(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut root_exists = false;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go during the scan: a missing file is normal.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if pid == root {
            root_exists = true;
        }
        if let Some(ppid) = stat_fields(&stat).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    if !root_exists {
        return Vec::new();
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        if let Some(kids) = children.get(&tree[i]) {
            tree.extend(kids.iter().copied().filter(|k| *k != root));
        }
        i += 1;
    }
    tree
}

/// The kernel's peak RSS for a process (VmHWM in `/proc/<pid>/status`), in bytes.
fn vm_hwm_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid as NixPid;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    /// A child in its own process group; the whole group is killed on drop, so
    /// grandchildren (`yes` under `sh`) die with it even when an assertion fails.
    struct ChildGroup(Child);

    impl ChildGroup {
        fn spawn(script: &str) -> ChildGroup {
            let child = Command::new("sh")
                .args(["-c", script])
                .process_group(0)
                .spawn()
                .expect("spawn sh");
            ChildGroup(child)
        }

        fn pid(&self) -> u32 {
            self.0.id()
        }

        fn signal(&self, signal: Signal) {
            killpg(NixPid::from_raw(self.pid() as i32), signal).expect("signal process group");
        }
    }

    impl Drop for ChildGroup {
        fn drop(&mut self) {
            let _ = killpg(NixPid::from_raw(self.pid() as i32), Signal::SIGKILL);
            let _ = self.0.wait();
        }
    }

    fn clock_ticks_per_s() -> f64 {
        let out = Command::new("getconf").arg("CLK_TCK").output();
        out.ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    }

    /// What the kernel says about every process of a process group: pid → (utime +
    /// stime) in ticks.
    fn kernel_ticks_of_group(pgrp: u32) -> HashMap<u32, u64> {
        let mut out = HashMap::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some(f) = stat_fields(&stat) else {
                continue;
            };
            // Field 5 (pgrp) is index 2; utime and stime (fields 14, 15) are 11, 12.
            if f[2].parse::<u32>().ok() == Some(pgrp) {
                let ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
                out.insert(pid, ticks);
            }
        }
        out
    }

    /// Kernel CPU seconds the group used between two readings (processes born in
    /// between count from zero).
    fn kernel_cpu_s(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> f64 {
        let ticks: u64 = after
            .iter()
            .map(|(pid, t)| t - before.get(pid).copied().unwrap_or(0))
            .sum();
        ticks as f64 / clock_ticks_per_s()
    }

    fn watch(server: Option<u32>, postgres: Option<u32>) -> Watch {
        Watch {
            server,
            postgres,
            generator: std::process::id(),
            server_note: None,
            postgres_note: None,
        }
    }

    /// Samples the group for ~2 s, then freezes it (SIGSTOP) so that the kernel's final
    /// reading and the sampler's last sample see the same CPU time.
    async fn measure(group: &ChildGroup, watch: Watch) -> (Resources, f64) {
        let before = kernel_ticks_of_group(group.pid());
        let sampler = Sampler::start(watch, Duration::from_millis(200));
        tokio::time::sleep(Duration::from_secs(2)).await;
        group.signal(Signal::SIGSTOP);
        // Let the stop land on every CPU before reading.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = kernel_ticks_of_group(group.pid());
        let resources = sampler.stop().await;
        (resources, kernel_cpu_s(&before, &after))
    }

    fn assert_close(measured: f64, kernel: f64) {
        assert!(kernel > 0.1, "the busy child hardly ran: {kernel} s");
        let ratio = measured / kernel;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "sampler {measured} s vs kernel {kernel} s (ratio {ratio:.3})"
        );
    }

    #[tokio::test]
    async fn busy_server_cpu_matches_the_kernel() {
        let child = ChildGroup::spawn("while :; do :; done");
        let (res, kernel) = measure(&child, watch(Some(child.pid()), None)).await;
        drop(child);

        let server = &res.server;
        assert!(server.measured, "{server:?}");
        assert_eq!(server.pids, vec![server.pids[0]]);
        assert_close(server.cpu_s, kernel);
        assert!(server.series.len() >= 3, "{:?}", server.series);
        assert!(server.peak_rss_bytes > 0 && server.mean_rss_bytes > 0);
        assert!(server.peak_rss_bytes >= server.mean_rss_bytes);
        assert!(server.cpu_pct_mean > 0.0);

        assert!(!res.postgres.measured);
        assert_eq!(
            res.postgres.note.as_deref(),
            Some("not measured: no postmaster pid given")
        );
        assert!(res.generator.measured);
        assert!(res.machine.cpus >= 1 && res.machine.memory_bytes > 0);
    }

    #[tokio::test]
    async fn postgres_tree_counts_every_descendant() {
        let tree = ChildGroup::spawn("yes > /dev/null & yes > /dev/null & wait");
        let (res, kernel) = measure(&tree, watch(None, Some(tree.pid()))).await;
        drop(tree);

        let pg = &res.postgres;
        assert!(pg.measured, "{pg:?}");
        assert_eq!(pg.pids.len(), 3, "sh and two yes: {:?}", pg.pids);
        assert_close(pg.cpu_s, kernel);
    }

    #[tokio::test]
    async fn a_missing_pid_is_not_measured() {
        // Above the kernel's largest pid_max (2^22), so no process can have it.
        let missing = 1 << 23;
        let mut w = watch(Some(missing), Some(missing));
        w.server_note = Some("ignored when a pid is given".into());
        let res = Sampler::start(w, Duration::from_millis(50)).stop().await;

        for stats in [&res.server, &res.postgres] {
            assert!(!stats.measured);
            let note = stats.note.as_deref().unwrap();
            assert!(note.starts_with("not measured: "), "{note}");
            assert!(note.contains(&missing.to_string()), "{note}");
            assert!(stats.series.is_empty() && stats.pids.is_empty());
        }
        assert!(res.generator.measured);
    }

    #[tokio::test]
    async fn an_unwatched_section_carries_its_reason() {
        let mut w = watch(None, None);
        w.server_note = Some("external target: no --server-pid".into());
        let res = Sampler::start(w, Duration::from_millis(50)).stop().await;
        assert_eq!(
            res.server.note.as_deref(),
            Some("not measured: external target: no --server-pid")
        );
    }

    #[tokio::test]
    async fn serialization_round_trips() {
        let res = Sampler::start(watch(None, None), Duration::from_millis(20))
            .stop()
            .await;
        let json = serde_json::to_string(&res).unwrap();
        let back: Resources = serde_json::from_str(&json).unwrap();
        assert_eq!(back, res);

        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(value["generator"].get("note").is_none());
        for key in [
            "cpu_s",
            "cpu_pct_mean",
            "peak_rss_bytes",
            "mean_rss_bytes",
            "series",
        ] {
            assert!(value["generator"].get(key).is_some(), "{key}");
        }
        assert!(value["machine"]["cpus"].as_u64().unwrap() >= 1);
    }

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let stat = "42 (a) b (c) R 7 42 42 0 -1 4194304 0 0 0 0 15 3 0 0";
        let f = stat_fields(stat).unwrap();
        assert_eq!((f[0], f[1], f[11], f[12]), ("R", "7", "15", "3"));
    }
}
