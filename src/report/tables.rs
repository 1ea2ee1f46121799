//! The terminal tables printed after a run: one row per endpoint, and the targets with
//! PASS/FAIL.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::report::run::{Latency, RunReport};
use crate::report::targets::{TargetResult, format_us};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

fn latency_cells(l: &Latency) -> Vec<String> {
    [l.p50, l.p90, l.p95, l.p99, l.p999, l.max]
        .iter()
        .map(|v| format_us(*v as f64))
        .collect()
}

/// Requests, req/s, errors and the latency spectrum per endpoint, then all together.
pub fn endpoints(run: &RunReport) -> Table {
    let mut t = table(&[
        "endpoint", "requests", "req/s", "errors", "p50", "p90", "p95", "p99", "p99.9", "max",
    ]);
    let rows = run
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.requests, e.rps, e.errors, &e.latency_us))
        .chain(std::iter::once((
            "all",
            run.totals.requests,
            run.totals.rps,
            run.totals.errors,
            &run.totals.latency_us,
        )));
    for (name, requests, rps, errors, latency) in rows {
        let mut row = vec![
            name.to_string(),
            requests.to_string(),
            format!("{rps:.1}"),
            errors.to_string(),
        ];
        row.extend(latency_cells(latency));
        t.add_row(row);
    }
    for i in 1..10 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// The targets with their measured values and PASS / FAIL / not measured.
pub fn targets(results: &[TargetResult]) -> Table {
    let mut t = table(&["target", "goal", "actual", "result"]);
    for r in results {
        let verdict = match r.pass {
            Some(true) => "PASS".to_string(),
            Some(false) => "FAIL".to_string(),
            None => r.note.clone().unwrap_or_else(|| "not measured".into()),
        };
        t.add_row(vec![
            r.name.clone(),
            r.target.clone(),
            r.actual.clone().unwrap_or_else(|| "not measured".into()),
            verdict,
        ]);
    }
    t
}

/// The top statements of pg_stat_statements over the run.
pub fn statements(run: &RunReport) -> Option<Table> {
    if run.postgres.statements.is_empty() {
        return None;
    }
    let mut t = table(&[
        "statement",
        "endpoints",
        "calls",
        "total",
        "mean",
        "rows",
        "hit %",
    ]);
    for s in &run.postgres.statements {
        let query: String = s.query.split_whitespace().collect::<Vec<_>>().join(" ");
        let query = match query.char_indices().nth(90) {
            Some((i, _)) => format!("{}…", &query[..i]),
            None => query,
        };
        t.add_row(vec![
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
    Some(t)
}

/// CPU and memory of the server, Postgres and the generator.
pub fn resources(run: &RunReport) -> Option<Table> {
    let r = run.resources.as_ref()?;
    let mut t = table(&[
        "process",
        "CPU s",
        "CPU % (100 = 1 core)",
        "peak RSS",
        "mean RSS",
    ]);
    for (name, p) in [
        ("server", &r.server),
        ("postgres", &r.postgres),
        ("generator", &r.generator),
    ] {
        if p.measured {
            t.add_row(vec![
                name.to_string(),
                format!("{:.1}", p.cpu_s),
                format!("{:.0}", p.cpu_pct_mean),
                format!("{:.1} MB", p.peak_rss_bytes as f64 / 1e6),
                format!("{:.1} MB", p.mean_rss_bytes as f64 / 1e6),
            ]);
        } else {
            let note = p.note.clone().unwrap_or_else(|| "not measured".into());
            t.add_row(vec![
                name.to_string(),
                note,
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    Some(t)
}

/// CO2 per request with its breakdown, and KoproGo's published method on the same run.
pub fn carbon(run: &RunReport) -> Option<Table> {
    let c = run.carbon.as_ref()?;
    let mg = |g: f64| format!("{:.6} mg", g * 1000.0);
    let mut t = table(&["CO2 per request", "value"]);
    t.add_row(vec![
        format!("total ({}, {} g/kWh)", c.region, c.grid_g_per_kwh),
        mg(c.g_per_request),
    ]);
    t.add_row(vec!["  cpu".to_string(), mg(c.breakdown_g_per_request.cpu)]);
    t.add_row(vec![
        "  memory".to_string(),
        mg(c.breakdown_g_per_request.memory),
    ]);
    t.add_row(vec![
        "  network".to_string(),
        mg(c.breakdown_g_per_request.network),
    ]);
    t.add_row(vec![
        "  embodied".to_string(),
        mg(c.breakdown_g_per_request.embodied),
    ]);
    t.add_row(vec![
        "KoproGo's method (network bytes × 0.006 g/KB)".to_string(),
        mg(c.koprogo_method_g_per_request),
    ]);
    if let Some(note) = &c.note {
        t.add_row(vec!["note".to_string(), note.clone()]);
    }
    Some(t)
}

/// The inputs of the CO2 figure, so that a reader can recompute it (the sources of
/// the constants are in the model file named on the first row).
pub fn carbon_inputs(run: &RunReport) -> Option<Table> {
    let c = run.carbon.as_ref()?;
    let i = &c.inputs;
    let cpu_s = |v: Option<f64>| v.map_or("not measured (0)".to_string(), |s| format!("{s:.2} s"));
    let mb = |v: Option<u64>| {
        v.map_or("not measured (0)".to_string(), |b| {
            format!("{:.1} MB", b as f64 / 1e6)
        })
    };
    let mut t = table(&["CO2 input", "value"]);
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
        t.add_row(vec![name.to_string(), value]);
    }
    Some(t)
}
