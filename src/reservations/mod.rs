//! Holds: units reserved at one location, all lines or none, for a limited time. A hold owns
//! its rows and asks `stock::reserve` to move the `reserved` counter; it never touches stock
//! levels itself. An expired hold never blocks a new one: holds past their time are released
//! at the moment of contention, and a sweeper releases the rest in the background.

pub mod leader;
pub mod model;
pub mod queue;
pub mod routes;
pub mod status;
pub mod together;

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

use crate::auth::{Principal, Role};
use crate::catalog;
use crate::db::schema::{reservation_lines, reservations, stock_levels};
use crate::db::{due_rows, insert_rows, locking, DbConn};
use crate::error::ApiError;
use crate::limits::{self, CustomerLimits};
use crate::stock::reserve::{self, Entry, Line};
use crate::stock::risk;
use model::*;

/// Holds released per sweep transaction, so one sweep never holds locks for long.
pub const SWEEP_BATCH: i64 = 200;

/// Places a hold: every line reserved at `form.location`, or 409 with the shortfalls.
pub fn hold(
    conn: &mut DbConn,
    who: &Principal,
    form: &NewHold,
    ttl: TimeDelta,
    limits: &CustomerLimits,
) -> Result<Reservation, ApiError> {
    let now = Utc::now().naive_utc();
    if who.role == Role::Customer {
        let lines: Vec<(String, i64)> = form.lines.iter().map(|l| (l.sku.clone(), l.quantity)).collect();
        let request = limits::Request {
            customer: &who.sub,
            new_hold: true,
            new_order: false,
            lines: &lines,
            converting_hold: None,
        };
        limits::check(conn, limits, &request, now)?;
    }
    let location = catalog::find_location(conn, &form.location)?;
    if !location.active {
        return Err(ApiError::Conflict(format!("location {} is not active", form.location)));
    }
    let lines: Vec<Line> = form.lines.iter().map(|l| Line::new(l.sku.clone(), l.quantity)).collect();
    known_skus(conn, &lines)?;
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let freed = release_lapsed(conn, &form.location, &skus, now)?;

    let id = uuid::Uuid::now_v7().to_string();
    let actor = who.actor();
    reserve::reserve_all(
        conn,
        &form.location,
        &lines,
        &Entry { reason: "hold", reference: &id, actor: &actor, at: now },
    )?;
    // Slots after stock, in one key order with the places lapsed holds gave back (a place given
    // back before one taken on the same slot): two holds never wait on each other's slots.
    let mut slots: Vec<(&str, bool)> = freed.iter().map(|slot| (slot.as_str(), false)).collect();
    slots.extend(form.slot_id.as_deref().map(|slot| (slot, true)));
    slots.sort();
    for (slot, booking) in slots {
        if booking {
            crate::slots::book(conn, slot, &form.location, None, now)?;
        } else {
            crate::slots::release(conn, slot)?;
        }
    }
    let expires_at = now + ttl;
    diesel::insert_into(reservations::table)
        .values((
            reservations::id.eq(&id),
            reservations::location.eq(&form.location),
            reservations::owner.eq(&actor),
            reservations::status.eq(HoldStatus::Held.as_str()),
            reservations::expires_at.eq(expires_at),
            reservations::created_at.eq(now),
            reservations::updated_at.eq(now),
            reservations::slot_id.eq(&form.slot_id),
        ))
        .execute(conn)?;
    let rows: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                reservation_lines::reservation_id.eq(&id),
                reservation_lines::sku.eq(&l.sku),
                reservation_lines::quantity.eq(l.quantity),
            )
        })
        .collect();
    insert_rows!(conn, reservation_lines::table, &rows)?;
    let row = find_row(conn, &id)?;
    Reservation::from_row(row, form.lines.clone(), None, now)
}

/// 404 naming every line whose SKU is not in the catalog.
pub fn known_skus(conn: &mut DbConn, lines: &[Line]) -> Result<(), ApiError> {
    use crate::catalog::{unknown_codes, Catalog};
    let skus = lines.iter().enumerate().map(|(i, l)| (format!("lines[{i}].sku"), l.sku.as_str()));
    let unknown = unknown_codes(conn, Catalog::Products, skus)?;
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unknown(unknown))
    }
}

fn find_row(conn: &mut DbConn, id: &str) -> Result<ReservationRow, ApiError> {
    crate::db::find_or_404!(conn, reservations, id, ReservationRow, "reservation")
}

fn lines_of(conn: &mut DbConn, id: &str) -> Result<Vec<HoldLine>, ApiError> {
    Ok(reservation_lines::table
        .filter(reservation_lines::reservation_id.eq(id))
        .order(reservation_lines::sku.asc())
        .select((reservation_lines::sku, reservation_lines::quantity))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(sku, quantity)| HoldLine { sku, quantity })
        .collect())
}

/// Who may see and release a hold: its owner and admins. Anyone else gets 404, as if it did
/// not exist.
fn visible(who: &Principal, row: &ReservationRow) -> bool {
    who.role == Role::Admin || row.owner == who.actor()
}

/// A hold its caller may see. A released hold is gone, as after any `DELETE`: 404, saying
/// so. (Expired and converted holds stay readable: nobody deleted them.)
pub fn get(conn: &mut DbConn, who: &Principal, id: &str) -> Result<Reservation, ApiError> {
    let row = find_row(conn, id)?;
    if !visible(who, &row) {
        return Err(ApiError::NotFound(format!("no reservation {id}")));
    }
    if HoldStatus::from_stored(&row.status)? == HoldStatus::Released {
        return Err(ApiError::NotFound(format!("reservation {id} was released")));
    }
    let lines = lines_of(conn, id)?;
    let at_risk = risk::of(conn, risk::Holder::Hold, &row.id, &row.location)?;
    Reservation::from_row(row, lines, at_risk, Utc::now().naive_utc())
}

/// Releases a hold and returns its stock. Releasing one that is already released or expired
/// changes nothing; one that became an order is the order's to cancel (409).
pub fn release(conn: &mut DbConn, who: &Principal, id: &str) -> Result<(), ApiError> {
    let row = locking!(conn, reservations::table.find(id).select(ReservationRow::as_select()), first)
        .optional()?
        .filter(|row| visible(who, row))
        .ok_or_else(|| ApiError::NotFound(format!("no reservation {id}")))?;
    match HoldStatus::from_stored(&row.status)? {
        HoldStatus::Held => {
            let now = Utc::now().naive_utc();
            let (status, reason) =
                if row.expires_at <= now { (HoldStatus::Expired, "expire") } else { (HoldStatus::Released, "release") };
            end_holds(conn, &[row], status, reason, &who.actor(), now)
        }
        HoldStatus::Released | HoldStatus::Expired => Ok(()),
        HoldStatus::Converted => {
            Err(ApiError::Conflict(format!("reservation {id} belongs to an order; cancel the order")))
        }
    }
}

/// Extends a held hold once: it then ends `by` after its current end, and no later than
/// `cap` from now. The stock stays reserved throughout, so nothing is reserved again; a hold
/// whose stock a recount left short (at risk) is not extended, since it could not be turned
/// into an order anyway. Expired, converted and already-extended holds answer 409.
pub fn extend(
    conn: &mut DbConn,
    who: &Principal,
    id: &str,
    by: TimeDelta,
    cap: TimeDelta,
) -> Result<Reservation, ApiError> {
    let row = locking!(conn, reservations::table.find(id).select(ReservationRow::as_select()), first)
        .optional()?
        .filter(|row| visible(who, row))
        .ok_or_else(|| ApiError::NotFound(format!("no reservation {id}")))?;
    let now = Utc::now().naive_utc();
    match HoldStatus::from_stored(&row.status)? {
        HoldStatus::Released => return Err(ApiError::NotFound(format!("reservation {id} was released"))),
        HoldStatus::Converted => {
            return Err(ApiError::Conflict(format!("reservation {id} became an order; there is no hold to extend")))
        }
        HoldStatus::Expired => return Err(expired(id)),
        HoldStatus::Held if row.expires_at <= now => return Err(expired(id)),
        HoldStatus::Held => {}
    }
    if let Some(at) = row.extended_at {
        return Err(ApiError::Conflict(format!(
            "reservation {id} was already extended (at {}); a hold is extended once",
            at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    if let Some(at_risk) = risk::of(conn, risk::Holder::Hold, id, &row.location)? {
        return Err(ApiError::AtRisk(format!("reservation {id} cannot be extended: {}", at_risk.reason)));
    }
    let expires_at = (row.expires_at + by).min(now + cap);
    // Less than a second more is no extension: the hold already runs to the cap.
    if expires_at < row.expires_at + TimeDelta::seconds(1) {
        return Err(ApiError::Conflict(format!(
            "reservation {id} already lasts as long as this deployment holds stock (HOLD_TTL_MAX_SECONDS from now)"
        )));
    }
    diesel::update(reservations::table.find(id))
        .set((
            reservations::expires_at.eq(expires_at),
            reservations::extended_at.eq(now),
            reservations::updated_at.eq(now),
        ))
        .execute(conn)?;
    get(conn, who, id)
}

/// The outbox subject of a hold's reminder.
pub fn reminder_subject(hold_id: &str) -> String {
    format!("hold:{hold_id}")
}

/// Queues the reminder of a hold its customer asked for: `before` its end, at most half its
/// time, if that is still ahead. A hold extended later gets its own (`occurrence`).
pub fn remind(
    conn: &mut DbConn,
    customer_id: &str,
    hold: &Reservation,
    before: TimeDelta,
    occurrence: Option<&str>,
) -> Result<(), ApiError> {
    let (now, ends) = (Utc::now().naive_utc(), hold.expires_at.naive_utc());
    let at = ends - before.min((ends - now) / 2);
    if at <= now {
        return Ok(());
    }
    let subject = reminder_subject(&hold.id);
    crate::notify::outbox::enqueue_about(
        conn,
        crate::notify::outbox::About::Subject(&subject),
        customer_id,
        crate::orders::events::Event::HoldReminder,
        at,
        occurrence,
    )?;
    Ok(())
}

/// Whether the customer asked for a reminder when placing the hold.
pub fn wants_reminder(conn: &mut DbConn, hold_id: &str) -> Result<bool, ApiError> {
    crate::notify::outbox::any_about(conn, &reminder_subject(hold_id))
}

/// What a hold's reminder says, read again just before it goes out.
pub struct ReminderFacts {
    pub location: String,
    pub expires_at: NaiveDateTime,
    pub skus: Vec<String>,
}

/// The hold behind a reminder, if the reminder is still true: still held, not lapsed, and
/// ending within `before` (an extended hold's earlier reminder is early now: its own follows).
pub fn reminder_facts(
    conn: &mut DbConn,
    id: &str,
    now: NaiveDateTime,
    before: TimeDelta,
) -> Result<Result<ReminderFacts, String>, ApiError> {
    let Some(row) = reservations::table.find(id).select(ReservationRow::as_select()).first(conn).optional()? else {
        return Ok(Err("the hold no longer exists".into()));
    };
    if HoldStatus::from_stored(&row.status)? != HoldStatus::Held || row.expires_at <= now {
        return Ok(Err(format!("the hold is no longer held ({})", row.status)));
    }
    if row.expires_at - now > before + TimeDelta::minutes(1) {
        return Ok(Err("the hold was extended; the reminder for its new end follows".into()));
    }
    let skus = lines_of(conn, id)?.into_iter().map(|l| l.sku).collect();
    Ok(Ok(ReminderFacts { location: row.location, expires_at: row.expires_at, skus }))
}

fn expired(id: &str) -> ApiError {
    ApiError::Conflict(format!("reservation {id} has expired and its stock is back on sale; place a new hold"))
}

/// Ends holds (already locked by the caller) and gives their stock back, all lines of all of
/// them in one SKU-ordered pass per location.
fn end_holds(
    conn: &mut DbConn,
    holds: &[ReservationRow],
    status: HoldStatus,
    reason: &str,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    for hold in holds {
        let lines: Vec<Line> = lines_of(conn, &hold.id)?.into_iter().map(|l| Line::new(l.sku, l.quantity)).collect();
        // Closed first, so a short level is reassessed without it (and its rows there go).
        diesel::update(reservations::table.find(&hold.id))
            .set((reservations::status.eq(status.as_str()), reservations::updated_at.eq(now)))
            .execute(conn)?;
        reserve::unreserve(conn, &hold.location, &lines, &Entry { reason, reference: &hold.id, actor, at: now })?;
        if let Some(slot) = &hold.slot_id {
            crate::slots::release(conn, slot)?;
        }
    }
    Ok(())
}

/// At the moment of contention: releases lapsed holds on these SKUs at this location, so they
/// can never block the hold being placed. Waits for (rather than skips) holds the sweeper is
/// releasing at the same time; it then finds them no longer held.
/// Returns the slots the ended holds had, sorted, for the caller to give back in its own pass
/// over slots (after its stock, in key order).
fn release_lapsed(
    conn: &mut DbConn,
    location: &str,
    skus: &[&str],
    now: NaiveDateTime,
) -> Result<Vec<String>, ApiError> {
    let lapsed_ids = reservations::table
        .inner_join(reservation_lines::table)
        .filter(reservations::location.eq(location))
        .filter(reservations::status.eq(HoldStatus::Held.as_str()))
        .filter(reservations::expires_at.le(now))
        .filter(reservation_lines::sku.eq_any(skus))
        .select(reservations::id)
        .distinct();
    let mut ids: Vec<String> = lapsed_ids.load(conn)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    ids.sort();
    // Lapsed still, once locked: an extension committed meanwhile moved `expires_at` on, and
    // PostgreSQL re-checks these conditions on the row it waited for.
    let lapsed: Vec<ReservationRow> = locking!(
        conn,
        reservations::table
            .filter(reservations::id.eq_any(&ids))
            .filter(reservations::status.eq(HoldStatus::Held.as_str()))
            .filter(reservations::expires_at.le(now))
            .order(reservations::id.asc())
            .select(ReservationRow::as_select()),
        load
    )?;
    let also_locked: Vec<(&str, &str)> = skus.iter().map(|sku| (location, *sku)).collect();
    end_lapsed(conn, lapsed, now, &also_locked)
}

/// Expires lapsed holds whose lines may span many SKUs: their stock is returned in one pass
/// in (location, sku) order, the same order every other writer locks in. The levels the
/// caller will touch next (`also_locked`) are locked in the same pass: locking them later, in
/// a second ordered pass, could interleave with another writer's order and deadlock. Returns
/// the slots the holds had booked, sorted, for the caller to give back.
fn end_lapsed(
    conn: &mut DbConn,
    lapsed: Vec<ReservationRow>,
    now: NaiveDateTime,
    also_locked: &[(&str, &str)],
) -> Result<Vec<String>, ApiError> {
    if lapsed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = lapsed.iter().map(|r| r.id.as_str()).collect();
    let location_of: HashMap<&str, &str> = lapsed.iter().map(|r| (r.id.as_str(), r.location.as_str())).collect();
    let mut lines: Vec<(String, String, String, i64)> = reservation_lines::table
        .filter(reservation_lines::reservation_id.eq_any(&ids))
        .select((reservation_lines::reservation_id, reservation_lines::sku, reservation_lines::quantity))
        .load::<(String, String, i64)>(conn)?
        .into_iter()
        .map(|(id, sku, quantity)| (location_of[id.as_str()].to_string(), sku, id, quantity))
        .collect();
    lines.sort();
    let mut keys: Vec<(&str, &str)> = lines.iter().map(|(l, s, _, _)| (l.as_str(), s.as_str())).collect();
    keys.extend_from_slice(also_locked);
    keys.sort();
    keys.dedup();
    for (location, sku) in keys {
        let _: Option<String> =
            locking!(conn, stock_levels::table.find((location, sku)).select(stock_levels::sku), first).optional()?;
    }
    // Closed first, so short levels are reassessed without them.
    diesel::update(reservations::table.filter(reservations::id.eq_any(&ids)))
        .set((reservations::status.eq(HoldStatus::Expired.as_str()), reservations::updated_at.eq(now)))
        .execute(conn)?;
    for (location, sku, id, quantity) in lines {
        let entry = Entry { reason: "expire", reference: &id, actor: "system:hold-sweeper", at: now };
        reserve::unreserve(conn, &location, &[Line::new(sku, quantity)], &entry)?;
    }
    let mut slots: Vec<String> = lapsed.into_iter().filter_map(|hold| hold.slot_id).collect();
    slots.sort();
    Ok(slots)
}

/// Gives back the places of holds that ended, in key order (after the caller's stock).
fn release_slots(conn: &mut DbConn, slots: &[String]) -> Result<(), ApiError> {
    for slot in slots {
        crate::slots::release(conn, slot)?;
    }
    Ok(())
}

/// The sweeper's step: expires up to `SWEEP_BATCH` lapsed holds and returns how many. On
/// PostgreSQL several sweepers share the work (`SKIP LOCKED`); SQLite has one writer at a time.
pub fn expire_lapsed(conn: &mut DbConn) -> Result<usize, ApiError> {
    let now = Utc::now().naive_utc();
    let held = HoldStatus::Held.as_str();
    let lapsed: Vec<ReservationRow> =
        due_rows!(conn, reservations, status held, due expires_at <= now, order id, limit SWEEP_BATCH, ReservationRow)?;
    let count = lapsed.len();
    let freed = end_lapsed(conn, lapsed, now, &[])?;
    release_slots(conn, &freed)?;
    Ok(count)
}
