//! Orders: rows, forms and API types.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::status::{Fulfilment, Status};
use crate::db::schema::orders;
use crate::error::ApiError;
use crate::http::json::Validate;
use crate::http::validate::Validator;
use crate::reservations::model::{validate_lines, HoldLine};
use crate::slots::model::BookedSlot;
use crate::stock::risk::AtRisk;

/// `POST /v1/orders`: from a hold (`reservation_id`) or with `lines` held now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub reservation_id: Option<String>,
    /// The store (or warehouse, for delivery) that fulfils the order. An order imported
    /// through a channel (`channel`) may leave it out: the channel's `default_location` is
    /// taken.
    pub location: Option<String>,
    pub fulfilment: Fulfilment,
    pub lines: Option<Vec<HoldLine>>,
    pub customer_id: String,
    /// The sales channel the order came from (a channel's code). Admins and integrations
    /// only; the order then respects the channel's buffer.
    pub channel: Option<String>,
    /// The order's id in the channel's own system; unique per channel. Admins and
    /// integrations only. Importing the same reference again answers the original order.
    pub external_ref: Option<String>,
    /// A pickup or curbside slot at the order's store, of the order's fulfilment (an `id`
    /// from `GET /v1/locations/{code}/slots`). An order from a hold takes the hold's slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_id: Option<String>,
}

impl NewOrder {
    /// The location's code; empty until a left-out location is taken from the channel.
    pub fn location(&self) -> &str {
        self.location.as_deref().unwrap_or_default()
    }

    /// What a marketplace import says, to tell a repeated import from a different one.
    pub fn import_hash(&self) -> String {
        let lines: Vec<(&str, i64)> = self.lines.iter().flatten().map(|l| (l.sku.as_str(), l.quantity)).collect();
        import_hash(self.location(), self.fulfilment, &self.customer_id, self.reservation_id.as_deref(), lines)
    }
}

/// The hash of an import's content: where, how, for whom, and what (a hold, or lines in any
/// order).
pub fn import_hash(
    location: &str,
    fulfilment: Fulfilment,
    customer_id: &str,
    reservation_id: Option<&str>,
    mut lines: Vec<(&str, i64)>,
) -> String {
    lines.sort();
    let canonical = serde_json::json!({
        "location": location,
        "fulfilment": fulfilment,
        "customer_id": customer_id,
        "reservation_id": reservation_id,
        "lines": lines,
    });
    crate::crypto::hex_sha256(canonical.to_string().as_bytes())
}

impl Validate for NewOrder {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        match (&self.location, &self.channel) {
            (Some(location), _) => v.code("location", location),
            (None, Some(_)) => {}
            (None, None) => {
                v.add("location", "is required (only an order imported through a channel may leave it out)")
            }
        }
        v.customer_id("customer_id", &self.customer_id);
        match (&self.reservation_id, &self.lines) {
            (Some(_), Some(_)) => v.add("lines", "give either reservation_id or lines, not both"),
            (None, None) => v.add("lines", "give lines, or the reservation_id of a hold"),
            (None, Some(lines)) => validate_lines(&mut v, lines),
            (Some(id), None) => v.text("reservation_id", id, 64),
        }
        if let Some(channel) = &self.channel {
            v.code("channel", channel);
        }
        if let Some(reference) = &self.external_ref {
            v.text("external_ref", reference, 128);
        }
        if let Some(slot) = &self.slot_id {
            v.text("slot_id", slot, 200);
        }
        if self.external_ref.is_some() && self.channel.is_none() {
            v.add("channel", "external_ref is unique per channel: give the channel too");
        }
        v.finish()
    }
}

/// `POST /v1/orders/{id}/ship`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_number: String,
}

impl Validate for Shipment {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.text("carrier", &self.carrier, 100);
        v.text("tracking_number", &self.tracking_number, 100);
        v.finish()
    }
}

/// `POST /v1/orders/{id}/arrival`: a curbside customer is here.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalForm {
    /// The parking bay, as signposted.
    pub bay: Option<String>,
    /// What to look for: "blue Škoda, WA 12345".
    pub vehicle: Option<String>,
    pub note: Option<String>,
}

impl Validate for ArrivalForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        for (field, value, max) in [("bay", &self.bay, 32), ("vehicle", &self.vehicle, 100), ("note", &self.note, 500)]
        {
            if let Some(value) = value {
                v.text(field, value, max);
            }
        }
        v.finish()
    }
}

/// A curbside customer's arrival.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Arrival {
    pub arrived_at: DateTime<Utc>,
    pub bay: Option<String>,
    pub vehicle: Option<String>,
    pub note: Option<String>,
}

/// What the customer shows at the counter: the code, and the same as a QR code.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PickupPass {
    pub order_id: String,
    /// The order's short number, as messages show it.
    pub number: String,
    pub location: String,
    /// What staff type or scan into `POST /v1/stores/{code}/pickups`.
    pub code: String,
    pub pickup_deadline: Option<DateTime<Utc>>,
    /// The code as an SVG QR image (also served alone with `Accept: image/svg+xml`).
    pub qr_svg: String,
}

/// `POST /v1/orders/{id}/short-pick`: units of a line that are not on the shelf after all.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortPick {
    pub sku: String,
    /// How many units of the line are missing (at most the line's quantity).
    pub missing: i64,
}

impl Validate for ShortPick {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.code("sku", &self.sku);
        v.range("missing", self.missing, 1, crate::reservations::model::MAX_LINE_QUANTITY);
        v.finish()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders)]
pub struct OrderRow {
    pub id: String,
    pub location: String,
    pub fulfilment: String,
    pub status: String,
    pub customer_id: String,
    pub created_by: String,
    pub channel: Option<String>,
    pub external_ref: Option<String>,
    pub reservation_id: Option<String>,
    pub pickup_code_hash: Option<String>,
    pub pickup_code_nonce: Option<String>,
    pub pickup_deadline: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub number: String,
    pub import_hash: Option<String>,
}

impl OrderRow {
    /// Confirmed, and nobody has started picking it within `overdue_after` of its placing.
    pub fn overdue(&self, overdue_after: chrono::TimeDelta, now: NaiveDateTime) -> Result<bool, ApiError> {
        Ok(self.status()? == Status::Confirmed && self.created_at + overdue_after < now)
    }

    pub fn status(&self) -> Result<Status, ApiError> {
        Status::from_stored(&self.status)
    }

    pub fn fulfilment(&self) -> Result<Fulfilment, ApiError> {
        Fulfilment::from_stored(&self.fulfilment)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
}

/// One entry of an order's timeline: who did what, when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The status reached (`confirmed`, `picking`, `ready_for_pickup`, `collected`, …),
    /// `short_pick`, `arrived`, `at_risk` (stock stopped covering a line) or
    /// `at_risk_cleared`.
    pub kind: String,
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    /// The short number messages show and customers quote; unique.
    pub number: String,
    pub status: Status,
    pub location: String,
    pub fulfilment: Fulfilment,
    pub lines: Vec<OrderLine>,
    pub customer_id: String,
    pub channel: Option<String>,
    pub external_ref: Option<String>,
    pub reservation_id: Option<String>,
    /// Set when the order is ready: the end of the day, `pickup_hold_days` later, at the
    /// store's closing time in its time zone.
    pub pickup_deadline: Option<DateTime<Utc>>,
    /// Shown to the owning customer only, once the order is ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_code: Option<String>,
    /// How a delivery order left: `{carrier, tracking_number}`.
    pub shipment: Option<Shipment>,
    /// When a curbside customer said they had arrived, and where.
    pub arrival: Option<Arrival>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while stock no longer covers every line (a recount or a till sale left fewer units
    /// than are reserved): which lines, by how much, and since when.
    pub at_risk: Option<AtRisk>,
    /// Confirmed, and no one has started picking it within `PICKING_OVERDUE_SECONDS`.
    pub overdue: bool,
    pub events: Vec<OrderEvent>,
    /// The pickup or curbside slot the customer booked.
    pub slot: Option<BookedSlot>,
    /// When the order was promised ready, as it was sold (pickup and curbside).
    pub promised_at: Option<DateTime<Utc>>,
    /// Still to be picked, or being picked, after `promised_at`.
    pub late: bool,
    /// What came back, oldest first: each return's lines and the store that took them.
    pub returns: Vec<OrderReturn>,
    /// Ship-to-store: the transfers bringing lines the store lacked, oldest first.
    pub transfers: Vec<crate::transfers::model::Transfer>,
}

/// An order in a store's list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreOrder {
    pub id: String,
    pub number: String,
    pub status: Status,
    pub fulfilment: Fulfilment,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub created_at: DateTime<Utc>,
    pub pickup_deadline: Option<DateTime<Utc>>,
    pub arrival: Option<Arrival>,
    /// How long an arrived curbside customer has been waiting, in seconds.
    pub waiting_seconds: Option<i64>,
    pub at_risk: Option<AtRisk>,
    pub overdue: bool,
    /// The pickup or curbside slot the customer booked.
    pub slot: Option<BookedSlot>,
    /// When the order was promised ready; the list runs by it.
    pub promised_at: Option<DateTime<Utc>>,
    /// Still to be picked, or being picked, after `promised_at`.
    pub late: bool,
}

/// Which of a store's orders to list.
#[derive(Debug, Clone, Default)]
pub struct StoreFilter {
    /// One status; by default the open ones (or any, when looking a number up).
    pub status: Option<Status>,
    pub number: Option<String>,
    pub overdue: Option<bool>,
    pub at_risk: Option<bool>,
}

/// How admins and integrations find orders.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub number: Option<String>,
    pub channel: Option<String>,
    pub external_ref: Option<String>,
}

/// `POST /v1/stores/{code}/pickups`: the code the customer shows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickupScan {
    pub code: String,
}

/// `POST /v1/orders/{id}/cancel`: the body may be left out.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelForm {
    /// Why, in a few words ("customer asked", "damaged in the store"): kept in the order's
    /// timeline as the `cancelled` event's `detail.reason`.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

impl Validate for CancelForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        if let Some(reason) = &self.reason {
            v.text("reason", reason, 200);
        }
        v.finish()
    }
}

impl Validate for PickupScan {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.text("code", &self.code, 64);
        v.finish()
    }
}

crate::db::stored::stored_enum! {
    /// The state a returned unit came back in.
    pub enum Condition as "return condition" {
        /// Fit to sell again: back on the shelf of the store that took it, through the ledger.
        Resellable,
        /// Broken or soiled: written off, never back on sale.
        Damaged,
        /// To be looked at before anyone decides: kept aside, not on sale.
        Inspect,
    }
}

/// One line of a return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLine {
    pub sku: String,
    pub quantity: i64,
    pub condition: Condition,
}

/// `POST /v1/orders/{id}/returns`: what came back, where.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnForm {
    /// The store taking the units back: any store, not only the one that sold them. Staff
    /// take returns at their own store.
    pub location: String,
    /// One line per SKU and condition (2 resellable and 1 damaged are two lines).
    pub lines: Vec<ReturnLine>,
}

impl Validate for ReturnForm {
    fn validate(&self) -> Result<(), ApiError> {
        use crate::reservations::model::{MAX_LINES, MAX_LINE_QUANTITY};
        let mut v = Validator::new();
        v.code("location", &self.location);
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            v.add("lines", format!("must hold 1 to {MAX_LINES} lines"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, line) in self.lines.iter().enumerate() {
            if let Some(message) = crate::http::validate::code_problem(&line.sku) {
                v.add(format!("lines[{i}].sku"), message);
            } else if !seen.insert((line.sku.as_str(), line.condition)) {
                v.add(format!("lines[{i}]"), "repeats a SKU and condition; give their units in one line");
            }
            v.range(format!("lines[{i}].quantity"), line.quantity, 1, MAX_LINE_QUANTITY);
        }
        v.finish()
    }
}

/// A return the order records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderReturn {
    pub id: String,
    /// The store that took the units back.
    pub location: String,
    pub lines: Vec<ReturnLine>,
    /// Who took them back.
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// `POST /v1/promise`: a cart at a store, before checkout.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromiseForm {
    pub location: String,
    pub lines: Vec<HoldLine>,
    /// `pickup` (the default) or `curbside`.
    pub fulfilment: Option<crate::slots::model::SlotKind>,
}

impl Validate for PromiseForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.code("location", &self.location);
        validate_lines(&mut v, &self.lines);
        v.finish()
    }
}

crate::db::stored::stored_enum! {
    /// Where a line's units come from.
    pub enum Source as "promise source" {
        /// On the store's shelf now.
        Store,
        /// Brought in from another location first.
        Transfer,
    }
}

/// One line of a promise.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromiseLine {
    pub sku: String,
    pub quantity: i64,
    /// What the store can sell of it now.
    pub available: i64,
    pub source: Source,
}

/// When the cart would be ready, if ordered now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Promise {
    pub location: String,
    pub fulfilment: crate::slots::model::SlotKind,
    /// The earliest time the order would be ready: after the orders ahead of it are picked
    /// at the store's pace, within its opening hours.
    pub ready_at: DateTime<Utc>,
    /// `store` when every line is on the store's shelf.
    pub source: Source,
    pub lines: Vec<PromiseLine>,
    /// Orders in the store's queue (confirmed or being picked) ahead of this one.
    pub orders_ahead: i64,
    /// The earliest slot of this fulfilment with room that starts once the order is ready,
    /// when the store offers slots.
    pub slot: Option<crate::slots::model::Slot>,
}
