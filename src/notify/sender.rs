//! The sender: claims due notifications, reads the order again, and sends, retries or
//! suppresses.
//!
//! Claiming is a short transaction that leases the rows (`next_attempt_at` moves a lease
//! ahead, `attempts` goes up; `SKIP LOCKED` on PostgreSQL, the one writer on SQLite). Deciding
//! reads the database; sending happens outside any transaction, with no connection held; the
//! outcome is recorded in another transaction. A process that dies between sending and
//! recording leaves the row queued, and the lease running out makes it due again; the dedupe
//! key travels with the message (webhooks get it as `Idempotency-Key`) so the receiver can drop
//! the repeat.

use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use rand::Rng;
use serde_json::json;

use super::channels::{Channels, Delivery};
use super::fallback::{self, Verdict};
use super::locale::Lang;
use super::outbox::{self, ChannelName, DeliveryStatus};
use super::push::{PushAnswer, Subscription, WebPush};
use super::sms::{self, SmsData};
use super::templates;
use crate::catalog::model::LocationRow;
use crate::customers::model::CustomerRow;
use crate::db::schema::notifications;
use crate::db::{locking, DbConn, Pool};
use crate::error::ApiError;
use crate::orders::events::Event;

/// Notifications claimed per round.
pub const BATCH: i64 = 50;
/// How long the push service keeps a message for a browser that is offline.
const PUSH_TTL_SECS: u32 = 24 * 3600;
/// The first retry waits this long; each next one twice as long, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: TimeDelta = TimeDelta::seconds(30);
const MAX_BACKOFF: TimeDelta = TimeDelta::hours(1);

#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub order_id: String,
    pub customer_id: String,
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

type ClaimRow =
    (String, String, String, String, String, String, i32, NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>);

/// Leases up to `BATCH` due notifications for `lease` (`NOTIFY_LEASE_SECONDS`).
pub fn claim_due(conn: &mut DbConn, lease: TimeDelta) -> Result<Vec<Claimed>, ApiError> {
    let now = Utc::now().naive_utc();
    let rows: Vec<ClaimRow> = locking!(
        conn,
        notifications::table
            .filter(notifications::status.eq(DeliveryStatus::Queued.as_str()))
            .filter(notifications::next_attempt_at.le(now))
            .order(notifications::next_attempt_at.asc())
            .limit(BATCH)
            .select((
                notifications::id,
                notifications::order_id,
                notifications::customer_id,
                notifications::event,
                notifications::channel,
                notifications::dedupe_key,
                notifications::attempts,
                notifications::retry_until,
                notifications::created_at,
                notifications::resent_at,
            )),
        load,
        skip_locked
    )?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let leased_until = lease_end(now, lease);
    diesel::update(notifications::table.filter(notifications::id.eq_any(&ids)))
        .set((notifications::attempts.eq(notifications::attempts + 1), notifications::next_attempt_at.eq(leased_until)))
        .execute(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, order_id, customer_id, event, channel, dedupe_key, attempts, retry_until, created_at, resent_at)| {
            Claimed {
                id,
                order_id,
                customer_id,
                event,
                channel,
                dedupe_key,
                attempts: attempts + 1,
                retry_until,
                created_at,
                resent_at,
                leased_until,
            }
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

/// The key a receiver deduplicates on: the same for every attempt at one message, new when an
/// admin asks for the message again (a receiver that stored its earlier refusal under the old
/// key would otherwise replay it).
pub fn idempotency_key(claimed: &Claimed) -> String {
    per_resend(&claimed.dedupe_key, claimed)
}

/// `base`, or `base:resent-<ms>` once an admin has asked for the message again: whoever
/// deduplicates on it sees the resend as a new message, and a late report about the earlier
/// one is not taken for the resend's.
fn per_resend(base: &str, claimed: &Claimed) -> String {
    match claimed.resent_at {
        None => base.to_string(),
        Some(at) => format!("{base}:resent-{}", at.and_utc().timestamp_millis()),
    }
}

/// Exponential backoff with ±20% jitter, so failed messages do not return in lockstep.
pub fn backoff(attempts: i32) -> TimeDelta {
    let doublings = attempts.clamp(1, 20) - 1;
    let base = (FIRST_BACKOFF * 2i32.pow(doublings as u32)).min(MAX_BACKOFF);
    let jitter = rand::rng().random_range(0.8..1.2);
    TimeDelta::milliseconds((base.num_milliseconds() as f64 * jitter) as i64)
}

/// A message ready to go out: everything the provider call needs, so no database connection
/// is held while a provider takes its time.
pub enum Message {
    Sms { to: String, text: String },
    Email { to: String, content: templates::EmailContent },
    Webhook { url: String, body: String },
    Push { subscriptions: Vec<outbox::PushSubscriptionRow>, payload: String, urgent: bool },
}

/// What the sender makes of a claimed notification before any provider is called.
pub enum Decision {
    /// Nothing to send: suppressed or deferred.
    Settled(Outcome),
    Send(Message),
}

/// Decides one claimed notification from the database: the order and the customer are read
/// again; a message no longer true, a withdrawn channel, a channel that is off, quiet hours
/// and the fallback policy settle it without sending. Otherwise the message is rendered.
pub fn decide(
    conn: &mut DbConn,
    claimed: &Claimed,
    channels: &Channels,
    pickup_key: &[u8],
) -> Result<Decision, ApiError> {
    let settled = |outcome| Ok(Decision::Settled(outcome));
    let order = crate::orders::find_row(conn, &claimed.order_id)?;
    let status = order.status()?;
    let event = Event::from_stored(&claimed.event)?;
    if !event.still_true(status) {
        return settled(Outcome::Suppressed(format!(
            "the order is {} now; this message is no longer true",
            status.as_str()
        )));
    }
    let Some(customer) = crate::customers::find_row(conn, &claimed.customer_id)? else {
        return settled(Outcome::Suppressed("the customer has no profile any more".into()));
    };
    let location = crate::catalog::find_location(conn, &order.location)?;
    let still_chosen = customer.channels().named().iter().any(|(name, on)| *name == claimed.channel && *on);
    if !still_chosen {
        return settled(Outcome::Suppressed(format!("the customer no longer wants {} messages", claimed.channel)));
    }
    let channel = ChannelName::from_stored(&claimed.channel)?;
    if let Some(reason) = channels.unavailable(channel) {
        return settled(Outcome::Suppressed(reason));
    }
    if event == Event::PickupReminder {
        if let Some(until) = quiet_until(Utc::now().naive_utc(), customer_zone(&customer, &location)) {
            return settled(Outcome::Deferred { until });
        }
    }
    let waiting_rule = channels.fallback.waiting_rule(event, &claimed.channel).filter(|_| claimed.resent_at.is_none());
    if let Some(rule) = waiting_rule {
        let first = outbox::first_message(conn, &claimed.order_id, event, rule.first)?;
        match fallback::verdict(rule, first.as_ref(), Utc::now().naive_utc()) {
            Verdict::SendNow => {}
            Verdict::NotNeeded => {
                return settled(Outcome::Suppressed(format!(
                    "the {} message was delivered; no {} message is needed",
                    rule.first, claimed.channel
                )))
            }
            Verdict::WaitUntil(until) => return settled(Outcome::Deferred { until }),
        }
    }
    let missing = |what: &str| settled(Outcome::Suppressed(format!("the customer has no {what}")));
    let message = match channel {
        ChannelName::Sms => {
            let Some(phone) = customer.phone.clone() else { return missing("phone number") };
            let text = sms_text(context(conn, &order, location, &customer, event, pickup_key)?, event);
            Message::Sms { to: phone, text }
        }
        ChannelName::Email => {
            let Some(address) = customer.email.clone() else { return missing("email address") };
            let context = context(conn, &order, location, &customer, event, pickup_key)?;
            let content = templates::render_email(context.lang, event, &email_data(context, customer.name.clone()));
            Message::Email { to: address, content }
        }
        ChannelName::Webhook => {
            let Some(url) = customer.webhook_url.clone() else { return missing("webhook_url") };
            let context = context(conn, &order, location, &customer, event, pickup_key)?;
            let message = templates::render_short(context.lang, event, &email_data(context, customer.name.clone()));
            let summary = json!({
                "id": order.id,
                "number": order.number,
                "status": status.as_str(),
                "location": order.location,
                "fulfilment": order.fulfilment,
                "pickup_deadline": order.pickup_deadline.map(|d| d.and_utc()),
            });
            // A reminder happens when it is due, a day before the deadline, not when the order
            // became ready and the reminder was queued.
            let occurred_at = match (event, order.pickup_deadline) {
                (Event::PickupReminder, Some(deadline)) => deadline - crate::orders::events::REMINDER_BEFORE_DEADLINE,
                _ => claimed.created_at,
            };
            let body = super::webhook::body(
                &claimed.id,
                event,
                occurred_at.and_utc(),
                &claimed.customer_id,
                summary,
                &message,
            );
            Message::Webhook { url, body }
        }
        ChannelName::Push => {
            let subscriptions = outbox::push_subscriptions(conn, &claimed.customer_id)?;
            if subscriptions.is_empty() {
                return missing("push subscription");
            }
            let context = context(conn, &order, location, &customer, event, pickup_key)?;
            let message = templates::render_short(context.lang, event, &email_data(context, customer.name.clone()));
            let receipt = channels
                .push_receipt_url
                .as_deref()
                .map(|url| (url, super::push::receipt_token(pickup_key, &claimed.id)));
            let payload =
                super::push::payload(&claimed.id, event, &claimed.order_id, &claimed.dedupe_key, &message, receipt);
            Message::Push { subscriptions, payload, urgent: event == Event::ReadyForPickup }
        }
    };
    Ok(Decision::Send(message))
}

/// Hands a message to its provider. Returns how it went and the push subscriptions their
/// push service reported gone. Runs on a blocking thread, with no database connection held.
pub fn deliver(message: &Message, claimed: &Claimed, channels: &Channels) -> (Delivery, Vec<String>) {
    let off = |channel: &str| Delivery::Permanent(format!("the {channel} channel was turned off"));
    let delivery = match message {
        Message::Sms { to, text } => match &channels.sms {
            Some(provider) => provider.send(to, text, &per_resend(&claimed.id, claimed)),
            None => off("sms"),
        },
        Message::Email { to, content } => match &channels.email {
            Some(email) => email.send(to, content),
            None => off("email"),
        },
        Message::Webhook { url, body } => match &channels.webhook {
            // A refused address fails like an unreachable one, retried and with the same reason:
            // the customer cannot probe which internal names resolve.
            Some(webhook) => match super::targets::refused(url, channels.private_targets) {
                true => Delivery::Transient(super::targets::UNREACHABLE.into()),
                false => webhook.send(url, body, &idempotency_key(claimed)),
            },
            None => off("webhook"),
        },
        Message::Push { subscriptions, payload, urgent } => match &channels.push {
            Some(push) => return send_push(push, subscriptions, payload.as_bytes(), *urgent, channels.private_targets),
            None => off("push"),
        },
    };
    (delivery, Vec::new())
}

/// What a delivery comes to: transient failures are retried with backoff until the retry
/// window closes.
fn outcome_of(delivery: Delivery, claimed: &Claimed, now: NaiveDateTime) -> Outcome {
    match delivery {
        Delivery::Sent { provider_ref } => Outcome::Sent { provider_ref },
        Delivery::Permanent(error) => Outcome::Failed(error),
        Delivery::Transient(error) => {
            let at = now + backoff(claimed.attempts);
            if at > claimed.retry_until {
                Outcome::Failed(format!("gave up after {} attempts: {error}", claimed.attempts))
            } else {
                Outcome::Retry { error, at }
            }
        }
    }
}

/// Everything a message about an order may say, in the customer's language and time zone.
struct Context {
    lang: Lang,
    order: String,
    store: String,
    address: Option<String>,
    hours: Vec<(String, String)>,
    code: Option<String>,
    deadline: Option<String>,
    carrier: Option<String>,
    tracking: Option<String>,
}

/// The customer's time zone, else the store's.
fn customer_zone(customer: &CustomerRow, location: &LocationRow) -> chrono_tz::Tz {
    customer.timezone.as_deref().unwrap_or(&location.timezone).parse().unwrap_or(chrono_tz::UTC)
}

fn context(
    conn: &mut DbConn,
    order: &crate::orders::model::OrderRow,
    location: LocationRow,
    customer: &CustomerRow,
    event: Event,
    pickup_key: &[u8],
) -> Result<Context, ApiError> {
    use chrono::TimeZone;
    let lang = Lang::resolve(customer.locale.as_deref(), location.locale.as_deref());
    let zone = customer_zone(customer, &location);
    let format = if lang == Lang::En { "%a %d %b %H:%M" } else { "%d.%m %H:%M" };
    let deadline = order.pickup_deadline.map(|d| zone.from_utc_datetime(&d).format(format).to_string());
    let code = match (event, &order.pickup_code_nonce) {
        (Event::ReadyForPickup | Event::PickupReminder, Some(nonce)) => {
            Some(crate::orders::pickup::code(pickup_key, &order.id, nonce))
        }
        _ => None,
    };
    let hours: Vec<(String, String)> = location
        .opening_hours
        .as_deref()
        .and_then(|json| serde_json::from_str::<crate::catalog::model::OpeningHours>(json).ok())
        .map(|hours| {
            crate::catalog::model::WEEKDAYS
                .iter()
                .filter_map(|day| {
                    let spans = hours.0.get(*day)?;
                    let text =
                        spans.iter().map(|[open, close]| format!("{open}-{close}")).collect::<Vec<_>>().join(", ");
                    Some((day.to_string(), text))
                })
                .collect()
        })
        .unwrap_or_default();
    let shipment = crate::orders::shipment_of(conn, &order.id)?;
    Ok(Context {
        lang,
        order: order.number.clone(),
        store: location.name,
        address: location.address,
        hours,
        code,
        deadline,
        carrier: shipment.as_ref().map(|s| s.carrier.clone()),
        tracking: shipment.map(|s| s.tracking_number),
    })
}

fn sms_text(context: Context, event: Event) -> String {
    let data = SmsData {
        order: context.order,
        store: context.store,
        code: context.code,
        deadline: context.deadline,
        carrier: context.carrier,
        tracking: context.tracking,
    };
    sms::render(context.lang, event, &data)
}

/// Sends one push message to every browser the customer subscribed, noting the
/// subscriptions their push service says are gone. One browser reached is enough.
fn send_push(
    push: &WebPush,
    subscriptions: &[outbox::PushSubscriptionRow],
    payload: &[u8],
    urgent: bool,
    private_targets: bool,
) -> (Delivery, Vec<String>) {
    // All browsers at once: one slow push service must not stretch the send past the lease.
    let answers: Vec<(String, PushAnswer)> = std::thread::scope(|scope| {
        let calls: Vec<_> = subscriptions
            .iter()
            .map(|row| {
                scope.spawn(move || {
                    if super::targets::refused(&row.endpoint, private_targets) {
                        let unreachable = Delivery::Transient(super::targets::UNREACHABLE.into());
                        return (row.id.clone(), PushAnswer::Delivery(unreachable));
                    }
                    let subscription = Subscription { endpoint: &row.endpoint, p256dh: &row.p256dh, auth: &row.auth };
                    (row.id.clone(), push.send(&subscription, payload, PUSH_TTL_SECS, urgent))
                })
            })
            .collect();
        let panicked = || PushAnswer::Delivery(Delivery::Transient("a push call panicked".into()));
        calls.into_iter().map(|call| call.join().unwrap_or_else(|_| (String::new(), panicked()))).collect()
    });
    let (mut sent, mut transient, mut permanent, mut gone) = (None, None, None, Vec::new());
    for (id, answer) in answers {
        match answer {
            PushAnswer::Gone => gone.push(id),
            PushAnswer::Delivery(Delivery::Sent { provider_ref }) => sent = sent.or(Some(provider_ref)),
            PushAnswer::Delivery(Delivery::Transient(error)) => transient = Some(error),
            PushAnswer::Delivery(Delivery::Permanent(error)) => permanent = Some(error),
        }
    }
    let delivery = match (sent, transient, permanent) {
        (Some(provider_ref), _, _) => Delivery::Sent { provider_ref },
        (None, Some(error), _) => Delivery::Transient(error),
        (None, None, Some(error)) => Delivery::Permanent(error),
        (None, None, None) => {
            Delivery::Permanent("every push subscription of the customer is gone (404/410); they were removed".into())
        }
    };
    (delivery, gone)
}

fn email_data(context: Context, customer_name: Option<String>) -> templates::EmailData {
    templates::EmailData {
        customer_name,
        order: context.order,
        store: context.store,
        address: context.address,
        opening_hours: context.hours,
        code: context.code,
        deadline: context.deadline,
        carrier: context.carrier,
        tracking: context.tracking,
    }
}

/// Quiet hours, in the customer's local time: reminders wait for the morning. (Messages
/// about something that just happened, such as "ready for pickup", are not held back.)
pub const QUIET_FROM: u32 = 21;
pub const QUIET_UNTIL: u32 = 8;

/// When quiet hours end, if `now` falls inside them in `zone`.
pub fn quiet_until(now: NaiveDateTime, zone: chrono_tz::Tz) -> Option<NaiveDateTime> {
    use chrono::{TimeZone, Timelike};
    let local = zone.from_utc_datetime(&now);
    let hour = local.hour();
    if (QUIET_UNTIL..QUIET_FROM).contains(&hour) {
        return None;
    }
    let day = if hour >= QUIET_FROM { local.date_naive() + chrono::Days::new(1) } else { local.date_naive() };
    let morning = day.and_hms_opt(QUIET_UNTIL, 0, 0)?;
    zone.from_local_datetime(&morning).earliest().map(|t| t.naive_utc())
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

/// One round: claim, decide, deliver, record. Returns how many notifications were handled.
/// Runs on a blocking thread of the runtime (`web::block`), never on an async task. A pooled
/// connection is taken for each database step and given back while providers are called.
pub fn run_round(pool: &Pool, channels: &Channels, pickup_key: &[u8]) -> Result<usize, ApiError> {
    let connection = || pool.get().map_err(|e| ApiError::Pool(e.to_string()));
    let claimed = crate::db::write_tx(&mut *connection()?, |conn| claim_due(conn, channels.lease))?;
    for mut item in claimed.iter().cloned() {
        // A message that cannot be prepared (say, its order row is unreadable) is retried
        // like a provider's transient failure, and fails when its window closes, instead of
        // stopping the rest of the batch every round.
        let decision = decide(&mut *connection()?, &item, channels, pickup_key).unwrap_or_else(|error| {
            let error = Delivery::Transient(format!("could not prepare the message: {error}"));
            Decision::Settled(outcome_of(error, &item, Utc::now().naive_utc()))
        });
        let (outcome, gone) = match decision {
            Decision::Settled(outcome) => (outcome, Vec::new()),
            Decision::Send(message) => {
                let renewed =
                    crate::db::write_tx(&mut *connection()?, |conn| renew_lease(conn, &item, channels.lease))?;
                let Some(leased_until) = renewed else { continue };
                item.leased_until = leased_until;
                let (delivery, gone) = deliver(&message, &item, channels);
                (outcome_of(delivery, &item, Utc::now().naive_utc()), gone)
            }
        };
        crate::db::write_tx(&mut *connection()?, |conn| {
            for subscription in &gone {
                outbox::remove_push_subscription(conn, subscription)?;
            }
            let now = Utc::now().naive_utc();
            record(conn, &item, &outcome, now)?;
            // A channel waiting for this one need not wait for a message that will not come.
            if matches!(outcome, Outcome::Failed(_) | Outcome::Suppressed(_)) {
                let event = Event::from_stored(&item.event)?;
                let waiting = channels.fallback.waiting_for(event, &item.channel);
                outbox::hurry(conn, &item.order_id, event, &waiting, now, channels.lease)?;
            }
            Ok(())
        })?;
    }
    Ok(claimed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_wait_out_quiet_hours_in_the_customers_zone() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let warsaw: chrono_tz::Tz = "Europe/Warsaw".parse().unwrap();
        // 21:30 UTC is 22:30 in Warsaw (winter): wait until 08:00 Warsaw, 07:00 UTC.
        assert_eq!(quiet_until(at("2026-11-23 21:30"), warsaw), Some(at("2026-11-24 07:00")));
        // 05:00 UTC is 06:00 in Warsaw: wait until 08:00 the same day.
        assert_eq!(quiet_until(at("2026-11-24 05:00"), warsaw), Some(at("2026-11-24 07:00")));
        assert_eq!(quiet_until(at("2026-11-24 12:00"), warsaw), None);
        // The same instant is mid-afternoon in New York: send now.
        let new_york: chrono_tz::Tz = "America/New_York".parse().unwrap();
        assert_eq!(quiet_until(at("2026-11-23 21:30"), new_york), None);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour_with_jitter() {
        for (attempts, base) in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)] {
            let wait = backoff(attempts).num_seconds();
            assert!((base * 8 / 10..=base * 12 / 10).contains(&wait), "attempt {attempts}: {wait}s");
        }
    }
}
