//! Inventory sync through HTTP: a channel's feed (coalesced per SKU, continuing from its
//! cursor, long-polled), its export with the feed cursor taken at the start, a cursor past
//! retention answering 410, imported orders taking the channel's default location with their
//! statuses in the feed, and who may read any of it.

mod common;

use std::time::{Duration, Instant};

use actix_web::http::Method;
use common::{Reply, TestApp};
use serde_json::{json, Value};

/// Two stores sell on channel `web` (buffer 1); S3 sells elsewhere.
async fn setup(app: &TestApp) {
    app.stocked_store("S1", json!({}), "A", 5).await;
    app.stocked_store("S2", json!({}), "A", 3).await;
    app.stocked_store("S3", json!({}), "A", 7).await;
    app.put_product("B").await;
    app.count("S1", "B", 2).await;
    let channel = json!({"name": "Web", "buffer": 1, "locations": ["S1", "S2"], "default_location": "S1"});
    app.put("/v1/channels/web", Some(&app.admin()), &channel).await.ok();
}

async fn feed(app: &TestApp, query: &str) -> Reply {
    app.get(&format!("/v1/channels/web/changes?{query}"), Some(&app.integration(&["stock:read"]))).await
}

/// Waits until every change committed so far is readable: on PostgreSQL a change is
/// readable once every older transaction of the server (other tests' too) has ended.
async fn settle(app: &TestApp) {
    use clickcollect::db::schema::changes;
    use diesel::prelude::*;
    let started = Instant::now();
    loop {
        let mut conn = app.conn();
        let newest: Option<i64> = changes::table.select(diesel::dsl::max(changes::txid)).first(&mut *conn).unwrap();
        let horizon = clickcollect::changes::horizon(&mut conn).unwrap();
        if newest.is_none_or(|txid| txid < horizon) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "changes still in flight after 10 s");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Follows the feed from `after` (empty: from the start) until a page brings nothing,
/// gathering every item (later pages win per SKU) and the imported orders.
async fn follow(app: &TestApp, after: &str, limit: i64) -> (Vec<(String, i64)>, Vec<Value>, String) {
    settle(app).await;
    let (mut items, mut orders): (Vec<(String, i64)>, Vec<Value>) = (Vec::new(), Vec::new());
    let mut cursor = after.to_string();
    loop {
        let query = if cursor.is_empty() { format!("limit={limit}") } else { format!("after={cursor}&limit={limit}") };
        let reply = feed(app, &query).await;
        let page = reply.ok();
        let next = page["cursor"].as_str().unwrap().to_string();
        let fresh = page["items"].as_array().unwrap();
        let changed_orders = page["orders"].as_array().unwrap();
        for item in fresh {
            let sku = item["sku"].as_str().unwrap().to_string();
            assert!(item["changed_at"].is_string(), "{item}");
            items.retain(|(s, _)| *s != sku);
            items.push((sku, item["available"].as_i64().unwrap()));
        }
        orders.extend(changed_orders.iter().cloned());
        if fresh.is_empty() && changed_orders.is_empty() {
            return (items, orders, next);
        }
        cursor = next;
    }
}

async fn the_feed_coalesces_a_channels_skus_and_continues_from_its_cursor(app: TestApp) {
    setup(&app).await;
    // Each SKU once, at what the channel may sell now: A = 5 + 3 - 1, B = 2 - 1; S3's count
    // is not the channel's.
    let (mut items, _, cursor) = follow(&app, "", 100).await;
    items.sort();
    assert_eq!(items, [("A".to_string(), 7), ("B".to_string(), 1)]);

    // Page by page, one change of the log at a time, the same answer.
    let (mut paged, _, paged_end) = follow(&app, "", 1).await;
    paged.sort();
    assert_eq!(paged, items);
    assert_eq!(paged_end, cursor);

    // Nothing new: an empty page and the same cursor.
    let empty = feed(&app, &format!("after={cursor}")).await;
    assert_eq!(empty.ok()["items"], json!([]));
    assert_eq!(empty.ok()["cursor"], cursor.as_str());

    // A hold and two recounts of A: one item, latest wins.
    let ann = app.customer("ann");
    let hold = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 2}]});
    app.post("/v1/reservations", Some(&ann), &hold).await.ok();
    app.count("S2", "A", 4).await;
    app.count("S2", "A", 6).await;
    let (after_hold, _, later) = follow(&app, &cursor, 100).await;
    assert_eq!(after_hold, [("A".to_string(), 5 - 2 + 6 - 1)]);

    // Another channel's store moving is not this channel's change.
    app.count("S3", "A", 1).await;
    settle(&app).await;
    let quiet = feed(&app, &format!("after={later}&wait=1")).await;
    assert_eq!(quiet.ok()["items"], json!([]));
    let moved_past = quiet.ok()["cursor"].as_str().unwrap().to_string();
    let again = feed(&app, &format!("after={moved_past}")).await;
    assert_eq!(again.ok()["cursor"], moved_past.as_str(), "an empty page keeps its cursor");
}

async fn a_long_poll_answers_as_soon_as_a_change_commits(app: TestApp) {
    setup(&app).await;
    let (_, _, cursor) = follow(&app, "", 100).await;
    let started = Instant::now();
    let query = format!("after={cursor}&wait=20");
    let poll = feed(&app, &query);
    let change = async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        app.count("S1", "B", 9).await;
    };
    let (reply, ()) = futures_util::future::join(poll, change).await;
    assert_eq!(
        reply.ok()["items"],
        json!([{"sku": "B", "available": 8, "changed_at": reply.ok()["items"][0]["changed_at"]}])
    );
    assert!(started.elapsed() < Duration::from_secs(10), "answered after {:?}", started.elapsed());
    // Nothing comes: the wait ends with an empty page at the same cursor.
    let end = reply.ok()["cursor"].as_str().unwrap().to_string();
    let started = Instant::now();
    let idle = feed(&app, &format!("after={end}&wait=1")).await;
    assert!(started.elapsed() >= Duration::from_millis(900), "waited {:?}", started.elapsed());
    assert_eq!(idle.ok()["cursor"], end.as_str());
}

async fn the_export_pages_every_sku_and_its_feed_cursor_misses_nothing(app: TestApp) {
    setup(&app).await;
    for sku in ["C", "D", "E"] {
        app.put_product(sku).await;
    }
    app.count("S2", "D", 4).await;
    settle(&app).await;
    let reader = app.integration(&["stock:read"]);
    let first = app.get("/v1/channels/web/availability?limit=2", Some(&reader)).await;
    let feed_cursor = first.ok()["feed_cursor"].as_str().unwrap().to_string();
    let mut exported: Vec<(String, i64)> = Vec::new();
    let mut page = first.ok().clone();
    loop {
        assert_eq!(page["feed_cursor"], feed_cursor.as_str(), "every page gives the cursor of the start");
        for item in page["items"].as_array().unwrap() {
            exported.push((item["sku"].as_str().unwrap().into(), item["available"].as_i64().unwrap()));
        }
        // A change while the export runs: A is sold out at S1 after its page was read.
        if exported.len() == 2 {
            app.count("S1", "A", 0).await;
        }
        let Some(next) = page["next_cursor"].as_str() else { break };
        page =
            app.get(&format!("/v1/channels/web/availability?limit=2&cursor={next}"), Some(&reader)).await.ok().clone();
    }
    let expected: Vec<(String, i64)> =
        [("A", 7), ("B", 1), ("C", 0), ("D", 3), ("E", 0)].iter().map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(exported, expected);
    // The feed from the export's cursor brings what changed during it.
    let (after, _, _) = follow(&app, &feed_cursor, 100).await;
    assert_eq!(after, [("A".to_string(), 3 - 1)]);
}

async fn a_cursor_older_than_the_log_keeps_is_gone(app: TestApp) {
    setup(&app).await;
    let (_, _, cursor) = follow(&app, "", 100).await;
    app.count("S1", "A", 1).await;
    settle(&app).await;
    let pruned = {
        let mut conn = app.conn();
        let later = chrono::Utc::now().naive_utc() + chrono::TimeDelta::seconds(1);
        clickcollect::db::write_tx(&mut conn, |conn| clickcollect::changes::prune(conn, later, 1_000)).unwrap()
    };
    assert!(pruned > 0);
    let gone = feed(&app, &format!("after={cursor}")).await;
    gone.assert_problem(410, "cursor-expired");
    assert!(gone.body["detail"].as_str().unwrap().contains("export"), "{}", gone.body);
    feed(&app, "").await.assert_problem(410, "cursor-expired");
    // The export's cursor is current, and the feed goes on from it.
    let export = app.get("/v1/channels/web/availability", Some(&app.admin())).await;
    let fresh = export.ok()["feed_cursor"].as_str().unwrap().to_string();
    assert_eq!(feed(&app, &format!("after={fresh}")).await.ok()["items"], json!([]));
}

async fn imported_orders_take_the_default_location_and_their_statuses_are_in_the_feed(app: TestApp) {
    setup(&app).await;
    let (_, _, cursor) = follow(&app, "", 100).await;
    let erp = app.integration(&["orders:write"]);
    let import = json!({"fulfilment": "pickup", "customer_id": "m-ann", "channel": "web",
        "external_ref": "WEB-1", "lines": [{"sku": "A", "quantity": 1}]});
    let placed = app.post("/v1/orders", Some(&erp), &import).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!(placed.body["location"], "S1");
    let id = placed.body["id"].as_str().unwrap().to_string();
    let staff = app.staff("S1");
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&staff).send().await.ok();
    }
    let (items, orders, cursor) = follow(&app, &cursor, 100).await;
    assert_eq!(items, [("A".to_string(), 6)]);
    let ours: Vec<&Value> = orders.iter().filter(|o| o["order_id"] == id.as_str()).collect();
    let last = ours.last().unwrap();
    assert_eq!(last["status"], "ready_for_pickup");
    assert_eq!(last["external_ref"], "WEB-1");
    assert_eq!(last["location"], "S1");
    assert!(last["number"].is_string());

    // The marketplace cancels; the feed says so.
    app.request(Method::POST, &format!("/v1/orders/{id}/cancel")).bearer(&erp).send().await.ok();
    let (_, orders, _) = follow(&app, &cursor, 100).await;
    assert_eq!(orders.last().unwrap()["status"], "cancelled");

    // Orders not imported through the channel are not its business.
    let ann = app.customer("ann");
    app.post("/v1/orders", Some(&ann), &common::pickup_order("S1", "ann", "B", 1)).await.ok();
    let (_, orders, _) = follow(&app, &cursor, 100).await;
    assert!(orders.iter().all(|o| o["order_id"] == id.as_str()), "{orders:?}");

    // Without a location: only through a channel that has a default.
    let mut no_location = common::pickup_order("S1", "ann", "B", 1);
    no_location.as_object_mut().unwrap().remove("location");
    let refused = app.post("/v1/orders", Some(&ann), &no_location).await;
    refused.assert_problem(422, "validation");
    assert_eq!(refused.error_fields(), ["location"]);
    app.put("/v1/channels/bare", Some(&app.admin()), &json!({"name": "Bare", "buffer": 0, "locations": []})).await.ok();
    let mut bare = import.clone();
    bare["channel"] = json!("bare");
    bare["external_ref"] = json!("BARE-1");
    let refused = app.post("/v1/orders", Some(&erp), &bare).await;
    refused.assert_problem(409, "conflict");
    assert!(refused.body["detail"].as_str().unwrap().contains("no default_location"), "{}", refused.body);
}

async fn a_default_location_must_exist_and_be_the_channels(app: TestApp) {
    setup(&app).await;
    let admin = app.admin();
    let outside = json!({"name": "Web", "buffer": 1, "locations": ["S1"], "default_location": "S2"});
    let refused = app.put("/v1/channels/web", Some(&admin), &outside).await;
    refused.assert_problem(409, "conflict");
    assert!(refused.body["detail"].as_str().unwrap().contains("default_location S2"), "{}", refused.body);
    let unknown = json!({"name": "Web", "buffer": 1, "locations": [], "default_location": "NOPE"});
    let refused = app.put("/v1/channels/web", Some(&admin), &unknown).await;
    refused.assert_problem(404, "not-found");
    assert_eq!(refused.error_fields(), ["default_location"]);
    let channel = app.get("/v1/channels/web", Some(&admin)).await;
    assert_eq!(channel.ok()["default_location"], "S1", "a refused change changes nothing");
}

async fn only_admins_and_stock_readers_read_the_feed_and_bad_input_is_named(app: TestApp) {
    setup(&app).await;
    for path in ["/v1/channels/web/changes", "/v1/channels/web/availability"] {
        app.get(path, None).await.assert_problem(401, "unauthorized");
        app.get(path, Some(&app.customer("ann"))).await.assert_problem(403, "forbidden");
        app.get(path, Some(&app.staff("S1"))).await.assert_problem(403, "forbidden");
        app.get(path, Some(&app.integration(&["orders:write"]))).await.assert_problem(403, "forbidden");
        app.get(path, Some(&app.admin())).await.ok();
        app.get(&path.replace("web", "nope"), Some(&app.admin())).await.assert_problem(404, "not-found");
    }
    let admin = app.admin();
    for (query, field) in [
        ("after=12", "after"),
        ("after=abc.1", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("wait=31", "wait"),
    ] {
        let reply = app.get(&format!("/v1/channels/web/changes?{query}"), Some(&admin)).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.error_fields(), [field], "{query}");
    }
    let reply = app.get("/v1/channels/web/availability?cursor=bm9wZQ", Some(&admin)).await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.error_fields(), ["cursor"]);
}

const HOOK_SECRET: &str = "channel-hook-secret-0123456789abcdefghij";

/// One round of the channel push job, on a blocking thread as in `serve`.
async fn push_round(app: &TestApp) -> usize {
    let (pool, settings) = (app.state.pool.clone(), app.state.settings.sync);
    let agent = clickcollect::notify::providers::customer_agent(true);
    actix_web::web::block(move || clickcollect::sync::push::run_round(&pool, &agent, &settings)).await.unwrap().unwrap()
}

async fn webhook(app: &TestApp) -> Value {
    app.get("/v1/channels/web/webhook", Some(&app.admin())).await.ok().clone()
}

fn hooked(url: &str) -> Value {
    json!({"name": "Web", "buffer": 1, "locations": ["S1", "S2"], "default_location": "S1",
        "webhook_url": url, "webhook_secret": HOOK_SECRET})
}

/// Waits out the channel's next attempt time.
async fn until_due(app: &TestApp) {
    let next =
        webhook(app).await["next_attempt_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
    actix_web::rt::time::sleep(wait + Duration::from_millis(20)).await;
}

async fn a_channels_webhook_gets_signed_batches_in_order_and_pauses_when_it_keeps_failing(app: TestApp) {
    use common::receiver::receiver;
    setup(&app).await;
    let hook = receiver(vec![200, 500, 503, 500]);
    let admin = app.admin();
    app.put("/v1/channels/web", Some(&admin), &hooked(&hook.url)).await.ok();
    let started = webhook(&app).await;
    assert_eq!((started["state"].as_str(), started["failures"].as_i64()), (Some("active"), Some(0)));
    assert!(app.get("/v1/channels/web", Some(&admin)).await.ok().get("webhook_secret").is_none(), "never shown");

    // Two changes to A, one batch: coalesced, signed, keyed by where it starts.
    app.count("S1", "A", 9).await;
    app.count("S2", "A", 1).await;
    settle(&app).await;
    assert_eq!(push_round(&app).await, 1);
    let first = &hook.received()[0];
    let body: Value = serde_json::from_str(&first.body()).unwrap();
    assert_eq!(body["channel"], "web");
    assert_eq!(body["after"], started["cursor"]);
    assert_eq!(body["items"], json!([{"sku": "A", "available": 9, "changed_at": body["items"][0]["changed_at"]}]));
    let timestamp: i64 = first.headers["x-clickcollect-timestamp"].parse().unwrap();
    let expected = clickcollect::notify::webhook::sign(HOOK_SECRET.as_bytes(), timestamp, &first.body());
    assert_eq!(first.headers["x-clickcollect-signature"], expected);
    assert_eq!(first.headers["idempotency-key"], format!("web:{}", started["cursor"].as_str().unwrap()));
    let after_first = webhook(&app).await;
    assert_eq!(
        (after_first["batches_sent"].as_i64(), after_first["cursor"].clone()),
        (Some(1), body["cursor"].clone())
    );
    assert!(after_first["last_success_at"].is_string());

    // Nothing new: nothing sent.
    until_due(&app).await;
    assert_eq!(push_round(&app).await, 0);
    assert_eq!(hook.received().len(), 1);

    // The endpoint fails three times (500, 503, 500), each after a longer wait; not before.
    app.count("S1", "B", 7).await;
    settle(&app).await;
    for failures in 1..=3 {
        until_due(&app).await;
        assert_eq!(push_round(&app).await, 0);
        assert_eq!(push_round(&app).await, 0, "not again before its backoff");
        let state = webhook(&app).await;
        assert_eq!(state["failures"].as_i64(), Some(failures));
        assert!(state["last_error"].as_str().unwrap().contains("answered 50"), "{state}");
        assert_eq!(state["cursor"], after_first["cursor"], "a failed batch does not move the cursor");
        assert_eq!(hook.received().len(), 1 + failures as usize);
    }
    // After three in a row (CHANNEL_PUSH_PAUSE_AFTER), paused: changes go on, nothing is sent
    // and nothing piles up.
    assert_eq!(webhook(&app).await["state"], "paused");
    app.count("S1", "B", 4).await;
    settle(&app).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(push_round(&app).await, 0);
    assert_eq!(hook.received().len(), 4);

    // Resumed: one batch from where it stopped, with B as it is now.
    let resumed = app.request(Method::POST, "/v1/channels/web/webhook/resume").bearer(&admin).send().await;
    assert_eq!((resumed.ok()["state"].as_str(), resumed.ok()["failures"].as_i64()), (Some("active"), Some(0)));
    assert_eq!(push_round(&app).await, 1);
    let last: Value = serde_json::from_str(&hook.received()[4].body()).unwrap();
    assert_eq!(last["after"], after_first["cursor"]);
    assert_eq!(last["items"], json!([{"sku": "B", "available": 3, "changed_at": last["items"][0]["changed_at"]}]));
}

async fn a_webhook_needs_a_secret_and_only_admins_see_or_resume_it(app: TestApp) {
    setup(&app).await;
    let admin = app.admin();
    let mut no_secret = hooked("https://hooks.example.com/cc");
    no_secret.as_object_mut().unwrap().remove("webhook_secret");
    let refused = app.put("/v1/channels/web", Some(&admin), &no_secret).await;
    refused.assert_problem(422, "validation");
    assert_eq!(refused.error_fields(), ["webhook_secret"]);
    for (field, value) in [("webhook_url", "ftp://hooks.example.com"), ("webhook_secret", "short")] {
        let mut bad = hooked("https://hooks.example.com/cc");
        bad[field] = json!(value);
        let refused = app.put("/v1/channels/web", Some(&admin), &bad).await;
        refused.assert_problem(422, "validation");
        assert_eq!(refused.error_fields(), [field]);
    }
    app.get("/v1/channels/web/webhook", Some(&admin)).await.assert_problem(404, "not-found");
    let reply = app.put("/v1/channels/web", Some(&admin), &hooked("https://hooks.example.com/cc")).await;
    assert_eq!(reply.ok()["webhook_url"], "https://hooks.example.com/cc");
    let mut secret_alone = no_secret.clone();
    secret_alone.as_object_mut().unwrap().remove("webhook_url");
    secret_alone["webhook_secret"] = json!(HOOK_SECRET);
    let refused = app.put("/v1/channels/web", Some(&admin), &secret_alone).await;
    refused.assert_problem(422, "validation");
    assert_eq!(refused.error_fields(), ["webhook_secret"]);
    for token in [app.integration(&["stock:read", "stock:write"]), app.staff("S1"), app.customer("ann")] {
        app.get("/v1/channels/web/webhook", Some(&token)).await.assert_problem(403, "forbidden");
        let resume = app.request(Method::POST, "/v1/channels/web/webhook/resume").bearer(&token).send().await;
        resume.assert_problem(403, "forbidden");
    }
    let bad = app.request(Method::POST, "/v1/channels/web/webhook/resume?after=x").bearer(&admin).send().await;
    bad.assert_problem(422, "validation");
    // Past retention, resuming needs a resync: 410, then resume from an export's cursor.
    app.count("S1", "A", 2).await;
    settle(&app).await;
    let mut conn = app.conn();
    let later = chrono::Utc::now().naive_utc() + chrono::TimeDelta::seconds(1);
    clickcollect::db::write_tx(&mut conn, |conn| clickcollect::changes::prune(conn, later, 1_000)).unwrap();
    drop(conn);
    let gone = app.request(Method::POST, "/v1/channels/web/webhook/resume").bearer(&admin).send().await;
    gone.assert_problem(410, "cursor-expired");
    let fresh = app.get("/v1/channels/web/availability", Some(&admin)).await.ok()["feed_cursor"].clone();
    let path = format!("/v1/channels/web/webhook/resume?after={}", fresh.as_str().unwrap());
    let resumed = app.request(Method::POST, &path).bearer(&admin).send().await;
    assert_eq!(resumed.ok()["cursor"], fresh);
    // Without a URL, no webhook.
    let mut plain = no_secret.clone();
    plain.as_object_mut().unwrap().remove("webhook_url");
    app.put("/v1/channels/web", Some(&admin), &plain).await.ok();
    app.get("/v1/channels/web/webhook", Some(&admin)).await.assert_problem(404, "not-found");
}

on_both_backends!(pushes with &[("CHANNEL_PUSH_INTERVAL_MS", "100"), ("CHANNEL_PUSH_PAUSE_AFTER", "3")];
    a_channels_webhook_gets_signed_batches_in_order_and_pauses_when_it_keeps_failing,
    a_webhook_needs_a_secret_and_only_admins_see_or_resume_it,
);

on_both_backends!(
    the_feed_coalesces_a_channels_skus_and_continues_from_its_cursor,
    a_long_poll_answers_as_soon_as_a_change_commits,
    the_export_pages_every_sku_and_its_feed_cursor_misses_nothing,
    a_cursor_older_than_the_log_keeps_is_gone,
    imported_orders_take_the_default_location_and_their_statuses_are_in_the_feed,
    a_default_location_must_exist_and_be_the_channels,
    only_admins_and_stock_readers_read_the_feed_and_bad_input_is_named,
);
