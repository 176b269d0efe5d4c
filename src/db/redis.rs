//! Redis, the store replicas share besides the database: one multiplexed connection per
//! process (`redis::aio::ConnectionManager`), which reconnects by itself, with limits on
//! connecting and on every answer, so a Redis that hangs costs a caller at most `TIMEOUT`.
//!
//! The connection lives on a small runtime of its own, on one thread: actix's workers are
//! single-threaded runtimes, and a connection driven by one of them would stall every other
//! worker's Redis calls whenever that worker is busy, and die with it. Callers on any runtime
//! hand their command over and await the answer. Nothing connects at start-up: the service
//! starts while Redis is down, and the connection is made on first use. The thread ends when
//! the last handle is dropped.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{oneshot, OnceCell};

/// The longest connecting, or one command, may take before the caller gives up on Redis.
pub const TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    /// The connection's own runtime.
    runtime: tokio::runtime::Handle,
    /// Dropped with the last handle, which ends the runtime's thread.
    _stop: oneshot::Sender<()>,
    /// Until when (ms since the Unix epoch) detached publishes are skipped after one failed.
    quiet_until: AtomicU64,
}

/// After a detached publish fails, how long the next ones are skipped: during an outage
/// each would otherwise wait out its timeout on the connection's thread.
const PUBLISH_BACKOFF: Duration = Duration::from_secs(2);

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Redis {
    /// Checks the URL and starts the connection's thread; connects nothing yet.
    pub fn open(url: &str) -> Result<Redis, String> {
        let client = redis::Client::open(url).map_err(|e| format!("is not a Redis URL: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("could not start Redis's runtime: {e}"))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("redis".into())
            .spawn(move || runtime.block_on(async move { stopped.await.ok() }))
            .map_err(|e| format!("could not start Redis's thread: {e}"))?;
        let quiet_until = AtomicU64::new(0);
        Ok(Redis {
            inner: Arc::new(Inner { client, manager: OnceCell::new(), runtime: handle, _stop: stop, quiet_until }),
        })
    }

    /// Runs `command` on the connection's runtime, within `TIMEOUT` whatever the connection
    /// does.
    async fn run<T, F, Fut>(&self, command: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = redis::RedisResult<T>> + Send + 'static,
    {
        let inner = self.inner.clone();
        let task = self.inner.runtime.spawn(async move {
            let manager = inner
                .manager
                .get_or_try_init(|| async {
                    // One quick retry at most: a caller waiting on Redis is a scan at a counter.
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(TIMEOUT))
                        .set_response_timeout(Some(TIMEOUT))
                        .set_number_of_retries(1)
                        .set_max_delay(Duration::from_millis(100));
                    ConnectionManager::new_lazy_with_config(inner.client.clone(), config)
                })
                .await
                .map_err(|e| e.to_string())?
                .clone();
            command(manager).await.map_err(|e| e.to_string())
        });
        match tokio::time::timeout(TIMEOUT, task).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(failed)) => Err(format!("the Redis call failed: {failed}")),
            Err(_) => Err(format!("Redis did not answer within {} ms", TIMEOUT.as_millis())),
        }
    }

    /// Runs a Lua script with these keys and arguments.
    pub async fn script<T>(&self, source: &'static str, keys: Vec<String>, args: Vec<String>) -> Result<T, String>
    where
        T: redis::FromRedisValue + Send + 'static,
    {
        self.run(move |mut connection| async move {
            let script = redis::Script::new(source);
            let mut invocation = script.prepare_invoke();
            for key in &keys {
                invocation.key(key);
            }
            for arg in &args {
                invocation.arg(arg);
            }
            invocation.invoke_async(&mut connection).await
        })
        .await
    }

    /// Publishes `message` on `channel` without waiting for it: for callers that must not
    /// block on Redis (a commit has happened whether or not Redis hears of it). A failure is
    /// logged, and further publishes are skipped for `PUBLISH_BACKOFF`; whoever listens
    /// catches up on its own.
    pub fn publish_detached(&self, channel: String, message: String) {
        if now_ms() < self.inner.quiet_until.load(Ordering::Relaxed) {
            return;
        }
        let redis = self.clone();
        self.inner.runtime.spawn(async move {
            let sent = redis
                .run(move |mut connection| async move {
                    redis::cmd("PUBLISH").arg(&channel).arg(&message).query_async::<i64>(&mut connection).await
                })
                .await;
            if let Err(error) = sent {
                redis.inner.quiet_until.store(now_ms() + PUBLISH_BACKOFF.as_millis() as u64, Ordering::Relaxed);
                tracing::warn!(%error, "could not publish to Redis; other replicas read the change log on their own");
            }
        });
    }

    /// Calls `on_message` for every message published on `channel`, for as long as the
    /// process runs, on a connection of its own (a subscribed connection can do nothing
    /// else). When Redis is down it tries again every `retry`, and calls `on_message` once
    /// on every (re)connection: whatever was published meanwhile was missed.
    pub fn subscribe(&self, channel: String, retry: Duration, on_message: impl Fn() + Send + 'static) {
        let client = self.inner.client.clone();
        self.inner.runtime.spawn(async move {
            use futures_util::StreamExt;
            loop {
                let connected = tokio::time::timeout(TIMEOUT, client.get_async_pubsub()).await;
                match connected {
                    Ok(Ok(mut pubsub)) => match pubsub.subscribe(&channel).await {
                        Ok(()) => {
                            tracing::info!(%channel, "listening to Redis");
                            on_message();
                            let mut messages = pubsub.into_on_message();
                            while messages.next().await.is_some() {
                                on_message();
                            }
                            tracing::warn!(%channel, "lost the Redis subscription; reconnecting");
                        }
                        Err(error) => tracing::warn!(%error, "could not subscribe to Redis"),
                    },
                    Ok(Err(error)) => tracing::debug!(%error, "Redis is unreachable for the subscription"),
                    Err(_) => tracing::debug!("Redis did not answer the subscription in time"),
                }
                tokio::time::sleep(retry).await;
            }
        });
    }

    /// Whether Redis answers a PING, for `/ready`.
    pub async fn ping(&self) -> bool {
        let pong =
            self.run(|mut connection| async move { redis::cmd("PING").query_async::<String>(&mut connection).await });
        pong.await.is_ok()
    }
}
