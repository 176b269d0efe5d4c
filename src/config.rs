//! `Settings`: read once from the environment (and an optional `.env`), validated at start-up
//! with a message that names the offending variable. Secrets are redacted in `Debug`.

use std::collections::HashMap;
use std::fmt;

use crate::db::DatabaseTarget;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://clickcollect.db";
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";

/// A configuration problem, always naming the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A value that must not reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyAlgorithm {
    Rs256,
    EdDsa,
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// HS256 shared secret. `None` on SQLite means "generate one and keep it beside the file".
    pub secret: Option<Secret>,
    /// An identity provider's public key (PEM) and its algorithm.
    pub public_key: Option<(PublicKeyAlgorithm, String)>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    /// Twilio's API, or a stand-in for tests: `https://api.twilio.com` by default.
    pub api_base: String,
    /// The sending number (E.164) or alphanumeric sender id.
    pub from: String,
}

#[derive(Debug, Clone)]
pub struct InfobipSettings {
    pub base_url: String,
    pub api_key: Secret,
    pub from: Option<String>,
    /// Checked on every delivery report, which Infobip does not sign.
    pub report_token: Option<Secret>,
}

/// Web Push's VAPID identity: the private key (base64url P-256 scalar) and a contact the
/// push services can reach (`mailto:` or `https:`).
#[derive(Debug, Clone)]
pub struct VapidSettings {
    pub private_key: Secret,
    pub subject: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseTarget,
    pub pool_size: u32,
    pub redis_url: Option<Secret>,
    /// Prepended to every Redis key, so several deployments can share one Redis.
    pub redis_key_prefix: String,
    pub bind_addr: String,
    pub workers: usize,
    pub jwt: JwtSettings,
    /// Largest JSON body accepted by ordinary endpoints.
    pub max_body_bytes: usize,
    /// Largest body of a bulk write: a stock snapshot (up to 100,000 items), an adjustment
    /// batch, a channel's location list.
    pub max_snapshot_bytes: usize,
    pub log_format: LogFormat,
    /// Derives pickup codes; defaults to a key derived from the HS256 secret.
    pub pickup_code_secret: Option<Secret>,
    /// Ready orders are expired this long after their pickup deadline.
    pub pickup_grace_seconds: i64,
    /// Email over SMTP (lettre's URL form) and the sender; the email channel is off without them.
    pub smtp: Option<(Secret, String)>,
    /// SMS through Twilio; the SMS channel is off without it or `infobip`.
    pub twilio: Option<TwilioSettings>,
    /// SMS through Infobip.
    pub infobip: Option<InfobipSettings>,
    /// The address providers call back (delivery receipts), e.g. `https://api.example.com`.
    pub public_base_url: Option<String>,
    /// Signs webhook notifications; the webhook channel is off without it.
    pub webhook_secret: Option<Secret>,
    /// Web Push; the push channel is off without it.
    pub vapid: Option<VapidSettings>,
    /// Which channel waits for which, per event (`NOTIFY_FALLBACK`).
    pub notify_fallback: crate::notify::fallback::FallbackPolicy,
    /// How long a sender's claim on a notification lasts before another sender may retry it.
    pub notify_lease_seconds: i64,
    /// `NOTIFY_PRIVATE_TARGETS=allow`: customers' webhooks and push endpoints may resolve to
    /// private addresses (development, receivers inside the operator's network). Off by default.
    pub notify_private_targets: bool,
    /// A hold's time limit when the request names none.
    pub hold_ttl_seconds: i64,
    /// The longest time limit a hold may ask for.
    pub hold_ttl_max_seconds: i64,
    /// Open (unexpired) holds one customer may have at once; 0: no limit.
    pub limit_open_holds_per_customer: i64,
    /// Open orders one customer may have at once; 0: no limit.
    pub limit_open_orders_per_customer: i64,
    /// Units of one SKU one customer may have across open holds and orders; 0: no limit.
    pub limit_units_per_sku_per_customer: i64,
    /// A confirmed order nobody has started picking this long after it was placed is overdue.
    pub picking_overdue_seconds: i64,
}

impl Settings {
    /// Reads the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Reads settings from a map of variables, so tests can build them without touching the
    /// process environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        let database = DatabaseTarget::parse(&database_url)
            .map_err(|message| ConfigError { variable: "DATABASE_URL", message })?;
        let default_pool = match database {
            DatabaseTarget::Postgres { .. } => 16,
            DatabaseTarget::Sqlite { .. } => 8,
        };
        let pool_size = parse_number(get("DATABASE_POOL_SIZE"), "DATABASE_POOL_SIZE", default_pool, 1, 1000)? as u32;

        let redis_url = match get("REDIS_URL") {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                redis::Client::open(url.as_str())
                    .map_err(|e| ConfigError { variable: "REDIS_URL", message: format!("is not a Redis URL: {e}") })?;
                Some(Secret(url))
            }
            Some(_) => {
                return Err(ConfigError {
                    variable: "REDIS_URL",
                    message: "must start with redis:// or rediss://".into(),
                })
            }
            None => None,
        };

        let bind_addr = get("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.to_string());
        if bind_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError { variable: "BIND_ADDR", message: "must be HOST:PORT, e.g. 0.0.0.0:8080".into() });
        }
        let default_workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let workers = parse_number(get("WORKERS"), "WORKERS", default_workers as i64, 1, 512)? as usize;

        let secret = get("JWT_SECRET").map(Secret);
        if let Some(Secret(s)) = &secret {
            if s.len() < 32 {
                return Err(ConfigError {
                    variable: "JWT_SECRET",
                    message: "must be at least 32 bytes (256 bits) for HS256".into(),
                });
            }
        }
        let public_key = read_public_key(&get)?;
        if secret.is_none() && public_key.is_none() && matches!(database, DatabaseTarget::Postgres { .. }) {
            // A generated key works for one SQLite file; replicas sharing PostgreSQL must
            // agree on their keys, so they are told to configure one.
            return Err(ConfigError {
                variable: "JWT_SECRET",
                message: "required with PostgreSQL (or configure JWT_PUBLIC_KEY / JWT_PUBLIC_KEY_FILE)".into(),
            });
        }
        let jwt = JwtSettings { secret, public_key, issuer: get("JWT_ISSUER"), audience: get("JWT_AUDIENCE") };

        let max_body_bytes = parse_number(get("MAX_BODY_BYTES"), "MAX_BODY_BYTES", 64 * 1024, 1024, 64 << 20)? as usize;
        let max_snapshot_bytes =
            parse_number(get("MAX_SNAPSHOT_BYTES"), "MAX_SNAPSHOT_BYTES", 16 << 20, 1024, 256 << 20)? as usize;

        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError { variable: "LOG_FORMAT", message: "must be text or json".into() }),
        };

        let hold_ttl_max_seconds = parse_number(get("HOLD_TTL_MAX_SECONDS"), "HOLD_TTL_MAX_SECONDS", 3600, 60, 86_400)?;
        let hold_ttl_seconds = parse_number(get("HOLD_TTL_SECONDS"), "HOLD_TTL_SECONDS", 900, 30, 86_400)?;
        if hold_ttl_seconds > hold_ttl_max_seconds {
            return Err(ConfigError {
                variable: "HOLD_TTL_SECONDS",
                message: format!("must not exceed HOLD_TTL_MAX_SECONDS ({hold_ttl_max_seconds})"),
            });
        }

        let pickup_code_secret = get("PICKUP_CODE_SECRET").map(Secret);
        if pickup_code_secret.as_ref().is_some_and(|Secret(s)| s.len() < 32) {
            return Err(ConfigError { variable: "PICKUP_CODE_SECRET", message: "must be at least 32 bytes".into() });
        }
        let pickup_grace_seconds =
            parse_number(get("PICKUP_GRACE_SECONDS"), "PICKUP_GRACE_SECONDS", 3600, 0, 7 * 86_400)?;

        let mut infobip = None;
        let twilio = match get("SMS_PROVIDER").as_deref() {
            None => None,
            Some("infobip") => {
                let required = |variable: &'static str| {
                    get(variable).ok_or(ConfigError { variable, message: "required with SMS_PROVIDER=infobip".into() })
                };
                let report_token = get("INFOBIP_REPORT_TOKEN").map(Secret);
                if report_token
                    .as_ref()
                    .is_some_and(|Secret(t)| t.len() < 16 || !t.bytes().all(|b| b.is_ascii_alphanumeric()))
                {
                    return Err(ConfigError {
                        variable: "INFOBIP_REPORT_TOKEN",
                        message: "must be at least 16 letters and digits".into(),
                    });
                }
                infobip = Some(InfobipSettings {
                    base_url: required("INFOBIP_BASE_URL")?,
                    api_key: Secret(required("INFOBIP_API_KEY")?),
                    from: get("SMS_FROM"),
                    report_token,
                });
                None
            }
            Some("twilio") => {
                let required = |variable: &'static str| {
                    get(variable).ok_or(ConfigError { variable, message: "required with SMS_PROVIDER=twilio".into() })
                };
                Some(TwilioSettings {
                    account_sid: required("TWILIO_ACCOUNT_SID")?,
                    auth_token: Secret(required("TWILIO_AUTH_TOKEN")?),
                    api_base: get("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into()),
                    from: required("SMS_FROM")?,
                })
            }
            Some(_) => {
                return Err(ConfigError { variable: "SMS_PROVIDER", message: "must be twilio or infobip".into() })
            }
        };
        let smtp = match (get("SMTP_URL"), get("EMAIL_FROM")) {
            (Some(url), Some(from)) => {
                if !url.starts_with("smtp://") && !url.starts_with("smtps://") {
                    return Err(ConfigError {
                        variable: "SMTP_URL",
                        message: "must start with smtp:// or smtps://".into(),
                    });
                }
                // Both are parsed now, so a typo stops the start-up instead of every email.
                crate::notify::email::Email::new(&url, &from).map_err(|message| {
                    let variable = if message.starts_with("EMAIL_FROM") { "EMAIL_FROM" } else { "SMTP_URL" };
                    ConfigError { variable, message: "is not valid (see docs/notifications.md)".into() }
                })?;
                Some((Secret(url), from))
            }
            (Some(_), None) => {
                return Err(ConfigError { variable: "EMAIL_FROM", message: "required with SMTP_URL".into() })
            }
            (None, Some(_)) => {
                return Err(ConfigError { variable: "SMTP_URL", message: "required with EMAIL_FROM".into() })
            }
            (None, None) => None,
        };
        let public_base_url = get("PUBLIC_BASE_URL").map(|url| url.trim_end_matches('/').to_string());
        if public_base_url.as_ref().is_some_and(|url| !url.starts_with("https://") && !url.starts_with("http://")) {
            return Err(ConfigError { variable: "PUBLIC_BASE_URL", message: "must be an http(s):// URL".into() });
        }
        let webhook_secret = get("WEBHOOK_SECRET").map(Secret);
        if webhook_secret.as_ref().is_some_and(|Secret(s)| s.len() < 32) {
            return Err(ConfigError { variable: "WEBHOOK_SECRET", message: "must be at least 32 bytes".into() });
        }
        let vapid = match (get("VAPID_PRIVATE_KEY"), get("VAPID_SUBJECT")) {
            (Some(key), Some(subject)) => {
                crate::notify::push::VapidKey::from_base64url(&key)
                    .map_err(|message| ConfigError { variable: "VAPID_PRIVATE_KEY", message })?;
                if !subject.starts_with("mailto:") && !subject.starts_with("https://") {
                    return Err(ConfigError {
                        variable: "VAPID_SUBJECT",
                        message: "must be a mailto: or https: contact for the push services".into(),
                    });
                }
                Some(VapidSettings { private_key: Secret(key), subject })
            }
            (Some(_), None) => {
                return Err(ConfigError {
                    variable: "VAPID_SUBJECT",
                    message: "required with VAPID_PRIVATE_KEY".into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    variable: "VAPID_PRIVATE_KEY",
                    message: "required with VAPID_SUBJECT".into(),
                })
            }
            (None, None) => None,
        };
        let notify_fallback = crate::notify::fallback::FallbackPolicy::parse(
            &get("NOTIFY_FALLBACK").unwrap_or_else(|| crate::notify::fallback::DEFAULT_POLICY.into()),
        )
        .map_err(|message| ConfigError { variable: "NOTIFY_FALLBACK", message })?;
        let notify_lease_seconds = parse_number(get("NOTIFY_LEASE_SECONDS"), "NOTIFY_LEASE_SECONDS", 60, 1, 3600)?;
        let notify_private_targets = match get("NOTIFY_PRIVATE_TARGETS").as_deref() {
            None | Some("deny") => false,
            Some("allow") => true,
            Some(other) => {
                return Err(ConfigError {
                    variable: "NOTIFY_PRIVATE_TARGETS",
                    message: format!("expected allow or deny, got {other:?}"),
                })
            }
        };

        let redis_key_prefix = get("REDIS_KEY_PREFIX").unwrap_or_else(|| "clickcollect:".into());

        let limit_open_holds_per_customer =
            parse_number(get("LIMIT_OPEN_HOLDS_PER_CUSTOMER"), "LIMIT_OPEN_HOLDS_PER_CUSTOMER", 5, 0, 10_000)?;
        let limit_open_orders_per_customer =
            parse_number(get("LIMIT_OPEN_ORDERS_PER_CUSTOMER"), "LIMIT_OPEN_ORDERS_PER_CUSTOMER", 10, 0, 10_000)?;
        let limit_units_per_sku_per_customer = parse_number(
            get("LIMIT_UNITS_PER_SKU_PER_CUSTOMER"),
            "LIMIT_UNITS_PER_SKU_PER_CUSTOMER",
            20,
            0,
            1_000_000_000,
        )?;
        let picking_overdue_seconds =
            parse_number(get("PICKING_OVERDUE_SECONDS"), "PICKING_OVERDUE_SECONDS", 7200, 60, 30 * 86_400)?;

        Ok(Settings {
            redis_key_prefix,
            database,
            vapid,
            notify_fallback,
            notify_lease_seconds,
            notify_private_targets,
            pool_size,
            redis_url,
            bind_addr,
            workers,
            jwt,
            max_body_bytes,
            max_snapshot_bytes,
            log_format,
            hold_ttl_seconds,
            hold_ttl_max_seconds,
            pickup_code_secret,
            pickup_grace_seconds,
            webhook_secret,
            twilio,
            infobip,
            public_base_url,
            smtp,
            limit_open_holds_per_customer,
            limit_open_orders_per_customer,
            limit_units_per_sku_per_customer,
            picking_overdue_seconds,
        })
    }
}

fn parse_number(
    value: Option<String>,
    variable: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError { variable, message: format!("must be a whole number from {min} to {max}") }),
    }
}

fn read_public_key(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<(PublicKeyAlgorithm, String)>, ConfigError> {
    let pem = match (get("JWT_PUBLIC_KEY"), get("JWT_PUBLIC_KEY_FILE")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError {
                variable: "JWT_PUBLIC_KEY_FILE",
                message: "set either JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE, not both".into(),
            })
        }
        (Some(pem), None) => pem.replace("\\n", "\n"),
        (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| ConfigError {
            variable: "JWT_PUBLIC_KEY_FILE",
            message: format!("cannot read {path}: {e}"),
        })?,
        (None, None) => {
            if get("JWT_ALGORITHM").is_some() {
                return Err(ConfigError {
                    variable: "JWT_ALGORITHM",
                    message: "set only together with JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE".into(),
                });
            }
            return Ok(None);
        }
    };
    let algorithm = match get("JWT_ALGORITHM").as_deref() {
        Some("RS256") => PublicKeyAlgorithm::Rs256,
        Some("EdDSA") => PublicKeyAlgorithm::EdDsa,
        _ => {
            return Err(ConfigError {
                variable: "JWT_ALGORITHM",
                message: "must be RS256 or EdDSA when a public key is configured".into(),
            })
        }
    };
    if !pem.contains("-----BEGIN PUBLIC KEY-----") && !pem.contains("-----BEGIN RSA PUBLIC KEY-----") {
        return Err(ConfigError { variable: "JWT_PUBLIC_KEY", message: "must be a PEM public key".into() });
    }
    Ok(Some((algorithm, pem)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_to_an_sqlite_file_beside_the_process() {
        let settings = Settings::from_vars(&vars(&[])).unwrap();
        assert_eq!(settings.database, DatabaseTarget::Sqlite { path: "clickcollect.db".into() });
        assert_eq!(settings.bind_addr, DEFAULT_BIND_ADDR);
        assert!(settings.jwt.secret.is_none());
    }

    #[test]
    fn errors_name_the_variable() {
        let err = Settings::from_vars(&vars(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        let err = Settings::from_vars(&vars(&[("JWT_SECRET", "short")])).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        let err = Settings::from_vars(&vars(&[("BIND_ADDR", "nowhere")])).unwrap_err();
        assert_eq!(err.variable, "BIND_ADDR");
        let err = Settings::from_vars(&vars(&[("MAX_BODY_BYTES", "-1")])).unwrap_err();
        assert_eq!(err.variable, "MAX_BODY_BYTES");
        let err = Settings::from_vars(&vars(&[("DATABASE_URL", "postgres://db/cc")])).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        let key = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
        let err = Settings::from_vars(&vars(&[("VAPID_PRIVATE_KEY", key)])).unwrap_err();
        assert_eq!(err.variable, "VAPID_SUBJECT");
        let err = Settings::from_vars(&vars(&[("VAPID_PRIVATE_KEY", "c2hvcnQ"), ("VAPID_SUBJECT", "mailto:a@b.c")]))
            .unwrap_err();
        assert_eq!(err.variable, "VAPID_PRIVATE_KEY");
        let err = Settings::from_vars(&vars(&[("VAPID_PRIVATE_KEY", key), ("VAPID_SUBJECT", "ops")])).unwrap_err();
        assert_eq!(err.variable, "VAPID_SUBJECT");
        let err = Settings::from_vars(&vars(&[("NOTIFY_FALLBACK", "ready_for_pickup=push>fax@5m")])).unwrap_err();
        assert_eq!(err.variable, "NOTIFY_FALLBACK");
        let err = Settings::from_vars(&vars(&[("NOTIFY_LEASE_SECONDS", "0")])).unwrap_err();
        assert_eq!(err.variable, "NOTIFY_LEASE_SECONDS");
    }

    #[test]
    fn secrets_do_not_reach_debug_output() {
        let settings = Settings::from_vars(&vars(&[
            ("JWT_SECRET", "a-very-long-development-secret-0123456789"),
            ("DATABASE_URL", "postgres://app:hunter2@db/cc"),
        ]))
        .unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("a-very-long-development-secret"));
        assert!(!printed.contains("hunter2"));
    }
}
