//! Live events and the feed under load: (d) from a committed count to a server-sent event
//! and to a long-polling feed consumer, beside Redis's own round trip; (e) a feed consumer
//! following a flash sale.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clickcollect::auth::Role;

use super::client::{env_number, percentile, Client};

/// Splits a server-sent event stream into (arrival time, `data:` JSON) as events come.
fn follow_events(addr: &str, path: &str, seen: std::sync::mpsc::Sender<(Instant, serde_json::Value)>) {
    super::client::lower_priority();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    // The chunked framing's size lines are not `data:` lines, so reading lines is enough.
    while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            if let Ok(data) = serde_json::from_str(data) {
                if seen.send((Instant::now(), data)).is_err() {
                    return;
                }
            }
        }
        line.clear();
    }
}

fn millis(latencies: &mut [Duration]) -> String {
    latencies.sort();
    format!("p50 {:.2} ms, p99 {:.2} ms", percentile(latencies, 0.50), percentile(latencies, 0.99))
}

/// (d) From a committed count to an SSE client and to a feed consumer; the Redis floor.
pub fn live_lag(addr: &str, admin: &str, redis_url: Option<&str>) {
    let samples = env_number("BENCH_LAG_SAMPLES", 100);
    let mut setup = Client::connect(addr);
    let channel = r#"{"name":"Bench","buffer":0,"locations":["FLAG"]}"#;
    assert!(matches!(setup.send("PUT", "/v1/channels/bench", Some(admin), Some(channel)).0, 200 | 201));
    // Twenty SKUs in turn, 30 ms apart: each changes every 600 ms, more than the streams'
    // coalescing interval, so every change is an event of its own.
    let skus: Vec<String> = (0..20).map(|n| format!("LAG-{n}")).collect();
    for sku in &skus {
        let product = r#"{"name":"Lag probe","price":{"amount_minor":100,"currency":"EUR"}}"#;
        assert_eq!(setup.send("PUT", &format!("/v1/products/{sku}"), Some(admin), Some(product)).0, 201);
        assert_eq!(setup.send("PUT", &format!("/v1/stock/FLAG/{sku}"), Some(admin), Some(r#"{"on_hand":1}"#)).0, 200);
    }
    let (events_tx, events) = std::sync::mpsc::channel();
    for sku in &skus {
        let (addr, path, events_tx) = (addr.to_string(), format!("/v1/availability/{sku}/events"), events_tx.clone());
        std::thread::spawn(move || follow_events(&addr, &path, events_tx));
    }
    let (_, head) = setup.send("GET", "/v1/channels/bench/availability?limit=1", Some(admin), None);
    let mut cursor =
        serde_json::from_str::<serde_json::Value>(&head).unwrap()["feed_cursor"].as_str().unwrap().to_string();
    let (feed_tx, feed) = std::sync::mpsc::channel::<(Instant, String, i64)>();
    let feed_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (addr, admin, stop) = (addr.to_string(), admin.to_string(), feed_stop.clone());
        std::thread::spawn(move || {
            super::client::lower_priority();
            let mut client = Client::connect(&addr);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let path = format!("/v1/channels/bench/changes?after={cursor}&wait=2&limit=1000");
                let (status, page) = client.send("GET", &path, Some(&admin), None);
                assert_eq!(status, 200, "{page}");
                let page: serde_json::Value = serde_json::from_str(&page).unwrap();
                let now = Instant::now();
                for item in page["items"].as_array().unwrap() {
                    let _ = feed_tx.send((
                        now,
                        item["sku"].as_str().unwrap().to_string(),
                        item["available"].as_i64().unwrap(),
                    ));
                }
                cursor = page["cursor"].as_str().unwrap().to_string();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    while events.try_recv().is_ok() {} // the streams' opening events
    let mut sent: Vec<(String, i64, Instant)> = Vec::new();
    let mut writes = Vec::new();
    for i in 0..samples {
        let sku = &skus[i % skus.len()];
        let on_hand = 1000 + i as i64;
        let started = Instant::now();
        let body = format!(r#"{{"on_hand":{on_hand}}}"#);
        assert_eq!(setup.send("PUT", &format!("/v1/stock/FLAG/{sku}"), Some(admin), Some(&body)).0, 200);
        writes.push(started.elapsed());
        sent.push((sku.clone(), on_hand, started));
        std::thread::sleep(Duration::from_millis(30));
    }
    std::thread::sleep(Duration::from_millis(1500));
    feed_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let arrivals: Vec<(Instant, serde_json::Value)> = events.try_iter().collect();
    let fed: Vec<(Instant, String, i64)> = feed.try_iter().collect();
    let (mut to_stream, mut to_feed) = (Vec::new(), Vec::new());
    for (sku, on_hand, started) in &sent {
        let shown = |data: &serde_json::Value| data["sku"] == sku.as_str() && data["online"]["available"] == *on_hand;
        if let Some((at, _)) = arrivals.iter().find(|(_, data)| shown(data)) {
            to_stream.push(at.saturating_duration_since(*started));
        }
        if let Some((at, _, _)) = fed.iter().find(|(_, s, available)| s == sku && available == on_hand) {
            to_feed.push(at.saturating_duration_since(*started));
        }
    }
    println!(
        "live lag, count sent to event seen ({} of {samples} changes seen): SSE {}; feed long poll ({} seen) {}; the count's own answer {}",
        to_stream.len(),
        millis(&mut to_stream),
        to_feed.len(),
        millis(&mut to_feed),
        millis(&mut writes)
    );
    let _ = consumer.join();
    if let Some(url) = redis_url {
        let mut floor = redis_round_trips(url, samples);
        println!("redis floor, PUBLISH to subscriber, {samples} messages: {}", millis(&mut floor));
    }
}

/// The raw Redis publish-to-subscribe round trip on the same machine.
fn redis_round_trips(url: &str, samples: usize) -> Vec<Duration> {
    let client = redis::Client::open(url).unwrap();
    let channel = format!("cc-bench-floor-{}", std::process::id());
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (got_tx, got) = std::sync::mpsc::channel();
    let listener = {
        let (client, channel) = (client.clone(), channel.clone());
        std::thread::spawn(move || {
            super::client::lower_priority();
            let mut connection = client.get_connection().unwrap();
            let mut pubsub = connection.as_pubsub();
            pubsub.subscribe(&channel).unwrap();
            ready_tx.send(()).unwrap();
            for _ in 0..samples {
                let _ = pubsub.get_message().unwrap();
                got_tx.send(Instant::now()).unwrap();
            }
        })
    };
    ready.recv().unwrap();
    let mut publisher = client.get_connection().unwrap();
    let mut trips = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        redis::cmd("PUBLISH").arg(&channel).arg("x").query::<i64>(&mut publisher).unwrap();
        trips.push(got.recv().unwrap().saturating_duration_since(started));
    }
    listener.join().unwrap();
    trips
}

/// (e) A consumer follows the feed while a second flash sale runs on another SKU.
pub fn feed_during_a_sale(addr: &str, admin: &str, clients: usize, units: i64, token: &dyn Fn(Role, &str) -> String) {
    let mut setup = Client::connect(addr);
    let product = r#"{"name":"Second drop","price":{"amount_minor":100,"currency":"EUR"}}"#;
    assert_eq!(setup.send("PUT", "/v1/products/DROP-2", Some(admin), Some(product)).0, 201);
    let (_, head) = setup.send("GET", "/v1/channels/bench/availability?limit=1", Some(admin), None);
    let cursor = serde_json::from_str::<serde_json::Value>(&head).unwrap()["feed_cursor"].as_str().unwrap().to_string();
    let count = format!(r#"{{"on_hand":{units}}}"#);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (addr, admin, stop) = (addr.to_string(), admin.to_string(), stop.clone());
        std::thread::spawn(move || {
            super::client::lower_priority();
            let mut client = Client::connect(&addr);
            let (mut cursor, mut pages, mut items, mut last_seen) = (cursor, 0usize, 0usize, None);
            let mut quiet_after_stop = 0;
            loop {
                let path = format!("/v1/channels/bench/changes?after={cursor}&limit=1000&wait=1");
                let (status, page) = client.send("GET", &path, Some(&admin), None);
                assert_eq!(status, 200, "{page}");
                let page: serde_json::Value = serde_json::from_str(&page).unwrap();
                let fresh = page["items"].as_array().unwrap();
                pages += 1;
                items += fresh.len();
                for item in fresh {
                    if item["sku"] == "DROP-2" {
                        last_seen = Some((Instant::now(), item["available"].as_i64().unwrap()));
                    }
                }
                cursor = page["cursor"].as_str().unwrap().to_string();
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    quiet_after_stop += usize::from(fresh.is_empty());
                    if quiet_after_stop > 0 {
                        return (pages, items, last_seen);
                    }
                }
            }
        })
    };
    let barrier = Arc::new(Barrier::new(clients + 1));
    assert_eq!(setup.send("PUT", "/v1/stock/FLAG/DROP-2", Some(admin), Some(&count)).0, 200);
    let hold_body = r#"{"location":"FLAG","lines":[{"sku":"DROP-2","quantity":1}]}"#;
    let shoppers: Vec<_> = (0..clients)
        .map(|i| {
            let (addr, barrier, token) =
                (addr.to_string(), barrier.clone(), token(Role::Customer, &format!("second-{i}")));
            std::thread::spawn(move || {
                super::client::lower_priority();
                let mut client = Client::connect(&addr);
                barrier.wait();
                let mut held = 0;
                while client.send("POST", "/v1/reservations", Some(&token), Some(hold_body)).0 == 201 {
                    held += 1;
                }
                held
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let held: i64 = shoppers.into_iter().map(|s| s.join().unwrap()).sum();
    let sale = started.elapsed();
    let sold_out_at = Instant::now();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (pages, items, last_seen) = consumer.join().unwrap();
    let behind = match last_seen {
        Some((at, 0)) if at <= sold_out_at => "before the last shopper's answer".to_string(),
        Some((at, 0)) => format!("{:.0} ms after the last hold", at.duration_since(sold_out_at).as_secs_f64() * 1000.0),
        Some((_, available)) => format!("never saw zero (last {available})"),
        None => "saw nothing".into(),
    };
    println!(
        "feed during a flash sale: {held} holds in {:.2} s ({:.0} holds/s); the consumer read {pages} pages, {items} coalesced items ({:.0} pages/s); it saw the sell-out {behind}",
        sale.as_secs_f64(),
        held as f64 / sale.as_secs_f64(),
        pages as f64 / sale.as_secs_f64(),
    );
}
