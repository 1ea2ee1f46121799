//! `/api/v1/buildings`: list, create, one building, its units and its expenses, as
//! KoproGo's building_handlers.rs, unit_handlers.rs (`list_units_by_building`) and
//! expense_handlers.rs (`list_expenses_by_building`) serve them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::expenses::Expense;
use super::list::{ListParams, ListSpec, Owned, Page, SortKey, fetch_one, list_route};
use super::units::Unit;
use super::validate;
use crate::server::AppState;
use crate::server::auth::{AuthUser, Scope};
use crate::server::error::{ApiError, Json, Path, Query};
use crate::server::http_cache::{self, JsonBody};
use crate::server::model::{Role, rfc3339};

/// A building as KoproGo returns it (`BuildingResponseDto`, application/dto/building_dto.rs).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Building {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub address: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    pub total_units: i32,
    pub total_tantiemes: i32,
    pub construction_year: Option<i32>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl Owned for Building {
    fn organization_id(&self) -> Uuid {
        self.organization_id
    }
}

const LIST: ListSpec = ListSpec {
    count_sql: "/* GET /api/v1/buildings */ SELECT COUNT(*) FROM buildings WHERE organization_id = $1",
    page_sql: concat!(
        "/* GET /api/v1/buildings */ SELECT ",
        building_columns!(),
        " FROM buildings WHERE organization_id = $1"
    ),
    count_all_sql: "/* GET /api/v1/buildings */ SELECT COUNT(*) FROM buildings",
    page_all_sql: concat!(
        "/* GET /api/v1/buildings */ SELECT ",
        building_columns!(),
        " FROM buildings"
    ),
    // KoproGo's whitelist (building_repository_impl.rs), created_at first as its default.
    sort_keys: &[
        SortKey {
            name: "created_at",
            columns: &["created_at"],
        },
        SortKey {
            name: "name",
            columns: &["name"],
        },
        SortKey {
            name: "city",
            columns: &["city"],
        },
        SortKey {
            name: "total_units",
            columns: &["total_units"],
        },
        SortKey {
            name: "construction_year",
            columns: &["construction_year"],
        },
    ],
};

/// `GET /buildings`: a page of the buildings the caller may see.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<Building>>, ApiError> {
    list_route(&state, &user, &params, &LIST).await
}

/// `GET /buildings/{id}`: 404 when there is none, 403 when it is another
/// organization's; with `http_cache_headers`, tagged and answered 304 when the client
/// has this version.
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let building: Building = fetch_one(
        &state,
        &user,
        concat!(
            "/* GET /api/v1/buildings/{id} */ SELECT ",
            building_columns!(),
            " FROM buildings WHERE id = $1"
        ),
        id,
        "Building not found",
    )
    .await?;
    Ok(http_cache::respond(
        &state,
        &headers,
        JsonBody::of(&building)?,
    ))
}

/// The organization of building `id`, if there is one (`sql` selects it).
async fn building_org(
    state: &AppState,
    sql: &'static str,
    id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(&state.pool)
        .await
}

/// KoproGo's check before a building's sub-list: 404 "Building not found", or 403
/// for another organization's.
fn check_building(user: &AuthUser, org: Option<Uuid>) -> Result<(), ApiError> {
    let org = org.ok_or(ApiError::NotFound("Building not found"))?;
    user.verify_org_access(org)
}

/// A building's sub-list: the rows `rows` fetches (already limited to the caller's
/// organization), once the building is known to be one the caller may see
/// (`check_sql`, see [`building_org`]).
///
/// One after the other, the check runs only when no row came back (rows mean the
/// building is the caller's), so the happy path is one query where KoproGo runs two.
/// With `parallel_queries` the two lookups are issued at once on separate connections
/// (the guide's `tokio::join!`): an empty, missing or foreign building costs one round
/// trip instead of two, every other request one query more.
async fn sub_list<T>(
    state: &AppState,
    user: &AuthUser,
    rows: impl Future<Output = Result<Vec<T>, sqlx::Error>>,
    check_sql: &'static str,
    id: Uuid,
) -> Result<Vec<T>, ApiError> {
    if state.config.parallel_queries {
        let (rows, org) = tokio::try_join!(rows, building_org(state, check_sql, id))?;
        check_building(user, org)?;
        Ok(rows)
    } else {
        let rows = rows.await?;
        if rows.is_empty() {
            check_building(user, building_org(state, check_sql, id).await?)?;
        }
        Ok(rows)
    }
}

/// `GET /buildings/{id}/units`: all its units, by unit number.
pub async fn units(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<Unit>>, ApiError> {
    let rows = match user.scope()? {
        Scope::Organization(org) => sqlx::query_as(concat!(
            "/* GET /api/v1/buildings/{id}/units */ SELECT ",
            unit_columns!(),
            " FROM units WHERE building_id = $1 AND organization_id = $2 \
             ORDER BY unit_number, id"
        ))
        .bind(id)
        .bind(org)
        .fetch_all(&state.pool),
        Scope::All => sqlx::query_as(concat!(
            "/* GET /api/v1/buildings/{id}/units */ SELECT ",
            unit_columns!(),
            " FROM units WHERE building_id = $1 ORDER BY unit_number, id"
        ))
        .bind(id)
        .fetch_all(&state.pool),
    };
    let units = sub_list(
        &state,
        &user,
        rows,
        "/* GET /api/v1/buildings/{id}/units */ SELECT organization_id FROM buildings \
         WHERE id = $1",
        id,
    )
    .await?;
    Ok(axum::Json(units))
}

/// `GET /buildings/{id}/expenses`: every expense of the building, newest
/// `expense_date` first, as a plain array. Like KoproGo's it takes no query
/// parameters (a `?status=` is ignored): the tuning guide's hot query filtered on an
/// approval status, KoproGo's route returns them all.
pub async fn expenses(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<Expense>>, ApiError> {
    let rows = match user.scope()? {
        Scope::Organization(org) => sqlx::query_as(concat!(
            "/* GET /api/v1/buildings/{id}/expenses */ SELECT ",
            expense_columns!(),
            " FROM expenses WHERE building_id = $1 AND organization_id = $2 \
             ORDER BY expense_date DESC, id"
        ))
        .bind(id)
        .bind(org)
        .fetch_all(&state.pool),
        Scope::All => sqlx::query_as(concat!(
            "/* GET /api/v1/buildings/{id}/expenses */ SELECT ",
            expense_columns!(),
            " FROM expenses WHERE building_id = $1 ORDER BY expense_date DESC, id"
        ))
        .bind(id)
        .fetch_all(&state.pool),
    };
    let expenses = sub_list(
        &state,
        &user,
        rows,
        // The operands are swapped on purpose: pg_stat_statements identifies a
        // statement by its parse tree, comments ignored, and the same text as the
        // units route's check would be counted under that route.
        "/* GET /api/v1/buildings/{id}/expenses */ SELECT organization_id FROM buildings \
         WHERE $1 = id",
        id,
    )
    .await?;
    Ok(axum::Json(expenses))
}

/// The create body, KoproGo's `CreateBuildingDto`: every field required but
/// `total_tantiemes` (1000 when absent) and `construction_year`.
#[derive(Debug, Deserialize)]
pub struct CreateBuilding {
    pub organization_id: String,
    pub name: String,
    pub address: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    pub total_units: i32,
    pub total_tantiemes: Option<i32>,
    pub construction_year: Option<i32>,
}

/// `POST /buildings` → 201 with the row. SuperAdmin only, in the organization the body
/// names (KoproGo: structural data).
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateBuilding>,
) -> Result<(StatusCode, axum::Json<Building>), ApiError> {
    user.require_role(
        &[Role::Superadmin],
        "Only SuperAdmin can create buildings (structural data cannot be modified after creation)",
    )?;
    let org = validate::organization_id(&body.organization_id)?;
    let name = validate::text("name", &body.name, validate::NAME_MAX)?;
    let address = validate::text("address", &body.address, validate::ADDRESS_MAX)?;
    let city = validate::text("city", &body.city, validate::CITY_MAX)?;
    let postal_code = validate::text("postal_code", &body.postal_code, validate::POSTAL_CODE_MAX)?;
    let country = validate::text("country", &body.country, validate::COUNTRY_MAX)?;
    let total_units = validate::int_range("total_units", body.total_units, 1, 100_000)?;
    let total_tantiemes = validate::int_range(
        "total_tantiemes",
        body.total_tantiemes.unwrap_or(1000),
        1,
        1_000_000,
    )?;
    let construction_year = body
        .construction_year
        .map(|y| validate::int_range("construction_year", y, 1000, 2100))
        .transpose()?;

    // An organization that does not exist is a foreign-key violation: a 400.
    let building: Building = sqlx::query_as(concat!(
        "/* POST /api/v1/buildings */ INSERT INTO buildings \
         (id, organization_id, name, address, city, postal_code, country, total_units, \
         total_tantiemes, construction_year) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
        building_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(org)
    .bind(name)
    .bind(address)
    .bind(city)
    .bind(postal_code)
    .bind(country)
    .bind(total_units)
    .bind(total_tantiemes)
    .bind(construction_year)
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, axum::Json(building)))
}
