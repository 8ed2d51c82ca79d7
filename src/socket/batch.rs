//! Batched datagrams ([`Socket::receive_many`], [`Socket::send_many_to`])
//! and **the one datagram read** under every receive of a datagram socket.
//!
//! On a UDP socket a batch moves in as few syscalls as the OS allows: UDP GSO
//! (`UDP_SEGMENT`) sends a run of equal-sized datagrams as one buffer, and
//! `sendmmsg(2)` sends several such runs (or plain datagrams) at once; on the
//! receiving side `UDP_GRO` lets one read carry many datagrams, and
//! `recvmmsg(2)` makes several reads at once. Where the OS refuses one of
//! these, the socket falls back (GSO to plain `sendmmsg` for the next
//! [`GSO_RETRY`] batches, then tries again; `mmsg` to one datagram per call)
//! without losing or repeating a datagram.
//!
//! # One datagram read
//!
//! Every read of a datagram or `SOCK_SEQPACKET` socket, on both faces and
//! through every path (`receive`, `receive_into`, `receive_from`,
//! `receive_many`, `AsyncRead`; the facade's twins only drive these), goes
//! through [`Offload::read`], under the socket's one read lock (shared by
//! its `try_clone`s). That function, and nothing else:
//! - takes the **backlog** first (datagrams a GRO read carried beyond what
//!   its caller wanted, and errors met after a read had already taken some),
//!   so no read returns a datagram newer than one waiting there; a read that
//!   finds the backlog non-empty is answered before any wait for readiness
//!   ([`Socket::read_queued`]);
//! - decides the **GRO split from the control message of this read**, never
//!   from a flag read earlier, so every path splits, whenever GRO came on;
//! - never sizes a read from a separate peek on UDP (it reads into room for
//!   the largest datagram); on other families it peeks under the lock, so no
//!   reader of this socket takes the datagram in between, and checks
//!   `MSG_TRUNC` against readers elsewhere;
//! - reads with a **128-byte control buffer** and walks every message;
//!   `MSG_CTRUNC` and an unasked-for `MSG_TRUNC` are **errors**, never a silent
//!   merge or truncation;
//! - asks the kernel for **no more datagrams than its caller wants**;
//! - hands out datagrams that hold **memory in proportion to their size**:
//!   small ones share a 1 KiB block (read straight into it), medium ones a
//!   16 KiB block (at most 32 times their size), larger ones get
//!   an allocation of their own size; never the read buffer.
//!
//! A wait in the kernel (the facade on a blocking descriptor) is a peek made
//! before the lock is taken, so a parked reader never holds up the others.

use std::{
    collections::VecDeque,
    io::{self, IoSlice},
    net::SocketAddr,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering},
    },
};

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;

use super::{Datagram, Socket};
use crate::{
    addr,
    consts::{AF_INET, AF_INET6, SOCK_DGRAM},
    driver::What,
    error::{NO_DATAGRAMS, Result, SocketError},
    sys::{self, RecvScratch, RecvSlot, SendEntry, Sender},
};

/// Room for one read: the largest UDP payload (65,507 bytes over IPv4,
/// 65,527 over IPv6), which is also the most one GRO read can carry.
const SLOT: usize = 64 * 1024;

/// Datagrams that fit the free end of a shared [`CARVE_BLOCK`]-byte block
/// are read (or copied, see [`Hand::bytes`]) into it and split off; medium
/// ones share a [`MEDIUM_BLOCK`]; larger ones get an allocation of their own
/// size. So a returned datagram holds its own bytes plus at most the rest of
/// one 1 KiB block it shares with its neighbours (as small stream reads do),
/// at most 32 times its size (up to 4 KiB), or its size and the allocator's
/// rounding: never the 64 KiB read buffer, nor a batch's.
const CARVE_BLOCK: usize = 1024;

/// Datagrams over half a [`CARVE_BLOCK`] and up to this size are copied into
/// a shared [`MEDIUM_BLOCK`]-byte block: one holds at most 32 times its own
/// size. Larger ones get an allocation of their own size.
const MEDIUM_MAX: usize = 4096;

/// The block medium datagrams are copied into.
const MEDIUM_BLOCK: usize = 16 * 1024;

/// A block with less room than this is replaced (or reclaimed) before a read.
const CARVE_MAX: usize = 256;

/// Reads asked of one `recvmmsg(2)` at most.
const RECV_BATCH: usize = 64;

/// The most UDP GSO segments in one send. Linux allowed 64 until 5.x and
/// 128 since; 64 works everywhere and already fills a batch of 64.
const MAX_SEGMENTS: usize = 64;

/// Batches sent without GSO after the OS refused it, before GSO is tried
/// again: a refusal costs one failed syscall per this many batches.
const GSO_RETRY: u32 = 64;

/// The most bytes one GSO send may carry: the IPv4 UDP payload limit (an
/// IPv6 socket may be sending to an IPv4-mapped address).
const MAX_GSO_BYTES: usize = 65_507;

/// What a test may make the OS refuse on one socket (see
/// [`Socket::refuse_offload`]): each bit makes the real fallback path run.
const REFUSE_GSO: u8 = 1;
const REFUSE_GRO: u8 = 2;
const REFUSE_MMSG: u8 = 4;

/// `UDP_GRO` states.
const GRO_UNTRIED: u8 = 0;
const GRO_ON: u8 = 1;
const GRO_OFF: u8 = 2;

/// A socket's offload state and what its receives left over, shared by
/// every call on the socket (and by its `try_clone`s, which share the
/// kernel socket and so its `UDP_GRO` setting).
#[derive(Debug)]
pub(crate) struct Offload {
    /// UDP GSO is still worth trying (cleared when the OS refuses it).
    gso: AtomicBool,
    /// Batches still to send without GSO after a refusal; the next one
    /// tries GSO again (a refusal may be one route's, or passing).
    gso_retry: AtomicU32,
    /// `sendmmsg`/`recvmmsg` are available (cleared on `ENOSYS`).
    mmsg: AtomicBool,
    gro: AtomicU8,
    refuse: AtomicU8,
    /// The backlog is not empty (kept under the lock; read without it).
    queued: AtomicBool,
    /// The socket was seen with a local address (see
    /// [`Socket::check_datagram_receive`]), which it keeps.
    local: AtomicBool,
    recv: Mutex<RecvState>,
    /// The last literal destination of `send_to`, parsed and checked
    /// against the socket's family.
    last_to: Mutex<Option<(String, u16, SocketAddr)>>,
}

impl Default for Offload {
    fn default() -> Self {
        Offload {
            gso: AtomicBool::new(sys::OFFLOADS),
            gso_retry: AtomicU32::new(0),
            mmsg: AtomicBool::new(sys::OFFLOADS),
            gro: AtomicU8::new(GRO_UNTRIED),
            refuse: AtomicU8::new(0),
            queued: AtomicBool::new(false),
            local: AtomicBool::new(false),
            recv: Mutex::new(RecvState::default()),
            last_to: Mutex::new(None),
        }
    }
}

/// What a datagram read keeps between calls: datagrams read but not yet
/// returned, the buffers reads go into, and the sender texts last made.
#[derive(Debug, Default)]
pub(crate) struct RecvState {
    /// Datagrams a GRO read carried beyond what its caller wanted, and
    /// errors met after a read had already taken datagrams, in arrival
    /// order: every read takes from here first.
    backlog: VecDeque<io::Result<(Bytes, Sender)>>,
    /// One read's buffer: room for the largest UDP datagram, or the largest
    /// GRO read ([`SLOT`]). Reused; what a read returns is copied out of it,
    /// so a [`Datagram`] never pins it.
    scratch: Vec<u8>,
    /// A batch's buffer (`recvmmsg`), reused the same way.
    buf: BytesMut,
    slots: Vec<RecvSlot>,
    batch: RecvScratch,
    /// Datagrams per read in the last batch (many with GRO).
    per_read: usize,
    /// Where one read's sender goes (reused, never initialised by hand).
    name: sys::RecvName,
    hand: Hand,
}

/// What hands datagrams out: the block small ones are copied into, and the
/// last senders and their texts (so that a run from one sender formats its
/// text once).
#[derive(Debug, Default)]
pub(crate) struct Hand {
    /// Datagrams of up to [`CARVE_MAX`] bytes are copied into this block and
    /// split off it, so that the steady path allocates nothing: once every
    /// datagram carved from it is dropped, `reserve` takes it back.
    block: BytesMut,
    /// The same for datagrams of up to [`MEDIUM_MAX`] bytes, which a GRO
    /// read carries many of (an allocation each would halve the batched rate).
    medium: BytesMut,
    sender: Option<(socket2::SockAddr, String, u16)>,
    /// The same for IP senders, compared without a `SockAddr`.
    ip_sender: Option<(SocketAddr, String)>,
}

/// Which datagram read a socket makes, decided by its family and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dgram {
    /// UDP: every read goes into a buffer for the largest datagram, with
    /// `UDP_GRO`'s segment size taken from the read's own control message.
    Udp,
    /// Any other datagram socket (Unix-domain, raw, ...): sized by a peek
    /// under the socket's read lock, its `MSG_TRUNC` checked.
    Other,
    /// `SOCK_SEQPACKET`: as `Other`, and a record can be told from end of file.
    Record,
}

/// Where a datagram read puts what it takes (one implementation per read
/// path): how many datagrams it wants and how many bytes of each it keeps.
pub(crate) trait Sink {
    /// Datagrams it still takes.
    fn wants(&self) -> usize;
    /// Whether it has taken one.
    fn got(&self) -> bool;
    /// The most bytes it keeps of one datagram (the rest is discarded);
    /// `None` keeps them all.
    fn keep(&self) -> Option<usize>;
    /// Takes a datagram that lies in a read buffer (copy what is kept).
    fn put(&mut self, hand: &mut Hand, data: &[u8], from: &Sender);
    /// Takes a datagram it may keep as it is (its allocation is its own).
    fn put_bytes(&mut self, hand: &mut Hand, data: Bytes, from: &Sender) {
        self.put(hand, &data, from);
    }
    /// [`put_bytes`](Sink::put_bytes) from an IP sender (the UDP path).
    #[inline]
    fn put_ip(&mut self, hand: &mut Hand, data: Bytes, from: SocketAddr) {
        self.put_bytes(hand, data, &Sender::Ip(from));
    }
}

/// `data` cut to `keep` bytes; a cut one is copied, so that it does not
/// pin the rest.
#[inline]
fn kept(data: Bytes, keep: Option<usize>) -> Bytes {
    match keep {
        Some(n) if n < data.len() => Bytes::copy_from_slice(&data[..n]),
        _ => data,
    }
}

/// `receive`: one datagram's bytes.
#[derive(Debug)]
pub(crate) struct DataSink {
    pub(crate) length: Option<usize>,
    pub(crate) out: Option<Bytes>,
}

impl Sink for DataSink {
    fn wants(&self) -> usize {
        usize::from(self.out.is_none())
    }
    fn got(&self) -> bool {
        self.out.is_some()
    }
    fn keep(&self) -> Option<usize> {
        self.length
    }
    #[inline]
    fn put(&mut self, hand: &mut Hand, data: &[u8], _: &Sender) {
        let n = self.length.map_or(data.len(), |n| n.min(data.len()));
        self.out = Some(hand.bytes(&data[..n]));
    }
    fn put_bytes(&mut self, _: &mut Hand, data: Bytes, _: &Sender) {
        self.out = Some(kept(data, self.length));
    }
    #[inline(always)]
    fn put_ip(&mut self, _: &mut Hand, data: Bytes, _: SocketAddr) {
        self.out = Some(kept(data, self.length));
    }
}

/// `receive_from`: one datagram with its sender.
#[derive(Debug)]
pub(crate) struct FromSink {
    pub(crate) length: Option<usize>,
    pub(crate) out: Option<Datagram>,
}

impl Sink for FromSink {
    fn wants(&self) -> usize {
        usize::from(self.out.is_none())
    }
    fn got(&self) -> bool {
        self.out.is_some()
    }
    fn keep(&self) -> Option<usize> {
        self.length
    }
    #[inline]
    fn put(&mut self, hand: &mut Hand, data: &[u8], from: &Sender) {
        let n = self.length.map_or(data.len(), |n| n.min(data.len()));
        let data = hand.bytes(&data[..n]);
        self.out = Some(hand.datagram(data, from));
    }
    fn put_bytes(&mut self, hand: &mut Hand, data: Bytes, from: &Sender) {
        let data = kept(data, self.length);
        self.out = Some(hand.datagram(data, from));
    }
    #[inline(always)]
    fn put_ip(&mut self, hand: &mut Hand, data: Bytes, from: SocketAddr) {
        let data = kept(data, self.length);
        self.out = Some(hand.ip_datagram(data, from));
    }
}

/// `receive_into` and the facade's `Read`: one datagram copied into the
/// caller's buffer, cut to its length.
#[derive(Debug)]
pub(crate) struct SliceSink<'b> {
    pub(crate) buf: &'b mut [u8],
    pub(crate) n: Option<usize>,
}

impl Sink for SliceSink<'_> {
    fn wants(&self) -> usize {
        usize::from(self.n.is_none())
    }
    fn got(&self) -> bool {
        self.n.is_some()
    }
    fn keep(&self) -> Option<usize> {
        Some(self.buf.len())
    }
    fn put(&mut self, _: &mut Hand, data: &[u8], _: &Sender) {
        let n = data.len().min(self.buf.len());
        self.buf[..n].copy_from_slice(&data[..n]);
        self.n = Some(n);
    }
}

/// `AsyncRead` on a datagram socket: one datagram copied into the
/// `ReadBuf`, cut to its room.
#[derive(Debug)]
pub(crate) struct ReadBufSink<'a, 'b> {
    pub(crate) buf: &'a mut tokio::io::ReadBuf<'b>,
    pub(crate) done: bool,
}

impl Sink for ReadBufSink<'_, '_> {
    fn wants(&self) -> usize {
        usize::from(!self.done)
    }
    fn got(&self) -> bool {
        self.done
    }
    fn keep(&self) -> Option<usize> {
        Some(self.buf.remaining())
    }
    fn put(&mut self, _: &mut Hand, data: &[u8], _: &Sender) {
        let n = data.len().min(self.buf.remaining());
        self.buf.put_slice(&data[..n]);
        self.done = true;
    }
}

/// `receive_many`: up to `max` whole datagrams with their senders.
#[derive(Debug)]
struct ManySink<'v> {
    max: usize,
    out: &'v mut Vec<Datagram>,
}

impl Sink for ManySink<'_> {
    fn wants(&self) -> usize {
        self.max.saturating_sub(self.out.len())
    }
    fn got(&self) -> bool {
        !self.out.is_empty()
    }
    fn keep(&self) -> Option<usize> {
        None
    }
    fn put(&mut self, hand: &mut Hand, data: &[u8], from: &Sender) {
        let data = hand.bytes(data);
        self.out.push(hand.datagram(data, from));
    }
    fn put_bytes(&mut self, hand: &mut Hand, data: Bytes, from: &Sender) {
        self.out.push(hand.datagram(data, from));
    }
}

/// What one kernel read of [`Offload::read`] found.
enum Step {
    /// Datagrams (or an error in their place); more may be queued.
    More,
    /// Datagrams, and nothing more queued now (a short batch).
    Drained,
    /// A record socket's end of file.
    Eof,
}

/// Whether `e` only says that nothing is queued now.
fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Offload {
    /// Whether `UDP_GRO` is on (turned on by a `receive_many`).
    pub(crate) fn gro_on(&self) -> bool {
        self.gro.load(Ordering::Relaxed) == GRO_ON
    }

    /// Whether the socket was seen with a local address.
    pub(crate) fn has_local(&self) -> bool {
        self.local.load(Ordering::Relaxed)
    }

    /// Notes that the socket has a local address (it keeps it).
    pub(crate) fn note_local(&self) {
        self.local.store(true, Ordering::Relaxed);
    }

    /// Whether a batch starting now tries UDP GSO: yes unless the OS
    /// refused it within the last [`GSO_RETRY`] batches.
    fn gso_now(&self) -> bool {
        // No UDP GSO off Linux (or in a portable build): never tried.
        if !sys::OFFLOADS {
            return false;
        }
        if self.gso.load(Ordering::Relaxed) {
            return true;
        }
        let left = self
            .gso_retry
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .unwrap_or(0);
        if left <= 1 {
            self.gso.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn refused(&self, what: u8) -> bool {
        self.refuse.load(Ordering::Relaxed) & what != 0
    }

    #[inline]
    fn lock(&self) -> std::sync::MutexGuard<'_, RecvState> {
        self.recv.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Turns `UDP_GRO` on, once; a refusal (an old kernel) leaves it off.
    fn enable_gro(&self, sock: &socket2::Socket) {
        if self.gro.load(Ordering::Relaxed) != GRO_UNTRIED {
            return;
        }
        let on =
            !self.refused(REFUSE_GRO) && sys::enable_gro(std::os::fd::AsFd::as_fd(sock)).is_ok();
        let _ = self.gro.compare_exchange(
            GRO_UNTRIED,
            if on { GRO_ON } else { GRO_OFF },
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// **The one datagram read** (see the module docs): every read of a
    /// datagram or `SOCK_SEQPACKET` socket, on either face and through every
    /// method and `AsyncRead`, comes here. Under the socket's read lock it
    /// takes the backlog first, then reads the kernel as `how` says, into
    /// `sink`, never asking for more datagrams than `sink` wants (a GRO
    /// read's surplus goes to the backlog, in order).
    ///
    /// `flags` without `MSG_DONTWAIT` may block: that wait happens in a
    /// peek before the lock is taken, so a reader parked in the kernel never
    /// holds up the others. `WouldBlock` when nothing is queued (and nothing
    /// was taken); `Ok(false)` at a record socket's end of file.
    #[inline]
    pub(crate) fn read(
        &self,
        sock: &socket2::Socket,
        how: Dgram,
        flags: i32,
        sink: &mut impl Sink,
    ) -> io::Result<bool> {
        let mut st = self.lock();
        if flags & libc::MSG_DONTWAIT == 0 && st.backlog.is_empty() {
            drop(st);
            wait_queued(sock, flags)?;
            st = self.lock();
        }
        let r = self.read_locked(&mut st, sock, how, flags | libc::MSG_DONTWAIT, sink);
        self.queued.store(!st.backlog.is_empty(), Ordering::Relaxed);
        r
    }

    /// Whether datagrams (or an error) wait in the backlog: then a read must
    /// be made before any wait for readiness, which the kernel's queue
    /// alone decides (a fresh registration of an empty socket is not ready).
    #[inline]
    pub(crate) fn queued(&self) -> bool {
        self.queued.load(Ordering::Relaxed)
    }

    /// [`read`](Offload::read) under the lock, never blocking.
    #[inline]
    fn read_locked(
        &self,
        st: &mut RecvState,
        sock: &socket2::Socket,
        how: Dgram,
        flags: i32,
        sink: &mut impl Sink,
    ) -> io::Result<bool> {
        // The common case, straight: one UDP datagram, nothing kept back.
        if how == Dgram::Udp && st.backlog.is_empty() && sink.wants() == 1 {
            st.read_udp(sock, flags, sink)?;
            st.drain(sink)?;
            return Ok(true);
        }
        loop {
            // The backlog first: what an earlier read carried is older.
            st.drain(sink)?;
            if sink.wants() == 0 {
                return Ok(true);
            }
            let r = match how {
                Dgram::Udp if sink.wants() > 1 && self.mmsg.load(Ordering::Relaxed) => {
                    self.read_batch(st, sock, flags, sink)
                }
                Dgram::Udp => st.read_udp(sock, flags, sink),
                Dgram::Other | Dgram::Record => st.read_sized(sock, how, flags, sink),
            };
            match r {
                Ok(Step::More) => {}
                Ok(Step::Drained) => {
                    st.drain(sink)?;
                    return if sink.got() {
                        Ok(true)
                    } else {
                        Err(io::ErrorKind::WouldBlock.into())
                    };
                }
                // End of file: said now, or to the next read.
                Ok(Step::Eof) => return Ok(sink.got()),
                Err(e) if sink.got() => {
                    // Nothing more queued; or an error, kept for the next
                    // read (the kernel reports it only once).
                    if !would_block(&e) {
                        st.backlog.push_back(Err(e));
                    }
                    return Ok(true);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Up to `sink.wants()` datagrams in one `recvmmsg(2)`, each GRO read
    /// split by its own segment size.
    fn read_batch(
        &self,
        st: &mut RecvState,
        sock: &socket2::Socket,
        flags: i32,
        sink: &mut impl Sink,
    ) -> io::Result<Step> {
        let wants = sink.wants();
        // With GRO one read may carry many datagrams: ask for as many reads
        // as the last ones suggest (so the buffer stays small), plus one,
        // never more than wanted.
        let asked = wants
            .div_ceil(st.per_read.max(1))
            .saturating_add(1)
            .min(wants)
            .min(RECV_BATCH);
        st.buf.clear();
        st.buf.reserve(asked * SLOT);
        let r = if self.refused(REFUSE_MMSG) {
            Err(io::Error::from_raw_os_error(libc::ENOSYS))
        } else {
            sys::recv_batch(
                sock,
                &mut st.buf,
                SLOT,
                asked,
                flags,
                &mut st.batch,
                &mut st.slots,
            )
        };
        let n = match r {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                self.mmsg.store(false, Ordering::Relaxed);
                return st.read_udp(sock, flags, sink);
            }
            Err(e) => return Err(e),
        };
        let filled = std::mem::take(&mut st.buf);
        let slots = std::mem::take(&mut st.slots);
        let mut got = 0;
        for slot in &slots {
            let data = &filled[slot.at..slot.at + slot.len];
            let from = Sender::from_addr(&slot.from);
            got += st.offer(
                sink,
                slot.truncated,
                slot.control_lost,
                data,
                slot.segment,
                &from,
            );
        }
        st.per_read = got.checked_div(n).unwrap_or(1).max(1);
        st.slots = slots;
        st.buf = filled;
        st.buf.clear();
        // A short batch: nothing more is queued now.
        Ok(if n < asked { Step::Drained } else { Step::More })
    }

    /// The destination of the last `send_to` to a literal `host`, when it
    /// was this one, so it is not parsed again.
    pub(crate) fn last_to(&self, host: &str, port: u16) -> Option<SocketAddr> {
        let last = self.last_to.try_lock().ok()?;
        match &*last {
            Some((h, p, to)) if *p == port && h == host => Some(*to),
            _ => None,
        }
    }

    /// Remembers `to` as what the literal `host`:`port` means.
    pub(crate) fn remember_to(&self, host: &str, port: u16, to: SocketAddr) {
        if let Ok(mut last) = self.last_to.try_lock() {
            *last = Some((host.to_owned(), port, to));
        }
    }
}

/// Waits, in the kernel, until a datagram (or end of file) is queued: a
/// zero-byte peek in blocking mode, so that the read itself can then be
/// made under the lock without blocking.
fn wait_queued(sock: &socket2::Socket, flags: i32) -> io::Result<()> {
    loop {
        match sock.recv_with_flags(&mut [], flags | libc::MSG_PEEK | libc::MSG_TRUNC) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `data` cut into `segment`-byte datagrams (the last may be shorter); all of
/// it as one datagram when `segment` is 0.
fn segments(data: &[u8], segment: usize) -> impl Iterator<Item = &[u8]> {
    let step = if segment == 0 {
        data.len().max(1)
    } else {
        segment
    };
    let count = if data.is_empty() {
        1
    } else {
        data.len().div_ceil(step)
    };
    (0..count).map(move |i| &data[(i * step).min(data.len())..((i + 1) * step).min(data.len())])
}

impl Sender {
    /// A sender from a `SockAddr`, as an IP address when it is one.
    fn from_addr(addr: &socket2::SockAddr) -> Sender {
        match addr.as_socket() {
            Some(a) => Sender::Ip(a),
            None if addr.len() == 0 => Sender::None,
            None => Sender::Other(addr.clone()),
        }
    }
}

impl RecvState {
    /// Moves backlog entries into `sink` while it wants them; an error
    /// entry ends the read: returned when `sink` has nothing yet, else left
    /// first for the next read.
    #[inline]
    fn drain(&mut self, sink: &mut impl Sink) -> io::Result<()> {
        while sink.wants() > 0 {
            match self.backlog.pop_front() {
                None => break,
                Some(Ok((data, from))) => sink.put_bytes(&mut self.hand, data, &from),
                Some(Err(e)) if !sink.got() => return Err(e),
                Some(Err(e)) => {
                    self.backlog.push_front(Err(e));
                    break;
                }
            }
        }
        Ok(())
    }

    /// Hands out one read (split by its GRO `segment`): to `sink` while it
    /// wants more and nothing waits before it, the rest (copied) to the
    /// backlog. A truncated read, or one whose control messages were lost,
    /// is an error in its place. Returns the datagrams it held.
    fn offer(
        &mut self,
        sink: &mut impl Sink,
        truncated: bool,
        control_lost: bool,
        data: &[u8],
        segment: usize,
        from: &Sender,
    ) -> usize {
        if truncated || control_lost {
            let e = if control_lost {
                sys::control_truncated()
            } else {
                sys::datagram_truncated()
            };
            self.backlog.push_back(Err(e));
            return 1;
        }
        let mut count = 0;
        for part in segments(data, segment) {
            count += 1;
            if self.backlog.is_empty() && sink.wants() > 0 {
                sink.put(&mut self.hand, part, from);
            } else {
                let part = self.hand.bytes(part);
                self.backlog.push_back(Ok((part, from.clone())));
            }
        }
        count
    }

    /// One UDP read (which GRO may have coalesced), sized for the largest
    /// datagram, never from a peek: into the free end of the small-datagram
    /// block, spilling into the scratch buffer. A datagram that fits the
    /// block is handed out from there as it is (no copy); anything else
    /// (a larger datagram, a GRO read, a truncation) is made contiguous and
    /// handed out by [`offer`](RecvState::offer).
    #[inline]
    fn read_udp(
        &mut self,
        sock: &socket2::Socket,
        flags: i32,
        sink: &mut impl Sink,
    ) -> io::Result<Step> {
        if self.scratch.capacity() < SLOT {
            self.scratch.reserve_exact(SLOT);
        }
        let block = &mut self.hand.block;
        if block.capacity() - block.len() < CARVE_MAX {
            block.reserve(CARVE_BLOCK);
        }
        let name = &mut self.name;
        let m = sys::recv_msg_split(sock, block, &mut self.scratch, flags, name)?;
        let ip = name.ip();
        let head = self.hand.block.split();
        if self.scratch.is_empty() && m.segment == 0 && !m.truncated && self.backlog.is_empty() {
            let data = if head.is_empty() {
                Bytes::new()
            } else {
                head.freeze()
            };
            match ip {
                Some(a) => sink.put_ip(&mut self.hand, data, a),
                None => sink.put_bytes(&mut self.hand, data, &self.name.sender()),
            }
            return Ok(Step::More);
        }
        let from = match ip {
            Some(a) => Sender::Ip(a),
            None => self.name.sender(),
        };
        let mut whole = Vec::with_capacity(m.len);
        whole.extend_from_slice(&head);
        drop(head);
        whole.extend_from_slice(&self.scratch);
        if m.segment == 0 && !m.truncated && self.backlog.is_empty() {
            // One large datagram: its allocation is its own size.
            sink.put_bytes(&mut self.hand, Bytes::from(whole), &from);
        } else {
            self.offer(sink, m.truncated, false, &whole, m.segment, &from);
        }
        Ok(Step::More)
    }

    /// One datagram of a socket other than UDP: its size peeked (under the
    /// read lock every reader of the socket takes, so no other read of it
    /// takes the datagram in between), read into an allocation of that size,
    /// and its `MSG_TRUNC` checked against a reader elsewhere (another
    /// process's descriptor). `Ok(false)` at a record socket's end of file.
    fn read_sized(
        &mut self,
        sock: &socket2::Socket,
        how: Dgram,
        flags: i32,
        sink: &mut impl Sink,
    ) -> io::Result<Step> {
        let size = sys::datagram_len(sock, flags)?;
        if size == 0 && how == Dgram::Record && !record_queued(sock)? {
            return Ok(Step::Eof);
        }
        let want = sink.keep().map_or(size, |n| n.min(size));
        let mut buf = vec![0u8; want];
        let mut name = sys::RecvName::new();
        let m = sys::recv_msg(sock, &mut buf, flags, &mut name)?;
        if m.truncated && sink.keep().is_none_or(|n| n > want) {
            // A longer datagram than the one peeked: taken by a reader
            // outside this socket's lock, and its end is gone.
            return Err(sys::datagram_truncated());
        }
        buf.truncate(m.len);
        if buf.capacity() > 2 * buf.len() + 64 {
            buf.shrink_to_fit();
        }
        let from = name.sender();
        sink.put_bytes(&mut self.hand, Bytes::from(buf), &from);
        Ok(Step::More)
    }
}

/// Whether the zero-length record a `SOCK_SEQPACKET` peek reported is one
/// (`true`) or end of file: `recv` returns 0 for both. A queued record
/// carries a timestamp once `SO_TIMESTAMP` is on (the kernel stamps it as
/// it is read, when it was queued without one); end of file carries none.
/// The option is turned on for the one peek when it was off.
fn record_queued(sock: &socket2::Socket) -> io::Result<bool> {
    use std::os::fd::AsFd;
    let fd = sock.as_fd();
    let was = sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMP)?;
    if was == 0 {
        sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMP, 1)?;
    }
    let mut name = sys::RecvName::new();
    let peeked = sys::recv_msg(
        sock,
        &mut [],
        libc::MSG_PEEK | libc::MSG_DONTWAIT,
        &mut name,
    );
    if was == 0 {
        sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMP, 0)?;
    }
    Ok(peeked?.control)
}

impl Hand {
    /// `data` as bytes of its own: small ones carved from the shared block,
    /// larger ones copied into an allocation of their size.
    #[inline]
    fn bytes(&mut self, data: &[u8]) -> Bytes {
        if data.is_empty() {
            return Bytes::new();
        }
        let (block, size) = if data.len() <= CARVE_BLOCK / 2 {
            (&mut self.block, CARVE_BLOCK)
        } else if data.len() <= MEDIUM_MAX {
            (&mut self.medium, MEDIUM_BLOCK)
        } else {
            return Bytes::copy_from_slice(data);
        };
        if block.capacity() - block.len() < data.len() {
            block.reserve(size);
        }
        block.extend_from_slice(data);
        block.split().freeze()
    }

    /// A datagram with its sender's text, formatted once per run of one sender.
    #[inline]
    fn datagram(&mut self, data: Bytes, from: &Sender) -> Datagram {
        match from {
            Sender::Ip(a) => self.ip_datagram(data, *a),
            Sender::Other(a) => {
                let (host, port) = match &self.sender {
                    Some((last, host, port)) if last == a => (host.clone(), *port),
                    _ => {
                        let (host, port) = addr::host_port(a);
                        self.sender = Some((a.clone(), host.clone(), port));
                        (host, port)
                    }
                };
                Datagram { data, host, port }
            }
            Sender::None => Datagram {
                data,
                host: String::new(),
                port: 0,
            },
        }
    }

    /// [`datagram`](Hand::datagram) from an IP sender.
    #[inline]
    fn ip_datagram(&mut self, data: Bytes, from: SocketAddr) -> Datagram {
        let host = match &self.ip_sender {
            Some((last, host)) if *last == from => host.clone(),
            _ => {
                let host = crate::addr::ip_text(from.ip());
                self.ip_sender = Some((from, host.clone()));
                host
            }
        };
        Datagram {
            data,
            host,
            port: from.port(),
        }
    }
}

/// The messages as GSO runs and single datagrams: a run is equal-sized
/// non-empty messages, plus at most one shorter one at its end, within the
/// kernel's segment and size limits.
fn plan(lens: &[usize], gso: bool) -> Vec<SendEntry> {
    plan_to(lens, gso, |_, _| true)
}

/// [`plan`] for messages with a destination each: a run also needs one
/// destination (`same(i, j)`: messages `i` and `j` go to the same place).
fn plan_to(lens: &[usize], gso: bool, same: impl Fn(usize, usize) -> bool) -> Vec<SendEntry> {
    let mut entries = Vec::new();
    let mut i = 0;
    while i < lens.len() {
        let size = lens[i];
        let mut end = i + 1;
        if gso && size > 0 && size <= usize::from(u16::MAX) {
            let cap = MAX_SEGMENTS.min(MAX_GSO_BYTES / size);
            while end < lens.len() && end - i < cap && lens[end] == size && same(i, end) {
                end += 1;
            }
            if end < lens.len()
                && end - i < cap
                && lens[end] > 0
                && lens[end] < size
                && same(i, end)
            {
                end += 1;
            }
        }
        let segment = if end - i > 1 { size as u16 } else { 0 };
        entries.push(SendEntry {
            iov: i..end,
            segment,
        });
        i = end;
    }
    entries
}

impl Socket {
    /// The shared offload state, made on first use.
    #[inline]
    pub(super) fn offload(&self) -> &Offload {
        self.cold.batch.get_or_init(Default::default)
    }

    /// The offload state to share with a `try_clone` of this socket.
    pub(super) fn share_offload(&self) -> std::sync::OnceLock<std::sync::Arc<Offload>> {
        std::sync::OnceLock::from(std::sync::Arc::clone(
            self.cold.batch.get_or_init(Default::default),
        ))
    }

    /// Whether UDP offloads (GSO, GRO) apply: an IP datagram socket of UDP.
    pub(super) fn is_udp(&self) -> bool {
        (self.family == AF_INET || self.family == AF_INET6)
            && self.ty == SOCK_DGRAM
            && (self.protocol.raw() == 0 || self.protocol.raw() == libc::IPPROTO_UDP)
    }

    /// Receives the datagrams queued now, up to `max`, in arrival order, each
    /// with its own sender. Waits (up to the
    /// [`receive_timeout`](Socket::receive_timeout)) for the first; then takes
    /// what is already queued without waiting more. `max == 0` returns an
    /// empty vector at once.
    ///
    /// It makes as few syscalls as the OS allows: on a UDP socket it turns
    /// `UDP_GRO` on (so one read may carry many datagrams sent with UDP GSO,
    /// which are split back into separate [`Datagram`]s) and reads with
    /// `recvmmsg(2)`, never asking for more than `max`. Where the OS refuses
    /// either, it falls back to plain `recvmmsg`, then to one `recvmsg` per
    /// datagram; nothing is lost. Every receive of this socket splits
    /// coalesced reads too, so `receive_from` still returns one datagram, and
    /// what a GRO read carried beyond `max` is what the next receive of any
    /// kind returns first. Other datagram sockets (Unix-domain, raw) receive
    /// one datagram per syscall, each whole. Each datagram holds memory in
    /// proportion to its own size, not the read buffer's.
    ///
    /// # Platforms
    /// `UDP_GRO` and `recvmmsg` are Linux's: on macOS and FreeBSD (and on
    /// Linux built with `--cfg blade_socket_portable`) each datagram is one
    /// `recvmsg(2)`, with the same results.
    ///
    /// # Errors
    /// `socket is in an illegal state` on a closed socket, a socket shut for
    /// reading, or a stream socket; `socket not listening or connected` on a
    /// datagram socket with no local address (neither bound, connected, nor
    /// given one by a send); `TimedOut` when no datagram came within the
    /// receive timeout; `WouldBlock` in non-blocking mode with none queued;
    /// `InvalidData` for a read the kernel truncated (`MSG_TRUNC`) or whose
    /// control messages did not fit (`MSG_CTRUNC`), in its place among the
    /// datagrams (those before it are returned first).
    ///
    /// # Cancel safety
    /// Cancel safe: datagrams are taken from the socket only in the poll
    /// that returns them (those a GRO read carries beyond `max` are kept for
    /// the next receive of any kind).
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use blade_socket::Socket;
    /// let mut rx = Socket::udp()?;
    /// rx.bind(0, None).await?;
    /// let to = std::net::SocketAddr::from(([127, 0, 0, 1], rx.port()));
    /// let tx = Socket::udp()?;
    /// assert_eq!(tx.send_many_to(to, &["one", "two", "three"]).await?, 3);
    /// let mut got = Vec::new();
    /// while got.len() < 3 {
    ///     got.extend(rx.receive_many(64).await?);
    /// }
    /// assert_eq!(&got[2].data[..], b"three");
    /// assert_eq!(got[0].port, tx.info()?.port);
    /// # Ok(()) }
    /// ```
    #[doc(alias = "recvmmsg")]
    #[doc(alias = "UDP_GRO")]
    pub async fn receive_many(&self, max: usize) -> Result<Vec<Datagram>> {
        if !self.is_datagram() {
            self.state.get().check_open()?;
            return Err(SocketError::illegal(NO_DATAGRAMS));
        }
        self.check_datagram_receive()?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let call = self.begin(self.cold.receive_timeout.get())?;
        let offload = self.offload();
        let how = self.dgram_kind();
        if how == Dgram::Udp {
            if let Ok(io) = self.io() {
                offload.enable_gro(io.sock());
            }
        }
        let mut out = Vec::with_capacity(max.min(RECV_BATCH * 4));
        if self.read_queued(how, &mut ManySink { max, out: &mut out })? {
            return call.traced(self, "receive_many", Ok(out), |v| v.len() as u64);
        }
        let r = call
            .ready(self, Interest::READABLE, What::Receive, |s, flags| {
                let mut sink = ManySink { max, out: &mut out };
                offload.read(s, how, flags, &mut sink).map(drop)
            })
            .await
            .map(|()| out);
        let r = r.map_err(|e| self.fail(e));
        call.traced(self, "receive_many", r, |v| v.len() as u64)
    }

    /// A datagram read answered at once, before any wait for readiness,
    /// when the backlog holds something (see [`Offload::queued`]): `true`
    /// when `sink` got a datagram (or the backlog's error is returned).
    #[inline]
    pub(super) fn read_queued(&self, how: Dgram, sink: &mut impl Sink) -> Result<bool> {
        match self.cold.batch.get() {
            Some(offload) if offload.queued() => self.read_backlog(offload, how, sink),
            _ => Ok(false),
        }
    }

    /// Whether this socket's backlog holds something (see [`Offload::queued`]).
    #[inline]
    pub(super) fn backlog_waits(&self) -> bool {
        self.cold.batch.get().is_some_and(|o| o.queued())
    }

    /// [`read_queued`](Socket::read_queued) once the backlog holds something.
    #[inline(never)]
    fn read_backlog(&self, offload: &Offload, how: Dgram, sink: &mut impl Sink) -> Result<bool> {
        let io = self.io()?;
        match offload.read(io.sock(), how, libc::MSG_DONTWAIT, sink) {
            Ok(_) => Ok(sink.got()),
            Err(e) if would_block(&e) => Ok(false),
            Err(e) => Err(self.fail(e.into())),
        }
    }

    /// Which datagram read this socket makes (see [`Offload::read`]).
    #[inline]
    pub(super) fn dgram_kind(&self) -> Dgram {
        if self.is_udp() {
            Dgram::Udp
        } else if self.ty == crate::consts::SOCK_SEQPACKET {
            Dgram::Record
        } else {
            Dgram::Other
        }
    }

    /// Sends each message as one datagram to `addr`, in order, and returns
    /// how many were sent: all of them in blocking mode, within the
    /// [`send_timeout`](Socket::send_timeout) as one deadline for the call. An
    /// empty slice returns 0.
    ///
    /// On a UDP socket it sends runs of equal-sized messages (the last of a
    /// run may be shorter) with UDP GSO, one buffer per run, and all runs in
    /// one `sendmmsg(2)`. Where the OS refuses GSO (`EIO`/`EINVAL`, e.g. a
    /// device without checksum offload) it sends plain datagrams with
    /// `sendmmsg` (trying GSO again 64 batches later), and without
    /// `sendmmsg` one per call; nothing is lost or sent twice.
    ///
    /// # Platforms
    /// UDP GSO and `sendmmsg` are Linux's: on macOS and FreeBSD (and on Linux
    /// built with `--cfg blade_socket_portable`) each datagram is one
    /// `sendmsg(2)`, with the same results.
    ///
    /// # Errors
    /// `socket is in an illegal state` on a closed socket, a socket shut for
    /// writing, or a stream socket; `TimedOut` when the send timeout passes;
    /// `WouldBlock` in non-blocking mode when nothing could be sent (then a
    /// partial count is returned instead once some were); `AddressResolution`
    /// for an address of another family than the socket's; the OS's error,
    /// such as `Message too long` for a message over the datagram limit.
    /// Every error's [`bytes_sent`](crate::SocketError::bytes_sent) counts
    /// the bytes of the datagrams that went out before it.
    ///
    /// # Cancel safety
    /// Not cancel safe when the batch needs several syscalls: a dropped
    /// future may have sent some of the datagrams. Each datagram goes out
    /// whole or not at all.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use blade_socket::Socket;
    /// let mut rx = Socket::udp()?;
    /// rx.bind(0, None).await?;
    /// let to = std::net::SocketAddr::from(([127, 0, 0, 1], rx.port()));
    /// let tx = Socket::udp()?;
    /// let messages = vec![[7u8; 1200]; 64];
    /// assert_eq!(tx.send_many_to(to, &messages).await?, 64);
    /// # Ok(()) }
    /// ```
    #[doc(alias = "sendmmsg")]
    #[doc(alias = "UDP_SEGMENT")]
    pub async fn send_many_to<B: AsRef<[u8]>>(
        &self,
        addr: SocketAddr,
        messages: &[B],
    ) -> Result<usize> {
        let none_sent = |e: SocketError| with_sent(e, 0);
        if !self.is_datagram() {
            self.state.get().check_open().map_err(none_sent)?;
            return Err(none_sent(SocketError::illegal(NO_DATAGRAMS)));
        }
        self.state.check_send(true).map_err(none_sent)?;
        if messages.is_empty() {
            return Ok(0);
        }
        let call = self
            .begin(self.cold.send_timeout.get())
            .map_err(none_sent)?;
        let to = if addr::family_of(&addr) == self.family {
            socket2::SockAddr::from(addr)
        } else {
            addr::exact(addr, self.family, &addr.ip().to_string()).map_err(none_sent)?
        };
        let bufs: Vec<IoSlice<'_>> = messages.iter().map(|m| IoSlice::new(m.as_ref())).collect();
        let r = self
            .send_batch(&call, std::slice::from_ref(&to), &bufs, |_, _| true)
            .await;
        call.traced(self, "send_many_to", r, |n| *n as u64)
    }

    /// Sends each message as one datagram to its own destination, in order,
    /// and returns how many were sent: all of them in blocking mode, within
    /// the [`send_timeout`](Socket::send_timeout) as one deadline for the
    /// call. An empty slice returns 0. A server answering a batch from
    /// [`receive_many`](Socket::receive_many) sends every reply in one call,
    /// whoever asked.
    ///
    /// On Linux it is one `sendmmsg(2)` with a destination per message
    /// (batches of up to 1024); on a UDP socket a run of equal-sized messages
    /// to one destination (the last of the run may be shorter) goes as one
    /// UDP GSO buffer. The fallbacks are [`send_many_to`](Socket::send_many_to)'s:
    /// plain datagrams where the OS refuses GSO, one `sendmsg` each without
    /// `sendmmsg`; nothing is lost or sent twice.
    ///
    /// # Errors
    /// `socket is in an illegal state` on a closed socket, a socket shut for
    /// writing, or a stream socket (`(a stream socket has no datagrams)`);
    /// `AddressResolution` for a destination of another family than the
    /// socket's (nothing is sent then); `TimedOut` when the send timeout
    /// passes; `WouldBlock` in non-blocking mode when nothing could be sent
    /// (a partial count is returned instead once some were); the OS's error.
    /// Every error's [`bytes_sent`](crate::SocketError::bytes_sent) counts
    /// the bytes of the datagrams that went out before it.
    ///
    /// # Cancel safety
    /// Not cancel safe when the batch needs several syscalls: a dropped
    /// future may have sent some of the datagrams. Each datagram goes out
    /// whole or not at all.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use blade_socket::Socket;
    /// let mut server = Socket::udp()?;
    /// server.bind(0, None).await?;
    /// let (a, b) = (Socket::udp()?, Socket::udp()?);
    /// a.send_to("127.0.0.1", server.port(), "ping a").await?;
    /// b.send_to("127.0.0.1", server.port(), "ping b").await?;
    ///
    /// let mut replies = Vec::new();
    /// while replies.len() < 2 {
    ///     for d in server.receive_many(64).await? {
    ///         let sender = d.sender().expect("a UDP sender");
    ///         replies.push((sender, [&b"re: "[..], &d.data[..]].concat()));
    ///     }
    /// }
    /// assert_eq!(server.send_many(&replies).await?, 2); // one call, two peers
    /// assert_eq!(&a.receive_from(None).await?.data[..], b"re: ping a");
    /// assert_eq!(&b.receive_from(None).await?.data[..], b"re: ping b");
    /// # Ok(()) }
    /// ```
    #[doc(alias = "sendmmsg")]
    pub async fn send_many<B: AsRef<[u8]>>(&self, messages: &[(SocketAddr, B)]) -> Result<usize> {
        let none_sent = |e: SocketError| with_sent(e, 0);
        if !self.is_datagram() {
            self.state.get().check_open().map_err(none_sent)?;
            return Err(none_sent(SocketError::illegal(NO_DATAGRAMS)));
        }
        self.state.check_send(true).map_err(none_sent)?;
        if messages.is_empty() {
            return Ok(0);
        }
        let call = self
            .begin(self.cold.send_timeout.get())
            .map_err(none_sent)?;
        let mut to = Vec::with_capacity(messages.len());
        for (addr, _) in messages {
            let dest = if addr::family_of(addr) == self.family {
                socket2::SockAddr::from(*addr)
            } else {
                addr::exact(*addr, self.family, &addr.ip().to_string()).map_err(none_sent)?
            };
            to.push(dest);
        }
        let bufs: Vec<IoSlice<'_>> = messages
            .iter()
            .map(|(_, m)| IoSlice::new(m.as_ref()))
            .collect();
        let same = |i: usize, j: usize| messages[i].0 == messages[j].0;
        let r = self.send_batch(&call, &to, &bufs, same).await;
        call.traced(self, "send_many", r, |n| *n as u64)
    }

    /// `send_many_to`'s and `send_many`'s loop: batches until every message
    /// is out. `to` holds one destination for all, or one per message;
    /// `same(i, j)` says whether messages `i` and `j` share one (a GSO run must).
    async fn send_batch(
        &self,
        call: &super::io::Call,
        to: &[socket2::SockAddr],
        bufs: &[IoSlice<'_>],
        same: impl Fn(usize, usize) -> bool,
    ) -> Result<usize> {
        let offload = self.offload();
        let lens: Vec<usize> = bufs.iter().map(|b| b.len()).collect();
        let udp = self.is_udp();
        let mut gso = udp && offload.gso_now();
        let mut entries = plan_to(&lens, gso, &same);
        let mut next = 0; // the first entry not yet sent
        let mut sent = 0; // datagrams
        let mut bytes = 0u64;
        while next < entries.len() {
            let mmsg = offload.mmsg.load(Ordering::Relaxed);
            let batch = &entries[next..];
            let r = call
                .ready(self, Interest::WRITABLE, What::Send, |s, flags| {
                    if batch[0].segment > 0 && offload.refused(REFUSE_GSO) {
                        return Err(io::Error::from_raw_os_error(libc::EINVAL));
                    }
                    if mmsg && offload.refused(REFUSE_MMSG) {
                        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
                    }
                    sys::send_batch(s, to, bufs, batch, flags, mmsg)
                })
                .await;
            match r {
                Ok(n) => {
                    for e in &batch[..n] {
                        sent += e.iov.len();
                        bytes += lens[e.iov.clone()].iter().sum::<usize>() as u64;
                    }
                    next += n;
                }
                Err(e)
                    if gso
                        && batch[0].segment > 0
                        && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL)) =>
                {
                    // The OS refuses GSO here: plain datagrams for the rest
                    // of this batch and the next few (then it is tried again).
                    offload.gso.store(false, Ordering::Relaxed);
                    offload.gso_retry.store(GSO_RETRY, Ordering::Relaxed);
                    gso = false;
                    let first = batch[0].iov.start;
                    entries = plan(&lens[first..], false)
                        .into_iter()
                        .map(|e| SendEntry {
                            iov: e.iov.start + first..e.iov.end + first,
                            segment: 0,
                        })
                        .collect();
                    next = 0;
                }
                Err(e) if mmsg && e.raw_os_error() == Some(libc::ENOSYS) => {
                    offload.mmsg.store(false, Ordering::Relaxed);
                }
                Err(e) if e.kind() == crate::ErrorKind::WouldBlock && sent > 0 => break,
                Err(e) => return Err(with_sent(self.fail(e), bytes)),
            }
        }
        Ok(sent)
    }

    /// Makes this socket act as if the OS refused UDP GSO (`gso`), `UDP_GRO`
    /// (`gro`, effective before the first `receive_many`) or
    /// `sendmmsg`/`recvmmsg` (`mmsg`), so that tests can run each fallback.
    #[doc(hidden)]
    pub fn refuse_offload(&self, gso: bool, gro: bool, mmsg: bool) {
        let mut bits = 0;
        for (on, bit) in [(gso, REFUSE_GSO), (gro, REFUSE_GRO), (mmsg, REFUSE_MMSG)] {
            if on {
                bits |= bit;
            }
        }
        self.offload().refuse.store(bits, Ordering::Relaxed);
    }

    /// Whether UDP GSO, `UDP_GRO` and `sendmmsg`/`recvmmsg` are in use on
    /// this socket (GRO: turned on by a `receive_many`), for tests.
    #[doc(hidden)]
    pub fn offload_state(&self) -> (bool, bool, bool) {
        let o = self.offload();
        (
            o.gso.load(Ordering::Relaxed),
            o.gro_on(),
            o.mmsg.load(Ordering::Relaxed),
        )
    }
}

/// `err` with the bytes that went out before it.
fn with_sent(err: SocketError, bytes: u64) -> SocketError {
    err.with_bytes_sent(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(lens: &[usize]) -> Vec<(usize, usize, u16)> {
        plan(lens, true)
            .into_iter()
            .map(|e| (e.iov.start, e.iov.end, e.segment))
            .collect()
    }

    #[test]
    fn runs_of_equal_sizes_with_a_shorter_last() {
        assert_eq!(runs(&[10, 10, 10, 4, 10]), vec![(0, 4, 10), (4, 5, 0)]);
        assert_eq!(runs(&[10, 20, 20]), vec![(0, 1, 0), (1, 3, 20)]);
        assert_eq!(runs(&[0, 0, 5]), vec![(0, 1, 0), (1, 2, 0), (2, 3, 0)]);
        assert_eq!(runs(&[5, 0]), vec![(0, 1, 0), (1, 2, 0)]);
        assert_eq!(runs(&[5, 5, 0]), vec![(0, 2, 5), (2, 3, 0)]);
    }

    #[test]
    fn runs_end_where_the_destination_changes() {
        let dest = [0, 0, 0, 1, 1, 0, 0];
        let r: Vec<_> = plan_to(&[10; 7], true, |i, j| dest[i] == dest[j])
            .into_iter()
            .map(|e| (e.iov.start, e.iov.end, e.segment))
            .collect();
        assert_eq!(r, vec![(0, 3, 10), (3, 5, 10), (5, 7, 10)]);
        let r: Vec<_> = plan_to(&[10, 4], true, |i, j| i == j)
            .into_iter()
            .map(|e| (e.iov.start, e.iov.end))
            .collect();
        assert_eq!(
            r,
            vec![(0, 1), (1, 2)],
            "a shorter last joins only its own peer's run"
        );
    }

    #[test]
    fn runs_respect_the_kernel_limits() {
        let lens = vec![64; 200];
        let r = runs(&lens);
        assert_eq!(r[0], (0, 64, 64));
        assert_eq!(r.len(), 4);
        let r = runs(&[1200; 60]);
        assert_eq!(r[0], (0, 54, 1200)); // 54 * 1200 <= 65,507
        assert_eq!(r[1], (54, 60, 1200));
        let r = runs(&[40_000, 40_000]);
        assert_eq!(r, vec![(0, 1, 0), (1, 2, 0)]);
    }

    #[test]
    fn segments_split_a_read_and_keep_empty_datagrams() {
        let d = &b"aaabbbc"[..];
        let parts: Vec<&[u8]> = segments(d, 3).collect();
        assert_eq!(parts, vec![&b"aaa"[..], &b"bbb"[..], &b"c"[..]]);
        let parts: Vec<&[u8]> = segments(d, 0).collect();
        assert_eq!(parts.len(), 1);
        let parts: Vec<&[u8]> = segments(&[], 0).collect();
        assert_eq!(parts, vec![&[][..]]);
    }
}
