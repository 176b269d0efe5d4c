//! The stored side of `Idempotency-Key`: claims and answers in the database, written in the
//! transaction of the change they describe. Plain functions over a connection, so domain
//! code that places several requests' changes at once (`reservations::together`) can store
//! each one's answer without reaching for the application's state.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::REPLAYED_HEADER;
use crate::db::schema::idempotency_keys as keys;
use crate::db::{insert_or_ignore, DbConn};
use crate::error::ApiError;

/// A request still marked in flight after this long is taken to have died with its process.
const IN_FLIGHT_TIMEOUT: TimeDelta = TimeDelta::minutes(5);
/// How long a key is remembered.
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

#[derive(Insertable)]
#[diesel(table_name = keys)]
struct NewKey<'a> {
    owner: &'a str,
    key: &'a str,
    request_hash: &'a str,
    response_status: Option<i32>,
    response_body: Option<&'a str>,
    created_at: NaiveDateTime,
}

/// What claiming a key found.
pub(super) enum Claim {
    Fresh,
    Replay(Answer),
}

/// What a write answers: a status and a JSON body, or no body (204). An operation may say its
/// answer repeats an earlier one (a marketplace order imported again), which sets
/// `Idempotent-Replayed: true` as a replayed key does.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Option<String>,
    pub replayed: bool,
}

impl Answer {
    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Answer, ApiError> {
        let body = serde_json::to_string(value).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Answer { status, body: Some(body), replayed: false })
    }

    pub fn ok<T: Serialize>(value: &T) -> Result<Answer, ApiError> {
        Self::json(StatusCode::OK, value)
    }

    pub fn created<T: Serialize>(value: &T) -> Result<Answer, ApiError> {
        Self::json(StatusCode::CREATED, value)
    }

    /// 201 when a PUT created the resource, 200 when it replaced it.
    pub fn created_or_ok<T: Serialize>((created, value): (bool, T)) -> Result<Answer, ApiError> {
        Self::json(if created { StatusCode::CREATED } else { StatusCode::OK }, &value)
    }

    pub fn no_content() -> Result<Answer, ApiError> {
        Ok(Answer { status: StatusCode::NO_CONTENT, body: None, replayed: false })
    }

    pub fn replayed(mut self) -> Answer {
        self.replayed = true;
        self
    }

    pub fn into_response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.replayed {
            response.insert_header((REPLAYED_HEADER, "true"));
        }
        match self.body {
            Some(body) => response.insert_header((header::CONTENT_TYPE, "application/json")).body(body),
            None => response.finish(),
        }
    }
}

/// A key this request has claimed: its answer is stored under it in the transaction of the
/// change (`store_answer`), or the claim is given up when the request is refused
/// (`release`).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub(super) owner: String,
    pub(super) key: String,
    pub(super) hash: String,
}

/// Stores `answer` under the claimed key, in the caller's transaction. Only onto our own
/// claim, still open: one held so long that another request took the key over (or answered
/// under it) must not be overwritten, and the change rolls back instead of happening twice.
pub fn store_answer(conn: &mut DbConn, claimed: &Claimed, answer: &Answer) -> Result<(), ApiError> {
    let stored = diesel::update(
        keys::table
            .find((&claimed.owner, &claimed.key))
            .filter(keys::request_hash.eq(&claimed.hash))
            .filter(keys::response_status.is_null()),
    )
    .set((
        keys::response_status.eq(answer.status.as_u16() as i32),
        // A bodiless answer (204) is stored as an empty body.
        keys::response_body.eq(answer.body.as_deref().unwrap_or("")),
    ))
    .execute(conn)?;
    if stored == 0 {
        return Err(ApiError::IdempotencyInFlight);
    }
    Ok(())
}

pub(super) fn claim(conn: &mut DbConn, owner: &str, key: &str, hash: &str) -> Result<Claim, ApiError> {
    let now = Utc::now().naive_utc();
    let new = NewKey { owner, key, request_hash: hash, response_status: None, response_body: None, created_at: now };
    if insert_or_ignore!(conn, keys::table, &new)? == 1 {
        return Ok(Claim::Fresh);
    }
    let (stored_hash, stored_status, stored_body, created_at): (String, Option<i32>, Option<String>, NaiveDateTime) =
        keys::table
            .find((owner, key))
            .select((keys::request_hash, keys::response_status, keys::response_body, keys::created_at))
            .first(conn)?;
    let expired = now - created_at > RETENTION;
    let abandoned = stored_status.is_none() && now - created_at > IN_FLIGHT_TIMEOUT;
    if expired || abandoned {
        diesel::update(keys::table.find((owner, key)))
            .set((
                keys::request_hash.eq(hash),
                keys::response_status.eq(None::<i32>),
                keys::response_body.eq(None::<String>),
                keys::created_at.eq(now),
            ))
            .execute(conn)?;
        return Ok(Claim::Fresh);
    }
    if stored_hash != hash {
        return Err(ApiError::IdempotencyKeyReused);
    }
    match (stored_status, stored_body) {
        (Some(status), Some(body)) => Ok(Claim::Replay(Answer {
            status: StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK),
            body: (!body.is_empty()).then_some(body),
            replayed: true,
        })),
        _ => Err(ApiError::IdempotencyInFlight),
    }
}

/// Forgets keys older than the retention period; run by the background jobs.
pub fn purge_expired(conn: &mut DbConn) -> Result<usize, ApiError> {
    let cutoff = Utc::now().naive_utc() - RETENTION;
    Ok(diesel::delete(keys::table.filter(keys::created_at.lt(cutoff))).execute(conn)?)
}
