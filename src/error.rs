//! `ApiError`: the one error type. Each variant has a stable problem `type` and a status,
//! mapped in one place to an RFC 9457 `application/problem+json` response. Internal causes
//! are logged (inside the request's span, so with its request id) and never sent to clients.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

use crate::stock::problems::{NegativeLine, Shortfall};

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

/// The problem document every error response carries (RFC 9457). Beyond the standard
/// members, some problems add their own; each is present only on the problem types named
/// beside it, so a client can read them without guessing.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI naming the kind of problem, e.g. `https://clickcollect.dev/problems/validation`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// `validation`: each invalid field; `not-found`: each field naming something that does
    /// not exist (at most 100 are listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// `validation`: how many fields were invalid, when more than were listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors_total: Option<usize>,
    /// `stock-count-mismatch`: the `on_hand` the count expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_on_hand: Option<i64>,
    /// `stock-count-mismatch`: the `on_hand` there really is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_hand: Option<i64>,
    /// `negative-stock`: each adjustment that would leave `on_hand` below zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<NegativeLine>>,
    /// `insufficient-stock`: each line that cannot be served, with where else it could be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortfalls: Option<Vec<Shortfall>>,
    /// `payload-too-large`: the largest body accepted here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<usize>,
    /// `limit-exceeded`: the name of the business limit reached, e.g. `open_holds_per_customer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// `limit-exceeded`: the limit's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// `rate-limited`: seconds until a retry can succeed (also in `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// `pickup-at-other-store`: the store where the order is to be collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreRef>,
    /// `method-not-allowed`: the methods this path accepts (also in `Allow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

/// A store named in a problem: its code and name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreRef {
    pub code: String,
    pub name: String,
}

/// A rate limit's policy, for the `RateLimit-Policy` and `RateLimit` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    /// The policy's name, e.g. `pickup-codes`.
    pub name: &'static str,
    /// Requests allowed per window.
    pub quota: u32,
    pub window_seconds: u64,
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
    /// The body names things that do not exist (a SKU, a location): 404 with each field.
    #[error("not found")]
    Unknown(Vec<FieldError>),
    #[error("the code belongs to an order to be collected at {} ({})", .0.name, .0.code)]
    PickupAtOtherStore(StoreRef),
    #[error("this path does not accept that method; it accepts {}", allowed.join(", "))]
    MethodNotAllowed { allowed: Vec<String> },
    #[error("on_hand is {actual}, not the expected {expected}")]
    CountMismatch { expected: i64, actual: i64 },
    #[error("the adjustments would leave stock below zero")]
    NegativeStock(Vec<NegativeLine>),
    #[error("not enough stock for every line")]
    InsufficientStock(Vec<Shortfall>),
    #[error("{0}")]
    AtRisk(String),
    /// What the request names existed and is no longer usable (a spent pickup pass).
    #[error("{0}")]
    Gone(String),
    /// The slot has no room left.
    #[error("{0}")]
    SlotFull(String),
    /// A marketing message needs the customer's marketing consent, which they have not given.
    #[error("{0}")]
    ConsentRequired(String),
    /// A return asks for more units than the order has left to return: 409 with each line.
    #[error("more units returned than were bought")]
    ReturnExceedsOrder(Vec<FieldError>),
    #[error("{message}")]
    LimitExceeded { limit: &'static str, max: i64, message: String },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInFlight,
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; retry in {retry_after} s")]
    RateLimited { policy: RatePolicy, retry_after: u64 },
    /// A change-log cursor older than what is kept: the consumer must export again.
    #[error("{0}")]
    CursorExpired(String),
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
    /// The same failure for another caller who met it too (a batch failed as a whole): an
    /// outage keeps its kind, anything else is told as the internal error it was.
    pub fn copy_for_another_caller(&self) -> ApiError {
        match self {
            ApiError::Pool(message) => ApiError::Pool(message.clone()),
            ApiError::Unavailable(message) => ApiError::Unavailable(message.clone()),
            other => ApiError::Internal(other.to_string()),
        }
    }

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
            ApiError::NotFound(_) | ApiError::Unknown(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::PickupAtOtherStore(_) => {
                (StatusCode::NOT_FOUND, "pickup-at-other-store", "The order is collected at another store")
            }
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
            }
            ApiError::CountMismatch { .. } => {
                (StatusCode::CONFLICT, "stock-count-mismatch", "Stock count does not match")
            }
            ApiError::NegativeStock(_) => (StatusCode::CONFLICT, "negative-stock", "Stock would go negative"),
            ApiError::InsufficientStock(_) => (StatusCode::CONFLICT, "insufficient-stock", "Insufficient stock"),
            ApiError::AtRisk(_) => (StatusCode::CONFLICT, "at-risk", "Stock is short for this order"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone", "No longer available"),
            ApiError::SlotFull(_) => (StatusCode::CONFLICT, "slot-full", "The slot is full"),
            ApiError::ConsentRequired(_) => (StatusCode::CONFLICT, "consent-required", "Marketing consent is needed"),
            ApiError::ReturnExceedsOrder(_) => {
                (StatusCode::CONFLICT, "return-exceeds-order", "More returned than was bought")
            }
            ApiError::LimitExceeded { .. } => (StatusCode::CONFLICT, "limit-exceeded", "A business limit is reached"),
            ApiError::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused with a different request",
            ),
            ApiError::IdempotencyInFlight => {
                (StatusCode::CONFLICT, "idempotency-in-flight", "Request with this Idempotency-Key in flight")
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            // Two writers raced to create the same thing and this one lost: the state it
            // meant to create exists, so this is a conflict to retry, not a server fault.
            ApiError::Database(De::DatabaseError(Db::UniqueViolation, _)) => {
                (StatusCode::CONFLICT, "conflict", "Conflict")
            }
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            ApiError::CursorExpired(_) => {
                (StatusCode::GONE, "cursor-expired", "The cursor is older than the change log keeps; resync")
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
        use diesel::result::{DatabaseErrorKind as Db, Error as De};
        let (status, slug, title) = self.kind();
        let detail = match self {
            // Internal causes stay in the log.
            ApiError::Database(De::NotFound) => "not found".to_string(),
            ApiError::Database(De::DatabaseError(Db::UniqueViolation, _)) => {
                "another request created the same thing at the same moment; retry to see it".into()
            }
            ApiError::Database(_) | ApiError::Internal(_) => "an internal error occurred; it has been logged".into(),
            ApiError::Pool(_) => "the database is not reachable right now; retry shortly".into(),
            ApiError::Validation(errors) => format!("invalid field(s): {}", list_fields(errors)),
            ApiError::Unknown(errors) => format!("unknown: {}", list_fields(errors)),
            ApiError::ReturnExceedsOrder(errors) => {
                format!("more units returned than were bought: {}", list_fields(errors))
            }
            other => other.to_string(),
        };
        let mut problem = Problem {
            problem_type: format!("{PROBLEM_BASE}{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            ..Problem::default()
        };
        match self {
            ApiError::Validation(errors) | ApiError::Unknown(errors) | ApiError::ReturnExceedsOrder(errors) => {
                problem.errors = Some(errors.iter().take(MAX_LISTED_ERRORS).cloned().collect());
                if errors.len() > MAX_LISTED_ERRORS {
                    problem.errors_total = Some(errors.len());
                }
            }
            ApiError::CountMismatch { expected, actual } => {
                problem.expected_on_hand = Some(*expected);
                problem.on_hand = Some(*actual);
            }
            ApiError::NegativeStock(lines) => problem.lines = Some(lines.clone()),
            ApiError::InsufficientStock(shortfalls) => problem.shortfalls = Some(shortfalls.clone()),
            ApiError::PayloadTooLarge { limit } => problem.limit_bytes = Some(*limit),
            ApiError::LimitExceeded { limit, max, .. } => {
                problem.limit = Some(limit.to_string());
                problem.max = Some(*max);
            }
            ApiError::RateLimited { retry_after, .. } => problem.retry_after = Some(*retry_after),
            ApiError::PickupAtOtherStore(store) => problem.store = Some(store.clone()),
            ApiError::MethodNotAllowed { allowed } => problem.allowed = Some(allowed.clone()),
            _ => {}
        }
        problem
    }
}

/// The first few fields of a list, and how many more there are.
fn list_fields(errors: &[FieldError]) -> String {
    let fields: Vec<&str> = errors.iter().take(5).map(|e| e.field.as_str()).collect();
    let more = errors.len().saturating_sub(fields.len());
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    format!("{}{more}", fields.join(", "))
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
            ApiError::RateLimited { policy, retry_after } => {
                // draft-ietf-httpapi-ratelimit-headers: the policy, and what is left of it now.
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
                response.insert_header((
                    "RateLimit-Policy",
                    format!("\"{}\";q={};w={}", policy.name, policy.quota, policy.window_seconds),
                ));
                response.insert_header(("RateLimit", format!("\"{}\";r=0;t={retry_after}", policy.name)));
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
