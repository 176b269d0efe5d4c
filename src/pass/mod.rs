//! The shopper's pickup pass page, `/pass/<token>`: linked from the ready email and SMS, opened
//! on a phone at the store. It shows the QR code staff scan, the code in large type, the store
//! with its address, a map link and today's hours, the deadline and the booked slot; for
//! curbside, an "I'm here" form with the bay and the vehicle. Served by this binary as plain
//! HTML (no script at all) under a strict Content-Security-Policy, in the shopper's language,
//! right to left in Arabic.
//!
//! The link is the pass: `orders::pickup::pass_token`, the order's number and a MAC over its id
//! and this readiness's nonce. It opens nothing once the order is no longer waiting.

pub mod page;
pub mod routes;

use chrono::{Datelike, TimeZone, Utc};
use diesel::prelude::*;

use crate::auth::{Principal, Role};
use crate::catalog::model::WEEKDAYS;
use crate::db::schema::orders;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::notify::locale::Lang;
use crate::orders::model::{ArrivalForm, OrderRow};
use crate::orders::pickup;
use crate::orders::status::{self, Fulfilment, Status};
use crate::orders::OrderSettings;

/// What the page shows of a waiting order, already in the shopper's language and time zone.
#[derive(Debug, Clone)]
pub struct Pass {
    pub lang: Lang,
    pub number: String,
    pub code: String,
    /// The QR code of `code`, as an SVG element.
    pub qr_svg: String,
    pub store: String,
    pub address: Option<String>,
    pub map_url: Option<String>,
    /// Today's opening hours at the store, `None` when it publishes none; empty when closed.
    pub today: Option<String>,
    pub deadline: Option<String>,
    pub slot: Option<String>,
    pub curbside: bool,
    /// Set once the shopper said they are here: (bay, vehicle).
    pub arrived: Option<(Option<String>, Option<String>)>,
}

/// What a pass link opens.
#[derive(Debug, Clone)]
pub enum Opened {
    Waiting(Box<Pass>),
    /// The order is no longer waiting (collected, cancelled, expired…): the pass is spent.
    Spent {
        lang: Lang,
        number: String,
        status: Status,
    },
}

/// The order a token names, if the token is its pass; anything else is "no such pass".
fn order_of(conn: &mut DbConn, token: &str, key: &[u8]) -> Result<OrderRow, ApiError> {
    let missing = || ApiError::NotFound("no such pickup pass".into());
    let number = pickup::pass_number(token).ok_or_else(missing)?;
    let row: OrderRow = orders::table
        .filter(orders::number.eq(number))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(missing)?;
    let nonce = row.pickup_code_nonce.as_deref().ok_or_else(missing)?;
    if !pickup::pass_matches(key, token, &row.number, &row.id, nonce) {
        return Err(missing());
    }
    Ok(row)
}

/// Opens a pass.
pub fn open(conn: &mut DbConn, token: &str, key: &[u8]) -> Result<Opened, ApiError> {
    let row = order_of(conn, token, key)?;
    let location = crate::catalog::find_location(conn, &row.location)?;
    let customer = crate::customers::find_row(conn, &row.customer_id)?;
    let lang = Lang::resolve(customer.as_ref().and_then(|c| c.locale.as_deref()), location.locale.as_deref());
    let status = row.status()?;
    if status != Status::ReadyForPickup {
        return Ok(Opened::Spent { lang, number: row.number, status });
    }
    let zone = match &customer {
        Some(customer) => crate::notify::policy::customer_zone(customer, &location),
        None => location.zone(),
    };
    let format = lang.time_format();
    let code = pickup::code(key, &row.id, row.pickup_code_nonce.as_deref().unwrap_or_default());
    let qr = pickup::qr_svg(&code)?;
    let qr_svg = qr.find("<svg").map(|at| qr[at..].to_string()).unwrap_or(qr);
    let slot = crate::orders::slot_of(conn, &row.id)?
        .as_deref()
        .and_then(crate::slots::describe)
        .map(|slot| crate::slots::span_in(&slot, zone, format));
    let weekday = WEEKDAYS[Utc::now().with_timezone(&location.zone()).weekday().num_days_from_monday() as usize];
    let today = location.hours().map(|h| {
        h.0.get(weekday)
            .map(|spans| spans.iter().map(|[open, close]| format!("{open}-{close}")).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    });
    let map_url = crate::catalog::map_url(&location);
    let arrived = crate::orders::arrival_of(conn, &row.id)?.map(|a| (a.bay, a.vehicle));
    Ok(Opened::Waiting(Box::new(Pass {
        lang,
        number: row.number.clone(),
        code,
        qr_svg,
        store: location.name,
        address: location.address,
        map_url,
        today,
        deadline: row.pickup_deadline.map(|d| zone.from_utc_datetime(&d).format(format).to_string()),
        slot,
        curbside: row.fulfilment()? == Fulfilment::Curbside,
        arrived,
    })))
}

/// "I'm here", from the pass of a waiting curbside order: the same arrival the shopper's app
/// announces (`POST /v1/orders/{id}/arrival`), as its customer.
pub fn arrive(
    conn: &mut DbConn,
    token: &str,
    key: &[u8],
    form: &ArrivalForm,
    settings: &OrderSettings,
) -> Result<(), ApiError> {
    let row = order_of(conn, token, key)?;
    let status = row.status()?;
    if status != Status::ReadyForPickup {
        return Err(ApiError::Gone(format!("order {} is {}; this pass is spent", row.number, status::words(status))));
    }
    let customer = Principal { sub: row.customer_id.clone(), role: Role::Customer, store: None, scopes: Vec::new() };
    crate::orders::arrive(conn, &customer, &row.id, form, settings)?;
    Ok(())
}
