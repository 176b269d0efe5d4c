//! The sender's loop: claim due notifications, judge each (`policy`), compose it
//! (`compose`), deliver it (`delivery`) and record what became of it (`outbox`).
//!
//! Claiming is a short transaction that leases the rows (`next_attempt_at` moves a lease
//! ahead, `attempts` goes up; `SKIP LOCKED` on PostgreSQL, the one writer on SQLite). Judging
//! and composing read the database; sending happens outside any transaction, with no
//! connection held; the outcome is recorded in another transaction. A process that dies
//! between sending and recording leaves the row queued, and the lease running out makes it
//! due again; the dedupe key travels with the message (webhooks get it as `Idempotency-Key`)
//! so the receiver can drop the repeat.

use chrono::Utc;

use super::channels::Channels;
use super::compose::{compose, Composed, Message};
use super::delivery::{deliver, Delivered};
use super::outbox::{self, ChannelName, Claimed, Outcome};
use super::policy::{self, Judgement};
use super::providers::Delivery;
use crate::db::{write_tx, DbConn, Pool};
use crate::error::ApiError;
use crate::orders::events::Event;

/// Notifications claimed per round.
pub const BATCH: i64 = 50;

/// One round: claim, judge, compose, deliver, record. Returns how many notifications were
/// handled. Runs on a blocking thread of the runtime (`web::block`), never on an async task.
/// A pooled connection is taken for each database step and given back while providers are
/// called.
pub fn run_round(pool: &Pool, channels: &Channels, pickup_key: &[u8]) -> Result<usize, ApiError> {
    let connection = || pool.get().map_err(|e| ApiError::Pool(e.to_string()));
    let claimed = write_tx(&mut *connection()?, |conn| outbox::claim_due(conn, BATCH, channels.lease))?;
    for mut item in claimed.iter().cloned() {
        // A message that cannot be prepared (say, its order row is unreadable) is retried
        // like a provider's transient failure, and fails when its window closes, instead of
        // stopping the rest of the batch every round.
        let prepared = prepare(&mut *connection()?, &item, channels, pickup_key).unwrap_or_else(|error| {
            let error = Delivery::Transient(format!("could not prepare the message: {error}"));
            Err(policy::outcome_of(error, &item, Utc::now().naive_utc()))
        });
        let (outcome, gone) = match prepared {
            Err(outcome) => (outcome, Vec::new()),
            Ok(message) => {
                let renewed = write_tx(&mut *connection()?, |conn| outbox::renew_lease(conn, &item, channels.lease))?;
                let Some(leased_until) = renewed else { continue };
                item.leased_until = leased_until;
                let Delivered { delivery, gone_subscriptions } = deliver(&message, &item, channels);
                (policy::outcome_of(delivery, &item, Utc::now().naive_utc()), gone_subscriptions)
            }
        };
        write_tx(&mut *connection()?, |conn| settle(conn, &item, &outcome, &gone, channels))?;
    }
    Ok(claimed.len())
}

/// The message to send, or the outcome that settles it without a provider call.
fn prepare(
    conn: &mut DbConn,
    claimed: &Claimed,
    channels: &Channels,
    pickup_key: &[u8],
) -> Result<Result<Message, Outcome>, ApiError> {
    let facts = match policy::judge(conn, claimed, channels)? {
        Judgement::Settled(outcome) => return Ok(Err(outcome)),
        Judgement::Send(facts) => *facts,
    };
    Ok(match compose(conn, claimed, facts, channels, pickup_key)? {
        Composed::Ready(message) => Ok(message),
        Composed::Missing(what) => Err(Outcome::Suppressed(format!("the customer has no {what}"))),
        Composed::Unsendable(why) => Err(Outcome::Suppressed(why)),
    })
}

/// Records the outcome, forgets the push subscriptions reported gone, and hurries the
/// channels that were waiting for a message that will not come.
fn settle(
    conn: &mut DbConn,
    claimed: &Claimed,
    outcome: &Outcome,
    gone: &[String],
    channels: &Channels,
) -> Result<(), ApiError> {
    for subscription in gone {
        outbox::remove_push_subscription(conn, subscription)?;
    }
    let now = Utc::now().naive_utc();
    outbox::record(conn, claimed, outcome, now)?;
    if matches!(outcome, Outcome::Failed(_) | Outcome::Suppressed(_)) {
        // A word this build does not know has no fallback rules to hurry; the message's own
        // outcome is recorded all the same, and the round goes on.
        match (Event::from_stored(&claimed.event), ChannelName::from_stored(&claimed.channel)) {
            (Ok(event), Ok(channel)) => {
                // Fallback rules chain an order's messages; other messages go on every
                // channel chosen.
                if let Some(order_id) = &claimed.order_id {
                    let waiting = channels.fallback.waiting_for(event, channel);
                    outbox::hurry(conn, order_id, event, &waiting, now, channels.lease)?;
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, notification = %claimed.id, "no channel hurried")
            }
        }
    }
    Ok(())
}
