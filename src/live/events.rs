//! What a stream sees: change-log rows turned into named events with their data.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::changes::{self, Change, ChangeKind, Cursor};
use crate::db::schema::{changes as log, orders};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::stock::availability;

/// What a stream follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A store's orders: new ones, status changes, curbside arrivals, at-risk flags.
    Store(String),
    /// A SKU's availability, per store and online.
    Sku(String),
}

/// One event as it goes on the wire: `id:` (a log cursor, for `Last-Event-ID`), `event:`
/// and `data:` (JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveEvent {
    pub id: String,
    pub name: &'static str,
    pub data: String,
}

impl LiveEvent {
    /// The event in the `text/event-stream` format.
    pub fn frame(&self) -> String {
        format!("id: {}\nevent: {}\ndata: {}\n\n", self.id, self.name, self.data)
    }
}

/// The event name of an order's timeline entry.
fn order_event_name(entry: &str) -> &'static str {
    match entry {
        "confirmed" => "order.created",
        "arrived" => "order.arrival",
        "at_risk" | "at_risk_cleared" => "order.at_risk",
        _ => "order.status",
    }
}

/// Events for the store streams: one per order row, in log order.
pub fn order_events(conn: &mut DbConn, rows: &[&Change]) -> Result<Vec<(Topic, LiveEvent)>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().filter_map(|row| row.what.order_id.as_deref()).collect();
    let found: Vec<(String, String, String, String)> = orders::table
        .filter(orders::id.eq_any(&ids))
        .select((orders::id, orders::number, orders::status, orders::fulfilment))
        .load(conn)?;
    let by_id: HashMap<String, (String, String, String)> =
        found.into_iter().map(|(id, number, status, fulfilment)| (id, (number, status, fulfilment))).collect();
    let mut events = Vec::new();
    for row in rows {
        let Some(order_id) = row.what.order_id.as_deref() else { continue };
        let Some((number, status, fulfilment)) = by_id.get(order_id) else { continue };
        let entry = row
            .what
            .detail
            .as_deref()
            .and_then(|detail| serde_json::from_str::<serde_json::Value>(detail).ok())
            .and_then(|detail| detail["event"].as_str().map(str::to_string))
            .unwrap_or_default();
        // A status change tells the status it made (a replay long after still says what
        // happened then); other entries tell the status the order has now.
        let status = if crate::orders::status::Status::from_stored(&entry).is_ok() { &entry } else { status };
        let data = json!({
            "order_id": order_id,
            "number": number,
            "location": row.what.location,
            "status": status,
            "fulfilment": fulfilment,
            "entry": entry,
            "at": row.what.at.and_utc(),
        });
        events.push((
            Topic::Store(row.what.location.clone()),
            LiveEvent { id: row.cursor().text(), name: order_event_name(&entry), data: data.to_string() },
        ));
    }
    Ok(events)
}

/// Most stores one availability event lists.
const MAX_LISTED_STORES: usize = 1_000;

/// The `availability` event of a SKU as it is now, with `id` the cursor of its latest change.
pub fn availability_event(conn: &mut DbConn, sku: &str, id: Cursor) -> Result<LiveEvent, ApiError> {
    let now = availability::for_sku(conn, sku, None, MAX_LISTED_STORES)?;
    Ok(LiveEvent { id: id.text(), name: "availability", data: serde_json::to_string(&now).map_err(internal)? })
}

fn internal(error: serde_json::Error) -> ApiError {
    ApiError::Internal(error.to_string())
}

/// Most rows one replay reads: a client far behind gets the rest on its next resume.
const REPLAY_LIMIT: i64 = 1_000;

/// What a stream that resumes after `after` missed of `topic`, up to `through` (where the
/// hub was when the stream joined it): each order row of the store, or the SKU's
/// availability once if it changed.
pub fn replay(conn: &mut DbConn, topic: &Topic, after: Cursor, through: Cursor) -> Result<Vec<LiveEvent>, ApiError> {
    let within = log::table.filter(changes::after(after)).filter(diesel::dsl::not(changes::after(through)));
    let rows: Vec<Change> = match topic {
        Topic::Store(code) => within
            .filter(log::kind.eq(ChangeKind::Order.as_str()))
            .filter(log::location.eq(code))
            .order((log::txid.asc(), log::seq.asc()))
            .limit(REPLAY_LIMIT)
            .select(Change::as_select())
            .load(conn)?,
        Topic::Sku(sku) => within
            .filter(log::kind.eq(ChangeKind::Level.as_str()))
            .filter(log::sku.eq(sku))
            .order((log::txid.desc(), log::seq.desc()))
            .limit(1)
            .select(Change::as_select())
            .load(conn)?,
    };
    match topic {
        Topic::Store(_) => {
            let refs: Vec<&Change> = rows.iter().collect();
            Ok(order_events(conn, &refs)?.into_iter().map(|(_, event)| event).collect())
        }
        Topic::Sku(sku) => match rows.first() {
            Some(latest) => Ok(vec![availability_event(conn, sku, latest.cursor())?]),
            None => Ok(Vec::new()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_entries_name_their_events() {
        assert_eq!(order_event_name("confirmed"), "order.created");
        assert_eq!(order_event_name("arrived"), "order.arrival");
        assert_eq!(order_event_name("at_risk"), "order.at_risk");
        assert_eq!(order_event_name("at_risk_cleared"), "order.at_risk");
        assert_eq!(order_event_name("ready_for_pickup"), "order.status");
        let event = LiveEvent { id: "5.9".into(), name: "order.status", data: "{}".into() };
        assert_eq!(event.frame(), "id: 5.9\nevent: order.status\ndata: {}\n\n");
    }
}
