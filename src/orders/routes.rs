//! HTTP for orders and the store's counter: extract, authorize, call, respond. Every step
//! that changes an order accepts `Idempotency-Key`, so a store tablet on a flaky network can
//! retry without picking, cancelling or short-picking twice.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::{
    ArrivalForm, CancelForm, NewOrder, Order, OrderFilter, PickupPass, PickupScan, Promise, PromiseForm, ReturnForm,
    Shipment, ShortPick, StoreFilter, StoreOrder,
};
use super::status::{Action, Status};
use super::{Details, Placed};
use crate::auth::{Principal, Role};
use crate::db::read_tx;
use crate::error::{ApiError, BadBody, Denied, Problem, RatePolicy, Transition};
use crate::http::idempotency::{self, fingerprint, fingerprint_bodiless, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::{Json, OptionalJson};
use crate::http::pagination::{encode_cursor, Page, PageQuery, Paginated};
use crate::http::query::Query;
use crate::http::validate::path_code;
use crate::state::{AppState, PICKUP_THROTTLE_LIMIT, PICKUP_THROTTLE_WINDOW};
use crate::throttle::Blocked;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create)
        .service(find_orders)
        .service(read)
        .service(start_picking)
        .service(mark_ready)
        .service(cancel)
        .service(ship)
        .service(deliver)
        .service(store_orders)
        .service(scan_pickup)
        .service(look_up_pickup)
        .service(arrive)
        .service(short_pick)
        .service(pickup_pass)
        .service(take_back)
        .service(promise);
}

/// Place an order from a hold (`reservation_id`) or with `lines` held now.
///
/// Who may call: customer (for themselves); admin; integration with `orders:write`. Only
/// admins and integrations may set `channel` and `external_ref`; the channel must exist, the
/// order must come from one of its locations, and it may not take what the channel's buffer
/// keeps back. `external_ref` is unique per channel: the same caller importing it again with
/// the same content gets the original order (200, `Idempotent-Replayed: true`), anything else
/// 409. Customers are held to the per-customer limits (409 `limit-exceeded`). Accepts
/// `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/orders", tag = "orders", operation_id = "create_order",
    params(IdempotencyKeyHeader),
    request_body = NewOrder,
    responses(
        (status = 201, description = "The order, confirmed", body = Order),
        (status = 200, description = "A repeated import: the original order", body = Order),
        (status = 404, description = "No such location, product or channel (`errors` names the field)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Insufficient stock (`shortfalls`), a used hold, an external_ref imported with other content, or a customer limit (`limit-exceeded`)", body = Problem, content_type = "application/problem+json"),
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
    let (buyer, settings) = (who.clone(), state.order_settings());
    let print = fingerprint(&req, &form);
    let state = state.get_ref();
    idempotency::guarded(state, &who, key, &print, |claimed| async move {
        if let Some(refused) = refused_from_memory(state, &buyer, &form) {
            return Err(refused);
        }
        idempotency::once(state, claimed, move |conn| match super::create(conn, &buyer, &form, &settings)? {
            Placed::New(order) => Answer::created(&order),
            Placed::Repeated(order) => Ok(Answer::ok(&order)?.replayed()),
        })
        .await
    })
    .await
}

/// A shopper's own order of one line, straight from stock, at a level known sold out for its
/// quantity: refused as a hold would be, without a transaction (docs/flash-sales.md). Orders
/// from holds, imports and orders placed for others always go to the database.
fn refused_from_memory(state: &AppState, who: &Principal, form: &NewOrder) -> Option<ApiError> {
    let own = who.role == Role::Customer && form.customer_id == who.sub;
    let (Some(location), Some([line])) = (form.location.as_deref(), form.lines.as_deref()) else { return None };
    if !own || form.reservation_id.is_some() || form.channel.is_some() || form.external_ref.is_some() {
        return None;
    }
    crate::reservations::leader::refused_from_memory(state, location, &line.sku, line.quantity)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindOrdersQuery {
    /// An order's short number, as messages show it (case does not matter).
    #[param(min_length = 1, max_length = 32)]
    pub number: Option<String>,
    /// A sales channel's code: its orders, or with `external_ref` the one imported under it.
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub channel: Option<String>,
    /// The order's id in the channel's own system (unique per channel).
    #[param(min_length = 1, max_length = 128)]
    pub external_ref: Option<String>,
    /// How many items to return (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Orders, newest first: all of them, or found by number, or by marketplace reference.
///
/// Who may call: admin; integration with `orders:read` (every order) or `orders:write` (only
/// the orders it placed). `number` finds one order by its short number; `channel` lists a
/// channel's orders; `external_ref` finds what was imported under that reference (one order
/// per channel); with none, every order is listed.
#[utoipa::path(
    get, path = "/v1/orders", tag = "orders", operation_id = "find_orders",
    params(FindOrdersQuery),
    responses(
        (status = 200, description = "The matching orders, newest first", body = Paginated<Order>),
        (status = 422, description = "An invalid filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/orders")]
async fn find_orders(
    state: web::Data<AppState>,
    who: Principal,
    query: Query<FindOrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin_or_scope("orders:read").or_else(|_| who.require_admin_or_scope("orders:write"))?;
    let query = query.0;
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    let filter = OrderFilter { number: query.number, channel: query.channel, external_ref: query.external_ref };
    check_lookups(filter.number.as_deref(), filter.channel.as_deref(), filter.external_ref.as_deref())?;
    let offset = page.offset()?;
    let (limit, settings) = (page.limit, state.order_settings());
    let (items, more) = state
        .db(move |conn| read_tx(conn, |conn| super::search(conn, &who, &filter, &settings, offset, limit)))
        .await?;
    Ok(HttpResponse::Ok()
        .json(Paginated { items, next_cursor: more.then(|| encode_cursor(&(offset + limit).to_string())) }))
}

/// An order with its timeline. The pickup code is shown to the order's customer only.
///
/// Who may call: the order's customer; staff of its store; admin; integration with
/// `orders:read`, or with `orders:write` for the orders it placed. Others get 404.
#[utoipa::path(
    get, path = "/v1/orders/{id}", tag = "orders", operation_id = "get_order",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/orders/{id}")]
async fn read(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (id, settings) = (id.into_inner(), state.order_settings());
    let order = state.db(move |conn| read_tx(conn, |conn| super::get(conn, &who, &id, &settings))).await?;
    Ok(HttpResponse::Ok().json(order))
}

/// Declares a bodiless step of an order's life: its handler and its entry in the document,
/// which differ from step to step only in these words.
macro_rules! order_step {
    ($(#[$doc:meta])* $name:ident, $path:literal, $operation:literal, $answer:literal, $action:expr) => {
        $(#[$doc])*
        #[utoipa::path(
            post, path = $path, tag = "orders", operation_id = $operation,
            params(("id" = String, Path, description = "Order id"), IdempotencyKeyHeader),
            responses(
                (status = 200, description = $answer, body = Order),
                Transition,
                Denied,
            ),
            security(("bearer" = []))
        )]
        #[post($path)]
        async fn $name(
            state: web::Data<AppState>,
            req: HttpRequest,
            who: Principal,
            key: IdempotencyKey,
            id: web::Path<String>,
        ) -> Result<HttpResponse, ApiError> {
            act(state, req, who, key, id.into_inner(), $action, Details::default()).await
        }
    };
}

/// One step of an order's life, once per `Idempotency-Key`.
async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: String,
    action: Action,
    details: Details,
) -> Result<HttpResponse, ApiError> {
    let print = match (&details.shipment, &details.reason) {
        (Some(shipment), _) => fingerprint(&req, shipment),
        (None, Some(reason)) => fingerprint(&req, &CancelForm { reason: Some(reason.clone()) }),
        (None, None) => fingerprint_bodiless(&req),
    };
    let (actor, settings) = (who.clone(), state.order_settings());
    idempotency::run(&state, &who, key, print, move |conn| {
        Answer::ok(&super::transition(conn, &actor, &id, action, &details, &settings)?)
    })
    .await
}

order_step! {
    /// Start picking an order.
    ///
    /// Who may call: staff of the order's store; admin. An illegal transition answers 409.
    /// Accepts `Idempotency-Key`.
    start_picking, "/v1/orders/{id}/picking", "start_picking", "The order, now picking", Action::StartPicking
}

order_step! {
    /// Mark a picked pickup or curbside order ready: it gets its pickup code and deadline.
    ///
    /// Who may call: staff of the order's store; admin. The deadline is closing time at the
    /// store, `pickup_hold_days` later, in the store's time zone. An order at risk (stock no
    /// longer covers a line) answers 409 `at-risk`: short-pick the missing units, or recount the
    /// level if they are there. Accepts `Idempotency-Key`.
    mark_ready, "/v1/orders/{id}/ready", "mark_ready", "The order, ready for pickup", Action::MarkReady
}

/// Cancel an order; its stock goes back on sale.
///
/// Who may call: staff of the order's store; admin; the order's customer while it is
/// `confirmed` or `picking`; an integration with `orders:write`, for orders it imported. Not
/// after `collected` or `shipped` (409). The body may be left out; a `reason` is kept in the
/// order's timeline. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", tag = "orders", operation_id = "cancel_order",
    params(("id" = String, Path, description = "Order id"), IdempotencyKeyHeader),
    request_body(content = Option<CancelForm>, description = "Optional: why"),
    responses(
        (status = 200, description = "The order, cancelled", body = Order),
        Transition,
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/cancel")]
async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: OptionalJson<CancelForm>,
) -> Result<HttpResponse, ApiError> {
    let details = Details { reason: body.0.reason, ..Details::default() };
    act(state, req, who, key, id.into_inner(), Action::Cancel, details).await
}

/// Ship a delivery order: its units leave the location's stock.
///
/// Who may call: staff of the order's store; admin. If a recount had taken some of its units
/// off the books, shipping them proves they were there: the count is corrected with a
/// `correction` movement. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/orders/{id}/ship", tag = "orders", operation_id = "ship_order",
    params(("id" = String, Path, description = "Order id"), IdempotencyKeyHeader),
    request_body = Shipment,
    responses(
        (status = 200, description = "The order, shipped", body = Order),
        Transition,
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/ship")]
async fn ship(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: Json<Shipment>,
) -> Result<HttpResponse, ApiError> {
    act(state, req, who, key, id.into_inner(), Action::Ship, Details { shipment: Some(body.0), ..Details::default() })
        .await
}

order_step! {
    /// Mark a shipped order delivered.
    ///
    /// Who may call: staff of the order's store; admin. Accepts `Idempotency-Key`.
    deliver, "/v1/orders/{id}/deliver", "deliver_order", "The order, delivered", Action::Deliver
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreOrdersQuery {
    /// One status; by default the open ones (`confirmed`, `picking`, `ready_for_pickup`), or
    /// any status when `number` is given.
    pub status: Option<Status>,
    /// An order's short number (case does not matter).
    #[param(min_length = 1, max_length = 32)]
    pub number: Option<String>,
    /// Only orders that are (`true`) or are not (`false`) overdue for picking.
    pub overdue: Option<bool>,
    /// Only orders that are (`true`) or are not (`false`) at risk.
    pub at_risk: Option<bool>,
    /// How many items to return (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The look-up parameters, in the formats the document gives them.
fn check_lookups(number: Option<&str>, channel: Option<&str>, external_ref: Option<&str>) -> Result<(), ApiError> {
    let mut v = crate::http::validate::Validator::new();
    if let Some(number) = number {
        v.check(crate::http::formats::is_order_number(number), "number", "must be 1 to 32 letters and digits");
    }
    if let Some(channel) = channel {
        v.code("channel", channel);
    }
    if let Some(reference) = external_ref {
        v.text("external_ref", reference, 128);
    }
    v.finish()
}

/// A store's orders, each with its lines and product names: arrived curbside customers first
/// (longest waiting first), then the rest oldest first. Overdue and at-risk orders are
/// flagged, and can be filtered on.
///
/// Who may call: staff of that store; admin.
#[utoipa::path(
    get, path = "/v1/stores/{code}/orders", tag = "orders", operation_id = "list_store_orders",
    params(("code" = String, Path, description = "Store code"), StoreOrdersQuery),
    responses(
        (status = 200, description = "One page of the store's orders", body = Paginated<StoreOrder>),
        (status = 404, description = "No such store", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/stores/{code}/orders")]
async fn store_orders(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
    query: Query<StoreOrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = code.into_inner();
    path_code("code", &store)?;
    who.require_store_staff(&store)?;
    let query = query.0;
    check_lookups(query.number.as_deref(), None, None)?;
    let page: Page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    let offset = page.offset()?;
    let filter =
        StoreFilter { status: query.status, number: query.number, overdue: query.overdue, at_risk: query.at_risk };
    let (limit, settings) = (page.limit, state.order_settings());
    let (items, more) = state
        .db(move |conn| read_tx(conn, |conn| super::store_orders(conn, &store, &filter, &settings, offset, limit)))
        .await?;
    let next_cursor = more.then(|| encode_cursor(&(offset + limit).to_string()));
    Ok(HttpResponse::Ok().json(Paginated { items, next_cursor }))
}

/// Hand over an order: staff scan the customer's pickup code; the order is collected and its
/// units leave the store's stock.
///
/// Who may call: staff of that store; admin. An unknown code answers 404 `not-found`; the
/// code of an order to be collected at another store answers 404 `pickup-at-other-store`
/// naming that store. At most 10 wrong codes count per store in 5 minutes: each scan takes
/// its slot before it is tried, so a burst gets no more; then 429 `rate-limited` until the
/// window passes. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/stores/{code}/pickups", tag = "orders", operation_id = "scan_pickup",
    params(("code" = String, Path, description = "Store code"), IdempotencyKeyHeader),
    request_body = PickupScan,
    responses(
        (status = 200, description = "The order, collected", body = Order),
        Transition,
        (status = 429, description = "Too many wrong codes at this store; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/stores/{code}/pickups")]
async fn scan_pickup(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    code: web::Path<String>,
    body: Json<PickupScan>,
) -> Result<HttpResponse, ApiError> {
    let store = code.into_inner();
    path_code("code", &store)?;
    who.require_store_staff(&store)?;
    let form = body.0;
    let (scanner, at, settings) = (who.clone(), store.clone(), state.order_settings());
    let print = fingerprint(&req, &form);
    counted_scan(&state, &store, async {
        idempotency::run(&state, &who, key, print, move |conn| {
            Answer::ok(&super::collect(conn, &scanner, &at, &form.code, &settings)?)
        })
        .await
    })
    .await
}

/// Look a pickup code up without handing over: the order it would collect, for staff to
/// check its lines with the customer before they confirm with `POST .../pickups`.
///
/// Who may call: staff of that store; admin. Answers as the scan does for a wrong code
/// (404 `not-found`), another store's (404 `pickup-at-other-store`, naming it), an order
/// not ready (409), and wrong codes count toward the same limit (429 `rate-limited`): a
/// look-up is no way around it.
#[utoipa::path(
    post, path = "/v1/stores/{code}/pickups/lookup", tag = "orders", operation_id = "look_up_pickup",
    params(("code" = String, Path, description = "Store code")),
    request_body = PickupScan,
    responses(
        (status = 200, description = "The ready order the code would hand over", body = Order),
        Transition,
        (status = 429, description = "Too many wrong codes at this store; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/stores/{code}/pickups/lookup")]
async fn look_up_pickup(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
    body: Json<PickupScan>,
) -> Result<HttpResponse, ApiError> {
    let store = code.into_inner();
    path_code("code", &store)?;
    who.require_store_staff(&store)?;
    let form = body.0;
    let (at, settings) = (store.clone(), state.order_settings());
    counted_scan(&state, &store, async {
        let order = state
            .db(move |conn| read_tx(conn, |conn| super::look_up_code(conn, &who, &at, &form.code, &settings)))
            .await?;
        Ok(HttpResponse::Ok().json(order))
    })
    .await
}

/// Runs a scan or a look-up in a slot of the store's wrong-code limit. Only a wrong code
/// counts; a right one, or another store's, does not.
async fn counted_scan(
    state: &AppState,
    store: &str,
    scan: impl std::future::Future<Output = Result<HttpResponse, ApiError>>,
) -> Result<HttpResponse, ApiError> {
    let slot = take_scan_slot(state, store).await?;
    let result = scan.await;
    let failed = matches!(result, Err(ApiError::NotFound(_)));
    state.pickup_throttle.release(slot, failed).await;
    result
}

/// How long a scan waits for a slot held by other scans still in flight.
const SCAN_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Counts the scan before it is tried, so a burst cannot outrun the wrong-code limit. A scan
/// that finds every slot held by scans in flight waits for one; a store whose window is full
/// of wrong codes gets 429 until it ends.
async fn take_scan_slot(state: &AppState, store: &str) -> Result<crate::throttle::Slot, ApiError> {
    let policy = RatePolicy {
        name: "pickup-codes",
        quota: PICKUP_THROTTLE_LIMIT,
        window_seconds: PICKUP_THROTTLE_WINDOW.as_secs(),
    };
    let started = std::time::Instant::now();
    loop {
        match state.pickup_throttle.acquire(store).await {
            Ok(slot) => return Ok(slot),
            Err(Blocked::Failures { retry_after }) => return Err(ApiError::RateLimited { policy, retry_after }),
            Err(Blocked::Busy) if started.elapsed() < SCAN_WAIT => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(Blocked::Busy) => return Err(ApiError::RateLimited { policy, retry_after: 1 }),
        }
    }
}

/// A curbside customer has arrived: staff see them at the top of the store's list.
///
/// Who may call: the order's customer, for a curbside order that is not yet collected or
/// cancelled. Saying it again updates bay, vehicle and note. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/orders/{id}/arrival", tag = "orders", operation_id = "announce_arrival",
    params(("id" = String, Path, description = "Order id"), IdempotencyKeyHeader),
    request_body = ArrivalForm,
    responses(
        (status = 200, description = "The order, with the arrival", body = Order),
        Transition,
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/arrival")]
async fn arrive(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: Json<ArrivalForm>,
) -> Result<HttpResponse, ApiError> {
    let (id, form) = (id.into_inner(), body.0);
    let (customer, settings) = (who.clone(), state.order_settings());
    let print = fingerprint(&req, &form);
    idempotency::run(&state, &who, key, print, move |conn| {
        Answer::ok(&super::arrive(conn, &customer, &id, &form, &settings)?)
    })
    .await
}

/// Report units of a line missing while picking: the line shrinks, its reservation goes, and
/// the stock count is corrected for units the books still showed (units a recount already
/// took off an at-risk line are not taken twice). An order with nothing left is cancelled.
/// Each step is on the timeline.
///
/// Who may call: staff of the order's store; admin. Only while `picking` (409 otherwise).
/// Accepts `Idempotency-Key`: a retried short pick never takes stock twice.
#[utoipa::path(
    post, path = "/v1/orders/{id}/short-pick", tag = "orders", operation_id = "short_pick",
    params(("id" = String, Path, description = "Order id"), IdempotencyKeyHeader),
    request_body = ShortPick,
    responses(
        (status = 200, description = "The order, with the line shrunk", body = Order),
        Transition,
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/short-pick")]
async fn short_pick(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: Json<ShortPick>,
) -> Result<HttpResponse, ApiError> {
    let (id, form) = (id.into_inner(), body.0);
    let (picker, settings) = (who.clone(), state.order_settings());
    let print = fingerprint(&req, &form);
    idempotency::run(&state, &who, key, print, move |conn| {
        Answer::ok(&super::short_pick(conn, &picker, &id, &form, &settings)?)
    })
    .await
}

/// The pickup pass: the code and a QR code of it. With `Accept: image/svg+xml` the answer is
/// the QR image alone.
///
/// Who may call: the order's customer (others: 404). The order must be ready (409).
#[utoipa::path(
    get, path = "/v1/orders/{id}/pickup-pass", tag = "orders", operation_id = "get_pickup_pass",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The pass as JSON, or the QR code alone as SVG with `Accept: image/svg+xml`",
            content(
                (PickupPass = "application/json"),
                (String = "image/svg+xml"),
            )
        ),
        (status = 401, description = "No token, or a token that is expired, forged or malformed", body = Problem, content_type = "application/problem+json"),
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

/// Take back units of a collected or delivered order, at any store.
///
/// Who may call: staff, at their own store (`location`); admin, anywhere. Each line has a
/// condition: `resellable` units go back on that store's shelf through the ledger (reason
/// `return`, the order as reference); `damaged` and `inspect` units are recorded, not put on
/// sale. The order becomes `partially_returned`, or `returned` once every unit bought is
/// back; its customer is told, and the change reaches the order's sales channel (feed and
/// signed webhook) so the commerce platform can refund. More than is left to return answers
/// 409 `return-exceeds-order` with each line. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/orders/{id}/returns", tag = "orders", operation_id = "return_order_lines",
    params(("id" = String, Path, description = "Order id"), IdempotencyKeyHeader),
    request_body = ReturnForm,
    responses(
        (status = 201, description = "The order, with the return last in `returns`", body = Order),
        (status = 404, description = "No such order or location", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not collected or delivered, everything already back, an inactive location, or more than is left to return (`return-exceeds-order`, with `errors`)", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/orders/{id}/returns")]
async fn take_back(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: Json<ReturnForm>,
) -> Result<HttpResponse, ApiError> {
    let (id, form) = (id.into_inner(), body.0);
    let (taker, settings) = (who.clone(), state.order_settings());
    let print = fingerprint(&req, &form);
    idempotency::run(&state, &who, key, print, move |conn| {
        Answer::created(&super::take_back(conn, &taker, &id, &form, &settings)?)
    })
    .await
}

/// When a cart would be ready for pickup (or curbside) at a store, if ordered now.
///
/// Who may call: anyone (public): a product page or a checkout asks before the shopper
/// commits. The store picks its queue at its pace (`picking_per_hour` on the location, else
/// `PICKING_ORDERS_PER_HOUR`) within its opening hours and time zone; `ready_at` is when the
/// orders ahead and this one are picked. With slots, `slot` is the first free one after
/// that. A line the shelf lacks answers 409 `insufficient-stock` with the nearest stores
/// that have it. Reads only: nothing is held.
#[utoipa::path(
    post, path = "/v1/promise", tag = "orders", operation_id = "promise_ready_time",
    request_body = PromiseForm,
    responses(
        (status = 200, description = "The promise", body = Promise),
        (status = 404, description = "No such store or product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not offered there, not open within two weeks, or not on the shelf (`insufficient-stock`)", body = Problem, content_type = "application/problem+json"),
        BadBody,
    ),
    security(())
)]
#[post("/v1/promise")]
async fn promise(state: web::Data<AppState>, body: Json<PromiseForm>) -> Result<HttpResponse, ApiError> {
    let form = body.0;
    let pace = state.settings.orders.picking_orders_per_hour;
    let now = chrono::Utc::now();
    let promise = state.db(move |conn| read_tx(conn, |conn| super::promise::promise(conn, &form, pace, now))).await?;
    Ok(HttpResponse::Ok().json(promise))
}
