//! The `/api/v1` routes, one module per resource, and the pieces they share:
//! pagination ([`list`]) and input validation ([`validate`]).
//!
//! | route | method | status codes |
//! | --- | --- | --- |
//! | /health | GET | 200 |
//! | /auth/login | POST | 200, 400, 401, 429 |
//! | /auth/me | GET | 200, 401 |
//! | /buildings, /units, /owners, /expenses | GET (paginated) | 200, 400, 401, 403 |
//! | /buildings, /units, /owners, /expenses | POST | 201, 400, 401, 403, 404, 409 |
//! | /buildings/{id}, /units/{id}, /owners/{id}, /expenses/{id} | GET | 200, 400, 401, 404 |
//! | /buildings/{id}/units, /buildings/{id}/expenses, /units/{id}/owners | GET | 200, 400, 401, 404 |
//! | /accounts, /accounts/code/{code} | GET | 200, 304, 401, 404 |
//! | /accounts | POST | 201, 400, 401, 403, 409 |
//! | /accounts/{id} | PUT | 200, 400, 401, 403, 404, 409 |
//! | /accounts/{id} | DELETE | 204, 400, 401, 403, 404 |
//!
//! GET /buildings/{id} may also answer 304 with the `http_cache_headers` switch.
//!
//! Any route may also answer 503 (no pooled connection in time, with `Retry-After`)
//! or 500 (a database failure, with a body that names nothing).

/// Prefixes a route with `/api/v1` at compile time.
macro_rules! v1 {
    ($path:literal) => {
        concat!("/api/v1", $path)
    };
}

// The column lists each resource is read with, as literals so that `concat!` can
// build whole statements at compile time. Numeric columns are cast to float8
// (no decimal crate here), and `status` is read twice: KoproGo clients know it as
// `approval_status`.
macro_rules! building_columns {
    () => {
        "id, organization_id, name, address, city, postal_code, country, total_units, \
         construction_year, total_tantiemes, created_at, updated_at"
    };
}
macro_rules! unit_columns {
    () => {
        "id, organization_id, building_id, unit_number, unit_type, floor, surface_area, quota, \
         created_at, updated_at"
    };
}
macro_rules! owner_columns {
    () => {
        "id, organization_id, user_id, first_name, last_name, email, phone, address, city, \
         postal_code, country, created_at, updated_at"
    };
}
macro_rules! expense_columns {
    () => {
        "id, organization_id, building_id, category, description, amount::float8 AS amount, \
         expense_date, payment_status, status, status AS approval_status, supplier, \
         invoice_number, account_code, created_at, updated_at"
    };
}
macro_rules! account_columns {
    () => {
        "id, code, label, parent_code, account_type, direct_use, organization_id, created_at, \
         updated_at"
    };
}

pub mod accounts;
pub mod auth;
pub mod buildings;
pub mod expenses;
pub mod health;
pub mod list;
pub mod owners;
pub mod units;
pub mod validate;

use axum::Router;
use axum::routing::{get, post, put};

use super::AppState;
use super::error::ApiError;

/// Every route, not yet given its state.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(v1!("/health"), get(health::health))
        .route(v1!("/auth/login"), post(auth::login))
        .route(v1!("/auth/me"), get(auth::me))
        .route(
            v1!("/buildings"),
            get(buildings::list).post(buildings::create),
        )
        .route(v1!("/buildings/{id}"), get(buildings::get_one))
        .route(v1!("/buildings/{id}/units"), get(buildings::units))
        .route(v1!("/buildings/{id}/expenses"), get(buildings::expenses))
        .route(v1!("/units"), get(units::list).post(units::create))
        .route(v1!("/units/{id}"), get(units::get_one))
        .route(v1!("/units/{id}/owners"), get(units::owners))
        .route(v1!("/owners"), get(owners::list).post(owners::create))
        .route(v1!("/owners/{id}"), get(owners::get_one))
        .route(v1!("/expenses"), get(expenses::list).post(expenses::create))
        .route(v1!("/expenses/{id}"), get(expenses::get_one))
        .route(v1!("/accounts"), get(accounts::list).post(accounts::create))
        .route(
            v1!("/accounts/{id}"),
            put(accounts::update).delete(accounts::delete),
        )
        .route(v1!("/accounts/code/{code}"), get(accounts::by_code))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
