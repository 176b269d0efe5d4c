//! The email channel: SMTP through lettre's blocking transport (the sender runs on a blocking
//! thread, as the HTTP providers do with ureq), a plain-text and an HTML part.
//!
//! `SMTP_URL` is lettre's URL form: `smtp://host:port` (no TLS, for a local relay),
//! `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS).

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Message, SmtpTransport, Transport};

use super::providers::Delivery;
use super::templates::EmailContent;
use crate::config::ConfigError;

/// The longest connecting, or any one read or write of the conversation, may take.
const IO_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest the whole conversation may take: a server that answers each step slowly must
/// not hold the sender past its lease either.
const SEND_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Email {
    transport: SmtpTransport,
    from: Mailbox,
}

impl Email {
    pub fn new(smtp_url: &str, from: &str) -> Result<Email, ConfigError> {
        let transport = SmtpTransport::from_url(smtp_url)
            .map_err(|e| ConfigError::new("SMTP_URL", e.to_string()))?
            .timeout(Some(IO_LIMIT))
            .build();
        let from =
            from.parse().map_err(|e: lettre::address::AddressError| ConfigError::new("EMAIL_FROM", e.to_string()))?;
        Ok(Email { transport, from })
    }

    /// Sends one message. SMTP's own classes decide: 5xx answers (an unknown mailbox) are
    /// final, everything else (4xx, connection trouble) is worth a retry. Refused credentials
    /// (530, 534, 535, 538) are the exception: nothing is wrong with the message, the
    /// operator's `SMTP_URL` is, so it is retried while they fix it.
    ///
    /// The `Message-ID` is the notification's (`<{id}@{sender's domain}>`): a mail provider's
    /// event webhook names the message by it (`email_events`).
    pub fn send(&self, to: &str, content: &EmailContent, notification_id: &str) -> Delivery {
        let to: Mailbox = match to.parse() {
            Ok(to) => to,
            Err(e) => return Delivery::Permanent(format!("not a mailbox: {e}")),
        };
        let message_id = format!("<{notification_id}@{}>", self.from.email.domain());
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(content.subject.clone())
            .message_id(Some(message_id));
        if let Some(url) = &content.unsubscribe_url {
            // RFC 8058: a mail client's "unsubscribe" button POSTs to the address, no login.
            builder = builder.header(ListUnsubscribe(format!("<{url}>"))).header(ListUnsubscribePost);
        }
        let message = builder.multipart(body(content));
        let message = match message {
            Ok(message) => message,
            Err(e) => return Delivery::Permanent(format!("could not build the message: {e}")),
        };
        // The conversation runs on a thread of its own so the sender stops waiting at
        // SEND_LIMIT; a conversation left behind ends by itself within IO_LIMIT of its next step.
        let (transport, (done, answer)) = (self.transport.clone(), std::sync::mpsc::channel());
        std::thread::spawn(move || done.send(transport.send(&message)));
        let answer = match answer.recv_timeout(SEND_LIMIT) {
            Ok(answer) => answer,
            Err(_) => {
                return Delivery::Transient(format!("the mail server did not finish within {} s", SEND_LIMIT.as_secs()))
            }
        };
        match answer {
            Ok(response) => {
                Delivery::Sent { provider_ref: response.message().next().map(|line| line.chars().take(200).collect()) }
            }
            Err(e) if e.status().map(u16::from).is_some_and(|code| matches!(code, 530 | 534 | 535 | 538)) => {
                Delivery::Transient(format!("the mail server refused our credentials (check SMTP_URL): {e}"))
            }
            Err(e) if e.is_permanent() => Delivery::Permanent(format!("the mail server refused: {e}")),
            Err(e) => Delivery::Transient(format!("the mail server did not take it: {e}")),
        }
    }
}

/// The plain text and the HTML as alternatives; images the HTML shows (the ready email's QR
/// code) travel with it as inline parts (`multipart/related`), named by Content-ID.
fn body(content: &EmailContent) -> MultiPart {
    if content.inline_png.is_empty() {
        return MultiPart::alternative_plain_html(content.text.clone(), content.html.clone());
    }
    let png = ContentType::parse("image/png").expect("a valid content type");
    let mut related = MultiPart::related().singlepart(SinglePart::html(content.html.clone()));
    for (id, bytes) in &content.inline_png {
        related = related.singlepart(Attachment::new_inline(id.to_string()).body(bytes.clone(), png.clone()));
    }
    MultiPart::alternative().singlepart(SinglePart::plain(content.text.clone())).multipart(related)
}

/// `List-Unsubscribe: <url>` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Clone)]
struct ListUnsubscribePost;

impl lettre::message::header::Header for ListUnsubscribePost {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}
