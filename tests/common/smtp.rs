//! A real SMTP server standing in for the mail relay.

/// What the test SMTP server accepted: each message's recipients and its raw data.
pub type Mailbox = std::sync::Arc<std::sync::Mutex<Vec<(Vec<String>, String)>>>;

pub const SMTP_USER: &str = "shop";
pub const SMTP_PASSWORD: &str = "smtp-test-password";

/// A real SMTP server for the tests: it speaks enough of RFC 5321 for lettre, takes mail only
/// after `AUTH PLAIN` with `SMTP_USER`/`SMTP_PASSWORD`, refuses mailboxes containing
/// "unknown" with 550, and keeps every message it accepts.
pub fn smtp_server() -> (u16, Mailbox) {
    use base64::Engine;
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = messages.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let _ = write!(stream, "220 test.local ESMTP\r\n");
                let mut recipients = Vec::new();
                let mut authenticated = false;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.trim_end().to_ascii_uppercase();
                    let reply = if command.starts_with("EHLO") || command.starts_with("HELO") {
                        "250-test.local\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n".to_string()
                    } else if command.starts_with("AUTH PLAIN ") {
                        let given = base64::engine::general_purpose::STANDARD.decode(line.trim_end()[11..].trim());
                        authenticated =
                            given.ok().as_deref() == Some(format!("\0{SMTP_USER}\0{SMTP_PASSWORD}").as_bytes());
                        let reply = if authenticated { "235 2.7.0 OK\r\n" } else { "535 5.7.8 bad credentials\r\n" };
                        reply.to_string()
                    } else if !authenticated && (command.starts_with("MAIL FROM") || command.starts_with("RCPT TO")) {
                        "530 5.7.0 authentication required\r\n".into()
                    } else if command.starts_with("MAIL FROM") {
                        recipients.clear();
                        "250 2.1.0 OK\r\n".into()
                    } else if command.starts_with("RCPT TO") {
                        if command.contains("UNKNOWN") {
                            "550 5.1.1 no such mailbox\r\n".into()
                        } else {
                            recipients.push(line.trim_end()[8..].to_string());
                            "250 2.1.5 OK\r\n".into()
                        }
                    } else if command == "DATA" {
                        let _ = write!(stream, "354 go ahead\r\n");
                        let mut data = String::new();
                        loop {
                            line.clear();
                            reader.read_line(&mut line).unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        kept.lock().unwrap().push((recipients.clone(), data));
                        "250 2.0.0 queued as T1\r\n".into()
                    } else if command == "QUIT" {
                        let _ = write!(stream, "221 bye\r\n");
                        return;
                    } else {
                        "250 OK\r\n".into()
                    };
                    let _ = stream.write_all(reply.as_bytes());
                }
            });
        }
    });
    (port, messages)
}
