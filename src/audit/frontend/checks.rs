//! The front-end checks: pure functions of the [`Analysis`] and the [`Budgets`], each
//! a pass, fail or "not checked" with the evidence in one line (the worst cases
//! first, a few named, the rest counted).

use super::analyze::{Analysis, Asset, Kind};
use super::budgets::{Budgets, format_size};
use super::{FrontendCheck, FrontendCheckId as Id};
use crate::audit::Status;

/// How many offenders a line names before it counts the rest.
const NAMED: usize = 5;

/// Text files smaller than this may rightly be sent uncompressed.
pub const COMPRESS_MIN: u64 = 1024;

/// `1 file`, `2 files`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a, b, c and 4 more`.
fn named(items: &[String]) -> String {
    let mut out = items
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > NAMED {
        out.push_str(&format!("; and {} more", items.len() - NAMED));
    }
    out
}

/// Every check that applies: the served-asset checks only for a served front end
/// (a directory has no headers), the budget checks only when the budgets set some.
pub fn all(a: &Analysis, b: &Budgets, served: bool) -> Vec<FrontendCheck> {
    let mut checks = Vec::new();
    if !b.files.is_empty() {
        checks.push(file_budgets(a, b));
    }
    if !b.pages.is_empty() {
        checks.push(page_budgets(a, b));
    }
    checks.push(code_splitting(a, b));
    checks.push(webp_images(a, b));
    checks.push(picture_webp(a));
    checks.push(broken_references(a));
    if served {
        checks.push(compression(a));
        checks.push(fingerprinted_caching(a, b));
        checks.push(etag(a));
    }
    checks
}

pub fn file_budgets(a: &Analysis, b: &Budgets) -> FrontendCheck {
    let c = b.compression.label();
    let mut over = Vec::new();
    let mut judged = 0;
    for asset in &a.assets {
        let Some(budget) = b.files.iter().find(|f| f.matches(&asset.path)) else {
            continue;
        };
        judged += 1;
        let size = asset.sizes.get(b.compression);
        if size > budget.limit {
            over.push((
                size,
                format!(
                    "{} {} > {} ({}, line {})",
                    asset.path,
                    format_size(size),
                    format_size(budget.limit),
                    budget.path,
                    budget.line
                ),
            ));
        }
    }
    over.sort_by_key(|x| std::cmp::Reverse(x.0));
    let over: Vec<String> = over.into_iter().map(|(_, s)| s).collect();
    if judged == 0 {
        return FrontendCheck::new(
            Id::FileBudgets,
            Status::NotChecked,
            "no file matches a [[file]] path of the budgets",
        );
    }
    match over.is_empty() {
        true => FrontendCheck::new(
            Id::FileBudgets,
            Status::Pass,
            format!("{judged} files within their [[file]] limits ({c})"),
        ),
        false => FrontendCheck::new(
            Id::FileBudgets,
            Status::Fail,
            format!(
                "{} of {judged} files over their limit ({c}): {}",
                over.len(),
                named(&over)
            ),
        ),
    }
}

pub fn page_budgets(a: &Analysis, b: &Budgets) -> FrontendCheck {
    let c = b.compression.label();
    let mut over = Vec::new();
    let mut judged = 0;
    for page in &a.pages {
        let Some(budget) = b.page(&page.path) else {
            continue;
        };
        judged += 1;
        let total = page.first_load_total();
        let mut excess = Vec::new();
        let mut worst = 0u64;
        for (what, limit, size) in [
            (
                "script",
                budget.script,
                page.first_load.script.get(b.compression),
            ),
            (
                "stylesheet",
                budget.stylesheet,
                page.first_load.stylesheet.get(b.compression),
            ),
            (
                "document",
                budget.document,
                page.document.get(b.compression),
            ),
            ("total", budget.total, total.get(b.compression)),
        ] {
            if let Some(limit) = limit.filter(|l| size > *l) {
                worst = worst.max(size - limit);
                excess.push(format!(
                    "{what} {} > {}",
                    format_size(size),
                    format_size(limit)
                ));
            }
        }
        if !excess.is_empty() {
            over.push((worst, format!("{} {}", page.path, excess.join(", "))));
        }
    }
    over.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let over: Vec<String> = over.into_iter().map(|(_, s)| s).collect();
    let unmatched = a.pages.len() - judged;
    let unmatched = match unmatched {
        0 => String::new(),
        n => format!("; {n} pages match no [[page]]"),
    };
    if judged == 0 {
        return FrontendCheck::new(
            Id::PageBudgets,
            Status::NotChecked,
            "no page matches a [[page]] path of the budgets",
        );
    }
    match over.is_empty() {
        true => FrontendCheck::new(
            Id::PageBudgets,
            Status::Pass,
            format!("{judged} pages within their first-load budgets ({c}){unmatched}"),
        ),
        false => FrontendCheck::new(
            Id::PageBudgets,
            Status::Fail,
            format!(
                "{} of {judged} pages over their first-load budget ({c}): {}{unmatched}",
                over.len(),
                named(&over)
            ),
        ),
    }
}

pub fn code_splitting(a: &Analysis, b: &Budgets) -> FrontendCheck {
    let c = b.compression.label();
    let limit = format_size(b.initial_js);
    let mut failing: Vec<_> = a
        .pages
        .iter()
        .filter(|p| {
            p.first_load.script.get(b.compression) > b.initial_js && p.lazy.scripts.is_empty()
        })
        .collect();
    failing.sort_by(|x, y| {
        let size = |p: &&super::analyze::Page| p.first_load.script.get(b.compression);
        size(y).cmp(&size(x)).then(x.path.cmp(&y.path))
    });
    let splitting = a
        .pages
        .iter()
        .filter(|p| !p.lazy.scripts.is_empty())
        .count();
    let heaviest = a
        .pages
        .iter()
        .max_by_key(|p| p.first_load.script.get(b.compression));
    let Some(heaviest) = heaviest else {
        return FrontendCheck::new(Id::CodeSplitting, Status::NotChecked, "no page to judge");
    };
    let describe = |p: &super::analyze::Page| {
        format!(
            "{} {} in {} files",
            p.path,
            format_size(p.first_load.script.get(b.compression)),
            p.first_load.scripts.len()
        )
    };
    if failing.is_empty() {
        return FrontendCheck::new(
            Id::CodeSplitting,
            Status::Pass,
            format!(
                "no page loads more than {limit} of JavaScript up front ({c}) without a lazy \
                 chunk; heaviest first load {}; {splitting} of {} pages load code lazily",
                describe(heaviest),
                a.pages.len()
            ),
        );
    }
    let names: Vec<String> = failing.iter().map(|p| describe(p)).collect();
    FrontendCheck::new(
        Id::CodeSplitting,
        Status::Fail,
        format!(
            "{} of {} pages load more than {limit} of JavaScript up front ({c}) and nothing \
             lazily (no dynamic import(), no island hydrated on visibility): {}; lazy-load \
             heavy components with import()",
            failing.len(),
            a.pages.len(),
            named(&names)
        ),
    )
}

pub fn webp_images(a: &Analysis, b: &Budgets) -> FrontendCheck {
    let errors: Vec<String> = a
        .image_errors
        .iter()
        .map(|e| format!("{}: {}", e.path, e.error))
        .collect();
    let errors = match errors.is_empty() {
        true => String::new(),
        false => format!("; not measured: {}", named(&errors)),
    };
    if a.images.is_empty() {
        return FrontendCheck::new(
            Id::WebpImages,
            if a.image_errors.is_empty() {
                Status::Pass
            } else {
                Status::NotChecked
            },
            format!("no JPEG or PNG: nothing to convert{errors}"),
        );
    }
    let pct = |saving: u64, bytes: u64| saving as f64 * 100.0 / bytes.max(1) as f64;
    let worth: Vec<_> = a
        .images
        .iter()
        .filter(|i| !i.webp_served && i.webp_saving >= b.min_webp_saving)
        .collect();
    let served = a.images.iter().filter(|i| i.webp_served).count();
    let min = format_size(b.min_webp_saving);
    if worth.is_empty() {
        let best = a
            .images
            .iter()
            .max_by_key(|i| i.webp_saving)
            .expect("not empty");
        return FrontendCheck::new(
            Id::WebpImages,
            if a.image_errors.is_empty() {
                Status::Pass
            } else {
                Status::NotChecked
            },
            format!(
                "{} JPEG/PNG, {served} served as WebP; none left would save {min} or more as \
                 WebP (quality 80): the most, {} {} → {}{errors}",
                a.images.len(),
                best.path,
                format_size(best.bytes),
                format_size(best.webp)
            ),
        );
    }
    let total: u64 = worth.iter().map(|i| i.webp_saving).sum();
    let names: Vec<String> = worth
        .iter()
        .map(|i| {
            format!(
                "{} {} → {} (−{:.0}%)",
                i.path,
                format_size(i.bytes),
                format_size(i.webp),
                pct(i.webp_saving, i.bytes)
            )
        })
        .collect();
    FrontendCheck::new(
        Id::WebpImages,
        Status::Fail,
        format!(
            "{} of {} JPEG/PNG would save {min} or more as WebP (quality 80, encoded) and are \
             not served as WebP, {} in all: {}{errors}",
            worth.len(),
            a.images.len(),
            format_size(total),
            named(&names)
        ),
    )
}

pub fn picture_webp(a: &Analysis) -> FrontendCheck {
    let mut bare = Vec::new();
    let mut total = 0;
    for page in &a.pages {
        for img in &page.images {
            total += 1;
            if !img.modern_source {
                bare.push(format!("{} on {}", img.path, page.path));
            }
        }
    }
    if total == 0 {
        return FrontendCheck::new(
            Id::PictureWebp,
            Status::Pass,
            "no page shows a JPEG or PNG through <img>",
        );
    }
    match bare.is_empty() {
        true => FrontendCheck::new(
            Id::PictureWebp,
            Status::Pass,
            format!(
                "all {total} <img> of JPEG/PNG sit in a <picture> with a WebP or AVIF <source>"
            ),
        ),
        false => FrontendCheck::new(
            Id::PictureWebp,
            Status::Fail,
            format!(
                "{} of {total} <img> of JPEG/PNG have no <picture> with a <source \
                 type=\"image/webp\">: {}",
                bare.len(),
                named(&bare)
            ),
        ),
    }
}

pub fn broken_references(a: &Analysis) -> FrontendCheck {
    let mut problems: Vec<String> = a
        .broken
        .iter()
        .map(|b| match b.referrer.is_empty() {
            true => format!("{} ({})", b.path, b.reason),
            false => format!("{} ({}, from {})", b.path, b.reason, b.referrer),
        })
        .collect();
    problems.extend(
        a.unparsed
            .iter()
            .map(|u| format!("{} does not parse as JavaScript ({})", u.path, u.reason)),
    );
    match problems.is_empty() {
        true => FrontendCheck::new(
            Id::BrokenReferences,
            Status::Pass,
            format!(
                "every file the {} pages reference exists, every module parses",
                a.pages.len()
            ),
        ),
        false => FrontendCheck::new(
            Id::BrokenReferences,
            Status::Fail,
            format!(
                "{} leading nowhere: {}",
                count(problems.len(), "reference", "references"),
                named(&problems)
            ),
        ),
    }
}

/// A served file whose type compresses well.
fn is_text(asset: &Asset) -> bool {
    if matches!(asset.kind, Kind::Script | Kind::Stylesheet | Kind::Document) {
        return true;
    }
    let t = asset
        .served
        .as_ref()
        .and_then(|s| s.content_type.as_deref())
        .unwrap_or_default();
    t.starts_with("text/") || t.contains("json") || t.contains("svg") || t.contains("javascript")
}

pub fn compression(a: &Analysis) -> FrontendCheck {
    let judged: Vec<&Asset> = a
        .assets
        .iter()
        .filter(|x| x.served.is_some() && is_text(x) && x.sizes.raw >= COMPRESS_MIN)
        .collect();
    if judged.is_empty() {
        return FrontendCheck::new(
            Id::Compression,
            Status::NotChecked,
            "no text file of 1 KiB or more was served",
        );
    }
    let encoding = |x: &Asset| {
        x.served
            .as_ref()
            .and_then(|s| s.content_encoding.clone())
            .unwrap_or_default()
    };
    let plain: Vec<String> = judged
        .iter()
        .filter(|x| !matches!(encoding(x).as_str(), "gzip" | "br" | "zstd" | "deflate"))
        .map(|x| format!("{} {}", x.path, format_size(x.sizes.raw)))
        .collect();
    let count = |e: &str| judged.iter().filter(|x| encoding(x) == e).count();
    let raw: u64 = judged.iter().map(|x| x.sizes.raw).sum();
    let sent: u64 = judged
        .iter()
        .map(|x| x.served.as_ref().map_or(0, |s| s.bytes_sent))
        .sum();
    let seen = format!(
        "{} text files of 1 KiB or more asked with Accept-Encoding: gzip, br: {} br, {} gzip; \
         {} sent for {}",
        judged.len(),
        count("br"),
        count("gzip"),
        format_size(sent),
        format_size(raw)
    );
    match plain.is_empty() {
        true => FrontendCheck::new(Id::Compression, Status::Pass, seen),
        false => FrontendCheck::new(
            Id::Compression,
            Status::Fail,
            format!(
                "{seen}; {} sent uncompressed: {}",
                plain.len(),
                named(&plain)
            ),
        ),
    }
}

/// `max-age` (or `s-maxage`) in seconds, and whether `immutable` is there, of a
/// Cache-Control value; `no-store` and `no-cache` count as no caching.
pub fn cache_lifetime(value: &str) -> (Option<u64>, bool, bool) {
    let mut max_age = None;
    let mut immutable = false;
    let mut forbidden = false;
    for directive in value.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if let Some(n) = d.strip_prefix("max-age=") {
            max_age = n.trim_matches('"').parse().ok();
        } else if d == "immutable" {
            immutable = true;
        } else if d == "no-store" || d == "no-cache" {
            forbidden = true;
        }
    }
    (max_age, immutable, forbidden)
}

/// What is wrong with a fingerprinted file's Cache-Control, if anything.
fn fingerprinted_problem(cache_control: Option<&str>, min: u64) -> Option<String> {
    let Some(cc) = cache_control else {
        return Some("no Cache-Control".into());
    };
    let (age, immutable, forbidden) = cache_lifetime(cc);
    if forbidden {
        return Some(format!("Cache-Control: {cc}"));
    }
    let mut p = Vec::new();
    if age.is_none_or(|a| a < min) {
        let age = age.map_or("none".into(), |a| a.to_string());
        p.push(format!("max-age {age} < {min}"));
    }
    if !immutable {
        p.push("no immutable".to_string());
    }
    (!p.is_empty()).then(|| p.join(", "))
}

/// Fingerprinted files cached for `fingerprinted_max_age` and immutable; and no file
/// without a content hash cached like one (immutable, or as long): a new deploy of it
/// would never reach a returning visitor.
pub fn fingerprinted_caching(a: &Analysis, b: &Budgets) -> FrontendCheck {
    let min = b.fingerprinted_max_age.as_secs();
    let served = || {
        a.assets
            .iter()
            .filter_map(|x| x.served.as_ref().map(|s| (x, s)))
    };
    let hashed: Vec<_> = served().filter(|(x, _)| x.fingerprinted).collect();
    if hashed.is_empty() {
        return FrontendCheck::new(
            Id::FingerprintedCaching,
            Status::NotChecked,
            "no served file has a content hash in its name: nothing can be cached forever \
             (Vite names its chunks name.HASH.js)",
        );
    }
    let mut wrong = Vec::new();
    let mut example = String::new();
    for (x, s) in &hashed {
        match fingerprinted_problem(s.cache_control.as_deref(), min) {
            Some(p) => wrong.push(format!("{} ({p})", x.path)),
            None if example.is_empty() => example = s.cache_control.clone().unwrap_or_default(),
            None => {}
        }
    }
    let stale: Vec<String> = served()
        .filter(|(x, _)| !x.fingerprinted)
        .filter_map(|(x, s)| {
            let cc = s.cache_control.as_deref()?;
            let (age, immutable, forbidden) = cache_lifetime(cc);
            (!forbidden && (immutable || age.is_some_and(|a| a >= min)))
                .then(|| format!("{} (Cache-Control: {cc})", x.path))
        })
        .collect();
    let mut problems = Vec::new();
    if !wrong.is_empty() {
        problems.push(format!(
            "{} of {} fingerprinted files are not cached for max-age ≥ {min} with immutable: {}",
            wrong.len(),
            hashed.len(),
            named(&wrong)
        ));
    }
    if !stale.is_empty() {
        problems.push(format!(
            "{} without a content hash cached like fingerprinted ones, so a new deploy never \
             reaches returning visitors: {}",
            count(stale.len(), "file", "files"),
            named(&stale)
        ));
    }
    match problems.is_empty() {
        true => FrontendCheck::new(
            Id::FingerprintedCaching,
            Status::Pass,
            format!(
                "{} fingerprinted files, each Cache-Control: {example}; none without a hash \
                 cached as immutable",
                hashed.len()
            ),
        ),
        false => FrontendCheck::new(Id::FingerprintedCaching, Status::Fail, problems.join("; ")),
    }
}

pub fn etag(a: &Analysis) -> FrontendCheck {
    let served: Vec<(&Asset, &super::site::Served)> = a
        .assets
        .iter()
        .filter_map(|x| x.served.as_ref().map(|s| (x, s)))
        .collect();
    if served.is_empty() {
        return FrontendCheck::new(Id::Etag, Status::NotChecked, "no file was served");
    }
    let without: Vec<String> = served
        .iter()
        .filter(|(_, s)| s.etag.is_none())
        .map(|(x, s)| match s.last_modified.is_some() {
            true => format!("{} (Last-Modified only)", x.path),
            false => format!("{} (no validator)", x.path),
        })
        .collect();
    let not_304: Vec<String> = served
        .iter()
        .filter(|(_, s)| s.etag.is_some() && s.revalidated != Some(304))
        .map(|(x, s)| {
            format!(
                "{} (If-None-Match → {})",
                x.path,
                s.revalidated.map_or("nothing".into(), |c| c.to_string())
            )
        })
        .collect();
    let with = served.len() - without.len();
    let mut problems = without.clone();
    problems.extend(not_304.clone());
    match problems.is_empty() {
        true => FrontendCheck::new(
            Id::Etag,
            Status::Pass,
            format!("{with} files with an ETag, each answered 304 to If-None-Match"),
        ),
        false => FrontendCheck::new(
            Id::Etag,
            Status::Fail,
            format!(
                "{} of {} served files have no ETag, {} with one not answered 304: {}",
                without.len(),
                served.len(),
                not_304.len(),
                named(&problems)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_read_directive_by_directive() {
        assert_eq!(
            cache_lifetime("public, max-age=31536000, immutable"),
            (Some(31_536_000), true, false)
        );
        assert_eq!(cache_lifetime("no-cache"), (None, false, true));
        assert_eq!(cache_lifetime("Max-Age=60"), (Some(60), false, false));
    }

    #[test]
    fn long_lists_name_five_and_count_the_rest() {
        let items: Vec<String> = (1..=7).map(|i| format!("f{i}")).collect();
        assert_eq!(named(&items), "f1; f2; f3; f4; f5; and 2 more");
        assert_eq!(named(&items[..2]), "f1; f2");
    }
}
