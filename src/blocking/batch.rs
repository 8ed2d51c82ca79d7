//! The facade's batched datagrams: each method runs the core's to completion.

use std::net::SocketAddr;

use super::{Socket, runtime::run};
use crate::{Datagram, Result};

impl Socket {
    /// Receives the datagrams queued now, up to `max`, in arrival order, each
    /// with its own sender: waits (up to the
    /// [`receive_timeout`](Socket::receive_timeout)) for the first, then takes
    /// what is already queued without waiting more. `max == 0` returns an
    /// empty vector at once.
    ///
    /// On a UDP socket it uses as few syscalls as the OS allows: `UDP_GRO`
    /// (one read carries many datagrams sent with UDP GSO, split back into
    /// separate [`Datagram`]s, each holding memory in proportion to its size)
    /// and `recvmmsg(2)` (never more reads than `max`), falling back to one
    /// datagram per call where the OS refuses them, losing nothing; what a
    /// GRO read carried beyond `max` is what the next receive of any kind
    /// returns first. Other datagram sockets receive one datagram per syscall.
    ///
    /// # Errors
    /// `socket is in an illegal state` on a closed socket, a socket shut for
    /// reading, or a stream socket; `socket not listening or connected` on a
    /// datagram socket with no local address; `TimedOut` when no datagram
    /// came within the receive timeout; `WouldBlock` in non-blocking mode
    /// with none queued; `InvalidData` for a read the kernel truncated
    /// (`MSG_TRUNC`, `MSG_CTRUNC`).
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let mut rx = Socket::udp()?;
    /// rx.bind(0, None)?;
    /// let to = std::net::SocketAddr::from(([127, 0, 0, 1], rx.port()));
    /// let tx = Socket::udp()?;
    /// tx.send_many_to(to, &["a", "b"])?;
    /// let mut got = Vec::new();
    /// while got.len() < 2 {
    ///     got.extend(rx.receive_many(16)?);
    /// }
    /// assert_eq!(&got[1].data[..], b"b");
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias = "recvmmsg")]
    pub fn receive_many(&self, max: usize) -> Result<Vec<Datagram>> {
        run(self.inner.receive_many(max))
    }

    /// Sends each message as one datagram to `addr`, in order, and returns
    /// how many were sent (all of them in blocking mode; in non-blocking mode
    /// possibly fewer), within the [`send_timeout`](Socket::send_timeout) as
    /// one deadline. An empty slice returns 0.
    ///
    /// On a UDP socket runs of equal-sized messages (the last of a run may be
    /// shorter) go out with UDP GSO, and all runs in one `sendmmsg(2)`; where
    /// the OS refuses GSO or `sendmmsg` it falls back to plain `sendmmsg`,
    /// then to one datagram per call, losing nothing and sending nothing twice.
    ///
    /// # Errors
    /// `socket is in an illegal state` on a closed socket, a socket shut for
    /// writing, or a stream socket; `TimedOut` when the send timeout passes;
    /// `WouldBlock` in non-blocking mode when nothing could be sent; the OS's
    /// error (such as `Message too long`). The error's
    /// [`bytes_sent`](crate::SocketError::bytes_sent) counts the bytes of
    /// the datagrams that went out before it.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let mut rx = Socket::udp()?;
    /// rx.bind(0, None)?;
    /// let to = std::net::SocketAddr::from(([127, 0, 0, 1], rx.port()));
    /// let tx = Socket::udp()?;
    /// assert_eq!(tx.send_many_to(to, &vec![[0u8; 64]; 64])?, 64);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias = "sendmmsg")]
    pub fn send_many_to<B: AsRef<[u8]>>(&self, addr: SocketAddr, messages: &[B]) -> Result<usize> {
        run(self.inner.send_many_to(addr, messages))
    }

    /// Sends each message as one datagram to its own destination, in order,
    /// and returns how many were sent (all of them in blocking mode; in
    /// non-blocking mode possibly fewer), within the
    /// [`send_timeout`](Socket::send_timeout) as one deadline. An empty slice
    /// returns 0. A server answering a batch from
    /// [`receive_many`](Socket::receive_many) sends every reply in one call.
    ///
    /// On Linux it is one `sendmmsg(2)` with a destination per message; on a
    /// UDP socket a run of equal-sized messages to one destination goes as
    /// one UDP GSO buffer. Where the OS refuses GSO or `sendmmsg` it falls
    /// back as [`send_many_to`](Socket::send_many_to) does, losing nothing
    /// and sending nothing twice.
    ///
    /// # Errors
    /// `socket is in an illegal state` on a closed socket, a socket shut for
    /// writing, or a stream socket; `AddressResolution` for a destination of
    /// another family than the socket's (nothing is sent); `TimedOut` when
    /// the send timeout passes; `WouldBlock` in non-blocking mode when nothing
    /// could be sent; the OS's error. The error's
    /// [`bytes_sent`](crate::SocketError::bytes_sent) counts the bytes of
    /// the datagrams that went out before it.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let (mut a, mut b) = (Socket::udp()?, Socket::udp()?);
    /// a.bind(0, None)?;
    /// b.bind(0, None)?;
    /// let to_a = std::net::SocketAddr::from(([127, 0, 0, 1], a.port()));
    /// let to_b = std::net::SocketAddr::from(([127, 0, 0, 1], b.port()));
    /// let tx = Socket::udp()?;
    /// assert_eq!(tx.send_many(&[(to_a, "for a"), (to_b, "for b")])?, 2);
    /// assert_eq!(&a.receive_from(None)?.data[..], b"for a");
    /// assert_eq!(&b.receive_from(None)?.data[..], b"for b");
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias = "sendmmsg")]
    pub fn send_many<B: AsRef<[u8]>>(&self, messages: &[(SocketAddr, B)]) -> Result<usize> {
        run(self.inner.send_many(messages))
    }
}
