//! Edges a client meets: a burst of wrong pickup codes, cursors and query parameters the
//! server did not make, numbers written as floats, plain-sentence refusals, the order number,
//! and methods a path does not have.

mod common;

use actix_web::http::Method;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use common::TestApp;
use futures_util::future::join_all;
use serde_json::json;

/// 300 wrong codes at once against a limit of 10: each scan is counted before it is tried,
/// so exactly 10 are tried (404) and the rest wait (429 `rate-limited` with the policy in
/// the RateLimit headers). On PostgreSQL the count lives in Redis.
async fn a_burst_of_wrong_codes_gets_exactly_the_limit(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 1).await;
    let staff = app.staff("S1");
    let scans = (0..300).map(|i| {
        let (app, staff) = (&app, staff.clone());
        async move {
            let reply = app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": format!("WRONG{i:05}")})).await;
            (reply.status, reply.header("ratelimit-policy").map(String::from), reply.header("retry-after").is_some())
        }
    });
    let results = join_all(scans).await;
    let tried = results.iter().filter(|(s, _, _)| *s == 404).count();
    let throttled: Vec<_> = results.iter().filter(|(s, _, _)| *s == 429).collect();
    assert_eq!(tried, 10, "{results:?}");
    assert_eq!(throttled.len(), 290);
    assert!(throttled
        .iter()
        .all(|(_, policy, retry)| policy.as_deref() == Some("\"pickup-codes\";q=10;w=300") && *retry));
    let reply = app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": "WRONG"})).await;
    reply.assert_problem(429, "rate-limited");
    assert!(reply.body["retry_after"].as_u64().unwrap() > 0);
    assert!(reply.header("ratelimit").unwrap().starts_with("\"pickup-codes\";r=0;t="));
}

/// Cursors are the server's own: a made-up one, a negative position or another list's
/// position is refused with 422, on every list.
async fn cursors_the_server_did_not_make_are_refused(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 3).await;
    let admin = app.admin();
    let forged = |position: &str| B64.encode(position);
    for path in [
        format!("/v1/stock/S1/A/movements?cursor={}", forged("-5")),
        format!("/v1/stock/S1/A/movements?cursor={}", forged("0")),
        format!("/v1/stock/S1/A/movements?cursor={}", forged("SKU-1")),
        format!("/v1/stores/S1/orders?cursor={}", forged("-1")),
        format!("/v1/stores/S1/orders?cursor={}", forged("x")),
        format!("/v1/orders?cursor={}", forged("-10")),
        format!("/v1/locations?near=52.2,21.0&cursor={}", forged("-1")),
        format!("/v1/locations?cursor={}", forged("not a code")),
        format!("/v1/products?cursor={}", forged("a/b")),
        "/v1/products?cursor=***".to_string(),
        "/v1/products?cursor=".to_string(),
    ] {
        let reply = app.get(&path, Some(&admin)).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), vec!["cursor"], "{path}");
    }
    let first = app.get("/v1/stock/S1/A/movements?limit=1", Some(&admin)).await.ok().clone();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    assert!(first["next_cursor"].is_null(), "one movement: one page");
}

/// A misspelt filter must not look like a filter that matched everything: unknown query
/// parameters are refused, each named, on every operation.
async fn unknown_query_parameters_are_named(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 3).await;
    let staff = app.staff("S1");
    let reply = app.get("/v1/stores/S1/orders?numbr=X1&status=confirmed", Some(&staff)).await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.error_fields(), vec!["numbr"]);
    assert!(reply.body["errors"][0]["message"].as_str().unwrap().contains("number"), "{}", reply.text);
    let reply = app.get("/v1/locations/S1?x=1&y=2", None).await;
    assert_eq!(reply.error_fields(), vec!["x", "y"]);
    let reply = app
        .post(
            "/v1/availability/check?dry_run=1",
            None,
            &json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]}),
        )
        .await;
    assert_eq!(reply.error_fields(), vec!["dry_run"]);
    assert_eq!(app.get("/v1/stores/S1/orders?status=confirmed&limit=5", Some(&staff)).await.status, 200);
}

/// Concrete paths win over templates, as OpenAPI reads them: `/v1/availability/check` is the
/// cart check, and its 405 lists only what the document gives it.
async fn a_concrete_path_answers_for_itself(app: TestApp) {
    let reply = app.get("/v1/availability/check", None).await;
    reply.assert_problem(405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = app
        .request(Method::PUT, "/v1/stock/S1/snapshot")
        .bearer(&app.admin())
        .json(&json!({"on_hand": 1}))
        .send()
        .await;
    reply.assert_problem(405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
    assert_eq!(reply.body["allowed"], json!(["POST"]));
    let reply = app.request(Method::DELETE, "/v1/orders/x").bearer(&app.admin()).send().await;
    assert_eq!(reply.header("allow"), Some("GET"));
}

/// JSON has one kind of number: `2.0` is the integer 2, as JSON Schema says. `2.5` is not.
async fn whole_number_floats_are_integers(app: TestApp) {
    app.put_location("S1", json!({})).await;
    app.put_product("A").await;
    let admin = app.admin();
    let counted = app.put("/v1/stock/S1/A", Some(&admin), &json!({"on_hand": 7.0, "safety_stock": 1.0})).await;
    assert_eq!((counted.ok()["on_hand"].as_i64(), counted.body["safety_stock"].as_i64()), (Some(7), Some(1)));
    let reply = app.put("/v1/stock/S1/A", Some(&admin), &json!({"on_hand": 7.5})).await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.error_fields(), vec!["on_hand"]);
}

/// Refusals are plain sentences that name the step; every view carries the short number
/// messages show, and staff find an order by it.
async fn refusals_read_plainly_and_numbers_find_orders(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 5).await;
    let ann = app.customer("ann");
    let body = common::pickup_order("S1", "ann", "A", 1);
    let order = app.post("/v1/orders", Some(&ann), &body).await.ok().clone();
    let (id, number) = (order["id"].as_str().unwrap().to_string(), order["number"].as_str().unwrap().to_string());
    assert_eq!(number.len(), 8);
    assert!(number.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()), "{number}");
    let admin = app.admin();
    let ready = app.request(Method::POST, &format!("/v1/orders/{id}/ready")).bearer(&admin).send().await;
    ready.assert_problem(409, "conflict");
    assert_eq!(ready.body["detail"], format!("order {number} is confirmed, so it cannot be marked ready"));
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&admin).send().await.ok();
    }
    let again = app.request(Method::POST, &format!("/v1/orders/{id}/ready")).bearer(&admin).send().await;
    assert_eq!(again.body["detail"], format!("order {number} is ready for pickup, so it cannot be marked ready"));
    let ship = app
        .post(&format!("/v1/orders/{id}/ship"), Some(&admin), &json!({"carrier": "DHL", "tracking_number": "1"}))
        .await;
    assert_eq!(
        ship.body["detail"],
        format!("order {number} is ready for pickup, so it cannot be shipped; it is a pickup order: mark it ready for the customer instead")
    );

    let staff = app.staff("S1");
    let found = app.get(&format!("/v1/stores/S1/orders?number={}", number.to_lowercase()), Some(&staff)).await;
    assert_eq!(found.ok()["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (found.body["items"][0]["id"].as_str(), found.body["items"][0]["number"].as_str()),
        (Some(id.as_str()), Some(number.as_str()))
    );
    let pass = app.get(&format!("/v1/orders/{id}/pickup-pass"), Some(&ann)).await.ok().clone();
    assert_eq!(pass["number"], number.as_str());
    let bad = app.get("/v1/stores/S1/orders?number=not-a-number", Some(&staff)).await;
    assert_eq!(bad.error_fields(), vec!["number"]);
    assert!(app.get("/v1/stores/S1/orders?number=FFFFFFFF", Some(&staff)).await.ok()["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

on_both_backends!(
    a_burst_of_wrong_codes_gets_exactly_the_limit,
    cursors_the_server_did_not_make_are_refused,
    unknown_query_parameters_are_named,
    a_concrete_path_answers_for_itself,
    whole_number_floats_are_integers,
    refusals_read_plainly_and_numbers_find_orders,
);
