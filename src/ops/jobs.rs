//! Background jobs. They run inside `serve` by default and alone under `clickcollect worker`;
//! each is safe to run in several processes at once.

use std::time::Duration;

use crate::db::write_tx;
use crate::http::idempotency;
use crate::state::AppState;

/// How often housekeeping runs.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(15 * 60);

/// Runs the jobs until the process stops. Deleting expired idempotency keys is naturally
/// idempotent, so replicas running it together only repeat a no-op.
pub async fn run(state: AppState) {
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
