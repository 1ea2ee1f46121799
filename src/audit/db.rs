//! The audit's database checks: pg_stat_statements, foreign keys without an index (and,
//! as evidence, the indexes already there that duplicate others, are prefixes of others
//! or were never scanned), the guide's two indexes, and the profile's settings
//! (`tune-db`'s diff).
//!
//! Everything here is a SELECT or an `EXPLAIN` that is planned, never run
//! (`tune::plan_settings` and `tune::plan_indexes`, which resolve the profile's index
//! conditions that way, `tune::catalog::indexes` and
//! `tune::indexes::unindexed_foreign_keys` included), on a session that PostgreSQL
//! itself keeps read-only (`default_transaction_read_only = on`, set at connection
//! time), so that a `CREATE EXTENSION`, an index build or any row change slipped in by
//! mistake would be refused. `ALTER SYSTEM` is the exception PostgreSQL makes (it
//! counts it as read-only): it is simply never sent.
//!
//! The application's own role will do. What it cannot see is said, not guessed:
//! PostgreSQL hides `shared_preload_libraries` from roles that are neither superuser
//! nor members of pg_read_all_settings, so the settings check compares the others and
//! says "shared_preload_libraries: not checked: needs pg_read_all_settings or
//! superuser", and the pg_stat_statements check asks the extension's own view
//! (`pg_stat_statements_info`, readable by every role) whether the library is loaded.
//! The catalogs (`pg_index`, `pg_constraint`, `pg_stat_all_indexes`) are readable by
//! any role; comparing a partial index's condition needs SELECT on its table.
//!
//! A failed check states a remedy only from tune-db's own plan ([`super::fixes`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::fixes::{PgssGap, TunePlan};
use super::{CannotAudit, Check, CheckId, Status, root_cause};
use crate::tune::catalog::{self, ExistingIndex};
use crate::tune::indexes::UnindexedForeignKey;
use crate::tune::profile::{IndexSpec, Profile};
use crate::tune::{self, Serving};

/// The guide's two indexes ("Query Optimization"), by the names the guide and the
/// koprogo-vps profile give them. Only the profile's definitions are matched against
/// the database: an index under another name that serves the same lookups counts.
pub const GUIDE_INDEXES: [&str; 2] = [
    "idx_expenses_building_status",
    "idx_unit_owners_unit_active",
];

/// The guide's indexes as `profile` (koprogo-vps) defines them, in the guide's order;
/// `Err` names one it lacks.
pub fn guide_specs(profile: &Profile) -> Result<Vec<IndexSpec>, String> {
    GUIDE_INDEXES
        .iter()
        .map(|name| {
            profile
                .indexes
                .iter()
                .find(|i| i.name == *name)
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "profile {} ({}) has no index {name}: audit takes the guide's indexes \
                         from it",
                        profile.name, profile.source
                    )
                })
        })
        .collect()
}

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

/// What the database checks need besides the pool.
#[derive(Debug, Clone)]
pub struct DbInputs {
    /// The settings and indexes to compare with, and to plan tune-db's remedies from.
    pub profile: Profile,
    /// `--profile` as given, for the remedies' commands.
    pub profile_arg: String,
    /// The guide's indexes ([`guide_specs`]).
    pub guide: Vec<IndexSpec>,
}

/// The four database checks, in order. tune-db's plan is read once for their
/// remedies. Each check runs as its own task: one that fails, even by a bug that
/// panics, is "not checked" and takes neither the others nor the HTTP results with it.
pub async fn checks(pool: &PgPool, inputs: &DbInputs) -> Vec<Check> {
    let plan = {
        let (pool, profile, arg) = (
            pool.clone(),
            inputs.profile.clone(),
            inputs.profile_arg.clone(),
        );
        match tokio::spawn(async move { TunePlan::read(&pool, &profile, &arg).await }).await {
            Ok(plan) => plan,
            Err(e) => TunePlan::unknown(
                &inputs.profile,
                &inputs.profile_arg,
                &format!(
                    "tune-db's plan failed inside koprogo-perf: {}",
                    panic_text(e)
                ),
            ),
        }
    };
    let plan = Arc::new(plan);
    let guide = Arc::new(inputs.guide.clone());
    let profile = inputs.profile.name.clone();
    let mut out = Vec::new();
    for id in [
        CheckId::PgStatStatements,
        CheckId::ForeignKeyIndexes,
        CheckId::GuideIndexes,
        CheckId::Settings,
    ] {
        let (pool, plan, guide, profile) =
            (pool.clone(), plan.clone(), guide.clone(), profile.clone());
        let task = tokio::spawn(async move {
            match id {
                CheckId::PgStatStatements => pg_stat_statements(&pool, &plan).await,
                CheckId::ForeignKeyIndexes => foreign_key_indexes(&pool, &plan).await,
                CheckId::GuideIndexes => guide_indexes(&pool, &guide, &plan).await,
                _ => settings(&pool, &plan, &profile).await,
            }
        });
        out.push(match task.await {
            Ok(check) => check,
            Err(e) => Check::not_checked(
                id,
                format!(
                    "the check failed inside koprogo-perf ({}): a bug, please report it",
                    panic_text(e)
                ),
            ),
        });
    }
    out
}

/// What a failed task says: its panic's message.
fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into()),
        Err(e) => e.to_string(),
    }
}

/// A check's query failed: it is "not checked", with the reason.
fn query_failed(id: CheckId, e: impl std::fmt::Display) -> Check {
    Check::not_checked(id, format!("reading the database: {e}"))
}

/// `shared_preload_libraries` as this role sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preload {
    /// Its value, and whether a new one is saved and waits for a restart.
    Listed {
        setting: String,
        pending_restart: bool,
    },
    /// Hidden from this role; the extension's own view answered (`true`: loaded) or
    /// refused because the library is not loaded (`false`).
    Probed(bool),
    /// Hidden from this role, and nothing else to ask (the extension is not created).
    Hidden,
}

/// pg_stat_statements: preloaded (`shared_preload_libraries`) and created in this
/// database (`pg_extension`). Both are needed before it records anything.
pub async fn pg_stat_statements(pool: &PgPool, plan: &TunePlan) -> Check {
    let id = CheckId::PgStatStatements;
    let row: Result<(String, Option<String>, Option<String>, bool), _> = sqlx::query_as(
        "SELECT current_database()::text, e.extversion::text, n.nspname::text, \
                EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') \
           FROM (SELECT 1) one \
           LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements' \
           LEFT JOIN pg_namespace n ON n.oid = e.extnamespace",
    )
    .fetch_one(pool)
    .await;
    let (database, version, schema, available) = match row {
        Ok(r) => r,
        Err(e) => return query_failed(id, e),
    };
    // PostgreSQL leaves the row out, rather than refuse, for a role that may not see it.
    let listed: Result<Option<(String, bool)>, _> = sqlx::query_as(
        "SELECT setting, pending_restart FROM pg_settings WHERE name = 'shared_preload_libraries'",
    )
    .fetch_optional(pool)
    .await;
    let preload = match listed {
        Ok(Some((setting, pending_restart))) => Preload::Listed {
            setting,
            pending_restart,
        },
        Ok(None) => match &schema {
            Some(schema) => match probe_loaded(pool, schema).await {
                Ok(loaded) => Preload::Probed(loaded),
                Err(e) => return query_failed(id, e),
            },
            None => Preload::Hidden,
        },
        Err(e) => return query_failed(id, e),
    };
    judge_pgss(&preload, &database, version.as_deref(), |gap| {
        plan.pg_stat_statements(PgssGap { available, ..gap })
    })
}

/// Asks the extension's view whether its library is loaded: it answers when it is,
/// and refuses with "must be loaded via shared_preload_libraries" (SQLSTATE 55000)
/// when not. `pg_stat_statements_info` is one row, and PUBLIC may read it.
async fn probe_loaded(pool: &PgPool, schema: &str) -> Result<bool, sqlx::Error> {
    let schema = schema.replace('"', "\"\"");
    let asked = sqlx::query(&format!(
        "SELECT dealloc FROM \"{schema}\".pg_stat_statements_info"
    ))
    .fetch_optional(pool)
    .await;
    match asked {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55000") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Judges pg_stat_statements from what was seen of `shared_preload_libraries`, the
/// database's name and the extension's version when it is created there. `fix` gives
/// the remedy for what is missing (its `available` is left true here).
pub fn judge_pgss(
    preload: &Preload,
    database: &str,
    version: Option<&str>,
    fix: impl FnOnce(PgssGap) -> String,
) -> Check {
    let id = CheckId::PgStatStatements;
    let (preloaded, pending_restart, libraries) = match preload {
        Preload::Listed {
            setting,
            pending_restart,
        } => (
            Some(
                tune::split_libraries(setting)
                    .iter()
                    .any(|l| l == "pg_stat_statements"),
            ),
            *pending_restart,
            format!("shared_preload_libraries = '{setting}'"),
        ),
        Preload::Probed(true) => (
            Some(true),
            false,
            "loaded (its view answers; shared_preload_libraries itself is hidden from this role)"
                .to_string(),
        ),
        Preload::Probed(false) => (
            Some(false),
            false,
            "not loaded (its view says so; shared_preload_libraries itself is hidden from this \
             role)"
                .to_string(),
        ),
        Preload::Hidden => (
            None,
            false,
            tune::hidden_text(&["shared_preload_libraries".to_string()]),
        ),
    };
    let extension = match version {
        Some(v) => format!("extension {v} created in database {database}"),
        None => format!("extension not created in database {database}"),
    };
    if preloaded == Some(true) && version.is_some() {
        return Check::pass(id, format!("{libraries}; {extension}"));
    }
    let library = match (preload, preloaded) {
        (Preload::Listed { .. }, Some(false)) if pending_restart => {
            format!("not in {libraries} (a new value is saved, waiting for a restart)")
        }
        (Preload::Listed { .. }, Some(false)) => format!("not in {libraries}"),
        _ => libraries,
    };
    let remedy = fix(PgssGap {
        available: true,
        created: version.is_some(),
        preloaded,
        pending_restart,
    });
    let evidence = format!("{library}; {extension}; {remedy}");
    if version.is_none() || preloaded == Some(false) {
        Check::fail(id, evidence)
    } else {
        // Created, and whether it is preloaded cannot be seen.
        Check::not_checked(id, evidence)
    }
}

/// Foreign keys that no index leads with (`tune::indexes::unindexed_foreign_keys`).
pub async fn foreign_key_indexes(pool: &PgPool, plan: &TunePlan) -> Check {
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
        Ok(missing) => judge_foreign_keys(total as u64, &missing, |m| plan.foreign_keys(m)),
        Err(e) => return query_failed(id, e),
    };
    // The plan read the same catalog; read it here only when the plan could not be made.
    let (waste, reset) = match &plan.indexes {
        Ok(p) => (p.waste.clone(), p.stats_reset.clone()),
        Err(_) => match catalog::indexes(pool).await {
            Ok(indexes) => (
                catalog::findings(&indexes),
                catalog::stats_reset(pool).await.ok().flatten(),
            ),
            Err(e) => return query_failed(id, e),
        },
    };
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

/// Judges the foreign keys: `total` of them, `missing` without an index; `fix` gives
/// the remedy for those.
pub fn judge_foreign_keys(
    total: u64,
    missing: &[UnindexedForeignKey],
    fix: impl FnOnce(&[UnindexedForeignKey]) -> String,
) -> Check {
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
            "{} of {total} foreign keys have no index leading with them: {}; {}",
            missing.len(),
            names.join(", "),
            fix(missing)
        ),
    )
}

/// What the database has for one of the guide's indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuideFinding {
    /// Served by this valid index (the guide's own name or another), with its
    /// definition as `pg_get_indexdef` prints it.
    ServedBy { index: String, definition: String },
    /// Nothing serves it. `named`: an index under the guide's name, with its validity
    /// and definition, that does not (a failed concurrent build, other keys).
    Missing { named: Option<(bool, String)> },
    /// The guide's definition does not fit this schema (no such column, a condition
    /// PostgreSQL rejects).
    Impossible(String),
    /// It could not be judged (a permission the role lacks).
    Unknown(String),
}

/// The guide's indexes, matched by definition: each is judged by the existing valid
/// index that serves its lookups (`tune::serving`, the plan's "served by" test), named
/// whatever it is named.
pub async fn guide_indexes(pool: &PgPool, guide: &[IndexSpec], plan: &TunePlan) -> Check {
    let id = CheckId::GuideIndexes;
    let existing = match catalog::indexes(pool).await {
        Ok(e) => e,
        Err(e) => return query_failed(id, e),
    };
    let mut found = Vec::new();
    for spec in guide {
        let finding = match tune::serving(pool, spec, &existing).await {
            Ok(Serving::By(index)) => {
                let definition = existing
                    .iter()
                    .find(|e| e.name == index && same_schema_table(e, spec))
                    .map(|e| e.definition.clone())
                    .unwrap_or_default();
                GuideFinding::ServedBy { index, definition }
            }
            Ok(Serving::No) => GuideFinding::Missing {
                named: existing
                    .iter()
                    .find(|e| e.name == spec.name && same_schema_table(e, spec))
                    .or_else(|| existing.iter().find(|e| e.name == spec.name))
                    .map(|e| (e.valid, e.definition.clone())),
            },
            Ok(Serving::Impossible(why)) => GuideFinding::Impossible(why),
            Err(e) => GuideFinding::Unknown(format!("{e:#}")),
        };
        found.push((spec, finding));
    }
    judge_guide_indexes(&found, |spec| plan.guide_index(spec))
}

/// An existing index on the table the spec names (in the search path's terms).
fn same_schema_table(e: &ExistingIndex, spec: &IndexSpec) -> bool {
    let strip = |t: &str| t.strip_prefix("public.").unwrap_or(t).to_string();
    strip(&e.table) == strip(&spec.table)
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

/// `expenses (building_id, status)`, `unit_owners (unit_id) WHERE end_date IS NULL`.
fn spec_text(spec: &IndexSpec) -> String {
    match &spec.predicate {
        Some(p) => format!("{} ({}) WHERE {p}", spec.table, spec.columns),
        None => format!("{} ({})", spec.table, spec.columns),
    }
}

/// Judges the guide's indexes from what was found for each; `fix` gives the remedy for
/// one that nothing serves.
pub fn judge_guide_indexes(
    found: &[(&IndexSpec, GuideFinding)],
    fix: impl Fn(&IndexSpec) -> String,
) -> Check {
    let id = CheckId::GuideIndexes;
    let mut statuses = Vec::new();
    let mut parts = Vec::new();
    for (spec, finding) in found {
        let (status, text) = match finding {
            GuideFinding::ServedBy { index, definition } if *index == spec.name => (
                Status::Pass,
                format!("{index} on {}: valid", short_definition(definition)),
            ),
            GuideFinding::ServedBy { index, definition } => (
                Status::Pass,
                format!(
                    "{} on {}: served by {index} on {}",
                    spec.name,
                    spec_text(spec),
                    short_definition(definition)
                ),
            ),
            GuideFinding::Missing { named } => {
                let seen = match named {
                    None => "missing".to_string(),
                    Some((false, _)) => "INVALID (a failed concurrent build: it slows writes \
                                         and serves no query), and no other index serves it"
                        .to_string(),
                    Some((true, definition)) => format!(
                        "missing (the index of that name is on {}, which does not serve these \
                         lookups)",
                        short_definition(definition)
                    ),
                };
                (
                    Status::Fail,
                    format!(
                        "{} on {}: {seen}; {}",
                        spec.name,
                        spec_text(spec),
                        fix(spec)
                    ),
                )
            }
            GuideFinding::Impossible(why) => (
                Status::NotChecked,
                format!(
                    "{} on {}: cannot exist on this schema ({why})",
                    spec.name,
                    spec_text(spec)
                ),
            ),
            GuideFinding::Unknown(why) => (
                Status::NotChecked,
                format!("{} on {}: not checked: {why}", spec.name, spec_text(spec)),
            ),
        };
        statuses.push(status);
        parts.push(text);
    }
    let status = if statuses.contains(&Status::Fail) {
        Status::Fail
    } else if statuses.contains(&Status::NotChecked) {
        Status::NotChecked
    } else {
        Status::Pass
    };
    Check::new(id, status, parts.join("; "))
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
pub async fn settings(pool: &PgPool, plan: &TunePlan, profile: &str) -> Check {
    let id = CheckId::Settings;
    let diff = match &plan.settings {
        Ok(d) => d,
        Err(e) => return Check::not_checked(id, format!("profile {profile}: {e}")),
    };
    let server = match crate::tune::read_settings(pool).await {
        Ok(s) => s,
        Err(e) => return query_failed(id, format!("{e:#}")),
    };
    let pending: HashMap<&str, bool> = server
        .values()
        .map(|s| (s.name.as_str(), s.pending_restart))
        .collect();
    let differing: Vec<SettingDiff> = diff
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
    judge_settings(
        profile,
        diff.settings.len(),
        &differing,
        &diff.hidden,
        |d| plan.settings(d),
    )
}

/// Judges the settings: `total` of the profile's compared, `differing` not in effect,
/// `hidden` not shown to this role; `fix` gives the remedy for those differing.
pub fn judge_settings(
    profile: &str,
    total: usize,
    differing: &[SettingDiff],
    hidden: &[String],
    fix: impl FnOnce(&[SettingDiff]) -> String,
) -> Check {
    let id = CheckId::Settings;
    let unseen = (!hidden.is_empty()).then(|| tune::hidden_text(hidden));
    if differing.is_empty() {
        return match unseen {
            None => Check::pass(
                id,
                format!("the {total} settings of profile {profile} are in effect"),
            ),
            Some(unseen) => Check::not_checked(
                id,
                format!(
                    "the {total} settings of profile {profile} that this role can read are in \
                     effect; {unseen}"
                ),
            ),
        };
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
    let mut evidence = format!(
        "{} of {total} settings differ from profile {profile}: {}; {}",
        differing.len(),
        items.join(", "),
        fix(differing)
    );
    if let Some(unseen) = unseen {
        evidence = format!("{evidence}; {unseen}");
    }
    Check::fail(id, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::fixes::RESTART;

    const FIX: &str = "koprogo-perf tune-db --apply fixes it";

    fn listed(setting: &str, pending_restart: bool) -> Preload {
        Preload::Listed {
            setting: setting.into(),
            pending_restart,
        }
    }

    #[test]
    fn pg_stat_statements_needs_the_library_and_the_extension() {
        let fix = |_: PgssGap| FIX.to_string();
        let ok = judge_pgss(
            &listed("pg_stat_statements", false),
            "koprogo",
            Some("1.10"),
            fix,
        );
        assert_eq!(ok.status, Status::Pass);
        assert_eq!(
            ok.evidence,
            "shared_preload_libraries = 'pg_stat_statements'; extension 1.10 created in database koprogo"
        );
        let none = judge_pgss(&listed("", false), "koprogo", None, fix);
        assert_eq!(none.status, Status::Fail);
        assert_eq!(
            none.evidence,
            "not in shared_preload_libraries = ''; extension not created in database koprogo; \
             koprogo-perf tune-db --apply fixes it"
        );
        let mut gap = None;
        let saved = judge_pgss(&listed("", true), "koprogo", Some("1.10"), |g| {
            gap = Some(g);
            RESTART.to_string()
        });
        assert_eq!(saved.status, Status::Fail);
        assert_eq!(
            gap,
            Some(PgssGap {
                available: true,
                created: true,
                preloaded: Some(false),
                pending_restart: true
            })
        );
        assert_eq!(
            saved.evidence,
            "not in shared_preload_libraries = '' (a new value is saved, waiting for a restart); \
             extension 1.10 created in database koprogo; restart PostgreSQL to apply it"
        );
        let status = |p: &Preload, v| judge_pgss(p, "k", v, fix).status;
        assert_eq!(
            status(&listed("auto_explain, pg_stat_statements", false), None),
            Status::Fail
        );
        assert_eq!(
            status(&listed("auto_explain", false), Some("1.10")),
            Status::Fail
        );
        assert_eq!(
            status(
                &listed("auto_explain,\"pg_stat_statements\"", false),
                Some("1.10")
            ),
            Status::Pass
        );
    }

    #[test]
    fn a_role_that_cannot_see_the_libraries_asks_the_extension() {
        let fix = |_: PgssGap| FIX.to_string();
        let loaded = judge_pgss(&Preload::Probed(true), "k", Some("1.10"), fix);
        assert_eq!(loaded.status, Status::Pass);
        assert!(
            loaded.evidence.starts_with("loaded (its view answers;"),
            "{}",
            loaded.evidence
        );
        let unloaded = judge_pgss(&Preload::Probed(false), "k", Some("1.10"), fix);
        assert_eq!(unloaded.status, Status::Fail);
        // Not created: a failure whatever the library, said as unseen.
        let hidden = judge_pgss(&Preload::Hidden, "k", None, fix);
        assert_eq!(hidden.status, Status::Fail);
        assert_eq!(
            hidden.evidence,
            "shared_preload_libraries: not checked: needs pg_read_all_settings or superuser; \
             extension not created in database k; koprogo-perf tune-db --apply fixes it"
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
        let fix = |m: &[UnindexedForeignKey]| format!("fix for {}", m.len());
        assert_eq!(judge_foreign_keys(0, &[], fix).status, Status::NotChecked);
        let ok = judge_foreign_keys(14, &[], fix);
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
            fix,
        );
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(
            bad.evidence,
            "2 of 14 foreign keys have no index leading with them: expenses(building_id), \
             units(organization_id); fix for 2"
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

    fn spec(name: &str, table: &str, columns: &str, predicate: Option<&str>) -> IndexSpec {
        IndexSpec {
            name: name.into(),
            table: table.into(),
            columns: columns.into(),
            predicate: predicate.map(str::to_string),
            line: 0,
            where_line: 0,
        }
    }

    #[test]
    fn the_guide_indexes_are_judged_by_what_serves_them() {
        let expenses = spec(
            "idx_expenses_building_x",
            "expenses",
            "building_id, x",
            None,
        );
        let owners = spec(
            "idx_unit_owners_unit_active",
            "unit_owners",
            "unit_id",
            Some("end_date IS NULL"),
        );
        let fix = |s: &IndexSpec| format!("fix {}", s.name);
        let good = judge_guide_indexes(
            &[
                (
                    &expenses,
                    GuideFinding::ServedBy {
                        index: "idx_expenses_building_x".into(),
                        definition: "CREATE INDEX idx_expenses_building_x ON public.expenses \
                                     USING btree (building_id, x)"
                            .into(),
                    },
                ),
                (
                    &owners,
                    GuideFinding::ServedBy {
                        index: "idx_unit_owners_active".into(),
                        definition: "CREATE INDEX idx_unit_owners_active ON public.unit_owners \
                                     USING btree (unit_id, owner_id) WHERE (end_date IS NULL)"
                            .into(),
                    },
                ),
            ],
            fix,
        );
        assert_eq!(good.status, Status::Pass);
        assert_eq!(
            good.evidence,
            "idx_expenses_building_x on expenses (building_id, x): valid; \
             idx_unit_owners_unit_active on unit_owners (unit_id) WHERE end_date IS NULL: served \
             by idx_unit_owners_active on unit_owners (unit_id, owner_id) WHERE (end_date IS NULL)"
        );
        let bad = judge_guide_indexes(
            &[
                (&expenses, GuideFinding::Missing { named: None }),
                (
                    &owners,
                    GuideFinding::Missing {
                        named: Some((false, String::new())),
                    },
                ),
            ],
            fix,
        );
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(
            bad.evidence,
            "idx_expenses_building_x on expenses (building_id, x): missing; fix \
             idx_expenses_building_x; idx_unit_owners_unit_active on unit_owners (unit_id) WHERE \
             end_date IS NULL: INVALID (a failed concurrent build: it slows writes and serves no \
             query), and no other index serves it; fix idx_unit_owners_unit_active"
        );
        let misfit = judge_guide_indexes(
            &[(
                &expenses,
                GuideFinding::Impossible("table `expenses` has no column `x`".into()),
            )],
            |_| unreachable!("no fix is claimed for what cannot exist"),
        );
        assert_eq!(misfit.status, Status::NotChecked);
        assert_eq!(
            misfit.evidence,
            "idx_expenses_building_x on expenses (building_id, x): cannot exist on this schema \
             (table `expenses` has no column `x`)"
        );
    }

    #[test]
    fn differing_settings_show_current_and_target() {
        let fix = |_: &[SettingDiff]| FIX.to_string();
        assert_eq!(
            judge_settings("koprogo-vps", 15, &[], &[], fix).evidence,
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
            &[],
            fix,
        );
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(
            bad.evidence,
            "4 of 15 settings differ from profile koprogo-vps: shared_buffers 128MB → 256MB (saved, \
             waiting for a restart), work_mem 1MB → 4MB (needs a reload), max_wal_size 4GB (saved, \
             waiting for a restart), shared_preload_libraries '' → pg_stat_statements (needs a \
             restart); koprogo-perf tune-db --apply fixes it"
        );
    }

    #[test]
    fn settings_hidden_from_the_role_are_said_not_checked() {
        let hidden = ["shared_preload_libraries".to_string()];
        let fix = |_: &[SettingDiff]| FIX.to_string();
        let unseen = judge_settings("koprogo-vps", 14, &[], &hidden, fix);
        assert_eq!(unseen.status, Status::NotChecked);
        assert_eq!(
            unseen.evidence,
            "the 14 settings of profile koprogo-vps that this role can read are in effect; \
             shared_preload_libraries: not checked: needs pg_read_all_settings or superuser"
        );
        let work_mem = SettingDiff {
            name: "work_mem".into(),
            current: "1MB".into(),
            target: "4MB".into(),
            needs: "reload".into(),
            pending_restart: false,
        };
        let bad = judge_settings("koprogo-vps", 14, &[work_mem], &hidden, fix);
        assert_eq!(bad.status, Status::Fail);
        assert!(
            bad.evidence.ends_with(
                "fixes it; shared_preload_libraries: not checked: needs pg_read_all_settings or \
                 superuser"
            ),
            "{}",
            bad.evidence
        );
    }
}
