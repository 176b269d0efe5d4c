//! The ledger: every change to a level is an append-only movement, and a (location, sku)'s
//! movements always add up to its `on_hand` and `reserved`. This module writes movements,
//! reads them back, and finds levels where that promise does not hold.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::model::{Drift, Movement, MovementRow, NewMovement};
use crate::db::schema::{stock_levels, stock_movements};
use crate::db::{insert_rows, DbConn};
use crate::error::ApiError;
use crate::http::pagination::{Page, Paginated};
use crate::reservations::status::HoldStatus;

/// Movements per INSERT: 9 binds each keeps SQLite well under its bind limit.
const INSERT_CHUNK: usize = 1_000;

/// Writes movements, and notes their levels in the change log: every change of `on_hand` or
/// `reserved` has its movement, so this is where the log learns of them.
pub fn record(conn: &mut DbConn, movements: &[NewMovement]) -> Result<(), ApiError> {
    match conn {
        // Many rows on PostgreSQL: one statement binding a column array each (eight binds,
        // whatever the count) instead of nine binds a row; a snapshot writes thousands.
        DbConn::Postgres(pg) if movements.len() > BULK => insert_columns(pg, movements)?,
        _ => {
            for chunk in movements.chunks(INSERT_CHUNK) {
                insert_rows!(conn, stock_movements::table, chunk)?;
            }
        }
    }
    let Some(first) = movements.first() else { return Ok(()) };
    let levels = movements.iter().map(|m| (m.location.as_str(), m.sku.as_str()));
    crate::changes::levels_changed(conn, levels, first.at)
}

/// Above this many rows, PostgreSQL gets them as column arrays (`insert_columns`).
const BULK: usize = 64;

fn insert_columns(pg: &mut diesel::PgConnection, movements: &[NewMovement]) -> Result<(), ApiError> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    let column = |f: fn(&NewMovement) -> &str| movements.iter().map(f).collect::<Vec<&str>>();
    diesel::sql_query(
        "INSERT INTO stock_movements (location, sku, delta_on_hand, delta_reserved, reason, reference, actor, at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
         $8::timestamp[])",
    )
    .bind::<Array<Text>, _>(column(|m| &m.location))
    .bind::<Array<Text>, _>(column(|m| &m.sku))
    .bind::<Array<BigInt>, _>(movements.iter().map(|m| m.delta_on_hand).collect::<Vec<i64>>())
    .bind::<Array<BigInt>, _>(movements.iter().map(|m| m.delta_reserved).collect::<Vec<i64>>())
    .bind::<Array<Text>, _>(column(|m| &m.reason))
    .bind::<Array<Nullable<Text>>, _>(movements.iter().map(|m| m.reference.as_deref()).collect::<Vec<Option<&str>>>())
    .bind::<Array<Text>, _>(column(|m| &m.actor))
    .bind::<Array<Timestamp>, _>(movements.iter().map(|m| m.at).collect::<Vec<_>>())
    .execute(pg)?;
    Ok(())
}

/// A level's movements, newest first.
pub fn list(conn: &mut DbConn, location: &str, sku: &str, page: &Page) -> Result<Paginated<Movement>, ApiError> {
    let mut query = stock_movements::table
        .filter(stock_movements::location.eq(location))
        .filter(stock_movements::sku.eq(sku))
        .order(stock_movements::id.desc())
        .limit(page.limit + 1)
        .select(MovementRow::as_select())
        .into_boxed();
    if let Some(before) = page.id_position()? {
        query = query.filter(stock_movements::id.lt(before));
    }
    let rows: Vec<Movement> = query.load(conn)?.into_iter().map(Movement::from).collect();
    Ok(Paginated::from_rows(rows, page.limit, |m| m.id.to_string()))
}

/// Every level whose ledger sums differ from its counters or whose `reserved` differs from
/// what open holds and orders account for, and every ledger with no level.
pub fn find_drift(conn: &mut DbConn) -> Result<Vec<Drift>, ApiError> {
    // SUM(bigint) is NUMERIC on PostgreSQL; cast back so both backends read an i64.
    let sums: Vec<(String, String, i64, i64)> = stock_movements::table
        .group_by((stock_movements::location, stock_movements::sku))
        .select((
            stock_movements::location,
            stock_movements::sku,
            sql::<BigInt>("CAST(COALESCE(SUM(delta_on_hand), 0) AS BIGINT)"),
            sql::<BigInt>("CAST(COALESCE(SUM(delta_reserved), 0) AS BIGINT)"),
        ))
        .load(conn)?;
    let mut ledger: HashMap<(String, String), (i64, i64)> =
        sums.into_iter().map(|(l, s, a, b)| ((l, s), (a, b))).collect();
    let mut open = open_reservations(conn)?;
    let levels: Vec<(String, String, i64, i64)> = stock_levels::table
        .select((stock_levels::location, stock_levels::sku, stock_levels::on_hand, stock_levels::reserved))
        .load(conn)?;
    let mut drift = Vec::new();
    for (location, sku, on_hand, reserved) in levels {
        let key = (location.clone(), sku.clone());
        let (ledger_on_hand, ledger_reserved) = ledger.remove(&key).unwrap_or((0, 0));
        let open_reserved = open.remove(&key).unwrap_or(0);
        if ledger_on_hand != on_hand || ledger_reserved != reserved || open_reserved != reserved {
            drift.push(Drift { location, sku, on_hand, ledger_on_hand, reserved, ledger_reserved, open_reserved });
        }
    }
    // Movements can only reference existing levels (foreign key), so anything left is a bug
    // in this very function rather than in the data; report it all the same.
    for ((location, sku), (ledger_on_hand, ledger_reserved)) in ledger {
        let open_reserved = open.remove(&(location.clone(), sku.clone())).unwrap_or(0);
        drift.push(Drift { location, sku, on_hand: 0, ledger_on_hand, reserved: 0, ledger_reserved, open_reserved });
    }
    drift.sort_by(|a, b| (&a.location, &a.sku).cmp(&(&b.location, &b.sku)));
    Ok(drift)
}

/// A level where `reserved` exceeds `on_hand`: units promised that are not there. Not drift
/// (the ledger adds up), but commitments at risk that staff should resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortLevel {
    pub location: String,
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    /// Open orders and holds with a short line at this level.
    pub orders_at_risk: i64,
    pub holds_at_risk: i64,
}

/// Every level with `reserved > on_hand`, by (location, sku).
pub fn find_short_levels(conn: &mut DbConn) -> Result<Vec<ShortLevel>, ApiError> {
    use crate::db::schema::stock_shorts;
    let rows: Vec<(String, String, i64, i64)> = stock_levels::table
        .filter(stock_levels::reserved.gt(stock_levels::on_hand))
        .order((stock_levels::location.asc(), stock_levels::sku.asc()))
        .select((stock_levels::location, stock_levels::sku, stock_levels::on_hand, stock_levels::reserved))
        .load(conn)?;
    let mut short = Vec::with_capacity(rows.len());
    for (location, sku, on_hand, reserved) in rows {
        let holders: Vec<String> = stock_shorts::table
            .filter(stock_shorts::location.eq(&location))
            .filter(stock_shorts::sku.eq(&sku))
            .select(stock_shorts::holder)
            .load(conn)?;
        let orders_at_risk = holders.iter().filter(|h| *h == "order").count() as i64;
        let holds_at_risk = holders.len() as i64 - orders_at_risk;
        short.push(ShortLevel { location, sku, on_hand, reserved, orders_at_risk, holds_at_risk });
    }
    Ok(short)
}

/// Units that open holds and open orders account for, per (location, sku).
fn open_reservations(conn: &mut DbConn) -> Result<HashMap<(String, String), i64>, ApiError> {
    use crate::db::schema::{order_lines, orders, reservation_lines, reservations};
    let mut open: HashMap<(String, String), i64> = HashMap::new();
    let held: Vec<(String, String, i64)> = reservation_lines::table
        .inner_join(reservations::table)
        .filter(reservations::status.eq(HoldStatus::Held.as_str()))
        .select((reservations::location, reservation_lines::sku, reservation_lines::quantity))
        .load(conn)?;
    let ordered: Vec<(String, String, i64)> = order_lines::table
        .inner_join(orders::table)
        .filter(orders::status.eq_any(crate::orders::status::Status::open_words()))
        .select((orders::location, order_lines::sku, order_lines::quantity))
        .load(conn)?;
    for (location, sku, quantity) in held.into_iter().chain(ordered) {
        *open.entry((location, sku)).or_default() += quantity;
    }
    // A transfer's units are reserved at its source until the store receives them.
    for (from, to, sku, quantity) in crate::transfers::transit::all_open(conn)? {
        *open.entry((to, sku.clone())).or_default() -= quantity;
        *open.entry((from, sku)).or_default() += quantity;
    }
    Ok(open)
}
