//! HTTP plumbing shared by every capability: the JSON extractor with validation, pagination, ETags,
//! idempotency keys, request ids, metrics, per-caller rate limits, and the problem+json answers for what no handler
//! matched.

pub mod contract;
pub mod etag;
pub mod formats;
pub mod html;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod pagination;
pub mod query;
pub mod rate_limit;
pub mod validate;
