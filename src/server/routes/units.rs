//! `/api/v1/units`: list, create, one unit and its current owners.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::list::{ListParams, ListSpec, Page, SortKey, fetch_one, list_route};
use super::validate;
use crate::server::AppState;
use crate::server::auth::AuthUser;
use crate::server::error::{ApiError, Json, Path, Query};
use crate::server::model::{Role, UnitType};

/// A unit (lot) as KoproGo returns it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Unit {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub building_id: Uuid,
    pub unit_number: String,
    pub unit_type: UnitType,
    pub floor: Option<i32>,
    pub surface_area: f64,
    pub quota: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A current owner of a unit: KoproGo's unit-owner relationship with the owner's
/// contact details alongside.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UnitOwner {
    /// The relationship's id (unit_owners.id).
    pub id: Uuid,
    pub unit_id: Uuid,
    pub owner_id: Uuid,
    /// Share of the unit, 0 < x <= 1.
    pub ownership_percentage: f64,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub is_primary_contact: bool,
    /// Always true here: only current owners (end_date IS NULL) are listed.
    pub is_active: bool,
    pub owner_first_name: String,
    pub owner_last_name: String,
    pub owner_email: String,
    pub owner_phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const LIST: ListSpec = ListSpec {
    count_sql: "/* GET /api/v1/units */ SELECT COUNT(*) FROM units WHERE organization_id = $1",
    page_sql: concat!(
        "/* GET /api/v1/units */ SELECT ",
        unit_columns!(),
        " FROM units WHERE organization_id = $1"
    ),
    sort_keys: &[
        SortKey {
            name: "created_at",
            columns: &["created_at"],
        },
        SortKey {
            name: "unit_number",
            columns: &["unit_number"],
        },
        SortKey {
            name: "floor",
            columns: &["floor"],
        },
        SortKey {
            name: "surface_area",
            columns: &["surface_area"],
        },
        SortKey {
            name: "quota",
            columns: &["quota"],
        },
    ],
};

/// `GET /units`: a page of the organization's units.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<Unit>>, ApiError> {
    list_route(&state, &user, &params, &LIST).await
}

/// `GET /units/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Unit>, ApiError> {
    fetch_one(
        &state,
        &user,
        concat!(
            "/* GET /api/v1/units/{id} */ SELECT ",
            unit_columns!(),
            " FROM units WHERE id = $1 AND organization_id = $2"
        ),
        id,
        "unit not found",
    )
    .await
}

/// `GET /units/{id}/owners`: the unit's current owners (end_date IS NULL), primary
/// contact first.
pub async fn owners(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<UnitOwner>>, ApiError> {
    let org = user.organization()?;
    let owners: Vec<UnitOwner> = sqlx::query_as(
        "/* GET /api/v1/units/{id}/owners */ SELECT uo.id, uo.unit_id, uo.owner_id, \
         uo.ownership_percentage::float8 AS ownership_percentage, uo.start_date, uo.end_date, \
         uo.is_primary_contact, (uo.end_date IS NULL) AS is_active, \
         o.first_name AS owner_first_name, o.last_name AS owner_last_name, \
         o.email AS owner_email, o.phone AS owner_phone, uo.created_at, uo.updated_at \
         FROM unit_owners uo \
         JOIN units u ON u.id = uo.unit_id \
         JOIN owners o ON o.id = uo.owner_id \
         WHERE uo.unit_id = $1 AND uo.end_date IS NULL \
         AND u.organization_id = $2 AND o.organization_id = $2 \
         ORDER BY uo.is_primary_contact DESC, o.last_name, o.first_name, uo.id",
    )
    .bind(id)
    .bind(org)
    .fetch_all(&state.pool)
    .await?;
    if owners.is_empty() {
        let exists: bool = sqlx::query_scalar(
            "/* GET /api/v1/units/{id}/owners */ SELECT EXISTS \
             (SELECT 1 FROM units WHERE id = $1 AND organization_id = $2)",
        )
        .bind(id)
        .bind(org)
        .fetch_one(&state.pool)
        .await?;
        if !exists {
            return Err(ApiError::NotFound("unit not found"));
        }
    }
    Ok(axum::Json(owners))
}

/// The create body.
#[derive(Debug, Deserialize)]
pub struct CreateUnit {
    pub building_id: Uuid,
    pub unit_number: String,
    pub unit_type: UnitType,
    pub floor: Option<i32>,
    pub surface_area: f64,
    pub quota: f64,
}

/// `POST /units` (syndic, superadmin) → 201 with the row; 404 when the building is
/// not the organization's, 409 when its unit_number is taken in that building.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateUnit>,
) -> Result<(StatusCode, axum::Json<Unit>), ApiError> {
    user.require_role(&[Role::Syndic, Role::Superadmin])?;
    let org = user.organization()?;
    let unit_number = validate::text("unit_number", &body.unit_number, validate::UNIT_NUMBER_MAX)?;
    let floor = body
        .floor
        .map(|f| validate::int_range("floor", f, -100, 1000))
        .transpose()?;
    let surface_area = validate::positive("surface_area", body.surface_area, 1_000_000.0)?;
    let quota = validate::positive("quota", body.quota, 10_000.0)?;

    // INSERT … SELECT from the organization's building: a building of another
    // organization inserts nothing and answers 404, in one statement.
    let unit: Option<Unit> = sqlx::query_as(concat!(
        "/* POST /api/v1/units */ INSERT INTO units \
         (id, organization_id, building_id, unit_number, unit_type, floor, surface_area, quota) \
         SELECT $1, b.organization_id, b.id, $3, $4, $5, $6, $7 FROM buildings b \
         WHERE b.id = $2 AND b.organization_id = $8 RETURNING ",
        unit_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(body.building_id)
    .bind(unit_number)
    .bind(body.unit_type.as_db())
    .bind(floor)
    .bind(surface_area)
    .bind(quota)
    .bind(org)
    .fetch_optional(&state.pool)
    .await?;
    unit.map(|u| (StatusCode::CREATED, axum::Json(u)))
        .ok_or(ApiError::NotFound("building not found"))
}
