//! Reliability 1: timeout accuracy.
//!
//! `connect` (to a loopback listener whose backlog is full), `accept` (nobody
//! connects), `receive` (no data) and `send` (to a peer that never reads, its
//! buffers already full) each fail with `TimedOut` no earlier than the
//! requested time and at most [`TOLERANCE`] (50 ms) after it, through the async
//! API and through the blocking facade, and leave the socket in the state
//! API.md gives: a timed-out `connect` closes the socket; a timed-out `accept`,
//! `receive` or `send` leaves it open, in the same state, and usable (shown by
//! using it afterwards). A last test runs many timeouts at once. Each test
//! runs its one scenario on both faces (`support::face`).
//!
//! Sizes: quick (default) requests 20, 100 and 333 ms, twice each, per
//! operation and face, and 200 concurrent async receives (50 blocking threads)
//! with timeouts spread over 50–300 ms; heavy (`BLADE_SOCKET_HEAVY=1`) adds
//! 1 s and 2.5 s requests, repeats each 3 times, and runs 1,000 concurrent
//! receives (100 threads). Each test prints the errors it measured
//! (`--nocapture` shows them).
mod support;
use support::*;

#[path = "support/reliability.rs"]
mod reliability;
use reliability::*;

use std::time::{Duration, Instant};

use blade_socket::{ErrorKind, SO_RCVBUF, SO_SNDBUF, Shutdown, SocketError};
use support::face::{Face, FaceSocket};

/// How late a timeout may fire.
const TOLERANCE: Duration = Duration::from_millis(50);

fn requests() -> Vec<Duration> {
    let mut ms = vec![20, 100, 333];
    if heavy() {
        ms.extend([1000, 2500]);
    }
    let reps = pick(2, 3);
    ms.iter()
        .flat_map(|&m| std::iter::repeat_n(Duration::from_millis(m), reps))
        .collect()
}

fn assert_timed_out(err: &SocketError, what: &str) {
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{what}: {err:?}");
    assert!(err.is_timeout(), "{what}: {err:?}");
    assert!(err.message().contains("timed out"), "{what}: {err}");
}

/// Asserts `requested <= elapsed <= requested + TOLERANCE` and records the error.
fn check_elapsed(errors: &mut Errors, what: &str, requested: Duration, elapsed: Duration) {
    assert!(
        elapsed >= requested,
        "{what}: fired early: {elapsed:?} < {requested:?}"
    );
    assert!(
        elapsed <= requested + TOLERANCE,
        "{what}: fired late: {elapsed:?} for {requested:?} (tolerance {TOLERANCE:?})"
    );
    errors.add(elapsed - requested);
}

fn report(what: &str, e: &Errors) {
    println!(
        "timeout accuracy: {what}: n={} error min={:?} max={:?}",
        e.n,
        e.min.unwrap_or_default(),
        e.max.unwrap_or_default()
    );
}

// ================================================================ connect

#[test]
fn connect_timeout_accuracy() {
    Face::both(|face| {
        let (l, filler) = face.full_backlog();
        let mut errors = Errors::default();
        for want in requests() {
            let mut c = face.tcp().unwrap();
            let t = Instant::now();
            let err = c
                .connect(None, l.port(), Some(want))
                .expect_err("a connect to a full backlog must time out");
            let elapsed = t.elapsed();
            assert_timed_out(&err, "connect");
            check_elapsed(&mut errors, "connect", want, elapsed);
            // API.md: any failed connect closes the socket.
            assert!(c.is_closed() && c.id() == -1);
            assert!(!c.is_connected() && !c.is_client() && !c.is_bound() && !c.is_listening());
            assert_illegal(c.send("x"), "send after a timed-out connect");
            assert_illegal(
                c.connect(None, l.port(), None),
                "connect after a timed-out connect",
            );
        }
        // The listener and its queued connection are unharmed.
        assert!(l.is_listening() && !l.is_closed());
        assert!(filler.is_connected());
        report(&format!("connect ({})", face.name()), &errors);
    });
}

// ================================================================= accept

#[test]
fn accept_timeout_accuracy() {
    Face::both(|face| {
        let mut l = face.listener(None);
        let mut errors = Errors::default();
        for want in requests() {
            l.set_receive_timeout(Some(want));
            let t = Instant::now();
            let err = l.accept().expect_err("nobody connects");
            let elapsed = t.elapsed();
            assert_timed_out(&err, "accept");
            check_elapsed(&mut errors, "accept", want, elapsed);
            // Still listening, and usable: a connection is accepted.
            assert!(l.is_listening() && !l.is_closed() && l.id() >= 0);
            assert!(!l.is_connected() && !l.is_client());
            let mut c = face.tcp().unwrap();
            c.connect(None, l.port(), None).unwrap();
            let s = l.accept().expect("accept after a timeout");
            assert!(s.is_connected() && s.is_client());
            c.send("ok").unwrap();
            assert_eq!(s.receive_exact(2), b"ok");
        }
        report(&format!("accept ({})", face.name()), &errors);
    });
}

// ================================================================ receive

#[test]
fn receive_timeout_accuracy() {
    Face::both(|face| {
        let (c, mut s) = face.pair();
        let mut errors = Errors::default();
        for (i, want) in requests().into_iter().enumerate() {
            s.set_receive_timeout(Some(want));
            let t = Instant::now();
            // Alternate the three receiving calls; all use receive_timeout().
            let err = match i % 3 {
                0 => s.receive(None).map(drop),
                1 => s.receive(Some(7)).map(drop),
                _ => s.receive_from(Some(100_000)).map(drop),
            }
            .expect_err("no data is coming");
            let elapsed = t.elapsed();
            assert_timed_out(&err, "receive");
            check_elapsed(&mut errors, "receive", want, elapsed);
            assert!(!s.is_closed() && s.is_connected() && s.is_client());
            assert_eq!(s.shutdown_reason(), None);
            // Usable: the next message arrives whole, in both directions.
            let msg = format!("after timeout {i}");
            c.send(&msg).unwrap();
            assert_eq!(s.receive_exact(msg.len()), msg.as_bytes());
            s.send(&msg).unwrap();
            assert_eq!(c.receive_exact(msg.len()), msg.as_bytes());
        }
        report(&format!("receive ({})", face.name()), &errors);
    });
}

// =================================================================== send

/// Small buffers, so that filling them is quick.
const BUF: i32 = 16 * 1024;
const CHUNK: usize = 64 * 1024;

#[test]
fn send_timeout_accuracy() {
    Face::both(|face| {
        let mut l = face.listener(None);
        let mut c = face.tcp().unwrap();
        c.set_option(SO_SNDBUF, BUF.into()).unwrap();
        c.connect(None, l.port(), None).unwrap();
        l.set_option(SO_RCVBUF, BUF.into()).unwrap();
        let mut s = l.accept().unwrap();
        s.set_option(SO_RCVBUF, BUF.into()).unwrap();
        let fill = match face {
            Face::Async => 0xa5u8,
            Face::Blocking => 0x3c,
        };
        let chunk = vec![fill; CHUNK];

        // Fill the pipe: send until a short timeout says it is full.
        c.set_send_timeout(Some(Duration::from_millis(50)));
        let mut sent = 0usize;
        let mut filled = false;
        for _ in 0..10_000 {
            match c.send(&chunk) {
                Ok(n) => sent += n,
                Err(e) => {
                    assert_timed_out(&e, "filling send");
                    filled = true;
                    break;
                }
            }
        }
        assert!(filled, "the buffers never filled");

        // Now every send must wait for its whole timeout.
        let mut errors = Errors::default();
        for want in requests() {
            c.set_send_timeout(Some(want));
            let t = Instant::now();
            let err = c.send(&chunk).expect_err("the peer never reads");
            let elapsed = t.elapsed();
            assert_timed_out(&err, "send");
            check_elapsed(&mut errors, "send", want, elapsed);
            assert!(!c.is_closed() && c.is_connected() && c.is_client());
            assert_eq!(c.shutdown_reason(), None);
        }

        // Usable: the reader drains every byte (at least those reported
        // sent, all `fill`) up to EOF, and the other direction still works.
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = 0usize;
        while let Some(b) = s.receive(None).unwrap() {
            assert!(b.iter().all(|&x| x == fill));
            got += b.len();
        }
        assert!(got >= sent, "peer got {got} < {sent} reported sent");
        s.send("still here").unwrap();
        assert_eq!(c.receive_exact(10), b"still here");
        report(&format!("send ({})", face.name()), &errors);
    });
}

// ========================================================= many at once

/// Many receives time out at once, each with its own timeout; every one
/// fires within the tolerance, and every socket stays usable. Each receive
/// waits on its own thread (on the async face, all of them awaited on the
/// one shared runtime, with a timer each).
#[test]
fn concurrent_receive_timeouts() {
    Face::both(|face| {
        let (n, seed) = match face {
            Face::Async => (pick(200, 1000), 7),
            Face::Blocking => (pick(50, 100), 11),
        };
        let l = face.listener(None);
        let mut rng = Rng::new(seed);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let mut c = face.tcp().unwrap();
            c.connect(None, l.port(), None).unwrap();
            let mut s = l.accept().unwrap();
            let want = Duration::from_millis(rng.range(50, 300) as u64);
            s.set_receive_timeout(Some(want));
            threads.push(std::thread::spawn(move || {
                receive_times_out(i, &c, &s, want)
            }));
        }
        let mut errors = Errors::default();
        for t in threads {
            let (want, elapsed) = t.join().unwrap();
            check_elapsed(&mut errors, "concurrent receive", want, elapsed);
        }
        report(
            &format!("{n} concurrent receives ({})", face.name()),
            &errors,
        );
    });
}

/// One of the concurrent receives: it times out, then the socket works.
fn receive_times_out(
    i: usize,
    c: &FaceSocket,
    s: &FaceSocket,
    want: Duration,
) -> (Duration, Duration) {
    let t = Instant::now();
    let err = s.receive(None).expect_err("no data is coming");
    let elapsed = t.elapsed();
    assert_timed_out(&err, "receive");
    assert!(s.is_connected() && !s.is_closed(), "socket {i}");
    let msg = i.to_le_bytes();
    c.send(msg).unwrap();
    assert_eq!(s.receive_exact(8), msg);
    (want, elapsed)
}
