//! The Web Push channel: messages encrypted for the browser that subscribed (RFC 8291,
//! `aes128gcm`) and sent to its push service with a VAPID identity (RFC 8292).
//!
//! The push service only relays ciphertext; it learns neither the pickup code nor the order.
//! A push service answering 404 or 410 says the subscription is gone for good: the sender
//! deletes it. Push services give no delivery receipts, so the message carries a receipt
//! token the service worker can post back (`POST /v1/notifications/callbacks/push`) when it
//! shows the notification and when the customer opens it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand::RngCore;
use sha2::Sha256;

use super::providers::{delivery, unreachable, Delivery};
use super::templates::ShortMessage;
use crate::orders::events::Event;

/// The record size we announce; one record holds the whole message.
const RECORD_SIZE: u32 = 4096;
/// What fits in one 4096-byte record: less the 16-byte tag and the padding delimiter.
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - 16 - 1;
/// How long a VAPID token is valid (RFC 8292 allows up to 24 hours).
const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

/// The application server's VAPID key pair.
pub struct VapidKey {
    signing: SigningKey,
    /// The uncompressed public key, base64url: what browsers pass to `pushManager.subscribe`
    /// as `applicationServerKey`.
    pub public_key: String,
}

impl VapidKey {
    /// From the base64url private scalar (32 bytes), the format web-push tools print.
    pub fn from_base64url(private_key: &str) -> Result<VapidKey, String> {
        let bytes = B64.decode(private_key.trim().trim_end_matches('=')).map_err(|_| "is not base64url".to_string())?;
        let signing = SigningKey::from_slice(&bytes)
            .map_err(|_| "must be a P-256 private key: 32 bytes, base64url".to_string())?;
        let public_key = B64.encode(signing.verifying_key().to_encoded_point(false).as_bytes());
        Ok(VapidKey { signing, public_key })
    }

    /// The ES256 JWT for one push service: `aud` is the endpoint's origin.
    pub fn token(&self, endpoint: &str, subject: &str, now: i64) -> String {
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": origin(endpoint), "exp": now + TOKEN_LIFETIME_SECS, "sub": subject });
        let signing_input = format!("{header}.{}", B64.encode(claims.to_string()));
        let signature: Signature = self.signing.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(signature.to_bytes()))
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// The keys a browser hands out with its subscription.
pub struct Subscription<'a> {
    pub endpoint: &'a str,
    /// The browser's P-256 public key, uncompressed, base64url.
    pub p256dh: &'a str,
    /// The 16-byte authentication secret, base64url.
    pub auth: &'a str,
}

/// The keys and salt one message is encrypted with, derived per RFC 8291 section 3.4.
struct MessageKeys {
    cek: [u8; 16],
    nonce: [u8; 12],
}

fn hkdf_expand<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut out).expect("N is far below 255 * 32");
    out
}

fn derive_keys(ecdh_secret: &[u8], auth: &[u8], ua_public: &[u8], as_public: &[u8], salt: &[u8]) -> MessageKeys {
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let ikm: [u8; 32] = hkdf_expand(auth, ecdh_secret, &key_info);
    MessageKeys {
        cek: hkdf_expand(salt, &ikm, b"Content-Encoding: aes128gcm\0"),
        nonce: hkdf_expand(salt, &ikm, b"Content-Encoding: nonce\0"),
    }
}

/// A fresh P-256 key for one message (the "application server" key of RFC 8291, which is
/// never reused).
fn ephemeral_key() -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        // Almost every 32-byte string is a valid scalar; the loop covers the rest.
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// Encrypts `plaintext` for a subscription: the `aes128gcm` body (RFC 8188 header with the
/// salt, record size and our ephemeral public key, then one record).
pub fn encrypt(p256dh: &str, auth: &str, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    encrypt_with(p256dh, auth, plaintext, &ephemeral_key(), salt)
}

fn encrypt_with(
    p256dh: &str,
    auth: &str,
    plaintext: &[u8],
    as_secret: &SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, String> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(format!("the message is {} bytes; a push record holds {MAX_PLAINTEXT}", plaintext.len()));
    }
    // Browsers hand out keys unpadded, but some client libraries pad them: both are read.
    let ua_public_bytes =
        B64.decode(p256dh.trim_end_matches('=')).map_err(|_| "the subscription's p256dh is not base64url")?;
    let ua_public =
        PublicKey::from_sec1_bytes(&ua_public_bytes).map_err(|_| "the subscription's p256dh is not a P-256 key")?;
    let auth = B64.decode(auth.trim_end_matches('=')).map_err(|_| "the subscription's auth is not base64url")?;
    let as_public = as_secret.public_key().to_encoded_point(false);
    let ecdh = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_public.as_affine());
    let keys = derive_keys(ecdh.raw_secret_bytes(), &auth, &ua_public_bytes, as_public.as_bytes(), &salt);

    // A single record, so it is also the last: its padding starts with 0x02.
    let mut record = plaintext.to_vec();
    record.push(0x02);
    let cipher = Aes128Gcm::new_from_slice(&keys.cek).expect("the CEK is 16 bytes");
    let sealed = cipher.encrypt(&Nonce::from(keys.nonce), record.as_slice()).map_err(|e| e.to_string())?;

    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.as_bytes().len() as u8);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// The token a service worker posts back with a receipt for notification `id`: only the
/// browser that decrypted the message knows it.
pub fn receipt_token(key: &[u8], id: &str) -> String {
    B64.encode(crate::crypto::hmac_sha256(key, &[b"push-receipt:", id.as_bytes()]))
}

/// Checks the token a service worker posted a receipt with: it must be the one derived for
/// that notification, which only the browser that decrypted the message has.
pub fn check_receipt(key: &[u8], notification_id: &str, token: &str) -> Result<(), crate::error::ApiError> {
    match crate::crypto::same(token, &receipt_token(key, notification_id)) {
        true => Ok(()),
        false => Err(crate::error::ApiError::Unauthorized("the receipt token does not match".into())),
    }
}

/// The JSON a service worker receives (after decryption): what to show, the `tag` that makes
/// a repeated message replace the first one instead of showing twice, and where to post the
/// receipts.
pub fn payload(
    id: &str,
    event: Event,
    about: &str,
    tag: &str,
    message: &ShortMessage,
    receipt: Option<(&str, String)>,
) -> String {
    let (receipt_url, receipt_token) = receipt.unzip();
    // An order's id, or what else the message is about (`alert:<id>`, `hold:<id>`).
    let about_key = if about.contains(':') { "subject" } else { "order_id" };
    let mut data = serde_json::json!({
        "notification_id": id,
        "event": event.as_str(),
        "receipt_url": receipt_url,
        "receipt_token": receipt_token,
    });
    data[about_key] = serde_json::json!(about);
    serde_json::json!({
        "title": message.title,
        "body": message.body,
        "lang": message.lang,
        "dir": message.dir,
        "tag": tag,
        "data": data,
    })
    .to_string()
}

/// What one push service said about one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushAnswer {
    Delivery(Delivery),
    /// 404 or 410: the subscription no longer exists and must not be used again.
    Gone,
}

pub struct WebPush {
    key: VapidKey,
    subject: String,
    agent: ureq::Agent,
}

impl WebPush {
    /// `agent`: `providers::customer_agent`, since the endpoint comes from the customer.
    pub fn new(key: VapidKey, subject: &str, agent: ureq::Agent) -> WebPush {
        WebPush { key, subject: subject.to_string(), agent }
    }

    pub fn public_key(&self) -> &str {
        &self.key.public_key
    }

    /// Encrypts and posts one message. `ttl` is how long the push service may keep it for
    /// a browser that is offline; `urgent` asks it to wake the device now.
    pub fn send(&self, subscription: &Subscription, payload: &[u8], ttl: u32, urgent: bool) -> PushAnswer {
        let body = match encrypt(subscription.p256dh, subscription.auth, payload) {
            Ok(body) => body,
            Err(error) => return PushAnswer::Delivery(Delivery::Permanent(error)),
        };
        let token = self.key.token(subscription.endpoint, &self.subject, chrono::Utc::now().timestamp());
        let result = self
            .agent
            .post(subscription.endpoint)
            .header("Authorization", format!("vapid t={token}, k={}", self.key.public_key))
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("TTL", ttl.to_string())
            .header("Urgency", if urgent { "high" } else { "normal" })
            .send(&body[..]);
        PushAnswer::Delivery(match result {
            Ok(response) => match response.status().as_u16() {
                404 | 410 => return PushAnswer::Gone,
                status => delivery(status, "the push service", || {
                    response.headers().get("Location").and_then(|v| v.to_str().ok()).map(String::from)
                }),
            },
            Err(error) => unreachable(&error, "a push service"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of RFC 8291, section 5 and appendix A.
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const UA_PUBLIC: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn key_derivation_matches_the_rfc_8291_example() {
        let as_secret = SecretKey::from_slice(&B64.decode(AS_PRIVATE).unwrap()).unwrap();
        let ua_public = B64.decode(UA_PUBLIC).unwrap();
        let ua_key = PublicKey::from_sec1_bytes(&ua_public).unwrap();
        let ecdh = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());
        assert_eq!(B64.encode(ecdh.raw_secret_bytes()), "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs");
        let as_public = as_secret.public_key().to_encoded_point(false);
        assert_eq!(
            B64.encode(as_public.as_bytes()),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
        let keys = derive_keys(
            ecdh.raw_secret_bytes(),
            &B64.decode(AUTH).unwrap(),
            &ua_public,
            as_public.as_bytes(),
            &B64.decode(SALT).unwrap(),
        );
        assert_eq!(B64.encode(keys.cek), "oIhVW04MRdy2XN9CiKLxTg");
        assert!(B64.encode(keys.nonce).starts_with("4h_95klXJ5E"), "{}", B64.encode(keys.nonce));
    }

    /// The whole message of RFC 8291, Appendix A: header, ciphertext and tag, byte for byte.
    #[test]
    fn encryption_reproduces_the_rfc_8291_message() {
        let as_secret = SecretKey::from_slice(&B64.decode(AS_PRIVATE).unwrap()).unwrap();
        let salt: [u8; 16] = B64.decode(SALT).unwrap().try_into().unwrap();
        let body =
            encrypt_with(UA_PUBLIC, AUTH, b"When I grow up, I want to be a watermelon", &as_secret, salt).unwrap();
        let expected = concat!(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
            "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
            "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        );
        assert_eq!(B64.encode(&body), expected);
    }

    #[test]
    fn padded_keys_encrypt_like_unpadded_ones() {
        let as_secret = SecretKey::from_slice(&B64.decode(AS_PRIVATE).unwrap()).unwrap();
        let salt: [u8; 16] = B64.decode(SALT).unwrap().try_into().unwrap();
        let padded_auth = format!("{AUTH}==");
        let padded_key = format!("{UA_PUBLIC}=");
        let plain = encrypt_with(UA_PUBLIC, AUTH, b"hello", &as_secret, salt).unwrap();
        assert_eq!(encrypt_with(&padded_key, &padded_auth, b"hello", &as_secret, salt).unwrap(), plain);
    }

    #[test]
    fn the_body_starts_with_salt_record_size_and_our_key() {
        let as_secret = SecretKey::from_slice(&B64.decode(AS_PRIVATE).unwrap()).unwrap();
        let salt: [u8; 16] = B64.decode(SALT).unwrap().try_into().unwrap();
        let plaintext = b"When I grow up, I want to be a watermelon";
        let body = encrypt_with(UA_PUBLIC, AUTH, plaintext, &as_secret, salt).unwrap();
        assert_eq!(&body[..16], &salt);
        assert_eq!(&body[16..20], &4096u32.to_be_bytes());
        assert_eq!(body[20], 65);
        assert_eq!(body.len(), 21 + 65 + plaintext.len() + 1 + 16);
        let too_long = vec![b'x'; MAX_PLAINTEXT + 1];
        assert!(encrypt_with(UA_PUBLIC, AUTH, &too_long, &as_secret, salt).is_err());
    }

    #[test]
    fn vapid_tokens_are_es256_for_the_endpoints_origin() {
        use p256::ecdsa::signature::Verifier;
        let key = VapidKey::from_base64url(AS_PRIVATE).unwrap();
        let token = key.token("https://push.example.net:8443/wpush/v2/abc", "mailto:ops@example.com", 1_700_000_000);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["exp"], 1_700_000_000 + TOKEN_LIFETIME_SECS);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        let public = p256::ecdsa::VerifyingKey::from_sec1_bytes(&B64.decode(&key.public_key).unwrap()).unwrap();
        let signature = Signature::from_slice(&B64.decode(parts[2]).unwrap()).unwrap();
        public.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).unwrap();
        assert!(VapidKey::from_base64url("c2hvcnQ").is_err());
    }
}
