//! Customer notifications: the outbox written with each order change, the sender that works
//! it off, and the per-order list. Templates and delivery channels plug in here.

pub mod channels;
pub mod email;
pub mod fallback;
pub mod infobip;
pub mod locale;
pub mod outbox;
pub mod push;
pub mod routes;
pub mod sender;
pub mod sms;
pub mod targets;
pub mod templates;
pub mod twilio;
pub mod webhook;
