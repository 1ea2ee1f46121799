//! `report` and `gate` end to end, through the real binary: pinned table and Markdown
//! output of a fixed run, a self-contained HTML page that parses, and the gate's verdicts
//! and exit codes on runs constructed from a real one.

use std::path::{Path, PathBuf};
use std::process::Output;

use hdrhistogram::Histogram;
use koprogo_perf::report::RunReport;
use koprogo_perf::report::run::Latency;

use crate::common;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

/// Runs the binary in the crate's root (fixture paths in the output stay relative),
/// without a step summary unless the test sets one.
fn run(args: &[&str]) -> Output {
    common::bin()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Compares with the committed insta snapshot `tests/fixtures/report/expected/NAME.snap`
/// (after an intended change, `INSTA_UPDATE=always cargo test --test it report` rewrites
/// it: review the diff).
fn snapshot(name: &str, actual: &str) {
    insta::with_settings!({
        snapshot_path => fixtures().join("expected"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, actual);
    });
}

#[test]
fn table_and_markdown_output_are_pinned() {
    let fixture_run = "tests/fixtures/report/run";
    let baseline = "tests/fixtures/report/baseline";
    for (name, args) in [
        ("run.table.txt", vec!["report", fixture_run]),
        (
            "run.md",
            vec!["report", fixture_run, "--format", "markdown"],
        ),
        (
            "run-vs-baseline.table.txt",
            vec!["report", fixture_run, "--baseline", baseline],
        ),
        (
            "run-vs-baseline.md",
            vec![
                "report",
                fixture_run,
                "--baseline",
                baseline,
                "--format",
                "markdown",
            ],
        ),
    ] {
        let out = run(&args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{args:?}: {stderr}");
        snapshot(name, &stdout);
    }
}

#[test]
fn markdown_has_marks_deltas_and_goes_to_the_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = common::bin()
        .args([
            "report",
            "tests/fixtures/report/run",
            "--baseline",
            "tests/fixtures/report/baseline",
            "--format",
            "markdown",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("| p99 | < 5ms | 22.08ms | ❌ FAIL |"),
        "{stdout}"
    );
    assert!(stdout.contains("✅ PASS"), "{stdout}");
    // Deltas, absolute and in percent, overall and per endpoint.
    assert!(
        stdout.contains("| p99 | 22.08ms | 21.07ms | +1.01ms (+4.8%) |"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("| GET /api/v1/buildings |") && l.contains("%)")),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(written, format!("earlier step\n{stdout}\n"));
}

#[test]
fn html_is_one_self_contained_page_with_charts() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    let out = run(&[
        "report",
        "tests/fixtures/report/run",
        "--baseline",
        "tests/fixtures/report/baseline",
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    let html = std::fs::read_to_string(&page).unwrap();
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let select = |css: &str| {
        let selector = scraper::Selector::parse(css).unwrap();
        doc.select(&selector).collect::<Vec<_>>()
    };

    // Nothing is fetched: no attribute points at the network, no external style or script.
    for element in select("*") {
        for (name, value) in element.value().attrs() {
            let value = value.trim_start().to_ascii_lowercase();
            if ["src", "href", "data", "action", "srcset", "poster"].contains(&name) {
                assert!(
                    !(value.starts_with("http:")
                        || value.starts_with("https:")
                        || value.starts_with("//")),
                    "<{} {name}=\"{value}\"> fetches from the network",
                    element.value().name()
                );
            }
        }
    }
    assert!(select("link").is_empty() && select("script[src]").is_empty());
    for style in select("style") {
        let css = style.text().collect::<String>().to_ascii_lowercase();
        assert!(!css.contains("@import") && !css.contains("url("), "{css}");
    }

    // The charts: spectrum, over time, CPU, memory, CO2; the flamegraph as a data URI.
    let charts = select("figure > svg");
    assert_eq!(charts.len(), 5, "charts drawn");
    for caption in [
        "Latency by percentile",
        "Throughput and p99 over time",
        "CPU over time",
        "Memory over time",
        "CO2 per request, by part",
    ] {
        assert!(
            charts.iter().any(|c| c.text().any(|t| t.trim() == caption)),
            "no chart `{caption}`"
        );
    }
    // The baseline is drawn: its legend entry is in the spectrum.
    assert!(charts[0].text().any(|t| t.contains("baseline")));
    let image = select("img.flamegraph");
    assert_eq!(image.len(), 1);
    assert!(
        image[0]
            .value()
            .attr("src")
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    for id in [
        "targets",
        "latency",
        "baseline",
        "endpoints",
        "phases",
        "statements",
        "resources",
        "carbon",
        "flamegraph",
    ] {
        assert_eq!(select(&format!("section#{id}")).len(), 1, "section {id}");
    }
    assert!(
        select("#endpoints td")
            .iter()
            .any(|td| td.text().collect::<String>() == "GET /api/v1/buildings/{building_id}")
    );

    // A run without a time series or flamegraph says so instead of drawing nothing.
    let out = run(&[
        "report",
        "tests/fixtures/report/baseline",
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("no time series in this run"));
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(!html.contains("<img"));
}

#[test]
fn json_is_the_run_or_the_comparison() {
    let out = run(&["report", "tests/fixtures/report/run", "--format", "json"]);
    assert!(out.status.success());
    let run_json: RunReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run_json.totals.requests, 22895);
    let out = run(&[
        "report",
        "tests/fixtures/report/run",
        "--format",
        "json",
        "--baseline",
        "tests/fixtures/report/baseline",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["totals"]["requests"], 22895);
    let p99 = v["comparison"]["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["metric"] == "p99")
        .unwrap();
    assert_eq!(p99["value"], 22079.0);
    assert_eq!(p99["baseline"], 21071.0);
}

#[test]
fn report_input_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("run.json");
    std::fs::write(&bad, "{\"schema_version\": 1, \"tool\": 3}").unwrap();
    for (args, needle) in [
        (
            vec!["report", "/nonexistent/run"],
            "RUN /nonexistent/run: no such file or directory",
        ),
        (
            vec!["report", bad.to_str().unwrap()],
            "is not a koprogo-perf run.json",
        ),
        (
            vec![
                "report",
                "tests/fixtures/report/run",
                "--baseline",
                "/nonexistent",
            ],
            "--baseline /nonexistent: no such file",
        ),
        (vec!["report", "--format", "pdf"], "invalid value 'pdf'"),
    ] {
        let out = run(&args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        if !needle.starts_with("invalid value") {
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        }
    }
}

/// Writes a run made from the fixture with every latency multiplied by `latency` and the
/// throughput by `throughput` (histograms rebuilt, so pooled percentiles follow).
fn constructed(dir: &Path, latency: f64, throughput: f64) -> PathBuf {
    let mut report = RunReport::read(&fixtures().join("baseline/run.json")).unwrap();
    let scale = |h: &Histogram<u64>| -> (Histogram<u64>, Latency) {
        let mut scaled = koprogo_perf::latency::new_histogram();
        for v in h.iter_recorded() {
            let value = ((v.value_iterated_to() as f64) * latency).round().max(1.0) as u64;
            scaled.record_n(value, v.count_at_value()).unwrap();
        }
        (scaled.clone(), Latency::of(&scaled))
    };
    let (histogram, latency_us) = scale(&report.histogram);
    report.histogram = histogram;
    report.totals.latency_us = latency_us;
    report.totals.rps *= throughput;
    for e in &mut report.endpoints {
        let (histogram, latency_us) = scale(&e.histogram);
        e.histogram = histogram;
        e.latency_us = latency_us;
        e.rps *= throughput;
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("run.json"),
        serde_json::to_string(&report).unwrap(),
    )
    .unwrap();
    dir.to_path_buf()
}

/// A directory of runs, one per (latency, throughput) factor pair.
fn run_set(root: &Path, name: &str, factors: &[(f64, f64)]) -> PathBuf {
    let dir = root.join(name);
    for (i, (l, t)) in factors.iter().enumerate() {
        constructed(&dir.join(format!("run-{}", i + 1)), *l, *t);
    }
    dir
}

fn gate(args: &[&str]) -> (i32, String, String) {
    let out = run(&[&["gate"], args].concat());
    let (stdout, stderr) = text(&out);
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn thresholds(dir: &Path, lines: &[&str]) -> String {
    let path = dir.join(format!("t{}.toml", lines.len()));
    let quoted: Vec<String> = lines.iter().map(|l| format!("{l:?}")).collect();
    std::fs::write(&path, format!("thresholds = [{}]\n", quoted.join(", "))).unwrap();
    path.to_str().unwrap().to_string()
}

const NOISE_A: [(f64, f64); 5] = [
    (1.00, 1.00),
    (1.03, 0.98),
    (0.97, 1.02),
    (1.02, 0.99),
    (0.99, 1.01),
];
const NOISE_B: [(f64, f64); 5] = [
    (1.02, 0.99),
    (0.98, 1.02),
    (1.04, 0.97),
    (1.01, 1.00),
    (0.99, 1.01),
];

#[test]
fn gate_passes_clear_and_noise_level_differences() {
    let tmp = tempfile::tempdir().unwrap();
    let base = run_set(tmp.path(), "base", &NOISE_A);
    let same = run_set(tmp.path(), "same", &NOISE_B);
    let t = thresholds(
        tmp.path(),
        &[
            "p99 < 60s",
            "error_rate < 1%",
            "p95 <= 50ms for GET /api/v1/buildings",
        ],
    );
    let junit = tmp.path().join("gate.xml");
    let (code, stdout, stderr) = gate(&[
        same.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--thresholds",
        &t,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Mann–Whitney U"), "{stdout}");
    // 3 thresholds, 6 regression checks and the error-rate check against the baseline.
    assert!(stdout.contains("gate: PASS — 10 checks passed"), "{stdout}");
    assert!(stdout.contains("not significant"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    // The whole report's counts, on its `<testsuites>` element.
    let head = xml.lines().find(|l| l.contains("<testsuites")).unwrap();
    assert!(
        head.contains("tests=\"10\"") && head.contains("failures=\"0\""),
        "{xml}"
    );
    well_formed(&xml);

    // A small but consistent change (2 %, every run) is under the minimum effect.
    let slightly = run_set(
        tmp.path(),
        "slightly",
        &NOISE_A.map(|(l, t)| (l * 1.02 + 0.05, t)),
    );
    let (code, stdout, _) = gate(&[
        slightly.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--metrics",
        "p50,p99",
        "--min-effect",
        "10",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("consistent but under the 10.0% minimum effect"),
        "{stdout}"
    );
}

#[test]
fn gate_fails_a_clear_regression_and_says_by_how_much() {
    let tmp = tempfile::tempdir().unwrap();
    let base = run_set(tmp.path(), "base", &NOISE_A);
    let slow = run_set(
        tmp.path(),
        "slow",
        &NOISE_B.map(|(l, t)| (l * 1.5, t / 1.5)),
    );
    let junit = tmp.path().join("gate.xml");
    let markdown = tmp.path().join("gate.md");
    let (code, stdout, stderr) = gate(&[
        slow.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--format",
        "markdown",
        "--out",
        markdown.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("gate: FAIL — 6 of 7 checks failed"),
        "{stderr}"
    );
    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(md.starts_with("## ❌ koprogo-perf gate: FAIL"), "{md}");
    assert!(md.contains("### Failed checks"), "{md}");
    let p99 = md
        .lines()
        .find(|l| l.starts_with("| p99 vs baseline |"))
        .expect("a p99 row");
    assert!(p99.contains("❌ FAIL") && p99.contains("(1.5"), "{p99}");
    assert!(p99.contains("× slower), p = 0.004"), "{p99}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"6\""), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
    well_formed(&xml);
}

#[test]
fn single_runs_fall_back_to_a_tolerance_and_say_it_is_weaker() {
    let tmp = tempfile::tempdir().unwrap();
    let base = constructed(&tmp.path().join("base"), 1.0, 1.0);
    let near = constructed(&tmp.path().join("near"), 1.04, 0.97);
    let far = constructed(&tmp.path().join("far"), 1.3, 0.8);
    let (code, stdout, _) = gate(&[near.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("WEAKER VERDICT"), "{stdout}");
    assert!(stdout.contains("within the 10.0% tolerance"), "{stdout}");
    let (code, stdout, _) = gate(&[far.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("past the 10.0% tolerance"), "{stdout}");
    let (code, stdout, _) = gate(&[
        far.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--tolerance",
        "300",
    ]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn gate_fails_a_missed_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let t = thresholds(tmp.path(), &["p99 < 1ms", "rps > 10"]);
    let (code, stdout, _) = gate(&["tests/fixtures/report/run", "--thresholds", &t]);
    assert_eq!(code, 1, "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.contains("p99 < 1ms") && l.contains("FAIL"))
        .expect("the failed check");
    assert!(row.contains("21.08ms over (+2107.9%)"), "{row}");
    assert!(
        stdout.contains("gate: FAIL — 1 of 2 checks failed"),
        "{stdout}"
    );
}

#[test]
fn gate_input_errors_exit_2_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "thresholds = [\"p99 < 5ms\", \"p99 <<< fast\"]\n").unwrap();
    let not_toml = tmp.path().join("nottoml.toml");
    std::fs::write(&not_toml, "thresholds = [\n").unwrap();
    let typo = thresholds(tmp.path(), &["p95 < 50ms for GET /api/v1/buildngs"]);
    let fixture_run = "tests/fixtures/report/run";
    for (args, needle) in [
        (
            vec![fixture_run, "--thresholds", bad.to_str().unwrap()],
            format!(
                "error: --thresholds {}: threshold `p99 <<< fast` at character 6: expected a number",
                bad.display()
            ),
        ),
        (
            vec![fixture_run, "--thresholds", not_toml.to_str().unwrap()],
            format!(
                "error: --thresholds {0}: {0}: TOML parse error",
                not_toml.display()
            ),
        ),
        (
            vec![fixture_run, "--thresholds", "/nonexistent.toml"],
            "error: --thresholds /nonexistent.toml: /nonexistent.toml: No such file".into(),
        ),
        (
            vec![fixture_run, "--thresholds", &typo],
            "the run has no endpoint `GET /api/v1/buildngs`; its endpoints: GET /api/v1/buildings,"
                .into(),
        ),
        (vec![fixture_run], "error: nothing to check".into()),
        (
            vec!["/nonexistent/run", "--baseline", fixture_run],
            "error: RUN /nonexistent/run: no such file or directory".into(),
        ),
        (
            vec![fixture_run, "--runs", "2", "--baseline", fixture_run],
            "error: give RUN or --runs N, not both".into(),
        ),
        (
            vec!["--runs", "1", "--baseline", fixture_run, "--", "serve"],
            "must be `demo …` or `load …`".into(),
        ),
        (
            vec![
                "--runs",
                "1",
                "--baseline",
                fixture_run,
                "--",
                "demo",
                "--vus",
                "0",
            ],
            "the load command after `--` (demo --vus 0): invalid value '0' for '--vus".into(),
        ),
        (
            vec![
                fixture_run,
                "--baseline",
                fixture_run,
                "--min-effect",
                "lots",
            ],
            "invalid value 'lots' for '--min-effect <PCT>'".into(),
        ),
        (
            vec![fixture_run, "--baseline", fixture_run, "--metrics", "p42"],
            "invalid value 'p42' for '--metrics <LIST>'".into(),
        ),
    ] {
        let (code, stdout, stderr) = gate(&args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(&needle), "{args:?}: {stderr}");
        if stderr.starts_with("error: ") && !stderr.contains("invalid value") {
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        }
    }
}

#[test]
fn gate_refuses_to_compare_different_scenarios() {
    let tmp = tempfile::tempdir().unwrap();
    let other = constructed(&tmp.path().join("other"), 1.0, 1.0);
    let path = other.join("run.json");
    let mut report = RunReport::read(&path).unwrap();
    report.scenario.name = "health".into();
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    let (code, _, stderr) = gate(&[
        "tests/fixtures/report/run",
        "--baseline",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ran scenario health"), "{stderr}");
}

/// Reads the XML through quick-xml to its end: errors on anything malformed.
fn well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut depth = 0i32;
    loop {
        match reader.read_event().expect("well-formed JUnit XML") {
            quick_xml::events::Event::Start(_) => depth += 1,
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
}

#[test]
fn gate_runs_the_load_itself_and_pools_the_runs() {
    let tmp = common::private_tmp();
    let runs = tempfile::tempdir().unwrap();
    let out_dir = runs.path().join("gate");
    let t = thresholds(runs.path(), &["error_rate < 1%", "p99 < 60s"]);
    let out = common::bin()
        .args(["gate", "--runs", "2", "--thresholds", &t, "--", "demo"])
        .args([
            "--duration",
            "1s",
            "--vus",
            "2",
            "--ramp-up",
            "1s",
            "--scenario",
            "health",
        ])
        .args(["--out", out_dir.to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("gate: run 2 of 2 into"), "{stderr}");
    assert!(stdout.contains("(2 runs pooled)"), "{stdout}");
    assert!(stdout.contains("gate: PASS — 2 checks passed"), "{stdout}");
    for k in [1, 2] {
        assert!(out_dir.join(format!("run-{k}/run.json")).is_file());
    }
    assert!(
        common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        common::leftovers(tmp.path())
    );
}

/// The two committed fixture runs, made to look like two machines loading one shared
/// server at the same time (the second began 2.5 s after the first), merged in memory:
/// the merged run.json is pinned, so that a change in how runs are summed shows here.
#[test]
fn merging_the_fixture_runs_is_pinned() {
    use koprogo_perf::report::merge::{Input, merge};
    let read = |name: &str| RunReport::read(&fixtures().join(name).join("run.json")).unwrap();
    let mut first = read("run");
    let mut second = read("baseline");
    for (r, host) in [(&mut first, "10.0.0.1"), (&mut second, "10.0.0.2")] {
        r.target.host = "http://127.0.0.1:8080".into();
        r.target.embedded = false;
        r.tool = format!("koprogo-perf fixture from {host}");
    }
    second.started_at = "2026-11-27T09:37:35.943Z".into();
    let inputs = [
        Input {
            dir: "machine-a".into(),
            report: first,
            hlog: None,
        },
        Input {
            dir: "machine-b".into(),
            report: second,
            hlog: None,
        },
    ];
    let merged = merge(&inputs).expect("the fixture runs merge");
    let mut text = serde_json::to_string_pretty(&merged.report).unwrap();
    text.push_str("\n\nnotes:\n");
    for note in &merged.notes {
        text.push_str(note);
        text.push('\n');
    }
    snapshot("merged-fixtures.json.txt", &text);
}
