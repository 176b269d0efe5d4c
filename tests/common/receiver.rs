//! A real HTTP server standing in for a provider (Twilio, Infobip, a push service) or a
//! customer's webhook receiver: it answers with scripted replies in turn (then 200) and keeps
//! every request it got.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A status and a JSON body. A 201 also carries a `Location` (as push services answer); a
    /// 3xx carries the body as its `Location`.
    Reply(u16, String),
    /// Takes the request and never answers (until the connection is dropped a minute later):
    /// the sender is left waiting between sending and recording.
    Stall,
}

/// One request: the headers (lower-case names, plus the request path as `:path`) and the body.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub bytes: Vec<u8>,
}

impl Received {
    pub fn body(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`
    pub url: String,
    pub requests: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn received(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

/// Answers with the scripted statuses in turn, then 200.
pub fn receiver(script: Vec<u16>) -> Receiver {
    receiver_with(script.into_iter().map(|status| (status, String::new())).collect())
}

/// Answers with the scripted statuses and bodies in turn, then 200.
pub fn receiver_with(script: Vec<(u16, String)>) -> Receiver {
    scripted(script.into_iter().map(|(status, body)| Answer::Reply(status, body)).collect())
}

pub fn scripted(script: Vec<Answer>) -> Receiver {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Some(request) = read_request(&mut stream) else { continue };
            let number = {
                let mut seen = seen.lock().unwrap();
                seen.push(request);
                seen.len()
            };
            match script.next().unwrap_or(Answer::Reply(200, String::new())) {
                Answer::Stall => {
                    std::thread::spawn(move || {
                        std::thread::sleep(std::time::Duration::from_secs(60));
                        drop(stream);
                    });
                }
                Answer::Reply(status, answer) => {
                    let location = match status {
                        201 => format!("Location: /messages/{number}\r\n"),
                        // A redirect's scripted body is where it points.
                        300..=399 => format!("Location: {answer}\r\n"),
                        _ => String::new(),
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                }
            }
        }
    });
    Receiver { url, requests }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = HashMap::new();
    headers.insert(":path".to_string(), line.split_whitespace().nth(1).unwrap_or("").to_string());
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut bytes = vec![0u8; length];
    reader.read_exact(&mut bytes).ok()?;
    Some(Received { headers, bytes })
}
