//! A channel's changes and its export, as plain functions over one read transaction.
//!
//! The feed reads the change log after a cursor, keeps what concerns the channel (levels at
//! its locations, orders imported through it) and answers, per SKU, the channel's
//! availability as it is now: several changes to one SKU within a page come out once, latest
//! winning. The export pages through every product and hands out, on its first page, the
//! feed cursor as it stood when the export began: whatever commits during the export comes
//! after that cursor, so a job that exports and then follows the feed misses nothing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::changes::{self, Change, ChangeKind, Cursor};
use crate::db::schema::{changes as log, orders, products};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::http::pagination::Page;
use crate::orders::status::Status;
use crate::stock::channels::{self, ChannelPool};

/// One SKU whose availability on the channel changed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SkuChange {
    pub sku: String,
    /// What the channel may sell now: `max(0, sum of its locations' available - buffer)`.
    pub available: i64,
    /// When the last change to it within this page was committed.
    pub changed_at: DateTime<Utc>,
}

/// One order imported through the channel whose status (or curbside arrival, or at-risk
/// flag) changed; `status` is the order's status now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderChange {
    pub order_id: String,
    pub number: String,
    /// The order's id in the channel's own system.
    pub external_ref: Option<String>,
    pub location: String,
    pub status: Status,
    pub changed_at: DateTime<Utc>,
}

/// `GET /v1/channels/{code}/changes`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangePage {
    /// Per SKU, in the order of each one's last change in this page.
    pub items: Vec<SkuChange>,
    /// Imported orders that changed, in the same way.
    pub orders: Vec<OrderChange>,
    /// Pass as `after` to continue. With nothing new it is the cursor you sent, unless only
    /// other channels' changes were passed over.
    pub cursor: String,
}

/// One SKU of the export.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SkuAvailability {
    pub sku: String,
    pub available: i64,
}

/// `GET /v1/channels/{code}/availability`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportPage {
    /// Every product, in SKU order, with what the channel may sell of it.
    pub items: Vec<SkuAvailability>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
    /// Where the feed continues after this export: taken when the export began (the same on
    /// every page), so nothing committed while it runs is lost.
    pub feed_cursor: String,
}

fn pool_of(conn: &mut DbConn, channel: &str) -> Result<ChannelPool, ApiError> {
    channels::pool(conn, channel)?.ok_or_else(|| ApiError::NotFound(format!("no channel {channel}")))
}

/// Up to `limit` changes of `channel` after `after`, coalesced. Run inside `read_tx`: the
/// log, the horizon and the counts are then one snapshot.
pub fn changes_after(conn: &mut DbConn, channel: &str, after: Cursor, limit: i64) -> Result<ChangePage, ApiError> {
    let pool = pool_of(conn, channel)?;
    changes::check_kept(conn, after)?;
    let horizon = changes::horizon(conn)?;
    let imported = orders::table.filter(orders::channel.eq(channel)).select(orders::id.nullable());
    let rows: Vec<Change> = log::table
        .filter(changes::after(after))
        .filter(log::txid.lt(horizon))
        .filter(
            log::kind
                .eq(ChangeKind::Level.as_str())
                .and(log::location.eq_any(&pool.locations))
                .or(log::kind.eq(ChangeKind::Order.as_str()).and(log::order_id.eq_any(imported))),
        )
        .order((log::txid.asc(), log::seq.asc()))
        .limit(limit)
        .select(Change::as_select())
        .load(conn)?;
    // A short page read everything of this channel up to the horizon: the reader may skip to
    // the head, past other channels' changes, which keeps a quiet channel's cursor fresh.
    let cursor = match rows.last() {
        Some(last) if rows.len() as i64 == limit => last.cursor(),
        _ => changes::head_below(conn, horizon)?.max(after),
    };
    let (skus, order_ids) = coalesce(&rows);
    let names: Vec<&str> = skus.iter().map(|(sku, _)| *sku).collect();
    let available = channels::available_in(conn, &pool, &names)?;
    let items = skus
        .iter()
        .map(|&(sku, at)| SkuChange {
            sku: sku.to_string(),
            available: pool.sellable(available.get(sku).copied().unwrap_or(0)),
            changed_at: at.and_utc(),
        })
        .collect();
    let orders = order_changes(conn, &order_ids)?;
    Ok(ChangePage { items, orders, cursor: cursor.text() })
}

/// A SKU or an order, with the time of its last change.
type Changed<'a> = (&'a str, NaiveDateTime);

/// The SKUs and the orders of `rows`, each once, in the order of its last change, with the
/// time of that change: walked from the newest, the first sight of each is its last change.
fn coalesce(rows: &[Change]) -> (Vec<Changed<'_>>, Vec<Changed<'_>>) {
    let (mut skus, mut orders) = (Vec::new(), Vec::new());
    let mut seen: HashSet<(&str, bool)> = HashSet::new();
    for row in rows.iter().rev() {
        let (key, list) = match (&row.what.sku, &row.what.order_id) {
            (Some(sku), _) if row.what.kind == ChangeKind::Level.as_str() => ((sku.as_str(), true), &mut skus),
            (_, Some(order)) => ((order.as_str(), false), &mut orders),
            _ => continue,
        };
        if seen.insert(key) {
            list.push((key.0, row.what.at));
        }
    }
    skus.reverse();
    orders.reverse();
    (skus, orders)
}

fn order_changes(conn: &mut DbConn, changed: &[Changed]) -> Result<Vec<OrderChange>, ApiError> {
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = changed.iter().map(|(id, _)| *id).collect();
    let rows: Vec<(String, String, Option<String>, String, String)> = orders::table
        .filter(orders::id.eq_any(&ids))
        .select((orders::id, orders::number, orders::external_ref, orders::location, orders::status))
        .load(conn)?;
    let mut by_id: HashMap<String, (String, Option<String>, String, String)> = rows
        .into_iter()
        .map(|(id, number, reference, location, status)| (id, (number, reference, location, status)))
        .collect();
    changed
        .iter()
        .filter_map(|&(id, at)| by_id.remove(id).map(|row| (id, at, row)))
        .map(|(id, at, (number, external_ref, location, status))| {
            Ok(OrderChange {
                order_id: id.to_string(),
                number,
                external_ref,
                location,
                status: Status::from_stored(&status)?,
                changed_at: at.and_utc(),
            })
        })
        .collect()
}

/// One page of the channel's export. The page cursor carries the feed cursor of the first
/// page, so every page answers the same one.
pub fn export(conn: &mut DbConn, channel: &str, page: &Page) -> Result<ExportPage, ApiError> {
    let pool = pool_of(conn, channel)?;
    let (feed, after_sku) = match &page.cursor {
        None => (changes::head(conn)?, None),
        Some(position) => {
            let (feed, sku) = position
                .split_once('/')
                .and_then(|(feed, sku)| Some((Cursor::parse(feed)?, sku.to_string())))
                .ok_or_else(|| ApiError::validation("cursor", "is not a cursor for this list"))?;
            (feed, Some(sku))
        }
    };
    let mut query = products::table.select(products::sku).order(products::sku.asc()).limit(page.limit + 1).into_boxed();
    if let Some(sku) = &after_sku {
        query = query.filter(products::sku.gt(sku));
    }
    let mut skus: Vec<String> = query.load(conn)?;
    let more = skus.len() as i64 > page.limit;
    skus.truncate(page.limit as usize);
    let names: Vec<&str> = skus.iter().map(String::as_str).collect();
    let available = channels::available_in(conn, &pool, &names)?;
    let next_cursor = match skus.last() {
        Some(last) if more => Some(crate::http::pagination::encode_cursor(&format!("{}/{last}", feed.text()))),
        _ => None,
    };
    let items = skus
        .into_iter()
        .map(|sku| {
            let available = pool.sellable(available.get(&sku).copied().unwrap_or(0));
            SkuAvailability { sku, available }
        })
        .collect();
    Ok(ExportPage { items, next_cursor, feed_cursor: feed.text() })
}

/// Reads a feed cursor given by a client (`after`).
pub fn parse_after(raw: Option<&str>) -> Result<Cursor, ApiError> {
    match raw {
        None => Ok(Cursor::START),
        Some(text) => Cursor::parse(text).ok_or_else(|| {
            ApiError::validation("after", "is not a cursor this server gave out (a feed or export cursor)")
        }),
    }
}
