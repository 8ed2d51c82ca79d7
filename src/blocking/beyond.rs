//! The facade's twins of the calls beyond every anchor: connection
//! introspection, descriptor passing and kernel proxying. Each runs the
//! async core's method to completion.

use std::{os::fd::BorrowedFd, time::Duration};

use super::{Socket, runtime::run};
use crate::{PeerCredentials, Queued, Result, TcpInfo, WithFds};

impl Socket {
    /// The kernel's view of this TCP connection (`TCP_INFO`): round-trip
    /// time, congestion window, MSS, retransmissions over the connection's
    /// life, byte counts and delivery rate. One `getsockopt`, nothing
    /// allocated; a socket not yet connected reports zeros.
    ///
    /// # Errors
    /// `InvalidArgument` when the socket is not TCP; `socket is in an
    /// illegal state` once closed; `not supported on this platform` where
    /// the OS has no such call.
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(s: &blade_socket::blocking::Socket) -> blade_socket::Result<()> {
    /// let info = s.tcp_info()?;
    /// println!("rtt {:?}, {} retransmits", info.rtt, info.retransmits);
    /// # Ok(()) }
    /// ```
    #[doc(alias = "TCP_INFO")]
    pub fn tcp_info(&self) -> Result<TcpInfo> {
        self.inner.tcp_info()
    }

    /// Bytes waiting in the kernel's queues: on TCP, sent but not yet
    /// acknowledged (`send`), of those not yet sent (`unsent`, Linux), and
    /// readable now (`receive`). On a Unix stream socket `send` is kernel
    /// memory held for data the peer has not read; on a datagram socket
    /// `receive` is the size of the next datagram.
    ///
    /// # Errors
    /// `InvalidArgument` on a listener; `socket is in an illegal state` once
    /// closed.
    ///
    /// # Examples
    /// ```
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// a.send("abc")?;
    /// assert_eq!(b.queued()?.receive, 3);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias("SIOCOUTQ", "SIOCINQ"))]
    pub fn queued(&self) -> Result<Queued> {
        self.inner.queued()
    }

    /// Sends `message` with the descriptors `fds` over a Unix-domain socket
    /// (`SCM_RIGHTS`), blocking up to the send timeout; returns the byte
    /// count. The OS duplicates the descriptors; the caller keeps its own.
    /// They travel with the first byte of a message that needs several
    /// writes. A stream socket needs at least one byte of message.
    ///
    /// # Errors
    /// `InvalidArgument` when the socket is not a Unix-domain socket, for an
    /// empty message on a stream socket, or for more than 253 descriptors;
    /// otherwise as [`send`](Socket::send).
    ///
    /// # Examples
    /// ```
    /// use std::os::fd::AsFd;
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// let file = std::fs::File::open("Cargo.toml").expect("file");
    /// a.send_with_fds(b"f", &[file.as_fd()])?;
    /// assert_eq!(b.receive_with_fds(None, 1)?.fds.len(), 1);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias("SCM_RIGHTS", "send_fds"))]
    pub fn send_with_fds(
        &self,
        message: impl AsRef<[u8]>,
        fds: &[BorrowedFd<'_>],
    ) -> Result<usize> {
        run(self.inner.send_with_fds(message, fds))
    }

    /// Receives bytes and the descriptors sent with them over a Unix-domain
    /// socket, blocking up to the receive timeout. It reads as
    /// [`receive`](Socket::receive) does, except that a read ends where a
    /// message that carried descriptors ends. At most `max_fds` descriptors
    /// are kept (each close-on-exec); when more came, the rest are closed and
    /// `fds_truncated` is set.
    ///
    /// # Errors
    /// `InvalidArgument` when the socket is not a Unix-domain socket;
    /// otherwise as [`receive`](Socket::receive).
    ///
    /// # Examples
    /// ```
    /// use std::os::fd::AsFd;
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// let file = std::fs::File::open("Cargo.toml").expect("file");
    /// a.send_with_fds(b"p", &[file.as_fd()])?;
    /// let got = b.receive_with_fds(Some(8), 4)?;
    /// assert_eq!((got.data.as_deref(), got.fds.len()), (Some(&b"p"[..]), 1));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias("SCM_RIGHTS", "recv_fds"))]
    pub fn receive_with_fds(&self, length: Option<usize>, max_fds: usize) -> Result<WithFds> {
        run(self.inner.receive_with_fds(length, max_fds))
    }

    /// The process at the other end of this Unix-domain socket when it
    /// connected (`SO_PEERCRED`): pid (where the OS says), uid and gid.
    ///
    /// # Errors
    /// `InvalidArgument` when the socket is not a Unix-domain socket;
    /// `socket is in an illegal state` once closed.
    ///
    /// # Examples
    /// ```
    /// let (a, _b) = blade_socket::blocking::Socket::pair()?;
    /// assert_eq!(a.peer_credentials()?.pid, Some(std::process::id() as i32));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias = "SO_PEERCRED")]
    pub fn peer_credentials(&self) -> Result<PeerCredentials> {
        self.inner.peer_credentials()
    }

    /// Makes [`copy_bidirectional`] on this socket act as if the kernel
    /// refused every pipe, so that tests can run the fallback path.
    #[doc(hidden)]
    pub fn refuse_splice(&self, on: bool) {
        self.inner.refuse_splice(on);
    }
}

/// Joins `a` and `b`, blocking: moves bytes both ways until each direction
/// has read end of file, and returns `(a → b, b → a)`, the bytes written to
/// each destination. Half-close travels (end of file read from one socket
/// shuts the other down for writing). On Linux bulk moves inside the kernel
/// (`splice(2)`); small messages and systems without splice copy through a
/// buffer. The sockets' own timeouts do not apply: `idle` bounds the time in
/// which no byte moves in *either* direction, so a one-way stream is never
/// cut while it flows.
///
/// # Errors
/// `InvalidArgument` unless both are connected stream sockets;
/// `socket is in an illegal state` when either is closed; `TimedOut` after
/// `idle` with nothing moving; a reset on either side, which closes that
/// socket.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// use blade_socket::blocking::Socket;
/// let mut listener = Socket::tcp()?;
/// listener.bind(8080, Some("127.0.0.1"))?;
/// listener.listen(None)?;
/// let client = listener.accept()?;
/// let mut upstream = Socket::tcp()?;
/// upstream.connect(Some("127.0.0.1"), 9090, Some(Duration::from_secs(5)))?;
/// let (up, down) = blade_socket::blocking::copy_bidirectional(
///     &client, &upstream, Some(Duration::from_secs(60)))?;
/// # Ok::<(), blade_socket::SocketError>(())
/// ```
#[doc(alias = "splice")]
pub fn copy_bidirectional(a: &Socket, b: &Socket, idle: Option<Duration>) -> Result<(u64, u64)> {
    run(crate::copy_bidirectional(&a.inner, &b.inner, idle))
}
