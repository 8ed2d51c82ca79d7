//! Connect, accept and close, one connection after another: connections/s.
//!
//! The acceptor (a raw tokio task, or a std thread) is shared by both
//! variants: it accepts and drops each connection, and reports progress
//! every `BATCH` accepts. The client never gets more than two batches ahead,
//! so the listen backlog never overflows (see `conn::BACKLOG`). The clock
//! runs from the first connect until the acceptor has accepted the last one.

use std::{
    net::{TcpListener as StdListener, TcpStream as StdStream},
    sync::mpsc,
    thread,
    time::Instant,
};

use blade_socket::{Socket, blocking};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel},
    task::JoinHandle,
};

use crate::{
    Ctx,
    conn::{self, Addr},
    harness::{self, PER_SECOND, PairResult, STALL, Sample},
};

/// Accepts between progress reports: two batches stay far below the backlog.
const BATCH: usize = 256;

/// Whether the client, having just made connection `i` (from 1), waits for
/// the acceptor's next report, which says that `i - BATCH` are accepted: so
/// the client is never more than two batches ahead.
fn must_wait(i: usize) -> bool {
    i % BATCH == 0 && i >= 2 * BATCH
}

/// An async client: connects `n` times, pacing itself by the acceptor's
/// reports; returns its start time.
type AsyncClient = fn(Addr, usize, UnboundedReceiver<()>) -> JoinHandle<Instant>;

pub fn async_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let n = ctx.scale.connects;
    let run = |client: AsyncClient| {
        ctx.rt.block_on(async {
            let (listener, addr) = conn::tokio_listener();
            let (progress, accepted) = unbounded_channel();
            let acceptor = tokio::spawn(tokio_acceptor(listener, n, progress));
            let started = harness::within(client(addr, n, accepted)).await;
            let done = harness::within(acceptor).await;
            Sample::rate(n as f64, done - started)
        })
    };
    harness::compare(
        name,
        PER_SECOND,
        ctx.scale.reps,
        || run(|addr, n, acc| tokio::spawn(ours_async(addr, n, acc))),
        || run(|addr, n, acc| tokio::spawn(tokio_client(addr, n, acc))),
    )
}

pub fn blocking_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let n = ctx.scale.connects;
    let run = |client: fn(Addr, usize, &mpsc::Receiver<()>) -> Instant| {
        let (listener, addr) = conn::std_listener();
        let (progress, accepted) = mpsc::channel();
        let acceptor = thread::spawn(move || std_acceptor(listener, n, progress));
        let started = client(addr, n, &accepted);
        let done = acceptor.join().expect("the acceptor thread panicked");
        Sample::rate(n as f64, done - started)
    };
    harness::compare(
        name,
        PER_SECOND,
        ctx.scale.reps,
        || run(ours_blocking),
        || run(std_client),
    )
}

// ----- acceptors (shared by both variants) -----------------------------------

async fn tokio_acceptor(listener: TcpListener, n: usize, progress: UnboundedSender<()>) -> Instant {
    for i in 1..=n {
        drop(listener.accept().await.expect("accept"));
        if i % BATCH == 0 {
            // The client may already be done waiting; a closed channel is fine.
            let _ = progress.send(());
        }
    }
    Instant::now()
}

fn std_acceptor(listener: StdListener, n: usize, progress: mpsc::Sender<()>) -> Instant {
    for i in 1..=n {
        drop(listener.accept().expect("accept"));
        if i % BATCH == 0 {
            let _ = progress.send(());
        }
    }
    Instant::now()
}

// ----- clients: return the start time ----------------------------------------

async fn ours_async(addr: Addr, n: usize, mut accepted: UnboundedReceiver<()>) -> Instant {
    let started = Instant::now();
    for i in 1..=n {
        let mut s = Socket::tcp().expect("socket");
        conn::ours_connect(&mut s, addr).await;
        drop(s);
        if must_wait(i) {
            accepted.recv().await.expect("the acceptor stopped");
        }
    }
    started
}

async fn tokio_client(addr: Addr, n: usize, mut accepted: UnboundedReceiver<()>) -> Instant {
    let started = Instant::now();
    for i in 1..=n {
        let s = TcpStream::connect(addr).await.expect("connect");
        drop(s);
        if must_wait(i) {
            accepted.recv().await.expect("the acceptor stopped");
        }
    }
    started
}

fn ours_blocking(addr: Addr, n: usize, accepted: &mpsc::Receiver<()>) -> Instant {
    let started = Instant::now();
    for i in 1..=n {
        let mut s = blocking::Socket::tcp().expect("socket");
        conn::ours_blocking_connect(&mut s, addr);
        drop(s);
        if must_wait(i) {
            accepted.recv_timeout(STALL).expect("the acceptor stalled");
        }
    }
    started
}

/// std's plain blocking `connect`, what a std user writes.
fn std_client(addr: Addr, n: usize, accepted: &mpsc::Receiver<()>) -> Instant {
    let started = Instant::now();
    for i in 1..=n {
        let s = StdStream::connect(addr).expect("connect");
        drop(s);
        if must_wait(i) {
            accepted.recv_timeout(STALL).expect("the acceptor stalled");
        }
    }
    started
}
