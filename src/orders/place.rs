//! Placing an order: from a hold, or with lines held now; and marketplace imports, whose
//! references belong to integrations, repeat as the original, and respect the channel's
//! buffer.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::events::{Announcement, Event};
use super::model::Order;
use super::model::{NewOrder, OrderRow};
use super::status::{Fulfilment, Status};
use super::{find_row, number_for, record_event, view, OrderSettings};
use crate::auth::{Principal, Role};
use crate::catalog;
use crate::db::schema::{order_lines, order_slots, orders, reservation_lines, reservations};
use crate::db::{insert_rows, locking, DbConn};
use crate::error::{ApiError, FieldError};
use crate::limits;
use crate::reservations::model::{HoldLine, HoldStatus, ReservationRow};
use crate::slots::model::SlotKind;
use crate::stock::channels;
use crate::stock::problems::Shortfall;
use crate::stock::reserve::{self, Entry, Line};
use crate::transfers;

/// An order placed, or the original answered again for a repeated marketplace import.
pub enum Placed {
    New(Order),
    Repeated(Order),
}

/// Places an order: the hold's units become the order's, or `lines` are held now, in the same
/// transaction (409 `insufficient-stock` as for holds). A marketplace import (`channel` and
/// `external_ref`) that repeats one already made by the same caller answers the original.
pub fn create(
    conn: &mut DbConn,
    who: &Principal,
    form: &NewOrder,
    settings: &OrderSettings,
) -> Result<Placed, ApiError> {
    if who.role == Role::Customer && form.customer_id != who.sub {
        return Err(ApiError::Forbidden("customers place orders for themselves only".into()));
    }
    if (form.channel.is_some() || form.external_ref.is_some()) && !matches!(who.role, Role::Admin | Role::Integration) {
        // A customer could otherwise take a marketplace's reference first and make its real
        // import fail.
        return Err(ApiError::Forbidden("only admins and integrations set channel and external_ref".into()));
    }
    let resolved;
    let form = match (&form.location, &form.channel) {
        (None, Some(channel)) => {
            resolved = NewOrder { location: Some(channel_default_location(conn, channel)?), ..form.clone() };
            &resolved
        }
        _ => form,
    };
    let actor = who.actor();
    let import_hash = form.external_ref.as_ref().map(|_| form.import_hash());
    if let (Some(channel), Some(reference)) = (&form.channel, &form.external_ref) {
        let earlier = orders::table
            .filter(orders::channel.eq(channel))
            .filter(orders::external_ref.eq(reference))
            .select(OrderRow::as_select())
            .first(conn)
            .optional()?;
        if let Some(row) = earlier {
            if row.created_by == actor && stored_import_hash(conn, &row)? == import_hash {
                return view(conn, row, who, settings).map(Placed::Repeated);
            }
            // Naming no order: the caller may not be allowed to see the one that has it.
            return Err(ApiError::Conflict(format!(
                "external_ref {reference} on channel {channel} was already imported with other content"
            )));
        }
    }
    let now = Utc::now().naive_utc();
    if who.role == Role::Customer {
        let lines: Vec<(String, i64)> = form.lines.iter().flatten().map(|l| (l.sku.clone(), l.quantity)).collect();
        let request = limits::Request {
            customer: &who.sub,
            new_hold: false,
            new_order: true,
            lines: &lines,
            converting_hold: form.reservation_id.as_deref(),
        };
        limits::check(conn, &settings.limits, &request, now)?;
    }
    let location = catalog::find_location(conn, form.location())?;
    let offered = match form.fulfilment {
        Fulfilment::Pickup => location.pickup_in_store,
        Fulfilment::Curbside => location.pickup_curbside,
        Fulfilment::Delivery => true,
    };
    if !location.active || !offered {
        return Err(ApiError::Conflict(format!("{} does not offer {} now", form.location(), form.fulfilment.as_str())));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let (lines, held_slot): (Vec<HoldLine>, Option<String>) = match (&form.reservation_id, &form.lines) {
        (Some(hold_id), _) => take_over_hold(conn, who, hold_id, form.location(), now)?,
        (None, Some(lines)) => (lines.clone(), None),
        (None, None) => return Err(ApiError::validation("lines", "give lines, or the reservation_id of a hold")),
    };
    let wanted: Vec<Line> = lines.iter().map(|l| Line::new(l.sku.clone(), l.quantity)).collect();
    if form.reservation_id.is_none() {
        // An unknown product is 404 before anything is weighed against a channel's buffer.
        crate::reservations::known_skus(conn, &wanted)?;
    }
    if let Some(channel) = &form.channel {
        keep_channel_buffer(conn, channel, form.location(), &lines, form.reservation_id.is_none())?;
    }
    // Ship-to-store: a pickup order placed with its lines may take what the store lacks from
    // a location that supplies it. Marketplace imports sell their channel's stock only.
    let in_person = form.fulfilment != Fulfilment::Delivery;
    let sourcing = match (&form.reservation_id, &form.channel) {
        (None, None) if in_person => transfers::source(conn, form.location(), &wanted)?,
        _ => None,
    };
    if form.reservation_id.is_none() {
        let entry = Entry { reason: "order", reference: &id, actor: &actor, at: now };
        match &sourcing {
            Some(sourcing) => transfers::reserve_sourced(conn, form.location(), sourcing, &entry)?,
            None => reserve::reserve_all(conn, form.location(), &wanted, &entry)?,
        }
    }
    let status = if sourcing.is_some() { Status::AwaitingTransfer } else { Status::Confirmed };
    let slot = take_slot(conn, form, held_slot, now)?;
    diesel::insert_into(orders::table)
        .values((
            orders::id.eq(&id),
            orders::number.eq(number_for(&id)),
            orders::location.eq(form.location()),
            orders::fulfilment.eq(form.fulfilment.as_str()),
            orders::status.eq(status.as_str()),
            orders::customer_id.eq(&form.customer_id),
            orders::created_by.eq(&actor),
            orders::channel.eq(&form.channel),
            orders::external_ref.eq(&form.external_ref),
            orders::import_hash.eq(&import_hash),
            orders::reservation_id.eq(&form.reservation_id),
            orders::created_at.eq(now),
            orders::updated_at.eq(now),
        ))
        .execute(conn)?;
    let rows: Vec<_> = lines
        .iter()
        .map(|l| (order_lines::order_id.eq(&id), order_lines::sku.eq(&l.sku), order_lines::quantity.eq(l.quantity)))
        .collect();
    insert_rows!(conn, order_lines::table, &rows)?;
    let arrives = match &sourcing {
        Some(sourcing) => Some(transfers::open_for_order(conn, &id, &location, &sourcing.sent, now)?),
        None => None,
    };
    super::promise::record_for_order(conn, &id, &location, form.fulfilment, settings.picking_per_hour, now, arrives)?;
    if let Some(slot) = &slot {
        diesel::insert_into(order_slots::table)
            .values((order_slots::order_id.eq(&id), order_slots::slot_id.eq(slot)))
            .execute(conn)?;
    }
    if let Some(hold_id) = &form.reservation_id {
        diesel::update(reservations::table.find(hold_id))
            .set((reservations::status.eq(HoldStatus::Converted.as_str()), reservations::updated_at.eq(now)))
            .execute(conn)?;
    }
    let detail = arrives.map(|at| serde_json::json!({"transfer_expected_at": at}));
    record_event(conn, &id, form.location(), &actor, status.as_str(), detail, now)?;
    let confirmed = Announcement {
        order_id: &id,
        customer_id: &form.customer_id,
        event: if sourcing.is_some() { Event::OnItsWay } else { Event::OrderConfirmed },
        send_at: now,
        occurrence: None,
    };
    (settings.announce)(conn, &confirmed)?;
    let row = find_row(conn, &id)?;
    view(conn, row, who, settings).map(Placed::New)
}

/// The content hash of an order made by an import. Imports made before the hash was stored
/// have it worked out from the order as it stands (its lines now: one short-picked since
/// counts as different content).
fn stored_import_hash(conn: &mut DbConn, row: &OrderRow) -> Result<Option<String>, ApiError> {
    if row.import_hash.is_some() {
        return Ok(row.import_hash.clone());
    }
    let lines: Vec<(String, i64)> = if row.reservation_id.is_some() {
        Vec::new()
    } else {
        order_lines::table
            .filter(order_lines::order_id.eq(&row.id))
            .select((order_lines::sku, order_lines::quantity))
            .load(conn)?
    };
    let lines = lines.iter().map(|(sku, quantity)| (sku.as_str(), *quantity)).collect();
    Ok(Some(super::model::import_hash(
        &row.location,
        row.fulfilment()?,
        &row.customer_id,
        row.reservation_id.as_deref(),
        lines,
    )))
}

/// Where an import that names no location goes: its channel's default location.
fn channel_default_location(conn: &mut DbConn, channel: &str) -> Result<String, ApiError> {
    let default: Option<Option<String>> = crate::db::schema::channels::table
        .find(channel)
        .select(crate::db::schema::channels::default_location)
        .first(conn)
        .optional()?;
    match default {
        None => Err(ApiError::Unknown(vec![FieldError::new("channel", format!("no channel {channel}"))])),
        // The request is well formed; the channel's set-up is what it conflicts with.
        Some(None) => {
            Err(ApiError::Conflict(format!("channel {channel} has no default_location: name the order's location")))
        }
        Some(Some(location)) => Ok(location),
    }
}

/// A channel's buffer is stock the channel must not sell: an order for the channel may take
/// only what is left above it, across the channel's locations. `reserving`: the lines are
/// about to be reserved (a direct order); otherwise a hold already reserved them.
fn keep_channel_buffer(
    conn: &mut DbConn,
    channel: &str,
    location: &str,
    lines: &[HoldLine],
    reserving: bool,
) -> Result<(), ApiError> {
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let sellable = channels::lock_sellable(conn, channel, location, &skus)?;
    if !sellable.includes_location {
        return Err(ApiError::Conflict(format!("channel {channel} does not sell from {location}")));
    }
    let short: Vec<Shortfall> = lines
        .iter()
        .filter_map(|line| {
            let total = sellable.available.get(&line.sku).copied().unwrap_or(0);
            let sellable_now =
                if reserving { total - sellable.buffer } else { total + line.quantity - sellable.buffer };
            (sellable_now < line.quantity).then(|| Shortfall {
                sku: line.sku.clone(),
                requested: line.quantity,
                available: sellable_now.max(0),
                alternatives: vec![],
            })
        })
        .collect();
    if short.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InsufficientStock(short))
    }
}

/// The slot the order keeps: its hold's (which must suit the order's fulfilment), or the one
/// it names, booked now after its stock. Naming another slot than its hold's is 409.
fn take_slot(
    conn: &mut DbConn,
    form: &NewOrder,
    held: Option<String>,
    now: NaiveDateTime,
) -> Result<Option<String>, ApiError> {
    let kind = match form.fulfilment {
        Fulfilment::Pickup => Some(SlotKind::Pickup),
        Fulfilment::Curbside => Some(SlotKind::Curbside),
        Fulfilment::Delivery => None,
    };
    if kind.is_none() && form.slot_id.is_some() {
        return Err(ApiError::Conflict("delivery orders take no pickup slot; leave slot_id out".into()));
    }
    match (held, &form.slot_id) {
        (Some(held), Some(named)) if &held != named => Err(ApiError::Conflict(format!(
            "the hold booked slot {held}; place the order with that slot, or release the hold"
        ))),
        (Some(held), _) => {
            let booked = crate::slots::describe(&held);
            match (booked, kind) {
                (Some(slot), Some(kind)) if slot.fulfilment == kind => Ok(Some(held)),
                _ => Err(ApiError::Conflict(format!(
                    "the hold booked slot {held}, which is not for {} orders",
                    form.fulfilment.as_str()
                ))),
            }
        }
        (None, Some(named)) => {
            crate::slots::book(conn, named, form.location(), kind, now)?;
            Ok(Some(named.clone()))
        }
        (None, None) => Ok(None),
    }
}

/// The hold's units pass to the order without touching stock: they stay reserved. Its slot,
/// if it booked one, comes along.
fn take_over_hold(
    conn: &mut DbConn,
    who: &Principal,
    hold_id: &str,
    location: &str,
    now: NaiveDateTime,
) -> Result<(Vec<HoldLine>, Option<String>), ApiError> {
    let not_found =
        || ApiError::Unknown(vec![FieldError::new("reservation_id", format!("no reservation {hold_id} of yours"))]);
    let hold = locking!(conn, reservations::table.find(hold_id).select(ReservationRow::as_select()), first)
        .optional()?
        .filter(|h| who.role == Role::Admin || h.owner == who.actor())
        .ok_or_else(not_found)?;
    if hold.location != location {
        return Err(ApiError::Conflict(format!("the hold is at {}, not {location}", hold.location)));
    }
    match HoldStatus::from_stored(&hold.status)? {
        HoldStatus::Held if hold.expires_at > now => {}
        HoldStatus::Held | HoldStatus::Expired => {
            return Err(ApiError::Conflict(format!("reservation {hold_id} has expired; hold the items again")))
        }
        HoldStatus::Released => return Err(ApiError::Conflict(format!("reservation {hold_id} was released"))),
        HoldStatus::Converted => {
            return Err(ApiError::Conflict(format!("reservation {hold_id} already belongs to an order")))
        }
    }
    // The hold's levels are locked before its at-risk rows are read: a count could otherwise
    // leave it short between the read and the order taking its units.
    let skus: Vec<String> = reservation_lines::table
        .filter(reservation_lines::reservation_id.eq(hold_id))
        .select(reservation_lines::sku)
        .load(conn)?;
    let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
    crate::stock::levels::lock_levels(conn, location, &skus)?;
    let shorts = crate::stock::risk::short_units(conn, crate::stock::risk::Holder::Hold, hold_id)?;
    let lines: Vec<(String, i64, i64)> = reservation_lines::table
        .filter(reservation_lines::reservation_id.eq(hold_id))
        .order(reservation_lines::sku.asc())
        .select((reservation_lines::sku, reservation_lines::quantity))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(sku, quantity)| (shorts.get(&sku).copied().unwrap_or(0), sku, quantity))
        .map(|(short, sku, quantity)| (sku, quantity, short))
        .collect();
    // A hold a recount left uncovered must not become an order: that would promise a pickup
    // of units that are not there.
    let short: Vec<Shortfall> = lines
        .iter()
        .filter(|(_, _, short)| *short > 0)
        .map(|(sku, quantity, short)| Shortfall {
            sku: sku.clone(),
            requested: *quantity,
            available: quantity - short,
            alternatives: vec![],
        })
        .collect();
    if !short.is_empty() {
        return Err(ApiError::InsufficientStock(short));
    }
    Ok((lines.into_iter().map(|(sku, quantity, _)| HoldLine { sku, quantity }).collect(), hold.slot_id))
}
