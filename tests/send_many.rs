//! `send_many`: one batch with a destination per message, on both faces,
//! with UDP GSO and each fallback forced. Every peer gets exactly its own
//! datagrams, whole, in order, from the sender.

mod support;
use std::net::SocketAddr;

use blade_socket::{
    AF_INET, AF_INET6, Datagram, ErrorKind, IPPROTO_UDP, SOCK_DGRAM, Socket, blocking,
};
use support::*;

/// Sizes with runs of equal sizes, a shorter last, empty datagrams and a
/// large one, so that GSO runs meet destination changes.
const SIZES: &[usize] = &[
    64, 64, 64, 64, 10, 0, 1200, 1200, 1200, 1200, 1200, 1200, 1199, 1, 9000, 5, 5, 5, 5, 5, 7, 0,
    300, 300,
];

/// Message `i` of size `n`: its index in the first two bytes, then a
/// pattern, so that content, order and the peer it was meant for show.
fn message(i: usize, n: usize) -> Vec<u8> {
    let mut m: Vec<u8> = (0..n).map(|j| (i * 13 + j) as u8).collect();
    let tag = (i as u16).to_be_bytes();
    let k = n.min(2);
    m[..k].copy_from_slice(&tag[..k]);
    m
}

/// Destination of message `i`: runs of `run` messages per peer, cycling.
fn batch(peers: &[SocketAddr], run: usize) -> Vec<(SocketAddr, Vec<u8>)> {
    SIZES
        .iter()
        .enumerate()
        .map(|(i, &n)| (peers[(i / run) % peers.len()], message(i, n)))
        .collect()
}

fn addr_of(info: blade_socket::SocketInfo) -> SocketAddr {
    info.socket_addr().expect("an IP socket")
}

async fn udp(family: blade_socket::Family) -> Socket {
    let mut s = Socket::new(family, SOCK_DGRAM, IPPROTO_UDP).expect("socket");
    s.bind(0, None).await.expect("bind");
    s
}

/// What peer `to` must receive: its messages, in the order sent.
fn expected(all: &[(SocketAddr, Vec<u8>)], to: SocketAddr) -> Vec<Vec<u8>> {
    all.iter()
        .filter(|(a, _)| *a == to)
        .map(|(_, m)| m.clone())
        .collect()
}

fn check(got: &[Datagram], want: &[Vec<u8>], from: SocketAddr, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: datagram count");
    for (i, (d, m)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            &d.data[..],
            &m[..],
            "{what}: datagram {i} (size {})",
            m.len()
        );
        assert_eq!(d.sender(), Some(from), "{what}: sender of datagram {i}");
    }
}

/// Receives `n` datagrams with `receive_many`.
async fn collect(rx: &Socket, n: usize) -> Vec<Datagram> {
    let mut got = Vec::new();
    while got.len() < n {
        got.extend(within(rx.receive_many(64)).await.expect("receive_many"));
    }
    got
}

async fn to_three_peers(family: blade_socket::Family, refuse: (bool, bool, bool), run: usize) {
    let peers = [udp(family).await, udp(family).await, udp(family).await];
    let addrs: Vec<SocketAddr> = peers.iter().map(|p| addr_of(p.info().unwrap())).collect();
    let tx = udp(family).await;
    let (gso, gro, mmsg) = refuse;
    tx.refuse_offload(gso, gro, mmsg);
    let all = batch(&addrs, run);
    let n = within(tx.send_many(&all)).await.expect("send_many");
    assert_eq!(n, all.len());
    let from = addr_of(tx.info().unwrap());
    for (peer, to) in peers.iter().zip(&addrs) {
        let want = expected(&all, *to);
        let got = collect(peer, want.len()).await;
        check(&got, &want, from, &format!("{refuse:?} run {run} to {to}"));
    }
    // The portable paths (`--cfg blade_socket_portable`, macOS, FreeBSD)
    // never use GSO or `sendmmsg`.
    let linux = cfg!(all(target_os = "linux", not(blade_socket_portable)));
    let (tx_gso, _, tx_mmsg) = tx.offload_state();
    assert_eq!(
        (tx_gso, tx_mmsg),
        (!gso && linux, !mmsg && linux),
        "{refuse:?}"
    );
}

#[tokio::test]
async fn each_peer_gets_its_datagrams_in_order() {
    for run in [1, 3, 7] {
        to_three_peers(AF_INET, (false, false, false), run).await;
    }
    to_three_peers(AF_INET6, (false, false, false), 4).await;
}

#[tokio::test]
async fn every_fallback_loses_nothing() {
    for refuse in [
        (true, false, false),
        (false, false, true),
        (true, false, true),
    ] {
        to_three_peers(AF_INET, refuse, 3).await;
    }
}

#[tokio::test]
async fn one_peer_is_send_many_to() {
    let rx = udp(AF_INET).await;
    let to = addr_of(rx.info().unwrap());
    let tx = udp(AF_INET).await;
    let all = batch(&[to], 1);
    assert_eq!(within(tx.send_many(&all)).await.unwrap(), all.len());
    let got = collect(&rx, all.len()).await;
    check(
        &got,
        &expected(&all, to),
        addr_of(tx.info().unwrap()),
        "one peer",
    );
}

#[tokio::test]
async fn a_destination_of_another_family_sends_nothing() {
    let rx = udp(AF_INET).await;
    let good = addr_of(rx.info().unwrap());
    let tx = udp(AF_INET).await;
    let bad = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, good.port()));
    let e = within(tx.send_many(&[(good, "first"), (bad, "second")]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddressResolution, "{e:?}");
    assert_eq!(e.bytes_sent(), Some(0));
    // Nothing went out: the next datagram rx sees is the next one sent.
    tx.send_to_addr(good, "after").await.unwrap();
    let d = within(rx.receive_from(None)).await.unwrap();
    assert_eq!(&d.data[..], b"after");
}

#[tokio::test]
async fn empty_and_wrong_sockets() {
    let tx = udp(AF_INET).await;
    let none: &[(SocketAddr, &[u8])] = &[];
    assert_eq!(tx.send_many(none).await.unwrap(), 0);

    let (c, _s) = tcp_pair().await;
    let to = SocketAddr::from(([127, 0, 0, 1], 9));
    let e = c.send_many(&[(to, "x")]).await.unwrap_err();
    assert_eq!(
        e.message(),
        "socket is in an illegal state (a stream socket has no datagrams)"
    );
    assert_eq!(e.io_kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(e.bytes_sent(), Some(0));

    let mut tx = udp(AF_INET).await;
    tx.close().unwrap();
    let e = tx.send_many(&[(to, "x")]).await.unwrap_err();
    assert_eq!(e.message(), "socket is in an illegal state (closed)");
}

#[test]
fn the_blocking_face_sends_to_several_peers() {
    within_blocking(|| {
        for family in [AF_INET, AF_INET6] {
            let mut peers = Vec::new();
            for _ in 0..2 {
                let mut p = blocking::Socket::new(family, SOCK_DGRAM, IPPROTO_UDP).unwrap();
                p.bind(0, None).unwrap();
                peers.push(p);
            }
            let addrs: Vec<SocketAddr> = peers.iter().map(|p| addr_of(p.info().unwrap())).collect();
            let mut tx = blocking::Socket::new(family, SOCK_DGRAM, IPPROTO_UDP).unwrap();
            tx.bind(0, None).unwrap();
            let all = batch(&addrs, 2);
            assert_eq!(tx.send_many(&all).unwrap(), all.len());
            let from = addr_of(tx.info().unwrap());
            for (peer, to) in peers.iter().zip(&addrs) {
                let want = expected(&all, *to);
                let mut got = Vec::new();
                while got.len() < want.len() {
                    got.extend(peer.receive_many(64).unwrap());
                }
                check(&got, &want, from, &format!("blocking to {to}"));
            }
        }
    });
}
