//! The OpenAPI document: generated from the handlers that serve the routes (utoipa), so the
//! document and the server cannot disagree, then completed with what the attributes cannot
//! say (`rules`: formats, ranges, rules between fields; `links`: how resources lead to the
//! operations on them). `openapi/openapi.json` is this, committed.

mod links;
mod rules;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "clickcollect",
        description = "Store and online stock as one source of truth, holds for click-and-collect, \
and order notifications. Errors are RFC 9457 problem+json. Write endpoints accept `Idempotency-Key`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "locations", description = "Stores and warehouses"),
        (name = "products", description = "Products and their one price"),
        (name = "stock", description = "Stock levels and their ledger: the single source of truth"),
        (name = "availability", description = "Availability derived from the levels"),
        (name = "channels", description = "Sales channels: a buffer and a set of locations"),
        (name = "slots", description = "Pickup and curbside slots: rules per store, capacity per slot"),
        (name = "reservations", description = "Holds: stock reserved for a shopper for a limited time"),
        (name = "orders", description = "Orders, the store's pick list, and the pickup counter"),
        (name = "transfers", description = "Ship-to-store: the lanes that supply a store, and transfers to receive"),
        (name = "customers", description = "Customers: contacts, language, channel choices and consents"),
        (name = "notifications", description = "What each order told its customer, and how it went"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "console", description = "The store console: its page, pairing links and devices"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_string());
        scheme.description = Some(
            "JWT with claims sub, role (admin|staff|customer|integration), store (staff), scopes (integration), exp."
                .to_string(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Completes a document generated from the routes: the rules and the links. It stays JSON
/// from here on: JSON Schema says more (`if`/`then`, `prefixItems`) than utoipa's model holds.
pub fn finish(doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut value = serde_json::to_value(&doc).expect("the OpenAPI document serializes");
    rules::apply(&mut value);
    links::apply(&mut value);
    value
}

/// The document, as served at `/openapi.json` and printed by `clickcollect openapi`.
pub fn document() -> serde_json::Value {
    crate::routes_and_document(actix_web::App::new()).1
}

/// The committed form: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("the OpenAPI document serializes");
    text.push('\n');
    text
}
