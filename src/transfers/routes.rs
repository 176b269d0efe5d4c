//! HTTP for ship-to-store: extract, authorize, call, respond.

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};

use super::model::{Lanes, ReceiveForm, Transfer, TransferQuery};
use crate::auth::{Principal, Role};
use crate::db::read_tx;
use crate::error::{ApiError, BadBody, Denied, Problem};
use crate::http::idempotency::{self, fingerprint, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::Json;
use crate::http::pagination::{PageQuery, Paginated};
use crate::http::query::Query;
use crate::http::validate::path_code;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(put_lanes).service(get_lanes).service(list_transfers).service(receive);
}

/// Set the lanes that supply a store: every lane at once (an empty list turns ship-to-store
/// off for it).
///
/// Who may call: admin. A lane names a source (a warehouse or another store) and how many of
/// the store's working days its transfers take. A pickup or curbside order at the store then
/// takes a line the store lacks from the fastest source that has it, reserved there at once,
/// and waits as `awaiting_transfer`. Lanes lead to stores (409 for a warehouse); an unknown
/// source is 404. Accepts `Idempotency-Key`.
#[utoipa::path(
    put, path = "/v1/locations/{code}/lanes", tag = "transfers", operation_id = "put_transfer_lanes",
    params(("code" = String, Path, description = "Store code"), IdempotencyKeyHeader),
    request_body = Lanes,
    responses(
        (status = 200, description = "The lanes now in force, fastest first", body = Lanes),
        (status = 404, description = "No such store or source", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The location is not a store", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[put("/v1/locations/{code}/lanes")]
async fn put_lanes(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    code: web::Path<String>,
    body: Json<Lanes>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    path_code("code", &code)?;
    let (code, lanes) = (code.into_inner(), body.0);
    idempotency::run(&state, &who, key, fingerprint(&req, &lanes), move |conn| {
        Answer::ok(&super::put_lanes(conn, &code, &lanes)?)
    })
    .await
}

/// The lanes that supply a store, fastest first.
///
/// Who may call: admins, and the store's staff.
#[utoipa::path(
    get, path = "/v1/locations/{code}/lanes", tag = "transfers", operation_id = "get_transfer_lanes",
    params(("code" = String, Path, description = "Store code")),
    responses(
        (status = 200, description = "The store's lanes", body = Lanes),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/locations/{code}/lanes")]
async fn get_lanes(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    path_code("code", &code)?;
    who.require_store_staff(&code)?;
    let code = code.into_inner();
    let lanes = state
        .db(move |conn| {
            read_tx(conn, |conn| {
                crate::catalog::find_location(conn, &code)?;
                super::lanes_into(conn, &code)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(lanes))
}

/// Transfers on their way to a store, and those it received: soonest expected first.
///
/// Who may call: admins (any store, or all when `to` is left out), and staff of the `to`
/// store (their own store when left out). Customers and integrations: 403.
#[utoipa::path(
    get, path = "/v1/transfers", tag = "transfers", operation_id = "list_transfers",
    params(TransferQuery),
    responses(
        (status = 200, description = "One page of transfers", body = Paginated<Transfer>),
        (status = 422, description = "An invalid filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/transfers")]
async fn list_transfers(
    state: web::Data<AppState>,
    who: Principal,
    query: Query<TransferQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.0;
    if let Some(to) = &query.to {
        path_code("to", to)?;
    }
    let to = match (&who.role, &query.to) {
        (Role::Staff, None) => who.store.clone(),
        (_, to) => to.clone(),
    };
    match &to {
        Some(store) => who.require_store_staff(store)?,
        None => who.require_admin()?,
    }
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    let status = query.status;
    let list = state.db(move |conn| read_tx(conn, |conn| super::list(conn, to.as_deref(), status, &page))).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Receive a transfer at its store: what arrived goes on the shelf.
///
/// Who may call: admins, and staff of the receiving store. Leave `lines` out when everything
/// arrived; with `lines`, a SKU left out did not arrive. Every unit sent leaves the source
/// (`transfer_out`); what arrived comes onto the store's shelf with the order's reservation
/// (`transfer_in`). The transfer becomes `received`, `partial` or `lost`; units that did not
/// arrive leave the order at risk unless the store has spare ones. Once the order's last
/// transfer is in, the order becomes `confirmed` and can be picked. A transfer already
/// received or cancelled answers 409. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/transfers/{id}/receive", tag = "transfers", operation_id = "receive_transfer",
    params(("id" = String, Path, description = "Transfer id"), IdempotencyKeyHeader),
    request_body = ReceiveForm,
    responses(
        (status = 200, description = "The transfer as received", body = Transfer),
        (status = 404, description = "No such transfer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already received, or cancelled with its order", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/transfers/{id}/receive")]
async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: Json<ReceiveForm>,
) -> Result<HttpResponse, ApiError> {
    if !matches!(who.role, Role::Admin | Role::Staff) {
        return Err(ApiError::Forbidden("transfers are received by the store's staff".into()));
    }
    let (id, form) = (id.into_inner(), body.0);
    let (receiver, settings) = (who.clone(), state.order_settings());
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        Answer::ok(&crate::orders::receive_transfer(conn, &receiver, &id, &form, &settings)?)
    })
    .await
}
