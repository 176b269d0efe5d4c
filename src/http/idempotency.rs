//! `Idempotency-Key`: the same key with the same request replays the first answer (with
//! `Idempotent-Replayed: true`), with a different request gets 422, and while the first is
//! still running gets 409. Keys live in the database, so every replica honours them, and the
//! stored answer is written in the same transaction as the change it describes: a crash can
//! never leave the change done and the answer lost.

use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::db::schema::idempotency_keys as keys;
use crate::db::{insert_or_ignore, write_tx, DbConn};
use crate::error::ApiError;
use crate::state::AppState;

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// A request still marked in flight after this long is taken to have died with its process.
const IN_FLIGHT_TIMEOUT: TimeDelta = TimeDelta::minutes(5);
/// How long a key is remembered.
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
pub struct IdempotencyKey(pub Option<String>);

/// The `Idempotency-Key` header as every write documents it.
#[derive(IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKeyHeader(
    /// Replays the first answer for a repeated request (same key, same body) with
    /// `Idempotent-Replayed: true`; a different body is 422, a repeat while the first runs 409.
    /// Kept 24 hours. 1 to 255 visible ASCII characters.
    #[param(min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    Option<String>,
);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let parsed = match req.headers().get(HEADER) {
            None => Ok(IdempotencyKey(None)),
            Some(value) => match value.to_str() {
                Ok(key) if crate::http::formats::is_idempotency_key(key) => Ok(IdempotencyKey(Some(key.to_string()))),
                _ => Err(ApiError::validation(HEADER, "must be 1 to 255 visible ASCII characters")),
            },
        };
        std::future::ready(parsed)
    }
}

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

enum Claim {
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
    owner: String,
    key: String,
    hash: String,
}

/// Whether a request goes ahead: with its key claimed (or none sent), or as a replay.
pub enum Turn {
    Go(Option<Claimed>),
    Replay(Answer),
}

/// Claims the request's key, if it sent one. `fingerprint` identifies the request (method,
/// path and body).
pub async fn claim_key(
    state: &AppState,
    who: &Principal,
    key: IdempotencyKey,
    fingerprint: &str,
) -> Result<Turn, ApiError> {
    let Some(key) = key.0 else { return Ok(Turn::Go(None)) };
    // Keys are per caller: two integrations choosing the same key never collide.
    let claimed = Claimed { owner: who.actor(), key, hash: crate::crypto::hex_sha256(fingerprint.as_bytes()) };
    let asked = claimed.clone();
    match state.db(move |conn| write_tx(conn, |conn| claim(conn, &asked.owner, &asked.key, &asked.hash))).await? {
        Claim::Fresh => Ok(Turn::Go(Some(claimed))),
        Claim::Replay(answer) => Ok(Turn::Replay(answer.replayed())),
    }
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

/// Gives a claim up: a refused request changed nothing, so the key is free for a corrected
/// retry.
pub async fn release(state: &AppState, claimed: Claimed) {
    let release = state
        .db(move |conn| {
            let ours = keys::table
                .find((&claimed.owner, &claimed.key))
                .filter(keys::request_hash.eq(&claimed.hash))
                .filter(keys::response_status.is_null());
            diesel::delete(ours).execute(conn).map_err(ApiError::from)
        })
        .await;
    if let Err(release_error) = release {
        tracing::warn!(%release_error, "could not release an idempotency key");
    }
}

/// Runs a write once per `Idempotency-Key`. `fingerprint` identifies the request (method,
/// path and body); `op` runs inside one write transaction and its answer is stored with the
/// change. Without a key, `op` simply runs in its transaction.
pub async fn run<F>(
    state: &AppState,
    who: &Principal,
    key: IdempotencyKey,
    fingerprint: String,
    op: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnMut(&mut DbConn) -> Result<Answer, ApiError> + Send + 'static,
{
    let claimed = match claim_key(state, who, key, &fingerprint).await? {
        Turn::Replay(answer) => return Ok(answer.into_response()),
        Turn::Go(claimed) => claimed,
    };
    let result = once(state, claimed.clone(), op).await;
    if let (Err(_), Some(claimed)) = (&result, claimed) {
        release(state, claimed).await;
    }
    result.map(Answer::into_response)
}

/// Runs `op` in one write transaction, storing its answer under the claim if there is one.
/// The claim is left as it is: the caller releases it if this fails.
pub async fn once<F>(state: &AppState, claimed: Option<Claimed>, mut op: F) -> Result<Answer, ApiError>
where
    F: FnMut(&mut DbConn) -> Result<Answer, ApiError> + Send + 'static,
{
    state
        .db(move |conn| {
            write_tx(conn, |conn| {
                let answer = op(conn)?;
                if let Some(claimed) = &claimed {
                    store_answer(conn, claimed, &answer)?;
                }
                Ok(answer)
            })
        })
        .await
}

fn claim(conn: &mut DbConn, owner: &str, key: &str, hash: &str) -> Result<Claim, ApiError> {
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

/// What makes two requests "the same": method, path and the parsed body.
pub fn fingerprint<B: Serialize>(req: &HttpRequest, body: &B) -> String {
    format!("{} {}\n{}", req.method(), req.path(), serde_json::to_string(body).unwrap_or_default())
}

/// The fingerprint of a request without a body.
pub fn fingerprint_bodiless(req: &HttpRequest) -> String {
    format!("{} {}\n", req.method(), req.path())
}
