//! The notifications of an order, resending, delivery receipts and the Web Push key.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbox::{self, ChannelName, DeliveryStatus, Notification};
use crate::auth::Principal;
use crate::db::read_tx;
use crate::error::{ApiError, Denied, Problem};
use crate::http::idempotency::{self, fingerprint_bodiless, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // The callbacks before the resend route: `/v1/notifications/callbacks/resend` is a
    // provider's path, as the document reads it (concrete segments win).
    cfg.service(list).service(callback).service(resend).service(push_key).service(email_opened);
}

/// The server's VAPID public key, for `pushManager.subscribe({applicationServerKey})`.
#[derive(Serialize, ToSchema)]
pub struct PushKey {
    /// The uncompressed P-256 public key, base64url.
    pub public_key: String,
}

/// The key browsers subscribe to push messages with. 404 when Web Push is not configured.
///
/// Who may call: anyone (it is public by design).
#[utoipa::path(
    get, path = "/v1/notifications/push-key", tag = "notifications", operation_id = "get_push_key",
    responses(
        (status = 200, description = "The VAPID public key", body = PushKey),
        (status = 404, description = "Web Push is not configured", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/notifications/push-key")]
async fn push_key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let push =
        state.channels.push.as_ref().ok_or_else(|| ApiError::NotFound("Web Push is not configured here".into()))?;
    Ok(HttpResponse::Ok().json(PushKey { public_key: push.public_key().to_string() }))
}

/// A receipt a service worker posts when it shows a push notification, or when the customer
/// opens it. The `token` came inside the encrypted message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushReceipt {
    pub notification_id: String,
    pub token: String,
    pub status: PushReceiptStatus,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum PushReceiptStatus {
    Delivered,
    Opened,
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
    get, path = "/v1/orders/{id}/notifications", tag = "notifications", operation_id = "list_order_notifications",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order's notifications, oldest first", body = NotificationList),
        (status = 404, description = "No such order, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
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
                outbox::list(conn, outbox::About::Order(&id))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(NotificationList { items }))
}

/// Send a failed (or suppressed) notification again, now, with a fresh retry window.
///
/// Who may call: admin. Answers the order's notifications. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/notifications/{id}/resend", tag = "notifications", operation_id = "resend_notification",
    params(("id" = String, Path, description = "Notification id"), IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The order's notifications, the resent one queued again", body = NotificationList),
        (status = 404, description = "No such notification", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The notification was sent or delivered: nothing to resend", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[post("/v1/notifications/{id}/resend")]
async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let id = id.into_inner();
    idempotency::run(&state, &who, key, fingerprint_bodiless(&req), move |conn| {
        outbox::resend(conn, &id)?;
        let items = match outbox::about_of(conn, &id)? {
            (Some(order), _) => outbox::list(conn, outbox::About::Order(&order))?,
            (None, Some(subject)) => outbox::list(conn, outbox::About::Subject(&subject))?,
            (None, None) => Vec::new(),
        };
        Answer::ok(&NotificationList { items })
    })
    .await
}

/// A delivery receipt. Twilio status callbacks are form-encoded and signed with
/// `X-Twilio-Signature` over `PUBLIC_BASE_URL` + this path and the parameters; Infobip
/// delivery reports are JSON and carry the `token` the report URL was given
/// (`INFOBIP_REPORT_TOKEN`); push receipts (`push`) are JSON `PushReceipt`s from the service
/// worker, with the token that came inside the encrypted message; email events (`sendgrid`)
/// are a JSON array in SendGrid's Event Webhook format, naming each email by its `smtp-id`
/// and carrying the `token` of `EMAIL_EVENTS_TOKEN`. WhatsApp and Viber receipts come through
/// their provider's. Late or out-of-order receipts never move a status backwards.
///
/// Who may call: the provider or service worker (its signature or token is checked; no
/// bearer token).
#[utoipa::path(
    post, path = "/v1/notifications/callbacks/{provider}", tag = "notifications", operation_id = "take_delivery_receipt",
    params(
        ("provider" = String, Path, description = "`twilio`, `infobip`, `push` or `sendgrid`"),
        ("token" = Option<String>, Query, description = "Infobip: the report token"),
    ),
    request_body(
        description = "Twilio's status callback parameters (`MessageSid`, `MessageStatus`, `ErrorCode`, …); Infobip's JSON report `{results: [{messageId, status: {groupName}}]}`; or a push receipt",
        content(
            (String = "application/x-www-form-urlencoded"),
            (PushReceipt = "application/json"),
        ),
    ),
    responses(
        (status = 204, description = "Receipt taken"),
        (status = 400, description = "A body that is not the provider's format", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong signature or token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown provider, or its receipts are not configured", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A receipt without the fields it needs", body = Problem, content_type = "application/problem+json"),
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
    use super::channels::Sms;
    let provider = provider.into_inner();
    let not_here = || ApiError::NotFound(format!("no delivery receipts are taken from {provider} here"));
    if provider == "push" {
        if state.channels.push.is_none() {
            return Err(not_here());
        }
        let receipt: PushReceipt = crate::http::json::parse_json(&body)?;
        super::push::check_receipt(&state.keys.pickup_key, &receipt.notification_id, &receipt.token)?;
        let status = match receipt.status {
            PushReceiptStatus::Delivered => DeliveryStatus::Delivered,
            PushReceiptStatus::Opened => DeliveryStatus::Opened,
        };
        state
            .db(move |conn| {
                crate::db::write_tx(conn, |conn| outbox::record_push_receipt(conn, &receipt.notification_id, status))
            })
            .await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    // One provider account carries SMS, WhatsApp and Viber: whichever channel has it checks the
    // receipt (the same signature or token either way).
    let query_token = || {
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("token").cloned())
            .unwrap_or_default()
    };
    if provider == "sendgrid" {
        let token = state.channels.email_events_token.as_deref();
        let receipts = super::email_events::receipts(token, &query_token(), &body)?;
        state
            .db(move |conn| {
                crate::db::write_tx(conn, |conn| {
                    for receipt in &receipts {
                        outbox::record_receipt(conn, &[ChannelName::Email], receipt)?;
                    }
                    Ok(())
                })
            })
            .await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    let whatsapp = state.channels.whatsapp.as_ref();
    let twilio = match &state.channels.sms {
        Some(Sms::Twilio(twilio)) => Some(twilio),
        _ => whatsapp.and_then(|w| w.twilio_receipts()),
    };
    let infobip = match &state.channels.sms {
        Some(Sms::Infobip(infobip)) => Some(infobip),
        _ => {
            whatsapp.and_then(|w| w.infobip_receipts()).or_else(|| state.channels.viber.as_ref().map(|v| v.receipts()))
        }
    };
    let receipts = match (provider.as_str(), twilio, infobip) {
        ("twilio", Some(twilio), _) => {
            let signature = req.headers().get("X-Twilio-Signature").and_then(|v| v.to_str().ok()).unwrap_or("");
            twilio.receipts(signature, &body)?
        }
        ("infobip", _, Some(infobip)) => infobip.receipts(&query_token(), &body)?,
        _ => return Err(not_here()),
    };
    state
        .db(move |conn| {
            crate::db::write_tx(conn, |conn| {
                for receipt in &receipts {
                    outbox::record_receipt(
                        conn,
                        &[ChannelName::Sms, ChannelName::Whatsapp, ChannelName::Viber],
                        receipt,
                    )?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The open pixel of an email: fetching it records the email as `opened` (which an
/// `email>sms@…` fallback waits for) and answers a transparent 1×1 GIF.
///
/// Public: the mail client fetches it; the signature in the path is the notification's own,
/// so nobody else can mark it. Emails carry it only where `EMAIL_OPEN_TRACKING` is on, with a
/// `PUBLIC_BASE_URL`, for customers who have not refused it. A later open changes nothing.
#[utoipa::path(
    get, path = "/v1/notifications/{id}/opened/{signature}", tag = "notifications", operation_id = "email_opened",
    params(
        ("id" = String, Path, description = "Notification id"),
        ("signature" = String, Path, description = "The signature the email's pixel carries"),
    ),
    responses(
        // No schema: an image, which generated clients have no type for; the description says it.
        (status = 200, description = "A transparent 1×1 GIF (`image/gif`)"),
        (status = 404, description = "No such email, or not its signature", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/notifications/{id}/opened/{signature}")]
async fn email_opened(state: web::Data<AppState>, path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (id, signature) = path.into_inner();
    if !super::opens::signature_matches(&state.keys.pickup_key, &id, &signature) {
        return Err(ApiError::NotFound(format!("no email {id} with that signature")));
    }
    state.db(move |conn| crate::db::write_tx(conn, |conn| outbox::record_email_open(conn, &id))).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/gif")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store, private"))
        .body(super::opens::PIXEL_GIF))
}
