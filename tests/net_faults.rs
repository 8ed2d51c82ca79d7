//! Real networks: faults injected with nftables (and a `tbf` shaper) on the
//! loopback of a private network namespace, on both faces.
//!
//! Each test re-executes this binary under `unshare -n`, once per face, the
//! two in parallel (see `support/netns.rs`): all traffic stays on the
//! namespace's own `lo`, which is set up to behave like a 1500-byte link
//! with retransmission back-off capped at 1 s. Needs root, `unshare` and
//! `nft`: a run without them fails under `CI` and is skipped (with the
//! reason printed) elsewhere.
//!
//! Scenarios, each printing its figure (`cargo test --test net_faults --
//! --nocapture`):
//! - 5% and 20% random loss on every segment, both directions: megabytes
//!   each way, every byte checked, retransmissions counted;
//! - a black hole (every packet to the listener dropped): the connect
//!   timeout fires on time, the socket is closed;
//! - a partition after 1 MiB: send and receive timeouts fire on time, both
//!   sockets stay open; healed, the stream finishes intact;
//! - a reset injected mid-stream: an error, the socket closed, never
//!   `Ok(None)`, also for a receive pending while another call meets it;
//! - an ICMP reject (admin-prohibited): connect fails fast with the OS error;
//! - SYNs dropped, then allowed: accept times out on time, then succeeds;
//! - a slow link (`tbf` at 200 kB/s): the send timeout fires on time;
//! - a half-open peer: keepalive (receiving) and `TCP_USER_TIMEOUT`
//!   (sending) detect it, the socket is closed;
//! - the IPv6 path black-holed: an IPv6 socket connecting to `localhost`
//!   gets through over IPv4 after happy eyeballs' 250 ms stagger.
#![cfg(target_os = "linux")] // network namespaces
mod support;

#[path = "support/netns.rs"]
mod netns;
#[path = "support/reliability.rs"]
mod reliability;

use std::{
    thread,
    time::{Duration, Instant},
};

use blade_socket::{
    AF_INET6, ErrorKind, IPPROTO_TCP, SO_SNDBUF, SOCK_STREAM, Shutdown, SocketError,
};
use netns::{fault, heal, scenario, shape, snmp, unshape};
use reliability::Pattern;
use support::face::{Face, FaceSocket};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const CHUNK: u64 = 256 * KIB;
/// A timeout under test: short, so the suite stays quick.
const TIMEOUT: Duration = Duration::from_secs(1);
/// How late a timeout may fire on a loaded 2-core machine.
const LATE: Duration = Duration::from_millis(500);
/// The bound on a wait that should end on its own (a stalled transfer
/// fails with a timeout instead of hanging).
const STALL: Duration = Duration::from_secs(30);

/// How a [`send_stream`] ended.
struct Sent {
    /// Bytes reported by the calls that returned `Ok`.
    acked: u64,
    /// The error that stopped it, if any.
    err: Option<SocketError>,
    /// How long the last call took (the failing one, if any).
    last_call: Duration,
}

/// Sends `len` bytes of `p` from offset `from`, in calls of [`CHUNK`]
/// bytes, until done or an error.
fn send_stream(s: &FaceSocket, p: Pattern, from: u64, len: u64) -> Sent {
    let mut buf = vec![0u8; CHUNK as usize];
    let mut acked = 0;
    let mut last_call = Duration::ZERO;
    while acked < len {
        let n = (len - acked).min(CHUNK) as usize;
        p.fill(from + acked, &mut buf[..n]);
        let t = Instant::now();
        let r = s.send(&buf[..n]);
        last_call = t.elapsed();
        match r {
            Ok(sent) => {
                assert_eq!(sent, n, "send returned a short count in blocking mode");
                acked += n as u64;
            }
            Err(e) => {
                return Sent {
                    acked,
                    err: Some(e),
                    last_call,
                };
            }
        }
    }
    Sent {
        acked,
        err: None,
        last_call,
    }
}

/// Receives `p` from offset `from` until `len` bytes (`None`: end of file)
/// have arrived, checking every byte; the count, and the error that stopped it.
fn receive_stream(
    s: &FaceSocket,
    p: Pattern,
    from: u64,
    len: Option<u64>,
) -> (u64, Option<SocketError>) {
    let mut got = 0;
    while len.is_none_or(|l| got < l) {
        let want = len.map_or(CHUNK, |l| (l - got).min(CHUNK)) as usize;
        match s.receive(Some(want)) {
            Ok(Some(b)) => {
                if let Err(at) = p.check(from + got, &b) {
                    panic!("byte {at} of the stream is wrong");
                }
                got += b.len() as u64;
            }
            Ok(None) => {
                assert!(len.is_none(), "end of file after {got} of {len:?} bytes");
                break;
            }
            Err(e) => return (got, Some(e)),
        }
    }
    (got, None)
}

/// Asserts that a timeout of `asked` fired on time (never early, at most
/// [`LATE`] late), and returns how late, in milliseconds.
fn on_time(what: &str, asked: Duration, took: Duration) -> f64 {
    assert!(
        took + Duration::from_millis(2) >= asked,
        "{what}: fired early, after {took:?} of {asked:?}"
    );
    assert!(
        took <= asked + LATE,
        "{what}: fired {:?} late (asked {asked:?})",
        took.saturating_sub(asked)
    );
    took.saturating_sub(asked).as_secs_f64() * 1e3
}

/// Asserts that `e` is the library's timeout (not an OS error).
fn assert_library_timeout(e: &SocketError, what: &str) {
    assert!(
        e.is_timeout() && e.raw_os_error().is_none(),
        "{what}: want the library's timeout, got {e:?}"
    );
}

/// Asserts that every call on a closed socket says so.
fn assert_closed(s: &FaceSocket, what: &str) {
    assert!(s.is_closed(), "{what}: socket not closed");
    assert_eq!(s.id(), -1, "{what}: closed socket has a descriptor");
    let e = s.receive(Some(1)).expect_err("receive on a closed socket");
    assert_eq!(e.kind(), ErrorKind::IllegalState, "{what}: {e:?}");
}

/// Sets both timeouts of `s` to `t`.
fn timeouts(s: &mut FaceSocket, t: Option<Duration>) {
    s.set_send_timeout(t);
    s.set_receive_timeout(t);
}

// ------------------------------------------------------------------- loss

/// `percent`% of the segments of the connection dropped in each direction;
/// `mib` MiB each way, every byte checked.
fn lossy(face: Face, percent: u32, mib: u64) {
    let l = face.listener(None);
    let port = l.port();
    fault(&format!(
        "tcp dport {port} numgen random mod 100 < {percent} drop"
    ));
    fault(&format!(
        "tcp sport {port} numgen random mod 100 < {percent} drop"
    ));
    let retrans = snmp("Tcp", "RetransSegs");
    let (up, down, len) = (Pattern::new(1), Pattern::new(2), mib * MIB);
    let t = Instant::now();
    thread::scope(|sc| {
        let server = sc.spawn(|| {
            let mut s = l.accept().expect("accept");
            timeouts(&mut s, Some(STALL));
            let (got, e) = receive_stream(&s, up, 0, Some(len));
            assert!(e.is_none(), "server receive after {got} bytes: {e:?}");
            let sent = send_stream(&s, down, 0, len);
            assert!(
                sent.err.is_none(),
                "server send after {} bytes: {:?}",
                sent.acked,
                sent.err
            );
            // Closed only once the client has everything: an orphaned
            // socket may give up on a lossy path. The client's whole
            // download runs during this one wait, so it gets the bound of a
            // transfer, not of a stall (3 MiB at 20% loss has taken over
            // 30 s on a loaded machine).
            s.set_receive_timeout(Some(4 * STALL));
            let end = s.receive(Some(1));
            assert!(
                matches!(end, Ok(None)),
                "server: want end of file, got {end:?}"
            );
        });
        let mut c = face.tcp().expect("socket");
        c.connect(None, port, Some(STALL)).expect("connect");
        timeouts(&mut c, Some(STALL));
        let sent = send_stream(&c, up, 0, len);
        assert!(
            sent.err.is_none(),
            "client send after {} bytes: {:?}",
            sent.acked,
            sent.err
        );
        let (got, e) = receive_stream(&c, down, 0, Some(len));
        assert!(e.is_none(), "client receive after {got} bytes: {e:?}");
        c.close().expect("close");
        server.join().expect("server");
    });
    let took = t.elapsed().as_secs_f64();
    let retrans = snmp("Tcp", "RetransSegs") - retrans;
    println!(
        "loss_{percent}_percent ({}): {mib} MiB each way intact in {took:.2} s \
         ({:.2} MiB/s), {retrans} segments retransmitted",
        face.name(),
        (2 * mib) as f64 / took
    );
    assert!(
        retrans > 0,
        "no segment was retransmitted: were any dropped?"
    );
}

#[test]
fn loss_5_percent() {
    scenario("loss_5_percent", |face| lossy(face, 5, 8));
}

#[test]
fn loss_20_percent() {
    scenario("loss_20_percent", |face| lossy(face, 20, 3));
}

// ------------------------------------------------------------- black hole

#[test]
fn black_hole_connect_times_out() {
    scenario("black_hole_connect_times_out", |face| {
        let l = face.listener(None);
        let port = l.port();
        fault(&format!("tcp dport {port} drop"));
        let mut c = face.tcp().expect("socket");
        let t = Instant::now();
        let e = c.connect(None, port, Some(TIMEOUT)).expect_err("connect");
        let took = t.elapsed();
        assert_library_timeout(&e, "connect");
        let late = on_time("connect timeout", TIMEOUT, took);
        assert_closed(&c, "after the connect timeout");
        // The listener was never reached, and works once the path is back.
        heal();
        let mut c = face.tcp().expect("socket");
        c.connect(None, port, Some(STALL))
            .expect("connect after healing");
        println!(
            "black_hole_connect_times_out ({}): {TIMEOUT:?} connect timeout fired \
             {late:.1} ms late; socket closed",
            face.name()
        );
    });
}

// -------------------------------------------------------------- partition

#[test]
fn partition_then_heal() {
    scenario("partition_then_heal", |face| {
        let (mut c, mut s) = face.pair();
        let port = c.port();
        let p = Pattern::new(3);
        timeouts(&mut s, Some(STALL));
        thread::scope(|sc| {
            let r = sc.spawn(|| receive_stream(&s, p, 0, Some(MIB)));
            let sent = send_stream(&c, p, 0, MIB);
            assert!(
                sent.err.is_none(),
                "send after {}: {:?}",
                sent.acked,
                sent.err
            );
            let (got, e) = r.join().expect("receiver");
            assert!(e.is_none() && got == MIB, "received {got}: {e:?}");
        });

        fault(&format!("tcp dport {port} drop"));
        fault(&format!("tcp sport {port} drop"));
        c.set_send_timeout(Some(TIMEOUT));
        s.set_receive_timeout(Some(TIMEOUT));
        // Both timeouts at once: the receiver gets nothing, the sender
        // fills its buffers and then waits for acknowledgements.
        let ((acked, send_err, send_took), (recv_err, recv_took)) = thread::scope(|sc| {
            let r = sc.spawn(|| {
                let t = Instant::now();
                let e = s.receive(None).expect_err("receive across a partition");
                (e, t.elapsed())
            });
            let sent = send_stream(&c, p, MIB, 64 * MIB);
            (
                (
                    sent.acked,
                    sent.err.expect("send across a partition"),
                    sent.last_call,
                ),
                r.join().expect("receiver"),
            )
        });
        assert_library_timeout(&send_err, "send");
        assert_library_timeout(&recv_err, "receive");
        let send_late = on_time("send timeout", TIMEOUT, send_took);
        let recv_late = on_time("receive timeout", TIMEOUT, recv_took);
        assert!(
            !c.is_closed() && !s.is_closed(),
            "a timeout closed a socket"
        );

        // Heal. The stream stands where the completed calls and the
        // timed-out call's `bytes_sent` say: send the rest of the 64 MiB from
        // there, end the stream; the receiver must get exactly 64 MiB, in order.
        let partial = send_err
            .bytes_sent()
            .expect("a timed-out send reports bytes_sent");
        assert!(partial < CHUNK, "bytes_sent {partial} > the call's {CHUNK}");
        let resume = acked + partial;
        heal();
        timeouts(&mut c, Some(STALL));
        s.set_receive_timeout(Some(STALL));
        let got = thread::scope(|sc| {
            let r = sc.spawn(|| receive_stream(&s, p, MIB, None));
            let rest = send_stream(&c, p, MIB + resume, 64 * MIB - resume);
            assert!(rest.err.is_none(), "send after healing: {:?}", rest.err);
            c.shutdown(Shutdown::Write).expect("shutdown");
            let (got, e) = r.join().expect("receiver");
            assert!(e.is_none(), "receive after healing, at {got}: {e:?}");
            got
        });
        assert_eq!(got, 64 * MIB, "after healing, the stream is not whole");
        println!(
            "partition_then_heal ({}): send timeout {send_late:.1} ms late (bytes_sent \
             {partial}), receive timeout {recv_late:.1} ms late; healed: 1 + 64 MiB intact",
            face.name()
        );
    });
}

// ------------------------------------------------------------------ reset

#[test]
fn reset_mid_stream() {
    scenario("reset_mid_stream", |face| {
        // One call at a time: the call after the reset reports it.
        let (mut c, mut s) = face.pair();
        let port = c.port();
        timeouts(&mut c, Some(STALL));
        timeouts(&mut s, Some(STALL));
        let p = Pattern::new(4);
        thread::scope(|sc| {
            let r = sc.spawn(|| receive_stream(&s, p, 0, Some(MIB)));
            assert!(send_stream(&c, p, 0, MIB).err.is_none());
            assert!(r.join().expect("receiver").1.is_none());
        });
        fault(&format!(
            "tcp dport {port} tcp flags & rst == 0 reject with tcp reset"
        ));
        let sent = send_stream(&c, p, MIB, 64 * MIB);
        let Some(e) = sent.err else {
            panic!("64 MiB sent ({}) into a reset connection", sent.acked)
        };
        let first = e.to_string();
        assert_eq!(e.kind(), ErrorKind::Os, "send after the reset: {e:?}");
        assert!(
            matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE)),
            "send after the reset: {e:?}"
        );
        assert_closed(&c, "after the reset");
        println!(
            "reset_mid_stream ({}): after 1 MiB, the next send failed: {first}; socket closed",
            face.name()
        );
    });
}

/// Linux hands a reset to one waiting call; a receive pending while a send
/// meets the reset must report it too (or the close), never end of file.
#[test]
fn reset_while_receiving_is_never_end_of_file() {
    scenario("reset_while_receiving_is_never_end_of_file", |face| {
        let rounds = 20;
        let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
        for _ in 0..rounds {
            let (mut c, mut s) = face.pair();
            let port = c.port();
            timeouts(&mut c, Some(STALL));
            timeouts(&mut s, Some(STALL));
            fault(&format!(
                "tcp dport {port} tcp flags & rst == 0 reject with tcp reset"
            ));
            let received = thread::scope(|sc| {
                let r = sc.spawn(|| c.receive(None));
                // Sends until one fails (the reset), or the receiver ended.
                for _ in 0..1000 {
                    if r.is_finished() || c.send(b"x").is_err() {
                        break;
                    }
                }
                r.join().expect("receiver")
            });
            let outcome = match &received {
                Ok(v) => format!("Ok({v:?})"),
                Err(e) => format!("{:?}: {e}", e.kind()),
            };
            *outcomes.entry(outcome).or_default() += 1;
            match received {
                Ok(None) => panic!("a reset was reported as end of file ({})", face.name()),
                Ok(Some(b)) => panic!("received {b:?} from a peer that sent nothing"),
                Err(e) => assert!(
                    matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE))
                        || e.kind() == ErrorKind::IllegalState,
                    "pending receive: {e:?}"
                ),
            }
            assert!(c.is_closed(), "socket open after a reset");
            heal();
        }
        println!(
            "reset_while_receiving_is_never_end_of_file ({}): {rounds} pending receives: \
             {outcomes:?}",
            face.name()
        );
    });
}

// ------------------------------------------------------------ ICMP reject

#[test]
fn icmp_reject_fails_fast() {
    scenario("icmp_reject_fails_fast", |face| {
        let l = face.listener(None);
        let port = l.port();
        fault(&format!(
            "tcp dport {port} reject with icmpx type admin-prohibited"
        ));
        let mut c = face.tcp().expect("socket");
        let t = Instant::now();
        let e = c.connect(None, port, Some(STALL)).expect_err("connect");
        let took = t.elapsed();
        assert_eq!(e.kind(), ErrorKind::Os, "{e:?}");
        assert_eq!(e.raw_os_error(), Some(libc::EHOSTUNREACH), "{e:?}");
        assert!(took < LATE, "an ICMP reject took {took:?} to report");
        assert_closed(&c, "after the reject");
        println!(
            "icmp_reject_fails_fast ({}): connect failed in {:.1} ms: {e}",
            face.name(),
            took.as_secs_f64() * 1e3
        );
    });
}

// ---------------------------------------------------- accept, SYNs dropped

#[test]
fn accept_times_out_then_succeeds() {
    scenario("accept_times_out_then_succeeds", |face| {
        let mut l = face.listener(None);
        let port = l.port();
        fault(&format!("tcp dport {port} drop"));
        l.set_receive_timeout(Some(TIMEOUT));
        thread::scope(|sc| {
            let client = sc.spawn(|| {
                let mut c = face.tcp().expect("socket");
                c.connect(None, port, Some(STALL))
                    .expect("connect once allowed");
                c.send(b"through").expect("send");
            });
            let t = Instant::now();
            let e = l.accept().expect_err("accept with SYNs dropped");
            let took = t.elapsed();
            assert_library_timeout(&e, "accept");
            let late = on_time("accept timeout", TIMEOUT, took);
            assert!(l.is_listening() && !l.is_closed(), "listener harmed");

            heal();
            l.set_receive_timeout(Some(STALL));
            let t = Instant::now();
            let s = l.accept().expect("accept once allowed");
            let after = t.elapsed();
            let got = s.receive(Some(16)).expect("receive");
            assert_eq!(got.as_deref(), Some(&b"through"[..]));
            client.join().expect("client");
            println!(
                "accept_times_out_then_succeeds ({}): accept timeout {late:.1} ms late; \
                 healed: accepted {:.2} s later (the client's SYN retransmission)",
                face.name(),
                after.as_secs_f64()
            );
        });
    });
}

// -------------------------------------------------------------- slow link

#[test]
fn slow_link_send_times_out() {
    scenario("slow_link_send_times_out", |face| {
        let (mut c, mut s) = face.pair();
        c.set_option(SO_SNDBUF, 65536.into()).expect("SO_SNDBUF");
        timeouts(&mut s, Some(STALL));
        let p = Pattern::new(5);
        shape("1600kbit"); // 200 kB/s
        c.set_send_timeout(Some(TIMEOUT));
        let (acked, e, took, got) = thread::scope(|sc| {
            let r = sc.spawn(|| receive_stream(&s, p, 0, None));
            let Sent {
                acked,
                err: e,
                last_call: took,
            } = send_stream(&c, p, 0, 16 * MIB);
            // Unshaped, the rest drains at once; then end the stream.
            unshape();
            c.shutdown(Shutdown::Write).expect("shutdown");
            let (got, re) = r.join().expect("receiver");
            assert!(re.is_none(), "receive at {got}: {re:?}");
            (acked, e, took, got)
        });
        let e = e.expect("16 MiB sent through a 200 kB/s link within 1 s");
        assert_library_timeout(&e, "send");
        let late = on_time("send timeout", TIMEOUT, took);
        assert!(!c.is_closed(), "a send timeout closed the socket");
        let partial = e.bytes_sent().expect("a timed-out send reports bytes_sent");
        assert_eq!(
            got,
            acked + partial,
            "received {got}; completed calls {acked}, then bytes_sent {partial}"
        );
        assert!(
            got < 4 * MIB,
            "{got} bytes went through a 200 kB/s link in about 1 s"
        );
        println!(
            "slow_link_send_times_out ({}): 200 kB/s link: send timeout {late:.1} ms late; \
             {acked} bytes in completed calls, then bytes_sent {partial}",
            face.name()
        );
    });
}

// ----------------------------------------------------------- half-open peer

#[test]
fn half_open_peer_detected() {
    scenario("half_open_peer_detected", |face| {
        // Keepalive: a receiver whose peer vanished (probes get no answer).
        let (mut c, _s) = face.pair();
        let port = c.port();
        c.with_sockref(|r| {
            r.set_keepalive(true)?;
            r.set_tcp_keepalive(
                &socket2::TcpKeepalive::new()
                    .with_time(Duration::from_secs(1))
                    .with_interval(Duration::from_secs(1))
                    .with_retries(2),
            )
        })
        .expect("keepalive");
        c.set_receive_timeout(Some(STALL));
        fault(&format!("tcp dport {port} drop"));
        let t = Instant::now();
        let e = c.receive(None).expect_err("receive from a vanished peer");
        let keepalive = t.elapsed();
        assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e:?}");
        // Idle 1 s, then 2 probes 1 s apart, then one more interval.
        assert!(
            (Duration::from_secs(2)..Duration::from_secs(8)).contains(&keepalive),
            "keepalive reported the dead peer after {keepalive:?}"
        );
        assert_closed(&c, "after keepalive");
        heal();

        // TCP_USER_TIMEOUT: a sender whose data is never acknowledged.
        let (mut c, _s) = face.pair();
        let port = c.port();
        c.with_sockref(|r| r.set_tcp_user_timeout(Some(TIMEOUT)))
            .expect("TCP_USER_TIMEOUT");
        c.set_send_timeout(Some(STALL));
        fault(&format!("tcp dport {port} drop"));
        let t = Instant::now();
        let sent = send_stream(&c, Pattern::new(6), 0, 256 * MIB);
        let user = t.elapsed();
        let e = sent
            .err
            .unwrap_or_else(|| panic!("256 MiB ({}) sent to a vanished peer", sent.acked));
        assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e:?}");
        assert!(
            (TIMEOUT..Duration::from_secs(8)).contains(&user),
            "TCP_USER_TIMEOUT reported the dead peer after {user:?}"
        );
        assert_closed(&c, "after TCP_USER_TIMEOUT");
        println!(
            "half_open_peer_detected ({}): keepalive (1 s idle, 2 probes 1 s apart) \
             reported it after {:.2} s; TCP_USER_TIMEOUT 1 s after {:.2} s; both: {e}",
            face.name(),
            keepalive.as_secs_f64(),
            user.as_secs_f64()
        );
    });
}

// ------------------------------------------------------- IPv6 black-holed

#[test]
fn ipv6_black_hole_falls_back_to_ipv4() {
    scenario("ipv6_black_hole_falls_back_to_ipv4", |face| {
        // `localhost` answers ::1, then 127.0.0.1: both listen on one port.
        let mut l6 = face
            .new_socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP)
            .expect("socket");
        l6.bind(0, Some("::1")).expect("bind ::1");
        l6.listen(None).expect("listen");
        let port = l6.port();
        let mut l4 = face.tcp().expect("socket");
        l4.bind(port, Some("127.0.0.1"))
            .expect("bind 127.0.0.1, same port");
        l4.listen(None).expect("listen");
        l4.set_receive_timeout(Some(STALL));
        fault(&format!("meta nfproto ipv6 tcp dport {port} drop"));

        let mut c = face
            .new_socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP)
            .expect("socket");
        let t = Instant::now();
        c.connect(Some("localhost"), port, Some(STALL))
            .expect("connect over IPv4");
        let took = t.elapsed();
        let peer = c.peer_info().expect("peer_info");
        assert!(
            peer.address.ends_with("127.0.0.1"),
            "connected to {peer:?}, not over IPv4"
        );
        let _s = l4.accept().expect("the IPv4 listener got the connection");
        assert!(
            (Duration::from_millis(240)..Duration::from_millis(1000)).contains(&took),
            "fell back to IPv4 after {took:?} (the stagger is 250 ms)"
        );
        println!(
            "ipv6_black_hole_falls_back_to_ipv4 ({}): connected to {} over IPv4 in {:.3} s",
            face.name(),
            peer.address,
            took.as_secs_f64()
        );
    });
}
