//! The server's heap during a run (`--heap-profile`): heaptrack records every allocation
//! of the server process the tool started (the reference server, or `--server-cmd`'s),
//! and once it has exited, the heap over time, its highest point during the steady
//! state, and the allocation sites holding memory at that point become run.json's `heap`
//! and an allocation flamegraph weighted by bytes.
//!
//! "Heap" is what the program asked malloc for and has not freed (heaptrack's "peak heap
//! memory consumption"), not RSS: the allocator's free lists, thread caches and
//! fragmentation, the stacks and the binary are in RSS only.

pub mod heaptrack;
pub mod trace;

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use heaptrack::{Heaptrack, Session};
use trace::{LiveStack, Series, Window};

/// The allocation flamegraph's file name in the run directory.
pub const SVG_FILE_NAME: &str = "heap-flamegraph.svg";
/// Sites listed in run.json (the flamegraph has them all).
const TOP_SITES: usize = 10;

/// The server's heap over a run (run.json `heap`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeapReport {
    /// What recorded it, e.g. `heaptrack 1.4.0`.
    pub profiler: String,
    /// The highest heap during the steady state: bytes allocated and not yet freed.
    pub peak_bytes: u64,
    /// When it was reached, seconds since the run's `started_at`.
    pub peak_at_s: f64,
    /// The highest heap over the server process's whole life (its start included).
    pub process_peak_bytes: u64,
    /// Allocation calls (malloc, calloc, realloc, …) during the steady state.
    pub steady_allocations: u64,
    /// `steady_allocations` per request of the steady state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocations_per_request: Option<f64>,
    /// The highest RSS heaptrack saw, its own bookkeeping included (so above the RSS of
    /// the same server without it).
    pub peak_rss_bytes: u64,
    /// The highest heap of each second of the run.
    pub series: Vec<HeapPoint>,
    /// The allocation sites holding the most memory at the steady-state peak.
    pub sites: Vec<HeapSite>,
    /// File name of the allocation flamegraph in the run directory, when drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flamegraph: Option<String>,
}

/// One second of the heap.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeapPoint {
    /// Seconds since the run's `started_at` at the start of this second (as `series[].t`).
    pub t: u64,
    /// The highest heap within it, bytes.
    pub heap_bytes: u64,
}

/// Memory one allocation site held at the steady-state peak.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeapSite {
    /// Bytes live from this site.
    pub bytes: u64,
    /// Allocations live from this site.
    pub allocations: u64,
    /// The first function of the stacks, from the allocation outwards, that is not the
    /// allocator's or the standard library's (`alloc::`, `core::`, `std::`, `hashbrown::`,
    /// `allocator_api2::`).
    pub function: String,
    /// Its source file and line, when the debug info has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// When the run happened, to find its steady state in the server's time.
#[derive(Debug, Clone)]
pub struct RunClock {
    /// The run's `started_at`.
    pub started_at: SystemTime,
    /// The steady phases, seconds since `started_at` (start, end).
    pub steady: Vec<(f64, f64)>,
    /// The end of the run's last phase, seconds since `started_at`: the series stops
    /// there (the server's shutdown is not part of the run).
    pub end_s: f64,
    /// Requests of the steady state.
    pub requests: u64,
}

/// Reads the session's data (the server must have exited) and writes the allocation
/// flamegraph into `out`. Blocking. Returns why there is no profile, in a sentence.
pub fn profile(mut session: Session, clock: &RunClock, out: &Path) -> Result<HeapReport, String> {
    let started = session
        .started()
        .ok_or("the server was never started under heaptrack")?;
    let offset_ms = clock
        .started_at
        .duration_since(started)
        .map_or(0, |d| d.as_millis() as u64);
    let from = clock
        .steady
        .iter()
        .map(|s| s.0)
        .fold(f64::INFINITY, f64::min);
    let to = clock.steady.iter().map(|s| s.1).fold(0.0, f64::max);
    if !from.is_finite() || to <= from {
        return Err("the run ended before its steady state began".into());
    }
    let window = Window {
        from_ms: offset_ms + (from * 1000.0) as u64,
        to_ms: offset_ms + (to * 1000.0) as u64,
    };
    let timeline = session.read(
        window,
        Series {
            origin_ms: offset_ms,
            bucket_ms: 1000,
        },
    )?;
    let (peak_bytes, peak_ms) = timeline.window_peak.ok_or_else(|| {
        format!(
            "heaptrack's data ends at {:.1} s of the server's life, before the steady state ({:.1} s): \
             the server stopped recording early",
            timeline.end_ms as f64 / 1000.0,
            window.from_ms as f64 / 1000.0
        )
    })?;
    let since_run = |ms: u64| ((ms as f64 - offset_ms as f64) / 100.0).round() / 10.0;
    let flamegraph = render(&timeline.live_at_peak, peak_bytes, &out.join(SVG_FILE_NAME))
        .map_err(|e| eprintln!("no heap flamegraph: {e}"))
        .ok()
        .map(|()| SVG_FILE_NAME.to_string());
    Ok(HeapReport {
        profiler: session.profiler().to_string(),
        peak_bytes,
        peak_at_s: since_run(peak_ms),
        process_peak_bytes: timeline.life_peak.0,
        steady_allocations: timeline.window_allocations,
        allocations_per_request: (clock.requests > 0).then(|| {
            (timeline.window_allocations as f64 / clock.requests as f64 * 10.0).round() / 10.0
        }),
        peak_rss_bytes: timeline.peak_rss_bytes,
        series: timeline
            .buckets
            .iter()
            .map(|&(ms, heap_bytes)| HeapPoint {
                t: (ms - offset_ms) / 1000,
                heap_bytes,
            })
            .filter(|p| (p.t as f64) <= clock.end_s)
            .collect(),
        sites: sites(&timeline.live_at_peak),
        flamegraph,
    })
}

/// Frames of the allocator itself.
const ALLOCATOR: &[&str] = &[
    "alloc::",
    "core::",
    "hashbrown::",
    "allocator_api2::",
    "__rustc::",
    "__rust_",
    "__rdl_",
    "__rg_",
    "malloc",
    "calloc",
    "realloc",
    "posix_memalign",
    "aligned_alloc",
    "operator new",
    "T as ",
    "[T] as ",
    "str as ",
];

/// Whether a frame is in `prefixes` (a function of `<A as B>` counts by `A`).
fn is_in(function: &str, prefixes: &[&str]) -> bool {
    let f = function.trim_start_matches(['<', '&']);
    prefixes.iter().any(|p| f.starts_with(p))
}

/// Whether a frame is the allocator's or the standard library's plumbing rather than the
/// code that wanted the memory.
fn plumbing(function: &str) -> bool {
    is_in(function, ALLOCATOR) || is_in(function, &["std::"])
}

/// A source path, short: from the crate's directory for registry sources
/// (`sqlx-core-0.8.6/src/pool/inner.rs`), from `library/` for the standard library's.
fn short_file(file: &str) -> &str {
    if let Some(at) = file.find("/registry/src/") {
        let rest = &file[at + "/registry/src/".len()..];
        return rest.split_once('/').map_or(rest, |(_, r)| r);
    }
    if let Some(at) = file.find("/library/") {
        return &file[at + 1..];
    }
    file
}

/// The stacks grouped by their first frame that is not plumbing, largest first.
fn sites(stacks: &[LiveStack]) -> Vec<HeapSite> {
    let mut by_site: std::collections::HashMap<(String, Option<String>), (u64, u64)> =
        std::collections::HashMap::new();
    for s in stacks {
        // A stack of the standard library alone (a thread's start) is named by its first
        // frame past the allocator.
        let frame = s
            .frames
            .iter()
            .rev()
            .find(|f| !plumbing(&f.function))
            .or_else(|| {
                let mut frames = s.frames.iter().rev();
                frames.find(|f| !is_in(&f.function, ALLOCATOR))
            })
            .or(s.frames.last());
        let Some(frame) = frame else { continue };
        let location = frame.file.as_deref().map(|f| match frame.line {
            0 => short_file(f).to_string(),
            line => format!("{}:{line}", short_file(f)),
        });
        let site = by_site
            .entry((frame.function.clone(), location))
            .or_default();
        site.0 += s.bytes;
        site.1 += s.allocations;
    }
    let mut sites: Vec<HeapSite> = by_site
        .into_iter()
        .map(|((function, location), (bytes, allocations))| HeapSite {
            bytes,
            allocations,
            function,
            location,
        })
        .collect();
    // Largest first; the same order every time for equal sizes.
    sites.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.function.cmp(&b.function))
            .then_with(|| a.location.cmp(&b.location))
    });
    sites.truncate(TOP_SITES);
    sites
}

/// The stacks at the peak as folded lines (`outer;…;inner bytes`).
fn folded(stacks: &[LiveStack]) -> Vec<String> {
    stacks
        .iter()
        .filter(|s| !s.frames.is_empty())
        .map(|s| {
            let names: Vec<String> = s
                .frames
                .iter()
                .map(|f| f.function.replace(';', ":").replace('\n', " "))
                .collect();
            format!("{} {}", names.join(";"), s.bytes)
        })
        .collect()
}

/// Draws the allocation flamegraph of the stacks live at the peak (widths in bytes).
fn render(stacks: &[LiveStack], peak: u64, path: &Path) -> Result<(), String> {
    use inferno::flamegraph::{self, Options, color::BasicPalette, color::Palette};
    let lines = folded(stacks);
    if lines.is_empty() {
        return Err("no stack held memory at the peak".into());
    }
    let mut options = Options::default();
    options.title = format!(
        "Heap at the steady-state peak: {:.1} MB live, by allocation stack",
        peak as f64 / 1e6
    );
    options.count_name = "bytes".into();
    options.colors = Palette::Basic(BasicPalette::Mem);
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| format!("cannot render {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::trace::Frame;
    use super::*;

    fn frame(function: &str, file: Option<&str>, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: file.map(str::to_owned),
            line,
        }
    }

    #[test]
    fn a_site_is_the_first_frame_past_the_allocators_plumbing() {
        let handler = frame(
            "koprogo_perf::server::routes::list",
            Some("/work/x/src/server/routes/list.rs"),
            40,
        );
        let pool = frame(
            "sqlx_core::pool::inner::PoolInner<DB>::acquire",
            Some(
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sqlx-core-0.8.6/src/pool/inner.rs",
            ),
            12,
        );
        let grow = frame(
            "alloc::raw_vec::RawVec<T,A>::grow_one",
            Some("/rustc/abc/library/alloc/src/raw_vec.rs"),
            3,
        );
        let clone = frame("<alloc::vec::Vec<T> as core::clone::Clone>::clone", None, 0);
        let stacks = vec![
            LiveStack {
                frames: vec![frame("main", None, 0), handler.clone(), grow.clone()],
                bytes: 100,
                allocations: 2,
            },
            LiveStack {
                frames: vec![handler.clone(), clone, grow.clone()],
                bytes: 50,
                allocations: 1,
            },
            LiveStack {
                frames: vec![pool, grow.clone()],
                bytes: 400,
                allocations: 4,
            },
            LiveStack {
                frames: vec![grow.clone()],
                bytes: 7,
                allocations: 1,
            },
            LiveStack {
                frames: vec![frame("std::thread::Builder::spawn", None, 0), grow],
                bytes: 5,
                allocations: 1,
            },
        ];
        let s = sites(&stacks);
        assert_eq!(s.len(), 4, "{s:#?}");
        assert_eq!(
            s[0].function,
            "sqlx_core::pool::inner::PoolInner<DB>::acquire"
        );
        assert_eq!(
            s[0].location.as_deref(),
            Some("sqlx-core-0.8.6/src/pool/inner.rs:12")
        );
        // Both stacks through the handler are one site.
        assert_eq!((s[1].bytes, s[1].allocations), (150, 3));
        assert_eq!(s[1].function, "koprogo_perf::server::routes::list");
        // A stack of plumbing only is its own innermost frame.
        assert_eq!(
            s[2].location.as_deref(),
            Some("library/alloc/src/raw_vec.rs:3")
        );

        let lines = folded(&stacks);
        assert_eq!(
            lines[0],
            "main;koprogo_perf::server::routes::list;alloc::raw_vec::RawVec<T,A>::grow_one 100"
        );
    }
}
