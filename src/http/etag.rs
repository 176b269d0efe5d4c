//! Validators for answers a client may keep: a strong `ETag` made from the body, and whether
//! a request's `If-None-Match` already names it (answer 304 then).

use actix_web::http::header;
use actix_web::HttpRequest;

/// The `ETag` of a body: a prefix of its SHA-256, quoted.
pub fn of(body: &[u8]) -> String {
    format!("\"{}\"", &crate::crypto::hex_sha256(body)[..20])
}

/// Whether the client already holds `etag` (a weak form of it counts: the body is the same).
pub fn held(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag))
}
