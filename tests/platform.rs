//! The platform every capability stands on: problem+json for everything that goes wrong,
//! health, readiness, metrics, request ids, the OpenAPI document and Swagger UI.

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::json;

async fn unknown_routes_are_404_problems(app: TestApp) {
    app.get("/v2/nothing", None).await.assert_problem(404, "not-found");
    app.get("/v1/locations/S1/extra/segments", None).await.assert_problem(404, "not-found");
}

async fn wrong_methods_are_405_with_allow(app: TestApp) {
    let reply = app.request(Method::DELETE, "/v1/products/SKU-1").send().await;
    reply.assert_problem(405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("GET, PUT"));
    let reply = app.request(Method::GET, "/v1/stock/adjustments").send().await;
    reply.assert_problem(405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
}

async fn oversized_bodies_are_413_and_change_nothing(app: TestApp) {
    let admin = app.admin();
    let huge = format!(r#"{{"name":"{}","price":{{"amount_minor":1,"currency":"EUR"}}}}"#, "x".repeat(70 * 1024));
    let reply = app.request(Method::PUT, "/v1/products/BIG").bearer(&admin).raw("application/json", huge).send().await;
    reply.assert_problem(413, "payload-too-large");
    app.get("/v1/products/BIG", None).await.assert_problem(404, "not-found");
}

async fn malformed_json_is_400_and_other_media_types_415(app: TestApp) {
    let admin = app.admin();
    let reply =
        app.request(Method::PUT, "/v1/products/P1").bearer(&admin).raw("application/json", "{\"name\": ").send().await;
    reply.assert_problem(400, "malformed-json");
    let reply = app.request(Method::PUT, "/v1/products/P1").bearer(&admin).raw("text/plain", "name=x").send().await;
    reply.assert_problem(415, "unsupported-media-type");
    app.get("/v1/products/P1", None).await.assert_problem(404, "not-found");
}

async fn health_ready_and_request_ids(app: TestApp) {
    let reply = app.get("/health", None).await;
    assert_eq!(reply.body, json!({"status": "ok"}));
    assert!(reply.header("x-request-id").is_some_and(|id| id.len() >= 16));
    let reply = app.request(Method::GET, "/ready").header("x-request-id", "trace-42").send().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["status"], "ready");
    assert_eq!(reply.body["database"], if app.backend == common::Backend::Postgres { "postgres" } else { "sqlite" });
    assert_eq!(reply.header("x-request-id"), Some("trace-42"));
}

async fn metrics_need_a_right_and_count_requests_by_route(app: TestApp) {
    app.get("/v1/products/NOPE", None).await;
    app.get("/metrics", None).await.assert_problem(401, "unauthorized");
    app.get("/metrics", Some(&app.customer("c1"))).await.assert_problem(403, "forbidden");
    app.get("/metrics", Some(&app.integration(&["stock:read"]))).await.assert_problem(403, "forbidden");
    let reply = app.get("/metrics", Some(&app.integration(&["metrics:read"]))).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.text.contains(r#"http_requests_total{method="GET",route="/v1/products/{sku}",status="404"} 1"#),
        "{}",
        reply.text
    );
    assert!(reply
        .text
        .contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/products/{sku}\",le=\"+Inf\"} 1"));
    assert!(reply.text.contains("db_pool_max_connections 8"));
}

async fn swagger_ui_and_the_document_are_served(app: TestApp) {
    let reply = app.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["openapi"], "3.1.0");
    assert!(reply.body["paths"]["/v1/stock/{location}/{sku}"]["put"].is_object());
    let reply = app.get("/docs/", None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text.contains("swagger-ui"), "the Swagger UI page: {}", &reply.text[..reply.text.len().min(300)]);
    let reply = app.get("/docs/swagger-ui.css", None).await;
    assert_eq!(reply.status, 200, "assets are vendored into the binary");
    let reply = app.get("/docs", None).await;
    assert!(matches!(reply.status, 301 | 302 | 307 | 308));
}

async fn tokens_are_checked(app: TestApp) {
    let body = json!({"name": "X", "price": {"amount_minor": 1, "currency": "EUR"}});
    app.put("/v1/products/P1", None, &body).await.assert_problem(401, "unauthorized");
    let reply = app.put("/v1/products/P1", Some("not-a-jwt"), &body).await;
    reply.assert_problem(401, "unauthorized");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    let reply = app
        .request(Method::PUT, "/v1/products/P1")
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .json(&body)
        .send()
        .await;
    reply.assert_problem(401, "unauthorized");
    // Signed with another key.
    let other = clickcollect::auth::Keys::new(
        &clickcollect::config::JwtSettings { secret: None, public_key: None, issuer: None, audience: None },
        Some(clickcollect::config::Secret::new("another-secret-of-enough-length-0123456789")),
    )
    .unwrap();
    let forged = other
        .mint(&clickcollect::auth::Claims {
            sub: "x".into(),
            role: clickcollect::auth::Role::Admin,
            store: None,
            scopes: vec![],
            exp: chrono::Utc::now().timestamp() + 60,
            iat: None,
            iss: None,
            aud: None,
            nbf: None,
        })
        .unwrap();
    app.put("/v1/products/P1", Some(&forged), &body).await.assert_problem(401, "unauthorized");
    app.get("/v1/products/P1", None).await.assert_problem(404, "not-found");
}

/// A panic inside database work is a bug: a logged 500, not a 503 that tells clients to
/// retry a server that is not shutting down; the pool and the next request are unharmed.
async fn a_panic_in_database_work_is_a_500(app: TestApp) {
    let answer = app.state.db(|_conn| -> Result<(), clickcollect::error::ApiError> { panic!("a bug") }).await;
    let error = answer.unwrap_err();
    let problem = error.problem();
    assert_eq!(problem.status, 500);
    assert!(problem.problem_type.ends_with("/internal"), "{}", problem.problem_type);
    assert!(error.to_string().contains("a bug"), "the log line names the panic: {error}");
    let ok = app.state.db(clickcollect::db::ping).await;
    assert!(ok.is_ok(), "the next database work runs: {ok:?}");
}

on_both_backends!(
    a_panic_in_database_work_is_a_500,
    unknown_routes_are_404_problems,
    wrong_methods_are_405_with_allow,
    oversized_bodies_are_413_and_change_nothing,
    malformed_json_is_400_and_other_media_types_415,
    health_ready_and_request_ids,
    metrics_need_a_right_and_count_requests_by_route,
    swagger_ui_and_the_document_are_served,
    tokens_are_checked,
);

/// The committed `openapi/openapi.json` must be exactly what the code generates.
#[test]
fn committed_openapi_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let generated = clickcollect::openapi::document_json();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date with the code. Regenerate it with\n\n    \
         cargo run -- openapi > openapi/openapi.json\n\n(or UPDATE_OPENAPI=1 cargo test --test platform) and commit it."
    );
}

/// With the database gone, `/ready` says 503 (problem+json) while `/health` stays 200.
#[actix_web::test]
async fn ready_is_503_when_the_database_is_gone() {
    let Some(app) = TestApp::spawn(common::Backend::Postgres).await else {
        return;
    };
    assert_eq!(app.get("/ready", None).await.status, 200);
    app.drop_database();
    app.get("/ready", None).await.assert_problem(503, "unavailable");
    assert_eq!(app.get("/health", None).await.status, 200);
}

/// What generators need of the document: a description on every response, one operationId
/// per operation and no two alike, the pickup pass's JSON and SVG answers side by side, every
/// extension member of `Problem` declared, list items by reference, and the
/// `Idempotency-Key` header on every write.
#[test]
fn the_document_is_usable_by_generators() {
    let doc = clickcollect::openapi::document();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            for (status, response) in operation["responses"].as_object().unwrap() {
                let description = response["description"].as_str().unwrap_or("");
                assert!(!description.is_empty(), "{method} {path} {status} has no description");
            }
            let writes = matches!(method.as_str(), "put" | "post" | "delete");
            let keyed =
                operation["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == "Idempotency-Key");
            // The cart check, the ready-by promise and a pickup code's look-up only read (a POST
            // for the body); the pass page's "I'm here" is a browser's form, which sends no
            // headers of its own (saying it twice only says it again);
            // receipts are the providers'; a stream ticket is minted, nothing is stored; a
            // pairing would have to store the token it answers with to replay it; a mail
            // client's one-click unsubscribe sends none either (and saying it twice changes
            // nothing more).
            let reads = [
                "/v1/availability/check",
                "/v1/promise",
                "/pass/{token}/arrival",
                "/unsubscribe/{token}",
                "/v1/notifications/callbacks/{provider}",
                "/v1/stream-tickets",
                "/v1/stores/{code}/pickups/lookup",
                "/v1/console/pairings",
            ]
            .contains(&path.as_str());
            if writes && !reads {
                assert!(keyed, "{method} {path} takes no Idempotency-Key");
            }
        }
    }
    let pass = &doc["paths"]["/v1/orders/{id}/pickup-pass"]["get"]["responses"]["200"]["content"];
    assert_eq!(pass["application/json"]["schema"]["$ref"], "#/components/schemas/PickupPass");
    assert_eq!(pass["image/svg+xml"]["schema"]["type"], "string");
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    for member in [
        "errors",
        "errors_total",
        "shortfalls",
        "lines",
        "expected_on_hand",
        "on_hand",
        "limit_bytes",
        "limit",
        "max",
        "retry_after",
        "store",
        "allowed",
    ] {
        assert!(problem.get(member).is_some(), "Problem does not declare {member}");
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if let Some(item) = name.strip_prefix("Paginated_") {
            assert_eq!(
                schema["properties"]["items"]["items"]["$ref"],
                format!("#/components/schemas/{item}"),
                "{name}"
            );
        }
    }
    let created = &doc["paths"]["/v1/orders"]["post"]["responses"]["201"]["links"];
    assert_eq!(created["StartPicking"]["operationId"], "start_picking");
    assert_eq!(created["StartPicking"]["parameters"]["id"], "$response.body#/id");
    let code = &doc["paths"]["/v1/locations/{code}"]["get"]["parameters"][0]["schema"]["pattern"];
    assert_eq!(code, clickcollect::http::formats::CODE);
}

/// `read_tx` is one snapshot on PostgreSQL: a commit between two of its reads is not seen by
/// the second, and it refuses to write.
#[actix_web::test]
async fn read_tx_is_one_read_only_snapshot_on_postgres() {
    use clickcollect::db::schema::products;
    use diesel::prelude::*;
    let Some(app) = TestApp::spawn(common::Backend::Postgres).await else { return };
    let (mut reader, mut writer) = (app.conn(), app.conn());
    let now = chrono::Utc::now().naive_utc();
    let (before, after) = clickcollect::db::read_tx(&mut reader, |conn| {
        let before: i64 = products::table.count().get_result(conn)?;
        diesel::insert_into(products::table)
            .values((
                products::sku.eq("SNAP"),
                products::name.eq("committed meanwhile"),
                products::price_amount_minor.eq(100i64),
                products::price_currency.eq("EUR"),
                products::created_at.eq(now),
                products::updated_at.eq(now),
            ))
            .execute(&mut *writer)?;
        let after: i64 = products::table.count().get_result(conn)?;
        Ok((before, after))
    })
    .unwrap();
    assert_eq!(before, after, "the second read saw a row committed after the first");
    let seen_later: i64 = products::table.count().get_result(&mut *reader).unwrap();
    assert_eq!(seen_later, before + 1);
    let write = clickcollect::db::read_tx(&mut reader, |conn| {
        diesel::delete(products::table).execute(conn)?;
        Ok(())
    });
    assert!(write.is_err(), "a write inside read_tx must fail");
    let kept: i64 = products::table.count().get_result(&mut *reader).unwrap();
    assert_eq!(kept, before + 1);
}
