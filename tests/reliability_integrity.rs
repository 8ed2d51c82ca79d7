//! Reliability 3: data integrity.
//!
//! - A stream of pseudo-random bytes from the async API to the blocking
//!   facade, and one from the blocking facade to the async API, sent and
//!   received in random chunk sizes (`receive(None)` snapshots included),
//!   compared by checksum and byte by byte.
//! - Concurrent connections to an echo server, each echoing its own
//!   pseudo-random stream in random chunks while it reads the echo back,
//!   every byte verified: once with the async API on both sides, once with
//!   the blocking facade on both sides (a thread per connection end).
//!
//! Sizes: the default run streams 256 MiB each way and echoes 1 MiB on each
//! of 200 concurrent connections per face (about 10 s on 2 cores); heavy
//! (`BLADE_SOCKET_HEAVY=1`) streams 1 GiB each way and echoes 4 MiB on each
//! of the 200 connections.
mod support;
use support::*;

#[path = "support/reliability.rs"]
mod reliability;
use reliability::*;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use blade_socket::{Shutdown, Socket, blocking};

const MIB: usize = 1 << 20;
/// The largest chunk either side uses.
const MAX_CHUNK: usize = 1 << 20;

fn stream_size() -> usize {
    pick(256 * MIB, 1024 * MIB)
}

fn echo_size() -> usize {
    pick(MIB, 4 * MIB)
}

const CONNECTIONS: usize = 200;

/// A generous bound for the big transfers in a debug build on a slow
/// machine (the per-step [`LIMIT`] is for small steps).
fn transfer_limit() -> Duration {
    pick(Duration::from_secs(120), Duration::from_secs(600))
}

fn report_rate(what: &str, bytes: usize, t: Instant) {
    let secs = t.elapsed().as_secs_f64();
    println!(
        "integrity: {what}: {} MiB in {secs:.2} s ({:.0} MiB/s)",
        bytes / MIB,
        bytes as f64 / MIB as f64 / secs
    );
}

/// Receives on the blocking face until end of file (or `limit` bytes), in
/// random lengths; returns the checksum and length. Checks every byte
/// against `pat`.
fn blocking_drain(s: &blocking::Socket, pat: Pattern, seed: u64, limit: Option<u64>) -> (u64, u64) {
    let mut rng = Rng::new(seed);
    let mut sum = Checksum::new();
    let mut off = 0u64;
    loop {
        if limit == Some(off) {
            return (sum.sum(), off);
        }
        let want = match rng.next_u64() % 4 {
            0 => None,
            _ => Some(rng.chunk(MAX_CHUNK)),
        };
        match s.receive(want).expect("receive") {
            Some(b) => {
                assert!(!b.is_empty());
                if let Some(w) = want {
                    assert!(b.len() <= w, "receive({w}) returned {}", b.len());
                }
                pat.check(off, &b)
                    .unwrap_or_else(|at| panic!("wrong byte at offset {at}"));
                sum.update(&b);
                off += b.len() as u64;
            }
            None => return (sum.sum(), off),
        }
    }
}

async fn async_drain(s: &Socket, pat: Pattern, seed: u64, limit: Option<u64>) -> (u64, u64) {
    let mut rng = Rng::new(seed);
    let mut sum = Checksum::new();
    let mut off = 0u64;
    loop {
        if limit == Some(off) {
            return (sum.sum(), off);
        }
        let want = match rng.next_u64() % 4 {
            0 => None,
            _ => Some(rng.chunk(MAX_CHUNK)),
        };
        match s.receive(want).await.expect("receive") {
            Some(b) => {
                assert!(!b.is_empty());
                if let Some(w) = want {
                    assert!(b.len() <= w, "receive({w}) returned {}", b.len());
                }
                pat.check(off, &b)
                    .unwrap_or_else(|at| panic!("wrong byte at offset {at}"));
                sum.update(&b);
                off += b.len() as u64;
            }
            None => return (sum.sum(), off),
        }
    }
}

/// `n` bytes of `pat` in random chunks; returns the checksum sent.
async fn async_feed(s: &Socket, pat: Pattern, n: usize, seed: u64) -> u64 {
    let mut rng = Rng::new(seed);
    let mut sum = Checksum::new();
    let mut buf = vec![0u8; MAX_CHUNK];
    let mut off = 0usize;
    while off < n {
        let len = rng.chunk(MAX_CHUNK).min(n - off);
        pat.fill(off as u64, &mut buf[..len]);
        sum.update(&buf[..len]);
        assert_eq!(s.send(&buf[..len]).await.expect("send"), len);
        off += len;
    }
    sum.sum()
}

fn blocking_feed(s: &blocking::Socket, pat: Pattern, n: usize, seed: u64) -> u64 {
    let mut rng = Rng::new(seed);
    let mut sum = Checksum::new();
    let mut buf = vec![0u8; MAX_CHUNK];
    let mut off = 0usize;
    while off < n {
        let len = rng.chunk(MAX_CHUNK).min(n - off);
        pat.fill(off as u64, &mut buf[..len]);
        sum.update(&buf[..len]);
        assert_eq!(s.send(&buf[..len]).expect("send"), len);
        off += len;
    }
    sum.sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_async_to_blocking() {
    let n = stream_size();
    tokio::time::timeout(transfer_limit(), async move {
        let (c, s) = tcp_pair().await;
        let s: blocking::Socket = s.into();
        let pat = Pattern::new(0xa2b);
        let t = Instant::now();
        let reader = std::thread::spawn(move || blocking_drain(&s, pat, 2, None));
        let sent = async_feed(&c, pat, n, 1).await;
        c.shutdown(Shutdown::Write).unwrap();
        let (got, len) = tokio::task::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        assert_eq!(len, n as u64, "byte count");
        assert_eq!(got, sent, "checksum sent {sent:#x}, received {got:#x}");
        report_rate("async -> blocking", n, t);
    })
    .await
    .expect("transfer exceeded its time bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_blocking_to_async() {
    let n = stream_size();
    tokio::time::timeout(transfer_limit(), async move {
        let (c, s) = tcp_pair().await;
        let c: blocking::Socket = c.into();
        let pat = Pattern::new(0xb2a);
        let t = Instant::now();
        let writer = std::thread::spawn(move || {
            let sum = blocking_feed(&c, pat, n, 3);
            c.shutdown(Shutdown::Write).unwrap();
            sum
        });
        let (got, len) = async_drain(&s, pat, 4, None).await;
        let sent = tokio::task::spawn_blocking(move || writer.join().unwrap())
            .await
            .unwrap();
        assert_eq!(len, n as u64, "byte count");
        assert_eq!(got, sent, "checksum sent {sent:#x}, received {got:#x}");
        report_rate("blocking -> async", n, t);
    })
    .await
    .expect("transfer exceeded its time bound");
}

// ================================================================== echo

/// The async echo server: echoes each connection in random lengths until
/// end of file, then half-closes.
async fn async_echo_server(l: Socket) {
    let mut seed = 100u64;
    loop {
        let Ok(conn) = l.accept().await else {
            return;
        };
        seed += 1;
        tokio::spawn(async move {
            let mut rng = Rng::new(seed);
            loop {
                let want = match rng.next_u64() % 3 {
                    0 => None,
                    _ => Some(rng.chunk(256 * 1024)),
                };
                match conn.receive(want).await.expect("server receive") {
                    Some(b) => {
                        conn.send(&b).await.expect("server send");
                    }
                    None => break,
                }
            }
            conn.shutdown(Shutdown::Write).expect("server shutdown");
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_concurrent_connections_async() {
    let per = echo_size();
    tokio::time::timeout(transfer_limit(), async move {
        let l = listener().await;
        let port = l.port();
        let server = tokio::spawn(async_echo_server(l));
        let t = Instant::now();
        let mut clients = Vec::with_capacity(CONNECTIONS);
        for i in 0..CONNECTIONS {
            clients.push(tokio::spawn(async move {
                let mut c = Socket::tcp().unwrap();
                c.connect(None, port, None).await.unwrap();
                let c = Arc::new(c);
                let pat = Pattern::new(1000 + i as u64);
                let writer = {
                    let c = Arc::clone(&c);
                    tokio::spawn(async move { async_feed(&c, pat, per, 2000 + i as u64).await })
                };
                let (got, len) = async_drain(&c, pat, 3000 + i as u64, Some(per as u64)).await;
                let sent = writer.await.unwrap();
                assert_eq!(len, per as u64, "connection {i}: byte count");
                assert_eq!(got, sent, "connection {i}: checksum");
                // Half-close; the server then half-closes too: end of file.
                let c = Arc::try_unwrap(c).expect("writer done");
                c.shutdown(Shutdown::Write).unwrap();
                assert_eq!(c.receive(None).await.unwrap(), None, "connection {i}: EOF");
                len
            }));
        }
        let mut total = 0u64;
        for c in clients {
            total += c.await.unwrap();
        }
        server.abort();
        assert_eq!(total, (CONNECTIONS * per) as u64);
        report_rate(
            &format!("{CONNECTIONS} async echo connections x {} MiB", per / MIB),
            CONNECTIONS * per,
            t,
        );
    })
    .await
    .expect("echo exceeded its time bound");
}

/// The blocking echo server: a thread per connection.
fn blocking_echo_server(l: blocking::Socket) {
    let mut seed = 500u64;
    while let Ok(conn) = l.accept() {
        seed += 1;
        std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            loop {
                let want = match rng.next_u64() % 3 {
                    0 => None,
                    _ => Some(rng.chunk(256 * 1024)),
                };
                match conn.receive(want).expect("server receive") {
                    Some(b) => {
                        conn.send(&b).expect("server send");
                    }
                    None => break,
                }
            }
            conn.shutdown(Shutdown::Write).expect("server shutdown");
        });
    }
}

#[test]
fn echo_concurrent_connections_blocking() {
    let per = echo_size();
    let limit = transfer_limit();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let l = blocking_listener();
        let port = l.port();
        std::thread::spawn(move || blocking_echo_server(l));
        let t = Instant::now();
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut c = blocking::Socket::tcp().unwrap();
                    c.connect(None, port, None).unwrap();
                    let c = Arc::new(c);
                    let pat = Pattern::new(7000 + i as u64);
                    let writer = {
                        let c = Arc::clone(&c);
                        std::thread::spawn(move || blocking_feed(&c, pat, per, 8000 + i as u64))
                    };
                    let (got, len) = blocking_drain(&c, pat, 9000 + i as u64, Some(per as u64));
                    let sent = writer.join().unwrap();
                    assert_eq!(len, per as u64, "connection {i}: byte count");
                    assert_eq!(got, sent, "connection {i}: checksum");
                    let c = Arc::try_unwrap(c).expect("writer done");
                    c.shutdown(Shutdown::Write).unwrap();
                    assert_eq!(c.receive(None).unwrap(), None, "connection {i}: EOF");
                    len
                })
            })
            .collect();
        let total: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(total, (CONNECTIONS * per) as u64);
        report_rate(
            &format!(
                "{CONNECTIONS} blocking echo connections x {} MiB",
                per / MIB
            ),
            CONNECTIONS * per,
            t,
        );
        let _ = tx.send(());
    });
    rx.recv_timeout(limit)
        .expect("echo exceeded its time bound (or panicked)");
}
