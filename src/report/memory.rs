//! The memory sections of a run's report, when `--heap-profile` was asked for: the
//! server's peak RSS and peak heap next to the guide's "~80 MB", and the allocation sites
//! holding memory at the heap's steady-state peak. Every format shows them (the HTML page
//! adds the heap over time and the allocation flamegraph).

use crate::report::run::RunReport;
use crate::report::sections::{Grid, Section, section};

/// `812 B`, `537.8 KB`, `12.3 MB`, `1.2 GB` (decimal units, as the targets').
pub fn size(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} KB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.2} GB", b / 1e9),
    }
}

/// The sections, none when the run did not ask for a heap profile.
pub fn sections(run: &RunReport) -> Vec<Section> {
    let mut out = Vec::new();
    match (&run.heap, &run.heap_skipped_reason) {
        (Some(heap), _) => {
            out.push(section(
                "heap",
                "Memory: RSS and heap",
                Some(memory_grid(run)),
                Some(format!(
                    "recorded by {}: the heap is what the server allocated and had not freed \
                     (its allocator's free memory, stacks and binary are in RSS only); the \
                     profiler slows the server, so this run's req/s and latency are not an \
                     unprofiled run's, and its RSS includes the profiler's bookkeeping",
                    heap.profiler
                )),
            ));
            out.push(section(
                "heap_sites",
                "Allocation sites at the heap's steady-state peak",
                (!heap.sites.is_empty()).then(|| sites_grid(run)),
                Some(match &heap.flamegraph {
                    Some(file) => format!(
                        "each site is the first function past the allocator and the standard \
                         library; {file} in the run directory has every stack"
                    ),
                    None => "each site is the first function past the allocator and the \
                             standard library"
                        .into(),
                }),
            ));
        }
        (None, Some(reason)) => out.push(section(
            "heap",
            "Memory: RSS and heap",
            None,
            Some(format!("no heap profile: {reason}")),
        )),
        (None, None) => {}
    }
    out
}

/// Peak RSS and peak heap beside the targets that bound them.
fn memory_grid(run: &RunReport) -> Grid {
    let mut g = Grid::new(&["memory", "measured", "target", "result"], &[1]);
    let target = |name: &str| run.targets.iter().find(|t| t.name == name);
    let verdict = |name: &str| {
        target(name).map_or(("–".into(), "–".into()), |t| {
            (t.target.clone(), crate::report::sections::verdict(t))
        })
    };
    let rss = run
        .resources
        .as_ref()
        .filter(|r| r.server.measured)
        .map(|r| size(r.server.peak_rss_bytes));
    let (goal, result) = verdict("server_rss");
    g.rows.push(vec![
        "server peak RSS".into(),
        rss.unwrap_or_else(|| "not measured".into()),
        goal,
        result,
    ]);
    if let Some(heap) = &run.heap {
        let (goal, result) = verdict("server_heap");
        g.rows.push(vec![
            "server peak heap, steady state".into(),
            format!("{} at {:.1} s", size(heap.peak_bytes), heap.peak_at_s),
            goal,
            result,
        ]);
        g.rows.push(vec![
            "server peak heap, its whole life".into(),
            size(heap.process_peak_bytes),
            "–".into(),
            "–".into(),
        ]);
        g.rows.push(vec![
            "allocations in the steady state".into(),
            match heap.allocations_per_request {
                Some(per) => format!("{} ({per:.1} per request)", heap.steady_allocations),
                None => heap.steady_allocations.to_string(),
            },
            "–".into(),
            "–".into(),
        ]);
    }
    g
}

/// The top allocation sites at the peak, with their share of it.
fn sites_grid(run: &RunReport) -> Grid {
    let mut g = Grid::new(
        &["bytes", "of the peak", "allocations", "site", "where"],
        &[0, 1, 2],
    );
    let Some(heap) = &run.heap else { return g };
    for s in &heap.sites {
        g.rows.push(vec![
            size(s.bytes),
            format!(
                "{:.1}%",
                s.bytes as f64 / heap.peak_bytes.max(1) as f64 * 100.0
            ),
            s.allocations.to_string(),
            s.function.clone(),
            s.location.clone().unwrap_or_else(|| "–".into()),
        ]);
    }
    g
}
