//! Stock below what is reserved. A till sale, a recount or a snapshot may bring `on_hand`
//! below `reserved`: the count is the physical truth, so it is accepted, and this module
//! decides which open commitments at that level (held holds and open orders) can no longer
//! all be served. They are served oldest first, so the newest lose first; each line keeps how
//! many of its units are `short` and since when, and an order or hold with a short line is at
//! risk (orders also get an entry on their timeline). When stock comes back (a receipt, a
//! cancelled order), the flags clear the same way.
//!
//! It never changes `on_hand` or `reserved`: it only reads the level and the commitments and
//! writes the flags. Callers run it in the transaction that changed the level, after the
//! change, for levels that are or were short.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::db::schema::{order_events, order_lines, orders, reservation_lines, reservations, stock_levels};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::orders::status::Status;

/// Why an order or hold may not be served in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AtRisk {
    /// In a sentence: which units are no longer on hand, and what staff can do.
    pub reason: String,
    /// When stock first stopped covering it.
    pub since: DateTime<Utc>,
    /// The lines stock no longer covers, and by how many units.
    pub lines: Vec<ShortLine>,
}

/// A line that stock covers only in part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ShortLine {
    pub sku: String,
    /// Units of the line that are not on hand.
    pub short: i64,
}

/// How far `reserved` exceeds `on_hand`: the units promised that are not there.
pub fn shortfall(on_hand: i64, reserved: i64) -> i64 {
    (reserved - on_hand).max(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Hold,
    Order,
}

/// One open commitment's line at the level being reassessed.
#[derive(Debug, Clone)]
struct Commitment {
    holder: Holder,
    id: String,
    /// Lapsed holds the sweeper has not released yet lose before anything live.
    lapsed: bool,
    created_at: NaiveDateTime,
    quantity: i64,
    short: i64,
}

/// Serves commitments oldest first from `on_hand` and returns each one's new `short`, in the
/// order given. Lapsed holds come last whatever their age.
fn allocate(on_hand: i64, commitments: &[Commitment]) -> Vec<i64> {
    let mut order: Vec<usize> = (0..commitments.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&commitments[a], &commitments[b]);
        (a.lapsed, a.created_at, &a.id).cmp(&(b.lapsed, b.created_at, &b.id))
    });
    let mut shorts = vec![0; commitments.len()];
    let mut remaining = on_hand.max(0);
    for i in order {
        let covered = commitments[i].quantity.min(remaining);
        remaining -= covered;
        shorts[i] = commitments[i].quantity - covered;
    }
    shorts
}

/// Re-decides which commitments at (location, sku) stock covers, and flags or unflags them.
/// `cause` names what changed the level (`count`, `sale`, `cancelled`…) for the timeline.
pub fn reassess(
    conn: &mut DbConn,
    location: &str,
    sku: &str,
    cause: &str,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let Some(on_hand) =
        stock_levels::table.find((location, sku)).select(stock_levels::on_hand).first::<i64>(conn).optional()?
    else {
        return Ok(());
    };
    let holds: Vec<(String, NaiveDateTime, NaiveDateTime, i64, i64)> = reservation_lines::table
        .inner_join(reservations::table)
        .filter(reservations::location.eq(location))
        .filter(reservations::status.eq("held"))
        .filter(reservation_lines::sku.eq(sku))
        .select((
            reservations::id,
            reservations::created_at,
            reservations::expires_at,
            reservation_lines::quantity,
            reservation_lines::short,
        ))
        .load(conn)?;
    // Lines short-picked down to nothing are included, so a stale short on them is cleared.
    let open: Vec<(String, NaiveDateTime, i64, i64)> = order_lines::table
        .inner_join(orders::table)
        .filter(orders::location.eq(location))
        .filter(orders::status.eq_any(Status::OPEN.map(|s| s.as_str())))
        .filter(order_lines::sku.eq(sku))
        .select((orders::id, orders::created_at, order_lines::quantity, order_lines::short))
        .load(conn)?;
    let commitments: Vec<Commitment> = holds
        .into_iter()
        .map(|(id, created_at, expires_at, quantity, short)| Commitment {
            holder: Holder::Hold,
            id,
            lapsed: expires_at <= now,
            created_at,
            quantity,
            short,
        })
        .chain(open.into_iter().map(|(id, created_at, quantity, short)| Commitment {
            holder: Holder::Order,
            id,
            lapsed: false,
            created_at,
            quantity,
            short,
        }))
        .collect();
    let shorts = allocate(on_hand, &commitments);
    for (commitment, short) in commitments.iter().zip(shorts) {
        if commitment.short == short {
            continue;
        }
        // The line has been short since it first became so; it stops being short at zero.
        let since = (short > 0).then_some(now);
        match commitment.holder {
            Holder::Hold => {
                let line = reservation_lines::table.find((&commitment.id, sku));
                if commitment.short == 0 || short == 0 {
                    diesel::update(line)
                        .set((reservation_lines::short.eq(short), reservation_lines::short_since.eq(since)))
                        .execute(conn)?;
                } else {
                    diesel::update(line).set(reservation_lines::short.eq(short)).execute(conn)?;
                }
            }
            Holder::Order => {
                let line = order_lines::table.find((&commitment.id, sku));
                if commitment.short == 0 || short == 0 {
                    diesel::update(line)
                        .set((order_lines::short.eq(short), order_lines::short_since.eq(since)))
                        .execute(conn)?;
                } else {
                    diesel::update(line).set(order_lines::short.eq(short)).execute(conn)?;
                }
                record_on_timeline(conn, &commitment.id, location, cause, actor, now)?;
            }
        }
    }
    Ok(())
}

/// Reassesses a level when it is short now or was short before a change: only those can have
/// commitments to flag or unflag. `was_short`: `reserved` exceeded `on_hand` before the change.
pub fn reassess_if_short(
    conn: &mut DbConn,
    location: &str,
    sku: &str,
    was_short: bool,
    cause: &str,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let level: Option<(i64, i64)> = stock_levels::table
        .find((location, sku))
        .select((stock_levels::on_hand, stock_levels::reserved))
        .first(conn)
        .optional()?;
    match level {
        Some((on_hand, reserved)) if was_short || reserved > on_hand => {
            reassess(conn, location, sku, cause, actor, now)
        }
        _ => Ok(()),
    }
}

/// The sentence staff and customers' support read.
pub fn reason(location: &str, lines: &[ShortLine]) -> String {
    let units: Vec<String> = lines.iter().map(|l| format!("{} × {}", l.short, l.sku)).collect();
    format!(
        "{} no longer on hand at {location}: short-pick what is missing, or recount if it is there",
        units.join(", ")
    )
}

/// An order's short lines and the earliest time one became short.
fn order_shorts(conn: &mut DbConn, id: &str) -> Result<(Vec<ShortLine>, Option<NaiveDateTime>), ApiError> {
    let rows: Vec<(String, i64, Option<NaiveDateTime>)> = order_lines::table
        .filter(order_lines::order_id.eq(id))
        .filter(order_lines::short.gt(0))
        .order(order_lines::sku.asc())
        .select((order_lines::sku, order_lines::short, order_lines::short_since))
        .load(conn)?;
    Ok(shorts_of(rows))
}

fn shorts_of(rows: Vec<(String, i64, Option<NaiveDateTime>)>) -> (Vec<ShortLine>, Option<NaiveDateTime>) {
    let since = rows.iter().filter_map(|(_, _, since)| *since).min();
    (rows.into_iter().map(|(sku, short, _)| ShortLine { sku, short }).collect(), since)
}

/// Writes what the order now shows on its timeline: `at_risk` with the short lines, or
/// `at_risk_cleared` once none is short.
fn record_on_timeline(
    conn: &mut DbConn,
    id: &str,
    location: &str,
    cause: &str,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let (lines, _) = order_shorts(conn, id)?;
    let (kind, detail) = if lines.is_empty() {
        ("at_risk_cleared", json!({"cause": cause}))
    } else {
        ("at_risk", json!({"cause": cause, "reason": reason(location, &lines), "lines": lines}))
    };
    diesel::insert_into(order_events::table)
        .values((
            order_events::order_id.eq(id),
            order_events::at.eq(now),
            order_events::actor.eq(actor),
            order_events::kind.eq(kind),
            order_events::detail.eq(Some(detail.to_string())),
        ))
        .execute(conn)?;
    Ok(())
}

/// An order's at-risk state for its views.
pub fn of_order(conn: &mut DbConn, id: &str, location: &str) -> Result<Option<AtRisk>, ApiError> {
    let (lines, since) = order_shorts(conn, id)?;
    Ok(at_risk(location, lines, since))
}

/// The at-risk state of several orders of one location, in one query: for lists.
pub fn of_orders(
    conn: &mut DbConn,
    ids: &[&str],
    location: &str,
) -> Result<std::collections::HashMap<String, AtRisk>, ApiError> {
    let rows: Vec<(String, String, i64, Option<NaiveDateTime>)> = order_lines::table
        .filter(order_lines::order_id.eq_any(ids))
        .filter(order_lines::short.gt(0))
        .order((order_lines::order_id.asc(), order_lines::sku.asc()))
        .select((order_lines::order_id, order_lines::sku, order_lines::short, order_lines::short_since))
        .load(conn)?;
    let mut by_order: std::collections::HashMap<String, Vec<(String, i64, Option<NaiveDateTime>)>> =
        std::collections::HashMap::new();
    for (id, sku, short, since) in rows {
        by_order.entry(id).or_default().push((sku, short, since));
    }
    Ok(by_order
        .into_iter()
        .filter_map(|(id, rows)| {
            let (lines, since) = shorts_of(rows);
            at_risk(location, lines, since).map(|risk| (id, risk))
        })
        .collect())
}

/// A hold's at-risk state for its view.
pub fn of_hold(conn: &mut DbConn, id: &str, location: &str) -> Result<Option<AtRisk>, ApiError> {
    let rows: Vec<(String, i64, Option<NaiveDateTime>)> = reservation_lines::table
        .filter(reservation_lines::reservation_id.eq(id))
        .filter(reservation_lines::short.gt(0))
        .order(reservation_lines::sku.asc())
        .select((reservation_lines::sku, reservation_lines::short, reservation_lines::short_since))
        .load(conn)?;
    let (lines, since) = shorts_of(rows);
    Ok(at_risk(location, lines, since))
}

fn at_risk(location: &str, lines: Vec<ShortLine>, since: Option<NaiveDateTime>) -> Option<AtRisk> {
    if lines.is_empty() {
        return None;
    }
    let since = since.unwrap_or_default().and_utc();
    Some(AtRisk { reason: reason(location, &lines), since, lines })
}

/// A commitment that closes (collected, shipped, cancelled, expired, released, converted)
/// stops being at risk: its lines' shorts are cleared.
pub fn clear_order(conn: &mut DbConn, id: &str) -> Result<(), ApiError> {
    diesel::update(order_lines::table.filter(order_lines::order_id.eq(id)).filter(order_lines::short.gt(0)))
        .set((order_lines::short.eq(0), order_lines::short_since.eq(None::<NaiveDateTime>)))
        .execute(conn)?;
    Ok(())
}

pub fn clear_hold(conn: &mut DbConn, id: &str) -> Result<(), ApiError> {
    diesel::update(
        reservation_lines::table
            .filter(reservation_lines::reservation_id.eq(id))
            .filter(reservation_lines::short.gt(0)),
    )
    .set((reservation_lines::short.eq(0), reservation_lines::short_since.eq(None::<NaiveDateTime>)))
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commitment(id: &str, minutes: i64, quantity: i64, lapsed: bool) -> Commitment {
        Commitment {
            holder: Holder::Order,
            id: id.into(),
            lapsed,
            created_at: chrono::DateTime::from_timestamp(1_700_000_000 + minutes * 60, 0).unwrap().naive_utc(),
            quantity,
            short: 0,
        }
    }

    #[test]
    fn the_newest_commitments_lose_first() {
        let c = [commitment("new", 30, 2, false), commitment("old", 10, 3, false), commitment("mid", 20, 2, false)];
        assert_eq!(allocate(4, &c), vec![2, 0, 1], "old is served, mid in part, new not at all");
        assert_eq!(allocate(7, &c), vec![0, 0, 0]);
        assert_eq!(allocate(0, &c), vec![2, 3, 2]);
    }

    #[test]
    fn lapsed_holds_lose_before_live_commitments() {
        let c = [commitment("lapsed", 1, 2, true), commitment("live", 50, 2, false)];
        assert_eq!(allocate(2, &c), vec![2, 0]);
    }

    #[test]
    fn shorts_add_up_to_the_shortfall() {
        let c = [commitment("a", 1, 5, false), commitment("b", 2, 4, false), commitment("c", 3, 1, false)];
        for on_hand in 0..=12 {
            let total: i64 = allocate(on_hand, &c).iter().sum();
            assert_eq!(total, shortfall(on_hand, 10), "on_hand {on_hand}");
        }
    }
}
