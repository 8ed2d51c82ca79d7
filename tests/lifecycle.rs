//! Ways a socket's life begins and ends beyond `new`/`close`: `pair` and
//! `pair_of`, `close_shared` (waking operations pending in other tasks and
//! threads, releasing the descriptor only after them), `close_graceful`,
//! `abort`, and the `incoming` stream/iterator of accepted connections.
mod support;
use support::*;

use std::{
    future::Future,
    os::fd::AsFd,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use blade_socket::{
    AF_UNIX, ErrorKind, SHUT_WR, SOCK_DGRAM, SOCK_RDM, SOCK_SEQPACKET, SOCK_STREAM, SockType,
    Socket, blocking,
};
use futures::{Stream, StreamExt};

/// Wraps `fut` so that `pending` turns true once it has returned
/// `Poll::Pending` (it is then waiting, its waker registered).
fn flag_pending<F: Future>(fut: F, pending: Arc<AtomicBool>) -> impl Future<Output = F::Output> {
    let mut fut = Box::pin(fut);
    std::future::poll_fn(move |cx| {
        let r = fut.as_mut().poll(cx);
        if r.is_pending() {
            pending.store(true, Ordering::Release);
        }
        r
    })
}

/// Yields (no sleep) until `flag` is set.
async fn until_set(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        tokio::task::yield_now().await;
    }
}

/// Spawns `fut` and returns once it is waiting (pending, its waker set).
async fn spawn_pending<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let pending = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(flag_pending(fut, Arc::clone(&pending)));
    until_set(&pending).await;
    task
}

/// Whether thread `tid` of this process is blocked in a syscall that waits
/// for a socket: `poll(2)`/`ppoll(2)`, epoll, or the I/O call itself (the
/// facade may wait inside a blocking `recv`/`accept`).
fn waiting_in_syscall(tid: i32) -> bool {
    #[allow(unused_mut)]
    let mut waits = vec![
        libc::SYS_ppoll,
        libc::SYS_epoll_pwait,
        libc::SYS_recvfrom,
        libc::SYS_recvmsg,
        libc::SYS_read,
        libc::SYS_accept,
        libc::SYS_accept4,
    ];
    // The older calls that only some architectures have.
    #[cfg(target_arch = "x86_64")]
    waits.extend([libc::SYS_poll, libc::SYS_epoll_wait]);
    std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<i64>().ok())
        .is_some_and(|n| waits.contains(&n))
}

/// The calling thread's id (for `/proc/self/task/<tid>`).
#[allow(unsafe_code)]
fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Spins (yielding the CPU, no fixed sleep) until thread `tid` is blocked
/// waiting for its socket.
fn until_waiting(tid: i32) {
    while !waiting_in_syscall(tid) {
        std::thread::yield_now();
    }
}

/// [`until_waiting`] for a send: `poll(2)` or the blocking `send` itself.
fn until_waiting_to_send(tid: i32) {
    #[cfg(target_arch = "x86_64")]
    let waits = [
        libc::SYS_poll,
        libc::SYS_ppoll,
        libc::SYS_sendto,
        libc::SYS_sendmsg,
        libc::SYS_write,
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let waits = [
        libc::SYS_ppoll,
        libc::SYS_sendto,
        libc::SYS_sendmsg,
        libc::SYS_write,
    ];
    loop {
        let n = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<i64>().ok());
        let state = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(") ").next()?.chars().next());
        if n.is_some_and(|n| waits.contains(&n)) && state == Some('S') {
            return;
        }
        std::thread::yield_now();
    }
}

// ----- pair / pair_of -------------------------------------------------------------

#[tokio::test]
async fn pair_is_a_connected_unix_stream() {
    within(async {
        let (a, b) = Socket::pair().unwrap();
        for s in [&a, &b] {
            assert_eq!(s.family(), AF_UNIX);
            assert_eq!(s.socket_type(), SOCK_STREAM);
            assert!(s.is_connected() && s.is_client());
            assert!(!s.is_bound() && !s.is_listening() && !s.is_closed());
            assert_eq!((s.host().as_str(), s.port()), ("", 0));
            assert!(s.id() >= 0);
            assert_eq!(s.info().unwrap().family, AF_UNIX);
            assert_eq!(s.peer_info().unwrap().address, "");
        }
        assert_ne!(a.id(), b.id());
        a.send("a to b").await.unwrap();
        assert_eq!(receive_exact(&b, 6).await, b"a to b");
        b.send(vec![0u8, 255, 0]).await.unwrap();
        assert_eq!(receive_exact(&a, 3).await, [0, 255, 0]);

        // Half-close works as on TCP.
        a.shutdown(SHUT_WR).unwrap();
        assert_eq!(b.receive(None).await.unwrap(), None);
        b.send("still").await.unwrap();
        assert_eq!(receive_exact(&a, 5).await, b"still");
        drop(b);
        assert_eq!(a.receive(None).await.unwrap(), None);
    })
    .await;
}

/// A `pair_of(ty)` whose first end has sent `messages`, one call each.
async fn pair_with_messages(ty: blade_socket::SockType, messages: &[&str]) -> (Socket, Socket) {
    let (a, b) = Socket::pair_of(ty).unwrap();
    assert_eq!(a.socket_type(), ty);
    assert!(a.is_connected());
    for m in messages {
        a.send(m).await.unwrap();
    }
    (a, b)
}

#[tokio::test]
async fn pair_of_dgram_keeps_message_boundaries() {
    within(async {
        let (a, b) = pair_with_messages(SOCK_DGRAM, &["one", "", "three"]).await;
        assert_eq!(&b.receive(None).await.unwrap().unwrap()[..], b"one");
        assert_eq!(
            b.receive(None).await.unwrap(),
            Some(bytes::Bytes::new()),
            "an empty datagram is Some(empty), never EOF"
        );
        assert_eq!(&b.receive(Some(2)).await.unwrap().unwrap()[..], b"th");
        // The rest of that datagram was discarded.
        b.send("reply").await.unwrap();
        assert_eq!(&a.receive(None).await.unwrap().unwrap()[..], b"reply");
    })
    .await;
}

#[tokio::test]
async fn pair_of_seqpacket_keeps_record_boundaries() {
    within(async {
        let (a, b) = pair_with_messages(SOCK_SEQPACKET, &["first", "second", "third"]).await;
        // An AF_UNIX send queues on the peer before it returns: all three
        // records are waiting now.
        assert_eq!(&b.receive(Some(64)).await.unwrap().unwrap()[..], b"first");
        assert_eq!(&b.receive(Some(64)).await.unwrap().unwrap()[..], b"second");
        assert_eq!(&b.receive(Some(3)).await.unwrap().unwrap()[..], b"thi");
        b.send("back").await.unwrap();
        assert_eq!(&a.receive(Some(64)).await.unwrap().unwrap()[..], b"back");
        drop(a);
        assert_eq!(
            b.receive(Some(64)).await.unwrap(),
            None,
            "EOF after the peer left"
        );
    })
    .await;
}

/// `receive(None)` (and lengths above 64 KiB) must return one record too,
/// not every record queued.
#[tokio::test]
async fn seqpacket_receive_without_length_returns_one_record() {
    /// One record's bytes, compared without printing megabytes on failure.
    fn check(got: Option<bytes::Bytes>, want: &[u8]) {
        let got = got.expect("a record");
        assert!(
            &got[..] == want,
            "got {} bytes (starting {:?}), want {} bytes",
            got.len(),
            &got[..got.len().min(16)],
            want.len()
        );
    }
    within(async {
        let (a, b) = Socket::pair_of(SOCK_SEQPACKET).unwrap();
        let big = vec![7u8; 100_000];
        a.send("first").await.unwrap();
        a.send("second").await.unwrap();
        a.send(&big).await.unwrap();
        a.send("last").await.unwrap();
        check(b.receive(None).await.unwrap(), b"first");
        check(b.receive(None).await.unwrap(), b"second");
        check(b.receive(Some(200_000)).await.unwrap(), &big);
        check(b.receive(None).await.unwrap(), b"last");
        drop(a);
        assert_eq!(b.receive(None).await.unwrap(), None);
    })
    .await;
}

#[test]
fn pair_of_unpairable_types_is_an_error() {
    for ty in [SOCK_RDM, SockType::from_raw(12345), SockType::from_raw(-1)] {
        let e = Socket::pair_of(ty).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Os, "{ty:?}: {e:?}");
        assert!(blocking::Socket::pair_of(ty).is_err());
    }
}

#[test]
fn blocking_pair_and_pair_of() {
    within_blocking(|| {
        let (a, b) = blocking::Socket::pair().unwrap();
        assert!(a.is_connected() && a.family() == AF_UNIX);
        a.send("hi").unwrap();
        assert_eq!(blocking_receive_exact(&b, 2), b"hi");
        let (x, y) = blocking::Socket::pair_of(SOCK_DGRAM).unwrap();
        x.send("d1").unwrap();
        x.send("d2").unwrap();
        assert_eq!(&y.receive(None).unwrap().unwrap()[..], b"d1");
        assert_eq!(&y.receive(None).unwrap().unwrap()[..], b"d2");
    });
}

// ----- close_shared -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_shared_wakes_a_pending_receive() {
    within(async {
        let (a, b) = tcp_pair().await;
        let a = Arc::new(a);
        let reader = spawn_pending({
            let a = Arc::clone(&a);
            async move { a.receive(None).await }
        })
        .await;
        a.close_shared().unwrap();
        assert!(a.is_closed());
        assert_eq!(a.id(), -1);
        let e = reader.await.unwrap().unwrap_err();
        assert_illegal_error(&e, "after close");
        // The peer saw the connection end.
        assert_eq!(b.receive(None).await.unwrap(), None);
        // Later operations fail the same way; close_shared is idempotent.
        assert_illegal_error(&a.receive(None).await.unwrap_err(), "after close");
        assert_illegal_error(&a.send("x").await.unwrap_err(), "after close");
        a.close_shared().unwrap();
    })
    .await;
}

#[tokio::test]
async fn close_shared_wakes_a_pending_accept() {
    within(async {
        let l = Arc::new(listener().await);
        let acceptor = spawn_pending({
            let l = Arc::clone(&l);
            async move { l.accept().await }
        })
        .await;
        l.close_shared().unwrap();
        let e = acceptor.await.unwrap().unwrap_err();
        assert_illegal_error(&e, "after close");
        assert!(l.is_closed() && !l.is_listening());
    })
    .await;
}

#[tokio::test]
async fn close_shared_wakes_a_pending_send() {
    within(async {
        let (a, _b) = tcp_pair().await;
        let a = Arc::new(a);
        let writer = spawn_pending({
            let a = Arc::clone(&a);
            // The peer never reads: this send fills the buffers and waits.
            async move { a.send(vec![0u8; 64 * 1024 * 1024]).await }
        })
        .await;
        a.close_shared().unwrap();
        let e = writer.await.unwrap().unwrap_err();
        assert_illegal_error(&e, "after close");
    })
    .await;
}

/// A TCP pair, with the first end's descriptor number and what it refers to.
async fn pair_with_fd() -> (Socket, Socket, i32, String) {
    let (a, b) = tcp_pair().await;
    let fd = a.id();
    let before = fd_target(fd).expect("open");
    (a, b, fd, before)
}

#[tokio::test]
async fn close_shared_releases_the_descriptor_only_after_the_pending_operation() {
    within(async {
        let (a, _b, fd, before) = pair_with_fd().await;
        {
            let mut recv = pin!(a.receive(None));
            // Poll once: the receive is now waiting, holding the descriptor.
            let first = futures::poll!(recv.as_mut());
            assert!(first.is_pending());
            a.close_shared().unwrap();
            assert_eq!(a.id(), -1);
            assert_eq!(
                fd_target(fd).as_deref(),
                Some(before.as_str()),
                "the descriptor stays the same socket while an operation holds it"
            );
            let r = recv.await;
            assert_illegal_error(&r.unwrap_err(), "after close");
        }
        // The operation has let go: the socket's descriptor is released (the
        // number is free or, reused by a parallel test, another object).
        assert_ne!(fd_target(fd).as_deref(), Some(before.as_str()));
    })
    .await;
}

#[tokio::test]
async fn close_shared_with_nothing_pending_releases_at_once() {
    within(async {
        let (a, _b, fd, before) = pair_with_fd().await;
        a.close_shared().unwrap();
        assert_ne!(fd_target(fd).as_deref(), Some(before.as_str()));
        assert!(a.is_closed());
    })
    .await;
}

#[tokio::test]
async fn close_shared_keeps_a_lent_descriptor_while_the_guard_lives() {
    within(async {
        let (a, _b) = tcp_pair().await;
        let fd = a.id();
        let before = fd_target(fd).expect("open");
        {
            let lent = a.fd().unwrap();
            a.close_shared().unwrap();
            assert!(a.is_closed() && a.id() == -1);
            assert!(a.fd().is_err(), "a closed socket lends nothing");
            // The guard is still valid and still the same socket.
            let still = socket2::SockRef::from(&lent.as_fd()).local_addr().unwrap();
            assert!(still.as_socket().is_some());
            assert_eq!(fd_target(fd).as_deref(), Some(before.as_str()));
        }
        // Dropping the guard releases it.
        assert_ne!(fd_target(fd).as_deref(), Some(before.as_str()));
    })
    .await;
}

#[test]
fn blocking_close_shared_wakes_a_thread_blocked_in_receive() {
    within_blocking(|| {
        let (a, b) = blocking_pair();
        // Warm up: the facade's runtime exists before the measured call.
        a.set_receive_timeout(Some(Duration::from_millis(1)));
        assert!(a.receive(None).unwrap_err().is_timeout());
        a.set_receive_timeout(None);
        let fd = a.id();
        let before = fd_target(fd).expect("open");
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            let a = &a;
            let reader = scope.spawn(move || {
                tx.send(gettid()).unwrap();
                a.receive(None)
            });
            let tid = rx.recv().unwrap();
            until_waiting(tid);
            a.close_shared().unwrap();
            assert_illegal_error(&reader.join().unwrap().unwrap_err(), "after close");
        });
        assert!(a.is_closed());
        assert_ne!(fd_target(fd).as_deref(), Some(before.as_str()));
        assert_eq!(b.receive(None).unwrap(), None, "the peer sees EOF");
    });
}

#[test]
fn blocking_close_shared_wakes_a_thread_blocked_in_send() {
    within_blocking(|| {
        let (a, _b) = blocking_pair();
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            let a = &a;
            // The peer never reads: the send fills the buffers and waits.
            let writer = scope.spawn(move || {
                tx.send(gettid()).unwrap();
                a.send(vec![0u8; 64 * 1024 * 1024])
            });
            let tid = rx.recv().unwrap();
            until_waiting_to_send(tid);
            a.close_shared().unwrap();
            assert_illegal_error(&writer.join().unwrap().unwrap_err(), "after close");
        });
        assert!(a.is_closed());
    });
}

#[test]
fn blocking_close_shared_wakes_a_thread_blocked_in_accept() {
    within_blocking(|| {
        let l = blocking_listener();
        l.set_receive_timeout(Some(Duration::from_millis(1)));
        assert!(l.accept().unwrap_err().is_timeout());
        l.set_receive_timeout(None);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            let l = &l;
            let acceptor = scope.spawn(move || {
                tx.send(gettid()).unwrap();
                l.accept()
            });
            let tid = rx.recv().unwrap();
            until_waiting(tid);
            l.close_shared().unwrap();
            assert_illegal_error(&acceptor.join().unwrap().unwrap_err(), "after close");
        });
        assert!(l.is_closed());
    });
}

// ----- close_graceful -------------------------------------------------------------

#[tokio::test]
async fn close_graceful_drains_what_the_peer_still_sends() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        let peer = tokio::spawn(async move {
            s.send(vec![9u8; 3000]).await.unwrap();
            // Wait for our end of file, answer some more, then close.
            assert_eq!(s.receive(None).await.unwrap(), None);
            s.send(vec![8u8; 1000]).await.unwrap();
            drop(s);
        });
        let n = c
            .close_graceful(Some(Duration::from_secs(10)))
            .await
            .unwrap();
        assert_eq!(n, 4000, "every byte the peer sent was read and discarded");
        assert!(c.is_closed());
        assert_eq!(c.id(), -1);
        peer.await.unwrap();
        assert_illegal_error(&c.close_graceful(None).await.unwrap_err(), "after close");
    })
    .await;
}

#[tokio::test]
async fn close_graceful_times_out_when_the_peer_never_closes() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        let t = Instant::now();
        let e = c
            .close_graceful(Some(Duration::from_millis(200)))
            .await
            .unwrap_err();
        let took = t.elapsed();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
        assert!(e.is_timeout() && e.message().contains("timed out"));
        assert!(took >= Duration::from_millis(190), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(c.is_closed(), "closed whatever the outcome");
        // The peer saw our write side end, then the close.
        assert_eq!(s.receive(None).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn close_graceful_on_listeners_and_half_shut_sockets() {
    within(async {
        let mut l = listener().await;
        assert_eq!(
            l.close_graceful(Some(Duration::from_secs(1)))
                .await
                .unwrap(),
            0
        );
        assert!(l.is_closed());
        let mut fresh = Socket::tcp().unwrap();
        assert_eq!(fresh.close_graceful(None).await.unwrap(), 0);
        assert!(fresh.is_closed());

        // Already shut for writing: it only drains.
        let (mut c, s) = tcp_pair().await;
        c.shutdown(SHUT_WR).unwrap();
        assert_eq!(s.receive(None).await.unwrap(), None);
        s.send("tail").await.unwrap();
        drop(s);
        assert_eq!(c.close_graceful(None).await.unwrap(), 4);

        // A datagram socket just closes.
        let (mut d, _e) = Socket::pair_of(SOCK_DGRAM).unwrap();
        assert_eq!(d.close_graceful(None).await.unwrap(), 0);
        assert!(d.is_closed());
    })
    .await;
}

#[tokio::test]
async fn close_graceful_reports_a_reset_during_the_drain() {
    within(async {
        let (mut c, mut s) = tcp_pair().await;
        let peer = tokio::spawn(async move {
            assert_eq!(s.receive(None).await.unwrap(), None);
            s.abort().unwrap();
        });
        let e = c
            .close_graceful(Some(Duration::from_secs(10)))
            .await
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e:?}");
        assert!(c.is_closed());
        peer.await.unwrap();
    })
    .await;
}

#[test]
fn blocking_close_graceful() {
    within_blocking(|| {
        let (mut c, s) = blocking_pair();
        s.send("bye").unwrap();
        let peer = std::thread::spawn(move || {
            // Our end of file arrives, then the peer goes.
            assert_eq!(s.receive(None).unwrap(), None);
        });
        assert_eq!(c.close_graceful(Some(Duration::from_secs(10))).unwrap(), 3);
        assert!(c.is_closed());
        peer.join().unwrap();

        let (mut c, _s) = blocking_pair();
        let e = c
            .close_graceful(Some(Duration::from_millis(100)))
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(c.is_closed());
    });
}

// ----- abort ------------------------------------------------------------------------

#[tokio::test]
async fn abort_resets_the_connection() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        // Unsent-by-the-peer data is irrelevant; our own queued data is dropped.
        c.send("never delivered? maybe").await.unwrap();
        c.abort().unwrap();
        assert!(c.is_closed());
        assert_eq!(c.id(), -1);
        c.abort().unwrap(); // idempotent
        // The peer may first read what had arrived, then sees the reset.
        let e = loop {
            match s.receive(None).await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("a reset, not an orderly end of file"),
                Err(e) => break e,
            }
        };
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e:?}");
        assert_eq!(e.message(), "Connection reset by peer");
        assert!(s.is_closed(), "a reset closes the peer's socket");
    })
    .await;
}

#[test]
fn blocking_abort_resets_the_connection() {
    within_blocking(|| {
        let (mut c, s) = blocking_pair();
        c.abort().unwrap();
        assert!(c.is_closed());
        let e = s.receive(None).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e:?}");
    });
}

// ----- incoming ---------------------------------------------------------------------

#[tokio::test]
async fn incoming_yields_accepted_connections() {
    within(async {
        let l = listener().await;
        let mut clients = Vec::new();
        for _ in 0..3 {
            let mut c = Socket::tcp().unwrap();
            c.connect(None, l.port(), None).await.unwrap();
            clients.push(c);
        }
        let mut incoming = pin!(l.incoming());
        let mut ports = Vec::new();
        for _ in 0..3 {
            let conn = incoming.next().await.expect("an item").expect("accepted");
            assert!(conn.is_connected() && conn.is_client());
            assert_eq!(conn.host(), "127.0.0.1");
            conn.send("welcome").await.unwrap();
            ports.push(conn.port());
        }
        let mut want: Vec<u16> = clients.iter().map(|c| c.info().unwrap().port).collect();
        ports.sort_unstable();
        want.sort_unstable();
        assert_eq!(ports, want);
        for c in &clients {
            assert_eq!(receive_exact(c, 7).await, b"welcome");
        }
    })
    .await;
}

#[tokio::test]
async fn incoming_yields_timeouts_and_goes_on() {
    within(async {
        let l = listener().await;
        l.set_receive_timeout(Some(Duration::from_millis(100)));
        let port = l.port();
        let mut incoming = pin!(l.incoming());
        let e = incoming.next().await.expect("an item").unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        let e = incoming.next().await.expect("still going").unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        let conn = incoming.next().await.expect("an item").unwrap();
        assert_eq!(conn.port(), c.info().unwrap().port);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_ends_after_close_shared() {
    within(async {
        let l = Arc::new(listener().await);
        let pending = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let l = Arc::clone(&l);
            let pending = Arc::clone(&pending);
            async move {
                let mut incoming = pin!(l.incoming());
                let mut items = Vec::new();
                loop {
                    let next = std::future::poll_fn(|cx| {
                        let r = incoming.as_mut().poll_next(cx);
                        if r.is_pending() {
                            pending.store(true, Ordering::Release);
                        }
                        r
                    })
                    .await;
                    match next {
                        Some(item) => items.push(item.map(|_| ())),
                        None => return items,
                    }
                }
            }
        });
        until_set(&pending).await;
        l.close_shared().unwrap();
        let items = task.await.unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_illegal_error(items[0].as_ref().unwrap_err(), "after close");
    })
    .await;
}

#[tokio::test]
async fn incoming_on_a_socket_that_is_not_listening_ends_at_once() {
    within(async {
        let s = Socket::tcp().unwrap();
        let items: Vec<_> = s.incoming().collect().await;
        assert_eq!(items.len(), 1);
        let e = items[0].as_ref().unwrap_err();
        assert_eq!(e.message(), "socket not bound/listening");

        let mut closed = listener().await;
        closed.close().unwrap();
        let items: Vec<_> = closed.incoming().collect().await;
        assert_eq!(items.len(), 1);
        assert_illegal_error(items[0].as_ref().unwrap_err(), "after close");
    })
    .await;
}

#[tokio::test]
async fn incoming_is_cancel_safe() {
    within(async {
        let l = listener().await;
        let mut incoming = pin!(l.incoming());
        // A next() dropped before any connection arrives loses nothing.
        assert!(futures::poll!(incoming.next()).is_pending());
        let mut c = Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let conn = incoming.next().await.unwrap().unwrap();
        assert_eq!(conn.port(), c.info().unwrap().port);
    })
    .await;
}

#[test]
fn blocking_incoming_iterator() {
    within_blocking(|| {
        let mut l = blocking_listener();
        let port = l.port();
        let clients: Vec<blocking::Socket> = (0..2)
            .map(|_| {
                let mut c = blocking::Socket::tcp().unwrap();
                c.connect(None, port, None).unwrap();
                c
            })
            .collect();
        let accepted: Vec<blocking::Socket> = l.incoming().take(2).map(|r| r.unwrap()).collect();
        assert_eq!(accepted.len(), 2);
        for (a, c) in accepted.iter().zip(&clients) {
            assert!(a.is_connected());
            let _ = c;
        }
        l.set_receive_timeout(Some(Duration::from_millis(50)));
        let mut it = l.incoming();
        assert!(it.next().unwrap().unwrap_err().is_timeout());
        assert!(it.next().unwrap().unwrap_err().is_timeout(), "goes on");
        drop(it);
        l.close().unwrap();
        let items: Vec<_> = l.incoming().collect();
        assert_eq!(items.len(), 1);
        assert_illegal_error(items[0].as_ref().unwrap_err(), "after close");
    });
}

#[test]
fn blocking_incoming_ends_after_close_shared_from_another_thread() {
    within_blocking(|| {
        let l = blocking_listener();
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            let l = &l;
            let t = scope.spawn(move || {
                tx.send(gettid()).unwrap();
                l.incoming().map(|r| r.map(drop)).collect::<Vec<_>>()
            });
            let tid = rx.recv().unwrap();
            until_waiting(tid);
            l.close_shared().unwrap();
            let items = t.join().unwrap();
            assert_eq!(items.len(), 1);
            assert_illegal_error(items[0].as_ref().unwrap_err(), "after close");
        });
    });
}
