//! The fuzzed calls (`Op`) and the strategies that draw them and their arguments.

use super::*;

#[derive(Clone, Copy, Debug)]
pub(crate) enum PortArg {
    Listen,
    Refused,
    Backlog,
    Udp,
    Zero,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Value {
    Bool(bool),
    Int(i64),
    Dur(Option<Duration>),
}

impl From<Value> for OptionValue {
    fn from(v: Value) -> OptionValue {
        match v {
            Value::Bool(b) => OptionValue::Bool(b),
            Value::Int(i) => OptionValue::Int(i),
            Value::Dur(d) => OptionValue::Duration(d),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Connect(&'static str, PortArg, Option<Duration>),
    Bind(PortArg, Option<&'static str>),
    Listen(Option<u32>),
    Accept,
    Send(usize),
    SendTo(&'static str, PortArg, usize),
    Receive(Option<usize>),
    ReceiveFrom(Option<usize>),
    Shutdown(i32),
    Close,
    CloseShared,
    SetOption(SocketOption, Value),
    GetOption(SocketOption),
    SetBlocking(bool),
    SetSendTimeout(Option<Duration>),
    SetReceiveTimeout(Option<Duration>),
    SetNodelay(bool),
    Nodelay,
    Info,
    PeerInfo,
    GetAddressInfo(&'static str, Option<&'static str>, Option<Family>),
    SwitchFace,
    /// A receive (async: cut off after the given microseconds).
    ReceiveCut(Option<usize>, u64),
    /// An accept (async: cut off after the given microseconds).
    AcceptCut(u64),
    /// `close_shared` from another task/thread while a call is pending:
    /// 0 receive, 1 accept, 2 send; after the given microseconds.
    CloseDuring(u8, u64),
    PeerSend(usize),
    PeerShutWrite,
    PeerReset,
    PeerDrain,
    PeerConnect,
    PartnerDatagram(usize),
}

pub(crate) fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Connect(..) => "connect",
        Op::Bind(..) => "bind",
        Op::Listen(..) => "listen",
        Op::Accept => "accept",
        Op::Send(..) => "send",
        Op::SendTo(..) => "send_to",
        Op::Receive(..) => "receive",
        Op::ReceiveFrom(..) => "receive_from",
        Op::Shutdown(..) => "shutdown",
        Op::Close => "close",
        Op::CloseShared => "close_shared",
        Op::SetOption(..) => "set_option",
        Op::GetOption(..) => "get_option",
        Op::SetBlocking(..) => "set_blocking",
        Op::SetSendTimeout(..) => "set_send_timeout",
        Op::SetReceiveTimeout(..) => "set_receive_timeout",
        Op::SetNodelay(..) => "set_nodelay",
        Op::Nodelay => "nodelay",
        Op::Info => "info",
        Op::PeerInfo => "peer_info",
        Op::GetAddressInfo(..) => "get_address_info",
        Op::SwitchFace => "switch_face",
        Op::ReceiveCut(..) => "receive_cut",
        Op::AcceptCut(..) => "accept_cut",
        Op::CloseDuring(..) => "close_during",
        Op::PeerSend(..) => "peer_send",
        Op::PeerShutWrite => "peer_shut_write",
        Op::PeerReset => "peer_reset",
        Op::PeerDrain => "peer_drain",
        Op::PeerConnect => "peer_connect",
        Op::PartnerDatagram(..) => "partner_datagram",
    }
}

pub(crate) fn host() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(HOSTS)
}

pub(crate) fn port_arg() -> impl Strategy<Value = PortArg> {
    prop_oneof![
        6 => Just(PortArg::Listen),
        2 => Just(PortArg::Refused),
        1 => Just(PortArg::Backlog),
        2 => Just(PortArg::Udp),
        1 => Just(PortArg::Zero),
    ]
}

pub(crate) fn timeout() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(Duration::ZERO)),
        3 => Just(Some(Duration::from_millis(1))),
        1 => Just(Some(Duration::from_millis(3))),
        1 => Just(Some(Duration::from_secs(30))),
        1 => Just(Some(Duration::MAX)),
    ]
}

pub(crate) fn send_len() -> impl Strategy<Value = usize> {
    prop_oneof![2 => Just(0usize), 3 => 1usize..64, 3 => 1usize..48 * 1024]
}

pub(crate) fn recv_len() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(0usize)),
        4 => (1usize..70_000).prop_map(Some),
        1 => Just(Some(usize::MAX)),
    ]
}

pub(crate) const OPTIONS: &[SocketOption] = &[
    blade_socket::SO_DEBUG,
    blade_socket::SO_ACCEPTCONN,
    blade_socket::SO_REUSEADDR,
    blade_socket::SO_KEEPALIVE,
    blade_socket::SO_DONTROUTE,
    blade_socket::SO_BROADCAST,
    blade_socket::SO_USELOOPBACK,
    blade_socket::SO_LINGER,
    blade_socket::SO_OOBINLINE,
    blade_socket::SO_REUSEPORT,
    blade_socket::SO_TIMESTAMP,
    blade_socket::SO_SNDBUF,
    blade_socket::SO_RCVBUF,
    blade_socket::SO_SNDLOWAT,
    blade_socket::SO_RCVLOWAT,
    blade_socket::SO_SNDTIMEO,
    blade_socket::SO_RCVTIMEO,
    blade_socket::SO_ERROR,
    blade_socket::SO_TYPE,
];

pub(crate) fn option() -> impl Strategy<Value = SocketOption> {
    prop_oneof![
        8 => proptest::sample::select(OPTIONS),
        1 => any::<i32>().prop_map(SocketOption::from_raw),
    ]
}

pub(crate) fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-1),
            Just(2),
            Just(16),
            Just(4096),
            Just(65536),
            Just(i64::from(i32::MAX)),
            Just(i64::MAX),
            Just(i64::MIN),
        ]
        .prop_map(Value::Int),
        prop_oneof![
            Just(None),
            Just(Some(Duration::ZERO)),
            Just(Some(Duration::from_millis(1))),
            Just(Some(Duration::from_millis(500))),
            Just(Some(Duration::from_secs(1))),
            Just(Some(Duration::MAX)),
        ]
        .prop_map(Value::Dur),
    ]
}

pub(crate) fn family() -> impl Strategy<Value = Option<Family>> {
    prop_oneof![
        Just(None),
        Just(Some(AF_INET)),
        Just(Some(AF_INET6)),
        Just(Some(AF_UNSPEC)),
        Just(Some(AF_UNIX)),
        Just(Some(Family::from_raw(-1))),
    ]
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (host(), port_arg(), timeout()).prop_map(|(h, p, t)| Op::Connect(h, p, t)),
        2 => (port_arg(), proptest::option::of(host())).prop_map(|(p, h)| Op::Bind(p, h)),
        2 => proptest::option::of(prop_oneof![
            Just(0u32), 1u32..8, Just(SOMAXCONN), Just(SOMAXCONN + 1), Just(u32::MAX)
        ]).prop_map(Op::Listen),
        3 => Just(Op::Accept),
        5 => send_len().prop_map(Op::Send),
        2 => (host(), port_arg(), send_len()).prop_map(|(h, p, n)| Op::SendTo(h, p, n)),
        5 => recv_len().prop_map(Op::Receive),
        2 => recv_len().prop_map(Op::ReceiveFrom),
        2 => (-1i32..4).prop_map(Op::Shutdown),
        1 => Just(Op::Close),
        1 => Just(Op::CloseShared),
        3 => (option(), value()).prop_map(|(o, v)| Op::SetOption(o, v)),
        2 => option().prop_map(Op::GetOption),
        2 => any::<bool>().prop_map(Op::SetBlocking),
        2 => timeout().prop_map(Op::SetSendTimeout),
        3 => timeout().prop_map(Op::SetReceiveTimeout),
        1 => any::<bool>().prop_map(Op::SetNodelay),
        1 => Just(Op::Nodelay),
        1 => Just(Op::Info),
        1 => Just(Op::PeerInfo),
        1 => (
            gai_host(),
            proptest::option::of(proptest::sample::select(&["http", "8080", "0", "99999", "no-such-service", ""][..])),
            family()
        ).prop_map(|(h, s, f)| Op::GetAddressInfo(h, s, f)),
        1 => Just(Op::SwitchFace),
        2 => (recv_len(), 0u64..400).prop_map(|(n, us)| Op::ReceiveCut(n, us)),
        1 => (0u64..400).prop_map(Op::AcceptCut),
        1 => (0u8..3, 0u64..2000).prop_map(|(w, us)| Op::CloseDuring(w, us)),
        3 => (1usize..65_536).prop_map(Op::PeerSend),
        1 => Just(Op::PeerShutWrite),
        1 => Just(Op::PeerReset),
        1 => Just(Op::PeerDrain),
        1 => Just(Op::PeerConnect),
        2 => (0usize..2048).prop_map(Op::PartnerDatagram),
    ]
}

/// One case: a socket kind (TCP/UDP over IPv4/IPv6), a random start that
/// reaches the deeper states more often than pure chance would (nothing; a
/// connect to the listener; a bind; a bind and a listen), then 1 to 24
/// random calls.
pub(crate) fn case() -> impl Strategy<Value = (u8, Vec<Op>)> {
    (0u8..4, 0u8..4, proptest::collection::vec(op(), 1..24)).prop_map(|(kind, start, ops)| {
        let local = if kind % 2 == 1 { "::1" } else { "localhost" };
        let mut all = match start {
            0 => vec![],
            1 => vec![Op::Connect(local, PortArg::Listen, None)],
            2 => vec![Op::Bind(PortArg::Zero, None)],
            _ => vec![Op::Bind(PortArg::Zero, None), Op::Listen(None)],
        };
        all.extend(ops);
        (kind, all)
    })
}
