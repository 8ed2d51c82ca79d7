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

/// The error of a connect refused on loopback (`ECONNREFUSED`), from a
/// fresh socket that the failure closed.
pub async fn refused_connect() -> blade_socket::SocketError {
    let mut s = Socket::tcp().expect("socket");
    s.connect(Some("127.0.0.1"), closed_port(), None)
        .await
        .expect_err("a connect to a closed port is refused")
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

// ------------------------------------------------- shared assertions and data

/// Blade's text for an operation on a closed socket (and other illegal states).
pub const ILLEGAL: &str = "socket is in an illegal state";

/// Asserts that `r` failed with `IllegalState` `socket is in an illegal state`.
#[track_caller]
pub fn assert_illegal<T: std::fmt::Debug>(r: blade_socket::Result<T>, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected `{ILLEGAL}`, got Ok({v:?})"),
        Err(e) => assert_illegal_error(&e, what),
    }
}

/// Asserts that `e` is `IllegalState` `socket is in an illegal state`.
#[track_caller]
pub fn assert_illegal_error(e: &blade_socket::SocketError, what: &str) {
    assert_eq!(
        e.kind(),
        blade_socket::ErrorKind::IllegalState,
        "{what}: {e:?}"
    );
    assert!(e.message().starts_with(ILLEGAL), "{what}: {e:?}");
}

/// `len` bytes of a fixed, non-repeating-looking pattern (so that a byte
/// out of place shows).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 253) as u8).collect()
}

/// The `socket:[inode]` (or other target) descriptor `fd` refers to, if open.
pub fn fd_target(fd: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Polls `f` once; `Poll::Pending` means it is now parked on the reactor.
pub async fn poll_once<F: Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *f).poll(cx))).await
}

/// A multi-thread runtime with 2 workers, for tests that build their own.
pub fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Restores `SIGPIPE`'s default disposition (Rust's runtime ignores it), so
/// that any write raising it kills this test process.
#[allow(unsafe_code)]
pub fn default_sigpipe() {
    // SAFETY: installing SIG_DFL involves no handler and no memory; nothing
    // in these test processes relies on SIGPIPE being ignored.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR);
}
