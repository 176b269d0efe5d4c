//! `Idempotency-Key`: the same key with the same request replays the first answer (with
//! `Idempotent-Replayed: true`), with a different request gets 422, and while the first is
//! still running gets 409. Keys live in the database, so every replica honours them, and the
//! stored answer is written in the same transaction as the change it describes: a crash can
//! never leave the change done and the answer lost.

use actix_web::{FromRequest, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::IntoParams;

pub mod stored;

use crate::auth::Principal;
use crate::db::schema::idempotency_keys as keys;
use crate::db::{write_tx, DbConn};
use crate::error::ApiError;
use crate::state::AppState;
use stored::{claim, Claim};
pub use stored::{purge_expired, store_answer, Answer, Claimed, RETENTION};

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

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

/// Whether a request goes ahead: with its key claimed (or none sent), or as a replay.
enum Turn {
    Go(Option<Claimed>),
    Replay(Answer),
}

/// Claims the request's key, if it sent one. `fingerprint` identifies the request (method,
/// path and body).
async fn claim_key(
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

/// Gives a claim up: a refused request changed nothing, so the key is free for a corrected
/// retry.
async fn release(state: &AppState, claimed: Claimed) {
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
    guarded(state, who, key, &fingerprint, |claimed| once(state, claimed, op)).await
}

/// Runs a request under its `Idempotency-Key`: a repeat replays the first answer; otherwise
/// `go` runs with the claim (to store its answer with its change, as `once` does), and a
/// refusal gives the claim up for a corrected retry. Without a key, `go` simply runs. For
/// requests whose answer may come from elsewhere than one transaction (a batch, memory).
pub async fn guarded<G, Fut>(
    state: &AppState,
    who: &Principal,
    key: IdempotencyKey,
    fingerprint: &str,
    go: G,
) -> Result<HttpResponse, ApiError>
where
    G: FnOnce(Option<Claimed>) -> Fut,
    Fut: std::future::Future<Output = Result<Answer, ApiError>>,
{
    let claimed = match claim_key(state, who, key, fingerprint).await? {
        Turn::Replay(answer) => return Ok(answer.into_response()),
        Turn::Go(claimed) => claimed,
    };
    let result = go(claimed.clone()).await;
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

/// What makes two requests "the same": method, path and the parsed body.
pub fn fingerprint<B: Serialize>(req: &HttpRequest, body: &B) -> String {
    format!("{} {}\n{}", req.method(), req.path(), serde_json::to_string(body).unwrap_or_default())
}

/// The fingerprint of a request without a body.
pub fn fingerprint_bodiless(req: &HttpRequest) -> String {
    format!("{} {}\n", req.method(), req.path())
}
