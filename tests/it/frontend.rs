//! `audit --frontend` on a small front end of real files written to a temporary
//! directory — ES modules with a static and a dynamic import, an Astro island
//! hydrated on visibility, CSS with an `@import` and a `url()`, a photo-like PNG and a
//! JPEG made by the image crate — audited as a directory, then served on loopback by a
//! small axum server of this test, bare (no compression, no caching headers) or tuned
//! (brotli and gzip, a year's immutable Cache-Control on fingerprinted files, ETags
//! answered 304), through the real binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use koprogo_perf::audit::Status;
use koprogo_perf::audit::frontend::{FrontendCheckId as Id, FrontendReport};

use crate::common;

/// Budgets small enough for a fixture: 2 kB of gzipped JavaScript up front at most,
/// 10 kB a file.
const BUDGETS: &str = r#"
compression = "gzip"
[code_splitting]
initial_js = "2 kB"
[[page]]
path = "/**"
script = "20 kB"
[[file]]
path = "/**/*.js"
limit = "10 kB"
[images]
min_webp_saving = "1 kB"
"#;

/// [`BUDGETS`] with room for the chart library (15 kB gzipped).
fn roomy_budgets() -> String {
    BUDGETS.replace("limit = \"10 kB\"", "limit = \"40 kB\"")
}

/// What the fixture front end holds.
#[derive(Clone, Copy)]
struct Shape {
    /// A page whose one script statically imports ~6 kB (gzipped) of code and
    /// imports nothing lazily.
    heavy_page: bool,
    /// The PNG shown through `<picture>` with a WebP `<source>` (and the WebP there).
    picture: bool,
}

/// Incompressible-ish JavaScript of about `n` bytes: pseudo-random numbers.
fn noise_module(n: usize) -> String {
    let mut state = 0x2545_f491u64;
    let mut out = String::from("export const table = [");
    while out.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(&format!("{},", state % 1_000_000_007));
    }
    out.push_str("0];\n");
    out
}

/// A photo-like picture: gradients with noise, as a camera gives.
fn photo(width: u32, height: u32) -> image::RgbImage {
    let mut state = 12345u32;
    image::RgbImage::from_fn(width, height, |x, y| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let noise = (state >> 16) as u8 % 24;
        image::Rgb([
            ((x * 255 / width) as u8).saturating_add(noise),
            ((y * 255 / height) as u8).saturating_add(noise / 2),
            (((x + y) * 127 / (width + height)) as u8).saturating_add(noise),
        ])
    })
}

fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Writes the front end under `root`.
fn build_frontend(root: &Path, shape: Shape) {
    let image = if shape.picture {
        r#"<picture><source srcset="/img/photo.webp" type="image/webp"><img src="/img/photo.png" alt=""></picture>"#
    } else {
        r#"<img src="/img/photo.png" alt="">"#
    };
    write(
        root,
        "index.html",
        format!(
            r#"<!doctype html><html><head><link rel="stylesheet" href="/_astro/Layout.L4y5O6u7.css">
<script src="/config.js"></script>
<script type="module" src="/_astro/index.A1b2C3d4.js"></script></head><body>
<astro-island component-url="/_astro/Map.M1a2P3s4.js" renderer-url="/_astro/client.C1l2I3e4.js" client="visible"></astro-island>
{image}<a href="/heavy">heavy</a></body></html>"#
        ),
    );
    write(
        root,
        "_astro/index.A1b2C3d4.js",
        r#"import{r as run}from"./runtime.R1r2R3r4.js";run();document.querySelector("button").onclick=()=>import("./Chart.C1h2A3r4.js").then(m=>m.draw());"#,
    );
    write(
        root,
        "_astro/runtime.R1r2R3r4.js",
        "export function r(){return 1}",
    );
    // Runtime settings without a hash in the name, as KoproGo's config.js.
    write(
        root,
        "config.js",
        "window.__CONFIG__ = { api: '/api/v1' };\n",
    );
    write(
        root,
        "_astro/Chart.C1h2A3r4.js",
        r#"import{table}from"./chart-lib.L1i2B3x4.js";export function draw(){return table.length}"#,
    );
    write(root, "_astro/chart-lib.L1i2B3x4.js", noise_module(30_000));
    write(
        root,
        "_astro/Map.M1a2P3s4.js",
        "export default function(){}",
    );
    write(
        root,
        "_astro/client.C1l2I3e4.js",
        "export default function(){}",
    );
    write(
        root,
        "_astro/Layout.L4y5O6u7.css",
        "@import \"./base.B1a2S3e4.css\";\nbody { background: url(/img/bg.jpg) }\n",
    );
    write(
        root,
        "_astro/base.B1a2S3e4.css",
        "html { color: #222; }\n".repeat(100),
    );
    // A service worker no page loads: listed with its sizes all the same.
    write(root, "sw.js", "self.addEventListener('fetch', () => {});\n");
    if shape.heavy_page {
        write(
            root,
            "heavy/index.html",
            r#"<!doctype html><html><head><script type="module" src="/_astro/heavy.H1e2A3v4.js"></script></head><body></body></html>"#,
        );
        write(
            root,
            "_astro/heavy.H1e2A3v4.js",
            r#"import{table}from"./heavy-lib.H9l8I7b6.js";console.log(table.length);"#,
        );
        write(root, "_astro/heavy-lib.H9l8I7b6.js", noise_module(12_000));
    } else {
        write(root, "heavy/index.html", "<!doctype html><p>light</p>");
    }
    let mut png = Vec::new();
    photo(320, 240)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    write(root, "img/photo.png", png);
    let mut jpeg = Vec::new();
    // Too small for WebP to save the 1 kB of the budgets.
    photo(16, 12)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    write(root, "img/bg.jpg", jpeg);
    if shape.picture {
        // Any bytes do for the file's existence; its size is not what is judged.
        write(root, "img/photo.webp", b"RIFF\0\0\0\0WEBP");
    }
}

fn budgets_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("budgets.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

/// `koprogo-perf audit --frontend TARGET --format json ARGS…`, on a blocking thread.
async fn audit(target: &str, extra: &[&str]) -> Output {
    let mut command = common::bin();
    command
        .args(["audit", "--frontend", target, "--format", "json"])
        .args(extra)
        .env_remove("DATABASE_URL");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn report(out: &Output) -> FrontendReport {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}):\n{}", text(out)))
}

fn check(report: &FrontendReport, id: Id) -> &koprogo_perf::audit::frontend::FrontendCheck {
    report
        .check(id)
        .unwrap_or_else(|| panic!("{id:?} was not checked: {:#?}", report.checks))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_shows_first_loads_lazy_chunks_and_webp_savings() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    build_frontend(
        &dist,
        Shape {
            heavy_page: true,
            picture: false,
        },
    );
    let budgets = budgets_file(tmp.path(), BUDGETS);
    let html = tmp.path().join("report.html");
    let out = audit(
        dist.to_str().unwrap(),
        &[
            "--budgets",
            budgets.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = report(&out);
    assert!(!r.served);
    let pages: Vec<&str> = r.analysis.pages.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(pages, ["/", "/heavy/"]);

    // The home page: its module and what that imports statically up front; the chart
    // behind import() and the island hydrated on visibility, lazily.
    let home = &r.analysis.pages[0];
    assert_eq!(
        home.first_load.scripts,
        [
            "/_astro/index.A1b2C3d4.js",
            "/_astro/runtime.R1r2R3r4.js",
            "/config.js"
        ]
    );
    assert_eq!(
        home.lazy.scripts,
        [
            "/_astro/Chart.C1h2A3r4.js",
            "/_astro/Map.M1a2P3s4.js",
            "/_astro/chart-lib.L1i2B3x4.js",
            "/_astro/client.C1l2I3e4.js"
        ]
    );
    assert_eq!(
        home.first_load.stylesheets,
        ["/_astro/Layout.L4y5O6u7.css", "/_astro/base.B1a2S3e4.css"]
    );
    let heavy = &r.analysis.pages[1];
    assert!(heavy.first_load.script.gzip > 2_000 && heavy.lazy.scripts.is_empty());

    // Every JavaScript and CSS file with three real sizes, the unused service worker too.
    let asset = |p: &str| {
        r.analysis
            .assets
            .iter()
            .find(|a| a.path == p)
            .unwrap_or_else(|| panic!("{p} not listed"))
    };
    let base = asset("/_astro/base.B1a2S3e4.css");
    assert_eq!(base.sizes.raw, 2_200);
    assert!(
        base.sizes.gzip < 200 && base.sizes.brotli < base.sizes.gzip,
        "{base:?}"
    );
    let sw = asset("/sw.js");
    assert_eq!(
        (sw.first_load_pages, sw.lazy_pages, sw.fingerprinted),
        (0, 0, false)
    );
    assert!(asset("/_astro/runtime.R1r2R3r4.js").fingerprinted);

    // Code splitting fails on the page that loads 6 kB up front and nothing lazily,
    // not on the home page, whose heavy chunk is lazy.
    let split = check(&r, Id::CodeSplitting);
    assert_eq!(split.status, Status::Fail, "{split:?}");
    assert!(
        split.evidence.contains("1 of 2 pages") && split.evidence.contains("/heavy/ "),
        "{split:?}"
    );
    // The chart library's 30 kB of numbers gzip to 15 kB, over the 10 kB a file; the
    // heavy page's 12 kB to 6 kB.
    let files = check(&r, Id::FileBudgets);
    assert_eq!(files.status, Status::Fail);
    assert!(
        files.evidence.contains("/_astro/chart-lib.L1i2B3x4.js"),
        "{files:?}"
    );
    assert!(!files.evidence.contains("heavy-lib"), "{files:?}");

    // The photo-like PNG: WebP measured smaller by encoding it.
    let png = r
        .analysis
        .images
        .iter()
        .find(|i| i.path == "/img/photo.png")
        .unwrap();
    assert!(
        png.webp > 0 && png.webp_saving > 1_000 && !png.webp_served,
        "{png:?}"
    );
    assert_eq!(png.webp_saving, png.bytes - png.webp);
    assert!(r.analysis.images.iter().any(|i| i.path == "/img/bg.jpg"));
    assert_eq!(check(&r, Id::WebpImages).status, Status::Fail);
    let picture = check(&r, Id::PictureWebp);
    assert_eq!(picture.status, Status::Fail);
    assert!(
        picture.evidence.contains("/img/photo.png on /"),
        "{picture:?}"
    );
    assert_eq!(check(&r, Id::BrokenReferences).status, Status::Pass);
    // A directory has no headers: no served-asset check is made.
    assert!(r.check(Id::Compression).is_none() && r.check(Id::Etag).is_none());

    // The HTML report: one page, the treemap a rectangle per JavaScript and CSS file.
    let page = std::fs::read_to_string(&html).unwrap();
    let doc = scraper::Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    let files = scraper::Selector::parse("#treemap svg g.file").unwrap();
    let bundles = r
        .analysis
        .assets
        .iter()
        .filter(|a| a.path.ends_with(".js") || a.path.ends_with(".css"))
        .count();
    assert_eq!(doc.select(&files).count(), bundles);
    assert!(
        !page.contains("<script") && !page.contains("src=\"http") && !page.contains("href=\"http"),
        "self-contained"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_front_end_with_pictures_passes_and_a_broken_one_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    build_frontend(
        &dist,
        Shape {
            heavy_page: false,
            picture: true,
        },
    );
    let budgets = budgets_file(tmp.path(), &roomy_budgets());
    let budgets = budgets.to_str().unwrap();
    let out = audit(dist.to_str().unwrap(), &["--budgets", budgets]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&out);
    assert!(
        r.checks.iter().all(|c| c.status == Status::Pass),
        "{:#?}",
        r.checks
    );
    assert!(
        r.analysis
            .images
            .iter()
            .find(|i| i.path == "/img/photo.png")
            .unwrap()
            .webp_served
    );

    // A referenced file that is not there fails, naming it and who referenced it.
    // So does a link to a page the build does not have.
    std::fs::remove_file(dist.join("_astro/runtime.R1r2R3r4.js")).unwrap();
    let index = std::fs::read_to_string(dist.join("index.html")).unwrap();
    std::fs::write(
        dist.join("index.html"),
        index.replace("</body>", r#"<a href="/forgot-password">?</a></body>"#),
    )
    .unwrap();
    let out = audit(dist.to_str().unwrap(), &["--budgets", budgets]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let broken = check(&report(&out), Id::BrokenReferences).clone();
    assert_eq!(broken.status, Status::Fail);
    assert!(
        broken
            .evidence
            .contains("/_astro/runtime.R1r2R3r4.js (not found, from /_astro/index.A1b2C3d4.js)"),
        "{broken:?}"
    );
    assert!(
        broken
            .evidence
            .contains("/forgot-password (not found, from /)"),
        "{broken:?}"
    );
}

/// How the test server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Serving {
    /// Files as they are: no compression, no Cache-Control, no validator.
    Bare,
    /// brotli or gzip as asked, a year's Cache-Control on fingerprinted files (with
    /// immutable unless `immutable` is false), an ETag and 304 on If-None-Match.
    Tuned { immutable: bool },
    /// As KoproGo's nginx.conf: gzip, and on every .js, .css and image `expires 1y`
    /// and `add_header Cache-Control "public, immutable"` — two Cache-Control fields,
    /// on hashed and unhashed files alike.
    LikeNginxConf,
}

#[derive(Clone)]
struct Files {
    root: PathBuf,
    serving: Serving,
}

async fn serve_file(State(files): State<Files>, request: Request<Body>) -> Response<Body> {
    let path = request.uri().path().to_string();
    let rel = path.trim_start_matches('/');
    let file = if rel.is_empty() || rel.ends_with('/') {
        files.root.join(rel).join("index.html")
    } else {
        files.root.join(rel)
    };
    if rel.split('/').any(|p| p == "..") {
        return Response::builder().status(400).body(Body::empty()).unwrap();
    }
    // A folder asked without its slash is redirected, as static servers do.
    if !rel.is_empty() && !rel.ends_with('/') && file.is_dir() {
        return Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, format!("/{rel}/"))
            .body(Body::empty())
            .unwrap();
    }
    let Ok(bytes) = std::fs::read(&file) else {
        return Response::builder()
            .status(404)
            .body(Body::from("not found"))
            .unwrap();
    };
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        _ => "application/octet-stream",
    };
    let mut response = Response::builder().header(header::CONTENT_TYPE, kind);
    let immutable = match files.serving {
        Serving::Bare => return response.body(Body::from(bytes)).unwrap(),
        Serving::Tuned { immutable } => immutable,
        Serving::LikeNginxConf => true,
    };
    let etag = format!(
        "\"{:x}\"",
        bytes.len() * 31 + bytes.iter().map(|&b| b as usize).sum::<usize>()
    );
    let headers: &HeaderMap = request.headers();
    let name = file.file_name().unwrap().to_string_lossy();
    let fingerprinted = name.matches('.').count() >= 2;
    response = response.header(header::ETAG, &etag);
    if files.serving == Serving::LikeNginxConf {
        if !kind.starts_with("text/html") {
            response = response
                .header(header::CACHE_CONTROL, "max-age=31536000")
                .header(header::CACHE_CONTROL, "public, immutable");
        }
    } else {
        response = response.header(
            header::CACHE_CONTROL,
            match (fingerprinted, immutable) {
                (true, true) => "public, max-age=31536000, immutable",
                (true, false) => "public, max-age=31536000",
                (false, _) => "no-cache",
            },
        );
    }
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == etag.as_str())
    {
        return response
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap();
    }
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if kind.starts_with("text/") && bytes.len() >= 1024 {
        if accept.contains("br") && files.serving != Serving::LikeNginxConf {
            let mut out = Vec::new();
            brotli::CompressorWriter::new(&mut out, 4096, 5, 22)
                .write_all(&bytes)
                .unwrap();
            return response
                .header(header::CONTENT_ENCODING, "br")
                .body(Body::from(out))
                .unwrap();
        }
        if accept.contains("gzip") {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&bytes).unwrap();
            let out = e.finish().unwrap();
            return response
                .header(header::CONTENT_ENCODING, "gzip")
                .body(Body::from(out))
                .unwrap();
        }
    }
    response.body(Body::from(bytes)).unwrap()
}

/// Serves `root` on a free loopback port until the returned sender is dropped.
async fn serve(root: &Path, serving: Serving) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(serve_file).with_state(Files {
        root: root.to_path_buf(),
        serving,
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (url, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_front_end_is_judged_by_its_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    build_frontend(
        &dist,
        Shape {
            heavy_page: false,
            picture: true,
        },
    );
    let budgets = budgets_file(tmp.path(), &roomy_budgets());
    let budgets = budgets.to_str().unwrap();

    // Bare: nothing compressed, nothing cacheable, no ETag.
    let (url, stop) = serve(&dist, Serving::Bare).await;
    let out = audit(&url, &["--budgets", budgets]).await;
    drop(stop);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = report(&out);
    assert!(r.served);
    // The crawl found the second page through the home page's link, and names it
    // where the server's redirect led (/heavy → /heavy/).
    let pages: Vec<&str> = r.analysis.pages.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(pages, ["/", "/heavy/"]);
    let compression = check(&r, Id::Compression);
    assert_eq!(compression.status, Status::Fail);
    assert!(
        compression.evidence.contains("sent uncompressed"),
        "{compression:?}"
    );
    assert!(
        compression
            .evidence
            .contains("/_astro/chart-lib.L1i2B3x4.js"),
        "{compression:?}"
    );
    let caching = check(&r, Id::FingerprintedCaching);
    assert_eq!(caching.status, Status::Fail);
    assert!(
        caching.evidence.contains("(no Cache-Control)"),
        "{caching:?}"
    );
    assert_eq!(check(&r, Id::Etag).status, Status::Fail);
    // The lazy chunk was found over HTTP too.
    assert!(
        r.analysis.pages[0]
            .lazy
            .scripts
            .contains(&"/_astro/chart-lib.L1i2B3x4.js".to_string())
    );

    // Tuned but without immutable: only the caching check fails, naming what lacks.
    let (url, stop) = serve(&dist, Serving::Tuned { immutable: false }).await;
    let out = audit(&url, &["--budgets", budgets]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = report(&out);
    let caching = check(&r, Id::FingerprintedCaching);
    assert_eq!(caching.status, Status::Fail);
    assert!(caching.evidence.contains("(no immutable)"), "{caching:?}");
    assert!(
        !caching.evidence.contains(" < "),
        "max-age is long enough: {caching:?}"
    );
    let failed: Vec<Id> = r
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.id)
        .collect();
    assert_eq!(failed, [Id::FingerprintedCaching]);
    let chart = r
        .analysis
        .assets
        .iter()
        .find(|a| a.path == "/_astro/chart-lib.L1i2B3x4.js")
        .unwrap();
    let served = chart.served.as_ref().unwrap();
    assert_eq!(served.content_encoding.as_deref(), Some("br"));
    assert!(served.bytes_sent < chart.sizes.raw / 2, "{served:?}");
    assert_eq!(served.revalidated, Some(304));
    drop(stop);

    // Tuned: every check passes, exit 0.
    let (url, stop) = serve(&dist, Serving::Tuned { immutable: true }).await;
    let out = audit(&url, &["--budgets", budgets]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // KoproGo's nginx.conf: the hashed files pass on its two Cache-Control fields read
    // as one, but config.js, without a hash, is cached immutable for a year too.
    let (nginx_url, nginx) = serve(&dist, Serving::LikeNginxConf).await;
    let out = audit(&nginx_url, &["--budgets", budgets]).await;
    drop(nginx);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = report(&out);
    let caching = check(&r, Id::FingerprintedCaching);
    assert_eq!(caching.status, Status::Fail);
    assert!(
        !caching
            .evidence
            .contains("fingerprinted files are not cached"),
        "{caching:?}"
    );
    assert!(
        caching.evidence.contains(
            "4 files without a content hash cached like fingerprinted ones, so a new deploy \
             never reaches returning visitors"
        ) && caching
            .evidence
            .contains("/config.js (Cache-Control: max-age=31536000, public, immutable)"),
        "{caching:?}"
    );
    let compression = check(&r, Id::Compression);
    assert_eq!(compression.status, Status::Pass, "{compression:?}");
    assert!(
        compression.evidence.contains(": 0 br, 2 gzip"),
        "{compression:?}"
    );

    // Nothing failed but no file is recognised as fingerprinted: "not checked", exit 2.
    let never = budgets_file(
        tmp.path(),
        &format!("{}\n[caching]\nfingerprint = '^never$'\n", roomy_budgets()),
    );
    let out = audit(&url, &["--budgets", never.to_str().unwrap()]).await;
    drop(stop);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        check(&report(&out), Id::FingerprintedCaching).status,
        Status::NotChecked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_audited_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    build_frontend(
        &dist,
        Shape {
            heavy_page: false,
            picture: false,
        },
    );
    let one_line = |out: &Output| {
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{}", text(out));
        assert!(out.stdout.is_empty(), "{}", text(out));
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        err
    };
    let bad = budgets_file(tmp.path(), "[code_splitting]\ninitial_js = \"lots\"\n");
    let err = one_line(
        &audit(
            dist.to_str().unwrap(),
            &["--budgets", bad.to_str().unwrap()],
        )
        .await,
    );
    assert!(
        err.contains("budgets.toml:2: code_splitting.initial_js: `lots` is not a size"),
        "{err}"
    );
    let err = one_line(&audit(tmp.path().join("nope").to_str().unwrap(), &[]).await);
    assert!(
        err.contains("--frontend") && err.contains("npm run build"),
        "{err}"
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = one_line(&audit(empty.to_str().unwrap(), &[]).await);
    assert!(err.contains("holds no HTML page"), "{err}");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = one_line(&audit(&format!("http://127.0.0.1:{port}/"), &[]).await);
    assert!(
        err.contains("cannot reach") && err.contains("refused"),
        "{err}"
    );
    // A URL with credentials is refused, its password never shown.
    let err = one_line(&audit("http://u:s3cret@127.0.0.1:9/", &[]).await);
    assert!(
        err.contains("carries credentials") && !err.contains("s3cret"),
        "{err}"
    );
    // An --html whose folder does not exist, before anything is read.
    let nowhere = tmp.path().join("no/such/report.html");
    let err = one_line(
        &audit(
            dist.to_str().unwrap(),
            &["--html", nowhere.to_str().unwrap()],
        )
        .await,
    );
    assert!(
        err.contains("--html") && err.contains("does not exist"),
        "{err}"
    );
    // --url and --frontend are one audit or the other.
    let both = common::bin()
        .args([
            "audit",
            "--url",
            "http://127.0.0.1:1",
            "--frontend",
            dist.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    one_line(&both);
    // The API's own flags have no meaning for a front end: refused, not ignored.
    let login = common::bin()
        .args([
            "audit",
            "--frontend",
            dist.to_str().unwrap(),
            "--login",
            "a@b.be:pw",
        ])
        .output()
        .unwrap();
    assert!(one_line(&login).contains("cannot be used with '--login"));
    // The shipped budgets by name.
    let out = audit(dist.to_str().unwrap(), &["--budgets", "frontend-budgets"]).await;
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    assert!(report(&out).budgets.ends_with("frontend-budgets.toml"));
}
