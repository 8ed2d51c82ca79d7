//! A keep-alive HTTP/1.1 responder for load tests (`benches/wrk.sh`): every
//! request gets the same 13-byte answer. One request loop, over three kinds
//! of connection:
//!
//! - `blade`: the crate's `Socket`, through tokio's `AsyncRead`/`AsyncWrite`,
//!   the very code the `tokio` variant runs;
//! - `blade-methods`: the crate's `Socket` through its own methods,
//!   `receive_into` and `send`;
//! - `tokio`: `tokio::net::TcpListener` and `TcpStream`.
//!
//! ```text
//! cargo run --release --example http_bench_server -- blade 127.0.0.1:0
//! wrk -t1 -c16 -d5s http://127.0.0.1:PORT/
//! ```
//!
//! The first line on stdout is `listening on HOST:PORT` with the real port.
//! It runs until killed. Requests are parsed just enough for a load test:
//! heads end at an empty line, pipelined heads are answered in order, and
//! `Connection: close` closes; a request body is not expected (`wrk` sends
//! none), a head over 8 KiB closes the connection.

mod common;

use common::{parse_address, show};

use std::{io, process::ExitCode};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
/// The largest request head kept waiting for its end.
const MAX_HEAD: usize = 8 * 1024;

fn usage() -> &'static str {
    "usage: http_bench_server blade|blade-methods|tokio HOST:PORT   (port 0: an ephemeral one)"
}

#[derive(Clone, Copy)]
enum Variant {
    Blade,
    BladeMethods,
    Tokio,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (variant, address) = match args.as_slice() {
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        [variant, address] => (variant.as_str(), address.as_str()),
        _ => {
            eprintln!(
                "http_bench_server: expected a variant and an address\n{}",
                usage()
            );
            return ExitCode::from(2);
        }
    };
    let variant = match variant {
        "blade" => Variant::Blade,
        "blade-methods" => Variant::BladeMethods,
        "tokio" => Variant::Tokio,
        other => {
            eprintln!("http_bench_server: unknown variant {other:?}\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let (host, port) = match parse_address(address) {
        Ok(parts) => parts,
        Err(e) => {
            eprintln!("http_bench_server: {e}\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let served = match variant {
        Variant::Blade | Variant::BladeMethods => serve_blade(&host, port, variant).await,
        Variant::Tokio => serve_tokio(&host, port).await,
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_bench_server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_blade(host: &str, port: u16, variant: Variant) -> Result<(), String> {
    let listener = common::listen(host, port).await?;
    loop {
        match listener.accept().await {
            Ok(mut conn) => {
                let _ = conn.set_nodelay(true);
                match variant {
                    Variant::BladeMethods => tokio::spawn(respond(Methods(conn))),
                    _ => tokio::spawn(respond(Stream(conn))),
                };
            }
            Err(e) => backoff(e.into()).await,
        }
    }
}

async fn serve_tokio(host: &str, port: u16) -> Result<(), String> {
    // Set up as `common::listen` sets up the crate's listener.
    let ip: std::net::IpAddr = host
        .parse()
        .map_err(|e| format!("bad address {host:?}: {e}"))?;
    let listener = match ip {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .and_then(|s| {
        s.set_reuseaddr(true)?;
        s.bind((ip, port).into())?;
        s.listen(blade_socket::SOMAXCONN)
    })
    .map_err(|e| format!("listen on {}: {e}", show(host, port)))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "listening on {}",
        show(&local.ip().to_string(), local.port())
    );
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                let _ = conn.set_nodelay(true);
                tokio::spawn(respond(Stream(conn)));
            }
            Err(e) => backoff(e).await,
        }
    }
}

/// After a failed accept (such as `Too many open files`): report, breathe.
async fn backoff(e: io::Error) {
    eprintln!("accept: {e}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}

/// A connection's two operations, so that one request loop serves every variant.
trait Connection {
    /// Reads some bytes; 0 at end of file.
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `buf`.
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
}

/// Any tokio byte stream: `tokio::net::TcpStream`, or the crate's `Socket`.
struct Stream<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin> Connection for Stream<S> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).await
    }
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf).await
    }
}

/// The crate's `Socket` through its own methods.
struct Methods(blade_socket::Socket);

impl Connection for Methods {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.0.receive_into(buf).await?)
    }
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // `send` sends all of it, or fails.
        self.0.send(buf).await?;
        Ok(())
    }
}

/// Answers every request head on `conn` until the client closes, asks to
/// close, or sends a head too large; I/O errors just end the connection.
async fn respond(mut conn: impl Connection) {
    let mut buf = vec![0; 2 * MAX_HEAD];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4 * RESPONSE.len());
    loop {
        let n = match conn.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        // Answer every complete head received, in one write.
        let mut start = 0;
        let mut close = false;
        while let Some(end) = head_end(&buf[start..filled]) {
            close |= asks_to_close(&buf[start..start + end]);
            out.extend_from_slice(RESPONSE);
            start += end;
            if close {
                break;
            }
        }
        if !out.is_empty() {
            if conn.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if close || filled - start > MAX_HEAD {
            return;
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

/// The length of the head at the start of `buf` through its empty line.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Whether a head has a `Connection: close` header.
fn asks_to_close(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n').any(|line| {
        let line = String::from_utf8_lossy(line);
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("connection")
                && value
                    .split(',')
                    .any(|token| token.trim().eq_ignore_ascii_case("close"))
        })
    })
}
