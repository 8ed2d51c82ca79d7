//! The interaction suite, datagram part: every datagram read path
//! (`receive`, `receive_into`, `receive_from`, `receive_many`, `AsyncRead`,
//! and the facade's twins) run against each other on one socket, with GRO
//! on and off, `SO_TIMESTAMP`, non-blocking mode and the forced fallbacks
//! (`refuse_offload`), on both faces. The invariants (API.md §3, "a datagram
//! read never merges, truncates or skips silently"):
//! - every datagram is delivered once, whole, or reported;
//! - each reader sees datagrams in the order they were sent;
//! - no datagram waits in a backlog while a read returns something newer,
//!   or times out;
//! - a returned datagram holds memory in proportion to its size.
//!
//! The races run bounded rounds (a few seconds in CI);
//! `BLADE_SOCKET_COMPOSE_ROUNDS=N` runs `N` rounds of each instead:
//!
//! ```text
//! BLADE_SOCKET_COMPOSE_ROUNDS=100000 cargo test --release --test compose_datagrams -- --nocapture
//! ```

mod support;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use blade_socket::{
    AF_INET, Datagram, ErrorKind, IPPROTO_UDP, SO_TIMESTAMP, SOCK_DGRAM, SOCK_SEQPACKET, Socket,
    blocking,
};
use support::*;
use tokio::{io::AsyncReadExt, sync::mpsc};

// ---------------------------------------------------------------------------
// Live heap bytes, for the memory invariant.

/// The system allocator, counting the bytes each thread allocated and
/// freed (tests run in parallel: a thread-local count sees only its own).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: a thread being torn down has no count left to keep.
    let _ = LIVE.try_with(|c| c.set(c.get() + delta));
}

fn live() -> isize {
    LIVE.with(Cell::get)
}

// SAFETY: every call is passed to `System` unchanged; only a counter is kept.
// (A global allocator cannot be written without `unsafe`: this is the
// allocation-counting proof the memory invariant asks for.)
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

// ---------------------------------------------------------------------------
// Datagrams that say who they are.

/// Rounds of each race: a few in CI, `BLADE_SOCKET_COMPOSE_ROUNDS` for a long run.
fn rounds(ci: usize) -> usize {
    std::env::var("BLADE_SOCKET_COMPOSE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci)
}

/// Datagram `i` of `size` bytes (at least 4): its index, then a pattern
/// that depends on both, so a datagram cut short, merged with another or
/// taken from elsewhere is told apart from a whole one.
fn datagram(i: u32, size: usize) -> Vec<u8> {
    assert!(size >= 4);
    let mut d: Vec<u8> = (0..size)
        .map(|j| (i as usize).wrapping_mul(31).wrapping_add(j) as u8)
        .collect();
    d[..4].copy_from_slice(&i.to_be_bytes());
    d
}

/// The index of a datagram that `size_of` says must be `size_of(i)` bytes,
/// after checking that it is whole and not merged; what is wrong otherwise.
fn check(d: &[u8], size_of: impl Fn(u32) -> usize) -> Result<u32, String> {
    if d.len() < 4 {
        return Err(format!("a datagram of {} bytes: cut short", d.len()));
    }
    let i = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    let want = size_of(i);
    if d.len() != want {
        return Err(format!(
            "datagram {i}: {} bytes where {want} were sent (truncated or merged)",
            d.len()
        ));
    }
    if d[..] != datagram(i, want)[..] {
        return Err(format!("datagram {i}: wrong bytes"));
    }
    Ok(i)
}

/// [`check`], failing the test.
fn whole(d: &[u8], size_of: impl Fn(u32) -> usize) -> u32 {
    check(d, size_of).unwrap_or_else(|e| panic!("{e}"))
}

/// What a reader task reports: a datagram's index, or what was wrong.
type Report = (&'static str, Result<u32, String>);

/// Collects `(reader, index)` reports until `n` came; checks that each index
/// came once and that each reader's indices rise.
struct Tally {
    seen: Vec<bool>,
    last: HashMap<&'static str, u32>,
    count: usize,
}

impl Tally {
    fn new(total: usize) -> Tally {
        Tally {
            seen: vec![false; total],
            last: HashMap::new(),
            count: 0,
        }
    }

    fn note(&mut self, reader: &'static str, i: u32) {
        let slot = self
            .seen
            .get_mut(i as usize)
            .unwrap_or_else(|| panic!("{reader}: datagram {i} was never sent"));
        assert!(!*slot, "{reader}: datagram {i} delivered twice");
        *slot = true;
        if let Some(&last) = self.last.get(reader) {
            assert!(
                i > last,
                "{reader}: datagram {i} after {last}: out of order"
            );
        }
        self.last.insert(reader, i);
        self.count += 1;
    }

    /// Waits for `n` more reports (each within [`LIMIT`]).
    async fn take(&mut self, rx: &mut mpsc::UnboundedReceiver<Report>, n: usize) {
        for _ in 0..n {
            let (reader, r) = within(rx.recv())
                .await
                .expect("every reader stopped before all datagrams came");
            match r {
                Ok(i) => self.note(reader, i),
                Err(e) => panic!("{reader}: {e}"),
            }
        }
    }
}

async fn udp_bound() -> Socket {
    let mut s = Socket::new(AF_INET, SOCK_DGRAM, IPPROTO_UDP).expect("socket");
    s.bind(0, Some("127.0.0.1")).await.expect("bind");
    s
}

fn addr_of(s: &Socket) -> SocketAddr {
    let info = s.info().expect("info");
    SocketAddr::new(info.address.parse().expect("an IP"), info.port)
}

/// A receiver connected to a sender, both UDP on loopback: `receive` works.
async fn udp_pair() -> (Socket, Socket) {
    let mut rx = udp_bound().await;
    let mut tx = udp_bound().await;
    rx.connect_addr(addr_of(&tx), None).await.expect("connect");
    tx.connect_addr(addr_of(&rx), None).await.expect("connect");
    (rx, tx)
}

/// Turns `UDP_GRO` on before anything is sent: a `receive_many` with
/// nothing queued (it turns GRO on before it waits).
async fn gro_on(rx: &mut Socket) {
    rx.set_blocking(false).expect("non-blocking");
    let e = rx.receive_many(1).await.expect_err("nothing was sent");
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    rx.set_blocking(true).expect("blocking");
    let linux = cfg!(all(target_os = "linux", not(blade_socket_portable)));
    assert_eq!(rx.offload_state().1, linux, "UDP_GRO is on (Linux only)");
}

// ---------------------------------------------------------------------------
// Defect 1: concurrent receivers, sized by a peek, truncated silently.

/// Sizes for the concurrent-receiver race: small and large alternate, so a
/// read sized for one and given the other shows.
fn alternating(i: u32) -> usize {
    if i % 2 == 0 { 8 } else { 1500 }
}

/// Three tasks call `receive_from(None)` on one socket while 8-byte and
/// 1500-byte datagrams alternate: each comes back whole, once.
async fn three_receivers(rx: Arc<Socket>, send: impl Fn(u32) + Send + 'static, rounds: usize) {
    let (report, mut reports) = mpsc::unbounded_channel();
    let names = ["receive_from#1", "receive_from#2", "receive_from#3"];
    let readers: Vec<_> = names
        .into_iter()
        .map(|name| {
            let rx = Arc::clone(&rx);
            let report = report.clone();
            tokio::spawn(async move {
                loop {
                    let r = match rx.receive_from(None).await {
                        Ok(d) => check(&d.data, alternating),
                        Err(e) => Err(e.to_string()),
                    };
                    if report.send((name, r)).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    let per_round = 64;
    let mut tally = Tally::new(rounds * per_round);
    let mut next = 0u32;
    for _ in 0..rounds {
        for _ in 0..per_round {
            send(next);
            next += 1;
        }
        // Each round is received before the next is sent: the receive
        // buffer never overflows, so nothing may be missing.
        tally.take(&mut reports, per_round).await;
    }
    for r in readers {
        r.abort();
    }
    assert_eq!(tally.count, rounds * per_round);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn concurrent_udp_receivers_get_whole_datagrams() {
    let rx = udp_bound().await;
    let to = addr_of(&rx);
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").expect("std socket");
    let send = move |i: u32| {
        tx.send_to(&datagram(i, alternating(i)), to).expect("send");
    };
    three_receivers(Arc::new(rx), send, rounds(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn concurrent_unix_datagram_receivers_get_whole_datagrams() {
    let (rx, tx) = std::os::unix::net::UnixDatagram::pair().expect("unix datagram pair");
    let rx = Socket::try_from(rx).expect("from std");
    let send = move |i: u32| {
        tx.send(&datagram(i, alternating(i))).expect("send");
    };
    three_receivers(Arc::new(rx), send, rounds(300)).await;
}

// ---------------------------------------------------------------------------
// Every read path against every other, on one socket, in each mode.

/// The sizes of the mixed race: runs of equal sizes (sent with GSO, so GRO
/// may coalesce them), changing from run to run.
const RUN: usize = 16;
const RUN_SIZES: [usize; 5] = [4, 100, 1200, 9, 1472];

fn run_size(i: u32) -> usize {
    RUN_SIZES[(i as usize / RUN) % RUN_SIZES.len()]
}

/// How the receiving socket is set up for a mixed race.
#[derive(Clone, Copy, Debug)]
struct Mode {
    gro: bool,
    timestamp: bool,
    /// `recvmmsg` refused: `receive_many` reads one datagram per call.
    no_mmsg: bool,
}

/// Readers of every kind on one connected UDP socket (async tasks, and a
/// facade thread on a `try_clone` of it), while runs of datagrams arrive
/// with GSO: each datagram comes back once and whole, each reader's in order.
async fn mixed_race(mode: Mode, rounds: usize) {
    let (mut rx, tx) = udp_pair().await;
    if mode.timestamp {
        rx.set_option(SO_TIMESTAMP, true).expect("SO_TIMESTAMP");
    }
    rx.refuse_offload(false, !mode.gro, mode.no_mmsg);
    if mode.gro {
        gro_on(&mut rx).await;
    }
    let facade = blocking::Socket::from(rx.try_clone().expect("try_clone"));
    facade.set_receive_timeout(Some(Duration::from_millis(50)));
    let rx = Arc::new(rx);
    let (report, mut reports) = mpsc::unbounded_channel::<Report>();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    macro_rules! reader {
        ($name:literal, |$s:ident| $read:expr) => {{
            let $s = Arc::clone(&rx);
            let report = report.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    for data in $read {
                        if report.send(($name, check(&data, run_size))).is_err() {
                            return;
                        }
                    }
                }
            }));
        }};
    }
    reader!("receive_from", |s| [s
        .receive_from(None)
        .await
        .expect("receive_from")
        .data]);
    reader!("receive", |s| [s
        .receive(None)
        .await
        .expect("receive")
        .expect("a datagram, never end of file")]);
    reader!("receive_into", |s| {
        let mut buf = [0u8; 2048];
        let n = s.receive_into(&mut buf).await.expect("receive_into");
        [bytes::Bytes::copy_from_slice(&buf[..n])]
    });
    reader!("receive_many", |s| s
        .receive_many(4)
        .await
        .expect("receive_many")
        .into_iter()
        .map(|d: Datagram| d.data)
        .collect::<Vec<_>>());
    reader!("AsyncRead", |s| {
        let mut buf = [0u8; 2048];
        let n = (&*s).read(&mut buf).await.expect("AsyncRead");
        [bytes::Bytes::copy_from_slice(&buf[..n])]
    });
    let facade_thread = {
        let report = report.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let got = match n % 3 {
                    0 => facade.receive_from(None).map(|d| vec![d.data]),
                    1 => facade.receive(None).map(|d| d.into_iter().collect()),
                    _ => facade
                        .receive_many(3)
                        .map(|v| v.into_iter().map(|d| d.data).collect()),
                };
                n += 1;
                match got {
                    Ok(all) => {
                        for data in all {
                            let _ = report.send(("facade", check(&data, run_size)));
                        }
                    }
                    Err(e) if e.is_timeout() => {}
                    Err(e) => {
                        let _ = report.send(("facade", Err(e.to_string())));
                        return;
                    }
                }
            }
        })
    };
    drop(report);
    let mut tally = Tally::new(rounds * RUN);
    for r in 0..rounds {
        let first = (r * RUN) as u32;
        let run: Vec<Vec<u8>> = (first..first + RUN as u32)
            .map(|i| datagram(i, run_size(i)))
            .collect();
        let sent = within(tx.send_many_to(addr_of(&rx), &run))
            .await
            .expect("send_many_to");
        assert_eq!(sent, RUN);
        tally.take(&mut reports, RUN).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    within_blocking(move || facade_thread.join().expect("facade reader"));
    assert_eq!(tally.count, rounds * RUN, "{mode:?}");
}

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn every_read_path_at_once_with_gro() {
    let mode = Mode {
        gro: true,
        timestamp: false,
        no_mmsg: false,
    };
    mixed_race(mode, rounds(200)).await;
}

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn every_read_path_at_once_with_gro_and_timestamps() {
    let mode = Mode {
        gro: true,
        timestamp: true,
        no_mmsg: false,
    };
    mixed_race(mode, rounds(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn every_read_path_at_once_without_gro() {
    let mode = Mode {
        gro: false,
        timestamp: false,
        no_mmsg: false,
    };
    mixed_race(mode, rounds(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn every_read_path_at_once_with_every_fallback() {
    let mode = Mode {
        gro: false,
        timestamp: true,
        no_mmsg: true,
    };
    mixed_race(mode, rounds(200)).await;
}

// ---------------------------------------------------------------------------
// Defect 2: another control message hid GRO's segment size.

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test]
async fn gro_with_timestamps_splits_every_read() {
    let (mut rx, tx) = udp_pair().await;
    rx.set_option(SO_TIMESTAMP, true).expect("SO_TIMESTAMP");
    gro_on(&mut rx).await;
    let run: Vec<Vec<u8>> = (0..8).map(|i| datagram(i, 100)).collect();
    within(tx.send_many_to(addr_of(&rx), &run))
        .await
        .expect("send");
    let mut got = Vec::new();
    while got.len() < 8 {
        got.extend(within(rx.receive_many(64)).await.expect("receive_many"));
    }
    let idx: Vec<u32> = got.iter().map(|d| whole(&d.data, |_| 100)).collect();
    assert_eq!(idx, (0..8).collect::<Vec<_>>());
    // The same through the one-datagram paths.
    within(tx.send_many_to(addr_of(&rx), &run))
        .await
        .expect("send");
    for i in 0..8 {
        let d = within(rx.receive_from(None)).await.expect("receive_from");
        assert_eq!(whole(&d.data, |_| 100), i);
    }
}

// ---------------------------------------------------------------------------
// Defect 3: readers that did not split GRO reads.

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test]
async fn async_read_splits_gro_reads() {
    let (mut rx, tx) = udp_pair().await;
    gro_on(&mut rx).await;
    let run: Vec<Vec<u8>> = (0..8).map(|i| datagram(i, 100)).collect();
    within(tx.send_many_to(addr_of(&rx), &run))
        .await
        .expect("send");
    let mut buf = [0u8; 4096];
    for i in 0..8 {
        let n = within((&rx).read(&mut buf)).await.expect("read");
        assert_eq!(whole(&buf[..n], |_| 100), i);
    }
}

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test]
async fn a_receive_parked_before_gro_came_on_splits_too() {
    let (rx, tx) = udp_pair().await;
    // Parked first: polled once, with nothing queued and GRO still off.
    let mut parked = std::pin::pin!(rx.receive(None));
    assert!(futures::poll!(&mut parked).is_pending());
    assert!(!rx.offload_state().1);
    // GRO comes on while it is parked (a receive_many that finds nothing:
    // it turns GRO on first, then times out).
    let other = rx.try_clone().expect("try_clone");
    other.set_receive_timeout(Some(Duration::from_millis(20)));
    let e = within(other.receive_many(1))
        .await
        .expect_err("nothing sent");
    assert!(e.is_timeout(), "{e}");
    assert!(rx.offload_state().1, "UDP_GRO is on (Linux)");
    let run: Vec<Vec<u8>> = (0..8).map(|i| datagram(i, 100)).collect();
    within(tx.send_many_to(addr_of(&rx), &run))
        .await
        .expect("send");
    let first = within(parked).await.expect("receive").expect("a datagram");
    assert_eq!(
        whole(&first, |_| 100),
        0,
        "one datagram, not the GRO read whole"
    );
    for i in 1..8 {
        let d = within(rx.receive(None))
            .await
            .expect("receive")
            .expect("datagram");
        assert_eq!(whole(&d, |_| 100), i);
    }
}

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test]
async fn a_length_cuts_one_datagram_of_a_gro_read_and_loses_none() {
    let (mut rx, tx) = udp_pair().await;
    gro_on(&mut rx).await;
    let run: Vec<Vec<u8>> = (0..8).map(|i| datagram(i, 100)).collect();
    within(tx.send_many_to(addr_of(&rx), &run))
        .await
        .expect("send");
    let cut = within(rx.receive(Some(10))).await.expect("receive");
    assert_eq!(cut.as_deref(), Some(&datagram(0, 100)[..10]));
    let mut small = [0u8; 6];
    assert_eq!(within(rx.receive_into(&mut small)).await.expect("into"), 6);
    assert_eq!(small[..], datagram(1, 100)[..6]);
    for i in 2..8 {
        let d = within(rx.receive_from(None)).await.expect("receive_from");
        assert_eq!(whole(&d.data, |_| 100), i);
    }
}

// ---------------------------------------------------------------------------
// Defect 5: receive_many read more than asked into a backlog others ignored.

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test]
async fn receive_many_takes_no_more_than_asked_and_others_drain_the_backlog() {
    for gro in [false, true] {
        let (mut rx, tx) = udp_pair().await;
        if gro {
            gro_on(&mut rx).await;
        } else {
            rx.refuse_offload(false, true, false);
        }
        rx.set_receive_timeout(Some(Duration::from_secs(5)));
        let all: Vec<Vec<u8>> = (0..64).map(|i| datagram(i, 100)).collect();
        within(tx.send_many_to(addr_of(&rx), &all))
            .await
            .expect("send");
        for next in 0..64u32 {
            let data: Vec<u8> = match next % 5 {
                0 => {
                    let v = within(rx.receive_many(1)).await.expect("receive_many");
                    assert_eq!(v.len(), 1);
                    v[0].data.to_vec()
                }
                1 => within(rx.receive_from(None))
                    .await
                    .expect("from")
                    .data
                    .to_vec(),
                2 => within(rx.receive(None))
                    .await
                    .expect("receive")
                    .expect("d")
                    .to_vec(),
                3 => {
                    let mut buf = [0u8; 512];
                    let n = within(rx.receive_into(&mut buf)).await.expect("into");
                    buf[..n].to_vec()
                }
                _ => {
                    let mut buf = [0u8; 512];
                    let n = within((&rx).read(&mut buf)).await.expect("read");
                    buf[..n].to_vec()
                }
            };
            assert_eq!(whole(&data, |_| 100), next, "gro {gro}: out of order");
        }
        // Nothing left anywhere.
        rx.set_blocking(false).expect("non-blocking");
        let e = rx.receive_from(None).await.expect_err("all 64 were read");
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
    }
}

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[test]
fn the_facade_drains_the_backlog_first_too() {
    let (rx, tx) = support::face::runtime().block_on(async {
        let (mut rx, tx) = udp_pair().await;
        gro_on(&mut rx).await;
        rx.set_receive_timeout(Some(Duration::from_secs(5)));
        (rx, tx)
    });
    let rx = blocking::Socket::from(rx);
    let tx = blocking::Socket::from(tx);
    let to = {
        let info = rx.info().expect("info");
        SocketAddr::new(info.address.parse().expect("ip"), info.port)
    };
    let all: Vec<Vec<u8>> = (0..16).map(|i| datagram(i, 64)).collect();
    assert_eq!(tx.send_many_to(to, &all).expect("send"), 16);
    let first = rx.receive_many(1).expect("receive_many");
    assert_eq!(whole(&first[0].data, |_| 64), 0);
    // With GRO the rest came in the same read and waits in the backlog:
    // the facade's reads take it, in order, without waiting for the kernel.
    for i in 1..16u32 {
        let data = match i % 3 {
            0 => rx.receive_from(None).expect("from").data,
            1 => rx.receive(None).expect("receive").expect("d"),
            _ => {
                use std::io::Read;
                let mut buf = [0u8; 256];
                let n = (&rx).read(&mut buf).expect("read");
                bytes::Bytes::copy_from_slice(&buf[..n])
            }
        };
        assert_eq!(whole(&data, |_| 64), i);
    }
}

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test]
async fn non_blocking_reads_take_the_backlog_before_would_block() {
    let (mut rx, tx) = udp_pair().await;
    gro_on(&mut rx).await;
    let all: Vec<Vec<u8>> = (0..8).map(|i| datagram(i, 100)).collect();
    within(tx.send_many_to(addr_of(&rx), &all))
        .await
        .expect("send");
    let first = within(rx.receive_many(1)).await.expect("receive_many");
    assert_eq!(whole(&first[0].data, |_| 100), 0);
    rx.set_blocking(false).expect("non-blocking");
    for i in 1..8 {
        let d = rx.receive_from(None).await.expect("from the backlog");
        assert_eq!(whole(&d.data, |_| 100), i);
    }
    let e = rx.receive(None).await.expect_err("nothing left");
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
}

// ---------------------------------------------------------------------------
// Defect 13: an empty SOCK_SEQPACKET record is not end of file.

#[tokio::test]
async fn an_empty_record_is_some_empty_and_end_of_file_is_none() {
    let (a, b) = Socket::pair_of(SOCK_SEQPACKET).expect("seqpacket pair");
    within(a.send(b"")).await.expect("empty record");
    within(a.send(b"one")).await.expect("record");
    within(a.send(b"")).await.expect("empty record");
    assert_eq!(
        within(b.receive(None)).await.expect("r"),
        Some(bytes::Bytes::new())
    );
    assert_eq!(
        within(b.receive(None)).await.expect("r").as_deref(),
        Some(&b"one"[..])
    );
    let mut a = a;
    a.close().expect("close");
    // The empty record sent before the close is still a record.
    assert_eq!(
        within(b.receive(None)).await.expect("r"),
        Some(bytes::Bytes::new())
    );
    assert_eq!(within(b.receive(None)).await.expect("r"), None);
    assert_eq!(within(b.receive(Some(10))).await.expect("r"), None);
    // The probe leaves the option as it was.
    assert_eq!(
        b.get_option(SO_TIMESTAMP).expect("get"),
        blade_socket::OptionValue::Bool(false)
    );
}

#[test]
fn the_facade_reads_an_empty_record_as_some_empty() {
    let (a, b) = blocking::Socket::pair_of(SOCK_SEQPACKET).expect("seqpacket pair");
    a.send(b"").expect("empty record");
    a.send(b"x").expect("record");
    assert_eq!(b.receive(None).expect("r"), Some(bytes::Bytes::new()));
    assert_eq!(b.receive(None).expect("r").as_deref(), Some(&b"x"[..]));
    drop(a);
    assert_eq!(b.receive(None).expect("r"), None);
}

// ---------------------------------------------------------------------------
// Found by reading: GSO off for good after one refusal.

#[cfg(all(target_os = "linux", not(blade_socket_portable)))] // UDP GRO/GSO
#[tokio::test]
async fn gso_is_tried_again_after_a_refusal_and_nothing_is_lost() {
    let (rx, tx) = udp_pair().await;
    rx.refuse_offload(false, true, false);
    rx.set_receive_timeout(Some(Duration::from_secs(5)));
    tx.refuse_offload(true, false, false);
    let mut next = 0u32;
    let batch = |next: &mut u32, n: usize| -> Vec<Vec<u8>> {
        let b = (*next..*next + n as u32)
            .map(|i| datagram(i, 200))
            .collect();
        *next += n as u32;
        b
    };
    let mut expect = 0u32;
    let first = batch(&mut next, 8);
    assert_eq!(
        within(tx.send_many_to(addr_of(&rx), &first))
            .await
            .expect("send"),
        8
    );
    assert!(!tx.offload_state().0, "GSO refused: off for now");
    tx.refuse_offload(false, false, false);
    let mut batches = 0;
    // Every datagram once, in order, while GSO is off and once it is back.
    loop {
        while expect < next {
            let d = within(rx.receive_from(None)).await.expect("from");
            assert_eq!(whole(&d.data, |_| 200), expect);
            expect += 1;
        }
        if tx.offload_state().0 {
            break;
        }
        batches += 1;
        assert!(batches <= 256, "GSO never tried again");
        let b = batch(&mut next, 2);
        assert_eq!(
            within(tx.send_many_to(addr_of(&rx), &b))
                .await
                .expect("send"),
            2
        );
    }
    assert!(batches > 1, "GSO stays off for a while after a refusal");
    let last = batch(&mut next, 8);
    assert_eq!(
        within(tx.send_many_to(addr_of(&rx), &last))
            .await
            .expect("send"),
        8
    );
    assert!(tx.offload_state().0, "GSO works again");
    while expect < next {
        let d = within(rx.receive_from(None)).await.expect("from");
        assert_eq!(whole(&d.data, |_| 200), expect);
        expect += 1;
    }
}

// ---------------------------------------------------------------------------
// Found by reading: a Datagram pinned its whole read block.

/// Live heap bytes that `keep` datagrams out of `total` small ones still
/// hold once everything else (sockets included) is gone.
async fn pinned_by_kept(read: &str, total: u32, keep_every: u32) -> (isize, usize) {
    let before = live();
    let mut kept: Vec<bytes::Bytes> = Vec::new();
    {
        let (rx, tx) = udp_pair().await;
        rx.refuse_offload(false, true, false);
        let to = addr_of(&rx);
        for chunk in (0..total).collect::<Vec<_>>().chunks(64) {
            let msgs: Vec<Vec<u8>> = chunk.iter().map(|&i| datagram(i, 16)).collect();
            within(tx.send_many_to(to, &msgs)).await.expect("send");
            let mut got = Vec::new();
            while got.len() < chunk.len() {
                match read {
                    "receive_from" => got.push(within(rx.receive_from(None)).await.unwrap().data),
                    "receive" => got.push(within(rx.receive(None)).await.unwrap().unwrap()),
                    _ => got.extend(
                        within(rx.receive_many(64))
                            .await
                            .unwrap()
                            .into_iter()
                            .map(|d| d.data),
                    ),
                }
            }
            for data in got {
                if whole(&data, |_| 16) % keep_every == 0 {
                    kept.push(data);
                }
            }
        }
    }
    // Let the runtime drop what the sockets' tasks held.
    tokio::task::yield_now().await;
    let pinned = live() - before;
    (pinned, kept.len())
}

#[tokio::test(flavor = "current_thread")]
async fn a_kept_datagram_pins_memory_in_proportion_to_its_size() {
    for read in ["receive_from", "receive", "receive_many"] {
        let (pinned, kept) = pinned_by_kept(read, 1024, 64).await;
        // Each kept 16-byte datagram may hold at most the 1 KiB block it
        // shares with its neighbours (the rest is slack for the runtime's
        // own allocations); before, they held a 256 KiB (receive_from) or
        // 4 MiB (receive_many) read buffer between them.
        let bound = kept as isize * 1024 + 48 * 1024;
        assert!(
            pinned <= bound,
            "{read}: {kept} kept 16-byte datagrams hold {pinned} bytes (bound {bound})"
        );
    }
}
