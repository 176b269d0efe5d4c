//! `AppState`: what every handler can reach. Passed as `web::Data`, never a global.

use std::sync::Arc;

use actix_web::web;

use crate::auth::Keys;
use crate::config::{ConfigError, Settings};
use crate::db::redis::Redis;
use crate::db::{DbConn, Pool};
use crate::error::ApiError;
use crate::http::metrics::Metrics;
use crate::notify::channels::Channels;
use crate::throttle::Throttle;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub keys: Arc<Keys>,
    pub metrics: Arc<Metrics>,
    /// Wrong pickup codes per store, shared by replicas through Redis when configured.
    pub pickup_throttle: Arc<Throttle>,
    pub channels: Arc<Channels>,
    /// Redis, when `REDIS_URL` is set.
    pub redis: Option<Redis>,
}

/// At most this many wrong pickup codes at one store within `PICKUP_THROTTLE_WINDOW`; more
/// answer 429 until the window ends.
pub const PICKUP_THROTTLE_LIMIT: u32 = 10;
pub const PICKUP_THROTTLE_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

impl AppState {
    /// Builds what handlers share from checked settings. Fails, naming the variable, when a
    /// channel cannot be built from its settings or Redis's URL is refused.
    pub fn new(pool: Pool, settings: Settings, keys: Keys) -> Result<Self, ConfigError> {
        let channels = Arc::new(Channels::build(&settings.notify)?);
        let redis = match &settings.redis {
            Some(redis) => {
                Some(Redis::open(redis.url.expose()).map_err(|message| ConfigError::new("REDIS_URL", message))?)
            }
            None => None,
        };
        let shared = redis.clone().zip(settings.redis.as_ref().map(|redis| redis.key_prefix.clone()));
        let pickup_throttle =
            Arc::new(Throttle::new("pickup-codes", PICKUP_THROTTLE_LIMIT, PICKUP_THROTTLE_WINDOW, shared));
        Ok(AppState {
            redis,
            pool,
            settings: Arc::new(settings),
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::default()),
            pickup_throttle,
            channels,
        })
    }

    /// What order handling needs from the configuration.
    pub fn order_settings(&self) -> crate::orders::OrderSettings {
        crate::orders::OrderSettings {
            pickup_key: self.keys.pickup_key.clone(),
            overdue_after: chrono::TimeDelta::seconds(self.settings.orders.picking_overdue_seconds),
            limits: crate::limits::CustomerLimits::from_settings(&self.settings.limits),
            announce: crate::notify::outbox::enqueue,
        }
    }

    /// Runs blocking database work on actix's blocking pool, with a pooled connection taken
    /// inside the closure. An exhausted pool or an unreachable database answers 503. A panic
    /// in the work is a bug, not an outage: it answers 500 and is logged with its message
    /// (the connection, if a transaction was cut short, is discarded by the pool).
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get().map_err(|e| ApiError::Pool(e.to_string()))?;
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut conn))).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                Err(ApiError::Internal(format!("database work panicked: {message}")))
            })
        })
        .await?
    }
}
