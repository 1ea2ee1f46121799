//! Tuning profiles: the Postgres settings, preloaded libraries and indexes that
//! `tune-db` brings a server to.
//!
//! A profile is the shipped `koprogo-vps` (the performance guide's postgresql.conf),
//! `auto` (PGTune's rules for this machine, [`pgtune`]) or a TOML file of the same
//! format. It is checked twice before anything touches the database: [`load`] checks
//! the file on its own (TOML, keys, value types, index identifiers), [`validate`]
//! checks every setting against the server's own `pg_settings` (name, unit class,
//! range, enum values) and converts it to the base unit the server reports, so that
//! "already set" and "reads back as asked" are exact comparisons. Every error names
//! the file, the line and the setting.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::assets::Found;

/// The profiles shipped with the tool, usable by name from any directory.
pub const BUILTIN: &[(&str, &str)] = &[(
    "koprogo-vps",
    include_str!("../../profiles/koprogo-vps.toml"),
)];

/// The profile computed from the machine (or `--memory`, `--cpus`, …) by [`pgtune`].
pub const AUTO: &str = "auto";

/// A profile that cannot be used. Messages name the file, the line and the setting.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "profile `{0}` not found: give a path to a .toml file or one of: auto, {names}",
        names = builtin_names()
    )]
    NotFound(String),
    #[error("cannot read profile file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Malformed TOML, an unknown key, a bad index or library.
    #[error("{}: {message}", at(file, *line))]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
    /// A setting the file or the server rejects.
    #[error("{}: setting `{name}`: {problem}", at(file, *line))]
    Setting {
        file: String,
        line: usize,
        name: String,
        problem: String,
    },
    /// Several of the above, in file order.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<ProfileError>),
}

/// `file:line`, or just the source for a computed profile (line 0).
fn at(file: &str, line: usize) -> String {
    if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}")
    }
}

fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ProfileError {
    /// One error as is, several as [`ProfileError::Many`].
    fn from_list(mut errors: Vec<ProfileError>) -> ProfileError {
        if errors.len() == 1 {
            errors.remove(0)
        } else {
            ProfileError::Many(errors)
        }
    }
}

/// A profile checked on its own (not yet against a server: see [`validate`]).
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// Where it came from: a path, or `builtin:NAME`.
    pub source: String,
    /// In file order.
    pub settings: Vec<SettingTarget>,
    /// Libraries to ensure in `shared_preload_libraries`, appended to those listed.
    pub preload: Vec<String>,
    pub indexes: Vec<IndexSpec>,
}

/// One setting of a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingTarget {
    /// Lower case, as in `pg_settings`.
    pub name: String,
    /// As Postgres writes it: `256MB`, `1.1`, `on`.
    pub value: String,
    /// Line in the profile file (0 for a computed profile).
    pub line: usize,
}

/// One index of a profile; every part checked to be a plain identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub table: String,
    /// `col[ ASC|DESC], ...`, normalized: `organization_id, expense_date DESC`.
    pub columns: String,
    /// The WHERE of a partial index.
    pub predicate: Option<String>,
    /// Lines of its `columns` and `where` in the profile file (0 when computed, as for
    /// `--fk-indexes`), for errors found against the database.
    pub line: usize,
    pub where_line: usize,
}

impl IndexSpec {
    /// The statement that builds it without blocking writes, to run outside any
    /// transaction.
    pub fn create_sql(&self) -> String {
        let mut sql = format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({})",
            self.name, self.table, self.columns
        );
        if let Some(predicate) = &self.predicate {
            sql.push_str(" WHERE ");
            sql.push_str(predicate);
        }
        sql
    }
}

/// Storage class, for PGTune's random_page_cost and effective_io_concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Storage {
    Ssd,
    Hdd,
    San,
}

/// Workload class, for PGTune's connection count, work_mem and WAL sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Web application: many short queries (KoproGo).
    Web,
    /// Online transaction processing.
    Oltp,
    /// Mixed.
    Mixed,
    /// Data warehouse.
    Dw,
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Storage::Ssd => "ssd",
            Storage::Hdd => "hdd",
            Storage::San => "san",
        })
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::Web => "web",
            Workload::Oltp => "oltp",
            Workload::Mixed => "mixed",
            Workload::Dw => "dw",
        })
    }
}

impl Workload {
    /// PGTune's max_connections for the workload, when none is given.
    pub fn default_connections(self) -> u32 {
        match self {
            Workload::Web => 200,
            Workload::Oltp => 300,
            Workload::Mixed => 100,
            Workload::Dw => 40,
        }
    }
}

/// What PGTune's rules start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoInputs {
    pub memory_bytes: u64,
    pub cpus: u32,
    /// The server's max_connections; the workload's default when `None`. Only used to
    /// size work_mem (the profile does not set max_connections).
    pub connections: Option<u32>,
    pub storage: Storage,
    pub workload: Workload,
}

impl AutoInputs {
    /// This machine: its RAM (or its cgroup's limit, when lower) and the CPUs this
    /// process may use, assuming SSD storage and a web workload.
    pub fn detect() -> AutoInputs {
        use sysinfo::{CpuRefreshKind, System};
        let mut sys = System::new();
        sys.refresh_memory();
        let mut memory_bytes = sys.total_memory();
        if let Some(limits) = sys.cgroup_limits()
            && limits.total_memory > 0
            && limits.total_memory < memory_bytes
        {
            memory_bytes = limits.total_memory;
        }
        sys.refresh_cpu_list(CpuRefreshKind::nothing());
        let mut cpus = sys.cpus().len();
        // A CPU quota or affinity mask limits what the server can use too.
        if let Ok(n) = std::thread::available_parallelism() {
            cpus = if cpus == 0 {
                n.get()
            } else {
                cpus.min(n.get())
            };
        }
        AutoInputs {
            memory_bytes,
            cpus: u32::try_from(cpus.max(1)).unwrap_or(u32::MAX),
            connections: None,
            storage: Storage::Ssd,
            workload: Workload::Web,
        }
    }

    /// For messages: `1GB RAM, 2 CPUs, 200 connections, web, ssd`.
    pub fn describe(&self) -> String {
        format!(
            "{} RAM, {} CPUs, {} connections, {}, {}",
            memory_approx(self.memory_bytes),
            self.cpus,
            self.connections
                .unwrap_or(self.workload.default_connections()),
            self.workload,
            self.storage
        )
    }
}

const KB_PER_MB: u64 = 1024;
const KB_PER_GB: u64 = 1024 * 1024;

/// A size in kB as Postgres writes it: the largest unit that divides it exactly.
fn memory_text(kb: u64) -> String {
    for (unit, size) in [
        ("TB", KB_PER_GB * 1024),
        ("GB", KB_PER_GB),
        ("MB", KB_PER_MB),
    ] {
        if kb > 0 && kb.is_multiple_of(size) {
            return format!("{}{unit}", kb / size);
        }
    }
    format!("{kb}kB")
}

/// A size for people: exact when it is a whole unit, else GB with one decimal.
fn memory_approx(bytes: u64) -> String {
    let kb = bytes / 1024;
    if bytes.is_multiple_of(1024) && (kb.is_multiple_of(KB_PER_MB) || kb < KB_PER_GB) {
        memory_text(kb)
    } else {
        format!("{:.1}GB", bytes as f64 / (1u64 << 30) as f64)
    }
}

/// Rounds a size in kB down to whole 8kB pages (the unit of shared_buffers,
/// effective_cache_size and wal_buffers), so that the value converts exactly.
fn pages(kb: u64) -> u64 {
    kb / 8 * 8
}

/// PGTune's recommendation for the inputs: the 14 settings of the performance guide,
/// in its order. For 1 GB, 2 CPUs, web, SSD these are the guide's values exactly.
///
/// One rule departs from PGTune: wal_buffers. PGTune takes 3 % of shared_buffers
/// (7864kB for 1 GB of RAM) and only rounds up to 16MB above 14MB; the guide, which is
/// the spec, sets 16MB on 1 GB. So from shared_buffers = 256MB up wal_buffers is 16MB
/// (PGTune's cap, one WAL segment; the memory is negligible at that size), and below it
/// PGTune's 3 % rule applies.
pub fn pgtune(inputs: &AutoInputs) -> Vec<(String, String)> {
    let ram_kb = inputs.memory_bytes / 1024;
    let cpus = u64::from(inputs.cpus.max(1));
    let connections = u64::from(
        inputs
            .connections
            .unwrap_or(inputs.workload.default_connections())
            .max(1),
    );
    let dw = inputs.workload == Workload::Dw;

    let shared_buffers = pages(ram_kb / 4);
    let effective_cache_size = pages(ram_kb * 3 / 4);
    let maintenance_work_mem = (ram_kb / if dw { 8 } else { 16 }).min(8 * KB_PER_GB);
    let wal_buffers = {
        let max = 16 * KB_PER_MB;
        let mut kb = (3 * shared_buffers / 100).min(max);
        if kb > 14 * KB_PER_MB || shared_buffers >= 256 * KB_PER_MB {
            kb = max;
        }
        pages(kb.max(32))
    };
    let (max_worker_processes, per_gather, max_parallel_workers) = if cpus >= 4 {
        (cpus, cpus.div_ceil(2).min(4), cpus)
    } else {
        // Below 4 CPUs PGTune leaves the parallel settings alone; the guide's 2-CPU
        // values keep a small server from running more workers than it has cores.
        (2, 1, 2)
    };
    let work_mem = {
        let base =
            ram_kb.saturating_sub(shared_buffers) / ((connections + max_worker_processes) * 3);
        let by_workload = match inputs.workload {
            Workload::Web | Workload::Oltp => base,
            Workload::Mixed | Workload::Dw => base / 2,
        };
        by_workload.max(4 * KB_PER_MB)
    };
    let (min_wal, max_wal) = match inputs.workload {
        Workload::Web | Workload::Mixed => (1, 4),
        Workload::Oltp => (2, 8),
        Workload::Dw => (4, 16),
    };
    let (random_page_cost, io_concurrency) = match inputs.storage {
        Storage::Ssd => ("1.1", 200),
        Storage::Hdd => ("4", 2),
        Storage::San => ("1.1", 300),
    };
    [
        ("shared_buffers", memory_text(shared_buffers)),
        ("effective_cache_size", memory_text(effective_cache_size)),
        ("maintenance_work_mem", memory_text(maintenance_work_mem)),
        ("checkpoint_completion_target", "0.9".into()),
        ("wal_buffers", memory_text(wal_buffers)),
        (
            "default_statistics_target",
            if dw { "500" } else { "100" }.into(),
        ),
        ("random_page_cost", random_page_cost.into()),
        ("effective_io_concurrency", io_concurrency.to_string()),
        ("work_mem", memory_text(work_mem)),
        ("min_wal_size", memory_text(min_wal * KB_PER_GB)),
        ("max_wal_size", memory_text(max_wal * KB_PER_GB)),
        ("max_worker_processes", max_worker_processes.to_string()),
        ("max_parallel_workers_per_gather", per_gather.to_string()),
        ("max_parallel_workers", max_parallel_workers.to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    settings: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    preload: Option<RawPreload>,
    #[serde(default, rename = "index")]
    indexes: Vec<Spanned<RawIndex>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreload {
    #[serde(default)]
    libraries: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    name: Spanned<String>,
    table: Spanned<String>,
    columns: Spanned<String>,
    #[serde(rename = "where")]
    predicate: Option<Spanned<String>>,
}

/// Finds a profile: `auto`, a path, or a shipped name. A name is looked up in
/// `./profiles/` first (so edits to the shipped files take effect), then in the binary.
/// `auto` takes its settings from [`pgtune`]`(auto)` and its libraries and indexes from
/// `koprogo-vps`.
pub fn load(name_or_path: &str, auto: &AutoInputs) -> Result<Profile, ProfileError> {
    if name_or_path == AUTO {
        let base = load("koprogo-vps", auto)?;
        return Ok(Profile {
            name: AUTO.into(),
            source: format!("builtin:{AUTO}"),
            settings: pgtune(auto)
                .into_iter()
                .map(|(name, value)| SettingTarget {
                    name,
                    value,
                    line: 0,
                })
                .collect(),
            preload: base.preload,
            indexes: base.indexes,
        });
    }
    match crate::assets::find(name_or_path, "profiles", BUILTIN) {
        Found::File(path) => load_file(&path),
        Found::Builtin(name, text) => parse(text, &format!("builtin:{name}"), name),
        Found::NotFound => Err(ProfileError::NotFound(name_or_path.to_string())),
    }
}

/// Reads and checks a profile file.
pub fn load_file(path: &Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(
        &text,
        &path.display().to_string(),
        &crate::assets::stem(path),
    )
}

/// Checks profile text on its own; `file` names it in errors. Reports every problem
/// found, not only the first.
pub fn parse(text: &str, file: &str, name: &str) -> Result<Profile, ProfileError> {
    let invalid = |offset: usize, message: String| ProfileError::Invalid {
        file: file.to_string(),
        line: line_of(text, offset),
        // One line, whatever of the file it quotes.
        message: message.replace('\n', "\\n"),
    };
    let raw: RawProfile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        invalid(offset, e.message().trim_end().replace('\n', "; "))
    })?;
    let mut errors = Vec::new();

    // Settings, in file order (the map is sorted by name).
    let mut entries: Vec<(usize, String, toml::Value)> = Vec::new();
    for (key, value) in raw.settings {
        let at = key.span().start;
        flatten(key.into_inner(), value.into_inner(), at, &mut entries);
    }
    entries.sort_by_key(|(at, _, _)| *at);
    let mut settings: Vec<SettingTarget> = Vec::new();
    for (at, key, value) in entries {
        let line = line_of(text, at);
        let name = key.to_ascii_lowercase();
        let mut problem = |problem: String| {
            errors.push(ProfileError::Setting {
                file: file.to_string(),
                line,
                name: key.clone(),
                problem,
            })
        };
        if !is_setting_name(&name) {
            problem("not a setting name (letters, digits, `_`, one `.`)".into());
            continue;
        }
        if name == "shared_preload_libraries" {
            problem(
                "list the libraries under [preload] libraries = [...], which adds them to \
                 those already preloaded instead of replacing them"
                    .into(),
            );
            continue;
        }
        if let Some(first) = settings.iter().find(|s| s.name == name) {
            problem(format!("set twice (also on line {})", first.line));
            continue;
        }
        match value_text(&value) {
            Ok(value) => settings.push(SettingTarget { name, value, line }),
            Err(e) => problem(e),
        }
    }

    // Libraries.
    let mut preload: Vec<String> = Vec::new();
    for library in raw.preload.map(|p| p.libraries).unwrap_or_default() {
        let at = library.span().start;
        let library = library.into_inner();
        let ok = !library.is_empty()
            && library
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.$/".contains(c));
        if !ok {
            errors.push(invalid(
                at,
                format!("preload library `{library}`: not a library name"),
            ));
        } else if !preload.contains(&library) {
            preload.push(library);
        }
    }

    let indexes = index_specs(raw.indexes, text, file, &mut errors);

    if !errors.is_empty() {
        return Err(ProfileError::from_list(errors));
    }
    if settings.is_empty() && preload.is_empty() && indexes.is_empty() {
        return Err(invalid(
            0,
            "the profile sets nothing: add [settings], [preload] or [[index]]".into(),
        ));
    }
    Ok(Profile {
        name: name.to_string(),
        source: file.to_string(),
        settings,
        preload,
        indexes,
    })
}

/// The profile's `[[index]]` entries checked: each problem goes to `errors` with its
/// line, and only the sound entries are returned.
fn index_specs(
    raw_indexes: Vec<Spanned<RawIndex>>,
    text: &str,
    file: &str,
    errors: &mut Vec<ProfileError>,
) -> Vec<IndexSpec> {
    let invalid = |offset: usize, message: String| ProfileError::Invalid {
        file: file.to_string(),
        line: line_of(text, offset),
        message: message.replace('\n', "\\n"),
    };
    let mut indexes: Vec<IndexSpec> = Vec::new();
    for spanned in raw_indexes {
        let at = spanned.span().start;
        let raw = spanned.into_inner();
        let label = raw.name.get_ref().clone();
        let mut bad = |offset: usize, problem: String| {
            errors.push(invalid(offset, format!("index `{label}`: {problem}")));
        };
        let mut ok = true;
        for (what, field) in [("name", &raw.name), ("table", &raw.table)] {
            if let Err(e) = check_identifier(field.get_ref()) {
                bad(field.span().start, format!("{what} {e}"));
                ok = false;
            }
        }
        let columns = match normalize_columns(raw.columns.get_ref()) {
            Ok(c) => c,
            Err(e) => {
                bad(raw.columns.span().start, format!("columns: {e}"));
                ok = false;
                String::new()
            }
        };
        let predicate = match &raw.predicate {
            Some(p) => match check_predicate(p.get_ref()) {
                Ok(p) => Some(p),
                Err(e) => {
                    bad(p.span().start, format!("where: {e}"));
                    ok = false;
                    None
                }
            },
            None => None,
        };
        if ok && indexes.iter().any(|i| &i.name == raw.name.get_ref()) {
            bad(at, "listed twice".into());
            ok = false;
        }
        if ok {
            indexes.push(IndexSpec {
                line: line_of(text, raw.columns.span().start),
                where_line: raw
                    .predicate
                    .as_ref()
                    .map_or(0, |p| line_of(text, p.span().start)),
                name: raw.name.into_inner(),
                table: raw.table.into_inner(),
                columns,
                predicate,
            });
        }
    }
    indexes
}

/// `[settings.pg_stat_statements] track = "all"` and dotted keys name the setting
/// `pg_stat_statements.track`.
fn flatten(
    key: String,
    value: toml::Value,
    at: usize,
    out: &mut Vec<(usize, String, toml::Value)>,
) {
    match value {
        toml::Value::Table(table) => {
            for (inner, value) in table {
                flatten(format!("{key}.{inner}"), value, at, out);
            }
        }
        value => out.push((at, key, value)),
    }
}

/// A TOML value as Postgres writes it.
fn value_text(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.trim().to_string()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) if f.is_finite() => Ok(f.to_string()),
        toml::Value::Float(f) => Err(format!("{f} is not a usable number")),
        toml::Value::Boolean(b) => Ok(if *b { "on" } else { "off" }.into()),
        other => Err(format!(
            "a {} is not a setting value (write a string, number or boolean)",
            other.type_str()
        )),
    }
}

fn is_setting_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let ok = |p: &str| check_identifier(p).is_ok();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), None, None) => ok(a),
        (Some(a), Some(b), None) => ok(a) && ok(b),
        _ => false,
    }
}

/// A plain SQL identifier: `[a-z_][a-z0-9_]*`, at most 63 bytes (NAMEDATALEN - 1).
fn check_identifier(text: &str) -> Result<(), String> {
    let mut chars = text.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain {
        Err(format!(
            "`{text}` is not a plain identifier ([a-z_][a-z0-9_]*)"
        ))
    } else if text.len() > 63 {
        Err(format!("`{text}` is longer than Postgres' 63 bytes"))
    } else {
        Ok(())
    }
}

/// `a, b desc` → `a, b DESC`; each column a plain identifier, optionally ASC or DESC.
fn normalize_columns(text: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (column, direction) = match words.as_slice() {
            [column] => (*column, None),
            [column, dir] if dir.eq_ignore_ascii_case("asc") => (*column, Some("ASC")),
            [column, dir] if dir.eq_ignore_ascii_case("desc") => (*column, Some("DESC")),
            [] => return Err("empty column in the list".into()),
            _ => {
                return Err(format!(
                    "`{}`: expected a column name, optionally followed by ASC or DESC",
                    part.trim()
                ));
            }
        };
        check_identifier(column)?;
        out.push(match direction {
            Some(d) => format!("{column} {d}"),
            None => column.to_string(),
        });
    }
    Ok(out.join(", "))
}

/// A partial index's condition: one SQL expression, as PostgreSQL's grammar reads it
/// (sqlparser's PostgreSQL dialect), and nothing after it, so that it cannot close the
/// WHERE and append SQL (`a) OR (b`, `x); DROP TABLE t`). `;` and comments are refused
/// before parsing, whatever a parser would make of them.
fn check_predicate(text: &str) -> Result<String, String> {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;
    use sqlparser::tokenizer::Token;
    let text = text.trim();
    if text.is_empty() {
        return Err("empty condition".into());
    } else if text.contains(';') {
        return Err(format!("`{text}`: `;` is not allowed in a condition"));
    } else if text.contains("--") || text.contains("/*") {
        return Err(format!("`{text}`: comments are not allowed in a condition"));
    }
    let not_one = |detail: String| format!("`{text}` is not one SQL condition: {detail}");
    let mut parser = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .map_err(|e| not_one(e.to_string()))?;
    parser.parse_expr().map_err(|e| not_one(e.to_string()))?;
    match parser.peek_token().token {
        Token::EOF => Ok(text.to_string()),
        rest => Err(not_one(format!("unexpected `{rest}` after the condition"))),
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// One row of `pg_settings`, as `tune-db` reads it: `SELECT name, setting, unit,
/// vartype, min_val, max_val, enumvals, context, source, boot_val, reset_val,
/// pending_restart FROM pg_settings`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PgSetting {
    pub name: String,
    /// Current value, in `unit`.
    pub setting: String,
    /// Base unit of integer and real settings: `8kB`, `kB`, `MB`, `B`, `ms`, `s`, `min`.
    pub unit: Option<String>,
    /// `bool`, `enum`, `integer`, `real` or `string`.
    pub vartype: String,
    pub min_val: Option<String>,
    pub max_val: Option<String>,
    pub enumvals: Option<Vec<String>>,
    /// `postmaster` (restart), `sighup` (reload), `internal` (read-only), …
    pub context: String,
    pub source: String,
    pub boot_val: Option<String>,
    pub reset_val: Option<String>,
    pub pending_restart: bool,
}

/// A setting of the profile, checked against the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub name: String,
    /// As the profile writes it.
    pub target: String,
    /// In the server's terms, comparable with `PgSetting::setting`: the number in
    /// `unit` (`256MB` with unit `8kB` → `32768`), the canonical enum value, `on`/`off`.
    pub target_base: String,
}

/// Checks every setting of the profile against the server's `pg_settings` (by name)
/// and converts it to the setting's base unit. Errors name `file:line` and the
/// setting; all of them are reported at once.
pub fn validate(
    profile: &Profile,
    server: &HashMap<String, PgSetting>,
) -> Result<Vec<Checked>, ProfileError> {
    let mut checked = Vec::with_capacity(profile.settings.len());
    let mut errors = Vec::new();
    for target in &profile.settings {
        match check_setting(target, server.get(&target.name)) {
            Ok(target_base) => checked.push(Checked {
                name: target.name.clone(),
                target: target.value.clone(),
                target_base,
            }),
            Err(problem) => errors.push(ProfileError::Setting {
                file: profile.source.clone(),
                line: target.line,
                name: target.name.clone(),
                problem,
            }),
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(ProfileError::from_list(errors))
    }
}

/// The target in the setting's base terms, or what is wrong with it.
fn check_setting(target: &SettingTarget, row: Option<&PgSetting>) -> Result<String, String> {
    let Some(row) = row else {
        return Err(if target.name.contains('.') {
            "unknown setting: not in this server's pg_settings (an extension's setting is \
             only known once its library is loaded)"
                .into()
        } else {
            "unknown setting: not in this server's pg_settings".into()
        });
    };
    if row.context == "internal" {
        return Err("read-only (internal): fixed when Postgres was built or initialized".into());
    }
    let value = target.value.as_str();
    match row.vartype.as_str() {
        "bool" => match value.to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Ok("on".into()),
            "off" | "false" | "no" | "0" => Ok("off".into()),
            _ => Err(format!("`{value}` is not a boolean (on or off)")),
        },
        "enum" => {
            let allowed = row.enumvals.as_deref().unwrap_or_default();
            allowed
                .iter()
                .find(|v| v.eq_ignore_ascii_case(value))
                .cloned()
                .ok_or_else(|| format!("`{value}` is not one of: {}", allowed.join(", ")))
        }
        "integer" | "real" => check_number(value, row),
        _ => Ok(value.to_string()),
    }
}

/// A unit of a quantity: memory in bytes, time in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Memory,
    Time,
}

const MEMORY_UNITS: &[(&str, f64)] = &[
    ("B", 1.0),
    ("kB", 1024.0),
    ("MB", 1048576.0),
    ("GB", 1073741824.0),
    ("TB", 1099511627776.0),
];
const TIME_UNITS: &[(&str, f64)] = &[
    ("us", 1.0),
    ("ms", 1e3),
    ("s", 1e6),
    ("min", 60e6),
    ("h", 3600e6),
    ("d", 86400e6),
];

/// `kB` → (Memory, 1024); `8kB` → (Memory, 8192); `min` → (Time, 60e6). Units are
/// case-sensitive, as in Postgres.
fn unit_size(unit: &str) -> Option<(Class, f64)> {
    let digits = unit
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(unit.len());
    let multiplier: f64 = if digits == 0 {
        1.0
    } else {
        unit[..digits].parse().ok()?
    };
    let name = &unit[digits..];
    let find = |units: &[(&str, f64)]| units.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
    find(MEMORY_UNITS)
        .map(|s| (Class::Memory, s * multiplier))
        .or_else(|| find(TIME_UNITS).map(|s| (Class::Time, s * multiplier)))
}

fn unit_names(class: Class) -> String {
    let units = match class {
        Class::Memory => MEMORY_UNITS,
        Class::Time => TIME_UNITS,
    };
    units.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// `256MB` → (256.0, "MB"), `0.9` → (0.9, ""), `5 min` → (5.0, "min").
fn split_number(text: &str) -> Option<(f64, &str)> {
    let bytes = text.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    let digits_start = end;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
        end += 1;
    }
    if end == digits_start {
        return None;
    }
    // An exponent only when digits follow it (`1e3`), so that no unit is eaten.
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(bytes.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        if bytes.get(e).is_some_and(|b| b.is_ascii_digit()) {
            end = e;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
        }
    }
    let number: f64 = text[..end].parse().ok()?;
    number.is_finite().then_some((number, text[end..].trim()))
}

/// Integer and real settings: the number, converted from the value's unit to the
/// setting's base unit (exactly, for integers), within min_val..max_val.
fn check_number(value: &str, row: &PgSetting) -> Result<String, String> {
    let integer = row.vartype == "integer";
    let base = row.unit.as_deref().filter(|u| !u.is_empty());
    let base_size =
        match base {
            Some(unit) => Some(unit_size(unit).ok_or_else(|| {
                format!("the server reports a unit this tool does not know: {unit}")
            })?),
            None => None,
        };
    let expected = || match base_size {
        Some((class, _)) => format!(
            "{} with an optional unit ({})",
            if integer { "an integer" } else { "a number" },
            unit_names(class)
        ),
        None if integer => "an integer, without unit".into(),
        None => "a number, without unit".into(),
    };
    let Some((number, unit)) = split_number(value) else {
        return Err(format!("`{value}` is not {}", expected()));
    };
    let in_base = match (unit, base_size) {
        ("", _) => number,
        (unit, None) => {
            return Err(format!(
                "`{value}`: this setting takes no unit (`{unit}` given)"
            ));
        }
        (unit, Some((class, size))) => match unit_size(unit) {
            Some((c, s)) if c == class => number * s / size,
            Some(_) | None => {
                return Err(format!(
                    "`{value}`: `{unit}` is not a {} unit; use one of {}",
                    match class {
                        Class::Memory => "memory",
                        Class::Time => "time",
                    },
                    unit_names(class)
                ));
            }
        },
    };
    let text = if integer {
        let rounded = in_base.round();
        if (in_base - rounded).abs() > 1e-9 * rounded.abs().max(1.0) {
            return Err(match base {
                Some(unit) if !unit.is_empty() => {
                    format!("`{value}` is not a multiple of {unit} (the setting's unit)")
                }
                _ => format!("`{value}` is not an integer"),
            });
        }
        if rounded.abs() >= 9.0e15 {
            return Err(format!("`{value}` is out of range"));
        }
        format!("{}", rounded as i64)
    } else {
        in_base.to_string()
    };
    let bound = |b: &Option<String>| b.as_deref().and_then(|b| b.parse::<f64>().ok());
    let (min, max) = (bound(&row.min_val), bound(&row.max_val));
    if min.is_some_and(|m| in_base < m) || max.is_some_and(|m| in_base > m) {
        // `16 × 8kB` for page-sized units, `1024kB` for plain ones.
        let in_unit = |n: &str| match base {
            Some(u) if u.starts_with(|c: char| c.is_ascii_digit()) => format!("{n} × {u}"),
            Some(u) => format!("{n}{u}"),
            None => n.to_string(),
        };
        let show = |b: &Option<String>| in_unit(b.as_deref().unwrap_or("…"));
        let written_unit = split_number(value).map(|(_, u)| u).unwrap_or_default();
        let converted = if written_unit.is_empty() || Some(written_unit) == base {
            String::new()
        } else {
            format!(" (= {})", in_unit(&text))
        };
        return Err(format!(
            "`{value}`{converted} is out of range: allowed {} to {}",
            show(&row.min_val),
            show(&row.max_val)
        ));
    }
    Ok(text)
}

/// `1GB`, `512MB`, `2048kB` or a number of bytes.
pub fn parse_bytes(text: &str) -> anyhow::Result<u64> {
    use anyhow::Context as _;
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split]
        .parse()
        .context("expected a size such as 1GB or 512MB")?;
    let mult = match t[split..].trim() {
        "" | "B" => 1,
        "kB" | "KB" | "k" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        "TB" | "T" => 1 << 40,
        other => anyhow::bail!("unknown unit `{other}` (kB, MB, GB, TB)"),
    };
    Ok(n * mult)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// (table, column) pairs.
    type Columns = Vec<(String, String)>;

    const GUIDE: [(&str, &str); 14] = [
        ("shared_buffers", "256MB"),
        ("effective_cache_size", "768MB"),
        ("maintenance_work_mem", "64MB"),
        ("checkpoint_completion_target", "0.9"),
        ("wal_buffers", "16MB"),
        ("default_statistics_target", "100"),
        ("random_page_cost", "1.1"),
        ("effective_io_concurrency", "200"),
        ("work_mem", "4MB"),
        ("min_wal_size", "1GB"),
        ("max_wal_size", "4GB"),
        ("max_worker_processes", "2"),
        ("max_parallel_workers_per_gather", "1"),
        ("max_parallel_workers", "2"),
    ];

    const GIB: u64 = 1 << 30;

    fn inputs(gib: u64, cpus: u32, workload: Workload, storage: Storage) -> AutoInputs {
        AutoInputs {
            memory_bytes: gib * GIB,
            cpus,
            connections: None,
            storage,
            workload,
        }
    }

    fn as_map(pairs: &[(String, String)]) -> HashMap<&str, &str> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn row(
        name: &str,
        vartype: &str,
        unit: &str,
        min: &str,
        max: &str,
        context: &str,
    ) -> PgSetting {
        PgSetting {
            name: name.into(),
            setting: String::new(),
            unit: (!unit.is_empty()).then(|| unit.into()),
            vartype: vartype.into(),
            min_val: (!min.is_empty()).then(|| min.into()),
            max_val: (!max.is_empty()).then(|| max.into()),
            enumvals: None,
            context: context.into(),
            source: "default".into(),
            boot_val: None,
            reset_val: None,
            pending_restart: false,
        }
    }

    /// pg_settings rows as PostgreSQL 15 reports them: name, vartype, unit, min_val,
    /// max_val, context.
    #[rustfmt::skip]
    const ROWS: &[(&str, &str, &str, &str, &str, &str)] = &[
        ("shared_buffers", "integer", "8kB", "16", "1073741823", "postmaster"),
        ("effective_cache_size", "integer", "8kB", "1", "2147483647", "user"),
        ("maintenance_work_mem", "integer", "kB", "1024", "2147483647", "user"),
        ("checkpoint_completion_target", "real", "", "0", "1", "sighup"),
        ("wal_buffers", "integer", "8kB", "-1", "262143", "postmaster"),
        ("default_statistics_target", "integer", "", "1", "10000", "user"),
        ("random_page_cost", "real", "", "0", "1.79769e+308", "user"),
        ("effective_io_concurrency", "integer", "", "0", "1000", "user"),
        ("work_mem", "integer", "kB", "64", "2147483647", "user"),
        ("min_wal_size", "integer", "MB", "2", "2147483647", "sighup"),
        ("max_wal_size", "integer", "MB", "2", "2147483647", "sighup"),
        ("max_worker_processes", "integer", "", "0", "262143", "postmaster"),
        ("max_parallel_workers_per_gather", "integer", "", "0", "1024", "user"),
        ("max_parallel_workers", "integer", "", "0", "1024", "user"),
        ("statement_timeout", "integer", "ms", "0", "2147483647", "user"),
        ("vacuum_cost_delay", "real", "ms", "0", "100", "user"),
        ("jit", "bool", "", "", "", "user"),
        ("block_size", "integer", "", "8192", "8192", "internal"),
        ("shared_preload_libraries", "string", "", "", "", "postmaster"),
    ];

    /// The rows of a test server.
    fn server() -> HashMap<String, PgSetting> {
        let mut rows: Vec<PgSetting> = ROWS
            .iter()
            .map(|&(name, vartype, unit, min, max, context)| {
                row(name, vartype, unit, min, max, context)
            })
            .collect();
        let mut wal_level = row("wal_level", "enum", "", "", "", "postmaster");
        wal_level.enumvals = Some(vec!["minimal".into(), "replica".into(), "logical".into()]);
        rows.push(wal_level);
        rows.into_iter().map(|r| (r.name.clone(), r)).collect()
    }

    fn profile(settings: &str) -> Profile {
        parse(&format!("[settings]\n{settings}"), "test.toml", "test").unwrap()
    }

    fn validate_error(settings: &str) -> String {
        validate(&profile(settings), &server())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn koprogo_vps_is_the_guide() {
        let p = load("koprogo-vps", &inputs(1, 2, Workload::Web, Storage::Ssd)).unwrap();
        let settings: Vec<(&str, &str)> = p
            .settings
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(settings, GUIDE);
        assert_eq!(p.preload, vec!["pg_stat_statements"]);
        // The shipped file in ./profiles and the copy in the binary are the same.
        let builtin = parse(BUILTIN[0].1, "builtin:koprogo-vps", "koprogo-vps").unwrap();
        assert_eq!(builtin.settings.len(), 14);
        assert_eq!(builtin.indexes, p.indexes);
        // Lines point into the file.
        assert_eq!(p.settings[0].line, 9);
    }

    #[test]
    fn koprogo_vps_has_the_guide_indexes() {
        let p = load("koprogo-vps", &inputs(1, 2, Workload::Web, Storage::Ssd)).unwrap();
        let find = |name: &str| p.indexes.iter().find(|i| i.name == name).unwrap();
        assert_eq!(
            find("idx_expenses_building_status").create_sql(),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_expenses_building_status \
             ON expenses (building_id, approval_status)"
        );
        assert_eq!(
            find("idx_unit_owners_unit_active").create_sql(),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_unit_owners_unit_active \
             ON unit_owners (unit_id) WHERE end_date IS NULL"
        );
        for (table, columns) in [
            ("buildings", "organization_id, name"),
            ("units", "organization_id, unit_number"),
            ("owners", "organization_id, last_name, first_name"),
            ("expenses", "organization_id, expense_date DESC"),
        ] {
            assert!(
                p.indexes
                    .iter()
                    .any(|i| i.table == table && i.columns == columns && i.predicate.is_none()),
                "no pagination index ({columns}) on {table}"
            );
        }
    }

    /// (table, column) of every foreign key, and the leading column of every index
    /// the schema itself creates (primary keys, UNIQUE), read from the migration.
    fn schema() -> (Columns, Columns) {
        let sql = include_str!("../../migrations/20251001000001_schema.sql");
        let (mut fks, mut led) = (Vec::new(), Vec::new());
        let mut table = None;
        for line in sql.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                table = rest.split_whitespace().next().map(str::to_string);
                continue;
            }
            let Some(t) = &table else { continue };
            if line.starts_with(");") {
                table = None;
            } else if let Some(cols) = line.strip_prefix("UNIQUE (") {
                let first = cols.split([',', ')']).next().unwrap().trim();
                led.push((t.clone(), first.to_string()));
            } else if let Some(column) = line.split_whitespace().next() {
                if line.contains("REFERENCES") {
                    fks.push((t.clone(), column.to_string()));
                }
                if line.contains("PRIMARY KEY") || line.contains(" UNIQUE") {
                    led.push((t.clone(), column.to_string()));
                }
            }
        }
        (fks, led)
    }

    #[test]
    fn every_foreign_key_is_led_by_an_index() {
        let (fks, schema_led) = schema();
        let expected = [
            ("users", "organization_id"),
            ("buildings", "organization_id"),
            ("units", "organization_id"),
            ("units", "building_id"),
            ("owners", "organization_id"),
            ("owners", "user_id"),
            ("unit_owners", "unit_id"),
            ("unit_owners", "owner_id"),
            ("expenses", "organization_id"),
            ("expenses", "building_id"),
            ("accounts", "organization_id"),
            ("meetings", "organization_id"),
            ("meetings", "building_id"),
        ];
        let found: Vec<(&str, &str)> = fks.iter().map(|(t, c)| (t.as_str(), c.as_str())).collect();
        assert_eq!(found, expected, "the schema's foreign keys changed");

        let p = load("koprogo-vps", &inputs(1, 2, Workload::Web, Storage::Ssd)).unwrap();
        let leading = |i: &IndexSpec| i.columns.split([',', ' ']).next().unwrap().to_string();
        // A partial index does not serve the foreign key's lookups of every row.
        let profile_led: HashSet<(String, String)> = p
            .indexes
            .iter()
            .filter(|i| i.predicate.is_none())
            .map(|i| (i.table.clone(), leading(i)))
            .collect();
        for (table, column) in &fks {
            let key = (table.clone(), column.clone());
            assert!(
                profile_led.contains(&key) || schema_led.contains(&key),
                "no index leads with {table}.{column}"
            );
        }
        // No profile index duplicates the leading column of another full index
        // (or of the schema's own), except composites that add columns.
        let singles: Vec<&IndexSpec> = p
            .indexes
            .iter()
            .filter(|i| i.predicate.is_none() && !i.columns.contains(','))
            .collect();
        for single in singles {
            let key = (single.table.clone(), leading(single));
            let others = p
                .indexes
                .iter()
                .filter(|i| i.predicate.is_none() && i.name != single.name)
                .filter(|i| (i.table.clone(), leading(i)) == key)
                .count();
            assert_eq!(others, 0, "{} duplicates another index", single.name);
            assert!(
                !schema_led.contains(&key),
                "{} duplicates the schema's",
                single.name
            );
        }
        // Foreign-key indexes are named idx_<table>_<column>.
        for i in p.indexes.iter().filter(|i| !i.columns.contains(',')) {
            if i.predicate.is_none() {
                assert_eq!(i.name, format!("idx_{}_{}", i.table, i.columns));
            }
        }
    }

    #[test]
    fn pgtune_on_the_guide_machine_is_the_guide() {
        let settings = pgtune(&inputs(1, 2, Workload::Web, Storage::Ssd));
        let got: Vec<(&str, &str)> = settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, GUIDE);
        // And it is the auto profile, with koprogo-vps's libraries and indexes.
        let auto = load("auto", &inputs(1, 2, Workload::Web, Storage::Ssd)).unwrap();
        let vps = load("koprogo-vps", &inputs(1, 2, Workload::Web, Storage::Ssd)).unwrap();
        assert_eq!(auto.source, "builtin:auto");
        assert_eq!(
            auto.settings
                .iter()
                .map(|s| (s.name.as_str(), s.value.as_str()))
                .collect::<Vec<_>>(),
            GUIDE
        );
        assert_eq!(auto.preload, vps.preload);
        assert_eq!(auto.indexes, vps.indexes);
    }

    #[test]
    fn pgtune_on_a_bigger_oltp_machine() {
        let settings = pgtune(&inputs(8, 4, Workload::Oltp, Storage::Hdd));
        let s = as_map(&settings);
        assert_eq!(s["shared_buffers"], "2GB");
        assert_eq!(s["effective_cache_size"], "6GB");
        assert_eq!(s["maintenance_work_mem"], "512MB");
        assert_eq!(s["wal_buffers"], "16MB");
        assert_eq!(s["random_page_cost"], "4");
        assert_eq!(s["effective_io_concurrency"], "2");
        assert_eq!(s["max_worker_processes"], "4");
        assert_eq!(s["max_parallel_workers_per_gather"], "2");
        assert_eq!(s["max_parallel_workers"], "4");
        assert_eq!(s["min_wal_size"], "2GB");
        assert_eq!(s["max_wal_size"], "8GB");
        // (8GB - 2GB) / ((300 + 4) * 3) = 6898.5kB, floored.
        assert_eq!(s["work_mem"], "6898kB");
        assert_eq!(s["default_statistics_target"], "100");
        // Everything converts exactly on a real server's units.
        let p = Profile {
            name: "auto".into(),
            source: "builtin:auto".into(),
            settings: settings
                .iter()
                .map(|(name, value)| SettingTarget {
                    name: name.clone(),
                    value: value.clone(),
                    line: 0,
                })
                .collect(),
            preload: vec![],
            indexes: vec![],
        };
        validate(&p, &server()).unwrap();
    }

    #[test]
    fn pgtune_other_rules() {
        // Data warehouse, SAN, 64 GB, 16 CPUs: RAM/8 capped at 8GB, 500, per_gather 4.
        let mut i = inputs(64, 16, Workload::Dw, Storage::San);
        let dw = pgtune(&i);
        let s = as_map(&dw);
        assert_eq!(s["maintenance_work_mem"], "8GB");
        assert_eq!(s["default_statistics_target"], "500");
        assert_eq!(s["max_parallel_workers_per_gather"], "4");
        assert_eq!(s["max_worker_processes"], "16");
        assert_eq!(s["effective_io_concurrency"], "300");
        assert_eq!(s["random_page_cost"], "1.1");
        assert_eq!((s["min_wal_size"], s["max_wal_size"]), ("4GB", "16GB"));
        // (64GB - 16GB) / ((40 + 16) * 3) / 2 = 149796.57kB
        assert_eq!(s["work_mem"], "149796kB");
        // --connections replaces the workload's default.
        i.connections = Some(1000);
        let s2 = pgtune(&i);
        assert_eq!(as_map(&s2)["work_mem"], "8256kB");
        // A small machine: PGTune's 3% of shared_buffers for the WAL buffers, and
        // memory rounded to whole 8kB pages.
        let small = AutoInputs {
            memory_bytes: 512 << 20,
            ..inputs(1, 1, Workload::Mixed, Storage::Ssd)
        };
        let small = pgtune(&small);
        let s = as_map(&small);
        assert_eq!(s["shared_buffers"], "128MB");
        assert_eq!(s["wal_buffers"], "3928kB");
        assert_eq!(s["max_worker_processes"], "2");
        let odd = AutoInputs {
            memory_bytes: 16_318_500 * 1024 + 100,
            ..inputs(1, 8, Workload::Web, Storage::Ssd)
        };
        let odd = pgtune(&odd);
        let s = as_map(&odd);
        assert_eq!(s["shared_buffers"], "4079624kB");
        assert_eq!(s["max_parallel_workers_per_gather"], "4");
    }

    #[test]
    fn good_profile_converts_to_base_units() {
        let p = load("koprogo-vps", &inputs(1, 2, Workload::Web, Storage::Ssd)).unwrap();
        let checked = validate(&p, &server()).unwrap();
        let base: HashMap<&str, &str> = checked
            .iter()
            .map(|c| (c.name.as_str(), c.target_base.as_str()))
            .collect();
        assert_eq!(base["shared_buffers"], "32768");
        assert_eq!(base["effective_cache_size"], "98304");
        assert_eq!(base["maintenance_work_mem"], "65536");
        assert_eq!(base["wal_buffers"], "2048");
        assert_eq!(base["work_mem"], "4096");
        assert_eq!(base["min_wal_size"], "1024");
        assert_eq!(base["max_wal_size"], "4096");
        assert_eq!(base["random_page_cost"], "1.1");
        assert_eq!(base["checkpoint_completion_target"], "0.9");
        assert_eq!(base["max_worker_processes"], "2");
        assert_eq!(checked[0].target, "256MB");

        let checked = validate(
            &profile(
                "statement_timeout = \"1.5s\"\njit = false\nwal_level = \"Logical\"\n\
                 shared_buffers = \"1000kB\"\nvacuum_cost_delay = \"500us\"\n\
                 work_mem = 8192\nrandom_page_cost = 4",
            ),
            &server(),
        )
        .unwrap();
        let base: Vec<&str> = checked.iter().map(|c| c.target_base.as_str()).collect();
        assert_eq!(base, ["1500", "off", "logical", "125", "0.5", "8192", "4"]);
    }

    #[test]
    fn bad_values_name_file_line_and_setting() {
        let e = validate_error("work_mem = \"4MB\"\nshared_buffers = \"lots\"");
        assert!(
            e.starts_with("test.toml:3: setting `shared_buffers`:"),
            "{e}"
        );
        assert!(e.contains("`lots` is not an integer"), "{e}");

        let e = validate_error("shared_bufers = \"256MB\"");
        assert!(
            e.starts_with("test.toml:2: setting `shared_bufers`: unknown setting"),
            "{e}"
        );

        let e = validate_error("effective_io_concurrency = 5000");
        assert!(
            e.starts_with("test.toml:2: setting `effective_io_concurrency`"),
            "{e}"
        );
        assert!(e.contains("out of range: allowed 0 to 1000"), "{e}");
        let e = validate_error("shared_buffers = \"64kB\"");
        assert!(
            e.contains("`64kB` (= 8 × 8kB) is out of range: allowed 16 × 8kB to 1073741823 × 8kB"),
            "{e}"
        );
        let e = validate_error("maintenance_work_mem = \"512kB\"");
        assert!(
            e.ends_with("`512kB` is out of range: allowed 1024kB to 2147483647kB"),
            "{e}"
        );
        let e = validate_error("checkpoint_completion_target = 1.5");
        assert!(e.contains("out of range"), "{e}");

        let e = validate_error("shared_buffers = \"256ms\"");
        assert!(e.contains("`ms` is not a memory unit"), "{e}");
        let e = validate_error("statement_timeout = \"1GB\"");
        assert!(e.contains("`GB` is not a time unit"), "{e}");
        let e = validate_error("shared_buffers = \"256mb\"");
        assert!(e.contains("`mb` is not a memory unit"), "{e}");
        let e = validate_error("random_page_cost = \"1.1MB\"");
        assert!(e.contains("takes no unit"), "{e}");
        let e = validate_error("max_worker_processes = 2.5");
        assert!(e.contains("not an integer"), "{e}");
        let e = validate_error("shared_buffers = \"1001kB\"");
        assert!(e.contains("not a multiple of 8kB"), "{e}");

        let e = validate_error("wal_level = \"archive\"");
        assert!(e.contains("not one of: minimal, replica, logical"), "{e}");
        let e = validate_error("jit = \"maybe\"");
        assert!(e.contains("not a boolean"), "{e}");
        let e = validate_error("block_size = 4096");
        assert!(e.contains("read-only"), "{e}");

        // All problems at once, each on its own line.
        let e = validate_error("jit = \"maybe\"\nwork_mem = \"x\"\nnope = 1");
        assert_eq!(e.lines().count(), 3, "{e}");
        assert!(
            e.lines()
                .nth(2)
                .unwrap()
                .starts_with("test.toml:4: setting `nope`"),
            "{e}"
        );
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let e = parse(
            "[settings]\nwork_mem = \"4MB\"\nshared_buffers = 256MB\n",
            "p.toml",
            "p",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("p.toml:3: "), "{e}");

        let e = parse("[settings]\nwork_mem = 1\n[extra]\nx = 1\n", "p.toml", "p")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:3: unknown field `extra`"), "{e}");

        let e = parse(
            "[[index]]\nname = \"i\"\ntable = \"t\"\ncolumn = \"a\"\n",
            "p.toml",
            "p",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("p.toml:"), "{e}");
        assert!(e.contains("column"), "{e}");

        let e = parse(
            "[settings]\nshared_preload_libraries = \"x\"\n",
            "p.toml",
            "p",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.toml:2: setting `shared_preload_libraries`: list the"),
            "{e}"
        );

        let e = parse("[settings]\nwork_mem = [1, 2]\n", "p.toml", "p")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.toml:2: setting `work_mem`: a array"),
            "{e}"
        );

        let e = parse("description = \"nothing\"\n", "p.toml", "p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sets nothing"), "{e}");
    }

    #[test]
    fn bad_index_identifiers_are_rejected() {
        let index = |name: &str, table: &str, columns: &str, predicate: Option<&str>| {
            let mut text =
                format!("[[index]]\nname = {name:?}\ntable = {table:?}\ncolumns = {columns:?}\n");
            if let Some(p) = predicate {
                text.push_str(&format!("where = {p:?}\n"));
            }
            parse(&text, "i.toml", "i").map_err(|e| e.to_string())
        };
        let ok = index("idx_a", "t", "a,  b desc", Some(" end_date IS NULL ")).unwrap();
        assert_eq!(
            ok.indexes[0].create_sql(),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_a ON t (a, b DESC) WHERE end_date IS NULL"
        );

        let e = index("idx; DROP TABLE t", "t", "a", None).unwrap_err();
        assert!(
            e.starts_with("i.toml:2: index `idx; DROP TABLE t`: name"),
            "{e}"
        );
        let e = index("idx", "Expenses", "a", None).unwrap_err();
        assert!(
            e.starts_with("i.toml:3: index `idx`: table `Expenses`"),
            "{e}"
        );
        let e = index("idx", "t", "a, lower(b)", None).unwrap_err();
        assert!(e.starts_with("i.toml:4: index `idx`: columns"), "{e}");
        assert!(index("idx", "t", "a sideways", None).is_err());
        assert!(index("idx", "t", "a,,b", None).is_err());
        assert!(index("idx", "t", "", None).is_err());
        assert!(index("idx", "t", "\"a\"", None).is_err());
        let e = index("idx", "t", "a", Some("true; DROP TABLE t")).unwrap_err();
        assert!(e.starts_with("i.toml:5: index `idx`: where"), "{e}");
        assert!(index("idx", "t", "a", Some("a -- b")).is_err());
        // Closing the WHERE's parenthesis to append SQL, or anything that is not one
        // whole expression.
        for hostile in [
            "is_active) ; DROP TABLE x; --",
            "a) OR (b",
            "is_active) WITH (fillfactor = 10",
            "a = 1) TABLESPACE pg_default",
            "(a",
            "a b",
            "a = ",
            "SELECT 1",
        ] {
            let e = index("idx", "t", "a", Some(hostile)).unwrap_err();
            assert!(
                e.starts_with("i.toml:5: index `idx`: where"),
                "{hostile}: {e}"
            );
        }
        let e = index("idx", "t", "a", Some("a) OR (b")).unwrap_err();
        assert!(e.contains("is not one SQL condition"), "{e}");
        for fine in [
            "end_date IS NULL",
            "status = 'approved' AND amount > 0",
            "organization_id IN (1, 2) OR NOT is_active",
            "lower(email) LIKE '%@example.com'",
            "expense_date >= DATE '2024-01-01'",
            "payment_status::text <> 'paid'",
        ] {
            assert!(index("idx", "t", "a", Some(fine)).is_ok(), "{fine}");
        }
        assert!(index(&"i".repeat(64), "t", "a", None).is_err());

        let e = parse(
            "[[index]]\nname = \"i\"\ntable = \"t\"\ncolumns = \"a\"\n\
             [[index]]\nname = \"i\"\ntable = \"t\"\ncolumns = \"b\"\n",
            "i.toml",
            "i",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("i.toml:5: index `i`: listed twice"), "{e}");

        let e = parse("[preload]\nlibraries = [\"a, b\"]\n", "i.toml", "i")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("i.toml:2: preload library `a, b`"), "{e}");
    }

    #[test]
    fn settings_keep_file_order_and_accept_dotted_names() {
        let p = profile(
            "zz_last = 1\naa_first = true\n\"pg_stat_statements.track\" = \"all\"\n\
             [settings.auto_explain]\nlog_min_duration = \"250ms\"\n",
        );
        let got: Vec<(&str, &str, usize)> = p
            .settings
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str(), s.line))
            .collect();
        assert_eq!(
            got,
            [
                ("zz_last", "1", 2),
                ("aa_first", "on", 3),
                ("pg_stat_statements.track", "all", 4),
                ("auto_explain.log_min_duration", "250ms", 5),
            ]
        );
        let e = validate(&p, &server()).unwrap_err().to_string();
        assert!(
            e.contains("test.toml:4: setting `pg_stat_statements.track`: unknown"),
            "{e}"
        );
        assert!(e.contains("once its library is loaded"), "{e}");
    }

    #[test]
    fn names_paths_and_detection() {
        let auto = inputs(1, 2, Workload::Web, Storage::Ssd);
        let e = load("no-such-profile", &auto).unwrap_err().to_string();
        assert!(e.contains("auto, koprogo-vps"), "{e}");
        let e = load("/nonexistent/p.toml", &auto).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read profile file /nonexistent/p.toml"),
            "{e}"
        );

        assert_eq!(
            auto.describe(),
            "1GB RAM, 2 CPUs, 200 connections, web, ssd"
        );

        let here = AutoInputs::detect();
        assert!(here.memory_bytes > 0 && here.cpus >= 1);
    }
}
