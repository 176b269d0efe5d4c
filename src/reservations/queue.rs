//! The queues of holds waiting, per level, to be placed together (`together::place`); the
//! leader that empties them is in `leader`. Plain data: no state, no database.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::together::Asking;
use crate::auth::Role;
use crate::error::ApiError;
use crate::http::idempotency::stored::Answer;

pub type Level = (String, String);

/// The queues of this process, one per level with callers waiting.
#[derive(Default)]
pub struct HoldQueues {
    queues: Mutex<HashMap<Level, Queue>>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    led: bool,
}

/// A caller waiting: what it asks, and where its answer goes.
pub struct Waiting {
    pub asking: Asking,
    pub reply: oneshot::Sender<Result<Answer, ApiError>>,
}

impl HoldQueues {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Level, Queue>> {
        // Every change is a push, a take or a flag: a poisoned lock left the queues whole.
        self.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a caller; true if the queue had no leader and the caller must lead it.
    pub fn join(&self, level: &Level, waiting: Waiting) -> bool {
        let mut queues = self.lock();
        let queue = queues.entry(level.clone()).or_default();
        queue.waiting.push_back(waiting);
        !std::mem::replace(&mut queue.led, true)
    }

    /// The next batch: up to `most` callers in arrival order, but one per customer while
    /// limits apply (a customer's second hold must count the first). Empty when nobody is
    /// waiting, and the queue is then left without a leader.
    pub fn next_batch(&self, level: &Level, most: usize, one_per_customer: bool) -> Vec<Waiting> {
        let mut queues = self.lock();
        let Some(queue) = queues.get_mut(level) else { return Vec::new() };
        let mut batch = Vec::new();
        let mut later = VecDeque::new();
        let mut customers = HashSet::new();
        while let Some(waiting) = queue.waiting.pop_front() {
            if batch.len() == most {
                queue.waiting.push_front(waiting);
                break;
            }
            let who = &waiting.asking.who;
            if one_per_customer && who.role == Role::Customer && !customers.insert(who.sub.clone()) {
                later.push_back(waiting);
            } else {
                batch.push(waiting);
            }
        }
        while let Some(waiting) = later.pop_back() {
            queue.waiting.push_front(waiting);
        }
        if batch.is_empty() {
            queues.remove(level);
        }
        batch
    }

    /// A leader that stops before its queue is empty (its runtime shutting down) leaves no
    /// caller waiting for ever: those still queued are dropped, which answers them 503.
    pub fn abandon(&self, level: &Level) {
        self.lock().remove(level);
    }
}
