//! KoproGo's enum-like values: PascalCase in JSON (lowercase accepted on input),
//! stored as the schema's text values (lowercase, but for `expenses.status`).
//!
//! Each enum decodes straight from its text column, so row structs can derive
//! `sqlx::FromRow` and `Serialize` and go to the client as they are.

use serde::{Deserialize, Serialize};

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

/// `units.unit_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitType {
    #[serde(alias = "apartment")]
    Apartment,
    #[serde(alias = "parking")]
    Parking,
    #[serde(alias = "cellar")]
    Cellar,
    #[serde(alias = "commercial")]
    Commercial,
    #[serde(alias = "other")]
    Other,
}

db_text_enum!(UnitType, "unit_type" {
    Apartment => "apartment",
    Parking => "parking",
    Cellar => "cellar",
    Commercial => "commercial",
    Other => "other",
});

/// `expenses.category`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpenseCategory {
    #[serde(alias = "maintenance")]
    Maintenance,
    #[serde(alias = "repairs")]
    Repairs,
    #[serde(alias = "insurance")]
    Insurance,
    #[serde(alias = "utilities")]
    Utilities,
    #[serde(alias = "cleaning")]
    Cleaning,
    #[serde(alias = "administration")]
    Administration,
    #[serde(alias = "works")]
    Works,
    #[serde(alias = "other")]
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

/// `expenses.payment_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    #[serde(alias = "pending")]
    Pending,
    #[serde(alias = "paid")]
    Paid,
    #[serde(alias = "overdue")]
    Overdue,
    #[serde(alias = "cancelled")]
    Cancelled,
}

db_text_enum!(PaymentStatus, "payment_status" {
    Pending => "pending",
    Paid => "paid",
    Overdue => "overdue",
    Cancelled => "cancelled",
});

/// `expenses.status` (KoproGo's approval_status), stored PascalCase as the guide's
/// query `status = 'Approved'` has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalStatus {
    #[serde(alias = "draft")]
    Draft,
    #[serde(alias = "pending_approval", alias = "pendingapproval")]
    PendingApproval,
    #[serde(alias = "approved")]
    Approved,
    #[serde(alias = "rejected")]
    Rejected,
}

db_text_enum!(ApprovalStatus, "status" {
    Draft => "Draft",
    PendingApproval => "PendingApproval",
    Approved => "Approved",
    Rejected => "Rejected",
});

/// `accounts.account_type`: the PCMN class of an account, upper case in JSON and in
/// the database alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountType {
    #[serde(alias = "asset")]
    Asset,
    #[serde(alias = "liability")]
    Liability,
    #[serde(alias = "expense")]
    Expense,
    #[serde(alias = "revenue")]
    Revenue,
    #[serde(alias = "off_balance")]
    OffBalance,
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
    fn json_is_pascal_case_and_lowercase_is_accepted() {
        assert_eq!(
            serde_json::to_string(&UnitType::Apartment).unwrap(),
            "\"Apartment\""
        );
        assert_eq!(
            serde_json::from_str::<UnitType>("\"parking\"").unwrap(),
            UnitType::Parking
        );
        assert_eq!(
            serde_json::from_str::<ApprovalStatus>("\"pending_approval\"").unwrap(),
            ApprovalStatus::PendingApproval
        );
        assert!(serde_json::from_str::<ExpenseCategory>("\"MAINTENANCE\"").is_err());
        assert_eq!(
            serde_json::to_string(&Role::BoardMember).unwrap(),
            "\"board_member\""
        );
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
        assert_eq!(ApprovalStatus::Approved.as_db(), "Approved");
        assert_eq!(Role::from_db("Syndic"), None);
    }
}
