//! Unix-domain sockets (`AF_UNIX`), stream, datagram and seqpacket, tested
//! like TCP: `bind` and `connect` take the path as `host` (the port is
//! ignored), `host()`, `info()` and `peer_info()` report paths, and every
//! failure is an `Err`. Paths live in a fresh temporary directory per test.
mod support;
use support::*;

use std::{path::Path, time::Duration};

use blade_socket::{
    AF_UNIX, ErrorKind, IPPROTO_IP, SHUT_RD, SHUT_WR, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM,
    SockType, Socket, SocketError, blocking,
};
use tempfile::TempDir;

const ILLEGAL: &str = "socket is in an illegal state";

fn unix(ty: SockType) -> Socket {
    match ty {
        SOCK_STREAM => Socket::unix(),
        SOCK_DGRAM => Socket::unix_datagram(),
        ty => Socket::new(AF_UNIX, ty, IPPROTO_IP),
    }
    .expect("AF_UNIX socket")
}

fn path_in(dir: &TempDir, name: &str) -> String {
    dir.path()
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// A listening stream socket at `path`.
async fn unix_listener(path: &str) -> Socket {
    let mut l = unix(SOCK_STREAM);
    l.bind(0, Some(path)).await.expect("bind");
    l.listen(None).expect("listen");
    l
}

/// (client, accepted) over a fresh path in `dir`.
async fn unix_stream_pair(dir: &TempDir) -> (Socket, Socket, Socket) {
    let path = path_in(dir, "s.sock");
    let l = unix_listener(&path).await;
    let mut c = unix(SOCK_STREAM);
    c.connect(Some(&path), 0, None).await.expect("connect");
    let s = l.accept().await.expect("accept");
    (c, s, l)
}

fn assert_os(e: &SocketError, errno: i32) {
    assert_eq!(e.kind(), ErrorKind::Os, "{e:?}");
    assert_eq!(e.raw_os_error(), Some(errno), "{e:?}");
}

// ----- stream ---------------------------------------------------------------------

#[test]
fn new_unix_socket_defaults() {
    let s = unix(SOCK_STREAM);
    assert_eq!(s.family(), AF_UNIX);
    assert_eq!(s.socket_type(), SOCK_STREAM);
    assert_eq!((s.host().as_str(), s.port()), ("", 0));
    assert!(!s.is_bound() && !s.is_connected() && !s.is_listening() && !s.is_closed());
    assert!(s.is_blocking());
}

#[tokio::test]
async fn stream_bind_listen_accept_connect_and_addresses() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "server.sock");
        let mut l = unix(SOCK_STREAM);
        l.bind(4242, Some(&path)).await.unwrap();
        assert!(l.is_bound());
        assert_eq!(l.host(), path);
        assert_eq!(l.port(), 0, "the port is ignored for AF_UNIX");
        assert!(Path::new(&path).exists(), "bind created the socket file");
        let info = l.info().unwrap();
        assert_eq!((info.address.as_str(), info.port), (path.as_str(), 0));
        assert_eq!(info.family, AF_UNIX);
        l.listen(Some(8)).unwrap();
        assert!(l.is_listening());

        let mut c = unix(SOCK_STREAM);
        c.connect(Some(&path), 9999, None).await.unwrap();
        assert!(c.is_connected() && c.is_client());
        assert_eq!(c.host(), path);
        assert_eq!(c.port(), 0);
        let peer = c.peer_info().unwrap();
        assert_eq!((peer.address.as_str(), peer.port), (path.as_str(), 0));
        assert_eq!(peer.family, AF_UNIX);
        assert_eq!(
            c.info().unwrap().address,
            "",
            "an unbound client is unnamed"
        );

        let s = l.accept().await.unwrap();
        assert!(s.is_connected() && s.is_client());
        assert_eq!((s.family(), s.socket_type()), (AF_UNIX, SOCK_STREAM));
        assert_eq!(s.host(), "", "the accepted side's peer is unnamed");
        assert_eq!(s.info().unwrap().address, path);
        assert_eq!(s.peer_info().unwrap().address, "");
    })
    .await;
}

#[tokio::test]
async fn stream_data_both_ways_binary_safe() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let (c, s, _l) = unix_stream_pair(&dir).await;
        assert_eq!(c.send("hello unix").await.unwrap(), 10);
        assert_eq!(receive_exact(&s, 10).await, b"hello unix");
        let blob: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        let sender = {
            let blob = blob.clone();
            let s = std::sync::Arc::new(s);
            let s2 = std::sync::Arc::clone(&s);
            (
                tokio::spawn(async move { s2.send(&blob).await.unwrap() }),
                s,
            )
        };
        let got = receive_exact(&c, blob.len()).await;
        assert_eq!(sender.0.await.unwrap(), blob.len());
        assert!(got == blob);
        // receive_from on a stream reports the peer.
        sender.1.send("x").await.unwrap();
        let d = c.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"x");
        assert_eq!((d.host.as_str(), d.port), (c.host().as_str(), 0));
        // send_to on a stream behaves as send.
        sender
            .1
            .send_to("/ignored", 1, "via send_to")
            .await
            .unwrap();
        assert_eq!(receive_exact(&c, 11).await, b"via send_to");
    })
    .await;
}

#[tokio::test]
async fn stream_half_close_and_peer_close() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let (c, s, _l) = unix_stream_pair(&dir).await;
        c.send("request").await.unwrap();
        c.shutdown(SHUT_WR).unwrap();
        assert_eq!(c.shutdown_reason(), Some(blade_socket::Shutdown::Write));
        assert!(c.is_connected());
        assert_eq!(receive_exact(&s, 7).await, b"request");
        assert_eq!(s.receive(None).await.unwrap(), None, "EOF after SHUT_WR");
        assert_eq!(s.receive(None).await.unwrap(), None, "EOF is sticky");
        s.send("response").await.unwrap();
        assert_eq!(receive_exact(&c, 8).await, b"response");
        let e = c.send("more").await.unwrap_err();
        assert!(e.message().starts_with(ILLEGAL), "{}", e.message());

        c.shutdown(SHUT_RD).unwrap();
        assert!(!c.is_connected());
        assert_eq!(c.shutdown_reason(), Some(blade_socket::Shutdown::Both));

        drop(s);
        drop(c);
        let (c, s, _l2) = {
            let dir2 = tempfile::tempdir().unwrap();
            let t = unix_stream_pair(&dir2).await;
            (t.0, t.1, (t.2, dir2))
        };
        drop(s);
        assert_eq!(c.receive(None).await.unwrap(), None, "peer closed: EOF");
        assert!(!c.is_closed(), "EOF leaves the socket open");
    })
    .await;
}

#[tokio::test]
async fn stream_send_to_a_vanished_peer_fails_and_closes() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let (c, s, _l) = unix_stream_pair(&dir).await;
        drop(s);
        let chunk = vec![3u8; 64 * 1024];
        let e = loop {
            if let Err(e) = c.send(&chunk).await {
                break e;
            }
        };
        assert!(
            matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)),
            "{e:?}"
        );
        assert!(c.is_closed());
        assert!(
            c.receive(None)
                .await
                .unwrap_err()
                .message()
                .starts_with(ILLEGAL)
        );
    })
    .await;
}

#[tokio::test]
async fn stream_receive_timeout_and_accept_timeout() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let (c, s, l) = unix_stream_pair(&dir).await;
        s.set_receive_timeout(Some(Duration::from_millis(100)));
        let e = s.receive(None).await.unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(!s.is_closed());
        c.send("ok").await.unwrap();
        assert_eq!(receive_exact(&s, 2).await, b"ok");

        l.set_receive_timeout(Some(Duration::from_millis(100)));
        let e = l.accept().await.unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(l.is_listening());
    })
    .await;
}

#[tokio::test]
async fn stream_failures_are_errors() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "busy.sock");
        let _l = unix_listener(&path).await;

        // Binding an existing path: EADDRINUSE, and the socket stays open.
        let mut dup = unix(SOCK_STREAM);
        let e = dup.bind(0, Some(&path)).await.unwrap_err();
        assert_os(&e, libc::EADDRINUSE);
        assert_eq!(e.message(), "Address already in use");
        assert!(!dup.is_closed() && !dup.is_bound());
        // ...and can bind elsewhere afterwards.
        dup.bind(0, Some(&path_in(&dir, "other.sock")))
            .await
            .unwrap();
        let e = dup
            .bind(0, Some(&path_in(&dir, "third.sock")))
            .await
            .unwrap_err();
        assert_eq!(e.message(), "socket previously bound");

        // A directory that does not exist.
        let mut s = unix(SOCK_STREAM);
        let missing = path_in(&dir, "no/such/dir.sock");
        let e = s.bind(0, Some(&missing)).await.unwrap_err();
        assert_os(&e, libc::ENOENT);
        assert!(!s.is_closed());

        // A path too long for sun_path: an error, never a panic.
        let long = format!("{}/{}", dir.path().display(), "x".repeat(200));
        let e = s.bind(0, Some(&long)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e:?}");
        assert!(!s.is_closed());
        let mut c = unix(SOCK_STREAM);
        let e = c.connect(Some(&long), 0, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e:?}");
        assert!(c.is_closed(), "a failed connect closes the socket");

        // Connecting to nothing: ENOENT, and the socket is closed.
        let mut c = unix(SOCK_STREAM);
        let e = c
            .connect(Some(&path_in(&dir, "nobody.sock")), 0, None)
            .await
            .unwrap_err();
        assert_os(&e, libc::ENOENT);
        assert!(c.is_closed());

        // Connecting to a socket file nobody listens on: refused.
        let stale = path_in(&dir, "stale.sock");
        let mut bound_only = unix(SOCK_STREAM);
        bound_only.bind(0, Some(&stale)).await.unwrap();
        let mut c = unix(SOCK_STREAM);
        let e = c.connect(Some(&stale), 0, None).await.unwrap_err();
        assert_os(&e, libc::ECONNREFUSED);
        assert_eq!(e.message(), "Connection refused");

        // A regular file is not a socket.
        let file = path_in(&dir, "plain.txt");
        std::fs::write(&file, "not a socket").unwrap();
        let mut c = unix(SOCK_STREAM);
        let e = c.connect(Some(&file), 0, None).await.unwrap_err();
        assert_os(&e, libc::ECONNREFUSED);

        // Connecting a datagram socket to a stream listener: wrong type.
        let mut d = unix(SOCK_DGRAM);
        let e = d.connect(Some(&path), 0, None).await.unwrap_err();
        assert_os(&e, libc::EPROTOTYPE);
    })
    .await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn stream_bind_to_an_empty_host_autobinds() {
    within(async {
        // Linux gives an unnamed socket bound with an empty path a unique
        // abstract name.
        let mut s = unix(SOCK_STREAM);
        s.bind(0, None).await.unwrap();
        assert!(s.is_bound());
        let info = s.info().unwrap();
        assert!(info.address.starts_with('@'), "{info:?}");
        assert_eq!(
            info.address.len(),
            6,
            "an autobind name: @ and 5 hex digits"
        );
    })
    .await;
}

// ----- datagram -------------------------------------------------------------------

#[tokio::test]
async fn datagram_send_to_and_receive_from_report_paths() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (path_in(&dir, "a.sock"), path_in(&dir, "b.sock"));
        let mut a = unix(SOCK_DGRAM);
        a.bind(0, Some(&pa)).await.unwrap();
        let mut b = unix(SOCK_DGRAM);
        b.bind(0, Some(&pb)).await.unwrap();
        assert_eq!(
            (a.host().as_str(), b.host().as_str()),
            (pa.as_str(), pb.as_str())
        );
        assert!(a.is_bound() && !a.is_connected());

        assert_eq!(a.send_to(&pb, 0, "to b").await.unwrap(), 4);
        let d = b.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"to b");
        assert_eq!(
            (d.host.as_str(), d.port),
            (pa.as_str(), 0),
            "the sender's path"
        );
        // Reply to whoever sent it.
        b.send_to(&d.host, d.port, "to a").await.unwrap();
        let d = a.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"to a");
        assert_eq!(d.host, pb);

        // Boundaries, empty datagrams and truncation.
        a.send_to(&pb, 0, "").await.unwrap();
        a.send_to(&pb, 0, "truncated datagram").await.unwrap();
        assert_eq!(
            b.receive_from(None).await.unwrap().data,
            bytes::Bytes::new()
        );
        assert_eq!(
            &b.receive_from(Some(9)).await.unwrap().data[..],
            b"truncated"
        );

        // An unbound sender shows up with an empty host.
        let anon = unix(SOCK_DGRAM);
        anon.send_to(&pb, 0, "anon").await.unwrap();
        let d = b.receive_from(None).await.unwrap();
        assert_eq!((&d.data[..], d.host.as_str()), (&b"anon"[..], ""));

        // A send to a path nobody is bound to fails; the socket stays open.
        let e = a
            .send_to(&path_in(&dir, "nobody.sock"), 0, "lost")
            .await
            .unwrap_err();
        assert_os(&e, libc::ENOENT);
        assert!(
            !a.is_closed(),
            "a datagram socket is not closed by a failed send"
        );
    })
    .await;
}

#[tokio::test]
async fn datagram_connect_send_and_receive() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let pb = path_in(&dir, "b.sock");
        let mut b = unix(SOCK_DGRAM);
        b.bind(0, Some(&pb)).await.unwrap();
        let mut a = unix(SOCK_DGRAM);
        a.connect(Some(&pb), 0, None).await.unwrap();
        assert!(a.is_connected());
        assert_eq!(a.host(), pb);
        assert_eq!(a.peer_info().unwrap().address, pb);
        a.send("one").await.unwrap();
        a.send("two").await.unwrap();
        // b is bound, not connected: it receives from anyone with receive_from.
        assert_eq!(&b.receive_from(None).await.unwrap().data[..], b"one");
        assert_eq!(&b.receive_from(None).await.unwrap().data[..], b"two");

        b.set_receive_timeout(Some(Duration::from_millis(100)));
        assert!(b.receive_from(None).await.unwrap_err().is_timeout());
    })
    .await;
}

// ----- seqpacket --------------------------------------------------------------------

#[tokio::test]
async fn seqpacket_listener_keeps_records() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "seq.sock");
        let mut l = unix(SOCK_SEQPACKET);
        l.bind(0, Some(&path)).await.unwrap();
        l.listen(None).unwrap();
        let mut c = unix(SOCK_SEQPACKET);
        c.connect(Some(&path), 0, None).await.unwrap();
        let s = l.accept().await.unwrap();
        assert_eq!(s.socket_type(), SOCK_SEQPACKET);
        c.send("record one").await.unwrap();
        assert_eq!(
            &s.receive(Some(100)).await.unwrap().unwrap()[..],
            b"record one"
        );
        c.send("record two").await.unwrap();
        assert_eq!(&s.receive(Some(6)).await.unwrap().unwrap()[..], b"record");
        c.send("three").await.unwrap();
        assert_eq!(
            &s.receive(Some(100)).await.unwrap().unwrap()[..],
            b"three",
            "the rest of record two was discarded"
        );
        drop(c);
        assert_eq!(s.receive(Some(100)).await.unwrap(), None);
    })
    .await;
}

// ----- abstract namespace -------------------------------------------------------------

/// A name unique to this process and test.
#[cfg(target_os = "linux")]
fn abstract_name(tag: &str) -> String {
    format!("blade-socket-test-{}-{tag}", std::process::id())
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn abstract_addresses_show_as_at_names() {
    use std::os::linux::net::SocketAddrExt;
    within(async {
        let name = abstract_name("std");
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let std_l = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
        let l = Socket::try_from(std_l).unwrap();
        assert!(l.is_listening());
        let at = format!("@{name}");
        assert_eq!(l.host(), at);
        assert_eq!(l.info().unwrap().address, at);

        // A client connects with the kernel's spelling (a leading NUL).
        let mut c = unix(SOCK_STREAM);
        c.connect(Some(&format!("\0{name}")), 0, None)
            .await
            .unwrap();
        assert_eq!(c.peer_info().unwrap().address, at);
        let s = l.accept().await.unwrap();
        c.send("abstract").await.unwrap();
        assert_eq!(receive_exact(&s, 8).await, b"abstract");

        // Binding with the kernel's spelling works, and info() shows @name.
        let name2 = abstract_name("bind");
        let mut b = unix(SOCK_STREAM);
        b.bind(0, Some(&format!("\0{name2}"))).await.unwrap();
        assert_eq!(b.info().unwrap().address, format!("@{name2}"));
    })
    .await;
}

/// Fails if `bind` made a file named `path` in the working directory (the
/// crate's root under `cargo test`), removing it first.
#[cfg(all(target_os = "linux", not(blade_socket_portable)))]
fn assert_no_file(path: &str) {
    let created = Path::new(path).exists();
    if created {
        let _ = std::fs::remove_file(path);
    }
    assert!(!created, "bind created a file named {path:?}");
}

/// `host()`/`info()` show an abstract address as `@name`; `bind`, `connect`
/// and `send_to` should accept that same spelling back.
#[cfg(all(target_os = "linux", not(blade_socket_portable)))]
#[tokio::test]
async fn abstract_at_names_round_trip_through_bind_and_connect() {
    within(async {
        let name = abstract_name("at");
        let at = format!("@{name}");
        let mut l = unix(SOCK_STREAM);
        let bound = l.bind(0, Some(&at)).await;
        assert_no_file(&at);
        bound.unwrap();
        assert_eq!(l.host(), at);
        assert_eq!(l.info().unwrap().address, at);
        l.listen(None).unwrap();
        let mut c = unix(SOCK_STREAM);
        c.connect(Some(&at), 0, None).await.unwrap();
        assert_eq!(c.host(), at);
        let _s = l.accept().await.unwrap();

        let mut d = unix(SOCK_DGRAM);
        let bound = d.bind(0, Some(&format!("@{name}-d"))).await;
        assert_no_file(&format!("@{name}-d"));
        bound.unwrap();
        let tx = unix(SOCK_DGRAM);
        tx.send_to(&format!("@{name}-d"), 0, "x").await.unwrap();
        assert_eq!(&d.receive_from(None).await.unwrap().data[..], b"x");
    })
    .await;
}

/// Where abstract names are not available (macOS, FreeBSD, the portable
/// build), an `@name` is refused as such: never bound as a file named
/// `@name`, nor as a path with a NUL in it.
#[cfg(not(all(target_os = "linux", not(blade_socket_portable))))]
#[tokio::test]
async fn at_names_are_refused_where_abstract_names_are_not_supported() {
    within(async {
        let at = format!("@blade-socket-test-{}-refused", std::process::id());
        let mut l = unix(SOCK_STREAM);
        let err = l.bind(0, Some(&at)).await.unwrap_err();
        assert!(!Path::new(&at).exists(), "bind made a file named {at:?}");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(
            err.message().contains("not supported on this platform"),
            "{err}"
        );
        assert!(!l.is_bound());
        let mut c = unix(SOCK_STREAM);
        let err = c.connect(Some(&at), 0, None).await.unwrap_err();
        assert!(
            err.message().contains("not supported on this platform"),
            "{err}"
        );
        let d = unix(SOCK_DGRAM);
        let err = d.send_to(&at, 0, "x").await.unwrap_err();
        assert!(
            err.message().contains("not supported on this platform"),
            "{err}"
        );
    })
    .await;
}

// ----- blocking facade -------------------------------------------------------------

#[test]
fn blocking_unix_stream_and_datagram() {
    within_blocking(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "blk.sock");
        let mut l = blocking::Socket::unix().unwrap();
        l.bind(0, Some(&path)).unwrap();
        assert_eq!(l.host(), path);
        l.listen(None).unwrap();
        let mut c = blocking::Socket::unix().unwrap();
        c.connect(Some(&path), 0, Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(c.peer_info().unwrap().address, path);
        let s = l.accept().unwrap();
        c.send("blocking unix").unwrap();
        assert_eq!(blocking_receive_exact(&s, 13), b"blocking unix");
        c.shutdown(SHUT_WR).unwrap();
        assert_eq!(s.receive(None).unwrap(), None);
        s.send("back").unwrap();
        assert_eq!(blocking_receive_exact(&c, 4), b"back");

        let pd = path_in(&dir, "blk-d.sock");
        let mut d = blocking::Socket::unix_datagram().unwrap();
        d.bind(0, Some(&pd)).unwrap();
        let mut tx = blocking::Socket::unix_datagram().unwrap();
        let ptx = path_in(&dir, "blk-tx.sock");
        tx.bind(0, Some(&ptx)).unwrap();
        tx.send_to(&pd, 0, "dgram").unwrap();
        let got = d.receive_from(None).unwrap();
        assert_eq!(
            (&got.data[..], got.host.as_str()),
            (&b"dgram"[..], ptx.as_str())
        );

        let mut missing = blocking::Socket::unix().unwrap();
        let e = missing
            .connect(Some(&path_in(&dir, "none.sock")), 0, None)
            .unwrap_err();
        assert_os(&e, libc::ENOENT);
        assert!(missing.is_closed());
    });
}

// ----- constructors -----------------------------------------------------------

#[tokio::test]
async fn unix_constructor_makes_a_stream_socket_that_takes_a_path() {
    within(async {
        let dir = TempDir::new().unwrap();
        let path = path_in(&dir, "ctor.sock");
        let mut l = Socket::unix().unwrap();
        assert_eq!((l.family(), l.socket_type()), (AF_UNIX, SOCK_STREAM));
        assert_eq!((l.host().as_str(), l.port()), ("", 0));
        l.bind(0, Some(&path)).await.unwrap();
        l.listen(None).unwrap();
        let mut c = Socket::unix().unwrap();
        c.connect(Some(&path), 0, None).await.unwrap();
        let s = l.accept().await.unwrap();
        c.send("ping").await.unwrap();
        assert_eq!(
            s.receive(None).await.unwrap().as_deref(),
            Some(&b"ping"[..])
        );
        assert_eq!(c.host(), path);
    })
    .await;
}

#[tokio::test]
async fn unix_datagram_constructor_sends_to_a_path() {
    within(async {
        let dir = TempDir::new().unwrap();
        let path = path_in(&dir, "dgram.sock");
        let mut rx = Socket::unix_datagram().unwrap();
        assert_eq!((rx.family(), rx.socket_type()), (AF_UNIX, SOCK_DGRAM));
        rx.bind(0, Some(&path)).await.unwrap();
        let tx = Socket::unix_datagram().unwrap();
        assert_eq!(tx.send_to(&path, 0, "one").await.unwrap(), 3);
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"one");
    })
    .await;
}

#[tokio::test]
async fn unix_addresses_have_no_socket_addr() {
    within(async {
        let dir = TempDir::new().unwrap();
        let (rx_path, tx_path) = (path_in(&dir, "rx.sock"), path_in(&dir, "tx.sock"));
        let mut rx = Socket::unix_datagram().unwrap();
        rx.bind(0, Some(&rx_path)).await.unwrap();
        assert_eq!(rx.info().unwrap().socket_addr(), None);
        let mut tx = Socket::unix_datagram().unwrap();
        tx.bind(0, Some(&tx_path)).await.unwrap();
        tx.send_to(&rx_path, 0, "hi").await.unwrap();
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(d.host, tx_path);
        assert_eq!(d.sender(), None);
        // An unnamed sender too.
        let anon = Socket::unix_datagram().unwrap();
        anon.send_to(&rx_path, 0, "anon").await.unwrap();
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!((d.host.as_str(), d.sender()), ("", None));
    })
    .await;
}

#[tokio::test]
async fn socket_addr_forms_refuse_a_unix_socket() {
    within(async {
        let ip = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
        let mut s = Socket::unix().unwrap();
        let e = s.bind_addr(ip).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddressResolution, "{e:?}");
        assert!(e.message().contains("by an AF_UNIX socket"), "{e}");
        assert!(!s.is_closed());
        let e = s.connect_addr(ip, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddressResolution, "{e:?}");
        assert!(s.is_closed(), "a failed connect closes the socket");
    })
    .await;
}
