//! Helpers shared by the integration tests: time bounds, loopback servers and
//! connected pairs. Every helper binds port 0 on loopback.
#![allow(dead_code, unreachable_pub)]

pub mod face;

use std::{future::Future, sync::mpsc, thread, time::Duration};

use blade_socket::Socket;

/// The bound on any single test step.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Awaits `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test step exceeded its time bound")
}

/// Runs blocking `f` on a thread, failing the test if it takes longer than [`LIMIT`].
pub fn within_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(LIMIT)
        .expect("blocking test step exceeded its time bound (or panicked)")
}

/// A listening TCP socket on 127.0.0.1 with an ephemeral port.
pub async fn listener() -> Socket {
    let mut s = Socket::tcp().expect("socket");
    s.bind(0, None).await.expect("bind");
    s.listen(None).expect("listen");
    s
}

/// A connected TCP pair over 127.0.0.1: (client, accepted server side).
pub async fn tcp_pair() -> (Socket, Socket) {
    let l = listener().await;
    let mut c = Socket::tcp().expect("socket");
    c.connect(None, l.port(), None).await.expect("connect");
    let s = l.accept().await.expect("accept");
    (c, s)
}

/// A listener whose backlog is full (`listen(0)` plus one connected client
/// that is never accepted): a further connect's SYN is dropped, so that
/// connect hangs until its timeout. Keep all three alive for the test.
pub async fn full_backlog() -> (Socket, Socket) {
    let mut l = Socket::tcp().expect("socket");
    l.bind(0, None).await.expect("bind");
    l.listen(Some(0)).expect("listen");
    let mut filler = Socket::tcp().expect("socket");
    filler
        .connect(None, l.port(), None)
        .await
        .expect("filler connect");
    (l, filler)
}

/// A std echo server thread on 127.0.0.1 that echoes each connection until
/// EOF; returns its port. The thread ends when the test process does.
pub fn std_echo_server() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { return };
            thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

/// A loopback port with nothing listening on it: bound, then released.
/// (A connect to it is refused.)
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Compile-time check that `T` is `Send + Sync`.
pub fn assert_send_sync<T: Send + Sync>() {}

/// Compile-time check that a future is `Send`.
pub fn assert_send<T: Send>(_: &T) {}

/// Receives until `n` bytes have arrived (or EOF), for tests that must not
/// depend on how the stream was split.
pub async fn receive_exact(s: &Socket, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match s.receive(Some(n - out.len())).await.expect("receive") {
            Some(b) => out.extend_from_slice(&b),
            None => break,
        }
    }
    out
}

/// Number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

// ---------------------------------------------------------- blocking face

use blade_socket::blocking;

/// A listening blocking TCP socket on 127.0.0.1 with an ephemeral port.
pub fn blocking_listener() -> blocking::Socket {
    let mut l = blocking::Socket::tcp().expect("socket");
    l.bind(0, None).expect("bind");
    l.listen(None).expect("listen");
    l
}

/// A connected blocking TCP pair over 127.0.0.1: (client, accepted side).
pub fn blocking_pair() -> (blocking::Socket, blocking::Socket) {
    let l = blocking_listener();
    let mut c = blocking::Socket::tcp().expect("socket");
    c.connect(None, l.port(), None).expect("connect");
    let s = l.accept().expect("accept");
    (c, s)
}

/// [`full_backlog`] for the blocking face.
pub fn blocking_full_backlog() -> (blocking::Socket, blocking::Socket) {
    let mut l = blocking::Socket::tcp().expect("socket");
    l.bind(0, None).expect("bind");
    l.listen(Some(0)).expect("listen");
    let mut filler = blocking::Socket::tcp().expect("socket");
    filler
        .connect(None, l.port(), None)
        .expect("filler connect");
    (l, filler)
}

/// [`receive_exact`] for the blocking face.
pub fn blocking_receive_exact(s: &blocking::Socket, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match s.receive(Some(n - out.len())).expect("receive") {
            Some(b) => out.extend_from_slice(&b),
            None => break,
        }
    }
    out
}
