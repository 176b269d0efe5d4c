//! The ledger: movements, and the drift `clickcollect check` reports.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::stock_movements;

/// A ledger row as read: its id and what was written.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stock_movements)]
pub struct MovementRow {
    pub id: i64,
    #[diesel(embed)]
    pub movement: NewMovement,
}

/// A ledger row as written.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = stock_movements)]
pub struct NewMovement {
    pub location: String,
    pub sku: String,
    pub delta_on_hand: i64,
    pub delta_reserved: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub actor: String,
    pub at: NaiveDateTime,
}

/// One ledger entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Movement {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub delta_on_hand: i64,
    pub delta_reserved: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub actor: String,
}

impl From<MovementRow> for Movement {
    fn from(row: MovementRow) -> Self {
        let written = row.movement;
        Movement {
            id: row.id,
            at: written.at.and_utc(),
            delta_on_hand: written.delta_on_hand,
            delta_reserved: written.delta_reserved,
            reason: written.reason,
            reference: written.reference,
            actor: written.actor,
        }
    }
}

/// A (location, sku) whose counters disagree with what should explain them: its ledger, or
/// (for `reserved`) the open holds and orders. What `clickcollect check` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub location: String,
    pub sku: String,
    pub on_hand: i64,
    pub ledger_on_hand: i64,
    pub reserved: i64,
    pub ledger_reserved: i64,
    /// Units held by holds still `held` and orders still `confirmed`, `picking` or
    /// `ready_for_pickup`.
    pub open_reserved: i64,
}
