//! `tune-db --advise`: index advice from the workload's own statements.
//!
//! The statements that took the most time (a run's pg_stat_statements delta, or the
//! live view) are planned as PostgreSQL would run them from the application — a
//! generic plan of the normalized text (`PREPARE`, `plan_cache_mode =
//! force_generic_plan`, `EXPLAIN EXECUTE` with NULL parameters; nothing is executed).
//! Each scan that filters rows gives a candidate: the table, the columns it compares
//! with `=` to a parameter or a constant (its index condition first, then its filter),
//! and its `col IS NULL` conditions as a partial index's `where`. Each join gives one
//! per side that no `=` condition of its own narrows: its join key (an index the
//! planner can look that side's rows up by, in a nested loop). Each sort of one table's
//! rows (`ORDER BY`, a merge join's or a grouping's sort) gives one: the scan's `=` columns, then the sort keys
//! with their direction (an index that returns the rows in order, which a `LIMIT`
//! stops early). With hypopg each
//! candidate is then created as a hypothetical index and the statements that gave it
//! planned again: the score is the planner cost saved × calls, less an estimate of the
//! write cost over the same statements: the rows the workload's own INSERT, UPDATE and
//! DELETE statements wrote to the table × `random_page_cost` (one more leaf page to
//! write per row). Candidates that an existing index already serves, or that score
//! nothing, are not advised.
//!
//! Where pg_qualstats is loaded (preloaded and created in the database), the `=`
//! predicates it sampled from the workload's executions are candidates too (one per
//! AND-ed group of a statement; `pg_qualstats` in the "from" column), scored over the
//! statements that name their table; without it the plans alone give the candidates.
//!
//! Everything runs in one transaction that is rolled back (hypopg's extension
//! included, when it had to be created): the database is left as it was.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use anyhow::Context;
use regex::Regex;
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::PgPool;

use crate::tune::catalog;
use crate::tune::profile::IndexSpec;

/// One statement of the workload.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Normalized text, `$1`… for the parameters.
    pub query: String,
    pub calls: i64,
    pub total_ms: f64,
    /// Rows returned or written.
    pub rows: i64,
}

/// Every statement of pg_stat_statements in this database, by total time.
pub async fn live_statements(pool: &PgPool) -> anyhow::Result<Vec<Statement>> {
    let rows: Vec<(String, i64, f64, i64)> = sqlx::query_as(
        "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements \
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
          ORDER BY total_exec_time DESC",
    )
    .fetch_all(pool)
    .await
    .context(
        "reading pg_stat_statements (preloaded and created in this database: tune-db --apply \
         does both)",
    )?;
    Ok(rows
        .into_iter()
        .map(|(query, calls, total_ms, rows)| Statement {
            query,
            calls,
            total_ms,
            rows,
        })
        .collect())
}

/// The table an INSERT, UPDATE or DELETE writes to, and the rows it wrote.
fn written(statement: &Statement) -> Option<(String, i64)> {
    let table = WRITTEN.captures(&statement.query)?[1].to_ascii_lowercase();
    Some((
        table.strip_prefix("public.").unwrap_or(&table).to_string(),
        statement.rows,
    ))
}

/// SELECT, UPDATE, DELETE or WITH, after any leading comment, on the application's
/// tables (not the system catalogs): what an index can speed up and `EXPLAIN` can plan
/// without running.
pub fn plannable(query: &str) -> bool {
    if CATALOG.is_match(query) {
        return false;
    }
    let mut q = query.trim_start();
    while let Some(rest) = q.strip_prefix("/*") {
        q = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
    }
    let word: String = q
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(word.as_str(), "select" | "update" | "delete" | "with")
}

/// One index the workload asks for.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// As `regclass` prints it.
    pub table: String,
    pub columns: Vec<String>,
    /// `col IS NULL AND …`, for a partial index.
    pub predicate: Option<String>,
    /// Which statements (indexes into [`Advice::statements`]) gave it.
    pub statements: Vec<usize>,
    /// Which parts of their plans asked for it.
    pub sources: Vec<Source>,
    /// Planner cost saved × calls, over its statements (with hypopg).
    pub saved: Option<f64>,
    /// The estimated write cost (with hypopg).
    pub write_cost: Option<f64>,
    /// Why it is not advised whatever its score: `served by NAME` (an existing index,
    /// or a longer advised one), `present`, `impossible: …`.
    pub skip: Option<String>,
}

impl Candidate {
    /// `saved − write_cost`, with hypopg.
    pub fn score(&self) -> Option<f64> {
        Some(self.saved? - self.write_cost?)
    }

    /// Advised: not skipped, and a positive score.
    pub fn advised(&self) -> bool {
        self.skip.is_none() && self.score().is_some_and(|s| s > 0.0)
    }

    /// The index as a profile writes it.
    pub fn spec(&self) -> IndexSpec {
        let table = self
            .table
            .strip_prefix("public.")
            .unwrap_or(&self.table)
            .to_string();
        let mut raw = format!("idx_{}_{}", table, self.columns.join("_"));
        if self.predicate.is_some() {
            raw.push_str("_partial");
        }
        IndexSpec {
            name: crate::tune::indexes::index_name(&raw),
            table,
            columns: self.columns.join(", "),
            predicate: self.predicate.clone(),
            line: 0,
            where_line: 0,
        }
    }
}

/// What the advisor found.
#[derive(Debug)]
pub struct Advice {
    /// hypopg's version, or why it is not there.
    pub hypopg: Result<String, String>,
    /// pg_qualstats's version and how many predicates it gave, or why it gave none.
    pub qualstats: Result<String, String>,
    pub statements: Vec<Statement>,
    /// Statements that could not be planned, with PostgreSQL's error.
    pub errors: Vec<(usize, String)>,
    /// Best first (by score with hypopg, else by the time of their statements).
    pub candidates: Vec<Candidate>,
}

impl Advice {
    /// The profile of the advised indexes (`None` when there is none): `tune-db --apply
    /// --profile FILE` and `experiment --profile FILE` take it as it is.
    pub fn profile_toml(&self, source: &str) -> Option<String> {
        let advised: Vec<&Candidate> = self.candidates.iter().filter(|c| c.advised()).collect();
        if advised.is_empty() {
            return None;
        }
        let mut out = format!(
            "# Indexes advised by `koprogo-perf tune-db --advise` from {source}: planner cost saved\n\
             # × calls (hypothetical indexes, hypopg) less an estimate of their write cost.\n\
             description = \"Indexes advised from {} statements of {source}\"\n",
            self.statements.len()
        );
        for c in advised {
            let spec = c.spec();
            out.push_str(&format!(
                "\n# score {:.0} (saved {:.0}, writes {:.0}), from {} statement{}\n[[index]]\nname = {:?}\ntable = {:?}\ncolumns = {:?}\n",
                c.score().unwrap_or_default(),
                c.saved.unwrap_or_default(),
                c.write_cost.unwrap_or_default(),
                c.statements.len(),
                if c.statements.len() == 1 { "" } else { "s" },
                spec.name,
                spec.table,
                spec.columns
            ));
            if let Some(p) = &spec.predicate {
                out.push_str(&format!("where = {p:?}\n"));
            }
        }
        Some(out)
    }
}

/// Plans the `top` plannable statements by total time, derives the candidates, scores
/// them with hypopg when it is installed (the write cost from every statement given),
/// and drops those an existing index serves. Changes nothing.
pub async fn advise(pool: &PgPool, all: Vec<Statement>, top: usize) -> anyhow::Result<Advice> {
    let existing = catalog::indexes(pool).await?;
    let mut writes: BTreeMap<String, i64> = BTreeMap::new();
    for (table, rows) in all.iter().filter_map(written) {
        *writes.entry(table).or_default() += rows;
    }
    let statements: Vec<Statement> = all
        .into_iter()
        .filter(|s| plannable(&s.query))
        .take(top)
        .collect();
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await?;
    let result = advise_in(&mut conn, pool, statements, &existing, &writes).await;
    let rollback = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    let advice = result?;
    rollback?;
    Ok(advice)
}

async fn advise_in(
    conn: &mut PgConnection,
    pool: &PgPool,
    statements: Vec<Statement>,
    existing: &[catalog::ExistingIndex],
    writes: &BTreeMap<String, i64>,
) -> anyhow::Result<Advice> {
    let hypopg = hypopg(conn).await?;
    let mut errors = Vec::new();
    let mut costs: Vec<Option<f64>> = Vec::new();
    type Found = (Vec<usize>, Vec<Source>);
    let mut found: BTreeMap<(String, Vec<String>, Option<String>), Found> = BTreeMap::new();
    for (i, s) in statements.iter().enumerate() {
        match generic_plan(conn, i, &s.query).await? {
            Ok(plan) => {
                costs.push(plan["Total Cost"].as_f64());
                for (table, columns, predicate, source) in scans(&plan) {
                    let (users, sources) = found.entry((table, columns, predicate)).or_default();
                    if !users.contains(&i) {
                        users.push(i);
                    }
                    if !sources.contains(&source) {
                        sources.push(source);
                    }
                }
            }
            Err(e) => {
                costs.push(None);
                errors.push((i, e));
            }
        }
    }
    let qualstats = match qualstats(conn).await? {
        Ok((version, wants)) => {
            let n = wants.len();
            for (table, columns) in wants {
                let users = statements_naming(&statements, &table);
                if users.is_empty() {
                    continue;
                }
                // The same columns as a plan's candidate: its order (index
                // condition first) and its entry.
                let key = found
                    .keys()
                    .find(|(t, c, p)| {
                        *t == table
                            && p.is_none()
                            && c.len() == columns.len()
                            && columns.iter().all(|x| c.contains(x))
                    })
                    .cloned()
                    .unwrap_or((table, columns, None));
                let (seen, sources) = found.entry(key).or_default();
                for i in users {
                    if !seen.contains(&i) {
                        seen.push(i);
                    }
                }
                if !sources.contains(&Source::Qualstats) {
                    sources.push(Source::Qualstats);
                }
            }
            Ok(format!("{version} ({n} predicates of the workload)"))
        }
        Err(why) => Err(why),
    };
    let mut candidates: Vec<Candidate> = found
        .into_iter()
        .map(
            |((table, columns, predicate), (statements, sources))| Candidate {
                table,
                columns,
                predicate,
                statements,
                sources,
                saved: None,
                write_cost: None,
                skip: None,
            },
        )
        .collect();
    for c in &mut candidates {
        c.skip = match crate::tune::index_step(pool, &c.spec(), existing).await? {
            crate::tune::IndexStep::ServedBy(name) => Some(format!("served by {name}")),
            crate::tune::IndexStep::Present => Some("present".into()),
            crate::tune::IndexStep::Impossible(why) => Some(format!("impossible: {why}")),
            _ => None,
        };
    }
    if hypopg.is_ok() {
        for c in candidates.iter_mut().filter(|c| c.skip.is_none()) {
            score(conn, c, &statements, &costs, writes).await?;
        }
        candidates.sort_by(|a, b| {
            b.score()
                .unwrap_or(f64::MIN)
                .total_cmp(&a.score().unwrap_or(f64::MIN))
        });
    } else {
        let time =
            |c: &Candidate| -> f64 { c.statements.iter().map(|&i| statements[i].total_ms).sum() };
        candidates.sort_by(|a, b| time(b).total_cmp(&time(a)));
    }
    // A candidate whose keys lead another advised one on the same table, with the same
    // condition, is served by it: only the longer is advised. Of two with the same keys
    // and different conditions, only the better.
    let advised: Vec<(String, Vec<String>, Option<String>, f64)> = candidates
        .iter()
        .filter(|c| c.advised())
        .map(|c| {
            let score = c.score().unwrap_or_default();
            (
                c.table.clone(),
                c.columns.clone(),
                c.predicate.clone(),
                score,
            )
        })
        .collect();
    for c in &mut candidates {
        if !c.advised() {
            continue;
        }
        let score = c.score().unwrap_or_default();
        let better = advised.iter().find(|(t, cols, p, s)| {
            *t == c.table
                && ((*p == c.predicate
                    && cols.len() > c.columns.len()
                    && cols[..c.columns.len()] == c.columns[..])
                    || (*cols == c.columns && *p != c.predicate && *s > score))
        });
        if let Some((_, cols, p, _)) = better {
            c.skip = Some(format!(
                "served by the advised ({}){}",
                cols.join(", "),
                p.as_deref()
                    .map_or(String::new(), |p| format!(" WHERE {p}"))
            ));
        }
    }
    Ok(Advice {
        hypopg,
        qualstats,
        statements,
        errors,
        candidates,
    })
}

/// The predicates pg_qualstats sampled in this database: per AND-ed group of one
/// statement, the table and the columns it compared with `=` (by name, in column
/// order); or why there are none (not installed, not preloaded).
async fn qualstats(
    conn: &mut PgConnection,
) -> anyhow::Result<Result<(String, Vec<(String, Vec<String>)>), String>> {
    let version: Option<String> = sqlx::query_scalar(
        "SELECT extversion::text FROM pg_extension WHERE extname = 'pg_qualstats'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(version) = version else {
        return Ok(Err(
            "not in this database (CREATE EXTENSION pg_qualstats, with the library in \
             shared_preload_libraries): candidates come from the plans alone"
                .into(),
        ));
    };
    let preloaded: String =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')")
            .fetch_one(&mut *conn)
            .await?;
    if !preloaded.split(',').any(|l| l.trim() == "pg_qualstats") {
        return Ok(Err(format!(
            "{version}, but not in shared_preload_libraries (it samples nothing): candidates \
             come from the plans alone"
        )));
    }
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT q.relid::regclass::text, array_agg(DISTINCT a.attname::text ORDER BY a.attname::text) \
         FROM (SELECT coalesce(lrelid, rrelid) AS relid, \
                      CASE WHEN lrelid IS NOT NULL THEN lattnum ELSE rattnum END AS attnum, \
                      opno, coalesce(qualid, qualnodeid) AS grp, queryid, dbid \
               FROM pg_qualstats() WHERE lrelid IS NOT NULL OR rrelid IS NOT NULL) q \
         JOIN pg_operator o ON o.oid = q.opno AND o.oprname = '=' \
         JOIN pg_attribute a ON a.attrelid = q.relid AND a.attnum = q.attnum \
         WHERE q.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         GROUP BY q.relid, q.grp, q.queryid",
    )
    .fetch_all(&mut *conn)
    .await
    .context("reading pg_qualstats()")?;
    let mut wants: Vec<(String, Vec<String>)> = rows;
    wants.sort();
    wants.dedup();
    Ok(Ok((version, wants)))
}

/// The statements whose text names `table` (schema-qualified or not) as a word.
fn statements_naming(statements: &[Statement], table: &str) -> Vec<usize> {
    let bare = table.rsplit('.').next().unwrap_or(table).trim_matches('"');
    let word = Regex::new(&format!(r"(?i)\b{}\b", regex::escape(bare))).expect("an escaped name");
    statements
        .iter()
        .enumerate()
        .filter(|(_, s)| word.is_match(&s.query))
        .map(|(i, _)| i)
        .collect()
}

/// hypopg in this transaction: there, or created now (rolled back at the end).
async fn hypopg(conn: &mut PgConnection) -> anyhow::Result<Result<String, String>> {
    let available: Option<String> = sqlx::query_scalar(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'hypopg'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if available.is_none() {
        return Ok(Err(
            "hypopg is not installed (Debian: apt-get install postgresql-15-hypopg): candidates \
             are listed without costs"
                .into(),
        ));
    }
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS hypopg")
        .execute(&mut *conn)
        .await?;
    let version: String =
        sqlx::query_scalar("SELECT extversion::text FROM pg_extension WHERE extname = 'hypopg'")
            .fetch_one(&mut *conn)
            .await?;
    Ok(Ok(version))
}

/// The generic plan's root (`Plan` of `EXPLAIN (FORMAT JSON)`), or PostgreSQL's error.
async fn generic_plan(
    conn: &mut PgConnection,
    i: usize,
    query: &str,
) -> anyhow::Result<Result<Value, String>> {
    let params = PARAMS
        .captures_iter(query)
        .filter_map(|c| c[1].parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    let name = format!("koprogo_perf_advise_{i}");
    sqlx::raw_sql("SAVEPOINT advise")
        .execute(&mut *conn)
        .await?;
    let prepared = sqlx::raw_sql(&format!("PREPARE {name} AS {query}"))
        .execute(&mut *conn)
        .await;
    if let Err(e) = prepared {
        sqlx::raw_sql("ROLLBACK TO SAVEPOINT advise")
            .execute(&mut *conn)
            .await?;
        return Ok(Err(message(e)));
    }
    let plan = explain_prepared(conn, &name, params).await;
    match &plan {
        Ok(_) => sqlx::raw_sql("RELEASE SAVEPOINT advise"),
        Err(_) => sqlx::raw_sql("ROLLBACK TO SAVEPOINT advise"),
    }
    .execute(&mut *conn)
    .await?;
    // Prepared statements outlive transactions.
    sqlx::raw_sql(&format!("DEALLOCATE {name}"))
        .execute(&mut *conn)
        .await?;
    Ok(plan.map_err(message))
}

async fn explain_prepared(
    conn: &mut PgConnection,
    name: &str,
    params: usize,
) -> Result<Value, sqlx::Error> {
    let args = if params == 0 {
        String::new()
    } else {
        format!("({})", vec!["NULL"; params].join(", "))
    };
    let plan: Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE {name}{args}"))
        .fetch_one(&mut *conn)
        .await?;
    Ok(plan[0]["Plan"].clone())
}

fn message(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        e => e.to_string(),
    }
}

/// What a plan asks an index for: (table, key columns, `IS NULL` condition, why).
type Want = (String, Vec<String>, Option<String>, Source);

/// Which part of a plan a candidate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A scan's `=` and `IS NULL` conditions.
    Filter,
    /// A join's key on a side that no `=` condition of its own narrows.
    Join,
    /// A sort over one table's rows (its `=` conditions, then the sort keys).
    OrderBy,
    /// The `=` conditions pg_qualstats saw the workload evaluate, AND-ed together.
    Qualstats,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Filter => "filter",
            Source::Join => "join",
            Source::OrderBy => "ORDER BY",
            Source::Qualstats => "pg_qualstats",
        }
    }
}

/// What a scan of the plan read: its table, how the plan names it, and its conditions.
struct ScanSeen {
    table: String,
    alias: String,
    eq: Vec<String>,
}

/// Everything the plan asks an index for: each scan that filters rows, each side of a
/// join whose key an index could look up, each sort of one table's rows.
fn scans(node: &Value) -> Vec<Want> {
    let mut out = Vec::new();
    walk(node, &mut out);
    out
}

/// Walks `node`, adding its wants to `out`; returns the scans under it.
fn walk(node: &Value, out: &mut Vec<Want>) -> Vec<ScanSeen> {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    if let Some(relation) = node["Relation Name"].as_str()
        && kind.contains("Scan")
    {
        return vec![scan(node, kind, relation, out)];
    }
    let mut seen = Vec::new();
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            seen.extend(walk(child, out));
        }
    }
    for key in ["Hash Cond", "Merge Cond", "Join Filter"] {
        if let Some(text) = node[key].as_str() {
            // A side its own `=` conditions already narrow is looked up by them (its
            // filter candidate); a hash or merge join never looks the rest up by key.
            for (alias, column) in join_keys(text) {
                if let Some(s) = seen.iter().find(|s| s.alias == alias && s.eq.is_empty()) {
                    out.push((s.table.clone(), vec![column], None, Source::Join));
                }
            }
        }
    }
    if kind.ends_with("Sort")
        && let Some(sort) = node["Sort Key"].as_array()
        && let Some((s, columns)) = sort_keys(sort, &seen)
    {
        out.push((s.table.clone(), keys(&s.eq, columns), None, Source::OrderBy));
    }
    seen
}

/// A scan's filter candidates (added to `out`), and what it read.
fn scan(node: &Value, kind: &str, relation: &str, out: &mut Vec<Want>) -> ScanSeen {
    let mut columns = Vec::new();
    let mut nulls = Vec::new();
    for key in ["Index Cond", "Recheck Cond", "Filter"] {
        if let Some(text) = node[key].as_str() {
            let (eq, null) = conditions(text);
            columns = keys(&columns, eq);
            nulls = keys(&nulls, null);
        }
    }
    let schema = node["Schema"].as_str().unwrap_or("public");
    let table = if schema == "public" {
        relation.to_string()
    } else {
        format!("{schema}.{relation}")
    };
    // Without a condition on a filtered column, an index is no better than the
    // scan; one on the table's rows by a `=` key is what the workload asks for.
    let filtered = node["Filter"].is_string() || kind != "Seq Scan";
    if !columns.is_empty() && filtered {
        out.push((table.clone(), columns.clone(), None, Source::Filter));
        if !nulls.is_empty() {
            let predicate = nulls
                .iter()
                .map(|c| format!("{c} IS NULL"))
                .collect::<Vec<_>>()
                .join(" AND ");
            out.push((
                table.clone(),
                columns.clone(),
                Some(predicate),
                Source::Filter,
            ));
        }
    }
    ScanSeen {
        alias: node["Alias"].as_str().unwrap_or(relation).to_string(),
        table,
        eq: columns,
    }
}

/// `first`, then each of `more` not already in it.
fn keys(first: &[String], more: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut all = first.to_vec();
    for c in more {
        if !all.contains(&c) {
            all.push(c);
        }
    }
    all
}

/// Both sides of each equality between two tables' columns in a join condition, as
/// EXPLAIN prints it (`(uo.owner_id = o.id)`): (alias, column).
fn join_keys(text: &str) -> Vec<(String, String)> {
    JOIN_KEYS
        .captures_iter(text)
        .flat_map(|c| {
            [
                (c[1].to_string(), c[2].to_string()),
                (c[3].to_string(), c[4].to_string()),
            ]
        })
        .collect()
}

/// The scan a sort orders and its keys as index columns (`expense_date DESC`), when
/// every key is a plain column of that one table, in an order an index can give (ASC
/// with NULLS LAST or DESC with NULLS FIRST, PostgreSQL's defaults).
fn sort_keys<'a>(sort: &[Value], seen: &'a [ScanSeen]) -> Option<(&'a ScanSeen, Vec<String>)> {
    let mut table: Option<&ScanSeen> = None;
    let mut columns = Vec::new();
    for key in sort {
        let c = SORT_KEY.captures(key.as_str()?)?;
        let s = match c.get(1) {
            Some(alias) => seen.iter().find(|s| s.alias == alias.as_str())?,
            None if seen.len() == 1 => &seen[0],
            None => return None,
        };
        if table.is_some_and(|t| !std::ptr::eq(t, s)) {
            return None;
        }
        table = Some(s);
        columns.push(format!("{}{}", &c[2], c.get(3).map_or("", |d| d.as_str())));
    }
    Some((table?, columns))
}

/// The columns a condition compares with `=` to a parameter or a constant, and those it
/// requires to be NULL, as EXPLAIN prints them (`((status)::text = $2)`, `(building_id =
/// $1)`, `(end_date IS NULL)`), or to the outer side's column in a nested loop's inner
/// scan (`(owner_id = o.id)`: a lookup per outer row). A join's own condition, qualified
/// on both sides (`o.id = uo.owner_id`), is [`join_keys`]'s.
pub fn conditions(text: &str) -> (Vec<String>, Vec<String>) {
    let (eq, null) = (&*EQ, &*IS_NULL);
    let mut a: Vec<String> = Vec::new();
    for c in eq.captures_iter(text) {
        if !a.contains(&c[1].to_string()) {
            a.push(c[1].to_string());
        }
    }
    let b = null.captures_iter(text).map(|c| c[1].to_string()).collect();
    (a, b)
}

/// Creates `candidate` as a hypothetical index, plans its statements again, and sets
/// its cost saved and write cost.
async fn score(
    conn: &mut PgConnection,
    candidate: &mut Candidate,
    statements: &[Statement],
    costs: &[Option<f64>],
    writes: &BTreeMap<String, i64>,
) -> anyhow::Result<()> {
    let spec = candidate.spec();
    let mut create = format!("CREATE INDEX ON {} ({})", candidate.table, spec.columns);
    if let Some(p) = &candidate.predicate {
        create.push_str(&format!(" WHERE {p}"));
    }
    let oid: i64 = sqlx::query_scalar("SELECT indexrelid::int8 FROM hypopg_create_index($1)")
        .bind(&create)
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("hypopg_create_index('{create}')"))?;
    let mut saved = 0.0;
    for &i in &candidate.statements {
        let Some(before) = costs[i] else { continue };
        if let Ok(plan) = generic_plan(conn, i, &statements[i].query).await?
            && let Some(after) = plan["Total Cost"].as_f64()
        {
            saved += (before - after).max(0.0) * statements[i].calls as f64;
        }
    }
    sqlx::query("SELECT hypopg_drop_index($1::oid)")
        .bind(oid)
        .execute(&mut *conn)
        .await?;
    let random_page_cost: f64 =
        sqlx::query_scalar("SELECT current_setting('random_page_cost')::float8")
            .fetch_one(&mut *conn)
            .await?;
    let rows = writes.get(&spec.table).copied().unwrap_or(0);
    candidate.saved = Some(saved);
    candidate.write_cost = Some(rows as f64 * random_page_cost);
    Ok(())
}

/// The table an INSERT, UPDATE or DELETE names.
static WRITTEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:/\*.*?\*/\s*)*(?:insert\s+into|update|delete\s+from)\s+([a-z_][a-z0-9_.]*)",
    )
    .expect("a valid regex")
});

static PARAMS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$(\d+)").expect("a valid regex"));

static JOIN_KEYS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\(?([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\)?(?:::[a-z][a-z ]*?)? = \(?([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)")
        .expect("a valid regex")
});

static SORT_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:([a-z_][a-z0-9_]*)\.)?([a-z_][a-z0-9_]*)( DESC)?$").expect("a valid regex")
});

static EQ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\(\(?([a-z_][a-z0-9_]*)\)?(?:::[a-z][a-z ]*?)? = (?:\$\d|'|-?\d|true|false|[a-z_][a-z0-9_]*\.)")
        .expect("a valid regex")
});
static IS_NULL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(([a-z_][a-z0-9_]*) IS NULL\)").expect("a valid regex"));
/// A statement on the system catalogs or the statistics views (the tool's own, a
/// monitoring agent's, psql's): no index of the application's serves it.
static CATALOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:pg_catalog|information_schema|pg_stat_\w+|pg_settings|pg_class|pg_index|pg_indexes|pg_namespace|pg_attribute|pg_constraint|pg_extension|pg_database|pg_roles|pg_am|pg_operator|pg_proc|pg_type|pg_locks|pg_tables|hypopg\w*|pg_qualstats\w*)\b",
    )
    .expect("a valid regex")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_from_explain_text() {
        assert_eq!(
            conditions("((building_id = $1) AND ((status)::text = $2))"),
            (
                vec!["building_id".to_string(), "status".to_string()],
                vec![]
            )
        );
        assert_eq!(
            conditions("((end_date IS NULL) AND (unit_id = $1))"),
            (vec!["unit_id".to_string()], vec!["end_date".to_string()])
        );
        assert_eq!(conditions("(o.id = uo.owner_id)"), (vec![], vec![]));
        assert_eq!(
            conditions("(parent_id = p.id)"),
            (vec!["parent_id".to_string()], vec![])
        );
        assert_eq!(
            join_keys("((uo.owner_id = o.id) AND ((e.code)::text = (a.code)::text))"),
            [
                ("uo", "owner_id"),
                ("o", "id"),
                ("e", "code"),
                ("a", "code")
            ]
            .map(|(a, c)| (a.to_string(), c.to_string()))
        );
        assert!(plannable("/* GET /x */ SELECT 1"));
        assert!(plannable("with a as (select 1) select * from a"));
        assert!(!plannable("INSERT INTO t VALUES ($1)"));
        assert!(!plannable("/* x */ BEGIN"));
        // The tool's own catalog reads are no workload (they showed as "not planned").
        assert!(!plannable(
            "SELECT name, setting FROM pg_settings WHERE name = ANY($1)"
        ));
        assert!(!plannable(
            "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = $1"
        ));
        assert!(!plannable("SELECT * FROM hypopg_create_index($1)"));
        assert!(plannable("SELECT * FROM expenses WHERE building_id = $1"));
        let s = |q: &str| Statement {
            query: q.into(),
            calls: 3,
            total_ms: 1.0,
            rows: 7,
        };
        assert_eq!(
            written(&s(
                "/* POST /x */ INSERT INTO public.expenses (a) VALUES ($1)"
            )),
            Some(("expenses".into(), 7))
        );
        assert_eq!(
            written(&s("update units set a = $1")),
            Some(("units".into(), 7))
        );
        assert_eq!(written(&s("SELECT 1")), None);
    }

    #[test]
    fn joins_and_sorts_give_candidates() {
        let plan = serde_json::json!({
            "Node Type": "Limit",
            "Plans": [{
                "Node Type": "Sort",
                "Sort Key": ["c.created DESC"],
                "Plans": [{
                    "Node Type": "Hash Join",
                    "Hash Cond": "(c.parent_id = p.id)",
                    "Plans": [
                        {"Node Type": "Seq Scan", "Relation Name": "t_child", "Alias": "c",
                         "Filter": "((kind)::text = $2)"},
                        {"Node Type": "Hash", "Plans": [
                            {"Node Type": "Seq Scan", "Relation Name": "t_parent", "Alias": "p",
                             "Filter": "(name = $1)"}
                        ]}
                    ]
                }]
            }]
        });
        let wants: Vec<(String, String, Source)> = scans(&plan)
            .into_iter()
            .map(|(t, c, _, s)| (t, c.join(", "), s))
            .collect();
        let want = |t: &str, c: &str, s| (t.to_string(), c.to_string(), s);
        assert_eq!(
            wants,
            vec![
                want("t_child", "kind", Source::Filter),
                want("t_parent", "name", Source::Filter),
                // Both sides filter by `=`: a hash join looks neither up by its key.
                want("t_child", "kind, created DESC", Source::OrderBy),
            ]
        );
        // A side nothing else narrows is looked up by its join key.
        let join = serde_json::json!({
            "Node Type": "Hash Join", "Hash Cond": "(c.parent_id = p.id)",
            "Plans": [
                {"Node Type": "Seq Scan", "Relation Name": "t_child", "Alias": "c"},
                {"Node Type": "Hash", "Plans": [{"Node Type": "Seq Scan",
                    "Relation Name": "t_parent", "Alias": "p", "Filter": "(name = $1)"}]}
            ]
        });
        let wants: Vec<(String, String, Source)> = scans(&join)
            .into_iter()
            .map(|(t, c, _, s)| (t, c.join(", "), s))
            .collect();
        assert_eq!(
            wants,
            vec![
                want("t_parent", "name", Source::Filter),
                want("t_child", "parent_id", Source::Join),
            ]
        );
        // Keys of two tables, or an expression, give no sort candidate.
        let two = serde_json::json!({
            "Node Type": "Sort", "Sort Key": ["c.created", "p.name"],
            "Plans": [
                {"Node Type": "Seq Scan", "Relation Name": "t_child", "Alias": "c"},
                {"Node Type": "Seq Scan", "Relation Name": "t_parent", "Alias": "p"}
            ]
        });
        assert!(scans(&two).is_empty());
        let expr = serde_json::json!({
            "Node Type": "Sort", "Sort Key": ["(count(*)) DESC"],
            "Plans": [{"Node Type": "Seq Scan", "Relation Name": "t_child", "Alias": "t_child"}]
        });
        assert!(scans(&expr).is_empty());
    }
}
