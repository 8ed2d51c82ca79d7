//! `tokio::io::AsyncRead`/`AsyncWrite`: the socket as a byte stream for
//! codecs and `tokio::io` utilities, on the same readiness and deadlines as
//! the async methods. The impls for `Socket`, `&Socket` and the owned halves
//! all delegate to one poll function per direction:
//! [`Socket::poll_receive`] and [`Socket::poll_send`].

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Mutex,
    task::{Context, Poll, ready},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};

use super::Socket;
use crate::{
    consts::SHUT_WR,
    driver::Driver,
    error::{ILLEGAL_STATE, Result, SocketError},
};

/// Which way a poll goes.
#[derive(Clone, Copy)]
enum Way {
    Read,
    Write,
}

type Timer = Mutex<Option<Pin<Box<Sleep>>>>;

/// The timer of a pending `poll_read` or `poll_write`: armed when the first
/// poll has to wait, dropped when the poll completes, so each read or write
/// gets the whole timeout, as each `receive` or `send` does. Behind a lock
/// because `&Socket` reads and writes too; one lock per direction, so a
/// reader and a writer never wait for each other.
#[derive(Debug, Default)]
pub(super) struct Timers {
    read: Timer,
    write: Timer,
}

impl Timers {
    fn slot(&self, way: Way) -> &Timer {
        match way {
            Way::Read => &self.read,
            Way::Write => &self.write,
        }
    }
}

/// Runs `f` on one direction's timer; a poisoned lock (a panic inside `f`,
/// which polls only a tokio timer) still holds a usable value.
fn with_timer<R>(timer: &Timer, f: impl FnOnce(&mut Option<Pin<Box<Sleep>>>) -> R) -> R {
    f(&mut timer.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Socket {
    /// The read side of every `AsyncRead` impl: reads as
    /// [`receive_into`](Socket::receive_into) does, within the receive
    /// timeout; nothing added to `buf` means end of file.
    pub(super) fn poll_receive(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // A datagram socket too must be connected, as for `receive`.
        if let Err(e) = self.state.get().check_receive(false) {
            return Poll::Ready(Err(e.into()));
        }
        let n = ready!(self.poll_io(cx, Way::Read, |s| {
            std::io::Read::read(&mut &*s, buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// The write side of every `AsyncWrite` impl: one `send(2)`
    /// (`MSG_NOSIGNAL`) within the send timeout.
    pub(super) fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(e) = self.state.get().check_send(false) {
            return Poll::Ready(Err(e.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_io(cx, Way::Write, |s| {
            s.send_with_flags(buf, libc::MSG_NOSIGNAL)
        })
        .map_err(Into::into)
    }

    /// `poll_shutdown` of every `AsyncWrite` impl: shuts the write side.
    pub(super) fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(SHUT_WR).map_err(Into::into)
    }

    /// One readiness-driven attempt of `op` through the reactor, with `cx`.
    fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        way: Way,
        mut op: impl FnMut(&socket2::Socket) -> io::Result<R>,
    ) -> Poll<Result<R>> {
        Driver::current()?;
        let io = self.io()?;
        io.set_fd_blocking(false)?;
        let reg = io.registration()?;
        let result = loop {
            let ready = match way {
                Way::Read => reg.poll_read_ready(cx),
                Way::Write => reg.poll_write_ready(cx),
            };
            let mut guard = match ready {
                Poll::Pending => return self.poll_timer(cx, way),
                Poll::Ready(r) => r?,
            };
            if io.is_closed() {
                break Err(SocketError::illegal(ILLEGAL_STATE));
            }
            match guard.try_io(|_| op(io.sock())) {
                Ok(r) => break r.map_err(SocketError::from),
                // Readiness that the syscall contradicts: hang-up readiness
                // is never cleared, so go through tokio's budget to yield.
                Err(_would_block) => ready!(tokio::task::coop::poll_proceed(cx)).made_progress(),
            }
        };
        with_timer(self.timers.slot(way), |t| *t = None);
        Poll::Ready(result.map_err(|e| self.fail(e)))
    }

    /// Pending, unless the timeout of this read or write has passed.
    fn poll_timer<R>(&self, cx: &mut Context<'_>, way: Way) -> Poll<Result<R>> {
        let timeout = match way {
            Way::Read => self.receive_timeout,
            Way::Write => self.send_timeout,
        };
        let Some(timeout) = timeout else {
            return Poll::Pending;
        };
        with_timer(self.timers.slot(way), |slot| {
            let timer = slot.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
            ready!(timer.as_mut().poll(cx));
            *slot = None;
            Poll::Ready(Err(SocketError::timed_out(match way {
                Way::Read => "receive",
                Way::Write => "send",
            })))
        })
    }
}

/// Reads as [`Socket::receive_into`] does, within the receive timeout
/// (`TimedOut` after it); 0 bytes means end of file. Blocking mode does not
/// apply: a read that cannot proceed is `Pending`, as in `tokio::net`.
impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_receive(cx, buf)
    }
}

/// Reads through a shared reference, as std has `Read for &TcpStream`: one
/// task may read (say, a `FramedRead` over `&*arc`) while another writes.
/// As with tokio's readiness, only the task that polled a direction last is
/// woken, so let one task at a time read.
impl AsyncRead for &Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_receive(cx, buf)
    }
}

/// Writes as one `send(2)` (`MSG_NOSIGNAL`), within the send timeout.
/// `poll_shutdown` shuts the write side ([`Socket::shutdown`] with `SHUT_WR`).
impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is buffered in user space.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_write())
    }
}

/// Writes through a shared reference, as std has `Write for &TcpStream`;
/// let one task at a time write. `poll_shutdown` shuts the write side.
impl AsyncWrite for &Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_write())
    }
}
