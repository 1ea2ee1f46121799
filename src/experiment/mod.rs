//! `koprogo-perf experiment`: one scenario, on the same seeded data, against several
//! arms (configurations of the reference server and its database), run after run in
//! alternation (A B A B …) so that drift on a shared machine hits every arm alike.
//!
//! This module is the part without I/O: which arms exist and what each changes
//! ([`Arm`]), the order of the runs ([`schedule`]), and what the runs add up to
//! ([`summarize`] → [`ExperimentReport`], written as experiment.json): per arm req/s,
//! p50/p99, errors, server CPU and CO2 per request, ratios to baseline with confidence
//! intervals over the repeats, and the statements each arm removed or sped up. The
//! command (`commands/experiment.rs`) runs the arms; `report` renders experiment.json.

pub mod render;
pub mod statements;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::latency::Latency;
use crate::report::RunReport;
use crate::server::{Optimization, Preset, ServerArgs};

pub use statements::{Change, StatementChange};

/// Version of experiment.json's layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Confidence level of the ratio intervals.
pub const CONFIDENCE: f64 = 0.95;

/// Arm name: baseline plus the tune-db profile's PostgreSQL settings.
pub const PG_SETTINGS: &str = "pg_settings";
/// Arm name: baseline plus the tune-db profile's indexes.
pub const INDEXES: &str = "indexes";

/// What an arm changes in the database, from the tune-db profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseTuning {
    /// The profile's settings (ALTER SYSTEM, then a restart of the cluster).
    pub settings: bool,
    /// The profile's indexes (built in the arm's template database).
    pub indexes: bool,
}

/// One configuration under test.
#[derive(Clone, Debug)]
pub struct Arm {
    /// `baseline`, `tuned`, or the name of the one optimization it adds to baseline.
    pub name: String,
    /// The reference server's switches.
    pub server: ServerArgs,
    pub database: DatabaseTuning,
}

/// Every arm name, in `--each` order.
pub fn arm_names() -> Vec<&'static str> {
    std::iter::once(Preset::Baseline.name())
        .chain(Optimization::ALL.iter().map(|o| o.name()))
        .chain([PG_SETTINGS, INDEXES, Preset::Tuned.name()])
        .collect()
}

impl Arm {
    /// The arm called `name`: a preset (with the database as the preset says: tuned has
    /// the profile's settings and indexes), baseline plus one optimization (`gzip`), or
    /// tuned without one (`tuned-gzip`), which shows what a switch is worth once the
    /// others have moved the bottleneck.
    pub fn parse(name: &str) -> Result<Arm, String> {
        let name = name.trim();
        let unknown = || {
            format!(
                "unknown arm `{name}`: expected one of {}, or tuned-NAME (tuned without one of \
                 those optimizations, e.g. tuned-gzip)",
                arm_names().join(", ")
            )
        };
        let database = |settings, indexes| DatabaseTuning { settings, indexes };
        let (server, database) = match name.strip_prefix("tuned-") {
            Some(removed) => {
                let tuned = ServerArgs::from_preset(Preset::Tuned);
                match removed {
                    PG_SETTINGS => (tuned, database(false, true)),
                    INDEXES => (tuned, database(true, false)),
                    other => {
                        let o = Optimization::from_name(other).ok_or_else(unknown)?;
                        (tuned.without(o), database(true, true))
                    }
                }
            }
            None => match name {
                PG_SETTINGS => (
                    ServerArgs::from_preset(Preset::Baseline),
                    database(true, false),
                ),
                INDEXES => (
                    ServerArgs::from_preset(Preset::Baseline),
                    database(false, true),
                ),
                other => {
                    let tuned = other == Preset::Tuned.name();
                    let server = ServerArgs::for_arm(other).map_err(|_| unknown())?;
                    (server, database(tuned, tuned))
                }
            },
        };
        Ok(Arm {
            name: name.to_string(),
            server,
            database,
        })
    }

    /// What the arm changes, in a few words.
    pub fn describe(&self) -> String {
        if let Some(removed) = self.name.strip_prefix("tuned-") {
            return format!("tuned without {removed}");
        }
        match self.name.as_str() {
            "baseline" => {
                "the guide's \"before\": every switch off, pool 10, untuned database".into()
            }
            "tuned" => "every switch on, pool 20, the profile's settings and indexes".into(),
            PG_SETTINGS => "baseline + the profile's PostgreSQL settings".into(),
            INDEXES => "baseline + the profile's indexes".into(),
            other => match Optimization::from_name(other) {
                Some(o) if o.from_guide() => format!("baseline + {other} (the guide's)"),
                Some(_) => format!("baseline + {other} (ours, not the guide's)"),
                None => other.to_string(),
            },
        }
    }
}

impl Arm {
    /// What the arm changes on an external stack (`experiment --host`): its database
    /// only, through tune-db, undone after the arm.
    pub fn describe_external(&self) -> String {
        match self.name.as_str() {
            "baseline" => {
                "the target as it runs: its database's settings and indexes as found".into()
            }
            "tuned" => {
                "baseline + the profile's settings and indexes (tune-db, rolled back after)".into()
            }
            PG_SETTINGS => {
                "baseline + the profile's PostgreSQL settings (tune-db, rolled back after)".into()
            }
            INDEXES => "baseline + the profile's indexes (tune-db, dropped after)".into(),
            other => other.to_string(),
        }
    }
}

/// The arms of `--arms NAMES` (or every arm with `each`): baseline first, added when
/// missing (every ratio is to it); duplicates refused. The flag says whether baseline
/// was added.
pub fn arms(names: &[String], each: bool) -> Result<(Vec<Arm>, bool), String> {
    let names: Vec<String> = if each {
        arm_names().into_iter().map(str::to_string).collect()
    } else {
        names
            .iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    };
    let mut seen = BTreeSet::new();
    let mut arms = Vec::new();
    for name in &names {
        if !seen.insert(name.clone()) {
            return Err(format!("--arms names `{name}` twice"));
        }
        arms.push(Arm::parse(name)?);
    }
    let added = !seen.contains("baseline");
    if added {
        arms.insert(0, Arm::parse("baseline")?);
    } else {
        let at = arms.iter().position(|a| a.name == "baseline").unwrap_or(0);
        let baseline = arms.remove(at);
        arms.insert(0, baseline);
    }
    if arms.len() < 2 {
        return Err("an experiment needs at least one arm besides baseline (e.g. --arms baseline,tuned, or --each)".into());
    }
    Ok((arms, added))
}

/// One run of the experiment: its round (from 1) and arm (an index into the arms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub round: u32,
    pub arm: usize,
}

/// The order of the runs: round by round, every arm in turn (A B A B …), so that a
/// drift of the machine over the experiment falls on every arm alike.
pub fn schedule(arms: usize, repeat: u32) -> Vec<Slot> {
    (1..=repeat)
        .flat_map(|round| (0..arms).map(move |arm| Slot { round, arm }))
        .collect()
}

/// experiment.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// koprogo-perf and its version.
    pub tool: String,
    /// What was asked for: scenario, data, users, duration, rounds, profile.
    #[serde(flatten)]
    pub setup: Setup,
    /// How the runs were ordered and isolated.
    pub method: String,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// One entry per arm, baseline first.
    pub arms: Vec<ArmSummary>,
    /// Every run in the order it ran.
    pub runs: Vec<RunEntry>,
    /// Why pg_stat_statements was not measured, from the first run that did not measure
    /// it (the arms' `statements` are then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgss_note: Option<String>,
}

/// One arm's figures over its runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArmSummary {
    pub name: String,
    /// What it changes.
    pub description: String,
    /// The server's switches, as run.json records them.
    pub switches: String,
    pub database: DatabaseTuning,
    /// Runs that completed.
    pub runs: usize,
    /// Steady-state requests over those runs.
    pub requests: u64,
    /// Mean of the runs' req/s.
    pub rps: f64,
    /// Percentiles of every request of the arm's runs together, microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    /// Errors ÷ requests.
    pub error_rate: f64,
    /// Server CPU milliseconds per request (null when the server was not measured).
    pub server_cpu_ms_per_request: Option<f64>,
    /// PostgreSQL CPU milliseconds per request.
    pub postgres_cpu_ms_per_request: Option<f64>,
    /// g CO2e per request (total of the arm's runs ÷ their requests).
    pub co2_g_per_request: Option<f64>,
    /// rps ÷ baseline's rps.
    pub rps_ratio_to_baseline: f64,
    /// p99 ÷ baseline's p99.
    pub p99_ratio_to_baseline: f64,
    /// With two rounds or more: the confidence interval of the req/s ratio, from the
    /// per-round ratios (each run against baseline's run of the same round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps_ratio_interval: Option<[f64; 2]>,
    /// The same for the p99 ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ratio_interval: Option<[f64; 2]>,
    /// Statements the arm removed, called less, sped up, slowed down or added, against
    /// baseline (from pg_stat_statements; empty for baseline or when not measured).
    pub statements: Vec<StatementChange>,
}

/// One run, as experiment.json lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunEntry {
    /// 1, 2, … in the order of the runs.
    pub index: usize,
    pub round: u32,
    pub arm: String,
    /// Its run directory, relative to the experiment's.
    pub dir: String,
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub requests: u64,
    pub errors: u64,
    /// Cut short by Ctrl-C: listed, but not in its arm's figures.
    pub interrupted: bool,
}

/// A completed run with where it is and what it measured.
pub struct Done<'a> {
    pub slot: Slot,
    pub dir: String,
    pub report: &'a RunReport,
}

/// What the experiment was asked to do, and whether it did it all.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    /// When the first run started (RFC 3339, UTC).
    pub started_at: String,
    /// The scenario every run used.
    pub scenario: String,
    /// Seed data scale and generator seed: the same data in every run.
    pub scale: u32,
    pub rng_seed: u64,
    /// Users (maximum concurrency with a rate).
    pub vus: usize,
    /// Steady-state seconds of each run.
    pub duration_s: f64,
    /// Requests per second asked for, in constant-rate mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Runs per arm asked for.
    pub repeat: u32,
    /// The tune-db profile of the arms that tune the database.
    pub profile: String,
    /// True when Ctrl-C cut the experiment short (the arms sum up the runs that ended).
    pub interrupted: bool,
    /// `experiment --host`: the running KoproGo measured, on its own data (`scale`
    /// is then not the tool's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Adds the runs up per arm. Interrupted runs are listed but left out of the figures;
/// an arm without a complete run has zero figures.
pub fn summarize(setup: Setup, arms: &[Arm], done: &[Done]) -> anyhow::Result<ExperimentReport> {
    let complete = |d: &&Done| !d.report.interrupted;
    let mut summaries = Vec::new();
    for (i, arm) in arms.iter().enumerate() {
        let runs: Vec<&RunReport> = done
            .iter()
            .filter(complete)
            .filter(|d| d.slot.arm == i)
            .map(|d| d.report)
            .collect();
        let mut summary = arm_figures(arm, &runs)?;
        if setup.target.is_some() {
            // The target's server is the user's own: none of the reference server's
            // switches or pool sizes is in it.
            summary.description = arm.describe_external();
            summary.switches = "the target's own (not toggled)".into();
        }
        summaries.push(summary);
    }
    // Ratios to baseline (arm 0), with intervals over the rounds where both ran.
    let base = summaries[0].clone();
    let base_runs: Vec<&Done> = done
        .iter()
        .filter(complete)
        .filter(|d| d.slot.arm == 0)
        .collect();
    for (i, s) in summaries.iter_mut().enumerate() {
        s.rps_ratio_to_baseline = ratio(s.rps, base.rps);
        s.p99_ratio_to_baseline = ratio(s.p99_us as f64, base.p99_us as f64);
        if i == 0 {
            continue;
        }
        let pairs: Vec<(&RunReport, &RunReport)> = done
            .iter()
            .filter(complete)
            .filter(|d| d.slot.arm == i)
            .filter_map(|d| {
                base_runs
                    .iter()
                    .find(|b| b.slot.round == d.slot.round)
                    .map(|b| (d.report, b.report))
            })
            .collect();
        let rps: Vec<f64> = pairs
            .iter()
            .map(|(a, b)| ratio(a.totals.rps, b.totals.rps))
            .collect();
        let p99: Vec<f64> = pairs
            .iter()
            .map(|(a, b)| {
                ratio(
                    a.totals.latency_us.p99 as f64,
                    b.totals.latency_us.p99 as f64,
                )
            })
            .collect();
        s.rps_ratio_interval = crate::report::stats::ratio_interval(&rps, CONFIDENCE);
        s.p99_ratio_interval = crate::report::stats::ratio_interval(&p99, CONFIDENCE);
        let arm_runs: Vec<&RunReport> = pairs.iter().map(|(a, _)| *a).collect();
        let base_reports: Vec<&RunReport> = base_runs.iter().map(|d| d.report).collect();
        s.statements = statements::changes(&base_reports, &arm_runs);
    }
    let runs = done
        .iter()
        .enumerate()
        .map(|(i, d)| RunEntry {
            index: i + 1,
            round: d.slot.round,
            arm: arms[d.slot.arm].name.clone(),
            dir: d.dir.clone(),
            rps: d.report.totals.rps,
            p50_us: d.report.totals.latency_us.p50,
            p99_us: d.report.totals.latency_us.p99,
            requests: d.report.totals.requests,
            errors: d.report.totals.errors,
            interrupted: d.report.interrupted,
        })
        .collect();
    let method: String = match &setup.target {
        None => "round by round, every arm in turn (A B A B …); each run on a fresh copy of one \
                 seeded template database, on a freshly restarted cluster, with its own server \
                 process"
            .into(),
        Some(_) => "round by round, every arm in turn (A B A B …), on the running target and its \
                    own database: each run's arm applied through tune-db before it and rolled \
                    back after it"
            .into(),
    };
    let pgss_note = done
        .iter()
        .filter(complete)
        .find(|d| !d.report.postgres.measured)
        .map(|d| {
            d.report
                .postgres
                .note
                .clone()
                .unwrap_or_else(|| "not measured".into())
        });
    Ok(ExperimentReport {
        schema_version: SCHEMA_VERSION,
        tool: format!("koprogo-perf {}", env!("CARGO_PKG_VERSION")),
        setup,
        method,
        confidence: CONFIDENCE,
        arms: summaries,
        runs,
        pgss_note,
    })
}

/// `a ÷ b`, 0 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// An arm's own figures (ratios are filled in afterwards).
fn arm_figures(arm: &Arm, runs: &[&RunReport]) -> anyhow::Result<ArmSummary> {
    let requests: u64 = runs.iter().map(|r| r.totals.requests).sum();
    let errors: u64 = runs.iter().map(|r| r.totals.errors).sum();
    let all = crate::latency::sum(runs.iter().map(|r| &r.histogram));
    let latency = all.as_ref().map(Latency::of);
    let per_request = |total: Option<f64>| {
        total
            .filter(|_| requests > 0)
            .map(|t| t * 1000.0 / requests as f64)
    };
    // Summed only when every run measured it: a partial sum would understate.
    let sum_all = |f: &dyn Fn(&RunReport) -> Option<f64>| -> Option<f64> {
        if runs.is_empty() {
            return None;
        }
        runs.iter().map(|r| f(r)).sum()
    };
    let server_cpu = sum_all(&|r| {
        r.resources
            .as_ref()
            .filter(|x| x.server.measured)
            .map(|x| x.server.cpu_s)
    });
    let postgres_cpu = sum_all(&|r| {
        r.resources
            .as_ref()
            .filter(|x| x.postgres.measured)
            .map(|x| x.postgres.cpu_s)
    });
    let co2 = sum_all(&|r| {
        r.carbon
            .as_ref()
            .map(|c| c.g_per_request * r.totals.requests as f64)
    });
    Ok(ArmSummary {
        name: arm.name.clone(),
        description: arm.describe(),
        switches: runs
            .first()
            .and_then(|r| r.target.server.as_ref())
            .and_then(|s| s.switches.clone())
            .unwrap_or_else(|| {
                arm.server
                    .resolve()
                    .map(|c| c.switches())
                    .unwrap_or_default()
            }),
        database: arm.database,
        runs: runs.len(),
        requests,
        rps: if runs.is_empty() {
            0.0
        } else {
            runs.iter().map(|r| r.totals.rps).sum::<f64>() / runs.len() as f64
        },
        p50_us: latency.as_ref().map_or(0, |l| l.p50),
        p99_us: latency.as_ref().map_or(0, |l| l.p99),
        error_rate: ratio(errors as f64, requests as f64),
        server_cpu_ms_per_request: per_request(server_cpu),
        postgres_cpu_ms_per_request: per_request(postgres_cpu),
        co2_g_per_request: co2.filter(|_| requests > 0).map(|g| g / requests as f64),
        rps_ratio_to_baseline: 0.0,
        p99_ratio_to_baseline: 0.0,
        rps_ratio_interval: None,
        p99_ratio_interval: None,
        statements: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_comes_first_and_is_added_when_missing() {
        let (arms, added) = arms(&["tuned".into()], false).unwrap();
        assert!(added);
        assert_eq!(
            arms.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["baseline", "tuned"]
        );
        let (arms, added) = super::arms(&["gzip".into(), " baseline".into()], false).unwrap();
        assert!(!added);
        assert_eq!(arms[0].name, "baseline");
        assert_eq!(arms[1].name, "gzip");
        assert!(arms[1].server.gzip && !arms[0].server.gzip);
    }

    #[test]
    fn bad_arm_lists_are_refused_with_the_names_that_exist() {
        let e = arms(&["turbo".into()], false).unwrap_err();
        assert!(
            e.contains("unknown arm `turbo`") && e.contains("pg_settings"),
            "{e}"
        );
        assert!(
            arms(&["tuned".into(), "tuned".into()], false)
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            arms(&["baseline".into()], false)
                .unwrap_err()
                .contains("at least one arm")
        );
    }

    #[test]
    fn each_is_baseline_every_optimization_alone_then_tuned() {
        let (arms, _) = arms(&[], true).unwrap();
        let names: Vec<&str> = arms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names.first(), Some(&"baseline"));
        assert_eq!(names.last(), Some(&"tuned"));
        assert_eq!(names.len(), Optimization::ALL.len() + 4);
        // Each middle arm differs from baseline in exactly one thing.
        let base = &arms[0];
        for arm in &arms[1..arms.len() - 1] {
            let server = arm.server.child_args() != base.server.child_args();
            let database = arm.database != base.database;
            assert!(server ^ database, "{} changes one thing", arm.name);
        }
        let tuned = arms.last().unwrap();
        assert!(tuned.database.settings && tuned.database.indexes);
    }

    fn report(rps: f64, interrupted: bool) -> RunReport {
        let mut r: RunReport =
            serde_json::from_str(include_str!("../../tests/fixtures/report/run/run.json")).unwrap();
        r.totals.rps = rps;
        r.interrupted = interrupted;
        r
    }

    #[test]
    fn arms_add_up_and_ratios_pair_the_runs_of_a_round() {
        let (arms, _) = arms(&["tuned".into()], false).unwrap();
        let reports = [
            (1, 0, report(100.0, false)),
            (1, 1, report(300.0, false)),
            (2, 0, report(120.0, false)),
            (2, 1, report(480.0, false)),
            // Cut short by Ctrl-C: listed, not counted.
            (3, 0, report(10.0, true)),
        ];
        let done: Vec<Done> = reports
            .iter()
            .map(|(round, arm, r)| Done {
                slot: Slot {
                    round: *round,
                    arm: *arm,
                },
                dir: format!("runs/{round}-{arm}"),
                report: r,
            })
            .collect();
        let setup = Setup {
            started_at: "t".into(),
            scenario: "api-load".into(),
            scale: 1,
            rng_seed: 42,
            vus: 4,
            duration_s: 2.0,
            rate: None,
            repeat: 3,
            profile: "koprogo-vps".into(),
            interrupted: true,
            target: None,
        };
        let x = summarize(setup, &arms, &done).unwrap();
        let (base, tuned) = (&x.arms[0], &x.arms[1]);
        assert_eq!((base.runs, tuned.runs), (2, 2));
        assert_eq!(base.rps, 110.0);
        assert_eq!(tuned.rps, 390.0);
        assert_eq!(tuned.rps_ratio_to_baseline, 390.0 / 110.0);
        assert_eq!(base.rps_ratio_to_baseline, 1.0);
        // Per-round ratios 3 and 4: the interval is around their geometric mean.
        let [lo, hi] = tuned.rps_ratio_interval.unwrap();
        assert!(lo < 12f64.sqrt() && 12f64.sqrt() < hi);
        assert_eq!(
            Some([lo, hi]),
            crate::report::stats::ratio_interval(&[3.0, 4.0], CONFIDENCE)
        );
        assert_eq!(tuned.p99_ratio_to_baseline, 1.0);
        assert_eq!(base.requests, 2 * done[0].report.totals.requests);
        assert_eq!(x.runs.len(), 5);
        assert!(x.runs[4].interrupted && x.setup.interrupted);
    }

    #[test]
    fn tuned_minus_one_differs_from_tuned_in_that_one_only() {
        let tuned = Arm::parse("tuned").unwrap();
        let no_gzip = Arm::parse("tuned-gzip").unwrap();
        assert!(tuned.server.gzip && !no_gzip.server.gzip);
        assert_eq!(
            no_gzip.server.clone().with(Optimization::Gzip).child_args(),
            tuned.server.child_args()
        );
        assert_eq!(no_gzip.database, tuned.database);
        let no_indexes = Arm::parse("tuned-indexes").unwrap();
        assert_eq!(no_indexes.server.child_args(), tuned.server.child_args());
        assert!(no_indexes.database.settings && !no_indexes.database.indexes);
        assert_eq!(no_gzip.describe(), "tuned without gzip");
        let e = Arm::parse("tuned-turbo").unwrap_err();
        assert!(e.contains("tuned-NAME"), "{e}");
    }

    #[test]
    fn runs_alternate_arms_round_by_round() {
        let order: Vec<(u32, usize)> = schedule(2, 3)
            .into_iter()
            .map(|s| (s.round, s.arm))
            .collect();
        assert_eq!(order, [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]);
    }
}
