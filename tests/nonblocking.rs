//! Non-blocking mode (API.md §3 "Non-blocking mode"): `set_blocking(false)`
//! makes accept/send/receive never wait, `connect` still waits, and
//! switching back waits again. Both faces.
mod support;
use support::*;

use std::time::{Duration, Instant};

use blade_socket::{ErrorKind, SocketError, blocking};

/// A call that must not wait returns well within this (it would otherwise
/// hang until the 20 s bound).
const QUICK: Duration = Duration::from_secs(5);
const CHUNK: usize = 1 << 20;
const MAX_SENDS: usize = 1000;
const MAX_RETRIES: usize = 100_000;

fn assert_would_block(err: &SocketError) {
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err:?}");
    assert!(!err.is_timeout());
    let io: std::io::Error = err.clone().into();
    assert_eq!(io.kind(), std::io::ErrorKind::WouldBlock);
}

/// Runs a future that must not wait: fails clearly instead of hanging.
async fn now<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(QUICK, f)
        .await
        .expect("a non-blocking call waited")
}

// ---------------------------------------------------------------- async face

#[tokio::test]
async fn accept_with_nothing_pending_would_block_then_switching_back_waits() {
    within(async {
        let mut l = listener().await;
        assert!(l.is_blocking());
        l.set_blocking(false).unwrap();
        assert!(!l.is_blocking());

        let err = now(l.accept()).await.expect_err("nothing pending");
        assert_would_block(&err);
        assert!(l.is_listening() && !l.is_closed());

        let mut c = blade_socket::Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let mut accepted = None;
        for _ in 0..MAX_RETRIES {
            match now(l.accept()).await {
                Ok(s) => {
                    accepted = Some(s);
                    break;
                }
                Err(e) => {
                    assert_would_block(&e);
                    tokio::task::yield_now().await;
                }
            }
        }
        let s = accepted.expect("non-blocking accept never got the pending connection");
        assert!(s.is_connected());
        assert!(s.is_blocking(), "an accepted socket is blocking");
        assert!(!l.is_blocking(), "the listener keeps its mode");

        // Back to blocking: accept waits again (here until its timeout).
        l.set_blocking(true).unwrap();
        assert!(l.is_blocking());
        l.set_receive_timeout(Some(Duration::from_millis(100)));
        let err = l.accept().await.expect_err("nothing pending");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn receive_with_nothing_queued_would_block_then_switching_back_waits() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        s.set_blocking(false).unwrap();
        assert!(!s.is_blocking());
        // A receive timeout does not turn WouldBlock into a wait.
        s.set_receive_timeout(Some(Duration::from_secs(30)));
        let t = Instant::now();
        let err = now(s.receive(None)).await.expect_err("nothing queued");
        assert_would_block(&err);
        assert!(t.elapsed() < QUICK);
        let err = now(s.receive(Some(10))).await.expect_err("nothing queued");
        assert_would_block(&err);
        let err = now(s.receive_from(None)).await.expect_err("nothing queued");
        assert_would_block(&err);
        assert!(s.is_connected() && !s.is_closed());

        c.send("data").await.unwrap();
        let mut got = Vec::new();
        for _ in 0..MAX_RETRIES {
            match now(s.receive(Some(4 - got.len()))).await {
                Ok(Some(b)) => {
                    got.extend_from_slice(&b);
                    if got.len() == 4 {
                        break;
                    }
                }
                Ok(None) => panic!("unexpected EOF"),
                Err(e) => {
                    assert_would_block(&e);
                    tokio::task::yield_now().await;
                }
            }
        }
        assert_eq!(got, b"data");

        s.set_blocking(true).unwrap();
        assert!(s.is_blocking());
        s.set_receive_timeout(Some(Duration::from_millis(100)));
        let err = s.receive(None).await.expect_err("nothing queued");
        assert_eq!(
            err.kind(),
            ErrorKind::TimedOut,
            "blocking again waits: {err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn udp_receive_from_with_nothing_queued_would_block() {
    within(async {
        let mut rx = blade_socket::Socket::udp().unwrap();
        rx.bind(0, None).await.unwrap();
        rx.set_blocking(false).unwrap();
        let err = now(rx.receive_from(None)).await.expect_err("no datagram");
        assert_would_block(&err);
        let err = now(rx.receive_from(Some(3)))
            .await
            .expect_err("no datagram");
        assert_would_block(&err);

        let tx = blade_socket::Socket::udp().unwrap();
        tx.send_to("127.0.0.1", rx.port(), "dgram").await.unwrap();
        let mut got = None;
        for _ in 0..MAX_RETRIES {
            match now(rx.receive_from(None)).await {
                Ok(d) => {
                    got = Some(d);
                    break;
                }
                Err(e) => {
                    assert_would_block(&e);
                    tokio::task::yield_now().await;
                }
            }
        }
        let d = got.expect("datagram never arrived");
        assert_eq!(&d.data[..], b"dgram");
        assert_eq!(d.port, tx.info().unwrap().port);
        let err = now(rx.receive_from(None)).await.expect_err("queue drained");
        assert_would_block(&err);
    })
    .await;
}

#[tokio::test]
async fn send_to_a_full_buffer_returns_a_partial_count_or_would_block() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        c.set_blocking(false).unwrap();
        c.set_send_timeout(Some(Duration::from_secs(60)));
        let chunk = vec![7u8; CHUNK];
        let mut total = 0usize;
        let mut saw_partial = false;
        let mut saw_would_block = false;
        for _ in 0..MAX_SENDS {
            match now(c.send(&chunk)).await {
                Ok(n) if n == CHUNK => total += n,
                Ok(n) => {
                    assert!(n < CHUNK);
                    total += n;
                    saw_partial = true;
                }
                Err(e) => {
                    assert_would_block(&e);
                    saw_would_block = true;
                    break;
                }
            }
        }
        assert!(
            saw_partial || saw_would_block,
            "{MAX_SENDS} MiB never filled the buffers"
        );
        if !saw_would_block {
            // Once a partial count was returned, the buffer is full: more
            // sends report WouldBlock (or at most a few more partial counts).
            for _ in 0..MAX_SENDS {
                match now(c.send(&chunk)).await {
                    Ok(n) => {
                        assert!(n < CHUNK, "a full buffer took a whole MiB");
                        total += n;
                    }
                    Err(e) => {
                        assert_would_block(&e);
                        saw_would_block = true;
                        break;
                    }
                }
            }
            assert!(saw_would_block);
        }
        assert!(
            c.is_connected() && !c.is_closed(),
            "WouldBlock leaves it open"
        );

        // The counts were honest: the peer gets exactly `total` bytes.
        c.set_blocking(true).unwrap();
        c.shutdown(blade_socket::SHUT_WR).unwrap();
        let mut got = 0usize;
        while let Some(b) = s.receive(None).await.unwrap() {
            got += b.len();
        }
        assert_eq!(got, total);
    })
    .await;
}

#[tokio::test]
async fn connect_still_waits_in_non_blocking_mode() {
    within(async {
        let l = listener().await;
        let mut c = blade_socket::Socket::tcp().unwrap();
        c.set_blocking(false).unwrap();
        c.connect(None, l.port(), None)
            .await
            .expect("a non-blocking connect still connects");
        assert!(c.is_connected() && c.is_client());
        assert!(!c.is_blocking(), "connect keeps the mode");
        let s = l.accept().await.unwrap();
        assert!(s.is_connected());

        // It waits up to its timeout (TimedOut, not WouldBlock).
        let (fl, _filler) = full_backlog().await;
        let mut c2 = blade_socket::Socket::tcp().unwrap();
        c2.set_blocking(false).unwrap();
        let want = Duration::from_millis(200);
        let t = Instant::now();
        let err = c2
            .connect(None, fl.port(), Some(want))
            .await
            .expect_err("full backlog");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        assert!(
            t.elapsed() + Duration::from_millis(5) >= want,
            "{:?}",
            t.elapsed()
        );
    })
    .await;
}

// ------------------------------------------------------------- blocking face

#[test]
fn blocking_accept_and_receive_would_block_then_switching_back_waits() {
    within_blocking(|| {
        let mut l = blocking_listener();
        l.set_blocking(false).unwrap();
        assert!(!l.is_blocking());
        assert_would_block(&l.accept().expect_err("nothing pending"));
        assert!(l.is_listening());

        let mut c = blocking::Socket::tcp().unwrap();
        c.connect(None, l.port(), None).unwrap();
        let mut s = (0..MAX_RETRIES)
            .find_map(|_| match l.accept() {
                Ok(s) => Some(s),
                Err(e) => {
                    assert_would_block(&e);
                    std::thread::yield_now();
                    None
                }
            })
            .expect("non-blocking accept never got the connection");
        assert!(s.is_blocking());

        s.set_blocking(false).unwrap();
        assert_would_block(&s.receive(None).expect_err("nothing queued"));
        assert_would_block(&s.receive_from(None).expect_err("nothing queued"));
        c.send("hi").unwrap();
        let got = (0..MAX_RETRIES)
            .find_map(|_| match s.receive(Some(2)) {
                Ok(b) => Some(b),
                Err(e) => {
                    assert_would_block(&e);
                    std::thread::yield_now();
                    None
                }
            })
            .expect("data never arrived");
        assert_eq!(got.as_deref(), Some(&b"hi"[..]));

        s.set_blocking(true).unwrap();
        assert!(s.is_blocking());
        s.set_receive_timeout(Some(Duration::from_millis(100)));
        assert_eq!(s.receive(None).unwrap_err().kind(), ErrorKind::TimedOut);
        l.set_blocking(true).unwrap();
        l.set_receive_timeout(Some(Duration::from_millis(100)));
        assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn blocking_udp_receive_from_would_block() {
    within_blocking(|| {
        let mut rx = blocking::Socket::udp().unwrap();
        rx.bind(0, None).unwrap();
        rx.set_blocking(false).unwrap();
        assert_would_block(&rx.receive_from(None).expect_err("no datagram"));
        // `receive` needs a connected datagram socket, whatever the mode.
        let e = rx.receive(None).expect_err("not connected");
        assert_eq!(e.message(), "socket not listening or connected");
    });
}

#[test]
fn blocking_send_to_a_full_buffer_returns_a_partial_count_or_would_block() {
    within_blocking(|| {
        let (mut c, s) = blocking_pair();
        c.set_blocking(false).unwrap();
        let chunk = vec![9u8; CHUNK];
        let mut total = 0usize;
        let mut saw_would_block = false;
        for _ in 0..2 * MAX_SENDS {
            match c.send(&chunk) {
                Ok(n) => {
                    assert!(n <= CHUNK);
                    total += n;
                }
                Err(e) => {
                    assert_would_block(&e);
                    saw_would_block = true;
                    break;
                }
            }
        }
        assert!(saw_would_block, "the buffers never filled");
        assert!(!c.is_closed());
        c.set_blocking(true).unwrap();
        c.shutdown(blade_socket::SHUT_WR).unwrap();
        let mut got = 0usize;
        while let Some(b) = s.receive(None).unwrap() {
            got += b.len();
        }
        assert_eq!(got, total);
    });
}

#[test]
fn blocking_connect_still_waits_in_non_blocking_mode() {
    within_blocking(|| {
        let l = blocking_listener();
        let mut c = blocking::Socket::tcp().unwrap();
        c.set_blocking(false).unwrap();
        c.connect(None, l.port(), None).expect("connect waits");
        assert!(c.is_connected());
        assert!(!c.is_blocking());
        assert!(l.accept().unwrap().is_connected());
    });
}
