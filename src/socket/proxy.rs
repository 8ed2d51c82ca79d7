//! `copy_bidirectional`: two connected stream sockets joined, bytes moved
//! both ways until each direction has read end of file.
//!
//! # How a direction moves bytes (the adaptive path)
//! Each direction starts on the *copy* path: one `recv` into a 16 KiB buffer
//! on the stack, then one `send` of what came. Small messages (requests,
//! responses, keystrokes) stay there: two syscalls a message, as a user-space
//! copy makes, and no memory held between messages. A read that fills the
//! whole buffer means bulk is flowing, and the direction moves up to the
//! *splice* path: its own pipe (`pipe2(O_NONBLOCK|O_CLOEXEC)`, sized to
//! 1 MiB with `F_SETPIPE_SZ`, or 256 KiB or 64 KiB when the per-user pipe
//! budget refuses more) and `splice(2)` in and out of it, so bytes never
//! enter user space and each syscall moves up to the pipe's size. When the
//! kernel refuses a pipe of 64 KiB or more, the direction uses one 1 MiB
//! user-space buffer instead. Either is released as soon as its direction's
//! source has nothing more to read (and everything read has been written),
//! and the direction is back on the copy path: buffers and pipes are held
//! only while bytes move, so idle connections cost no pipe and no buffer.
//!
//! Bytes pulled into a pipe or buffer are written out before the direction
//! reads again, so a count is always bytes written to the destination.
//!
//! # Waiting
//! One loop serves both directions. Under the reactor it claims readiness
//! before each syscall and clears it only after that syscall reported
//! `WouldBlock`, as `tokio::io::unix::AsyncFd` requires; on the calling thread
//! (the blocking facade) it waits in one `poll(2)` on what both directions need.
//! The idle limit is one deadline, pushed back whenever a byte moves in
//! either direction.

use std::{
    future::{Future, poll_fn},
    io,
    mem::MaybeUninit,
    os::fd::AsFd,
    sync::{Arc, atomic::Ordering},
    task::{Context, Poll},
    time::Duration,
};

use tokio::io::Interest;

use super::{Socket, state::Phase};
use crate::{
    consts::{SHUT_WR, SOCK_STREAM},
    driver::Wait,
    error::{ILLEGAL_STATE, Result, SocketError},
    sys::{self, Io},
};

/// The copy path's stack buffer; a read that fills it moves the direction
/// to the splice path.
const COPY_CHUNK: usize = 16 * 1024;
/// The pipe (or fallback buffer) size asked for: measured best here.
const BULK: usize = 1024 * 1024;

/// Joins `a` and `b`: moves bytes both ways until each direction has read
/// end of file, and returns `(a → b, b → a)`, the bytes written to each
/// destination.
///
/// When one direction reads end of file, it shuts the other socket down for
/// writing (half-close travels: [`shutdown_reason`](Socket::shutdown_reason)
/// shows it) and the other direction goes on. On Linux, bulk moves inside
/// the kernel (`splice(2)` through a pipe per direction, no copy into user
/// space); small messages are copied through a buffer on the stack, which
/// costs fewer syscalls than splicing them (see the module notes in the
/// source for the exact rule). Where the kernel refuses pipes (the per-user
/// pipe budget) and on other systems it copies through one reused buffer
/// per direction, losing nothing either way.
///
/// The sockets' own timeouts and blocking mode do not apply: `idle` bounds
/// the time in which no byte moves in *either* direction (then `TimedOut`),
/// so a one-way stream (a download, a server push) is never cut while it
/// flows. `None` waits without limit.
///
/// # Errors
/// `InvalidArgument` unless both are connected stream sockets (and distinct);
/// `socket is in an illegal state` when either is closed (also through
/// [`close_shared`](Socket::close_shared) while the copy runs); `TimedOut`
/// after `idle` with no byte moving; a reset or other failure on either
/// side ends it with that error, and the failing socket closes, as for
/// [`send`](Socket::send)/[`receive`](Socket::receive).
///
/// # Cancel safety
/// Not cancel safe, as `tokio::io::copy_bidirectional` is not: bytes in
/// flight inside the call (in its pipe or buffer) are gone when the future
/// is dropped. Bound it with `idle` instead of dropping it.
///
/// # Platform notes
/// The splice path is Linux-only; elsewhere every direction copies.
///
/// # Examples
/// ```no_run
/// # async fn f() -> blade_socket::Result<()> {
/// use std::time::Duration;
/// use blade_socket::Socket;
/// let mut listener = Socket::tcp()?;
/// listener.bind(8080, Some("127.0.0.1")).await?;
/// listener.listen(None)?;
/// let client = listener.accept().await?;
/// let mut upstream = Socket::tcp()?;
/// upstream.connect(Some("127.0.0.1"), 9090, Some(Duration::from_secs(5))).await?;
/// let (up, down) =
///     blade_socket::copy_bidirectional(&client, &upstream, Some(Duration::from_secs(60))).await?;
/// println!("{up} bytes up, {down} bytes down");
/// # Ok(()) }
/// ```
#[doc(alias("splice", "proxy"))]
pub async fn copy_bidirectional(
    a: &Socket,
    b: &Socket,
    idle: Option<Duration>,
) -> Result<(u64, u64)> {
    for s in [a, b] {
        let st = s.state.get();
        st.check_open()?;
        if s.ty != SOCK_STREAM || st.phase != Phase::Connected {
            return Err(SocketError::invalid(
                "copy_bidirectional needs two connected stream sockets",
            ));
        }
    }
    let (io_a, io_b) = (a.io()?, b.io()?);
    if Arc::ptr_eq(&io_a, &io_b) {
        return Err(SocketError::invalid(
            "copy_bidirectional needs two distinct sockets",
        ));
    }
    let wait = Wait::begin_on(&io_a, None)?;
    for io in [&io_a, &io_b] {
        io.set_fd_blocking(false)?;
    }
    let refuse = a.cold.refuse_splice.load(Ordering::Relaxed)
        || b.cold.refuse_splice.load(Ordering::Relaxed);
    let hold_sigpipe = !sys::sigpipe_ignored();
    let mut dirs = [
        Direction::new(a, b, &io_a, &io_b, refuse, hold_sigpipe),
        Direction::new(b, a, &io_b, &io_a, refuse, hold_sigpipe),
    ];
    let r = if wait.in_place() {
        on_calling_thread(&mut dirs, idle)
    } else {
        let r = on_reactor(&mut dirs, idle).await;
        for d in &mut dirs {
            d.src_io.unpark(&mut d.close_keys[0]);
            d.dst_io.unpark(&mut d.close_keys[1]);
        }
        r
    };
    r.map(|()| (dirs[0].count, dirs[1].count))
}

impl Socket {
    /// Makes [`copy_bidirectional`] on this socket act as if the kernel
    /// refused every pipe (the per-user pipe budget spent), so that tests
    /// can run the fallback path.
    #[doc(hidden)]
    pub fn refuse_splice(&self, on: bool) {
        self.cold.refuse_splice.store(on, Ordering::Relaxed);
    }
}

/// Where a direction keeps bytes it has read but not yet written, and how
/// it reads next.
enum Path {
    /// Reads into the stack; an unwritten rest waits in a `buf` of its size.
    Copy,
    /// Reads into its pipe.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Splice(sys::Pipe),
    /// Reads into a reused buffer (pipes refused).
    Buffer,
}

/// One direction: `src` → `dst`.
struct Direction<'s> {
    src: &'s Socket,
    dst: &'s Socket,
    src_io: &'s Arc<Io>,
    dst_io: &'s Arc<Io>,
    path: Path,
    /// Bytes read but not yet written on the copy and buffer paths:
    /// `buf[lo..hi]`.
    buf: Vec<u8>,
    lo: usize,
    hi: usize,
    /// Bytes in the pipe, not yet written.
    in_pipe: usize,
    eof: bool,
    done: bool,
    count: u64,
    refuse_pipes: bool,
    /// Read by the `splice` path only, which is Linux's.
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        allow(dead_code)
    )]
    hold_sigpipe: bool,
    /// Its entries for the close signal of the source and the destination
    /// (see `sys::Io::park`): a close through `&self` of either wakes it.
    close_keys: [u32; 2],
}

/// What a direction needs next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Read,
    Write,
    Done,
}

/// What one step did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing (the direction is done).
    Nothing,
    /// Bytes moved (or end of file passed on).
    Moved,
    /// Bytes moved, and the socket it waited on is drained (a short read)
    /// or full (a partial write): its readiness can be cleared.
    Drained,
}

/// Why one step stopped: it would block (wait for what [`Direction::need`]
/// says), or the copy must end.
enum Stop {
    WouldBlock,
    Fail(SocketError),
}

impl<'s> Direction<'s> {
    fn new(
        src: &'s Socket,
        dst: &'s Socket,
        src_io: &'s Arc<Io>,
        dst_io: &'s Arc<Io>,
        refuse_pipes: bool,
        hold_sigpipe: bool,
    ) -> Self {
        Direction {
            src,
            dst,
            src_io,
            dst_io,
            path: Path::Copy,
            buf: Vec::new(),
            lo: 0,
            hi: 0,
            in_pipe: 0,
            eof: false,
            done: false,
            count: 0,
            refuse_pipes,
            hold_sigpipe,
            close_keys: [0; 2],
        }
    }

    fn need(&self) -> Need {
        if self.done {
            Need::Done
        } else if self.in_pipe > 0 || self.lo < self.hi || self.eof {
            Need::Write
        } else {
            Need::Read
        }
    }

    /// The socket and readiness the next step waits for.
    fn waits_on(&self) -> Option<(&'s Arc<Io>, Interest)> {
        match self.need() {
            Need::Read => Some((self.src_io, Interest::READABLE)),
            Need::Write => Some((self.dst_io, Interest::WRITABLE)),
            Need::Done => None,
        }
    }

    /// One step: at most one read and one write.
    fn step(&mut self) -> std::result::Result<Step, Stop> {
        if self.src_io.is_closed() || self.dst_io.is_closed() {
            return Err(Stop::Fail(SocketError::illegal(ILLEGAL_STATE)));
        }
        match self.need() {
            Need::Done => Ok(Step::Nothing),
            Need::Write if self.eof && self.in_pipe == 0 && self.lo >= self.hi => {
                // Half-close travels. A peer already gone shows up on the
                // other direction's next call, so its error is not ours.
                let _ = self.dst.shutdown(SHUT_WR);
                self.done = true;
                self.release();
                Ok(Step::Moved)
            }
            Need::Write => self.write(),
            Need::Read => self.read(),
        }
    }

    fn write(&mut self) -> std::result::Result<Step, Stop> {
        let dst = self.dst_io.sock();
        let held = if self.in_pipe > 0 {
            self.in_pipe
        } else {
            self.hi - self.lo
        };
        let r = match &self.path {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Path::Splice(p) if self.in_pipe > 0 => {
                sys::splice(p.read.as_fd(), dst.as_fd(), self.in_pipe, self.hold_sigpipe)
            }
            _ => dst.send_with_flags(
                &self.buf[self.lo..self.hi],
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            ),
        };
        match r {
            Ok(n) => {
                // A partial write: the socket's buffer is full, so its
                // readiness can go without a failed write to prove it.
                let step = if n < held { Step::Drained } else { Step::Moved };
                self.count += n as u64;
                if self.in_pipe > 0 {
                    self.in_pipe -= n.min(self.in_pipe);
                } else {
                    self.lo += n;
                    if self.lo >= self.hi {
                        self.lo = 0;
                        self.hi = 0;
                        if matches!(self.path, Path::Copy) {
                            self.buf = Vec::new();
                        }
                    }
                }
                Ok(step)
            }
            Err(e) => Err(self.stop(e, false)),
        }
    }

    fn read(&mut self) -> std::result::Result<Step, Stop> {
        let src = self.src_io.sock();
        match &self.path {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Path::Splice(p) => match sys::splice(src.as_fd(), p.write.as_fd(), p.size, false) {
                Ok(0) => self.at_eof(),
                Ok(n) => {
                    self.in_pipe = n;
                    Ok(Step::Moved)
                }
                Err(e) => {
                    if e.kind() == io::ErrorKind::WouldBlock {
                        // Nothing to read and nothing held: give the pipe back.
                        self.release();
                    }
                    Err(self.stop(e, true))
                }
            },
            Path::Buffer => {
                let hi = self.buf.len();
                match sys::recv_slice(src, &mut self.buf[..hi], libc::MSG_DONTWAIT) {
                    Ok(0) => self.at_eof(),
                    Ok(n) => {
                        self.lo = 0;
                        self.hi = n.min(hi);
                        Ok(Step::Moved)
                    }
                    Err(e) => {
                        if e.kind() == io::ErrorKind::WouldBlock {
                            self.release();
                        }
                        Err(self.stop(e, true))
                    }
                }
            }
            Path::Copy => {
                let mut chunk = [MaybeUninit::<u8>::uninit(); COPY_CHUNK];
                let got = match sys::recv_uninit(src, &mut chunk, libc::MSG_DONTWAIT) {
                    Ok([]) => return self.at_eof(),
                    Ok(got) => got,
                    Err(e) => return Err(self.stop(e, true)),
                };
                let full = got.len() == COPY_CHUNK;
                let sent = match self
                    .dst_io
                    .sock()
                    .send_with_flags(got, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(e) => return Err(self.stop(e, false)),
                };
                self.count += sent as u64;
                if sent < got.len() {
                    self.buf = got[sent..].to_vec();
                    self.lo = 0;
                    self.hi = self.buf.len();
                }
                if full {
                    self.go_bulk();
                    Ok(Step::Moved)
                } else {
                    // A short read took all that was queued (as tokio's
                    // reads assume): waiting now costs no failed `recv`.
                    // Only on this path, which holds nothing while it
                    // waits; the others learn from `EAGAIN` to let go.
                    Ok(Step::Drained)
                }
            }
        }
    }

    /// Bulk is flowing: take a pipe, or where the kernel refuses one, a
    /// buffer. Called with nothing held unless the copy path kept a rest
    /// (then the move waits until it is written).
    fn go_bulk(&mut self) {
        if self.lo < self.hi {
            return;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if !self.refuse_pipes {
            if let Some(p) = sys::pipe(BULK) {
                self.path = Path::Splice(p);
                return;
            }
        }
        let _ = self.refuse_pipes; // read only on Linux
        self.buf = vec![0; BULK];
        self.lo = 0;
        self.hi = 0;
        self.path = Path::Buffer;
    }

    /// Back to the copy path, holding nothing (called with nothing held).
    fn release(&mut self) {
        self.path = Path::Copy;
        self.buf = Vec::new();
        self.lo = 0;
        self.hi = 0;
    }

    fn at_eof(&mut self) -> std::result::Result<Step, Stop> {
        self.eof = true;
        Ok(Step::Moved)
    }

    /// A failed syscall: `WouldBlock`, or the end of the copy (the failing
    /// socket closes if the peer is gone, as for `send`/`receive`).
    fn stop(&self, e: io::Error, reading: bool) -> Stop {
        if e.kind() == io::ErrorKind::WouldBlock {
            return Stop::WouldBlock;
        }
        if e.kind() == io::ErrorKind::Interrupted {
            return Stop::WouldBlock;
        }
        let sock = if reading { self.src } else { self.dst };
        Stop::Fail(sock.fail(e.into()))
    }
}

/// The blocking facade's loop: steps until both directions would block,
/// then one `poll(2)` on what they need, within the idle deadline.
fn on_calling_thread(dirs: &mut [Direction<'_>; 2], idle: Option<Duration>) -> Result<()> {
    let mut deadline = idle.map(|d| std::time::Instant::now() + d);
    loop {
        let mut moved = false;
        for d in dirs.iter_mut() {
            loop {
                match d.step() {
                    Ok(Step::Moved | Step::Drained) => moved = true,
                    Ok(Step::Nothing) | Err(Stop::WouldBlock) => break,
                    Err(Stop::Fail(e)) => return Err(e),
                }
            }
        }
        if dirs.iter().all(|d| d.need() == Need::Done) {
            return Ok(());
        }
        let now = std::time::Instant::now();
        if moved {
            deadline = idle.map(|d| now + d);
        }
        let left = match deadline {
            Some(at) if at <= now => return Err(SocketError::timed_out("copy_bidirectional")),
            Some(at) => Some(at - now),
            None => None,
        };
        let waits: Vec<_> = dirs
            .iter()
            .filter_map(|d| d.waits_on())
            .map(|(io, interest)| (io.sock().as_fd(), interest))
            .collect();
        // Never longer than the close check: a close through `&self`
        // wakes no poll(2), so the loop looks at it this often.
        let slice = left.map_or(sys::CLOSE_CHECK, |l| l.min(sys::CLOSE_CHECK));
        sys::poll_each(&waits, Some(slice))?;
    }
}

/// The async loop: each direction claims readiness before its syscall and
/// clears it only on `WouldBlock`.
async fn on_reactor(dirs: &mut [Direction<'_>; 2], idle: Option<Duration>) -> Result<()> {
    let mut sleep = idle.map(|d| Box::pin(tokio::time::sleep(d)));
    let mut last_moved = tokio::time::Instant::now();
    poll_fn(|cx| {
        let mut moved = false;
        for d in dirs.iter_mut() {
            if let Err(e) = drive(d, cx, &mut moved) {
                return Poll::Ready(Err(e));
            }
        }
        if dirs.iter().all(|d| d.need() == Need::Done) {
            return Poll::Ready(Ok(()));
        }
        let now = tokio::time::Instant::now();
        if moved {
            last_moved = now;
        }
        if let (Some(sleep), Some(idle)) = (sleep.as_mut(), idle) {
            loop {
                if sleep.as_mut().poll(cx).is_pending() {
                    break;
                }
                let due = last_moved + idle;
                if due <= tokio::time::Instant::now() {
                    return Poll::Ready(Err(SocketError::timed_out("copy_bidirectional")));
                }
                // Bytes moved since the timer was set: push it back.
                sleep.as_mut().reset(due);
            }
        }
        Poll::Pending
    })
    .await
}

/// Steps one direction while its readiness holds; returns with its waker
/// registered (or the direction done).
fn drive(d: &mut Direction<'_>, cx: &mut Context<'_>, moved: &mut bool) -> Result<()> {
    // A bound on steps per poll, so that one busy direction cannot starve
    // the other or the runtime (tokio's cooperative budget is not used by
    // readiness polls).
    for _ in 0..64 {
        let Some((io, interest)) = d.waits_on() else {
            return Ok(());
        };
        let reg = io.registration()?;
        let guard = if interest.is_readable() {
            reg.poll_read_ready(cx)
        } else {
            reg.poll_write_ready(cx)
        };
        let mut guard = match guard {
            Poll::Ready(g) => g?,
            Poll::Pending => {
                // Parked: leave the waker for a close of either socket.
                let [src_key, dst_key] = &mut d.close_keys;
                if !d.src_io.park(src_key, cx.waker()) || !d.dst_io.park(dst_key, cx.waker()) {
                    return Err(SocketError::illegal(ILLEGAL_STATE));
                }
                return Ok(());
            }
        };
        match d.step() {
            Ok(Step::Moved) => *moved = true,
            Ok(Step::Drained) => {
                *moved = true;
                guard.clear_ready();
            }
            Ok(Step::Nothing) => return Ok(()),
            Err(Stop::WouldBlock) => guard.clear_ready(),
            Err(Stop::Fail(e)) => return Err(e),
        }
    }
    cx.waker().wake_by_ref();
    Ok(())
}
