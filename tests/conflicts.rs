//! Concurrent first writes of the same thing resolve to one winner and never to a 5xx: the
//! loser of a check-then-insert race sees the winner's row and answers as if it came second
//! (201 for one, 200 for the rest), or 409 `conflict` when it cannot. On PostgreSQL these are
//! real races between connections; on SQLite the one writer serialises them.

mod common;

use actix_web::http::Method;
use common::TestApp;
use futures_util::future::join_all;
use serde_json::{json, Value};

/// Sends the same request `n` times at once and returns the statuses and bodies.
async fn at_once(app: &TestApp, n: usize, method: Method, path: &str, token: &str, body: &Value) -> Vec<(u16, Value)> {
    let requests = (0..n).map(|_| async {
        let reply = app.request(method.clone(), path).bearer(token).json(body).send().await;
        (reply.status, reply.body)
    });
    join_all(requests).await
}

/// One 201 and the rest 200: one resource, made once.
#[track_caller]
fn one_winner(results: &[(u16, Value)], what: &str) {
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    assert!(results.iter().all(|(s, _)| *s == 201 || *s == 200), "{what}: {results:?}");
    assert_eq!(created, 1, "{what}: exactly one creates it: {results:?}");
}

async fn first_puts_racing_make_one_of_each(app: TestApp) {
    let admin = app.admin();
    let store = json!({"name": "Race", "kind": "store", "timezone": "UTC", "pickup": {"in_store": true, "curbside": false},
        "pickup_hold_days": 1, "fulfils_online": true, "active": true});
    one_winner(&at_once(&app, 8, Method::PUT, "/v1/locations/RACE", &admin, &store).await, "location");
    let product = json!({"name": "Race", "price": {"amount_minor": 1, "currency": "EUR"}});
    one_winner(&at_once(&app, 8, Method::PUT, "/v1/products/RACE", &admin, &product).await, "product");
    let channel = json!({"name": "Race", "buffer": 0, "locations": ["RACE"]});
    one_winner(&at_once(&app, 8, Method::PUT, "/v1/channels/race", &admin, &channel).await, "channel");
    assert_eq!(app.get("/v1/channels/race", Some(&admin)).await.ok()["locations"], json!(["RACE"]));

    let ann = app.customer("ann");
    let profile = json!({"name": "Ann", "channels": {"email": false, "sms": false, "push": true, "webhook": false}});
    one_winner(&at_once(&app, 8, Method::PUT, "/v1/customers/ann", &ann, &profile).await, "customer");
    // The consent was recorded once, by whichever write created the profile.
    let customer = app.get("/v1/customers/ann", Some(&ann)).await.ok().clone();
    assert_eq!(customer["consents"].as_array().unwrap().len(), 1, "{customer}");
}

async fn a_push_endpoint_registered_twice_at_once_is_one_subscription(app: TestApp) {
    let ann = app.customer("ann");
    let profile = json!({"channels": {"email": false, "sms": false, "push": true, "webhook": false}});
    app.put("/v1/customers/ann", Some(&ann), &profile).await.ok();
    let key = format!("B{}", "A".repeat(86));
    let subscription =
        json!({"endpoint": "https://push.example.com/send/abc", "keys": {"p256dh": key, "auth": "A".repeat(22)}});
    let results = at_once(&app, 8, Method::POST, "/v1/customers/ann/push-subscriptions", &ann, &subscription).await;
    one_winner(&results, "push subscription");
    let ids: std::collections::BTreeSet<&str> = results.iter().map(|(_, b)| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "every answer names the one subscription");
    assert_eq!(app.get("/v1/customers/ann", Some(&ann)).await.ok()["push_subscriptions"], 1);
}

/// A marketplace's sync job retrying an import in parallel: one order, and every answer is it.
async fn imports_of_one_external_ref_racing_make_one_order(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 50).await;
    app.put("/v1/channels/mkt", Some(&app.admin()), &json!({"name": "Market", "buffer": 0, "locations": []}))
        .await
        .ok();
    let erp = app.integration(&["orders:write", "orders:read"]);
    let import = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "m-1",
        "lines": [{"sku": "A", "quantity": 2}], "channel": "mkt", "external_ref": "MKT-1001"});
    let results = at_once(&app, 8, Method::POST, "/v1/orders", &erp, &import).await;
    one_winner(&results, "import");
    let ids: std::collections::BTreeSet<&str> = results.iter().map(|(_, b)| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    assert_eq!(app.level("S1", "A").await["reserved"], 2, "held once");
    let found = app.get("/v1/orders?channel=mkt&external_ref=MKT-1001", Some(&erp)).await.ok().clone();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());
}

/// A unique key taken under a request still maps to 409 `conflict`, never 500: two different
/// imports of one reference, racing.
async fn different_imports_of_one_reference_racing_get_one_order_and_conflicts(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 50).await;
    app.put("/v1/channels/mkt", Some(&app.admin()), &json!({"name": "Market", "buffer": 0, "locations": []}))
        .await
        .ok();
    let erp = app.integration(&["orders:write"]);
    let requests = (1..=6).map(|quantity| {
        let (app, erp) = (&app, erp.clone());
        async move {
            let import = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "m-1",
                "lines": [{"sku": "A", "quantity": quantity}], "channel": "mkt", "external_ref": "MKT-7"});
            let reply = app.post("/v1/orders", Some(&erp), &import).await;
            (reply.status, reply.body)
        }
    });
    let results = join_all(requests).await;
    assert_eq!(results.iter().filter(|(s, _)| *s == 201).count(), 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["type"], "https://clickcollect.dev/problems/conflict");
    }
    let reserved = app.level("S1", "A").await["reserved"].as_i64().unwrap();
    assert!((1..=6).contains(&reserved), "one import held its lines: {reserved}");
}

on_both_backends!(
    first_puts_racing_make_one_of_each,
    a_push_endpoint_registered_twice_at_once_is_one_subscription,
    imports_of_one_external_ref_racing_make_one_order,
    different_imports_of_one_reference_racing_get_one_order_and_conflicts,
);
