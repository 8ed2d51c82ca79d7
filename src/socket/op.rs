//! The futures of the hottest calls (`send`, `receive`, `receive_into`),
//! written out by hand instead of as `async fn`s over a [`Call`](super::io):
//! the state a task parks holds each thing once, and a poll goes straight
//! from the call's checks to the readiness loop ([`Waiting`]).

use std::{
    cell::Cell,
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::io::Interest;

use super::{Socket, trace::OpTrace};
use crate::{
    driver::{Wait, Waiting, What},
    error::{Result, SocketError},
    sys::Io,
};

/// What one of these calls does around the readiness loop.
pub(super) trait Kind {
    type Out;
    /// The call's name in its trace events.
    const NAME: &'static str;
    const INTEREST: Interest;
    const WHAT: What;

    /// The checks before the call starts: `Err` ends it, `Ok(Some(v))`
    /// answers it without a syscall.
    fn check(&mut self, sock: &Socket) -> Result<Option<Self::Out>>;

    /// The error of a call that failed before it started: a send's says
    /// that nothing went out.
    fn not_started(err: SocketError) -> SocketError {
        if Self::INTEREST.is_writable() {
            err.with_bytes_sent(0)
        } else {
            err
        }
    }

    /// The timeout that bounds the call: the send or the receive timeout.
    fn timeout(sock: &Socket) -> Option<Duration> {
        if Self::INTEREST.is_writable() {
            sock.cold.send_timeout.get()
        } else {
            sock.cold.receive_timeout.get()
        }
    }

    /// One syscall: `Ok(None)` when it made progress but the call is not
    /// over (the rest of a partial write), so it goes again.
    fn attempt(
        &mut self,
        sock: &Socket,
        s: &socket2::Socket,
        flags: i32,
    ) -> io::Result<Option<Self::Out>>;

    /// Whether `out` shows that the read drained the socket: a stream read
    /// that left room in its buffer.
    fn drained(&self, _out: &Self::Out) -> bool {
        false
    }

    /// The call's result once the readiness loop has failed with `err`
    /// (which closes the socket when it says the peer is gone).
    fn failed(&mut self, sock: &Socket, err: SocketError) -> Result<Self::Out> {
        Err(sock.fail(err))
    }

    /// The byte count of a result, for the trace.
    fn bytes(out: &Self::Out) -> u64;
}

/// How much of a send's message went out, across its partial writes.
#[derive(Debug, Default)]
pub(super) struct Sent(usize);

impl Sent {
    /// Counts `n` more bytes of a `len`-byte message: the total once the
    /// message is out (or a write took nothing: an empty message is one
    /// empty send), `None` while some is left.
    #[inline]
    pub(super) fn advance(&mut self, n: usize, len: usize) -> Option<usize> {
        self.0 += n;
        (self.0 >= len || n == 0).then_some(self.0)
    }

    /// Where the message stands; the offset of what is left.
    pub(super) fn count(&self) -> usize {
        self.0
    }

    /// A send's result once its loop failed with `err`: in non-blocking
    /// mode the partial count; otherwise the error, saying how much went out.
    pub(super) fn failed(&self, sock: &Socket, err: SocketError) -> Result<usize> {
        match err.kind() {
            crate::ErrorKind::WouldBlock if self.0 > 0 => Ok(self.0),
            _ => Err(sock.fail(err).with_bytes_sent(self.0 as u64)),
        }
    }
}

/// One call in flight: not started, or holding its descriptor, its wait
/// (driver and deadline) and its trace.
#[must_use = "futures do nothing unless polled"]
pub(super) struct Op<'a, K: Kind> {
    sock: &'a Socket,
    kind: K,
    call: Option<(Arc<Io>, Wait, OpTrace)>,
    waiting: Waiting,
}

impl<'a, K: Kind> Op<'a, K> {
    #[inline]
    pub(super) fn new(sock: &'a Socket, kind: K) -> Op<'a, K> {
        Op {
            sock,
            kind,
            call: None,
            waiting: Waiting::default(),
        }
    }

    /// The call's start, on its first poll (as an `async fn` would).
    #[inline]
    fn start(&mut self) -> Result<Option<K::Out>> {
        let sock = self.sock;
        if let Some(out) = self.kind.check(sock)? {
            return Ok(Some(out));
        }
        let io = sock.io()?;
        let wait = Wait::begin_on(&io, K::timeout(sock))?;
        self.call = Some((io, wait, OpTrace::start()));
        Ok(None)
    }
}

// Nothing in an `Op` is pinned: the readiness state lives behind boxes.
impl<K: Kind> Unpin for Op<'_, K> {}

impl<K: Kind> Future for Op<'_, K> {
    type Output = Result<K::Out>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<K::Out>> {
        let this = self.get_mut();
        if this.call.is_none() {
            match this.start() {
                Ok(None) => {}
                Ok(Some(out)) => return Poll::Ready(Ok(out)),
                Err(e) => return Poll::Ready(Err(K::not_started(e))),
            }
        }
        let Some((io, wait, trace)) = &this.call else {
            unreachable!("an Op's call is set by its start");
        };
        let (sock, kind) = (this.sock, &mut this.kind);
        let drained = Cell::new(false);
        let r = loop {
            let polled = this.waiting.poll(
                cx,
                wait,
                io,
                K::INTEREST,
                K::WHAT,
                sock.blocking,
                &mut |s: &socket2::Socket, flags| {
                    let r = kind.attempt(sock, s, flags);
                    if let Ok(Some(out)) = &r {
                        drained.set(kind.drained(out));
                    }
                    r
                },
                Some(&drained),
            );
            match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Some(out))) => break Ok(out),
                Poll::Ready(Ok(None)) => this.waiting.again(),
                Poll::Ready(Err(e)) => break kind.failed(sock, e),
            }
        };
        this.waiting.release(io, K::INTEREST);
        trace.end(sock, K::NAME, &r, K::bytes);
        Poll::Ready(r)
    }
}

impl<K: Kind> Drop for Op<'_, K> {
    #[inline]
    fn drop(&mut self) {
        if let Some((io, ..)) = &self.call {
            self.waiting.release(io, K::INTEREST);
        }
    }
}
