//! HTTP for stock, availability and sales channels: extract, authorize, call, respond.

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::*;
use super::{availability, channels, ledger, levels};
use crate::auth::Principal;
use crate::catalog::geo::Coordinates;
use crate::db::read_tx;
use crate::error::{ApiError, BadBody, Denied, Problem};
use crate::http::idempotency::{self, fingerprint, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::{BulkJson, Json};
use crate::http::metrics::StockCounters;
use crate::http::pagination::{PageQuery, Paginated, DEFAULT_LIMIT, MAX_LIMIT};
use crate::http::query::Query;
use crate::http::validate::path_code;
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
/// `applied: false`; a mismatched `expected_on_hand` answers 409. A count is the physical
/// truth and is applied even below what is reserved: the holds and orders it no longer covers
/// are flagged at risk (the level shows the `shortfall`). Accepts `Idempotency-Key`.
#[utoipa::path(
    put, path = "/v1/stock/{location}/{sku}", tag = "stock", operation_id = "set_stock_count",
    params(
        ("location" = String, Path, description = "Location code"),
        ("sku" = String, Path, description = "SKU"),
        IdempotencyKeyHeader,
    ),
    request_body = CountForm,
    responses(
        (status = 200, description = "The level after the count, and whether it was applied", body = CountResult),
        (status = 404, description = "No such location or product", body = Problem, content_type = "application/problem+json"),
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
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        Answer::ok(&levels::count(conn, &location, &sku, &form, &actor)?)
    })
    .await
}

/// Apply a batch of stock deltas, all or nothing.
///
/// Who may call: admin; integration with `stock:write`; staff, for their own store's lines
/// only. A batch that would drive any `on_hand` below zero answers 409 and changes nothing;
/// going below what is reserved is accepted (a till sale happened) and flags the holds and
/// orders it uncovers at risk. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/stock/adjustments", tag = "stock", operation_id = "adjust_stock",
    params(IdempotencyKeyHeader),
    request_body = AdjustmentBatch,
    responses(
        (status = 200, description = "The levels after the batch", body = AdjustmentResult),
        (status = 404, description = "Lines name locations or products that do not exist (`errors`)", body = Problem, content_type = "application/problem+json"),
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
    body: BulkJson<AdjustmentBatch>,
) -> Result<HttpResponse, ApiError> {
    let batch = body.0;
    for a in &batch.adjustments {
        who.require_location_access(&a.location, "stock:write")?;
    }
    let actor = who.actor();
    idempotency::run(&state, &who, key, fingerprint(&req, &batch), move |conn| {
        Answer::ok(&levels::adjust(conn, &batch, &actor)?)
    })
    .await
}

/// Apply a snapshot of many SKUs' counts at one location, in one transaction.
///
/// Who may call: admin; integration with `stock:write`; staff of that store. Answers with a
/// summary of what changed. Unknown SKUs fail the whole snapshot (422). Bodies may be up to
/// `MAX_SNAPSHOT_BYTES`. Counts below what is reserved are applied, and flag the holds and
/// orders they no longer cover. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/stock/{location}/snapshot", tag = "stock", operation_id = "apply_stock_snapshot",
    params(
        ("location" = String, Path, description = "Location code"),
        IdempotencyKeyHeader,
    ),
    request_body = SnapshotForm,
    responses(
        (status = 200, description = "What the snapshot changed", body = SnapshotSummary),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same Idempotency-Key in flight", body = Problem, content_type = "application/problem+json"),
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
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        Answer::ok(&levels::snapshot(conn, &location, &form, &actor)?)
    })
    .await
}

/// A (location, sku)'s stock level.
///
/// Who may call: admin; integration with `stock:read`; staff of that store.
#[utoipa::path(
    get, path = "/v1/stock/{location}/{sku}", tag = "stock", operation_id = "get_stock_level",
    params(("location" = String, Path, description = "Location code"), ("sku" = String, Path, description = "SKU")),
    responses(
        (status = 200, description = "The level", body = StockLevel),
        (status = 404, description = "No such location or product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code", body = Problem, content_type = "application/problem+json"),
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
    get, path = "/v1/stock/{location}/{sku}/movements", tag = "stock", operation_id = "list_stock_movements",
    params(("location" = String, Path, description = "Location code"), ("sku" = String, Path, description = "SKU"), PageQuery),
    responses(
        (status = 200, description = "One page of the ledger, newest first", body = Paginated<Movement>),
        (status = 404, description = "No such location or product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code, limit or cursor", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/stock/{location}/{sku}/movements")]
async fn list_movements(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(String, String)>,
    query: Query<PageQuery>,
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
/// fulfil online orders; `locations` lists stores. Answers carry an `ETag` and
/// `Cache-Control: public, max-age=…` (`AVAILABILITY_CACHE_MS`, rounded down to seconds):
/// the number may be served from this server's cache, never older than that after a commit
/// (docs/flash-sales.md). `If-None-Match` with the current `ETag` answers 304 without a body.
#[utoipa::path(
    get, path = "/v1/availability/{sku}", tag = "availability", operation_id = "get_availability",
    params(
        ("sku" = String, Path, description = "SKU"),
        AvailabilityQuery,
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer: 304 while it is still the answer"),
    ),
    responses(
        (status = 200, description = "Availability online and per store", body = Availability, headers(
            ("ETag" = String, description = "Identifies this answer (for `If-None-Match`)"),
            ("Cache-Control" = String, description = "`public, max-age=N`: how long a CDN or browser may reuse it (`no-cache` with the cache off)"),
        )),
        (status = 304, description = "Not modified: the `ETag` sent is still the answer", headers(
            ("ETag" = String, description = "The answer's ETag"),
            ("Cache-Control" = String, description = "As for 200"),
        )),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid SKU, `near` or limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/availability/{sku}")]
async fn sku_availability(
    state: web::Data<AppState>,
    req: HttpRequest,
    sku: web::Path<String>,
    query: Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let sku = sku.into_inner();
    path_code("sku", &sku)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let near = query.near.as_deref().map(Coordinates::parse_near).transpose()?;
    let cache = &state.stock.availability;
    let counters = &state.metrics.stock;
    let levels = match cache.get(&sku) {
        Some(hit) => {
            StockCounters::add(&counters.availability_cache_hits, 1);
            if hit.refresh {
                actix_web::rt::spawn(refresh_availability(state.clone(), sku.clone()));
            }
            hit.levels
        }
        None => {
            StockCounters::add(&counters.availability_cache_misses, 1);
            state.stock.follow(&state.pool, &state.changes);
            read_availability(&state, &sku).await?
        }
    };
    let body =
        serde_json::to_vec(&levels.present(near, limit as usize)).map_err(|e| ApiError::Internal(e.to_string()))?;
    let etag = crate::http::etag::of(&body);
    let max_age = cache.max_age().as_secs();
    let cache_control = if max_age == 0 { "no-cache".to_string() } else { format!("public, max-age={max_age}") };
    let unchanged = crate::http::etag::held(&req, &etag);
    let mut answer = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    answer.insert_header((actix_web::http::header::ETAG, etag)).insert_header(("Cache-Control", cache_control));
    if unchanged {
        return Ok(answer.finish());
    }
    Ok(answer.content_type("application/json").body(body))
}

/// Reads a SKU's levels from the database into the cache.
async fn read_availability(state: &AppState, sku: &str) -> Result<std::sync::Arc<availability::SkuLevels>, ApiError> {
    let ticket = state.stock.availability.ticket(sku);
    let read = sku.to_string();
    let levels = std::sync::Arc::new(state.db(move |conn| availability::levels_of(conn, &read)).await?);
    state.stock.availability.put(sku, ticket, levels.clone());
    Ok(levels)
}

/// Replaces a cached SKU nearing its age, while its readers go on being served.
async fn refresh_availability(state: web::Data<AppState>, sku: String) {
    if read_availability(&state, &sku).await.is_err() {
        state.stock.availability.refresh_failed(&sku);
    }
}

/// Whether one store can serve every line of a cart.
///
/// Who may call: anyone (public).
#[utoipa::path(
    post, path = "/v1/availability/check", tag = "availability", operation_id = "check_availability",
    request_body = CheckForm,
    responses(
        (status = 200, description = "Whether each line, and the whole cart, can be served", body = CheckResult),
        (status = 404, description = "No such location, or not an active one", body = Problem, content_type = "application/problem+json"),
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
/// Who may call: admin. Accepts `Idempotency-Key`.
#[utoipa::path(
    put, path = "/v1/channels/{code}", tag = "channels", operation_id = "put_channel",
    params(("code" = String, Path, description = "Channel code"), IdempotencyKeyHeader),
    request_body = ChannelForm,
    responses(
        (status = 200, description = "Replaced", body = Channel),
        (status = 201, description = "Created", body = Channel),
        (status = 404, description = "`locations` names locations that do not exist (`errors`)", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[put("/v1/channels/{code}")]
async fn put_channel(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    code: web::Path<String>,
    body: BulkJson<ChannelForm>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let code = code.into_inner();
    path_code("code", &code)?;
    let form = body.0;
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        let put = channels::put(conn, &code, &form)?;
        crate::sync::push::configure(conn, &code, form.webhook_url.is_some())?;
        Answer::created_or_ok(put)
    })
    .await
}

/// One sales channel.
///
/// Who may call: admin; integration with `stock:read`.
#[utoipa::path(
    get, path = "/v1/channels/{code}", tag = "channels", operation_id = "get_channel",
    params(("code" = String, Path, description = "Channel code")),
    responses(
        (status = 200, description = "The channel", body = Channel),
        (status = 404, description = "No such channel", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code", body = Problem, content_type = "application/problem+json"),
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
    get, path = "/v1/channels/{code}/availability/{sku}", tag = "channels", operation_id = "get_channel_availability",
    params(("code" = String, Path, description = "Channel code"), ("sku" = String, Path, description = "SKU")),
    responses(
        (status = 200, description = "What the channel may sell", body = ChannelAvailability),
        (status = 401, description = "No token, or a token that is expired, forged or malformed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such channel or product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code", body = Problem, content_type = "application/problem+json"),
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
