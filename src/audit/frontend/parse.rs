//! What a page, a module and a stylesheet reference, read from their text: an HTML
//! page through html5ever (scraper), the browsers' parsing algorithm; a JavaScript
//! module through oxc's parser, whose module record lists its static imports and
//! exports-from and its dynamic `import()`s; a stylesheet's `@import`s and `url()`s.
//! References are returned as written; [`super::site`] resolves them.

use scraper::{ElementRef, Html, Selector};

/// When an Astro island hydrates: `client:load`, `client:only` and `client:idle` fetch
/// their component as the page loads (idle only waits for the main thread to be free),
/// `client:visible` and `client:media` when the island scrolls into view or a media
/// query matches.
fn island_is_eager(client: &str) -> bool {
    !matches!(client, "visible" | "media")
}

/// An `<img>` (or a `<picture>`'s `<source>`) showing a JPEG or PNG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    /// The URL as written (`src`, or the first candidate of `srcset`).
    pub src: String,
    /// Inside a `<picture>` that offers a `<source type="image/webp">` (or AVIF).
    pub modern_source: bool,
}

/// What a page references.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PageRefs {
    /// Scripts fetched as the page loads: `<script src>`, `<link rel=modulepreload>`,
    /// `<link rel=preload as=script>`, and the modules of islands hydrated on load.
    pub scripts: Vec<String>,
    /// The modules of islands hydrated later (on visibility, on a media query).
    pub lazy_scripts: Vec<String>,
    /// The text of inline `<script type="module">` elements (their imports count).
    pub inline_modules: Vec<String>,
    /// `<link rel=stylesheet>` and `<link rel=preload as=style>`.
    pub stylesheets: Vec<String>,
    /// Every `<img>` with its `<picture>`'s sources.
    pub images: Vec<ImageUse>,
    /// Everything else the page fetches or links to that must exist: icons, the
    /// manifest, `<source>` candidates, images of any format.
    pub other: Vec<String>,
    /// `<a href>`s, for the crawl of a served front end.
    pub links: Vec<String>,
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("a valid selector")
}

/// The first URL of a `srcset` (`a.webp 1x, b.webp 2x` → `a.webp`) and every one.
fn srcset_urls(srcset: &str) -> Vec<String> {
    srcset
        .split(',')
        .filter_map(|candidate| candidate.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Reads a page's references.
pub fn page(html: &str) -> PageRefs {
    let doc = Html::parse_document(html);
    let mut refs = PageRefs::default();
    for script in doc.select(&selector("script")) {
        let e = script.value();
        let module = e.attr("type").is_some_and(|t| t.trim() == "module");
        match e.attr("src") {
            Some(src) => refs.scripts.push(src.to_string()),
            None if module => refs.inline_modules.push(script.text().collect()),
            None => {}
        }
    }
    for link in doc.select(&selector("link[href]")) {
        let e = link.value();
        let href = e.attr("href").unwrap_or_default().to_string();
        let rel = e.attr("rel").unwrap_or_default().to_ascii_lowercase();
        let rels: Vec<&str> = rel.split_whitespace().collect();
        let as_ = e.attr("as").unwrap_or_default();
        if rels.contains(&"stylesheet") || (rels.contains(&"preload") && as_ == "style") {
            refs.stylesheets.push(href);
        } else if rels.contains(&"modulepreload") || (rels.contains(&"preload") && as_ == "script")
        {
            refs.scripts.push(href);
        } else if rels.iter().any(|r| {
            matches!(
                *r,
                "icon" | "apple-touch-icon" | "apple-touch-startup-image" | "manifest" | "preload"
            )
        }) {
            refs.other.push(href);
        }
    }
    for island in doc.select(&selector("astro-island")) {
        let e = island.value();
        let eager = island_is_eager(e.attr("client").unwrap_or("load"));
        for attr in ["component-url", "renderer-url", "before-hydration-url"] {
            if let Some(url) = e.attr(attr).filter(|u| !u.is_empty()) {
                match eager {
                    true => refs.scripts.push(url.to_string()),
                    false => refs.lazy_scripts.push(url.to_string()),
                }
            }
        }
    }
    for img in doc.select(&selector("img")) {
        let e = img.value();
        let src = e.attr("src").map(str::to_string).or_else(|| {
            e.attr("srcset")
                .and_then(|s| srcset_urls(s).into_iter().next())
        });
        if let Some(srcset) = e.attr("srcset") {
            refs.other.extend(srcset_urls(srcset));
        }
        let Some(src) = src.filter(|s| !s.starts_with("data:")) else {
            continue;
        };
        refs.other.push(src.clone());
        refs.images.push(ImageUse {
            modern_source: in_picture_with_modern_source(img),
            src,
        });
    }
    for source in doc.select(&selector("picture source[srcset]")) {
        refs.other.extend(srcset_urls(
            source.value().attr("srcset").unwrap_or_default(),
        ));
    }
    for a in doc.select(&selector("a[href]")) {
        refs.links
            .push(a.value().attr("href").unwrap_or_default().to_string());
    }
    refs
}

/// Whether an `<img>`'s parent is a `<picture>` holding a `<source>` of WebP or AVIF.
fn in_picture_with_modern_source(img: ElementRef) -> bool {
    let Some(parent) = img.parent().and_then(ElementRef::wrap) else {
        return false;
    };
    if parent.value().name() != "picture" {
        return false;
    }
    parent.children().filter_map(ElementRef::wrap).any(|c| {
        c.value().name() == "source"
            && c.value()
                .attr("type")
                .is_some_and(|t| matches!(t.trim(), "image/webp" | "image/avif"))
    })
}

/// A module's imports, as written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModuleRefs {
    /// `import … from "x"`, `import "x"`, `export … from "x"`: fetched with the module.
    pub statics: Vec<String>,
    /// `import("x")` with a literal specifier: fetched when the code runs.
    pub dynamics: Vec<String>,
    /// The files Vite's preload helper fetches with its dynamic imports
    /// (`__vite__mapDeps`' list, relative to the site's base): their stylesheets.
    pub preloads: Vec<String>,
    /// The module does not parse as JavaScript (the reason).
    pub error: Option<String>,
}

/// Reads a module's imports with oxc's parser; what does not parse as a module (a
/// classic script in sloppy mode) is read again as a script, whose `import()`s count.
pub fn module(source: &str) -> ModuleRefs {
    match parse_as(source, oxc_span::SourceType::mjs()) {
        Ok(refs) => refs,
        Err(error) => parse_as(source, oxc_span::SourceType::script()).unwrap_or(ModuleRefs {
            error: Some(error),
            ..ModuleRefs::default()
        }),
    }
}

fn parse_as(source: &str, source_type: oxc_span::SourceType) -> Result<ModuleRefs, String> {
    let allocator = oxc_allocator::Allocator::default();
    let parsed = oxc_parser::Parser::new(&allocator, source, source_type).parse();
    if parsed.panicked || parsed.diagnostics.has_errors() {
        return Err(parsed
            .diagnostics
            .errors()
            .next()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "does not parse as JavaScript".into()));
    }
    let record = &parsed.module_record;
    let mut refs = ModuleRefs::default();
    for specifier in record.requested_modules.keys() {
        refs.statics.push(specifier.to_string());
    }
    for dynamic in &record.dynamic_imports {
        let span = dynamic.module_request;
        if let Some(literal) = source
            .get(span.start as usize..span.end as usize)
            .and_then(string_literal)
        {
            refs.dynamics.push(literal);
        }
    }
    refs.preloads = vite_preload_deps(source);
    Ok(refs)
}

/// `"./a.js"`, `'./a.js'` or `` `./a.js` `` (without `${`) → `./a.js`.
fn string_literal(text: &str) -> Option<String> {
    let text = text.trim();
    let quote = text.chars().next()?;
    if !matches!(quote, '"' | '\'' | '`') || text.len() < 2 || !text.ends_with(quote) {
        return None;
    }
    let inner = &text[1..text.len() - 1];
    if inner.contains('\\') || (quote == '`' && inner.contains("${")) {
        return None;
    }
    Some(inner.to_string())
}

/// The list Vite's `__vite__mapDeps` helper holds:
/// `__vite__mapDeps=(i,m=__vite__mapDeps,d=(m.f||(m.f=["_astro/a.js","_astro/a.css"])))`.
fn vite_preload_deps(source: &str) -> Vec<String> {
    static LIST: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"^[^\[]*\[((?:"[^"]*",?)*)\]"#).expect("a valid pattern")
    });
    let Some(at) = source.find("__vite__mapDeps=") else {
        return Vec::new();
    };
    LIST.captures(&source[at..])
        .map(|c| {
            c[1].split(',')
                .map(|s| s.trim_matches('"').to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// A stylesheet's `@import`s and `url()`s (fonts, images), comments left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StyleRefs {
    pub imports: Vec<String>,
    pub urls: Vec<String>,
}

pub fn stylesheet(css: &str) -> StyleRefs {
    static COMMENT: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?s)/\*.*?\*/").expect("valid"));
    static IMPORT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"@import\s+(?:url\(\s*)?["']?([^"')\s;]+)"#).expect("valid")
    });
    static URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"url\(\s*["']?([^"')]+?)["']?\s*\)"#).expect("valid")
    });
    let css = COMMENT.replace_all(css, "");
    let imports: Vec<String> = IMPORT
        .captures_iter(&css)
        .map(|c| c[1].to_string())
        .collect();
    let urls = URL
        .captures_iter(&css)
        .map(|c| c[1].trim().to_string())
        .filter(|u| !u.starts_with("data:") && !u.starts_with('#') && !imports.contains(u))
        .collect();
    StyleRefs { imports, urls }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_what_it_loads_and_when() {
        let html = r#"<!doctype html><html><head>
            <script src="/config.js"></script>
            <script type="module" src="/_astro/page.Ab12Cd34.js"></script>
            <script type="module">import "/_astro/inline.js"; import("/_astro/later.js")</script>
            <script>window.x = 1</script>
            <link rel="modulepreload" href="/_astro/pre.js">
            <link rel="stylesheet" href="/_astro/Layout.css">
            <link rel="icon" href="/favicon.svg"><link rel="manifest" href="/manifest.json">
            </head><body>
            <astro-island component-url="/_astro/List.js" renderer-url="/_astro/client.js" client="load"></astro-island>
            <astro-island component-url="/_astro/Chart.js" renderer-url="/_astro/client.js" client="visible"></astro-island>
            <picture><source srcset="/img/a.webp" type="image/webp"><img src="/img/a.jpg"></picture>
            <img src="/img/b.png" srcset="/img/b.png 1x, /img/b@2x.png 2x">
            <img src="data:image/png;base64,AAAA">
            <a href="/buildings/">Buildings</a></body></html>"#;
        let refs = page(html);
        assert_eq!(
            refs.scripts,
            [
                "/config.js",
                "/_astro/page.Ab12Cd34.js",
                "/_astro/pre.js",
                "/_astro/List.js",
                "/_astro/client.js"
            ]
        );
        assert_eq!(refs.lazy_scripts, ["/_astro/Chart.js", "/_astro/client.js"]);
        assert_eq!(refs.inline_modules.len(), 1);
        assert_eq!(refs.stylesheets, ["/_astro/Layout.css"]);
        assert_eq!(
            refs.images,
            [
                ImageUse {
                    src: "/img/a.jpg".into(),
                    modern_source: true
                },
                ImageUse {
                    src: "/img/b.png".into(),
                    modern_source: false
                }
            ]
        );
        assert!(refs.other.contains(&"/img/b@2x.png".to_string()));
        assert!(refs.other.contains(&"/img/a.webp".to_string()));
        assert!(refs.other.contains(&"/manifest.json".to_string()));
        assert_eq!(refs.links, ["/buildings/"]);
    }

    #[test]
    fn a_module_names_its_static_and_dynamic_imports() {
        let js = r#"import"./a.js";import{b as c}from"./b.js";export{d}from"./d.js";
            const s = "import('./not-code.js')"; // import("./comment.js")
            const r = /import\("x"\)/;
            const Heavy = () => import("./Heavy.js");
            const computed = (n) => import(n);
            const __vite__mapDeps=(i,m=__vite__mapDeps,d=(m.f||(m.f=["_astro/Heavy.js","_astro/Heavy.css"])))=>i.map(i=>d[i]);"#;
        let refs = module(js);
        assert_eq!(refs.error, None);
        let mut statics = refs.statics.clone();
        statics.sort();
        assert_eq!(statics, ["./a.js", "./b.js", "./d.js"]);
        assert_eq!(refs.dynamics, ["./Heavy.js"]);
        assert_eq!(refs.preloads, ["_astro/Heavy.js", "_astro/Heavy.css"]);
        assert!(module("import { from").error.is_some());
    }

    #[test]
    fn a_stylesheet_names_its_imports_and_urls() {
        let css = r#"@import url("base.css"); @import 'theme.css';
            /* url(commented.png) */ .a { background: url(/img/bg.png) } .b { src: url("f.woff2") }
            .c { background: url(data:image/png;base64,AA) }"#;
        let refs = stylesheet(css);
        assert_eq!(refs.imports, ["base.css", "theme.css"]);
        assert_eq!(refs.urls, ["/img/bg.png", "f.woff2"]);
    }
}
