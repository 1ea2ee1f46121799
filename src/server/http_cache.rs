//! The `http_cache_headers` switch: `ETag` and `Cache-Control` on the cacheable GETs
//! (PCMN accounts, a building), and `304 Not Modified` when the client's
//! `If-None-Match` names the current tag.
//!
//! The tag is a strong validator: a hash of the exact JSON bytes, so that any change
//! of the data changes it. `Cache-Control: private, no-cache`: the data is a tenant's,
//! so no shared cache may keep it (`private`), and a browser revalidates on every use
//! (`no-cache`), so that a changed account shows at once while an unchanged one costs
//! a bodiless 304.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;

/// `Cache-Control` of every cacheable response.
pub const CACHE_CONTROL: &str = "private, no-cache";

/// A strong entity tag for `body`: the first 128 bits of its SHA-256, quoted.
pub fn etag_of(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &digest[..16] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag.push('"');
    HeaderValue::from_str(&tag).expect("hex digits and quotes are a valid header value")
}

/// True when `If-None-Match` names `etag` (weak comparison, as RFC 9110 prescribes
/// for this header) or is `*`.
pub fn none_match_hits(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = opaque(etag.as_bytes());
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag.as_bytes()) == ours)
}

/// The quoted part of an entity tag, without the weak prefix.
fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// A JSON value serialized once, ready to answer with.
#[derive(Clone, Debug)]
pub struct JsonBody {
    pub bytes: Bytes,
    /// Its tag, when computed ahead (the account cache does, once per load).
    pub etag: Option<HeaderValue>,
}

impl JsonBody {
    /// Serializes `value`.
    pub fn of<T: Serialize>(value: &T) -> Result<Self, ApiError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("serializing JSON")))?;
        Ok(Self {
            bytes: Bytes::from(bytes),
            etag: None,
        })
    }

    /// Serializes `value` and computes its tag.
    pub fn tagged<T: Serialize>(value: &T) -> Result<Self, ApiError> {
        let mut body = Self::of(value)?;
        body.etag = Some(etag_of(&body.bytes));
        Ok(body)
    }
}

/// Answers a cacheable GET with `body`: a plain 200 when the switch is off; otherwise
/// with `ETag` and `Cache-Control`, and a bodiless 304 when `request` already holds
/// this version.
pub fn respond(state: &AppState, request: &HeaderMap, body: JsonBody) -> Response {
    let json = HeaderValue::from_static("application/json");
    if !state.config.http_cache_headers {
        return ([(header::CONTENT_TYPE, json)], body.bytes).into_response();
    }
    let etag = body.etag.unwrap_or_else(|| etag_of(&body.bytes));
    let cache_control = HeaderValue::from_static(CACHE_CONTROL);
    if none_match_hits(request, &etag) {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag);
        headers.insert(header::CACHE_CONTROL, cache_control);
        return response;
    }
    (
        [
            (header::CONTENT_TYPE, json),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache_control),
        ],
        body.bytes,
    )
        .into_response()
}

/// Makes the tag of a compressed response weak (`W/"…"`), as nginx does: a strong
/// tag promises byte-identical bodies, and the gzip and identity bodies differ.
/// `If-None-Match` compares weakly, so either form still earns a 304.
pub async fn weaken_encoded_etag(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_ENCODING) {
        return response;
    }
    if let Some(tag) = headers.get(header::ETAG)
        && tag.as_bytes().first() == Some(&b'"')
    {
        let mut weak = b"W/".to_vec();
        weak.extend_from_slice(tag.as_bytes());
        if let Ok(weak) = HeaderValue::from_bytes(&weak) {
            headers.insert(header::ETAG, weak);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(if_none_match: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in if_none_match {
            headers.append(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn tags_are_strong_hashes_of_the_bytes() {
        let a = etag_of(b"[1,2]");
        assert_eq!(a, etag_of(b"[1,2]"));
        assert_ne!(a, etag_of(b"[1,3]"));
        let text = a.to_str().unwrap();
        assert_eq!(text.len(), 34);
        assert!(text.starts_with('"') && text.ends_with('"'));
    }

    #[test]
    fn if_none_match_compares_weakly_and_lists() {
        let tag = etag_of(b"x");
        let text = tag.to_str().unwrap().to_string();
        assert!(none_match_hits(&request(&[&text]), &tag));
        assert!(none_match_hits(&request(&[&format!("W/{text}")]), &tag));
        assert!(none_match_hits(
            &request(&[&format!("\"other\", {text}")]),
            &tag
        ));
        assert!(none_match_hits(&request(&["\"a\"", &text]), &tag));
        assert!(none_match_hits(&request(&["*"]), &tag));
        assert!(!none_match_hits(&request(&[]), &tag));
        assert!(!none_match_hits(&request(&["\"other\""]), &tag));
        // The tag without its quotes is another tag.
        assert!(!none_match_hits(&request(&[text.trim_matches('"')]), &tag));
    }
}
