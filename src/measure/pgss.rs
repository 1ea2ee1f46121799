//! pg_stat_statements per run: a snapshot before and after, diffed per (userid, dbid,
//! queryid) — or a reset before, when asked and allowed — giving calls, total and mean
//! time, rows and the shared-buffer hit ratio of the statements that took the time.
//! Statements of the reference server carry a `/* METHOD /route */` tag, which
//! attributes them to endpoints.

use crate::units::round3;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// One statement's share of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Statement {
    /// Normalized query text, as pg_stat_statements stores it.
    pub query: String,
    /// Executions during the run.
    pub calls: i64,
    /// Total execution time during the run, milliseconds.
    pub total_ms: f64,
    /// total_ms ÷ calls.
    pub mean_ms: f64,
    /// Rows returned or affected during the run.
    pub rows: i64,
    /// Shared-buffer hits ÷ (hits + reads); null when it touched no buffer.
    pub hit_ratio: Option<f64>,
    /// Endpoints that issue it (from the reference server's route tags; empty for
    /// untagged statements).
    pub endpoints: Vec<String>,
}

/// The `postgres` section of run.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostgresReport {
    /// True when pg_stat_statements was read before and after the run.
    pub measured: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The top statements by total time during the run.
    pub statements: Vec<Statement>,
}

impl PostgresReport {
    /// A section that says why nothing was measured.
    pub fn not_measured(reason: impl Into<String>) -> PostgresReport {
        PostgresReport {
            measured: false,
            note: Some(format!("not measured: {}", reason.into())),
            statements: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    userid: i64,
    dbid: i64,
    queryid: i64,
    query: String,
    calls: i64,
    total_ms: f64,
    rows: i64,
    hit: i64,
    read: i64,
}

/// The counters at one moment, for the current database.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    rows: HashMap<(i64, i64, i64), Row>,
}

/// Makes sure the extension can be read in this database: creates it when the library
/// is preloaded and it is missing (needs the right to); otherwise says why not.
pub async fn prepare(pool: &PgPool) -> Result<(), String> {
    let preloaded: String =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')")
            .fetch_one(pool)
            .await
            .map_err(|e| format!("cannot read shared_preload_libraries: {e}"))?;
    if !preloaded
        .split(',')
        .any(|l| l.trim() == "pg_stat_statements")
    {
        return Err(
            "pg_stat_statements is not in shared_preload_libraries (koprogo-perf tune-db --apply adds it)"
                .into(),
        );
    }
    let installed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| e.to_string())?;
    if !installed {
        sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(pool)
            .await
            .map_err(|e| format!("the extension is missing and cannot be created here ({e})"))?;
    }
    Ok(())
}

/// Resets the counters (`--pgss-reset`); needs superuser or a granted role.
pub async fn reset(pool: &PgPool) -> Result<(), String> {
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| format!("pg_stat_statements_reset() refused ({e}); diffing snapshots instead"))
}

/// Reads the counters of the current database.
pub async fn snapshot(pool: &PgPool) -> Result<Snapshot, String> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT userid::int8 AS userid, dbid::int8 AS dbid, queryid, query, calls, \
                total_exec_time AS total_ms, rows, shared_blks_hit AS hit, shared_blks_read AS read \
           FROM pg_stat_statements \
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
            AND queryid IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| format!("reading pg_stat_statements: {e}"))?;
    Ok(Snapshot {
        rows: rows
            .into_iter()
            .map(|r| ((r.userid, r.dbid, r.queryid), r))
            .collect(),
    })
}

/// What ran between `before` and `after`: the `top` statements by total time.
/// Statements that reading the counters itself issues are left out.
pub fn diff(before: &Snapshot, after: &Snapshot, top: usize) -> Vec<Statement> {
    let mut out: Vec<Statement> = after
        .rows
        .iter()
        .filter_map(|(key, a)| {
            let (calls, total, rows, hit, read) = match before.rows.get(key) {
                Some(b) => (
                    a.calls - b.calls,
                    a.total_ms - b.total_ms,
                    a.rows - b.rows,
                    a.hit - b.hit,
                    a.read - b.read,
                ),
                None => (a.calls, a.total_ms, a.rows, a.hit, a.read),
            };
            if calls <= 0 || a.query.contains("pg_stat_statements") {
                return None;
            }
            Some(Statement {
                query: a.query.clone(),
                calls,
                total_ms: round3(total),
                mean_ms: round3(total / calls as f64),
                rows,
                hit_ratio: (hit + read > 0)
                    .then(|| round3(hit as f64 / (hit + read) as f64 * 100.0) / 100.0),
                endpoints: route_tag(&a.query).into_iter().collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.total_ms
            .total_cmp(&a.total_ms)
            .then_with(|| a.query.cmp(&b.query))
    });
    out.truncate(top);
    out
}

/// The route a statement is tagged with: `/* GET /api/v1/buildings */ SELECT …`.
pub fn route_tag(query: &str) -> Option<String> {
    let rest = query.trim_start().strip_prefix("/*")?;
    let (tag, _) = rest.split_once("*/")?;
    let tag = tag.trim();
    let (method, path) = tag.split_once(' ')?;
    (matches!(method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE") && path.starts_with('/'))
        .then(|| tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        id: i64,
        query: &str,
        calls: i64,
        total: f64,
        hit: i64,
        read: i64,
    ) -> ((i64, i64, i64), Row) {
        (
            (10, 5, id),
            Row {
                userid: 10,
                dbid: 5,
                queryid: id,
                query: query.into(),
                calls,
                total_ms: total,
                rows: calls,
                hit,
                read,
            },
        )
    }

    #[test]
    fn diff_subtracts_ranks_and_attributes() {
        let before = Snapshot {
            rows: [
                row(1, "/* GET /api/v1/buildings */ SELECT 1", 10, 5.0, 100, 0),
                row(2, "SELECT 2", 3, 1.0, 0, 0),
            ]
            .into(),
        };
        let after = Snapshot {
            rows: [
                row(1, "/* GET /api/v1/buildings */ SELECT 1", 30, 25.0, 190, 10),
                row(2, "SELECT 2", 3, 1.0, 0, 0),
                row(
                    3,
                    "SELECT * FROM expenses WHERE building_id = $1",
                    4,
                    40.0,
                    0,
                    0,
                ),
                row(4, "SELECT … FROM pg_stat_statements", 2, 1.0, 0, 0),
            ]
            .into(),
        };
        let d = diff(&before, &after, 10);
        assert_eq!(
            d.len(),
            2,
            "unchanged and our own statements are left out: {d:?}"
        );
        assert_eq!(d[0].query, "SELECT * FROM expenses WHERE building_id = $1");
        assert_eq!(d[0].mean_ms, 10.0);
        assert_eq!(d[0].hit_ratio, None);
        assert_eq!(d[1].calls, 20);
        assert_eq!(d[1].total_ms, 20.0);
        assert_eq!(d[1].mean_ms, 1.0);
        assert_eq!(d[1].hit_ratio, Some(0.9));
        assert_eq!(d[1].endpoints, vec!["GET /api/v1/buildings"]);
        assert_eq!(diff(&before, &after, 1).len(), 1);
    }

    #[test]
    fn route_tags_are_read_only_from_the_leading_comment() {
        assert_eq!(
            route_tag("/* POST /api/v1/units */ INSERT INTO units"),
            Some("POST /api/v1/units".into())
        );
        assert_eq!(route_tag("SELECT 1 /* GET /x */"), None);
        assert_eq!(route_tag("/* hello */ SELECT 1"), None);
    }
}
