mod support;
use support::*;

use std::{collections::HashSet, fmt::Debug, hash::Hash, io, time::Duration};

use blade_socket::*;

fn assert_const_traits<T: Copy + Eq + Hash + Debug>() {}

#[test]
fn constant_types_have_the_traits() {
    assert_const_traits::<Family>();
    assert_const_traits::<SockType>();
    assert_const_traits::<Protocol>();
    assert_const_traits::<SocketOption>();
    assert_const_traits::<Shutdown>();
    let set: HashSet<Family> = [AF_INET, AF_INET6, AF_INET, AF_UNIX].into_iter().collect();
    assert_eq!(set.len(), 3);
    let set: HashSet<Shutdown> = [SHUT_RD, SHUT_WR, SHUT_RDWR, Shutdown::Read]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 3);
    let a = SOCK_STREAM;
    let b = a; // Copy
    assert_eq!(a, b);
}

#[test]
fn family_values_match_libc() {
    let pairs = [
        (AF_UNSPEC, libc::AF_UNSPEC),
        (AF_UNIX, libc::AF_UNIX),
        (AF_LOCAL, libc::AF_LOCAL),
        (AF_INET, libc::AF_INET),
        (AF_INET6, libc::AF_INET6),
        (AF_SNA, libc::AF_SNA),
        (AF_DECnet, libc::AF_DECnet),
        (AF_APPLETALK, libc::AF_APPLETALK),
    ];
    for (c, v) in pairs {
        assert_eq!(c.raw(), v, "{c:?}");
        assert_eq!(Family::from_raw(v), c);
    }
    #[cfg(target_os = "linux")]
    {
        assert_eq!(AF_SNA.raw(), 22);
        assert_eq!(AF_DECnet.raw(), 12);
        assert_eq!(AF_APPLETALK.raw(), 5);
    }
    assert_eq!(AF_UNIX, AF_LOCAL);
}

#[cfg(target_os = "linux")]
#[test]
fn families_linux_lacks_are_minus_one() {
    for c in [
        AF_IMPLINK, AF_PUP, AF_CHAOS, AF_NS, AF_ISO, AF_OSI, AF_ECMA, AF_DATAKIT, AF_CCITT, AF_DLI,
        AF_LAT, AF_HYLINK,
    ] {
        assert_eq!(c.raw(), -1, "{c:?}");
    }
    assert_eq!(SO_USELOOPBACK.raw(), -1);
}

#[test]
fn sock_type_values_match_libc() {
    for (c, v) in [
        (SOCK_STREAM, libc::SOCK_STREAM),
        (SOCK_DGRAM, libc::SOCK_DGRAM),
        (SOCK_RAW, libc::SOCK_RAW),
        (SOCK_RDM, libc::SOCK_RDM),
        (SOCK_SEQPACKET, libc::SOCK_SEQPACKET),
    ] {
        assert_eq!(c.raw(), v, "{c:?}");
        assert_eq!(SockType::from_raw(v), c);
    }
}

/// The BSDs have the families Linux lacks, and `SO_USELOOPBACK`, with these
/// values; of Linux's protocols they lack `IPPROTO_BEETPH`, and name
/// `IPPROTO_COMP` `IPPROTO_IPCOMP`.
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
#[test]
fn bsd_values() {
    for (c, v) in [
        (AF_IMPLINK, 3),
        (AF_PUP, 4),
        (AF_CHAOS, 5),
        (AF_ISO, 7),
        (AF_OSI, 7),
        (AF_ECMA, 8),
        (AF_DATAKIT, 9),
        (AF_CCITT, 10),
        (AF_SNA, 11),
        (AF_DECnet, 12),
        (AF_DLI, 13),
        (AF_LAT, 14),
        (AF_HYLINK, 15),
        (AF_APPLETALK, 16),
    ] {
        assert_eq!(c.raw(), v, "{c:?}");
    }
    assert_eq!(SO_USELOOPBACK.raw(), 0x40);
    assert_eq!(IPPROTO_COMP.raw(), 108);
    assert_eq!(IPPROTO_BEETPH.raw(), -1);
}

#[cfg(target_os = "linux")]
#[test]
fn protocol_values_match_libc() {
    for (c, v) in [
        (IPPROTO_IP, libc::IPPROTO_IP),
        (IPPROTO_ICMP, libc::IPPROTO_ICMP),
        (IPPROTO_IGMP, libc::IPPROTO_IGMP),
        (IPPROTO_IPIP, libc::IPPROTO_IPIP),
        (IPPROTO_TCP, libc::IPPROTO_TCP),
        (IPPROTO_EGP, libc::IPPROTO_EGP),
        (IPPROTO_PUP, libc::IPPROTO_PUP),
        (IPPROTO_UDP, libc::IPPROTO_UDP),
        (IPPROTO_IDP, libc::IPPROTO_IDP),
        (IPPROTO_TP, libc::IPPROTO_TP),
        (IPPROTO_DCCP, libc::IPPROTO_DCCP),
        (IPPROTO_IPV6, libc::IPPROTO_IPV6),
        (IPPROTO_RSVP, libc::IPPROTO_RSVP),
        (IPPROTO_GRE, libc::IPPROTO_GRE),
        (IPPROTO_ESP, libc::IPPROTO_ESP),
        (IPPROTO_AH, libc::IPPROTO_AH),
        (IPPROTO_MTP, libc::IPPROTO_MTP),
        (IPPROTO_BEETPH, libc::IPPROTO_BEETPH),
        (IPPROTO_ENCAP, libc::IPPROTO_ENCAP),
        (IPPROTO_PIM, libc::IPPROTO_PIM),
        (IPPROTO_COMP, libc::IPPROTO_COMP),
        (IPPROTO_SCTP, libc::IPPROTO_SCTP),
        (IPPROTO_UDPLITE, libc::IPPROTO_UDPLITE),
        (IPPROTO_MPLS, libc::IPPROTO_MPLS),
        (IPPROTO_RAW, libc::IPPROTO_RAW),
        (IPPROTO_MAX, libc::IPPROTO_MAX),
    ] {
        assert_eq!(c.raw(), v, "{c:?}");
        assert_eq!(Protocol::from_raw(v), c);
    }
    assert_eq!(IPPROTO_TCP.raw(), 6);
    assert_eq!(IPPROTO_UDP.raw(), 17);
}

#[test]
fn socket_option_values_match_libc() {
    for (c, v) in [
        (SO_DEBUG, libc::SO_DEBUG),
        (SO_ACCEPTCONN, libc::SO_ACCEPTCONN),
        (SO_REUSEADDR, libc::SO_REUSEADDR),
        (SO_KEEPALIVE, libc::SO_KEEPALIVE),
        (SO_DONTROUTE, libc::SO_DONTROUTE),
        (SO_BROADCAST, libc::SO_BROADCAST),
        (SO_LINGER, libc::SO_LINGER),
        (SO_OOBINLINE, libc::SO_OOBINLINE),
        (SO_REUSEPORT, libc::SO_REUSEPORT),
        (SO_TIMESTAMP, libc::SO_TIMESTAMP),
        (SO_SNDBUF, libc::SO_SNDBUF),
        (SO_RCVBUF, libc::SO_RCVBUF),
        (SO_SNDLOWAT, libc::SO_SNDLOWAT),
        (SO_RCVLOWAT, libc::SO_RCVLOWAT),
        (SO_SNDTIMEO, libc::SO_SNDTIMEO),
        (SO_RCVTIMEO, libc::SO_RCVTIMEO),
        (SO_ERROR, libc::SO_ERROR),
        (SO_TYPE, libc::SO_TYPE),
    ] {
        assert_eq!(c.raw(), v, "{c:?}");
        assert_eq!(SocketOption::from_raw(v), c);
    }
}

#[test]
fn other_constants() {
    assert_eq!(SOL_SOCKET, libc::SOL_SOCKET);
    assert_eq!(SOMAXCONN, libc::SOMAXCONN as u32);
    assert_eq!(IP_ANY, "0.0.0.0");
    assert_eq!(IP_LOCAL, "127.0.0.1");
}

#[test]
fn debug_prints_constant_names() {
    assert_eq!(format!("{:?}", AF_INET), "AF_INET");
    assert_eq!(format!("{:?}", AF_INET6), "AF_INET6");
    assert_eq!(format!("{:?}", AF_UNSPEC), "AF_UNSPEC");
    assert_eq!(format!("{:?}", AF_UNIX), "AF_UNIX");
    assert_eq!(format!("{:?}", AF_LOCAL), "AF_UNIX");
    assert_eq!(format!("{:?}", AF_SNA), "AF_SNA");
    assert_eq!(format!("{:?}", AF_DECnet), "AF_DECnet");
    assert_eq!(format!("{:?}", AF_APPLETALK), "AF_APPLETALK");
    // the Linux-less families share -1: the first listed wins
    assert_eq!(format!("{:?}", AF_IMPLINK), "AF_IMPLINK");
    #[cfg(target_os = "linux")]
    assert_eq!(format!("{:?}", AF_HYLINK), "AF_IMPLINK");
    assert_eq!(format!("{:?}", SOCK_STREAM), "SOCK_STREAM");
    assert_eq!(format!("{:?}", SOCK_SEQPACKET), "SOCK_SEQPACKET");
    assert_eq!(format!("{:?}", IPPROTO_TCP), "IPPROTO_TCP");
    assert_eq!(format!("{:?}", IPPROTO_UDP), "IPPROTO_UDP");
    assert_eq!(format!("{:?}", IPPROTO_IP), "IPPROTO_IP");
    assert_eq!(format!("{:?}", SO_KEEPALIVE), "SO_KEEPALIVE");
    assert_eq!(format!("{:?}", SO_RCVTIMEO), "SO_RCVTIMEO");
    assert_eq!(format!("{:?}", SO_USELOOPBACK), "SO_USELOOPBACK");
    assert_eq!(format!("{:?}", Family::from_raw(libc::AF_INET)), "AF_INET");
    assert_eq!(format!("{:?}", Family::from_raw(9999)), "Family(9999)");
    assert_eq!(format!("{:?}", SockType::from_raw(9999)), "SockType(9999)");
    assert_eq!(format!("{:?}", Protocol::from_raw(9999)), "Protocol(9999)");
    assert_eq!(
        format!("{:?}", SocketOption::from_raw(9999)),
        "SocketOption(9999)"
    );
    assert_eq!(format!("{:?}", Shutdown::Read), "Read");
    assert_eq!(format!("{:?}", Shutdown::Write), "Write");
    assert_eq!(format!("{:?}", Shutdown::Both), "Both");
}

#[test]
fn raw_from_raw_round_trip() {
    for v in [-1, 0, 1, 2, 10, 9999, i32::MAX, i32::MIN] {
        assert_eq!(Family::from_raw(v).raw(), v);
        assert_eq!(SockType::from_raw(v).raw(), v);
        assert_eq!(Protocol::from_raw(v).raw(), v);
        assert_eq!(SocketOption::from_raw(v).raw(), v);
    }
    // const fns
    const F: Family = Family::from_raw(libc::AF_INET);
    const R: i32 = AF_INET6.raw();
    assert_eq!(F, AF_INET);
    assert_eq!(R, libc::AF_INET6);
}

#[test]
fn shutdown_raw_from_raw_and_try_from() {
    assert_eq!(Shutdown::Read.raw(), libc::SHUT_RD);
    assert_eq!(Shutdown::Write.raw(), libc::SHUT_WR);
    assert_eq!(Shutdown::Both.raw(), libc::SHUT_RDWR);
    assert_eq!(SHUT_RD, Shutdown::Read);
    assert_eq!(SHUT_WR, Shutdown::Write);
    assert_eq!(SHUT_RDWR, Shutdown::Both);
    for s in [Shutdown::Read, Shutdown::Write, Shutdown::Both] {
        assert_eq!(Shutdown::from_raw(s.raw()), Some(s));
        assert_eq!(Shutdown::try_from(s.raw()).unwrap(), s);
    }
    for bad in [-1, 3, 4, 100, i32::MIN, i32::MAX] {
        assert_eq!(Shutdown::from_raw(bad), None, "{bad}");
        let err = Shutdown::try_from(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.message(), "expected one of SHUT_* flags");
        assert_eq!(err.to_string(), "expected one of SHUT_* flags");
    }
}

#[test]
fn error_types_have_the_traits() {
    fn std_error<T: std::error::Error + Send + Sync + 'static>() {}
    fn copy_eq_debug<T: Copy + Eq + Debug>() {}
    std_error::<SocketError>();
    std_error::<SocketException>();
    assert_send_sync::<SocketError>();
    copy_eq_debug::<ErrorKind>();
    let e: SocketException = Shutdown::try_from(9).unwrap_err();
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e.clone());
    assert_eq!(boxed.to_string(), e.message());
    assert!(!format!("{e:?}").is_empty());
    let r: blade_socket::Result<()> = Err(e);
    assert!(r.is_err());
}

fn check_message(e: &SocketError) {
    assert_eq!(e.message(), e.to_string());
    assert!(!e.message().is_empty());
    assert_eq!(e.is_timeout(), e.kind() == ErrorKind::TimedOut);
}

#[tokio::test]
async fn timeout_error_and_its_io_mapping() {
    within(async {
        let (_c, s) = tcp_pair().await;
        s.set_receive_timeout(Some(Duration::from_millis(100)));
        let e = s.receive(None).await.unwrap_err();
        check_message(&e);
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(e.is_timeout());
        assert!(e.message().contains("timed out"), "{}", e.message());
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::TimedOut);
    })
    .await;
}

#[tokio::test]
async fn would_block_error_and_its_io_mapping() {
    within(async {
        let (_c, mut s) = tcp_pair().await;
        s.set_blocking(false).unwrap();
        let e = s.receive(None).await.unwrap_err();
        check_message(&e);
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert!(!e.is_timeout());
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::WouldBlock);
    })
    .await;
}

#[test]
fn invalid_argument_maps_to_invalid_input() {
    let e = Shutdown::try_from(42).unwrap_err();
    check_message(&e);
    assert!(!e.is_timeout());
    assert_eq!(e.raw_os_error(), None);
    let io: io::Error = e.into();
    assert_eq!(io.kind(), io::ErrorKind::InvalidInput);

    let mut s = Socket::tcp().unwrap();
    let e = s.set_option(SO_TYPE, 1).unwrap_err();
    assert_eq!(e.message(), "the given option is read-only");
    let io: io::Error = e.into();
    assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn not_connected_maps_to_not_connected() {
    within(async {
        let s = Socket::tcp().unwrap();
        let e = s.send(b"x").await.unwrap_err();
        check_message(&e);
        assert_eq!(e.kind(), ErrorKind::IllegalState);
        assert_eq!(e.message(), "socket not listening or connected");
        assert_eq!(e.raw_os_error(), None);
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::NotConnected);
    })
    .await;
}

#[tokio::test]
async fn os_errors_keep_their_errno() {
    within(async {
        let e = refused_connect().await;
        check_message(&e);
        assert_eq!(e.kind(), ErrorKind::Os);
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        assert_eq!(e.message(), "Connection refused");
        assert!(!e.is_timeout());
        let io: io::Error = e.into();
        assert_eq!(io.raw_os_error(), Some(libc::ECONNREFUSED));
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    })
    .await;
}

#[tokio::test]
async fn illegal_state_error() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        s.close().unwrap();
        let e = s.send(b"x").await.unwrap_err();
        check_message(&e);
        assert_eq!(e.kind(), ErrorKind::IllegalState);
        assert!(
            e.message().starts_with("socket is in an illegal state"),
            "{}",
            e.message()
        );
        assert_eq!(e.raw_os_error(), None);
        // converts without losing the text
        let io: io::Error = e.into();
        assert!(io.to_string().contains("socket is in an illegal state"));
    })
    .await;
}

#[tokio::test]
async fn address_resolution_error() {
    within(async {
        let e = get_address_info("not a host!!", None, None)
            .await
            .unwrap_err();
        check_message(&e);
        assert_eq!(e.kind(), ErrorKind::AddressResolution);
        assert!(!e.is_timeout());
        let _io: io::Error = e.into();
    })
    .await;
}

#[test]
fn error_kinds_compare() {
    let k = ErrorKind::Os;
    let k2 = k;
    assert_eq!(k, k2);
    assert_ne!(ErrorKind::TimedOut, ErrorKind::WouldBlock);
    assert_eq!(format!("{:?}", ErrorKind::TimedOut), "TimedOut");
    assert_eq!(
        format!("{:?}", ErrorKind::AddressResolution),
        "AddressResolution"
    );
}
