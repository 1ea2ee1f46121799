//! `/api/v1/expenses`: list, create, one expense.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::list::{ListParams, ListSpec, Page, SortKey, fetch_one, list_route};
use super::validate;
use crate::server::AppState;
use crate::server::auth::AuthUser;
use crate::server::error::{ApiError, Json, Path, Query};
use crate::server::model::{ApprovalStatus, ExpenseCategory, PaymentStatus, Role};

/// An expense as KoproGo returns it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Expense {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub building_id: Uuid,
    pub category: ExpenseCategory,
    pub description: String,
    /// numeric(12, 2) in the database, a JSON number here.
    pub amount: f64,
    pub expense_date: NaiveDate,
    pub payment_status: PaymentStatus,
    /// The guide's `status` column…
    pub status: ApprovalStatus,
    /// …under the name KoproGo's clients read.
    pub approval_status: ApprovalStatus,
    pub supplier: Option<String>,
    pub invoice_number: Option<String>,
    pub account_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const LIST: ListSpec = ListSpec {
    count_sql: "/* GET /api/v1/expenses */ SELECT COUNT(*) FROM expenses WHERE organization_id = $1",
    page_sql: concat!(
        "/* GET /api/v1/expenses */ SELECT ",
        expense_columns!(),
        " FROM expenses WHERE organization_id = $1"
    ),
    // Qualified names: the select list aliases `amount::float8 AS amount`, and an
    // ORDER BY on the bare name would sort by that expression.
    sort_keys: &[
        SortKey {
            name: "created_at",
            columns: &["expenses.created_at"],
        },
        SortKey {
            name: "expense_date",
            columns: &["expenses.expense_date"],
        },
        SortKey {
            name: "amount",
            columns: &["expenses.amount"],
        },
        SortKey {
            name: "category",
            columns: &["expenses.category"],
        },
        SortKey {
            name: "status",
            columns: &["expenses.status"],
        },
        SortKey {
            name: "payment_status",
            columns: &["expenses.payment_status"],
        },
    ],
};

/// `GET /expenses`: a page of the organization's expenses.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<Expense>>, ApiError> {
    list_route(&state, &user, &params, &LIST).await
}

/// `GET /expenses/{id}`.
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
            " FROM expenses WHERE id = $1 AND organization_id = $2"
        ),
        id,
        "expense not found",
    )
    .await
}

/// The create body; a new expense is `Draft` and `Pending` payment.
#[derive(Debug, Deserialize)]
pub struct CreateExpense {
    pub building_id: Uuid,
    pub category: ExpenseCategory,
    pub description: String,
    pub amount: f64,
    #[serde(deserialize_with = "validate::deserialize_date")]
    pub expense_date: NaiveDate,
    pub supplier: Option<String>,
    pub invoice_number: Option<String>,
    pub account_code: Option<String>,
}

/// `POST /expenses` (syndic, accountant, superadmin) → 201 with the row; 404 when
/// the building is not the organization's.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateExpense>,
) -> Result<(StatusCode, axum::Json<Expense>), ApiError> {
    user.require_role(&[Role::Syndic, Role::Accountant, Role::Superadmin])?;
    let org = user.organization()?;
    let description = validate::text("description", &body.description, validate::DESCRIPTION_MAX)?;
    let amount = validate::amount("amount", body.amount)?;
    let supplier =
        validate::optional_text("supplier", body.supplier.as_deref(), validate::SUPPLIER_MAX)?;
    let invoice_number = validate::optional_text(
        "invoice_number",
        body.invoice_number.as_deref(),
        validate::INVOICE_NUMBER_MAX,
    )?;
    let account_code = validate::optional_text(
        "account_code",
        body.account_code.as_deref(),
        validate::ACCOUNT_CODE_MAX,
    )?;

    let expense: Option<Expense> = sqlx::query_as(concat!(
        "/* POST /api/v1/expenses */ INSERT INTO expenses \
         (id, organization_id, building_id, category, description, amount, expense_date, \
         payment_status, status, supplier, invoice_number, account_code) \
         SELECT $1, b.organization_id, b.id, $3, $4, $5::numeric, $6, $7, $8, $9, $10, $11 \
         FROM buildings b WHERE b.id = $2 AND b.organization_id = $12 RETURNING ",
        expense_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(body.building_id)
    .bind(body.category.as_db())
    .bind(description)
    .bind(amount)
    .bind(body.expense_date)
    .bind(PaymentStatus::Pending.as_db())
    .bind(ApprovalStatus::Draft.as_db())
    .bind(supplier)
    .bind(invoice_number)
    .bind(account_code)
    .bind(org)
    .fetch_optional(&state.pool)
    .await?;
    expense
        .map(|e| (StatusCode::CREATED, axum::Json(e)))
        .ok_or(ApiError::NotFound("building not found"))
}
