//! HTTP for holds: extract, authorize, call, respond.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::TimeDelta;

use super::model::{ExtendHold, NewHold, Reservation};
use crate::auth::{Principal, Role};
use crate::db::read_tx;
use crate::error::{ApiError, BadBody, Denied, Problem};
use crate::http::idempotency::{self, fingerprint, fingerprint_bodiless, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::{Json, OptionalJson};
use crate::limits::CustomerLimits;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create).service(read).service(release).service(extend);
}

/// Customers, admins, and integrations with `orders:write` place and manage holds.
fn require_holder(who: &Principal) -> Result<(), ApiError> {
    match who.role {
        Role::Customer | Role::Admin => Ok(()),
        _ => who.require_admin_or_scope("orders:write"),
    }
}

/// Hold stock at one location: every line or none, for a limited time.
///
/// Who may call: customer; admin; integration with `orders:write`. Not enough stock answers
/// 409 `insufficient-stock` with `shortfalls`, each listing the nearest other stores that
/// could serve that line. Customers are held to the per-customer limits (409
/// `limit-exceeded`, naming the limit). Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/reservations", tag = "reservations", operation_id = "create_hold",
    params(IdempotencyKeyHeader),
    request_body = NewHold,
    responses(
        (status = 201, description = "The hold", body = Reservation),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Insufficient stock (`shortfalls`), a customer limit (`limit-exceeded`), or the same Idempotency-Key in flight", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/reservations")]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    body: Json<NewHold>,
) -> Result<HttpResponse, ApiError> {
    require_holder(&who)?;
    let form = body.0;
    // Longer than this deployment allows is held for as long as it allows: `expires_at` says.
    let ttl = form
        .ttl_seconds
        .unwrap_or(state.settings.orders.hold_ttl_seconds)
        .min(state.settings.orders.hold_ttl_max_seconds);
    if super::leader::queued(&form, state.settings.orders.hold_batch_max) {
        let fingerprint = fingerprint(&req, &form);
        return super::leader::hold_one_line(&state, who, key, fingerprint, form, TimeDelta::seconds(ttl)).await;
    }
    if form.remind == Some(true) && who.role != crate::auth::Role::Customer {
        return Err(ApiError::Conflict(
            "reminders go to a customer: place the hold with their token to ask for one".into(),
        ));
    }
    let (holder, limits) = (who.clone(), CustomerLimits::from_settings(&state.settings.limits));
    let before = TimeDelta::seconds(state.settings.notify.hold_reminder_before_seconds);
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        let hold = super::hold(conn, &holder, &form, TimeDelta::seconds(ttl), &limits)?;
        if form.remind == Some(true) {
            super::remind(conn, &holder.sub, &hold, before, None)?;
        }
        Answer::created(&hold)
    })
    .await
}

/// A hold.
///
/// Who may call: the customer or integration that placed it; admin. Others get 404.
#[utoipa::path(
    get, path = "/v1/reservations/{id}", tag = "reservations", operation_id = "get_hold",
    params(("id" = String, Path, description = "Reservation id")),
    responses(
        (status = 200, description = "The hold", body = Reservation),
        (status = 404, description = "No such hold, or not the caller's", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/reservations/{id}")]
async fn read(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    require_holder(&who)?;
    let id = id.into_inner();
    let hold = state.db(move |conn| read_tx(conn, |conn| super::get(conn, &who, &id))).await?;
    Ok(HttpResponse::Ok().json(hold))
}

/// Release a hold: its stock goes back on sale at once.
///
/// Who may call: the customer or integration that placed it; admin. Releasing a hold that is
/// already released or expired answers 204 too; one that became an order answers 409.
/// Accepts `Idempotency-Key`.
#[utoipa::path(
    delete, path = "/v1/reservations/{id}", tag = "reservations", operation_id = "release_hold",
    params(("id" = String, Path, description = "Reservation id"), IdempotencyKeyHeader),
    responses(
        (status = 204, description = "Released"),
        (status = 404, description = "No such hold, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The hold became an order: cancel the order instead", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[delete("/v1/reservations/{id}")]
async fn release(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_holder(&who)?;
    let (id, holder) = (id.into_inner(), who.clone());
    idempotency::run(&state, &who, key, fingerprint_bodiless(&req), move |conn| {
        super::release(conn, &holder, &id)?;
        Answer::no_content()
    })
    .await
}

/// Extend a hold, once: it then ends `seconds` (default `HOLD_TTL_SECONDS`) after its current
/// end, and no later than `HOLD_TTL_MAX_SECONDS` from now.
///
/// Who may call: the customer or integration that placed it; admin. Its stock stays reserved
/// all along. A hold already extended, expired, or turned into an order answers 409; one a
/// recount left short answers 409 `at-risk`. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/reservations/{id}/extend", tag = "reservations", operation_id = "extend_hold",
    params(("id" = String, Path, description = "Reservation id"), IdempotencyKeyHeader),
    request_body(content = Option<ExtendHold>, description = "Optional: by how much"),
    responses(
        (status = 200, description = "The hold, with its new `expires_at`", body = Reservation),
        (status = 404, description = "No such hold, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already extended, expired, converted, at its cap, or at risk (`at-risk`)", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/reservations/{id}/extend")]
async fn extend(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: OptionalJson<ExtendHold>,
) -> Result<HttpResponse, ApiError> {
    require_holder(&who)?;
    let (id, form, holder) = (id.into_inner(), body.0, who.clone());
    let orders = &state.settings.orders;
    let by = TimeDelta::seconds(form.seconds.unwrap_or(orders.hold_ttl_seconds));
    let cap = TimeDelta::seconds(orders.hold_ttl_max_seconds);
    let before = TimeDelta::seconds(state.settings.notify.hold_reminder_before_seconds);
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        let hold = super::extend(conn, &holder, &id, by, cap)?;
        // A shopper who asked to be reminded is reminded before the new end too.
        if holder.role == crate::auth::Role::Customer && super::wants_reminder(conn, &id)? {
            super::remind(conn, &holder.sub, &hold, before, Some("extended"))?;
        }
        Answer::ok(&hold)
    })
    .await
}
