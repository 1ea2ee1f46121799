//! Every shipped scenario (`scenarios/*.toml`) against the reference server, logged
//! in as KoproGo's users would run it: a syndic, or the superadmin for a scenario
//! that says `role = "superadmin"`. Not one request of any endpoint may fail or go
//! unsent: a scenario that passes here is one KoproGo's contract (pinned in
//! `contract`) serves.

use std::path::Path;

use clap::Parser;
use koprogo_perf::load::scenario::{self, LoginRole};
use koprogo_perf::report::RunReport;

use crate::common;

/// The shipped scenario files' names, which must all be built in.
fn shipped() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut builtin: Vec<String> = scenario::BUILTIN
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    builtin.sort();
    assert_eq!(names, builtin, "every shipped scenario is built in");
    names
}

/// A short `load` run of `name` (4 users, 2 s) with `extra` arguments; its run.json.
async fn run(name: &str, extra: &[&str], out: &Path) -> RunReport {
    let out = out.join(name);
    let mut args = vec![
        "koprogo-perf",
        "load",
        "--scenario",
        name,
        "--vus",
        "4",
        "--duration",
        "2s",
        "--ramp-up",
        "0s",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let code = koprogo_perf::run(koprogo_perf::Cli::parse_from(args))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{name}");
    let text = std::fs::read_to_string(out.join("run.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every request of `name` was sent, and none failed, endpoint by endpoint.
#[track_caller]
fn no_errors_on_any_endpoint(name: &str, run: &RunReport) {
    let scenario = scenario::load(name).unwrap();
    assert_eq!(run.endpoints.len(), scenario.requests.len(), "{name}");
    for request in &scenario.requests {
        let e = run
            .endpoints
            .iter()
            .find(|e| e.name == request.name)
            .unwrap_or_else(|| panic!("{name}: no endpoint {}", request.name));
        assert!(e.requests > 0, "{name}: {} was never sent", e.name);
        assert_eq!(
            (e.errors, e.checks_failed, e.unsent_total()),
            (0, 0, 0),
            "{name}: {} failed: {:?} {:?} unsent {:?}",
            e.name,
            e.status_codes,
            e.transport_errors,
            e.unsent
        );
    }
    if let Some(logins) = &run.logins {
        assert!(logins.failures.is_empty(), "{name}: {:?}", logins.failures);
    }
}

/// One seeded stack, every shipped scenario run against it by URL as against a real
/// KoproGo: the demo syndics' logins, the superadmin's for admin-load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_scenario_runs_without_an_error_on_any_endpoint() {
    let stack = common::stack(1).await;
    let host = stack.base_url();
    let out = tempfile::tempdir().unwrap();
    for name in shipped() {
        let logins: &[&str] = match scenario::load(&name).unwrap().role {
            LoginRole::Superadmin => &["--login", "admin@koprogo.com:admin123"],
            LoginRole::Syndic => &[
                "--login",
                "syndic@grandplace.be:syndic123",
                "--login",
                "syndic@sablon.be:syndic123",
                "--login",
                "syndic@meir.be:syndic123",
            ],
        };
        let mut extra = vec!["--host", host.as_str()];
        extra.extend_from_slice(logins);
        let report = run(&name, &extra, out.path()).await;
        no_errors_on_any_endpoint(&name, &report);
    }
    stack.stop().await;
}

/// Without `--host`, a `role = "superadmin"` scenario logs its users in as the seed's
/// superadmin on its own: admin-load's structural writes all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_load_logs_in_as_the_superadmin_on_its_own_stack() {
    let out = tempfile::tempdir().unwrap();
    let report = run("admin-load", &[], out.path()).await;
    no_errors_on_any_endpoint("admin-load", &report);
    let posts: u64 = report
        .endpoints
        .iter()
        .filter(|e| e.name.starts_with("POST"))
        .map(|e| e.status_codes.get("201").copied().unwrap_or(0))
        .sum();
    assert!(posts > 0, "{:?}", report.endpoints);
}
