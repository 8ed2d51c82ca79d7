mod support;
use support::*;

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream, UdpSocket},
    os::fd::{AsRawFd, OwnedFd},
    path::Path,
};

use blade_socket::{
    AF_INET, AF_INET6, ErrorKind, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM, Socket,
    blocking,
};

#[tokio::test]
async fn std_listener_is_listening_with_its_port() {
    within(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let s = Socket::from_fd(OwnedFd::from(l)).unwrap();
        assert!(s.is_listening());
        assert!(s.is_bound(), "a listener stays bound");
        assert!(!s.is_connected() && !s.is_client() && !s.is_closed());
        assert_eq!(s.port(), port);
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.family(), AF_INET);
        assert_eq!(s.socket_type(), SOCK_STREAM);
        assert_eq!(s.protocol(), IPPROTO_TCP);
        assert!(s.is_blocking());
        assert!(s.id() >= 0);

        // it really accepts, asynchronously
        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        let a = s.accept().await.unwrap();
        assert!(a.is_connected());
        c.send(b"adopted").await.unwrap();
        assert_eq!(&receive_exact(&a, 7).await[..], b"adopted");
    })
    .await;
}

#[tokio::test]
async fn std_ipv6_listener() {
    within(async {
        let l = TcpListener::bind("[::1]:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let s = Socket::from_fd(OwnedFd::from(l)).unwrap();
        assert!(s.is_listening());
        assert_eq!(s.family(), AF_INET6);
        assert_eq!(s.port(), port);
        assert_eq!(s.host(), "::1");
    })
    .await;
}

#[tokio::test]
async fn std_connected_stream_is_connected_to_its_peer() {
    within(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut server_side, _) = l.accept().unwrap();
        let local_port = client.local_addr().unwrap().port();

        let s = Socket::from_fd(OwnedFd::from(client)).unwrap();
        assert!(s.is_connected());
        assert!(s.is_client());
        assert!(!s.is_listening() && !s.is_bound() && !s.is_closed());
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.port(), port);
        assert_eq!(s.socket_type(), SOCK_STREAM);
        assert_eq!(s.protocol(), IPPROTO_TCP);
        assert_eq!(s.family(), AF_INET);
        assert_eq!(s.info().unwrap().port, local_port);
        assert_eq!(s.peer_info().unwrap().port, port);

        // works for async I/O in both directions
        assert_eq!(s.send(b"to std").await.unwrap(), 6);
        let mut buf = [0u8; 6];
        server_side.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"to std");
        server_side.write_all(b"from std").unwrap();
        assert_eq!(&receive_exact(&s, 8).await[..], b"from std");
        drop(server_side);
        assert_eq!(s.receive(None).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn accepted_std_stream_reports_the_peer() {
    within(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let client_port = client.local_addr().unwrap().port();
        let (accepted, _) = l.accept().unwrap();
        let s = Socket::from_fd(OwnedFd::from(accepted)).unwrap();
        assert!(s.is_connected());
        assert_eq!(s.port(), client_port);
        assert_eq!(s.host(), "127.0.0.1");
    })
    .await;
}

#[tokio::test]
async fn bound_only_socket2_is_bound() {
    within(async {
        let raw = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        raw.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        let port = raw.local_addr().unwrap().as_socket().unwrap().port();
        let mut s = Socket::from_fd(OwnedFd::from(raw)).unwrap();
        assert!(s.is_bound());
        assert!(!s.is_listening() && !s.is_connected() && !s.is_client());
        assert_eq!(s.port(), port);
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.protocol(), IPPROTO_TCP);

        // and can go on to listen
        s.listen(None).unwrap();
        assert!(s.is_listening());
        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        let _a = s.accept().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn fresh_socket2_is_not_bound() {
    within(async {
        let raw = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let mut s = Socket::from_fd(OwnedFd::from(raw)).unwrap();
        assert!(!s.is_bound() && !s.is_listening() && !s.is_connected() && !s.is_client());
        assert!(!s.is_closed());
        assert_eq!(s.port(), 0);
        assert_eq!(s.family(), AF_INET);
        assert_eq!(s.socket_type(), SOCK_STREAM);
        // usable as a fresh socket: connect
        let l = listener().await;
        s.connect(None, l.port(), None).await.unwrap();
        assert!(s.is_connected());
    })
    .await;
}

#[tokio::test]
async fn udp_socket_is_sock_dgram() {
    within(async {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        let s = Socket::from_fd(OwnedFd::from(u)).unwrap();
        assert_eq!(s.socket_type(), SOCK_DGRAM);
        assert_eq!(s.protocol(), IPPROTO_UDP);
        assert_eq!(s.family(), AF_INET);
        assert!(s.is_bound());
        assert_eq!(s.port(), port);

        // works for datagrams
        let tx = Socket::udp().unwrap();
        tx.send_to("127.0.0.1", port, b"dgram").await.unwrap();
        let d = s.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"dgram");
    })
    .await;
}

#[tokio::test]
async fn connected_std_udp_socket_is_connected() {
    within(async {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer_port = peer.local_addr().unwrap().port();
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.connect(("127.0.0.1", peer_port)).unwrap();
        let s = Socket::from_fd(OwnedFd::from(u)).unwrap();
        assert_eq!(s.socket_type(), SOCK_DGRAM);
        assert!(s.is_connected());
        assert_eq!(s.port(), peer_port);
        s.send(b"hi").await.unwrap();
        let mut buf = [0u8; 8];
        let n = peer.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi");
    })
    .await;
}

fn fd_open_on(path: &Path) -> bool {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|p| p == path))
}

#[test]
fn non_socket_fd_is_an_error_and_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-socket");
    std::fs::write(&path, b"data").unwrap();
    let path = path.canonicalize().unwrap();
    let file = std::fs::File::open(&path).unwrap();
    assert!(file.as_raw_fd() >= 0);
    assert!(fd_open_on(&path));
    let err = Socket::from_fd(OwnedFd::from(file)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Os, "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::ENOTSOCK));
    assert_eq!(err.message(), err.to_string());
    assert!(!fd_open_on(&path), "the non-socket fd was leaked");
}

#[test]
fn dev_null_is_an_error_and_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other-file");
    std::fs::write(&path, b"").unwrap();
    let path = path.canonicalize().unwrap();
    // /dev/null for the error, a unique file for the leak check (blocking facade)
    let null = std::fs::File::open("/dev/null").unwrap();
    let err = Socket::from_fd(OwnedFd::from(null)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTSOCK));
    let file = std::fs::File::open(&path).unwrap();
    let err = blocking::Socket::from_fd(OwnedFd::from(file)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTSOCK));
    assert!(
        !fd_open_on(&path),
        "the non-socket fd was leaked (blocking)"
    );
}

#[test]
fn from_fd_works_without_a_runtime() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = Socket::from_fd(OwnedFd::from(l)).unwrap();
    assert!(s.is_listening());
    assert_eq!(s.port(), port);
}

#[test]
fn blocking_from_fd_works_for_io() {
    within_blocking(|| {
        let port = std_echo_server();
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let s = blocking::Socket::from_fd(OwnedFd::from(stream)).unwrap();
        assert!(s.is_connected());
        assert_eq!(s.port(), port);
        assert_eq!(s.send(b"echo me").unwrap(), 7);
        let mut got = Vec::new();
        while got.len() < 7 {
            got.extend_from_slice(&s.receive(Some(7 - got.len())).unwrap().expect("data"));
        }
        assert_eq!(&got[..], b"echo me");

        // an adopted listener, blocking
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let lport = l.local_addr().unwrap().port();
        let bl = blocking::Socket::from_fd(OwnedFd::from(l)).unwrap();
        assert!(bl.is_listening());
        let mut c = blocking::Socket::tcp().unwrap();
        c.connect(None, lport, None).unwrap();
        let a = bl.accept().unwrap();
        c.send(b"x").unwrap();
        assert_eq!(a.receive(Some(1)).unwrap().as_deref(), Some(&b"x"[..]));
    });
}

#[tokio::test]
async fn adopted_socket_is_closed_on_drop() {
    within(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut s = Socket::from_fd(OwnedFd::from(l)).unwrap();
        s.close().unwrap();
        assert!(s.is_closed());
        assert_eq!(s.id(), -1);
        // the port is free again: a connect is refused
        let mut c = Socket::tcp().unwrap();
        let err = c.connect(None, port, None).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    })
    .await;
}
