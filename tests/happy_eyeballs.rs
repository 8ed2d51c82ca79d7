//! Happy eyeballs (RFC 8305) in `connect`, on loopback with `localhost`
//! (which the crate answers locally as `::1` then `127.0.0.1`, never asking
//! DNS). A fresh `AF_INET6` stream socket races the name's addresses (IPv4
//! ones as IPv4-mapped), staggered by 250 ms; one timeout covers everything;
//! when all fail the error lists each address. Each test sets up `::1` and
//! `127.0.0.1` on one shared port: refusing (bound, not listening),
//! listening, or black-holed (a full backlog drops the SYN).
mod support;
use support::*;

use std::time::{Duration, Instant};

use blade_socket::{
    AF_INET, AF_INET6, ErrorKind, IPPROTO_TCP, OptionValue, SO_KEEPALIVE, SO_LINGER, SO_RCVBUF,
    SOCK_STREAM, Socket, blocking,
};

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Bound, not listening: a connect is refused at once.
    Refuse,
    /// Listening.
    Listen,
    /// Listening with a full backlog: a connect's SYN is dropped.
    BlackHole,
}

/// The sockets that make `::1` and `127.0.0.1` behave as asked on `port`.
struct Setup {
    port: u16,
    v6: Vec<Socket>,
    v4: Vec<Socket>,
}

impl Setup {
    fn v4_listener(&self) -> &Socket {
        &self.v4[0]
    }
}

fn tcp(family: blade_socket::Family) -> Socket {
    Socket::new(family, SOCK_STREAM, IPPROTO_TCP).expect("socket")
}

/// `mode` on `host`:`port` (`port` 0: an ephemeral one).
async fn make(mode: Mode, v6: bool, port: u16) -> blade_socket::Result<Vec<Socket>> {
    let (family, host) = if v6 {
        (AF_INET6, "::1")
    } else {
        (AF_INET, "127.0.0.1")
    };
    let mut l = tcp(family);
    l.bind(port, Some(host)).await?;
    match mode {
        Mode::Refuse => Ok(vec![l]),
        Mode::Listen => {
            l.listen(None)?;
            Ok(vec![l])
        }
        Mode::BlackHole => {
            l.listen(Some(0))?;
            let mut filler = tcp(family);
            filler.connect(Some(host), l.port(), None).await?;
            Ok(vec![l, filler])
        }
    }
}

/// `::1` in mode `v6` and `127.0.0.1` in mode `v4`, on one port.
async fn setup(v6: Mode, v4: Mode) -> Setup {
    for _ in 0..50 {
        let six = make(v6, true, 0).await.expect("::1 side");
        let port = six[0].port();
        match make(v4, false, port).await {
            Ok(four) => {
                return Setup {
                    port,
                    v6: six,
                    v4: four,
                };
            }
            // Port taken on 127.0.0.1 by someone else: try another.
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {}
            Err(e) => panic!("127.0.0.1 side: {e:?}"),
        }
    }
    panic!("no port free on both ::1 and 127.0.0.1");
}

/// Connection attempts still in `SYN_SENT` towards `port`: a losing attempt
/// that was not closed would linger here. Every attempt is made on an
/// `AF_INET6` socket (IPv4 ones as IPv4-mapped), so `/proc/net/tcp6` lists
/// them all (and `/proc/net/tcp`, which may hold many thousands of entries
/// on a busy host, need not be read).
fn syn_sent_to(port: u16) -> usize {
    let suffix = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp6")
        .expect("/proc/net/tcp6")
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| cols.len() > 3 && cols[2].ends_with(&suffix) && cols[3] == "02")
        .count()
}

/// Checks that [`syn_sent_to`] can see a pending attempt at all, so that
/// its zero below means something.
#[tokio::test]
async fn syn_sent_probe_sees_a_hanging_attempt() {
    within(async {
        let st = setup(Mode::BlackHole, Mode::Listen).await;
        let mut c = tcp(AF_INET6);
        let mut connect = std::pin::pin!(c.connect(Some("::1"), st.port, None));
        assert!(futures::poll!(connect.as_mut()).is_pending());
        assert_eq!(syn_sent_to(st.port), 1);
    })
    .await;
}

// ----- races won ------------------------------------------------------------------

#[tokio::test]
async fn v4_only_server_refused_v6_falls_back_at_once() {
    within(async {
        let st = setup(Mode::Refuse, Mode::Listen).await;
        let mut c = tcp(AF_INET6);
        let t = Instant::now();
        c.connect(Some("localhost"), st.port, None).await.unwrap();
        let took = t.elapsed();
        assert!(
            took < Duration::from_millis(200),
            "a refused ::1 starts IPv4 at once, without the 250 ms stagger: {took:?}"
        );
        assert!(c.is_connected() && c.is_client() && !c.is_closed());
        assert_eq!(c.family(), AF_INET6);
        assert_eq!((c.host().as_str(), c.port()), ("::ffff:127.0.0.1", st.port));
        let peer = c.peer_info().unwrap();
        assert_eq!(peer.address, "::ffff:127.0.0.1");
        assert_eq!(c.info().unwrap().address, "::ffff:127.0.0.1");

        let s = st.v4_listener().accept().await.unwrap();
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.port(), c.info().unwrap().port);
        c.send("over v4").await.unwrap();
        assert_eq!(receive_exact(&s, 7).await, b"over v4");
        drop(st.v6);
    })
    .await;
}

#[tokio::test]
async fn v6_listening_wins_first() {
    within(async {
        let st = setup(Mode::Listen, Mode::Listen).await;
        let mut c = tcp(AF_INET6);
        let t = Instant::now();
        c.connect(Some("localhost"), st.port, None).await.unwrap();
        assert!(t.elapsed() < Duration::from_millis(200));
        assert_eq!(c.host(), "::1", "IPv6 is tried first");
        let s = st.v6[0].accept().await.unwrap();
        assert_eq!(s.host(), "::1");
    })
    .await;
}

#[tokio::test]
async fn black_holed_v6_falls_back_to_v4_after_the_stagger() {
    within(async {
        let st = setup(Mode::BlackHole, Mode::Listen).await;
        let mut c = tcp(AF_INET6);
        // Options set before connect must hold on the winning socket, which
        // is not the one they were set on.
        c.set_nodelay(true).unwrap();
        c.set_option(SO_KEEPALIVE, true).unwrap();
        c.set_option(SO_LINGER, Duration::from_secs(3)).unwrap();
        c.set_option(SO_RCVBUF, 96 * 1024).unwrap();
        let rcvbuf = c.get_option(SO_RCVBUF).unwrap();
        c.set_receive_timeout(Some(Duration::from_secs(7)));
        let first_fd = c.id();

        let t = Instant::now();
        c.connect(Some("localhost"), st.port, Some(Duration::from_secs(10)))
            .await
            .unwrap();
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(1500),
            "IPv4 should start 250 ms after the hanging IPv6 attempt: {took:?}"
        );
        assert_eq!(c.host(), "::ffff:127.0.0.1");
        assert_eq!(c.port(), st.port);

        assert!(c.nodelay().unwrap(), "TCP_NODELAY kept");
        assert_eq!(c.get_option(SO_KEEPALIVE).unwrap(), OptionValue::Bool(true));
        assert_eq!(
            c.get_option(SO_LINGER).unwrap(),
            OptionValue::Duration(Some(Duration::from_secs(3)))
        );
        assert_eq!(c.get_option(SO_RCVBUF).unwrap(), rcvbuf);
        assert_eq!(c.receive_timeout(), Some(Duration::from_secs(7)));
        assert!(c.is_blocking());

        // The socket's descriptor is the winner's, live and consistent.
        let fd = c.id();
        assert!(fd >= 0);
        assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&c), fd);
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert!(link.to_string_lossy().starts_with("socket:["));
        let _ = first_fd; // may or may not be reused for the winner

        // The losing attempt is gone, not left half-open.
        assert_eq!(syn_sent_to(st.port), 0, "a losing attempt was left open");

        let s = st.v4_listener().accept().await.unwrap();
        c.send("fell back").await.unwrap();
        assert_eq!(receive_exact(&s, 9).await, b"fell back");
        s.send("reply").await.unwrap();
        assert_eq!(receive_exact(&c, 5).await, b"reply");
    })
    .await;
}

/// Every option the user can set before `connect` (through `set_option` or
/// `with_sockref`) must hold on the winning socket, not only the few the
/// race copies today.
#[tokio::test]
async fn every_option_set_before_connect_survives_the_fallback() {
    use blade_socket::{SO_DONTROUTE, SO_OOBINLINE, SO_RCVLOWAT, SO_REUSEADDR};
    within(async {
        let st = setup(Mode::BlackHole, Mode::Listen).await;
        let mut c = tcp(AF_INET6);
        c.set_option(SO_DONTROUTE, true).unwrap();
        c.set_option(SO_RCVLOWAT, 10).unwrap();
        c.set_option(SO_REUSEADDR, true).unwrap();
        c.set_option(SO_OOBINLINE, true).unwrap();
        let idle = Duration::from_secs(77);
        c.with_sockref(|r| r.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle)))
            .unwrap();
        c.with_sockref(|r| r.set_tclass_v6(32)).unwrap();
        c.connect(Some("localhost"), st.port, None).await.unwrap();
        assert_eq!(c.host(), "::ffff:127.0.0.1", "the IPv4 attempt won");
        assert_eq!(c.get_option(SO_DONTROUTE).unwrap(), OptionValue::Bool(true));
        assert_eq!(c.get_option(SO_RCVLOWAT).unwrap(), OptionValue::Int(10));
        assert_eq!(c.get_option(SO_REUSEADDR).unwrap(), OptionValue::Bool(true));
        assert_eq!(c.get_option(SO_OOBINLINE).unwrap(), OptionValue::Bool(true));
        assert_eq!(c.with_sockref(|r| r.tcp_keepalive_time()).unwrap(), idle);
        assert_eq!(c.with_sockref(|r| r.tclass_v6()).unwrap(), 32);
    })
    .await;
}

// ----- races lost -------------------------------------------------------------------

#[tokio::test]
async fn both_refused_error_lists_every_address() {
    within(async {
        let st = setup(Mode::Refuse, Mode::Refuse).await;
        let mut c = tcp(AF_INET6);
        let t = Instant::now();
        let e = c
            .connect(Some("localhost"), st.port, None)
            .await
            .unwrap_err();
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        let msg = e.message().to_owned();
        assert_eq!(e.kind(), ErrorKind::Os, "{e:?}");
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e:?}");
        assert!(msg.contains(&format!("::1 port {}", st.port)), "{msg}");
        assert!(
            msg.contains(&format!("127.0.0.1 port {}", st.port)),
            "{msg}"
        );
        assert_eq!(msg.matches("Connection refused").count(), 2, "{msg}");
        assert!(
            msg.find("::1").unwrap() < msg.find("127.0.0.1").unwrap(),
            "IPv6 first: {msg}"
        );
        assert!(c.is_closed(), "a failed connect closes the socket");
        assert_eq!(c.id(), -1);
        // As an io::Error it keeps every address, and downcasts back.
        let io = std::io::Error::from(e.clone());
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io.to_string(), msg);
        let back = io
            .get_ref()
            .and_then(|r| r.downcast_ref::<blade_socket::SocketError>());
        assert_eq!(back, Some(&e));
    })
    .await;
}

#[tokio::test]
async fn both_black_holed_one_timeout_covers_every_attempt() {
    within(async {
        let st = setup(Mode::BlackHole, Mode::BlackHole).await;
        let mut c = tcp(AF_INET6);
        let t = Instant::now();
        let e = c
            .connect(Some("localhost"), st.port, Some(Duration::from_millis(600)))
            .await
            .unwrap_err();
        let took = t.elapsed();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
        assert!(e.is_timeout() && e.message().contains("timed out"), "{e:?}");
        assert!(took >= Duration::from_millis(590), "{took:?}");
        assert!(
            took < Duration::from_millis(800),
            "one deadline for all attempts, not one per attempt: {took:?}"
        );
        assert!(c.is_closed());
        assert_eq!(
            syn_sent_to(st.port),
            0,
            "attempts left open after the timeout"
        );
    })
    .await;
}

#[tokio::test]
async fn a_timeout_shorter_than_the_stagger_ends_the_race_early() {
    within(async {
        let st = setup(Mode::BlackHole, Mode::Listen).await;
        let mut c = tcp(AF_INET6);
        let t = Instant::now();
        let e = c
            .connect(Some("localhost"), st.port, Some(Duration::from_millis(100)))
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(
            t.elapsed() < Duration::from_millis(240),
            "{:?}",
            t.elapsed()
        );
        assert!(c.is_closed());
        // IPv4 was never tried: nothing waits in its accept queue.
        let l = st.v4.into_iter().next().unwrap();
        l.set_receive_timeout(Some(Duration::from_millis(50)));
        assert!(l.accept().await.unwrap_err().is_timeout());
    })
    .await;
}

// ----- no race ----------------------------------------------------------------------

#[tokio::test]
async fn an_af_inet_socket_uses_only_ipv4() {
    within(async {
        // ::1 listens but 127.0.0.1 refuses: an AF_INET socket must not
        // reach ::1, and its error is the single attempt's own.
        let st = setup(Mode::Listen, Mode::Refuse).await;
        let mut c = tcp(AF_INET);
        let e = c
            .connect(Some("localhost"), st.port, None)
            .await
            .unwrap_err();
        assert_eq!(
            e.message(),
            "Connection refused",
            "one address tried: {e:?}"
        );
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        assert!(c.is_closed());

        let st = setup(Mode::Refuse, Mode::Listen).await;
        let mut c = tcp(AF_INET);
        c.connect(Some("localhost"), st.port, None).await.unwrap();
        assert_eq!(c.host(), "127.0.0.1");
    })
    .await;
}

#[tokio::test]
async fn ipv6_literals_do_not_race() {
    within(async {
        let st = setup(Mode::Refuse, Mode::Listen).await;
        let mut c = tcp(AF_INET6);
        let e = c.connect(Some("::1"), st.port, None).await.unwrap_err();
        assert_eq!(e.message(), "Connection refused", "{e:?}");
        let mut c = tcp(AF_INET6);
        c.connect(Some("::ffff:127.0.0.1"), st.port, None)
            .await
            .unwrap();
        assert_eq!(c.host(), "::ffff:127.0.0.1");
        let mut c = tcp(AF_INET6);
        let e = c
            .connect(Some("127.0.0.1"), st.port, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddressResolution, "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn a_bound_v6_socket_tries_addresses_in_turn() {
    within(async {
        // A socket that is already bound cannot race (a second socket could
        // not share its address): it tries ::1, then IPv4, on its own fd.
        let st = setup(Mode::Refuse, Mode::Listen).await;
        let mut c = tcp(AF_INET6);
        c.bind(0, Some("*")).await.unwrap();
        let fd = c.id();
        c.connect(Some("localhost"), st.port, None).await.unwrap();
        assert_eq!(c.host(), "::ffff:127.0.0.1");
        assert_eq!(c.id(), fd, "the same descriptor");
    })
    .await;
}

// ----- the blocking facade -------------------------------------------------------

fn btcp6() -> blocking::Socket {
    blocking::Socket::tcp6().unwrap()
}

#[tokio::test]
async fn blocking_facade_races_too() {
    // Set-ups are async; the connects run on plain threads.
    let refused_v6 = within(setup(Mode::Refuse, Mode::Listen)).await;
    let black_v6 = within(setup(Mode::BlackHole, Mode::Listen)).await;
    let all_refused = within(setup(Mode::Refuse, Mode::Refuse)).await;
    let all_black = within(setup(Mode::BlackHole, Mode::BlackHole)).await;
    let ports = (
        refused_v6.port,
        black_v6.port,
        all_refused.port,
        all_black.port,
    );
    let held = (refused_v6, black_v6, all_refused, all_black);
    within_blocking(move || {
        let (p1, p2, p3, p4) = ports;

        let mut c = btcp6();
        let t = Instant::now();
        c.connect(Some("localhost"), p1, None).unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(c.host(), "::ffff:127.0.0.1");

        let mut c = btcp6();
        c.set_nodelay(true).unwrap();
        let t = Instant::now();
        c.connect(Some("localhost"), p2, Some(Duration::from_secs(10)))
            .unwrap();
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        assert_eq!(c.host(), "::ffff:127.0.0.1");
        assert!(c.nodelay().unwrap());
        c.send("blocking").unwrap();

        let mut c = btcp6();
        let e = c.connect(Some("localhost"), p3, None).unwrap_err();
        assert!(e.message().contains(&format!("::1 port {p3}")), "{e}");
        assert!(e.message().contains(&format!("127.0.0.1 port {p3}")), "{e}");
        assert!(c.is_closed());

        let mut c = btcp6();
        let t = Instant::now();
        let e = c
            .connect(Some("localhost"), p4, Some(Duration::from_millis(600)))
            .unwrap_err();
        let took = t.elapsed();
        assert!(e.is_timeout(), "{e:?}");
        assert!(
            took >= Duration::from_millis(590) && took < Duration::from_millis(800),
            "{took:?}"
        );
        assert!(c.is_closed());
        assert_eq!(syn_sent_to(p4), 0);
        held
    });
}

#[tokio::test]
async fn the_winner_works_through_the_blocking_face() {
    // The winning descriptor (a new one) leaves this reactor and waits on
    // the facade's side like any other.
    let st = within(setup(Mode::BlackHole, Mode::Listen)).await;
    let mut c = tcp(AF_INET6);
    within(c.connect(Some("localhost"), st.port, None))
        .await
        .unwrap();
    let s = within(st.v4_listener().accept()).await.unwrap();
    let b: blocking::Socket = c.into();
    b.set_receive_timeout(Some(LIMIT));
    let got =
        tokio::task::spawn_blocking(move || b.receive(Some(5)).map(|o| o.map(|x| x.to_vec())));
    within(s.send("hello")).await.unwrap();
    let got = within(got).await.unwrap().unwrap();
    assert_eq!(got.as_deref(), Some(&b"hello"[..]));
}
