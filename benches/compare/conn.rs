//! Listeners and connected clients of each kind, set up the same way by
//! every pair: `TCP_NODELAY` on, and no timeouts: the defaults of std's,
//! tokio's and ours (with a timeout ours waits in `poll(2)` rather than in
//! the `recv`, one more syscall per wait). Async runs are bounded by
//! `harness::within`, the whole bench by the watchdog in `main`.

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener as StdListener, TcpStream as StdStream},
    sync::atomic::{AtomicU32, Ordering},
};

use blade_socket::{Socket, blocking};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::harness::STALL;

/// Where a run's server listens.
pub type Addr = SocketAddrV4;

/// A loopback address (all of 127.0.0.0/8 reaches `lo`) that this process
/// has not used before, and that a benchmark run started just before most
/// likely did not use either.
///
/// Every run listens on a fresh one, so its connections never share a
/// 4-tuple with a socket still in `TIME_WAIT` from an earlier run: with
/// 28,000 ephemeral ports, hundreds of thousands of connections reuse ports
/// within `TIME_WAIT`'s 60 s, and a SYN that meets an old `TIME_WAIT` socket
/// may be answered with an ACK instead of a SYN-ACK, to be retried a second
/// later. That second would land on whichever variant was unlucky.
pub fn fresh_loopback() -> Ipv4Addr {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    // The second octet tells benchmark processes apart; the last two count
    // runs (1..=250 in the last, skipping .0 and .255).
    let process = (std::process::id() % 250 + 2) as u8;
    Ipv4Addr::new(127, process, (run / 250 % 256) as u8, (run % 250 + 1) as u8)
}

fn v4(addr: SocketAddr) -> Addr {
    match addr {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => panic!("an IPv6 listener address {a}"),
    }
}

/// The listen backlog of every server: `SOMAXCONN`, the most Linux grants
/// here. `bind` in tokio and std asks for 128, and a client that runs ahead
/// of its acceptor (likely when pinned to one CPU) overflows that: the
/// handshake's last ACK is dropped and the connection waits a second for
/// the server's retry.
const BACKLOG: u32 = 4096;

/// A raw tokio listener on a fresh loopback address; call it inside the
/// runtime (the listener registers with its reactor).
pub fn tokio_listener() -> (TcpListener, Addr) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((fresh_loopback(), 0)))
        .expect("bind");
    let listener = socket.listen(BACKLOG).expect("listen");
    let addr = v4(listener.local_addr().expect("local_addr"));
    (listener, addr)
}

/// A std listener on a fresh loopback address (made with socket2, which
/// std's `bind` is, but for the backlog).
pub fn std_listener() -> (StdListener, Addr) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from((fresh_loopback(), 0)).into())
        .expect("bind");
    socket.listen(BACKLOG as i32).expect("listen");
    let listener = StdListener::from(socket);
    let addr = v4(listener.local_addr().expect("local_addr"));
    (listener, addr)
}

/// Connects ours as a user would: host text and port.
pub async fn ours_connect(s: &mut Socket, addr: Addr) {
    let host = addr.ip().to_string();
    s.connect(Some(&host), addr.port(), Some(STALL))
        .await
        .expect("connect");
}

/// [`ours_connect`] for the blocking facade.
pub fn ours_blocking_connect(s: &mut blocking::Socket, addr: Addr) {
    let host = addr.ip().to_string();
    s.connect(Some(&host), addr.port(), Some(STALL))
        .expect("connect");
}

pub async fn ours_async_connected(addr: Addr) -> Socket {
    let mut s = Socket::tcp().expect("socket");
    ours_connect(&mut s, addr).await;
    s.set_nodelay(true).expect("nodelay");
    s
}

pub async fn tokio_connected(addr: Addr) -> TcpStream {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

pub fn ours_blocking_connected(addr: Addr) -> blocking::Socket {
    let mut s = blocking::Socket::tcp().expect("socket");
    ours_blocking_connect(&mut s, addr);
    s.set_nodelay(true).expect("nodelay");
    s
}

pub fn std_connected(addr: Addr) -> StdStream {
    let s = StdStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}
