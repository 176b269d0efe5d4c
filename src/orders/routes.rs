//! HTTP for orders and the store's counter: extract, authorize, call, respond.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::{ArrivalForm, NewOrder, Order, PickupPass, PickupScan, Shipment, ShortPick, StoreOrder};
use super::status::{Action, Status};
use super::Details;
use crate::auth::{Principal, Role};
use crate::db::{read_tx, write_tx};
use crate::error::{path_code, ApiError, BadBody, Denied, Problem, Transition};
use crate::http::idempotency::{self, fingerprint, IdempotencyKey};
use crate::http::json::Json;
use crate::http::pagination::{encode_cursor, PageQuery, Paginated};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create)
        .service(read)
        .service(start_picking)
        .service(mark_ready)
        .service(cancel)
        .service(ship)
        .service(deliver)
        .service(store_orders)
        .service(scan_pickup)
        .service(arrive)
        .service(short_pick)
        .service(pickup_pass);
}

/// Place an order from a hold (`reservation_id`) or with `lines` held now.
///
/// Who may call: customer (for themselves); admin; integration with `orders:write`.
/// `external_ref` is unique per `channel` (409 on a repeat). Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/orders", tag = "orders",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a repeated request")),
    request_body = NewOrder,
    responses(
        (status = 201, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Insufficient stock, a used hold, or a repeated external_ref", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders")]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    body: Json<NewOrder>,
) -> Result<HttpResponse, ApiError> {
    match who.role {
        Role::Customer | Role::Admin => {}
        _ => who.require_admin_or_scope("orders:write")?,
    }
    let form = body.0;
    let buyer = who.clone();
    idempotency::run(&state, &who, key, fingerprint(&req, &form), StatusCode::CREATED, move |conn| {
        super::create(conn, &buyer, &form)
    })
    .await
}

/// An order with its timeline. The pickup code is shown to the order's customer only.
///
/// Who may call: the order's customer; staff of its store; admin; integration with
/// `orders:read` or `orders:write`. Other customers and stores get 404.
#[utoipa::path(
    get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/orders/{id}")]
async fn read(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let key = state.keys.pickup_key.clone();
    let order = state.db(move |conn| read_tx(conn, |conn| super::get(conn, &who, &id, &key))).await?;
    Ok(HttpResponse::Ok().json(order))
}

async fn act(
    state: web::Data<AppState>,
    who: Principal,
    id: String,
    action: Action,
    details: Details,
) -> Result<HttpResponse, ApiError> {
    let key = state.keys.pickup_key.clone();
    let order =
        state.db(move |conn| write_tx(conn, |conn| super::transition(conn, &who, &id, action, &details, &key))).await?;
    Ok(HttpResponse::Ok().json(order))
}

/// Start picking an order.
///
/// Who may call: staff of the order's store; admin. An illegal transition answers 409.
#[utoipa::path(
    post, path = "/v1/orders/{id}/picking", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        Transition,
        Denied,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/picking")]
async fn start_picking(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(state, who, id.into_inner(), Action::StartPicking, Details::default()).await
}

/// Mark a picked pickup or curbside order ready: it gets its pickup code and deadline.
///
/// Who may call: staff of the order's store; admin. The deadline is closing time at the
/// store, `pickup_hold_days` later, in the store's time zone.
#[utoipa::path(
    post, path = "/v1/orders/{id}/ready", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        Transition,
        Denied,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/ready")]
async fn mark_ready(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(state, who, id.into_inner(), Action::MarkReady, Details::default()).await
}

/// Cancel an order; its stock goes back on sale.
///
/// Who may call: staff of the order's store; admin; the order's customer while it is
/// `confirmed` or `picking`. Not after `collected` or `shipped` (409).
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        Transition,
        Denied,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/cancel")]
async fn cancel(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    act(state, who, id.into_inner(), Action::Cancel, Details::default()).await
}

/// Ship a delivery order: its units leave the location's stock.
///
/// Who may call: staff of the order's store; admin.
#[utoipa::path(
    post, path = "/v1/orders/{id}/ship", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    request_body = Shipment,
    responses(
        (status = 200, body = Order),
        Transition,
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/ship")]
async fn ship(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    body: Json<Shipment>,
) -> Result<HttpResponse, ApiError> {
    act(state, who, id.into_inner(), Action::Ship, Details { shipment: Some(body.0) }).await
}

/// Mark a shipped order delivered.
///
/// Who may call: staff of the order's store; admin.
#[utoipa::path(
    post, path = "/v1/orders/{id}/deliver", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        Transition,
        Denied,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/deliver")]
async fn deliver(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    act(state, who, id.into_inner(), Action::Deliver, Details::default()).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreOrdersQuery {
    /// One status; by default the open ones (`confirmed`, `picking`, `ready_for_pickup`).
    pub status: Option<Status>,
    /// How many items to return (1 to 500, default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn require_store_staff(who: &Principal, store: &str) -> Result<(), ApiError> {
    match who.role {
        Role::Admin => Ok(()),
        Role::Staff if who.store.as_deref() == Some(store) => Ok(()),
        Role::Staff => Err(ApiError::Forbidden(format!("staff may only act on their own store, not {store}"))),
        _ => Err(ApiError::Forbidden("this is for store staff".into())),
    }
}

/// A store's orders, oldest first, each with its lines and product names.
///
/// Who may call: staff of that store; admin.
#[utoipa::path(
    get, path = "/v1/stores/{code}/orders", tag = "orders",
    params(("code" = String, Path, description = "Store code"), StoreOrdersQuery),
    responses(
        (status = 200, body = Paginated<StoreOrder>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/stores/{code}/orders")]
async fn store_orders(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
    query: web::Query<StoreOrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = code.into_inner();
    path_code("code", &store)?;
    require_store_staff(&who, &store)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor.clone() }.page()?;
    let offset: i64 = match &page.cursor {
        None => 0,
        Some(c) => c.parse().map_err(|_| ApiError::validation("cursor", "is not a cursor for this list"))?,
    };
    let status = query.status;
    let limit = page.limit;
    let (items, more) =
        state.db(move |conn| read_tx(conn, |conn| super::store_orders(conn, &store, status, offset, limit))).await?;
    let next_cursor = more.then(|| encode_cursor(&(offset + limit).to_string()));
    Ok(HttpResponse::Ok().json(Paginated { items, next_cursor }))
}

/// Hand over an order: staff scan the customer's pickup code; the order is collected and its
/// units leave the store's stock.
///
/// Who may call: staff of that store; admin. An unknown code, or another store's, answers
/// 404; after 10 wrong codes in 5 minutes the store gets 429 until the window passes.
#[utoipa::path(
    post, path = "/v1/stores/{code}/pickups", tag = "orders",
    params(("code" = String, Path, description = "Store code")),
    request_body = PickupScan,
    responses(
        (status = 200, body = Order),
        Transition,
        (status = 429, body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/stores/{code}/pickups")]
async fn scan_pickup(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
    body: Json<PickupScan>,
) -> Result<HttpResponse, ApiError> {
    let store = code.into_inner();
    path_code("code", &store)?;
    require_store_staff(&who, &store)?;
    let (throttle, at) = (state.pickup_throttle.clone(), store.clone());
    if let Some(retry_after) = web::block(move || throttle.blocked(&at)).await? {
        return Err(ApiError::TooManyRequests { retry_after });
    }
    let key = state.keys.pickup_key.clone();
    let scanned = body.0.code;
    let at = store.clone();
    let result = state.db(move |conn| write_tx(conn, |conn| super::collect(conn, &who, &at, &scanned, &key))).await;
    if let Err(ApiError::NotFound(_)) = &result {
        let throttle = state.pickup_throttle.clone();
        web::block(move || throttle.fail(&store)).await?;
    }
    Ok(HttpResponse::Ok().json(result?))
}

/// A curbside customer has arrived: staff see them at the top of the store's list.
///
/// Who may call: the order's customer, for a curbside order that is not yet collected or
/// cancelled. Saying it again updates bay, vehicle and note.
#[utoipa::path(
    post, path = "/v1/orders/{id}/arrival", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    request_body = ArrivalForm,
    responses(
        (status = 200, body = Order),
        Transition,
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/arrival")]
async fn arrive(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    body: Json<ArrivalForm>,
) -> Result<HttpResponse, ApiError> {
    let (id, form) = (id.into_inner(), body.0);
    let key = state.keys.pickup_key.clone();
    let order = state.db(move |conn| write_tx(conn, |conn| super::arrive(conn, &who, &id, &form, &key))).await?;
    Ok(HttpResponse::Ok().json(order))
}

/// Report units of a line missing while picking: the stock count is corrected, the line
/// shrinks, and an order with nothing left is cancelled. Each step is on the timeline.
///
/// Who may call: staff of the order's store; admin. Only while `picking` (409 otherwise).
#[utoipa::path(
    post, path = "/v1/orders/{id}/short-pick", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    request_body = ShortPick,
    responses(
        (status = 200, body = Order),
        Transition,
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/short-pick")]
async fn short_pick(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    body: Json<ShortPick>,
) -> Result<HttpResponse, ApiError> {
    let (id, form) = (id.into_inner(), body.0);
    let key = state.keys.pickup_key.clone();
    let order = state.db(move |conn| write_tx(conn, |conn| super::short_pick(conn, &who, &id, &form, &key))).await?;
    Ok(HttpResponse::Ok().json(order))
}

/// The pickup pass: the code and a QR code of it. With `Accept: image/svg+xml` the answer is
/// the QR image alone.
///
/// Who may call: the order's customer (others: 404). The order must be ready (409).
#[utoipa::path(
    get, path = "/v1/orders/{id}/pickup-pass", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = PickupPass, content_type = "application/json"),
        (status = 200, description = "The QR code", body = String, content_type = "image/svg+xml"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        Transition,
    ),
    security(("bearer" = []))
)]
#[get("/v1/orders/{id}/pickup-pass")]
async fn pickup_pass(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let key = state.keys.pickup_key.clone();
    let pass = state.db(move |conn| read_tx(conn, |conn| super::pickup_pass(conn, &who, &id, &key))).await?;
    let wants_svg = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("image/svg+xml"));
    Ok(if wants_svg {
        HttpResponse::Ok().content_type("image/svg+xml").body(pass.qr_svg)
    } else {
        HttpResponse::Ok().json(pass)
    })
}
