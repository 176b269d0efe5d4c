//! Stock that falls below what is reserved: a recount, a till sale or a snapshot is the
//! physical truth and is applied; the newest commitments it no longer covers are flagged at
//! risk (the order, its timeline, the store's list, the hold, the level's `shortfall`), and
//! every step after that (ready, short pick, collect, ship, cancel) answers without a 5xx and
//! keeps the ledger exact.

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::{json, Value};

/// A store with 5 of A and three commitments, oldest first: ann's order of 2, bob's hold of 1,
/// cat's order of 2. Returns (ann's order, bob's hold, cat's order).
async fn fully_promised(app: &TestApp) -> (String, String, String) {
    app.stocked_store("S1", json!({}), "A", 5).await;
    let order = |customer: &str| common::pickup_order("S1", customer, "A", 2);
    let ann = app.post("/v1/orders", Some(&app.customer("ann")), &order("ann")).await.ok()["id"].clone();
    let hold = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]});
    let bob = app.post("/v1/reservations", Some(&app.customer("bob")), &hold).await.ok()["id"].clone();
    let cat = app.post("/v1/orders", Some(&app.customer("cat")), &order("cat")).await.ok()["id"].clone();
    let level = app.level("S1", "A").await;
    assert_eq!((level["reserved"].as_i64(), level["available"].as_i64()), (Some(5), Some(0)));
    let id = |v: Value| v.as_str().unwrap().to_string();
    (id(ann), id(bob), id(cat))
}

async fn order(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/orders/{id}"), Some(&app.admin())).await.ok().clone()
}

async fn step(app: &TestApp, id: &str, step: &str) -> common::Reply {
    app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&app.admin()).send().await
}

fn kinds(order: &Value) -> Vec<String> {
    order["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

/// Every level's ledger adds up and `reserved` is exactly what open holds and orders hold.
fn assert_books_exact(app: &TestApp) {
    let drift = clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
}

async fn a_recount_below_reserved_flags_the_newest_commitments(app: TestApp) {
    let (ann, bob, cat) = fully_promised(&app).await;
    let counted = app.put("/v1/stock/S1/A", Some(&app.staff("S1")), &json!({"on_hand": 2})).await;
    assert_eq!(counted.ok()["applied"], true, "a count is the physical truth: applied below reserved");
    let level = app.level("S1", "A").await;
    assert_eq!(
        (
            level["on_hand"].as_i64(),
            level["reserved"].as_i64(),
            level["available"].as_i64(),
            level["shortfall"].as_i64()
        ),
        (Some(2), Some(5), Some(0), Some(3))
    );
    // Oldest first: ann is covered, bob's hold and cat's order lose.
    assert!(order(&app, &ann).await["at_risk"].is_null());
    let cat_order = order(&app, &cat).await;
    let at_risk = &cat_order["at_risk"];
    assert_eq!(at_risk["lines"], json!([{"sku": "A", "short": 2}]), "{cat_order}");
    assert!(at_risk["since"].is_string());
    assert!(at_risk["reason"].as_str().unwrap().contains("2 × A no longer on hand at S1"), "{at_risk}");
    let event = cat_order["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((event["kind"].as_str(), event["actor"].as_str()), (Some("at_risk"), Some("staff:clerk-S1")));
    assert_eq!(event["detail"]["cause"], "count");
    let hold = app.get(&format!("/v1/reservations/{bob}"), Some(&app.customer("bob"))).await.ok().clone();
    assert_eq!(hold["at_risk"]["lines"], json!([{"sku": "A", "short": 1}]));

    // The store's list shows it, and can show only those.
    let staff = app.staff("S1");
    let list = app.get("/v1/stores/S1/orders", Some(&staff)).await.ok().clone();
    let flagged: Vec<(&str, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), !o["at_risk"].is_null()))
        .collect();
    assert_eq!(flagged, vec![(ann.as_str(), false), (cat.as_str(), true)]);
    let only = app.get("/v1/stores/S1/orders?at_risk=true", Some(&staff)).await.ok().clone();
    assert_eq!(only["items"].as_array().unwrap().len(), 1);
    assert_eq!(only["items"][0]["id"], cat.as_str());
    assert_books_exact(&app);

    // Stock back (a receipt): the flags clear, on the timeline too.
    let receipt = json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 3, "reason": "receipt"}]});
    app.post("/v1/stock/adjustments", Some(&app.admin()), &receipt).await.ok();
    let cat_order = order(&app, &cat).await;
    assert!(cat_order["at_risk"].is_null(), "{cat_order}");
    assert_eq!(kinds(&cat_order).last().map(String::as_str), Some("at_risk_cleared"));
    let hold = app.get(&format!("/v1/reservations/{bob}"), Some(&app.customer("bob"))).await.ok().clone();
    assert!(hold["at_risk"].is_null());
    assert_eq!(app.level("S1", "A").await["shortfall"], 0);
    assert_books_exact(&app);
}

async fn till_sales_and_snapshots_below_reserved_are_applied(app: TestApp) {
    let (ann, _bob, cat) = fully_promised(&app).await;
    // A till sale of units promised online: it happened, so it is recorded.
    let sale = json!({"adjustments": [{"location": "S1", "sku": "A", "delta": -4, "reason": "sale"}]});
    app.post("/v1/stock/adjustments", Some(&app.staff("S1")), &sale).await.ok();
    assert_eq!(app.level("S1", "A").await["shortfall"], 4);
    assert_eq!(order(&app, &cat).await["at_risk"]["lines"], json!([{"sku": "A", "short": 2}]));
    assert_eq!(order(&app, &ann).await["at_risk"]["lines"], json!([{"sku": "A", "short": 1}]));
    assert_eq!(kinds(&order(&app, &cat).await).last().unwrap(), "at_risk");
    // Below zero is still refused: that is not stock at all.
    let too_much = json!({"adjustments": [{"location": "S1", "sku": "A", "delta": -2, "reason": "sale"}]});
    app.post("/v1/stock/adjustments", Some(&app.admin()), &too_much).await.assert_problem(409, "negative-stock");

    // A snapshot that finds more clears some; one that finds none flags everything.
    let snapshot = |on_hand: i64| json!({"items": [{"sku": "A", "on_hand": on_hand}]});
    app.post("/v1/stock/S1/snapshot", Some(&app.admin()), &snapshot(4)).await.ok();
    assert!(order(&app, &ann).await["at_risk"].is_null());
    assert_eq!(order(&app, &cat).await["at_risk"]["lines"], json!([{"sku": "A", "short": 1}]));
    app.post("/v1/stock/S1/snapshot", Some(&app.admin()), &snapshot(0)).await.ok();
    assert_eq!(order(&app, &ann).await["at_risk"]["lines"], json!([{"sku": "A", "short": 2}]));
    assert_eq!(app.level("S1", "A").await["shortfall"], 5);
    assert_eq!(app.level("S1", "A").await["available"], 0, "availability stays clamped at zero");
    app.assert_ledger_balances("S1", "A").await;
    assert_books_exact(&app);
}

/// Ready tells the customer to come: not for an order whose units are missing. Short pick is
/// the way out, and it never takes from the shelf what a recount already took off the books.
async fn an_at_risk_order_is_short_picked_not_made_ready(app: TestApp) {
    let (ann, bob, cat) = fully_promised(&app).await;
    app.count("S1", "A", 2).await;
    step(&app, &cat, "picking").await.ok();
    let refused = step(&app, &cat, "ready").await;
    refused.assert_problem(409, "at-risk");
    assert!(refused.body["detail"].as_str().unwrap().contains("short-pick"), "{}", refused.text);
    assert_eq!(order(&app, &cat).await["status"], "picking");

    let before = app.level("S1", "A").await;
    let picked = app
        .request(Method::POST, &format!("/v1/orders/{cat}/short-pick"))
        .bearer(&app.staff("S1"))
        .json(&json!({"sku": "A", "missing": 2}))
        .send()
        .await;
    assert_eq!(picked.ok()["status"], "cancelled", "nothing left to pick: cancelled");
    let after = app.level("S1", "A").await;
    assert_eq!(after["on_hand"], before["on_hand"], "the recount already took these units off the books");
    assert_eq!(after["reserved"].as_i64().unwrap(), before["reserved"].as_i64().unwrap() - 2);
    let movement = app.movements("S1", "A").await[0].clone();
    assert_eq!((movement["reason"].as_str(), movement["delta_on_hand"].as_i64()), (Some("short_pick"), Some(0)));
    assert_eq!(movement["delta_reserved"], -2);
    // With cat's order gone, bob's hold is the one still short.
    let hold = app.get(&format!("/v1/reservations/{bob}"), Some(&app.customer("bob"))).await.ok().clone();
    assert_eq!(hold["at_risk"]["lines"], json!([{"sku": "A", "short": 1}]));
    assert!(order(&app, &ann).await["at_risk"].is_null());
    assert_books_exact(&app);

    // A hold that is at risk cannot become an order.
    let from_hold = json!({"reservation_id": bob, "location": "S1", "fulfilment": "pickup", "customer_id": "bob"});
    let reply = app.post("/v1/orders", Some(&app.customer("bob")), &from_hold).await;
    reply.assert_problem(409, "insufficient-stock");
    assert_eq!(reply.body["shortfalls"][0]["sku"], "A");
}

/// A handover that physically happened is recorded: the units were there, so the count is
/// corrected with a ledger movement and `on_hand` never goes below zero.
async fn an_at_risk_order_handed_over_corrects_the_count(app: TestApp) {
    let (ann, _bob, _cat) = fully_promised(&app).await;
    step(&app, &ann, "picking").await.ok();
    step(&app, &ann, "ready").await.ok();
    // The recount missed the parcel waiting at the counter.
    app.count("S1", "A", 0).await;
    assert_eq!(order(&app, &ann).await["at_risk"]["lines"], json!([{"sku": "A", "short": 2}]));
    let code = app.get(&format!("/v1/orders/{ann}"), Some(&app.customer("ann"))).await.body["pickup_code"]
        .as_str()
        .unwrap()
        .to_string();
    let collected = app.post("/v1/stores/S1/pickups", Some(&app.staff("S1")), &json!({"code": code})).await;
    assert_eq!(collected.ok()["status"], "collected");
    assert!(collected.body["at_risk"].is_null());
    let event = collected.body["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(event["detail"]["count_corrected"], json!([{"sku": "A", "units": 2}]));
    let movements = app.movements("S1", "A").await;
    assert_eq!(
        (movements[1]["reason"].as_str(), movements[1]["delta_on_hand"].as_i64(), movements[1]["reference"].as_str()),
        (Some("correction"), Some(2), Some(ann.as_str()))
    );
    assert_eq!((movements[0]["delta_on_hand"].as_i64(), movements[0]["delta_reserved"].as_i64()), (Some(-2), Some(-2)));
    let level = app.level("S1", "A").await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(0), Some(3)));
    app.assert_ledger_balances("S1", "A").await;
    assert_books_exact(&app);
}

async fn a_shipped_at_risk_order_corrects_the_count_and_a_cancel_rebalances(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 4).await;
    let erp = app.integration(&["orders:write"]);
    let delivery = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "dan", "lines": [{"sku": "A", "quantity": 3}]});
    let shipped = app.post("/v1/orders", Some(&erp), &delivery).await.ok()["id"].as_str().unwrap().to_string();
    let later = common::pickup_order("S1", "eve", "A", 1);
    let eve = app.post("/v1/orders", Some(&erp), &later).await.ok()["id"].as_str().unwrap().to_string();
    step(&app, &shipped, "picking").await.ok();
    app.count("S1", "A", 1).await;
    assert_eq!(order(&app, &shipped).await["at_risk"]["lines"], json!([{"sku": "A", "short": 2}]));
    assert_eq!(order(&app, &eve).await["at_risk"]["lines"], json!([{"sku": "A", "short": 1}]));
    let body = json!({"carrier": "DHL", "tracking_number": "JD1"});
    let reply = app.post(&format!("/v1/orders/{shipped}/ship"), Some(&app.admin()), &body).await;
    assert_eq!(reply.ok()["status"], "shipped");
    let level = app.level("S1", "A").await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(0), Some(1)));
    // Cancelling the order that is short puts the books straight.
    let cancelled = step(&app, &eve, "cancel").await;
    assert_eq!(cancelled.ok()["status"], "cancelled");
    assert!(cancelled.body["at_risk"].is_null());
    assert_eq!(app.level("S1", "A").await["shortfall"], 0);
    app.assert_ledger_balances("S1", "A").await;
    assert_books_exact(&app);
}

/// Cancelling the oldest commitment frees its units for the ones that had lost them.
async fn a_cancel_hands_its_units_to_the_commitments_that_lost_them(app: TestApp) {
    let (ann, bob, cat) = fully_promised(&app).await;
    app.count("S1", "A", 3).await;
    assert_eq!(order(&app, &cat).await["at_risk"]["lines"], json!([{"sku": "A", "short": 2}]));
    step(&app, &ann, "cancel").await.ok();
    assert!(order(&app, &cat).await["at_risk"].is_null(), "ann's two units now cover cat");
    let hold = app.get(&format!("/v1/reservations/{bob}"), Some(&app.customer("bob"))).await.ok().clone();
    assert!(hold["at_risk"].is_null());
    assert_eq!(kinds(&order(&app, &cat).await).last().unwrap(), "at_risk_cleared");
    assert_books_exact(&app);
}

on_both_backends!(
    a_recount_below_reserved_flags_the_newest_commitments,
    till_sales_and_snapshots_below_reserved_are_applied,
    an_at_risk_order_is_short_picked_not_made_ready,
    an_at_risk_order_handed_over_corrects_the_count,
    a_shipped_at_risk_order_corrects_the_count_and_a_cancel_rebalances,
    a_cancel_hands_its_units_to_the_commitments_that_lost_them,
    a_short_level_under_concurrent_writes_keeps_its_books,
    a_handover_racing_a_till_sale_keeps_the_count_whole,
);

/// A short level under fire: recounts, till sales and receipts on it while its orders are
/// picked, short-picked, handed over and cancelled, all at once. Reassessing a level touches
/// other orders' lines; no answer is a 5xx, and the books are exact at the end.
async fn a_short_level_under_concurrent_writes_keeps_its_books(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 40).await;
    let admin = app.admin();
    let mut ids = Vec::new();
    for i in 0..12 {
        let customer = format!("c{i}");
        let body = common::pickup_order("S1", &customer, "A", 3);
        let id = app.post("/v1/orders", Some(&app.customer(&customer)), &body).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        step(&app, &id, "picking").await.ok();
        ids.push(id);
    }
    app.count("S1", "A", 20).await;
    let work = (0..48).map(|i| {
        let (app, admin, id) = (&app, admin.clone(), ids[i % ids.len()].clone());
        async move {
            let reply = match i % 6 {
                0 => app.put("/v1/stock/S1/A", Some(&admin), &json!({"on_hand": 15 + (i % 10)})).await,
                1 => {
                    let sale = json!({"adjustments": [{"location": "S1", "sku": "A", "delta": -1, "reason": "sale"}]});
                    app.post("/v1/stock/adjustments", Some(&admin), &sale).await
                }
                2 => {
                    let receipt =
                        json!({"adjustments": [{"location": "S1", "sku": "A", "delta": 2, "reason": "receipt"}]});
                    app.post("/v1/stock/adjustments", Some(&admin), &receipt).await
                }
                3 => {
                    app.post(&format!("/v1/orders/{id}/short-pick"), Some(&admin), &json!({"sku": "A", "missing": 1}))
                        .await
                }
                4 => step(app, &id, "cancel").await,
                _ => step(app, &id, "ready").await,
            };
            assert!(reply.status < 500, "{}: {}", reply.status, reply.text);
        }
    });
    futures_util::future::join_all(work).await;
    app.assert_ledger_balances("S1", "A").await;
    assert_books_exact(&app);
    if app.backend == common::Backend::Postgres {
        // Every writer locks commitments first and stock second, this one included: PostgreSQL
        // never had to break a deadlock (its statistics reach the view within a second).
        use diesel::prelude::*;
        use diesel::sql_types::BigInt;
        #[derive(QueryableByName)]
        struct Deadlocks {
            #[diesel(sql_type = BigInt)]
            deadlocks: i64,
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1500)).await;
        let stats: Deadlocks =
            diesel::sql_query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
                .get_result(&mut *app.conn())
                .unwrap();
        assert_eq!(stats.deadlocks, 0, "deadlocks broken by PostgreSQL");
    }
}

/// The last units on the shelf are promised to an order at the counter when the till sells
/// one of them. Whichever lands first, the handover sees what the other did (it locks the
/// level before reading the count and the order's at-risk units): no 5xx, never below zero,
/// and the ledger explains every unit.
async fn a_handover_racing_a_till_sale_keeps_the_count_whole(app: TestApp) {
    const ORDERS: usize = 12;
    app.put_location("S1", json!({})).await;
    let mut codes = Vec::new();
    for i in 0..ORDERS {
        let (sku, customer) = (format!("R{i}"), format!("r{i}"));
        app.put_product(&sku).await;
        app.count("S1", &sku, 2).await;
        let body = common::pickup_order("S1", &customer, &sku, 2);
        let id = app.post("/v1/orders", Some(&app.customer(&customer)), &body).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        step(&app, &id, "picking").await.ok();
        step(&app, &id, "ready").await.ok();
        let code = app.get(&format!("/v1/orders/{id}"), Some(&app.customer(&customer))).await.body["pickup_code"]
            .as_str()
            .unwrap()
            .to_string();
        codes.push((sku, code));
    }
    let (staff, admin) = (app.staff("S1"), app.admin());
    let work = codes.iter().flat_map(|(sku, code)| {
        let handover = {
            let (app, staff) = (&app, staff.clone());
            async move { app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": code})).await }
        };
        let sale = {
            let (app, admin) = (&app, admin.clone());
            let sale = json!({"adjustments": [{"location": "S1", "sku": sku, "delta": -1, "reason": "sale"}]});
            async move { app.post("/v1/stock/adjustments", Some(&admin), &sale).await }
        };
        [futures_util::future::Either::Left(handover), futures_util::future::Either::Right(sale)]
    });
    let replies = futures_util::future::join_all(work).await;
    for reply in &replies {
        assert!(reply.status < 500, "{}: {}", reply.status, reply.text);
    }
    for (i, (sku, _)) in codes.iter().enumerate() {
        assert_eq!(replies[2 * i].ok()["status"], "collected", "a handover that happened is recorded");
        let level = app.level("S1", sku).await;
        assert!(level["on_hand"].as_i64().unwrap() >= 0, "{level}");
        assert_eq!(level["reserved"], 0);
        app.assert_ledger_balances("S1", sku).await;
    }
    assert_books_exact(&app);
}
