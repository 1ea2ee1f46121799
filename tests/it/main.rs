//! Integration tests: one binary, a module per area, a shared harness in `common`.
//! Everything runs against real parts: an embedded PostgreSQL cluster per test, the
//! reference server on a free loopback port, real HTTP, real goose.

mod action;
mod audit;
mod cli;
mod cluster;
mod common;
mod contract;
mod experiment;
mod experiment_host;
mod frontend;
mod heap;
mod honest;
mod hostile;
mod limits;
mod load;
mod measure;
mod merge;
mod openapi;
mod parsers;
mod rate;
mod report;
mod scenarios;
mod secrets;
mod seed;
mod seed_api;
mod server;
mod structure;
mod tune;
mod tune_schema;
