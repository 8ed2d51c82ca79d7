//! Blade's constants as typed newtypes whose values come from the OS (`libc`).
//!
//! A constant the OS lacks has the value `-1`, as in Blade. `Debug` prints the
//! constant's name; where two names share a value it prints the first one listed.

use std::fmt;

/// Declares an `i32` newtype, its constants, and a `Debug` that prints the name.
macro_rules! newtype_consts {
    (
        $(#[$meta:meta])*
        $ty:ident;
        $( $(#[$cmeta:meta])* $name:ident = $value:expr; )*
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(i32);

        impl $ty {
            /// The raw OS value.
            pub const fn raw(self) -> i32 {
                self.0
            }

            /// Wraps a raw OS value. Any value is accepted; one the OS does not
            /// know is reported by the call that uses it.
            pub const fn from_raw(raw: i32) -> Self {
                Self(raw)
            }

            /// The constant's name, or `None` for a value with no name.
            pub fn name(self) -> Option<&'static str> {
                const NAMES: &[(&str, i32)] = &[$((stringify!($name), $value)),*];
                NAMES.iter().find(|(_, v)| *v == self.0).map(|(n, _)| *n)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, concat!(stringify!($ty), "({})"), self.0),
                }
            }
        }

        impl From<$ty> for i32 {
            fn from(value: $ty) -> i32 {
                value.0
            }
        }

        impl From<i32> for $ty {
            fn from(raw: i32) -> Self {
                Self(raw)
            }
        }

        $(
            $(#[$cmeta])*
            #[allow(non_upper_case_globals)]
            pub const $name: $ty = $ty($value);
        )*
    };
}

newtype_consts! {
    /// An address family (`AF_*`), the first argument of `socket(2)`.
    Family;
    /// Unspecified family: any family (`AF_UNSPEC`).
    AF_UNSPEC = libc::AF_UNSPEC;
    /// Local (Unix-domain) sockets (`AF_UNIX`).
    AF_UNIX = libc::AF_UNIX;
    /// Same as [`AF_UNIX`] (`AF_LOCAL`).
    AF_LOCAL = libc::AF_LOCAL;
    /// IPv4 (`AF_INET`).
    AF_INET = libc::AF_INET;
    /// IPv6 (`AF_INET6`).
    AF_INET6 = libc::AF_INET6;
    /// ARPANET IMP addresses (`AF_IMPLINK`); `-1` on Linux.
    AF_IMPLINK = os::AF_IMPLINK;
    /// PUP protocols (`AF_PUP`); `-1` on Linux.
    AF_PUP = os::AF_PUP;
    /// MIT CHAOS protocols (`AF_CHAOS`); `-1` on Linux.
    AF_CHAOS = os::AF_CHAOS;
    /// Xerox NS protocols (`AF_NS`); `-1` on Linux and FreeBSD.
    AF_NS = os::AF_NS;
    /// ISO protocols (`AF_ISO`); `-1` on Linux.
    AF_ISO = os::AF_ISO;
    /// OSI protocols (`AF_OSI`); `-1` on Linux.
    AF_OSI = os::AF_OSI;
    /// European Computer Manufacturers (`AF_ECMA`); `-1` on Linux.
    AF_ECMA = os::AF_ECMA;
    /// Datakit protocols (`AF_DATAKIT`); `-1` on Linux.
    AF_DATAKIT = os::AF_DATAKIT;
    /// CCITT protocols (`AF_CCITT`); `-1` on Linux.
    AF_CCITT = os::AF_CCITT;
    /// IBM SNA (`AF_SNA`).
    AF_SNA = libc::AF_SNA;
    /// DECnet (`AF_DECnet`).
    AF_DECnet = libc::AF_DECnet;
    /// DEC direct data link interface (`AF_DLI`); `-1` on Linux.
    AF_DLI = os::AF_DLI;
    /// LAT (`AF_LAT`); `-1` on Linux.
    AF_LAT = os::AF_LAT;
    /// NSC Hyperchannel (`AF_HYLINK`); `-1` on Linux.
    AF_HYLINK = os::AF_HYLINK;
    /// AppleTalk (`AF_APPLETALK`).
    AF_APPLETALK = libc::AF_APPLETALK;
}

newtype_consts! {
    /// A socket type (`SOCK_*`), the second argument of `socket(2)`.
    SockType;
    /// Reliable byte stream, e.g. TCP (`SOCK_STREAM`).
    SOCK_STREAM = libc::SOCK_STREAM;
    /// Datagrams, e.g. UDP (`SOCK_DGRAM`).
    SOCK_DGRAM = libc::SOCK_DGRAM;
    /// Raw network protocol access (`SOCK_RAW`).
    SOCK_RAW = libc::SOCK_RAW;
    /// Reliably delivered messages (`SOCK_RDM`).
    SOCK_RDM = libc::SOCK_RDM;
    /// Sequenced, reliable, connection-based datagrams (`SOCK_SEQPACKET`).
    SOCK_SEQPACKET = libc::SOCK_SEQPACKET;
}

newtype_consts! {
    /// A protocol (`IPPROTO_*`), the third argument of `socket(2)`.
    Protocol;
    /// The family's default protocol (`IPPROTO_IP`, 0).
    IPPROTO_IP = libc::IPPROTO_IP;
    /// ICMP (`IPPROTO_ICMP`).
    IPPROTO_ICMP = libc::IPPROTO_ICMP;
    /// IGMP (`IPPROTO_IGMP`).
    IPPROTO_IGMP = libc::IPPROTO_IGMP;
    /// IP-in-IP tunnels (`IPPROTO_IPIP`).
    IPPROTO_IPIP = libc::IPPROTO_IPIP;
    /// TCP (`IPPROTO_TCP`).
    IPPROTO_TCP = libc::IPPROTO_TCP;
    /// Exterior gateway protocol (`IPPROTO_EGP`).
    IPPROTO_EGP = libc::IPPROTO_EGP;
    /// PUP (`IPPROTO_PUP`).
    IPPROTO_PUP = libc::IPPROTO_PUP;
    /// UDP (`IPPROTO_UDP`).
    IPPROTO_UDP = libc::IPPROTO_UDP;
    /// XNS IDP (`IPPROTO_IDP`).
    IPPROTO_IDP = libc::IPPROTO_IDP;
    /// SO transport protocol class 4 (`IPPROTO_TP`).
    IPPROTO_TP = libc::IPPROTO_TP;
    /// Datagram congestion control protocol (`IPPROTO_DCCP`); `-1` on macOS.
    IPPROTO_DCCP = os::IPPROTO_DCCP;
    /// IPv6 header (`IPPROTO_IPV6`).
    IPPROTO_IPV6 = libc::IPPROTO_IPV6;
    /// Reservation protocol (`IPPROTO_RSVP`).
    IPPROTO_RSVP = libc::IPPROTO_RSVP;
    /// General routing encapsulation (`IPPROTO_GRE`).
    IPPROTO_GRE = libc::IPPROTO_GRE;
    /// Encapsulating security payload (`IPPROTO_ESP`).
    IPPROTO_ESP = libc::IPPROTO_ESP;
    /// Authentication header (`IPPROTO_AH`).
    IPPROTO_AH = libc::IPPROTO_AH;
    /// Multicast transport protocol (`IPPROTO_MTP`).
    IPPROTO_MTP = libc::IPPROTO_MTP;
    /// IP option pseudo header for BEET (`IPPROTO_BEETPH`); `-1` on macOS and FreeBSD.
    IPPROTO_BEETPH = os::IPPROTO_BEETPH;
    /// Encapsulation header (`IPPROTO_ENCAP`).
    IPPROTO_ENCAP = libc::IPPROTO_ENCAP;
    /// Protocol independent multicast (`IPPROTO_PIM`).
    IPPROTO_PIM = libc::IPPROTO_PIM;
    /// Compression header protocol (`IPPROTO_COMP`; the BSDs' `IPPROTO_IPCOMP`).
    IPPROTO_COMP = os::IPPROTO_COMP;
    /// Stream control transmission protocol (`IPPROTO_SCTP`).
    IPPROTO_SCTP = libc::IPPROTO_SCTP;
    /// UDP-Lite (`IPPROTO_UDPLITE`); `-1` on macOS.
    IPPROTO_UDPLITE = os::IPPROTO_UDPLITE;
    /// MPLS in IP (`IPPROTO_MPLS`); `-1` on macOS.
    IPPROTO_MPLS = os::IPPROTO_MPLS;
    /// Raw IP packets (`IPPROTO_RAW`).
    IPPROTO_RAW = libc::IPPROTO_RAW;
    /// One past the largest protocol number (`IPPROTO_MAX`).
    IPPROTO_MAX = libc::IPPROTO_MAX;
}

newtype_consts! {
    /// A socket-level option (`SO_*`, level [`SOL_SOCKET`]), for
    /// [`Socket::set_option`](crate::Socket::set_option) and
    /// [`Socket::get_option`](crate::Socket::get_option).
    SocketOption;
    /// Record debugging information (`SO_DEBUG`); a flag.
    SO_DEBUG = libc::SO_DEBUG;
    /// Whether the socket is listening (`SO_ACCEPTCONN`); a read-only flag.
    SO_ACCEPTCONN = libc::SO_ACCEPTCONN;
    /// Allow reuse of local addresses (`SO_REUSEADDR`); a flag.
    SO_REUSEADDR = libc::SO_REUSEADDR;
    /// Send keep-alive probes (`SO_KEEPALIVE`); a flag.
    SO_KEEPALIVE = libc::SO_KEEPALIVE;
    /// Bypass routing, send to directly connected hosts (`SO_DONTROUTE`); a flag.
    SO_DONTROUTE = libc::SO_DONTROUTE;
    /// Permit sending broadcast datagrams (`SO_BROADCAST`); a flag.
    SO_BROADCAST = libc::SO_BROADCAST;
    /// Bypass hardware when possible (`SO_USELOOPBACK`); `-1` on Linux.
    SO_USELOOPBACK = os::SO_USELOOPBACK;
    /// Linger on close if data is present (`SO_LINGER`); a duration in whole seconds.
    SO_LINGER = libc::SO_LINGER;
    /// Leave received out-of-band data inline (`SO_OOBINLINE`); a flag.
    SO_OOBINLINE = libc::SO_OOBINLINE;
    /// Allow several sockets to bind one port (`SO_REUSEPORT`); a flag.
    SO_REUSEPORT = libc::SO_REUSEPORT;
    /// Timestamp received datagrams (`SO_TIMESTAMP`); a flag.
    SO_TIMESTAMP = libc::SO_TIMESTAMP;
    /// Send buffer size in bytes (`SO_SNDBUF`); an integer.
    SO_SNDBUF = libc::SO_SNDBUF;
    /// Receive buffer size in bytes (`SO_RCVBUF`); an integer.
    SO_RCVBUF = libc::SO_RCVBUF;
    /// Send low-water mark (`SO_SNDLOWAT`); an integer.
    SO_SNDLOWAT = libc::SO_SNDLOWAT;
    /// Receive low-water mark (`SO_RCVLOWAT`); an integer.
    SO_RCVLOWAT = libc::SO_RCVLOWAT;
    /// Send timeout (`SO_SNDTIMEO`); kept by the library as a deadline.
    SO_SNDTIMEO = libc::SO_SNDTIMEO;
    /// Receive timeout (`SO_RCVTIMEO`); kept by the library as a deadline.
    SO_RCVTIMEO = libc::SO_RCVTIMEO;
    /// Pending socket error, cleared when read (`SO_ERROR`); read-only.
    SO_ERROR = libc::SO_ERROR;
    /// The socket type (`SO_TYPE`); read-only.
    SO_TYPE = libc::SO_TYPE;
}

/// The option level of the `SO_*` options (`SOL_SOCKET`).
pub const SOL_SOCKET: i32 = libc::SOL_SOCKET;

/// The largest `listen` backlog, and its default (`SOMAXCONN`).
#[allow(clippy::cast_sign_loss)]
pub const SOMAXCONN: u32 = libc::SOMAXCONN as u32;

/// The wildcard IPv4 address, "any address" (`INADDR_ANY`).
pub const IP_ANY: &str = "0.0.0.0";

/// The IPv4 loopback address, "localhost" (`INADDR_LOOPBACK`).
pub const IP_LOCAL: &str = "127.0.0.1";

/// A direction of a connection to shut down, for
/// [`Socket::shutdown`](crate::Socket::shutdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Further receives are disallowed (`SHUT_RD`).
    Read,
    /// Further sends are disallowed; the peer sees end of file (`SHUT_WR`).
    Write,
    /// Both directions (`SHUT_RDWR`).
    Both,
}

impl Shutdown {
    /// The raw `SHUT_*` value.
    pub const fn raw(self) -> i32 {
        match self {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        }
    }

    /// The direction for a raw `SHUT_*` value, or `None` for any other value.
    pub const fn from_raw(raw: i32) -> Option<Shutdown> {
        match raw {
            libc::SHUT_RD => Some(Shutdown::Read),
            libc::SHUT_WR => Some(Shutdown::Write),
            libc::SHUT_RDWR => Some(Shutdown::Both),
            _ => None,
        }
    }
}

/// Further receives are disallowed (`SHUT_RD`).
pub const SHUT_RD: Shutdown = Shutdown::Read;
/// Further sends are disallowed (`SHUT_WR`).
pub const SHUT_WR: Shutdown = Shutdown::Write;
/// Both directions are shut (`SHUT_RDWR`).
pub const SHUT_RDWR: Shutdown = Shutdown::Both;

impl TryFrom<i32> for Shutdown {
    type Error = crate::error::SocketError;

    /// Fails with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// `expected one of SHUT_* flags` for any value but the three `SHUT_*`.
    fn try_from(raw: i32) -> Result<Self, Self::Error> {
        Shutdown::from_raw(raw)
            .ok_or_else(|| crate::error::SocketError::from(crate::error::BAD_SHUTDOWN))
    }
}

/// The values that differ between the supported systems: each OS's own,
/// `-1` where it lacks the constant.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod os {
    pub(super) const AF_IMPLINK: i32 = -1;
    pub(super) const AF_PUP: i32 = -1;
    pub(super) const AF_CHAOS: i32 = -1;
    pub(super) const AF_NS: i32 = -1;
    pub(super) const AF_ISO: i32 = -1;
    pub(super) const AF_OSI: i32 = -1;
    pub(super) const AF_ECMA: i32 = -1;
    pub(super) const AF_DATAKIT: i32 = -1;
    pub(super) const AF_CCITT: i32 = -1;
    pub(super) const AF_DLI: i32 = -1;
    pub(super) const AF_LAT: i32 = -1;
    pub(super) const AF_HYLINK: i32 = -1;
    pub(super) const SO_USELOOPBACK: i32 = -1;
    pub(super) const IPPROTO_DCCP: i32 = libc::IPPROTO_DCCP;
    pub(super) const IPPROTO_BEETPH: i32 = libc::IPPROTO_BEETPH;
    pub(super) const IPPROTO_COMP: i32 = libc::IPPROTO_COMP;
    pub(super) const IPPROTO_UDPLITE: i32 = libc::IPPROTO_UDPLITE;
    pub(super) const IPPROTO_MPLS: i32 = libc::IPPROTO_MPLS;
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
mod os {
    pub(super) const AF_IMPLINK: i32 = libc::AF_IMPLINK;
    pub(super) const AF_PUP: i32 = libc::AF_PUP;
    pub(super) const AF_CHAOS: i32 = libc::AF_CHAOS;
    #[cfg(target_os = "freebsd")]
    pub(super) const AF_NS: i32 = -1;
    #[cfg(not(target_os = "freebsd"))]
    pub(super) const AF_NS: i32 = libc::AF_NS;
    pub(super) const AF_ISO: i32 = libc::AF_ISO;
    pub(super) const AF_OSI: i32 = libc::AF_OSI;
    pub(super) const AF_ECMA: i32 = libc::AF_ECMA;
    pub(super) const AF_DATAKIT: i32 = libc::AF_DATAKIT;
    pub(super) const AF_CCITT: i32 = libc::AF_CCITT;
    pub(super) const AF_DLI: i32 = libc::AF_DLI;
    pub(super) const AF_LAT: i32 = libc::AF_LAT;
    pub(super) const AF_HYLINK: i32 = libc::AF_HYLINK;
    pub(super) const SO_USELOOPBACK: i32 = libc::SO_USELOOPBACK;
    pub(super) const IPPROTO_BEETPH: i32 = -1;
    pub(super) const IPPROTO_COMP: i32 = libc::IPPROTO_IPCOMP;
    #[cfg(target_os = "freebsd")]
    pub(super) use libc::{IPPROTO_DCCP, IPPROTO_MPLS, IPPROTO_UDPLITE};
    #[cfg(not(target_os = "freebsd"))]
    pub(super) const IPPROTO_DCCP: i32 = -1;
    #[cfg(not(target_os = "freebsd"))]
    pub(super) const IPPROTO_UDPLITE: i32 = -1;
    #[cfg(not(target_os = "freebsd"))]
    pub(super) const IPPROTO_MPLS: i32 = -1;
}
