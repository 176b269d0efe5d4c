//! Background jobs. They run inside `serve` by default and alone under `clickcollect worker`;
//! each is safe to run in several processes at once.

use std::time::Duration;

use crate::db::write_tx;
use crate::error::ApiError;
use crate::http::idempotency;
use crate::state::AppState;
use crate::{changes, notify, orders, reservations};

/// How often lapsed holds are swept. Contention never waits for this: a new hold releases
/// lapsed ones on its SKUs itself. The sweeper returns the rest of the stock to availability.
const HOLD_SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How often ready orders past their pickup deadline (and grace) are expired.
const UNCOLLECTED_EVERY: Duration = Duration::from_secs(60);
/// How often the notification sender looks for due messages.
const NOTIFY_EVERY: Duration = Duration::from_secs(2);
/// How often back-in-stock alerts are checked against availability.
const STOCK_ALERTS_EVERY: Duration = Duration::from_secs(30);
/// How often housekeeping runs.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(15 * 60);

/// Runs the jobs until the process stops. Each is safe with several processes at once: the
/// hold sweeper and the uncollected-order expiry claim their rows with `SKIP LOCKED` on
/// PostgreSQL, and deleting expired idempotency keys twice is a no-op.
pub async fn run(state: AppState) {
    actix_web::rt::spawn(sweep_holds(state.clone()));
    actix_web::rt::spawn(expire_uncollected(state.clone()));
    actix_web::rt::spawn(send_notifications(state.clone()));
    actix_web::rt::spawn(push_to_channels(state.clone()));
    actix_web::rt::spawn(scan_stock_alerts(state.clone()));
    let mut ticker = actix_web::rt::time::interval(HOUSEKEEPING_EVERY);
    loop {
        ticker.tick().await;
        match state.db(|conn| write_tx(conn, idempotency::purge_expired)).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys removed"),
            Err(error) => tracing::warn!(%error, "housekeeping failed; will retry"),
        }
        prune_change_log(&state).await;
    }
}

/// Pushes channels' changes to their webhooks, one batch per channel per round, as often as
/// `CHANNEL_PUSH_INTERVAL_MS` allows.
async fn push_to_channels(state: AppState) {
    let period = Duration::from_millis(state.settings.sync.channel_push_interval_ms as u64);
    let agent = crate::notify::providers::customer_agent(state.settings.notify.private_targets);
    repeat(period, "channel pushes", || {
        let (pool, agent, settings) = (state.pool.clone(), agent.clone(), state.settings.sync);
        async move {
            let delivered =
                actix_web::web::block(move || crate::sync::push::run_round(&pool, &agent, &settings)).await??;
            Ok(Round { handled: delivered, more: false })
        }
    })
    .await
}

/// Most rows of the change log one transaction prunes.
const PRUNE_BATCH: i64 = 10_000;

/// Drops changes older than the retention, a batch per transaction so no prune holds locks
/// for long.
async fn prune_change_log(state: &AppState) {
    let keep = chrono::TimeDelta::hours(state.settings.sync.change_log_retention_hours);
    loop {
        let before = chrono::Utc::now().naive_utc() - keep;
        match state.db(move |conn| write_tx(conn, |conn| changes::prune(conn, before, PRUNE_BATCH))).await {
            Ok(0) => break,
            Ok(pruned) => tracing::info!(pruned, "old changes pruned from the change log"),
            Err(error) => {
                tracing::warn!(%error, "pruning the change log failed; will retry");
                break;
            }
        }
    }
}

/// What one round of a job did: how many items it handled, and whether more may be waiting
/// (a full batch).
struct Round {
    handled: usize,
    more: bool,
}

/// Runs `round` every `period`; while a round says more may be waiting, runs it again at once.
/// A failed round is logged and tried again at the next tick.
async fn repeat<Fut>(period: Duration, job: &'static str, mut round: impl FnMut() -> Fut)
where
    Fut: std::future::Future<Output = Result<Round, ApiError>>,
{
    let mut ticker = actix_web::rt::time::interval(period);
    loop {
        ticker.tick().await;
        loop {
            match round().await {
                Ok(Round { handled, more }) => {
                    if handled > 0 {
                        tracing::info!(job, handled, "background job round");
                    }
                    if !more {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(job, %error, "background job round failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Releases lapsed holds, returning their stock to availability.
async fn sweep_holds(state: AppState) {
    repeat(HOLD_SWEEP_EVERY, "hold sweep", || async {
        let expired = state.db(|conn| write_tx(conn, reservations::expire_lapsed)).await?;
        Ok(Round { handled: expired, more: expired as i64 == reservations::SWEEP_BATCH })
    })
    .await
}

/// Expires ready orders past their pickup deadline and grace, one per transaction.
async fn expire_uncollected(state: AppState) {
    let grace = chrono::TimeDelta::seconds(state.settings.orders.pickup_grace_seconds);
    repeat(UNCOLLECTED_EVERY, "uncollected-order expiry", || async {
        let settings = state.order_settings();
        let expired =
            state.db(move |conn| write_tx(conn, |conn| orders::expire_one_uncollected(conn, grace, &settings))).await?;
        Ok(Round { handled: usize::from(expired), more: expired })
    })
    .await
}

/// Tells back-in-stock alerts whose stock is back, through the outbox.
async fn scan_stock_alerts(state: AppState) {
    let per_day = state.settings.notify.stock_alerts_per_day;
    repeat(STOCK_ALERTS_EVERY, "stock alerts", || async {
        let now = chrono::Utc::now().naive_utc();
        let told = state.db(move |conn| write_tx(conn, |conn| crate::alerts::scan(conn, per_day, now))).await?;
        Ok(Round { handled: told, more: false })
    })
    .await
}

/// Sends due notifications, a batch per round, on a blocking thread.
async fn send_notifications(state: AppState) {
    repeat(NOTIFY_EVERY, "notification sender", || async {
        let (pool, channels, keys) = (state.pool.clone(), state.channels.clone(), state.keys.clone());
        let sent =
            actix_web::web::block(move || notify::sender::run_round(&pool, &channels, &keys.pickup_key)).await??;
        Ok(Round { handled: sent, more: sent as i64 == notify::sender::BATCH })
    })
    .await
}
