//! A minimal HTTP/1.1 server on the async `Socket`: `GET /` answers
//! `Hello from blade-socket`.
//!
//! ```text
//! cargo run --example http_hello                  # 127.0.0.1:8080
//! cargo run --example http_hello -- 127.0.0.1:0   # an ephemeral port
//! curl -i http://127.0.0.1:8080/
//! ```
//!
//! The first line on stdout is `listening on HOST:PORT` with the real port;
//! each request is logged as one line on stderr. Ctrl-C (or `SIGTERM`) stops
//! accepting, lets requests in flight finish (up to 5 s, or until a second
//! Ctrl-C), and exits 0.
//!
//! One task per connection, with keep-alive (HTTP/1.1's default;
//! `Connection: close` is honoured) and pipelining. It never trusts a
//! client: a request head is capped at 8 KiB (`431`), must arrive within
//! 10 s (`408`), and must parse (`400`, `505`); a connection idle for 10 s
//! between requests is dropped. Only `GET` and `HEAD` are served (`405`
//! otherwise), only `/` exists (`404` otherwise), and request bodies are not
//! read: a request that has one gets its answer, then the connection closes.

mod common;

use common::{show, shutdown_signal};

use std::{
    process::ExitCode,
    time::{Duration, SystemTime},
};

use blade_socket::{SHUT_WR, Socket};
use tokio::{sync::watch, task::JoinSet, time::Instant};

const DEFAULT_ADDRESS: &str = "127.0.0.1:8080";
const BODY: &str = "Hello from blade-socket\n";

/// The largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 8 * 1024;
/// How long a keep-alive connection may sit idle between requests.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request head may take to arrive, once it has started.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may take to be sent.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection drains what the client still sends.
const LINGER: Duration = Duration::from_secs(2);
/// How long, after Ctrl-C, requests in flight may take to finish (a second
/// Ctrl-C cuts it short).
const GRACE: Duration = Duration::from_secs(5);
/// The most bytes asked of one `receive`.
const CHUNK: usize = 4096;

#[tokio::main]
async fn main() -> ExitCode {
    common::serve_main("http_hello", DEFAULT_ADDRESS, |host, port| async move {
        serve(&host, port).await
    })
    .await
}

async fn serve(host: &str, port: u16) -> Result<(), String> {
    let listener = common::listen(host, port).await?;

    // `true` once the server is stopping: idle connections end, busy ones
    // finish their request and answer `Connection: close`.
    let (stopping, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut signal = std::pin::pin!(shutdown_signal());
    let why = loop {
        tokio::select! {
            // `accept` is cancel safe: losing the race to a signal drops no connection.
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
                    connections.spawn(connection(conn, stop.clone()));
                }
                Err(e) => {
                    // Such as `Too many open files`: report, breathe, carry on.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reap finished connections, so the set does not grow forever.
            Some(finished) = connections.join_next() => {
                if let Err(e) = finished {
                    eprintln!("a connection task failed: {e}");
                }
            }
            why = &mut signal => break why,
        }
    };

    drop(listener);
    eprintln!("{why}: stopping; {} connection(s) open", connections.len());
    let _ = stopping.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    tokio::select! {
        () = drain => {}
        () = tokio::time::sleep(GRACE) => eprintln!("cutting off the rest after {GRACE:?}"),
        why = shutdown_signal() => eprintln!("{why} again: cutting off the rest"),
    }
    Ok(()) // dropping `connections` aborts what is left
}

/// Serves one connection: request after request until the client closes,
/// goes idle, asks to close, or misbehaves. Nothing here can affect another
/// connection, and no input can make it panic.
async fn connection(mut conn: Socket, mut stop: watch::Receiver<bool>) {
    let peer = show(&conn.host(), conn.port());
    conn.set_receive_timeout(Some(IDLE_TIMEOUT));
    conn.set_send_timeout(Some(SEND_TIMEOUT));
    // A response goes out in one `send`; don't let Nagle hold its tail back.
    let _ = conn.set_nodelay(true);

    let mut pending = Vec::new(); // received, not yet parsed (pipelining)
    loop {
        let (response, keep_alive) = match read_head(&conn, &mut pending, &mut stop).await {
            Ok(head) => answer(&head, *stop.borrow(), &peer),
            Err(End::Quietly) => return,
            Err(End::Abandoned(why)) => {
                eprintln!("{peer} {why}");
                return;
            }
            Err(End::Refuse((status, why))) => {
                eprintln!("{peer} {} ({why})", status.code);
                (refusal(status), false)
            }
        };
        if let Err(e) = conn.send(&response).await {
            eprintln!("{peer} send failed: {e}");
            return;
        }
        if !keep_alive {
            close_gracefully(conn).await;
            return;
        }
    }
}

/// Why a connection stops waiting for a request.
enum End {
    /// Between requests: the client closed or went idle, or the server is stopping.
    Quietly,
    /// Mid-request: the client vanished; there is no one to answer.
    Abandoned(String),
    /// Answer with this status and close.
    Refuse(Refusal),
}

/// Receives until `pending` holds a whole request head, and takes it out.
async fn read_head(
    conn: &Socket,
    pending: &mut Vec<u8>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Vec<u8>, End> {
    let mut deadline = None;
    loop {
        // Blank lines before a request are allowed (RFC 9112, section 2.2).
        let blank = pending
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        pending.drain(..blank);
        if let Some(end) = head_end(pending) {
            return Ok(pending.drain(..end).collect());
        }
        // Refuse a bad request line at once, rather than wait for a head
        // that a client sending garbage may never finish.
        if let Some(eol) = pending.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&pending[..eol]);
            if let Err(refusal) = parse_request_line(line.trim_end_matches('\r')) {
                return Err(End::Refuse(refusal));
            }
        }
        if pending.len() > MAX_HEAD {
            return Err(End::Refuse((HEAD_TOO_LARGE, "request head over 8 KiB")));
        }

        let idle = pending.is_empty();
        let received = if idle {
            // Between requests: wait up to the receive timeout, or until the
            // server stops. `receive` is cancel safe, so losing the race
            // loses no bytes.
            tokio::select! {
                r = conn.receive(Some(CHUNK)) => r,
                _ = stop.wait_for(|&stopping| stopping) => return Err(End::Quietly),
            }
        } else {
            // Mid-request: the whole head must arrive in time, however
            // slowly it trickles in (slowloris).
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + HEAD_TIMEOUT);
            match tokio::time::timeout_at(deadline, conn.receive(Some(CHUNK))).await {
                Ok(r) => r,
                Err(_) => return Err(End::Refuse((REQUEST_TIMEOUT, "request head too slow"))),
            }
        };
        match received {
            Ok(Some(bytes)) => pending.extend_from_slice(&bytes),
            // Between requests, a close, an idle timeout or a reset just ends it.
            Ok(None) | Err(_) if idle => return Err(End::Quietly),
            Ok(None) => return Err(End::Abandoned("closed mid-request".to_owned())),
            Err(e) if e.is_timeout() => {
                return Err(End::Refuse((REQUEST_TIMEOUT, "request head too slow")));
            }
            Err(e) => return Err(End::Abandoned(format!("receive failed: {e}"))),
        }
    }
}

/// The length of the head at the start of `buf` (through its empty line),
/// if it is all there. Bare `\n` line ends are accepted, as RFC 9112 allows.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            let line = &buf[line_start..i];
            if line.is_empty() || line == b"\r" {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

/// After a final response: shut our direction, so the client reads the
/// response and then end of file, and drain what it still sends for a
/// moment. Closing with unread bytes queued would send a reset, which can
/// destroy the response before the client has read it.
async fn close_gracefully(conn: Socket) {
    if conn.shutdown(SHUT_WR).is_err() {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        let mut drained = 0;
        while drained < 64 * 1024 {
            match conn.receive(Some(CHUNK)).await {
                Ok(Some(bytes)) => drained += bytes.len(),
                _ => break,
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------- HTTP

/// A status code with its reason phrase.
#[derive(Clone, Copy)]
struct Status {
    code: u16,
    reason: &'static str,
}

impl Status {
    const fn new(code: u16, reason: &'static str) -> Status {
        Status { code, reason }
    }
}

const OK: Status = Status::new(200, "OK");
const BAD_REQUEST: Status = Status::new(400, "Bad Request");
const NOT_FOUND: Status = Status::new(404, "Not Found");
const METHOD_NOT_ALLOWED: Status = Status::new(405, "Method Not Allowed");
const REQUEST_TIMEOUT: Status = Status::new(408, "Request Timeout");
const HEAD_TOO_LARGE: Status = Status::new(431, "Request Header Fields Too Large");
const VERSION_NOT_SUPPORTED: Status = Status::new(505, "HTTP Version Not Supported");

/// A status to answer with, and why (for the log).
type Refusal = (Status, &'static str);

/// A parsed request head, borrowing from the received bytes.
struct Request<'a> {
    method: &'a str,
    target: &'a str,
    version: &'a str,
    headers: Vec<(&'a str, &'a str)>,
}

impl Request<'_> {
    /// Every value of header `name`, which is case-insensitive.
    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    /// Whether a comma-separated header (such as `Connection`) lists `token`.
    fn lists(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// Parses a request head (RFC 9112), strictly: whatever is not clearly
/// valid is an error, answered with `400` (or `505` for another version).
fn parse(head: &[u8]) -> Result<Request<'_>, Refusal> {
    let text = std::str::from_utf8(head).map_err(|_| (BAD_REQUEST, "request head is not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let (method, target, version) = parse_request_line(lines.next().unwrap_or_default())?;

    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let bad = |why| (BAD_REQUEST, why);
        let (name, value) = line.split_once(':').ok_or(bad("header without a colon"))?;
        // A space before the colon, or a folded line, is rejected (RFC 9112, 5.1-5.2).
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(bad("malformed header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(bad("control character in a header value"));
        }
        headers.push((name, value));
    }
    let req = Request {
        method,
        target,
        version,
        headers,
    };
    // HTTP/1.1 requires exactly one Host (RFC 9112, section 3.2).
    if version == "HTTP/1.1" && req.header("host").count() != 1 {
        return Err((BAD_REQUEST, "HTTP/1.1 needs exactly one Host header"));
    }
    Ok(req)
}

/// Splits and checks a request line: `METHOD TARGET HTTP/1.x`.
fn parse_request_line(line: &str) -> Result<(&str, &str, &str), Refusal> {
    let bad = |why| (BAD_REQUEST, why);
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(bad("malformed method"));
    }
    let visible = |s: &str| s.bytes().all(|b| b > b' ' && b != 0x7f);
    if !(target.starts_with('/') || target == "*") || !visible(target) {
        return Err(bad("malformed request target"));
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => Ok((method, target, version)),
        v if v.starts_with("HTTP/") => Err((VERSION_NOT_SUPPORTED, "unsupported HTTP version")),
        _ => Err(bad("malformed HTTP version")),
    }
}

/// A token character (RFC 9110, section 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Answers one request head: the response, and whether to keep the
/// connection open. Logs one line.
fn answer(head: &[u8], stopping: bool, peer: &str) -> (Vec<u8>, bool) {
    let req = match parse(head) {
        Ok(req) => req,
        Err((status, why)) => {
            eprintln!("{peer} {} ({why})", status.code);
            return (refusal(status), false);
        }
    };
    let http10 = req.version == "HTTP/1.0";
    // This server does not read request bodies, so a request with one is the
    // connection's last: the body's bytes must not be taken for a request.
    let has_body = req.header("transfer-encoding").next().is_some()
        || req.header("content-length").any(|v| v != "0");
    let keep_alive = !has_body
        && !stopping
        && if http10 {
            req.lists("connection", "keep-alive")
        } else {
            !req.lists("connection", "close")
        };

    let head_only = req.method == "HEAD";
    let path = req.target.split('?').next().unwrap_or_default();
    let (status, extra, body): (_, &[(&str, &str)], _) = match (req.method, path) {
        ("GET" | "HEAD", "/") => (OK, &[], BODY),
        ("GET" | "HEAD", _) => (NOT_FOUND, &[], "Not Found\n"),
        _ => (
            METHOD_NOT_ALLOWED,
            &[("Allow", "GET, HEAD")],
            "Method Not Allowed\n",
        ),
    };
    let connection = match (keep_alive, http10) {
        (false, _) => Some("close"),
        (true, true) => Some("keep-alive"), // HTTP/1.0 closes unless told
        (true, false) => None,              // HTTP/1.1 keeps alive unless told
    };
    let sent = if head_only { 0 } else { body.len() };
    eprintln!(
        "{peer} \"{} {} {}\" {} {sent}",
        req.method, req.target, req.version, status.code
    );
    (
        respond(status, extra, body, head_only, connection),
        keep_alive,
    )
}

/// The response to a request refused outright; the connection closes after it.
fn refusal(status: Status) -> Vec<u8> {
    let body = format!("{}\n", status.reason);
    respond(status, &[], &body, false, Some("close"))
}

/// Builds a response: status line, headers, and the body unless `head_only`
/// (a `HEAD` gets the headers a `GET` would, `Content-Length` included).
fn respond(
    status: Status,
    extra: &[(&str, &str)],
    body: &str,
    head_only: bool,
    connection: Option<&str>,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n\
         Date: {}\r\n\
         Server: blade-socket-http_hello\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n",
        status.code,
        status.reason,
        http_date(SystemTime::now()),
        body.len()
    );
    let connection = connection.map(|c| ("Connection", c));
    for (name, value) in extra.iter().copied().chain(connection) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut response = head.into_bytes();
    if !head_only {
        response.extend_from_slice(body.as_bytes());
    }
    response
}

// ---------------------------------------------------------------- helpers

/// The `Date` header's format (RFC 9110, section 5.6.7), e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(now: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}
