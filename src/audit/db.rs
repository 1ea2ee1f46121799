//! The audit's database checks: pg_stat_statements, foreign keys without an index (and,
//! as evidence, the indexes already there that duplicate others, are prefixes of others
//! or were never scanned), the guide's two indexes, and the profile's settings
//! (`tune-db`'s diff).
//!
//! Everything here is a SELECT or an `EXPLAIN` that is planned, never run
//! (`tune::plan`, which resolves the profile's index conditions that way,
//! `tune::read_settings`, `tune::catalog::indexes` and
//! `tune::indexes::unindexed_foreign_keys` included), on a session that PostgreSQL
//! itself keeps read-only (`default_transaction_read_only = on`, set at connection
//! time), so that a `CREATE EXTENSION`, an index build or any row change slipped in by
//! mistake would be refused. `ALTER SYSTEM` is the exception PostgreSQL makes (it
//! counts it as read-only): it is simply never sent. Any role that can read
//! `pg_settings` and the catalogs will do; a superuser also sees which file a setting
//! comes from.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{CannotAudit, Check, CheckId, root_cause};
use crate::tune::indexes::UnindexedForeignKey;
use crate::tune::profile::Profile;

/// The guide's two indexes ("Query Optimization"), by name.
pub const GUIDE_INDEXES: [&str; 2] = [
    "idx_expenses_building_status",
    "idx_unit_owners_unit_active",
];

/// Where a failed database check's fix is.
const FIX: &str = "koprogo-perf tune-db --apply fixes it";
/// The fix when the right values are saved and only wait for a restart.
const RESTART: &str = "restart PostgreSQL to apply it";

/// Connects a small pool whose sessions are read-only.
pub async fn connect_read_only(url: &str) -> Result<PgPool, CannotAudit> {
    let error = |detail: String| CannotAudit::Database {
        url: crate::pg::redact_url(url),
        detail,
    };
    // The parse error is not shown: it may quote the URL, password included.
    let options: PgConnectOptions = url.parse().map_err(|_| {
        error("not a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)".into())
    })?;
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(error(
            "not a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)".into(),
        ));
    }
    let options = options
        .application_name("koprogo-perf audit")
        .options([("default_transaction_read_only", "on")]);
    crate::pg::probe(&options).await.map_err(error)?;
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| error(root_cause(&e)))
}

/// A check's query failed: it is "not checked", with the reason.
fn query_failed(id: CheckId, e: impl std::fmt::Display) -> Check {
    Check::not_checked(id, format!("reading the database: {e}"))
}

/// pg_stat_statements: preloaded (`shared_preload_libraries`) and created in this
/// database (`pg_extension`). Both are needed before it records anything.
pub async fn pg_stat_statements(pool: &PgPool) -> Check {
    let id = CheckId::PgStatStatements;
    let row: Result<(String, bool, String, Option<String>), _> = sqlx::query_as(
        "SELECT setting, pending_restart, current_database()::text, \
                (SELECT extversion::text FROM pg_extension WHERE extname = 'pg_stat_statements') \
           FROM pg_settings WHERE name = 'shared_preload_libraries'",
    )
    .fetch_one(pool)
    .await;
    match row {
        Ok((preload, pending, database, version)) => {
            judge_pgss(&preload, pending, &database, version.as_deref())
        }
        Err(e) => query_failed(id, e),
    }
}

/// Judges pg_stat_statements from `shared_preload_libraries` (and whether a new value
/// of it waits for a restart), the database's name and the extension's version when it
/// is created there.
pub fn judge_pgss(
    preload: &str,
    pending_restart: bool,
    database: &str,
    version: Option<&str>,
) -> Check {
    let id = CheckId::PgStatStatements;
    let preloaded = crate::tune::split_libraries(preload)
        .iter()
        .any(|l| l == "pg_stat_statements");
    let libraries = format!("shared_preload_libraries = '{preload}'");
    let extension = match version {
        Some(v) => format!("extension {v} created in database {database}"),
        None => format!("extension not created in database {database}"),
    };
    if preloaded && version.is_some() {
        Check::pass(id, format!("{libraries}; {extension}"))
    } else {
        let (library, fix) = match (preloaded, pending_restart) {
            (true, _) => (libraries, FIX),
            (false, true) => (
                format!("not in {libraries} (a new value is saved, waiting for a restart)"),
                if version.is_some() { RESTART } else { FIX },
            ),
            (false, false) => (format!("not in {libraries}"), FIX),
        };
        Check::fail(id, format!("{library}; {extension}; {fix}"))
    }
}

/// Foreign keys that no index leads with (`tune::indexes::unindexed_foreign_keys`).
pub async fn foreign_key_indexes(pool: &PgPool) -> Check {
    let id = CheckId::ForeignKeyIndexes;
    let total: Result<i64, _> = sqlx::query_scalar(
        "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
          WHERE c.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_one(pool)
    .await;
    let total = match total {
        Ok(t) => t,
        Err(e) => return query_failed(id, e),
    };
    let mut check = match crate::tune::indexes::unindexed_foreign_keys(pool).await {
        Ok(missing) => judge_foreign_keys(total as u64, &missing),
        Err(e) => return query_failed(id, e),
    };
    let waste = match crate::tune::catalog::indexes(pool).await {
        Ok(indexes) => crate::tune::catalog::findings(&indexes),
        Err(e) => return query_failed(id, e),
    };
    let reset = crate::tune::catalog::stats_reset(pool).await.ok().flatten();
    if let Some(more) = waste_evidence(&waste, reset.as_deref()) {
        check.evidence = format!("{}; {more}", check.evidence);
    }
    check
}

/// The indexes already there that cost writes and space for nothing (duplicates and
/// prefixes of another, each named with its size) or for nothing seen yet (no scan since
/// the statistics were reset: a count and their size). Evidence only: the check's
/// status is the foreign keys'. `None` when there is none.
pub fn waste_evidence(
    findings: &[crate::tune::catalog::Finding],
    stats_reset: Option<&str>,
) -> Option<String> {
    use crate::tune::catalog::{Waste, size_text};
    let mut parts = Vec::new();
    let redundant: Vec<String> = findings
        .iter()
        .filter(|f| f.kind != Waste::Unused)
        .map(|f| {
            format!(
                "{} ({}, {} {})",
                f.index,
                size_text(f.size_bytes),
                if f.kind == Waste::Duplicate {
                    "duplicate of"
                } else {
                    "prefix of"
                },
                f.of.as_deref().unwrap_or_default()
            )
        })
        .collect();
    if !redundant.is_empty() {
        parts.push(format!(
            "{} redundant indexes: {}",
            redundant.len(),
            redundant.join(", ")
        ));
    }
    let unused: Vec<&crate::tune::catalog::Finding> = findings
        .iter()
        .filter(|f| f.kind == Waste::Unused)
        .collect();
    if !unused.is_empty() {
        parts.push(format!(
            "{} indexes with no scan since {} ({})",
            unused.len(),
            stats_reset.map_or("the statistics began (never reset)".to_string(), |t| {
                format!("the statistics were reset ({t})")
            }),
            size_text(unused.iter().map(|f| f.size_bytes).sum())
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Judges the foreign keys: `total` of them, `missing` without an index.
pub fn judge_foreign_keys(total: u64, missing: &[UnindexedForeignKey]) -> Check {
    let id = CheckId::ForeignKeyIndexes;
    if total == 0 {
        return Check::not_checked(
            id,
            "no foreign key in the database: is --database-url the API's database?",
        );
    }
    if missing.is_empty() {
        return Check::pass(
            id,
            format!("each of the {total} foreign keys has an index that leads with its column"),
        );
    }
    let names: Vec<String> = missing
        .iter()
        .map(|fk| format!("{}({})", fk.table_name, fk.columns))
        .collect();
    Check::fail(
        id,
        format!(
            "{} of {total} foreign keys have no index leading with them: {}; {FIX}",
            missing.len(),
            names.join(", ")
        ),
    )
}

/// One index as the catalog has it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IndexRow {
    pub name: String,
    /// `pg_index.indisvalid`: usable by queries (false after a failed concurrent build).
    pub valid: bool,
    /// `pg_index.indisready`: kept up to date by writes.
    pub ready: bool,
    /// `pg_get_indexdef`.
    pub definition: String,
}

/// The guide's two indexes: present (by name, in the search path), valid and ready.
pub async fn guide_indexes(pool: &PgPool) -> Check {
    let rows: Result<Vec<IndexRow>, _> = sqlx::query_as(
        "SELECT c.relname::text AS name, i.indisvalid AS valid, i.indisready AS ready, \
                pg_get_indexdef(c.oid) AS definition \
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
          WHERE c.relname = ANY($1) AND pg_catalog.pg_table_is_visible(c.oid)",
    )
    .bind(&GUIDE_INDEXES[..])
    .fetch_all(pool)
    .await;
    match rows {
        Ok(rows) => judge_guide_indexes(&rows),
        Err(e) => query_failed(CheckId::GuideIndexes, e),
    }
}

/// `CREATE INDEX name ON public.expenses USING btree (building_id, status)` →
/// `expenses (building_id, status)`.
fn short_definition(definition: &str) -> String {
    let target = definition
        .split_once(" ON ")
        .map_or(definition, |(_, rest)| rest)
        .replacen("USING btree ", "", 1);
    target
        .strip_prefix("public.")
        .unwrap_or(&target)
        .to_string()
}

/// Judges the guide's indexes from the catalog rows found under their names.
pub fn judge_guide_indexes(rows: &[IndexRow]) -> Check {
    let id = CheckId::GuideIndexes;
    let mut all_good = true;
    let mut parts = Vec::new();
    for name in GUIDE_INDEXES {
        match rows.iter().find(|r| r.name == name) {
            None => {
                all_good = false;
                parts.push(format!("{name}: missing"));
            }
            Some(r) if r.valid && r.ready => {
                parts.push(format!(
                    "{name} on {}: valid",
                    short_definition(&r.definition)
                ));
            }
            Some(r) => {
                all_good = false;
                parts.push(format!(
                    "{name}: INVALID{} (a failed concurrent build: it slows writes and serves no \
                     query)",
                    if r.ready { "" } else { ", not ready" }
                ));
            }
        }
    }
    if all_good {
        Check::pass(id, parts.join("; "))
    } else {
        Check::fail(id, format!("{}; {FIX}", parts.join("; ")))
    }
}

/// One setting of the profile that the server does not have in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingDiff {
    pub name: String,
    /// In effect (`SHOW`).
    pub current: String,
    /// The profile's.
    pub target: String,
    /// `restart` or `reload`.
    pub needs: String,
    /// A value is saved (postgresql.auto.conf) and waits for a restart.
    pub pending_restart: bool,
}

/// The profile's settings against the server's, through `tune-db`'s diff.
pub async fn settings(pool: &PgPool, profile: &Profile) -> Check {
    let id = CheckId::Settings;
    let plan = match crate::tune::plan(pool, profile.clone()).await {
        Ok(p) => p,
        Err(e) => return Check::not_checked(id, format!("profile {}: {e:#}", profile.name)),
    };
    let server = match crate::tune::read_settings(pool).await {
        Ok(s) => s,
        Err(e) => return query_failed(id, format!("{e:#}")),
    };
    let pending: HashMap<&str, bool> = server
        .values()
        .map(|s| (s.name.as_str(), s.pending_restart))
        .collect();
    let differing: Vec<SettingDiff> = plan
        .settings
        .iter()
        .filter_map(|s| {
            let pending_restart = pending.get(s.name.as_str()).copied().unwrap_or(false);
            (s.changes || pending_restart).then(|| SettingDiff {
                name: s.name.clone(),
                current: s.current.clone(),
                target: s.target.clone(),
                needs: s.needs.label().to_string(),
                pending_restart,
            })
        })
        .collect();
    judge_settings(&plan.profile.name, plan.settings.len(), &differing)
}

/// Judges the settings: `total` in the profile, `differing` not in effect.
pub fn judge_settings(profile: &str, total: usize, differing: &[SettingDiff]) -> Check {
    let id = CheckId::Settings;
    if differing.is_empty() {
        return Check::pass(
            id,
            format!("the {total} settings of profile {profile} are in effect"),
        );
    }
    let items: Vec<String> = differing
        .iter()
        .map(|d| {
            let note = if d.pending_restart {
                "saved, waiting for a restart".to_string()
            } else if matches!(d.needs.as_str(), "restart" | "reload") {
                format!("needs a {}", d.needs)
            } else {
                d.needs.clone()
            };
            let shown = |v: &str| {
                if v.is_empty() {
                    "''".to_string()
                } else {
                    v.to_string()
                }
            };
            if d.current == d.target {
                format!("{} {} ({note})", d.name, shown(&d.current))
            } else {
                format!(
                    "{} {} → {} ({note})",
                    d.name,
                    shown(&d.current),
                    shown(&d.target)
                )
            }
        })
        .collect();
    let fix = if differing.iter().all(|d| d.pending_restart) {
        RESTART
    } else {
        FIX
    };
    Check::fail(
        id,
        format!(
            "{} of {total} settings differ from profile {profile}: {}; {fix}",
            differing.len(),
            items.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Status;

    #[test]
    fn pg_stat_statements_needs_the_library_and_the_extension() {
        let ok = judge_pgss("pg_stat_statements", false, "koprogo", Some("1.10"));
        assert_eq!(ok.status, Status::Pass);
        assert_eq!(
            ok.evidence,
            "shared_preload_libraries = 'pg_stat_statements'; extension 1.10 created in database koprogo"
        );
        let none = judge_pgss("", false, "koprogo", None);
        assert_eq!(none.status, Status::Fail);
        assert_eq!(
            none.evidence,
            "not in shared_preload_libraries = ''; extension not created in database koprogo; \
             koprogo-perf tune-db --apply fixes it"
        );
        let saved = judge_pgss("", true, "koprogo", Some("1.10"));
        assert_eq!(saved.status, Status::Fail);
        assert_eq!(
            saved.evidence,
            "not in shared_preload_libraries = '' (a new value is saved, waiting for a restart); \
             extension 1.10 created in database koprogo; restart PostgreSQL to apply it"
        );
        assert_eq!(
            judge_pgss("auto_explain, pg_stat_statements", false, "k", None).status,
            Status::Fail
        );
        assert_eq!(
            judge_pgss("auto_explain", false, "k", Some("1.10")).status,
            Status::Fail
        );
        assert_eq!(
            judge_pgss(
                "auto_explain,\"pg_stat_statements\"",
                false,
                "k",
                Some("1.10")
            )
            .status,
            Status::Pass
        );
    }

    #[test]
    fn foreign_keys_are_listed_when_unindexed() {
        let fk = |t: &str, c: &str| UnindexedForeignKey {
            table_name: t.into(),
            constraint_name: format!("{t}_{c}_fkey"),
            columns: c.into(),
            relname: t.into(),
            visible: true,
        };
        assert_eq!(judge_foreign_keys(0, &[]).status, Status::NotChecked);
        let ok = judge_foreign_keys(14, &[]);
        assert_eq!(ok.status, Status::Pass);
        assert_eq!(
            ok.evidence,
            "each of the 14 foreign keys has an index that leads with its column"
        );
        let bad = judge_foreign_keys(
            14,
            &[
                fk("expenses", "building_id"),
                fk("units", "organization_id"),
            ],
        );
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(
            bad.evidence,
            "2 of 14 foreign keys have no index leading with them: expenses(building_id), \
             units(organization_id); koprogo-perf tune-db --apply fixes it"
        );
    }

    #[test]
    fn redundant_and_unused_indexes_are_evidence() {
        use crate::tune::catalog::{Finding, Waste};
        let finding = |kind, index: &str, of: Option<&str>, size| Finding {
            kind,
            table: "kids".into(),
            index: index.into(),
            of: of.map(str::to_string),
            size_bytes: size,
            definition: String::new(),
        };
        assert_eq!(waste_evidence(&[], None), None);
        assert_eq!(
            waste_evidence(
                &[
                    finding(Waste::Duplicate, "kids_b", Some("kids_a"), 16384),
                    finding(Waste::Prefix, "kids_a", Some("kids_a_note"), 16384),
                    finding(Waste::Unused, "kids_c", None, 8192),
                    finding(Waste::Unused, "kids_d", None, 8192),
                ],
                None
            )
            .unwrap(),
            "2 redundant indexes: kids_b (16.0 kB, duplicate of kids_a), kids_a (16.0 kB, prefix \
             of kids_a_note); 2 indexes with no scan since the statistics began (never reset) \
             (16.0 kB)"
        );
    }

    #[test]
    fn the_guide_indexes_must_be_valid_and_ready() {
        let row = |name: &str, valid: bool, definition: &str| IndexRow {
            name: name.into(),
            valid,
            ready: valid,
            definition: definition.into(),
        };
        let good = [
            row(
                "idx_expenses_building_status",
                true,
                "CREATE INDEX idx_expenses_building_status ON public.expenses USING btree (building_id, status)",
            ),
            row(
                "idx_unit_owners_unit_active",
                true,
                "CREATE INDEX idx_unit_owners_unit_active ON public.unit_owners USING btree (unit_id) WHERE (end_date IS NULL)",
            ),
        ];
        let ok = judge_guide_indexes(&good);
        assert_eq!(ok.status, Status::Pass);
        assert_eq!(
            ok.evidence,
            "idx_expenses_building_status on expenses (building_id, status): valid; \
             idx_unit_owners_unit_active on unit_owners (unit_id) WHERE (end_date IS NULL): valid"
        );
        let missing = judge_guide_indexes(&good[..1]);
        assert_eq!(missing.status, Status::Fail);
        assert!(
            missing
                .evidence
                .contains("idx_unit_owners_unit_active: missing"),
            "{}",
            missing.evidence
        );
        let invalid = judge_guide_indexes(&[
            good[1].clone(),
            row("idx_expenses_building_status", false, ""),
        ]);
        assert_eq!(invalid.status, Status::Fail);
        assert!(
            invalid
                .evidence
                .starts_with("idx_expenses_building_status: INVALID, not ready"),
            "{}",
            invalid.evidence
        );
    }

    #[test]
    fn differing_settings_show_current_and_target() {
        assert_eq!(
            judge_settings("koprogo-vps", 15, &[]).evidence,
            "the 15 settings of profile koprogo-vps are in effect"
        );
        let diff =
            |name: &str, current: &str, target: &str, needs: &str, pending: bool| SettingDiff {
                name: name.into(),
                current: current.into(),
                target: target.into(),
                needs: needs.into(),
                pending_restart: pending,
            };
        let bad = judge_settings(
            "koprogo-vps",
            15,
            &[
                diff("shared_buffers", "128MB", "256MB", "restart", true),
                diff("work_mem", "1MB", "4MB", "reload", false),
                diff("max_wal_size", "4GB", "4GB", "reload", true),
                diff(
                    "shared_preload_libraries",
                    "",
                    "pg_stat_statements",
                    "restart",
                    false,
                ),
            ],
        );
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(
            bad.evidence,
            "4 of 15 settings differ from profile koprogo-vps: shared_buffers 128MB → 256MB (saved, \
             waiting for a restart), work_mem 1MB → 4MB (needs a reload), max_wal_size 4GB (saved, \
             waiting for a restart), shared_preload_libraries '' → pg_stat_statements (needs a \
             restart); koprogo-perf tune-db --apply fixes it"
        );
        let waiting = judge_settings(
            "koprogo-vps",
            15,
            &[diff("shared_buffers", "128MB", "256MB", "restart", true)],
        );
        assert!(
            waiting
                .evidence
                .ends_with("; restart PostgreSQL to apply it"),
            "{}",
            waiting.evidence
        );
    }
}
