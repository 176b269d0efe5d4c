//! Availability and sales channels: every number derived from the levels.

mod common;

use common::TestApp;
use serde_json::json;

async fn setup(app: &TestApp) {
    app.put_location("WAW", json!({"latitude": 52.2297, "longitude": 21.0122})).await;
    app.put_location(
        "KRK",
        json!({"latitude": 50.0647, "longitude": 19.9450, "pickup": {"in_store": true, "curbside": false}}),
    )
    .await;
    app.put_location("LOCAL", json!({"latitude": 52.40, "longitude": 16.92, "fulfils_online": false})).await;
    app.put_location("DC", json!({"kind": "warehouse", "pickup": {"in_store": false, "curbside": false}})).await;
    app.put_location("SHUT", json!({"active": false})).await;
    app.put_product("MUG").await;
    app.put_product("RARE").await;
    for (location, on_hand) in [("WAW", 10), ("KRK", 4), ("LOCAL", 7), ("DC", 100), ("SHUT", 50)] {
        app.count(location, "MUG", on_hand).await;
    }
    // Safety stock keeps 2 of Warsaw's 10 off sale.
    app.put("/v1/stock/WAW/MUG", Some(&app.admin()), &json!({"on_hand": 10, "safety_stock": 2})).await.ok();
}

async fn availability_is_derived_per_store_and_online(app: TestApp) {
    setup(&app).await;
    let reply = app.get("/v1/availability/MUG?near=50.06,19.94", None).await.ok().clone();
    assert_eq!(reply["online"]["available"], 8 + 4 + 100, "stores and warehouses that fulfil online");
    let stores: Vec<(&str, i64)> = reply["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["location"].as_str().unwrap(), l["available"].as_i64().unwrap()))
        .collect();
    assert_eq!(stores, vec![("KRK", 4), ("WAW", 8), ("LOCAL", 7)], "nearest first, stores only, active only");
    assert_eq!(reply["locations"][0]["pickup"], json!({"in_store": true, "curbside": false}));
    assert!(reply["locations"][0]["distance_km"].as_f64().unwrap() < 1.0);
    let limited = app.get("/v1/availability/MUG?near=50.06,19.94&limit=1", None).await.ok().clone();
    assert_eq!(limited["locations"].as_array().unwrap().len(), 1);
    let by_code = app.get("/v1/availability/MUG", None).await.ok().clone();
    assert_eq!(by_code["locations"][0]["location"], "KRK");
    assert!(by_code["locations"][0].get("distance_km").is_none());

    // The same number on every read path: the level's own `available`.
    assert_eq!(app.level("WAW", "MUG").await["available"], 8);
    let none = app.get("/v1/availability/RARE", None).await.ok().clone();
    assert_eq!(none, json!({"sku": "RARE", "online": {"available": 0}, "locations": []}));
    app.get("/v1/availability/NOPE", None).await.assert_problem(404, "not-found");
    app.get("/v1/availability/MUG?limit=0", None).await.assert_problem(422, "validation");
    app.get("/v1/availability/MUG?near=x", None).await.assert_problem(422, "validation");
}

async fn a_cart_check_answers_per_line(app: TestApp) {
    setup(&app).await;
    let body = json!({"location": "WAW", "lines": [{"sku": "MUG", "quantity": 8}, {"sku": "RARE", "quantity": 1}]});
    let reply = app.post("/v1/availability/check", None, &body).await.ok().clone();
    assert_eq!(
        reply,
        json!({"location": "WAW", "ok": false, "lines": [
            {"sku": "MUG", "quantity": 8, "available": 8, "ok": true},
            {"sku": "RARE", "quantity": 1, "available": 0, "ok": false}
        ]})
    );
    let body = json!({"location": "WAW", "lines": [{"sku": "MUG", "quantity": 9}]});
    assert_eq!(app.post("/v1/availability/check", None, &body).await.ok()["ok"], false);
    let body = json!({"location": "NOPE", "lines": [{"sku": "MUG", "quantity": 1}]});
    app.post("/v1/availability/check", None, &body).await.assert_problem(404, "not-found");
    let body = json!({"location": "SHUT", "lines": [{"sku": "MUG", "quantity": 1}]});
    app.post("/v1/availability/check", None, &body).await.assert_problem(404, "not-found");
    for (body, field) in [
        (json!({"location": "WAW", "lines": []}), "lines"),
        (json!({"location": "WAW", "lines": [{"sku": "MUG", "quantity": 0}]}), "lines[0].quantity"),
        (
            json!({"location": "WAW", "lines": [{"sku": "MUG", "quantity": 1}, {"sku": "MUG", "quantity": 1}]}),
            "lines[1].sku",
        ),
        (json!({"location": "W W", "lines": [{"sku": "MUG", "quantity": 1}]}), "location"),
    ] {
        let reply = app.post("/v1/availability/check", None, &body).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec![field.to_string()]);
    }
}

async fn channels_sum_their_locations_less_a_buffer(app: TestApp) {
    setup(&app).await;
    let admin = app.admin();
    let created = app
        .put(
            "/v1/channels/marketplace",
            Some(&admin),
            &json!({"name": "Marketplace", "buffer": 3, "locations": ["KRK", "LOCAL"]}),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["locations"], json!(["KRK", "LOCAL"]));
    let token = app.integration(&["stock:read"]);
    let reply = app.get("/v1/channels/marketplace/availability/MUG", Some(&token)).await.ok().clone();
    assert_eq!(reply, json!({"channel": "marketplace", "sku": "MUG", "available": 4 + 7 - 3}));

    // No list: every active location that fulfils online.
    app.put("/v1/channels/web", Some(&admin), &json!({"name": "Web shop", "buffer": 0, "locations": []})).await.ok();
    let web = app.get("/v1/channels/web/availability/MUG", Some(&token)).await.ok().clone();
    let online = app.get("/v1/availability/MUG", None).await.ok()["online"]["available"].clone();
    assert_eq!(web["available"], online, "the web channel and online availability agree");

    // A buffer larger than the stock floors at zero.
    app.put(
        "/v1/channels/marketplace",
        Some(&admin),
        &json!({"name": "Marketplace", "buffer": 500, "locations": ["KRK"]}),
    )
    .await
    .ok();
    assert_eq!(app.get("/v1/channels/marketplace/availability/MUG", Some(&token)).await.ok()["available"], 0);
    assert_eq!(app.get("/v1/channels/marketplace", Some(&token)).await.ok()["locations"], json!(["KRK"]));

    let reply = app
        .put("/v1/channels/bad", Some(&admin), &json!({"name": "B", "buffer": 0, "locations": ["KRK", "NOPE"]}))
        .await;
    reply.assert_problem(404, "not-found");
    assert_eq!(reply.error_fields(), vec!["locations[1]"], "the unknown location is named");
    app.get("/v1/channels/bad", Some(&admin)).await.assert_problem(404, "not-found");
    let reply = app.put("/v1/channels/bad", Some(&admin), &json!({"name": "B", "buffer": -1, "locations": []})).await;
    assert_eq!(reply.error_fields(), vec!["buffer"]);
    app.get("/v1/channels/nope/availability/MUG", Some(&token)).await.assert_problem(404, "not-found");
    app.get("/v1/channels/web/availability/NOPE", Some(&token)).await.assert_problem(404, "not-found");
}

async fn channel_denials(app: TestApp) {
    setup(&app).await;
    let body = json!({"name": "Web", "buffer": 0, "locations": []});
    for (token, status) in [
        (None, 401),
        (Some(app.staff("WAW")), 403),
        (Some(app.integration(&["stock:write"])), 403),
        (Some(app.customer("c")), 403),
    ] {
        assert_eq!(app.put("/v1/channels/web", token.as_deref(), &body).await.status, status);
    }
    app.get("/v1/channels/web", Some(&app.admin())).await.assert_problem(404, "not-found");
    app.put("/v1/channels/web", Some(&app.admin()), &body).await.ok();
    app.get("/v1/channels/web", None).await.assert_problem(401, "unauthorized");
    app.get("/v1/channels/web", Some(&app.customer("c"))).await.assert_problem(403, "forbidden");
    app.get("/v1/channels/web/availability/MUG", None).await.assert_problem(401, "unauthorized");
    assert_eq!(app.get("/v1/channels/web/availability/MUG", Some(&app.customer("c"))).await.status, 200);
}

on_both_backends!(
    availability_is_derived_per_store_and_online,
    a_cart_check_answers_per_line,
    channels_sum_their_locations_less_a_buffer,
    channel_denials,
);
