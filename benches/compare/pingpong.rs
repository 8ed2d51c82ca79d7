//! 64-byte ping-pong on one connection: round trips per second, p50, p99.
//!
//! The server is the same for both variants of a pair: a raw tokio task
//! (async pair) or a std thread (blocking pair), echoing a fixed number of
//! messages. The clients set `TCP_NODELAY`, send 64 bytes and read exactly
//! 64 back; ours reads with `receive_into`, and in the `receive` pair with
//! `receive(Some(n))`, the call Blade users write.

use std::{
    io::{Read, Write},
    net::TcpStream as StdStream,
    thread,
    time::Instant,
};

use blade_socket::{Socket, blocking};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinHandle,
};

use crate::{
    Ctx,
    conn::{
        self, Addr, ours_async_connected, ours_blocking_connected, std_connected, tokio_connected,
    },
    harness::{self, PER_SECOND, PairResult, STALL, Sample, Stopwatch},
};

pub const MSG: [u8; 64] = [0x5a; 64];

/// How many round trips a client makes: `warmup` untimed, then `timed`.
#[derive(Clone, Copy, Debug)]
pub struct Rounds {
    pub warmup: usize,
    pub timed: usize,
}

impl Rounds {
    fn of(ctx: &Ctx) -> Rounds {
        Rounds {
            warmup: ctx.scale.pingpong_warmup,
            timed: ctx.scale.pingpong_rounds,
        }
    }

    pub fn total(self) -> usize {
        self.warmup + self.timed
    }
}

pub fn async_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let rounds = Rounds::of(ctx);
    let run = |client: fn(Addr, Rounds) -> JoinHandle<Sample>| {
        ctx.rt.block_on(async {
            let (addr, server) = start_tokio_echo(rounds.total()).await;
            let sample = harness::within(client(addr, rounds)).await;
            harness::within(server).await;
            sample
        })
    };
    harness::compare(
        name,
        PER_SECOND,
        ctx.scale.reps,
        || run(|addr, r| tokio::spawn(ours_async(addr, r))),
        || run(|addr, r| tokio::spawn(tokio_client(addr, r))),
    )
}

/// As [`async_pair`], ours reading with `receive(Some(n))`.
pub fn async_receive_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let rounds = Rounds::of(ctx);
    let run = |client: fn(Addr, Rounds) -> JoinHandle<Sample>| {
        ctx.rt.block_on(async {
            let (addr, server) = start_tokio_echo(rounds.total()).await;
            let sample = harness::within(client(addr, rounds)).await;
            harness::within(server).await;
            sample
        })
    };
    harness::compare(
        name,
        PER_SECOND,
        ctx.scale.reps,
        || run(|addr, r| tokio::spawn(ours_async_receive(addr, r))),
        || run(|addr, r| tokio::spawn(tokio_client(addr, r))),
    )
}

pub fn blocking_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let rounds = Rounds::of(ctx);
    let run = |client: fn(Addr, Rounds) -> Sample| {
        let (addr, server) = start_std_echo(rounds.total());
        let sample = client(addr, rounds);
        server.join().expect("the echo thread panicked");
        sample
    };
    harness::compare(
        name,
        PER_SECOND,
        ctx.scale.reps,
        || run(ours_blocking),
        || run(std_client),
    )
}

/// Runs `rounds.warmup` untimed round trips, then times `rounds.timed` of
/// them. A macro, not a function taking an async closure: such a closure's
/// future cannot be shown to be `Send` for `tokio::spawn`.
macro_rules! time_round_trips {
    ($rounds:expr, $round_trip:expr) => {{
        let rounds: Rounds = $rounds;
        for _ in 0..rounds.warmup {
            $round_trip;
        }
        let mut watch = Stopwatch::start(rounds.timed);
        for _ in 0..rounds.timed {
            let t = Instant::now();
            $round_trip;
            watch.lap(t);
        }
        watch.finish()
    }};
}

// ----- servers (shared by both variants) -------------------------------------

/// A tokio task echoing `total` 64-byte messages on one connection; must be
/// called inside the runtime.
pub async fn start_tokio_echo(total: usize) -> (Addr, JoinHandle<()>) {
    let (listener, addr) = conn::tokio_listener();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("accept");
        conn.set_nodelay(true).expect("nodelay");
        let mut buf = MSG;
        for _ in 0..total {
            conn.read_exact(&mut buf).await.expect("echo read");
            conn.write_all(&buf).await.expect("echo write");
        }
    });
    (addr, server)
}

/// A std thread echoing `total` 64-byte messages on one connection.
pub fn start_std_echo(total: usize) -> (Addr, thread::JoinHandle<()>) {
    let (listener, addr) = conn::std_listener();
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_nodelay(true).expect("nodelay");
        conn.set_read_timeout(Some(STALL)).expect("read timeout");
        let mut buf = MSG;
        for _ in 0..total {
            conn.read_exact(&mut buf).expect("echo read");
            conn.write_all(&buf).expect("echo write");
        }
    });
    (addr, server)
}

// ----- async clients ---------------------------------------------------------

/// Reads with `receive_into`, as tokio's client reads into its buffer;
/// `receive` would add one `Bytes` allocation per call (about 2-3% here).
pub async fn ours_round_trip(s: &Socket) {
    s.send(MSG).await.expect("send");
    let mut buf = MSG;
    let mut got = 0;
    // Each pass takes at least one byte, so at most 64 passes.
    while got < MSG.len() {
        let n = s.receive_into(&mut buf[got..]).await.expect("receive");
        assert!(n > 0, "the echo server closed early");
        got += n;
    }
}

pub async fn ours_async(addr: Addr, rounds: Rounds) -> Sample {
    let s = ours_async_connected(addr).await;
    time_round_trips!(rounds, ours_round_trip(&s).await)
}

/// Reads with `receive(Some(n))`: a `Bytes` per call.
pub async fn ours_receive_round_trip(s: &Socket) {
    s.send(MSG).await.expect("send");
    let mut got = 0;
    // Each pass takes at least one byte, so at most 64 passes.
    while got < MSG.len() {
        let b = s.receive(Some(MSG.len() - got)).await.expect("receive");
        got += b.expect("the echo server closed early").len();
    }
}

pub async fn ours_async_receive(addr: Addr, rounds: Rounds) -> Sample {
    let s = ours_async_connected(addr).await;
    time_round_trips!(rounds, ours_receive_round_trip(&s).await)
}

pub async fn tokio_round_trip(s: &mut TcpStream) {
    let mut buf = MSG;
    s.write_all(&MSG).await.expect("write");
    s.read_exact(&mut buf).await.expect("read");
}

pub async fn tokio_client(addr: Addr, rounds: Rounds) -> Sample {
    let mut s = tokio_connected(addr).await;
    time_round_trips!(rounds, tokio_round_trip(&mut s).await)
}

// ----- blocking clients ------------------------------------------------------

pub fn ours_blocking_round_trip(s: &blocking::Socket) {
    s.send(MSG).expect("send");
    let mut buf = MSG;
    let mut got = 0;
    while got < MSG.len() {
        let n = s.receive_into(&mut buf[got..]).expect("receive");
        assert!(n > 0, "the echo server closed early");
        got += n;
    }
}

pub fn std_round_trip(s: &mut StdStream) {
    let mut buf = MSG;
    s.write_all(&MSG).expect("write");
    s.read_exact(&mut buf).expect("read");
}

pub fn ours_blocking(addr: Addr, rounds: Rounds) -> Sample {
    let s = ours_blocking_connected(addr);
    time_round_trips!(rounds, ours_blocking_round_trip(&s))
}

pub fn std_client(addr: Addr, rounds: Rounds) -> Sample {
    let mut s = std_connected(addr);
    time_round_trips!(rounds, std_round_trip(&mut s))
}
