//! KoproGo's API contract, route by route, pinned on the reference server: status
//! codes, required fields, roles and response shapes as KoproGo defines them. Each
//! expectation names the KoproGo file it comes from (under `backend/src/` of its
//! repository): handlers in `infrastructure/web/handlers/`, DTOs in
//! `application/dto/`, entities in `domain/entities/`. Where the reference server
//! deliberately differs (it keeps organizations apart where KoproGo does not, it
//! answers a client's mistake with a 400 where KoproGo's handler gives a 500), the
//! test says so.
//!
//! The fixture is `server`'s: two organizations, their syndics, accountants and more,
//! and a platform superadmin.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::server::{Harness, PASSWORD, ids};

/// The keys of a JSON object, sorted.
#[track_caller]
fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// A copy of `body` without `field`.
fn without(body: &Value, field: &str) -> Value {
    let mut body = body.clone();
    body.as_object_mut().unwrap().remove(field);
    body
}

/// A copy of `body` with `field` set to `value`.
fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[field] = value;
    body
}

/// `BuildingResponseDto` (application/dto/building_dto.rs).
const BUILDING_FIELDS: &[&str] = &[
    "id",
    "organization_id",
    "name",
    "address",
    "city",
    "postal_code",
    "country",
    "total_units",
    "total_tantiemes",
    "construction_year",
    "created_at",
    "updated_at",
];
/// `UnitResponseDto` (application/dto/unit_dto.rs): no organization, no timestamps.
const UNIT_FIELDS: &[&str] = &[
    "id",
    "building_id",
    "unit_number",
    "unit_type",
    "floor",
    "surface_area",
    "quota",
    "owner_id",
];
/// `OwnerResponseDto` (application/dto/owner_dto.rs).
const OWNER_FIELDS: &[&str] = &[
    "id",
    "organization_id",
    "user_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "city",
    "postal_code",
    "country",
];
/// `ExpenseResponseDto` (application/dto/expense_dto.rs): `approval_status`, no
/// `status`, no organization.
const EXPENSE_FIELDS: &[&str] = &[
    "id",
    "building_id",
    "category",
    "description",
    "amount",
    "expense_date",
    "payment_status",
    "approval_status",
    "supplier",
    "invoice_number",
    "account_code",
    "contractor_report_id",
];
/// `UnitOwnerResponseDto` (application/dto/unit_owner_dto.rs).
const UNIT_OWNER_FIELDS: &[&str] = &[
    "id",
    "unit_id",
    "owner_id",
    "ownership_percentage",
    "start_date",
    "end_date",
    "is_primary_contact",
    "is_active",
    "created_at",
    "updated_at",
];
/// `AccountResponseDto` (application/dto/account_dto.rs).
const ACCOUNT_FIELDS: &[&str] = &[
    "id",
    "code",
    "label",
    "parent_code",
    "account_type",
    "direct_use",
    "organization_id",
    "created_at",
    "updated_at",
];
/// `UserResponse` (application/dto/auth_dto.rs).
const USER_FIELDS: &[&str] = &[
    "id",
    "email",
    "first_name",
    "last_name",
    "role",
    "organization_id",
    "is_active",
    "roles",
    "active_role",
];

/// health.rs, auth_handlers.rs, auth_use_cases.rs (`login`, `get_user_by_id`),
/// application/error.rs (status of each `AppError`), application/dto/auth_dto.rs.
#[tokio::test]
async fn health_login_and_me() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();

    // health.rs: no token, no database.
    let body = h.get("/api/v1/health", None).await.expect(200);
    assert_eq!(body, json!({ "status": "ok", "service": "koprogo-api" }));

    // LoginResponse {token, refresh_token, user: UserResponse}.
    let body = h
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": fx.syndic_a, "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert_eq!(keys(&body), set(&["token", "refresh_token", "user"]));
    let user = &body["user"];
    assert_eq!(keys(user), set(USER_FIELDS));
    assert_eq!(user["role"], "syndic");
    assert_eq!(user["organization_id"], json!(fx.org_a));
    assert_eq!(user["is_active"], true);
    assert_eq!(user["active_role"]["role"], "syndic");
    assert_eq!(user["roles"][0]["organization_id"], json!(fx.org_a));
    let token = body["token"].as_str().unwrap();
    // GET /auth/me: the same user.
    assert_eq!(
        &h.get("/api/v1/auth/me", Some(token)).await.expect(200),
        user
    );

    // The superadmin has no organization (infrastructure/database/seed.rs).
    let admin = h
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": fx.superadmin, "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert_eq!(admin["user"]["role"], "superadmin");
    assert_eq!(admin["user"]["organization_id"], Value::Null);

    // AppError::InvalidCredentials → 401, the same for an unknown e-mail and a wrong
    // password (of 6 characters or more: shorter fails the DTO's check first).
    for (email, password) in [
        (fx.syndic_a.as_str(), "wrong-password"),
        ("nobody@nowhere.test", PASSWORD),
    ] {
        let r = h
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(r.expect_error(401), "Invalid credentials");
    }
    // LoginRequest's validator: an e-mail address, a password of 6 characters at
    // least → AppError::Validation, 400; a missing field fails the JSON extractor, 400.
    for body in [
        json!({ "email": fx.syndic_a, "password": "short" }),
        json!({ "email": "not-an-email", "password": PASSWORD }),
        json!({ "email": fx.syndic_a }),
        json!({ "password": PASSWORD }),
    ] {
        h.post("/api/v1/auth/login", None, &body)
            .await
            .expect_error(400);
    }
    // AppError::AccountDeactivated → 403 (here only with the right password).
    sqlx::query("UPDATE users SET is_active = false WHERE email = $1")
        .bind(&fx.owner_user_a)
        .execute(&h.pool)
        .await
        .unwrap();
    let r = h
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": fx.owner_user_a, "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.expect_error(403), "Account deactivated");
    // get_user_by_id: a user gone since the token was issued → AppError::NotFound, 404.
    sqlx::query("DELETE FROM users WHERE email = $1")
        .bind(&fx.syndic_a)
        .execute(&h.pool)
        .await
        .unwrap();
    h.get("/api/v1/auth/me", Some(token))
        .await
        .expect_error(404);

    h.finish().await;
}

/// infrastructure/web/middleware.rs (`AuthenticatedUser`: 401 without a valid bearer
/// token, before the body is read) and auth_handlers.rs `get_current_user`.
#[tokio::test]
async fn every_route_needs_a_token() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let gets = [
        "/api/v1/auth/me".to_string(),
        "/api/v1/buildings".into(),
        format!("/api/v1/buildings/{}", fx.building_a1),
        format!("/api/v1/buildings/{}/units", fx.building_a1),
        format!("/api/v1/buildings/{}/expenses", fx.building_a1),
        "/api/v1/units".into(),
        format!("/api/v1/units/{}", fx.unit_a1_101),
        format!("/api/v1/units/{}/owners", fx.unit_a1_101),
        "/api/v1/owners".into(),
        format!("/api/v1/owners/{}", fx.owner_a1),
        "/api/v1/expenses".into(),
        format!("/api/v1/expenses/{}", fx.expense_a_approved),
        "/api/v1/accounts".into(),
        format!("/api/v1/accounts/{}", fx.account_a_6100),
        "/api/v1/accounts/code/6100".into(),
    ];
    for path in &gets {
        let r = h.get(path, None).await;
        assert_eq!(r.headers["www-authenticate"], "Bearer", "{path}");
        r.expect_error(401);
        h.get(path, Some("not-a-jwt")).await.expect_error(401);
    }
    for path in [
        "/api/v1/buildings",
        "/api/v1/units",
        "/api/v1/owners",
        "/api/v1/expenses",
        "/api/v1/accounts",
    ] {
        h.post(path, None, &json!({})).await.expect_error(401);
    }

    h.finish().await;
}

/// application/dto/pagination.rs (`PageRequest`, `PageResponse`, `PaginationMeta`),
/// the repositories' `find_all_paginated` (whitelists, defaults, `validate`), the list
/// handlers (a superadmin lists every organization), and the JSON of each row: enums
/// as domain/entities/{unit,expense}.rs serialize them, decimals as strings
/// (rust_decimal's serde, Cargo.toml), `expense_date` as `to_rfc3339()`
/// (application/use_cases/expense_use_cases.rs).
#[tokio::test]
async fn lists_are_paginated_and_shaped_as_koprogo() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let token = h.login(&fx.syndic_a).await;
    let t = Some(token.as_str());

    let body = h.get("/api/v1/buildings", t).await.expect(200);
    assert_eq!(keys(&body), set(&["data", "pagination"]));
    assert_eq!(
        body["pagination"],
        json!({ "current_page": 1, "per_page": 20, "total_items": 2, "total_pages": 1,
                "has_next": false, "has_previous": false })
    );
    let b = &body["data"][0];
    assert_eq!(keys(b), set(BUILDING_FIELDS));
    assert_eq!(b["total_tantiemes"], 1000);
    // `to_rfc3339()`: the offset written out.
    assert!(b["created_at"].as_str().unwrap().ends_with("+00:00"), "{b}");
    // Sorted by a whitelisted column, page by page (`order` lower case).
    let p1 = h
        .get("/api/v1/buildings?per_page=1&sort_by=name&order=desc", t)
        .await
        .expect(200);
    assert_eq!(p1["data"][0]["id"], json!(fx.building_a1));
    assert_eq!(p1["pagination"]["total_pages"], 2);
    assert_eq!(p1["pagination"]["has_next"], true);
    let p2 = h
        .get(
            "/api/v1/buildings?page=2&per_page=1&sort_by=name&order=desc",
            t,
        )
        .await
        .expect(200);
    assert_eq!(p2["data"][0]["id"], json!(fx.building_a2));
    assert_eq!(p2["pagination"]["has_previous"], true);
    // `PageRequest::validate` allows up to 10,000 a page.
    h.get("/api/v1/buildings?per_page=10000", t)
        .await
        .expect(200);

    // Units: unit_number by default; UnitType PascalCase, quota a decimal string.
    let units = h.get("/api/v1/units", t).await.expect(200);
    assert_eq!(
        ids(&units["data"]),
        vec![fx.unit_a1_101.to_string(), fx.unit_a1_102.to_string()]
    );
    let u = &units["data"][0];
    assert_eq!(keys(u), set(UNIT_FIELDS));
    assert_eq!(u["unit_type"], "Apartment");
    assert_eq!(u["quota"], "500");
    assert_eq!(u["surface_area"], 85.5);
    assert_eq!(u["owner_id"], Value::Null);

    // Owners: last_name by default (Janssens before Martin).
    let owners = h.get("/api/v1/owners", t).await.expect(200);
    assert_eq!(
        ids(&owners["data"]),
        vec![fx.owner_a2.to_string(), fx.owner_a1.to_string()]
    );
    assert_eq!(keys(&owners["data"][0]), set(OWNER_FIELDS));

    // Expenses: expense_date ascending by default; amounts as strings, enums as
    // their serde attributes give them.
    let expenses = h.get("/api/v1/expenses", t).await.expect(200);
    assert_eq!(
        ids(&expenses["data"]),
        vec![
            fx.expense_a_approved.to_string(),
            fx.expense_a_draft.to_string()
        ]
    );
    let e = &expenses["data"][0];
    assert_eq!(keys(e), set(EXPENSE_FIELDS));
    assert_eq!(e["amount"], "1500.00");
    assert_eq!(e["category"], "Maintenance");
    assert_eq!(e["approval_status"], "approved");
    assert_eq!(e["payment_status"], "pending");
    assert_eq!(e["expense_date"], "2025-01-10T00:00:00+00:00");
    assert_eq!(expenses["data"][1]["approval_status"], "draft");
    let by_amount = h
        .get("/api/v1/expenses?sort_by=amount&order=desc", t)
        .await
        .expect(200);
    assert_eq!(by_amount["data"][0]["amount"], "1500.00");

    // Out of the whitelist or the bounds: a 400 here (KoproGo's handlers turn the
    // repository's refusal into a 500).
    for query in [
        "per_page=0",
        "per_page=10001",
        "page=0",
        "sort_by=bogus",
        "sort_by=name;DROP%20TABLE%20buildings",
        "order=DESC",
    ] {
        h.get(&format!("/api/v1/buildings?{query}"), t)
            .await
            .expect_error(400);
    }
    for (path, column) in [
        ("/api/v1/units", "quota"),
        ("/api/v1/owners", "password_hash"),
        ("/api/v1/expenses", "status"),
    ] {
        h.get(&format!("{path}?sort_by={column}"), t)
            .await
            .expect_error(400);
    }

    // A superadmin lists every organization's rows (`effective_org_filter`).
    let admin = h.login(&fx.superadmin).await;
    for (path, total) in [
        ("/api/v1/buildings", 3),
        ("/api/v1/units", 3),
        ("/api/v1/owners", 3),
        ("/api/v1/expenses", 3),
    ] {
        let all = h.get(path, Some(&admin)).await.expect(200);
        assert_eq!(all["pagination"]["total_items"], total, "{path}");
    }

    h.finish().await;
}

/// building_handlers.rs `get_building`, unit_handlers.rs (`get_unit`,
/// `list_units_by_building`), owner_handlers.rs `get_owner`, expense_handlers.rs
/// (`get_expense`, `list_expenses_by_building`: every expense of the building,
/// newest expense_date first, no query parameters), unit_owner_handlers.rs
/// `get_unit_owners`, account_handlers.rs (`list_accounts`, `get_account`,
/// `get_account_by_code`).
#[tokio::test]
async fn details_and_sub_lists() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let token = h.login(&fx.syndic_a).await;
    let t = Some(token.as_str());

    let b = h
        .get(&format!("/api/v1/buildings/{}", fx.building_a1), t)
        .await
        .expect(200);
    assert_eq!(keys(&b), set(BUILDING_FIELDS));
    assert_eq!(b["name"], "Résidence Alpha");
    let u = h
        .get(&format!("/api/v1/units/{}", fx.unit_a1_102), t)
        .await
        .expect(200);
    assert_eq!(keys(&u), set(UNIT_FIELDS));
    let o = h
        .get(&format!("/api/v1/owners/{}", fx.owner_a1), t)
        .await
        .expect(200);
    assert_eq!(keys(&o), set(OWNER_FIELDS));
    let e = h
        .get(&format!("/api/v1/expenses/{}", fx.expense_a_approved), t)
        .await
        .expect(200);
    assert_eq!(keys(&e), set(EXPENSE_FIELDS));

    // A building's units: a plain array by unit number; empty for an empty building.
    let units = h
        .get(&format!("/api/v1/buildings/{}/units", fx.building_a1), t)
        .await
        .expect(200);
    assert_eq!(
        ids(&units),
        vec![fx.unit_a1_101.to_string(), fx.unit_a1_102.to_string()]
    );
    let empty = h
        .get(&format!("/api/v1/buildings/{}/units", fx.building_a2), t)
        .await
        .expect(200);
    assert_eq!(empty, json!([]));

    // A building's expenses: all of them, newest first, a query string ignored.
    let path = format!("/api/v1/buildings/{}/expenses", fx.building_a1);
    let all = h.get(&path, t).await.expect(200);
    assert_eq!(
        ids(&all),
        vec![
            fx.expense_a_draft.to_string(),
            fx.expense_a_approved.to_string()
        ]
    );
    for query in ["?status=Approved", "?status=approved", "?page=2&per_page=1"] {
        let same = h.get(&format!("{path}{query}"), t).await.expect(200);
        assert_eq!(same, all, "{query}");
    }

    // A unit's current owners: the relationships (UnitOwnerResponseDto), primary
    // contact first; chrono's serde form for their dates.
    let owners = h
        .get(&format!("/api/v1/units/{}/owners", fx.unit_a1_101), t)
        .await
        .expect(200);
    let owners = owners.as_array().unwrap();
    assert_eq!(owners.len(), 2, "only current owners: {owners:?}");
    assert_eq!(keys(&owners[0]), set(UNIT_OWNER_FIELDS));
    assert_eq!(owners[0]["owner_id"], json!(fx.owner_a1));
    assert_eq!(owners[0]["ownership_percentage"], "0.60000");
    assert_eq!(owners[0]["start_date"], "2020-01-01T00:00:00Z");
    assert_eq!(owners[0]["end_date"], Value::Null);
    assert_eq!(owners[0]["is_active"], true);
    assert_eq!(owners[1]["owner_id"], json!(fx.owner_a2));
    assert_eq!(owners[1]["is_primary_contact"], false);
    let nobody = h
        .get(&format!("/api/v1/units/{}/owners", fx.unit_a1_102), t)
        .await
        .expect(200);
    assert_eq!(nobody, json!([]));
    // An unknown unit: the use case's "Unit not found", which the handler answers 400.
    let r = h
        .get(&format!("/api/v1/units/{}/owners", Uuid::new_v4()), t)
        .await;
    assert_eq!(r.expect_error(400), "Unit not found");

    // The chart of accounts: a plain array, by code.
    let accounts = h.get("/api/v1/accounts", t).await.expect(200);
    let codes: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["5500", "61", "6100"]);
    assert_eq!(keys(&accounts[0]), set(ACCOUNT_FIELDS));
    let one = h.get("/api/v1/accounts/code/6100", t).await.expect(200);
    assert_eq!(one["account_type"], "EXPENSE");
    assert_eq!(one["parent_code"], "61");
    assert_eq!(
        h.get(&format!("/api/v1/accounts/{}", fx.account_a_6100), t)
            .await
            .expect(200),
        one
    );
    // AccountSearchQuery: code_pattern (LIKE), account_type, parent_code,
    // direct_use_only.
    for (query, expected) in [
        ("code_pattern=61%25", vec!["61", "6100"]),
        ("account_type=asset", vec!["5500"]),
        ("parent_code=61", vec!["6100"]),
        ("direct_use_only=true", vec!["5500", "61", "6100"]),
    ] {
        let found = h
            .get(&format!("/api/v1/accounts?{query}"), t)
            .await
            .expect(200);
        let codes: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, expected, "{query}");
    }
    h.get("/api/v1/accounts?account_type=CASH", t)
        .await
        .expect_error(400);
    // 7000 exists, but only in organization B.
    h.get("/api/v1/accounts/code/7000", t)
        .await
        .expect_error(404);

    // Unknown ids: 404 with KoproGo's messages; a malformed one fails the path: 400.
    for (path, message) in [
        (
            format!("/api/v1/buildings/{}", Uuid::new_v4()),
            "Building not found",
        ),
        (
            format!("/api/v1/units/{}", Uuid::new_v4()),
            "Unit not found",
        ),
        (
            format!("/api/v1/owners/{}", Uuid::new_v4()),
            "Owner not found",
        ),
        (
            format!("/api/v1/expenses/{}", Uuid::new_v4()),
            "Expense not found",
        ),
        (
            format!("/api/v1/accounts/{}", Uuid::new_v4()),
            "Account not found",
        ),
        (
            format!("/api/v1/buildings/{}/units", Uuid::new_v4()),
            "Building not found",
        ),
        (
            format!("/api/v1/buildings/{}/expenses", Uuid::new_v4()),
            "Building not found",
        ),
    ] {
        assert_eq!(h.get(&path, t).await.expect_error(404), message, "{path}");
    }
    for path in [
        "/api/v1/buildings/not-a-uuid",
        "/api/v1/units/xyz/owners",
        "/api/v1/expenses/%27%20OR%201=1",
    ] {
        h.get(path, t).await.expect_error(400);
    }

    h.finish().await;
}

/// infrastructure/web/middleware.rs `verify_org_access`: another organization's row
/// by id → 403 "Access denied: resource belongs to another organization" (the
/// detail handlers, and the building check of the sub-lists); a superadmin passes.
/// account_handlers.rs `get_account`: 403 too. unit_owner_handlers.rs
/// `get_unit_owners` checks no organization (KoproGo serves another organization's
/// owners): a 403 here.
#[tokio::test]
async fn another_organizations_rows_are_403() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let token = h.login(&fx.syndic_a).await;
    let t = Some(token.as_str());
    let admin = h.login(&fx.superadmin).await;

    let foreign = [
        format!("/api/v1/buildings/{}", fx.building_b1),
        format!("/api/v1/buildings/{}/units", fx.building_b1),
        format!("/api/v1/buildings/{}/expenses", fx.building_b1),
        format!("/api/v1/units/{}", fx.unit_b1),
        format!("/api/v1/units/{}/owners", fx.unit_b1),
        format!("/api/v1/owners/{}", fx.owner_b1),
        format!("/api/v1/expenses/{}", fx.expense_b),
        format!("/api/v1/accounts/{}", fx.account_b_7000),
    ];
    for path in &foreign {
        assert_eq!(
            h.get(path, t).await.expect_error(403),
            "Access denied: resource belongs to another organization",
            "{path}"
        );
        // The superadmin sees every organization.
        h.get(path, Some(&admin)).await.expect(200);
    }
    // Organization B sees its own; its lists hold nothing of A's.
    let token_b = h.login(&fx.syndic_b).await;
    h.get(
        &format!("/api/v1/buildings/{}", fx.building_b1),
        Some(&token_b),
    )
    .await
    .expect(200);
    let b_units = h.get("/api/v1/units", Some(&token_b)).await.expect(200);
    assert_eq!(ids(&b_units["data"]), vec![fx.unit_b1.to_string()]);

    h.finish().await;
}

/// building_handlers.rs `create_building` and unit_handlers.rs `create_unit`:
/// SuperAdmin only (403 with KoproGo's message for anyone else), the organization
/// named in the body (`CreateBuildingDto`, `CreateUnitDto`: `organization_id`
/// required, a missing field failing the JSON extractor before the role check), and
/// the DTOs' and entities' checks (domain/entities/{building,unit}.rs).
#[tokio::test]
async fn structural_writes_are_the_superadmins() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let syndic = h.login(&fx.syndic_a).await;
    let admin = h.login(&fx.superadmin).await;

    let building = json!({ "organization_id": fx.org_a, "name": "Delta",
                           "address": "Avenue Louise 10", "city": "Ixelles",
                           "postal_code": "1050", "country": "Belgium", "total_units": 12,
                           "construction_year": 2001 });
    let r = h.post("/api/v1/buildings", Some(&syndic), &building).await;
    assert_eq!(
        r.expect_error(403),
        "Only SuperAdmin can create buildings (structural data cannot be modified after creation)"
    );
    for field in [
        "organization_id",
        "name",
        "address",
        "city",
        "postal_code",
        "country",
        "total_units",
    ] {
        for token in [&syndic, &admin] {
            let message = h
                .post("/api/v1/buildings", Some(token), &without(&building, field))
                .await
                .expect_error(400);
            assert!(
                message.contains(&format!("`{field}`")),
                "{field}: {message}"
            );
        }
    }
    let r = h
        .post(
            "/api/v1/buildings",
            Some(&admin),
            &with(&building, "organization_id", json!("")),
        )
        .await;
    assert_eq!(
        r.expect_error(400),
        "SuperAdmin must specify organization_id"
    );
    let r = h
        .post(
            "/api/v1/buildings",
            Some(&admin),
            &with(&building, "organization_id", json!("org-a")),
        )
        .await;
    assert_eq!(r.expect_error(400), "Invalid organization_id format");
    let created = h
        .post("/api/v1/buildings", Some(&admin), &building)
        .await
        .expect(201);
    assert_eq!(keys(&created), set(BUILDING_FIELDS));
    assert_eq!(created["organization_id"], json!(fx.org_a));
    // `total_tantiemes.unwrap_or(1000)` (application/use_cases/building_use_cases.rs).
    assert_eq!(created["total_tantiemes"], 1000);
    let b2 = h
        .post(
            "/api/v1/buildings",
            Some(&admin),
            &with(&building, "total_tantiemes", json!(10000)),
        )
        .await
        .expect(201);
    assert_eq!(b2["total_tantiemes"], 10000);
    let building_id = created["id"].as_str().unwrap().to_string();
    // The syndic of A sees it.
    h.get(&format!("/api/v1/buildings/{building_id}"), Some(&syndic))
        .await
        .expect(200);

    let unit = json!({ "organization_id": fx.org_a, "building_id": building_id,
                       "unit_number": "P1", "unit_type": "Parking", "surface_area": 12.5,
                       "quota": "10.5" });
    let r = h.post("/api/v1/units", Some(&syndic), &unit).await;
    assert_eq!(
        r.expect_error(403),
        "Only SuperAdmin can create units (structural data cannot be modified after creation)"
    );
    for field in [
        "organization_id",
        "building_id",
        "unit_number",
        "unit_type",
        "surface_area",
        "quota",
    ] {
        let message = h
            .post("/api/v1/units", Some(&syndic), &without(&unit, field))
            .await
            .expect_error(400);
        assert!(
            message.contains(&format!("`{field}`")),
            "{field}: {message}"
        );
    }
    let created = h
        .post("/api/v1/units", Some(&admin), &unit)
        .await
        .expect(201);
    assert_eq!(keys(&created), set(UNIT_FIELDS));
    assert_eq!(created["quota"], "10.5");
    assert_eq!(created["floor"], Value::Null);
    assert_eq!(created["unit_type"], "Parking");
    // A number works as well as a string for a decimal.
    h.post(
        "/api/v1/units",
        Some(&admin),
        &with(&with(&unit, "unit_number", json!("P2")), "quota", json!(20)),
    )
    .await
    .expect(201);
    for (field, value, message) in [
        (
            "building_id",
            json!(""),
            "SuperAdmin must specify building_id",
        ),
        (
            "organization_id",
            json!(""),
            "SuperAdmin must specify organization_id",
        ),
        ("building_id", json!("b-1"), "Invalid building ID format"),
    ] {
        let r = h
            .post("/api/v1/units", Some(&admin), &with(&unit, field, value))
            .await;
        assert_eq!(r.expect_error(400), message);
    }
    // Unit::new: 0 < quota <= 1000; the validator: surface_area >= 0.1; UnitType
    // PascalCase only; a taken unit_number is the repository's error, a 400.
    for (field, value) in [
        ("quota", json!(1000.5)),
        ("quota", json!(0)),
        ("surface_area", json!(0.05)),
        ("unit_type", json!("parking")),
        ("unit_number", json!("P1")),
    ] {
        h.post("/api/v1/units", Some(&admin), &with(&unit, field, value))
            .await
            .expect_error(400);
    }
    // A building the named organization does not have (KoproGo does not check).
    h.post(
        "/api/v1/units",
        Some(&admin),
        &with(&unit, "organization_id", json!(fx.org_b)),
    )
    .await
    .expect_error(400);

    h.finish().await;
}

/// owner_handlers.rs `create_owner` (not an owner or an accountant; a superadmin
/// names the organization, anyone else gets theirs), `CreateOwnerDto`
/// (application/dto/owner_dto.rs: every field but phone required), and
/// owner_use_cases.rs `create_owner` ("Email already exists", across organizations).
#[tokio::test]
async fn owners_are_created_by_syndics() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let syndic = h.login(&fx.syndic_a).await;
    let owner = json!({ "first_name": "Dirk", "last_name": "Claes", "email": "dirk@claes.be",
                        "address": "Meir 1", "city": "Antwerpen", "postal_code": "2000",
                        "country": "België", "organization_id": fx.org_b });
    let created = h
        .post("/api/v1/owners", Some(&syndic), &owner)
        .await
        .expect(201);
    assert_eq!(keys(&created), set(OWNER_FIELDS));
    // The token's organization, whatever the body says.
    assert_eq!(created["organization_id"], json!(fx.org_a));
    assert_eq!(created["phone"], Value::Null);
    let r = h.post("/api/v1/owners", Some(&syndic), &owner).await;
    assert_eq!(r.expect_error(400), "Email already exists");
    let other = with(&owner, "email", json!("dirk2@claes.be"));
    for field in [
        "first_name",
        "last_name",
        "email",
        "address",
        "city",
        "postal_code",
        "country",
    ] {
        let message = h
            .post("/api/v1/owners", Some(&syndic), &without(&other, field))
            .await
            .expect_error(400);
        assert!(
            message.contains(&format!("`{field}`")),
            "{field}: {message}"
        );
    }
    for user in [&fx.accountant_a, &fx.owner_user_a] {
        let token = h.login(user).await;
        let r = h.post("/api/v1/owners", Some(&token), &other).await;
        assert_eq!(
            r.expect_error(403),
            "Only SuperAdmin and Syndic can create owners"
        );
    }
    let board = h.login(&fx.board_member_a).await;
    h.post("/api/v1/owners", Some(&board), &other)
        .await
        .expect(201);
    let admin = h.login(&fx.superadmin).await;
    let third = with(&owner, "email", json!("dirk3@claes.be"));
    let r = h
        .post(
            "/api/v1/owners",
            Some(&admin),
            &without(&third, "organization_id"),
        )
        .await;
    assert_eq!(
        r.expect_error(400),
        "SuperAdmin must specify organization_id"
    );
    let in_b = h
        .post("/api/v1/owners", Some(&admin), &third)
        .await
        .expect(201);
    assert_eq!(in_b["organization_id"], json!(fx.org_b));

    h.finish().await;
}

/// expense_handlers.rs `create_expense` (anyone of an organization but an owner),
/// `CreateExpenseDto` (application/dto/expense_dto.rs: `amount` a decimal,
/// `expense_date` a string, `organization_id` optional and replaced by the token's),
/// expense_use_cases.rs `create_expense` (RFC 3339 or "Invalid date format") and
/// domain/entities/expense.rs (`Expense::new`: a new expense is draft, pending).
#[tokio::test]
async fn expenses_are_created_with_rfc3339_dates() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let syndic = h.login(&fx.syndic_a).await;
    let expense = json!({ "building_id": fx.building_a2, "category": "Utilities",
                          "description": "Électricité communs", "amount": 1234.5,
                          "expense_date": "2026-06-01T00:00:00Z", "supplier": "Engie",
                          "invoice_number": "F-2026-001", "account_code": "611002" });
    let created = h
        .post("/api/v1/expenses", Some(&syndic), &expense)
        .await
        .expect(201);
    assert_eq!(keys(&created), set(EXPENSE_FIELDS));
    assert_eq!(created["amount"], "1234.50");
    assert_eq!(created["expense_date"], "2026-06-01T00:00:00+00:00");
    assert_eq!(created["approval_status"], "draft");
    assert_eq!(created["payment_status"], "pending");
    assert_eq!(created["category"], "Utilities");
    assert_eq!(created["account_code"], "611002");
    // A decimal as a string, an offset, and an organization_id (ignored).
    let created = h
        .post(
            "/api/v1/expenses",
            Some(&syndic),
            &with(
                &with(&expense, "amount", json!("99.999")),
                "expense_date",
                json!("2026-06-01T12:30:00+02:00"),
            ),
        )
        .await
        .expect(201);
    assert_eq!(created["amount"], "100.00");
    assert_eq!(created["expense_date"], "2026-06-01T10:30:00+00:00");

    // A plain date: "Invalid date format".
    let r = h
        .post(
            "/api/v1/expenses",
            Some(&syndic),
            &with(&expense, "expense_date", json!("2026-06-01")),
        )
        .await;
    assert_eq!(r.expect_error(400), "Invalid date format");
    for field in [
        "building_id",
        "category",
        "description",
        "amount",
        "expense_date",
    ] {
        let message = h
            .post("/api/v1/expenses", Some(&syndic), &without(&expense, field))
            .await
            .expect_error(400);
        assert!(
            message.contains(&format!("`{field}`")),
            "{field}: {message}"
        );
    }
    // ExpenseCategory PascalCase only; `amount > 0`; an empty account code.
    for (field, value) in [
        ("category", json!("maintenance")),
        ("amount", json!(0)),
        ("account_code", json!("")),
    ] {
        h.post(
            "/api/v1/expenses",
            Some(&syndic),
            &with(&expense, field, value),
        )
        .await
        .expect_error(400);
    }
    // Roles: an owner reads only; an accountant and a board member book.
    let owner = h.login(&fx.owner_user_a).await;
    let r = h.post("/api/v1/expenses", Some(&owner), &expense).await;
    assert_eq!(r.expect_error(403), "Owner role has read-only access");
    for user in [&fx.accountant_a, &fx.board_member_a] {
        let token = h.login(user).await;
        h.post("/api/v1/expenses", Some(&token), &expense)
            .await
            .expect(201);
    }
    // The superadmin has no organization: `require_organization`, 401.
    let admin = h.login(&fx.superadmin).await;
    h.post("/api/v1/expenses", Some(&admin), &expense)
        .await
        .expect_error(401);
    // Another organization's building (KoproGo would book it): 403; none: 400.
    h.post(
        "/api/v1/expenses",
        Some(&syndic),
        &with(&expense, "building_id", json!(fx.building_b1)),
    )
    .await
    .expect_error(403);
    h.post(
        "/api/v1/expenses",
        Some(&syndic),
        &with(&expense, "building_id", json!(Uuid::new_v4())),
    )
    .await
    .expect_error(400);
    assert_eq!(
        h.count(
            "SELECT COUNT(*) FROM expenses WHERE organization_id = $1",
            fx.org_b
        )
        .await,
        1,
        "nothing booked in B"
    );

    h.finish().await;
}

/// account_handlers.rs (`create_account`, `update_account`, `delete_account`:
/// accountant or superadmin; the organization named in the body must be the
/// accountant's; another organization's account is a 403), `CreateAccountDto` and
/// `UpdateAccountDto` (application/dto/account_dto.rs), `parse_account_type`, and
/// account_use_cases.rs (a taken code, a missing parent: 400).
#[tokio::test]
async fn accounts_are_written_by_accountants() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let syndic = h.login(&fx.syndic_a).await;
    let accountant = h.login(&fx.accountant_a).await;
    let other = h.login(&fx.accountant_b).await;
    let account = json!({ "code": "6110", "label": "Entretien ascenseur", "parent_code": "61",
                          "account_type": "expense", "direct_use": true,
                          "organization_id": fx.org_a });

    let r = h.post("/api/v1/accounts", Some(&syndic), &account).await;
    assert_eq!(
        r.expect_error(403),
        "Only Accountant or SuperAdmin can create accounts"
    );
    for field in [
        "code",
        "label",
        "account_type",
        "direct_use",
        "organization_id",
    ] {
        let message = h
            .post(
                "/api/v1/accounts",
                Some(&accountant),
                &without(&account, field),
            )
            .await
            .expect_error(400);
        assert!(
            message.contains(&format!("`{field}`")),
            "{field}: {message}"
        );
    }
    let r = h.post("/api/v1/accounts", Some(&other), &account).await;
    assert_eq!(
        r.expect_error(403),
        "You can only create accounts for your own organization"
    );
    for (field, value, message) in [
        ("account_type", json!("CASH"), "Invalid account type: CASH"),
        (
            "parent_code",
            json!("69"),
            "Parent account code '69' does not exist",
        ),
        ("code", json!("6100"), "already exists"),
    ] {
        let got = h
            .post(
                "/api/v1/accounts",
                Some(&accountant),
                &with(&account, field, value),
            )
            .await
            .expect_error(400);
        assert!(got.contains(message), "{field}: {got}");
    }
    let created = h
        .post("/api/v1/accounts", Some(&accountant), &account)
        .await
        .expect(201);
    assert_eq!(keys(&created), set(ACCOUNT_FIELDS));
    assert_eq!(created["account_type"], "EXPENSE");
    let url = format!(
        "{}/api/v1/accounts/{}",
        h.base,
        created["id"].as_str().unwrap()
    );

    // Update: the fields given change, the code never does.
    let r = h
        .send(
            h.client.put(&url).json(&json!({ "label": "x" })),
            Some(&syndic),
        )
        .await;
    assert_eq!(
        r.expect_error(403),
        "Only Accountant or SuperAdmin can update accounts"
    );
    h.send(
        h.client.put(&url).json(&json!({ "label": "x" })),
        Some(&other),
    )
    .await
    .expect_error(403);
    let updated = h
        .send(
            h.client
                .put(&url)
                .json(&json!({ "label": "Ascenseurs", "direct_use": false,
                               "code": "9999" })),
            Some(&accountant),
        )
        .await
        .expect(200);
    assert_eq!(updated["label"], "Ascenseurs");
    assert_eq!(updated["direct_use"], false);
    assert_eq!(updated["code"], "6110");
    assert_eq!(updated["parent_code"], "61");
    let unparented = h
        .send(
            h.client.put(&url).json(&json!({ "parent_code": null })),
            Some(&accountant),
        )
        .await
        .expect(200);
    assert_eq!(unparented["parent_code"], Value::Null);
    assert_eq!(unparented["label"], "Ascenseurs");
    let unknown = format!("{}/api/v1/accounts/{}", h.base, Uuid::new_v4());
    h.send(
        h.client.put(&unknown).json(&json!({ "label": "x" })),
        Some(&accountant),
    )
    .await
    .expect_error(404);

    // Delete: 403 for a syndic and for another organization, 204 once, then 404.
    for token in [&syndic, &other] {
        assert_eq!(h.status_of(h.client.delete(&url), token).await, 403);
    }
    assert_eq!(h.status_of(h.client.delete(&url), &accountant).await, 204);
    assert_eq!(h.status_of(h.client.delete(&url), &accountant).await, 404);
    // The superadmin may write any organization's chart, but reads none: it has no
    // organization (`list_accounts` requires one: 401).
    let admin = h.login(&fx.superadmin).await;
    let in_b = with(&account, "organization_id", json!(fx.org_b));
    h.post(
        "/api/v1/accounts",
        Some(&admin),
        &with(&in_b, "parent_code", Value::Null),
    )
    .await
    .expect(201);
    h.get("/api/v1/accounts", Some(&admin))
        .await
        .expect_error(401);

    h.finish().await;
}

/// `PUT /api/v1{path}` with `body`, as `token`.
async fn put(h: &Harness, path: String, token: &str, body: Value) -> crate::server::Reply {
    let request = h.client.put(format!("{}/api/v1{path}", h.base)).json(&body);
    h.send(request, Some(token)).await
}

/// The routes `seed --host` drives (expense_handlers.rs, organization_handlers.rs,
/// user_handlers.rs, unit_owner_handlers.rs, account_handlers.rs): KoproGo's roles,
/// and the invoice workflow's transitions as domain/entities/expense.rs allows them.
#[tokio::test]
async fn the_invoice_workflow_and_the_superadmins_creations() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let syndic = h.login(&fx.syndic_a).await;
    let accountant = h.login(&fx.accountant_a).await;
    let owner = h.login(&fx.owner_user_a).await;
    let admin = h.login(&fx.superadmin).await;
    let draft = fx.expense_a_draft;
    let approve = json!({"approved_by_user_id": Uuid::nil().to_string()});

    // A draft cannot be approved: it is submitted first (by an accountant too).
    let refused = put(
        &h,
        format!("/invoices/{draft}/approve"),
        &syndic,
        approve.clone(),
    )
    .await
    .expect_error(400);
    assert!(refused.contains("approval_status: draft"), "{refused}");
    let body = put(
        &h,
        format!("/invoices/{draft}/submit"),
        &accountant,
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(body["approval_status"], "pending_approval");
    // Approving is the syndic's (or the superadmin's), not the accountant's.
    put(
        &h,
        format!("/invoices/{draft}/approve"),
        &accountant,
        approve.clone(),
    )
    .await
    .expect_error(403);
    let body = put(
        &h,
        format!("/invoices/{draft}/approve"),
        &syndic,
        approve.clone(),
    )
    .await
    .expect(200);
    assert_eq!(body["approval_status"], "approved");
    // Paid once approved; an owner has read-only access; paid is final.
    put(
        &h,
        format!("/expenses/{draft}/mark-paid"),
        &owner,
        json!({}),
    )
    .await
    .expect_error(403);
    let body = put(
        &h,
        format!("/expenses/{draft}/mark-paid"),
        &syndic,
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(body["payment_status"], "paid");
    h.post(
        &format!("/api/v1/expenses/{draft}/mark-overdue"),
        Some(&syndic),
        &json!({}),
    )
    .await
    .expect_error(400);
    // Another organization's invoice is 403, an unknown one 404.
    put(
        &h,
        format!("/invoices/{}/submit", fx.expense_b),
        &syndic,
        json!({}),
    )
    .await
    .expect_error(403);
    put(
        &h,
        format!("/invoices/{}/submit", Uuid::new_v4()),
        &syndic,
        json!({}),
    )
    .await
    .expect_error(404);
    // A rejection needs its reason.
    let reject = |reason: &str| json!({"rejected_by_user_id": Uuid::nil().to_string(), "rejection_reason": reason});
    put(
        &h,
        format!("/invoices/{}/reject", fx.expense_b),
        &admin,
        reject(" "),
    )
    .await
    .expect_error(400);

    // Organizations and users are the superadmin's; a taken slug or e-mail is a 400.
    let org = json!({"name": "Syndic Test", "slug": "test-slug", "contact_email": "c@test.be", "subscription_plan": "starter"});
    h.post("/api/v1/organizations", Some(&syndic), &org)
        .await
        .expect_error(403);
    let created = h
        .post("/api/v1/organizations", Some(&admin), &org)
        .await
        .expect(201);
    assert_eq!(
        (created["max_buildings"].as_i64(), created["slug"].as_str()),
        (Some(5), Some("test-slug"))
    );
    let taken = h
        .post("/api/v1/organizations", Some(&admin), &org)
        .await
        .expect_error(400);
    assert_eq!(taken, "Slug already exists");
    let listed = h
        .get("/api/v1/organizations", Some(&admin))
        .await
        .expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    let user = json!({"email": "New.Syndic@Test.be", "password": PASSWORD, "first_name": "Ann",
                      "last_name": "Dupont", "role": "syndic", "organization_id": created["id"]});
    h.post("/api/v1/users", Some(&syndic), &user)
        .await
        .expect_error(403);
    let made = h
        .post("/api/v1/users", Some(&admin), &user)
        .await
        .expect(201);
    assert_eq!(made["email"], "new.syndic@test.be");
    assert!(
        made.get("password_hash").is_none() && made["roles"].is_array(),
        "{made}"
    );
    assert_eq!(
        h.post("/api/v1/users", Some(&admin), &user)
            .await
            .expect_error(400),
        "Email already exists"
    );
    h.login("new.syndic@test.be").await;

    // An ownership: the syndic's, a share in (0, 1], the owner of the unit's organization.
    let unit = fx.unit_a1_101;
    let share = |owner: Uuid, p: &str| json!({"owner_id": owner.to_string(), "ownership_percentage": p, "is_primary_contact": false});
    h.post(
        &format!("/api/v1/units/{unit}/owners"),
        Some(&accountant),
        &share(fx.owner_a2, "0.1"),
    )
    .await
    .expect_error(403);
    h.post(
        &format!("/api/v1/units/{unit}/owners"),
        Some(&syndic),
        &share(fx.owner_b1, "0.1"),
    )
    .await
    .expect_error(400);
    h.post(
        &format!("/api/v1/units/{unit}/owners"),
        Some(&syndic),
        &share(fx.owner_a2, "1.5"),
    )
    .await
    .expect_error(400);

    // The chart: seeded once, kept the second time.
    let pcmn = json!({"organization_id": created["id"]});
    h.post("/api/v1/accounts/seed/belgian-pcmn", Some(&syndic), &pcmn)
        .await
        .expect_error(403);
    let first = h
        .post("/api/v1/accounts/seed/belgian-pcmn", Some(&admin), &pcmn)
        .await
        .expect(200);
    assert!(first["accounts_created"].as_u64().unwrap() > 90, "{first}");
    let second = h
        .post("/api/v1/accounts/seed/belgian-pcmn", Some(&admin), &pcmn)
        .await
        .expect(200);
    assert_eq!(second["accounts_created"], 0);
    h.finish().await;
}
