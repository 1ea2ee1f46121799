//! An expense's life after its creation, as KoproGo's expense_handlers.rs moves it:
//! the invoice workflow (`PUT /invoices/{id}/submit`, `/approve`, `/reject`: draft or
//! rejected → pending_approval → approved or rejected) and its payment
//! (`PUT /expenses/{id}/mark-paid`, `POST /expenses/{id}/mark-overdue`, `/cancel`), with
//! KoproGo's roles and the transitions its domain allows (domain/entities/expense.rs);
//! a transition it refuses is a 400 naming the current state.
//!
//! Also `POST /units/{unit_id}/owners` (unit_owner_handlers.rs `add_owner_to_unit`).

use axum::extract::State;
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::expenses::Expense;
use super::units::UnitOwner;
use crate::server::AppState;
use crate::server::auth::{AuthUser, OTHER_ORGANIZATION};
use crate::server::error::{ApiError, Json, Path};
use crate::server::model::Role;

/// One move of an expense: the column it changes, the values it may leave from, the
/// value it sets, and KoproGo's message when the expense is elsewhere.
struct Transition {
    route: &'static str,
    column: &'static str,
    from: &'static [&'static str],
    to: &'static str,
    refused: &'static str,
}

const SUBMIT: Transition = Transition {
    route: "/* PUT /api/v1/invoices/{id}/submit */",
    column: "approval_status",
    from: &["draft", "rejected"],
    to: "pending_approval",
    refused: "Invoice cannot be submitted from its current status",
};
const APPROVE: Transition = Transition {
    route: "/* PUT /api/v1/invoices/{id}/approve */",
    column: "approval_status",
    from: &["pending_approval"],
    to: "approved",
    refused: "Only pending invoices can be approved",
};
const REJECT: Transition = Transition {
    route: "/* PUT /api/v1/invoices/{id}/reject */",
    column: "approval_status",
    from: &["pending_approval"],
    to: "rejected",
    refused: "Only pending invoices can be rejected",
};
const PAY: Transition = Transition {
    route: "/* PUT /api/v1/expenses/{id}/mark-paid */",
    column: "payment_status",
    from: &["pending", "overdue"],
    to: "paid",
    refused: "Cannot mark expense as paid from its current status",
};
const OVERDUE: Transition = Transition {
    route: "/* POST /api/v1/expenses/{id}/mark-overdue */",
    column: "payment_status",
    from: &["pending"],
    to: "overdue",
    refused: "Only a pending expense can be marked overdue",
};
const CANCEL: Transition = Transition {
    route: "/* POST /api/v1/expenses/{id}/cancel */",
    column: "payment_status",
    from: &["pending", "overdue"],
    to: "cancelled",
    refused: "Only a pending or overdue expense can be cancelled",
};

/// Applies `t` to expense `id` for `user`: 404 when there is none, 403 when it is
/// another organization's, 400 when its state does not allow the move. Paying also
/// needs an approved invoice, as KoproGo's `mark_as_paid` does.
async fn apply(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    t: &Transition,
) -> Result<axum::Json<Expense>, ApiError> {
    let org = user.scope()?.organization();
    let paid_needs_approval = if t.to == "paid" {
        " AND approval_status = 'approved'"
    } else {
        ""
    };
    let sql = format!(
        "{route} UPDATE expenses SET {column} = $2, updated_at = now() \
         WHERE id = $1 AND ($3::uuid IS NULL OR organization_id = $3) \
         AND {column} = ANY($4){paid_needs_approval} RETURNING {columns}",
        route = t.route,
        column = t.column,
        columns = expense_columns!(),
    );
    let updated: Option<Expense> = sqlx::query_as(&sql)
        .bind(id)
        .bind(t.to)
        .bind(org)
        .bind(t.from)
        .fetch_optional(&state.pool)
        .await?;
    if let Some(expense) = updated {
        return Ok(axum::Json(expense));
    }
    let found: Option<(Uuid, String, String)> = sqlx::query_as(&format!(
        "{} SELECT organization_id, approval_status, payment_status FROM expenses WHERE id = $1",
        t.route
    ))
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let (owner, approval, payment) = found.ok_or(ApiError::NotFound("Expense not found"))?;
    if org.is_some_and(|org| org != owner) {
        return Err(ApiError::Forbidden(OTHER_ORGANIZATION));
    }
    Err(ApiError::bad_request(format!(
        "{} (approval_status: {approval}, payment_status: {payment})",
        t.refused
    )))
}

/// `PUT /invoices/{id}/submit`: accountant, syndic or superadmin.
pub async fn submit(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Expense>, ApiError> {
    user.require_role(
        &[Role::Accountant, Role::Syndic, Role::Superadmin],
        "Only accountant, syndic, or superadmin can create/edit invoices",
    )?;
    apply(&state, &user, id, &SUBMIT).await
}

/// KoproGo's `ApproveInvoiceDto`; the approver is the caller here whatever it says.
#[derive(Debug, Deserialize)]
pub struct Approve {
    #[allow(dead_code)]
    pub approved_by_user_id: String,
}

/// `PUT /invoices/{id}/approve`: syndic or superadmin.
pub async fn approve(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(_body): Json<Approve>,
) -> Result<axum::Json<Expense>, ApiError> {
    user.require_role(
        &[Role::Syndic, Role::Superadmin],
        "Only syndic or superadmin can approve/reject invoices",
    )?;
    apply(&state, &user, id, &APPROVE).await
}

/// KoproGo's `RejectInvoiceDto`: a reason is required.
#[derive(Debug, Deserialize)]
pub struct Reject {
    #[allow(dead_code)]
    pub rejected_by_user_id: String,
    pub rejection_reason: String,
}

/// `PUT /invoices/{id}/reject`: syndic or superadmin, with a reason.
pub async fn reject(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<Reject>,
) -> Result<axum::Json<Expense>, ApiError> {
    user.require_role(
        &[Role::Syndic, Role::Superadmin],
        "Only syndic or superadmin can approve/reject invoices",
    )?;
    if body.rejection_reason.trim().is_empty() {
        return Err(ApiError::bad_request("rejection_reason cannot be empty"));
    }
    apply(&state, &user, id, &REJECT).await
}

fn not_owner(user: &AuthUser) -> Result<(), ApiError> {
    if user.0.role == Role::Owner {
        Err(ApiError::Forbidden("Owner role has read-only access"))
    } else {
        Ok(())
    }
}

/// `PUT /expenses/{id}/mark-paid`: anyone but an owner; the invoice must be approved.
pub async fn mark_paid(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Expense>, ApiError> {
    not_owner(&user)?;
    apply(&state, &user, id, &PAY).await
}

/// `POST /expenses/{id}/mark-overdue`: anyone but an owner.
pub async fn mark_overdue(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Expense>, ApiError> {
    not_owner(&user)?;
    apply(&state, &user, id, &OVERDUE).await
}

/// `POST /expenses/{id}/cancel`: anyone but an owner.
pub async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Expense>, ApiError> {
    not_owner(&user)?;
    apply(&state, &user, id, &CANCEL).await
}

/// KoproGo's `AddOwnerToUnitDto`.
#[derive(Debug, Deserialize)]
pub struct AddOwner {
    pub owner_id: String,
    pub ownership_percentage: Decimal,
    pub is_primary_contact: bool,
}

/// `POST /units/{unit_id}/owners` → 201: syndic or superadmin; the unit and the owner
/// must be of the caller's organization (and of one organization); 400 when the owner
/// is already a current owner of the unit or the current shares would pass 1.
pub async fn add_owner(
    State(state): State<AppState>,
    user: AuthUser,
    Path(unit): Path<Uuid>,
    Json(body): Json<AddOwner>,
) -> Result<(StatusCode, axum::Json<UnitOwner>), ApiError> {
    if matches!(user.0.role, Role::Owner | Role::Accountant) {
        return Err(ApiError::Forbidden(
            "Only SuperAdmin and Syndic can modify unit ownership",
        ));
    }
    let owner = super::validate::uuid(&body.owner_id, "Invalid owner_id format")?;
    let share = body.ownership_percentage;
    if share <= Decimal::ZERO || share > Decimal::ONE {
        return Err(ApiError::bad_request(
            "Ownership percentage must be between 0 and 1",
        ));
    }
    let org = user.scope()?.organization();
    let found: Option<(Uuid, Option<Uuid>)> = sqlx::query_as(
        "/* POST /api/v1/units/{unit_id}/owners */ SELECT u.organization_id, o.organization_id \
         FROM units u LEFT JOIN owners o ON o.id = $2 WHERE u.id = $1",
    )
    .bind(unit)
    .bind(owner)
    .fetch_optional(&state.pool)
    .await?;
    let (unit_org, owner_org) = found.ok_or_else(|| ApiError::bad_request("Unit not found"))?;
    if org.is_some_and(|org| org != unit_org) {
        return Err(ApiError::Forbidden(OTHER_ORGANIZATION));
    }
    if owner_org != Some(unit_org) {
        return Err(ApiError::bad_request("Owner not found"));
    }
    // KoproGo's two checks, with its messages (the schema's trigger stays the guard
    // against two concurrent additions).
    let (current, already): (Decimal, bool) = sqlx::query_as(
        "/* POST /api/v1/units/{unit_id}/owners */ SELECT \
         COALESCE(SUM(ownership_percentage), 0), COALESCE(bool_or(owner_id = $2), false) \
         FROM unit_owners WHERE unit_id = $1 AND end_date IS NULL",
    )
    .bind(unit)
    .bind(owner)
    .fetch_one(&state.pool)
    .await?;
    if already {
        return Err(ApiError::bad_request(
            "Owner is already active on this unit",
        ));
    }
    if current + share > Decimal::ONE {
        let pct = Decimal::from(100);
        return Err(ApiError::bad_request(format!(
            "Total ownership would exceed 100% (Art. 577-2 §4 CC). Current: {}%, adding: {}%, \
             total would be: {}%",
            current * pct,
            share * pct,
            (current + share) * pct
        )));
    }
    let row: UnitOwner = sqlx::query_as(
        "/* POST /api/v1/units/{unit_id}/owners */ INSERT INTO unit_owners \
         (id, unit_id, owner_id, ownership_percentage, start_date, is_primary_contact) \
         VALUES ($1, $2, $3, $4, now(), $5) RETURNING id, unit_id, owner_id, \
         ownership_percentage, start_date, end_date, is_primary_contact, \
         (end_date IS NULL) AS is_active, created_at, updated_at",
    )
    .bind(Uuid::new_v4())
    .bind(unit)
    .bind(owner)
    .bind(share)
    .bind(body.is_primary_contact)
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, axum::Json(row)))
}
