//! The cost of `receive(None)` on a large amount already queued, in ns per
//! byte, at two sizes: equal figures mean the cost grows linearly.
//!
//! A TCP socket on loopback cannot be made to hold megabytes unread: its
//! receive window stays small while nobody reads (on this machine about
//! 700 KB even after autotuning). So the data waits in a Unix stream socket
//! (`socketpair`, received through `blocking::Socket::from_fd`), whose queue
//! is bounded only by the sender's send buffer; `receive(None)` takes the
//! same path there (`FIONREAD`, one buffer, `recv` until full). That buffer
//! is capped by `net.core.wmem_max` (doubled): 8 MiB here, so a larger size
//! is measured at what fits, and the report says so.
//!
//! The receiver is the blocking facade: the data is there, so the call
//! never waits and no reactor is involved. For reference, the same amount
//! is also read with std's `read_exact` into a buffer reused across
//! repetitions: the copy alone, without allocating or faulting in pages.

use std::{
    io::{ErrorKind, Read, Write},
    os::{fd::OwnedFd, unix::net::UnixStream},
    time::Instant,
};

use blade_socket::blocking;
use socket2::SockRef;

use crate::{
    Ctx,
    harness::{self, STALL},
};

pub const NAME: &str = "receive_none";

/// One size's median costs.
#[derive(Clone, Copy, Debug)]
pub struct Cost {
    /// The size asked for, and the size measured (smaller when the queue
    /// cannot hold the size asked for).
    pub asked: usize,
    pub bytes: usize,
    /// `receive(None)`, and std's `read_exact` into a reused buffer.
    pub ns_per_byte: f64,
    pub copy_ns_per_byte: f64,
}

pub fn run(ctx: &Ctx) -> Vec<Cost> {
    let sizes = ctx.scale.snapshot_sizes;
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let (mut tx, rx) = sender_pair(largest);
    let ours = blocking::Socket::from_fd(OwnedFd::from(rx)).expect("from_fd");
    ours.set_receive_timeout(Some(STALL));
    let (mut copy_tx, mut copy_rx) = sender_pair(largest);
    copy_rx.set_read_timeout(Some(STALL)).expect("read timeout");

    let payload = vec![0x3cu8; largest];
    let capacity = queue(&mut tx, &payload);
    drain(&ours, capacity);
    let mut reused = vec![0u8; capacity];
    let reps = ctx.scale.snapshot_reps;
    let costs = sizes
        .iter()
        .map(|&asked| {
            let bytes = asked.min(capacity);
            let (mut ns, mut copy_ns) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
            for _ in 0..reps {
                ns.push(time_snapshot(&mut tx, &ours, &payload[..bytes]));
                copy_ns.push(time_copy(&mut copy_tx, &mut copy_rx, &mut reused[..bytes]));
            }
            Cost {
                asked,
                bytes,
                ns_per_byte: harness::median(&mut ns),
                copy_ns_per_byte: harness::median(&mut copy_ns),
            }
        })
        .collect();
    eprintln!("  {NAME}: done");
    costs
}

/// A Unix stream pair whose first end (non-blocking) can queue about
/// `bytes` for the second: as much as the OS allows up to that.
fn sender_pair(bytes: usize) -> (UnixStream, UnixStream) {
    let (tx, rx) = UnixStream::pair().expect("socketpair");
    // Twice the data, for the kernel's bookkeeping; the OS caps the request.
    SockRef::from(&tx)
        .set_send_buffer_size(bytes.saturating_mul(2))
        .expect("SO_SNDBUF");
    tx.set_nonblocking(true).expect("non-blocking sender");
    (tx, rx)
}

/// Queues `payload` whole, then times one `receive(None)` of it.
fn time_snapshot(tx: &mut UnixStream, rx: &blocking::Socket, payload: &[u8]) -> f64 {
    let queued = queue(tx, payload);
    assert_eq!(queued, payload.len(), "the queue took less than before");
    let started = Instant::now();
    let snapshot = rx.receive(None).expect("receive(None)");
    let elapsed = started.elapsed();
    let got = snapshot.map_or(0, |b| b.len());
    assert_eq!(got, queued, "receive(None) returned part of the queue");
    elapsed.as_nanos() as f64 / got as f64
}

/// Queues `buf.len()` bytes, then times std's `read_exact` of them into `buf`.
fn time_copy(tx: &mut UnixStream, rx: &mut UnixStream, buf: &mut [u8]) -> f64 {
    let queued = queue(tx, &vec![0x3cu8; buf.len()]);
    assert_eq!(queued, buf.len(), "the reference queue took less");
    let started = Instant::now();
    rx.read_exact(buf).expect("read_exact");
    started.elapsed().as_nanos() as f64 / buf.len() as f64
}

/// Writes as much of `payload` as the queue takes without waiting; returns
/// the count.
fn queue(tx: &mut UnixStream, payload: &[u8]) -> usize {
    let mut written = 0;
    // Each pass writes at least one byte, or stops.
    while written < payload.len() {
        match tx.write(&payload[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("queue the payload: {e}"),
        }
    }
    written
}

/// Reads and discards exactly `bytes`.
fn drain(rx: &blocking::Socket, bytes: usize) {
    let mut got = 0;
    while got < bytes {
        let n = rx.receive(None).expect("drain").map_or(0, |b| b.len());
        assert!(n > 0, "the sender closed after {got} of {bytes} bytes");
        got += n;
    }
}

/// `receive_none SIZE ns_per_byte X` per size, then how the cost grew.
pub fn report(costs: &[Cost]) {
    for c in costs {
        let note = if c.bytes < c.asked {
            format!(
                " [{} asked; the queue holds at most {} bytes: net.core.wmem_max]",
                size_name(c.asked),
                c.bytes
            )
        } else {
            String::new()
        };
        println!(
            "receive_none {} ns_per_byte {:.4} ({:.2} GB/s; std read_exact into a reused buffer {:.4}){note}",
            size_name(c.bytes),
            c.ns_per_byte,
            1.0 / c.ns_per_byte,
            c.copy_ns_per_byte
        );
    }
    if let [small, large] = costs {
        println!(
            "receive_none growth {:.3} (ns/byte at {} over {}; 1.0 is linear; the std copy alone: {:.3})",
            large.ns_per_byte / small.ns_per_byte,
            size_name(large.bytes),
            size_name(small.bytes),
            large.copy_ns_per_byte / small.copy_ns_per_byte
        );
    }
    println!();
}

fn size_name(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    if bytes % MIB == 0 {
        format!("{}MiB", bytes / MIB)
    } else if bytes % 1024 == 0 && bytes < MIB {
        format!("{}KiB", bytes / 1024)
    } else {
        format!("{:.2}MiB", bytes as f64 / MIB as f64)
    }
}
