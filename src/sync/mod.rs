//! Inventory sync for marketplaces and ERPs: a channel's feed of what changed (read from the
//! change log, coalesced per SKU) and the whole channel's export with the feed cursor to
//! continue from. How a sync job uses them: docs/sync.md.

pub mod feed;
pub mod push;
pub mod routes;
