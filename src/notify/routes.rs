//! `GET /v1/orders/{id}/notifications`.

use actix_web::{get, post, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::outbox::{self, Notification};
use crate::auth::Principal;
use crate::db::read_tx;
use crate::error::{ApiError, Denied, Problem};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(resend);
}

#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<Notification>,
}

/// The notifications of an order, oldest first, with their delivery status.
///
/// Who may call: the order's customer; staff of its store; admin; integration with
/// `orders:read`. Others get 404.
#[utoipa::path(
    get, path = "/v1/orders/{id}/notifications", tag = "notifications",
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = NotificationList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/orders/{id}/notifications")]
async fn list(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let items = state
        .db(move |conn| {
            read_tx(conn, |conn| {
                let order = crate::orders::find_row(conn, &id)?;
                crate::orders::can_view(&who, &order)?;
                outbox::list(conn, &id)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(NotificationList { items }))
}

/// Send a failed (or suppressed) notification again, now, with a fresh retry window.
///
/// Who may call: admin. Answers the order's notifications.
#[utoipa::path(
    post, path = "/v1/notifications/{id}/resend", tag = "notifications",
    params(("id" = String, Path, description = "Notification id")),
    responses(
        (status = 200, body = NotificationList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[post("/v1/notifications/{id}/resend")]
async fn resend(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let id = id.into_inner();
    let items = state
        .db(move |conn| {
            crate::db::write_tx(conn, |conn| {
                outbox::resend(conn, &id)?;
                let order = outbox::order_of(conn, &id)?;
                outbox::list(conn, &order)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(NotificationList { items }))
}
