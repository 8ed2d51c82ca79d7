//! Socket pairs, and conversions from tokio's and std's socket types.

use std::os::fd::OwnedFd;

use super::{Phase, Socket};
use crate::{
    consts::{AF_UNIX, Protocol, SOCK_DGRAM, SOCK_STREAM, SockType},
    error::Result,
    sys::Slot,
};

impl Socket {
    /// A pair of connected `AF_UNIX` stream sockets (`socketpair(2)`): two
    /// ends of one in-process connection, handy in tests and for talking to
    /// a child process.
    ///
    /// Both are connected (`is_client()`), with an empty `host()`.
    ///
    /// # Errors
    /// The OS's error when no descriptors are left.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let (a, b) = blade_socket::Socket::pair()?;
    /// a.send("ping").await?;
    /// assert_eq!(b.receive(None).await?.as_deref(), Some(&b"ping"[..]));
    /// # Ok(()) }
    /// ```
    #[doc(alias = "socketpair")]
    pub fn pair() -> Result<(Socket, Socket)> {
        Socket::pair_of(SOCK_STREAM)
    }

    /// A pair of connected `AF_UNIX` sockets of type `ty` (`SOCK_STREAM`,
    /// `SOCK_DGRAM` or `SOCK_SEQPACKET`).
    ///
    /// # Errors
    /// The OS's error for a type it cannot pair, or when no descriptors are left.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let (a, b) = blade_socket::Socket::pair_of(blade_socket::SOCK_DGRAM)?;
    /// a.send("one datagram").await?;
    /// assert_eq!(&b.receive(None).await?.unwrap_or_default()[..], b"one datagram");
    /// # Ok(()) }
    /// ```
    #[doc(alias = "socketpair")]
    pub fn pair_of(ty: SockType) -> Result<(Socket, Socket)> {
        let sock_type = socket2::Type::from(ty.raw()).nonblocking().cloexec();
        let (a, b) = socket2::Socket::pair(socket2::Domain::UNIX, sock_type, None)?;
        let end = |s| {
            Socket::from_parts(
                s,
                AF_UNIX,
                ty,
                Protocol::from_raw(0),
                Phase::Connected,
                String::new(),
                0,
            )
        };
        Ok((end(a), end(b)))
    }

    /// A second handle on the same socket (`dup(2)`, close-on-exec), as
    /// `std::net::TcpStream::try_clone`: one thread may shut down or close
    /// its handle while another waits on the other. It copies the state,
    /// shut directions, host, port, timeouts and mode; from then on each
    /// handle keeps its own. The connection ends when both are closed.
    ///
    /// # Errors
    /// `socket is in an illegal state` once closed; the OS's error when no
    /// descriptors are left.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// let (a, b) = blade_socket::Socket::pair()?;
    /// let writer = a.try_clone()?;
    /// writer.send("last words").await?;
    /// writer.shutdown(blade_socket::SHUT_WR)?; // b sees end of file
    /// assert_eq!(b.receive(None).await?.as_deref(), Some(&b"last words"[..]));
    /// assert_eq!(b.receive(None).await?, None);
    /// assert!(a.is_connected());               // a's own handle is unchanged
    /// # Ok(()) }
    /// ```
    #[doc(alias = "dup")]
    pub fn try_clone(&self) -> Result<Socket> {
        let st = self.state.get();
        st.check_open()?;
        let io = self.io()?;
        let mut clone = Socket::from_parts(
            io.sock().try_clone()?,
            self.family,
            self.ty,
            self.protocol,
            st.phase,
            self.host.clone(),
            self.port,
        );
        clone.state.set(st);
        clone.send_timeout = self.send_timeout;
        clone.receive_timeout = self.receive_timeout;
        clone.blocking = self.blocking;
        // The two share the kernel socket, and so its `UDP_GRO` setting.
        clone.batch = self.share_offload();
        if io.fd_blocking() {
            // `O_NONBLOCK` lives in the open file, which the two share.
            clone.io()?.note_fd_blocking();
        }
        Ok(clone)
    }

    /// Adopts a descriptor that tokio gave up; never fails: a socket whose
    /// descriptor tokio could not hand over is returned closed.
    fn from_tokio(fd: std::io::Result<OwnedFd>, ty: SockType, protocol: Protocol) -> Socket {
        match fd.map(Socket::from_fd) {
            Ok(Ok(s)) => s,
            // tokio drops the descriptor when it cannot deregister it.
            _ => Socket::closed(crate::consts::AF_INET, ty, protocol),
        }
    }

    /// A socket that has no descriptor: already closed.
    fn closed(family: crate::Family, ty: SockType, protocol: Protocol) -> Socket {
        Socket::with_slot(
            Slot::closed(),
            -1,
            family,
            ty,
            protocol,
            Phase::Closed,
            crate::addr::loopback(family).to_owned(),
            0,
        )
    }
}

impl From<tokio::net::TcpStream> for Socket {
    /// Takes over a connected tokio stream (its descriptor leaves tokio's
    /// reactor, and registers anew on this socket's first wait).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// let stream = tokio::net::TcpStream::connect("127.0.0.1:8080").await?;
    /// let s = blade_socket::Socket::from(stream);
    /// assert!(s.is_connected());
    /// # Ok(()) }
    /// ```
    fn from(s: tokio::net::TcpStream) -> Socket {
        Socket::from_tokio(s.into_std().map(OwnedFd::from), SOCK_STREAM, TCP)
    }
}

impl From<tokio::net::TcpListener> for Socket {
    /// Takes over a listening tokio listener.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let s = blade_socket::Socket::from(listener);
    /// assert!(s.is_listening());
    /// # Ok(()) }
    /// ```
    fn from(s: tokio::net::TcpListener) -> Socket {
        Socket::from_tokio(s.into_std().map(OwnedFd::from), SOCK_STREAM, TCP)
    }
}

impl From<tokio::net::UdpSocket> for Socket {
    /// Takes over a tokio UDP socket, bound or connected as it was.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> std::io::Result<()> {
    /// let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let s = blade_socket::Socket::from(udp);
    /// assert!(s.is_bound());
    /// # Ok(()) }
    /// ```
    fn from(s: tokio::net::UdpSocket) -> Socket {
        Socket::from_tokio(s.into_std().map(OwnedFd::from), SOCK_DGRAM, UDP)
    }
}

const TCP: Protocol = crate::consts::IPPROTO_TCP;
const UDP: Protocol = crate::consts::IPPROTO_UDP;

/// `TryFrom` for std's socket types, through [`Socket::from_fd`].
macro_rules! try_from_std {
    ($($ty:ty => $example:literal),* $(,)?) => {$(
        impl TryFrom<$ty> for Socket {
            type Error = crate::SocketError;

            /// Takes over the socket, reading its state as
            /// [`Socket::from_fd`] does.
            ///
            /// # Errors
            /// As [`Socket::from_fd`].
            ///
            /// # Examples
            /// ```
            #[doc = $example]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            fn try_from(s: $ty) -> Result<Socket> {
                Socket::from_fd(OwnedFd::from(s))
            }
        }
    )*};
}

try_from_std! {
    std::net::TcpStream =>
        "let l = std::net::TcpListener::bind(\"127.0.0.1:0\")?;\nlet s = blade_socket::Socket::try_from(std::net::TcpStream::connect(l.local_addr()?)?)?;\nassert!(s.is_connected());",
    std::net::TcpListener =>
        "let s = blade_socket::Socket::try_from(std::net::TcpListener::bind(\"127.0.0.1:0\")?)?;\nassert!(s.is_listening());",
    std::net::UdpSocket =>
        "let s = blade_socket::Socket::try_from(std::net::UdpSocket::bind(\"127.0.0.1:0\")?)?;\nassert!(s.is_bound());",
    std::os::unix::net::UnixStream =>
        "let (a, _b) = std::os::unix::net::UnixStream::pair()?;\nlet s = blade_socket::Socket::try_from(a)?;\nassert!(s.is_connected());",
    std::os::unix::net::UnixDatagram =>
        "let d = blade_socket::Socket::try_from(std::os::unix::net::UnixDatagram::unbound()?)?;\nassert_eq!(d.socket_type(), blade_socket::SOCK_DGRAM);",
    std::os::unix::net::UnixListener =>
        "let dir = std::env::temp_dir().join(format!(\"blade-doc-{}\", std::process::id()));\nlet _ = std::fs::remove_file(&dir);\nlet s = blade_socket::Socket::try_from(std::os::unix::net::UnixListener::bind(&dir)?)?;\nassert!(s.is_listening());\nstd::fs::remove_file(&dir)?;",
}
