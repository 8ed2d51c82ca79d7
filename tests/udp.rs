mod support;
use support::*;

/// One datagram's bytes: `receive` on a connected socket (a datagram
/// socket's receive never reports EOF), `receive_from` on one that is not.
async fn datagram(s: &Socket, length: Option<usize>) -> Vec<u8> {
    if !s.is_connected() {
        return s.receive_from(length).await.unwrap().data.to_vec();
    }
    s.receive(length)
        .await
        .unwrap()
        .expect("a datagram, never None")
        .to_vec()
}

use blade_socket::{AF_INET, AF_INET6, IPPROTO_UDP, SOCK_DGRAM, SockType, Socket, blocking};

/// A UDP socket bound to 127.0.0.1 on an ephemeral port.
async fn bound_udp() -> Socket {
    let mut s = Socket::udp().expect("udp");
    s.bind(0, None).await.expect("bind");
    assert!(s.is_bound());
    assert_ne!(s.port(), 0);
    s
}

/// A bound receiver connected back to `tx`, so that it may `receive`.
async fn connect_back(rx: &mut Socket, tx: &Socket) {
    let port = tx.info().unwrap().port;
    rx.connect(Some("127.0.0.1"), port, None).await.unwrap();
}

/// A bound receiver and a sender connected to it, both UDP on 127.0.0.1.
async fn connected_udp() -> (Socket, Socket) {
    let rx = bound_udp().await;
    let mut tx = Socket::udp().unwrap();
    tx.connect(Some("127.0.0.1"), rx.port(), None)
        .await
        .unwrap();
    (rx, tx)
}

#[tokio::test]
async fn udp_socket_properties() {
    within(async {
        let s = Socket::udp().unwrap();
        assert_eq!(s.family(), AF_INET);
        assert_eq!(s.socket_type(), SOCK_DGRAM);
        assert_eq!(s.protocol(), IPPROTO_UDP);
        let s = bound_udp().await;
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.info().unwrap().port, s.port());
    })
    .await;
}

#[tokio::test]
async fn connected_udp_send_and_receive() {
    within(async {
        let (rx, tx) = connected_udp().await;
        assert!(tx.is_connected());
        assert_eq!(tx.send("hello udp").await.unwrap(), 9);
        assert_eq!(datagram(&rx, None).await, b"hello udp");

        // and back: the receiver replies to the sender's address
        let from_port = tx.info().unwrap().port;
        assert_eq!(
            rx.send_to("127.0.0.1", from_port, "reply").await.unwrap(),
            5
        );
        assert_eq!(datagram(&tx, None).await, b"reply");
    })
    .await;
}

#[tokio::test]
async fn connected_udp_pair_both_directions() {
    within(async {
        let mut a = bound_udp().await;
        let mut b = bound_udp().await;
        let (a_port, b_port) = (a.port(), b.port());
        a.connect(Some("127.0.0.1"), b_port, None).await.unwrap();
        b.connect(Some("127.0.0.1"), a_port, None).await.unwrap();
        // after connect, host()/port() name the peer
        assert_eq!(a.port(), b_port);
        assert_eq!(b.port(), a_port);
        assert_eq!(a.info().unwrap().port, a_port);
        for i in 0..10u8 {
            let msg = vec![i; usize::from(i) + 1];
            assert_eq!(a.send(&msg).await.unwrap(), msg.len());
            assert_eq!(datagram(&b, None).await, &msg[..]);
            assert_eq!(b.send(&msg[..1]).await.unwrap(), 1);
            assert_eq!(datagram(&a, None).await, &msg[..1]);
        }
    })
    .await;
}

#[tokio::test]
async fn send_to_and_receive_from_report_the_sender() {
    within(async {
        let rx = bound_udp().await;
        let tx = bound_udp().await;
        assert_eq!(
            tx.send_to("127.0.0.1", rx.port(), b"ping").await.unwrap(),
            4
        );
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"ping");
        assert_eq!(d.host, "127.0.0.1");
        assert_eq!(d.port, tx.port());

        // reply to whoever sent it
        assert_eq!(rx.send_to(&d.host, d.port, b"pong").await.unwrap(), 4);
        let back = tx.receive_from(None).await.unwrap();
        assert_eq!(&back.data[..], b"pong");
        assert_eq!(back.host, "127.0.0.1");
        assert_eq!(back.port, rx.port());
    })
    .await;
}

#[tokio::test]
async fn send_to_from_an_unbound_socket_reports_its_implicit_port() {
    within(async {
        let rx = bound_udp().await;
        let tx = Socket::udp().unwrap();
        tx.send_to("127.0.0.1", rx.port(), b"x").await.unwrap();
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"x");
        assert_eq!(d.host, "127.0.0.1");
        let implicit = tx.info().unwrap().port;
        assert_ne!(implicit, 0);
        assert_eq!(d.port, implicit);
    })
    .await;
}

#[tokio::test]
async fn send_to_localhost_name() {
    within(async {
        let rx = bound_udp().await;
        let tx = Socket::udp().unwrap();
        tx.send_to("localhost", rx.port(), b"named").await.unwrap();
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"named");
    })
    .await;
}

#[tokio::test]
async fn empty_datagram_is_some_empty_never_none() {
    within(async {
        let (mut rx, tx) = connected_udp().await;
        connect_back(&mut rx, &tx).await;
        assert_eq!(tx.send(b"").await.unwrap(), 0);
        let got = rx.receive(None).await.unwrap();
        assert_eq!(
            got.as_deref(),
            Some(&b""[..]),
            "empty datagram must be Some(empty)"
        );
        // with a length too
        assert_eq!(tx.send(b"").await.unwrap(), 0);
        assert_eq!(datagram(&rx, Some(100)).await, b"");
        // the socket is still usable: the empty datagram did not end anything
        tx.send(b"after").await.unwrap();
        assert_eq!(datagram(&rx, None).await, b"after");
    })
    .await;
}

#[tokio::test]
async fn empty_datagram_via_send_to_and_receive_from() {
    within(async {
        let rx = bound_udp().await;
        let tx = bound_udp().await;
        assert_eq!(tx.send_to("127.0.0.1", rx.port(), b"").await.unwrap(), 0);
        let d = rx.receive_from(None).await.unwrap();
        assert!(d.data.is_empty());
        assert_eq!(d.host, "127.0.0.1");
        assert_eq!(d.port, tx.port());
        // a following datagram is still delivered separately
        tx.send_to("127.0.0.1", rx.port(), b"next").await.unwrap();
        assert_eq!(&rx.receive_from(None).await.unwrap().data[..], b"next");
    })
    .await;
}

#[tokio::test]
async fn receive_with_length_truncates_and_discards_rest_of_datagram() {
    within(async {
        let (rx, tx) = connected_udp().await;
        tx.send(b"abcdefghij").await.unwrap();
        tx.send(b"second").await.unwrap();
        tx.send(b"third-datagram").await.unwrap();
        assert_eq!(datagram(&rx, Some(3)).await, b"abc");
        // the rest of the first datagram ("defghij") is gone
        assert_eq!(datagram(&rx, None).await, b"second");
        assert_eq!(datagram(&rx, Some(5)).await, b"third");
        // nothing is left over from the truncated datagrams
        tx.send(b"last").await.unwrap();
        assert_eq!(datagram(&rx, Some(100)).await, b"last");
    })
    .await;
}

#[tokio::test]
async fn receive_from_with_length_truncates_and_discards() {
    within(async {
        let rx = bound_udp().await;
        let tx = bound_udp().await;
        tx.send_to("127.0.0.1", rx.port(), b"0123456789")
            .await
            .unwrap();
        tx.send_to("127.0.0.1", rx.port(), b"xyz").await.unwrap();
        let d = rx.receive_from(Some(4)).await.unwrap();
        assert_eq!(&d.data[..], b"0123");
        assert_eq!(d.port, tx.port());
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"xyz");
    })
    .await;
}

#[tokio::test]
async fn large_length_on_a_small_datagram_returns_just_the_datagram() {
    within(async {
        let mut rx = bound_udp().await;
        let tx = bound_udp().await;
        let port = rx.port();
        connect_back(&mut rx, &tx).await;
        tx.send_to("127.0.0.1", port, b"small").await.unwrap();
        tx.send_to("127.0.0.1", port, b"two").await.unwrap();
        // a length far beyond the datagram (and beyond a small-read fast path)
        let got = rx.receive(Some(1 << 20)).await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"small"[..]));
        let d = rx.receive_from(Some(1 << 20)).await.unwrap();
        assert_eq!(&d.data[..], b"two");
    })
    .await;
}

#[tokio::test]
async fn receive_none_returns_one_whole_large_datagram() {
    within(async {
        let (mut rx, tx) = connected_udp().await;
        connect_back(&mut rx, &tx).await;
        let big = pattern(60_000);
        assert_eq!(tx.send(&big).await.unwrap(), 60_000);
        tx.send(b"tail").await.unwrap();
        let got = rx.receive(None).await.unwrap().expect("datagram");
        assert_eq!(got.len(), 60_000);
        assert!(got[..] == big[..], "large datagram corrupted");
        // exactly one datagram was returned: the next is the small one
        assert_eq!(datagram(&rx, None).await, b"tail");
    })
    .await;
}

#[tokio::test]
async fn receive_from_none_returns_one_whole_large_datagram() {
    within(async {
        let rx = bound_udp().await;
        let tx = bound_udp().await;
        let big = pattern(60_000);
        assert_eq!(
            tx.send_to("127.0.0.1", rx.port(), &big).await.unwrap(),
            60_000
        );
        tx.send_to("127.0.0.1", rx.port(), b"tail").await.unwrap();
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(d.data.len(), 60_000);
        assert!(d.data[..] == big[..]);
        assert_eq!(d.port, tx.port());
        assert_eq!(&rx.receive_from(None).await.unwrap().data[..], b"tail");
    })
    .await;
}

#[tokio::test]
async fn large_datagram_truncated_by_length() {
    within(async {
        let mut rx = bound_udp().await;
        let tx = bound_udp().await;
        let port = rx.port();
        connect_back(&mut rx, &tx).await;
        let big = pattern(60_000);
        tx.send_to("127.0.0.1", port, &big).await.unwrap();
        tx.send_to("127.0.0.1", port, b"tail").await.unwrap();
        let got = rx.receive(Some(50_000)).await.unwrap().expect("datagram");
        assert_eq!(got.len(), 50_000);
        assert!(got[..] == big[..50_000]);
        assert_eq!(datagram(&rx, None).await, b"tail");
    })
    .await;
}

#[tokio::test]
async fn send_to_on_a_stream_socket_behaves_as_send() {
    within(async {
        let (c, s) = tcp_pair().await;
        // the address is ignored once connected: it names a port nobody listens on
        let elsewhere = closed_port();
        assert_eq!(
            c.send_to("127.0.0.1", elsewhere, b"via send_to")
                .await
                .unwrap(),
            11
        );
        assert_eq!(&receive_exact(&s, 11).await[..], b"via send_to");
        assert!(c.is_connected());
        // and in the other direction, with the peer's own address
        assert_eq!(s.send_to(&s.host(), s.port(), b"ok").await.unwrap(), 2);
        assert_eq!(&receive_exact(&c, 2).await[..], b"ok");
    })
    .await;
}

#[tokio::test]
async fn send_to_on_an_unconnected_stream_socket_is_not_connected() {
    within(async {
        let s = Socket::tcp().unwrap();
        let err = s
            .send_to("127.0.0.1", closed_port(), b"x")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), blade_socket::ErrorKind::IllegalState);
        assert_eq!(err.message(), "socket not listening or connected");
    })
    .await;
}

#[tokio::test]
async fn receive_from_on_a_stream_socket() {
    within(async {
        let (c, s) = tcp_pair().await;
        c.send(b"stream data").await.unwrap();
        let d = s.receive_from(Some(11)).await.unwrap();
        assert!(!d.data.is_empty());
        assert!(b"stream data".starts_with(&d.data));
        let mut got = d.data.to_vec();
        got.extend(receive_exact(&s, 11 - got.len()).await);
        assert_eq!(&got[..], b"stream data");

        // at EOF: empty data, not an error
        c.shutdown(blade_socket::Shutdown::Write).unwrap();
        let d = s.receive_from(None).await.unwrap();
        assert!(
            d.data.is_empty(),
            "EOF must be empty data, got {:?}",
            d.data
        );
        assert!(!s.is_closed());
        // still EOF the second time
        assert!(s.receive_from(Some(10)).await.unwrap().data.is_empty());
        drop(c);
    })
    .await;
}

#[tokio::test]
async fn ipv6_udp_on_loopback() {
    within(async {
        let mut rx = Socket::udp6().unwrap();
        assert_eq!(rx.host(), "::1");
        rx.bind(0, None).await.unwrap();
        assert_eq!(rx.host(), "::1");
        assert_ne!(rx.port(), 0);
        let info = rx.info().unwrap();
        assert_eq!(info.address, "::1");
        assert_eq!(info.family, AF_INET6);

        let mut tx = Socket::udp6().unwrap();
        tx.bind(0, Some("::1")).await.unwrap();
        assert_eq!(tx.send_to("::1", rx.port(), b"v6").await.unwrap(), 2);
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"v6");
        assert_eq!(d.host, "::1");
        assert_eq!(d.port, tx.port());

        // connected IPv6 UDP
        tx.connect(Some("::1"), rx.port(), None).await.unwrap();
        tx.send(b"connected v6").await.unwrap();
        assert_eq!(datagram(&rx, None).await, b"connected v6");
    })
    .await;
}

#[tokio::test]
async fn ipv4_text_to_an_ipv6_udp_socket_fails_and_socket_stays_open() {
    within(async {
        let tx = Socket::udp6().unwrap();
        let err = tx.send_to("127.0.0.1", 9, b"x").await;
        assert!(err.is_err());
        assert!(!tx.is_closed());
    })
    .await;
}

#[tokio::test]
async fn udp_receive_timeout_then_still_usable() {
    within(async {
        let rx = bound_udp().await;
        rx.set_receive_timeout(Some(std::time::Duration::from_millis(100)));
        let err = rx.receive_from(None).await.unwrap_err();
        assert!(err.is_timeout());
        assert!(!rx.is_closed());
        let tx = Socket::udp().unwrap();
        tx.send_to("127.0.0.1", rx.port(), b"later").await.unwrap();
        assert_eq!(datagram(&rx, None).await, b"later");
    })
    .await;
}

#[tokio::test]
async fn udp_non_blocking_receive_would_block() {
    within(async {
        let mut rx = bound_udp().await;
        rx.set_blocking(false).unwrap();
        let err = rx.receive_from(None).await.unwrap_err();
        assert_eq!(err.kind(), blade_socket::ErrorKind::WouldBlock);
    })
    .await;
}

#[test]
fn blocking_udp_round_trip() {
    within_blocking(|| {
        let mut rx = blocking::Socket::udp().unwrap();
        rx.bind(0, None).unwrap();
        let tx = blocking::Socket::udp().unwrap();
        assert_eq!(tx.send_to("127.0.0.1", rx.port(), b"blk").unwrap(), 3);
        let d = rx.receive_from(None).unwrap();
        assert_eq!(&d.data[..], b"blk");
        assert_eq!(d.host, "127.0.0.1");
        assert_eq!(d.port, tx.info().unwrap().port);
        tx.send_to("127.0.0.1", rx.port(), b"").unwrap();
        assert_eq!(&rx.receive_from(None).unwrap().data[..], b"");
        tx.send_to("127.0.0.1", rx.port(), b"truncate me").unwrap();
        tx.send_to("127.0.0.1", rx.port(), b"next").unwrap();
        assert_eq!(&rx.receive_from(Some(8)).unwrap().data[..], b"truncate");
        assert_eq!(&rx.receive_from(None).unwrap().data[..], b"next");
        assert_eq!(rx.socket_type(), SockType::from_raw(libc::SOCK_DGRAM));
    });
}

/// Several tasks waiting on one socket at once all wake: only one of them
/// can hold the reactor's per-direction waker slot, the others must not be
/// evicted from it and hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_receivers_on_one_socket_all_wake() {
    within(async {
        let mut rx = Socket::udp().unwrap();
        rx.bind(0, None).await.unwrap();
        let rx = std::sync::Arc::new(rx);
        let (started_tx, mut started_rx) = tokio::sync::mpsc::channel(4);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let rx = std::sync::Arc::clone(&rx);
                let started = started_tx.clone();
                tokio::spawn(async move {
                    let mut receiving = std::pin::pin!(rx.receive_from(None));
                    // Polled once: now parked on the reactor.
                    assert!(futures::poll!(receiving.as_mut()).is_pending());
                    started.send(()).await.unwrap();
                    receiving.await.unwrap().data
                })
            })
            .collect();
        for _ in 0..4 {
            started_rx.recv().await.unwrap();
        }
        let tx = Socket::udp().unwrap();
        for i in 0..4u8 {
            tx.send_to("127.0.0.1", rx.port(), [i]).await.unwrap();
        }
        let mut got: Vec<u8> = Vec::new();
        for w in waiters {
            got.extend_from_slice(&w.await.unwrap());
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3]);
    })
    .await;
}

#[tokio::test]
async fn udp6_round_trip_over_ipv6_loopback() {
    within(async {
        let mut rx = Socket::udp6().unwrap();
        assert_eq!(
            (rx.family(), rx.socket_type(), rx.protocol()),
            (AF_INET6, SOCK_DGRAM, IPPROTO_UDP)
        );
        assert_eq!(rx.host(), "::1");
        rx.bind(0, None).await.unwrap();
        assert_eq!(rx.host(), "::1");
        let tx = Socket::udp6().unwrap();
        assert_eq!(tx.send_to("::1", rx.port(), "over v6").await.unwrap(), 7);
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!((&d.data[..], d.host.as_str()), (&b"over v6"[..], "::1"));
    })
    .await;
}

// ----- SocketAddr forms -----------------------------------------------------

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

#[tokio::test]
async fn send_to_addr_and_sender_answer_a_request() {
    within(async {
        for (mut server, client, ip) in [
            (
                Socket::udp().unwrap(),
                Socket::udp().unwrap(),
                std::net::IpAddr::from(Ipv4Addr::LOCALHOST),
            ),
            (
                Socket::udp6().unwrap(),
                Socket::udp6().unwrap(),
                Ipv6Addr::LOCALHOST.into(),
            ),
        ] {
            server.bind_addr(SocketAddr::new(ip, 0)).unwrap();
            let to = server.info().unwrap().socket_addr().unwrap();
            assert_eq!(client.send_to_addr(to, "ping").await.unwrap(), 4);
            let d = server.receive_from(None).await.unwrap();
            assert_eq!(&d.data[..], b"ping");
            let sender = d.sender().expect("an IP sender");
            // The client is bound to the wildcard by its first send.
            assert_eq!(sender, SocketAddr::new(ip, client.info().unwrap().port));
            server.send_to_addr(sender, "pong").await.unwrap();
            let back = client.receive_from(None).await.unwrap();
            assert_eq!((&back.data[..], back.sender()), (&b"pong"[..], Some(to)));
        }
    })
    .await;
}

#[tokio::test]
async fn send_to_addr_of_another_family_fails_and_keeps_the_socket() {
    within(async {
        let s = Socket::udp().unwrap();
        let e = s
            .send_to_addr(SocketAddr::from((Ipv6Addr::LOCALHOST, 9)), "x")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), blade_socket::ErrorKind::AddressResolution);
        assert!(e.message().contains("by an AF_INET socket"), "{e}");
        assert!(!s.is_closed());
    })
    .await;
}

#[tokio::test]
async fn send_to_addr_on_a_stream_socket_behaves_as_send() {
    within(async {
        let (c, s) = tcp_pair().await;
        // The address is ignored once connected, as with send_to.
        let n = c
            .send_to_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 9)), "via")
            .await
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(s.receive(None).await.unwrap().as_deref(), Some(&b"via"[..]));
    })
    .await;
}

/// Every spelling of a literal destination reaches the receiver, each one
/// several times in a row (the parsed form is reused between calls), mixed
/// with `send_to_addr`; a literal of the other family fails the same way
/// every time, with nothing sent, and leaves the socket usable.
#[tokio::test]
async fn literal_destinations_repeat_and_the_wrong_family_fails_each_time() {
    within(async {
        let mut rx6 = Socket::udp6().unwrap();
        rx6.bind(0, Some("::1")).await.unwrap();
        let tx6 = Socket::udp6().unwrap();
        let to6 = rx6.info().unwrap().socket_addr().unwrap();
        for (i, host) in ["::1", "[::1]", "::1", "0:0:0:0:0:0:0:1"]
            .iter()
            .enumerate()
        {
            let msg = format!("v6 {i}");
            assert_eq!(
                tx6.send_to(host, rx6.port(), &msg).await.unwrap(),
                msg.len()
            );
            let d = rx6.receive_from(None).await.unwrap();
            assert_eq!(&d.data[..], msg.as_bytes(), "{host}");
            assert_eq!(d.host, "::1");
            assert_eq!(d.port, tx6.info().unwrap().port);
            tx6.send_to_addr(to6, "by addr").await.unwrap();
            assert_eq!(&rx6.receive_from(None).await.unwrap().data[..], b"by addr");
        }
        for _ in 0..2 {
            let e = tx6.send_to("127.0.0.1", rx6.port(), "x").await.unwrap_err();
            assert_eq!(
                e.kind(),
                blade_socket::ErrorKind::AddressResolution,
                "{e:?}"
            );
            assert_eq!(e.bytes_sent(), Some(0));
            let e = tx6
                .send_to_addr(([127, 0, 0, 1], rx6.port()).into(), "x")
                .await
                .unwrap_err();
            assert_eq!(
                e.kind(),
                blade_socket::ErrorKind::AddressResolution,
                "{e:?}"
            );
            assert_eq!(e.bytes_sent(), Some(0));
        }
        assert!(!tx6.is_closed());

        let rx = bound_udp().await;
        let tx = Socket::udp().unwrap();
        for host in ["127.0.0.1", "127.0.0.1", "[127.0.0.1]", "127.0.0.1"] {
            tx.send_to(host, rx.port(), host).await.unwrap();
            let d = rx.receive_from(None).await.unwrap();
            assert_eq!(&d.data[..], host.as_bytes());
            assert_eq!(d.host, "127.0.0.1");
        }
        for _ in 0..2 {
            let e = tx.send_to("::1", rx.port(), "x").await.unwrap_err();
            assert_eq!(
                e.kind(),
                blade_socket::ErrorKind::AddressResolution,
                "{e:?}"
            );
            assert_eq!(e.bytes_sent(), Some(0));
        }
    })
    .await;
}

/// A fresh socket given a local address by its first `send_to` receives
/// replies on it, call after call; one that never sent fails at once.
#[tokio::test]
async fn a_fresh_sender_receives_replies_call_after_call() {
    within(async {
        let server = bound_udp().await;
        let client = Socket::udp().unwrap();
        let e = client.receive_from(None).await.unwrap_err();
        assert_eq!(e.message(), "socket not listening or connected");
        for i in 0..3u8 {
            client
                .send_to("127.0.0.1", server.port(), [i])
                .await
                .unwrap();
            let d = server.receive_from(None).await.unwrap();
            assert_eq!(&d.data[..], [i]);
            server
                .send_to_addr(d.sender().unwrap(), [i, i])
                .await
                .unwrap();
            let back = client.receive_from(None).await.unwrap();
            assert_eq!(&back.data[..], [i, i]);
            assert_eq!(
                (back.host.as_str(), back.port),
                ("127.0.0.1", server.port())
            );
        }
    })
    .await;
}
