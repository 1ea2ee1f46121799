//! `scenario --from-openapi` against the reference server's own document
//! (`/api-docs/openapi.json`, in KoproGo's shape), and the contract it makes: the
//! scenario it writes, loaded as a syndic, answers 2xx on every covered endpoint. The
//! document itself names only routes the server routes.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use koprogo_perf::load::scenario;
use koprogo_perf::report::RunReport;

use crate::common;

const SYNDICS: [&str; 6] = [
    "--login",
    "syndic@grandplace.be:syndic123",
    "--login",
    "syndic@sablon.be:syndic123",
    "--login",
    "syndic@meir.be:syndic123",
];

async fn run(args: &[&str]) -> anyhow::Result<ExitCode> {
    let mut argv = vec!["koprogo-perf"];
    argv.extend_from_slice(args);
    koprogo_perf::run(koprogo_perf::Cli::parse_from(argv)).await
}

/// The contract test: document → scenario → load, 0 errors on every covered endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_from_the_servers_document_answers_2xx_on_every_covered_route() {
    let stack = common::stack(1).await;
    let host = stack.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.toml");
    let url = format!("{host}/api-docs/openapi.json");
    let code = run(&[
        "scenario",
        "--from-openapi",
        &url,
        "--out",
        file.to_str().unwrap(),
    ])
    .await
    .unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(
            "# 17 GET routes of 35 operations in the document: 14 covered, 2 commented out\n"
        ),
        "{text}"
    );
    // The ids it cannot learn: commented out, each with why.
    for route in ["/api/v1/accounts/{id}", "/api/v1/expenses/{id}"] {
        assert!(text.contains(&format!("# path = \"{route}\"")), "{text}");
    }
    assert!(text.contains("# NOT COVERED: {id} of /expenses: not an id koprogo-perf learns"));
    // SuperAdmin's, as its 403 says: a syndic would be refused it.
    assert!(text.contains("#   GET /api/v1/organizations: documented as SuperAdmin only"));
    let generated = scenario::load_file(&file).unwrap();
    assert_eq!(generated.requests.len(), 14);
    let paths: Vec<&str> = generated
        .requests
        .iter()
        .map(|r| r.path.text.as_str())
        .collect();
    for expected in [
        "/api/v1/health",
        "/api/v1/buildings/{building_id}",
        "/api/v1/units/{unit_id}/owners",
        "/api/v1/owners/{owner_id}",
        "/api/v1/accounts/code/611002",
    ] {
        assert!(paths.contains(&expected), "{paths:?}");
    }

    let out = dir.path().join("run");
    let mut args = vec![
        "load",
        "--host",
        host.as_str(),
        "--scenario",
        file.to_str().unwrap(),
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
    args.extend_from_slice(&SYNDICS);
    assert_eq!(run(&args).await.unwrap(), ExitCode::SUCCESS);
    let report: RunReport =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(report.endpoints.len(), 14);
    for e in &report.endpoints {
        assert!(e.requests > 0, "{} was never sent", e.name);
        assert_eq!(
            (e.errors, e.checks_failed, e.unsent_total()),
            (0, 0, 0),
            "{}: {:?} {:?} unsent {:?}",
            e.name,
            e.status_codes,
            e.transport_errors,
            e.unsent
        );
        assert!(
            e.status_codes.keys().all(|s| s.starts_with('2')),
            "{}: {:?}",
            e.name,
            e.status_codes
        );
    }
    stack.stop().await;
}

/// Every operation the document lists is one the router routes (never its "no such
/// route" 404 or a 405), so the document cannot promise what the server lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let stack = common::stack(1).await;
    let host = stack.base_url();
    let token = common::token(&host, "syndic@grandplace.be", "syndic123").await;
    let client = common::client();
    for (method, path) in koprogo_perf::server::openapi::operations() {
        let path = path
            .replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{code}", "999999");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = client
            .request(method.clone(), format!("{host}{path}"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let body = answer.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}");
        assert!(!body.contains("no such route"), "{method} {path}: {body}");
    }
    let doc = client
        .get(format!("{host}/api-docs/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), 200);
    assert_eq!(doc.headers()["content-type"], "application/json");
    stack.stop().await;
}

/// The binary: a FILE gives the same scenario as the URL it was saved from; a bad
/// document is refused with one line and exit 2, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_reads_as_its_url_and_a_bad_document_exits_2_with_one_line() {
    let stack = common::stack(1).await;
    let url = format!("{}/api-docs/openapi.json", stack.base_url());
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("openapi.json");
    let body = common::client().get(&url).send().await.unwrap();
    std::fs::write(&saved, body.text().await.unwrap()).unwrap();

    let from = |source: String| {
        tokio::task::spawn_blocking(move || {
            common::bin()
                .args(["scenario", "--from-openapi", &source])
                .output()
                .unwrap()
        })
    };
    let by_url = from(url.clone()).await.unwrap();
    let by_file = from(saved.display().to_string()).await.unwrap();
    assert!(by_url.status.success() && by_file.status.success());
    let without_first_line = |o: &std::process::Output| {
        let text = String::from_utf8(o.stdout.clone()).unwrap();
        text.split_once('\n').unwrap().1.to_string()
    };
    assert_eq!(without_first_line(&by_url), without_first_line(&by_file));
    let stderr = String::from_utf8(by_file.stderr).unwrap();
    assert!(stderr.contains("14 covered, 2 commented out"), "{stderr}");
    stack.stop().await;

    let out = dir.path().join("bad.toml");
    for (name, text) in [
        ("swagger.json", r#"{"swagger": "2.0", "paths": {}}"#),
        ("yaml.yaml", "openapi: 3.0.0\npaths: {}\n"),
        (
            "nogets.json",
            r#"{"openapi": "3.1.0", "paths": {"/a": {"post": {}}}}"#,
        ),
    ] {
        let bad = dir.path().join(name);
        std::fs::write(&bad, text).unwrap();
        let output = common::bin()
            .args(["scenario", "--from-openapi"])
            .arg(&bad)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(!Path::new(&out).exists(), "{name}: --out written");
    }
}
