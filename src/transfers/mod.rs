//! Ship-to-store: a pickup order at a store may take lines the store lacks from a location
//! that supplies it (a lane), reserved there at once. A transfer per source carries them;
//! the order waits as `awaiting_transfer` until the store receives every transfer, and the
//! units then move through the ledger (`transfer_out` at the source, `transfer_in` at the
//! store, their reservation with them).
//!
//! Stock stays one truth throughout: a travelling unit is reserved at its source and
//! nowhere else (`transit`), so the source cannot sell it twice and the store does not count
//! it before it is there.

pub mod lanes;
pub mod model;
pub mod routes;
pub mod transit;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::catalog::model::{LocationKind, LocationRow};
use crate::catalog::{self};
use crate::db::schema::{locations, orders, transfer_lanes, transfer_lines, transfers};
use crate::db::{insert_rows, DbConn};
use crate::error::{ApiError, FieldError};
use crate::http::pagination::{encode_cursor, Page, Paginated};
use crate::stock::reserve::{self, Entry, Line};
pub use lanes::{arrival_at, lanes_into};
use model::*;

/// Replaces every lane into a store. Lanes lead to stores; a source is any other location.
/// Transfers already under way keep their expected arrival.
pub fn put_lanes(conn: &mut DbConn, to: &str, form: &Lanes) -> Result<Lanes, ApiError> {
    let store = catalog::find_location(conn, to)?;
    if store.kind != LocationKind::Store.as_str() {
        return Err(ApiError::Conflict(format!("{to} is a {}: lanes lead to stores", store.kind)));
    }
    let mut problems = Vec::new();
    for (i, lane) in form.lanes.iter().enumerate() {
        if lane.from == to {
            return Err(ApiError::validation(format!("lanes[{i}].from"), "a store does not supply itself"));
        }
        let known: Option<String> = locations::table.find(&lane.from).select(locations::code).first(conn).optional()?;
        if known.is_none() {
            problems.push(FieldError::new(format!("lanes[{i}].from"), format!("no location {}", lane.from)));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Unknown(problems));
    }
    let now = Utc::now().naive_utc();
    diesel::delete(transfer_lanes::table.filter(transfer_lanes::to_location.eq(to))).execute(conn)?;
    let rows: Vec<_> = form
        .lanes
        .iter()
        .map(|lane| {
            (
                transfer_lanes::from_location.eq(&lane.from),
                transfer_lanes::to_location.eq(to),
                transfer_lanes::working_days.eq(lane.working_days),
                transfer_lanes::updated_at.eq(now),
            )
        })
        .collect();
    if !rows.is_empty() {
        insert_rows!(conn, transfer_lanes::table, &rows)?;
    }
    lanes_into(conn, to)
}

/// Lines a source sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consignment {
    pub from: String,
    pub working_days: i32,
    pub lines: Vec<Line>,
}

/// Where each line of an order at a store comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourcing {
    /// Lines the store serves from its own shelf (or that nothing can serve: reserving them
    /// then explains the shortfall).
    pub here: Vec<Line>,
    /// Lines sent from other locations, one consignment per source.
    pub sent: Vec<Consignment>,
}

/// How a store would serve `lines`: from its shelf where it can, else whole lines from the
/// fastest lane whose source has them. `None` when every line is the store's own (or no lane
/// could help): the order is an ordinary one. Read without locks; reserving decides.
pub fn source(conn: &mut DbConn, to: &str, lines: &[Line]) -> Result<Option<Sourcing>, ApiError> {
    let lanes = lanes_into(conn, to)?.lanes;
    if lanes.is_empty() {
        return Ok(None);
    }
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let here_now = crate::stock::availability::available_at(conn, to, &skus)?;
    let mut sourcing = Sourcing { here: Vec::new(), sent: Vec::new() };
    let mut at_sources: HashMap<&str, HashMap<String, i64>> = HashMap::new();
    for line in lines {
        if here_now.get(&line.sku).copied().unwrap_or(0) >= line.quantity {
            sourcing.here.push(line.clone());
            continue;
        }
        let mut sent = false;
        for lane in &lanes {
            if !at_sources.contains_key(lane.from.as_str()) {
                let levels = crate::stock::availability::available_at(conn, &lane.from, &skus)?;
                at_sources.insert(&lane.from, levels);
            }
            let left = at_sources.get_mut(lane.from.as_str()).and_then(|levels| levels.get_mut(&line.sku));
            if let Some(left) = left.filter(|left| **left >= line.quantity) {
                *left -= line.quantity;
                match sourcing.sent.iter_mut().find(|c| c.from == lane.from) {
                    Some(consignment) => consignment.lines.push(line.clone()),
                    None => sourcing.sent.push(Consignment {
                        from: lane.from.clone(),
                        working_days: lane.working_days,
                        lines: vec![line.clone()],
                    }),
                }
                sent = true;
                break;
            }
        }
        if !sent {
            sourcing.here.push(line.clone());
        }
    }
    Ok((!sourcing.sent.is_empty()).then_some(sourcing))
}

/// Reserves every line where the sourcing says, or none (409 `insufficient-stock`). Locations
/// are taken in code order and SKUs in order within each, so two orders reserving at the same
/// places never wait on each other in opposite orders.
pub fn reserve_sourced(conn: &mut DbConn, to: &str, sourcing: &Sourcing, entry: &Entry) -> Result<(), ApiError> {
    let mut by_location: BTreeMap<&str, Vec<Line>> = BTreeMap::new();
    if !sourcing.here.is_empty() {
        by_location.insert(to, sourcing.here.clone());
    }
    for consignment in &sourcing.sent {
        by_location.entry(&consignment.from).or_default().extend(consignment.lines.iter().cloned());
    }
    for (location, lines) in by_location {
        reserve::reserve_all(conn, location, &lines, entry)?;
    }
    Ok(())
}

/// Opens the transfers that carry an order's consignments to its store; returns when the
/// last is expected.
pub fn open_for_order(
    conn: &mut DbConn,
    order_id: &str,
    store: &LocationRow,
    sent: &[Consignment],
    now: NaiveDateTime,
) -> Result<DateTime<Utc>, ApiError> {
    let mut latest = now.and_utc();
    for consignment in sent {
        let expected = arrival_at(store, consignment.working_days, now.and_utc())?;
        latest = latest.max(expected);
        let id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(transfers::table)
            .values((
                transfers::id.eq(&id),
                transfers::order_id.eq(order_id),
                transfers::from_location.eq(&consignment.from),
                transfers::to_location.eq(&store.code),
                transfers::status.eq(TransferStatus::InTransit.as_str()),
                transfers::expected_at.eq(expected.naive_utc()),
                transfers::created_at.eq(now),
                transfers::updated_at.eq(now),
            ))
            .execute(conn)?;
        let rows: Vec<_> = consignment
            .lines
            .iter()
            .map(|l| {
                (
                    transfer_lines::transfer_id.eq(&id),
                    transfer_lines::sku.eq(&l.sku),
                    transfer_lines::quantity.eq(l.quantity),
                )
            })
            .collect();
        insert_rows!(conn, transfer_lines::table, &rows)?;
    }
    Ok(latest)
}

/// The (location, sku) levels an order's open transfers hold units at.
pub fn sources_of(conn: &mut DbConn, order_id: &str) -> Result<Vec<(String, String)>, ApiError> {
    Ok(transfer_lines::table
        .inner_join(transfers::table)
        .filter(transfers::order_id.eq(order_id))
        .filter(transfers::status.eq(transit::IN_TRANSIT))
        .select((transfers::from_location, transfer_lines::sku))
        .load(conn)?)
}

/// Cancels an order's open transfers: their units go back on sale at their sources. Returns
/// the units that were travelling, by SKU: the store never reserved them. The caller holds
/// the order's row and the levels' locks, and has closed the order.
pub fn cancel_for_order(conn: &mut DbConn, order_id: &str, entry: &Entry) -> Result<HashMap<String, i64>, ApiError> {
    let open: Vec<(String, String)> = transfers::table
        .filter(transfers::order_id.eq(order_id))
        .filter(transfers::status.eq(transit::IN_TRANSIT))
        .order(transfers::from_location.asc())
        .select((transfers::id, transfers::from_location))
        .load(conn)?;
    let mut travelling: HashMap<String, i64> = HashMap::new();
    for (id, from) in open {
        let lines = lines_of(conn, &id)?;
        diesel::update(transfers::table.find(&id))
            .set((transfers::status.eq(TransferStatus::Cancelled.as_str()), transfers::updated_at.eq(entry.at)))
            .execute(conn)?;
        let give_back: Vec<Line> = lines.iter().map(|l| Line::new(l.sku.clone(), l.quantity)).collect();
        reserve::unreserve(conn, &from, &give_back, entry)?;
        for line in lines {
            *travelling.entry(line.sku).or_insert(0) += line.quantity;
        }
    }
    Ok(travelling)
}

fn lines_of(conn: &mut DbConn, transfer_id: &str) -> Result<Vec<TransferLine>, ApiError> {
    let rows: Vec<(String, i64, Option<i64>)> = transfer_lines::table
        .filter(transfer_lines::transfer_id.eq(transfer_id))
        .order(transfer_lines::sku.asc())
        .select((transfer_lines::sku, transfer_lines::quantity, transfer_lines::received))
        .load(conn)?;
    Ok(rows.into_iter().map(|(sku, quantity, received)| TransferLine { sku, quantity, received }).collect())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = transfers)]
pub(crate) struct TransferRow {
    pub id: String,
    pub order_id: String,
    pub from_location: String,
    pub to_location: String,
    pub status: String,
    pub expected_at: NaiveDateTime,
    pub received_at: Option<NaiveDateTime>,
    pub received_by: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Transfers as the API shows them, each read with its order's number (`with_number`): their
/// lines are read in one query for all of them.
fn views(conn: &mut DbConn, rows: Vec<(TransferRow, String)>) -> Result<Vec<Transfer>, ApiError> {
    let ids: Vec<&str> = rows.iter().map(|(row, _)| row.id.as_str()).collect();
    let mut lines: HashMap<String, Vec<TransferLine>> = HashMap::new();
    let read: Vec<(String, String, i64, Option<i64>)> = transfer_lines::table
        .filter(transfer_lines::transfer_id.eq_any(&ids))
        .order((transfer_lines::transfer_id.asc(), transfer_lines::sku.asc()))
        .select((transfer_lines::transfer_id, transfer_lines::sku, transfer_lines::quantity, transfer_lines::received))
        .load(conn)?;
    for (id, sku, quantity, received) in read {
        lines.entry(id).or_default().push(TransferLine { sku, quantity, received });
    }
    rows.into_iter()
        .map(|(row, order_number)| {
            Ok(Transfer {
                lines: lines.remove(&row.id).unwrap_or_default(),
                order_number,
                status: TransferStatus::from_stored(&row.status)?,
                id: row.id,
                order_id: row.order_id,
                from: row.from_location,
                to: row.to_location,
                expected_at: row.expected_at.and_utc(),
                received_at: row.received_at.map(|at| at.and_utc()),
                received_by: row.received_by,
                created_at: row.created_at.and_utc(),
            })
        })
        .collect()
}

/// Transfers joined to their orders, for their numbers.
fn with_number() -> diesel::dsl::Select<
    diesel::dsl::InnerJoin<transfers::table, orders::table>,
    (diesel::dsl::AsSelect<TransferRow, crate::db::Backend>, orders::number),
> {
    transfers::table.inner_join(orders::table).select((TransferRow::as_select(), orders::number))
}

/// One transfer as the API shows it, or 404.
pub fn find(conn: &mut DbConn, id: &str) -> Result<Transfer, ApiError> {
    let row = with_number()
        .filter(transfers::id.eq(id))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no transfer {id}")))?;
    Ok(views(conn, vec![row])?.remove(0))
}

/// An order's transfers, oldest first.
pub fn of_order(conn: &mut DbConn, order_id: &str) -> Result<Vec<Transfer>, ApiError> {
    let rows = with_number()
        .filter(transfers::order_id.eq(order_id))
        .order((transfers::created_at.asc(), transfers::id.asc()))
        .load(conn)?;
    views(conn, rows)
}

/// Transfers to a store (or to every store: `to` is `None`), soonest expected first.
pub fn list(
    conn: &mut DbConn,
    to: Option<&str>,
    status: Option<TransferStatus>,
    page: &Page,
) -> Result<Paginated<Transfer>, ApiError> {
    let offset = page.offset()?;
    let mut query = with_number().into_boxed();
    if let Some(to) = to {
        query = query.filter(transfers::to_location.eq(to.to_string()));
    }
    if let Some(status) = status {
        query = query.filter(transfers::status.eq(status.as_str()));
    }
    let mut rows: Vec<(TransferRow, String)> = query
        .order((transfers::expected_at.asc(), transfers::id.asc()))
        .offset(offset)
        .limit(page.limit + 1)
        .load(conn)?;
    let more = rows.len() as i64 > page.limit;
    rows.truncate(page.limit as usize);
    let items = views(conn, rows)?;
    Ok(Paginated { items, next_cursor: more.then(|| encode_cursor(&(offset + page.limit).to_string())) })
}

/// What arrived of a transfer the caller has locked (with its order): the transfer closes
/// as `received`, `partial` or `lost`, every unit sent leaves the source (`transfer_out`),
/// and the store takes what arrived onto its shelf with the whole reservation
/// (`transfer_in`): units that did not arrive leave the store's level short, which flags
/// the order at risk unless the store has spare units of its own. Returns the transfer's
/// new status and the units missing, by SKU.
pub(crate) fn receive_stock(
    conn: &mut DbConn,
    transfer: &TransferRow,
    form: &ReceiveForm,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(TransferStatus, Vec<(String, i64)>), ApiError> {
    let lines = lines_of(conn, &transfer.id)?;
    let mut problems = Vec::new();
    for (i, arrived) in form.lines.iter().flatten().enumerate() {
        match lines.iter().find(|l| l.sku == arrived.sku) {
            None => problems
                .push(FieldError::new(format!("lines[{i}].sku"), format!("{} is not in this transfer", arrived.sku))),
            Some(line) if arrived.quantity > line.quantity => {
                problems.push(FieldError::new(format!("lines[{i}].quantity"), format!("{} were sent", line.quantity)))
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let arrived_of = |line: &TransferLine| match &form.lines {
        None => line.quantity,
        Some(arrived) => arrived.iter().find(|a| a.sku == line.sku).map(|a| a.quantity).unwrap_or(0),
    };
    let arrived: Vec<(String, i64, i64)> = lines.iter().map(|l| (l.sku.clone(), arrived_of(l), l.quantity)).collect();
    let total_arrived: i64 = arrived.iter().map(|(_, got, _)| got).sum();
    let status = if arrived.iter().all(|(_, got, sent)| got == sent) {
        TransferStatus::Received
    } else if total_arrived == 0 {
        TransferStatus::Lost
    } else {
        TransferStatus::Partial
    };
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let (from, to) = (transfer.from_location.as_str(), transfer.to_location.as_str());
    let keys: Vec<(&str, &str)> = skus.iter().map(|sku| (to, *sku)).collect();
    crate::stock::levels::ensure_levels(conn, &keys, now)?;
    let mut places = [from, to];
    places.sort();
    for place in places {
        crate::stock::levels::lock_levels(conn, place, &skus)?;
    }
    // The transfer closes first: the source's and the store's levels are then reassessed with
    // its units where they now are.
    diesel::update(transfers::table.find(&transfer.id))
        .set((
            transfers::status.eq(status.as_str()),
            transfers::received_at.eq(now),
            transfers::received_by.eq(actor),
            transfers::updated_at.eq(now),
        ))
        .execute(conn)?;
    for (sku, got, _) in &arrived {
        diesel::update(transfer_lines::table.find((&transfer.id, sku)))
            .set(transfer_lines::received.eq(got))
            .execute(conn)?;
    }
    let sent: Vec<Line> = lines.iter().map(|l| Line::new(l.sku.clone(), l.quantity)).collect();
    let entry = |reason| Entry { reason, reference: &transfer.id, actor, at: now };
    reserve::consume(conn, from, &sent, &entry("transfer_out"))?;
    reserve::take_in(conn, to, &arrived, &entry("transfer_in"))?;
    let missing = arrived.into_iter().filter(|(_, got, sent)| got < sent).map(|(sku, got, sent)| (sku, sent - got));
    Ok((status, missing.collect()))
}

/// When an order's last transfer is expected at its store.
pub fn expected_by(conn: &mut DbConn, order_id: &str) -> Result<Option<NaiveDateTime>, ApiError> {
    Ok(transfers::table
        .filter(transfers::order_id.eq(order_id))
        .filter(transfers::status.ne(TransferStatus::Cancelled.as_str()))
        .select(diesel::dsl::max(transfers::expected_at))
        .first(conn)?)
}

/// Whether an order still waits on a transfer.
pub fn any_open(conn: &mut DbConn, order_id: &str) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        transfers::table.filter(transfers::order_id.eq(order_id)).filter(transfers::status.eq(transit::IN_TRANSIT)),
    ))
    .get_result(conn)?)
}

/// Locks a transfer's row and reads it again: the receipt decides on what it holds.
pub(crate) fn lock_row(conn: &mut DbConn, id: &str) -> Result<TransferRow, ApiError> {
    crate::db::locking!(conn, transfers::table.find(id).select(TransferRow::as_select()), first)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no transfer {id}")))
}
