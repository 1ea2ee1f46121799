//! `POST /api/v1/auth/login` and `GET /api/v1/auth/me`, as KoproGo's auth_handlers.rs
//! and auth_use_cases.rs answer them.

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

/// The user as KoproGo returns it with a token and from `/auth/me` (`UserResponse`,
/// application/dto/auth_dto.rs).
#[derive(Debug, Clone, Serialize)]
pub struct UserResponse {
    #[serde(flatten)]
    pub user: UserRow,
    /// KoproGo's role assignments: this server has one per user, its own.
    pub roles: Vec<RoleSummary>,
    pub active_role: Option<RoleSummary>,
}

/// KoproGo's `UserRoleSummary`. This schema keeps no role assignments apart from the
/// user, so the one assignment carries the user's id.
#[derive(Debug, Clone, Serialize)]
pub struct RoleSummary {
    pub id: Uuid,
    pub role: Role,
    pub organization_id: Option<Uuid>,
    pub is_primary: bool,
}

/// A user row as the login, `/auth/me` and `POST /users` read it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub organization_id: Option<Uuid>,
    pub is_active: bool,
}

impl From<UserRow> for UserResponse {
    fn from(u: UserRow) -> Self {
        let role = RoleSummary {
            id: u.id,
            role: u.role,
            organization_id: u.organization_id,
            is_primary: true,
        };
        Self {
            user: u,
            roles: vec![role.clone()],
            active_role: Some(role),
        }
    }
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
    user: UserRow,
    password_hash: String,
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

/// Checks the credentials and issues an access token, as KoproGo: 400 for a body that
/// is not `{email, password}` or fails its checks (an e-mail address, a password of 6
/// characters or more), 401 "Invalid credentials" for an unknown e-mail or a wrong
/// password, 403 "Account deactivated" for an inactive user (here only once the
/// password is right: KoproGo says so before checking it, which tells anyone that the
/// account exists). Every attempt, malformed ones included, counts against the
/// client's login limit first (429 over it, as KoproGo).
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
    if email.len() > 255 || body.password.len() > PASSWORD_MAX {
        return Err(ApiError::bad_request("email or password too long"));
    }
    // KoproGo's `LoginRequest` checks (application/dto/auth_dto.rs).
    if crate::server::routes::validate::email("email", email).is_err() {
        return Err(ApiError::bad_request(
            "Validation error: Email must be valid",
        ));
    }
    if body.password.chars().count() < 6 {
        return Err(ApiError::bad_request(
            "Validation error: Password must be at least 6 characters",
        ));
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
        Some(row) if verified && row.user.is_active => row.user,
        Some(_) if verified => return Err(ApiError::Forbidden("Account deactivated")),
        _ => return Err(ApiError::Unauthorized("Invalid credentials")),
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
        user: user.into(),
    }))
}

/// The caller's user, read again from the database (404 when it is gone, as KoproGo's
/// `get_user_by_id`).
pub async fn me(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
) -> Result<axum::Json<UserResponse>, ApiError> {
    let user: Option<UserRow> = sqlx::query_as(
        "/* GET /api/v1/auth/me */ SELECT id, email, first_name, last_name, role, \
         organization_id, is_active FROM users WHERE id = $1",
    )
    .bind(claims.sub)
    .fetch_optional(&state.pool)
    .await?;
    user.map(|u| axum::Json(u.into()))
        .ok_or(ApiError::NotFound("Resource not found: user"))
}
