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
use crate::http::idempotency::{self, Answer, IdempotencyKey, Turn};
use crate::http::metrics::StockCounters;
use crate::limits::CustomerLimits;
use crate::state::AppState;
use crate::stock::problems::Shortfall;
use crate::stock::sold_out::{Found, Refusal};

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
/// is known to be short, otherwise through the level's queue.
pub async fn hold_one_line(
    state: &AppState,
    who: Principal,
    key: IdempotencyKey,
    fingerprint: String,
    form: NewHold,
    ttl: TimeDelta,
) -> Result<HttpResponse, ApiError> {
    // The key first: a repeat of a hold already placed replays it, sold out or not.
    let claimed = match idempotency::claim_key(state, &who, key, &fingerprint).await? {
        Turn::Replay(answer) => return Ok(answer.into_response()),
        Turn::Go(claimed) => claimed,
    };
    let HoldLine { sku, quantity } = form.lines[0].clone();
    let result = match state.stock.sold_out.refusal(&form.location, &sku, quantity) {
        Some(Refusal::Complete { shortfall, refresh }) => {
            StockCounters::add(&state.metrics.stock.sold_out_from_memory, 1);
            if let Some(quantities) = refresh {
                actix_web::rt::spawn(refresh_sold_out(state.clone(), (form.location.clone(), sku.clone()), quantities));
            }
            Err(ApiError::InsufficientStock(vec![shortfall]))
        }
        _ => {
            let asking = Asking { who, quantity, ttl, key: claimed.clone() };
            place(state, (form.location, sku), asking).await
        }
    };
    if let (Err(_), Some(claimed)) = (&result, claimed) {
        idempotency::release(state, claimed).await;
    }
    result.map(Answer::into_response)
}

/// Reads a level known sold out again, under its lock as a batch would (a batch of nobody),
/// with where else each quantity asked for could be had, and renews the memory with it.
pub async fn refresh_sold_out(state: AppState, level: Level, quantities: Vec<i64>) {
    let ticket = state.stock.sold_out.ticket(&level.0, &level.1);
    let (location, sku) = level.clone();
    let read = state
        .db(move |conn| {
            let placed = write_tx(conn, |conn| together::place(conn, &location, &sku, &[], &CustomerLimits::NONE))?;
            let mut alternatives = Vec::new();
            for quantity in quantities {
                let line = crate::stock::reserve::Line::new(sku.as_str(), quantity);
                if let Some(shortfall) = crate::stock::reserve::shortfalls(conn, &location, &[&line])?.pop() {
                    alternatives.push((quantity, shortfall.alternatives));
                }
            }
            let lapse = together::first_lapse(conn, &location, &sku)?;
            Ok((placed.left, placed.seen_seq, alternatives, lapse))
        })
        .await;
    match read {
        Ok((Some(available), seen_seq, alternatives, lapse)) => {
            let found = Found { available, seen_seq, alternatives, lapses: lapse.map(instant_of) };
            state.stock.sold_out.remember(&level.0, &level.1, ticket, found);
        }
        _ => state.stock.sold_out.refresh_failed(&level.0, &level.1),
    }
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
                let explained = together::explain(conn, &location, &sku, &placed, &asking);
                let lapse = match (&explained, placed.left) {
                    (Ok(_), Some(_)) => together::first_lapse(conn, &location, &sku).ok().flatten(),
                    _ => None,
                };
                Ok((placed, explained.ok(), lapse))
            })
            .await
    };
    match result {
        Ok((placed, explained, lapse)) => {
            if let (Some(left), Some(explained)) = (placed.left, &explained) {
                let lapses = lapse.map(instant_of);
                let alternatives =
                    explained.iter().map(|(quantity, shortfall)| (*quantity, shortfall.alternatives.clone())).collect();
                state.stock.sold_out.remember(
                    &level.0,
                    &level.1,
                    ticket,
                    Found { available: left, seen_seq: placed.seen_seq, alternatives, lapses },
                );
            }
            answer_each(replies, placed, explained.unwrap_or_default(), &asking, &level.1);
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
    };
    let (who, ttl) = (asked.who, asked.ttl);
    idempotency::once(state, asked.key, move |conn| Answer::created(&super::hold(conn, &who, &form, ttl, &limits)?))
        .await
}

/// Lines of a hold that go through a level's queue: exactly one.
pub fn queued(form: &NewHold, batch_max: usize) -> bool {
    form.lines.len() == 1 && batch_max > 1
}
