//! The store's side of an order: the scan at the counter, a curbside customer's arrival,
//! short picks while picking, and the customer's pickup pass.

use chrono::Utc;
use diesel::prelude::*;
use serde_json::json;

use super::model::{ArrivalForm, Order, OrderRow, PickupPass, ShortPick};
use super::status::{self, Action, Fulfilment, Status};
use super::{
    access, apply, find_row, lines_of, lock_levels_of, lock_row, pickup, record_event, view, Access, Details,
    OrderSettings,
};
use crate::auth::Principal;
use crate::catalog;
use crate::db::schema::{locations, order_arrivals, order_lines, orders};
use crate::db::{locking, DbConn};
use crate::error::{ApiError, FieldError, StoreRef};
use crate::stock::reserve::{self, Entry};

/// A store scans a customer's code: the matching ready order at that store is collected.
/// An unknown code is 404 `not-found`; the code of an order to be collected at another store
/// is 404 `pickup-at-other-store`, naming that store so the customer can be sent there.
pub fn collect(
    conn: &mut DbConn,
    who: &Principal,
    store: &str,
    code: &str,
    settings: &OrderSettings,
) -> Result<Order, ApiError> {
    let hash = pickup::code_hash(store, code);
    let found = locking!(
        conn,
        orders::table
            .filter(orders::location.eq(store))
            .filter(orders::pickup_code_hash.eq(&hash))
            .select(OrderRow::as_select()),
        first,
        no_key_update
    )
    .optional()?;
    let row = ready_to_hand_over(conn, store, code, found)?;
    let id = row.id.clone();
    apply(conn, row, &who.actor(), Action::Collect, &Details::default(), settings)?;
    let row = find_row(conn, &id)?;
    view(conn, row, who, settings)
}

/// What a code would hand over, changing nothing: the order's lines for staff to check
/// before they confirm. Answers as `collect` does for a wrong code or another store's.
pub fn look_up_code(
    conn: &mut DbConn,
    who: &Principal,
    store: &str,
    code: &str,
    settings: &OrderSettings,
) -> Result<Order, ApiError> {
    let hash = pickup::code_hash(store, code);
    let found = orders::table
        .filter(orders::location.eq(store))
        .filter(orders::pickup_code_hash.eq(&hash))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?;
    let row = ready_to_hand_over(conn, store, code, found)?;
    view(conn, row, who, settings)
}

/// The order a code found at `store`, if it may be handed over now; else why not.
fn ready_to_hand_over(
    conn: &mut DbConn,
    store: &str,
    code: &str,
    found: Option<OrderRow>,
) -> Result<OrderRow, ApiError> {
    let Some(row) = found else {
        return Err(match elsewhere(conn, store, code)? {
            Some(other) => ApiError::PickupAtOtherStore(other),
            None => ApiError::NotFound("no order with this code at this store".into()),
        });
    };
    if row.status()? != Status::ReadyForPickup {
        return Err(ApiError::Conflict(format!(
            "order {} is {}, not ready for pickup",
            row.number,
            status::words(row.status()?)
        )));
    }
    Ok(row)
}

/// Codes are looked up per store (the database keeps a per-store hash), so a code that is not
/// this store's is tried against the others', a chunk of stores per query.
fn elsewhere(conn: &mut DbConn, store: &str, code: &str) -> Result<Option<StoreRef>, ApiError> {
    let others: Vec<String> = locations::table.filter(locations::code.ne(store)).select(locations::code).load(conn)?;
    for chunk in others.chunks(500) {
        let hashes: Vec<String> = chunk.iter().map(|l| pickup::code_hash(l, code)).collect();
        let found: Option<String> = orders::table
            .filter(orders::pickup_code_hash.eq_any(&hashes))
            .filter(orders::status.eq(Status::ReadyForPickup.as_str()))
            .select(orders::location)
            .first(conn)
            .optional()?;
        if let Some(location) = found {
            let name = catalog::find_location(conn, &location)?.name;
            return Ok(Some(StoreRef { code: location, name }));
        }
    }
    Ok(None)
}

/// A curbside customer says they are here: staff see it at the top of the store's list.
/// Saying it again updates the bay or vehicle and keeps the first arrival time.
pub fn arrive(
    conn: &mut DbConn,
    who: &Principal,
    id: &str,
    form: &ArrivalForm,
    settings: &OrderSettings,
) -> Result<Order, ApiError> {
    let row = lock_row(conn, id)?;
    match access(who, &row)? {
        Access::Owner => {}
        _ => return Err(ApiError::Forbidden("only the order's customer announces their arrival".into())),
    }
    if row.fulfilment()? != Fulfilment::Curbside {
        return Err(ApiError::Conflict(format!("order {} is not a curbside order", row.number)));
    }
    if !row.status()?.holds_stock() {
        return Err(ApiError::Conflict(format!(
            "order {} is {}: there is nothing left to collect",
            row.number,
            status::words(row.status()?)
        )));
    }
    let now = Utc::now().naive_utc();
    let updated = diesel::update(order_arrivals::table.find(id))
        .set((
            order_arrivals::bay.eq(&form.bay),
            order_arrivals::vehicle.eq(&form.vehicle),
            order_arrivals::note.eq(&form.note),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(order_arrivals::table)
            .values((
                order_arrivals::order_id.eq(id),
                order_arrivals::arrived_at.eq(now),
                order_arrivals::bay.eq(&form.bay),
                order_arrivals::vehicle.eq(&form.vehicle),
                order_arrivals::note.eq(&form.note),
            ))
            .execute(conn)?;
    }
    let detail = json!({"bay": form.bay, "vehicle": form.vehicle, "note": form.note});
    record_event(conn, id, &row.location, &who.actor(), "arrived", Some(detail), now)?;
    let row = find_row(conn, id)?;
    view(conn, row, who, settings)
}

/// While picking, staff find units missing: the line shrinks, the reservation goes, and the
/// stock count is corrected for units the books still showed (units a recount had already
/// taken off, on an at-risk line, are not taken twice). An order with nothing left is
/// cancelled.
pub fn short_pick(
    conn: &mut DbConn,
    who: &Principal,
    id: &str,
    form: &ShortPick,
    settings: &OrderSettings,
) -> Result<Order, ApiError> {
    let row = lock_row(conn, id)?;
    match access(who, &row)? {
        Access::Store => {}
        _ => return Err(ApiError::Forbidden("this is for the order's store".into())),
    }
    if row.status()? != Status::Picking {
        return Err(ApiError::Conflict(format!(
            "short picks are reported while picking; order {} is {}",
            row.number,
            status::words(row.status()?)
        )));
    }
    lock_levels_of(conn, &row)?;
    let short = crate::stock::risk::short_units(conn, crate::stock::risk::Holder::Order, id)?
        .get(&form.sku)
        .copied()
        .unwrap_or(0);
    let quantity: i64 =
        order_lines::table.find((id, &form.sku)).select(order_lines::quantity).first(conn).optional()?.ok_or_else(
            || ApiError::Unknown(vec![FieldError::new("sku", format!("the order has no line for {}", form.sku))]),
        )?;
    if form.missing > quantity {
        return Err(ApiError::Conflict(format!("the line for {} has only {quantity} left", form.sku)));
    }
    let now = Utc::now().naive_utc();
    let actor = who.actor();
    // The line shrinks first, so the level is reassessed with what the order still wants.
    diesel::update(order_lines::table.find((id, &form.sku)))
        .set(order_lines::quantity.eq(quantity - form.missing))
        .execute(conn)?;
    reserve::short_pick(
        conn,
        &row.location,
        &form.sku,
        form.missing,
        short,
        &Entry { reason: "short_pick", reference: id, actor: &actor, at: now },
    )?;
    diesel::update(orders::table.find(id)).set(orders::updated_at.eq(now)).execute(conn)?;
    let detail = json!({"sku": form.sku, "missing": form.missing});
    record_event(conn, id, &row.location, &actor, "short_pick", Some(detail), now)?;
    if lines_of(conn, id)?.is_empty() {
        let row = find_row(conn, id)?;
        apply(conn, row, &actor, Action::Cancel, &Details::default(), settings)?;
    }
    let row = find_row(conn, id)?;
    view(conn, row, who, settings)
}

/// The owning customer's pickup pass for a ready order.
pub fn pickup_pass(conn: &mut DbConn, who: &Principal, id: &str, pickup_key: &[u8]) -> Result<PickupPass, ApiError> {
    let row = find_row(conn, id)?;
    match access(who, &row)? {
        Access::Owner => {}
        _ => return Err(ApiError::NotFound(format!("no pickup pass for order {id}"))),
    }
    let nonce = match (&row.pickup_code_nonce, row.status()?) {
        (Some(nonce), Status::ReadyForPickup) => nonce.clone(),
        _ => {
            return Err(ApiError::Conflict(format!(
                "order {} is {}, not ready for pickup",
                row.number,
                status::words(row.status()?)
            )))
        }
    };
    let code = pickup::code(pickup_key, &row.id, &nonce);
    Ok(PickupPass {
        qr_svg: pickup::qr_svg(&code)?,
        order_id: row.id,
        number: row.number,
        location: row.location,
        code,
        pickup_deadline: row.pickup_deadline.map(|d| d.and_utc()),
    })
}
