//! The superadmin's routes that `seed --host` drives: `/organizations` (list, create)
//! and `POST /users`, as KoproGo's organization_handlers.rs and user_handlers.rs serve
//! them (SuperAdmin only, 403 otherwise, with KoproGo's messages), and the PCMN seed of
//! account_handlers.rs (`POST /accounts/seed/belgian-pcmn`).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::{UserResponse, UserRow};
use super::validate;
use crate::pcmn::ACCOUNTS;
use crate::server::AppState;
use crate::server::auth::AuthUser;
use crate::server::error::{ApiError, Json};
use crate::server::model::{Role, rfc3339};
use crate::server::password;

/// An organization as KoproGo returns it (`OrganizationResponse`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub contact_email: String,
    pub contact_phone: Option<String>,
    pub subscription_plan: String,
    pub max_buildings: i32,
    pub max_users: i32,
    pub is_active: bool,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
}

const ORGANIZATION_COLUMNS: &str = "id, name, slug, 'contact@' || slug || '.be' AS contact_email, \
     NULL::text AS contact_phone, subscription_plan, max_buildings, max_users, is_active, created_at";

/// KoproGo's limits per plan (domain/entities/organization.rs `get_limits_for_plan`).
fn plan_limits(plan: &str) -> Option<(i32, i32)> {
    match plan {
        "free" => Some((1, 3)),
        "starter" => Some((5, 10)),
        "professional" => Some((20, 50)),
        "enterprise" => Some((i32::MAX, i32::MAX)),
        _ => None,
    }
}

/// `GET /organizations` → `{"data": [...]}`, every organization, oldest first.
pub async fn list_organizations(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    if !user.is_superadmin() {
        return Err(ApiError::Forbidden(
            "Only SuperAdmin can access all organizations",
        ));
    }
    let sql = format!(
        "/* GET /api/v1/organizations */ SELECT {ORGANIZATION_COLUMNS} FROM organizations \
         ORDER BY created_at, id"
    );
    let rows: Vec<Organization> = sqlx::query_as(&sql).fetch_all(&state.pool).await?;
    Ok(axum::Json(serde_json::json!({ "data": rows })))
}

/// KoproGo's `CreateOrganizationRequest`.
#[derive(Debug, Deserialize)]
pub struct CreateOrganization {
    pub name: String,
    pub slug: String,
    pub contact_email: String,
    pub contact_phone: Option<String>,
    pub subscription_plan: String,
}

/// `POST /organizations` → 201; 400 "Invalid subscription plan", "Slug already exists".
pub async fn create_organization(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateOrganization>,
) -> Result<(StatusCode, axum::Json<Organization>), ApiError> {
    if !user.is_superadmin() {
        return Err(ApiError::Forbidden(
            "Only SuperAdmin can create organizations",
        ));
    }
    let name = validate::text("name", &body.name, validate::NAME_MAX)?;
    let slug = validate::text("slug", &body.slug, validate::NAME_MAX)?;
    validate::email("contact_email", &body.contact_email)?;
    let (max_buildings, max_users) = plan_limits(&body.subscription_plan)
        .ok_or_else(|| ApiError::bad_request("Invalid subscription plan"))?;
    let sql = format!(
        "/* POST /api/v1/organizations */ INSERT INTO organizations \
         (id, name, slug, subscription_plan, max_buildings, max_users) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (slug) DO NOTHING \
         RETURNING {ORGANIZATION_COLUMNS}"
    );
    let created: Option<Organization> = sqlx::query_as(&sql)
        .bind(Uuid::new_v4())
        .bind(name)
        .bind(slug)
        .bind(&body.subscription_plan)
        .bind(max_buildings)
        .bind(max_users)
        .fetch_optional(&state.pool)
        .await?;
    created
        .map(|org| (StatusCode::CREATED, axum::Json(org)))
        .ok_or_else(|| ApiError::bad_request("Slug already exists"))
}

/// KoproGo's `CreateUserRequest`, in its backward-compatible single-role form.
#[derive(Debug, Deserialize)]
pub struct CreateUser {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Option<String>,
    pub organization_id: Option<Uuid>,
}

/// `POST /users` → 201; 400 on KoproGo's checks and "Email already exists". A role
/// other than superadmin needs an organization.
pub async fn create_user(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateUser>,
) -> Result<(StatusCode, axum::Json<UserResponse>), ApiError> {
    if !user.is_superadmin() {
        return Err(ApiError::Forbidden("Only SuperAdmin can create users"));
    }
    let email = validate::email("email", body.email.trim())?.to_lowercase();
    if body.first_name.trim().len() < 2 || body.last_name.trim().len() < 2 {
        return Err(ApiError::bad_request(
            "First and last names must be at least 2 characters",
        ));
    }
    let password = body.password.trim();
    if password.len() < 6 {
        return Err(ApiError::bad_request(
            "Password must be at least 6 characters",
        ));
    }
    validate::text("password", password, validate::NAME_MAX)?;
    let role = body
        .role
        .as_deref()
        .and_then(Role::from_db)
        .filter(|r| {
            matches!(
                r,
                Role::Superadmin | Role::Syndic | Role::Accountant | Role::Owner
            )
        })
        .ok_or_else(|| ApiError::bad_request("Invalid role"))?;
    if role != Role::Superadmin && body.organization_id.is_none() {
        return Err(ApiError::bad_request(
            "organization_id is required for this role",
        ));
    }
    let salt: [u8; 16] = rand::random();
    let hash = tokio::task::spawn_blocking({
        let password = password.to_string();
        move || password::hash_password(&password, &salt)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let created: Option<UserRow> = sqlx::query_as(
        "/* POST /api/v1/users */ INSERT INTO users \
         (id, email, password_hash, first_name, last_name, role, organization_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING \
         RETURNING id, email, first_name, last_name, role, organization_id, is_active",
    )
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(hash)
    .bind(body.first_name.trim())
    .bind(body.last_name.trim())
    .bind(role.as_db())
    .bind(body.organization_id)
    .fetch_optional(&state.pool)
    .await?;
    created
        .map(|u| (StatusCode::CREATED, axum::Json(UserResponse::from(u))))
        .ok_or_else(|| ApiError::bad_request("Email already exists"))
}

/// KoproGo's `SeedBelgianPcmnDto`.
#[derive(Debug, Deserialize)]
pub struct SeedPcmn {
    pub organization_id: String,
}

/// `POST /accounts/seed/belgian-pcmn` → 200 `{"accounts_created": N, …}`: the chart
/// for an organization (superadmin, or an accountant for their own); the accounts it
/// already has are kept.
pub async fn seed_pcmn(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<SeedPcmn>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    user.require_role(
        &[Role::Superadmin, Role::Accountant],
        "Only SuperAdmin or Accountant can seed PCMN",
    )?;
    let org = validate::uuid(&body.organization_id, "Invalid organization_id format")?;
    if !user.is_superadmin() && user.organization()? != org {
        return Err(ApiError::Forbidden(
            "You can only seed PCMN for your own organization",
        ));
    }
    let codes: Vec<&str> = ACCOUNTS.iter().map(|a| a.code).collect();
    let labels: Vec<&str> = ACCOUNTS.iter().map(|a| a.label).collect();
    let parents: Vec<Option<&str>> = ACCOUNTS.iter().map(|a| a.parent).collect();
    let kinds: Vec<&str> = ACCOUNTS.iter().map(|a| a.account_type.as_str()).collect();
    let direct: Vec<bool> = ACCOUNTS.iter().map(|a| a.direct_use).collect();
    let created = sqlx::query(
        "/* POST /api/v1/accounts/seed/belgian-pcmn */ INSERT INTO accounts \
         (id, code, label, parent_code, account_type, direct_use, organization_id) \
         SELECT gen_random_uuid(), code, label, parent_code, account_type, direct_use, o.id \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[]) \
         AS u(code, label, parent_code, account_type, direct_use) \
         JOIN organizations o ON o.id = $6 \
         ON CONFLICT DO NOTHING",
    )
    .bind(codes)
    .bind(labels)
    .bind(parents)
    .bind(kinds)
    .bind(direct)
    .bind(org)
    .execute(&state.pool)
    .await?
    .rows_affected();
    if state.config.account_cache {
        state.accounts.invalidate(org);
    }
    Ok(axum::Json(serde_json::json!({
        "success": true,
        "accounts_created": created,
        "message": format!("Successfully seeded {created} Belgian PCMN accounts"),
    })))
}
