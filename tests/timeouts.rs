//! Timeouts (API.md §3 "Timeouts", `connect`, `accept`, `send`, `receive`):
//! deadlines kept by the library, the socket state after a timeout, zero and
//! `Duration::MAX`, through both faces (the timeouts and the state after
//! them: one scenario each, run on both faces with `support::face`).
mod support;
use support::*;

use std::time::{Duration, Instant};

use blade_socket::{
    ErrorKind, OptionValue, SO_RCVTIMEO, SO_SNDTIMEO, Socket, SocketError, blocking,
};
use support::face::Face;

/// Lower-bound slack: a timeout may not fire more than this early.
const EARLY: Duration = Duration::from_millis(5);
/// Upper-bound slack on a noisy VM running tests in parallel.
const LATE: Duration = Duration::from_secs(2);
/// One chunk of a "fill the buffers" send.
const CHUNK: usize = 1 << 20;
/// Bound on the chunks sent before the buffers must be full (256 MiB).
const MAX_CHUNKS: usize = 256;

fn assert_timeout(err: &SocketError) {
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        err.message().contains("timed out"),
        "message: {}",
        err.message()
    );
    assert_eq!(err.to_string(), err.message());
}

fn assert_elapsed(elapsed: Duration, requested: Duration) {
    assert!(
        elapsed + EARLY >= requested,
        "timed out too early: {elapsed:?} < {requested:?}"
    );
    assert!(
        elapsed <= requested + LATE,
        "timed out too late: {elapsed:?} for {requested:?}"
    );
}

// ------------------------------------------------------------- both faces

#[test]
fn connect_times_out_against_a_full_backlog_and_closes_the_socket() {
    Face::both(|face| {
        let (l, _filler) = face.full_backlog();
        let mut c = face.tcp().unwrap();
        let want = Duration::from_millis(300);
        let t = Instant::now();
        let err = c
            .connect(None, l.port(), Some(want))
            .expect_err("connect to a full backlog must time out");
        let elapsed = t.elapsed();
        assert_timeout(&err);
        assert_elapsed(elapsed, want);
        assert!(c.is_closed(), "a failed connect closes the socket");
        assert!(!c.is_connected() && !c.is_client());
        assert_eq!(c.id(), -1);
        // The listener is unaffected.
        assert!(l.is_listening() && !l.is_closed());
    });
}

#[test]
fn accept_times_out_and_the_listener_stays_usable() {
    Face::both(|face| {
        let mut l = face.listener(None);
        let want = Duration::from_millis(200);
        l.set_receive_timeout(Some(want));
        assert_eq!(l.receive_timeout(), Some(want));
        let t = Instant::now();
        let err = l.accept().expect_err("nothing to accept");
        assert_timeout(&err);
        assert_elapsed(t.elapsed(), want);
        assert!(l.is_listening() && !l.is_closed());

        let mut c = face.tcp().unwrap();
        c.connect(None, l.port(), None).unwrap();
        let s = l.accept().expect("accept after a timeout");
        assert!(s.is_connected());
        assert_eq!(s.port(), c.info().unwrap().port);
        c.send("ok").unwrap();
        assert_eq!(s.receive_exact(2), b"ok");
    });
}

#[test]
fn receive_times_out_and_the_socket_stays_usable() {
    Face::both(|face| {
        let (c, mut s) = face.pair();
        let want = Duration::from_millis(200);
        s.set_receive_timeout(Some(want));
        let t = Instant::now();
        let err = s.receive(None).expect_err("nothing queued");
        assert_timeout(&err);
        assert_elapsed(t.elapsed(), want);
        assert!(!s.is_closed() && s.is_connected());

        // receive_from on a stream socket uses the same timeout.
        let t = Instant::now();
        let err = s.receive_from(Some(10)).expect_err("nothing queued");
        assert_timeout(&err);
        assert_elapsed(t.elapsed(), want);

        c.send("after the timeout").unwrap();
        assert_eq!(s.receive_exact(17), b"after the timeout");
    });
}

#[test]
fn send_times_out_to_a_peer_that_never_reads_and_the_socket_stays_open() {
    Face::both(|face| {
        let (mut c, s) = face.pair();
        let want = Duration::from_millis(300);
        c.set_send_timeout(Some(want));
        assert_eq!(c.send_timeout(), Some(want));
        let chunk = vec![0x5au8; CHUNK];
        let mut accepted = 0usize;
        let mut timed_out = None;
        for _ in 0..MAX_CHUNKS {
            let t = Instant::now();
            match c.send(&chunk) {
                Ok(n) => {
                    assert_eq!(n, CHUNK, "a blocking send writes the whole message");
                    accepted += n;
                }
                Err(e) => {
                    timed_out = Some((e, t.elapsed()));
                    break;
                }
            }
        }
        let (err, elapsed) = timed_out.expect("the send never timed out");
        assert_timeout(&err);
        assert_elapsed(elapsed, want);
        assert!(!c.is_closed() && c.is_connected(), "socket stays open");

        // Still usable: half-close it and the peer reads at least every byte
        // the successful sends reported, then EOF.
        c.shutdown(blade_socket::SHUT_WR).unwrap();
        let mut got = 0usize;
        while let Some(b) = s.receive(None).unwrap() {
            assert!(b.iter().all(|&x| x == 0x5a));
            got += b.len();
        }
        assert!(got >= accepted, "peer got {got} < {accepted}");
        assert!(got < accepted + CHUNK + 1);
    });
}

// ---------------------------------------------------------------- async face

#[tokio::test]
async fn udp_receive_from_times_out_and_the_socket_stays_usable() {
    within(async {
        let mut rx = Socket::udp().unwrap();
        rx.bind(0, None).await.unwrap();
        let want = Duration::from_millis(150);
        rx.set_receive_timeout(Some(want));
        let t = Instant::now();
        let err = rx.receive_from(None).await.expect_err("no datagram");
        assert_timeout(&err);
        assert_elapsed(t.elapsed(), want);
        assert!(!rx.is_closed());

        let tx = Socket::udp().unwrap();
        tx.send_to("127.0.0.1", rx.port(), "dgram").await.unwrap();
        let d = rx.receive_from(None).await.expect("datagram after timeout");
        assert_eq!(&d.data[..], b"dgram");
    })
    .await;
}

#[tokio::test]
async fn zero_means_no_timeout_and_reads_back_as_none() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        s.set_receive_timeout(Some(Duration::ZERO));
        assert_eq!(s.receive_timeout(), None);
        s.set_send_timeout(Some(Duration::ZERO));
        assert_eq!(s.send_timeout(), None);

        s.set_option(SO_RCVTIMEO, Duration::ZERO).unwrap();
        assert_eq!(s.receive_timeout(), None);
        assert_eq!(
            s.get_option(SO_RCVTIMEO).unwrap(),
            OptionValue::Duration(None)
        );
        s.set_option(SO_SNDTIMEO, 0).unwrap();
        assert_eq!(s.send_timeout(), None);
        assert_eq!(
            s.get_option(SO_SNDTIMEO).unwrap(),
            OptionValue::Duration(None)
        );
        // A real value first, then zero again, still clears it.
        s.set_receive_timeout(Some(Duration::from_millis(50)));
        s.set_option(SO_RCVTIMEO, Some(Duration::ZERO)).unwrap();
        assert_eq!(s.receive_timeout(), None);

        // A receive with a zero timeout keeps waiting (no immediate timeout).
        let pending = tokio::time::timeout(Duration::from_millis(300), s.receive(None)).await;
        assert!(
            pending.is_err(),
            "zero timeout must not time out: {pending:?}"
        );
        c.send("late").await.unwrap();
        assert_eq!(receive_exact(&s, 4).await, b"late");

        // accept with a zero timeout keeps waiting too.
        let l = listener().await;
        l.set_receive_timeout(Some(Duration::ZERO));
        let pending = tokio::time::timeout(Duration::from_millis(200), l.accept()).await;
        assert!(pending.is_err(), "zero timeout must not time out");
        assert!(l.is_listening());

        // connect with Some(ZERO) is "no limit": it succeeds to a listener...
        let mut c2 = Socket::tcp().unwrap();
        c2.connect(None, l.port(), Some(Duration::ZERO))
            .await
            .unwrap();
        assert!(c2.is_connected());
        // ...and keeps waiting on a full backlog rather than failing at once.
        let (fl, _filler) = full_backlog().await;
        let mut c3 = Socket::tcp().unwrap();
        let pending = tokio::time::timeout(
            Duration::from_millis(300),
            c3.connect(None, fl.port(), Some(Duration::ZERO)),
        )
        .await;
        assert!(
            pending.is_err(),
            "zero connect timeout must not time out: {pending:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn duration_max_reads_back_as_given_and_behaves_as_no_timeout() {
    within(async {
        let l = listener().await;
        let mut c = Socket::tcp().unwrap();
        // connect with Duration::MAX: no panic, it connects.
        c.connect(None, l.port(), Some(Duration::MAX))
            .await
            .unwrap();
        let mut s = l.accept().await.unwrap();

        s.set_receive_timeout(Some(Duration::MAX));
        assert_eq!(s.receive_timeout(), Some(Duration::MAX));
        c.set_send_timeout(Some(Duration::MAX));
        assert_eq!(c.send_timeout(), Some(Duration::MAX));
        assert_eq!(
            c.get_option(SO_SNDTIMEO).unwrap(),
            OptionValue::Duration(Some(Duration::MAX))
        );
        s.set_option(SO_RCVTIMEO, Duration::MAX).unwrap();
        assert_eq!(s.receive_timeout(), Some(Duration::MAX));
        assert_eq!(
            s.get_option(SO_RCVTIMEO).unwrap(),
            OptionValue::Duration(Some(Duration::MAX))
        );

        // A receive that has to wait: no panic, no immediate timeout.
        let pending = tokio::time::timeout(Duration::from_millis(200), s.receive(None)).await;
        assert!(
            pending.is_err(),
            "Duration::MAX must not time out: {pending:?}"
        );
        assert_eq!(c.send("max").await.unwrap(), 3);
        assert_eq!(receive_exact(&s, 3).await, b"max");

        // accept with Duration::MAX gets a connection.
        let l2 = listener().await;
        l2.set_receive_timeout(Some(Duration::MAX));
        let port = l2.port();
        let (accepted, connected) = tokio::join!(l2.accept(), async move {
            let mut c = Socket::tcp().unwrap();
            c.connect(None, port, None).await.map(|()| c)
        });
        accepted.expect("accept with Duration::MAX");
        connected.unwrap();
    })
    .await;
}

// ------------------------------------------------------------- blocking face

#[test]
fn blocking_zero_and_max_timeouts() {
    within_blocking(|| {
        let (c, mut s) = blocking_pair();
        s.set_receive_timeout(Some(Duration::ZERO));
        assert_eq!(s.receive_timeout(), None);
        s.set_send_timeout(Some(Duration::ZERO));
        assert_eq!(s.send_timeout(), None);
        s.set_option(SO_RCVTIMEO, 0).unwrap();
        assert_eq!(
            s.get_option(SO_RCVTIMEO).unwrap(),
            OptionValue::Duration(None)
        );

        s.set_receive_timeout(Some(Duration::MAX));
        assert_eq!(s.receive_timeout(), Some(Duration::MAX));
        s.set_send_timeout(Some(Duration::MAX));
        assert_eq!(s.send_timeout(), Some(Duration::MAX));
        c.send("max").unwrap();
        assert_eq!(blocking_receive_exact(&s, 3), b"max");
        assert_eq!(s.send("back").unwrap(), 4);
        assert_eq!(blocking_receive_exact(&c, 4), b"back");

        // connect with zero and with Duration::MAX: no limit, it connects.
        let l = blocking_listener();
        let mut c1 = blocking::Socket::tcp().unwrap();
        c1.connect(None, l.port(), Some(Duration::ZERO)).unwrap();
        let mut c2 = blocking::Socket::tcp().unwrap();
        c2.connect(None, l.port(), Some(Duration::MAX)).unwrap();
        assert!(c1.is_connected() && c2.is_connected());
    });
}

/// Blocking: a receive with a zero timeout (and one with `Duration::MAX`)
/// that has to wait keeps waiting until data comes from another thread.
#[test]
fn blocking_zero_and_max_timeouts_wait_for_data() {
    for timeout in [Duration::ZERO, Duration::MAX] {
        within_blocking(move || {
            let (c, s) = blocking_pair();
            s.set_receive_timeout(Some(timeout));
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let sender = std::thread::spawn(move || {
                // Send once the receiver has (very likely) started waiting;
                // correctness does not depend on the order.
                let _ = rx.recv();
                c.send("waited").unwrap();
                c
            });
            tx.send(()).unwrap();
            let got = s.receive(Some(6)).expect("receive with zero/max timeout");
            let mut got = got.expect("data").to_vec();
            if got.len() < 6 {
                got.extend(blocking_receive_exact(&s, 6 - got.len()));
            }
            assert_eq!(got, b"waited");
            drop(sender.join().unwrap());
        });
    }
}

#[test]
fn blocking_timeout_kinds_match_error_kind_timed_out() {
    // The std::io mapping users rely on for `?` into io::Error.
    within_blocking(|| {
        let (_c, s) = blocking_pair();
        s.set_receive_timeout(Some(Duration::from_millis(50)));
        let err = s.receive(None).unwrap_err();
        assert_timeout(&err);
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    });
}

// ----- paused clocks ----------------------------------------------------------

/// Under `tokio::time::pause()` the async face's timeouts follow tokio's
/// clock: an idle runtime jumps to the deadline, so a 30 s receive timeout
/// fires at once, and the socket stays usable.
#[tokio::test(start_paused = true)]
async fn paused_clock_async_timeouts_fire_at_once_when_idle() {
    let (a, b) = Socket::pair().unwrap();
    a.set_receive_timeout(Some(Duration::from_secs(30)));
    let real = Instant::now();
    let virt = tokio::time::Instant::now();
    let e = a.receive(None).await.unwrap_err();
    assert_timeout(&e);
    assert!(
        real.elapsed() < LATE,
        "took {:?} of real time",
        real.elapsed()
    );
    assert!(
        virt.elapsed() >= Duration::from_secs(30),
        "tokio's clock moved on"
    );
    b.send("still usable").await.unwrap();
    assert_eq!(
        a.receive(None).await.unwrap().as_deref(),
        Some(&b"still usable"[..])
    );
}

/// The facade waits in real time, even on the thread of a runtime whose
/// clock is paused (it must neither fire at once nor wait forever).
#[tokio::test(start_paused = true)]
async fn paused_clock_facade_waits_in_real_time() {
    // A hang here would block the runtime's own timers: bound it from outside.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if finished.recv_timeout(LIMIT).is_err() {
            eprintln!("the facade's receive under a paused clock did not return; aborting");
            std::process::abort();
        }
    });
    let (a, _b) = blocking::Socket::pair().unwrap();
    let timeout = Duration::from_millis(150);
    a.set_receive_timeout(Some(timeout));
    let real = Instant::now();
    let e = a.receive(None).unwrap_err();
    let took = real.elapsed();
    done.send(()).unwrap();
    assert_timeout(&e);
    assert!(took + EARLY >= timeout, "fired early, after {took:?}");
    assert!(took < timeout + LATE, "fired late, after {took:?}");
}
