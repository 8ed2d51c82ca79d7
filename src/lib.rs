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
//! thread, so it works from plain threads, `spawn_blocking`, and even from a
//! task on a current-thread runtime without deadlocking.
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
//! descriptor: `connect` takes its own (300 s by default); `accept`,
//! `receive` and `receive_from` use [`Socket::receive_timeout`]; `send`,
//! `send_to` and `send_file` use [`Socket::send_timeout`] as one deadline for
//! the whole call. Zero means no timeout. A timeout fails with
//! [`ErrorKind::TimedOut`] and leaves the socket usable.
//!
//! ## Cancel safety
//! `accept`, `receive` and `receive_from` are cancel safe: dropping their
//! future (say, in `tokio::select!` or `tokio::time::timeout`) loses no
//! connection and no byte. `send` of a message larger than the socket's
//! buffer, `send_file` and `connect` are not.
//!
//! ## Runtime context
//! Constructors, properties and non-async methods work on any thread. The
//! async methods awaited outside any tokio runtime fail with
//! [`ErrorKind::IllegalState`] (`no tokio runtime`). Inside a runtime built
//! without IO or time, tokio itself panics when the socket first waits; tokio
//! offers no way to ask a handle whether those drivers are on.
//!
//! The facade's connected stream sockets keep their descriptor in blocking
//! mode, so a wait with no timeout is the `recv`/`send` itself: one syscall
//! per operation, as with `std::net`. With a timeout, or on the async face,
//! the descriptor is non-blocking and waits go through `poll(2)` or the reactor.
//!
//! ## Closing
//! [`Socket::close`] takes `&mut self`. To end a socket that other tasks are
//! waiting on, [`Socket::close_shared`] works through `&self` (an
//! `Arc<Socket>`): every pending operation wakes with `socket is in an
//! illegal state`. [`Socket::close_graceful`] shuts the write side and
//! drains until the peer closes; [`Socket::abort`] resets the connection.
//!
//! ## Beyond Blade
//! - [`tokio::io::AsyncRead`]/[`AsyncWrite`](tokio::io::AsyncWrite) on the
//!   async socket (codecs, `tokio::io::copy`), honouring the timeouts;
//!   [`std::io::Read`]/[`Write`](std::io::Write) on the blocking one.
//! - [`Socket::incoming`], a stream of accepted connections; `accept` backs
//!   off when descriptors run out (`EMFILE`) instead of spinning.
//! - Happy eyeballs (RFC 8305): an IPv6 socket connecting to a name that has
//!   IPv6 and IPv4 addresses races them, 250 ms apart, under one timeout.
//! - Unix-domain sockets: `bind`/`connect` take the path as `host`;
//!   [`Socket::pair`] makes a connected pair.
//! - Conversions from tokio's and std's socket types; `AsFd`/`AsRawFd`.
//! - `tracing` events: each operation's descriptor, family, byte count,
//!   duration and outcome; connections' local and peer addresses. Payload
//!   bytes are never recorded. Without a subscriber they cost one cached check.
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
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

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
pub use socket::{Datagram, OwnedReadHalf, OwnedWriteHalf, ReuniteError, Socket, SocketInfo};
