//! Per-caller rate limits: a caller that floods meets its limit (429 `rate-limited` with
//! `Retry-After` and the `RateLimit` headers), other callers do not notice, callers without a
//! token are counted by address, replicas count one caller together through Redis, and
//! without Redis each replica still counts.

mod common;

use common::{Backend, Reply, TestApp};

async fn locations(app: &TestApp, token: &str) -> Reply {
    app.get("/v1/locations", Some(token)).await
}

async fn a_flooding_caller_meets_its_limit_and_nobody_else_does(app: TestApp) {
    let ann = app.customer("ann");
    for left in (0..5).rev() {
        let reply = locations(&app, &ann).await;
        reply.ok();
        assert_eq!(reply.header("ratelimit-policy"), Some("\"per-caller\";q=5;w=60"));
        let state = reply.header("ratelimit").unwrap().to_string();
        assert!(state.starts_with(&format!("\"per-caller\";r={left};t=")), "{state}");
    }
    let refused = locations(&app, &ann).await;
    refused.assert_problem(429, "rate-limited");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=12).contains(&wait), "one request fits again within 12 s, not {wait}");
    assert_eq!(refused.header("ratelimit-policy"), Some("\"per-caller\";q=5;w=60"));
    assert_eq!(refused.body["retry_after"].as_u64(), Some(wait));
    // Another shopper, and the operations endpoints, are not touched.
    locations(&app, &app.customer("bob")).await.ok();
    for _ in 0..10 {
        app.get("/health", None).await.ok();
    }
    // A forged token of ann's is not ann: it counts against its address (here a public read,
    // which goes through), so inventing tokens buys no caller of its own.
    let forged = format!("{}x", app.customer("ann"));
    locations(&app, &forged).await.ok();
}

on_both_backends!(tight with &[("RATE_LIMIT_PER_MINUTE", "5")];
    a_flooding_caller_meets_its_limit_and_nobody_else_does,
);

async fn callers_without_a_token_are_counted_by_address(app: TestApp) {
    let base = app.serve();
    let agent = common::http_agent();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(common::http_call(&agent, "GET", &format!("{base}/v1/locations"), None, None).0);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    // A token is a caller of its own, whatever its address.
    let admin = app.admin();
    assert_eq!(common::http_call(&agent, "GET", &format!("{base}/v1/locations"), Some(&admin), None).0, 200);
}

on_both_backends!(anonymous with &[("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "3")];
    callers_without_a_token_are_counted_by_address,
);

#[actix_web::test]
async fn replicas_count_one_caller_together_through_redis() {
    let prefix = format!("cc-test-{}:", uuid::Uuid::new_v4().simple());
    let settings = [("REDIS_KEY_PREFIX", prefix.as_str()), ("RATE_LIMIT_PER_MINUTE", "6")];
    let Some(first) = TestApp::spawn_with(Backend::Postgres, &settings).await else { return };
    let Some(second) = TestApp::spawn_with(Backend::Postgres, &settings).await else { return };
    if first.state.redis.is_none() {
        return; // Redis is not running here, and this is not CI (which fails instead).
    }
    let ann = first.customer("ann");
    for i in 0..6 {
        let app = if i % 2 == 0 { &first } else { &second };
        locations(app, &ann).await.ok();
    }
    // Three through each: both know the caller has had its six.
    locations(&first, &ann).await.assert_problem(429, "rate-limited");
    locations(&second, &ann).await.assert_problem(429, "rate-limited");
}

/// Nothing listens on port 1: Redis is "down", and the process counts on its own.
async fn without_redis_each_replica_still_counts(app: TestApp) {
    let ann = app.customer("ann");
    for _ in 0..4 {
        locations(&app, &ann).await.ok();
    }
    locations(&app, &ann).await.assert_problem(429, "rate-limited");
}

on_both_backends!(redis_down with &[("REDIS_URL", "redis://127.0.0.1:1"), ("RATE_LIMIT_PER_MINUTE", "4")];
    without_redis_each_replica_still_counts,
);
