//! The socket's state machine: defaults, wrong-state errors and their order,
//! close, shutdown, and the auto traits.
mod support;
use support::*;

use std::time::Duration;

use blade_socket::{
    AF_INET, AF_INET6, AF_UNIX, ErrorKind, IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, SO_KEEPALIVE,
    SO_TYPE, SOCK_DGRAM, SOCK_STREAM, SOMAXCONN, Shutdown, Socket, SocketError,
};

const NOT_CONNECTED: &str = "socket not listening or connected";
const NOT_LISTENING: &str = "socket not bound/listening";

// ----- helpers ---------------------------------------------------------------

#[track_caller]
fn assert_err(e: &SocketError, kind: ErrorKind, message: &str) {
    assert_eq!(e.kind(), kind, "kind of {e:?}");
    assert_eq!(e.message(), message, "message of {e:?}");
    assert_eq!(e.to_string(), message);
}

#[track_caller]
fn assert_enotconn(e: &SocketError) {
    assert_err(e, ErrorKind::Os, "Transport endpoint is not connected");
    assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN));
}

/// Properties that must hold in every state.
#[track_caller]
fn check_invariants(s: &Socket) {
    assert!(
        !(s.is_connected() && s.is_listening()),
        "connected and listening at once: {s:?}"
    );
    // A listener stays bound (Blade's `accept` requires both); a connected
    // socket is not bound.
    if s.is_listening() {
        assert!(s.is_bound(), "listening but not bound: {s:?}");
    }
    assert!(
        !(s.is_bound() && s.is_connected()),
        "bound and connected: {s:?}"
    );
    if s.is_closed() {
        assert_eq!(s.id(), -1);
        assert!(!s.is_client() && !s.is_bound() && !s.is_connected() && !s.is_listening());
    } else {
        assert!(s.id() >= 0);
    }
    assert!(!format!("{s:?}").is_empty());
}

/// Every operation on a closed socket, each given arguments that would be
/// wrong on their own (so the closed check must come first). No argument
/// needs DNS: only literals of the wrong family, which fail locally.
async fn assert_everything_illegal(s: &mut Socket) {
    let file = tempfile::tempfile().expect("tempfile");
    let wrong_host = if s.family() == AF_INET6 {
        "127.0.0.1"
    } else {
        "::1"
    };
    assert_illegal(
        s.connect(Some(wrong_host), 0, Some(Duration::ZERO)).await,
        "connect",
    );
    assert_illegal(s.connect(None, 0, None).await, "connect(None)");
    assert_illegal(s.bind(0, Some(wrong_host)).await, "bind");
    assert_illegal(s.bind(0, None).await, "bind(None)");
    assert_illegal(s.listen(Some(SOMAXCONN + 1)), "listen(SOMAXCONN+1)");
    assert_illegal(s.listen(None), "listen");
    assert_illegal(s.accept().await, "accept");
    assert_illegal(s.send("").await, "send(empty)");
    assert_illegal(s.send("x").await, "send");
    assert_illegal(s.send_to(wrong_host, 0, "").await, "send_to");
    assert_illegal(s.receive(Some(0)).await, "receive(Some(0))");
    assert_illegal(s.receive(None).await, "receive");
    assert_illegal(s.receive_from(Some(0)).await, "receive_from(Some(0))");
    assert_illegal(s.receive_from(None).await, "receive_from");
    assert_illegal(s.send_file(&file).await, "send_file");
    for how in [Shutdown::Read, Shutdown::Write, Shutdown::Both] {
        assert_illegal(s.shutdown(how), "shutdown");
    }
    assert_illegal(s.set_option(SO_TYPE, true), "set_option(read-only)");
    assert_illegal(s.set_option(SO_KEEPALIVE, 7i32), "set_option(bad value)");
    assert_illegal(s.set_option(SO_KEEPALIVE, true), "set_option");
    assert_illegal(s.get_option(SO_TYPE), "get_option");
    assert_illegal(s.set_blocking(false), "set_blocking");
    assert_illegal(s.set_nodelay(true), "set_nodelay");
    assert_illegal(s.nodelay(), "nodelay");
    assert_illegal(s.info(), "info");
    assert_illegal(s.peer_info(), "peer_info");
    // And close stays fine.
    s.close().unwrap();
    assert!(s.is_closed());
}

// ----- defaults --------------------------------------------------------------

#[track_caller]
fn check_defaults(s: &Socket, host: &str) {
    assert_eq!(s.host(), host);
    assert_eq!(s.port(), 0);
    assert!(!s.is_client());
    assert!(!s.is_bound());
    assert!(!s.is_connected());
    assert!(!s.is_listening());
    assert!(!s.is_closed());
    assert!(!s.is_shutdown());
    assert!(s.is_blocking());
    assert_eq!(s.send_timeout(), None);
    assert_eq!(s.receive_timeout(), None);
    assert_eq!(s.shutdown_reason(), None);
    assert!(s.id() >= 0);
    check_invariants(s);
}

#[test]
fn defaults_of_a_new_socket() {
    // No runtime here: constructors and getters work on a plain thread.
    let s = Socket::tcp().unwrap();
    check_defaults(&s, "127.0.0.1");
    assert_eq!(
        (s.family(), s.socket_type(), s.protocol()),
        (AF_INET, SOCK_STREAM, IPPROTO_TCP)
    );

    let s = Socket::udp().unwrap();
    check_defaults(&s, "127.0.0.1");
    assert_eq!(
        (s.family(), s.socket_type(), s.protocol()),
        (AF_INET, SOCK_DGRAM, IPPROTO_UDP)
    );

    let s = Socket::new(AF_INET6, SOCK_STREAM, IPPROTO_TCP).unwrap();
    check_defaults(&s, "::1");
    assert_eq!(s.family(), AF_INET6);

    let s = Socket::new(AF_INET6, SOCK_DGRAM, IPPROTO_UDP).unwrap();
    check_defaults(&s, "::1");

    let s = Socket::new(AF_UNIX, SOCK_STREAM, IPPROTO_IP).unwrap();
    check_defaults(&s, "");
    assert_eq!(s.family(), AF_UNIX);

    // Two sockets have different descriptors.
    let a = Socket::tcp().unwrap();
    let b = Socket::tcp().unwrap();
    assert_ne!(a.id(), b.id());
}

#[test]
fn invalid_combination_is_an_error() {
    let r = Socket::new(AF_INET, SOCK_DGRAM, IPPROTO_TCP);
    assert!(r.is_err(), "AF_INET/SOCK_DGRAM/IPPROTO_TCP: {r:?}");
    let r = Socket::new(AF_INET, SOCK_STREAM, IPPROTO_UDP);
    assert!(r.is_err(), "AF_INET/SOCK_STREAM/IPPROTO_UDP: {r:?}");
    // A constant this OS lacks (-1) is an error too, not a crash.
    let r = Socket::new(blade_socket::Family::from_raw(-1), SOCK_STREAM, IPPROTO_TCP);
    assert!(r.is_err());
}

// ----- closed ----------------------------------------------------------------

#[tokio::test]
async fn closed_socket_rejects_everything_first() {
    within(async {
        // Closed while new.
        let mut s = Socket::tcp().unwrap();
        s.close().unwrap();
        assert_everything_illegal(&mut s).await;

        // Closed while bound.
        let mut s = Socket::tcp().unwrap();
        s.bind(0, None).await.unwrap();
        s.close().unwrap();
        assert_everything_illegal(&mut s).await;

        // Closed while listening.
        let mut l = listener().await;
        l.close().unwrap();
        assert_everything_illegal(&mut l).await;

        // Closed while connected (and half shut).
        let (mut c, mut s) = tcp_pair().await;
        c.shutdown(Shutdown::Write).unwrap();
        c.close().unwrap();
        s.close().unwrap();
        assert_everything_illegal(&mut c).await;
        assert_everything_illegal(&mut s).await;

        // IPv6 and UDP.
        let mut s = Socket::tcp6().unwrap();
        s.close().unwrap();
        assert_everything_illegal(&mut s).await;
        let mut u = Socket::udp().unwrap();
        u.close().unwrap();
        assert_everything_illegal(&mut u).await;
    })
    .await;
}

#[tokio::test]
async fn close_is_idempotent_and_keeps_properties() {
    within(async {
        let (mut c, _s) = tcp_pair().await;
        c.set_send_timeout(Some(Duration::from_secs(3)));
        c.set_receive_timeout(Some(Duration::from_secs(4)));
        c.set_blocking(false).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let (host, port) = (c.host(), c.port());
        assert_ne!(port, 0);

        c.close().unwrap();
        c.close().unwrap();
        assert!(c.is_closed());
        assert_eq!(c.id(), -1);
        assert!(!c.is_client() && !c.is_bound() && !c.is_connected() && !c.is_listening());
        // These keep their values.
        assert!(c.is_shutdown());
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Write));
        assert!(!c.is_blocking());
        assert_eq!(c.send_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(c.receive_timeout(), Some(Duration::from_secs(4)));
        assert_eq!((c.host(), c.port()), (host, port));
        assert_eq!(
            (c.family(), c.socket_type(), c.protocol()),
            (AF_INET, SOCK_STREAM, IPPROTO_TCP)
        );
        check_invariants(&c);
        c.close().unwrap();

        // A listener: no longer listening, port released.
        let mut l = listener().await;
        let port = l.port();
        l.close().unwrap();
        assert!(!l.is_listening() && l.is_closed());
        assert_eq!((l.host().as_str(), l.port()), ("127.0.0.1", port));
        assert!(l.is_blocking());
        assert_eq!(l.shutdown_reason(), None);
        let mut again = Socket::tcp().unwrap();
        again
            .bind(port, None)
            .await
            .expect("close released the listener's port");

        // A bound socket: no longer bound.
        let mut b = Socket::tcp().unwrap();
        b.bind(0, None).await.unwrap();
        b.close().unwrap();
        assert!(!b.is_bound());

        // Dropping closes too: the port is free again.
        let l = listener().await;
        let port = l.port();
        drop(l);
        let mut again = Socket::tcp().unwrap();
        again
            .bind(port, None)
            .await
            .expect("drop released the listener's port");
    })
    .await;
}

// ----- bind / listen / connect / accept in the wrong state ----------------------

#[tokio::test]
async fn second_bind_is_previously_bound() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        s.bind(0, None).await.unwrap();
        let port = s.port();
        let e = s.bind(0, None).await.unwrap_err();
        assert_err(&e, ErrorKind::IllegalState, "socket previously bound");
        assert!(s.is_bound() && !s.is_closed());
        assert_eq!(s.port(), port);

        s.listen(None).unwrap();
        let e = s.bind(0, Some("127.0.0.1")).await.unwrap_err();
        assert_err(&e, ErrorKind::IllegalState, "socket previously bound");
        assert!(s.is_listening() && s.is_bound());
    })
    .await;
}

#[tokio::test]
async fn bind_on_a_connected_socket_is_existing_connection() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        let (host, port) = (c.host(), c.port());
        let e = c.bind(0, None).await.unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            "socket has existing connection",
        );
        // nothing changes
        assert!(c.is_connected() && !c.is_bound() && !c.is_closed());
        assert_eq!((c.host(), c.port()), (host, port));
        c.send("still").await.unwrap();
        assert_eq!(&receive_exact(&s, 5).await[..], b"still");
        // a connected datagram socket too
        let mut u = Socket::udp().unwrap();
        u.connect(None, 9, None).await.unwrap();
        let e = u.bind(0, None).await.unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            "socket has existing connection",
        );
        assert!(u.is_connected());
    })
    .await;
}

#[tokio::test]
async fn listen_in_the_wrong_state() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        let e = s.listen(None).unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            &format!("{ILLEGAL} (not bound)"),
        );
        assert!(!s.is_listening() && !s.is_closed());

        s.bind(0, None).await.unwrap();
        let e = s.listen(Some(SOMAXCONN + 1)).unwrap_err();
        assert_err(
            &e,
            ErrorKind::InvalidArgument,
            "maximum queue length exceeded",
        );
        let e = s.listen(Some(u32::MAX)).unwrap_err();
        assert_err(
            &e,
            ErrorKind::InvalidArgument,
            "maximum queue length exceeded",
        );
        assert!(s.is_bound() && !s.is_listening() && !s.is_closed());

        s.listen(Some(SOMAXCONN)).unwrap();
        assert!(s.is_listening());
        let e = s.listen(None).unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            &format!("{ILLEGAL} (listening)"),
        );
        assert!(s.is_listening());

        // Still a working listener.
        let mut c = Socket::tcp().unwrap();
        c.connect(None, s.port(), None).await.unwrap();
        s.accept().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn connect_on_a_connected_socket() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        let other = listener().await;
        let e = c.connect(None, other.port(), None).await.unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            "socket has existing connection",
        );
        assert!(c.is_connected() && !c.is_closed());
        c.send("still").await.unwrap();
        assert_eq!(&receive_exact(&s, 5).await[..], b"still");
    })
    .await;
}

#[tokio::test]
async fn connect_on_a_listener() {
    within(async {
        let mut l = listener().await;
        let port = l.port();
        let e = l.connect(None, port, None).await.unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            &format!("{ILLEGAL} (listening)"),
        );
        assert!(!l.is_closed() && l.is_listening() && !l.is_connected());
        assert_eq!(l.port(), port);
        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        let s = l.accept().await.unwrap();
        assert!(s.is_connected());
    })
    .await;
}

#[tokio::test]
async fn accept_on_a_socket_that_is_not_listening() {
    within(async {
        let s = Socket::tcp().unwrap();
        assert_err(
            &s.accept().await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_LISTENING,
        );
        let mut b = Socket::tcp().unwrap();
        b.bind(0, None).await.unwrap();
        assert_err(
            &b.accept().await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_LISTENING,
        );
        assert!(b.is_bound());
        let (c, a) = tcp_pair().await;
        assert_err(
            &c.accept().await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_LISTENING,
        );
        assert_err(
            &a.accept().await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_LISTENING,
        );
        assert!(c.is_connected() && a.is_connected());
    })
    .await;
}

#[tokio::test]
async fn send_and_receive_when_not_connected() {
    within(async {
        let l = listener().await;
        assert_err(
            &l.send("x").await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_CONNECTED,
        );
        assert_err(
            &l.send("").await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_CONNECTED,
        );
        assert_err(
            &l.receive(None).await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_CONNECTED,
        );
        assert_err(
            &l.receive(Some(0)).await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_CONNECTED,
        );
        assert!(l.is_listening() && !l.is_closed());
        let mut c = Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        l.accept().await.expect("listener still accepts");

        let s = Socket::tcp().unwrap();
        assert_err(
            &s.send("x").await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_CONNECTED,
        );
        assert_err(
            &s.receive(None).await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_CONNECTED,
        );
        assert!(!s.is_closed());
        let mut b = Socket::tcp().unwrap();
        b.bind(0, None).await.unwrap();
        assert_err(
            &b.send("x").await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_CONNECTED,
        );
        assert_err(
            &b.receive(Some(5)).await.unwrap_err(),
            ErrorKind::IllegalState,
            NOT_CONNECTED,
        );
        assert!(b.is_bound());
    })
    .await;
}

#[tokio::test]
async fn bind_failures_leave_the_socket_open() {
    within(async {
        let l = listener().await;
        let mut s = Socket::tcp().unwrap();
        let e = s.bind(l.port(), None).await.unwrap_err();
        assert_err(&e, ErrorKind::Os, "Address already in use");
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE));
        assert!(!s.is_closed() && !s.is_bound());
        assert!(s.id() >= 0);
        assert!(l.is_listening());
        // Still usable.
        s.bind(0, None).await.unwrap();
        assert!(s.is_bound());

        // Wrong family, both ways.
        let mut s = Socket::tcp().unwrap();
        assert!(s.bind(0, Some("::1")).await.is_err());
        assert!(!s.is_closed() && !s.is_bound());
        s.bind(0, None).await.unwrap();
        let mut s6 = Socket::tcp6().unwrap();
        assert!(s6.bind(0, Some("127.0.0.1")).await.is_err());
        assert!(!s6.is_closed() && !s6.is_bound());
        s6.bind(0, None).await.unwrap();
        assert_eq!(s6.host(), "::1");
    })
    .await;
}

// ----- shutdown ----------------------------------------------------------------

#[tokio::test]
async fn shutdown_write_is_a_half_close() {
    within(async {
        let (c, s) = tcp_pair().await;
        c.send("request").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        assert!(c.is_shutdown());
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Write));
        assert!(c.is_connected() && !c.is_closed());
        check_invariants(&c);
        // The peer reads the request, then EOF, and can still answer.
        assert_eq!(&receive_exact(&s, 7).await[..], b"request");
        assert_eq!(s.receive(None).await.unwrap(), None);
        s.send("reply").await.unwrap();
        assert_eq!(&receive_exact(&c, 5).await[..], b"reply");
        // Sending on the shut direction: illegal state (before anything else).
        assert_err(
            &c.send("x").await.unwrap_err(),
            ErrorKind::IllegalState,
            &format!("{ILLEGAL} (shut for writing)"),
        );
        assert_err(
            &c.send("").await.unwrap_err(),
            ErrorKind::IllegalState,
            &format!("{ILLEGAL} (shut for writing)"),
        );
        assert!(!c.is_closed());
        // Asking again is fine and changes nothing.
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Write));
        assert!(c.is_connected());
    })
    .await;
}

#[tokio::test]
async fn shutdown_read_leaves_send_working() {
    within(async {
        let (c, s) = tcp_pair().await;
        c.shutdown(Shutdown::Read).unwrap();
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Read));
        assert!(c.is_shutdown() && c.is_connected());
        c.send("one way").await.unwrap();
        assert_eq!(&receive_exact(&s, 7).await[..], b"one way");
        assert_err(
            &c.receive(None).await.unwrap_err(),
            ErrorKind::IllegalState,
            &format!("{ILLEGAL} (shut for reading)"),
        );
        assert_err(
            &c.receive(Some(0)).await.unwrap_err(),
            ErrorKind::IllegalState,
            &format!("{ILLEGAL} (shut for reading)"),
        );
        c.shutdown(Shutdown::Read).unwrap();
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Read));
        assert!(!c.is_closed());
    })
    .await;
}

#[tokio::test]
async fn shutdown_both_directions_in_either_order() {
    within(async {
        for order in [
            [Shutdown::Read, Shutdown::Write],
            [Shutdown::Write, Shutdown::Read],
        ] {
            let (c, _s) = tcp_pair().await;
            c.shutdown(order[0]).unwrap();
            assert!(c.is_connected());
            c.shutdown(order[1]).unwrap();
            assert_eq!(c.shutdown_reason(), Some(Shutdown::Both), "{order:?}");
            assert!(!c.is_connected(), "{order:?}");
            assert!(c.is_shutdown() && !c.is_closed());
            check_invariants(&c);
            // Repeats are fine and keep Both.
            for how in [Shutdown::Read, Shutdown::Write, Shutdown::Both] {
                c.shutdown(how).unwrap();
                assert_eq!(c.shutdown_reason(), Some(Shutdown::Both));
            }
            assert_err(
                &c.send("x").await.unwrap_err(),
                ErrorKind::IllegalState,
                &format!("{ILLEGAL} (shut for writing)"),
            );
            assert_err(
                &c.receive(None).await.unwrap_err(),
                ErrorKind::IllegalState,
                &format!("{ILLEGAL} (shut for reading)"),
            );
        }
        let (c, s) = tcp_pair().await;
        c.shutdown(Shutdown::Both).unwrap();
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Both));
        assert!(!c.is_connected() && !c.is_closed());
        c.shutdown(Shutdown::Both).unwrap();
        assert_eq!(s.receive(None).await.unwrap(), None, "the peer sees EOF");
    })
    .await;
}

#[tokio::test]
async fn shutdown_when_not_connected_changes_nothing() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        for how in [Shutdown::Read, Shutdown::Write, Shutdown::Both] {
            assert_enotconn(&s.shutdown(how).unwrap_err());
            assert!(!s.is_shutdown() && s.shutdown_reason().is_none() && !s.is_closed());
        }
        // A new socket is still connectable afterwards.
        let target = listener().await;
        s.connect(None, target.port(), Some(Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(s.is_connected() && !s.is_shutdown());

        let mut b = Socket::tcp().unwrap();
        b.bind(0, None).await.unwrap();
        for how in [Shutdown::Read, Shutdown::Write, Shutdown::Both] {
            assert_enotconn(&b.shutdown(how).unwrap_err());
        }
        assert!(b.is_bound() && !b.is_shutdown() && b.shutdown_reason().is_none());

        let l = listener().await;
        for how in [Shutdown::Read, Shutdown::Write, Shutdown::Both] {
            assert_enotconn(&l.shutdown(how).unwrap_err());
            assert!(l.is_listening() && !l.is_shutdown() && l.shutdown_reason().is_none());
        }
        // The listener keeps accepting, and blocks normally when nothing is pending
        // (a listener shut at the OS level would report HUP forever).
        l.set_receive_timeout(Some(Duration::from_millis(200)));
        let e = l.accept().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
        assert!(e.is_timeout());
        assert!(l.is_listening());
        l.set_receive_timeout(None);
        for _ in 0..2 {
            let mut c = Socket::tcp().unwrap();
            c.connect(None, l.port(), None).await.unwrap();
            let a = l.accept().await.expect("listener still accepts");
            c.send("ok").await.unwrap();
            assert_eq!(&receive_exact(&a, 2).await[..], b"ok");
        }
    })
    .await;
}

// ----- invariants, Debug, auto traits ---------------------------------------------

#[tokio::test]
async fn connected_and_listening_never_both() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        check_invariants(&s);
        s.bind(0, None).await.unwrap();
        check_invariants(&s);
        assert!(s.is_bound() && !s.is_listening() && !s.is_connected() && !s.is_client());
        s.listen(None).unwrap();
        check_invariants(&s);
        assert!(s.is_bound() && s.is_listening(), "a listener stays bound");
        let mut c = Socket::tcp().unwrap();
        c.connect(None, s.port(), None).await.unwrap();
        check_invariants(&c);
        assert!(!c.is_bound());
        let mut a = s.accept().await.unwrap();
        check_invariants(&a);
        assert!(!a.is_bound());
        check_invariants(&s);
        a.shutdown(Shutdown::Read).unwrap();
        check_invariants(&a);
        a.shutdown(Shutdown::Write).unwrap();
        check_invariants(&a);
        for x in [&mut s, &mut c, &mut a] {
            x.close().unwrap();
            check_invariants(x);
        }
        // After a failed connect.
        let mut f = Socket::tcp().unwrap();
        assert!(f.connect(None, closed_port(), None).await.is_err());
        check_invariants(&f);
        assert!(f.is_closed());
    })
    .await;
}

#[tokio::test]
async fn debug_never_panics() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        assert!(!format!("{s:?}").is_empty());
        assert!(!format!("{s:#?}").is_empty());
        s.bind(0, None).await.unwrap();
        assert!(!format!("{s:?}").is_empty());
        let (mut c, a) = tcp_pair().await;
        assert!(!format!("{c:?} {a:?}").is_empty());
        c.shutdown(Shutdown::Both).unwrap();
        assert!(!format!("{c:?}").is_empty());
        c.close().unwrap();
        s.close().unwrap();
        assert!(!format!("{c:?} {s:?}").is_empty());
        let u = Socket::unix().unwrap();
        assert!(!format!("{u:?}").is_empty());
    })
    .await;
}

fn assert_debug<T: std::fmt::Debug>() {}

#[tokio::test]
async fn socket_is_send_sync_debug_and_its_futures_are_send() {
    within(async {
        assert_send_sync::<Socket>();
        assert_debug::<Socket>();
        assert_send_sync::<SocketError>();

        let (mut c, s) = tcp_pair().await;
        let file = tempfile::tempfile().unwrap();
        assert_send(&s.receive(None));
        assert_send(&s.receive_from(None));
        assert_send(&s.send("x"));
        assert_send(&s.send(vec![1u8]));
        assert_send(&s.send_to("127.0.0.1", 1, "x"));
        assert_send(&s.send_file(&file));
        assert_send(&s.accept());
        assert_send(&c.connect(None, 1, None));
        assert_send(&c.bind(0, None));
        assert_send(&blade_socket::get_address_info("127.0.0.1", None, None));
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
        assert_send(&c.connect_addr(addr, None));
        assert_send(&s.send_to_addr(addr, "x"));

        // And they really run on other tasks.
        let server = tokio::spawn(async move {
            let got = receive_exact(&s, 3).await;
            s.send(&got).await.unwrap();
            s
        });
        let client = tokio::spawn(async move {
            c.send("abc").await.unwrap();
            let back = receive_exact(&c, 3).await;
            c.close().unwrap();
            back
        });
        assert_eq!(&client.await.unwrap()[..], b"abc");
        let s = server.await.unwrap();
        assert_eq!(s.receive(None).await.unwrap(), None);
    })
    .await;
}
