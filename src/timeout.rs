//! Deadlines: a timeout becomes one instant, computed once per call.

use std::{
    future::Future,
    pin::Pin,
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
    fn a_past_deadline_reports_timed_out() {
        let d = Deadline(Some(Instant::now()), Clock::Tokio);
        let err = d.remaining("receive").unwrap_err();
        assert!(err.is_timeout());
        assert!(err.message().contains("timed out"));
    }
}
