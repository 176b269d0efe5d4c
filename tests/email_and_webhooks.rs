//! Email over SMTP and signed webhooks, against a real SMTP server and real receivers:
//! delivery, retries and resends, quiet hours, and webhooks kept off private addresses.

mod common;

use actix_web::http::Method;
use common::notify::{
    customer_profile as profile, customer_with, only_notification, place_order, webhook_order, webhook_order_for,
    WEBHOOK_SECRET,
};
use common::receiver::{receiver, receiver_with};
use common::smtp::{smtp_server, SMTP_PASSWORD, SMTP_USER};
use common::{make_due, run_sender, Backend, TestApp};
use serde_json::{json, Value};

async fn webhooks_are_signed_retried_and_resent(app: TestApp) {
    let hook = receiver(vec![503, 410]);
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    let mut body = profile(json!({"email": true, "sms": false, "push": false, "webhook": true}));
    body["webhook_url"] = json!(hook.url);
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let id = place_order(&app, &ann, "ann").await;
    let list_path = format!("/v1/orders/{id}/notifications");
    let webhook_row =
        |list: &Value| list["items"].as_array().unwrap().iter().find(|n| n["channel"] == "webhook").unwrap().clone();

    // 503: a transient failure, retried later.
    assert_eq!(run_sender(&app).await, 2);
    let row = webhook_row(app.get(&list_path, Some(&ann)).await.ok());
    assert_eq!((row["status"].as_str(), row["attempts"].as_i64()), (Some("queued"), Some(1)));
    assert!(row["error"].as_str().unwrap().contains("503"));
    let email = app.get(&list_path, Some(&ann)).await.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["channel"] == "email")
        .unwrap()
        .clone();
    assert!(email["error"].as_str().unwrap().contains("SMTP_URL"), "channels without settings say which: {email}");
    assert_eq!(run_sender(&app).await, 0, "not due before its backoff");

    // 410: the receiver's final word.
    make_due(&app);
    assert_eq!(run_sender(&app).await, 1);
    let row = webhook_row(app.get(&list_path, Some(&ann)).await.ok());
    assert_eq!(row["status"], "failed");
    assert!(row["error"].as_str().unwrap().contains("410"));

    // An admin sends it again; now it is delivered.
    let notification = row["id"].as_str().unwrap().to_string();
    let resend = format!("/v1/notifications/{notification}/resend");
    app.request(Method::POST, &resend).bearer(&ann).send().await.assert_problem(403, "forbidden");
    assert_eq!(app.request(Method::POST, &resend).bearer(&app.admin()).send().await.status, 200);
    assert_eq!(run_sender(&app).await, 1);
    let row = webhook_row(app.get(&list_path, Some(&ann)).await.ok());
    assert_eq!((row["status"].as_str(), row["attempts"].as_i64()), (Some("sent"), Some(1)), "attempts count afresh");
    assert!(row["sent_at"].is_string());
    app.request(Method::POST, &resend).bearer(&app.admin()).send().await.assert_problem(409, "conflict");

    // Every request was signed over its timestamp and body. The attempts at the message
    // carried one Idempotency-Key; the resend a new one, so a receiver that stored its refusal
    // under the first key does not replay it.
    let requests = hook.received();
    assert_eq!(requests.len(), 3);
    let keys: Vec<&str> = requests.iter().map(|r| r.headers["idempotency-key"].as_str()).collect();
    let first_key = format!("{id}:order_confirmed:webhook");
    assert_eq!(keys[..2], [first_key.as_str(), first_key.as_str()]);
    assert!(keys[2].starts_with(&format!("{first_key}:resent-")), "{keys:?}");
    for request in &requests {
        let (headers, body) = (&request.headers, &request.body());
        let timestamp: i64 = headers["x-clickcollect-timestamp"].parse().unwrap();
        assert_eq!(
            headers["x-clickcollect-signature"],
            clickcollect::notify::webhook::sign(WEBHOOK_SECRET.as_bytes(), timestamp, body)
        );
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (payload["event"].as_str(), payload["order"]["id"].as_str()),
            (Some("order_confirmed"), Some(id.as_str()))
        );
        let number = clickcollect::orders::number_for(&id);
        assert_eq!(payload["order"]["number"], number.as_str(), "the number the customer was told");
        assert_eq!(payload["order"]["status"], "confirmed");
    }
}

/// A time zone where it is now quiet hours (21:00-08:00), and one where it is not.
fn quiet_and_awake_zones() -> (&'static str, &'static str) {
    use chrono::{TimeZone, Timelike};
    let zones = [
        "Pacific/Pago_Pago",
        "Pacific/Honolulu",
        "America/Anchorage",
        "America/Los_Angeles",
        "America/Denver",
        "America/Chicago",
        "America/New_York",
        "America/Halifax",
        "America/Sao_Paulo",
        "Atlantic/South_Georgia",
        "Atlantic/Azores",
        "Europe/London",
        "Europe/Warsaw",
        "Europe/Athens",
        "Europe/Moscow",
        "Asia/Dubai",
        "Asia/Karachi",
        "Asia/Dhaka",
        "Asia/Bangkok",
        "Asia/Shanghai",
        "Asia/Tokyo",
        "Australia/Brisbane",
        "Pacific/Noumea",
        "Pacific/Auckland",
        "Pacific/Kiritimati",
    ];
    let now = chrono::Utc::now().naive_utc();
    let hour = |zone: &str| zone.parse::<chrono_tz::Tz>().unwrap().from_utc_datetime(&now).hour();
    let quiet = zones.iter().find(|z| !(8..21).contains(&hour(z))).unwrap();
    let awake = zones.iter().find(|z| (9..20).contains(&hour(z))).unwrap();
    (quiet, awake)
}

async fn reminders_wait_for_the_morning(app: TestApp) {
    let hook = receiver(vec![]);
    let (quiet, awake) = quiet_and_awake_zones();
    app.stocked_store("S1", json!({"pickup_hold_days": 3}), "A", 5).await;
    let ann = app.customer("ann");
    let mut body = profile(json!({"email": false, "sms": false, "push": false, "webhook": true}));
    body["timezone"] = json!(quiet);
    body["webhook_url"] = json!(hook.url);
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let id = place_order(&app, &ann, "ann").await;
    let admin = app.admin();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
    assert_eq!(run_sender(&app).await, 2, "confirmed and ready go out whatever the hour");
    make_due(&app);
    assert_eq!(run_sender(&app).await, 1);
    let reminder = |list: &Value| {
        list["items"].as_array().unwrap().iter().find(|n| n["event"] == "pickup_reminder").unwrap().clone()
    };
    let held = reminder(app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok());
    assert_eq!(
        (held["status"].as_str(), held["attempts"].as_i64()),
        (Some("queued"), Some(0)),
        "deferred to the morning in {quiet}"
    );
    assert_eq!(hook.received().len(), 2);
    assert_eq!(run_sender(&app).await, 0, "not due until the morning");
    body["timezone"] = json!(awake);
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    make_due(&app);
    assert_eq!(run_sender(&app).await, 1);
    let sent = reminder(app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok());
    assert_eq!((sent["status"].as_str(), sent["attempts"].as_i64()), (Some("sent"), Some(1)), "sent in {awake}");
    assert_eq!(hook.received().len(), 3);
    // It says it happened a day before the deadline, not when the order became ready.
    let body: Value = serde_json::from_str(&hook.received()[2].body()).unwrap();
    let instant = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let deadline = instant(&app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.body["pickup_deadline"]);
    assert_eq!(body["event"], "pickup_reminder");
    assert_eq!(instant(&body["occurred_at"]), deadline - chrono::TimeDelta::hours(24));
}

async fn email_goes_out_over_smtp(backend: common::Backend) {
    let (port, messages) = smtp_server();
    let url = format!("smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}");
    let settings = [("SMTP_URL", url.as_str()), ("EMAIL_FROM", "Click & Collect <shop@example.com>")];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.put_location(
        "S1",
        json!({"name": "Warsaw Centre", "address": "Marszalkowska 1",
        "opening_hours": {"mon": [["09:00", "21:00"]], "sun": []}}),
    )
    .await;
    app.put_product("A").await;
    app.count("S1", "A", 5).await;
    let ann = app.customer("ann");
    let mut profile_en = profile(json!({"email": true, "sms": false, "push": false, "webhook": false}));
    profile_en["locale"] = json!("en-GB");
    app.put("/v1/customers/ann", Some(&ann), &profile_en).await.ok();
    let id = place_order(&app, &ann, "ann").await;
    let admin = app.admin();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
    assert_eq!(run_sender(&app).await, 2);
    let code = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.body["pickup_code"].as_str().unwrap().to_string();
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let due: Vec<&Value> =
        list["items"].as_array().unwrap().iter().filter(|n| n["event"] != "pickup_reminder").collect();
    assert!(due.len() == 2 && due.iter().all(|n| n["status"] == "sent" && n["sent_at"].is_string()), "{list}");
    let got = messages.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let (recipients, ready) = &got[1];
    assert_eq!(recipients, &vec!["<ann@example.com>".to_string()]);
    assert!(ready.contains("Subject: Order") && ready.contains("is ready for pickup"), "{ready}");
    assert!(ready.contains("multipart/alternative") && ready.contains("text/html"));
    assert!(ready.contains(&code) && ready.contains("Marszalkowska 1") && ready.contains("Warsaw Centre"));
    assert!(ready.contains("From: ") && ready.contains("<shop@example.com>") && ready.contains("To: ann@example.com"));

    // An unknown mailbox is the server's final word: failed, not retried.
    let mut unknown = profile_en.clone();
    unknown["email"] = json!("unknown@example.com");
    app.put("/v1/customers/ann", Some(&ann), &unknown).await.ok();
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&admin).send().await.ok();
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let cancelled = list["items"].as_array().unwrap().iter().find(|n| n["event"] == "cancelled").unwrap().clone();
    assert_eq!(cancelled["status"], "failed");
    assert!(cancelled["error"].as_str().unwrap().contains("refused"), "{cancelled}");
}

/// A curbside order with a booked slot: the confirmation and the ready email say when, in the
/// customer's language and time zone.
async fn the_ready_email_shows_the_booked_slot(backend: Backend) {
    let (port, messages) = smtp_server();
    let url = format!("smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}");
    let settings =
        [("SMTP_URL", url.as_str()), ("EMAIL_FROM", "shop@example.com"), ("PUBLIC_BASE_URL", "https://shop.example")];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({"timezone": "Europe/Warsaw"}), "A", 5).await;
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let rules = json!({"rules": [{"fulfilment": "curbside", "days": days, "from": "10:00", "to": "11:00", "minutes": 30, "capacity": 3}]});
    app.put("/v1/locations/S1/slots", Some(&app.admin()), &rules).await.ok();
    let tomorrow = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Warsaw).date_naive().succ_opt().unwrap();
    let slots = app.get(&format!("/v1/locations/S1/slots?date={tomorrow}"), None).await.ok().clone();
    let slot = slots["items"][1]["id"].as_str().unwrap().to_string();
    let ann = app.customer("ann");
    let mut profile_en = profile(json!({"email": true, "sms": false, "push": false, "webhook": false}));
    profile_en["locale"] = json!("en-GB");
    profile_en["timezone"] = json!("Europe/Warsaw");
    app.put("/v1/customers/ann", Some(&ann), &profile_en).await.ok();
    let order = json!({"location": "S1", "fulfilment": "curbside", "customer_id": "ann",
        "lines": [{"sku": "A", "quantity": 1}], "slot_id": slot});
    let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&app.admin()).send().await.ok();
    }
    assert_eq!(run_sender(&app).await, 2);
    let got = messages.lock().unwrap().clone();
    let when = format!("{} 10:30-11:00", tomorrow.format("%a %d %b"));
    for (_, email) in &got {
        assert!(email.contains("Your slot") && email.contains(&when), "{when} in {email}");
    }
    // The ready email carries what staff scan: the QR code as an inline PNG the HTML names by
    // Content-ID, and the link to the pickup pass (in the text part too).
    let ready = &got[1].1;
    assert!(ready.contains("multipart/related") && ready.contains("image/png"), "{ready}");
    assert!(ready.contains("Content-ID: <pickup-qr>") && ready.contains("cid:pickup-qr"), "{ready}");
    let (number, nonce): (String, Option<String>) = {
        use clickcollect::db::schema::orders;
        use diesel::prelude::*;
        orders::table.find(&id).select((orders::number, orders::pickup_code_nonce)).first(&mut *app.conn()).unwrap()
    };
    let token = clickcollect::orders::pickup::pass_token(&app.state.keys.pickup_key, &number, &id, &nonce.unwrap());
    assert!(ready.contains(&format!("Open your pickup pass: https://shop.example/pass/{token}")), "{ready}");
}

/// Wrong credentials are the operator's mistake, not the message's: it waits for a retry.
async fn refused_smtp_credentials_are_retried_not_failed(backend: Backend) {
    let (port, messages) = smtp_server();
    let url = format!("smtp://{SMTP_USER}:not-the-password@127.0.0.1:{port}");
    let settings = [("SMTP_URL", url.as_str()), ("EMAIL_FROM", "shop@example.com")];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann =
        customer_with(&app, "ann", &profile(json!({"email": true, "sms": false, "push": false, "webhook": false})))
            .await;
    let id = place_order(&app, &ann, "ann").await;
    assert_eq!(run_sender(&app).await, 1);
    let row = only_notification(&app, &id).await;
    assert_eq!((row["status"].as_str(), row["attempts"].as_i64()), (Some("queued"), Some(1)), "{row}");
    assert!(row["error"].as_str().unwrap().contains("credentials"), "{row}");
    assert!(messages.lock().unwrap().is_empty());
}

/// Customers choose where their webhooks go: the server must not become their way into the
/// operator's network. Private addresses are refused unless the operator allows them, and
/// redirects are not followed.
async fn webhooks_reach_only_public_addresses_and_follow_no_redirects(backend: Backend) {
    let hook = receiver(vec![]);
    let deny = [("WEBHOOK_SECRET", WEBHOOK_SECRET), ("NOTIFY_PRIVATE_TARGETS", "deny")];
    let Some(app) = TestApp::spawn_with(backend, &deny).await else { return };
    let id = webhook_order(&app, &hook.url).await;
    assert_eq!(run_sender(&app).await, 1);
    let refused = only_notification(&app, &id).await;
    assert!(hook.received().is_empty(), "nothing reached the private address");
    // The customer learns nothing about where the name points: a refused private address
    // reads exactly like a host that does not resolve at all, retried the same way.
    let nowhere = webhook_order_for(&app, "bob", "https://nowhere.invalid/hook").await;
    assert_eq!(run_sender(&app).await, 1);
    let unresolved = only_notification(&app, &nowhere).await;
    for row in [&refused, &unresolved] {
        assert_eq!(row["status"], "queued", "retried like any unreachable receiver: {row}");
        assert_eq!(row["error"], clickcollect::notify::targets::UNREACHABLE, "{row}");
    }
    let ann = app.customer("ann");
    let mut sneaky = profile(json!({"email": false, "sms": false, "push": false, "webhook": true}));
    for url in ["http://localhost@evil.example/hook", "http://localhost.evil.example/hook"] {
        sneaky["webhook_url"] = json!(url);
        let reply = app.put("/v1/customers/ann", Some(&ann), &sneaky).await;
        assert_eq!(reply.error_fields(), vec!["webhook_url"], "{url}");
    }

    let inside = receiver(vec![]);
    let redirecting = receiver_with(vec![(307, inside.url.clone())]);
    let Some(app) = TestApp::spawn_with(backend, &[("WEBHOOK_SECRET", WEBHOOK_SECRET)]).await else { return };
    let id = webhook_order(&app, &redirecting.url).await;
    assert_eq!(run_sender(&app).await, 1);
    let row = only_notification(&app, &id).await;
    assert_eq!(row["status"], "failed");
    assert!(row["error"].as_str().unwrap().contains("307"), "{row}");
    assert_eq!(redirecting.received().len(), 1);
    assert!(inside.received().is_empty(), "the redirect was not followed");
}

on_both_backends!(signed_webhooks with &[("WEBHOOK_SECRET", WEBHOOK_SECRET)]; webhooks_are_signed_retried_and_resent, reminders_wait_for_the_morning);
on_each_backend!(
    email_goes_out_over_smtp,
    the_ready_email_shows_the_booked_slot,
    refused_smtp_credentials_are_retried_not_failed,
    webhooks_reach_only_public_addresses_and_follow_no_redirects,
);
