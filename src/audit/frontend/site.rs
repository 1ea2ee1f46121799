//! Where the front end's files come from: a built directory (`dist/`) read from disk,
//! or a served one fetched over HTTP. Either way a file is named by its path on the
//! site (`/_astro/Layout.BvBrAzhx.css`, `/buildings/` for `buildings/index.html`), so
//! that the analysis sees one thing. Over HTTP every file is asked for with
//! `Accept-Encoding: gzip, br` and without automatic decompression, its headers kept
//! for the served-asset checks, its body decoded to measure it, and asked for again
//! conditionally (`If-None-Match`, else `If-Modified-Since`) to see a 304.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderMap,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use serde::{Deserialize, Serialize};

use super::CannotAuditFrontend;
use crate::error::root_cause;

/// The base every path is resolved against in directory mode (never fetched).
const DIR_BASE: &str = "http://frontend.invalid/";

/// What a server answered for one file (URL mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    pub status: u16,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// Bytes on the wire (the body as sent, compressed or not).
    pub bytes_sent: u64,
    pub cache_control: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The status of the same GET made conditional on the ETag (or Last-Modified);
    /// none when the answer carried neither.
    pub revalidated: Option<u16>,
}

/// One file: its bytes (decoded) and, served, what the server said.
#[derive(Debug, Clone)]
pub struct File {
    pub bytes: Vec<u8>,
    pub served: Option<Served>,
    /// HTML, by its Content-Type when served, by its name on disk.
    pub is_html: bool,
    /// Where it was found: the path asked for, or where the server redirected to
    /// (`/settings` → `/settings/`).
    pub location: String,
}

/// Why a referenced file could not be had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub path: String,
    /// `not found`, `HTTP 500`, a connection error.
    pub reason: String,
}

enum Origin {
    Dir(PathBuf),
    Url {
        client: reqwest::Client,
        timeout: Duration,
    },
}

/// The front end being audited, its files read or fetched once each.
pub struct Site {
    origin: Origin,
    base: Url,
    files: BTreeMap<String, Result<File, Missing>>,
    /// The page that links to a path first (the crawl's).
    linked_from: BTreeMap<String, String>,
}

/// What `--frontend` names: a directory, or an http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Dir(PathBuf),
    Url(Url),
}

impl Target {
    /// Reads `--frontend`: an http(s) URL (credentials refused), else an existing
    /// directory.
    pub fn parse(text: &str) -> Result<Target, String> {
        if text.starts_with("http://") || text.starts_with("https://") {
            let url = Url::parse(text).map_err(|e| {
                format!(
                    "--frontend `{}` is not a URL ({e})",
                    crate::redact::redact(text)
                )
            })?;
            if !url.username().is_empty() || url.password().is_some() {
                return Err(format!(
                    "--frontend `{}` carries credentials (USER:PASSWORD@): give a URL without them",
                    crate::redact::redact(text)
                ));
            }
            let mut url = url;
            url.set_query(None);
            url.set_fragment(None);
            if !url.path().ends_with('/') && !url.path().ends_with(".html") {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            return Ok(Target::Url(url));
        }
        let path = PathBuf::from(text);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => Ok(Target::Dir(path)),
            Ok(_) => Err(format!(
                "--frontend `{text}` is a file: give the built front end's directory (e.g. \
                 frontend/dist) or its http(s) URL"
            )),
            Err(e) => Err(format!(
                "--frontend `{text}`: {e}; give the built front end's directory (e.g. \
                 frontend/dist, after npm run build) or its http(s) URL"
            )),
        }
    }

    /// As shown: the directory, or the URL.
    pub fn label(&self) -> String {
        match self {
            Target::Dir(p) => p.display().to_string(),
            Target::Url(u) => u.to_string(),
        }
    }
}

impl Site {
    /// A directory, or a URL whose page answers (else [`CannotAuditFrontend`]).
    pub async fn open(target: &Target, timeout: Duration) -> Result<Site, CannotAuditFrontend> {
        match target {
            Target::Dir(dir) => Ok(Site {
                origin: Origin::Dir(dir.clone()),
                base: Url::parse(DIR_BASE).expect("a valid URL"),
                files: BTreeMap::new(),
                linked_from: BTreeMap::new(),
            }),
            Target::Url(url) => {
                let client = reqwest::Client::builder()
                    .no_gzip()
                    .timeout(timeout)
                    .user_agent(concat!("koprogo-perf-audit/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| CannotAuditFrontend::Unreachable {
                        url: url.to_string(),
                        detail: root_cause(&e),
                    })?;
                let mut site = Site {
                    origin: Origin::Url { client, timeout },
                    base: url.clone(),
                    files: BTreeMap::new(),
                    linked_from: BTreeMap::new(),
                };
                let first = url.path().to_string();
                site.fetch(&first).await?;
                match site.files.get(&first) {
                    Some(Ok(f)) if f.is_html => Ok(site),
                    Some(Ok(_)) => Err(CannotAuditFrontend::NotAPage {
                        url: url.to_string(),
                        detail: "it is not an HTML page".into(),
                    }),
                    Some(Err(m)) => Err(CannotAuditFrontend::NotAPage {
                        url: url.to_string(),
                        detail: m.reason.clone(),
                    }),
                    None => unreachable!("fetch records every path"),
                }
            }
        }
    }

    /// True when the files come from a server.
    pub fn is_served(&self) -> bool {
        matches!(self.origin, Origin::Url { .. })
    }

    /// The path on the site a reference made from `from` names, or `None` when it is
    /// another origin's (`https://plausible.io/…`), a `data:` URL or not a URL.
    pub fn resolve(&self, from: &str, reference: &str) -> Option<String> {
        let reference = reference.trim();
        if reference.is_empty() || reference.starts_with('#') {
            return None;
        }
        let from = self.base.join(from).ok()?;
        let url = from.join(reference).ok()?;
        if url.origin() != self.base.origin() {
            return None;
        }
        Some(url.path().to_string())
    }

    /// The file at `path`, read or fetched the first time it is asked for.
    pub async fn get(&mut self, path: &str) -> Result<&File, Missing> {
        if !self.files.contains_key(path) {
            // A server that cannot be reached any more is a missing file too: the
            // audit goes on with what it has and says what it lacks.
            let _ = self.fetch(path).await;
        }
        match self.files.get(path).expect("fetch records every path") {
            Ok(f) => Ok(f),
            Err(m) => Err(m.clone()),
        }
    }

    /// Every path asked for that could not be had.
    pub fn missing(&self) -> Vec<Missing> {
        self.files
            .values()
            .filter_map(|f| f.as_ref().err().cloned())
            .collect()
    }

    /// Every file had, by path, each once (under where it was found, not under a path
    /// that redirected to it).
    pub fn files(&self) -> impl Iterator<Item = (&String, &File)> {
        self.files
            .iter()
            .filter_map(|(p, f)| f.as_ref().ok().map(|f| (p, f)))
            .filter(|(p, f)| **p == f.location)
    }

    /// Every file of a directory (paths on the site), sorted; empty for a URL.
    pub fn listing(&self) -> Vec<String> {
        let Origin::Dir(root) = &self.origin else {
            return Vec::new();
        };
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                // Symbolic links are not followed: they could lead out of the tree.
                match entry.file_type() {
                    Ok(t) if t.is_dir() => dirs.push(path),
                    Ok(t) if t.is_file() => {
                        if let Some(site) = site_path(root, &path) {
                            found.push(site);
                        }
                    }
                    _ => {}
                }
            }
        }
        found.sort();
        found
    }

    /// The pages: every HTML file of a directory, or those reached from the URL by
    /// following same-site links (`<a href>`), breadth first, up to `max` pages.
    pub async fn pages(&mut self, max: usize) -> Vec<String> {
        if !self.is_served() {
            return self
                .listing()
                .into_iter()
                .filter(|p| p.ends_with('/') || p.ends_with(".html"))
                .collect();
        }
        let start = self.base.path().to_string();
        let mut pages = BTreeSet::new();
        let mut seen = BTreeSet::from([start.clone()]);
        let mut queue = VecDeque::from([start]);
        while let Some(path) = queue.pop_front() {
            if pages.len() >= max {
                break;
            }
            // A page is named where the server answered it (after redirects), once.
            let (location, links) = match self.get(&path).await {
                Ok(f) if f.is_html => (
                    f.location.clone(),
                    super::parse::page(&String::from_utf8_lossy(&f.bytes)).links,
                ),
                _ => continue,
            };
            if !pages.insert(location.clone()) {
                continue;
            }
            for link in links {
                let Some(next) = self.resolve(&location, &link) else {
                    continue;
                };
                let looks_like_page = next.ends_with('/')
                    || next.ends_with(".html")
                    || !next.rsplit('/').next().unwrap_or_default().contains('.');
                if looks_like_page
                    && next.starts_with(self.base.path())
                    && seen.insert(next.clone())
                {
                    self.linked_from.insert(next.clone(), location.clone());
                    queue.push_back(next);
                }
            }
        }
        pages.into_iter().collect()
    }

    /// The page whose link led the crawl to `path`.
    pub fn linked_from(&self, path: &str) -> Option<&str> {
        self.linked_from.get(path).map(String::as_str)
    }

    async fn fetch(&mut self, path: &str) -> Result<(), CannotAuditFrontend> {
        let result = match &self.origin {
            Origin::Dir(root) => Ok(read(root, path)),
            Origin::Url { client, timeout } => fetch(client, &self.base, path, *timeout).await,
        };
        match result {
            Ok(file) => {
                if let Ok(f) = &file
                    && f.location != path
                {
                    self.files
                        .entry(f.location.clone())
                        .or_insert_with(|| file.clone());
                }
                self.files.insert(path.to_string(), file);
                Ok(())
            }
            Err(e) => {
                self.files.insert(
                    path.to_string(),
                    Err(Missing {
                        path: path.to_string(),
                        reason: e.to_string(),
                    }),
                );
                Err(e)
            }
        }
    }
}

/// `root/a/index.html` → `/a/`, `root/x.js` → `/x.js` (percent-encoded as a URL path).
fn site_path(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let mut url = Url::parse(DIR_BASE).expect("a valid URL");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    url.path_segments_mut().ok()?.pop().extend(&parts);
    let path = url.path().to_string();
    Some(match path.strip_suffix("index.html") {
        Some(dir) if dir.ends_with('/') => dir.to_string(),
        _ => path,
    })
}

/// Reads `path` under `root`: `/a/` is `a/index.html`, `/a` is `a`, `a.html` or
/// `a/index.html`, as static servers (and Astro's directory format) map them.
fn read(root: &Path, path: &str) -> Result<File, Missing> {
    let missing = |reason: &str| Missing {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    let decoded = percent_decode(path);
    let mut rel = PathBuf::new();
    for part in decoded.split('/').filter(|p| !p.is_empty()) {
        match Path::new(part).components().next() {
            Some(Component::Normal(_)) => rel.push(part),
            _ => return Err(missing("not found")),
        }
    }
    let base = root.join(&rel);
    let candidates = if decoded.ends_with('/') {
        vec![base.join("index.html")]
    } else {
        vec![
            base.clone(),
            base.with_extension("html"),
            base.join("index.html"),
        ]
    };
    for candidate in candidates {
        let Ok(meta) = std::fs::symlink_metadata(&candidate) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        return match std::fs::read(&candidate) {
            Ok(bytes) => Ok(File {
                is_html: candidate
                    .extension()
                    .is_some_and(|e| e == "html" || e == "htm"),
                bytes,
                served: None,
                location: site_path(root, &candidate).unwrap_or_else(|| path.to_string()),
            }),
            Err(e) => Err(missing(&format!("cannot be read: {e}"))),
        };
    }
    Err(missing("not found"))
}

/// `%20` → ` ` (a path on disk is not percent-encoded).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII");
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A header's value; several fields of one name are one list, joined with `, ` as
/// HTTP reads them (nginx's `expires 1y` plus `add_header Cache-Control "public,
/// immutable"` sends two Cache-Control fields).
fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// GETs `path`, then asks again conditionally. A connection error is the error
/// (the caller stops when the first page fails); an HTTP error status is a missing
/// file.
async fn fetch(
    client: &reqwest::Client,
    base: &Url,
    path: &str,
    timeout: Duration,
) -> Result<Result<File, Missing>, CannotAuditFrontend> {
    let url = base.join(path).expect("a path on the site joins");
    let unreachable = |e: reqwest::Error| CannotAuditFrontend::Unreachable {
        url: url.to_string(),
        detail: if e.is_timeout() {
            format!("no answer within {} s", timeout.as_secs_f64())
        } else {
            root_cause(&e)
        },
    };
    let response = client
        .get(url.clone())
        .header(ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let headers = response.headers().clone();
    let url = response.url().clone();
    let location = match url.origin() == base.origin() {
        true => url.path().to_string(),
        false => path.to_string(),
    };
    let body = response.bytes().await.map_err(unreachable)?;
    let missing = |reason: String| Missing {
        path: path.to_string(),
        reason,
    };
    if !status.is_success() {
        return Ok(Err(missing(format!("HTTP {}", status.as_u16()))));
    }
    let content_encoding = header(&headers, CONTENT_ENCODING);
    let bytes = match super::sizes::decode(&body, content_encoding.as_deref()) {
        Ok(b) => b,
        Err(e) => return Ok(Err(missing(e))),
    };
    let etag = header(&headers, ETAG);
    let last_modified = header(&headers, LAST_MODIFIED);
    let conditional = match (&etag, &last_modified) {
        (Some(tag), _) => Some((IF_NONE_MATCH, tag.clone())),
        (None, Some(date)) => Some((IF_MODIFIED_SINCE, date.clone())),
        (None, None) => None,
    };
    let revalidated = match conditional {
        Some((name, value)) => Some(
            client
                .get(url.clone())
                .header(ACCEPT_ENCODING, "gzip, br")
                .header(name, value)
                .send()
                .await
                .map_err(unreachable)?
                .status()
                .as_u16(),
        ),
        None => None,
    };
    let content_type = header(&headers, CONTENT_TYPE);
    Ok(Ok(File {
        is_html: content_type
            .as_deref()
            .is_some_and(|t| t.trim_start().starts_with("text/html")),
        bytes,
        location,
        served: Some(Served {
            status: status.as_u16(),
            content_type,
            content_encoding,
            bytes_sent: body.len() as u64,
            cache_control: header(&headers, CACHE_CONTROL),
            etag,
            last_modified,
            revalidated,
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_their_path_on_the_site() {
        let root = Path::new("/srv/dist");
        let p = |rel: &str| site_path(root, &root.join(rel)).unwrap();
        assert_eq!(p("index.html"), "/");
        assert_eq!(p("buildings/index.html"), "/buildings/");
        assert_eq!(p("404.html"), "/404.html");
        assert_eq!(p("_astro/a b.js"), "/_astro/a%20b.js");
        assert_eq!(percent_decode("/_astro/a%20b.js"), "/_astro/a b.js");
    }

    #[test]
    fn references_resolve_within_the_site_only() {
        let site = Site {
            origin: Origin::Dir(PathBuf::from("/srv/dist")),
            base: Url::parse(DIR_BASE).unwrap(),
            files: BTreeMap::new(),
            linked_from: BTreeMap::new(),
        };
        let r = |from: &str, to: &str| site.resolve(from, to);
        assert_eq!(r("/_astro/a.js", "./b.js").as_deref(), Some("/_astro/b.js"));
        assert_eq!(
            r("/buildings/", "/_astro/c.js?v=1#x").as_deref(),
            Some("/_astro/c.js")
        );
        assert_eq!(
            r("/a/", "../../../etc/passwd").as_deref(),
            Some("/etc/passwd")
        );
        assert_eq!(r("/", "https://plausible.io/js/pa.js"), None);
        assert_eq!(r("/", "data:image/png;base64,AA"), None);
        assert_eq!(r("/", "#main"), None);
    }

    #[test]
    fn a_directory_never_reads_outside_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/index.html"), "<p>").unwrap();
        std::fs::write(dir.path().join("x.js"), "1").unwrap();
        assert!(read(dir.path(), "/a/").unwrap().is_html);
        assert!(read(dir.path(), "/a").unwrap().is_html);
        assert_eq!(read(dir.path(), "/x.js").unwrap().bytes, b"1");
        assert!(read(dir.path(), "/%2e%2e/etc/passwd").is_err());
        assert_eq!(
            read(dir.path(), "/nope.js").unwrap_err().reason,
            "not found"
        );
    }

    #[test]
    fn repeated_headers_are_one_list() {
        let mut h = HeaderMap::new();
        h.append(CACHE_CONTROL, "max-age=31536000".parse().unwrap());
        h.append(CACHE_CONTROL, "public, immutable".parse().unwrap());
        assert_eq!(
            header(&h, CACHE_CONTROL).as_deref(),
            Some("max-age=31536000, public, immutable")
        );
        assert_eq!(header(&h, ETAG), None);
    }

    #[test]
    fn targets_are_a_directory_or_a_url() {
        assert_eq!(
            Target::parse("http://127.0.0.1:4321").unwrap(),
            Target::Url(Url::parse("http://127.0.0.1:4321/").unwrap())
        );
        assert!(
            Target::parse("http://u:secret@h/")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(
            !Target::parse("http://u:secret@h/")
                .unwrap_err()
                .contains("secret")
        );
        assert!(
            Target::parse("/nonexistent/dist")
                .unwrap_err()
                .contains("npm run build")
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Target::parse(dir.path().to_str().unwrap()),
            Ok(Target::Dir(_))
        ));
    }
}
