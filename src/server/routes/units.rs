//! `/api/v1/units`: list, create, one unit and its current owners, as KoproGo's
//! unit_handlers.rs and unit_owner_handlers.rs (`get_unit_owners`) serve them.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::list::{ListParams, ListSpec, Owned, Page, SortKey, fetch_one, list_route};
use super::validate;
use crate::server::AppState;
use crate::server::auth::{AuthUser, Scope};
use crate::server::error::{ApiError, Json, Path, Query};
use crate::server::model::{Role, UnitType};

/// A unit (lot) as KoproGo returns it (`UnitResponseDto`, application/dto/unit_dto.rs):
/// no organization or timestamps, the quota a decimal (a JSON string).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Unit {
    pub id: Uuid,
    /// For the tenant check only: KoproGo's JSON has no organization_id.
    #[serde(skip)]
    pub organization_id: Uuid,
    pub building_id: Uuid,
    pub unit_number: String,
    pub unit_type: UnitType,
    pub floor: Option<i32>,
    pub surface_area: f64,
    pub quota: Decimal,
    /// KoproGo's legacy single owner; this schema has none (always null).
    pub owner_id: Option<Uuid>,
}

impl Owned for Unit {
    fn organization_id(&self) -> Uuid {
        self.organization_id
    }
}

/// A current owner of a unit, KoproGo's `UnitOwnerResponseDto`
/// (application/dto/unit_owner_dto.rs): the relationship, not the owner's details.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UnitOwner {
    /// The relationship's id (unit_owners.id).
    pub id: Uuid,
    pub unit_id: Uuid,
    pub owner_id: Uuid,
    /// Share of the unit, 0 < x <= 1 (a JSON string, `"0.60000"`).
    pub ownership_percentage: Decimal,
    pub start_date: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    pub is_primary_contact: bool,
    /// Always true here: only current owners (end_date IS NULL) are listed.
    pub is_active: bool,
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
    count_all_sql: "/* GET /api/v1/units */ SELECT COUNT(*) FROM units",
    page_all_sql: concat!(
        "/* GET /api/v1/units */ SELECT ",
        unit_columns!(),
        " FROM units"
    ),
    // KoproGo's whitelist (unit_repository_impl.rs), unit_number its default.
    sort_keys: &[
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
            name: "created_at",
            columns: &["created_at"],
        },
    ],
};

/// `GET /units`: a page of the units the caller may see.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<Unit>>, ApiError> {
    list_route(&state, &user, &params, &LIST).await
}

/// `GET /units/{id}`: 404 when there is none, 403 when it is another organization's.
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
            " FROM units WHERE id = $1"
        ),
        id,
        "Unit not found",
    )
    .await
    .map(axum::Json)
}

/// `GET /units/{id}/owners`: the unit's current owners (end_date IS NULL), primary
/// contact first, then the oldest relationship. An unknown unit is KoproGo's 400
/// "Unit not found"; another organization's unit, which KoproGo serves to anyone
/// logged in, is a 403 here.
pub async fn owners(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<UnitOwner>>, ApiError> {
    let owners: Vec<UnitOwner> = match user.scope()? {
        Scope::Organization(org) => {
            sqlx::query_as(
                "/* GET /api/v1/units/{id}/owners */ SELECT uo.id, uo.unit_id, uo.owner_id, \
                 uo.ownership_percentage, uo.start_date, uo.end_date, uo.is_primary_contact, \
                 (uo.end_date IS NULL) AS is_active, uo.created_at, uo.updated_at \
                 FROM unit_owners uo JOIN units u ON u.id = uo.unit_id \
                 WHERE uo.unit_id = $1 AND uo.end_date IS NULL AND u.organization_id = $2 \
                 ORDER BY uo.is_primary_contact DESC, uo.created_at, uo.id",
            )
            .bind(id)
            .bind(org)
            .fetch_all(&state.pool)
            .await?
        }
        Scope::All => {
            sqlx::query_as(
                "/* GET /api/v1/units/{id}/owners */ SELECT id, unit_id, owner_id, \
                 ownership_percentage, start_date, end_date, is_primary_contact, \
                 (end_date IS NULL) AS is_active, created_at, updated_at \
                 FROM unit_owners WHERE unit_id = $1 AND end_date IS NULL \
                 ORDER BY is_primary_contact DESC, created_at, id",
            )
            .bind(id)
            .fetch_all(&state.pool)
            .await?
        }
    };
    if owners.is_empty() {
        let org: Option<Uuid> = sqlx::query_scalar(
            "/* GET /api/v1/units/{id}/owners */ SELECT organization_id FROM units WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
        let org = org.ok_or_else(|| ApiError::bad_request("Unit not found"))?;
        user.verify_org_access(org)?;
    }
    Ok(axum::Json(owners))
}

/// The create body, KoproGo's `CreateUnitDto`: the organization and the building are
/// named in it (KoproGo holds both as strings), `floor` is optional.
#[derive(Debug, Deserialize)]
pub struct CreateUnit {
    pub organization_id: String,
    pub building_id: String,
    pub unit_number: String,
    pub unit_type: UnitType,
    pub floor: Option<i32>,
    pub surface_area: f64,
    pub quota: Decimal,
}

/// KoproGo's bound on a unit's share, in thousandths (`MAX_QUOTA`,
/// domain/entities/unit.rs); its database allows 10,000, its entity 1,000.
const MAX_QUOTA: Decimal = Decimal::ONE_THOUSAND;

/// `POST /units` → 201 with the row. SuperAdmin only (KoproGo: structural data); 400
/// when its unit_number is taken in that building, and when the building is not one
/// of the organization the body names (KoproGo does not check that one).
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateUnit>,
) -> Result<(StatusCode, axum::Json<Unit>), ApiError> {
    user.require_role(
        &[Role::Superadmin],
        "Only SuperAdmin can create units (structural data cannot be modified after creation)",
    )?;
    if body.organization_id.is_empty() {
        return Err(ApiError::bad_request(
            "SuperAdmin must specify organization_id",
        ));
    }
    if body.building_id.is_empty() {
        return Err(ApiError::bad_request("SuperAdmin must specify building_id"));
    }
    let org = validate::organization_id(&body.organization_id)?;
    let unit_number = validate::text("unit_number", &body.unit_number, validate::UNIT_NUMBER_MAX)?;
    let surface_area = validate::number_range("surface_area", body.surface_area, 0.1, 1_000_000.0)?;
    let building = validate::uuid(&body.building_id, "Invalid building ID format")?;
    let floor = body
        .floor
        .map(|f| validate::int_range("floor", f, -100, 1000))
        .transpose()?;
    if body.quota <= Decimal::ZERO || body.quota > MAX_QUOTA {
        return Err(ApiError::bad_request(
            "Quota (shares) must be between 0 (exclusive) and 1000 (inclusive), representing \
             building tantièmes",
        ));
    }

    // INSERT … SELECT from the organization's building: any other building inserts
    // nothing, in one statement.
    let unit: Option<Unit> = sqlx::query_as(concat!(
        "/* POST /api/v1/units */ INSERT INTO units \
         (id, organization_id, building_id, unit_number, unit_type, floor, surface_area, quota) \
         SELECT $1, b.organization_id, b.id, $3, $4, $5, $6, $7 FROM buildings b \
         WHERE b.id = $2 AND b.organization_id = $8 RETURNING ",
        unit_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(building)
    .bind(unit_number)
    .bind(body.unit_type.as_db())
    .bind(floor)
    .bind(surface_area)
    .bind(body.quota)
    .bind(org)
    .fetch_optional(&state.pool)
    .await?;
    unit.map(|u| (StatusCode::CREATED, axum::Json(u)))
        .ok_or_else(|| ApiError::bad_request("building_id is not a building of organization_id"))
}
