//! Returns: staff at any store take back units of a collected or delivered order. One return
//! is one transaction: its record, its lines, the resellable units back on the taking store's
//! shelf through the ledger (reason `return`, the order as reference), the order's new status,
//! its timeline entry and the customer's message. The order's row is locked first, so two
//! returns of one order never both take the last returnable unit.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::events::{record_event, Announcement, Event};
use super::model::{Condition, Order, OrderReturn, ReturnForm, ReturnLine};
use super::status::{self, Status};
use super::{find_row, lock_row, view, OrderSettings};
use crate::auth::{Principal, Role};
use crate::catalog;
use crate::db::schema::{order_lines, order_return_lines, order_returns, orders};
use crate::db::{insert_rows, DbConn};
use crate::error::{ApiError, FieldError};
use crate::stock::levels;
use crate::stock::model::{Adjustment, AdjustmentBatch, Reason};

/// Who may take a return at `location`: an admin anywhere, staff at their own store.
fn may_take_back(who: &Principal, location: &str) -> Result<(), ApiError> {
    match who.role {
        Role::Admin => Ok(()),
        Role::Staff if who.store.as_deref() == Some(location) => Ok(()),
        Role::Staff => Err(ApiError::Forbidden(format!(
            "staff take returns at their own store ({}), not at {location}",
            who.store.as_deref().unwrap_or("none")
        ))),
        _ => Err(ApiError::Forbidden("returns are taken by store staff or an admin".into())),
    }
}

/// Takes back the lines of `form` at `form.location`, all or nothing, and answers the order
/// with the return recorded (the last of its `returns`).
pub fn take_back(
    conn: &mut DbConn,
    who: &Principal,
    id: &str,
    form: &ReturnForm,
    settings: &OrderSettings,
) -> Result<Order, ApiError> {
    may_take_back(who, &form.location)?;
    let location = catalog::find_location(conn, &form.location)?;
    if !location.active {
        return Err(ApiError::Conflict(format!("location {} is not active", form.location)));
    }
    let row = lock_row(conn, id)?;
    let from = row.status()?;
    if status::after_return(from, false).is_none() {
        return Err(ApiError::Conflict(match from {
            Status::Returned => format!("order {} is returned: every unit bought has come back", row.number),
            _ => format!(
                "order {} is {}; only collected or delivered orders are returned (cancel it instead)",
                row.number,
                status::words(from)
            ),
        }));
    }
    let bought = bought(conn, id)?;
    let already = returned_so_far(conn, id)?;
    // Units of each SKU back once this return is taken, whatever their condition.
    let mut after = already.clone();
    for line in &form.lines {
        *after.entry(line.sku.clone()).or_insert(0) += line.quantity;
    }
    check_quantities(form, &bought, &already, &after, &row.number)?;
    let everything_back = bought.iter().all(|(sku, quantity)| after.get(sku).copied().unwrap_or(0) >= *quantity);
    let to = status::after_return(from, everything_back)
        .ok_or_else(|| ApiError::Internal("a returnable status stopped being returnable".into()))?;

    let now = Utc::now().naive_utc();
    let actor = who.actor();
    let return_id = uuid::Uuid::now_v7().to_string();
    record(conn, &return_id, id, form, &actor, now)?;
    restock(conn, id, form, &actor)?;
    diesel::update(orders::table.find(id))
        .set((orders::status.eq(to.as_str()), orders::updated_at.eq(now)))
        .execute(conn)?;
    let detail = json!({"return_id": return_id, "location": form.location, "lines": form.lines});
    record_event(conn, id, &row.location, &actor, to.as_str(), Some(detail), now)?;
    let announcement = Announcement {
        order_id: id,
        customer_id: &row.customer_id,
        event: Event::Returned,
        send_at: now,
        occurrence: Some(&return_id),
    };
    (settings.announce)(conn, &announcement)?;
    let row = find_row(conn, id)?;
    view(conn, row, who, settings)
}

/// The units the customer took home, per SKU (short picks already taken off).
fn bought(conn: &mut DbConn, id: &str) -> Result<BTreeMap<String, i64>, ApiError> {
    Ok(order_lines::table
        .filter(order_lines::order_id.eq(id))
        .filter(order_lines::quantity.gt(0))
        .select((order_lines::sku, order_lines::quantity))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// The units of each SKU earlier returns took back, whatever their condition.
fn returned_so_far(conn: &mut DbConn, id: &str) -> Result<HashMap<String, i64>, ApiError> {
    let mut so_far = HashMap::new();
    let lines: Vec<(String, i64)> = order_return_lines::table
        .inner_join(order_returns::table)
        .filter(order_returns::order_id.eq(id))
        .select((order_return_lines::sku, order_return_lines::quantity))
        .load(conn)?;
    for (sku, quantity) in lines {
        *so_far.entry(sku).or_insert(0) += quantity;
    }
    Ok(so_far)
}

/// 409 `return-exceeds-order`, naming each line that asks for more than is left to return
/// (or for a SKU the order never had).
fn check_quantities(
    form: &ReturnForm,
    bought: &BTreeMap<String, i64>,
    already: &HashMap<String, i64>,
    after: &HashMap<String, i64>,
    number: &str,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (i, line) in form.lines.iter().enumerate() {
        let Some(&quantity) = bought.get(&line.sku) else {
            errors.push(FieldError::new(format!("lines[{i}].sku"), format!("order {number} has no {}", line.sku)));
            continue;
        };
        let back = already.get(&line.sku).copied().unwrap_or(0);
        if after.get(&line.sku).copied().unwrap_or(0) > quantity {
            errors.push(FieldError::new(
                format!("lines[{i}].quantity"),
                format!("{quantity} of {} bought, {back} already returned: at most {} more", line.sku, quantity - back),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::ReturnExceedsOrder(errors))
    }
}

fn record(
    conn: &mut DbConn,
    return_id: &str,
    order_id: &str,
    form: &ReturnForm,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    diesel::insert_into(order_returns::table)
        .values((
            order_returns::id.eq(return_id),
            order_returns::order_id.eq(order_id),
            order_returns::location.eq(&form.location),
            order_returns::actor.eq(actor),
            order_returns::at.eq(now),
        ))
        .execute(conn)?;
    let lines: Vec<_> = form
        .lines
        .iter()
        .map(|l| {
            (
                order_return_lines::return_id.eq(return_id),
                order_return_lines::sku.eq(&l.sku),
                order_return_lines::condition.eq(l.condition.as_str()),
                order_return_lines::quantity.eq(l.quantity),
            )
        })
        .collect();
    insert_rows!(conn, order_return_lines::table, &lines)?;
    Ok(())
}

/// Resellable units go back on the taking store's shelf; damaged and inspect units do not,
/// and stay in the return's record.
fn restock(conn: &mut DbConn, order_id: &str, form: &ReturnForm, actor: &str) -> Result<(), ApiError> {
    let adjustments: Vec<Adjustment> = form
        .lines
        .iter()
        .filter(|l| l.condition == Condition::Resellable)
        .map(|l| Adjustment {
            location: form.location.clone(),
            sku: l.sku.clone(),
            delta: l.quantity,
            reason: Reason::Return,
            reference: Some(order_id.to_string()),
        })
        .collect();
    if !adjustments.is_empty() {
        levels::adjust(conn, &AdjustmentBatch { adjustments }, actor)?;
    }
    Ok(())
}

/// An order's returns, oldest first, each with its lines.
pub fn returns_of(conn: &mut DbConn, order_id: &str) -> Result<Vec<OrderReturn>, ApiError> {
    let heads: Vec<(String, String, String, NaiveDateTime)> = order_returns::table
        .filter(order_returns::order_id.eq(order_id))
        .order((order_returns::at.asc(), order_returns::id.asc()))
        .select((order_returns::id, order_returns::location, order_returns::actor, order_returns::at))
        .load(conn)?;
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = heads.iter().map(|(id, ..)| id.as_str()).collect();
    let mut lines: HashMap<String, Vec<ReturnLine>> = HashMap::new();
    let rows: Vec<(String, String, String, i64)> = order_return_lines::table
        .filter(order_return_lines::return_id.eq_any(&ids))
        .order((order_return_lines::sku.asc(), order_return_lines::condition.asc()))
        .select((
            order_return_lines::return_id,
            order_return_lines::sku,
            order_return_lines::condition,
            order_return_lines::quantity,
        ))
        .load(conn)?;
    for (return_id, sku, condition, quantity) in rows {
        let condition = Condition::from_stored(&condition)?;
        lines.entry(return_id).or_default().push(ReturnLine { sku, quantity, condition });
    }
    Ok(heads
        .into_iter()
        .map(|(id, location, actor, at)| OrderReturn {
            lines: lines.remove(&id).unwrap_or_default(),
            id,
            location,
            actor,
            at: at.and_utc(),
        })
        .collect())
}
