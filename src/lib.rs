//! clickcollect: store and online stock as one source of truth, holds for click-and-collect,
//! and order notifications, behind one REST API.
//!
//! `build_app` is the one factory used by the binary and the tests.
//!
//! Where a change goes (the whole map is `docs/architecture.md`):
//! - a new endpoint: a domain function over `&mut DbConn` in its capability's folder, a thin
//!   handler in that folder's `routes.rs` with its `#[utoipa::path]`, a black-box test on both
//!   backends, and the regenerated `openapi/openapi.json`;
//! - a new notification provider: a module in `notify/` that sends through
//!   `notify::providers`, reads its own receipts, and is built in `Channels::build`;
//! - a new event: a variant of `orders::events::Event`, announced through
//!   `OrderSettings::announce`, with its templates in `notify/`;
//! - a new migration: the same folder under both `migrations/` trees and `db/schema.rs` by
//!   hand; `tests/migrations.rs` compares all three column by column.
//!
//! Imports point down: orders never import notify, and domain code, extractors and middleware
//! never take `AppState` (only handlers and `http::idempotency::run` do).

pub mod alerts;
pub mod auth;
pub mod catalog;
pub mod changes;
pub mod cli;
pub mod config;
pub mod console;
pub mod crypto;
pub mod customers;
pub mod db;
pub mod error;
pub mod http;
pub mod limits;
pub mod live;
pub mod notify;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod pass;
pub mod reservations;
pub mod slots;
pub mod state;
pub mod stock;
pub mod sync;
pub mod throttle;
pub mod transfers;

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Compress, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::http::contract::{self, RouteTable};
use crate::state::AppState;

/// Registers every API route on `app` and returns it with the OpenAPI document collected
/// from the same registrations.
pub fn routes_and_document<T>(app: App<T>) -> (App<T>, serde_json::Value)
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    let (app, document) = app
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(ops::routes::configure)
        .configure(catalog::routes::configure)
        .configure(stock::routes::configure)
        .configure(slots::routes::configure)
        .configure(reservations::routes::configure)
        .configure(orders::routes::configure)
        .configure(transfers::routes::configure)
        .configure(customers::routes::configure)
        .configure(alerts::routes::configure)
        .configure(notify::routes::configure)
        .configure(sync::routes::configure)
        .configure(live::routes::configure)
        .configure(console::routes::configure)
        .configure(pass::routes::configure)
        .split_for_parts();
    (app, openapi::finish(document))
}

/// The whole application: routes, middleware, the OpenAPI document held as the contract
/// (undocumented methods and query parameters are refused), problem+json for everything no route takes,
/// `/openapi.json` and Swagger UI at `/docs`.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // What the extractors and middleware below the handlers read, registered on its own so
    // those modules need no AppState (which would tie them to every capability).
    let keys = web::Data::from(state.keys.clone());
    let metrics = web::Data::from(state.metrics.clone());
    let server = web::Data::new(state.settings.server.clone());
    let rate_limiter = web::Data::from(state.rate_limiter.clone());
    let app = App::new()
        .app_data(keys)
        .app_data(rate_limiter)
        .app_data(metrics)
        .app_data(server)
        .app_data(state)
        .app_data(web::PathConfig::default().error_handler(|err, _| ApiError::NotFound(err.to_string()).into()));
    let (app, document) = routes_and_document(app);
    let routes = web::Data::new(RouteTable::from_openapi(&document));
    app.app_data(routes)
        .service(SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/openapi.json", document))
        .service(web::redirect("/docs", "/docs/"))
        .configure(console::page::configure)
        .configure(pass::routes::configure_assets)
        .default_service(web::to(contract::not_matched))
        .wrap(from_fn(contract::enforce))
        .wrap(Compress::default())
        .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
        .wrap(from_fn(http::rate_limit::limit))
        .wrap(from_fn(http::middleware::observe))
}

/// Starts the HTTP server on an already bound listener; call it inside an actix system.
///
/// SIGINT and SIGTERM stop it gracefully: live streams are ended first (they would otherwise
/// hold the stop until its timeout), then requests in flight finish, then the workers stop.
pub fn run_server(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let workers = state.settings.server.workers;
    let hub = state.live.clone();
    // On the server's own runtime, which outlives its workers.
    state.stock.follow(&state.pool, &state.changes);
    let every = std::time::Duration::from_secs(state.settings.console.revocation_refresh_seconds);
    console::follow_revocations(&state.pool, state.keys.clone(), every);
    let state = web::Data::new(state);
    let server = HttpServer::new(move || build_app(state.clone()))
        .listen(listener)?
        .workers(workers)
        .shutdown_timeout(10)
        .disable_signals()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: ending live streams, then finishing requests in flight");
        hub.close();
        handle.stop(true).await;
    });
    Ok(server)
}

/// Resolves on the first SIGINT or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use actix_web::rt::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = actix_web::rt::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = actix_web::rt::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = actix_web::rt::signal::ctrl_c().await;
    }
}
