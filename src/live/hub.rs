//! The hub: one per process. It keeps the streams that are open, reads the change log after
//! its cursor when the bus rings (and four times a second regardless), and hands each event to the
//! streams of its topic without ever waiting on one: a stream whose queue is full is dropped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::events::{self, LiveEvent, Topic};
use crate::changes::bus::Bus;
use crate::changes::{self, ChangeKind, Cursor};
use crate::db::Pool;
use crate::error::{ApiError, RatePolicy};

/// The hub looks at the log at least this often, rung or not: a commit on a replica that
/// could not ring this one (no Redis, Redis down) still arrives, as does a change that was
/// held back behind an older transaction.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// A SKU's availability goes out at most this often per SKU: a flash sale moves it with
/// every hold, and a product page needs a few updates a second, not hundreds.
const AVAILABILITY_EVERY: Duration = Duration::from_millis(250);
/// Most log rows one look reads; more are read at once by the next.
const READ_BATCH: i64 = 1_000;

/// How many streams, how big their queues.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Streams one token's subject may hold.
    pub per_caller: usize,
    /// Public streams one address may hold.
    pub per_address: usize,
    pub buffer: usize,
}

/// Who opens a stream, for its cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opener {
    /// A token's (or ticket's) caller: `Principal::actor()`.
    Caller(String),
    /// A client without a token, by its address.
    Address(String),
}

pub struct Hub {
    limits: Limits,
    state: Mutex<Registry>,
    closed: watch::Sender<bool>,
}

#[derive(Default)]
struct Registry {
    /// Where the hub has read the log to; `None` until the first stream starts the hub.
    cursor: Option<Cursor>,
    next_id: u64,
    streams: Vec<Stream>,
    per_caller: HashMap<String, usize>,
}

struct Stream {
    id: u64,
    topic: Topic,
    caller: String,
    queue: mpsc::Sender<Arc<LiveEvent>>,
}

/// A place among the hub's streams: its events arrive on `events`, live from just after
/// `joined_at`. Dropping it leaves the hub.
pub struct Subscription {
    pub events: mpsc::Receiver<Arc<LiveEvent>>,
    pub joined_at: Cursor,
    _place: Place,
}

struct Place {
    hub: Arc<Hub>,
    id: u64,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.hub.leave(self.id);
    }
}

impl Hub {
    pub fn new(limits: Limits) -> Arc<Hub> {
        Arc::new(Hub { limits, state: Mutex::new(Registry::default()), closed: watch::channel(false).0 })
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves the registry consistent (every change to it
        // is one statement), so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens a stream of `topic` for `opener`; 429 when it has its limit open. Starts the
    /// hub's reader (with `pool` and `bus`) on first use.
    pub async fn subscribe(
        self: &Arc<Self>,
        topic: Topic,
        opener: Opener,
        pool: &Pool,
        bus: &Bus,
    ) -> Result<Subscription, ApiError> {
        if *self.closed.borrow() {
            return Err(ApiError::Unavailable("the server is shutting down".into()));
        }
        if self.registry().cursor.is_none() {
            let head = changes::read_on_pool(pool, changes::head).await?;
            let mut registry = self.registry();
            if registry.cursor.is_none() {
                registry.cursor = Some(head);
                actix_web::rt::spawn(run(self.clone(), pool.clone(), bus.clone()));
            }
        }
        let (caller, cap) = match opener {
            Opener::Caller(actor) => (actor, self.limits.per_caller),
            Opener::Address(address) => (format!("address:{address}"), self.limits.per_address),
        };
        let mut registry = self.registry();
        let open = registry.per_caller.get(&caller).copied().unwrap_or(0);
        if open >= cap {
            let policy = RatePolicy { name: "streams", quota: cap as u32, window_seconds: 1 };
            return Err(ApiError::RateLimited { policy, retry_after: 5 });
        }
        let (queue, events) = mpsc::channel(self.limits.buffer);
        registry.next_id += 1;
        let id = registry.next_id;
        registry.per_caller.insert(caller.clone(), open + 1);
        registry.streams.push(Stream { id, topic, caller, queue });
        let joined_at = registry.cursor.unwrap_or(Cursor::START);
        Ok(Subscription { events, joined_at, _place: Place { hub: self.clone(), id } })
    }

    fn leave(&self, id: u64) {
        let mut registry = self.registry();
        if let Some(at) = registry.streams.iter().position(|stream| stream.id == id) {
            let stream = registry.streams.swap_remove(at);
            forget_one(&mut registry.per_caller, &stream.caller);
        }
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.registry().streams.len()
    }

    /// Hands events to their streams and moves the cursor to `through`. A stream whose
    /// queue is full loses its place (its client reconnects and resumes from the log).
    fn dispatch(&self, events: Vec<(Topic, LiveEvent)>, through: Cursor) {
        let mut registry = self.registry();
        for (topic, event) in events {
            let event = Arc::new(event);
            let mut dropped = Vec::new();
            for stream in registry.streams.iter().filter(|stream| stream.topic == topic) {
                if stream.queue.try_send(event.clone()).is_err() {
                    dropped.push(stream.id);
                }
            }
            for id in dropped {
                if let Some(at) = registry.streams.iter().position(|stream| stream.id == id) {
                    let stream = registry.streams.swap_remove(at);
                    forget_one(&mut registry.per_caller, &stream.caller);
                    tracing::info!(topic = ?stream.topic, "a stream could not keep up and was dropped");
                }
            }
        }
        registry.cursor = Some(through);
    }

    /// The topics some stream follows now.
    fn wanted(&self) -> HashSet<Topic> {
        self.registry().streams.iter().map(|stream| stream.topic.clone()).collect()
    }

    /// Ends every stream (at shutdown): they finish their current event and close.
    pub fn close(&self) {
        self.closed.send_replace(true);
        self.registry().streams.clear();
    }

    /// Turns true when the hub closes.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }
}

fn forget_one(per_caller: &mut HashMap<String, usize>, caller: &str) {
    if let Some(count) = per_caller.get_mut(caller) {
        *count -= 1;
        if *count == 0 {
            per_caller.remove(caller);
        }
    }
}

/// The hub's reader: follows the log and dispatches until the hub closes.
async fn run(hub: Arc<Hub>, pool: Pool, bus: Bus) {
    let mut rung = bus.listen();
    let mut closing = hub.closing();
    // SKUs whose availability changed and has not gone out yet, with the cursor of their
    // latest change; and when each last went out.
    let mut pending: HashMap<String, Cursor> = HashMap::new();
    let mut sent: HashMap<String, Instant> = HashMap::new();
    loop {
        let pause = if pending.is_empty() { LOOK_EVERY } else { AVAILABILITY_EVERY };
        tokio::select! {
            _ = rung.changed() => {}
            _ = tokio::time::sleep(pause) => {}
            _ = closing.changed() => {}
        }
        if *hub.closed.borrow() {
            return;
        }
        if let Err(error) = look(&hub, &pool, &mut pending, &mut sent).await {
            tracing::warn!(%error, "live events could not read the change log; will retry");
        }
    }
}

/// One look at the log: order events go out at once, availability per SKU at most every
/// `AVAILABILITY_EVERY`.
async fn look(
    hub: &Arc<Hub>,
    pool: &Pool,
    pending: &mut HashMap<String, Cursor>,
    sent: &mut HashMap<String, Instant>,
) -> Result<(), ApiError> {
    loop {
        let after = hub.registry().cursor.unwrap_or(Cursor::START);
        let rows = changes::read_on_pool(pool, move |conn| changes::read_after(conn, after, READ_BATCH)).await?;
        let Some(last) = rows.last().map(|row| row.cursor()) else { break };
        let full = rows.len() as i64 == READ_BATCH;
        // One look at the registry per batch, not one per row.
        let wanted = hub.wanted();
        let mut orders = Vec::new();
        for row in rows {
            if row.what.kind == ChangeKind::Level.as_str() {
                if let Some(sku) = &row.what.sku {
                    if wanted.contains(&Topic::Sku(sku.clone())) {
                        pending.insert(sku.clone(), row.cursor());
                    }
                }
            } else if wanted.contains(&Topic::Store(row.what.location.clone())) {
                orders.push(row);
            }
        }
        let events = if orders.is_empty() {
            Vec::new()
        } else {
            changes::read_on_pool(pool, move |conn| {
                let refs: Vec<&changes::Change> = orders.iter().collect();
                events::order_events(conn, &refs)
            })
            .await?
        };
        hub.dispatch(events, last);
        if !full {
            break;
        }
    }
    let now = Instant::now();
    let due: Vec<(String, Cursor)> = pending
        .iter()
        .filter(|(sku, _)| sent.get(*sku).is_none_or(|at| now.duration_since(*at) >= AVAILABILITY_EVERY))
        .map(|(sku, cursor)| (sku.clone(), *cursor))
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    for (sku, _) in &due {
        pending.remove(sku);
        sent.insert(sku.clone(), now);
    }
    sent.retain(|_, at| now.duration_since(*at) < AVAILABILITY_EVERY * 4);
    let events = changes::read_on_pool(pool, move |conn| {
        due.into_iter()
            .map(|(sku, cursor)| Ok((Topic::Sku(sku.clone()), events::availability_event(conn, &sku, cursor)?)))
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await?;
    let through = hub.registry().cursor.unwrap_or(Cursor::START);
    hub.dispatch(events, through);
    Ok(())
}
