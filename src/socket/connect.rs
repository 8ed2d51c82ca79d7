//! Connection set-up: connect, bind, listen, accept.

use std::{net::SocketAddr, os::fd::AsRawFd, sync::Arc, time::Duration};

use tokio::io::Interest;
use tracing::Instrument;

use super::{Phase, Socket, trace};
use crate::{
    addr,
    consts::{AF_INET, AF_INET6, AF_UNIX, IP_ANY, SOCK_STREAM, SOMAXCONN},
    driver::{Wait, What},
    error::{
        CONNECTED, CloseCause, EXISTING_CONNECTION, LISTENING, NOT_BOUND, NOT_LISTENING,
        PREVIOUSLY_BOUND, QUEUE_TOO_LONG, Result, SocketError,
    },
    sys::{Io, Slot},
};

/// What `connect` was asked to reach: a host to resolve, or an address.
enum Target {
    Name(String),
    Addr(SocketAddr),
}

impl Target {
    /// The host as text, for `host()`, errors and the trace.
    fn host(&self) -> String {
        match self {
            Target::Name(h) => h.clone(),
            Target::Addr(a) => addr::ip_text(a.ip()),
        }
    }
}

/// Blade's default connect timeout.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(300);

impl Socket {
    /// Connects to `host`:`port` (`connect(2)`), within `timeout`.
    ///
    /// `host` `None` means [`host()`](Socket::host); `timeout` `None` means
    /// 300 s, and zero means no limit. Names are resolved (off the runtime's
    /// worker threads) and each address is tried in turn, all within the one
    /// timeout. For a Unix-domain socket `host` is the path and `port` is ignored.
    ///
    /// On a fresh (unbound) IPv6 stream socket, a name is resolved for both
    /// families and its addresses race as RFC 8305 ("happy eyeballs") asks:
    /// IPv6 first, the next attempt 250 ms later or as soon as one fails,
    /// IPv4 addresses reached as IPv4-mapped ones (`::ffff:a.b.c.d`). Attempts
    /// after the first use new descriptors with the socket's options copied;
    /// the winner's descriptor becomes the socket's ([`id`](Socket::id) may
    /// change), the others are closed. Literals are never mapped.
    ///
    /// On success `is_client()` and `is_connected()` are true and
    /// `host()`/`port()` are the peer's.
    ///
    /// # Errors
    /// `socket has existing connection` when already connected; `socket is in
    /// an illegal state` when closed or listening (the listener stays open).
    /// Any failure to connect closes the socket, as in Blade: `TimedOut`,
    /// `AddressResolution`, or the attempt's own OS error (`Connection
    /// refused`); when several addresses were tried, the message lists each.
    ///
    /// # Cancel safety
    /// Not cancel safe: a dropped connect leaves the attempt in flight; close
    /// the socket.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f() -> blade_socket::Result<()> {
    /// use std::time::Duration;
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.connect(Some("localhost"), 8080, Some(Duration::from_secs(5))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(
        &mut self,
        host: Option<&str>,
        port: u16,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let host = host.map_or_else(|| self.cold.host.clone(), str::to_owned);
        self.connect_to(Target::Name(host), port, timeout).await
    }

    /// Connects to `addr` (`connect(2)`), within `timeout`: [`connect`](Socket::connect)
    /// for a caller who already holds a [`SocketAddr`], with no name to resolve.
    ///
    /// `timeout` `None` means 300 s, and zero means no limit. On success
    /// `is_client()` and `is_connected()` are true and `host()`/`port()` are
    /// `addr`'s.
    ///
    /// # Errors
    /// As [`connect`](Socket::connect): `socket has existing connection`;
    /// `socket is in an illegal state` when closed or listening; and any
    /// failure closes the socket: the OS's error (`Connection refused`),
    /// `TimedOut`, or `AddressResolution` for an address of another family
    /// than the socket's (an IPv6 address on an `AF_INET` socket).
    ///
    /// # Cancel safety
    /// Not cancel safe: a dropped connect leaves the attempt in flight; close
    /// the socket.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use std::{net::SocketAddr, time::Duration};
    /// let mut server = blade_socket::Socket::tcp()?;
    /// server.bind_addr(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    /// server.listen(None)?;
    /// let addr = server.info()?.socket_addr().expect("an IP address");
    ///
    /// let mut client = blade_socket::Socket::tcp()?;
    /// client.connect_addr(addr, Some(Duration::from_secs(5))).await?;
    /// assert_eq!(client.peer_info()?.socket_addr(), Some(addr));
    /// # Ok(()) }
    /// ```
    pub async fn connect_addr(
        &mut self,
        addr: SocketAddr,
        timeout: Option<Duration>,
    ) -> Result<()> {
        self.connect_to(Target::Addr(addr), addr.port(), timeout)
            .await
    }

    /// `connect` and `connect_addr`: the state checks, the deadline, the
    /// attempts, and the new state.
    async fn connect_to(
        &mut self,
        target: Target,
        port: u16,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let st = self.state.get();
        st.check_open()?;
        match st.phase {
            Phase::Connected => return Err(SocketError::illegal(EXISTING_CONNECTION)),
            Phase::Listening => return Err(SocketError::illegal(LISTENING)),
            _ => {}
        }
        let wait = Wait::begin(Some(timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)))?;
        let host = target.host();
        let io = self.io()?;
        // A span over resolution and every attempt (happy eyeballs' events
        // nest in it); with no subscriber it is a disabled span, a no-op.
        let span = tracing::debug_span!("connect", fd = self.fd, family = ?self.family, host = %host, port);
        let result = self
            .connect_any(io, &target, port, wait)
            .instrument(span)
            .await;
        match result {
            Ok((peer, won)) => {
                if let Some(won) = won {
                    // Another attempt's socket won the race: it becomes ours.
                    self.fd = won.sock().as_raw_fd();
                    self.io = Slot::shared(won);
                }
                let (h, p) = addr::host_port(&peer);
                self.cold.host = if self.family == AF_UNIX { host } else { h };
                self.port = p;
                self.state.set_phase(Phase::Connected);
                if wait.in_place() && self.ty == SOCK_STREAM {
                    // Best effort: the non-blocking descriptor works as well, just slower.
                    let _ = self.io().map(|io| io.set_fd_blocking(true));
                }
                trace::connection(self, "connected", None);
                Ok(())
            }
            Err(e) => {
                tracing::debug!(fd = self.fd, host = %host, port, error = %e, "connect failed");
                self.state.note_cause(CloseCause::of(&e));
                self.end();
                Err(e)
            }
        }
    }

    /// Resolves `host` and connects to one of its addresses: each in turn,
    /// or racing them (happy eyeballs) when a fresh stream socket has
    /// several. Returns the peer, and the winning socket if not `io`.
    async fn connect_any(
        &self,
        io: Arc<Io>,
        target: &Target,
        port: u16,
        wait: Wait,
    ) -> Result<(socket2::SockAddr, Option<Arc<Io>>)> {
        let host = target.host();
        let host = host.as_str();
        let addrs = match target {
            Target::Name(name) => {
                addr::resolve_for_connect(name, port, self.family, self.ty, wait).await?
            }
            Target::Addr(a) => vec![addr::exact(*a, self.family, host)?],
        };
        let racing = addrs.len() > 1
            && self.ty == SOCK_STREAM
            && self.state.get().phase == Phase::Fresh
            && (self.family == AF_INET || self.family == AF_INET6);
        let failures = if racing {
            match self.race(Arc::clone(&io), addrs, wait).await? {
                Ok((won, peer)) => {
                    let other = (!Arc::ptr_eq(&won, &io)).then_some(won);
                    return Ok((peer, other));
                }
                Err(failures) => failures,
            }
        } else {
            let mut failures = Vec::new();
            for a in addrs {
                match connect_one(&io, &a, wait).await {
                    Ok(()) => return Ok((a, None)),
                    Err(e) if e.is_timeout() => return Err(e),
                    Err(e) => failures.push((a, e)),
                }
            }
            failures
        };
        Err(all_failed(host, failures))
    }

    /// Binds to `host`:`port` (`bind(2)`); port 0 asks for an ephemeral port.
    ///
    /// `host` `None` means the family's loopback; `"*"`, `""` and [`IP_ANY`]
    /// mean the family's wildcard; names are resolved. For a Unix-domain
    /// socket `host` is the path. Afterwards `is_bound()` is true and
    /// `host()`/`port()` hold the bound address and the real port.
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
    /// `socket previously bound` when already bound or listening; `socket has
    /// existing connection` when connected (nothing changes);
    /// `socket is in an illegal state (closed)` once closed; `Address already
    /// in use` (over a listening socket: see above),
    /// `AddressResolution`, or an address of the wrong family. The socket
    /// stays open on failure.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing changes until the final, synchronous bind.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.bind(0, Some(blade_socket::IP_ANY)).await?;
    /// assert_eq!(s.host(), "0.0.0.0");
    /// assert_ne!(s.port(), 0);
    /// # Ok(()) }
    /// ```
    pub async fn bind(&mut self, port: u16, host: Option<&str>) -> Result<()> {
        self.check_bindable()?;
        let wait = Wait::begin(None)?;
        let host = match host {
            None => addr::loopback(self.family),
            Some(h) if self.family == AF_UNIX => h,
            Some("*" | "") => addr::wildcard(self.family),
            Some(h) if h == IP_ANY => addr::wildcard(self.family),
            Some(h) => h,
        };
        let addrs = addr::resolve(host, port, self.family, self.ty, wait).await?;
        self.bind_any(&addrs, host)
    }

    /// Binds to `addr` (`bind(2)`): [`bind`](Socket::bind) for a caller who
    /// already holds a [`SocketAddr`]. Not `async`, as nothing is resolved,
    /// so it works on any thread. Port 0 asks for an ephemeral port; the
    /// unspecified IP (`0.0.0.0`, `::`) is the wildcard. Afterwards
    /// `is_bound()` is true and `host()`/`port()` hold the bound address
    /// and the real port. A TCP socket gets `SO_REUSEADDR` as with
    /// [`bind`](Socket::bind).
    ///
    /// # Errors
    /// As [`bind`](Socket::bind): `socket previously bound` when already
    /// bound or listening; `socket has existing connection` when connected;
    /// `socket is in an illegal state` once
    /// closed; `Address already in use`; `AddressResolution` for an address
    /// of another family than the socket's. The socket stays open on failure.
    ///
    /// # Examples
    /// ```
    /// use std::net::{Ipv6Addr, SocketAddr};
    /// let mut s = blade_socket::Socket::udp6()?;
    /// s.bind_addr(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))?;
    /// assert_eq!(s.host(), "::1");
    /// assert_ne!(s.port(), 0);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn bind_addr(&mut self, addr: SocketAddr) -> Result<()> {
        self.check_bindable()?;
        let host = addr::ip_text(addr.ip());
        let addrs = [addr::exact(addr, self.family, &host)?];
        self.bind_any(&addrs, &host)
    }

    /// `bind`'s state check: only a fresh socket may bind; a connected one
    /// says so.
    fn check_bindable(&self) -> Result<()> {
        let st = self.state.get();
        st.check_open()?;
        match st.phase {
            Phase::Fresh => Ok(()),
            Phase::Connected => Err(SocketError::illegal(EXISTING_CONNECTION)),
            _ => Err(SocketError::illegal(PREVIOUSLY_BOUND)),
        }
    }

    /// Binds to the first of `addrs` that the OS accepts; `host` is what
    /// the caller asked for (a Unix-domain socket's `host()` keeps it).
    fn bind_any(&mut self, addrs: &[socket2::SockAddr], host: &str) -> Result<()> {
        // As std's, tokio's and asyncio's listeners on Unix: a server that
        // closed its connections first (TIME_WAIT) binds again at once. A
        // user who set the flag (to false) before keeps it.
        let reuse = self.ty == SOCK_STREAM
            && (self.family == AF_INET || self.family == AF_INET6)
            && !self.cold.reuseaddr_set;
        let io = self.io_mut()?;
        if reuse {
            io.sock().set_reuse_address(true)?;
        }
        let mut result = Err(SocketError::no_address(host));
        for a in addrs {
            result = io.sock().bind(a).map_err(SocketError::from);
            if result.is_ok() {
                break;
            }
        }
        result?;
        let local = io.sock().local_addr()?;
        let (h, p) = addr::host_port(&local);
        self.cold.host = if self.family == AF_UNIX {
            host.to_owned()
        } else {
            h
        };
        self.port = p;
        self.state.set_phase(Phase::Bound);
        trace::lifecycle(self, "bound");
        Ok(())
    }

    /// Starts listening (`listen(2)`) with a backlog of `queue_length`
    /// (`None`: [`SOMAXCONN`]).
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
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.bind(0, None).await?;
    /// s.listen(Some(16))?;
    /// assert!(s.is_listening() && s.is_bound()); // a listener stays bound
    /// # Ok(()) }
    /// ```
    pub fn listen(&mut self, queue_length: Option<u32>) -> Result<()> {
        let st = self.state.get();
        st.check_open()?;
        match st.phase {
            Phase::Bound => {}
            Phase::Listening => return Err(SocketError::illegal(LISTENING)),
            Phase::Connected => return Err(SocketError::illegal(CONNECTED)),
            _ => return Err(SocketError::illegal(NOT_BOUND)),
        }
        let backlog = queue_length.unwrap_or(SOMAXCONN);
        if backlog > SOMAXCONN {
            return Err(SocketError::from(QUEUE_TOO_LONG));
        }
        let backlog = i32::try_from(backlog).map_err(|_| SocketError::from(QUEUE_TOO_LONG))?;
        self.io_mut()?.sock().listen(backlog)?;
        self.state.set_phase(Phase::Listening);
        trace::lifecycle(self, "listening");
        Ok(())
    }

    /// Accepts a connection (`accept4(2)`), waiting up to the receive timeout.
    ///
    /// The new socket is connected (`is_client()`), has the listener's family,
    /// type and protocol, the peer's `host()`/`port()`, no timeouts, and is in
    /// blocking mode. In non-blocking mode, with no connection pending, it
    /// fails with `WouldBlock`.
    ///
    /// # Errors
    /// `socket not bound/listening` when not listening; `socket is in an
    /// illegal state` once closed; `TimedOut` (the listener is unharmed).
    /// Out of descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`)
    /// it does not fail nor spin: it waits (5 ms, doubling up to 1 s) and
    /// tries again, within the receive timeout; in non-blocking mode it
    /// returns that error.
    ///
    /// # Cancel safety
    /// Cancel safe: a connection is taken from the queue only in the poll that
    /// returns it.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(listener: blade_socket::Socket) -> blade_socket::Result<()> {
    /// loop {
    ///     let conn = listener.accept().await?;
    ///     tokio::spawn(async move {
    ///         while let Ok(Some(data)) = conn.receive(None).await {
    ///             if conn.send(&data).await.is_err() { break; }
    ///         }
    ///     });
    /// }
    /// # }
    /// ```
    pub async fn accept(&self) -> Result<Socket> {
        let st = self.state.get();
        st.check_open()?;
        if st.phase != Phase::Listening {
            return Err(SocketError::illegal(NOT_LISTENING));
        }
        let call = self.begin(self.cold.receive_timeout.get())?;
        // The blocking facade's connections get a blocking descriptor (see `ready_io`).
        let blocking_fd = call.in_place() && self.ty == SOCK_STREAM;
        let mut backoff = FIRST_BACKOFF;
        let accepted = loop {
            match call
                .ready(self, Interest::READABLE, What::Accept, |s, _| {
                    accept_one(s, blocking_fd)
                })
                .await
            {
                // The connection stays queued and the listener stays readable,
                // so retrying at once would spin: wait, longer each time.
                Err(e) if self.blocking && out_of_resources(&e) => {
                    tracing::warn!(fd = self.fd, error = %e, ?backoff, "accept: out of descriptors or memory; backing off");
                    if let Err(e) = call.pause("accept", backoff).await {
                        break Err(e);
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                r => break r,
            }
        };
        let (sock, peer) = call.traced(self, "accept", accepted, |_| 0)?;
        let (host, port) = addr::host_port(&peer);
        let conn = Socket::from_parts(
            sock,
            self.family,
            self.ty,
            self.protocol,
            Phase::Connected,
            host,
            port,
        );
        if blocking_fd {
            if let Ok(io) = conn.io() {
                io.note_fd_blocking();
            }
        }
        trace::connection(&conn, "accepted", Some(self.fd));
        Ok(conn)
    }
}

impl Socket {
    /// The accepted connections, as a [`Stream`](futures::Stream): each item
    /// is one [`accept`](Socket::accept), so it waits up to the receive
    /// timeout, and backs off when descriptors run out.
    ///
    /// A timeout or a failed connection is an `Err` item and the stream goes
    /// on. It ends after an `IllegalState` item: the listener was closed, or
    /// is not listening. In non-blocking mode each item is one non-blocking
    /// `accept`, so an empty queue gives `WouldBlock` items (as std's
    /// `TcpListener::incoming` does): use blocking mode to wait.
    ///
    /// # Cancel safety
    /// Cancel safe, as `accept`: dropping a pending `next()` loses no connection.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(listener: blade_socket::Socket) {
    /// use futures::StreamExt;
    /// let mut incoming = std::pin::pin!(listener.incoming());
    /// while let Some(conn) = incoming.next().await {
    ///     match conn {
    ///         Ok(conn) => { tokio::spawn(async move { let _ = conn.send("hi\n").await; }); }
    ///         Err(e) => eprintln!("accept: {e}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn incoming(&self) -> impl futures::Stream<Item = Result<Socket>> + Send + '_ {
        futures::stream::unfold(Some(self), |listener| async move {
            let listener = listener?;
            let next = listener.accept().await;
            let go_on = !matches!(&next, Err(e) if e.kind() == crate::ErrorKind::IllegalState);
            Some((next, go_on.then_some(listener)))
        })
    }
}

/// The first and the longest pause of `accept` when it runs out of
/// descriptors or memory.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Errors that mean "no room for another connection now", which clear when
/// the process closes descriptors or frees memory.
fn out_of_resources(e: &SocketError) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Takes one connection from the queue, skipping any the client abandoned
/// while it waited there (Linux reports those as `ECONNABORTED`/`EPROTO`).
fn accept_one(
    s: &socket2::Socket,
    blocking_fd: bool,
) -> std::io::Result<(socket2::Socket, socket2::SockAddr)> {
    loop {
        match crate::sys::accept(s, blocking_fd) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EPROTO)) => {}
            r => return r,
        }
    }
}

/// The error for a connect whose every attempt failed: that attempt's own
/// error when there was one, else the last, with each address's failure listed.
fn all_failed(host: &str, mut failures: Vec<(socket2::SockAddr, SocketError)>) -> SocketError {
    match failures.len() {
        0 => SocketError::no_address(host),
        1 => failures.remove(0).1,
        n => {
            let list: Vec<String> = failures
                .iter()
                .map(|(a, e)| {
                    let (h, p) = addr::host_port(a);
                    format!("{h} port {p}: {e}")
                })
                .collect();
            let last = failures.remove(n - 1).1;
            last.with_message(format!("all {n} addresses failed: {}", list.join("; ")))
        }
    }
}

/// Whether a non-blocking connect has finished: `Ok` once connected, the
/// failure once it failed, `WouldBlock` while the handshake goes on.
///
/// A peer address means connected: one syscall in the common case (on
/// loopback the handshake is usually over before the first check). Without
/// one, `SO_ERROR` tells a failure from a handshake still going on.
pub(super) fn handshake_done(s: &socket2::Socket) -> std::io::Result<()> {
    match s.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => match s.take_error()? {
            Some(err) => Err(err),
            None => Err(std::io::ErrorKind::WouldBlock.into()),
        },
        Err(e) => Err(e),
    }
}

/// One connection attempt: start it, then wait for the handshake's outcome.
async fn connect_one(io: &Arc<Io>, addr: &socket2::SockAddr, wait: Wait) -> Result<()> {
    let started = match io.sock().connect(addr) {
        // After a failed non-blocking connect (an earlier address), Linux
        // reports that failure once more (`ECONNABORTED`, as its `SO_ERROR`
        // was already read) and only then resets the socket: connect again.
        Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => io.sock().connect(addr),
        r => r,
    };
    match started {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e.into()),
    }
    // On loopback the handshake has usually finished already: the first
    // check (before any wait) finds the peer.
    wait.ready(io, Interest::WRITABLE, true, What::Connect, |s, _| {
        handshake_done(s)
    })
    .await
}
