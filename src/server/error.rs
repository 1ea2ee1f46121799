//! API errors and their HTTP form, `{"error": "..."}`, plus the extractors that turn
//! axum's rejections (bad JSON, bad path, bad query) into the same form.
//!
//! A client's mistake is always a 4xx; a database that is overloaded, down or
//! restarting is a 503 with `Retry-After`; any other database failure the client did
//! not cause is a 500. No body names anything (no SQL, no driver message): a 500's
//! detail goes to the server's stderr only.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Seconds a client is told to wait after a 503.
const RETRY_AFTER_SECS: &str = "1";

/// Everything a handler can fail with, each kind with its status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a value is out of range.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no token, or an invalid or expired one, or wrong credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: authenticated, but the role may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: no such resource in the caller's organization.
    #[error("{0}")]
    NotFound(&'static str),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the body is over axum's limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: a JSON body without `Content-Type: application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 with `Retry-After` (seconds): over KoproGo's login limit
    /// ([`crate::server::limiter`]); KoproGo's body, with `retry_after`.
    #[error("Too many login attempts. Please try again later.")]
    TooManyLogins {
        /// Seconds until the client's window ends.
        retry_after: u64,
    },
    /// 503 with `Retry-After`: no pooled connection within the acquire timeout, the
    /// database out of resources, or the database unreachable, shutting down,
    /// crashed or restarting (the client may retry; nothing is its fault).
    #[error("the database is overloaded or unavailable, retry later")]
    Unavailable,
    /// 500: a database failure the client did not cause.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// 500: anything else that should not happen.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyLogins { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Shorthand for a 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// Maps an extractor rejection: size and media-type problems keep their status,
    /// every other one (syntax, types, unknown enum values, bad UUIDs) is a 400.
    fn from_rejection(status: StatusCode, text: String) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge(text),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType(text),
            _ => Self::BadRequest(text),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    /// Sorts database errors into the client's fault (4xx), overload (503) and the
    /// server's fault (500), by SQLSTATE.
    fn from(error: sqlx::Error) -> Self {
        let code = match &error {
            // No connection in time (overload, or a database that is down), a pool
            // closed at shutdown, a connection refused or reset (the database died or
            // restarts): the client may retry.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => {
                return Self::Unavailable;
            }
            sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        };
        let Some(code) = code else {
            return Self::Database(error);
        };
        match code.as_str() {
            // KoproGo answers every failed create or update with a 400 naming why
            // (its handlers map the use case's error so), a taken key included.
            "23505" => Self::bad_request(conflict_message(&error)),
            "23503" => Self::bad_request("a referenced row does not exist"),
            "23502" | "23514" => Self::bad_request("a value violates a constraint of the schema"),
            // Class 22, data exception: a value the column cannot hold.
            c if c.starts_with("22") => Self::bad_request("a value cannot be stored as given"),
            // Class 53, insufficient resources (e.g. too many connections); query
            // canceled by statement_timeout; serialization failure; deadlock.
            c if c.starts_with("53") || matches!(c, "57014" | "40001" | "40P01") => {
                Self::Unavailable
            }
            // 57P01 admin shutdown (also a backend whose postmaster died), 57P02 crash
            // shutdown, 57P03 cannot connect now (starting up, recovering); class 08,
            // connection exception.
            c if matches!(c, "57P01" | "57P02" | "57P03") || c.starts_with("08") => {
                Self::Unavailable
            }
            _ => Self::Database(error),
        }
    }
}

fn conflict_message(error: &sqlx::Error) -> &'static str {
    let constraint = match error {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    };
    match constraint {
        Some("units_building_id_unit_number_key") => {
            "a unit with this unit_number already exists in this building"
        }
        Some("accounts_code_organization_id_key") => {
            "an account with this code already exists in this organization"
        }
        _ => "the row conflicts with an existing one",
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Database(source) => {
                eprintln!("koprogo-perf server: database error: {source}");
                "internal server error".to_string()
            }
            Self::Internal(source) => {
                eprintln!("koprogo-perf server: internal error: {source:#}");
                "internal server error".to_string()
            }
            other => other.to_string(),
        };
        let body = match &self {
            Self::TooManyLogins { retry_after } => {
                serde_json::json!({ "error": message, "retry_after": retry_after })
            }
            _ => serde_json::json!({ "error": message }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::TooManyLogins { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Self::Unavailable => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
            }
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// `axum::Json` whose rejection is an [`ApiError`] (a JSON 400 rather than text/422).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// `axum::extract::Path` whose rejection is an [`ApiError`] (bad UUID → JSON 400).
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// `axum::extract::Query` whose rejection is an [`ApiError`] (a JSON 400).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}
