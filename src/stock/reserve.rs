//! The `reserved` counter: what holds and orders do to stock. Reserving is one conditional
//! `UPDATE` per line (`... WHERE on_hand - reserved - safety_stock >= quantity`), so the check
//! and the change are one atomic step under the row lock and two shoppers can never both get
//! the last unit. Lines are always taken in SKU order, so transactions that share levels never
//! deadlock. Every change writes its ledger movement.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{available, NewMovement};
use super::{ledger, risk};
use crate::catalog::geo::{coordinates, Coordinates};
use crate::catalog::model::LocationKind;
use crate::db::schema::{locations, stock_levels};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::stock::problems::{Alternative, Shortfall};

/// How many alternative locations a shortfall suggests.
const ALTERNATIVES: usize = 3;

/// One (sku, quantity) at the location being acted on. `short` is how many of its units a
/// recount left uncovered (see `stock::risk`); zero for new lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub quantity: i64,
    pub short: i64,
}

impl Line {
    pub fn new(sku: impl Into<String>, quantity: i64) -> Line {
        Line { sku: sku.into(), quantity, short: 0 }
    }
}

/// Who and why, for the ledger.
pub struct Entry<'a> {
    pub reason: &'a str,
    pub reference: &'a str,
    pub actor: &'a str,
    pub at: NaiveDateTime,
}

impl Entry<'_> {
    /// The entry as the cause of a reassessment.
    pub fn cause(&self) -> risk::Cause<'_> {
        risk::Cause { reason: self.reason, actor: self.actor, at: self.at }
    }
}

fn sorted(lines: &[Line]) -> Vec<&Line> {
    let mut lines: Vec<&Line> = lines.iter().collect();
    lines.sort_by(|a, b| a.sku.cmp(&b.sku));
    lines
}

fn movements(
    location: &str,
    lines: &[&Line],
    on_hand_sign: i64,
    reserved_sign: i64,
    entry: &Entry,
) -> Vec<NewMovement> {
    lines
        .iter()
        .map(|line| NewMovement {
            location: location.to_string(),
            sku: line.sku.clone(),
            delta_on_hand: on_hand_sign * line.quantity,
            delta_reserved: reserved_sign * line.quantity,
            reason: entry.reason.to_string(),
            reference: Some(entry.reference.to_string()),
            actor: entry.actor.to_string(),
            at: entry.at,
        })
        .collect()
}

/// Reserves every line at `location`, or none: when any line lacks stock the answer is
/// `InsufficientStock` with every short line and where else it could be had, and the caller's
/// transaction rolls back what was reserved.
pub fn reserve_all(conn: &mut DbConn, location: &str, lines: &[Line], entry: &Entry) -> Result<(), ApiError> {
    let lines = sorted(lines);
    let mut short = Vec::new();
    for line in &lines {
        let reserved = diesel::update(stock_levels::table.find((location, &line.sku)))
            .filter((stock_levels::on_hand - stock_levels::reserved - stock_levels::safety_stock).ge(line.quantity))
            .set((
                stock_levels::reserved.eq(stock_levels::reserved + line.quantity),
                stock_levels::updated_at.eq(entry.at),
            ))
            .execute(conn)?;
        if reserved == 0 {
            short.push(*line);
        }
    }
    if short.is_empty() {
        return ledger::record(conn, &movements(location, &lines, 0, 1, entry));
    }
    Err(ApiError::InsufficientStock(shortfalls(conn, location, &short)?))
}

/// What each short line lacks at `location` and where else it could be had, nearest first.
/// Read-only: a rolled-back reservation, or one refused from memory, explains itself with it.
pub fn shortfalls(conn: &mut DbConn, location: &str, short: &[&Line]) -> Result<Vec<Shortfall>, ApiError> {
    let origin = locations::table
        .find(location)
        .select((locations::latitude, locations::longitude))
        .first::<(Option<f64>, Option<f64>)>(conn)
        .optional()?
        .and_then(|(lat, lng)| coordinates(lat, lng));
    let mut shortfalls = Vec::with_capacity(short.len());
    for line in short {
        let level = stock_levels::table
            .find((location, &line.sku))
            .select((stock_levels::on_hand, stock_levels::reserved, stock_levels::safety_stock))
            .first::<(i64, i64, i64)>(conn)
            .optional()?;
        shortfalls.push(Shortfall {
            sku: line.sku.clone(),
            requested: line.quantity,
            available: level.map(|(o, r, s)| available(o, r, s)).unwrap_or(0),
            alternatives: alternatives(conn, location, origin, &line.sku, line.quantity)?,
        });
    }
    Ok(shortfalls)
}

/// Reserves, for callers waiting in turn on one level, each one's `wanted` units while they
/// fit: first the whole queue in one conditional `UPDATE` (the common case while stock
/// lasts); when that does not fit, the level is locked and read, and the units are given in
/// arrival order, each caller whose quantity no longer fits being passed over. No ledger
/// movement is written here: the caller writes one per commitment. Returns who got their
/// units and what was left available after, when it was read.
pub fn reserve_in_turn(
    conn: &mut DbConn,
    location: &str,
    sku: &str,
    wanted: &[i64],
    at: NaiveDateTime,
) -> Result<(Vec<bool>, Option<i64>), ApiError> {
    let total: i64 = wanted.iter().sum();
    let add = |conn: &mut DbConn, units: i64, guard: i64| {
        diesel::update(stock_levels::table.find((location, sku)))
            .filter((stock_levels::on_hand - stock_levels::reserved - stock_levels::safety_stock).ge(guard))
            .set((stock_levels::reserved.eq(stock_levels::reserved + units), stock_levels::updated_at.eq(at)))
            .execute(conn)
    };
    if total > 0 && add(conn, total, total)? == 1 {
        return Ok((vec![true; wanted.len()], None));
    }
    let level: Option<(i64, i64, i64)> = crate::db::locking!(
        conn,
        stock_levels::table.find((location, sku)).select((
            stock_levels::on_hand,
            stock_levels::reserved,
            stock_levels::safety_stock
        )),
        first
    )
    .optional()?;
    let mut left = level.map(|(o, r, s)| available(o, r, s)).unwrap_or(0);
    let granted: Vec<bool> = wanted
        .iter()
        .map(|&units| {
            let fits = units <= left;
            if fits {
                left -= units;
            }
            fits
        })
        .collect();
    let given: i64 = wanted.iter().zip(&granted).filter(|(_, &g)| g).map(|(u, _)| u).sum();
    // Under the row lock just taken, the guard holds by construction; it stays as a belt.
    if given > 0 && add(conn, given, given)? != 1 {
        return Err(ApiError::Internal(format!("level {location}/{sku} changed under its lock")));
    }
    Ok((granted, Some(left)))
}

/// A store's code, coordinates and counters, for ranking alternatives.
type CandidateRow = (String, Option<f64>, Option<f64>, i64, i64, i64);

/// Other active pickup stores with at least `quantity` of `sku` available, nearest first.
fn alternatives(
    conn: &mut DbConn,
    except: &str,
    origin: Option<Coordinates>,
    sku: &str,
    quantity: i64,
) -> Result<Vec<Alternative>, ApiError> {
    let rows: Vec<CandidateRow> = stock_levels::table
        .inner_join(locations::table)
        .filter(stock_levels::sku.eq(sku))
        .filter(stock_levels::location.ne(except))
        .filter(locations::active.eq(true))
        .filter(locations::kind.eq(LocationKind::Store.as_str()))
        .filter(locations::pickup_in_store.eq(true).or(locations::pickup_curbside.eq(true)))
        .filter((stock_levels::on_hand - stock_levels::reserved - stock_levels::safety_stock).ge(quantity))
        .select((
            locations::code,
            locations::latitude,
            locations::longitude,
            stock_levels::on_hand,
            stock_levels::reserved,
            stock_levels::safety_stock,
        ))
        .load(conn)?;
    let mut found: Vec<Alternative> = rows
        .into_iter()
        .map(|(code, lat, lng, on_hand, reserved, safety)| Alternative {
            location: code,
            available: available(on_hand, reserved, safety),
            distance_km: origin.zip(coordinates(lat, lng)).map(|(o, at)| o.distance_km(&at)),
        })
        .collect();
    found.sort_by(|a, b| {
        let (da, db) = (a.distance_km.unwrap_or(f64::INFINITY), b.distance_km.unwrap_or(f64::INFINITY));
        da.total_cmp(&db).then_with(|| a.location.cmp(&b.location))
    });
    found.truncate(ALTERNATIVES);
    Ok(found)
}

/// Gives reserved units back to the shelf: a hold released or expired, an order cancelled.
/// The commitment must already be closed (its status changed) so that, where the level is
/// short, what remains open is reassessed without it.
pub fn unreserve(conn: &mut DbConn, location: &str, lines: &[Line], entry: &Entry) -> Result<(), ApiError> {
    let lines = sorted(lines);
    for line in &lines {
        diesel::update(stock_levels::table.find((location, &line.sku)))
            .set((
                stock_levels::reserved.eq(stock_levels::reserved - line.quantity),
                stock_levels::updated_at.eq(entry.at),
            ))
            .execute(conn)?;
    }
    ledger::record(conn, &movements(location, &lines, 0, -1, entry))?;
    for line in &lines {
        risk::reassess_if_short(conn, location, &line.sku, entry.cause())?;
    }
    Ok(())
}

/// Reserved units leave the building: collected at the counter or shipped. `on_hand` and
/// `reserved` drop together.
///
/// A handover is physical proof that the units were there. Where a recount had put fewer on
/// the books than the order holds (the order was at risk, `short` units uncovered), the count
/// is corrected first with a `correction` movement of those units, so `on_hand` never goes
/// below zero and the ledger says why it rose. The commitment must already be closed.
/// Returns the corrections made: (sku, units).
pub fn consume(
    conn: &mut DbConn,
    location: &str,
    lines: &[Line],
    entry: &Entry,
) -> Result<Vec<(String, i64)>, ApiError> {
    let lines = sorted(lines);
    let mut corrections = Vec::new();
    for line in &lines {
        let on_hand = level_of(conn, location, &line.sku)?.map(|(o, _)| o).unwrap_or(0);
        let missing = (line.quantity - on_hand).max(line.short).max(0);
        if missing > 0 {
            diesel::update(stock_levels::table.find((location, &line.sku)))
                .set(stock_levels::on_hand.eq(stock_levels::on_hand + missing))
                .execute(conn)?;
            corrections.push(NewMovement {
                location: location.to_string(),
                sku: line.sku.clone(),
                delta_on_hand: missing,
                delta_reserved: 0,
                reason: "correction".to_string(),
                reference: Some(entry.reference.to_string()),
                actor: entry.actor.to_string(),
                at: entry.at,
            });
        }
        diesel::update(stock_levels::table.find((location, &line.sku)))
            .set((
                stock_levels::on_hand.eq(stock_levels::on_hand - line.quantity),
                stock_levels::reserved.eq(stock_levels::reserved - line.quantity),
                stock_levels::updated_at.eq(entry.at),
            ))
            .execute(conn)?;
    }
    ledger::record(conn, &corrections)?;
    ledger::record(conn, &movements(location, &lines, -1, -1, entry))?;
    for line in &lines {
        risk::reassess_if_short(conn, location, &line.sku, entry.cause())?;
    }
    Ok(corrections.into_iter().map(|m| (m.sku, m.delta_on_hand)).collect())
}

/// Units of an order's line found missing while picking. The units a recount already took
/// off the books (`already_short`) only give up their reservation; the rest were believed on
/// the shelf and leave `on_hand` too. One ledger movement says both.
pub fn short_pick(
    conn: &mut DbConn,
    location: &str,
    sku: &str,
    missing: i64,
    already_short: i64,
    entry: &Entry,
) -> Result<(), ApiError> {
    let on_hand = level_of(conn, location, sku)?.map(|(o, _)| o).unwrap_or(0);
    let known = already_short.clamp(0, missing);
    // Never below zero, even if the books were stale.
    let newly_missing = (missing - known).min(on_hand);
    diesel::update(stock_levels::table.find((location, sku)))
        .set((
            stock_levels::on_hand.eq(stock_levels::on_hand - newly_missing),
            stock_levels::reserved.eq(stock_levels::reserved - missing),
            stock_levels::updated_at.eq(entry.at),
        ))
        .execute(conn)?;
    ledger::record(
        conn,
        &[NewMovement {
            location: location.to_string(),
            sku: sku.to_string(),
            delta_on_hand: -newly_missing,
            delta_reserved: -missing,
            reason: entry.reason.to_string(),
            reference: Some(entry.reference.to_string()),
            actor: entry.actor.to_string(),
            at: entry.at,
        }],
    )?;
    risk::reassess_if_short(conn, location, sku, entry.cause())
}

/// A transfer's units reach a store: per (sku, arrived, reserved), `arrived` units go on the
/// shelf and the order's whole reservation (`reserved`) comes with them, so units that did
/// not arrive leave the level short and the reassessment flags who is not covered. One
/// ledger movement per line says both.
pub fn take_in(conn: &mut DbConn, location: &str, lines: &[(String, i64, i64)], entry: &Entry) -> Result<(), ApiError> {
    let mut lines: Vec<&(String, i64, i64)> = lines.iter().collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let mut moved = Vec::with_capacity(lines.len());
    for (sku, arrived, reserved) in &lines {
        diesel::update(stock_levels::table.find((location, sku)))
            .set((
                stock_levels::on_hand.eq(stock_levels::on_hand + arrived),
                stock_levels::reserved.eq(stock_levels::reserved + reserved),
                stock_levels::updated_at.eq(entry.at),
            ))
            .execute(conn)?;
        moved.push(NewMovement {
            location: location.to_string(),
            sku: sku.clone(),
            delta_on_hand: *arrived,
            delta_reserved: *reserved,
            reason: entry.reason.to_string(),
            reference: Some(entry.reference.to_string()),
            actor: entry.actor.to_string(),
            at: entry.at,
        });
    }
    ledger::record(conn, &moved)?;
    for (sku, _, _) in &lines {
        risk::reassess_if_short(conn, location, sku, entry.cause())?;
    }
    Ok(())
}

/// A level's `on_hand` and `reserved`.
fn level_of(conn: &mut DbConn, location: &str, sku: &str) -> Result<Option<(i64, i64)>, ApiError> {
    Ok(stock_levels::table
        .find((location, sku))
        .select((stock_levels::on_hand, stock_levels::reserved))
        .first(conn)
        .optional()?)
}
