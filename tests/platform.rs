//! What every supported system (and the portable build, `--cfg
//! blade_socket_portable`) must give alike: descriptors the crate makes are
//! non-blocking (so an async wait never blocks a runtime worker) and
//! close-on-exec (so a child process never inherits a connection), however
//! they were made; `from_fd` reads a socket's kind back from the OS.
#![cfg(target_os = "linux")]
mod support;
use support::*;

use std::os::fd::{AsRawFd, OwnedFd};

use blade_socket::{
    AF_INET, AF_INET6, AF_UNIX, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM, Socket,
};

/// (`O_NONBLOCK` set, close-on-exec set) for `fd`, from Linux's
/// `/proc/self/fdinfo` (its `flags:` line is the open flags in octal, with
/// `O_CLOEXEC` standing for `FD_CLOEXEC`).
fn modes(fd: i32) -> (bool, bool) {
    assert!(fd >= 0, "an open descriptor");
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| i32::from_str_radix(v.trim(), 8).ok())
        .unwrap_or_else(|| panic!("no flags in {info:?}"));
    (flags & libc::O_NONBLOCK != 0, flags & libc::O_CLOEXEC != 0)
}

#[tokio::test]
async fn new_sockets_pairs_and_accepted_connections_are_non_blocking_and_close_on_exec() {
    within(async {
        for s in [
            Socket::tcp().unwrap(),
            Socket::tcp6().unwrap(),
            Socket::udp().unwrap(),
            Socket::unix().unwrap(),
            Socket::unix_datagram().unwrap(),
        ] {
            assert_eq!(modes(s.as_raw_fd()), (true, true), "{:?}", s.family());
        }
        for ty in [SOCK_STREAM, SOCK_DGRAM] {
            let (a, b) = Socket::pair_of(ty).unwrap();
            assert_eq!(modes(a.as_raw_fd()), (true, true), "pair {ty:?}");
            assert_eq!(modes(b.as_raw_fd()), (true, true), "pair {ty:?}");
        }
        let l = listener().await;
        let mut c = Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let s = l.accept().await.unwrap();
        assert_eq!(modes(s.as_raw_fd()), (true, true), "accepted");
        // Non-blocking in practice too: a receive with nothing queued waits
        // for the reactor, and gets what the peer then sends.
        let (got, sent) = tokio::join!(receive_exact(&s, 5), c.send("hello"));
        assert_eq!((got.as_slice(), sent.unwrap()), (&b"hello"[..], 5));
    })
    .await;
}

#[test]
fn blocking_accepted_connections_are_close_on_exec() {
    within_blocking(|| {
        let (c, s) = blocking_pair();
        assert!(modes(s.as_raw_fd()).1, "accepted");
        assert!(modes(c.as_raw_fd()).1, "client");
        c.send("x").unwrap();
        assert_eq!(blocking_receive_exact(&s, 1), b"x");
    });
}

#[tokio::test]
async fn from_fd_reads_family_type_protocol_and_state_back() {
    within(async {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = Socket::from_fd(OwnedFd::from(tcp)).unwrap();
        assert_eq!((s.family(), s.socket_type()), (AF_INET, SOCK_STREAM));
        assert_eq!(s.protocol(), IPPROTO_TCP);
        assert!(s.is_listening());
        assert_eq!(modes(s.as_raw_fd()), (true, true));

        let udp = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let s = Socket::from_fd(OwnedFd::from(udp)).unwrap();
        assert_eq!((s.family(), s.socket_type()), (AF_INET6, SOCK_DGRAM));
        assert_eq!(s.protocol(), IPPROTO_UDP);
        assert!(s.is_bound() && !s.is_listening());

        // An unbound, unnamed Unix-domain socket still tells its family.
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let s = Socket::from_fd(OwnedFd::from(a)).unwrap();
        assert_eq!((s.family(), s.socket_type()), (AF_UNIX, SOCK_STREAM));
        assert!(s.is_connected());
    })
    .await;
}
