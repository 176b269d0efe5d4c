//! Ship-to-store: the lanes a store is supplied by, the transfers that carry an order's lines
//! to it, and what staff say arrived.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::http::json::Validate;
use crate::http::validate::{code_problem, Validator};

crate::db::stored::stored_enum! {
    /// Where a transfer stands.
    pub enum TransferStatus as "transfer status" {
        /// Reserved at the source and on its way; the only open status.
        InTransit,
        /// Everything arrived.
        Received,
        /// Some units arrived, not all.
        Partial,
        /// Nothing arrived.
        Lost,
        /// Its order was cancelled before it arrived: the source's units went back on sale.
        Cancelled,
    }
}

/// Most lanes into one store.
pub const MAX_LANES: usize = 50;
/// The longest lane, in working days.
pub const MAX_WORKING_DAYS: i32 = 30;

/// One lane into a store: `from` sends stock to it in `working_days` of the store's working
/// days (days it opens; Monday to Friday for a store without opening hours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    /// The location that sends: a warehouse or another store.
    pub from: String,
    /// 1 to 30 working days.
    pub working_days: i32,
}

/// `PUT /v1/locations/{code}/lanes`: every lane into the store, fastest tried first; an
/// empty list turns ship-to-store off for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lanes {
    pub lanes: Vec<Lane>,
}

impl Validate for Lanes {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        if self.lanes.len() > MAX_LANES {
            v.add("lanes", format!("at most {MAX_LANES} lanes"));
        }
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(problem) = code_problem(&lane.from) {
                v.add(format!("lanes[{i}].from"), problem);
            } else if self.lanes[..i].iter().any(|other| other.from == lane.from) {
                v.add(format!("lanes[{i}].from"), "appears twice");
            }
            v.range(format!("lanes[{i}].working_days"), i64::from(lane.working_days), 1, i64::from(MAX_WORKING_DAYS));
        }
        v.finish()
    }
}

/// One line a transfer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TransferLine {
    pub sku: String,
    pub quantity: i64,
    /// Units that arrived; absent until the transfer is received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<i64>,
}

/// A transfer: units of one order's lines moving from `from` to the order's store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Transfer {
    pub id: String,
    pub order_id: String,
    /// The order's number, as the customer and the store know it.
    pub order_number: String,
    pub from: String,
    pub to: String,
    pub status: TransferStatus,
    /// When it is due at the store: the lane's working days after it was sent, at opening.
    pub expected_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
    /// Who received it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_by: Option<String>,
    pub lines: Vec<TransferLine>,
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/transfers` filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// The receiving store. Staff see their own store's (the default for them); admins any.
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub to: Option<String>,
    /// Only transfers in this status.
    pub status: Option<TransferStatus>,
    /// How many items to return (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// One line as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLine {
    pub sku: String,
    /// Units that arrived: 0 up to what was sent.
    pub quantity: i64,
}

/// `POST /v1/transfers/{id}/receive`: what arrived. Leave `lines` out when everything did;
/// with `lines`, a SKU left out did not arrive at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveForm {
    pub lines: Option<Vec<ReceivedLine>>,
}

impl Validate for ReceiveForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        if self.lines.as_ref().is_some_and(|lines| lines.len() > crate::reservations::model::MAX_LINES) {
            v.add("lines", format!("at most {} lines", crate::reservations::model::MAX_LINES));
        }
        for (i, line) in self.lines.iter().flatten().enumerate() {
            if let Some(problem) = code_problem(&line.sku) {
                v.add(format!("lines[{i}].sku"), problem);
            } else if self.lines.iter().flatten().take(i).any(|other| other.sku == line.sku) {
                v.add(format!("lines[{i}].sku"), "appears twice");
            }
            if line.quantity < 0 {
                v.add(format!("lines[{i}].quantity"), "must be 0 or more");
            }
        }
        v.finish()
    }
}
