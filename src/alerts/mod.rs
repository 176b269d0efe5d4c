//! Back-in-stock alerts: a shopper asks to hear when a SKU is back at some stores, online, or
//! both, for at least so many units. A scan (a background job) reads availability from the
//! levels, as every channel does, and tells each alert whose wish came true once, through the
//! outbox, on the customer's channels: whatever brought the stock back (a receipt, a count, a
//! cancelled order, an expired hold). Alerts are marketing: they need the customer's
//! marketing consent, kept apart from their channel choices, and every alert email carries a
//! one-click unsubscribe. A customer hears of at most `STOCK_ALERTS_PER_DAY` alerts a day; the
//! rest wait their turn in the outbox, and one whose stock is gone again by then is dropped.

pub mod model;
pub mod routes;

use std::collections::HashMap;

use base64::Engine;
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::auth::{Principal, Role};
use crate::catalog::{self, model::LocationKind};
use crate::db::schema::stock_alerts;
use crate::db::DbConn;
use crate::error::{ApiError, FieldError};
use crate::notify::outbox::{self, About};
use crate::orders::events::Event;
use model::*;

/// Active alerts read per page of a scan.
const SCAN_PAGE: i64 = 500;
/// The window `STOCK_ALERTS_PER_DAY` counts in.
const RATE_WINDOW: TimeDelta = TimeDelta::hours(24);

#[derive(Queryable, Selectable)]
#[diesel(table_name = stock_alerts)]
struct AlertRow {
    id: String,
    customer_id: String,
    sku: String,
    locations: String,
    online: bool,
    quantity: i64,
    status: String,
    found_at: Option<String>,
    notified_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl AlertRow {
    fn places(&self) -> Vec<String> {
        serde_json::from_str(&self.locations).unwrap_or_default()
    }

    fn view(self) -> Result<StockAlert, ApiError> {
        Ok(StockAlert {
            locations: self.places(),
            status: AlertStatus::from_stored(&self.status)?,
            id: self.id,
            customer_id: self.customer_id,
            sku: self.sku,
            online: self.online,
            quantity: self.quantity,
            found_at: self.found_at,
            notified_at: self.notified_at.map(|at| at.and_utc()),
            created_at: self.created_at.and_utc(),
        })
    }
}

/// Only the customer themself and admins manage a customer's alerts; other customers get 404,
/// everyone else 403.
pub fn require_owner(who: &Principal, customer_id: &str) -> Result<(), ApiError> {
    match who.role {
        Role::Admin => Ok(()),
        Role::Customer if who.sub == customer_id => Ok(()),
        Role::Customer => Err(ApiError::NotFound(format!("no customer {customer_id}"))),
        _ => Err(ApiError::Forbidden("stock alerts are the shopper's own".into())),
    }
}

/// Subscribes a customer to a SKU's return. The customer needs a profile (their channels)
/// and marketing consent (given with the form, or before); the stores must be active stores.
/// A wish already true (enough on a shelf it names) is 409: hold it now instead.
pub fn subscribe(
    conn: &mut DbConn,
    who: &Principal,
    customer_id: &str,
    form: &AlertForm,
    now: NaiveDateTime,
) -> Result<StockAlert, ApiError> {
    require_owner(who, customer_id)?;
    if crate::customers::find_row(conn, customer_id)?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no customer {customer_id}: set up the profile and its channels first"
        )));
    }
    catalog::find_product(conn, &form.sku)?;
    let places = form.locations.clone().unwrap_or_default();
    let mut unknown = Vec::new();
    for (i, code) in places.iter().enumerate() {
        let store =
            catalog::find_location(conn, code).ok().filter(|l| l.active && l.kind == LocationKind::Store.as_str());
        if store.is_none() {
            unknown.push(FieldError::new(format!("locations[{i}]"), format!("no active store {code}")));
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::Unknown(unknown));
    }
    if form.marketing_consent == Some(true) {
        crate::customers::record_marketing_consent(
            conn,
            customer_id,
            true,
            &format!("stock-alert by {}", who.actor()),
            now,
        )?;
    } else if !crate::customers::has_marketing_consent(conn, customer_id)? {
        return Err(ApiError::ConsentRequired(
            "back-in-stock alerts are marketing messages: send marketing_consent: true to give consent".into(),
        ));
    }
    let active: i64 = stock_alerts::table
        .filter(stock_alerts::customer_id.eq(customer_id))
        .filter(stock_alerts::status.eq(AlertStatus::Active.as_str()))
        .count()
        .get_result(conn)?;
    if active >= MAX_ACTIVE_PER_CUSTOMER {
        return Err(ApiError::Conflict(format!(
            "{customer_id} has {MAX_ACTIVE_PER_CUSTOMER} active alerts; cancel one first"
        )));
    }
    let quantity = form.quantity.unwrap_or(1);
    let online = form.online.unwrap_or(false);
    let levels = levels_of(conn, &form.sku)?;
    if let Some(place) = found(&levels, &places, online, quantity) {
        return Err(ApiError::Conflict(format!(
            "{} is available {} now: hold it instead",
            form.sku,
            if place == ONLINE { "online".to_string() } else { format!("at {place}") }
        )));
    }
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(stock_alerts::table)
        .values((
            stock_alerts::id.eq(&id),
            stock_alerts::customer_id.eq(customer_id),
            stock_alerts::sku.eq(&form.sku),
            stock_alerts::locations.eq(serde_json::to_string(&places).unwrap_or_else(|_| "[]".into())),
            stock_alerts::online.eq(online),
            stock_alerts::quantity.eq(quantity),
            stock_alerts::status.eq(AlertStatus::Active.as_str()),
            stock_alerts::created_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, customer_id, &id)
}

/// A customer's alerts, newest first (cancelled ones included: what they asked for, and when).
pub fn list(conn: &mut DbConn, customer_id: &str) -> Result<AlertList, ApiError> {
    let rows: Vec<AlertRow> = stock_alerts::table
        .filter(stock_alerts::customer_id.eq(customer_id))
        .order((stock_alerts::created_at.desc(), stock_alerts::id.desc()))
        .select(AlertRow::as_select())
        .load(conn)?;
    Ok(AlertList { items: rows.into_iter().map(AlertRow::view).collect::<Result<_, _>>()? })
}

/// One of a customer's alerts, or 404.
pub fn find(conn: &mut DbConn, customer_id: &str, id: &str) -> Result<StockAlert, ApiError> {
    find_row(conn, customer_id, id)?.view()
}

fn find_row(conn: &mut DbConn, customer_id: &str, id: &str) -> Result<AlertRow, ApiError> {
    stock_alerts::table
        .find(id)
        .filter(stock_alerts::customer_id.eq(customer_id))
        .select(AlertRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no stock alert {id} of {customer_id}")))
}

/// Withdraws an alert (a told or withdrawn one stays as it is).
pub fn cancel(conn: &mut DbConn, customer_id: &str, id: &str) -> Result<(), ApiError> {
    find_row(conn, customer_id, id)?;
    diesel::update(stock_alerts::table.find(id).filter(stock_alerts::status.eq(AlertStatus::Active.as_str())))
        .set(stock_alerts::status.eq(AlertStatus::Cancelled.as_str()))
        .execute(conn)?;
    Ok(())
}

/// The one-click unsubscribe token of a customer: their id and a MAC over it. Nothing is
/// stored; only this server can make one.
pub fn unsubscribe_token(key: &[u8], customer_id: &str) -> String {
    let mac = crate::crypto::hmac_sha256(key, &[b"unsubscribe\n", customer_id.as_bytes()]);
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(customer_id);
    format!("{id}.{}", &crate::crypto::hex(&mac)[..32])
}

/// The customer a token names, when it is one this server made.
pub fn token_customer(key: &[u8], token: &str) -> Option<String> {
    let (id, _) = token.split_once('.')?;
    let id = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    crate::crypto::same(token, &unsubscribe_token(key, &id)).then_some(id)
}

/// One click: marketing consent withdrawn and every active alert cancelled; its queued
/// messages are then suppressed when they come up. Returns how many alerts were cancelled.
pub fn unsubscribe(conn: &mut DbConn, customer_id: &str, now: NaiveDateTime) -> Result<usize, ApiError> {
    if crate::customers::has_marketing_consent(conn, customer_id)? {
        crate::customers::record_marketing_consent(conn, customer_id, false, "one-click unsubscribe", now)?;
    }
    Ok(diesel::update(
        stock_alerts::table
            .filter(stock_alerts::customer_id.eq(customer_id))
            .filter(stock_alerts::status.eq(AlertStatus::Active.as_str())),
    )
    .set(stock_alerts::status.eq(AlertStatus::Cancelled.as_str()))
    .execute(conn)?)
}

/// A SKU's available units: by store code, and online under `ONLINE`.
fn levels_of(conn: &mut DbConn, sku: &str) -> Result<HashMap<String, i64>, ApiError> {
    let availability = crate::stock::availability::for_sku(conn, sku, None, usize::MAX)?;
    let mut levels: HashMap<String, i64> =
        availability.locations.into_iter().map(|place| (place.location, place.available)).collect();
    levels.insert(ONLINE.to_string(), availability.online.available);
    Ok(levels)
}

/// The first place an alert watches with `quantity` available: its stores in the order given,
/// then online.
fn found<'a>(levels: &HashMap<String, i64>, places: &'a [String], online: bool, quantity: i64) -> Option<&'a str> {
    let enough = |place: &str| levels.get(place).copied().unwrap_or(0) >= quantity;
    places
        .iter()
        .map(String::as_str)
        .find(|place| enough(place))
        .or_else(|| (online && enough(ONLINE)).then_some(ONLINE))
}

/// One scan: every active alert whose wish is true now is marked told and its message queued
/// (rate-limited per customer). Returns how many were told. Safe in several processes: an
/// alert is told by the one conditional update that moves it off `active`.
pub fn scan(conn: &mut DbConn, per_day: i64, now: NaiveDateTime) -> Result<usize, ApiError> {
    let mut told = 0;
    let mut after: Option<(NaiveDateTime, String)> = None;
    let mut levels: HashMap<String, HashMap<String, i64>> = HashMap::new();
    loop {
        let mut query = stock_alerts::table
            .filter(stock_alerts::status.eq(AlertStatus::Active.as_str()))
            .select(AlertRow::as_select())
            .order((stock_alerts::created_at.asc(), stock_alerts::id.asc()))
            .limit(SCAN_PAGE)
            .into_boxed();
        if let Some((at, id)) = &after {
            query = query.filter(
                stock_alerts::created_at
                    .gt(*at)
                    .or(stock_alerts::created_at.eq(*at).and(stock_alerts::id.gt(id.clone()))),
            );
        }
        let page: Vec<AlertRow> = query.load(conn)?;
        let full = page.len() as i64 == SCAN_PAGE;
        after = page.last().map(|row| (row.created_at, row.id.clone()));
        for alert in page {
            if !levels.contains_key(&alert.sku) {
                let read = levels_of(conn, &alert.sku)?;
                levels.insert(alert.sku.clone(), read);
            }
            let places = alert.places();
            let Some(place) = found(&levels[&alert.sku], &places, alert.online, alert.quantity) else { continue };
            if !crate::customers::has_marketing_consent(conn, &alert.customer_id)? {
                continue;
            }
            let moved = diesel::update(
                stock_alerts::table.find(&alert.id).filter(stock_alerts::status.eq(AlertStatus::Active.as_str())),
            )
            .set((
                stock_alerts::status.eq(AlertStatus::Notified.as_str()),
                stock_alerts::found_at.eq(place),
                stock_alerts::notified_at.eq(now),
            ))
            .execute(conn)?;
            if moved == 1 {
                let send_at = turn_of(conn, &alert.customer_id, per_day, now)?;
                let subject = subject_of(&alert.id);
                outbox::enqueue_about(
                    conn,
                    About::Subject(&subject),
                    &alert.customer_id,
                    Event::BackInStock,
                    send_at,
                    None,
                )?;
                told += 1;
            }
        }
        if !full {
            return Ok(told);
        }
    }
}

/// The outbox subject of an alert.
pub fn subject_of(alert_id: &str) -> String {
    format!("alert:{alert_id}")
}

/// When a customer's next alert may go out: now, unless `per_day` alerts are already due in
/// the last day; then a day after the one that would be `per_day` back.
fn turn_of(conn: &mut DbConn, customer_id: &str, per_day: i64, now: NaiveDateTime) -> Result<NaiveDateTime, ApiError> {
    let times = outbox::first_due_by_subject(conn, customer_id, Event::BackInStock, now - RATE_WINDOW)?;
    let per_day = per_day.max(1) as usize;
    if times.len() < per_day {
        return Ok(now);
    }
    Ok((times[times.len() - per_day] + RATE_WINDOW).max(now))
}

/// What an alert's message says, read again just before it goes out: `None` when it should
/// not (withdrawn, consent withdrawn, or the stock gone again).
pub struct Notice {
    pub customer_id: String,
    pub sku: String,
    pub quantity: i64,
    /// A store's code, or `ONLINE`.
    pub found_at: String,
}

/// The alert behind a message, if its message is still true; else why not.
pub fn still_true(conn: &mut DbConn, alert_id: &str) -> Result<Result<Notice, String>, ApiError> {
    let Some(row) = stock_alerts::table.find(alert_id).select(AlertRow::as_select()).first(conn).optional()? else {
        return Ok(Err("the alert no longer exists".into()));
    };
    if AlertStatus::from_stored(&row.status)? != AlertStatus::Notified {
        return Ok(Err(format!("the alert is {}", row.status)));
    }
    if !crate::customers::has_marketing_consent(conn, &row.customer_id)? {
        return Ok(Err("the customer withdrew marketing consent".into()));
    }
    let found_at = row.found_at.clone().unwrap_or_else(|| ONLINE.to_string());
    let levels = levels_of(conn, &row.sku)?;
    if levels.get(&found_at).copied().unwrap_or(0) < row.quantity {
        // Gone again before its turn: the shopper was not told, so the alert waits again.
        diesel::update(
            stock_alerts::table.find(alert_id).filter(stock_alerts::status.eq(AlertStatus::Notified.as_str())),
        )
        .set((
            stock_alerts::status.eq(AlertStatus::Active.as_str()),
            stock_alerts::found_at.eq(None::<String>),
            stock_alerts::notified_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
        return Ok(Err(format!("{} is no longer available at {found_at}; the alert waits again", row.sku)));
    }
    Ok(Ok(Notice { customer_id: row.customer_id, sku: row.sku, quantity: row.quantity, found_at }))
}
