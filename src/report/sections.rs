//! What a report says, independent of how it is shown: titled sections, each a grid of
//! cells or a note saying why there is nothing ("not measured: …"). The terminal tables,
//! the Markdown and the HTML page all render these same sections, so they never
//! disagree.

use serde::Serialize;

use crate::report::compare::Comparison;
use crate::report::run::{Latency, RunReport, describe_kinds};
use crate::report::targets::TargetResult;
use crate::units::format_us;

/// Rows of text cells under a header.
#[derive(Debug, Clone, Serialize)]
pub struct Grid {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Per column: true when its cells are numbers (right-aligned).
    pub numeric: Vec<bool>,
}

impl Grid {
    pub(crate) fn new(header: &[&str], numeric: &[usize]) -> Grid {
        Grid {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            numeric: (0..header.len()).map(|i| numeric.contains(&i)).collect(),
        }
    }
}

/// One part of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// A stable identifier (`targets`, `endpoints`, …), used as the HTML anchor.
    pub id: &'static str,
    pub title: String,
    /// The numbers, when there are any.
    pub grid: Option<Grid>,
    /// A sentence under the title (why there are no numbers, or how to read them).
    pub note: Option<String>,
}

pub(crate) fn section(
    id: &'static str,
    title: &str,
    grid: Option<Grid>,
    note: Option<String>,
) -> Section {
    Section {
        id,
        title: title.to_string(),
        grid,
        note,
    }
}

/// The sections of a run's report, with baseline deltas when `comparison` is given.
pub fn sections(run: &RunReport, comparison: Option<&Comparison>) -> Vec<Section> {
    let mut out = Vec::new();
    let verdict = run.effective_verdict();
    if verdict.failed {
        out.push(section(
            "verdict",
            "RUN FAILED",
            None,
            Some(verdict.reasons.join("; ")),
        ));
    }
    for w in &verdict.warnings {
        out.push(section("warning", "Warning", None, Some(w.clone())));
    }
    out.push(section(
        "targets",
        "Targets",
        (!run.targets.is_empty()).then(|| targets_grid(&run.targets)),
        run.targets
            .is_empty()
            .then(|| "no target was checked in this run".to_string()),
    ));
    if let Some(c) = comparison {
        let mut note = format!("baseline: {}", c.baseline);
        for n in &c.notes {
            note.push_str("; ");
            note.push_str(n);
        }
        out.push(section(
            "baseline",
            "Against the baseline",
            Some(comparison_grid(c)),
            Some(note),
        ));
    }
    out.push(section(
        "endpoints",
        "Endpoints",
        Some(endpoints_grid(run, comparison)),
        Some(steady_note(run)),
    ));
    if let Some(g) = failures_grid(run) {
        out.push(section(
            "failures",
            "Failures",
            Some(g),
            Some(
                "failed requests are not in the latency and req/s figures: here are their \
                 kinds and their own latency; requests not sent are counted apart"
                    .into(),
            ),
        ));
    }
    if let Some(g) = logins_grid(run) {
        out.push(section(
            "logins",
            "Logins and discovery",
            Some(g),
            Some("over the whole run, ramp-up included; not in the endpoint figures".into()),
        ));
    }
    if let Some(g) = rate_grid(run) {
        out.push(section(
            "rate",
            "Constant arrival rate",
            Some(g),
            Some("latencies count from each request's intended send time".into()),
        ));
    }
    if let Some(g) = phases_grid(run) {
        out.push(section(
            "phases",
            "Phases",
            Some(g),
            Some("only the steady phases are in the totals".into()),
        ));
    }
    out.extend(measurements(run));
    out
}

/// The sections of what was measured around the load: statements, resources, CO2 and
/// its inputs, the flamegraph.
fn measurements(run: &RunReport) -> Vec<Section> {
    let mut out = Vec::new();
    out.push(section(
        "statements",
        "PostgreSQL statements (pg_stat_statements)",
        statements_grid(run),
        match (&run.postgres.note, run.postgres.statements.is_empty()) {
            (Some(note), _) => Some(note.clone()),
            (None, true) => Some("no statement ran during the run".into()),
            (None, false) => Some("top statements by total time during the run".into()),
        },
    ));
    out.push(section(
        "resources",
        "CPU and memory",
        resources_grid(run),
        match &run.resources {
            None => Some("not measured: process resources were not sampled".into()),
            Some(r) => Some(format!(
                "on a machine with {} CPUs and {:.1} GB of memory; CPU % 100 = one core",
                r.machine.cpus,
                r.machine.memory_bytes as f64 / 1e9
            )),
        },
    ));
    out.extend(crate::report::memory::sections(run));
    out.push(section(
        "carbon",
        "CO2 per request",
        carbon_grid(run),
        match &run.carbon {
            None => Some("not measured: carbon per request was not computed".into()),
            Some(c) => Some(format!(
                "Green Software Foundation SCI with Cloud Carbon Footprint coefficients ({})",
                c.inputs.model_source
            )),
        },
    ));
    if let Some(g) = carbon_inputs_grid(run) {
        out.push(section(
            "carbon_inputs",
            "CO2 inputs",
            Some(g),
            Some("every number the CO2 figure is computed from; sources in the model file".into()),
        ));
    }
    out.push(section(
        "flamegraph",
        "Flamegraph",
        None,
        Some(match (&run.flamegraph, &run.flamegraph_skipped_reason) {
            (Some(file), _) => {
                format!("{file} in the run directory (the server's CPU during the steady state)")
            }
            (None, Some(reason)) => format!("none: {reason}"),
            (None, None) => "none".to_string(),
        }),
    ));
    out
}

/// A constant-rate run: the rate asked for and achieved, and both latencies.
fn rate_grid(run: &RunReport) -> Option<Grid> {
    let rate = run.rate.as_ref()?;
    let mut g = Grid::new(
        &[
            "requested req/s",
            "achieved req/s",
            "late sends",
            "missed sends",
            "p50 / p99 from intended send",
            "p50 / p99 from actual send",
        ],
        &[0, 1, 2, 3],
    );
    let pair = |l: &Latency| format!("{} / {}", format_us(l.p50 as f64), format_us(l.p99 as f64));
    g.rows.push(vec![
        format!("{:.1}", rate.requested),
        format!("{:.1}", rate.achieved),
        rate.late.to_string(),
        rate.missed.to_string(),
        pair(&run.totals.latency_us),
        run.totals
            .latency_uncorrected_us
            .as_ref()
            .map_or("–".into(), pair),
    ]);
    Some(g)
}

fn steady_note(run: &RunReport) -> String {
    let mut note = format!(
        "{} users, {:.1} s of steady state after {:.0} s of ramp-up, scenario {}",
        run.vus, run.duration_s, run.ramp_up_s, run.scenario.name
    );
    if run.merged_from.len() > 1 {
        note.push_str(&format!("; {} runs pooled", run.merged_from.len()));
    }
    if run.interrupted {
        note.push_str("; INTERRUPTED (Ctrl-C): the numbers cover what was measured");
    }
    if run.host_down {
        note.push_str("; the host STOPPED ANSWERING during the run");
    }
    note
}

/// `PASS`, `FAIL`, or why it was not measured.
pub fn verdict(r: &TargetResult) -> String {
    match r.pass {
        Some(true) => "PASS".to_string(),
        Some(false) => "FAIL".to_string(),
        None => r.note.clone().unwrap_or_else(|| "not measured".into()),
    }
}

/// The targets with their measured values and PASS / FAIL / not measured.
pub fn targets_grid(results: &[TargetResult]) -> Grid {
    let mut g = Grid::new(&["target", "goal", "actual", "result"], &[]);
    for r in results {
        g.rows.push(vec![
            r.name.clone(),
            r.target.clone(),
            r.actual.clone().unwrap_or_else(|| "not measured".into()),
            verdict(r),
        ]);
    }
    g
}

/// The latency spectrum of the successful responses; "–" when there were none (a 0 µs
/// would read as a fast endpoint).
fn latency_cells(l: &Latency, successes: u64) -> Vec<String> {
    [l.p50, l.p90, l.p95, l.p99, l.p999, l.max]
        .iter()
        .map(|v| match successes {
            0 => "–".to_string(),
            _ => format_us(*v as f64),
        })
        .collect()
}

/// Requests, req/s, errors and the latency spectrum per endpoint, then all together;
/// with a baseline, the change of req/s, p50 and p99.
pub fn endpoints_grid(run: &RunReport, comparison: Option<&Comparison>) -> Grid {
    let mut header = vec![
        "endpoint",
        "requests",
        "req/s",
        "errors",
        "failed by kind",
        "p50",
        "p90",
        "p95",
        "p99",
        "p99.9",
        "max",
    ];
    if comparison.is_some() {
        header.extend(["req/s vs baseline", "p50 vs baseline", "p99 vs baseline"]);
    }
    let numeric: Vec<usize> = (1..header.len()).filter(|i| *i != 4).collect();
    let mut g = Grid::new(&header, &numeric);
    let rows = run
        .endpoints
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.requests,
                e.rps,
                e.errors,
                e.failure_kinds(),
                &e.latency_us,
            )
        })
        .chain(std::iter::once((
            "all",
            run.totals.requests,
            run.totals.rps,
            run.totals.errors,
            run.failure_kinds(),
            &run.totals.latency_us,
        )));
    for (name, requests, rps, errors, kinds, latency) in rows {
        let mut row = vec![
            name.to_string(),
            requests.to_string(),
            format!("{rps:.1}"),
            errors.to_string(),
            if kinds.is_empty() {
                "–".into()
            } else {
                describe_kinds(&kinds)
            },
        ];
        row.extend(latency_cells(latency, requests.saturating_sub(errors)));
        if let Some(c) = comparison {
            for metric in ["req/s", "p50", "p99"] {
                let delta = if name == "all" {
                    c.totals.iter().find(|d| d.metric == metric)
                } else {
                    c.endpoint(name, metric)
                };
                row.push(delta.map_or("–".into(), |d| d.describe()));
            }
        }
        g.rows.push(row);
    }
    g
}

/// The endpoints that failed or did not send requests: failures by kind, their own
/// latency, and the requests not sent with their reasons. `None` when nothing failed.
pub fn failures_grid(run: &RunReport) -> Option<Grid> {
    let failing: Vec<_> = run
        .endpoints
        .iter()
        .filter(|e| e.errors > 0 || e.unsent_total() > 0)
        .collect();
    if failing.is_empty() {
        return None;
    }
    let mut g = Grid::new(
        &[
            "endpoint",
            "failed",
            "by kind",
            "failed p50",
            "failed p99",
            "not sent",
        ],
        &[1, 3, 4],
    );
    let unsent = |m: &std::collections::BTreeMap<String, u64>| {
        if m.is_empty() {
            "–".to_string()
        } else {
            m.iter()
                .map(|(reason, n)| format!("{n} ({reason})"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let kinds = |k: Vec<(String, u64)>| -> String {
        let k: Vec<_> = k.into_iter().filter(|(name, _)| name != "unsent").collect();
        if k.is_empty() {
            "–".into()
        } else {
            describe_kinds(&k)
        }
    };
    let pct = |l: Option<&Latency>, f: fn(&Latency) -> u64| {
        l.map_or("–".to_string(), |l| format_us(f(l) as f64))
    };
    for e in failing {
        g.rows.push(vec![
            e.name.clone(),
            e.errors.to_string(),
            kinds(e.failure_kinds()),
            pct(e.failed_latency_us.as_ref(), |l| l.p50),
            pct(e.failed_latency_us.as_ref(), |l| l.p99),
            unsent(&e.unsent),
        ]);
    }
    g.rows.push(vec![
        "all".into(),
        run.totals.errors.to_string(),
        kinds(run.failure_kinds()),
        pct(run.totals.failed_latency_us.as_ref(), |l| l.p50),
        pct(run.totals.failed_latency_us.as_ref(), |l| l.p99),
        unsent(&run.unsent),
    ]);
    Some(g)
}

/// The users' logins, token refreshes and discovery requests. `None` when the run
/// has no record of them.
pub fn logins_grid(run: &RunReport) -> Option<Grid> {
    if run.logins.is_none() && run.discovery.as_ref().is_none_or(|d| d.requests == 0) {
        return None;
    }
    let mut g = Grid::new(
        &[
            "",
            "sent",
            "succeeded",
            "failed by kind",
            "p50",
            "p99",
            "note",
        ],
        &[1, 2, 4, 5],
    );
    if let Some(l) = &run.logins {
        let failures: Vec<(String, u64)> =
            l.failures.iter().map(|(k, n)| (k.clone(), *n)).collect();
        g.rows.push(vec![
            "login".into(),
            l.attempts.to_string(),
            l.successes.to_string(),
            describe_kinds(&failures),
            format_us(l.latency_us.p50 as f64),
            format_us(l.latency_us.p99 as f64),
            format!("{} of {} users logged in", l.users_logged_in, run.vus),
        ]);
        if l.refreshes + l.refresh_failures > 0 {
            g.rows.push(vec![
                "token refresh".into(),
                (l.refreshes + l.refresh_failures).to_string(),
                l.refreshes.to_string(),
                l.refresh_failures.to_string(),
                "–".into(),
                "–".into(),
                "a refused refresh is followed by a login".into(),
            ]);
        }
    }
    if let Some(d) = run.discovery.as_ref().filter(|d| d.requests > 0) {
        g.rows.push(vec![
            "discovery".into(),
            d.requests.to_string(),
            (d.requests - d.failures.min(d.requests)).to_string(),
            d.failures.to_string(),
            "–".into(),
            "–".into(),
            format!("{} retries (at most 2 per user)", d.retries),
        ]);
    }
    Some(g)
}

/// Every compared metric: this run, the baseline, the change.
pub fn comparison_grid(c: &Comparison) -> Grid {
    let mut g = Grid::new(&["metric", "this run", "baseline", "change"], &[1, 2, 3]);
    for d in &c.totals {
        g.rows.push(vec![
            d.metric.clone(),
            d.value.map_or("not measured".into(), |v| d.kind.format(v)),
            d.baseline
                .map_or("not measured".into(), |v| d.kind.format(v)),
            d.describe(),
        ]);
    }
    g
}

/// The top statements of pg_stat_statements over the run.
pub fn statements_grid(run: &RunReport) -> Option<Grid> {
    if run.postgres.statements.is_empty() {
        return None;
    }
    let mut g = Grid::new(
        &[
            "statement",
            "endpoints",
            "calls",
            "total",
            "mean",
            "rows",
            "hit %",
        ],
        &[],
    );
    for s in &run.postgres.statements {
        let query: String = s.query.split_whitespace().collect::<Vec<_>>().join(" ");
        let query = match query.char_indices().nth(90) {
            Some((i, _)) => format!("{}…", &query[..i]),
            None => query,
        };
        g.rows.push(vec![
            query,
            s.endpoints.join(", "),
            s.calls.to_string(),
            format!("{:.1} ms", s.total_ms),
            format!("{:.3} ms", s.mean_ms),
            s.rows.to_string(),
            s.hit_ratio
                .map_or("-".into(), |h| format!("{:.1}", h * 100.0)),
        ]);
    }
    Some(g)
}

/// CPU and memory of the server, Postgres and the generator.
pub fn resources_grid(run: &RunReport) -> Option<Grid> {
    let r = run.resources.as_ref()?;
    let mut g = Grid::new(
        &[
            "process",
            "CPU s",
            "CPU % (100 = 1 core)",
            "peak RSS",
            "mean RSS",
        ],
        &[],
    );
    for (name, p) in [
        ("server", &r.server),
        ("postgres", &r.postgres),
        ("generator", &r.generator),
    ] {
        if p.measured {
            g.rows.push(vec![
                name.to_string(),
                format!("{:.1}", p.cpu_s),
                format!("{:.0}", p.cpu_pct_mean),
                format!("{:.1} MB", p.peak_rss_bytes as f64 / 1e6),
                format!("{:.1} MB", p.mean_rss_bytes as f64 / 1e6),
            ]);
        } else {
            let note = p.note.clone().unwrap_or_else(|| "not measured".into());
            g.rows.push(vec![
                name.to_string(),
                note,
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    Some(g)
}

/// The run's phases with their own statistics.
pub fn phases_grid(run: &RunReport) -> Option<Grid> {
    if run.phases.is_empty() {
        return None;
    }
    let mut g = Grid::new(
        &[
            "phase", "start", "length", "users", "requests", "errors", "req/s", "p50", "p99",
        ],
        &[1, 2, 3, 4, 5, 6, 7, 8],
    );
    for p in &run.phases {
        g.rows.push(vec![
            if p.steady && p.name != "steady" {
                format!("{} (steady)", p.name)
            } else {
                p.name.clone()
            },
            format!("{:.0} s", p.start_s),
            format!("{:.0} s", p.duration_s),
            match (p.users, p.rate) {
                (Some(u), _) => u.to_string(),
                (None, Some(r)) => format!("{r}/s"),
                (None, None) => "–".into(),
            },
            p.requests.to_string(),
            p.errors.to_string(),
            format!("{:.1}", p.rps),
            format_us(p.latency_us.p50 as f64),
            format_us(p.latency_us.p99 as f64),
        ]);
    }
    Some(g)
}

/// CO2 per request with its breakdown, and KoproGo's published method on the same run.
pub fn carbon_grid(run: &RunReport) -> Option<Grid> {
    let c = run.carbon.as_ref()?;
    let mg = |g: f64| format!("{:.6} mg", g * 1000.0);
    let mut g = Grid::new(&["CO2 per request", "value"], &[]);
    g.rows.push(vec![
        format!("total ({}, {} g/kWh)", c.region, c.grid_g_per_kwh),
        mg(c.g_per_request),
    ]);
    let b = &c.breakdown_g_per_request;
    for (name, v) in [
        ("cpu", b.cpu),
        ("memory", b.memory),
        ("network", b.network),
        ("embodied", b.embodied),
    ] {
        g.rows.push(vec![format!("  {name}"), mg(v)]);
    }
    g.rows.push(vec![
        "KoproGo's method (network bytes × 0.006 g/KB)".to_string(),
        mg(c.koprogo_method_g_per_request),
    ]);
    if let Some(note) = &c.note {
        g.rows.push(vec!["note".to_string(), note.clone()]);
    }
    Some(g)
}

/// The inputs of the CO2 figure, so that a reader can recompute it (the sources of
/// the constants are in the model file named on the first row).
pub fn carbon_inputs_grid(run: &RunReport) -> Option<Grid> {
    let c = run.carbon.as_ref()?;
    let i = &c.inputs;
    let cpu_s = |v: Option<f64>| v.map_or("not measured (0)".to_string(), |s| format!("{s:.2} s"));
    let mb = |v: Option<u64>| {
        v.map_or("not measured (0)".to_string(), |b| {
            format!("{:.1} MB", b as f64 / 1e6)
        })
    };
    let mut g = Grid::new(&["CO2 input", "value"], &[]);
    let rows = [
        ("model", i.model_source.clone()),
        (
            "requests / wall time",
            format!("{} in {:.1} s", i.requests, i.wall_s),
        ),
        ("server CPU", cpu_s(i.server_cpu_s)),
        ("Postgres CPU", cpu_s(i.postgres_cpu_s)),
        (
            "utilisation",
            format!(
                "{:.3} of {} vCPUs (generator not charged)",
                i.utilisation, i.cpus
            ),
        ),
        (
            "W per vCPU",
            format!(
                "{:.2} ({} min {} / max {})",
                i.cpu_watts_per_vcpu, i.provider, i.cpu_min_watts, i.cpu_max_watts
            ),
        ),
        (
            "memory (server + Postgres mean RSS)",
            format!(
                "{:.3} GB × {} W/GB (server {}, Postgres {})",
                i.memory_gb,
                i.memory_watts_per_gb,
                mb(i.server_mean_rss_bytes),
                mb(i.postgres_mean_rss_bytes)
            ),
        ),
        (
            "network",
            format!(
                "{} bytes × {} kWh/GB",
                i.network_bytes, i.network_kwh_per_gb
            ),
        ),
        (
            "PUE",
            format!(
                "{}{}",
                i.pue,
                if i.pue_applies_to_network {
                    " (network too)"
                } else {
                    " (CPU and memory)"
                }
            ),
        ),
        (
            "grid",
            format!("{} g CO2e/kWh ({})", c.grid_g_per_kwh, c.region),
        ),
        (
            "embodied",
            format!(
                "{:.4} g per vCPU-hour ({} kg / {} h / {} vCPUs)",
                i.embodied_g_per_cpu_hour,
                i.embodied_server_kg_co2e,
                i.embodied_lifespan_hours,
                i.embodied_host_vcpus
            ),
        ),
    ];
    for (name, value) in rows {
        g.rows.push(vec![name.to_string(), value]);
    }
    Some(g)
}
