//! HTTP for the store console: the page, pairing links, pairing, and the store's devices.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::TimeDelta;

use super::model::{ConsoleLink, Device, DeviceToken, LinkForm, PairingForm};
use crate::auth::{Principal, Role, DEVICE_SUBJECT_PREFIX};
use crate::db::read_tx;
use crate::error::{ApiError, BadBody, Denied, Problem};
use crate::http::idempotency::{self, fingerprint, fingerprint_bodiless, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::{Json, OptionalJson};
use crate::http::pagination::{encode_cursor, PageQuery, Paginated};
use crate::http::query::Query;
use crate::http::validate::path_code;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(console_page).service(new_link).service(new_pairing).service(devices).service(revoke);
}

/// The store console: the web page store staff pick, hand over and count from.
///
/// Public: the page holds no data; it signs in with a pairing link (`#pair=` after the
/// address, which browsers never send) or a pasted staff token, and calls this API.
#[utoipa::path(
    get, path = "/console", tag = "console", operation_id = "get_console",
    responses((status = 200, description = "The console's page", content_type = "text/html", body = String))
)]
#[get("/console")]
async fn console_page(req: HttpRequest) -> HttpResponse {
    match super::page::find("index.html") {
        Some(asset) => super::page::serve(&req, asset),
        None => HttpResponse::InternalServerError().finish(),
    }
}

/// Make a one-time pairing link for a store's console device.
///
/// Who may call: admin. The body may be left out. Open the link on the device within
/// `CONSOLE_LINK_SECONDS` (an hour by default): it pairs that one device, which then holds a
/// staff token of this store for `CONSOLE_TOKEN_DAYS`. `clickcollect console-link --store
/// CODE` makes the same link from the command line. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/stores/{code}/console-links", tag = "console", operation_id = "create_console_link",
    params(("code" = String, Path, description = "Store code"), IdempotencyKeyHeader),
    request_body(content = Option<LinkForm>, description = "Optional: a label for the device"),
    responses(
        (status = 201, description = "The link, to open on the device", body = ConsoleLink),
        (status = 404, description = "No such store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A warehouse: consoles are for stores", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/stores/{code}/console-links")]
async fn new_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    code: web::Path<String>,
    body: OptionalJson<LinkForm>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let store = code.into_inner();
    path_code("code", &store)?;
    let lifetime = TimeDelta::seconds(state.settings.console.link_seconds);
    let url = super::console_url(&state.settings);
    let form = body.0;
    let print = fingerprint(&req, &form.label);
    let admin = who.clone();
    let mut answer = idempotency::run(&state, &who, key, print, move |conn| {
        Answer::created(&super::create_link(conn, &admin, &store, &form, lifetime, &url)?)
    })
    .await?;
    // The link is a credential until it is used: no cache keeps it.
    answer.headers_mut().insert(actix_web::http::header::CACHE_CONTROL, "no-store".parse().expect("a header value"));
    Ok(answer)
}

/// Pair a device: trade the code of a pairing link for the device's staff token.
///
/// Public: the code is the credential. A code pairs one device, once; an unknown, used,
/// revoked or expired code answers 404. Takes no `Idempotency-Key`: a replay would have to
/// keep the token to answer with it, and no token is stored; a device whose answer was lost
/// gets a new link.
#[utoipa::path(
    post, path = "/v1/console/pairings", tag = "console", operation_id = "pair_console_device",
    request_body = PairingForm,
    responses(
        (status = 201, description = "The device's token", body = DeviceToken),
        (status = 404, description = "The link is unknown, used, revoked or expired", body = Problem, content_type = "application/problem+json"),
        BadBody,
    )
)]
#[post("/v1/console/pairings")]
async fn new_pairing(state: web::Data<AppState>, body: Json<PairingForm>) -> Result<HttpResponse, ApiError> {
    let code = body.0.code;
    let (keys, settings) = (state.keys.clone(), state.settings.clone());
    let token = state.db(move |conn| super::pair(conn, &code, &keys, &settings)).await?;
    Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(token))
}

/// A store's console devices, newest first: pending links, paired, revoked and expired.
///
/// Who may call: admin; staff of that store.
#[utoipa::path(
    get, path = "/v1/stores/{code}/console-devices", tag = "console", operation_id = "list_console_devices",
    params(("code" = String, Path, description = "Store code"), PageQuery),
    responses(
        (status = 200, description = "One page of the store's devices", body = Paginated<Device>),
        (status = 404, description = "No such store", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/stores/{code}/console-devices")]
async fn devices(
    state: web::Data<AppState>,
    who: Principal,
    code: web::Path<String>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = code.into_inner();
    path_code("code", &store)?;
    who.require_store_staff(&store)?;
    let page = query.0.page()?;
    let (offset, limit) = (page.offset()?, page.limit);
    let (items, more) = state.db(move |conn| read_tx(conn, |conn| super::list(conn, &store, offset, limit))).await?;
    let next_cursor = more.then(|| encode_cursor(&(offset + limit).to_string()));
    Ok(HttpResponse::Ok().json(Paginated { items, next_cursor }))
}

/// Revoke a console device: its token is refused from now on (its pending link too).
///
/// Who may call: admin; the device itself (signing out). Other replicas refuse the device
/// within `CONSOLE_REVOCATION_REFRESH_SECONDS` (5 s by default). Revoking twice is harmless.
/// Accepts `Idempotency-Key`.
#[utoipa::path(
    delete, path = "/v1/stores/{code}/console-devices/{id}", tag = "console", operation_id = "revoke_console_device",
    params(
        ("code" = String, Path, description = "Store code"),
        ("id" = String, Path, description = "Device id"),
        IdempotencyKeyHeader,
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such device at this store", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[delete("/v1/stores/{code}/console-devices/{id}")]
async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = path.into_inner();
    path_code("code", &store)?;
    let itself = who.role == Role::Staff
        && who.store.as_deref() == Some(store.as_str())
        && who.sub.strip_prefix(DEVICE_SUBJECT_PREFIX) == Some(id.as_str());
    if !itself {
        who.require_admin()?;
    }
    let (revoker, signed_out) = (who.clone(), id.clone());
    let answer = idempotency::run(&state, &who, key, fingerprint_bodiless(&req), move |conn| {
        super::revoke(conn, &revoker, &store, &id)?;
        Answer::no_content()
    })
    .await?;
    state.keys.signed_out.add(&signed_out);
    Ok(answer)
}
