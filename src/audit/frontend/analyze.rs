//! From the site's files to what each page costs: every page's first load (its
//! scripts, module preloads and eagerly hydrated islands, followed through their
//! static imports; its stylesheets through their `@import`s) and what it loads lazily
//! (dynamic `import()`s, islands hydrated later, and what those import in turn), every
//! JavaScript and CSS file with its three sizes, every JPEG and PNG with what WebP
//! would save, and the references that lead nowhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::images::{ImageError, ImageReport};
use super::parse::{self, ModuleRefs};
use super::site::{Missing, Served, Site};
use super::sizes::{self, Sizes};

/// What kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Script,
    Stylesheet,
    Document,
    Image,
    Other,
}

impl Kind {
    fn of(path: &str) -> Kind {
        let name = path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        match ext {
            "js" | "mjs" | "cjs" => Kind::Script,
            "css" => Kind::Stylesheet,
            "html" | "htm" => Kind::Document,
            _ if path.ends_with('/') => Kind::Document,
            "png" | "jpg" | "jpeg" | "webp" | "avif" | "gif" | "svg" | "ico" => Kind::Image,
            _ => Kind::Other,
        }
    }
}

/// One file of the front end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// Its path on the site.
    pub path: String,
    pub kind: Kind,
    pub sizes: Sizes,
    /// Its name carries a content hash (cacheable forever).
    pub fingerprinted: bool,
    /// How many pages load it up front.
    pub first_load_pages: usize,
    /// How many pages may load it later (and not up front).
    pub lazy_pages: usize,
    /// What the server answered (URL mode).
    pub served: Option<Served>,
}

/// Scripts and stylesheets loaded together, with their summed sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    pub scripts: Vec<String>,
    pub stylesheets: Vec<String>,
    pub script: Sizes,
    pub stylesheet: Sizes,
}

/// An `<img>` of a page, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageImage {
    pub path: String,
    /// Inside a `<picture>` with a WebP or AVIF `<source>`.
    pub modern_source: bool,
}

/// What one page costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub path: String,
    /// The HTML itself (inline scripts and styles included).
    pub document: Sizes,
    pub first_load: Load,
    pub lazy: Load,
    /// Scripts and stylesheets of other origins (not measured).
    pub external: Vec<String>,
    /// Its `<img>`s of JPEG or PNG files.
    pub images: Vec<PageImage>,
}

impl Page {
    /// Document, scripts and stylesheets of the first load.
    pub fn first_load_total(&self) -> Sizes {
        self.document + self.first_load.script + self.first_load.stylesheet
    }
}

/// A reference that leads nowhere, and who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    pub path: String,
    pub reason: String,
    /// The page or file that references it (the first one met).
    pub referrer: String,
}

/// Everything the checks judge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// Every page, by path.
    pub pages: Vec<Page>,
    /// Every file read or fetched (for a directory also every JavaScript and CSS file
    /// in it, referenced or not), largest first. Binary files (images, fonts) have
    /// their raw size as gzip and brotli size too: servers send them as they are.
    pub assets: Vec<Asset>,
    /// Every JPEG and PNG measured.
    pub images: Vec<ImageReport>,
    pub image_errors: Vec<ImageError>,
    /// Modules that do not parse (their imports are unknown).
    pub unparsed: Vec<Missing>,
    pub broken: Vec<Broken>,
}

/// The walk's memory: each module's imports read once, who referenced what first.
#[derive(Default)]
struct Walker {
    modules: HashMap<String, ModuleRefs>,
    styles: HashMap<String, parse::StyleRefs>,
    referrer: BTreeMap<String, String>,
    /// Other files a page or a stylesheet references (icons, fonts, images).
    others: BTreeSet<String>,
}

impl Walker {
    fn refer(&mut self, path: &str, by: &str) {
        self.referrer
            .entry(path.to_string())
            .or_insert_with(|| by.to_string());
    }

    /// A module's imports, resolved: (static, dynamic, Vite-preloaded stylesheets).
    async fn module(
        &mut self,
        site: &mut Site,
        path: &str,
    ) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
        if !self.modules.contains_key(path) {
            let refs = match site.get(path).await {
                Ok(f) => parse::module(&String::from_utf8_lossy(&f.bytes)),
                Err(_) => return None,
            };
            self.modules.insert(path.to_string(), refs);
        }
        let refs = self.modules.get(path).expect("just read").clone();
        let resolve = |list: &[String], from: &str| -> Vec<String> {
            list.iter().filter_map(|r| site.resolve(from, r)).collect()
        };
        let base = site.resolve("/", ".").unwrap_or_else(|| "/".into());
        let statics = resolve(&refs.statics, path);
        let dynamics = resolve(&refs.dynamics, path);
        let preloads = resolve(&refs.preloads, &base)
            .into_iter()
            .filter(|p| Kind::of(p) == Kind::Stylesheet)
            .collect();
        for p in statics.iter().chain(&dynamics) {
            self.refer(p, path);
        }
        Some((statics, dynamics, preloads))
    }

    /// The static closure of `roots` (roots included), and the dynamic imports and
    /// Vite-preloaded stylesheets met on the way.
    async fn closure(
        &mut self,
        site: &mut Site,
        roots: &[String],
    ) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
        let mut seen = BTreeSet::new();
        let mut dynamic = BTreeSet::new();
        let mut css = BTreeSet::new();
        let mut stack: Vec<String> = roots.to_vec();
        while let Some(path) = stack.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            if Kind::of(&path) == Kind::Stylesheet {
                // `import "./x.css"` in an unbundled module: a stylesheet, not code.
                css.insert(path);
                continue;
            }
            if let Some((statics, dynamics, preloads)) = self.module(site, &path).await {
                stack.extend(statics);
                dynamic.extend(dynamics);
                css.extend(preloads);
            }
        }
        seen.retain(|p| Kind::of(p) != Kind::Stylesheet);
        (seen, dynamic, css)
    }

    /// Stylesheets with their `@import`s (and the `url()`s they reference).
    async fn styles(&mut self, site: &mut Site, roots: &BTreeSet<String>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = roots.iter().cloned().collect();
        while let Some(path) = stack.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            if !self.styles.contains_key(&path) {
                let refs = match site.get(&path).await {
                    Ok(f) => parse::stylesheet(&String::from_utf8_lossy(&f.bytes)),
                    Err(_) => continue,
                };
                self.styles.insert(path.clone(), refs);
            }
            let refs = self.styles.get(&path).expect("just read").clone();
            for i in refs.imports.iter().filter_map(|r| site.resolve(&path, r)) {
                self.refer(&i, &path);
                stack.push(i);
            }
            for u in refs.urls.iter().filter_map(|r| site.resolve(&path, r)) {
                self.refer(&u, &path);
                self.others.insert(u);
            }
        }
        seen
    }
}

/// The references a page makes, resolved, before the walk.
struct PageRoots {
    eager: Vec<String>,
    lazy: Vec<String>,
    stylesheets: BTreeSet<String>,
    external: Vec<String>,
    images: Vec<PageImage>,
}

fn page_roots(site: &Site, walker: &mut Walker, path: &str, html: &str) -> PageRoots {
    let refs = parse::page(html);
    let mut external = Vec::new();
    let mut resolve = |list: &[String], walker: &mut Walker| -> Vec<String> {
        let mut out = Vec::new();
        for r in list {
            match site.resolve(path, r) {
                Some(p) => {
                    walker.refer(&p, path);
                    out.push(p);
                }
                None if r.starts_with("http://")
                    || r.starts_with("https://")
                    || r.starts_with("//") =>
                {
                    external.push(r.clone())
                }
                None => {}
            }
        }
        out
    };
    let mut eager = resolve(&refs.scripts, walker);
    let mut lazy = resolve(&refs.lazy_scripts, walker);
    for inline in &refs.inline_modules {
        let m = parse::module(inline);
        eager.extend(resolve(&m.statics, walker));
        lazy.extend(resolve(&m.dynamics, walker));
    }
    let stylesheets = resolve(&refs.stylesheets, walker).into_iter().collect();
    let others = resolve(&refs.other, walker);
    walker.others.extend(others);
    // A served site's links are the crawl's; a directory's must lead to a file too.
    if !site.is_served() {
        let links = resolve(&refs.links, walker);
        walker.others.extend(links);
    }
    let images = refs
        .images
        .iter()
        .filter_map(|i| {
            site.resolve(path, &i.src).map(|p| PageImage {
                path: p,
                modern_source: i.modern_source,
            })
        })
        .filter(|i| image_ext(&i.path).is_some())
        .collect();
    PageRoots {
        eager,
        lazy,
        stylesheets,
        external,
        images,
    }
}

/// `jpeg` or `png` when the path names one.
fn image_ext(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        Some("jpeg")
    } else if lower.ends_with(".png") {
        Some("png")
    } else {
        None
    }
}

/// One page walked: what it loads up front and lazily.
struct Walked {
    path: String,
    roots: PageRoots,
    eager_js: BTreeSet<String>,
    eager_css: BTreeSet<String>,
    lazy_js: BTreeSet<String>,
    lazy_css: BTreeSet<String>,
}

/// Walks one page: its first load, then what loads lazily — the islands hydrated
/// later, the dynamic imports of everything up front and, in turn, of everything lazy
/// — minus what the first load already has.
async fn walk(site: &mut Site, walker: &mut Walker, path: &str) -> Option<Walked> {
    let html = match site.get(path).await {
        Ok(f) => String::from_utf8_lossy(&f.bytes).into_owned(),
        Err(_) => return None,
    };
    let roots = page_roots(site, walker, path, &html);
    let (eager_js, mut dynamic, preload_css) = walker.closure(site, &roots.eager).await;
    let eager_css = walker.styles(site, &roots.stylesheets).await;
    let mut queue: Vec<String> = roots.lazy.clone();
    queue.extend(dynamic.iter().cloned());
    let mut lazy_js = BTreeSet::new();
    let mut lazy_css_roots = preload_css;
    while !queue.is_empty() {
        let (js, more, css) = walker.closure(site, &queue).await;
        lazy_js.extend(js);
        lazy_css_roots.extend(css);
        queue = more
            .into_iter()
            .filter(|d| dynamic.insert(d.clone()) && !lazy_js.contains(d))
            .collect();
    }
    lazy_js.retain(|p| !eager_js.contains(p));
    let lazy_css = walker
        .styles(site, &lazy_css_roots)
        .await
        .into_iter()
        .filter(|p| !eager_css.contains(p))
        .collect();
    Some(Walked {
        path: path.to_string(),
        roots,
        eager_js,
        eager_css,
        lazy_js,
        lazy_css,
    })
}

/// Walks every page, then measures every file met (and, for a directory, every
/// JavaScript and CSS file in it) and every JPEG and PNG.
pub async fn analyze(
    site: &mut Site,
    page_paths: &[String],
    budgets: &super::budgets::Budgets,
) -> Analysis {
    let mut walker = Walker::default();
    let mut walked = Vec::new();
    for path in page_paths {
        walked.extend(walk(site, &mut walker, path).await);
    }
    // Every other file referenced must exist: fetch (or read) it once.
    for other in walker.others.clone() {
        let _ = site.get(&other).await;
    }
    let measured = measure_all(site).await;
    let (pages, first, lazy) = pages(&walked, &measured);
    let mut assets: Vec<Asset> = site
        .files()
        .filter_map(|(path, file)| {
            let name = path.rsplit('/').next().unwrap_or_default();
            Some(Asset {
                path: path.clone(),
                kind: if file.is_html {
                    Kind::Document
                } else {
                    Kind::of(path)
                },
                sizes: *measured.get(path)?,
                fingerprinted: budgets.is_fingerprinted(name),
                first_load_pages: first.get(path).copied().unwrap_or(0),
                lazy_pages: lazy.get(path).copied().unwrap_or(0),
                served: file.served.clone(),
            })
        })
        .collect();
    assets.sort_by(|a, b| b.sizes.raw.cmp(&a.sizes.raw).then(a.path.cmp(&b.path)));
    let (images, image_errors) = measure_images(site, &pages).await;
    let mut unparsed: Vec<Missing> = walker
        .modules
        .iter()
        .filter_map(|(p, m)| {
            m.error.as_ref().map(|e| Missing {
                path: p.clone(),
                reason: e.clone(),
            })
        })
        .collect();
    unparsed.sort_by(|a, b| a.path.cmp(&b.path));
    let broken = site
        .missing()
        .into_iter()
        .map(|m| Broken {
            referrer: walker
                .referrer
                .get(&m.path)
                .cloned()
                .or_else(|| site.linked_from(&m.path).map(str::to_string))
                .unwrap_or_default(),
            path: m.path,
            reason: m.reason,
        })
        .collect();
    Analysis {
        pages,
        assets,
        images,
        image_errors,
        unparsed,
        broken,
    }
}

/// The pages with their loads summed, and how many pages load each file up front and
/// (only) lazily.
fn pages(
    walked: &[Walked],
    measured: &BTreeMap<String, Sizes>,
) -> (Vec<Page>, HashMap<String, usize>, HashMap<String, usize>) {
    let size = |p: &String| measured.get(p).copied().unwrap_or_default();
    let load = |js: &BTreeSet<String>, css: &BTreeSet<String>| Load {
        script: js.iter().map(size).sum(),
        stylesheet: css.iter().map(size).sum(),
        scripts: js
            .iter()
            .filter(|p| measured.contains_key(*p))
            .cloned()
            .collect(),
        stylesheets: css
            .iter()
            .filter(|p| measured.contains_key(*p))
            .cloned()
            .collect(),
    };
    let mut pages = Vec::new();
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut lazy: HashMap<String, usize> = HashMap::new();
    for w in walked {
        for p in w.eager_js.iter().chain(&w.eager_css) {
            *first.entry(p.clone()).or_default() += 1;
        }
        for p in w.lazy_js.iter().chain(&w.lazy_css) {
            *lazy.entry(p.clone()).or_default() += 1;
        }
        pages.push(Page {
            path: w.path.clone(),
            document: size(&w.path),
            first_load: load(&w.eager_js, &w.eager_css),
            lazy: load(&w.lazy_js, &w.lazy_css),
            external: w.roots.external.clone(),
            images: w.roots.images.clone(),
        });
    }
    (pages, first, lazy)
}

/// Whether a server would compress the file: scripts, stylesheets, pages, SVG, JSON,
/// manifests, text.
fn compressible(path: &str, file: &super::site::File) -> bool {
    if file.is_html || matches!(Kind::of(path), Kind::Script | Kind::Stylesheet) {
        return true;
    }
    let lower = path.to_ascii_lowercase();
    let text_ext = [
        ".svg",
        ".json",
        ".webmanifest",
        ".txt",
        ".xml",
        ".map",
        ".md",
    ]
    .iter()
    .any(|e| lower.ends_with(e));
    let text_type = file
        .served
        .as_ref()
        .and_then(|s| s.content_type.as_deref())
        .is_some_and(|t| t.starts_with("text/") || t.contains("json") || t.contains("svg"));
    text_ext || text_type
}

/// The sizes of every file had (and, for a directory, of every JavaScript and CSS
/// file in it), compressed on blocking threads; a binary file (an image, a font) has
/// its raw size in all three, as servers send it as it is.
async fn measure_all(site: &mut Site) -> BTreeMap<String, Sizes> {
    for path in site.listing() {
        if matches!(Kind::of(&path), Kind::Script | Kind::Stylesheet) {
            let _ = site.get(&path).await;
        }
    }
    let files: Vec<(String, Vec<u8>, bool)> = site
        .files()
        .map(|(p, f)| (p.clone(), f.bytes.clone(), compressible(p, f)))
        .collect();
    tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|(p, bytes, text)| {
                let n = bytes.len() as u64;
                let s = match text {
                    true => sizes::measure(&bytes),
                    false => Sizes {
                        raw: n,
                        gzip: n,
                        brotli: n,
                    },
                };
                (p, s)
            })
            .collect()
    })
    .await
    .expect("measuring sizes does not panic")
}

/// Every JPEG and PNG: of the directory, or referenced by the pages and stylesheets
/// of a served site.
async fn measure_images(site: &mut Site, pages: &[Page]) -> (Vec<ImageReport>, Vec<ImageError>) {
    for path in site.listing() {
        if image_ext(&path).is_some() {
            let _ = site.get(&path).await;
        }
    }
    let listing: BTreeSet<String> = site.listing().into_iter().collect();
    let modern: BTreeSet<&str> = pages
        .iter()
        .flat_map(|p| &p.images)
        .filter(|i| i.modern_source)
        .map(|i| i.path.as_str())
        .collect();
    let work: Vec<(String, Vec<u8>, bool)> = site
        .files()
        .filter(|(p, f)| image_ext(p).is_some() || super::images::Format::sniff(&f.bytes).is_some())
        .map(|(p, f)| {
            let stem = p.rsplit_once('.').map(|(s, _)| s).unwrap_or(p);
            let sibling = listing.contains(&format!("{stem}.webp"));
            (
                p.clone(),
                f.bytes.clone(),
                sibling || modern.contains(p.as_str()),
            )
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut images = Vec::new();
        let mut errors = Vec::new();
        for (path, bytes, served) in work {
            match super::images::measure(&path, &bytes, served) {
                Ok(r) => images.push(r),
                Err(e) => errors.push(e),
            }
        }
        images.sort_by(|a, b| b.webp_saving.cmp(&a.webp_saving).then(a.path.cmp(&b.path)));
        (images, errors)
    })
    .await
    .expect("encoding images does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_name() {
        assert_eq!(Kind::of("/_astro/a.B1.js"), Kind::Script);
        assert_eq!(Kind::of("/_astro/Layout.css"), Kind::Stylesheet);
        assert_eq!(Kind::of("/buildings/"), Kind::Document);
        assert_eq!(Kind::of("/img/A.PNG"), Kind::Image);
        assert_eq!(Kind::of("/manifest.json"), Kind::Other);
        assert_eq!(image_ext("/img/a.JPEG"), Some("jpeg"));
        assert_eq!(image_ext("/img/a.webp"), None);
    }
}
