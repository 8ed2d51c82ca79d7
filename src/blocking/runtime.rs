//! Where the facade's runtime comes from, and how a call is driven.
//!
//! A call marks the thread as its own driver and polls the core's future in
//! place: readiness waits happen in the syscall itself or in `poll(2)` on
//! this thread, so no reactor the caller might be blocking is ever waited
//! on. The first poll uses a no-op waker; in practice it completes, and no
//! waker is ever built. The facade's runtime (one the crate starts lazily,
//! or one the user supplied) runs only what must leave the calling thread:
//! a name lookup that a deadline may cut short.

use std::{
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    pin::{Pin, pin},
    sync::{Arc, Mutex, RwLock},
    task::{Context, Poll, Wake, Waker},
    thread::{self, Thread},
};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::{
    driver::{self, CallingThreadGuard, Job},
    error::{Result, SocketError},
};

static USER_HANDLE: RwLock<Option<Handle>> = RwLock::new(None);
static OWN_RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

/// Makes the blocking facade use `handle`'s runtime instead of the one the
/// crate starts on first use.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a
/// current-thread runtime's handle: nothing would drive its I/O while a
/// caller blocks.
///
/// # Examples
/// ```
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
/// blade_socket::blocking::use_runtime(rt.handle().clone())?;
/// # blade_socket::blocking::use_own_runtime();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn use_runtime(handle: Handle) -> Result<()> {
    if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
        return Err(SocketError::invalid(
            "a current-thread runtime cannot drive the blocking facade: nothing would run its I/O while the caller blocks",
        ));
    }
    *USER_HANDLE.write().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    Ok(())
}

/// Returns the blocking facade to the runtime the crate starts itself.
///
/// # Examples
/// ```
/// blade_socket::blocking::use_own_runtime();
/// ```
pub fn use_own_runtime() {
    *USER_HANDLE.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The facade's runtime handle, starting the crate's own runtime if needed.
fn facade_handle() -> Result<Handle> {
    if let Some(h) = USER_HANDLE
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        return Ok(h.clone());
    }
    let mut own = OWN_RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = own.as_ref() {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("blade-socket")
        .enable_all()
        .build()
        .map_err(SocketError::from)?;
    let handle = rt.handle().clone();
    *own = Some(rt);
    Ok(handle)
}

/// Runs `job` on the facade runtime's blocking pool (a thread of its own if
/// no runtime can be had).
fn offload(job: Job) {
    match facade_handle() {
        Ok(handle) => drop(handle.spawn_blocking(job)),
        Err(_) => drop(
            thread::Builder::new()
                .name("blade-socket-resolve".into())
                .spawn(job),
        ),
    }
}

/// Runs one core operation to completion on the calling thread.
///
/// The future is pinned where it was made and polled in place: nothing is
/// moved or looked up per call. The calling-thread driver needs no runtime
/// (its waits are `poll(2)` or the syscall itself, its sleeps
/// `thread::sleep`), so no runtime context is entered here; the facade's
/// runtime serves only what must run elsewhere.
#[inline(always)]
pub(crate) fn run<F: Future>(fut: F) -> F::Output {
    let fut = pin!(fut);
    driver::set_offload(offload);
    // On a multi-thread runtime's worker, hand the worker's other tasks to
    // another thread while this one blocks. Never on a current-thread
    // runtime, whose tasks this call stalls (the one trap: warned about
    // once). Outside any runtime (the usual case) this costs one
    // thread-local read.
    let flavor = Handle::try_current().ok().map(|h| h.runtime_flavor());
    let _driver = CallingThreadGuard::enter(flavor == Some(RuntimeFlavor::CurrentThread));
    if flavor == Some(RuntimeFlavor::MultiThread) {
        in_blocking_section(|| block_on(fut))
    } else {
        block_on(fut)
    }
}

/// `block_in_place`, except where tokio refuses it (a multi-thread handle
/// entered inside a current-thread runtime): there, run in place.
///
/// tokio offers no test for that case, so it is told by the panic, which
/// only an unwinding build can catch. Built with `panic = "abort"`, the
/// facade never calls `block_in_place`: a call made on a multi-thread
/// worker then blocks that worker with its queued tasks, as any blocking
/// call there does (other workers steal all but its next task), instead
/// of aborting the process.
#[cold]
fn in_blocking_section<R>(f: impl FnOnce() -> R) -> R {
    if !cfg!(panic = "unwind") {
        return f();
    }
    let mut f = Some(f);
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        tokio::task::block_in_place(|| f.take().map(|f| f()))
    }));
    match (attempt, f.take()) {
        (Ok(Some(r)), _) => r,
        (_, Some(f)) => f(),
        (Err(panic), None) => resume_unwind(panic),
        // `f` was taken, so the closure ran it and returned `Some`.
        (Ok(None), None) => unreachable!("blocking section ran nothing"),
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on this thread until it completes.
#[inline(always)]
fn block_on<F: Future>(mut fut: Pin<&mut F>) -> F::Output {
    if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return v;
    }
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}
