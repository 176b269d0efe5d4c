//! The OpenAPI document is the contract, and this module holds the server to it before any
//! handler runs: a path the document has is served only with the methods the document gives
//! it (405 with `Allow` otherwise), and only with the query parameters the document declares
//! (422 naming each unknown one: a client that misspells a filter must not believe it
//! filtered). Paths the document does not have are 404. The table is built from the document
//! that the handlers themselves generate, so the two cannot drift apart.
//!
//! A concrete path wins over a templated one, as OpenAPI says: `/v1/availability/check` is
//! the cart check, never the availability of a SKU called `check`.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::error::{ApiError, FieldError};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// One documented path: its segments and, per method, the query parameters it declares.
struct Route {
    segments: Vec<Segment>,
    /// How concrete the path is: a bit per literal segment, the first segment highest, so
    /// that of two paths that fit, the larger number is the more concrete.
    concreteness: u64,
    operations: BTreeMap<String, BTreeSet<String>>,
}

enum Segment {
    Literal(String),
    Parameter,
}

/// Every documented path, with its methods and query parameters.
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    pub fn from_openapi(doc: &serde_json::Value) -> Self {
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        let routes = paths
            .iter()
            .map(|(path, item)| {
                let segments: Vec<Segment> = path
                    .trim_matches('/')
                    .split('/')
                    .map(|s| if s.starts_with('{') { Segment::Parameter } else { Segment::Literal(s.to_string()) })
                    .collect();
                let concreteness = segments
                    .iter()
                    .fold(0u64, |bits, segment| (bits << 1) | u64::from(matches!(segment, Segment::Literal(_))));
                let value = item;
                let shared = query_names(&value["parameters"]);
                let operations = METHODS
                    .iter()
                    .filter_map(|m| {
                        let op = value.get(*m)?;
                        let mut names = shared.clone();
                        names.extend(query_names(&op["parameters"]));
                        Some((m.to_uppercase(), names))
                    })
                    .collect();
                Route { segments, concreteness, operations }
            })
            .collect();
        RouteTable { routes }
    }

    /// The documented path `path` falls under: of those whose shape fits, the most concrete
    /// (compared segment by segment from the start: a literal beats a parameter).
    fn route(&self, path: &str) -> Option<&Route> {
        let path = path.trim_matches('/');
        let count = path.split('/').count();
        self.routes
            .iter()
            .filter(|r| {
                r.segments.len() == count
                    && r.segments.iter().zip(path.split('/')).all(|(seg, part)| match seg {
                        Segment::Literal(l) => l == part,
                        Segment::Parameter => !part.is_empty(),
                    })
            })
            .max_by_key(|r| r.concreteness)
    }

    /// What the document says of this request: `Ok` to serve it, or the error to answer.
    /// Paths the document does not have are left to the router (Swagger UI, the 404).
    pub fn judge(&self, method: &str, path: &str, query: &str) -> Result<(), ApiError> {
        let Some(route) = self.route(path) else { return Ok(()) };
        let Some(declared) = route.operations.get(method) else {
            return Err(ApiError::MethodNotAllowed { allowed: route.operations.keys().cloned().collect() });
        };
        // Pages for browsers (the console, the pickup pass) take links as people share them:
        // a campaign's `utm_source` must not break a shopper's pass. The API is held to the
        // document.
        let page = method.eq_ignore_ascii_case("GET") && (path == "/console" || path.starts_with("/pass/"));
        if query.is_empty() || page {
            return Ok(());
        }
        let given: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::validation("query", format!("is not a valid query string: {e}")))?;
        let unknown: Vec<FieldError> = given
            .iter()
            .map(|(name, _)| name)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|name| !declared.contains(*name))
            .map(|name| {
                let takes = if declared.is_empty() {
                    "this operation takes no query parameters".to_string()
                } else {
                    format!("this operation takes {}", declared.iter().cloned().collect::<Vec<_>>().join(", "))
                };
                FieldError::new(name.clone(), format!("unknown query parameter; {takes}"))
            })
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(unknown))
        }
    }
}

fn query_names(parameters: &serde_json::Value) -> BTreeSet<String> {
    parameters
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect()
}

/// The middleware: judges each request against the table before routing.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let verdict = match req.app_data::<web::Data<RouteTable>>() {
        Some(table) => table.judge(req.method().as_str(), req.path(), req.query_string()),
        None => Ok(()),
    };
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(error) => Ok(req.into_response(error.error_response()).map_into_right_body()),
    }
}

/// What no handler took: a path the document does not have.
pub async fn not_matched(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no resource at {}", req.path())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::from_openapi(&crate::openapi::document())
    }

    #[test]
    fn a_concrete_path_wins_over_a_template() {
        let table = table();
        let refused = table.judge("GET", "/v1/availability/check", "").unwrap_err();
        assert!(matches!(refused, ApiError::MethodNotAllowed { ref allowed } if allowed == &["POST"]));
        assert!(table.judge("GET", "/v1/availability/SKU-1", "").is_ok());
        assert!(table.judge("PUT", "/v1/stock/S1/snapshot", "").is_err());
        assert!(table.judge("PUT", "/v1/stock/S1/SKU-1", "").is_ok());
    }

    #[test]
    fn unknown_query_parameters_are_named() {
        let table = table();
        assert!(table.judge("GET", "/v1/products", "limit=5&cursor=abc").is_ok());
        match table.judge("GET", "/v1/products", "limit=5&colour=red&size=m") {
            Err(ApiError::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["colour", "size"]);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
        assert!(table.judge("GET", "/v1/locations/S1", "x=1").is_err(), "no parameters at all");
    }

    #[test]
    fn pages_for_browsers_ignore_query_strings() {
        let table = table();
        assert!(table.judge("GET", "/pass/7F3A9C21-0123456789ABCDEF", "utm_source=sms").is_ok());
        assert!(table.judge("GET", "/console", "from=email").is_ok());
        assert!(table.judge("DELETE", "/console", "").is_err(), "methods still count");
        assert!(table.judge("GET", "/health", "x=1").is_err(), "only the pages");
        assert!(table.judge("POST", "/pass/7F3A9C21-0123456789ABCDEF/arrival", "x=1").is_err(), "only reading them");
    }

    #[test]
    fn undocumented_paths_are_left_to_the_router() {
        assert!(table().judge("GET", "/docs/index.html", "a=b").is_ok());
    }
}
