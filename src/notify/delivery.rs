//! Delivery: hands a composed message to its provider, with the keys a receiver
//! deduplicates on. Runs on a blocking thread, with no database connection held.

use super::channels::Channels;
use super::compose::Message;
use super::outbox::{Claimed, PushSubscriptionRow};
use super::providers::Delivery;
use super::push::{PushAnswer, Subscription, WebPush};
use super::targets;

/// How long the push service keeps a message for a browser that is offline.
const PUSH_TTL_SECS: u32 = 24 * 3600;

/// What one attempt came to, and the push subscriptions their push service reported gone.
pub struct Delivered {
    pub delivery: Delivery,
    pub gone_subscriptions: Vec<String>,
}

/// Sends one message through the provider of its channel.
pub fn deliver(message: &Message, claimed: &Claimed, channels: &Channels) -> Delivered {
    let off = |channel: &str| Delivery::Permanent(format!("the {channel} channel was turned off"));
    let delivery = match message {
        Message::Sms { to, text } => match &channels.sms {
            Some(provider) => provider.send(to, text, &per_resend(&claimed.id, claimed)),
            None => off("sms"),
        },
        Message::Email { to, content } => match &channels.email {
            Some(email) => email.send(to, content, &claimed.id),
            None => off("email"),
        },
        Message::Webhook { url, body } => match &channels.webhook {
            // A refused address fails like an unreachable one, retried and with the same reason:
            // the customer cannot probe which internal names resolve.
            Some(webhook) => match targets::refused(url, channels.private_targets) {
                true => Delivery::Transient(targets::UNREACHABLE.into()),
                false => webhook.send(url, body, &idempotency_key(claimed)),
            },
            None => off("webhook"),
        },
        Message::Viber { to, text } => match &channels.viber {
            Some(viber) => viber.send(to, text, &per_resend(&claimed.id, claimed)),
            None => off("viber"),
        },
        Message::WhatsApp { to, event, lang, values } => match &channels.whatsapp {
            Some(whatsapp) => whatsapp.send(to, *event, *lang, values, &per_resend(&claimed.id, claimed)),
            None => off("whatsapp"),
        },
        Message::Push { subscriptions, payload, urgent } => match &channels.push {
            Some(push) => return send_push(push, subscriptions, payload.as_bytes(), *urgent, channels.private_targets),
            None => off("push"),
        },
    };
    Delivered { delivery, gone_subscriptions: Vec::new() }
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

/// Sends one push message to every browser the customer subscribed, noting the
/// subscriptions their push service says are gone. One browser reached is enough.
fn send_push(
    push: &WebPush,
    subscriptions: &[PushSubscriptionRow],
    payload: &[u8],
    urgent: bool,
    private_targets: bool,
) -> Delivered {
    // All browsers at once: one slow push service must not stretch the send past the lease.
    let answers: Vec<(String, PushAnswer)> = std::thread::scope(|scope| {
        let calls: Vec<_> = subscriptions
            .iter()
            .map(|row| {
                scope.spawn(move || {
                    if targets::refused(&row.endpoint, private_targets) {
                        let unreachable = Delivery::Transient(targets::UNREACHABLE.into());
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
    Delivered { delivery, gone_subscriptions: gone }
}
