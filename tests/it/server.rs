//! The reference server over HTTP, each test on its own embedded cluster: the schema
//! migrated, a small fixture of two organizations inserted (so that every expected
//! value is known), and the server on a free loopback port. KoproGo's contract route
//! by route is pinned in `contract`, on this fixture; here are what the reference
//! server adds: hostile bodies, pool exhaustion, and its tuning switches.

use std::sync::OnceLock;
use std::time::Duration;

use koprogo_perf::pg::Database;
use koprogo_perf::server::password::hash_password;
use koprogo_perf::server::{JwtSecret, ServerArgs};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common;

pub(crate) const PASSWORD: &str = "syndic123";
pub(crate) const SECRET: &[u8] = b"server-tests-secret-0123456789";

/// One bcrypt hash for every fixture user (hashing is slow in debug builds).
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD, b"somesaltsomesalt"))
}

/// Ids of one test's rows. Organization A has two buildings (A1 with two units and
/// two expenses, A2 empty), two owners, current and past owners on unit A1-101,
/// three accounts; organization B has one of most things; a platform superadmin
/// belongs to neither. Every user's password is [`PASSWORD`].
#[derive(Clone, Debug)]
pub(crate) struct Fixture {
    pub org_a: Uuid,
    pub org_b: Uuid,
    pub syndic_a: String,
    pub owner_user_a: String,
    pub accountant_a: String,
    pub board_member_a: String,
    pub syndic_b: String,
    pub accountant_b: String,
    pub superadmin: String,
    pub building_a1: Uuid,
    pub building_a2: Uuid,
    pub building_b1: Uuid,
    pub unit_a1_101: Uuid,
    pub unit_a1_102: Uuid,
    pub unit_b1: Uuid,
    pub owner_a1: Uuid,
    pub owner_a2: Uuid,
    pub owner_b1: Uuid,
    pub expense_a_approved: Uuid,
    pub expense_a_draft: Uuid,
    pub expense_b: Uuid,
    pub account_a_6100: Uuid,
    pub account_b_7000: Uuid,
}

impl Fixture {
    async fn insert(pool: &PgPool) -> Self {
        let id = Uuid::new_v4;
        let fx = Fixture {
            org_a: id(),
            org_b: id(),
            syndic_a: "syndic@a.test".to_string(),
            owner_user_a: "owner@a.test".to_string(),
            accountant_a: "accountant@a.test".to_string(),
            board_member_a: "board@a.test".to_string(),
            syndic_b: "syndic@b.test".to_string(),
            accountant_b: "accountant@b.test".to_string(),
            superadmin: "admin@platform.test".to_string(),
            building_a1: id(),
            building_a2: id(),
            building_b1: id(),
            unit_a1_101: id(),
            unit_a1_102: id(),
            unit_b1: id(),
            owner_a1: id(),
            owner_a2: id(),
            owner_b1: id(),
            expense_a_approved: id(),
            expense_a_draft: id(),
            expense_b: id(),
            account_a_6100: id(),
            account_b_7000: id(),
        };
        let mut tx = pool.begin().await.unwrap();
        for (org, name) in [(fx.org_a, "A"), (fx.org_b, "B")] {
            sqlx::query("INSERT INTO organizations (id, name, slug) VALUES ($1, $2, $3)")
                .bind(org)
                .bind(format!("Org {name}"))
                .bind(format!("org-{}", name.to_lowercase()))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        for (email, role, org) in [
            (&fx.syndic_a, "syndic", Some(fx.org_a)),
            (&fx.owner_user_a, "owner", Some(fx.org_a)),
            (&fx.accountant_a, "accountant", Some(fx.org_a)),
            (&fx.board_member_a, "board_member", Some(fx.org_a)),
            (&fx.syndic_b, "syndic", Some(fx.org_b)),
            (&fx.accountant_b, "accountant", Some(fx.org_b)),
            (&fx.superadmin, "superadmin", None),
        ] {
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, first_name, last_name, role, \
                 organization_id) VALUES ($1, $2, $3, 'Jean', 'Dupont', $4, $5)",
            )
            .bind(id())
            .bind(email)
            .bind(password_hash())
            .bind(role)
            .bind(org)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        for (b, org, name, units) in [
            (fx.building_a1, fx.org_a, "Résidence Alpha", 2),
            (fx.building_a2, fx.org_a, "Beta Gardens", 4),
            (fx.building_b1, fx.org_b, "Gamma Tower", 1),
        ] {
            sqlx::query(
                "INSERT INTO buildings (id, organization_id, name, address, city, postal_code, \
                 total_units, construction_year) \
                 VALUES ($1, $2, $3, 'Rue Neuve 1', 'Bruxelles', '1000', $4, 1990)",
            )
            .bind(b)
            .bind(org)
            .bind(name)
            .bind(units)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        for (u, org, b, number, floor) in [
            (fx.unit_a1_101, fx.org_a, fx.building_a1, "101", 1),
            (fx.unit_a1_102, fx.org_a, fx.building_a1, "102", 1),
            (fx.unit_b1, fx.org_b, fx.building_b1, "1", 0),
        ] {
            sqlx::query(
                "INSERT INTO units (id, organization_id, building_id, unit_number, unit_type, \
                 floor, surface_area, quota) VALUES ($1, $2, $3, $4, 'apartment', $5, 85.5, 500)",
            )
            .bind(u)
            .bind(org)
            .bind(b)
            .bind(number)
            .bind(floor)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        for (o, org, first, last) in [
            (fx.owner_a1, fx.org_a, "Alice", "Martin"),
            (fx.owner_a2, fx.org_a, "Bruno", "Janssens"),
            (fx.owner_b1, fx.org_b, "Chloé", "Peeters"),
        ] {
            sqlx::query(
                "INSERT INTO owners (id, organization_id, first_name, last_name, email, phone, \
                 address, city, postal_code) \
                 VALUES ($1, $2, $3, $4, $5, '+32 2 123 45 67', 'Rue Haute 5', 'Liège', '4000')",
            )
            .bind(o)
            .bind(org)
            .bind(first)
            .bind(last)
            .bind(format!("{}@owners.test", first.to_lowercase()))
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        for (unit, owner, share, start, end, primary) in [
            (
                fx.unit_a1_101,
                fx.owner_a2,
                "0.5",
                "2010-01-01T00:00:00Z",
                Some("2019-12-31T00:00:00Z"),
                true,
            ),
            (
                fx.unit_a1_101,
                fx.owner_a1,
                "0.6",
                "2020-01-01T00:00:00Z",
                None,
                true,
            ),
            (
                fx.unit_a1_101,
                fx.owner_a2,
                "0.4",
                "2020-01-01T00:00:00Z",
                None,
                false,
            ),
            (
                fx.unit_b1,
                fx.owner_b1,
                "1",
                "2021-06-01T00:00:00Z",
                None,
                true,
            ),
        ] {
            sqlx::query(
                "INSERT INTO unit_owners (id, unit_id, owner_id, ownership_percentage, \
                 start_date, end_date, is_primary_contact) \
                 VALUES ($1, $2, $3, $4::numeric, $5::timestamptz, $6::timestamptz, $7)",
            )
            .bind(id())
            .bind(unit)
            .bind(owner)
            .bind(share)
            .bind(start)
            .bind(end)
            .bind(primary)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        for (e, org, b, category, amount, date, status) in [
            (
                fx.expense_a_approved,
                fx.org_a,
                fx.building_a1,
                "maintenance",
                "1500.00",
                "2025-01-10T00:00:00Z",
                "approved",
            ),
            (
                fx.expense_a_draft,
                fx.org_a,
                fx.building_a1,
                "cleaning",
                "200.50",
                "2025-02-01T00:00:00Z",
                "draft",
            ),
            (
                fx.expense_b,
                fx.org_b,
                fx.building_b1,
                "insurance",
                "999.99",
                "2025-01-05T00:00:00Z",
                "approved",
            ),
        ] {
            sqlx::query(
                "INSERT INTO expenses (id, organization_id, building_id, category, description, \
                 amount, expense_date, approval_status, supplier, account_code) \
                 VALUES ($1, $2, $3, $4, 'Test expense', $5::numeric, $6::timestamptz, $7, 'ACME', \
                 '6100')",
            )
            .bind(e)
            .bind(org)
            .bind(b)
            .bind(category)
            .bind(amount)
            .bind(date)
            .bind(status)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        for (account, org, code, label, parent, kind) in [
            (
                fx.account_a_6100,
                fx.org_a,
                "6100",
                "Entretien et réparations",
                Some("61"),
                "EXPENSE",
            ),
            (
                id(),
                fx.org_a,
                "61",
                "Services et biens divers",
                None,
                "EXPENSE",
            ),
            (id(), fx.org_a, "5500", "Banque", Some("55"), "ASSET"),
            (
                id(),
                fx.org_b,
                "6100",
                "Entretien et réparations",
                Some("61"),
                "EXPENSE",
            ),
            (
                fx.account_b_7000,
                fx.org_b,
                "7000",
                "Appels de fonds",
                Some("70"),
                "REVENUE",
            ),
        ] {
            sqlx::query(
                "INSERT INTO accounts (id, code, label, parent_code, account_type, organization_id) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(account)
            .bind(code)
            .bind(label)
            .bind(parent)
            .bind(kind)
            .bind(org)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        fx
    }
}

/// The fixture in a fresh cluster, and the server over it.
pub(crate) struct Harness {
    pub db: Database,
    /// The test's own connections (the fixture, row counts), apart from the server's.
    pub pool: PgPool,
    pub server: common::Server,
    pub base: String,
    pub client: reqwest::Client,
    pub fx: Fixture,
}

pub(crate) struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status, body {}", self.body);
        self.body
    }

    /// Asserts a status and the `{"error": "..."}` body; returns the message.
    #[track_caller]
    pub fn expect_error(self, status: u16) -> String {
        let body = self.expect(status);
        let message = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {body}"))
            .to_string();
        assert!(!message.is_empty());
        message
    }
}

impl Harness {
    pub async fn start(pool_max: u32, acquire_timeout: f64) -> Self {
        Self::start_with(ServerArgs {
            pool_max,
            acquire_timeout,
            ..ServerArgs::default()
        })
        .await
    }

    /// The fixture and a server with `args` (the test's JWT secret set).
    pub async fn start_with(args: ServerArgs) -> Self {
        let (db, pool) = common::migrated_db().await;
        let fx = Fixture::insert(&pool).await;
        let server = common::server(
            db.url(),
            ServerArgs {
                jwt_secret: Some(JwtSecret::new(SECRET)),
                ..args
            },
        )
        .await;
        Self {
            db,
            pool,
            base: server.base.clone(),
            server,
            client: common::client(),
            fx,
        }
    }

    /// Stops the server (asserting a clean graceful shutdown), then the cluster.
    pub async fn finish(self) {
        self.server.stop().await;
        self.pool.close().await;
        self.db.close().await;
    }

    pub async fn send(&self, request: reqwest::RequestBuilder, token: Option<&str>) -> Reply {
        let request = match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base)), token)
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(
            self.client.post(format!("{}{path}", self.base)).json(body),
            token,
        )
        .await
    }

    /// The status of a request whose answer may have no body (a 204).
    pub async fn status_of(&self, request: reqwest::RequestBuilder, token: &str) -> u16 {
        request
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: &'static str,
    ) -> Reply {
        let mut request = self.client.post(format!("{}{path}", self.base)).body(body);
        if let Some(ct) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, ct);
        }
        self.send(request, token).await
    }

    pub async fn login(&self, email: &str) -> String {
        let body = self
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "email": email, "password": PASSWORD }),
            )
            .await
            .expect(200);
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn count(&self, sql: &str, org: Uuid) -> i64 {
        sqlx::query_scalar(sql)
            .bind(org)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

pub(crate) fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

/// Bodies no create accepts, each a 400 with a message, and nothing written: the
/// values KoproGo refuses (its DTO and entity checks, in `contract`) and the ones it
/// would store but a hostile client sends (huge, NUL, out of any range).
#[tokio::test]
async fn bad_bodies_are_400_and_write_nothing() {
    let h = Harness::start(5, 3.0).await;
    let fx = h.fx.clone();
    let syndic = h.login(&fx.syndic_a).await;
    let admin = h.login(&fx.superadmin).await;

    let building = json!({ "organization_id": fx.org_a, "name": "N", "address": "A", "city": "C",
                           "postal_code": "1000", "country": "Belgium", "total_units": 3 });
    let unit = json!({ "organization_id": fx.org_a, "building_id": fx.building_a2,
                       "unit_number": "9", "unit_type": "Apartment", "surface_area": 50.0,
                       "quota": 100 });
    let owner = json!({ "first_name": "F", "last_name": "L", "email": "f@l.be", "address": "A",
                        "city": "C", "postal_code": "1000", "country": "Belgium" });
    let expense = json!({ "building_id": fx.building_a2, "category": "Maintenance",
                          "description": "D", "amount": 10.0,
                          "expense_date": "2025-01-01T00:00:00Z" });
    let with = |base: &Value, field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let without = |base: &Value, field: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases = [
        (
            "/api/v1/buildings",
            with(&building, "total_units", json!(0)),
        ),
        (
            "/api/v1/buildings",
            with(&building, "total_units", json!(1e20)),
        ),
        (
            "/api/v1/buildings",
            with(&building, "total_units", json!("3")),
        ),
        (
            "/api/v1/buildings",
            with(&building, "total_tantiemes", json!(0)),
        ),
        (
            "/api/v1/buildings",
            with(&building, "construction_year", json!(3000)),
        ),
        ("/api/v1/buildings", with(&building, "name", json!("   "))),
        (
            "/api/v1/buildings",
            with(&building, "name", json!("x".repeat(300))),
        ),
        ("/api/v1/buildings", with(&building, "city", Value::Null)),
        ("/api/v1/buildings", without(&building, "address")),
        (
            "/api/v1/buildings",
            with(&building, "organization_id", json!(Uuid::new_v4())),
        ),
        ("/api/v1/units", with(&unit, "unit_type", json!("Castle"))),
        ("/api/v1/units", with(&unit, "quota", json!(0))),
        ("/api/v1/units", with(&unit, "quota", json!("lots"))),
        ("/api/v1/units", with(&unit, "surface_area", json!(-1))),
        ("/api/v1/units", with(&unit, "floor", json!(1.5))),
        (
            "/api/v1/units",
            with(&unit, "building_id", json!("not-a-uuid")),
        ),
        (
            "/api/v1/units",
            with(&unit, "unit_number", json!("a\u{0}b")),
        ),
        ("/api/v1/owners", with(&owner, "email", json!("nope"))),
        ("/api/v1/owners", without(&owner, "last_name")),
        (
            "/api/v1/expenses",
            with(&expense, "category", json!("Bribes")),
        ),
        ("/api/v1/expenses", with(&expense, "amount", json!(0))),
        ("/api/v1/expenses", with(&expense, "amount", json!(-5))),
        ("/api/v1/expenses", with(&expense, "amount", json!(1e10))),
        ("/api/v1/expenses", with(&expense, "amount", json!(0.001))),
        ("/api/v1/expenses", with(&expense, "amount", json!("ten"))),
        (
            "/api/v1/expenses",
            with(&expense, "expense_date", json!("2025-13-01T00:00:00Z")),
        ),
        (
            "/api/v1/expenses",
            with(&expense, "expense_date", json!("yesterday")),
        ),
        ("/api/v1/expenses", with(&expense, "description", json!(""))),
        (
            "/api/v1/expenses",
            with(&expense, "account_code", json!("1".repeat(41))),
        ),
        ("/api/v1/expenses", json!([1, 2, 3])),
    ];
    for (path, body) in &cases {
        // Structural writes are the superadmin's: a syndic would get 403 first.
        let token = if path.ends_with("buildings") || path.ends_with("units") {
            &admin
        } else {
            &syndic
        };
        let r = h.post(path, Some(token), body).await;
        assert_eq!(r.status, 400, "{path} {body}: {}", r.body);
        r.expect_error(400);
    }
    for path in [
        "/api/v1/buildings",
        "/api/v1/units",
        "/api/v1/owners",
        "/api/v1/expenses",
        "/api/v1/auth/login",
    ] {
        let t = Some(admin.as_str());
        h.post_raw(path, t, Some("application/json"), "{\"name\": \"x\",")
            .await
            .expect_error(400);
        h.post_raw(path, t, Some("application/json"), "")
            .await
            .expect_error(400);
        h.post_raw(path, t, None, "{}").await.expect_error(415);
    }
    for table in ["buildings", "units", "owners", "expenses"] {
        let n = h
            .count(
                &format!("SELECT COUNT(*) FROM {table} WHERE organization_id = $1"),
                fx.org_a,
            )
            .await;
        assert_eq!(n, 2, "{table}: the fixture's rows only");
    }

    h.finish().await;
}

#[tokio::test]
async fn pool_exhaustion_is_503_with_retry_after() {
    let h = Harness::start(1, 0.2).await;
    let token = h.login(&h.fx.syndic_a.clone()).await;

    let held = h.server.state.pool.acquire().await.unwrap();
    let r = h.get("/api/v1/buildings", Some(&token)).await;
    assert_eq!(r.headers["retry-after"], "1");
    r.expect_error(503);
    // Health needs no database.
    h.get("/api/v1/health", None).await.expect(200);
    drop(held);
    h.get("/api/v1/buildings", Some(&token)).await.expect(200);

    h.finish().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let h = Harness::start(2, 3.0).await;

    h.get("/api/v1/nothing-here", None).await.expect_error(404);
    h.get("/health", None).await.expect_error(404);
    let r = h
        .send(
            h.client.delete(format!("{}/api/v1/buildings", h.base)),
            None,
        )
        .await;
    r.expect_error(405);
    let r = h
        .send(h.client.put(format!("{}/api/v1/health", h.base)), None)
        .await;
    r.expect_error(405);

    h.finish().await;
}

/// The tuning switches (`ServerConfig`'s account cache, parallel queries, gzip, HTTP
/// caching headers, pool settings): each one's effect, observed from outside.
mod switches {
    use std::io::Read;
    use std::time::Instant;

    use koprogo_perf::server::Preset;
    use reqwest::header::{
        ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, ETAG, HeaderMap, IF_NONE_MATCH, VARY,
    };

    use super::*;

    fn arm(name: &str) -> ServerArgs {
        ServerArgs::for_arm(name).unwrap()
    }

    /// Another server over the harness's database, with the same JWT secret so that
    /// the harness's tokens work on it. `stop()` it before `h.finish()`.
    async fn another_server(h: &Harness, args: ServerArgs) -> common::Server {
        common::server(
            h.db.url(),
            ServerArgs {
                jwt_secret: Some(JwtSecret::new(SECRET)),
                ..args
            },
        )
        .await
    }

    /// A response kept as bytes (304s and gzip bodies are not JSON).
    struct Raw {
        status: u16,
        headers: HeaderMap,
        bytes: Vec<u8>,
    }

    impl Raw {
        fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
            self.headers.get(name).map(|v| v.to_str().unwrap())
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.bytes).unwrap()
        }
    }

    async fn raw(request: reqwest::RequestBuilder, token: &str) -> Raw {
        let response = request.bearer_auth(token).send().await.unwrap();
        Raw {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            bytes: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// Calls, so far, of the statement that reads an organization's whole chart of
    /// accounts (GET /accounts, and the cache's loads).
    async fn account_loads(pool: &PgPool) -> i64 {
        sqlx::query_scalar(
            "SELECT COALESCE(sum(calls), 0)::int8 FROM pg_stat_statements WHERE query LIKE $1",
        )
        .bind("%FROM accounts WHERE organization_id = $1 ORDER BY code")
        .fetch_one(pool)
        .await
        .unwrap()
    }

    fn codes(list: &Value) -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap().to_string())
            .collect()
    }

    #[tokio::test]
    async fn account_cache_serves_from_memory_per_organization_until_a_write() {
        let h = Harness::start_with(arm("account_cache")).await;
        sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&h.pool)
            .await
            .unwrap();
        let a = h.login(&h.fx.syndic_a.clone()).await;
        let b = h.login(&h.fx.syndic_b.clone()).await;
        // The chart's editors (KoproGo: accountant or superadmin).
        let a_editor = h.login(&h.fx.accountant_a.clone()).await;
        let b_editor = h.login(&h.fx.accountant_b.clone()).await;
        let loads = account_loads(&h.pool).await;

        // First use loads A's accounts, once.
        let first = h.get("/api/v1/accounts", Some(&a)).await.expect(200);
        let mut sorted = codes(&first);
        sorted.sort();
        assert_eq!(sorted, ["5500", "61", "6100"]);
        assert_eq!(account_loads(&h.pool).await, loads + 1);

        // Then memory: no statement runs, so the answers come even while the table is
        // locked against any read.
        let mut tx = h.pool.begin().await.unwrap();
        sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(h.get("/api/v1/accounts", Some(&a)).await.expect(200), first);
        let one = h
            .get("/api/v1/accounts/code/6100", Some(&a))
            .await
            .expect(200);
        assert_eq!(one["organization_id"], h.fx.org_a.to_string());
        // B's code is not in A's chart.
        h.get("/api/v1/accounts/code/7000", Some(&a))
            .await
            .expect_error(404);
        tx.rollback().await.unwrap();
        assert_eq!(account_loads(&h.pool).await, loads + 1);

        // B has its own entry: its accounts only, loaded once.
        let b_list = h.get("/api/v1/accounts", Some(&b)).await.expect(200);
        let mut b_codes = codes(&b_list);
        b_codes.sort();
        assert_eq!(b_codes, ["6100", "7000"]);
        for account in b_list.as_array().unwrap() {
            assert_eq!(account["organization_id"], h.fx.org_b.to_string());
        }
        h.get("/api/v1/accounts/code/5500", Some(&b))
            .await
            .expect_error(404);
        assert_eq!(h.get("/api/v1/accounts", Some(&a)).await.expect(200), first);
        assert_eq!(account_loads(&h.pool).await, loads + 2);

        // A write drops A's entry: the next read goes to the database and shows it.
        let body = json!({
            "code": "6110",
            "label": "Entretien ascenseur",
            "parent_code": "61",
            "account_type": "EXPENSE",
            "direct_use": true,
            "organization_id": h.fx.org_a
        });
        let created = h
            .post("/api/v1/accounts", Some(&a_editor), &body)
            .await
            .expect(201);
        assert_eq!(created["organization_id"], h.fx.org_a.to_string());
        assert_eq!(created["direct_use"], true);
        let after = h.get("/api/v1/accounts", Some(&a)).await.expect(200);
        assert_eq!(codes(&after).len(), 4);
        assert!(codes(&after).contains(&"6110".to_string()));
        assert_eq!(account_loads(&h.pool).await, loads + 3);
        // ... and only A's: B's entry still serves without a statement.
        assert_eq!(
            h.get("/api/v1/accounts", Some(&b)).await.expect(200),
            b_list
        );
        assert_eq!(account_loads(&h.pool).await, loads + 3);

        // B's accountant can neither update nor delete A's account.
        let id = created["id"].as_str().unwrap().to_string();
        let url = format!("{}/api/v1/accounts/{id}", h.base);
        let renamed = json!({ "label": "Ascenseurs", "direct_use": false });
        h.send(h.client.put(&url).json(&renamed), Some(&b_editor))
            .await
            .expect_error(403);
        let r = raw(h.client.delete(&url), &b_editor).await;
        assert_eq!(r.status, 403);

        // An update and a delete show at once too.
        let put = h
            .send(h.client.put(&url).json(&renamed), Some(&a_editor))
            .await
            .expect(200);
        assert_eq!(put["label"], "Ascenseurs");
        let one = h
            .get("/api/v1/accounts/code/6110", Some(&a))
            .await
            .expect(200);
        assert_eq!(
            (&one["label"], &one["direct_use"]),
            (&json!("Ascenseurs"), &json!(false))
        );
        assert_eq!(account_loads(&h.pool).await, loads + 4);
        assert_eq!(raw(h.client.delete(&url), &a_editor).await.status, 204);
        let gone = h.get("/api/v1/accounts", Some(&a)).await.expect(200);
        assert_eq!(gone, first);
        h.get("/api/v1/accounts/code/6110", Some(&a))
            .await
            .expect_error(404);
        assert_eq!(account_loads(&h.pool).await, loads + 5);

        h.finish().await;
    }

    /// The statements of `route` that wait on a lock, as pg_stat_activity shows them.
    async fn waiting(pool: &PgPool, route: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
        )
        .bind(format!("/* GET {route} */%"))
        .fetch_all(pool)
        .await
        .unwrap()
    }

    /// Polls until at least `n` statements of `route` wait (a minute is a hang guard,
    /// not a timing bound).
    async fn until_waiting(pool: &PgPool, route: &str, n: usize) -> Vec<String> {
        let began = Instant::now();
        loop {
            let statements = waiting(pool, route).await;
            if statements.len() >= n {
                return statements;
            }
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "{route}: {} statement(s) ever waited at once, expected {n}: {statements:?}",
                statements.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn one_each(statements: &[String], a: &str, b: &str) {
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(
            statements.iter().filter(|s| s.contains(a)).count() == 1
                && statements.iter().filter(|s| s.contains(b)).count() == 1,
            "expected one {a:?} and one {b:?} statement: {statements:?}"
        );
    }

    /// Locks the tables the requests read, sends them, and shows what then waits: with
    /// `parallel_queries` both statements of a request are in flight at once; without,
    /// only the first (the second would start after it).
    #[tokio::test]
    async fn parallel_queries_have_both_statements_in_flight_at_once() {
        let h = Harness::start_with(arm("parallel_queries")).await;
        let sequential = another_server(&h, ServerArgs::default()).await;
        let token = h.login(&h.fx.syndic_a.clone()).await;
        let units_route = "/api/v1/buildings/{id}/units";

        for (base, parallel) in [(h.base.clone(), true), (sequential.base.clone(), false)] {
            let mut tx = h.pool.begin().await.unwrap();
            sqlx::query("LOCK TABLE buildings, units IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .unwrap();
            let list = tokio::spawn(
                h.client
                    .get(format!("{base}/api/v1/buildings"))
                    .bearer_auth(&token)
                    .send(),
            );
            let units = tokio::spawn(
                h.client
                    .get(format!(
                        "{base}/api/v1/buildings/{}/units",
                        h.fx.building_a1
                    ))
                    .bearer_auth(&token)
                    .send(),
            );
            if parallel {
                let list = until_waiting(&h.pool, "/api/v1/buildings", 2).await;
                one_each(&list, "COUNT(*)", "LIMIT $2");
                let sub = until_waiting(&h.pool, units_route, 2).await;
                one_each(&sub, "FROM buildings", "FROM units");
            } else {
                let list = until_waiting(&h.pool, "/api/v1/buildings", 1).await;
                assert!(list[0].contains("COUNT(*)"), "{list:?}");
                let sub = until_waiting(&h.pool, units_route, 1).await;
                assert!(sub[0].contains("FROM units"), "{sub:?}");
                // A (wrongly) concurrent second statement would show by now; this
                // settle time can only make the check pass less often, never flake.
                tokio::time::sleep(Duration::from_millis(300)).await;
                assert_eq!(waiting(&h.pool, "/api/v1/buildings").await.len(), 1);
                assert_eq!(waiting(&h.pool, units_route).await.len(), 1);
            }
            tx.rollback().await.unwrap();
            let list = list.await.unwrap().unwrap();
            assert_eq!(list.status(), 200);
            let list: Value = list.json().await.unwrap();
            assert_eq!(list["data"].as_array().unwrap().len(), 2);
            assert_eq!(list["pagination"]["total_items"], 2);
            let units = units.await.unwrap().unwrap();
            assert_eq!(units.status(), 200);
            let units: Value = units.json().await.unwrap();
            assert_eq!(units.as_array().unwrap().len(), 2);
        }

        // The same answers as one after the other, 403s and 404s included.
        for path in [
            format!("/api/v1/buildings/{}/units", h.fx.building_a2),
            format!("/api/v1/buildings/{}/expenses", h.fx.building_a1),
        ] {
            let p = h.get(&path, Some(&token)).await.expect(200);
            let s = raw(h.client.get(format!("{}{path}", sequential.base)), &token).await;
            assert_eq!((s.status, s.json()), (200, p));
        }
        for (path, status) in [
            (format!("/api/v1/buildings/{}/units", h.fx.building_b1), 403),
            (
                format!("/api/v1/buildings/{}/expenses", h.fx.building_b1),
                403,
            ),
            (
                format!("/api/v1/buildings/{}/expenses", Uuid::new_v4()),
                404,
            ),
        ] {
            h.get(&path, Some(&token)).await.expect_error(status);
            let s = raw(h.client.get(format!("{}{path}", sequential.base)), &token).await;
            assert_eq!(s.status, status, "{path}");
        }

        sequential.stop().await;
        h.finish().await;
    }

    /// A client that neither asks for gzip nor undoes it: reqwest's `gzip` feature is
    /// on in this build (goose enables it), and `common::client()` would send
    /// `Accept-Encoding: gzip` and decompress behind the test's back.
    fn identity_client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_gzip()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[tokio::test]
    async fn gzip_compresses_large_bodies_for_clients_that_accept_it() {
        let h = Harness::start_with(arm("gzip")).await;
        let plain = another_server(&h, ServerArgs::default()).await;
        let token = h.login(&h.fx.syndic_a.clone()).await;
        let c = identity_client();
        // Enough buildings for a page well above the 1 KiB minimum.
        for i in 0..10 {
            sqlx::query(
                "INSERT INTO buildings (id, organization_id, name, address, city, postal_code, \
                 total_units) VALUES ($1, $2, $3, 'Rue Neuve 1', 'Bruxelles', '1000', 4)",
            )
            .bind(Uuid::new_v4())
            .bind(h.fx.org_a)
            .bind(format!("Résidence {i}"))
            .execute(&h.pool)
            .await
            .unwrap();
        }
        let url = format!("{}/api/v1/buildings?per_page=100", h.base);

        let identity = raw(c.get(&url), &token).await;
        assert_eq!(identity.status, 200);
        assert_eq!(identity.header(CONTENT_ENCODING), None);
        assert!(identity.bytes.len() > 1024, "{}", identity.bytes.len());

        let gz = raw(c.get(&url).header(ACCEPT_ENCODING, "gzip"), &token).await;
        assert_eq!(gz.status, 200);
        assert_eq!(gz.header(CONTENT_ENCODING), Some("gzip"));
        assert!(
            gz.header(VARY)
                .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
        );
        assert!(
            gz.bytes.len() < identity.bytes.len(),
            "gzip {} vs identity {}",
            gz.bytes.len(),
            identity.bytes.len()
        );
        let unzipped: Value = serde_json::from_slice(&gunzip(&gz.bytes)).unwrap();
        assert_eq!(unzipped, identity.json());

        // Only gzip is offered; small bodies are left alone.
        let br = raw(c.get(&url).header(ACCEPT_ENCODING, "br"), &token).await;
        assert_eq!(br.header(CONTENT_ENCODING), None);
        assert_eq!(br.json(), identity.json());
        let me = raw(
            c.get(format!("{}/api/v1/auth/me", h.base))
                .header(ACCEPT_ENCODING, "gzip"),
            &token,
        )
        .await;
        assert_eq!(me.status, 200);
        assert_eq!(me.header(CONTENT_ENCODING), None);
        assert!(me.bytes.len() < 1024);

        // Without the switch, never.
        let off = raw(
            c.get(format!("{}/api/v1/buildings?per_page=100", plain.base))
                .header(ACCEPT_ENCODING, "gzip"),
            &token,
        )
        .await;
        assert_eq!(off.header(CONTENT_ENCODING), None);
        assert_eq!(off.json(), identity.json());

        plain.stop().await;
        h.finish().await;
    }

    #[tokio::test]
    async fn etags_answer_304_until_the_data_changes() {
        let h = Harness::start_with(arm("http_cache_headers")).await;
        let plain = another_server(&h, ServerArgs::default()).await;
        let a = h.login(&h.fx.syndic_a.clone()).await;
        let b = h.login(&h.fx.syndic_b.clone()).await;
        let c = identity_client();
        let url = format!("{}/api/v1/buildings/{}", h.base, h.fx.building_a1);

        let first = raw(c.get(&url), &a).await;
        assert_eq!(first.status, 200);
        let etag = first.header(ETAG).expect("an ETag").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        assert_eq!(first.header(CACHE_CONTROL), Some("private, no-cache"));
        assert_eq!(raw(c.get(&url), &a).await.header(ETAG), Some(&*etag));

        for matching in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"x\", {etag}"),
            "*".into(),
        ] {
            let hit = raw(c.get(&url).header(IF_NONE_MATCH, &matching), &a).await;
            assert_eq!(hit.status, 304, "{matching}");
            assert!(hit.bytes.is_empty());
            assert_eq!(hit.header(ETAG), Some(&*etag));
            assert_eq!(hit.header(CACHE_CONTROL), Some("private, no-cache"));
        }
        let miss = raw(c.get(&url).header(IF_NONE_MATCH, "\"x\""), &a).await;
        assert_eq!(miss.status, 200);
        assert_eq!(miss.json(), first.json());
        // Another organization gets a 403 (KoproGo's), tag or not.
        let other = raw(c.get(&url).header(IF_NONE_MATCH, &etag), &b).await;
        assert_eq!(other.status, 403);

        // A change: a full answer to the old tag, with a new one.
        sqlx::query("UPDATE buildings SET name = 'Résidence Alpha II' WHERE id = $1")
            .bind(h.fx.building_a1)
            .execute(&h.pool)
            .await
            .unwrap();
        let changed = raw(c.get(&url).header(IF_NONE_MATCH, &etag), &a).await;
        assert_eq!(changed.status, 200);
        assert_eq!(changed.json()["name"], "Résidence Alpha II");
        assert_ne!(changed.header(ETAG), Some(&*etag));

        // The accounts list on the tuned stack: tagged once per cache load, a new tag
        // after a write, and gzip's weak form still revalidates.
        let tuned = another_server(&h, ServerArgs::from_preset(Preset::Tuned)).await;
        let accounts = format!("{}/api/v1/accounts", tuned.base);
        let list = raw(c.get(&accounts), &a).await;
        let tag = list.header(ETAG).unwrap().to_string();
        let hit = raw(c.get(&accounts).header(IF_NONE_MATCH, &tag), &a).await;
        assert_eq!(hit.status, 304);
        let b_list = raw(c.get(&accounts).header(IF_NONE_MATCH, &tag), &b).await;
        assert_eq!(b_list.status, 200, "B's chart is not A's");
        let editor = h.login(&h.fx.accountant_a.clone()).await;
        for code in ["6001", "6002", "6003", "6004", "6005"] {
            let body = json!({
                "code": code,
                "label": format!("Fournitures et marchandises {code}"),
                "parent_code": "61",
                "account_type": "EXPENSE",
                "direct_use": true,
                "organization_id": h.fx.org_a
            });
            let r = raw(c.post(&accounts).json(&body), &editor).await;
            assert_eq!(r.status, 201);
        }
        let after = raw(c.get(&accounts).header(IF_NONE_MATCH, &tag), &a).await;
        assert_eq!(after.status, 200);
        assert_eq!(codes(&after.json()).len(), 8);
        let new_tag = after.header(ETAG).unwrap().to_string();
        assert_ne!(new_tag, tag);
        assert!(after.bytes.len() > 1024);
        let gz = raw(c.get(&accounts).header(ACCEPT_ENCODING, "gzip"), &a).await;
        assert_eq!(gz.header(CONTENT_ENCODING), Some("gzip"));
        assert_eq!(gz.header(ETAG), Some(&*format!("W/{new_tag}")));
        for sent in [new_tag.clone(), format!("W/{new_tag}")] {
            let hit = raw(
                c.get(&accounts)
                    .header(ACCEPT_ENCODING, "gzip")
                    .header(IF_NONE_MATCH, &sent),
                &a,
            )
            .await;
            assert_eq!(hit.status, 304, "{sent}");
        }

        // Without the switch: no headers, and If-None-Match changes nothing.
        let off = raw(
            c.get(format!(
                "{}/api/v1/buildings/{}",
                plain.base, h.fx.building_a1
            ))
            .header(IF_NONE_MATCH, "*"),
            &a,
        )
        .await;
        assert_eq!(off.status, 200);
        assert_eq!(off.header(ETAG), None);
        assert_eq!(off.header(CACHE_CONTROL), None);

        tuned.stop().await;
        plain.stop().await;
        h.finish().await;
    }

    #[tokio::test]
    async fn presets_reach_the_pool() {
        let h = Harness::start_with(arm("pool20")).await;
        let options = h.server.state.pool.options();
        assert_eq!(options.get_max_connections(), 20);
        assert_eq!(options.get_acquire_timeout(), Duration::from_secs(3));
        assert!(options.get_test_before_acquire(), "pool20 keeps the ping");
        let tuned = another_server(&h, ServerArgs::from_preset(Preset::Tuned)).await;
        assert!(!tuned.state.pool.options().get_test_before_acquire());
        let baseline = another_server(&h, ServerArgs::default()).await;
        let options = baseline.state.pool.options();
        assert_eq!(options.get_max_connections(), 10);
        assert_eq!(options.get_acquire_timeout(), Duration::from_secs(30));
        assert!(options.get_test_before_acquire());
        // Each serves the same answers.
        let token = h.login(&h.fx.syndic_a.clone()).await;
        for base in [&h.base, &tuned.base, &baseline.base] {
            let r = raw(h.client.get(format!("{base}/api/v1/buildings")), &token).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.json()["pagination"]["total_items"], 2);
        }
        tuned.stop().await;
        baseline.stop().await;
        h.finish().await;
    }
}
