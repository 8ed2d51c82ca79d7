//! Bulk transfer, one way, in 64 KiB writes: GB/s.
//!
//! `bulk_*` (issue 3) measures the sending side: the client, ours or the
//! peer, writes the whole amount in `CHUNK` writes to a common sink server
//! that reads 64 KiB at a time; the clock stops when the sink has read the
//! last byte. `bulk_recv_*` measures the receiving side the same way round: a
//! common source server writes `CHUNK`s once the client says go, and the
//! client reads them 64 KiB at a time (ours with `receive(Some(CHUNK))`).

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
    harness::{self, GB_PER_SECOND, PairResult, STALL, Sample},
};

/// The size of every write, and of every read.
pub const CHUNK: usize = 64 * 1024;

const GO: &[u8] = b"g";

pub fn async_send_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let bytes = ctx.scale.bulk_bytes;
    let run = |client: fn(Addr, usize) -> JoinHandle<Instant>| {
        ctx.rt.block_on(async {
            let (addr, sink) = start_tokio_sink(bytes).await;
            let started = harness::within(client(addr, bytes)).await;
            let done = harness::within(sink).await;
            Sample::rate(bytes as f64, done - started)
        })
    };
    harness::compare(
        name,
        GB_PER_SECOND,
        ctx.scale.reps,
        || run(|addr, n| tokio::spawn(ours_async_send(addr, n))),
        || run(|addr, n| tokio::spawn(tokio_send(addr, n))),
    )
}

pub fn blocking_send_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let bytes = ctx.scale.bulk_bytes;
    let run = |client: fn(Addr, usize) -> Instant| {
        let (addr, sink) = start_std_sink(bytes);
        let started = client(addr, bytes);
        let done = sink.join().expect("the sink thread panicked");
        Sample::rate(bytes as f64, done - started)
    };
    harness::compare(
        name,
        GB_PER_SECOND,
        ctx.scale.reps,
        || run(ours_blocking_send),
        || run(std_send),
    )
}

pub fn async_recv_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let bytes = ctx.scale.bulk_bytes;
    let run = |client: fn(Addr, usize) -> JoinHandle<Sample>| {
        ctx.rt.block_on(async {
            let (addr, source) = start_tokio_source(bytes).await;
            let sample = harness::within(client(addr, bytes)).await;
            harness::within(source).await;
            sample
        })
    };
    harness::compare(
        name,
        GB_PER_SECOND,
        ctx.scale.reps,
        || run(|addr, n| tokio::spawn(ours_async_recv(addr, n))),
        || run(|addr, n| tokio::spawn(tokio_recv(addr, n))),
    )
}

pub fn blocking_recv_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let bytes = ctx.scale.bulk_bytes;
    let run = |client: fn(Addr, usize) -> Sample| {
        let (addr, source) = start_std_source(bytes);
        let sample = client(addr, bytes);
        source.join().expect("the source thread panicked");
        sample
    };
    harness::compare(
        name,
        GB_PER_SECOND,
        ctx.scale.reps,
        || run(ours_blocking_recv),
        || run(std_recv),
    )
}

// ----- servers (shared by both variants) -------------------------------------

/// Reads `bytes` from one connection, 64 KiB at a time; returns when done.
async fn start_tokio_sink(bytes: usize) -> (Addr, JoinHandle<Instant>) {
    let (listener, addr) = conn::tokio_listener();
    let sink = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        // Each pass reads at least one byte, or fails.
        while got < bytes {
            let n = conn.read(&mut buf).await.expect("sink read");
            assert!(n > 0, "the sender closed after {got} of {bytes} bytes");
            got += n;
        }
        Instant::now()
    });
    (addr, sink)
}

fn start_std_sink(bytes: usize) -> (Addr, thread::JoinHandle<Instant>) {
    let (listener, addr) = conn::std_listener();
    let sink = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(STALL)).expect("read timeout");
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        while got < bytes {
            let n = conn.read(&mut buf).expect("sink read");
            assert!(n > 0, "the sender closed after {got} of {bytes} bytes");
            got += n;
        }
        Instant::now()
    });
    (addr, sink)
}

/// Waits for the client's go, then writes `bytes` in `CHUNK` writes.
async fn start_tokio_source(bytes: usize) -> (Addr, JoinHandle<()>) {
    let (listener, addr) = conn::tokio_listener();
    let source = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("accept");
        conn.read_exact(&mut [0u8; GO.len()])
            .await
            .expect("read go");
        let chunk = vec![0xa5u8; CHUNK];
        for _ in 0..bytes / CHUNK {
            conn.write_all(&chunk).await.expect("source write");
        }
    });
    (addr, source)
}

fn start_std_source(bytes: usize) -> (Addr, thread::JoinHandle<()>) {
    let (listener, addr) = conn::std_listener();
    let source = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(STALL)).expect("read timeout");
        conn.set_write_timeout(Some(STALL)).expect("write timeout");
        conn.read_exact(&mut [0u8; GO.len()]).expect("read go");
        let chunk = vec![0xa5u8; CHUNK];
        for _ in 0..bytes / CHUNK {
            conn.write_all(&chunk).expect("source write");
        }
    });
    (addr, source)
}

// ----- senders: return when the last write is accepted, with the start time --

async fn ours_async_send(addr: Addr, bytes: usize) -> Instant {
    let s = ours_async_connected(addr).await;
    let chunk = vec![0xa5u8; CHUNK];
    let started = Instant::now();
    for _ in 0..bytes / CHUNK {
        s.send(&chunk).await.expect("send");
    }
    started
}

async fn tokio_send(addr: Addr, bytes: usize) -> Instant {
    let mut s = tokio_connected(addr).await;
    let chunk = vec![0xa5u8; CHUNK];
    let started = Instant::now();
    for _ in 0..bytes / CHUNK {
        s.write_all(&chunk).await.expect("write");
    }
    started
}

fn ours_blocking_send(addr: Addr, bytes: usize) -> Instant {
    let s = ours_blocking_connected(addr);
    let chunk = vec![0xa5u8; CHUNK];
    let started = Instant::now();
    for _ in 0..bytes / CHUNK {
        s.send(&chunk).expect("send");
    }
    started
}

fn std_send(addr: Addr, bytes: usize) -> Instant {
    let mut s = std_connected(addr);
    let chunk = vec![0xa5u8; CHUNK];
    let started = Instant::now();
    for _ in 0..bytes / CHUNK {
        s.write_all(&chunk).expect("write");
    }
    started
}

// ----- receivers: one small read function per variant -----------------------

async fn ours_async_read(s: &Socket) -> usize {
    let bytes = s.receive(Some(CHUNK)).await.expect("receive");
    bytes.map_or(0, |b| b.len())
}

async fn tokio_read(s: &mut TcpStream, buf: &mut [u8]) -> usize {
    s.read(buf).await.expect("read")
}

fn ours_blocking_read(s: &blocking::Socket) -> usize {
    let bytes = s.receive(Some(CHUNK)).expect("receive");
    bytes.map_or(0, |b| b.len())
}

fn std_read(s: &mut StdStream, buf: &mut [u8]) -> usize {
    s.read(buf).expect("read")
}

/// Adds one read's count to `got`, refusing an early end of file.
fn tally(got: &mut usize, n: usize, bytes: usize) {
    assert!(n > 0, "the source closed after {got} of {bytes} bytes");
    *got += n;
}

async fn ours_async_recv(addr: Addr, bytes: usize) -> Sample {
    let s = ours_async_connected(addr).await;
    s.send(GO).await.expect("send go");
    let started = Instant::now();
    let mut got = 0;
    while got < bytes {
        tally(&mut got, ours_async_read(&s).await, bytes);
    }
    Sample::rate(bytes as f64, started.elapsed())
}

async fn tokio_recv(addr: Addr, bytes: usize) -> Sample {
    let mut s = tokio_connected(addr).await;
    s.write_all(GO).await.expect("write go");
    let mut buf = vec![0u8; CHUNK];
    let started = Instant::now();
    let mut got = 0;
    while got < bytes {
        tally(&mut got, tokio_read(&mut s, &mut buf).await, bytes);
    }
    Sample::rate(bytes as f64, started.elapsed())
}

fn ours_blocking_recv(addr: Addr, bytes: usize) -> Sample {
    let s = ours_blocking_connected(addr);
    s.send(GO).expect("send go");
    let started = Instant::now();
    let mut got = 0;
    while got < bytes {
        tally(&mut got, ours_blocking_read(&s), bytes);
    }
    Sample::rate(bytes as f64, started.elapsed())
}

fn std_recv(addr: Addr, bytes: usize) -> Sample {
    let mut s = std_connected(addr);
    s.write_all(GO).expect("write go");
    let mut buf = vec![0u8; CHUNK];
    let started = Instant::now();
    let mut got = 0;
    while got < bytes {
        tally(&mut got, std_read(&mut s, &mut buf), bytes);
    }
    Sample::rate(bytes as f64, started.elapsed())
}
