//! Customers, consents, push subscriptions, and the notification outbox through HTTP.

mod common;

use actix_web::http::Method;
use common::receiver::{receiver, receiver_with};
use common::{make_due, run_sender, Backend, TestApp};
use serde_json::{json, Value};

const P256DH: &str = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";
const AUTH: &str = "tBHItJI5svbpez7KI4CCXg";

fn profile(channels: Value) -> Value {
    json!({"name": "Ann", "email": "ann@example.com", "phone": "+48601234567", "locale": "pl-PL",
        "timezone": "Europe/Warsaw", "channels": channels})
}

async fn customers_keep_their_choices_and_every_consent(app: TestApp) {
    let ann = app.customer("ann");
    let created = app
        .put(
            "/v1/customers/ann",
            Some(&ann),
            &profile(json!({"email": true, "sms": true, "push": false, "webhook": false})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let consents = created.body["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 2);
    assert_eq!((consents[0]["channel"].as_str(), consents[0]["granted"].as_bool()), (Some("email"), Some(true)));
    assert_eq!(consents[0]["source"], "api:customer:ann");
    let changed = app
        .put(
            "/v1/customers/ann",
            Some(&app.admin()),
            &profile(json!({"email": false, "sms": true, "push": false, "webhook": false})),
        )
        .await;
    assert_eq!(changed.status, 200);
    let consents = changed.body["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 3, "only the change is recorded");
    assert_eq!((consents[2]["channel"].as_str(), consents[2]["granted"].as_bool()), (Some("email"), Some(false)));
    assert_eq!(consents[2]["source"], "api:admin:root");
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.body["channels"]["email"], false);
}

async fn customer_denials_and_validation(app: TestApp) {
    let body = profile(json!({"email": true, "sms": false, "push": false, "webhook": false}));
    app.put("/v1/customers/ann", None, &body).await.assert_problem(401, "unauthorized");
    app.put("/v1/customers/ann", Some(&app.customer("bob")), &body).await.assert_problem(404, "not-found");
    app.put("/v1/customers/ann", Some(&app.staff("S1")), &body).await.assert_problem(403, "forbidden");
    app.put("/v1/customers/ann", Some(&app.integration(&["orders:write"])), &body)
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/customers/ann", Some(&app.admin())).await.assert_problem(404, "not-found");
    let ann = app.customer("ann");
    for (field, value, expected) in [
        ("phone", json!("601 234 567"), "phone"),
        ("email", json!("not-an-email"), "email"),
        ("locale", json!("polish"), "locale"),
        ("timezone", json!("Mars/Base"), "timezone"),
        ("webhook_url", json!("http://hooks.example.com/x"), "webhook_url"),
        ("surprise", json!(1), "surprise"),
    ] {
        let mut bad = body.clone();
        bad[field] = value;
        let reply = app.put("/v1/customers/ann", Some(&ann), &bad).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec![expected.to_string()], "{field}");
    }
    let mut no_phone = body.clone();
    no_phone["phone"] = Value::Null;
    no_phone["channels"]["sms"] = json!(true);
    assert_eq!(app.put("/v1/customers/ann", Some(&ann), &no_phone).await.error_fields(), vec!["channels.sms"]);
    app.get("/v1/customers/ann", Some(&app.admin())).await.assert_problem(404, "not-found");
    let erp = app.integration(&["customers:write"]);
    assert_eq!(app.put("/v1/customers/ann", Some(&erp), &body).await.status, 201);
    assert_eq!(app.get("/v1/customers/ann", Some(&app.integration(&["customers:read"]))).await.status, 200);
}

async fn push_subscriptions_belong_to_their_customer(app: TestApp) {
    let ann = app.customer("ann");
    let subscription =
        json!({"endpoint": "https://push.example.net/send/abc", "keys": {"p256dh": P256DH, "auth": AUTH}});
    app.post("/v1/customers/ann/push-subscriptions", Some(&ann), &subscription).await.assert_problem(404, "not-found");
    app.put(
        "/v1/customers/ann",
        Some(&ann),
        &profile(json!({"email": false, "sms": false, "push": true, "webhook": false})),
    )
    .await
    .ok();
    assert_eq!(app.post("/v1/customers/ann/push-subscriptions", Some(&ann), &subscription).await.status, 201);
    assert_eq!(
        app.post("/v1/customers/ann/push-subscriptions", Some(&ann), &subscription).await.status,
        200,
        "the same browser again"
    );
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.body["push_subscriptions"], 1);
    // Ten browsers at most: the eleventh replaces the oldest, the first one above.
    for browser in 1..=10 {
        let mut another = subscription.clone();
        another["endpoint"] = json!(format!("https://push.example.net/send/browser-{browser}"));
        assert_eq!(app.post("/v1/customers/ann/push-subscriptions", Some(&ann), &another).await.status, 201);
    }
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.body["push_subscriptions"], 10);
    assert_eq!(
        app.post("/v1/customers/ann/push-subscriptions", Some(&ann), &subscription).await.status,
        201,
        "the first browser was dropped, so it is new again"
    );
    let mut bad = subscription.clone();
    bad["keys"]["auth"] = json!("short");
    assert_eq!(
        app.post("/v1/customers/ann/push-subscriptions", Some(&ann), &bad).await.error_fields(),
        vec!["keys.auth"]
    );
    app.post("/v1/customers/ann/push-subscriptions", Some(&app.customer("bob")), &subscription)
        .await
        .assert_problem(404, "not-found");
    app.post("/v1/customers/ann/push-subscriptions", Some(&app.admin()), &subscription)
        .await
        .assert_problem(403, "forbidden");
}

fn statuses(list: &Value) -> Vec<(String, String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["event"].as_str().unwrap().into(),
                n["channel"].as_str().unwrap().into(),
                n["status"].as_str().unwrap().into(),
            )
        })
        .collect()
}

async fn order_changes_queue_notifications_in_the_same_transaction(app: TestApp) {
    app.stocked_store("S1", json!({"pickup_hold_days": 3}), "A", 5).await;
    let ann = app.customer("ann");
    app.put(
        "/v1/customers/ann",
        Some(&ann),
        &profile(json!({"email": true, "sms": true, "push": false, "webhook": false})),
    )
    .await
    .ok();
    let body =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/orders/{id}/notifications");
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    assert_eq!(
        statuses(&list),
        vec![
            ("order_confirmed".into(), "email".into(), "queued".into()),
            ("order_confirmed".into(), "sms".into(), "queued".into())
        ]
    );
    // An illegal move rolls back whole: no message about it.
    let admin = app.admin();
    app.request(Method::POST, &format!("/v1/orders/{id}/ship"))
        .bearer(&admin)
        .json(&json!({"carrier": "X", "tracking_number": "1"}))
        .send()
        .await
        .assert_problem(409, "conflict");
    assert_eq!(app.get(&path, Some(&ann)).await.body["items"].as_array().unwrap().len(), 2);

    assert_eq!(run_sender(&app).await, 2);
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    for n in list["items"].as_array().unwrap() {
        assert_eq!(n["status"], "suppressed");
        assert_eq!(n["attempts"], 1);
        assert!(n["error"].as_str().unwrap().contains("not configured"), "{n}");
    }
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    let queued: Vec<(String, String, String)> = statuses(&list).into_iter().filter(|(_, _, s)| s == "queued").collect();
    assert_eq!(queued.len(), 4, "ready_for_pickup and a pickup_reminder, on email and sms: {queued:?}");
    // Cancelled before the sender ran: "ready for pickup" is no longer true and is not sent.
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&admin).send().await.ok();
    assert_eq!(run_sender(&app).await, 4, "ready_for_pickup and cancelled; the reminder is not due yet");
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    let ready: Vec<&Value> =
        list["items"].as_array().unwrap().iter().filter(|n| n["event"] == "ready_for_pickup").collect();
    assert!(ready
        .iter()
        .all(|n| n["status"] == "suppressed" && n["error"].as_str().unwrap().contains("no longer true")));
    let reminders: Vec<&Value> =
        list["items"].as_array().unwrap().iter().filter(|n| n["event"] == "pickup_reminder").collect();
    assert!(reminders.iter().all(|n| n["status"] == "queued"));
    assert_eq!(run_sender(&app).await, 0);

    app.get(&path, Some(&app.customer("bob"))).await.assert_problem(404, "not-found");
    app.get(&path, Some(&app.staff("S2"))).await.assert_problem(404, "not-found");
    app.get(&path, None).await.assert_problem(401, "unauthorized");
    assert_eq!(app.get(&path, Some(&app.staff("S1"))).await.status, 200);

    // A customer without a profile has chosen no channel.
    let bob = app.customer("bob");
    let body =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "bob", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&bob), &body).await.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/v1/orders/{id}/notifications"), Some(&bob)).await.body["items"], json!([]));
}

async fn a_claimed_notification_is_not_claimed_twice(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    app.put(
        "/v1/customers/ann",
        Some(&ann),
        &profile(json!({"email": true, "sms": true, "push": true, "webhook": false})),
    )
    .await
    .ok();
    let body =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    use clickcollect::db::write_tx;
    use clickcollect::notify::outbox::claim_due;
    use clickcollect::notify::sender::BATCH;
    let first = write_tx(&mut app.conn(), |c| claim_due(c, BATCH, chrono::TimeDelta::seconds(60))).unwrap();
    let second = write_tx(&mut app.conn(), |c| claim_due(c, BATCH, chrono::TimeDelta::seconds(60))).unwrap();
    assert_eq!((first.len(), second.len()), (3, 0), "leased rows are not due");
    // The first sender dies before recording; once the lease lapses the rows are due again.
    make_due(&app);
    assert_eq!(run_sender(&app).await, 3);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let push = list["items"].as_array().unwrap().iter().find(|n| n["channel"] == "push").unwrap().clone();
    assert_eq!(push["attempts"], 2);
    assert!(push["error"].as_str().unwrap().contains("VAPID_PRIVATE_KEY"), "{push}");
}

/// A sender whose lease lapsed while it was busy with earlier messages of its batch must not
/// send a row another sender has claimed since: only the current holder's renewal succeeds.
async fn only_the_current_lease_holder_sends(app: TestApp) {
    use chrono::TimeDelta;
    use clickcollect::db::write_tx;
    use clickcollect::notify::outbox::{claim_due, record, renew_lease, Claimed, Outcome};
    use clickcollect::notify::sender::BATCH;
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    let profile = profile(json!({"email": true, "sms": false, "push": false, "webhook": false}));
    app.put("/v1/customers/ann", Some(&ann), &profile).await.ok();
    let body =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    // A lease of zero lapses at once: the row is due again and a second sender claims it.
    let slow = write_tx(&mut app.conn(), |c| claim_due(c, BATCH, TimeDelta::zero())).unwrap();
    let mut fresh = write_tx(&mut app.conn(), |c| claim_due(c, BATCH, TimeDelta::seconds(60))).unwrap();
    assert_eq!((slow.len(), fresh.len()), (1, 1));
    assert_eq!(slow[0].id, fresh[0].id);
    let renew =
        |claimed: &Claimed| write_tx(&mut app.conn(), |c| renew_lease(c, claimed, TimeDelta::seconds(60))).unwrap();
    assert_eq!(renew(&slow[0]), None, "the lapsed holder does not send");
    fresh[0].leased_until = renew(&fresh[0]).expect("the current holder does");
    assert!(renew(&fresh[0]).is_some(), "and may renew again before its next step");
    // Nor does the lapsed holder's verdict overwrite the row the current holder is sending.
    let stale = Outcome::Suppressed("decided too late".into());
    write_tx(&mut app.conn(), |c| record(c, &slow[0], &stale, chrono::Utc::now().naive_utc())).unwrap();
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    assert_eq!(list["items"][0]["status"], "queued", "{list}");
}

const WEBHOOK_SECRET: &str = "webhook-test-secret-0123456789-abcdefghij";

async fn webhooks_are_signed_retried_and_resent(backend: common::Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[("WEBHOOK_SECRET", WEBHOOK_SECRET)]).await else { return };
    let hook = receiver(vec![503, 410]);
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    let mut body = profile(json!({"email": true, "sms": false, "push": false, "webhook": true}));
    body["webhook_url"] = json!(hook.url);
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let order =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
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

#[actix_web::test]
async fn webhooks_are_signed_retried_and_resent_on_sqlite() {
    webhooks_are_signed_retried_and_resent(common::Backend::Sqlite).await;
}

#[actix_web::test]
async fn webhooks_are_signed_retried_and_resent_on_postgres() {
    webhooks_are_signed_retried_and_resent(common::Backend::Postgres).await;
}

const TWILIO_TOKEN: &str = "twilio-test-auth-token";

/// Twilio's callback signature, computed here independently of the server's code.
fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn receipt(app: &TestApp, params: &[(&str, &str)], signature: &str) -> common::Reply {
    let body = serde_urlencoded::to_string(params).unwrap();
    app.request(Method::POST, "/v1/notifications/callbacks/twilio")
        .header("X-Twilio-Signature", signature)
        .raw("application/x-www-form-urlencoded", body)
        .send()
        .await
}

async fn sms_goes_through_twilio_and_receipts_move_it_forward(backend: common::Backend) {
    let twilio = receiver_with(vec![
        (201, r#"{"sid": "SM0001", "status": "queued"}"#.into()),
        (201, r#"{"sid": "SM0002", "status": "queued"}"#.into()),
        (400, r#"{"code": 21211, "message": "Invalid 'To' Phone Number"}"#.into()),
    ]);
    let base = twilio.url.trim_end_matches("/hook").to_string();
    let settings = [
        ("SMS_PROVIDER", "twilio"),
        ("TWILIO_ACCOUNT_SID", "AC0123456789"),
        ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("TWILIO_API_BASE", base.as_str()),
        ("SMS_FROM", "+15005550006"),
        ("PUBLIC_BASE_URL", "https://cc.example.test"),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({"name": "Kraków Rynek", "timezone": "Europe/Warsaw"}), "A", 5).await;
    let ann = app.customer("ann");
    app.put(
        "/v1/customers/ann",
        Some(&ann),
        &profile(json!({"email": false, "sms": true, "push": false, "webhook": false})),
    )
    .await
    .ok();
    let order =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(run_sender(&app).await, 1);
    let admin = app.admin();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
    assert_eq!(run_sender(&app).await, 1, "ready_for_pickup; the reminder is not due yet");
    let code = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.body["pickup_code"].as_str().unwrap().to_string();

    let requests = twilio.received();
    assert_eq!(requests.len(), 2);
    let short = clickcollect::orders::number_for(&id);
    for request in &requests {
        let (headers, body) = (&request.headers, request.body());
        assert_eq!(headers[":path"], "/2010-04-01/Accounts/AC0123456789/Messages.json");
        use base64::Engine;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("AC0123456789:{TWILIO_TOKEN}"));
        assert_eq!(headers["authorization"], format!("Basic {credentials}"));
        let form: std::collections::HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
        assert_eq!((form["To"].as_str(), form["From"].as_str()), ("+48601234567", "+15005550006"));
        assert_eq!(form["StatusCallback"], "https://cc.example.test/v1/notifications/callbacks/twilio");
        assert_eq!(clickcollect::notify::sms::segments(&form["Body"]), 1);
        assert!(form["Body"].contains(&short), "{}", form["Body"]);
    }
    let ready_text: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(&requests[1].body()).unwrap();
    assert!(
        ready_text["Body"].starts_with("Zamowienie") && ready_text["Body"].contains(&code),
        "{}",
        ready_text["Body"]
    );
    assert!(ready_text["Body"].contains("Krakow Rynek"), "{}", ready_text["Body"]);

    let list_path = format!("/v1/orders/{id}/notifications");
    let status_of = |list: &Value, event: &str| {
        list["items"].as_array().unwrap().iter().find(|n| n["event"] == event).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of(app.get(&list_path, Some(&ann)).await.ok(), "order_confirmed"), "sent");

    let url = "https://cc.example.test/v1/notifications/callbacks/twilio";
    let delivered = [("MessageSid", "SM0001"), ("MessageStatus", "delivered"), ("AccountSid", "AC0123456789")];
    receipt(&app, &delivered, "forged").await.assert_problem(401, "unauthorized");
    assert_eq!(receipt(&app, &delivered, &twilio_signature(url, &delivered)).await.status, 204);
    let late = [("MessageSid", "SM0001"), ("MessageStatus", "sent")];
    assert_eq!(receipt(&app, &late, &twilio_signature(url, &late)).await.status, 204);
    let undelivered = [("MessageSid", "SM0002"), ("MessageStatus", "undelivered"), ("ErrorCode", "30003")];
    assert_eq!(receipt(&app, &undelivered, &twilio_signature(url, &undelivered)).await.status, 204);
    let list = app.get(&list_path, Some(&ann)).await.ok().clone();
    assert_eq!(status_of(&list, "order_confirmed"), "delivered", "a late 'sent' does not move it back");
    assert_eq!(status_of(&list, "ready_for_pickup"), "failed");
    let failed = list["items"].as_array().unwrap().iter().find(|n| n["event"] == "ready_for_pickup").unwrap().clone();
    assert!(failed["error"].as_str().unwrap().contains("30003"));
    let other =
        app.request(Method::POST, "/v1/notifications/callbacks/infobip").raw("application/json", "{}").send().await;
    other.assert_problem(404, "not-found");

    // Twilio's 400 (an invalid number) is final.
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&admin).send().await.ok();
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&list_path, Some(&ann)).await.ok().clone();
    let cancelled = list["items"].as_array().unwrap().iter().find(|n| n["event"] == "cancelled").unwrap().clone();
    assert_eq!(cancelled["status"], "failed");
    assert!(cancelled["error"].as_str().unwrap().contains("21211"));
}

#[actix_web::test]
async fn sms_goes_through_twilio_and_receipts_move_it_forward_on_sqlite() {
    sms_goes_through_twilio_and_receipts_move_it_forward(common::Backend::Sqlite).await;
}

#[actix_web::test]
async fn sms_goes_through_twilio_and_receipts_move_it_forward_on_postgres() {
    sms_goes_through_twilio_and_receipts_move_it_forward(common::Backend::Postgres).await;
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

async fn reminders_wait_for_the_morning(backend: common::Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[("WEBHOOK_SECRET", WEBHOOK_SECRET)]).await else { return };
    let hook = receiver(vec![]);
    let (quiet, awake) = quiet_and_awake_zones();
    app.stocked_store("S1", json!({"pickup_hold_days": 3}), "A", 5).await;
    let ann = app.customer("ann");
    let mut body = profile(json!({"email": false, "sms": false, "push": false, "webhook": true}));
    body["timezone"] = json!(quiet);
    body["webhook_url"] = json!(hook.url);
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let order =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
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

#[actix_web::test]
async fn reminders_wait_for_the_morning_on_sqlite() {
    reminders_wait_for_the_morning(common::Backend::Sqlite).await;
}

#[actix_web::test]
async fn reminders_wait_for_the_morning_on_postgres() {
    reminders_wait_for_the_morning(common::Backend::Postgres).await;
}

/// What the test SMTP server accepted: each message's recipients and its raw data.
type Mailbox = std::sync::Arc<std::sync::Mutex<Vec<(Vec<String>, String)>>>;

/// A real SMTP server for the tests: it speaks enough of RFC 5321 for lettre, refuses
/// mailboxes containing "unknown" with 550, and keeps every message it accepts.
/// An SMTP server that takes mail only after `AUTH PLAIN` with `SMTP_USER`/`SMTP_PASSWORD`.
fn smtp_server() -> (u16, Mailbox) {
    use base64::Engine;
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = messages.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let _ = write!(stream, "220 test.local ESMTP\r\n");
                let mut recipients = Vec::new();
                let mut authenticated = false;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.trim_end().to_ascii_uppercase();
                    let reply = if command.starts_with("EHLO") || command.starts_with("HELO") {
                        "250-test.local\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n".to_string()
                    } else if command.starts_with("AUTH PLAIN ") {
                        let given = base64::engine::general_purpose::STANDARD.decode(line.trim_end()[11..].trim());
                        authenticated =
                            given.ok().as_deref() == Some(format!("\0{SMTP_USER}\0{SMTP_PASSWORD}").as_bytes());
                        let reply = if authenticated { "235 2.7.0 OK\r\n" } else { "535 5.7.8 bad credentials\r\n" };
                        reply.to_string()
                    } else if !authenticated && (command.starts_with("MAIL FROM") || command.starts_with("RCPT TO")) {
                        "530 5.7.0 authentication required\r\n".into()
                    } else if command.starts_with("MAIL FROM") {
                        recipients.clear();
                        "250 2.1.0 OK\r\n".into()
                    } else if command.starts_with("RCPT TO") {
                        if command.contains("UNKNOWN") {
                            "550 5.1.1 no such mailbox\r\n".into()
                        } else {
                            recipients.push(line.trim_end()[8..].to_string());
                            "250 2.1.5 OK\r\n".into()
                        }
                    } else if command == "DATA" {
                        let _ = write!(stream, "354 go ahead\r\n");
                        let mut data = String::new();
                        loop {
                            line.clear();
                            reader.read_line(&mut line).unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        kept.lock().unwrap().push((recipients.clone(), data));
                        "250 2.0.0 queued as T1\r\n".into()
                    } else if command == "QUIT" {
                        let _ = write!(stream, "221 bye\r\n");
                        return;
                    } else {
                        "250 OK\r\n".into()
                    };
                    let _ = stream.write_all(reply.as_bytes());
                }
            });
        }
    });
    (port, messages)
}

const SMTP_USER: &str = "shop";
const SMTP_PASSWORD: &str = "smtp-test-password";

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
    let order =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
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

/// Wrong credentials are the operator's mistake, not the message's: it waits for a retry.
async fn refused_smtp_credentials_are_retried_not_failed(backend: Backend) {
    let (port, messages) = smtp_server();
    let url = format!("smtp://{SMTP_USER}:not-the-password@127.0.0.1:{port}");
    let settings = [("SMTP_URL", url.as_str()), ("EMAIL_FROM", "shop@example.com")];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    let body = profile(json!({"email": true, "sms": false, "push": false, "webhook": false}));
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let order =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(run_sender(&app).await, 1);
    let row = only_notification(&app, &id).await;
    assert_eq!((row["status"].as_str(), row["attempts"].as_i64()), (Some("queued"), Some(1)), "{row}");
    assert!(row["error"].as_str().unwrap().contains("credentials"), "{row}");
    assert!(messages.lock().unwrap().is_empty());
}

#[actix_web::test]
async fn email_goes_out_over_smtp_on_sqlite() {
    email_goes_out_over_smtp(common::Backend::Sqlite).await;
}

#[actix_web::test]
async fn email_goes_out_over_smtp_on_postgres() {
    email_goes_out_over_smtp(common::Backend::Postgres).await;
}

async fn sms_goes_through_infobip_and_its_reports_are_checked(backend: common::Backend) {
    let infobip = receiver_with(vec![(200, r#"{"messages": [{"status": {"groupName": "PENDING"}}]}"#.into())]);
    let base = infobip.url.trim_end_matches("/hook").to_string();
    let settings = [
        ("SMS_PROVIDER", "infobip"),
        ("INFOBIP_BASE_URL", base.as_str()),
        ("INFOBIP_API_KEY", "infobip-test-key"),
        ("INFOBIP_REPORT_TOKEN", "reporttoken0123456789"),
        ("SMS_FROM", "ClickCollect"),
        ("PUBLIC_BASE_URL", "https://cc.example.test"),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    let mut body = profile(json!({"email": false, "sms": true, "push": false, "webhook": false}));
    body["locale"] = json!("es-ES");
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let order =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let notification = list["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list["items"][0]["status"], "sent");

    let first = infobip.received()[0].clone();
    let (sent, headers) = (first.body(), first.headers);
    assert_eq!(headers[":path"], "/sms/2/text/advanced");
    assert_eq!(headers["authorization"], "App infobip-test-key");
    let sent: Value = serde_json::from_str(&sent).unwrap();
    let message = &sent["messages"][0];
    assert_eq!(message["destinations"][0], json!({"to": "48601234567", "messageId": notification}));
    assert_eq!(message["from"], "ClickCollect");
    assert_eq!(
        message["notifyUrl"],
        "https://cc.example.test/v1/notifications/callbacks/infobip?token=reporttoken0123456789"
    );
    assert!(message["text"].as_str().unwrap().starts_with("Pedido"), "{message}");

    let report = |status: &str| json!({"results": [{"messageId": notification, "status": {"groupName": status, "description": "x"}}]});
    let post_report = |token: &str, body: Value| {
        app.request(Method::POST, &format!("/v1/notifications/callbacks/infobip?token={token}")).json(&body).send()
    };
    post_report("wrong-token-000000000", report("DELIVERED")).await.assert_problem(401, "unauthorized");
    assert_eq!(post_report("reporttoken0123456789", report("DELIVERED")).await.status, 204);
    assert_eq!(post_report("reporttoken0123456789", report("REJECTED")).await.status, 204);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    assert_eq!(list["items"][0]["status"], "delivered", "a later rejection does not undo a delivery");

    // A rejected SMS, resent by an admin, goes out under a messageId of its own: a late report
    // about the first send does not settle the resend.
    let admin = app.admin();
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&admin).send().await.ok();
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let cancelled = list["items"].as_array().unwrap().iter().find(|n| n["event"] == "cancelled").unwrap().clone();
    let cancelled_id = cancelled["id"].as_str().unwrap().to_string();
    let report_on = |message_id: &str, status: &str| json!({"results": [{"messageId": message_id, "status": {"groupName": status, "description": "x"}}]});
    let cancelled_status = || async {
        let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
        list["items"].as_array().unwrap().iter().find(|n| n["event"] == "cancelled").unwrap()["status"].clone()
    };
    assert_eq!(post_report("reporttoken0123456789", report_on(&cancelled_id, "REJECTED")).await.status, 204);
    assert_eq!(cancelled_status().await, "failed");
    let resend = format!("/v1/notifications/{cancelled_id}/resend");
    assert_eq!(app.request(Method::POST, &resend).bearer(&admin).send().await.status, 200);
    assert_eq!(post_report("reporttoken0123456789", report_on(&cancelled_id, "DELIVERED")).await.status, 204);
    assert_eq!(cancelled_status().await, "queued", "the late report is about the first send");
    assert_eq!(run_sender(&app).await, 1);
    let resent: Value = serde_json::from_str(&infobip.received().last().unwrap().body()).unwrap();
    let resent_id = resent["messages"][0]["destinations"][0]["messageId"].as_str().unwrap().to_string();
    assert!(resent_id.starts_with(&format!("{cancelled_id}:resent-")), "{resent_id}");
    assert_eq!(post_report("reporttoken0123456789", report_on(&resent_id, "DELIVERED")).await.status, 204);
    assert_eq!(cancelled_status().await, "delivered");

    let twilio = app
        .request(Method::POST, "/v1/notifications/callbacks/twilio")
        .raw("application/x-www-form-urlencoded", "a=b")
        .send()
        .await;
    twilio.assert_problem(404, "not-found");
}

#[actix_web::test]
async fn sms_goes_through_infobip_and_its_reports_are_checked_on_sqlite() {
    sms_goes_through_infobip_and_its_reports_are_checked(common::Backend::Sqlite).await;
}

#[actix_web::test]
async fn sms_goes_through_infobip_and_its_reports_are_checked_on_postgres() {
    sms_goes_through_infobip_and_its_reports_are_checked(common::Backend::Postgres).await;
}

/// Each SMS provider's 429 and 5xx are worth a retry: the message goes out once the provider
/// recovers. (Refusals are final: see the Twilio and Infobip tests above.)
async fn sms_providers_are_retried_after_429_and_5xx(backend: Backend) {
    for provider in ["twilio", "infobip"] {
        let accepted = match provider {
            "twilio" => (201, r#"{"sid": "SM0009", "status": "queued"}"#.to_string()),
            _ => (200, r#"{"messages": [{"status": {"groupName": "PENDING"}}]}"#.to_string()),
        };
        let server = receiver_with(vec![(429, String::new()), (503, String::new()), accepted]);
        let base = server.url.trim_end_matches("/hook").to_string();
        let mut settings = vec![("SMS_PROVIDER", provider), ("SMS_FROM", "+15005550006")];
        match provider {
            "twilio" => settings.extend([
                ("TWILIO_ACCOUNT_SID", "AC0123456789"),
                ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
                ("TWILIO_API_BASE", base.as_str()),
            ]),
            _ => settings.extend([("INFOBIP_BASE_URL", base.as_str()), ("INFOBIP_API_KEY", "infobip-test-key")]),
        }
        let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
        app.stocked_store("S1", json!({}), "A", 5).await;
        let ann = app.customer("ann");
        let body = profile(json!({"email": false, "sms": true, "push": false, "webhook": false}));
        app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
        let order = json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann",
            "lines": [{"sku": "A", "quantity": 1}]});
        let id = app.post("/v1/orders", Some(&ann), &order).await.ok()["id"].as_str().unwrap().to_string();
        for (attempt, answer) in [(1, "429"), (2, "503")] {
            assert_eq!(run_sender(&app).await, 1);
            let row = only_notification(&app, &id).await;
            assert_eq!(
                (row["status"].as_str(), row["attempts"].as_i64()),
                (Some("queued"), Some(attempt)),
                "{provider}"
            );
            assert!(row["error"].as_str().unwrap().contains(answer), "{provider}: {row}");
            make_due(&app);
        }
        assert_eq!(run_sender(&app).await, 1);
        assert_eq!(only_notification(&app, &id).await["status"], "sent", "{provider}");
        assert_eq!(server.received().len(), 3, "{provider}");
    }
}

/// A store, Ann with only the webhook channel (to `url`), and her order; returns its id.
async fn webhook_order(app: &TestApp, url: &str) -> String {
    app.stocked_store("S1", json!({}), "A", 5).await;
    webhook_order_for(app, "ann", url).await
}

/// An order at S1 for `customer`, whose only channel is a webhook to `url`.
async fn webhook_order_for(app: &TestApp, customer: &str, url: &str) -> String {
    let token = app.customer(customer);
    let mut body = profile(json!({"email": false, "sms": false, "push": false, "webhook": true}));
    body["webhook_url"] = json!(url);
    app.put(&format!("/v1/customers/{customer}"), Some(&token), &body).await.ok();
    let order = json!({"location": "S1", "fulfilment": "pickup", "customer_id": customer,
        "lines": [{"sku": "A", "quantity": 1}]});
    app.post("/v1/orders", Some(&token), &order).await.ok()["id"].as_str().unwrap().to_string()
}

async fn only_notification(app: &TestApp, order: &str) -> Value {
    let list = app.get(&format!("/v1/orders/{order}/notifications"), Some(&app.admin())).await.ok().clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    list["items"][0].clone()
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

/// Transient failures past the retry window end as failed, visibly.
async fn transient_failures_give_up_after_the_retry_window(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[("WEBHOOK_SECRET", WEBHOOK_SECRET)]).await else { return };
    let hook = receiver(vec![500, 500]);
    let id = webhook_order(&app, &hook.url).await;
    let ann = app.customer("ann");
    {
        use clickcollect::db::schema::notifications;
        use diesel::prelude::*;
        let soon = chrono::Utc::now().naive_utc() + chrono::TimeDelta::seconds(5);
        diesel::update(notifications::table)
            .set(notifications::retry_until.eq(soon))
            .execute(&mut *app.conn())
            .unwrap();
    }
    assert_eq!(run_sender(&app).await, 1);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    assert_eq!(list["items"][0]["status"], "failed");
    assert!(list["items"][0]["error"].as_str().unwrap().starts_with("gave up after 1 attempts"));
}

/// Senders on several threads (as several replicas run them) share the queue: each message
/// goes out exactly once.
async fn concurrent_senders_send_each_message_once(backend: common::Backend) {
    // One customer places every order: the per-customer limits are lifted for it.
    let settings = [
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("LIMIT_OPEN_ORDERS_PER_CUSTOMER", "0"),
        ("LIMIT_UNITS_PER_SKU_PER_CUSTOMER", "0"),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    let hook = receiver(vec![]);
    app.stocked_store("S1", json!({}), "A", 500).await;
    let ann = app.customer("ann");
    let mut body = profile(json!({"email": false, "sms": false, "push": false, "webhook": true}));
    body["webhook_url"] = json!(hook.url);
    app.put("/v1/customers/ann", Some(&ann), &body).await.ok();
    let order =
        json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]});
    const ORDERS: usize = 120;
    for _ in 0..ORDERS {
        app.post("/v1/orders", Some(&ann), &order).await.ok();
    }
    let mut handled = 0;
    while handled < ORDERS {
        let rounds = (0..4).map(|_| run_sender(&app));
        let counts = futures_util::future::join_all(rounds).await;
        assert!(counts.iter().any(|n| *n > 0) || handled == ORDERS, "rounds stalled at {handled}");
        handled += counts.iter().sum::<usize>();
    }
    assert_eq!(handled, ORDERS, "every notification was claimed by exactly one round");
    let mut per_key: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for request in hook.received() {
        *per_key.entry(request.headers["idempotency-key"].clone()).or_default() += 1;
    }
    assert_eq!(per_key.len(), ORDERS);
    assert!(per_key.values().all(|n| *n == 1), "a message went out twice");
}

#[actix_web::test]
async fn concurrent_senders_send_each_message_once_on_sqlite() {
    concurrent_senders_send_each_message_once(common::Backend::Sqlite).await;
}

#[actix_web::test]
async fn concurrent_senders_send_each_message_once_on_postgres() {
    concurrent_senders_send_each_message_once(common::Backend::Postgres).await;
}

on_both_backends!(
    only_the_current_lease_holder_sends,
    customers_keep_their_choices_and_every_consent,
    customer_denials_and_validation,
    push_subscriptions_belong_to_their_customer,
    order_changes_queue_notifications_in_the_same_transaction,
    a_claimed_notification_is_not_claimed_twice,
);

#[actix_web::test]
async fn refused_smtp_credentials_are_retried_not_failed_on_sqlite() {
    refused_smtp_credentials_are_retried_not_failed(Backend::Sqlite).await;
}

#[actix_web::test]
async fn refused_smtp_credentials_are_retried_not_failed_on_postgres() {
    refused_smtp_credentials_are_retried_not_failed(Backend::Postgres).await;
}

#[actix_web::test]
async fn sms_providers_are_retried_after_429_and_5xx_on_sqlite() {
    sms_providers_are_retried_after_429_and_5xx(Backend::Sqlite).await;
}

#[actix_web::test]
async fn sms_providers_are_retried_after_429_and_5xx_on_postgres() {
    sms_providers_are_retried_after_429_and_5xx(Backend::Postgres).await;
}

#[actix_web::test]
async fn webhooks_reach_only_public_addresses_and_follow_no_redirects_on_sqlite() {
    webhooks_reach_only_public_addresses_and_follow_no_redirects(Backend::Sqlite).await;
}

#[actix_web::test]
async fn webhooks_reach_only_public_addresses_and_follow_no_redirects_on_postgres() {
    webhooks_reach_only_public_addresses_and_follow_no_redirects(Backend::Postgres).await;
}

#[actix_web::test]
async fn transient_failures_give_up_after_the_retry_window_on_sqlite() {
    transient_failures_give_up_after_the_retry_window(Backend::Sqlite).await;
}

#[actix_web::test]
async fn transient_failures_give_up_after_the_retry_window_on_postgres() {
    transient_failures_give_up_after_the_retry_window(Backend::Postgres).await;
}

/// The longest values the API accepts still make a one-segment SMS, through the whole path:
/// a store name of 200 characters, a carrier and a tracking number of 100 characters each in
/// an alphabet that forces UCS-2, a customer reading Russian. What Twilio receives is one
/// segment and carries the order number.
async fn the_longest_shipment_still_texts_in_one_segment(backend: Backend) {
    let twilio = receiver_with(vec![
        (201, r#"{"sid": "SM0001", "status": "queued"}"#.into()),
        (201, r#"{"sid": "SM0002", "status": "queued"}"#.into()),
    ]);
    let base = twilio.url.trim_end_matches("/hook").to_string();
    let settings = [
        ("SMS_PROVIDER", "twilio"),
        ("TWILIO_ACCOUNT_SID", "AC0123456789"),
        ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("TWILIO_API_BASE", base.as_str()),
        ("SMS_FROM", "+15005550006"),
    ];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    let name = "Магазин ".repeat(25).trim_end().to_string();
    assert_eq!(name.chars().count(), 199);
    app.stocked_store("S1", json!({"name": name}), "A", 5).await;
    let ivan = app.customer("ivan");
    let mut body = profile(json!({"email": false, "sms": true, "push": false, "webhook": false}));
    body["locale"] = json!("ru-RU");
    app.put("/v1/customers/ivan", Some(&ivan), &body).await.ok();
    let erp = app.integration(&["orders:write"]);
    let order = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "ivan", "lines": [{"sku": "A", "quantity": 1}]});
    let placed = app.post("/v1/orders", Some(&erp), &order).await.ok().clone();
    let (id, number) = (placed["id"].as_str().unwrap().to_string(), placed["number"].as_str().unwrap().to_string());
    let admin = app.admin();
    app.request(Method::POST, &format!("/v1/orders/{id}/picking")).bearer(&admin).send().await.ok();
    let shipment = json!({"carrier": "Ж".repeat(100), "tracking_number": "Щ".repeat(100)});
    app.post(&format!("/v1/orders/{id}/ship"), Some(&admin), &shipment).await.ok();
    assert_eq!(run_sender(&app).await, 2, "confirmed and shipped");
    let requests = twilio.received();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let form: std::collections::HashMap<String, String> = serde_urlencoded::from_str(&request.body()).unwrap();
        let text = &form["Body"];
        assert_eq!(clickcollect::notify::sms::segments(text), 1, "{text} ({} chars)", text.chars().count());
        assert!(text.contains(&number), "{text}");
    }
}

#[actix_web::test]
async fn the_longest_shipment_still_texts_in_one_segment_on_sqlite() {
    the_longest_shipment_still_texts_in_one_segment(Backend::Sqlite).await;
}

#[actix_web::test]
async fn the_longest_shipment_still_texts_in_one_segment_on_postgres() {
    the_longest_shipment_still_texts_in_one_segment(Backend::Postgres).await;
}
