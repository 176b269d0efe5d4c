//! HTTP for customers and their push subscriptions.

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};

use super::model::{Customer, CustomerForm, PushSubscription, PushSubscriptionForm};
use crate::auth::{Principal, Role};
use crate::db::read_tx;
use crate::error::{ApiError, BadBody, Denied, Problem};
use crate::http::idempotency::{self, fingerprint, Answer, IdempotencyKey, IdempotencyKeyHeader};
use crate::http::json::Json;
use crate::http::validate::path_customer_id;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(put_customer).service(get_customer).service(add_push_subscription);
}

/// Create or replace a customer's profile: contacts, locale, time zone and channel choices.
///
/// Who may call: that customer; admin; integration with `customers:write`. Every channel
/// choice that changes is recorded as a consent given or withdrawn (`consents`). Two first
/// writes racing each other make one profile: one answers 201, the other 200. Accepts
/// `Idempotency-Key`.
#[utoipa::path(
    put, path = "/v1/customers/{id}", tag = "customers", operation_id = "put_customer",
    params(("id" = String, Path, description = "Customer id (the token's `sub` for customers)"), IdempotencyKeyHeader),
    request_body = CustomerForm,
    responses(
        (status = 200, description = "Replaced", body = Customer),
        (status = 201, description = "Created", body = Customer),
        (status = 404, description = "Another customer's profile", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[put("/v1/customers/{id}")]
async fn put_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: Json<CustomerForm>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    path_customer_id("id", &id)?;
    super::require_access(&who, &id, true)?;
    let (form, writer) = (body.0, who.clone());
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        Answer::created_or_ok(super::put(conn, &writer, &id, &form)?)
    })
    .await
}

/// A customer's profile with its consent history.
///
/// Who may call: that customer; admin; integration with `customers:read` or `customers:write`.
#[utoipa::path(
    get, path = "/v1/customers/{id}", tag = "customers", operation_id = "get_customer",
    params(("id" = String, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The profile", body = Customer),
        (status = 404, description = "No such customer, or another customer's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid id", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/customers/{id}")]
async fn get_customer(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    path_customer_id("id", &id)?;
    super::require_access(&who, &id, false)?;
    let customer = state.db(move |conn| read_tx(conn, |conn| super::get(conn, &id))).await?;
    Ok(HttpResponse::Ok().json(customer))
}

/// Register a browser's Web Push subscription for the customer.
///
/// Who may call: that customer. The same endpoint again replaces its keys (200). An endpoint
/// another customer registered moves here only with the same keys (the same browser signed
/// in to another account); other keys are 409. Keys may be padded base64url or not. Accepts
/// `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/customers/{id}/push-subscriptions", tag = "customers", operation_id = "add_push_subscription",
    params(("id" = String, Path, description = "Customer id"), IdempotencyKeyHeader),
    request_body = PushSubscriptionForm,
    responses(
        (status = 200, description = "Keys replaced", body = PushSubscription),
        (status = 201, description = "Added", body = PushSubscription),
        (status = 404, description = "No such customer, or another customer's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint is registered with other keys", body = Problem, content_type = "application/problem+json"),
        Denied,
        BadBody,
    ),
    security(("bearer" = []))
)]
#[post("/v1/customers/{id}/push-subscriptions")]
async fn add_push_subscription(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: Json<PushSubscriptionForm>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    path_customer_id("id", &id)?;
    match who.role {
        Role::Customer if who.sub == id => {}
        Role::Customer => return Err(ApiError::NotFound(format!("no customer {id}"))),
        _ => return Err(ApiError::Forbidden("a push subscription is registered by its own browser".into())),
    }
    let form = body.0;
    idempotency::run(&state, &who, key, fingerprint(&req, &form), move |conn| {
        Answer::created_or_ok(super::subscribe(conn, &id, &form)?)
    })
    .await
}
