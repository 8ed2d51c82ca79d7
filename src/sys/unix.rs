//! The portable ways, for every supported OS: what macOS and FreeBSD run,
//! and what Linux runs under `--cfg blade_socket_portable` (so that these
//! paths are tested here). socket2 does the work where it can: its
//! `Socket::new`, `pair` and `accept` set close-on-exec on every OS (and
//! `SO_NOSIGPIPE` on Apple's), with `accept4` where the OS has it.

use std::{
    io,
    os::fd::{AsFd, BorrowedFd},
};

use super::{MmsgHdr, set_nonblocking};

/// No `sendmmsg`/`recvmmsg`, UDP GSO or GRO: batches move one datagram per
/// syscall.
pub(crate) const OFFLOADS: bool = false;

/// No abstract Unix-domain names (`@name`): a Linux feature.
pub(crate) const ABSTRACT_NAMES: bool = false;

/// A new socket, close-on-exec, then made non-blocking.
pub(crate) fn socket(
    domain: socket2::Domain,
    ty: socket2::Type,
    proto: Option<socket2::Protocol>,
) -> io::Result<socket2::Socket> {
    let s = socket2::Socket::new(domain, ty, proto)?;
    set_nonblocking(s.as_fd(), true)?;
    Ok(s)
}

/// A connected pair of Unix-domain sockets, close-on-exec and non-blocking.
pub(crate) fn pair(ty: socket2::Type) -> io::Result<(socket2::Socket, socket2::Socket)> {
    let (a, b) = socket2::Socket::pair(socket2::Domain::UNIX, ty, None)?;
    set_nonblocking(a.as_fd(), true)?;
    set_nonblocking(b.as_fd(), true)?;
    Ok((a, b))
}

/// socket2's `accept` (close-on-exec), then the blocking mode set either
/// way: BSD connections inherit the listener's `O_NONBLOCK`, Linux ones do not.
pub(crate) fn accept(
    s: &socket2::Socket,
    blocking_fd: bool,
) -> io::Result<(socket2::Socket, socket2::SockAddr)> {
    let (conn, addr) = s.accept()?;
    set_nonblocking(conn.as_fd(), !blocking_fd)?;
    Ok((conn, addr))
}

/// The socket's family, from its local address (`getsockname(2)` reports
/// the family even for an unbound socket): macOS has no `SO_DOMAIN`.
pub(crate) fn domain(s: &socket2::Socket) -> io::Result<socket2::Domain> {
    Ok(s.local_addr()?.domain())
}

/// The socket's protocol: `SO_PROTOCOL` where the OS has it (FreeBSD);
/// elsewhere TCP for an IP stream and UDP for an IP datagram socket, and
/// unknown (`None`) otherwise.
pub(crate) fn protocol(s: &socket2::Socket) -> io::Result<Option<socket2::Protocol>> {
    #[cfg(target_os = "freebsd")]
    return s.protocol();
    #[cfg(not(target_os = "freebsd"))]
    {
        let ip = matches!(domain(s)?, socket2::Domain::IPV4 | socket2::Domain::IPV6);
        let ty = s.r#type()?;
        Ok(match () {
            () if ip && ty == socket2::Type::STREAM => Some(socket2::Protocol::TCP),
            () if ip && ty == socket2::Type::DGRAM => Some(socket2::Protocol::UDP),
            () => None,
        })
    }
}

/// The size of the next datagram, peeked: a `MSG_TRUNC` peek reports the
/// real length on Linux only, so this peeks into a buffer (first the size
/// `FIONREAD` reports, which the BSDs count over every queued datagram)
/// and grows it while the kernel marks the peek truncated. `WouldBlock`
/// when none is queued; 0 for an empty datagram or a record socket's end of
/// file, as on Linux.
pub(crate) fn datagram_len(s: &socket2::Socket, flags: i32) -> io::Result<usize> {
    /// Past this a datagram is sized by its prefix (no OS queues one so big).
    const MAX: usize = 64 << 20;
    // Some families (netlink) have no FIONREAD: start small and grow.
    let mut size = super::bytes_queued(s.as_fd())
        .unwrap_or(0)
        .clamp(2048, MAX);
    loop {
        let mut buf = vec![0u8; size];
        let mut name = super::RecvName::new();
        let m = super::recv_msg(s, &mut buf, flags | libc::MSG_PEEK, &mut name)?;
        if !m.truncated || size >= MAX {
            return Ok(m.len);
        }
        size = size.saturating_mul(4).min(MAX);
    }
}

/// No `UDP_GRO` here.
pub(crate) fn enable_gro(_fd: BorrowedFd<'_>) -> io::Result<()> {
    Err(unsupported())
}

/// No `sendmmsg(2)` here: `ENOSYS`, as from a kernel without it, which the
/// callers already answer with one datagram per call.
///
/// # Safety
/// None needed; `unsafe` to match the Linux function.
pub(crate) unsafe fn sendmmsg(_fd: i32, _msgs: &mut [MmsgHdr], _flags: i32) -> io::Result<usize> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// No `recvmmsg(2)` here: `ENOSYS`, as for [`sendmmsg`].
///
/// # Safety
/// None needed; `unsafe` to match the Linux function.
pub(crate) unsafe fn recvmmsg(_fd: i32, _msgs: &mut [MmsgHdr], _flags: i32) -> io::Result<usize> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// No UDP GSO here: `EINVAL`, as from a kernel that refuses it, which the
/// caller answers with plain datagrams.
///
/// # Safety
/// None needed; `unsafe` to match the Linux function.
pub(crate) unsafe fn set_segment(_hdr: &mut libc::msghdr, _segment: u16) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::EINVAL))
}

/// No UDP GRO here: no control message carries a segment size.
///
/// # Safety
/// None needed; `unsafe` to match the Linux function.
pub(crate) unsafe fn gro_segment(_c: *const libc::cmsghdr) -> Option<usize> {
    None
}

/// The error for what this OS lacks.
pub(crate) fn unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "not supported on this platform")
}
