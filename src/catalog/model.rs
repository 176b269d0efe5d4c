//! Locations and products: database rows, request forms and API representations.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{locations, products};
use crate::error::ApiError;
use crate::http::formats::{clock_minutes, is_currency, is_language_tag};
use crate::http::json::Validate;
use crate::http::validate::Validator;

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

crate::db::stored::stored_enum! {
    pub enum LocationKind as "location kind" {
        Store,
        Warehouse,
    }
}

/// Which pickup services a location offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickupOptions {
    pub in_store: bool,
    pub curbside: bool,
}

/// A week of opening hours in the location's time zone: for each day (`mon` … `sun`) a list
/// of `["HH:MM", "HH:MM"]` intervals; an empty list means closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"mon": [["09:00", "21:00"]], "sun": []}))]
pub struct OpeningHours(pub BTreeMap<String, Vec<[String; 2]>>);

/// `PUT /v1/locations/{code}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationForm {
    pub name: String,
    pub kind: LocationKind,
    /// IANA time zone, e.g. `Europe/Warsaw`.
    pub timezone: String,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub pickup: PickupOptions,
    /// Days a ready order waits for its customer (0 to 30).
    pub pickup_hold_days: i32,
    /// Whether this location's stock counts towards online availability.
    pub fulfils_online: bool,
    pub active: bool,
    /// BCP 47 language tag used for customers who have none, e.g. `pl-PL`.
    pub locale: Option<String>,
    pub opening_hours: Option<OpeningHours>,
    /// Orders the store picks per hour (1 to 1000), which the ready-by promise counts its
    /// queue with; left out, the deployment's `PICKING_ORDERS_PER_HOUR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picking_per_hour: Option<i32>,
}

impl Validate for LocationForm {
    fn validate(&self) -> Result<(), crate::error::ApiError> {
        let mut v = Validator::new();
        v.text("name", &self.name, 200);
        v.check(
            self.timezone.parse::<chrono_tz::Tz>().is_ok(),
            "timezone",
            "must be an IANA time zone such as Europe/Warsaw",
        );
        if let Some(address) = &self.address {
            v.text("address", address, 500);
        }
        match (self.latitude, self.longitude) {
            (Some(lat), Some(lng)) => {
                v.check((-90.0..=90.0).contains(&lat), "latitude", "must be between -90 and 90");
                v.check((-180.0..=180.0).contains(&lng), "longitude", "must be between -180 and 180");
            }
            (None, None) => {}
            (None, Some(_)) => v.add("latitude", "give latitude and longitude together"),
            (Some(_), None) => v.add("longitude", "give latitude and longitude together"),
        }
        v.range("pickup_hold_days", self.pickup_hold_days as i64, 0, 30);
        if let Some(per_hour) = self.picking_per_hour {
            v.range("picking_per_hour", per_hour as i64, 1, 1_000);
        }
        if self.kind == LocationKind::Warehouse && (self.pickup.in_store || self.pickup.curbside) {
            v.add("pickup", "a warehouse offers no pickup");
        }
        if let Some(locale) = &self.locale {
            v.check(is_language_tag(locale), "locale", "must be a BCP 47 language tag such as pl-PL");
        }
        if let Some(hours) = &self.opening_hours {
            for (field, message) in opening_hours_problems(hours) {
                v.add(field, message);
            }
        }
        v.finish()
    }
}

fn opening_hours_problems(hours: &OpeningHours) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (day, intervals) in &hours.0 {
        let field = format!("opening_hours.{day}");
        if !WEEKDAYS.contains(&day.as_str()) {
            problems.push((field, "days are mon, tue, wed, thu, fri, sat, sun".into()));
            continue;
        }
        let mut previous_close = 0;
        for (i, [open, close]) in intervals.iter().enumerate() {
            match (clock_minutes(open), clock_minutes(close)) {
                (Some(o), Some(c)) if o < c && (i == 0 || o >= previous_close) => previous_close = c,
                (Some(_), Some(_)) => problems.push((
                    format!("{field}[{i}]"),
                    "intervals must open before they close, in order, without overlap".into(),
                )),
                _ => problems.push((format!("{field}[{i}]"), "times are HH:MM from 00:00 to 24:00".into())),
            }
        }
    }
    problems
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = locations)]
pub struct LocationRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub timezone: String,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub pickup_in_store: bool,
    pub pickup_curbside: bool,
    pub pickup_hold_days: i32,
    pub fulfils_online: bool,
    pub active: bool,
    pub locale: Option<String>,
    pub opening_hours: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = locations, treat_none_as_null = true)]
pub struct LocationChanges<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub timezone: &'a str,
    pub address: Option<&'a str>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub pickup_in_store: bool,
    pub pickup_curbside: bool,
    pub pickup_hold_days: i32,
    pub fulfils_online: bool,
    pub active: bool,
    pub locale: Option<&'a str>,
    pub opening_hours: Option<String>,
    pub updated_at: NaiveDateTime,
}

/// A store or warehouse.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Location {
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    pub timezone: String,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub pickup: PickupOptions,
    pub pickup_hold_days: i32,
    pub fulfils_online: bool,
    pub active: bool,
    pub locale: Option<String>,
    pub opening_hours: Option<OpeningHours>,
    /// Orders the store picks per hour, when it sets its own pace.
    pub picking_per_hour: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Distance from `near`, when the request gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

impl LocationRow {
    /// The location's time zone (UTC if the stored name no longer parses).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// Its opening hours, when it publishes them.
    pub fn hours(&self) -> Option<OpeningHours> {
        self.opening_hours.as_deref().and_then(|json| serde_json::from_str(json).ok())
    }
}

impl TryFrom<LocationRow> for Location {
    type Error = ApiError;

    fn try_from(row: LocationRow) -> Result<Self, ApiError> {
        Ok(Location {
            kind: LocationKind::from_stored(&row.kind)?,
            pickup: PickupOptions { in_store: row.pickup_in_store, curbside: row.pickup_curbside },
            opening_hours: row.hours(),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
            code: row.code,
            name: row.name,
            timezone: row.timezone,
            address: row.address,
            latitude: row.latitude,
            longitude: row.longitude,
            pickup_hold_days: row.pickup_hold_days,
            fulfils_online: row.fulfils_online,
            active: row.active,
            locale: row.locale,
            picking_per_hour: None,
            distance_km: None,
        })
    }
}

/// An amount of money in the currency's minor unit (cents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// `PUT /v1/products/{sku}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductForm {
    pub name: String,
    /// The one price on every channel.
    pub price: Money,
}

/// Largest accepted price: a trillion minor units.
pub const MAX_PRICE_MINOR: i64 = 1_000_000_000_000;

impl Validate for ProductForm {
    fn validate(&self) -> Result<(), crate::error::ApiError> {
        let mut v = Validator::new();
        v.text("name", &self.name, 300);
        v.range("price.amount_minor", self.price.amount_minor, 0, MAX_PRICE_MINOR);
        v.check(is_currency(&self.price.currency), "price.currency", "must be an ISO 4217 code such as EUR");
        v.finish()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub sku: String,
    pub name: String,
    pub price_amount_minor: i64,
    pub price_currency: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductChanges<'a> {
    pub sku: &'a str,
    pub name: &'a str,
    pub price_amount_minor: i64,
    pub price_currency: &'a str,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ProductRow> for Product {
    fn from(row: ProductRow) -> Self {
        Product {
            sku: row.sku,
            name: row.name,
            price: Money { amount_minor: row.price_amount_minor, currency: row.price_currency },
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// `HH:MM` (or `24:00`) on a local day, as UTC.
pub fn local_time(day: chrono::NaiveDate, clock: &str, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let minutes = i64::from(clock_minutes(clock)?);
    let local: NaiveDateTime = day.and_hms_opt(0, 0, 0)? + chrono::TimeDelta::minutes(minutes);
    chrono::TimeZone::from_local_datetime(&zone, &local)
        .earliest()
        .or_else(|| chrono::TimeZone::from_local_datetime(&zone, &(local + chrono::TimeDelta::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours_are_checked() {
        let ok = OpeningHours(
            [("mon".to_string(), vec![["09:00".into(), "13:00".into()], ["14:00".into(), "24:00".into()]])].into(),
        );
        assert!(opening_hours_problems(&ok).is_empty());
        let overlap = OpeningHours(
            [("tue".to_string(), vec![["09:00".into(), "13:00".into()], ["12:00".into(), "18:00".into()]])].into(),
        );
        assert_eq!(opening_hours_problems(&overlap)[0].0, "opening_hours.tue[1]");
        let bad_day = OpeningHours([("funday".to_string(), vec![])].into());
        assert_eq!(opening_hours_problems(&bad_day)[0].0, "opening_hours.funday");
        let bad_time = OpeningHours([("wed".to_string(), vec![["9:00".into(), "25:00".into()]])].into());
        assert_eq!(opening_hours_problems(&bad_time).len(), 1);
    }
}
