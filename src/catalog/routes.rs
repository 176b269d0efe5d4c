//! HTTP for the catalog: extract, authorize, call, respond.

use actix_web::{get, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::geo::Coordinates;
use super::model::{Location, LocationForm, Product, ProductForm};
use crate::auth::Principal;
use crate::db::read_tx;
use crate::error::{ApiError, BadBody, Denied, Problem};
use crate::http::idempotency::{self, fingerprint, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::Json;
use crate::http::pagination::{PageQuery, Paginated};
use crate::http::query::Query;
use crate::http::validate::path_code;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(put_location)
        .service(list_locations)
        .service(get_location)
        .service(put_product)
        .service(list_products)
        .service(get_product);
}

/// Create or replace a location.
///
/// Who may call: admin. Accepts `Idempotency-Key`.
#[utoipa::path(
    put, path = "/v1/locations/{code}", tag = "locations", operation_id = "put_location",
    params(("code" = String, Path, description = "Location code: 1-64 of [A-Za-z0-9._-]"), IdempotencyKeyHeader),
    request_body = LocationForm,
    responses(
        (status = 200, description = "Replaced", body = Location),
        (status = 201, description = "Created", body = Location),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[put("/v1/locations/{code}")]
async fn put_location(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    code: web::Path<String>,
    body: Json<LocationForm>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    path_code("code", &code)?;
    let (code, form) = (code.into_inner(), body.0);
    let answer = idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        Answer::created_or_ok(super::put_location(conn, &code, &form)?)
    })
    .await;
    // Its name, services or state show in every SKU's availability. (Other replicas' caches
    // see it by age: locations change rarely, and not through the change log.)
    state.stock.catalog_changed();
    answer
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocationsQuery {
    /// `LAT,LNG`: list nearest first, each with `distance_km`.
    pub near: Option<String>,
    /// How many items to return (1 to 500, default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List active locations, nearest first with `near=`.
///
/// Who may call: anyone (public).
#[utoipa::path(
    get, path = "/v1/locations", tag = "locations", operation_id = "list_locations",
    params(LocationsQuery),
    responses(
        (status = 200, description = "One page of active locations", body = Paginated<Location>),
        (status = 422, description = "An invalid `near`, limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/locations")]
async fn list_locations(state: web::Data<AppState>, query: Query<LocationsQuery>) -> Result<HttpResponse, ApiError> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor.clone() }.page()?;
    let near = query.near.as_deref().map(Coordinates::parse_near).transpose()?;
    let list = state.db(move |conn| read_tx(conn, |conn| super::list_locations(conn, near, &page))).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One location.
///
/// Who may call: anyone (public).
#[utoipa::path(
    get, path = "/v1/locations/{code}", tag = "locations", operation_id = "get_location",
    params(("code" = String, Path, description = "Location code")),
    responses(
        (status = 200, description = "The location", body = Location),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/locations/{code}")]
async fn get_location(state: web::Data<AppState>, code: web::Path<String>) -> Result<HttpResponse, ApiError> {
    path_code("code", &code)?;
    let code = code.into_inner();
    let location = state
        .db(move |conn| {
            read_tx(conn, |conn| super::find_location(conn, &code).and_then(|row| super::view_location(conn, row)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(location))
}

/// Create or replace a product and its one price.
///
/// Who may call: admin; integration with `catalog:write`. Accepts `Idempotency-Key`.
#[utoipa::path(
    put, path = "/v1/products/{sku}", tag = "products", operation_id = "put_product",
    params(("sku" = String, Path, description = "SKU: 1-64 of [A-Za-z0-9._-], not `check` or `snapshot` (words of other paths)"), IdempotencyKeyHeader),
    request_body = ProductForm,
    responses(
        (status = 200, description = "Replaced", body = Product),
        (status = 201, description = "Created", body = Product),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[put("/v1/products/{sku}")]
async fn put_product(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    sku: web::Path<String>,
    body: Json<ProductForm>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin_or_scope("catalog:write")?;
    path_code("sku", &sku)?;
    if crate::http::formats::RESERVED_SKUS.contains(&sku.as_str()) {
        return Err(ApiError::validation(
            "sku",
            format!(
                "{sku} is a word of the API's own paths (availability/check, stock/…/snapshot); choose another SKU"
            ),
        ));
    }
    let (sku, form) = (sku.into_inner(), body.0);
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        Answer::created_or_ok(super::put_product(conn, &sku, &form)?)
    })
    .await
}

/// List products by SKU.
///
/// Who may call: anyone (public).
#[utoipa::path(
    get, path = "/v1/products", tag = "products", operation_id = "list_products",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of products, by SKU", body = Paginated<Product>),
        (status = 422, description = "An invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/products")]
async fn list_products(state: web::Data<AppState>, query: Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let list = state.db(move |conn| read_tx(conn, |conn| super::list_products(conn, &page))).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One product.
///
/// Who may call: anyone (public).
#[utoipa::path(
    get, path = "/v1/products/{sku}", tag = "products", operation_id = "get_product",
    params(("sku" = String, Path, description = "SKU")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid SKU", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/products/{sku}")]
async fn get_product(state: web::Data<AppState>, sku: web::Path<String>) -> Result<HttpResponse, ApiError> {
    path_code("sku", &sku)?;
    let sku = sku.into_inner();
    let product = state.db(move |conn| super::find_product(conn, &sku)).await?;
    Ok(HttpResponse::Ok().json(product))
}
