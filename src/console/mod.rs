//! The store console: a web page (`/console`, see `page`) that store staff run their
//! click-and-collect day from, and the device pairing behind it.
//!
//! An admin makes a one-time pairing link for a store (`create_link`, also
//! `clickcollect console-link`). The device that opens it trades the code in the link for a
//! staff token of that store whose subject is `device:<id>` (`pair`), so every action it
//! takes is signed by the device in the ledger and the timelines. Revoking the device
//! (`revoke`) adds it to `auth::SignedOut`: its token is refused from then on, at once on the
//! replica that revoked it and within `CONSOLE_REVOCATION_REFRESH_SECONDS` on the others
//! (`follow_revocations`).

pub mod model;
pub mod page;
pub mod routes;

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine;
use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use rand::RngCore;

use crate::auth::{Audience, Claims, Keys, Principal, Role, DEVICE_SUBJECT_PREFIX};
use crate::catalog;
use crate::config::Settings;
use crate::db::schema::console_devices;
use crate::db::{DbConn, Pool};
use crate::error::ApiError;
use model::{ConsoleLink, Device, DeviceRow, DeviceToken, LinkForm, NewDevice};

/// Where links point: the public address when one is configured, else the bound one.
pub fn console_url(settings: &Settings) -> String {
    let base = match &settings.notify.public_base_url {
        Some(base) => base.clone(),
        None => format!("http://{}", settings.server.bind_addr),
    };
    format!("{base}/console")
}

/// A pairing code and the hash that is kept of it.
fn new_code() -> (String, String) {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = code_hash(&code);
    (code, hash)
}

fn code_hash(code: &str) -> String {
    crate::crypto::hex_sha256(code.trim().as_bytes())
}

/// Makes a pending device of `store` and its one-time link, valid `lifetime` from now.
pub fn create_link(
    conn: &mut DbConn,
    who: &Principal,
    store: &str,
    form: &LinkForm,
    lifetime: TimeDelta,
    console_url: &str,
) -> Result<ConsoleLink, ApiError> {
    let location = catalog::find_location(conn, store)?;
    if location.kind != "store" {
        return Err(ApiError::Conflict(format!("{store} is a warehouse: consoles are for stores")));
    }
    let now = Utc::now().naive_utc();
    let id = uuid::Uuid::now_v7().to_string();
    let (code, hash) = new_code();
    let expires = now + lifetime;
    diesel::insert_into(console_devices::table)
        .values(NewDevice {
            id: &id,
            store,
            label: form.label.as_deref(),
            pairing_code_hash: &hash,
            pairing_expires_at: expires,
            created_at: now,
            created_by: &who.actor(),
        })
        .execute(conn)?;
    Ok(ConsoleLink {
        url: format!("{console_url}#pair={code}"),
        expires_at: expires.and_utc(),
        device_id: id,
        store: store.to_string(),
    })
}

/// Trades a pairing code for the device's token. A code pairs one device once: of two
/// devices opening the same link at the same moment, one gets the token and the other 404.
pub fn pair(conn: &mut DbConn, code: &str, keys: &Keys, settings: &Settings) -> Result<DeviceToken, ApiError> {
    let now = Utc::now().naive_utc();
    let until = now + TimeDelta::days(settings.console.token_days);
    let hash = code_hash(code);
    let claimed = diesel::update(
        console_devices::table
            .filter(console_devices::pairing_code_hash.eq(&hash))
            .filter(console_devices::paired_at.is_null())
            .filter(console_devices::revoked_at.is_null())
            .filter(console_devices::pairing_expires_at.gt(now)),
    )
    .set((console_devices::paired_at.eq(now), console_devices::token_expires_at.eq(until)))
    .execute(conn)?;
    if claimed != 1 {
        return Err(ApiError::NotFound(
            "this pairing link is unknown, already used, revoked or expired: ask an admin for a new one".into(),
        ));
    }
    let row: DeviceRow = console_devices::table
        .filter(console_devices::pairing_code_hash.eq(&hash))
        .select(DeviceRow::as_select())
        .first(conn)?;
    let store_name = catalog::find_location(conn, &row.store)?.name;
    let claims = Claims {
        sub: format!("{DEVICE_SUBJECT_PREFIX}{}", row.id),
        role: Role::Staff,
        store: Some(row.store.clone()),
        scopes: vec![],
        exp: until.and_utc().timestamp(),
        iat: Some(now.and_utc().timestamp()),
        iss: settings.jwt.issuer.clone(),
        aud: settings.jwt.audience.clone().map(Audience::One),
        nbf: None,
    };
    let token = keys.mint(&claims).map_err(ApiError::Internal)?;
    Ok(DeviceToken { token, device_id: row.id, store: row.store, store_name, expires_at: until.and_utc() })
}

/// A store's devices, newest first: one page of `limit` after `offset`, and whether more follow.
pub fn list(conn: &mut DbConn, store: &str, offset: i64, limit: i64) -> Result<(Vec<Device>, bool), ApiError> {
    catalog::find_location(conn, store)?;
    let now = Utc::now().naive_utc();
    let rows: Vec<DeviceRow> = console_devices::table
        .filter(console_devices::store.eq(store))
        .order((console_devices::created_at.desc(), console_devices::id.desc()))
        .offset(offset)
        .limit(limit + 1)
        .select(DeviceRow::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    Ok((rows.into_iter().take(limit as usize).map(|row| row.view(now)).collect(), more))
}

/// Signs a device out (a pending one's link stops working too). Revoking twice is harmless:
/// the first revocation's time and author stay.
pub fn revoke(conn: &mut DbConn, who: &Principal, store: &str, id: &str) -> Result<(), ApiError> {
    let device = console_devices::table.filter(console_devices::id.eq(id)).filter(console_devices::store.eq(store));
    let known: i64 = device.count().get_result(conn)?;
    if known == 0 {
        return Err(ApiError::NotFound(format!("no console device {id} at {store}")));
    }
    diesel::update(device.filter(console_devices::revoked_at.is_null()))
        .set((console_devices::revoked_at.eq(Utc::now().naive_utc()), console_devices::revoked_by.eq(who.actor())))
        .execute(conn)?;
    Ok(())
}

/// Devices revoked while their tokens would still be accepted: the ones to refuse.
pub fn signed_out_devices(conn: &mut DbConn, now: NaiveDateTime) -> Result<HashSet<String>, ApiError> {
    let ids: Vec<String> = console_devices::table
        .filter(console_devices::revoked_at.is_not_null())
        .filter(console_devices::token_expires_at.gt(now - TimeDelta::minutes(5)))
        .select(console_devices::id)
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

/// Keeps `keys.signed_out` in step with the database: every replica refuses a device that
/// another revoked within `every`.
pub fn follow_revocations(pool: &Pool, keys: Arc<Keys>, every: std::time::Duration) {
    let pool = pool.clone();
    actix_web::rt::spawn(async move {
        loop {
            match crate::changes::read_on_pool(&pool, |conn| signed_out_devices(conn, Utc::now().naive_utc())).await {
                Ok(devices) => keys.signed_out.extend(devices),
                Err(error) => tracing::warn!(%error, "could not read the signed-out console devices"),
            }
            actix_web::rt::time::sleep(every).await;
        }
    });
}
