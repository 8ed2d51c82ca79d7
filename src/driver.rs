//! How a call waits, decided in this one module: through tokio's reactor
//! (the async API), or on the calling thread itself (the blocking facade,
//! which marks its thread while it drives a call). Readiness, sleeps, work
//! that must run off the thread (name resolution) and the deadline over
//! each are all here; no other module asks which driver runs a call.
//!
//! The rules every wait follows, each written out where its mechanism lives:
//! - **A close through `&self` wakes waiters without touching the kernel
//!   socket** (`sys::Io`, "the close signal"): reactor waits leave their
//!   waker with the handle before they park; the calling thread's waits look
//!   at the close at least every `sys::CLOSE_CHECK`. Only `shutdown()`,
//!   `abort()` and the last close end the connection.
//! - **Hang-up readiness with `WouldBlock` is an end state** ([`poll_io`],
//!   `Wait::in_place_ready`): tokio never clears it, so waiting again spins.
//! - **One waker discipline** ([`Waiting`]): whoever holds the socket's
//!   flag for a direction waits in tokio's waker slot, every other wait
//!   (method or `poll_read`/`poll_write`) in tokio's waiter list.
//! - **Reset versus end of file is asked of the kernel** (`sys::eof_or_reset`).
//! - **The last close never blocks a runtime worker** (`Drop for sys::Io`).

use std::{
    cell::Cell,
    fmt,
    future::{Future, poll_fn},
    io,
    os::fd::AsFd,
    pin::Pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use tokio::{
    io::{Interest, unix::AsyncFdReadyGuard},
    runtime::Handle,
    time::{Instant, Sleep},
};

use crate::{
    error::{CLOSED, NO_RUNTIME, Result, SHUT_FOR_READING, SHUT_FOR_WRITING, SocketError},
    sys::{self, Fd, Io},
    timeout::{Clock, Deadline, poll_timer},
};

/// Who drives the calls of this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// The reactor (the async API), if there is a runtime.
    Reactor,
    /// This thread, for the blocking facade.
    CallingThread,
    /// This thread, which is also a current-thread runtime's: a wait here
    /// stalls that runtime.
    StallingThread,
}

thread_local! {
    static CALLING_THREAD: Cell<Mark> = const { Cell::new(Mark::Reactor) };
}

/// Whether the one-trap warning has been emitted in this process.
static WARNED: AtomicBool = AtomicBool::new(false);

/// Whether a calling-thread wait here would stall a current-thread runtime
/// (so the facade waits where it can tell that it waits).
fn stalls_a_runtime() -> bool {
    CALLING_THREAD.with(Cell::get) == Mark::StallingThread
}

/// The one trap's warning.
const TRAP_WARNING: &str = "a blade_socket::blocking call is waiting on the thread of a \
     current-thread tokio runtime: every other task of that runtime stalls until it returns, \
     and if its peer is one of them it waits forever (or until its timeout). Use a \
     multi-thread runtime (`#[tokio::main(flavor = \"multi_thread\")]`, \
     `#[tokio::test(flavor = \"multi_thread\")]`) or move the blocking call into \
     `tokio::task::spawn_blocking`. This is said once per process.";

/// Called just before the calling thread waits: the first time in the
/// process that the thread is a current-thread runtime's, says so once,
/// through `tracing`, or on stderr when no subscriber would see it (a sync
/// program, a default `#[tokio::test]`).
fn note_wait() {
    if stalls_a_runtime() && !WARNED.swap(true, Ordering::Relaxed) {
        warn_of_the_trap();
    }
}

#[cold]
fn warn_of_the_trap() {
    tracing::warn!("{TRAP_WARNING}");
    let no_subscriber =
        tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
    if no_subscriber {
        use std::io::Write;
        // Nothing to do if stderr is gone.
        let _ = writeln!(std::io::stderr(), "WARN blade_socket: {TRAP_WARNING}");
    }
}

/// A timeout of a wait made on a current-thread runtime's thread says so:
/// the peer it waited for may have been one of that runtime's stalled tasks.
#[cold]
fn stalled_timeout(e: SocketError) -> SocketError {
    if e.is_timeout() && stalls_a_runtime() {
        let text = format!(
            "{} (waited on a current-thread runtime's thread: see the blocking module docs)",
            e.message()
        );
        e.with_message(text)
    } else {
        e
    }
}

/// Who waits for the current call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    /// Await the socket's registration with the current runtime's reactor.
    Reactor,
    /// Block this thread (the syscall itself, or `poll(2)`): the blocking
    /// facade is driving the call.
    CallingThread,
}

impl Driver {
    /// The clock its deadlines follow: the reactor's timers run on tokio's
    /// (paused under `tokio::time::pause()`), the calling thread waits in
    /// real time.
    #[inline]
    fn clock(self) -> Clock {
        match self {
            Driver::Reactor => Clock::Tokio,
            Driver::CallingThread => Clock::Real,
        }
    }

    /// The driver for a call starting now, or `IllegalState` `no tokio
    /// runtime` when an async method is awaited outside any runtime.
    #[inline]
    fn current() -> Result<Driver> {
        if CALLING_THREAD.with(Cell::get) != Mark::Reactor {
            Ok(Driver::CallingThread)
        // A task id means a runtime, and costs no handle clone (an atomic
        // increment and decrement) on every operation.
        } else if tokio::task::try_id().is_some() || Handle::try_current().is_ok() {
            Ok(Driver::Reactor)
        } else {
            Err(SocketError::illegal(NO_RUNTIME))
        }
    }
}

/// Marks this thread as driving calls itself until dropped (nesting-safe).
#[derive(Debug)]
pub(crate) struct CallingThreadGuard {
    was: Mark,
}

impl CallingThreadGuard {
    /// `stalls` tells that this thread is also a current-thread runtime's.
    #[inline]
    pub(crate) fn enter(stalls: bool) -> CallingThreadGuard {
        let mark = if stalls {
            Mark::StallingThread
        } else {
            Mark::CallingThread
        };
        CallingThreadGuard {
            was: CALLING_THREAD.with(|c| c.replace(mark)),
        }
    }
}

impl Drop for CallingThreadGuard {
    #[inline]
    fn drop(&mut self) {
        CALLING_THREAD.with(|c| c.set(self.was));
    }
}

/// Work handed off the calling thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Where the facade runs work that must not hold its caller past a
/// deadline (set by the blocking layer: its runtime's blocking pool).
static OFFLOAD: OnceLock<fn(Job)> = OnceLock::new();

/// Installs where the calling-thread driver hands off work (first call wins).
pub(crate) fn set_offload(spawn: fn(Job)) {
    let _ = OFFLOAD.set(spawn);
}

/// What a readiness wait is for: its name in a `TimedOut` error (`receive
/// timed out`), kept in a byte by the future a task parks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    Receive,
    Send,
    Accept,
    Connect,
    Close,
}

impl What {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            What::Receive => "receive",
            What::Send => "send",
            What::Accept => "accept",
            What::Connect => "connect",
            What::Close => "close",
        }
    }
}

/// How one call waits: its driver and its one deadline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wait {
    driver: Driver,
    deadline: Deadline,
}

impl Wait {
    /// The wait of a call starting now, `timeout` from now at the latest.
    ///
    /// # Errors
    /// `no tokio runtime` when an async method is awaited outside one.
    #[inline]
    pub(crate) fn begin(timeout: Option<Duration>) -> Result<Wait> {
        let driver = Driver::current()?;
        Ok(Wait {
            driver,
            deadline: Deadline::after_on(timeout, driver.clock()),
        })
    }

    /// The wait of an operation on `io` starting now: as [`Wait::begin`],
    /// except that a socket already registered with a reactor needs no
    /// runtime lookup (its readiness reports a runtime that has gone).
    #[inline(always)]
    pub(crate) fn begin_on(io: &Io, timeout: Option<Duration>) -> Result<Wait> {
        let driver = match CALLING_THREAD.with(Cell::get) {
            Mark::Reactor if io.registered().is_some() => Driver::Reactor,
            Mark::Reactor => Driver::current()?,
            Mark::CallingThread | Mark::StallingThread => Driver::CallingThread,
        };
        Ok(Wait {
            driver,
            deadline: Deadline::after_on(timeout, driver.clock()),
        })
    }

    /// Whether the calling thread waits itself (the blocking facade drives
    /// the call): its connected stream sockets then get a blocking descriptor.
    pub(crate) fn in_place(self) -> bool {
        self.driver == Driver::CallingThread
    }

    /// The time left before the deadline (`None`: no deadline), or
    /// `TimedOut` naming `what` once it has passed. (Only `send_file`'s
    /// `splice` path, Linux's, asks.)
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn remaining(self, what: &str) -> Result<Option<Duration>> {
        self.deadline.remaining(what)
    }

    /// `TimedOut` naming `what` once the deadline has passed.
    pub(crate) fn check(self, what: &str) -> Result<()> {
        self.deadline.remaining(what).map(drop)
    }

    /// Runs `op` (one syscall) until it stops reporting `WouldBlock`,
    /// waiting for `interest` in between, within the deadline: the one
    /// readiness loop under every operation. `op` gets the `recv`/`send`
    /// flags to add: `MSG_DONTWAIT` wherever the call must not block (ops
    /// without flags, such as `accept4`, run only on non-blocking descriptors).
    ///
    /// With `may_wait` false (non-blocking mode) it makes one attempt. On the
    /// calling thread it waits, on a descriptor in blocking mode with no
    /// deadline, inside the syscall (one syscall per operation, as
    /// `std::net`); otherwise in `poll(2)`. Under the reactor the socket
    /// registers on its first wait, then consults readiness before the
    /// syscall, as `tokio::net` does, so a receive that must wait costs no
    /// failed syscall. The async form of [`poll_ready`].
    ///
    /// Cancel safety: `op` runs only inside a single poll, after readiness,
    /// so dropping the future between polls loses nothing.
    ///
    /// A named future, not nested `async fn`s or a `poll_fn` closure: the
    /// state a task parks is the loop's, once (see [`Waiting`]).
    #[inline]
    pub(crate) fn ready<'a, R, F>(
        &'a self,
        io: &'a Arc<Io>,
        interest: Interest,
        may_wait: bool,
        what: What,
        op: F,
    ) -> Ready<'a, F>
    where
        F: FnMut(&socket2::Socket, i32) -> io::Result<R> + 'a,
    {
        Ready {
            wait: self,
            io,
            op,
            interest,
            what,
            may_wait,
            waiting: Waiting::default(),
        }
    }

    /// The calling thread's readiness loop.
    #[inline]
    fn in_place_ready<R>(
        &self,
        io: &Io,
        interest: Interest,
        what: &'static str,
        op: &mut impl FnMut(&socket2::Socket, i32) -> io::Result<R>,
    ) -> Result<R> {
        let sock = io.sock();
        // On a current-thread runtime's thread, wait in poll(2) below, where
        // the wait can be told apart (and warned about).
        if io.fd_blocking() && self.deadline.is_unbounded() && !stalls_a_runtime() {
            loop {
                match op(sock, 0) {
                    // Woken by a close through `&self` (the descriptor's
                    // timeout brings a blocked call back to look, see
                    // `sys::CLOSE_CHECK`): the loop below reports it.
                    Err(_) if io.is_closed() => {}
                    // A signal handler without `SA_RESTART` ran before
                    // anything moved: go on, as `std::io::Write::write_all` does.
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // The close check's timeout, or a descriptor another
                    // handle made non-blocking: wait in poll(2) below.
                    Err(e) if would_block(&e) => {}
                    r => return r.map_err(Into::into),
                }
                break;
            }
        }
        // Whether the last poll(2) saw hang-up: then `WouldBlock` is an end
        // state (a socket shut for reading by another handle), never a loop.
        let mut hung_up = false;
        loop {
            check_open(io)?;
            match op(sock, libc::MSG_DONTWAIT) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if would_block(&e) => {}
                r => return finish(io, r),
            }
            if hung_up {
                return Err(hung_up_error(io, interest.is_readable()));
            }
            // poll(2) caps its wait near 24 days; on its timeout, the
            // deadline alone says whether time is really up. It never
            // waits longer than the close check, so a close through
            // `&self` is seen.
            let left = self.deadline.remaining(what).map_err(stalled_timeout)?;
            let slice = left.map_or(sys::CLOSE_CHECK, |l| l.min(sys::CLOSE_CHECK));
            note_wait();
            match sys::poll_hangup(io.sock().as_fd(), interest, Some(slice))? {
                None => {
                    self.deadline.remaining(what).map_err(stalled_timeout)?;
                }
                Some(hup) => hung_up = hup,
            }
        }
    }

    /// Sleeps for `pause`, cut short by the deadline (then `TimedOut`): a
    /// timer on the reactor, a plain sleep on the calling thread.
    pub(crate) async fn pause(self, what: &str, pause: Duration) -> Result<()> {
        let pause = match self.deadline.remaining(what)? {
            Some(left) => pause.min(left),
            None => pause,
        };
        match self.driver {
            Driver::CallingThread => {
                note_wait();
                std::thread::sleep(pause);
                return self.check(what).map_err(stalled_timeout);
            }
            Driver::Reactor => {
                let mut sleep = std::pin::pin!(tokio::time::sleep(pause));
                poll_fn(|cx| poll_timer(sleep.as_mut(), cx)).await?;
            }
        }
        self.check(what)
    }

    /// Runs `work` (a call that may block, such as `getaddrinfo`) where it
    /// may block, within the deadline: on tokio's blocking pool under the
    /// reactor; on the calling thread itself when there is no deadline;
    /// otherwise handed to the facade's runtime while the caller waits up to
    /// the deadline, so a slow resolver cannot hold it longer.
    pub(crate) async fn off_thread<T: Send + 'static>(
        self,
        what: &'static str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        match self.driver {
            Driver::Reactor => {
                let task = async {
                    tokio::task::spawn_blocking(work)
                        .await
                        .map_err(|e| SocketError::resolution(format!("resolver task failed: {e}")))
                };
                self.within(what, task).await?
            }
            Driver::CallingThread => {
                let Some(left) = self.deadline.remaining(what)? else {
                    return Ok(work());
                };
                let (tx, rx) = mpsc::sync_channel(1);
                let job: Job = Box::new(move || {
                    let _ = tx.send(work());
                });
                match OFFLOAD.get() {
                    Some(spawn) => spawn(job),
                    None => {
                        std::thread::Builder::new()
                            .name("blade-socket-resolve".into())
                            .spawn(job)
                            .map_err(SocketError::from)?;
                    }
                }
                note_wait();
                match rx.recv_timeout(left) {
                    Ok(v) => Ok(v),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        Err(stalled_timeout(SocketError::timed_out(what)))
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        Err(SocketError::resolution("resolver task failed".to_owned()))
                    }
                }
            }
        }
    }

    /// Waits until one of `fds` is writable (a connect attempt moved),
    /// `until` comes, or the deadline passes (`TimedOut`).
    pub(crate) async fn any_writable(self, ios: &[&Io], until: Option<Instant>) -> Result<()> {
        match self.driver {
            Driver::CallingThread => {
                let left = self.deadline.remaining("connect")?;
                let turn = until.map(|t| t.saturating_duration_since(Instant::now()));
                let wait = match (left, turn) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let fds: Vec<_> = ios.iter().map(|io| io.sock().as_fd()).collect();
                note_wait();
                sys::poll_any(&fds, Interest::WRITABLE, wait)?;
                self.check("connect").map_err(stalled_timeout)
            }
            Driver::Reactor => {
                type Waiting<'a> = Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>>;
                let mut waits: Vec<Waiting<'_>> = Vec::with_capacity(ios.len() + 1);
                for io in ios {
                    let reg = io.registration()?;
                    waits.push(Box::pin(async move {
                        reg.writable().await?.clear_ready();
                        Ok(())
                    }));
                }
                if let Some(t) = until {
                    waits.push(Box::pin(async move {
                        tokio::time::sleep_until(t).await;
                        Ok(())
                    }));
                }
                let any = futures::future::select_all(waits);
                self.within("connect", any).await?.0?;
                Ok(())
            }
        }
    }

    /// `fut` under the deadline; expiry is `TimedOut` naming `what`. On the
    /// calling thread `fut` waits in place and cannot be cut short (its own
    /// waits honour the deadline), so the deadline is checked once it is done.
    pub(crate) async fn within<F: Future>(self, what: &str, fut: F) -> Result<F::Output> {
        match (self.deadline.instant(), self.driver) {
            (None, _) => Ok(fut.await),
            (Some(_), Driver::CallingThread) => {
                let out = fut.await;
                self.check(what).map_err(stalled_timeout)?;
                Ok(out)
            }
            (Some(at), Driver::Reactor) => {
                let mut fut = std::pin::pin!(fut);
                let mut sleep = std::pin::pin!(tokio::time::sleep_until(at));
                poll_fn(|cx| {
                    if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                        return Poll::Ready(Ok(v));
                    }
                    poll_timer(sleep.as_mut(), cx)
                        .map(|r| r.and_then(|()| Err(SocketError::timed_out(what))))
                })
                .await
            }
        }
    }
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// A close through `&self` (from another task or thread) wakes the waits;
/// after it the socket must not be touched again.
#[inline]
fn check_open(io: &Io) -> Result<()> {
    if io.is_closed() {
        Err(closed_error(io))
    } else {
        Ok(())
    }
}

/// The error of an operation that finds its socket closed under it: the
/// peer's failure that closed it (a reset that a concurrent call was told
/// of), or `socket is in an illegal state` when the user closed it.
#[cold]
fn closed_error(io: &Io) -> SocketError {
    match io.gone() {
        Some(errno) => SocketError::from_errno(errno),
        None => SocketError::illegal(CLOSED),
    }
}

/// The error of a wait whose socket reports hang-up while the syscall says
/// `WouldBlock` (shut for reading by another handle: a UDP socket then
/// stays readable-with-hang-up and `recv` fails with `EAGAIN`, forever):
/// an end state, reported instead of waiting again.
#[cold]
fn hung_up_error(io: &Io, read: bool) -> SocketError {
    if io.is_closed() {
        closed_error(io)
    } else if read {
        SocketError::illegal(SHUT_FOR_READING)
    } else {
        SocketError::illegal(SHUT_FOR_WRITING)
    }
}

/// Whether readiness reports the hang-up of `interest`'s direction.
#[inline]
fn hung_up(ready: tokio::io::Ready, read: bool) -> bool {
    if read {
        ready.is_read_closed()
    } else {
        ready.is_write_closed()
    }
}

/// Leaves the task's waker for a close through `&self` (see `sys::Io`'s
/// close signal) before a wait parks: `key` is `None` for the waker slot's
/// holder of the `read` direction, else the other wait's entry. The error
/// when the handle is already closed (the wait must not park).
#[inline(always)]
fn park(io: &Io, key: Option<&mut u32>, read: bool, cx: &Context<'_>) -> Result<()> {
    let parked = match key {
        None => io.park_holder(read, cx.waker()),
        Some(key) => io.park(key, cx.waker()),
    };
    if parked {
        Ok(())
    } else {
        Err(closed_error(io))
    }
}

/// The result of a syscall made while a close through `&self` may have
/// come: what it moved stands (nothing read or written is lost, and the
/// close no longer touches the socket, so the result is the kernel's);
/// its failure after the close is reported as the close.
#[inline]
fn finish<R>(io: &Io, r: io::Result<R>) -> Result<R> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => {
            check_open(io)?;
            Err(e.into())
        }
    }
}

/// A pending `poll_read`/`poll_write`'s deadline and its wait, kept between
/// polls (made when a read or write starts, so each gets the whole timeout,
/// as each `receive` or `send` does).
#[derive(Default)]
pub(crate) struct Timer {
    deadline: Option<Instant>,
    waiting: Waiting,
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Timer {
    /// The timer of a wait that starts now and may last `timeout`.
    pub(crate) fn after(timeout: Option<Duration>) -> Timer {
        Timer {
            deadline: Deadline::after(timeout).instant(),
            waiting: Waiting::default(),
        }
    }

    /// Gives back what the wait holds on `io` (see [`Waiting::release`]).
    #[inline]
    pub(crate) fn release(&mut self, io: &Io, interest: Interest) {
        self.waiting.release(io, interest);
    }
}

/// Pending, unless `deadline` has passed (then `TimedOut`); the timer is
/// armed only here, when a wait with a deadline has to park.
#[inline]
fn poll_expired<R>(
    deadline: Option<Instant>,
    sleep: &mut Option<Pin<Box<Sleep>>>,
    cx: &mut Context<'_>,
    what: &str,
) -> Poll<Result<R>> {
    let Some(at) = deadline else {
        return Poll::Pending;
    };
    let sleep = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
    ready!(poll_timer(sleep.as_mut(), cx))?;
    Poll::Ready(Err(SocketError::timed_out(what)))
}

/// `TimedOut` once `deadline` has passed.
#[inline]
fn check_deadline(deadline: Option<Instant>, what: &str) -> Result<()> {
    match deadline {
        Some(at) if Instant::now() >= at => Err(SocketError::timed_out(what)),
        _ => Ok(()),
    }
}

/// The readiness loop's state between polls, in a future that waits:
/// [`Ready`], the socket's own futures for its hottest calls, and (in a
/// [`Timer`]) a pending `poll_read`/`poll_write`.
///
/// # One waker discipline
///
/// tokio's per-direction waker slot holds one task. Whoever takes the
/// socket's flag for that direction ([`Io::slot_flag`]) waits through the
/// slot; every other wait, async method or `poll_read`/`poll_write` alike,
/// waits through a readiness future of its own in tokio's waiter list, so
/// no wait overwrites another's waker and concurrent waiters all wake. The
/// flag is given back when the wait ends or is dropped ([`Waiting::release`];
/// a pending `poll_read` gives it back when its direction's next poll
/// completes, or on a close or a conversion through `&mut self`). Every wait
/// that parks also leaves its waker for the close signal ([`Io::park`]).
#[derive(Default)]
pub(crate) struct Waiting {
    /// The deadline's timer, armed when the wait first parks.
    sleep: Option<Pin<Box<Sleep>>>,
    /// A readiness future in tokio's waiter list, while another call holds
    /// the waker slot (boxed twice: a thin pointer in the parked future).
    shared: Option<Box<SharedWait>>,
    /// The wait's entry for the close signal (0: none), see [`Io::park`].
    parked: u32,
    started: bool,
    /// Whether this wait holds the waker slot, to give back when it ends.
    holds_slot: bool,
}

/// A wait for readiness in tokio's waiter list: whether it saw hang-up.
type SharedWait = Pin<Box<dyn Future<Output = io::Result<bool>> + Send>>;

impl Waiting {
    /// Starts over for another syscall of the same call (the rest of a
    /// partial write), keeping the timer and the waker slot.
    #[inline]
    pub(crate) fn again(&mut self) {
        self.started = false;
    }

    /// Runs `op` until it stops reporting `WouldBlock` (see [`Wait::ready`]).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn poll<R>(
        &mut self,
        cx: &mut Context<'_>,
        wait: &Wait,
        io: &Arc<Io>,
        interest: Interest,
        what: What,
        may_wait: bool,
        op: &mut impl FnMut(&socket2::Socket, i32) -> io::Result<R>,
        drained: Option<&Cell<bool>>,
    ) -> Poll<Result<R>> {
        if !self.started {
            self.started = true;
            check_open(io)?;
            if !may_wait {
                return Poll::Ready(finish(io, op(io.sock(), libc::MSG_DONTWAIT)));
            }
            if wait.driver == Driver::CallingThread {
                return Poll::Ready(wait.in_place_ready(io, interest, what.as_str(), op));
            }
            // A descriptor the facade put in blocking mode, now awaited.
            io.set_fd_blocking(false)?;
            if io.registered().is_none() {
                match op(io.sock(), libc::MSG_DONTWAIT) {
                    Err(e) if would_block(&e) => {}
                    r => return Poll::Ready(finish(io, r)),
                }
            }
        }
        let deadline = wait.deadline.instant();
        poll_io(io, cx, interest, what, deadline, self, op, drained)
    }

    /// Gives the waker slot and the close signal's entry back: call when
    /// the wait is over, or dropped.
    #[inline]
    pub(crate) fn release(&mut self, io: &Io, interest: Interest) {
        if self.holds_slot {
            self.holds_slot = false;
            io.slot_flag(interest.is_readable())
                .store(false, Ordering::Release);
        }
        if self.parked != 0 {
            io.unpark(&mut self.parked);
        }
    }
}

/// [`Wait::ready`]'s future.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Ready<'a, F> {
    wait: &'a Wait,
    io: &'a Arc<Io>,
    op: F,
    interest: Interest,
    what: What,
    may_wait: bool,
    waiting: Waiting,
}

// `op` is only ever called through `&mut`, never pinned.
impl<F> Unpin for Ready<'_, F> {}

impl<R, F: FnMut(&socket2::Socket, i32) -> io::Result<R>> Future for Ready<'_, F> {
    type Output = Result<R>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        let this = self.get_mut();
        this.waiting.poll(
            cx,
            this.wait,
            this.io,
            this.interest,
            this.what,
            this.may_wait,
            &mut this.op,
            None,
        )
    }
}

impl<F> Drop for Ready<'_, F> {
    #[inline]
    fn drop(&mut self) {
        self.waiting.release(self.io, self.interest);
    }
}

/// `poll_read`/`poll_write`'s readiness loop: [`poll_io`] on the reactor,
/// after the same runtime check as every other wait, under the same waker
/// discipline (see [`Waiting`]). The caller keeps `timer` while this is
/// pending and calls [`Timer::release`] once it is not.
pub(crate) fn poll_stream<R>(
    io: &Arc<Io>,
    cx: &mut Context<'_>,
    interest: Interest,
    what: What,
    timer: &mut Timer,
    mut op: impl FnMut(&socket2::Socket, i32) -> io::Result<R>,
    drained: Option<&Cell<bool>>,
) -> Poll<Result<R>> {
    if io.registered().is_none() {
        Driver::current()?;
    }
    io.set_fd_blocking(false)?;
    let deadline = timer.deadline;
    poll_io(
        io,
        cx,
        interest,
        what,
        deadline,
        &mut timer.waiting,
        &mut op,
        drained,
    )
}

/// The one readiness loop on the reactor, in poll form (the async form is
/// [`Ready`]): readiness, then `op`, until `op` stops reporting
/// `WouldBlock` or the deadline passes.
#[allow(clippy::too_many_arguments)]
#[inline]
fn poll_io<R>(
    io: &Arc<Io>,
    cx: &mut Context<'_>,
    interest: Interest,
    what: What,
    deadline: Option<Instant>,
    w: &mut Waiting,
    op: &mut impl FnMut(&socket2::Socket, i32) -> io::Result<R>,
    drained: Option<&Cell<bool>>,
) -> Poll<Result<R>> {
    let reg = io.registration()?;
    let read = interest.is_readable();
    loop {
        check_open(io)?;
        if w.shared.is_none() && !w.holds_slot {
            if io.slot_flag(read).swap(true, Ordering::Acquire) {
                let io = Arc::clone(io);
                let waiter: SharedWait = Box::pin(async move {
                    let guard = io.registration()?.ready(interest).await?;
                    Ok(hung_up(guard.ready(), read))
                });
                w.shared = Some(Box::new(waiter));
            } else {
                w.holds_slot = true;
            }
        }
        if let Some(waiter) = w.shared.as_mut() {
            let polled = waiter.as_mut().as_mut().poll(cx);
            let hup = match polled {
                Poll::Pending => {
                    park(io, Some(&mut w.parked), read, cx)?;
                    return poll_expired(deadline, &mut w.sleep, cx, what.as_str());
                }
                Poll::Ready(r) => {
                    w.shared = None;
                    r?
                }
            };
            // Ready, as far as the waiter list knows: try without
            // touching the waker slot (another call's).
            match reg.try_io(interest, |_| op(io.sock(), libc::MSG_DONTWAIT)) {
                Err(e) if would_block(&e) => {
                    if hup {
                        return Poll::Ready(Err(hung_up_error(io, read)));
                    }
                    ready!(tokio::task::coop::poll_proceed(cx)).made_progress();
                    check_deadline(deadline, what.as_str())?;
                    continue;
                }
                r => return Poll::Ready(finish(io, r)),
            }
        }
        let mut guard = match poll_direction(reg, read, cx) {
            Poll::Pending => {
                park(io, None, read, cx)?;
                return poll_expired(deadline, &mut w.sleep, cx, what.as_str());
            }
            Poll::Ready(r) => r?,
        };
        let hup = hung_up(guard.ready(), read);
        match guard.try_io(|_| op(io.sock(), libc::MSG_DONTWAIT)) {
            Ok(r) => {
                // A stream read that left room in its buffer drained the
                // socket (epoll is edge-triggered): forget the readiness
                // now, with the event the read was made under, so the
                // next read waits instead of failing with EAGAIN first
                // (as `tokio::net` does).
                if drained.is_some_and(Cell::get) {
                    guard.clear_ready();
                }
                return Poll::Ready(finish(io, r));
            }
            // Readiness the syscall contradicts. With hang-up it is an end
            // state (tokio never clears hang-up readiness, so waiting again
            // would spin); otherwise go through the budget to yield, and
            // let the deadline still end the call.
            Err(_would_block) => {
                if hup {
                    return Poll::Ready(Err(hung_up_error(io, read)));
                }
                ready!(tokio::task::coop::poll_proceed(cx)).made_progress();
                check_deadline(deadline, what.as_str())?;
            }
        }
    }
}

#[inline]
fn poll_direction<'a>(
    reg: &'a tokio::io::unix::AsyncFd<Fd>,
    read: bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<AsyncFdReadyGuard<'a, Fd>>> {
    if read {
        reg.poll_read_ready(cx)
    } else {
        reg.poll_write_ready(cx)
    }
}
