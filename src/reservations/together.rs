//! Placing the holds queued on one level in one transaction: the way past the hot row.
//!
//! A flash sale is many shoppers holding one SKU at one store: every hold updates the same
//! stock row, and one transaction per hold makes them take turns on its lock and on a commit
//! each. Here the holds waiting for that level share one transaction: one conditional
//! `UPDATE` for their total (`stock::reserve::reserve_in_turn`, which gives units in arrival
//! order when only some fit), one multi-row insert each for the ledger, the holds and their
//! lines, one commit. Each caller still gets its own answer, and the database stays the
//! arbiter: nothing here depends on being the only writer.

use chrono::{NaiveDateTime, TimeDelta, Timelike, Utc};
use diesel::prelude::*;

use super::model::{HoldLine, HoldStatus, Reservation};
use crate::auth::{Principal, Role};
use crate::db::schema::{reservation_lines, reservations};
use crate::db::{insert_rows, DbConn};
use crate::error::ApiError;
use crate::http::idempotency::stored::{store_answer, Answer, Claimed};
use crate::limits::{self, CustomerLimits};
use crate::stock::ledger;
use crate::stock::model::NewMovement;
use crate::stock::problems::Shortfall;
use crate::stock::reserve::{self, Line};

/// One caller waiting to hold `quantity` units of the queue's level.
pub struct Asking {
    pub who: Principal,
    pub quantity: i64,
    pub ttl: TimeDelta,
    /// The caller's claimed `Idempotency-Key`: a placed hold's answer is stored under it in
    /// the same transaction.
    pub key: Option<Claimed>,
}

/// What became of one caller.
#[derive(Debug)]
pub enum Outcome {
    /// Held: the answer (201 with the hold), already stored under the caller's key.
    Held(Answer),
    /// Too few units were left for this caller's quantity.
    Short,
    /// Refused before any stock was looked at (a limit, an unknown SKU or location).
    Refused(ApiError),
}

/// The batch's outcomes, one per caller in the order asked, and the units left available
/// when the level was read under its lock (`None` when every caller fit without reading).
#[derive(Debug)]
pub struct Placed {
    pub outcomes: Vec<Outcome>,
    pub left: Option<i64>,
    /// With `left`: the log's last `seq` as read under the lock (`changes::last_seq`).
    pub seen_seq: i64,
}

impl Placed {
    /// The quantities asked by the callers who were short.
    pub fn short_quantities(&self, asking: &[Asking]) -> Vec<i64> {
        self.outcomes
            .iter()
            .zip(asking)
            .filter(|(outcome, _)| matches!(outcome, Outcome::Short))
            .map(|(_, asked)| asked.quantity)
            .collect()
    }
}

/// Timestamps to the microsecond, as PostgreSQL keeps them: the answer shows what is stored.
fn stored_precision(at: NaiveDateTime) -> NaiveDateTime {
    at.with_nanosecond(at.nanosecond() / 1_000 * 1_000).unwrap_or(at)
}

/// Places the holds of `asking` on (`location`, `sku`) in the caller's transaction. An `Err`
/// is a failure of the whole batch (the transaction must roll back); a caller's own refusal
/// is its `Outcome`. The caller of this batch asks at most once per customer while limits
/// apply, so each customer's limits are counted before their new hold exists.
pub fn place(
    conn: &mut DbConn,
    location: &str,
    sku: &str,
    asking: &[Asking],
    limits: &CustomerLimits,
) -> Result<Placed, ApiError> {
    let now = stored_precision(Utc::now().naive_utc());
    let mut outcomes: Vec<Option<Outcome>> = asking.iter().map(|_| None).collect();
    if let Some(refused) = refusal_for_all(conn, location, sku)? {
        // Each caller gets its own error value; reading them again is rare and cheap.
        outcomes[0] = Some(Outcome::Refused(refused));
        for outcome in outcomes.iter_mut().skip(1) {
            *outcome = Some(Outcome::Refused(refusal_for_all(conn, location, sku)?.unwrap_or_else(|| {
                ApiError::Conflict(format!("location {location} changed while holds were placed"))
            })));
        }
        return Ok(Placed { outcomes: outcomes.into_iter().flatten().collect(), left: None, seen_seq: 0 });
    }
    // Limits before any stock row is locked, customers in one order (their advisory locks).
    let mut by_customer: Vec<usize> = (0..asking.len()).filter(|&i| asking[i].who.role == Role::Customer).collect();
    by_customer.sort_by(|&a, &b| asking[a].who.sub.cmp(&asking[b].who.sub));
    for i in by_customer {
        let lines = [(sku.to_string(), asking[i].quantity)];
        let request = limits::Request {
            customer: &asking[i].who.sub,
            new_hold: true,
            new_order: false,
            lines: &lines,
            converting_hold: None,
        };
        match limits::check(conn, limits, &request, now) {
            Ok(()) => {}
            Err(refused @ ApiError::LimitExceeded { .. }) => outcomes[i] = Some(Outcome::Refused(refused)),
            Err(failure) => return Err(failure),
        }
    }
    // The batch books no slot: the places lapsed holds had go back at once, after the stock
    // their ending already locked.
    let freed = super::release_lapsed(conn, location, &[sku], now)?;
    super::release_slots(conn, &freed)?;

    let going: Vec<usize> = (0..asking.len()).filter(|&i| outcomes[i].is_none()).collect();
    let wanted: Vec<i64> = going.iter().map(|&i| asking[i].quantity).collect();
    let (granted, left) = reserve::reserve_in_turn(conn, location, sku, &wanted, now)?;
    let seen_seq = if left.is_some() { crate::changes::last_seq(conn)? } else { 0 };
    let (mut movements, mut holds, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    for (&i, granted) in going.iter().zip(granted) {
        if !granted {
            outcomes[i] = Some(Outcome::Short);
            continue;
        }
        let asked = &asking[i];
        let id = uuid::Uuid::now_v7().to_string();
        let actor = asked.who.actor();
        let expires_at = stored_precision(now + asked.ttl);
        movements.push(NewMovement {
            location: location.to_string(),
            sku: sku.to_string(),
            delta_on_hand: 0,
            delta_reserved: asked.quantity,
            reason: "hold".into(),
            reference: Some(id.clone()),
            actor: actor.clone(),
            at: now,
        });
        holds.push((
            reservations::id.eq(id.clone()),
            reservations::location.eq(location.to_string()),
            reservations::owner.eq(actor),
            reservations::status.eq(HoldStatus::Held.as_str()),
            reservations::expires_at.eq(expires_at),
            reservations::created_at.eq(now),
            reservations::updated_at.eq(now),
        ));
        lines.push((
            reservation_lines::reservation_id.eq(id.clone()),
            reservation_lines::sku.eq(sku.to_string()),
            reservation_lines::quantity.eq(asked.quantity),
        ));
        let hold = Reservation {
            id,
            status: HoldStatus::Held,
            location: location.to_string(),
            lines: vec![HoldLine { sku: sku.to_string(), quantity: asked.quantity }],
            expires_at: expires_at.and_utc(),
            created_at: now.and_utc(),
            extended_at: None,
            slot: None,
            at_risk: None,
        };
        let answer = Answer::created(&hold)?;
        if let Some(key) = &asked.key {
            store_answer(conn, key, &answer)?;
        }
        outcomes[i] = Some(Outcome::Held(answer));
    }
    if !holds.is_empty() {
        insert_rows!(conn, reservations::table, &holds)?;
        insert_rows!(conn, reservation_lines::table, &lines)?;
        ledger::record(conn, &movements)?;
    }
    Ok(Placed { outcomes: outcomes.into_iter().flatten().collect(), left, seen_seq })
}

/// Why no hold of this level can be placed at all, if one is: the location is unknown or
/// inactive (as `hold` answers), or the SKU is not in the catalog.
fn refusal_for_all(conn: &mut DbConn, location: &str, sku: &str) -> Result<Option<ApiError>, ApiError> {
    let found = match crate::catalog::find_location(conn, location) {
        Ok(found) => found,
        Err(missing @ ApiError::NotFound(_)) => return Ok(Some(missing)),
        Err(failure) => return Err(failure),
    };
    if !found.active {
        return Ok(Some(ApiError::Conflict(format!("location {location} is not active"))));
    }
    match super::known_skus(conn, &[Line::new(sku, 1)]) {
        Ok(()) => Ok(None),
        Err(unknown @ ApiError::Unknown(_)) => Ok(Some(unknown)),
        Err(failure) => Err(failure),
    }
}

/// What the level had and where else it could be had, for each quantity refused (each
/// once). Read after the commit, outside the level's lock.
pub fn explain(
    conn: &mut DbConn,
    location: &str,
    sku: &str,
    mut quantities: Vec<i64>,
) -> Result<Vec<(i64, Shortfall)>, ApiError> {
    quantities.sort_unstable();
    quantities.dedup();
    let mut explained = Vec::with_capacity(quantities.len());
    for quantity in quantities {
        let line = Line::new(sku, quantity);
        if let Some(shortfall) = reserve::shortfalls(conn, location, &[&line])?.pop() {
            explained.push((quantity, shortfall));
        }
    }
    Ok(explained)
}

/// When the first open hold on the level lapses: a "sold out" remembered past it could hide
/// units coming back without a commit.
pub fn first_lapse(conn: &mut DbConn, location: &str, sku: &str) -> Result<Option<NaiveDateTime>, ApiError> {
    Ok(reservations::table
        .inner_join(reservation_lines::table)
        .filter(reservations::location.eq(location))
        .filter(reservation_lines::sku.eq(sku))
        .filter(reservations::status.eq(HoldStatus::Held.as_str()))
        .select(diesel::dsl::min(reservations::expires_at))
        .first::<Option<NaiveDateTime>>(conn)?)
}
