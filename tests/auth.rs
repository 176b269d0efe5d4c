//! Tokens from an identity provider: RS256 and EdDSA verified with a configured public key,
//! issuer and audience. The key pairs in `tests/fixtures` exist for these tests only.

mod common;

use common::{Backend, TestApp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn sign(alg: Algorithm, private_pem: &str, claims: serde_json::Value) -> String {
    let pem = std::fs::read(format!("{FIXTURES}/{private_pem}")).unwrap();
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
        _ => EncodingKey::from_ed_pem(&pem).unwrap(),
    };
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap()
}

fn admin_claims(iss: &str, aud: &str) -> serde_json::Value {
    json!({"sub": "idp|alice", "role": "admin", "iss": iss, "aud": aud, "exp": chrono::Utc::now().timestamp() + 300})
}

async fn provider_app(backend: Backend, alg: &str, public_pem: &str) -> Option<TestApp> {
    let key_file = format!("{FIXTURES}/{public_pem}");
    TestApp::spawn_with(
        backend,
        &[
            ("JWT_PUBLIC_KEY_FILE", key_file.as_str()),
            ("JWT_ALGORITHM", alg),
            ("JWT_ISSUER", "https://id.example.test/"),
            ("JWT_AUDIENCE", "clickcollect"),
        ],
    )
    .await
}

async fn product_put(app: &TestApp, token: &str) -> u16 {
    let body = json!({"name": "Mug", "price": {"amount_minor": 100, "currency": "EUR"}});
    app.put("/v1/products/MUG", Some(token), &body).await.status
}

async fn eddsa_tokens_from_the_provider_are_accepted_and_checked(backend: Backend) {
    let Some(app) = provider_app(backend, "EdDSA", "ed25519-test-only.pub.pem").await else { return };
    let good =
        sign(Algorithm::EdDSA, "ed25519-test-only.pem", admin_claims("https://id.example.test/", "clickcollect"));
    assert_eq!(product_put(&app, &good).await, 201);
    let wrong_issuer =
        sign(Algorithm::EdDSA, "ed25519-test-only.pem", admin_claims("https://evil.test/", "clickcollect"));
    assert_eq!(product_put(&app, &wrong_issuer).await, 401);
    let wrong_audience =
        sign(Algorithm::EdDSA, "ed25519-test-only.pem", admin_claims("https://id.example.test/", "other"));
    assert_eq!(product_put(&app, &wrong_audience).await, 401);
    // The configured algorithm only: an RS256 token is refused even if well-formed.
    let rsa = sign(Algorithm::RS256, "rsa-test-only.pem", admin_claims("https://id.example.test/", "clickcollect"));
    assert_eq!(product_put(&app, &rsa).await, 401);
    // HS256 with the test secret is still accepted beside the provider (JWT_SECRET is set).
    assert_eq!(product_put(&app, &app.admin()).await, 200);
}

async fn rs256_tokens_from_the_provider_are_accepted(backend: Backend) {
    let Some(app) = provider_app(backend, "RS256", "rsa-test-only.pub.pem").await else { return };
    let good = sign(Algorithm::RS256, "rsa-test-only.pem", admin_claims("https://id.example.test/", "clickcollect"));
    assert_eq!(product_put(&app, &good).await, 201);
    let mut expired = admin_claims("https://id.example.test/", "clickcollect");
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let expired = sign(Algorithm::RS256, "rsa-test-only.pem", expired);
    let reply = app
        .put("/v1/products/MUG", Some(&expired), &json!({"name": "x", "price": {"amount_minor": 1, "currency": "EUR"}}))
        .await;
    reply.assert_problem(401, "unauthorized");
    assert!(reply.body["detail"].as_str().unwrap().contains("expired"));
}

/// A configured issuer and audience are required claims, `nbf` is honoured with the same small
/// leeway as `exp`, and `aud` may be one string or an array (RFC 7519), for each algorithm an
/// identity provider may use.
async fn configured_claims_are_required_and_nbf_and_aud_arrays_honoured(
    backend: Backend,
    alg: Algorithm,
    private: &str,
    public: &str,
) {
    let name = if alg == Algorithm::RS256 { "RS256" } else { "EdDSA" };
    let Some(app) = provider_app(backend, name, public).await else { return };
    let now = chrono::Utc::now().timestamp();
    let with = |changes: serde_json::Value| {
        let mut claims = admin_claims("https://id.example.test/", "clickcollect");
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        sign(alg, private, claims)
    };
    let refused = |token: String, why: &'static str| {
        let app = &app;
        async move {
            let body = json!({"name": "Mug", "price": {"amount_minor": 100, "currency": "EUR"}});
            let reply = app.put("/v1/products/MUG", Some(&token), &body).await;
            reply.assert_problem(401, "unauthorized");
            assert!(reply.body["detail"].as_str().unwrap().contains(why), "{}: {}", why, reply.text);
        }
    };
    refused(with(json!({"iss": null})), "iss claim is required").await;
    refused(with(json!({"aud": null})), "aud claim is required").await;
    refused(with(json!({"nbf": now + 600})), "not valid yet").await;
    refused(with(json!({"aud": ["other", "another"]})), "wrong audience").await;
    assert_eq!(product_put(&app, &with(json!({"nbf": now + 10}))).await, 201, "within the leeway");
    assert_eq!(product_put(&app, &with(json!({"aud": ["other", "clickcollect"]}))).await, 200, "one of an array");
    assert_eq!(product_put(&app, &with(json!({"nbf": now - 60, "aud": "clickcollect"}))).await, 200);
}

async fn rs256_tokens_need_the_configured_claims(backend: Backend) {
    let (private, public) = ("rsa-test-only.pem", "rsa-test-only.pub.pem");
    configured_claims_are_required_and_nbf_and_aud_arrays_honoured(backend, Algorithm::RS256, private, public).await;
}

async fn eddsa_tokens_need_the_configured_claims(backend: Backend) {
    let (private, public) = ("ed25519-test-only.pem", "ed25519-test-only.pub.pem");
    configured_claims_are_required_and_nbf_and_aud_arrays_honoured(backend, Algorithm::EdDSA, private, public).await;
}

on_each_backend!(
    eddsa_tokens_from_the_provider_are_accepted_and_checked,
    rs256_tokens_from_the_provider_are_accepted,
    rs256_tokens_need_the_configured_claims,
    eddsa_tokens_need_the_configured_claims,
);
