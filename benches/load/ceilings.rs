//! The database's own ceilings, measured in the same run as the service: the app's reserve
//! statements straight through its driver and pool, without HTTP, one transaction each, on
//! one row (L_hot) and over many (L_spread); and the raw multi-row upsert a snapshot is
//! compared with.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clickcollect::db::schema::{products, stock_levels};
use clickcollect::db::{write_tx, DbConn, Pool};
use clickcollect::error::ApiError;
use clickcollect::stock::reserve::{reserve_all, Entry, Line};
use diesel::prelude::*;

/// Products written straight to the database (the benchmark's own set-up).
pub fn seed_products(pool: &Pool, skus: &[String]) {
    let now = chrono::Utc::now().naive_utc();
    let mut conn = pool.get().unwrap();
    write_tx(&mut conn, |conn| {
        for chunk in skus.chunks(1_000) {
            let products: Vec<_> = chunk
                .iter()
                .map(|sku| {
                    (
                        products::sku.eq(sku.clone()),
                        products::name.eq("bench"),
                        products::price_amount_minor.eq(100i64),
                        products::price_currency.eq("EUR"),
                        products::created_at.eq(now),
                        products::updated_at.eq(now),
                    )
                })
                .collect();
            insert_or_skip(conn, products)?;
        }
        Ok(())
    })
    .unwrap();
}

/// Products and their levels at `location`, written straight to the database.
pub fn seed_levels(pool: &Pool, location: &str, skus: &[String], on_hand: i64) {
    seed_products(pool, skus);
    let now = chrono::Utc::now().naive_utc();
    let mut conn = pool.get().unwrap();
    let counts: Vec<(String, i64)> = skus.iter().map(|sku| (sku.clone(), on_hand)).collect();
    write_tx(&mut conn, |conn| upsert_levels(conn, location, counts.clone(), now)).unwrap();
}

type ProductRow = (
    diesel::dsl::Eq<products::sku, String>,
    diesel::dsl::Eq<products::name, &'static str>,
    diesel::dsl::Eq<products::price_amount_minor, i64>,
    diesel::dsl::Eq<products::price_currency, &'static str>,
    diesel::dsl::Eq<products::created_at, chrono::NaiveDateTime>,
    diesel::dsl::Eq<products::updated_at, chrono::NaiveDateTime>,
);

fn insert_or_skip(conn: &mut DbConn, rows: Vec<ProductRow>) -> Result<(), ApiError> {
    match conn {
        DbConn::Postgres(c) => {
            diesel::insert_into(products::table).values(rows).on_conflict_do_nothing().execute(c)?;
        }
        DbConn::Sqlite(c) => {
            diesel::insert_or_ignore_into(products::table).values(rows).execute(c)?;
        }
    }
    Ok(())
}

/// The raw multi-row upsert: `INSERT … ON CONFLICT (location, sku) DO UPDATE SET on_hand`.
pub fn upsert_levels(
    conn: &mut DbConn,
    location: &str,
    counts: Vec<(String, i64)>,
    now: chrono::NaiveDateTime,
) -> Result<(), ApiError> {
    use diesel::upsert::excluded;
    for chunk in counts.chunks(1_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(sku, on_hand)| {
                (
                    stock_levels::location.eq(location.to_string()),
                    stock_levels::sku.eq(sku.clone()),
                    stock_levels::on_hand.eq(*on_hand),
                    stock_levels::reserved.eq(0i64),
                    stock_levels::safety_stock.eq(0i64),
                    stock_levels::updated_at.eq(now),
                )
            })
            .collect();
        let set = (stock_levels::on_hand.eq(excluded(stock_levels::on_hand)), stock_levels::updated_at.eq(now));
        match conn {
            DbConn::Postgres(c) => diesel::insert_into(stock_levels::table)
                .values(rows)
                .on_conflict((stock_levels::location, stock_levels::sku))
                .do_update()
                .set(set)
                .execute(c)?,
            DbConn::Sqlite(c) => diesel::insert_into(stock_levels::table)
                .values(rows)
                .on_conflict((stock_levels::location, stock_levels::sku))
                .do_update()
                .set(set)
                .execute(c)?,
        };
    }
    Ok(())
}

/// Reserve transactions per second: `clients` threads, each taking a pooled connection per
/// transaction as a request does, reserving one unit of a SKU `pick` chooses, for `seconds`.
/// Each transaction is the app's own `reserve_all`: the conditional `UPDATE` and its ledger
/// row (with its change-log row).
pub fn reserve_rate(
    pool: &Pool,
    location: &str,
    clients: usize,
    seconds: f64,
    pick: impl Fn(u64) -> String + Send + Sync + 'static,
) -> f64 {
    let pick = Arc::new(pick);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (pool, pick, done, stop, barrier) =
                (pool.clone(), pick.clone(), done.clone(), stop.clone(), barrier.clone());
            let location = location.to_string();
            std::thread::spawn(move || {
                super::client::lower_priority();
                let mut n = client as u64 * 7_919;
                barrier.wait();
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_add(1);
                    let sku = pick(n);
                    let mut conn = pool.get().expect("a pooled connection");
                    let reference = format!("ceiling-{client}-{n}");
                    let entry = Entry {
                        reason: "hold",
                        reference: &reference,
                        actor: "bench",
                        at: chrono::Utc::now().naive_utc(),
                    };
                    write_tx(&mut conn, |conn| reserve_all(conn, &location, &[Line::new(sku.clone(), 1)], &entry))
                        .expect("a reserve transaction");
                    drop(conn);
                    // What `AppState::db` would take after the work: nobody else asks here.
                    clickcollect::changes::take_recorded();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let counted = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    counted as f64 / elapsed
}
