//! Every state-changing call takes an `Idempotency-Key`: a retry with the same key replays the
//! first answer (`Idempotent-Replayed: true`) and changes nothing more; the same key with
//! another body is 422. Each call is replayed here, and what it changes is checked to have
//! changed once.

mod common;

use actix_web::http::Method;
use common::{Reply, TestApp};
use serde_json::{json, Value};

async fn send(app: &TestApp, method: Method, path: &str, token: &str, key: &str, body: Option<&Value>) -> Reply {
    let mut request = app.request(method, path).bearer(token).header("Idempotency-Key", key);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await
}

/// Sends the call twice with one key: the second is the first answer, replayed.
async fn twice(app: &TestApp, method: Method, path: &str, token: &str, key: &str, body: Option<&Value>) -> Reply {
    let first = send(app, method.clone(), path, token, key, body).await;
    assert!(first.status < 300, "{method} {path}: {}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = send(app, method.clone(), path, token, key, body).await;
    assert_eq!(again.status, first.status, "{method} {path}: {}", again.text);
    assert_eq!(again.text, first.text, "{method} {path}: the same answer");
    assert_eq!(again.header("idempotent-replayed"), Some("true"), "{method} {path}");
    first
}

async fn order_at(app: &TestApp, customer: &str, fulfilment: &str, quantity: i64) -> String {
    let body = json!({"location": "S1", "fulfilment": fulfilment, "customer_id": customer,
        "lines": [{"sku": "A", "quantity": quantity}]});
    app.post("/v1/orders", Some(&app.customer(customer)), &body).await.ok()["id"].as_str().unwrap().to_string()
}

fn kinds(order: &Value) -> Vec<String> {
    order["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

async fn every_order_step_replays(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 20).await;
    let staff = app.staff("S1");
    let pickup = order_at(&app, "ann", "pickup", 3).await;
    for step in ["picking", "ready"] {
        twice(&app, Method::POST, &format!("/v1/orders/{pickup}/{step}"), &staff, &format!("{step}-1"), None).await;
    }
    // A retried short pick takes stock once.
    let curbside = order_at(&app, "bob", "curbside", 3).await;
    app.request(Method::POST, &format!("/v1/orders/{curbside}/picking")).bearer(&staff).send().await.ok();
    let before = app.level("S1", "A").await;
    let short = json!({"sku": "A", "missing": 1});
    let path = format!("/v1/orders/{curbside}/short-pick");
    let picked = twice(&app, Method::POST, &path, &staff, "short-1", Some(&short)).await;
    assert_eq!(picked.body["lines"][0]["quantity"], 2);
    let after = app.level("S1", "A").await;
    assert_eq!(after["on_hand"].as_i64().unwrap(), before["on_hand"].as_i64().unwrap() - 1, "taken once");
    assert_eq!(after["reserved"].as_i64().unwrap(), before["reserved"].as_i64().unwrap() - 1);
    // The same key for another short pick is refused, not run.
    let other = json!({"sku": "A", "missing": 2});
    send(&app, Method::POST, &path, &staff, "short-1", Some(&other))
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert_eq!(app.level("S1", "A").await, after);

    // The curbside customer says they are here, twice: one arrival on the timeline.
    let arrival = json!({"bay": "3"});
    let bob = app.customer("bob");
    twice(&app, Method::POST, &format!("/v1/orders/{curbside}/arrival"), &bob, "here-1", Some(&arrival)).await;
    let order = app.get(&format!("/v1/orders/{curbside}"), Some(&bob)).await.ok().clone();
    assert_eq!(kinds(&order).iter().filter(|k| *k == "arrived").count(), 1);

    let cancelled = twice(&app, Method::POST, &format!("/v1/orders/{curbside}/cancel"), &staff, "cancel-1", None).await;
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(kinds(&cancelled.body).iter().filter(|k| *k == "cancelled").count(), 1);

    // The counter: a scan retried with its key collects once and answers the same.
    let code = app.get(&format!("/v1/orders/{pickup}"), Some(&app.customer("ann"))).await.body["pickup_code"]
        .as_str()
        .unwrap()
        .to_string();
    let scan = json!({"code": code});
    let level = app.level("S1", "A").await;
    twice(&app, Method::POST, "/v1/stores/S1/pickups", &staff, "scan-1", Some(&scan)).await;
    let collected = app.level("S1", "A").await;
    assert_eq!(collected["on_hand"].as_i64().unwrap(), level["on_hand"].as_i64().unwrap() - 3, "collected once");

    // Delivery: ship and deliver.
    let erp = app.integration(&["orders:write"]);
    let body = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "cat", "lines": [{"sku": "A", "quantity": 1}]});
    let delivery = app.post("/v1/orders", Some(&erp), &body).await.ok()["id"].as_str().unwrap().to_string();
    app.request(Method::POST, &format!("/v1/orders/{delivery}/picking")).bearer(&staff).send().await.ok();
    let shipment = json!({"carrier": "DHL", "tracking_number": "JD1"});
    twice(&app, Method::POST, &format!("/v1/orders/{delivery}/ship"), &staff, "ship-1", Some(&shipment)).await;
    twice(&app, Method::POST, &format!("/v1/orders/{delivery}/deliver"), &staff, "deliver-1", None).await;
    app.assert_ledger_balances("S1", "A").await;
}

async fn releases_profiles_subscriptions_and_catalog_writes_replay(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    let hold = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 2}]});
    let id = app.post("/v1/reservations", Some(&ann), &hold).await.ok()["id"].as_str().unwrap().to_string();
    let released = twice(&app, Method::DELETE, &format!("/v1/reservations/{id}"), &ann, "release-1", None).await;
    assert_eq!(released.status, 204);
    assert_eq!(app.movements("S1", "A").await.iter().filter(|m| m["reason"] == "release").count(), 1);

    let profile = json!({"name": "Ann", "channels": {"email": false, "sms": false, "push": true, "webhook": false}});
    let created = twice(&app, Method::PUT, "/v1/customers/ann", &ann, "profile-1", Some(&profile)).await;
    assert_eq!(created.status, 201, "the replay says created too, as the first answer did");
    let key = format!("B{}", "A".repeat(86));
    let subscription =
        json!({"endpoint": "https://push.example.com/x", "keys": {"p256dh": key, "auth": "A".repeat(22)}});
    twice(&app, Method::POST, "/v1/customers/ann/push-subscriptions", &ann, "sub-1", Some(&subscription)).await;

    let admin = app.admin();
    let channel = json!({"name": "Web", "buffer": 1, "locations": ["S1"]});
    assert_eq!(twice(&app, Method::PUT, "/v1/channels/web", &admin, "channel-1", Some(&channel)).await.status, 201);
    let store = json!({"name": "Two", "kind": "store", "timezone": "UTC", "pickup": {"in_store": true, "curbside": false},
        "pickup_hold_days": 1, "fulfils_online": true, "active": true});
    twice(&app, Method::PUT, "/v1/locations/S2", &admin, "location-1", Some(&store)).await;
    let product = json!({"name": "B", "price": {"amount_minor": 5, "currency": "EUR"}});
    twice(&app, Method::PUT, "/v1/products/B", &admin, "product-1", Some(&product)).await;
    // Keys belong to their caller: another caller's same key is a request of its own.
    let catalog = app.integration(&["catalog:write"]);
    let other = send(&app, Method::PUT, "/v1/products/B", &catalog, "product-1", Some(&product)).await;
    assert_eq!((other.status, other.header("idempotent-replayed")), (200, None));
}

on_both_backends!(every_order_step_replays, releases_profiles_subscriptions_and_catalog_writes_replay);

/// A write held so long that its key was presumed abandoned and taken over by another request
/// must not store its answer over the newcomer's claim, nor happen: it rolls back (409), and
/// the newcomer's claim stays. The takeover is committed from another connection while the
/// write runs, which only PostgreSQL allows (SQLite's writer holds the one write lock).
#[actix_web::test]
async fn a_write_whose_key_was_taken_over_rolls_back() {
    let Some(app) = TestApp::spawn(common::Backend::Postgres).await else { return };
    use clickcollect::auth::{Principal, Role};
    use clickcollect::db::schema::{idempotency_keys as keys, locations};
    use clickcollect::http::idempotency::{self, Answer, IdempotencyKey};
    use diesel::prelude::*;
    let who = Principal { sub: "root".into(), role: Role::Admin, store: None, scopes: vec![] };
    let owner = who.actor();
    let key = IdempotencyKey(Some("slow-1".into()));
    let pool = app.state.pool.clone();
    let result = idempotency::run(&app.state, &who, key, "PUT /v1/locations/SLOW".into(), move |conn| {
        let mut newcomer = pool.get().expect("a second connection");
        diesel::update(keys::table.find((&owner, "slow-1")))
            .set(keys::request_hash.eq("the newcomer's request"))
            .execute(&mut *newcomer)?;
        diesel::sql_query(
            "INSERT INTO locations (code, name, kind, timezone, pickup_in_store, pickup_curbside, pickup_hold_days, \
             fulfils_online, active, created_at, updated_at) VALUES ('SLOW', 'Slow', 'store', 'UTC', TRUE, FALSE, 3, \
             TRUE, TRUE, '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        )
        .execute(conn)?;
        Answer::no_content()
    })
    .await;
    let error = result.expect_err("the overtaken write is refused");
    assert_eq!(actix_web::ResponseError::status_code(&error).as_u16(), 409);
    let mut conn = app.conn();
    let written: i64 = locations::table.filter(locations::code.eq("SLOW")).count().get_result(&mut *conn).unwrap();
    assert_eq!(written, 0, "rolled back");
    let claims: Vec<(String, Option<i32>)> = keys::table
        .filter(keys::key.eq("slow-1"))
        .select((keys::request_hash, keys::response_status))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(claims, vec![("the newcomer's request".to_string(), None)], "the newcomer's claim stays");
}
