//! The change log: what is committed is read once, in order, from any cursor; what rolls back
//! is never read; and a change that commits after a later-numbered one is not skipped.

mod common;

use clickcollect::changes::{read_after, record, ChangeKind, Cursor, NewChange};
use clickcollect::db::write_tx;
use common::TestApp;

fn level_change(sku: &str) -> NewChange {
    NewChange {
        kind: ChangeKind::Level.as_str().into(),
        location: "S1".into(),
        at: chrono::Utc::now().naive_utc(),
        sku: Some(sku.into()),
        order_id: None,
        detail: None,
    }
}

/// Reads the whole log from `cursor`, `page` rows at a time.
fn read_all(app: &TestApp, mut cursor: Cursor, page: i64) -> (Vec<String>, Cursor) {
    let mut skus = Vec::new();
    loop {
        let changes = read_after(&mut app.conn(), cursor, page).unwrap();
        let Some(last) = changes.last() else { return (skus, cursor) };
        cursor = last.cursor();
        skus.extend(changes.into_iter().map(|c| c.what.sku.unwrap_or_default()));
    }
}

/// Reads from `cursor` until `count` changes are readable: on PostgreSQL a change is readable
/// once every older transaction of the server (other tests' too) has finished.
async fn read_when_final(app: &TestApp, cursor: Cursor, page: i64, count: usize) -> (Vec<String>, Cursor) {
    let started = std::time::Instant::now();
    loop {
        let (seen, end) = read_all(app, cursor, page);
        if seen.len() >= count {
            return (seen, end);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "only {seen:?} after 10 s");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn committed_changes_are_read_once_in_order_and_rolled_back_ones_never(app: TestApp) {
    for sku in ["A", "B", "C"] {
        write_tx(&mut app.conn(), |conn| record(conn, &level_change(sku))).unwrap();
    }
    let rolled_back = write_tx(&mut app.conn(), |conn| {
        record(conn, &level_change("GHOST"))?;
        Err::<(), _>(clickcollect::error::ApiError::Conflict("changed my mind".into()))
    });
    assert!(rolled_back.is_err());
    write_tx(&mut app.conn(), |conn| record(conn, &level_change("D"))).unwrap();
    let (all, end) = read_when_final(&app, Cursor::START, 2, 4).await;
    assert_eq!(all, ["A", "B", "C", "D"]);
    // From the end, nothing; from the middle, the rest; the empty page keeps its cursor.
    assert!(read_after(&mut app.conn(), end, 10).unwrap().is_empty());
    let second = read_after(&mut app.conn(), Cursor::START, 2).unwrap()[1].cursor();
    assert_eq!(read_all(&app, second, 10).0, ["C", "D"]);
    let text = second.text();
    assert_eq!(Cursor::parse(&text), Some(second), "{text}");
}

/// The interleaving a sequence allows on PostgreSQL: a transaction takes seq 10, another
/// takes seq 11 and commits first. A reader looking then must not move past 11, or it would
/// never see 10.
#[actix_web::test]
async fn a_change_that_commits_after_a_later_numbered_one_is_not_skipped() {
    use clickcollect::db::schema::changes;
    use diesel::prelude::*;
    let Some(app) = TestApp::spawn(common::Backend::Postgres).await else { return };
    let (mut slow, mut quick) = (app.conn(), app.conn());
    diesel::sql_query("BEGIN").execute(&mut *slow).unwrap();
    record(&mut slow, &level_change("SLOW")).unwrap();
    let slow_seq: i64 = changes::table.select(changes::seq).first(&mut *slow).unwrap();
    diesel::sql_query("BEGIN").execute(&mut *quick).unwrap();
    record(&mut quick, &level_change("QUICK")).unwrap();
    diesel::sql_query("COMMIT").execute(&mut *quick).unwrap();
    // The interleaving happened: the later number is committed, the earlier one is not.
    let committed: Vec<i64> = changes::table.select(changes::seq).load(&mut *app.conn()).unwrap();
    assert_eq!(committed.len(), 1);
    assert!(committed[0] > slow_seq, "QUICK took the later number ({} > {slow_seq})", committed[0]);

    // A reader now gets nothing: QUICK waits for SLOW, which may still commit.
    let (seen, cursor) = read_all(&app, Cursor::START, 10);
    assert!(seen.is_empty(), "read past a change still in flight: {seen:?}");
    diesel::sql_query("COMMIT").execute(&mut *slow).unwrap();
    // Both, in log order, from the cursor the first reader kept.
    assert_eq!(read_when_final(&app, cursor, 10, 2).await.0, ["SLOW", "QUICK"]);
}

/// What stock and orders write: a level's change with each movement (a count, a hold, an
/// order), a safety stock that moves availability without a movement, and an order's change
/// with each entry of its timeline.
async fn stock_and_order_changes_reach_the_log(app: TestApp) {
    use serde_json::{json, Value};
    app.stocked_store("S1", json!({}), "A", 5).await;
    let admin = app.admin();
    app.put("/v1/stock/S1/A", Some(&admin), &json!({"on_hand": 5, "safety_stock": 1})).await.ok();
    let ann = app.customer("ann");
    let order = app.post("/v1/orders", Some(&ann), &common::pickup_order("S1", "ann", "A", 2)).await;
    let id = order.ok()["id"].as_str().unwrap().to_string();
    app.request(actix_web::http::Method::POST, &format!("/v1/orders/{id}/picking")).bearer(&admin).send().await.ok();

    let mut seen = Vec::new();
    let started = std::time::Instant::now();
    while seen.len() < 5 {
        seen = read_after(&mut app.conn(), Cursor::START, 100).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "only {seen:?}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let described: Vec<String> = seen
        .iter()
        .map(|c| match (&c.what.sku, &c.what.order_id, &c.what.detail) {
            (Some(sku), _, _) => format!("{} {}/{sku}", c.what.kind, c.what.location),
            (_, Some(order), Some(detail)) => {
                let detail: Value = serde_json::from_str(detail).unwrap();
                assert_eq!(order, &id);
                format!("{} {} {}", c.what.kind, c.what.location, detail["event"].as_str().unwrap())
            }
            _ => panic!("a change names a level or an order: {c:?}"),
        })
        .collect();
    assert_eq!(
        described,
        [
            "level S1/A",         // the first count
            "level S1/A",         // safety stock 1: availability moved without a movement
            "level S1/A",         // the order reserved two
            "order S1 confirmed", // its timeline
            "order S1 picking",
        ]
    );
}

on_both_backends!(
    committed_changes_are_read_once_in_order_and_rolled_back_ones_never,
    stock_and_order_changes_reach_the_log
);
