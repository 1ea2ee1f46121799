//! JWT access tokens as KoproGo issues them (HS256; claims sub, email,
//! organization_id, role, exp) and the [`AuthUser`] extractor that checks them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::config::JwtSecret;
use super::error::ApiError;
use super::model::Role;

/// The claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    pub email: String,
    /// None for a superadmin outside any organization.
    pub organization_id: Option<Uuid>,
    pub role: Role,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// The signing and verifying keys, derived once from the configured secret.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    pub fn new(secret: &JwtSecret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // The server is its own issuer and verifier: no clock skew to forgive.
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Signs `claims` into a compact JWT.
    pub fn encode(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("signing a JWT")))
    }

    /// Verifies a token's signature and expiry.
    pub fn decode(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::Unauthorized("token expired"),
                _ => ApiError::Unauthorized("invalid token"),
            })
    }
}

/// Claims for a fresh access token valid for `ttl`.
pub fn claims_for(
    user_id: Uuid,
    email: &str,
    organization_id: Option<Uuid>,
    role: Role,
    ttl: Duration,
) -> Claims {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Claims {
        sub: user_id,
        email: email.to_string(),
        organization_id,
        role,
        iat: now,
        exp: now + ttl.as_secs(),
    }
}

/// The authenticated caller, taken from `Authorization: Bearer <jwt>`; rejects with
/// 401 when the header is missing or the token invalid or expired.
#[derive(Clone, Debug)]
pub struct AuthUser(pub Claims);

/// Which rows a caller may see: KoproGo's `effective_org_filter`
/// (infrastructure/web/middleware.rs): a superadmin sees every organization, anyone
/// else their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Organization(Uuid),
}

impl Scope {
    /// The organization to filter by, None for all.
    pub fn organization(self) -> Option<Uuid> {
        match self {
            Scope::All => None,
            Scope::Organization(org) => Some(org),
        }
    }
}

/// KoproGo's answer to a user of one organization naming another's row
/// (`verify_org_access`, infrastructure/web/middleware.rs).
pub const OTHER_ORGANIZATION: &str = "Access denied: resource belongs to another organization";

impl AuthUser {
    /// The caller's organization, for the routes KoproGo scopes to it whoever calls
    /// (`require_organization`: 401 for a user without one, a platform superadmin).
    pub fn organization(&self) -> Result<Uuid, ApiError> {
        self.0.organization_id.ok_or(ApiError::Unauthorized(
            "User does not belong to an organization",
        ))
    }

    /// True for KoproGo's platform role.
    pub fn is_superadmin(&self) -> bool {
        self.0.role == Role::Superadmin
    }

    /// What the caller's reads cover: everything for a superadmin, else its
    /// organization (401 without one).
    pub fn scope(&self) -> Result<Scope, ApiError> {
        if self.is_superadmin() {
            Ok(Scope::All)
        } else {
            self.organization().map(Scope::Organization)
        }
    }

    /// 403 unless the caller may see a row of organization `org`: a superadmin may,
    /// anyone else only in its own (KoproGo's `verify_org_access`).
    pub fn verify_org_access(&self, org: Uuid) -> Result<(), ApiError> {
        match self.scope()? {
            Scope::All => Ok(()),
            Scope::Organization(own) if own == org => Ok(()),
            Scope::Organization(_) => Err(ApiError::Forbidden(OTHER_ORGANIZATION)),
        }
    }

    /// 403 with `message` (KoproGo's, for the route) unless the caller has one of
    /// `roles`.
    pub fn require_role(&self, roles: &[Role], message: &'static str) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(message))
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("Missing authorization header"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::Unauthorized("Invalid authorization header"))?;
        state.keys.decode(token).map(AuthUser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_expire() {
        let keys = Keys::new(&JwtSecret::new(*b"0123456789abcdef0123"));
        let id = Uuid::new_v4();
        let claims = claims_for(
            id,
            "a@b.be",
            Some(id),
            Role::Syndic,
            Duration::from_secs(900),
        );
        let token = keys.encode(&claims).unwrap();
        let back = keys.decode(&token).unwrap();
        assert_eq!(back.sub, id);
        assert_eq!(back.role, Role::Syndic);
        assert_eq!(back.exp - back.iat, 900);

        let mut old = claims.clone();
        old.exp = old.iat - 10;
        let expired = keys.encode(&old).unwrap();
        assert!(matches!(
            keys.decode(&expired),
            Err(ApiError::Unauthorized("token expired"))
        ));

        let other = Keys::new(&JwtSecret::new(*b"another-secret-of-20b"));
        assert!(matches!(
            other.decode(&token),
            Err(ApiError::Unauthorized("invalid token"))
        ));
    }
}
