//! The ready-by promise: when a cart would be ready at a store if it were ordered now. The
//! store picks its queue in order at its own pace (`picking_per_hour`), and only while it is
//! open: the orders ahead of this one (confirmed or being picked) and this one take
//! `(ahead + 1) × 60 / pace` minutes of opening hours, counted from now in the store's time
//! zone. An order records the promise it was sold with; the store's list sorts by it, and an
//! order not ready by then is late.

use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::model::{Promise, PromiseForm, PromiseLine, Source};
use super::status::{Fulfilment, Status};
use crate::catalog::model::{local_time, LocationRow, OpeningHours, WEEKDAYS};
use crate::catalog::{self};
use crate::db::schema::{order_promises, orders};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::slots::model::{SlotKind, SlotQuery};
use crate::stock::reserve::{self, Line};

/// How far ahead opening hours and slots are searched.
const HORIZON_DAYS: u64 = 14;

/// The promise for a cart: 404 for an unknown store or SKU, 409 for a store that does not
/// offer the fulfilment or is not open within two weeks, 409 `insufficient-stock` (with the
/// nearest stores that have it) when the shelf lacks a line.
pub fn promise(
    conn: &mut DbConn,
    form: &PromiseForm,
    default_pace: i64,
    now: DateTime<Utc>,
) -> Result<Promise, ApiError> {
    let fulfilment = form.fulfilment.unwrap_or(SlotKind::Pickup);
    let location = catalog::find_location(conn, &form.location)?;
    if !location.active || !crate::slots::offers(&location, fulfilment) {
        return Err(ApiError::Conflict(format!("{} does not offer {} now", form.location, fulfilment.as_str())));
    }
    let wanted: Vec<Line> = form.lines.iter().map(|l| Line::new(l.sku.clone(), l.quantity)).collect();
    crate::reservations::known_skus(conn, &wanted)?;
    let skus: Vec<&str> = wanted.iter().map(|l| l.sku.as_str()).collect();
    let levels = crate::stock::availability::available_at(conn, &form.location, &skus)?;
    let short: Vec<&Line> = wanted.iter().filter(|l| levels.get(&l.sku).copied().unwrap_or(0) < l.quantity).collect();
    // What the shelf lacks may come by transfer, as an order placed now would take it.
    let sourcing = match short.is_empty() {
        true => None,
        false => crate::transfers::source(conn, &form.location, &wanted)?,
    };
    let sent = |sku: &str| sourcing.iter().flat_map(|s| &s.sent).any(|c| c.lines.iter().any(|l| l.sku == sku));
    let still_short: Vec<&Line> = short.into_iter().filter(|l| !sent(&l.sku)).collect();
    if !still_short.is_empty() {
        return Err(ApiError::InsufficientStock(reserve::shortfalls(conn, &form.location, &still_short)?));
    }
    let lines: Vec<PromiseLine> = form
        .lines
        .iter()
        .map(|l| PromiseLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
            available: levels.get(&l.sku).copied().unwrap_or(0),
            source: if sent(&l.sku) { Source::Transfer } else { Source::Store },
        })
        .collect();
    let mut start = now;
    for consignment in sourcing.iter().flat_map(|s| &s.sent) {
        start = start.max(crate::transfers::arrival_at(&location, consignment.working_days, now)?);
    }
    let orders_ahead = queue_at(conn, &form.location)?;
    let ready_at = ready_at_store(conn, &location, orders_ahead, default_pace, start)?
        .ok_or_else(|| ApiError::Conflict(format!("{} is not open in the next {HORIZON_DAYS} days", form.location)))?;
    let slot = first_free_slot(conn, &location, fulfilment, ready_at, now)?;
    Ok(Promise {
        location: form.location.clone(),
        fulfilment,
        ready_at,
        source: if sourcing.is_some() { Source::Transfer } else { Source::Store },
        lines,
        orders_ahead,
        slot,
    })
}

/// Orders in a store's queue: confirmed or being picked.
fn queue_at(conn: &mut DbConn, location: &str) -> Result<i64, ApiError> {
    Ok(orders::table
        .filter(orders::location.eq(location))
        .filter(orders::status.eq_any([Status::Confirmed.as_str(), Status::Picking.as_str()]))
        .count()
        .get_result(conn)?)
}

/// When an order joining the store's queue now would be ready, or `None` when the store is
/// not open in the next two weeks.
fn ready_at_store(
    conn: &mut DbConn,
    location: &LocationRow,
    orders_ahead: i64,
    default_pace: i64,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let pace = catalog::picking_per_hour(conn, &location.code)?.map(i64::from).unwrap_or(default_pace).max(1);
    // Whole minutes, rounded up: a promise is never earlier than the work allows.
    let work = TimeDelta::minutes(((orders_ahead + 1) * 60 + pace - 1) / pace);
    Ok(after_work(now, work, location.zone(), location.hours().as_ref()))
}

/// The moment `work` of opening hours has passed after `now`. No hours at all: always open.
/// A day the hours leave out, or give no spans, is closed.
pub fn after_work(
    now: DateTime<Utc>,
    work: TimeDelta,
    zone: chrono_tz::Tz,
    hours: Option<&OpeningHours>,
) -> Option<DateTime<Utc>> {
    let Some(hours) = hours else { return Some(now + work) };
    let mut left = work;
    let today = now.with_timezone(&zone).date_naive();
    for offset in 0..HORIZON_DAYS {
        let day = today + chrono::Days::new(offset);
        let weekday = WEEKDAYS[day.weekday().num_days_from_monday() as usize];
        for [open, close] in hours.0.get(weekday).into_iter().flatten() {
            let (Some(open), Some(close)) = (local_time(day, open, zone), local_time(day, close, zone)) else {
                continue;
            };
            let start = open.max(now);
            if start >= close {
                continue;
            }
            if close - start >= left {
                return Some(start + left);
            }
            left -= close - start;
        }
    }
    None
}

/// The first slot of `kind` with room that starts once the order is ready, within two weeks.
fn first_free_slot(
    conn: &mut DbConn,
    location: &LocationRow,
    kind: SlotKind,
    ready_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<crate::slots::model::Slot>, ApiError> {
    let rules = crate::slots::rules_of(conn, &location.code)?;
    if rules.rules.is_empty() {
        return Ok(None);
    }
    let first_day = ready_at.with_timezone(&location.zone()).date_naive();
    for offset in 0..HORIZON_DAYS {
        let query = SlotQuery { date: Some(first_day + chrono::Days::new(offset)), fulfilment: Some(kind) };
        let day = crate::slots::list_for(conn, location, &rules, &query, now)?;
        if let Some(slot) = day.items.into_iter().find(|s| s.remaining > 0 && s.starts_at >= ready_at) {
            return Ok(Some(slot));
        }
    }
    Ok(None)
}

/// Records the promise an order is sold with (pickup and curbside only), in its transaction:
/// the queue as it stands, with the orders placed before this one ahead of it.
pub fn record_for_order(
    conn: &mut DbConn,
    order_id: &str,
    location: &LocationRow,
    fulfilment: Fulfilment,
    default_pace: i64,
    now: NaiveDateTime,
    transfer_arrives: Option<DateTime<Utc>>,
) -> Result<(), ApiError> {
    if fulfilment == Fulfilment::Delivery {
        return Ok(());
    }
    let queue = queue_at(conn, &location.code)?;
    let (ahead, start) = match transfer_arrives {
        // Not in the queue until its transfer arrives; the queue as it stands is the guess.
        Some(arrives) => (queue, arrives.max(now.and_utc())),
        // In the queue already (confirmed): the others are ahead of it.
        None => ((queue - 1).max(0), now.and_utc()),
    };
    if let Some(at) = ready_at_store(conn, location, ahead, default_pace, start)? {
        diesel::insert_into(order_promises::table)
            .values((order_promises::order_id.eq(order_id), order_promises::promised_at.eq(at.naive_utc())))
            .execute(conn)?;
    }
    Ok(())
}

/// An order's promise, if it was sold with one.
pub fn promised_at(conn: &mut DbConn, order_id: &str) -> Result<Option<NaiveDateTime>, ApiError> {
    Ok(order_promises::table.find(order_id).select(order_promises::promised_at).first(conn).optional()?)
}

/// Not ready by the time it was promised: still waiting to be picked or being picked.
pub fn late(status: Status, promised_at: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    matches!(status, Status::Confirmed | Status::Picking) && promised_at.is_some_and(|at| at < now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn hours(spans: &[(&str, &str, &str)]) -> OpeningHours {
        let mut map: BTreeMap<String, Vec<[String; 2]>> = BTreeMap::new();
        for (day, open, close) in spans {
            map.entry(day.to_string()).or_default().push([open.to_string(), close.to_string()]);
        }
        OpeningHours(map)
    }

    #[test]
    fn without_hours_the_work_starts_now() {
        let now = at("2026-11-30T10:00:00Z");
        assert_eq!(after_work(now, TimeDelta::minutes(15), chrono_tz::UTC, None), Some(at("2026-11-30T10:15:00Z")));
    }

    #[test]
    fn work_waits_for_the_store_to_open_and_carries_over_closing_time() {
        // Monday 30 November 2026, Warsaw (UTC+1): open 09:00-21:00 on weekdays.
        let week = hours(&[
            ("mon", "09:00", "21:00"),
            ("tue", "09:00", "21:00"),
            ("wed", "09:00", "21:00"),
            ("thu", "09:00", "21:00"),
            ("fri", "09:00", "21:00"),
        ]);
        let zone = chrono_tz::Europe::Warsaw;
        // 07:00 local, before opening: ready half an hour after 09:00.
        let early = after_work(at("2026-11-30T06:00:00Z"), TimeDelta::minutes(30), zone, Some(&week));
        assert_eq!(early, Some(at("2026-11-30T08:30:00Z")));
        // 20:40 local with an hour of work: 20 minutes today, 40 tomorrow from 09:00.
        let late = after_work(at("2026-11-30T19:40:00Z"), TimeDelta::minutes(60), zone, Some(&week));
        assert_eq!(late, Some(at("2026-12-01T08:40:00Z")));
        // Friday evening: the weekend is closed, Monday it is.
        let friday = after_work(at("2026-12-04T20:30:00Z"), TimeDelta::minutes(30), zone, Some(&week));
        assert_eq!(friday, Some(at("2026-12-07T08:30:00Z")));
    }

    #[test]
    fn a_store_never_open_makes_no_promise() {
        let closed = hours(&[]);
        assert_eq!(after_work(at("2026-11-30T10:00:00Z"), TimeDelta::minutes(5), chrono_tz::UTC, Some(&closed)), None);
    }

    #[test]
    fn only_orders_still_to_be_picked_are_late() {
        let now = at("2026-11-30T10:00:00Z").naive_utc();
        let before = Some(now - TimeDelta::minutes(1));
        assert!(late(Status::Confirmed, before, now));
        assert!(late(Status::Picking, before, now));
        assert!(!late(Status::ReadyForPickup, before, now));
        assert!(!late(Status::Confirmed, Some(now + TimeDelta::minutes(1)), now));
        assert!(!late(Status::Confirmed, None, now));
    }
}
