//! A short real run: goose with 4 users of `api-load` against the embedded stack.

use std::collections::BTreeSet;

use clap::Parser;
use koprogo_perf::report::RunReport;
use koprogo_perf::report::run::decode_histogram;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_api_load_run_hits_every_endpoint_and_writes_a_valid_run_json() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("run");
    let cli = koprogo_perf::Cli::parse_from([
        "koprogo-perf",
        "load",
        "--vus",
        "4",
        "--duration",
        "2s",
        "--ramp-up",
        "0s",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let code = koprogo_perf::run(cli).await.expect("the run completes");
    assert_eq!(code, std::process::ExitCode::SUCCESS);

    // run.json validates against the schema in the repository.
    let text = std::fs::read_to_string(out_dir.join("run.json")).unwrap();
    let instance: Value = serde_json::from_str(&text).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("../../src/report/run.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        problems.is_empty(),
        "run.json does not match its schema: {problems:#?}"
    );

    let run: RunReport = serde_json::from_value(instance).unwrap();
    assert_eq!(run.endpoints.len(), 14);
    assert!(run.target.embedded);
    assert_eq!(run.vus, 4);
    assert!(run.totals.requests > 0);
    // Every request kind got a 2xx, and the run had no errors at all.
    for e in &run.endpoints {
        let ok: u64 = e
            .status_codes
            .iter()
            .filter(|(c, _)| c.starts_with('2'))
            .map(|(_, n)| n)
            .sum();
        assert!(ok > 0, "{} got no 2xx: {:?}", e.name, e.status_codes);
        assert_eq!(
            e.errors, 0,
            "{}: {:?} {:?}",
            e.name, e.status_codes, e.transport_errors
        );
    }
    let posts: BTreeSet<u16> = run
        .endpoints
        .iter()
        .filter(|e| e.name.starts_with("POST"))
        .flat_map(|e| e.status_codes.keys().map(|c| c.parse().unwrap()))
        .collect();
    assert_eq!(posts, BTreeSet::from([201]));
    // Per-endpoint counts sum to the total and equal their histograms' counts.
    let sum: u64 = run.endpoints.iter().map(|e| e.requests).sum();
    assert_eq!(sum, run.totals.requests);
    for e in &run.endpoints {
        assert_eq!(
            decode_histogram(&e.histogram).unwrap().len(),
            e.requests,
            "{}",
            e.name
        );
        let codes: u64 = e.status_codes.values().sum();
        assert_eq!(codes, e.requests, "{}", e.name);
    }
    let overall = run.overall_histogram().unwrap();
    assert_eq!(overall.len(), run.totals.requests);
    assert_eq!(overall.value_at_quantile(0.99), run.totals.latency_us.p99);
    // The mix follows the weights: GET buildings list (15) well above auth/me (2).
    let count = |name: &str| {
        run.endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap()
            .requests
    };
    assert!(count("GET /api/v1/buildings") > count("GET /api/v1/auth/me"));
    // Targets: measured ones have a verdict, the others say so.
    let p99 = run.targets.iter().find(|t| t.name == "p99").unwrap();
    assert!(p99.pass.is_some());
    let rss = run.targets.iter().find(|t| t.name == "server_rss").unwrap();
    assert_eq!(rss.pass, None);
    assert!(rss.note.as_deref().unwrap().starts_with("not measured"));
    // latency.hgrm is HdrHistogram's percentile text with the same count.
    let hgrm = std::fs::read_to_string(out_dir.join("latency.hgrm")).unwrap();
    assert!(
        hgrm.contains(&format!("Total count    = {:>12}", run.totals.requests)),
        "{hgrm}"
    );
}
