//! Linux (and Android): the syscalls, options and structures that exist
//! only there. Everything here sits behind `cfg(any(target_os = "linux",
//! target_os = "android"))`, set once on the `mod` line in `sys.rs`.

use std::{
    io,
    mem::MaybeUninit,
    os::fd::{AsRawFd, BorrowedFd},
};

use super::noted_ending;

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
