//! KoproGo's paginated lists (application/dto/pagination.rs and the repositories'
//! `find_all_paginated`): `page` (default 1), `per_page` (default 20, 1 to 10,000, as
//! `PageRequest::validate` allows), `sort_by` (each table's whitelist and default),
//! `order` (`asc`, the default, or `desc`, lower case as its serde enum spells them);
//! a COUNT query and a LIMIT/OFFSET query; `{data, pagination}` back. A superadmin
//! lists every organization's rows, anyone else its own.
//!
//! `sort_by` only ever selects one of a table's whitelisted ORDER BY clauses, so no
//! text from the request reaches the SQL. Out-of-range values are a 400, never
//! silently clamped, so that a load script's mistake shows (KoproGo answers them with
//! a 500: its handlers map every repository error so).

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::server::AppState;
use crate::server::auth::{AuthUser, Scope};
use crate::server::error::ApiError;

/// Default and bounds of `per_page`, as KoproGo's `PageRequest::validate` has them.
pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 10_000;

/// The query string of a list, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    pub sort_by: Option<String>,
    pub order: Option<String>,
}

/// One sortable key of a table: the `sort_by` name and its ORDER BY columns.
pub struct SortKey {
    pub name: &'static str,
    /// Columns ordered by, each in the requested direction; `id` is appended as a
    /// tie-breaker so that pages never overlap.
    pub columns: &'static [&'static str],
}

/// What a table's list needs: its SQL statements (tagged with the route; the
/// organization's take it as `$1`, then LIMIT `$2` and OFFSET `$3` after the ORDER BY
/// this module appends; the superadmin's take no organization, LIMIT `$1` and OFFSET
/// `$2`) and its sort keys.
pub struct ListSpec {
    pub count_sql: &'static str,
    pub page_sql: &'static str,
    /// Every organization's rows, for a superadmin.
    pub count_all_sql: &'static str,
    pub page_all_sql: &'static str,
    /// Whitelisted keys; the first one is the default.
    pub sort_keys: &'static [SortKey],
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
    /// The ORDER BY clause, built from whitelisted names only.
    pub order_by: String,
}

impl PageRequest {
    /// Validates `params` against `spec`'s sort keys.
    pub fn resolve(params: &ListParams, spec: &ListSpec) -> Result<Self, ApiError> {
        let page = params.page.unwrap_or(1);
        if page < 1 {
            return Err(ApiError::bad_request("page must be >= 1"));
        }
        let per_page = params.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::bad_request(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        let direction = match params.order.as_deref() {
            None | Some("asc") => "ASC",
            Some("desc") => "DESC",
            Some(_) => return Err(ApiError::bad_request("order must be asc or desc")),
        };
        let key = match params.sort_by.as_deref() {
            None => &spec.sort_keys[0],
            Some(name) => spec
                .sort_keys
                .iter()
                .find(|k| k.name == name)
                .ok_or_else(|| {
                    let allowed: Vec<&str> = spec.sort_keys.iter().map(|k| k.name).collect();
                    ApiError::bad_request(format!("sort_by must be one of: {}", allowed.join(", ")))
                })?,
        };
        let mut order_by = String::new();
        for column in key.columns.iter().chain(std::iter::once(&"id")) {
            if !order_by.is_empty() {
                order_by.push_str(", ");
            }
            order_by.push_str(column);
            order_by.push(' ');
            order_by.push_str(direction);
        }
        Ok(Self {
            page,
            per_page,
            order_by,
        })
    }

    fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.per_page)
    }

    fn pagination(&self, total_items: i64) -> Pagination {
        Pagination::new(i64::from(self.page), i64::from(self.per_page), total_items)
    }
}

/// KoproGo's pagination block.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Pagination {
    pub current_page: i64,
    pub per_page: i64,
    pub total_items: i64,
    pub total_pages: i64,
    pub has_next: bool,
    pub has_previous: bool,
}

impl Pagination {
    pub fn new(current_page: i64, per_page: i64, total_items: i64) -> Self {
        let total_pages = (total_items + per_page - 1) / per_page;
        Self {
            current_page,
            per_page,
            total_items,
            total_pages,
            has_next: current_page < total_pages,
            has_previous: current_page > 1,
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// The body of every list route: the page the query string asks for, of the rows the
/// caller may see.
pub async fn list_route<T>(
    state: &AppState,
    user: &AuthUser,
    params: &ListParams,
    spec: &ListSpec,
) -> Result<axum::Json<Page<T>>, ApiError>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let scope = user.scope()?;
    let request = PageRequest::resolve(params, spec)?;
    fetch_page(
        &state.pool,
        spec,
        scope,
        &request,
        state.config.parallel_queries,
    )
    .await
    .map(axum::Json)
}

/// A row that belongs to an organization.
pub trait Owned {
    fn organization_id(&self) -> Uuid;
}

/// The body of every detail route, as KoproGo's: the row `sql` selects with `id = $1`;
/// absent → 404 `not_found`, another organization's → 403 (a superadmin sees all).
pub async fn fetch_one<T>(
    state: &AppState,
    user: &AuthUser,
    sql: &'static str,
    id: Uuid,
    not_found: &'static str,
) -> Result<T, ApiError>
where
    T: for<'r> FromRow<'r, PgRow> + Owned + Send + Unpin,
{
    // A user without an organization is refused before anything is read.
    user.scope()?;
    let row: Option<T> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    let row = row.ok_or(ApiError::NotFound(not_found))?;
    user.verify_org_access(row.organization_id())?;
    Ok(row)
}

/// Runs the list's COUNT query and its page query for `scope`: one after the other,
/// or with `concurrently` (the `parallel_queries` switch, the guide's `tokio::join!`)
/// both in flight at once, each on its own pooled connection — one round trip instead
/// of two, for two connections instead of one.
pub async fn fetch_page<T>(
    pool: &PgPool,
    spec: &ListSpec,
    scope: Scope,
    request: &PageRequest,
    concurrently: bool,
) -> Result<Page<T>, ApiError>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let (total_items, data) = if concurrently {
        tokio::try_join!(count(pool, spec, scope), page(pool, spec, scope, request))?
    } else {
        (
            count(pool, spec, scope).await?,
            page(pool, spec, scope, request).await?,
        )
    };
    Ok(Page {
        data,
        pagination: request.pagination(total_items),
    })
}

async fn count(pool: &PgPool, spec: &ListSpec, scope: Scope) -> Result<i64, ApiError> {
    let total: i64 = match scope {
        Scope::Organization(org) => {
            sqlx::query_scalar(spec.count_sql)
                .bind(org)
                .fetch_one(pool)
                .await?
        }
        Scope::All => {
            sqlx::query_scalar(spec.count_all_sql)
                .fetch_one(pool)
                .await?
        }
    };
    Ok(total)
}

async fn page<T>(
    pool: &PgPool,
    spec: &ListSpec,
    scope: Scope,
    request: &PageRequest,
) -> Result<Vec<T>, ApiError>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let data = match scope {
        Scope::Organization(org) => {
            let sql = format!(
                "{} ORDER BY {} LIMIT $2 OFFSET $3",
                spec.page_sql, request.order_by
            );
            sqlx::query_as(&sql)
                .bind(org)
                .bind(request.limit())
                .bind(request.offset())
                .fetch_all(pool)
                .await?
        }
        Scope::All => {
            let sql = format!(
                "{} ORDER BY {} LIMIT $1 OFFSET $2",
                spec.page_all_sql, request.order_by
            );
            sqlx::query_as(&sql)
                .bind(request.limit())
                .bind(request.offset())
                .fetch_all(pool)
                .await?
        }
    };
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ListSpec = ListSpec {
        count_sql: "",
        page_sql: "",
        count_all_sql: "",
        page_all_sql: "",
        sort_keys: &[
            SortKey {
                name: "created_at",
                columns: &["created_at"],
            },
            SortKey {
                name: "last_name",
                columns: &["last_name", "first_name"],
            },
        ],
    };

    fn params(
        page: Option<u32>,
        per_page: Option<u32>,
        sort_by: Option<&str>,
        order: Option<&str>,
    ) -> ListParams {
        ListParams {
            page,
            per_page,
            sort_by: sort_by.map(str::to_string),
            order: order.map(str::to_string),
        }
    }

    #[test]
    fn defaults_and_whitelist() {
        let r = PageRequest::resolve(&ListParams::default(), &SPEC).unwrap();
        assert_eq!((r.page, r.per_page), (1, 20));
        assert_eq!(r.order_by, "created_at ASC, id ASC");
        let r = PageRequest::resolve(
            &params(Some(3), Some(100), Some("last_name"), Some("desc")),
            &SPEC,
        )
        .unwrap();
        assert_eq!(r.order_by, "last_name DESC, first_name DESC, id DESC");
        assert_eq!((r.limit(), r.offset()), (100, 200));
    }

    #[test]
    fn out_of_range_is_rejected() {
        for p in [
            params(Some(0), None, None, None),
            params(None, Some(0), None, None),
            params(None, Some(10_001), None, None),
            params(None, None, Some("name; DROP TABLE x"), None),
            params(None, None, None, Some("up")),
            // KoproGo's serde enum is lower case.
            params(None, None, None, Some("DESC")),
        ] {
            assert!(matches!(
                PageRequest::resolve(&p, &SPEC),
                Err(ApiError::BadRequest(_))
            ));
        }
    }

    #[test]
    fn pagination_block() {
        assert_eq!(
            Pagination::new(2, 20, 45),
            Pagination {
                current_page: 2,
                per_page: 20,
                total_items: 45,
                total_pages: 3,
                has_next: true,
                has_previous: true,
            }
        );
        let empty = Pagination::new(1, 20, 0);
        assert_eq!(empty.total_pages, 0);
        assert!(!empty.has_next && !empty.has_previous);
    }
}
