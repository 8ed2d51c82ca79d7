//! The only `unsafe` code in the crate: calls with no safe wrapper in std,
//! socket2 or tokio. Each block states why it is sound.
#![allow(unsafe_code)]

use std::{
    ffi::{CStr, CString},
    fmt, io,
    mem::MaybeUninit,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    task::Waker,
    time::Duration,
};

use bytes::BytesMut;
use tokio::io::{Interest, unix::AsyncFd};

// The OS modules. Linux's own ways (`linux::fast`) give way to the portable
// ones (`unix`) under `--cfg blade_socket_portable`, so those are tested here.
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
mod bsd;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    not(blade_socket_portable)
)))]
mod unix;

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub(crate) use bsd::{COPIED_OPTIONS, eof_or_reset};
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(blade_socket_portable)
))]
pub(crate) use linux::fast::{
    ABSTRACT_NAMES, OFFLOADS, accept, datagram_len, domain, enable_gro, pair, protocol,
    socket,
};
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(blade_socket_portable)
))]
use linux::fast::{gro_segment, recvmmsg, sendmmsg, set_segment};
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use linux::{COPIED_OPTIONS, eof_or_reset};
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    not(blade_socket_portable)
)))]
pub(crate) use unix::{
    ABSTRACT_NAMES, OFFLOADS, accept, datagram_len, domain, enable_gro, pair, protocol,
    socket,
};
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    not(blade_socket_portable)
)))]
use unix::{gro_segment, recvmmsg, sendmmsg, set_segment};

/// A borrowed descriptor number, registered with the reactor by [`Io`].
#[derive(Debug)]
pub(crate) struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A socket and its lazily made reactor registration.
///
/// The field order is the soundness argument for [`AsyncFd::register`]: `reg`
/// is dropped before `sock`, so the registered descriptor stays open, and
/// refers to the same socket, for the registration's whole life. Nothing
/// outside this module can reach either field.
///
/// # The close signal
///
/// A close through `&self` ([`Io::close_in_flight`]) never touches the
/// kernel socket, which every duplicate shares (`shutdown(2)` would end the
/// connection for all of them). It sets `closed` and wakes every wait
/// parked on this handle itself: a reactor wait leaves its task's waker in
/// `parked` ([`Io::park`]) before it returns `Pending`, under the same lock
/// that the close takes after setting `closed`, so either the close sees
/// the waker or the wait sees `closed`; no wake-up is lost. The calling
/// thread's waits (the blocking facade) look at `closed` at least every
/// [`CLOSE_CHECK`]: `poll(2)` never waits longer, and a descriptor in
/// blocking mode carries that as `SO_RCVTIMEO`/`SO_SNDTIMEO`, so a `recv`
/// blocked in the kernel returns to look. Only `shutdown()`, `abort()` and
/// the last close end the connection, as `close(2)` does.
#[derive(Debug)]
pub(crate) struct Io {
    reg: OnceLock<AsyncFd<Fd>>,
    /// The wakers of the reactor waits parked on this handle, made on the
    /// first park (`None`: nothing parked yet, or closed). Also serialises
    /// registration (two tasks may race to register).
    parked: Mutex<Option<Box<Parked>>>,
    /// The waker of the wait that holds the waker slot for reading (the
    /// common wait: an idle connection's), kept without a lock.
    read_holder: futures::task::AtomicWaker,
    /// Set by a close through `&self`: operations still in flight stop at
    /// their next attempt instead of touching a socket the user closed.
    closed: AtomicBool,
    /// The OS error (`errno`) of the failure that closed the socket (a
    /// reset, a broken pipe), for the operations still in flight; 0 when
    /// the user closed it.
    gone: AtomicI32,
    /// Whether the descriptor is in blocking mode (`O_NONBLOCK` clear): a
    /// connected stream socket made by the blocking facade, whose unbounded
    /// waits are then the `recv`/`send` itself, as with `std::net`.
    fd_blocking: AtomicBool,
    /// Whether a call holds the registration's waker slot for reading
    /// (`[0]`) or writing (`[1]`); see `driver::Pending`.
    slot_taken: [AtomicBool; 2],
    /// Closed by `Drop`, after the registration (see there).
    sock: std::mem::ManuallyDrop<socket2::Socket>,
}

impl Io {
    pub(crate) fn new(sock: socket2::Socket) -> Io {
        Io {
            reg: OnceLock::new(),
            parked: Mutex::new(None),
            read_holder: futures::task::AtomicWaker::new(),
            closed: AtomicBool::new(false),
            gone: AtomicI32::new(0),
            fd_blocking: AtomicBool::new(false),
            slot_taken: [AtomicBool::new(false), AtomicBool::new(false)],
            sock: std::mem::ManuallyDrop::new(sock),
        }
    }

    #[inline]
    pub(crate) fn sock(&self) -> &socket2::Socket {
        &self.sock
    }

    /// Marks this handle closed for the operations still holding it, and
    /// wakes every wait parked on it (see [the close signal](Io#the-close-signal)),
    /// without touching the kernel socket that duplicates share.
    pub(crate) fn close_in_flight(&self) {
        self.closed.store(true, Ordering::Release);
        self.read_holder.wake();
        let parked = self.lock_parked().take();
        if let Some(parked) = parked {
            let Parked { write, others } = *parked;
            for waker in std::iter::once(write).chain(others).flatten() {
                waker.wake();
            }
        }
    }

    fn lock_parked(&self) -> std::sync::MutexGuard<'_, Option<Box<Parked>>> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leaves `waker`, the task of the wait that holds the waker slot for
    /// reading (`read`) or writing, to be woken by a close of this handle.
    /// One entry per direction, as there is one holder: each holder's
    /// replaces the last one's, so there is nothing to take back. `false`
    /// when the handle is already closed: the wait must not park.
    #[inline]
    pub(crate) fn park_holder(&self, read: bool, waker: &Waker) -> bool {
        if read {
            // Registered, then `closed` checked: the close sets `closed`,
            // then wakes (`AtomicWaker`'s protocol), so one of them sees
            // the other.
            self.read_holder.register(waker);
            return !self.is_closed();
        }
        let mut guard = self.lock_parked();
        // Under the lock the close takes after setting `closed`.
        if self.is_closed() {
            return false;
        }
        let entry = &mut guard.get_or_insert_with(Box::default).write;
        match entry {
            Some(w) if w.will_wake(waker) => {}
            _ => *entry = Some(waker.clone()),
        }
        true
    }

    /// Leaves `waker` (a wait that does not hold the waker slot) to be woken
    /// by a close of this handle, in the entry `key` (0: none yet; set here),
    /// to take back with [`unpark`](Io::unpark). `false` when the handle is
    /// already closed: the wait must not park.
    pub(crate) fn park(&self, key: &mut u32, waker: &Waker) -> bool {
        let mut guard = self.lock_parked();
        if self.is_closed() {
            return false;
        }
        let parked = guard.get_or_insert_with(Box::default);
        let at = key.checked_sub(1).map(|i| i as usize);
        if let Some(Some(w)) = at.and_then(|i| parked.others.get_mut(i)) {
            if !w.will_wake(waker) {
                w.clone_from(waker);
            }
            return true;
        }
        let i = match parked.others.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                parked.others.push(None);
                parked.others.len() - 1
            }
        };
        parked.others[i] = Some(waker.clone());
        // Entries are as many as waits parked at once on one handle.
        *key = u32::try_from(i + 1).unwrap_or(u32::MAX);
        true
    }

    /// Takes back the entry `key` of [`park`](Io::park) (the wait is over).
    #[cold]
    pub(crate) fn unpark(&self, key: &mut u32) {
        if let Some(i) = key.checked_sub(1) {
            *key = 0;
            if let Some(parked) = self.lock_parked().as_mut() {
                if let Some(w) = parked.others.get_mut(i as usize) {
                    *w = None;
                }
            }
        }
    }

    /// Whether the descriptor is in blocking mode.
    #[inline]
    pub(crate) fn fd_blocking(&self) -> bool {
        self.fd_blocking.load(Ordering::Relaxed)
    }

    /// Puts the descriptor in blocking mode (`on`) or back in non-blocking mode.
    #[inline]
    pub(crate) fn set_fd_blocking(&self, on: bool) -> io::Result<()> {
        if self.fd_blocking() != on {
            set_nonblocking(self.sock.as_fd(), !on)?;
            self.fd_blocking.store(on, Ordering::Relaxed);
            self.set_close_check(on);
        }
        Ok(())
    }

    /// Records that the descriptor was born in blocking mode (accepted so).
    pub(crate) fn note_fd_blocking(&self) {
        self.fd_blocking.store(true, Ordering::Relaxed);
        self.set_close_check(true);
    }

    /// In blocking mode a `recv`/`send` blocked in the kernel returns
    /// `EAGAIN` after [`CLOSE_CHECK`] without progress, to look at the close
    /// signal (see [`Io`]); the crate keeps its own timeouts, so the OS's
    /// are otherwise unused. Best effort: without it a blocked call is
    /// woken by the peer instead.
    fn set_close_check(&self, on: bool) {
        let t = on.then_some(CLOSE_CHECK);
        let _ = self.sock.set_read_timeout(t);
        let _ = self.sock.set_write_timeout(t);
    }

    /// The flag of the registration's waker slot for one direction.
    #[inline]
    pub(crate) fn slot_flag(&self, read: bool) -> &AtomicBool {
        &self.slot_taken[usize::from(!read)]
    }

    /// Records that the peer's failure `errno` is closing the socket, so
    /// that the operations in flight report it too (call before closing).
    pub(crate) fn note_gone(&self, errno: i32) {
        self.gone.store(errno, Ordering::Relaxed);
    }

    /// The `errno` of the failure that closed the socket, if one did.
    pub(crate) fn gone(&self) -> Option<i32> {
        Some(self.gone.load(Ordering::Relaxed)).filter(|&e| e != 0)
    }

    /// Whether a close through `&self` has happened.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The registration, if a wait has made one.
    #[inline]
    pub(crate) fn registered(&self) -> Option<&AsyncFd<Fd>> {
        self.reg.get()
    }

    /// The registration, made with the current runtime's reactor on first use.
    /// The caller has checked that a runtime is current (tokio panics otherwise).
    #[inline]
    pub(crate) fn registration(&self) -> io::Result<&AsyncFd<Fd>> {
        match self.reg.get() {
            Some(reg) => Ok(reg),
            None => self.register(),
        }
    }

    #[cold]
    fn register(&self) -> io::Result<&AsyncFd<Fd>> {
        // Two tasks may race to register; epoll refuses a second registration.
        let _one = self.lock_parked();
        if let Some(reg) = self.reg.get() {
            return Ok(reg);
        }
        let fd = Fd(self.sock.as_raw_fd());
        // SAFETY: `fd` is `self.sock`'s open descriptor. `self.sock` is owned by
        // this `Io`, is never replaced, and is dropped only after `self.reg`
        // (field order), so the descriptor stays open and means the same socket
        // while the `AsyncFd` lives; `Fd::as_raw_fd` always returns that number.
        let reg = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(self.reg.get_or_init(|| reg))
    }

    /// Drops the reactor registration, so the next wait registers afresh with
    /// whatever runtime it runs on.
    pub(crate) fn deregister(&mut self) {
        drop(self.reg.take());
    }
}

/// The wakers of the waits parked on one handle, but for the read slot's
/// holder: the write slot's holder ([`Io::park_holder`]), and the waits
/// without the slot ([`Io::park`]). Made on the first such wait.
#[derive(Debug, Default)]
pub(crate) struct Parked {
    write: Option<Waker>,
    others: Vec<Option<Waker>>,
}

/// How long a wait on the calling thread goes at most without looking
/// whether its handle was closed through `&self` (the facade's close signal).
pub(crate) const CLOSE_CHECK: Duration = Duration::from_millis(25);

/// A socket's descriptor slot: the `Io` shared with operations in flight
/// (and with [`SocketFd`](crate::SocketFd) guards), until a close empties it.
/// The descriptor itself is released when the last holder lets go.
#[derive(Debug)]
pub(crate) struct Slot(Mutex<Option<Arc<Io>>>);

impl Slot {
    pub(crate) fn new(io: Io) -> Slot {
        Slot::shared(Arc::new(io))
    }

    pub(crate) fn shared(io: Arc<Io>) -> Slot {
        Slot(Mutex::new(Some(io)))
    }

    /// The `Io` for an operation through `&self`, unless closed.
    #[inline]
    pub(crate) fn get(&self) -> Option<Arc<Io>> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().filter(|io| !io.is_closed()).map(Arc::clone)
    }

    /// The `Io` for a state change through `&mut self`, unless closed.
    pub(crate) fn get_mut(&mut self) -> Option<&mut Arc<Io>> {
        let slot = self.0.get_mut().unwrap_or_else(|e| e.into_inner());
        slot.as_mut().filter(|io| !io.is_closed())
    }

    /// Closes through `&self`: wakes operations in flight, and lets the
    /// descriptor go (once the last of them has). The handle leaves the
    /// slot under its lock; the close itself runs after, outside it.
    pub(crate) fn close_shared(&self) {
        let io = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        Slot::end(io);
    }

    /// Closes through `&mut self`.
    pub(crate) fn close(&mut self) {
        let io = self.0.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        Slot::end(io);
    }

    fn end(io: Option<Arc<Io>>) {
        if let Some(io) = io {
            io.close_in_flight();
        }
    }
}

impl Drop for Io {
    /// The last close of the descriptor. `close(2)` with `SO_LINGER` on
    /// blocks until the unsent data is out or the time is up, even on a
    /// non-blocking descriptor, so on a runtime's thread such a close runs
    /// on tokio's blocking pool instead.
    fn drop(&mut self) {
        // The registration goes first, while the descriptor is still open.
        drop(self.reg.take());
        // SAFETY: `sock` is taken once, here, in `drop`; nothing reads the
        // field afterwards.
        let sock = unsafe { std::mem::ManuallyDrop::take(&mut self.sock) };
        let handle = match tokio::runtime::Handle::try_current() {
            Ok(handle) if may_linger(&sock) => handle,
            _ => return drop(sock),
        };
        drop(handle.spawn_blocking(move || drop(sock)));
    }
}

/// Whether closing `sock` may block: `SO_LINGER` on with a time, and data
/// still in the send queue (a close with nothing to send never lingers, so
/// it stays inline, where its effects are seen at once).
fn may_linger(sock: &socket2::Socket) -> bool {
    matches!(sock.linger(), Ok(Some(t)) if !t.is_zero()) && send_queued(sock.as_fd())
}

/// Whether bytes wait in the send queue, unsent or unacknowledged
/// (`SIOCOUTQ`); `true` when the OS cannot tell.
fn send_queued(fd: BorrowedFd<'_>) -> bool {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one `c_int` through the pointer,
    // which is valid.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    rc < 0 || n > 0
}

/// The read side's hang-up (`POLLRDHUP`); macOS has none, and reports
/// `POLLHUP` once both directions are shut.
#[cfg(not(target_vendor = "apple"))]
use libc::POLLRDHUP;
#[cfg(target_vendor = "apple")]
const POLLRDHUP: libc::c_short = 0;

/// Waits with `poll(2)` until `fd` is ready for `interest` (or reports an
/// error or hang-up), `None` without limit: `Ok(None)` when `timeout` passed
/// first, else whether the descriptor reported hang-up for `interest`'s
/// direction (`POLLHUP`, or `POLLRDHUP` for reading). An interrupted wait
/// reports `Some(false)` so the caller retries.
pub(crate) fn poll_hangup(
    fd: BorrowedFd<'_>,
    interest: Interest,
    timeout: Option<Duration>,
) -> io::Result<Option<bool>> {
    let mut pfd = [pollfd(fd, interest)];
    if interest.is_readable() {
        pfd[0].events |= POLLRDHUP;
    }
    if !poll_fds(&mut pfd, timeout)? {
        return Ok(None);
    }
    let hup = if interest.is_readable() {
        libc::POLLHUP | POLLRDHUP
    } else {
        libc::POLLHUP
    };
    Ok(Some(pfd[0].revents & hup != 0))
}

/// [`poll_hangup`] without the hang-up: `Ok(true)` once `fd` is ready (or
/// the wait was interrupted), `Ok(false)` when `timeout` passed first.
/// (Only `send_file`'s pipe path, Linux's, asks.)
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn poll(
    fd: BorrowedFd<'_>,
    interest: Interest,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    poll_fds(&mut [pollfd(fd, interest)], timeout)
}

/// [`poll_hangup`] on several descriptors: `Ok(true)` once any is ready.
pub(crate) fn poll_any(
    fds: &[BorrowedFd<'_>],
    interest: Interest,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let mut pfds: Vec<libc::pollfd> = fds.iter().map(|fd| pollfd(*fd, interest)).collect();
    poll_fds(&mut pfds, timeout)
}

fn pollfd(fd: BorrowedFd<'_>, interest: Interest) -> libc::pollfd {
    let mut events = 0;
    if interest.is_readable() {
        events |= libc::POLLIN;
    }
    if interest.is_writable() {
        events |= libc::POLLOUT;
    }
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    }
}

fn poll_fds(pfds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<bool> {
    let ms = match timeout {
        None => -1,
        // Round up so that a sub-millisecond remainder still waits.
        Some(t) => i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
    };
    // SAFETY: `pfds` holds `pfds.len()` valid, initialised `pollfd`s, made
    // from borrowed (open) descriptors.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        return if err.kind() == io::ErrorKind::Interrupted {
            Ok(true)
        } else {
            Err(err)
        };
    }
    Ok(n > 0)
}

/// How TCP connections ended, as the crate's calls saw it, by socket
/// inode (which every duplicate of a descriptor shares): the `errno` of a
/// failure a call was handed (a reset, a timeout), or 0 for a FIN a
/// handle sent (`shutdown`). Bounded: the oldest go first. Socket inode
/// numbers come from a counter, so they are not soon reused.
static ENDINGS: Mutex<std::collections::VecDeque<(u64, i32)>> =
    Mutex::new(std::collections::VecDeque::new());

/// How many endings [`ENDINGS`] keeps.
const ENDINGS_KEPT: usize = 4096;

/// The socket's inode (shared by every duplicate).
fn inode(fd: BorrowedFd<'_>) -> Option<u64> {
    let mut st = MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is valid for writes of one `stat`, which fstat fills.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    // SAFETY: on success fstat initialised it (and all-zero is valid anyway).
    (rc == 0).then(|| unsafe { st.assume_init() }.st_ino)
}

/// Notes how the TCP connection of `fd` ended (see [`ENDINGS`]).
pub(crate) fn note_ending(fd: BorrowedFd<'_>, errno: i32) {
    if let Some(ino) = inode(fd) {
        let mut endings = ENDINGS.lock().unwrap_or_else(|e| e.into_inner());
        if endings.len() >= ENDINGS_KEPT {
            endings.pop_front();
        }
        endings.push_back((ino, errno));
    }
}

/// The failure noted for `fd`'s connection (a failure before a FIN), or
/// `Some(0)` when only a FIN was.
pub(super) fn noted_ending(fd: BorrowedFd<'_>) -> Option<i32> {
    let ino = inode(fd)?;
    let endings = ENDINGS.lock().unwrap_or_else(|e| e.into_inner());
    let mut noted = None;
    for errno in endings.iter().filter(|(i, _)| *i == ino).map(|&(_, e)| e) {
        if noted.is_none_or(|n| n == 0) {
            noted = Some(errno);
        }
    }
    noted
}

/// Ends a TCP connection for every descriptor of the socket at once:
/// `connect(2)` to `AF_UNSPEC` (`tcp_disconnect`), which sends a reset on
/// a connection that needs one and leaves the socket `CLOSE` with
/// `ECONNRESET` pending, as the kernel does for no other call. A
/// zero-linger `close` resets only when this is the last descriptor.
pub(crate) fn disconnect(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: all-zero is a valid `sockaddr` (AF_UNSPEC is 0).
    let mut addr: libc::sockaddr = unsafe { std::mem::zeroed() };
    addr.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: `addr` is a valid, initialised `sockaddr` of the length given.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &addr,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The number of bytes queued for reading (`FIONREAD`).
pub(crate) fn bytes_queued(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one `c_int` through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Sets or clears `O_NONBLOCK` with one `ioctl(FIONBIO)`, as `std::net`
/// does (socket2's `set_nonblocking` reads the flags, then writes them).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let mut on = libc::c_int::from(on);
    // SAFETY: FIONBIO reads one `c_int` through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONBIO, &mut on) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives into `buf`'s spare capacity (at most `max` bytes) and extends it.
pub(crate) fn recv_into(
    sock: &socket2::Socket,
    buf: &mut BytesMut,
    max: usize,
    flags: i32,
) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let len = spare.len().min(max);
    // Clamped: the kernel's count is trusted no further than the buffer
    // (with `MSG_TRUNC` in `flags` it is the datagram's full length).
    let n = sock.recv_with_flags(&mut spare[..len], flags)?.min(len);
    // SAFETY: the kernel initialised the first `n` bytes of the spare capacity
    // (`n <= len <= spare.len()`), which directly follow the current length.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// `recv(2)` into an initialised buffer.
pub(crate) fn recv_slice(sock: &socket2::Socket, buf: &mut [u8], flags: i32) -> io::Result<usize> {
    // SAFETY: `MaybeUninit<u8>` has `u8`'s layout, and `recv` only writes
    // initialised bytes into the slice, so it stays initialised.
    let uninit = unsafe { &mut *(std::ptr::from_mut::<[u8]>(buf) as *mut [MaybeUninit<u8>]) };
    sock.recv_with_flags(uninit, flags)
}

/// `recv(2)` into the unfilled part of `buf` (no zeroing first, as
/// `tokio::net` reads), marking what arrived as filled.
pub(crate) fn recv_read_buf(
    sock: &socket2::Socket,
    buf: &mut tokio::io::ReadBuf<'_>,
    flags: i32,
) -> io::Result<usize> {
    // SAFETY: `recv` only writes initialised bytes into the slice and never
    // de-initialises any.
    let unfilled = unsafe { buf.unfilled_mut() };
    let room = unfilled.len();
    // Clamped, as in `recv_into`.
    let n = sock.recv_with_flags(unfilled, flags)?.min(room);
    // SAFETY: `recv` wrote (initialised) the first `n` unfilled bytes
    // (`n <= room`).
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(n)
}

/// Room for every control message a datagram read may meet, in `u64`s so
/// that the buffer is aligned for `cmsghdr`: 128 bytes, as s2n-quic uses
/// (`SO_TIMESTAMP` alone is `CMSG_SPACE(16)` = 32 bytes, `UDP_GRO` 24,
/// `IP_PKTINFO` 40, `IPV6_PKTINFO` 32). A read whose messages do not fit is
/// reported (`MSG_CTRUNC`), never taken as one datagram.
const RECV_CONTROL_WORDS: usize = 16;

/// The error for a read whose control messages did not fit: the UDP GRO
/// segment size may be among those lost, so the datagram boundaries are.
pub(crate) fn control_truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "datagram read lost its control messages (MSG_CTRUNC): its datagram boundaries are unknown",
    )
}

/// The error for a datagram longer than the read's buffer (`MSG_TRUNC`)
/// where the caller asked for all of it: the rest is gone.
pub(crate) fn datagram_truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "datagram longer than the read expected (MSG_TRUNC): its end was discarded",
    )
}

/// Who sent a datagram, as the datagram read hands it on.
#[derive(Clone, Debug)]
pub(crate) enum Sender {
    /// An IP address.
    Ip(SocketAddr),
    /// Any other address (Unix-domain, ...).
    Other(socket2::SockAddr),
    /// No address (an unnamed Unix sender).
    None,
}

/// Where [`recv_msg`] puts the sender's address: left uninitialised until
/// the kernel writes it, and read only as far as the kernel wrote.
pub(crate) struct RecvName {
    storage: MaybeUninit<libc::sockaddr_storage>,
    len: libc::socklen_t,
}

impl fmt::Debug for RecvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvName").field("len", &self.len).finish()
    }
}

impl Default for RecvName {
    fn default() -> Self {
        RecvName::new()
    }
}

impl RecvName {
    #[inline(always)]
    pub(crate) fn new() -> RecvName {
        RecvName {
            storage: MaybeUninit::uninit(),
            len: 0,
        }
    }

    /// The sender as an IP address, if it is one.
    #[inline]
    pub(crate) fn ip(&self) -> Option<SocketAddr> {
        // SAFETY: `recv_msg` set `len` to the bytes the kernel wrote into
        // `storage` (0 before any read), and `sockaddr_to_std` reads no further.
        unsafe { sockaddr_to_std(self.storage.as_ptr().cast(), self.len) }
    }

    /// The sender: an IP address, another address, or none.
    pub(crate) fn sender(&self) -> Sender {
        if let Some(a) = self.ip() {
            return Sender::Ip(a);
        }
        let len = (self.len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
        if len == 0 {
            return Sender::None;
        }
        let mut storage = socket2::SockAddrStorage::zeroed();
        // SAFETY: `storage` is a `sockaddr_storage` (socket2's is transparent
        // over it); the first `len` bytes of `self.storage` were written by
        // the kernel and are copied into it, within both sizes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.storage.as_ptr().cast::<u8>(),
                std::ptr::from_mut(storage.view_as::<libc::sockaddr_storage>()).cast::<u8>(),
                len,
            );
            Sender::Other(socket2::SockAddr::new(storage, len as libc::socklen_t))
        }
    }
}

/// What one [`recv_msg`] read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Msg {
    /// Bytes written into the buffer (never more than its length).
    pub(crate) len: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC`).
    pub(crate) truncated: bool,
    /// With UDP GRO, the size of each datagram coalesced into this read (the
    /// last may be shorter); 0 for one datagram.
    pub(crate) segment: usize,
    /// Whether the kernel attached any control message.
    pub(crate) control: bool,
}

/// One `recvmsg(2)` into `buf` with a control buffer for every message a
/// datagram may carry: the datagram's length (clamped to `buf`), whether it
/// was truncated, and the UDP GRO segment size of *this* read; the sender
/// goes into `name`. `MSG_CTRUNC` is an error ([`control_truncated`]),
/// never a silent merge.
#[inline]
pub(crate) fn recv_msg(
    sock: &socket2::Socket,
    buf: &mut [u8],
    flags: i32,
    name: &mut RecvName,
) -> io::Result<Msg> {
    // SAFETY: `u8` and `MaybeUninit<u8>` have one layout, and the kernel
    // only writes initialised bytes into the slice.
    let buf = unsafe { &mut *(std::ptr::from_mut::<[u8]>(buf) as *mut [MaybeUninit<u8>]) };
    recv_msg_uninit(sock, buf, flags, name)
}

/// [`recv_msg`] into the spare capacity of `first`, and what does not fit
/// there into the spare capacity of `rest` (cleared first): a small
/// datagram lands straight in `first` (no copy), a large one spills over.
/// Afterwards `first` is longer by what it got and `rest` holds the rest;
/// `Msg::len` is the total.
#[inline(always)]
pub(crate) fn recv_msg_split(
    sock: &socket2::Socket,
    first: &mut BytesMut,
    rest: &mut Vec<u8>,
    flags: i32,
    name: &mut RecvName,
) -> io::Result<Msg> {
    rest.clear();
    let head = first.spare_capacity_mut();
    let head_len = head.len();
    let tail = rest.spare_capacity_mut();
    let tail_len = tail.len();
    let mut iov = [
        libc::iovec {
            iov_base: head.as_mut_ptr().cast(),
            iov_len: head_len,
        },
        libc::iovec {
            iov_base: tail.as_mut_ptr().cast(),
            iov_len: tail_len,
        },
    ];
    let m = recv_msg_iov(sock, &mut iov, flags, name)?;
    let m = Msg {
        len: m.len.min(head_len + tail_len),
        ..m
    };
    let in_head = m.len.min(head_len);
    // SAFETY: the kernel filled the iovecs in order: the first `in_head`
    // bytes of `first`'s spare capacity, then the first `m.len - in_head`
    // of `rest`'s (each within its length), which directly follow each
    // buffer's current length.
    unsafe {
        first.set_len(first.len() + in_head);
        rest.set_len(m.len - in_head);
    }
    Ok(m)
}

/// [`recv_msg`] into possibly uninitialised memory.
#[inline]
fn recv_msg_uninit(
    sock: &socket2::Socket,
    buf: &mut [MaybeUninit<u8>],
    flags: i32,
    name: &mut RecvName,
) -> io::Result<Msg> {
    let mut iov = [libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }];
    let m = recv_msg_iov(sock, &mut iov, flags, name)?;
    Ok(Msg {
        len: m.len.min(buf.len()),
        ..m
    })
}

/// The `recvmsg(2)` of [`recv_msg`] over `iov` (`Msg::len` as the kernel
/// reported it: the caller clamps it).
#[inline(always)]
fn recv_msg_iov(
    sock: &socket2::Socket,
    iov: &mut [libc::iovec],
    flags: i32,
    name: &mut RecvName,
) -> io::Result<Msg> {
    let mut control = MaybeUninit::<[u64; RECV_CONTROL_WORDS]>::uninit();
    // Built field by field (no zeroing call on the hot path) where every
    // field is public; musl's has private padding fields.
    #[cfg(not(target_env = "musl"))]
    let mut hdr = libc::msghdr {
        msg_name: name.storage.as_mut_ptr().cast(),
        msg_namelen: std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        msg_iov: iov.as_mut_ptr(),
        msg_iovlen: iov.len() as _,
        msg_control: control.as_mut_ptr().cast(),
        msg_controllen: std::mem::size_of_val(&control) as _,
        msg_flags: 0,
    };
    #[cfg(target_env = "musl")]
    let mut hdr = {
        // SAFETY: all-zero is a valid `msghdr` (null pointers, zero lengths).
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_name = name.storage.as_mut_ptr().cast();
        hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        hdr.msg_iov = iov.as_mut_ptr();
        hdr.msg_iovlen = iov.len() as _;
        hdr.msg_control = control.as_mut_ptr().cast();
        hdr.msg_controllen = std::mem::size_of_val(&control) as _;
        hdr
    };
    let n = loop {
        // SAFETY: `hdr` points to `name`'s storage (its size given), the
        // caller's iovecs (each over writable memory of its length) and the
        // aligned `control` (its size given), all of which outlive the call;
        // the kernel only writes through them.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut hdr, flags) };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    name.len = hdr
        .msg_namelen
        .min(std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t);
    if hdr.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(control_truncated());
    }
    // Only what the kernel wrote is read: `msg_controllen` bounds the walk.
    let (segment, control) = if hdr.msg_controllen == 0 {
        (0, false)
    } else {
        read_control(&hdr)
    };
    Ok(Msg {
        len: n,
        truncated: hdr.msg_flags & libc::MSG_TRUNC != 0,
        segment,
        control,
    })
}

/// The UDP GRO segment size in a received header's control messages (0
/// when none), and whether it had any control message at all.
fn read_control(hdr: &libc::msghdr) -> (usize, bool) {
    let mut segment = 0;
    let mut any = false;
    // SAFETY: the kernel set `msg_controllen` to the bytes it wrote in the
    // control buffer `msg_control` points to; CMSG_FIRSTHDR/NXTHDR read only
    // headers that lie within those bytes, each handed to `gro_segment` whole.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            any = true;
            if let Some(v) = gro_segment(c) {
                segment = v;
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    (segment, any)
}

/// An IP socket address in C form, built on the stack (as mio does), for
/// [`send_to_ip`]: no `sockaddr_storage` to zero and copy per datagram.
#[repr(C)]
union CSockAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

fn c_sock_addr(addr: &SocketAddr) -> (CSockAddr, libc::socklen_t) {
    match addr {
        SocketAddr::V4(a) => (
            CSockAddr {
                v4: libc::sockaddr_in {
                    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
                    sin_len: std::mem::size_of::<libc::sockaddr_in>() as u8,
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                },
            },
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ),
        SocketAddr::V6(a) => (
            CSockAddr {
                v6: libc::sockaddr_in6 {
                    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
                    sin6_len: std::mem::size_of::<libc::sockaddr_in6>() as u8,
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                },
            },
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        ),
    }
}

/// `sendto(2)` of `buf` to the IP address `to`.
pub(crate) fn send_to_ip(
    sock: &socket2::Socket,
    buf: &[u8],
    to: &SocketAddr,
    flags: i32,
) -> io::Result<usize> {
    let (addr, len) = c_sock_addr(to);
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes; `addr` is an
    // initialised `sockaddr_in`/`sockaddr_in6` of `len` bytes (the variant
    // `c_sock_addr` wrote), which outlives the call.
    let n = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            flags,
            (&raw const addr).cast::<libc::sockaddr>(),
            len,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Whether the socket is listening (`SO_ACCEPTCONN`, on every OS; socket2
/// asks it only on some).
pub(crate) fn is_listener(s: &socket2::Socket) -> io::Result<bool> {
    Ok(getsockopt_int(s.as_fd(), libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? != 0)
}

/// Readies a descriptor the user handed over: non-blocking, and on Apple's
/// systems with `SO_NOSIGPIPE` (which socket2 sets on the sockets it makes,
/// and which is what keeps a send to a vanished peer from raising `SIGPIPE`
/// there: macOS ignores `MSG_NOSIGNAL`).
pub(crate) fn adopt(s: &socket2::Socket) -> io::Result<()> {
    s.set_nonblocking(true)?;
    // Best effort: some families refuse it, and their sends raise no SIGPIPE.
    #[cfg(target_vendor = "apple")]
    let _ = s.set_nosigpipe(true);
    Ok(())
}

/// Reads an `int` socket option.
pub(crate) fn getsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes and `len` is its size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// Sets an `int` socket option.
pub(crate) fn setsockopt_int(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    value: i32,
) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` is a valid `c_int` and `len` is its size.
    let rc =
        unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (&raw const value).cast(), len) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `sendfile(2)` from `file` at `*offset` (advanced by the count sent), with
/// `SIGPIPE` held off: sendfile has no `MSG_NOSIGNAL`, and raises the signal on
/// a vanished peer even when it reports a partial count (on Apple's systems
/// the socket's `SO_NOSIGPIPE`, set at creation, holds it off instead).
pub(crate) fn sendfile(
    out: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut i64,
    count: usize,
) -> io::Result<usize> {
    #[cfg(not(target_vendor = "apple"))]
    let _guard = SigpipeGuard::block();
    // Linux's sendfile reports a partial send as a count: socket2's wrapper
    // serves. The BSDs' report it beside `EAGAIN`, which that wrapper drops.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let n = {
        let at =
            usize::try_from(*offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        socket2::SockRef::from(&out).sendfile(&file, at, std::num::NonZeroUsize::new(count))?
    };
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    let n = bsd::sendfile(out, file, *offset, count)?;
    *offset += i64::try_from(n).unwrap_or(0);
    Ok(n)
}

/// Blocks `SIGPIPE` on this thread; on drop, discards a `SIGPIPE` raised
/// meanwhile and restores the mask. A `SIGPIPE` already pending is left alone.
#[cfg(not(target_vendor = "apple"))]
struct SigpipeGuard {
    old: libc::sigset_t,
    was_pending: bool,
}

#[cfg(not(target_vendor = "apple"))]
impl SigpipeGuard {
    fn block() -> SigpipeGuard {
        let set = sigpipe_set();
        let mut old = MaybeUninit::<libc::sigset_t>::zeroed();
        // SAFETY: `set` is initialised; `old` is valid for writes.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) };
        // SAFETY: zeroed is a valid `sigset_t`, and pthread_sigmask filled it.
        let old = unsafe { old.assume_init() };
        SigpipeGuard {
            old,
            was_pending: sigpipe_pending(),
        }
    }
}

#[cfg(not(target_vendor = "apple"))]
impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        if !self.was_pending && sigpipe_pending() {
            let set = sigpipe_set();
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `set` and `zero` are valid; a null info pointer is allowed.
            unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
        }
        // SAFETY: `self.old` is the mask pthread_sigmask returned.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

#[cfg(not(target_vendor = "apple"))]
fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigemptyset initialises the set; sigaddset takes it initialised.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

#[cfg(not(target_vendor = "apple"))]
fn sigpipe_pending() -> bool {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigpending fills the set, which is valid for writes; sigismember
    // reads it initialised (zeroed, then filled).
    unsafe {
        libc::sigpending(set.as_mut_ptr());
        libc::sigismember(set.as_ptr(), libc::SIGPIPE) == 1
    }
}

/// One `getaddrinfo(3)` result.
#[derive(Debug, Clone)]
pub(crate) struct AddrInfo {
    pub(crate) addr: SocketAddr,
    pub(crate) canonical_name: Option<String>,
}

/// The resolver's answers that a name has no address of the kind asked
/// for; with glibc also `EAI_NODATA` and `EAI_ADDRFAMILY` (-9, a GNU
/// extension libc does not name).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const NO_ADDRESS: [i32; 3] = [libc::EAI_NONAME, libc::EAI_NODATA, -9];
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
const NO_ADDRESS: [i32; 1] = [libc::EAI_NONAME];

/// Calls `getaddrinfo(3)`. Blocking: run it off the runtime's worker threads.
/// The error is the resolver's text, and whether the name simply has no
/// address of the kind asked for (`EAI_NONAME`, `EAI_NODATA`,
/// `EAI_ADDRFAMILY`), as opposed to a failure to ask (`EAI_AGAIN`...).
pub(crate) fn getaddrinfo(
    host: Option<&str>,
    service: Option<&str>,
    family: i32,
    socket_type: i32,
    flags: i32,
) -> Result<Vec<AddrInfo>, (String, bool)> {
    let c_host = host
        .map(CString::new)
        .transpose()
        .map_err(|_| ("name contains a NUL byte".to_owned(), false))?;
    let c_service = service
        .map(CString::new)
        .transpose()
        .map_err(|_| ("service contains a NUL byte".to_owned(), false))?;
    // SAFETY: all-zero is a valid `addrinfo` hints value (null pointers, zero fields).
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socket_type;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the strings are NUL-terminated or null, `hints` is initialised,
    // and `res` is valid for writes.
    let rc = unsafe {
        libc::getaddrinfo(
            c_host.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            c_service.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if rc != 0 {
        if rc == libc::EAI_SYSTEM {
            return Err((io::Error::last_os_error().to_string(), false));
        }
        let no_address = NO_ADDRESS.contains(&rc);
        // SAFETY: gai_strerror returns a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err((text.to_string_lossy().into_owned(), no_address));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned, not yet freed.
        let ai = unsafe { &*cur };
        // SAFETY: ai_addr points to a sockaddr of ai_family's type and ai_addrlen bytes.
        if let Some(addr) = unsafe { sockaddr_to_std(ai.ai_addr, ai.ai_addrlen) } {
            let canonical_name = (!ai.ai_canonname.is_null())
                // SAFETY: a non-null ai_canonname is a NUL-terminated string in the list.
                .then(|| {
                    unsafe { CStr::from_ptr(ai.ai_canonname) }
                        .to_string_lossy()
                        .into_owned()
                });
            out.push(AddrInfo {
                addr,
                canonical_name,
            });
        }
        cur = ai.ai_next;
    }
    // SAFETY: `res` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// # Safety
/// `addr` is null or points to `len` readable bytes holding a sockaddr.
unsafe fn sockaddr_to_std(addr: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if addr.is_null() {
        return None;
    }
    let len = len as usize;
    // The family is read only when `len` covers it (an unnamed Unix sender
    // has a zero-length address, whose bytes the kernel never wrote).
    let family_end =
        std::mem::offset_of!(libc::sockaddr, sa_family) + std::mem::size_of::<libc::sa_family_t>();
    if len < family_end {
        return None;
    }
    // SAFETY: the caller guarantees `len` readable bytes at `addr`, which
    // cover the family (checked above); the family's struct is read only
    // when `len` covers it too.
    unsafe {
        match i32::from((*addr).sa_family) {
            libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
                let a = &*addr.cast::<libc::sockaddr_in>();
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let a = &*addr.cast::<libc::sockaddr_in6>();
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// One message of a batch: the layout of Linux's `mmsghdr` (a `msghdr` and
/// the length the kernel sets), so that one set of headers serves
/// `sendmmsg`/`recvmmsg` and, one at a time, `sendmsg`/`recvmsg` on any OS.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct MmsgHdr {
    pub(crate) msg_hdr: libc::msghdr,
    pub(crate) msg_len: libc::c_uint,
}

/// One message of a [`send_batch`]: the slices `iov` of the batch, sent as
/// one datagram, or with `segment > 0` as UDP GSO datagrams of `segment`
/// bytes each (the last may be shorter).
#[derive(Clone, Debug)]
pub(crate) struct SendEntry {
    pub(crate) iov: std::ops::Range<usize>,
    pub(crate) segment: u16,
}

/// Room for one `UDP_SEGMENT` (u16) or `UDP_GRO` (int) control message,
/// in `u64`s so that the buffer is aligned for `cmsghdr`.
const CMSG_WORDS: usize = 4;

/// Sends `entries` to `to` (one destination for all, or one per message,
/// an entry going where its first message does): with `mmsg` as many as the
/// OS takes in one `sendmmsg(2)`, otherwise the first one with `sendmsg(2)`.
/// Returns the number of entries sent (at least 1 on success); an error
/// means none was.
pub(crate) fn send_batch(
    sock: &socket2::Socket,
    to: &[socket2::SockAddr],
    bufs: &[io::IoSlice<'_>],
    entries: &[SendEntry],
    flags: i32,
    mmsg: bool,
) -> io::Result<usize> {
    let entries = if mmsg {
        &entries[..entries.len().min(1024)] // UIO_MAXIOV
    } else {
        &entries[..entries.len().min(1)]
    };
    let mut control = vec![[0u64; CMSG_WORDS]; entries.len()];
    // SAFETY: all-zero is a valid `mmsghdr` (null pointers, zero lengths).
    let mut msgs: Vec<MmsgHdr> = vec![unsafe { std::mem::zeroed() }; entries.len()];
    for ((entry, msg), cmsg) in entries.iter().zip(&mut msgs).zip(&mut control) {
        let iov = &bufs[entry.iov.clone()];
        let to = if to.len() == 1 {
            &to[0]
        } else {
            &to[entry.iov.start]
        };
        let hdr = &mut msg.msg_hdr;
        // The kernel only reads the address and the slices of a send.
        hdr.msg_name = to.as_ptr() as *mut libc::c_void;
        hdr.msg_namelen = to.len();
        // `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix.
        hdr.msg_iov = iov.as_ptr() as *mut libc::iovec;
        hdr.msg_iovlen = iov.len() as _;
        if entry.segment > 0 {
            hdr.msg_control = cmsg.as_mut_ptr().cast();
            // SAFETY: `msg_control` points to `CMSG_WORDS * 8` zeroed bytes,
            // aligned for `cmsghdr`, more than CMSG_SPACE(2).
            unsafe { set_segment(hdr, entry.segment)? };
        }
    }
    let flags = flags | libc::MSG_NOSIGNAL;
    let fd = sock.as_raw_fd();
    loop {
        let r = if mmsg {
            // SAFETY: `msgs` holds `msgs.len()` initialised headers whose
            // pointers (address, slices, control) outlive the call.
            unsafe { sendmmsg(fd, &mut msgs, flags) }
        } else {
            // SAFETY: as above, for the one header `msgs[0]`.
            let n = unsafe { libc::sendmsg(fd, &msgs[0].msg_hdr, flags) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(1)
            }
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// The headers, addresses and control buffers of [`recv_batch`], kept from
/// call to call so that a batch allocates and clears nothing.
#[derive(Default)]
pub(crate) struct RecvScratch {
    msgs: Vec<MmsgHdr>,
    iovs: Vec<libc::iovec>,
    names: Vec<socket2::SockAddrStorage>,
    control: Vec<[u64; RECV_CONTROL_WORDS]>,
}

// SAFETY: the raw pointers inside `msgs` and `iovs` are written by
// `recv_batch` (which holds `&mut`) just before each syscall and are never
// read at any other time, so sharing or moving the stale values between
// threads cannot lead to a dereference.
unsafe impl Send for RecvScratch {}
// SAFETY: as for `Send`; `&RecvScratch` gives no access to the pointers.
unsafe impl Sync for RecvScratch {}

impl fmt::Debug for RecvScratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvScratch")
            .field("slots", &self.msgs.len())
            .finish()
    }
}

/// What one receive of a [`recv_batch`] got.
#[derive(Debug)]
pub(crate) struct RecvSlot {
    /// Where its bytes begin in what the call appended to the buffer.
    pub(crate) at: usize,
    /// How many bytes it got.
    pub(crate) len: usize,
    /// With UDP GRO, the size of each datagram that was coalesced into the
    /// slot (the last may be shorter); 0 for one datagram.
    pub(crate) segment: usize,
    pub(crate) from: socket2::SockAddr,
    /// The message was longer than its slot (`MSG_TRUNC`).
    pub(crate) truncated: bool,
    /// Its control messages did not fit (`MSG_CTRUNC`): its datagram
    /// boundaries are unknown.
    pub(crate) control_lost: bool,
}

/// Receives up to `count` messages (and no more than
/// `buf.spare_capacity_mut().len() / slot`) in one `recvmmsg(2)`, each into
/// its own `slot`-byte part of `buf`'s spare capacity. Then extends `buf` by
/// the region they were read into, its gaps closed (filled, or the data
/// moved down) so that it is initialised; `out` (cleared first) says where
/// each message begins in that region and how long it is. Returns the
/// number of messages.
pub(crate) fn recv_batch(
    sock: &socket2::Socket,
    buf: &mut BytesMut,
    slot: usize,
    count: usize,
    flags: i32,
    scratch: &mut RecvScratch,
    out: &mut Vec<RecvSlot>,
) -> io::Result<usize> {
    out.clear();
    let spare = buf.spare_capacity_mut();
    // Never more reads than asked for: what the kernel hands over beyond
    // the caller's `max` would wait in a backlog.
    let count = spare
        .len()
        .checked_div(slot)
        .unwrap_or(0)
        .min(count)
        .min(1024);
    if count == 0 {
        return Ok(0);
    }
    let RecvScratch {
        msgs,
        iovs,
        names,
        control,
    } = scratch;
    if msgs.len() < count {
        // SAFETY: all-zero is a valid `mmsghdr` and `iovec` (null pointers,
        // zero lengths); every field the kernel reads is set below anyway.
        msgs.resize(count, unsafe { std::mem::zeroed() });
        iovs.resize(count, unsafe { std::mem::zeroed() });
        names.resize_with(count, socket2::SockAddrStorage::zeroed);
        control.resize(count, [0; RECV_CONTROL_WORDS]);
    }
    for ((((msg, iov), name), cmsg), part) in msgs
        .iter_mut()
        .zip(iovs.iter_mut())
        .zip(names.iter_mut())
        .zip(control.iter_mut())
        .zip(spare.chunks_exact_mut(slot))
        .take(count)
    {
        *iov = libc::iovec {
            iov_base: part.as_mut_ptr().cast(),
            iov_len: slot,
        };
        let hdr = &mut msg.msg_hdr;
        hdr.msg_name = (name as *mut socket2::SockAddrStorage).cast();
        hdr.msg_namelen = name.size_of();
        hdr.msg_iov = iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = cmsg.as_mut_ptr().cast();
        hdr.msg_controllen = (RECV_CONTROL_WORDS * 8) as _;
        hdr.msg_flags = 0;
        msg.msg_len = 0;
    }
    let fd = sock.as_raw_fd();
    let n = loop {
        // SAFETY: every header points to its own address storage, one
        // iovec over a distinct `slot`-byte part of `buf`'s spare capacity,
        // and its own aligned control buffer, all of which outlive the call;
        // the lengths given are theirs.
        let r = unsafe { recvmmsg(fd, &mut msgs[..count], flags) };
        match r {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    let base = spare.as_mut_ptr();
    let mut total = 0;
    for (i, (msg, name)) in msgs.iter_mut().zip(names.iter_mut()).take(n).enumerate() {
        let len = (msg.msg_len as usize).min(slot);
        // The region must be initialised end to end: close the gap before
        // slot `i` by whichever costs less, filling it or moving the data
        // down (a full GRO read leaves a small gap; a small datagram is
        // cheap to move).
        let start = i * slot;
        let at = if start - total <= len {
            // SAFETY: `total..start` lies in the spare capacity (before slot
            // `i`), writable, and not yet initialised by the kernel.
            unsafe { std::ptr::write_bytes(base.add(total), 0, start - total) };
            start
        } else {
            // SAFETY: the kernel initialised `len` bytes at the start of slot
            // `i`, inside the spare capacity; `total < start`, so the copy
            // moves them down within the same allocation, and `ptr::copy`
            // allows the overlap.
            unsafe { std::ptr::copy(base.add(start), base.add(total), len) };
            total
        };
        total = at + len;
        let hdr = &mut msg.msg_hdr;
        let truncated = hdr.msg_flags & libc::MSG_TRUNC != 0;
        let control_lost = hdr.msg_flags & libc::MSG_CTRUNC != 0;
        let (segment, _) = read_control(hdr);
        let mut storage = socket2::SockAddrStorage::zeroed();
        // SAFETY: both are `sockaddr_storage`s (socket2's is transparent over
        // it); the kernel wrote a valid address of `msg_namelen` bytes (at
        // most the storage's size) into `name`, now copied whole.
        let from = unsafe {
            *storage.view_as::<libc::sockaddr_storage>() =
                *name.view_as::<libc::sockaddr_storage>();
            socket2::SockAddr::new(storage, hdr.msg_namelen)
        };
        out.push(RecvSlot {
            at,
            len,
            segment,
            from,
            truncated,
            control_lost,
        });
    }
    // SAFETY: the first `total` bytes of the spare capacity were initialised
    // by the kernel and the fills and copies above, and directly follow the
    // current length.
    unsafe { buf.set_len(buf.len() + total) };
    Ok(n)
}

// ===== Beyond every anchor: introspection, descriptor passing, splice =====
//
// Everything below serves `socket::introspect`, `socket::fds` and
// `socket::proxy` (and `send_file` from a pipe). Kept in one section so that
// it merges as one block.
//
// Their Linux-only parts (`TCP_INFO`, `SO_PEERCRED`, pipes and `splice`, the
// watched pipe) live in `sys/linux.rs`, the macOS/FreeBSD ones in `sys/bsd.rs`.
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub(crate) use bsd::peer_credentials;
#[cfg(target_os = "freebsd")]
pub(crate) use bsd::freebsd_tcp_info;
#[cfg(target_vendor = "apple")]
pub(crate) use bsd::tcp_connection_info;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use linux::{LinuxTcpInfo, Pipe, Watched, peer_credentials, pipe, splice, tcp_info};

/// An `ioctl(2)` that reports one `int` (`SIOCOUTQ`, `SIOCOUTQNSD`, `SIOCINQ`).
pub(crate) fn ioctl_count(fd: BorrowedFd<'_>, request: libc::c_ulong) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: each request used writes one `int` through the pointer.
    #[allow(clippy::useless_conversion, clippy::cast_possible_truncation)]
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, &mut n) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The most descriptors one `SCM_RIGHTS` message carries (Linux's `SCM_MAX_FD`).
pub(crate) const MAX_FDS: usize = 253;

/// A control buffer that holds `SCM_RIGHTS` for [`MAX_FDS`] descriptors and
/// credentials, aligned for `cmsghdr`, on the stack.
#[repr(C, align(8))]
struct Control([u8; 1024 + 128]);

/// `sendmsg(2)` of `buf` with `fds` as one `SCM_RIGHTS` message.
pub(crate) fn send_with_fds(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    fds: &[BorrowedFd<'_>],
    flags: i32,
) -> io::Result<usize> {
    let mut control = Control([0; 1024 + 128]);
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: a zeroed msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let data = fds.len().min(MAX_FDS) * std::mem::size_of::<RawFd>();
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(data as u32) } as usize;
        if space > control.0.len() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: `msg_control` points to `space` zeroed, aligned bytes, room
        // for one header and `data` bytes of descriptors; CMSG_FIRSTHDR is
        // then non-null, and CMSG_DATA stays inside the buffer.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(data as u32) as _;
            let out = libc::CMSG_DATA(c).cast::<RawFd>();
            for (i, f) in fds.iter().enumerate().take(MAX_FDS) {
                std::ptr::write_unaligned(out.add(i), f.as_raw_fd());
            }
        }
    }
    // SAFETY: `msg` points to `iov` (valid for `buf.len()` bytes of reading)
    // and to the control buffer, both alive for the call.
    let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags | MSG_NOSIGNAL_OR_0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
const MSG_NOSIGNAL_OR_0: i32 = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
const MSG_NOSIGNAL_OR_0: i32 = 0;

/// What one [`recv_with_fds`] read.
#[derive(Debug)]
pub(crate) struct RecvFds {
    /// Bytes read into the buffer.
    pub(crate) len: usize,
    pub(crate) fds: Vec<std::os::fd::OwnedFd>,
    /// More descriptors came than there was room for (the kernel closed them).
    pub(crate) fds_truncated: bool,
}

/// `recvmsg(2)` into `buf` with room for exactly `max_fds` descriptors
/// (`CMSG_LEN`, not `CMSG_SPACE`) plus `SCM_CREDENTIALS` when `creds`; the
/// descriptors come close-on-exec.
pub(crate) fn recv_with_fds(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
    creds: bool,
    flags: i32,
) -> io::Result<RecvFds> {
    let mut control = Control([0; 1024 + 128]);
    let max_fds = max_fds.min(MAX_FDS);
    let mut room = 0usize;
    if creds {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: CMSG_SPACE only computes a size.
            room += unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::ucred>() as u32) } as usize;
        }
    }
    if max_fds > 0 {
        // SAFETY: CMSG_LEN only computes a size.
        room += unsafe { libc::CMSG_LEN((max_fds * std::mem::size_of::<RawFd>()) as u32) } as usize;
    }
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: a zeroed msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if room > 0 {
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = room.min(control.0.len()) as _;
    }
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let cloexec = libc::MSG_CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let cloexec = 0;
    // SAFETY: `msg` points to `iov` (valid for `buf.len()` bytes of writing)
    // and to `room` bytes of the control buffer, both alive for the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags | cloexec) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = RecvFds {
        len: (n as usize).min(buf.len()),
        fds: Vec::new(),
        fds_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    };
    if msg.msg_controllen as usize == 0 || msg.msg_control.is_null() {
        return Ok(out);
    }
    // SAFETY: the kernel wrote `msg_controllen` bytes of well-formed control
    // messages into the buffer; CMSG_FIRSTHDR/NXTHDR stay within it, and each
    // SCM_RIGHTS payload holds `(cmsg_len - CMSG_LEN(0)) / 4` descriptors now
    // open in this process and owned by nobody else.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let count = data / std::mem::size_of::<RawFd>();
                let first = libc::CMSG_DATA(c).cast::<RawFd>();
                for i in 0..count {
                    let raw = std::ptr::read_unaligned(first.add(i));
                    let owned = <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw);
                    if cloexec == 0 {
                        libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC);
                    }
                    if out.fds.len() < max_fds {
                        out.fds.push(owned);
                    } else {
                        out.fds_truncated = true; // closed by the drop
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(out)
}

/// Whether `SIGPIPE` is ignored in this process now (Rust binaries ignore it
/// from start-up), so a write that may raise it needs no guard.
pub(crate) fn sigpipe_ignored() -> bool {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `old`.
    let r = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: sigaction filled `old` (zeroed before, so valid either way).
    r == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// [`poll`] on several descriptors, each for its own interest: `Ok(true)`
/// once any is ready, `Ok(false)` when `timeout` passed first.
pub(crate) fn poll_each(
    fds: &[(BorrowedFd<'_>, Interest)],
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let mut pfds = [
        pollfd_empty(),
        pollfd_empty(),
        pollfd_empty(),
        pollfd_empty(),
    ];
    let n = fds.len().min(pfds.len());
    for (p, (fd, interest)) in pfds.iter_mut().zip(fds) {
        *p = pollfd(*fd, *interest);
    }
    poll_fds(&mut pfds[..n], timeout)
}

fn pollfd_empty() -> libc::pollfd {
    libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }
}

/// `recv(2)` into uninitialised memory; returns the bytes that arrived.
pub(crate) fn recv_uninit<'b>(
    sock: &socket2::Socket,
    buf: &'b mut [MaybeUninit<u8>],
    flags: i32,
) -> io::Result<&'b [u8]> {
    let n = sock.recv_with_flags(buf, flags)?.min(buf.len());
    // SAFETY: recv initialised the first `n` bytes (clamped to the buffer).
    Ok(unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) })
}
// ===== end of the beyond section =====

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected UDP pair on loopback, with `payload` queued at `b`.
    fn udp_with(payload: &[u8]) -> (socket2::Socket, socket2::Socket) {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let b = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        a.connect(b.local_addr().expect("addr")).expect("connect");
        b.connect(a.local_addr().expect("addr")).expect("connect");
        a.send(payload).expect("send");
        b.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        (a.into(), b.into())
    }

    /// With `MSG_TRUNC` the kernel reports a datagram's full length, more
    /// than the buffer: the count is clamped, never trusted.
    #[test]
    fn recv_into_clamps_the_kernel_count_to_the_buffer() {
        let (_a, b) = udp_with(&[7u8; 100]);
        let mut buf = BytesMut::with_capacity(10);
        assert_eq!(
            recv_into(&b, &mut buf, 10, libc::MSG_TRUNC).expect("recv"),
            10
        );
        assert_eq!(buf.len(), 10);
    }

    #[test]
    fn recv_read_buf_clamps_the_kernel_count_to_the_buffer() {
        let (_a, b) = udp_with(&[7u8; 100]);
        let mut storage = [0u8; 10];
        let mut buf = tokio::io::ReadBuf::new(&mut storage);
        assert_eq!(
            recv_read_buf(&b, &mut buf, libc::MSG_TRUNC).expect("recv"),
            10
        );
        assert_eq!(buf.filled(), &[7u8; 10]);
    }

    /// A message longer than its slot is marked, not handed out as whole.
    /// (`recvmmsg` is Linux's: a portable build has no batch read.)
    #[cfg(all(
        any(target_os = "linux", target_os = "android"),
        not(blade_socket_portable)
    ))]
    #[test]
    fn recv_batch_marks_a_truncated_message() {
        let (_a, b) = udp_with(&[7u8; 100]);
        let mut buf = BytesMut::with_capacity(64);
        let mut scratch = RecvScratch::default();
        let mut out = Vec::new();
        let n = recv_batch(&b, &mut buf, 16, 1, 0, &mut scratch, &mut out).expect("recv");
        assert_eq!(n, 1);
        assert_eq!(out.len(), 1, "no more messages than asked for");
        assert!(out[0].truncated);
        assert_eq!(out[0].len, 16);
    }

    #[test]
    fn recv_msg_reports_truncation_and_the_sender() {
        let (a, b) = udp_with(&[7u8; 100]);
        let mut buf = [0u8; 40];
        let mut name = RecvName::new();
        let m = recv_msg(&b, &mut buf, 0, &mut name).expect("recv");
        assert_eq!(m.len, 40);
        assert!(m.truncated);
        assert_eq!(m.segment, 0);
        let local = a.local_addr().expect("addr").as_socket();
        assert_eq!(name.ip(), local);
    }

    /// An address shorter than its family field (an unnamed Unix sender
    /// has length 0) is no address; the family is never read past `len`.
    #[test]
    fn sockaddr_to_std_checks_the_length_before_the_family() {
        let v4 = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 80u16.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let p = (&raw const v4).cast::<libc::sockaddr>();
        let full = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: `p` points to a whole `sockaddr_in`, more than each `len`.
        unsafe {
            assert_eq!(
                sockaddr_to_std(p, full),
                Some("127.0.0.1:80".parse().expect("addr"))
            );
            assert_eq!(sockaddr_to_std(p, full - 1), None);
            assert_eq!(sockaddr_to_std(p, 1), None);
            assert_eq!(sockaddr_to_std(p, 0), None);
        }
        // A one-byte buffer: the family (two bytes) must not be read.
        let one = Box::new([libc::AF_INET as u8]);
        // SAFETY: `one` holds the 1 readable byte given as `len`.
        assert_eq!(unsafe { sockaddr_to_std(one.as_ptr().cast(), 1) }, None);
    }
}
