//! `/api/v1/accounts`: the organization's PCMN (Belgian chart of accounts): read,
//! and created, replaced or deleted by its syndic or accountant.
//!
//! With the `account_cache` switch the reads come from [`crate::server::cache`],
//! loaded on an organization's first read and invalidated by its writes; with
//! `http_cache_headers` they carry an `ETag` (computed once per load when cached).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::validate;
use crate::server::AppState;
use crate::server::auth::AuthUser;
use crate::server::cache::{Accounts, Lookup};
use crate::server::error::{ApiError, Json, Path};
use crate::server::http_cache::{self, JsonBody};
use crate::server::model::{AccountType, Role};

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

/// The roles that may change the chart of accounts.
const EDITORS: &[Role] = &[Role::Syndic, Role::Accountant, Role::Superadmin];

/// Every account of the organization, by code, from the database.
async fn load(state: &AppState, org: Uuid) -> Result<Vec<Account>, ApiError> {
    let accounts = sqlx::query_as(concat!(
        "/* GET /api/v1/accounts */ SELECT ",
        account_columns!(),
        " FROM accounts WHERE organization_id = $1 ORDER BY code"
    ))
    .bind(org)
    .fetch_all(&state.pool)
    .await?;
    Ok(accounts)
}

/// The organization's accounts from the cache, loading them on a miss.
async fn cached(state: &AppState, org: Uuid) -> Result<Arc<Accounts>, ApiError> {
    match state.accounts.lookup(org) {
        Lookup::Hit(accounts) => Ok(accounts),
        Lookup::Miss { generation } => {
            let accounts = Arc::new(Accounts::new(load(state, org).await?)?);
            state.accounts.store(org, generation, Arc::clone(&accounts));
            Ok(accounts)
        }
    }
}

/// After a committed write: the organization's cached accounts are stale.
fn changed(state: &AppState, org: Uuid) {
    if state.config.account_cache {
        state.accounts.invalidate(org);
    }
}

/// `GET /accounts`: every account of the organization, by code.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let org = user.organization()?;
    let body = if state.config.account_cache {
        cached(&state, org).await?.body.clone()
    } else {
        JsonBody::of(&load(&state, org).await?)?
    };
    Ok(http_cache::respond(&state, &headers, body))
}

/// `GET /accounts/code/{code}`.
pub async fn by_code(
    State(state): State<AppState>,
    user: AuthUser,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let org = user.organization()?;
    let body = if state.config.account_cache {
        let accounts = cached(&state, org).await?;
        let account = accounts
            .by_code(&code)
            .ok_or(ApiError::NotFound("account not found"))?;
        JsonBody::of(account)?
    } else {
        let account: Option<Account> = sqlx::query_as(concat!(
            "/* GET /api/v1/accounts/code/{code} */ SELECT ",
            account_columns!(),
            " FROM accounts WHERE code = $1 AND organization_id = $2"
        ))
        .bind(code)
        .bind(org)
        .fetch_optional(&state.pool)
        .await?;
        JsonBody::of(&account.ok_or(ApiError::NotFound("account not found"))?)?
    };
    Ok(http_cache::respond(&state, &headers, body))
}

/// The body of a create or a replace; the organization comes from the token.
#[derive(Debug, Deserialize)]
pub struct AccountBody {
    pub code: String,
    pub label: String,
    pub parent_code: Option<String>,
    pub account_type: AccountType,
    /// Whether entries may be booked on it directly; true when absent.
    pub direct_use: Option<bool>,
}

/// [`AccountBody`] checked.
struct ValidAccount {
    code: String,
    label: String,
    parent_code: Option<String>,
    account_type: AccountType,
    direct_use: bool,
}

impl AccountBody {
    fn validate(&self) -> Result<ValidAccount, ApiError> {
        let code = validate::account_code("code", &self.code)?;
        let label = validate::text("label", &self.label, validate::NAME_MAX)?;
        let parent_code = match self.parent_code.as_deref() {
            Some(p) if !p.trim().is_empty() => Some(validate::account_code("parent_code", p)?),
            _ => None,
        };
        if parent_code.as_deref() == Some(code.as_str()) {
            return Err(ApiError::bad_request("parent_code must differ from code"));
        }
        Ok(ValidAccount {
            code,
            label,
            parent_code,
            account_type: self.account_type,
            direct_use: self.direct_use.unwrap_or(true),
        })
    }
}

/// `POST /accounts` (syndic, accountant, superadmin) → 201 with the row; 409 when the
/// code is taken in the organization.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<AccountBody>,
) -> Result<(StatusCode, axum::Json<Account>), ApiError> {
    user.require_role(EDITORS)?;
    let org = user.organization()?;
    let a = body.validate()?;
    let account: Account = sqlx::query_as(concat!(
        "/* POST /api/v1/accounts */ INSERT INTO accounts \
         (id, code, label, parent_code, account_type, direct_use, organization_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        account_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(a.code)
    .bind(a.label)
    .bind(a.parent_code)
    .bind(a.account_type.as_db())
    .bind(a.direct_use)
    .bind(org)
    .fetch_one(&state.pool)
    .await?;
    changed(&state, org);
    Ok((StatusCode::CREATED, axum::Json(account)))
}

/// `PUT /accounts/{id}` (syndic, accountant, superadmin): replaces the account's
/// fields → 200 with the row; 404 outside the organization, 409 on a taken code.
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<AccountBody>,
) -> Result<axum::Json<Account>, ApiError> {
    user.require_role(EDITORS)?;
    let org = user.organization()?;
    let a = body.validate()?;
    let account: Option<Account> = sqlx::query_as(concat!(
        "/* PUT /api/v1/accounts/{id} */ UPDATE accounts SET code = $1, label = $2, \
         parent_code = $3, account_type = $4, direct_use = $5, updated_at = now() \
         WHERE id = $6 AND organization_id = $7 RETURNING ",
        account_columns!()
    ))
    .bind(a.code)
    .bind(a.label)
    .bind(a.parent_code)
    .bind(a.account_type.as_db())
    .bind(a.direct_use)
    .bind(id)
    .bind(org)
    .fetch_optional(&state.pool)
    .await?;
    let account = account.ok_or(ApiError::NotFound("account not found"))?;
    changed(&state, org);
    Ok(axum::Json(account))
}

/// `DELETE /accounts/{id}` (syndic, accountant, superadmin) → 204; 404 outside the
/// organization. Expenses keep their `account_code` text: the schema ties them to no
/// account row.
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    user.require_role(EDITORS)?;
    let org = user.organization()?;
    let deleted = sqlx::query(
        "/* DELETE /api/v1/accounts/{id} */ DELETE FROM accounts \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .execute(&state.pool)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(ApiError::NotFound("account not found"));
    }
    changed(&state, org);
    Ok(StatusCode::NO_CONTENT)
}
