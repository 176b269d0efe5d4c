//! Customers: their contacts, channel choices and consents, and their push subscriptions.

mod common;

use common::notify::customer_profile as profile;
use common::TestApp;
use serde_json::{json, Value};

const P256DH: &str = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";
const AUTH: &str = "tBHItJI5svbpez7KI4CCXg";

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

on_both_backends!(
    customers_keep_their_choices_and_every_consent,
    customer_denials_and_validation,
    push_subscriptions_belong_to_their_customer,
);
