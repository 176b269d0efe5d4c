//! Customer notifications, one job a file:
//! - `outbox`: all SQL over `notifications` (queued with each order change through the
//!   orders' `Announce`, claimed under a lease, recorded, listed, resent, receipts applied);
//! - `policy`: whether and when a claimed message goes out (still true, channel chosen and
//!   configured, quiet hours, fallback between channels, retry backoff);
//! - `compose` (with `templates`, `sms`, `locale`): the message in the customer's language;
//! - `delivery`: hands it to its provider; `providers` holds what every provider shares (the
//!   HTTP clients, what an HTTP status means); one module a provider (`email`, `twilio`,
//!   `infobip`, `push`, `webhook`, `whatsapp` through Twilio or Infobip, `viber`), each also reading
//!   and checking its own receipts;
//! - `sender`: the short loop over them; `routes`: the HTTP side.

pub mod channels;
pub mod compose;
pub mod delivery;
pub mod email;
pub mod email_events;
pub mod fallback;
pub mod infobip;
pub mod locale;
pub mod opens;
pub mod outbox;
pub mod policy;
pub mod providers;
pub mod push;
pub mod routes;
pub mod sender;
pub mod sms;
pub mod targets;
pub mod templates;
pub mod twilio;
pub mod viber;
pub mod webhook;
pub mod whatsapp;
