//! HTTP for back-in-stock alerts, and the one-click unsubscribe page their emails link to.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::model::{AlertForm, AlertList, StockAlert};
use crate::auth::Principal;
use crate::db::{read_tx, write_tx};
use crate::error::{ApiError, BadBody, Denied, Problem};
use crate::http::idempotency::{self, fingerprint, fingerprint_bodiless, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::Json;
use crate::http::validate::path_customer_id;
use crate::notify::locale::Lang;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(subscribe)
        .service(list_alerts)
        .service(get_alert)
        .service(cancel_alert)
        .service(unsubscribe_page)
        .service(unsubscribe);
}

/// Ask to hear when a SKU is back: at these stores, online, or both.
///
/// Who may call: the customer themself; admin. Others: 404 (another customer) or 403. The
/// customer needs a profile (their channels) and marketing consent: give it with
/// `marketing_consent: true`, else 409 `consent-required`. When the SKU is back with at least
/// `quantity` available where asked (after a receipt, a count, a cancel or an expiry), the
/// customer is told once, in their language, on their channels, with a link to hold it; at
/// most `STOCK_ALERTS_PER_DAY` alerts a day. Enough on a shelf it names already: 409. Accepts
/// `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/customers/{id}/stock-alerts", tag = "customers", operation_id = "create_stock_alert",
    params(("id" = String, Path, description = "Customer id"), IdempotencyKeyHeader),
    request_body = AlertForm,
    responses(
        (status = 201, description = "Subscribed", body = StockAlert),
        (status = 404, description = "No such customer, product or store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No marketing consent (`consent-required`), available now, or too many alerts", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/customers/{id}/stock-alerts")]
async fn subscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: Json<AlertForm>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    path_customer_id("id", &id)?;
    super::require_owner(&who, &id)?;
    let (form, caller) = (body.0, who.clone());
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        let now = chrono::Utc::now().naive_utc();
        Answer::created(&super::subscribe(conn, &caller, &id, &form, now)?)
    })
    .await
}

/// A customer's stock alerts, newest first: active, told and withdrawn.
///
/// Who may call: the customer themself; admin.
#[utoipa::path(
    get, path = "/v1/customers/{id}/stock-alerts", tag = "customers", operation_id = "list_stock_alerts",
    params(("id" = String, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The alerts", body = AlertList),
        (status = 404, description = "Another customer's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid customer id", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/customers/{id}/stock-alerts")]
async fn list_alerts(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    path_customer_id("id", &id)?;
    super::require_owner(&who, &id)?;
    let list = state.db(move |conn| read_tx(conn, |conn| super::list(conn, &id))).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One stock alert.
///
/// Who may call: the customer themself; admin.
#[utoipa::path(
    get, path = "/v1/customers/{id}/stock-alerts/{alert_id}", tag = "customers", operation_id = "get_stock_alert",
    params(("id" = String, Path, description = "Customer id"), ("alert_id" = String, Path, description = "Alert id")),
    responses(
        (status = 200, description = "The alert", body = StockAlert),
        (status = 404, description = "No such alert of this customer's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid customer id", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/customers/{id}/stock-alerts/{alert_id}")]
async fn get_alert(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, alert_id) = path.into_inner();
    path_customer_id("id", &id)?;
    super::require_owner(&who, &id)?;
    let alert = state.db(move |conn| read_tx(conn, |conn| super::find(conn, &id, &alert_id))).await?;
    Ok(HttpResponse::Ok().json(alert))
}

/// Withdraw a stock alert. Withdrawing one already told or withdrawn changes nothing.
///
/// Who may call: the customer themself; admin. Accepts `Idempotency-Key`.
#[utoipa::path(
    delete, path = "/v1/customers/{id}/stock-alerts/{alert_id}", tag = "customers", operation_id = "delete_stock_alert",
    params(("id" = String, Path, description = "Customer id"), ("alert_id" = String, Path, description = "Alert id"), IdempotencyKeyHeader),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 404, description = "No such alert of this customer's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid customer id", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[delete("/v1/customers/{id}/stock-alerts/{alert_id}")]
async fn cancel_alert(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, alert_id) = path.into_inner();
    path_customer_id("id", &id)?;
    super::require_owner(&who, &id)?;
    idempotency::run(&state, &who, key, fingerprint_bodiless(&req), move |conn| {
        super::cancel(conn, &id, &alert_id)?;
        Answer::no_content()
    })
    .await
}

const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn html(status: StatusCode, body: String) -> HttpResponse {
    crate::http::html::page(status, CONTENT_SECURITY_POLICY, body)
}

/// (question, button, done, unknown link) in the customer's language.
fn words(lang: Lang) -> [&'static str; 4] {
    match lang {
        Lang::En => [
            "Stop back-in-stock alerts?",
            "Unsubscribe",
            "You are unsubscribed: no more back-in-stock alerts. Messages about your orders still come.",
            "This link is not valid.",
        ],
        Lang::Pl => [
            "Wyłączyć powiadomienia o dostępności?",
            "Wypisz mnie",
            "Wypisano: nie będzie więcej powiadomień o dostępności. Wiadomości o zamówieniach nadal dotrą.",
            "Ten link jest nieważny.",
        ],
        Lang::Es => [
            "¿Dejar de recibir avisos de stock?",
            "Darme de baja",
            "Te has dado de baja: no más avisos de stock. Los mensajes sobre tus pedidos siguen llegando.",
            "Este enlace no es válido.",
        ],
        Lang::Ru => [
            "Отключить уведомления о наличии?",
            "Отписаться",
            "Вы отписаны: уведомлений о наличии больше не будет. Сообщения о заказах продолжат приходить.",
            "Эта ссылка недействительна.",
        ],
        Lang::Ar => [
            "إيقاف تنبيهات التوفر؟",
            "إلغاء الاشتراك",
            "تم إلغاء اشتراكك: لا مزيد من تنبيهات التوفر. ستصلك رسائل طلباتك كالمعتاد.",
            "هذا الرابط غير صالح.",
        ],
    }
}

fn page(lang: Lang, body: &str) -> String {
    let (dir, code) = (lang.dir(), lang.tag());
    format!(
        "<!DOCTYPE html><html lang=\"{code}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
         <link rel=\"stylesheet\" href=\"/pass/assets/pass.css\"><title>clickcollect</title></head><body><main>{body}</main></body></html>"
    )
}

/// The language a customer reads; English for a link that names nobody.
async fn customer_lang(state: &web::Data<AppState>, customer: Option<String>) -> Lang {
    let Some(customer) = customer else { return Lang::En };
    let row = state.db(move |conn| read_tx(conn, |conn| crate::customers::find_row(conn, &customer))).await;
    row.ok().flatten().map(|row| Lang::resolve(row.locale.as_deref(), None)).unwrap_or(Lang::En)
}

/// The page an alert email's "unsubscribe" link opens: one button. Opening it changes
/// nothing (mail scanners follow links); the button posts to the same address.
///
/// Public: the link is the proof (a MAC over the customer). Unknown link: 404.
#[utoipa::path(
    get, path = "/unsubscribe/{token}", tag = "customers", operation_id = "get_unsubscribe_page",
    params(("token" = String, Path, description = "The token from the alert email")),
    responses(
        (status = 200, description = "The page with its button", content_type = "text/html", body = String),
        (status = 404, description = "Not a link this server made", content_type = "text/html", body = String),
    ),
    security(())
)]
#[get("/unsubscribe/{token}")]
async fn unsubscribe_page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let customer = super::token_customer(&state.keys.pickup_key, &token);
    let known = customer.is_some();
    let lang = customer_lang(&state, customer).await;
    let [question, button, _, unknown] = words(lang);
    if !known {
        return html(StatusCode::NOT_FOUND, page(lang, &format!("<h1>{unknown}</h1>")));
    }
    let form = format!(
        "<h1>{question}</h1><form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">{button}</button></form>"
    );
    html(StatusCode::OK, page(lang, &form))
}

/// What a mail client's one-click unsubscribe posts (RFC 8058); the page's button sends the
/// same.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OneClick {
    /// `One-Click`.
    #[serde(rename = "List-Unsubscribe")]
    pub list_unsubscribe: Option<String>,
}

/// One-click unsubscribe from back-in-stock alerts (RFC 8058): marketing consent withdrawn,
/// every active alert cancelled, queued alert messages suppressed. Messages about orders
/// are not marketing and still go out.
///
/// Public: the link is the proof. Saying it twice changes nothing more.
#[utoipa::path(
    post, path = "/unsubscribe/{token}", tag = "customers", operation_id = "unsubscribe_one_click",
    params(("token" = String, Path, description = "The token from the alert email")),
    request_body(content = OneClick, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Unsubscribed", content_type = "text/html", body = String),
        (status = 404, description = "Not a link this server made", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
    ),
    security(())
)]
#[post("/unsubscribe/{token}")]
async fn unsubscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let customer = super::token_customer(&state.keys.pickup_key, &token);
    let lang = customer_lang(&state, customer.clone()).await;
    let [_, _, done, unknown] = words(lang);
    if !crate::http::html::is_form(&req) || serde_urlencoded::from_bytes::<OneClick>(&body).is_err() {
        return html(StatusCode::UNSUPPORTED_MEDIA_TYPE, page(lang, "<h1>application/x-www-form-urlencoded</h1>"));
    }
    let Some(customer) = customer else {
        return html(StatusCode::NOT_FOUND, page(lang, &format!("<h1>{unknown}</h1>")));
    };
    let now = chrono::Utc::now().naive_utc();
    match state.db(move |conn| write_tx(conn, |conn| super::unsubscribe(conn, &customer, now))).await {
        Ok(_) => html(StatusCode::OK, page(lang, &format!("<h1>{done}</h1>"))),
        Err(error) => actix_web::ResponseError::error_response(&error),
    }
}
