//! What callers see of an order: its lines, timeline, shipment, curbside arrival, the units
//! at risk, and the pickup code for its customer alone.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::model::*;
use super::status::Status;
use super::{access, find_row, pickup, OrderSettings};
use crate::auth::{Principal, Role};
use crate::db::schema::{order_arrivals, order_events, order_lines, order_shipments, order_slots, products};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::stock::risk;

/// A curbside order's arrival, once announced.
pub fn arrival_of(conn: &mut DbConn, order_id: &str) -> Result<Option<Arrival>, ApiError> {
    Ok(order_arrivals::table
        .find(order_id)
        .select((order_arrivals::arrived_at, order_arrivals::bay, order_arrivals::vehicle, order_arrivals::note))
        .first::<ArrivalRow>(conn)
        .optional()?
        .map(arrival_from))
}

pub(super) type ArrivalRow = (NaiveDateTime, Option<String>, Option<String>, Option<String>);

pub(super) fn arrival_from((arrived_at, bay, vehicle, note): ArrivalRow) -> Arrival {
    Arrival { arrived_at: arrived_at.and_utc(), bay, vehicle, note }
}

/// The id of the slot an order booked.
pub fn slot_of(conn: &mut DbConn, order_id: &str) -> Result<Option<String>, ApiError> {
    Ok(order_slots::table.find(order_id).select(order_slots::slot_id).first(conn).optional()?)
}

/// The slots of several orders, by order id: for lists.
pub(super) fn slots_of(conn: &mut DbConn, ids: &[&str]) -> Result<std::collections::HashMap<String, String>, ApiError> {
    Ok(order_slots::table
        .filter(order_slots::order_id.eq_any(ids))
        .select((order_slots::order_id, order_slots::slot_id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// How a delivery order left, once it has.
pub fn shipment_of(conn: &mut DbConn, order_id: &str) -> Result<Option<Shipment>, ApiError> {
    Ok(order_shipments::table
        .find(order_id)
        .select((order_shipments::carrier, order_shipments::tracking_number))
        .first::<(String, String)>(conn)
        .optional()?
        .map(|(carrier, tracking_number)| Shipment { carrier, tracking_number }))
}

/// The order as its caller may see it: the pickup code only for its customer.
pub fn view(conn: &mut DbConn, row: OrderRow, who: &Principal, settings: &OrderSettings) -> Result<Order, ApiError> {
    let lines: Vec<OrderLine> = order_lines::table
        .inner_join(products::table)
        .filter(order_lines::order_id.eq(&row.id))
        .order(order_lines::sku.asc())
        .select((order_lines::sku, products::name, order_lines::quantity))
        .load::<(String, String, i64)>(conn)?
        .into_iter()
        .map(|(sku, name, quantity)| OrderLine { sku, name, quantity })
        .collect();
    let events = order_events::table
        .filter(order_events::order_id.eq(&row.id))
        .order(order_events::id.asc())
        .select((order_events::at, order_events::actor, order_events::kind, order_events::detail))
        .load::<(NaiveDateTime, String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(at, actor, kind, detail)| OrderEvent {
            at: at.and_utc(),
            actor,
            kind,
            detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        })
        .collect();
    let owner = who.role == Role::Customer && who.sub == row.customer_id;
    let key = &settings.pickup_key;
    let pickup_code = match (&row.pickup_code_nonce, owner && row.status()? == Status::ReadyForPickup) {
        (Some(nonce), true) if !key.is_empty() => Some(pickup::code(key, &row.id, nonce)),
        _ => None,
    };
    let shipment = shipment_of(conn, &row.id)?;
    let arrival = arrival_of(conn, &row.id)?;
    let at_risk = risk::of(conn, risk::Holder::Order, &row.id, &row.location)?;
    let overdue = row.overdue(settings.overdue_after, Utc::now().naive_utc())?;
    let promised_at = super::promise::promised_at(conn, &row.id)?;
    let late = super::promise::late(row.status()?, promised_at, Utc::now().naive_utc());
    let slot = slot_of(conn, &row.id)?.as_deref().and_then(crate::slots::describe);
    let returns = super::returns::returns_of(conn, &row.id)?;
    let transfers = crate::transfers::of_order(conn, &row.id)?;
    Ok(Order {
        transfers,
        promised_at: promised_at.map(|at| at.and_utc()),
        late,
        status: row.status()?,
        fulfilment: row.fulfilment()?,
        shipment,
        arrival,
        pickup_deadline: row.pickup_deadline.map(|d| d.and_utc()),
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
        number: row.number,
        id: row.id,
        location: row.location,
        lines,
        customer_id: row.customer_id,
        channel: row.channel,
        external_ref: row.external_ref,
        reservation_id: row.reservation_id,
        pickup_code,
        at_risk,
        overdue,
        events,
        slot,
        returns,
    })
}

pub fn get(conn: &mut DbConn, who: &Principal, id: &str, settings: &OrderSettings) -> Result<Order, ApiError> {
    let row = find_row(conn, id)?;
    access(who, &row)?;
    view(conn, row, who, settings)
}
