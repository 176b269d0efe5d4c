//! `GET /v1/orders/{id}/notifications`.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::outbox::{self, Notification};
use crate::auth::Principal;
use crate::db::read_tx;
use crate::error::{ApiError, Denied, Problem};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(resend).service(callback);
}

#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<Notification>,
}

/// The notifications of an order, oldest first, with their delivery status.
///
/// Who may call: the order's customer; staff of its store; admin; integration with
/// `orders:read`. Others get 404.
#[utoipa::path(
    get, path = "/v1/orders/{id}/notifications", tag = "notifications",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = NotificationList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/orders/{id}/notifications")]
async fn list(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let items = state
        .db(move |conn| {
            read_tx(conn, |conn| {
                let order = crate::orders::find_row(conn, &id)?;
                crate::orders::can_view(&who, &order)?;
                outbox::list(conn, &id)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(NotificationList { items }))
}

/// Send a failed (or suppressed) notification again, now, with a fresh retry window.
///
/// Who may call: admin. Answers the order's notifications.
#[utoipa::path(
    post, path = "/v1/notifications/{id}/resend", tag = "notifications",
    params(("id" = String, Path, description = "Notification id")),
    responses(
        (status = 200, body = NotificationList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[post("/v1/notifications/{id}/resend")]
async fn resend(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let id = id.into_inner();
    let items = state
        .db(move |conn| {
            crate::db::write_tx(conn, |conn| {
                outbox::resend(conn, &id)?;
                let order = outbox::order_of(conn, &id)?;
                outbox::list(conn, &order)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(NotificationList { items }))
}

/// A delivery receipt from an SMS provider. Only Twilio status callbacks are accepted so far:
/// form-encoded, signed with `X-Twilio-Signature` over `PUBLIC_BASE_URL` + this path and the
/// parameters. Late or out-of-order receipts never move a status backwards.
///
/// Who may call: the provider (the signature is checked; no bearer token).
#[utoipa::path(
    post, path = "/v1/notifications/callbacks/{provider}", tag = "notifications",
    params(("provider" = String, Path, description = "`twilio`")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "Twilio's status callback parameters (`MessageSid`, `MessageStatus`, `ErrorCode`, …)"),
    responses(
        (status = 204, description = "Receipt taken"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown provider, or its callbacks are not configured", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/v1/notifications/callbacks/{provider}")]
async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    provider: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let provider = provider.into_inner();
    let (Some(twilio), Some(base), "twilio") =
        (&state.channels.sms, &state.settings.public_base_url, provider.as_str())
    else {
        return Err(ApiError::NotFound(format!("no delivery receipts are taken from {provider} here")));
    };
    let params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|e| ApiError::MalformedJson(format!("not a form body: {e}")))?;
    let given = req.headers().get("X-Twilio-Signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let expected = super::twilio::signature(twilio.auth_token(), &super::twilio::callback_url(base), &params);
    if !super::twilio::same(given, &expected) {
        return Err(ApiError::Unauthorized("the X-Twilio-Signature does not match".into()));
    }
    let field = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (Some(sid), Some(status)) = (field("MessageSid"), field("MessageStatus")) else {
        return Err(ApiError::validation("MessageStatus", "MessageSid and MessageStatus are required"));
    };
    let (status, error) = match status.as_str() {
        "sent" => ("sent", None),
        "delivered" => ("delivered", None),
        "read" => ("opened", None),
        "undelivered" | "failed" => (
            "failed",
            Some(format!("the carrier reported {status} (error {})", field("ErrorCode").unwrap_or_default())),
        ),
        // queued, sending, accepted, scheduled: nothing new to record.
        _ => return Ok(HttpResponse::NoContent().finish()),
    };
    state
        .db(move |conn| {
            crate::db::write_tx(conn, |conn| outbox::record_receipt(conn, "sms", &sid, status, error.clone()))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
