//! `/api/v1/owners`: list, create, one owner, as KoproGo's owner_handlers.rs serves
//! them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::list::{ListParams, ListSpec, Owned, Page, SortKey, fetch_one, list_route};
use super::validate;
use crate::server::AppState;
use crate::server::auth::AuthUser;
use crate::server::error::{ApiError, Json, Path, Query};
use crate::server::model::Role;

/// An owner (co-proprietor) as KoproGo returns it (`OwnerResponseDto`,
/// application/dto/owner_dto.rs).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Owner {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub address: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl Owned for Owner {
    fn organization_id(&self) -> Uuid {
        self.organization_id
    }
}

const LIST: ListSpec = ListSpec {
    count_sql: "/* GET /api/v1/owners */ SELECT COUNT(*) FROM owners WHERE organization_id = $1",
    page_sql: concat!(
        "/* GET /api/v1/owners */ SELECT ",
        owner_columns!(),
        " FROM owners WHERE organization_id = $1"
    ),
    count_all_sql: "/* GET /api/v1/owners */ SELECT COUNT(*) FROM owners",
    page_all_sql: concat!(
        "/* GET /api/v1/owners */ SELECT ",
        owner_columns!(),
        " FROM owners"
    ),
    // KoproGo's whitelist (owner_repository_impl.rs), last_name its default.
    sort_keys: &[
        // The order of the (organization_id, last_name, first_name) index.
        SortKey {
            name: "last_name",
            columns: &["last_name", "first_name"],
        },
        SortKey {
            name: "first_name",
            columns: &["first_name"],
        },
        SortKey {
            name: "email",
            columns: &["email"],
        },
        SortKey {
            name: "created_at",
            columns: &["created_at"],
        },
    ],
};

/// `GET /owners`: a page of the owners the caller may see.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<Owner>>, ApiError> {
    list_route(&state, &user, &params, &LIST).await
}

/// `GET /owners/{id}`: 404 when there is none, 403 when it is another organization's.
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Owner>, ApiError> {
    fetch_one(
        &state,
        &user,
        concat!(
            "/* GET /api/v1/owners/{id} */ SELECT ",
            owner_columns!(),
            " FROM owners WHERE id = $1"
        ),
        id,
        "Owner not found",
    )
    .await
    .map(axum::Json)
}

/// The create body, KoproGo's `CreateOwnerDto`: everything required but `phone` and
/// `organization_id` (a superadmin's choice; anyone else's is the token's).
#[derive(Debug, Deserialize)]
pub struct CreateOwner {
    #[serde(default)]
    pub organization_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub address: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// `POST /owners` → 201 with the row: a syndic or board member in its organization, a
/// superadmin in the one the body names; 400 "Email already exists" when any owner has
/// that e-mail (KoproGo checks across organizations).
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateOwner>,
) -> Result<(StatusCode, axum::Json<Owner>), ApiError> {
    if matches!(user.0.role, Role::Owner | Role::Accountant) {
        return Err(ApiError::Forbidden(
            "Only SuperAdmin and Syndic can create owners",
        ));
    }
    let org = if user.is_superadmin() {
        validate::organization_id(&body.organization_id)?
    } else {
        user.organization()?
    };
    let first_name = validate::text("first_name", &body.first_name, validate::PERSON_NAME_MAX)?;
    let last_name = validate::text("last_name", &body.last_name, validate::PERSON_NAME_MAX)?;
    let email = validate::email("email", &body.email)?;
    let phone = validate::optional_text("phone", body.phone.as_deref(), validate::PHONE_MAX)?;
    let address = validate::text("address", &body.address, validate::ADDRESS_MAX)?;
    let city = validate::text("city", &body.city, validate::CITY_MAX)?;
    let postal_code = validate::text("postal_code", &body.postal_code, validate::POSTAL_CODE_MAX)?;
    let country = validate::text("country", &body.country, validate::COUNTRY_MAX)?;

    let taken: bool = sqlx::query_scalar(
        "/* POST /api/v1/owners */ SELECT EXISTS (SELECT 1 FROM owners WHERE email = $1)",
    )
    .bind(&email)
    .fetch_one(&state.pool)
    .await?;
    if taken {
        return Err(ApiError::bad_request("Email already exists"));
    }
    let owner: Owner = sqlx::query_as(concat!(
        "/* POST /api/v1/owners */ INSERT INTO owners \
         (id, organization_id, first_name, last_name, email, phone, address, city, postal_code, \
         country) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
        owner_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(org)
    .bind(first_name)
    .bind(last_name)
    .bind(email)
    .bind(phone)
    .bind(address)
    .bind(city)
    .bind(postal_code)
    .bind(country)
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, axum::Json(owner)))
}
