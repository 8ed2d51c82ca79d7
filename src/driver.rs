//! Who waits: tokio's reactor (the async API), or the calling thread itself
//! (the blocking facade, which marks its thread while it drives a call).

use std::{
    cell::Cell,
    sync::atomic::{AtomicBool, Ordering},
};

use tokio::runtime::Handle;

use crate::error::{NO_RUNTIME, Result, SocketError};

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

/// Whether a calling-thread wait here would stall a current-thread runtime
/// (so the facade should wait where it can tell that it waits).
pub(crate) fn stalls_a_runtime() -> bool {
    CALLING_THREAD.with(Cell::get) == Mark::StallingThread
}

/// Called just before the calling thread waits: the first time in the
/// process that the thread is a current-thread runtime's, says so once.
pub(crate) fn note_wait() {
    if stalls_a_runtime() && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "a blade_socket::blocking call is waiting on the thread of a current-thread tokio \
             runtime: every other task of that runtime stalls until it returns, and if its peer \
             is one of them it waits forever (or until its timeout). Use a multi-thread runtime \
             (`#[tokio::main(flavor = \"multi_thread\")]`, `#[tokio::test(flavor = \"multi_thread\")]`) \
             or move the blocking call into `tokio::task::spawn_blocking`. This is said once per process."
        );
    }
}

/// Marks this thread as driving calls itself until dropped (nesting-safe).
#[derive(Debug)]
pub(crate) struct CallingThreadGuard {
    was: Mark,
}

impl CallingThreadGuard {
    /// `stalls` tells that this thread is also a current-thread runtime's.
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
    fn drop(&mut self) {
        CALLING_THREAD.with(|c| c.set(self.was));
    }
}
