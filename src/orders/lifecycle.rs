//! An order's life: one action through the transition table, with its stock effect, its
//! timeline entry and its announcement, in the caller's transaction; and the job that
//! expires orders nobody collected.

use chrono::Utc;
use diesel::prelude::*;
use serde_json::json;

use super::events::{record_event, Announcement, Event};
use super::model::{Order, OrderRow};
use super::status::{self, Action, Status, StockEffect};
use super::{access, find_row, lock_row, pickup, view, Access, Details, OrderSettings};
use crate::auth::Principal;
use crate::catalog;
use crate::db::schema::{order_lines, order_shipments, orders};
use crate::db::{locking, DbConn};
use crate::error::ApiError;
use crate::stock::reserve::{self, Entry, Line};
use crate::stock::risk;

/// Applies one action through the transition table: the status, the stock effect, the
/// timeline entry, all in the caller's transaction. 409 when the table has no such move.
pub fn transition(
    conn: &mut DbConn,
    who: &Principal,
    id: &str,
    action: Action,
    details: &Details,
    settings: &OrderSettings,
) -> Result<Order, ApiError> {
    let row = lock_row(conn, id)?;
    let rights = access(who, &row)?;
    let allowed = match (rights, action) {
        (Access::Store, _) => true,
        // A customer may cancel their own order until it is ready.
        (Access::Owner, Action::Cancel) => {
            matches!(row.status()?, Status::AwaitingTransfer | Status::Confirmed | Status::Picking)
        }
        // A marketplace cancels what it imported.
        (Access::Integration, Action::Cancel) => {
            who.scopes.iter().any(|s| s == "orders:write") && row.created_by == who.actor()
        }
        _ => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden(match (rights, action) {
            (Access::Owner, Action::Cancel) => "a customer may cancel only until the order is ready".into(),
            (Access::Integration, Action::Cancel) => {
                "an integration cancels only orders it imported, with the orders:write scope".into()
            }
            _ => "this is for the order's store".into(),
        }));
    }
    apply(conn, row, &who.actor(), action, details, settings)?;
    let row = find_row(conn, id)?;
    view(conn, row, who, settings)
}

/// The transition itself, for handlers and background jobs alike.
pub fn apply(
    conn: &mut DbConn,
    row: OrderRow,
    actor: &str,
    action: Action,
    details: &Details,
    settings: &OrderSettings,
) -> Result<(), ApiError> {
    let (from, fulfilment) = (row.status()?, row.fulfilment()?);
    let to = status::next(from, fulfilment, action)
        .ok_or_else(|| ApiError::Conflict(status::refusal(&row.number, from, fulfilment, action)))?;
    let now = Utc::now().naive_utc();
    if action == Action::MarkReady || status::stock_effect(action) != StockEffect::None {
        lock_levels_of(conn, &row)?;
    }
    let lines = lines_of(conn, &row.id)?;
    if action == Action::MarkReady && lines.iter().any(|l| l.short > 0) {
        // "Ready" tells the customer to come: not while units are missing from the books.
        let short: Vec<risk::ShortLine> = lines
            .iter()
            .filter(|l| l.short > 0)
            .map(|l| risk::ShortLine { sku: l.sku.clone(), short: l.short })
            .collect();
        return Err(ApiError::AtRisk(format!(
            "order {} cannot be marked ready: {}",
            row.number,
            risk::reason(&row.location, &short)
        )));
    }
    // The status moves first: a level that is short is then reassessed without this order
    // (and the order's rows there go with it).
    diesel::update(orders::table.find(&row.id))
        .set((orders::status.eq(to.as_str()), orders::updated_at.eq(now)))
        .execute(conn)?;
    let entry = |reason| Entry { reason, reference: &row.id, actor, at: now };
    let mut corrected = Vec::new();
    match status::stock_effect(action) {
        StockEffect::None => {}
        StockEffect::Consume => corrected = reserve::consume(conn, &row.location, &lines, &entry(to.as_str()))?,
        StockEffect::Release => {
            // Units still travelling go back on sale where they are reserved: at their source.
            let travelling = crate::transfers::cancel_for_order(conn, &row.id, &entry(to.as_str()))?;
            let here: Vec<Line> = lines
                .iter()
                .map(|l| Line { quantity: l.quantity - travelling.get(&l.sku).copied().unwrap_or(0), ..l.clone() })
                .filter(|l| l.quantity > 0)
                .collect();
            reserve::unreserve(conn, &row.location, &here, &entry(to.as_str()))?;
            // Its slot is free for someone else, after its stock (the order writers take).
            if let Some(slot) = super::views::slot_of(conn, &row.id)? {
                crate::slots::release(conn, &slot)?;
            }
        }
    }
    let mut detail = None;
    let mut reminder = None;
    match action {
        Action::MarkReady => {
            let location = catalog::find_location(conn, &row.location)?;
            let hours = location.hours();
            let deadline = pickup::deadline(now, &location.timezone, location.pickup_hold_days, hours.as_ref());
            let nonce = pickup::new_nonce();
            let code = pickup::code(&settings.pickup_key, &row.id, &nonce);
            diesel::update(orders::table.find(&row.id))
                .set((
                    orders::pickup_code_nonce.eq(&nonce),
                    orders::pickup_code_hash.eq(pickup::code_hash(&row.location, &code)),
                    orders::pickup_deadline.eq(deadline.naive_utc()),
                ))
                .execute(conn)?;
            detail = Some(json!({"pickup_deadline": deadline}));
            // The reminder is due a day before the deadline, if that is still ahead.
            let remind_at = deadline.naive_utc() - super::events::REMINDER_BEFORE_DEADLINE;
            reminder = (remind_at > now).then_some(remind_at);
        }
        Action::Ship => {
            let shipment = details
                .shipment
                .as_ref()
                .ok_or_else(|| ApiError::validation("body", "carrier and tracking_number are required"))?;
            diesel::insert_into(order_shipments::table)
                .values((
                    order_shipments::order_id.eq(&row.id),
                    order_shipments::carrier.eq(&shipment.carrier),
                    order_shipments::tracking_number.eq(&shipment.tracking_number),
                    order_shipments::shipped_at.eq(now),
                ))
                .execute(conn)?;
            detail = Some(json!({"carrier": shipment.carrier, "tracking_number": shipment.tracking_number}));
        }
        Action::Cancel => detail = details.reason.as_ref().map(|reason| json!({"reason": reason})),
        _ => {}
    }
    if !corrected.is_empty() {
        // The handover proved units a recount had missed: the count was corrected.
        let corrected: Vec<_> = corrected.iter().map(|(sku, units)| json!({"sku": sku, "units": units})).collect();
        let mut with = detail.unwrap_or_else(|| json!({}));
        with["count_corrected"] = json!(corrected);
        detail = Some(with);
    }
    record_event(conn, &row.id, &row.location, actor, to.as_str(), detail, now)?;
    // The customer hears about it through an announcement written in this same transaction.
    let mut announce = |event, send_at| {
        (settings.announce)(
            conn,
            &Announcement { order_id: &row.id, customer_id: &row.customer_id, event, send_at, occurrence: None },
        )
    };
    // A transfer arriving is the store's business: the customer was told the order is on
    // its way, and hears next that it is ready.
    if let Some(event) = Event::on_reaching(to).filter(|_| action != Action::TransferArrived) {
        announce(event, now)?;
    }
    if let Some(remind_at) = reminder {
        announce(Event::PickupReminder, remind_at)?;
    }
    Ok(())
}

/// The uncollected-order job's step: expires one ready order whose pickup deadline passed
/// more than `grace` ago, returning its stock to the shelf. One order per transaction keeps
/// lock order simple; on PostgreSQL several workers share the work (`SKIP LOCKED`).
pub fn expire_one_uncollected(
    conn: &mut DbConn,
    grace: chrono::TimeDelta,
    settings: &OrderSettings,
) -> Result<bool, ApiError> {
    let cutoff = Utc::now().naive_utc() - grace;
    let due: Option<OrderRow> = locking!(
        conn,
        orders::table
            .filter(orders::status.eq(Status::ReadyForPickup.as_str()))
            .filter(orders::pickup_deadline.lt(cutoff))
            .order(orders::pickup_deadline.asc())
            .select(OrderRow::as_select()),
        first,
        no_key_update,
        skip_locked
    )
    .optional()?;
    match due {
        None => Ok(false),
        Some(row) => {
            apply(conn, row, "system:pickup-expiry", Action::Expire, &Details::default(), settings)?;
            Ok(true)
        }
    }
}

/// Locks the levels of an order's lines, in SKU order. A transition that reads the order's
/// at-risk units or the shelf's `on_hand` takes these first (after the order itself), so a
/// count or sale cannot change them between the read and the write.
/// An order waiting on a transfer also holds units at the transfer's source: all its levels
/// are locked by location, then SKU.
pub(super) fn lock_levels_of(conn: &mut DbConn, row: &OrderRow) -> Result<(), ApiError> {
    let skus: Vec<String> = order_lines::table
        .filter(order_lines::order_id.eq(&row.id))
        .filter(order_lines::quantity.gt(0))
        .select(order_lines::sku)
        .load(conn)?;
    let mut levels: Vec<(String, String)> = skus.into_iter().map(|sku| (row.location.clone(), sku)).collect();
    if row.status()? == Status::AwaitingTransfer {
        levels.extend(crate::transfers::sources_of(conn, &row.id)?);
    }
    levels.sort();
    levels.dedup();
    for group in levels.chunk_by(|a, b| a.0 == b.0) {
        let skus: Vec<&str> = group.iter().map(|(_, sku)| sku.as_str()).collect();
        crate::stock::levels::lock_levels(conn, &group[0].0, &skus)?;
    }
    Ok(())
}

/// The order's lines still to serve, each with the units stock no longer covers.
pub(super) fn lines_of(conn: &mut DbConn, id: &str) -> Result<Vec<Line>, ApiError> {
    let shorts = risk::short_units(conn, risk::Holder::Order, id)?;
    Ok(order_lines::table
        .filter(order_lines::order_id.eq(id))
        .filter(order_lines::quantity.gt(0))
        .order(order_lines::sku.asc())
        .select((order_lines::sku, order_lines::quantity))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(sku, quantity)| Line { short: shorts.get(&sku).copied().unwrap_or(0), sku, quantity })
        .collect())
}
