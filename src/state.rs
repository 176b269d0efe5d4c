//! `AppState`: what every handler can reach. Passed as `web::Data`, never a global.

use std::sync::Arc;

use actix_web::web;

use crate::auth::Keys;
use crate::config::Settings;
use crate::db::{DbConn, Pool};
use crate::error::ApiError;
use crate::http::metrics::Metrics;
use crate::notify::channels::Channels;
use crate::orders::pickup::Throttle;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub keys: Arc<Keys>,
    pub metrics: Arc<Metrics>,
    pub pickup_throttle: Arc<Throttle>,
    pub channels: Arc<Channels>,
}

impl AppState {
    pub fn new(pool: Pool, settings: Settings, keys: Keys) -> Self {
        let channels = Arc::new(Channels::from_settings(&settings));
        AppState {
            pool,
            settings: Arc::new(settings),
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::default()),
            pickup_throttle: Arc::new(Throttle::default()),
            channels,
        }
    }

    /// Runs blocking database work on actix's blocking pool, with a pooled connection taken
    /// inside the closure. An exhausted pool or an unreachable database answers 503.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get().map_err(|e| ApiError::Pool(e.to_string()))?;
            f(&mut conn)
        })
        .await?
    }
}
