//! Deadlines: a timeout becomes one instant, computed once per call.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::time::Instant;

use crate::error::{Result, SocketError};

/// When an operation must give up; `None` means never.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline(Option<Instant>, Clock);

/// The clock a deadline follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clock {
    /// tokio's: the current runtime's, paused under `tokio::time::pause()`
    /// (the async face's timers run on it).
    Tokio,
    /// Real time, whatever runtime the thread is in: the blocking facade
    /// waits in `poll(2)` and `sleep`, which a paused clock does not move.
    Real,
}

impl Clock {
    fn now(self) -> Instant {
        match self {
            Clock::Tokio => Instant::now(),
            Clock::Real => Instant::from_std(std::time::Instant::now()),
        }
    }
}

impl Deadline {
    /// A deadline `timeout` from now on tokio's clock. `None`, zero, or a
    /// timeout too large to form an instant means no deadline.
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline::after_on(timeout, Clock::Tokio)
    }

    /// A deadline `timeout` from now on `clock`.
    #[inline]
    pub(crate) fn after_on(timeout: Option<Duration>, clock: Clock) -> Deadline {
        match timeout {
            // No timeout (the default): no clock read.
            None => Deadline(None, clock),
            Some(t) => Deadline(Deadline::instant_after(t, clock), clock),
        }
    }

    fn instant_after(t: Duration, clock: Clock) -> Option<Instant> {
        if t.is_zero() {
            None
        } else {
            clock.now().checked_add(t)
        }
    }

    /// The deadline's instant, if any.
    pub(crate) fn instant(self) -> Option<Instant> {
        self.0
    }

    /// Whether there is no deadline at all.
    pub(crate) fn is_unbounded(self) -> bool {
        self.0.is_none()
    }

    /// Time left, or a `TimedOut` error naming `what` once it has passed.
    pub(crate) fn remaining(self, what: &str) -> Result<Option<Duration>> {
        match self.0 {
            None => Ok(None),
            Some(at) => {
                let left = at.saturating_duration_since(self.1.now());
                if left.is_zero() {
                    Err(SocketError::timed_out(what))
                } else {
                    Ok(Some(left))
                }
            }
        }
    }
}

/// A socket's send or receive timeout, set through `&self` (as std's
/// `set_read_timeout`) and read by every call that starts: one atomic load
/// of nanoseconds, no lock. A timeout beyond what fits (about 584 years,
/// `Duration::MAX` say) is kept exactly beside it, behind a lock that only
/// such a timeout's readers take.
pub(crate) struct TimeoutCell {
    nanos: AtomicU64,
    large: Mutex<Option<Duration>>,
}

/// `nanos` of no timeout.
const NO_TIMEOUT: u64 = u64::MAX;
/// `nanos` of a timeout kept in `large`.
const LARGE: u64 = u64::MAX - 1;

impl TimeoutCell {
    pub(crate) fn new() -> TimeoutCell {
        TimeoutCell {
            nanos: AtomicU64::new(NO_TIMEOUT),
            large: Mutex::new(None),
        }
    }

    /// The timeout now; `None` for none.
    #[inline]
    pub(crate) fn get(&self) -> Option<Duration> {
        match self.nanos.load(Ordering::Acquire) {
            NO_TIMEOUT => None,
            LARGE => self.large(),
            n => Some(Duration::from_nanos(n)),
        }
    }

    #[cold]
    fn large(&self) -> Option<Duration> {
        *self.large.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the timeout (already normalised: zero is `None`). Calls that
    /// start afterwards use it; calls under way keep the deadline they took.
    pub(crate) fn set(&self, timeout: Option<Duration>) {
        let nanos = match timeout {
            None => NO_TIMEOUT,
            Some(t) => match u64::try_from(t.as_nanos()) {
                Ok(n) if n < LARGE => n,
                _ => {
                    let mut large = self.large.lock().unwrap_or_else(|e| e.into_inner());
                    *large = Some(t);
                    // Stored under the lock, so that a concurrent `set` of
                    // another large value cannot pair its value with this mark.
                    self.nanos.store(LARGE, Ordering::Release);
                    return;
                }
            },
        };
        self.nanos.store(nanos, Ordering::Release);
    }
}

impl fmt::Debug for TimeoutCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

/// Polls a tokio timer. tokio asserts when a timer is polled after its
/// runtime has shut down, which a call awaited outside the runtime's workers
/// (`Handle::block_on` on another thread) can see while that runtime is
/// dropped. An unwinding build turns that panic into an `IllegalState`
/// error (`the tokio runtime is shutting down`). tokio offers no test for
/// it, so a build with `panic = "abort"` aborts there, as every tokio timer
/// does (`tokio::time::timeout` included). The blocking facade never polls
/// a tokio timer (its waits are `poll(2)` with a timeout).
pub(crate) fn poll_timer(
    sleep: Pin<&mut tokio::time::Sleep>,
    cx: &mut Context<'_>,
) -> Poll<Result<()>> {
    if !cfg!(panic = "unwind") {
        return sleep.poll(cx).map(Ok);
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sleep.poll(cx))) {
        Ok(p) => p.map(Ok),
        Err(_) => Poll::Ready(Err(SocketError::illegal(crate::error::RUNTIME_SHUT_DOWN))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_huge_timeouts_mean_none() {
        assert!(Deadline::after(None).0.is_none());
        assert!(Deadline::after(Some(Duration::ZERO)).0.is_none());
        assert!(Deadline::after(Some(Duration::MAX)).0.is_none());
        assert!(Deadline::after(Some(Duration::from_secs(1))).0.is_some());
    }

    #[test]
    fn timeouts_read_back_as_set() {
        let cell = TimeoutCell::new();
        assert_eq!(cell.get(), None);
        for t in [
            Duration::from_nanos(1),
            Duration::from_millis(1500),
            Duration::from_nanos(LARGE - 1),
            Duration::from_nanos(LARGE),
            Duration::from_nanos(u64::MAX),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            cell.set(Some(t));
            assert_eq!(cell.get(), Some(t));
        }
        cell.set(Some(Duration::from_secs(3)));
        assert_eq!(cell.get(), Some(Duration::from_secs(3)));
        cell.set(None);
        assert_eq!(cell.get(), None);
    }

    #[test]
    fn a_past_deadline_reports_timed_out() {
        let d = Deadline(Some(Instant::now()), Clock::Tokio);
        let err = d.remaining("receive").unwrap_err();
        assert!(err.is_timeout());
        assert!(err.message().contains("timed out"));
    }
}
