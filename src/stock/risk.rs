//! Stock below what is reserved. A till sale, a recount or a snapshot may bring `on_hand`
//! below `reserved`: the count is the physical truth, so it is accepted, and this module
//! decides which open commitments at that level (held holds and open orders) can no longer
//! all be served. They are served oldest first, so the newest lose first; each one the shelf
//! no longer covers in full has a row in `stock_shorts` (how many units, since when), and is
//! at risk; an order also gets an entry on its timeline. When stock comes back (a receipt, a
//! cancelled order), the rows go the same way.
//!
//! It never changes `on_hand` or `reserved`. Its rows belong to the level: they are written
//! only by a transaction holding the level's row lock, and they carry no foreign keys, so a
//! reassessment never waits on an order's or a hold's row. (Every writer locks commitments
//! first and stock second; waiting on a commitment while holding a level would invert that
//! and deadlock against an order being moved.) Callers run it in the transaction that changed
//! the level, after the change.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::db::schema::{order_lines, orders, reservation_lines, reservations, stock_levels, stock_shorts};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::orders::status::Status;
use crate::reservations::status::HoldStatus;

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

crate::db::stored::stored_enum! {
    /// Whose commitment a row of `stock_shorts` is.
    pub enum Holder as "at-risk holder" {
        Hold,
        Order,
    }
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
}

/// Serves commitments oldest first from `on_hand` and returns each one's `short`, in the
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

/// What changed a level, as the timeline of the orders it uncovers or covers again says it.
#[derive(Debug, Clone, Copy)]
pub struct Cause<'a> {
    /// `count`, `sale`, `cancelled`…
    pub reason: &'a str,
    pub actor: &'a str,
    pub at: NaiveDateTime,
}

/// Re-decides which commitments at (location, sku) stock covers, and writes their rows.
/// The caller holds the level's row lock.
pub fn reassess(conn: &mut DbConn, location: &str, sku: &str, cause: Cause) -> Result<(), ApiError> {
    let now = cause.at;
    let Some(on_hand) =
        stock_levels::table.find((location, sku)).select(stock_levels::on_hand).first::<i64>(conn).optional()?
    else {
        return Ok(());
    };
    let holds: Vec<(String, NaiveDateTime, NaiveDateTime, i64)> = reservation_lines::table
        .inner_join(reservations::table)
        .filter(reservations::location.eq(location))
        .filter(reservations::status.eq(HoldStatus::Held.as_str()))
        .filter(reservation_lines::sku.eq(sku))
        .select((reservations::id, reservations::created_at, reservations::expires_at, reservation_lines::quantity))
        .load(conn)?;
    let open: Vec<(String, NaiveDateTime, i64)> = order_lines::table
        .inner_join(orders::table)
        .filter(orders::location.eq(location))
        .filter(orders::status.eq_any(Status::open_words()))
        .filter(order_lines::sku.eq(sku))
        .filter(order_lines::quantity.gt(0))
        .select((orders::id, orders::created_at, order_lines::quantity))
        .load(conn)?;
    // Units still travelling to this store are not reserved here yet; units travelling
    // from here are, for their order.
    let arriving = crate::transfers::transit::arriving(conn, location, sku)?;
    let leaving = crate::transfers::transit::leaving(conn, location, sku)?;
    let open = open.into_iter().map(|(id, created_at, quantity)| {
        let here = quantity - arriving.get(&id).copied().unwrap_or(0);
        (id, created_at, here)
    });
    let commitments: Vec<Commitment> = holds
        .into_iter()
        .map(|(id, created_at, expires_at, quantity)| Commitment {
            holder: Holder::Hold,
            id,
            lapsed: expires_at <= now,
            created_at,
            quantity,
        })
        .chain(open.chain(leaving).filter(|(_, _, quantity)| *quantity > 0).map(|(id, created_at, quantity)| {
            Commitment { holder: Holder::Order, id, lapsed: false, created_at, quantity }
        }))
        .collect();
    let wanted: HashMap<(Holder, String), i64> = commitments
        .iter()
        .zip(allocate(on_hand, &commitments))
        .filter(|(_, short)| *short > 0)
        .map(|(c, short)| ((c.holder, c.id.clone()), short))
        .collect();
    let existing: Vec<(String, String, i64)> = stock_shorts::table
        .filter(stock_shorts::location.eq(location))
        .filter(stock_shorts::sku.eq(sku))
        .select((stock_shorts::holder, stock_shorts::holder_id, stock_shorts::short))
        .load(conn)?;
    let open_orders: std::collections::HashSet<&str> =
        commitments.iter().filter(|c| c.holder == Holder::Order).map(|c| c.id.as_str()).collect();
    let mut changed_orders: Vec<String> = Vec::new();
    let mut existing_keys = std::collections::HashSet::new();
    for (holder, id, short) in existing {
        let holder = if holder == "order" { Holder::Order } else { Holder::Hold };
        let row = stock_shorts::table.find((location, sku, holder.as_str(), &id));
        match wanted.get(&(holder, id.clone())) {
            Some(&same) if same == short => {}
            // Still short, by another number: since stays when it first became short.
            Some(&other) => {
                diesel::update(row).set(stock_shorts::short.eq(other)).execute(conn)?;
            }
            None => {
                diesel::delete(row).execute(conn)?;
            }
        }
        // A closed commitment's rows just go: its timeline ended with its status.
        if holder == Holder::Order
            && wanted.get(&(holder, id.clone())) != Some(&short)
            && open_orders.contains(id.as_str())
        {
            changed_orders.push(id.clone());
        }
        existing_keys.insert((holder, id));
    }
    for ((holder, id), short) in &wanted {
        if existing_keys.contains(&(*holder, id.clone())) {
            continue;
        }
        diesel::insert_into(stock_shorts::table)
            .values((
                stock_shorts::location.eq(location),
                stock_shorts::sku.eq(sku),
                stock_shorts::holder.eq(holder.as_str()),
                stock_shorts::holder_id.eq(id),
                stock_shorts::short.eq(short),
                stock_shorts::since.eq(now),
            ))
            .execute(conn)?;
        if *holder == Holder::Order {
            changed_orders.push(id.clone());
        }
    }
    changed_orders.sort();
    for id in changed_orders {
        record_on_timeline(conn, &id, location, cause)?;
    }
    Ok(())
}

/// Reassesses a level that is short now, or that has commitments flagged from before: only
/// those can have rows to write or remove.
pub fn reassess_if_short(conn: &mut DbConn, location: &str, sku: &str, cause: Cause) -> Result<(), ApiError> {
    let level: Option<(i64, i64)> = stock_levels::table
        .find((location, sku))
        .select((stock_levels::on_hand, stock_levels::reserved))
        .first(conn)
        .optional()?;
    let short_now = level.is_some_and(|(on_hand, reserved)| reserved > on_hand);
    let flagged = short_now
        || diesel::select(diesel::dsl::exists(
            stock_shorts::table.filter(stock_shorts::location.eq(location)).filter(stock_shorts::sku.eq(sku)),
        ))
        .get_result::<bool>(conn)?;
    if flagged {
        reassess(conn, location, sku, cause)?;
    }
    Ok(())
}

/// The sentence staff and customers' support read.
pub fn reason(location: &str, lines: &[ShortLine]) -> String {
    let units: Vec<String> = lines.iter().map(|l| format!("{} × {}", l.short, l.sku)).collect();
    format!(
        "{} no longer on hand at {location}: short-pick what is missing, or recount if it is there",
        units.join(", ")
    )
}

/// A commitment's short lines (by SKU) and the earliest time one became short.
fn shorts_of(conn: &mut DbConn, holder: Holder, id: &str) -> Result<(Vec<ShortLine>, Option<NaiveDateTime>), ApiError> {
    let rows: Vec<(String, i64, NaiveDateTime)> = stock_shorts::table
        .filter(stock_shorts::holder.eq(holder.as_str()))
        .filter(stock_shorts::holder_id.eq(id))
        .order(stock_shorts::sku.asc())
        .select((stock_shorts::sku, stock_shorts::short, stock_shorts::since))
        .load(conn)?;
    let since = rows.iter().map(|(_, _, since)| *since).min();
    Ok((rows.into_iter().map(|(sku, short, _)| ShortLine { sku, short }).collect(), since))
}

/// Units of each of a commitment's lines that stock no longer covers, by SKU.
pub fn short_units(conn: &mut DbConn, holder: Holder, id: &str) -> Result<HashMap<String, i64>, ApiError> {
    let (lines, _) = shorts_of(conn, holder, id)?;
    Ok(lines.into_iter().map(|l| (l.sku, l.short)).collect())
}

/// Writes what the order now shows on its timeline: `at_risk` with the short lines, or
/// `at_risk_cleared` once none is short.
fn record_on_timeline(conn: &mut DbConn, id: &str, location: &str, cause: Cause) -> Result<(), ApiError> {
    let (lines, _) = shorts_of(conn, Holder::Order, id)?;
    let (kind, detail) = if lines.is_empty() {
        ("at_risk_cleared", json!({"cause": cause.reason}))
    } else {
        ("at_risk", json!({"cause": cause.reason, "reason": reason(location, &lines), "lines": lines}))
    };
    crate::orders::events::record_event(conn, id, location, cause.actor, kind, Some(detail), cause.at)
}

/// An order's or a hold's at-risk state for its view.
pub fn of(conn: &mut DbConn, holder: Holder, id: &str, location: &str) -> Result<Option<AtRisk>, ApiError> {
    let (lines, since) = shorts_of(conn, holder, id)?;
    Ok(at_risk(location, lines, since))
}

/// The at-risk state of several orders of one location, in one query: for lists.
pub fn of_orders(conn: &mut DbConn, ids: &[&str], location: &str) -> Result<HashMap<String, AtRisk>, ApiError> {
    let rows: Vec<(String, String, i64, NaiveDateTime)> = stock_shorts::table
        .filter(stock_shorts::holder.eq(Holder::Order.as_str()))
        .filter(stock_shorts::holder_id.eq_any(ids))
        .order((stock_shorts::holder_id.asc(), stock_shorts::sku.asc()))
        .select((stock_shorts::holder_id, stock_shorts::sku, stock_shorts::short, stock_shorts::since))
        .load(conn)?;
    let mut by_order: HashMap<String, (Vec<ShortLine>, Option<NaiveDateTime>)> = HashMap::new();
    for (id, sku, short, since) in rows {
        let entry = by_order.entry(id).or_default();
        entry.0.push(ShortLine { sku, short });
        entry.1 = Some(entry.1.map_or(since, |earliest| earliest.min(since)));
    }
    Ok(by_order
        .into_iter()
        .filter_map(|(id, (lines, since))| at_risk(location, lines, since).map(|risk| (id, risk)))
        .collect())
}

fn at_risk(location: &str, lines: Vec<ShortLine>, since: Option<NaiveDateTime>) -> Option<AtRisk> {
    if lines.is_empty() {
        return None;
    }
    let since = since.unwrap_or_default().and_utc();
    Some(AtRisk { reason: reason(location, &lines), since, lines })
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
