//! What the kernel knows about a connection: `tcp_info` and `queued`. Each
//! figure is one syscall into a value on the stack; nothing is allocated.

use std::{os::fd::AsFd, time::Duration};

use super::{Socket, state::Phase};
use crate::{
    consts::AF_UNIX,
    error::{Result, SocketError},
};

/// The kernel's view of a TCP connection, from [`Socket::tcp_info`]: a
/// snapshot taken in one `getsockopt(TCP_INFO)` call.
///
/// Fields an OS does not report are `None`; the plain numbers are 0 there
/// (see each field).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// The smoothed round-trip time.
    pub rtt: Duration,
    /// The round-trip time's variation.
    pub rtt_var: Duration,
    /// The lowest round-trip time measured; `None` until measured (and on
    /// macOS).
    pub min_rtt: Option<Duration>,
    /// The congestion window, in segments (macOS reports bytes; converted
    /// with the MSS).
    pub cwnd: u32,
    /// The send MSS, in bytes.
    pub mss: u32,
    /// Segments retransmitted over the connection's life
    /// (`tcpi_total_retrans`, not the current back-off).
    pub retransmits: u64,
    /// Bytes the peer acknowledged (the kernel counts the SYN); `None` where
    /// the kernel does not say (Linux before 4.1).
    pub bytes_acked: Option<u64>,
    /// Bytes received (the kernel counts the peer's SYN); `None` where the
    /// kernel does not say.
    pub bytes_received: Option<u64>,
    /// The kernel's estimate of the delivery rate, in bytes per second;
    /// `None` where it does not say (Linux before 4.9, macOS).
    pub delivery_rate: Option<u64>,
}

/// Bytes waiting in the kernel's queues of a socket, from [`Socket::queued`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Queued {
    /// On TCP: bytes sent but not yet acknowledged by the peer, unsent
    /// included (`SIOCOUTQ`; macOS `SO_NWRITE`). On a Unix stream socket:
    /// kernel memory held by data the peer has not read yet.
    pub send: usize,
    /// On TCP (Linux): of [`send`](Queued::send), the bytes not sent yet
    /// (`SIOCOUTQNSD`); `None` on other OSes and other socket types.
    pub unsent: Option<usize>,
    /// Bytes readable now (`SIOCINQ`/`FIONREAD`); on a datagram socket, the
    /// size of the next datagram only.
    pub receive: usize,
}

/// `SIOCOUTQ` (Linux's `TIOCOUTQ` number).
#[cfg(any(target_os = "linux", target_os = "android"))]
const SIOCOUTQ: libc::c_ulong = libc::TIOCOUTQ as libc::c_ulong;
/// `SIOCOUTQNSD`.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SIOCOUTQNSD: libc::c_ulong = 0x894B;

impl Socket {
    /// The kernel's view of this TCP connection: round-trip time, congestion
    /// window, MSS, retransmissions, byte counts and delivery rate, read in
    /// one `getsockopt` (Linux `TCP_INFO`, macOS `TCP_CONNECTION_INFO`).
    /// A socket not yet connected returns what the kernel reports (zeros).
    ///
    /// # Errors
    /// `InvalidArgument` when the socket is not TCP; `socket is in an illegal
    /// state` once closed; `not supported on this platform` where the OS has
    /// no such call.
    ///
    /// # Platform notes
    /// Linux fills every field (older kernels leave the newer ones `None`);
    /// macOS has no `min_rtt` or `delivery_rate`, its `bytes_acked` counts
    /// bytes sent and `retransmits` is 0; FreeBSD reports rtt, cwnd, MSS and
    /// retransmitted packets, the rest `None`.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(s: &blade_socket::Socket) -> blade_socket::Result<()> {
    /// let info = s.tcp_info()?;
    /// println!("rtt {:?}, cwnd {} segments, {} retransmits", info.rtt, info.cwnd, info.retransmits);
    /// # Ok(()) }
    /// ```
    #[doc(alias = "TCP_INFO")]
    pub fn tcp_info(&self) -> Result<TcpInfo> {
        self.state.get().check_open()?;
        if !self.is_tcp() {
            return Err(SocketError::invalid("tcp_info needs a TCP socket"));
        }
        let io = self.io()?;
        tcp_info_of(io.sock().as_fd())
    }

    /// Bytes waiting in the kernel's queues: on TCP, sent but not yet
    /// acknowledged (`send`), of those not yet sent (`unsent`), and readable
    /// now (`receive`). Each figure is one `ioctl`; nothing is allocated.
    ///
    /// `send` reaching 0 after the last send means the peer has acknowledged
    /// everything: the moment a close loses nothing. On other socket types
    /// the kernel's figures mean something else: on a Unix stream socket,
    /// `send` is the kernel memory held for data the peer has not read; on a
    /// datagram socket `receive` is the size of the next datagram only.
    ///
    /// # Errors
    /// `InvalidArgument` on a listener; `socket is in an illegal state` once
    /// closed; `not supported on this platform` where the OS lacks the calls.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(s: &blade_socket::Socket) -> blade_socket::Result<()> {
    /// s.send(b"last words").await?;
    /// while s.queued()?.send > 0 {
    ///     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    /// }
    /// # Ok(()) }
    /// ```
    #[doc(alias("SIOCOUTQ", "SIOCINQ", "FIONREAD"))]
    pub fn queued(&self) -> Result<Queued> {
        let st = self.state.get();
        st.check_open()?;
        if st.phase == Phase::Listening {
            return Err(SocketError::invalid(
                "queued needs a socket that is not listening",
            ));
        }
        let io = self.io()?;
        queued_of(io.sock().as_fd(), self.is_tcp(), self.family == AF_UNIX)
    }

    /// The fields a closing TCP connection's debug event carries: one
    /// `getsockopt`, asked only when that level is enabled.
    pub(super) fn closing_info(&self) -> Option<TcpInfo> {
        if !self.is_tcp() || self.state.get().is_closed() {
            return None;
        }
        let io = self.io.get()?;
        tcp_info_of(io.sock().as_fd()).ok()
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn tcp_info_of(fd: std::os::fd::BorrowedFd<'_>) -> Result<TcpInfo> {
    let (i, len) = crate::sys::tcp_info(fd)?;
    // A field is reported when the kernel wrote it whole.
    macro_rules! has {
        ($f:ident) => {
            len >= std::mem::offset_of!(crate::sys::LinuxTcpInfo, $f) + std::mem::size_of_val(&i.$f)
        };
    }
    let micros = |us: u32| Duration::from_micros(u64::from(us));
    Ok(TcpInfo {
        rtt: micros(i.rtt),
        rtt_var: micros(i.rttvar),
        min_rtt: (has!(min_rtt) && i.min_rtt != u32::MAX && i.min_rtt != 0)
            .then(|| micros(i.min_rtt)),
        cwnd: i.snd_cwnd,
        mss: i.snd_mss,
        retransmits: if has!(total_retrans) {
            u64::from(i.total_retrans)
        } else {
            0
        },
        bytes_acked: has!(bytes_acked).then_some(i.bytes_acked),
        bytes_received: has!(bytes_received).then_some(i.bytes_received),
        delivery_rate: has!(delivery_rate).then_some(i.delivery_rate),
    })
}

#[cfg(target_vendor = "apple")]
fn tcp_info_of(fd: std::os::fd::BorrowedFd<'_>) -> Result<TcpInfo> {
    let i = crate::sys::tcp_connection_info(fd)?;
    let ms = |v: u32| Duration::from_millis(u64::from(v));
    let mss = i.tcpi_maxseg;
    Ok(TcpInfo {
        rtt: ms(i.tcpi_srtt),
        rtt_var: ms(i.tcpi_rttvar),
        min_rtt: None,
        cwnd: i.tcpi_snd_cwnd.checked_div(mss).unwrap_or(0),
        mss,
        retransmits: 0,
        bytes_acked: Some(i.tcpi_txbytes),
        bytes_received: Some(i.tcpi_rxbytes),
        delivery_rate: None,
    })
}

#[cfg(target_os = "freebsd")]
fn tcp_info_of(fd: std::os::fd::BorrowedFd<'_>) -> Result<TcpInfo> {
    let i = crate::sys::freebsd_tcp_info(fd)?;
    let micros = |v: u32| Duration::from_micros(u64::from(v));
    let mss = i.tcpi_snd_mss;
    Ok(TcpInfo {
        rtt: micros(i.tcpi_rtt),
        rtt_var: micros(i.tcpi_rttvar),
        min_rtt: None,
        cwnd: i.tcpi_snd_cwnd.checked_div(mss).unwrap_or(0),
        mss,
        retransmits: u64::from(i.tcpi_snd_rexmitpack),
        bytes_acked: None,
        bytes_received: None,
        delivery_rate: None,
    })
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd"
)))]
fn tcp_info_of(_fd: std::os::fd::BorrowedFd<'_>) -> Result<TcpInfo> {
    Err(SocketError::invalid(
        "tcp_info is not supported on this platform",
    ))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn queued_of(fd: std::os::fd::BorrowedFd<'_>, tcp: bool, _unix: bool) -> Result<Queued> {
    Ok(Queued {
        send: crate::sys::ioctl_count(fd, SIOCOUTQ)?,
        unsent: if tcp {
            Some(crate::sys::ioctl_count(fd, SIOCOUTQNSD)?)
        } else {
            None
        },
        receive: crate::sys::ioctl_count(fd, libc::FIONREAD as libc::c_ulong)?,
    })
}

#[cfg(target_vendor = "apple")]
fn queued_of(fd: std::os::fd::BorrowedFd<'_>, _tcp: bool, _unix: bool) -> Result<Queued> {
    let send = crate::sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_NWRITE)?;
    Ok(Queued {
        send: usize::try_from(send).unwrap_or(0),
        unsent: None,
        receive: crate::sys::ioctl_count(fd, libc::FIONREAD as libc::c_ulong)?,
    })
}

#[cfg(target_os = "freebsd")]
fn queued_of(fd: std::os::fd::BorrowedFd<'_>, _tcp: bool, _unix: bool) -> Result<Queued> {
    Ok(Queued {
        send: crate::sys::ioctl_count(fd, libc::FIONWRITE)?,
        unsent: None,
        receive: crate::sys::ioctl_count(fd, libc::FIONREAD as libc::c_ulong)?,
    })
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd"
)))]
fn queued_of(_fd: std::os::fd::BorrowedFd<'_>, _tcp: bool, _unix: bool) -> Result<Queued> {
    Err(SocketError::invalid(
        "queued is not supported on this platform",
    ))
}
