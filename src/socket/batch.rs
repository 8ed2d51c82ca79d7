//! Batched datagrams: [`Socket::receive_many`] and [`Socket::send_many_to`].
//!
//! On a UDP socket a batch moves in as few syscalls as the OS allows: UDP GSO
//! (`UDP_SEGMENT`) sends a run of equal-sized datagrams as one buffer, and
//! `sendmmsg(2)` sends several such runs (or plain datagrams) at once; on the
//! receiving side `UDP_GRO` lets one read carry many datagrams, and
//! `recvmmsg(2)` makes several reads at once. Where the OS refuses one of
//! these, the socket stops asking and falls back (GSO to plain `sendmmsg`,
//! `mmsg` to one datagram per call) without losing a datagram.
//!
//! Once `UDP_GRO` is on, the kernel may queue several datagrams as one
//! buffer, so every receive on that socket (`receive`, `receive_from`,
//! `receive_into` too) splits what it reads and keeps the rest here for the
//! next call, in order.

use std::{
    collections::VecDeque,
    io::{self, IoSlice},
    net::SocketAddr,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU8, Ordering},
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
    sys::{self, RecvScratch, RecvSlot, SendEntry},
};

/// Room for one read: the largest UDP payload (65,507 bytes over IPv4,
/// 65,527 over IPv6), which is also the most one GRO read can carry.
const SLOT: usize = 64 * 1024;

/// What a one-datagram receive reserves when its buffer runs short: many
/// small datagrams share one allocation, which comes back for reuse once
/// the caller has dropped them.
const CHUNK: usize = 256 * 1024;

/// Reads asked of one `recvmmsg(2)` at most.
const RECV_BATCH: usize = 64;

/// The most UDP GSO segments in one send. Linux allowed 64 until 5.x and
/// 128 since; 64 works everywhere and already fills a batch of 64.
const MAX_SEGMENTS: usize = 64;

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
    /// `sendmmsg`/`recvmmsg` are available (cleared on `ENOSYS`).
    mmsg: AtomicBool,
    gro: AtomicU8,
    refuse: AtomicU8,
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
            gso: AtomicBool::new(true),
            mmsg: AtomicBool::new(true),
            gro: AtomicU8::new(GRO_UNTRIED),
            refuse: AtomicU8::new(0),
            local: AtomicBool::new(false),
            recv: Mutex::new(RecvState::default()),
            last_to: Mutex::new(None),
        }
    }
}

/// Datagrams read but not yet returned, and the buffer reads go into.
#[derive(Debug, Default)]
struct RecvState {
    /// Datagrams split off a GRO read beyond what the caller wanted.
    backlog: VecDeque<(Bytes, socket2::SockAddr)>,
    /// Reused between calls: each read takes what it filled (`split`), and
    /// the allocation comes back once the caller drops those bytes.
    buf: BytesMut,
    slots: Vec<RecvSlot>,
    scratch: RecvScratch,
    /// Datagrams per read in the last batch (many with GRO).
    per_read: usize,
    /// The last sender and its text, so a run from one sender formats once.
    sender: Option<(socket2::SockAddr, String, u16)>,
    /// The same for IP senders, compared without a `SockAddr`.
    ip_sender: Option<(SocketAddr, String)>,
}

impl Offload {
    /// Whether `UDP_GRO` is on, so that every receive must split what it reads.
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

    fn refused(&self, what: u8) -> bool {
        self.refuse.load(Ordering::Relaxed) & what != 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecvState> {
        self.recv.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Turns `UDP_GRO` on, once; a refusal (an old kernel) leaves it off.
    fn enable_gro(&self, sock: &socket2::Socket) {
        if self.gro.load(Ordering::Relaxed) != GRO_UNTRIED {
            return;
        }
        let on = !self.refused(REFUSE_GRO)
            && sys::setsockopt_int(
                std::os::fd::AsFd::as_fd(sock),
                libc::SOL_UDP,
                libc::UDP_GRO,
                1,
            )
            .is_ok();
        let _ = self.gro.compare_exchange(
            GRO_UNTRIED,
            if on { GRO_ON } else { GRO_OFF },
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Receives up to `max` datagrams queued now (backlog first), appending
    /// them to `out`; `WouldBlock` when there is none.
    fn receive(
        &self,
        sock: &socket2::Socket,
        max: usize,
        flags: i32,
        out: &mut Vec<Datagram>,
    ) -> io::Result<()> {
        let mut st = self.lock();
        let st = &mut *st;
        while out.len() < max {
            let Some((data, from)) = st.backlog.pop_front() else {
                break;
            };
            out.push(st.datagram(data, &from));
        }
        // Only the first read may wait (a descriptor in blocking mode).
        let mut flags = if out.is_empty() {
            flags | libc::MSG_WAITFORONE
        } else {
            flags | libc::MSG_DONTWAIT
        };
        while out.len() < max {
            let mmsg = self.mmsg.load(Ordering::Relaxed);
            // With GRO one read may carry many datagrams: ask for as many
            // reads as the last ones suggest (so the buffer stays small),
            // plus one; a full batch of reads means more may be queued.
            let asked = (max - out.len())
                .div_ceil(st.per_read.max(1))
                .saturating_add(1)
                .min(max - out.len())
                .min(RECV_BATCH);
            st.buf.reserve(asked * SLOT);
            let r = if mmsg && self.refused(REFUSE_MMSG) {
                Err(io::Error::from_raw_os_error(libc::ENOSYS))
            } else {
                sys::recv_batch(
                    sock,
                    &mut st.buf,
                    SLOT,
                    flags,
                    mmsg,
                    &mut st.scratch,
                    &mut st.slots,
                )
            };
            let n = match r {
                Ok(n) => n,
                Err(e) if mmsg && e.raw_os_error() == Some(libc::ENOSYS) => {
                    self.mmsg.store(false, Ordering::Relaxed);
                    continue;
                }
                // Nothing more queued now; or an error, which the next call
                // sees instead of losing the datagrams already taken.
                Err(_) if !out.is_empty() => break,
                Err(e) => return Err(e),
            };
            flags |= libc::MSG_DONTWAIT;
            let filled = st.buf.split().freeze();
            let slots = std::mem::take(&mut st.slots);
            let before = out.len() + st.backlog.len();
            for slot in &slots {
                st.split_read(filled.slice(slot.at..slot.at + slot.len), slot, max, out);
            }
            let got = out.len() + st.backlog.len() - before;
            st.per_read = got.checked_div(n).unwrap_or(1).max(1);
            st.slots = slots;
            // A short batch means the queue is empty (one read at a time
            // without mmsg: go on until it says so).
            if mmsg && n < asked {
                break;
            }
        }
        Ok(())
    }

    /// One datagram with its sender, for `receive_from`: read into the
    /// socket's reused buffer (UDP, whose datagrams fit in [`SLOT`]) with the
    /// sender's text cloned when it is the last one's; through
    /// [`receive_one`](Offload::receive_one) once `UDP_GRO` is on. Without
    /// the lock (another receive holds it) it reads as any datagram socket.
    #[inline]
    pub(crate) fn receive_from(
        &self,
        sock: &socket2::Socket,
        length: Option<usize>,
        flags: i32,
        udp: bool,
    ) -> io::Result<Datagram> {
        if udp && !self.gro_on() {
            if let Ok(mut st) = self.recv.try_lock() {
                return st.receive_udp(sock, length, flags);
            }
        }
        self.receive_from_slow(sock, length, flags, udp)
    }

    /// [`receive_from`](Offload::receive_from) but for its common case.
    #[inline(never)]
    fn receive_from_slow(
        &self,
        sock: &socket2::Socket,
        length: Option<usize>,
        flags: i32,
        udp: bool,
    ) -> io::Result<Datagram> {
        if self.gro_on() {
            let (data, from) = self.receive_one(sock, flags)?;
            let data = match length {
                Some(n) if n < data.len() => data.slice(..n),
                _ => data,
            };
            return Ok(self.lock().datagram(data, &from));
        }
        let Ok(mut st) = self.recv.try_lock() else {
            let (data, from) = super::io::recv_datagram_from(sock, length, flags)?;
            let (host, port) = addr::host_port(&from);
            return Ok(Datagram { data, host, port });
        };
        let st = &mut *st;
        if !udp {
            let size = super::io::datagram_size(sock, length, flags)?;
            st.buf.reserve(size);
            let (_, from) = sys::recv_from_into(sock, &mut st.buf, size, flags)?;
            let data = st.buf.split().freeze();
            return Ok(st.datagram(data, &from));
        }
        st.receive_udp(sock, length, flags)
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

    /// One datagram, for `receive`/`receive_from`/`receive_into` on a socket
    /// with `UDP_GRO` on: the backlog's first, or the first of a new read.
    pub(crate) fn receive_one(
        &self,
        sock: &socket2::Socket,
        flags: i32,
    ) -> io::Result<(Bytes, socket2::SockAddr)> {
        let mut st = self.lock();
        let st = &mut *st;
        if let Some(d) = st.backlog.pop_front() {
            return Ok(d);
        }
        st.buf.reserve(SLOT);
        sys::recv_batch(
            sock,
            &mut st.buf,
            SLOT,
            flags,
            false,
            &mut st.scratch,
            &mut st.slots,
        )?;
        let filled = st.buf.split().freeze();
        let Some(slot) = st.slots.pop() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let mut parts = segments(filled.slice(slot.at..slot.at + slot.len), slot.segment);
        let first = parts.next().unwrap_or_default();
        st.backlog.extend(parts.map(|d| (d, slot.from.clone())));
        Ok((first, slot.from))
    }
}

/// `data` cut into `segment`-byte datagrams (the last may be shorter); all of
/// it as one datagram when `segment` is 0.
fn segments(data: Bytes, segment: usize) -> impl Iterator<Item = Bytes> {
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
    (0..count)
        .map(move |i| data.slice((i * step).min(data.len())..((i + 1) * step).min(data.len())))
}

impl RecvState {
    /// A datagram with its sender's text, formatted once per run of one sender.
    fn datagram(&mut self, data: Bytes, from: &socket2::SockAddr) -> Datagram {
        if let Some(from) = from.as_socket() {
            return self.ip_datagram(data, from);
        }
        let (host, port) = match &self.sender {
            Some((last, host, port)) if last == from => (host.clone(), *port),
            _ => {
                let (host, port) = addr::host_port(from);
                self.sender = Some((from.clone(), host.clone(), port));
                (host, port)
            }
        };
        Datagram { data, host, port }
    }

    /// One UDP datagram with its sender, read into the reused buffer
    /// (datagrams fit in [`SLOT`]).
    #[inline]
    fn receive_udp(
        &mut self,
        sock: &socket2::Socket,
        length: Option<usize>,
        flags: i32,
    ) -> io::Result<Datagram> {
        let want = length.map_or(SLOT, |n| n.min(SLOT));
        if self.buf.capacity() - self.buf.len() < want {
            self.buf.reserve(CHUNK.max(want));
        }
        let (_, from) = sys::recv_from_ip_into(sock, &mut self.buf, want, flags)?;
        let data = self.buf.split().freeze();
        Ok(match from {
            Some(from) => self.ip_datagram(data, from),
            None => Datagram {
                data,
                host: String::new(),
                port: 0,
            },
        })
    }

    /// [`datagram`](RecvState::datagram) from an IP sender.
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

    /// Hands out the datagrams of one read: into `out` up to `max`, the
    /// rest into the backlog.
    fn split_read(&mut self, data: Bytes, slot: &RecvSlot, max: usize, out: &mut Vec<Datagram>) {
        let mut parts = segments(data, slot.segment);
        if out.len() < max {
            // One sender for the whole read: its text is looked up once.
            let Some(first) = parts.next() else { return };
            let first = self.datagram(first, &slot.from);
            let (host, port) = (first.host.clone(), first.port);
            out.push(first);
            for data in parts.by_ref().take(max - out.len()) {
                let host = host.clone();
                out.push(Datagram { data, host, port });
            }
        }
        self.backlog.extend(parts.map(|d| (d, slot.from.clone())));
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
    pub(super) fn offload(&self) -> &Offload {
        self.cold.batch.get_or_init(Default::default)
    }

    /// The offload state when `UDP_GRO` is on: then every receive goes
    /// through [`Offload::receive_one`].
    pub(super) fn gro(&self) -> Option<&Offload> {
        self.cold.batch.get().map(|o| &**o).filter(|o| o.gro_on())
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
    /// which are split back into separate [`Datagram`]s sharing one buffer)
    /// and reads with `recvmmsg(2)`. Where the OS refuses either, it falls back
    /// to plain `recvmmsg`, then to one `recvmsg` per datagram; nothing is
    /// lost. Once `UDP_GRO` is on, the other receives of this socket split
    /// coalesced reads too, so `receive_from` still returns one datagram.
    /// Other datagram sockets (Unix-domain, raw) receive one datagram per
    /// call, each whole.
    ///
    /// # Errors
    /// `socket is in an illegal state` on a closed socket, a socket shut for
    /// reading, or a stream socket; `socket not listening or connected` on a
    /// datagram socket with no local address (neither bound, connected, nor
    /// given one by a send); `TimedOut` when no datagram came within the
    /// receive timeout; `WouldBlock` in non-blocking mode with none queued.
    ///
    /// # Cancel safety
    /// Cancel safe: datagrams are taken from the socket only in the poll
    /// that returns them (those a GRO read carries beyond `max` are kept for
    /// the next receive).
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
        let udp = self.is_udp();
        let r = if udp {
            let offload = self.offload();
            if let Ok(io) = self.io() {
                offload.enable_gro(io.sock());
            }
            let mut out = Vec::with_capacity(max.min(RECV_BATCH * 4));
            call.ready(self, Interest::READABLE, What::Receive, |s, flags| {
                offload.receive(s, max, flags, &mut out)
            })
            .await
            .map(|()| out)
        } else {
            self.receive_each(&call, max).await
        };
        let r = r.map_err(|e| self.fail(e));
        call.traced(self, "receive_many", r, |v| v.len() as u64)
    }

    /// `receive_many` on a datagram socket without UDP offloads: whole
    /// datagrams, one `recvfrom` each, the first one waited for.
    async fn receive_each(&self, call: &super::io::Call, max: usize) -> Result<Vec<Datagram>> {
        let first = call
            .ready(self, Interest::READABLE, What::Receive, |s, flags| {
                super::io::recv_datagram_from(s, None, flags)
            })
            .await?;
        let mut st = RecvState::default();
        let mut out = vec![st.datagram(first.0, &first.1)];
        let io = self.io()?;
        while out.len() < max {
            match super::io::recv_datagram_from(io.sock(), None, libc::MSG_DONTWAIT) {
                Ok((data, from)) => out.push(st.datagram(data, &from)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break, // nothing more queued now (or the next call sees the error)
            }
        }
        Ok(out)
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
    /// `sendmmsg`, and without `sendmmsg` one per call; nothing is lost or
    /// sent twice.
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
        let mut gso = udp && offload.gso.load(Ordering::Relaxed);
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
                    // The OS refuses GSO here: plain datagrams from now on.
                    offload.gso.store(false, Ordering::Relaxed);
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
        let d = Bytes::from_static(b"aaabbbc");
        let parts: Vec<Bytes> = segments(d.clone(), 3).collect();
        assert_eq!(parts, vec![&b"aaa"[..], &b"bbb"[..], &b"c"[..]]);
        let parts: Vec<Bytes> = segments(d, 0).collect();
        assert_eq!(parts.len(), 1);
        let parts: Vec<Bytes> = segments(Bytes::new(), 0).collect();
        assert_eq!(parts, vec![Bytes::new()]);
    }
}
