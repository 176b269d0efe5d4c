//! Live events for people and pages, as server-sent events: a store's orders for its pick
//! list, and a SKU's availability for product pages.
//!
//! Events come from the change log, never from the code that made the change: a `Hub` per
//! process reads the log after its cursor whenever the change bus rings (after a commit, on
//! this replica or, through Redis, any other) and at least four times a second, turns what it reads
//! into events and hands each to the streams that want it. A stream that asks to resume
//! (`Last-Event-ID`, which is a log cursor) is replayed from the log first. A client too slow
//! to keep up is dropped rather than buffered without bound; it reconnects and resumes.

pub mod events;
pub mod hub;
pub mod routes;
pub mod stream;
pub mod tickets;
