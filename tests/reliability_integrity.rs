//! Reliability 3: data integrity.
//!
//! - A stream of pseudo-random bytes from the async API to the blocking
//!   facade, and one from the blocking facade to the async API, sent and
//!   received in random chunk sizes (`receive(None)` snapshots included),
//!   compared by checksum and byte by byte.
//! - Concurrent connections to an echo server, each echoing its own
//!   pseudo-random stream in random chunks while it reads the echo back,
//!   every byte verified: once with the async API on both sides, once with
//!   the blocking facade on both sides (a thread per connection end; on the
//!   async face each thread awaits its calls on the shared runtime). Each
//!   scenario is written once (`support::face`) and run on both faces.
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

use blade_socket::Shutdown;
use support::face::{Face, FaceSocket, runtime};

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

/// Receives until end of file (or `limit` bytes), in random lengths;
/// returns the checksum and length. Checks every byte against `pat`.
fn drain(s: &FaceSocket, pat: Pattern, seed: u64, limit: Option<u64>) -> (u64, u64) {
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

/// `n` bytes of `pat` in random chunks; returns the checksum sent.
fn feed(s: &FaceSocket, pat: Pattern, n: usize, seed: u64) -> u64 {
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

/// Runs `f` on a thread, failing if it outlives [`transfer_limit`].
fn bounded(what: &'static str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(transfer_limit())
        .unwrap_or_else(|e| panic!("{what} exceeded its time bound (or panicked): {e:?}"));
}

/// One stream from a `from` socket to a `to` socket, over one connection.
fn stream(from: Face, to: Face, pat: Pattern, seeds: [u64; 2]) {
    let n = stream_size();
    let (c, s) = runtime().block_on(tcp_pair());
    let (mut c, s) = (from.wrap(c), to.wrap(s));
    let t = Instant::now();
    let reader = std::thread::spawn(move || drain(&s, pat, seeds[1], None));
    let sent = feed(&c, pat, n, seeds[0]);
    c.shutdown(Shutdown::Write).unwrap();
    let (got, len) = reader.join().unwrap();
    assert_eq!(len, n as u64, "byte count");
    assert_eq!(got, sent, "checksum sent {sent:#x}, received {got:#x}");
    report_rate(&format!("{} -> {}", from.name(), to.name()), n, t);
}

#[test]
fn stream_async_to_blocking() {
    bounded("transfer", || {
        stream(Face::Async, Face::Blocking, Pattern::new(0xa2b), [1, 2]);
    });
}

#[test]
fn stream_blocking_to_async() {
    bounded("transfer", || {
        stream(Face::Blocking, Face::Async, Pattern::new(0xb2a), [3, 4]);
    });
}

// ================================================================== echo

/// The echo server: a thread per connection, echoing in random lengths
/// until end of file, then half-closing.
fn echo_server(l: FaceSocket, mut seed: u64) {
    while let Ok(mut conn) = l.accept() {
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
fn echo_concurrent_connections() {
    for face in Face::BOTH {
        bounded("echo", move || echo(face));
    }
}

/// [`CONNECTIONS`] clients of one face echo their streams through a server
/// of the same face.
fn echo(face: Face) {
    let per = echo_size();
    let l = face.listener(None);
    let port = l.port();
    // Seeds per face, as the two suites had: 100/1000.. and 500/7000..
    let [server_seed, pat_base] = match face {
        Face::Async => [100, 1000],
        Face::Blocking => [500, 7000],
    };
    std::thread::spawn(move || echo_server(l, server_seed));
    let t = Instant::now();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| std::thread::spawn(move || echo_client(face, port, pat_base, i, per)))
        .collect();
    let total: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(total, (CONNECTIONS * per) as u64);
    report_rate(
        &format!(
            "{CONNECTIONS} {} echo connections x {} MiB",
            face.name(),
            per / MIB
        ),
        CONNECTIONS * per,
        t,
    );
}

/// One echo client: writes its stream on one thread while reading the echo
/// back on another, every byte checked; then half-closes and sees EOF.
fn echo_client(face: Face, port: u16, base: u64, i: usize, per: usize) -> u64 {
    let mut c = face.tcp().unwrap();
    c.connect(None, port, None).unwrap();
    let c = Arc::new(c);
    let pat = Pattern::new(base + i as u64);
    let writer = {
        let c = Arc::clone(&c);
        std::thread::spawn(move || feed(&c, pat, per, base + 1000 + i as u64))
    };
    let (got, len) = drain(&c, pat, base + 2000 + i as u64, Some(per as u64));
    let sent = writer.join().unwrap();
    assert_eq!(len, per as u64, "connection {i}: byte count");
    assert_eq!(got, sent, "connection {i}: checksum");
    let mut c = Arc::try_unwrap(c).expect("writer done");
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.receive(None).unwrap(), None, "connection {i}: EOF");
    len
}
