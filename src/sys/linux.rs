//! Linux (and Android): the syscalls, options and structures that exist
//! only there. Everything here sits behind `cfg(any(target_os = "linux",
//! target_os = "android"))`, set once on the `mod` line in `sys.rs`.

use std::{
    io,
    mem::MaybeUninit,
    os::fd::{AsRawFd, BorrowedFd, RawFd},
};

use tokio::io::unix::AsyncFd;

use super::{Fd, SigpipeGuard, noted_ending};

/// `TCP_CLOSE` in Linux's `tcp_states.h` (libc does not name the states).
pub(crate) const TCP_CLOSE: u8 = 7;

/// A TCP socket's state (`TCP_INFO`'s `tcpi_state`): `TCP_CLOSE` once reset,
/// `TCP_CLOSE_WAIT` (8) after the peer's clean close.
/// `TCP_INFO`.
fn tcp_state_info(fd: BorrowedFd<'_>) -> io::Result<libc::tcp_info> {
    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is valid for writes of `len` bytes, its size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: all-zero is a valid `tcp_info` (integers only), and the
    // kernel wrote at most its size over it.
    Ok(unsafe { info.assume_init() })
}

/// Called after a TCP receive read end of file: `Ok` after a clean close,
/// else the failure that ended the connection. Linux hands a reset (or a
/// timeout) to only one call, on whichever duplicate of the socket, and
/// another receive then reads end of file: the kernel tells them apart.
/// `CLOSE_WAIT` (the peer's FIN) is end of file. `CLOSE` follows a reset, a
/// keepalive or user timeout, and also a clean close whose FIN this side
/// sent (through `TIME_WAIT` or `LAST_ACK`). There: a pending error is the
/// answer; else what a call on any handle noted ([`note_ending`]): the
/// failure it was handed, or a FIN, which makes it clean; else an
/// unanswered keepalive probe or retransmission means a timeout
/// (`ETIMEDOUT`), and anything else a reset.
pub(crate) fn eof_or_reset(fd: BorrowedFd<'_>) -> io::Result<()> {
    let Ok(info) = tcp_state_info(fd) else {
        return Ok(());
    };
    if info.tcpi_state != TCP_CLOSE {
        return Ok(());
    }
    let sock = socket2::SockRef::from(&fd);
    if let Ok(Some(err)) = sock.take_error() {
        return Err(err);
    }
    let errno = match noted_ending(fd) {
        Some(0) => return Ok(()),
        Some(errno) => errno,
        None if info.tcpi_probes > 0 || info.tcpi_retransmits > 0 => libc::ETIMEDOUT,
        None => libc::ECONNRESET,
    };
    Err(io::Error::from_raw_os_error(errno))
}

/// The options (level, name) that only Linux has, which a happy-eyeballs
/// attempt copies from the user's socket besides the portable ones.
pub(crate) const COPIED_OPTIONS: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SO_PRIORITY),
    (libc::SOL_SOCKET, libc::SO_MARK),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
    (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
];

// ----- introspection, credentials, splice (see `sys.rs`'s beyond section) -----

/// Linux's `struct tcp_info` up to `tcpi_delivery_rate` (uapi `linux/tcp.h`).
/// libc's copy stops at `tcpi_max_pacing_rate`, before the fields asked for.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LinuxTcpInfo {
    pub(crate) state: u8,
    pub(crate) ca_state: u8,
    pub(crate) retransmits: u8,
    pub(crate) probes: u8,
    pub(crate) backoff: u8,
    pub(crate) options: u8,
    pub(crate) wscale: u8,
    pub(crate) app_limited: u8,
    pub(crate) rto: u32,
    pub(crate) ato: u32,
    pub(crate) snd_mss: u32,
    pub(crate) rcv_mss: u32,
    pub(crate) unacked: u32,
    pub(crate) sacked: u32,
    pub(crate) lost: u32,
    pub(crate) retrans: u32,
    pub(crate) fackets: u32,
    pub(crate) last_data_sent: u32,
    pub(crate) last_ack_sent: u32,
    pub(crate) last_data_recv: u32,
    pub(crate) last_ack_recv: u32,
    pub(crate) pmtu: u32,
    pub(crate) rcv_ssthresh: u32,
    pub(crate) rtt: u32,
    pub(crate) rttvar: u32,
    pub(crate) snd_ssthresh: u32,
    pub(crate) snd_cwnd: u32,
    pub(crate) advmss: u32,
    pub(crate) reordering: u32,
    pub(crate) rcv_rtt: u32,
    pub(crate) rcv_space: u32,
    pub(crate) total_retrans: u32,
    pub(crate) pacing_rate: u64,
    pub(crate) max_pacing_rate: u64,
    pub(crate) bytes_acked: u64,
    pub(crate) bytes_received: u64,
    pub(crate) segs_out: u32,
    pub(crate) segs_in: u32,
    pub(crate) notsent_bytes: u32,
    pub(crate) min_rtt: u32,
    pub(crate) data_segs_in: u32,
    pub(crate) data_segs_out: u32,
    pub(crate) delivery_rate: u64,
}

/// `getsockopt(TCP_INFO)` into a zeroed [`LinuxTcpInfo`]; also returns the
/// length the kernel wrote (an older kernel writes less: fields past it are
/// not reported).
pub(crate) fn tcp_info(fd: BorrowedFd<'_>) -> io::Result<(LinuxTcpInfo, usize)> {
    let mut info = LinuxTcpInfo::default();
    let mut len = std::mem::size_of::<LinuxTcpInfo>() as libc::socklen_t;
    // SAFETY: `info` is a plain `repr(C)` struct of integers, valid for
    // writes of `len` bytes; the kernel writes at most `len` and updates it.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((info, len as usize))
}

/// The peer's `(pid, uid, gid)` at connect time.
pub(crate) fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<(Option<i32>, u32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is valid for writes of `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // A socketpair made before any process could be named reports pid 0.
    Ok((Some(cred.pid).filter(|&p| p > 0), cred.uid, cred.gid))
}

/// A pipe for `splice(2)`: both ends non-blocking and close-on-exec.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) read: std::os::fd::OwnedFd,
    pub(crate) write: std::os::fd::OwnedFd,
    /// Its capacity in bytes.
    pub(crate) size: usize,
}

/// A pipe of `want` bytes if the kernel grants it, else the largest of
/// `want / 4`, `want / 16` (but at least 64 KiB) it grants; `None` when it
/// grants none of them (the per-user pipe budget is spent) or refuses a pipe
/// at all.
pub(crate) fn pipe(want: usize) -> Option<Pipe> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if r < 0 {
        return None;
    }
    // SAFETY: pipe2 succeeded: both descriptors are open and ours alone.
    let (read, write) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    for size in [want, want / 4, want / 16] {
        if size < 64 * 1024 {
            break;
        }
        let Ok(arg) = libc::c_int::try_from(size) else {
            continue;
        };
        // SAFETY: F_SETPIPE_SZ takes an int and touches no memory of ours.
        let got = unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETPIPE_SZ, arg) };
        if got >= arg {
            return Some(Pipe {
                read,
                write,
                size: got as usize,
            });
        }
    }
    None
}

/// `splice(2)` of up to `len` bytes from `from` to `to`, without waiting
/// (`SPLICE_F_NONBLOCK`). Writing to a socket raises no `SIGPIPE` when
/// `hold_sigpipe` (splice has no `MSG_NOSIGNAL`).
pub(crate) fn splice(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
    hold_sigpipe: bool,
) -> io::Result<usize> {
    let _guard = hold_sigpipe.then(SigpipeGuard::block);
    // SAFETY: both descriptors are borrowed and open; null offsets mean
    // "the descriptor's own position", which pipes and sockets require.
    let n = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// A descriptor the caller does not own (a pipe handed to `send_file`),
/// watched through the reactor by way of a duplicate, so that the caller's
/// own registration (if any) is not disturbed.
#[derive(Debug)]
pub(crate) struct Watched {
    // Dropped before `fd` (field order): see `Io`.
    reg: AsyncFd<Fd>,
    _fd: std::os::fd::OwnedFd,
}

impl Watched {
    /// Registers a duplicate of `fd` with the current runtime's reactor.
    pub(crate) fn new(fd: BorrowedFd<'_>) -> io::Result<Watched> {
        let dup = fd.try_clone_to_owned()?;
        let raw = Fd(dup.as_raw_fd());
        // SAFETY: `raw` is `dup`'s open descriptor; `dup` is owned by the
        // returned value and dropped after `reg` (field order), so the
        // descriptor stays open and means the same file while registered.
        let reg = unsafe { AsyncFd::register(raw) }.map_err(|e| e.into_parts().1)?;
        Ok(Watched { reg, _fd: dup })
    }

    /// Waits until the descriptor reads as readable (or hung up).
    pub(crate) async fn readable(&self) -> io::Result<()> {
        let mut g = self.reg.readable().await?;
        g.clear_ready();
        Ok(())
    }
}


/// Linux's own ways, which `--cfg blade_socket_portable` turns off so that
/// the portable ones in `sys/unix.rs` run (and are tested) on Linux.
#[cfg(not(blade_socket_portable))]
pub(crate) mod fast {
    use std::{io, os::fd::BorrowedFd};

    use super::super::{MmsgHdr, setsockopt_int};

    /// `sendmmsg`/`recvmmsg`, UDP GSO and GRO are worth trying.
    pub(crate) const OFFLOADS: bool = true;

    /// Abstract Unix-domain names (`@name`, a leading NUL in the path).
    pub(crate) const ABSTRACT_NAMES: bool = true;

    // `MmsgHdr` is passed to the kernel as an `mmsghdr`.
    const _: () = assert!(
        std::mem::size_of::<MmsgHdr>() == std::mem::size_of::<libc::mmsghdr>()
            && std::mem::align_of::<MmsgHdr>() == std::mem::align_of::<libc::mmsghdr>()
            && std::mem::offset_of!(MmsgHdr, msg_len)
                == std::mem::offset_of!(libc::mmsghdr, msg_len)
    );

    /// A new socket, non-blocking and close-on-exec from birth: one `socket(2)`.
    pub(crate) fn socket(
        domain: socket2::Domain,
        ty: socket2::Type,
        proto: Option<socket2::Protocol>,
    ) -> io::Result<socket2::Socket> {
        socket2::Socket::new(domain, ty.nonblocking().cloexec(), proto)
    }

    /// A connected pair of Unix-domain sockets, non-blocking from birth.
    pub(crate) fn pair(ty: socket2::Type) -> io::Result<(socket2::Socket, socket2::Socket)> {
        socket2::Socket::pair(socket2::Domain::UNIX, ty.nonblocking().cloexec(), None)
    }

    /// `accept4(2)`: the connection comes close-on-exec, and non-blocking
    /// unless `blocking_fd`, in one syscall.
    pub(crate) fn accept(
        s: &socket2::Socket,
        blocking_fd: bool,
    ) -> io::Result<(socket2::Socket, socket2::SockAddr)> {
        let flags = if blocking_fd {
            libc::SOCK_CLOEXEC
        } else {
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
        };
        s.accept4(flags)
    }

    /// The socket's family (`SO_DOMAIN`).
    pub(crate) fn domain(s: &socket2::Socket) -> io::Result<socket2::Domain> {
        s.domain()
    }

    /// The socket's protocol (`SO_PROTOCOL`).
    pub(crate) fn protocol(s: &socket2::Socket) -> io::Result<Option<socket2::Protocol>> {
        s.protocol()
    }

    /// The size of the next datagram, peeked with `MSG_TRUNC` (which makes
    /// Linux report its real length); `WouldBlock` when none is queued.
    pub(crate) fn datagram_len(s: &socket2::Socket, flags: i32) -> io::Result<usize> {
        s.recv_with_flags(&mut [], flags | libc::MSG_PEEK | libc::MSG_TRUNC)
    }

    /// Turns `UDP_GRO` on.
    pub(crate) fn enable_gro(fd: BorrowedFd<'_>) -> io::Result<()> {
        setsockopt_int(fd, libc::SOL_UDP, libc::UDP_GRO, 1)
    }

    /// `sendmmsg(2)` of every header in `msgs`: how many were sent.
    ///
    /// # Safety
    /// Every header's pointers (address, slices, control) are valid for the
    /// lengths it gives, for the whole call.
    pub(crate) unsafe fn sendmmsg(fd: i32, msgs: &mut [MmsgHdr], flags: i32) -> io::Result<usize> {
        let len = u32::try_from(msgs.len()).unwrap_or(u32::MAX);
        // SAFETY: `MmsgHdr` has `mmsghdr`'s layout (asserted above); the
        // caller vouches for the pointers inside.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr().cast(), len, flags) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// `recvmmsg(2)` into the headers of `msgs`: how many were filled.
    ///
    /// # Safety
    /// As for [`sendmmsg`], for writes.
    pub(crate) unsafe fn recvmmsg(fd: i32, msgs: &mut [MmsgHdr], flags: i32) -> io::Result<usize> {
        let len = u32::try_from(msgs.len()).unwrap_or(u32::MAX);
        // SAFETY: as in `sendmmsg`; a null timeout waits as `flags` say.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr().cast(),
                len,
                flags,
                std::ptr::null_mut(),
            )
        };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// Writes a `UDP_SEGMENT` control message of `segment` into `hdr`'s
    /// control buffer, and sets its length.
    ///
    /// # Safety
    /// `hdr.msg_control` points to at least `CMSG_SPACE(2)` zeroed bytes
    /// aligned for `cmsghdr`.
    pub(crate) unsafe fn set_segment(hdr: &mut libc::msghdr, segment: u16) -> io::Result<()> {
        // SAFETY: CMSG_SPACE is a pure size computation; the caller's buffer
        // holds that many bytes, so CMSG_FIRSTHDR is non-null and the header
        // and its 2 data bytes lie inside it.
        unsafe {
            hdr.msg_controllen = libc::CMSG_SPACE(2) as _;
            let c = libc::CMSG_FIRSTHDR(hdr);
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = libc::UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(2) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), segment);
        }
        Ok(())
    }

    /// The segment size a `UDP_GRO` control message `c` carries; `None`
    /// for any other message.
    ///
    /// # Safety
    /// `c` points to a whole control message the kernel wrote.
    pub(crate) unsafe fn gro_segment(c: *const libc::cmsghdr) -> Option<usize> {
        // SAFETY: the caller's `c` is readable; a UDP_GRO message carries one
        // int, read unaligned.
        unsafe {
            ((*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == libc::UDP_GRO).then(|| {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                usize::try_from(v).unwrap_or(0)
            })
        }
    }
}
