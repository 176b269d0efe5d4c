//! Email opens and the email-then-SMS fallback, against a real SMTP server and a stand-in for
//! Twilio: the open pixel marks an email `opened`, an opened ready email holds the SMS back
//! for good, an unopened one lets it go after the window, and no pixel is sent to customers
//! who refuse tracking or by a deployment that turns it off.

mod common;

use actix_web::http::Method;
use common::notify::{customer_profile as profile, customer_with};
use common::receiver::receiver_with;
use common::smtp::{smtp_server, SMTP_PASSWORD, SMTP_USER};
use common::{run_sender, Backend, TestApp};
use serde_json::{json, Value};

const BASE: &str = "https://shop.example";

async fn spawn(
    backend: Backend,
    smtp_port: u16,
    twilio: &str,
    extra: &[(&'static str, &'static str)],
) -> Option<TestApp> {
    let url = format!("smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{smtp_port}");
    let mut settings: Vec<(&str, &str)> = vec![
        ("SMTP_URL", url.as_str()),
        ("EMAIL_FROM", "shop@example.com"),
        ("PUBLIC_BASE_URL", BASE),
        ("NOTIFY_FALLBACK", "ready_for_pickup=email>sms@24h"),
        ("SMS_PROVIDER", "twilio"),
        ("TWILIO_ACCOUNT_SID", "AC0123456789"),
        ("TWILIO_AUTH_TOKEN", "twilio-test-auth-token"),
        ("TWILIO_API_BASE", twilio),
        ("SMS_FROM", "+15005550006"),
    ];
    settings.extend_from_slice(extra);
    TestApp::spawn_with(backend, &settings).await
}

async fn ready_order(app: &TestApp, token: &str, customer: &str) -> String {
    let order = common::pickup_order("S1", customer, "A", 1);
    let id = app.post("/v1/orders", Some(token), &order).await.ok()["id"].as_str().unwrap().to_string();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&app.admin()).send().await.ok();
    }
    id
}

async fn notification(app: &TestApp, order: &str, event: &str, channel: &str) -> Value {
    let list = app.get(&format!("/v1/orders/{order}/notifications"), Some(&app.admin())).await.ok().clone();
    list["items"].as_array().unwrap().iter().find(|n| n["event"] == event && n["channel"] == channel).cloned().unwrap()
}

/// Moves an order's ready messages back in time, as if a day and an hour had passed.
fn a_day_later(app: &TestApp, order: &str) {
    use clickcollect::db::schema::notifications;
    use diesel::prelude::*;
    let then = chrono::Utc::now().naive_utc() - chrono::TimeDelta::hours(25);
    let rows = || {
        notifications::table
            .filter(notifications::order_id.eq(order))
            .filter(notifications::event.eq("ready_for_pickup"))
    };
    diesel::update(rows()).set(notifications::next_attempt_at.eq(then)).execute(&mut *app.conn()).unwrap();
    diesel::update(rows().filter(notifications::sent_at.is_not_null()))
        .set(notifications::sent_at.eq(then))
        .execute(&mut *app.conn())
        .unwrap();
}

/// The email as sent, its quoted-printable line breaks undone.
fn emails(messages: &common::smtp::Mailbox) -> Vec<String> {
    messages.lock().unwrap().iter().map(|(_, raw)| raw.replace("=\r\n", "").replace("=3D", "=")).collect()
}

async fn an_opened_email_holds_the_sms_back(backend: Backend) {
    let twilio = receiver_with(vec![(201, r#"{"sid": "SM1", "status": "queued"}"#.into()); 10]);
    let base = twilio.url.trim_end_matches("/hook").to_string();
    let (port, messages) = smtp_server();
    let Some(app) = spawn(backend, port, &base, &[]).await else { return };
    app.stocked_store("S1", json!({"name": "Warsaw Centre"}), "A", 5).await;
    let both = profile(json!({"email": true, "sms": true, "push": false, "webhook": false}));
    let ann = customer_with(&app, "ann", &both).await;
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.ok()["email_tracking"], true, "on unless refused");

    // Opened within the day: the SMS is not needed.
    let opened = ready_order(&app, &ann, "ann").await;
    run_sender(&app).await;
    let email = notification(&app, &opened, "ready_for_pickup", "email").await;
    assert_eq!(email["status"], "sent");
    assert_eq!(notification(&app, &opened, "ready_for_pickup", "sms").await["status"], "queued", "the SMS waits");
    let texts_before = twilio.received().len();
    let id = email["id"].as_str().unwrap();
    let signature = clickcollect::notify::opens::signature(&app.state.keys.pickup_key, id);
    let pixel = format!("/v1/notifications/{id}/opened/{signature}");
    let sent = emails(&messages);
    assert!(sent.iter().any(|raw| raw.contains(&format!("{BASE}{pixel}"))), "the ready email carries its own pixel");
    app.get(&format!("/v1/notifications/{id}/opened/{}", "0".repeat(32)), None).await.assert_problem(404, "not-found");
    let fetched = app.get(&pixel, None).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.header("content-type"), Some("image/gif"));
    assert_eq!(notification(&app, &opened, "ready_for_pickup", "email").await["status"], "opened");
    assert_eq!(app.get(&pixel, None).await.status, 200, "a second open changes nothing");
    a_day_later(&app, &opened);
    run_sender(&app).await;
    let sms = notification(&app, &opened, "ready_for_pickup", "sms").await;
    assert_eq!(sms["status"], "suppressed", "{sms}");
    assert_eq!(twilio.received().len(), texts_before, "no SMS for an opened email");

    // Not opened within the day: the SMS goes.
    let unread = ready_order(&app, &ann, "ann").await;
    run_sender(&app).await;
    assert_eq!(notification(&app, &unread, "ready_for_pickup", "sms").await["status"], "queued");
    let before = twilio.received().len();
    a_day_later(&app, &unread);
    run_sender(&app).await;
    assert_eq!(notification(&app, &unread, "ready_for_pickup", "sms").await["status"], "sent");
    assert_eq!(twilio.received().len(), before + 1);
}

async fn no_pixel_for_who_refuses_it_or_where_it_is_off(backend: Backend) {
    let twilio = receiver_with(vec![(201, r#"{"sid": "SM1", "status": "queued"}"#.into()); 10]);
    let base = twilio.url.trim_end_matches("/hook").to_string();
    let (port, messages) = smtp_server();
    let Some(app) = spawn(backend, port, &base, &[]).await else { return };
    app.stocked_store("S1", json!({}), "A", 5).await;
    let mut refusing = profile(json!({"email": true, "sms": false, "push": false, "webhook": false}));
    refusing["email_tracking"] = json!(false);
    let bob = customer_with(&app, "bob", &refusing).await;
    assert_eq!(app.get("/v1/customers/bob", Some(&bob)).await.ok()["email_tracking"], false);
    // A later profile that leaves the field out keeps the refusal.
    refusing.as_object_mut().unwrap().remove("email_tracking");
    app.put("/v1/customers/bob", Some(&bob), &refusing).await.ok();
    assert_eq!(app.get("/v1/customers/bob", Some(&bob)).await.ok()["email_tracking"], false);
    ready_order(&app, &bob, "bob").await;
    run_sender(&app).await;
    let sent = emails(&messages);
    assert!(!sent.is_empty() && sent.iter().all(|raw| !raw.contains("/opened/")), "no pixel for bob");

    // Switched off for the deployment: nobody gets one.
    let (port, messages) = smtp_server();
    let Some(app) = spawn(backend, port, &base, &[("EMAIL_OPEN_TRACKING", "off")]).await else { return };
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann =
        customer_with(&app, "ann", &profile(json!({"email": true, "sms": false, "push": false, "webhook": false})))
            .await;
    ready_order(&app, &ann, "ann").await;
    run_sender(&app).await;
    let sent = emails(&messages);
    assert!(!sent.is_empty() && sent.iter().all(|raw| !raw.contains("/opened/")), "tracking is off");
}

async fn a_providers_events_move_the_email_on_and_hold_the_sms_back(backend: Backend) {
    let twilio = receiver_with(vec![(201, r#"{"sid": "SM1", "status": "queued"}"#.into()); 10]);
    let base = twilio.url.trim_end_matches("/hook").to_string();
    let (port, messages) = smtp_server();
    let events_token = "emailevents0123456789";
    let Some(app) = spawn(backend, port, &base, &[("EMAIL_EVENTS_TOKEN", events_token)]).await else { return };
    app.stocked_store("S1", json!({}), "A", 5).await;
    let both = profile(json!({"email": true, "sms": true, "push": false, "webhook": false}));
    let ann = customer_with(&app, "ann", &both).await;
    let order = ready_order(&app, &ann, "ann").await;
    run_sender(&app).await;
    let email = notification(&app, &order, "ready_for_pickup", "email").await;
    let id = email["id"].as_str().unwrap().to_string();
    // The email goes out under the notification's Message-ID, which the provider's events name.
    let message_id = format!("<{id}@example.com>");
    assert!(emails(&messages).iter().any(|raw| raw.contains(&format!("Message-ID: {message_id}"))), "the Message-ID");
    let post = |token: &str, events: Value| {
        app.request(Method::POST, &format!("/v1/notifications/callbacks/sendgrid?token={token}")).json(&events).send()
    };
    let delivered =
        json!([{"event": "processed", "smtp-id": message_id}, {"event": "delivered", "smtp-id": message_id}]);
    post("wrong-token-000000000", delivered.clone()).await.assert_problem(401, "unauthorized");
    assert_eq!(notification(&app, &order, "ready_for_pickup", "email").await["status"], "sent");
    assert_eq!(post(events_token, delivered).await.status, 204);
    assert_eq!(notification(&app, &order, "ready_for_pickup", "email").await["status"], "delivered");
    assert_eq!(post(events_token, json!([{"event": "open", "smtp-id": message_id}])).await.status, 204);
    assert_eq!(notification(&app, &order, "ready_for_pickup", "email").await["status"], "opened");
    // Opened within the day, by the provider's word: the SMS is not needed.
    let before = twilio.received().len();
    a_day_later(&app, &order);
    run_sender(&app).await;
    assert_eq!(notification(&app, &order, "ready_for_pickup", "sms").await["status"], "suppressed");
    assert_eq!(twilio.received().len(), before);
}

async fn no_email_events_are_taken_without_a_token(backend: Backend) {
    let (port, _) = smtp_server();
    let Some(app) = spawn(backend, port, "http://127.0.0.1:9", &[]).await else { return };
    let reply = app
        .request(Method::POST, "/v1/notifications/callbacks/sendgrid?token=anything0123456789")
        .json(&json!([]))
        .send()
        .await;
    reply.assert_problem(404, "not-found");
}

on_each_backend!(
    an_opened_email_holds_the_sms_back,
    no_pixel_for_who_refuses_it_or_where_it_is_off,
    a_providers_events_move_the_email_on_and_hold_the_sms_back,
    no_email_events_are_taken_without_a_token,
);
