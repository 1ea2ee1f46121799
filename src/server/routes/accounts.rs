//! `/api/v1/accounts`: the organization's PCMN (Belgian chart of accounts), as
//! KoproGo's account_handlers.rs serves it: read by anyone of the organization,
//! created, updated or deleted by its accountant or a superadmin.
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

use super::list::{Owned, fetch_one};
use super::validate;
use crate::server::AppState;
use crate::server::auth::AuthUser;
use crate::server::cache::{Accounts, Lookup};
use crate::server::error::{ApiError, Json, Path, Query};
use crate::server::http_cache::{self, JsonBody};
use crate::server::model::{AccountType, Role, rfc3339};

/// An account of the PCMN (`AccountResponseDto`, application/dto/account_dto.rs).
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
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl Owned for Account {
    fn organization_id(&self) -> Uuid {
        self.organization_id
    }
}

/// The roles that may change the chart of accounts (KoproGo: "Only Accountant or
/// SuperAdmin can …").
const EDITORS: &[Role] = &[Role::Accountant, Role::Superadmin];

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

/// The filters of `GET /accounts` (KoproGo's `AccountSearchQuery`); KoproGo applies
/// the first one given, in this order.
#[derive(Debug, Default, Deserialize)]
pub struct AccountSearch {
    /// A `LIKE` pattern on the code (`61%`).
    pub code_pattern: Option<String>,
    pub account_type: Option<String>,
    pub parent_code: Option<String>,
    pub direct_use_only: Option<bool>,
}

/// Which accounts a filtered list keeps (held across the list's await: Send).
type Keep<'a> = Box<dyn Fn(&Account) -> bool + Send + Sync + 'a>;

impl AccountSearch {
    fn is_empty(&self) -> bool {
        self.code_pattern.is_none()
            && self.account_type.is_none()
            && self.parent_code.is_none()
            && !self.direct_use_only.unwrap_or(false)
    }

    /// The test a filtered list keeps accounts by.
    fn filter(&self) -> Result<Keep<'_>, ApiError> {
        if let Some(pattern) = &self.code_pattern {
            return Ok(Box::new(move |a: &Account| like(pattern, &a.code)));
        }
        if let Some(kind) = &self.account_type {
            let kind = AccountType::parse(kind)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid account type: {kind}")))?;
            return Ok(Box::new(move |a: &Account| a.account_type == kind.as_db()));
        }
        if let Some(parent) = &self.parent_code {
            return Ok(Box::new(move |a: &Account| {
                a.parent_code.as_deref() == Some(parent.as_str())
            }));
        }
        Ok(Box::new(|a: &Account| a.direct_use))
    }
}

/// SQL's `LIKE` (`%` any run, `_` one character, no escape), which KoproGo's code
/// search runs; here on the organization's accounts in memory.
fn like(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // matches[j]: the pattern so far matches text[..j].
    let mut matches = vec![false; t.len() + 1];
    matches[0] = true;
    for &c in &p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match c {
                '%' => matches[j] || (j > 0 && next[j - 1]),
                '_' => j > 0 && matches[j - 1],
                c => j > 0 && matches[j - 1] && t[j - 1] == c,
            };
        }
        matches = next;
    }
    matches[t.len()]
}

/// `GET /accounts[?code_pattern=|account_type=|parent_code=|direct_use_only=true]`:
/// the organization's accounts by code, all or filtered (a superadmin has no
/// organization: 401, as KoproGo).
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(search): Query<AccountSearch>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let org = user.organization()?;
    let body = if search.is_empty() {
        if state.config.account_cache {
            cached(&state, org).await?.body.clone()
        } else {
            JsonBody::of(&load(&state, org).await?)?
        }
    } else {
        let keep = search.filter()?;
        let selected: Vec<Account> = if state.config.account_cache {
            cached(&state, org)
                .await?
                .list
                .iter()
                .filter(|a| keep(a))
                .cloned()
                .collect()
        } else {
            load(&state, org).await?.into_iter().filter(keep).collect()
        };
        JsonBody::of(&selected)?
    };
    Ok(http_cache::respond(&state, &headers, body))
}

/// `GET /accounts/code/{code}` in the caller's organization.
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
            .ok_or(ApiError::NotFound("Account not found"))?;
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
        JsonBody::of(&account.ok_or(ApiError::NotFound("Account not found"))?)?
    };
    Ok(http_cache::respond(&state, &headers, body))
}

/// `GET /accounts/{id}`: 404 when there is none, 403 when it is another
/// organization's.
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Account>, ApiError> {
    fetch_one(
        &state,
        &user,
        concat!(
            "/* GET /api/v1/accounts/{id} */ SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        ),
        id,
        "Account not found",
    )
    .await
    .map(axum::Json)
}

/// The create body, KoproGo's `CreateAccountDto`: every field required but
/// `parent_code`, the organization named in it.
#[derive(Debug, Deserialize)]
pub struct CreateAccount {
    pub code: String,
    pub label: String,
    pub parent_code: Option<String>,
    pub account_type: String,
    pub direct_use: bool,
    pub organization_id: String,
}

/// KoproGo's `UpdateAccountDto`: the fields to change (the code never changes);
/// `"parent_code": null` removes the parent.
#[derive(Debug, Deserialize)]
pub struct UpdateAccount {
    pub label: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub parent_code: Option<Option<String>>,
    pub account_type: Option<String>,
    pub direct_use: Option<bool>,
}

/// A field that may be absent (None), null (Some(None)) or a value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn account_type(text: &str) -> Result<AccountType, ApiError> {
    AccountType::parse(text)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid account type: {text}")))
}

/// A parent code: letters and digits, not the account's own, and an account of the
/// organization (KoproGo: "Parent account code '…' does not exist").
async fn parent(
    state: &AppState,
    org: Uuid,
    parent: Option<&str>,
    code: &str,
) -> Result<Option<String>, ApiError> {
    let Some(parent) = parent.filter(|p| !p.trim().is_empty()) else {
        return Ok(None);
    };
    let parent = validate::account_code("parent_code", parent)?;
    if parent == code {
        return Err(ApiError::bad_request("parent_code must differ from code"));
    }
    let exists: bool = sqlx::query_scalar(
        "/* accounts: parent check */ SELECT EXISTS \
         (SELECT 1 FROM accounts WHERE code = $1 AND organization_id = $2)",
    )
    .bind(&parent)
    .bind(org)
    .fetch_one(&state.pool)
    .await?;
    if !exists {
        return Err(ApiError::bad_request(format!(
            "Parent account code '{parent}' does not exist"
        )));
    }
    Ok(Some(parent))
}

/// `POST /accounts` → 201 with the row; 403 for a role other than accountant or
/// superadmin, and for an organization other than the accountant's own; 400 when the
/// code is taken in the organization.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateAccount>,
) -> Result<(StatusCode, axum::Json<Account>), ApiError> {
    user.require_role(EDITORS, "Only Accountant or SuperAdmin can create accounts")?;
    let code = validate::account_code("code", &body.code)?;
    let label = validate::text("label", &body.label, validate::NAME_MAX)?;
    let org = validate::uuid(&body.organization_id, "Invalid organization_id format")?;
    if !user.is_superadmin() && user.organization()? != org {
        return Err(ApiError::Forbidden(
            "You can only create accounts for your own organization",
        ));
    }
    let kind = account_type(&body.account_type)?;
    let parent_code = parent(&state, org, body.parent_code.as_deref(), &code).await?;
    let account: Account = sqlx::query_as(concat!(
        "/* POST /api/v1/accounts */ INSERT INTO accounts \
         (id, code, label, parent_code, account_type, direct_use, organization_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        account_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(code)
    .bind(label)
    .bind(parent_code)
    .bind(kind.as_db())
    .bind(body.direct_use)
    .bind(org)
    .fetch_one(&state.pool)
    .await?;
    changed(&state, org);
    Ok((StatusCode::CREATED, axum::Json(account)))
}

/// The account an editor is about to change: 404 when there is none, 403 when it is
/// another organization's.
async fn editable(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    sql: &'static str,
) -> Result<Account, ApiError> {
    fetch_one(state, user, sql, id, "Account not found").await
}

/// `PUT /accounts/{id}` → 200 with the row: the fields given change, the others stay.
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateAccount>,
) -> Result<axum::Json<Account>, ApiError> {
    user.require_role(EDITORS, "Only Accountant or SuperAdmin can update accounts")?;
    let label = body
        .label
        .as_deref()
        .map(|l| validate::text("label", l, validate::NAME_MAX))
        .transpose()?;
    let kind = body.account_type.as_deref().map(account_type).transpose()?;
    let existing = editable(
        &state,
        &user,
        id,
        concat!(
            "/* PUT /api/v1/accounts/{id} */ SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        ),
    )
    .await?;
    let org = existing.organization_id;
    let parent_code = match &body.parent_code {
        None => existing.parent_code.clone(),
        Some(p) => parent(&state, org, p.as_deref(), &existing.code).await?,
    };
    let account: Option<Account> = sqlx::query_as(concat!(
        "/* PUT /api/v1/accounts/{id} */ UPDATE accounts SET label = $1, parent_code = $2, \
         account_type = $3, direct_use = $4, updated_at = now() \
         WHERE id = $5 AND organization_id = $6 RETURNING ",
        account_columns!()
    ))
    .bind(label.unwrap_or(existing.label))
    .bind(parent_code)
    .bind(kind.map_or(existing.account_type, |k| k.as_db().to_string()))
    .bind(body.direct_use.unwrap_or(existing.direct_use))
    .bind(id)
    .bind(org)
    .fetch_optional(&state.pool)
    .await?;
    // Deleted in between: as if it had never been there.
    let account = account.ok_or(ApiError::NotFound("Account not found"))?;
    changed(&state, org);
    Ok(axum::Json(account))
}

/// `DELETE /accounts/{id}` → 204. Expenses keep their `account_code` text: the schema
/// ties them to no account row.
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    user.require_role(EDITORS, "Only Accountant or SuperAdmin can delete accounts")?;
    let existing = editable(
        &state,
        &user,
        id,
        concat!(
            "/* DELETE /api/v1/accounts/{id} */ SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        ),
    )
    .await?;
    let deleted = sqlx::query(
        "/* DELETE /api/v1/accounts/{id} */ DELETE FROM accounts \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(existing.organization_id)
    .execute(&state.pool)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(ApiError::NotFound("Account not found"));
    }
    changed(&state, existing.organization_id);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_is_sql_like() {
        assert!(like("61%", "6100"));
        assert!(like("61%", "61"));
        assert!(!like("61%", "5610"));
        assert!(like("%10%", "6100"));
        assert!(like("6_00", "6100"));
        assert!(!like("6_00", "600"));
        assert!(like("6100", "6100"));
        assert!(!like("6100", "61000"));
        assert!(like("%", ""));
    }
}
