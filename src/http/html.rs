//! HTML answers for the pages a shopper's browser opens (the pickup pass, the unsubscribe
//! page): never cached, under the page's Content-Security-Policy, sending no referrer, never
//! framed or indexed.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

/// An HTML page with its policy.
pub fn page(status: StatusCode, policy: &'static str, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(body)
}

/// Whether a request carries a browser's form (`application/x-www-form-urlencoded`).
pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}
