//! Orders: from a hold or placed directly (`place`), through the status machine in `status`
//! (`lifecycle` moves them, `views` shows them, `events` is what they announce),
//! with a timeline of who did what. This module owns an order's row, its view and its
//! transitions; the store's side (`counter`) and the lists (`lists`) build on them. Stock
//! effects go through `stock::reserve`; each transition is one transaction with its ledger
//! movements and its timeline entry.

mod counter;
pub mod events;
mod lifecycle;
mod lists;
pub mod model;
pub mod pickup;
mod place;
pub mod promise;
mod returns;
pub mod routes;
pub mod status;
mod transfer_in;
mod views;

pub use counter::{arrive, collect, look_up_code, pickup_pass, short_pick};
pub use lifecycle::{apply, expire_one_uncollected, transition};
pub use lists::{search, store_orders};
pub use place::{create, Placed};
pub use returns::take_back;
pub use transfer_in::receive_transfer;
pub use views::{arrival_of, get, shipment_of, slot_of, view};

use events::record_event;
use lifecycle::{lines_of, lock_levels_of};
use views::{arrival_from, ArrivalRow};

use chrono::TimeDelta;
use diesel::prelude::*;

use crate::auth::{Principal, Role};
use crate::db::schema::orders;
use crate::db::{locking, DbConn};
use crate::error::ApiError;
use crate::limits::CustomerLimits;
use events::Announce;
use model::*;

/// Extra data some transitions carry.
#[derive(Default)]
pub struct Details {
    pub shipment: Option<Shipment>,
    /// Why an order was cancelled, when the canceller said (kept in its timeline).
    pub reason: Option<String>,
}

/// What handling an order needs from the configuration.
#[derive(Clone)]
pub struct OrderSettings {
    /// The key pickup codes are derived from.
    pub pickup_key: Vec<u8>,
    /// A confirmed order not picked within this is overdue.
    pub overdue_after: TimeDelta,
    /// Orders a store picks per hour when its location sets none (the promise's pace).
    pub picking_per_hour: i64,
    pub limits: CustomerLimits,
    /// Where the events of an order's life are written, in its transaction.
    pub announce: Announce,
}

impl OrderSettings {
    /// For jobs and tools that only move orders along: no limits, a day to be overdue.
    pub fn for_jobs(pickup_key: &[u8], announce: Announce) -> OrderSettings {
        OrderSettings {
            pickup_key: pickup_key.to_vec(),
            overdue_after: TimeDelta::days(1),
            picking_per_hour: 12,
            limits: CustomerLimits::NONE,
            announce,
        }
    }
}

/// The caller's rights on one order.
#[derive(Clone, Copy)]
enum Access {
    /// Staff of the order's store, or an admin.
    Store,
    /// The customer the order is for.
    Owner,
    /// An integration allowed to read or write orders.
    Integration,
}

fn access(who: &Principal, row: &OrderRow) -> Result<Access, ApiError> {
    let hidden = || ApiError::NotFound(format!("no order {}", row.id));
    match who.role {
        Role::Admin => Ok(Access::Store),
        Role::Staff if who.store.as_deref() == Some(row.location.as_str()) => Ok(Access::Store),
        Role::Customer if who.sub == row.customer_id => Ok(Access::Owner),
        Role::Staff | Role::Customer => Err(hidden()),
        // `orders:read` is the back office's feed (an ERP takes every order out); an importer
        // with `orders:write` alone sees only the orders it placed.
        Role::Integration if who.has_scope("orders:read") => Ok(Access::Integration),
        Role::Integration if who.has_scope("orders:write") && row.created_by == who.actor() => Ok(Access::Integration),
        Role::Integration if who.has_scope("orders:write") => Err(hidden()),
        Role::Integration => Err(ApiError::Forbidden("this needs the orders:read or orders:write scope".into())),
    }
}

/// Whether `who` may see the order (and its notifications).
pub fn can_view(who: &Principal, row: &OrderRow) -> Result<(), ApiError> {
    access(who, row).map(|_| ())
}

pub fn find_row(conn: &mut DbConn, id: &str) -> Result<OrderRow, ApiError> {
    crate::db::find_or_404!(conn, orders, id, OrderRow, "order")
}

fn lock_row(conn: &mut DbConn, id: &str) -> Result<OrderRow, ApiError> {
    locking!(conn, orders::table.find(id).select(OrderRow::as_select()), first, no_key_update)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no order {id}")))
}

/// The short number an order is known by in messages and at the counter: the last eight hex
/// digits of its id, upper case (the first ones of a time-ordered id are shared by
/// neighbours). Unique: the rare clash fails the insert, and the retry draws a new id.
pub fn number_for(id: &str) -> String {
    let plain: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    plain[plain.len().saturating_sub(8)..].to_uppercase()
}
