//! What a user expects without asking: a TCP bind sets `SO_REUSEADDR` (as
//! std's, tokio's and asyncio's listeners do on Unix) unless the user set it
//! first, and timeouts change through `&self` (as std's `set_read_timeout`),
//! so an `Arc<Socket>`, a half or a `BufReader<&Socket>` can change them.

mod support;
use support::*;

use std::{
    io::{self, BufRead, BufReader, Write},
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use blade_socket::{OptionValue, SO_REUSEADDR, Socket, blocking};
use tokio::io::AsyncReadExt;

// ----- SO_REUSEADDR ------------------------------------------------------------

fn reuse(s: &Socket) -> OptionValue {
    s.get_option(SO_REUSEADDR).expect("get_option")
}

/// A server that closes its connection first, then its listener: the port
/// is left with the server side's connection in TIME_WAIT (or FIN_WAIT2).
async fn serve_and_close_first() -> u16 {
    let mut l = listener().await;
    let port = l.port();
    let mut c = Socket::tcp().unwrap();
    c.connect(None, port, None).await.unwrap();
    let mut s = l.accept().await.unwrap();
    s.send("bye").await.unwrap();
    s.close().unwrap(); // the server closes first
    assert_eq!(&receive_exact(&c, 3).await[..], b"bye");
    assert_eq!(c.receive(None).await.unwrap(), None);
    c.close().unwrap();
    l.close().unwrap();
    port
}

#[tokio::test]
async fn a_restarted_server_binds_at_once() {
    within(async {
        // The control: with the flag set to false by the user, the port is
        // still held (so the scenario really leaves TIME_WAIT behind).
        let port = serve_and_close_first().await;
        let mut held = Socket::tcp().unwrap();
        held.set_option(SO_REUSEADDR, false).unwrap();
        let e = held.bind(port, None).await.unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::AddrInUse, "{e:?}");
        assert!(!held.is_closed());

        // A default restart binds and listens at once, and serves.
        for port in [port, serve_and_close_first().await] {
            let mut again = Socket::tcp().unwrap();
            again.bind(port, None).await.expect("restart binds at once");
            again.listen(None).unwrap();
            let mut c = Socket::tcp().unwrap();
            c.connect(None, port, None).await.unwrap();
            again.accept().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn stream_binds_set_reuseaddr_and_a_users_false_stays() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        assert_eq!(reuse(&s), OptionValue::Bool(false), "not before bind");
        s.bind(0, None).await.unwrap();
        assert_eq!(reuse(&s), OptionValue::Bool(true));

        let mut s = Socket::tcp6().unwrap();
        s.bind(0, None).await.unwrap();
        assert_eq!(reuse(&s), OptionValue::Bool(true), "IPv6 too");

        let mut s = Socket::tcp().unwrap();
        s.bind_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        assert_eq!(reuse(&s), OptionValue::Bool(true), "bind_addr too");

        // A client that binds before it connects.
        let l = listener().await;
        let mut c = Socket::tcp().unwrap();
        c.bind(0, None).await.unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        assert_eq!(reuse(&c), OptionValue::Bool(true), "a binding client too");

        let mut s = Socket::tcp().unwrap();
        s.set_option(SO_REUSEADDR, false).unwrap();
        s.bind(0, None).await.unwrap();
        assert_eq!(
            reuse(&s),
            OptionValue::Bool(false),
            "the user's false stays"
        );

        // Datagram sockets are unchanged; SO_REUSEPORT is never set.
        let mut u = Socket::udp().unwrap();
        u.bind(0, None).await.unwrap();
        assert_eq!(reuse(&u), OptionValue::Bool(false), "UDP unchanged");
        let mut t = Socket::tcp().unwrap();
        t.bind(0, None).await.unwrap();
        assert_eq!(
            t.get_option(blade_socket::SO_REUSEPORT).unwrap(),
            OptionValue::Bool(false)
        );
    })
    .await;
}

#[tokio::test]
async fn two_bound_sockets_on_one_port_meet_at_listen() {
    within(async {
        let mut a = Socket::tcp().unwrap();
        a.bind(0, None).await.unwrap();
        let mut b = Socket::tcp().unwrap();
        // Linux lets both bind while neither listens...
        b.bind(a.port(), None).await.unwrap();
        a.listen(None).unwrap();
        // ...and the second listen is where the port is found taken.
        let e = b.listen(None).unwrap_err();
        assert_eq!(e.io_kind(), io::ErrorKind::AddrInUse, "{e:?}");
        assert!(b.is_bound() && !b.is_listening() && !b.is_closed());
    })
    .await;
}

#[test]
fn the_blocking_face_binds_with_reuseaddr() {
    within_blocking(|| {
        let mut s = blocking::Socket::tcp().unwrap();
        s.bind(0, None).unwrap();
        assert_eq!(s.get_option(SO_REUSEADDR).unwrap(), OptionValue::Bool(true));
    });
}

// ----- timeouts through &self -----------------------------------------------------

#[test]
fn a_buf_reader_reads_lines_and_its_socket_changes_timeout() {
    within_blocking(|| {
        let (a, b) = blocking_pair();
        let mut reader = BufReader::new(&a);
        (&b).write_all(b"first line\nsecond ").unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "first line\n");

        // Changed while the reader borrows the socket: the next read uses it.
        a.set_receive_timeout(Some(Duration::from_millis(50)));
        line.clear();
        let e = reader.read_line(&mut line).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
        assert!(!a.is_closed(), "a timeout leaves the socket open");

        a.set_receive_timeout(None);
        (&b).write_all(b"line\n").unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.ends_with("line\n"), "{line:?}");
    });
}

#[test]
fn a_shared_blocking_socket_changes_timeout_from_another_thread() {
    within_blocking(|| {
        let (a, _b) = blocking_pair();
        let a = Arc::new(a);
        let other = Arc::clone(&a);
        std::thread::spawn(move || other.set_receive_timeout(Some(Duration::from_millis(30))))
            .join()
            .unwrap();
        assert_eq!(a.receive_timeout(), Some(Duration::from_millis(30)));
        assert!(a.receive(None).unwrap_err().is_timeout());
    });
}

#[tokio::test]
async fn an_arc_socket_changes_timeout_for_calls_that_start_afterwards() {
    within(async {
        let (a, b) = tcp_pair().await;
        let a = Arc::new(a);
        // A receive with no timeout, started and waiting.
        let mut first = Box::pin(a.receive(None));
        assert!(poll_once(&mut first).await.is_pending());
        // Through another handle to the same Arc.
        Arc::clone(&a).set_receive_timeout(Some(Duration::from_millis(50)));
        assert_eq!(a.receive_timeout(), Some(Duration::from_millis(50)));
        // A call that starts now uses it...
        let e = a.receive(None).await.unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        // ...the one under way keeps the deadline it started with (none).
        assert!(poll_once(&mut first).await.is_pending());
        b.send("late").await.unwrap();
        let got = first.await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"late"[..]));

        a.set_send_timeout(Some(Duration::from_secs(3)));
        assert_eq!(a.send_timeout(), Some(Duration::from_secs(3)));
    })
    .await;
}

#[tokio::test]
async fn a_read_half_changes_the_timeout_of_its_socket() {
    within(async {
        let (a, _b) = tcp_pair().await;
        let (mut r, w) = a.into_split();
        r.as_ref()
            .set_receive_timeout(Some(Duration::from_millis(30)));
        assert_eq!(
            w.as_ref().receive_timeout(),
            Some(Duration::from_millis(30))
        );
        let mut buf = [0u8; 8];
        let e = r.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
    })
    .await;
}
