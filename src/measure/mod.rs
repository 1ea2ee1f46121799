//! What a run costs, beyond latency: pg_stat_statements per statement, process
//! resources (server, Postgres, generator), CO2 per request, a flamegraph of the
//! server's CPU and a profile of its heap.

pub mod availability;
pub mod carbon;
pub mod flamegraph;
pub mod heap;
pub mod pgss;
pub mod resources;
pub mod sampler;

/// The flamegraph's sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profiler {
    Auto,
    Perf,
    Builtin,
}
