//! The policy: whether a claimed message goes out, and when. Read again just before sending:
//! a message no longer true, a withdrawn or unconfigured channel, quiet hours and the
//! fallback between channels settle it without a provider call; a failed attempt is retried
//! with backoff until its window closes.

use chrono::{NaiveDateTime, TimeDelta, Utc};
use rand::Rng;

use super::channels::Channels;
use super::fallback::{self, Verdict};
use super::outbox::{self, ChannelName, Claimed, Outcome};
use super::providers::Delivery;
use crate::catalog::model::LocationRow;
use crate::customers::model::CustomerRow;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::orders::events::Event;
use crate::orders::model::OrderRow;

/// The first retry waits this long; each next one twice as long, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: TimeDelta = TimeDelta::seconds(30);
const MAX_BACKOFF: TimeDelta = TimeDelta::hours(1);

/// Quiet hours, in the customer's local time: reminders wait for the morning. (Messages
/// about something that just happened, such as "ready for pickup", are not held back.)
pub const QUIET_FROM: u32 = 21;
pub const QUIET_UNTIL: u32 = 8;

/// What a message that is to go out is about, as read just now.
pub struct Facts {
    pub event: Event,
    pub channel: ChannelName,
    pub customer: CustomerRow,
    pub about: Subject,
}

/// An order and its store, or a notice about something else.
// The facts travel boxed (`Judgement::Send`): the variants' sizes cost nothing.
#[allow(clippy::large_enum_variant)]
pub enum Subject {
    Order { order: OrderRow, location: LocationRow },
    Notice(Notice),
}

/// A message not about an order: a SKU back in stock, a hold about to lapse.
pub struct Notice {
    /// The outbox subject (`alert:<id>`, `hold:<id>`).
    pub subject: String,
    /// The products it is about, by name.
    pub product: String,
    pub sku: String,
    /// The store it is about; `None` for online.
    pub location: Option<LocationRow>,
    /// When the hold ends, for its reminder.
    pub until: Option<NaiveDateTime>,
}

/// The policy's word on one claimed message.
pub enum Judgement {
    /// Compose it and send it now.
    Send(Box<Facts>),
    /// Not sent: suppressed, or deferred to later.
    Settled(Outcome),
}

/// Reads the order (or the notice's subject) and the customer again and decides whether the
/// message goes out now.
pub fn judge(conn: &mut DbConn, claimed: &Claimed, channels: &Channels) -> Result<Judgement, ApiError> {
    let settled = |outcome| Ok(Judgement::Settled(outcome));
    let event = Event::from_stored(&claimed.event)?;
    let about = match (&claimed.order_id, &claimed.subject) {
        (Some(order_id), _) => {
            let order = crate::orders::find_row(conn, order_id)?;
            let status = order.status()?;
            if !event.still_true(status) {
                return settled(Outcome::Suppressed(format!(
                    "the order is {} now; this message is no longer true",
                    status.as_str()
                )));
            }
            let location = crate::catalog::find_location(conn, &order.location)?;
            Subject::Order { order, location }
        }
        (None, Some(subject)) => match notice(conn, subject, channels)? {
            Ok(notice) => Subject::Notice(notice),
            Err(why) => return settled(Outcome::Suppressed(why)),
        },
        (None, None) => return settled(Outcome::Suppressed("the message is about nothing".into())),
    };
    let Some(customer) = crate::customers::find_row(conn, &claimed.customer_id)? else {
        return settled(Outcome::Suppressed("the customer has no profile any more".into()));
    };
    let channel = ChannelName::from_stored(&claimed.channel)?;
    let still_chosen = customer.channels().named().iter().any(|(name, on)| *name == channel && *on);
    if !still_chosen {
        return settled(Outcome::Suppressed(format!("the customer no longer wants {} messages", channel.as_str())));
    }
    if let Some(reason) = channels.unavailable(channel) {
        return settled(Outcome::Suppressed(reason));
    }
    // Reminders and marketing wait out the night; a hold's reminder cannot (the hold would
    // be gone by morning).
    if matches!(event, Event::PickupReminder | Event::BackInStock) {
        let zone = match &about {
            Subject::Order { location, .. } => customer_zone(&customer, location),
            Subject::Notice(notice) => notice_zone(&customer, notice.location.as_ref()),
        };
        if let Some(until) = quiet_until(Utc::now().naive_utc(), zone) {
            return settled(Outcome::Deferred { until });
        }
    }
    // An admin's resend is not held back by the fallback policy; only an order's messages
    // chain across channels.
    let waiting_rule = channels
        .fallback
        .waiting_rule(event, channel)
        .filter(|_| claimed.resent_at.is_none())
        .zip(claimed.order_id.as_deref());
    if let Some((rule, order_id)) = waiting_rule {
        let first = outbox::first_message(conn, order_id, event, rule.first)?;
        match fallback::verdict(rule, first.as_ref(), Utc::now().naive_utc()) {
            Verdict::SendNow => {}
            Verdict::NotNeeded => {
                return settled(Outcome::Suppressed(format!(
                    "the {} message was delivered; no {} message is needed",
                    rule.first.as_str(),
                    channel.as_str()
                )))
            }
            Verdict::WaitUntil(until) => return settled(Outcome::Deferred { until }),
        }
    }
    Ok(Judgement::Send(Box::new(Facts { event, channel, customer, about })))
}

/// A notice's subject read again: what it says, or why it is no longer true.
fn notice(conn: &mut DbConn, subject: &str, channels: &Channels) -> Result<Result<Notice, String>, ApiError> {
    let product_name = |conn: &mut DbConn, sku: &str| -> Result<String, ApiError> {
        Ok(crate::catalog::find_product(conn, sku).map(|p| p.name).unwrap_or_else(|_| sku.to_string()))
    };
    if let Some(alert_id) = subject.strip_prefix("alert:") {
        let alert = match crate::alerts::still_true(conn, alert_id)? {
            Ok(alert) => alert,
            Err(why) => return Ok(Err(why)),
        };
        let location = match alert.found_at.as_str() {
            crate::alerts::model::ONLINE => None,
            code => Some(crate::catalog::find_location(conn, code)?),
        };
        let product = product_name(conn, &alert.sku)?;
        return Ok(Ok(Notice { subject: subject.to_string(), product, sku: alert.sku, location, until: None }));
    }
    if let Some(hold_id) = subject.strip_prefix("hold:") {
        let hold = match crate::reservations::reminder_facts(
            conn,
            hold_id,
            Utc::now().naive_utc(),
            channels.hold_reminder_before,
        )? {
            Ok(hold) => hold,
            Err(why) => return Ok(Err(why)),
        };
        let mut names = Vec::new();
        for sku in &hold.skus {
            names.push(product_name(conn, sku)?);
        }
        let location = crate::catalog::find_location(conn, &hold.location)?;
        let sku = hold.skus.first().cloned().unwrap_or_default();
        return Ok(Ok(Notice {
            subject: subject.to_string(),
            product: names.join(", "),
            sku,
            location: Some(location),
            until: Some(hold.expires_at),
        }));
    }
    Ok(Err(format!("unknown subject {subject}")))
}

/// The customer's time zone, else the notice's store's, else UTC.
pub fn notice_zone(customer: &CustomerRow, location: Option<&LocationRow>) -> chrono_tz::Tz {
    match location {
        Some(location) => customer_zone(customer, location),
        None => customer.timezone.as_deref().and_then(|zone| zone.parse().ok()).unwrap_or(chrono_tz::UTC),
    }
}

/// The customer's time zone, else the store's.
pub fn customer_zone(customer: &CustomerRow, location: &LocationRow) -> chrono_tz::Tz {
    customer.timezone.as_deref().unwrap_or(&location.timezone).parse().unwrap_or(chrono_tz::UTC)
}

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

/// Exponential backoff with ±20% jitter, so failed messages do not return in lockstep.
pub fn backoff(attempts: i32) -> TimeDelta {
    let doublings = attempts.clamp(1, 20) - 1;
    let base = (FIRST_BACKOFF * 2i32.pow(doublings as u32)).min(MAX_BACKOFF);
    let jitter = rand::rng().random_range(0.8..1.2);
    TimeDelta::milliseconds((base.num_milliseconds() as f64 * jitter) as i64)
}

/// What a delivery comes to: transient failures are retried with backoff until the retry
/// window closes.
pub fn outcome_of(delivery: Delivery, claimed: &Claimed, now: NaiveDateTime) -> Outcome {
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
