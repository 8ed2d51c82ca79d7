//! The blocking facade: [`Socket`] with the async API's methods as plain
//! functions.
//!
//! Each method runs the async core's method to completion and adds no logic
//! of its own: same checks, same errors, same timeouts. The calling thread
//! waits itself (in `poll(2)`), inside the facade's runtime context: one the
//! crate starts on first use, or one given to [`use_runtime`]. It works from a
//! plain thread, from `spawn_blocking`, and from a task on a multi-thread or
//! current-thread runtime (blocking that thread stalls the runtime's other
//! tasks, of course), without panicking or deadlocking.
//!
//! ```
//! use blade_socket::blocking::Socket;
//!
//! let mut server = Socket::tcp()?;
//! server.bind(0, None)?;
//! server.listen(None)?;
//! let mut client = Socket::tcp()?;
//! client.connect(None, server.port(), None)?;
//! let conn = server.accept()?;
//! client.send("hi")?;
//! assert_eq!(conn.receive(None)?.as_deref(), Some(&b"hi"[..]));
//! # Ok::<(), blade_socket::SocketError>(())
//! ```

mod batch;
mod ext;
mod runtime;

use std::{
    net::SocketAddr,
    os::fd::{AsRawFd, OwnedFd, RawFd},
    time::Duration,
};

use bytes::Bytes;

use self::runtime::run;
pub use self::runtime::{use_own_runtime, use_runtime};
use crate::{
    AddressInfo, Datagram, Family, OptionValue, Protocol, Result, Shutdown, SockType, SocketInfo,
    SocketOption,
};

/// The blocking twin of [`crate::Socket`]; see that type for each method's
/// behaviour, errors and examples.
#[derive(Debug)]
pub struct Socket {
    inner: crate::Socket,
}

/// Resolves `address` as [`crate::get_address_info`] does, on the calling thread.
///
/// # Errors
/// As [`crate::get_address_info`].
///
/// # Examples
/// ```
/// let info = blade_socket::blocking::get_address_info("127.0.0.1", None, None)?;
/// assert!(info.ip.is_loopback());
/// # Ok::<(), blade_socket::SocketError>(())
/// ```
pub fn get_address_info(
    address: &str,
    service: Option<&str>,
    family: Option<Family>,
) -> Result<AddressInfo> {
    run(crate::get_address_info(address, service, family))
}

impl Socket {
    /// Wraps a socket the core just made (no registration to drop).
    pub(super) fn wrap(inner: crate::Socket) -> Socket {
        Socket { inner }
    }
}

impl From<crate::Socket> for Socket {
    /// Wraps an async socket, dropping its reactor registration.
    fn from(mut inner: crate::Socket) -> Socket {
        inner.forget_reactor();
        Socket { inner }
    }
}

impl From<Socket> for crate::Socket {
    /// Unwraps the async socket; its next wait registers with the runtime it runs on.
    fn from(mut s: Socket) -> crate::Socket {
        s.inner.forget_reactor();
        s.inner
    }
}

impl AsRawFd for Socket {
    /// The descriptor; `-1` once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl Socket {
    /// See [`crate::Socket::new`].
    ///
    /// # Errors
    /// As [`crate::Socket::new`].
    ///
    /// # Examples
    /// ```
    /// use blade_socket::{blocking::Socket, AF_INET, SOCK_DGRAM, IPPROTO_UDP};
    /// let s = Socket::new(AF_INET, SOCK_DGRAM, IPPROTO_UDP)?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn new(family: Family, ty: SockType, protocol: Protocol) -> Result<Socket> {
        crate::Socket::new(family, ty, protocol).map(Socket::wrap)
    }

    /// See [`crate::Socket::tcp`].
    ///
    /// # Errors
    /// As [`crate::Socket::tcp`].
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn tcp() -> Result<Socket> {
        crate::Socket::tcp().map(Socket::wrap)
    }

    /// See [`crate::Socket::udp`].
    ///
    /// # Errors
    /// As [`crate::Socket::udp`].
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::udp()?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn udp() -> Result<Socket> {
        crate::Socket::udp().map(Socket::wrap)
    }

    /// A TCP socket over IPv6 (`AF_INET6, SOCK_STREAM, IPPROTO_TCP`); its
    /// default host is `"::1"`.
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket (descriptor limit reached,
    /// or IPv6 disabled: `Address family not supported by protocol`).
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp6()?;
    /// assert_eq!((s.family(), s.host().as_str()), (blade_socket::AF_INET6, "::1"));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn tcp6() -> Result<Socket> {
        crate::Socket::tcp6().map(Socket::wrap)
    }

    /// A UDP socket over IPv6 (`AF_INET6, SOCK_DGRAM, IPPROTO_UDP`).
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket (descriptor limit reached,
    /// or IPv6 disabled).
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::udp6()?;
    /// assert_eq!(s.family(), blade_socket::AF_INET6);
    /// assert_eq!(s.socket_type(), blade_socket::SOCK_DGRAM);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn udp6() -> Result<Socket> {
        crate::Socket::udp6().map(Socket::wrap)
    }

    /// A Unix-domain stream socket (`AF_UNIX, SOCK_STREAM`). `bind` and
    /// `connect` take the path as `host` (`@name` for a Linux abstract
    /// name) and ignore the port.
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let path = std::env::temp_dir().join(format!("blade-unix-bdoc-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let path = path.to_str().expect("a UTF-8 path");
    /// let mut server = Socket::unix()?;
    /// server.bind(0, Some(path))?;
    /// server.listen(None)?;
    /// let mut client = Socket::unix()?;
    /// client.connect(Some(path), 0, None)?;
    /// let conn = server.accept()?;
    /// client.send("hi")?;
    /// assert_eq!(conn.receive(None)?.as_deref(), Some(&b"hi"[..]));
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn unix() -> Result<Socket> {
        crate::Socket::unix().map(Socket::wrap)
    }

    /// A Unix-domain datagram socket (`AF_UNIX, SOCK_DGRAM`). `bind` and
    /// `send_to` take the path as `host` and ignore the port.
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::unix_datagram()?;
    /// assert_eq!(s.family(), blade_socket::AF_UNIX);
    /// assert_eq!(s.socket_type(), blade_socket::SOCK_DGRAM);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn unix_datagram() -> Result<Socket> {
        crate::Socket::unix_datagram().map(Socket::wrap)
    }

    /// See [`crate::Socket::from_fd`].
    ///
    /// # Errors
    /// As [`crate::Socket::from_fd`].
    ///
    /// # Examples
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = blade_socket::blocking::Socket::from_fd(std::os::fd::OwnedFd::from(l))?;
    /// assert!(s.is_listening());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Result<Socket> {
        crate::Socket::from_fd(fd).map(Socket::wrap)
    }

    /// See [`crate::Socket::host`].
    pub fn host(&self) -> String {
        self.inner.host()
    }
    /// See [`crate::Socket::port`].
    pub fn port(&self) -> u16 {
        self.inner.port()
    }
    /// See [`crate::Socket::family`].
    pub fn family(&self) -> Family {
        self.inner.family()
    }
    /// See [`crate::Socket::socket_type`].
    pub fn socket_type(&self) -> SockType {
        self.inner.socket_type()
    }
    /// See [`crate::Socket::protocol`].
    pub fn protocol(&self) -> Protocol {
        self.inner.protocol()
    }
    /// See [`crate::Socket::id`].
    pub fn id(&self) -> i32 {
        self.inner.id()
    }
    /// See [`crate::Socket::is_client`].
    pub fn is_client(&self) -> bool {
        self.inner.is_client()
    }
    /// See [`crate::Socket::is_bound`].
    pub fn is_bound(&self) -> bool {
        self.inner.is_bound()
    }
    /// See [`crate::Socket::is_connected`].
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }
    /// See [`crate::Socket::is_listening`].
    pub fn is_listening(&self) -> bool {
        self.inner.is_listening()
    }
    /// See [`crate::Socket::is_closed`].
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
    /// See [`crate::Socket::is_shutdown`].
    pub fn is_shutdown(&self) -> bool {
        self.inner.is_shutdown()
    }
    /// See [`crate::Socket::shutdown_reason`].
    pub fn shutdown_reason(&self) -> Option<Shutdown> {
        self.inner.shutdown_reason()
    }
    /// See [`crate::Socket::send_timeout`].
    pub fn send_timeout(&self) -> Option<Duration> {
        self.inner.send_timeout()
    }
    /// See [`crate::Socket::receive_timeout`].
    pub fn receive_timeout(&self) -> Option<Duration> {
        self.inner.receive_timeout()
    }
    /// See [`crate::Socket::is_blocking`].
    pub fn is_blocking(&self) -> bool {
        self.inner.is_blocking()
    }

    /// See [`crate::Socket::connect`]; blocks up to `timeout`.
    ///
    /// # Errors
    /// As [`crate::Socket::connect`].
    ///
    /// # Examples
    /// ```no_run
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.connect(Some("127.0.0.1"), 7878, None)?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn connect(
        &mut self,
        host: Option<&str>,
        port: u16,
        timeout: Option<Duration>,
    ) -> Result<()> {
        run(self.inner.connect(host, port, timeout))
    }

    /// See [`crate::Socket::bind`].
    ///
    /// # Errors
    /// As [`crate::Socket::bind`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.bind(0, None)?;
    /// assert!(s.is_bound());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn bind(&mut self, port: u16, host: Option<&str>) -> Result<()> {
        run(self.inner.bind(port, host))
    }

    /// Connects to `addr` (`connect(2)`), blocking up to `timeout`: the
    /// [`connect`](Socket::connect) of a caller who already holds a
    /// [`SocketAddr`], with no name to resolve. `timeout` `None` means 300 s,
    /// zero means no limit. On success `is_client()` and `is_connected()` are
    /// true and `host()`/`port()` are `addr`'s.
    ///
    /// # Errors
    /// `socket has existing connection` when already connected; `socket is
    /// in an illegal state` when closed or listening (the listener stays
    /// open). Any failure to connect closes the socket: the OS's error
    /// (`Connection refused`), `TimedOut`, or `AddressResolution` for an
    /// address of another family than the socket's.
    ///
    /// # Examples
    /// ```
    /// use std::{net::SocketAddr, time::Duration};
    /// use blade_socket::blocking::Socket;
    /// let mut server = Socket::tcp()?;
    /// server.bind_addr(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    /// server.listen(None)?;
    /// let addr = server.info()?.socket_addr().expect("an IP address");
    /// let mut client = Socket::tcp()?;
    /// client.connect_addr(addr, Some(Duration::from_secs(5)))?;
    /// assert_eq!(client.peer_info()?.socket_addr(), Some(addr));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn connect_addr(&mut self, addr: SocketAddr, timeout: Option<Duration>) -> Result<()> {
        run(self.inner.connect_addr(addr, timeout))
    }

    /// Binds to `addr` (`bind(2)`): the [`bind`](Socket::bind) of a caller
    /// who already holds a [`SocketAddr`]. Port 0 asks for an ephemeral
    /// port; the unspecified IP (`0.0.0.0`, `::`) is the wildcard. Afterwards
    /// `is_bound()` is true and `host()`/`port()` hold the bound address and
    /// the real port. It never waits.
    ///
    /// # Errors
    /// `socket previously bound` when already bound, listening or connected;
    /// `socket is in an illegal state` once closed; `Address already in
    /// use`; `AddressResolution` for an address of another family than the
    /// socket's. The socket stays open on failure.
    ///
    /// # Examples
    /// ```
    /// use std::net::{Ipv6Addr, SocketAddr};
    /// let mut s = blade_socket::blocking::Socket::udp6()?;
    /// s.bind_addr(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))?;
    /// assert_eq!(s.host(), "::1");
    /// assert_ne!(s.port(), 0);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn bind_addr(&mut self, addr: SocketAddr) -> Result<()> {
        self.inner.bind_addr(addr)
    }

    /// Sends `message` to `addr` (`sendto(2)`) as one datagram, blocking up
    /// to the send timeout, and returns the byte count: the
    /// [`send_to`](Socket::send_to) of a caller who already holds a
    /// [`SocketAddr`] (say, a [`Datagram::sender`]). On a stream socket it
    /// behaves as [`send`](Socket::send) and the address is ignored.
    ///
    /// # Errors
    /// `socket is in an illegal state` when closed or shut for writing;
    /// `AddressResolution` for an address of another family than the
    /// socket's; `TimedOut`; `WouldBlock` in non-blocking mode; the OS's
    /// error (`Message too long`).
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let mut server = Socket::udp()?;
    /// server.bind(0, None)?;
    /// let client = Socket::udp()?;
    /// client.send_to_addr(server.info()?.socket_addr().expect("IP"), "ping")?;
    /// let d = server.receive_from(None)?;
    /// server.send_to_addr(d.sender().expect("a UDP sender"), "pong")?;
    /// assert_eq!(&client.receive_from(None)?.data[..], b"pong");
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn send_to_addr(&self, addr: SocketAddr, message: impl AsRef<[u8]>) -> Result<usize> {
        run(self.inner.send_to_addr(addr, message))
    }

    /// See [`crate::Socket::listen`].
    ///
    /// # Errors
    /// As [`crate::Socket::listen`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.bind(0, None)?;
    /// s.listen(None)?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn listen(&mut self, queue_length: Option<u32>) -> Result<()> {
        self.inner.listen(queue_length)
    }

    /// See [`crate::Socket::accept`]; blocks up to the receive timeout.
    ///
    /// # Errors
    /// As [`crate::Socket::accept`].
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(listener: blade_socket::blocking::Socket) -> blade_socket::Result<()> {
    /// let conn = listener.accept()?;
    /// conn.send("welcome\n")?;
    /// # Ok(()) }
    /// ```
    pub fn accept(&self) -> Result<Socket> {
        run(self.inner.accept()).map(Socket::wrap)
    }

    /// See [`crate::Socket::send`]; blocks up to the send timeout.
    ///
    /// # Errors
    /// As [`crate::Socket::send`].
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(s: &blade_socket::blocking::Socket) -> blade_socket::Result<()> {
    /// s.send(b"ping")?;
    /// # Ok(()) }
    /// ```
    pub fn send(&self, message: impl AsRef<[u8]>) -> Result<usize> {
        run(self.inner.send(message))
    }

    /// See [`crate::Socket::send_file`].
    ///
    /// # Errors
    /// As [`crate::Socket::send_file`].
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(s: &blade_socket::blocking::Socket) -> blade_socket::Result<()> {
    /// let file = std::fs::File::open("data.bin").expect("file");
    /// s.send_file(&file)?;
    /// # Ok(()) }
    /// ```
    pub fn send_file(&self, file: &std::fs::File) -> Result<u64> {
        run(self.inner.send_file(file))
    }

    /// See [`crate::Socket::receive`]; blocks up to the receive timeout.
    ///
    /// # Errors
    /// As [`crate::Socket::receive`].
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(s: &blade_socket::blocking::Socket) -> blade_socket::Result<()> {
    /// match s.receive(Some(1024))? {
    ///     Some(bytes) => println!("{} bytes", bytes.len()),
    ///     None => println!("peer closed"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn receive(&self, length: Option<usize>) -> Result<Option<Bytes>> {
        run(self.inner.receive(length))
    }

    /// See [`crate::Socket::send_to`].
    ///
    /// # Errors
    /// As [`crate::Socket::send_to`].
    ///
    /// # Examples
    /// ```no_run
    /// let s = blade_socket::blocking::Socket::udp()?;
    /// s.send_to("127.0.0.1", 9999, b"hello")?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn send_to(&self, host: &str, port: u16, message: impl AsRef<[u8]>) -> Result<usize> {
        run(self.inner.send_to(host, port, message))
    }

    /// See [`crate::Socket::receive_from`].
    ///
    /// # Errors
    /// As [`crate::Socket::receive_from`].
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(s: &blade_socket::blocking::Socket) -> blade_socket::Result<()> {
    /// let d = s.receive_from(None)?;
    /// println!("{} bytes from {}:{}", d.data.len(), d.host, d.port);
    /// # Ok(()) }
    /// ```
    pub fn receive_from(&self, length: Option<usize>) -> Result<Datagram> {
        run(self.inner.receive_from(length))
    }

    /// Shuts down one direction of the connection (`shutdown(2)`).
    ///
    /// After [`SHUT_WR`](crate::SHUT_WR) the peer reads end of file and
    /// [`receive`](Socket::receive) still works (a half-close); after
    /// [`SHUT_RD`](crate::SHUT_RD), [`send`](Socket::send) still works.
    /// Shutting a direction already shut succeeds again; once both are shut,
    /// `shutdown_reason()` is `Some(Both)` and `is_connected()` false. It
    /// takes `&self`, as std's `TcpStream::shutdown`: one thread may
    /// half-close while another is blocked receiving on the same socket.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed. On a socket that is not
    /// connected (a listener included): `ENOTCONN`, `Transport endpoint is
    /// not connected`, without calling the OS, and nothing changes.
    ///
    /// # Examples
    /// ```
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// a.send("request")?;
    /// a.shutdown(blade_socket::SHUT_WR)?;            // b sees end of file
    /// assert_eq!(b.receive(None)?.as_deref(), Some(&b"request"[..]));
    /// assert_eq!(b.receive(None)?, None);
    /// b.send("reply")?;                              // but can still answer
    /// assert_eq!(a.receive(None)?.as_deref(), Some(&b"reply"[..]));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        self.inner.shutdown(how)
    }

    /// See [`crate::Socket::close`].
    ///
    /// # Errors
    /// As [`crate::Socket::close`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.close()?;
    /// assert!(s.is_closed());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn close(&mut self) -> Result<()> {
        self.inner.close()
    }

    /// See [`crate::Socket::set_option`].
    ///
    /// # Errors
    /// As [`crate::Socket::set_option`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.set_option(blade_socket::SO_REUSEADDR, true)?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_option(
        &mut self,
        option: SocketOption,
        value: impl Into<OptionValue>,
    ) -> Result<()> {
        self.inner.set_option(option, value)
    }

    /// See [`crate::Socket::get_option`].
    ///
    /// # Errors
    /// As [`crate::Socket::get_option`].
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// let rcvbuf = s.get_option(blade_socket::SO_RCVBUF)?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn get_option(&self, option: SocketOption) -> Result<OptionValue> {
        self.inner.get_option(option)
    }

    /// See [`crate::Socket::set_blocking`].
    ///
    /// # Errors
    /// As [`crate::Socket::set_blocking`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.set_blocking(false)?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_blocking(&mut self, mode: bool) -> Result<()> {
        self.inner.set_blocking(mode)
    }

    /// See [`crate::Socket::set_send_timeout`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.set_send_timeout(Some(std::time::Duration::from_secs(1)));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_send_timeout(&mut self, timeout: Option<Duration>) {
        self.inner.set_send_timeout(timeout)
    }

    /// See [`crate::Socket::set_receive_timeout`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.set_receive_timeout(Some(std::time::Duration::from_secs(1)));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_receive_timeout(&mut self, timeout: Option<Duration>) {
        self.inner.set_receive_timeout(timeout)
    }

    /// See [`crate::Socket::set_nodelay`].
    ///
    /// # Errors
    /// As [`crate::Socket::set_nodelay`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.set_nodelay(true)?;
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_nodelay(&mut self, on: bool) -> Result<()> {
        self.inner.set_nodelay(on)
    }

    /// See [`crate::Socket::nodelay`].
    ///
    /// # Errors
    /// As [`crate::Socket::nodelay`].
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// assert!(!s.nodelay()?);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn nodelay(&self) -> Result<bool> {
        self.inner.nodelay()
    }

    /// See [`crate::Socket::info`].
    ///
    /// # Errors
    /// As [`crate::Socket::info`].
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.bind(0, None)?;
    /// assert_eq!(s.info()?.port, s.port());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn info(&self) -> Result<SocketInfo> {
        self.inner.info()
    }

    /// See [`crate::Socket::peer_info`].
    ///
    /// # Errors
    /// As [`crate::Socket::peer_info`].
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(s: &blade_socket::blocking::Socket) -> blade_socket::Result<()> {
    /// let peer = s.peer_info()?;
    /// # Ok(()) }
    /// ```
    pub fn peer_info(&self) -> Result<SocketInfo> {
        self.inner.peer_info()
    }
}
