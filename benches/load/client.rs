//! Just enough HTTP/1.1 client for the benchmark: one keep-alive connection per thread,
//! blocking sockets, no allocation beyond the answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A comma-separated list of numbers (`BENCH_CLIENTS=64,200`).
pub fn env_numbers(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(text) => {
            let numbers: Vec<usize> = text.split(',').filter_map(|n| n.trim().parse().ok()).collect();
            if numbers.is_empty() {
                default.to_vec()
            } else {
                numbers
            }
        }
        Err(_) => default.to_vec(),
    }
}

/// Lowers the calling thread's scheduling priority by `BENCH_CLIENT_NICE` (default 10; 0
/// leaves it). The load generator shares the machine's cores with the server it measures;
/// on 2 cores, hundreds of client threads at the server's priority take most of the CPU
/// from its few threads, and the latencies measured would be the clients' own queueing.
/// With a lower priority the server is served first, as on a machine of its own.
pub fn lower_priority() {
    let nice = env_number("BENCH_CLIENT_NICE", 10) as libc::c_int;
    if nice > 0 {
        // On Linux a thread has its own nice value: `who` 0 is the calling thread.
        unsafe {
            libc::setpriority(libc::PRIO_PROCESS, 0, nice);
        }
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    addr: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        Client { addr: addr.to_string(), reader: BufReader::new(stream.try_clone().unwrap()), writer: stream }
    }

    /// Sends a request; a connection the server closed while it sat idle (past its keep-alive,
    /// as a set-up connection does during long phases) is opened again, once.
    pub fn send(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
        let socket = self.reader.get_ref();
        socket.set_nonblocking(true).ok();
        // Nothing to read on an open idle connection (WouldBlock); end of stream on a closed one.
        let closed = matches!(socket.peek(&mut [0u8; 1]), Ok(0));
        socket.set_nonblocking(false).ok();
        if closed && self.reader.buffer().is_empty() {
            *self = Client::connect(&self.addr);
        }
        match self.send_once(method, path, token, body) {
            Some(answer) => answer,
            // Closed between the look and the write: once more on a new connection.
            None => {
                *self = Client::connect(&self.addr);
                self.send_once(method, path, token, body).expect("an answer on a fresh connection")
            }
        }
    }

    fn send_once(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Option<(u16, String)> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body);
        self.writer.write_all(head.as_bytes()).ok()?;
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).expect("body");
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// Latency percentiles: (p50, p95, p99, max) in milliseconds.
pub struct Latencies {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latencies {
    pub fn of(mut latencies: Vec<Duration>) -> Latencies {
        latencies.sort();
        Latencies {
            p50: percentile(&latencies, 0.50),
            p95: percentile(&latencies, 0.95),
            p99: percentile(&latencies, 0.99),
            max: percentile(&latencies, 1.0),
        }
    }
}

impl std::fmt::Display for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms", self.p50, self.p95, self.p99, self.max)
    }
}
