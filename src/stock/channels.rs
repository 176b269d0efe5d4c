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
    let named = form.locations.iter().enumerate().map(|(i, c)| (format!("locations[{i}]"), c.as_str()));
    let unknown = crate::catalog::unknown_codes(conn, crate::catalog::Catalog::Locations, named)?;
    if !unknown.is_empty() {
        return Err(ApiError::Unknown(unknown));
    }
    let now = Utc::now().naive_utc();
    let updated = diesel::update(channels::table.find(code))
        .set((channels::name.eq(form.name.trim()), channels::buffer.eq(form.buffer), channels::updated_at.eq(now)))
        .execute(conn)?;
    let created = updated == 0;
    if created {
        diesel::insert_into(channels::table)
            .values((
                channels::code.eq(code),
                channels::name.eq(form.name.trim()),
                channels::buffer.eq(form.buffer),
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
    let (name, buffer, created_at, updated_at) = channels::table
        .find(code)
        .select((channels::name, channels::buffer, channels::created_at, channels::updated_at))
        .first::<(String, i64, chrono::NaiveDateTime, chrono::NaiveDateTime)>(conn)
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
        created_at: created_at.and_utc(),
        updated_at: updated_at.and_utc(),
    })
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
    let buffer: i64 = channels::table
        .find(channel)
        .select(channels::buffer)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::validation("channel", format!("unknown channel {channel}")))?;
    let listed: Vec<String> = channel_locations::table
        .filter(channel_locations::channel.eq(channel))
        .select(channel_locations::location)
        .load(conn)?;
    let mut pool = locations::table.filter(locations::active.eq(true)).select(locations::code).into_boxed();
    pool = if listed.is_empty() {
        pool.filter(locations::fulfils_online.eq(true))
    } else {
        pool.filter(locations::code.eq_any(listed))
    };
    let pool: Vec<String> = pool.load(conn)?;
    let rows: Vec<(String, i64, i64, i64)> = locking!(
        conn,
        stock_levels::table
            .filter(stock_levels::location.eq_any(&pool))
            .filter(stock_levels::sku.eq_any(skus))
            .order((stock_levels::location.asc(), stock_levels::sku.asc()))
            .select((stock_levels::sku, stock_levels::on_hand, stock_levels::reserved, stock_levels::safety_stock)),
        load
    )?;
    let mut available: HashMap<String, i64> = HashMap::new();
    for (sku, on_hand, reserved, safety) in rows {
        *available.entry(sku).or_default() += super::model::available(on_hand, reserved, safety);
    }
    Ok(Sellable { buffer, includes_location: pool.iter().any(|l| l == location), available })
}
