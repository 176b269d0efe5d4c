//! Load benchmark: the service against its own ceilings, measured in the same run on the same
//! database and machine, reported as ratios (absolute numbers on a shared 2-core machine
//! swing by up to two times).
//!
//!     cargo bench --bench load                                   # SQLite (a temporary file)
//!     BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench load
//!
//! Phases (docs/benchmarks.md says what each measures and why):
//! - C_http: `GET /health` (no I/O) with `BENCH_READERS` clients, the server's own ceiling.
//! - Live lag (`live.rs`), first, on a quiet database.
//! - For each client count in `BENCH_CLIENTS` (default `64,200`): L_hot and L_spread (the
//!   app's reserve transaction straight through its pool, on one row and over 10,000 rows,
//!   `BENCH_CEILING_SECONDS` each), then a flash sale of `BENCH_UNITS` units of one SKU held
//!   one at a time until every client is told "sold out", then `BENCH_SOLD_OUT_SECONDS` of
//!   asking after the sell-out (the 409's latency).
//! - Availability reads of `BENCH_READ_SKUS` SKUs at `BENCH_STORES` stores: the maximum rate
//!   (R_read = reads ÷ C_http), the latency at 80 % of it, and the rate while a flash sale
//!   runs on another SKU.
//! - A snapshot of `BENCH_SNAPSHOT_SKUS` SKUs against the raw multi-row upsert, and reads while
//!   snapshots run back to back.
//! - The feed during a sale (`live.rs`), and the process's peak RSS.
//!
//! The server runs in this process with `WORKERS` HTTP workers (default 2); the clients are
//! plain threads with blocking sockets, so client and server share the machine's cores. Rate
//! limits are off (the load generator is one address standing for many shoppers) unless
//! `BENCH_RATE_LIMITS=checked`, which sets them too high to refuse so each request pays for
//! its count.

mod ceilings;
mod client;
mod live;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clickcollect::auth::{Claims, Keys, Role};
use clickcollect::config::Settings;
use clickcollect::db;
use clickcollect::state::AppState;
use client::{env_number, env_numbers, Client, Latencies};
use diesel::connection::SimpleConnection;
use diesel::Connection;

const SECRET: &str = "benchmark-only-secret-0123456789-abcdefghij";

fn env_seconds(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|s: &f64| *s > 0.0).unwrap_or(default)
}

struct Target {
    url: String,
    cleanup: Box<dyn FnOnce()>,
}

fn target() -> Target {
    match std::env::var("BENCH_POSTGRES_URL") {
        Ok(admin_url) => {
            let name = format!("cc_bench_{}", uuid::Uuid::new_v4().simple());
            let mut admin = diesel::PgConnection::establish(&admin_url).expect("PostgreSQL for the benchmark");
            admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
            let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
            let cleanup = Box::new(move || {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            });
            Target { url, cleanup }
        }
        Err(_) => {
            let path = std::env::temp_dir().join(format!("clickcollect-bench-{}.db", uuid::Uuid::new_v4()));
            let url = format!("sqlite://{}", path.display());
            let cleanup = Box::new(move || {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            });
            Target { url, cleanup }
        }
    }
}

/// A phase's rate and latencies.
struct Rate {
    per_second: f64,
    latencies: Latencies,
}

/// `clients` threads, each on its own connection, call `path(n)` for `seconds`.
fn read_phase(
    addr: &str,
    clients: usize,
    seconds: f64,
    path: impl Fn(usize) -> String + Send + Sync + 'static,
) -> Rate {
    let path = Arc::new(path);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, path) = (addr.to_string(), path.clone());
            std::thread::spawn(move || {
                client::lower_priority();
                let mut client = Client::connect(&addr);
                let mut latencies = Vec::new();
                let mut n = c * 7;
                while Instant::now() < deadline {
                    n += 1;
                    let started = Instant::now();
                    let (status, body) = client.send("GET", &path(n), None, None);
                    assert_eq!(status, 200, "{body}");
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    Rate { per_second: latencies.len() as f64 / seconds, latencies: Latencies::of(latencies) }
}

/// Reads at a fixed total rate, each client on its own schedule. A request's latency counts
/// from when it was written; how late the clients were for their slots (on a shared machine,
/// mostly their own wait for a core) is returned beside it, so a stall that made requests
/// late is not hidden either.
fn paced_read_phase(
    addr: &str,
    clients: usize,
    seconds: f64,
    total_rate: f64,
    path: impl Fn(usize) -> String + Send + Sync + 'static,
) -> (Rate, Latencies) {
    let path = Arc::new(path);
    let interval = Duration::from_secs_f64(clients as f64 / total_rate);
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs_f64(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, path) = (addr.to_string(), path.clone());
            std::thread::spawn(move || {
                client::lower_priority();
                let mut client = Client::connect(&addr);
                let (mut latencies, mut lateness) = (Vec::new(), Vec::new());
                let mut due = start + interval.mul_f64(c as f64 / clients as f64);
                let mut n = c * 7;
                while due < end {
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    n += 1;
                    let sent = Instant::now();
                    lateness.push(sent.saturating_duration_since(due));
                    let (status, body) = client.send("GET", &path(n), None, None);
                    assert_eq!(status, 200, "{body}");
                    latencies.push(sent.elapsed());
                    due += interval;
                }
                (latencies, lateness)
            })
        })
        .collect();
    let (mut latencies, mut lateness) = (Vec::new(), Vec::new());
    for handle in handles {
        let (l, late) = handle.join().unwrap();
        latencies.extend(l);
        lateness.extend(late);
    }
    let rate = Rate { per_second: latencies.len() as f64 / seconds, latencies: Latencies::of(latencies) };
    (rate, Latencies::of(lateness))
}

struct Sale {
    held: i64,
    holds_per_second: f64,
    latencies: Latencies,
    errors: usize,
    sold_out: Rate,
}

/// A flash sale: `clients` shoppers hold one unit at a time of `sku` at FLAG until each is
/// told "sold out"; then every one keeps asking for `sold_out_seconds`, each answer a 409.
fn flash_sale(addr: &str, clients: usize, sku: &str, sold_out_seconds: f64, token: &dyn Fn(usize) -> String) -> Sale {
    let started_together = Arc::new(Barrier::new(clients + 1));
    let all_sold_out = Arc::new(Barrier::new(clients + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let body = format!(r#"{{"location":"FLAG","lines":[{{"sku":"{sku}","quantity":1}}]}}"#);
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (addr, token, body) = (addr.to_string(), token(i), body.clone());
            let (started_together, all_sold_out, stop) = (started_together.clone(), all_sold_out.clone(), stop.clone());
            std::thread::spawn(move || {
                client::lower_priority();
                let mut client = Client::connect(&addr);
                let (mut held, mut errors, mut latencies, mut refusals) = (0i64, 0usize, Vec::new(), Vec::new());
                started_together.wait();
                loop {
                    let started = Instant::now();
                    let (status, answer) = client.send("POST", "/v1/reservations", Some(&token), Some(&body));
                    latencies.push(started.elapsed());
                    match status {
                        201 => held += 1,
                        409 => break,
                        _ => {
                            errors += 1;
                            assert!(errors < 100, "{status}: {answer}");
                        }
                    }
                }
                all_sold_out.wait();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let (status, answer) = client.send("POST", "/v1/reservations", Some(&token), Some(&body));
                    refusals.push(started.elapsed());
                    assert_eq!(status, 409, "sold out, yet: {answer}");
                }
                (held, errors, latencies, refusals)
            })
        })
        .collect();
    started_together.wait();
    let started = Instant::now();
    all_sold_out.wait();
    let selling = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs_f64(sold_out_seconds));
    stop.store(true, Ordering::Relaxed);
    let (mut held, mut errors, mut latencies, mut refusals) = (0, 0, Vec::new(), Vec::new());
    for handle in handles {
        let (h, e, l, r) = handle.join().unwrap();
        held += h;
        errors += e;
        latencies.extend(l);
        refusals.extend(r);
    }
    let refused = refusals.len() as f64 / sold_out_seconds;
    Sale {
        held,
        holds_per_second: held as f64 / selling,
        latencies: Latencies::of(latencies),
        errors,
        sold_out: Rate { per_second: refused, latencies: Latencies::of(refusals) },
    }
}

/// Shoppers holding `sku` one unit at a time until `stop`; returns how many holds they made.
fn background_sale(
    addr: &str,
    clients: usize,
    sku: &str,
    stop: Arc<AtomicBool>,
    token: &dyn Fn(usize) -> String,
) -> std::thread::JoinHandle<u64> {
    let held = Arc::new(AtomicU64::new(0));
    let body = format!(r#"{{"location":"FLAG","lines":[{{"sku":"{sku}","quantity":1}}]}}"#);
    let shoppers: Vec<_> = (0..clients)
        .map(|i| {
            let (addr, token, body, stop, held) =
                (addr.to_string(), token(i), body.clone(), stop.clone(), held.clone());
            std::thread::spawn(move || {
                client::lower_priority();
                let mut client = Client::connect(&addr);
                while !stop.load(Ordering::Relaxed) {
                    if client.send("POST", "/v1/reservations", Some(&token), Some(&body)).0 == 201 {
                        held.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::spawn(move || {
        for shopper in shoppers {
            shopper.join().unwrap();
        }
        held.load(Ordering::Relaxed)
    })
}

/// The process's peak resident set (VmHWM), in MB: server and client threads together.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:")?.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let client_counts = env_numbers("BENCH_CLIENTS", &[64, 200]);
    let units = env_number("BENCH_UNITS", 5_000) as i64;
    let readers = env_number("BENCH_READERS", 64);
    let read_seconds = env_seconds("BENCH_READ_SECONDS", 10.0);
    let ceiling_seconds = env_seconds("BENCH_CEILING_SECONDS", 3.0);
    let sold_out_seconds = env_seconds("BENCH_SOLD_OUT_SECONDS", 2.0);
    let store_count = env_number("BENCH_STORES", 20).max(1);
    let read_skus = env_number("BENCH_READ_SKUS", 100).max(1);
    let snapshot_skus = env_number("BENCH_SNAPSHOT_SKUS", 10_000).max(1);
    let workers = env_number("WORKERS", 2);

    let target = target();
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), target.url.clone());
    vars.insert("JWT_SECRET".into(), SECRET.into());
    vars.insert("WORKERS".into(), workers.to_string());
    // A client stands for a stream of shoppers, holding one unit after another: the limits
    // per customer (which would stop it at its fifth open hold) are off, or, with
    // BENCH_LIMITS=checked, set too high to refuse, so each hold still pays for the check.
    let limit = if std::env::var("BENCH_LIMITS").as_deref() == Ok("checked") { "1000000" } else { "0" };
    for name in ["LIMIT_OPEN_HOLDS_PER_CUSTOMER", "LIMIT_OPEN_ORDERS_PER_CUSTOMER", "LIMIT_UNITS_PER_SKU_PER_CUSTOMER"]
    {
        vars.insert(name.into(), limit.into());
    }
    let rate_limit = if std::env::var("BENCH_RATE_LIMITS").as_deref() == Ok("checked") { "100000000" } else { "0" };
    vars.insert("RATE_LIMIT_PER_MINUTE".into(), rate_limit.into());
    vars.insert("RATE_LIMIT_ANONYMOUS_PER_MINUTE".into(), rate_limit.into());
    vars.insert("STREAMS_PER_ADDRESS".into(), "10000".into());
    // The server's own knobs pass through (HOLD_BATCH_MAX=1 measures without batching, say).
    for name in ["HOLD_BATCH_MAX", "AVAILABILITY_CACHE_MS", "DATABASE_POOL_SIZE"] {
        if let Ok(value) = std::env::var(name) {
            vars.insert(name.into(), value);
        }
    }
    let redis_url = std::env::var("BENCH_REDIS_URL").ok().filter(|_| target.url.starts_with("postgres"));
    if let Some(url) = &redis_url {
        vars.insert("REDIS_URL".into(), url.clone());
        vars.insert("REDIS_KEY_PREFIX".into(), format!("cc-bench-{}:", std::process::id()));
    }
    let settings = Settings::from_vars(&vars).expect("settings");
    let backend = settings.database.backend_name();
    let pool_size = settings.pool_size;
    let nice = env_number("BENCH_CLIENT_NICE", 10);
    let (batch_max, memory_ms) = (settings.orders.hold_batch_max, settings.orders.stock_memory.as_millis());
    let pool = db::connect_pool(&settings.database, settings.pool_size).expect("database");
    let keys = Keys::from_settings(&settings).unwrap();
    let mint = Keys::from_settings(&settings).unwrap();
    let seed_pool = pool.clone();
    let state = AppState::new(pool, settings, keys).expect("settings build");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = clickcollect::run_server(listener, state).unwrap();
            handle_tx.send(server.handle()).unwrap();
            server.await.unwrap();
        })
    });
    let server = handle_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let token = |role: Role, sub: &str| {
        mint.mint(&Claims {
            sub: sub.into(),
            role,
            store: None,
            scopes: vec![],
            exp: chrono::Utc::now().timestamp() + 3600,
            iat: None,
            iss: None,
            aud: None,
            nbf: None,
        })
        .unwrap()
    };
    let admin = token(Role::Admin, "bench");
    let shoppers: Vec<String> = (0..client_counts.iter().copied().max().unwrap_or(1).max(readers))
        .map(|i| token(Role::Customer, &format!("fan-{i}")))
        .collect();
    let shopper = |i: usize| shoppers[i].clone();
    let mut setup = Client::connect(&addr);
    let store = |lat: f64| {
        format!(
            r#"{{"name":"Store","kind":"store","timezone":"Europe/Warsaw","latitude":{lat},"longitude":21.01,
            "pickup":{{"in_store":true,"curbside":true}},"pickup_hold_days":2,"fulfils_online":true,"active":true}}"#
        )
    };
    assert_eq!(setup.send("PUT", "/v1/locations/FLAG", Some(&admin), Some(&store(52.23))).0, 201);
    let stores: Vec<String> = (1..store_count).map(|n| format!("S{n:03}")).collect();
    for (n, code) in stores.iter().enumerate() {
        let put =
            setup.send("PUT", &format!("/v1/locations/{code}"), Some(&admin), Some(&store(50.0 + n as f64 * 0.1)));
        assert_eq!(put.0, 201, "{}", put.1);
    }
    let reads: Vec<String> = (0..read_skus).map(|n| format!("READ-{n:04}")).collect();
    for location in std::iter::once("FLAG").chain(stores.iter().map(String::as_str)) {
        ceilings::seed_levels(&seed_pool, location, &reads, 50);
    }
    let spread: Arc<Vec<String>> = Arc::new((0..10_000).map(|n| format!("SPREAD-{n:05}")).collect());
    ceilings::seed_levels(&seed_pool, "FLAG", &spread, 1_000_000_000);

    println!(
        "clickcollect load benchmark, {}: backend {backend}, {workers} HTTP workers, pool {pool_size}, {} CPUs; \
         HOLD_BATCH_MAX {batch_max}, AVAILABILITY_CACHE_MS {memory_ms}; {readers} readers, {read_seconds} s per read phase; \
         client threads at nice {nice}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let mut summary = Vec::new();

    // C_http: the server's own ceiling.
    let health = read_phase(&addr, readers, read_seconds, |_| "/health".to_string());
    println!("C_http, /health (no I/O): {readers} clients: {:.0} requests/s; {}", health.per_second, health.latencies);
    // Live lag first, on a database not yet busy with what the later phases leave behind
    // (after tens of thousands of holds, autovacuum's snapshots hold the log's horizon back).
    live::live_lag(&addr, &admin, redis_url.as_deref());

    // The flash sales, each beside its own ceilings.
    for &clients in &client_counts {
        let hot = format!("HOT-{clients}");
        ceilings::seed_levels(&seed_pool, "FLAG", std::slice::from_ref(&hot), 1_000_000_000);
        let l_hot = ceilings::reserve_rate(&seed_pool, "FLAG", clients, ceiling_seconds, move |_| hot.clone());
        let picks = spread.clone();
        let l_spread = ceilings::reserve_rate(&seed_pool, "FLAG", clients, ceiling_seconds, move |n| {
            picks[(n.wrapping_mul(2_654_435_761) % picks.len() as u64) as usize].clone()
        });
        let sku = format!("DROP-{clients}");
        let product = r#"{"name":"Limited sneaker","price":{"amount_minor":19999,"currency":"EUR"}}"#;
        assert_eq!(setup.send("PUT", &format!("/v1/products/{sku}"), Some(&admin), Some(product)).0, 201);
        let count = format!(r#"{{"on_hand":{units}}}"#);
        assert_eq!(setup.send("PUT", &format!("/v1/stock/FLAG/{sku}"), Some(&admin), Some(&count)).0, 200);
        let sale = flash_sale(&addr, clients, &sku, sold_out_seconds, &shopper);
        let (_, level) = setup.send("GET", &format!("/v1/stock/FLAG/{sku}"), Some(&admin), None);
        let level: serde_json::Value = serde_json::from_str(&level).unwrap();
        let reserved = level["reserved"].as_i64().unwrap();
        let oversell = (reserved - units).max(0) + (sale.held - units).max(0);
        let (r_hot, r_spread) = (sale.holds_per_second / l_hot, sale.holds_per_second / l_spread);
        println!(
            "flash sale, {clients} clients, {units} units: {} held = {:.0} holds/s; {} errors; {}",
            sale.held, sale.holds_per_second, sale.errors, sale.latencies
        );
        println!(
            "  ceilings, {clients} clients through the pool: L_hot {l_hot:.0} tx/s (one row), L_spread {l_spread:.0} tx/s (10,000 rows); \
             R_hot {r_hot:.2}, R_spread {r_spread:.2}"
        );
        println!(
            "  after the sell-out, {sold_out_seconds} s: {:.0} answers/s, all 409; {}",
            sale.sold_out.per_second, sale.sold_out.latencies
        );
        println!("  reserved {reserved} of {units}; oversell {oversell}");
        assert_eq!(oversell, 0, "oversold");
        assert_eq!(reserved, sale.held, "every successful hold is reserved, and nothing else");
        summary.push(format!(
            "flash sale, {clients} clients: {:.0} holds/s; R_hot {r_hot:.2} (target >= 3: {}), R_spread {r_spread:.2}; \
             sold-out 409 p99 {:.2} ms (target < 20 ms: {}); oversell 0",
            sale.holds_per_second,
            verdict(r_hot >= 3.0),
            sale.sold_out.latencies.p99,
            verdict(sale.sold_out.latencies.p99 < 20.0)
        ));
    }

    // Availability reads.
    let read_path = {
        let reads = reads.clone();
        move |n: usize| format!("/v1/availability/{}", reads[n % reads.len()])
    };
    let alone = read_phase(&addr, readers, read_seconds, read_path.clone());
    let r_read = alone.per_second / health.per_second;
    println!(
        "availability reads, {read_skus} SKUs at {store_count} stores, {readers} clients: {:.0} reads/s (R_read {r_read:.2}); {}",
        alone.per_second, alone.latencies
    );
    let (paced, late) = paced_read_phase(&addr, readers, read_seconds, alone.per_second * 0.8, read_path.clone());
    let spread_ratio = paced.latencies.p99 / paced.latencies.p50.max(0.001);
    println!(
        "  at 80 % of that rate ({:.0} reads/s asked, {:.0} served): {}; p99/p50 {spread_ratio:.1}; \
         the clients' lateness for their slots: {}",
        alone.per_second * 0.8,
        paced.per_second,
        paced.latencies,
        late
    );
    let sale_clients = client_counts.iter().copied().max().unwrap_or(64);
    let product = r#"{"name":"Background drop","price":{"amount_minor":100,"currency":"EUR"}}"#;
    assert_eq!(setup.send("PUT", "/v1/products/DROP-BG", Some(&admin), Some(product)).0, 201);
    assert_eq!(setup.send("PUT", "/v1/stock/FLAG/DROP-BG", Some(&admin), Some(r#"{"on_hand":100000000}"#)).0, 200);
    let stop = Arc::new(AtomicBool::new(false));
    let sale = background_sale(&addr, sale_clients, "DROP-BG", stop.clone(), &shopper);
    std::thread::sleep(Duration::from_millis(300));
    let during = read_phase(&addr, readers, read_seconds, read_path.clone());
    stop.store(true, Ordering::Relaxed);
    let background_holds = sale.join().unwrap();
    let kept = during.per_second / alone.per_second;
    println!(
        "  while {sale_clients} shoppers hold another SKU: {:.0} reads/s ({:.0} % of alone); {}; the sale made {background_holds} holds",
        during.per_second,
        kept * 100.0,
        during.latencies
    );
    summary.push(format!(
        "availability reads: R_read {r_read:.2} (target >= 0.5: {}); p99/p50 at 80 % {spread_ratio:.1} (target <= 10: {}); \
         during a flash sale {:.0} % of alone (target >= 75 %: {})",
        verdict(r_read >= 0.5),
        verdict(spread_ratio <= 10.0),
        kept * 100.0,
        verdict(kept >= 0.75)
    ));

    // A store's snapshot against the raw multi-row upsert, then reads while snapshots run.
    // At a store of their own: a POS snapshot covers the store's whole assortment.
    assert_eq!(setup.send("PUT", "/v1/locations/SNAPS", Some(&admin), Some(&store(51.0))).0, 201);
    let snaps: Vec<String> = (0..snapshot_skus).map(|n| format!("SNAP-{n:06}")).collect();
    ceilings::seed_products(&seed_pool, &snaps);
    let snapshot_body = |round: usize| {
        let items: Vec<String> = snaps
            .iter()
            .enumerate()
            .map(|(n, sku)| format!(r#"{{"sku":"{sku}","on_hand":{}}}"#, n % 50 + round))
            .collect();
        format!(r#"{{"items":[{}]}}"#, items.join(","))
    };
    let mut snapshot_rates = Vec::new();
    for (round, label) in [(1, "first count (levels created)"), (2, "recount (every level changed)")] {
        let body = snapshot_body(round);
        let started = Instant::now();
        let (status, answer) = setup.send("POST", "/v1/stock/SNAPS/snapshot", Some(&admin), Some(&body));
        let elapsed = started.elapsed();
        assert_eq!(status, 200, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["changed"].as_u64(), Some(snapshot_skus as u64), "{answer}");
        let rate = snapshot_skus as f64 / elapsed.as_secs_f64();
        snapshot_rates.push(rate);
        println!(
            "snapshot, {label}: {snapshot_skus} SKUs in {:.0} ms = {rate:.0} SKUs/s",
            elapsed.as_secs_f64() * 1000.0
        );
    }
    let raw = {
        let counts: Vec<(String, i64)> =
            snaps.iter().enumerate().map(|(n, sku)| (sku.clone(), (n % 50 + 3) as i64)).collect();
        let mut conn = seed_pool.get().unwrap();
        let started = Instant::now();
        db::write_tx(&mut conn, |conn| {
            ceilings::upsert_levels(conn, "SNAPS", counts.clone(), chrono::Utc::now().naive_utc())
        })
        .unwrap();
        snapshot_skus as f64 / started.elapsed().as_secs_f64()
    };
    let snapshot_ratio = snapshot_rates[1] / raw;
    println!("  the raw multi-row upsert of the same {snapshot_skus} levels, one transaction: {raw:.0} SKUs/s; recount ÷ raw {snapshot_ratio:.2}");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (addr, admin, stop) = (addr.clone(), admin.clone(), stop.clone());
        let bodies = [snapshot_body(4), snapshot_body(5)];
        std::thread::spawn(move || {
            client::lower_priority();
            let mut client = Client::connect(&addr);
            let mut done = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let (status, answer) =
                    client.send("POST", "/v1/stock/SNAPS/snapshot", Some(&admin), Some(&bodies[done % 2]));
                assert_eq!(status, 200, "{answer}");
                done += 1;
            }
            done
        })
    };
    let watched: Vec<String> = snaps.iter().take(100).cloned().collect();
    let during_snapshots =
        read_phase(&addr, readers, read_seconds, move |n| format!("/v1/availability/{}", watched[n % watched.len()]));
    stop.store(true, Ordering::Relaxed);
    let snapshots_done = writer.join().unwrap();
    let r_read_snapshots = during_snapshots.per_second / health.per_second;
    println!(
        "  reads of 100 of those SKUs while {snapshots_done} snapshots ran back to back: {:.0} reads/s (R_read {r_read_snapshots:.2}); {}",
        during_snapshots.per_second, during_snapshots.latencies
    );
    summary.push(format!(
        "snapshot of {snapshot_skus} SKUs: recount {:.0} SKUs/s = {snapshot_ratio:.2} of the raw upsert (target >= 0.5: {}); \
         reads meanwhile R_read {r_read_snapshots:.2} (target >= 0.3: {})",
        snapshot_rates[1],
        verdict(snapshot_ratio >= 0.5),
        verdict(r_read_snapshots >= 0.3)
    ));

    live::feed_during_a_sale(&addr, &admin, sale_clients, env_number("BENCH_FEED_UNITS", 3_000) as i64, &token);

    let rss = peak_rss_mb();
    summary.push(format!(
        "peak RSS of the benchmark process (server and every client thread): {rss:.0} MB (target < 300 MB: {})",
        verdict(rss < 300.0)
    ));
    println!("\nsummary ({backend}):");
    for line in summary {
        println!("- {line}");
    }
    // The server and its pool go before the database does: a pool whose database vanished
    // would reconnect from its threads while the process exits.
    actix_web::rt::System::new().block_on(server.stop(false));
    server_thread.join().unwrap();
    drop(seed_pool);
    (target.cleanup)();
}
