//! HTTP for slots: extract, authorize, call, respond.

use actix_web::{get, put, web, HttpRequest, HttpResponse};

use super::model::{SlotList, SlotQuery, SlotRules};
use crate::auth::Principal;
use crate::db::read_tx;
use crate::error::{ApiError, BadBody, Denied, Problem};
use crate::http::idempotency::{self, fingerprint, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::Json;
use crate::http::query::Query;
use crate::http::validate::path_code;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(put_rules).service(list_slots);
}

/// Set a store's pickup and curbside slots: every rule at once (an empty list offers none).
///
/// Who may call: admin. Each rule makes a slot of `minutes` every `minutes` from `from` to
/// `to` (the store's local time) on its `days`, each taking `capacity` bookings; rules of one
/// kind may not overlap on a day. A store that does not offer the rule's fulfilment answers
/// 409. Bookings already made stay. Accepts `Idempotency-Key`.
#[utoipa::path(
    put, path = "/v1/locations/{code}/slots", tag = "slots", operation_id = "put_slot_rules",
    params(("code" = String, Path, description = "Store code"), IdempotencyKeyHeader),
    request_body = SlotRules,
    responses(
        (status = 200, description = "The rules now in force", body = SlotRules),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The store does not offer a rule's fulfilment", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[put("/v1/locations/{code}/slots")]
async fn put_rules(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    code: web::Path<String>,
    body: Json<SlotRules>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    path_code("code", &code)?;
    let (code, rules) = (code.into_inner(), body.0);
    idempotency::run(&state, &who, key, fingerprint(&req, &rules), move |conn| {
        Answer::ok(&super::put_rules(conn, &code, &rules)?)
    })
    .await
}

/// A store's slots on one day, with what each still takes.
///
/// Who may call: anyone (public). `date` is the store's local date (today there by default);
/// slots that have started are left out. Book one by giving its `id` as `slot_id` to a hold
/// or an order.
#[utoipa::path(
    get, path = "/v1/locations/{code}/slots", tag = "slots", operation_id = "list_slots",
    params(("code" = String, Path, description = "Store code"), SlotQuery),
    responses(
        (status = 200, description = "The day's slots, by start", body = SlotList),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid date, fulfilment or code", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/locations/{code}/slots")]
async fn list_slots(
    state: web::Data<AppState>,
    code: web::Path<String>,
    query: Query<SlotQuery>,
) -> Result<HttpResponse, ApiError> {
    path_code("code", &code)?;
    let (code, query) = (code.into_inner(), query.0);
    let now = chrono::Utc::now();
    let list = state.db(move |conn| read_tx(conn, |conn| super::list(conn, &code, &query, now))).await?;
    Ok(HttpResponse::Ok().json(list))
}
