//! `tune-db`'s engine: read what the server has (`pg_settings`, `pg_file_settings`,
//! the indexes), diff it against a validated [`profile::Profile`], and apply the
//! difference safely — rollback file first, `ALTER SYSTEM` one setting at a time,
//! reload, restart when a postmaster setting changed and we can, indexes built
//! concurrently — then read everything back.

pub mod advise;
pub mod apply;
pub mod catalog;
pub mod explain;
pub mod indexes;
pub mod profile;
pub mod render;

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::tune::indexes::IndexState;
use crate::tune::profile::{IndexSpec, PgSetting, Profile, ProfileError};

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

/// What planning found for one index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum IndexStep {
    /// Not there: built.
    Build,
    /// An INVALID leftover of a failed concurrent build under its name: dropped and
    /// rebuilt.
    Rebuild,
    /// There under its name, valid.
    Present,
    /// Not built: this existing valid index already serves it (same method, its keys
    /// leading in the same order, the same predicate or none).
    ServedBy(String),
    /// Cannot exist on this database (no such table or column, a condition PostgreSQL
    /// rejects, a name taken): an error unless skipped.
    Impossible(String),
    /// Impossible, and skipped (`--skip-invalid`).
    Skipped(String),
}

impl IndexStep {
    /// As shown in the plan's table.
    pub fn label(&self) -> String {
        match self {
            IndexStep::Build => "missing".into(),
            IndexStep::Rebuild => "invalid (rebuilt)".into(),
            IndexStep::Present => "present".into(),
            IndexStep::ServedBy(name) => format!("served by {name}"),
            IndexStep::Impossible(why) => format!("IMPOSSIBLE: {why}"),
            IndexStep::Skipped(why) => format!("skipped: {why}"),
        }
    }

    /// Applying builds it.
    pub fn builds(&self) -> bool {
        matches!(self, IndexStep::Build | IndexStep::Rebuild)
    }
}

/// One index of the diff: the profile's, or one `--fk-indexes` adds.
#[derive(Debug, Clone, Serialize)]
pub struct IndexPlan {
    pub name: String,
    pub table: String,
    pub definition: String,
    pub step: IndexStep,
    /// Where it comes from: `FILE:LINE` of the profile, or `foreign key NAME`.
    pub origin: String,
    #[serde(skip)]
    spec: IndexSpec,
}

impl IndexPlan {
    /// The profile's (or the flag's) index.
    pub fn spec(&self) -> &IndexSpec {
        &self.spec
    }

    /// The foreign key it was added for by `--fk-indexes`; `None` for the profile's.
    pub fn foreign_key(&self) -> Option<&str> {
        self.origin.strip_prefix(FOREIGN_KEY_ORIGIN)
    }

    /// True when it is (or, once built, will be) an index that `fk`'s lookups can use:
    /// not partial, on its table, leading with its columns in any order, and not an
    /// item that cannot exist here.
    pub fn covers(&self, fk: &indexes::UnindexedForeignKey) -> bool {
        self.spec.predicate.is_none()
            && !matches!(self.step, IndexStep::Impossible(_) | IndexStep::Skipped(_))
            && same_table(&self.table, &fk.table_name)
            && leads_with(&self.spec.columns, &fk.index_spec().columns)
    }
}

/// The diff between a server and a profile: each setting's current and target value,
/// each index's step, and what the database's own indexes waste.
#[derive(Debug, Clone)]
pub struct ProfileDiff {
    pub profile: Profile,
    pub settings: Vec<SettingPlan>,
    pub indexes: Vec<IndexPlan>,
    /// Foreign keys that no valid, non-partial index leads with and that no index of
    /// the diff will cover (those of `--fk-indexes` included).
    pub unindexed: Vec<indexes::UnindexedForeignKey>,
    /// Duplicate, prefix and unused indexes already in the database.
    pub waste: Vec<catalog::Finding>,
    /// When the statistics behind "unused" were last reset (`None`: never).
    pub stats_reset: Option<String>,
}

impl ProfileDiff {
    /// Settings that would change.
    pub fn changed(&self) -> impl Iterator<Item = &SettingPlan> {
        self.settings.iter().filter(|s| s.changes)
    }

    /// Indexes that would be created or rebuilt.
    pub fn indexes_to_build(&self) -> impl Iterator<Item = &IndexPlan> {
        self.indexes.iter().filter(|i| i.step.builds())
    }

    /// True when applying would change nothing.
    pub fn is_noop(&self) -> bool {
        self.changed().next().is_none() && self.indexes_to_build().next().is_none()
    }

    /// The items that cannot exist on this database, as profile errors naming the
    /// file, the line and the column or table; `None` when there is none.
    pub fn impossible(&self) -> Option<ProfileError> {
        let errors: Vec<ProfileError> = self
            .indexes
            .iter()
            .filter_map(|i| match &i.step {
                IndexStep::Impossible(why) => Some(ProfileError::Invalid {
                    file: self.profile.source.clone(),
                    line: impossible_line(i, why),
                    message: format!("index `{}` on `{}`: {why}", i.name, i.table),
                }),
                _ => None,
            })
            .collect();
        match errors.len() {
            0 => None,
            1 => errors.into_iter().next(),
            _ => Some(ProfileError::Many(errors)),
        }
    }

    /// Turns every impossible item into a skipped one (`--skip-invalid`); returns how
    /// many.
    pub fn skip_impossible(&mut self) -> usize {
        let mut n = 0;
        for i in &mut self.indexes {
            if let IndexStep::Impossible(why) = &i.step {
                i.step = IndexStep::Skipped(why.clone());
                n += 1;
            }
        }
        n
    }
}

/// The line an impossible item's error names: its `where` when the condition is what
/// PostgreSQL rejected, else its `columns`.
fn impossible_line(index: &IndexPlan, why: &str) -> usize {
    if why.starts_with("where") && index.spec.where_line > 0 {
        index.spec.where_line
    } else {
        index.spec.line
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
/// Each index is resolved against the catalog (table, columns, condition, name) and
/// against the indexes already there; one that cannot exist is
/// [`IndexStep::Impossible`], which [`ProfileDiff::impossible`] turns into the error.
pub async fn plan(pool: &PgPool, profile: Profile) -> anyhow::Result<ProfileDiff> {
    plan_with(pool, profile, false).await
}

/// [`plan`], and with `fk_indexes` an index for every foreign key that no valid,
/// non-partial index (nor one of the profile's) leads with. A setting of the profile
/// that this role may not read is an error here (tune-db runs as a superuser, who
/// reads them all); [`plan_settings`] and [`plan_indexes`] are the two halves for a
/// caller that can do with less.
pub async fn plan_with(
    pool: &PgPool,
    profile: Profile,
    fk_indexes: bool,
) -> anyhow::Result<ProfileDiff> {
    let SettingsDiff { settings, hidden } = plan_settings(pool, &profile).await?;
    if !hidden.is_empty() {
        anyhow::bail!(
            "{}: connect as a superuser (or a role granted pg_read_all_settings)",
            hidden_text(&hidden)
        );
    }
    let IndexDiff {
        indexes,
        unindexed,
        waste,
        stats_reset,
    } = plan_indexes(pool, &profile, fk_indexes).await?;
    Ok(ProfileDiff {
        profile,
        settings,
        indexes,
        unindexed,
        waste,
        stats_reset,
    })
}

/// What PostgreSQL needs before it shows a role these settings, in one line:
/// `shared_preload_libraries: not checked: needs pg_read_all_settings or superuser`.
pub fn hidden_text(hidden: &[String]) -> String {
    format!(
        "{}: not checked: needs pg_read_all_settings or superuser",
        hidden.join(", ")
    )
}

/// The profile's settings against the server's.
#[derive(Debug, Clone)]
pub struct SettingsDiff {
    /// Every setting of the profile that this role can read (and
    /// `shared_preload_libraries` when the profile preloads a library), in order.
    pub settings: Vec<SettingPlan>,
    /// The profile's settings that PostgreSQL hides from this role
    /// (`shared_preload_libraries` and a few more are shown only to superusers and to
    /// members of pg_read_all_settings): neither compared nor validated.
    pub hidden: Vec<String>,
}

/// The settings half of [`plan`]: each setting's current and target value. Needs only
/// `pg_settings`, which every role can read, though without the rows PostgreSQL hides
/// from it ([`SettingsDiff::hidden`]).
pub async fn plan_settings(pool: &PgPool, profile: &Profile) -> anyhow::Result<SettingsDiff> {
    let server = read_settings(pool).await?;
    let mut wanted: Vec<&str> = profile.settings.iter().map(|s| s.name.as_str()).collect();
    if !profile.preload.is_empty() {
        wanted.push("shared_preload_libraries");
    }
    let hidden = hidden_settings(pool, &wanted, &server).await?;
    let visible;
    let readable = if hidden.is_empty() {
        profile
    } else {
        visible = Profile {
            settings: profile
                .settings
                .iter()
                .filter(|s| !hidden.contains(&s.name))
                .cloned()
                .collect(),
            ..profile.clone()
        };
        &visible
    };
    let checked = profile::validate(readable, &server)?;
    let sources = sources(pool).await?;
    let mut names: Vec<String> = checked.iter().map(|c| c.name.clone()).collect();
    names.push("shared_preload_libraries".into());
    let shown = show_all(pool, &names).await?;
    let mut settings = Vec::new();
    for c in &checked {
        // validate found every checked name in `server`.
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
    if let Some(row) = server.get("shared_preload_libraries")
        && !profile.preload.is_empty()
    {
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
    Ok(SettingsDiff { settings, hidden })
}

/// Of `names`, those that the server has but does not show this role: missing from
/// its `pg_settings`, and `current_setting` refuses them for lack of privilege. A name
/// the server does not have at all is left to [`profile::validate`] to report.
async fn hidden_settings(
    pool: &PgPool,
    names: &[&str],
    server: &HashMap<String, PgSetting>,
) -> anyhow::Result<Vec<String>> {
    let mut hidden = Vec::new();
    // Collected first: an iterator adapter's closure held across the awaits below
    // would make the future not `Send` for every lifetime.
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !server.contains_key(*n))
        .collect();
    for name in missing {
        let read: Result<Option<String>, sqlx::Error> =
            sqlx::query_scalar("SELECT current_setting($1, true)")
                .bind(name)
                .fetch_one(pool)
                .await;
        match read {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some(INSUFFICIENT_PRIVILEGE) =>
            {
                hidden.push(name.to_string())
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading setting {name}"))),
            Ok(_) => {}
        }
    }
    Ok(hidden)
}

/// SQLSTATE 42501: what PostgreSQL answers a role that lacks a privilege.
pub(crate) const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// The profile's indexes against the database's.
#[derive(Debug, Clone)]
pub struct IndexDiff {
    /// The profile's, then those `fk_indexes` adds.
    pub indexes: Vec<IndexPlan>,
    /// Foreign keys that no valid, non-partial index leads with and that no index of
    /// the diff will cover.
    pub unindexed: Vec<indexes::UnindexedForeignKey>,
    /// Duplicate, prefix and unused indexes already in the database.
    pub waste: Vec<catalog::Finding>,
    /// When the statistics behind "unused" were last reset (`None`: never).
    pub stats_reset: Option<String>,
}

/// The index half of [`plan_with`]. Reads only the catalogs (and plans, never runs,
/// an `EXPLAIN` per partial index's condition), which any role that can read the
/// tables may do.
pub async fn plan_indexes(
    pool: &PgPool,
    profile: &Profile,
    fk_indexes: bool,
) -> anyhow::Result<IndexDiff> {
    let existing = catalog::indexes(pool)
        .await
        .context("reading the indexes")?;
    let mut index_plans = Vec::new();
    for spec in &profile.indexes {
        let origin = format!("{}:{}", profile.source, spec.line);
        index_plans.push(plan_index(pool, spec, origin, &existing).await?);
    }
    let mut unindexed = Vec::new();
    for fk in indexes::unindexed_foreign_keys(pool)
        .await
        .context("reading the foreign keys")?
    {
        if index_plans.iter().any(|i| i.covers(&fk)) {
            continue;
        }
        if fk_indexes && fk.visible {
            let mut spec = fk.index_spec();
            // The name is the table's and the columns': when an index that does not
            // serve the key already has it, the key's own gets `_fk` after it.
            if catalog::relation(pool, &spec.name).await?.is_some() {
                spec.name.truncate(60);
                spec.name.push_str("_fk");
            }
            let origin = format!("{FOREIGN_KEY_ORIGIN}{}", fk.constraint_name);
            index_plans.push(plan_index(pool, &spec, origin, &existing).await?);
        } else {
            unindexed.push(fk);
        }
    }
    let waste = catalog::findings(&existing);
    let stats_reset = catalog::stats_reset(pool).await?;
    Ok(IndexDiff {
        indexes: index_plans,
        unindexed,
        waste,
        stats_reset,
    })
}

/// How [`IndexPlan::origin`] begins for an index `--fk-indexes` adds.
const FOREIGN_KEY_ORIGIN: &str = "foreign key ";

/// `expenses` and `public.expenses` name the same table here (tables are matched by
/// `regclass` text, which leaves out a schema in the search path).
fn same_table(a: &str, b: &str) -> bool {
    let strip = |t: &str| t.strip_prefix("public.").unwrap_or(t).to_string();
    strip(a) == strip(b)
}

/// The key names of a column list, without ASC/DESC, unquoted.
fn key_names(columns: &str) -> Vec<String> {
    columns
        .split(',')
        .map(|c| {
            let c = c.trim();
            let c = c
                .strip_suffix(" DESC")
                .or_else(|| c.strip_suffix(" ASC"))
                .unwrap_or(c);
            catalog::unquote(c)
        })
        .collect()
}

/// Per key: DESC.
fn key_descending(columns: &str) -> Vec<bool> {
    columns
        .split(',')
        .map(|c| c.trim().ends_with(" DESC"))
        .collect()
}

/// True when the columns of `index` start with those of `key`, in any order (what a
/// foreign key's lookups need).
fn leads_with(index: &str, key: &str) -> bool {
    let index = key_names(index);
    let mut key = key_names(key);
    if index.len() < key.len() {
        return false;
    }
    let mut lead = index[..key.len()].to_vec();
    lead.sort();
    key.sort();
    lead == key
}

/// Resolves one index against the catalog: its table, each column, its condition and
/// its name; then whether an existing valid index already serves it.
async fn plan_index(
    pool: &PgPool,
    spec: &IndexSpec,
    origin: String,
    existing: &[catalog::ExistingIndex],
) -> anyhow::Result<IndexPlan> {
    let step = index_step(pool, spec, existing).await?;
    Ok(IndexPlan {
        name: spec.name.clone(),
        table: spec.table.clone(),
        definition: spec.create_sql(),
        step,
        origin,
        spec: spec.clone(),
    })
}

/// An index spec resolved against the catalog: its table, and its condition as
/// PostgreSQL deparses it.
struct Resolved {
    table: catalog::Table,
    predicate: Option<String>,
}

/// The spec's table, columns and condition checked against the catalog: `Err` says why
/// it cannot exist on this database.
async fn resolve(pool: &PgPool, spec: &IndexSpec) -> anyhow::Result<Result<Resolved, String>> {
    let Some(table) = catalog::table(pool, &spec.table).await? else {
        return Ok(Err(format!("there is no table `{}`", spec.table)));
    };
    for key in key_names(&spec.columns) {
        if !table.columns.contains(&key) {
            return Ok(Err(format!("table `{}` has no column `{key}`", table.name)));
        }
    }
    let predicate = match &spec.predicate {
        None => None,
        Some(p) => match catalog::deparse_condition(pool, &table.name, p).await? {
            Ok(deparsed) => Some(deparsed),
            Err(e) => return Ok(Err(format!("where `{p}`: {e}"))),
        },
    };
    Ok(Ok(Resolved { table, predicate }))
}

pub(crate) async fn index_step(
    pool: &PgPool,
    spec: &IndexSpec,
    existing: &[catalog::ExistingIndex],
) -> anyhow::Result<IndexStep> {
    let resolved = match resolve(pool, spec).await? {
        Ok(r) => r,
        Err(why) => return Ok(IndexStep::Impossible(why)),
    };
    let table = &resolved.table;
    match catalog::relation(pool, &spec.name).await? {
        None => {}
        Some((kind, Some(on))) if kind == "i" && on == table.oid => {
            return Ok(match indexes::state(pool, &spec.name).await? {
                IndexState::Invalid => IndexStep::Rebuild,
                _ => IndexStep::Present,
            });
        }
        Some((kind, Some(_))) if kind == "i" => {
            let other = existing
                .iter()
                .find(|e| e.name == spec.name)
                .map_or("another table".to_string(), |e| format!("`{}`", e.table));
            return Ok(IndexStep::Impossible(format!(
                "the name `{}` is taken by an index on {other}",
                spec.name
            )));
        }
        Some(_) => {
            return Ok(IndexStep::Impossible(format!(
                "the name `{}` is taken by another relation",
                spec.name
            )));
        }
    }
    Ok(match served_by(pool, spec, &resolved, existing).await? {
        Some(name) => IndexStep::ServedBy(name),
        None => IndexStep::Build,
    })
}

/// How the database serves the lookups of an index spec, judged by definition alone
/// (its name is not looked at): [`serving`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serving {
    /// This existing valid index serves every lookup the spec's would.
    By(String),
    /// No index serves them; the spec could be built.
    No,
    /// The spec cannot exist on this database (no such table or column, a condition
    /// PostgreSQL rejects): why.
    Impossible(String),
}

/// Which existing index, if any, serves the lookups `spec` is for: the same test as the
/// plan's "served by" (table, method, leading keys in order and direction, operator
/// classes, condition), whatever either index is named.
pub async fn serving(
    pool: &PgPool,
    spec: &IndexSpec,
    existing: &[catalog::ExistingIndex],
) -> anyhow::Result<Serving> {
    Ok(match resolve(pool, spec).await? {
        Err(why) => Serving::Impossible(why),
        Ok(resolved) => match served_by(pool, spec, &resolved, existing).await? {
            Some(name) => Serving::By(name),
            None => Serving::No,
        },
    })
}

/// An existing valid btree index whose leading keys are the spec's, in this order and
/// direction (or all reversed: a btree scans both ways), with their default operator
/// classes and collations, and with no condition or the same one, serves every lookup
/// the spec's would. A partial index with the same condition is named before a plain
/// one (it is the spec's own kind: KoproGo's `idx_unit_owners_active` for the guide's
/// partial index, rather than the foreign key's plain one); then the fewest keys win,
/// then the spec's own name.
async fn served_by(
    pool: &PgPool,
    spec: &IndexSpec,
    resolved: &Resolved,
    existing: &[catalog::ExistingIndex],
) -> anyhow::Result<Option<String>> {
    let keys = key_names(&spec.columns);
    let descending = key_descending(&spec.columns);
    let mut candidates: Vec<&catalog::ExistingIndex> = existing
        .iter()
        .filter(|e| {
            e.valid
                && e.table_oid == resolved.table.oid
                && e.method == "btree"
                && e.columns.len() >= keys.len()
                && e.plain[..keys.len()].iter().all(|p| *p)
                && e.columns[..keys.len()]
                    .iter()
                    .map(|c| catalog::unquote(c))
                    .eq(keys.iter().cloned())
                && (e.descending[..keys.len()] == descending[..]
                    || e.descending[..keys.len()]
                        .iter()
                        .zip(&descending)
                        .all(|(a, b)| a != b))
        })
        .collect();
    candidates.sort_by_key(|e| {
        (
            // A condition never serves a spec without one: this order only matters for
            // partial specs.
            e.predicate.is_none(),
            e.columns.len(),
            e.name != spec.name,
            e.name.clone(),
        )
    });
    for e in candidates {
        let serves = match (&e.predicate, &resolved.predicate) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(theirs), Some(ours)) => {
                catalog::deparse_condition(pool, &resolved.table.name, theirs)
                    .await?
                    .as_ref()
                    == Ok(ours)
            }
        };
        if serves {
            return Ok(Some(e.name.clone()));
        }
    }
    Ok(None)
}

/// True when an index built from `a` would serve every lookup of one built from `b`:
/// the same table, `b`'s keys leading `a`'s in order and direction (or all reversed),
/// and no condition on `a` or the same text as `b`'s. A spec-to-spec test for what is
/// not built yet; it errs on "no" when two conditions are written differently.
pub fn spec_serves(a: &IndexSpec, b: &IndexSpec) -> bool {
    let (a_keys, b_keys) = (key_names(&a.columns), key_names(&b.columns));
    let (a_desc, b_desc) = (key_descending(&a.columns), key_descending(&b.columns));
    let squeeze = |p: &str| p.split_whitespace().collect::<Vec<_>>().join(" ");
    same_table(&a.table, &b.table)
        && a_keys.len() >= b_keys.len()
        && a_keys[..b_keys.len()] == b_keys[..]
        && (a_desc[..b_desc.len()] == b_desc[..]
            || a_desc[..b_desc.len()]
                .iter()
                .zip(&b_desc)
                .all(|(x, y)| x != y))
        && match (&a.predicate, &b.predicate) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(x), Some(y)) => squeeze(x) == squeeze(y),
        }
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
    /// Indexes the applies created (dropped by the rollback).
    pub indexes_created: Vec<String>,
    /// The cluster's `system_identifier`: with `database_name`, which database this
    /// file is the "before" of, so that a later apply adds to it instead of saving
    /// tuned values as "before".
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub database_name: Option<String>,
    /// Set by `--rollback`: a later apply starts a new file.
    #[serde(default)]
    pub rolled_back_at: Option<String>,
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
pub async fn verify(pool: &PgPool, plan: &ProfileDiff) -> anyhow::Result<Vec<Verified>> {
    let server = read_settings(pool).await?;
    let names: Vec<String> = plan.settings.iter().map(|s| s.name.clone()).collect();
    let shown = show_all(pool, &names).await?;
    plan.settings
        .iter()
        .map(|s| {
            // A row the plan read can only be missing when the role lost a privilege
            // since: an error, not a panic.
            let row = server
                .get(&s.name)
                .with_context(|| format!("{} is no longer shown to this role", s.name))?;
            let ok = if s.name == "shared_preload_libraries" {
                let now = split_libraries(&row.setting);
                split_libraries(&s.target_base)
                    .iter()
                    .all(|l| now.contains(l))
            } else {
                same_value(&row.setting, &s.target_base, &row.vartype)
            };
            Ok(Verified {
                name: s.name.clone(),
                in_effect: shown.get(&s.name).cloned().unwrap_or_default(),
                target: s.target.clone(),
                pending_restart: row.pending_restart,
                ok,
            })
        })
        .collect()
}

/// Builds the diff's missing or invalid indexes, each on its own; one that fails does
/// not stop the others. Returns those built; an error naming every one that failed.
pub async fn build_indexes(
    pool: &PgPool,
    plan: &ProfileDiff,
    mut on_done: impl FnMut(&str, indexes::IndexAction, std::time::Duration),
) -> anyhow::Result<Vec<String>> {
    let mut created = Vec::new();
    let mut failed = Vec::new();
    for index in plan.indexes_to_build() {
        match indexes::ensure(pool, &index.spec).await {
            Ok((action, took)) => {
                if action != indexes::IndexAction::AlreadyPresent {
                    created.push(index.name.clone());
                }
                on_done(&index.name, action, took);
            }
            Err(e) => failed.push(format!("{}: {e:#}", index.name)),
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{} indexes failed: {}", failed.len(), failed.join("; "));
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
    fn keys_lead_in_any_order_and_names_fit() {
        assert_eq!(key_names("a, \"B c\" DESC"), vec!["a", "B c"]);
        assert_eq!(key_descending("a, b DESC"), vec![false, true]);
        assert!(leads_with(
            "organization_id, account_code, x",
            "account_code, organization_id"
        ));
        assert!(!leads_with(
            "organization_id",
            "organization_id, account_code"
        ));
        assert!(!leads_with("x, organization_id", "organization_id"));
        assert!(same_table("public.expenses", "expenses"));
        let long = indexes::index_name(&format!("idx_{}", "Very_Long".repeat(10)));
        assert_eq!(long.len(), 63);
        assert!(long.starts_with("idx_very_long"), "{long}");
        assert_eq!(
            long,
            indexes::index_name(&format!("idx_{}", "Very_Long".repeat(10)))
        );
    }

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
