//! macOS and FreeBSD: the TCP state behind reset versus end of file, the
//! options only they have, and their `sendfile(2)`.

use std::{
    io,
    mem::MaybeUninit,
    os::fd::{AsRawFd, BorrowedFd},
};

/// `TCPS_CLOSED` in BSD's `tcp_fsm.h` (libc does not name the states).
const TCPS_CLOSED: u8 = 0;

/// The options (level, name) that only this OS has (or names its own way),
/// which a happy-eyeballs attempt copies besides the portable ones.
#[cfg(target_vendor = "apple")]
pub(crate) const COPIED_OPTIONS: &[(i32, i32)] = &[(libc::IPPROTO_TCP, libc::TCP_KEEPALIVE)];
#[cfg(target_os = "freebsd")]
pub(crate) const COPIED_OPTIONS: &[(i32, i32)] = &[(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)];

/// A TCP socket's state: macOS's `TCP_CONNECTION_INFO`.
#[cfg(target_vendor = "apple")]
fn tcp_state(fd: BorrowedFd<'_>) -> io::Result<u8> {
    Ok(tcp_connection_info(fd)?.tcpi_state)
}

/// A TCP socket's state: FreeBSD's `TCP_INFO`.
#[cfg(target_os = "freebsd")]
fn tcp_state(fd: BorrowedFd<'_>) -> io::Result<u8> {
    Ok(freebsd_tcp_info(fd)?.tcpi_state)
}

/// Called after a TCP receive read end of file: `Ok` after a clean close,
/// else the failure that ended the connection. A reset leaves the
/// connection `CLOSED` (a BSD kernel that has already dropped it answers the
/// query itself with `ECONNRESET`); a clean close by the peer leaves it in
/// `CLOSE_WAIT`. `CLOSED` is also where a FIN this side sent ends: as on
/// Linux, a pending error is the answer, else what a call on any handle
/// noted ([`super::note_ending`]), else a reset.
pub(crate) fn eof_or_reset(fd: BorrowedFd<'_>) -> io::Result<()> {
    match tcp_state(fd) {
        Ok(TCPS_CLOSED) => {}
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {}
        _ => return Ok(()),
    }
    if let Ok(Some(err)) = socket2::SockRef::from(&fd).take_error() {
        return Err(err);
    }
    match super::noted_ending(fd) {
        Some(0) => Ok(()),
        Some(errno) => Err(io::Error::from_raw_os_error(errno)),
        None => Err(io::Error::from_raw_os_error(libc::ECONNRESET)),
    }
}

/// `sendfile(2)` of up to `count` bytes of `file` from `offset` to the socket
/// `out`: how many were sent. On a non-blocking socket the BSDs report a
/// partial send as `EAGAIN` with the count beside it (which socket2's
/// wrapper drops); that count is returned here, so no byte goes twice.
pub(crate) fn sendfile(
    out: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: i64,
    count: usize,
) -> io::Result<usize> {
    #[cfg(target_vendor = "apple")]
    let (rc, sent) = {
        let mut len = libc::off_t::try_from(count).unwrap_or(libc::off_t::MAX);
        // SAFETY: both descriptors are borrowed and open; `len` is valid for
        // reads and writes; no header/trailer vector (null).
        let rc = unsafe {
            libc::sendfile(
                file.as_raw_fd(),
                out.as_raw_fd(),
                offset,
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        (rc, len)
    };
    #[cfg(target_os = "freebsd")]
    let (rc, sent) = {
        let mut sent: libc::off_t = 0;
        // SAFETY: both descriptors are borrowed and open; `sent` is valid for
        // writes; no header/trailer vector (null).
        let rc = unsafe {
            libc::sendfile(
                file.as_raw_fd(),
                out.as_raw_fd(),
                offset,
                count,
                std::ptr::null_mut(),
                &mut sent,
                0,
            )
        };
        (rc, sent)
    };
    let sent = usize::try_from(sent).unwrap_or(0);
    if rc < 0 {
        let err = io::Error::last_os_error();
        let partial = matches!(
            err.raw_os_error(),
            Some(libc::EAGAIN | libc::EINTR | libc::EBUSY)
        );
        if !(partial && sent > 0) {
            return Err(err);
        }
    }
    Ok(sent)
}

// ----- introspection and credentials (see `sys.rs`'s beyond section) -----

/// macOS's `TCP_CONNECTION_INFO`.
#[cfg(target_vendor = "apple")]
pub(crate) fn tcp_connection_info(fd: BorrowedFd<'_>) -> io::Result<libc::tcp_connection_info> {
    let mut info = MaybeUninit::<libc::tcp_connection_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_connection_info>() as libc::socklen_t;
    // SAFETY: `info` is valid for writes of `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONNECTION_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zeroed integers are a valid value; the kernel filled the rest.
    Ok(unsafe { info.assume_init() })
}

/// FreeBSD's `getsockopt(TCP_INFO)`.
#[cfg(target_os = "freebsd")]
pub(crate) fn freebsd_tcp_info(fd: BorrowedFd<'_>) -> io::Result<libc::tcp_info> {
    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is valid for writes of `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zeroed integers are a valid value; the kernel filled the rest.
    Ok(unsafe { info.assume_init() })
}

/// The peer's `(pid, uid, gid)`: `LOCAL_PEERCRED`, and on macOS `LOCAL_PEERPID`.
pub(crate) fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<(Option<i32>, u32, u32)> {
    let mut cred = MaybeUninit::<libc::xucred>::zeroed();
    let mut len = std::mem::size_of::<libc::xucred>() as libc::socklen_t;
    // SAFETY: `cred` is valid for writes of `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            0, // SOL_LOCAL
            libc::LOCAL_PEERCRED,
            cred.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zeroed integers are a valid value; the kernel filled the rest.
    let cred = unsafe { cred.assume_init() };
    let gid = if cred.cr_ngroups > 0 {
        cred.cr_groups[0]
    } else {
        0
    };
    #[cfg(target_vendor = "apple")]
    let pid = {
        let mut pid: libc::pid_t = 0;
        let mut len = std::mem::size_of::<libc::pid_t>() as libc::socklen_t;
        // SAFETY: `pid` is valid for writes of `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                0,
                libc::LOCAL_PEERPID,
                (&raw mut pid).cast(),
                &mut len,
            )
        };
        (r == 0 && pid > 0).then_some(pid)
    };
    #[cfg(not(target_vendor = "apple"))]
    let pid = None;
    Ok((pid, cred.cr_uid, gid))
}
