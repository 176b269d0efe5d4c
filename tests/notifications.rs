//! Customers, consents, push subscriptions, and the notification outbox through HTTP.

mod common;

use actix_web::http::Method;
use common::TestApp;
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

fn run_sender(app: &TestApp) -> usize {
    clickcollect::notify::sender::run_round(&app.state.pool).unwrap()
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
    app.put_location("S1", json!({"pickup_hold_days": 3})).await;
    app.put_product("A").await;
    app.count("S1", "A", 5).await;
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

    assert_eq!(run_sender(&app), 2);
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
    assert_eq!(run_sender(&app), 4, "ready_for_pickup and cancelled; the reminder is not due yet");
    let list = app.get(&path, Some(&ann)).await.ok().clone();
    let ready: Vec<&Value> =
        list["items"].as_array().unwrap().iter().filter(|n| n["event"] == "ready_for_pickup").collect();
    assert!(ready
        .iter()
        .all(|n| n["status"] == "suppressed" && n["error"].as_str().unwrap().contains("no longer true")));
    let reminders: Vec<&Value> =
        list["items"].as_array().unwrap().iter().filter(|n| n["event"] == "pickup_reminder").collect();
    assert!(reminders.iter().all(|n| n["status"] == "queued"));
    assert_eq!(run_sender(&app), 0);

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
    app.put_location("S1", json!({})).await;
    app.put_product("A").await;
    app.count("S1", "A", 5).await;
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
    use clickcollect::notify::sender::claim_due;
    let first = write_tx(&mut app.conn(), claim_due).unwrap();
    let second = write_tx(&mut app.conn(), claim_due).unwrap();
    assert_eq!((first.len(), second.len()), (3, 0), "leased rows are not due");
    // The first sender dies before recording; once the lease lapses the rows are due again.
    {
        use clickcollect::db::schema::notifications;
        use diesel::prelude::*;
        let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::seconds(1);
        diesel::update(notifications::table)
            .set(notifications::next_attempt_at.eq(past))
            .execute(&mut *app.conn())
            .unwrap();
    }
    assert_eq!(run_sender(&app), 3);
    let list = app.get(&format!("/v1/orders/{id}/notifications"), Some(&ann)).await.ok().clone();
    let push = list["items"].as_array().unwrap().iter().find(|n| n["channel"] == "push").unwrap().clone();
    assert_eq!(push["attempts"], 2);
    assert_eq!(push["error"], "the customer has no push subscription");
}

on_both_backends!(
    customers_keep_their_choices_and_every_consent,
    customer_denials_and_validation,
    push_subscriptions_belong_to_their_customer,
    order_changes_queue_notifications_in_the_same_transaction,
    a_claimed_notification_is_not_claimed_twice,
);
