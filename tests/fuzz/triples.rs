//! Sockets from random family/type/protocol triples and the local calls made on them.

use super::*;

#[derive(Clone, Debug)]
pub(crate) enum LocalOp {
    SetOption(SocketOption, Value),
    GetOption(SocketOption),
    SetBlocking(bool),
    SetTimeouts(Option<Duration>, Option<Duration>),
    Shutdown(i32),
    Listen(Option<u32>),
    Info,
    PeerInfo,
    Nodelay(bool),
    Close,
    CloseShared,
    SwitchFace,
}

pub(crate) fn local_op() -> impl Strategy<Value = LocalOp> {
    prop_oneof![
        (option(), value()).prop_map(|(o, v)| LocalOp::SetOption(o, v)),
        option().prop_map(LocalOp::GetOption),
        any::<bool>().prop_map(LocalOp::SetBlocking),
        (timeout(), timeout()).prop_map(|(a, b)| LocalOp::SetTimeouts(a, b)),
        (-1i32..4).prop_map(LocalOp::Shutdown),
        proptest::option::of(any::<u32>()).prop_map(LocalOp::Listen),
        Just(LocalOp::Info),
        Just(LocalOp::PeerInfo),
        any::<bool>().prop_map(LocalOp::Nodelay),
        Just(LocalOp::Close),
        Just(LocalOp::CloseShared),
        Just(LocalOp::SwitchFace),
    ]
}

/// Families: the common ones, some Linux lacks, and numbers no OS has (no
/// packet or other sockets that could reach a network: none is ever sent on).
pub(crate) fn any_family() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => Just(AF_INET.raw()),
        4 => Just(AF_INET6.raw()),
        4 => Just(AF_UNIX.raw()),
        1 => Just(AF_UNSPEC.raw()),
        1 => Just(blade_socket::AF_APPLETALK.raw()),
        1 => Just(blade_socket::AF_DECnet.raw()),
        1 => Just(blade_socket::AF_SNA.raw()),
        1 => Just(-1),
        1 => 64i32..i32::MAX,
        1 => i32::MIN..0,
    ]
}

pub(crate) fn any_type() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => Just(SOCK_STREAM.raw()),
        4 => Just(SOCK_DGRAM.raw()),
        2 => Just(blade_socket::SOCK_RAW.raw()),
        1 => Just(blade_socket::SOCK_RDM.raw()),
        2 => Just(blade_socket::SOCK_SEQPACKET.raw()),
        1 => Just(0),
        1 => Just(-1),
        1 => any::<i32>(),
    ]
}

pub(crate) fn any_protocol() -> impl Strategy<Value = i32> {
    prop_oneof![
        6 => Just(0),
        2 => Just(IPPROTO_TCP.raw()),
        2 => Just(IPPROTO_UDP.raw()),
        1 => Just(blade_socket::IPPROTO_ICMP.raw()),
        1 => Just(blade_socket::IPPROTO_SCTP.raw()),
        1 => Just(blade_socket::IPPROTO_RAW.raw()),
        1 => Just(-1),
        1 => any::<i32>(),
    ]
}

macro_rules! local_ops {
    ($name:ident, $ty:ty, $other:ty) => {
        pub(crate) fn $name(mut s: $ty, ops: &[LocalOp]) {
            let mut closed = false;
            for op in ops {
                let r: Result<(), SocketError> = match op.clone() {
                    LocalOp::SetOption(o, v) => s.set_option(o, OptionValue::from(v)),
                    LocalOp::GetOption(o) => s.get_option(o).map(drop),
                    LocalOp::SetBlocking(b) => s.set_blocking(b),
                    LocalOp::SetTimeouts(a, b) => {
                        s.set_send_timeout(a);
                        s.set_receive_timeout(b);
                        assert_eq!(s.send_timeout(), normalize(a));
                        assert_eq!(s.receive_timeout(), normalize(b));
                        Ok(())
                    }
                    LocalOp::Shutdown(raw) => match Shutdown::from_raw(raw) {
                        Some(how) => s.shutdown(how),
                        None => Ok(()),
                    },
                    LocalOp::Listen(q) => {
                        let r = s.listen(q);
                        if !closed {
                            assert_state_error(
                                &r,
                                "socket is in an illegal state (not bound)",
                                "listen unbound",
                            );
                        }
                        r
                    }
                    LocalOp::Info => s.info().map(drop),
                    LocalOp::PeerInfo => s.peer_info().map(drop),
                    LocalOp::Nodelay(b) => s.set_nodelay(b).and_then(|()| s.nodelay().map(drop)),
                    LocalOp::Close => {
                        closed = true;
                        s.close()
                    }
                    LocalOp::CloseShared => {
                        closed = true;
                        s.close_shared()
                    }
                    LocalOp::SwitchFace => {
                        let other: $other = s.into();
                        s = other.into();
                        Ok(())
                    }
                };
                let _ = format!("{s:?}");
                assert!(!(s.is_connected() && s.is_listening()));
                assert!(!s.is_connected() && !s.is_listening() && !s.is_client() && !s.is_bound());
                assert_eq!(s.is_closed(), closed);
                assert_eq!(s.id() == -1, closed);
                let no_call = match op {
                    LocalOp::Shutdown(raw) => Shutdown::from_raw(*raw).is_none(),
                    LocalOp::Close
                    | LocalOp::CloseShared
                    | LocalOp::SetTimeouts(..)
                    | LocalOp::SwitchFace => true,
                    _ => false,
                };
                if closed && !no_call {
                    assert_illegal(&r, &format!("{op:?}"));
                }
            }
        }
    };
}

local_ops!(local_ops_async, Socket, blocking::Socket);
local_ops!(local_ops_blocking, blocking::Socket, Socket);
