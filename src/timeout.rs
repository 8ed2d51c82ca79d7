//! Deadlines: a timeout becomes one instant, computed once per call.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::time::Instant;

use crate::{
    driver::Driver,
    error::{Result, SocketError},
};

/// When an operation must give up; `None` means never.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// A deadline `timeout` from now. `None`, zero, or a timeout too large to
    /// form an instant means no deadline.
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(
            timeout
                .filter(|t| !t.is_zero())
                .and_then(|t| Instant::now().checked_add(t)),
        )
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
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(SocketError::timed_out(what))
                } else {
                    Ok(Some(left))
                }
            }
        }
    }

    /// Runs `fut` under this deadline with `tokio::time`; expiry is `TimedOut`.
    /// On the calling-thread driver `fut` waits in place and cannot be cut
    /// short, so the deadline is checked once it is done.
    pub(crate) async fn run<F: Future>(
        self,
        driver: Driver,
        what: &str,
        fut: F,
    ) -> Result<F::Output> {
        match (self.0, driver) {
            (None, _) => Ok(fut.await),
            (Some(_), Driver::CallingThread) => {
                let out = fut.await;
                self.remaining(what)?;
                Ok(out)
            }
            (Some(at), Driver::Reactor) => cut_off_at(at, what, fut).await,
        }
    }

    /// Sleeps for `pause`, cut short by the deadline (then `TimedOut`): a
    /// timer on the reactor, or a plain sleep on the calling-thread driver.
    pub(crate) async fn pause(self, driver: Driver, what: &str, pause: Duration) -> Result<()> {
        let pause = match self.remaining(what)? {
            Some(left) => pause.min(left),
            None => pause,
        };
        match driver {
            Driver::CallingThread => {
                crate::driver::note_wait();
                std::thread::sleep(pause);
            }
            Driver::Reactor => {
                let mut sleep = std::pin::pin!(tokio::time::sleep(pause));
                std::future::poll_fn(|cx| poll_timer(sleep.as_mut(), cx)).await?;
            }
        }
        self.remaining(what).map(drop)
    }
}

/// `fut`, cut off at `at` with `TimedOut`. Unlike `tokio::time::timeout_at`,
/// a runtime that shuts down under the pending call makes it fail with
/// `IllegalState` instead of panicking: tokio asserts when a timer is polled
/// after its driver has shut down, which a call awaited outside the
/// runtime's workers (`Handle::block_on` on another thread) can see.
pub(crate) async fn cut_off_at<F: Future>(at: Instant, what: &str, fut: F) -> Result<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut sleep = std::pin::pin!(tokio::time::sleep_until(at));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        poll_timer(sleep.as_mut(), cx).map(|r| r.and_then(|()| Err(SocketError::timed_out(what))))
    })
    .await
}

/// Polls a tokio timer; tokio's panic for a runtime shutting down becomes
/// an `IllegalState` error.
fn poll_timer(sleep: Pin<&mut tokio::time::Sleep>, cx: &mut Context<'_>) -> Poll<Result<()>> {
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
        let d = Deadline(Some(Instant::now()));
        let err = d.remaining("receive").unwrap_err();
        assert!(err.is_timeout());
        assert!(err.message().contains("timed out"));
    }
}
