//! Per-caller rate limits on the API (`/v1/...`): they stop one caller from flooding the
//! service, and are generous enough that no real caller meets them. Every shopper has a token
//! of their own, so a flash sale of thousands of shoppers is thousands of callers each making
//! a few requests; an integration's bulk sync sends 100,000 levels in one snapshot request.
//!
//! A caller is a valid token's subject and role; without one (the public reads), the client's
//! address. Each caller gets `RATE_LIMIT_PER_MINUTE` requests a minute (anonymous callers
//! `RATE_LIMIT_ANONYMOUS_PER_MINUTE`, per address: product pages behind one NAT or CDN share
//! it), as GCRA (the generic cell rate algorithm): a steady rate of quota per minute with a
//! burst of the whole quota, so an idle caller may spend its minute at once but never more.
//! Answers carry `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers);
//! a refusal is 429 `rate-limited` with `Retry-After`.
//!
//! With Redis the state is one key per caller there (a Lua script does the arithmetic
//! atomically, on Redis's clock), so every replica counts the same caller together. Without
//! Redis, or while it does not answer, each process counts on its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use crate::auth::Keys;
use crate::db::redis::Redis;
use crate::error::{ApiError, RatePolicy};

const WINDOW: Duration = Duration::from_secs(60);
/// After Redis failed to answer, how long to count in the process without asking it again.
const REDIS_BACKOFF: Duration = Duration::from_secs(5);
/// How many callers the process remembers before it forgets those whose minute is over.
const LOCAL_SWEEP_AT: usize = 100_000;

/// `KEYS[1]` the caller's theoretical arrival time (µs, Redis's clock); `ARGV[1]` the
/// emission interval (µs), `ARGV[2]` the burst tolerance (µs). Returns `{allowed, µs, µs}`:
/// allowed with the tolerance left and the time until the caller is back to a full quota, or
/// refused with the wait until one request fits.
const GCRA_SCRIPT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local after = tat + interval
if after - now > burst then
  return {0, after - burst - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000) + 1000)
return {1, burst - (after - now), after - now}";

/// A quota: requests per minute; `None` turns the limit off.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    pub authenticated: Option<u32>,
    pub anonymous: Option<u32>,
}

pub struct RateLimiter {
    quotas: Quotas,
    shared: Option<(Redis, String)>,
    local: Mutex<HashMap<String, Instant>>,
    started: Instant,
    /// Until when (ms since `started`) Redis is not asked.
    redis_quiet_until: AtomicU64,
}

/// What one request comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decision {
    allowed: bool,
    /// Requests left in the burst now.
    remaining: u64,
    /// Seconds until the quota is whole again (allowed), or until one request fits (refused).
    seconds: u64,
}

/// The arithmetic of GCRA in microseconds: `tat` the caller's theoretical arrival time.
fn gcra(tat: u64, now: u64, interval: u64, burst: u64) -> (Decision, Option<u64>) {
    let tat = tat.max(now);
    let after = tat + interval;
    if after - now > burst {
        let wait = after - burst - now;
        return (Decision { allowed: false, remaining: 0, seconds: wait.div_ceil(1_000_000).max(1) }, None);
    }
    let remaining = (burst - (after - now)) / interval;
    (Decision { allowed: true, remaining, seconds: (after - now).div_ceil(1_000_000) }, Some(after))
}

impl RateLimiter {
    pub fn new(quotas: Quotas, shared: Option<(Redis, String)>) -> RateLimiter {
        RateLimiter {
            quotas,
            shared,
            local: Mutex::new(HashMap::new()),
            started: Instant::now(),
            redis_quiet_until: AtomicU64::new(0),
        }
    }

    fn micros_since_start(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    fn decide_locally(&self, key: &str, quota: u32) -> Decision {
        let (interval, burst) = shape(quota);
        let now = self.micros_since_start();
        let mut local = self.local.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if local.len() >= LOCAL_SWEEP_AT {
            let horizon = Instant::now();
            local.retain(|_, tat| *tat > horizon);
        }
        let tat = local.get(key).map(|tat| tat.saturating_duration_since(self.started).as_micros() as u64).unwrap_or(0);
        let (decision, stored) = gcra(tat, now, interval, burst);
        if let Some(after) = stored {
            local.insert(key.to_string(), self.started + Duration::from_micros(after));
        }
        decision
    }

    async fn decide(&self, key: &str, quota: u32) -> Decision {
        let quiet = self.redis_quiet_until.load(Ordering::Relaxed);
        if let Some((redis, prefix)) = &self.shared {
            if self.started.elapsed().as_millis() as u64 >= quiet {
                let (interval, burst) = shape(quota);
                let keys = vec![format!("{prefix}rate:{key}")];
                let answer: Result<(i64, i64, i64), String> =
                    redis.script(GCRA_SCRIPT, keys, vec![interval.to_string(), burst.to_string()]).await;
                match answer {
                    Ok((allowed, first, second)) => {
                        let (first, second) = (first.max(0) as u64, second.max(0) as u64);
                        return if allowed == 1 {
                            Decision { allowed: true, remaining: first / interval, seconds: second.div_ceil(1_000_000) }
                        } else {
                            Decision { allowed: false, remaining: 0, seconds: first.div_ceil(1_000_000).max(1) }
                        };
                    }
                    Err(error) => {
                        let until = self.started.elapsed() + REDIS_BACKOFF;
                        self.redis_quiet_until.store(until.as_millis() as u64, Ordering::Relaxed);
                        tracing::warn!(%error, "rate limits count per replica while Redis does not answer");
                    }
                }
            }
        }
        self.decide_locally(key, quota)
    }
}

/// The emission interval and the burst tolerance of a quota per minute, in microseconds.
fn shape(quota: u32) -> (u64, u64) {
    let window = WINDOW.as_micros() as u64;
    let interval = (window / quota.max(1) as u64).max(1);
    (interval, interval * quota.max(1) as u64)
}

fn policy(name: &'static str, quota: u32) -> RatePolicy {
    RatePolicy { name, quota, window_seconds: WINDOW.as_secs() }
}

/// Who is calling, for counting: a valid token's role and subject, or the client's address.
fn caller(req: &ServiceRequest) -> (String, bool) {
    use actix_web::HttpMessage;
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")));
    if let (Some(token), Some(keys)) = (token, req.app_data::<web::Data<Keys>>()) {
        // An invalid token counts against its address: inventing tokens buys no new caller.
        if let Ok(who) = keys.verify(token.trim()) {
            let key = format!("{}:{}", who.actor(), who.store.as_deref().unwrap_or(""));
            // Verified once: the `Principal` extractor takes it from here.
            req.extensions_mut().insert(who);
            return (key, true);
        }
    }
    let address = req.peer_addr().map(|peer| peer.ip().to_string()).unwrap_or_else(|| "unknown".into());
    (format!("address:{address}"), false)
}

/// The middleware: counts the request against its caller and answers 429 over the limit.
pub async fn limit<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
    let counted = req.path().starts_with("/v1/") && !req.path().starts_with("/v1/notifications/callbacks/");
    let Some(limiter) = limiter.filter(|_| counted) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let (key, authenticated) = caller(&req);
    let (name, quota) = if authenticated {
        ("per-caller", limiter.quotas.authenticated)
    } else {
        ("per-address", limiter.quotas.anonymous)
    };
    let Some(quota) = quota else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let decision = limiter.decide(&key, quota).await;
    if !decision.allowed {
        let refusal = ApiError::RateLimited { policy: policy(name, quota), retry_after: decision.seconds };
        let response = refusal.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    let mut response = next.call(req).await?.map_into_left_body();
    let headers = response.headers_mut();
    // A business limit that refused the request (wrong pickup codes) states its own policy.
    if headers.contains_key("ratelimit-policy") {
        return Ok(response);
    }
    let stated = [
        ("ratelimit-policy", format!("\"{name}\";q={quota};w={}", WINDOW.as_secs())),
        ("ratelimit", format!("\"{name}\";r={};t={}", decision.remaining, decision.seconds)),
    ];
    for (header, value) in stated {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(header), value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_spends_its_quota_at_once_then_at_the_steady_rate() {
        let (interval, burst) = shape(60); // one a second, a burst of 60
        let mut tat = 0;
        let now = 10_000_000;
        for left in (0..60).rev() {
            let (decision, stored) = gcra(tat, now, interval, burst);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, left);
            tat = stored.unwrap();
        }
        let (refused, stored) = gcra(tat, now, interval, burst);
        assert_eq!((refused.allowed, refused.seconds, stored), (false, 1, None));
        // A second later, one more fits.
        let (later, _) = gcra(tat, now + 1_000_000, interval, burst);
        assert!(later.allowed);
    }

    #[test]
    fn a_quiet_caller_is_back_to_a_full_quota_after_a_minute() {
        let (interval, burst) = shape(600);
        let (first, stored) = gcra(0, 5_000_000, interval, burst);
        assert_eq!((first.allowed, first.remaining), (true, 599));
        let (again, _) = gcra(stored.unwrap(), 5_000_000 + 61_000_000, interval, burst);
        assert_eq!(again.remaining, 599);
    }
}
