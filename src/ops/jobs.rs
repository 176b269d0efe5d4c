//! Background jobs. They run inside `serve` by default and alone under `clickcollect worker`;
//! each is safe to run in several processes at once.

use std::time::Duration;

use crate::db::write_tx;
use crate::http::idempotency;
use crate::state::AppState;
use crate::{notify, orders, reservations};

/// How often lapsed holds are swept. Contention never waits for this: a new hold releases
/// lapsed ones on its SKUs itself. The sweeper returns the rest of the stock to availability.
const HOLD_SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How often ready orders past their pickup deadline (and grace) are expired.
const UNCOLLECTED_EVERY: Duration = Duration::from_secs(60);
/// How often the notification sender looks for due messages.
const NOTIFY_EVERY: Duration = Duration::from_secs(2);
/// How often housekeeping runs.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(15 * 60);

/// Runs the jobs until the process stops. Each is safe with several processes at once: the
/// hold sweeper and the uncollected-order expiry claim their rows with `SKIP LOCKED` on
/// PostgreSQL, and deleting expired idempotency keys twice is a no-op.
pub async fn run(state: AppState) {
    actix_web::rt::spawn(sweep_holds(state.clone()));
    actix_web::rt::spawn(expire_uncollected(state.clone()));
    actix_web::rt::spawn(send_notifications(state.clone()));
    let mut ticker = actix_web::rt::time::interval(HOUSEKEEPING_EVERY);
    loop {
        ticker.tick().await;
        match state.db(|conn| write_tx(conn, idempotency::purge_expired)).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys removed"),
            Err(error) => tracing::warn!(%error, "housekeeping failed; will retry"),
        }
    }
}

async fn sweep_holds(state: AppState) {
    let mut ticker = actix_web::rt::time::interval(HOLD_SWEEP_EVERY);
    loop {
        ticker.tick().await;
        // A full batch means more may be waiting: sweep again at once.
        loop {
            match state.db(|conn| write_tx(conn, reservations::expire_lapsed)).await {
                Ok(n) if n as i64 == reservations::SWEEP_BATCH => continue,
                Ok(0) => break,
                Ok(expired) => {
                    tracing::info!(expired, "lapsed holds released");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "hold sweep failed; will retry");
                    break;
                }
            }
        }
    }
}

async fn expire_uncollected(state: AppState) {
    let grace = chrono::TimeDelta::seconds(state.settings.pickup_grace_seconds);
    let mut ticker = actix_web::rt::time::interval(UNCOLLECTED_EVERY);
    loop {
        ticker.tick().await;
        loop {
            match state.db(move |conn| write_tx(conn, |conn| orders::expire_one_uncollected(conn, grace))).await {
                Ok(true) => tracing::info!("an uncollected order expired; its stock is back on sale"),
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(%error, "uncollected-order expiry failed; will retry");
                    break;
                }
            }
        }
    }
}

async fn send_notifications(state: AppState) {
    let mut ticker = actix_web::rt::time::interval(NOTIFY_EVERY);
    loop {
        ticker.tick().await;
        loop {
            let (pool, channels, keys) = (state.pool.clone(), state.channels.clone(), state.keys.clone());
            match actix_web::web::block(move || notify::sender::run_round(&pool, &channels, &keys.pickup_key)).await {
                Ok(Ok(n)) if n as i64 == notify::sender::BATCH => continue,
                Ok(Ok(_)) => break,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "notification round failed; will retry");
                    break;
                }
                Err(_) => break,
            }
        }
    }
}
