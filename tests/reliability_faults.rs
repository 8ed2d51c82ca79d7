//! Reliability 2: faults.
//!
//! - A peer reset (`SO_LINGER` zero, then close) while a `receive`, or a
//!   `send`, is pending: the call fails with the OS error, the socket is
//!   closed, nothing hangs. Async (the future is polled until it is pending
//!   first) and blocking (the calling thread is seen asleep in the kernel
//!   first).
//! - A peer that closes mid-transfer: the receiver gets every byte sent, then
//!   end of file; a sender whose reader vanishes gets an error, never a hang.
//! - Half-close in both directions, and `SHUT_RD`.
//! - `close_shared` from another task (async) or thread (blocking) while
//!   `receive`, `accept` or `send` is pending: the call wakes with `socket
//!   is in an illegal state`, and the descriptor is released once it has
//!   returned (no descriptor refers to the socket's inode any more).
//! - The runtime shut down while operations are pending: spawned operations
//!   are dropped (their descriptors released, their peers see end of file);
//!   operations awaited from outside the runtime (`Handle::block_on` on other
//!   threads) return an error, without hanging or panicking; the blocking
//!   facade on a user runtime that shuts down keeps working (in a child).
//! - Cancellation: `receive` and `accept` futures dropped, cut off by
//!   `tokio::time::timeout`, or losing a `select!`, lose no byte and no
//!   connection.
//! - No `SIGPIPE`: the tests that write to a vanished peer run once more in a
//!   child process with `SIGPIPE` at its default disposition (which kills).
//!
//! Sizes: quick (default) moves 8 MiB per mid-transfer test and 4 MiB through
//! the cancellation stream, with 500 cancelled receives, 200 connections
//! through cancelled accepts, 40 runtime shutdowns and 10,000 calls racing
//! `close_shared` per face (about 2 s on 2 cores, with the racing tests);
//! heavy (`BLADE_SOCKET_HEAVY=1`) moves 64 MiB and 32 MiB, with 5,000
//! cancelled receives, 1,000 connections, 400 shutdowns and 30,000 racing
//! calls per face.
mod support;
use support::*;

#[path = "support/reliability.rs"]
mod reliability;
use reliability::*;

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::Poll,
    time::{Duration, Instant},
};

use support::face::{Face, FaceSocket};

use blade_socket::{
    ErrorKind, SO_LINGER, SO_RCVBUF, SO_SNDBUF, Shutdown, Socket, SocketError, blocking,
};

const MIB: usize = 1 << 20;

/// Set in a child process: restore `SIGPIPE`'s default disposition first.
const SIGPIPE_ENV: &str = "BLADE_SOCKET_FAULTS_SIGPIPE_DFL";

fn assert_peer_gone(e: &SocketError, what: &str) {
    assert_eq!(e.kind(), ErrorKind::Os, "{what}: {e:?}");
    assert!(
        matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)),
        "{what}: {e:?}"
    );
}

/// `/proc/self/fd/<fd>`'s target (`socket:[inode]`), naming the open file
/// itself rather than its reusable number.
fn inode_of(fd: i32) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .expect("readlink fd")
        .to_string_lossy()
        .into_owned()
}

/// Whether any descriptor of this process still refers to `inode`.
fn inode_open(inode: &str) -> bool {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok())
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|p| p.to_string_lossy() == inode))
}

/// Waits until the thread named `name` (15 characters at most) is asleep in
/// the kernel in something other than a futex: parked in `poll(2)` (or
/// another blocking call) on behalf of the operation it was started for.
fn wait_blocked(name: &str) {
    assert!(name.len() <= 15, "thread names are cut at 15 bytes");
    let found = poll_until(LIMIT, Duration::from_millis(1), || {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return false;
        };
        tasks.filter_map(|t| t.ok()).any(|t| {
            let dir = t.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                return false;
            }
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .unwrap_or("");
            let wchan = std::fs::read_to_string(dir.join("wchan")).unwrap_or_default();
            state == "S" && wchan != "0" && !wchan.is_empty() && !wchan.contains("futex")
        })
    });
    assert!(found, "thread {name} never blocked in the kernel");
}

/// Spawns a named thread (so [`wait_blocked`] can find it).
fn named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("spawn thread")
}

/// Resets the connection from this end: zero linger, then close.
fn reset(s: &mut Socket) {
    s.set_option(SO_LINGER, Duration::ZERO).unwrap();
    s.close().unwrap();
}

fn reset_blocking(s: &mut blocking::Socket) {
    s.set_option(SO_LINGER, Duration::ZERO).unwrap();
    s.close().unwrap();
}

/// In the `SIGPIPE` child, makes a `SIGPIPE` kill the process again
/// (Rust's runtime ignores it by default).
fn sigpipe_default_in_child() {
    if std::env::var_os(SIGPIPE_ENV).is_some() {
        default_sigpipe();
    }
}

/// A connected pair whose buffers are small, so that a send fills them fast.
async fn small_buffer_pair() -> (Socket, Socket) {
    let mut l = listener().await;
    l.set_option(SO_RCVBUF, 16 * 1024).unwrap();
    let mut c = Socket::tcp().unwrap();
    c.set_option(SO_SNDBUF, 16 * 1024).unwrap();
    c.connect(None, l.port(), None).await.unwrap();
    let s = l.accept().await.unwrap();
    (c, s)
}

fn small_buffer_blocking_pair() -> (blocking::Socket, blocking::Socket) {
    let mut l = blocking_listener();
    l.set_option(SO_RCVBUF, 16 * 1024).unwrap();
    let mut c = blocking::Socket::tcp().unwrap();
    c.set_option(SO_SNDBUF, 16 * 1024).unwrap();
    c.connect(None, l.port(), None).unwrap();
    let s = l.accept().unwrap();
    (c, s)
}

// ===================================================== peer reset, async

#[tokio::test]
async fn peer_reset_during_receive_async() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        let mut rx = Box::pin(c.receive(None));
        assert!(poll_once(&mut rx).await.is_pending(), "nothing sent yet");
        reset(&mut s);
        let e = rx.await.expect_err("a reset fails the pending receive");
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e:?}");
        assert_eq!(e.kind(), ErrorKind::Os);
        assert!(c.is_closed() && c.id() == -1 && !c.is_connected());
        assert_illegal(c.receive(None).await, "receive after the reset");
        assert_illegal(c.send("x").await, "send after the reset");
    })
    .await;
}

#[tokio::test]
async fn peer_reset_during_send_async() {
    sigpipe_default_in_child();
    within(async {
        let (c, mut s) = small_buffer_pair().await;
        let big = Pattern::new(1).bytes(0, 16 * MIB);
        let mut tx = Box::pin(c.send(&big));
        assert!(
            poll_once(&mut tx).await.is_pending(),
            "16 MiB cannot fit the buffers of a peer that does not read"
        );
        reset(&mut s);
        let e = tx.await.expect_err("a reset fails the pending send");
        assert_peer_gone(&e, "send during a reset");
        assert!(c.is_closed() && c.id() == -1);
        assert_illegal(c.send("x").await, "send after the reset");
    })
    .await;
}

// ================================================== peer reset, blocking

#[test]
fn peer_reset_during_receive_blocking() {
    within_blocking(|| {
        let (c, mut s) = blocking_pair();
        let c = Arc::new(c);
        let c2 = Arc::clone(&c);
        let t = named("flt-rst-rx", move || c2.receive(None));
        wait_blocked("flt-rst-rx");
        reset_blocking(&mut s);
        let e = t
            .join()
            .unwrap()
            .expect_err("a reset fails the pending receive");
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e:?}");
        assert!(c.is_closed() && c.id() == -1);
        assert_illegal(c.receive(None), "receive after the reset");
    });
}

#[test]
fn peer_reset_during_send_blocking() {
    sigpipe_default_in_child();
    within_blocking(|| {
        let (c, mut s) = small_buffer_blocking_pair();
        let c = Arc::new(c);
        let c2 = Arc::clone(&c);
        let t = named("flt-rst-tx", move || {
            let big = Pattern::new(2).bytes(0, 16 * MIB);
            c2.send(&big)
        });
        wait_blocked("flt-rst-tx");
        reset_blocking(&mut s);
        let e = t
            .join()
            .unwrap()
            .expect_err("a reset fails the pending send");
        assert_peer_gone(&e, "send during a reset");
        assert!(c.is_closed() && c.id() == -1);
        assert_illegal(c.send("x"), "send after the reset");
    });
}

// =========================================== peer close mid-transfer

fn transfer_size() -> usize {
    pick(8 * MIB, 64 * MIB)
}

/// The sender sends a pattern in random chunks and closes (drops) while the
/// receiver is still reading: the receiver gets every byte, then end of
/// file, and stays open.
#[test]
fn sender_closes_mid_transfer_receiver_gets_everything() {
    Face::both(|face| {
        let (c, s) = face.pair();
        let n = transfer_size();
        let seed = match face {
            Face::Async => 3,
            Face::Blocking => 6,
        };
        let pat = Pattern::new(seed);
        let sender = std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            let mut off = 0usize;
            while off < n {
                let len = rng.chunk(256 * 1024).min(n - off);
                let sent = c.send(pat.bytes(off as u64, len)).unwrap();
                assert_eq!(sent, len);
                off += len;
            }
            drop(c); // close with the receiver mid-read
        });
        let mut rng = Rng::new(seed + 1);
        let mut off = 0u64;
        loop {
            let want = if rng.next_u64() % 3 == 0 {
                None
            } else {
                Some(rng.chunk(300_000))
            };
            match s.receive(want).expect("receive") {
                Some(b) => {
                    if let Some(w) = want {
                        assert!(b.len() <= w);
                    }
                    pat.check(off, &b)
                        .unwrap_or_else(|at| panic!("wrong byte at {at}"));
                    off += b.len() as u64;
                }
                None => break,
            }
        }
        sender.join().unwrap();
        assert_eq!(off, n as u64, "every byte arrives before end of file");
        // End of file is not an error and does not close the socket.
        assert!(!s.is_closed() && s.is_connected());
        assert_eq!(s.receive(None).unwrap(), None);
    });
}

/// The reader reads a little and vanishes (closing with unread data resets
/// the connection): the pending sender fails, it does not hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_closes_mid_transfer_sender_fails_async() {
    sigpipe_default_in_child();
    within(async {
        let (c, s) = small_buffer_pair().await;
        let n = transfer_size();
        let reader = tokio::spawn(async move {
            let got = receive_exact(&s, MIB).await;
            assert_eq!(got.len(), MIB);
            Pattern::new(5).check(0, &got).unwrap();
            drop(s);
        });
        let big = Pattern::new(5).bytes(0, n);
        let e = c.send(&big).await.expect_err("the reader vanished");
        assert_peer_gone(&e, "send to a vanished reader");
        assert!(c.is_closed());
        reader.await.unwrap();
    })
    .await;
}

#[test]
fn receiver_closes_mid_transfer_sender_fails_blocking() {
    sigpipe_default_in_child();
    within_blocking(|| {
        let (c, s) = small_buffer_blocking_pair();
        let n = transfer_size();
        let reader = std::thread::spawn(move || {
            let got = blocking_receive_exact(&s, MIB);
            Pattern::new(8).check(0, &got).unwrap();
            drop(s);
        });
        let big = Pattern::new(8).bytes(0, n);
        let e = c.send(&big).expect_err("the reader vanished");
        assert_peer_gone(&e, "send to a vanished reader");
        assert!(c.is_closed());
        reader.join().unwrap();
    });
}

// ========================================================= half-close

/// `a` sends a request and shuts its write side; `b` reads it to end of
/// file, then answers at length; `a` still reads the whole answer.
fn half_close_exchange(mut a: FaceSocket, mut b: FaceSocket, seed: u64) {
    let req = Pattern::new(seed).bytes(0, MIB + 17);
    let resp = Pattern::new(seed + 1).bytes(0, 2 * MIB + 5);
    assert_eq!(a.send(&req).unwrap(), req.len());
    a.shutdown(Shutdown::Write).unwrap();
    assert_eq!(a.shutdown_reason(), Some(Shutdown::Write));
    assert!(a.is_shutdown() && a.is_connected(), "one direction shut");
    assert_illegal(a.send("more"), "send after SHUT_WR");
    a.shutdown(Shutdown::Write).expect("shutting again is Ok");

    let mut got = Vec::new();
    while let Some(chunk) = b.receive(None).unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert!(got == req, "request intact up to end of file");
    assert!(
        b.is_connected() && !b.is_shutdown(),
        "the peer's EOF shuts nothing here"
    );

    // The answer flows the other way while `a` reads concurrently.
    let a = Arc::new(a);
    let reader = {
        let a = Arc::clone(&a);
        std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Some(chunk) = a.receive(Some(70_000)).unwrap() {
                got.extend_from_slice(&chunk);
            }
            got
        })
    };
    assert_eq!(b.send(&resp).unwrap(), resp.len());
    b.shutdown(Shutdown::Write).unwrap();
    let got = reader.join().unwrap();
    assert!(got == resp, "answer intact after the half-close");
    let mut a = Arc::try_unwrap(a).expect("reader done");
    // Both write sides shut: each side still "connected" until it shuts
    // both of its own directions.
    assert!(a.is_connected() && b.is_connected());
    assert_eq!(a.receive(None).unwrap(), None, "end of file stays");
    finish_after_both_fins(
        a.shutdown(Shutdown::Read),
        a.shutdown_reason(),
        a.is_connected(),
    );
    assert!(!a.is_closed());
    a.close().unwrap();
    assert_illegal(a.receive(None), "receive after close");
    finish_after_both_fins(
        b.shutdown(Shutdown::Read),
        b.shutdown_reason(),
        b.is_connected(),
    );
}

/// `shutdown(Read)` once both FINs have crossed: the OS has already closed
/// the connection, and Linux answers `ENOTCONN`. Either that error (nothing
/// recorded) or success (both directions recorded) is consistent.
fn finish_after_both_fins(r: blade_socket::Result<()>, reason: Option<Shutdown>, connected: bool) {
    println!("faults: shutdown(Read) after both FINs: {r:?}");
    match r {
        Ok(()) => {
            assert_eq!(reason, Some(Shutdown::Both));
            assert!(!connected);
        }
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "{e:?}");
            assert_eq!(reason, Some(Shutdown::Write), "nothing recorded on failure");
            assert!(connected);
        }
    }
}

/// The half-close exchange with the client shutting first, then with the
/// server shutting first.
#[test]
fn half_close_either_side_first() {
    Face::both(|face| {
        let seeds = if face == Face::Async {
            [10, 20]
        } else {
            [30, 40]
        };
        let (c, s) = face.pair();
        half_close_exchange(c, s, seeds[0]);
        let (c, s) = face.pair();
        half_close_exchange(s, c, seeds[1]);
    });
}

/// `SHUT_RD` while the connection is still half open records both
/// directions and ends `is_connected`.
#[test]
fn shut_read_after_shut_write_while_half_open_blocking() {
    within_blocking(|| {
        let (a, b) = blocking_pair();
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(b.receive(None).unwrap(), None);
        a.shutdown(Shutdown::Read).unwrap();
        assert_eq!(a.shutdown_reason(), Some(Shutdown::Both));
        assert!(!a.is_connected() && !a.is_closed());
        assert_illegal(a.receive(None), "receive after SHUT_RD");
        assert_illegal(a.send("x"), "send after SHUT_WR");
        // The peer can still send into the closed read side without error.
        b.send("ignored").unwrap();
    });
}

/// `SHUT_RD` first: receiving is refused at once, sending still works.
#[tokio::test]
async fn shut_read_keeps_the_write_side_async() {
    within(async {
        let (c, s) = tcp_pair().await;
        s.shutdown(Shutdown::Read).unwrap();
        assert_eq!(s.shutdown_reason(), Some(Shutdown::Read));
        assert!(s.is_connected());
        assert_illegal(s.receive(None).await, "receive after SHUT_RD");
        let msg = Pattern::new(50).bytes(0, 300_000);
        assert_eq!(s.send(&msg).await.unwrap(), msg.len());
        assert!(receive_exact(&c, msg.len()).await == msg);
    })
    .await;
}

#[test]
fn shut_read_keeps_the_write_side_blocking() {
    within_blocking(|| {
        let (c, s) = blocking_pair();
        s.shutdown(Shutdown::Read).unwrap();
        assert_illegal(s.receive(None), "receive after SHUT_RD");
        let msg = Pattern::new(51).bytes(0, 300_000);
        assert_eq!(s.send(&msg).unwrap(), msg.len());
        assert!(blocking_receive_exact(&c, msg.len()) == msg);
    });
}

// ============================================ close_shared while pending

/// Spawns `fut` and returns once it has been polled and is waiting.
async fn spawn_parked<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut f = Box::pin(fut);
        assert!(poll_once(&mut f).await.is_pending());
        ready_tx.send(()).unwrap();
        f.await
    });
    ready_rx.await.unwrap();
    task
}

/// `close_shared` wakes a pending receive, accept and send with
/// `socket is in an illegal state`; the descriptor goes once they return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_shared_wakes_pending_operations_async() {
    within(async {
        // receive
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let inode = inode_of(c.id());
        let task = spawn_parked({
            let c = Arc::clone(&c);
            async move { c.receive(None).await }
        })
        .await;
        let t = Instant::now();
        c.close_shared().unwrap();
        assert!(c.is_closed() && c.id() == -1 && !c.is_connected());
        assert_illegal(task.await.unwrap(), "pending receive after close_shared");
        assert!(t.elapsed() < Duration::from_secs(2), "woke promptly");
        assert!(
            !inode_open(&inode),
            "descriptor released after the receive returned"
        );
        assert_eq!(
            s.receive(None).await.unwrap(),
            None,
            "the peer sees end of file"
        );
        assert_illegal(c.receive(None).await, "receive after close_shared");
        c.close_shared().expect("idempotent");

        // accept
        let l = Arc::new(listener().await);
        let inode = inode_of(l.id());
        let task = spawn_parked({
            let l = Arc::clone(&l);
            async move { l.accept().await }
        })
        .await;
        l.close_shared().unwrap();
        assert!(l.is_closed() && !l.is_listening());
        assert_illegal(task.await.unwrap(), "pending accept after close_shared");
        assert!(!inode_open(&inode), "listener descriptor released");

        // send (buffers full)
        let (c, s) = small_buffer_pair().await;
        let c = Arc::new(c);
        let inode = inode_of(c.id());
        let task = spawn_parked({
            let c = Arc::clone(&c);
            async move { c.send(vec![1u8; 16 * MIB]).await }
        })
        .await;
        c.close_shared().unwrap();
        let r = task.await.unwrap();
        assert_illegal(r, "pending send after close_shared");
        assert!(
            !inode_open(&inode),
            "descriptor released after the send returned"
        );
        drop(s);
    })
    .await;
}

/// Several operations pending on one socket at once all wake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_shared_wakes_every_pending_operation_async() {
    within(async {
        let (c, _s) = small_buffer_pair().await;
        let c = Arc::new(c);
        let mut ready = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let c = Arc::clone(&c);
            let (tx, rx) = tokio::sync::oneshot::channel();
            ready.push(rx);
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    let mut f = Box::pin(c.receive(Some(10)));
                    assert!(poll_once(&mut f).await.is_pending());
                    tx.send(()).unwrap();
                    f.await.map(drop)
                } else {
                    let big = vec![2u8; 16 * MIB];
                    let mut f = Box::pin(c.send(&big));
                    let first = poll_once(&mut f).await;
                    tx.send(()).unwrap();
                    match first {
                        Poll::Ready(r) => r.map(drop),
                        Poll::Pending => f.await.map(drop),
                    }
                }
            }));
        }
        for r in ready {
            r.await.unwrap();
        }
        c.close_shared().unwrap();
        for t in tasks {
            // A send that completed before the close is fine; every
            // operation still pending fails with the illegal state.
            if let Err(e) = t.await.unwrap() {
                assert!(
                    e.message().starts_with("socket is in an illegal state"),
                    "{e:?}"
                );
            }
        }
    })
    .await;
}

/// The blocking facade: a thread blocked in `receive`, `accept` or `send`
/// wakes with `socket is in an illegal state` when another thread calls
/// `close_shared`; the descriptor goes once it has returned.
#[test]
fn close_shared_wakes_blocked_threads_blocking() {
    within_blocking(|| {
        // receive
        let (c, s) = blocking_pair();
        let c = Arc::new(c);
        let inode = inode_of(c.id());
        let t = named("flt-cs-rx", {
            let c = Arc::clone(&c);
            move || c.receive(None)
        });
        wait_blocked("flt-cs-rx");
        let start = Instant::now();
        c.close_shared().unwrap();
        assert!(c.is_closed() && c.id() == -1);
        assert_illegal(t.join().unwrap(), "blocked receive after close_shared");
        assert!(start.elapsed() < Duration::from_secs(2), "woke promptly");
        assert!(!inode_open(&inode), "descriptor released");
        assert_eq!(s.receive(None).unwrap(), None, "the peer sees end of file");
        assert_illegal(c.receive(None), "receive after close_shared");

        // accept
        let l = Arc::new(blocking_listener());
        let inode = inode_of(l.id());
        let t = named("flt-cs-acc", {
            let l = Arc::clone(&l);
            move || l.accept().map(drop)
        });
        wait_blocked("flt-cs-acc");
        l.close_shared().unwrap();
        assert_illegal(t.join().unwrap(), "blocked accept after close_shared");
        assert!(!inode_open(&inode), "listener descriptor released");

        // send, its buffers full
        let (c, s) = small_buffer_blocking_pair();
        let c = Arc::new(c);
        let inode = inode_of(c.id());
        let t = named("flt-cs-tx", {
            let c = Arc::clone(&c);
            move || c.send(vec![4u8; 16 * MIB]).map(drop)
        });
        wait_blocked("flt-cs-tx");
        c.close_shared().unwrap();
        assert_illegal(t.join().unwrap(), "blocked send after close_shared");
        assert!(
            !inode_open(&inode),
            "descriptor released after the send returned"
        );
        drop(s);
    });
}

/// The calls racing `close_shared` that failed with anything but `socket
/// is in an illegal state`, by operation and error.
#[derive(Default)]
struct Wrong(std::collections::BTreeMap<String, usize>);

impl Wrong {
    /// Records the outcome of operation `op` (0 receive, 1 accept, 2 send).
    fn note(&mut self, op: usize, r: blade_socket::Result<()>) {
        if let Err(e) = r
            && !(e.kind() == ErrorKind::IllegalState && e.message().starts_with(ILLEGAL))
        {
            let op = ["receive", "accept", "send"][op];
            *self.0.entry(format!("{op}: {e:?}")).or_default() += 1;
        }
    }

    fn check(&self, rounds: usize) {
        assert!(
            self.0.is_empty(),
            "calls racing close_shared failed with other errors (of {rounds}): {:#?}",
            self.0
        );
    }
}

/// `close_shared` racing the very start of a call (no waiting for it to
/// park): every call either completed before the close or fails with
/// `socket is in an illegal state`, never with whatever the OS says about
/// the descriptor the close just shut down.
#[test]
fn close_shared_racing_a_starting_call_blocking() {
    within_blocking(|| {
        // Each round is a thread, three sockets and their blocking-mode
        // set-up (about 0.9 ms here); 4,000 rounds keep the test well inside
        // its time bound on a loaded machine, and still race every opening.
        let rounds = pick(4_000, 30_000);
        let mut wrong = Wrong::default();
        for i in 0..rounds {
            let (mut c, mut s) = blocking_pair();
            // Reset on close: thousands of connections leave no TIME_WAIT.
            c.set_option(SO_LINGER, Duration::ZERO).unwrap();
            s.set_option(SO_LINGER, Duration::ZERO).unwrap();
            let l = blocking_listener();
            let op = i % 3;
            let r = std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::channel();
                let (c, l) = (&c, &l);
                let t = scope.spawn(move || {
                    tx.send(()).unwrap();
                    match op {
                        0 => c.receive(None).map(drop),
                        1 => l.accept().map(drop),
                        _ => c.send(vec![0u8; 8 * MIB]).map(drop),
                    }
                });
                rx.recv().unwrap();
                if op == 1 {
                    l.close_shared().unwrap();
                } else {
                    c.close_shared().unwrap();
                }
                t.join().unwrap()
            });
            wrong.note(op, r);
        }
        wrong.check(rounds);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_shared_racing_a_starting_call_async() {
    within(async {
        let rounds = pick(10_000, 30_000);
        let mut wrong = Wrong::default();
        for i in 0..rounds {
            let (mut c, mut s) = tcp_pair().await;
            c.set_option(SO_LINGER, Duration::ZERO).unwrap();
            s.set_option(SO_LINGER, Duration::ZERO).unwrap();
            let c = Arc::new(c);
            let l = Arc::new(listener().await);
            let op = i % 3;
            let t = {
                let (c, l) = (Arc::clone(&c), Arc::clone(&l));
                tokio::spawn(async move {
                    match op {
                        0 => c.receive(None).await.map(drop),
                        1 => l.accept().await.map(drop),
                        _ => c.send(vec![0u8; 8 * MIB]).await.map(drop),
                    }
                })
            };
            if i % 2 == 0 {
                tokio::task::yield_now().await;
            }
            if op == 1 {
                l.close_shared().unwrap();
            } else {
                c.close_shared().unwrap();
            }
            wrong.note(op, t.await.unwrap());
        }
        wrong.check(rounds);
    })
    .await;
}

// ============================================ runtime shut down, async

/// Operations spawned on a runtime that shuts down are dropped with their
/// tasks: shutting down takes no time, the tasks report cancellation (an
/// error), every descriptor is released and every peer sees end of file.
#[test]
fn runtime_shutdown_drops_pending_operations() {
    for multi in [false, true] {
        within_blocking(move || runtime_shutdown_round(multi));
    }
}

fn runtime_shutdown_round(multi: bool) {
    use std::io::Read;
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .unwrap();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_port = std_listener.local_addr().unwrap().port();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    let (handles, inodes, peers, _keep) = rt.block_on(async {
        let mut handles = Vec::new();
        let mut inodes = Vec::new();
        let mut peers = Vec::new();

        // A pending receive (with a long timeout) and a pending send.
        for op in ["receive", "send"] {
            let mut c = Socket::tcp().unwrap();
            c.set_option(SO_SNDBUF, 16 * 1024).unwrap();
            c.connect(None, std_port, None).await.unwrap();
            let (peer, _) = std_listener.accept().unwrap();
            peers.push(peer);
            c.set_receive_timeout(Some(Duration::from_secs(60)));
            inodes.push(inode_of(c.id()));
            let tx = ready_tx.clone();
            handles.push(tokio::spawn(async move {
                let r = if op == "receive" {
                    let mut f = Box::pin(c.receive(None));
                    assert!(poll_once(&mut f).await.is_pending());
                    tx.send(op).unwrap();
                    f.await.map(drop)
                } else {
                    let big = vec![3u8; 64 * MIB];
                    let mut f = Box::pin(c.send(&big));
                    assert!(poll_once(&mut f).await.is_pending());
                    tx.send(op).unwrap();
                    f.await.map(drop)
                };
                panic!("{op} completed during shutdown: {r:?}");
            }));
        }
        // A pending accept.
        let l = listener().await;
        inodes.push(inode_of(l.id()));
        let tx = ready_tx.clone();
        handles.push(tokio::spawn(async move {
            let mut f = Box::pin(l.accept());
            assert!(poll_once(&mut f).await.is_pending());
            tx.send("accept").unwrap();
            let r = f.await.map(drop);
            panic!("accept completed during shutdown: {r:?}");
        }));
        // A pending connect (full backlog).
        let keep = full_backlog().await;
        let mut c = Socket::tcp().unwrap();
        inodes.push(inode_of(c.id()));
        let port = keep.0.port();
        let tx = ready_tx.clone();
        handles.push(tokio::spawn(async move {
            let mut f = Box::pin(c.connect(None, port, Some(Duration::from_secs(60))));
            assert!(poll_once(&mut f).await.is_pending());
            tx.send("connect").unwrap();
            let r = f.await;
            panic!("connect completed during shutdown: {r:?}");
        }));
        // Run the tasks (a current-thread runtime runs them only inside
        // block_on) until every operation is parked.
        for _ in 0..4 {
            ready_rx.recv().await.expect("operation parked");
        }
        (handles, inodes, peers, keep)
    });
    let t = Instant::now();
    rt.shutdown_timeout(Duration::from_secs(10));
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");

    // Every task was cancelled: an error, not a hang or a panic.
    let rt2 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for h in handles {
        let e = rt2.block_on(h).expect_err("task cancelled by shutdown");
        assert!(e.is_cancelled(), "{e:?}");
    }
    for inode in &inodes {
        assert!(!inode_open(inode), "{inode} leaked by the shutdown");
    }
    for mut p in peers {
        p.set_read_timeout(Some(LIMIT)).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        // Drain what the send wrote, then end of file (or a reset).
        loop {
            match p.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

/// Operations awaited outside the runtime's workers (`Handle::block_on` on
/// other threads) while the runtime shuts down return an error: no hang,
/// no panic. Some have a timeout (a timer on the dying runtime), some not.
#[test]
fn runtime_shutdown_fails_operations_awaited_outside_it() {
    within_blocking(|| {
        let rounds = pick(40, 400);
        let mut outcomes = std::collections::BTreeMap::new();
        for round in 0..rounds {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let (c, s, l) = rt.block_on(async {
                let l = listener().await;
                let mut c = Socket::tcp().unwrap();
                c.connect(None, l.port(), None).await.unwrap();
                let s = l.accept().await.unwrap();
                (c, s, l)
            });
            if round % 2 == 0 {
                s.set_receive_timeout(Some(Duration::from_secs(30)));
                l.set_receive_timeout(Some(Duration::from_secs(30)));
                c.set_receive_timeout(Some(Duration::from_secs(30)));
            }
            let (s, l, c) = (Arc::new(s), Arc::new(l), Arc::new(c));
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let mut threads = Vec::new();
            for i in 0..3 {
                let h = rt.handle().clone();
                let (s, l, c) = (Arc::clone(&s), Arc::clone(&l), Arc::clone(&c));
                let ready = ready_tx.clone();
                threads.push(std::thread::spawn(move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        h.block_on(async {
                            let mut f: Pin<
                                Box<dyn Future<Output = blade_socket::Result<()>> + Send>,
                            > = match i {
                                0 => Box::pin(async { s.receive(None).await.map(drop) }),
                                1 => Box::pin(async { l.accept().await.map(drop) }),
                                _ => Box::pin(async { c.receive(Some(1)).await.map(drop) }),
                            };
                            assert!(poll_once(&mut f).await.is_pending());
                            ready.send(()).unwrap();
                            f.await
                        })
                    }))
                }));
            }
            for _ in 0..3 {
                ready_rx.recv_timeout(LIMIT).expect("operation parked");
            }
            drop(rt);
            for t in threads {
                let outcome = match t.join().expect("thread") {
                    Ok(Ok(())) => "completed".to_owned(),
                    Ok(Err(e)) => format!("error: {e}"),
                    Err(p) => {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        format!("PANIC: {msg}")
                    }
                };
                *outcomes.entry(outcome).or_insert(0usize) += 1;
            }
        }
        println!("operations pending at runtime shutdown: {outcomes:?}");
        for (outcome, n) in &outcomes {
            assert!(
                outcome.starts_with("error: "),
                "{n} operation(s) pending at runtime shutdown ended with {outcome:?}; all: {outcomes:?}"
            );
        }
    });
}

/// The blocking facade on a user runtime (`use_runtime`) that shuts down
/// while blocking calls are pending: they end as they would have (data or
/// their own timeout), later calls work, nothing panics or hangs. In a child
/// process, since `use_runtime` is process-wide.
#[test]
fn runtime_shutdown_under_the_blocking_facade() {
    const TEST: &str = "runtime_shutdown_under_the_blocking_facade";
    if child_role().as_deref() == Some("facade-runtime") {
        facade_runtime_child();
        return;
    }
    let child = ChildProc::spawn(TEST, "facade-runtime", Nofile::Inherit, &[]);
    child.wait_success(LIMIT);
}

fn facade_runtime_child() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    blocking::use_runtime(rt.handle().clone()).unwrap();
    let (c, s) = blocking_pair();
    let (c2, s2) = blocking_pair();
    let l = blocking_listener();
    s.set_receive_timeout(Some(Duration::from_millis(400)));
    l.set_receive_timeout(Some(Duration::from_millis(400)));
    s2.set_receive_timeout(Some(Duration::from_secs(10)));
    let s = Arc::new(s);
    let l = Arc::new(l);
    let s2 = Arc::new(s2);
    let t_rx = named("flt-rt-rx", {
        let s = Arc::clone(&s);
        move || (Instant::now(), s.receive(None))
    });
    let t_acc = named("flt-rt-acc", {
        let l = Arc::clone(&l);
        move || l.accept().map(drop)
    });
    let t_data = named("flt-rt-data", {
        let s2 = Arc::clone(&s2);
        move || s2.receive(Some(5))
    });
    wait_blocked("flt-rt-rx");
    wait_blocked("flt-rt-acc");
    wait_blocked("flt-rt-data");
    drop(rt);
    c2.send("after").unwrap();
    assert_eq!(
        t_data.join().unwrap().unwrap().as_deref(),
        Some(&b"after"[..])
    );
    let (start, r) = t_rx.join().unwrap();
    assert!(r.unwrap_err().is_timeout());
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(t_acc.join().unwrap().unwrap_err().is_timeout());
    // Later calls still work.
    c.send("x").unwrap();
    assert_eq!(s.receive(None).unwrap().as_deref(), Some(&b"x"[..]));
    let mut c3 = blocking::Socket::tcp().unwrap();
    c3.connect(None, l.port(), None).unwrap();
    l.accept().unwrap();
    blocking::use_own_runtime();
}

// ===================================================== cancellation

/// A receive future polled (so parked on the reactor) and then dropped takes
/// nothing: the next receive gets every byte, in order.
#[tokio::test]
async fn dropped_receive_futures_lose_no_bytes() {
    within(async {
        let (c, s) = tcp_pair().await;
        let n = pick(500, 5000);
        let pat = Pattern::new(60);
        let mut off = 0u64;
        for i in 0..n {
            {
                let mut rx = Box::pin(s.receive(Some(1 + i % 1000)));
                assert!(poll_once(&mut rx).await.is_pending(), "round {i}");
            } // dropped while parked
            let len = 1 + (i * 7919) % 5000;
            c.send(pat.bytes(off, len)).await.unwrap();
            // A second dropped receive, this one with data already queued
            // but never polled: dropping an unpolled future takes nothing.
            drop(s.receive(None));
            let got = receive_exact(&s, len).await;
            pat.check(off, &got)
                .unwrap_or_else(|at| panic!("round {i}: wrong byte at {at}"));
            off += len as u64;
        }
    })
    .await;
}

/// A stream of random chunks against receives cut off by random timeouts
/// and lost `select!` races: the bytes that arrive are exactly those sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receives_cut_off_by_timeouts_lose_no_bytes() {
    within(async {
        let (c, s) = tcp_pair().await;
        let n = pick(4 * MIB, 32 * MIB);
        let pat = Pattern::new(61);
        let sender = tokio::spawn(async move {
            let mut rng = Rng::new(61);
            let mut off = 0usize;
            let mut sum = Checksum::new();
            while off < n {
                let len = rng.chunk(64 * 1024).min(n - off);
                let bytes = pat.bytes(off as u64, len);
                sum.update(&bytes);
                c.send(&bytes).await.unwrap();
                off += len;
                if rng.next_u64() % 4 == 0 {
                    // Gaps, so that receives really wait and get cut off.
                    tokio::time::sleep(Duration::from_micros(rng.range(0, 500) as u64)).await;
                }
            }
            sum.sum()
        });
        let mut rng = Rng::new(62);
        let mut got = Checksum::new();
        let mut off = 0u64;
        let (mut cut, mut lost_races) = (0u64, 0u64);
        loop {
            let want = if rng.next_u64() % 4 == 0 {
                None
            } else {
                Some(rng.chunk(128 * 1024))
            };
            let r = if rng.next_u64() % 2 == 0 {
                let limit = Duration::from_micros(rng.range(0, 300) as u64);
                match tokio::time::timeout(limit, s.receive(want)).await {
                    Ok(r) => Some(r),
                    Err(_) => {
                        cut += 1;
                        None
                    }
                }
            } else {
                let other = tokio::time::sleep(Duration::from_micros(rng.range(0, 300) as u64));
                tokio::select! {
                    r = s.receive(want) => Some(r),
                    () = other => { lost_races += 1; None }
                }
            };
            match r {
                None => continue,
                Some(Ok(Some(b))) => {
                    pat.check(off, &b)
                        .unwrap_or_else(|at| panic!("wrong byte at {at}"));
                    got.update(&b);
                    off += b.len() as u64;
                    if off == n as u64 {
                        break;
                    }
                }
                Some(Ok(None)) => panic!("early end of file at {off}"),
                Some(Err(e)) => panic!("receive failed: {e:?}"),
            }
        }
        let sent = sender.await.unwrap();
        assert_eq!(got.sum(), sent, "checksums differ");
        assert!(cut + lost_races > 0, "no receive was ever cut off");
        println!(
            "cancellation stream: {n} bytes, {cut} receives timed out, {lost_races} lost a select"
        );
    })
    .await;
}

/// Accepts cut off by random timeouts (and dropped after one poll) lose no
/// connection: every client is accepted exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_accepts_lose_no_connection() {
    within(async {
        let n = pick(200usize, 1000usize);
        let l = listener().await;
        let port = l.port();
        let clients = tokio::spawn(async move {
            let mut rng = Rng::new(70);
            let mut held = Vec::new();
            for i in 0..n {
                let mut c = Socket::tcp().unwrap();
                c.connect(None, port, None).await.unwrap();
                c.send((i as u32).to_le_bytes()).await.unwrap();
                held.push(c);
                if rng.next_u64() % 3 == 0 {
                    tokio::time::sleep(Duration::from_micros(rng.range(0, 400) as u64)).await;
                }
            }
            held
        });
        let mut rng = Rng::new(71);
        let mut seen = vec![false; n];
        let mut accepted = 0;
        let mut cut = 0u64;
        while accepted < n {
            let conn = match rng.next_u64() % 3 {
                0 => {
                    let mut f = Box::pin(l.accept());
                    match poll_once(&mut f).await {
                        Poll::Ready(r) => Some(r),
                        Poll::Pending => {
                            cut += 1;
                            None
                        }
                    }
                }
                _ => {
                    let limit = Duration::from_micros(rng.range(0, 500) as u64);
                    match tokio::time::timeout(limit, l.accept()).await {
                        Ok(r) => Some(r),
                        Err(_) => {
                            cut += 1;
                            None
                        }
                    }
                }
            };
            let Some(conn) = conn else { continue };
            let conn = conn.expect("accept");
            let id = receive_exact(&conn, 4).await;
            let id = u32::from_le_bytes(id.try_into().unwrap()) as usize;
            assert!(!seen[id], "connection {id} accepted twice");
            seen[id] = true;
            accepted += 1;
        }
        let held = clients.await.unwrap();
        assert_eq!(held.len(), n);
        assert!(seen.iter().all(|&x| x));
        assert!(cut > 0, "no accept was ever cut off");
        println!("cancelled accepts: {n} connections, {cut} accepts cancelled");
    })
    .await;
}

// =============================================================== SIGPIPE

/// The tests above that write to a vanished peer, once more in a child
/// process where `SIGPIPE` kills: it must exit normally with all of them
/// passed. (tests/send_file.rs and tests/tcp.rs cover `send_file` and
/// plain `send` the same way.)
#[test]
fn no_sigpipe_when_writing_to_a_vanished_peer() {
    let tests = [
        "peer_reset_during_send_async",
        "peer_reset_during_send_blocking",
        "receiver_closes_mid_transfer_sender_fails_async",
        "receiver_closes_mid_transfer_sender_fails_blocking",
    ];
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(tests)
        .args(["--exact", "--nocapture", "--test-threads=2"])
        .env(SIGPIPE_ENV, "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "killed by SIGPIPE:\n{text}"
    );
    assert!(out.status.success(), "{:?}\n{text}", out.status);
    assert!(
        text.contains(&format!("{} passed", tests.len())),
        "not every test ran:\n{text}"
    );
}
