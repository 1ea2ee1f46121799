//! What the database already has, read from its catalog: a table's columns, every index
//! (keys, predicate, method, validity, size, scans since the statistics were reset) and
//! the foreign keys. `tune::plan` resolves a profile's indexes against it, and the dry
//! run and `audit` judge the indexes already there: exact duplicates, prefixes of
//! others, unused ones.
//!
//! Everything here only reads; the predicate check runs `EXPLAIN` (never executed) in a
//! read-only transaction.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

/// A table (or partitioned table, or materialized view) as the catalog has it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Table {
    /// `pg_class.oid`.
    pub oid: i64,
    /// As `regclass` prints it: schema-qualified when not in the search path, quoted
    /// where needed.
    pub name: String,
    /// Its columns (`pg_attribute`, not dropped), in order.
    pub columns: Vec<String>,
}

/// The table `name` resolves to in the search path, if it is one that can be indexed.
pub async fn table(pool: &PgPool, name: &str) -> sqlx::Result<Option<Table>> {
    sqlx::query_as(
        "SELECT c.oid::int8 AS oid, c.oid::regclass::text AS name, \
                ARRAY(SELECT a.attname::text FROM pg_attribute a \
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                       ORDER BY a.attnum) AS columns \
           FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p', 'm')",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
}

/// What a name is taken by in the search path: `None` when free, else the relation's
/// kind (`pg_class.relkind`) and, for an index, the oid of its table.
pub async fn relation(pool: &PgPool, name: &str) -> sqlx::Result<Option<(String, Option<i64>)>> {
    sqlx::query_as(
        "SELECT c.relkind::text, (SELECT i.indrelid::int8 FROM pg_index i WHERE i.indexrelid = c.oid) \
           FROM pg_class c WHERE c.oid = to_regclass($1)",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
}

/// One index already in the database.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct ExistingIndex {
    /// Oid of its table.
    #[serde(skip)]
    pub table_oid: i64,
    /// Its table, as `regclass` prints it.
    pub table: String,
    pub name: String,
    /// Access method: `btree`, `hash`, `gin`, …
    pub method: String,
    /// Key columns (INCLUDE columns left out) as `pg_get_indexdef` prints each: a name
    /// (quoted where needed) or an expression.
    pub columns: Vec<String>,
    /// Per key column: DESC.
    pub descending: Vec<bool>,
    /// Per key column: its operator class and collation (`text_pattern_ops/100`), so
    /// that `(code)` and `(code text_pattern_ops)` are not taken for one another.
    pub classes: Vec<String>,
    /// Per key column: the operator class is its type's default and the collation its
    /// column's (what a profile's plain column list builds).
    pub plain: Vec<bool>,
    /// The WHERE of a partial index, as PostgreSQL deparses it.
    pub predicate: Option<String>,
    pub unique: bool,
    pub primary: bool,
    /// The constraint (primary key, unique, exclusion) it enforces, if any.
    pub constraint: Option<String>,
    /// `indisvalid`: usable by queries.
    pub valid: bool,
    /// On disk, bytes.
    pub size_bytes: i64,
    /// Index scans since the statistics were reset (`pg_stat_all_indexes.idx_scan`).
    pub scans: i64,
    /// `pg_get_indexdef`.
    pub definition: String,
}

/// Every index outside the system schemas.
pub async fn indexes(pool: &PgPool) -> sqlx::Result<Vec<ExistingIndex>> {
    sqlx::query_as(
        "SELECT i.indrelid::int8 AS table_oid, i.indrelid::regclass::text AS table, \
                c.relname::text AS name, am.amname::text AS method, \
                ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                        FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS columns, \
                ARRAY(SELECT (i.indoption[k - 1] & 1) = 1 \
                        FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS descending, \
                ARRAY(SELECT opc.opcname::text || '/' || i.indcollation[k - 1]::text \
                        FROM generate_series(1, i.indnkeyatts) k \
                        JOIN pg_opclass opc ON opc.oid = i.indclass[k - 1] ORDER BY k) AS classes, \
                ARRAY(SELECT opc.opcdefault AND i.indcollation[k - 1] = coalesce( \
                               (SELECT a.attcollation FROM pg_attribute a \
                                 WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1]), 0) \
                        FROM generate_series(1, i.indnkeyatts) k \
                        JOIN pg_opclass opc ON opc.oid = i.indclass[k - 1] ORDER BY k) AS plain, \
                pg_get_expr(i.indpred, i.indrelid, true) AS predicate, \
                i.indisunique AS unique, i.indisprimary AS primary, \
                (SELECT con.conname::text FROM pg_constraint con \
                  WHERE con.conindid = c.oid AND con.contype IN ('p', 'u', 'x') LIMIT 1) AS constraint, \
                i.indisvalid AS valid, pg_relation_size(c.oid) AS size_bytes, \
                coalesce(s.idx_scan, 0) AS scans, pg_get_indexdef(c.oid) AS definition \
           FROM pg_index i \
           JOIN pg_class c ON c.oid = i.indexrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           JOIN pg_am am ON am.oid = c.relam \
           LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = c.oid \
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
            AND n.nspname NOT LIKE 'pg_toast%' \
          ORDER BY 2, 3",
    )
    .fetch_all(pool)
    .await
}

/// When this database's statistics were last reset (`pg_stat_database.stats_reset`),
/// as text; `None` when never.
pub async fn stats_reset(pool: &PgPool) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT to_char(stats_reset AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"') \
           FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_optional(pool)
    .await
    .map(Option::flatten)
}

/// `"Foo"` → `Foo`, `foo` → `foo`: a column as written, for comparing names.
pub fn unquote(name: &str) -> String {
    let name = name.trim();
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => name.to_string(),
    }
}

/// The condition `predicate` on `table` as PostgreSQL deparses it (so that two ways of
/// writing it compare equal), or PostgreSQL's error when it does not hold on that table
/// (a missing column, a wrong type); an error when this role may not read the table.
/// Asked with `EXPLAIN` (planned, never run) in a read-only transaction with index scans
/// off, so that the plan keeps the condition as its filter.
pub async fn deparse_condition(
    pool: &PgPool,
    table: &str,
    predicate: &str,
) -> anyhow::Result<Result<String, String>> {
    let mut tx = pool.begin().await?;
    for statement in [
        "SET TRANSACTION READ ONLY",
        "SET LOCAL statement_timeout = '10s'",
        "SET LOCAL enable_indexscan = off",
        "SET LOCAL enable_bitmapscan = off",
        "SET LOCAL enable_indexonlyscan = off",
    ] {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    let plan: Result<Value, sqlx::Error> = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE {predicate}"
    ))
    .fetch_one(&mut *tx)
    .await;
    tx.rollback().await?;
    Ok(match plan {
        Ok(plan) => Ok(find_filter(&plan[0]["Plan"]).unwrap_or_else(|| predicate.to_string())),
        // A role without SELECT on the table cannot plan the query: that says nothing
        // about the condition, so it is an error of the caller's, not a rejection.
        Err(sqlx::Error::Database(e))
            if e.code().as_deref() == Some(crate::tune::INSUFFICIENT_PRIVILEGE) =>
        {
            anyhow::bail!("needs SELECT on {table}: {}", e.message())
        }
        Err(sqlx::Error::Database(e)) => Err(e.message().to_string()),
        Err(e) => return Err(e.into()),
    })
}

/// The first `Filter` of a plan, outermost first.
fn find_filter(node: &Value) -> Option<String> {
    if let Some(f) = node["Filter"].as_str() {
        return Some(f.to_string());
    }
    node["Plans"].as_array()?.iter().find_map(find_filter)
}

/// What is wrong with an index that is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Waste {
    /// Same table, method, keys, order and predicate as another.
    Duplicate,
    /// Its keys are the leading keys of another with the same method and predicate,
    /// which serves every lookup it does; it enforces no uniqueness.
    Prefix,
    /// No scan since the statistics were reset; it enforces no constraint.
    Unused,
}

/// One index that costs writes and space for nothing, or for little.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: Waste,
    pub table: String,
    pub index: String,
    /// The index that makes it a duplicate or a prefix; `None` for unused.
    pub of: Option<String>,
    pub size_bytes: i64,
    pub definition: String,
}

/// Exact duplicates and prefixes of other indexes (valid ones, compared on the same
/// table), then unused indexes. An index enforcing a constraint is never the redundant
/// one of a pair when the other is not; unique ones are never prefixes or unused (they
/// enforce something).
pub fn findings(indexes: &[ExistingIndex]) -> Vec<Finding> {
    let valid: Vec<&ExistingIndex> = indexes.iter().filter(|i| i.valid).collect();
    let mut out: Vec<Finding> = Vec::new();
    let finding = |kind, index: &ExistingIndex, of: Option<&ExistingIndex>| Finding {
        kind,
        table: index.table.clone(),
        index: index.name.clone(),
        of: of.map(|o| o.name.clone()),
        size_bytes: index.size_bytes,
        definition: index.definition.clone(),
    };
    let same_shape = |a: &ExistingIndex, b: &ExistingIndex| {
        a.table_oid == b.table_oid && a.method == b.method && a.predicate == b.predicate
    };
    let reported = |out: &[Finding], i: &ExistingIndex| {
        out.iter().any(|f| f.index == i.name && f.table == i.table)
    };
    // Exact duplicates first: keep the one enforcing a constraint, else a unique one,
    // else the first by name.
    let keep_rank = |i: &ExistingIndex| (i.constraint.is_none(), !i.unique);
    for a in &valid {
        let duplicate_of = valid.iter().find(|b| {
            b.name != a.name
                && same_shape(a, b)
                && a.columns == b.columns
                && a.descending == b.descending
                && a.classes == b.classes
                && (keep_rank(b), &b.name) < (keep_rank(a), &a.name)
                && !reported(&out, b)
        });
        if let Some(b) = duplicate_of {
            out.push(finding(Waste::Duplicate, a, Some(b)));
        }
    }
    // Then prefixes of an index that stays.
    for a in &valid {
        if reported(&out, a) || a.unique || a.method != "btree" {
            continue;
        }
        let prefix_of = valid.iter().find(|b| {
            b.name != a.name
                && same_shape(a, b)
                && b.columns.len() > a.columns.len()
                && b.columns[..a.columns.len()] == a.columns[..]
                && b.descending[..a.columns.len()] == a.descending[..]
                && b.classes[..a.columns.len()] == a.classes[..]
                && !reported(&out, b)
        });
        if let Some(b) = prefix_of {
            out.push(finding(Waste::Prefix, a, Some(b)));
        }
    }
    for a in &valid {
        if a.scans == 0 && !a.unique && a.constraint.is_none() && !reported(&out, a) {
            out.push(finding(Waste::Unused, a, None));
        }
    }
    out
}

/// A size for people: `8.0 kB`, `1.2 MB`.
pub fn size_text(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.1} kB", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str, columns: &[&str], predicate: Option<&str>) -> ExistingIndex {
        ExistingIndex {
            table_oid: 1,
            table: "t".into(),
            name: name.into(),
            method: "btree".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            descending: vec![false; columns.len()],
            classes: vec!["int4_ops/0".into(); columns.len()],
            plain: vec![true; columns.len()],
            predicate: predicate.map(str::to_string),
            unique: false,
            primary: false,
            constraint: None,
            valid: true,
            size_bytes: 8192,
            scans: 1,
            definition: String::new(),
        }
    }

    #[test]
    fn duplicates_prefixes_and_unused() {
        let mut unique = index("t_a_b_key", &["a", "b"], None);
        unique.unique = true;
        unique.constraint = Some("t_a_b_key".into());
        let mut unused = index("idx_c", &["c"], None);
        unused.scans = 0;
        let mut invalid = index("idx_zz", &["a"], None);
        invalid.valid = false;
        let mut pattern = index("idx_c_pattern", &["c"], None);
        pattern.classes = vec!["text_pattern_ops/0".into()];
        let mut unique_c = index("idx_c_unique", &["c"], None);
        unique_c.unique = true;
        let mut unused_d = index("idx_d", &["d"], None);
        unused_d.scans = 0;
        let all = vec![
            unique,
            index("idx_a_b", &["a", "b"], None),
            index("idx_a", &["a"], None),
            index("idx_a_partial", &["a"], Some("d IS NULL")),
            unused,
            invalid,
            pattern,
            unique_c,
            unused_d,
        ];
        let found: Vec<(Waste, String, Option<String>)> = findings(&all)
            .into_iter()
            .map(|f| (f.kind, f.index, f.of))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    Waste::Duplicate,
                    "idx_a_b".to_string(),
                    Some("t_a_b_key".to_string())
                ),
                // Kept: the unique one; not taken for one another: other operator classes.
                (
                    Waste::Duplicate,
                    "idx_c".to_string(),
                    Some("idx_c_unique".to_string())
                ),
                (
                    Waste::Prefix,
                    "idx_a".to_string(),
                    Some("t_a_b_key".to_string())
                ),
                (Waste::Unused, "idx_d".to_string(), None),
            ]
        );
        assert_eq!(unquote("\"Foo\"\"x\""), "Foo\"x");
        assert_eq!(unquote("foo"), "foo");
        assert_eq!(size_text(8192), "8.0 kB");
    }
}
