//! Redis, the store replicas share besides the database: one multiplexed connection per
//! process (`redis::aio::ConnectionManager`), which reconnects by itself, with limits on
//! connecting and on every answer, so a Redis that hangs costs a caller at most `TIMEOUT`.
//!
//! Nothing connects at start-up: the service starts while Redis is down, and the connection
//! is made on first use, on the runtime of whoever uses it first (a worker, which lives as
//! long as the server).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

/// The longest connecting, or one command, may take before the caller gives up on Redis.
pub const TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    manager: Arc<OnceCell<ConnectionManager>>,
}

impl Redis {
    /// Checks the URL; connects nothing yet.
    pub fn open(url: &str) -> Result<Redis, String> {
        let client = redis::Client::open(url).map_err(|e| format!("is not a Redis URL: {e}"))?;
        Ok(Redis { client, manager: Arc::new(OnceCell::new()) })
    }

    /// The shared connection, made on first use.
    async fn connection(&self) -> Result<ConnectionManager, String> {
        let manager = self
            .manager
            .get_or_try_init(|| async {
                // One quick retry at most: a caller waiting on Redis is a scan at a counter.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(100));
                ConnectionManager::new_lazy_with_config(self.client.clone(), config).map_err(|e| e.to_string())
            })
            .await?;
        Ok(manager.clone())
    }

    /// Runs a Lua script, within `TIMEOUT` whatever the connection does.
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        let mut connection = self.connection().await?;
        match tokio::time::timeout(TIMEOUT, invocation.invoke_async(&mut connection)).await {
            Ok(answer) => answer.map_err(|e| e.to_string()),
            Err(_) => Err(format!("Redis did not answer within {} ms", TIMEOUT.as_millis())),
        }
    }

    /// Whether Redis answers a PING, for `/ready`.
    pub async fn ping(&self) -> bool {
        let Ok(mut connection) = self.connection().await else { return false };
        let ping = redis::cmd("PING");
        matches!(tokio::time::timeout(TIMEOUT, ping.query_async::<String>(&mut connection)).await, Ok(Ok(_)))
    }
}
