//! The reference server's OpenAPI document, served where KoproGo serves its own
//! (`GET /api-docs/openapi.json`), describing the routes the server imitates
//! ([`super::routes`]). Built with utoipa, the crate KoproGo documents its API with, and
//! in the shape KoproGo's `#[utoipa::path]` annotations give it, so that
//! `scenario --from-openapi` meets here what it meets on KoproGo:
//!
//! - paths relative to KoproGo's `/api/v1` scope (its annotations say `path =
//!   "/buildings"`), but for `/api/v1/health`, which KoproGo writes whole;
//! - a paginated list's fields (`page`, `per_page`, `sort_by`, `order`: KoproGo's
//!   `PageRequest`, an `IntoParams` without `parameter_in = Query`) as required *path*
//!   parameters that its path does not hold;
//! - `bearer_auth` security on the routes that need a login;
//! - a SuperAdmin-only route's 403 described "Forbidden - SuperAdmin only", as KoproGo's
//!   annotations describe theirs (`POST /buildings`).

use std::sync::LazyLock;

use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, Required, Response,
    Schema, ServerBuilder,
};

/// Where the document is served (KoproGo's utoipa-swagger-ui URL).
pub const PATH: &str = "/api-docs/openapi.json";

/// A path parameter of a documented route.
#[derive(Clone, Copy)]
enum Param {
    /// `{id}`, a UUID: the row's.
    Id(&'static str),
    /// `{code}`, a PCMN account code, with an example every seeded organization has.
    Code,
}

/// One documented operation.
struct Route {
    method: HttpMethod,
    /// Relative to `/api/v1` (but health), as KoproGo's annotations write it.
    path: &'static str,
    tag: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    param: Option<Param>,
    /// A paginated list (`PageRequest`'s fields).
    paged: bool,
    /// Sends the bearer token.
    auth: bool,
    /// Only KoproGo's SuperAdmin may call it.
    superadmin: bool,
    /// The statuses it answers (routes/mod.rs).
    statuses: &'static [u16],
}

/// `route!(METHOD, path, tag, id, summary, param, paged, auth, [statuses])`, and
/// `route!(superadmin METHOD, …)` for a SuperAdmin-only one.
macro_rules! route {
    ($m:ident, $path:literal, $tag:literal, $id:literal, $summary:literal, $param:expr,
     $paged:literal, $auth:literal, [$($s:literal),*]) => {
        Route {
            method: HttpMethod::$m, path: $path, tag: $tag, operation_id: $id,
            summary: $summary, param: $param, paged: $paged, auth: $auth, superadmin: false,
            statuses: &[$($s),*],
        }
    };
    (superadmin $m:ident, $($rest:tt)*) => {
        Route { superadmin: true, ..route!($m, $($rest)*) }
    };
}

/// Every route of [`super::routes::router`].
#[rustfmt::skip]
const ROUTES: &[Route] = &[
    route!(Get, "/api/v1/health", "Health", "health_check", "Health check", None, false, false, [200]),
    route!(Post, "/auth/login", "Auth", "login", "Login", None, false, false, [200, 400, 401, 403, 429]),
    route!(Get, "/auth/me", "Auth", "get_current_user", "Get Current User", None, false, true, [200, 401, 404]),
    route!(Get, "/buildings", "Buildings", "list_buildings", "List buildings", None, true, true, [200, 400, 401]),
    route!(superadmin Post, "/buildings", "Buildings", "create_building", "Create a building (SuperAdmin)", None, false, true, [201, 400, 401, 403]),
    route!(Get, "/buildings/{id}", "Buildings", "get_building", "Get a building", Some(Param::Id("Building UUID")), false, true, [200, 304, 400, 401, 403, 404]),
    route!(Get, "/buildings/{id}/units", "Units", "list_units_by_building", "A building's units", Some(Param::Id("Building UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Get, "/buildings/{id}/expenses", "Expenses", "list_expenses_by_building", "A building's expenses, newest first", Some(Param::Id("Building UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Get, "/units", "Units", "list_units", "List units", None, true, true, [200, 400, 401]),
    route!(superadmin Post, "/units", "Units", "create_unit", "Create a unit (SuperAdmin)", None, false, true, [201, 400, 401, 403]),
    route!(Get, "/units/{id}", "Units", "get_unit", "Get a unit", Some(Param::Id("Unit UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Get, "/units/{id}/owners", "Units", "list_unit_owners", "A unit's current owners", Some(Param::Id("Unit UUID")), false, true, [200, 400, 401, 403]),
    route!(Post, "/units/{id}/owners", "Units", "add_unit_owner", "Add an owner to a unit (syndic, SuperAdmin)", Some(Param::Id("Unit UUID")), false, true, [201, 400, 401, 403]),
    route!(Get, "/owners", "Owners", "list_owners", "List owners", None, true, true, [200, 400, 401]),
    route!(Post, "/owners", "Owners", "create_owner", "Create an owner", None, false, true, [201, 400, 401, 403]),
    route!(Get, "/owners/{id}", "Owners", "get_owner", "Get an owner", Some(Param::Id("Owner UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Get, "/expenses", "Expenses", "list_expenses", "List expenses", None, true, true, [200, 400, 401]),
    route!(Post, "/expenses", "Expenses", "create_expense", "Create an expense", None, false, true, [201, 400, 401, 403]),
    route!(Get, "/expenses/{id}", "Expenses", "get_expense", "Get an expense", Some(Param::Id("Expense UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Put, "/expenses/{id}/mark-paid", "Expenses", "mark_expense_paid", "Mark an expense paid", Some(Param::Id("Expense UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Post, "/expenses/{id}/mark-overdue", "Expenses", "mark_expense_overdue", "Mark an expense overdue", Some(Param::Id("Expense UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Post, "/expenses/{id}/cancel", "Expenses", "cancel_expense", "Cancel an expense", Some(Param::Id("Expense UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Put, "/invoices/{id}/submit", "Invoices", "submit_invoice", "Submit an invoice for approval", Some(Param::Id("Invoice (expense) UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Put, "/invoices/{id}/approve", "Invoices", "approve_invoice", "Approve an invoice", Some(Param::Id("Invoice (expense) UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Put, "/invoices/{id}/reject", "Invoices", "reject_invoice", "Reject an invoice", Some(Param::Id("Invoice (expense) UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(superadmin Get, "/organizations", "Organizations", "list_organizations", "Every organization", None, false, true, [200, 401, 403]),
    route!(superadmin Post, "/organizations", "Organizations", "create_organization", "Create an organization", None, false, true, [201, 400, 401, 403]),
    route!(superadmin Post, "/users", "Users", "create_user", "Create a user", None, false, true, [201, 400, 401, 403]),
    route!(Get, "/accounts", "Accounts", "list_accounts", "The organization's PCMN accounts", None, false, true, [200, 304, 400, 401, 403]),
    route!(Post, "/accounts", "Accounts", "create_account", "Create an account (accountant, SuperAdmin)", None, false, true, [201, 400, 401, 403]),
    route!(Get, "/accounts/{id}", "Accounts", "get_account", "Get an account", Some(Param::Id("Account UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Put, "/accounts/{id}", "Accounts", "update_account", "Update an account (accountant, SuperAdmin)", Some(Param::Id("Account UUID")), false, true, [200, 400, 401, 403, 404]),
    route!(Delete, "/accounts/{id}", "Accounts", "delete_account", "Delete an account (accountant, SuperAdmin)", Some(Param::Id("Account UUID")), false, true, [204, 400, 401, 403, 404]),
    route!(Post, "/accounts/seed/belgian-pcmn", "Accounts", "seed_belgian_pcmn", "Seed the Belgian PCMN (accountant, SuperAdmin)", None, false, true, [200, 400, 401, 403]),
    route!(Get, "/accounts/code/{code}", "Accounts", "get_account_by_code", "Get an account by its PCMN code", Some(Param::Code), false, true, [200, 304, 400, 401, 403, 404]),
];

/// The document, built once.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_json()
        .expect("the OpenAPI document serializes")
});

/// The (method, full path) of every documented operation, `{id}` kept: what the router
/// must route (tests check it does).
pub fn operations() -> Vec<(String, String)> {
    ROUTES
        .iter()
        .map(|r| {
            let full = if r.path.starts_with("/api/v1") {
                r.path.to_string()
            } else {
                format!("/api/v1{}", r.path)
            };
            (method_name(&r.method).to_string(), full)
        })
        .collect()
}

fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

fn document() -> OpenApi {
    let mut paths = Paths::new();
    for route in ROUTES {
        paths.add_path_operation(route.path, vec![route.method.clone()], operation(route));
    }
    let sort_order = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["asc", "desc"]))
        .build();
    let components = ComponentsBuilder::new()
        .schema("SortOrder", Schema::Object(sort_order))
        .security_scheme(
            "bearer_auth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("koprogo-perf reference server")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The routes of KoproGo's API that koprogo-perf's reference server imitates, \
                     in the shape of KoproGo's own utoipa document: paths relative to /api/v1 \
                     (but /api/v1/health).",
                ))
                .build(),
        )
        .servers(Some([ServerBuilder::new().url("/").build()]))
        .paths(paths)
        .components(Some(components))
        .build()
}

fn operation(route: &Route) -> Operation {
    let mut op = OperationBuilder::new()
        .tag(route.tag)
        .operation_id(Some(route.operation_id))
        .summary(Some(route.summary));
    match route.param {
        Some(Param::Id(description)) => {
            let uuid = ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
            op = op.parameter(path_param("id", uuid).description(Some(description)));
        }
        Some(Param::Code) => {
            let code = ObjectBuilder::new().schema_type(Type::String);
            op = op.parameter(
                path_param("code", code)
                    .description(Some("PCMN account code"))
                    .example(Some("611002".into())),
            );
        }
        None => {}
    }
    if route.paged {
        // KoproGo's PageRequest as its IntoParams derive emits it: path parameters.
        let int = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        };
        op = op
            .parameter(path_param("page", int()))
            .parameter(path_param("per_page", int()))
            .parameter(path_param(
                "sort_by",
                ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
            ))
            .parameter(
                ParameterBuilder::new()
                    .name("order")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(Ref::from_schema_name("SortOrder"))),
            );
    }
    for status in route.statuses {
        let description = match *status {
            403 if route.superadmin => "Forbidden - SuperAdmin only",
            s => reason(s),
        };
        op = op.response(status.to_string(), Response::new(description));
    }
    if route.auth {
        op = op.security(SecurityRequirement::new("bearer_auth", [] as [&str; 0]));
    }
    op.build()
}

fn path_param(name: &str, schema: ObjectBuilder) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(schema.build()))
}

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_and_lists_every_route_once() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let count: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(count, ROUTES.len());
        let list = &doc["paths"]["/buildings"]["get"];
        assert_eq!(list["parameters"][0]["in"], "path");
        assert_eq!(list["security"][0]["bearer_auth"], serde_json::json!([]));
        assert!(doc["paths"]["/api/v1/health"]["get"]["security"].is_null());
        let mut seen = std::collections::HashSet::new();
        assert!(operations().iter().all(|o| seen.insert(o.clone())));
    }
}
