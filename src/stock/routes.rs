//! HTTP for stock, availability and sales channels: extract, authorize, call, respond.

use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::*;
use super::{availability, channels, ledger, levels};
use crate::auth::Principal;
use crate::catalog::geo::Coordinates;
use crate::db::{read_tx, write_tx};
use crate::error::{path_code, ApiError, BadBody, Denied, Problem};
use crate::http::created_or_ok;
use crate::http::idempotency::{self, fingerprint, IdempotencyKey};
use crate::http::json::{BulkJson, Json};
use crate::http::pagination::{PageQuery, Paginated, DEFAULT_LIMIT, MAX_LIMIT};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(adjust)
        .service(put_count)
        .service(get_level)
        .service(list_movements)
        .service(post_snapshot)
        .service(sku_availability)
        .service(check_availability)
        .service(put_channel)
        .service(get_channel)
        .service(channel_availability);
}

fn level_path(path: web::Path<(String, String)>) -> Result<(String, String), ApiError> {
    let (location, sku) = path.into_inner();
    path_code("location", &location)?;
    path_code("sku", &sku)?;
    Ok((location, sku))
}

/// Set an absolute count for a (location, sku).
///
/// Who may call: admin; integration with `stock:write`; staff of that store.
/// A count whose `as_of` is older than the last applied count answers 200 with
/// `applied: false`; a mismatched `expected_on_hand` answers 409. Accepts `Idempotency-Key`.
#[utoipa::path(
    put, path = "/v1/stock/{location}/{sku}", tag = "stock",
    params(
        ("location" = String, Path, description = "Location code"),
        ("sku" = String, Path, description = "SKU"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a repeated request"),
    ),
    request_body = CountForm,
    responses(
        (status = 200, body = CountResult),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`expected_on_hand` mismatch, or the same Idempotency-Key in flight", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[put("/v1/stock/{location}/{sku}")]
async fn put_count(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    path: web::Path<(String, String)>,
    key: IdempotencyKey,
    body: Json<CountForm>,
) -> Result<HttpResponse, ApiError> {
    let (location, sku) = level_path(path)?;
    who.require_location_access(&location, "stock:write")?;
    let form = body.0;
    let actor = who.actor();
    idempotency::run(&state, &who, key, fingerprint(&req, &form), StatusCode::OK, move |conn| {
        levels::count(conn, &location, &sku, &form, &actor)
    })
    .await
}

/// Apply a batch of stock deltas, all or nothing.
///
/// Who may call: admin; integration with `stock:write`; staff, for their own store's lines
/// only. A batch that would drive any `on_hand` below zero answers 409 and changes nothing.
/// Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/stock/adjustments", tag = "stock",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a repeated request")),
    request_body = AdjustmentBatch,
    responses(
        (status = 200, body = AdjustmentResult),
        (status = 409, description = "Stock would go negative (`lines`), or the same Idempotency-Key in flight", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/stock/adjustments")]
async fn adjust(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    body: Json<AdjustmentBatch>,
) -> Result<HttpResponse, ApiError> {
    let batch = body.0;
    for a in &batch.adjustments {
        who.require_location_access(&a.location, "stock:write")?;
    }
    let actor = who.actor();
    idempotency::run(&state, &who, key, fingerprint(&req, &batch), StatusCode::OK, move |conn| {
        levels::adjust(conn, &batch, &actor)
    })
    .await
}

/// Apply a snapshot of many SKUs' counts at one location, in one transaction.
///
/// Who may call: admin; integration with `stock:write`; staff of that store. Answers with a
/// summary of what changed. Unknown SKUs fail the whole snapshot (422). Bodies may be up to
/// `MAX_SNAPSHOT_BYTES`. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/stock/{location}/snapshot", tag = "stock",
    params(
        ("location" = String, Path, description = "Location code"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a repeated request"),
    ),
    request_body = SnapshotForm,
    responses(
        (status = 200, body = SnapshotSummary),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/stock/{location}/snapshot")]
async fn post_snapshot(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    location: web::Path<String>,
    key: IdempotencyKey,
    body: BulkJson<SnapshotForm>,
) -> Result<HttpResponse, ApiError> {
    let location = location.into_inner();
    path_code("location", &location)?;
    who.require_location_access(&location, "stock:write")?;
    let form = body.0;
    let actor = who.actor();
    idempotency::run(&state, &who, key, fingerprint(&req, &form), StatusCode::OK, move |conn| {
        levels::snapshot(conn, &location, &form, &actor)
    })
    .await
}

/// A (location, sku)'s stock level.
///
/// Who may call: admin; integration with `stock:read`; staff of that store.
#[utoipa::path(
    get, path = "/v1/stock/{location}/{sku}", tag = "stock",
    params(("location" = String, Path, description = "Location code"), ("sku" = String, Path, description = "SKU")),
    responses(
        (status = 200, body = StockLevel),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/stock/{location}/{sku}")]
async fn get_level(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (location, sku) = level_path(path)?;
    who.require_location_access(&location, "stock:read")?;
    let level = state.db(move |conn| read_tx(conn, |conn| levels::get(conn, &location, &sku))).await?;
    Ok(HttpResponse::Ok().json(level))
}

/// A (location, sku)'s ledger, newest first.
///
/// Who may call: admin; integration with `stock:read`; staff of that store.
#[utoipa::path(
    get, path = "/v1/stock/{location}/{sku}/movements", tag = "stock",
    params(("location" = String, Path, description = "Location code"), ("sku" = String, Path, description = "SKU"), PageQuery),
    responses(
        (status = 200, body = Paginated<Movement>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/stock/{location}/{sku}/movements")]
async fn list_movements(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (location, sku) = level_path(path)?;
    who.require_location_access(&location, "stock:read")?;
    let page = query.page()?;
    let list = state
        .db(move |conn| {
            read_tx(conn, |conn| {
                levels::get(conn, &location, &sku)?;
                ledger::list(conn, &location, &sku, &page)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// `LAT,LNG`: stores nearest first, each with `distance_km`.
    pub near: Option<String>,
    /// How many stores to list (1 to 500, default 50).
    pub limit: Option<i64>,
}

/// A SKU's availability online and at each active store.
///
/// Who may call: anyone (public). `online.available` sums the stores and warehouses that
/// fulfil online orders; `locations` lists stores.
#[utoipa::path(
    get, path = "/v1/availability/{sku}", tag = "availability",
    params(("sku" = String, Path, description = "SKU"), AvailabilityQuery),
    responses(
        (status = 200, body = Availability),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/availability/{sku}")]
async fn sku_availability(
    state: web::Data<AppState>,
    sku: web::Path<String>,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let sku = sku.into_inner();
    path_code("sku", &sku)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let near = query.near.as_deref().map(Coordinates::parse_near).transpose()?;
    let result = state.db(move |conn| availability::for_sku(conn, &sku, near, limit as usize)).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Whether one store can serve every line of a cart.
///
/// Who may call: anyone (public).
#[utoipa::path(
    post, path = "/v1/availability/check", tag = "availability",
    request_body = CheckForm,
    responses(
        (status = 200, body = CheckResult),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        BadBody,
    ),
    security(())
)]
#[post("/v1/availability/check")]
async fn check_availability(state: web::Data<AppState>, body: Json<CheckForm>) -> Result<HttpResponse, ApiError> {
    let form = body.0;
    let result = state.db(move |conn| availability::check(conn, &form)).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Create or replace a sales channel.
///
/// Who may call: admin.
#[utoipa::path(
    put, path = "/v1/channels/{code}", tag = "channels",
    params(("code" = String, Path, description = "Channel code")),
    request_body = ChannelForm,
    responses(
        (status = 200, description = "Replaced", body = Channel),
        (status = 201, description = "Created", body = Channel),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[put("/v1/channels/{code}")]
async fn put_channel(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
    body: Json<ChannelForm>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let code = code.into_inner();
    path_code("code", &code)?;
    let form = body.0;
    let (created, channel) = state.db(move |conn| write_tx(conn, |conn| channels::put(conn, &code, &form))).await?;
    Ok(created_or_ok(created, channel))
}

/// One sales channel.
///
/// Who may call: admin; integration with `stock:read`.
#[utoipa::path(
    get, path = "/v1/channels/{code}", tag = "channels",
    params(("code" = String, Path, description = "Channel code")),
    responses(
        (status = 200, body = Channel),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/channels/{code}")]
async fn get_channel(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin_or_scope("stock:read")?;
    let code = code.into_inner();
    path_code("code", &code)?;
    let channel = state.db(move |conn| read_tx(conn, |conn| channels::get(conn, &code))).await?;
    Ok(HttpResponse::Ok().json(channel))
}

/// What a sales channel may sell of a SKU.
///
/// Who may call: any authenticated caller.
#[utoipa::path(
    get, path = "/v1/channels/{code}/availability/{sku}", tag = "channels",
    params(("code" = String, Path, description = "Channel code"), ("sku" = String, Path, description = "SKU")),
    responses(
        (status = 200, body = ChannelAvailability),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/channels/{code}/availability/{sku}")]
async fn channel_availability(
    state: web::Data<AppState>,
    _who: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (code, sku) = path.into_inner();
    path_code("code", &code)?;
    path_code("sku", &sku)?;
    let result = state.db(move |conn| read_tx(conn, |conn| availability::for_channel(conn, &code, &sku))).await?;
    Ok(HttpResponse::Ok().json(result))
}
