//! `tracing` events for each operation: the socket's descriptor and family,
//! byte counts, durations and outcomes, never payload bytes.
//!
//! Everything is gated on `tracing::enabled!`, so with no subscriber (or one
//! filtering these levels out) an operation pays one cached check, and reads
//! no clock and makes no syscall for the sake of logging.

use std::time::Instant;

use tracing::Level;

use super::Socket;
use crate::error::{ErrorKind, Result};

/// The start of one traced operation.
#[derive(Clone, Copy, Debug)]
pub(super) struct OpTrace {
    started: Option<Instant>,
}

impl OpTrace {
    /// Starts timing when operation events would be recorded.
    #[inline]
    pub(super) fn start() -> OpTrace {
        OpTrace {
            started: tracing::enabled!(Level::DEBUG).then(Instant::now),
        }
    }

    /// Records the outcome of `op` on `sock`: successes at `TRACE` with the
    /// byte count, timeouts and failures at `DEBUG`.
    #[inline(always)]
    pub(super) fn end<T>(
        &self,
        sock: &Socket,
        op: &'static str,
        r: &Result<T>,
        bytes: fn(&T) -> u64,
    ) {
        if let Some(started) = self.started {
            record(started, sock, op, r, bytes);
        }
    }
}

/// [`OpTrace::end`]'s work, out of line: only a recorded call pays for it.
#[cold]
fn record<T>(
    started: Instant,
    sock: &Socket,
    op: &'static str,
    r: &Result<T>,
    bytes: fn(&T) -> u64,
) {
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let fd = sock.fd;
    let family = tracing::field::debug(sock.family);
    match r {
        Ok(v) => tracing::trace!(fd, ?family, op, bytes = bytes(v), micros, outcome = "ok"),
        Err(e) if e.kind() == ErrorKind::TimedOut => {
            tracing::debug!(fd, ?family, op, micros, outcome = "timeout")
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            tracing::trace!(fd, ?family, op, micros, outcome = "would block")
        }
        Err(e) => tracing::debug!(fd, ?family, op, micros, outcome = "error", error = %e),
    }
}

/// Records a connection set up by `connect` or `accept`, with both ends'
/// addresses (the local one costs a `getsockname`, made only when recorded).
pub(super) fn connection(sock: &Socket, how: &'static str, listener_fd: Option<i32>) {
    if !tracing::enabled!(Level::DEBUG) {
        return;
    }
    let local = sock
        .info()
        .map(|i| format!("{}:{}", i.address, i.port))
        .ok();
    tracing::debug!(
        fd = sock.fd,
        family = ?sock.family,
        local = local.as_deref().unwrap_or("?"),
        peer = %format_args!("{}:{}", sock.cold.host, sock.port),
        listener_fd,
        "{how}"
    );
}

/// Records a change of the socket's life (bound, listening, closed...).
pub(super) fn lifecycle(sock: &Socket, what: &'static str) {
    // A closing TCP connection says how it went: one getsockopt, only when
    // this event is wanted.
    if what == "closed" && tracing::enabled!(Level::DEBUG) {
        if let Some(i) = sock.closing_info() {
            tracing::debug!(
                fd = sock.fd, family = ?sock.family, host = %sock.cold.host, port = sock.port,
                rtt_us = u64::try_from(i.rtt.as_micros()).unwrap_or(u64::MAX),
                retransmits = i.retransmits,
                bytes_acked = i.bytes_acked,
                bytes_received = i.bytes_received,
                "{what}"
            );
            return;
        }
    }
    tracing::debug!(fd = sock.fd, family = ?sock.family, host = %sock.cold.host, port = sock.port, "{what}");
}
