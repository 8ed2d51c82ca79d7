//! `tcp_info` and `queued` on both faces.

mod support;
use support::*;

use std::time::Duration;

use blade_socket::{ErrorKind, SHUT_WR, Socket, blocking};

const MIB: usize = 1024 * 1024;

/// After 1 MiB over loopback, the kernel's figures are plausible on both
/// ends: a measured rtt, a real MSS and window, the bytes counted.
#[tokio::test(flavor = "multi_thread")]
async fn tcp_info_after_one_mib() {
    within(async {
        let (a, b) = tcp_pair().await;
        let data = pattern(MIB);
        let sender = tokio::spawn(async move {
            a.send(&data).await.expect("send");
            a
        });
        assert_eq!(receive_exact(&b, MIB).await.len(), MIB);
        let a = sender.await.expect("task");
        // The last acknowledgement may still be on its way: wait for it.
        for _ in 0..1000 {
            if a.queued().expect("queued").send == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let info = a.tcp_info().expect("tcp_info");
        assert!(
            info.rtt > Duration::ZERO && info.rtt < Duration::from_secs(5),
            "{info:?}"
        );
        assert!(info.rtt_var < Duration::from_secs(5), "{info:?}");
        let min_rtt = info.min_rtt.expect("min_rtt measured");
        assert!(
            min_rtt > Duration::ZERO && min_rtt <= Duration::from_secs(5),
            "{info:?}"
        );
        assert!(info.mss >= 536 && info.mss <= 65_535, "{info:?}");
        assert!(info.cwnd >= 1, "{info:?}");
        // The kernel counts the SYN in bytes_acked.
        let acked = info.bytes_acked.expect("bytes_acked");
        assert!(acked >= MIB as u64 && acked <= MIB as u64 + 2, "{info:?}");
        assert!(info.delivery_rate.expect("delivery_rate") > 0, "{info:?}");
        assert!(info.retransmits < 1000, "{info:?}");
        let got = b
            .tcp_info()
            .expect("tcp_info")
            .bytes_received
            .expect("bytes_received");
        assert!(got >= MIB as u64 && got <= MIB as u64 + 2, "{got}");
    })
    .await;
}

#[test]
fn tcp_info_on_the_blocking_face() {
    within_blocking(|| {
        let (a, b) = blocking_pair();
        let data = pattern(64 * 1024);
        a.send(&data).expect("send");
        assert_eq!(blocking_receive_exact(&b, data.len()).len(), data.len());
        let got = b
            .tcp_info()
            .expect("tcp_info")
            .bytes_received
            .expect("bytes_received");
        assert!(got >= data.len() as u64, "{got}");
        assert!(a.tcp_info().expect("tcp_info").mss > 0);
    });
}

/// Not TCP: `InvalidArgument`; closed: `IllegalState`; not yet connected:
/// what the kernel says (zeros).
#[tokio::test]
async fn tcp_info_errors() {
    within(async {
        let (u1, _u2) = Socket::pair().expect("pair");
        let e = u1.tcp_info().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        let e = Socket::udp().expect("udp").tcp_info().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        let fresh = Socket::tcp().expect("tcp");
        let info = fresh.tcp_info().expect("tcp_info of a fresh socket");
        assert_eq!(info.bytes_received, Some(0));
        let mut closed = Socket::tcp().expect("tcp");
        closed.close().expect("close");
        assert_eq!(
            closed.tcp_info().unwrap_err().kind(),
            ErrorKind::IllegalState
        );
        assert_eq!(closed.queued().unwrap_err().kind(), ErrorKind::IllegalState);
        let l = listener().await;
        assert_eq!(l.queued().unwrap_err().kind(), ErrorKind::InvalidArgument);
        let b: blocking::Socket = Socket::udp().expect("udp").into();
        assert_eq!(b.tcp_info().unwrap_err().kind(), ErrorKind::InvalidArgument);
    })
    .await;
}

/// A peer that does not read: bytes wait in both queues (some not even
/// sent); once it reads everything, both drain to 0.
#[tokio::test(flavor = "multi_thread")]
async fn queued_fills_with_a_peer_that_does_not_read_then_drains() {
    within(async {
        let (mut a, b) = tcp_pair().await;
        a.set_blocking(false).expect("non-blocking");
        let chunk = pattern(64 * 1024);
        let mut sent = 0usize;
        for _ in 0..10_000 {
            match a.send(&chunk).await {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        let q = a.queued().expect("queued");
        assert!(q.send > 0, "{q:?}");
        assert!(q.unsent.expect("unsent on TCP") <= q.send, "{q:?}");
        assert!(q.send <= sent, "{q:?} of {sent}");
        let r = b.queued().expect("queued");
        assert!(r.receive > 0 && r.receive <= sent, "{r:?}");
        assert_eq!(r.unsent, Some(0));
        a.shutdown(SHUT_WR).expect("shutdown");
        let got = receive_exact(&b, sent).await;
        assert_eq!(got.len(), sent);
        for _ in 0..1000 {
            if a.queued().expect("queued").send == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let q = a.queued().expect("queued");
        assert_eq!((q.send, q.unsent), (0, Some(0)), "{q:?}");
        assert_eq!(b.queued().expect("queued").receive, 0);
    })
    .await;
}

/// On a Unix stream pair, `receive` counts the bytes readable and `unsent`
/// is not reported; on the blocking face too.
#[test]
fn queued_on_unix_sockets() {
    let (a, b) = blocking::Socket::pair().expect("pair");
    a.send(b"twelve bytes").expect("send");
    let q = b.queued().expect("queued");
    assert_eq!((q.receive, q.unsent), (12, None));
    assert!(
        a.queued().expect("queued").send > 0,
        "held for the unread bytes"
    );
    assert_eq!(blocking_receive_exact(&b, 12), b"twelve bytes");
    assert_eq!(b.queued().expect("queued").receive, 0);
}

/// A closing TCP connection's debug event carries its rtt, retransmits and
/// byte counts.
#[test]
fn the_close_event_carries_the_connection_figures() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer({
            let sink = sink.clone();
            move || sink.clone()
        })
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let (mut a, b) = blocking_pair();
        a.send("hello").expect("send");
        assert_eq!(blocking_receive_exact(&b, 5), b"hello");
        a.close().expect("close");
    });
    let text = String::from_utf8(sink.0.lock().expect("lock").clone()).expect("utf-8");
    let line = text
        .lines()
        .find(|l| l.contains("closed") && l.contains("rtt_us"))
        .unwrap_or_else(|| panic!("no close event with figures in:\n{text}"));
    for field in ["retransmits=", "bytes_acked=", "bytes_received="] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
}
