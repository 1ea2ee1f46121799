//! Checks on create bodies, run before any SQL: each failure is a 400 naming the
//! field, so that the database's constraints are a second line only. KoproGo's own
//! checks (its DTOs' `validator` attributes, its entities' constructors) come first,
//! with its messages where a client could branch on them; the bounds it lacks (text
//! lengths, NUL characters, ranges) are ours, against hostile input.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::server::error::ApiError;

/// Maximum lengths, in characters, of the free-text fields.
pub const NAME_MAX: usize = 255;
pub const PERSON_NAME_MAX: usize = 100;
pub const ADDRESS_MAX: usize = 500;
pub const CITY_MAX: usize = 100;
pub const POSTAL_CODE_MAX: usize = 20;
pub const COUNTRY_MAX: usize = 100;
pub const EMAIL_MAX: usize = 255;
pub const PHONE_MAX: usize = 50;
pub const UNIT_NUMBER_MAX: usize = 50;
pub const DESCRIPTION_MAX: usize = 2000;
pub const SUPPLIER_MAX: usize = 255;
pub const INVOICE_NUMBER_MAX: usize = 100;
pub const ACCOUNT_CODE_MAX: usize = 40;

/// A required text: trimmed, non-empty, at most `max` characters, no NUL.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad_request(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::bad_request(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if value.contains('\0') {
        return Err(ApiError::bad_request(format!(
            "{field} must not contain NUL characters"
        )));
    }
    Ok(value.to_string())
}

/// An optional text: absent or blank is None, otherwise as [`text`].
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if !v.trim().is_empty() => text(field, v, max).map(Some),
        _ => Ok(None),
    }
}

/// A PCMN account code: 1 to [`ACCOUNT_CODE_MAX`] ASCII letters or digits (PCMN codes
/// are digits; letters allow local sub-accounts), so that it is always a clean path
/// segment of `/accounts/code/{code}`.
pub fn account_code(field: &str, value: &str) -> Result<String, ApiError> {
    let value = text(field, value, ACCOUNT_CODE_MAX)?;
    if !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_request(format!(
            "{field} must be letters and digits only"
        )));
    }
    Ok(value)
}

/// An e-mail address: a text with an `@` between non-empty parts and no whitespace.
pub fn email(field: &str, value: &str) -> Result<String, ApiError> {
    let value = text(field, value, EMAIL_MAX)?;
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !value.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !valid {
        return Err(ApiError::bad_request(format!(
            "{field} must be an e-mail address"
        )));
    }
    Ok(value)
}

/// An integer within `min..=max`.
pub fn int_range(field: &str, value: i32, min: i32, max: i32) -> Result<i32, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::bad_request(format!(
            "{field} must be between {min} and {max}"
        )))
    }
}

/// A finite number with `min <= value <= max`.
pub fn number_range(field: &str, value: f64, min: f64, max: f64) -> Result<f64, ApiError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::bad_request(format!(
            "{field} must be between {min} and {max}"
        )))
    }
}

/// A money amount for `numeric(12, 2)`: KoproGo's `amount > 0` ("Amount must be
/// greater than 0", domain/entities/expense.rs), and ours: at least a cent once
/// PostgreSQL rounds it to two decimals, below 10^10. Returned rounded, as stored.
pub fn amount(value: Decimal) -> Result<Decimal, ApiError> {
    if value <= Decimal::ZERO {
        return Err(ApiError::bad_request("Amount must be greater than 0"));
    }
    let cents = value.round_dp(2);
    if cents < Decimal::new(1, 2) || cents >= Decimal::new(10_000_000_000, 0) {
        return Err(ApiError::bad_request(
            "amount must be at least 0.01 and less than 10000000000",
        ));
    }
    Ok(cents)
}

/// An `organization_id` a superadmin names in a body, checked as KoproGo's handlers
/// do: empty → "SuperAdmin must specify organization_id", not a UUID → "Invalid
/// organization_id format".
pub fn organization_id(value: &str) -> Result<Uuid, ApiError> {
    if value.is_empty() {
        return Err(ApiError::bad_request(
            "SuperAdmin must specify organization_id",
        ));
    }
    Uuid::parse_str(value).map_err(|_| ApiError::bad_request("Invalid organization_id format"))
}

/// A UUID given as a string field (KoproGo's DTOs hold ids as strings), with its
/// message when it is not one.
pub fn uuid(value: &str, message: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value).map_err(|_| ApiError::bad_request(message))
}

/// An RFC 3339 date-time (`2026-06-01T00:00:00Z`), as KoproGo parses `expense_date`
/// (`DateTime::parse_from_rfc3339`, "Invalid date format" otherwise: a plain date is
/// refused).
pub fn rfc3339(value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_request("Invalid date format"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(text("name", "  Résidence  ", 20).unwrap(), "Résidence");
        assert!(text("name", "   ", 20).is_err());
        assert!(text("name", "abc", 2).is_err());
        assert!(text("name", "a\0b", 20).is_err());
        assert_eq!(optional_text("phone", Some(" "), 5).unwrap(), None);
        assert_eq!(optional_text("phone", None, 5).unwrap(), None);
        assert_eq!(account_code("code", " 611002 ").unwrap(), "611002");
        for bad in ["", "61 00", "61/00", "6100'", &"1".repeat(41)] {
            assert!(account_code("code", bad).is_err(), "{bad}");
        }
        assert!(email("email", "a@b.be").is_ok());
        for bad in ["ab.be", "@b.be", "a@", "a b@c.be"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(amount(d("1234.5")).unwrap(), d("1234.50"));
        assert_eq!(amount(d("99.999")).unwrap(), d("100.00"));
        assert_eq!(amount(d("0.01")).unwrap(), d("0.01"));
        assert_eq!(amount(d("9999999999.99")).unwrap(), d("9999999999.99"));
        for bad in ["0", "-1", "0.004", "10000000000", "9999999999.999"] {
            assert!(amount(d(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            amount(d("-1")).unwrap_err().to_string(),
            "Amount must be greater than 0"
        );
    }

    #[test]
    fn ids_and_dates() {
        assert_eq!(
            organization_id("").unwrap_err().to_string(),
            "SuperAdmin must specify organization_id"
        );
        assert_eq!(
            organization_id("nope").unwrap_err().to_string(),
            "Invalid organization_id format"
        );
        assert!(organization_id("00000000-0000-0000-0000-000000000001").is_ok());
        let t = rfc3339("2026-06-01T10:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-06-01T08:00:00+00:00");
        for bad in ["2026-06-01", "2026-02-30T00:00:00Z", "yesterday", ""] {
            assert_eq!(
                rfc3339(bad).unwrap_err().to_string(),
                "Invalid date format",
                "{bad}"
            );
        }
    }
}
