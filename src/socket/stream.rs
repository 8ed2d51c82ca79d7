//! `tokio::io::AsyncRead`/`AsyncWrite`: the socket as a byte stream for
//! codecs and `tokio::io` utilities, on the same readiness and deadlines as
//! the async methods. The impls for `Socket`, `&Socket` and the owned halves
//! all delegate to one poll function per direction:
//! [`Socket::poll_receive`] and [`Socket::poll_send`].

use std::{
    cell::Cell,
    io::{self, IoSlice},
    pin::Pin,
    sync::{
        Mutex, MutexGuard, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, ready},
};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use super::{Socket, batch::ReadBufSink};
use crate::{
    consts::SHUT_WR,
    driver::{self, Timer, What},
    error::Result,
    sys,
};

/// Which way a poll goes.
#[derive(Clone, Copy)]
enum Way {
    Read = 0,
    Write = 1,
}

/// The waits of pending `poll_read`s and `poll_write`s, one per direction:
/// its deadline and timer, made when a read or write starts and dropped
/// when it completes, so each gets the whole timeout, as each `receive` or
/// `send` does; and the descriptor it waits on. Behind a lock because
/// `&Socket` reads and writes too; one lock per direction, so a reader and
/// a writer never wait for each other.
///
/// Out of line, made the first time a poll needs it (one that parks, or has
/// a timeout), so that a socket used only through the async methods, or
/// whose polls never wait, does not carry it (issue 10: memory per idle
/// connection).
#[derive(Debug, Default)]
pub(super) struct Timers(OnceLock<Box<[Mutex<Pending>; 2]>>);

/// Whether each direction (`Way as usize`) has a pending poll, kept in the
/// socket itself: it lets a poll with no timeout and nothing parked skip
/// the lock (and [`Timers`]), so the common read or write costs no more
/// than before.
#[derive(Debug, Default)]
pub(super) struct Parked([AtomicBool; 2]);

/// One direction's pending poll: its deadline, and what its wait holds (the
/// waker slot or a place in tokio's waiter list, and its entry for the
/// close signal, which wakes it). It holds no `Arc` of the descriptor, so a
/// poll whose future was dropped pins neither the socket nor the runtime it
/// was registered with (a conversion drops the registration).
#[derive(Debug, Default)]
struct Pending {
    timer: Option<Timer>,
}

/// The interest of a direction.
fn interest(way: Way) -> Interest {
    match way {
        Way::Read => Interest::READABLE,
        Way::Write => Interest::WRITABLE,
    }
}

impl Socket {
    /// Forgets both directions' pending polls, giving back what they hold
    /// (a close or a conversion through `&mut self`: no poll can be running).
    pub(super) fn clear_polls(&mut self) {
        if let Some(timers) = self.cold.timers.0.get_mut() {
            let io = self.io.get_mut();
            for (pending, way) in timers.iter_mut().zip([Way::Read, Way::Write]) {
                let pending = pending.get_mut().unwrap_or_else(|e| e.into_inner());
                if let (Some(mut timer), Some(io)) = (pending.timer.take(), io.as_deref()) {
                    timer.release(io, interest(way));
                }
            }
        }
        for parked in &mut self.parked.0 {
            *parked.get_mut() = false;
        }
    }

    /// `way`'s pending poll, locked (and made, the first time).
    fn pending(&self, way: Way) -> MutexGuard<'_, Pending> {
        let pending = &self.cold.timers.0.get_or_init(Box::default)[way as usize];
        // A poisoned lock (a panic while polling a tokio timer) still holds
        // a usable value.
        pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `way` has a pending poll.
    fn parked(&self, way: Way) -> &AtomicBool {
        &self.parked.0[way as usize]
    }

    /// Ends both directions' pending polls (a close through `&self`).
    pub(super) fn release_polls(&self) {
        self.release(Way::Read);
        self.release(Way::Write);
    }

    /// Ends a direction's pending poll, which returns without waiting.
    fn release(&self, way: Way) {
        let parked = self.parked(way);
        if parked.load(Ordering::Acquire) {
            let timer = self.pending(way).timer.take();
            parked.store(false, Ordering::Release);
            if let (Some(mut timer), Ok(io)) = (timer, self.io()) {
                timer.release(&io, interest(way));
            }
        }
    }

    /// The read side of every `AsyncRead` impl: reads as
    /// [`receive_into`](Socket::receive_into) does, within the receive
    /// timeout; nothing added to `buf` means end of file.
    pub(super) fn poll_receive(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // A datagram socket too must be connected, as for `receive`.
        if let Err(e) = self.check_receive(false) {
            self.release(Way::Read);
            return Poll::Ready(Err(e.into()));
        }
        if self.is_datagram() || self.ty == crate::consts::SOCK_SEQPACKET {
            return self.poll_receive_datagram(cx, buf);
        }
        // End of file, or a reset that a concurrent call was told of.
        let room = buf.remaining();
        let may_be_reset = room > 0 && self.eof_may_be_reset();
        // A stream read that leaves room drained the socket (see `driver`).
        let stream = self.ty == crate::consts::SOCK_STREAM;
        let drained = Cell::new(false);
        let read = |s: &socket2::Socket, flags| match sys::recv_read_buf(s, buf, flags)? {
            0 if may_be_reset => self.eof_or_reset(s).map(|()| 0),
            n => {
                drained.set(stream && n < room);
                Ok(n)
            }
        };
        ready!(self.poll_io(cx, Way::Read, Some(&drained), read))?;
        Poll::Ready(Ok(()))
    }

    /// `poll_receive` on a datagram or `SOCK_SEQPACKET` socket: one datagram
    /// through the one datagram read
    /// ([`Offload::read`](super::batch::Offload::read)), cut to the room in
    /// `buf` (the rest discarded, as `recv(2)` does), GRO reads split. No
    /// room reads nothing, so that no datagram is consumed unseen.
    fn poll_receive_datagram(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            self.release(Way::Read);
            return Poll::Ready(Ok(()));
        }
        let offload = self.offload();
        let how = self.dgram_kind();
        // What the backlog holds is read before any wait for readiness.
        let mut sink = ReadBufSink {
            buf: &mut *buf,
            done: false,
        };
        match self.read_queued(how, &mut sink) {
            Ok(true) => {
                self.release(Way::Read);
                return Poll::Ready(Ok(()));
            }
            Ok(false) => {}
            Err(e) => {
                self.release(Way::Read);
                return Poll::Ready(Err(e.into()));
            }
        }
        let read = |s: &socket2::Socket, flags| {
            let mut sink = ReadBufSink {
                buf: &mut *buf,
                done: false,
            };
            offload.read(s, how, flags, &mut sink).map(drop)
        };
        ready!(self.poll_io(cx, Way::Read, None, read))?;
        Poll::Ready(Ok(()))
    }

    /// The write side of every `AsyncWrite` impl: one `send(2)`
    /// (`MSG_NOSIGNAL`) within the send timeout.
    pub(super) fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(e) = self.state.check_send(false) {
            self.release(Way::Write);
            return Poll::Ready(Err(e.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_io(cx, Way::Write, None, |s, flags| {
            s.send_with_flags(buf, flags | libc::MSG_NOSIGNAL)
        })
        .map_err(Into::into)
    }

    /// `poll_write_vectored` of every `AsyncWrite` impl: one `sendmsg(2)`
    /// (`MSG_NOSIGNAL`) of all of `bufs`, within the send timeout, so a
    /// TLS record or an HTTP head and body go out together, without a copy.
    pub(super) fn poll_send_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Err(e) = self.state.check_send(false) {
            self.release(Way::Write);
            return Poll::Ready(Err(e.into()));
        }
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.poll_io(cx, Way::Write, None, |s, flags| {
            s.send_vectored_with_flags(bufs, flags | libc::MSG_NOSIGNAL)
        })
        .map_err(Into::into)
    }

    /// `poll_shutdown` of every `AsyncWrite` impl: shuts the write side.
    pub(super) fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(SHUT_WR).map_err(Into::into)
    }

    /// One read or write through the crate's one readiness loop, in its
    /// poll form ([`driver::poll_stream`]): the same runtime check, close
    /// check, shutdown guard and deadline as the async methods.
    fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        way: Way,
        drained: Option<&Cell<bool>>,
        op: impl FnMut(&socket2::Socket, i32) -> io::Result<R>,
    ) -> Poll<Result<R>> {
        let io = match self.io() {
            Ok(io) => io,
            Err(e) => {
                self.release(way);
                return Poll::Ready(Err(e));
            }
        };
        let (interest, what, timeout) = match way {
            Way::Read => (
                Interest::READABLE,
                What::Receive,
                self.cold.receive_timeout.get(),
            ),
            Way::Write => (Interest::WRITABLE, What::Send, self.cold.send_timeout.get()),
        };
        let parked = self.parked(way);
        if timeout.is_none() && !parked.load(Ordering::Acquire) {
            // Nothing to keep between polls unless this one parks.
            let mut timer = Timer::default();
            let polled = driver::poll_stream(&io, cx, interest, what, &mut timer, op, drained);
            return match polled {
                Poll::Pending => {
                    self.pending(way).timer = Some(timer);
                    parked.store(true, Ordering::Release);
                    Poll::Pending
                }
                Poll::Ready(r) => {
                    timer.release(&io, interest);
                    Poll::Ready(r.map_err(|e| self.fail(e)))
                }
            };
        }
        let mut slot = self.pending(way);
        let timer = slot.timer.get_or_insert_with(|| Timer::after(timeout));
        let r = match driver::poll_stream(&io, cx, interest, what, timer, op, drained) {
            Poll::Pending => {
                parked.store(true, Ordering::Release);
                return Poll::Pending;
            }
            Poll::Ready(r) => r,
        };
        if let Some(mut timer) = slot.timer.take() {
            timer.release(&io, interest);
        }
        parked.store(false, Ordering::Release);
        drop(slot);
        Poll::Ready(r.map_err(|e| self.fail(e)))
    }
}

/// The `AsyncRead` or `AsyncWrite` impl of a type that reaches its socket
/// as `$sock` (from `&self` bound to `$s`): each method is one call of the
/// socket's poll function for that direction, so `Socket`, `&Socket` and
/// the owned halves share one implementation.
macro_rules! async_io_impl {
    ($(#[$doc:meta])* AsyncRead for $ty:ty, |$s:ident| $sock:expr) => {
        $(#[$doc])*
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let $s = &*self;
                $sock.poll_receive(cx, buf)
            }
        }
    };
    ($(#[$doc:meta])* AsyncWrite for $ty:ty, |$s:ident| $sock:expr) => {
        $(#[$doc])*
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $sock.poll_send(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $sock.poll_send_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Nothing is buffered in user space.
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $s = &*self;
                Poll::Ready($sock.shutdown_write())
            }
        }
    };
}
pub(super) use async_io_impl;

async_io_impl! {
    /// Reads as [`Socket::receive_into`] does, within the receive timeout
    /// (`TimedOut` after it); 0 bytes means end of file. Blocking mode does not
    /// apply: a read that cannot proceed is `Pending`, as in `tokio::net`.
    AsyncRead for Socket, |s| s
}

async_io_impl! {
    /// Reads through a shared reference, as std has `Read for &TcpStream`: one
    /// task may read (say, a `FramedRead` over `&*arc`) while another writes.
    /// As with tokio's readiness, only the task that polled a direction last is
    /// woken, so let one task at a time read.
    AsyncRead for &Socket, |s| s
}

async_io_impl! {
    /// Writes as one `send(2)` (`MSG_NOSIGNAL`; `sendmsg(2)` for vectored
    /// writes), within the send timeout. `poll_shutdown` shuts the write side
    /// ([`Socket::shutdown`] with `SHUT_WR`).
    AsyncWrite for Socket, |s| s
}

async_io_impl! {
    /// Writes through a shared reference, as std has `Write for &TcpStream`;
    /// let one task at a time write. `poll_shutdown` shuts the write side.
    AsyncWrite for &Socket, |s| s
}
