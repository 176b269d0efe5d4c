//! Availability for shoppers and channels, always derived from the levels at read time:
//! there is no second counter to drift. Each read is one indexed query, whatever the number
//! of SKUs or locations (a second, primary-key lookup only tells "unknown" from "none").

use std::collections::HashMap;

use diesel::prelude::*;

use super::model::*;
use crate::catalog::geo::{coordinates, Coordinates};
use crate::catalog::model::PickupOptions;
use crate::db::schema::{locations, stock_levels};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::{catalog, stock};

type AvailabilityRow = (String, String, String, Option<f64>, Option<f64>, bool, bool, bool, i64, i64, i64);

/// A SKU's availability online and at each active store; nearest first with `near`.
pub fn for_sku(
    conn: &mut DbConn,
    sku: &str,
    near: Option<Coordinates>,
    limit: usize,
) -> Result<Availability, ApiError> {
    Ok(levels_of(conn, sku)?.present(near, limit))
}

/// A SKU's availability as read, before it is sorted for one shopper: what the availability
/// cache keeps, since `near` and `limit` differ from shopper to shopper.
#[derive(Debug, Clone)]
pub struct SkuLevels {
    sku: String,
    online: i64,
    /// Active stores, in code order, with their coordinates.
    stores: Vec<(LocationAvailability, Option<Coordinates>)>,
}

impl SkuLevels {
    #[cfg(test)]
    pub fn empty(sku: &str) -> SkuLevels {
        SkuLevels { sku: sku.to_string(), online: 0, stores: Vec::new() }
    }

    /// The answer for one shopper: nearest first with `near` (else by code), at most `limit`.
    pub fn present(&self, near: Option<Coordinates>, limit: usize) -> Availability {
        let mut stores: Vec<LocationAvailability> = self
            .stores
            .iter()
            .map(|(store, at)| LocationAvailability {
                distance_km: near.zip(*at).map(|(origin, at)| origin.distance_km(&at)),
                ..store.clone()
            })
            .collect();
        if near.is_some() {
            stores.sort_by(|a, b| {
                let (da, db) = (a.distance_km.unwrap_or(f64::INFINITY), b.distance_km.unwrap_or(f64::INFINITY));
                da.total_cmp(&db).then_with(|| a.location.cmp(&b.location))
            });
        }
        stores.truncate(limit);
        Availability { sku: self.sku.clone(), online: OnlineAvailability { available: self.online }, locations: stores }
    }
}

/// Reads a SKU's levels at every active location: one indexed query (a second, primary-key
/// lookup only tells "unknown" from "none").
pub fn levels_of(conn: &mut DbConn, sku: &str) -> Result<SkuLevels, ApiError> {
    let rows: Vec<AvailabilityRow> = stock_levels::table
        .inner_join(locations::table)
        .filter(stock_levels::sku.eq(sku))
        .filter(locations::active.eq(true))
        .select((
            locations::code,
            locations::name,
            locations::kind,
            locations::latitude,
            locations::longitude,
            locations::pickup_in_store,
            locations::pickup_curbside,
            locations::fulfils_online,
            stock_levels::on_hand,
            stock_levels::reserved,
            stock_levels::safety_stock,
        ))
        .load(conn)?;
    if rows.is_empty() {
        // Only an unknown SKU is a 404; a known one with no stock anywhere is zero.
        catalog::find_product(conn, sku)?;
    }
    let mut online = 0;
    let mut stores = Vec::new();
    let by_location: HashMap<String, i64> =
        rows.iter().map(|(code, _, _, _, _, _, _, _, o, r, s)| (code.clone(), available(*o, *r, *s))).collect();
    let lanes = match by_location.values().any(|units| *units <= 0) {
        true => crate::transfers::lanes::all_lanes(conn)?,
        false => Vec::new(),
    };
    for (code, name, kind, lat, lng, in_store, curbside, fulfils_online, on_hand, reserved, safety) in rows {
        let units = available(on_hand, reserved, safety);
        let by_lane = match units > 0 || kind != "store" {
            true => None,
            false => crate::transfers::lanes::soonest_by_lane(&lanes, &code, &by_location),
        };
        let available_from = match by_lane {
            Some(days) => {
                let store = catalog::find_location(conn, &code)?;
                crate::transfers::lanes::arrival(chrono::Utc::now(), days, store.zone(), store.hours().as_ref())
            }
            None => None,
        };
        if fulfils_online {
            online += units;
        }
        if kind == "store" {
            let store = LocationAvailability {
                location: code,
                name,
                available: units,
                pickup: PickupOptions { in_store, curbside },
                distance_km: None,
                available_from,
            };
            stores.push((store, coordinates(lat, lng)));
        }
    }
    stores.sort_by(|a, b| a.0.location.cmp(&b.0.location));
    Ok(SkuLevels { sku: sku.to_string(), online, stores })
}

/// What a location can sell of each of `skus` now (SKUs it never stocked are left out).
pub fn available_at(conn: &mut DbConn, location: &str, skus: &[&str]) -> Result<HashMap<String, i64>, ApiError> {
    Ok(stock_levels::table
        .filter(stock_levels::location.eq(location))
        .filter(stock_levels::sku.eq_any(skus))
        .select((stock_levels::sku, stock_levels::on_hand, stock_levels::reserved, stock_levels::safety_stock))
        .load::<(String, i64, i64, i64)>(conn)?
        .into_iter()
        .map(|(sku, on_hand, reserved, safety)| (sku, available(on_hand, reserved, safety)))
        .collect())
}

/// Whether one store can serve every line of a cart.
pub fn check(conn: &mut DbConn, form: &CheckForm) -> Result<CheckResult, ApiError> {
    let skus: Vec<&str> = form.lines.iter().map(|l| l.sku.as_str()).collect();
    let active: Option<bool> =
        locations::table.find(&form.location).select(locations::active).first(conn).optional()?;
    let levels = if active == Some(true) { available_at(conn, &form.location, &skus)? } else { HashMap::new() };
    if levels.is_empty() {
        let location = catalog::find_location(conn, &form.location)?;
        if !location.active {
            return Err(ApiError::NotFound(format!("location {} is not active", form.location)));
        }
    }
    let lines: Vec<CheckedLine> = form
        .lines
        .iter()
        .map(|line| {
            let units = levels.get(&line.sku).copied().unwrap_or(0);
            CheckedLine { sku: line.sku.clone(), quantity: line.quantity, available: units, ok: units >= line.quantity }
        })
        .collect();
    Ok(CheckResult { location: form.location.clone(), ok: lines.iter().all(|l| l.ok), lines })
}

/// A sales channel's sellable quantity: its locations' `available`, summed, less its buffer.
/// A channel with no locations listed sells from every active location with `fulfils_online`.
pub fn for_channel(conn: &mut DbConn, channel: &str, sku: &str) -> Result<ChannelAvailability, ApiError> {
    let pool =
        stock::channels::pool(conn, channel)?.ok_or_else(|| ApiError::NotFound(format!("no channel {channel}")))?;
    let available = stock::channels::available_in(conn, &pool, &[sku])?;
    let Some(&total) = available.get(sku) else {
        // No level in the pool: a known product with nothing to sell here, or no product.
        catalog::find_product(conn, sku)?;
        return Ok(ChannelAvailability { channel: channel.to_string(), sku: sku.to_string(), available: 0 });
    };
    Ok(ChannelAvailability { channel: channel.to_string(), sku: sku.to_string(), available: pool.sellable(total) })
}
