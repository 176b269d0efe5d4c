//! HTTP for the pickup pass page: HTML in, HTML out, for a phone's browser.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page;
use crate::db::read_tx;
use crate::error::ApiError;
use crate::http::json::Validate;
use crate::orders::model::ArrivalForm;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(pass_page).service(pass_arrival);
}

/// The stylesheet, outside the API document like the console's files.
pub fn configure_assets(cfg: &mut web::ServiceConfig) {
    cfg.route("/pass/assets/pass.css", web::get().to(stylesheet));
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(page::STYLESHEET)
}

/// An HTML answer with the page's policy; never cached (the pass changes as the order does).
fn html(status: StatusCode, body: String) -> HttpResponse {
    crate::http::html::page(status, page::CONTENT_SECURITY_POLICY, body)
}

/// The page for an error: the missing-pass page for 404, else the sentence.
fn refusal(error: ApiError) -> HttpResponse {
    let status = actix_web::ResponseError::status_code(&error);
    if status == StatusCode::NOT_FOUND {
        return html(status, page::missing());
    }
    if status.is_server_error() {
        return actix_web::ResponseError::error_response(&error);
    }
    html(status, page::problem(&error.to_string()))
}

/// The shopper's pickup pass: the QR code and code staff scan, the store, its address, map
/// link and today's hours, the deadline and the slot; for curbside, "I'm here".
///
/// Public: the link itself is the pass (opaque, unguessable, in the ready email and SMS). It
/// opens nothing once the order is collected, cancelled or expired (410), and an unknown
/// link is 404. HTML in the shopper's language, under a strict Content-Security-Policy.
#[utoipa::path(
    get, path = "/pass/{token}", tag = "orders", operation_id = "get_pickup_pass_page",
    params(("token" = String, Path, description = "The pass token from the ready message")),
    responses(
        (status = 200, description = "The pass", content_type = "text/html", body = String),
        (status = 404, description = "No such pass", content_type = "text/html", body = String),
        (status = 410, description = "The order is no longer waiting: the pass is spent", content_type = "text/html", body = String),
    ),
    security(())
)]
#[get("/pass/{token}")]
async fn pass_page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    let key = state.keys.pickup_key.clone();
    let lookup = token.clone();
    match state.db(move |conn| read_tx(conn, |conn| super::open(conn, &lookup, &key))).await {
        Ok(opened) => {
            let status = match opened {
                super::Opened::Waiting(_) => StatusCode::OK,
                super::Opened::Spent { .. } => StatusCode::GONE,
            };
            html(status, page::render(&opened, &token))
        }
        Err(error) => refusal(error),
    }
}

/// What the "I'm here" form sends; empty fields are left out.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HereForm {
    /// The parking bay, as signposted.
    pub bay: Option<String>,
    /// What to look for: "blue Škoda, WA 12345".
    pub vehicle: Option<String>,
}

/// "I'm here": a curbside shopper at the store, from the pass page's form.
///
/// Public, like the page: the token is the pass. Records the arrival as
/// `POST /v1/orders/{id}/arrival` does and sends the browser back to the pass (303). A form
/// post from a browser carries no `Idempotency-Key`; saying it twice updates the bay and the
/// vehicle. Not a curbside order, or no longer waiting: 409 or 410.
#[utoipa::path(
    post, path = "/pass/{token}/arrival", tag = "orders", operation_id = "arrive_from_pickup_pass",
    params(("token" = String, Path, description = "The pass token from the ready message")),
    request_body(content = HereForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Recorded: back to the pass"),
        (status = 404, description = "No such pass", content_type = "text/html", body = String),
        (status = 409, description = "Not a curbside order", content_type = "text/html", body = String),
        (status = 410, description = "The pass is spent", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
        (status = 422, description = "A field too long or unknown", content_type = "text/html", body = String),
    ),
    security(())
)]
#[post("/pass/{token}/arrival")]
async fn pass_arrival(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let token = token.into_inner();
    if !crate::http::html::is_form(&req) {
        return refusal(ApiError::UnsupportedMediaType("send the form as application/x-www-form-urlencoded".into()));
    }
    let form: HereForm = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(e) => return refusal(ApiError::validation("form", e.to_string())),
    };
    let filled = |value: Option<String>| value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let arrival = ArrivalForm { bay: filled(form.bay), vehicle: filled(form.vehicle), note: None };
    if let Err(error) = arrival.validate() {
        return refusal(error);
    }
    let (key, settings, lookup) = (state.keys.pickup_key.clone(), state.order_settings(), token.clone());
    let done = state
        .db(move |conn| crate::db::write_tx(conn, |conn| super::arrive(conn, &lookup, &key, &arrival, &settings)))
        .await;
    match done {
        Ok(()) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/pass/{token}")))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(error) => refusal(error),
    }
}
