//! Bulk inserts of a generated [`Batch`]: one `INSERT … SELECT … FROM UNNEST(arrays)`
//! statement per table and chunk of rows, parents before children.

use std::collections::HashMap;
use std::ops::Range;

use sqlx::PgConnection;

use super::generate::Batch;

/// Rows per statement: large enough that round trips do not matter, small enough that
/// one statement's arrays stay a few megabytes.
const CHUNK: usize = 10_000;

fn chunks(len: usize) -> impl Iterator<Item = Range<usize>> {
    (0..len)
        .step_by(CHUNK)
        .map(move |start| start..(start + CHUNK).min(len))
}

/// Inserts every row of `batch`. `hashes` maps each demo password to its bcrypt hash.
pub async fn batch(
    conn: &mut PgConnection,
    batch: &Batch,
    hashes: &HashMap<&'static str, String>,
) -> Result<(), sqlx::Error> {
    organizations(conn, batch).await?;
    users(conn, batch, hashes).await?;
    buildings(conn, batch).await?;
    units(conn, batch).await?;
    owners(conn, batch).await?;
    unit_owners(conn, batch).await?;
    accounts(conn, batch).await?;
    expenses(conn, batch).await?;
    meetings(conn, batch).await?;
    Ok(())
}

async fn organizations(conn: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
    let t = &batch.organizations;
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO organizations (id, name, slug, subscription_plan, max_buildings, \
             max_users, is_active, created_at, updated_at) \
             SELECT id, name, slug, plan, max_buildings, max_users, TRUE, created_at, created_at \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::int4[], \
             $7::timestamptz[]) \
             AS u(id, name, slug, plan, max_buildings, max_users, created_at)",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.name[r.clone()])
        .bind(&t.slug[r.clone()])
        .bind(&t.subscription_plan[r.clone()])
        .bind(&t.max_buildings[r.clone()])
        .bind(&t.max_users[r.clone()])
        .bind(&t.created_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn users(
    conn: &mut PgConnection,
    batch: &Batch,
    hashes: &HashMap<&'static str, String>,
) -> Result<(), sqlx::Error> {
    let t = &batch.users;
    let password_hash: Vec<&str> = t
        .password
        .iter()
        .map(|p| {
            hashes
                .get(p)
                .map(String::as_str)
                .expect("every demo password is hashed")
        })
        .collect();
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, role, \
             organization_id, is_active, created_at, updated_at) \
             SELECT id, email, password_hash, first_name, last_name, role, organization_id, TRUE, \
             created_at, created_at \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::uuid[], $8::timestamptz[]) \
             AS u(id, email, password_hash, first_name, last_name, role, organization_id, created_at)",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.email[r.clone()])
        .bind(&password_hash[r.clone()])
        .bind(&t.first_name[r.clone()])
        .bind(&t.last_name[r.clone()])
        .bind(&t.role[r.clone()])
        .bind(&t.organization_id[r.clone()])
        .bind(&t.created_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn buildings(conn: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
    let t = &batch.buildings;
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO buildings (id, organization_id, name, address, city, postal_code, \
             country, total_units, construction_year, total_tantiemes, created_at, updated_at) \
             SELECT id, organization_id, name, address, city, postal_code, 'Belgium', \
             total_units, construction_year, 1000, created_at, created_at \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::int4[], $8::int4[], $9::timestamptz[]) \
             AS u(id, organization_id, name, address, city, postal_code, total_units, \
             construction_year, created_at)",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.organization_id[r.clone()])
        .bind(&t.name[r.clone()])
        .bind(&t.address[r.clone()])
        .bind(&t.city[r.clone()])
        .bind(&t.postal_code[r.clone()])
        .bind(&t.total_units[r.clone()])
        .bind(&t.construction_year[r.clone()])
        .bind(&t.created_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn units(conn: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
    let t = &batch.units;
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO units (id, organization_id, building_id, unit_number, unit_type, floor, \
             surface_area, quota, created_at, updated_at) \
             SELECT id, organization_id, building_id, unit_number, unit_type, floor, \
             surface_area, quota, created_at, created_at \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int4[], \
             $7::float8[], $8::float8[], $9::timestamptz[]) \
             AS u(id, organization_id, building_id, unit_number, unit_type, floor, surface_area, \
             quota, created_at)",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.organization_id[r.clone()])
        .bind(&t.building_id[r.clone()])
        .bind(&t.unit_number[r.clone()])
        .bind(&t.unit_type[r.clone()])
        .bind(&t.floor[r.clone()])
        .bind(&t.surface_area[r.clone()])
        .bind(&t.quota[r.clone()])
        .bind(&t.created_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn owners(conn: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
    let t = &batch.owners;
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO owners (id, organization_id, user_id, first_name, last_name, email, \
             phone, address, city, postal_code, country, created_at, updated_at) \
             SELECT id, organization_id, user_id, first_name, last_name, email, phone, address, \
             city, postal_code, 'Belgium', created_at, created_at \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[]) \
             AS u(id, organization_id, user_id, first_name, last_name, email, phone, address, \
             city, postal_code, created_at)",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.organization_id[r.clone()])
        .bind(&t.user_id[r.clone()])
        .bind(&t.first_name[r.clone()])
        .bind(&t.last_name[r.clone()])
        .bind(&t.email[r.clone()])
        .bind(&t.phone[r.clone()])
        .bind(&t.address[r.clone()])
        .bind(&t.city[r.clone()])
        .bind(&t.postal_code[r.clone()])
        .bind(&t.created_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn unit_owners(conn: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
    let t = &batch.unit_owners;
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO unit_owners (id, unit_id, owner_id, ownership_percentage, start_date, \
             end_date, is_primary_contact, created_at, updated_at) \
             SELECT id, unit_id, owner_id, share_bp::numeric / 10000, \
             start_date::timestamp AT TIME ZONE 'UTC', end_date::timestamp AT TIME ZONE 'UTC', \
             is_primary_contact, created_at, updated_at \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int4[], $5::date[], $6::date[], \
             $7::bool[], $8::timestamptz[], $9::timestamptz[]) \
             AS u(id, unit_id, owner_id, share_bp, start_date, end_date, is_primary_contact, \
             created_at, updated_at)",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.unit_id[r.clone()])
        .bind(&t.owner_id[r.clone()])
        .bind(&t.share_bp[r.clone()])
        .bind(&t.start_date[r.clone()])
        .bind(&t.end_date[r.clone()])
        .bind(&t.is_primary_contact[r.clone()])
        .bind(&t.created_at[r.clone()])
        .bind(&t.updated_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn accounts(conn: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
    let t = &batch.accounts;
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO accounts (id, code, label, parent_code, account_type, direct_use, \
             organization_id, created_at, updated_at) \
             SELECT id, code, label, parent_code, account_type, direct_use, organization_id, \
             created_at, created_at \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], \
             $7::uuid[], $8::timestamptz[]) \
             AS u(id, code, label, parent_code, account_type, direct_use, organization_id, \
             created_at)",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.code[r.clone()])
        .bind(&t.label[r.clone()])
        .bind(&t.parent_code[r.clone()])
        .bind(&t.account_type[r.clone()])
        .bind(&t.direct_use[r.clone()])
        .bind(&t.organization_id[r.clone()])
        .bind(&t.created_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn expenses(conn: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
    let t = &batch.expenses;
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO expenses (id, organization_id, building_id, category, description, \
             amount, expense_date, payment_status, approval_status, supplier, invoice_number, \
             account_code, created_at, updated_at) \
             SELECT id, organization_id, building_id, category, description, \
             amount_cents::numeric / 100, expense_date::timestamp AT TIME ZONE 'UTC', \
             payment_status, approval_status, supplier, invoice_number, account_code, \
             created_at, updated_at \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int8[], \
             $7::date[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
             $13::timestamptz[], $14::timestamptz[]) \
             AS u(id, organization_id, building_id, category, description, amount_cents, \
             expense_date, payment_status, approval_status, supplier, invoice_number, \
             account_code, created_at, updated_at)",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.organization_id[r.clone()])
        .bind(&t.building_id[r.clone()])
        .bind(&t.category[r.clone()])
        .bind(&t.description[r.clone()])
        .bind(&t.amount_cents[r.clone()])
        .bind(&t.expense_date[r.clone()])
        .bind(&t.payment_status[r.clone()])
        .bind(&t.approval_status[r.clone()])
        .bind(&t.supplier[r.clone()])
        .bind(&t.invoice_number[r.clone()])
        .bind(&t.account_code[r.clone()])
        .bind(&t.created_at[r.clone()])
        .bind(&t.updated_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn meetings(conn: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
    let t = &batch.meetings;
    for r in chunks(t.id.len()) {
        sqlx::query(
            "INSERT INTO meetings (id, organization_id, building_id, meeting_type, title, \
             scheduled_date, location, status, created_at, updated_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], \
             $6::timestamptz[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])",
        )
        .bind(&t.id[r.clone()])
        .bind(&t.organization_id[r.clone()])
        .bind(&t.building_id[r.clone()])
        .bind(&t.meeting_type[r.clone()])
        .bind(&t.title[r.clone()])
        .bind(&t.scheduled_date[r.clone()])
        .bind(&t.location[r.clone()])
        .bind(&t.status[r.clone()])
        .bind(&t.created_at[r.clone()])
        .bind(&t.updated_at[r])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_rows_once() {
        assert_eq!(chunks(0).count(), 0);
        let parts: Vec<_> = chunks(2 * CHUNK + 3).collect();
        assert_eq!(
            parts,
            vec![0..CHUNK, CHUNK..2 * CHUNK, 2 * CHUNK..2 * CHUNK + 3]
        );
    }
}
