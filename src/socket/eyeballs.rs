//! Happy eyeballs (RFC 8305): connection attempts to a name's addresses,
//! staggered by 250 ms and racing, so a dead address family costs 250 ms
//! rather than a whole connect timeout.
//!
//! Each attempt after the first needs a descriptor of its own; the winner's
//! replaces the socket's (with its options copied), the losers are closed.

use std::{io, os::fd::AsFd, sync::Arc, time::Duration};

use socket2::SockAddr;
use tokio::time::Instant;

use super::Socket;
use crate::{
    driver::Wait,
    error::{Result, SocketError},
    sys::{self, Io},
};

/// RFC 8305's recommended "connection attempt delay".
const STAGGER: Duration = Duration::from_millis(250);

/// A connection attempt in flight.
struct Attempt {
    io: Arc<Io>,
    addr: SockAddr,
}

/// How an attempt stands after a non-blocking check.
enum Progress {
    Connected,
    Failed(SocketError),
    Pending,
}

/// The `int` options a new attempt's socket copies from the user's socket,
/// as (level, name): every one `set_option` can set, and the TCP, IPv4 and
/// IPv6 ones a user may have set through `with_sockref`. (Buffer sizes and
/// `SO_LINGER` need conversions: see [`Template`].) The OS's own ones
/// (`SO_MARK`, `TCP_USER_TIMEOUT`, ... on Linux) follow in
/// [`sys::COPIED_OPTIONS`].
const COPIED: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SO_DEBUG),
    (libc::SOL_SOCKET, libc::SO_REUSEADDR),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
    (libc::SOL_SOCKET, libc::SO_DONTROUTE),
    (libc::SOL_SOCKET, libc::SO_BROADCAST),
    (libc::SOL_SOCKET, libc::SO_OOBINLINE),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMP),
    (libc::SOL_SOCKET, libc::SO_RCVLOWAT),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
    (libc::IPPROTO_TCP, libc::TCP_MAXSEG),
    (libc::IPPROTO_IP, libc::IP_TOS),
    (libc::IPPROTO_IP, libc::IP_TTL),
    (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
    (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS),
];

/// The options a new attempt's socket copies from the user's socket.
#[derive(Debug, Default)]
struct Template {
    /// The `COPIED` options that differ from a new socket's defaults.
    ints: Vec<(i32, i32, i32)>,
    linger: Option<Option<Duration>>,
    send_buffer: Option<usize>,
    recv_buffer: Option<usize>,
}

impl Template {
    fn read(s: &socket2::Socket) -> Template {
        // Only what the user changed: a fresh socket shows the defaults.
        let fresh = sys::domain(s)
            .and_then(|d| socket2::Socket::new(d, s.r#type()?, sys::protocol(s)?))
            .ok();
        let ints = COPIED
            .iter()
            .chain(sys::COPIED_OPTIONS)
            .filter_map(|&(level, name)| {
                let v = sys::getsockopt_int(s.as_fd(), level, name).ok()?;
                let default = fresh
                    .as_ref()
                    .and_then(|f| sys::getsockopt_int(f.as_fd(), level, name).ok());
                (default != Some(v)).then_some((level, name, v))
            })
            .collect();
        Template {
            ints,
            linger: s.linger().ok(),
            // Linux reports twice the size asked for; ask for half again.
            send_buffer: s.send_buffer_size().ok().map(|n| n / 2),
            recv_buffer: s.recv_buffer_size().ok().map(|n| n / 2),
        }
    }

    /// A new socket like `s`, with its options; each option is best effort.
    fn make(&self, like: &socket2::Socket) -> io::Result<socket2::Socket> {
        let s = sys::socket(sys::domain(like)?, like.r#type()?, sys::protocol(like)?)?;
        for &(level, name, value) in &self.ints {
            let _ = sys::setsockopt_int(s.as_fd(), level, name, value);
        }
        if let Some(v) = self.linger {
            let _ = s.set_linger(v);
        }
        if let Some(v) = self.send_buffer.filter(|n| *n > 0) {
            let _ = s.set_send_buffer_size(v);
        }
        if let Some(v) = self.recv_buffer.filter(|n| *n > 0) {
            let _ = s.set_recv_buffer_size(v);
        }
        Ok(s)
    }
}

impl Attempt {
    /// Starts connecting `io` to `addr`.
    fn start(io: Arc<Io>, addr: SockAddr) -> std::result::Result<(Attempt, Progress), SocketError> {
        let progress = match io.sock().connect(&addr) {
            Ok(()) => Progress::Connected,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Progress::Pending,
            Err(e) => Progress::Failed(e.into()),
        };
        Ok((Attempt { io, addr }, progress))
    }

    /// The handshake's outcome so far, without waiting.
    fn check(&self) -> Progress {
        match super::connect::handshake_done(self.io.sock()) {
            Ok(()) => Progress::Connected,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Progress::Pending,
            Err(e) => Progress::Failed(e.into()),
        }
    }
}

/// The outcome of a race: the winning descriptor and address, or every
/// address's failure.
pub(super) type RaceResult = std::result::Result<(Arc<Io>, SockAddr), Vec<(SockAddr, SocketError)>>;

impl Socket {
    /// Races connection attempts to `addrs` (already in RFC 8305 order), the
    /// first on `own`, each later one on a new socket, started 250 ms after
    /// the previous one or as soon as it fails. A timeout is an `Err`.
    pub(super) async fn race(
        &self,
        own: Arc<Io>,
        addrs: Vec<SockAddr>,
        wait: Wait,
    ) -> Result<RaceResult> {
        let template = Template::read(own.sock());
        let mut own = Some(own);
        let mut queue = addrs.into_iter();
        let mut live: Vec<Attempt> = Vec::new();
        let mut failures = Vec::new();
        let mut next_start = Instant::now();
        loop {
            // Start the next attempt when its turn has come, or at once when
            // nothing is in flight.
            while live.is_empty() || Instant::now() >= next_start {
                let Some(addr) = queue.next() else { break };
                let io = match own.take() {
                    Some(io) => io,
                    None => match template.make(self.io()?.sock()) {
                        Ok(s) => Arc::new(Io::new(s)),
                        Err(e) => {
                            failures.push((addr, e.into()));
                            continue;
                        }
                    },
                };
                tracing::debug!(fd = self.fd, addr = ?addr.as_socket(), "connect attempt");
                let (attempt, progress) = Attempt::start(io, addr)?;
                next_start = Instant::now() + STAGGER;
                match progress {
                    Progress::Connected => return Ok(Ok((attempt.io, attempt.addr))),
                    Progress::Failed(e) => failures.push((attempt.addr, e)),
                    Progress::Pending => live.push(attempt),
                }
            }
            let mut i = 0;
            while i < live.len() {
                match live[i].check() {
                    Progress::Connected => {
                        let won = live.swap_remove(i);
                        return Ok(Ok((won.io, won.addr)));
                    }
                    Progress::Failed(e) => {
                        let lost = live.swap_remove(i);
                        tracing::debug!(fd = self.fd, addr = ?lost.addr.as_socket(), error = %e, "connect attempt failed");
                        failures.push((lost.addr, e));
                        next_start = Instant::now();
                    }
                    Progress::Pending => i += 1,
                }
            }
            let more = queue.len() > 0;
            if live.is_empty() {
                if more {
                    continue;
                }
                return Ok(Err(failures));
            }
            let until = more.then_some(next_start);
            let ios: Vec<&Io> = live.iter().map(|a| &*a.io).collect();
            wait.any_writable(&ios, until).await?;
        }
    }
}
