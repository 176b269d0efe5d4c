//! What an order announces: the events of its life the customer hears about, when a queued
//! message about one is still true, and the port through which orders announce them.
//!
//! Orders know that an event happened, not who is told or how. The announcement is written
//! in the transaction of the change through `Announce`, which the notifications capability
//! provides (its outbox's `enqueue`) and `AppState::order_settings` wires in; so orders
//! import nothing of notify, and notify reads orders.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::status::Status;
use crate::changes::{ChangeKind, NewChange};
use crate::db::schema::order_events;
use crate::db::DbConn;
use crate::error::ApiError;

/// How long before the pickup deadline the reminder is due.
pub const REMINDER_BEFORE_DEADLINE: TimeDelta = TimeDelta::hours(24);

/// One event of one order, due at `send_at` (now, or later for a reminder).
#[derive(Debug, Clone, Copy)]
pub struct Announcement<'a> {
    pub order_id: &'a str,
    pub customer_id: &'a str,
    pub event: Event,
    pub send_at: NaiveDateTime,
    /// Which one, for an event an order may announce more than once (a return's id): each
    /// is then told once, not only the first.
    pub occurrence: Option<&'a str>,
}

/// Records an announcement in the caller's transaction, so a change is never committed
/// without it nor an announcement kept for a change that rolled back.
pub type Announce = fn(&mut DbConn, &Announcement) -> Result<(), ApiError>;

crate::db::stored::stored_enum! {
    pub enum Event as "notification event" {
        OrderConfirmed,
        /// The order is confirmed and some of it travels from another location to the store:
        /// it is the order's confirmation, with the expected arrival.
        OnItsWay,
        ReadyForPickup,
        PickupReminder,
        Collected,
        Shipped,
        Delivered,
        Cancelled,
        Expired,
        /// Units of a collected or delivered order came back at a store.
        Returned,
        /// Not about an order: a SKU a shopper asked to hear about is back (`alert:<id>`).
        BackInStock,
        /// Not about an order: a shopper's hold is about to lapse (`hold:<id>`).
        HoldReminder,
    }
}

impl Event {
    /// The event an order's new status announces, if any.
    pub fn on_reaching(status: Status) -> Option<Event> {
        match status {
            Status::AwaitingTransfer => Some(Event::OnItsWay),
            Status::Confirmed => Some(Event::OrderConfirmed),
            Status::ReadyForPickup => Some(Event::ReadyForPickup),
            Status::Collected => Some(Event::Collected),
            Status::Shipped => Some(Event::Shipped),
            Status::Delivered => Some(Event::Delivered),
            Status::Cancelled => Some(Event::Cancelled),
            Status::Expired => Some(Event::Expired),
            // A return is announced by the return itself, once per return.
            Status::Picking | Status::PartiallyReturned | Status::Returned => None,
        }
    }

    /// Whether a message about this event still tells the truth about an order that is now
    /// `status`. Read again just before sending: a reminder for a collected order, or "ready
    /// for pickup" for a cancelled one, is suppressed instead of sent.
    pub fn still_true(&self, status: Status) -> bool {
        match self {
            Event::OrderConfirmed | Event::OnItsWay => !matches!(status, Status::Cancelled | Status::Expired),
            Event::ReadyForPickup | Event::PickupReminder => status == Status::ReadyForPickup,
            // Facts stay facts: a collected order was collected.
            Event::Collected
            | Event::Shipped
            | Event::Delivered
            | Event::Cancelled
            | Event::Expired
            | Event::Returned => true,
            // Not about an order: the policy reads their own subject again instead.
            Event::BackInStock | Event::HoldReminder => true,
        }
    }
}

/// Writes one entry of an order's timeline (`events` in its view): who did what, when, and
/// its details; `location` is the order's store, for the change log.
pub fn record_event(
    conn: &mut DbConn,
    order_id: &str,
    location: &str,
    actor: &str,
    kind: &str,
    detail: Option<serde_json::Value>,
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    diesel::insert_into(order_events::table)
        .values((
            order_events::order_id.eq(order_id),
            order_events::at.eq(at),
            order_events::actor.eq(actor),
            order_events::kind.eq(kind),
            order_events::detail.eq(detail.map(|d| d.to_string())),
        ))
        .execute(conn)?;
    // Every entry of the timeline is a change of the order: the change log learns of it here.
    let change = NewChange {
        kind: ChangeKind::Order.as_str().into(),
        location: location.into(),
        at,
        sku: None,
        order_id: Some(order_id.into()),
        detail: Some(serde_json::json!({ "event": kind }).to_string()),
    };
    crate::changes::record(conn, &change)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_and_ready_messages_go_stale() {
        assert!(Event::PickupReminder.still_true(Status::ReadyForPickup));
        assert!(!Event::PickupReminder.still_true(Status::Collected));
        assert!(!Event::ReadyForPickup.still_true(Status::Cancelled));
        assert!(!Event::OrderConfirmed.still_true(Status::Cancelled));
        assert!(Event::OrderConfirmed.still_true(Status::Picking));
        assert!(Event::Shipped.still_true(Status::Delivered));
    }
}
