//! Sales channels: a name, a buffer held back from the channel, and the locations whose stock
//! it sells. A channel stores no stock of its own.

use std::collections::HashMap;

use chrono::Utc;
use diesel::prelude::*;

use super::model::{Channel, ChannelForm};
use crate::db::schema::{channel_locations, channels, locations, stock_levels};
use crate::db::{insert_rows, locking, DbConn};
use crate::error::ApiError;

/// Creates or replaces a channel and its location list; `true` when it was created.
pub fn put(conn: &mut DbConn, code: &str, form: &ChannelForm) -> Result<(bool, Channel), ApiError> {
    let named = form
        .locations
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("locations[{i}]"), c.as_str()))
        .chain(form.default_location.iter().map(|c| ("default_location".to_string(), c.as_str())));
    let unknown = crate::catalog::unknown_codes(conn, crate::catalog::Catalog::Locations, named)?;
    if !unknown.is_empty() {
        return Err(ApiError::Unknown(unknown));
    }
    if let Some(default) = &form.default_location {
        if !form.locations.is_empty() && !form.locations.contains(default) {
            return Err(ApiError::Conflict(format!(
                "default_location {default} is not one of the channel's locations; orders left to it could not be placed"
            )));
        }
    }
    let now = Utc::now().naive_utc();
    let secret = &form.webhook_secret;
    let updated = diesel::update(channels::table.find(code))
        .set((
            channels::name.eq(form.name.trim()),
            channels::buffer.eq(form.buffer),
            channels::default_location.eq(&form.default_location),
            channels::webhook_url.eq(&form.webhook_url),
            channels::webhook_secret.eq(secret),
            channels::updated_at.eq(now),
        ))
        .execute(conn)?;
    let created = updated == 0;
    if created {
        diesel::insert_into(channels::table)
            .values((
                channels::code.eq(code),
                channels::name.eq(form.name.trim()),
                channels::buffer.eq(form.buffer),
                channels::default_location.eq(&form.default_location),
                channels::webhook_url.eq(&form.webhook_url),
                channels::webhook_secret.eq(secret),
                channels::created_at.eq(now),
                channels::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    diesel::delete(channel_locations::table.filter(channel_locations::channel.eq(code))).execute(conn)?;
    let rows: Vec<_> = form
        .locations
        .iter()
        .map(|l| (channel_locations::channel.eq(code), channel_locations::location.eq(l)))
        .collect();
    if !rows.is_empty() {
        insert_rows!(conn, channel_locations::table, &rows)?;
    }
    Ok((created, get(conn, code)?))
}

pub fn get(conn: &mut DbConn, code: &str) -> Result<Channel, ApiError> {
    let (name, buffer, default_location, webhook_url, created_at, updated_at) = channels::table
        .find(code)
        .select((
            channels::name,
            channels::buffer,
            channels::default_location,
            channels::webhook_url,
            channels::created_at,
            channels::updated_at,
        ))
        .first::<(String, i64, Option<String>, Option<String>, chrono::NaiveDateTime, chrono::NaiveDateTime)>(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no channel {code}")))?;
    let locations = channel_locations::table
        .filter(channel_locations::channel.eq(code))
        .order(channel_locations::location.asc())
        .select(channel_locations::location)
        .load(conn)?;
    Ok(Channel {
        code: code.to_string(),
        name,
        buffer,
        locations,
        default_location,
        webhook_url,
        created_at: created_at.and_utc(),
        updated_at: updated_at.and_utc(),
    })
}

/// Whom a channel sells for: the buffer it keeps back and the active locations whose stock
/// it sells (those listed, or every location with `fulfils_online` when none is).
pub struct ChannelPool {
    pub buffer: i64,
    pub locations: Vec<String>,
}

impl ChannelPool {
    /// What the channel may sell given the sum of its locations' `available`.
    pub fn sellable(&self, available: i64) -> i64 {
        (available - self.buffer).max(0)
    }
}

/// The channel's pool; `None` when there is no such channel.
pub fn pool(conn: &mut DbConn, channel: &str) -> Result<Option<ChannelPool>, ApiError> {
    let Some(buffer) = channels::table.find(channel).select(channels::buffer).first::<i64>(conn).optional()? else {
        return Ok(None);
    };
    let listed: Vec<String> = channel_locations::table
        .filter(channel_locations::channel.eq(channel))
        .select(channel_locations::location)
        .load(conn)?;
    let mut active = locations::table.filter(locations::active.eq(true)).select(locations::code).into_boxed();
    active = if listed.is_empty() {
        active.filter(locations::fulfils_online.eq(true))
    } else {
        active.filter(locations::code.eq_any(listed))
    };
    Ok(Some(ChannelPool { buffer, locations: active.order(locations::code.asc()).load(conn)? }))
}

/// Per SKU of `skus` that has a level in the pool, the sum of `available` over the pool's
/// locations (before the buffer).
pub fn available_in(conn: &mut DbConn, pool: &ChannelPool, skus: &[&str]) -> Result<HashMap<String, i64>, ApiError> {
    let mut available: HashMap<String, i64> = HashMap::new();
    // A bounded number of binds per statement, whatever the page size.
    for chunk in skus.chunks(500) {
        let rows: Vec<LevelCounts> = stock_levels::table
            .filter(stock_levels::location.eq_any(&pool.locations))
            .filter(stock_levels::sku.eq_any(chunk))
            .select((stock_levels::sku, stock_levels::on_hand, stock_levels::reserved, stock_levels::safety_stock))
            .load(conn)?;
        add_available(&mut available, rows);
    }
    Ok(available)
}

/// A level's SKU and its counts (on hand, reserved, safety stock).
type LevelCounts = (String, i64, i64, i64);

/// Adds each level's `available` to its SKU's sum.
fn add_available(sums: &mut HashMap<String, i64>, levels: Vec<LevelCounts>) {
    for (sku, on_hand, reserved, safety) in levels {
        *sums.entry(sku).or_default() += super::model::available(on_hand, reserved, safety);
    }
}

/// What a channel may sell of some SKUs, read with the levels behind it locked.
pub struct Sellable {
    pub buffer: i64,
    /// Whether the channel sells from the location being ordered from.
    pub includes_location: bool,
    /// Per SKU, the sum of `available` over the channel's locations (before the buffer).
    pub available: HashMap<String, i64>,
}

/// The channel's locations' availability of `skus`, with those levels locked in (location,
/// sku) order, as every writer locks them: two marketplace orders racing for what the buffer
/// keeps back take turns instead of both passing the check. Call before reserving.
pub fn lock_sellable(conn: &mut DbConn, channel: &str, location: &str, skus: &[&str]) -> Result<Sellable, ApiError> {
    let pool = pool(conn, channel)?.ok_or_else(|| {
        ApiError::Unknown(vec![crate::error::FieldError::new("channel", format!("no channel {channel}"))])
    })?;
    let rows: Vec<LevelCounts> = locking!(
        conn,
        stock_levels::table
            .filter(stock_levels::location.eq_any(&pool.locations))
            .filter(stock_levels::sku.eq_any(skus))
            .order((stock_levels::location.asc(), stock_levels::sku.asc()))
            .select((stock_levels::sku, stock_levels::on_hand, stock_levels::reserved, stock_levels::safety_stock)),
        load
    )?;
    let mut available: HashMap<String, i64> = HashMap::new();
    add_available(&mut available, rows);
    let includes_location = pool.locations.iter().any(|l| l == location);
    Ok(Sellable { buffer: pool.buffer, includes_location, available })
}
