//! The facade's share of what goes beyond Blade's API: pairs, allocation-free
//! receive, closing from `&self`, graceful close and reset, the accept
//! iterator, `std::io` traits and conversions.

use std::{io, os::fd::OwnedFd, time::Duration};

use futures::StreamExt;

use super::{Socket, runtime::run};
use crate::{Result, SockType, SocketError};

impl Socket {
    /// A pair of connected `AF_UNIX` stream sockets (`socketpair(2)`): two ends
    /// of one in-process connection, handy in tests, between threads, and for
    /// talking to a child process. Both are connected (`is_client()`), with an
    /// empty `host()`.
    ///
    /// # Errors
    /// The OS's error when no descriptors are left.
    ///
    /// # Examples
    /// ```
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// a.send("ping")?;
    /// assert_eq!(b.receive(None)?.as_deref(), Some(&b"ping"[..]));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn pair() -> Result<(Socket, Socket)> {
        crate::Socket::pair().map(|(a, b)| (Socket::wrap(a), Socket::wrap(b)))
    }

    /// A pair of connected `AF_UNIX` sockets of type `ty` (`SOCK_STREAM`,
    /// `SOCK_DGRAM` or `SOCK_SEQPACKET`); see [`pair`](Socket::pair).
    ///
    /// # Errors
    /// The OS's error for a type it cannot pair, or when no descriptors are left.
    ///
    /// # Examples
    /// ```
    /// let (a, b) = blade_socket::blocking::Socket::pair_of(blade_socket::SOCK_SEQPACKET)?;
    /// a.send("record")?;
    /// assert_eq!(b.receive(None)?.as_deref(), Some(&b"record"[..]));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn pair_of(ty: SockType) -> Result<(Socket, Socket)> {
        crate::Socket::pair_of(ty).map(|(a, b)| (Socket::wrap(a), Socket::wrap(b)))
    }

    /// A second handle to the same connection (`dup(2)`), as std's
    /// `TcpStream::try_clone`: for example, a writer thread that half-closes or
    /// closes its handle while a reader thread receives on the other. It copies
    /// the state, shut directions, host, port, timeouts and mode; from then on
    /// each handle keeps its own. The connection ends when both are closed.
    /// (Both threads can also share one socket by reference: I/O and `shutdown`
    /// take `&self`.)
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; the OS's error when no
    /// descriptors are left.
    ///
    /// # Examples
    /// ```
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// let writer = a.try_clone()?;
    /// let reader = std::thread::spawn(move || a.receive(None));
    /// writer.send("done")?;
    /// writer.shutdown(blade_socket::SHUT_WR)?;
    /// assert_eq!(b.receive(None)?.as_deref(), Some(&b"done"[..]));
    /// drop(b); // the reader sees end of file
    /// assert_eq!(reader.join().expect("thread")?, None);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn try_clone(&self) -> Result<Socket> {
        self.inner.try_clone().map(Socket::wrap)
    }

    /// Receives into `buf` without allocating: blocks until data or end of file
    /// arrives (up to the receive timeout), then copies what is queued, up to
    /// `buf.len()` bytes, and returns the count; `0` means end of file (or an
    /// empty `buf`). On a datagram socket, one datagram, truncated to `buf`.
    ///
    /// # Errors
    /// As [`receive`](Socket::receive): `socket is in an illegal state` when
    /// closed or shut for reading; `socket not listening or connected`;
    /// `TimedOut`; `WouldBlock` in non-blocking mode; `Connection reset by
    /// peer` (the socket is then closed).
    ///
    /// # Examples
    /// ```
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// a.send("hello")?;
    /// let mut buf = [0u8; 8];
    /// let n = b.receive_into(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hello");
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn receive_into(&self, buf: &mut [u8]) -> Result<usize> {
        run(self.inner.receive_into(buf))
    }

    /// Closes through a shared reference, from another thread than the ones
    /// waiting on the socket: a thread blocked in `receive`, `accept` or `send`
    /// on it wakes with `socket is in an illegal state`, as does every later
    /// call. Otherwise it is [`close`](Socket::close): idempotent, with the
    /// same effect on the properties. It shuts the connection down in both
    /// directions to wake the waiters, so the peer sees end of file; the
    /// descriptor is released once the last of them has returned.
    ///
    /// # Errors
    /// None today; the `Result` matches [`close`](Socket::close).
    ///
    /// # Examples
    /// ```
    /// let (a, _b) = blade_socket::blocking::Socket::pair()?;
    /// std::thread::scope(|s| {
    ///     let reader = s.spawn(|| a.receive(None));
    ///     a.close_shared()?;
    ///     assert!(reader.join().expect("thread").is_err());
    ///     Ok::<(), blade_socket::SocketError>(())
    /// })?;
    /// assert!(a.is_closed());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn close_shared(&self) -> Result<()> {
        self.inner.close_shared()
    }

    /// Closes a connection gracefully: shuts the write side (the peer reads end
    /// of file), reads and discards whatever the peer still sends until its own
    /// end of file, then closes; within `timeout` as one deadline (`None` or
    /// zero: no limit). Returns the number of bytes discarded. This is the
    /// "lingering close" of HTTP servers: closing with unread data queued makes
    /// the kernel reset the connection, and the peer may lose the last response
    /// it had not yet read. On a socket that is not connected it just closes.
    /// The socket is closed when it returns, whatever the outcome.
    ///
    /// # Errors
    /// `TimedOut` when the peer has not closed its side in time; the OS's error
    /// if the peer resets the connection meanwhile; `socket is in an illegal
    /// state` when already closed.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let (mut a, b) = blade_socket::blocking::Socket::pair()?;
    /// b.send("unread")?;
    /// drop(b); // the peer is gone: end of file after its last bytes
    /// assert_eq!(a.close_graceful(Some(Duration::from_secs(1)))?, 6);
    /// assert!(a.is_closed());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn close_graceful(&mut self, timeout: Option<Duration>) -> Result<u64> {
        run(self.inner.close_graceful(timeout))
    }

    /// Resets the connection: closes with a zero `SO_LINGER`, so the kernel
    /// sends `RST` instead of `FIN` and drops any unsent data; the peer's next
    /// operation fails with `Connection reset by peer`. Never blocks.
    /// Idempotent, as [`close`](Socket::close).
    ///
    /// # Errors
    /// None today; the `Result` matches [`close`](Socket::close).
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.abort()?;
    /// assert!(s.is_closed());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn abort(&mut self) -> Result<()> {
        self.inner.abort()
    }

    /// The accepted connections, as an iterator: each item is one
    /// [`accept`](Socket::accept), so it blocks up to the receive timeout and
    /// backs off when descriptors run out. A timeout or a failed connection is
    /// an `Err` item and the iteration goes on; it ends after an `IllegalState`
    /// item (the listener was closed, or is not listening). In non-blocking
    /// mode an empty queue gives `WouldBlock` items, as std's
    /// `TcpListener::incoming` does.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let mut listener = Socket::tcp()?;
    /// listener.bind(0, None)?;
    /// listener.listen(None)?;
    /// let mut client = Socket::tcp()?;
    /// client.connect(None, listener.port(), None)?;
    /// for conn in listener.incoming().take(1) {
    ///     conn?.send("hello\n")?;
    /// }
    /// assert_eq!(client.receive(None)?.as_deref(), Some(&b"hello\n"[..]));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn incoming(&self) -> impl Iterator<Item = Result<Socket>> + '_ {
        let mut accepted = Box::pin(self.inner.incoming());
        let mut runner_failed = false;
        std::iter::from_fn(move || {
            if runner_failed {
                return None;
            }
            // The core's stream decides what comes next and when it ends.
            match run(async { Ok(accepted.next().await) }) {
                Ok(next) => next.map(|r| r.map(Socket::wrap)),
                Err(e) => {
                    runner_failed = true;
                    Some(Err(e))
                }
            }
        })
    }

    /// Runs `f` with a [`socket2::SockRef`] to the descriptor, for options and
    /// calls this API does not cover (`IP_TTL`, `TCP_KEEPIDLE`, ...). The
    /// descriptor stays open while `f` runs.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; whatever `f` returns.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// s.with_sockref(|r| r.set_ttl_v4(32))?;
    /// assert_eq!(s.with_sockref(|r| r.ttl_v4())?, 32);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn with_sockref<R>(
        &self,
        f: impl FnOnce(socket2::SockRef<'_>) -> io::Result<R>,
    ) -> Result<R> {
        self.inner.with_sockref(f)
    }

    /// The descriptor, lent while the returned guard lives (the guard keeps
    /// it open, even if another thread closes the socket meanwhile). A closed
    /// socket has no descriptor to lend, which is why `blocking::Socket` has
    /// `AsRawFd` (-1 once closed) but not `AsFd`.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed.
    ///
    /// # Examples
    /// ```
    /// use std::os::fd::AsRawFd;
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// assert_eq!(s.fd()?.as_raw_fd(), s.id());
    /// s.close()?;
    /// assert!(s.fd().is_err());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn fd(&self) -> Result<crate::SocketFd<'_>> {
        self.inner.fd()
    }
}

/// Reads as [`Socket::receive_into`]; `Ok(0)` is end of file.
impl io::Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

/// Reads through a shared reference, so one thread may read while another writes.
impl io::Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.receive_into(buf)?)
    }
}

/// Writes as [`Socket::send`]: the whole buffer, or an error.
impl io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes through a shared reference.
impl io::Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.send(buf)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Nothing is buffered in user space.
        Ok(())
    }
}

/// `TryFrom` for std's socket types, through [`Socket::from_fd`].
macro_rules! try_from_std {
    ($($ty:ty),* $(,)?) => {$(
        impl TryFrom<$ty> for Socket {
            type Error = SocketError;

            /// Takes over the socket, as [`Socket::from_fd`] does.
            fn try_from(s: $ty) -> Result<Socket> {
                Socket::from_fd(OwnedFd::from(s))
            }
        }
    )*};
}

try_from_std!(
    std::net::TcpStream,
    std::net::TcpListener,
    std::net::UdpSocket,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixListener,
    std::os::unix::net::UnixDatagram,
);

/// `TryFrom` for tokio's socket types, as [`crate::Socket`]'s: the
/// descriptor leaves tokio's reactor; a failure is an `Err`.
macro_rules! try_from_tokio {
    ($($ty:ty),* $(,)?) => {$(
        impl TryFrom<$ty> for Socket {
            type Error = SocketError;

            /// Takes over the socket, as [`Socket::from_fd`] does.
            fn try_from(s: $ty) -> Result<Socket> {
                crate::Socket::try_from(s).map(Socket::wrap)
            }
        }
    )*};
}

try_from_tokio!(
    tokio::net::TcpStream,
    tokio::net::TcpListener,
    tokio::net::UdpSocket,
    tokio::net::UnixStream,
    tokio::net::UnixListener,
    tokio::net::UnixDatagram,
);
