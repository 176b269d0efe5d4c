//! Holds: rows, forms and API types.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::reservations;
use crate::error::ApiError;
use crate::http::json::Validate;
use crate::http::validate::{code_problem, Validator};
use crate::slots::model::BookedSlot;
use crate::stock::risk::AtRisk;

pub use super::status::HoldStatus;

/// Most lines one hold may carry.
pub const MAX_LINES: usize = 100;
/// Most units of one SKU one hold may take: a shopper, not a reseller.
pub const MAX_LINE_QUANTITY: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldLine {
    pub sku: String,
    pub quantity: i64,
}

/// `POST /v1/reservations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    pub location: String,
    pub lines: Vec<HoldLine>,
    /// How long to hold, in seconds (30 to 86400); defaults to `HOLD_TTL_SECONDS` (15 minutes).
    /// Longer than this deployment's `HOLD_TTL_MAX_SECONDS` (an hour by default) is held for
    /// that long: `expires_at` says when the hold ends.
    pub ttl_seconds: Option<i64>,
    /// A pickup or curbside slot of the same store to book with the hold (an `id` from
    /// `GET /v1/locations/{code}/slots`): held and released with it, and the order's when the
    /// hold becomes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_id: Option<String>,
    /// Remind me shortly before the hold lapses (`HOLD_REMINDER_BEFORE_SECONDS`, at most half
    /// its time), on my channels. For holds placed with a customer's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind: Option<bool>,
}

impl Validate for NewHold {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.code("location", &self.location);
        validate_lines(&mut v, &self.lines);
        if let Some(ttl) = self.ttl_seconds {
            v.range("ttl_seconds", ttl, 30, 86_400);
        }
        if let Some(slot) = &self.slot_id {
            v.text("slot_id", slot, 200);
        }
        v.finish()
    }
}

/// 1 to 100 lines, each SKU once, each quantity 1 to 10,000.
pub fn validate_lines(v: &mut Validator, lines: &[HoldLine]) {
    if lines.is_empty() || lines.len() > MAX_LINES {
        v.add("lines", format!("must hold 1 to {MAX_LINES} lines"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(message) = code_problem(&line.sku) {
            v.add(format!("lines[{i}].sku"), message);
        } else if !seen.insert(line.sku.as_str()) {
            v.add(format!("lines[{i}].sku"), "appears twice; give one line per SKU");
        }
        v.range(format!("lines[{i}].quantity"), line.quantity, 1, MAX_LINE_QUANTITY);
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reservations)]
pub struct ReservationRow {
    pub id: String,
    pub location: String,
    pub owner: String,
    pub status: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub extended_at: Option<NaiveDateTime>,
    pub slot_id: Option<String>,
}

/// `POST /v1/reservations/{id}/extend`; the body may be left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendHold {
    /// How much longer to hold, in seconds (30 to 86400); defaults to `HOLD_TTL_SECONDS`. The
    /// hold then ends no later than `HOLD_TTL_MAX_SECONDS` from now: `expires_at` says when.
    pub seconds: Option<i64>,
}

impl Validate for ExtendHold {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        if let Some(seconds) = self.seconds {
            v.range("seconds", seconds, 30, 86_400);
        }
        v.finish()
    }
}

/// A hold.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reservation {
    pub id: String,
    /// `held` until released, expired or turned into an order. A hold past `expires_at` reads
    /// as `expired` even before the sweeper has returned its stock.
    pub status: HoldStatus,
    pub location: String,
    pub lines: Vec<HoldLine>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// When the hold was extended; a hold is extended once at most.
    pub extended_at: Option<DateTime<Utc>>,
    /// The slot booked with the hold.
    pub slot: Option<BookedSlot>,
    /// Set while stock no longer covers every line (a recount found fewer units than are
    /// reserved): turning the hold into an order is then refused.
    pub at_risk: Option<AtRisk>,
}

impl Reservation {
    pub fn from_row(
        row: ReservationRow,
        lines: Vec<HoldLine>,
        at_risk: Option<AtRisk>,
        now: NaiveDateTime,
    ) -> Result<Self, ApiError> {
        let mut status = HoldStatus::from_stored(&row.status)?;
        if status == HoldStatus::Held && row.expires_at <= now {
            status = HoldStatus::Expired;
        }
        Ok(Reservation {
            id: row.id,
            status,
            location: row.location,
            lines,
            expires_at: row.expires_at.and_utc(),
            created_at: row.created_at.and_utc(),
            extended_at: row.extended_at.map(|at| at.and_utc()),
            slot: row.slot_id.as_deref().and_then(crate::slots::describe),
            at_risk,
        })
    }
}
