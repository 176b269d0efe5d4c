//! The crash tests: a real `clickcollect worker` process is killed while a webhook it sent is
//! still in flight (sent, not yet recorded), and a new worker takes over. Every message
//! arrives; the one that was in flight arrives twice, with the same `Idempotency-Key`, so a
//! receiver that honours the key acts on each message once. And a provider that does not
//! answer holds no database connection meanwhile. A `serve` process killed while it places
//! batches of holds loses none it acknowledged.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::notify::place_order;
use common::receiver::{scripted, Answer};
use common::{Backend, TestApp};
use serde_json::{json, Value};

const WEBHOOK_SECRET: &str = "crash-test-webhook-secret-0123456789abcdef";

fn start_worker(app: &TestApp) -> Child {
    Command::new(env!("CARGO_BIN_EXE_clickcollect"))
        .arg("worker")
        .env_clear()
        // Away from any `.env` in the working tree.
        .current_dir(std::env::temp_dir())
        .env("DATABASE_URL", app.database_url())
        .env("JWT_SECRET", common::JWT_SECRET)
        .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("NOTIFY_PRIVATE_TARGETS", "allow")
        // A short lease, so the second worker may retry soon after the first one died.
        .env("NOTIFY_LEASE_SECONDS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the clickcollect binary starts")
}

/// Polls `check` until it holds, for at most `limit`.
async fn wait_for(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "gave up waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn webhook_rows(app: &TestApp) -> Vec<(String, String, String, i32)> {
    use clickcollect::db::schema::notifications;
    use diesel::prelude::*;
    notifications::table
        .filter(notifications::channel.eq("webhook"))
        .select((notifications::id, notifications::dedupe_key, notifications::status, notifications::attempts))
        .load(&mut *app.conn())
        .unwrap()
}

async fn a_worker_killed_mid_send_loses_nothing(app: TestApp) {
    // The first webhook is taken in and never answered: the worker is stuck between sending
    // and recording when it is killed. Everything after is answered 200.
    let hook = scripted(vec![Answer::Stall]);
    app.put_location("S1", json!({})).await;
    app.put_product("A").await;
    app.count("S1", "A", 10).await;
    let ann = app.customer("ann");
    let profile = json!({"locale": "en", "webhook_url": hook.url,
        "channels": {"email": false, "sms": false, "push": false, "webhook": true}});
    app.put("/v1/customers/ann", Some(&ann), &profile).await.ok();
    let order = common::pickup_order("S1", "ann", "A", 1);
    for _ in 0..3 {
        app.post("/v1/orders", Some(&ann), &order).await.ok();
    }
    assert_eq!(webhook_rows(&app).len(), 3);

    let mut first = start_worker(&app);
    wait_for(Duration::from_secs(60), "the first webhook to be in flight", || !hook.received().is_empty()).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let rows = webhook_rows(&app);
    assert!(rows.iter().all(|(_, _, status, _)| status == "queued"), "nothing was recorded: {rows:?}");

    let mut second = start_worker(&app);
    wait_for(Duration::from_secs(60), "every webhook to be recorded as sent", || {
        webhook_rows(&app).iter().all(|(_, _, status, _)| status == "sent")
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();

    let received = hook.received();
    let mut per_key: HashMap<String, Vec<Value>> = HashMap::new();
    for request in &received {
        let key = request.headers["idempotency-key"].clone();
        per_key.entry(key).or_default().push(serde_json::from_str(&request.body()).unwrap());
    }
    let rows = webhook_rows(&app);
    for (id, dedupe_key, _, attempts) in &rows {
        let copies = per_key.get(dedupe_key).unwrap_or_else(|| panic!("{dedupe_key} never arrived"));
        assert!(copies.iter().all(|body| body["id"] == id.as_str()), "a repeat is the same message");
        assert!(copies.len() as i32 <= *attempts, "at most one request per attempt for {dedupe_key}");
    }
    assert_eq!(per_key.len(), 3, "every message arrived, and only these");
    assert_eq!(received.len(), 4, "only the message in flight at the crash arrived twice");
    assert_eq!(per_key.values().filter(|copies| copies.len() == 2).count(), 1);
}

/// A slow provider does not starve the API: while the sender waits on a receiver that does not
/// answer, requests still get the one pooled connection.
async fn a_slow_provider_holds_no_database_connection(backend: Backend) {
    let settings = [("WEBHOOK_SECRET", WEBHOOK_SECRET), ("DATABASE_POOL_SIZE", "1")];
    let Some(app) = TestApp::spawn_with(backend, &settings).await else { return };
    let hook = scripted(vec![Answer::Stall]);
    app.put_location("S1", json!({})).await;
    app.put_product("A").await;
    app.count("S1", "A", 10).await;
    let ann = app.customer("ann");
    let profile = json!({"webhook_url": hook.url,
        "channels": {"email": false, "sms": false, "push": false, "webhook": true}});
    app.put("/v1/customers/ann", Some(&ann), &profile).await.ok();
    let id = place_order(&app, &ann, "ann").await;

    let (pool, channels, keys) = (app.state.pool.clone(), app.state.channels.clone(), app.state.keys.clone());
    let round = std::thread::spawn(move || {
        clickcollect::notify::sender::run_round(&pool, &channels, &keys.pickup_key).map(|_| ())
    });
    wait_for(Duration::from_secs(30), "the webhook to be in flight", || !hook.received().is_empty()).await;
    let reply = app.get(&format!("/v1/orders/{id}"), Some(&ann)).await;
    assert_eq!(reply.status, 200);
    assert!(!round.is_finished(), "the API answered while the provider call was still waiting");
    round.join().unwrap().unwrap();
}

/// Shoppers flood one level of a real `serve` process with holds, which it places in batches;
/// the process is killed (SIGKILL) mid-flood. Every hold a shopper was told it has (201) is
/// in the database, held, with its units reserved and its ledger movement; nothing reserved
/// lacks its hold; and a new process goes on selling from there.
async fn a_server_killed_mid_batch_loses_no_acknowledged_hold(app: TestApp) {
    app.stocked_store("S1", json!({}), "A", 1_000_000).await;
    let start = || {
        let limits_off = [
            ("LIMIT_OPEN_HOLDS_PER_CUSTOMER", "0"),
            ("LIMIT_UNITS_PER_SKU_PER_CUSTOMER", "0"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ];
        app.serve_process(&limits_off)
    };
    let mut server = start();
    let base = server.base.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let shoppers: Vec<_> = (0..24)
        .map(|i| {
            let (base, stop, token) = (base.clone(), stop.clone(), app.customer(&format!("flood-{i}")));
            std::thread::spawn(move || {
                let agent = common::http_agent();
                let body = json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]}).to_string();
                let mut acknowledged = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let request = ureq::http::Request::builder()
                        .method("POST")
                        .uri(format!("{base}/v1/reservations"))
                        .header("Authorization", format!("Bearer {token}"))
                        .header("Content-Type", "application/json")
                        .body(body.clone())
                        .unwrap();
                    // Once the server is gone, calls fail: the shopper was told nothing.
                    let Ok(response) = agent.run(request) else { break };
                    let status = response.status().as_u16();
                    let Ok(text) = response.into_body().read_to_string() else { break };
                    if status == 201 {
                        let hold: Value = serde_json::from_str(&text).unwrap();
                        acknowledged.push(hold["id"].as_str().unwrap().to_string());
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1_500));
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged: Vec<String> = shoppers.into_iter().flat_map(|s| s.join().unwrap()).collect();
    assert!(acknowledged.len() > 50, "too few holds before the kill to mean anything: {}", acknowledged.len());

    use clickcollect::db::schema::reservations;
    use diesel::prelude::*;
    let held: std::collections::HashMap<String, String> = reservations::table
        .select((reservations::id, reservations::status))
        .load::<(String, String)>(&mut *app.conn())
        .unwrap()
        .into_iter()
        .collect();
    for id in &acknowledged {
        assert_eq!(held.get(id).map(String::as_str), Some("held"), "acknowledged hold {id} was lost");
    }
    // Holds may have committed whose answer never left: they are held and accounted for.
    let level = app.level("S1", "A").await;
    assert_eq!(level["reserved"].as_i64(), Some(held.len() as i64), "reserved is not what the holds account for");
    app.assert_ledger_balances("S1", "A").await;
    assert!(clickcollect::stock::ledger::find_drift(&mut app.conn()).unwrap().is_empty());

    let second = start();
    let base = second.base.clone();
    let (status, _) = common::http_call(
        &common::http_agent(),
        "POST",
        &format!("{base}/v1/reservations"),
        Some(&app.customer("after")),
        Some(&json!({"location": "S1", "lines": [{"sku": "A", "quantity": 1}]})),
    );
    assert_eq!(status, 201);
}

on_both_backends!(a_server_killed_mid_batch_loses_no_acknowledged_hold);
on_both_backends!(signed_webhooks with &[("WEBHOOK_SECRET", WEBHOOK_SECRET)]; a_worker_killed_mid_send_loses_nothing);
on_each_backend!(a_slow_provider_holds_no_database_connection);
