//! # blade-socket
//!
//! The `socket` module of the Blade language's standard library, for Rust: an
//! async [`Socket`] on tokio's reactor, and a [`blocking`] facade that drives
//! the same core from synchronous code.
//!
//! ```
//! use blade_socket::Socket;
//!
//! # #[tokio::main] async fn main() -> blade_socket::Result<()> {
//! let mut server = Socket::tcp()?;
//! server.bind(0, None).await?;          // 127.0.0.1, an ephemeral port
//! server.listen(None)?;
//!
//! let mut client = Socket::tcp()?;
//! client.connect(None, server.port(), None).await?;
//! let conn = server.accept().await?;
//! client.send("hello").await?;
//! assert_eq!(conn.receive(None).await?.as_deref(), Some(&b"hello"[..]));
//! # Ok(()) }
//! ```
//!
//! ## Two faces, one core
//! [`Socket`]'s I/O methods are `async` and are awaited inside a tokio runtime
//! with IO and time enabled. [`blocking::Socket`] has the same methods as plain
//! functions; each runs the async method to completion, waiting on the calling
//! thread, so it works from plain threads, `spawn_blocking`, and tasks on a
//! multi-thread runtime, and never deadlocks on its own.
//!
//! ## The one trap: blocking calls on a current-thread runtime
//! A [`blocking`] call made on the thread of a current-thread runtime stalls
//! every other task of that runtime until it returns. That is the default of
//! `#[tokio::test]` and of `#[tokio::main(flavor = "current_thread")]`. If
//! the peer the call waits for is one of those tasks (a server task and a
//! blocking client in one `#[tokio::test]`), it waits forever, or until its
//! timeout. The crate cannot prevent this; the fix is one of:
//! - a multi-thread runtime: `#[tokio::test(flavor = "multi_thread")]`,
//!   `#[tokio::main]` (multi-thread by default);
//! - or the blocking call in `tokio::task::spawn_blocking`, or on a thread
//!   of its own;
//! - or the async [`Socket`] in async code.
//!
//! The first time a facade call waits on such a thread, the crate emits one
//! `tracing` warning (once per process) that says so, on stderr when no
//! `tracing` subscriber is installed; a timeout after such a wait says so in
//! its message.
//!
//! ```
//! # fn main() -> blade_socket::Result<()> {
//! # let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! # rt.block_on(async {
//! // In a #[tokio::test(flavor = "multi_thread")] (or any async code):
//! let mut server = blade_socket::Socket::tcp()?;
//! server.bind(0, None).await?;
//! server.listen(None)?;
//! let port = server.port();
//! let client = tokio::task::spawn_blocking(move || {
//!     let mut c = blade_socket::blocking::Socket::tcp()?;
//!     c.connect(None, port, None)?;
//!     c.receive(None)                      // waits for the server task
//! });
//! let conn = server.accept().await?;
//! conn.send("hi").await?;
//! assert_eq!(client.await.expect("task")?.as_deref(), Some(&b"hi"[..]));
//! # Ok(()) })
//! # }
//! ```
//!
//! ## State
//! A socket is in one of: new, bound, listening, connected, closed; the
//! `is_*` properties derive from it. Shutting a direction (`shutdown`) is
//! recorded beside it. Closing is idempotent; after it, every operation but
//! `close`, the properties and `Debug` fails with `socket is in an illegal
//! state`. A failed `connect`, or a peer that vanished during `send` or
//! `receive`, closes the socket, as in Blade.
//!
//! ## Timeouts
//! Timeouts are deadlines kept by the library, never `SO_RCVTIMEO` on the
//! descriptor. `connect` takes its own timeout, where `None` means Blade's
//! 300 s. Every other call uses the socket's: `accept`, `receive` and
//! `receive_from` wait up to [`Socket::receive_timeout`]; `send`, `send_to`
//! and `send_file` use [`Socket::send_timeout`] as one deadline for the whole
//! call; there `None` means no limit. `Duration::ZERO` means no limit
//! everywhere. A timeout fails with [`ErrorKind::TimedOut`] and leaves the
//! socket usable (a `connect` that times out closes it, as any failed `connect`).
//!
//! ## Test harnesses and paused clocks
//! The async face's timeouts follow tokio's clock. Under
//! `tokio::time::pause()` (`#[tokio::test(start_paused = true)]`) they fire
//! as soon as the runtime is idle: a 30 s receive timeout returns `TimedOut`
//! in microseconds, which makes timeout tests instant. The flip side: a peer
//! outside the runtime (a std thread, another process, a blocking client)
//! looks late to a paused clock, so such tests see spurious timeouts; keep
//! the clock running there, or set no timeout. The [`blocking`] facade waits
//! in real time (`poll(2)`), paused clock or not.
//!
//! ## Codecs and timeouts
//! `AsyncRead`/`AsyncWrite` honour the receive and send timeouts: a read that
//! waits longer than the receive timeout fails with `TimedOut`. A
//! `tokio_util::codec::Framed` stream yields that error as one item and then
//! ends for good, even though the socket is still usable. With a codec,
//! either set no receive timeout and bound each `next()` with
//! `tokio::time::timeout`, which leaves the stream usable:
//!
//! ```
//! # #[tokio::main] async fn main() -> blade_socket::Result<()> {
//! use std::time::Duration;
//! use futures::StreamExt;
//! use tokio_util::codec::{FramedRead, LinesCodec};
//!
//! let (a, b) = blade_socket::Socket::pair()?;    // no receive timeout on `a`
//! let mut lines = FramedRead::new(&a, LinesCodec::new());
//! // Idle: the wait is cut off, and the stream is still there.
//! assert!(tokio::time::timeout(Duration::from_millis(20), lines.next()).await.is_err());
//! b.send("hello\n").await?;
//! let line = tokio::time::timeout(Duration::from_secs(5), lines.next()).await;
//! assert_eq!(line.expect("in time").expect("a line").expect("valid"), "hello");
//! # Ok(()) }
//! ```
//!
//! or, with a receive timeout on a framed socket, treat the `TimedOut` item
//! as the end of that `Framed` (make a new one to go on).
//!
//! ## Cancel safety
//! `accept`, `receive` and `receive_from` are cancel safe: dropping their
//! future (say, in `tokio::select!` or `tokio::time::timeout`) loses no
//! connection and no byte. `send` of a message larger than the socket's
//! buffer, `send_file` and `connect` are not.
//!
//! ## Runtime context
//! Constructors, properties and non-async methods (`bind_addr` included)
//! work on any thread. The async methods awaited outside any tokio runtime
//! fail with [`ErrorKind::IllegalState`] (`no tokio runtime`). Inside a
//! runtime built without IO or time, tokio itself panics when the socket
//! first waits; tokio offers no way to ask a handle whether those drivers are on.
//!
//! The facade's connected stream sockets keep their descriptor in blocking
//! mode, so a wait with no timeout is the `recv`/`send` itself: one syscall
//! per operation, as with `std::net`. With a timeout, or on the async face,
//! the descriptor is non-blocking and waits go through `poll(2)` or the reactor.
//!
//! ## Sharing a socket between tasks
//! I/O and [`shutdown`](Socket::shutdown) take `&self`, so tasks can share an
//! `Arc<Socket>`: one receives while another sends and half-closes.
//! `AsyncRead`/`AsyncWrite` are implemented for `&Socket` too (as std has
//! `Read for &TcpStream`), so `FramedRead::new(&*arc, codec)` works; or
//! [`Socket::into_split`] gives an [`OwnedReadHalf`] and an [`OwnedWriteHalf`]
//! for two tasks, as tokio's `TcpStream::into_split`.
//!
//! ## Closing
//! [`Socket::close`] takes `&mut self`. To end a socket that other tasks are
//! waiting on, [`Socket::close_shared`] works through `&self` (an
//! `Arc<Socket>`): every pending operation wakes with `socket is in an
//! illegal state (closed)`. [`Socket::close_graceful`] shuts the write side and
//! drains until the peer closes; [`Socket::abort`] resets the connection.
//!
//! ## Errors that say why
//! Where one of Blade's texts covers several causes, the cause follows it in
//! parentheses: `socket is in an illegal state (closed)`, `(closed after:
//! Connection reset by peer)` once the crate closed the socket itself (a
//! reset, a broken pipe, a failed connect), `(not bound)`, `(listening)`,
//! `(shut for writing)`, `(a stream socket has no datagrams)`. In code,
//! [`SocketError::io_kind`] tells them apart: `NotConnected` for a closed
//! socket, `InvalidInput` for a call the socket's state or type does not allow.
//!
//! ## Beyond Blade
//! - [`tokio::io::AsyncRead`]/[`AsyncWrite`](tokio::io::AsyncWrite) on
//!   `Socket`, `&Socket` and the owned halves (codecs, `tokio::io::copy`,
//!   hyper, TLS), honouring the timeouts; [`std::io::Read`]/[`Write`](std::io::Write)
//!   on the blocking one and its `&` form.
//! - Constructors for the common kinds: [`Socket::tcp6`], [`Socket::udp6`],
//!   [`Socket::unix`], [`Socket::unix_datagram`].
//! - [`std::net::SocketAddr`] forms for Rust callers who hold one:
//!   [`Socket::connect_addr`], [`Socket::bind_addr`],
//!   [`Socket::send_to_addr`], [`SocketInfo::socket_addr`],
//!   [`Datagram::sender`]. [`Bytes`] is re-exported.
//! - [`Socket::incoming`], a stream of accepted connections; `accept` backs
//!   off when descriptors run out (`EMFILE`) instead of spinning.
//! - Happy eyeballs (RFC 8305): an IPv6 socket connecting to a name that has
//!   IPv6 and IPv4 addresses races them, 250 ms apart, under one timeout.
//! - Unix-domain sockets: `bind`/`connect` take the path as `host`;
//!   [`Socket::pair`] makes a connected pair.
//! - `TryFrom` tokio's and std's socket types; `AsRawFd` (-1 once closed), and
//!   [`Socket::fd`], a guard that lends the descriptor (`AsFd`) while it lives.
//! - `tracing` events: each operation's descriptor, family, byte count,
//!   duration and outcome; connections' local and peer addresses. Payload
//!   bytes are never recorded. Without a subscriber they cost one cached check.
//!
//! ## Platforms
//! Linux, macOS and FreeBSD, with the same API on each. Linux alone has UDP
//! GSO/GRO and `recvmmsg`/`sendmmsg`, which [`Socket::receive_many`] and
//! [`Socket::send_many_to`] use there; elsewhere they move one datagram per
//! syscall. Abstract Unix names (`@name`) are Linux's too; elsewhere they
//! fail with `not supported on this platform`, as does an `SO_*` option the
//! OS lacks (its constant is `-1`). Constants take each OS's own values.
//! Reset versus end of file is told apart by the TCP state on every system
//! (`TCP_INFO` on Linux and FreeBSD, `TCP_CONNECTION_INFO` on macOS).
//! `--cfg blade_socket_portable` makes a Linux build take the portable paths,
//! so they are tested there. Windows is not supported (tokio's `AsyncFd`
//! is Unix-only): a build for it stops at a `compile_error!`.
//!
//! ## Differences from Blade's implementation
//! - Errors are values ([`SocketError`], alias [`SocketException`]), never
//!   `-1`/`false` returns; no call panics.
//! - `receive(None)` returns the bytes queued at that moment, not a read
//!   until end of file; `Ok(None)` is end of file.
//! - `shutdown` of one direction leaves the other usable; a socket that is
//!   not connected reports `ENOTCONN` and keeps its state.
//! - No call raises `SIGPIPE`, `send_file` included.
//! - `SO_LINGER` durations round up to whole seconds, so 500 ms lingers
//!   rather than resetting the connection.
//! - `set_nodelay` (`TCP_NODELAY`) exists; Blade has none.
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

// The core is tokio's `AsyncFd`, which exists on Unix only; every other
// target stops here, at one message, rather than at hundreds of errors.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
compile_error!(
    "blade-socket supports Linux, macOS and FreeBSD only (its core is tokio's AsyncFd, \
     which is Unix-only); this target is not supported"
);

/// Keeps the crate's items to the systems it supports, so that an
/// unsupported target reports only the `compile_error!` above.
macro_rules! supported {
    ($($item:item)*) => {
        $(
            #[cfg(any(
                target_os = "linux",
                target_os = "android",
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd"
            ))]
            $item
        )*
    };
}

supported! {
    mod addr;
    pub mod blocking;
    mod consts;
    mod driver;
    mod error;
    mod options;
    mod socket;
    mod sys;
    mod timeout;

    pub use addr::{AddressInfo, get_address_info};
    /// The bytes type that [`Socket::receive`] returns, re-exported so that
    /// naming it needs no `bytes` dependency of your own.
    pub use bytes::Bytes;
    pub use consts::*;
    pub use error::{ErrorKind, Result, SocketError, SocketException};
    pub use options::OptionValue;
    pub use socket::{
        Datagram, OwnedReadHalf, OwnedWriteHalf, ReuniteError, Socket, SocketFd, SocketInfo,
    };
    pub use socket::{PeerCredentials, Queued, TcpInfo, WithFds, copy_bidirectional};
}
