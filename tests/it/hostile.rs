//! Property-based: the reference server, driven in-process (its `app` Router over a
//! real seeded database) with generated methods, paths, query strings, headers and
//! bodies, never panics and never answers 5xx to a client's input; every refusal is a
//! 4xx with a JSON `{"error": …}` body.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use koprogo_perf::server::{AppState, ServerArgs};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use tower::ServiceExt;

/// The routes' first segments (and some that do not exist).
const RESOURCES: &[&str] = &[
    "health",
    "auth/login",
    "auth/me",
    "buildings",
    "units",
    "owners",
    "expenses",
    "accounts",
    "accounts/code",
    "nope",
    "",
];

/// Field names the bodies use, so that generated values land in real fields.
const FIELDS: &[&str] = &[
    "email",
    "password",
    "organization_id",
    "building_id",
    "name",
    "address",
    "city",
    "postal_code",
    "country",
    "total_units",
    "construction_year",
    "unit_number",
    "unit_type",
    "floor",
    "surface_area",
    "quota",
    "first_name",
    "last_name",
    "phone",
    "category",
    "description",
    "amount",
    "expense_date",
    "supplier",
    "invoice_number",
    "account_code",
    "code",
    "label",
    "parent_code",
    "account_type",
    "direct_use",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::String),
        Just(Value::String("2026-06-01T00:00:00Z".into())),
        Just(Value::String("00000000-0000-0000-0000-000000000000".into())),
        Just(Value::String("x".repeat(5000))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(FIELDS).prop_map(str::to_string),
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A plausible value for a field of the create bodies, so that whole bodies get past
/// deserialization and reach the handlers' own checks and the database.
fn plausible(field: &'static str, ids: Vec<String>) -> BoxedStrategy<Value> {
    let text = |s: &'static str| Just(Value::from(s)).boxed();
    match field {
        "building_id" | "organization_id" => {
            prop::sample::select(ids).prop_map(Value::from).boxed()
        }
        "email" => "[a-z]{1,8}@[a-z]{1,8}\\.be".prop_map(Value::from).boxed(),
        "password" => text("syndic123"),
        "unit_type" => prop::sample::select(&["Apartment", "parking", "Cellar", "castle"][..])
            .prop_map(Value::from)
            .boxed(),
        "category" => prop::sample::select(&["Maintenance", "repairs", "Insurance", "bribes"][..])
            .prop_map(Value::from)
            .boxed(),
        "account_type" => prop::sample::select(&["EXPENSE", "asset", "OFF_BALANCE", "Other"][..])
            .prop_map(Value::from)
            .boxed(),
        "expense_date" => prop::sample::select(
            &[
                "2026-06-01T00:00:00Z",
                "2026-06-01",
                "0000-00-00T00:00:00Z",
                "+275760-09-13T00:00:00Z",
            ][..],
        )
        .prop_map(Value::from)
        .boxed(),
        "total_units" | "construction_year" | "floor" => prop_oneof![
            (-5i64..3000).prop_map(Value::from),
            Just(Value::from(i64::from(i32::MAX) + 1)),
        ]
        .boxed(),
        "amount" | "surface_area" | "quota" => prop_oneof![
            (-1e3f64..1e6).prop_map(Value::from),
            Just(Value::from(1e300)),
            Just(Value::from(-0.0)),
        ]
        .boxed(),
        "direct_use" => any::<bool>().prop_map(Value::Bool).boxed(),
        "code" | "parent_code" | "account_code" => {
            prop::sample::select(&["611002", "6", "61", "999999999", "", "6x", "611002 "][..])
                .prop_map(Value::from)
                .boxed()
        }
        _ => "\\PC{0,30}".prop_map(Value::from).boxed(),
    }
}

/// An object with every field of [`FIELDS`]: plausible values, with one hostile value
/// in about every 30 (so that a third of the bodies are wholly plausible).
fn whole_body(ids: Vec<String>) -> impl Strategy<Value = Value> {
    let fields: Vec<BoxedStrategy<(String, Value)>> = FIELDS
        .iter()
        .map(|field| {
            prop_oneof![
                30 => plausible(field, ids.clone()),
                1 => json_value(),
            ]
            .prop_map(move |v| (field.to_string(), v))
            .boxed()
        })
        .collect();
    fields.prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
}

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    path: String,
    query: Option<String>,
    auth: u8,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

/// Characters a URI path segment may hold, percent escapes included (valid or not).
const SEGMENT: &str = "[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,40}";
const QUERY: &str = "[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,60}";

/// Every route: method and path, `{id}` standing for an identifier.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/buildings"),
    ("POST", "/api/v1/buildings"),
    ("GET", "/api/v1/buildings/{id}"),
    ("GET", "/api/v1/buildings/{id}/units"),
    ("GET", "/api/v1/buildings/{id}/expenses"),
    ("GET", "/api/v1/units"),
    ("POST", "/api/v1/units"),
    ("GET", "/api/v1/units/{id}"),
    ("GET", "/api/v1/units/{id}/owners"),
    ("GET", "/api/v1/owners"),
    ("POST", "/api/v1/owners"),
    ("GET", "/api/v1/owners/{id}"),
    ("GET", "/api/v1/expenses"),
    ("POST", "/api/v1/expenses"),
    ("GET", "/api/v1/expenses/{id}"),
    ("GET", "/api/v1/accounts"),
    ("POST", "/api/v1/accounts"),
    ("PUT", "/api/v1/accounts/{id}"),
    ("DELETE", "/api/v1/accounts/{id}"),
    ("GET", "/api/v1/accounts/code/{id}"),
];

/// Mostly real routes with hostile parts (ids: real ones of the caller's organization,
/// random UUIDs, anything a path segment can hold), some anything at all.
fn case(ids: Vec<String>) -> impl Strategy<Value = Case> {
    let id = prop_oneof![
        3 => prop::sample::select(ids.clone()),
        1 => any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        1 => SEGMENT.prop_map(String::from),
        1 => Just("611002".to_string()),
    ];
    let routed = (prop::sample::select(ROUTES), id)
        .prop_map(|((method, path), id)| (method, path.replace("{id}", &id)));
    prop_oneof![4 => routed, 1 => anything()]
        .prop_flat_map(move |(method, path)| request_parts(method, path, ids.clone()))
}

/// A method and a path from the route table's words, in any combination.
fn anything() -> impl Strategy<Value = (&'static str, String)> {
    let method = prop::sample::select(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"][..]);
    let path = (
        prop::sample::select(RESOURCES),
        prop::option::of(prop_oneof![
            SEGMENT.prop_map(String::from),
            Just("00000000-0000-0000-0000-000000000000".to_string()),
            any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        ]),
        prop::option::of(prop::sample::select(
            &["units", "owners", "expenses", ""][..],
        )),
    )
        .prop_map(|(resource, id, sub)| {
            let mut path = format!("/api/v1/{resource}");
            if let Some(id) = id {
                path.push('/');
                path.push_str(&id);
                if let Some(sub) = sub {
                    path.push('/');
                    path.push_str(sub);
                }
            }
            path
        });
    (method, path)
}

/// The query string, credentials, content type and body around `method` and `path`.
fn request_parts(
    method: &'static str,
    path: String,
    ids: Vec<String>,
) -> impl Strategy<Value = Case> {
    let query = prop::option::of(prop_oneof![
        QUERY.prop_map(String::from),
        (
            prop::sample::select(&["page", "per_page", "building_id", "sort", "q"][..]),
            prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                Just("99999999999999999999999".to_string()),
                Just("1e3".to_string()),
                Just("%ZZ".to_string()),
                "[a-z0-9-]{0,10}".prop_map(String::from),
            ],
            prop::sample::select(&["page", "per_page"][..]),
            any::<i64>(),
        )
            .prop_map(|(k, v, k2, v2)| format!("{k}={v}&{k2}={v2}")),
    ]);
    let body = prop_oneof![
        3 => whole_body(ids).prop_map(|v| v.to_string().into_bytes()),
        1 => Just(Vec::new()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(b"{\"email\":".to_vec()),
    ];
    let auth = prop_oneof![6 => Just(1u8), 1 => Just(0u8), 1 => Just(2u8)];
    let content_type = prop_oneof![
        6 => Just(Some("application/json")),
        1 => Just(None),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/json; charset=utf-8")),
    ];
    (Just(method), Just(path), query, auth, content_type, body).prop_map(
        |(method, path, query, auth, content_type, body)| Case {
            method,
            path,
            query,
            auth,
            content_type,
            body,
        },
    )
}

#[test]
fn generated_requests_never_panic_the_server_nor_get_a_5xx() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (db, router, token, ids) = runtime.block_on(async {
        let (db, pool) = crate::common::migrated_db().await;
        koprogo_perf::seed::seed(&pool, &Default::default())
            .await
            .unwrap();
        let ids: Vec<String> = sqlx::query_scalar(
            "(SELECT id::text FROM buildings LIMIT 5) UNION ALL (SELECT id::text FROM units LIMIT 5) \
             UNION ALL (SELECT id::text FROM owners LIMIT 5) \
             UNION ALL (SELECT id::text FROM expenses LIMIT 5) \
             UNION ALL (SELECT id::text FROM accounts LIMIT 5) \
             UNION ALL (SELECT code FROM accounts LIMIT 5)",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        let config = ServerArgs::default()
            .for_own_load()
            .resolve()
            .unwrap();
        let state = AppState::connect(db.url(), config).await.unwrap();
        let router = koprogo_perf::server::app(state);
        let login = koprogo_perf::seed::demo_logins(1).remove(0);
        let response = router
            .clone()
            .oneshot(
                Request::post("/api/v1/auth/login")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        serde_json::json!({"email": login.email, "password": login.password})
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        (db, router, body["token"].as_str().unwrap().to_string(), ids)
    });

    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(ids), |case| {
        let uri = match &case.query {
            Some(q) => format!("{}?{q}", case.path),
            None => case.path.clone(),
        };
        let mut request = Request::builder().method(case.method).uri(&uri);
        match case.auth {
            1 => request = request.header("authorization", format!("Bearer {token}")),
            2 => request = request.header("authorization", "Bearer not.a.jwt"),
            _ => {}
        }
        if let Some(ct) = case.content_type {
            request = request.header("content-type", ct);
        }
        let Ok(request) = request.body(Body::from(case.body.clone())) else {
            // Not a request http can even build (an invalid URI): no server sees it.
            return Ok(());
        };
        let (status, body) = runtime.block_on(async {
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, bytes)
        });
        let text = String::from_utf8_lossy(&body);
        prop_assert!(
            !status.is_server_error(),
            "{} {uri}: {status} {text}",
            case.method
        );
        if status.is_client_error() && case.method != "HEAD" {
            let json: Result<Value, _> = serde_json::from_slice(&body);
            prop_assert!(
                json.as_ref().is_ok_and(|v| v["error"].is_string()),
                "{} {uri}: {status} without a JSON error: {text}",
                case.method
            );
        }
        Ok(())
    });
    runtime.block_on(db.close());
    if let Err(e) = result {
        panic!("{e}");
    }
}
