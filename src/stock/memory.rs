//! What this process remembers of stock between requests: the availability cache and the
//! sold-out memory, and the follower that makes both forget what changed on other replicas.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::cache::AvailabilityCache;
use super::sold_out::SoldOutMemory;
use crate::changes::bus::Bus;
use crate::changes::{self, ChangeKind, Cursor};
use crate::db::Pool;
use crate::error::ApiError;

/// The follower reads the log at least this often, rung or not (a replica without Redis,
/// Redis down, a change held back behind an older transaction).
const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// Most log rows one read takes.
const FOLLOW_BATCH: i64 = 1_000;

pub struct StockMemory {
    pub availability: AvailabilityCache,
    pub sold_out: SoldOutMemory,
    following: AtomicBool,
}

impl StockMemory {
    /// Memory whose answers are never older than `max_age`; zero turns it off.
    pub fn new(max_age: Duration) -> Arc<StockMemory> {
        Arc::new(StockMemory {
            availability: AvailabilityCache::new(max_age),
            sold_out: SoldOutMemory::new(max_age),
            following: AtomicBool::new(false),
        })
    }

    /// A level changed (committed here, or read from the log).
    pub fn level_changed(&self, location: &str, sku: &str) {
        self.availability.forget(sku);
        self.sold_out.forget(location, sku);
    }

    /// The log shows a change of a level at `seq`.
    fn level_changed_in_log(&self, location: &str, sku: &str, seq: i64) {
        self.availability.forget(sku);
        self.sold_out.forget_logged(location, sku, seq);
    }

    /// A location or product changed: every SKU's answer may show it. (Another replica's
    /// catalog change reaches this cache only by age: it is not in the change log.)
    pub fn catalog_changed(&self) {
        self.availability.forget_all();
    }

    /// Starts following the change log on the running runtime, once per process. Until it
    /// runs, only this process's own commits are forgotten at once.
    pub fn follow(self: &Arc<Self>, pool: &Pool, bus: &Bus) {
        if self.following.swap(true, Ordering::SeqCst) {
            return;
        }
        actix_web::rt::spawn(follow(self.clone(), pool.clone(), bus.clone()));
    }
}

/// Reads the log from its head onwards and forgets every level it names.
async fn follow(memory: Arc<StockMemory>, pool: Pool, bus: Bus) {
    let mut rung = bus.listen();
    let mut cursor: Option<Cursor> = None;
    loop {
        let looked = async {
            let mut after = match cursor {
                Some(after) => after,
                None => changes::read_on_pool(&pool, changes::head).await?,
            };
            cursor = Some(after);
            loop {
                let from = after;
                let rows =
                    changes::read_on_pool(&pool, move |conn| changes::read_after(conn, from, FOLLOW_BATCH)).await?;
                let Some(last) = rows.last().map(|row| row.cursor()) else { return Ok::<_, ApiError>(()) };
                for row in &rows {
                    if let (true, Some(sku)) = (row.what.kind == ChangeKind::Level.as_str(), &row.what.sku) {
                        memory.level_changed_in_log(&row.what.location, sku, row.seq);
                    }
                }
                (after, cursor) = (last, Some(last));
                if (rows.len() as i64) < FOLLOW_BATCH {
                    return Ok(());
                }
            }
        };
        if let Err(error) = looked.await {
            tracing::warn!(%error, "the stock memory could not read the change log; will retry");
        }
        tokio::select! {
            _ = rung.changed() => {}
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
}
