//! `/health`, `/ready` and `/metrics`.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::db;
use crate::error::{ApiError, Denied, Problem};
use crate::http::metrics::PoolGauges;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(health).service(ready).service(metrics);
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the process is up; `ready` when it can also reach its database (and Redis,
    /// when configured); `degraded` when the database answers but Redis does not.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// With `REDIS_URL`: `ok`, or `unreachable`. The service then stays ready: it sells from
    /// PostgreSQL as ever, keeps its rate limits per replica, and live events and pushes reach
    /// other replicas within a quarter second from the change log instead of at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
}

/// Liveness: the process is up.
///
/// Who may call: anyone (public).
#[utoipa::path(
    get, path = "/health", tag = "operations", operation_id = "health",
    responses((status = 200, description = "The process is up", body = Health)),
    security(())
)]
#[get("/health")]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into(), database: None, redis: None })
}

/// Readiness: the database answers. 503 when it does not. Redis, when configured, is
/// reported (`status: degraded` without it) but does not decide: without it rate limits fall
/// back to each replica and events to the change log.
///
/// Who may call: anyone (public).
#[utoipa::path(
    get, path = "/ready", tag = "operations", operation_id = "ready",
    responses(
        (status = 200, description = "The database answers; Redis is reported", body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/ready")]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db(db::ping)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the database does not answer: {}", e.kind().1)))?;
    let backend = state.settings.database.backend_name().to_string();
    let redis = match state.redis.clone() {
        Some(redis) => Some(if redis.ping().await { "ok" } else { "unreachable" }.to_string()),
        None => None,
    };
    let status = if redis.as_deref() == Some("unreachable") { "degraded" } else { "ready" };
    Ok(HttpResponse::Ok().json(Health { status: status.into(), database: Some(backend), redis }))
}

/// Prometheus metrics: requests by route and status, latency histograms, pool usage.
///
/// Who may call: admin; integration with `metrics:read`.
#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>, who: Principal) -> Result<HttpResponse, ApiError> {
    who.require_admin_or_scope("metrics:read")?;
    let pool = state.pool.state();
    let text = state.metrics.render(PoolGauges {
        max_size: state.pool.max_size(),
        connections: pool.connections,
        idle: pool.idle_connections,
    });
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text))
}
