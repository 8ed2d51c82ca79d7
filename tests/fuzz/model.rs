//! The model of the socket's state, the peer, the counters, and the harness that holds them.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Fresh,
    Bound,
    Listening,
    Connected,
    Closed,
}

#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) phase: Phase,
    pub(crate) shut: Option<Shutdown>,
    pub(crate) blocking: bool,
    pub(crate) send_timeout: Option<Duration>,
    pub(crate) receive_timeout: Option<Duration>,
    pub(crate) stream: bool,
    pub(crate) v6: bool,
    pub(crate) rcvlowat: usize,
    /// `SO_RCVBUF` was set below 64 KiB: the kernel may drop datagrams
    /// (2304 bytes hold two 16-byte ones), so none surely arrives.
    pub(crate) rcvbuf_small: bool,
    pub(crate) nodelay: Option<bool>,
    /// The UDP port we are connected to, if any.
    pub(crate) udp_connected: Option<u16>,
}

/// Our TCP connection's peer, held by the harness.
pub(crate) struct Peer {
    pub(crate) stream: Option<TcpStream>,
    /// Bytes the peer wrote (its pattern's offset) / we read from it.
    pub(crate) peer_wrote: u64,
    pub(crate) we_read: u64,
    /// Bytes our sends reported sent / the peer read.
    pub(crate) we_sent: u64,
    pub(crate) peer_read: u64,
    /// A send was cut short with an unknown count: stop checking what the peer reads.
    pub(crate) sent_unknown: bool,
    pub(crate) peer_eof: bool,
    pub(crate) peer_reset: bool,
    pub(crate) seed: u64,
}

pub(crate) const PEER_SEED: u64 = 0x9e37;

/// Counters printed at the end of a run.
#[derive(Default, Debug)]
pub(crate) struct Stats {
    pub(crate) cases: u64,
    pub(crate) calls: u64,
    pub(crate) skipped_unbounded: u64,
    pub(crate) cut_off: u64,
    pub(crate) timeouts: u64,
    pub(crate) closed_checks: u64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) datagrams: u64,
    pub(crate) accepted: u64,
    /// Datagrams from another worker's socket (see `receive`).
    pub(crate) foreign_datagrams: u64,
    pub(crate) errors: HashMap<String, u64>,
    /// Time spent per kind of call.
    pub(crate) time: HashMap<&'static str, (u64, Duration)>,
}

impl Stats {
    /// Adds another worker's counters.
    pub(crate) fn merge(&mut self, o: Stats) {
        self.cases += o.cases;
        self.calls += o.calls;
        self.skipped_unbounded += o.skipped_unbounded;
        self.cut_off += o.cut_off;
        self.timeouts += o.timeouts;
        self.closed_checks += o.closed_checks;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.datagrams += o.datagrams;
        self.accepted += o.accepted;
        self.foreign_datagrams += o.foreign_datagrams;
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, (n, d)) in o.time {
            let e = self.time.entry(k).or_default();
            e.0 += n;
            e.1 += d;
        }
    }
}

pub(crate) struct Harness<'a> {
    pub(crate) rt: &'a tokio::runtime::Runtime,
    pub(crate) fx: &'a Fixture,
    pub(crate) sock: Option<Sock>,
    pub(crate) m: Model,
    pub(crate) peer: Option<Peer>,
    /// Clients the partner connected to our listener (not yet accepted).
    pub(crate) partner_clients: VecDeque<TcpStream>,
    /// Datagrams the partner sent us, in order, each with whether it
    /// surely reaches us.
    pub(crate) datagrams: VecDeque<(Vec<u8>, bool)>,
    pub(crate) seed: u64,
    pub(crate) stats: &'a mut Stats,
    pub(crate) async_face: bool,
}

pub(crate) fn is_illegal(e: &SocketError) -> bool {
    e.kind() == ErrorKind::IllegalState && e.message().starts_with("socket is in an illegal state")
}

pub(crate) fn assert_illegal<T: std::fmt::Debug>(r: &Result<T, SocketError>, what: &str) {
    match r {
        Err(e) if is_illegal(e) => {}
        other => panic!(
            "{what} on a closed socket: expected `socket is in an illegal state`, got {other:?}"
        ),
    }
}

pub(crate) fn assert_state_error<T: std::fmt::Debug>(
    r: &Result<T, SocketError>,
    msg: &str,
    what: &str,
) {
    match r {
        Err(e) if e.kind() == ErrorKind::IllegalState && e.message() == msg => {}
        other => panic!("{what}: expected IllegalState {msg:?}, got {other:?}"),
    }
}

pub(crate) fn normalize(t: Option<Duration>) -> Option<Duration> {
    t.filter(|d| !d.is_zero())
}

/// Whether a timeout lets a wait end soon (within `HANG`).
pub(crate) fn bounded(t: Option<Duration>) -> bool {
    matches!(t, Some(d) if !d.is_zero() && d < Duration::from_secs(1))
}

pub(crate) fn gone(e: &SocketError) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPIPE | libc::ECONNRESET | libc::ECONNABORTED | libc::ETIMEDOUT)
    )
}
