//! koprogo-perf: performance tuning and load testing for KoproGo.
//!
//! The pipeline, one module per stage:
//! `pg` (embedded cluster, connections, migrations) → `seed` (reference data) →
//! `server` (reference API) ← `load` (goose scenarios, HDR histograms) → `report`
//! (run.json, tables, targets); `experiment` compares configurations run against run.
//! Beside it, `tune` applies the guide's PostgreSQL settings and indexes and `audit`
//! checks its quick wins on a live API and database. `engine` drives a measured run:
//! the local stack, the load with its probes (pg_stat_statements, resources, flamegraph,
//! CO2), the run report returned whole, and the experiment's protocol.
//! `cli` parses, `commands` resolve, call and print.
//!
//! Leaves every stage uses: `units` (durations, formatting), `latency` (histograms,
//! their run.json codec, `Latency`), `error`, `diagnostic`, `redact`, `interrupt` (Ctrl-C
//! as a cancellation token each command passes down), `assets`. A module imports only those below it (`tests/it/structure.rs` checks it).

pub mod assets;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod diagnostic;
pub mod engine;
pub mod error;
pub mod experiment;
pub mod interrupt;
pub mod latency;
pub mod load;
pub mod logins;
pub mod measure;
pub mod pcmn;
pub mod pg;
pub mod redact;
pub mod report;
pub mod seed;
pub mod server;
pub mod tune;
pub mod units;

pub use cli::Cli;
pub use commands::run;
