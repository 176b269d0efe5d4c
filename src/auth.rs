//! Who is calling: JWT bearer tokens (HS256 with a shared secret, or RS256/EdDSA from an
//! identity provider's public key), the `Principal` extractor, and the access rules that every
//! handler states before it does anything. Token minting for `clickcollect token` lives here too.

use std::future::{ready, Ready};
use std::path::Path;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{JwtSettings, PublicKeyAlgorithm, Secret, Settings};
use crate::db::DatabaseTarget;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Staff,
    Customer,
    Integration,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "staff" => Ok(Role::Staff),
            "customer" => Ok(Role::Customer),
            "integration" => Ok(Role::Integration),
            other => Err(format!("unknown role {other:?}: use admin, staff, customer or integration")),
        }
    }
}

/// The claims clickcollect reads. `store` is required for staff, `scopes` matter for
/// integrations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Not before (RFC 7519): the token is refused until then, give or take the leeway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// `aud` is one string or an array of them (RFC 7519, section 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub sub: String,
    pub role: Role,
    pub store: Option<String>,
    pub scopes: Vec<String>,
}

impl Principal {
    /// How the caller appears in the stock ledger and in timelines.
    pub fn actor(&self) -> String {
        let role = match self.role {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Customer => "customer",
            Role::Integration => "integration",
        };
        format!("{role}:{}", self.sub)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::Forbidden("this needs the admin role".into())),
        }
    }

    /// Admins, or integrations holding `scope`.
    pub fn require_admin_or_scope(&self, scope: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Integration if self.has_scope(scope) => Ok(()),
            Role::Integration => Err(ApiError::Forbidden(format!("this needs the {scope} scope"))),
            _ => Err(ApiError::Forbidden(format!("this needs the admin role or the {scope} scope"))),
        }
    }

    /// Admins, and staff of `store` (other stores' staff and everyone else: 403).
    pub fn require_store_staff(&self, store: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Staff if self.store.as_deref() == Some(store) => Ok(()),
            Role::Staff => Err(ApiError::Forbidden(format!("staff may only act on their own store, not {store}"))),
            _ => Err(ApiError::Forbidden("this is for store staff".into())),
        }
    }

    /// Admins, integrations holding `scope`, and staff of `location` (other stores' staff: 403).
    pub fn require_location_access(&self, location: &str, scope: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Staff if self.store.as_deref() == Some(location) => Ok(()),
            Role::Staff => Err(ApiError::Forbidden(format!("staff may only act on their own store, not {location}"))),
            _ => self.require_admin_or_scope(scope),
        }
    }
}

/// The subject of a store console device's token: `device:<id>` (see `console`).
pub const DEVICE_SUBJECT_PREFIX: &str = "device:";

/// Console devices signed out before their tokens expire, by device id. Every replica reads
/// them from the database every few seconds; the replica that revokes a device adds it at
/// once. A token whose subject is such a device is refused like an expired one.
#[derive(Default)]
pub struct SignedOut {
    devices: std::sync::RwLock<std::collections::HashSet<String>>,
}

impl SignedOut {
    /// Adds what the database says. Nothing is taken away: a revoked device stays refused
    /// (its token expires anyway), and a read begun before a revocation here cannot undo it.
    pub fn extend(&self, devices: std::collections::HashSet<String>) {
        self.devices.write().unwrap_or_else(|e| e.into_inner()).extend(devices);
    }

    pub fn add(&self, device: &str) {
        self.devices.write().unwrap_or_else(|e| e.into_inner()).insert(device.to_string());
    }

    /// Whether `who` is a console device that was signed out.
    pub fn refuses(&self, who: &Principal) -> bool {
        let Some(device) = who.sub.strip_prefix(DEVICE_SUBJECT_PREFIX) else { return false };
        self.devices.read().unwrap_or_else(|e| e.into_inner()).contains(device)
    }

    /// 401 for a signed-out device, else the caller unchanged.
    pub fn check(&self, who: Principal) -> Result<Principal, ApiError> {
        if self.refuses(&who) {
            return Err(ApiError::Unauthorized("this device was signed out: pair it again".into()));
        }
        Ok(who)
    }
}

/// Verification and signing keys, resolved once at start-up.
pub struct Keys {
    /// Console devices whose tokens are no longer accepted.
    pub signed_out: SignedOut,
    /// The key pickup codes are derived from (see `orders::pickup`).
    pub pickup_key: Vec<u8>,
    hs256: Option<(EncodingKey, DecodingKey)>,
    public: Option<(Algorithm, DecodingKey)>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl Keys {
    /// Builds the keys from the settings. On SQLite without `JWT_SECRET`, a secret is made
    /// once and kept beside the database file, so `token` and `serve` agree across restarts.
    pub fn from_settings(settings: &Settings) -> Result<Keys, String> {
        let secret = match (&settings.jwt.secret, &settings.database) {
            (Some(secret), _) => Some(secret.clone()),
            (None, DatabaseTarget::Sqlite { path }) if settings.jwt.public_key.is_none() => {
                Some(load_or_create_secret(&secret_path_for(path))?)
            }
            _ => None,
        };
        let mut keys = Self::new(&settings.jwt, secret.clone())?;
        // `new` derived the pickup key from the HS256 secret; a dedicated secret takes over.
        match (&settings.orders.pickup_code_secret, &secret) {
            (Some(s), _) => keys.pickup_key = derive(s.expose().as_bytes(), PICKUP_KEY_PURPOSE),
            (None, Some(_)) => {}
            (None, None) => {
                return Err("PICKUP_CODE_SECRET: required when tokens are verified with a public key only".into())
            }
        }
        Ok(keys)
    }

    pub fn new(jwt: &JwtSettings, secret: Option<Secret>) -> Result<Keys, String> {
        let pickup_key = match &secret {
            Some(s) => derive(s.expose().as_bytes(), PICKUP_KEY_PURPOSE),
            None => {
                let mut random = vec![0u8; 32];
                rand::rng().fill_bytes(&mut random);
                random
            }
        };
        let hs256 = secret.map(|s| {
            (EncodingKey::from_secret(s.expose().as_bytes()), DecodingKey::from_secret(s.expose().as_bytes()))
        });
        let public = match &jwt.public_key {
            None => None,
            Some((PublicKeyAlgorithm::Rs256, pem)) => Some((
                Algorithm::RS256,
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| format!("JWT_PUBLIC_KEY: not an RSA key: {e}"))?,
            )),
            Some((PublicKeyAlgorithm::EdDsa, pem)) => Some((
                Algorithm::EdDSA,
                DecodingKey::from_ed_pem(pem.as_bytes())
                    .map_err(|e| format!("JWT_PUBLIC_KEY: not an Ed25519 key: {e}"))?,
            )),
        };
        Ok(Keys {
            signed_out: SignedOut::default(),
            pickup_key,
            hs256,
            public,
            issuer: jwt.issuer.clone(),
            audience: jwt.audience.clone(),
        })
    }

    /// Checks signature, expiry, issuer and audience, then the claims' own consistency.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let invalid = |why: &str| ApiError::Unauthorized(format!("invalid bearer token: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("not a JWT"))?;
        let key = match (header.alg, &self.hs256, &self.public) {
            (Algorithm::HS256, Some((_, key)), _) => key,
            (alg, _, Some((expected, key))) if alg == *expected => key,
            _ => return Err(invalid("unexpected signing algorithm")),
        };
        let mut validation = Validation::new(header.alg);
        // Clocks drift: expiry and not-before get the same small allowance.
        validation.leeway = 30;
        validation.validate_nbf = true;
        // A configured issuer or audience is required, not merely checked when present: a
        // token without the claim was not made for this service.
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => invalid("expired"),
                ErrorKind::ImmatureSignature => invalid("not valid yet (nbf)"),
                ErrorKind::InvalidIssuer => invalid("wrong issuer"),
                ErrorKind::InvalidAudience => invalid("wrong audience"),
                ErrorKind::MissingRequiredClaim(claim) => invalid(&format!("the {claim} claim is required")),
                ErrorKind::InvalidSignature => invalid("bad signature"),
                _ => invalid("malformed claims"),
            }
        })?;
        let claims = data.claims;
        if claims.sub.is_empty() {
            return Err(invalid("empty sub"));
        }
        if claims.role == Role::Staff && claims.store.is_none() {
            return Err(invalid("a staff token needs a store claim"));
        }
        self.signed_out.check(Principal {
            sub: claims.sub,
            role: claims.role,
            store: claims.store,
            scopes: claims.scopes,
        })
    }

    /// The key stream tickets are signed with: derived from the pickup key (which every
    /// replica shares, whichever way tokens are verified) for this one purpose.
    pub fn stream_ticket_key(&self) -> Vec<u8> {
        derive(&self.pickup_key, b"clickcollect stream tickets")
    }

    /// Signs claims with the HS256 secret (the only key clickcollect holds privately).
    pub fn mint(&self, claims: &Claims) -> Result<String, String> {
        let (encoding, _) = self
            .hs256
            .as_ref()
            .ok_or("no signing key: set JWT_SECRET (tokens from an identity provider are minted there)")?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, encoding).map_err(|e| e.to_string())
    }
}

const PICKUP_KEY_PURPOSE: &[u8] = b"clickcollect pickup codes";

/// A key for one purpose, derived from a secret shared with another, so the two never coincide.
fn derive(secret: &[u8], purpose: &[u8]) -> Vec<u8> {
    crate::crypto::hmac_sha256(secret, &[purpose]).to_vec()
}

/// Where the generated development secret lives: beside the SQLite file.
pub fn secret_path_for(sqlite_path: &str) -> std::path::PathBuf {
    let mut name = Path::new(sqlite_path).as_os_str().to_owned();
    name.push(".jwt-secret");
    name.into()
}

fn load_or_create_secret(path: &Path) -> Result<Secret, String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_string();
        if existing.len() >= 32 {
            return Ok(Secret::new(existing));
        }
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private_file(path, &secret).map_err(|e| format!("cannot write the JWT secret to {}: {e}", path.display()))?;
    Ok(Secret::new(secret))
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

/// Extracts the caller from `Authorization: Bearer <JWT>`; 401 when missing or invalid.
impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(req))
    }
}

impl Principal {
    /// The caller of a request from its `Authorization` header, outside extraction.
    pub fn from_request_sync(req: &HttpRequest) -> Result<Principal, ApiError> {
        principal_of(req)
    }
}

fn principal_of(req: &HttpRequest) -> Result<Principal, ApiError> {
    // The rate limiter verified this request's token already (`http::rate_limit`).
    if let Some(who) = actix_web::HttpMessage::extensions(req).get::<Principal>() {
        return Ok(who.clone());
    }
    // The keys are registered on their own (`build_app`), so this module needs no AppState.
    let keys = req.app_data::<web::Data<Keys>>().ok_or_else(|| ApiError::Internal("the keys are missing".into()))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
    let value = value.to_str().map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::Unauthorized("expected 'Authorization: Bearer <token>'".into()))?;
    keys.verify(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        let jwt = JwtSettings { secret: None, public_key: None, issuer: None, audience: None };
        Keys::new(&jwt, Some(Secret::new("x".repeat(40)))).unwrap()
    }

    fn claims(role: Role, store: Option<&str>, exp_offset: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            role,
            store: store.map(String::from),
            scopes: vec!["stock:read".into()],
            exp: chrono::Utc::now().timestamp() + exp_offset,
            iat: None,
            iss: None,
            aud: None,
            nbf: None,
        }
    }

    #[test]
    fn a_minted_token_verifies_and_keeps_its_claims() {
        let keys = keys();
        let token = keys.mint(&claims(Role::Staff, Some("S1"), 60)).unwrap();
        let who = keys.verify(&token).unwrap();
        assert_eq!(who.role, Role::Staff);
        assert_eq!(who.store.as_deref(), Some("S1"));
        assert!(who.require_location_access("S1", "stock:write").is_ok());
        assert!(who.require_location_access("S2", "stock:write").is_err());
    }

    #[test]
    fn expired_tampered_and_storeless_staff_tokens_are_refused() {
        let keys = keys();
        let expired = keys.mint(&claims(Role::Admin, None, -3600)).unwrap();
        assert!(matches!(keys.verify(&expired), Err(ApiError::Unauthorized(_))));
        let mut tampered = keys.mint(&claims(Role::Customer, None, 60)).unwrap();
        tampered.push('x');
        assert!(matches!(keys.verify(&tampered), Err(ApiError::Unauthorized(_))));
        let storeless = keys.mint(&claims(Role::Staff, None, 60)).unwrap();
        assert!(matches!(keys.verify(&storeless), Err(ApiError::Unauthorized(_))));
    }

    #[test]
    fn integrations_need_the_scope() {
        let who =
            Principal { sub: "erp".into(), role: Role::Integration, store: None, scopes: vec!["stock:read".into()] };
        assert!(who.require_admin_or_scope("stock:read").is_ok());
        assert!(who.require_admin_or_scope("stock:write").is_err());
        assert!(who.require_admin().is_err());
    }
}
