//! Writes to stock levels: absolute counts (with `as_of` and compare-and-set), batches of
//! deltas, and whole-location snapshots. Each runs inside the caller's write transaction,
//! locks the levels it touches in (location, sku) order so concurrent writers never deadlock,
//! and records a ledger movement for every change of `on_hand`.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::model::*;
use super::{ledger, risk};
use crate::catalog::{self, Catalog};
use crate::db::schema::stock_levels;
use crate::db::{insert_or_ignore, locking, DbConn};
use crate::error::ApiError;
use crate::stock::problems::NegativeLine;

/// Level rows per INSERT or IN list: well under SQLite's bind limit.
const CHUNK: usize = 1_000;

/// Creates zero levels for (location, sku) pairs that have none, in key order.
pub fn ensure_levels(conn: &mut DbConn, keys: &[(&str, &str)], now: NaiveDateTime) -> Result<usize, ApiError> {
    let mut created = 0;
    for chunk in keys.chunks(CHUNK) {
        let rows: Vec<NewLevel> = chunk
            .iter()
            .map(|(location, sku)| NewLevel {
                location,
                sku,
                on_hand: 0,
                reserved: 0,
                safety_stock: 0,
                last_counted_at: None,
                updated_at: now,
            })
            .collect();
        created += insert_or_ignore!(conn, stock_levels::table, &rows)?;
    }
    Ok(created)
}

/// Reads one level and, on PostgreSQL, locks its row until the transaction ends. (SQLite's
/// `BEGIN IMMEDIATE` already holds the database's one write lock.)
pub fn lock_level(conn: &mut DbConn, location: &str, sku: &str) -> Result<LevelRow, ApiError> {
    Ok(locking!(conn, stock_levels::table.find((location, sku)).select(LevelRow::as_select()), first)?)
}

/// Locks the levels of `skus` at a location, in SKU order (the order every writer takes
/// them in), so that what is read next about them (`on_hand`, at-risk rows) cannot change
/// before the transaction ends. Pairs never written have no row and lock nothing.
pub fn lock_levels(conn: &mut DbConn, location: &str, skus: &[&str]) -> Result<(), ApiError> {
    if skus.is_empty() {
        return Ok(());
    }
    let _: Vec<String> = locking!(
        conn,
        stock_levels::table
            .filter(stock_levels::location.eq(location))
            .filter(stock_levels::sku.eq_any(skus))
            .order(stock_levels::sku.asc())
            .select(stock_levels::sku),
        load
    )?;
    Ok(())
}

/// Reads and locks every level of a location, in SKU order.
fn lock_location_levels(conn: &mut DbConn, location: &str) -> Result<Vec<LevelRow>, ApiError> {
    Ok(locking!(
        conn,
        stock_levels::table
            .filter(stock_levels::location.eq(location))
            .order(stock_levels::sku.asc())
            .select(LevelRow::as_select()),
        load
    )?)
}

pub fn find_level(conn: &mut DbConn, location: &str, sku: &str) -> Result<Option<LevelRow>, ApiError> {
    Ok(stock_levels::table.find((location, sku)).select(LevelRow::as_select()).first(conn).optional()?)
}

/// The level of a (location, sku); a pair never written reads as zeros. Unknown location or
/// product: 404.
pub fn get(conn: &mut DbConn, location: &str, sku: &str) -> Result<StockLevel, ApiError> {
    if let Some(row) = find_level(conn, location, sku)? {
        return Ok(row.into());
    }
    catalog::find_location(conn, location)?;
    catalog::find_product(conn, sku)?;
    Ok(StockLevel {
        location: location.to_string(),
        sku: sku.to_string(),
        on_hand: 0,
        reserved: 0,
        safety_stock: 0,
        available: 0,
        shortfall: 0,
        updated_at: None,
    })
}

fn movement(
    location: &str,
    sku: &str,
    delta_on_hand: i64,
    reason: &str,
    reference: Option<&str>,
    actor: &str,
    at: NaiveDateTime,
) -> NewMovement {
    NewMovement {
        location: location.to_string(),
        sku: sku.to_string(),
        delta_on_hand,
        delta_reserved: 0,
        reason: reason.to_string(),
        reference: reference.map(String::from),
        actor: actor.to_string(),
        at,
    }
}

/// When a count was taken: its `as_of`, but never later than now. A device whose clock runs
/// ahead must not date its count past every later one (which would then be ignored as
/// stale), and refusing it would lose a real count: it is taken as made now.
fn counted_at(as_of: Option<DateTime<Utc>>, now: NaiveDateTime) -> NaiveDateTime {
    as_of.map(|t| t.naive_utc().min(now)).unwrap_or(now)
}

/// Applies an absolute count. Ignored (not applied) when `as_of` is older than the last
/// applied count; refused with 409 when `expected_on_hand` does not match.
pub fn count(
    conn: &mut DbConn,
    location: &str,
    sku: &str,
    form: &CountForm,
    actor: &str,
) -> Result<CountResult, ApiError> {
    catalog::find_location(conn, location)?;
    catalog::find_product(conn, sku)?;
    let now = Utc::now().naive_utc();
    ensure_levels(conn, &[(location, sku)], now)?;
    let level = lock_level(conn, location, sku)?;
    let as_of = counted_at(form.as_of, now);
    if level.last_counted_at.is_some_and(|last| as_of < last) {
        return Ok(CountResult { level: level.into(), applied: false });
    }
    if let Some(expected) = form.expected_on_hand {
        if expected != level.on_hand {
            return Err(ApiError::CountMismatch { expected, actual: level.on_hand });
        }
    }
    let safety_stock = form.safety_stock.unwrap_or(level.safety_stock);
    diesel::update(stock_levels::table.find((location, sku)))
        .set((
            stock_levels::on_hand.eq(form.on_hand),
            stock_levels::safety_stock.eq(safety_stock),
            stock_levels::last_counted_at.eq(Some(as_of)),
            stock_levels::updated_at.eq(now),
        ))
        .execute(conn)?;
    let delta = form.on_hand - level.on_hand;
    if delta != 0 {
        let reason = form.reason.unwrap_or(Reason::Count).as_str();
        ledger::record(conn, &[movement(location, sku, delta, reason, form.reference.as_deref(), actor, now)])?;
        // A count is the physical truth even below what is reserved: the commitments it no
        // longer covers are flagged at risk instead.
        if level.reserved > level.on_hand.min(form.on_hand) {
            risk::reassess(conn, location, sku, risk::Cause { reason, actor, at: now })?;
        }
    }
    if delta == 0 && safety_stock != level.safety_stock {
        // Availability moved with no movement to tell the change log of it.
        crate::changes::levels_changed(conn, [(location, sku)], now)?;
    }
    let level = lock_level(conn, location, sku)?;
    Ok(CountResult { level: level.into(), applied: true })
}

/// Applies a batch of deltas, all or nothing. Lines that would drive `on_hand` below zero
/// fail the whole batch with 409, listing each of them; going below what is reserved is
/// accepted, and flags the commitments left uncovered.
pub fn adjust(conn: &mut DbConn, batch: &AdjustmentBatch, actor: &str) -> Result<AdjustmentResult, ApiError> {
    let lines = batch.adjustments.iter().enumerate();
    let mut unknown = catalog::unknown_codes(
        conn,
        Catalog::Locations,
        lines.clone().map(|(i, a)| (format!("adjustments[{i}].location"), a.location.as_str())),
    )?;
    unknown.extend(catalog::unknown_codes(
        conn,
        Catalog::Products,
        lines.map(|(i, a)| (format!("adjustments[{i}].sku"), a.sku.as_str())),
    )?);
    if !unknown.is_empty() {
        return Err(ApiError::Unknown(unknown));
    }

    let now = Utc::now().naive_utc();
    // One fixed lock order, (location, sku), for every writer: no deadlocks between batches
    // that share levels in different orders.
    let mut order: Vec<&Adjustment> = batch.adjustments.iter().collect();
    order.sort_by(|a, b| (&a.location, &a.sku).cmp(&(&b.location, &b.sku)));
    let keys: Vec<(&str, &str)> = order.iter().map(|a| (a.location.as_str(), a.sku.as_str())).collect();
    let mut unique_keys = keys.clone();
    unique_keys.dedup();
    ensure_levels(conn, &unique_keys, now)?;

    let mut negative = Vec::new();
    let mut movements = Vec::with_capacity(order.len());
    for a in &order {
        // The condition makes the check and the change one atomic step under the row lock.
        let changed = diesel::update(stock_levels::table.find((&a.location, &a.sku)))
            .filter((stock_levels::on_hand + a.delta).ge(0))
            .set((stock_levels::on_hand.eq(stock_levels::on_hand + a.delta), stock_levels::updated_at.eq(now)))
            .execute(conn)?;
        if changed == 0 {
            let on_hand = find_level(conn, &a.location, &a.sku)?.map(|l| l.on_hand).unwrap_or(0);
            negative.push(NegativeLine { location: a.location.clone(), sku: a.sku.clone(), on_hand, delta: a.delta });
        } else {
            movements.push(movement(
                &a.location,
                &a.sku,
                a.delta,
                a.reason.as_str(),
                a.reference.as_deref(),
                actor,
                now,
            ));
        }
    }
    if !negative.is_empty() {
        return Err(ApiError::NegativeStock(negative));
    }
    ledger::record(conn, &movements)?;
    let mut levels = Vec::with_capacity(unique_keys.len());
    for (location, sku) in unique_keys {
        let Some(row) = find_level(conn, location, sku)? else { continue };
        // Stock may fall below what is reserved (a till sale of a unit promised online): the
        // sale happened, and the commitments it uncovers are flagged at risk.
        let lines = order.iter().filter(|a| a.location == location && a.sku == sku);
        let delta: i64 = lines.clone().map(|a| a.delta).sum();
        if row.reserved > row.on_hand.min(row.on_hand - delta) {
            let cause = lines.map(|a| a.reason.as_str()).next().unwrap_or("adjustment");
            risk::reassess(conn, location, sku, risk::Cause { reason: cause, actor, at: now })?;
        }
        let row = find_level(conn, location, sku)?.unwrap_or(row);
        levels.push(row.into());
    }
    Ok(AdjustmentResult { levels })
}

/// Applies a whole-location snapshot in one transaction and says what changed.
pub fn snapshot(
    conn: &mut DbConn,
    location: &str,
    form: &SnapshotForm,
    actor: &str,
) -> Result<SnapshotSummary, ApiError> {
    catalog::find_location(conn, location)?;
    let skus = form.items.iter().enumerate().map(|(i, item)| (format!("items[{i}].sku"), item.sku.as_str()));
    let unknown = catalog::unknown_codes(conn, Catalog::Products, skus)?;
    if !unknown.is_empty() {
        return Err(ApiError::Unknown(unknown));
    }

    let now = Utc::now().naive_utc();
    let as_of = counted_at(form.as_of, now);
    let distinct: BTreeSet<&str> = form.items.iter().map(|item| item.sku.as_str()).collect();
    // Created before any is locked, as every writer does; a recount finds them all there and
    // inserts nothing (one read instead of an insert attempt per SKU).
    let existing: HashSet<String> = stock_levels::table
        .filter(stock_levels::location.eq(location))
        .select(stock_levels::sku)
        .load(conn)?
        .into_iter()
        .collect();
    let keys: Vec<(&str, &str)> =
        distinct.into_iter().filter(|sku| !existing.contains(*sku)).map(|sku| (location, sku)).collect();
    let created = ensure_levels(conn, &keys, now)?;
    let current: HashMap<String, LevelRow> =
        lock_location_levels(conn, location)?.into_iter().map(|row| (row.sku.clone(), row)).collect();

    let reference = form.reference.as_deref();
    let mut summary = SnapshotSummary {
        location: location.to_string(),
        as_of: DateTime::<Utc>::from_naive_utc_and_offset(as_of, Utc),
        received: form.items.len(),
        created,
        ..Default::default()
    };
    let mut movements = Vec::new();
    let mut safety_only = Vec::new();
    let mut counts = Vec::new();
    let mut mentioned = BTreeSet::new();
    // Levels the snapshot confirms unchanged only need their count time moved: one UPDATE per
    // chunk instead of one per SKU keeps a big, mostly unchanged snapshot fast.
    let mut confirmed: Vec<&str> = Vec::new();
    let mut items: Vec<&SnapshotItem> = form.items.iter().collect();
    items.sort_by(|a, b| a.sku.cmp(&b.sku));
    for item in items {
        mentioned.insert(item.sku.as_str());
        let level = &current[&item.sku];
        if level.last_counted_at.is_some_and(|last| as_of < last) {
            summary.stale += 1;
            continue;
        }
        let safety_stock = item.safety_stock.unwrap_or(level.safety_stock);
        if item.on_hand == level.on_hand && safety_stock == level.safety_stock {
            summary.unchanged += 1;
            confirmed.push(item.sku.as_str());
            continue;
        }
        summary.changed += 1;
        counts.push(NewCount { sku: &item.sku, on_hand: item.on_hand, safety_stock });
        if item.on_hand == level.on_hand {
            // No movement to tell the change log of it.
            safety_only.push((location, item.sku.as_str()));
        } else {
            movements.push(movement(
                location,
                &item.sku,
                item.on_hand - level.on_hand,
                Reason::Count.as_str(),
                reference,
                actor,
                now,
            ));
        }
    }
    for chunk in confirmed.chunks(CHUNK) {
        diesel::update(stock_levels::table)
            .filter(stock_levels::location.eq(location))
            .filter(stock_levels::sku.eq_any(chunk))
            .set(stock_levels::last_counted_at.eq(Some(as_of)))
            .execute(conn)?;
    }
    if form.missing == MissingSkus::Zero {
        let mut unmentioned: Vec<&LevelRow> =
            current.values().filter(|l| !mentioned.contains(l.sku.as_str())).collect();
        unmentioned.sort_by(|a, b| a.sku.cmp(&b.sku));
        for level in unmentioned {
            if level.on_hand == 0 || level.last_counted_at.is_some_and(|last| as_of < last) {
                continue;
            }
            counts.push(NewCount { sku: &level.sku, on_hand: 0, safety_stock: level.safety_stock });
            movements.push(movement(
                location,
                &level.sku,
                -level.on_hand,
                Reason::Count.as_str(),
                reference,
                actor,
                now,
            ));
            summary.zeroed += 1;
        }
    }
    set_counts(conn, location, &counts, as_of, now)?;
    summary.movements = movements.len();
    ledger::record(conn, &movements)?;
    crate::changes::levels_changed(conn, safety_only, now)?;
    // Levels that are or were below what is reserved: their commitments are reassessed. The
    // others (almost all of a big snapshot) cost nothing more.
    for count in &counts {
        let before = &current[count.sku];
        if before.reserved > before.on_hand.min(count.on_hand) {
            risk::reassess(conn, location, count.sku, risk::Cause { reason: Reason::Count.as_str(), actor, at: now })?;
        }
    }
    Ok(summary)
}

/// One level a snapshot sets: its SKU, the new `on_hand` and `safety_stock`.
struct NewCount<'a> {
    sku: &'a str,
    on_hand: i64,
    safety_stock: i64,
}

/// Sets counted levels of one location in a few statements instead of one per SKU: on
/// PostgreSQL one `UPDATE … FROM UNNEST(arrays)`, on SQLite an `UPDATE … FROM (VALUES …)` per
/// chunk (SQLite has no arrays).
fn set_counts(
    conn: &mut DbConn,
    location: &str,
    counts: &[NewCount],
    as_of: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    use diesel::sql_types::{Array, BigInt, Text, Timestamp};
    let updated = match conn {
        // One statement with a column array each, whatever the count.
        DbConn::Postgres(pg) => diesel::sql_query(
            "UPDATE stock_levels AS s SET on_hand = v.on_hand, safety_stock = v.safety_stock, \
             last_counted_at = $1, updated_at = $2 \
             FROM UNNEST($3::text[], $4::bigint[], $5::bigint[]) AS v (sku, on_hand, safety_stock) \
             WHERE s.location = $6 AND s.sku = v.sku",
        )
        .bind::<Timestamp, _>(as_of)
        .bind::<Timestamp, _>(now)
        .bind::<Array<Text>, _>(counts.iter().map(|c| c.sku).collect::<Vec<&str>>())
        .bind::<Array<BigInt>, _>(counts.iter().map(|c| c.on_hand).collect::<Vec<i64>>())
        .bind::<Array<BigInt>, _>(counts.iter().map(|c| c.safety_stock).collect::<Vec<i64>>())
        .bind::<Text, _>(location)
        .execute(pg)?,
        // SQLite names the VALUES columns column1…; binds: as_of, now, the rows, the location.
        DbConn::Sqlite(lite) => {
            let mut updated = 0;
            for chunk in counts.chunks(CHUNK) {
                let sql = format!(
                    "UPDATE stock_levels SET on_hand = v.column2, safety_stock = v.column3, \
                     last_counted_at = ?, updated_at = ? FROM (VALUES {}) AS v \
                     WHERE stock_levels.location = ? AND stock_levels.sku = v.column1",
                    vec!["(?, ?, ?)"; chunk.len()].join(", ")
                );
                let mut query = diesel::sql_query(sql)
                    .into_boxed::<diesel::sqlite::Sqlite>()
                    .bind::<Timestamp, _>(as_of)
                    .bind::<Timestamp, _>(now);
                for count in chunk {
                    query = query
                        .bind::<Text, _>(count.sku)
                        .bind::<BigInt, _>(count.on_hand)
                        .bind::<BigInt, _>(count.safety_stock);
                }
                updated += query.bind::<Text, _>(location).execute(lite)?;
            }
            updated
        }
    };
    // Every level was created or locked by this transaction: all must be there.
    if updated != counts.len() {
        return Err(ApiError::Internal(format!("a snapshot set {updated} of {} levels", counts.len())));
    }
    Ok(())
}
