//! The transactional outbox: notification jobs are written in the same transaction as the
//! order change they announce, so a change is never committed without its messages, nor a
//! message queued for a change that rolled back. One row per (order, event, channel).

use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{notifications, push_subscriptions};
use crate::db::{due_rows, insert_or_ignore, DbConn};
use crate::error::ApiError;
use crate::orders::events::{Announcement, Event};

/// How long a message is retried on transient failures before it is marked failed.
pub const RETRY_FOR: TimeDelta = TimeDelta::hours(24);

#[derive(Insertable)]
#[diesel(table_name = notifications)]
struct NewNotification<'a> {
    id: String,
    order_id: Option<&'a str>,
    subject: Option<&'a str>,
    customer_id: &'a str,
    event: &'a str,
    channel: &'a str,
    status: &'a str,
    dedupe_key: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    retry_until: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// What a message is about: an order, or something else named by a subject (`alert:<id>`,
/// `hold:<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About<'a> {
    Order(&'a str),
    Subject(&'a str),
}

/// Queues an order's event on every channel its customer chose, to go out at `send_at`: the
/// orders' `Announce`. A customer without a profile has chosen nothing. Queuing the same
/// event twice is a no-op.
pub fn enqueue(conn: &mut DbConn, announcement: &Announcement) -> Result<(), ApiError> {
    let Announcement { order_id, customer_id, event, send_at, occurrence } = *announcement;
    enqueue_about(conn, About::Order(order_id), customer_id, event, send_at, occurrence).map(|_| ())
}

/// Queues `event` about anything on every channel the customer chose; returns how many
/// messages were queued (none for a customer without a profile, or a repeat).
pub fn enqueue_about(
    conn: &mut DbConn,
    about: About,
    customer_id: &str,
    event: Event,
    send_at: NaiveDateTime,
    occurrence: Option<&str>,
) -> Result<usize, ApiError> {
    let Some(customer) = crate::customers::find_row(conn, customer_id)? else { return Ok(0) };
    let now = Utc::now().naive_utc();
    let (order_id, subject, key) = match about {
        About::Order(id) => (Some(id), None, id),
        About::Subject(subject) => (None, Some(subject), subject),
    };
    let mut queued = 0;
    for (channel, chosen) in customer.channels().named() {
        if !chosen {
            continue;
        }
        let row = NewNotification {
            id: uuid::Uuid::now_v7().to_string(),
            order_id,
            subject,
            customer_id,
            event: event.as_str(),
            channel: channel.as_str(),
            status: DeliveryStatus::Queued.as_str(),
            dedupe_key: match occurrence {
                Some(which) => format!("{key}:{}:{which}:{}", event.as_str(), channel.as_str()),
                None => format!("{key}:{}:{}", event.as_str(), channel.as_str()),
            },
            attempts: 0,
            next_attempt_at: send_at,
            retry_until: send_at + RETRY_FOR,
            created_at: now,
        };
        queued += insert_or_ignore!(conn, notifications::table, &row)?;
    }
    Ok(queued)
}

/// Whether any message about `subject` was ever queued.
pub fn any_about(conn: &mut DbConn, subject: &str) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(notifications::table.filter(notifications::subject.eq(subject))))
        .get_result(conn)?)
}

/// When each subject a customer hears of with `event` is (or was) first due, since `since`,
/// earliest first: what a per-customer rate limit counts. A message's due time stands for
/// when it goes out.
pub fn first_due_by_subject(
    conn: &mut DbConn,
    customer_id: &str,
    event: Event,
    since: NaiveDateTime,
) -> Result<Vec<NaiveDateTime>, ApiError> {
    let rows: Vec<(Option<String>, NaiveDateTime)> = notifications::table
        .filter(notifications::customer_id.eq(customer_id))
        .filter(notifications::event.eq(event.as_str()))
        .filter(notifications::next_attempt_at.ge(since))
        .select((notifications::subject, notifications::next_attempt_at))
        .load(conn)?;
    let mut first: std::collections::HashMap<Option<String>, NaiveDateTime> = std::collections::HashMap::new();
    for (subject, at) in rows {
        let earliest = first.entry(subject).or_insert(at);
        *earliest = (*earliest).min(at);
    }
    let mut times: Vec<NaiveDateTime> = first.into_values().collect();
    times.sort();
    Ok(times)
}

/// A browser's push subscription, with the keys its messages are encrypted for.
#[derive(Debug, Clone, Queryable)]
pub struct PushSubscriptionRow {
    pub id: String,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Where a customer receives push messages, oldest subscription first.
pub fn push_subscriptions(conn: &mut DbConn, customer_id: &str) -> Result<Vec<PushSubscriptionRow>, ApiError> {
    Ok(push_subscriptions::table
        .filter(push_subscriptions::customer_id.eq(customer_id))
        .order((push_subscriptions::created_at.asc(), push_subscriptions::id.asc()))
        .select((
            push_subscriptions::id,
            push_subscriptions::endpoint,
            push_subscriptions::p256dh,
            push_subscriptions::auth,
        ))
        .load(conn)?)
}

/// Forgets a subscription its push service reported gone (404/410).
pub fn remove_push_subscription(conn: &mut DbConn, id: &str) -> Result<(), ApiError> {
    diesel::delete(push_subscriptions::table.find(id)).execute(conn)?;
    Ok(())
}

/// The message a fallback waits for, as the sender finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct First {
    pub status: DeliveryStatus,
    /// When it was handed to the provider.
    pub sent_at: Option<NaiveDateTime>,
    /// Still queued, but an attempt has already failed and it waits for a retry.
    pub retrying: bool,
}

/// An order's `event` message on `channel`, if one was queued, as a fallback sees it.
pub fn first_message(
    conn: &mut DbConn,
    order_id: &str,
    event: Event,
    channel: ChannelName,
) -> Result<Option<First>, ApiError> {
    #[derive(Queryable, Selectable)]
    #[diesel(table_name = notifications)]
    struct Progress {
        status: String,
        sent_at: Option<NaiveDateTime>,
        error: Option<String>,
        attempts: i32,
    }
    let row: Option<Progress> = notifications::table
        .filter(notifications::order_id.eq(order_id))
        .filter(notifications::event.eq(event.as_str()))
        .filter(notifications::channel.eq(channel.as_str()))
        .select(Progress::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| {
        let status = DeliveryStatus::from_stored(&row.status)?;
        // A failed attempt leaves its error; an attempt that never came back (a sender that
        // hung or died) leaves only a second claim.
        let retrying = status == DeliveryStatus::Queued && (row.error.is_some() || row.attempts > 1);
        Ok(First { status, sent_at: row.sent_at, retrying })
    })
    .transpose()
}

/// Makes the queued `channels` messages for an order's event due now: they were waiting for
/// a message on another channel that has failed or was suppressed. A row due within `lease`
/// may be one a sender holds right now, and is left alone: making it due would let a second
/// sender claim it while the first is sending.
pub fn hurry(
    conn: &mut DbConn,
    order_id: &str,
    event: Event,
    channels: &[ChannelName],
    now: NaiveDateTime,
    lease: TimeDelta,
) -> Result<usize, ApiError> {
    if channels.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        notifications::table
            .filter(notifications::order_id.eq(order_id))
            .filter(notifications::event.eq(event.as_str()))
            .filter(notifications::channel.eq_any(channels.iter().map(ChannelName::as_str)))
            .filter(notifications::status.eq(DeliveryStatus::Queued.as_str()))
            .filter(notifications::next_attempt_at.gt(now + lease)),
    )
    .set(notifications::next_attempt_at.eq(now))
    .execute(conn)?)
}

// The sender's side: claiming due rows under a lease, and recording what became of them.

#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    /// The order it is about; `None` for a message about something else (`subject`).
    pub order_id: Option<String>,
    pub subject: Option<String>,
    pub customer_id: String,
    /// The stored words, read as types when the message is judged: a word this build does
    /// not know fails that one message, not the claim of the whole batch.
    pub event: String,
    pub channel: String,
    pub dedupe_key: String,
    pub attempts: i32,
    pub retry_until: NaiveDateTime,
    pub created_at: NaiveDateTime,
    /// When an admin last asked for it again: the fallback policy does not hold it back, and
    /// a webhook gets a new `Idempotency-Key`.
    pub resent_at: Option<NaiveDateTime>,
    /// The end of this sender's lease: the row's `next_attempt_at` while the lease holds.
    pub leased_until: NaiveDateTime,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        provider_ref: Option<String>,
    },
    /// Not sent, on purpose; the reason is kept.
    Suppressed(String),
    /// A transient failure: try again at `at`.
    Retry {
        error: String,
        at: NaiveDateTime,
    },
    /// Given up: a permanent failure, or transient ones past the retry window.
    Failed(String),
    /// Not now: quiet hours in the customer's time zone. Not an attempt.
    Deferred {
        until: NaiveDateTime,
    },
}

/// A due row as the claim reads it, before the lease is noted.
#[derive(Queryable, Selectable)]
#[diesel(table_name = notifications)]
struct DueRow {
    id: String,
    order_id: Option<String>,
    subject: Option<String>,
    customer_id: String,
    event: String,
    channel: String,
    dedupe_key: String,
    attempts: i32,
    retry_until: NaiveDateTime,
    created_at: NaiveDateTime,
    resent_at: Option<NaiveDateTime>,
}

/// Leases up to `batch` due notifications for `lease` (`NOTIFY_LEASE_SECONDS`).
pub fn claim_due(conn: &mut DbConn, batch: i64, lease: TimeDelta) -> Result<Vec<Claimed>, ApiError> {
    let now = Utc::now().naive_utc();
    let queued = DeliveryStatus::Queued.as_str();
    let rows: Vec<DueRow> = due_rows!(
        conn,
        notifications,
        status queued,
        due next_attempt_at <= now,
        order next_attempt_at,
        limit batch,
        DueRow
    )?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let leased_until = lease_end(now, lease);
    diesel::update(notifications::table.filter(notifications::id.eq_any(&ids)))
        .set((notifications::attempts.eq(notifications::attempts + 1), notifications::next_attempt_at.eq(leased_until)))
        .execute(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| Claimed {
            id: row.id,
            order_id: row.order_id,
            subject: row.subject,
            customer_id: row.customer_id,
            event: row.event,
            channel: row.channel,
            dedupe_key: row.dedupe_key,
            attempts: row.attempts + 1,
            retry_until: row.retry_until,
            created_at: row.created_at,
            resent_at: row.resent_at,
            leased_until,
        })
        .collect())
}

/// PostgreSQL keeps microseconds: a lease end cut to them compares equal after the round trip.
fn lease_end(now: NaiveDateTime, lease: TimeDelta) -> NaiveDateTime {
    use chrono::SubsecRound;
    (now + lease).trunc_subsecs(6)
}

/// Makes sure a claimed row is still this sender's just before its message goes out, and
/// gives it a whole lease for the provider call. Early messages of a batch can take long
/// enough for the lease of later ones to lapse; another sender may have claimed those since,
/// and only one of the two may send. Returns the new lease end, or `None` when the row is no
/// longer ours.
pub fn renew_lease(conn: &mut DbConn, claimed: &Claimed, lease: TimeDelta) -> Result<Option<NaiveDateTime>, ApiError> {
    let until = lease_end(Utc::now().naive_utc(), lease);
    let renewed = diesel::update(
        notifications::table
            .filter(notifications::id.eq(&claimed.id))
            .filter(notifications::status.eq(DeliveryStatus::Queued.as_str()))
            .filter(notifications::next_attempt_at.eq(claimed.leased_until)),
    )
    .set(notifications::next_attempt_at.eq(until))
    .execute(conn)?;
    Ok((renewed == 1).then_some(until))
}

/// Records an outcome; only a row still queued changes. Anything but "sent" is recorded only
/// while the lease holds: a sender whose lease lapsed while it decided must not overwrite the
/// row another sender now holds (a "suppressed" written over a message being sent would
/// hide it, and send its fallback too). A message that went out is recorded whoever holds it.
pub fn record(conn: &mut DbConn, claimed: &Claimed, outcome: &Outcome, now: NaiveDateTime) -> Result<(), ApiError> {
    let id = claimed.id.as_str();
    let queued = || {
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::status.eq(DeliveryStatus::Queued.as_str()))
    };
    let leased = || queued().filter(notifications::next_attempt_at.eq(claimed.leased_until));
    match outcome {
        Outcome::Sent { provider_ref } => {
            let changed = diesel::update(queued())
                .set((
                    notifications::status.eq(DeliveryStatus::Sent.as_str()),
                    notifications::sent_at.eq(Some(now)),
                    notifications::provider_ref.eq(provider_ref),
                    notifications::error.eq(None::<String>),
                ))
                .execute(conn)?;
            // A receipt can arrive before this is recorded (a service worker is quick): the
            // status has already moved on; keep it, and fill in when and as what it was sent.
            if changed == 0 {
                diesel::update(
                    notifications::table
                        .filter(notifications::id.eq(id))
                        .filter(notifications::status.ne(DeliveryStatus::Queued.as_str()))
                        .filter(notifications::sent_at.is_null()),
                )
                .set((notifications::sent_at.eq(Some(now)), notifications::provider_ref.eq(provider_ref)))
                .execute(conn)?;
            }
            changed
        }
        Outcome::Suppressed(reason) => diesel::update(leased())
            .set((notifications::status.eq(DeliveryStatus::Suppressed.as_str()), notifications::error.eq(Some(reason))))
            .execute(conn)?,
        Outcome::Retry { error, at } => diesel::update(leased())
            .set((notifications::next_attempt_at.eq(at), notifications::error.eq(Some(error))))
            .execute(conn)?,
        Outcome::Deferred { until } => diesel::update(leased())
            .set((notifications::next_attempt_at.eq(until), notifications::attempts.eq(notifications::attempts - 1)))
            .execute(conn)?,
        Outcome::Failed(error) => diesel::update(leased())
            .set((notifications::status.eq(DeliveryStatus::Failed.as_str()), notifications::error.eq(Some(error))))
            .execute(conn)?,
    };
    Ok(())
}

/// What a provider reported about one message it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's message id (`provider_ref`), or ours where the provider carries it.
    pub reference: String,
    pub status: DeliveryStatus,
    /// Why it failed, as the provider put it.
    pub error: Option<String>,
}

crate::db::stored::stored_enum! {
    /// Where a notification stands.
    pub enum DeliveryStatus as "notification status" {
        Queued,
        Sent,
        Delivered,
        Opened,
        Failed,
        Suppressed,
    }
}

impl DeliveryStatus {
    /// How far along a notification is; a receipt only ever moves it forward. Nothing moves
    /// a suppressed one.
    fn progress(self) -> u8 {
        match self {
            DeliveryStatus::Queued => 0,
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Delivered | DeliveryStatus::Failed => 2,
            DeliveryStatus::Opened => 3,
            DeliveryStatus::Suppressed => 4,
        }
    }
}

/// The channels a notification goes out on: the ones a customer chooses.
pub use crate::customers::model::ChannelName;

/// One notification, as `GET /v1/orders/{id}/notifications` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: String,
    pub event: Event,
    pub channel: ChannelName,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub created_at: chrono::DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<chrono::DateTime<Utc>>,
    /// Why it failed or was suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A notification's row as the list reads it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = notifications)]
struct ListedRow {
    id: String,
    event: String,
    channel: String,
    status: String,
    attempts: i32,
    created_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
    error: Option<String>,
}

pub fn list(conn: &mut DbConn, about: About) -> Result<Vec<Notification>, ApiError> {
    let mut query = notifications::table.into_boxed();
    query = match about {
        About::Order(id) => query.filter(notifications::order_id.eq(id.to_string())),
        About::Subject(subject) => query.filter(notifications::subject.eq(subject.to_string())),
    };
    let rows: Vec<ListedRow> = query
        .order((notifications::created_at.asc(), notifications::id.asc()))
        .select(ListedRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            Ok(Notification {
                id: row.id,
                event: Event::from_stored(&row.event)?,
                channel: ChannelName::from_stored(&row.channel)?,
                status: DeliveryStatus::from_stored(&row.status)?,
                attempts: row.attempts,
                created_at: row.created_at.and_utc(),
                sent_at: row.sent_at.map(|t| t.and_utc()),
                error: row.error,
            })
        })
        .collect()
}

/// An admin sends a failed (or suppressed) notification again: it is queued now, with a
/// fresh retry window (attempts count from zero again), and the fallback policy no longer
/// holds it back (an SMS suppressed because the push got through goes out when asked for).
/// Quiet hours still apply.
pub fn resend(conn: &mut DbConn, id: &str) -> Result<(), ApiError> {
    let status: String = notifications::table
        .find(id)
        .select(notifications::status)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no notification {id}")))?;
    let now = Utc::now().naive_utc();
    // Only from failed or suppressed, in the same statement that changes it; the earlier
    // attempt's provider reference goes, so its late receipts find nothing to move.
    let requeued =
        diesel::update(notifications::table.find(id).filter(
            notifications::status.eq_any([DeliveryStatus::Failed.as_str(), DeliveryStatus::Suppressed.as_str()]),
        ))
        .set((
            notifications::status.eq(DeliveryStatus::Queued.as_str()),
            notifications::next_attempt_at.eq(now),
            notifications::retry_until.eq(now + RETRY_FOR),
            notifications::error.eq(None::<String>),
            notifications::attempts.eq(0),
            notifications::resent_at.eq(Some(now)),
            notifications::provider_ref.eq(None::<String>),
            notifications::sent_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    if requeued == 0 {
        return Err(ApiError::Conflict(format!(
            "the notification is {status}; only failed or suppressed ones are sent again"
        )));
    }
    Ok(())
}

/// What a notification is about, for access checks: (order id, subject).
pub fn about_of(conn: &mut DbConn, id: &str) -> Result<(Option<String>, Option<String>), ApiError> {
    notifications::table
        .find(id)
        .select((notifications::order_id, notifications::subject))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no notification {id}")))
}

/// Applies a provider's delivery receipt to the message (an SMS or a WhatsApp message: one
/// provider account carries both) it names: by the provider's message id
/// (`provider_ref`), or by our notification id, which Infobip carries as its `messageId` and
/// which lets a report that arrives before the send is recorded still count. (A resent
/// message has its own `messageId`, so a late report about the first send is not taken for
/// the resend's.) Late or out-of-order receipts (a "sent" after a "delivered") change
/// nothing. Returns whether the status moved.
pub fn record_receipt(conn: &mut DbConn, channels: &[ChannelName], receipt: &Receipt) -> Result<bool, ApiError> {
    let reference = receipt.reference.as_str();
    let found: Option<(String, String)> = notifications::table
        .filter(notifications::channel.eq_any(channels.iter().map(ChannelName::as_str)))
        .filter(
            notifications::provider_ref
                .eq(reference)
                .or(notifications::id.eq(reference).and(notifications::resent_at.is_null())),
        )
        .select((notifications::id, notifications::channel))
        .first(conn)
        .optional()?;
    let Some((id, channel)) = found else { return Ok(false) };
    advance(conn, &id, &channel, receipt.status, receipt.error.clone())
}

/// Records that email notification `id` was opened (its pixel was fetched).
pub fn record_email_open(conn: &mut DbConn, id: &str) -> Result<bool, ApiError> {
    advance(conn, id, ChannelName::Email.as_str(), DeliveryStatus::Opened, None)
}

/// Applies a receipt a service worker posted for push notification `id`.
pub fn record_push_receipt(conn: &mut DbConn, id: &str, status: DeliveryStatus) -> Result<bool, ApiError> {
    advance(conn, id, ChannelName::Push.as_str(), status, None)
}

/// Moves a notification on `channel` to `status` only from a status behind it, in one
/// conditional UPDATE: two receipts racing each other cannot move it backwards.
fn advance(
    conn: &mut DbConn,
    id: &str,
    channel: &str,
    status: DeliveryStatus,
    error: Option<String>,
) -> Result<bool, ApiError> {
    let behind: Vec<&str> = <DeliveryStatus as strum::VariantArray>::VARIANTS
        .iter()
        .filter(|s| s.progress() < status.progress())
        .map(|s| s.as_str())
        .collect();
    let moved = diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::channel.eq(channel))
            .filter(notifications::status.eq_any(behind)),
    )
    .set((notifications::status.eq(status.as_str()), notifications::error.eq(error)))
    .execute(conn)?;
    Ok(moved == 1)
}
