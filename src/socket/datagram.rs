//! `send_to`, `send_to_addr` and `receive_from`: one datagram per call.
//!
//! Each is a hand-written future ([`Op`]) as `send` is, chosen when the call
//! is made: on a stream socket the call is `send` or `receive`; an address
//! known without resolution (an IP literal, parsed at most once per call and
//! remembered per socket; a `SocketAddr`; a Unix-domain path) goes straight
//! to the readiness loop; only a host *name* takes the resolving path, boxed.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use tokio::io::Interest;

use super::{
    Datagram, Socket,
    batch::{Dgram, FromSink},
    io::{count, none_sent},
    op::{Kind, Op, Sent},
};
use crate::{
    addr,
    consts::AF_UNIX,
    driver::What,
    error::{Result, SocketError},
    sys,
};

impl Socket {
    /// Sends `message` to `host`:`port` (`sendto(2)`), resolving `host` for
    /// the socket's family. On a stream socket it behaves as
    /// [`send`](Socket::send) and the address is ignored.
    ///
    /// # Errors
    /// As [`send`](Socket::send), except that an unconnected datagram socket
    /// is fine; `AddressResolution` when `host` does not resolve.
    ///
    /// # Cancel safety
    /// A datagram is sent in one syscall: cancel safe. On a stream socket, as `send`.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use blade_socket::Socket;
    /// let mut rx = Socket::udp()?;
    /// rx.bind(0, None).await?;
    /// let tx = Socket::udp()?;
    /// tx.send_to("127.0.0.1", rx.port(), b"hi").await?;
    /// assert_eq!(&rx.receive_from(None).await?.data[..], b"hi");
    /// # Ok(()) }
    /// ```
    #[doc(alias = "sendto")]
    #[inline]
    pub fn send_to(
        &self,
        host: &str,
        port: u16,
        message: impl AsRef<[u8]>,
    ) -> impl Future<Output = Result<usize>> {
        if !self.is_datagram() {
            return Either::B(Either::A(self.send(message)));
        }
        let to = if self.family == AF_UNIX {
            To::Unix(host)
        } else if let Some(ip) = addr::ipv4_literal(host) {
            To::Literal {
                host,
                addr: SocketAddr::new(ip.into(), port),
                remember: false,
            }
        } else if let Some(addr) = self.offload().last_to(host, port) {
            To::Literal {
                host,
                addr,
                remember: false,
            }
        } else if let Some(ip) = addr::ip_literal(host) {
            To::Literal {
                host,
                addr: SocketAddr::new(ip, port),
                remember: true,
            }
        } else {
            return Either::B(Either::B(self.send_to_name(host, port, message)));
        };
        Either::A(Op::new(self, SendTo::new(message, to)))
    }

    /// Sends `message` to `addr` (`sendto(2)`): [`send_to`](Socket::send_to)
    /// for a caller who already holds a [`SocketAddr`](std::net::SocketAddr),
    /// with no name to resolve. On a stream socket it behaves as
    /// [`send`](Socket::send) and the address is ignored.
    ///
    /// # Errors
    /// As [`send_to`](Socket::send_to); `AddressResolution` for an address of
    /// another family than the socket's (an IPv6 address on an `AF_INET`
    /// socket).
    ///
    /// # Cancel safety
    /// A datagram is sent in one syscall: cancel safe. On a stream socket, as `send`.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use blade_socket::Socket;
    /// let mut rx = Socket::udp()?;
    /// rx.bind(0, None).await?;
    /// let to = rx.info()?.socket_addr().expect("an IP address");
    /// let tx = Socket::udp()?;
    /// tx.send_to_addr(to, b"hi").await?;
    /// let d = rx.receive_from(None).await?;
    /// assert_eq!(&d.data[..], b"hi");
    /// assert_eq!(d.sender().map(|a| a.port()), Some(tx.info()?.port));
    /// # Ok(()) }
    /// ```
    #[doc(alias = "sendto")]
    #[inline]
    pub fn send_to_addr(
        &self,
        addr: SocketAddr,
        message: impl AsRef<[u8]>,
    ) -> impl Future<Output = Result<usize>> {
        if !self.is_datagram() {
            return Either::B(self.send(message));
        }
        Either::A(Op::new(self, SendTo::new(message, To::Addr(addr))))
    }

    /// `send_to` a host name: resolved (within the send timeout, as one
    /// deadline with the send), then sent. Boxed, so that the common calls'
    /// futures stay small.
    #[inline(never)]
    fn send_to_name(
        &self,
        host: &str,
        port: u16,
        message: impl AsRef<[u8]>,
    ) -> Pin<Box<impl Future<Output = Result<usize>>>> {
        Box::pin(async move {
            self.state.check_send(true).map_err(none_sent)?;
            let call = self
                .begin(self.cold.send_timeout.get())
                .map_err(none_sent)?;
            // Resolution runs within the call's deadline (`Wait::off_thread`).
            let to = addr::resolve(host, port, self.family, self.ty, call.wait)
                .await
                .and_then(|found| {
                    found
                        .into_iter()
                        .next()
                        .ok_or_else(|| SocketError::no_address(host))
                })
                .map_err(none_sent)?;
            let r = self.send_all(&call, message.as_ref(), Some(&to)).await;
            call.traced(self, "send_to", r, count)
        })
    }

    /// Receives one datagram with its sender (`recvfrom(2)`); see
    /// [`receive`](Socket::receive) for `length`. On a stream socket it
    /// receives as `receive` does, reports the peer, and at end of file
    /// returns empty `data`.
    ///
    /// # Errors
    /// As [`receive`](Socket::receive), except that an unconnected datagram
    /// socket is fine once it has a local address: bound, or given one by an
    /// earlier [`send_to`](Socket::send_to). With none (nothing could ever
    /// arrive) it fails at once with `socket not listening or connected`.
    ///
    /// # Cancel safety
    /// Cancel safe, as `receive`.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(s: &blade_socket::Socket) -> blade_socket::Result<()> {
    /// let d = s.receive_from(None).await?;
    /// s.send_to(&d.host, d.port, &d.data).await?; // echo it back
    /// # Ok(()) }
    /// ```
    #[doc(alias = "recvfrom")]
    #[inline]
    pub fn receive_from(&self, length: Option<usize>) -> impl Future<Output = Result<Datagram>> {
        if !self.is_datagram() {
            return Either::B(StreamFrom {
                sock: self,
                receive: self.receive(length),
            });
        }
        Either::A(Op::new(
            self,
            ReceiveFrom {
                length,
                how: Dgram::Udp,
            },
        ))
    }
}

/// One of two futures, chosen when the call is made.
enum Either<A, B> {
    A(A),
    B(B),
}

impl<T, A, B> Future for Either<A, B>
where
    A: Future<Output = T> + Unpin,
    B: Future<Output = T> + Unpin,
{
    type Output = T;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut() {
            Either::A(a) => Pin::new(a).poll(cx),
            Either::B(b) => Pin::new(b).poll(cx),
        }
    }
}

/// Where a `send_to` goes, before its checks.
enum To<'h> {
    /// An IP literal given as text, parsed (by hand for a dotted quad,
    /// else the general way, then remembered for the socket's next call:
    /// `remember`, once it passes the checks).
    Literal {
        host: &'h str,
        addr: SocketAddr,
        remember: bool,
    },
    /// `send_to_addr`'s address.
    Addr(SocketAddr),
    /// A Unix-domain path, or `@name` for an abstract address.
    Unix(&'h str),
}

/// `send_to`/`send_to_addr` on a datagram socket: one datagram to an
/// address known without resolution.
struct SendTo<'h, M> {
    message: M,
    sent: Sent,
    to: To<'h>,
}

impl<'h, M> SendTo<'h, M> {
    fn new(message: M, to: To<'h>) -> SendTo<'h, M> {
        SendTo {
            message,
            sent: Sent::default(),
            to,
        }
    }
}

/// Checks `addr` against a socket of `family`; a mismatch is reported with
/// `host` (only formatted then).
#[inline]
fn check_family(
    addr: &SocketAddr,
    family: crate::Family,
    host: impl FnOnce() -> String,
) -> Result<()> {
    if addr::family_of(addr) != family {
        return family_mismatch(*addr, family, host());
    }
    Ok(())
}

/// [`check_family`]'s error path, out of line.
#[cold]
#[inline(never)]
fn family_mismatch(addr: SocketAddr, family: crate::Family, host: String) -> Result<()> {
    addr::exact(addr, family, &host).map(drop)
}

impl<M: AsRef<[u8]>> Kind for SendTo<'_, M> {
    type Out = usize;
    const NAME: &'static str = "send_to";
    const INTEREST: Interest = Interest::WRITABLE;
    const WHAT: What = What::Send;

    #[inline]
    fn check(&mut self, sock: &Socket) -> Result<Option<usize>> {
        sock.state.check_send(true)?;
        match &self.to {
            To::Literal {
                host,
                addr,
                remember,
            } => {
                check_family(addr, sock.family, || (*host).to_owned())?;
                if *remember {
                    sock.offload().remember_to(host, addr.port(), *addr);
                }
            }
            To::Addr(addr) => check_family(addr, sock.family, || addr.ip().to_string())?,
            To::Unix(path) => {
                addr::unix(path)?;
            }
        }
        Ok(None)
    }

    #[inline]
    fn attempt(
        &mut self,
        _: &Socket,
        s: &socket2::Socket,
        flags: i32,
    ) -> io::Result<Option<usize>> {
        let buf = self.message.as_ref();
        let rest = &buf[self.sent.count()..];
        let flags = flags | libc::MSG_NOSIGNAL;
        let n = match self.to {
            To::Literal { addr, .. } | To::Addr(addr) => sys::send_to_ip(s, rest, &addr, flags)?,
            // Checked before the call started.
            To::Unix(path) => {
                let to =
                    addr::unix(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                s.send_to_with_flags(rest, &to, flags)?
            }
        };
        Ok(self.sent.advance(n, buf.len()))
    }

    fn failed(&mut self, sock: &Socket, err: SocketError) -> Result<usize> {
        self.sent.failed(sock, err)
    }

    fn bytes(out: &usize) -> u64 {
        count(out)
    }
}

/// `receive_from` on a datagram socket.
struct ReceiveFrom {
    length: Option<usize>,
    /// How the socket reads, decided by the checks.
    how: Dgram,
}

impl Kind for ReceiveFrom {
    type Out = Datagram;
    const NAME: &'static str = "receive_from";
    const INTEREST: Interest = Interest::READABLE;
    const WHAT: What = What::Receive;

    #[inline]
    fn check(&mut self, sock: &Socket) -> Result<Option<Datagram>> {
        sock.check_datagram_receive()?;
        if self.length == Some(0) {
            return Ok(Some(Datagram {
                data: Bytes::new(),
                host: sock.cold.host.clone(),
                port: sock.port,
            }));
        }
        self.how = sock.dgram_kind();
        if !sock.backlog_waits() {
            return Ok(None);
        }
        let mut sink = FromSink {
            length: self.length,
            out: None,
        };
        Ok(match sock.read_queued(self.how, &mut sink)? {
            true => sink.out,
            false => None,
        })
    }

    #[inline]
    fn attempt(
        &mut self,
        sock: &Socket,
        s: &socket2::Socket,
        flags: i32,
    ) -> io::Result<Option<Datagram>> {
        let mut sink = FromSink {
            length: self.length,
            out: None,
        };
        sock.offload().read(s, self.how, flags, &mut sink)?;
        // `read` took a datagram: only a record socket has an end of file,
        // and it receives through `receive`. (Were `out` empty, the call
        // would just read again.)
        Ok(sink.out)
    }

    fn bytes(out: &Datagram) -> u64 {
        count(&out.data.len())
    }
}

/// `receive_from` on a stream socket: a `receive` reported as from the
/// peer, with empty `data` at end of file.
struct StreamFrom<'a, F> {
    sock: &'a Socket,
    receive: F,
}

impl<F: Future<Output = Result<Option<Bytes>>> + Unpin> Future for StreamFrom<'_, F> {
    type Output = Result<Datagram>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Datagram>> {
        let this = self.get_mut();
        let data = match Pin::new(&mut this.receive).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r?.unwrap_or_default(),
        };
        Poll::Ready(Ok(Datagram {
            data,
            host: this.sock.cold.host.clone(),
            port: this.sock.port,
        }))
    }
}
