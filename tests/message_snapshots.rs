//! Snapshots of every message clickcollect writes: each event on each channel (SMS, email
//! text and HTML, the push payload before encryption, the webhook body), in each language. A
//! change to any wording shows up in review as a snapshot diff. Update with `INSTA_UPDATE=always cargo test --test message_snapshots` and
//! review the `.snap` files before committing.

use clickcollect::notify::locale::Lang;
use clickcollect::notify::sms::{self, SmsData};
use clickcollect::notify::templates::{render_email, render_short, EmailData};
use clickcollect::notify::{push, webhook};
use clickcollect::orders::events::Event;
use serde_json::json;

// Every event, so a new one cannot go without its snapshot.
const EVENTS: [Event; 12] = [
    Event::BackInStock,
    Event::HoldReminder,
    Event::OrderConfirmed,
    Event::OnItsWay,
    Event::ReadyForPickup,
    Event::PickupReminder,
    Event::Collected,
    Event::Shipped,
    Event::Delivered,
    Event::Cancelled,
    Event::Expired,
    Event::Returned,
];

#[test]
fn every_event_has_its_snapshot() {
    use strum::VariantArray;
    assert_eq!(EVENTS.len(), Event::VARIANTS.len());
}

fn sms_data() -> SmsData {
    SmsData {
        order: "7F3A9C21".into(),
        store: "Warsaw Centre".into(),
        code: Some("K7M2Q9TX4B".into()),
        deadline: Some("25.11 21:00".into()),
        carrier: Some("DHL".into()),
        tracking: Some("JJD0001234".into()),
        link: Some("https://shop.example/pass/7F3A9C21-0123456789ABCDEF".into()),
        arrives: Some("01.12 09:00".into()),
        product: None,
        until: None,
    }
}

fn email_data() -> EmailData {
    EmailData {
        customer_name: Some("Ann".into()),
        order: "7F3A9C21".into(),
        store: "Warsaw Centre".into(),
        address: Some("Marszałkowska 1, 00-001 Warszawa".into()),
        opening_hours: vec![
            ("mon".into(), "09:00-21:00".into()),
            ("sat".into(), "10:00-16:00".into()),
            ("sun".into(), String::new()),
        ],
        code: Some("K7M2Q9TX4B".into()),
        deadline: Some("25.11 21:00".into()),
        carrier: Some("DHL".into()),
        tracking: Some("JJD0001234".into()),
        slot: Some("30.11 10:00-10:30".into()),
        pass_url: Some("https://shop.example/pass/7F3A9C21-0123456789ABCDEF".into()),
        map_url: Some("https://www.openstreetmap.org/?mlat=52.2297&mlon=21.0122#map=17/52.2297/21.0122".into()),
        open_pixel: None,
        arrives: Some("01.12 09:00".into()),
        product: None,
        until: None,
        action_url: None,
        unsubscribe_url: None,
    }
}

/// Messages not about an order: no order number, slot or code; a product, and a hold's end
/// or the link to hold what is back and the one-click unsubscribe.
fn is_notice(event: Event) -> bool {
    matches!(event, Event::BackInStock | Event::HoldReminder)
}

fn sms_data_for(event: Event) -> SmsData {
    if !is_notice(event) {
        return sms_data();
    }
    SmsData {
        order: String::new(),
        store: "Warsaw Centre".into(),
        product: Some("Espresso cups, set of 4".into()),
        until: Some("30.11 18:45".into()),
        link: Some("https://shop.example/hold?sku=CUP-4&location=WAW1".into()),
        ..Default::default()
    }
}

fn email_data_for(event: Event) -> EmailData {
    if !is_notice(event) {
        return email_data();
    }
    EmailData {
        customer_name: Some("Ann".into()),
        store: "Warsaw Centre".into(),
        address: Some("Marszałkowska 1, 00-001 Warszawa".into()),
        product: Some("Espresso cups, set of 4".into()),
        until: Some("30.11 18:45".into()),
        action_url: (event == Event::BackInStock).then(|| "https://shop.example/hold?sku=CUP-4&location=WAW1".into()),
        unsubscribe_url: (event == Event::BackInStock)
            .then(|| "https://cc.example.test/unsubscribe/YW5u.0123456789abcdef0123456789abcdef".into()),
        ..Default::default()
    }
}

fn pretty(json: &str) -> String {
    serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(json).unwrap()).unwrap()
}

fn all_messages(lang: Lang) -> String {
    let mut out = String::new();
    for event in EVENTS {
        let sms = sms::render(lang, event, &sms_data_for(event));
        let email = render_email(lang, event, &email_data_for(event));
        out.push_str(&format!("===== {} =====\n", event.as_str()));
        out.push_str(&format!("--- sms ({} segment) ---\n{sms}\n", sms::segments(&sms)));
        out.push_str(&format!("--- email subject ---\n{}\n", email.subject));
        out.push_str(&format!("--- email text ---\n{}", email.text));
        out.push_str(&format!("--- email html ---\n{}\n", email.html));
        let short = render_short(lang, event, &email_data_for(event));
        let about = match event {
            Event::BackInStock => "alert:0190cc00-alert",
            Event::HoldReminder => "hold:0190dd00-hold",
            _ => "0190aa00-order",
        };
        let dedupe_key = format!("{about}:{}:push", event.as_str());
        let receipt = Some(("https://cc.example.test/v1/notifications/callbacks/push", "RECEIPT-TOKEN".to_string()));
        let push = push::payload("0190bb00-notification", event, about, &dedupe_key, &short, receipt);
        out.push_str(&format!("--- push payload (before encryption) ---\n{}\n", pretty(&push)));
        let occurred_at = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        let webhook = if is_notice(event) {
            let notice = json!({"subject": about, "sku": "CUP-4", "location": "WAW1",
                "until": (event == Event::HoldReminder).then_some("2026-11-30T17:45:00Z")});
            webhook::body_about("0190bb01-notification", event, occurred_at, "ann", notice, &short)
        } else {
            let order = json!({"id": "0190aa00-order", "status": "ready", "location": "WAW1", "fulfilment": "pickup",
                "pickup_deadline": "2026-11-25T20:00:00Z"});
            webhook::body("0190bb01-notification", event, occurred_at, "ann", order, &short)
        };
        out.push_str(&format!("--- webhook body ---\n{}\n\n", pretty(&webhook)));
    }
    out
}

#[test]
fn english() {
    insta::assert_snapshot!(all_messages(Lang::En));
}

#[test]
fn polish() {
    insta::assert_snapshot!(all_messages(Lang::Pl));
}

#[test]
fn spanish() {
    insta::assert_snapshot!(all_messages(Lang::Es));
}

#[test]
fn russian() {
    insta::assert_snapshot!(all_messages(Lang::Ru));
}

#[test]
fn arabic() {
    insta::assert_snapshot!(all_messages(Lang::Ar));
}
