//! Failure throttles that every replica must agree on (today: wrong pickup codes per store).
//!
//! With `REDIS_URL` the count lives in Redis, so a guesser who spreads attempts over several
//! replicas meets one limit; without it, in the process. A fixed window per key: the first
//! failure starts it, more than `limit` failures inside it answer "wait" until it ends.
//!
//! Redis being unreachable does not stop the counter at the store: every failure is also
//! counted in the process, and that count decides while Redis does not answer (with a
//! warning in the log). The service degrades to per-replica limits rather than refusing
//! handovers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::r2d2;

/// A Redis connection pool (the same r2d2 pool type the database uses).
pub type RedisPool = r2d2::Pool<redis::Client>;

/// How long a Redis call may take before the local count is used instead.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// After Redis failed to answer, how long to use the local count without asking it again,
/// so a Redis outage does not add a timeout to every scan at the counter.
const REDIS_BACKOFF: Duration = Duration::from_secs(5);

/// Increments the window's count, starting the window on the first failure, atomically.
const FAIL_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count";

/// Opens a lazily connecting pool: the service starts even while Redis is down.
pub fn connect(url: &str) -> Result<RedisPool, String> {
    let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL: {e}"))?;
    Ok(r2d2::Pool::builder().max_size(8).min_idle(Some(0)).connection_timeout(REDIS_TIMEOUT).build_unchecked(client))
}

/// Whether Redis answers a PING, for `/ready`.
pub fn ping(pool: &RedisPool) -> bool {
    let Ok(mut conn) = checkout(pool) else { return false };
    redis::cmd("PING").query::<String>(&mut *conn).is_ok()
}

fn checkout(pool: &RedisPool) -> Result<r2d2::PooledConnection<redis::Client>, String> {
    let conn = pool.get().map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(REDIS_TIMEOUT)).map_err(|e| e.to_string())?;
    conn.set_write_timeout(Some(REDIS_TIMEOUT)).map_err(|e| e.to_string())?;
    Ok(conn)
}

pub struct Throttle {
    name: &'static str,
    limit: u32,
    window: Duration,
    redis: Option<(RedisPool, String)>,
    local: Mutex<HashMap<String, (Instant, u32)>>,
    /// Redis is not asked again before this.
    redis_down_until: Mutex<Option<Instant>>,
}

impl Throttle {
    /// A throttle called `name` (part of its Redis keys), shared through `redis` (a pool and
    /// the key prefix) when given.
    pub fn new(name: &'static str, limit: u32, window: Duration, redis: Option<(RedisPool, String)>) -> Self {
        Throttle { name, limit, window, redis, local: Mutex::new(HashMap::new()), redis_down_until: Mutex::new(None) }
    }

    /// Redis, unless it failed a moment ago.
    fn shared(&self) -> Option<(&RedisPool, &str)> {
        let (pool, prefix) = self.redis.as_ref()?;
        let down_until = *self.redis_down_until.lock().unwrap_or_else(|p| p.into_inner());
        match down_until {
            Some(until) if Instant::now() < until => None,
            _ => Some((pool, prefix)),
        }
    }

    fn redis_failed(&self, error: &str) {
        tracing::warn!(%error, throttle = self.name, "Redis did not answer; counting in this process for now");
        *self.redis_down_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + REDIS_BACKOFF);
    }

    fn redis_key(&self, prefix: &str, key: &str) -> String {
        format!("{prefix}throttle:{}:{key}", self.name)
    }

    /// Seconds to wait while `key` is over its limit. May talk to Redis: call it off the
    /// async executor (`web::block`).
    pub fn blocked(&self, key: &str) -> Option<u64> {
        if let Some((pool, prefix)) = self.shared() {
            let asked = checkout(pool).and_then(|mut conn| {
                redis::pipe()
                    .get(self.redis_key(prefix, key))
                    .pttl(self.redis_key(prefix, key))
                    .query::<(Option<u32>, i64)>(&mut *conn)
                    .map_err(|e| e.to_string())
            });
            match asked {
                Ok((Some(count), left_ms)) if count >= self.limit && left_ms > 0 => {
                    return Some((left_ms as u64).div_ceil(1000).max(1))
                }
                Ok(_) => return None,
                Err(error) => self.redis_failed(&error),
            }
        }
        let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let (since, count) = local.get(key)?;
        let elapsed = since.elapsed();
        (*count >= self.limit && elapsed < self.window).then(|| (self.window - elapsed).as_secs().max(1))
    }

    /// Counts one failure for `key`. May talk to Redis, like `blocked`.
    pub fn fail(&self, key: &str) {
        {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            let entry = local.entry(key.to_string()).or_insert((Instant::now(), 0));
            if entry.0.elapsed() >= self.window {
                *entry = (Instant::now(), 0);
            }
            entry.1 += 1;
        }
        if let Some((pool, prefix)) = self.shared() {
            let counted = checkout(pool).and_then(|mut conn| {
                redis::Script::new(FAIL_SCRIPT)
                    .key(self.redis_key(prefix, key))
                    .arg(self.window.as_millis() as u64)
                    .invoke::<u32>(&mut *conn)
                    .map_err(|e| e.to_string())
            });
            if let Err(error) = counted {
                self.redis_failed(&error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_count_blocks_after_the_limit_within_the_window() {
        let throttle = Throttle::new("test", 3, Duration::from_secs(60), None);
        for _ in 0..2 {
            throttle.fail("S1");
        }
        assert!(throttle.blocked("S1").is_none());
        throttle.fail("S1");
        assert!(throttle.blocked("S1").is_some());
        assert!(throttle.blocked("S2").is_none());
    }

    #[test]
    fn an_unreachable_redis_falls_back_to_the_local_count() {
        // Nothing listens on port 1.
        let pool = connect("redis://127.0.0.1:1").unwrap();
        assert!(!ping(&pool));
        let throttle = Throttle::new("test", 2, Duration::from_secs(60), Some((pool, "t:".into())));
        let started = Instant::now();
        throttle.fail("S1");
        assert!(throttle.blocked("S1").is_none());
        throttle.fail("S1");
        assert!(throttle.blocked("S1").is_some());
        assert!(started.elapsed() < 2 * REDIS_TIMEOUT + Duration::from_millis(400), "one timeout, then the backoff");
    }
}
