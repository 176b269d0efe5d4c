//! Lists of orders: a store's pick list, and the look-ups of admins and integrations.

use std::collections::HashMap;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::model::{Order, OrderFilter, OrderLine, OrderRow, StoreFilter, StoreOrder};
use super::status::Status;
use super::{arrival_from, view, ArrivalRow, OrderSettings};
use crate::auth::{Principal, Role};
use crate::catalog;
use crate::db::schema::{order_arrivals, order_lines, order_promises, orders, products, stock_shorts};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::stock::risk;

/// Orders newest first, all of them or found by their number, or by their marketplace
/// reference (`channel` with or without `external_ref`): for admins and integrations (an
/// integration without `orders:read` finds only the orders it placed).
pub fn search(
    conn: &mut DbConn,
    who: &Principal,
    filter: &OrderFilter,
    settings: &OrderSettings,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Order>, bool), ApiError> {
    let mut query = orders::table.select(OrderRow::as_select()).into_boxed();
    if who.role == Role::Integration && !who.has_scope("orders:read") {
        // An importer (`orders:write` alone) finds only what it placed.
        query = query.filter(orders::created_by.eq(who.actor()));
    }
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

/// A store's orders: arrived curbside customers first (longest waiting first), then by the
/// time each was promised ready (orders sold without a promise after those with one), then
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
    let mut query = orders::table
        .left_join(order_arrivals::table)
        .left_join(order_promises::table)
        .filter(orders::location.eq(store))
        .into_boxed();
    query = match filter.status {
        Some(s) => query.filter(orders::status.eq(s.as_str())),
        None if filter.number.is_some() => query,
        None => query.filter(orders::status.eq_any(Status::open_words())),
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
        let short = stock_shorts::table
            .filter(stock_shorts::holder.eq(risk::Holder::Order.as_str()))
            .select(stock_shorts::holder_id);
        query = if at_risk { query.filter(orders::id.eq_any(short)) } else { query.filter(orders::id.ne_all(short)) };
    }
    // Curbside arrivals first, longest waiting first; then by promise (orders sold with none
    // after those that have one), then by age.
    let rows: Vec<(OrderRow, Option<ArrivalRow>, Option<NaiveDateTime>)> = query
        .order((
            order_arrivals::arrived_at.is_null().asc(),
            order_arrivals::arrived_at.asc(),
            order_promises::promised_at.is_null().asc(),
            order_promises::promised_at.asc(),
            orders::created_at.asc(),
            orders::id.asc(),
        ))
        .offset(offset)
        .limit(limit + 1)
        .select((
            OrderRow::as_select(),
            (order_arrivals::arrived_at, order_arrivals::bay, order_arrivals::vehicle, order_arrivals::note).nullable(),
            order_promises::promised_at.nullable(),
        ))
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<(OrderRow, Option<ArrivalRow>, Option<NaiveDateTime>)> =
        rows.into_iter().take(limit as usize).collect();
    let ids: Vec<&str> = rows.iter().map(|(r, _, _)| r.id.as_str()).collect();
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
    let mut risks = risk::of_orders(conn, &ids, store)?;
    let mut slots = super::views::slots_of(conn, &ids)?;
    let mut items = Vec::with_capacity(rows.len());
    for (row, arrival, promised_at) in rows {
        let at_risk = risks.remove(&row.id);
        items.push(StoreOrder {
            waiting_seconds: arrival.as_ref().map(|(at, _, _, _)| (now - *at).num_seconds().max(0)),
            arrival: arrival.map(arrival_from),
            lines: lines.remove(&row.id).unwrap_or_default(),
            status: row.status()?,
            fulfilment: row.fulfilment()?,
            created_at: row.created_at.and_utc(),
            pickup_deadline: row.pickup_deadline.map(|d| d.and_utc()),
            overdue: row.overdue(settings.overdue_after, now)?,
            at_risk,
            slot: slots.remove(&row.id).as_deref().and_then(crate::slots::describe),
            late: super::promise::late(row.status()?, promised_at, now),
            promised_at: promised_at.map(|at| at.and_utc()),
            customer_id: row.customer_id,
            number: row.number,
            id: row.id,
        });
    }
    Ok((items, more))
}
