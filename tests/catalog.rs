//! Locations and products through HTTP.

mod common;

use common::TestApp;
use serde_json::{json, Value};

async fn locations_are_created_replaced_and_read(app: TestApp) {
    let body = json!({
        "name": "Warsaw Centre", "kind": "store", "timezone": "Europe/Warsaw",
        "address": "Marszałkowska 1, Warszawa", "latitude": 52.2297, "longitude": 21.0122,
        "pickup": {"in_store": true, "curbside": false}, "pickup_hold_days": 5,
        "fulfils_online": true, "active": true, "locale": "pl-PL",
        "opening_hours": {"mon": [["09:00", "21:00"]], "sun": []}
    });
    let admin = app.admin();
    let created = app.put("/v1/locations/WAW-1", Some(&admin), &body).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["opening_hours"], body["opening_hours"]);
    assert_eq!(created.body["pickup"], json!({"in_store": true, "curbside": false}));
    let mut changed = body.clone();
    changed["name"] = json!("Warsaw Centre (renovated)");
    let replaced = app.put("/v1/locations/WAW-1", Some(&admin), &changed).await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.body["created_at"], created.body["created_at"]);
    let read = app.get("/v1/locations/WAW-1", None).await;
    assert_eq!(read.body["name"], "Warsaw Centre (renovated)");
    assert_eq!(read.body["locale"], "pl-PL");
    app.get("/v1/locations/NOPE", None).await.assert_problem(404, "not-found");
}

async fn locations_list_nearest_first_and_paginate(app: TestApp) {
    // Warsaw, Kraków, Gdańsk; and an inactive store that is never listed.
    app.put_location("WAW", json!({"latitude": 52.2297, "longitude": 21.0122})).await;
    app.put_location("KRK", json!({"latitude": 50.0647, "longitude": 19.9450})).await;
    app.put_location("GDN", json!({"latitude": 54.3520, "longitude": 18.6466})).await;
    app.put_location("OLD", json!({"active": false})).await;
    let near_krakow = app.get("/v1/locations?near=50.05,19.94", None).await.ok().clone();
    let codes: Vec<&str> =
        near_krakow["items"].as_array().unwrap().iter().map(|l| l["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["KRK", "WAW", "GDN"]);
    let first = near_krakow["items"][0]["distance_km"].as_f64().unwrap();
    assert!(first < 2.0, "{first}");
    let page = app.get("/v1/locations?near=50.05,19.94&limit=2", None).await.ok().clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let rest = app.get(&format!("/v1/locations?near=50.05,19.94&limit=2&cursor={cursor}"), None).await.ok().clone();
    assert_eq!(rest["items"][0]["code"], "GDN");
    assert_eq!(rest["next_cursor"], Value::Null);
    let by_code = app.get("/v1/locations?limit=2", None).await.ok().clone();
    assert_eq!(by_code["items"][0]["code"], "GDN");
    assert!(by_code["items"][0].get("distance_km").is_none());
    app.get("/v1/locations?near=500,1", None).await.assert_problem(422, "validation");
    app.get("/v1/locations?limit=9999", None).await.assert_problem(422, "validation");
}

async fn location_input_is_validated(app: TestApp) {
    let admin = app.admin();
    let base = json!({
        "name": "S", "kind": "store", "timezone": "Europe/Warsaw",
        "pickup": {"in_store": true, "curbside": true}, "pickup_hold_days": 3,
        "fulfils_online": true, "active": true
    });
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("timezone", json!("Mars/Olympus"), vec!["timezone"]),
        ("kind", json!("kiosk"), vec!["kind"]),
        ("latitude", json!(95.0), vec!["longitude"]),
        ("pickup_hold_days", json!(-1), vec!["pickup_hold_days"]),
        ("locale", json!("polish"), vec!["locale"]),
        ("name", json!(""), vec!["name"]),
        ("opening_hours", json!({"mon": [["21:00", "09:00"]]}), vec!["opening_hours.mon[0]"]),
        ("colour", json!("red"), vec!["colour"]),
    ];
    for (field, value, expected) in cases {
        let mut body = base.clone();
        body[field] = value;
        let reply = app.put("/v1/locations/S1", Some(&admin), &body).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), expected, "setting {field}");
    }
    let mut both = base.clone();
    both["latitude"] = json!(95.0);
    both["longitude"] = json!(10.0);
    assert_eq!(app.put("/v1/locations/S1", Some(&admin), &both).await.error_fields(), vec!["latitude"]);
    let mut warehouse = base.clone();
    warehouse["kind"] = json!("warehouse");
    assert_eq!(app.put("/v1/locations/S1", Some(&admin), &warehouse).await.error_fields(), vec!["pickup"]);
    app.put("/v1/locations/bad%20code", Some(&admin), &base).await.assert_problem(422, "validation");
    app.get("/v1/locations/S1", None).await.assert_problem(404, "not-found");
}

async fn catalog_denials(app: TestApp) {
    let location = json!({
        "name": "S", "kind": "store", "timezone": "Europe/Warsaw",
        "pickup": {"in_store": true, "curbside": true}, "pickup_hold_days": 3,
        "fulfils_online": true, "active": true
    });
    let product = json!({"name": "Mug", "price": {"amount_minor": 1299, "currency": "EUR"}});
    for (token, status) in [
        (None, 401),
        (Some(app.staff("S1")), 403),
        (Some(app.customer("c1")), 403),
        (Some(app.integration(&["catalog:write"])), 403),
    ] {
        let reply = app.put("/v1/locations/S1", token.as_deref(), &location).await;
        assert_eq!(reply.status, status, "{}", reply.text);
    }
    for (token, status) in [
        (None, 401),
        (Some(app.staff("S1")), 403),
        (Some(app.customer("c1")), 403),
        (Some(app.integration(&["stock:write"])), 403),
    ] {
        let reply = app.put("/v1/products/MUG", token.as_deref(), &product).await;
        assert_eq!(reply.status, status, "{}", reply.text);
    }
    app.get("/v1/locations/S1", None).await.assert_problem(404, "not-found");
    app.get("/v1/products/MUG", None).await.assert_problem(404, "not-found");
    let reply = app.put("/v1/products/MUG", Some(&app.integration(&["catalog:write"])), &product).await;
    assert_eq!(reply.status, 201);
}

async fn products_carry_one_price(app: TestApp) {
    let admin = app.admin();
    let body = json!({"name": "Mug", "price": {"amount_minor": 1299, "currency": "EUR"}});
    assert_eq!(app.put("/v1/products/MUG-1", Some(&admin), &body).await.status, 201);
    let read = app.get("/v1/products/MUG-1", None).await.ok().clone();
    assert_eq!(read["price"], json!({"amount_minor": 1299, "currency": "EUR"}));
    for (body, field) in [
        (json!({"name": "Mug", "price": {"amount_minor": -1, "currency": "EUR"}}), "price.amount_minor"),
        (json!({"name": "Mug", "price": {"amount_minor": 1, "currency": "euro"}}), "price.currency"),
        (json!({"name": "Mug", "price": {"amount_minor": 1, "currency": "EUR", "tax": 1}}), "price.tax"),
        (json!({"name": "Mug"}), "body"),
    ] {
        let reply = app.put("/v1/products/MUG-1", Some(&admin), &body).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec![field.to_string()], "{body}");
    }
    assert_eq!(app.get("/v1/products/MUG-1", None).await.body["price"]["amount_minor"], 1299);
    for sku in ["A", "B", "C"] {
        app.put_product(sku).await;
    }
    let page = app.get("/v1/products?limit=2", None).await.ok().clone();
    assert_eq!(page["items"][0]["sku"], "A");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/products?cursor={cursor}"), None).await.ok().clone();
    let skus: Vec<&str> = rest["items"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, vec!["C", "MUG-1"]);
}

/// `check` and `snapshot` are words of other paths where a SKU could stand: a product by that
/// SKU could never be read or counted, so it is refused up front. Other cases are SKUs.
async fn skus_that_are_words_of_the_api_are_refused(app: TestApp) {
    let admin = app.admin();
    let body = json!({"name": "Mug", "price": {"amount_minor": 1299, "currency": "EUR"}});
    for sku in ["check", "snapshot"] {
        let reply = app.put(&format!("/v1/products/{sku}"), Some(&admin), &body).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec!["sku".to_string()]);
        app.get(&format!("/v1/products/{sku}"), None).await.assert_problem(404, "not-found");
    }
    assert_eq!(app.put("/v1/products/Check", Some(&admin), &body).await.status, 201);
    app.put_location("S1", json!({})).await;
    app.count("S1", "Check", 3).await;
    assert_eq!(app.get("/v1/availability/Check", None).await.ok()["sku"], "Check");
}

on_both_backends!(
    locations_are_created_replaced_and_read,
    locations_list_nearest_first_and_paginate,
    location_input_is_validated,
    catalog_denials,
    products_carry_one_price,
    skus_that_are_words_of_the_api_are_refused,
);
