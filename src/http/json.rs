//! `Json<T>`: reads a JSON body within the configured size limit, rejects unknown fields (the
//! types say `deny_unknown_fields`), and runs the type's own validation, so a handler only
//! ever sees a request that makes sense. Every failure is problem+json naming the field.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::config::ServerSettings;
use crate::error::{ApiError, FieldError};

/// Request-level validation beyond what the types enforce.
pub trait Validate {
    fn validate(&self) -> Result<(), ApiError>;
}

impl<T: Validate> Validate for Option<T> {
    fn validate(&self) -> Result<(), ApiError> {
        self.as_ref().map_or(Ok(()), Validate::validate)
    }
}

/// A JSON body no larger than `MAX_BODY_BYTES`.
pub struct Json<T>(pub T);

/// A JSON body no larger than `MAX_SNAPSHOT_BYTES`: bulk stock snapshots.
pub struct BulkJson<T>(pub T);

#[derive(Clone, Copy)]
enum Limit {
    Body,
    Snapshot,
}

/// Both extractors read the same way; only the body limit differs.
macro_rules! json_extractor {
    ($extractor:ident, $limit:expr) => {
        impl<T: DeserializeOwned + Validate + 'static> FromRequest for $extractor<T> {
            type Error = ApiError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

            fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
                let read = read_json::<T>(req, payload, $limit, false);
                Box::pin(async move { read.await.map($extractor) })
            }
        }
    };
}

json_extractor!(Json, Limit::Body);

/// A JSON body that may be left out (no body at all, or `null`, reads as `T::default()`); a
/// body that is sent is read exactly as `Json` reads it.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Validate + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // A body of `null` is a body left out too, as the document's schema says.
        let read = read_json::<Option<T>>(req, payload, Limit::Body, true);
        Box::pin(async move { read.await.map(|body| OptionalJson(body.unwrap_or_default())) })
    }
}
json_extractor!(BulkJson, Limit::Snapshot);

/// Reads and checks the body. With `empty_ok`, no body at all reads as JSON `null` (some
/// clients send an empty chunked body rather than none).
fn read_json<T: DeserializeOwned + Validate + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: Limit,
    empty_ok: bool,
) -> impl Future<Output = Result<T, ApiError>> {
    let limit = req
        .app_data::<web::Data<ServerSettings>>()
        .map(|server| match limit {
            Limit::Body => server.max_body_bytes,
            Limit::Snapshot => server.max_snapshot_bytes,
        })
        .unwrap_or(64 * 1024);
    let is_json = req
        .mime_type()
        .ok()
        .flatten()
        .map(|m| m.subtype() == "json" || m.suffix().map(|s| s.as_str()) == Some("json"))
        .unwrap_or(false);
    let declared_length =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        if !is_json && !empty_ok {
            return Err(ApiError::UnsupportedMediaType("send the body as Content-Type: application/json".into()));
        }
        if declared_length.is_some_and(|n| n > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let mut body = web::BytesMut::with_capacity(declared_length.unwrap_or(1024).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::MalformedJson(format!("could not read the body: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        if empty_ok && body.is_empty() {
            body.extend_from_slice(b"null");
        } else if !is_json {
            return Err(ApiError::UnsupportedMediaType("send the body as Content-Type: application/json".into()));
        }
        let value = parse_json::<T>(&body)?;
        value.validate()?;
        Ok(value)
    }
}

/// Parses with the failing field's path: syntax errors are 400, shape errors 422.
///
/// JSON has one number type, and JSON Schema counts `2.0` as an integer: a client whose
/// language writes every number as a float (JavaScript's, often) must not be refused. When a
/// document fails as written, whole-number floats are read as integers and it is tried again;
/// the common case pays nothing for this.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    let first = serde_path_to_error::deserialize(deserializer);
    let error = match first {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    if error.inner().classify() == serde_json::error::Category::Data {
        if let Ok(mut document) = serde_json::from_slice::<serde_json::Value>(body) {
            if integers_from_whole_floats(&mut document) {
                if let Ok(value) = serde_json::from_value(document) {
                    return Ok(value);
                }
            }
        }
    }
    let path = error.path().to_string();
    let inner = error.into_inner();
    Err(match inner.classify() {
        // serde stops at the first mismatch, which can come before a syntax error later
        // in the document: only a well-formed document gets a field-level answer.
        serde_json::error::Category::Data if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => {
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            ApiError::Validation(vec![FieldError::new(field_of(&path, &message), message)])
        }
        _ => ApiError::MalformedJson(inner.to_string()),
    })
}

/// Rewrites every float with no fractional part (within the exactly representable range) as
/// an integer; `true` when it changed anything.
fn integers_from_whole_floats(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                *value = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| integers_from_whole_floats(item) | changed),
        Value::Object(fields) => {
            fields.values_mut().fold(false, |changed, item| integers_from_whole_floats(item) | changed)
        }
        _ => false,
    }
}

/// The field a serde error is about; the document itself when the path is empty.
fn field_of(path: &str, message: &str) -> String {
    let unknown = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next());
    match (unknown, path) {
        (Some(name), ".") => name.to_string(),
        (None, ".") => "body".to_string(),
        (_, path) => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        sku: String,
        quantity: i64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        lines: Vec<Line>,
    }

    fn errors(err: ApiError) -> Vec<FieldError> {
        match err {
            ApiError::Validation(errors) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_the_unknown_field_by_its_path() {
        let err = parse_json::<Body>(br#"{"lines":[{"sku":"A","quantity":1,"colour":"red"}]}"#).unwrap_err();
        assert_eq!(errors(err)[0].field, "lines[0].colour");
        let err = parse_json::<Body>(br#"{"lines":[],"extra":1}"#).unwrap_err();
        assert_eq!(errors(err)[0].field, "extra");
    }

    #[test]
    fn names_the_field_of_a_wrong_type() {
        let err = parse_json::<Body>(br#"{"lines":[{"sku":"A","quantity":"many"}]}"#).unwrap_err();
        assert_eq!(errors(err)[0].field, "lines[0].quantity");
    }

    #[test]
    fn whole_number_floats_are_integers() {
        let body = parse_json::<Body>(br#"{"lines":[{"sku":"A","quantity":2.0}]}"#).unwrap();
        assert_eq!(body.lines[0].quantity, 2);
        let err = parse_json::<Body>(br#"{"lines":[{"sku":"A","quantity":2.5}]}"#).unwrap_err();
        assert_eq!(errors(err)[0].field, "lines[0].quantity");
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert!(matches!(parse_json::<Body>(b"{\"lines\": ["), Err(ApiError::MalformedJson(_))));
        assert!(matches!(parse_json::<Body>(b"not json"), Err(ApiError::MalformedJson(_))));
    }
}
