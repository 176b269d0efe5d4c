//! Orders and the pickup counter through HTTP: from a hold or direct, the status machine,
//! pickup codes, delivery, cancellation, the store's list, and every denial.

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    let hours = json!({"mon": [["09:00", "21:00"]], "tue": [["09:00", "21:00"]], "wed": [["09:00", "21:00"]],
        "thu": [["09:00", "21:00"]], "fri": [["09:00", "21:00"]], "sat": [["10:00", "16:00"]], "sun": []});
    app.put_location("S1", json!({"pickup_hold_days": 2, "opening_hours": hours})).await;
    app.put_location("S2", json!({})).await;
    app.put_product("A").await;
    app.put_product("B").await;
    app.count("S1", "A", 10).await;
    app.count("S1", "B", 4).await;
    let web = json!({"name": "Web shop", "buffer": 0, "locations": []});
    app.put("/v1/channels/web", Some(&app.admin()), &web).await.ok();
}

async fn post(app: &TestApp, path: &str, token: &str) -> common::Reply {
    app.request(Method::POST, path).bearer(token).send().await
}

fn kinds(order: &Value) -> Vec<String> {
    order["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

async fn the_pickup_flow_from_hold_to_handover(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let staff = app.staff("S1");
    let hold = app
        .post("/v1/reservations", Some(&ann), &json!({"location": "S1", "lines": [{"sku": "A", "quantity": 3}]}))
        .await;
    let hold_id = hold.ok()["id"].as_str().unwrap().to_string();
    let order = app
        .post(
            "/v1/orders",
            Some(&ann),
            &json!({"reservation_id": hold_id, "location": "S1", "fulfilment": "pickup", "customer_id": "ann"}),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.text);
    let id = order.body["id"].as_str().unwrap().to_string();
    assert_eq!(order.body["status"], "confirmed");
    assert_eq!(order.body["lines"], json!([{"sku": "A", "name": "Product A", "quantity": 3}]));
    assert_eq!(app.get(&format!("/v1/reservations/{hold_id}"), Some(&ann)).await.body["status"], "converted");
    assert_eq!(app.level("S1", "A").await["reserved"], 3, "the hold's units became the order's, not twice");

    assert_eq!(post(&app, &format!("/v1/orders/{id}/picking"), &staff).await.ok()["status"], "picking");
    let ready = post(&app, &format!("/v1/orders/{id}/ready"), &staff).await.ok().clone();
    assert_eq!(ready["status"], "ready_for_pickup");
    assert!(ready["pickup_deadline"].is_string());
    assert!(ready.get("pickup_code").is_none(), "staff never see the code");
    let mine = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.ok().clone();
    let code = mine["pickup_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 10);
    assert_eq!(
        app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.body["pickup_code"],
        code.as_str(),
        "the same code every time"
    );

    app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": "0000000000"}))
        .await
        .assert_problem(404, "not-found");
    // The right code at the wrong store: the customer is sent to the store that has it.
    let elsewhere = app.post("/v1/stores/S2/pickups", Some(&app.staff("S2")), &json!({"code": code})).await;
    elsewhere.assert_problem(404, "pickup-at-other-store");
    assert_eq!(elsewhere.body["store"], json!({"code": "S1", "name": "Store S1"}));
    app.post("/v1/stores/S1/pickups", Some(&app.staff("S2")), &json!({"code": code}))
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/stores/S1/pickups", Some(&ann), &json!({"code": code})).await.assert_problem(403, "forbidden");
    let collected = app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": code.to_lowercase()})).await;
    assert_eq!(collected.ok()["status"], "collected");
    assert_eq!(kinds(&collected.body), vec!["confirmed", "picking", "ready_for_pickup", "collected"]);
    assert_eq!(collected.body["events"][3]["actor"], "staff:clerk-S1");
    let level = app.level("S1", "A").await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(7), Some(0)));
    app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": code})).await.assert_problem(409, "conflict");
    post(&app, &format!("/v1/orders/{id}/cancel"), &staff).await.assert_problem(409, "conflict");
    app.assert_ledger_balances("S1", "A").await;
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());
}

async fn a_direct_delivery_order_ships_and_is_delivered(app: TestApp) {
    setup(&app).await;
    let erp = app.integration(&["orders:write"]);
    let body = json!({"location": "S1", "fulfilment": "delivery", "customer_id": "bob",
        "lines": [{"sku": "B", "quantity": 2}, {"sku": "A", "quantity": 1}], "channel": "web", "external_ref": "W-100"});
    let order = app.post("/v1/orders", Some(&erp), &body).await;
    assert_eq!(order.status, 201, "{}", order.text);
    let id = order.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.level("S1", "B").await["reserved"], 2);
    let again = app.post("/v1/orders", Some(&erp), &body).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (200, Some("true")), "{}", again.text);
    assert_eq!(again.body["id"], id.as_str(), "a repeated import answers the original order");
    assert_eq!(app.level("S1", "B").await["reserved"], 2, "the repeated import held nothing");

    let admin = app.admin();
    post(&app, &format!("/v1/orders/{id}/ready"), &admin).await.assert_problem(409, "conflict");
    post(&app, &format!("/v1/orders/{id}/picking"), &admin).await.ok();
    post(&app, &format!("/v1/orders/{id}/ready"), &admin).await.assert_problem(409, "conflict");
    let bad =
        app.post(&format!("/v1/orders/{id}/ship"), Some(&admin), &json!({"carrier": "", "tracking_number": "1"})).await;
    assert_eq!(bad.error_fields(), vec!["carrier"]);
    let shipped = app
        .post(&format!("/v1/orders/{id}/ship"), Some(&admin), &json!({"carrier": "DHL", "tracking_number": "JD0001"}))
        .await;
    assert_eq!(shipped.ok()["status"], "shipped");
    assert_eq!(shipped.body["shipment"], json!({"carrier": "DHL", "tracking_number": "JD0001"}));
    let level = app.level("S1", "B").await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(2), Some(0)));
    post(&app, &format!("/v1/orders/{id}/cancel"), &admin).await.assert_problem(409, "conflict");
    assert_eq!(post(&app, &format!("/v1/orders/{id}/deliver"), &admin).await.ok()["status"], "delivered");
    assert_eq!(
        app.get(&format!("/v1/orders/{id}"), Some(&app.integration(&["orders:read"]))).await.body["status"],
        "delivered"
    );
    for sku in ["A", "B"] {
        app.assert_ledger_balances("S1", sku).await;
    }
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());
}

async fn cancelling_returns_the_stock(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let body = json!({"location": "S1", "fulfilment": "curbside", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 4}]});
    let first = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(post(&app, &format!("/v1/orders/{first}/cancel"), &ann).await.ok()["status"], "cancelled");
    assert_eq!(app.level("S1", "A").await["reserved"], 0);

    let second = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    let staff = app.staff("S1");
    post(&app, &format!("/v1/orders/{second}/picking"), &staff).await.ok();
    post(&app, &format!("/v1/orders/{second}/ready"), &staff).await.ok();
    post(&app, &format!("/v1/orders/{second}/cancel"), &ann).await.assert_problem(403, "forbidden");
    assert_eq!(post(&app, &format!("/v1/orders/{second}/cancel"), &staff).await.ok()["status"], "cancelled");
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
    let movements = app.movements("S1", "A").await;
    assert_eq!(movements[0]["reason"], "cancelled");
    app.assert_ledger_balances("S1", "A").await;
}

async fn order_denials_and_bad_requests(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let body = common::pickup_order("S1", "ann", "A", 1);
    app.post("/v1/orders", None, &body).await.assert_problem(401, "unauthorized");
    app.post("/v1/orders", Some(&app.staff("S1")), &body).await.assert_problem(403, "forbidden");
    app.post("/v1/orders", Some(&app.integration(&["orders:read"])), &body).await.assert_problem(403, "forbidden");
    app.post("/v1/orders", Some(&app.customer("mallory")), &body).await.assert_problem(403, "forbidden");
    let short = common::pickup_order("S1", "ann", "B", 5);
    let reply = app.post("/v1/orders", Some(&ann), &short).await;
    reply.assert_problem(409, "insufficient-stock");
    assert_eq!(reply.body["shortfalls"][0]["available"], 4);
    for (body, field) in [
        (
            json!({"location": "S1", "fulfilment": "drone", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}]}),
            "fulfilment",
        ),
        (json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann"}), "lines"),
        (
            json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "lines": [{"sku": "A", "quantity": 1}], "external_ref": "X"}),
            "channel",
        ),
    ] {
        let reply = app.post("/v1/orders", Some(&ann), &body).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec![field.to_string()], "{body}");
    }
    // What the body names but does not exist is a 404 naming the field.
    for (body, field) in [
        (
            json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann", "reservation_id": "nope"}),
            "reservation_id",
        ),
        (common::pickup_order("S1", "ann", "GHOST", 1), "lines[0].sku"),
    ] {
        let reply = app.post("/v1/orders", Some(&ann), &body).await;
        reply.assert_problem(404, "not-found");
        assert_eq!(reply.error_fields(), vec![field.to_string()], "{body}");
    }
    // A warehouse offers no pickup: a conflict with what the location is, not a bad request.
    app.put_location("WH", json!({"kind": "warehouse", "pickup": {"in_store": false, "curbside": false}})).await;
    let reply = app.post("/v1/orders", Some(&ann), &common::pickup_order("WH", "ann", "A", 1)).await;
    reply.assert_problem(409, "conflict");
    assert!(reply.body["detail"].as_str().unwrap().contains("does not offer pickup"), "{}", reply.text);
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
    assert_eq!(app.level("S1", "B").await["reserved"], 0);

    let id = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/orders/{id}");
    app.get(&path, None).await.assert_problem(401, "unauthorized");
    app.get(&path, Some(&app.customer("mallory"))).await.assert_problem(404, "not-found");
    app.get(&path, Some(&app.staff("S2"))).await.assert_problem(404, "not-found");
    app.get(&path, Some(&app.integration(&["stock:read"]))).await.assert_problem(403, "forbidden");
    assert_eq!(app.get(&path, Some(&app.staff("S1"))).await.status, 200);
    post(&app, &format!("{path}/picking"), &app.staff("S2")).await.assert_problem(404, "not-found");
    post(&app, &format!("{path}/picking"), &ann).await.assert_problem(403, "forbidden");
    post(&app, &format!("{path}/picking"), &app.customer("mallory")).await.assert_problem(404, "not-found");
    post(&app, "/v1/orders/nope/picking", &app.admin()).await.assert_problem(404, "not-found");
    assert_eq!(app.get(&path, Some(&ann)).await.body["status"], "confirmed");

    app.get("/v1/stores/S1/orders", Some(&app.staff("S2"))).await.assert_problem(403, "forbidden");
    app.get("/v1/stores/S1/orders", Some(&ann)).await.assert_problem(403, "forbidden");
    app.get("/v1/stores/S1/orders", None).await.assert_problem(401, "unauthorized");
    app.get("/v1/stores/S1/orders?status=lost", Some(&app.staff("S1"))).await.assert_problem(422, "validation");
}

async fn order_creation_is_idempotent(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let body = common::pickup_order("S1", "ann", "A", 2);
    let send = || {
        app.request(Method::POST, "/v1/orders").bearer(&ann).header("Idempotency-Key", "checkout-9").json(&body).send()
    };
    let (first, again) = (send().await, send().await);
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.level("S1", "A").await["reserved"], 2, "one order, held once");
}

async fn orders_from_holds_are_checked(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let hold = app
        .post("/v1/reservations", Some(&ann), &json!({"location": "S1", "lines": [{"sku": "A", "quantity": 2}]}))
        .await;
    let hold_id = hold.ok()["id"].as_str().unwrap().to_string();
    let from_hold = |customer: &str, location: &str| json!({"reservation_id": hold_id, "location": location, "fulfilment": "pickup", "customer_id": customer});
    let reply = app.post("/v1/orders", Some(&app.customer("bob")), &from_hold("bob", "S1")).await;
    reply.assert_problem(404, "not-found");
    assert_eq!(reply.error_fields(), vec!["reservation_id"], "someone else's hold is not found");
    let reply = app.post("/v1/orders", Some(&ann), &from_hold("ann", "S2")).await;
    reply.assert_problem(409, "conflict");
    assert!(reply.body["detail"].as_str().unwrap().contains("the hold is at S1"), "{}", reply.text);
    assert_eq!(app.post("/v1/orders", Some(&ann), &from_hold("ann", "S1")).await.status, 201);
    app.post("/v1/orders", Some(&ann), &from_hold("ann", "S1")).await.assert_problem(409, "conflict");
    let released = app.request(Method::DELETE, &format!("/v1/reservations/{hold_id}")).bearer(&ann).send().await;
    released.assert_problem(409, "conflict");
    assert_eq!(app.level("S1", "A").await["reserved"], 2);
    assert!(
        clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty(),
        "the order holds what the hold held"
    );
}

async fn wrong_codes_are_throttled(app: TestApp) {
    setup(&app).await;
    let staff = app.staff("S1");
    for _ in 0..10 {
        app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": "WRONGCODE1"}))
            .await
            .assert_problem(404, "not-found");
    }
    let reply = app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": "WRONGCODE1"})).await;
    reply.assert_problem(429, "rate-limited");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(
        app.post("/v1/stores/S2/pickups", Some(&app.staff("S2")), &json!({"code": "X"})).await.status,
        404,
        "other stores are not throttled"
    );
}

async fn the_store_list_shows_open_orders_oldest_first(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let mut ids = Vec::new();
    for sku in ["A", "B", "A"] {
        let body = common::pickup_order("S1", "ann", sku, 1);
        ids.push(app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string());
    }
    let staff = app.staff("S1");
    post(&app, &format!("/v1/orders/{}/cancel", ids[1]), &staff).await.ok();
    post(&app, &format!("/v1/orders/{}/picking", ids[2]), &staff).await.ok();
    let list = app.get("/v1/stores/S1/orders", Some(&staff)).await.ok().clone();
    let listed: Vec<&str> = list["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(listed, vec![ids[0].as_str(), ids[2].as_str()]);
    assert_eq!(list["items"][0]["lines"], json!([{"sku": "A", "name": "Product A", "quantity": 1}]));
    let picking = app.get("/v1/stores/S1/orders?status=picking", Some(&staff)).await.ok().clone();
    assert_eq!(picking["items"].as_array().unwrap().len(), 1);
    let page = app.get("/v1/stores/S1/orders?limit=1", Some(&staff)).await.ok().clone();
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/stores/S1/orders?limit=1&cursor={cursor}"), Some(&staff)).await.ok().clone();
    assert_eq!(rest["items"][0]["id"], ids[2].as_str());
    assert!(rest["next_cursor"].is_null());
}

async fn uncollected_orders_expire_after_the_deadline_and_grace(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let body = common::pickup_order("S1", "ann", "A", 2);
    let id = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    let staff = app.staff("S1");
    post(&app, &format!("/v1/orders/{id}/picking"), &staff).await.ok();
    post(&app, &format!("/v1/orders/{id}/ready"), &staff).await.ok();
    let grace = chrono::TimeDelta::hours(1);
    let settings = clickcollect::orders::OrderSettings::for_jobs(b"k", clickcollect::notify::outbox::enqueue);
    let expire = || {
        clickcollect::db::write_tx(&mut app.conn(), |c| {
            clickcollect::orders::expire_one_uncollected(c, grace, &settings)
        })
        .unwrap()
    };
    assert!(!expire(), "not before the deadline");
    {
        use clickcollect::db::schema::orders;
        use diesel::prelude::*;
        let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(30);
        diesel::update(orders::table.find(&id))
            .set(orders::pickup_deadline.eq(past))
            .execute(&mut *app.conn())
            .unwrap();
        assert!(!expire(), "not within the grace period");
        let long_ago = chrono::Utc::now().naive_utc() - chrono::TimeDelta::hours(2);
        diesel::update(orders::table.find(&id))
            .set(orders::pickup_deadline.eq(long_ago))
            .execute(&mut *app.conn())
            .unwrap();
    }
    assert!(expire());
    assert!(!expire());
    let order = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.ok().clone();
    assert_eq!(order["status"], "expired");
    assert!(order.get("pickup_code").is_none());
    assert_eq!(order["events"][3]["actor"], "system:pickup-expiry");
    let level = app.level("S1", "A").await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(10), Some(0)));
    app.assert_ledger_balances("S1", "A").await;
}

async fn curbside_arrivals_go_to_the_top_of_the_list(app: TestApp) {
    setup(&app).await;
    let staff = app.staff("S1");
    let mut ids = Vec::new();
    for (customer, fulfilment) in [("ann", "pickup"), ("bob", "curbside"), ("cy", "curbside")] {
        let body = json!({"location": "S1", "fulfilment": fulfilment, "customer_id": customer, "lines": [{"sku": "A", "quantity": 1}]});
        ids.push(
            app.post("/v1/orders", Some(&app.customer(customer)), &body).await.ok()["id"].as_str().unwrap().to_string(),
        );
    }
    let arrival = json!({"bay": "3", "vehicle": "blue hatchback WA 12345"});
    let reply = app.post(&format!("/v1/orders/{}/arrival", ids[2]), Some(&app.customer("cy")), &arrival).await;
    assert_eq!(reply.ok()["arrival"]["bay"], "3");
    assert_eq!(kinds(&reply.body), vec!["confirmed", "arrived"]);
    let list = app.get("/v1/stores/S1/orders", Some(&staff)).await.ok().clone();
    let order: Vec<&str> = list["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(order, vec![ids[2].as_str(), ids[0].as_str(), ids[1].as_str()], "the waiting customer first");
    assert_eq!(list["items"][0]["arrival"]["vehicle"], "blue hatchback WA 12345");
    assert!(list["items"][0]["waiting_seconds"].as_i64().unwrap() >= 0);
    assert!(list["items"][1]["waiting_seconds"].is_null());

    // Denials and bad requests change nothing.
    app.post(&format!("/v1/orders/{}/arrival", ids[1]), Some(&app.customer("cy")), &arrival)
        .await
        .assert_problem(404, "not-found");
    app.post(&format!("/v1/orders/{}/arrival", ids[1]), Some(&staff), &arrival).await.assert_problem(403, "forbidden");
    app.post(&format!("/v1/orders/{}/arrival", ids[0]), Some(&app.customer("ann")), &arrival)
        .await
        .assert_problem(409, "conflict");
    let reply =
        app.post(&format!("/v1/orders/{}/arrival", ids[1]), Some(&app.customer("bob")), &json!({"bay": ""})).await;
    assert_eq!(reply.error_fields(), vec!["bay"]);
    let list = app.get("/v1/stores/S1/orders", Some(&staff)).await.ok().clone();
    assert!(list["items"][2]["arrival"].is_null());
}

async fn a_short_pick_corrects_stock_and_shrinks_the_order(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let staff = app.staff("S1");
    let body = json!({"location": "S1", "fulfilment": "pickup", "customer_id": "ann",
        "lines": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 1}]});
    let id = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/orders/{id}/short-pick");
    app.post(&path, Some(&staff), &json!({"sku": "A", "missing": 1})).await.assert_problem(409, "conflict");
    post(&app, &format!("/v1/orders/{id}/picking"), &staff).await.ok();
    app.post(&path, Some(&ann), &json!({"sku": "A", "missing": 1})).await.assert_problem(403, "forbidden");
    app.post(&path, Some(&app.staff("S2")), &json!({"sku": "A", "missing": 1})).await.assert_problem(404, "not-found");
    app.post(&path, Some(&staff), &json!({"sku": "A", "missing": 4})).await.assert_problem(409, "conflict");
    let no_line = app.post(&path, Some(&staff), &json!({"sku": "C", "missing": 1})).await;
    no_line.assert_problem(404, "not-found");
    assert_eq!(no_line.error_fields(), vec!["sku"]);

    let shrunk = app.post(&path, Some(&staff), &json!({"sku": "A", "missing": 2})).await.ok().clone();
    assert_eq!(shrunk["status"], "picking");
    assert_eq!(shrunk["lines"][0]["quantity"], 1);
    assert_eq!(shrunk["events"][2]["detail"], json!({"sku": "A", "missing": 2}));
    let level = app.level("S1", "A").await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(8), Some(1)), "the two were never there");
    assert_eq!(app.movements("S1", "A").await[0]["reason"], "short_pick");

    app.post(&path, Some(&staff), &json!({"sku": "A", "missing": 1})).await.ok();
    let emptied = app.post(&path, Some(&staff), &json!({"sku": "B", "missing": 1})).await.ok().clone();
    assert_eq!(emptied["status"], "cancelled", "nothing left to pick");
    assert_eq!(kinds(&emptied), vec!["confirmed", "picking", "short_pick", "short_pick", "short_pick", "cancelled"]);
    let (a, b) = (app.level("S1", "A").await, app.level("S1", "B").await);
    assert_eq!(
        (a["on_hand"].as_i64(), a["reserved"].as_i64(), b["on_hand"].as_i64(), b["reserved"].as_i64()),
        (Some(7), Some(0), Some(3), Some(0))
    );
    for sku in ["A", "B"] {
        app.assert_ledger_balances("S1", sku).await;
    }
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());
}

async fn the_pickup_pass_carries_the_code_as_a_qr_image(app: TestApp) {
    setup(&app).await;
    let ann = app.customer("ann");
    let staff = app.staff("S1");
    let body = common::pickup_order("S1", "ann", "A", 1);
    let id = app.post("/v1/orders", Some(&ann), &body).await.ok()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/orders/{id}/pickup-pass");
    app.get(&path, Some(&ann)).await.assert_problem(409, "conflict");
    post(&app, &format!("/v1/orders/{id}/picking"), &staff).await.ok();
    post(&app, &format!("/v1/orders/{id}/ready"), &staff).await.ok();
    let pass = app.get(&path, Some(&ann)).await.ok().clone();
    let code = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await.body["pickup_code"].clone();
    assert_eq!(pass["code"], code);
    assert!(pass["qr_svg"].as_str().unwrap().starts_with("<?xml"));
    let svg = app.request(Method::GET, &path).bearer(&ann).header("Accept", "image/svg+xml").send().await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.text.contains("<svg") && svg.text.contains("<path"));
    app.get(&path, Some(&staff)).await.assert_problem(404, "not-found");
    app.get(&path, Some(&app.customer("mallory"))).await.assert_problem(404, "not-found");
    app.get(&path, None).await.assert_problem(401, "unauthorized");
}

/// 80 shoppers order at once from 40 units; then, all at once, half the orders are cancelled
/// and the rest go through picking, ready and collection. Never more units promised than
/// exist, and at every end the ledger and the open orders explain every counter.
async fn racing_orders_and_handovers_keep_the_books(app: TestApp) {
    app.put_location("S1", json!({})).await;
    app.put_product("HOT").await;
    app.count("S1", "HOT", 40).await;
    let placed = futures_util::future::join_all((0..80).map(|i| {
        let app = &app;
        async move {
            let customer = format!("fan-{i}");
            let body = common::pickup_order("S1", &customer, "HOT", 1);
            let reply = app.post("/v1/orders", Some(&app.customer(&customer)), &body).await;
            assert!(reply.status == 201 || reply.status == 409, "{}: {}", reply.status, reply.text);
            (reply.status == 201).then(|| reply.body["id"].as_str().unwrap().to_string())
        }
    }))
    .await;
    let ids: Vec<String> = placed.into_iter().flatten().collect();
    assert_eq!(ids.len(), 40, "exactly the units that exist were sold");
    assert_eq!(app.level("S1", "HOT").await["available"], 0);
    let admin = app.admin();
    futures_util::future::join_all(ids.iter().enumerate().map(|(i, id)| {
        let (app, admin) = (&app, admin.clone());
        async move {
            if i % 2 == 0 {
                assert_eq!(post(app, &format!("/v1/orders/{id}/cancel"), &admin).await.status, 200);
            } else {
                for step in ["picking", "ready"] {
                    assert_eq!(post(app, &format!("/v1/orders/{id}/{step}"), &admin).await.status, 200);
                }
            }
        }
    }))
    .await;
    // Collect the ready ones at the counter, concurrently, with their customers' codes.
    let codes: Vec<String> =
        futures_util::future::join_all(ids.iter().enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, id)| {
            let app = &app;
            async move {
                let order = app.get(&format!("/v1/orders/{id}"), Some(&owner_token(app, id).await)).await;
                order.body["pickup_code"].as_str().unwrap().to_string()
            }
        }))
        .await;
    let staff = app.staff("S1");
    futures_util::future::join_all(codes.iter().map(|code| {
        let (app, staff) = (&app, staff.clone());
        async move {
            let reply = app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": code})).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
    }))
    .await;
    let level = app.level("S1", "HOT").await;
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64(), level["available"].as_i64()),
        (Some(20), Some(0), Some(20))
    );
    app.assert_ledger_balances("S1", "HOT").await;
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());
}

/// The token of the customer an order belongs to (only they see its pickup code).
async fn owner_token(app: &TestApp, id: &str) -> String {
    let order = app.get(&format!("/v1/orders/{id}"), Some(&app.admin())).await;
    app.customer(order.body["customer_id"].as_str().unwrap())
}

on_both_backends!(
    order_creation_is_idempotent,
    racing_orders_and_handovers_keep_the_books,
    curbside_arrivals_go_to_the_top_of_the_list,
    a_short_pick_corrects_stock_and_shrinks_the_order,
    the_pickup_pass_carries_the_code_as_a_qr_image,
    uncollected_orders_expire_after_the_deadline_and_grace,
    the_pickup_flow_from_hold_to_handover,
    a_direct_delivery_order_ships_and_is_delivered,
    cancelling_returns_the_stock,
    order_denials_and_bad_requests,
    orders_from_holds_are_checked,
    wrong_codes_are_throttled,
    the_store_list_shows_open_orders_oldest_first,
);
