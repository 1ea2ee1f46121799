//! The seeder's HTTP side: one request to KoproGo's API with a bearer token, retried
//! while the target asks for patience (429 with `Retry-After`, 408/502/503/504, a
//! connection refused or reset), and every other answer returned as it is. The number
//! of requests in flight is bounded by one semaphore shared by the whole run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::ApiSeedError;
use crate::logins::Login;

/// How many times one request is retried after a 429 (each wait is the server's
/// `Retry-After`, 1 s when it gives none): about ten minutes of a rate limit.
const MAX_RATE_LIMITED: u32 = 600;
/// How many times one request is retried after a 5xx of overload or a broken
/// connection, waiting 0.5 s, 1 s, 2 s, … 8 s.
const MAX_UNAVAILABLE: u32 = 6;

/// Counts of what the run sent, for the summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub unavailable: AtomicU64,
}

/// A session on the target: its token and the user it belongs to.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub user_id: String,
    pub role: String,
}

/// The target's API.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    shown: String,
    limit: Arc<Semaphore>,
    pub counters: Arc<Counters>,
}

/// One answer: its status and its JSON body (null when it had none).
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// KoproGo's error message (`{"error": "…"}`), or the status.
    pub fn message(&self) -> String {
        self.body
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }
}

impl Api {
    /// `base` is the target's URL without `/api/v1`, already validated; `shown` the
    /// form of it messages may print.
    pub fn new(base: &str, shown: String, concurrency: usize) -> Result<Api, ApiSeedError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(concurrency)
            .build()
            .map_err(|e| ApiSeedError::Client(e.to_string()))?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
            shown,
            limit: Arc::new(Semaphore::new(concurrency)),
            counters: Arc::new(Counters::default()),
        })
    }

    /// Sends `method path` (relative to /api/v1) with `token` and `body`, retrying
    /// 429, 408, 502, 503, 504 and broken connections; any other answer is returned.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, ApiSeedError> {
        let url = format!("{}/api/v1{path}", self.base);
        let _permit = self
            .limit
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let (mut limited, mut unavailable) = (0u32, 0u32);
        loop {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let mut request = self.http.request(method.clone(), &url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let wait = match request.send().await {
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                    limited += 1;
                    if limited > MAX_RATE_LIMITED {
                        return Err(self.refused(
                            &method,
                            path,
                            response.status(),
                            "rate limited for ten minutes",
                        ));
                    }
                    retry_after(&response).unwrap_or(Duration::from_secs(1))
                }
                Ok(response)
                    // 408: Actix's own answer when a request's head came in slower
                    // than its client_request_timeout, under load (seen at scale 100).
                    if matches!(response.status().as_u16(), 408 | 502..=504)
                        && unavailable < MAX_UNAVAILABLE =>
                {
                    self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    unavailable += 1;
                    backoff(unavailable)
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.json().await.unwrap_or(Value::Null);
                    return Ok(Answer { status, body });
                }
                Err(e) if (e.is_connect() || e.is_request()) && unavailable < MAX_UNAVAILABLE => {
                    self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    unavailable += 1;
                    backoff(unavailable)
                }
                Err(e) => {
                    return Err(ApiSeedError::Unreachable {
                        host: self.shown.clone(),
                        cause: crate::redact::redact(&crate::error::root_cause(&e)),
                    });
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// `send`, then the body of a 2xx answer; any other status is an error naming the
    /// request and KoproGo's message.
    pub async fn expect_ok(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiSeedError> {
        let answer = self.send(method.clone(), path, Some(token), body).await?;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(self.refused(&method, path, answer.status, &answer.message()))
        }
    }

    /// The error for an answer the seed cannot go on from.
    pub fn refused(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        message: &str,
    ) -> ApiSeedError {
        ApiSeedError::Refused {
            request: format!("{method} /api/v1{}", template(path)),
            status: status.as_u16(),
            message: message.chars().take(300).collect(),
        }
    }

    /// Logs `login` in: its token, user id and role (from the answer's `user`, else
    /// `GET /auth/me`).
    pub async fn login(&self, login: &Login) -> Result<Session, ApiSeedError> {
        let body = serde_json::json!({"email": login.email, "password": login.password});
        let answer = self
            .send(Method::POST, "/auth/login", None, Some(&body))
            .await?;
        if !answer.status.is_success() {
            return Err(ApiSeedError::LoginFailed {
                email: login.email.clone(),
                status: answer.status.as_u16(),
            });
        }
        let token = answer
            .body
            .get("token")
            .or_else(|| answer.body.get("access_token"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiSeedError::Refused {
                request: "POST /api/v1/auth/login".into(),
                status: answer.status.as_u16(),
                message: "the answer carries no token".into(),
            })?
            .to_string();
        let user = match answer.body.get("user") {
            Some(user) if user.get("id").is_some() => user.clone(),
            _ => {
                self.expect_ok(Method::GET, "/auth/me", &token, None)
                    .await?
            }
        };
        let text = |key: &str| {
            user.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(Session {
            user_id: text("id"),
            role: text("role").to_ascii_lowercase(),
            token,
        })
    }
}

/// A path with its ids replaced by `{id}`, so that an error names the route.
fn template(path: &str) -> String {
    let (path, query) = path.split_once('?').map_or((path, ""), |(p, q)| (p, q));
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        out.push(if uuid::Uuid::parse_str(part).is_ok() {
            "{id}"
        } else {
            part
        });
    }
    let joined = out.join("/");
    if query.is_empty() {
        joined
    } else {
        format!("{joined}?{query}")
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.clamp(1, 60)))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_the_route_not_the_row() {
        assert_eq!(
            template("/invoices/0b9c1f9e-8a36-4a4e-9f57-8d4f7b2a1c3d/approve"),
            "/invoices/{id}/approve"
        );
        assert_eq!(
            template("/owners?page=2&per_page=100"),
            "/owners?page=2&per_page=100"
        );
    }

    #[test]
    fn backoff_doubles_up_to_eight_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(5), Duration::from_secs(8));
        assert_eq!(backoff(9), Duration::from_secs(8));
    }
}
