//! The async [`Socket`]: public API and docs; the work is in `connect`, `io`
//! and `state`.

// rustdoc lists `Socket`'s methods module by module, in the order of these
// declarations (this module's own last): the order a user meets them. A blank
// line between each keeps rustfmt from sorting them.
mod construct;

mod connect;

mod io;

mod datagram;

mod ending;

mod split;

mod convert;

mod batch;

mod introspect;

mod fds;

mod proxy;

// Internals, with no public methods.
mod eyeballs;
mod op;
mod state;
mod stream;
mod trace;

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
    sync::Arc,
    time::Duration,
};

use socket2::SockRef;

pub use self::split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub(crate) use self::state::Phase;
use self::state::{StateCell, merge_shut};
pub use self::{
    fds::{PeerCredentials, WithFds},
    introspect::{Queued, TcpInfo},
    proxy::copy_bidirectional,
};
use crate::{
    addr,
    consts::*,
    error::{NOT_CONNECTED, Result, SocketError},
    options::{self, Kind, OptionValue},
    sys::{Io, Slot},
    timeout::TimeoutCell,
};

/// An address a socket is bound or connected to, from [`Socket::info`] and
/// [`Socket::peer_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    /// The IP address as text (IPv6 without brackets), or a Unix-domain
    /// socket's path.
    pub address: String,
    /// The port (0 for a Unix-domain socket).
    pub port: u16,
    /// The address family.
    pub family: Family,
}

impl SocketInfo {
    /// The address as a [`SocketAddr`], for the `std::net` and tokio calls
    /// that take one (and for [`Socket::connect_addr`] and friends); `None`
    /// for a Unix-domain socket. An IPv6 scope id is not kept.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.bind(0, None).await?;
    /// let addr = s.info()?.socket_addr().expect("an IP socket");
    /// assert_eq!(addr, std::net::SocketAddr::from(([127, 0, 0, 1], s.port())));
    /// # Ok(()) }
    /// ```
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        if self.family != AF_INET && self.family != AF_INET6 {
            return None;
        }
        let ip = self.address.parse::<IpAddr>().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }
}

/// One datagram (or, on a stream socket, one receive) with its sender, from
/// [`Socket::receive_from`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// The bytes received.
    pub data: bytes::Bytes,
    /// The sender's IP address as text (a path for a Unix-domain socket).
    pub host: String,
    /// The sender's port.
    pub port: u16,
}

impl Datagram {
    /// The sender as a [`SocketAddr`], to answer with
    /// [`Socket::send_to_addr`]; `None` when the sender is not an IP
    /// address (a Unix-domain socket's path, or an unnamed one).
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use blade_socket::Socket;
    /// let mut server = Socket::udp()?;
    /// server.bind(0, None).await?;
    /// let client = Socket::udp()?;
    /// client.send_to("127.0.0.1", server.port(), "ping").await?;
    ///
    /// let d = server.receive_from(None).await?;
    /// let sender = d.sender().expect("a UDP sender");
    /// server.send_to_addr(sender, "pong").await?;     // answer it
    /// assert_eq!(&client.receive_from(None).await?.data[..], b"pong");
    /// # Ok(()) }
    /// ```
    pub fn sender(&self) -> Option<SocketAddr> {
        // A Unix-domain sender is a path: absolute, `@name` or unnamed (""),
        // none of which parses as IP text (a relative path spelling an IP
        // address would, but then it is taken for one).
        let ip = self.host.parse::<IpAddr>().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }
}

/// A socket on tokio's reactor: Blade's `Socket` class.
///
/// Any family, type and protocol; TCP and UDP over IPv4 and IPv6 are the
/// common cases ([`Socket::tcp`], [`Socket::udp`], [`Socket::tcp6`],
/// [`Socket::udp6`], [`Socket::unix`], [`Socket::unix_datagram`]). State
/// changes (`connect`, `bind`, `listen`, `close`, options) take `&mut self`;
/// I/O and [`shutdown`](Socket::shutdown) take `&self`, so one task may send
/// (and half-close) while another receives on an `Arc<Socket>`.
///
/// The socket is registered with the reactor of the runtime on which it first
/// has to wait; constructors, properties and non-async methods work on any
/// thread. Dropping it closes it.
///
/// # Examples
/// ```
/// use blade_socket::Socket;
///
/// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
/// let mut server = Socket::tcp()?;
/// server.bind(0, None).await?;            // 127.0.0.1, ephemeral port
/// server.listen(None)?;
///
/// let mut client = Socket::tcp()?;
/// client.connect(None, server.port(), None).await?;
/// let peer = server.accept().await?;
///
/// client.send("hello").await?;
/// assert_eq!(peer.receive(None).await?.as_deref(), Some(&b"hello"[..]));
/// # Ok(()) }
/// ```
pub struct Socket {
    /// The descriptor, shared with operations in flight: a failure seen by
    /// one of them closes the socket through `&self`, and the descriptor is
    /// released when the last of them lets go.
    io: Slot,
    fd: RawFd,
    state: StateCell,
    family: Family,
    ty: SockType,
    protocol: Protocol,
    port: u16,
    blocking: bool,
    parked: stream::Parked,
    /// Everything else, out of line: a `Socket` moved into a task (as
    /// every server does) keeps its future small.
    cold: Box<Cold>,
}

/// The parts of a [`Socket`] kept behind one pointer.
struct Cold {
    host: String,
    /// Whether the user set `SO_REUSEADDR`: `bind` of a TCP socket then
    /// leaves it as it is, instead of turning it on.
    reuseaddr_set: bool,
    send_timeout: TimeoutCell,
    receive_timeout: TimeoutCell,
    /// The timers of pending `AsyncRead`/`AsyncWrite` polls, made on first
    /// need (whether each direction has one is `Socket::parked`).
    timers: stream::Timers,
    /// The buffer small stream receives reuse (see `io::recv_reusing`).
    spare: std::sync::Mutex<io::Spare>,
    /// UDP offload state and datagrams read ahead, made on first use.
    batch: std::sync::OnceLock<Arc<batch::Offload>>,
    /// Test knob: `copy_bidirectional` acts as if pipes were refused.
    refuse_splice: std::sync::atomic::AtomicBool,
    /// The `errno` of an error a stream receive met after it had data to
    /// return, given to the next receive of any kind (the kernel reports it
    /// only once). 0: none. (A datagram read keeps its error in the
    /// offload's backlog, in its place among the datagrams.)
    kept: std::sync::atomic::AtomicI32,
}

impl Socket {
    fn from_parts(
        sock: socket2::Socket,
        family: Family,
        ty: SockType,
        protocol: Protocol,
        phase: Phase,
        host: String,
        port: u16,
    ) -> Socket {
        let fd = sock.as_raw_fd();
        let slot = Slot::new(Io::new(sock));
        Socket::with_slot(slot, fd, family, ty, protocol, phase, host, port)
    }

    #[allow(clippy::too_many_arguments)]
    fn with_slot(
        io: Slot,
        fd: RawFd,
        family: Family,
        ty: SockType,
        protocol: Protocol,
        phase: Phase,
        host: String,
        port: u16,
    ) -> Socket {
        Socket {
            fd,
            io,
            state: StateCell::new(phase),
            family,
            ty,
            protocol,
            port,
            blocking: true,
            parked: stream::Parked::default(),
            cold: Box::new(Cold {
                host,
                reuseaddr_set: false,
                send_timeout: TimeoutCell::new(),
                receive_timeout: TimeoutCell::new(),
                timers: stream::Timers::default(),
                spare: std::sync::Mutex::default(),
                kept: std::sync::atomic::AtomicI32::new(0),
                batch: std::sync::OnceLock::new(),
                refuse_splice: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    // ----- properties -------------------------------------------------------

    /// The host bound to (after `bind`), connected to (after `connect`: the
    /// peer's IP), or, on an accepted socket, the peer's IP. A new socket
    /// holds its family's loopback (`"127.0.0.1"`, `"::1"`, `""` for `AF_UNIX`).
    pub fn host(&self) -> String {
        self.cold.host.clone()
    }

    /// The port bound to (the real one, also after asking for port 0) or
    /// connected to; 0 for a new socket.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The socket type (Blade's `type` property).
    pub fn socket_type(&self) -> SockType {
        self.ty
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The raw descriptor; `-1` once closed.
    pub fn id(&self) -> i32 {
        if self.state.get().is_closed() {
            -1
        } else {
            self.fd
        }
    }

    /// Whether the socket is a connected client (connected, or accepted).
    pub fn is_client(&self) -> bool {
        self.state.get().phase == Phase::Connected
    }

    /// Whether the socket is bound: after [`bind`](Socket::bind), and still
    /// once listening (a listener is bound, as in Blade). A connected socket
    /// (by `connect`, or accepted) and a closed one are not.
    pub fn is_bound(&self) -> bool {
        self.state.get().is_bound()
    }

    /// Whether the socket is connected; false once both directions are shut.
    pub fn is_connected(&self) -> bool {
        self.state.get().is_connected()
    }

    /// Whether the socket is listening for connections.
    pub fn is_listening(&self) -> bool {
        self.state.get().phase == Phase::Listening
    }

    /// Whether the socket is closed.
    pub fn is_closed(&self) -> bool {
        self.state.get().is_closed()
    }

    /// Whether a direction has been shut down.
    pub fn is_shutdown(&self) -> bool {
        self.state.get().shut.is_some()
    }

    /// The directions shut so far: `Some(Both)` once both are, in either order.
    pub fn shutdown_reason(&self) -> Option<Shutdown> {
        self.state.get().shut
    }

    /// The send timeout (`None`: wait without limit).
    pub fn send_timeout(&self) -> Option<Duration> {
        self.cold.send_timeout.get()
    }

    /// The receive timeout, which also bounds `accept` (`None`: no limit).
    pub fn receive_timeout(&self) -> Option<Duration> {
        self.cold.receive_timeout.get()
    }

    /// Whether the socket is in blocking mode (the library's mode, not the
    /// descriptor's `O_NONBLOCK` flag, which is always set).
    pub fn is_blocking(&self) -> bool {
        self.blocking
    }

    // ----- state changes ----------------------------------------------------

    /// Shuts down one direction of the connection (`shutdown(2)`).
    ///
    /// After [`Shutdown::Write`] the peer reads end of file and
    /// [`receive`](Socket::receive) still works (a half-close); after
    /// [`Shutdown::Read`], [`send`](Socket::send) still works. Shutting a
    /// direction that is already shut succeeds again. Once both are shut,
    /// in either order, `shutdown_reason()` is `Some(Both)` and
    /// `is_connected()` false.
    ///
    /// It takes `&self`, as std's `TcpStream::shutdown` does: one task may
    /// half-close while another is receiving on the same socket.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed. On a socket that is not
    /// connected (a listener included): `ENOTCONN`, `Transport endpoint is
    /// not connected`, without calling the OS, and nothing changes.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let (a, b) = blade_socket::Socket::pair()?;
    /// a.send("request").await?;
    /// a.shutdown(blade_socket::SHUT_WR)?;          // b sees end of file
    /// assert_eq!(b.receive(None).await?.as_deref(), Some(&b"request"[..]));
    /// assert_eq!(b.receive(None).await?, None);
    /// b.send("reply").await?;                      // but can still answer
    /// assert_eq!(a.receive(None).await?.as_deref(), Some(&b"reply"[..]));
    /// # Ok(()) }
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        let st = self.state.get();
        st.check_open()?;
        if st.phase != Phase::Connected {
            return Err(SocketError::from_errno(libc::ENOTCONN));
        }
        let shut = merge_shut(st.shut, how);
        if Some(shut) == st.shut {
            return Ok(());
        }
        let os_how = match how {
            Shutdown::Read => std::net::Shutdown::Read,
            Shutdown::Write => std::net::Shutdown::Write,
            Shutdown::Both => std::net::Shutdown::Both,
        };
        let io = self.io()?;
        if how != Shutdown::Read && self.eof_may_be_reset() {
            // Our FIN: a duplicate's end of file in `CLOSE` is then clean.
            // Noted first: the peer's answer may close the connection, and
            // a duplicate read its end of file, before `shutdown` returns.
            crate::sys::note_ending(io.sock().as_fd(), 0);
        }
        io.sock().shutdown(os_how)?;
        self.state.add_shut(how);
        Ok(())
    }

    /// Closes the socket. Idempotent.
    ///
    /// Afterwards `is_closed()` is true, `id()` is -1, and every operation but
    /// `close`, the properties and `Debug` fails with `socket is in an illegal
    /// state`. The shut-down directions, mode, timeouts, host, port, family,
    /// type and protocol keep their values.
    ///
    /// # Errors
    /// None today; the `Result` is Blade's `bool`.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.close()?;
    /// s.close()?;
    /// assert!(s.is_closed() && s.id() == -1);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn close(&mut self) -> Result<()> {
        if !self.state.get().is_closed() {
            trace::lifecycle(self, "closed");
        }
        self.state.set_phase(Phase::Closed);
        self.clear_polls();
        self.io.close();
        Ok(())
    }

    /// Closes through a shared reference, for another task or thread than
    /// the one waiting on the socket: every operation pending on it wakes
    /// and fails with `socket is in an illegal state`, as does every later
    /// one. Otherwise it is [`close`](Socket::close): idempotent, with the
    /// same effect on the properties.
    ///
    /// It closes *this handle*, as `close(2)` closes one descriptor: it wakes
    /// the pending operations through the handle's own close signal, without
    /// touching the OS socket, so a duplicate ([`try_clone`](Socket::try_clone),
    /// `from_fd` of a `dup`) keeps working, a duplicated listener keeps
    /// listening, and the peer sees end of file only when the last handle
    /// closes. It wakes waits on every family, those without `shutdown(2)`
    /// (netlink, packet) included. To end the connection for every handle,
    /// use [`shutdown`](Socket::shutdown) (`SHUT_RDWR`) or
    /// [`abort`](Socket::abort). The descriptor itself is released once the
    /// last pending operation has returned (and the last [`SocketFd`] from
    /// [`fd`](Socket::fd) is dropped), so its number is never reused under
    /// them; a last close that may block (`SO_LINGER` on) runs off the
    /// runtime's worker threads.
    ///
    /// # Errors
    /// None today; the `Result` matches [`close`](Socket::close).
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use std::sync::Arc;
    /// let (a, _b) = blade_socket::Socket::pair()?;
    /// let a = Arc::new(a);
    /// let reader = tokio::spawn({
    ///     let a = Arc::clone(&a);
    ///     async move { a.receive(None).await }
    /// });
    /// a.close_shared()?;                     // from another task
    /// let err = reader.await.expect("task").unwrap_err();
    /// assert_eq!(err.message(), "socket is in an illegal state (closed)");
    /// # Ok(()) }
    /// ```
    pub fn close_shared(&self) -> Result<()> {
        self.end();
        Ok(())
    }

    /// Closes through `&self` (see [`close_shared`](Socket::close_shared)).
    fn end(&self) {
        if !self.state.get().is_closed() {
            trace::lifecycle(self, "closed");
        }
        self.state.set_phase(Phase::Closed);
        self.io.close_shared();
        // A pending poll_read/poll_write's wait may hold the descriptor (a
        // place in tokio's waiter list): drop it now, after the close
        // signal has woken it, so that a poll whose future was dropped
        // cannot keep the descriptor open. A live one ends at its next poll.
        self.release_polls();
    }

    /// Sets an option (`setsockopt(2)` at level `SOL_SOCKET`).
    ///
    /// Flags take `bool` (or `0`/`1`); `SO_SNDBUF`, `SO_RCVBUF`,
    /// `SO_SNDLOWAT`, `SO_RCVLOWAT` take integers (negative: `InvalidArgument`);
    /// `SO_SNDTIMEO`/`SO_RCVTIMEO`
    /// take a `Duration`, `None` or milliseconds (0 = none) and set the same
    /// value as [`set_send_timeout`](Socket::set_send_timeout) /
    /// [`set_receive_timeout`](Socket::set_receive_timeout) (kept by the
    /// library, not the OS); `SO_LINGER` takes `Some(Duration)` (rounded up to
    /// whole seconds; zero resets the connection on close), `None` (off) or
    /// whole seconds (`<= 0` off).
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; `InvalidArgument` `the
    /// given option is read-only` for `SO_TYPE`, `SO_ERROR`, `SO_ACCEPTCONN`;
    /// `InvalidArgument` for a value of the wrong kind or range, or an option
    /// this platform lacks; the OS's error when it refuses the option.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::{OptionValue, Socket, SO_KEEPALIVE};
    /// let mut s = Socket::tcp()?;
    /// s.set_option(SO_KEEPALIVE, true)?;
    /// assert_eq!(s.get_option(SO_KEEPALIVE)?, OptionValue::Bool(true));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias = "setsockopt")]
    pub fn set_option(
        &mut self,
        option: SocketOption,
        value: impl Into<OptionValue>,
    ) -> Result<()> {
        self.state.get().check_open()?;
        let value = value.into();
        match Kind::of(option)? {
            Kind::SendTimeout => self
                .cold
                .send_timeout
                .set(options::timeout_value(option, &value)?),
            Kind::ReceiveTimeout => self
                .cold
                .receive_timeout
                .set(options::timeout_value(option, &value)?),
            kind => {
                options::set_os(self.io_mut()?.sock(), option, kind, &value)?;
                if option == SO_REUSEADDR {
                    self.cold.reuseaddr_set = true;
                }
            }
        }
        Ok(())
    }

    /// Reads an option (`getsockopt(2)` at level `SOL_SOCKET`).
    ///
    /// Flags read back as [`OptionValue::Bool`]; sizes, `SO_TYPE` and
    /// `SO_ERROR` (errno or 0; reading clears it) as [`OptionValue::Int`];
    /// timeouts and `SO_LINGER` as [`OptionValue::Duration`].
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; `InvalidArgument` for an
    /// option this platform lacks; the OS's error.
    ///
    /// # Examples
    /// ```
    /// use blade_socket::{OptionValue, Socket, SO_TYPE, SOCK_STREAM};
    /// let s = Socket::tcp()?;
    /// assert_eq!(s.get_option(SO_TYPE)?, OptionValue::Int(SOCK_STREAM.raw().into()));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias = "getsockopt")]
    pub fn get_option(&self, option: SocketOption) -> Result<OptionValue> {
        self.state.get().check_open()?;
        match Kind::of(option)? {
            Kind::SendTimeout => Ok(OptionValue::Duration(self.cold.send_timeout.get())),
            Kind::ReceiveTimeout => Ok(OptionValue::Duration(self.cold.receive_timeout.get())),
            kind => options::get_os(self.io()?.sock(), option, kind),
        }
    }

    /// Sets blocking (`true`, the default) or non-blocking mode. In
    /// non-blocking mode `accept`, `send`, `send_to`, `send_file`, `receive`
    /// and `receive_from` never wait: they fail with `WouldBlock` when nothing
    /// can be done now (`send` and `send_file` may return a partial count).
    /// `connect` always waits up to its timeout.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.set_blocking(false)?;
    /// assert!(!s.is_blocking());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_blocking(&mut self, mode: bool) -> Result<()> {
        self.state.get().check_open()?;
        self.blocking = mode;
        Ok(())
    }

    /// Sets the send timeout: one deadline for a whole `send`, `send_to` or
    /// `send_file` call. `None` or zero: no limit.
    ///
    /// It takes `&self`, as std's `set_write_timeout` does: a socket shared
    /// in an `Arc`, lent to a writer, or split into halves (through their
    /// `as_ref()`) can change it. Calls that start afterwards use the new
    /// value; a call under way keeps the deadline it started with.
    ///
    /// # Examples
    /// ```
    /// # use std::time::Duration;
    /// let s = std::sync::Arc::new(blade_socket::Socket::tcp()?);
    /// s.set_send_timeout(Some(Duration::from_secs(2)));
    /// assert_eq!(s.send_timeout(), Some(Duration::from_secs(2)));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_send_timeout(&self, timeout: Option<Duration>) {
        self.cold
            .send_timeout
            .set(options::normalize_timeout(timeout));
    }

    /// Sets the receive timeout, which bounds `receive`, `receive_from` and
    /// `accept`. `None` or zero: no limit.
    ///
    /// It takes `&self`, as std's `set_read_timeout` does; calls that start
    /// afterwards use the new value. It bounds each receive, so it acts per
    /// direction: under a copy in both directions it would cut a stream that
    /// flows one way only (a download); bound the idle time of both
    /// directions with the `idle` argument of the crate's
    /// `copy_bidirectional(a, b, idle)` instead.
    ///
    /// # Examples
    /// ```
    /// # use std::time::Duration;
    /// let s = blade_socket::Socket::tcp()?;
    /// s.set_receive_timeout(Some(Duration::ZERO));
    /// assert_eq!(s.receive_timeout(), None);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn set_receive_timeout(&self, timeout: Option<Duration>) {
        self.cold
            .receive_timeout
            .set(options::normalize_timeout(timeout));
    }

    /// Turns Nagle's algorithm off (`true`) or on (`TCP_NODELAY`, level
    /// `IPPROTO_TCP`). Request/response protocols want it on.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; the OS's error on a
    /// socket that is not TCP.
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.set_nodelay(true)?;
    /// assert!(s.nodelay()?);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias = "TCP_NODELAY")]
    pub fn set_nodelay(&mut self, on: bool) -> Result<()> {
        self.state.get().check_open()?;
        Ok(self.io_mut()?.sock().set_tcp_nodelay(on)?)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; the OS's error on a
    /// socket that is not TCP.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::Socket::tcp()?;
    /// assert!(!s.nodelay()?);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn nodelay(&self) -> Result<bool> {
        self.state.get().check_open()?;
        Ok(self.io()?.sock().tcp_nodelay()?)
    }

    /// The local address (`getsockname(2)`).
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; the OS's error.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.bind(0, None).await?;
    /// let info = s.info()?;
    /// assert_eq!((info.address.as_str(), info.port), ("127.0.0.1", s.port()));
    /// # Ok(()) }
    /// ```
    #[doc(alias = "getsockname")]
    pub fn info(&self) -> Result<SocketInfo> {
        self.state.get().check_open()?;
        let local = self.io()?.sock().local_addr()?;
        Ok(self.socket_info(&local))
    }

    /// The remote address (`getpeername(2)`).
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; `ENOTCONN` when not connected.
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(s: &blade_socket::Socket) -> blade_socket::Result<()> {
    /// println!("talking to {}", s.peer_info()?.address);
    /// # Ok(()) }
    /// ```
    #[doc(alias = "getpeername")]
    pub fn peer_info(&self) -> Result<SocketInfo> {
        self.state.get().check_open()?;
        let peer = self.io()?.sock().peer_addr()?;
        Ok(self.socket_info(&peer))
    }

    fn socket_info(&self, a: &socket2::SockAddr) -> SocketInfo {
        let (address, port) = addr::host_port(a);
        let family = a.as_socket().map_or(self.family, |sa| addr::family_of(&sa));
        SocketInfo {
            address,
            port,
            family,
        }
    }

    // ----- plumbing ---------------------------------------------------------

    /// The descriptor, for an operation through `&self`.
    #[inline]
    fn io(&self) -> Result<Arc<Io>> {
        self.io.get().ok_or_else(|| self.state.closed_error())
    }

    /// The descriptor, for a state change through `&mut self` (no locking).
    fn io_mut(&mut self) -> Result<&Io> {
        self.io
            .get_mut()
            .map(|io| &**io)
            .ok_or_else(|| self.state.closed_error())
    }

    /// Drops the reactor registration so the next wait registers with the
    /// runtime it runs on (used when moving between the async and blocking faces).
    pub(crate) fn forget_reactor(&mut self) {
        // A pending `poll_read` whose future was dropped holds a place in
        // the registration's waiter list: give it back first.
        self.clear_polls();
        if let Some(io) = self.io.get_mut() {
            // An operation that leaked its future may still hold the `Io`;
            // then the registration stays (its runtime still drives it).
            // The async face needs `O_NONBLOCK` back (best effort: its
            // readiness loop also restores it).
            let _ = io.set_fd_blocking(false);
            if let Some(io) = Arc::get_mut(io) {
                io.deregister();
            }
        }
    }

    /// The checks before a datagram socket receives from any sender
    /// (`receive_from`, and every call like it): open, not shut for reading,
    /// and a local address to receive on: bound, connected, or given one by
    /// an earlier `send_to`. Without one nothing can ever arrive, so it fails
    /// at once with `socket not listening or connected` instead of waiting.
    pub(crate) fn check_datagram_receive(&self) -> Result<()> {
        self.check_receive(true)?;
        // A raw socket receives its protocol's packets without any address.
        // A fresh socket given one by a send keeps it: asked once.
        if self.state.is_fresh() && self.ty != SOCK_RAW && !self.offload().has_local() {
            let local = self.io()?.sock().local_addr();
            if !local.is_ok_and(|a| is_bound_addr(&a)) {
                return Err(SocketError::illegal(NOT_CONNECTED));
            }
            self.offload().note_local();
        }
        Ok(())
    }

    /// Whether a stream receive that reads end of file must ask the TCP
    /// state whether it was a reset instead ([`crate::sys::eof_or_reset`]): on a
    /// TCP socket whose write side is open. Once this side has shut it,
    /// `CLOSE` may also follow a clean close (through `TIME_WAIT`), so end of
    /// file stands.
    pub(crate) fn eof_may_be_reset(&self) -> bool {
        self.is_tcp() && !self.state.write_shut()
    }

    /// Whether this is a TCP socket (a stream over IPv4 or IPv6).
    pub(crate) fn is_tcp(&self) -> bool {
        self.ty == SOCK_STREAM && (self.family == AF_INET || self.family == AF_INET6)
    }

    /// Called in a receive's syscall after it read end of file, when
    /// [`eof_may_be_reset`](Socket::eof_may_be_reset): end of file (`Ok`),
    /// or the failure that ended the connection when another call, on this
    /// handle or on a duplicate, was handed it. The kernel is asked, never
    /// a count of this handle's calls (see [`crate::sys::eof_or_reset`]).
    pub(crate) fn eof_or_reset(&self, s: &socket2::Socket) -> std::io::Result<()> {
        crate::sys::eof_or_reset(s.as_fd())
    }

    /// The checks before any receive: the state allows it, and no error
    /// is kept from an earlier receive (which is returned now, once).
    #[inline]
    pub(crate) fn check_receive(&self, unconnected_ok: bool) -> Result<()> {
        self.state.check_receive(unconnected_ok)?;
        if self.cold.kept.load(std::sync::atomic::Ordering::Relaxed) != 0 {
            return Err(self.take_kept());
        }
        Ok(())
    }

    #[cold]
    fn take_kept(&self) -> SocketError {
        match self.cold.kept.swap(0, std::sync::atomic::Ordering::Relaxed) {
            0 => SocketError::from_errno(libc::EAGAIN),
            errno => self.fail(SocketError::from_errno(errno)),
        }
    }

    fn is_datagram(&self) -> bool {
        self.ty == SOCK_DGRAM || self.ty == SOCK_RAW || self.ty == SOCK_RDM
    }
}

/// Keeps `err` in `kept` unless it says only that nothing more is queued.
pub(crate) fn keep_error(kept: &std::sync::atomic::AtomicI32, err: &std::io::Error) {
    if let Some(errno) = err.raw_os_error() {
        if errno != libc::EAGAIN && errno != libc::EINTR {
            kept.store(errno, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn is_bound_addr(a: &socket2::SockAddr) -> bool {
    match a.as_socket() {
        Some(sa) => sa.port() != 0,
        None => a.as_pathname().is_some() || a.as_abstract_namespace().is_some(),
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.get();
        f.debug_struct("Socket")
            .field("fd", &self.id())
            .field("family", &self.family)
            .field("type", &self.ty)
            .field("protocol", &self.protocol)
            .field("phase", &st.phase)
            .field("shutdown", &st.shut)
            .field("host", &self.cold.host)
            .field("port", &self.port)
            .field("blocking", &self.blocking)
            .field("send_timeout", &self.cold.send_timeout)
            .field("receive_timeout", &self.cold.receive_timeout)
            .finish()
    }
}

/// The number alone, with nothing keeping the descriptor open: a close
/// through `&self` ([`Socket::close_shared`], or the crate's own close after
/// a reset) on another task can release it, and the OS may give the number
/// to a new descriptor. To use the descriptor, borrow it with
/// [`Socket::fd`], whose guard keeps it open.
impl AsRawFd for Socket {
    /// The descriptor; `-1` once closed. Prefer [`Socket::fd`] (see above).
    fn as_raw_fd(&self) -> RawFd {
        self.id()
    }
}

/// A socket's options through `socket2`, for options this API does not name.
/// Fails once closed.
impl Socket {
    /// Runs `f` with a [`socket2::SockRef`] to the descriptor, for options and
    /// calls this API does not cover.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; whatever `f` returns.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::Socket::tcp()?;
    /// let ttl = s.with_sockref(|r| r.ttl_v4())?;
    /// assert!(ttl > 0);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn with_sockref<R>(&self, f: impl FnOnce(SockRef<'_>) -> std::io::Result<R>) -> Result<R> {
        self.state.get().check_open()?;
        let io = self.io()?;
        Ok(f(SockRef::from(&io.sock().as_fd()))?)
    }

    /// The descriptor, lent while the returned guard lives: the guard keeps
    /// it open, as an operation in flight does, even if another task closes
    /// the socket meanwhile (the socket reads as closed; the number is not
    /// reused until the guard is dropped). A closed socket has no descriptor
    /// to lend, so this is why `Socket` does not implement `AsFd`.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed.
    ///
    /// # Examples
    /// ```
    /// use std::os::fd::{AsFd, AsRawFd};
    /// let mut s = blade_socket::Socket::tcp()?;
    /// let fd = s.fd()?;
    /// assert_eq!(socket2::SockRef::from(&fd.as_fd()).r#type()?, socket2::Type::STREAM);
    /// assert_eq!(fd.as_raw_fd(), s.id());
    /// drop(fd);
    /// s.close()?;
    /// assert!(s.fd().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fd(&self) -> Result<SocketFd<'_>> {
        self.state.get().check_open()?;
        Ok(SocketFd {
            io: self.io()?,
            _socket: std::marker::PhantomData,
        })
    }
}

/// A socket's descriptor, lent by [`Socket::fd`]: `AsFd` and `AsRawFd` for
/// the life of the guard, during which the descriptor stays open.
pub struct SocketFd<'a> {
    io: Arc<Io>,
    _socket: std::marker::PhantomData<&'a Socket>,
}

impl AsFd for SocketFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.sock().as_fd()
    }
}

impl AsRawFd for SocketFd<'_> {
    fn as_raw_fd(&self) -> RawFd {
        self.io.sock().as_raw_fd()
    }
}

impl fmt::Debug for SocketFd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketFd")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    /// What an idle connection's task holds (issue 10): a `Socket` moved
    /// into a task is stored there (twice, by an `async fn` taking it), so
    /// all but the fields every call reads are out of line.
    #[test]
    fn socket_stays_small() {
        assert!(
            size_of::<super::Socket>() <= 64,
            "{}",
            size_of::<super::Socket>()
        );
    }
}
