//! `AppState`: what every handler can reach. Passed as `web::Data`, never a global.

use std::sync::Arc;

use actix_web::web;

use crate::auth::Keys;
use crate::changes::bus::Bus;
use crate::config::{ConfigError, Settings};
use crate::db::redis::Redis;
use crate::db::{DbConn, Pool};
use crate::error::ApiError;
use crate::http::metrics::Metrics;
use crate::http::rate_limit::{Quotas, RateLimiter};
use crate::live::hub::{Hub, Limits};
use crate::notify::channels::Channels;
use crate::reservations::queue::HoldQueues;
use crate::stock::memory::StockMemory;
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
    /// Rung after every commit that wrote to the change log: feeds and streams wait on it.
    pub changes: Bus,
    /// The live event streams open on this process.
    pub live: Arc<Hub>,
    /// Per-caller rate limits, shared through Redis when configured.
    pub rate_limiter: Arc<RateLimiter>,
    /// The availability cache and the sold-out memory.
    pub stock: Arc<StockMemory>,
    /// Holds waiting, per level, to be placed together.
    pub hold_queues: Arc<HoldQueues>,
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
        let live = Hub::new(Limits {
            per_caller: settings.sync.streams_per_caller,
            per_address: settings.sync.streams_per_address,
            buffer: settings.sync.stream_buffer,
        });
        let quota = |per_minute: u32| (per_minute > 0).then_some(per_minute);
        let quotas = Quotas {
            authenticated: quota(settings.server.rate_limit_per_minute),
            anonymous: quota(settings.server.rate_limit_anonymous_per_minute),
        };
        let rate_limiter = Arc::new(RateLimiter::new(quotas, shared.clone()));
        let changes = match &shared {
            Some((redis, prefix)) => Bus::shared(redis.clone(), prefix),
            None => Bus::default(),
        };
        let pickup_throttle =
            Arc::new(Throttle::new("pickup-codes", PICKUP_THROTTLE_LIMIT, PICKUP_THROTTLE_WINDOW, shared));
        let settings_stock_memory = settings.orders.stock_memory;
        Ok(AppState {
            redis,
            pool,
            settings: Arc::new(settings),
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::default()),
            pickup_throttle,
            channels,
            changes,
            live,
            rate_limiter,
            stock: StockMemory::new(settings_stock_memory),
            hold_queues: Arc::new(HoldQueues::default()),
        })
    }

    /// What order handling needs from the configuration.
    pub fn order_settings(&self) -> crate::orders::OrderSettings {
        crate::orders::OrderSettings {
            pickup_key: self.keys.pickup_key.clone(),
            overdue_after: chrono::TimeDelta::seconds(self.settings.orders.picking_overdue_seconds),
            picking_per_hour: self.settings.orders.picking_orders_per_hour,
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
        let bus = self.changes.clone();
        let stock = self.stock.clone();
        web::block(move || {
            let mut conn = pool.get().map_err(|e| ApiError::Pool(e.to_string()))?;
            crate::changes::take_recorded();
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut conn))).unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic without a message".into());
                    Err(ApiError::Internal(format!("database work panicked: {message}")))
                });
            // The work's transaction has ended: readers may look now.
            let recorded = crate::changes::take_recorded();
            for (location, sku) in &recorded.levels {
                stock.level_changed(location, sku);
            }
            if recorded.any {
                bus.ring();
            }
            result
        })
        .await?
    }
}
