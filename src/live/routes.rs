//! HTTP for live events: stream tickets and the two server-sent event streams.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::events::{self, LiveEvent, Topic};
use super::hub::Opener;
use super::{stream, tickets};
use crate::auth::{Principal, Role};
use crate::changes::{self, Cursor};
use crate::db::read_tx;
use crate::error::{ApiError, Denied, Problem};
use crate::http::query::Query;
use crate::http::validate::path_code;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(new_ticket).service(store_events).service(availability_events);
}

/// `POST /v1/stream-tickets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTicket {
    /// Pass as `?ticket=` to open a stream; it opens streams and nothing else.
    pub ticket: String,
    /// After this the ticket opens nothing (streams it opened go on).
    pub expires_at: DateTime<Utc>,
}

/// A short-lived ticket to open event streams, for browsers (`EventSource` cannot send an
/// `Authorization` header).
///
/// Who may call: any authenticated caller; the ticket opens what the caller's token would.
#[utoipa::path(
    post, path = "/v1/stream-tickets", tag = "events", operation_id = "create_stream_ticket",
    responses(
        (status = 201, description = "A ticket for the caller", body = StreamTicket),
        (status = 401, description = "No token, or a token that is expired, forged or malformed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/stream-tickets")]
async fn new_ticket(state: web::Data<AppState>, who: Principal) -> Result<HttpResponse, ApiError> {
    let lifetime = TimeDelta::seconds(state.settings.sync.stream_ticket_seconds);
    let (ticket, expires_at) = tickets::issue(&state.keys.stream_ticket_key(), &who, lifetime, Utc::now());
    Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(StreamTicket { ticket, expires_at }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// A stream ticket (`POST /v1/stream-tickets`), for clients that cannot send
    /// `Authorization` (browsers' `EventSource`).
    pub ticket: Option<String>,
}

/// The `Last-Event-ID` header as the streams document it.
#[derive(IntoParams)]
#[into_params(names("Last-Event-ID"), parameter_in = Header)]
#[allow(dead_code)]
pub struct LastEventIdHeader(
    /// The `id:` of the last event received: the stream first replays what the change log
    /// holds after it. Browsers send it by themselves when they reconnect.
    #[param(pattern = "^(-1|[0-9]{1,18})\\.[0-9]{1,18}$")]
    Option<String>,
);

fn last_event_id(req: &HttpRequest) -> Result<Option<Cursor>, ApiError> {
    match req.headers().get("Last-Event-ID") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(Cursor::parse)
            .map(Some)
            .ok_or_else(|| ApiError::validation("Last-Event-ID", "is not an event id this server gave out")),
    }
}

/// The caller of a stream: a ticket in the URL, else the bearer token.
fn stream_caller(state: &AppState, req: &HttpRequest, ticket: Option<&str>) -> Result<Principal, ApiError> {
    match ticket {
        Some(ticket) => {
            state.keys.signed_out.check(tickets::redeem(&state.keys.stream_ticket_key(), ticket, Utc::now())?)
        }
        None => Principal::from_request_sync(req),
    }
}

/// Opens a stream of `topic`: the events after `resume` first (or `opening`, when given and
/// not resuming), then live ones.
async fn open(
    state: &AppState,
    topic: Topic,
    opener: Opener,
    resume: Option<Cursor>,
    opening: bool,
) -> Result<HttpResponse, ApiError> {
    let subscription = state.live.subscribe(topic.clone(), opener, &state.pool, &state.changes).await?;
    let through = subscription.joined_at;
    let missed: Vec<LiveEvent> = match (resume, &topic) {
        (Some(after), _) => {
            state
                .db(move |conn| {
                    read_tx(conn, |conn| {
                        // What was pruned cannot be replayed: the stream resumes from what is kept.
                        let after = after.max(changes::pruned_to(conn)?);
                        events::replay(conn, &topic, after, through)
                    })
                })
                .await?
        }
        (None, Topic::Sku(sku)) if opening => {
            let sku = sku.clone();
            vec![state.db(move |conn| read_tx(conn, |conn| events::availability_event(conn, &sku, through))).await?]
        }
        (None, _) => Vec::new(),
    };
    let heartbeat = std::time::Duration::from_secs(state.settings.sync.stream_heartbeat_seconds);
    let body = stream::body(subscription, missed, heartbeat, state.live.closing());
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        // Never compressed: a compressor buffers, and events must leave as they happen.
        .insert_header(("Content-Encoding", "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// A store's live orders: `order.created`, `order.status`, `order.arrival`, `order.at_risk`.
///
/// Who may call: staff of that store; admin. With a bearer token or `?ticket=`.
#[utoipa::path(
    get, path = "/v1/stores/{code}/events", tag = "events", operation_id = "store_events",
    params(("code" = String, Path, description = "Store code"), TicketQuery, LastEventIdHeader),
    responses(
        (status = 200, description = "A `text/event-stream` of the store's order events. Each event has `id:` (resume \
            with `Last-Event-ID`), `event:` and `data:` (JSON: `order_id`, `number`, `location`, `status`, \
            `fulfilment`, `entry` (the timeline entry), `at`); a comment line every few seconds keeps it open",
            body = String, content_type = "text/event-stream"),
        (status = 404, description = "No such store", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid code or `Last-Event-ID`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The caller has as many streams open as it may (`rate-limited`)", body = Problem, content_type = "application/problem+json"),
        Denied,
    ),
    security(("bearer" = []))
)]
#[get("/v1/stores/{code}/events")]
async fn store_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
    query: Query<TicketQuery>,
) -> Result<HttpResponse, ApiError> {
    let who = stream_caller(&state, &req, query.ticket.as_deref())?;
    let code = code.into_inner();
    path_code("code", &code)?;
    let allowed = match who.role {
        Role::Admin => true,
        Role::Staff => who.store.as_deref() == Some(code.as_str()),
        Role::Customer | Role::Integration => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden("only that store's staff and admins follow its events".into()));
    }
    let resume = last_event_id(&req)?;
    let store = code.clone();
    state.db(move |conn| read_tx(conn, |conn| crate::catalog::find_location(conn, &store).map(|_| ()))).await?;
    open(&state, Topic::Store(code), Opener::Caller(who.actor()), resume, false).await
}

/// A SKU's live availability per store and online (`availability` events, the body of
/// `GET /v1/availability/{sku}`), at most a few a second.
///
/// Who may call: anyone. The first event is the availability now.
#[utoipa::path(
    get, path = "/v1/availability/{sku}/events", tag = "events", operation_id = "availability_events",
    params(("sku" = String, Path, description = "SKU"), LastEventIdHeader),
    responses(
        (status = 200, description = "A `text/event-stream` of `availability` events (`data:` as the body of \
            `GET /v1/availability/{sku}`), the first one at once; `id:` resumes with `Last-Event-ID`",
            body = String, content_type = "text/event-stream"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid SKU or `Last-Event-ID`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This address has as many public streams open as it may (`rate-limited`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/availability/{sku}/events")]
async fn availability_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    sku: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sku = sku.into_inner();
    path_code("sku", &sku)?;
    let resume = last_event_id(&req)?;
    let product = sku.clone();
    state.db(move |conn| read_tx(conn, |conn| crate::catalog::find_product(conn, &product).map(|_| ()))).await?;
    let address = req.peer_addr().map(|peer| peer.ip().to_string()).unwrap_or_else(|| "unknown".into());
    open(&state, Topic::Sku(sku), Opener::Address(address), resume, true).await
}
