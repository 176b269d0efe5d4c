//! `ApiError`: the one error type. Each variant has a stable problem `type` and a status,
//! mapped in one place to an RFC 9457 `application/problem+json` response. Internal causes
//! are logged (inside the request's span, so with its request id) and never sent to clients.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::{IntoResponses, ToSchema};

pub const PROBLEM_BASE: &str = "https://clickcollect.dev/problems/";
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// A snapshot can have thousands of bad lines; the answer lists this many and counts the rest
/// in `errors_total`.
pub const MAX_LISTED_ERRORS: usize = 100;

/// One invalid field: `field` is a JSON path such as `adjustments[2].delta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// The problem document every error response carries (RFC 9457). Some problems add members:
/// `errors` for validation, `expected_on_hand`/`on_hand` for a failed compare-and-set,
/// `lines` for a batch that would drive stock negative.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI naming the kind of problem, e.g. `https://clickcollect.dev/problems/validation`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: Map<String, Value>,
}

/// The answers of an endpoint that needs a token and a right (problem+json).
#[derive(IntoResponses)]
pub enum Denied {
    /// No token, or a token that is expired, forged or malformed.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// A valid token without the right: wrong role, scope or store.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// The answers to a JSON body that cannot be accepted (problem+json); nothing is changed.
#[derive(IntoResponses)]
pub enum BadBody {
    /// Malformed JSON.
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// The body is larger than the limit.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    NotJson(Problem),
    /// Unknown fields, wrong types or invalid values; `errors` names each field.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
}

/// The answers of a step in an order's life (problem+json).
#[derive(IntoResponses)]
pub enum Transition {
    /// No such order, or not one the caller may see.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The order's status does not allow this step; `detail` says which status it is in.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// A line of an adjustment batch that would leave `on_hand` below zero.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NegativeLine {
    pub location: String,
    pub sku: String,
    pub on_hand: i64,
    pub delta: i64,
}

/// Another location that has enough of a short SKU.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alternative {
    pub location: String,
    pub available: i64,
    pub distance_km: Option<f64>,
}

/// A line that could not be held, with the nearest other locations that could serve it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shortfall {
    pub sku: String,
    pub requested: i64,
    pub available: i64,
    pub alternatives: Vec<Alternative>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allowed: Vec<String> },
    #[error("on_hand is {actual}, not the expected {expected}")]
    CountMismatch { expected: i64, actual: i64 },
    #[error("the adjustments would leave stock below zero")]
    NegativeStock(Vec<NegativeLine>),
    #[error("not enough stock for every line")]
    InsufficientStock(Vec<Shortfall>),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInFlight,
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// The stable slug of the problem `type`, its title and its status: the one mapping.
    pub fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        use diesel::result::{DatabaseErrorKind as Db, Error as De};
        match self {
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid request"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
            }
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
            }
            ApiError::CountMismatch { .. } => {
                (StatusCode::CONFLICT, "stock-count-mismatch", "Stock count does not match")
            }
            ApiError::NegativeStock(_) => (StatusCode::CONFLICT, "negative-stock", "Stock would go negative"),
            ApiError::InsufficientStock(_) => (StatusCode::CONFLICT, "insufficient-stock", "Insufficient stock"),
            ApiError::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused with a different request",
            ),
            ApiError::IdempotencyInFlight => {
                (StatusCode::CONFLICT, "idempotency-in-flight", "Request with this Idempotency-Key in flight")
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests")
            }
            ApiError::Unavailable(_) | ApiError::Pool(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable")
            }
            ApiError::Database(De::DatabaseError(Db::ClosedConnection | Db::UnableToSendCommand, _))
            | ApiError::Database(De::BrokenTransactionManager) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable")
            }
            ApiError::Database(De::DatabaseError(Db::SerializationFailure, _)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable")
            }
            ApiError::Database(De::NotFound) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Database(_) | ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal server error")
            }
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.kind();
        let mut extensions = Map::new();
        let detail = match self {
            // Internal causes stay in the log.
            ApiError::Database(diesel::result::Error::NotFound) => "not found".to_string(),
            ApiError::Database(_) | ApiError::Internal(_) => "an internal error occurred; it has been logged".into(),
            ApiError::Pool(_) => "the database is not reachable right now; retry shortly".into(),
            ApiError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().take(5).map(|e| e.field.as_str()).collect();
                let more = errors.len().saturating_sub(fields.len());
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                format!("invalid field(s): {}{more}", fields.join(", "))
            }
            other => other.to_string(),
        };
        match self {
            ApiError::CountMismatch { expected, actual } => {
                extensions.insert("expected_on_hand".into(), (*expected).into());
                extensions.insert("on_hand".into(), (*actual).into());
            }
            ApiError::NegativeStock(lines) => {
                extensions.insert("lines".into(), serde_json::to_value(lines).unwrap_or_default());
            }
            ApiError::InsufficientStock(shortfalls) => {
                extensions.insert("shortfalls".into(), serde_json::to_value(shortfalls).unwrap_or_default());
            }
            ApiError::PayloadTooLarge { limit } => {
                extensions.insert("limit_bytes".into(), (*limit).into());
            }
            ApiError::Validation(errors) if errors.len() > MAX_LISTED_ERRORS => {
                extensions.insert("errors_total".into(), errors.len().into());
            }
            _ => {}
        }
        Problem {
            problem_type: format!("{PROBLEM_BASE}{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            errors: match self {
                ApiError::Validation(errors) => Some(errors.iter().take(MAX_LISTED_ERRORS).cloned().collect()),
                _ => None,
            },
            extensions,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().0
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE));
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::MethodNotAllowed { allowed } => {
                response.insert_header((header::ALLOW, allowed.join(", ")));
            }
            ApiError::Unavailable(_) | ApiError::Pool(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::TooManyRequests { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::Unavailable("the server is shutting down".into())
    }
}

/// Collects field errors so a request is answered with all of them at once.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

/// Codes (location codes, SKUs): 1 to 64 characters from `[A-Za-z0-9._-]`.
pub fn code_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() || value.len() > 64 {
        return Some("must be 1 to 64 characters long");
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Some("may only contain A-Z, a-z, 0-9, '.', '_' and '-'");
    }
    None
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.add(field, message);
        }
    }

    pub fn code(&mut self, field: impl Into<String>, value: &str) {
        if let Some(message) = code_problem(value) {
            self.add(field, message);
        }
    }

    pub fn range(&mut self, field: impl Into<String>, value: i64, min: i64, max: i64) {
        if value < min || value > max {
            self.add(field, format!("must be between {min} and {max}"));
        }
    }

    pub fn text(&mut self, field: impl Into<String>, value: &str, max_chars: usize) {
        let len = value.trim().chars().count();
        if len == 0 {
            self.add(field, "must not be empty");
        } else if value.chars().count() > max_chars {
            self.add(field, format!("must be at most {max_chars} characters"));
        } else if value.chars().any(|c| c.is_control()) {
            self.add(field, "must not contain control characters");
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// Validates a code taken from a URL path.
pub fn path_code(field: &str, value: &str) -> Result<(), ApiError> {
    match code_problem(value) {
        Some(message) => Err(ApiError::validation(field, message)),
        None => Ok(()),
    }
}
