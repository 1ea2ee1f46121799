//! KoproGo's enum-like values, spelled in JSON exactly as its serde attributes give
//! them (backend/src/domain/entities/): `UnitType` and `ExpenseCategory` PascalCase
//! (`Apartment`, `Maintenance`; nothing else is accepted), `PaymentStatus` and
//! `ApprovalStatus` snake_case (`pending`, `pending_approval`), `Role` snake_case,
//! `AccountType` upper case. Stored as the schema's lowercase text values.
//!
//! Each enum decodes straight from its text column, so row structs can derive
//! `sqlx::FromRow` and `Serialize` and go to the client as they are.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

/// Serializes a timestamp as KoproGo's DTOs hold theirs: `to_rfc3339()`, with
/// `+00:00` (`2025-01-10T00:00:00+00:00`), for the fields its DTOs type as strings
/// (buildings, expenses, accounts). Its `DateTime<Utc>` fields (unit owners) keep
/// chrono's serde form, with `Z`.
pub fn rfc3339<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&t.to_rfc3339())
}

/// Implements the text-column mapping of an enum: `as_db`, `from_db`, and sqlx's
/// `Type` + `Decode` for Postgres (an unknown stored value is a decode error, i.e.
/// the server's fault, not the client's).
macro_rules! db_text_enum {
    ($name:ident, $column:literal { $($variant:ident => $db:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in the schema's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The value as the schema stores it.
            pub const fn as_db(self) -> &'static str {
                match self {
                    $(Self::$variant => $db),+
                }
            }

            /// The value for a stored text, if the schema allows it.
            pub fn from_db(text: &str) -> Option<Self> {
                match text {
                    $($db => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Self::from_db(text)
                    .ok_or_else(|| format!("unknown {} {text:?} in the database", $column).into())
            }
        }
    };
}

/// A user's role; lowercase in JSON and in the database, as in KoproGo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Superadmin,
    Syndic,
    Accountant,
    BoardMember,
    Owner,
}

db_text_enum!(Role, "role" {
    Superadmin => "superadmin",
    Syndic => "syndic",
    Accountant => "accountant",
    BoardMember => "board_member",
    Owner => "owner",
});

/// `units.unit_type` (KoproGo's `UnitType`, domain/entities/unit.rs: PascalCase).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitType {
    Apartment,
    Parking,
    Cellar,
    Commercial,
    Other,
}

db_text_enum!(UnitType, "unit_type" {
    Apartment => "apartment",
    Parking => "parking",
    Cellar => "cellar",
    Commercial => "commercial",
    Other => "other",
});

/// `expenses.category` (KoproGo's `ExpenseCategory`, domain/entities/expense.rs:
/// PascalCase).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpenseCategory {
    Maintenance,
    Repairs,
    Insurance,
    Utilities,
    Cleaning,
    Administration,
    Works,
    Other,
}

db_text_enum!(ExpenseCategory, "category" {
    Maintenance => "maintenance",
    Repairs => "repairs",
    Insurance => "insurance",
    Utilities => "utilities",
    Cleaning => "cleaning",
    Administration => "administration",
    Works => "works",
    Other => "other",
});

/// `expenses.payment_status` (KoproGo's `PaymentStatus`, domain/entities/expense.rs:
/// `#[serde(rename_all = "snake_case")]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Paid,
    Overdue,
    Cancelled,
}

db_text_enum!(PaymentStatus, "payment_status" {
    Pending => "pending",
    Paid => "paid",
    Overdue => "overdue",
    Cancelled => "cancelled",
});

/// `expenses.approval_status` (KoproGo's `ApprovalStatus`, domain/entities/expense.rs:
/// `#[serde(rename_all = "snake_case")]`), stored as KoproGo's enum values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Draft,
    PendingApproval,
    Approved,
    Rejected,
}

db_text_enum!(ApprovalStatus, "approval_status" {
    Draft => "draft",
    PendingApproval => "pending_approval",
    Approved => "approved",
    Rejected => "rejected",
});

/// `accounts.account_type`: the PCMN class of an account, upper case in JSON and in
/// the database alike. KoproGo's DTO takes it as a string, case-insensitive, with
/// `OFFBALANCE` for `OFF_BALANCE` (account_handlers.rs `parse_account_type`): see
/// [`AccountType::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountType {
    Asset,
    Liability,
    Expense,
    Revenue,
    OffBalance,
}

impl AccountType {
    /// KoproGo's parse: upper-cased, then one of the five (or `OFFBALANCE`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_uppercase().as_str() {
            "OFFBALANCE" => Some(Self::OffBalance),
            upper => Self::from_db(upper),
        }
    }
}

db_text_enum!(AccountType, "account_type" {
    Asset => "ASSET",
    Liability => "LIABILITY",
    Expense => "EXPENSE",
    Revenue => "REVENUE",
    OffBalance => "OFF_BALANCE",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_spelled_as_koprogo_serializes_it() {
        assert_eq!(
            serde_json::to_string(&UnitType::Apartment).unwrap(),
            "\"Apartment\""
        );
        assert_eq!(
            serde_json::from_str::<UnitType>("\"Parking\"").unwrap(),
            UnitType::Parking
        );
        // KoproGo's derive accepts the variant name only.
        assert!(serde_json::from_str::<UnitType>("\"parking\"").is_err());
        assert!(serde_json::from_str::<ExpenseCategory>("\"maintenance\"").is_err());
        assert!(serde_json::from_str::<ExpenseCategory>("\"MAINTENANCE\"").is_err());
        assert_eq!(
            serde_json::to_string(&ApprovalStatus::PendingApproval).unwrap(),
            "\"pending_approval\""
        );
        assert_eq!(
            serde_json::to_string(&PaymentStatus::Pending).unwrap(),
            "\"pending\""
        );
        assert_eq!(
            serde_json::to_string(&Role::BoardMember).unwrap(),
            "\"board_member\""
        );
        assert_eq!(
            AccountType::parse("off_balance"),
            Some(AccountType::OffBalance)
        );
        assert_eq!(
            AccountType::parse("OffBalance"),
            Some(AccountType::OffBalance)
        );
        assert_eq!(AccountType::parse("revenue"), Some(AccountType::Revenue));
        assert_eq!(AccountType::parse("CASH"), None);
    }

    #[test]
    fn db_values_round_trip() {
        for v in UnitType::ALL {
            assert_eq!(UnitType::from_db(v.as_db()), Some(*v));
        }
        for v in ExpenseCategory::ALL {
            assert_eq!(ExpenseCategory::from_db(v.as_db()), Some(*v));
        }
        for v in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::from_db(v.as_db()), Some(*v));
        }
        for v in ApprovalStatus::ALL {
            assert_eq!(ApprovalStatus::from_db(v.as_db()), Some(*v));
        }
        for v in Role::ALL {
            assert_eq!(Role::from_db(v.as_db()), Some(*v));
        }
        for v in AccountType::ALL {
            assert_eq!(AccountType::from_db(v.as_db()), Some(*v));
            // JSON and database spell it the same way.
            assert_eq!(
                serde_json::to_string(v).unwrap(),
                format!("\"{}\"", v.as_db())
            );
        }
        assert_eq!(ApprovalStatus::Approved.as_db(), "approved");
        for v in ApprovalStatus::ALL {
            // JSON and database spell it the same way.
            assert_eq!(
                serde_json::to_string(v).unwrap(),
                format!("\"{}\"", v.as_db())
            );
        }
        assert_eq!(Role::from_db("Syndic"), None);
    }
}
