//! `Settings`: read once from the environment (and an optional `.env`), checked at start-up
//! with a message that names the offending variable. A leaf: plain, checked values, one
//! parser per section, and no capability imported. What a capability builds from them (the
//! notification channels, say) it builds once at start-up and fails with the same kind of
//! error. Secrets never print.

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

impl ConfigError {
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        ConfigError { variable, message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A value that must not reach a log line: `Debug` prints stars, there is no `Display`, and
/// the value is read only through `expose`, where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseTarget,
    pub pool_size: u32,
    pub server: ServerSettings,
    /// Redis, shared by replicas; without it, in-process equivalents.
    pub redis: Option<RedisSettings>,
    pub jwt: JwtSettings,
    pub orders: OrderConfig,
    pub limits: LimitSettings,
    pub notify: NotifySettings,
    pub sync: SyncSettings,
    pub console: ConsoleSettings,
}

/// The store console's pairing links and device tokens.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleSettings {
    /// How long a pairing link can be opened (once) on a device.
    pub link_seconds: i64,
    /// How long a paired device's token lasts; revoke it sooner per device.
    pub token_days: i64,
    /// How often every replica reads the revoked devices (the replica that revokes refuses
    /// the device at once).
    pub revocation_refresh_seconds: u64,
}

/// The change log, feeds and live streams.
#[derive(Debug, Clone, Copy)]
pub struct SyncSettings {
    /// How long the change log keeps a change; a feed cursor older than that answers 410.
    pub change_log_retention_hours: i64,
    /// Live streams one caller (a token's subject) may hold open at once.
    pub streams_per_caller: usize,
    /// Public live streams one address may hold open at once (shoppers behind one NAT or
    /// proxy share it).
    pub streams_per_address: usize,
    /// Events queued for one stream before its client counts as too slow and is dropped.
    pub stream_buffer: usize,
    /// Seconds between heartbeats on an idle stream.
    pub stream_heartbeat_seconds: u64,
    /// How long a stream ticket can be used to open a stream.
    pub stream_ticket_seconds: i64,
    /// A channel's webhook gets at most one batch per this many milliseconds.
    pub channel_push_interval_ms: i64,
    /// Failed batches in a row after which a channel's webhook is paused.
    pub channel_push_pause_after: i32,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub bind_addr: String,
    pub workers: usize,
    /// Largest JSON body accepted by ordinary endpoints.
    pub max_body_bytes: usize,
    /// Largest body of a bulk write: a stock snapshot (up to 100,000 items), an adjustment
    /// batch, a channel's location list.
    pub max_snapshot_bytes: usize,
    pub log_format: LogFormat,
    /// Requests a minute one caller (a token's subject) may make to the API; 0: no limit.
    pub rate_limit_per_minute: u32,
    /// Requests a minute one address may make without a token; 0: no limit.
    pub rate_limit_anonymous_per_minute: u32,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: Secret,
    /// Prepended to every Redis key, so several deployments can share one Redis.
    pub key_prefix: String,
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

/// Holds, orders and pickup.
#[derive(Debug, Clone)]
pub struct OrderConfig {
    /// A hold's time limit when the request names none.
    pub hold_ttl_seconds: i64,
    /// The longest time limit a hold may ask for.
    pub hold_ttl_max_seconds: i64,

    /// Derives pickup codes; defaults to a key derived from the HS256 secret.
    pub pickup_code_secret: Option<Secret>,
    /// Ready orders are expired this long after their pickup deadline.
    pub pickup_grace_seconds: i64,
    /// A confirmed order nobody has started picking this long after it was placed is overdue.
    pub picking_overdue_seconds: i64,
    /// Most holds of one level placed in one transaction; 1 places each on its own.
    pub hold_batch_max: usize,
    /// Orders a store picks per hour unless its location sets `picking_per_hour`: what the
    /// ready-by promise counts the queue with.
    pub picking_orders_per_hour: i64,
    /// How old an availability number or a "sold out" answered from memory may be; zero
    /// answers every one from the database.
    pub stock_memory: std::time::Duration,
}

/// Per-customer limits; 0 turns one off.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Open (unexpired) holds one customer may have at once.
    pub open_holds_per_customer: i64,
    /// Open orders one customer may have at once.
    pub open_orders_per_customer: i64,
    /// Units of one SKU one customer may have across open holds and orders.
    pub units_per_sku_per_customer: i64,
}

/// Notification channels and how the sender runs. A channel whose settings are absent is off.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Email over SMTP (lettre's URL form) and the sender.
    pub smtp: Option<SmtpSettings>,
    pub sms: Option<SmsProvider>,
    /// Signs webhook notifications.
    pub webhook_secret: Option<Secret>,
    /// Web Push.
    pub vapid: Option<VapidSettings>,
    /// Which channel waits for which, per event (`NOTIFY_FALLBACK`); the notifier's default
    /// when not set. Its grammar is the notifier's, checked when the channels are built.
    pub fallback: Option<String>,
    /// How long a sender's claim on a notification lasts before another sender may retry it.
    pub lease_seconds: i64,
    /// `NOTIFY_PRIVATE_TARGETS=allow`: customers' webhooks and push endpoints may resolve to
    /// private addresses (development, receivers inside the operator's network).
    pub private_targets: bool,
    /// The address providers call back (delivery receipts), e.g. `https://api.example.com`.
    pub public_base_url: Option<String>,
    /// Whether emails carry the open pixel (`EMAIL_OPEN_TRACKING`, on by default; it also
    /// needs `PUBLIC_BASE_URL`, and customers may refuse it).
    pub email_open_tracking: bool,
    /// Back-in-stock alerts one customer hears of per day (`STOCK_ALERTS_PER_DAY`).
    pub stock_alerts_per_day: i64,
    /// The shop's page where a shopper holds what is back (`STOCK_ALERT_URL`), with `{sku}`
    /// and `{location}` filled in; alerts carry no link without it.
    pub stock_alert_url: Option<String>,
    /// How long before a hold lapses a shopper who asked (`remind`) is reminded
    /// (`HOLD_REMINDER_BEFORE_SECONDS`); at most half the hold's time.
    pub hold_reminder_before_seconds: i64,
    /// WhatsApp (`WHATSAPP_PROVIDER`), and its approved templates (`WHATSAPP_TEMPLATES`).
    pub whatsapp: Option<WhatsAppProvider>,
    pub whatsapp_templates: Option<String>,
    /// Viber through Infobip (`VIBER_PROVIDER=infobip`), as `from` (`VIBER_SENDER`).
    pub viber: Option<InfobipSettings>,
    /// Guards a mail provider's event webhook (`EMAIL_EVENTS_TOKEN`); none taken without it.
    pub email_events_token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub url: Secret,
    pub from: String,
}

/// The one SMS provider (`SMS_PROVIDER`).
#[derive(Debug, Clone)]
pub enum SmsProvider {
    Twilio(TwilioSettings),
    Infobip(InfobipSettings),
}

/// Which provider WhatsApp messages go through, and as which sender.
#[derive(Debug, Clone)]
pub enum WhatsAppProvider {
    /// `from` is the WhatsApp sender number.
    Twilio(TwilioSettings),
    Infobip {
        settings: InfobipSettings,
        from: String,
    },
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

/// The variables, trimmed; an empty one counts as unset.
struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    /// A whole number within `min..=max`, or `default` when unset.
    fn number(&self, variable: &'static str, default: i64, min: i64, max: i64) -> Result<i64, ConfigError> {
        let Some(value) = self.get(variable) else { return Ok(default) };
        match value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::new(variable, format!("must be a whole number from {min} to {max}"))),
        }
    }

    fn required(&self, variable: &'static str, with: &str) -> Result<String, ConfigError> {
        self.get(variable).ok_or_else(|| ConfigError::new(variable, format!("required with {with}")))
    }

    /// A secret of at least `min_len` bytes.
    fn secret(&self, variable: &'static str, min_len: usize) -> Result<Option<Secret>, ConfigError> {
        match self.get(variable) {
            Some(value) if value.len() < min_len => {
                Err(ConfigError::new(variable, format!("must be at least {min_len} bytes")))
            }
            other => Ok(other.map(Secret)),
        }
    }

    /// Two variables that go together: both or neither.
    fn pair(&self, first: &'static str, second: &'static str) -> Result<Option<(String, String)>, ConfigError> {
        match (self.get(first), self.get(second)) {
            (Some(a), Some(b)) => Ok(Some((a, b))),
            (Some(_), None) => Err(ConfigError::new(second, format!("required with {first}"))),
            (None, Some(_)) => Err(ConfigError::new(first, format!("required with {second}"))),
            (None, None) => Ok(None),
        }
    }
}

impl Settings {
    /// Reads the process environment, after loading `.env` if there is one. A `.env` that
    /// exists but cannot be read is an error, not an empty file.
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(error) if error.not_found() => {}
            Err(error) => return Err(ConfigError::new(".env", error.to_string())),
        }
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Reads settings from a map of variables, so tests can build them without touching the
    /// process environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let vars = Vars(vars);
        let (database, pool_size) = database(&vars)?;
        let jwt = jwt(&vars, &database)?;
        Ok(Settings {
            server: server(&vars)?,
            redis: redis(&vars)?,
            orders: orders(&vars)?,
            limits: limits(&vars)?,
            notify: notify(&vars)?,
            sync: sync(&vars)?,
            console: ConsoleSettings {
                link_seconds: vars.number("CONSOLE_LINK_SECONDS", 3600, 60, 7 * 24 * 3600)?,
                token_days: vars.number("CONSOLE_TOKEN_DAYS", 90, 1, 400)?,
                revocation_refresh_seconds: vars.number("CONSOLE_REVOCATION_REFRESH_SECONDS", 5, 1, 300)? as u64,
            },
            database,
            pool_size,
            jwt,
        })
    }
}

fn database(vars: &Vars) -> Result<(DatabaseTarget, u32), ConfigError> {
    let url = vars.get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
    let database = DatabaseTarget::parse(&url).map_err(|message| ConfigError::new("DATABASE_URL", message))?;
    let default_pool = match database {
        DatabaseTarget::Postgres { .. } => 16,
        DatabaseTarget::Sqlite { .. } => 8,
    };
    let pool_size = vars.number("DATABASE_POOL_SIZE", default_pool, 1, 1000)? as u32;
    Ok((database, pool_size))
}

fn server(vars: &Vars) -> Result<ServerSettings, ConfigError> {
    let bind_addr = vars.get("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.to_string());
    if bind_addr.parse::<std::net::SocketAddr>().is_err() {
        return Err(ConfigError::new("BIND_ADDR", "must be HOST:PORT, e.g. 0.0.0.0:8080"));
    }
    let default_workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let log_format = match vars.get("LOG_FORMAT").as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(_) => return Err(ConfigError::new("LOG_FORMAT", "must be text or json")),
    };
    Ok(ServerSettings {
        bind_addr,
        workers: vars.number("WORKERS", default_workers as i64, 1, 512)? as usize,
        max_body_bytes: vars.number("MAX_BODY_BYTES", 64 * 1024, 1024, 64 << 20)? as usize,
        max_snapshot_bytes: vars.number("MAX_SNAPSHOT_BYTES", 16 << 20, 1024, 256 << 20)? as usize,
        log_format,
        rate_limit_per_minute: vars.number("RATE_LIMIT_PER_MINUTE", 6_000, 0, 100_000_000)? as u32,
        rate_limit_anonymous_per_minute: vars.number("RATE_LIMIT_ANONYMOUS_PER_MINUTE", 60_000, 0, 100_000_000)? as u32,
    })
}

fn redis(vars: &Vars) -> Result<Option<RedisSettings>, ConfigError> {
    let Some(url) = vars.get("REDIS_URL") else { return Ok(None) };
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        return Err(ConfigError::new("REDIS_URL", "must start with redis:// or rediss://"));
    }
    redis::Client::open(url.as_str()).map_err(|e| ConfigError::new("REDIS_URL", format!("is not a Redis URL: {e}")))?;
    let key_prefix = vars.get("REDIS_KEY_PREFIX").unwrap_or_else(|| "clickcollect:".into());
    Ok(Some(RedisSettings { url: Secret(url), key_prefix }))
}

fn jwt(vars: &Vars, database: &DatabaseTarget) -> Result<JwtSettings, ConfigError> {
    let secret = vars.get("JWT_SECRET").map(Secret);
    if secret.as_ref().is_some_and(|s| s.expose().len() < 32) {
        return Err(ConfigError::new("JWT_SECRET", "must be at least 32 bytes (256 bits) for HS256"));
    }
    let public_key = public_key(vars)?;
    if secret.is_none() && public_key.is_none() && matches!(database, DatabaseTarget::Postgres { .. }) {
        // A generated key works for one SQLite file; replicas sharing PostgreSQL must agree
        // on their keys, so they are told to configure one.
        return Err(ConfigError::new(
            "JWT_SECRET",
            "required with PostgreSQL (or configure JWT_PUBLIC_KEY / JWT_PUBLIC_KEY_FILE)",
        ));
    }
    Ok(JwtSettings { secret, public_key, issuer: vars.get("JWT_ISSUER"), audience: vars.get("JWT_AUDIENCE") })
}

fn public_key(vars: &Vars) -> Result<Option<(PublicKeyAlgorithm, String)>, ConfigError> {
    let pem = match (vars.get("JWT_PUBLIC_KEY"), vars.get("JWT_PUBLIC_KEY_FILE")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "JWT_PUBLIC_KEY_FILE",
                "set either JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE, not both",
            ))
        }
        (Some(pem), None) => pem.replace("\\n", "\n"),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::new("JWT_PUBLIC_KEY_FILE", format!("cannot read {path}: {e}")))?,
        (None, None) => {
            if vars.get("JWT_ALGORITHM").is_some() {
                return Err(ConfigError::new(
                    "JWT_ALGORITHM",
                    "set only together with JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE",
                ));
            }
            return Ok(None);
        }
    };
    let algorithm = match vars.get("JWT_ALGORITHM").as_deref() {
        Some("RS256") => PublicKeyAlgorithm::Rs256,
        Some("EdDSA") => PublicKeyAlgorithm::EdDsa,
        _ => return Err(ConfigError::new("JWT_ALGORITHM", "must be RS256 or EdDSA when a public key is configured")),
    };
    if !pem.contains("-----BEGIN PUBLIC KEY-----") && !pem.contains("-----BEGIN RSA PUBLIC KEY-----") {
        return Err(ConfigError::new("JWT_PUBLIC_KEY", "must be a PEM public key"));
    }
    Ok(Some((algorithm, pem)))
}

fn orders(vars: &Vars) -> Result<OrderConfig, ConfigError> {
    let hold_ttl_max_seconds = vars.number("HOLD_TTL_MAX_SECONDS", 3600, 60, 86_400)?;
    let hold_ttl_seconds = vars.number("HOLD_TTL_SECONDS", 900, 30, 86_400)?;
    if hold_ttl_seconds > hold_ttl_max_seconds {
        return Err(ConfigError::new(
            "HOLD_TTL_SECONDS",
            format!("must not exceed HOLD_TTL_MAX_SECONDS ({hold_ttl_max_seconds})"),
        ));
    }
    Ok(OrderConfig {
        hold_ttl_seconds,
        hold_ttl_max_seconds,

        pickup_code_secret: vars.secret("PICKUP_CODE_SECRET", 32)?,
        pickup_grace_seconds: vars.number("PICKUP_GRACE_SECONDS", 3600, 0, 7 * 86_400)?,
        picking_overdue_seconds: vars.number("PICKING_OVERDUE_SECONDS", 7200, 60, 30 * 86_400)?,
        hold_batch_max: vars.number("HOLD_BATCH_MAX", 256, 1, 1_000)? as usize,
        picking_orders_per_hour: vars.number("PICKING_ORDERS_PER_HOUR", 12, 1, 1_000)?,
        stock_memory: std::time::Duration::from_millis(vars.number("AVAILABILITY_CACHE_MS", 1_000, 0, 60_000)? as u64),
    })
}

fn limits(vars: &Vars) -> Result<LimitSettings, ConfigError> {
    Ok(LimitSettings {
        open_holds_per_customer: vars.number("LIMIT_OPEN_HOLDS_PER_CUSTOMER", 5, 0, 10_000)?,
        open_orders_per_customer: vars.number("LIMIT_OPEN_ORDERS_PER_CUSTOMER", 10, 0, 10_000)?,
        units_per_sku_per_customer: vars.number("LIMIT_UNITS_PER_SKU_PER_CUSTOMER", 20, 0, 1_000_000_000)?,
    })
}

fn sync(vars: &Vars) -> Result<SyncSettings, ConfigError> {
    Ok(SyncSettings {
        change_log_retention_hours: vars.number("CHANGE_LOG_RETENTION_HOURS", 168, 1, 24 * 366)?,
        streams_per_caller: vars.number("STREAMS_PER_CALLER", 8, 1, 10_000)? as usize,
        streams_per_address: vars.number("STREAMS_PER_ADDRESS", 1_000, 1, 1_000_000)? as usize,
        stream_buffer: vars.number("STREAM_BUFFER_EVENTS", 256, 1, 100_000)? as usize,
        stream_heartbeat_seconds: vars.number("STREAM_HEARTBEAT_SECONDS", 15, 1, 300)? as u64,
        stream_ticket_seconds: vars.number("STREAM_TICKET_SECONDS", 60, 5, 3600)?,
        channel_push_interval_ms: vars.number("CHANNEL_PUSH_INTERVAL_MS", 1000, 100, 3_600_000)?,
        channel_push_pause_after: vars.number("CHANNEL_PUSH_PAUSE_AFTER", 10, 1, 1000)? as i32,
    })
}

fn notify(vars: &Vars) -> Result<NotifySettings, ConfigError> {
    let public_base_url = vars.get("PUBLIC_BASE_URL").map(|url| url.trim_end_matches('/').to_string());
    if public_base_url.as_ref().is_some_and(|url| !url.starts_with("https://") && !url.starts_with("http://")) {
        return Err(ConfigError::new("PUBLIC_BASE_URL", "must be an http(s):// URL"));
    }
    let private_targets = match vars.get("NOTIFY_PRIVATE_TARGETS").as_deref() {
        None | Some("deny") => false,
        Some("allow") => true,
        Some(other) => {
            return Err(ConfigError::new("NOTIFY_PRIVATE_TARGETS", format!("expected allow or deny, got {other:?}")))
        }
    };
    let email_open_tracking = match vars.get("EMAIL_OPEN_TRACKING").as_deref() {
        None | Some("on") => true,
        Some("off") => false,
        Some(other) => {
            return Err(ConfigError::new("EMAIL_OPEN_TRACKING", format!("expected on or off, got {other:?}")))
        }
    };
    let stock_alert_url = vars.get("STOCK_ALERT_URL");
    if stock_alert_url.as_ref().is_some_and(|url| !url.starts_with("https://") && !url.starts_with("http://")) {
        return Err(ConfigError::new("STOCK_ALERT_URL", "must be an http(s):// URL"));
    }
    Ok(NotifySettings {
        stock_alerts_per_day: vars.number("STOCK_ALERTS_PER_DAY", 3, 1, 100)?,
        hold_reminder_before_seconds: vars.number("HOLD_REMINDER_BEFORE_SECONDS", 300, 30, 86_400)?,
        whatsapp: whatsapp(vars)?,
        whatsapp_templates: vars.get("WHATSAPP_TEMPLATES"),
        viber: viber(vars)?,
        email_events_token: token(vars, "EMAIL_EVENTS_TOKEN")?,
        stock_alert_url,
        email_open_tracking,
        smtp: smtp(vars)?,
        sms: sms(vars)?,
        webhook_secret: vars.secret("WEBHOOK_SECRET", 32)?,
        vapid: vapid(vars)?,
        fallback: vars.get("NOTIFY_FALLBACK"),
        lease_seconds: vars.number("NOTIFY_LEASE_SECONDS", 60, 1, 3600)?,
        private_targets,
        public_base_url,
    })
}

fn smtp(vars: &Vars) -> Result<Option<SmtpSettings>, ConfigError> {
    let Some((url, from)) = vars.pair("SMTP_URL", "EMAIL_FROM")? else { return Ok(None) };
    if !url.starts_with("smtp://") && !url.starts_with("smtps://") {
        return Err(ConfigError::new("SMTP_URL", "must start with smtp:// or smtps://"));
    }
    Ok(Some(SmtpSettings { url: Secret(url), from }))
}

fn sms(vars: &Vars) -> Result<Option<SmsProvider>, ConfigError> {
    match vars.get("SMS_PROVIDER").as_deref() {
        None => Ok(None),
        Some("twilio") => Ok(Some(SmsProvider::Twilio(twilio(vars, "SMS_PROVIDER=twilio", "SMS_FROM")?))),
        Some("infobip") => {
            let with = "SMS_PROVIDER=infobip";
            Ok(Some(SmsProvider::Infobip(infobip(vars, with, vars.get("SMS_FROM"))?)))
        }
        Some(_) => Err(ConfigError::new("SMS_PROVIDER", "must be twilio or infobip")),
    }
}

/// Twilio's account, shared by SMS and WhatsApp, sending as `from_variable`'s value.
fn twilio(vars: &Vars, with: &'static str, from_variable: &'static str) -> Result<TwilioSettings, ConfigError> {
    Ok(TwilioSettings {
        account_sid: vars.required("TWILIO_ACCOUNT_SID", with)?,
        auth_token: Secret(vars.required("TWILIO_AUTH_TOKEN", with)?),
        api_base: vars.get("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into()),
        from: vars.required(from_variable, with)?,
    })
}

/// A token a provider's callback URL carries: at least 16 letters and digits.
fn token(vars: &Vars, variable: &'static str) -> Result<Option<Secret>, ConfigError> {
    let token = vars.get(variable).map(Secret);
    if token.as_ref().is_some_and(|t| t.expose().len() < 16 || !t.expose().bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(ConfigError::new(variable, "must be at least 16 letters and digits"));
    }
    Ok(token)
}

/// Infobip's account, shared by SMS and WhatsApp.
fn infobip(vars: &Vars, with: &'static str, from: Option<String>) -> Result<InfobipSettings, ConfigError> {
    let report_token = token(vars, "INFOBIP_REPORT_TOKEN")?;
    Ok(InfobipSettings {
        base_url: vars.required("INFOBIP_BASE_URL", with)?,
        api_key: Secret(vars.required("INFOBIP_API_KEY", with)?),
        from,
        report_token,
    })
}

/// Viber through Infobip, with the account settings SMS uses and a Viber sender of its own.
fn viber(vars: &Vars) -> Result<Option<InfobipSettings>, ConfigError> {
    match vars.get("VIBER_PROVIDER").as_deref() {
        None => Ok(None),
        Some("infobip") => {
            let with = "VIBER_PROVIDER=infobip";
            let sender = vars.required("VIBER_SENDER", with)?;
            Ok(Some(infobip(vars, with, Some(sender))?))
        }
        Some(_) => Err(ConfigError::new("VIBER_PROVIDER", "must be infobip")),
    }
}

/// WhatsApp through Twilio or Infobip, with the account settings SMS uses and a WhatsApp
/// sender of its own (`WHATSAPP_FROM`).
fn whatsapp(vars: &Vars) -> Result<Option<WhatsAppProvider>, ConfigError> {
    match vars.get("WHATSAPP_PROVIDER").as_deref() {
        None => Ok(None),
        Some("twilio") => {
            Ok(Some(WhatsAppProvider::Twilio(twilio(vars, "WHATSAPP_PROVIDER=twilio", "WHATSAPP_FROM")?)))
        }
        Some("infobip") => {
            let with = "WHATSAPP_PROVIDER=infobip";
            let from = vars.required("WHATSAPP_FROM", with)?;
            Ok(Some(WhatsAppProvider::Infobip { settings: infobip(vars, with, None)?, from }))
        }
        Some(_) => Err(ConfigError::new("WHATSAPP_PROVIDER", "must be twilio or infobip")),
    }
}

fn vapid(vars: &Vars) -> Result<Option<VapidSettings>, ConfigError> {
    let Some((key, subject)) = vars.pair("VAPID_PRIVATE_KEY", "VAPID_SUBJECT")? else { return Ok(None) };
    if !subject.starts_with("mailto:") && !subject.starts_with("https://") {
        return Err(ConfigError::new("VAPID_SUBJECT", "must be a mailto: or https: contact for the push services"));
    }
    Ok(Some(VapidSettings { private_key: Secret(key), subject }))
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
        assert_eq!(settings.server.bind_addr, DEFAULT_BIND_ADDR);
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
        let err = Settings::from_vars(&vars(&[("VAPID_PRIVATE_KEY", key), ("VAPID_SUBJECT", "ops")])).unwrap_err();
        assert_eq!(err.variable, "VAPID_SUBJECT");
        let err = Settings::from_vars(&vars(&[("SMS_PROVIDER", "twilio"), ("TWILIO_ACCOUNT_SID", "AC1")])).unwrap_err();
        assert_eq!(err.variable, "TWILIO_AUTH_TOKEN");
        let err = Settings::from_vars(&vars(&[("SMS_PROVIDER", "carrier-pigeon")])).unwrap_err();
        assert_eq!(err.variable, "SMS_PROVIDER");
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
