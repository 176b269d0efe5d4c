//! Live events as a browser reads them, over a real socket: a store's orders and a SKU's
//! availability as server-sent events, opened with a stream ticket, resumed with
//! `Last-Event-ID` from the change log, capped per caller, dropping a client that cannot keep
//! up, and ending when the server stops; with every denial.

mod common;

use std::time::{Duration, Instant};

use actix_web::http::Method;
use common::sse::{self, Opened};
use common::TestApp;
use serde_json::json;

const SOON: Duration = Duration::from_secs(5);

async fn ticket(app: &TestApp, token: &str) -> String {
    let reply = app.request(Method::POST, "/v1/stream-tickets").bearer(token).send().await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(reply.body["expires_at"].is_string());
    reply.body["ticket"].as_str().unwrap().to_string()
}

async fn place(app: &TestApp, store: &str, customer: &str) -> String {
    let order =
        app.post("/v1/orders", Some(&app.customer(customer)), &common::pickup_order(store, customer, "A", 1)).await;
    order.ok()["id"].as_str().unwrap().to_string()
}

async fn step(app: &TestApp, id: &str, action: &str) {
    let staff = app.staff("S1");
    app.request(Method::POST, &format!("/v1/orders/{id}/{action}")).bearer(&staff).send().await.ok();
}

async fn a_store_stream_shows_its_orders_as_they_happen(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 10).await;
    app.stocked_store("S2", json!({}), "A", 10).await;
    let base = app.serve();
    let ticket = ticket(&app, &app.staff("S1")).await;
    let mut stream = sse::open(&base, &format!("/v1/stores/S1/events?ticket={ticket}"), &[]).stream();

    place(&app, "S2", "bob").await; // another store's: not on this stream
    let started = Instant::now();
    let id = place(&app, "S1", "ann").await;
    let created = stream.next(SOON).expect("order.created");
    assert!(started.elapsed() < Duration::from_secs(2), "arrived after {:?}", started.elapsed());
    assert_eq!(created.name, "order.created");
    assert_eq!(created.data["order_id"], id.as_str());
    assert_eq!(created.data["status"], "confirmed");
    assert!(created.data["number"].is_string());
    assert!(clickcollect::changes::Cursor::parse(&created.id).is_some(), "{}", created.id);

    step(&app, &id, "picking").await;
    let picking = stream.next(SOON).expect("order.status");
    assert_eq!((picking.name.as_str(), &picking.data["status"]), ("order.status", &json!("picking")));
    let cursor = |id: &str| clickcollect::changes::Cursor::parse(id).unwrap();
    assert!(cursor(&picking.id) > cursor(&created.id), "ids move on");

    // A curbside shopper arrives: `order.arrival`.
    let mut curbside = common::pickup_order("S1", "cy", "A", 1);
    curbside["fulfilment"] = json!("curbside");
    let cy = app.customer("cy");
    let curbside_id = app.post("/v1/orders", Some(&cy), &curbside).await.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(stream.next(SOON).expect("order.created").data["order_id"], curbside_id.as_str());
    let arrival = json!({"bay": "3", "vehicle": "red van"});
    app.post(&format!("/v1/orders/{curbside_id}/arrival"), Some(&cy), &arrival).await.ok();
    let arrived = stream.next(SOON).expect("order.arrival");
    assert_eq!((arrived.name.as_str(), &arrived.data["entry"]), ("order.arrival", &json!("arrived")));

    // A bearer token works as well as a ticket (for clients that can send one).
    let admin = app.admin();
    let mut by_token =
        sse::open(&base, "/v1/stores/S1/events", &[("Authorization", &format!("Bearer {admin}"))]).stream();
    step(&app, &id, "ready").await;
    for stream in [&mut stream, &mut by_token] {
        let ready = stream.next(SOON).expect("ready");
        assert_eq!(ready.data["status"], "ready_for_pickup");
    }
}

async fn a_stream_resumes_from_the_log_after_its_last_event(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 10).await;
    let base = app.serve();
    let path = format!("/v1/stores/S1/events?ticket={}", ticket(&app, &app.staff("S1")).await);
    let mut first = sse::open(&base, &path, &[]).stream();
    let id = place(&app, "S1", "ann").await;
    let created = first.next(SOON).expect("order.created");
    drop(first); // the connection drops
    step(&app, &id, "picking").await;
    step(&app, &id, "ready").await;
    let mut resumed = sse::open(&base, &path, &[("Last-Event-ID", &created.id)]).stream();
    let missed: Vec<String> =
        (0..2).map(|_| resumed.next(SOON).expect("replayed").data["status"].to_string()).collect();
    assert_eq!(missed, ["\"picking\"", "\"ready_for_pickup\""]);
    // Then live again.
    step(&app, &id, "cancel").await;
    assert_eq!(resumed.next(SOON).expect("live").data["status"], "cancelled");
}

async fn a_product_page_sees_availability_now_then_a_few_updates_a_second(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 10).await;
    let base = app.serve();
    let mut page = sse::open(&base, "/v1/availability/A/events", &[]).stream();
    let now = page.next(SOON).expect("the availability now");
    assert_eq!(now.name, "availability");
    assert_eq!(now.data["online"]["available"], 10);
    assert_eq!(now.data["locations"][0]["available"], 10);
    // Twenty changes at once: coalesced, and the last event tells the last number.
    for on_hand in 11..=30 {
        app.count("S1", "A", on_hand).await;
    }
    let updates = page.drain(Duration::from_millis(1500));
    assert!(!updates.is_empty() && updates.len() < 20, "{} updates for 20 changes", updates.len());
    assert_eq!(updates.last().unwrap().data["online"]["available"], 30);
    // Resuming after the last one replays nothing old: the SKU's availability once, as now.
    let last = updates.last().unwrap().id.clone();
    app.count("S1", "A", 3).await;
    let mut resumed = sse::open(&base, "/v1/availability/A/events", &[("Last-Event-ID", &last)]).stream();
    assert_eq!(resumed.next(SOON).expect("the change since").data["online"]["available"], 3);
}

async fn streams_refuse_who_may_not_follow_them(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 10).await;
    app.put_location("S2", json!({})).await;
    let base = app.serve();
    let refused = |path: &str, headers: &[(&str, &str)]| sse::open(&base, path, headers).refused();
    let (status, body) = refused("/v1/stores/S1/events", &[]);
    assert_eq!((status, body["type"].as_str().unwrap()), (401, "https://clickcollect.dev/problems/unauthorized"));
    for token in [app.staff("S2"), app.customer("ann"), app.integration(&["stock:read", "orders:read"])] {
        let ticket = ticket(&app, &token).await;
        assert_eq!(refused(&format!("/v1/stores/S1/events?ticket={ticket}"), &[]).0, 403);
    }
    let staff = app.staff("S1");
    let good = ticket(&app, &staff).await;
    // Forged, and expired.
    let (body, _) = good.split_once('.').unwrap();
    assert_eq!(refused(&format!("/v1/stores/S1/events?ticket={body}.AAAA"), &[]).0, 401);
    let who = clickcollect::auth::Principal {
        sub: "ana".into(),
        role: clickcollect::auth::Role::Staff,
        store: Some("S1".into()),
        scopes: vec![],
    };
    let past = chrono::Utc::now() - chrono::TimeDelta::seconds(120);
    let (expired, _) = clickcollect::live::tickets::issue(
        &app.state.keys.stream_ticket_key(),
        &who,
        chrono::TimeDelta::seconds(60),
        past,
    );
    let (status, body) = refused(&format!("/v1/stores/S1/events?ticket={expired}"), &[]);
    assert_eq!(status, 401);
    assert!(body["detail"].as_str().unwrap().contains("expired"), "{body}");
    // A ticket opens streams and nothing else.
    app.get("/v1/stores/S1/orders", Some(&good)).await.assert_problem(401, "unauthorized");
    // Unknown things and bad ids.
    let admin = format!("Bearer {}", app.admin());
    assert_eq!(refused("/v1/stores/NOPE/events", &[("Authorization", &admin)]).0, 404);
    assert_eq!(refused("/v1/availability/NOPE/events", &[]).0, 404);
    let (status, body) = refused("/v1/stores/S1/events", &[("Authorization", &admin), ("Last-Event-ID", "soon")]);
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("Last-Event-ID")));
}

async fn a_caller_opens_a_few_streams_and_a_slow_one_is_dropped(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 10).await;
    let base = app.serve();
    let bearer = format!("Bearer {}", app.staff("S1"));
    let auth = [("Authorization", bearer.as_str())];
    let first = sse::open(&base, "/v1/stores/S1/events", &auth).stream();
    let _second = sse::open(&base, "/v1/stores/S1/events", &auth).stream();
    let (status, body) = sse::open(&base, "/v1/stores/S1/events", &auth).refused();
    assert_eq!((status, body["type"].as_str().unwrap()), (429, "https://clickcollect.dev/problems/rate-limited"));
    // Another caller is not counted with this one.
    let admin = format!("Bearer {}", app.admin());
    drop(sse::open(&base, "/v1/stores/S1/events", &[("Authorization", admin.as_str())]).stream());
    // A closed stream frees its place once the server notices (at the next heartbeat).
    drop(first);
    let started = Instant::now();
    loop {
        match sse::open(&base, "/v1/stores/S1/events", &auth) {
            Opened::Stream(_) => break,
            Opened::Refused(429, _) => {
                assert!(started.elapsed() < Duration::from_secs(10), "the place was never freed");
                std::thread::sleep(Duration::from_millis(200));
            }
            Opened::Refused(status, body) => panic!("{status} {body}"),
        }
    }

    // Public streams are counted by address, with a cap of their own (3 here).
    let pages: Vec<_> = (0..3).map(|_| sse::open(&base, "/v1/availability/A/events", &[]).stream()).collect();
    let (status, _) = sse::open(&base, "/v1/availability/A/events", &[]).refused();
    assert_eq!(status, 429);
    drop(pages);

    // A subscriber that never reads: with a queue of two events, the third drops it, and
    // what it holds stays two events.
    let hub = app.state.live.clone();
    let subscription = hub
        .subscribe(
            clickcollect::live::events::Topic::Store("S1".into()),
            clickcollect::live::hub::Opener::Caller("slow".into()),
            &app.state.pool,
            &app.state.changes,
        )
        .await
        .unwrap();
    for customer in ["c1", "c2", "c3", "c4"] {
        place(&app, "S1", customer).await;
    }
    // Not a single read until the hub has given up on it (its sender gone): a read would
    // make room.
    let mut events = subscription.events;
    let started = Instant::now();
    while !events.is_closed() {
        assert!(started.elapsed() < SOON, "the slow stream was never dropped");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let mut held = 0;
    loop {
        match actix_web::rt::time::timeout(SOON, events.recv()).await {
            Ok(Some(_)) => held += 1,
            Ok(None) => break,
            Err(_) => panic!("the dropped stream never ended (it held {held})"),
        }
    }
    assert_eq!(held, 2, "a dropped stream holds its queue's worth, then ends");
}

async fn streams_end_when_the_server_stops(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 10).await;
    let base = app.serve();
    let mut page = sse::open(&base, "/v1/availability/A/events", &[]).stream();
    let now = page.next(SOON).expect("the availability now");
    // Idle streams carry heartbeats. Nothing changed, so nothing new is said: on PostgreSQL
    // the change the opening number already shows may come once more (the hub reads the log
    // from the oldest transaction still running anywhere in the cluster, and never skips),
    // and then it says the same number.
    let quiet = std::time::Instant::now();
    while let Some(left) = Duration::from_millis(1500).checked_sub(quiet.elapsed()) {
        if let Some(event) = page.next(left) {
            let same = event.data["online"] == now.data["online"] && event.data["locations"] == now.data["locations"];
            assert!(same, "an idle stream said something new: {event:?} after {now:?}");
        }
    }
    assert!(page.comments >= 1, "no heartbeat in 1.5 s");
    app.state.live.close();
    assert!(page.ends_within(SOON), "the stream did not end");
    let (status, _) = sse::open(&base, "/v1/availability/A/events", &[]).refused();
    assert_eq!(status, 503);
}

on_both_backends!(live with &[("STREAMS_PER_CALLER", "2"), ("STREAMS_PER_ADDRESS", "3"), ("STREAM_BUFFER_EVENTS", "2"), ("STREAM_HEARTBEAT_SECONDS", "1")];
    a_store_stream_shows_its_orders_as_they_happen,
    a_stream_resumes_from_the_log_after_its_last_event,
    a_product_page_sees_availability_now_then_a_few_updates_a_second,
    streams_refuse_who_may_not_follow_them,
    a_caller_opens_a_few_streams_and_a_slow_one_is_dropped,
    streams_end_when_the_server_stops,
);
