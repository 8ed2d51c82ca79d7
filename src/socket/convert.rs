//! Socket pairs, and conversions from tokio's and std's socket types.

use std::os::fd::OwnedFd;

use super::{Phase, Socket};
use crate::{
    consts::{AF_UNIX, Protocol, SOCK_STREAM, SockType},
    error::Result,
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
        let (a, b) = crate::sys::pair(socket2::Type::from(ty.raw()))?;
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
            self.cold.host.clone(),
            self.port,
        );
        clone.state.set(st);
        clone.cold.send_timeout.set(self.cold.send_timeout.get());
        clone
            .cold
            .receive_timeout
            .set(self.cold.receive_timeout.get());
        clone.blocking = self.blocking;
        // The two share the kernel socket, and so its `UDP_GRO` setting.
        clone.cold.batch = self.share_offload();
        if io.fd_blocking() {
            // `O_NONBLOCK` lives in the open file, which the two share.
            clone.io()?.note_fd_blocking();
        }
        Ok(clone)
    }
}

/// `TryFrom` for tokio's socket types: the descriptor leaves tokio's reactor
/// (`into_std`) and is adopted as [`Socket::from_fd`] does, registering anew
/// on this socket's first wait.
macro_rules! try_from_tokio {
    ($($ty:ty => $example:literal),* $(,)?) => {$(
        impl TryFrom<$ty> for Socket {
            type Error = crate::SocketError;

            /// Takes over the socket, reading its state as
            /// [`Socket::from_fd`] does.
            ///
            /// # Errors
            /// The OS's error when tokio cannot hand the descriptor over (it
            /// then closes it); otherwise as [`Socket::from_fd`]. Never a
            /// socket that is silently closed.
            ///
            /// # Examples
            /// ```
            /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
            #[doc = $example]
            /// # Ok(()) }
            /// ```
            fn try_from(s: $ty) -> Result<Socket> {
                Socket::from_fd(OwnedFd::from(s.into_std()?))
            }
        }
    )*};
}

try_from_tokio! {
    tokio::net::TcpStream =>
        "let l = tokio::net::TcpListener::bind(\"127.0.0.1:0\").await?;\nlet stream = tokio::net::TcpStream::connect(l.local_addr()?).await?;\nlet s = blade_socket::Socket::try_from(stream)?;\nassert!(s.is_connected());",
    tokio::net::TcpListener =>
        "let l = tokio::net::TcpListener::bind(\"127.0.0.1:0\").await?;\nlet s = blade_socket::Socket::try_from(l)?;\nassert!(s.is_listening() && s.is_bound());",
    tokio::net::UdpSocket =>
        "let u = tokio::net::UdpSocket::bind(\"127.0.0.1:0\").await?;\nlet s = blade_socket::Socket::try_from(u)?;\nassert!(s.is_bound());",
    tokio::net::UnixStream =>
        "let (a, _b) = tokio::net::UnixStream::pair()?;\nlet s = blade_socket::Socket::try_from(a)?;\nassert!(s.is_connected());",
    tokio::net::UnixDatagram =>
        "let (a, _b) = tokio::net::UnixDatagram::pair()?;\nlet s = blade_socket::Socket::try_from(a)?;\nassert!(s.is_connected());",
    tokio::net::UnixListener =>
        "let dir = std::env::temp_dir().join(format!(\"blade-doc-tokio-{}\", std::process::id()));\nlet _ = std::fs::remove_file(&dir);\nlet s = blade_socket::Socket::try_from(tokio::net::UnixListener::bind(&dir)?)?;\nassert!(s.is_listening());\nstd::fs::remove_file(&dir)?;",
}

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
