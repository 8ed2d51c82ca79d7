//! The socket's lifecycle as one enum, plus the shut-down directions.
//! The `is_*` properties are derived here, and so are the wrong-state errors.

use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use crate::{
    consts::Shutdown,
    error::{NOT_CONNECTED, Reason, Result, SHUT_FOR_READING, SHUT_FOR_WRITING, SocketError},
};

/// Where a socket is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Created, neither bound nor connected.
    Fresh,
    /// Bound to a local address.
    Bound,
    /// Listening for connections.
    Listening,
    /// Connected (a client, or accepted by a listener).
    Connected,
    /// Closed; the descriptor is gone or going.
    Closed,
}

/// A snapshot of the state: the phase and the directions shut so far.
/// The shut directions survive `close`, as the API requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) phase: Phase,
    pub(crate) shut: Option<Shutdown>,
    /// Why the crate closed the socket itself (a `CloseCause` code), or 0.
    pub(crate) cause: i32,
}

impl State {
    pub(crate) fn is_closed(self) -> bool {
        self.phase == Phase::Closed
    }

    /// Bound, and still so once listening (Blade's `listen` keeps a socket
    /// bound, and its `accept` requires both).
    pub(crate) fn is_bound(self) -> bool {
        matches!(self.phase, Phase::Bound | Phase::Listening)
    }

    pub(crate) fn is_connected(self) -> bool {
        self.phase == Phase::Connected && self.shut != Some(Shutdown::Both)
    }

    pub(crate) fn read_shut(self) -> bool {
        matches!(self.shut, Some(Shutdown::Read | Shutdown::Both))
    }

    pub(crate) fn write_shut(self) -> bool {
        matches!(self.shut, Some(Shutdown::Write | Shutdown::Both))
    }

    /// Fails with `socket is in an illegal state (closed)` once closed, or
    /// `(closed after: ...)` naming the failure when the crate closed it.
    pub(crate) fn check_open(self) -> Result<()> {
        if self.is_closed() {
            Err(self.closed_error())
        } else {
            Ok(())
        }
    }

    /// The error of a call on this closed socket.
    #[cold]
    pub(crate) fn closed_error(self) -> SocketError {
        SocketError::illegal(Reason::Closed(self.cause))
    }

    /// The checks before sending: closed or shut for writing, then not connected.
    /// `unconnected_ok` admits an unconnected datagram socket (`send_to`).
    pub(crate) fn check_send(self, unconnected_ok: bool) -> Result<()> {
        let shut = self.write_shut().then_some(SHUT_FOR_WRITING);
        self.check_direction(shut, unconnected_ok)
    }

    /// The checks before receiving: closed or shut for reading, then not
    /// connected. `unconnected_ok` admits a datagram socket that is not connected.
    pub(crate) fn check_receive(self, unconnected_ok: bool) -> Result<()> {
        let shut = self.read_shut().then_some(SHUT_FOR_READING);
        self.check_direction(shut, unconnected_ok)
    }

    fn check_direction(self, shut: Option<Reason>, unconnected_ok: bool) -> Result<()> {
        self.check_open()?;
        if let Some(reason) = shut {
            return Err(SocketError::illegal(reason));
        }
        match self.phase {
            Phase::Connected => Ok(()),
            Phase::Fresh | Phase::Bound if unconnected_ok => Ok(()),
            _ => Err(SocketError::illegal(NOT_CONNECTED)),
        }
    }
}

/// Adds direction `how` to what is already shut.
pub(crate) fn merge_shut(cur: Option<Shutdown>, how: Shutdown) -> Shutdown {
    match (cur, how) {
        (None, how) => how,
        (Some(a), b) if a == b => a,
        _ => Shutdown::Both,
    }
}

/// The state in one atomic byte, so that a failure seen through `&self` (a
/// vanished peer) can close the socket while other tasks use it; beside it,
/// the cause of a close the crate made itself, for the errors that follow.
#[derive(Debug)]
pub(crate) struct StateCell(AtomicU8, AtomicI32);

impl StateCell {
    pub(crate) fn new(phase: Phase) -> StateCell {
        StateCell(
            AtomicU8::new(encode(State {
                phase,
                shut: None,
                cause: 0,
            })),
            AtomicI32::new(0),
        )
    }

    pub(crate) fn get(&self) -> State {
        let b = self.0.load(Ordering::Acquire);
        let mut st = decode(b);
        if st.phase == Phase::Closed {
            st.cause = self.1.load(Ordering::Relaxed);
        }
        st
    }

    /// The error of a call on this socket once it is closed.
    #[cold]
    pub(crate) fn closed_error(&self) -> SocketError {
        State {
            phase: Phase::Closed,
            shut: None,
            cause: self.1.load(Ordering::Relaxed),
        }
        .closed_error()
    }

    /// Records why the crate is closing the socket (a `CloseCause` code),
    /// before it does: the first cause stays, and a socket the user closed
    /// first keeps saying `closed`.
    pub(crate) fn note_cause(&self, cause: i32) {
        if !self.get().is_closed() {
            let _ = self
                .1
                .compare_exchange(0, cause, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// [`State::check_send`] on the current state, with the common case
    /// (connected, nothing shut) decided by one comparison.
    #[inline]
    pub(crate) fn check_send(&self, unconnected_ok: bool) -> Result<()> {
        match self.0.load(Ordering::Acquire) {
            CONNECTED_OPEN => Ok(()),
            FRESH_OPEN | BOUND_OPEN if unconnected_ok => Ok(()),
            _ => self.get().check_send(unconnected_ok),
        }
    }

    /// [`State::check_receive`] on the current state, as [`check_send`](Self::check_send).
    #[inline]
    pub(crate) fn check_receive(&self, unconnected_ok: bool) -> Result<()> {
        match self.0.load(Ordering::Acquire) {
            CONNECTED_OPEN => Ok(()),
            FRESH_OPEN | BOUND_OPEN if unconnected_ok => Ok(()),
            _ => self.get().check_receive(unconnected_ok),
        }
    }

    /// Whether the socket is fresh: neither bound nor connected through
    /// this API (nor closed).
    #[inline]
    pub(crate) fn is_fresh(&self) -> bool {
        self.0.load(Ordering::Acquire) & 0b111 == FRESH_OPEN
    }

    /// Whether the write side is shut, as [`State::write_shut`].
    #[inline]
    pub(crate) fn write_shut(&self) -> bool {
        match self.0.load(Ordering::Acquire) {
            CONNECTED_OPEN => false,
            b => decode(b).write_shut(),
        }
    }

    pub(crate) fn set(&self, state: State) {
        self.0.store(encode(state), Ordering::Release);
    }

    /// Adds direction `how` to the shut directions, leaving the phase as it
    /// is now (a concurrent close is never undone).
    pub(crate) fn add_shut(&self, how: Shutdown) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                let st = decode(b);
                Some(encode(State {
                    shut: Some(merge_shut(st.shut, how)),
                    ..st
                }))
            });
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(encode(State { phase, ..decode(b) }))
            });
    }
}

/// The encoding of a connected socket with nothing shut.
const CONNECTED_OPEN: u8 = 3;
/// The encodings of a fresh and of a bound socket with nothing shut (the
/// fast paths of the calls that admit an unconnected datagram socket).
const FRESH_OPEN: u8 = 0;
const BOUND_OPEN: u8 = 1;

fn encode(s: State) -> u8 {
    let phase = match s.phase {
        Phase::Fresh => 0,
        Phase::Bound => 1,
        Phase::Listening => 2,
        Phase::Connected => 3,
        Phase::Closed => 4,
    };
    let shut = match s.shut {
        None => 0,
        Some(Shutdown::Read) => 1,
        Some(Shutdown::Write) => 2,
        Some(Shutdown::Both) => 3,
    };
    phase | (shut << 3)
}

fn decode(b: u8) -> State {
    let phase = match b & 0b111 {
        0 => Phase::Fresh,
        1 => Phase::Bound,
        2 => Phase::Listening,
        3 => Phase::Connected,
        _ => Phase::Closed,
    };
    let shut = match b >> 3 {
        0 => None,
        1 => Some(Shutdown::Read),
        2 => Some(Shutdown::Write),
        _ => Some(Shutdown::Both),
    };
    State {
        phase,
        shut,
        cause: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_byte_is_connected_with_nothing_shut() {
        let open = State {
            phase: Phase::Connected,
            shut: None,
            cause: 0,
        };
        assert_eq!(encode(open), CONNECTED_OPEN);
        let fresh = State {
            phase: Phase::Fresh,
            shut: None,
            cause: 0,
        };
        assert_eq!(encode(fresh), FRESH_OPEN);
        let bound = State {
            phase: Phase::Bound,
            shut: None,
            cause: 0,
        };
        assert_eq!(encode(bound), BOUND_OPEN);
    }

    #[test]
    fn encoding_round_trips() {
        for phase in [
            Phase::Fresh,
            Phase::Bound,
            Phase::Listening,
            Phase::Connected,
            Phase::Closed,
        ] {
            for shut in [
                None,
                Some(Shutdown::Read),
                Some(Shutdown::Write),
                Some(Shutdown::Both),
            ] {
                let s = State {
                    phase,
                    shut,
                    cause: 0,
                };
                assert_eq!(decode(encode(s)), s);
            }
        }
    }

    #[test]
    fn shut_directions_merge_to_both() {
        assert_eq!(merge_shut(None, Shutdown::Read), Shutdown::Read);
        assert_eq!(
            merge_shut(Some(Shutdown::Read), Shutdown::Read),
            Shutdown::Read
        );
        assert_eq!(
            merge_shut(Some(Shutdown::Read), Shutdown::Write),
            Shutdown::Both
        );
        assert_eq!(
            merge_shut(Some(Shutdown::Both), Shutdown::Write),
            Shutdown::Both
        );
    }
}
