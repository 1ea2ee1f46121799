//! The tuning profile's indexes: created one at a time with `CREATE INDEX
//! CONCURRENTLY IF NOT EXISTS` (outside any transaction, so the tables stay writable),
//! INVALID leftovers of an interrupted build dropped and rebuilt; and, for any schema,
//! the foreign keys that no index leads with.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::tune::profile::IndexSpec;

/// What the database holds under an index's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexState {
    Missing,
    Valid,
    /// Left by a failed concurrent build: it slows writes and serves no query.
    Invalid,
}

/// What applying did to one index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexAction {
    Created,
    AlreadyPresent,
    Rebuilt,
}

/// Reads the state of the index `name` in the current schema search path.
pub async fn state(pool: &PgPool, name: &str) -> sqlx::Result<IndexState> {
    let valid: Option<bool> = sqlx::query_scalar(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = $1 AND pg_catalog.pg_table_is_visible(c.oid)",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(match valid {
        None => IndexState::Missing,
        Some(true) => IndexState::Valid,
        Some(false) => IndexState::Invalid,
    })
}

/// True when `table` exists (visible in the search path).
pub async fn table_exists(pool: &PgPool, table: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(pool)
        .await
}

/// Creates `index` if missing, rebuilds it if INVALID; returns what it did and how
/// long it took.
pub async fn ensure(pool: &PgPool, index: &IndexSpec) -> anyhow::Result<(IndexAction, Duration)> {
    let began = Instant::now();
    let action = match state(pool, &index.name).await? {
        IndexState::Valid => return Ok((IndexAction::AlreadyPresent, began.elapsed())),
        IndexState::Invalid => {
            sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", index.name))
                .execute(pool)
                .await?;
            IndexAction::Rebuilt
        }
        IndexState::Missing => IndexAction::Created,
    };
    if let Err(e) = sqlx::raw_sql(&index.create_sql()).execute(pool).await {
        // A failed concurrent build leaves an INVALID index behind: remove it now
        // rather than leave it slowing every write.
        let _ = sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", index.name))
            .execute(pool)
            .await;
        // PostgreSQL's message once (sqlx's error repeats it as its source).
        let message = match &e {
            sqlx::Error::Database(d) => d.message().to_string(),
            e => e.to_string(),
        };
        anyhow::bail!("creating index {}: {message}", index.name);
    }
    Ok((action, began.elapsed()))
}

/// Drops an index concurrently (rollback).
pub async fn drop(pool: &PgPool, name: &str) -> sqlx::Result<()> {
    sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
        .execute(pool)
        .await
        .map(|_| ())
}

/// A foreign key with no index that serves it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct UnindexedForeignKey {
    /// The referencing table, as `regclass` prints it.
    pub table_name: String,
    pub constraint_name: String,
    /// Its columns, `, `-separated, quoted where needed.
    pub columns: String,
    /// The referencing table's own name (`pg_class.relname`), for the index's name.
    #[serde(skip)]
    pub relname: String,
    /// The table is in the search path (an index named for it lands next to it and is
    /// found again by that name).
    #[serde(skip)]
    pub visible: bool,
}

impl UnindexedForeignKey {
    /// The btree index `--fk-indexes` builds for it, under a deterministic name:
    /// `idx_<table>_<columns>`, cut to PostgreSQL's 63 bytes with a hash of the whole
    /// when longer.
    pub fn index_spec(&self) -> IndexSpec {
        let columns: Vec<String> = self
            .columns
            .split(", ")
            .map(crate::tune::catalog::unquote)
            .collect();
        let name = index_name(&format!("idx_{}_{}", self.relname, columns.join("_")));
        IndexSpec {
            name,
            table: self.table_name.clone(),
            columns: self.columns.clone(),
            predicate: None,
            line: 0,
            where_line: 0,
        }
    }
}

/// `raw` as an index name: lower case, `[a-z0-9_]` only, and at most PostgreSQL's 63
/// bytes (cut, with 8 hex digits of a hash of the whole, when longer).
pub fn index_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.len() > 63 {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(raw.as_bytes());
        let tag: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
        name.truncate(54);
        name = format!("{name}_{tag}");
    }
    name
}

/// Foreign keys (in any non-system schema) that no valid, non-partial btree or hash
/// index leads with (its first keys being the key's columns, in any order): each makes
/// the referencing side's lookups and the referenced side's deletes scan the table. A
/// partial index does not count (`WHERE is_active` misses rows the referenced side's
/// `ON DELETE` must find), but for one exception that PostgreSQL proves itself: `WHERE
/// col IS NOT NULL` on a one-column key's own column, which every `col = $1` lookup
/// implies (NULLs reference nothing).
pub async fn unindexed_foreign_keys(pool: &PgPool) -> sqlx::Result<Vec<UnindexedForeignKey>> {
    sqlx::query_as(
        "SELECT c.conrelid::regclass::text AS table_name, c.conname::text AS constraint_name, \
                (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) \
                   FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
                t.relname::text AS relname, pg_table_is_visible(t.oid) AS visible \
           FROM pg_constraint c \
           JOIN pg_class t ON t.oid = c.conrelid \
           JOIN pg_namespace n ON n.oid = c.connamespace \
          WHERE c.contype = 'f' \
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
            AND NOT EXISTS ( \
                SELECT 1 FROM pg_index i \
                  JOIN pg_class ic ON ic.oid = i.indexrelid \
                  JOIN pg_am am ON am.oid = ic.relam \
                 WHERE i.indrelid = c.conrelid AND i.indisvalid \
                   AND (i.indpred IS NULL \
                        OR (cardinality(c.conkey) = 1 \
                            AND pg_get_expr(i.indpred, i.indrelid) = '(' || ( \
                                SELECT quote_ident(a.attname) FROM pg_attribute a \
                                 WHERE a.attrelid = c.conrelid AND a.attnum = c.conkey[1]) \
                                || ' IS NOT NULL)')) \
                   AND am.amname IN ('btree', 'hash') \
                   AND i.indnkeyatts >= cardinality(c.conkey) \
                   AND (SELECT array_agg(k.attnum ORDER BY k.attnum) \
                          FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                         WHERE k.ord <= cardinality(c.conkey)) \
                     = (SELECT array_agg(k ORDER BY k) FROM unnest(c.conkey) AS k)) \
          ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
}
