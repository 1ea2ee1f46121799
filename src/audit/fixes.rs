//! What `koprogo-perf tune-db --apply` would fix on the audited database, read from
//! tune-db's own plan of it ([`crate::tune::plan_settings`] and
//! [`crate::tune::plan_indexes`] with `--fk-indexes`) for the audit's `--profile`. A
//! failed check names the command that fixes it only when that plan would: with
//! `--fk-indexes` when only the flag's indexes do, with `--skip-invalid` when the
//! profile holds items that cannot exist here (tune-db refuses the whole profile
//! otherwise), and not at all when the plan builds nothing that serves the lookups.

use sqlx::PgPool;

use super::db::SettingDiff;
use crate::tune::indexes::UnindexedForeignKey;
use crate::tune::profile::{IndexSpec, Profile};
use crate::tune::{self, IndexDiff, IndexStep, SettingsDiff};

/// tune-db's default profile: left out of the commands shown.
const DEFAULT_PROFILE: &str = "koprogo-vps";

/// When the right values are saved and only wait for a restart.
pub const RESTART: &str = "restart PostgreSQL to apply it";

/// tune-db's plan of the audited database, read once for every remedy.
#[derive(Debug)]
pub struct TunePlan {
    /// `--profile` as the user gave it.
    profile_arg: String,
    profile_name: String,
    /// The profile adds pg_stat_statements to `shared_preload_libraries`.
    preloads_pgss: bool,
    /// The settings half, or why it could not be made (a profile this server refuses).
    pub settings: Result<SettingsDiff, String>,
    /// The index half with `--fk-indexes`: the profile's items first (the same as
    /// without the flag), then one per unindexed foreign key. `Err`: why it could not
    /// be read with this role.
    pub indexes: Result<IndexDiff, String>,
}

/// What stands between pg_stat_statements and a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgssGap {
    /// The server has the extension's files (`pg_available_extensions`).
    pub available: bool,
    /// Created in this database.
    pub created: bool,
    /// In `shared_preload_libraries`; `None` when this role cannot tell.
    pub preloaded: Option<bool>,
    /// A new `shared_preload_libraries` is saved and waits for a restart.
    pub pending_restart: bool,
}

impl TunePlan {
    /// Plans `profile` on the database behind `pool`, as tune-db would (read-only).
    pub async fn read(pool: &PgPool, profile: &Profile, profile_arg: &str) -> TunePlan {
        let settings = tune::plan_settings(pool, profile)
            .await
            .map_err(|e| format!("{e:#}"));
        let indexes = tune::plan_indexes(pool, profile, true)
            .await
            .map_err(|e| format!("{e:#}"));
        TunePlan {
            profile_arg: profile_arg.to_string(),
            profile_name: profile.name.clone(),
            preloads_pgss: profile.preload.iter().any(|l| l == "pg_stat_statements"),
            settings,
            indexes,
        }
    }

    /// A plan that could not be made at all: every remedy says why.
    pub fn unknown(profile: &Profile, profile_arg: &str, why: &str) -> TunePlan {
        TunePlan {
            profile_arg: profile_arg.to_string(),
            profile_name: profile.name.clone(),
            preloads_pgss: profile.preload.iter().any(|l| l == "pg_stat_statements"),
            settings: Err(why.to_string()),
            indexes: Err(why.to_string()),
        }
    }

    /// The command that applies the plan (with `--fk-indexes` when `fk_indexes`), or
    /// why tune-db would not apply it here.
    fn command(&self, fk_indexes: bool) -> Result<String, String> {
        if let Err(e) = &self.settings {
            return Err(format!(
                "tune-db would refuse profile {}: {e}",
                self.profile_name
            ));
        }
        let indexes = self.indexes.as_ref().map_err(|e| {
            format!("whether tune-db fixes it is not known (its plan could not be read: {e})")
        })?;
        let impossible = indexes.indexes.iter().any(|i| {
            matches!(i.step, IndexStep::Impossible(_)) && (fk_indexes || i.foreign_key().is_none())
        });
        let mut command = "koprogo-perf tune-db --apply".to_string();
        if self.profile_arg != DEFAULT_PROFILE {
            command.push_str(" --profile ");
            command.push_str(&shell_word(&self.profile_arg));
        }
        if fk_indexes {
            command.push_str(" --fk-indexes");
        }
        if impossible {
            command.push_str(" --skip-invalid");
        }
        Ok(command)
    }

    /// `COMMAND fixes it` (`; PostgreSQL must then restart …` when `restart`), or what
    /// stands in the way.
    fn fixes(&self, fk_indexes: bool, restart: bool) -> String {
        match self.command(fk_indexes) {
            Ok(c) if restart => {
                format!("{c} fixes it; PostgreSQL must then restart (or pass --restart-cmd)")
            }
            Ok(c) => format!("{c} fixes it"),
            Err(why) => why,
        }
    }

    /// The remedy for pg_stat_statements. tune-db always creates the extension; it adds
    /// the library only when the profile preloads it, and that needs a restart.
    pub fn pg_stat_statements(&self, gap: PgssGap) -> String {
        if !gap.available {
            return "the server has no pg_stat_statements to create (install its contrib \
                    package, e.g. Debian's postgresql-contrib); tune-db cannot fix that"
                .into();
        }
        match gap.preloaded {
            Some(true) => self.fixes(false, false),
            Some(false) if gap.pending_restart && gap.created => RESTART.into(),
            Some(false) if self.preloads_pgss => self.fixes(false, true),
            None if self.preloads_pgss => format!(
                "{}; if it is not preloaded, PostgreSQL must then restart",
                self.fixes(false, false)
            ),
            _ => format!(
                "profile {} does not preload it: add pg_stat_statements to \
                 shared_preload_libraries and restart PostgreSQL",
                self.profile_name
            ),
        }
    }

    /// The remedy for the settings that differ.
    pub fn settings(&self, differing: &[SettingDiff]) -> String {
        if differing.iter().all(|d| d.pending_restart) {
            return RESTART.into();
        }
        let restart = differing
            .iter()
            .any(|d| !d.pending_restart && d.needs == tune::Needs::Restart.label());
        self.fixes(false, restart)
    }

    /// The remedy for foreign keys without an index: the profile's own indexes that
    /// will cover some, `--fk-indexes` for the others, and those tune-db leaves alone
    /// (a table outside the search path).
    pub fn foreign_keys(&self, missing: &[UnindexedForeignKey]) -> String {
        let plan = match &self.indexes {
            Ok(p) => p,
            Err(e) => {
                return format!(
                    "whether tune-db fixes it is not known (its plan could not be read: {e})"
                );
            }
        };
        let by_profile = |fk: &UnindexedForeignKey| {
            plan.indexes
                .iter()
                .any(|i| i.foreign_key().is_none() && i.step.builds() && i.covers(fk))
        };
        let by_flag = |fk: &UnindexedForeignKey| {
            plan.indexes
                .iter()
                .any(|i| i.foreign_key() == Some(fk.constraint_name.as_str()) && i.step.builds())
        };
        let profile = missing.iter().filter(|fk| by_profile(fk)).count();
        let left_out: Vec<String> = missing
            .iter()
            .filter(|fk| !by_profile(fk) && !by_flag(fk))
            .map(|fk| {
                format!(
                    "{}({}){}",
                    fk.table_name,
                    fk.columns,
                    if fk.visible {
                        ""
                    } else {
                        " (outside the search path)"
                    }
                )
            })
            .collect();
        let fixable = missing.len() - left_out.len();
        let mut parts = Vec::new();
        if fixable == missing.len() && profile == fixable {
            parts.push(self.fixes(false, false));
        } else if fixable == missing.len() && profile == 0 {
            parts.push(self.fixes(true, false));
        } else if fixable > 0 {
            match (self.command(false), self.command(true)) {
                (Ok(plain), Ok(flag)) if profile > 0 => {
                    parts.push(format!("{plain} fixes {profile} of them, {flag} {fixable}"))
                }
                (_, Ok(flag)) => parts.push(format!("{flag} fixes {fixable} of them")),
                (_, Err(why)) => parts.push(why),
            }
        }
        if !left_out.is_empty() {
            parts.push(format!("tune-db indexes none of {}", left_out.join(", ")));
        }
        parts.join("; ")
    }

    /// The remedy for one of the guide's indexes that nothing serves: the first index
    /// of the plan that would serve its lookups, else why the plan builds none.
    pub fn guide_index(&self, guide: &IndexSpec) -> String {
        let plan = match &self.indexes {
            Ok(p) => p,
            Err(e) => {
                return format!(
                    "whether tune-db fixes it is not known (its plan could not be read: {e})"
                );
            }
        };
        if let Some(i) = plan
            .indexes
            .iter()
            .find(|i| i.step.builds() && tune::spec_serves(i.spec(), guide))
        {
            return self.fixes(i.foreign_key().is_some(), false);
        }
        let same_name = plan
            .indexes
            .iter()
            .find(|i| i.foreign_key().is_none() && i.name == guide.name);
        match same_name {
            Some(i) if i.step == IndexStep::Present => format!(
                "tune-db does not build it: it takes the index already named {} for it",
                guide.name
            ),
            Some(i) if !tune::spec_serves(i.spec(), guide) => format!(
                "tune-db does not build it: profile {}'s {} is on {} ({})",
                self.profile_name,
                guide.name,
                i.table,
                i.spec().columns
            ),
            Some(i) => format!(
                "tune-db does not build it: profile {}'s {} is {}",
                self.profile_name,
                guide.name,
                i.step.label()
            ),
            None => format!(
                "tune-db does not build it: profile {} has no index for these lookups",
                self.profile_name
            ),
        }
    }
}

/// `text` as one word for a POSIX shell: as is when it holds only safe characters,
/// else single-quoted.
fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=+@%,".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_paths_are_quoted_for_the_shell() {
        assert_eq!(shell_word("profiles/mine.toml"), "profiles/mine.toml");
        assert_eq!(shell_word("my profile.toml"), "'my profile.toml'");
        assert_eq!(shell_word("it's.toml"), r"'it'\''s.toml'");
    }
}
