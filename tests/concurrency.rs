//! Many clients at once against the same levels: the ledger still adds up, `on_hand` never
//! goes negative, batches that share levels in opposite orders never deadlock, and a
//! transaction PostgreSQL aborts to break a deadlock is run again.

mod common;

use actix_web::http::Method;
use common::TestApp;
use futures_util::future::join_all;
use serde_json::json;

/// 96 concurrent writers on one (location, sku): counts, receipts, and sales large enough that
/// many must be refused. Every answer is a 200 or a 409, never a 5xx.
async fn parallel_counts_and_adjustments_keep_the_ledger_exact(app: TestApp) {
    app.put_location("S1", json!({})).await;
    app.put_product("HOT").await;
    app.count("S1", "HOT", 20).await;
    let admin = app.admin();
    let requests = (0..96).map(|i| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let reply = match i % 4 {
                0 => {
                    let body = json!({"on_hand": (i * 7) % 25});
                    app.request(Method::PUT, "/v1/stock/S1/HOT").bearer(&admin).json(&body).send().await
                }
                1 => {
                    let body =
                        json!({"adjustments": [{"location": "S1", "sku": "HOT", "delta": 3, "reason": "receipt"}]});
                    app.request(Method::POST, "/v1/stock/adjustments").bearer(&admin).json(&body).send().await
                }
                _ => {
                    let body =
                        json!({"adjustments": [{"location": "S1", "sku": "HOT", "delta": -9, "reason": "sale"}]});
                    app.request(Method::POST, "/v1/stock/adjustments").bearer(&admin).json(&body).send().await
                }
            };
            (i % 4, reply.status, reply.text)
        }
    });
    let results = join_all(requests).await;
    let mut refused_sales = 0;
    for (kind, status, text) in &results {
        assert!(*status == 200 || (*status == 409 && *kind >= 2), "kind {kind} answered {status}: {text}");
        if *status == 409 {
            assert!(text.contains("negative-stock"));
            refused_sales += 1;
        }
    }
    assert!(refused_sales > 0, "the sales outnumber the stock, so some must have been refused");
    let level = app.level("S1", "HOT").await;
    assert!(level["on_hand"].as_i64().unwrap() >= 0);
    app.assert_ledger_balances("S1", "HOT").await;
    let movements = app.movements("S1", "HOT").await;
    let applied_adjustments = results.iter().filter(|(kind, status, _)| *kind >= 1 && *status == 200).count();
    let count_movements = movements.iter().filter(|m| m["reason"] == "count").count();
    assert_eq!(movements.len() - count_movements, applied_adjustments, "one movement per applied adjustment");
    let mut conn = app.conn();
    assert!(clickcollect::stock::ledger::find_drift(&mut conn).unwrap().is_empty());
}

/// Batches touching the same three levels in opposite orders, all at once: levels are locked
/// in one fixed order, so none deadlocks and every one is applied.
async fn opposite_order_batches_do_not_deadlock(app: TestApp) {
    app.put_location("S1", json!({})).await;
    for sku in ["X", "Y", "Z"] {
        app.put_product(sku).await;
        app.count("S1", sku, 1000).await;
    }
    let admin = app.admin();
    let requests = (0..60).map(|i| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let mut skus = ["X", "Y", "Z"];
            if i % 2 == 1 {
                skus.reverse();
            }
            let lines: Vec<_> =
                skus.iter().map(|s| json!({"location": "S1", "sku": s, "delta": -1, "reason": "sale"})).collect();
            app.request(Method::POST, "/v1/stock/adjustments")
                .bearer(&admin)
                .json(&json!({"adjustments": lines}))
                .send()
                .await
        }
    });
    for reply in join_all(requests).await {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    for sku in ["X", "Y", "Z"] {
        assert_eq!(app.level("S1", sku).await["on_hand"], 940);
        app.assert_ledger_balances("S1", sku).await;
    }
}

/// Two snapshots and a stream of adjustments on one location at once.
async fn snapshots_and_adjustments_interleave_safely(app: TestApp) {
    app.put_location("S1", json!({})).await;
    for sku in ["P", "Q"] {
        app.put_product(sku).await;
    }
    let admin = app.admin();
    let requests = (0..40).map(|i| {
        let admin = admin.clone();
        let app = &app;
        async move {
            if i % 10 == 0 {
                let body = json!({"items": [{"sku": "P", "on_hand": 50}, {"sku": "Q", "on_hand": 50}]});
                app.request(Method::POST, "/v1/stock/S1/snapshot").bearer(&admin).json(&body).send().await
            } else {
                let sku = if i % 2 == 0 { "P" } else { "Q" };
                let body = json!({"adjustments": [{"location": "S1", "sku": sku, "delta": 2, "reason": "receipt"}]});
                app.request(Method::POST, "/v1/stock/adjustments").bearer(&admin).json(&body).send().await
            }
        }
    });
    for reply in join_all(requests).await {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    for sku in ["P", "Q"] {
        app.assert_ledger_balances("S1", sku).await;
    }
}

on_both_backends!(
    parallel_counts_and_adjustments_keep_the_ledger_exact,
    opposite_order_batches_do_not_deadlock,
    snapshots_and_adjustments_interleave_safely,
);

/// If PostgreSQL ever breaks a deadlock, the transaction it aborted is run again rather than
/// failing the request. Two transactions take two rows in opposite orders on purpose.
#[actix_web::test]
async fn a_transaction_aborted_by_a_deadlock_is_retried() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use clickcollect::db::write_tx;
    use diesel::connection::SimpleConnection;

    let Some(app) = TestApp::spawn(common::Backend::Postgres).await else { return };
    app.conn()
        .batch_execute("CREATE TABLE deadlock_probe (id INT PRIMARY KEY, n INT NOT NULL); INSERT INTO deadlock_probe VALUES (1, 0), (2, 0);")
        .unwrap();
    let both_hold_their_first_row = Arc::new(Barrier::new(2));
    let runs = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = [(1, 2), (2, 1)]
        .into_iter()
        .map(|(first, second)| {
            let (barrier, runs, mut conn) = (both_hold_their_first_row.clone(), runs.clone(), app.conn());
            std::thread::spawn(move || {
                let mut attempt = 0;
                write_tx(&mut conn, |conn| {
                    attempt += 1;
                    runs.fetch_add(1, Ordering::SeqCst);
                    conn.batch_execute(&format!("UPDATE deadlock_probe SET n = n + 1 WHERE id = {first}"))?;
                    if attempt == 1 {
                        barrier.wait();
                    }
                    conn.batch_execute(&format!("UPDATE deadlock_probe SET n = n + 1 WHERE id = {second}"))?;
                    Ok(())
                })
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap().expect("both transactions commit in the end");
    }
    // At least one was aborted and run again; a retry can race the survivor for the freed row
    // and deadlock once more, so three runs or more.
    assert!(runs.load(Ordering::SeqCst) >= 3, "a deadlock aborted one of the two, and it was run again");
    let mut conn = app.conn();
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Total {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
    }
    let total: Total =
        diesel::sql_query("SELECT SUM(n)::BIGINT AS total FROM deadlock_probe").get_result(&mut *conn).unwrap();
    assert_eq!(total.total, 4);
}
