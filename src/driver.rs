//! Who waits: tokio's reactor (the async API), or the calling thread itself
//! (the blocking facade, which marks its thread while it drives a call).

use std::cell::Cell;

use tokio::runtime::Handle;

use crate::error::{NO_RUNTIME, Result, SocketError};

thread_local! {
    static CALLING_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// How the current call waits for readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driver {
    /// Await the socket's registration with the current runtime's reactor.
    Reactor,
    /// Block this thread in `poll(2)`: the blocking facade is driving the call.
    CallingThread,
}

impl Driver {
    /// The driver for a call starting now, or `IllegalState` `no tokio
    /// runtime` when an async method is awaited outside any runtime.
    pub(crate) fn current() -> Result<Driver> {
        if CALLING_THREAD.with(Cell::get) {
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
    was: bool,
}

impl CallingThreadGuard {
    pub(crate) fn enter() -> CallingThreadGuard {
        CallingThreadGuard {
            was: CALLING_THREAD.with(|c| c.replace(true)),
        }
    }
}

impl Drop for CallingThreadGuard {
    fn drop(&mut self) {
        CALLING_THREAD.with(|c| c.set(self.was));
    }
}
