//! Making a socket: `Socket::new` and its shorthands, and `from_fd`. (Its
//! own module, declared first, so that rustdoc lists these methods first.)

use std::os::fd::OwnedFd;

use super::{Phase, Socket, is_bound_addr};
use crate::{addr, consts::*, error::Result};

impl Socket {
    /// Creates a socket of the given family, type and protocol (`socket(2)`).
    ///
    /// The descriptor is non-blocking and close-on-exec at the OS level; the
    /// socket starts in blocking mode at the library level
    /// ([`is_blocking`](Socket::is_blocking)).
    ///
    /// # Errors
    /// The OS's error for a combination it refuses (for example
    /// `AF_INET, SOCK_DGRAM, IPPROTO_TCP`: `Protocol not supported`), or for a
    /// constant it lacks (`-1`).
    ///
    /// # Examples
    /// ```
    /// use blade_socket::{Socket, AF_INET6, SOCK_STREAM, IPPROTO_TCP};
    /// let s = Socket::new(AF_INET6, SOCK_STREAM, IPPROTO_TCP)?;
    /// assert_eq!(s.host(), "::1");
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn new(family: Family, ty: SockType, protocol: Protocol) -> Result<Socket> {
        let sock_type = socket2::Type::from(ty.raw());
        let proto = (protocol.raw() != 0).then(|| socket2::Protocol::from(protocol.raw()));
        let sock = crate::sys::socket(socket2::Domain::from(family.raw()), sock_type, proto)?;
        let host = addr::loopback(family).to_owned();
        Ok(Socket::from_parts(
            sock,
            family,
            ty,
            protocol,
            Phase::Fresh,
            host,
            0,
        ))
    }

    /// A TCP socket over IPv4 (`AF_INET, SOCK_STREAM, IPPROTO_TCP`), Blade's `Socket()`.
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket (descriptor limit reached).
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::Socket::tcp()?;
    /// assert!(!s.is_connected() && s.is_blocking());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn tcp() -> Result<Socket> {
        Socket::new(AF_INET, SOCK_STREAM, IPPROTO_TCP)
    }

    /// A UDP socket over IPv4 (`AF_INET, SOCK_DGRAM, IPPROTO_UDP`).
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::Socket::udp()?;
    /// assert_eq!(s.socket_type(), blade_socket::SOCK_DGRAM);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn udp() -> Result<Socket> {
        Socket::new(AF_INET, SOCK_DGRAM, IPPROTO_UDP)
    }

    /// A TCP socket over IPv6 (`AF_INET6, SOCK_STREAM, IPPROTO_TCP`).
    ///
    /// Its default host is `"::1"`. Connecting it to a name that has IPv6 and
    /// IPv4 addresses races them (happy eyeballs).
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket (descriptor limit reached,
    /// or IPv6 disabled: `Address family not supported by protocol`).
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::Socket::tcp6()?;
    /// assert_eq!((s.family(), s.host().as_str()), (blade_socket::AF_INET6, "::1"));
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn tcp6() -> Result<Socket> {
        Socket::new(AF_INET6, SOCK_STREAM, IPPROTO_TCP)
    }

    /// A UDP socket over IPv6 (`AF_INET6, SOCK_DGRAM, IPPROTO_UDP`).
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket (descriptor limit reached,
    /// or IPv6 disabled).
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::Socket::udp6()?;
    /// assert_eq!(s.socket_type(), blade_socket::SOCK_DGRAM);
    /// assert_eq!(s.family(), blade_socket::AF_INET6);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn udp6() -> Result<Socket> {
        Socket::new(AF_INET6, SOCK_DGRAM, IPPROTO_UDP)
    }

    /// A Unix-domain stream socket (`AF_UNIX, SOCK_STREAM`). `bind` and
    /// `connect` take the path as `host` (`@name` for a Linux abstract
    /// name: `not supported on this platform` elsewhere) and ignore the port.
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use blade_socket::Socket;
    /// let dir = std::env::temp_dir().join(format!("blade-unix-doc-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&dir);
    /// let path = dir.to_str().expect("a UTF-8 path");
    /// let mut server = Socket::unix()?;
    /// server.bind(0, Some(path)).await?;
    /// server.listen(None)?;
    /// let mut client = Socket::unix()?;
    /// client.connect(Some(path), 0, None).await?;
    /// let conn = server.accept().await?;
    /// client.send("hi").await?;
    /// assert_eq!(conn.receive(None).await?.as_deref(), Some(&b"hi"[..]));
    /// # std::fs::remove_file(&dir).ok();
    /// # Ok(()) }
    /// ```
    pub fn unix() -> Result<Socket> {
        Socket::new(AF_UNIX, SOCK_STREAM, IPPROTO_IP)
    }

    /// A Unix-domain datagram socket (`AF_UNIX, SOCK_DGRAM`). `bind` and
    /// `send_to` take the path as `host` and ignore the port.
    ///
    /// # Errors
    /// The OS's error if it cannot create a socket.
    ///
    /// # Examples
    /// ```
    /// let s = blade_socket::Socket::unix_datagram()?;
    /// assert_eq!(s.family(), blade_socket::AF_UNIX);
    /// assert_eq!(s.socket_type(), blade_socket::SOCK_DGRAM);
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn unix_datagram() -> Result<Socket> {
        Socket::new(AF_UNIX, SOCK_DGRAM, IPPROTO_IP)
    }

    /// Adopts an open socket descriptor (Blade's `id` argument), reading its
    /// real family, type, protocol and state (listening, connected, bound).
    ///
    /// The descriptor is switched to `O_NONBLOCK`, which also affects any
    /// `dup` of it; the socket starts in the library's blocking mode.
    ///
    /// # Errors
    /// `Socket operation on non-socket` (`ENOTSOCK`) when `fd` is not a
    /// socket; the descriptor is closed, as it was owned.
    ///
    /// # Examples
    /// ```
    /// use std::os::fd::OwnedFd;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = blade_socket::Socket::from_fd(OwnedFd::from(listener))?;
    /// assert!(s.is_listening());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Result<Socket> {
        let sock = socket2::Socket::from(fd);
        let ty = SockType::from_raw(sock.r#type()?.into());
        let family = Family::from_raw(crate::sys::domain(&sock)?.into());
        let protocol = Protocol::from_raw(crate::sys::protocol(&sock)?.map_or(0, i32::from));
        crate::sys::adopt(&sock)?;
        let (phase, local) = if crate::sys::is_listener(&sock)? {
            (Phase::Listening, sock.local_addr().ok())
        } else if let Ok(peer) = sock.peer_addr() {
            (Phase::Connected, Some(peer))
        } else {
            match sock.local_addr() {
                Ok(a) if is_bound_addr(&a) => (Phase::Bound, Some(a)),
                _ => (Phase::Fresh, None),
            }
        };
        let (host, port) = local.map_or_else(
            || (addr::loopback(family).to_owned(), 0),
            |a| addr::host_port(&a),
        );
        Ok(Socket::from_parts(
            sock, family, ty, protocol, phase, host, port,
        ))
    }
}
