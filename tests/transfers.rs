//! Ship-to-store through HTTP: a store short of a line takes it from the lane that supplies
//! it, reserved at the source at once; the order waits as `awaiting_transfer`; receiving the
//! transfer moves the units through the ledger and lets the order be picked; a partial or
//! lost transfer leaves the order at risk; cancelling gives the source its units back;
//! shoppers and transfers racing for the source's last units never oversell it; and lanes
//! and receipts are refused to callers who may not set or make them.

mod common;

use common::{pickup_order, TestApp};
use diesel::prelude::*;
use futures_util::future::join_all;
use serde_json::{json, Value};

/// S1 and S2 are stores, WH a warehouse. S1 has 5 of A and none of B; WH has 10 of B, S2 5.
async fn setup(app: &TestApp) {
    app.put_location("S1", json!({})).await;
    app.put_location("S2", json!({})).await;
    app.put_location("WH", json!({"kind": "warehouse", "pickup": {"in_store": false, "curbside": false}})).await;
    app.put_product("A").await;
    app.put_product("B").await;
    app.count("S1", "A", 5).await;
    app.count("S1", "B", 0).await;
    app.count("WH", "B", 10).await;
    app.count("S2", "B", 5).await;
}

async fn put_lanes(app: &TestApp, store: &str, lanes: Value) -> common::Reply {
    app.put(&format!("/v1/locations/{store}/lanes"), Some(&app.admin()), &json!({ "lanes": lanes })).await
}

async fn place(app: &TestApp, customer: &str, lines: Value) -> common::Reply {
    let body = json!({"location": "S1", "fulfilment": "pickup", "customer_id": customer, "lines": lines});
    app.post("/v1/orders", Some(&app.customer(customer)), &body).await
}

/// An order's step, sent without a body.
async fn act(app: &TestApp, path: &str, token: &str) -> common::Reply {
    app.request(actix_web::http::Method::POST, path).bearer(token).send().await
}

async fn order(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/orders/{id}"), Some(&app.admin())).await.ok().clone()
}

fn units(level: &Value) -> (i64, i64) {
    (level["on_hand"].as_i64().unwrap(), level["reserved"].as_i64().unwrap())
}

fn no_drift(app: &TestApp) {
    let drift = clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
}

async fn a_store_short_of_a_line_takes_it_from_its_lane_and_receives_it(app: TestApp) {
    setup(&app).await;
    // Without a lane, a line the store lacks is refused as ever.
    place(&app, "ann", json!([{"sku": "B", "quantity": 2}])).await.assert_problem(409, "insufficient-stock");
    let lanes =
        put_lanes(&app, "S1", json!([{"from": "S2", "working_days": 3}, {"from": "WH", "working_days": 2}])).await;
    assert_eq!(lanes.ok()["lanes"], json!([{"from": "WH", "working_days": 2}, {"from": "S2", "working_days": 3}]));

    // Availability says from when S1 could have B; the promise counts the transfer.
    let availability = app.get("/v1/availability/B", None).await.ok().clone();
    let s1 = availability["locations"].as_array().unwrap().iter().find(|l| l["location"] == "S1").unwrap().clone();
    assert_eq!(s1["available"], 0);
    let from: chrono::DateTime<chrono::Utc> = s1["available_from"].as_str().unwrap().parse().unwrap();
    assert!(from > chrono::Utc::now() + chrono::TimeDelta::hours(24), "two working days ahead: {from}");
    let s2 = availability["locations"].as_array().unwrap().iter().find(|l| l["location"] == "S2").unwrap().clone();
    assert!(s2["available_from"].is_null(), "S2 has B on its shelf: {s2}");
    let promise = app
        .post(
            "/v1/promise",
            None,
            &json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(promise["source"], "transfer");
    let sources: Vec<&str> =
        promise["lines"].as_array().unwrap().iter().map(|l| l["source"].as_str().unwrap()).collect();
    assert_eq!(sources, vec!["store", "transfer"]);
    let ready_at: chrono::DateTime<chrono::Utc> = promise["ready_at"].as_str().unwrap().parse().unwrap();
    assert!(ready_at >= from, "ready after it arrives: {ready_at} vs {from}");

    // Ann's profile lets her hear about it.
    let profile =
        common::notify::customer_profile(json!({"email": true, "sms": false, "push": false, "webhook": false}));
    app.put("/v1/customers/ann", Some(&app.admin()), &profile).await.ok();
    let placed = place(&app, "ann", json!([{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}])).await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let placed = placed.ok().clone();
    let id = placed["id"].as_str().unwrap().to_string();
    assert_eq!(placed["status"], "awaiting_transfer");
    let transfer = &placed["transfers"][0];
    assert_eq!((transfer["from"].as_str(), transfer["to"].as_str()), (Some("WH"), Some("S1")));
    assert_eq!(transfer["status"], "in_transit");
    assert_eq!(transfer["lines"], json!([{"sku": "B", "quantity": 2}]));
    let expected: chrono::DateTime<chrono::Utc> = transfer["expected_at"].as_str().unwrap().parse().unwrap();
    let promised: chrono::DateTime<chrono::Utc> = placed["promised_at"].as_str().unwrap().parse().unwrap();
    assert!(promised >= expected, "{promised} vs {expected}");
    // A is reserved at the store, B at the warehouse only.
    assert_eq!(units(&app.level("S1", "A").await), (5, 1));
    assert_eq!(units(&app.level("WH", "B").await), (10, 2));
    assert_eq!(units(&app.level("S1", "B").await), (0, 0));
    no_drift(&app);
    // The confirmation says it is on its way.
    let events: Vec<String> = {
        use clickcollect::db::schema::notifications;
        notifications::table
            .filter(notifications::order_id.eq(&id))
            .select(notifications::event)
            .load(&mut app.conn())
            .unwrap()
    };
    assert_eq!(events, vec!["on_its_way"]);

    // Nothing to pick until it arrives.
    let staff = app.staff("S1");
    act(&app, &format!("/v1/orders/{id}/picking"), &staff).await.assert_problem(409, "conflict");

    // The store sees it coming; others may not look.
    let list = app.get("/v1/transfers", Some(&staff)).await.ok().clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let transfer_id = list["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list["items"][0]["order_number"], placed["number"]);
    let waiting = app.get("/v1/transfers?to=S1&status=in_transit", Some(&app.admin())).await.ok().clone();
    assert_eq!(waiting["items"].as_array().unwrap().len(), 1);
    let received = app.get("/v1/transfers?to=S1&status=received", Some(&app.admin())).await.ok().clone();
    assert_eq!(received["items"], json!([]));
    app.get("/v1/transfers?to=S1", Some(&app.staff("S2"))).await.assert_problem(403, "forbidden");
    app.get("/v1/transfers", Some(&app.customer("ann"))).await.assert_problem(403, "forbidden");
    app.get("/v1/transfers", Some(&app.integration(&["orders:read"]))).await.assert_problem(403, "forbidden");

    // Received by the store's staff: everything arrived.
    let receive = format!("/v1/transfers/{transfer_id}/receive");
    app.post(&receive, Some(&app.staff("S2")), &json!({})).await.assert_problem(403, "forbidden");
    app.post(&receive, Some(&app.customer("ann")), &json!({})).await.assert_problem(403, "forbidden");
    let got = app.post(&receive, Some(&staff), &json!({})).await.ok().clone();
    assert_eq!(got["status"], "received");
    assert_eq!(got["lines"], json!([{"sku": "B", "quantity": 2, "received": 2}]));
    assert_eq!(got["received_by"], "staff:clerk-S1");
    assert_eq!(units(&app.level("WH", "B").await), (8, 0));
    assert_eq!(units(&app.level("S1", "B").await), (2, 2));
    let reasons: Vec<String> =
        app.movements("S1", "B").await.iter().map(|m| m["reason"].as_str().unwrap().to_string()).collect();
    assert!(reasons.contains(&"transfer_in".to_string()), "{reasons:?}");
    let reasons: Vec<String> =
        app.movements("WH", "B").await.iter().map(|m| m["reason"].as_str().unwrap().to_string()).collect();
    assert!(reasons.contains(&"transfer_out".to_string()), "{reasons:?}");
    for (location, sku) in [("S1", "A"), ("S1", "B"), ("WH", "B")] {
        app.assert_ledger_balances(location, sku).await;
    }
    no_drift(&app);
    app.post(&receive, Some(&staff), &json!({})).await.assert_problem(409, "conflict");

    // The order joined the store's queue and goes on as any other.
    let now = order(&app, &id).await;
    assert_eq!(now["status"], "confirmed");
    assert!(now["at_risk"].is_null(), "{now}");
    let kinds: Vec<&str> = now["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"transfer_received"), "{kinds:?}");
    act(&app, &format!("/v1/orders/{id}/picking"), &staff).await.ok();
    let ready = act(&app, &format!("/v1/orders/{id}/ready"), &staff).await;
    assert_eq!(ready.ok()["status"], "ready_for_pickup");
}

async fn a_partial_or_lost_transfer_leaves_the_order_at_risk(app: TestApp) {
    setup(&app).await;
    put_lanes(&app, "S1", json!([{"from": "WH", "working_days": 1}])).await.ok();
    let staff = app.staff("S1");
    let first = place(&app, "ann", json!([{"sku": "B", "quantity": 3}])).await.ok().clone();
    let transfer = first["transfers"][0]["id"].as_str().unwrap().to_string();
    let receive = format!("/v1/transfers/{transfer}/receive");
    // What cannot have arrived is refused, and changes nothing.
    let too_many = app.post(&receive, Some(&staff), &json!({"lines": [{"sku": "B", "quantity": 4}]})).await;
    too_many.assert_problem(422, "validation");
    assert_eq!(too_many.error_fields(), vec!["lines[0].quantity"]);
    let stranger = app.post(&receive, Some(&staff), &json!({"lines": [{"sku": "A", "quantity": 1}]})).await;
    assert_eq!(stranger.status, 422);
    assert_eq!(units(&app.level("WH", "B").await), (10, 3));

    let got = app.post(&receive, Some(&staff), &json!({"lines": [{"sku": "B", "quantity": 1}]})).await.ok().clone();
    assert_eq!(got["status"], "partial");
    // Three left the warehouse; one reached the shelf, with the whole reservation.
    assert_eq!(units(&app.level("WH", "B").await), (7, 0));
    assert_eq!(units(&app.level("S1", "B").await), (1, 3));
    let id = first["id"].as_str().unwrap();
    let now = order(&app, id).await;
    assert_eq!(now["status"], "confirmed");
    assert_eq!(now["at_risk"]["lines"], json!([{"sku": "B", "short": 2}]), "{now}");
    act(&app, &format!("/v1/orders/{id}/picking"), &staff).await.ok();
    act(&app, &format!("/v1/orders/{id}/ready"), &staff).await.assert_problem(409, "at-risk");

    // Nothing of the next one arrives.
    let second = place(&app, "bob", json!([{"sku": "B", "quantity": 2}])).await.ok().clone();
    let transfer = second["transfers"][0]["id"].as_str().unwrap().to_string();
    let lost = app.post(&format!("/v1/transfers/{transfer}/receive"), Some(&staff), &json!({"lines": []})).await;
    assert_eq!(lost.ok()["status"], "lost");
    let now = order(&app, second["id"].as_str().unwrap()).await;
    assert_eq!(now["at_risk"]["lines"], json!([{"sku": "B", "short": 2}]), "{now}");
    for (location, sku) in [("S1", "B"), ("WH", "B")] {
        app.assert_ledger_balances(location, sku).await;
    }
    no_drift(&app);
}

async fn cancelling_while_waiting_gives_the_source_its_units_back(app: TestApp) {
    setup(&app).await;
    put_lanes(&app, "S1", json!([{"from": "WH", "working_days": 1}])).await.ok();
    let placed =
        place(&app, "ann", json!([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 4}])).await.ok().clone();
    let id = placed["id"].as_str().unwrap();
    assert_eq!(units(&app.level("WH", "B").await), (10, 4));
    let cancelled = act(&app, &format!("/v1/orders/{id}/cancel"), &app.customer("ann")).await;
    assert_eq!(cancelled.ok()["status"], "cancelled");
    assert_eq!(cancelled.ok()["transfers"][0]["status"], "cancelled");
    assert_eq!(units(&app.level("WH", "B").await), (10, 0));
    assert_eq!(units(&app.level("S1", "A").await), (5, 0));
    assert_eq!(units(&app.level("S1", "B").await), (0, 0));
    let transfer = placed["transfers"][0]["id"].as_str().unwrap();
    let late = app.post(&format!("/v1/transfers/{transfer}/receive"), Some(&app.staff("S1")), &json!({})).await;
    late.assert_problem(409, "conflict");
    for (location, sku) in [("S1", "A"), ("WH", "B")] {
        app.assert_ledger_balances(location, sku).await;
    }
    no_drift(&app);
}

async fn transfers_and_holds_racing_for_the_source_never_oversell_it(app: TestApp) {
    setup(&app).await;
    // S2 has 5 of B: five shoppers hold it there while five order it at S1, all at once.
    put_lanes(&app, "S1", json!([{"from": "S2", "working_days": 1}])).await.ok();
    let app = &app;
    let orders = (0..5).map(|i| async move {
        let customer = format!("orderer{i}");
        app.post("/v1/orders", Some(&app.customer(&customer)), &pickup_order("S1", &customer, "B", 1)).await
    });
    let holds = (0..5).map(|i| async move {
        let body = json!({"location": "S2", "lines": [{"sku": "B", "quantity": 1}]});
        app.post("/v1/reservations", Some(&app.customer(&format!("holder{i}"))), &body).await
    });
    let (orders, holds) = futures_util::future::join(join_all(orders), join_all(holds)).await;
    let won = orders.iter().chain(&holds).filter(|r| r.status == 201).count();
    for reply in orders.iter().chain(&holds).filter(|r| r.status != 201) {
        reply.assert_problem(409, "insufficient-stock");
    }
    assert_eq!(
        won,
        5,
        "exactly the five units: {:?}",
        orders.iter().chain(&holds).map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(units(&app.level("S2", "B").await), (5, 5));
    no_drift(app);

    // Six clerks receive one transfer at once: it is received once.
    let Some(placed) = orders.iter().find(|r| r.status == 201) else { return };
    let transfer = placed.ok()["transfers"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/transfers/{transfer}/receive");
    let staff = app.staff("S1");
    let empty = json!({});
    let receipts = join_all((0..6).map(|_| app.post(&path, Some(&staff), &empty))).await;
    let statuses: Vec<u16> = receipts.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 5, "{statuses:?}");
    assert_eq!(units(&app.level("S1", "B").await), (1, 1));
    assert_eq!(units(&app.level("S2", "B").await), (4, 4));
    for (location, sku) in [("S1", "B"), ("S2", "B")] {
        app.assert_ledger_balances(location, sku).await;
    }
    no_drift(app);
}

async fn lanes_are_checked_and_set_by_admins_only(app: TestApp) {
    setup(&app).await;
    let body = json!({"lanes": [{"from": "WH", "working_days": 2}]});
    for token in [app.staff("S1"), app.customer("ann"), app.integration(&["stock:write"])] {
        app.put("/v1/locations/S1/lanes", Some(&token), &body).await.assert_problem(403, "forbidden");
    }
    app.put("/v1/locations/S1/lanes", None, &body).await.assert_problem(401, "unauthorized");
    let unknown = put_lanes(&app, "S1", json!([{"from": "NOPE", "working_days": 2}])).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.error_fields(), vec!["lanes[0].from"]);
    let itself = put_lanes(&app, "S1", json!([{"from": "S1", "working_days": 2}])).await;
    itself.assert_problem(422, "validation");
    let bad =
        put_lanes(&app, "S1", json!([{"from": "WH", "working_days": 0}, {"from": "WH", "working_days": 31}])).await;
    bad.assert_problem(422, "validation");
    assert_eq!(bad.error_fields(), vec!["lanes[0].working_days", "lanes[1].from", "lanes[1].working_days"]);
    put_lanes(&app, "WH", json!([{"from": "S1", "working_days": 2}])).await.assert_problem(409, "conflict");
    let extra = app.put("/v1/locations/S1/lanes", Some(&app.admin()), &json!({"lanes": [], "x": 1})).await;
    assert_eq!(extra.status, 422);
    // None of that left a lane.
    let lanes = app.get("/v1/locations/S1/lanes", Some(&app.staff("S1"))).await;
    assert_eq!(lanes.ok()["lanes"], json!([]));
    put_lanes(&app, "S1", json!([{"from": "WH", "working_days": 2}])).await.ok();
    assert_eq!(app.get("/v1/locations/S1/lanes", Some(&app.staff("S1"))).await.ok()["lanes"][0]["from"], "WH");
    app.get("/v1/locations/S1/lanes", Some(&app.staff("S2"))).await.assert_problem(403, "forbidden");
    // An empty list turns ship-to-store off again.
    assert_eq!(put_lanes(&app, "S1", json!([])).await.ok()["lanes"], json!([]));
    place(&app, "ann", json!([{"sku": "B", "quantity": 1}])).await.assert_problem(409, "insufficient-stock");
    // A transfer nobody made.
    app.post("/v1/transfers/nope/receive", Some(&app.admin()), &json!({})).await.assert_problem(404, "not-found");
}

on_both_backends!(
    a_store_short_of_a_line_takes_it_from_its_lane_and_receives_it,
    a_partial_or_lost_transfer_leaves_the_order_at_risk,
    cancelling_while_waiting_gives_the_source_its_units_back,
    transfers_and_holds_racing_for_the_source_never_oversell_it,
    lanes_are_checked_and_set_by_admins_only,
);
