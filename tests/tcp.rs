//! TCP over IPv4 and IPv6 on loopback: connection set-up, addresses, data
//! transfer and the failures that close a socket.
mod support;
use support::*;

use std::{sync::Arc, time::Duration};

use blade_socket::{
    AF_INET, AF_INET6, ErrorKind, IP_ANY, IPPROTO_TCP, SO_LINGER, SO_RCVBUF, SOCK_STREAM, Socket,
    SocketError,
};

// ----- helpers ---------------------------------------------------------------

fn v6() -> Socket {
    Socket::tcp6().expect("v6 socket")
}

async fn v6_listener() -> Socket {
    let mut l = v6();
    l.bind(0, Some("::1")).await.expect("bind ::1");
    l.listen(None).expect("listen");
    l
}

/// A connected IPv6 pair over ::1: (client, accepted server side).
async fn v6_pair() -> (Socket, Socket) {
    let l = v6_listener().await;
    let mut c = v6();
    c.connect(Some("::1"), l.port(), None)
        .await
        .expect("connect ::1");
    let s = l.accept().await.expect("accept");
    (c, s)
}

fn assert_err(e: &SocketError, kind: ErrorKind, message: &str) {
    assert_eq!(e.kind(), kind, "kind of {e:?}");
    assert_eq!(e.message(), message, "message of {e:?}");
    assert_eq!(e.to_string(), message);
}

/// Waits (yielding, no sleep) until `n` bytes are queued on `s`, using a
/// non-consuming peek, so that a following receive sees a known snapshot.
async fn wait_queued(s: &Socket, n: usize) {
    let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); n + 1];
    loop {
        let got = s.with_sockref(|r| match r.peek(&mut buf) {
            Ok(k) => Ok(k),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        });
        let got = got.expect("peek");
        assert!(got <= n, "more than {n} bytes queued: {got}");
        if got == n {
            return;
        }
        tokio::task::yield_now().await;
    }
}

// ----- addresses and properties --------------------------------------------

#[tokio::test]
async fn ipv4_round_trip_and_properties() {
    within(async {
        let l = listener().await;
        assert_eq!(l.host(), "127.0.0.1");
        assert_ne!(l.port(), 0);
        assert!(l.is_listening() && l.is_bound() && !l.is_connected() && !l.is_client());

        let mut c = Socket::tcp().unwrap();
        c.connect(Some("127.0.0.1"), l.port(), None).await.unwrap();
        assert!(c.is_client() && c.is_connected());
        assert!(!c.is_bound() && !c.is_listening() && !c.is_closed());
        assert_eq!(c.host(), "127.0.0.1");
        assert_eq!(c.port(), l.port());

        let s = l.accept().await.unwrap();
        let c_local = c.info().unwrap();
        assert_eq!(c_local.address, "127.0.0.1");
        assert_eq!(c_local.family, AF_INET);
        assert_ne!(c_local.port, 0);
        // The accepted socket's host/port are the peer's (the client's local address).
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.port(), c_local.port);
        let c_peer = c.peer_info().unwrap();
        assert_eq!(
            (c_peer.address.as_str(), c_peer.port),
            ("127.0.0.1", l.port())
        );
        assert_eq!(c_peer.family, AF_INET);
        let s_local = s.info().unwrap();
        assert_eq!(
            (s_local.address.as_str(), s_local.port),
            ("127.0.0.1", l.port())
        );
        let s_peer = s.peer_info().unwrap();
        assert_eq!(
            (s_peer.address.as_str(), s_peer.port),
            ("127.0.0.1", c_local.port)
        );

        assert_eq!(c.send("ping").await.unwrap(), 4);
        assert_eq!(&receive_exact(&s, 4).await[..], b"ping");
        assert_eq!(s.send(b"pong!").await.unwrap(), 5);
        assert_eq!(&receive_exact(&c, 5).await[..], b"pong!");
        // The listener is untouched by the traffic.
        assert!(l.is_listening() && !l.is_closed());
    })
    .await;
}

#[tokio::test]
async fn ipv6_round_trip_and_properties() {
    within(async {
        let l = v6_listener().await;
        assert_eq!(l.host(), "::1");
        assert_ne!(l.port(), 0);
        assert_eq!(l.family(), AF_INET6);
        let l_info = l.info().unwrap();
        assert_eq!(l_info.address, "::1", "IPv6 text without brackets");
        assert_eq!(l_info.port, l.port());
        assert_eq!(l_info.family, AF_INET6);

        let mut c = v6();
        c.connect(Some("::1"), l.port(), None).await.unwrap();
        assert!(c.is_client() && c.is_connected() && !c.is_bound() && !c.is_listening());
        assert_eq!((c.host().as_str(), c.port()), ("::1", l.port()));

        let s = l.accept().await.unwrap();
        assert_eq!(s.family(), AF_INET6);
        assert_eq!(s.socket_type(), SOCK_STREAM);
        let c_local = c.info().unwrap();
        assert_eq!(c_local.address, "::1");
        assert_eq!(c_local.family, AF_INET6);
        assert_eq!((s.host().as_str(), s.port()), ("::1", c_local.port));
        let s_peer = s.peer_info().unwrap();
        assert_eq!(
            (s_peer.address.as_str(), s_peer.port),
            ("::1", c_local.port)
        );
        assert_eq!(s_peer.family, AF_INET6);
        let c_peer = c.peer_info().unwrap();
        assert_eq!((c_peer.address.as_str(), c_peer.port), ("::1", l.port()));

        let msg = pattern(10_000);
        assert_eq!(c.send(&msg).await.unwrap(), msg.len());
        assert_eq!(receive_exact(&s, msg.len()).await, msg);
        assert_eq!(s.send("back").await.unwrap(), 4);
        assert_eq!(&receive_exact(&c, 4).await[..], b"back");
    })
    .await;
}

#[tokio::test]
async fn ipv6_defaults_to_loopback_for_bind_and_connect() {
    within(async {
        let mut l = v6();
        l.bind(0, None).await.unwrap();
        assert_eq!(l.host(), "::1");
        l.listen(None).unwrap();
        let mut c = v6();
        c.connect(None, l.port(), None).await.unwrap();
        assert_eq!(c.host(), "::1");
        let s = l.accept().await.unwrap();
        c.send("x").await.unwrap();
        assert_eq!(&receive_exact(&s, 1).await[..], b"x");
    })
    .await;
}

#[tokio::test]
async fn bind_port_zero_reports_the_real_port() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        s.bind(0, None).await.unwrap();
        assert!(s.is_bound());
        assert_eq!(s.host(), "127.0.0.1");
        assert_ne!(s.port(), 0);
        assert_eq!(s.info().unwrap().port, s.port());
        assert_eq!(s.info().unwrap().address, "127.0.0.1");

        let mut s = Socket::tcp().unwrap();
        s.bind(0, Some("127.0.0.1")).await.unwrap();
        assert_eq!(s.host(), "127.0.0.1");
        assert_ne!(s.port(), 0);
        assert_eq!(s.info().unwrap().port, s.port());

        let mut s6 = v6();
        s6.bind(0, Some("::1")).await.unwrap();
        assert_ne!(s6.port(), 0);
        assert_eq!(s6.info().unwrap().port, s6.port());
    })
    .await;
}

#[tokio::test]
async fn bind_wildcards_report_any_address_and_accept_loopback() {
    within(async {
        for host in [IP_ANY, "*", ""] {
            let mut l = Socket::tcp().unwrap();
            l.bind(0, Some(host)).await.unwrap();
            assert_eq!(l.host(), "0.0.0.0", "host after bind to {host:?}");
            assert_ne!(l.port(), 0, "port after bind to {host:?}");
            assert_eq!(l.info().unwrap().address, "0.0.0.0");
            assert_eq!(l.info().unwrap().port, l.port());
            l.listen(None).unwrap();
            let mut c = Socket::tcp().unwrap();
            c.connect(Some("127.0.0.1"), l.port(), None).await.unwrap();
            let s = l.accept().await.unwrap();
            assert_eq!(s.host(), "127.0.0.1");
            assert_eq!(s.port(), c.info().unwrap().port);
        }
        for host in [IP_ANY, "*", ""] {
            let mut l = v6();
            l.bind(0, Some(host)).await.unwrap();
            assert_eq!(l.host(), "::", "IPv6 wildcard after bind to {host:?}");
            assert_ne!(l.port(), 0);
            l.listen(None).unwrap();
            let mut c = v6();
            c.connect(Some("::1"), l.port(), None).await.unwrap();
            let s = l.accept().await.unwrap();
            assert_eq!(s.host(), "::1");
        }
    })
    .await;
}

#[tokio::test]
async fn accepted_socket_properties() {
    within(async {
        let mut l = listener().await;
        // The listener's own settings must not leak into accepted sockets.
        l.set_receive_timeout(Some(Duration::from_secs(15)));
        l.set_send_timeout(Some(Duration::from_secs(15)));
        let mut c = Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let s = l.accept().await.unwrap();
        assert!(s.is_client());
        assert!(s.is_connected());
        assert!(!s.is_bound() && !s.is_listening() && !s.is_closed() && !s.is_shutdown());
        assert_eq!(s.shutdown_reason(), None);
        assert_eq!(s.send_timeout(), None);
        assert_eq!(s.receive_timeout(), None);
        assert!(s.is_blocking());
        assert!(s.id() >= 0);
        assert_ne!(s.id(), l.id());
        assert_eq!(
            (s.family(), s.socket_type(), s.protocol()),
            (AF_INET, SOCK_STREAM, IPPROTO_TCP)
        );

        // Also from a listener in non-blocking mode: the accepted one is blocking.
        l.set_blocking(false).unwrap();
        let mut c2 = Socket::tcp().unwrap();
        c2.connect(None, l.port(), None).await.unwrap();
        let s2 = loop {
            match l.accept().await {
                Ok(s) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => tokio::task::yield_now().await,
                Err(e) => panic!("accept: {e:?}"),
            }
        };
        assert!(s2.is_blocking());
        assert_eq!(s2.receive_timeout(), None);
        assert_eq!(s2.port(), c2.info().unwrap().port);
        // Blocking mode really waits: a receive with nothing queued is pending
        // until data arrives, not WouldBlock.
        let (r, _) = tokio::join!(s2.receive(None), async {
            tokio::task::yield_now().await;
            c2.send("late").await.unwrap()
        });
        assert_eq!(r.unwrap().as_deref(), Some(&b"late"[..]));
        drop(c);
    })
    .await;
}

// ----- receive semantics ------------------------------------------------------

#[tokio::test]
async fn receive_none_returns_snapshot_and_some_n_at_most_n() {
    within(async {
        let (c, s) = tcp_pair().await;
        let msg = pattern(1000);
        c.send(&msg).await.unwrap();
        wait_queued(&s, 1000).await;
        let first = s.receive(Some(10)).await.unwrap().expect("data");
        assert!(
            !first.is_empty() && first.len() <= 10,
            "got {}",
            first.len()
        );
        assert_eq!(&first[..], &msg[..first.len()]);
        // None: everything queued now, and without waiting for EOF (the peer is open).
        let rest = s.receive(None).await.unwrap().expect("data");
        assert_eq!(rest.len(), 1000 - first.len());
        assert_eq!(&rest[..], &msg[first.len()..]);

        // Some(n) larger than what is queued returns what is queued.
        c.send("abc").await.unwrap();
        wait_queued(&s, 3).await;
        let got = s.receive(Some(1 << 20)).await.unwrap().expect("data");
        assert_eq!(&got[..], b"abc");

        // Some(n) smaller than what is queued never returns more than n.
        c.send(pattern(5000)).await.unwrap();
        wait_queued(&s, 5000).await;
        let mut total = 0;
        while total < 5000 {
            let b = s.receive(Some(7)).await.unwrap().expect("data");
            assert!(!b.is_empty() && b.len() <= 7, "got {}", b.len());
            total += b.len();
        }
        assert_eq!(total, 5000);
    })
    .await;
}

#[tokio::test]
async fn receive_none_snapshot_larger_than_64k() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        s.set_option(SO_RCVBUF, 4i32 << 20).unwrap();
        let n = 300_000;
        let msg = pattern(n);
        let (sent, ()) = tokio::join!(c.send(&msg), wait_queued(&s, n));
        assert_eq!(sent.unwrap(), n);
        let got = s.receive(None).await.unwrap().expect("data");
        assert_eq!(got.len(), n, "receive(None) returns every byte queued now");
        assert_eq!(&got[..], &msg[..]);
    })
    .await;
}

#[tokio::test]
async fn receive_some_zero_is_empty_at_once() {
    within(async {
        let (c, s) = tcp_pair().await;
        // Nothing queued: must not wait.
        let r = tokio::time::timeout(Duration::from_secs(5), s.receive(Some(0)))
            .await
            .expect("receive(Some(0)) must return at once");
        assert_eq!(r.unwrap().as_deref(), Some(&b""[..]));
        // Data queued: Some(0) takes none of it.
        c.send("keep").await.unwrap();
        wait_queued(&s, 4).await;
        assert_eq!(s.receive(Some(0)).await.unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(&receive_exact(&s, 4).await[..], b"keep");
    })
    .await;
}

#[tokio::test]
async fn eof_is_none_and_socket_stays_open() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        c.send("last words").await.unwrap();
        c.close().unwrap();
        assert_eq!(&receive_exact(&s, 10).await[..], b"last words");
        assert_eq!(s.receive(None).await.unwrap(), None);
        assert_eq!(s.receive(Some(100)).await.unwrap(), None, "EOF again");
        assert!(!s.is_closed());
        assert!(s.id() >= 0);
        assert!(s.info().is_ok(), "the socket is still usable");

        // Same with drop instead of close, on IPv6.
        let (c, s) = v6_pair().await;
        drop(c);
        assert_eq!(s.receive(None).await.unwrap(), None);
        assert!(!s.is_closed());
    })
    .await;
}

#[tokio::test]
async fn receive_from_on_stream_at_eof_is_empty() {
    within(async {
        let (c, s) = tcp_pair().await;
        c.send("hi").await.unwrap();
        wait_queued(&s, 2).await;
        let d = s.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"hi");
        drop(c);
        let d = s.receive_from(None).await.unwrap();
        assert!(d.data.is_empty());
        assert!(!s.is_closed());
    })
    .await;
}

#[tokio::test]
async fn send_to_on_stream_behaves_as_send() {
    within(async {
        let (c, s) = tcp_pair().await;
        // The address is ignored once connected (only literals: no DNS).
        assert_eq!(c.send_to("127.0.0.1", 9, "via send_to").await.unwrap(), 11);
        assert_eq!(&receive_exact(&s, 11).await[..], b"via send_to");
    })
    .await;
}

// ----- data --------------------------------------------------------------------

#[tokio::test]
async fn binary_safe_all_byte_values() {
    within(async {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut msg = all.clone();
        msg.extend(all.iter().rev());
        msg.extend_from_slice(&[0, 0, 0, b'\r', b'\n', 0xff, 0]);
        for (c, s) in [tcp_pair().await, v6_pair().await] {
            assert_eq!(c.send(&msg).await.unwrap(), msg.len());
            assert_eq!(receive_exact(&s, msg.len()).await, msg);
            assert_eq!(s.send(&msg).await.unwrap(), msg.len());
            wait_queued(&c, msg.len()).await;
            let got = c.receive(None).await.unwrap().expect("data");
            assert_eq!(&got[..], &msg[..]);
        }
    })
    .await;
}

#[tokio::test]
async fn large_send_is_fully_received() {
    within(async {
        let (c, s) = tcp_pair().await;
        const N: usize = 8 << 20;
        let msg = pattern(N);
        let expected = msg.clone();
        let reader = tokio::spawn(async move {
            let mut got = Vec::with_capacity(N);
            while got.len() < N {
                match s.receive(None).await.expect("receive") {
                    Some(b) => got.extend_from_slice(&b),
                    None => break,
                }
            }
            // Then EOF once the sender closes.
            let eof = s.receive(None).await.expect("receive at EOF");
            (got, eof)
        });
        let mut c = c;
        assert_eq!(c.send(&msg).await.unwrap(), N, "send writes all of it");
        c.close().unwrap();
        let (got, eof) = reader.await.unwrap();
        assert_eq!(got.len(), N);
        assert!(got == expected, "8 MiB arrived intact");
        assert_eq!(eof, None);
    })
    .await;
}

#[tokio::test]
async fn send_empty_message_is_zero() {
    within(async {
        let (c, s) = tcp_pair().await;
        assert_eq!(c.send("").await.unwrap(), 0);
        assert_eq!(c.send(Vec::<u8>::new()).await.unwrap(), 0);
        assert!(c.is_connected() && !c.is_closed());
        c.send("z").await.unwrap();
        assert_eq!(&receive_exact(&s, 1).await[..], b"z");
    })
    .await;
}

#[tokio::test]
async fn send_and_receive_from_two_tasks_on_one_socket() {
    within(async {
        let port = std_echo_server();
        let mut c = Socket::tcp().unwrap();
        c.connect(Some("127.0.0.1"), port, None).await.unwrap();
        let c = Arc::new(c);
        const N: usize = 2 << 20;
        let msg = pattern(N);
        let expected = msg.clone();
        let rx = {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                let mut got = Vec::with_capacity(N);
                while got.len() < N {
                    match c.receive(None).await.expect("receive") {
                        Some(b) => got.extend_from_slice(&b),
                        None => break,
                    }
                }
                got
            })
        };
        let tx = {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                let mut sent = 0;
                for chunk in msg.chunks(64 * 1024) {
                    sent += c.send(chunk).await.expect("send");
                }
                sent
            })
        };
        assert_eq!(tx.await.unwrap(), N);
        let got = rx.await.unwrap();
        assert_eq!(got.len(), N);
        assert!(got == expected, "echoed bytes match");
    })
    .await;
}

// ----- connect ---------------------------------------------------------------

#[tokio::test]
async fn connect_refused_is_os_error_and_closes() {
    within(async {
        for host in ["127.0.0.1", "localhost"] {
            let port = closed_port();
            let mut c = Socket::tcp().unwrap();
            let e = c.connect(Some(host), port, None).await.unwrap_err();
            assert_err(&e, ErrorKind::Os, "Connection refused");
            assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
            assert!(!e.is_timeout());
            assert!(c.is_closed(), "a failed connect closes the socket");
            assert_eq!(c.id(), -1);
            assert!(!c.is_connected() && !c.is_client());
            let e = c.send("x").await.unwrap_err();
            assert_err(
                &e,
                ErrorKind::IllegalState,
                "socket is in an illegal state (closed after: Connection refused)",
            );
        }
        let mut c = v6();
        let e = c
            .connect(Some("::1"), closed_port(), None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Os);
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        assert!(c.is_closed());
    })
    .await;
}

#[tokio::test]
async fn connect_resolves_localhost() {
    within(async {
        let l = listener().await;
        let mut c = Socket::tcp().unwrap();
        c.connect(Some("localhost"), l.port(), Some(Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(c.is_connected());
        assert_eq!(c.host(), "127.0.0.1", "host() is the peer's IP");
        assert_eq!(c.port(), l.port());
        let s = l.accept().await.unwrap();
        c.send("named").await.unwrap();
        assert_eq!(&receive_exact(&s, 5).await[..], b"named");
    })
    .await;
}

// ----- a vanished peer -------------------------------------------------------

#[tokio::test]
async fn peer_reset_fails_receive_and_closes() {
    within(async {
        for (c, mut s) in [tcp_pair().await, v6_pair().await] {
            s.set_option(SO_LINGER, Some(Duration::ZERO)).unwrap();
            s.close().unwrap();
            let e = c.receive(None).await.unwrap_err();
            assert_err(&e, ErrorKind::Os, "Connection reset by peer");
            assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
            assert!(c.is_closed(), "a reset closes the socket");
            assert_eq!(c.id(), -1);
            assert!(!c.is_connected());
            let e = c.receive(None).await.unwrap_err();
            assert_err(
                &e,
                ErrorKind::IllegalState,
                "socket is in an illegal state (closed after: Connection reset by peer)",
            );
        }
    })
    .await;
}

#[tokio::test]
async fn send_to_vanished_peer_fails_and_closes_without_sigpipe() {
    default_sigpipe();
    within(async {
        for (c, s) in [tcp_pair().await, v6_pair().await] {
            drop(s);
            let chunk = vec![7u8; 64 * 1024];
            let mut err = None;
            for _ in 0..10_000 {
                match c.send(&chunk).await {
                    Ok(n) => assert_eq!(n, chunk.len()),
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            let e = err.expect("send to a vanished peer eventually fails");
            assert_eq!(e.kind(), ErrorKind::Os, "{e:?}");
            assert!(
                matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)),
                "{e:?}"
            );
            assert!(c.is_closed(), "peer gone closes the socket");
            assert_eq!(c.id(), -1);
            let cause = e.message().to_owned();
            let e = c.send("more").await.unwrap_err();
            assert_err(
                &e,
                ErrorKind::IllegalState,
                &format!("socket is in an illegal state (closed after: {cause})"),
            );
            assert_eq!(e.io_kind(), std::io::ErrorKind::NotConnected);
        }
    })
    .await;
}

#[tokio::test]
async fn peer_info_requires_a_connection() {
    within(async {
        let l = listener().await;
        assert!(l.peer_info().is_err());
        let s = Socket::tcp().unwrap();
        assert!(s.peer_info().is_err());
        let (c, s) = tcp_pair().await;
        let key = |i: blade_socket::SocketInfo| (i.address, i.port, i.family);
        assert_eq!(key(c.peer_info().unwrap()), key(s.info().unwrap()));
        assert_eq!(key(s.peer_info().unwrap()), key(c.info().unwrap()));
    })
    .await;
}

// ----- constructors and shutdown through &self ------------------------------

#[test]
fn tcp6_is_an_ipv6_stream_socket_on_loopback() {
    let s = Socket::tcp6().unwrap();
    assert_eq!(
        (s.family(), s.socket_type(), s.protocol()),
        (AF_INET6, SOCK_STREAM, IPPROTO_TCP)
    );
    assert_eq!((s.host().as_str(), s.port()), ("::1", 0));
    assert!(s.is_blocking() && !s.is_bound() && !s.is_connected());
}

/// The case `shutdown(&self)` exists for: one task waits for the reply on an
/// `Arc<Socket>` while another sends the request and half-closes the same socket.
#[tokio::test]
async fn shutdown_through_a_shared_reference_while_another_task_receives() {
    within(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let reader = tokio::spawn({
            let c = Arc::clone(&c);
            async move {
                let mut reply = Vec::new();
                while let Some(b) = c.receive(None).await.expect("receive") {
                    reply.extend_from_slice(&b);
                }
                reply
            }
        });
        // The server answers only after the client's end of file.
        let server = tokio::spawn(async move {
            let mut request = Vec::new();
            while let Some(b) = s.receive(None).await.expect("server receive") {
                request.extend_from_slice(&b);
            }
            s.send(format!("got {}", request.len()))
                .await
                .expect("reply");
        });
        c.send("request").await.unwrap();
        c.shutdown(blade_socket::SHUT_WR).unwrap();
        assert_eq!(c.shutdown_reason(), Some(blade_socket::SHUT_WR));
        assert!(c.is_connected());
        server.await.unwrap();
        assert_eq!(reader.await.unwrap(), b"got 7");
    })
    .await;
}

/// Two directions shut from two tasks at once end as `Both`, never as
/// whichever landed last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_shutdowns_of_both_directions_merge() {
    within(async {
        for _ in 0..50 {
            let (c, _s) = tcp_pair().await;
            let c = Arc::new(c);
            let rd = tokio::spawn({
                let c = Arc::clone(&c);
                async move { c.shutdown(blade_socket::SHUT_RD) }
            });
            let wr = tokio::spawn({
                let c = Arc::clone(&c);
                async move { c.shutdown(blade_socket::SHUT_WR) }
            });
            rd.await.unwrap().unwrap();
            wr.await.unwrap().unwrap();
            assert_eq!(c.shutdown_reason(), Some(blade_socket::SHUT_RDWR));
            assert!(!c.is_connected());
        }
    })
    .await;
}

// ----- SocketAddr forms -----------------------------------------------------

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

#[tokio::test]
async fn bind_addr_and_connect_addr_over_ipv4_and_ipv6() {
    within(async {
        for (mut server, mut client, ip) in [
            (
                Socket::tcp().unwrap(),
                Socket::tcp().unwrap(),
                Ipv4Addr::LOCALHOST.into(),
            ),
            (v6(), v6(), std::net::IpAddr::from(Ipv6Addr::LOCALHOST)),
        ] {
            server.bind_addr(SocketAddr::new(ip, 0)).unwrap();
            assert!(server.is_bound());
            assert_eq!(server.host(), ip.to_string());
            assert_ne!(server.port(), 0);
            let addr = server.info().unwrap().socket_addr().expect("an IP address");
            assert_eq!(addr, SocketAddr::new(ip, server.port()));
            server.listen(None).unwrap();

            client
                .connect_addr(addr, Some(Duration::from_secs(5)))
                .await
                .unwrap();
            assert!(client.is_client() && client.is_connected());
            assert_eq!(
                (client.host(), client.port()),
                (ip.to_string(), addr.port())
            );
            assert_eq!(client.peer_info().unwrap().socket_addr(), Some(addr));
            let conn = server.accept().await.unwrap();
            assert_eq!(
                conn.peer_info().unwrap().socket_addr(),
                client.info().unwrap().socket_addr()
            );
            client.send("addr").await.unwrap();
            assert_eq!(
                conn.receive(None).await.unwrap().as_deref(),
                Some(&b"addr"[..])
            );
        }
    })
    .await;
}

/// `bind_addr` is not async and needs no runtime; the wildcard is the
/// unspecified address.
#[test]
fn bind_addr_works_outside_a_runtime_and_takes_the_wildcard() {
    let mut s = Socket::tcp().unwrap();
    s.bind_addr(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
        .unwrap();
    assert_eq!(s.host(), IP_ANY);
    assert!(s.is_bound() && s.port() != 0);
}

#[tokio::test]
async fn bind_addr_failures_leave_the_socket_open() {
    within(async {
        let l = listener().await;
        let mut s = Socket::tcp().unwrap();
        let e = s
            .bind_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, l.port())))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e:?}");
        assert!(!s.is_closed() && !s.is_bound());

        let e = s
            .bind_addr(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))
            .unwrap_err();
        assert_err(
            &e,
            ErrorKind::AddressResolution,
            "::1: address family for hostname not supported by an AF_INET socket",
        );
        assert!(!s.is_closed());

        s.bind_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let e = s
            .bind_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap_err();
        assert_err(&e, ErrorKind::IllegalState, "socket previously bound");
        s.close().unwrap();
        let e = s
            .bind_addr(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))
            .unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            "socket is in an illegal state (closed)",
        );
    })
    .await;
}

#[tokio::test]
async fn connect_addr_failures_follow_connect() {
    within(async {
        // Refused: that attempt's own OS error, and the socket is closed.
        let mut c = Socket::tcp().unwrap();
        let e = c
            .connect_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, closed_port())), None)
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.raw_os_error()),
            (ErrorKind::Os, Some(libc::ECONNREFUSED))
        );
        assert!(c.is_closed());

        // Another family than the socket's: an error naming it, socket closed.
        let mut c = v6();
        let e = c
            .connect_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)), None)
            .await
            .unwrap_err();
        assert_err(
            &e,
            ErrorKind::AddressResolution,
            "127.0.0.1: address family for hostname not supported by an AF_INET6 socket",
        );
        assert!(c.is_closed());

        // Already connected; closed.
        let (mut c, _s) = tcp_pair().await;
        let to = c.peer_info().unwrap().socket_addr().unwrap();
        let e = c.connect_addr(to, None).await.unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            "socket has existing connection",
        );
        c.close().unwrap();
        let e = c.connect_addr(to, None).await.unwrap_err();
        assert_err(
            &e,
            ErrorKind::IllegalState,
            "socket is in an illegal state (closed)",
        );

        // A full backlog: the timeout.
        let (l, _filler) = full_backlog().await;
        let to = l.info().unwrap().socket_addr().unwrap();
        let mut c = Socket::tcp().unwrap();
        let e = c
            .connect_addr(to, Some(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(c.is_closed());
    })
    .await;
}

/// A stream read that leaves room in its buffer forgets the socket's
/// readiness (as `tokio::net` does); the next read must still wake for
/// bytes that arrive after it, on every path that reads (`receive`,
/// `receive_into`, `AsyncRead`), with the writer on another worker: half
/// the bytes go out only once the reader has taken the last (so it parks
/// first), half at once (so they race the read and its forgetting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_reads_never_miss_bytes_that_come_later() {
    use tokio::io::AsyncReadExt;
    const N: usize = 900;
    within(async {
        let (a, b) = tcp_pair().await;
        let (turn_tx, mut turn_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
        let writer = tokio::spawn(async move {
            for i in 0..N {
                a.send([i as u8]).await.expect("send");
                if i % 2 == 0 {
                    // Wait until the reader has everything up to here.
                    while let Some(seen) = turn_rx.recv().await {
                        if seen > i {
                            break;
                        }
                    }
                }
            }
        });
        let mut got = Vec::with_capacity(N);
        let mut buf = [0u8; 4096];
        let mut round = 0;
        while got.len() < N {
            match round % 3 {
                0 => got.extend_from_slice(
                    &b.receive(Some(4096)).await.expect("receive").expect("data"),
                ),
                1 => {
                    let n = b.receive_into(&mut buf).await.expect("receive_into");
                    got.extend_from_slice(&buf[..n]);
                }
                _ => {
                    let n = (&b).read(&mut buf).await.expect("read");
                    got.extend_from_slice(&buf[..n]);
                }
            }
            round += 1;
            let _ = turn_tx.send(got.len());
        }
        let want: Vec<u8> = (0..N).map(|i| i as u8).collect();
        assert_eq!(got, want);
        writer.await.expect("writer");
    })
    .await;
}
