//! `tokio::io::AsyncRead`/`AsyncWrite`: the socket as a byte stream for
//! codecs and `tokio::io` utilities, on the same readiness and deadlines as
//! the async methods.

use std::{
    future::Future,
    io,
    pin::Pin,
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

/// The timer of a pending `poll_read` or `poll_write`: armed when the first
/// poll has to wait, dropped when the poll completes, so each read or write
/// gets the whole timeout, as each `receive` or `send` does.
#[derive(Debug, Default)]
pub(super) struct Timers {
    read: Option<Pin<Box<Sleep>>>,
    write: Option<Pin<Box<Sleep>>>,
}

impl Socket {
    /// One readiness-driven attempt of `op` through the reactor, with `cx`.
    fn poll_io<R>(
        &mut self,
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
        *self.timers.slot(way) = None;
        Poll::Ready(result.map_err(|e| self.fail(e)))
    }

    /// Pending, unless the timeout of this read or write has passed.
    fn poll_timer<R>(&mut self, cx: &mut Context<'_>, way: Way) -> Poll<Result<R>> {
        let timeout = match way {
            Way::Read => self.receive_timeout,
            Way::Write => self.send_timeout,
        };
        let Some(timeout) = timeout else {
            return Poll::Pending;
        };
        let timer = self
            .timers
            .slot(way)
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(timer.as_mut().poll(cx));
        *self.timers.slot(way) = None;
        Poll::Ready(Err(SocketError::timed_out(match way {
            Way::Read => "receive",
            Way::Write => "send",
        })))
    }
}

impl Timers {
    fn slot(&mut self, way: Way) -> &mut Option<Pin<Box<Sleep>>> {
        match way {
            Way::Read => &mut self.read,
            Way::Write => &mut self.write,
        }
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
        let this = self.get_mut();
        if let Err(e) = this.state.get().check_receive(this.is_datagram()) {
            return Poll::Ready(Err(e.into()));
        }
        let n = ready!(this.poll_io(cx, Way::Read, |s| {
            std::io::Read::read(&mut &*s, buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
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
        let this = self.get_mut();
        if let Err(e) = this.state.get().check_send(false) {
            return Poll::Ready(Err(e.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        this.poll_io(cx, Way::Write, |s| {
            s.send_with_flags(buf, libc::MSG_NOSIGNAL)
        })
        .map_err(Into::into)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is buffered in user space.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().shutdown(SHUT_WR).map_err(Into::into))
    }
}
