//! Business limits per customer, so one shopper cannot take a SKU's whole stock with holds
//! and direct orders: open holds, open orders, and units of one SKU across both. Each refusal
//! is 409 `limit-exceeded` naming the limit and its value. The limits apply to customers
//! acting for themselves; admins and integrations (a marketplace importing a large order)
//! are trusted callers and are not limited.
//!
//! Counting and acting must be one step, or a burst of parallel holds would all count the
//! same "below the limit": on PostgreSQL the customer's transactions take turns on an
//! advisory lock taken before any stock row is locked; SQLite has one writer at a time.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use crate::db::schema::{order_lines, orders, reservation_lines, reservations};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::orders::status::Status;
use crate::reservations::status::HoldStatus;

/// The limits, from the configuration; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerLimits {
    pub open_holds: i64,
    pub open_orders: i64,
    pub units_per_sku: i64,
}

impl CustomerLimits {
    pub const NONE: CustomerLimits = CustomerLimits { open_holds: 0, open_orders: 0, units_per_sku: 0 };

    pub fn from_settings(settings: &crate::config::LimitSettings) -> CustomerLimits {
        CustomerLimits {
            open_holds: settings.open_holds_per_customer,
            open_orders: settings.open_orders_per_customer,
            units_per_sku: settings.units_per_sku_per_customer,
        }
    }
}

/// What the customer is about to add.
pub struct Request<'a> {
    /// The customer's id (a customer token's `sub`).
    pub customer: &'a str,
    pub new_hold: bool,
    pub new_order: bool,
    /// Units per SKU the request adds.
    pub lines: &'a [(String, i64)],
    /// A hold becoming an order: its units are already counted and move, not add.
    pub converting_hold: Option<&'a str>,
}

/// Namespace of the advisory locks taken per customer ("cc" + 1).
const ADVISORY_NAMESPACE: i32 = 0x6363_0001;

/// Refuses the request with 409 `limit-exceeded` if it would take the customer past a limit.
/// Call it first in the transaction, before any stock row is locked.
pub fn check(
    conn: &mut DbConn,
    limits: &CustomerLimits,
    request: &Request,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    if *limits == CustomerLimits::NONE {
        return Ok(());
    }
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind::<Integer, _>(ADVISORY_NAMESPACE)
            .bind::<Text, _>(request.customer)
            .execute(pg)?;
    }
    // What the customer has open, line by line: a customer's open lines are few, so they are
    // read whole (two queries) and counted here.
    let owner = format!("customer:{}", request.customer);
    let held: Vec<(String, String, i64)> = reservation_lines::table
        .inner_join(reservations::table)
        .filter(reservations::owner.eq(&owner))
        .filter(reservations::status.eq(HoldStatus::Held.as_str()))
        .filter(reservations::expires_at.gt(now))
        .select((reservations::id, reservation_lines::sku, reservation_lines::quantity))
        .load(conn)?;
    let ordered: Vec<(String, String, i64)> = order_lines::table
        .inner_join(orders::table)
        .filter(orders::customer_id.eq(request.customer))
        .filter(orders::status.eq_any(Status::open_words()))
        .select((orders::id, order_lines::sku, order_lines::quantity))
        .load(conn)?;
    let distinct = |lines: &[(String, String, i64)]| lines.iter().map(|(id, _, _)| id).collect::<HashSet<_>>().len();

    let open_holds = distinct(&held) as i64;
    if request.new_hold && limits.open_holds > 0 && open_holds >= limits.open_holds {
        return Err(ApiError::LimitExceeded {
            limit: "open_holds_per_customer",
            max: limits.open_holds,
            message: format!(
                "you have {open_holds} open holds, the most allowed; order or release one before holding more"
            ),
        });
    }
    let open_orders = distinct(&ordered) as i64;
    if request.new_order && limits.open_orders > 0 && open_orders >= limits.open_orders {
        return Err(ApiError::LimitExceeded {
            limit: "open_orders_per_customer",
            max: limits.open_orders,
            message: format!("you have {open_orders} open orders, the most allowed; collect or cancel one first"),
        });
    }
    if limits.units_per_sku > 0 {
        let mut taken: HashMap<&str, i64> = HashMap::new();
        let converting = request.converting_hold.unwrap_or("");
        let lines = held.iter().filter(|(id, _, _)| id != converting).chain(&ordered);
        for (_, sku, units) in lines {
            *taken.entry(sku.as_str()).or_default() += units;
        }
        for (sku, quantity) in request.lines {
            let already = taken.get(sku.as_str()).copied().unwrap_or(0);
            if already + quantity > limits.units_per_sku {
                return Err(ApiError::LimitExceeded {
                    limit: "units_per_sku_per_customer",
                    max: limits.units_per_sku,
                    message: format!(
                        "{sku}: you hold or ordered {already} and ask for {quantity} more; at most {} per customer",
                        limits.units_per_sku
                    ),
                });
            }
        }
    }
    Ok(())
}
