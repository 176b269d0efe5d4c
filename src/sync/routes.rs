//! HTTP for inventory sync: a channel's feed and its export.

use std::time::Duration;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::feed::{self, ChangePage, ExportPage};
use super::push::{self, WebhookState};
use crate::auth::Principal;
use crate::db::read_tx;
use crate::error::{ApiError, Denied, Problem};
use crate::http::idempotency::{self, fingerprint_bodiless, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::pagination::PageQuery;
use crate::http::query::Query;
use crate::http::validate::path_code;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(channel_changes).service(channel_export).service(webhook_state).service(resume_webhook);
}

/// Who may read a channel's sync endpoints: admins, and integrations with `stock:read` unless
/// `admins_only`; then the channel code from the path, checked.
fn channel_code(who: &Principal, code: web::Path<String>, admins_only: bool) -> Result<String, ApiError> {
    if admins_only {
        who.require_admin()?;
    } else {
        who.require_admin_or_scope("stock:read")?;
    }
    let code = code.into_inner();
    path_code("code", &code)?;
    Ok(code)
}

/// Most changes of the log one feed page reads.
pub const MAX_FEED_LIMIT: i64 = 1_000;
/// Longest long poll.
pub const MAX_WAIT_SECONDS: u64 = 30;
/// While a long poll waits, it looks again at least this often even if no commit rang: a
/// change committed on a replica that could not ring this one (no Redis, Redis down) still
/// arrives, and so does one held back behind an older transaction (whose end rings nothing
/// when it wrote nothing, as a hold refused for want of stock).
const LOOK_AGAIN: Duration = Duration::from_millis(250);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The `cursor` of the previous page, or an export's `feed_cursor`. Left out: from the
    /// start of the log (410 once the log has been pruned: export first).
    pub after: Option<String>,
    /// How many changes of the log to read (1 to 1000, default 100); items are fewer when
    /// several changes concern one SKU.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Long poll: when nothing is new, wait up to this many seconds (0 to 30, default 0) for
    /// a change before answering.
    #[param(minimum = 0, maximum = 30)]
    pub wait: Option<u64>,
}

/// A channel's changes after a cursor: its availability per SKU, coalesced, and its imported
/// orders' status changes.
///
/// Who may call: admin; integration with `stock:read`.
#[utoipa::path(
    get, path = "/v1/channels/{code}/changes", tag = "channels", operation_id = "get_channel_changes",
    params(("code" = String, Path, description = "Channel code"), FeedQuery),
    responses(
        (status = 200, description = "What changed after the cursor, and the cursor to continue from", body = ChangePage),
        (status = 404, description = "No such channel", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The cursor is older than the change log keeps (`cursor-expired`): export again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code, cursor, limit or wait", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/channels/{code}/changes")]
async fn channel_changes(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
    query: Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = channel_code(&who, code, false)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_FEED_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be between 1 and {MAX_FEED_LIMIT}")));
    }
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError::validation("wait", format!("must be between 0 and {MAX_WAIT_SECONDS}")));
    }
    let mut after = feed::parse_after(query.after.as_deref())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    // Listening before the first read: a commit between the read and the wait still rings.
    let mut rung = state.changes.listen();
    loop {
        let channel = code.clone();
        let page: ChangePage =
            state.db(move |conn| read_tx(conn, |conn| feed::changes_after(conn, &channel, after, limit))).await?;
        let now = tokio::time::Instant::now();
        if !page.items.is_empty() || !page.orders.is_empty() || now >= deadline {
            return Ok(HttpResponse::Ok().json(page));
        }
        after = crate::changes::Cursor::parse(&page.cursor).unwrap_or(after);
        let _ = tokio::time::timeout(LOOK_AGAIN.min(deadline - now), rung.changed()).await;
    }
}

/// The whole channel, page by page, for a first sync or a resync, with the feed cursor to
/// follow afterwards.
///
/// Who may call: admin; integration with `stock:read`.
#[utoipa::path(
    get, path = "/v1/channels/{code}/availability", tag = "channels", operation_id = "export_channel_availability",
    params(("code" = String, Path, description = "Channel code"), PageQuery),
    responses(
        (status = 200, description = "One page of the channel's availability, in SKU order", body = ExportPage),
        (status = 404, description = "No such channel", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code, limit or cursor", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/channels/{code}/availability")]
async fn channel_export(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = channel_code(&who, code, false)?;
    let page = query.page()?;
    let export: ExportPage = state.db(move |conn| read_tx(conn, |conn| feed::export(conn, &code, &page))).await?;
    Ok(HttpResponse::Ok().json(export))
}

/// How delivery to the channel's webhook goes: active or paused, where it is in the feed,
/// failures in a row and the last error.
///
/// Who may call: admin.
#[utoipa::path(
    get, path = "/v1/channels/{code}/webhook", tag = "channels", operation_id = "get_channel_webhook",
    params(("code" = String, Path, description = "Channel code")),
    responses(
        (status = 200, description = "The webhook's delivery state", body = WebhookState),
        (status = 404, description = "No such channel, or it has no webhook_url", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/channels/{code}/webhook")]
async fn webhook_state(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = channel_code(&who, code, true)?;
    let webhook: WebhookState = state.db(move |conn| read_tx(conn, |conn| push::state(conn, &code))).await?;
    Ok(HttpResponse::Ok().json(webhook))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResumeQuery {
    /// Deliver from here (an export's `feed_cursor`, after a resync) instead of where
    /// delivery stopped.
    pub after: Option<String>,
}

/// Starts a paused (or backing-off) webhook again now, from where it stopped or from `after`.
///
/// Who may call: admin.
#[utoipa::path(
    post, path = "/v1/channels/{code}/webhook/resume", tag = "channels", operation_id = "resume_channel_webhook",
    params(("code" = String, Path, description = "Channel code"), ResumeQuery, IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Delivery is active again", body = WebhookState),
        (status = 404, description = "No such channel, or it has no webhook_url", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The change log no longer holds where delivery would start (`cursor-expired`): export the channel and resume with its `feed_cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code or cursor", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[post("/v1/channels/{code}/webhook/resume")]
async fn resume_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    code: web::Path<String>,
    query: Query<ResumeQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = channel_code(&who, code, true)?;
    let after = match query.after.as_deref() {
        None => None,
        Some(text) => Some(feed::parse_after(Some(text))?),
    };
    // The query is part of what was asked: the same key with another `after` is another request.
    let asked = format!("{}{}", fingerprint_bodiless(&req), req.query_string());
    idempotency::run(&state, &who, key, asked, move |conn| Answer::ok(&push::resume(conn, &code, after)?)).await
}
