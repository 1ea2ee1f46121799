//! `POST /api/v1/auth/login` and `GET /api/v1/auth/me`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::server::AppState;
use crate::server::auth::{AuthUser, claims_for};
use crate::server::error::{ApiError, Json};
use crate::server::model::Role;
use crate::server::password::{hash_password, verify_password};

const PASSWORD_MAX: usize = 1024;

/// The login body.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The user as KoproGo returns it with a token and from `/auth/me`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub organization_id: Option<Uuid>,
}

/// The login answer.
#[derive(Debug, Serialize)]
pub struct LoginResponse {
    /// The access token (JWT, HS256, `token_ttl`).
    pub token: String,
    /// An opaque random token. This server has no refresh endpoint and does not
    /// store it; it is there so KoproGo clients find the field.
    pub refresh_token: String,
    pub user: UserResponse,
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: UserResponse,
    password_hash: String,
    is_active: bool,
}

/// A hash to verify against when the e-mail is unknown, so that an unknown
/// address costs as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("koprogo-perf-dummy", b"koprogo-perf-dummy-salt"))
}

/// The client's IP: the TCP peer's, as [`crate::server::serve`] records it; the
/// unspecified address when the router runs without one (in-process tests), so that
/// such callers share one limit.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

/// Checks the credentials and issues an access token: 401 for an unknown e-mail,
/// a wrong password or an inactive user, all with the same message. Every attempt,
/// malformed ones included, counts against the client's login limit first (429 over
/// it, as KoproGo).
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<LoginRequest>, ApiError>,
) -> Result<axum::Json<LoginResponse>, ApiError> {
    if let Err(wait) = state.logins.attempt(ip, std::time::Instant::now()) {
        return Err(ApiError::TooManyLogins {
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
        });
    }
    let Json(body) = body?;
    let email = body.email.trim();
    if email.is_empty() || body.password.is_empty() {
        return Err(ApiError::bad_request("email and password are required"));
    }
    if email.len() > 255 || body.password.len() > PASSWORD_MAX {
        return Err(ApiError::bad_request("email or password too long"));
    }
    let row: Option<LoginRow> = sqlx::query_as(
        "/* POST /api/v1/auth/login */ SELECT id, email, first_name, last_name, role, \
         organization_id, password_hash, is_active FROM users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(&state.pool)
    .await?;

    // bcrypt takes tens of milliseconds of CPU: keep it off the async workers.
    let password = body.password;
    let _permit =
        state.password_checks.acquire().await.map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("password check permit"))
        })?;
    let (row, verified) = tokio::task::spawn_blocking(move || {
        let verified = match &row {
            Some(r) => verify_password(&password, &r.password_hash),
            None => verify_password(&password, dummy_hash()),
        };
        (row, verified)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("password check task")))?;

    let user = match row {
        Some(row) if verified && row.is_active => row.user,
        _ => return Err(ApiError::Unauthorized("invalid credentials")),
    };
    let claims = claims_for(
        user.id,
        &user.email,
        user.organization_id,
        user.role,
        state.config.token_ttl,
    );
    let token = state.keys.encode(&claims)?;
    let refresh_token = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(axum::Json(LoginResponse {
        token,
        refresh_token,
        user,
    }))
}

/// The caller's user, read again from the database (401 if it is gone or inactive).
pub async fn me(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
) -> Result<axum::Json<UserResponse>, ApiError> {
    let user: Option<UserResponse> = sqlx::query_as(
        "/* GET /api/v1/auth/me */ SELECT id, email, first_name, last_name, role, \
         organization_id FROM users WHERE id = $1 AND is_active",
    )
    .bind(claims.sub)
    .fetch_optional(&state.pool)
    .await?;
    user.map(axum::Json)
        .ok_or(ApiError::Unauthorized("the token's user no longer exists"))
}
