//! Marketplace references belong to integrations: only admins and integrations set `channel`
//! and `external_ref`; the channel must exist and sell from the order's location; an import
//! repeated by the same caller answers the original order; anything else under the same
//! reference is a conflict that names no order; and a channel's buffer is kept back from it.

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    app.stocked_store("S1", json!({}), "A", 10).await;
    app.put_location("S2", json!({})).await;
    let admin = app.admin();
    app.put("/v1/channels/mkt", Some(&admin), &json!({"name": "Market", "buffer": 3, "locations": ["S1"]})).await.ok();
}

fn import(reference: &str, quantity: i64) -> Value {
    json!({"location": "S1", "fulfilment": "delivery", "customer_id": "m-ann",
        "lines": [{"sku": "A", "quantity": quantity}], "channel": "mkt", "external_ref": reference})
}

async fn customers_cannot_take_a_marketplace_reference(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let mut squat = import("MKT-1", 1);
    squat["customer_id"] = json!("ann");
    app.post("/v1/orders", Some(&ann), &squat).await.assert_problem(403, "forbidden");
    let mut channel_only = squat.clone();
    channel_only.as_object_mut().unwrap().remove("external_ref");
    app.post("/v1/orders", Some(&ann), &channel_only).await.assert_problem(403, "forbidden");
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
    // The real import goes through.
    let erp = app.integration(&["orders:write"]);
    assert_eq!(app.post("/v1/orders", Some(&erp), &import("MKT-1", 1)).await.status, 201);
}

async fn the_channel_must_exist_and_sell_from_the_location(app: TestApp) {
    setup(&app).await;
    let erp = app.integration(&["orders:write"]);
    let mut unknown = import("MKT-2", 1);
    unknown["channel"] = json!("nope");
    let reply = app.post("/v1/orders", Some(&erp), &unknown).await;
    reply.assert_problem(404, "not-found");
    assert_eq!(reply.error_fields(), vec!["channel"]);
    // Also when the order leaves its location to the channel.
    unknown.as_object_mut().unwrap().remove("location");
    let reply = app.post("/v1/orders", Some(&erp), &unknown).await;
    reply.assert_problem(404, "not-found");
    assert_eq!(reply.error_fields(), vec!["channel"]);
    let mut elsewhere = import("MKT-2", 1);
    elsewhere["location"] = json!("S2");
    let reply = app.post("/v1/orders", Some(&erp), &elsewhere).await;
    reply.assert_problem(409, "conflict");
    assert!(reply.body["detail"].as_str().unwrap().contains("does not sell from S2"), "{}", reply.text);
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
}

async fn a_repeated_import_answers_the_original_and_a_different_one_conflicts(app: TestApp) {
    setup(&app).await;
    let erp = app.integration(&["orders:write", "orders:read"]);
    let first = app.post("/v1/orders", Some(&erp), &import("MKT-3", 2)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let id = first.body["id"].as_str().unwrap().to_string();
    let again = app.post("/v1/orders", Some(&erp), &import("MKT-3", 2)).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (200, Some("true")));
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(app.level("S1", "A").await["reserved"], 2, "held once");

    // Other lines under the same reference: 409, and the answer names no order.
    let changed = app.post("/v1/orders", Some(&erp), &import("MKT-3", 1)).await;
    changed.assert_problem(409, "conflict");
    assert!(!changed.text.contains(&id), "{}", changed.text);
    // Another integration using the reference: 409 too, naming nothing it may not see.
    let other = app.token(clickcollect::auth::Role::Integration, "other-erp", None, &["orders:write"]);
    let stolen = app.post("/v1/orders", Some(&other), &import("MKT-3", 2)).await;
    stolen.assert_problem(409, "conflict");
    assert!(!stolen.text.contains(&id));
    assert_eq!(app.level("S1", "A").await["reserved"], 2);

    // Found by its reference and by its number.
    let found = app.get("/v1/orders?channel=mkt&external_ref=MKT-3", Some(&erp)).await.ok().clone();
    assert_eq!(found["items"][0]["id"], id.as_str());
    let number = first.body["number"].as_str().unwrap();
    let by_number = app.get(&format!("/v1/orders?number={}", number.to_lowercase()), Some(&erp)).await.ok().clone();
    assert_eq!(by_number["items"][0]["id"], id.as_str(), "case does not matter");
    app.get("/v1/orders?number=X", Some(&app.integration(&["stock:read"]))).await.assert_problem(403, "forbidden");
    app.get("/v1/orders?number=X", Some(&app.customer("ann"))).await.assert_problem(403, "forbidden");
}

/// 10 on hand, a buffer of 3: the marketplace may sell 7, and never the last 3.
async fn a_channel_cannot_take_what_its_buffer_keeps_back(app: TestApp) {
    setup(&app).await;
    let erp = app.integration(&["orders:write"]);
    let reply = app.post("/v1/orders", Some(&erp), &import("MKT-4", 8)).await;
    reply.assert_problem(409, "insufficient-stock");
    assert_eq!(reply.body["shortfalls"][0]["available"], 7);
    assert_eq!(app.post("/v1/orders", Some(&erp), &import("MKT-5", 7)).await.status, 201);
    let reply = app.post("/v1/orders", Some(&erp), &import("MKT-6", 1)).await;
    reply.assert_problem(409, "insufficient-stock");
    assert_eq!(reply.body["shortfalls"][0]["available"], 0);
    // The store's own customers may still have the last units.
    let shopper = common::pickup_order("S1", "ann", "A", 3);
    assert_eq!(app.post("/v1/orders", Some(&app.customer("ann")), &shopper).await.status, 201);
    assert_eq!(app.get("/v1/channels/mkt/availability/A", Some(&erp)).await.ok()["available"], 0);
}

/// Concurrent marketplace orders racing for the units above the buffer: never past it.
async fn racing_marketplace_orders_never_eat_the_buffer(app: TestApp) {
    setup(&app).await;
    let erp = app.integration(&["orders:write"]);
    let requests = (0..12).map(|i| {
        let (app, erp) = (&app, erp.clone());
        async move { app.post("/v1/orders", Some(&erp), &import(&format!("RACE-{i}"), 1)).await.status }
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 7, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let level = app.level("S1", "A").await;
    assert_eq!((level["reserved"].as_i64(), level["available"].as_i64()), (Some(7), Some(3)));
}

async fn integrations_cancel_what_they_imported(app: TestApp) {
    setup(&app).await;
    let erp = app.integration(&["orders:write"]);
    let id = app.post("/v1/orders", Some(&erp), &import("MKT-8", 2)).await.ok()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/orders/{id}/cancel");
    let other = app.token(clickcollect::auth::Role::Integration, "other-erp", None, &["orders:write"]);
    app.request(Method::POST, &path).bearer(&other).send().await.assert_problem(404, "not-found");
    let reader = app.integration(&["orders:read"]);
    app.request(Method::POST, &path).bearer(&reader).send().await.assert_problem(403, "forbidden");
    let picking = format!("/v1/orders/{id}/picking");
    app.request(Method::POST, &picking).bearer(&erp).send().await.assert_problem(403, "forbidden");
    let cancelled = app.request(Method::POST, &path).bearer(&erp).send().await;
    assert_eq!(cancelled.ok()["status"], "cancelled");
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
}

on_both_backends!(
    customers_cannot_take_a_marketplace_reference,
    the_channel_must_exist_and_sell_from_the_location,
    a_repeated_import_answers_the_original_and_a_different_one_conflicts,
    a_channel_cannot_take_what_its_buffer_keeps_back,
    racing_marketplace_orders_never_eat_the_buffer,
    integrations_cancel_what_they_imported,
    an_importer_sees_only_its_own_orders_and_the_back_office_sees_all,
    an_import_from_before_content_hashes_repeats_by_its_content,
);

/// Imports made before their content hash was stored (the column is empty) still answer a
/// repeat with the original, judged by the order's own content, and a different import 409.
async fn an_import_from_before_content_hashes_repeats_by_its_content(app: TestApp) {
    use diesel::RunQueryDsl;
    setup(&app).await;
    let erp = app.integration(&["orders:write"]);
    let body = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "m-ann", "channel": "mkt",
        "external_ref": "OLD-1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]});
    app.put_product("B").await;
    app.count("S1", "B", 5).await;
    let id = app.post("/v1/orders", Some(&erp), &body).await.ok()["id"].as_str().unwrap().to_string();
    diesel::sql_query("UPDATE orders SET import_hash = NULL").execute(&mut *app.conn()).unwrap();

    // The same lines in another order are the same import.
    let mut again = body.clone();
    again["lines"] = json!([{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2}]);
    let repeated = app.post("/v1/orders", Some(&erp), &again).await;
    assert_eq!((repeated.status, repeated.header("idempotent-replayed")), (200, Some("true")), "{}", repeated.text);
    assert_eq!(repeated.body["id"], id.as_str());
    let mut other = body.clone();
    other["customer_id"] = json!("m-bob");
    app.post("/v1/orders", Some(&erp), &other).await.assert_problem(409, "conflict");
    assert_eq!(app.level("S1", "A").await["reserved"], 2, "held once");
}

/// An integration with `orders:write` alone (a marketplace importer) finds and reads only the
/// orders it placed; `orders:read` is the back office's feed and sees every order.
async fn an_importer_sees_only_its_own_orders_and_the_back_office_sees_all(app: TestApp) {
    setup(&app).await;
    let market = app.integration(&["orders:write"]);
    let other = app.token(clickcollect::auth::Role::Integration, "other-market", None, &["orders:write"]);
    let mine = app.post("/v1/orders", Some(&market), &import("MKT-20", 1)).await.ok().clone();
    let theirs = app.post("/v1/orders", Some(&other), &import("MKT-21", 1)).await.ok().clone();
    let web = common::pickup_order("S1", "ann", "A", 1);
    let shopper = app.post("/v1/orders", Some(&app.customer("ann")), &web).await.ok().clone();
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
    };
    let id = |order: &Value| order["id"].as_str().unwrap().to_string();

    let listed = app.get("/v1/orders", Some(&market)).await.ok().clone();
    assert_eq!(ids(&listed), vec![id(&mine)]);
    let by_ref = app.get("/v1/orders?channel=mkt&external_ref=MKT-21", Some(&market)).await.ok().clone();
    assert!(ids(&by_ref).is_empty(), "another importer's reference is not found");
    let number = shopper["number"].as_str().unwrap();
    let by_number = app.get(&format!("/v1/orders?number={number}"), Some(&market)).await.ok().clone();
    assert!(ids(&by_number).is_empty(), "a shopper's order is not found by its number");
    for hidden in [&theirs, &shopper] {
        app.get(&format!("/v1/orders/{}", id(hidden)), Some(&market)).await.assert_problem(404, "not-found");
    }
    app.get(&format!("/v1/orders/{}", id(&mine)), Some(&market)).await.ok();

    let back_office = app.integration(&["orders:read"]);
    let everything = app.get("/v1/orders", Some(&back_office)).await.ok().clone();
    assert_eq!(ids(&everything), vec![id(&shopper), id(&theirs), id(&mine)], "newest first");
    app.get(&format!("/v1/orders/{}", id(&shopper)), Some(&back_office)).await.ok();
}
