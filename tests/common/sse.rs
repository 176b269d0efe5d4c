//! A server-sent events client over a plain socket, as a browser's `EventSource` reads a
//! stream: HTTP/1.1, chunked body, events split on blank lines. Blocking, with a deadline per
//! read; use it against a server on its own thread (`TestApp::serve`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One event: `id:`, `event:` and `data:` (parsed as JSON).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub name: String,
    pub data: serde_json::Value,
}

pub struct Stream {
    reader: BufReader<TcpStream>,
    /// Body text received and not yet split into events.
    pending: String,
    /// Comment lines seen (heartbeats).
    pub comments: usize,
    pub ended: bool,
}

/// What a request to open a stream answered: a stream, or a refusal with its status and body.
pub enum Opened {
    Stream(Stream),
    Refused(u16, serde_json::Value),
}

impl Opened {
    pub fn stream(self) -> Stream {
        match self {
            Opened::Stream(stream) => stream,
            Opened::Refused(status, body) => panic!("the stream was refused: {status} {body}"),
        }
    }

    pub fn refused(self) -> (u16, serde_json::Value) {
        match self {
            Opened::Stream(_) => panic!("the stream was opened"),
            Opened::Refused(status, body) => (status, body),
        }
    }
}

/// Opens `path` on `base` (`http://host:port`) with extra headers.
pub fn open(base: &str, path: &str, headers: &[(&str, &str)]) -> Opened {
    let host = base.trim_start_matches("http://");
    let socket = TcpStream::connect(host).expect("the server listens");
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    (&socket).write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(socket);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status_line = read_line(&mut reader, deadline).expect("a status line");
    let status: u16 = status_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = None;
    loop {
        let line = read_line(&mut reader, deadline).expect("headers");
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    if status != 200 {
        let mut body = vec![0; length.unwrap_or(0)];
        reader.get_mut().set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        reader.read_exact(&mut body).unwrap();
        return Opened::Refused(status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
    }
    Opened::Stream(Stream { reader, pending: String::new(), comments: 0, ended: false })
}

/// One line, waiting up to `deadline`; `None` at the end of the stream.
fn read_line(reader: &mut BufReader<TcpStream>, deadline: Instant) -> Option<String> {
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return if line.is_empty() { None } else { Some(line) },
            Ok(_) if line.ends_with('\n') => return Some(line),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                assert!(Instant::now() < deadline, "nothing arrived in time (so far {line:?})");
            }
            Err(e) => panic!("reading the stream: {e}"),
        }
    }
}

impl Stream {
    /// The next event, waiting up to `within`; `None` when the stream ends first.
    pub fn next(&mut self, within: Duration) -> Option<Event> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(at) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..at + 2).collect();
                let mut event = Event { id: String::new(), name: String::new(), data: serde_json::Value::Null };
                let mut is_event = false;
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some((field, value)) = line.split_once(": ") {
                        match field {
                            "id" => event.id = value.to_string(),
                            "event" => {
                                event.name = value.to_string();
                                is_event = true;
                            }
                            "data" => event.data = serde_json::from_str(value).unwrap(),
                            _ => {}
                        }
                    }
                }
                if is_event {
                    return Some(event);
                }
                continue;
            }
            if self.ended {
                return None;
            }
            // A chunk: its size in hex, its bytes, CRLF; size 0 ends the body.
            let size = match read_line_until(&mut self.reader, deadline)? {
                Some(line) => usize::from_str_radix(line.trim(), 16).expect("a chunk size"),
                None => {
                    self.ended = true;
                    continue;
                }
            };
            if size == 0 {
                self.ended = true;
                continue;
            }
            let mut chunk = vec![0; size + 2];
            read_exact_until(&mut self.reader, &mut chunk, deadline)?;
            self.pending.push_str(std::str::from_utf8(&chunk[..size]).unwrap());
        }
    }

    /// Events until none comes for `quiet`.
    pub fn drain(&mut self, quiet: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.next(quiet) {
            events.push(event);
        }
        events
    }

    /// Whether the server ended the stream within `within` (events before the end are
    /// skipped).
    pub fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.next(deadline - Instant::now()).is_none() && self.ended {
                return true;
            }
        }
        false
    }
}

/// `Some(None)`: the stream ended; `None`: the deadline passed.
fn read_line_until(reader: &mut BufReader<TcpStream>, deadline: Instant) -> Option<Option<String>> {
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return Some(None),
            Ok(_) if line.ends_with('\n') => return Some(Some(line)),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if Instant::now() >= deadline {
                    return None;
                }
            }
            Err(_) => return Some(None),
        }
    }
}

fn read_exact_until(reader: &mut BufReader<TcpStream>, buffer: &mut [u8], deadline: Instant) -> Option<()> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => return None,
            Ok(n) => filled += n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if Instant::now() >= deadline {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    Some(())
}
