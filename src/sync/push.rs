//! Pushing a channel's changes to its webhook: the feed, delivered.
//!
//! Each channel with a `webhook_url` has one row in `channel_pushes`: a cursor into the change
//! log, not a queue. A push job reads the channel's feed after that cursor (coalesced per SKU,
//! as the feed is), POSTs it as one signed batch, and moves the cursor only when the endpoint
//! took it: batches arrive in order, one at a time per channel (a lease keeps other processes
//! off the channel while one is delivering), at most one per `CHANNEL_PUSH_INTERVAL_MS`. A
//! failed batch is retried with exponential backoff; after `CHANNEL_PUSH_PAUSE_AFTER` failures
//! in a row the channel is paused, and nothing accumulates meanwhile: the log is there, and
//! resuming delivers from the cursor in one batch per page. An endpoint is told the same
//! thing again after a crash between its answer and our record, so receivers apply batches as
//! absolute numbers (they are) and may drop a repeat by its `Idempotency-Key`.
//!
//! Signed like the customers' webhooks: `X-Clickcollect-Signature: v1=<hex HMAC-SHA256(secret,
//! "<timestamp>.<body>")>` with `X-Clickcollect-Timestamp`, the channel's own secret.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::feed::{self, ChangePage};
use crate::changes::{self, Cursor};
use crate::config::SyncSettings;
use crate::db::schema::{channel_pushes, channels};
use crate::db::{read_tx, write_tx, DbConn, Pool};
use crate::error::ApiError;
use crate::notify::providers::{answered, Answered};

crate::db::stored::stored_enum! {
    /// Whether a channel's webhook is being delivered to.
    pub enum PushState as "push state" {
        Active,
        /// Stopped after failing again and again; `POST .../webhook/resume` starts it again.
        Paused,
    }
}

/// Most log changes one batch carries.
const BATCH_LIMIT: i64 = 500;
/// How long a process holds a channel while it delivers one batch: longer than the HTTP
/// client's whole-exchange limit, so a lease never lapses under a live delivery.
const LEASE: TimeDelta = TimeDelta::seconds(60);
/// The longest wait between two attempts.
const MAX_BACKOFF: TimeDelta = TimeDelta::minutes(10);
/// Channels one round takes: few enough that delivering to each (up to the HTTP limit of ten
/// seconds apiece) ends well within the lease.
const ROUND_LIMIT: i64 = 5;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = channel_pushes)]
struct PushRow {
    channel: String,
    cursor_txid: i64,
    cursor_seq: i64,
    state: String,
    failures: i32,
    next_attempt_at: NaiveDateTime,
    last_attempt_at: Option<NaiveDateTime>,
    last_success_at: Option<NaiveDateTime>,
    last_error: Option<String>,
    batches_sent: i64,
}

impl PushRow {
    fn cursor(&self) -> Cursor {
        Cursor::from_parts(self.cursor_txid, self.cursor_seq)
    }
}

/// `GET /v1/channels/{code}/webhook`: how delivery to the channel's webhook goes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookState {
    pub channel: String,
    pub url: String,
    pub state: PushState,
    /// Everything up to here was delivered (a feed cursor).
    pub cursor: String,
    /// Failed attempts in a row (0 after a success).
    pub failures: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    pub batches_sent: i64,
}

/// After `channels::put`, in its transaction: a channel that has a webhook gets its push row
/// (starting at the log's head: a new endpoint begins with an export), and one that no
/// longer has one loses it. Changing the URL keeps the cursor.
pub fn configure(conn: &mut DbConn, channel: &str, has_webhook: bool) -> Result<(), ApiError> {
    if !has_webhook {
        diesel::delete(channel_pushes::table.find(channel)).execute(conn)?;
        return Ok(());
    }
    let exists = channel_pushes::table.find(channel).count().get_result::<i64>(conn)? > 0;
    if !exists {
        let head = changes::head(conn)?;
        diesel::insert_into(channel_pushes::table)
            .values((
                channel_pushes::channel.eq(channel),
                channel_pushes::cursor_txid.eq(head.txid()),
                channel_pushes::cursor_seq.eq(head.seq()),
                channel_pushes::state.eq(PushState::Active.as_str()),
                channel_pushes::next_attempt_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn find(conn: &mut DbConn, channel: &str) -> Result<(PushRow, String), ApiError> {
    let url: Option<Option<String>> =
        channels::table.find(channel).select(channels::webhook_url).first(conn).optional()?;
    let url = url.ok_or_else(|| ApiError::NotFound(format!("no channel {channel}")))?;
    let row = channel_pushes::table.find(channel).select(PushRow::as_select()).first(conn).optional()?;
    match (row, url) {
        (Some(row), Some(url)) => Ok((row, url)),
        _ => Err(ApiError::NotFound(format!("channel {channel} has no webhook_url"))),
    }
}

fn view(row: PushRow, url: String) -> Result<WebhookState, ApiError> {
    Ok(WebhookState {
        cursor: row.cursor().text(),
        state: PushState::from_stored(&row.state)?,
        channel: row.channel,
        url,
        failures: row.failures,
        next_attempt_at: row.next_attempt_at.and_utc(),
        last_attempt_at: row.last_attempt_at.map(|at| at.and_utc()),
        last_success_at: row.last_success_at.map(|at| at.and_utc()),
        last_error: row.last_error,
        batches_sent: row.batches_sent,
    })
}

/// The channel's webhook delivery state; 404 for no channel or no webhook.
pub fn state(conn: &mut DbConn, channel: &str) -> Result<WebhookState, ApiError> {
    let (row, url) = find(conn, channel)?;
    view(row, url)
}

/// Starts delivery again now, from the cursor it stopped at or from `after` (an export's
/// `feed_cursor`, after a resync). 410 when the log no longer holds where it would start.
pub fn resume(conn: &mut DbConn, channel: &str, after: Option<Cursor>) -> Result<WebhookState, ApiError> {
    let (row, _) = find(conn, channel)?;
    let from = after.unwrap_or(row.cursor());
    changes::check_kept(conn, from)?;
    diesel::update(channel_pushes::table.find(channel))
        .set((
            channel_pushes::state.eq(PushState::Active.as_str()),
            channel_pushes::cursor_txid.eq(from.txid()),
            channel_pushes::cursor_seq.eq(from.seq()),
            channel_pushes::failures.eq(0),
            channel_pushes::next_attempt_at.eq(Utc::now().naive_utc()),
            channel_pushes::leased_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    state(conn, channel)
}

/// A channel whose turn it is, with what delivering needs.
struct Due {
    channel: String,
    url: String,
    secret: String,
    after: Cursor,
    failures: i32,
}

/// Leases the active channels whose next attempt is due and that no process holds.
fn claim_due(conn: &mut DbConn, now: NaiveDateTime) -> Result<Vec<Due>, ApiError> {
    let rows: Vec<PushRow> = crate::db::locking!(
        conn,
        channel_pushes::table
            .filter(channel_pushes::state.eq(PushState::Active.as_str()))
            .filter(channel_pushes::next_attempt_at.le(now))
            .filter(channel_pushes::leased_until.is_null().or(channel_pushes::leased_until.lt(now)))
            .order(channel_pushes::next_attempt_at.asc())
            .limit(ROUND_LIMIT)
            .select(PushRow::as_select()),
        load,
        skip_locked
    )?;
    let mut due = Vec::new();
    for row in rows {
        diesel::update(channel_pushes::table.find(&row.channel))
            .set(channel_pushes::leased_until.eq(now + LEASE))
            .execute(conn)?;
        let target: Option<(Option<String>, Option<String>)> = channels::table
            .find(&row.channel)
            .select((channels::webhook_url, channels::webhook_secret))
            .first(conn)
            .optional()?;
        if let Some((Some(url), Some(secret))) = target {
            due.push(Due { after: row.cursor(), failures: row.failures, channel: row.channel, url, secret });
        }
    }
    Ok(due)
}

/// How one attempt at a channel went.
enum Outcome {
    /// The endpoint took the batch (or there was nothing to send): the cursor moves here.
    Delivered {
        cursor: Cursor,
        sent: bool,
    },
    Failed(String),
    /// The log no longer holds the cursor: nothing can be delivered until a resync.
    Expired(String),
}

fn record(
    conn: &mut DbConn,
    due: &Due,
    outcome: &Outcome,
    now: NaiveDateTime,
    settings: &SyncSettings,
) -> Result<(), ApiError> {
    let interval = TimeDelta::milliseconds(settings.channel_push_interval_ms);
    let target = channel_pushes::table.find(&due.channel);
    let released = channel_pushes::leased_until.eq(None::<NaiveDateTime>);
    match outcome {
        Outcome::Delivered { cursor, sent } => {
            diesel::update(target)
                .set((
                    channel_pushes::cursor_txid.eq(cursor.txid()),
                    channel_pushes::cursor_seq.eq(cursor.seq()),
                    channel_pushes::failures.eq(0),
                    channel_pushes::next_attempt_at.eq(now + interval),
                    released,
                ))
                .execute(conn)?;
            if *sent {
                diesel::update(channel_pushes::table.find(&due.channel))
                    .set((
                        channel_pushes::last_attempt_at.eq(now),
                        channel_pushes::last_success_at.eq(now),
                        channel_pushes::last_error.eq(None::<String>),
                        channel_pushes::batches_sent.eq(channel_pushes::batches_sent + 1),
                    ))
                    .execute(conn)?;
            }
        }
        Outcome::Failed(error) | Outcome::Expired(error) => {
            let failures = due.failures + 1;
            let expired = matches!(outcome, Outcome::Expired(_));
            let paused = expired || failures >= settings.channel_push_pause_after;
            let state = if paused { PushState::Paused } else { PushState::Active };
            diesel::update(target)
                .set((
                    channel_pushes::failures.eq(failures),
                    channel_pushes::state.eq(state.as_str()),
                    channel_pushes::next_attempt_at.eq(now + backoff(interval, failures)),
                    channel_pushes::last_attempt_at.eq(now),
                    channel_pushes::last_error.eq(error),
                    released,
                ))
                .execute(conn)?;
            if paused {
                tracing::warn!(channel = due.channel.as_str(), %error, "a channel's webhook is paused");
            }
        }
    }
    Ok(())
}

/// The wait after `failures` failures in a row: the interval doubled each time, at most ten
/// minutes.
fn backoff(interval: TimeDelta, failures: i32) -> TimeDelta {
    let doubled = interval * 2i32.saturating_pow(failures.clamp(0, 20) as u32);
    doubled.min(MAX_BACKOFF)
}

/// What a batch says: the channel, where it starts and ends in the log, and the feed page.
fn batch_body(channel: &str, after: Cursor, page: &ChangePage, now: DateTime<Utc>) -> String {
    serde_json::json!({
        "channel": channel,
        "after": after.text(),
        "cursor": page.cursor,
        "items": page.items,
        "orders": page.orders,
        "sent_at": now,
    })
    .to_string()
}

fn deliver(agent: &ureq::Agent, due: &Due, body: &str) -> Result<(), String> {
    let timestamp = Utc::now().timestamp();
    let signature = crate::notify::webhook::sign(due.secret.as_bytes(), timestamp, body);
    let sent = agent
        .post(&due.url)
        .header("Content-Type", "application/json")
        .header(crate::notify::webhook::TIMESTAMP_HEADER, timestamp.to_string())
        .header(crate::notify::webhook::SIGNATURE_HEADER, signature)
        .header("Idempotency-Key", format!("{}:{}", due.channel, due.after.text()))
        .send(body);
    match sent {
        Ok(response) => match answered(response.status().as_u16()) {
            Answered::Accepted => Ok(()),
            Answered::Retry | Answered::Refused => Err(format!("the endpoint answered {}", response.status().as_u16())),
        },
        Err(error) => {
            tracing::warn!(channel = due.channel.as_str(), %error, "a channel's webhook could not be reached");
            Err(crate::notify::targets::UNREACHABLE.into())
        }
    }
}

/// One round: every due channel gets at most one batch. Blocking (HTTP and the database);
/// returns how many batches were delivered.
pub fn run_round(pool: &Pool, agent: &ureq::Agent, settings: &SyncSettings) -> Result<usize, ApiError> {
    let connection = || pool.get().map_err(|e| ApiError::Pool(e.to_string()));
    // A connection per step, none held while an endpoint answers: a slow endpoint must not
    // hold the pool.
    let due = write_tx(&mut *connection()?, |conn| claim_due(conn, Utc::now().naive_utc()))?;
    let mut delivered = 0;
    for channel in due {
        let read = read_tx(&mut *connection()?, |conn| {
            feed::changes_after(conn, &channel.channel, channel.after, BATCH_LIMIT)
        });
        let outcome = match read {
            Err(ApiError::CursorExpired(_)) => Outcome::Expired(
                "the change log no longer holds the cursor: export the channel, then resume with its feed_cursor"
                    .into(),
            ),
            Err(error) => Outcome::Failed(format!("could not read the feed: {}", error.kind().2)),
            Ok(page) => {
                let cursor = Cursor::parse(&page.cursor).unwrap_or(channel.after);
                if page.items.is_empty() && page.orders.is_empty() {
                    Outcome::Delivered { cursor, sent: false }
                } else {
                    let body = batch_body(&channel.channel, channel.after, &page, Utc::now());
                    match deliver(agent, &channel, &body) {
                        Ok(()) => {
                            delivered += 1;
                            Outcome::Delivered { cursor, sent: true }
                        }
                        Err(error) => Outcome::Failed(error),
                    }
                }
            }
        };
        write_tx(&mut *connection()?, |conn| record(conn, &channel, &outcome, Utc::now().naive_utc(), settings))?;
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_ten_minutes() {
        let second = TimeDelta::seconds(1);
        assert_eq!(backoff(second, 1), TimeDelta::seconds(2));
        assert_eq!(backoff(second, 3), TimeDelta::seconds(8));
        assert_eq!(backoff(second, 12), MAX_BACKOFF);
        assert_eq!(backoff(second, 1000), MAX_BACKOFF);
    }
}
