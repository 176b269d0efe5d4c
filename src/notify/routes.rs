//! `GET /v1/orders/{id}/notifications`.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::outbox::{self, Notification};
use crate::auth::Principal;
use crate::db::read_tx;
use crate::error::{ApiError, Denied, Problem};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list);
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
