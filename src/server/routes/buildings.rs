//! `/api/v1/buildings`: list, create, one building, its units and its expenses.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::expenses::Expense;
use super::list::{ListParams, ListSpec, Page, SortKey, fetch_one, list_route};
use super::units::Unit;
use super::validate;
use crate::server::AppState;
use crate::server::auth::AuthUser;
use crate::server::error::{ApiError, Json, Path, Query};
use crate::server::http_cache::{self, JsonBody};
use crate::server::model::{ApprovalStatus, Role};

/// A building as KoproGo returns it.
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
    pub construction_year: Option<i32>,
    pub total_tantiemes: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const LIST: ListSpec = ListSpec {
    count_sql: "/* GET /api/v1/buildings */ SELECT COUNT(*) FROM buildings WHERE organization_id = $1",
    page_sql: concat!(
        "/* GET /api/v1/buildings */ SELECT ",
        building_columns!(),
        " FROM buildings WHERE organization_id = $1"
    ),
    // KoproGo's whitelist, created_at first as its default.
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

/// `GET /buildings`: a page of the organization's buildings.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<Building>>, ApiError> {
    list_route(&state, &user, &params, &LIST).await
}

/// `GET /buildings/{id}`; with `http_cache_headers`, tagged and answered 304 when the
/// client has this version.
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let axum::Json(building): axum::Json<Building> = fetch_one(
        &state,
        &user,
        concat!(
            "/* GET /api/v1/buildings/{id} */ SELECT ",
            building_columns!(),
            " FROM buildings WHERE id = $1 AND organization_id = $2"
        ),
        id,
        "building not found",
    )
    .await?;
    Ok(http_cache::respond(
        &state,
        &headers,
        JsonBody::of(&building)?,
    ))
}

/// Whether the building is the organization's (`sql` selects that as a boolean).
async fn building_exists(
    state: &AppState,
    sql: &'static str,
    id: Uuid,
    org: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(sql)
        .bind(id)
        .bind(org)
        .fetch_one(&state.pool)
        .await
}

/// A building's sub-list: the rows `rows` fetches, or a 404 unless the building is
/// the organization's (`check_sql`, see [`building_exists`]).
///
/// One after the other, the check runs only when no row came back, so the happy path
/// is one query. With `parallel_queries` the two independent lookups are issued at
/// once on separate connections (the guide's `tokio::join!`): an empty or missing
/// building costs one round trip instead of two, every other request one query more.
async fn sub_list<T>(
    state: &AppState,
    rows: impl Future<Output = Result<Vec<T>, sqlx::Error>>,
    check_sql: &'static str,
    id: Uuid,
    org: Uuid,
) -> Result<Vec<T>, ApiError> {
    let rows = if state.config.parallel_queries {
        let (rows, exists) = tokio::try_join!(rows, building_exists(state, check_sql, id, org))?;
        if !exists {
            return Err(ApiError::NotFound("building not found"));
        }
        rows
    } else {
        let rows = rows.await?;
        if rows.is_empty() && !building_exists(state, check_sql, id, org).await? {
            return Err(ApiError::NotFound("building not found"));
        }
        rows
    };
    Ok(rows)
}

/// `GET /buildings/{id}/units`: all its units, by unit number.
pub async fn units(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<Unit>>, ApiError> {
    let org = user.organization()?;
    let rows = sqlx::query_as(concat!(
        "/* GET /api/v1/buildings/{id}/units */ SELECT ",
        unit_columns!(),
        " FROM units WHERE building_id = $1 AND organization_id = $2 ORDER BY unit_number, id"
    ))
    .bind(id)
    .bind(org)
    .fetch_all(&state.pool);
    let units = sub_list(
        &state,
        rows,
        "/* GET /api/v1/buildings/{id}/units */ SELECT EXISTS \
         (SELECT 1 FROM buildings WHERE id = $1 AND organization_id = $2)",
        id,
        org,
    )
    .await?;
    Ok(axum::Json(units))
}

/// The query string of `GET /buildings/{id}/expenses`.
#[derive(Debug, Deserialize)]
pub struct ExpenseFilter {
    /// Approval status (`Approved`, or lowercase); all statuses when absent.
    pub status: Option<ApprovalStatus>,
}

/// `GET /buildings/{id}/expenses[?status=Approved]`: the tuning guide's query,
/// newest first.
pub async fn expenses(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(filter): Query<ExpenseFilter>,
) -> Result<axum::Json<Vec<Expense>>, ApiError> {
    let org = user.organization()?;
    // Two fixed statements rather than `($2 IS NULL OR status = $2)`, which would
    // keep the planner off idx_expenses_building_status.
    let rows = match filter.status {
        Some(status) => sqlx::query_as(concat!(
            "/* GET /api/v1/buildings/{id}/expenses */ SELECT ",
            expense_columns!(),
            " FROM expenses WHERE building_id = $1 AND status = $2 AND organization_id = $3 \
             ORDER BY expense_date DESC, id"
        ))
        .bind(id)
        .bind(status.as_db())
        .bind(org)
        .fetch_all(&state.pool),
        None => sqlx::query_as(concat!(
            "/* GET /api/v1/buildings/{id}/expenses */ SELECT ",
            expense_columns!(),
            " FROM expenses WHERE building_id = $1 AND organization_id = $2 \
             ORDER BY expense_date DESC, id"
        ))
        .bind(id)
        .bind(org)
        .fetch_all(&state.pool),
    };
    let expenses = sub_list(
        &state,
        rows,
        // The operands are swapped on purpose: pg_stat_statements identifies a
        // statement by its parse tree, comments ignored, and the same text as the
        // units route's check would be counted under that route.
        "/* GET /api/v1/buildings/{id}/expenses */ SELECT EXISTS \
         (SELECT 1 FROM buildings WHERE organization_id = $2 AND id = $1)",
        id,
        org,
    )
    .await?;
    Ok(axum::Json(expenses))
}

/// The create body; the organization comes from the token.
#[derive(Debug, Deserialize)]
pub struct CreateBuilding {
    pub name: String,
    pub address: String,
    pub city: String,
    pub postal_code: String,
    pub country: Option<String>,
    pub total_units: i32,
    pub construction_year: Option<i32>,
}

/// `POST /buildings` (syndic, superadmin) → 201 with the row.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateBuilding>,
) -> Result<(StatusCode, axum::Json<Building>), ApiError> {
    user.require_role(&[Role::Syndic, Role::Superadmin])?;
    let org = user.organization()?;
    let name = validate::text("name", &body.name, validate::NAME_MAX)?;
    let address = validate::text("address", &body.address, validate::ADDRESS_MAX)?;
    let city = validate::text("city", &body.city, validate::CITY_MAX)?;
    let postal_code = validate::text("postal_code", &body.postal_code, validate::POSTAL_CODE_MAX)?;
    let country =
        validate::optional_text("country", body.country.as_deref(), validate::COUNTRY_MAX)?
            .unwrap_or_else(|| validate::DEFAULT_COUNTRY.to_string());
    let total_units = validate::int_range("total_units", body.total_units, 1, 100_000)?;
    let construction_year = body
        .construction_year
        .map(|y| validate::int_range("construction_year", y, 1000, 2100))
        .transpose()?;

    let building: Building = sqlx::query_as(concat!(
        "/* POST /api/v1/buildings */ INSERT INTO buildings \
         (id, organization_id, name, address, city, postal_code, country, total_units, \
         construction_year) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
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
    .bind(construction_year)
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, axum::Json(building)))
}
