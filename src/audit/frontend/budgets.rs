//! The front end's budgets: a TOML file (`profiles/frontend-budgets.toml` is the
//! shipped one) read into raw structs, then resolved once into [`Budgets`] — sizes in
//! bytes, globs compiled, the fingerprint pattern compiled — before anything is read or
//! fetched. Its model is size-limit's per-file limits (`[[file]]`: a path glob and a
//! limit) and Lighthouse's budgets (`[[page]]`: a page path glob and what its first
//! load may cost per resource type).
//!
//! Sizes are written `"170 kB"`, `"1.5 MB"`, `"64 KiB"` or a bare number of bytes: kB
//! and MB are 1,000 and 1,000,000 bytes, KiB and MiB 1,024 and 1,048,576.

use std::path::Path;
use std::time::Duration;

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The budgets shipped in the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[(
    "frontend-budgets",
    include_str!("../../../profiles/frontend-budgets.toml"),
)];

/// The budgets `audit --frontend` uses without `--budgets`.
pub const DEFAULT: &str = "frontend-budgets";

/// A budgets file that cannot be used: the message names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum BudgetsError {
    #[error("budgets `{0}` not found: give a TOML file (e.g. profiles/frontend-budgets.toml)")]
    NotFound(String),
    #[error("cannot read budgets {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

/// Which size a budget compares: the file as it is, or as a server compressing it
/// sends it (gzip level 9, brotli quality 11, as the bundle visualizer measures them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    Raw,
    Gzip,
    Brotli,
}

impl Compression {
    /// As shown next to a size: `gzip`.
    pub fn label(self) -> &'static str {
        match self {
            Compression::Raw => "raw",
            Compression::Gzip => "gzip",
            Compression::Brotli => "brotli",
        }
    }
}

/// Lighthouse's budget for the pages a glob matches: what the first load may cost.
#[derive(Debug, Clone)]
pub struct PageBudget {
    /// The glob as written (`/**`), matched against the page's path (`/buildings/`).
    pub path: String,
    matcher: GlobMatcher,
    /// JavaScript loaded up front (scripts, module preloads, static imports).
    pub script: Option<u64>,
    /// Stylesheets loaded up front (and their `@import`s).
    pub stylesheet: Option<u64>,
    /// The HTML document itself.
    pub document: Option<u64>,
    /// Document, scripts and stylesheets together.
    pub total: Option<u64>,
    /// Line in the budgets file.
    pub line: usize,
}

/// size-limit's limit for the files a glob matches.
#[derive(Debug, Clone)]
pub struct FileBudget {
    /// The glob as written (`/_astro/*.js`), matched against the file's path on the site.
    pub path: String,
    matcher: GlobMatcher,
    pub limit: u64,
    pub line: usize,
}

/// Validated budgets.
#[derive(Debug, Clone)]
pub struct Budgets {
    /// Where they come from: a path, or `builtin:frontend-budgets`.
    pub source: String,
    /// The size every budget compares.
    pub compression: Compression,
    /// A page that loads more JavaScript than this up front and has no lazy chunk fails
    /// "code splitting".
    pub initial_js: u64,
    pub pages: Vec<PageBudget>,
    pub files: Vec<FileBudget>,
    /// An image whose WebP would save at least this many bytes and that no page serves
    /// as WebP fails "WebP images".
    pub min_webp_saving: u64,
    /// The `max-age` a fingerprinted file must be cached for.
    pub fingerprinted_max_age: Duration,
    /// What marks a fingerprinted file name, when the budgets give a pattern
    /// (`caching.fingerprint`); otherwise [`is_fingerprinted`]'s default.
    pub fingerprint: Option<regex::Regex>,
}

impl PageBudget {
    pub fn matches(&self, page: &str) -> bool {
        self.matcher.is_match(page)
    }
}

impl FileBudget {
    pub fn matches(&self, file: &str) -> bool {
        self.matcher.is_match(file)
    }
}

impl Budgets {
    /// Whether a file name (`Layout.BvBrAzhx.css`) carries a content hash.
    pub fn is_fingerprinted(&self, name: &str) -> bool {
        match &self.fingerprint {
            Some(re) => re.is_match(name),
            None => default_fingerprint(name),
        }
    }

    /// The first `[[page]]` whose glob matches `page`.
    pub fn page(&self, page: &str) -> Option<&PageBudget> {
        self.pages.iter().find(|b| b.matches(page))
    }
}

/// Vite's and Rollup's `name.HASH.ext` (8 or more base64url characters, not all
/// lowercase letters, so that `name.polyfill.js` is no hash), and `name-hexhash.ext`
/// (workbox's `workbox-6fc00345.js`).
fn default_fingerprint(name: &str) -> bool {
    let Some((stem, _ext)) = name.rsplit_once('.') else {
        return false;
    };
    let hashlike = |s: &str, alphabet: fn(char) -> bool| {
        s.len() >= 8 && s.chars().all(alphabet) && !s.chars().all(|c| c.is_ascii_lowercase())
    };
    let base64url = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let hex = |c: char| c.is_ascii_hexdigit() && !c.is_ascii_uppercase();
    stem.rsplit_once('.')
        .is_some_and(|(_, hash)| hashlike(hash, base64url))
        || stem
            .rsplit_once('-')
            .is_some_and(|(_, hash)| hashlike(hash, hex))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudgets {
    compression: Option<Spanned<String>>,
    code_splitting: Option<RawCodeSplitting>,
    #[serde(default, rename = "page")]
    pages: Vec<Spanned<RawPage>>,
    #[serde(default, rename = "file")]
    files: Vec<Spanned<RawFile>>,
    images: Option<RawImages>,
    caching: Option<RawCaching>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCodeSplitting {
    initial_js: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPage {
    path: Spanned<String>,
    script: Option<Spanned<toml::Value>>,
    stylesheet: Option<Spanned<toml::Value>>,
    document: Option<Spanned<toml::Value>>,
    total: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    path: Spanned<String>,
    limit: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImages {
    min_webp_saving: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaching {
    fingerprinted_max_age: Option<Spanned<String>>,
    fingerprint: Option<Spanned<String>>,
}

/// Finds budgets: a path as given, or a shipped name (`./profiles/NAME.toml` first,
/// then the binary's copy).
pub fn load(name_or_path: &str) -> Result<Budgets, BudgetsError> {
    match crate::assets::find(name_or_path, "profiles", BUILTIN) {
        crate::assets::Found::File(path) => load_file(&path),
        crate::assets::Found::Builtin(name, text) => parse(text, &format!("builtin:{name}")),
        crate::assets::Found::NotFound => Err(BudgetsError::NotFound(name_or_path.to_string())),
    }
}

fn load_file(path: &Path) -> Result<Budgets, BudgetsError> {
    let text = std::fs::read_to_string(path).map_err(|source| BudgetsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The text being read, to name the file and line of a problem.
struct Reader<'a> {
    text: &'a str,
    file: &'a str,
}

impl Reader<'_> {
    fn invalid(&self, offset: usize, message: String) -> BudgetsError {
        BudgetsError::Invalid {
            file: self.file.to_string(),
            line: line_of(self.text, offset),
            message: message.replace('\n', "; "),
        }
    }

    fn size(&self, v: &Spanned<toml::Value>, what: &str) -> Result<u64, BudgetsError> {
        parse_size(v.get_ref()).map_err(|m| self.invalid(v.span().start, format!("{what}: {m}")))
    }

    fn opt_size(
        &self,
        v: &Option<Spanned<toml::Value>>,
        what: &str,
    ) -> Result<Option<u64>, BudgetsError> {
        v.as_ref().map(|v| self.size(v, what)).transpose()
    }

    fn glob(&self, p: &Spanned<String>, what: &str) -> Result<GlobMatcher, BudgetsError> {
        let text = p.get_ref();
        if !text.starts_with('/') {
            return Err(self.invalid(
                p.span().start,
                format!("{what} `{text}`: a path on the site starts with / (e.g. /_astro/*.js)"),
            ));
        }
        globset::GlobBuilder::new(text)
            .literal_separator(true)
            .build()
            .map(|g: Glob| g.compile_matcher())
            .map_err(|e| self.invalid(p.span().start, format!("{what} `{text}`: {}", e.kind())))
    }

    fn page(&self, p: &Spanned<RawPage>) -> Result<PageBudget, BudgetsError> {
        let line = line_of(self.text, p.span().start);
        let p = p.get_ref();
        let budget = PageBudget {
            path: p.path.get_ref().clone(),
            matcher: self.glob(&p.path, "[[page]] path")?,
            script: self.opt_size(&p.script, "script")?,
            stylesheet: self.opt_size(&p.stylesheet, "stylesheet")?,
            document: self.opt_size(&p.document, "document")?,
            total: self.opt_size(&p.total, "total")?,
            line,
        };
        let limits = [
            budget.script,
            budget.stylesheet,
            budget.document,
            budget.total,
        ];
        if limits.iter().all(Option::is_none) {
            return Err(self.invalid(
                p.path.span().start,
                format!(
                    "[[page]] `{}` sets no budget: give script, stylesheet, document or total",
                    budget.path
                ),
            ));
        }
        Ok(budget)
    }

    fn file(&self, f: &Spanned<RawFile>) -> Result<FileBudget, BudgetsError> {
        let line = line_of(self.text, f.span().start);
        let f = f.get_ref();
        Ok(FileBudget {
            path: f.path.get_ref().clone(),
            matcher: self.glob(&f.path, "[[file]] path")?,
            limit: self.size(&f.limit, "limit")?,
            line,
        })
    }

    /// `caching`: the fingerprinted files' lifetime and the fingerprint pattern.
    fn caching(
        &self,
        caching: Option<&RawCaching>,
    ) -> Result<(Duration, Option<regex::Regex>), BudgetsError> {
        let max_age = match caching.and_then(|c| c.fingerprinted_max_age.as_ref()) {
            // Cache lifetimes are long (a year is usual): humantime's own bounds, not
            // the 30 days of run durations.
            Some(d) => match humantime::parse_duration(d.get_ref()) {
                Ok(age) if !age.is_zero() => age,
                _ => {
                    return Err(self.invalid(
                        d.span().start,
                        format!(
                            "caching.fingerprinted_max_age: `{}` is not a duration (e.g. \
                             365days, 1year)",
                            d.get_ref()
                        ),
                    ));
                }
            },
            None => DEFAULT_MAX_AGE,
        };
        let fingerprint = match caching.and_then(|c| c.fingerprint.as_ref()) {
            Some(r) => Some(regex::Regex::new(r.get_ref()).map_err(|e| {
                let last = e.to_string().lines().last().unwrap_or_default().to_string();
                self.invalid(r.span().start, format!("caching.fingerprint: {last}"))
            })?),
            None => None,
        };
        Ok((max_age, fingerprint))
    }
}

/// What a file that leaves a section out gets: the shipped budgets' values.
const DEFAULT_INITIAL_JS: u64 = 170_000;
const DEFAULT_MIN_WEBP_SAVING: u64 = 8 * 1024;
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Checks budgets text; `file` names it in errors (the first problem, with its line).
pub fn parse(text: &str, file: &str) -> Result<Budgets, BudgetsError> {
    let r = Reader { text, file };
    let raw: RawBudgets = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        r.invalid(offset, e.message().trim_end().to_string())
    })?;
    let compression = match &raw.compression {
        None => Compression::Gzip,
        Some(c) => match c.get_ref().as_str() {
            "raw" => Compression::Raw,
            "gzip" => Compression::Gzip,
            "brotli" => Compression::Brotli,
            other => {
                return Err(r.invalid(
                    c.span().start,
                    format!("compression `{other}`: use raw, gzip or brotli"),
                ));
            }
        },
    };
    let pages = raw
        .pages
        .iter()
        .map(|p| r.page(p))
        .collect::<Result<_, _>>()?;
    let files = raw
        .files
        .iter()
        .map(|f| r.file(f))
        .collect::<Result<_, _>>()?;
    let initial_js = match &raw.code_splitting {
        Some(c) => r.size(&c.initial_js, "code_splitting.initial_js")?,
        None => DEFAULT_INITIAL_JS,
    };
    let min_webp_saving = match &raw.images {
        Some(i) => r.size(&i.min_webp_saving, "images.min_webp_saving")?,
        None => DEFAULT_MIN_WEBP_SAVING,
    };
    let (fingerprinted_max_age, fingerprint) = r.caching(raw.caching.as_ref())?;
    Ok(Budgets {
        source: file.to_string(),
        compression,
        initial_js,
        pages,
        files,
        min_webp_saving,
        fingerprinted_max_age,
        fingerprint,
    })
}

/// `"170 kB"`, `"64KiB"`, `"1.5 MB"`, `"900 B"` or a bare integer of bytes.
pub fn parse_size(value: &toml::Value) -> Result<u64, String> {
    let text = match value {
        toml::Value::Integer(n) if *n >= 0 => return Ok(*n as u64),
        toml::Value::String(s) => s.trim(),
        other => return Err(format!("`{other}` is not a size (e.g. \"170 kB\")")),
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    let not_a_size = || format!("`{text}` is not a size (e.g. \"170 kB\")");
    if number.is_empty() {
        return Err(not_a_size());
    }
    let factor: f64 = match unit {
        "" | "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use B, kB, MB, KiB or MiB)"
            ));
        }
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && n * factor < 1e15 => Ok((n * factor).round() as u64),
        _ => Err(not_a_size()),
    }
}

/// A size as the evidence writes it: `912 B`, `9,871 B`, `48.2 kB`, `1.49 MB`.
pub fn format_size(bytes: u64) -> String {
    match bytes {
        0..10_000 => format!("{} B", super::super::thousands(bytes)),
        10_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.2} MB", bytes as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_budgets_parse() {
        let b = load(DEFAULT).unwrap();
        assert_eq!(b.compression, Compression::Gzip);
        assert!(b.initial_js > 0 && !b.pages.is_empty() && !b.files.is_empty());
        assert!(b.page("/buildings/").is_some());
        assert!(
            b.files
                .iter()
                .any(|f| f.matches("/_astro/i18n.BwdYob6o.js"))
        );
    }

    #[test]
    fn sizes_take_si_and_iec_units() {
        let s = |t: &str| parse_size(&toml::Value::String(t.into()));
        assert_eq!(s("170 kB"), Ok(170_000));
        assert_eq!(s("64KiB"), Ok(65_536));
        assert_eq!(s("1.5 MB"), Ok(1_500_000));
        assert_eq!(s("900"), Ok(900));
        assert_eq!(parse_size(&toml::Value::Integer(12)), Ok(12));
        assert!(
            s("12 parsecs")
                .unwrap_err()
                .contains("unknown unit `parsecs`")
        );
        assert!(s("kB").is_err());
        assert!(parse_size(&toml::Value::Integer(-1)).is_err());
        assert_eq!(format_size(912), "912 B");
        assert_eq!(format_size(9_871), "9,871 B");
        assert_eq!(format_size(48_230), "48.2 kB");
        assert_eq!(format_size(1_490_000), "1.49 MB");
    }

    #[test]
    fn bad_budgets_name_the_line() {
        let e = parse("[[page]]\npath = \"/**\"\nscript = \"lots\"\n", "b.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.toml:3: script: `lots` is not a size (e.g. \"170 kB\")"
        );
        let e = parse("\n[[file]]\npath = \"*.js\"\nlimit = 10\n", "b.toml").unwrap_err();
        assert!(
            e.to_string().starts_with("b.toml:3: [[file]] path `*.js`"),
            "{e}"
        );
        let e = parse("[[page]]\npath = \"/**\"\n", "b.toml").unwrap_err();
        assert!(e.to_string().contains("sets no budget"), "{e}");
        let e = parse("compresion = \"gzip\"\n", "b.toml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("b.toml:1: unknown field `compresion`"),
            "{e}"
        );
        let e = parse("compression = \"zstd\"\n", "b.toml").unwrap_err();
        assert!(e.to_string().contains("use raw, gzip or brotli"), "{e}");
    }

    #[test]
    fn globs_do_not_cross_slashes_unless_doubled() {
        let b = parse(
            "[[file]]\npath = \"/_astro/*.js\"\nlimit = 1\n[[page]]\npath = \"/admin/**\"\nscript = 1\n",
            "b.toml",
        )
        .unwrap();
        assert!(b.files[0].matches("/_astro/a.js"));
        assert!(!b.files[0].matches("/_astro/x/a.js"));
        assert!(b.page("/admin/users/").is_some());
        assert!(b.page("/").is_none());
    }

    #[test]
    fn fingerprints_are_recognised() {
        let b = parse("", "b.toml").unwrap();
        for name in [
            "Layout.BvBrAzhx.css",
            "AccountantDashboard.DlYcvG2-.js",
            "client.svelte.DdYNYqe6.js",
            "workbox-6fc00345.js",
        ] {
            assert!(b.is_fingerprinted(name), "{name}");
        }
        for name in [
            "config.js",
            "registerSW.js",
            "index.html",
            "icon-512x512.png",
            "a.min.js",
            "core.polyfill.js",
        ] {
            assert!(!b.is_fingerprinted(name), "{name}");
        }
        let custom = parse("[caching]\nfingerprint = '^v[0-9]+-'\n", "b.toml").unwrap();
        assert!(custom.is_fingerprinted("v12-app.js"));
        assert!(!custom.is_fingerprinted("Layout.BvBrAzhx.css"));
    }
}
