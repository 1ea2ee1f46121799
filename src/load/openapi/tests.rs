use super::*;

/// A small document in KoproGo's shape (paths relative to /api/v1, a stray PageRequest
/// path parameter) with the cases a scenario meets.
const DOC: &str = r##"{
  "openapi": "3.0.3",
  "info": {"title": "Test API", "version": "2.1"},
  "servers": [{"url": "http://localhost:8080"}],
  "paths": {
    "/api/v1/health": {"get": {"tags": ["Health"], "security": []}},
    "/buildings": {
      "get": {"tags": ["Buildings"], "summary": "List buildings",
        "parameters": [{"name": "page", "in": "path", "required": true,
                        "schema": {"type": "integer", "exclusiveMinimum": true, "minimum": 0}}]},
      "post": {"tags": ["Buildings"]}
    },
    "/buildings/{id}": {"get": {"parameters": [{"$ref": "#/components/parameters/Id"}]}},
    "/buildings/{building_id}/tickets/status/{status}": {"get": {"operationId": "by_status",
      "parameters": [{"name": "building_id", "in": "path", "required": true},
                     {"name": "status", "in": "path", "required": true,
                      "schema": {"$ref": "#/components/schemas/TicketStatus"}}]}},
    "/expenses/{expense_id}/payments": {"get": {"parameters": [
      {"name": "expense_id", "in": "path", "required": true,
       "schema": {"type": "string", "format": "uuid", "example": "4f1c0a52-0000-4000-8000-000000000000"}}]}},
    "/legal/rules/{code}": {"get": {"parameters": [{"name": "code", "in": "path", "required": true,
       "schema": {"type": "string"}}]}},
    "/reports/annual": {"get": {"parameters": [
       {"name": "year", "in": "query", "required": true, "schema": {"type": "integer", "default": 2025}},
       {"name": "lang", "in": "query", "schema": {"type": "string"}}]}},
    "/reports/monthly": {"get": {"parameters": [
       {"name": "month", "in": "query", "required": true, "schema": {"type": "integer"}}]}},
    "/admin/users": {"get": {}},
    "/organizations": {"get": {"responses": {"403": {"description": "Forbidden - SuperAdmin only"}}}},
    "/tickets/assignable-users": {"get": {"responses": {"403": {"description": "Forbidden — only syndic/superadmin"}}}},
    "/stats": {"get": {"tags": ["SuperAdmin Stats"]}},
    "/old": {"get": {"deprecated": true}},
    "/files/{name}": {"get": {"parameters": [{"name": "name", "in": "path", "required": true,
       "example": "a b/{c}"}]}}
  },
  "components": {
    "parameters": {"Id": {"name": "id", "in": "path", "required": true,
                          "schema": {"type": "string", "format": "uuid"}}},
    "schemas": {"TicketStatus": {"type": "string", "enum": ["Open", "Closed"]}}
  }
}"##;

fn outcome<'a>(c: &'a Conversion, documented: &str) -> &'a Outcome {
    &c.routes
        .iter()
        .find(|r| r.documented == documented)
        .unwrap_or_else(|| panic!("no route {documented}"))
        .outcome
}

fn covered(path: &str) -> Outcome {
    Outcome::Covered {
        path: path.into(),
        auth: true,
    }
}

#[test]
fn routes_are_joined_to_the_scope_and_filled_from_learned_ids_and_the_document() {
    let c = convert(DOC, &Options::default()).unwrap();
    assert_eq!((c.operations, c.routes.len()), (15, 14));
    assert_eq!(c.base, "/api/v1");
    assert_eq!(c.stray_path_params, 1);
    assert_eq!(
        *outcome(&c, "/api/v1/health"),
        Outcome::Covered {
            path: "/api/v1/health".into(),
            auth: false
        }
    );
    assert_eq!(
        *outcome(&c, "/api/v1/buildings"),
        covered("/api/v1/buildings")
    );
    assert_eq!(
        *outcome(&c, "/api/v1/buildings/{id}"),
        covered("/api/v1/buildings/{building_id}")
    );
    assert_eq!(
        *outcome(
            &c,
            "/api/v1/buildings/{building_id}/tickets/status/{status}"
        ),
        covered("/api/v1/buildings/{building_id}/tickets/status/Open")
    );
    assert_eq!(
        *outcome(&c, "/api/v1/reports/annual"),
        covered("/api/v1/reports/annual?year=2025")
    );
    // A value from the document is percent-encoded: no brace, slash or space survives.
    assert_eq!(
        *outcome(&c, "/api/v1/files/{name}"),
        covered("/api/v1/files/a%20b%2F%7Bc%7D")
    );
}

#[test]
fn routes_without_a_value_are_commented_out_with_why_and_admin_routes_skipped() {
    let c = convert(DOC, &Options::default()).unwrap();
    let reason = |d: &str| match outcome(&c, d) {
        Outcome::Commented { reason, .. } => reason.clone(),
        other => panic!("{d}: {other:?}"),
    };
    // An example UUID names no row of the deployment: not used.
    assert!(
        reason("/api/v1/expenses/{expense_id}/payments")
            .starts_with("{expense_id}: not an id koprogo-perf learns"),
    );
    assert_eq!(
        reason("/api/v1/legal/rules/{code}"),
        "{code}: the document gives no example, enum or default"
    );
    assert_eq!(
        reason("/api/v1/reports/monthly"),
        "required query parameter `month` has no example, enum or default"
    );
    let skipped = |d: &str| match outcome(&c, d) {
        Outcome::Skipped { reason } => reason.clone(),
        other => panic!("{d}: {other:?}"),
    };
    assert_eq!(
        skipped("/api/v1/admin/users"),
        "under /admin (SuperAdmin's)"
    );
    assert_eq!(
        skipped("/api/v1/stats"),
        "tagged SuperAdmin Stats (SuperAdmin's)"
    );
    assert_eq!(skipped("/api/v1/old"), "deprecated");
    assert_eq!(
        skipped("/api/v1/organizations"),
        "documented as SuperAdmin only"
    );
    assert!(outcome(&c, "/api/v1/tickets/assignable-users").is_covered());
    let options = Options {
        base_path: Some("".into()),
        exclude_tags: vec!["buildings".into()],
        exclude_paths: vec!["/files".into()],
    };
    let c = convert(DOC, &options).unwrap();
    assert!(
        matches!(outcome(&c, "/buildings"), Outcome::Skipped { reason } if reason == "tagged Buildings (--exclude-tag)")
    );
    assert!(matches!(
        outcome(&c, "/files/{name}"),
        Outcome::Skipped { .. }
    ));
    assert!(outcome(&c, "/api/v1/health").is_covered());
}

#[test]
fn the_rendered_scenario_is_valid_and_says_what_it_covers() {
    let c = convert(DOC, &Options::default()).unwrap();
    let text = render(&c, "test.json");
    let scenario = crate::load::scenario::parse(&text, "out.toml", "out").unwrap();
    assert_eq!(scenario.requests.len(), c.count(Outcome::is_covered));
    assert_eq!(scenario.requests.len(), 7);
    assert!(
        text.contains(
            "# 14 GET routes of 15 operations in the document: 7 covered, 3 commented out\n"
        ),
        "{text}"
    );
    assert!(text.contains("# NOT COVERED: {code}: the document gives no example"));
    assert!(text.contains("# path = \"/api/v1/legal/rules/{code}\""));
    assert!(text.contains("#   GET /api/v1/admin/users: under /admin (SuperAdmin's)"));
    let annual = scenario
        .requests
        .iter()
        .find(|r| r.name == "GET /api/v1/reports/annual")
        .unwrap();
    assert_eq!(annual.path.text, "/api/v1/reports/annual?year=2025");
    assert!(!scenario.requests[0].auth);
}

#[test]
fn documents_that_are_not_openapi_3_are_refused_with_one_line() {
    let e = |text: &str| convert(text, &Options::default()).unwrap_err().0;
    assert!(e("openapi: 3.0.0\npaths: {}").contains("convert a YAML document to JSON"));
    assert_eq!(
        e(r#"{"swagger": "2.0", "paths": {}}"#),
        "a Swagger \"2.0\" document, not OpenAPI 3: convert it to OpenAPI 3 first"
    );
    assert_eq!(
        e(r#"{"paths": {}}"#),
        "not an OpenAPI document: no `openapi` field"
    );
    assert_eq!(
        e(r#"{"openapi": "3.1.0"}"#),
        "the OpenAPI document has no `paths`"
    );
    assert!(
        e(r##"{"openapi": "3.1.0", "paths": {"/a": {"get": {"parameters": [{"$ref": "#/x"}]}}}}"##)
            .starts_with("paths./a.get: parameter $ref `#/x`")
    );
    for text in [DOC, "{\"openapi\":\"4.0\",\"paths\":{}}"] {
        if let Err(DocumentError(m)) = convert(text, &Options::default()) {
            assert!(!m.contains('\n'), "{m}");
        }
    }
}

#[test]
fn the_base_comes_from_the_flag_then_the_servers_path() {
    let doc = |url: &str| {
        format!(r#"{{"openapi": "3.1.0", "servers": [{{"url": "{url}"}}], "paths": {{}}}}"#)
    };
    let base = |text: &str| convert(text, &Options::default()).unwrap().base;
    assert_eq!(base(&doc("https://api.example.be/api/v2/")), "/api/v2");
    assert_eq!(base(&doc("/v3")), "/v3");
    assert_eq!(base(&doc("/")), "/api/v1");
    assert_eq!(full_path("/api/v1", "/api/v1"), "/api/v1");
    assert_eq!(full_path("/api/v1", "/api/v10"), "/api/v1/api/v10");
}
