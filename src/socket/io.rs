//! The readiness helper and the data operations built on it.

use std::{
    future::Future,
    io,
    os::fd::AsFd,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;

use super::{
    Socket,
    batch::{DataSink, Dgram, SliceSink},
    op::{Kind, Op, Sent},
    trace::OpTrace,
};
use crate::{
    driver::{Wait, What},
    error::{CloseCause, Result, SocketError},
    sys::{self, Io},
};

/// Reads up to this many bytes with one plain `recv`; larger reads are sized
/// by `FIONREAD` so that a huge `length` never allocates more than is queued.
const SMALL_READ: usize = 64 * 1024;

/// The most one `sendfile(2)` call may move (Linux's own limit).
const SENDFILE_CHUNK: usize = 0x7fff_f000;

/// A send's error before anything went out: `bytes_sent() == Some(0)`.
pub(super) fn none_sent(e: SocketError) -> SocketError {
    e.with_bytes_sent(0)
}

/// A byte count for the trace.
pub(super) fn count(n: &usize) -> u64 {
    *n as u64
}

/// One I/O call's context: the descriptor it holds (so a concurrent close
/// cannot release it underneath), how it waits (driver and one deadline).
pub(super) struct Call {
    pub(super) io: Arc<Io>,
    pub(super) wait: Wait,
    trace: OpTrace,
}

impl Call {
    /// Records the call's outcome (see [`OpTrace`]) and passes it on.
    #[inline(always)]
    pub(super) fn traced<T>(
        &self,
        sock: &Socket,
        op: &'static str,
        r: Result<T>,
        bytes: fn(&T) -> u64,
    ) -> Result<T> {
        self.trace.end(sock, op, &r, bytes);
        r
    }

    /// Whether the calling thread waits itself (the blocking facade).
    pub(super) fn in_place(&self) -> bool {
        self.wait.in_place()
    }

    /// Sleeps for `pause` within this call's deadline.
    pub(super) async fn pause(&self, what: &'static str, pause: Duration) -> Result<()> {
        self.wait.pause(what, pause).await
    }

    /// Runs `op` through the readiness loop ([`Wait::ready`]) under this
    /// call's deadline and the socket's blocking mode.
    #[inline]
    pub(super) fn ready<'a, R: 'a>(
        &'a self,
        sock: &Socket,
        interest: Interest,
        what: What,
        op: impl FnMut(&socket2::Socket, i32) -> io::Result<R> + 'a,
    ) -> impl Future<Output = Result<R>> + 'a {
        self.wait.ready(&self.io, interest, sock.blocking, what, op)
    }
}

/// Whether `file` is a pipe or FIFO (which `splice(2)` reads from).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_pipe(file: &std::fs::File) -> bool {
    use std::os::unix::fs::FileTypeExt;
    file.metadata().is_ok_and(|m| m.file_type().is_fifo())
}

/// How a socket's `receive` reads, decided once per call.
#[derive(Clone, Copy)]
enum Recv {
    /// One datagram (or `SOCK_SEQPACKET` record), through the one datagram
    /// read ([`Offload::read`](super::batch::Offload::read)).
    Dgram(Dgram),
    /// A byte stream; `may_be_reset` see [`Socket::eof_may_be_reset`].
    Stream { may_be_reset: bool },
}

/// The buffer small stream receives reuse (see [`recv_reusing`]).
#[derive(Debug, Default)]
pub(super) struct Spare {
    buf: BytesMut,
    /// Whether a receive has used it yet.
    used: bool,
}

/// The block later small receives carve their bytes from.
const SPARE_BLOCK: usize = 1024;

/// Reads of up to this many bytes go through the socket's reused buffer.
const SPARE_MAX: usize = 4096;

/// One receive on a stream socket: at most `length` bytes (all queued bytes
/// with `None`); `Ok(None)` at end of file.
fn recv_stream(
    sock: &socket2::Socket,
    spare: &Mutex<Spare>,
    length: Option<usize>,
    flags: i32,
    kept: &std::sync::atomic::AtomicI32,
) -> io::Result<Option<Bytes>> {
    if let Some(n) = length.filter(|&n| n <= SPARE_MAX) {
        if let Ok(mut spare) = spare.try_lock() {
            return recv_reusing(sock, &mut spare, n, flags);
        }
    }
    let (want, sized) = match length {
        Some(n) if n <= SMALL_READ => (n, false),
        _ => {
            let queued = sys::bytes_queued(sock.as_fd())?;
            let cap = length.map_or(queued, |n| n.min(queued));
            // Nothing counted: end of file, an error, or data racing in; a
            // plain bounded recv tells which.
            if cap == 0 {
                (length.unwrap_or(SMALL_READ).min(SMALL_READ), false)
            } else {
                (cap, true)
            }
        }
    };
    let mut buf = BytesMut::with_capacity(want);
    // Only the first recv may block; the rest take what is already queued.
    let mut flags = flags;
    loop {
        let room = want - buf.len();
        let r = sys::recv_into(sock, &mut buf, room, flags);
        flags = libc::MSG_DONTWAIT;
        match r {
            Ok(0) => break,
            Ok(_) if !sized || buf.len() >= want => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Return what was read; the next receive gets the error.
            Err(e) if !buf.is_empty() => {
                super::keep_error(kept, &e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok((!buf.is_empty()).then(|| buf.freeze()))
}

/// A small receive into the socket's reused buffer, as tokio-util's framed
/// reader does: the bytes read are split off and frozen, and the next
/// receive reclaims the buffer's block once the caller has dropped them
/// (`reserve` on a unique block), so the steady path does not allocate.
fn recv_reusing(
    sock: &socket2::Socket,
    spare: &mut Spare,
    want: usize,
    flags: i32,
) -> io::Result<Option<Bytes>> {
    // The first receive takes what it needs (an idle connection keeps no
    // more); later ones carve from a larger block, so that most reserve
    // without reaching `reserve`'s slow path (the block is reclaimed once
    // the caller has dropped what was carved from it).
    if spare.buf.capacity() < want {
        let block = if spare.used {
            want.max(SPARE_BLOCK)
        } else {
            want
        };
        spare.buf.reserve(block);
    }
    spare.used = true;
    let buf = &mut spare.buf;
    loop {
        match sys::recv_into(sock, buf, want, flags) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(buf.split().freeze())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl Socket {
    /// Sends all of `message` (looping over partial writes), within the send
    /// timeout as one deadline for the whole call, and returns the byte count.
    ///
    /// An empty message returns `Ok(0)` (on a datagram socket it sends an
    /// empty datagram). In non-blocking mode it may return a partial count,
    /// and fails with `WouldBlock` when nothing could be sent. It never raises
    /// `SIGPIPE` (`MSG_NOSIGNAL`).
    ///
    /// # Errors
    /// `socket is in an illegal state` when closed or shut for writing;
    /// `socket not listening or connected` when not connected (a listener
    /// stays open and listening); `TimedOut` when the send timeout passes (the
    /// socket stays open; part of the message may have been sent); the OS's
    /// error when the peer is gone (`Broken pipe`, `Connection reset by
    /// peer`), and then the socket is closed; `no tokio runtime` outside one.
    ///
    /// # Cancel safety
    /// Not cancel safe for messages that need several writes: if the future is
    /// dropped, part of the message may have been sent, and how much is unknown.
    /// A message that fits the socket's buffer is written in one syscall.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(s: &blade_socket::Socket) -> blade_socket::Result<()> {
    /// let n = s.send(b"ping").await?;
    /// assert_eq!(n, 4);
    /// # Ok(()) }
    /// ```
    pub fn send(&self, message: impl AsRef<[u8]>) -> impl Future<Output = Result<usize>> {
        Op::new(
            self,
            SendAll {
                message,
                sent: Sent::default(),
            },
        )
    }

    /// Starts an I/O call whose state checks have passed.
    #[inline]
    pub(super) fn begin(&self, timeout: Option<Duration>) -> Result<Call> {
        let io = self.io()?;
        Ok(Call {
            wait: Wait::begin_on(&io, timeout)?,
            io,
            trace: OpTrace::start(),
        })
    }

    /// Sends `buf` whole (to `to`, on an unconnected datagram socket).
    pub(super) async fn send_all(
        &self,
        call: &Call,
        buf: &[u8],
        to: Option<&socket2::SockAddr>,
    ) -> Result<usize> {
        let mut sent = 0;
        loop {
            let rest = &buf[sent..];
            let r = call
                .ready(self, Interest::WRITABLE, What::Send, |s, flags| match to {
                    None => s.send_with_flags(rest, flags | libc::MSG_NOSIGNAL),
                    Some(addr) => s.send_to_with_flags(rest, addr, flags | libc::MSG_NOSIGNAL),
                })
                .await;
            match r {
                Ok(n) => {
                    sent += n;
                    if sent >= buf.len() || n == 0 {
                        return Ok(sent);
                    }
                }
                Err(e) if e.kind() == crate::ErrorKind::WouldBlock && sent > 0 => return Ok(sent),
                Err(e) => return Err(self.fail(e).with_bytes_sent(sent as u64)),
            }
        }
    }

    /// Streams a file, from its current offset to its end, to the connected
    /// peer with `sendfile(2)`, zero-copy, never reading it into memory, and
    /// advances the file's offset by the bytes sent (as Python's
    /// `socket.sendfile` does); returns the byte count. A file already at its
    /// end sends 0. Falls back to chunked reads where the OS cannot
    /// `sendfile` from that file. Never raises `SIGPIPE`.
    ///
    /// From a pipe or FIFO (Linux) it moves bytes with `splice(2)` until the
    /// pipe's writers close it: a byte leaves the pipe only once the socket
    /// has taken it, so a partial send (non-blocking mode, a send timeout)
    /// leaves the rest in the pipe for the next call. An empty pipe is
    /// waited for within the send timeout (in non-blocking mode:
    /// `WouldBlock`, or the partial count), without blocking a runtime worker.
    ///
    /// # Errors
    /// As [`send`](Socket::send); also the OS's error reading the file. The
    /// error's [`bytes_sent`](crate::SocketError::bytes_sent) says how much
    /// went out, and the file's offset has advanced by as much.
    ///
    /// # Cancel safety
    /// Not cancel safe: part of the file may have been sent, and the file's
    /// offset is then not advanced.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(s: &blade_socket::Socket) -> blade_socket::Result<()> {
    /// let file = std::fs::File::open("index.html").expect("file");
    /// let n = s.send_file(&file).await?;
    /// # Ok(()) }
    /// ```
    #[doc(alias = "sendfile")]
    pub async fn send_file(&self, file: &std::fs::File) -> Result<u64> {
        self.state.check_send(false).map_err(none_sent)?;
        let call = self
            .begin(self.cold.send_timeout.get())
            .map_err(none_sent)?;
        // sendfile(2) takes no MSG_DONTWAIT: it needs a non-blocking descriptor.
        call.io
            .set_fd_blocking(false)
            .map_err(|e| none_sent(e.into()))?;
        let r = self.send_file_with(&call, file).await;
        call.traced(self, "send_file", r, |n| *n)
    }

    /// `send_file`'s loop: `sendfile(2)` from the file's offset to its end,
    /// then the offset moved past what was sent (also on failure).
    async fn send_file_with(&self, call: &Call, file: &std::fs::File) -> Result<u64> {
        use std::io::{Seek, SeekFrom};
        let start = match (&*file).stream_position() {
            Ok(at) => at,
            // A pipe or socket has no offset: read it as it comes.
            Err(e) if e.raw_os_error() == Some(libc::ESPIPE) => {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                if is_pipe(file) {
                    return self.send_file_pipe(call, file).await;
                }
                return self.send_file_copy(call, file, None).await;
            }
            Err(e) => return Err(none_sent(e.into())),
        };
        let Ok(mut offset) = i64::try_from(start) else {
            return Err(none_sent(SocketError::invalid("file offset out of range")));
        };
        let mut total: u64 = 0;
        let r = loop {
            let r = call
                .ready(self, Interest::WRITABLE, What::Send, |s, _| {
                    sys::sendfile(s.as_fd(), file.as_fd(), &mut offset, SENDFILE_CHUNK)
                })
                .await;
            match r {
                Ok(0) => break Ok(total),
                Ok(n) => total += n as u64,
                Err(e) if e.kind() == crate::ErrorKind::WouldBlock && total > 0 => break Ok(total),
                Err(e)
                    if total == 0
                        && matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) =>
                {
                    return self.send_file_copy(call, file, Some(start)).await;
                }
                Err(e) => break Err(self.fail(e).with_bytes_sent(total)),
            }
        };
        let moved = (&*file).seek(SeekFrom::Start(start + total));
        match (r, moved) {
            (Ok(n), Err(e)) => Err(SocketError::from(e).with_bytes_sent(n)),
            (r, _) => r,
        }
    }

    /// `send_file` from a pipe: `splice(2)` straight from the pipe into the
    /// socket, so a byte leaves the pipe only when the socket has taken it
    /// (a partial send in non-blocking mode or at a timeout loses nothing).
    /// An empty pipe whose writer is still open is waited for through the
    /// reactor (a duplicate of its descriptor, registered for this call) or,
    /// on the calling thread, in `poll(2)`: never a blocking read on a
    /// runtime worker.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    async fn send_file_pipe(&self, call: &Call, file: &std::fs::File) -> Result<u64> {
        let hold_sigpipe = !sys::sigpipe_ignored();
        let mut total: u64 = 0;
        let mut watched: Option<sys::Watched> = None;
        loop {
            let r = call
                .ready(self, Interest::WRITABLE, What::Send, |s, _| {
                    match sys::splice(file.as_fd(), s.as_fd(), SENDFILE_CHUNK, hold_sigpipe) {
                        // `EAGAIN` from an empty pipe, not from the socket.
                        Err(e)
                            if e.kind() == io::ErrorKind::WouldBlock
                                && !sys::poll(
                                    file.as_fd(),
                                    Interest::READABLE,
                                    Some(Duration::ZERO),
                                )
                                .unwrap_or(true) =>
                        {
                            Ok(None)
                        }
                        r => r.map(Some),
                    }
                })
                .await;
            match r {
                Ok(Some(0)) => return Ok(total),
                Ok(Some(n)) => total += n as u64,
                Ok(None) if !self.blocking => {
                    return if total > 0 {
                        Ok(total)
                    } else {
                        Err(none_sent(SocketError::from_errno(libc::EWOULDBLOCK)))
                    };
                }
                Ok(None) => {
                    let waited = if call.in_place() {
                        let left = call
                            .wait
                            .remaining("send")
                            .map_err(|e| e.with_bytes_sent(total))?;
                        sys::poll(file.as_fd(), Interest::READABLE, left).map(drop)
                    } else {
                        let w = match watched.as_ref() {
                            Some(w) => w,
                            None => match sys::Watched::new(file.as_fd()) {
                                Ok(w) => watched.insert(w),
                                Err(e) => return Err(SocketError::from(e).with_bytes_sent(total)),
                            },
                        };
                        match call.wait.within("send", w.readable()).await {
                            Ok(r) => r,
                            Err(e) => return Err(e.with_bytes_sent(total)),
                        }
                    };
                    if let Err(e) = waited {
                        return Err(SocketError::from(e).with_bytes_sent(total));
                    }
                }
                Err(e) if e.kind() == crate::ErrorKind::WouldBlock && total > 0 => {
                    return Ok(total);
                }
                Err(e) => return Err(self.fail(e).with_bytes_sent(total)),
            }
        }
    }

    /// `send_file` for files `sendfile(2)` refuses: 64 KiB chunks, never the
    /// whole file, from offset `start` (then moved past what was sent), or
    /// with `None` read as a stream.
    async fn send_file_copy(
        &self,
        call: &Call,
        file: &std::fs::File,
        start: Option<u64>,
    ) -> Result<u64> {
        use std::{
            io::{Read, Seek, SeekFrom},
            os::unix::fs::FileExt,
        };
        let mut chunk = vec![0u8; SMALL_READ];
        let mut total: u64 = 0;
        let r = loop {
            let read = match start {
                Some(at) => file.read_at(&mut chunk, at + total),
                None => (&*file).read(&mut chunk),
            };
            let n = match read {
                Ok(0) => break Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(SocketError::from(e).with_bytes_sent(total)),
            };
            match self.send_all(call, &chunk[..n], None).await {
                Ok(sent) => {
                    total += sent as u64;
                    if sent < n {
                        break Ok(total); // non-blocking mode: a partial count
                    }
                }
                Err(e) => {
                    total += e.bytes_sent().unwrap_or(0);
                    break Err(e.with_bytes_sent(total));
                }
            }
        };
        let Some(start) = start else { return r };
        let moved = (&*file).seek(SeekFrom::Start(start + total));
        match (r, moved) {
            (Ok(n), Err(e)) => Err(SocketError::from(e).with_bytes_sent(n)),
            (r, _) => r,
        }
    }

    /// Waits until data or end of file arrives (up to the receive timeout),
    /// then returns what is queued *now*: at most `length` bytes, or with
    /// `None` every byte queued at that moment (one snapshot, not a read
    /// until end of file). `Ok(None)` means the peer closed and nothing is
    /// left. `Some(0)` returns empty bytes at once. Binary-safe.
    ///
    /// On a datagram socket it returns one datagram (an empty one is
    /// `Some(empty)`); with a `length` its first `length` bytes, the rest
    /// discarded. A datagram socket must be connected, as in Blade: use
    /// [`receive_from`](Socket::receive_from) on one that is not. A
    /// `SOCK_SEQPACKET` socket returns one record: an empty record is
    /// `Some(empty)`, end of file `None`. However many tasks read the socket,
    /// by whichever method, and with GRO or `SO_TIMESTAMP` on, a datagram is
    /// never merged with another, cut short (but to `length`) or skipped:
    /// a read the kernel truncated is an `InvalidData` error. A returned
    /// datagram holds memory in proportion to its size: one under 512 bytes
    /// shares a 1 KiB block with its neighbours, one up to 4 KiB a block of at
    /// most 32 times its size, a larger one an allocation of its own size.
    ///
    /// Small stream reads (up to 4 KiB) do not allocate each time: after a
    /// socket's first, they are carved from a block (1 KiB or more) it reuses once
    /// every `Bytes` carved from it is dropped, as `tokio-util`'s framed
    /// reader does. A `Bytes` kept for long keeps its block; copy it
    /// (`Bytes::copy_from_slice`) to keep only its own bytes.
    ///
    /// # Errors
    /// `socket is in an illegal state` when closed or shut for reading;
    /// `socket not listening or connected` at once when not connected (a
    /// listener stays open; an unconnected datagram socket too); `TimedOut` when the receive timeout passes (the socket
    /// stays open and usable); `WouldBlock` in non-blocking mode with nothing
    /// queued; `Connection reset by peer`, and then the socket is closed;
    /// on a datagram socket, `InvalidData` for a datagram the kernel
    /// truncated (`MSG_TRUNC`) or whose control messages did not fit
    /// (`MSG_CTRUNC`).
    ///
    /// # Cancel safety
    /// Cancel safe: bytes are taken from the socket only in the poll that
    /// returns them, so a dropped or timed-out receive loses nothing.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(s: &blade_socket::Socket) -> blade_socket::Result<()> {
    /// while let Some(bytes) = s.receive(Some(4096)).await? {
    ///     println!("got {} bytes", bytes.len());
    /// }
    /// println!("peer closed");
    /// # Ok(()) }
    /// ```
    #[doc(alias = "recv")]
    pub fn receive(&self, length: Option<usize>) -> impl Future<Output = Result<Option<Bytes>>> {
        Op::new(
            self,
            Receive {
                length,
                how: Recv::Stream {
                    may_be_reset: false,
                },
            },
        )
    }

    /// Receives into `buf`, as [`receive`](Socket::receive) with
    /// `Some(buf.len())` but without allocating: waits until data or end of
    /// file arrives (up to the receive timeout), then copies what is queued,
    /// up to `buf.len()` bytes. Returns the count; `0` means end of file
    /// (or an empty `buf`). On a datagram socket, one datagram, truncated.
    ///
    /// # Errors
    /// As [`receive`](Socket::receive).
    ///
    /// # Cancel safety
    /// Cancel safe, as `receive`.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let (a, b) = blade_socket::Socket::pair()?;
    /// a.send("hello").await?;
    /// let mut buf = [0u8; 16];
    /// let n = b.receive_into(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hello");
    /// # Ok(()) }
    /// ```
    #[doc(alias = "recv")]
    pub fn receive_into(&self, buf: &mut [u8]) -> impl Future<Output = Result<usize>> {
        Op::new(
            self,
            ReceiveInto {
                buf,
                how: Recv::Stream {
                    may_be_reset: false,
                },
            },
        )
    }

    /// How this socket's receives read (see [`receive_once`](Socket::receive_once)).
    fn receive_kind(&self) -> Recv {
        if self.is_datagram() || self.ty == crate::consts::SOCK_SEQPACKET {
            Recv::Dgram(self.dgram_kind())
        } else {
            Recv::Stream {
                may_be_reset: self.eof_may_be_reset(),
            }
        }
    }

    /// One `receive` syscall (or a datagram read ahead by GRO).
    #[inline]
    fn receive_once(
        &self,
        how: Recv,
        s: &socket2::Socket,
        length: Option<usize>,
        flags: i32,
    ) -> io::Result<Option<Bytes>> {
        match how {
            Recv::Dgram(how) => {
                let mut sink = DataSink { length, out: None };
                self.offload().read(s, how, flags, &mut sink)?;
                Ok(sink.out)
            }
            Recv::Stream { may_be_reset } => {
                match recv_stream(s, &self.cold.spare, length, flags, &self.cold.kept)? {
                    None if may_be_reset => self.eof_or_reset(s).map(|()| None),
                    b => Ok(b),
                }
            }
        }
    }

    /// Passes `err` on; when it means the peer is gone, closes the socket first.
    pub(super) fn fail(&self, err: SocketError) -> SocketError {
        let gone = matches!(
            err.raw_os_error(),
            Some(libc::EPIPE | libc::ECONNRESET | libc::ECONNABORTED | libc::ETIMEDOUT)
        );
        if gone && !self.is_datagram() {
            if let (Some(errno), Ok(io)) = (err.raw_os_error(), self.io()) {
                io.note_gone(errno);
                if errno != libc::EPIPE && self.eof_may_be_reset() {
                    sys::note_ending(io.sock().as_fd(), errno);
                }
            }
            self.state.note_cause(CloseCause::of(&err));
            self.end();
        }
        err
    }
}

/// `send`: the whole message, looping over partial writes.
struct SendAll<M> {
    message: M,
    sent: Sent,
}

impl<M: AsRef<[u8]>> Kind for SendAll<M> {
    type Out = usize;
    const NAME: &'static str = "send";
    const INTEREST: Interest = Interest::WRITABLE;
    const WHAT: What = What::Send;

    fn check(&mut self, sock: &Socket) -> Result<Option<usize>> {
        sock.state.check_send(false).map(|()| None)
    }

    #[inline]
    fn attempt(
        &mut self,
        _: &Socket,
        s: &socket2::Socket,
        flags: i32,
    ) -> io::Result<Option<usize>> {
        let buf = self.message.as_ref();
        let n = s.send_with_flags(&buf[self.sent.count()..], flags | libc::MSG_NOSIGNAL)?;
        Ok(self.sent.advance(n, buf.len()))
    }

    fn failed(&mut self, sock: &Socket, err: SocketError) -> Result<usize> {
        self.sent.failed(sock, err)
    }

    fn bytes(out: &usize) -> u64 {
        count(out)
    }
}

/// `receive_into`: one read into the caller's buffer.
struct ReceiveInto<'b> {
    buf: &'b mut [u8],
    how: Recv,
}

impl Kind for ReceiveInto<'_> {
    type Out = usize;
    const NAME: &'static str = "receive_into";
    const INTEREST: Interest = Interest::READABLE;
    const WHAT: What = What::Receive;

    fn check(&mut self, sock: &Socket) -> Result<Option<usize>> {
        sock.check_receive(false)?;
        if self.buf.is_empty() {
            return Ok(Some(0));
        }
        self.how = sock.receive_kind();
        if let Recv::Dgram(how) = self.how {
            let mut sink = SliceSink {
                buf: &mut *self.buf,
                n: None,
            };
            if sock.read_queued(how, &mut sink)? {
                return Ok(sink.n);
            }
        }
        Ok(None)
    }

    #[inline]
    fn attempt(
        &mut self,
        sock: &Socket,
        s: &socket2::Socket,
        flags: i32,
    ) -> io::Result<Option<usize>> {
        let buf = &mut *self.buf;
        let n = match self.how {
            Recv::Stream { may_be_reset } => match sys::recv_slice(s, buf, flags)? {
                0 if may_be_reset => sock.eof_or_reset(s).map(|()| 0)?,
                n => n,
            },
            Recv::Dgram(how) => {
                let mut sink = SliceSink { buf, n: None };
                sock.offload().read(s, how, flags, &mut sink)?;
                sink.n.unwrap_or(0)
            }
        };
        Ok(Some(n))
    }

    fn drained(&self, n: &usize) -> bool {
        matches!(self.how, Recv::Stream { .. }) && *n > 0 && *n < self.buf.len()
    }

    fn bytes(out: &usize) -> u64 {
        count(out)
    }
}

/// `receive`: one read of at most `length` bytes.
struct Receive {
    length: Option<usize>,
    how: Recv,
}

impl Kind for Receive {
    type Out = Option<Bytes>;
    const NAME: &'static str = "receive";
    const INTEREST: Interest = Interest::READABLE;
    const WHAT: What = What::Receive;

    fn check(&mut self, sock: &Socket) -> Result<Option<Option<Bytes>>> {
        // A datagram socket too must be connected (use `receive_from`).
        sock.check_receive(false)?;
        if self.length == Some(0) {
            return Ok(Some(Some(Bytes::new())));
        }
        self.how = sock.receive_kind();
        if let Recv::Dgram(how) = self.how {
            let mut sink = DataSink {
                length: self.length,
                out: None,
            };
            if sock.read_queued(how, &mut sink)? {
                return Ok(Some(sink.out));
            }
        }
        Ok(None)
    }

    #[inline]
    fn attempt(
        &mut self,
        sock: &Socket,
        s: &socket2::Socket,
        flags: i32,
    ) -> io::Result<Option<Option<Bytes>>> {
        sock.receive_once(self.how, s, self.length, flags).map(Some)
    }

    fn drained(&self, out: &Option<Bytes>) -> bool {
        match (self.how, self.length, out) {
            (Recv::Stream { .. }, Some(n), Some(b)) => !b.is_empty() && b.len() < n,
            _ => false,
        }
    }

    fn bytes(out: &Option<Bytes>) -> u64 {
        out.as_ref().map_or(0, |b| count(&b.len()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use super::*;

    /// The fallback for files `sendfile(2)` refuses (hard to meet on a test
    /// machine's file systems) keeps the offset rule too.
    #[tokio::test]
    async fn the_copy_path_starts_at_the_offset_and_advances_it() {
        let run = async {
            let (a, b) = Socket::pair().unwrap();
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(b"0123456789").unwrap();
            file.seek(SeekFrom::Start(4)).unwrap();
            let call = a.begin(None).unwrap();
            assert_eq!(a.send_file_copy(&call, &file, Some(4)).await.unwrap(), 6);
            assert_eq!(file.stream_position().unwrap(), 10);
            let got = b.receive(None).await.unwrap();
            assert_eq!(got.as_deref(), Some(&b"456789"[..]));
            assert_eq!(a.send_file_copy(&call, &file, Some(10)).await.unwrap(), 0);
        };
        tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .unwrap();
    }
}
