//! Failure throttles that every replica must agree on (today: wrong pickup codes per store).
//!
//! With `REDIS_URL` the counts live in Redis, so a guesser who spreads attempts over several
//! replicas meets one limit; without it, in the process. A fixed window per key: the first
//! failure starts it, and at most `limit` failures fit inside it.
//!
//! An attempt is counted *before* it is tried: it takes an in-flight slot, and the check is
//! "failures + attempts in flight < limit", made atomically with the taking (a Lua script in
//! Redis, a mutex in the process). A burst of concurrent guesses therefore never gets more
//! than `limit` tries: each one holds its slot while it looks. When the attempt is over, the
//! slot is released and counted as a failure or not. An attempt that finds every slot taken
//! by others still in flight (not by failures) waits for one rather than being refused: a
//! busy counter scanning right codes is not throttled.
//!
//! Redis being unreachable does not stop the counter at the store: the process keeps its own
//! counts, and they decide while Redis does not answer (with a warning in the log). The
//! service degrades to per-replica limits rather than refusing handovers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::redis::Redis;

/// After Redis failed to answer, how long to use the local count without asking it again,
/// so a Redis outage does not add a timeout to every scan at the counter.
const REDIS_BACKOFF: Duration = Duration::from_secs(5);
/// An in-flight slot of a replica that died mid-attempt frees itself after this.
const IN_FLIGHT_TTL: Duration = Duration::from_secs(30);

/// `KEYS[1]` failures in the window, `KEYS[2]` attempts in flight (a sorted set of slot ids
/// scored by when they were taken, in Redis's own clock); `ARGV[1]` the limit, `ARGV[2]` the
/// in-flight slots' time to live (ms), `ARGV[3]` the new slot's id. Returns `{1, 0}` with a
/// slot taken, `{0, ms}` when failures fill the window (ms until it ends), `{2, 0}` when
/// attempts in flight fill it.
///
/// Each slot ages on its own: one left behind by a replica that died mid-attempt is dropped
/// `ARGV[2]` ms after it was taken, however busy the key stays. (A plain counter with a
/// refreshed expiry would keep it for as long as attempts keep coming.)
const ACQUIRE_SCRIPT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
local inflight = redis.call('ZCARD', KEYS[2])
local limit = tonumber(ARGV[1])
if failures >= limit then
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 then return {0, left} end
  redis.call('DEL', KEYS[1])
  failures = 0
end
if failures + inflight >= limit then return {2, 0} end
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, 0}";

/// Releases slot `ARGV[3]`; `ARGV[1]` is 1 when the attempt failed, `ARGV[2]` the window (ms).
const RELEASE_SCRIPT: &str = r"
redis.call('ZREM', KEYS[2], ARGV[3])
if ARGV[1] == '1' then
  if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
end
return 1";

/// Why an attempt may not be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// The window is full of failures: wait this many seconds.
    Failures { retry_after: u64 },
    /// Every slot is held by attempts still in flight: one frees in a moment.
    Busy,
}

/// A slot held by an attempt; give it back with `Throttle::release`.
#[derive(Debug)]
#[must_use = "a slot must be released, or it is held until it expires"]
pub struct Slot {
    key: String,
    /// Unique across replicas, so a release frees this slot and no other.
    id: String,
    in_redis: bool,
}

/// The process's own counts for one key. Attempts in flight are kept by when they started,
/// so one whose request was dropped before releasing frees its slot after `IN_FLIGHT_TTL`,
/// as in Redis.
struct Local {
    window_start: Instant,
    failures: u32,
    in_flight: Vec<(String, Instant)>,
}

pub struct Throttle {
    name: &'static str,
    limit: u32,
    window: Duration,
    in_flight_ttl: Duration,
    redis: Option<(Redis, String)>,
    local: Mutex<HashMap<String, Local>>,
    /// Redis is not asked again before this.
    redis_down_until: Mutex<Option<Instant>>,
}

impl Throttle {
    /// A throttle called `name` (part of its Redis keys), shared through `redis` (the
    /// connection and the key prefix) when given.
    pub fn new(name: &'static str, limit: u32, window: Duration, redis: Option<(Redis, String)>) -> Self {
        Throttle {
            name,
            limit,
            window,
            in_flight_ttl: IN_FLIGHT_TTL,
            redis,
            local: Mutex::new(HashMap::new()),
            redis_down_until: Mutex::new(None),
        }
    }

    /// How long an in-flight slot that is never released keeps its place (30 s unless a test
    /// needs to watch one age).
    pub fn with_in_flight_ttl(mut self, ttl: Duration) -> Self {
        self.in_flight_ttl = ttl;
        self
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Redis, unless it failed a moment ago.
    fn shared(&self) -> Option<(&Redis, &str)> {
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

    fn redis_keys(&self, prefix: &str, key: &str) -> (String, String) {
        (format!("{prefix}throttle:{}:{key}", self.name), format!("{prefix}throttle:{}:{key}:slots", self.name))
    }

    /// Takes a slot for an attempt on `key`, or says why not.
    pub async fn acquire(&self, key: &str) -> Result<Slot, Blocked> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        if let Some((redis, prefix)) = self.shared() {
            let (failures, in_flight) = self.redis_keys(prefix, key);
            let args = vec![self.limit.to_string(), self.in_flight_ttl.as_millis().to_string(), id.clone()];
            match redis.script::<(i64, i64)>(ACQUIRE_SCRIPT, vec![failures, in_flight], args).await {
                Ok((1, _)) => return Ok(Slot { key: key.to_string(), id, in_redis: true }),
                Ok((0, left_ms)) => {
                    return Err(Blocked::Failures { retry_after: (left_ms.max(1) as u64).div_ceil(1000) })
                }
                Ok(_) => return Err(Blocked::Busy),
                Err(error) => self.redis_failed(&error),
            }
        }
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let entry = self.local_entry(&mut local, key);
        if entry.failures >= self.limit {
            return Err(Blocked::Failures {
                retry_after: self.window.saturating_sub(entry.window_start.elapsed()).as_secs().max(1),
            });
        }
        if entry.failures + entry.in_flight.len() as u32 >= self.limit {
            return Err(Blocked::Busy);
        }
        entry.in_flight.push((id.clone(), Instant::now()));
        Ok(Slot { key: key.to_string(), id, in_redis: false })
    }

    /// The key's local counts, with a window that has ended started afresh.
    fn local_entry<'a>(&self, local: &'a mut HashMap<String, Local>, key: &str) -> &'a mut Local {
        let entry = local.entry(key.to_string()).or_insert(Local {
            window_start: Instant::now(),
            failures: 0,
            in_flight: Vec::new(),
        });
        if entry.window_start.elapsed() >= self.window {
            entry.window_start = Instant::now();
            entry.failures = 0;
        }
        let ttl = self.in_flight_ttl;
        entry.in_flight.retain(|(_, started)| started.elapsed() < ttl);
        entry
    }

    /// Gives the slot back, counting the attempt as a failure or not.
    pub async fn release(&self, slot: Slot, failed: bool) {
        if slot.in_redis {
            if let Some((redis, prefix)) = self.redis.as_ref() {
                let (failures, in_flight) = self.redis_keys(prefix, &slot.key);
                let args = vec![u8::from(failed).to_string(), self.window.as_millis().to_string(), slot.id.clone()];
                if let Err(error) = redis.script::<i64>(RELEASE_SCRIPT, vec![failures, in_flight], args).await {
                    self.redis_failed(&error);
                }
            }
        }
        // The process keeps its own count of failures too, to decide alone while Redis is
        // down.
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let entry = self.local_entry(&mut local, &slot.key);
        if !slot.in_redis {
            entry.in_flight.retain(|(id, _)| *id != slot.id);
        }
        if failed {
            entry.failures += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn failures_fill_the_window_and_right_attempts_do_not() {
        let throttle = Throttle::new("test", 3, Duration::from_secs(60), None);
        for _ in 0..5 {
            let slot = throttle.acquire("S1").await.unwrap();
            throttle.release(slot, false).await;
        }
        for _ in 0..3 {
            let slot = throttle.acquire("S1").await.unwrap();
            throttle.release(slot, true).await;
        }
        assert!(matches!(throttle.acquire("S1").await, Err(Blocked::Failures { .. })), "the fourth failure waits");
        assert!(throttle.acquire("S2").await.is_ok(), "other keys have their own window");
    }

    #[actix_web::test]
    async fn attempts_in_flight_hold_their_slots() {
        let throttle = Throttle::new("test", 2, Duration::from_secs(60), None);
        let first = throttle.acquire("S1").await.unwrap();
        let second = throttle.acquire("S1").await.unwrap();
        assert_eq!(throttle.acquire("S1").await.unwrap_err(), Blocked::Busy);
        throttle.release(first, false).await;
        let third = throttle.acquire("S1").await.unwrap();
        throttle.release(second, true).await;
        throttle.release(third, true).await;
        assert!(matches!(throttle.acquire("S1").await, Err(Blocked::Failures { .. })));
    }

    #[test]
    fn concurrent_attempts_never_exceed_the_limit() {
        let throttle = std::sync::Arc::new(Throttle::new("test", 10, Duration::from_secs(60), None));
        let tried: usize = (0..8)
            .map(|_| {
                let throttle = throttle.clone();
                // Each thread its own runtime: the attempts truly run at once.
                std::thread::spawn(move || {
                    actix_web::rt::System::new().block_on(async move {
                        let mut tried = 0;
                        for _ in 0..50 {
                            if let Ok(slot) = throttle.acquire("S1").await {
                                tried += 1;
                                throttle.release(slot, true).await;
                            }
                        }
                        tried
                    })
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(tried, 10);
    }

    #[actix_web::test]
    async fn an_unreachable_redis_falls_back_to_the_local_count() {
        // Nothing listens on port 1.
        let redis = Redis::open("redis://127.0.0.1:1").unwrap();
        assert!(!redis.ping().await);
        let throttle = Throttle::new("test", 2, Duration::from_secs(60), Some((redis, "t:".into())));
        let started = Instant::now();
        for _ in 0..2 {
            let slot = throttle.acquire("S1").await.unwrap();
            throttle.release(slot, true).await;
        }
        assert!(matches!(throttle.acquire("S1").await, Err(Blocked::Failures { .. })));
        assert!(
            started.elapsed() < 2 * crate::db::redis::TIMEOUT + Duration::from_millis(400),
            "one timeout, then the backoff"
        );
    }
}
