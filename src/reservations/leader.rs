//! The leader of a level's queue (`queue`): the first caller to find it idle takes everyone
//! waiting (up to `HOLD_BATCH_MAX`), places them in one transaction, answers each, and goes
//! on while more have arrived meanwhile. So a quiet level places each hold at once, and a
//! hot one places as many per transaction as arrived during the previous one. Each process
//! batches its own callers; levels never share a batch, so batches never lock two levels and
//! a multi-line hold (placed on its own, in SKU order) cannot deadlock with one.
//!
//! Every caller is answered exactly once: from the batch's outcome, or if the batch failed
//! as a whole, by placing that caller's hold again on its own, so that one bad hold cannot
//! sink the others. An answer is sent only after its transaction committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use chrono::{TimeDelta, Utc};
use tokio::sync::oneshot;

use super::model::{HoldLine, NewHold};
use super::queue::{HoldQueues, Level, Waiting};
use super::together::{self, Asking, Outcome, Placed};
use crate::auth::Principal;
use crate::db::write_tx;
use crate::error::ApiError;
use crate::http::idempotency::{self, Answer, IdempotencyKey};
use crate::http::metrics::StockCounters;
use crate::limits::CustomerLimits;
use crate::state::AppState;
use crate::stock::problems::Shortfall;
use crate::stock::sold_out::{Found, Refusal, Ticket};

/// Ends a queue's leadership however the leader stops.
struct Leading {
    queues: Arc<HoldQueues>,
    level: Level,
    done: bool,
}

impl Drop for Leading {
    fn drop(&mut self) {
        if !self.done {
            self.queues.abandon(&self.level);
        }
    }
}

/// `POST /v1/reservations` for a hold of one line: from the sold-out memory when the level
/// is known to be short, otherwise through the level's queue. The key is claimed first: a
/// repeat of a hold already placed replays it, sold out or not.
pub async fn hold_one_line(
    state: &AppState,
    who: Principal,
    key: IdempotencyKey,
    fingerprint: String,
    form: NewHold,
    ttl: TimeDelta,
) -> Result<HttpResponse, ApiError> {
    let HoldLine { sku, quantity } = form.lines[0].clone();
    let caller = who.clone();
    idempotency::guarded(state, &caller, key, &fingerprint, |claimed| async move {
        if let Some(refused) = refused_from_memory(state, &form.location, &sku, quantity) {
            return Err(refused);
        }
        place(state, (form.location, sku), Asking { who, quantity, ttl, key: claimed }).await
    })
    .await
}

/// The 409 for `quantity` of a level the sold-out memory knows is short (with where else it
/// could be had), counted; past half the memory's age it also sets off the one read that
/// renews it. `None` when the database must decide.
pub fn refused_from_memory(state: &AppState, location: &str, sku: &str, quantity: i64) -> Option<ApiError> {
    let Refusal::Complete { shortfall, refresh } = state.stock.sold_out.refusal(location, sku, quantity)? else {
        return None;
    };
    StockCounters::add(&state.metrics.stock.sold_out_from_memory, 1);
    if let Some(quantities) = refresh {
        actix_web::rt::spawn(refresh_sold_out(state.clone(), (location.to_string(), sku.to_string()), quantities));
    }
    Some(ApiError::InsufficientStock(vec![shortfall]))
}

/// Reads a level known sold out again, under its lock as a batch would (a batch of nobody),
/// with where else each quantity asked for could be had, and renews the memory with it.
async fn refresh_sold_out(state: AppState, level: Level, quantities: Vec<i64>) {
    let ticket = state.stock.sold_out.ticket(&level.0, &level.1);
    let (location, sku) = level.clone();
    let read = state
        .db(move |conn| {
            let placed = write_tx(conn, |conn| together::place(conn, &location, &sku, &[], &CustomerLimits::NONE))?;
            let explained = explain(conn, &location, &sku, &placed, quantities)?;
            Ok((placed, explained))
        })
        .await;
    let renewed = read.is_ok_and(|(placed, explained)| remember(&state, &level, ticket, &placed, &explained));
    if !renewed {
        state.stock.sold_out.refresh_failed(&level.0, &level.1);
    }
}

/// What is read after a batch's commit, outside the level's lock: where else each refused
/// quantity could be had, and, for the sold-out memory, when the first open hold on the level
/// lapses (`None` when unknown). A batch that placed holds changed the level, and its commit
/// forgets whatever it would remember, so then the lapse is not read.
struct Explained {
    shortfalls: Vec<(i64, Shortfall)>,
    lapse: Option<Option<chrono::NaiveDateTime>>,
}

fn explain(
    conn: &mut crate::db::DbConn,
    location: &str,
    sku: &str,
    placed: &Placed,
    quantities: Vec<i64>,
) -> Result<Explained, ApiError> {
    let shortfalls = together::explain(conn, location, sku, quantities)?;
    let wrote = placed.outcomes.iter().any(|outcome| matches!(outcome, Outcome::Held(_)));
    let lapse = (placed.left.is_some() && !wrote).then(|| together::first_lapse(conn, location, sku).ok()).flatten();
    Ok(Explained { shortfalls, lapse })
}

/// Hands the sold-out memory what a read under the level's lock found; false when there is
/// nothing to remember (every caller fitted, or the lapse could not be read).
fn remember(state: &AppState, level: &Level, ticket: Ticket, placed: &Placed, explained: &Explained) -> bool {
    let (Some(available), Some(lapse)) = (placed.left, explained.lapse) else { return false };
    let alternatives =
        explained.shortfalls.iter().map(|(quantity, shortfall)| (*quantity, shortfall.alternatives.clone())).collect();
    let found = Found { available, seen_seq: placed.seen_seq, alternatives, lapses: lapse.map(instant_of) };
    state.stock.sold_out.remember(&level.0, &level.1, ticket, found);
    true
}

/// The moment on this process's clock of a stored time.
fn instant_of(at: chrono::NaiveDateTime) -> Instant {
    Instant::now() + (at - Utc::now().naive_utc()).to_std().unwrap_or(Duration::ZERO)
}

/// Queues a caller on its level and waits for its answer.
async fn place(state: &AppState, level: Level, asking: Asking) -> Result<Answer, ApiError> {
    let (reply, answer) = oneshot::channel();
    if state.hold_queues.join(&level, Waiting { asking, reply }) {
        actix_web::rt::spawn(lead(state.clone(), level));
    }
    answer.await.unwrap_or_else(|_| Err(ApiError::Unavailable("the server stopped before placing the hold".into())))
}

/// Places the level's batches until nobody is waiting.
async fn lead(state: AppState, level: Level) {
    state.stock.follow(&state.pool, &state.changes);
    let mut leading = Leading { queues: state.hold_queues.clone(), level, done: false };
    let most = state.settings.orders.hold_batch_max;
    let limits = CustomerLimits::from_settings(&state.settings.limits);
    loop {
        let batch = state.hold_queues.next_batch(&leading.level, most, limits != CustomerLimits::NONE);
        if batch.is_empty() {
            leading.done = true;
            return;
        }
        place_batch(&state, &leading.level, batch, limits).await;
    }
}

async fn place_batch(state: &AppState, level: &Level, batch: Vec<Waiting>, limits: CustomerLimits) {
    let counters = &state.metrics.stock;
    StockCounters::add(&counters.hold_batches, 1);
    StockCounters::add(&counters.batched_holds, batch.len() as u64);
    let ticket = state.stock.sold_out.ticket(&level.0, &level.1);
    let (asking, replies): (Vec<Asking>, Vec<_>) = batch.into_iter().map(|w| (w.asking, w.reply)).unzip();
    let asking = Arc::new(asking);
    let result = {
        let (asking, (location, sku)) = (asking.clone(), level.clone());
        state
            .db(move |conn| {
                let placed = write_tx(conn, |conn| together::place(conn, &location, &sku, &asking, &limits))?;
                // After the commit: the refused are told why, and where else to go, without
                // the level's lock held. A failure here leaves them a plainer answer.
                let explained = explain(conn, &location, &sku, &placed, placed.short_quantities(&asking));
                Ok((placed, explained.ok()))
            })
            .await
    };
    match result {
        Ok((placed, explained)) => {
            if let Some(explained) = &explained {
                remember(state, level, ticket, &placed, explained);
            }
            answer_each(replies, placed, explained.map(|e| e.shortfalls).unwrap_or_default(), &asking, &level.1);
        }
        Err(failure) if one_by_one_may_help(&failure) => {
            tracing::warn!(%failure, location = %level.0, sku = %level.1, holds = replies.len(),
                "a batch of holds failed; placing them one by one");
            StockCounters::add(&counters.failed_batches, 1);
            // The batch's work has ended, so its share of the callers' requests is back.
            let Ok(asking) = Arc::try_unwrap(asking) else {
                for reply in replies {
                    let _ = reply.send(Err(failure.copy_for_another_caller()));
                }
                return;
            };
            for (asked, reply) in asking.into_iter().zip(replies) {
                let _ = reply.send(place_alone(state, &level.0, &level.1, asked, limits).await);
            }
        }
        Err(failure) => {
            for reply in replies {
                let _ = reply.send(Err(failure.copy_for_another_caller()));
            }
        }
    }
}

/// A failure of the batch's transaction that one hold placed alone might not share (a
/// constraint, a trigger, a bug); not an outage, which every caller would meet again.
fn one_by_one_may_help(failure: &ApiError) -> bool {
    matches!(failure, ApiError::Database(_) | ApiError::Internal(_) | ApiError::IdempotencyInFlight)
}

fn answer_each(
    replies: Vec<oneshot::Sender<Result<Answer, ApiError>>>,
    placed: Placed,
    explained: Vec<(i64, Shortfall)>,
    asking: &[Asking],
    sku: &str,
) {
    for ((reply, outcome), asked) in replies.into_iter().zip(placed.outcomes).zip(asking) {
        let answer = match outcome {
            Outcome::Held(answer) => Ok(answer),
            Outcome::Refused(refused) => Err(refused),
            Outcome::Short => {
                let shortfall = explained.iter().find(|(quantity, _)| *quantity == asked.quantity).map_or_else(
                    || Shortfall {
                        sku: sku.to_string(),
                        requested: asked.quantity,
                        available: placed.left.unwrap_or(0),
                        alternatives: Vec::new(),
                    },
                    |(_, shortfall)| shortfall.clone(),
                );
                Err(ApiError::InsufficientStock(vec![shortfall]))
            }
        };
        // A caller that went away (its connection closed) no longer listens: nothing to do.
        let _ = reply.send(answer);
    }
}

/// One caller's hold on its own transaction, as if it had never been batched.
async fn place_alone(
    state: &AppState,
    location: &str,
    sku: &str,
    asked: Asking,
    limits: CustomerLimits,
) -> Result<Answer, ApiError> {
    let form = NewHold {
        location: location.to_string(),
        lines: vec![HoldLine { sku: sku.to_string(), quantity: asked.quantity }],
        ttl_seconds: None,
        slot_id: None,
        remind: None,
    };
    let (who, ttl) = (asked.who, asked.ttl);
    idempotency::once(state, asked.key, move |conn| Answer::created(&super::hold(conn, &who, &form, ttl, &limits)?))
        .await
}

/// Lines of a hold that go through a level's queue: exactly one.
pub fn queued(form: &NewHold, batch_max: usize) -> bool {
    // A slot is booked in the hold's own transaction, not in a batch of one level's holds.
    // So is a reminder.
    form.lines.len() == 1 && batch_max > 1 && form.slot_id.is_none() && form.remind != Some(true)
}
