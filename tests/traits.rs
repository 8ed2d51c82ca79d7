//! The standard traits: `tokio::io::AsyncRead`/`AsyncWrite` on the async
//! `Socket` (driven through `tokio_util::codec::Framed` and `tokio::io`
//! helpers), `std::io::Read`/`Write` on the blocking facade (owned and `&`),
//! the `TryFrom` conversions from tokio's and std's socket types, and
//! `fd()`/`AsRawFd` on both faces.
mod support;
use support::*;

use std::{
    io::{BufRead, BufReader, Read, Write},
    os::fd::{AsFd, AsRawFd},
    time::{Duration, Instant},
};

use blade_socket::{
    AF_INET, AF_INET6, AF_UNIX, ErrorKind, IPPROTO_TCP, IPPROTO_UDP, SHUT_WR, SOCK_DGRAM,
    SOCK_STREAM, Shutdown, Socket, blocking,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec};

// ----- AsyncRead / AsyncWrite --------------------------------------------------

#[tokio::test]
async fn framed_lines_codec_echo_server_and_client() {
    within(async {
        let l = listener().await;
        let port = l.port();
        let server = tokio::spawn(async move {
            let conn = l.accept().await.expect("accept");
            let mut framed = Framed::new(conn, LinesCodec::new());
            let mut seen = 0usize;
            while let Some(line) = framed.next().await {
                let line = line.expect("server line");
                seen += 1;
                framed
                    .send(format!("{seen}:{}", line.to_uppercase()))
                    .await
                    .expect("server send");
            }
            // The client's shutdown ended the stream: the socket is still
            // usable for writing, so say goodbye.
            framed.send("bye").await.expect("goodbye");
            seen
        });

        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        let mut framed = Framed::new(c, LinesCodec::new());
        for word in ["alpha", "beta", "", "gamma delta"] {
            framed.send(word).await.unwrap();
            let reply = framed.next().await.expect("a reply").unwrap();
            assert!(reply.ends_with(&word.to_uppercase()), "{reply:?}");
        }
        // Many lines at once, answered in order.
        for i in 0..200 {
            framed.feed(format!("line {i}")).await.unwrap();
        }
        SinkExt::<String>::flush(&mut framed).await.unwrap();
        for i in 0..200 {
            let reply = framed.next().await.expect("a reply").unwrap();
            assert_eq!(reply, format!("{}:LINE {i}", i + 5));
        }
        // poll_shutdown through the sink's close: the server sees EOF.
        SinkExt::<String>::close(&mut framed).await.unwrap();
        assert_eq!(framed.next().await.expect("goodbye").unwrap(), "bye");
        assert!(framed.next().await.is_none(), "EOF after the goodbye");
        let c = framed.into_inner();
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Write));
        assert!(c.is_connected() && !c.is_closed());
        assert_eq!(server.await.unwrap(), 204);
    })
    .await;
}

#[tokio::test]
async fn framed_over_a_unix_pair() {
    within(async {
        let (a, b) = Socket::pair().unwrap();
        let mut a = Framed::new(a, LinesCodec::new());
        let mut b = Framed::new(b, LinesCodec::new());
        a.send("over AF_UNIX").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap(), "over AF_UNIX");
        b.send("and back").await.unwrap();
        assert_eq!(a.next().await.unwrap().unwrap(), "and back");
        drop(a);
        assert!(b.next().await.is_none(), "peer dropped: end of stream");
    })
    .await;
}

#[tokio::test]
async fn tokio_io_helpers_move_a_large_buffer_intact() {
    within(async {
        let (mut c, mut s) = tcp_pair().await;
        let data = pattern(4 * 1024 * 1024 + 17);
        let expected = data.clone();
        let writer = tokio::spawn(async move {
            c.write_all(&data).await.unwrap();
            c.flush().await.unwrap();
            AsyncWriteExt::shutdown(&mut c).await.unwrap(); // SHUT_WR
            c
        });
        let mut got = Vec::new();
        let n = s.read_to_end(&mut got).await.unwrap();
        assert_eq!(n, expected.len());
        assert!(got == expected, "bytes differ");
        // EOF is sticky and not an error.
        let mut buf = [0u8; 8];
        assert_eq!(s.read(&mut buf).await.unwrap(), 0);
        let c = writer.await.unwrap();
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Write));
    })
    .await;
}

/// Every writer (`Socket`, `&Socket`, the owned write half) is vectored: one
/// `write_vectored` takes all the slices (a TLS record, an HTTP head and
/// body), in order, where a non-vectored writer would take only the first.
#[tokio::test]
async fn write_vectored_sends_every_slice_in_one_call() {
    use std::io::IoSlice;
    use tokio::io::AsyncWrite;
    within(async {
        let (mut c, s) = tcp_pair().await;
        let parts: [&[u8]; 3] = [b"head ", b"", b"and body"];
        let slices = parts.map(IoSlice::new);
        let whole = b"head and body";

        assert!(AsyncWrite::is_write_vectored(&c));
        assert_eq!(c.write_vectored(&slices).await.unwrap(), whole.len());
        assert!(AsyncWrite::is_write_vectored(&&c));
        assert_eq!((&c).write_vectored(&slices).await.unwrap(), whole.len());
        let (_read, mut write) = c.into_split();
        assert!(AsyncWrite::is_write_vectored(&write));
        assert_eq!(write.write_vectored(&slices).await.unwrap(), whole.len());
        assert_eq!(write.write_vectored(&[IoSlice::new(b"")]).await.unwrap(), 0);

        let want: Vec<u8> = whole.repeat(3);
        let got = receive_exact(&s, want.len()).await;
        assert_eq!(got, want);
    })
    .await;
}

#[tokio::test]
async fn tokio_io_copy_and_split() {
    within(async {
        // An echo server written with tokio::io::split + copy.
        let l = listener().await;
        let port = l.port();
        let server = tokio::spawn(async move {
            let conn = l.accept().await.unwrap();
            let (mut r, mut w) = tokio::io::split(conn);
            let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
            AsyncWriteExt::shutdown(&mut w).await.unwrap();
            n
        });
        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        let data = pattern(300_000);
        let (mut r, mut w) = tokio::io::split(c);
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            w.write_all(&sent).await.unwrap();
            AsyncWriteExt::shutdown(&mut w).await.unwrap();
        });
        let mut echoed = Vec::new();
        r.read_to_end(&mut echoed).await.unwrap();
        writer.await.unwrap();
        assert_eq!(server.await.unwrap(), data.len() as u64);
        assert!(echoed == data);
    })
    .await;
}

#[tokio::test]
async fn poll_shutdown_half_closes() {
    within(async {
        let (mut c, mut s) = tcp_pair().await;
        c.write_all(b"request").await.unwrap();
        AsyncWriteExt::shutdown(&mut c).await.unwrap();
        assert!(c.is_shutdown());
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Write));
        assert!(c.is_connected(), "one direction shut: still connected");

        let mut req = Vec::new();
        s.read_to_end(&mut req).await.unwrap();
        assert_eq!(req, b"request");
        // The other direction still works.
        s.write_all(b"response").await.unwrap();
        let mut buf = [0u8; 8];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"response");
        // A write after poll_shutdown fails with the crate's illegal state.
        let e = c.write(b"more").await.unwrap_err();
        assert!(
            e.to_string().contains("socket is in an illegal state"),
            "{e:?}"
        );
        // A second poll_shutdown is fine (an already shut direction).
        AsyncWriteExt::shutdown(&mut c).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn async_read_honours_the_receive_timeout() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        s.set_receive_timeout(Some(Duration::from_millis(150)));
        let mut buf = [0u8; 16];
        let t = Instant::now();
        let e = s.read(&mut buf).await.unwrap_err();
        let took = t.elapsed();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e:?}");
        assert!(e.to_string().contains("timed out"), "{e}");
        assert!(took >= Duration::from_millis(140), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(!s.is_closed(), "a timeout leaves the socket open");

        // Still usable, and each read gets the whole timeout again.
        c.send("late").await.unwrap();
        let n = s.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"late");
        let t = Instant::now();
        let e = s.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(140));

        // Without a timeout a read waits (cut short here by the test).
        s.set_receive_timeout(None);
        let pending = tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await;
        assert!(pending.is_err(), "no timeout: the read keeps waiting");
    })
    .await;
}

#[tokio::test]
async fn async_write_honours_the_send_timeout() {
    within(async {
        let (_c, mut s) = tcp_pair().await;
        s.set_send_timeout(Some(Duration::from_millis(150)));
        let big = vec![0u8; 64 * 1024 * 1024];
        let t = Instant::now();
        // The peer never reads: the buffers fill and a write times out.
        let e = s.write_all(&big).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e:?}");
        assert!(t.elapsed() >= Duration::from_millis(140));
        assert!(!s.is_closed());
    })
    .await;
}

#[tokio::test]
async fn async_write_to_a_reset_peer_fails_without_sigpipe() {
    default_sigpipe();
    within(async {
        let (mut c, mut s) = tcp_pair().await;
        s.abort().unwrap(); // RST
        let chunk = vec![1u8; 64 * 1024];
        let mut err = None;
        for _ in 0..10_000 {
            if let Err(e) = c.write(&chunk).await {
                err = Some(e);
                break;
            }
        }
        let e = err.expect("a write to a reset peer fails");
        assert!(
            matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE)),
            "{e:?}"
        );
        assert!(c.is_closed(), "a vanished peer closes the socket");
        // And reading is an error too (closed), never a hang.
        let mut buf = [0u8; 4];
        assert!(c.read(&mut buf).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn async_read_after_a_peer_reset_is_connection_reset() {
    within(async {
        let (mut c, mut s) = tcp_pair().await;
        c.abort().unwrap();
        let mut buf = [0u8; 4];
        let e = s.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e:?}");
        assert!(s.is_closed());
    })
    .await;
}

#[tokio::test]
async fn async_read_write_on_unconnected_or_closed_sockets_are_errors() {
    within(async {
        let mut fresh = Socket::tcp().unwrap();
        let mut buf = [0u8; 4];
        let e = fresh.read(&mut buf).await.unwrap_err();
        assert!(e.to_string().contains("not listening or connected"), "{e}");
        let e = fresh.write(b"x").await.unwrap_err();
        assert!(e.to_string().contains("not listening or connected"), "{e}");

        let (mut c, _s) = tcp_pair().await;
        c.close().unwrap();
        let e = c.read(&mut buf).await.unwrap_err();
        assert!(e.to_string().contains("illegal state"), "{e}");
        let e = c.write(b"x").await.unwrap_err();
        assert!(e.to_string().contains("illegal state"), "{e}");
        assert!(AsyncWriteExt::shutdown(&mut c).await.is_err());
        // An empty write is not an I/O at all, but still checks the state.
        assert!(c.write(b"").await.is_err());
    })
    .await;
}

#[tokio::test]
async fn async_read_on_a_datagram_socket_reads_one_datagram() {
    within(async {
        let (mut a, b) = Socket::pair_of(SOCK_DGRAM).unwrap();
        b.send("first").await.unwrap();
        b.send("second").await.unwrap();
        let mut buf = [0u8; 64];
        let n = a.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"first");
        let n = a.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
    })
    .await;
}

// ----- std::io::Read / Write on the blocking facade ------------------------------

#[test]
fn blocking_read_write_owned() {
    within_blocking(|| {
        let (mut c, mut s) = blocking_pair();
        c.write_all(b"hello, ").unwrap();
        write!(c, "world {}", 42).unwrap();
        c.flush().unwrap();
        let mut buf = [0u8; 15];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello, world 42");

        // read_to_end after the peer's half-close; Ok(0) at EOF, again and again.
        let data = pattern(2 * 1024 * 1024);
        let expected = data.clone();
        let writer = std::thread::spawn(move || {
            c.write_all(&data).unwrap();
            c.shutdown(SHUT_WR).unwrap();
            c
        });
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert!(got == expected);
        assert_eq!(s.read(&mut buf).unwrap(), 0);
        let c = writer.join().unwrap();
        assert_eq!(c.shutdown_reason(), Some(Shutdown::Write));
    });
}

#[test]
fn blocking_read_write_through_shared_references() {
    within_blocking(|| {
        let (c, s) = blocking_pair();
        // One thread writes through &c while another reads through &c.
        std::thread::scope(|scope| {
            let echo = scope.spawn(|| {
                let mut r = BufReader::new(&s);
                let mut w = &s;
                let mut line = String::new();
                let mut lines = 0;
                while r.read_line(&mut line).unwrap() > 0 {
                    w.write_all(line.to_uppercase().as_bytes()).unwrap();
                    line.clear();
                    lines += 1;
                }
                lines
            });
            let reader = scope.spawn(|| {
                let mut r = BufReader::new(&c);
                let mut out = Vec::new();
                for _ in 0..100 {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    out.push(line);
                }
                out
            });
            let mut w = &c;
            for i in 0..100 {
                writeln!(w, "line {i}").unwrap();
            }
            let lines = reader.join().unwrap();
            for (i, l) in lines.iter().enumerate() {
                assert_eq!(l, &format!("LINE {i}\n"));
            }
            // Ending the write side ends the echo loop.
            c.with_sockref(|r| r.shutdown(std::net::Shutdown::Write))
                .unwrap();
            assert_eq!(echo.join().unwrap(), 100);
        });
    });
}

#[test]
fn blocking_std_io_copy_between_sockets() {
    within_blocking(|| {
        let (mut a, mut b) = blocking::Socket::pair().unwrap();
        let data = pattern(500_000);
        let mut src: &[u8] = &data;
        std::thread::scope(|scope| {
            let t = scope.spawn(|| {
                let mut got = Vec::new();
                b.read_to_end(&mut got).unwrap();
                got
            });
            assert_eq!(std::io::copy(&mut src, &mut a).unwrap(), data.len() as u64);
            a.shutdown(SHUT_WR).unwrap();
            assert!(t.join().unwrap() == data);
        });
    });
}

#[test]
fn blocking_read_errors_map_to_io_error_kinds() {
    within_blocking(|| {
        let (_c, mut s) = blocking_pair();
        s.set_receive_timeout(Some(Duration::from_millis(100)));
        let mut buf = [0u8; 4];
        let e = s.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e:?}");
        assert!(!s.is_closed());

        s.set_blocking(false).unwrap();
        let e = s.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e:?}");

        let mut fresh = blocking::Socket::tcp().unwrap();
        let e = fresh.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotConnected, "{e:?}");
        let e = fresh.write(b"x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotConnected, "{e:?}");

        s.close().unwrap();
        assert!(s.read(&mut buf).is_err());
        assert!(s.write(b"x").is_err());
    });
}

#[test]
fn blocking_write_to_a_reset_peer_fails_without_sigpipe() {
    default_sigpipe();
    within_blocking(|| {
        let (mut c, mut s) = blocking_pair();
        s.abort().unwrap();
        let chunk = vec![2u8; 64 * 1024];
        let e = (0..10_000)
            .find_map(|_| c.write(&chunk).err())
            .expect("a write to a reset peer fails");
        assert!(
            matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE)),
            "{e:?}"
        );
        assert!(c.is_closed());
    });
}

// ----- conversions ---------------------------------------------------------------

/// Sends one message each way between `a` and `b`.
async fn exchange(a: &Socket, b: &Socket) {
    a.send("ping").await.unwrap();
    assert_eq!(receive_exact(b, 4).await, b"ping");
    b.send("pong").await.unwrap();
    assert_eq!(receive_exact(a, 4).await, b"pong");
}

#[tokio::test]
async fn from_tokio_tcp_stream_keeps_the_connection() {
    within(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let local = stream.local_addr().unwrap();
        let (mut peer, _) = l.accept().await.unwrap();
        // The stream has been used through tokio's reactor first.
        peer.write_all(b"before").await.unwrap();
        let mut stream = stream;
        let mut buf = [0u8; 6];
        stream.read_exact(&mut buf).await.unwrap();

        let s = Socket::try_from(stream).unwrap();
        assert!(s.is_connected() && s.is_client() && !s.is_closed());
        assert_eq!((s.family(), s.socket_type()), (AF_INET, SOCK_STREAM));
        assert_eq!(s.protocol(), IPPROTO_TCP);
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.port(), addr.port());
        assert_eq!(s.info().unwrap().port, local.port());
        assert!(s.is_blocking());

        s.send("after").await.unwrap();
        let mut buf = [0u8; 5];
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"after");
        peer.write_all(b"reply").await.unwrap();
        assert_eq!(receive_exact(&s, 5).await, b"reply");
    })
    .await;
}

#[tokio::test]
async fn from_tokio_tcp_listener_keeps_listening() {
    within(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let s = Socket::try_from(l).unwrap();
        assert!(s.is_listening() && !s.is_connected() && s.is_bound());
        assert_eq!((s.host().as_str(), s.port()), ("127.0.0.1", port));
        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        let conn = s.accept().await.unwrap();
        exchange(&c, &conn).await;

        // IPv6 too.
        let l6 = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let port6 = l6.local_addr().unwrap().port();
        let s6 = Socket::try_from(l6).unwrap();
        assert_eq!(s6.family(), AF_INET6);
        assert_eq!((s6.host().as_str(), s6.port()), ("::1", port6));
        assert!(s6.is_listening());
    })
    .await;
}

#[tokio::test]
async fn from_tokio_udp_socket_bound_and_connected() {
    within(async {
        let u = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = u.local_addr().unwrap().port();
        let rx = Socket::try_from(u).unwrap();
        assert!(rx.is_bound() && !rx.is_connected());
        assert_eq!((rx.host().as_str(), rx.port()), ("127.0.0.1", port));
        assert_eq!((rx.socket_type(), rx.protocol()), (SOCK_DGRAM, IPPROTO_UDP));

        let t = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        t.connect(("127.0.0.1", port)).await.unwrap();
        let tx_port = t.local_addr().unwrap().port();
        let tx = Socket::try_from(t).unwrap();
        assert!(tx.is_connected() && tx.is_client());
        assert_eq!((tx.host().as_str(), tx.port()), ("127.0.0.1", port));
        tx.send("datagram").await.unwrap();
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], b"datagram");
        assert_eq!((d.host.as_str(), d.port), ("127.0.0.1", tx_port));
        rx.send_to(&d.host, d.port, "back").await.unwrap();
        assert_eq!(&tx.receive(None).await.unwrap().unwrap()[..], b"back");
    })
    .await;
}

#[tokio::test]
async fn try_from_std_net_types() {
    within(async {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let c = Socket::try_from(stream).unwrap();
        assert!(c.is_connected());
        assert_eq!((c.host().as_str(), c.port()), ("127.0.0.1", port));

        let ls = Socket::try_from(l).unwrap();
        assert!(ls.is_listening());
        assert_eq!(ls.port(), port);
        let conn = ls.accept().await.unwrap();
        assert_eq!(conn.port(), c.info().unwrap().port);
        exchange(&c, &conn).await;

        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let uport = u.local_addr().unwrap().port();
        let u = Socket::try_from(u).unwrap();
        assert!(u.is_bound());
        assert_eq!(u.port(), uport);
        Socket::udp()
            .unwrap()
            .send_to("127.0.0.1", uport, "x")
            .await
            .unwrap();
        assert_eq!(&u.receive_from(None).await.unwrap().data[..], b"x");

        // An unbound std UDP socket does not exist; an unbound std Unix
        // datagram socket does, and stays new.
        let d = Socket::try_from(std::os::unix::net::UnixDatagram::unbound().unwrap()).unwrap();
        assert!(!d.is_bound() && !d.is_connected() && !d.is_closed());
        assert_eq!((d.family(), d.socket_type()), (AF_UNIX, SOCK_DGRAM));
    })
    .await;
}

#[tokio::test]
async fn try_from_std_unix_types() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sock");
        let path_text = path.to_str().unwrap().to_owned();
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let ls = Socket::try_from(l).unwrap();
        assert!(ls.is_listening());
        assert_eq!(ls.family(), AF_UNIX);
        assert_eq!(ls.host(), path_text);
        assert_eq!(ls.info().unwrap().address, path_text);

        let stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let c = Socket::try_from(stream).unwrap();
        assert!(c.is_connected());
        assert_eq!(c.host(), path_text, "the peer's path");
        let conn = ls.accept().await.unwrap();
        exchange(&c, &conn).await;

        let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
        let (x, y) = (Socket::try_from(x).unwrap(), Socket::try_from(y).unwrap());
        assert_eq!((x.host().as_str(), x.port()), ("", 0));
        exchange(&x, &y).await;
    })
    .await;
}

#[test]
fn blocking_try_from_std_types() {
    within_blocking(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut c = blocking::Socket::try_from(stream).unwrap();
        let ls = blocking::Socket::try_from(l).unwrap();
        assert!(c.is_connected() && ls.is_listening());
        let mut conn = ls.accept().unwrap();
        c.write_all(b"std").unwrap();
        let mut buf = [0u8; 3];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"std");

        let u =
            blocking::Socket::try_from(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        assert!(u.is_bound());
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (a, b) = (
            blocking::Socket::try_from(a).unwrap(),
            blocking::Socket::try_from(b).unwrap(),
        );
        a.send("unix").unwrap();
        assert_eq!(blocking_receive_exact(&b, 4), b"unix");
        let d = blocking::Socket::try_from(std::os::unix::net::UnixDatagram::unbound().unwrap())
            .unwrap();
        assert_eq!(d.socket_type(), SOCK_DGRAM);
        let dir = tempfile::tempdir().unwrap();
        let ul = std::os::unix::net::UnixListener::bind(dir.path().join("b.sock")).unwrap();
        assert!(blocking::Socket::try_from(ul).unwrap().is_listening());
    });
}

#[tokio::test]
async fn converted_sockets_move_between_runtimes() {
    // A tokio stream made on one runtime, converted, then used on another.
    let (stream, peer) = within_blocking(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let c = tokio::net::TcpStream::connect(l.local_addr().unwrap())
                .await
                .unwrap();
            let (p, _) = l.accept().await.unwrap();
            (c.into_std().unwrap(), p.into_std().unwrap())
        })
    });
    within(async {
        let stream = tokio::net::TcpStream::from_std(stream).unwrap();
        let s = Socket::try_from(stream).unwrap();
        let p = Socket::try_from(peer).unwrap();
        exchange(&s, &p).await;
    })
    .await;
}

// ----- AsFd / AsRawFd ------------------------------------------------------------

#[tokio::test]
async fn fd_lends_the_live_descriptor_and_nothing_once_closed() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        let raw = c.as_raw_fd();
        assert!(raw >= 0);
        assert_eq!(raw, c.id());
        let target = fd_target(raw).expect("open descriptor");
        assert!(target.starts_with("socket:["), "{target}");
        {
            let fd = c.fd().unwrap();
            assert_eq!(fd.as_raw_fd(), raw);
            assert_eq!(fd.as_fd().as_raw_fd(), raw);
            assert!(format!("{fd:?}").contains(&raw.to_string()));
            // The lent descriptor is the socket itself: the OS sees the same
            // peer through it.
            let peer = socket2::SockRef::from(&fd.as_fd()).peer_addr().unwrap();
            assert_eq!(peer.as_socket().unwrap().port(), c.port());
            // And I/O through the crate works while it is lent.
            exchange(&c, &s).await;
        }
        c.close().unwrap();
        assert_eq!(c.as_raw_fd(), -1, "AsRawFd is -1 once closed");
        let e = c.fd().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IllegalState);
        assert!(
            e.message().starts_with("socket is in an illegal state"),
            "{}",
            e.message()
        );
        assert_ne!(fd_target(raw).as_deref(), Some(target.as_str()));
    })
    .await;
}

#[test]
fn blocking_fd_and_as_raw_fd() {
    within_blocking(|| {
        let (mut c, _s) = blocking_pair();
        let raw = c.as_raw_fd();
        assert!(raw >= 0);
        assert_eq!(raw, c.id());
        assert_eq!(c.fd().unwrap().as_fd().as_raw_fd(), raw);
        c.close().unwrap();
        assert_eq!(c.as_raw_fd(), -1);
        let e = c.fd().unwrap_err();
        assert!(
            e.message().starts_with("socket is in an illegal state"),
            "{}",
            e.message()
        );

        // A socket that never connected lends its descriptor too.
        let fresh = blocking::Socket::tcp().unwrap();
        assert_eq!(fresh.fd().unwrap().as_raw_fd(), fresh.id());
    });
}

#[tokio::test]
async fn a_closed_socket_never_lends_a_descriptor_to_revive() {
    within(async {
        // Before: a closed socket lent a process-wide stand-in, so
        // `from_fd(closed.as_fd().try_clone_to_owned())` made a fresh socket.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut s = Socket::try_from(l).unwrap();
        s.close().unwrap();
        assert!(s.fd().is_err());
        assert!(s.with_sockref(|r| r.set_nonblocking(true)).is_err());
        let e = s.accept().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IllegalState);
    })
    .await;
}

#[tokio::test]
async fn tokio_conversions_are_try_from_with_a_socket_error() {
    within(async {
        // The error type is SocketError (a `From` would give `Infallible`).
        let (a, _b) = tokio::net::UnixStream::pair().unwrap();
        let r: Result<Socket, blade_socket::SocketError> = Socket::try_from(a);
        assert!(r.unwrap().is_connected());
        let (a, _b) = tokio::net::UnixDatagram::pair().unwrap();
        let r: Result<Socket, blade_socket::SocketError> = Socket::try_from(a);
        assert!(r.unwrap().is_connected());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sock");
        let l = tokio::net::UnixListener::bind(&path).unwrap();
        let r: Result<Socket, blade_socket::SocketError> = Socket::try_from(l);
        let l = r.unwrap();
        assert!(l.is_listening() && l.is_bound());
        // The facade takes them too.
        let u = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let r: Result<blocking::Socket, blade_socket::SocketError> = blocking::Socket::try_from(u);
        assert!(r.unwrap().is_bound());
    })
    .await;
}

// ----- &Socket, owned halves and a chat server ------------------------------------

use std::sync::Arc;

use blade_socket::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
use tokio_util::codec::{FramedRead, FramedWrite};

#[test]
fn halves_are_send_sync_debug() {
    fn debug<T: std::fmt::Debug>() {}
    assert_send_sync::<OwnedReadHalf>();
    assert_send_sync::<OwnedWriteHalf>();
    assert_send_sync::<ReuniteError>();
    debug::<OwnedReadHalf>();
    debug::<OwnedWriteHalf>();
}

/// A reader and a writer in two tasks over one `Arc<Socket>`, through the
/// `&Socket` impls: `FramedRead::new(&*arc, ..)` and `FramedWrite::new(&*arc, ..)`.
#[tokio::test]
async fn framed_read_and_write_over_a_shared_reference() {
    within(async {
        let (a, b) = Socket::pair().unwrap();
        let a = Arc::new(a);
        let reader = tokio::spawn({
            let a = Arc::clone(&a);
            async move {
                let mut lines = FramedRead::new(&*a, LinesCodec::new());
                let mut got = Vec::new();
                while let Some(line) = lines.next().await {
                    got.push(line.expect("line"));
                }
                got
            }
        });
        let mut out = FramedWrite::new(&*a, LinesCodec::new());
        out.send("to b").await.unwrap();
        assert_eq!(
            b.receive(None).await.unwrap().as_deref(),
            Some(&b"to b\n"[..])
        );
        b.send("one\ntwo\n").await.unwrap();
        drop(b);
        assert_eq!(reader.await.unwrap(), ["one", "two"]);
        // poll_shutdown through &Socket shuts the write side only.
        let mut w: &Socket = &a;
        AsyncWriteExt::shutdown(&mut w).await.unwrap();
        assert_eq!(a.shutdown_reason(), Some(SHUT_WR));
    })
    .await;
}

#[tokio::test]
async fn async_read_write_through_a_shared_reference_honour_timeouts() {
    within(async {
        let (a, _b) = Socket::pair().unwrap();
        a.set_receive_timeout(Some(Duration::from_millis(50)));
        let mut r: &Socket = &a;
        let mut buf = [0u8; 8];
        let err = r.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(!a.is_closed());
    })
    .await;
}

#[tokio::test]
async fn into_split_reader_and_writer_in_two_tasks() {
    within(async {
        let (c, s) = tcp_pair().await;
        let (mut rd, mut wr) = c.into_split();
        assert!(rd.is_pair_of(&wr) && wr.is_pair_of(&rd));
        assert!(rd.as_ref().is_connected());
        let data = pattern(256 * 1024);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            rd.read_to_end(&mut got).await.map(|_| (got, rd))
        });
        let writer = tokio::spawn({
            let data = data.clone();
            async move {
                wr.write_all(&data).await?;
                wr.shutdown().await?; // SHUT_WR
                Ok::<_, std::io::Error>(wr)
            }
        });
        // The server echoes until the client's end of file, then closes.
        let mut echoed = 0;
        while let Some(b) = s.receive(None).await.unwrap() {
            echoed += b.len();
            s.send(&b).await.unwrap();
        }
        drop(s);
        assert_eq!(echoed, data.len());
        let wr = writer.await.unwrap().unwrap();
        let (got, rd) = reader.await.unwrap().unwrap();
        assert!(got == data, "the echo differs");
        assert_eq!(wr.as_ref().shutdown_reason(), Some(SHUT_WR));
        let c = rd.reunite(wr).expect("same socket");
        assert!(!c.is_closed());
    })
    .await;
}

#[tokio::test]
async fn dropping_the_write_half_shuts_the_write_side() {
    within(async {
        let (a, b) = Socket::pair().unwrap();
        let (mut rd, wr) = a.into_split();
        drop(wr);
        assert_eq!(b.receive(None).await.unwrap(), None, "b sees end of file");
        // The read half still works.
        b.send("still here").await.unwrap();
        let mut buf = [0u8; 16];
        let n = rd.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"still here");
    })
    .await;
}

#[tokio::test]
async fn reunite_checks_that_the_halves_belong_together() {
    within(async {
        let (a, _b) = Socket::pair().unwrap();
        let (c, _d) = Socket::pair().unwrap();
        let (a_fd, c_fd) = (a.id(), c.id());
        let (ard, awr) = a.into_split();
        let (crd, cwr) = c.into_split();
        assert!(!ard.is_pair_of(&cwr));
        let ReuniteError(ard, cwr) = ard.reunite(cwr).unwrap_err();
        let err = cwr.reunite(ard).unwrap_err();
        assert!(err.to_string().contains("not from the same socket"));
        let ReuniteError(ard, cwr) = err;
        let a = awr.reunite(ard).unwrap();
        let c = crd.reunite(cwr).unwrap();
        assert_eq!((a.id(), c.id()), (a_fd, c_fd));
        // Reuniting does not shut anything.
        assert_eq!((a.shutdown_reason(), c.shutdown_reason()), (None, None));
    })
    .await;
}

/// The trial that found the gaps, as a test: a chat server on
/// `FramedRead`/`FramedWrite` over the owned halves with `LinesCodec`,
/// talking to three blocking clients on their own threads. Each client's
/// line reaches the other two; their end of file ends the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_chat_server_with_blocking_clients() {
    const CLIENTS: usize = 3;
    within(async {
        let l = listener().await;
        let port = l.port();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                tokio::task::spawn_blocking(move || {
                    let mut c = blocking::Socket::tcp().expect("socket");
                    c.connect(None, port, None).expect("connect");
                    (&c).write_all(format!("hello from {i}\n").as_bytes())
                        .expect("write");
                    let mut lines = BufReader::new(&c).lines();
                    let mut heard: Vec<String> = (1..CLIENTS)
                        .map(|_| lines.next().expect("a line").expect("read"))
                        .collect();
                    heard.sort();
                    c.shutdown(SHUT_WR).expect("shutdown");
                    assert!(lines.next().is_none(), "end of file after the chat");
                    heard
                })
            })
            .collect();

        // Every writer is known before any line is read, so no line is
        // missed. The accept order need not be the clients' order: a line
        // names its client, and goes to every connection but its own.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, String)>(16);
        let mut writers = Vec::new();
        for id in 0..CLIENTS {
            let (rd, wr) = l.accept().await.expect("accept").into_split();
            writers.push(FramedWrite::new(wr, LinesCodec::new()));
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = FramedRead::new(rd, LinesCodec::new());
                while let Some(Ok(line)) = lines.next().await {
                    if tx.send((id, line)).await.is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut relayed = 0;
        while let Some((from, line)) = rx.recv().await {
            for (to, w) in writers.iter_mut().enumerate() {
                if to != from {
                    w.send(line.clone()).await.expect("relay");
                }
            }
            relayed += 1;
        }
        assert_eq!(relayed, CLIENTS);
        drop(writers); // each write half's drop shuts its side: clients see EOF

        for (i, c) in clients.into_iter().enumerate() {
            let heard = c.await.expect("client");
            let expected: Vec<String> = (0..CLIENTS)
                .filter(|&j| j != i)
                .map(|j| format!("hello from {j}"))
                .collect();
            assert_eq!(heard, expected, "client {i}");
        }
    })
    .await;
}
