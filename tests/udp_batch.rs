//! Batched datagrams: `receive_many` and `send_many_to` on both faces, with
//! UDP GSO/GRO and each fallback forced.

mod support;
use std::{net::SocketAddr, time::Duration};

use blade_socket::{
    AF_INET, AF_INET6, Datagram, ErrorKind, IPPROTO_UDP, SOCK_DGRAM, Socket, blocking,
};
use support::*;

/// Messages of the given sizes, each starting with its index (when it has
/// room) so that order and content can be checked.
fn messages(sizes: &[usize]) -> Vec<Vec<u8>> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut m: Vec<u8> = (0..n).map(|j| (i * 7 + j) as u8).collect();
            let tag = (i as u16).to_be_bytes();
            let k = n.min(2);
            m[..k].copy_from_slice(&tag[..k]);
            m
        })
        .collect()
}

/// Runs of equal sizes with a shorter last, empty datagrams, a size change
/// in mid-run, a lone large datagram: what GSO planning must get right.
const MIXED: &[usize] = &[
    64, 64, 64, 10, 64, 0, 0, 1200, 1200, 1200, 1200, 1199, 1, 60_000, 5, 5, 5, 5, 7, 0, 300,
];

async fn udp(family: blade_socket::Family) -> Socket {
    let mut s = Socket::new(family, SOCK_DGRAM, IPPROTO_UDP).expect("socket");
    s.bind(0, None).await.expect("bind");
    s
}

fn addr_of(s: &Socket) -> SocketAddr {
    let info = s.info().expect("info");
    SocketAddr::new(info.address.parse().expect("an IP"), info.port)
}

/// Receives with `receive_many(max)` until `n` datagrams came.
async fn collect(rx: &Socket, n: usize, max: usize) -> Vec<Datagram> {
    let mut got = Vec::new();
    while got.len() < n {
        let batch = within(rx.receive_many(max)).await.expect("receive_many");
        assert!(!batch.is_empty() && batch.len() <= max, "{}", batch.len());
        got.extend(batch);
    }
    assert_eq!(got.len(), n, "no more datagrams than were sent");
    got
}

/// Every datagram's bytes, order and sender.
fn check(got: &[Datagram], sent: &[Vec<u8>], from: &Socket) {
    let from = from.info().expect("info");
    assert_eq!(got.len(), sent.len());
    for (i, (d, m)) in got.iter().zip(sent).enumerate() {
        assert_eq!(&d.data[..], &m[..], "datagram {i} of sizes {}", m.len());
        assert_eq!(
            (d.host.as_str(), d.port),
            (from.address.as_str(), from.port)
        );
    }
}

/// Turns `UDP_GRO` on before anything is sent (a `receive_many` with nothing
/// queued, in non-blocking mode), so that what follows arrives coalesced.
async fn prime(rx: &mut Socket) {
    rx.set_blocking(false).unwrap();
    let e = rx.receive_many(1).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    rx.set_blocking(true).unwrap();
}

/// Sends `sizes` in batches of at most 64 and receives each batch before the
/// next, so that the receiver's buffer never overflows.
async fn round_trip(family: blade_socket::Family, sizes: &[usize], max: usize) {
    let mut rx = udp(family).await;
    prime(&mut rx).await;
    let tx = udp(family).await;
    let to = addr_of(&rx);
    let all = messages(sizes);
    let mut got = Vec::new();
    for chunk in all.chunks(64) {
        let n = within(tx.send_many_to(to, chunk))
            .await
            .expect("send_many_to");
        assert_eq!(n, chunk.len());
        got.extend(collect(&rx, chunk.len(), max).await);
    }
    check(&got, &all, &tx);
}

#[tokio::test]
async fn mixed_sizes_round_trip_over_ipv4() {
    round_trip(AF_INET, MIXED, 64).await;
}

#[tokio::test]
async fn mixed_sizes_round_trip_over_ipv6() {
    round_trip(AF_INET6, MIXED, 64).await;
}

#[tokio::test]
async fn full_batches_of_small_and_large_datagrams() {
    round_trip(AF_INET, &[64; 256], 64).await;
    round_trip(AF_INET, &[1200; 128], 64).await;
    round_trip(AF_INET6, &[1200; 64], 64).await;
}

#[tokio::test]
async fn max_smaller_than_what_is_queued() {
    // A GRO read carries all 40; receive_many(3) hands out 3 at a time and
    // keeps the rest, in order.
    round_trip(AF_INET, &[100; 40], 3).await;
    round_trip(AF_INET, MIXED, 1).await;
}

/// Whether the build uses Linux's offloads (GSO, GRO, `mmsg`); the portable
/// paths (`--cfg blade_socket_portable`, macOS, FreeBSD) use none of them.
const LINUX_OFFLOADS: bool = cfg!(all(target_os = "linux", not(blade_socket_portable)));

#[tokio::test]
async fn receive_from_after_receive_many_returns_one_datagram_each() {
    let mut rx = udp(AF_INET).await;
    prime(&mut rx).await;
    assert_eq!(
        rx.offload_state().1,
        LINUX_OFFLOADS,
        "UDP_GRO is on on Linux only"
    );
    let tx = udp(AF_INET).await;
    let all = messages(&[50; 20]);
    within(tx.send_many_to(addr_of(&rx), &all)).await.unwrap();
    let first = within(rx.receive_many(2)).await.unwrap();
    check(&first, &all[..2], &tx);
    // receive_into, as receive, needs a connected datagram socket; connecting
    // keeps what is queued.
    within(rx.connect(None, tx.port(), None)).await.unwrap();
    for (i, m) in all.iter().enumerate().skip(2) {
        let d = if i % 3 == 0 {
            within(rx.receive_from(None)).await.unwrap()
        } else if i % 3 == 1 {
            // A length cuts this datagram only, never the next one.
            let d = within(rx.receive_from(Some(10))).await.unwrap();
            assert_eq!(&d.data[..], &m[..10]);
            continue;
        } else {
            let mut buf = [0u8; 100];
            let n = within(rx.receive_into(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], &m[..]);
            continue;
        };
        assert_eq!(&d.data[..], &m[..]);
        assert_eq!(d.port, tx.port());
    }
}

#[tokio::test]
async fn max_zero_and_an_empty_slice_return_at_once() {
    let rx = udp(AF_INET).await;
    assert!(within(rx.receive_many(0)).await.unwrap().is_empty());
    let none: &[&[u8]] = &[];
    assert_eq!(
        within(rx.send_many_to(addr_of(&rx), none)).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn receive_many_times_out_and_the_socket_stays_usable() {
    let rx = udp(AF_INET).await;
    rx.set_receive_timeout(Some(Duration::from_millis(50)));
    let e = within(rx.receive_many(8)).await.unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    let tx = udp(AF_INET).await;
    within(tx.send_many_to(addr_of(&rx), &["after"]))
        .await
        .unwrap();
    let got = within(rx.receive_many(8)).await.unwrap();
    assert_eq!(&got[0].data[..], b"after");
}

#[tokio::test]
async fn non_blocking_mode_never_waits() {
    let mut rx = udp(AF_INET).await;
    rx.set_blocking(false).unwrap();
    let e = within(rx.receive_many(8)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    let mut tx = udp(AF_INET).await;
    tx.set_blocking(false).unwrap();
    let all = messages(&[32; 10]);
    let n = within(tx.send_many_to(addr_of(&rx), &all)).await.unwrap();
    assert!(n <= all.len());
    let got = collect(&rx, n, 64).await;
    check(&got, &all[..n], &tx);
}

#[tokio::test]
async fn wrong_states_fail_at_once() {
    let to = SocketAddr::from(([127, 0, 0, 1], 9));
    let (a, _b) = tcp_pair().await;
    let e = within(a.receive_many(4)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IllegalState);
    let e = within(a.send_many_to(to, &["x"])).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IllegalState);
    // No local address: nothing could ever arrive.
    let fresh = Socket::udp().unwrap();
    let e = within(fresh.receive_many(4)).await.unwrap_err();
    assert_eq!(e.message(), "socket not listening or connected");
    let mut closed = udp(AF_INET).await;
    closed.close().unwrap();
    let e = within(closed.receive_many(4)).await.unwrap_err();
    assert!(
        e.message().starts_with("socket is in an illegal state"),
        "{}",
        e.message()
    );
    let e = within(closed.send_many_to(to, &["x"])).await.unwrap_err();
    assert!(
        e.message().starts_with("socket is in an illegal state"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn a_datagram_over_the_limit_fails_after_the_ones_before_it() {
    let rx = udp(AF_INET).await;
    let tx = udp(AF_INET).await;
    let all = vec![vec![1u8; 10], vec![2u8; 10], vec![3u8; 70_000]];
    let e = within(tx.send_many_to(addr_of(&rx), &all))
        .await
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc_emsgsize()), "{e:?}");
    assert_eq!(
        e.bytes_sent(),
        Some(20),
        "the two datagrams before it went out"
    );
    let got = collect(&rx, 2, 64).await;
    check(&got, &all[..2], &tx);
}

fn libc_emsgsize() -> i32 {
    90 // EMSGSIZE on Linux
}

/// Each fallback forced on both ends: the same datagrams arrive, and the
/// socket reports which path it fell back from.
#[tokio::test]
async fn every_fallback_loses_nothing() {
    for (gso, gro, mmsg) in [
        (true, false, false),
        (false, true, false),
        (true, true, false),
        (true, true, true),
        (false, false, true),
    ] {
        let mut rx = udp(AF_INET).await;
        rx.refuse_offload(gso, gro, mmsg);
        prime(&mut rx).await;
        let tx = udp(AF_INET).await;
        tx.refuse_offload(gso, gro, mmsg);
        let all = messages(MIXED);
        let n = within(tx.send_many_to(addr_of(&rx), &all)).await.unwrap();
        assert_eq!(n, all.len());
        let got = collect(&rx, all.len(), 64).await;
        check(&got, &all, &tx);
        let (tx_gso, _, tx_mmsg) = tx.offload_state();
        let (_, rx_gro, rx_mmsg) = rx.offload_state();
        let on = |refused: bool| !refused && LINUX_OFFLOADS;
        assert_eq!((tx_gso, rx_gro), (on(gso), on(gro)), "{gso} {gro} {mmsg}");
        assert_eq!(
            (tx_mmsg, rx_mmsg),
            (on(mmsg), on(mmsg)),
            "{gso} {gro} {mmsg}"
        );
    }
}

#[tokio::test]
async fn unix_datagrams_arrive_whole_one_per_call() {
    let (a, b) = Socket::pair_of(SOCK_DGRAM).unwrap();
    let all = messages(&[3, 100_000, 0, 9]);
    for m in &all {
        within(a.send(m)).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < all.len() {
        got.extend(within(b.receive_many(64)).await.unwrap());
    }
    for (d, m) in got.iter().zip(&all) {
        assert_eq!(&d.data[..], &m[..]);
    }
}

#[test]
fn the_blocking_face_sends_and_receives_batches() {
    within_blocking(|| {
        for family in [AF_INET, AF_INET6] {
            let mut rx = blocking::Socket::new(family, SOCK_DGRAM, IPPROTO_UDP).unwrap();
            rx.bind(0, None).unwrap();
            let mut tx = blocking::Socket::new(family, SOCK_DGRAM, IPPROTO_UDP).unwrap();
            tx.bind(0, None).unwrap();
            let info = rx.info().unwrap();
            let to = SocketAddr::new(info.address.parse().unwrap(), info.port);
            let all = messages(MIXED);
            assert_eq!(tx.send_many_to(to, &all).unwrap(), all.len());
            let mut got = Vec::new();
            while got.len() < all.len() {
                got.extend(rx.receive_many(5).unwrap());
            }
            for (d, m) in got.iter().zip(&all) {
                assert_eq!(&d.data[..], &m[..]);
                assert_eq!(d.port, tx.port());
            }
            rx.set_receive_timeout(Some(Duration::from_millis(30)));
            assert!(rx.receive_many(5).unwrap_err().is_timeout());
            let (s, _peer) = blocking_pair();
            assert_eq!(
                s.receive_many(1).unwrap_err().kind(),
                ErrorKind::IllegalState
            );
        }
    });
}

#[tokio::test]
async fn a_clone_shares_the_gro_setting_and_splits_reads_too() {
    let mut rx = udp(AF_INET).await;
    prime(&mut rx).await;
    let clone = rx.try_clone().unwrap();
    let tx = udp(AF_INET).await;
    let all = messages(&[80; 30]);
    within(tx.send_many_to(addr_of(&rx), &all)).await.unwrap();
    for m in &all {
        let d = within(clone.receive_from(None)).await.unwrap();
        assert_eq!(&d.data[..], &m[..]);
        assert_eq!(d.sender(), Some(addr_of(&tx)));
    }
}

#[tokio::test]
async fn single_datagrams_after_coalesced_ones_are_all_received() {
    // The receiver sizes its next batch by the last one (64 per read with
    // GRO); a sender switching to one datagram per send must lose nothing.
    let mut rx = udp(AF_INET).await;
    prime(&mut rx).await;
    let tx = udp(AF_INET).await;
    let to = addr_of(&rx);
    let batch = messages(&[64; 64]);
    within(tx.send_many_to(to, &batch)).await.unwrap();
    check(&collect(&rx, 64, 64).await, &batch, &tx);
    let singles = messages(&[64; 50]);
    for m in &singles {
        within(tx.send_to_addr(to, m)).await.unwrap();
    }
    check(&collect(&rx, 50, 64).await, &singles, &tx);
}
