//! `tune-db`'s engine: read what the server has (`pg_settings`, `pg_file_settings`,
//! the indexes), diff it against a validated [`profile::Profile`], and apply the
//! difference safely — rollback file first, `ALTER SYSTEM` one setting at a time,
//! reload, restart when a postmaster setting changed and we can, indexes built
//! concurrently — then read everything back.

pub mod explain;
pub mod indexes;
pub mod profile;

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::tune::indexes::IndexState;
use crate::tune::profile::{IndexSpec, PgSetting, Profile};

/// What a setting change needs to take effect, from `pg_settings.context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Needs {
    /// postmaster: a server restart.
    Restart,
    /// sighup / superuser / user / …: a configuration reload.
    Reload,
    /// internal: cannot be changed at all.
    Impossible,
}

impl Needs {
    fn of(context: &str) -> Needs {
        match context {
            "postmaster" => Needs::Restart,
            "internal" => Needs::Impossible,
            _ => Needs::Reload,
        }
    }

    /// As shown in the table.
    pub fn label(self) -> &'static str {
        match self {
            Needs::Restart => "restart",
            Needs::Reload => "reload",
            Needs::Impossible => "cannot change",
        }
    }
}

/// One setting of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct SettingPlan {
    pub name: String,
    /// Current value as `SHOW` prints it.
    pub current: String,
    /// Where the current value comes from (`default`, `configuration file`, …; the file
    /// is named for file-based sources).
    pub source: String,
    /// Target as the profile writes it.
    pub target: String,
    /// pg_settings unit of the base values.
    pub unit: String,
    pub needs: Needs,
    /// True when applying changes it.
    pub changes: bool,
    /// Current value in base units (`pg_settings.setting`).
    #[serde(skip)]
    current_base: String,
    /// Target in base units.
    #[serde(skip)]
    target_base: String,
}

/// One index of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct IndexPlan {
    pub name: String,
    pub table: String,
    pub definition: String,
    /// `missing`, `present`, `invalid` (will be rebuilt) or `no table`.
    pub state: String,
    #[serde(skip)]
    spec: IndexSpec,
}

/// The diff between a server and a profile.
#[derive(Debug, Clone)]
pub struct Plan {
    pub profile: Profile,
    pub settings: Vec<SettingPlan>,
    pub indexes: Vec<IndexPlan>,
}

impl Plan {
    /// Settings that would change.
    pub fn changed(&self) -> impl Iterator<Item = &SettingPlan> {
        self.settings.iter().filter(|s| s.changes)
    }

    /// Indexes that would be created or rebuilt.
    pub fn indexes_to_build(&self) -> impl Iterator<Item = &IndexPlan> {
        self.indexes
            .iter()
            .filter(|i| i.state == "missing" || i.state == "invalid")
    }

    /// True when applying would change nothing.
    pub fn is_noop(&self) -> bool {
        self.changed().next().is_none() && self.indexes_to_build().next().is_none()
    }
}

/// Refuses a role that is not superuser before anything is read or changed.
pub async fn require_superuser(pool: &PgPool) -> anyhow::Result<()> {
    let (user, superuser): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .context("reading the connected role")?;
    if !superuser {
        anyhow::bail!(
            "role `{user}` is not a superuser: tune-db needs one (ALTER SYSTEM, CREATE INDEX on \
             every table); connect with a superuser's --database-url"
        );
    }
    Ok(())
}

/// Every row of pg_settings, by name.
pub async fn read_settings(pool: &PgPool) -> anyhow::Result<HashMap<String, PgSetting>> {
    let rows: Vec<PgSetting> = sqlx::query_as(
        "SELECT name, setting, unit, vartype, min_val, max_val, enumvals, context, source, \
                boot_val, reset_val, pending_restart FROM pg_settings",
    )
    .fetch_all(pool)
    .await
    .context("reading pg_settings")?;
    Ok(rows.into_iter().map(|r| (r.name.clone(), r)).collect())
}

/// `SHOW name` for the settings asked.
async fn show_all(pool: &PgPool, names: &[String]) -> anyhow::Result<HashMap<String, String>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1)")
            .bind(names)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Where each setting's current value comes from, naming the file when it is one.
async fn sources(pool: &PgPool) -> anyhow::Result<HashMap<String, String>> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT name, source, sourcefile FROM pg_settings")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(name, source, file)| {
            let label = match file.as_deref() {
                Some(f) if f.ends_with("postgresql.auto.conf") => "auto.conf".to_string(),
                Some(f) => Path::new(f)
                    .file_name()
                    .map_or(f.to_string(), |n| n.to_string_lossy().into_owned()),
                None => source,
            };
            (name, label)
        })
        .collect())
}

/// The libraries listed in a `shared_preload_libraries` value.
pub(crate) fn split_libraries(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|l| l.trim().trim_matches('"').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Diffs the server against the profile. Validates the profile against the server's
/// own pg_settings first: an unknown name or a bad value fails here, before any change.
pub async fn plan(pool: &PgPool, profile: Profile) -> anyhow::Result<Plan> {
    let server = read_settings(pool).await?;
    let checked = profile::validate(&profile, &server)?;
    let sources = sources(pool).await?;
    let mut names: Vec<String> = checked.iter().map(|c| c.name.clone()).collect();
    names.push("shared_preload_libraries".into());
    let shown = show_all(pool, &names).await?;
    let mut settings = Vec::new();
    for c in &checked {
        let row = &server[&c.name];
        settings.push(SettingPlan {
            name: c.name.clone(),
            current: shown.get(&c.name).cloned().unwrap_or_default(),
            source: sources.get(&c.name).cloned().unwrap_or_default(),
            target: c.target.clone(),
            unit: row.unit.clone().unwrap_or_default(),
            needs: Needs::of(&row.context),
            changes: !same_value(&row.setting, &c.target_base, &row.vartype),
            current_base: row.setting.clone(),
            target_base: c.target_base.clone(),
        });
    }
    if !profile.preload.is_empty() {
        let row = &server["shared_preload_libraries"];
        let mut libraries = split_libraries(&row.setting);
        let missing: Vec<&String> = profile
            .preload
            .iter()
            .filter(|l| !libraries.contains(l))
            .collect();
        let changes = !missing.is_empty();
        for l in missing {
            libraries.push(l.clone());
        }
        let target = libraries.join(",");
        settings.push(SettingPlan {
            name: "shared_preload_libraries".into(),
            current: row.setting.clone(),
            source: sources
                .get("shared_preload_libraries")
                .cloned()
                .unwrap_or_default(),
            target: target.clone(),
            unit: String::new(),
            needs: Needs::of(&row.context),
            changes,
            current_base: row.setting.clone(),
            target_base: target,
        });
    }
    let mut index_plans = Vec::new();
    for spec in &profile.indexes {
        let state = if !indexes::table_exists(pool, &spec.table).await? {
            "no table"
        } else {
            match indexes::state(pool, &spec.name).await? {
                IndexState::Missing => "missing",
                IndexState::Valid => "present",
                IndexState::Invalid => "invalid",
            }
        };
        index_plans.push(IndexPlan {
            name: spec.name.clone(),
            table: spec.table.clone(),
            definition: spec.create_sql(),
            state: state.to_string(),
            spec: spec.clone(),
        });
    }
    Ok(Plan {
        profile,
        settings,
        indexes: index_plans,
    })
}

/// Compares base values: numerically for numbers (so "1.1" equals "1.10").
fn same_value(current: &str, target: &str, vartype: &str) -> bool {
    match vartype {
        "integer" | "real" => match (current.parse::<f64>(), target.parse::<f64>()) {
            (Ok(a), Ok(b)) => (a - b).abs() <= f64::EPSILON * a.abs().max(b.abs()).max(1.0),
            _ => current == target,
        },
        "bool" => normalize_bool(current) == normalize_bool(target),
        _ => current == target,
    }
}

fn normalize_bool(v: &str) -> String {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => "on".into(),
        "off" | "false" | "no" | "0" | "f" | "n" => "off".into(),
        other => other.to_string(),
    }
}

/// What the rollback file keeps of one setting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedSetting {
    pub name: String,
    /// The value in effect before (`pg_settings.setting`, base units).
    pub setting: String,
    /// `SHOW` text before.
    pub shown: String,
    /// The value postgresql.auto.conf held for it, if any: restored with ALTER SYSTEM
    /// SET; without one, ALTER SYSTEM RESET.
    pub auto_conf: Option<String>,
}

/// The rollback file (`reports/tune-<timestamp>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackFile {
    pub created_at: String,
    pub profile: String,
    /// The database, password hidden.
    pub database: String,
    pub settings: Vec<SavedSetting>,
    /// Indexes this apply created (dropped by the rollback).
    pub indexes_created: Vec<String>,
}

impl RollbackFile {
    /// Writes the file (whole, replacing an earlier version).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Reads a rollback file.
    pub fn read(path: &Path) -> anyhow::Result<RollbackFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the rollback file {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a tune-db rollback file", path.display()))
    }
}

/// The entries postgresql.auto.conf has now, by name.
async fn auto_conf(pool: &PgPool) -> anyhow::Result<HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting FROM pg_file_settings \
          WHERE sourcefile LIKE '%postgresql.auto.conf' ORDER BY seqno",
    )
    .fetch_all(pool)
    .await
    .context("reading pg_file_settings")?;
    Ok(rows.into_iter().collect())
}

/// Saves what the settings in `names` are now, for a rollback.
pub async fn snapshot(pool: &PgPool, names: &[String]) -> anyhow::Result<Vec<SavedSetting>> {
    let server = read_settings(pool).await?;
    let shown = show_all(pool, names).await?;
    let auto = auto_conf(pool).await?;
    Ok(names
        .iter()
        .filter_map(|n| {
            let row = server.get(n)?;
            Some(SavedSetting {
                name: n.clone(),
                setting: row.setting.clone(),
                shown: shown.get(n).cloned().unwrap_or_default(),
                auto_conf: auto.get(n).cloned(),
            })
        })
        .collect())
}

/// A string literal for SQL: the value between single quotes, quotes doubled.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `ALTER SYSTEM SET name = 'value'`. `name` comes from pg_settings (validated), so it
/// is a plain identifier.
pub async fn alter_system_set(pool: &PgPool, name: &str, value: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(&format!("ALTER SYSTEM SET {name} = {}", literal(value)))
        .execute(pool)
        .await
        .with_context(|| format!("ALTER SYSTEM SET {name}"))?;
    Ok(())
}

/// `ALTER SYSTEM RESET name`.
pub async fn alter_system_reset(pool: &PgPool, name: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(&format!("ALTER SYSTEM RESET {name}"))
        .execute(pool)
        .await
        .with_context(|| format!("ALTER SYSTEM RESET {name}"))?;
    Ok(())
}

/// Asks the server to reload its configuration and waits until this session sees it.
pub async fn reload(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_reload_conf()")
        .execute(pool)
        .await
        .context("pg_reload_conf()")?;
    // The postmaster re-reads the files asynchronously; give it a moment, and close the
    // pool's idle sessions so that new ones start with the new values.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    Ok(())
}

/// Errors PostgreSQL found in its configuration files. A postmaster setting waiting for
/// its restart shows as "setting could not be applied": that is pending, not an error.
pub async fn file_errors(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    /// sourcefile, sourceline, name, error
    type FileError = (Option<String>, Option<i32>, Option<String>, String);
    let rows: Vec<FileError> = sqlx::query_as(
        "SELECT f.sourcefile, f.sourceline, f.name, f.error FROM pg_file_settings f \
          WHERE f.error IS NOT NULL \
            AND NOT (f.error = 'setting could not be applied' AND EXISTS ( \
                SELECT 1 FROM pg_settings s WHERE s.name = f.name AND s.pending_restart))",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(file, line, name, error)| {
            format!(
                "{}:{}: {}: {error}",
                file.unwrap_or_default(),
                line.unwrap_or_default(),
                name.unwrap_or_default()
            )
        })
        .collect())
}

/// One setting read back after applying.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub name: String,
    /// `SHOW` now.
    pub in_effect: String,
    pub target: String,
    /// The server holds the new value but needs a restart to use it.
    pub pending_restart: bool,
    /// In effect and equal to the target.
    pub ok: bool,
}

/// Reads every planned setting back.
pub async fn verify(pool: &PgPool, plan: &Plan) -> anyhow::Result<Vec<Verified>> {
    let server = read_settings(pool).await?;
    let names: Vec<String> = plan.settings.iter().map(|s| s.name.clone()).collect();
    let shown = show_all(pool, &names).await?;
    Ok(plan
        .settings
        .iter()
        .map(|s| {
            let row = &server[&s.name];
            let ok = if s.name == "shared_preload_libraries" {
                let now = split_libraries(&row.setting);
                split_libraries(&s.target_base)
                    .iter()
                    .all(|l| now.contains(l))
            } else {
                same_value(&row.setting, &s.target_base, &row.vartype)
            };
            Verified {
                name: s.name.clone(),
                in_effect: shown.get(&s.name).cloned().unwrap_or_default(),
                target: s.target.clone(),
                pending_restart: row.pending_restart,
                ok,
            }
        })
        .collect())
}

/// Builds the plan's missing or invalid indexes, one statement at a time.
pub async fn build_indexes(
    pool: &PgPool,
    plan: &Plan,
    mut on_done: impl FnMut(&str, indexes::IndexAction, std::time::Duration),
) -> anyhow::Result<Vec<String>> {
    let mut created = Vec::new();
    for index in &plan.indexes {
        if index.state == "no table" {
            continue;
        }
        let (action, took) = indexes::ensure(pool, &index.spec).await?;
        if action != indexes::IndexAction::AlreadyPresent {
            created.push(index.name.clone());
        }
        on_done(&index.name, action, took);
    }
    Ok(created)
}

/// The current base value of a planned setting (for tests and reports).
impl SettingPlan {
    pub fn current_base(&self) -> &str {
        &self.current_base
    }

    pub fn target_base(&self) -> &str {
        &self.target_base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_by_type() {
        assert!(same_value("1.1", "1.10", "real"));
        assert!(!same_value("4", "1.1", "real"));
        assert!(same_value("32768", "32768", "integer"));
        assert!(same_value("on", "true", "bool"));
        assert!(!same_value("a", "b", "string"));
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(
            split_libraries("pg_stat_statements, \"auto_explain\""),
            vec!["pg_stat_statements", "auto_explain"]
        );
    }
}
