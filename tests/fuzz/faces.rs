//! The socket under test on either face (`Sock`), and the macros that make one call on whichever it is.

use super::*;

pub(crate) enum Sock {
    Async(Socket),
    Blocking(blocking::Socket),
}

/// Runs an I/O call on whichever face the socket has, under the watchdog,
/// and passes its result through `$post` (written once, typed per face).
/// `$cut`: on the async face, cut the call off after that long (`None`
/// when it was cut); the blocking face always completes (`Some`).
macro_rules! call {
    ($h:expr, $what:expr, $cut:expr, |$s:ident| $op:expr, $post:expr) => {{
        let h: &Harness<'_> = $h;
        let cut: Option<Duration> = $cut;
        let what = format!("{} on {}", $what, h.sock_debug());
        match h.sock.as_ref().expect("socket") {
            Sock::Async($s) => {
                let fut = $op;
                guarded(
                    || what.clone(),
                    || {
                        h.rt.block_on(async {
                            match cut {
                                Some(c) => tokio::time::timeout(c, fut).await.ok().map($post),
                                None => Some(apply(
                                    tokio::time::timeout(HANG, fut)
                                        .await
                                        .unwrap_or_else(|_| panic!("HANG: {what}")),
                                    $post,
                                )),
                            }
                        })
                    },
                )
            }
            Sock::Blocking($s) => guarded(|| what.clone(), || Some(apply($op, $post))),
        }
    }};
}

/// `f(a)`, with `f`'s argument type inferred from `a`.
pub(crate) fn apply<A, B>(a: A, f: impl FnOnce(A) -> B) -> B {
    f(a)
}

/// [`call!`] for `&mut self` calls (never cut off).
macro_rules! call_mut {
    ($h:expr, $what:expr, |$s:ident| $op:expr) => {{
        let h: &mut Harness<'_> = $h;
        let what = format!("{} on {}", $what, h.sock_debug());
        let rt = h.rt;
        match h.sock.as_mut().expect("socket") {
            Sock::Async($s) => {
                let fut = $op;
                guarded(
                    || what.clone(),
                    || {
                        rt.block_on(async {
                            tokio::time::timeout(HANG, fut)
                                .await
                                .unwrap_or_else(|_| panic!("HANG: {what}"))
                        })
                    },
                )
            }
            Sock::Blocking($s) => guarded(|| what.clone(), || $op),
        }
    }};
}

/// A non-async call (the same on both faces).
macro_rules! plain {
    ($h:expr, |$s:ident| $op:expr) => {{
        match $h.sock.as_ref().expect("socket") {
            Sock::Async($s) => $op,
            Sock::Blocking($s) => $op,
        }
    }};
}

macro_rules! plain_mut {
    ($h:expr, |$s:ident| $op:expr) => {{
        match $h.sock.as_mut().expect("socket") {
            Sock::Async($s) => $op,
            Sock::Blocking($s) => $op,
        }
    }};
}

/// What the harness checks on an accepted socket, from either face.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AcceptedState {
    pub(crate) client: bool,
    pub(crate) connected: bool,
    pub(crate) listening: bool,
    pub(crate) closed: bool,
    pub(crate) timeouts: (Option<Duration>, Option<Duration>),
    pub(crate) blocking: bool,
}

macro_rules! accepted_state {
    ($s:expr) => {{
        let s = $s;
        AcceptedState {
            client: s.is_client(),
            connected: s.is_connected(),
            listening: s.is_listening(),
            closed: s.is_closed(),
            timeouts: (s.send_timeout(), s.receive_timeout()),
            blocking: s.is_blocking(),
        }
    }};
}
