//! `Query<T>`: reads the query string into `T`, naming the parameter that fails (`limit`
//! must be a number, say) instead of a bare parse error. Which parameters exist at all is the
//! contract's business (`http::contract`), checked before any handler runs.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(Query))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    let deserializer = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = if field == "." { "query".to_string() } else { field };
        ApiError::validation(field, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<i64>,
        cursor: Option<String>,
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        match parse_query::<Page>("limit=abc") {
            Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "limit"),
            other => panic!("expected a validation error, got {other:?}"),
        }
        assert_eq!(parse_query::<Page>("limit=7").unwrap().limit, Some(7));
    }
}
