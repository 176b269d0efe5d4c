//! The sender: claims due notifications, reads the order again, and sends or suppresses.
//!
//! Claiming is a short transaction that leases the rows (`next_attempt_at` moves a lease
//! ahead, `attempts` goes up; `SKIP LOCKED` on PostgreSQL, the one writer on SQLite); sending
//! happens outside any transaction; the outcome is recorded in another. A process that dies
//! between the two leaves the row queued, and the lease running out makes it due again.
//!
//! No delivery channel is wired in yet (email, SMS, push and webhook providers come with their
//! own settings), so every message that is still true is recorded as `suppressed` with the
//! reason, never dropped silently.

use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::events::Event;
use super::outbox;
use crate::db::schema::{notifications, orders};
use crate::db::{locking, DbConn};
use crate::error::ApiError;
use crate::orders::status::Status;

/// Notifications claimed per round.
pub const BATCH: i64 = 50;
/// How long a claim holds before another sender may take the row again.
pub const LEASE: TimeDelta = TimeDelta::seconds(60);

#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub order_id: String,
    pub customer_id: String,
    pub event: String,
    pub channel: String,
    pub attempts: i32,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        provider_ref: Option<String>,
    },
    /// Not sent, on purpose; the reason is kept.
    Suppressed(String),
}

/// Leases up to `BATCH` due notifications.
pub fn claim_due(conn: &mut DbConn) -> Result<Vec<Claimed>, ApiError> {
    let now = Utc::now().naive_utc();
    let rows: Vec<(String, String, String, String, String, i32)> = locking!(
        conn,
        notifications::table
            .filter(notifications::status.eq("queued"))
            .filter(notifications::next_attempt_at.le(now))
            .order(notifications::next_attempt_at.asc())
            .limit(BATCH)
            .select((
                notifications::id,
                notifications::order_id,
                notifications::customer_id,
                notifications::event,
                notifications::channel,
                notifications::attempts,
            )),
        load,
        skip_locked
    )?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    diesel::update(notifications::table.filter(notifications::id.eq_any(&ids)))
        .set((notifications::attempts.eq(notifications::attempts + 1), notifications::next_attempt_at.eq(now + LEASE)))
        .execute(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, order_id, customer_id, event, channel, attempts)| Claimed {
            id,
            order_id,
            customer_id,
            event,
            channel,
            attempts: attempts + 1,
        })
        .collect())
}

/// Decides one claimed notification: the order is read again first, so a message that is no
/// longer true is suppressed instead of sent.
pub fn decide(conn: &mut DbConn, claimed: &Claimed) -> Result<Outcome, ApiError> {
    let status: String = orders::table.find(&claimed.order_id).select(orders::status).first(conn)?;
    let status = Status::parse(&status).unwrap_or(Status::Confirmed);
    let event = Event::parse(&claimed.event).unwrap_or(Event::OrderConfirmed);
    if !event.still_true(status) {
        return Ok(Outcome::Suppressed(format!(
            "the order is {} now; this message is no longer true",
            status.as_str()
        )));
    }
    if claimed.channel == "push" && !outbox::has_push_subscription(conn, &claimed.customer_id)? {
        return Ok(Outcome::Suppressed("the customer has no push subscription".into()));
    }
    Ok(Outcome::Suppressed(format!("the {} channel is not configured on this server", claimed.channel)))
}

/// Records an outcome; only a row still leased (queued) changes.
pub fn record(conn: &mut DbConn, id: &str, outcome: &Outcome, now: NaiveDateTime) -> Result<(), ApiError> {
    let target = notifications::table.filter(notifications::id.eq(id)).filter(notifications::status.eq("queued"));
    match outcome {
        Outcome::Sent { provider_ref } => diesel::update(target)
            .set((
                notifications::status.eq("sent"),
                notifications::sent_at.eq(Some(now)),
                notifications::provider_ref.eq(provider_ref),
                notifications::error.eq(None::<String>),
            ))
            .execute(conn)?,
        Outcome::Suppressed(reason) => diesel::update(target)
            .set((notifications::status.eq("suppressed"), notifications::error.eq(Some(reason))))
            .execute(conn)?,
    };
    Ok(())
}

/// One round: claim, decide, record. Returns how many notifications were handled.
pub fn run_round(pool: &crate::db::Pool) -> Result<usize, ApiError> {
    let mut conn = pool.get().map_err(|e| ApiError::Pool(e.to_string()))?;
    let claimed = crate::db::write_tx(&mut conn, claim_due)?;
    for item in &claimed {
        let outcome = decide(&mut conn, item)?;
        crate::db::write_tx(&mut conn, |conn| record(conn, &item.id, &outcome, Utc::now().naive_utc()))?;
        if item.attempts > 1 {
            tracing::info!(notification = %item.id, attempts = item.attempts, "notification retried after a lapsed lease");
        }
    }
    Ok(claimed.len())
}
