//! Answers for requests no handler took: 405 with `Allow` when the path exists under another
//! method, 404 otherwise, both as problem+json. The known paths come from the OpenAPI
//! document, so the two can never disagree.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Path templates (`/v1/stock/{location}/{sku}`) and the methods each accepts.
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.trim_matches('/').split('/').map(String::from).collect();
                let value = serde_json::to_value(item).unwrap_or_default();
                let mut methods: Vec<String> = ["get", "put", "post", "delete", "patch"]
                    .iter()
                    .filter(|m| value.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                methods.sort();
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods allowed on `path`, or `None` when no route has that shape.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut allowed: Vec<String> = Vec::new();
        for (template, methods) in &self.routes {
            let fits = template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s);
            if fits {
                allowed.extend(methods.iter().cloned());
            }
        }
        allowed.sort();
        allowed.dedup();
        (!allowed.is_empty()).then_some(allowed)
    }
}

pub async fn not_matched(req: HttpRequest, table: web::Data<RouteTable>) -> Result<HttpResponse, ApiError> {
    Err(match table.allowed(req.path()) {
        Some(allowed) if !allowed.iter().any(|m| m == req.method().as_str()) => ApiError::MethodNotAllowed { allowed },
        _ => ApiError::NotFound(format!("no resource at {}", req.path())),
    })
}
