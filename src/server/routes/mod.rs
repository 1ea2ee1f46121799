//! The `/api/v1` routes, one module per resource, and the pieces they share:
//! pagination ([`list`]) and input validation ([`validate`]).
//!
//! Each route follows KoproGo's contract (its handlers in
//! backend/src/infrastructure/web/handlers/, DTOs in backend/src/application/dto/):
//! the same required fields, roles, status codes and JSON. Where KoproGo lets a user
//! reach another organization's rows, this server keeps them apart (403, as KoproGo's
//! own checks answer elsewhere); each module says where.
//!
//! | route | method | status codes |
//! | --- | --- | --- |
//! | /health | GET | 200 |
//! | /auth/login | POST | 200, 400, 401, 403, 429 |
//! | /auth/me | GET | 200, 401, 404 |
//! | /buildings, /units, /owners, /expenses | GET (paginated) | 200, 400, 401 |
//! | /buildings, /units | POST (superadmin) | 201, 400, 401, 403 |
//! | /owners, /expenses | POST | 201, 400, 401, 403 |
//! | /buildings/{id}, /units/{id}, /owners/{id}, /expenses/{id} | GET | 200, 400, 401, 403, 404 |
//! | /buildings/{id}/units, /buildings/{id}/expenses | GET | 200, 400, 401, 403, 404 |
//! | /units/{id}/owners | GET | 200, 400, 401, 403 |
//! | /accounts, /accounts/code/{code}, /accounts/{id} | GET | 200, 304, 400, 401, 403, 404 |
//! | /accounts | POST (accountant, superadmin) | 201, 400, 401, 403 |
//! | /accounts/{id} | PUT (accountant, superadmin) | 200, 400, 401, 403, 404 |
//! | /accounts/{id} | DELETE (accountant, superadmin) | 204, 400, 401, 403, 404 |
//! | /accounts/seed/belgian-pcmn | POST (accountant, superadmin) | 200, 400, 401, 403 |
//! | /organizations | GET, POST (superadmin) | 200, 201, 400, 401, 403 |
//! | /users | POST (superadmin) | 201, 400, 401, 403 |
//! | /units/{id}/owners | POST (syndic, superadmin) | 201, 400, 401, 403 |
//! | /invoices/{id}/submit, /approve, /reject | PUT | 200, 400, 401, 403, 404 |
//! | /expenses/{id}/mark-paid (PUT), /mark-overdue, /cancel (POST) | | 200, 400, 401, 403, 404 |
//!
//! `GET /api-docs/openapi.json` (outside `/api/v1`, where KoproGo has it) is their
//! OpenAPI document ([`super::openapi`]).
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
// build whole statements at compile time. KoproGo's JSON has columns this schema
// lacks (units.owner_id, expenses.contractor_report_id, both null here) and reads
// units.quota as a decimal.
macro_rules! building_columns {
    () => {
        "id, organization_id, name, address, city, postal_code, country, total_units, \
         construction_year, total_tantiemes, created_at, updated_at"
    };
}
macro_rules! unit_columns {
    () => {
        "id, organization_id, building_id, unit_number, unit_type, floor, surface_area, \
         quota::numeric AS quota, NULL::uuid AS owner_id"
    };
}
macro_rules! owner_columns {
    () => {
        "id, organization_id, user_id, first_name, last_name, email, phone, address, city, \
         postal_code, country"
    };
}
macro_rules! expense_columns {
    () => {
        "id, organization_id, building_id, category, description, amount, expense_date, \
         payment_status, approval_status, supplier, invoice_number, account_code, \
         NULL::uuid AS contractor_report_id"
    };
}
macro_rules! account_columns {
    () => {
        "id, code, label, parent_code, account_type, direct_use, organization_id, created_at, \
         updated_at"
    };
}

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod buildings;
pub mod expenses;
pub mod health;
pub mod list;
pub mod owners;
pub mod units;
pub mod validate;
pub mod workflow;

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
        .route(
            v1!("/units/{id}/owners"),
            get(units::owners).post(workflow::add_owner),
        )
        .route(v1!("/owners"), get(owners::list).post(owners::create))
        .route(v1!("/owners/{id}"), get(owners::get_one))
        .route(v1!("/expenses"), get(expenses::list).post(expenses::create))
        .route(v1!("/expenses/{id}"), get(expenses::get_one))
        .route(v1!("/expenses/{id}/mark-paid"), put(workflow::mark_paid))
        .route(
            v1!("/expenses/{id}/mark-overdue"),
            post(workflow::mark_overdue),
        )
        .route(v1!("/expenses/{id}/cancel"), post(workflow::cancel))
        .route(v1!("/invoices/{id}/submit"), put(workflow::submit))
        .route(v1!("/invoices/{id}/approve"), put(workflow::approve))
        .route(v1!("/invoices/{id}/reject"), put(workflow::reject))
        .route(
            v1!("/organizations"),
            get(admin::list_organizations).post(admin::create_organization),
        )
        .route(v1!("/users"), post(admin::create_user))
        .route(v1!("/accounts/seed/belgian-pcmn"), post(admin::seed_pcmn))
        .route(v1!("/accounts"), get(accounts::list).post(accounts::create))
        .route(
            v1!("/accounts/{id}"),
            get(accounts::get_one)
                .put(accounts::update)
                .delete(accounts::delete),
        )
        .route(v1!("/accounts/code/{code}"), get(accounts::by_code))
        .route(super::openapi::PATH, get(openapi_document))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

/// The OpenAPI document of these routes ([`super::openapi`]), where KoproGo serves its own.
async fn openapi_document() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::openapi::DOCUMENT.as_str(),
    )
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
