//! The sold-out memory: once a level is known to be sold out, the shoppers who keep asking
//! for it are told "sold out" from memory, without a write and without queueing behind the
//! level's row lock. In a flash sale they are most of the traffic after the last unit goes.
//!
//! Only a state known to be current answers this way:
//! - it is remembered only from a read of the level under its row lock that found too
//!   little, by a hold that then wrote nothing (so no commit of this process changed it);
//! - every change to the level forgets it: at once for a commit of this process (before
//!   that request answers), and for another replica's as soon as the change log reaches
//!   this process's follower;
//! - a read that began before a change cannot remember what it saw (each level counts its
//!   changes, as the availability cache does);
//! - it lapses after `max_age` in any case, and by the time the first open hold on the level
//!   would lapse (a lapsed hold gives its units back without a commit until it is swept).
//!
//! Forgetting too late can only tell a shopper "sold out" a moment after a unit came back;
//! it can never oversell, because every hold that goes ahead decides on the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::problems::{Alternative, Shortfall};

/// Levels remembered at most; past this the memory starts again empty.
const MOST_LEVELS: usize = 100_000;

type Level = (String, String);

pub struct SoldOutMemory {
    max_age: Duration,
    levels: Mutex<Levels>,
}

#[derive(Default)]
struct Levels {
    epoch: u64,
    by_level: HashMap<Level, Slot>,
}

#[derive(Default)]
struct Slot {
    /// Changes committed by this process (counted, as they carry no place in the log).
    changes: u64,
    /// The highest log `seq` of a change of this level read from the log.
    logged_to: i64,
    known: Option<Known>,
}

struct Known {
    /// Every change of the level up to this log `seq` was in the read (`changes::last_seq`).
    seen_seq: i64,
    /// When the read began, and whether a read to replace it is under way.
    at: Instant,
    refreshing: bool,
    until: Instant,
    available: i64,
    /// Where else each quantity asked for could be had, as worked out when it was refused.
    alternatives: HashMap<i64, Vec<Alternative>>,
}

/// Where a level's slot stood when a read of it began.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    epoch: u64,
    changes: u64,
    at: Instant,
}

impl SoldOutMemory {
    /// Remembers for at most `max_age`; zero remembers nothing.
    pub fn new(max_age: Duration) -> SoldOutMemory {
        SoldOutMemory { max_age, levels: Mutex::new(Levels::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Levels> {
        // Every change is a single assignment: a poisoned lock left the map whole.
        self.levels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Taken before a hold's transaction begins. It gives the level a slot, so that changes
    /// during the transaction are counted there (changes of levels without one cost nothing).
    pub fn ticket(&self, location: &str, sku: &str) -> Ticket {
        let mut levels = self.lock();
        if levels.by_level.len() >= MOST_LEVELS {
            levels.epoch += 1;
            levels.by_level.clear();
        }
        let epoch = levels.epoch;
        let changes = levels.by_level.entry(key(location, sku)).or_default().changes;
        Ticket { epoch, changes, at: Instant::now() }
    }

    /// The refusal for `quantity` if the level is known to have less: complete when where
    /// else that quantity could be had is known too. Past half its age, one caller is handed
    /// the quantities to read the level again for (`refresh`), while the others go on being
    /// answered: the memory is renewed before it lapses instead of every shopper queueing for
    /// the database at once when it does. `None` when nothing is known.
    pub fn refusal(&self, location: &str, sku: &str, quantity: i64) -> Option<Refusal> {
        let mut levels = self.lock();
        let known = levels.by_level.get_mut(&key(location, sku))?.known.as_mut()?;
        let now = Instant::now();
        if now >= known.until || quantity <= known.available {
            return None;
        }
        let Some(alternatives) = known.alternatives.get(&quantity) else { return Some(Refusal::NeedsAlternatives) };
        let shortfall = Shortfall {
            sku: sku.to_string(),
            requested: quantity,
            available: known.available,
            alternatives: alternatives.clone(),
        };
        let due = now.duration_since(known.at) >= self.max_age / 2 && !known.refreshing;
        known.refreshing |= due;
        let refresh = due.then(|| known.alternatives.keys().copied().collect());
        Some(Refusal::Complete { shortfall, refresh })
    }

    /// A refresh handed out by `refusal` ended without renewing the memory.
    pub fn refresh_failed(&self, location: &str, sku: &str) {
        let mut levels = self.lock();
        if let Some(known) = levels.by_level.get_mut(&key(location, sku)).and_then(|slot| slot.known.as_mut()) {
            known.refreshing = false;
        }
    }

    /// Remembers that a read begun at `ticket` found only `available` units, and where else
    /// the quantities it refused could be had; `lapses` is when the first open hold on the
    /// level would lapse. Nothing is remembered if the level changed since the ticket.
    pub fn remember(&self, location: &str, sku: &str, ticket: Ticket, found: Found) {
        if self.max_age.is_zero() {
            return;
        }
        let mut levels = self.lock();
        if levels.epoch != ticket.epoch {
            return;
        }
        let Some(slot) = levels.by_level.get_mut(&key(location, sku)) else { return };
        if slot.changes != ticket.changes || slot.logged_to > found.seen_seq {
            return;
        }
        let until = found.lapses.map_or(ticket.at + self.max_age, |lapses| lapses.min(ticket.at + self.max_age));
        match &mut slot.known {
            // What a later refusal learnt about another quantity joins what is known.
            Some(known) if known.available == found.available && known.seen_seq == found.seen_seq => {
                // The same state read again: what it learnt joins what is known, from now.
                known.alternatives.extend(found.alternatives);
                (known.at, known.until, known.refreshing) = (ticket.at, until, false);
            }
            known => {
                *known = Some(Known {
                    seen_seq: found.seen_seq,
                    at: ticket.at,
                    refreshing: false,
                    until,
                    available: found.available,
                    alternatives: found.alternatives.into_iter().collect(),
                })
            }
        }
    }

    /// The level changed on this process: what was known goes, and reads begun before now
    /// are not kept.
    pub fn forget(&self, location: &str, sku: &str) {
        let mut levels = self.lock();
        // No slot: nothing known and no transaction under way (it takes its ticket first).
        if let Some(slot) = levels.by_level.get_mut(&key(location, sku)) {
            slot.changes += 1;
            slot.known = None;
        }
    }

    /// The log shows a change of the level at `seq` (committed here or on another replica):
    /// what was known goes unless it was read after that change, and no read from before it
    /// can be remembered any more.
    pub fn forget_logged(&self, location: &str, sku: &str, seq: i64) {
        let mut levels = self.lock();
        let Some(slot) = levels.by_level.get_mut(&key(location, sku)) else { return };
        slot.logged_to = slot.logged_to.max(seq);
        if slot.known.as_ref().is_some_and(|known| known.seen_seq < seq) {
            slot.known = None;
        }
    }
}

fn key(location: &str, sku: &str) -> Level {
    (location.to_string(), sku.to_string())
}

/// What a read of a level under its lock found, for `SoldOutMemory::remember`.
pub struct Found {
    pub available: i64,
    /// `changes::last_seq` as read under the level's lock.
    pub seen_seq: i64,
    pub alternatives: Vec<(i64, Vec<Alternative>)>,
    pub lapses: Option<Instant>,
}

/// A refusal from memory.
#[derive(Debug)]
pub enum Refusal {
    /// With, for one caller, the quantities to read the level again for.
    Complete { shortfall: Shortfall, refresh: Option<Vec<i64>> },
    /// The level is known short for this quantity, but not where else it could be had.
    NeedsAlternatives,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(available: i64) -> Found {
        Found { available, seen_seq: 10, alternatives: vec![(1, Vec::new())], lapses: None }
    }

    #[test]
    fn refuses_from_memory_only_what_does_not_fit() {
        let memory = SoldOutMemory::new(Duration::from_secs(60));
        assert!(memory.refusal("S1", "A", 1).is_none(), "nothing known yet");
        memory.remember("S1", "A", memory.ticket("S1", "A"), found(0));
        assert!(
            matches!(memory.refusal("S1", "A", 1), Some(Refusal::Complete { shortfall, .. }) if shortfall.available == 0)
        );
        assert!(matches!(memory.refusal("S1", "A", 2), Some(Refusal::NeedsAlternatives)));
        assert!(memory.refusal("S2", "A", 1).is_none(), "another store's level");
        memory.remember("S1", "B", memory.ticket("S1", "B"), found(3));
        assert!(memory.refusal("S1", "B", 3).is_none(), "three fit in three");
        assert!(memory.refusal("S1", "B", 4).is_some());
    }

    #[test]
    fn one_caller_is_asked_to_refresh_past_half_the_age() {
        let memory = SoldOutMemory::new(Duration::from_millis(60));
        let refresh = |memory: &SoldOutMemory| match memory.refusal("S1", "A", 1) {
            Some(Refusal::Complete { refresh, .. }) => refresh,
            other => panic!("{other:?}"),
        };
        memory.remember("S1", "A", memory.ticket("S1", "A"), found(0));
        assert_eq!(refresh(&memory), None);
        std::thread::sleep(Duration::from_millis(35));
        assert_eq!(refresh(&memory), Some(vec![1]), "the first caller past half the age refreshes");
        assert_eq!(refresh(&memory), None, "one refresh at a time");
        memory.refresh_failed("S1", "A");
        assert_eq!(refresh(&memory), Some(vec![1]));
        memory.remember("S1", "A", memory.ticket("S1", "A"), found(0));
        assert_eq!(refresh(&memory), None, "renewed");
    }

    #[test]
    fn a_change_reopens_the_level_at_once() {
        let memory = SoldOutMemory::new(Duration::from_secs(60));
        memory.remember("S1", "A", memory.ticket("S1", "A"), found(0));
        memory.forget("S1", "A");
        assert!(memory.refusal("S1", "A", 1).is_none());
    }

    #[test]
    fn the_log_forgets_only_changes_after_the_read() {
        let memory = SoldOutMemory::new(Duration::from_secs(60));
        memory.remember("S1", "A", memory.ticket("S1", "A"), found(0));
        memory.forget_logged("S1", "A", 10);
        assert!(memory.refusal("S1", "A", 1).is_some(), "a change the read already saw reopened the level");
        memory.forget_logged("S1", "A", 11);
        assert!(memory.refusal("S1", "A", 1).is_none(), "a later change did not reopen it");
        // A read that saw up to 10 cannot be remembered once 11 is known.
        memory.remember("S1", "A", memory.ticket("S1", "A"), found(0));
        assert!(memory.refusal("S1", "A", 1).is_none());
    }

    #[test]
    fn a_read_begun_before_a_change_is_not_remembered() {
        let memory = SoldOutMemory::new(Duration::from_secs(60));
        let before = memory.ticket("S1", "A");
        memory.forget("S1", "A");
        memory.remember("S1", "A", before, found(0));
        assert!(memory.refusal("S1", "A", 1).is_none(), "stock that arrived was hidden");
    }

    #[test]
    fn lapses_with_its_age_and_with_the_first_open_hold() {
        let memory = SoldOutMemory::new(Duration::from_millis(20));
        memory.remember("S1", "A", memory.ticket("S1", "A"), found(0));
        std::thread::sleep(Duration::from_millis(30));
        assert!(memory.refusal("S1", "A", 1).is_none(), "remembered past max_age");
        let long = SoldOutMemory::new(Duration::from_secs(60));
        let lapses = Some(Instant::now() + Duration::from_millis(20));
        long.remember("S1", "A", long.ticket("S1", "A"), Found { lapses, ..found(0) });
        assert!(long.refusal("S1", "A", 1).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(long.refusal("S1", "A", 1).is_none(), "remembered past a hold's lapse");
        let off = SoldOutMemory::new(Duration::ZERO);
        off.remember("S1", "A", off.ticket("S1", "A"), found(0));
        assert!(off.refusal("S1", "A", 1).is_none());
    }
}
