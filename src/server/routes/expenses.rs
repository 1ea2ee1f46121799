//! `/api/v1/expenses`: list, create, one expense, as KoproGo's expense_handlers.rs
//! serves them.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::list::{ListParams, ListSpec, Owned, Page, SortKey, fetch_one, list_route};
use super::validate;
use crate::server::AppState;
use crate::server::auth::{AuthUser, OTHER_ORGANIZATION};
use crate::server::error::{ApiError, Json, Path, Query};
use crate::server::model::{ApprovalStatus, ExpenseCategory, PaymentStatus, Role, rfc3339};

/// An expense as KoproGo returns it (`ExpenseResponseDto`,
/// application/dto/expense_dto.rs): the amount a decimal (a JSON string, `"1500.00"`),
/// `expense_date` RFC 3339, no organization or timestamps.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Expense {
    pub id: Uuid,
    /// For the tenant check only: KoproGo's JSON has no organization_id.
    #[serde(skip)]
    pub organization_id: Uuid,
    pub building_id: Uuid,
    pub category: ExpenseCategory,
    pub description: String,
    pub amount: Decimal,
    #[serde(serialize_with = "rfc3339")]
    pub expense_date: DateTime<Utc>,
    pub payment_status: PaymentStatus,
    pub approval_status: ApprovalStatus,
    pub supplier: Option<String>,
    pub invoice_number: Option<String>,
    pub account_code: Option<String>,
    /// KoproGo's link to a contractor report; this schema has none (always null).
    pub contractor_report_id: Option<Uuid>,
}

impl Owned for Expense {
    fn organization_id(&self) -> Uuid {
        self.organization_id
    }
}

const LIST: ListSpec = ListSpec {
    count_sql: "/* GET /api/v1/expenses */ SELECT COUNT(*) FROM expenses WHERE organization_id = $1",
    page_sql: concat!(
        "/* GET /api/v1/expenses */ SELECT ",
        expense_columns!(),
        " FROM expenses WHERE organization_id = $1"
    ),
    count_all_sql: "/* GET /api/v1/expenses */ SELECT COUNT(*) FROM expenses",
    page_all_sql: concat!(
        "/* GET /api/v1/expenses */ SELECT ",
        expense_columns!(),
        " FROM expenses"
    ),
    // KoproGo's whitelist (expense_repository_impl.rs), expense_date its default.
    sort_keys: &[
        SortKey {
            name: "expense_date",
            columns: &["expense_date"],
        },
        SortKey {
            name: "amount",
            columns: &["amount"],
        },
        SortKey {
            name: "created_at",
            columns: &["created_at"],
        },
        SortKey {
            name: "payment_status",
            columns: &["payment_status"],
        },
    ],
};

/// `GET /expenses`: a page of the expenses the caller may see.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<Expense>>, ApiError> {
    list_route(&state, &user, &params, &LIST).await
}

/// `GET /expenses/{id}`: 404 when there is none, 403 when it is another organization's.
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Expense>, ApiError> {
    fetch_one(
        &state,
        &user,
        concat!(
            "/* GET /api/v1/expenses/{id} */ SELECT ",
            expense_columns!(),
            " FROM expenses WHERE id = $1"
        ),
        id,
        "Expense not found",
    )
    .await
    .map(axum::Json)
}

/// The create body, KoproGo's `CreateExpenseDto`: `expense_date` an RFC 3339
/// date-time, `amount` a decimal (a JSON number or string), `organization_id`
/// accepted and ignored (the token's is used). A new expense is `draft`, payment
/// `pending`.
#[derive(Debug, Deserialize)]
pub struct CreateExpense {
    #[serde(default)]
    pub organization_id: String,
    pub building_id: String,
    pub category: ExpenseCategory,
    pub description: String,
    pub amount: Decimal,
    pub expense_date: String,
    pub supplier: Option<String>,
    pub invoice_number: Option<String>,
    pub account_code: Option<String>,
}

/// KoproGo's check of an optional account code (domain/entities/expense.rs): present
/// means non-empty, at most 40 characters.
fn account_code(code: Option<&str>) -> Result<Option<String>, ApiError> {
    match code {
        None => Ok(None),
        Some("") => Err(ApiError::bad_request(
            "Account code cannot be empty if provided",
        )),
        Some(code) => validate::text("account_code", code, validate::ACCOUNT_CODE_MAX).map(Some),
    }
}

/// `POST /expenses` → 201 with the row: anyone of an organization but an owner (a
/// superadmin has none: 401). The building must be the organization's: 400 when it
/// does not exist (KoproGo's foreign-key error), 403 when it is another's (which
/// KoproGo does not check).
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateExpense>,
) -> Result<(StatusCode, axum::Json<Expense>), ApiError> {
    if user.0.role == Role::Owner {
        return Err(ApiError::Forbidden("Owner role has read-only access"));
    }
    let org = user.organization()?;
    let description = validate::text("description", &body.description, validate::DESCRIPTION_MAX)?;
    let building = validate::uuid(&body.building_id, "Invalid building ID format")?;
    let expense_date = validate::rfc3339(&body.expense_date)?;
    let amount = validate::amount(body.amount)?;
    let supplier =
        validate::optional_text("supplier", body.supplier.as_deref(), validate::SUPPLIER_MAX)?;
    let invoice_number = validate::optional_text(
        "invoice_number",
        body.invoice_number.as_deref(),
        validate::INVOICE_NUMBER_MAX,
    )?;
    let account_code = account_code(body.account_code.as_deref())?;

    let expense: Option<Expense> = sqlx::query_as(concat!(
        "/* POST /api/v1/expenses */ INSERT INTO expenses \
         (id, organization_id, building_id, category, description, amount, expense_date, \
         payment_status, approval_status, supplier, invoice_number, account_code) \
         SELECT $1, b.organization_id, b.id, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
         FROM buildings b WHERE b.id = $2 AND b.organization_id = $12 RETURNING ",
        expense_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(building)
    .bind(body.category.as_db())
    .bind(description)
    .bind(amount)
    .bind(expense_date)
    .bind(PaymentStatus::Pending.as_db())
    .bind(ApprovalStatus::Draft.as_db())
    .bind(supplier)
    .bind(invoice_number)
    .bind(account_code)
    .bind(org)
    .fetch_optional(&state.pool)
    .await?;
    if let Some(expense) = expense {
        return Ok((StatusCode::CREATED, axum::Json(expense)));
    }
    // Nothing inserted: say why, as cheaply as the failure allows.
    let exists: bool = sqlx::query_scalar(
        "/* POST /api/v1/expenses */ SELECT EXISTS (SELECT 1 FROM buildings WHERE id = $1)",
    )
    .bind(building)
    .fetch_one(&state.pool)
    .await?;
    Err(if exists {
        ApiError::Forbidden(OTHER_ORGANIZATION)
    } else {
        ApiError::bad_request("Building not found")
    })
}
