//! Composition: the message a judged notification becomes, in the customer's language and
//! time zone, ready for its provider, so no database connection is held while a provider
//! takes its time.

use serde_json::json;

use super::channels::Channels;
use super::locale::Lang;
use super::outbox::{self, ChannelName, Claimed, PushSubscriptionRow};
use super::policy::{customer_zone, notice_zone, Facts, Notice, Subject};
use super::sms::{self, SmsData};
use super::templates;
use crate::catalog::model::LocationRow;
use crate::customers::model::CustomerRow;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::orders::events::{Event, REMINDER_BEFORE_DEADLINE};
use crate::orders::model::OrderRow;

/// A message ready to go out: everything the provider call needs.
pub enum Message {
    Sms {
        to: String,
        text: String,
    },
    Email {
        to: String,
        content: templates::EmailContent,
    },
    Webhook {
        url: String,
        body: String,
    },
    Push {
        subscriptions: Vec<PushSubscriptionRow>,
        payload: String,
        urgent: bool,
    },
    /// An approved template, filled in order.
    Viber {
        to: String,
        text: String,
    },
    WhatsApp {
        to: String,
        event: Event,
        lang: Lang,
        values: Vec<String>,
    },
}

/// A message, or what the customer lacks for the channel (a phone number, say).
pub enum Composed {
    Ready(Message),
    Missing(&'static str),
    /// Not sendable as it stands (no approved WhatsApp template for it): the reason.
    Unsendable(String),
}

/// Renders the message for the facts the policy read.
pub fn compose(
    conn: &mut DbConn,
    claimed: &Claimed,
    facts: Facts,
    channels: &Channels,
    pickup_key: &[u8],
) -> Result<Composed, ApiError> {
    let Facts { event, channel, customer, about } = facts;
    let (order, location) = match about {
        Subject::Order { order, location } => (order, location),
        Subject::Notice(notice) => {
            return compose_notice(conn, claimed, event, channel, customer, notice, channels, pickup_key)
        }
    };
    let message = match channel {
        ChannelName::Sms => {
            let Some(phone) = customer.phone.clone() else { return Ok(Composed::Missing("phone number")) };
            let context =
                context(conn, &order, location, &customer, event, pickup_key, channels.public_base_url.as_deref())?;
            Message::Sms { to: phone, text: sms_text(context, event) }
        }
        ChannelName::Email => {
            let Some(address) = customer.email.clone() else { return Ok(Composed::Missing("email address")) };
            let context =
                context(conn, &order, location, &customer, event, pickup_key, channels.public_base_url.as_deref())?;
            let lang = context.lang;
            let mut data = email_data(context, customer.name.clone());
            if let (true, true, Some(base)) =
                (channels.email_open_tracking, customer.email_tracking, channels.public_base_url.as_deref())
            {
                data.open_pixel = Some(super::opens::pixel_url(base, pickup_key, &claimed.id));
            }
            let content = templates::render_email(lang, event, &data);
            Message::Email { to: address, content }
        }
        ChannelName::Webhook => {
            let Some(url) = customer.webhook_url.clone() else { return Ok(Composed::Missing("webhook_url")) };
            let context =
                context(conn, &order, location, &customer, event, pickup_key, channels.public_base_url.as_deref())?;
            let message = templates::render_short(context.lang, event, &email_data(context, customer.name.clone()));
            let summary = json!({
                "id": order.id,
                "number": order.number,
                "status": order.status()?.as_str(),
                "location": order.location,
                "fulfilment": order.fulfilment,
                "pickup_deadline": order.pickup_deadline.map(|d| d.and_utc()),
            });
            // A reminder happens when it is due, a day before the deadline, not when the order
            // became ready and the reminder was queued.
            let occurred_at = match (event, order.pickup_deadline) {
                (Event::PickupReminder, Some(deadline)) => deadline - REMINDER_BEFORE_DEADLINE,
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
        ChannelName::Viber => {
            let Some(phone) = customer.phone.clone() else { return Ok(Composed::Missing("phone number")) };
            let context =
                context(conn, &order, location, &customer, event, pickup_key, channels.public_base_url.as_deref())?;
            let message = templates::render_short(context.lang, event, &email_data(context, customer.name.clone()));
            Message::Viber { to: phone, text: format!("{}\n{}", message.title, message.body) }
        }
        ChannelName::Whatsapp => {
            let Some(phone) = customer.phone.clone() else { return Ok(Composed::Missing("phone number")) };
            let context =
                context(conn, &order, location, &customer, event, pickup_key, channels.public_base_url.as_deref())?;
            if let Some(why) = channels.whatsapp.as_ref().and_then(|w| w.missing_template(event, context.lang)) {
                return Ok(Composed::Unsendable(why));
            }
            let tracking = match (&context.carrier, &context.tracking) {
                (Some(carrier), Some(tracking)) => Some(format!("{carrier} {tracking}")),
                (_, tracking) => tracking.clone(),
            };
            let facts = super::whatsapp::Facts {
                subject: context.order.clone(),
                store: context.store.clone(),
                code: context.code.clone(),
                deadline: context.deadline.clone(),
                tracking,
                arrives: context.arrives.clone(),
                until: None,
            };
            Message::WhatsApp {
                to: phone,
                event,
                lang: context.lang,
                values: super::whatsapp::variables(event, &facts),
            }
        }
        ChannelName::Push => {
            let subscriptions = outbox::push_subscriptions(conn, &claimed.customer_id)?;
            if subscriptions.is_empty() {
                return Ok(Composed::Missing("push subscription"));
            }
            let context =
                context(conn, &order, location, &customer, event, pickup_key, channels.public_base_url.as_deref())?;
            let message = templates::render_short(context.lang, event, &email_data(context, customer.name.clone()));
            let receipt = channels
                .push_receipt_url
                .as_deref()
                .map(|url| (url, super::push::receipt_token(pickup_key, &claimed.id)));
            let payload = super::push::payload(&claimed.id, event, &order.id, &claimed.dedupe_key, &message, receipt);
            Message::Push { subscriptions, payload, urgent: event == Event::ReadyForPickup }
        }
    };
    Ok(Composed::Ready(message))
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
    slot: Option<String>,
    pass_url: Option<String>,
    map_url: Option<String>,
    arrives: Option<String>,
}

fn context(
    conn: &mut DbConn,
    order: &OrderRow,
    location: LocationRow,
    customer: &CustomerRow,
    event: Event,
    pickup_key: &[u8],
    base_url: Option<&str>,
) -> Result<Context, ApiError> {
    use chrono::TimeZone;
    let lang = Lang::resolve(customer.locale.as_deref(), location.locale.as_deref());
    let zone = customer_zone(customer, &location);
    let format = lang.time_format();
    let deadline = order.pickup_deadline.map(|d| zone.from_utc_datetime(&d).format(format).to_string());
    let code = match (event, &order.pickup_code_nonce) {
        (Event::ReadyForPickup | Event::PickupReminder, Some(nonce)) => {
            Some(crate::orders::pickup::code(pickup_key, &order.id, nonce))
        }
        _ => None,
    };
    let hours: Vec<(String, String)> = location
        .hours()
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
    let slot = crate::orders::slot_of(conn, &order.id)?
        .as_deref()
        .and_then(crate::slots::describe)
        .map(|slot| crate::slots::span_in(&slot, zone, format));
    // The pass and the map for a ready order, when this deployment has a public address.
    let pass_url = match (event, &order.pickup_code_nonce, base_url) {
        (Event::ReadyForPickup | Event::PickupReminder, Some(nonce), Some(base)) => Some(format!(
            "{base}/pass/{}",
            crate::orders::pickup::pass_token(pickup_key, &order.number, &order.id, nonce)
        )),
        _ => None,
    };
    let map_url = crate::catalog::map_url(&location);
    let arrives = match event {
        Event::OnItsWay => crate::transfers::expected_by(conn, &order.id)?
            .map(|at| zone.from_utc_datetime(&at).format(format).to_string()),
        _ => None,
    };
    Ok(Context {
        arrives,
        pass_url,
        map_url,
        lang,
        order: order.number.clone(),
        store: location.name,
        address: location.address,
        hours,
        code,
        deadline,
        carrier: shipment.as_ref().map(|s| s.carrier.clone()),
        tracking: shipment.map(|s| s.tracking_number),
        slot,
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
        link: context.pass_url,
        arrives: context.arrives,
        ..Default::default()
    };
    sms::render(context.lang, event, &data)
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
        slot: context.slot,
        pass_url: context.pass_url,
        map_url: context.map_url,
        open_pixel: None,
        arrives: context.arrives,
        product: None,
        until: None,
        action_url: None,
        unsubscribe_url: None,
    }
}

/// A message not about an order: a SKU back in stock, or a hold about to lapse.
#[allow(clippy::too_many_arguments)]
fn compose_notice(
    conn: &mut DbConn,
    claimed: &Claimed,
    event: Event,
    channel: ChannelName,
    customer: CustomerRow,
    notice: Notice,
    channels: &Channels,
    pickup_key: &[u8],
) -> Result<Composed, ApiError> {
    use chrono::TimeZone;
    let lang = Lang::resolve(customer.locale.as_deref(), notice.location.as_ref().and_then(|l| l.locale.as_deref()));
    let zone = notice_zone(&customer, notice.location.as_ref());
    let until = notice.until.map(|at| zone.from_utc_datetime(&at).format(lang.time_format()).to_string());
    let code = notice.location.as_ref().map(|l| l.code.clone());
    let store = match &notice.location {
        Some(location) => location.name.clone(),
        None => match lang {
            Lang::En => "our online shop",
            Lang::Pl => "sklep internetowy",
            Lang::Es => "la tienda online",
            Lang::Ru => "интернет-магазин",
            Lang::Ar => "المتجر الإلكتروني",
        }
        .to_string(),
    };
    let alert = event == Event::BackInStock;
    let action_url = channels.stock_alert_url.as_ref().filter(|_| alert).map(|template| {
        template
            .replace("{sku}", &notice.sku)
            .replace("{location}", code.as_deref().unwrap_or(crate::alerts::model::ONLINE))
    });
    let unsubscribe_url = channels
        .public_base_url
        .as_ref()
        .filter(|_| alert)
        .map(|base| format!("{base}/unsubscribe/{}", crate::alerts::unsubscribe_token(pickup_key, &customer.id)));
    let data = templates::EmailData {
        customer_name: customer.name.clone(),
        order: String::new(),
        store: store.clone(),
        address: notice.location.as_ref().and_then(|l| l.address.clone()),
        product: Some(notice.product.clone()),
        until: until.clone(),
        action_url: action_url.clone(),
        unsubscribe_url,
        ..Default::default()
    };
    let message = match channel {
        ChannelName::Sms => {
            let Some(phone) = customer.phone.clone() else { return Ok(Composed::Missing("phone number")) };
            let sms =
                SmsData { store, product: Some(notice.product.clone()), until, link: action_url, ..Default::default() };
            Message::Sms { to: phone, text: sms::render(lang, event, &sms) }
        }
        ChannelName::Email => {
            let Some(address) = customer.email.clone() else { return Ok(Composed::Missing("email address")) };
            let mut data = data;
            if let (true, true, Some(base)) =
                (channels.email_open_tracking, customer.email_tracking, channels.public_base_url.as_deref())
            {
                data.open_pixel = Some(super::opens::pixel_url(base, pickup_key, &claimed.id));
            }
            Message::Email { to: address, content: templates::render_email(lang, event, &data) }
        }
        ChannelName::Webhook => {
            let Some(url) = customer.webhook_url.clone() else { return Ok(Composed::Missing("webhook_url")) };
            let message = templates::render_short(lang, event, &data);
            let summary = json!({
                "subject": notice.subject,
                "sku": notice.sku,
                "location": code,
                "until": notice.until.map(|at| at.and_utc()),
            });
            let body = super::webhook::body_about(
                &claimed.id,
                event,
                claimed.created_at.and_utc(),
                &claimed.customer_id,
                summary,
                &message,
            );
            Message::Webhook { url, body }
        }
        ChannelName::Viber => {
            let Some(phone) = customer.phone.clone() else { return Ok(Composed::Missing("phone number")) };
            let message = templates::render_short(lang, event, &data);
            let mut text = format!("{}\n{}", message.title, message.body);
            if let Some(url) = &data.action_url {
                text.push_str(&format!("\n{url}"));
            }
            Message::Viber { to: phone, text }
        }
        ChannelName::Whatsapp => {
            let Some(phone) = customer.phone.clone() else { return Ok(Composed::Missing("phone number")) };
            if let Some(why) = channels.whatsapp.as_ref().and_then(|w| w.missing_template(event, lang)) {
                return Ok(Composed::Unsendable(why));
            }
            let facts = super::whatsapp::Facts {
                subject: notice.product.clone(),
                store: data.store.clone(),
                until: data.until.clone(),
                ..Default::default()
            };
            Message::WhatsApp { to: phone, event, lang, values: super::whatsapp::variables(event, &facts) }
        }
        ChannelName::Push => {
            let subscriptions = outbox::push_subscriptions(conn, &claimed.customer_id)?;
            if subscriptions.is_empty() {
                return Ok(Composed::Missing("push subscription"));
            }
            let message = templates::render_short(lang, event, &data);
            let receipt = channels
                .push_receipt_url
                .as_deref()
                .map(|url| (url, super::push::receipt_token(pickup_key, &claimed.id)));
            let payload =
                super::push::payload(&claimed.id, event, &notice.subject, &claimed.dedupe_key, &message, receipt);
            Message::Push { subscriptions, payload, urgent: event == Event::HoldReminder }
        }
    };
    Ok(Composed::Ready(message))
}
