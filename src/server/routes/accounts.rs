//! `/api/v1/accounts`: the organization's PCMN (Belgian chart of accounts).
//!
//! Read from the database on every request for now; the guide's PCMN cache is a
//! later switch of the server's config.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::server::AppState;
use crate::server::auth::AuthUser;
use crate::server::error::{ApiError, Path};

/// An account of the PCMN.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Account {
    pub id: Uuid,
    pub code: String,
    pub label: String,
    pub parent_code: Option<String>,
    /// ASSET, LIABILITY, EXPENSE, REVENUE or OFF_BALANCE, as stored.
    pub account_type: String,
    pub direct_use: bool,
    pub organization_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /accounts`: every account of the organization, by code.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<Vec<Account>>, ApiError> {
    let org = user.organization()?;
    let accounts: Vec<Account> = sqlx::query_as(concat!(
        "/* GET /api/v1/accounts */ SELECT ",
        account_columns!(),
        " FROM accounts WHERE organization_id = $1 ORDER BY code"
    ))
    .bind(org)
    .fetch_all(&state.pool)
    .await?;
    Ok(axum::Json(accounts))
}

/// `GET /accounts/code/{code}`.
pub async fn by_code(
    State(state): State<AppState>,
    user: AuthUser,
    Path(code): Path<String>,
) -> Result<axum::Json<Account>, ApiError> {
    let org = user.organization()?;
    let account: Option<Account> = sqlx::query_as(concat!(
        "/* GET /api/v1/accounts/code/{code} */ SELECT ",
        account_columns!(),
        " FROM accounts WHERE code = $1 AND organization_id = $2"
    ))
    .bind(code)
    .bind(org)
    .fetch_optional(&state.pool)
    .await?;
    account
        .map(axum::Json)
        .ok_or(ApiError::NotFound("account not found"))
}
