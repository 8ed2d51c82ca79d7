//! The second revision of the API contract, on both faces: errors that keep
//! their detail, partial sends that say how much went out, listeners that
//! stay bound, datagram receives that cannot wait forever, negative buffer
//! sizes, the borrowed descriptor of `fd()`, `TryFrom` conversions, and
//! resets that are never end of file.

mod support;
use support::*;

use std::{error::Error as _, io, sync::Arc, time::Duration};

use blade_socket::{ErrorKind, SHUT_WR, Socket, SocketError, blocking};
use support::face::Face;

const BIG: usize = 32 * 1024 * 1024;

// ----- errors keep their detail -----------------------------------------------

#[tokio::test]
async fn io_kind_is_the_fine_kind() {
    within(async {
        let e = refused_connect().await;
        assert_eq!(e.io_kind(), io::ErrorKind::ConnectionRefused, "{e:?}");

        // Over a listening socket: with SO_REUSEADDR (on for every TCP
        // bind), a port held by a socket that is only bound is taken at
        // `listen` instead.
        let taken = listener().await;
        let mut s = Socket::tcp().unwrap();
        let e = s.bind(taken.port(), None).await.unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::AddrInUse, "{e:?}");
        assert!(!s.is_closed() && !s.is_bound());

        let mut s = Socket::tcp().unwrap();
        s.close().unwrap();
        let e = s.receive(None).await.unwrap_err();
        assert_eq!(e.message(), "socket is in an illegal state (closed)");
        assert_eq!(e.io_kind(), io::ErrorKind::NotConnected);

        let s = Socket::tcp().unwrap();
        let e = s.receive_many(4).await.unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::InvalidInput);

        let s = Socket::tcp().unwrap();
        let e = s.receive(None).await.unwrap_err();
        assert_eq!(e.message(), "socket not listening or connected");
        assert_eq!(e.io_kind(), io::ErrorKind::NotConnected);

        let mut s = Socket::tcp().unwrap();
        s.bind(0, None).await.unwrap();
        let e = s.listen(Some(u32::MAX)).unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::InvalidInput);

        let (mut c, _s) = tcp_pair().await;
        c.set_receive_timeout(Some(Duration::from_millis(20)));
        let e = c.receive(None).await.unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::TimedOut);
        c.set_blocking(false).unwrap();
        let e = c.receive(None).await.unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::WouldBlock);
    })
    .await;
}

#[test]
fn blocking_io_kind_is_the_fine_kind() {
    within_blocking(|| {
        let mut s = blocking::Socket::tcp().unwrap();
        let e = s
            .connect(Some("127.0.0.1"), closed_port(), None)
            .unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::ConnectionRefused, "{e:?}");
        let l = blocking_listener();
        let mut s = blocking::Socket::tcp().unwrap();
        let e = s.bind(l.port(), None).unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::AddrInUse, "{e:?}");
    });
}

#[tokio::test]
async fn source_is_the_os_error() {
    within(async {
        let e = refused_connect().await;
        let os = e
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .expect("an OS error's source is the io::Error");
        assert_eq!(os.raw_os_error(), Some(libc::ECONNREFUSED));

        let mut s = Socket::tcp().unwrap();
        s.close().unwrap();
        let e = s.send("x").await.unwrap_err();
        assert!(e.source().is_none(), "a library error has no OS source");
    })
    .await;
}

#[tokio::test]
async fn into_io_error_loses_nothing() {
    within(async {
        // A bare OS error keeps its errno.
        let e = refused_connect().await;
        let io = io::Error::from(e);
        assert_eq!(io.raw_os_error(), Some(libc::ECONNREFUSED));

        // A library error keeps its text and downcasts back.
        let s = Socket::tcp().unwrap();
        let e = s.receive(None).await.unwrap_err();
        let io = io::Error::from(e.clone());
        assert_eq!(io.kind(), io::ErrorKind::NotConnected);
        assert_eq!(io.to_string(), "socket not listening or connected");
        let back = io.get_ref().and_then(|r| r.downcast_ref::<SocketError>());
        assert_eq!(back, Some(&e));
    })
    .await;
}

// ----- partial sends -------------------------------------------------------------

#[test]
fn a_timed_out_send_says_how_much_went_out() {
    Face::both(|face| {
        let data = pattern(BIG);
        let (mut c, s) = face.pair();
        c.set_send_timeout(Some(Duration::from_millis(200)));
        let e = c.send(&data).unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        let sent = e.bytes_sent().expect("a failed send reports bytes_sent");
        assert!(sent > 0 && (sent as usize) < data.len(), "{sent}");
        // The converted error keeps the count.
        let io = io::Error::from(e.clone());
        assert_eq!(io.kind(), io::ErrorKind::TimedOut);
        let back = io.get_ref().and_then(|r| r.downcast_ref::<SocketError>());
        assert_eq!(back.and_then(SocketError::bytes_sent), Some(sent));
        // Exactly that many bytes, the message's first ones, reach the peer.
        c.shutdown(SHUT_WR).unwrap();
        let got = s.receive_exact(data.len());
        assert_eq!(got.len() as u64, sent);
        assert!(got[..] == data[..got.len()]);
    });
}

#[test]
fn a_timed_out_send_file_says_how_much_went_out_and_moves_the_offset() {
    Face::both(|face| {
        use std::io::{Seek, Write};
        let data = pattern(BIG);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        file.rewind().unwrap();
        let (mut c, s) = face.pair();
        c.set_send_timeout(Some(Duration::from_millis(200)));
        let e = c.send_file(&file).unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        let sent = e.bytes_sent().expect("bytes_sent");
        assert!(sent > 0, "{sent}");
        assert_eq!(file.stream_position().unwrap(), sent);
        c.shutdown(SHUT_WR).unwrap();
        let got = s.receive_exact(data.len());
        assert_eq!(got.len() as u64, sent);
        assert!(got[..] == data[..got.len()]);
    });
}

#[tokio::test]
async fn a_send_to_a_reset_peer_reports_bytes_sent() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        s.abort().unwrap();
        let data = pattern(1024 * 1024);
        let mut err = None;
        for _ in 0..100 {
            if let Err(e) = c.send(&data).await {
                err = Some(e);
                break;
            }
        }
        let e = err.expect("a send to a reset peer fails");
        assert!(
            matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)),
            "{e:?}"
        );
        assert!(e.bytes_sent().is_some(), "{e:?}");
        assert!(c.is_closed());
    })
    .await;
}

#[tokio::test]
async fn bytes_sent_is_some_zero_for_sends_and_none_for_the_rest() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        s.close().unwrap();
        let e = s.send("x").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IllegalState);
        assert_eq!(e.bytes_sent(), Some(0));
        // nothing went out: converted, it is the library error itself
        assert!(io::Error::from(e).get_ref().is_some());
        let e = s.send_to("127.0.0.1", 9, "x").await.unwrap_err();
        assert_eq!(e.bytes_sent(), Some(0));
        let e = s
            .send_file(&tempfile::tempfile().unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.bytes_sent(), Some(0));
        let e = s.receive(None).await.unwrap_err();
        assert_eq!(e.bytes_sent(), None);
        let mut u = Socket::udp().unwrap();
        u.close().unwrap();
        let e = u.send_to("127.0.0.1", 9, "x").await.unwrap_err();
        assert_eq!(e.bytes_sent(), Some(0));

        let mut c = Socket::tcp().unwrap();
        let e = c
            .connect(Some("127.0.0.1"), closed_port(), None)
            .await
            .unwrap_err();
        assert_eq!(e.bytes_sent(), None);
    })
    .await;
}

#[test]
fn blocking_bytes_sent_is_some_zero_for_sends_and_none_for_the_rest() {
    within_blocking(|| {
        let mut s = blocking::Socket::tcp().unwrap();
        s.close().unwrap();
        assert_eq!(s.send("x").unwrap_err().bytes_sent(), Some(0));
        assert_eq!(s.receive(None).unwrap_err().bytes_sent(), None);
        assert_eq!(
            s.send_to("127.0.0.1", 9, "x").unwrap_err().bytes_sent(),
            Some(0)
        );
    });
}

// ----- a listener stays bound ------------------------------------------------------

#[tokio::test]
async fn a_listener_stays_bound() {
    within(async {
        let mut l = Socket::tcp().unwrap();
        l.bind(0, None).await.unwrap();
        l.listen(None).unwrap();
        assert!(l.is_bound() && l.is_listening());
        let mut c = Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let mut a = l.accept().await.unwrap();
        assert!(
            !c.is_bound() && !a.is_bound(),
            "connected sockets are not bound"
        );
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let adopted = Socket::from_fd(std_listener.into()).unwrap();
        assert!(adopted.is_bound() && adopted.is_listening());
        for s in [&mut l, &mut c, &mut a] {
            s.close().unwrap();
            assert!(!s.is_bound());
        }
    })
    .await;
}

#[test]
fn blocking_a_listener_stays_bound() {
    within_blocking(|| {
        let mut l = blocking_listener();
        assert!(l.is_bound() && l.is_listening());
        let mut c = blocking::Socket::tcp().unwrap();
        c.connect(None, l.port(), None).unwrap();
        let a = l.accept().unwrap();
        assert!(!c.is_bound() && !a.is_bound());
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let adopted = blocking::Socket::from_fd(std_listener.into()).unwrap();
        assert!(adopted.is_bound() && adopted.is_listening());
        l.close().unwrap();
        assert!(!l.is_bound());
    });
}

// ----- bind on a connected socket ---------------------------------------------------

#[test]
fn blocking_bind_on_a_connected_socket_is_existing_connection() {
    within_blocking(|| {
        let (mut c, s) = blocking_pair();
        let port = c.port();
        let e = c.bind(0, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IllegalState);
        assert_eq!(e.message(), "socket has existing connection");
        assert!(c.is_connected() && !c.is_bound() && c.port() == port);
        c.send("ok").unwrap();
        assert_eq!(blocking_receive_exact(&s, 2), b"ok");
    });
}

// ----- datagram receives that could only wait forever -----------------------------

const NOT_CONNECTED: &str = "socket not listening or connected";

#[track_caller]
fn assert_not_connected<T: std::fmt::Debug>(r: blade_socket::Result<T>) {
    let e = r.expect_err("expected `socket not listening or connected`");
    assert_eq!(e.kind(), ErrorKind::IllegalState, "{e:?}");
    assert_eq!(e.message(), NOT_CONNECTED);
}

#[tokio::test]
async fn receive_on_an_unconnected_datagram_socket_fails_at_once() {
    within(async {
        // A fresh socket, with no timeout: it used to wait forever.
        let fresh = Socket::udp().unwrap();
        assert_not_connected(fresh.receive(None).await);
        assert_not_connected(fresh.receive_into(&mut [0u8; 8]).await);
        // A bound one, with a datagram queued: receive refuses, and the
        // datagram stays for receive_from.
        let mut rx = Socket::udp().unwrap();
        rx.bind(0, None).await.unwrap();
        let tx = Socket::udp().unwrap();
        tx.send_to("127.0.0.1", rx.port(), "queued").await.unwrap();
        assert_not_connected(rx.receive(None).await);
        assert_not_connected(rx.receive(Some(0)).await);
        assert_eq!(&rx.receive_from(None).await.unwrap().data[..], b"queued");
        assert!(!rx.is_closed());
        // Connected, it receives.
        rx.connect(None, tx.info().unwrap().port, None)
            .await
            .unwrap();
        tx.send_to("127.0.0.1", rx.info().unwrap().port, "now")
            .await
            .unwrap();
        assert_eq!(
            rx.receive(None).await.unwrap().as_deref(),
            Some(&b"now"[..])
        );
    })
    .await;
}

#[test]
fn blocking_receive_on_an_unconnected_datagram_socket_fails_at_once() {
    within_blocking(|| {
        let fresh = blocking::Socket::udp().unwrap();
        assert_not_connected(fresh.receive(None));
        let mut rx = blocking::Socket::udp().unwrap();
        rx.bind(0, None).unwrap();
        let tx = blocking::Socket::udp().unwrap();
        tx.send_to("127.0.0.1", rx.port(), "queued").unwrap();
        assert_not_connected(rx.receive(None));
        assert_eq!(&rx.receive_from(None).unwrap().data[..], b"queued");
    });
}

#[tokio::test]
async fn receive_from_needs_a_local_address() {
    within(async {
        // Not bound, not connected, never sent: nothing can ever arrive.
        let a = Socket::udp().unwrap();
        assert_not_connected(a.receive_from(None).await);
        assert_not_connected(a.receive_from(Some(0)).await);
        let u = blade_socket::Socket::new(
            blade_socket::AF_UNIX,
            blade_socket::SOCK_DGRAM,
            blade_socket::Protocol::from_raw(0),
        )
        .unwrap();
        assert_not_connected(u.receive_from(None).await);
        // After a send_to it has an address, and a reply reaches it.
        let mut b = Socket::udp().unwrap();
        b.bind(0, None).await.unwrap();
        a.send_to("127.0.0.1", b.port(), "ping").await.unwrap();
        let d = b.receive_from(None).await.unwrap();
        b.send_to(&d.host, d.port, "pong").await.unwrap();
        let reply = a.receive_from(None).await.unwrap();
        assert_eq!(&reply.data[..], b"pong");
        assert_eq!(reply.port, b.port());
    })
    .await;
}

#[test]
fn blocking_receive_from_needs_a_local_address() {
    within_blocking(|| {
        let a = blocking::Socket::udp().unwrap();
        assert_not_connected(a.receive_from(None));
        let mut b = blocking::Socket::udp().unwrap();
        b.bind(0, None).unwrap();
        a.send_to("127.0.0.1", b.port(), "ping").unwrap();
        let d = b.receive_from(None).unwrap();
        b.send_to(&d.host, d.port, "pong").unwrap();
        assert_eq!(&a.receive_from(None).unwrap().data[..], b"pong");
    });
}

// ----- negative buffer sizes ---------------------------------------------------------

const SIZES: [blade_socket::SocketOption; 4] = [
    blade_socket::SO_SNDBUF,
    blade_socket::SO_RCVBUF,
    blade_socket::SO_SNDLOWAT,
    blade_socket::SO_RCVLOWAT,
];

#[test]
fn negative_sizes_are_invalid_on_both_faces() {
    let mut a = Socket::tcp().unwrap();
    let mut b = blocking::Socket::tcp().unwrap();
    for opt in SIZES {
        let before = a.get_option(opt).unwrap();
        for v in [-1i64, i64::from(i32::MIN)] {
            let e = a.set_option(opt, v).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{opt:?} {v}: {e:?}");
            let e = b.set_option(opt, v).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{opt:?} {v}: {e:?}");
        }
        assert_eq!(a.get_option(opt).unwrap(), before, "{opt:?} unchanged");
        assert!(!a.is_closed() && !b.is_closed());
    }
}

// ----- a reset is never end of file -------------------------------------------------

/// Reset races on loopback: each round, two calls wait on one connection
/// (both parked on the reactor) when the peer aborts (`SO_LINGER` zero).
/// Linux hands the reset to one of them; the other reads end of file,
/// which must still be reported as the reset.
const RESET_ROUNDS: usize = 300;
const RESET_BUDGET: Duration = Duration::from_secs(10);

#[track_caller]
fn assert_reset<T: std::fmt::Debug>(r: &blade_socket::Result<T>, round: usize, what: &str) {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
            assert_eq!(e.io_kind(), io::ErrorKind::ConnectionReset);
        }
        other => panic!("round {round}, {what}: expected the reset, got {other:?}"),
    }
}

/// Polls `f` once (so it is parked on the reactor), tells `parked`, then
/// finishes it.
async fn park_then_finish<F: std::future::Future>(
    f: F,
    parked: tokio::sync::mpsc::Sender<()>,
) -> F::Output {
    let mut f = std::pin::pin!(f);
    assert!(
        futures::poll!(f.as_mut()).is_pending(),
        "nothing to wait for yet"
    );
    parked.send(()).await.expect("test alive");
    f.await
}

/// Runs `round` (given its number) up to [`RESET_ROUNDS`] times within
/// [`RESET_BUDGET`], and checks that enough rounds ran to mean something.
async fn reset_rounds<F: std::future::Future<Output = ()>>(mut round: impl FnMut(usize) -> F) {
    let start = std::time::Instant::now();
    let mut n = 0;
    while n < RESET_ROUNDS && start.elapsed() < RESET_BUDGET {
        n += 1;
        round(n).await;
    }
    assert!(n >= 20, "only {n} rounds ran");
}

/// One reset race: `first` and `second`, each given the shared client of a
/// fresh connection, wait on it until both are parked on the reactor; then
/// the peer aborts. Returns the client and both results.
async fn race_reset<A, B, FA, FB>(
    first: impl FnOnce(Arc<Socket>) -> FA,
    second: impl FnOnce(Arc<Socket>) -> FB,
) -> (Arc<Socket>, A, B)
where
    FA: std::future::Future<Output = A> + Send + 'static,
    FB: std::future::Future<Output = B> + Send + 'static,
    A: Send + 'static,
    B: Send + 'static,
{
    let (c, mut s) = tcp_pair().await;
    let c = Arc::new(c);
    let (parked, mut all_parked) = tokio::sync::mpsc::channel(2);
    let a = tokio::spawn(park_then_finish(first(c.clone()), parked.clone()));
    let b = tokio::spawn(park_then_finish(second(c.clone()), parked));
    all_parked.recv().await.unwrap();
    all_parked.recv().await.unwrap();
    s.abort().unwrap();
    (c, a.await.unwrap(), b.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_never_end_of_file_for_two_receivers() {
    within(reset_rounds(|round| async move {
        let receive = |c: Arc<Socket>| async move { c.receive(None).await };
        let (c, first, second) = race_reset(receive, receive).await;
        assert_reset(&first, round, "receive");
        assert_reset(&second, round, "receive");
        assert!(c.is_closed(), "a reset closes the socket");
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_never_end_of_file_for_a_receiver_beside_a_sender() {
    // More than loopback's buffers take, however they are tuned.
    let big = Arc::new(pattern(64 * 1024 * 1024));
    within(reset_rounds(|round| {
        let big = big.clone();
        async move {
            let receive = |c: Arc<Socket>| async move { c.receive(None).await };
            // The peer never reads: the send fills both buffers and waits.
            let send = |c: Arc<Socket>| async move { c.send(&big[..]).await };
            let (c, received, sent) = race_reset(receive, send).await;
            // The sender may be told `Broken pipe` (and then so is the receiver).
            for (what, errno) in [
                (
                    "receive",
                    received.as_ref().err().and_then(SocketError::raw_os_error),
                ),
                (
                    "send",
                    sent.as_ref().err().and_then(SocketError::raw_os_error),
                ),
            ] {
                assert!(
                    matches!(errno, Some(libc::ECONNRESET | libc::EPIPE)),
                    "round {round}, {what}: {received:?} / {sent:?}"
                );
            }
            assert!(sent.unwrap_err().bytes_sent().is_some());
            assert!(c.is_closed());
        }
    }))
    .await;
}

/// A reader through `AsyncRead` beside a sender that waits for room (the
/// peer never reads; the sender may take the reset). It also guards the
/// lost wakeup fixed in 65a035e: a pending read that held no descriptor
/// handle hung once the sender's reset closed the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_never_a_zero_byte_async_read() {
    use tokio::io::AsyncReadExt;
    // More than loopback's buffers take, however they are tuned.
    let big = Arc::new(pattern(64 * 1024 * 1024));
    within(reset_rounds(|round| {
        let big = big.clone();
        async move {
            let read = |c: Arc<Socket>| async move {
                let mut buf = [0u8; 64];
                let mut r: &Socket = &c;
                r.read(&mut buf).await
            };
            let send = |c: Arc<Socket>| async move { c.send(&big[..]).await };
            let (c, read, sent) = race_reset(read, send).await;
            // Each poll starts afresh: one made after the sender's reset
            // closed the socket finds it closed. An error either way.
            let closed = |e: &io::Error| {
                e.get_ref()
                    .and_then(|r| r.downcast_ref::<SocketError>())
                    .is_some_and(|e| e.kind() == ErrorKind::IllegalState)
            };
            match read {
                Err(e) => assert!(
                    matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ) || closed(&e),
                    "round {round}: {e:?}"
                ),
                Ok(n) => panic!("round {round}: AsyncRead read {n} bytes after a reset"),
            }
            assert!(sent.is_err());
            assert!(c.is_closed());
        }
    }))
    .await;
}

#[test]
fn blocking_a_reset_is_never_end_of_file() {
    within_blocking(|| {
        let start = std::time::Instant::now();
        let mut round = 0;
        while round < RESET_ROUNDS && start.elapsed() < RESET_BUDGET {
            round += 1;
            let (c, mut s) = blocking_pair();
            let results = std::thread::scope(|sc| {
                let receivers: Vec<_> = (0..2).map(|_| sc.spawn(|| c.receive(None))).collect();
                // Each receiver blocks in recv(2) unless the reset came first;
                // either way none may see end of file.
                std::thread::yield_now();
                s.abort().unwrap();
                receivers
                    .into_iter()
                    .map(|r| r.join().expect("receiver"))
                    .collect::<Vec<_>>()
            });
            for r in &results {
                match r {
                    Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {}
                    // The other receiver's reset closed the socket before it began.
                    Err(e) if e.message().starts_with("socket is in an illegal state") => {}
                    other => panic!("round {round}: {other:?}"),
                }
            }
            assert!(
                results
                    .iter()
                    .any(|r| r.is_err() && r.as_ref().unwrap_err().raw_os_error().is_some()),
                "round {round}: somebody reports the reset"
            );
            assert!(c.is_closed());
        }
    });
}

#[tokio::test]
async fn a_clean_close_is_still_end_of_file() {
    within(async {
        // The peer's FIN (CLOSE_WAIT here): end of file, socket open.
        let (c, mut s) = tcp_pair().await;
        s.close().unwrap();
        assert_eq!(c.receive(None).await.unwrap(), None);
        assert!(!c.is_closed());
        // After our own half-close, the peer's close may take our side
        // through TIME_WAIT to CLOSE: still end of file.
        let (c, s) = tcp_pair().await;
        c.shutdown(SHUT_WR).unwrap();
        assert_eq!(s.receive(None).await.unwrap(), None);
        drop(s);
        assert_eq!(c.receive(None).await.unwrap(), None);
        assert_eq!(c.receive_into(&mut [0u8; 8]).await.unwrap(), 0);
        // The same when a second handle (netcat's writer) did the half-close.
        let (c, s) = tcp_pair().await;
        let writer = c.try_clone().unwrap();
        writer.shutdown(SHUT_WR).unwrap();
        assert_eq!(s.receive(None).await.unwrap(), None);
        drop(s);
        assert_eq!(c.receive(None).await.unwrap(), None);
        assert!(!c.is_closed());
    })
    .await;
}
