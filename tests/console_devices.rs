//! The console's API without a browser: pairing links and their one use, devices and their
//! revocation (on this replica at once, on another within its refresh), who may do what,
//! the handover look-up, cancelling with a reason, and `clickcollect console-link`.

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    app.put_location("S1", json!({"name": "Warsaw Centre"})).await;
    app.put_location("S2", json!({"name": "Kraków Market"})).await;
    app.put_location("W1", json!({"kind": "warehouse", "pickup": {"in_store": false, "curbside": false}})).await;
    app.put_product("A").await;
    app.count("S1", "A", 10).await;
}

async fn new_link(app: &TestApp, store: &str) -> Value {
    let reply =
        app.request(Method::POST, &format!("/v1/stores/{store}/console-links")).bearer(&app.admin()).send().await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    reply.body
}

fn code_of(link: &Value) -> String {
    link["url"].as_str().unwrap().split_once("#pair=").expect("the code after #pair=").1.to_string()
}

async fn pair(app: &TestApp, code: &str) -> common::Reply {
    app.post("/v1/console/pairings", None, &json!({"code": code})).await
}

async fn a_link_pairs_one_device_once(app: TestApp) {
    setup(&app).await;
    let link = new_link(&app, "S1").await;
    assert!(link["url"].as_str().unwrap().contains("/console#pair="), "the code travels after '#': {link}");
    assert_eq!(link["store"], "S1");
    let paired = pair(&app, &code_of(&link)).await;
    assert_eq!(paired.status, 201, "{}", paired.text);
    assert_eq!(paired.header("cache-control"), Some("no-store"));
    assert_eq!(paired.body["store"], "S1");
    assert_eq!(paired.body["store_name"], "Warsaw Centre");
    assert_eq!(paired.body["device_id"], link["device_id"]);
    let token = paired.body["token"].as_str().unwrap().to_string();
    // Twice: refused, and the first device keeps its token.
    pair(&app, &code_of(&link)).await.assert_problem(404, "not-found");
    pair(&app, "not-a-code").await.assert_problem(404, "not-found");
    assert_eq!(app.get("/v1/stores/S1/orders", Some(&token)).await.status, 200);
    app.get("/v1/stores/S2/orders", Some(&token)).await.assert_problem(403, "forbidden");
    app.post("/v1/stores/S2/console-links", Some(&token), &json!({})).await.assert_problem(403, "forbidden");

    let devices = app.get("/v1/stores/S1/console-devices", Some(&app.staff("S1"))).await.ok().clone();
    assert_eq!(devices["items"].as_array().unwrap().len(), 1);
    assert_eq!(devices["items"][0]["status"], "active");
    assert_eq!(devices["items"][0]["created_by"], "admin:root");
    app.get("/v1/stores/S1/console-devices", Some(&app.staff("S2"))).await.assert_problem(403, "forbidden");
    app.get("/v1/stores/S1/console-devices", Some(&app.customer("ann"))).await.assert_problem(403, "forbidden");
    app.get("/v1/stores/S1/console-devices", None).await.assert_problem(401, "unauthorized");
    app.get("/v1/stores/NOPE/console-devices", Some(&app.admin())).await.assert_problem(404, "not-found");
}

async fn devices_racing_for_one_link_pair_one(app: TestApp) {
    setup(&app).await;
    let code = code_of(&new_link(&app, "S1").await);
    let body = json!({"code": code});
    let attempts = (0..8).map(|_| app.post("/v1/console/pairings", None, &body));
    let replies = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 404), "{statuses:?}");
}

async fn links_are_checked_and_refused_to_others(app: TestApp) {
    setup(&app).await;
    let admin = app.admin();
    let labelled = app.post("/v1/stores/S1/console-links", Some(&admin), &json!({"label": "Till 2"})).await;
    assert_eq!(labelled.status, 201, "{}", labelled.text);
    let null_body = app
        .request(Method::POST, "/v1/stores/S1/console-links")
        .bearer(&admin)
        .raw("application/json", "null")
        .send()
        .await;
    assert_eq!(null_body.status, 201, "a null body is a body left out: {}", null_body.text);
    let unknown = app.post("/v1/stores/S1/console-links", Some(&admin), &json!({"label": "x", "colour": "red"})).await;
    assert_eq!(unknown.error_fields(), vec!["colour"]);
    let long = app.post("/v1/stores/S1/console-links", Some(&admin), &json!({"label": "x".repeat(101)})).await;
    assert_eq!(long.error_fields(), vec!["label"]);
    app.post("/v1/stores/W1/console-links", Some(&admin), &json!({})).await.assert_problem(409, "conflict");
    app.post("/v1/stores/NOPE/console-links", Some(&admin), &json!({})).await.assert_problem(404, "not-found");
    app.post("/v1/stores/S1/console-links", Some(&app.staff("S1")), &json!({})).await.assert_problem(403, "forbidden");
    app.post("/v1/stores/S1/console-links", Some(&app.integration(&["stock:write"])), &json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/stores/S1/console-links", None, &json!({})).await.assert_problem(401, "unauthorized");
    // Only the two good requests made devices.
    let devices = app.get("/v1/stores/S1/console-devices", Some(&admin)).await.ok().clone();
    let labels: Vec<Value> = devices["items"].as_array().unwrap().iter().map(|d| d["label"].clone()).collect();
    assert_eq!(labels, vec![Value::Null, json!("Till 2")], "newest first");
    assert!(devices["items"].as_array().unwrap().iter().all(|d| d["status"] == "pending"));
    let bad = app.post("/v1/console/pairings", None, &json!({"code": ""})).await;
    assert_eq!(bad.error_fields(), vec!["code"]);
    let extra = app.post("/v1/console/pairings", None, &json!({"code": "abc", "store": "S1"})).await;
    assert_eq!(extra.error_fields(), vec!["store"]);
}

async fn an_expired_link_pairs_nothing(app: TestApp) {
    setup(&app).await;
    let link = new_link(&app, "S1").await;
    {
        use clickcollect::db::schema::console_devices;
        use diesel::prelude::*;
        let mut conn = app.conn();
        let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::seconds(1);
        diesel::update(console_devices::table.find(link["device_id"].as_str().unwrap()))
            .set(console_devices::pairing_expires_at.eq(past))
            .execute(&mut *conn)
            .unwrap();
    }
    pair(&app, &code_of(&link)).await.assert_problem(404, "not-found");
    let devices = app.get("/v1/stores/S1/console-devices", Some(&app.admin())).await.ok().clone();
    assert_eq!(devices["items"][0]["status"], "expired");
}

async fn revoking_signs_a_device_out_and_only_admins_or_itself_may(app: TestApp) {
    setup(&app).await;
    let first = pair(&app, &code_of(&new_link(&app, "S1").await)).await.ok().clone();
    let second = pair(&app, &code_of(&new_link(&app, "S1").await)).await.ok().clone();
    let pending = new_link(&app, "S1").await;
    let (first_token, second_token) = (first["token"].as_str().unwrap(), second["token"].as_str().unwrap());
    let path = |device: &Value| format!("/v1/stores/S1/console-devices/{}", device["device_id"].as_str().unwrap());

    // Another device, other staff and customers may not; an unknown device is 404.
    delete(&app, path(&second), Some(first_token.into())).await.assert_problem(403, "forbidden");
    delete(&app, path(&second), Some(app.staff("S1"))).await.assert_problem(403, "forbidden");
    delete(&app, path(&second), Some(app.customer("ann"))).await.assert_problem(403, "forbidden");
    delete(&app, path(&second), None).await.assert_problem(401, "unauthorized");
    delete(&app, "/v1/stores/S1/console-devices/nope".into(), Some(app.admin())).await.assert_problem(404, "not-found");
    delete(&app, path(&second).replace("/S1/", "/S2/"), Some(app.admin())).await.assert_problem(404, "not-found");
    assert_eq!(app.get("/v1/stores/S1/orders", Some(second_token)).await.status, 200, "still signed in");

    // A device signs itself out; an admin signs out another, and a pending link.
    assert_eq!(delete(&app, path(&first), Some(first_token.into())).await.status, 204);
    app.get("/v1/stores/S1/orders", Some(first_token)).await.assert_problem(401, "unauthorized");
    assert_eq!(delete(&app, path(&second), Some(app.admin())).await.status, 204);
    assert_eq!(delete(&app, path(&second), Some(app.admin())).await.status, 204, "twice is harmless");
    let refused = app.get("/v1/stores/S1/orders", Some(second_token)).await;
    refused.assert_problem(401, "unauthorized");
    assert!(refused.body["detail"].as_str().unwrap().contains("signed out"), "{}", refused.text);
    // A pending link that is revoked pairs nothing.
    assert_eq!(
        delete(
            &app,
            format!("/v1/stores/S1/console-devices/{}", pending["device_id"].as_str().unwrap()),
            Some(app.admin())
        )
        .await
        .status,
        204
    );
    pair(&app, &code_of(&pending)).await.assert_problem(404, "not-found");
    let devices = app.get("/v1/stores/S1/console-devices", Some(&app.admin())).await.ok().clone();
    assert!(devices["items"].as_array().unwrap().iter().all(|d| d["status"] == "revoked"), "{devices}");
    assert!(devices["items"][0]["revoked_at"].is_string());
}

async fn another_replica_refuses_a_revoked_device_within_its_refresh(app: TestApp) {
    setup(&app).await;
    let paired = pair(&app, &code_of(&new_link(&app, "S1").await)).await.ok().clone();
    let token = paired["token"].as_str().unwrap().to_string();
    let replica = app.serve_process(&[("CONSOLE_REVOCATION_REFRESH_SECONDS", "1")]);
    let agent = common::http_agent();
    let list = format!("{}/v1/stores/S1/orders", replica.base);
    let status = |agent: &ureq::Agent| {
        agent.get(&list).header("Authorization", &format!("Bearer {token}")).call().unwrap().status().as_u16()
    };
    assert_eq!(status(&agent), 200);
    let path = format!("/v1/stores/S1/console-devices/{}", paired["device_id"].as_str().unwrap());
    assert_eq!(app.request(Method::DELETE, &path).bearer(&app.admin()).send().await.status, 204);
    let started = std::time::Instant::now();
    while status(&agent) != 401 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the other replica still takes the token");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

async fn a_ticket_of_a_revoked_device_opens_no_stream(app: TestApp) {
    setup(&app).await;
    let paired = pair(&app, &code_of(&new_link(&app, "S1").await)).await.ok().clone();
    let token = paired["token"].as_str().unwrap();
    let ticket = app.post("/v1/stream-tickets", Some(token), &json!({})).await;
    let ticket = ticket.body["ticket"].as_str().unwrap().to_string();
    let path = format!("/v1/stores/S1/console-devices/{}", paired["device_id"].as_str().unwrap());
    assert_eq!(app.request(Method::DELETE, &path).bearer(token).send().await.status, 204);
    app.get(&format!("/v1/stores/S1/events?ticket={ticket}"), None).await.assert_problem(401, "unauthorized");
}

async fn delete(app: &TestApp, path: String, token: Option<String>) -> common::Reply {
    let request = app.request(Method::DELETE, &path);
    match token {
        Some(token) => request.bearer(&token).send().await,
        None => request.send().await,
    }
}

async fn ready_order(app: &TestApp, customer: &str) -> (String, String) {
    let body = json!({"location": "S1", "fulfilment": "pickup", "customer_id": customer, "lines": [{"sku": "A", "quantity": 2}]});
    let id =
        app.post("/v1/orders", Some(&app.customer(customer)), &body).await.ok()["id"].as_str().unwrap().to_string();
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&app.staff("S1")).send().await.ok();
    }
    let code = app.get(&format!("/v1/orders/{id}"), Some(&app.customer(customer))).await.ok()["pickup_code"]
        .as_str()
        .unwrap()
        .to_string();
    (id, code)
}

async fn a_look_up_changes_nothing_and_counts_wrong_codes(app: TestApp) {
    setup(&app).await;
    let (id, code) = ready_order(&app, "ann").await;
    let staff = app.staff("S1");
    let found = app.post("/v1/stores/S1/pickups/lookup", Some(&staff), &json!({"code": code.to_lowercase()})).await;
    assert_eq!(found.ok()["id"], id.as_str());
    assert_eq!(found.body["status"], "ready_for_pickup");
    assert!(found.body.get("pickup_code").is_none(), "staff never see the code");
    assert_eq!(app.level("S1", "A").await["on_hand"], 10, "nothing moved");
    app.post("/v1/stores/S1/pickups/lookup", Some(&app.staff("S2")), &json!({"code": code}))
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/stores/S2/pickups/lookup", Some(&app.staff("S2")), &json!({"code": code}))
        .await
        .assert_problem(404, "pickup-at-other-store");
    let bad = app.post("/v1/stores/S1/pickups/lookup", Some(&staff), &json!({"code": code, "x": 1})).await;
    assert_eq!(bad.error_fields(), vec!["x"]);
    // Wrong look-ups fill the same window as wrong scans: then even the right code waits.
    let mut throttled = false;
    for attempt in 0..12 {
        let reply =
            app.post("/v1/stores/S1/pickups/lookup", Some(&staff), &json!({"code": format!("WRONG{attempt}")})).await;
        if reply.status == 429 {
            reply.assert_problem(429, "rate-limited");
            throttled = true;
            break;
        }
        reply.assert_problem(404, "not-found");
    }
    assert!(throttled, "wrong look-ups are throttled");
    let scan =
        app.request(Method::POST, "/v1/stores/S1/pickups").bearer(&staff).json(&json!({"code": code})).send().await;
    scan.assert_problem(429, "rate-limited");
    assert_eq!(app.get(&format!("/v1/orders/{id}"), Some(&staff)).await.ok()["status"], "ready_for_pickup");
}

async fn place(app: &TestApp, customer: &str) -> String {
    let body = json!({"location": "S1", "fulfilment": "pickup", "customer_id": customer, "lines": [{"sku": "A", "quantity": 1}]});
    app.post("/v1/orders", Some(&app.customer(customer)), &body).await.ok()["id"].as_str().unwrap().to_string()
}

async fn a_cancel_keeps_its_reason_and_the_body_may_be_left_out(app: TestApp) {
    setup(&app).await;
    let staff = app.staff("S1");
    let (with_reason, without, with_null) =
        (place(&app, "ann").await, place(&app, "bob").await, place(&app, "cy").await);
    let bad =
        app.post(&format!("/v1/orders/{with_reason}/cancel"), Some(&staff), &json!({"reason": "x", "why": 1})).await;
    assert_eq!(bad.error_fields(), vec!["why"]);
    let long =
        app.post(&format!("/v1/orders/{with_reason}/cancel"), Some(&staff), &json!({"reason": "x".repeat(201)})).await;
    assert_eq!(long.error_fields(), vec!["reason"]);
    assert_eq!(app.get(&format!("/v1/orders/{with_reason}"), Some(&staff)).await.ok()["status"], "confirmed");

    let cancelled = app
        .post(&format!("/v1/orders/{with_reason}/cancel"), Some(&staff), &json!({"reason": "damaged on the shelf"}))
        .await;
    let event = cancelled.ok()["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(event["kind"], "cancelled");
    assert_eq!(event["detail"], json!({"reason": "damaged on the shelf"}));
    let bare = app.request(Method::POST, &format!("/v1/orders/{without}/cancel")).bearer(&staff).send().await;
    assert!(bare.ok()["events"].as_array().unwrap().last().unwrap()["detail"].is_null());
    let null = app
        .request(Method::POST, &format!("/v1/orders/{with_null}/cancel"))
        .bearer(&staff)
        .raw("application/json", "null")
        .send()
        .await;
    assert_eq!(null.ok()["status"], "cancelled");
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
}

on_both_backends!(
    a_link_pairs_one_device_once,
    devices_racing_for_one_link_pair_one,
    links_are_checked_and_refused_to_others,
    an_expired_link_pairs_nothing,
    revoking_signs_a_device_out_and_only_admins_or_itself_may,
    another_replica_refuses_a_revoked_device_within_its_refresh,
    a_ticket_of_a_revoked_device_opens_no_stream,
    a_look_up_changes_nothing_and_counts_wrong_codes,
    a_cancel_keeps_its_reason_and_the_body_may_be_left_out,
);

/// `clickcollect console-link` on the app's database: a link that pairs like the API's.
async fn the_command_line_prints_a_link_that_pairs(app: TestApp) {
    setup(&app).await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_clickcollect"))
            .args(args)
            .env_clear()
            .current_dir(std::env::temp_dir())
            .env("DATABASE_URL", app.database_url())
            .env("JWT_SECRET", common::JWT_SECRET)
            .env("PUBLIC_BASE_URL", "https://shop.example")
            .output()
            .expect("clickcollect runs")
    };
    let missing = run(&["console-link", "--store", "S9"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no store S9"));
    let usage = run(&["console-link"]);
    assert_eq!(usage.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--store CODE is required"));
    let made = run(&["console-link", "--store", "S1", "--label", "Back office"]);
    assert_eq!(made.status.code(), Some(0), "{}", String::from_utf8_lossy(&made.stderr));
    let url = String::from_utf8_lossy(&made.stdout).trim().to_string();
    assert!(url.starts_with("https://shop.example/console#pair="), "{url}");
    let code = url.split_once("#pair=").unwrap().1;
    let paired = pair(&app, code).await;
    assert_eq!(paired.ok()["store"], "S1");
    let devices = app.get("/v1/stores/S1/console-devices", Some(&app.admin())).await.ok().clone();
    assert_eq!(devices["items"][0]["label"], "Back office");
    assert_eq!(devices["items"][0]["created_by"], "admin:cli");
}

on_both_backends!(
    cli with &[];
    the_command_line_prints_a_link_that_pairs,
);
