//! Stream tickets: browsers' `EventSource` cannot send an `Authorization` header, so a caller
//! trades its bearer token for a ticket that opens streams and nothing else, for a short
//! while, and puts that in the URL (`?ticket=`). A long-lived token never travels in a URL.
//!
//! A ticket is `base64url(claims) "." base64url(HMAC-SHA256(key, claims))`, with a key of
//! its own derived from the server's secret, so every replica reads every other's tickets.
//! It is not a JWT: the bearer extractor refuses it, so a ticket cannot call the API.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::{Principal, Role};
use crate::crypto;
use crate::error::ApiError;

/// What a ticket says: who, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TicketClaims {
    /// Always "stream": what the ticket is for.
    purpose: String,
    sub: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
    exp: i64,
}

const PURPOSE: &str = "stream";

/// A ticket for `who`, valid for `lifetime` from `now`, and when it expires.
pub fn issue(key: &[u8], who: &Principal, lifetime: TimeDelta, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let expires_at = now + lifetime;
    let claims = TicketClaims {
        purpose: PURPOSE.into(),
        sub: who.sub.clone(),
        role: who.role,
        store: who.store.clone(),
        scopes: who.scopes.clone(),
        exp: expires_at.timestamp(),
    };
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let mac = URL_SAFE_NO_PAD.encode(crypto::hmac_sha256(key, &[body.as_bytes()]));
    (format!("{body}.{mac}"), expires_at)
}

/// The caller a ticket stands for; 401 when it is forged, malformed or expired.
pub fn redeem(key: &[u8], ticket: &str, now: DateTime<Utc>) -> Result<Principal, ApiError> {
    let refused = |why: &str| ApiError::Unauthorized(format!("invalid stream ticket: {why}"));
    let (body, mac) = ticket.split_once('.').ok_or_else(|| refused("malformed"))?;
    if !crypto::same(mac, &URL_SAFE_NO_PAD.encode(crypto::hmac_sha256(key, &[body.as_bytes()]))) {
        return Err(refused("bad signature"));
    }
    let claims: TicketClaims = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| refused("malformed"))?;
    if claims.purpose != PURPOSE {
        return Err(refused("not a stream ticket"));
    }
    if claims.exp <= now.timestamp() {
        return Err(refused("expired; ask for a new one"));
    }
    Ok(Principal { sub: claims.sub, role: claims.role, store: claims.store, scopes: claims.scopes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff() -> Principal {
        Principal { sub: "ana".into(), role: Role::Staff, store: Some("S1".into()), scopes: vec![] }
    }

    #[test]
    fn a_ticket_stands_for_its_caller_until_it_expires() {
        let key = b"0123456789abcdef0123456789abcdef";
        let now = Utc::now();
        let (ticket, expires_at) = issue(key, &staff(), TimeDelta::seconds(60), now);
        assert_eq!(expires_at, now + TimeDelta::seconds(60));
        let who = redeem(key, &ticket, now).unwrap();
        assert_eq!((who.sub.as_str(), who.role, who.store.as_deref()), ("ana", Role::Staff, Some("S1")));
        assert!(redeem(key, &ticket, now + TimeDelta::seconds(61)).is_err(), "expired");
        assert!(redeem(b"another key, another server....", &ticket, now).is_err(), "forged");
        let (body, mac) = ticket.split_once('.').unwrap();
        let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        claims["store"] = "S2".into();
        let edited = format!("{}.{mac}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        assert!(redeem(key, &edited, now).is_err(), "edited claims");
        assert!(redeem(key, "not-a-ticket", now).is_err());
    }
}
