//! Business limits per customer (open holds, open orders, units of one SKU across both),
//! each a 409 `limit-exceeded` naming the limit, race-free under concurrency; and confirmed
//! orders nobody started picking surfacing as overdue instead of expiring silently.

mod common;

use common::{Backend, TestApp};
use serde_json::json;

async fn limited(backend: Backend) -> Option<TestApp> {
    let limits = [
        ("LIMIT_OPEN_HOLDS_PER_CUSTOMER", "2"),
        ("LIMIT_OPEN_ORDERS_PER_CUSTOMER", "2"),
        ("LIMIT_UNITS_PER_SKU_PER_CUSTOMER", "5"),
    ];
    let app = TestApp::spawn_with(backend, &limits).await?;
    app.stocked_store("S1", json!({}), "A", 100).await;
    app.put_product("B").await;
    app.count("S1", "B", 100).await;
    Some(app)
}

fn hold(sku: &str, quantity: i64) -> serde_json::Value {
    json!({"location": "S1", "lines": [{"sku": sku, "quantity": quantity}]})
}

fn order(customer: &str, sku: &str, quantity: i64) -> serde_json::Value {
    common::pickup_order("S1", customer, sku, quantity)
}

#[track_caller]
fn assert_limit(reply: &common::Reply, limit: &str, max: i64) {
    reply.assert_problem(409, "limit-exceeded");
    assert_eq!((reply.body["limit"].as_str(), reply.body["max"].as_i64()), (Some(limit), Some(max)), "{}", reply.text);
}

async fn each_limit_is_named_when_reached(backend: Backend) {
    let Some(app) = limited(backend).await else { return };
    let ann = app.customer("ann");
    for _ in 0..2 {
        assert_eq!(app.post("/v1/reservations", Some(&ann), &hold("B", 1)).await.status, 201);
    }
    assert_limit(&app.post("/v1/reservations", Some(&ann), &hold("B", 1)).await, "open_holds_per_customer", 2);

    let bob = app.customer("bob");
    assert_eq!(app.post("/v1/reservations", Some(&bob), &hold("A", 3)).await.status, 201);
    let reply = app.post("/v1/orders", Some(&bob), &order("bob", "A", 3)).await;
    assert_limit(&reply, "units_per_sku_per_customer", 5);
    assert!(reply.body["detail"].as_str().unwrap().contains("hold or ordered 3"), "{}", reply.text);
    assert_eq!(app.post("/v1/orders", Some(&bob), &order("bob", "A", 2)).await.status, 201, "up to the limit");
    assert_eq!(app.post("/v1/orders", Some(&bob), &order("bob", "B", 1)).await.status, 201);
    assert_limit(&app.post("/v1/orders", Some(&bob), &order("bob", "B", 1)).await, "open_orders_per_customer", 2);
    assert_eq!(app.level("S1", "A").await["reserved"], 5, "the refused requests held nothing");

    // Admins and integrations act for many customers: not limited.
    let erp = app.integration(&["orders:write"]);
    for _ in 0..3 {
        assert_eq!(app.post("/v1/orders", Some(&erp), &order("bob", "A", 5)).await.status, 201);
    }
    // A hold turned into an order moves its units, it does not add them.
    let cat = app.customer("cat");
    let id = app.post("/v1/reservations", Some(&cat), &hold("A", 5)).await.ok()["id"].as_str().unwrap().to_string();
    let from_hold = json!({"reservation_id": id, "location": "S1", "fulfilment": "pickup", "customer_id": "cat"});
    assert_eq!(app.post("/v1/orders", Some(&cat), &from_hold).await.status, 201);
}

/// Twelve holds by one customer at once, against a limit of two: exactly two.
async fn a_burst_of_holds_meets_the_limit_exactly(backend: Backend) {
    let Some(app) = limited(backend).await else { return };
    let ann = app.customer("ann");
    let requests = (0..12).map(|_| {
        let (app, ann) = (&app, ann.clone());
        async move { app.post("/v1/reservations", Some(&ann), &hold("B", 1)).await.status }
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 2, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert_eq!(app.level("S1", "B").await["reserved"], 2);
}

/// A confirmed order nobody starts picking within PICKING_OVERDUE_SECONDS is neither expired
/// nor cancelled: it shows as overdue, on the order and in the store's list.
async fn unpicked_orders_surface_as_overdue(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[("PICKING_OVERDUE_SECONDS", "60")]).await else { return };
    app.stocked_store("S1", json!({}), "A", 10).await;
    let ann = app.customer("ann");
    let old = app.post("/v1/orders", Some(&ann), &order("ann", "A", 1)).await.ok()["id"].as_str().unwrap().to_string();
    let new = app.post("/v1/orders", Some(&ann), &order("ann", "A", 1)).await.ok()["id"].as_str().unwrap().to_string();
    {
        use clickcollect::db::schema::orders;
        use diesel::prelude::*;
        let placed = chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(5);
        diesel::update(orders::table.find(&old)).set(orders::created_at.eq(placed)).execute(&mut *app.conn()).unwrap();
    }
    let staff = app.staff("S1");
    let order_view = app.get(&format!("/v1/orders/{old}"), Some(&ann)).await.ok().clone();
    assert_eq!((order_view["overdue"].as_bool(), order_view["status"].as_str()), (Some(true), Some("confirmed")));
    let list = app.get("/v1/stores/S1/orders", Some(&staff)).await.ok().clone();
    let flags: Vec<(String, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap().to_string(), o["overdue"].as_bool().unwrap()))
        .collect();
    assert_eq!(flags, vec![(old.clone(), true), (new.clone(), false)]);
    let overdue = app.get("/v1/stores/S1/orders?overdue=true", Some(&staff)).await.ok().clone();
    assert_eq!(overdue["items"].as_array().unwrap().len(), 1);
    assert_eq!(overdue["items"][0]["id"], old.as_str());
    // Picking started: no longer overdue.
    app.request(actix_web::http::Method::POST, &format!("/v1/orders/{old}/picking")).bearer(&staff).send().await.ok();
    assert_eq!(app.get(&format!("/v1/orders/{old}"), Some(&ann)).await.body["overdue"], false);
    assert!(app.get("/v1/stores/S1/orders?overdue=true", Some(&staff)).await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

on_each_backend!(
    each_limit_is_named_when_reached,
    a_burst_of_holds_meets_the_limit_exactly,
    unpicked_orders_surface_as_overdue
);
