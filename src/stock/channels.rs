//! Sales channels: a name, a buffer held back from the channel, and the locations whose stock
//! it sells. A channel stores no stock of its own.

use chrono::Utc;
use diesel::prelude::*;

use super::model::{Channel, ChannelForm};
use crate::db::schema::{channel_locations, channels};
use crate::db::{insert_rows, DbConn};
use crate::error::ApiError;

/// Creates or replaces a channel and its location list; `true` when it was created.
pub fn put(conn: &mut DbConn, code: &str, form: &ChannelForm) -> Result<(bool, Channel), ApiError> {
    let named = form.locations.iter().enumerate().map(|(i, c)| (format!("locations[{i}]"), c.as_str()));
    let unknown = crate::catalog::unknown_codes(conn, crate::catalog::Catalog::Locations, named)?;
    if !unknown.is_empty() {
        return Err(ApiError::Validation(unknown));
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
