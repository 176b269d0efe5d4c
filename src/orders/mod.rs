//! Orders: from a hold or placed directly, through the status machine in `status`, with a
//! timeline of who did what. Stock effects go through `stock::reserve`; each transition is
//! one transaction with its ledger movements and its timeline entry.

pub mod model;
pub mod pickup;
pub mod routes;
pub mod status;

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::auth::{Principal, Role};
use crate::catalog;
use crate::db::schema::{
    locations, order_arrivals, order_events, order_lines, order_shipments, orders, products, reservation_lines,
    reservations,
};
use crate::db::{insert_rows, locking, DbConn};
use crate::error::{ApiError, FieldError, Shortfall, StoreRef};
use crate::limits::{self, CustomerLimits};
use crate::notify::events::Event;
use crate::notify::outbox;
use crate::reservations::model::{HoldLine, HoldStatus, ReservationRow};
use crate::stock::reserve::{self, Entry, Line};
use crate::stock::{channels, risk};
use model::*;
use status::{Action, Fulfilment, Status, StockEffect};

/// Extra data some transitions carry.
#[derive(Default)]
pub struct Details {
    pub shipment: Option<Shipment>,
}

/// What handling an order needs from the configuration.
#[derive(Clone)]
pub struct OrderSettings {
    /// The key pickup codes are derived from.
    pub pickup_key: Vec<u8>,
    /// A confirmed order not picked within this is overdue.
    pub overdue_after: TimeDelta,
    pub limits: CustomerLimits,
}

impl OrderSettings {
    /// For jobs and tools that only move orders along: no limits, a day to be overdue.
    pub fn for_jobs(pickup_key: &[u8]) -> OrderSettings {
        OrderSettings {
            pickup_key: pickup_key.to_vec(),
            overdue_after: TimeDelta::days(1),
            limits: CustomerLimits::NONE,
        }
    }
}

/// An order placed, or the original answered again for a repeated marketplace import.
pub enum Placed {
    New(Order),
    Repeated(Order),
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
        Role::Integration if who.scopes.iter().any(|s| s == "orders:read" || s == "orders:write") => {
            Ok(Access::Integration)
        }
        Role::Integration => Err(ApiError::Forbidden("this needs the orders:read or orders:write scope".into())),
    }
}

/// Whether `who` may see the order (and its notifications).
pub fn can_view(who: &Principal, row: &OrderRow) -> Result<(), ApiError> {
    access(who, row).map(|_| ())
}

pub fn find_row(conn: &mut DbConn, id: &str) -> Result<OrderRow, ApiError> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no order {id}")))
}

fn lock_row(conn: &mut DbConn, id: &str) -> Result<OrderRow, ApiError> {
    locking!(conn, orders::table.find(id).select(OrderRow::as_select()), first)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no order {id}")))
}

fn lines_of(conn: &mut DbConn, id: &str) -> Result<Vec<Line>, ApiError> {
    Ok(order_lines::table
        .filter(order_lines::order_id.eq(id))
        .filter(order_lines::quantity.gt(0))
        .order(order_lines::sku.asc())
        .select((order_lines::sku, order_lines::quantity, order_lines::short))
        .load::<(String, i64, i64)>(conn)?
        .into_iter()
        .map(|(sku, quantity, short)| Line { sku, quantity, short })
        .collect())
}

/// The short number an order is known by in messages and at the counter: the last eight hex
/// digits of its id, upper case (the first ones of a time-ordered id are shared by
/// neighbours). Unique: the rare clash fails the insert, and the retry draws a new id.
pub fn number_for(id: &str) -> String {
    let plain: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    plain[plain.len().saturating_sub(8)..].to_uppercase()
}

fn record_event(
    conn: &mut DbConn,
    order_id: &str,
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
    Ok(())
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
            if row.created_by == actor && row.import_hash == import_hash {
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
    let location = catalog::find_location(conn, &form.location)?;
    let offered = match form.fulfilment {
        Fulfilment::Pickup => location.pickup_in_store,
        Fulfilment::Curbside => location.pickup_curbside,
        Fulfilment::Delivery => true,
    };
    if !location.active || !offered {
        return Err(ApiError::Conflict(format!("{} does not offer {} now", form.location, form.fulfilment.as_str())));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let lines: Vec<HoldLine> = match (&form.reservation_id, &form.lines) {
        (Some(hold_id), _) => take_over_hold(conn, who, hold_id, &form.location, now)?,
        (None, Some(lines)) => lines.clone(),
        (None, None) => return Err(ApiError::validation("lines", "give lines, or the reservation_id of a hold")),
    };
    if let Some(channel) = &form.channel {
        keep_channel_buffer(conn, channel, &form.location, &lines, form.reservation_id.is_none())?;
    }
    if form.reservation_id.is_none() {
        let wanted: Vec<Line> = lines.iter().map(|l| Line::new(l.sku.clone(), l.quantity)).collect();
        crate::reservations::known_skus(conn, &wanted)?;
        reserve::reserve_all(
            conn,
            &form.location,
            &wanted,
            &Entry { reason: "order", reference: &id, actor: &actor, at: now },
        )?;
    }
    diesel::insert_into(orders::table)
        .values((
            orders::id.eq(&id),
            orders::number.eq(number_for(&id)),
            orders::location.eq(&form.location),
            orders::fulfilment.eq(form.fulfilment.as_str()),
            orders::status.eq(Status::Confirmed.as_str()),
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
    if let Some(hold_id) = &form.reservation_id {
        diesel::update(reservations::table.find(hold_id))
            .set((reservations::status.eq(HoldStatus::Converted.as_str()), reservations::updated_at.eq(now)))
            .execute(conn)?;
    }
    record_event(conn, &id, &actor, "confirmed", None, now)?;
    outbox::enqueue(conn, &id, &form.customer_id, Event::OrderConfirmed, now)?;
    let row = find_row(conn, &id)?;
    view(conn, row, who, settings).map(Placed::New)
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

/// The hold's units pass to the order without touching stock: they stay reserved.
fn take_over_hold(
    conn: &mut DbConn,
    who: &Principal,
    hold_id: &str,
    location: &str,
    now: NaiveDateTime,
) -> Result<Vec<HoldLine>, ApiError> {
    let not_found =
        || ApiError::Unknown(vec![FieldError::new("reservation_id", format!("no reservation {hold_id} of yours"))]);
    let hold = locking!(conn, reservations::table.find(hold_id).select(ReservationRow::as_select()), first)
        .optional()?
        .filter(|h| who.role == Role::Admin || h.owner == who.actor())
        .ok_or_else(not_found)?;
    if hold.location != location {
        return Err(ApiError::Conflict(format!("the hold is at {}, not {location}", hold.location)));
    }
    match HoldStatus::parse(&hold.status) {
        HoldStatus::Held if hold.expires_at > now => {}
        HoldStatus::Held | HoldStatus::Expired => {
            return Err(ApiError::Conflict(format!("reservation {hold_id} has expired; hold the items again")))
        }
        HoldStatus::Released => return Err(ApiError::Conflict(format!("reservation {hold_id} was released"))),
        HoldStatus::Converted => {
            return Err(ApiError::Conflict(format!("reservation {hold_id} already belongs to an order")))
        }
    }
    let lines: Vec<(String, i64, i64)> = reservation_lines::table
        .filter(reservation_lines::reservation_id.eq(hold_id))
        .order(reservation_lines::sku.asc())
        .select((reservation_lines::sku, reservation_lines::quantity, reservation_lines::short))
        .load(conn)?;
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
    Ok(lines.into_iter().map(|(sku, quantity, _)| HoldLine { sku, quantity }).collect())
}

fn arrival_of(conn: &mut DbConn, order_id: &str) -> Result<Option<Arrival>, ApiError> {
    Ok(order_arrivals::table
        .find(order_id)
        .select((order_arrivals::arrived_at, order_arrivals::bay, order_arrivals::vehicle, order_arrivals::note))
        .first::<ArrivalRow>(conn)
        .optional()?
        .map(arrival_from))
}

type ArrivalRow = (NaiveDateTime, Option<String>, Option<String>, Option<String>);

fn arrival_from((arrived_at, bay, vehicle, note): ArrivalRow) -> Arrival {
    Arrival { arrived_at: arrived_at.and_utc(), bay, vehicle, note }
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
    let pickup_code = match (&row.pickup_code_nonce, owner && row.status() == Status::ReadyForPickup) {
        (Some(nonce), true) if !key.is_empty() => Some(pickup::code(key, &row.id, nonce)),
        _ => None,
    };
    let shipment = shipment_of(conn, &row.id)?;
    let arrival = arrival_of(conn, &row.id)?;
    let at_risk = risk::of_order(conn, &row.id, &row.location)?;
    let overdue = row.overdue(settings.overdue_after, Utc::now().naive_utc());
    Ok(Order {
        status: row.status(),
        fulfilment: row.fulfilment(),
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
    })
}

pub fn get(conn: &mut DbConn, who: &Principal, id: &str, settings: &OrderSettings) -> Result<Order, ApiError> {
    let row = find_row(conn, id)?;
    access(who, &row)?;
    view(conn, row, who, settings)
}

/// Orders newest first, all of them or found by their number, or by their marketplace
/// reference (`channel` with or without `external_ref`): for admins and integrations.
pub fn search(
    conn: &mut DbConn,
    who: &Principal,
    filter: &OrderFilter,
    settings: &OrderSettings,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Order>, bool), ApiError> {
    let mut query = orders::table.select(OrderRow::as_select()).into_boxed();
    if let Some(number) = &filter.number {
        query = query.filter(orders::number.eq(number.to_uppercase()));
    }
    if let Some(channel) = &filter.channel {
        query = query.filter(orders::channel.eq(channel));
    }
    if let Some(reference) = &filter.external_ref {
        query = query.filter(orders::external_ref.eq(reference));
    }
    let rows: Vec<OrderRow> =
        query.order((orders::created_at.desc(), orders::id.desc())).offset(offset).limit(limit + 1).load(conn)?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows.into_iter().take(limit as usize) {
        items.push(view(conn, row, who, settings)?);
    }
    Ok((items, more))
}

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
        (Access::Owner, Action::Cancel) => matches!(row.status(), Status::Confirmed | Status::Picking),
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
    apply(conn, row, &who.actor(), action, details, &settings.pickup_key)?;
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
    pickup_key: &[u8],
) -> Result<(), ApiError> {
    let from = row.status();
    let to = status::next(from, row.fulfilment(), action)
        .ok_or_else(|| ApiError::Conflict(status::refusal(&row.number, from, row.fulfilment(), action)))?;
    let now = Utc::now().naive_utc();
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
    // The status moves first: a level that is short is then reassessed without this order.
    diesel::update(orders::table.find(&row.id))
        .set((orders::status.eq(to.as_str()), orders::updated_at.eq(now)))
        .execute(conn)?;
    if !to.holds_stock() {
        risk::clear_order(conn, &row.id)?;
    }
    let entry = |reason| Entry { reason, reference: &row.id, actor, at: now };
    let mut corrected = Vec::new();
    match status::stock_effect(action) {
        StockEffect::None => {}
        StockEffect::Consume => corrected = reserve::consume(conn, &row.location, &lines, &entry(to.as_str()))?,
        StockEffect::Release => reserve::unreserve(conn, &row.location, &lines, &entry(to.as_str()))?,
    }
    let mut detail = None;
    let mut reminder = None;
    match action {
        Action::MarkReady => {
            let location = catalog::find_location(conn, &row.location)?;
            let hours = location.opening_hours.as_deref().and_then(|h| serde_json::from_str(h).ok());
            let deadline = pickup::deadline(now, &location.timezone, location.pickup_hold_days, hours.as_ref());
            let nonce = pickup::new_nonce();
            let code = pickup::code(pickup_key, &row.id, &nonce);
            diesel::update(orders::table.find(&row.id))
                .set((
                    orders::pickup_code_nonce.eq(&nonce),
                    orders::pickup_code_hash.eq(pickup::code_hash(&row.location, &code)),
                    orders::pickup_deadline.eq(deadline.naive_utc()),
                ))
                .execute(conn)?;
            detail = Some(json!({"pickup_deadline": deadline}));
            // The reminder is due a day before the deadline, if that is still ahead.
            let remind_at = deadline.naive_utc() - outbox::REMINDER_BEFORE_DEADLINE;
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
        _ => {}
    }
    if !corrected.is_empty() {
        // The handover proved units a recount had missed: the count was corrected.
        let corrected: Vec<_> = corrected.iter().map(|(sku, units)| json!({"sku": sku, "units": units})).collect();
        let mut with = detail.unwrap_or_else(|| json!({}));
        with["count_corrected"] = json!(corrected);
        detail = Some(with);
    }
    record_event(conn, &row.id, actor, to.as_str(), detail, now)?;
    // The customer hears about it through the outbox, written in this same transaction.
    if let Some(event) = Event::on_reaching(to) {
        outbox::enqueue(conn, &row.id, &row.customer_id, event, now)?;
    }
    if let Some(remind_at) = reminder {
        outbox::enqueue(conn, &row.id, &row.customer_id, Event::PickupReminder, remind_at)?;
    }
    Ok(())
}

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
        first
    )
    .optional()?;
    let Some(row) = found else {
        return Err(match elsewhere(conn, store, code)? {
            Some(other) => ApiError::PickupAtOtherStore(other),
            None => ApiError::NotFound("no order with this code at this store".into()),
        });
    };
    if row.status() != Status::ReadyForPickup {
        return Err(ApiError::Conflict(format!(
            "order {} is {}, not ready for pickup",
            row.number,
            status::words(row.status())
        )));
    }
    let id = row.id.clone();
    apply(conn, row, &who.actor(), Action::Collect, &Details::default(), &settings.pickup_key)?;
    let row = find_row(conn, &id)?;
    view(conn, row, who, settings)
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

/// A store's orders: arrived curbside customers first (longest waiting first), then the rest
/// oldest first.
pub fn store_orders(
    conn: &mut DbConn,
    store: &str,
    filter: &StoreFilter,
    settings: &OrderSettings,
    offset: i64,
    limit: i64,
) -> Result<(Vec<StoreOrder>, bool), ApiError> {
    catalog::find_location(conn, store)?;
    let now = Utc::now().naive_utc();
    let mut query = orders::table.left_join(order_arrivals::table).filter(orders::location.eq(store)).into_boxed();
    query = match filter.status {
        Some(s) => query.filter(orders::status.eq(s.as_str())),
        None if filter.number.is_some() => query,
        None => query.filter(orders::status.eq_any(Status::OPEN.map(|s| s.as_str()))),
    };
    if let Some(number) = &filter.number {
        query = query.filter(orders::number.eq(number.to_uppercase()));
    }
    if let Some(overdue) = filter.overdue {
        let cutoff = now - settings.overdue_after;
        let is_overdue = orders::status.eq(Status::Confirmed.as_str()).and(orders::created_at.lt(cutoff));
        query = if overdue { query.filter(is_overdue) } else { query.filter(diesel::dsl::not(is_overdue)) };
    }
    if let Some(at_risk) = filter.at_risk {
        let short = order_lines::table.filter(order_lines::short.gt(0)).select(order_lines::order_id);
        query = if at_risk { query.filter(orders::id.eq_any(short)) } else { query.filter(orders::id.ne_all(short)) };
    }
    let rows: Vec<(OrderRow, Option<ArrivalRow>)> = query
        .order((
            order_arrivals::arrived_at.is_null().asc(),
            order_arrivals::arrived_at.asc(),
            orders::created_at.asc(),
            orders::id.asc(),
        ))
        .offset(offset)
        .limit(limit + 1)
        .select((
            OrderRow::as_select(),
            (order_arrivals::arrived_at, order_arrivals::bay, order_arrivals::vehicle, order_arrivals::note).nullable(),
        ))
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<(OrderRow, Option<ArrivalRow>)> = rows.into_iter().take(limit as usize).collect();
    let ids: Vec<&str> = rows.iter().map(|(r, _)| r.id.as_str()).collect();
    let mut lines: HashMap<String, Vec<OrderLine>> = HashMap::new();
    for (order_id, sku, name, quantity) in order_lines::table
        .inner_join(products::table)
        .filter(order_lines::order_id.eq_any(&ids))
        .order((order_lines::order_id.asc(), order_lines::sku.asc()))
        .select((order_lines::order_id, order_lines::sku, products::name, order_lines::quantity))
        .load::<(String, String, String, i64)>(conn)?
    {
        lines.entry(order_id).or_default().push(OrderLine { sku, name, quantity });
    }
    let mut items = Vec::with_capacity(rows.len());
    for (row, arrival) in rows {
        let at_risk = risk::of_order(conn, &row.id, &row.location)?;
        items.push(StoreOrder {
            waiting_seconds: arrival.as_ref().map(|(at, _, _, _)| (now - *at).num_seconds().max(0)),
            arrival: arrival.map(arrival_from),
            lines: lines.remove(&row.id).unwrap_or_default(),
            status: row.status(),
            fulfilment: row.fulfilment(),
            created_at: row.created_at.and_utc(),
            pickup_deadline: row.pickup_deadline.map(|d| d.and_utc()),
            overdue: row.overdue(settings.overdue_after, now),
            at_risk,
            customer_id: row.customer_id,
            number: row.number,
            id: row.id,
        });
    }
    Ok((items, more))
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
    if row.fulfilment() != Fulfilment::Curbside {
        return Err(ApiError::Conflict(format!("order {} is not a curbside order", row.number)));
    }
    if !row.status().holds_stock() {
        return Err(ApiError::Conflict(format!(
            "order {} is {}: there is nothing left to collect",
            row.number,
            status::words(row.status())
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
    record_event(conn, id, &who.actor(), "arrived", Some(detail), now)?;
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
    if row.status() != Status::Picking {
        return Err(ApiError::Conflict(format!(
            "short picks are reported while picking; order {} is {}",
            row.number,
            status::words(row.status())
        )));
    }
    let (quantity, short): (i64, i64) = order_lines::table
        .find((id, &form.sku))
        .select((order_lines::quantity, order_lines::short))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            ApiError::Unknown(vec![FieldError::new("sku", format!("the order has no line for {}", form.sku))])
        })?;
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
    record_event(conn, id, &actor, "short_pick", Some(json!({"sku": form.sku, "missing": form.missing})), now)?;
    if lines_of(conn, id)?.is_empty() {
        let row = find_row(conn, id)?;
        apply(conn, row, &actor, Action::Cancel, &Details::default(), &settings.pickup_key)?;
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
    let nonce = match (&row.pickup_code_nonce, row.status()) {
        (Some(nonce), Status::ReadyForPickup) => nonce.clone(),
        _ => {
            return Err(ApiError::Conflict(format!(
                "order {} is {}, not ready for pickup",
                row.number,
                status::words(row.status())
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

/// The uncollected-order job's step: expires one ready order whose pickup deadline passed
/// more than `grace` ago, returning its stock to the shelf. One order per transaction keeps
/// lock order simple; on PostgreSQL several workers share the work (`SKIP LOCKED`).
pub fn expire_one_uncollected(conn: &mut DbConn, grace: chrono::TimeDelta) -> Result<bool, ApiError> {
    let cutoff = Utc::now().naive_utc() - grace;
    let due: Option<OrderRow> = locking!(
        conn,
        orders::table
            .filter(orders::status.eq(Status::ReadyForPickup.as_str()))
            .filter(orders::pickup_deadline.lt(cutoff))
            .order(orders::pickup_deadline.asc())
            .select(OrderRow::as_select()),
        first,
        skip_locked
    )
    .optional()?;
    match due {
        None => Ok(false),
        Some(row) => {
            apply(conn, row, "system:pickup-expiry", Action::Expire, &Details::default(), &[])?;
            Ok(true)
        }
    }
}
