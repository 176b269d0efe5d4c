//! HTTP plumbing shared by every capability: the JSON extractor with validation, pagination,
//! idempotency keys, request ids, metrics, and the problem+json answers for what no handler
//! matched.

pub mod fallback;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod pagination;

/// 201 with the body when a PUT created the resource, 200 when it replaced it.
pub fn created_or_ok<T: serde::Serialize>(created: bool, body: T) -> actix_web::HttpResponse {
    if created {
        actix_web::HttpResponse::Created().json(body)
    } else {
        actix_web::HttpResponse::Ok().json(body)
    }
}
