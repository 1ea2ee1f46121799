//! Proof of effect: `EXPLAIN (ANALYZE, BUFFERS)` of the guide's expense query and of the
//! current-owners query, summarized (plan shape, rows, buffers, mean time over several
//! runs) so that before and after the indexes can be shown side by side.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

/// How many times each query is explained; the mean execution time is reported.
pub const RUNS: usize = 10;

/// One query's plan summary.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    /// Which query: `expenses by building and status` or `current owners of a unit`.
    pub query: String,
    /// The scan nodes, outermost first, e.g. `Bitmap Heap Scan on expenses`.
    pub shape: String,
    /// Rows the query returned.
    pub rows: u64,
    /// Shared buffers hit + read by one execution.
    pub buffers: u64,
    /// Mean execution time over [`RUNS`] runs, milliseconds.
    pub mean_ms: f64,
}

/// The guide's two hot queries with real parameters from the database; empty when the
/// reference tables are absent or empty.
pub async fn hot_queries(pool: &PgPool) -> anyhow::Result<Vec<PlanSummary>> {
    let building: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT building_id FROM expenses WHERE status = 'Approved' \
         GROUP BY building_id ORDER BY count(*) DESC, building_id LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .unwrap_or(None);
    let unit: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT unit_id FROM unit_owners WHERE end_date IS NULL ORDER BY unit_id LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .unwrap_or(None);
    let mut out = Vec::new();
    if let Some(b) = building {
        out.push(
            explain(
                pool,
                "expenses by building and status (guide)",
                &format!(
                    "SELECT * FROM expenses WHERE building_id = '{b}' AND status = 'Approved'"
                ),
            )
            .await?,
        );
    }
    if let Some(u) = unit {
        out.push(
            explain(
                pool,
                "current owners of a unit",
                &format!(
                    "SELECT o.* FROM unit_owners uo JOIN owners o ON o.id = uo.owner_id \
                     WHERE uo.unit_id = '{u}' AND uo.end_date IS NULL"
                ),
            )
            .await?,
        );
    }
    Ok(out)
}

/// Explains `sql` [`RUNS`] times and summarizes. `sql` is built from ids read from the
/// database, never from user input.
async fn explain(pool: &PgPool, name: &str, sql: &str) -> anyhow::Result<PlanSummary> {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = Value::Null;
    for _ in 0..RUNS {
        let plan: Value =
            sqlx::query_scalar(&format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"))
                .fetch_one(pool)
                .await?;
        let top = plan.get(0).cloned().unwrap_or(Value::Null);
        times.push(top["Execution Time"].as_f64().unwrap_or(0.0));
        last = top;
    }
    let root = &last["Plan"];
    let mut scans = Vec::new();
    collect_scans(root, &mut scans);
    let buffers = root["Shared Hit Blocks"].as_u64().unwrap_or(0)
        + root["Shared Read Blocks"].as_u64().unwrap_or(0);
    Ok(PlanSummary {
        query: name.to_string(),
        shape: scans.join(" + "),
        rows: root["Actual Rows"].as_u64().unwrap_or(0),
        buffers,
        mean_ms: (times.iter().sum::<f64>() / times.len() as f64 * 1000.0).round() / 1000.0,
    })
}

fn collect_scans(node: &Value, out: &mut Vec<String>) {
    if let Some(kind) = node["Node Type"].as_str()
        && kind.contains("Scan")
    {
        match node["Relation Name"].as_str() {
            Some(rel) => out.push(format!("{kind} on {rel}")),
            None => out.push(kind.to_string()),
        }
    }
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            collect_scans(child, out);
        }
    }
}
