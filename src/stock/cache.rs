//! The availability cache: what `GET /v1/availability/{sku}` read last, kept in this process
//! so that the most frequent call of every product page rarely reaches the database.
//!
//! Freshness is bounded, never assumed. An entry is served for at most `max_age` after the
//! read that filled it began, so a number is never older than `max_age` after any commit.
//! Usually it goes much sooner: a commit on this process forgets its levels' SKUs before
//! its request answers (`AppState::db`), and a commit on another replica is forgotten when
//! this process's follower reads it from the change log (rung through Redis, or within a
//! quarter of a second without). Holds and orders never read the cache: they decide on the
//! database, so a stale number can disappoint a shopper for a moment but never oversell.
//!
//! A read that began before a SKU was forgotten must not put its (older) answer back: each
//! SKU's slot counts its invalidations, a reader takes the count before reading (a
//! `Ticket`), and the answer is kept only if the count has not moved.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::availability::SkuLevels;

/// SKUs kept at most; past this the cache starts again empty rather than grow without end.
const MOST_SKUS: usize = 100_000;

pub struct AvailabilityCache {
    max_age: Duration,
    slots: RwLock<Slots>,
}

#[derive(Default)]
struct Slots {
    /// Moves when everything is forgotten at once: outstanding tickets all become void.
    epoch: u64,
    by_sku: HashMap<String, Slot>,
}

#[derive(Default)]
struct Slot {
    invalidations: u64,
    kept: Option<Kept>,
}

struct Kept {
    /// When the read that filled it began.
    at: Instant,
    levels: Arc<SkuLevels>,
    /// A read to replace it is under way (see `get`).
    refreshing: bool,
}

/// A kept read, and whether its caller should read the SKU again for the cache.
pub struct Hit {
    pub levels: Arc<SkuLevels>,
    pub refresh: bool,
}

/// Where a SKU's slot stood when a read began.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    epoch: u64,
    invalidations: u64,
    at: Instant,
}

impl AvailabilityCache {
    /// A cache serving entries for at most `max_age`; zero keeps nothing.
    pub fn new(max_age: Duration) -> AvailabilityCache {
        AvailabilityCache { max_age, slots: RwLock::new(Slots::default()) }
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Slots> {
        // Every change to the slots is a single assignment: a poisoned lock left them whole.
        self.slots.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Slots> {
        self.slots.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The SKU's levels if a fresh enough read is kept. Past half its age, one caller is
    /// asked (`refresh`) to read the SKU again while the others go on being served: a
    /// popular SKU's entry is replaced before it runs out, instead of every reader of it
    /// missing at once when it does.
    pub fn get(&self, sku: &str) -> Option<Hit> {
        let age = {
            let slots = self.read();
            let kept = slots.by_sku.get(sku)?.kept.as_ref()?;
            let age = kept.at.elapsed();
            if age >= self.max_age {
                return None;
            }
            if age < self.max_age / 2 || kept.refreshing {
                return Some(Hit { levels: kept.levels.clone(), refresh: false });
            }
            age
        };
        let mut slots = self.write();
        let kept = slots.by_sku.get_mut(sku)?.kept.as_mut()?;
        let refresh = !std::mem::replace(&mut kept.refreshing, true);
        (age < self.max_age).then(|| Hit { levels: kept.levels.clone(), refresh })
    }

    /// A refresh asked for by `get` failed: another caller may try.
    pub fn refresh_failed(&self, sku: &str) {
        let mut slots = self.write();
        if let Some(kept) = slots.by_sku.get_mut(sku).and_then(|slot| slot.kept.as_mut()) {
            kept.refreshing = false;
        }
    }

    /// Taken before reading the database for `sku`. It gives the SKU a slot, so that a change
    /// during the read is counted there (changes of SKUs without a slot cost nothing).
    pub fn ticket(&self, sku: &str) -> Ticket {
        let mut slots = self.write();
        let epoch = slots.epoch;
        let invalidations = slots.by_sku.entry(sku.to_string()).or_default().invalidations;
        Ticket { epoch, invalidations, at: Instant::now() }
    }

    /// Keeps what a read begun at `ticket` found, unless the SKU was forgotten meanwhile.
    pub fn put(&self, sku: &str, ticket: Ticket, levels: Arc<SkuLevels>) {
        if self.max_age.is_zero() {
            return;
        }
        let mut slots = self.write();
        if slots.epoch != ticket.epoch {
            return;
        }
        if slots.by_sku.len() >= MOST_SKUS {
            slots.epoch += 1;
            slots.by_sku.clear();
            return;
        }
        let Some(slot) = slots.by_sku.get_mut(sku) else { return };
        if slot.invalidations == ticket.invalidations {
            slot.kept = Some(Kept { at: ticket.at, levels, refreshing: false });
        }
    }

    /// A level of `sku` changed: its kept read goes, and reads begun before now are not kept.
    pub fn forget(&self, sku: &str) {
        // No slot: nothing kept and no read under way (a read takes its ticket first).
        if !self.read().by_sku.contains_key(sku) {
            return;
        }
        if let Some(slot) = self.write().by_sku.get_mut(sku) {
            slot.invalidations += 1;
            slot.kept = None;
        }
    }

    /// Something every SKU's answer shows changed (a location's name, state or services).
    pub fn forget_all(&self) {
        let mut slots = self.write();
        slots.epoch += 1;
        slots.by_sku.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(sku: &str) -> Arc<SkuLevels> {
        Arc::new(SkuLevels::empty(sku))
    }

    #[test]
    fn keeps_a_read_until_its_sku_is_forgotten() {
        let cache = AvailabilityCache::new(Duration::from_secs(60));
        let ticket = cache.ticket("A");
        cache.put("A", ticket, levels("A"));
        assert!(cache.get("A").is_some());
        cache.forget("A");
        assert!(cache.get("A").is_none());
    }

    #[test]
    fn a_read_begun_before_a_change_is_not_kept() {
        let cache = AvailabilityCache::new(Duration::from_secs(60));
        let before = cache.ticket("A");
        cache.forget("A");
        cache.put("A", before, levels("A"));
        assert!(cache.get("A").is_none(), "an answer older than the change came back");
        let after = cache.ticket("A");
        cache.put("A", after, levels("A"));
        assert!(cache.get("A").is_some());
    }

    #[test]
    fn forgetting_everything_voids_reads_under_way() {
        let cache = AvailabilityCache::new(Duration::from_secs(60));
        let before = cache.ticket("B");
        cache.forget_all();
        cache.put("B", before, levels("B"));
        assert!(cache.get("B").is_none());
    }

    #[test]
    fn entries_age_out_and_zero_keeps_nothing() {
        let short = AvailabilityCache::new(Duration::from_millis(20));
        short.put("A", short.ticket("A"), levels("A"));
        assert!(short.get("A").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(short.get("A").is_none(), "served past max_age");
        let off = AvailabilityCache::new(Duration::ZERO);
        off.put("A", off.ticket("A"), levels("A"));
        assert!(off.get("A").is_none());
    }

    #[test]
    fn one_reader_is_asked_to_refresh_past_half_the_age() {
        let cache = AvailabilityCache::new(Duration::from_millis(60));
        cache.put("A", cache.ticket("A"), levels("A"));
        assert!(!cache.get("A").unwrap().refresh, "fresh entries need no refresh");
        std::thread::sleep(Duration::from_millis(35));
        assert!(cache.get("A").unwrap().refresh, "the first reader past half the age refreshes");
        assert!(!cache.get("A").unwrap().refresh, "only one refresh at a time");
        cache.refresh_failed("A");
        assert!(cache.get("A").unwrap().refresh, "after a failed refresh another reader tries");
        cache.put("A", cache.ticket("A"), levels("A"));
        assert!(!cache.get("A").unwrap().refresh, "a refreshed entry is fresh again");
    }

    #[test]
    fn another_skus_change_leaves_an_entry_alone() {
        let cache = AvailabilityCache::new(Duration::from_secs(60));
        let ticket = cache.ticket("A");
        cache.forget("B");
        cache.put("A", ticket, levels("A"));
        assert!(cache.get("A").is_some());
    }
}
