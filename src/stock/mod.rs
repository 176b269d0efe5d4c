//! Stock: the single source of truth. Levels per (location, sku), the append-only ledger
//! behind them, availability derived from them for every channel, and sales channels. No
//! other module writes `stock_levels` except through the functions here.

pub mod availability;
pub mod cache;
pub mod channels;
pub mod ledger;
pub mod levels;
pub mod memory;
pub mod model;
pub mod problems;
pub mod reserve;
pub mod risk;
pub mod routes;
pub mod sold_out;
