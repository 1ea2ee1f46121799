//! Proof of effect: `EXPLAIN (ANALYZE, BUFFERS)` of the guide's expense query and of the
//! current-owners query, summarized (plan shape, rows, buffers, mean time over several
//! runs) so that before and after the indexes can be shown side by side.
//!
//! The guide's expense query says `status = 'Approved'`; KoproGo has no such column,
//! its approval status being `approval_status = 'approved'` (the reference schema has
//! KoproGo's column too), so the query is written on that one. A query that fails — a
//! table or column this database does not have, no row to take a parameter from — is
//! shown with its error, never dropped.

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
    /// Why it could not be explained (the other fields are then empty).
    pub error: Option<String>,
}

impl PlanSummary {
    fn failed(query: &str, error: String) -> PlanSummary {
        PlanSummary {
            query: query.to_string(),
            shape: String::new(),
            rows: 0,
            buffers: 0,
            mean_ms: 0.0,
            error: Some(error),
        }
    }
}

/// The guide's expense condition (`status = 'Approved'`) on KoproGo's column.
const STATUS: &str = "approval_status = 'approved'";

/// The guide's two hot queries with real parameters from the database, each explained
/// or with the error that stopped it.
pub async fn hot_queries(pool: &PgPool) -> anyhow::Result<Vec<PlanSummary>> {
    let status = STATUS;
    let queries = [
        (
            format!("expenses by building and status ({status})"),
            format!(
                "SELECT building_id::text FROM expenses WHERE {status} \
                 GROUP BY building_id ORDER BY count(*) DESC, building_id LIMIT 1"
            ),
            format!("SELECT * FROM expenses WHERE building_id = $1::uuid AND {status}"),
        ),
        (
            "current owners of a unit".to_string(),
            "SELECT unit_id::text FROM unit_owners WHERE end_date IS NULL ORDER BY unit_id LIMIT 1"
                .to_string(),
            "SELECT o.* FROM unit_owners uo JOIN owners o ON o.id = uo.owner_id \
             WHERE uo.unit_id = $1::uuid AND uo.end_date IS NULL"
                .to_string(),
        ),
    ];
    let mut out = Vec::new();
    for (name, sample, sql) in queries {
        let parameter: Result<Option<String>, sqlx::Error> =
            sqlx::query_scalar(&sample).fetch_optional(pool).await;
        out.push(match parameter {
            Ok(Some(p)) => {
                // The parameter is a uuid read back from the database: quoted as a
                // literal, it cannot carry SQL.
                let sql = sql.replace("$1", &crate::tune::literal(&p));
                match explain(pool, &name, &sql).await {
                    Ok(summary) => summary,
                    Err(e) => PlanSummary::failed(&name, database_error(e)),
                }
            }
            Ok(None) => {
                PlanSummary::failed(&name, format!("no row to take a parameter from ({sample})"))
            }
            Err(e) => PlanSummary::failed(&name, database_error(e.into())),
        });
    }
    Ok(out)
}

/// PostgreSQL's message, without sqlx's framing.
fn database_error(e: anyhow::Error) -> String {
    match e.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(d)) => d.message().to_string(),
        _ => format!("{e:#}"),
    }
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
        error: None,
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
