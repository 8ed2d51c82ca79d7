//! Runtime context (API.md §3 "Runtime context"): constructors, properties
//! and non-async methods need no runtime; async methods awaited outside one
//! fail with `IllegalState` `no tokio runtime`, never a panic.
mod support;
use support::*;

use std::{
    future::Future,
    os::fd::OwnedFd,
    pin::pin,
    task::{Context, Poll, Waker},
    time::Duration,
};

use blade_socket::{
    AF_INET, ErrorKind, IPPROTO_TCP, IPPROTO_UDP, OptionValue, SHUT_RDWR, SO_RCVBUF, SO_RCVTIMEO,
    SO_REUSEADDR, SO_TYPE, SOCK_DGRAM, SOCK_STREAM, Socket, SocketError,
};

/// Polls `f` with a no-op waker until it is ready (bounded): a minimal
/// executor that provides no tokio runtime.
fn drive<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
    panic!("future outside a runtime stayed pending instead of failing");
}

fn assert_no_runtime<T: std::fmt::Debug>(what: &str, r: Result<T, SocketError>) {
    let err = r.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::IllegalState, "{what}: {err:?}");
    assert!(
        err.message().contains("no tokio runtime"),
        "{what}: message {:?}",
        err.message()
    );
}

/// A connected std pair over loopback (no runtime needed).
fn std_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

#[test]
fn sync_api_works_on_a_plain_thread_without_a_runtime() {
    within_blocking(|| {
        assert!(tokio::runtime::Handle::try_current().is_err());

        let mut s = Socket::tcp().unwrap();
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.port(), 0);
        assert_eq!(s.family(), AF_INET);
        assert_eq!(s.socket_type(), SOCK_STREAM);
        assert_eq!(s.protocol(), IPPROTO_TCP);
        assert!(s.id() >= 0);
        assert!(!s.is_client() && !s.is_bound() && !s.is_connected());
        assert!(!s.is_listening() && !s.is_closed() && !s.is_shutdown());
        assert!(s.is_blocking());
        assert_eq!(s.shutdown_reason(), None);
        assert_eq!(s.send_timeout(), None);
        assert_eq!(s.receive_timeout(), None);
        assert!(!format!("{s:?}").is_empty());

        s.set_option(SO_REUSEADDR, true).unwrap();
        assert_eq!(s.get_option(SO_REUSEADDR).unwrap(), OptionValue::Bool(true));
        assert_eq!(
            s.get_option(SO_TYPE).unwrap(),
            OptionValue::Int(i64::from(SOCK_STREAM.raw()))
        );
        assert!(matches!(s.get_option(SO_RCVBUF).unwrap(), OptionValue::Int(n) if n > 0));
        s.set_option(SO_RCVTIMEO, Duration::from_millis(250))
            .unwrap();
        assert_eq!(s.receive_timeout(), Some(Duration::from_millis(250)));
        s.set_send_timeout(Some(Duration::from_secs(1)));
        assert_eq!(s.send_timeout(), Some(Duration::from_secs(1)));
        s.set_receive_timeout(None);
        assert_eq!(s.receive_timeout(), None);
        s.set_blocking(false).unwrap();
        assert!(!s.is_blocking());
        s.set_blocking(true).unwrap();
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
        assert!(s.info().is_ok());
        // listen on an unbound socket: the documented state error, no panic.
        let err = s.listen(None).unwrap_err();
        assert!(
            err.message().starts_with("socket is in an illegal state"),
            "{}",
            err.message()
        );
        // shutdown of an unconnected socket: ENOTCONN, nothing changes.
        let err = s.shutdown(SHUT_RDWR).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Os);
        assert_eq!(err.raw_os_error(), Some(libc_enotconn()));
        assert!(!s.is_shutdown());
        s.close().unwrap();
        assert!(s.is_closed());
        assert_eq!(s.id(), -1);
        s.close().unwrap();

        let u = Socket::udp().unwrap();
        assert_eq!(u.socket_type(), SOCK_DGRAM);
        assert_eq!(u.protocol(), IPPROTO_UDP);
        assert!(Socket::new(AF_INET, SOCK_DGRAM, IPPROTO_TCP).is_err());

        // from_fd of a std listener and of a connected stream.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let ls = Socket::from_fd(OwnedFd::from(l)).unwrap();
        assert!(ls.is_listening() && !ls.is_closed());
        assert_eq!(ls.port(), port);
        assert_eq!(ls.info().unwrap().port, port);
        ls.set_receive_timeout(Some(Duration::from_millis(10)));

        let (c, srv) = std_pair();
        let cs = Socket::from_fd(OwnedFd::from(c)).unwrap();
        assert!(cs.is_connected());
        assert_eq!(
            cs.peer_info().unwrap().port,
            srv.local_addr().unwrap().port()
        );
    });
}

/// `ENOTCONN` on Linux.
fn libc_enotconn() -> i32 {
    107
}

#[test]
fn async_methods_outside_a_runtime_fail_with_no_tokio_runtime() {
    within_blocking(|| {
        assert!(tokio::runtime::Handle::try_current().is_err());

        // connect (to a listener that would accept it)
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut s = Socket::tcp().unwrap();
        assert_no_runtime("connect", drive(s.connect(None, port, None)));
        let mut s = Socket::tcp().unwrap();
        assert_no_runtime(
            "connect with a host",
            drive(s.connect(Some("127.0.0.1"), port, Some(Duration::from_secs(1)))),
        );

        // bind
        let mut s = Socket::tcp().unwrap();
        assert_no_runtime("bind", drive(s.bind(0, None)));
        let mut s = Socket::tcp().unwrap();
        assert_no_runtime("bind to a literal", drive(s.bind(0, Some("127.0.0.1"))));

        // accept, on a listener with a connection pending and with none
        let ls = Socket::from_fd(OwnedFd::from(l)).unwrap();
        assert_no_runtime("accept (none pending)", drive(ls.accept()));
        let _pending = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert_no_runtime("accept (one pending)", drive(ls.accept()));

        // send / receive / send_to / receive_from / send_file on a connected socket
        let (c, mut srv) = std_pair();
        let cs = Socket::from_fd(OwnedFd::from(c)).unwrap();
        assert_no_runtime("receive (nothing queued)", drive(cs.receive(None)));
        std::io::Write::write_all(&mut srv, b"queued").unwrap();
        assert_no_runtime("receive (data queued)", drive(cs.receive(Some(6))));
        assert_no_runtime("receive_from", drive(cs.receive_from(None)));
        assert_no_runtime("send", drive(cs.send("x")));
        assert_no_runtime("send_to", drive(cs.send_to("127.0.0.1", port, "x")));
        let file = tempfile::tempfile().unwrap();
        assert_no_runtime("send_file", drive(cs.send_file(&file)));

        // UDP (receive_from needs a local address, which a bound std socket has)
        let u = Socket::from_fd(OwnedFd::from(
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
        ))
        .unwrap();
        assert_no_runtime("udp send_to", drive(u.send_to("127.0.0.1", port, "x")));
        assert_no_runtime("udp receive_from", drive(u.receive_from(None)));

        // get_address_info
        assert_no_runtime(
            "get_address_info literal",
            drive(blade_socket::get_address_info("127.0.0.1", None, None)),
        );
        assert_no_runtime(
            "get_address_info localhost",
            drive(blade_socket::get_address_info(
                "localhost",
                Some("80"),
                None,
            )),
        );

        // Nothing was lost: the socket still works inside a runtime.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(receive_exact(&cs, 6).await, b"queued");
            assert_eq!(cs.send("ok").await.unwrap(), 2);
        });
        let mut buf = [0u8; 2];
        std::io::Read::read_exact(&mut srv, &mut buf).unwrap();
        assert_eq!(&buf, b"ok");
    });
}

#[test]
fn async_method_polled_once_with_a_noop_waker_is_ready_with_an_error() {
    // Polled exactly once: no runtime means an immediate error, not Pending.
    within_blocking(|| {
        let (c, _srv) = std_pair();
        let cs = Socket::from_fd(OwnedFd::from(c)).unwrap();
        let mut f = pin!(cs.receive(None));
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => assert_no_runtime("receive polled once", r),
            Poll::Pending => panic!("receive outside a runtime returned Pending"),
        }
        let mut s = Socket::tcp().unwrap();
        let mut f = pin!(s.bind(0, None));
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => assert_no_runtime("bind polled once", r),
            Poll::Pending => panic!("bind outside a runtime returned Pending"),
        }
    });
}

#[tokio::test]
async fn sockets_created_on_a_plain_thread_work_inside_a_runtime() {
    within(async {
        let (mut l, mut c, u1, mut u2) = std::thread::spawn(|| {
            (
                Socket::tcp().unwrap(),
                Socket::tcp().unwrap(),
                Socket::udp().unwrap(),
                Socket::udp().unwrap(),
            )
        })
        .join()
        .unwrap();
        l.bind(0, None).await.unwrap();
        l.listen(None).unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let s = l.accept().await.unwrap();
        // A receive that has to wait, then data.
        let (got, sent) = tokio::join!(receive_exact(&s, 5), async {
            tokio::task::yield_now().await;
            c.send("hello").await
        });
        assert_eq!(sent.unwrap(), 5);
        assert_eq!(got, b"hello");

        u2.bind(0, None).await.unwrap();
        u1.send_to("127.0.0.1", u2.port(), "dg").await.unwrap();
        assert_eq!(&u2.receive_from(None).await.unwrap().data[..], b"dg");

        let info = blade_socket::get_address_info("127.0.0.1", None, None)
            .await
            .unwrap();
        assert_eq!(info.ip, std::net::IpAddr::from([127, 0, 0, 1]));
    })
    .await;
}
