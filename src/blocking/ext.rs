//! The facade's share of what goes beyond Blade's API: pairs, allocation-free
//! receive, closing from `&self`, graceful close and reset, the accept
//! iterator, `std::io` traits and conversions.

use std::{
    io,
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    time::Duration,
};

use futures::StreamExt;

use super::{Socket, runtime::run};
use crate::{Result, SockType, SocketError};

impl Socket {
    /// See [`crate::Socket::pair`].
    ///
    /// # Errors
    /// As [`crate::Socket::pair`].
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

    /// See [`crate::Socket::pair_of`].
    ///
    /// # Errors
    /// As [`crate::Socket::pair_of`].
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

    /// See [`crate::Socket::try_clone`]: for example, a writer thread that
    /// half-closes its handle while a reader thread receives on the other.
    ///
    /// # Errors
    /// As [`crate::Socket::try_clone`].
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

    /// See [`crate::Socket::receive_into`].
    ///
    /// # Errors
    /// As [`crate::Socket::receive_into`].
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

    /// See [`crate::Socket::close_shared`]: a thread blocked in `receive`,
    /// `accept` or `send` on this socket wakes with `socket is in an illegal state`.
    ///
    /// # Errors
    /// As [`crate::Socket::close_shared`].
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
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn close_shared(&self) -> Result<()> {
        self.inner.close_shared()
    }

    /// See [`crate::Socket::close_graceful`].
    ///
    /// # Errors
    /// As [`crate::Socket::close_graceful`].
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let (mut a, b) = blade_socket::blocking::Socket::pair()?;
    /// drop(b); // the peer is gone: end of file at once
    /// assert_eq!(a.close_graceful(Some(Duration::from_secs(1)))?, 0);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn close_graceful(&mut self, timeout: Option<Duration>) -> Result<u64> {
        run(self.inner.close_graceful(timeout))
    }

    /// See [`crate::Socket::abort`].
    ///
    /// # Errors
    /// As [`crate::Socket::abort`].
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
    /// [`accept`](Socket::accept); see [`crate::Socket::incoming`] for when
    /// it ends.
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(listener: blade_socket::blocking::Socket) {
    /// for conn in listener.incoming() {
    ///     match conn {
    ///         Ok(conn) => { let _ = conn.send("hello\n"); }
    ///         Err(e) => eprintln!("accept: {e}"),
    ///     }
    /// }
    /// # }
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

    /// See [`crate::Socket::with_sockref`].
    ///
    /// # Errors
    /// As [`crate::Socket::with_sockref`].
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// assert!(s.with_sockref(|r| r.ttl_v4())? > 0);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn with_sockref<R>(
        &self,
        f: impl FnOnce(socket2::SockRef<'_>) -> io::Result<R>,
    ) -> Result<R> {
        self.inner.with_sockref(f)
    }
}

impl AsFd for Socket {
    /// See [`crate::Socket`]'s `AsFd`.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
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
