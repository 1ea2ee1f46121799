//! `--heap-profile` and `--server-cmd` on real parts: heaptrack preloaded into the
//! reference server's process (a `serve --child`, or a `serve` that `--server-cmd`
//! starts), a real load, the profile read back from run.json and the HTML report; and
//! the one-line refusals when the command or heaptrack is missing.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common;

/// run.json of `dir`, checked against the schema.
fn valid_run(dir: &Path) -> Value {
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("../../src/report/run.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&run)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    run
}

fn ok(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// The heap part of a run.json that must hold a real profile.
fn assert_profiled(run: &Value) {
    let heap = &run["heap"];
    assert!(heap["profiler"].as_str().unwrap().starts_with("heaptrack"));
    let peak = heap["peak_bytes"].as_u64().unwrap();
    assert!(peak > 0, "{heap}");
    assert!(heap["process_peak_bytes"].as_u64().unwrap() >= peak);
    assert!(heap["steady_allocations"].as_u64().unwrap() > 0);
    // The series covers the run, and its highest second is at least the steady peak's
    // level somewhere.
    let series = heap["series"].as_array().unwrap();
    assert!(series.len() >= 2, "{series:?}");
    assert!(
        series
            .iter()
            .any(|p| p["heap_bytes"].as_u64().unwrap() >= peak)
    );
    let sites = heap["sites"].as_array().unwrap();
    assert!(!sites.is_empty());
    let site_bytes: u64 = sites.iter().map(|s| s["bytes"].as_u64().unwrap()).sum();
    assert!(site_bytes > 0 && site_bytes <= peak, "{sites:#?}");
    // A site is past the allocator's plumbing.
    assert!(
        sites
            .iter()
            .all(|s| !s["function"].as_str().unwrap().starts_with("alloc::")),
        "{sites:#?}"
    );
    // The guide's memory target, checked on the heap.
    let target = run["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "server_heap")
        .expect("a server_heap target");
    assert_eq!(target["value"].as_f64().unwrap(), peak as f64, "{target}");
}

#[test]
fn a_profiled_load_records_the_reference_servers_heap_and_the_report_shows_it() {
    let tmp = common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let output = common::bin()
        .args(["load", "--heap-profile", "--vus", "4", "--duration", "3s"])
        .args(["--ramp-up", "0s", "--quiet", "--out"])
        .arg(&run_dir)
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    ok(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Memory: RSS and heap") && stdout.contains("server peak heap"),
        "{stdout}"
    );
    let run = valid_run(&run_dir);
    assert_profiled(&run);
    let svg = std::fs::read_to_string(run_dir.join("heap-flamegraph.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("bytes"),
        "{}",
        &svg[..200]
    );
    // The cluster, heaptrack's FIFO and its data are gone with the run.
    assert!(
        common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        common::leftovers(tmp.path())
    );

    let report = common::bin()
        .args(["report", "--format", "html"])
        .arg(&run_dir)
        .output()
        .unwrap();
    ok(&report);
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    let page = scraper::Html::parse_document(&html);
    let heap = scraper::Selector::parse("#heap").unwrap();
    let heap = page.select(&heap).next().expect("a heap section");
    let text: String = heap.text().collect();
    assert!(text.contains("server peak heap, steady state"), "{text}");
    assert!(text.contains("Heap over time"), "{text}");
    assert!(heap.inner_html().contains("<svg"), "no chart");
    let sites = scraper::Selector::parse("#heap_sites").unwrap();
    let sites = page.select(&sites).next().expect("a sites section");
    let first = run["heap"]["sites"][0]["function"].as_str().unwrap();
    let shown: String = sites.text().collect();
    // The page escapes and the browser unescapes: compare as text.
    assert!(shown.contains(first), "{first} not in {shown}");
    assert!(
        sites.inner_html().contains("data:image/svg+xml;base64,"),
        "no allocation flamegraph"
    );
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn server_cmd_starts_profiles_and_stops_the_server_leaving_nothing() {
    let tmp = common::private_tmp();
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let port = free_port();
    let host = format!("http://127.0.0.1:{port}");
    let command = format!(
        "{} serve --bind 127.0.0.1:{port}",
        env!("CARGO_BIN_EXE_koprogo-perf")
    );
    let output = common::bin()
        .args(["load", "--host", &host, "--server-cmd", &command])
        .args([
            "--login",
            "syndic@grandplace.be:syndic123",
            "--heap-profile",
        ])
        .args([
            "--vus",
            "4",
            "--duration",
            "3s",
            "--ramp-up",
            "0s",
            "--quiet",
        ])
        .arg("--out")
        .arg(&run_dir)
        .env("TMPDIR", tmp.path())
        // The command runs in this environment: its own cluster, a raised login limiter.
        .env("LOGIN_RATE_LIMIT_MAX", "1000000")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = ok(&output);
    assert!(
        stderr.contains("the server under test is stopped"),
        "{stderr}"
    );
    let run = valid_run(&run_dir);
    assert!(
        run["target"]["command"]
            .as_str()
            .unwrap()
            .ends_with(&format!("serve --bind 127.0.0.1:{port}")),
        "{}",
        run["target"]
    );
    // The tool knew the server's process: its own CPU and memory.
    assert_eq!(run["resources"]["server"]["measured"], true);
    assert!(run["resources"]["server"]["cpu_s"].as_f64().unwrap() > 0.0);
    assert_profiled(&run);

    // Nothing is left: no process, nothing listening, the command's cluster removed.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let marker = format!("127.0.0.1:{port}");
    assert!(
        common::processes_mentioning(&marker).is_empty(),
        "still running: {:?}",
        common::processes_mentioning(&marker)
    );
    assert!(
        common::leftovers(tmp.path()).is_empty(),
        "{:?}",
        common::leftovers(tmp.path())
    );
}

/// One line on stderr, exit code `code`, and no run directory.
fn refused(output: &Output, code: i32, out: &Path) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(!out.exists(), "{} was created", out.display());
    stderr
}

#[test]
fn a_missing_server_command_or_heaptrack_is_one_clear_line() {
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let port = free_port();
    let host = format!("http://127.0.0.1:{port}");
    let load = |cmd: &str| {
        let mut c = common::bin();
        c.args(["load", "--host", &host, "--server-cmd", cmd])
            .args(["--login", "syndic@grandplace.be:syndic123", "--out"])
            .arg(&run_dir);
        c
    };
    let stderr = refused(
        &load("no-such-koprogo-api --port 1").output().unwrap(),
        2,
        &run_dir,
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--server-cmd: `no-such-koprogo-api` is not a program on the PATH"),
        "{stderr}"
    );
    let stderr = refused(
        &load("./no/such/koprogo-api").output().unwrap(),
        2,
        &run_dir,
    );
    assert!(
        stderr.contains("./no/such/koprogo-api does not exist"),
        "{stderr}"
    );

    // Something already answers on --host: the command is not started.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let stderr = refused(&load("/bin/true").output().unwrap(), 2, &run_dir);
    assert!(stderr.contains("something already listens on"), "{stderr}");
    drop(listener);

    // No heaptrack on the PATH: what to install, before anything starts.
    let empty = tempfile::tempdir().unwrap();
    let output = common::bin()
        .args(["load", "--heap-profile", "--out"])
        .arg(&run_dir)
        .env("PATH", empty.path())
        .env_remove("HEAPTRACK")
        .output()
        .unwrap();
    let stderr = refused(&output, 2, &run_dir);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--heap-profile needs heaptrack")
            && stderr.contains("apt-get install heaptrack"),
        "{stderr}"
    );
    // Nor through --host without a command the tool starts.
    let output = common::bin()
        .args(["load", "--host", &host, "--heap-profile"])
        .args(["--login", "syndic@grandplace.be:syndic123", "--out"])
        .arg(&run_dir)
        .output()
        .unwrap();
    let stderr = refused(&output, 2, &run_dir);
    assert!(
        stderr.contains("--heap-profile with --host needs --server-cmd"),
        "{stderr}"
    );

    // A command that exits before answering: exit 1 with its last lines, passwords
    // hidden.
    let output = load("sh -c 'echo booting; echo postgres://app:hunter2@db/x >&2; exit 3'")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("exited (exit status: 3) before") && stderr.contains("booting"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
