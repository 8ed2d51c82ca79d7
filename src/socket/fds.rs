//! Descriptors over Unix-domain sockets (`SCM_RIGHTS`) and the peer's
//! credentials. Both calls go through the one readiness loop
//! ([`Call::ready`](super::io::Call)), so timeouts, non-blocking mode and a
//! close through `&self` apply as they do to `send` and `receive`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use bytes::Bytes;
use tokio::io::Interest;

use super::{Socket, io::none_sent};
use crate::{
    consts::{AF_UNIX, SOCK_SEQPACKET, SOCK_STREAM},
    driver::What,
    error::{Result, SocketError},
    sys,
};

/// What [`Socket::receive_with_fds`] read: bytes, and the descriptors that
/// came with them.
#[non_exhaustive]
#[derive(Debug)]
pub struct WithFds {
    /// The bytes read; `None` at end of file (as [`Socket::receive`]).
    pub data: Option<Bytes>,
    /// The descriptors that came with these bytes, each close-on-exec and
    /// owned by the caller.
    pub fds: Vec<OwnedFd>,
    /// More descriptors came than `max_fds` allowed; those beyond it were
    /// closed and are lost.
    pub fds_truncated: bool,
}

/// The process at the other end of a Unix-domain socket, as it was when it
/// connected (or made the pair), from [`Socket::peer_credentials`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCredentials {
    /// Its process id; `None` where the OS does not say (FreeBSD).
    pub pid: Option<i32>,
    /// Its effective user id.
    pub uid: u32,
    /// Its effective group id.
    pub gid: u32,
}

/// The most bytes a `receive_with_fds(None, ..)` reads when nothing says
/// how many are queued.
const DEFAULT_READ: usize = 64 * 1024;

impl Socket {
    /// Sends `message` with the descriptors `fds` over a Unix-domain socket
    /// (`sendmsg(2)` with `SCM_RIGHTS`); returns the byte count, as
    /// [`send`](Socket::send) does. The OS duplicates the descriptors into
    /// the message: the caller keeps its own, and may close them at once.
    ///
    /// The descriptors travel with the first byte: when the message needs
    /// several writes (or a partial send in non-blocking mode or at a
    /// timeout), they went with the first part. On a stream socket the
    /// message needs at least one byte (Linux drops descriptors sent with
    /// none); a `SOCK_SEQPACKET` or `SOCK_DGRAM` record may be empty.
    ///
    /// # Errors
    /// `InvalidArgument` when the socket is not a Unix-domain socket, for an
    /// empty message on a stream socket, or for more than 253 descriptors;
    /// otherwise as [`send`](Socket::send) (a timeout, `WouldBlock`, the
    /// peer gone), with [`bytes_sent`](crate::SocketError::bytes_sent).
    ///
    /// # Cancel safety
    /// As [`send`](Socket::send): a single write is cancel safe; a message
    /// that needs several may have been sent in part, descriptors included.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use std::os::fd::AsFd;
    /// let (a, b) = blade_socket::Socket::pair()?;
    /// let file = std::fs::File::open("Cargo.toml").expect("file");
    /// a.send_with_fds(b"here", &[file.as_fd()]).await?;
    /// let got = b.receive_with_fds(None, 4).await?;
    /// assert_eq!(got.data.as_deref(), Some(&b"here"[..]));
    /// assert_eq!(got.fds.len(), 1);
    /// # Ok(()) }
    /// ```
    #[doc(alias("SCM_RIGHTS", "send_fds", "sendmsg"))]
    pub async fn send_with_fds(
        &self,
        message: impl AsRef<[u8]>,
        fds: &[BorrowedFd<'_>],
    ) -> Result<usize> {
        let buf = message.as_ref();
        self.check_fds_socket().map_err(none_sent)?;
        if fds.len() > sys::MAX_FDS {
            return Err(none_sent(SocketError::invalid(
                "send_with_fds takes at most 253 descriptors",
            )));
        }
        if buf.is_empty() && self.ty == SOCK_STREAM {
            return Err(none_sent(SocketError::invalid(
                "send_with_fds needs at least one byte of message on a stream socket",
            )));
        }
        self.state.check_send(false).map_err(none_sent)?;
        let call = self
            .begin(self.cold.send_timeout.get())
            .map_err(none_sent)?;
        let mut sent = 0usize;
        let r = loop {
            let rest = &buf[sent..];
            // Descriptors go with the first write that takes any byte.
            let with = if sent == 0 { fds } else { &[] };
            let r = call
                .ready(self, Interest::WRITABLE, What::Send, |s, flags| {
                    sys::send_with_fds(s.as_fd(), rest, with, flags)
                })
                .await;
            match r {
                Ok(n) => {
                    sent += n;
                    if sent >= buf.len() || n == 0 {
                        break Ok(sent);
                    }
                }
                Err(e) if e.kind() == crate::ErrorKind::WouldBlock && sent > 0 => break Ok(sent),
                Err(e) => break Err(self.fail(e).with_bytes_sent(sent as u64)),
            }
        };
        call.traced(self, "send_with_fds", r, super::io::count)
    }

    /// Receives bytes and the descriptors sent with them over a Unix-domain
    /// socket (`recvmsg(2)` with `SCM_RIGHTS`). It reads as
    /// [`receive`](Socket::receive) does (`length` bytes at most; `None`:
    /// what is queued now; one datagram or record on those types), except
    /// that a read ends where a message that carried descriptors ends, so
    /// the descriptors of two sends never merge.
    ///
    /// At most `max_fds` descriptors are kept: the control buffer has room
    /// for exactly that many, so the kernel closes any beyond it, and
    /// [`fds_truncated`](WithFds::fds_truncated) says so. Each descriptor is
    /// close-on-exec, set atomically (`MSG_CMSG_CLOEXEC`) where the OS can.
    /// A plain [`receive`](Socket::receive) on a socket whose peer sent
    /// descriptors discards them (the kernel closes them).
    ///
    /// # Errors
    /// `InvalidArgument` when the socket is not a Unix-domain socket;
    /// otherwise as [`receive`](Socket::receive).
    ///
    /// # Cancel safety
    /// Cancel safe: bytes and descriptors are taken in one syscall, in the
    /// poll that returns them.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use std::os::fd::AsFd;
    /// let (a, b) = blade_socket::Socket::pair()?;
    /// let (w, r) = tokio::net::unix::pipe::pipe().expect("pipe");
    /// a.send_with_fds(b"p", &[r.as_fd(), w.as_fd()]).await?;
    /// let got = b.receive_with_fds(Some(16), 1).await?;
    /// assert_eq!(got.fds.len(), 1);
    /// assert!(got.fds_truncated);
    /// # Ok(()) }
    /// ```
    #[doc(alias("SCM_RIGHTS", "recv_fds", "recvmsg"))]
    pub async fn receive_with_fds(&self, length: Option<usize>, max_fds: usize) -> Result<WithFds> {
        self.check_fds_socket()?;
        self.state.check_receive(false)?;
        let call = self.begin(self.cold.receive_timeout.get())?;
        let creds = passes_credentials(self);
        let ty = self.ty;
        let r = call
            .ready(self, Interest::READABLE, What::Receive, |s, flags| {
                let want = match length {
                    Some(n) => n,
                    // What is queued now (the next datagram's size on those
                    // types); at least one byte, to see end of file.
                    None => sys::bytes_queued(s.as_fd()).unwrap_or(DEFAULT_READ).max(1),
                };
                let mut buf = vec![0u8; want];
                let got = sys::recv_with_fds(s.as_fd(), &mut buf, max_fds, creds, flags)?;
                buf.truncate(got.len);
                let data = if got.len == 0 && got.fds.is_empty() && ty != crate::SOCK_DGRAM {
                    // End of file on a stream; an empty record ends a
                    // SEQPACKET connection only when nothing came with it.
                    if ty == SOCK_STREAM || ty == SOCK_SEQPACKET {
                        None
                    } else {
                        Some(Bytes::new())
                    }
                } else {
                    Some(Bytes::from(buf))
                };
                Ok(WithFds {
                    data,
                    fds: got.fds,
                    fds_truncated: got.fds_truncated,
                })
            })
            .await;
        let r = r.map_err(|e| self.fail(e));
        call.traced(self, "receive_with_fds", r, |w| {
            w.data.as_ref().map_or(0, |b| b.len() as u64)
        })
    }

    /// The process at the other end of this Unix-domain socket, as it was
    /// when it connected or made the pair (`SO_PEERCRED`; `LOCAL_PEERCRED`,
    /// with `LOCAL_PEERPID` on macOS). One syscall.
    ///
    /// # Errors
    /// `InvalidArgument` when the socket is not a Unix-domain socket (Linux
    /// would answer a TCP socket with pid 0); `socket is in an illegal
    /// state` once closed; the OS's error (`Transport endpoint is not
    /// connected`) on a socket with no peer.
    ///
    /// # Examples
    /// ```
    /// let (a, _b) = blade_socket::Socket::pair()?;
    /// let peer = a.peer_credentials()?;
    /// assert_eq!(peer.pid, Some(std::process::id() as i32));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    #[doc(alias("SO_PEERCRED", "getpeereid"))]
    pub fn peer_credentials(&self) -> Result<PeerCredentials> {
        self.state.get().check_open()?;
        self.check_fds_socket()?;
        let io = self.io()?;
        peer_credentials_of(io.sock().as_fd())
    }

    /// `InvalidArgument` unless this is a Unix-domain socket.
    fn check_fds_socket(&self) -> Result<()> {
        if self.family == AF_UNIX {
            Ok(())
        } else {
            Err(SocketError::invalid(
                "descriptors and credentials need a Unix-domain socket (AF_UNIX)",
            ))
        }
    }
}

/// Whether the socket asked for the peer's credentials with each message
/// (`SO_PASSCRED`): the control buffer then needs room for them too.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn passes_credentials(sock: &Socket) -> bool {
    sock.io().is_ok_and(|io| {
        sys::getsockopt_int(io.sock().as_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED)
            .is_ok_and(|v| v != 0)
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn passes_credentials(_: &Socket) -> bool {
    false
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd"
))]
fn peer_credentials_of(fd: BorrowedFd<'_>) -> Result<PeerCredentials> {
    let (pid, uid, gid) = sys::peer_credentials(fd)?;
    Ok(PeerCredentials { pid, uid, gid })
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd"
)))]
fn peer_credentials_of(_: BorrowedFd<'_>) -> Result<PeerCredentials> {
    Err(SocketError::invalid(
        "peer_credentials is not supported on this platform",
    ))
}
