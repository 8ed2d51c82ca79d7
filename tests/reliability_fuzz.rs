//! Reliability 6: bad input, fuzzed.
//!
//! proptest drives random sequences of API calls with random arguments
//! (hosts, ports, lengths, options and values, modes, timeouts, shutdown
//! directions, closes at random points, conversions between the faces),
//! interleaved with random acts of the peer (sending, half-closing,
//! resetting, connecting, sending datagrams), on TCP and UDP sockets over
//! IPv4 and IPv6, through the async API and through the blocking facade.
//! A model of the socket's state predicts what each call may return, and
//! after every call the harness checks:
//! - no panic, no hang (async calls run under a timeout; a watchdog thread
//!   aborts the process, naming the call, if any call outlives [`HANG`]);
//! - the getters agree with the model; `is_connected` and `is_listening`
//!   are never both true; `id()` is `-1` exactly when closed;
//! - once closed, every operation returns `socket is in an illegal state`;
//! - every byte received is the next byte the peer sent (TCP), and the peer
//!   receives exactly the bytes our sends reported;
//! - after a timeout the socket is open, in the same state, and usable (the
//!   harness proves it with one more exchange).
//!
//! Calls that could legitimately wait forever (an unbounded `receive` with
//! nothing coming, say) are made bounded first, the way a real partner
//! would: the peer sends something, or connects. Where that is impossible,
//! the async face runs the call under a short cut-off (cancellation is part
//! of the API), and the blocking face skips it (counted and printed).
//!
//! Names: hosts are drawn only from IP literals, `localhost` variants and
//! strings that the crate rejects as invalid host names before any lookup
//! ([`assert_never_resolved`] re-checks that rule for every host listed), so
//! no case can reach DNS. All traffic is to loopback ports this test owns.
//!
//! A second property builds sockets from random family/type/protocol
//! triples (including invalid ones) and makes the local calls on them.
//!
//! Cases: 10,000 per face (and 2,000 random triples) in the default run
//! (about 25 s on 2 cores, the faces in parallel); 1,000,000 per face (and
//! 200,000 triples) with `BLADE_SOCKET_HEAVY=1` (about 40 minutes);
//! `BLADE_SOCKET_FUZZ_CASES=N` sets the per-face count (triples: N / 5).
//! Each run draws new cases; a failure prints the shrunk sequence of calls.
#[path = "support/reliability.rs"]
mod reliability;
use reliability::*;

use std::{
    collections::{HashMap, VecDeque},
    io::{Read, Write},
    net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    sync::{Mutex, OnceLock},
    thread::ThreadId,
    time::{Duration, Instant},
};

use blade_socket::{
    AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, ErrorKind, Family, IPPROTO_TCP, IPPROTO_UDP,
    OptionValue, Protocol, SOCK_DGRAM, SOCK_STREAM, SOMAXCONN, Shutdown, SockType, Socket,
    SocketError, SocketOption, blocking,
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};

/// Any call taking longer than this is a hang.
const HANG: Duration = Duration::from_secs(10);
/// A call the model says may wait forever runs under this cut-off (async).
const CUT_OFF: Duration = Duration::from_millis(3);
/// The most our sends may put in flight to a peer that does not read.
const MAX_IN_FLIGHT: u64 = 1 << 20;

fn cases_per_face() -> u32 {
    if let Some(n) = std::env::var("BLADE_SOCKET_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return n;
    }
    pick(10_000, 1_000_000)
}

// =============================================================== hosts

/// Host arguments: literals, `localhost` variants, and invalid names.
const HOSTS: &[&str] = &[
    "127.0.0.1",
    "::1",
    "[::1]",
    "0.0.0.0",
    "::",
    "::ffff:127.0.0.1",
    "localhost",
    "LOCALHOST.",
    "app.localhost",
    "",
    "*",
    "a b",
    "a..b",
    "!!",
    "a/b",
    "\0",
    "bad host",
    "x:y:z",
    "ex@mple",
    "%",
    "127.0.0.1 ",
    "[127.0.0.1",
    "[bad]",
    "\u{e9}t\u{e9}",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// Panics unless `h` is an IP literal (bracketed or not), a `localhost`
/// name, or text the crate's host-name check rejects (a character outside
/// letters, digits, `-`, `_`, `.`; an empty label; a label over 63 bytes; a
/// name over 253 bytes). Such text never reaches `getaddrinfo`; `""` and
/// `"*"` are wildcards for `bind` and invalid elsewhere.
fn assert_never_resolved(h: &str) {
    let literal = h
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .unwrap_or(h);
    if literal.parse::<IpAddr>().is_ok() {
        return;
    }
    let lower = h.trim_end_matches('.').to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return;
    }
    let bad_char = h
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
    let labels: Vec<&str> = h.split('.').collect();
    let empty_inner = labels
        .iter()
        .enumerate()
        .any(|(i, l)| l.is_empty() && !(i > 0 && i == labels.len() - 1));
    let long = h.len() > 253 || labels.iter().any(|l| l.len() > 63);
    assert!(
        h.is_empty() || bad_char || long || (empty_inner && !h.ends_with('.')),
        "host {h:?} could be sent to DNS"
    );
}

/// The hosts given to `get_address_info`: [`HOSTS`] without brackets.
/// `get_address_info` passes a bracketed literal (`[::1]`, and the
/// unbalanced `[127.0.0.1`) to `getaddrinfo` as a name, which sends it to
/// DNS (see [`bracketed_literals_never_reach_dns`]); `connect`, `bind` and
/// `send_to` read them as literals.
fn gai_host() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(HOSTS).prop_filter("no brackets", |h| !h.contains('['))
}

#[test]
fn every_fuzzed_host_is_literal_local_or_invalid() {
    for h in HOSTS {
        assert_never_resolved(h);
    }
    // And the crate agrees: every non-literal, non-local one fails at once.
    for h in HOSTS.iter().filter(|h| !h.contains('[')) {
        let literal = *h;
        let local = h
            .trim_end_matches('.')
            .to_ascii_lowercase()
            .ends_with("localhost");
        if literal.parse::<IpAddr>().is_err() && !local {
            let t = Instant::now();
            let e = blocking::get_address_info(h, None, None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AddressResolution, "{h:?}: {e:?}");
            // Rejected by the crate's own check, before getaddrinfo.
            assert!(
                e.message().contains("not a valid host name"),
                "{h:?}: {e:?}"
            );
            assert!(t.elapsed() < Duration::from_secs(1), "{h:?} took a lookup");
        }
    }
}

/// `get_address_info` must answer a bracketed IP literal (`[::1]`) as that
/// literal, and reject an unbalanced bracket, without asking DNS. Run in a
/// child process inside a new, empty network namespace (`unshare -n`), so
/// that a lookup sent to DNS goes nowhere (and fails) instead of leaving
/// the machine. Needs `unshare` and the right to use it (root, or
/// unprivileged user namespaces); without them it says so and passes.
#[test]
fn bracketed_literals_never_reach_dns() {
    const TEST: &str = "bracketed_literals_never_reach_dns";
    if child_role().as_deref() == Some("no-network") {
        let t = Instant::now();
        let r = blocking::get_address_info("[::1]", None, Some(AF_INET6));
        assert!(
            matches!(&r, Ok(info) if info.ip == "::1".parse::<IpAddr>().unwrap()),
            "get_address_info(\"[::1]\") is not answered as the literal ::1: {r:?}"
        );
        let r = blocking::get_address_info("[127.0.0.1", None, None);
        let e = r.expect_err("an unbalanced bracket is not a host");
        assert!(
            e.message().contains("not a valid host name"),
            "\"[127.0.0.1\" went to the resolver: {e:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(1));
        return;
    }
    // A new network namespace: as root (`-n`), or in a new user namespace
    // where unprivileged ones are allowed (`-r -n`).
    let Some(flags) = [&["-n"][..], &["-r", "-n"][..]].into_iter().find(|flags| {
        std::process::Command::new("unshare")
            .args(*flags)
            .arg("true")
            .status()
            .is_ok_and(|s| s.success())
    }) else {
        println!("skipped: `unshare -n` is not available to this user");
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .args(flags)
        .arg(exe)
        .args([
            "--exact",
            TEST,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_ENV, "no-network")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

// ============================================================ fixture

/// Loopback ports this test owns: a listener (on 127.0.0.1 and ::1, same
/// port), a refused port (bound, not listening), a full backlog, and a UDP
/// partner (both families, same port).
struct Fixture {
    listen_port: u16,
    listeners: Vec<TcpListener>,
    refused_port: u16,
    _refused: Vec<socket2::Socket>,
    backlog_port: u16,
    _backlog: Vec<socket2::Socket>,
    _filler: TcpStream,
    udp_port: u16,
    udp: Vec<UdpSocket>,
    udp_refused_port: u16,
    v6: bool,
}

fn v6_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Binds `f(port)` for each family on one port number; retries on clashes.
fn same_port<T: std::os::fd::AsFd>(
    v6: bool,
    mut f: impl FnMut(&str, u16) -> std::io::Result<T>,
) -> (u16, Vec<T>) {
    for _ in 0..100 {
        let Ok(first) = f("127.0.0.1", 0) else {
            continue;
        };
        let port = match f_port(&first) {
            Some(p) => p,
            None => continue,
        };
        let mut all = vec![first];
        if v6 {
            match f("::1", port) {
                Ok(second) => all.push(second),
                Err(_) => continue,
            }
        }
        return (port, all);
    }
    panic!("no port free on both families");
}

/// The port a socket is bound to.
fn f_port(t: &impl std::os::fd::AsFd) -> Option<u16> {
    socket2::SockRef::from(t)
        .local_addr()
        .ok()?
        .as_socket()
        .map(|a| a.port())
}

fn sock2(host: &str, port: u16, ty: socket2::Type) -> std::io::Result<socket2::Socket> {
    let addr: SocketAddr = (host.parse::<IpAddr>().unwrap(), port).into();
    let s = socket2::Socket::new(socket2::Domain::for_address(addr), ty, None)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    Ok(s)
}

impl Fixture {
    fn new() -> Fixture {
        let v6 = v6_available();
        let (listen_port, listeners) = same_port(v6, |h, p| {
            let l = TcpListener::bind((h.parse::<IpAddr>().unwrap(), p))?;
            l.set_nonblocking(true)?;
            // Room for everything our sends may leave in flight.
            socket2::SockRef::from(&l).set_recv_buffer_size(4 << 20)?;
            Ok(l)
        });
        let (refused_port, refused) = same_port(v6, |h, p| sock2(h, p, socket2::Type::STREAM));
        let (backlog_port, backlog) = same_port(v6, |h, p| sock2(h, p, socket2::Type::STREAM));
        backlog[0].listen(0).unwrap();
        let filler = TcpStream::connect(("127.0.0.1", backlog_port)).unwrap();
        let (udp_port, udp) = same_port(v6, |h, p| {
            let u = UdpSocket::bind((h.parse::<IpAddr>().unwrap(), p))?;
            u.set_nonblocking(true)?;
            Ok(u)
        });
        // A UDP port with nothing on it (bound, then released).
        let udp_refused_port = {
            let (p, socks) = same_port(v6, |h, p| {
                UdpSocket::bind((h.parse::<IpAddr>().unwrap(), p))
            });
            drop(socks);
            p
        };
        Fixture {
            listen_port,
            listeners,
            refused_port,
            _refused: refused,
            backlog_port,
            _backlog: backlog,
            _filler: filler,
            udp_port,
            udp,
            udp_refused_port,
            v6,
        }
    }

    /// The accepted end of our connection from `local` (discarding strays).
    fn accept_peer(&self, local: SocketAddr) -> Option<TcpStream> {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            for l in &self.listeners {
                match l.accept() {
                    Ok((s, from)) => {
                        if from.port() == local.port()
                            && from.ip().to_canonical() == local.ip().to_canonical()
                        {
                            s.set_nonblocking(true).unwrap();
                            // No Nagle delay: a probe byte must leave at once.
                            s.set_nodelay(true).unwrap();
                            return Some(s);
                        }
                        // A stray (a connect that gave up): drop it.
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("fixture accept: {e}"),
                }
            }
            std::thread::yield_now();
        }
        None
    }

    fn partner_udp(&self, v6: bool) -> &UdpSocket {
        &self.udp[usize::from(v6 && self.udp.len() > 1)]
    }
}

// ============================================================== watchdog

/// Calls in progress, per thread: when they started and what they are.
fn watch() -> &'static Mutex<HashMap<ThreadId, (Instant, String)>> {
    static WATCH: OnceLock<Mutex<HashMap<ThreadId, (Instant, String)>>> = OnceLock::new();
    WATCH.get_or_init(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let map = watch().lock().unwrap_or_else(|e| e.into_inner());
                for (start, what) in map.values() {
                    if start.elapsed() > HANG {
                        eprintln!("fuzz: HANG: {what} has run for {:?}", start.elapsed());
                        std::process::abort();
                    }
                }
            }
        });
        Mutex::new(HashMap::new())
    })
}

/// Runs `f` under the watchdog, labelled `what`.
fn guarded<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> T) -> T {
    struct Done(ThreadId);
    impl Drop for Done {
        fn drop(&mut self) {
            // Also on a panic (a failing case), so shrinking runs unwatched.
            watch()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.0);
        }
    }
    let id = std::thread::current().id();
    watch()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, (Instant::now(), what()));
    let _done = Done(id);
    f()
}

// ================================================================= ops

#[derive(Clone, Copy, Debug)]
enum PortArg {
    Listen,
    Refused,
    Backlog,
    Udp,
    Zero,
}

#[derive(Clone, Copy, Debug)]
enum Value {
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
enum Op {
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

fn op_name(op: &Op) -> &'static str {
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

fn host() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(HOSTS)
}

fn port_arg() -> impl Strategy<Value = PortArg> {
    prop_oneof![
        6 => Just(PortArg::Listen),
        2 => Just(PortArg::Refused),
        1 => Just(PortArg::Backlog),
        2 => Just(PortArg::Udp),
        1 => Just(PortArg::Zero),
    ]
}

fn timeout() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(Duration::ZERO)),
        3 => Just(Some(Duration::from_millis(1))),
        1 => Just(Some(Duration::from_millis(3))),
        1 => Just(Some(Duration::from_secs(30))),
        1 => Just(Some(Duration::MAX)),
    ]
}

fn send_len() -> impl Strategy<Value = usize> {
    prop_oneof![2 => Just(0usize), 3 => 1usize..64, 3 => 1usize..48 * 1024]
}

fn recv_len() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(0usize)),
        4 => (1usize..70_000).prop_map(Some),
        1 => Just(Some(usize::MAX)),
    ]
}

const OPTIONS: &[SocketOption] = &[
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

fn option() -> impl Strategy<Value = SocketOption> {
    prop_oneof![
        8 => proptest::sample::select(OPTIONS),
        1 => any::<i32>().prop_map(SocketOption::from_raw),
    ]
}

fn value() -> impl Strategy<Value = Value> {
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

fn family() -> impl Strategy<Value = Option<Family>> {
    prop_oneof![
        Just(None),
        Just(Some(AF_INET)),
        Just(Some(AF_INET6)),
        Just(Some(AF_UNSPEC)),
        Just(Some(AF_UNIX)),
        Just(Some(Family::from_raw(-1))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
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
fn case() -> impl Strategy<Value = (u8, Vec<Op>)> {
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

// ================================================================ faces

enum Sock {
    Async(Socket),
    Blocking(blocking::Socket),
}

/// Runs an I/O call on whichever face the socket has, under the watchdog,
/// and passes its result through `$post` (written once, typed per face).
/// `$cut`: on the async face, cut the call off after that long (`None`
/// when it was cut); the blocking face always completes (`Some`).
macro_rules! call {
    ($h:expr, $what:expr, $cut:expr, |$s:ident| $op:expr, $post:expr) => {{
        let h: &Harness<'_> = $h;
        let cut: Option<Duration> = $cut;
        let what = format!("{} on {}", $what, h.sock_debug());
        match h.sock.as_ref().expect("socket") {
            Sock::Async($s) => {
                let fut = $op;
                guarded(
                    || what.clone(),
                    || {
                        h.rt.block_on(async {
                            match cut {
                                Some(c) => tokio::time::timeout(c, fut).await.ok().map($post),
                                None => Some(apply(
                                    tokio::time::timeout(HANG, fut)
                                        .await
                                        .unwrap_or_else(|_| panic!("HANG: {what}")),
                                    $post,
                                )),
                            }
                        })
                    },
                )
            }
            Sock::Blocking($s) => guarded(|| what.clone(), || Some(apply($op, $post))),
        }
    }};
}

/// `f(a)`, with `f`'s argument type inferred from `a`.
fn apply<A, B>(a: A, f: impl FnOnce(A) -> B) -> B {
    f(a)
}

/// [`call!`] for `&mut self` calls (never cut off).
macro_rules! call_mut {
    ($h:expr, $what:expr, |$s:ident| $op:expr) => {{
        let h: &mut Harness<'_> = $h;
        let what = format!("{} on {}", $what, h.sock_debug());
        let rt = h.rt;
        match h.sock.as_mut().expect("socket") {
            Sock::Async($s) => {
                let fut = $op;
                guarded(
                    || what.clone(),
                    || {
                        rt.block_on(async {
                            tokio::time::timeout(HANG, fut)
                                .await
                                .unwrap_or_else(|_| panic!("HANG: {what}"))
                        })
                    },
                )
            }
            Sock::Blocking($s) => guarded(|| what.clone(), || $op),
        }
    }};
}

/// A non-async call (the same on both faces).
macro_rules! plain {
    ($h:expr, |$s:ident| $op:expr) => {{
        match $h.sock.as_ref().expect("socket") {
            Sock::Async($s) => $op,
            Sock::Blocking($s) => $op,
        }
    }};
}

macro_rules! plain_mut {
    ($h:expr, |$s:ident| $op:expr) => {{
        match $h.sock.as_mut().expect("socket") {
            Sock::Async($s) => $op,
            Sock::Blocking($s) => $op,
        }
    }};
}

/// What the harness checks on an accepted socket, from either face.
#[derive(Debug, PartialEq, Eq)]
struct AcceptedState {
    client: bool,
    connected: bool,
    listening: bool,
    closed: bool,
    timeouts: (Option<Duration>, Option<Duration>),
    blocking: bool,
}

macro_rules! accepted_state {
    ($s:expr) => {{
        let s = $s;
        AcceptedState {
            client: s.is_client(),
            connected: s.is_connected(),
            listening: s.is_listening(),
            closed: s.is_closed(),
            timeouts: (s.send_timeout(), s.receive_timeout()),
            blocking: s.is_blocking(),
        }
    }};
}

// ================================================================ model

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Fresh,
    Bound,
    Listening,
    Connected,
    Closed,
}

#[derive(Debug)]
struct Model {
    phase: Phase,
    shut: Option<Shutdown>,
    blocking: bool,
    send_timeout: Option<Duration>,
    receive_timeout: Option<Duration>,
    stream: bool,
    v6: bool,
    rcvlowat: usize,
    nodelay: Option<bool>,
    /// The UDP port we are connected to, if any.
    udp_connected: Option<u16>,
}

/// Our TCP connection's peer, held by the harness.
struct Peer {
    stream: Option<TcpStream>,
    /// Bytes the peer wrote (its pattern's offset) / we read from it.
    peer_wrote: u64,
    we_read: u64,
    /// Bytes our sends reported sent / the peer read.
    we_sent: u64,
    peer_read: u64,
    /// A send was cut short with an unknown count: stop checking what the peer reads.
    sent_unknown: bool,
    peer_eof: bool,
    peer_reset: bool,
    seed: u64,
}

const PEER_SEED: u64 = 0x9e37;

/// Counters printed at the end of a run.
#[derive(Default, Debug)]
struct Stats {
    cases: u64,
    calls: u64,
    skipped_unbounded: u64,
    cut_off: u64,
    timeouts: u64,
    closed_checks: u64,
    bytes_in: u64,
    bytes_out: u64,
    datagrams: u64,
    accepted: u64,
    errors: HashMap<String, u64>,
    /// Time spent per kind of call.
    time: HashMap<&'static str, (u64, Duration)>,
}

struct Harness<'a> {
    rt: &'a tokio::runtime::Runtime,
    fx: &'a Fixture,
    sock: Option<Sock>,
    m: Model,
    peer: Option<Peer>,
    /// Clients the partner connected to our listener (not yet accepted).
    partner_clients: VecDeque<TcpStream>,
    /// Datagrams the partner sent us, in order, each with whether it
    /// surely reaches us.
    datagrams: VecDeque<(Vec<u8>, bool)>,
    seed: u64,
    stats: &'a mut Stats,
    async_face: bool,
}

fn is_illegal(e: &SocketError) -> bool {
    e.kind() == ErrorKind::IllegalState && e.message() == "socket is in an illegal state"
}

fn assert_illegal<T: std::fmt::Debug>(r: &Result<T, SocketError>, what: &str) {
    match r {
        Err(e) if is_illegal(e) => {}
        other => panic!(
            "{what} on a closed socket: expected `socket is in an illegal state`, got {other:?}"
        ),
    }
}

fn assert_state_error<T: std::fmt::Debug>(r: &Result<T, SocketError>, msg: &str, what: &str) {
    match r {
        Err(e) if e.kind() == ErrorKind::IllegalState && e.message() == msg => {}
        other => panic!("{what}: expected IllegalState {msg:?}, got {other:?}"),
    }
}

fn normalize(t: Option<Duration>) -> Option<Duration> {
    t.filter(|d| !d.is_zero())
}

/// Whether a timeout lets a wait end soon (within `HANG`).
fn bounded(t: Option<Duration>) -> bool {
    matches!(t, Some(d) if !d.is_zero() && d < Duration::from_secs(1))
}

fn gone(e: &SocketError) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPIPE | libc::ECONNRESET | libc::ECONNABORTED | libc::ETIMEDOUT)
    )
}

impl<'a> Harness<'a> {
    fn sock_debug(&self) -> String {
        match &self.sock {
            Some(Sock::Async(s)) => format!("{s:?}"),
            Some(Sock::Blocking(s)) => format!("{s:?}"),
            None => "none".into(),
        }
    }

    fn port(&self, p: PortArg) -> u16 {
        let fx = self.fx;
        match (p, self.m.stream) {
            (PortArg::Listen, true) => fx.listen_port,
            (PortArg::Refused, true) | (PortArg::Udp, true) => fx.refused_port,
            (PortArg::Backlog, true) => fx.backlog_port,
            (PortArg::Listen | PortArg::Udp, false) => fx.udp_port,
            (PortArg::Refused | PortArg::Backlog, false) => fx.udp_refused_port,
            (PortArg::Zero, _) => 0,
        }
    }

    fn note_err(&mut self, what: &str, e: &SocketError) {
        let key = format!("{what}: {:?} {}", e.kind(), e.message());
        *self.stats.errors.entry(key).or_insert(0) += 1;
    }

    // ------------------------------------------------------------ checks

    /// The getters against the model, and the invariants.
    fn check(&self, after: &str) {
        let m = &self.m;
        let (closed, connected, listening, bound, client, id, shut, blocking_, st, rt_, dbg) =
            plain!(self, |s| (
                s.is_closed(),
                s.is_connected(),
                s.is_listening(),
                s.is_bound(),
                s.is_client(),
                s.id(),
                s.shutdown_reason(),
                s.is_blocking(),
                s.send_timeout(),
                s.receive_timeout(),
                format!("{s:?}")
            ));
        let ctx = || format!("after {after}: model {m:?}, socket {dbg}");
        assert!(
            !(connected && listening),
            "connected and listening: {}",
            ctx()
        );
        assert_eq!(closed, m.phase == Phase::Closed, "is_closed: {}", ctx());
        assert_eq!(id == -1, closed, "id() == -1 iff closed: {}", ctx());
        assert_eq!(
            listening,
            m.phase == Phase::Listening,
            "is_listening: {}",
            ctx()
        );
        // A listener stays bound.
        let want = matches!(m.phase, Phase::Bound | Phase::Listening);
        assert_eq!(bound, want, "is_bound: {}", ctx());
        assert_eq!(client, m.phase == Phase::Connected, "is_client: {}", ctx());
        assert_eq!(
            connected,
            m.phase == Phase::Connected && m.shut != Some(Shutdown::Both),
            "is_connected: {}",
            ctx()
        );
        assert_eq!(shut, m.shut, "shutdown_reason: {}", ctx());
        assert_eq!(blocking_, m.blocking, "is_blocking: {}", ctx());
        assert_eq!(st, m.send_timeout, "send_timeout: {}", ctx());
        assert_eq!(rt_, m.receive_timeout, "receive_timeout: {}", ctx());
        let (ty, fam) = plain!(self, |s| (s.socket_type(), s.family()));
        assert_eq!(ty, if m.stream { SOCK_STREAM } else { SOCK_DGRAM });
        assert_eq!(fam, if m.v6 { AF_INET6 } else { AF_INET });
    }

    /// On a closed socket, every operation fails with the illegal state.
    fn check_all_illegal(&mut self) {
        self.stats.closed_checks += 1;
        let p = self.fx.listen_port;
        let r = call_mut!(self, "connect", |s| s.connect(None, p, None));
        assert_illegal(&r, "connect");
        let r = call_mut!(self, "bind", |s| s.bind(0, None));
        assert_illegal(&r, "bind");
        let r = plain_mut!(self, |s| s.listen(None));
        assert_illegal(&r, "listen");
        let r = call!(self, "accept", None, |s| s.accept(), |r| r.map(drop));
        assert_illegal(&r.expect("not cut"), "accept");
        let r = call!(self, "send", None, |s| s.send("x"), |r| r);
        assert_illegal(&r.expect("not cut"), "send");
        let r = call!(
            self,
            "send_to",
            None,
            |s| s.send_to("127.0.0.1", p, "x"),
            |r| r
        );
        assert_illegal(&r.expect("not cut"), "send_to");
        let r = call!(self, "receive", None, |s| s.receive(Some(0)), |r| r);
        assert_illegal(&r.expect("not cut"), "receive");
        let r = call!(self, "receive_from", None, |s| s.receive_from(None), |r| r);
        assert_illegal(&r.expect("not cut"), "receive_from");
        let r = plain_mut!(self, |s| s.shutdown(Shutdown::Both));
        assert_illegal(&r, "shutdown");
        let r = plain_mut!(self, |s| s.set_option(blade_socket::SO_KEEPALIVE, true));
        assert_illegal(&r, "set_option");
        let r = plain!(self, |s| s.get_option(blade_socket::SO_TYPE));
        assert_illegal(&r, "get_option");
        let r = plain_mut!(self, |s| s.set_blocking(true));
        assert_illegal(&r, "set_blocking");
        let r = plain_mut!(self, |s| s.set_nodelay(true));
        assert_illegal(&r, "set_nodelay");
        let r = plain!(self, |s| s.nodelay());
        assert_illegal(&r, "nodelay");
        let r = plain!(self, |s| s.info());
        assert_illegal(&r, "info");
        let r = plain!(self, |s| s.peer_info());
        assert_illegal(&r, "peer_info");
        let file = std::fs::File::open("/dev/null").unwrap();
        let r = call!(self, "send_file", None, |s| s.send_file(&file), |r| r);
        assert_illegal(&r.expect("not cut"), "send_file");
        let r = plain_mut!(self, |s| s.close());
        assert!(r.is_ok(), "close is idempotent");
        self.check("the closed-socket checks");
    }

    fn set_closed(&mut self) {
        self.m.phase = Phase::Closed;
    }

    // ------------------------------------------------------- peer side

    fn peer_send(&mut self, len: usize) -> usize {
        let Some(p) = self.peer.as_mut() else {
            return 0;
        };
        let Some(s) = p.stream.as_mut() else { return 0 };
        if p.peer_eof {
            return 0;
        }
        let bytes = Pattern::new(p.seed ^ PEER_SEED).bytes(p.peer_wrote, len);
        match s.write(&bytes) {
            Ok(n) => {
                p.peer_wrote += n as u64;
                n
            }
            Err(_) => 0,
        }
    }

    fn peer_drain(&mut self) {
        let Some(p) = self.peer.as_mut() else { return };
        let Some(s) = p.stream.as_mut() else { return };
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if !p.sent_unknown {
                        Pattern::new(p.seed)
                            .check(p.peer_read, &buf[..n])
                            .unwrap_or_else(|at| {
                                panic!("the peer received a wrong byte at offset {at}")
                            });
                    }
                    p.peer_read += n as u64;
                    if !p.sent_unknown {
                        assert!(
                            p.peer_read <= p.we_sent,
                            "the peer got more than our sends reported ({} > {})",
                            p.peer_read,
                            p.we_sent
                        );
                    }
                }
                Err(_) => break,
            }
        }
    }

    fn peer_reset(&mut self) {
        if let Some(p) = self.peer.as_mut()
            && let Some(s) = p.stream.take()
        {
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            drop(s);
            p.peer_reset = true;
        }
    }

    /// Our socket's local address, if it has one.
    fn local(&self) -> Option<SocketAddr> {
        let info = plain!(self, |s| s.info()).ok()?;
        let ip: IpAddr = info.address.parse().ok()?;
        Some(SocketAddr::new(ip, info.port))
    }

    /// Has the partner connect to our listener.
    fn partner_connect(&mut self) {
        if self.m.phase != Phase::Listening {
            return;
        }
        let Some(local) = self.local() else { return };
        let ip: IpAddr = if self.m.v6 {
            "::1".parse().unwrap()
        } else {
            "127.0.0.1".parse().unwrap()
        };
        if let Ok(c) = TcpStream::connect_timeout(
            &SocketAddr::new(ip, local.port()),
            Duration::from_millis(200),
        ) {
            self.partner_clients.push_back(c);
        }
    }

    /// Has the UDP partner send a datagram of `len` bytes to us; records it
    /// when it can reach us.
    fn partner_datagram(&mut self, len: usize) {
        if self.m.stream || self.m.phase == Phase::Closed {
            return;
        }
        let Some(local) = self.local() else { return };
        if local.port() == 0 {
            return;
        }
        let to_ip: IpAddr = if self.m.v6 {
            "::1".parse().unwrap()
        } else {
            "127.0.0.1".parse().unwrap()
        };
        let bytes = Pattern::new(self.seed ^ self.stats.datagrams).bytes(0, len);
        self.stats.datagrams += 1;
        let partner = self.fx.partner_udp(self.m.v6);
        if partner.send_to(&bytes, (to_ip, local.port())).is_ok() {
            // It surely arrives unless the socket filters the partner out
            // (connected elsewhere) or listens on another address; record
            // it either way, with that certainty.
            let sure = self.m.udp_connected.is_none_or(|p| p == self.fx.udp_port)
                && (local.ip().is_unspecified() || local.ip().is_loopback());
            self.datagrams.push_back((bytes, sure));
        }
    }

    fn drop_partner_datagrams(&mut self) {
        let mut buf = [0u8; 4096];
        for u in &self.fx.udp {
            while u.recv_from(&mut buf).is_ok() {}
        }
    }

    // ------------------------------------------------- bounding waits

    /// Makes a receive that would wait without limit complete: the peer
    /// sends (or a datagram arrives). Returns whether the receive is now
    /// bounded.
    fn prepare_receive(&mut self) -> bool {
        let m = &self.m;
        if m.phase == Phase::Closed || !m.blocking || bounded(m.receive_timeout) {
            return true;
        }
        if matches!(m.shut, Some(Shutdown::Read | Shutdown::Both)) {
            return true;
        }
        if m.stream {
            if m.phase != Phase::Connected {
                return true; // fails at once: not connected
            }
            let lowat = m.rcvlowat.max(1);
            let Some(p) = self.peer.as_ref() else {
                return false;
            };
            if p.peer_reset || p.peer_eof {
                return true; // error or end of file at once
            }
            let queued = (p.peer_wrote - p.we_read) as usize;
            if queued < lowat {
                let want = lowat - queued + 16;
                let sent = self.peer_send(want);
                return sent >= lowat.saturating_sub(queued);
            }
            true
        } else {
            if self.datagrams.iter().any(|(_, sure)| *sure) {
                return true;
            }
            self.partner_datagram(16);
            self.datagrams.iter().any(|(_, sure)| *sure)
        }
    }

    fn prepare_accept(&mut self) -> bool {
        let m = &self.m;
        if m.phase != Phase::Listening || !m.blocking || bounded(m.receive_timeout) {
            return true;
        }
        if self.partner_clients.is_empty() {
            self.partner_connect();
        }
        !self.partner_clients.is_empty()
    }

    /// Sends may fill the pipe: keep what is in flight under the cap.
    fn prepare_send(&mut self, len: usize) {
        if let Some(p) = &self.peer
            && p.we_sent + len as u64 - p.peer_read > MAX_IN_FLIGHT
        {
            self.peer_drain();
        }
    }

    // -------------------------------------------------------- the calls

    fn run(&mut self, op: &Op) {
        let t = Instant::now();
        self.run_op(op);
        let kind: &'static str = op_name(op);
        let e = self.stats.time.entry(kind).or_default();
        e.0 += 1;
        e.1 += t.elapsed();
    }

    fn run_op(&mut self, op: &Op) {
        self.stats.calls += 1;
        let closed = self.m.phase == Phase::Closed;
        let label = format!("{op:?}");
        match op.clone() {
            Op::Connect(h, p, t) => self.connect(h, p, t, closed),
            Op::Bind(p, h) => self.bind(p, h, closed),
            Op::Listen(q) => self.listen(q, closed),
            Op::Accept => self.accept(None, closed),
            Op::AcceptCut(us) => self.accept(Some(us), closed),
            Op::Send(n) => self.send(None, n, closed),
            Op::SendTo(h, p, n) => self.send(Some((h, p)), n, closed),
            Op::Receive(n) => self.receive(n, false, None, closed),
            Op::ReceiveFrom(n) => self.receive(n, true, None, closed),
            Op::ReceiveCut(n, us) => self.receive(n, false, Some(us), closed),
            Op::Shutdown(raw) => self.shutdown(raw, closed),
            Op::Close => {
                let r = plain_mut!(self, |s| s.close());
                assert!(r.is_ok(), "close: {r:?}");
                self.set_closed();
            }
            Op::CloseShared => {
                let r = plain!(self, |s| s.close_shared());
                assert!(r.is_ok(), "close_shared: {r:?}");
                self.set_closed();
            }
            Op::CloseDuring(which, us) => self.close_during(which, us, closed),
            Op::SetOption(o, v) => self.set_option(o, v, closed),
            Op::GetOption(o) => self.get_option(o, closed),
            Op::SetBlocking(b) => {
                let r = plain_mut!(self, |s| s.set_blocking(b));
                if closed {
                    assert_illegal(&r, "set_blocking");
                } else {
                    r.unwrap();
                    self.m.blocking = b;
                }
            }
            Op::SetSendTimeout(t) => {
                plain_mut!(self, |s| s.set_send_timeout(t));
                self.m.send_timeout = normalize(t);
            }
            Op::SetReceiveTimeout(t) => {
                plain_mut!(self, |s| s.set_receive_timeout(t));
                self.m.receive_timeout = normalize(t);
            }
            Op::SetNodelay(b) => {
                let r = plain_mut!(self, |s| s.set_nodelay(b));
                if closed {
                    assert_illegal(&r, "set_nodelay");
                } else if self.m.stream {
                    r.unwrap();
                    self.m.nodelay = Some(b);
                } else {
                    assert!(r.is_err(), "TCP_NODELAY on UDP");
                }
            }
            Op::Nodelay => {
                let r = plain!(self, |s| s.nodelay());
                if closed {
                    assert_illegal(&r, "nodelay");
                } else if self.m.stream {
                    assert_eq!(r.unwrap(), self.m.nodelay.unwrap_or(false));
                }
            }
            Op::Info => {
                let r = plain!(self, |s| s.info());
                if closed {
                    assert_illegal(&r, "info");
                } else {
                    let i = r.expect("info on an open socket");
                    assert_eq!(i.family, if self.m.v6 { AF_INET6 } else { AF_INET });
                }
            }
            Op::PeerInfo => {
                let r = plain!(self, |s| s.peer_info());
                if closed {
                    assert_illegal(&r, "peer_info");
                } else if self.m.phase != Phase::Connected {
                    assert!(r.is_err(), "peer_info unconnected: {r:?}");
                }
            }
            Op::GetAddressInfo(h, svc, fam) => {
                assert_never_resolved(h);
                let r = match &self.sock {
                    Some(Sock::Async(_)) => guarded(
                        || format!("get_address_info({h:?})"),
                        || {
                            self.rt.block_on(async {
                                tokio::time::timeout(
                                    HANG,
                                    blade_socket::get_address_info(h, svc, fam),
                                )
                                .await
                            })
                        },
                    )
                    .expect("get_address_info hung"),
                    _ => guarded(
                        || format!("get_address_info({h:?})"),
                        || blocking::get_address_info(h, svc, fam),
                    ),
                };
                if let Err(e) = &r {
                    assert_eq!(e.kind(), ErrorKind::AddressResolution, "{h:?}: {e:?}");
                }
            }
            Op::SwitchFace => {
                let s = self.sock.take().expect("socket");
                self.sock = Some(match s {
                    Sock::Async(s) => Sock::Blocking(s.into()),
                    Sock::Blocking(s) => Sock::Async(s.into()),
                });
            }
            Op::PeerSend(n) => {
                self.peer_send(n);
            }
            Op::PeerShutWrite => {
                if let Some(p) = self.peer.as_mut()
                    && let Some(s) = &p.stream
                {
                    let _ = s.shutdown(std::net::Shutdown::Write);
                    p.peer_eof = true;
                }
            }
            Op::PeerReset => self.peer_reset(),
            Op::PeerDrain => self.peer_drain(),
            Op::PeerConnect => self.partner_connect(),
            Op::PartnerDatagram(n) => self.partner_datagram(n),
        }
        self.check(&label);
        if self.m.phase == Phase::Closed && !closed {
            // Just closed: everything now fails with the illegal state.
            self.check_all_illegal();
        }
    }

    fn connect(&mut self, h: &'static str, p: PortArg, t: Option<Duration>, closed: bool) {
        let port = self.port(p);
        // A full backlog answers nothing: only a bounded timeout may try it.
        let t = if port == self.fx.backlog_port && self.m.stream && !bounded(t) {
            Some(Duration::from_millis(2))
        } else {
            t
        };
        let phase = self.m.phase;
        let r = call_mut!(self, format!("connect({h:?}, {port}, {t:?})"), |s| s
            .connect(Some(h), port, t));
        if closed {
            return assert_illegal(&r, "connect");
        }
        match phase {
            Phase::Connected => {
                return assert_state_error(
                    &r,
                    "socket has existing connection",
                    "connect while connected",
                );
            }
            Phase::Listening => {
                return assert_state_error(
                    &r,
                    "socket is in an illegal state",
                    "connect while listening",
                );
            }
            _ => {}
        }
        match r {
            Ok(()) => {
                self.m.phase = Phase::Connected;
                let got = plain!(self, |s| s.port());
                assert_eq!(got, port, "port() after connect");
                if self.m.stream {
                    let local = self.local().expect("local address of a connected socket");
                    let peer = self.fx.accept_peer(local);
                    if port == self.fx.listen_port {
                        let stream = peer.expect("the fixture saw our connection");
                        self.peer = Some(Peer {
                            stream: Some(stream),
                            peer_wrote: 0,
                            we_read: 0,
                            we_sent: 0,
                            peer_read: 0,
                            sent_unknown: false,
                            peer_eof: false,
                            peer_reset: false,
                            seed: self.seed,
                        });
                    }
                } else {
                    // Datagrams already queued stay queued (Linux keeps them).
                    self.m.udp_connected = Some(port);
                }
            }
            Err(e) => {
                self.note_err("connect", &e);
                assert!(
                    plain!(self, |s| s.is_closed()),
                    "a failed connect closes the socket: {e:?}"
                );
                if e.kind() == ErrorKind::TimedOut {
                    assert!(
                        bounded(t) || t == Some(Duration::from_secs(30)),
                        "timed out without a timeout: {t:?}"
                    );
                }
                self.set_closed();
            }
        }
    }

    fn bind(&mut self, p: PortArg, h: Option<&'static str>, closed: bool) {
        let port = self.port(p);
        let phase = self.m.phase;
        let r = call_mut!(self, format!("bind({port}, {h:?})"), |s| s.bind(port, h));
        if closed {
            return assert_illegal(&r, "bind");
        }
        if phase == Phase::Connected {
            return assert_state_error(&r, "socket has existing connection", "bind connected");
        }
        if phase != Phase::Fresh {
            return assert_state_error(&r, "socket previously bound", "bind again");
        }
        match r {
            Ok(()) => {
                self.m.phase = Phase::Bound;
                let got = plain!(self, |s| s.port());
                assert!(
                    got != 0 && (port == 0 || got == port),
                    "port() after bind: {got}"
                );
            }
            Err(e) => {
                self.note_err("bind", &e);
                assert!(
                    !plain!(self, |s| s.is_closed()),
                    "a failed bind keeps the socket: {e:?}"
                );
            }
        }
    }

    fn listen(&mut self, q: Option<u32>, closed: bool) {
        let r = plain_mut!(self, |s| s.listen(q));
        if closed {
            return assert_illegal(&r, "listen");
        }
        if self.m.phase != Phase::Bound {
            return assert_state_error(&r, "socket is in an illegal state", "listen unbound");
        }
        if q.is_some_and(|q| q > SOMAXCONN) {
            let e = r.expect_err("backlog over SOMAXCONN");
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e:?}");
            return;
        }
        match r {
            Ok(()) => {
                assert!(self.m.stream, "listen on UDP succeeded");
                self.m.phase = Phase::Listening;
            }
            Err(e) => {
                self.note_err("listen", &e);
                assert!(!self.m.stream, "listen on a bound TCP socket failed: {e:?}");
            }
        }
    }

    fn accept(&mut self, cut: Option<u64>, closed: bool) {
        let unbounded = !closed && !self.prepare_accept();
        let is_async = matches!(self.sock, Some(Sock::Async(_)));
        let cut = match (is_async, cut, unbounded) {
            (true, Some(us), _) => Some(Duration::from_micros(us)),
            (true, None, true) => Some(CUT_OFF),
            (false, _, true) => {
                self.stats.skipped_unbounded += 1;
                return;
            }
            _ => None,
        };
        let r = call!(self, "accept", cut, |s| s.accept(), |r| r
            .map(|c| accepted_state!(&c)));
        let Some(r) = r else {
            self.stats.cut_off += 1;
            return;
        };
        if closed {
            return assert_illegal(&r, "accept");
        }
        if self.m.phase != Phase::Listening {
            return assert_state_error(&r, "socket not bound/listening", "accept unlistening");
        }
        match r {
            Ok(state) => self.accepted(state),
            Err(e) => {
                self.note_err("accept", &e);
                match e.kind() {
                    ErrorKind::TimedOut => {
                        self.stats.timeouts += 1;
                        assert!(
                            bounded(self.m.receive_timeout),
                            "accept timed out without a timeout"
                        );
                        // Still usable: a partner connects and is accepted.
                        self.partner_connect();
                        let r = call!(self, "accept after a timeout", None, |s| s.accept(), |r| r
                            .map(|c| accepted_state!(&c)));
                        match r.expect("not cut") {
                            Ok(state) => self.accepted(state),
                            Err(e) => panic!("a timed-out listener is no longer usable: {e:?}"),
                        }
                    }
                    ErrorKind::WouldBlock => assert!(!self.m.blocking),
                    _ => panic!("accept failed: {e:?}"),
                }
            }
        }
    }

    fn accepted(&mut self, state: AcceptedState) {
        self.stats.accepted += 1;
        assert_eq!(
            state,
            AcceptedState {
                client: true,
                connected: true,
                listening: false,
                closed: false,
                timeouts: (None, None),
                blocking: true,
            },
            "the accepted socket's state"
        );
        self.partner_clients.pop_front();
    }

    fn send(&mut self, to: Option<(&'static str, PortArg)>, len: usize, closed: bool) {
        self.prepare_send(len);
        let (seed, off) = self
            .peer
            .as_ref()
            .map_or((self.seed, 0), |p| (p.seed, p.we_sent));
        let bytes = Pattern::new(seed).bytes(off, len);
        let r = match to {
            None => call!(
                self,
                format!("send({len})"),
                None,
                |s| s.send(&bytes),
                |r| r
            ),
            Some((h, p)) => {
                let port = self.port(p);
                call!(
                    self,
                    format!("send_to({h:?}, {port}, {len})"),
                    None,
                    |s| s.send_to(h, port, &bytes),
                    |r| r
                )
            }
        }
        .expect("not cut");
        if closed {
            return assert_illegal(&r, "send");
        }
        if matches!(self.m.shut, Some(Shutdown::Write | Shutdown::Both)) {
            return assert_illegal(&r, "send after SHUT_WR");
        }
        let unconnected_ok = !self.m.stream && to.is_some();
        if self.m.phase != Phase::Connected && !unconnected_ok {
            return assert_state_error(&r, "socket not listening or connected", "send unconnected");
        }
        match r {
            Ok(n) => {
                if self.m.blocking {
                    assert_eq!(n, len, "a blocking send sends everything");
                } else {
                    assert!(n <= len);
                }
                self.stats.bytes_out += n as u64;
                if let Some(p) = self.peer.as_mut() {
                    p.we_sent += n as u64;
                }
                // A datagram socket bound to the port it sends to (the
                // released "refused" port, say) receives its own datagram.
                if !self.m.stream {
                    let dest = match to {
                        Some((_, p)) => Some(self.port(p)),
                        None => self.m.udp_connected,
                    };
                    if dest.is_some_and(|d| d != 0 && self.local().is_some_and(|l| l.port() == d)) {
                        self.datagrams.push_back((bytes, false));
                    }
                }
            }
            Err(e) => {
                self.note_err("send", &e);
                match e.kind() {
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                        if e.kind() == ErrorKind::TimedOut {
                            self.stats.timeouts += 1;
                            assert!(
                                bounded(self.m.send_timeout),
                                "send timed out without a timeout"
                            );
                        } else {
                            assert!(!self.m.blocking);
                        }
                        if let Some(p) = self.peer.as_mut() {
                            p.sent_unknown = true; // part of it may have gone
                        }
                    }
                    ErrorKind::AddressResolution => assert!(to.is_some()),
                    _ if gone(&e) && self.m.stream => {
                        assert!(
                            plain!(self, |s| s.is_closed()),
                            "a vanished peer closes the socket"
                        );
                        self.set_closed();
                    }
                    ErrorKind::Os => {}
                    _ => panic!("send failed: {e:?}"),
                }
            }
        }
    }

    fn receive(&mut self, len: Option<usize>, from: bool, cut: Option<u64>, closed: bool) {
        let unbounded = !closed && len != Some(0) && !self.prepare_receive();
        let is_async = matches!(self.sock, Some(Sock::Async(_)));
        let cut = match (is_async, cut, unbounded) {
            (true, Some(us), _) => Some(Duration::from_micros(us)),
            (true, None, true) => Some(CUT_OFF),
            (false, _, true) => {
                self.stats.skipped_unbounded += 1;
                return;
            }
            _ => None,
        };
        // A datagram socket with no local address (not bound, not
        // connected, no earlier send_to) cannot receive anything.
        let no_local = !closed
            && !self.m.stream
            && self.m.phase == Phase::Fresh
            && self.local().is_none_or(|l| l.port() == 0);
        type Got = Result<(Option<bytes::Bytes>, Option<u16>), SocketError>;
        let r: Option<Got> = if from {
            call!(
                self,
                format!("receive_from({len:?})"),
                cut,
                |s| s.receive_from(len),
                |r| r.map(|d| (Some(d.data), Some(d.port)))
            )
        } else {
            call!(
                self,
                format!("receive({len:?})"),
                cut,
                |s| s.receive(len),
                |r| r.map(|b| (b, None))
            )
        };
        let Some(r) = r else {
            self.stats.cut_off += 1;
            return;
        };
        if closed {
            return assert_illegal(&r, "receive");
        }
        if matches!(self.m.shut, Some(Shutdown::Read | Shutdown::Both)) {
            return assert_illegal(&r, "receive after SHUT_RD");
        }
        if self.m.stream && self.m.phase != Phase::Connected {
            return assert_state_error(
                &r,
                "socket not listening or connected",
                "receive unconnected",
            );
        }
        if !self.m.stream && self.m.phase == Phase::Listening {
            unreachable!("a UDP socket cannot listen");
        }
        // `receive` needs a connected datagram socket; `receive_from` a local address.
        if !self.m.stream && self.m.phase != Phase::Connected && (!from || no_local) {
            return assert_state_error(
                &r,
                "socket not listening or connected",
                "datagram receive without a peer or local address",
            );
        }
        match r {
            Ok((data, port)) => {
                if len == Some(0) {
                    assert_eq!(data.as_deref(), Some(&b""[..]), "receive(Some(0))");
                    return;
                }
                if self.m.stream {
                    self.stream_data(data, len, from);
                } else {
                    let d = data.expect("a datagram socket never reports end of file");
                    if let Some(n) = len {
                        assert!(d.len() <= n);
                    }
                    if from {
                        // The partner, or this socket itself (see `send`).
                        let own = self.local().map(|l| l.port());
                        assert!(
                            port == Some(self.fx.udp_port) || port == own,
                            "sender of the datagram: {port:?}"
                        );
                    }
                    // The next datagram the partner sent, or a later one
                    // (a full receive buffer drops datagrams), never another.
                    let n = |w: &Vec<u8>| len.unwrap_or(usize::MAX).min(w.len());
                    let at = self.datagrams.iter().position(|(w, _)| d[..] == w[..n(w)]);
                    match at {
                        Some(i) => {
                            self.datagrams.drain(..=i);
                        }
                        None => panic!(
                            "a datagram ({} bytes) the partner never sent (queued: {:?})",
                            d.len(),
                            self.datagrams
                                .iter()
                                .map(|(w, _)| w.len())
                                .collect::<Vec<_>>()
                        ),
                    }
                }
            }
            Err(e) => {
                self.note_err("receive", &e);
                match e.kind() {
                    ErrorKind::TimedOut => {
                        self.stats.timeouts += 1;
                        assert!(
                            bounded(self.m.receive_timeout),
                            "receive timed out without a timeout"
                        );
                        assert!(
                            !plain!(self, |s| s.is_closed()),
                            "a timeout keeps the socket open"
                        );
                        self.probe_after_receive_timeout();
                    }
                    ErrorKind::WouldBlock => {
                        assert!(!self.m.blocking, "WouldBlock in blocking mode")
                    }
                    _ if gone(&e) && self.m.stream => {
                        let p = self.peer.as_ref();
                        assert!(p.is_none_or(|p| p.peer_reset), "a reset nobody made: {e:?}");
                        assert!(plain!(self, |s| s.is_closed()), "a reset closes the socket");
                        self.set_closed();
                    }
                    // A connected UDP socket learns of an unreachable port.
                    ErrorKind::Os if !self.m.stream => {}
                    _ => panic!("receive failed: {e:?}"),
                }
            }
        }
    }

    fn stream_data(&mut self, data: Option<bytes::Bytes>, len: Option<usize>, from: bool) {
        let Some(p) = self.peer.as_mut() else {
            // Connected to something that is not our fixture (cannot happen
            // for TCP: only the listener accepts).
            return;
        };
        match data {
            Some(b) if !b.is_empty() => {
                if let Some(n) = len {
                    assert!(b.len() <= n, "receive({n}) returned {}", b.len());
                }
                Pattern::new(p.seed ^ PEER_SEED)
                    .check(p.we_read, &b)
                    .unwrap_or_else(|at| panic!("received a wrong byte at offset {at}"));
                p.we_read += b.len() as u64;
                assert!(
                    p.we_read <= p.peer_wrote,
                    "received more than the peer sent"
                );
                self.stats.bytes_in += b.len() as u64;
            }
            // End of file: receive() says None, receive_from() empty data.
            Some(b) => {
                assert!(from && b.is_empty());
                assert!(
                    p.peer_eof || p.peer_reset,
                    "end of file the peer never sent"
                );
            }
            None => {
                assert!(!from, "receive_from reports end of file as empty data");
                assert!(
                    p.peer_eof || p.peer_reset,
                    "end of file the peer never sent"
                );
                if !p.peer_reset {
                    assert_eq!(p.we_read, p.peer_wrote, "end of file before every byte");
                }
            }
        }
    }

    /// After a receive timeout the socket still works: one more byte from
    /// the peer arrives.
    fn probe_after_receive_timeout(&mut self) {
        if !self.m.stream || !self.m.blocking {
            return;
        }
        let Some(p) = &self.peer else { return };
        if p.peer_eof || p.peer_reset || self.m.rcvlowat > 1 {
            return;
        }
        if self.peer_send(1) == 1 {
            let r = call!(
                self,
                "receive after a timeout",
                None,
                |s| s.receive(Some(1)),
                |r| r
            );
            match r.expect("not cut") {
                Ok(data) => self.stream_data(data, Some(1), false),
                Err(e) => panic!("a timed-out socket is no longer usable: {e:?}"),
            }
        }
    }

    fn shutdown(&mut self, raw: i32, closed: bool) {
        let Some(how) = Shutdown::from_raw(raw) else {
            return; // not a direction: the API cannot even express it
        };
        let r = plain_mut!(self, |s| s.shutdown(how));
        if closed {
            return assert_illegal(&r, "shutdown");
        }
        if self.m.phase != Phase::Connected {
            let e = r.expect_err("shutdown unconnected");
            assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "{e:?}");
            return;
        }
        match r {
            Ok(()) => {
                self.m.shut = Some(match (self.m.shut, how) {
                    (None, h) => h,
                    (Some(a), b) if a == b => a,
                    _ => Shutdown::Both,
                });
            }
            Err(e) => {
                self.note_err("shutdown", &e);
                assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "{e:?}");
            }
        }
    }

    fn set_option(&mut self, o: SocketOption, v: Value, closed: bool) {
        // A receive low-water mark is a promise to wait for that many
        // bytes: keep it within what the harness's peer will send.
        let v = match (o == blade_socket::SO_RCVLOWAT, v) {
            (true, Value::Int(n)) if n > 4096 => Value::Int(4096),
            _ => v,
        };
        // Lingering on close blocks close: at most one second.
        let v = match (o == blade_socket::SO_LINGER, v) {
            (true, Value::Int(n)) if n > 1 => Value::Int(1),
            (true, Value::Dur(Some(d))) if d > Duration::from_secs(1) => {
                Value::Dur(Some(Duration::from_secs(1)))
            }
            _ => v,
        };
        let r = plain_mut!(self, |s| s.set_option(o, OptionValue::from(v)));
        if closed {
            return assert_illegal(&r, "set_option");
        }
        let read_only = [
            blade_socket::SO_TYPE,
            blade_socket::SO_ERROR,
            blade_socket::SO_ACCEPTCONN,
        ];
        if read_only.contains(&o) {
            let e = r.expect_err("a read-only option");
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(e.message(), "the given option is read-only");
            return;
        }
        let timeout = |v: Value| -> Option<Option<Duration>> {
            match v {
                Value::Dur(d) => Some(normalize(d)),
                Value::Int(ms) if ms >= 0 => {
                    Some(normalize(Some(Duration::from_millis(ms as u64))))
                }
                _ => None,
            }
        };
        if o == blade_socket::SO_SNDTIMEO || o == blade_socket::SO_RCVTIMEO {
            match timeout(v) {
                Some(t) => {
                    r.expect("a valid timeout");
                    if o == blade_socket::SO_SNDTIMEO {
                        self.m.send_timeout = t;
                    } else {
                        self.m.receive_timeout = t;
                    }
                }
                None => assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidArgument),
            }
            return;
        }
        match r {
            Ok(()) => {
                if o == blade_socket::SO_RCVLOWAT
                    && let Ok(OptionValue::Int(n)) = plain!(self, |s| s.get_option(o))
                {
                    self.m.rcvlowat = usize::try_from(n).unwrap_or(1);
                }
            }
            Err(e) => {
                self.note_err("set_option", &e);
                assert!(
                    matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::Os),
                    "set_option({o:?}, {v:?}): {e:?}"
                );
            }
        }
    }

    fn get_option(&mut self, o: SocketOption, closed: bool) {
        let r = plain!(self, |s| s.get_option(o));
        if closed {
            return assert_illegal(&r, "get_option");
        }
        if o == blade_socket::SO_SNDTIMEO {
            assert_eq!(r.unwrap(), OptionValue::Duration(self.m.send_timeout));
        } else if o == blade_socket::SO_RCVTIMEO {
            assert_eq!(r.unwrap(), OptionValue::Duration(self.m.receive_timeout));
        } else if o == blade_socket::SO_TYPE {
            let ty = if self.m.stream {
                SOCK_STREAM
            } else {
                SOCK_DGRAM
            };
            assert_eq!(r.unwrap(), OptionValue::Int(ty.raw().into()));
        } else if let Err(e) = r {
            assert!(
                matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::Os),
                "{e:?}"
            );
        }
    }

    /// A call pending while another task/thread closes the socket.
    fn close_during(&mut self, which: u8, us: u64, closed: bool) {
        if closed {
            return;
        }
        let delay = Duration::from_micros(us);
        let big = vec![0u8; 8 << 20];
        let r: Result<(), SocketError> = match self.sock.as_ref().expect("socket") {
            Sock::Async(s) => guarded(
                || format!("close_during({which}) on {s:?}"),
                || {
                    self.rt.block_on(async {
                        let op = async {
                            match which {
                                0 => s.receive(None).await.map(drop),
                                1 => s.accept().await.map(drop),
                                _ => s.send(&big).await.map(drop),
                            }
                        };
                        let closer = async {
                            tokio::time::sleep(delay).await;
                            s.close_shared().unwrap();
                        };
                        let (r, ()) =
                            tokio::time::timeout(HANG, async { tokio::join!(op, closer) })
                                .await
                                .expect("HANG: a pending call did not wake at close_shared");
                        r
                    })
                },
            ),
            Sock::Blocking(s) => guarded(
                || format!("close_during({which}) on {s:?}"),
                || {
                    std::thread::scope(|sc| {
                        sc.spawn(|| {
                            std::thread::sleep(delay);
                            s.close_shared().unwrap();
                        });
                        match which {
                            0 => s.receive(None).map(drop),
                            1 => s.accept().map(drop),
                            _ => s.send(&big).map(drop),
                        }
                    })
                },
            ),
        };
        if let Err(e) = &r {
            self.note_err("close_during", e);
        }
        // The peer's bytes may have been taken, or the send partly made:
        // stop checking byte streams for this connection.
        if let Some(p) = self.peer.as_mut() {
            p.sent_unknown = true;
        }
        self.peer = None;
        self.set_closed();
    }
}

// ============================================================== driver

fn run_case(
    rt: &tokio::runtime::Runtime,
    fx: &Fixture,
    stats: &mut Stats,
    async_face: bool,
    seed: u64,
    kind: u8,
    ops: &[Op],
) {
    let stream = kind < 2;
    let v6 = kind % 2 == 1;
    if v6 && !fx.v6 {
        return;
    }
    stats.cases += 1;
    let family = if v6 { AF_INET6 } else { AF_INET };
    let (ty, proto) = if stream {
        (SOCK_STREAM, IPPROTO_TCP)
    } else {
        (SOCK_DGRAM, IPPROTO_UDP)
    };
    let s = Socket::new(family, ty, proto).expect("socket");
    let sock = if async_face {
        Sock::Async(s)
    } else {
        Sock::Blocking(s.into())
    };
    let mut h = Harness {
        rt,
        fx,
        sock: Some(sock),
        m: Model {
            phase: Phase::Fresh,
            shut: None,
            blocking: true,
            send_timeout: None,
            receive_timeout: None,
            stream,
            v6,
            rcvlowat: 1,
            nodelay: None,
            udp_connected: None,
        },
        peer: None,
        partner_clients: VecDeque::new(),
        datagrams: VecDeque::new(),
        seed,
        stats,
        async_face,
    };
    h.check("creation");
    for op in ops {
        h.run(op);
    }
    h.finish();
}

impl Harness<'_> {
    /// End of a case: the peer has received exactly what our sends
    /// reported (while the connection still stands), then all is dropped.
    fn finish(&mut self) {
        let intact = self.m.phase == Phase::Connected
            && !matches!(self.m.shut, Some(Shutdown::Write | Shutdown::Both));
        if let Some(p) = &self.peer
            && intact
            && !p.sent_unknown
            && !p.peer_reset
            && p.stream.is_some()
        {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                self.peer_drain();
                let p = self.peer.as_ref().expect("peer");
                if p.peer_read == p.we_sent {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the peer got {} bytes, our sends reported {}",
                    p.peer_read,
                    p.we_sent
                );
                // Wait for the bytes still in flight: a blocking peek with
                // the time left, then back to the non-blocking drain.
                let s = p.stream.as_ref().expect("peer stream");
                let left = deadline.saturating_duration_since(Instant::now());
                s.set_nonblocking(false).expect("blocking peer");
                s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .expect("peer read timeout");
                let _ = s.peek(&mut [0u8; 1]);
                s.set_nonblocking(true).expect("non-blocking peer");
            }
        }
        self.drop_partner_datagrams();
        let _ = self.async_face;
        // The peer closes first, so that TIME_WAIT entries sit on the
        // fixture's listening port instead of on thousands of ephemeral ones.
        self.peer = None;
        self.partner_clients.clear();
        // Drop the socket inside the runtime (an async socket may be
        // registered with its reactor).
        let s = self.sock.take();
        let _g = self.rt.enter();
        drop(s);
    }
}

fn run_face(async_face: bool) {
    let fx = Fixture::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases = cases_per_face();
    let stats = std::cell::RefCell::new(Stats::default());
    let seed = std::cell::Cell::new(1u64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    });
    let t = Instant::now();
    let result = runner.run(&case(), |(kind, ops)| {
        seed.set(seed.get() + 1);
        run_case(
            &rt,
            &fx,
            &mut stats.borrow_mut(),
            async_face,
            seed.get(),
            kind,
            &ops,
        );
        Ok(())
    });
    let stats = stats.into_inner();
    let face = if async_face { "async" } else { "blocking" };
    let mut errors: Vec<_> = stats.errors.iter().collect();
    errors.sort_by_key(|e| std::cmp::Reverse(*e.1));
    println!(
        "fuzz ({face}): {cases} cases in {:.1} s: {} runs, {} calls, {} timeouts, {} cut off, {} unbounded skipped, {} closed-socket sweeps, {} accepted, {} bytes in, {} out",
        t.elapsed().as_secs_f64(),
        stats.cases,
        stats.calls,
        stats.timeouts,
        stats.cut_off,
        stats.skipped_unbounded,
        stats.closed_checks,
        stats.accepted,
        stats.bytes_in,
        stats.bytes_out
    );
    for (e, n) in errors.iter().take(12) {
        println!("fuzz ({face}):   {n:>7} x {e}");
    }
    let mut time: Vec<_> = stats.time.iter().collect();
    time.sort_by_key(|t| std::cmp::Reverse(t.1.1));
    let top: Vec<String> = time
        .iter()
        .take(8)
        .map(|(k, (n, d))| format!("{k} {n} in {:.2} s", d.as_secs_f64()))
        .collect();
    println!("fuzz ({face}): time by call: {}", top.join(", "));
    if let Err(e) = result {
        panic!("fuzz ({face}) failed: {e}");
    }
}

#[test]
fn fuzz_async_face() {
    run_face(true);
}

#[test]
fn fuzz_blocking_face() {
    run_face(false);
}

// ====================================================== random triples

#[derive(Clone, Debug)]
enum LocalOp {
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

fn local_op() -> impl Strategy<Value = LocalOp> {
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
fn any_family() -> impl Strategy<Value = i32> {
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

fn any_type() -> impl Strategy<Value = i32> {
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

fn any_protocol() -> impl Strategy<Value = i32> {
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

/// Sockets from random family/type/protocol triples: `new` never panics;
/// a socket it makes answers every local call consistently.
#[test]
fn fuzz_random_triples() {
    let cases = (cases_per_face() / 5).max(1);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let made = std::cell::Cell::new(0u64);
    let t = Instant::now();
    let result = runner.run(
        &(
            any_family(),
            any_type(),
            any_protocol(),
            any::<bool>(),
            proptest::collection::vec(local_op(), 0..16),
        ),
        |(f, ty, p, async_face, ops)| {
            let (family, ty, proto) = (
                Family::from_raw(f),
                SockType::from_raw(ty),
                Protocol::from_raw(p),
            );
            let _ = format!("{family:?} {ty:?} {proto:?}");
            let made_one = if async_face {
                Socket::new(family, ty, proto).map(|s| local_ops_async(s, &ops))
            } else {
                blocking::Socket::new(family, ty, proto).map(|s| local_ops_blocking(s, &ops))
            };
            if made_one.is_ok() {
                made.set(made.get() + 1);
            }
            Ok(())
        },
    );
    println!(
        "fuzz (triples): {cases} cases in {:.1} s, {} sockets made",
        t.elapsed().as_secs_f64(),
        made.get()
    );
    if let Err(e) = result {
        panic!("fuzz (triples) failed: {e}");
    }
}

macro_rules! local_ops {
    ($name:ident, $ty:ty, $other:ty) => {
        fn $name(mut s: $ty, ops: &[LocalOp]) {
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
                                "socket is in an illegal state",
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
