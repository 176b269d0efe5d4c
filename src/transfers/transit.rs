//! Units in transit, as the stock books see them. While a transfer is open, its units are
//! reserved at its source, not at the order's store: the order's lines at the store count
//! only what is not travelling. The at-risk reassessment and the ledger's balance check both
//! read this, so it imports nothing but the schema.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{orders, transfer_lines, transfers};
use crate::db::DbConn;
use crate::error::ApiError;

/// The stored word of the one open transfer status (`TransferStatus::InTransit`).
pub const IN_TRANSIT: &str = "in_transit";

/// Open transfers leaving `location` with `sku`: (order id, order placed at, units). Each is
/// a commitment at the source, served in the order's turn like the source's own orders.
pub fn leaving(conn: &mut DbConn, location: &str, sku: &str) -> Result<Vec<(String, NaiveDateTime, i64)>, ApiError> {
    Ok(transfer_lines::table
        .inner_join(transfers::table.inner_join(orders::table))
        .filter(transfers::from_location.eq(location))
        .filter(transfers::status.eq(IN_TRANSIT))
        .filter(transfer_lines::sku.eq(sku))
        .select((orders::id, orders::created_at, transfer_lines::quantity))
        .load(conn)?)
}

/// Units of `sku` still travelling to `location`, by order: not yet reserved there.
pub fn arriving(conn: &mut DbConn, location: &str, sku: &str) -> Result<HashMap<String, i64>, ApiError> {
    let rows: Vec<(String, i64)> = transfer_lines::table
        .inner_join(transfers::table)
        .filter(transfers::to_location.eq(location))
        .filter(transfers::status.eq(IN_TRANSIT))
        .filter(transfer_lines::sku.eq(sku))
        .select((transfers::order_id, transfer_lines::quantity))
        .load(conn)?;
    let mut by_order = HashMap::new();
    for (order, units) in rows {
        *by_order.entry(order).or_insert(0) += units;
    }
    Ok(by_order)
}

/// Every open transfer line: (from, to, sku, units), for the ledger's balance check.
pub fn all_open(conn: &mut DbConn) -> Result<Vec<(String, String, String, i64)>, ApiError> {
    Ok(transfer_lines::table
        .inner_join(transfers::table)
        .filter(transfers::status.eq(IN_TRANSIT))
        .select((transfers::from_location, transfers::to_location, transfer_lines::sku, transfer_lines::quantity))
        .load(conn)?)
}
