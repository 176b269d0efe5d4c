//! The fallback policy: per event, a channel that waits for another one. "ready_for_pickup:
//! push, then SMS if the push is not delivered within 5 minutes" is
//! `ready_for_pickup=push>sms@5m`.
//!
//! The policy is applied when a message is sent, not when it is queued: the fallback message
//! is queued with the others, and the sender holds it back until the window has passed, sends
//! it at once when the first channel failed or was suppressed, and suppresses it when the first
//! one was delivered. A customer who did not choose the first channel gets the fallback
//! channel straight away.

use chrono::{NaiveDateTime, TimeDelta};

use super::outbox::{ChannelName, DeliveryStatus, First};
use crate::orders::events::Event;

/// The policy when `NOTIFY_FALLBACK` is not set.
pub const DEFAULT_POLICY: &str = "ready_for_pickup=push>sms@5m";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub event: Event,
    /// The channel tried first.
    pub first: ChannelName,
    /// The channel that waits for it.
    pub then: ChannelName,
    /// How long `then` waits for `first` to be delivered.
    pub after: TimeDelta,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FallbackPolicy {
    rules: Vec<Rule>,
}

fn channel(name: &str) -> Option<ChannelName> {
    name.parse().ok()
}

/// `30s`, `5m`, `2h`.
fn duration(text: &str) -> Option<TimeDelta> {
    let split = text.len().checked_sub(1)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok().filter(|n| *n > 0 && *n <= 7 * 24 * 3600)?;
    match unit {
        "s" => Some(TimeDelta::seconds(number)),
        "m" => TimeDelta::try_minutes(number),
        "h" => TimeDelta::try_hours(number),
        _ => None,
    }
    .filter(|d| *d <= TimeDelta::days(7))
}

impl FallbackPolicy {
    /// Reads `event=first>then@wait` rules separated by commas; `off` (or nothing) is no
    /// fallback at all.
    pub fn parse(spec: &str) -> Result<FallbackPolicy, String> {
        let spec = spec.trim();
        if spec.is_empty() || spec == "off" {
            return Ok(FallbackPolicy::default());
        }
        let mut rules: Vec<Rule> = Vec::new();
        for text in spec.split(',').map(str::trim) {
            let bad = |why: &str| format!("`{text}`: {why} (expected event=first>then@wait, e.g. {DEFAULT_POLICY})");
            let (event, rest) = text.split_once('=').ok_or_else(|| bad("no `=`"))?;
            let (pair, wait) = rest.split_once('@').ok_or_else(|| bad("no `@wait`"))?;
            let (first, then) = pair.split_once('>').ok_or_else(|| bad("no `>`"))?;
            let event = event.trim().parse::<Event>().map_err(|_| bad("unknown event"))?;
            let first = channel(first.trim()).ok_or_else(|| bad("unknown first channel"))?;
            let then = channel(then.trim()).ok_or_else(|| bad("unknown fallback channel"))?;
            let after =
                duration(wait.trim()).ok_or_else(|| bad("the wait must be like 90s, 5m or 2h, at most 7 days"))?;
            if first == then {
                return Err(bad("a channel cannot fall back to itself"));
            }
            if rules.iter().any(|r| r.event == event && (r.then == then || r.then == first || r.first == then)) {
                return Err(bad("each channel waits for at most one other per event, and chains are not supported"));
            }
            rules.push(Rule { event, first, then, after });
        }
        Ok(FallbackPolicy { rules })
    }

    /// The rule that makes `channel` wait for another channel on `event`, if any.
    pub fn waiting_rule(&self, event: Event, channel: ChannelName) -> Option<&Rule> {
        self.rules.iter().find(|r| r.event == event && r.then == channel)
    }

    /// The channels that wait for `channel` on `event`.
    pub fn waiting_for(&self, event: Event, channel: ChannelName) -> Vec<ChannelName> {
        self.rules.iter().filter(|r| r.event == event && r.first == channel).map(|r| r.then).collect()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// What a waiting message does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    SendNow,
    /// The first channel got through: this one is not needed.
    NotNeeded,
    /// Still inside the window: look again at the given time.
    WaitUntil(NaiveDateTime),
}

/// Decides a waiting message from the message it waits for (`None`: the customer gets
/// nothing on the first channel). The window runs from when the first message was sent, not
/// from when the order changed: a reminder is queued a day before it is due, and a message
/// held by quiet hours goes out hours after it was queued.
pub fn verdict(rule: &Rule, first: Option<&First>, now: NaiveDateTime) -> Verdict {
    let Some(first) = first else { return Verdict::SendNow };
    match first.status {
        DeliveryStatus::Failed | DeliveryStatus::Suppressed => Verdict::SendNow,
        // An email delivered to a mailbox is not an email read: `email>sms` waits for the open.
        DeliveryStatus::Delivered if rule.first == ChannelName::Email => match first.sent_at {
            Some(sent_at) if now < sent_at + rule.after => Verdict::WaitUntil(sent_at + rule.after),
            Some(_) => Verdict::SendNow,
            None => Verdict::WaitUntil(now + rule.after),
        },
        DeliveryStatus::Delivered | DeliveryStatus::Opened => Verdict::NotNeeded,
        DeliveryStatus::Sent => match first.sent_at {
            Some(sent_at) if now < sent_at + rule.after => Verdict::WaitUntil(sent_at + rule.after),
            Some(_) => Verdict::SendNow,
            // Moved on by a receipt before its send was recorded: the window starts about now.
            None => Verdict::WaitUntil(now + rule.after),
        },
        // The first channel is struggling (an attempt failed): the customer should not wait
        // through its retries.
        DeliveryStatus::Queued if first.retrying => Verdict::SendNow,
        // About to go (both were due together): its window has not started yet.
        DeliveryStatus::Queued => Verdict::WaitUntil(now + rule.after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_reads_back() {
        let policy = FallbackPolicy::parse(DEFAULT_POLICY).unwrap();
        let rule = policy.waiting_rule(Event::ReadyForPickup, ChannelName::Sms).unwrap();
        assert_eq!((rule.first, rule.after), (ChannelName::Push, TimeDelta::minutes(5)));
        assert_eq!(policy.waiting_for(Event::ReadyForPickup, ChannelName::Push), vec![ChannelName::Sms]);
        assert!(policy.waiting_rule(Event::Shipped, ChannelName::Sms).is_none());
        assert!(policy.waiting_rule(Event::ReadyForPickup, ChannelName::Email).is_none());
    }

    #[test]
    fn several_rules_and_units() {
        let policy = FallbackPolicy::parse("shipped=push>email@2h, ready_for_pickup=webhook>sms@90s").unwrap();
        assert_eq!(policy.rules().len(), 2);
        assert_eq!(policy.waiting_rule(Event::Shipped, ChannelName::Email).unwrap().after, TimeDelta::hours(2));
        assert_eq!(policy.waiting_rule(Event::ReadyForPickup, ChannelName::Sms).unwrap().after, TimeDelta::seconds(90));
        assert_eq!(FallbackPolicy::parse("off").unwrap(), FallbackPolicy::default());
    }

    #[test]
    fn mistakes_are_named() {
        for bad in [
            "ready_for_pickup",
            "ready_for_pickup=push>sms",
            "ready=push>sms@5m",
            "ready_for_pickup=pigeon>sms@5m",
            "ready_for_pickup=push>sms@5",
            "ready_for_pickup=push>sms@0m",
            "ready_for_pickup=push>sms@8d",
            "ready_for_pickup=push>sms@9000h",
            "ready_for_pickup=push>push@5m",
            "ready_for_pickup=push>sms@5m,ready_for_pickup=email>sms@5m",
            "ready_for_pickup=push>sms@5m,ready_for_pickup=sms>email@5m",
            "ready_for_pickup=sms>email@5m,ready_for_pickup=push>sms@5m",
        ] {
            let error = FallbackPolicy::parse(bad).unwrap_err();
            assert!(error.contains("expected event=first>then@wait"), "{bad}: {error}");
        }
    }

    #[test]
    fn after_an_email_only_an_open_makes_the_sms_unneeded() {
        let rule = FallbackPolicy::parse("ready_for_pickup=email>sms@24h").unwrap().rules()[0].clone();
        let sent_at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap().naive_utc();
        let first = |status| First { status, sent_at: Some(sent_at), retrying: false };
        let (hour, day) = (sent_at + TimeDelta::hours(1), sent_at + TimeDelta::hours(25));
        let a_day_after = Verdict::WaitUntil(sent_at + TimeDelta::hours(24));
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Delivered)), hour), a_day_after, "delivered is not read");
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Delivered)), day), Verdict::SendNow);
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Opened)), hour), Verdict::NotNeeded);
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Sent)), day), Verdict::SendNow);
    }

    #[test]
    fn a_waiting_message_waits_only_while_the_first_may_still_arrive() {
        let rule = FallbackPolicy::parse(DEFAULT_POLICY).unwrap().rules()[0].clone();
        let sent_at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap().naive_utc();
        let soon = sent_at + TimeDelta::minutes(1);
        let later = sent_at + TimeDelta::minutes(6);
        let first = |status, retrying| First { status, sent_at: Some(sent_at), retrying };
        let not_sent = |retrying| First { status: DeliveryStatus::Queued, sent_at: None, retrying };
        assert_eq!(verdict(&rule, None, soon), Verdict::SendNow);
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Failed, false)), soon), Verdict::SendNow);
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Suppressed, false)), soon), Verdict::SendNow);
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Delivered, false)), later), Verdict::NotNeeded);
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Opened, false)), soon), Verdict::NotNeeded);
        let five_after_sending = Verdict::WaitUntil(sent_at + TimeDelta::minutes(5));
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Sent, false)), soon), five_after_sending);
        assert_eq!(verdict(&rule, Some(&first(DeliveryStatus::Sent, false)), later), Verdict::SendNow);
        // Not sent yet: the window starts when it is; a first that is already retrying (or
        // whose attempt never came back) is not waited for.
        assert_eq!(verdict(&rule, Some(&not_sent(false)), later), Verdict::WaitUntil(later + TimeDelta::minutes(5)));
        assert_eq!(verdict(&rule, Some(&not_sent(true)), soon), Verdict::SendNow);
        let sent_unrecorded = First { status: DeliveryStatus::Sent, sent_at: None, retrying: false };
        assert_eq!(verdict(&rule, Some(&sent_unrecorded), soon), Verdict::WaitUntil(soon + TimeDelta::minutes(5)));
    }
}
