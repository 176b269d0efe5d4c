//! Stock levels, ledger movements, availability and sales channels: rows, forms and API
//! types, a file for each part they serve; what all of them share is here.

mod availability;
mod channels;
mod ledger;
mod levels;

pub use availability::*;
pub use channels::*;
pub use ledger::*;
pub use levels::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::validate::Validator;
/// The largest count or delta accepted: far above any shelf, far below overflow.
pub const MAX_QUANTITY: i64 = 1_000_000_000;
/// Most lines in one adjustment batch.
pub const MAX_ADJUSTMENTS: usize = 1_000;
/// Most items in one snapshot.
pub const MAX_SNAPSHOT_ITEMS: usize = 100_000;
/// Most lines in one availability check.
pub const MAX_CHECK_LINES: usize = 500;

/// `available = max(0, on_hand - reserved - safety_stock)`: the one formula every channel uses.
pub fn available(on_hand: i64, reserved: i64, safety_stock: i64) -> i64 {
    (on_hand - reserved - safety_stock).max(0)
}

/// Why stock moved. Counts and adjustments take these; holds and orders add their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Reason {
    Count,
    Receipt,
    Sale,
    Return,
    Damage,
    Correction,
    TransferIn,
    TransferOut,
}

impl Reason {
    /// The word the ledger records (movements also carry the reasons of holds and orders,
    /// so the ledger's column is not read back as this type).
    pub fn as_str(&self) -> &'static str {
        (*self).into()
    }
}

fn check_reference(v: &mut Validator, field: String, reference: &Option<String>) {
    if let Some(reference) = reference {
        v.check(
            crate::http::formats::is_reference(reference),
            field,
            "must be 1 to 200 characters without control characters",
        );
    }
}
