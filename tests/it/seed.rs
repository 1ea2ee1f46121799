//! The seeder against a real embedded cluster: KoproGo's realistic counts at scale 1,
//! byte-identical rows for the same `--rng-seed`, refusal to write over data, and
//! seeded syndics that log in through the reference server.

use koprogo_perf::seed::pcmn::ACCOUNTS;
use koprogo_perf::seed::{SeedError, SeedOptions, seed};
use serde_json::Value;
use sqlx::PgPool;

use crate::common;

/// Every table the seed writes.
const TABLES: [&str; 9] = [
    "organizations",
    "users",
    "buildings",
    "units",
    "owners",
    "unit_owners",
    "expenses",
    "accounts",
    "meetings",
];

fn options(rng_seed: u64, reset: bool) -> SeedOptions {
    SeedOptions {
        scale: 1,
        rng_seed,
        reset,
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// An md5 of every row of every seeded table, in id order.
async fn fingerprints(pool: &PgPool) -> Vec<(&'static str, String)> {
    let mut sums = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM {table} t");
        let sum: Option<String> = sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap();
        sums.push((table, sum.unwrap_or_else(|| panic!("{table} is empty"))));
    }
    sums
}

#[tokio::test]
async fn scale_one_writes_the_realistic_data_set_and_refuses_to_overwrite_it() {
    let (db, pool) = common::migrated_db().await;
    let summary = seed(&pool, &options(common::RNG_SEED, false))
        .await
        .expect("the seed runs");

    // KoproGo's three organizations of 5, 8 and 10 buildings.
    assert_eq!(count(&pool, "SELECT count(*) FROM organizations").await, 3);
    assert_eq!(count(&pool, "SELECT count(*) FROM buildings").await, 23);
    assert_eq!(count(&pool, "SELECT count(*) FROM units").await, 190);
    assert_eq!(count(&pool, "SELECT count(*) FROM owners").await, 126);
    // Three demo users an organization, and KoproGo's superadmin, in none.
    assert_eq!(count(&pool, "SELECT count(*) FROM users").await, 10);
    let superadmin: (String, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT role, organization_id FROM users WHERE email = 'admin@koprogo.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(superadmin, ("superadmin".to_string(), None));
    let per_org: Vec<(String, i64)> = sqlx::query_as(
        "SELECT o.slug, count(b.id) FROM organizations o \
         LEFT JOIN buildings b ON b.organization_id = o.id GROUP BY o.slug ORDER BY o.slug",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        per_org,
        vec![
            ("grandplace".to_string(), 5),
            ("meir".to_string(), 10),
            ("sablon".to_string(), 8)
        ]
    );
    // Exactly 50 invoices in every building.
    let per_building: Vec<i64> = sqlx::query_scalar(
        "SELECT count(e.id) FROM buildings b LEFT JOIN expenses e ON e.building_id = b.id \
         GROUP BY b.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(per_building, vec![50; 23]);
    // The whole PCMN chart (about a hundred accounts) in each organization.
    assert!((90..=110).contains(&ACCOUNTS.len()), "{}", ACCOUNTS.len());
    let accounts_per_org: Vec<i64> = sqlx::query_scalar(
        "SELECT count(a.id) FROM organizations o \
         LEFT JOIN accounts a ON a.organization_id = o.id GROUP BY o.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(accounts_per_org, vec![ACCOUNTS.len() as i64; 3]);

    // The summary reports what is in the database.
    for (table, reported) in [
        ("organizations", summary.organizations),
        ("users", summary.users),
        ("buildings", summary.buildings),
        ("units", summary.units),
        ("owners", summary.owners),
        ("unit_owners", summary.unit_owners),
        ("expenses", summary.expenses),
        ("accounts", summary.accounts),
        ("meetings", summary.meetings),
    ] {
        let n = count(&pool, &format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(n as u64, reported, "{table}");
        assert!(n > 0, "{table} is empty");
    }
    // The seed's helper index lives only inside its transaction.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'seed_unit_owners_unit_id'"
        )
        .await,
        0
    );
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'syndic@meir.be'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(koprogo_perf::server::password::verify_password(
        "syndic123",
        &hash
    ));

    // Without `reset`, a database with data is refused and left as it was; a bad scale
    // is refused before anything is touched.
    let before = fingerprints(&pool).await;
    match seed(&pool, &options(7, false)).await {
        Err(SeedError::NotEmpty { organizations: 3 }) => {}
        other => panic!("expected NotEmpty {{ organizations: 3 }}, got {other:?}"),
    }
    assert!(matches!(
        seed(
            &pool,
            &SeedOptions {
                scale: 0,
                ..options(7, true)
            }
        )
        .await,
        Err(SeedError::InvalidScale)
    ));
    assert_eq!(fingerprints(&pool).await, before);

    pool.close().await;
    db.close().await;
}

#[tokio::test]
async fn the_same_rng_seed_gives_the_same_rows_and_another_seed_other_rows() {
    let ((db_a, pool_a), (db_b, pool_b)) =
        tokio::join!(common::migrated_db(), common::migrated_db());
    seed(&pool_a, &options(common::RNG_SEED, false))
        .await
        .unwrap();
    let first = fingerprints(&pool_a).await;

    // Another cluster, seeded from scratch: the same rows, byte for byte.
    seed(&pool_b, &options(common::RNG_SEED, false))
        .await
        .unwrap();
    assert_eq!(fingerprints(&pool_b).await, first);
    pool_b.close().await;
    db_b.close().await;

    // Reseeding over the data with `reset`: the same rows again.
    seed(&pool_a, &options(common::RNG_SEED, true))
        .await
        .unwrap();
    assert_eq!(fingerprints(&pool_a).await, first);

    // Another rng seed changes every table.
    seed(&pool_a, &options(7, true)).await.unwrap();
    let other = fingerprints(&pool_a).await;
    for ((table, a), (_, b)) in first.iter().zip(&other) {
        assert_ne!(a, b, "{table} did not change with the rng seed");
    }
    // ... but not the shape of the data set.
    assert_eq!(count(&pool_a, "SELECT count(*) FROM buildings").await, 23);
    assert_eq!(
        count(&pool_a, "SELECT count(*) FROM expenses").await,
        23 * 50
    );

    pool_a.close().await;
    db_a.close().await;
}

#[tokio::test]
async fn seeded_syndics_log_in_and_see_only_their_organization() {
    let stack = common::stack(1).await;
    let base = stack.base_url();
    let client = common::client();
    let emails: Vec<&str> = stack.logins.iter().map(|l| l.email.as_str()).collect();
    assert_eq!(
        emails,
        ["syndic@grandplace.be", "syndic@sablon.be", "syndic@meir.be"]
    );

    let mut organizations = Vec::new();
    let mut first_buildings = Vec::new();
    for (login, buildings) in stack.logins.iter().zip([5, 8, 10]) {
        let token = common::token(&base, &login.email, &login.password).await;
        let me: Value = client
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["email"], login.email.as_str());
        assert_eq!(me["role"], "syndic");
        let org = me["organization_id"].as_str().unwrap().to_string();

        let list: Value = client
            .get(format!("{base}/api/v1/buildings?per_page=100"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            list["pagination"]["total_items"], buildings,
            "{}",
            login.email
        );
        let data = list["data"].as_array().unwrap();
        assert_eq!(data.len(), buildings);
        assert!(data.iter().all(|b| b["organization_id"] == org.as_str()));
        first_buildings.push(data[0]["id"].as_str().unwrap().to_string());
        organizations.push((org, token));
    }
    // Three distinct organizations, none of which can read another's building.
    let mut distinct: Vec<&str> = organizations.iter().map(|(o, _)| o.as_str()).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);
    for (i, (org, token)) in organizations.iter().enumerate() {
        for (j, building) in first_buildings.iter().enumerate() {
            let status = client
                .get(format!("{base}/api/v1/buildings/{building}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status();
            // KoproGo's `verify_org_access`: another organization's row is a 403.
            let expected = if i == j { 200 } else { 403 };
            assert_eq!(status, expected, "org {org} reading building {building}");
        }
    }

    // The seeded password and nothing else.
    let wrong = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "syndic@meir.be", "password": "syndic124"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    stack.stop().await;
}
