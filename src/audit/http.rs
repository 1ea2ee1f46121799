//! The audit's HTTP checks: gzip, caching headers and keep-alive (the pool under a
//! burst is [`super::burst`]). Each sends GETs only (and [`Session::open`] one login);
//! what the server answered is judged by pure functions, unit-tested below.
//!
//! Requests go out without reqwest's automatic decompression (`no_gzip`): reqwest's
//! `gzip` feature is on in this build (goose enables it), and it would otherwise add
//! `Accept-Encoding: gzip` to every request and strip `Content-Encoding` from the
//! answer, hiding exactly what the gzip check looks for.

use std::io::Read;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONNECTION, CONTENT_ENCODING, ETAG, HeaderMap,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use serde_json::Value;

use super::{CannotAudit, Check, CheckId, Status, root_cause, thousands};
use crate::load::Login;

/// Smallest body the gzip check judges: below it a server may rightly send it as is
/// (the reference server's and Traefik's threshold; nginx's default is lower).
pub const GZIP_MIN_BODY: usize = 1024;

/// The lists tried for the gzip check, largest first: the PCMN chart (about a hundred
/// accounts), then a page of buildings.
const GZIP_PATHS: &[&str] = &["/api/v1/accounts", "/api/v1/buildings?per_page=100"];

/// The API, logged in. Holds the token; no `Debug`, so it is never printed.
pub struct Session {
    base: String,
    client: reqwest::Client,
    token: String,
    timeout: Duration,
}

/// A client that neither asks for nor undoes compression.
fn identity_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_gzip()
        .timeout(timeout)
        .user_agent(concat!("koprogo-perf-audit/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl Session {
    /// Checks that `base` answers `GET /api/v1/health`, then logs in as `login`.
    pub async fn open(
        base: &str,
        login: &Login,
        timeout: Duration,
    ) -> Result<Session, CannotAudit> {
        let unreachable = |e: reqwest::Error| CannotAudit::Unreachable {
            url: crate::redact::redact(base),
            detail: if e.is_timeout() {
                format!("no answer within {} s", timeout.as_secs_f64())
            } else {
                root_cause(&e)
            },
        };
        let client = identity_client(timeout).map_err(unreachable)?;
        let health = client
            .get(format!("{base}/api/v1/health"))
            .send()
            .await
            .map_err(unreachable)?;
        if !health.status().is_success() {
            return Err(CannotAudit::NotAnApi {
                url: crate::redact::redact(base),
                status: health.status().as_u16(),
            });
        }
        let (status, token) = crate::load::post_login(&client, base, login)
            .await
            .map_err(unreachable)?;
        match token {
            Some(token) if status.is_success() => Ok(Session {
                base: base.to_string(),
                client,
                token,
                timeout,
            }),
            _ => Err(CannotAudit::Login {
                url: crate::redact::redact(base),
                email: login.email.clone(),
                detail: format!("HTTP {status}"),
            }),
        }
    }

    /// The bearer token (for callers that drive a check on their own, as tests do).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The API's base URL, as given.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// The per-request timeout.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// An authenticated GET of `path` (origin-relative).
    pub(super) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// gzip: the first list of at least [`GZIP_MIN_BODY`] bytes, asked for with
    /// `Accept-Encoding: gzip`, must come back gzipped.
    pub async fn gzip(&self) -> Check {
        let mut unjudged = Vec::new();
        for path in GZIP_PATHS {
            let response = match self.get(path).header(ACCEPT_ENCODING, "gzip").send().await {
                Ok(r) => r,
                Err(e) => {
                    return Check::not_checked(
                        CheckId::Gzip,
                        format!("GET {path}: {}", describe(&e)),
                    );
                }
            };
            let status = response.status();
            let encoding = header(response.headers(), CONTENT_ENCODING);
            let body = match response.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    return Check::not_checked(
                        CheckId::Gzip,
                        format!("GET {path}: {}", describe(&e)),
                    );
                }
            };
            if !status.is_success() {
                unjudged.push(format!("{path}: HTTP {}", status.as_u16()));
                continue;
            }
            match judge_gzip(path, encoding.as_deref(), &body) {
                Some(check) => return check,
                None => unjudged.push(format!("{path}: {} B", thousands(body.len() as u64))),
            }
        }
        Check::not_checked(
            CheckId::Gzip,
            format!(
                "no list of {} B or more to judge by ({})",
                thousands(GZIP_MIN_BODY as u64),
                unjudged.join(", ")
            ),
        )
    }

    /// Caching headers on the cacheable GETs: the PCMN accounts and one building.
    pub async fn caching_headers(&self) -> Check {
        let mut paths = vec!["/api/v1/accounts".to_string()];
        let mut notes = Vec::new();
        match self.first_building().await {
            Ok(Some(id)) => paths.push(format!("/api/v1/buildings/{id}")),
            Ok(None) => notes.push("GET /api/v1/buildings: no building to fetch".to_string()),
            Err(e) => notes.push(format!("GET /api/v1/buildings: {e}")),
        }
        let mut results = Vec::new();
        for path in &paths {
            results.push(self.cacheable(path).await);
        }
        let status = if results.iter().any(|(s, _)| *s == Status::Fail) {
            Status::Fail
        } else if results.iter().all(|(s, _)| *s == Status::Pass) && notes.is_empty() {
            Status::Pass
        } else {
            Status::NotChecked
        };
        let evidence: Vec<String> = results.into_iter().map(|(_, e)| e).chain(notes).collect();
        Check::new(CheckId::CachingHeaders, status, evidence.join("; "))
    }

    /// The id of the first building of the user's organization.
    async fn first_building(&self) -> Result<Option<String>, String> {
        let response = self
            .get("/api/v1/buildings?per_page=1")
            .send()
            .await
            .map_err(|e| describe(&e))?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let body: Value = response.json().await.map_err(|e| describe(&e))?;
        Ok(body["data"]
            .get(0)
            .and_then(|b| b.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string))
    }

    /// One cacheable GET, then the same made conditional on what it answered.
    async fn cacheable(&self, path: &str) -> (Status, String) {
        let first = match self.get(path).send().await {
            Ok(r) => r,
            Err(e) => return (Status::NotChecked, format!("GET {path}: {}", describe(&e))),
        };
        if first.status() != StatusCode::OK {
            return (
                Status::NotChecked,
                format!("GET {path}: HTTP {}", first.status().as_u16()),
            );
        }
        let headers = first.headers().clone();
        let _ = first.bytes().await;
        let validator = validator(&headers);
        let cache_control = header(&headers, CACHE_CONTROL);
        let conditional = match &validator {
            Some((name, value)) => {
                let condition = if *name == "ETag" {
                    IF_NONE_MATCH
                } else {
                    IF_MODIFIED_SINCE
                };
                match self.get(path).header(condition, value).send().await {
                    Ok(r) => Some(r.status().as_u16()),
                    Err(e) => {
                        return (
                            Status::NotChecked,
                            format!("GET {path} (conditional): {}", describe(&e)),
                        );
                    }
                }
            }
            None => None,
        };
        judge_cacheable(
            path,
            validator.as_ref().map(|(n, v)| (*n, v.as_str())),
            cache_control.as_deref(),
            conditional,
        )
    }
}

/// A header's value as text (lossy, for evidence).
fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The response's validator: its ETag, else its Last-Modified.
fn validator(headers: &HeaderMap) -> Option<(&'static str, String)> {
    header(headers, ETAG)
        .map(|v| ("ETag", v))
        .or_else(|| header(headers, LAST_MODIFIED).map(|v| ("Last-Modified", v)))
}

/// A request error in a few words.
pub(super) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else {
        root_cause(e)
    }
}

/// Judges one list asked for with `Accept-Encoding: gzip`. `None` when the body is too
/// small to expect compression (and was sent as is).
pub fn judge_gzip(path: &str, encoding: Option<&str>, body: &[u8]) -> Option<Check> {
    let sent = thousands(body.len() as u64);
    match encoding.map(str::trim) {
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            let mut decoded = Vec::new();
            Some(
                match flate2::read::GzDecoder::new(body).read_to_end(&mut decoded) {
                    Ok(_) => Check::pass(
                        CheckId::Gzip,
                        format!(
                            "GET {path}: Content-Encoding: gzip, {sent} B sent for {} B of JSON \
                             ({:.1}×)",
                            thousands(decoded.len() as u64),
                            decoded.len() as f64 / body.len().max(1) as f64
                        ),
                    ),
                    Err(e) => Check::fail(
                        CheckId::Gzip,
                        format!(
                            "GET {path}: Content-Encoding: gzip, but the body is not gzip ({e})"
                        ),
                    ),
                },
            )
        }
        Some(e) if !e.is_empty() && !e.eq_ignore_ascii_case("identity") => Some(Check::fail(
            CheckId::Gzip,
            format!("GET {path}: Content-Encoding: {e}, though only gzip was accepted"),
        )),
        _ if body.len() >= GZIP_MIN_BODY => Some(Check::fail(
            CheckId::Gzip,
            format!(
                "GET {path} with Accept-Encoding: gzip: {sent} B sent uncompressed (no \
                 Content-Encoding)"
            ),
        )),
        _ => None,
    }
}

/// A long entity tag shortened for the table: `"0a1b2c3d…"`.
fn short_tag(tag: &str) -> String {
    if tag.chars().count() <= 16 {
        tag.to_string()
    } else {
        let head: String = tag.chars().take(12).collect();
        format!("{head}…\"")
    }
}

/// Judges one cacheable GET: a validator (`ETag` or `Last-Modified`) and
/// `Cache-Control` that allows keeping it, and `conditional`, the status of the same
/// request made conditional on the validator, a 304.
pub fn judge_cacheable(
    path: &str,
    validator: Option<(&str, &str)>,
    cache_control: Option<&str>,
    conditional: Option<u16>,
) -> (Status, String) {
    let mut seen = Vec::new();
    let mut wrong = Vec::new();
    match validator {
        Some((name, value)) => seen.push(format!("{name} {}", short_tag(value))),
        None => wrong.push("no ETag or Last-Modified".to_string()),
    }
    match cache_control {
        Some(cc) if cc.to_ascii_lowercase().contains("no-store") => {
            wrong.push(format!("Cache-Control: {cc} forbids keeping it"))
        }
        Some(cc) => seen.push(format!("Cache-Control: {cc}")),
        None => wrong.push("no Cache-Control".to_string()),
    }
    if let (Some((name, _)), Some(status)) = (validator, conditional) {
        let condition = if name == "ETag" {
            "If-None-Match"
        } else {
            "If-Modified-Since"
        };
        if status == 304 {
            seen.push(format!("{condition} → 304"));
        } else {
            wrong.push(format!("{condition} → {status}, not 304"));
        }
    }
    if wrong.is_empty() {
        (Status::Pass, format!("GET {path}: {}", seen.join(", ")))
    } else {
        (Status::Fail, format!("GET {path}: {}", wrong.join(", ")))
    }
}

/// HTTP keep-alive: two `GET /api/v1/health` on one TCP connection. Plain HTTP/1.1
/// through hyper's connection API, so that the connection is ours to watch; an https
/// URL is not checked (audit the backend's http:// address behind the proxy).
pub async fn keep_alive(base: &str, timeout: Duration) -> Check {
    let url = match reqwest::Url::parse(base) {
        Ok(u) => u,
        Err(e) => {
            return Check::not_checked(
                CheckId::KeepAlive,
                format!("{}: {e}", crate::redact::redact(base)),
            );
        }
    };
    if url.scheme() != "http" {
        return Check::not_checked(
            CheckId::KeepAlive,
            format!(
                "{}:// is not checked: this check speaks plain HTTP/1.1 on one TCP \
                 connection; audit the backend's http:// address",
                url.scheme()
            ),
        );
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Check::not_checked(
            CheckId::KeepAlive,
            format!("{}: no host", crate::redact::redact(base)),
        );
    };
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let path = format!("{}/api/v1/health", url.path().trim_end_matches('/'));
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    // Two requests and the connection: a bound for the whole exchange.
    match tokio::time::timeout(timeout * 3, two_requests(&host, port, &authority, &path)).await {
        Ok(Ok(exchange)) => exchange.check(&path),
        Ok(Err(e)) => Check::not_checked(CheckId::KeepAlive, format!("GET {path}: {e}")),
        Err(_) => Check::fail(
            CheckId::KeepAlive,
            format!(
                "GET {path} twice on one connection: no answer within {} s",
                (timeout * 3).as_secs_f64()
            ),
        ),
    }
}

/// What two requests on one connection gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The server's address.
    pub peer: String,
    /// Status of the first answer.
    pub first: u16,
    /// Its `Connection` header.
    pub first_connection: Option<String>,
    /// Status of the second answer on the same connection, or why there was none.
    pub second: Result<u16, String>,
}

impl Exchange {
    /// Pass when both were answered and the first did not announce the connection's end.
    pub fn check(&self, path: &str) -> Check {
        let closes = self
            .first_connection
            .as_deref()
            .is_some_and(|c| c.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
        match &self.second {
            Ok(second) if !closes => Check::pass(
                CheckId::KeepAlive,
                format!(
                    "GET {path} twice on one TCP connection to {}: {} then {}, no Connection: close",
                    self.peer, self.first, second
                ),
            ),
            Ok(second) => Check::fail(
                CheckId::KeepAlive,
                format!(
                    "GET {path} on {}: {} with Connection: close (second request: {second})",
                    self.peer, self.first
                ),
            ),
            Err(e) => Check::fail(
                CheckId::KeepAlive,
                format!(
                    "GET {path} on {}: {}{}, then the connection was closed ({e})",
                    self.peer,
                    self.first,
                    if closes {
                        " with Connection: close"
                    } else {
                        ""
                    }
                ),
            ),
        }
    }
}

async fn two_requests(
    host: &str,
    port: u16,
    authority: &str,
    path: &str,
) -> Result<Exchange, String> {
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let peer = stream
        .peer_addr()
        .map_or_else(|_| format!("{host}:{port}"), |a| a.to_string());
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, String>(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    // The connection's I/O runs on its own task until either side closes it; aborted on
    // the way out, whatever happened.
    let driver = AbortOnDrop(tokio::spawn(connection));
    let request = || {
        axum::http::Request::get(path)
            .header(axum::http::header::HOST, authority)
            .header(axum::http::header::USER_AGENT, "koprogo-perf-audit")
            .body(String::new())
            .expect("a valid request")
    };
    let first = sender
        .send_request(request())
        .await
        .map_err(|e| e.to_string())?;
    let first_status = first.status().as_u16();
    let first_connection = first
        .headers()
        .get(CONNECTION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    // Read the whole body, so that the connection is free for the next request.
    axum::body::to_bytes(axum::body::Body::new(first.into_body()), 1 << 20)
        .await
        .map_err(|e| e.to_string())?;
    let second = match sender.ready().await {
        Ok(()) => match sender.send_request(request()).await {
            Ok(r) => Ok(r.status().as_u16()),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    drop(driver);
    Ok(Exchange {
        peer,
        first: first_status,
        first_connection,
        second,
    })
}

/// Aborts a task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzipped(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_is_judged_on_large_bodies_only() {
        let json = format!("[{}]", vec!["{\"code\":\"6000\"}"; 200].join(","));
        let check =
            judge_gzip("/api/v1/accounts", Some("gzip"), &gzipped(json.as_bytes())).unwrap();
        assert_eq!(check.status, Status::Pass);
        assert!(
            check
                .evidence
                .starts_with("GET /api/v1/accounts: Content-Encoding: gzip, ")
                && check.evidence.contains(" B sent for 3,201 B of JSON ("),
            "{}",
            check.evidence
        );
        let plain = judge_gzip("/api/v1/accounts", None, json.as_bytes()).unwrap();
        assert_eq!(plain.status, Status::Fail);
        assert_eq!(
            plain.evidence,
            "GET /api/v1/accounts with Accept-Encoding: gzip: 3,201 B sent uncompressed (no Content-Encoding)"
        );
        assert!(
            judge_gzip("/x", None, b"[]").is_none(),
            "too small to judge"
        );
        assert!(judge_gzip("/x", Some("identity"), b"[]").is_none());
        let br = judge_gzip("/x", Some("br"), b"...").unwrap();
        assert_eq!(br.status, Status::Fail);
        assert!(br.evidence.contains("Content-Encoding: br"));
        let broken = judge_gzip("/x", Some("gzip"), b"not gzip at all").unwrap();
        assert_eq!(broken.status, Status::Fail);
    }

    #[test]
    fn caching_needs_a_validator_cache_control_and_a_304() {
        let tag = "\"0123456789abcdef0123456789abcdef\"";
        let (status, evidence) = judge_cacheable(
            "/api/v1/accounts",
            Some(("ETag", tag)),
            Some("private, no-cache"),
            Some(304),
        );
        assert_eq!(status, Status::Pass);
        assert_eq!(
            evidence,
            "GET /api/v1/accounts: ETag \"0123456789a…\", Cache-Control: private, no-cache, If-None-Match → 304"
        );
        let (status, evidence) = judge_cacheable("/api/v1/accounts", None, None, None);
        assert_eq!(status, Status::Fail);
        assert_eq!(
            evidence,
            "GET /api/v1/accounts: no ETag or Last-Modified, no Cache-Control"
        );
        let (status, evidence) = judge_cacheable(
            "/b",
            Some(("Last-Modified", "Tue, 01 Jul 2025 10:00:00 GMT")),
            Some("no-store"),
            Some(200),
        );
        assert_eq!(status, Status::Fail);
        assert_eq!(
            evidence,
            "GET /b: Cache-Control: no-store forbids keeping it, If-Modified-Since → 200, not 304"
        );
    }

    #[test]
    fn keep_alive_needs_two_answers_without_close() {
        let exchange = |connection: Option<&str>, second: Result<u16, String>| Exchange {
            peer: "127.0.0.1:8080".into(),
            first: 200,
            first_connection: connection.map(str::to_string),
            second,
        };
        let ok = exchange(None, Ok(200)).check("/api/v1/health");
        assert_eq!(ok.status, Status::Pass);
        assert_eq!(
            ok.evidence,
            "GET /api/v1/health twice on one TCP connection to 127.0.0.1:8080: 200 then 200, no Connection: close"
        );
        assert_eq!(
            exchange(Some("keep-alive"), Ok(200)).check("/h").status,
            Status::Pass
        );
        let closed = exchange(Some("close"), Err("connection closed".into())).check("/h");
        assert_eq!(closed.status, Status::Fail);
        assert_eq!(
            closed.evidence,
            "GET /h on 127.0.0.1:8080: 200 with Connection: close, then the connection was closed (connection closed)"
        );
        assert_eq!(
            exchange(Some("Close"), Ok(200)).check("/h").status,
            Status::Fail
        );
    }
}
