//! Checks on create bodies, run before any SQL: each failure is a 400 naming the
//! field, so that the database's constraints are a second line only.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

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

/// The country a building or owner gets when the body names none (the schema's default).
pub const DEFAULT_COUNTRY: &str = "Belgium";

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

/// A finite number with `0 < value <= max`.
pub fn positive(field: &str, value: f64, max: f64) -> Result<f64, ApiError> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(value)
    } else {
        Err(ApiError::bad_request(format!(
            "{field} must be greater than 0 and at most {max}"
        )))
    }
}

/// A money amount for `numeric(12, 2)`: `0 < amount < 1e10`, rounded to the cent
/// and returned as the decimal text bound with `::numeric` (no float reaches the
/// column).
pub fn amount(field: &str, value: f64) -> Result<String, ApiError> {
    let cents = (value * 100.0).round();
    if !(value.is_finite() && value > 0.0 && value < 1e10 && (1.0..1e12).contains(&cents)) {
        return Err(ApiError::bad_request(format!(
            "{field} must be greater than 0 and less than 10000000000 (at least 0.01)"
        )));
    }
    // cents < 1e12 fits an i64 exactly.
    let cents = cents as i64;
    Ok(format!("{}.{:02}", cents / 100, cents % 100))
}

/// Deserializes a date given either as `YYYY-MM-DD` or as an RFC 3339 timestamp
/// (KoproGo's clients send the latter); the timestamp's own calendar date is kept.
pub fn deserialize_date<'de, D>(deserializer: D) -> Result<NaiveDate, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return Ok(date);
    }
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|t| t.date_naive())
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "invalid date {text:?}: expected YYYY-MM-DD or an RFC 3339 timestamp"
            ))
        })
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
        assert_eq!(amount("amount", 1234.5).unwrap(), "1234.50");
        assert_eq!(amount("amount", 0.01).unwrap(), "0.01");
        assert_eq!(amount("amount", 9_999_999_999.99).unwrap(), "9999999999.99");
        for bad in [
            0.0,
            -1.0,
            0.004,
            1e10,
            9_999_999_999.999,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert!(amount("amount", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        #[derive(Deserialize)]
        struct D {
            #[serde(deserialize_with = "deserialize_date")]
            d: NaiveDate,
        }
        let parse = |s: &str| serde_json::from_str::<D>(s).map(|d| d.d);
        let day = NaiveDate::from_ymd_opt(2025, 3, 14).unwrap();
        assert_eq!(parse(r#"{"d":"2025-03-14"}"#).unwrap(), day);
        assert_eq!(parse(r#"{"d":"2025-03-14T10:00:00Z"}"#).unwrap(), day);
        assert!(parse(r#"{"d":"2025-02-30"}"#).is_err());
        assert!(parse(r#"{"d":14}"#).is_err());
    }
}
