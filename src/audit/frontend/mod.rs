//! `audit --frontend DIR|URL`: the tuning guide's front-end section checked on a
//! built front end (Astro's `dist/`) or a served one — code splitting, WebP images
//! through `<picture>`, the bundles' sizes (vite-bundle-visualizer's view, as a
//! treemap), and, served, the quick wins compression and HTTP caching headers.
//!
//! The stages: [`site`] reads or fetches the files (one path per file, headers kept
//! when served); [`parse`] reads what a page, a module and a stylesheet reference;
//! [`analyze`] walks each page's first load and lazy loads and measures every file
//! ([`sizes`]: raw, gzip, brotli) and image ([`images`]: WebP by encoding); [`checks`]
//! judges them against the [`budgets`]. [`run`] returns a [`FrontendReport`], printed
//! as tables ([`render`]), JSON, or an HTML page with the treemap ([`html`]); its exit
//! code is `audit`'s: 0 all passed, 1 one failed, 2 nothing failed but something was
//! not checked. [`CannotAuditFrontend`] (exit 2) when it cannot run at all.

pub mod analyze;
pub mod budgets;
pub mod checks;
pub mod html;
pub mod images;
pub mod parse;
pub mod render;
pub mod site;
pub mod sizes;
pub mod treemap;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Status, Summary};
use analyze::{Analysis, Kind};
use budgets::{Budgets, Compression};
use site::{Site, Target};
use sizes::Sizes;

/// The front-end checks, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrontendCheckId {
    /// Every file within its `[[file]]` limit.
    FileBudgets,
    /// Every page's first load within its `[[page]]` budget.
    PageBudgets,
    /// No page loads more than `initial_js` up front with nothing lazy.
    CodeSplitting,
    /// No JPEG or PNG that WebP would shrink by `min_webp_saving` is left unconverted.
    WebpImages,
    /// Every `<img>` of a JPEG or PNG sits in a `<picture>` with a WebP source.
    PictureWebp,
    /// Every referenced file exists, every module parses.
    BrokenReferences,
    /// Served text files come compressed (URL mode).
    Compression,
    /// Fingerprinted files are cached long and immutable, the others not (URL mode).
    FingerprintedCaching,
    /// Every served file has an ETag that a conditional GET turns into a 304.
    Etag,
}

impl FrontendCheckId {
    pub fn title(self) -> &'static str {
        match self {
            FrontendCheckId::FileBudgets => "file budgets",
            FrontendCheckId::PageBudgets => "page budgets",
            FrontendCheckId::CodeSplitting => "code splitting",
            FrontendCheckId::WebpImages => "WebP images",
            FrontendCheckId::PictureWebp => "<picture> with WebP",
            FrontendCheckId::BrokenReferences => "broken references",
            FrontendCheckId::Compression => "compression",
            FrontendCheckId::FingerprintedCaching => "caching headers",
            FrontendCheckId::Etag => "ETag revalidation",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontendCheck {
    pub id: FrontendCheckId,
    /// Its name as the table shows it.
    pub name: String,
    pub status: Status,
    /// What was seen, in one line: sizes, files, pages, headers.
    pub evidence: String,
}

impl FrontendCheck {
    pub fn new(id: FrontendCheckId, status: Status, evidence: impl Into<String>) -> Self {
        FrontendCheck {
            id,
            name: id.title().to_string(),
            status,
            evidence: evidence.into(),
        }
    }
}

/// Totals over every JavaScript and CSS file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub pages: usize,
    pub scripts: usize,
    pub script: Sizes,
    pub stylesheets: usize,
    pub stylesheet: Sizes,
    /// Bytes WebP would save over every JPEG and PNG not served as WebP.
    pub webp_saving: u64,
}

/// What `audit --frontend` found: the contract between [`run`] and its outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontendReport {
    /// koprogo-perf's version.
    pub tool_version: String,
    /// When the audit started (UTC, RFC 3339).
    pub started_at: String,
    /// The directory or URL audited.
    pub target: String,
    /// True for a served front end (URL), false for a directory.
    pub served: bool,
    /// Where the budgets come from.
    pub budgets: String,
    /// The size the budgets compare.
    pub compression: Compression,
    pub totals: Totals,
    #[serde(flatten)]
    pub analysis: Analysis,
    pub checks: Vec<FrontendCheck>,
    /// What the figures leave out (external scripts, pages beyond --max-pages).
    pub notes: Vec<String>,
    pub summary: Summary,
    /// 0 all passed, 1 one failed, 2 nothing failed but something was not checked.
    pub exit_code: u8,
}

impl FrontendReport {
    /// `audit --frontend: 5 passed, 1 failed, 0 not checked`.
    pub fn summary_line(&self) -> String {
        format!(
            "audit --frontend: {} passed, {} failed, {} not checked",
            self.summary.passed, self.summary.failed, self.summary.not_checked
        )
    }

    pub fn check(&self, id: FrontendCheckId) -> Option<&FrontendCheck> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// Why the front end cannot be audited at all (exit 2, one line).
#[derive(Debug, thiserror::Error)]
pub enum CannotAuditFrontend {
    #[error("cannot reach {url}: {detail}; start the server or check --frontend")]
    Unreachable { url: String, detail: String },
    #[error("{url} is no page to start from ({detail}); give the front end's first page")]
    NotAPage { url: String, detail: String },
    #[error(
        "{target} holds no HTML page: give the built front end (e.g. frontend/dist after npm run build)"
    )]
    NoPage { target: String },
}

/// A validated front-end audit.
#[derive(Debug, Clone)]
pub struct FrontendOptions {
    pub target: Target,
    pub budgets: Budgets,
    /// Per-request timeout (URL mode).
    pub timeout: Duration,
    /// The most pages a crawl of a URL visits.
    pub max_pages: usize,
}

/// Reads or fetches the front end, walks and measures it, and judges it.
pub async fn run(options: &FrontendOptions) -> Result<FrontendReport, CannotAuditFrontend> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut site = Site::open(&options.target, options.timeout).await?;
    let pages = site.pages(options.max_pages).await;
    if pages.is_empty() {
        return Err(CannotAuditFrontend::NoPage {
            target: options.target.label(),
        });
    }
    let analysis = analyze::analyze(&mut site, &pages, &options.budgets).await;
    let mut notes = Vec::new();
    if site.is_served() && pages.len() >= options.max_pages {
        notes.push(format!(
            "the crawl stopped at --max-pages {}: pages beyond are not audited",
            options.max_pages
        ));
    }
    let external: std::collections::BTreeSet<&String> =
        analysis.pages.iter().flat_map(|p| &p.external).collect();
    if !external.is_empty() {
        notes.push(format!(
            "not measured, of other origins: {}",
            external.into_iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let checks = checks::all(&analysis, &options.budgets, site.is_served());
    let summary = summarize(&checks);
    Ok(FrontendReport {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        target: crate::redact::redact(&options.target.label()),
        served: site.is_served(),
        budgets: options.budgets.source.clone(),
        compression: options.budgets.compression,
        totals: totals(&analysis),
        analysis,
        checks,
        notes,
        exit_code: super::exit_code(&summary),
        summary,
    })
}

fn summarize(checks: &[FrontendCheck]) -> Summary {
    let mut s = Summary::default();
    for c in checks {
        match c.status {
            Status::Pass => s.passed += 1,
            Status::Fail => s.failed += 1,
            Status::NotChecked => s.not_checked += 1,
        }
    }
    s
}

fn totals(a: &Analysis) -> Totals {
    let of = |kind: Kind| a.assets.iter().filter(move |x| x.kind == kind);
    Totals {
        pages: a.pages.len(),
        scripts: of(Kind::Script).count(),
        script: of(Kind::Script).map(|x| x.sizes).sum(),
        stylesheets: of(Kind::Stylesheet).count(),
        stylesheet: of(Kind::Stylesheet).map(|x| x.sizes).sum(),
        webp_saving: a
            .images
            .iter()
            .filter(|i| !i.webp_served)
            .map(|i| i.webp_saving)
            .sum(),
    }
}
