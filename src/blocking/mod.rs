//! The blocking facade: [`Socket`] with the async API's methods as plain
//! functions, for synchronous code.
//!
//! Each method runs the async core's method to completion and adds no logic
//! of its own: same checks, same errors, same timeouts. The calling thread
//! waits itself (inside its `recv`/`send`, or in `poll(2)` when a timeout is
//! set), and enters no runtime for it; the facade's runtime (one the crate
//! starts on first use, or one given to [`use_runtime`]) only runs a name
//! lookup that the call's deadline may have to cut short. It works from a
//! plain thread, from `spawn_blocking`, and from a task on a multi-thread
//! runtime (the worker's other tasks are handed to another thread while it
//! blocks, through `block_in_place`), without panicking or deadlocking on
//! its own.
//!
//! # Panic strategy
//! tokio refuses `block_in_place` in one case it offers no test for (a
//! multi-thread runtime's handle entered inside a current-thread runtime);
//! an unwinding build catches that refusal and runs the call in place. A
//! build with `panic = "abort"` never calls `block_in_place`: a call on a
//! multi-thread worker then blocks that worker in place (the other workers
//! take over all of its queued tasks but its next one) instead of aborting.
//! On the async face, a deadline's tokio timer polled after its runtime has
//! shut down gives `IllegalState` in an unwinding build and aborts with
//! `panic = "abort"`, as any tokio timer does.
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
//!
//! # The one trap: a current-thread runtime's thread
//! A blocking call made on the thread of a current-thread tokio runtime (the
//! default of `#[tokio::test]` and of `#[tokio::main(flavor =
//! "current_thread")]`) stalls every other task of that runtime until it
//! returns. If the peer it waits for is one of those tasks, say a server
//! task in the same `#[tokio::test]`, it waits forever (or until its
//! timeout). The facade itself does not deadlock there (its I/O never waits
//! through that runtime), but it cannot run the tasks it is blocking. The
//! fix:
//! - `#[tokio::test(flavor = "multi_thread")]` or `#[tokio::main]`
//!   (multi-thread), where the worker's other tasks move to another thread;
//! - or `tokio::task::spawn_blocking(move || { /* blocking calls */ })`, or a
//!   thread of its own;
//! - or the async [`crate::Socket`] in async code.
//!
//! The first time in a process that a facade call waits on such a thread,
//! the crate emits one `tracing` warning saying so (target `blade_socket`);
//! when no `tracing` subscriber is installed, the same warning goes to
//! stderr, once. A facade call that waited on such a thread and timed out
//! says so in its message: `receive timed out (waited on a current-thread
//! runtime's thread: see the blocking module docs)`.
//!
//! # Time
//! The facade's timeouts run in real time: `tokio::time::pause()` does not
//! shorten them, unlike the async face's (see the crate docs on paused clocks).

mod batch;
mod beyond;
mod ext;
mod runtime;

use std::{
    net::SocketAddr,
    os::fd::{AsRawFd, OwnedFd, RawFd},
    time::Duration,
};

use bytes::Bytes;

pub use self::beyond::copy_bidirectional;
use self::runtime::run;
pub use self::runtime::{use_own_runtime, use_runtime};
use crate::{
    AddressInfo, Datagram, Family, OptionValue, Protocol, Result, Shutdown, SockType, SocketInfo,
    SocketOption,
};

/// The blocking twin of [`crate::Socket`]: the same methods as plain
/// functions, each running the async core's method to completion on the
/// calling thread (same checks, errors and timeouts).
///
/// `Socket` and `&Socket` are [`std::io::Read`] and [`std::io::Write`], so
/// std's adapters work on it; a shared reference is enough to read, write and
/// change the timeouts, as with `std::net::TcpStream`.
///
/// # Examples
/// Reading lines, with a timeout changed while the reader borrows the socket:
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use std::time::Duration;
/// use blade_socket::blocking::Socket;
///
/// let (sock, mut peer) = Socket::pair()?;
/// peer.write_all(b"HELLO server\r\nREADY\r\n")?;
///
/// let mut reader = BufReader::new(&sock);
/// sock.set_receive_timeout(Some(Duration::from_secs(5)));
/// let mut line = String::new();
/// reader.read_line(&mut line)?;
/// assert_eq!(line, "HELLO server\r\n");
/// line.clear();
/// reader.read_line(&mut line)?;
/// assert_eq!(line.trim_end(), "READY");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Socket {
    inner: crate::Socket,
}

/// Resolves `address` (a host name or an IP literal) as Blade's
/// `socket.get_address_info` does, on the calling thread, and returns the
/// first result: its IP, family and canonical name, every address found, and
/// the port of `service`.
///
/// `service` is a port hint (`"http"`, `"8080"`); an unknown service is
/// ignored, never an error. `family` `None` means [`AF_INET`](crate::AF_INET);
/// [`AF_UNSPEC`](crate::AF_UNSPEC) allows any family. `localhost` and IP
/// literals are answered without asking DNS.
///
/// # Errors
/// `AddressResolution` when the name does not resolve (for that family; the
/// message names it) or is not a valid host name.
///
/// # Examples
/// ```
/// let info = blade_socket::blocking::get_address_info("localhost", Some("http"), None)?;
/// assert!(info.ip.is_loopback());
/// assert_eq!(info.port, 80);
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

/// Async to blocking: `blocking::Socket::from(socket)` (or `socket.into()`)
/// takes an async [`crate::Socket`] by value for the blocking face. Its
/// reactor registration is dropped, so its next wait happens on the calling
/// thread, even on a current-thread runtime's thread.
impl From<crate::Socket> for Socket {
    /// Wraps an async socket, dropping its reactor registration.
    fn from(mut inner: crate::Socket) -> Socket {
        inner.forget_reactor();
        Socket { inner }
    }
}

/// Blocking to async: `blade_socket::Socket::from(socket)` (or
/// `socket.into()`) takes a [`blocking::Socket`](Socket) by value for the
/// async face; its next wait registers with the reactor of the runtime it
/// runs on.
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
    /// Creates a socket of the given family, type and protocol (`socket(2)`),
    /// for the combinations the named constructors do not cover. It starts
    /// unbound, unconnected, in blocking mode, with no timeouts; `host()` is the
    /// family's loopback.
    ///
    /// # Errors
    /// The OS's error for a combination it refuses (for example
    /// `AF_INET, SOCK_DGRAM, IPPROTO_TCP`: `Protocol not supported`) or a
    /// constant this OS lacks (`-1`).
    ///
    /// # Examples
    /// ```
    /// use blade_socket::{blocking::Socket, AF_INET, SOCK_DGRAM, IPPROTO_UDP, IPPROTO_TCP};
    /// let s = Socket::new(AF_INET, SOCK_DGRAM, IPPROTO_UDP)?;
    /// assert_eq!(s.host(), "127.0.0.1");
    /// assert!(Socket::new(AF_INET, SOCK_DGRAM, IPPROTO_TCP).is_err());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn new(family: Family, ty: SockType, protocol: Protocol) -> Result<Socket> {
        crate::Socket::new(family, ty, protocol).map(Socket::wrap)
    }

    /// A TCP socket over IPv4 (`AF_INET, SOCK_STREAM, IPPROTO_TCP`), Blade's
    /// `Socket()`: unbound, in blocking mode, `host()` `"127.0.0.1"`.
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket (descriptor limit reached).
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// assert!(!s.is_connected() && s.is_blocking());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn tcp() -> Result<Socket> {
        crate::Socket::tcp().map(Socket::wrap)
    }

    /// A UDP socket over IPv4 (`AF_INET, SOCK_DGRAM, IPPROTO_UDP`).
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::udp()?;
    /// assert_eq!(s.socket_type(), blade_socket::SOCK_DGRAM);
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

    /// Adopts an open socket descriptor (Blade's `id` argument), reading its
    /// real family, type, protocol and state (listening, connected, bound).
    ///
    /// The descriptor is switched to `O_NONBLOCK`, which also affects any `dup`
    /// of it; the socket starts in the library's blocking mode.
    ///
    /// # Errors
    /// `Socket operation on non-socket` (`ENOTSOCK`) when `fd` is not a socket;
    /// the descriptor is closed, as it was owned.
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

    /// The host bound to (after `bind`), connected to (after `connect`: the
    /// peer's IP), or, on an accepted socket, the peer's IP. A new socket holds
    /// its family's loopback (`"127.0.0.1"`, `"::1"`, `""` for `AF_UNIX`).
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// assert_eq!(s.host(), "127.0.0.1");
    /// s.bind(0, Some("*"))?;
    /// assert_eq!(s.host(), "0.0.0.0");
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn host(&self) -> String {
        self.inner.host()
    }
    /// The port bound to (the real one, also after asking for port 0) or
    /// connected to; 0 for a new socket.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// assert_eq!(s.port(), 0);
    /// s.bind(0, None)?;
    /// assert_ne!(s.port(), 0);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.inner.port()
    }
    /// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`, ...).
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp6()?;
    /// assert_eq!(s.family(), blade_socket::AF_INET6);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn family(&self) -> Family {
        self.inner.family()
    }
    /// The socket type (Blade's `type` property): `SOCK_STREAM`, `SOCK_DGRAM`, ...
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::udp()?;
    /// assert_eq!(s.socket_type(), blade_socket::SOCK_DGRAM);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn socket_type(&self) -> SockType {
        self.inner.socket_type()
    }
    /// The protocol (`IPPROTO_TCP`, `IPPROTO_UDP`, or 0 for the family's default).
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// assert_eq!(s.protocol(), blade_socket::IPPROTO_TCP);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn protocol(&self) -> Protocol {
        self.inner.protocol()
    }
    /// The raw descriptor; `-1` once closed.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// assert!(s.id() >= 0);
    /// s.close()?;
    /// assert_eq!(s.id(), -1);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn id(&self) -> i32 {
        self.inner.id()
    }
    /// Whether the socket is a connected client: connected by `connect`, or
    /// accepted by a listener.
    ///
    /// # Examples
    /// ```
    /// let (a, _b) = blade_socket::blocking::Socket::pair()?;
    /// assert!(a.is_client());
    /// assert!(!blade_socket::blocking::Socket::tcp()?.is_client());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn is_client(&self) -> bool {
        self.inner.is_client()
    }
    /// Whether the socket is bound (by `bind` or `bind_addr`).
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::udp()?;
    /// assert!(!s.is_bound());
    /// s.bind(0, None)?;
    /// assert!(s.is_bound());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn is_bound(&self) -> bool {
        self.inner.is_bound()
    }
    /// Whether the socket is connected; it turns false once both directions are shut.
    ///
    /// # Examples
    /// ```
    /// let (a, _b) = blade_socket::blocking::Socket::pair()?;
    /// assert!(a.is_connected());
    /// a.shutdown(blade_socket::SHUT_RDWR)?;
    /// assert!(!a.is_connected());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }
    /// Whether the socket is listening for connections.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.bind(0, None)?;
    /// s.listen(None)?;
    /// assert!(s.is_listening());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn is_listening(&self) -> bool {
        self.inner.is_listening()
    }
    /// Whether the socket is closed (by `close`, or by a failure that closes it:
    /// a failed `connect`, a vanished peer).
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.close()?;
    /// assert!(s.is_closed());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
    /// Whether a direction has been shut down with [`shutdown`](Socket::shutdown).
    ///
    /// # Examples
    /// ```
    /// let (a, _b) = blade_socket::blocking::Socket::pair()?;
    /// a.shutdown(blade_socket::SHUT_WR)?;
    /// assert!(a.is_shutdown());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.inner.is_shutdown()
    }
    /// The directions shut so far (`None` if never): `Some(Both)` once both
    /// are, in either order.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::{SHUT_RD, SHUT_RDWR, SHUT_WR};
    /// let (a, _b) = blade_socket::blocking::Socket::pair()?;
    /// assert_eq!(a.shutdown_reason(), None);
    /// a.shutdown(SHUT_WR)?;
    /// a.shutdown(SHUT_RD)?;
    /// assert_eq!(a.shutdown_reason(), Some(SHUT_RDWR));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn shutdown_reason(&self) -> Option<Shutdown> {
        self.inner.shutdown_reason()
    }
    /// The send timeout: one deadline for a whole `send`, `send_to` or
    /// `send_file` call; `None` means no limit.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// assert_eq!(s.send_timeout(), None);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn send_timeout(&self) -> Option<Duration> {
        self.inner.send_timeout()
    }
    /// The receive timeout, which bounds `receive`, `receive_from` and
    /// `accept`; `None` means no limit.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// assert_eq!(s.receive_timeout(), None);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn receive_timeout(&self) -> Option<Duration> {
        self.inner.receive_timeout()
    }
    /// Whether the socket is in blocking mode (the default): calls wait, up to
    /// their timeouts. See [`set_blocking`](Socket::set_blocking).
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// assert!(s.is_blocking());
    /// s.set_blocking(false)?;
    /// assert!(!s.is_blocking());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn is_blocking(&self) -> bool {
        self.inner.is_blocking()
    }

    /// Connects to `host`:`port` (`connect(2)`), blocking up to `timeout`.
    ///
    /// `host` `None` means [`host()`](Socket::host) (the loopback of a new
    /// socket); `timeout` `None` means 300 s, as in Blade, and zero means no
    /// limit. Names are resolved and each address is tried in turn, all within
    /// the one timeout; an IPv6 socket connecting to a name races its IPv6 and
    /// IPv4 addresses (happy eyeballs). For a Unix-domain socket `host` is the
    /// path and `port` is ignored. On success `is_client()` and
    /// `is_connected()` are true and `host()`/`port()` are the peer's.
    ///
    /// # Errors
    /// `socket has existing connection` when already connected; `socket is in
    /// an illegal state` when closed or listening (the listener stays open).
    /// Any failure to connect closes the socket, as in Blade: the attempt's own
    /// OS error (`Connection refused`), `TimedOut`, or `AddressResolution` (a
    /// name that does not resolve is named in the message); when several
    /// addresses were tried, the message lists each.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use blade_socket::blocking::Socket;
    /// let mut server = Socket::tcp()?;
    /// server.bind(0, None)?;
    /// server.listen(None)?;
    /// let mut client = Socket::tcp()?;
    /// client.connect(Some("localhost"), server.port(), Some(Duration::from_secs(5)))?;
    /// assert!(client.is_connected());
    /// assert_eq!(client.host(), "127.0.0.1");
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

    /// Binds to `host`:`port` (`bind(2)`); port 0 asks for an ephemeral port.
    ///
    /// `host` `None` means the family's loopback; `"*"`, `""` and
    /// [`IP_ANY`](crate::IP_ANY) mean the family's wildcard; names are resolved.
    /// For a Unix-domain socket `host` is the path. Afterwards `is_bound()` is
    /// true and `host()`/`port()` hold the bound address and the real port.
    ///
    /// On an IPv4 or IPv6 stream socket it sets `SO_REUSEADDR` first, as
    /// std's, tokio's and asyncio's listeners do on Unix, so a server
    /// restarted while its old connections sit in TIME_WAIT binds at once;
    /// a user who set `SO_REUSEADDR` to `false` before keeps `false`.
    /// Datagram sockets are unchanged; `SO_REUSEPORT` is never set. So Linux
    /// lets a second TCP socket bind a port that a socket bound but not yet
    /// listening holds: the `Address already in use` then comes at
    /// [`listen`](Socket::listen).
    ///
    /// # Errors
    /// `socket previously bound` when already bound, listening or connected;
    /// `socket is in an illegal state` once closed; `Address already in use`;
    /// `AddressResolution` for a name that does not resolve or an address of
    /// another family than the socket's. The socket stays open on failure.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.bind(0, None)?;
    /// assert!(s.is_bound());
    /// assert_eq!(s.host(), "127.0.0.1");
    /// assert_ne!(s.port(), 0);
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
    /// the real port. It never waits. A TCP socket gets `SO_REUSEADDR` as
    /// with [`bind`](Socket::bind).
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

    /// Starts listening (`listen(2)`) with a backlog of `queue_length`
    /// (`None`: [`SOMAXCONN`](crate::SOMAXCONN)). The socket must be bound.
    ///
    /// # Errors
    /// `socket is in an illegal state`, with the cause: `(not bound)`,
    /// `(listening)`, `(connected)` or `(closed)`; `maximum queue length
    /// exceeded` above `SOMAXCONN`; the OS's error (for example on a datagram
    /// socket), such as `Address already in use` when another TCP socket
    /// listens on the port this one bound (both could bind it, with
    /// `SO_REUSEADDR`); the socket then stays open and bound.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.bind(0, None)?;
    /// s.listen(Some(16))?;
    /// assert!(s.is_listening());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn listen(&mut self, queue_length: Option<u32>) -> Result<()> {
        self.inner.listen(queue_length)
    }

    /// Accepts a connection (`accept4(2)`), blocking up to the receive timeout.
    ///
    /// The new socket is connected (`is_client()`), has the listener's family,
    /// type and protocol, the peer's `host()`/`port()`, no timeouts, and is in
    /// blocking mode. Out of descriptors (`EMFILE`), it waits and tries again
    /// (5 ms, doubling up to 1 s) instead of failing or spinning.
    ///
    /// # Errors
    /// `socket not bound/listening` when not listening; `socket is in an
    /// illegal state` once closed; `TimedOut` when the receive timeout passes
    /// (the listener is unharmed); `WouldBlock` in non-blocking mode with no
    /// connection pending.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let mut listener = Socket::tcp()?;
    /// listener.bind(0, None)?;
    /// listener.listen(None)?;
    /// let mut client = Socket::tcp()?;
    /// client.connect(None, listener.port(), None)?;
    /// let conn = listener.accept()?;
    /// assert!(conn.is_client());
    /// assert_eq!(conn.port(), client.info()?.port);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn accept(&self) -> Result<Socket> {
        run(self.inner.accept()).map(Socket::wrap)
    }

    /// Sends all of `message` (looping over partial writes), blocking up to the
    /// send timeout as one deadline for the whole call, and returns the byte
    /// count. An empty message returns `Ok(0)` (on a datagram socket it sends an
    /// empty datagram). In non-blocking mode it may return a partial count. It
    /// never raises `SIGPIPE`.
    ///
    /// # Errors
    /// `socket is in an illegal state` when closed or shut for writing;
    /// `socket not listening or connected` when not connected; `TimedOut` when
    /// the send timeout passes (the socket stays open); `WouldBlock` in
    /// non-blocking mode when nothing could be sent; the OS's error when the
    /// peer is gone (`Broken pipe`, `Connection reset by peer`), and then the
    /// socket is closed. After a partial send the error's
    /// [`bytes_sent`](crate::SocketError::bytes_sent) says how much went out.
    ///
    /// # Examples
    /// ```
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// assert_eq!(a.send(b"ping")?, 4);
    /// assert_eq!(b.receive(None)?.as_deref(), Some(&b"ping"[..]));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn send(&self, message: impl AsRef<[u8]>) -> Result<usize> {
        run(self.inner.send(message))
    }

    /// Streams `file`, from its current offset to its end, to the connected
    /// peer with `sendfile(2)` (zero-copy, never read into memory), blocking up
    /// to the send timeout, and advances the file's offset by the bytes sent;
    /// returns the byte count. A file already at its end sends 0. It never
    /// raises `SIGPIPE`.
    ///
    /// # Errors
    /// As [`send`](Socket::send); also the OS's error reading the file.
    ///
    /// # Examples
    /// ```
    /// use std::io::{Seek, Write};
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// let mut file = tempfile::tempfile().expect("a temporary file");
    /// file.write_all(b"file contents").expect("write");
    /// file.rewind().expect("rewind");
    /// assert_eq!(a.send_file(&file)?, 13);
    /// assert_eq!(b.receive(None)?.as_deref(), Some(&b"file contents"[..]));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn send_file(&self, file: &std::fs::File) -> Result<u64> {
        run(self.inner.send_file(file))
    }

    /// Blocks until data or end of file arrives (up to the receive timeout),
    /// then returns what is queued *now*: at most `length` bytes, or with `None`
    /// every byte queued at that moment (a snapshot, not a read until end of
    /// file). `Ok(None)` means the peer closed and nothing is left; the socket
    /// stays open. `Some(0)` returns empty bytes at once. On a datagram socket it
    /// returns one datagram (an empty one is `Some(empty)`). Binary-safe.
    ///
    /// # Errors
    /// `socket is in an illegal state` when closed or shut for reading;
    /// `socket not listening or connected` when not connected (a listener stays
    /// open); `TimedOut` when the receive timeout passes (the socket stays open
    /// and usable); `WouldBlock` in non-blocking mode with nothing queued;
    /// `Connection reset by peer`, and then the socket is closed.
    ///
    /// # Examples
    /// ```
    /// let (a, b) = blade_socket::blocking::Socket::pair()?;
    /// a.send("hello")?;
    /// drop(a);
    /// assert_eq!(b.receive(Some(1024))?.as_deref(), Some(&b"hello"[..]));
    /// assert_eq!(b.receive(None)?, None); // end of file
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn receive(&self, length: Option<usize>) -> Result<Option<Bytes>> {
        run(self.inner.receive(length))
    }

    /// Sends `message` as one datagram to `host`:`port` (`sendto(2)`),
    /// resolving `host` for the socket's family, blocking up to the send
    /// timeout; returns the byte count. For a Unix-domain datagram socket `host`
    /// is the path. On a stream socket it behaves as [`send`](Socket::send) and
    /// the address is ignored.
    ///
    /// # Errors
    /// As [`send`](Socket::send), except that an unconnected datagram socket is
    /// fine; `AddressResolution` when `host` does not resolve (the message names
    /// it) or is of another family than the socket.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let mut rx = Socket::udp()?;
    /// rx.bind(0, None)?;
    /// let tx = Socket::udp()?;
    /// assert_eq!(tx.send_to("127.0.0.1", rx.port(), b"hello")?, 5);
    /// assert_eq!(&rx.receive_from(None)?.data[..], b"hello");
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn send_to(&self, host: &str, port: u16, message: impl AsRef<[u8]>) -> Result<usize> {
        run(self.inner.send_to(host, port, message))
    }

    /// Receives one datagram with its sender (`recvfrom(2)`), blocking up to
    /// the receive timeout; `length` as in [`receive`](Socket::receive) (with
    /// `Some(n)`, the datagram's first `n` bytes, the rest discarded). The
    /// sender is `host`/`port`, or [`Datagram::sender`] as a `SocketAddr`. On a
    /// stream socket it receives as `receive` does, reports the peer, and at
    /// end of file returns empty `data`.
    ///
    /// # Errors
    /// As [`receive`](Socket::receive); a datagram socket needs a local address
    /// (bound, connected, or given one by an earlier `send_to`), else `socket
    /// not listening or connected`.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let mut rx = Socket::udp()?;
    /// rx.bind(0, None)?;
    /// let tx = Socket::udp()?;
    /// tx.send_to("127.0.0.1", rx.port(), "hi")?;
    /// let d = rx.receive_from(None)?;
    /// assert_eq!((&d.data[..], d.host.as_str()), (&b"hi"[..], "127.0.0.1"));
    /// # Ok::<(), blade_socket::SocketError>(())
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

    /// Closes the socket. Idempotent; dropping the socket also closes it.
    ///
    /// Afterwards `is_closed()` is true, `id()` is -1, and every operation but
    /// `close`, the properties and `Debug` fails with `socket is in an illegal
    /// state`. The shut directions, mode, timeouts, host, port, family, type
    /// and protocol keep their values. To close while another thread is
    /// blocked on the socket, use [`close_shared`](Socket::close_shared).
    ///
    /// # Errors
    /// None today; the `Result` is Blade's `bool`.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.close()?;
    /// s.close()?;
    /// assert!(s.is_closed() && s.id() == -1);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn close(&mut self) -> Result<()> {
        self.inner.close()
    }

    /// Sets an option (`setsockopt(2)` at level `SOL_SOCKET`).
    ///
    /// Flags take `bool` (or `0`/`1`); `SO_SNDBUF`, `SO_RCVBUF`, `SO_SNDLOWAT`,
    /// `SO_RCVLOWAT` take integers; `SO_SNDTIMEO`/`SO_RCVTIMEO` take a
    /// `Duration`, `None` or milliseconds (0 = none) and set the same value as
    /// [`set_send_timeout`](Socket::set_send_timeout) /
    /// [`set_receive_timeout`](Socket::set_receive_timeout) (kept by the
    /// library, not the OS); `SO_LINGER` takes `Some(Duration)` (rounded up to
    /// whole seconds; zero resets the connection on close), `None` (off) or
    /// whole seconds (`<= 0` off).
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; `InvalidArgument` `the given
    /// option is read-only` for `SO_TYPE`, `SO_ERROR`, `SO_ACCEPTCONN`;
    /// `InvalidArgument` for a value of the wrong kind or range, or an option
    /// this platform lacks; the OS's error when it refuses the option (the
    /// socket stays open).
    ///
    /// # Examples
    /// ```
    /// use blade_socket::{OptionValue, SO_REUSEADDR};
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.set_option(SO_REUSEADDR, true)?;
    /// assert_eq!(s.get_option(SO_REUSEADDR)?, OptionValue::Bool(true));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_option(
        &mut self,
        option: SocketOption,
        value: impl Into<OptionValue>,
    ) -> Result<()> {
        self.inner.set_option(option, value)
    }

    /// Reads an option (`getsockopt(2)` at level `SOL_SOCKET`). Flags read back
    /// as [`OptionValue::Bool`]; sizes, `SO_TYPE` and `SO_ERROR` (errno or 0;
    /// reading clears it) as [`OptionValue::Int`]; timeouts and `SO_LINGER` as
    /// [`OptionValue::Duration`].
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; `InvalidArgument` for an
    /// option this platform lacks; the OS's error.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::{OptionValue, SO_TYPE, SOCK_STREAM};
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// assert_eq!(s.get_option(SO_TYPE)?, OptionValue::Int(SOCK_STREAM.raw().into()));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn get_option(&self, option: SocketOption) -> Result<OptionValue> {
        self.inner.get_option(option)
    }

    /// Sets blocking (`true`, the default) or non-blocking mode. In
    /// non-blocking mode `accept`, `send`, `send_to`, `send_file`, `receive` and
    /// `receive_from` never wait: they fail with `WouldBlock` when nothing can
    /// be done now (`send` and `send_file` may return a partial count).
    /// `connect` always waits up to its timeout.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::ErrorKind;
    /// let (mut a, _b) = blade_socket::blocking::Socket::pair()?;
    /// a.set_blocking(false)?;
    /// assert_eq!(a.receive(None).unwrap_err().kind(), ErrorKind::WouldBlock);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_blocking(&mut self, mode: bool) -> Result<()> {
        self.inner.set_blocking(mode)
    }

    /// Sets the send timeout: one deadline for a whole `send`, `send_to` or
    /// `send_file` call. `None` or zero: no limit (zero reads back as `None`).
    /// The facade's timeouts run in real time.
    ///
    /// It takes `&self`, as std's `set_write_timeout` does: a socket shared
    /// in an `Arc` or lent to a writer can change it. Calls that start
    /// afterwards use the new value.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let s = blade_socket::blocking::Socket::tcp()?;
    /// s.set_send_timeout(Some(Duration::from_secs(2)));
    /// assert_eq!(s.send_timeout(), Some(Duration::from_secs(2)));
    /// s.set_send_timeout(Some(Duration::ZERO));
    /// assert_eq!(s.send_timeout(), None);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_send_timeout(&self, timeout: Option<Duration>) {
        self.inner.set_send_timeout(timeout)
    }

    /// Sets the receive timeout, which bounds `receive`, `receive_from` and
    /// `accept`. `None` or zero: no limit. The facade's timeouts run in real time.
    ///
    /// It takes `&self`, as std's `set_read_timeout` does, so a
    /// `BufReader::new(&sock)` or an `Arc<Socket>` can change it; calls that
    /// start afterwards use the new value.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = blade_socket::blocking::Socket::pair()?;
    /// a.set_receive_timeout(Some(Duration::from_millis(20)));
    /// assert!(a.receive(None).unwrap_err().is_timeout()); // nothing came
    /// assert!(!a.is_closed());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_receive_timeout(&self, timeout: Option<Duration>) {
        self.inner.set_receive_timeout(timeout)
    }

    /// Turns Nagle's algorithm off (`true`) or on (`TCP_NODELAY`, level
    /// `IPPROTO_TCP`). Request/response protocols want it on.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; the OS's error on a socket
    /// that is not TCP.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.set_nodelay(true)?;
    /// assert!(s.nodelay()?);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_nodelay(&mut self, on: bool) -> Result<()> {
        self.inner.set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; the OS's error on a socket
    /// that is not TCP.
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

    /// The local address (`getsockname(2)`): `address` (the IP, or a
    /// Unix-domain socket's path), `port` and `family`;
    /// [`SocketInfo::socket_addr`] gives it as a `SocketAddr`.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; the OS's error.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::blocking::Socket::tcp()?;
    /// s.bind(0, None)?;
    /// let info = s.info()?;
    /// assert_eq!((info.address.as_str(), info.port), ("127.0.0.1", s.port()));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn info(&self) -> Result<SocketInfo> {
        self.inner.info()
    }

    /// The remote address (`getpeername(2)`), as [`info`](Socket::info) gives
    /// the local one.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; `ENOTCONN` (`Transport
    /// endpoint is not connected`) when not connected.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::blocking::Socket;
    /// let mut server = Socket::tcp()?;
    /// server.bind(0, None)?;
    /// server.listen(None)?;
    /// let mut client = Socket::tcp()?;
    /// client.connect(None, server.port(), None)?;
    /// assert_eq!(client.peer_info()?.port, server.port());
    /// assert!(Socket::tcp()?.peer_info().is_err());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn peer_info(&self) -> Result<SocketInfo> {
        self.inner.peer_info()
    }
}
