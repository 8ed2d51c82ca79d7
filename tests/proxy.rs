//! `copy_bidirectional` on both faces and both paths (splice, and the copy
//! fallback forced), and `send_file` from a pipe (issue 18, defect 6).

mod support;
use support::*;

use std::{
    io::Write,
    sync::Arc,
    time::{Duration, Instant},
};

use blade_socket::{ErrorKind, SHUT_WR, Shutdown, Socket, blocking};

/// A pipe's (read, write) ends as files (`std::io::pipe` needs Rust 1.87,
/// past the crate's MSRV): made by tokio, then taken back as plain descriptors.
fn os_pipe() -> (std::fs::File, std::fs::File) {
    let _in = support::face::runtime().enter();
    let (tx, rx) = tokio::net::unix::pipe::pipe().expect("pipe");
    let r = rx.into_blocking_fd().expect("read end");
    let w = tx.into_blocking_fd().expect("write end");
    (std::fs::File::from(r), std::fs::File::from(w))
}

const MIB: usize = 1024 * 1024;

/// Deterministic bytes that differ by `seed`, so that a swapped, dropped or
/// repeated chunk shows.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Receives until end of file.
async fn receive_all(s: &Socket) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = s.receive(Some(256 * 1024)).await.expect("receive") {
        out.extend_from_slice(&b);
    }
    out
}

/// How the proxy in the middle runs.
#[derive(Clone, Copy, Debug)]
enum Proxy {
    Async { fallback: bool },
    Blocking { fallback: bool },
}

/// client ⇄ (pa | proxy | pb) ⇄ upstream; runs `copy_bidirectional(pa, pb)`
/// on the face asked for, and returns its result and the two proxy sockets.
type ProxyRun = tokio::task::JoinHandle<(blade_socket::Result<(u64, u64)>, Socket, Socket)>;

async fn proxied(how: Proxy, idle: Option<Duration>) -> (Socket, Socket, ProxyRun) {
    let (client, pa) = tcp_pair().await;
    let (pb, upstream) = tcp_pair().await;
    let run = match how {
        Proxy::Async { fallback } => {
            pa.refuse_splice(fallback);
            tokio::spawn(async move {
                let r = blade_socket::copy_bidirectional(&pa, &pb, idle).await;
                (r, pa, pb)
            })
        }
        Proxy::Blocking { fallback } => {
            let (pa, pb) = (blocking::Socket::from(pa), blocking::Socket::from(pb));
            pb.refuse_splice(fallback);
            tokio::task::spawn_blocking(move || {
                let r = blocking::copy_bidirectional(&pa, &pb, idle);
                (r, pa.into(), pb.into())
            })
        }
    };
    (client, upstream, run)
}

const ALL: [Proxy; 4] = [
    Proxy::Async { fallback: false },
    Proxy::Async { fallback: true },
    Proxy::Blocking { fallback: false },
    Proxy::Blocking { fallback: true },
];

/// 8 MiB each way at once, content checked, with a trailer the upstream
/// sends only after it read the client's end of file (the half-close
/// travelled), and the counts are the bytes delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_mib_each_way_exact_with_half_close_trailer() {
    for how in ALL {
        within(async {
            let (client, upstream, run) = proxied(how, Some(Duration::from_secs(15))).await;
            let up = bytes(8 * MIB, 1);
            let down = bytes(8 * MIB, 2);
            let trailer = b"trailer after your end of file";
            let client = Arc::new(client);
            let upstream = Arc::new(upstream);
            let c_send = tokio::spawn({
                let (c, up) = (Arc::clone(&client), up.clone());
                async move {
                    c.send(&up).await.expect("client send");
                    c.shutdown(SHUT_WR).expect("client shutdown");
                }
            });
            let u_send = tokio::spawn({
                let (u, down) = (Arc::clone(&upstream), down.clone());
                async move { u.send(&down).await.expect("upstream send") }
            });
            let c_recv = tokio::spawn({
                let c = Arc::clone(&client);
                async move { receive_all(&c).await }
            });
            let got_up = receive_all(&upstream).await;
            u_send.await.expect("task");
            upstream.send(trailer).await.expect("trailer");
            upstream.shutdown(SHUT_WR).expect("upstream shutdown");
            c_send.await.expect("task");
            let got_down = c_recv.await.expect("task");
            assert!(got_up == up, "{how:?}: client → upstream bytes differ");
            let mut want_down = down.clone();
            want_down.extend_from_slice(trailer);
            assert!(
                got_down == want_down,
                "{how:?}: upstream → client bytes differ"
            );
            let (r, pa, pb) = run.await.expect("proxy task");
            let (ab, ba) = r.expect("copy_bidirectional");
            assert_eq!(ab, up.len() as u64, "{how:?}");
            assert_eq!(ba, want_down.len() as u64, "{how:?}");
            assert_eq!(pb.shutdown_reason(), Some(Shutdown::Write), "{how:?}");
            assert_eq!(pa.shutdown_reason(), Some(Shutdown::Write), "{how:?}");
        })
        .await;
    }
}

/// One direction silent far longer than `idle`, the other flowing with gaps
/// shorter than it: never cut (a receive timeout per direction would cut
/// it), and ends cleanly when both sides close.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_way_stream_is_never_idle() {
    for how in [
        Proxy::Async { fallback: false },
        Proxy::Blocking { fallback: false },
    ] {
        within(async {
            let idle = Duration::from_millis(1500);
            let (client, upstream, run) = proxied(how, Some(idle)).await;
            let started = Instant::now();
            let mut sent = 0usize;
            // Three idle periods long in all, so the silent direction
            // outlives `idle` several times over.
            while started.elapsed() < idle * 3 {
                upstream.send(b"tick").await.expect("send");
                sent += 4;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            upstream.shutdown(SHUT_WR).expect("shutdown");
            client.shutdown(SHUT_WR).expect("shutdown");
            assert_eq!(receive_all(&client).await.len(), sent, "{how:?}");
            let (r, _, _) = run.await.expect("task");
            assert_eq!(r.expect("never idle"), (0, sent as u64), "{how:?}");
        })
        .await;
    }
}

/// Nothing moving in either direction for `idle`: `TimedOut`, not sooner.
#[tokio::test(flavor = "multi_thread")]
async fn the_idle_limit_ends_it() {
    for how in [
        Proxy::Async { fallback: false },
        Proxy::Blocking { fallback: false },
    ] {
        within(async {
            let idle = Duration::from_millis(300);
            let (_client, _upstream, run) = proxied(how, Some(idle)).await;
            let started = Instant::now();
            let (r, _, _) = run.await.expect("task");
            let e = r.expect_err("idle");
            assert!(e.is_timeout(), "{how:?}: {e}");
            assert!(e.message().contains("timed out"), "{e}");
            assert!(
                started.elapsed() >= idle - Duration::from_millis(50),
                "{how:?}"
            );
        })
        .await;
    }
}

/// A reset mid-transfer ends it with that error, and closes that socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_mid_transfer_ends_it_with_the_reset() {
    for how in ALL {
        within(async {
            let (client, mut upstream, run) = proxied(how, None).await;
            upstream.send(bytes(MIB, 3)).await.expect("send");
            // The bytes reach the client through the proxy: it is mid-transfer.
            assert_eq!(receive_exact(&client, MIB).await.len(), MIB);
            client.send(b"x").await.expect("send");
            assert_eq!(receive_exact(&upstream, 1).await, b"x");
            upstream.abort().expect("abort");
            let (r, pa, pb) = run.await.expect("task");
            let e = r.expect_err("reset");
            assert_eq!(
                e.io_kind(),
                std::io::ErrorKind::ConnectionReset,
                "{how:?}: {e}"
            );
            assert!(pb.is_closed(), "{how:?}: the reset socket closes");
            assert!(!pa.is_closed(), "{how:?}: the other stays open");
        })
        .await;
    }
}

/// A close through `&self` from another task ends a running copy at once.
#[tokio::test(flavor = "multi_thread")]
async fn close_shared_ends_a_running_copy() {
    within(async {
        let (_client, pa) = tcp_pair().await;
        let (pb, _upstream) = tcp_pair().await;
        let (pa, pb) = (Arc::new(pa), Arc::new(pb));
        let run = tokio::spawn({
            let (pa, pb) = (Arc::clone(&pa), Arc::clone(&pb));
            async move { blade_socket::copy_bidirectional(&pa, &pb, None).await }
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        pb.close_shared().expect("close_shared");
        let e = run.await.expect("task").expect_err("closed");
        assert_eq!(e.kind(), ErrorKind::IllegalState, "{e}");
    })
    .await;
}

/// The same on the blocking face: a copy waiting in `poll(2)` wakes when
/// another thread closes one of its sockets through `&self`.
#[test]
fn close_shared_ends_a_running_blocking_copy() {
    within_blocking(|| {
        let (_client, pa) = blocking_pair();
        let (pb, _upstream) = blocking_pair();
        let (pa, pb) = (Arc::new(pa), Arc::new(pb));
        let run = std::thread::spawn({
            let (pa, pb) = (Arc::clone(&pa), Arc::clone(&pb));
            move || blocking::copy_bidirectional(&pa, &pb, None)
        });
        std::thread::sleep(Duration::from_millis(20));
        pa.close_shared().expect("close_shared");
        let e = run.join().expect("thread").expect_err("closed");
        assert_eq!(e.kind(), ErrorKind::IllegalState, "{e}");
    });
}

/// Bad input is a clear error: not a stream, not connected, the same socket twice.
#[tokio::test]
async fn wrong_sockets_are_invalid_arguments() {
    within(async {
        let (a, b) = tcp_pair().await;
        let udp = Socket::udp().expect("udp");
        let fresh = Socket::tcp().expect("tcp");
        for (x, y) in [(&a, &udp), (&fresh, &b), (&a, &a)] {
            let e = blade_socket::copy_bidirectional(x, y, None)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        }
        let mut closed = Socket::tcp().expect("tcp");
        closed.close().expect("close");
        let e = blade_socket::copy_bidirectional(&a, &closed, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IllegalState, "{e}");
    })
    .await;
}

/// Many proxied connections at once, each moving bulk, with pipes refused
/// on half of them (the pipe budget spent): every byte arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_at_once_with_pipes_refused_on_half() {
    within(async {
        let mut tasks = Vec::new();
        for i in 0..16u8 {
            let how = Proxy::Async {
                fallback: i % 2 == 0,
            };
            tasks.push(tokio::spawn(async move {
                let (client, upstream, run) = proxied(how, Some(Duration::from_secs(15))).await;
                let data = bytes(2 * MIB, i);
                let sender = tokio::spawn({
                    let data = data.clone();
                    async move {
                        client.send(&data).await.expect("send");
                        client.shutdown(SHUT_WR).expect("shutdown");
                        client
                    }
                });
                let got = receive_all(&upstream).await;
                assert!(got == data, "connection {i}: bytes differ");
                upstream.shutdown(SHUT_WR).expect("shutdown");
                let client = sender.await.expect("task");
                assert!(receive_all(&client).await.is_empty());
                let (r, _, _) = run.await.expect("task");
                assert_eq!(r.expect("copy"), (data.len() as u64, 0));
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    })
    .await;
}

// ---------------------------------------------------------------- send_file

/// Writes `data` into a new pipe from a thread, then closes the write end;
/// returns the read end as a `File`.
fn pipe_fed_with(data: Vec<u8>) -> std::fs::File {
    let (r, mut w) = os_pipe();
    std::thread::spawn(move || {
        let _ = w.write_all(&data);
    });
    r
}

/// A TCP pair with small kernel buffers, so that sends fill them and stop
/// part-way.
async fn small_buffers() -> (Socket, Socket) {
    let (mut a, mut b) = tcp_pair().await;
    a.set_option(blade_socket::SO_SNDBUF, 16 * 1024)
        .expect("SO_SNDBUF");
    b.set_option(blade_socket::SO_RCVBUF, 16 * 1024)
        .expect("SO_RCVBUF");
    (a, b)
}

/// Receives until end of file in small reads with a pause after each: a
/// reader slower than the sender, so the sender's calls stop part-way.
async fn slow_receive_all(s: &Socket) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = s.receive(Some(16 * 1024)).await.expect("receive") {
        out.extend_from_slice(&b);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    out
}

/// Issue 18, defect 6: `send_file` from a pipe on a non-blocking socket
/// whose peer reads slowly. Every call may send part; what a call did not
/// send must still be in the pipe for the next one. Before the fix, the
/// copy path read 64 KiB chunks out of the pipe and dropped what the socket
/// did not take.
#[tokio::test(flavor = "multi_thread")]
async fn send_file_from_a_pipe_non_blocking_loses_nothing() {
    within(async {
        let (mut a, b) = small_buffers().await;
        a.set_blocking(false).expect("non-blocking");
        let data = bytes(4 * MIB, 7);
        let pipe = pipe_fed_with(data.clone());
        let reader = tokio::spawn(async move { (slow_receive_all(&b).await, b) });
        let mut total = 0u64;
        loop {
            match a.send_file(&pipe).await {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Nothing could go now (pipe empty, or socket full): try again.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => panic!("send_file: {e}"),
            }
        }
        a.shutdown(SHUT_WR).expect("shutdown");
        let (got, _b) = reader.await.expect("task");
        assert_eq!(total, data.len() as u64);
        assert!(
            got == data,
            "received {} of {} bytes, or other bytes",
            got.len(),
            data.len()
        );
    })
    .await;
}

/// The same with a send timeout: each timed-out call reports what it sent,
/// and the rest is still in the pipe.
#[tokio::test(flavor = "multi_thread")]
async fn send_file_from_a_pipe_with_a_send_timeout_loses_nothing() {
    within(async {
        let (a, b) = small_buffers().await;
        a.set_send_timeout(Some(Duration::from_millis(20)));
        let data = bytes(4 * MIB, 8);
        let pipe = pipe_fed_with(data.clone());
        let reader = tokio::spawn(async move { slow_receive_all(&b).await });
        let mut total = 0u64;
        let mut timeouts = 0;
        loop {
            match a.send_file(&pipe).await {
                Ok(n) => {
                    total += n;
                    break;
                }
                Err(e) if e.is_timeout() => {
                    timeouts += 1;
                    total += e.bytes_sent().expect("bytes_sent on a timeout");
                }
                Err(e) => panic!("send_file: {e}"),
            }
        }
        a.shutdown(SHUT_WR).expect("shutdown");
        let got = reader.await.expect("task");
        assert_eq!(total, data.len() as u64, "after {timeouts} timeouts");
        assert!(
            got == data,
            "received {} of {} bytes, or other bytes",
            got.len(),
            data.len()
        );
    })
    .await;
}

/// The blocking face: a pipe whose writer pauses is waited for (not read
/// in a blocking call), and everything arrives.
#[test]
fn send_file_from_a_pipe_blocking_waits_for_the_writer() {
    within_blocking(|| {
        let (a, b) = blocking_pair();
        let data = bytes(MIB, 9);
        let (r, mut w) = os_pipe();
        let writer = std::thread::spawn({
            let data = data.clone();
            move || {
                for chunk in data.chunks(256 * 1024) {
                    w.write_all(chunk).expect("write");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        });
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Some(c) = b.receive(None).expect("receive") {
                got.extend_from_slice(&c);
            }
            got
        });
        let pipe = r;
        assert_eq!(a.send_file(&pipe).expect("send_file"), data.len() as u64);
        writer.join().expect("writer");
        a.shutdown(SHUT_WR).expect("shutdown");
        assert!(reader.join().expect("reader") == data);
    });
}

/// Never a blocking read on a runtime worker: on a current-thread runtime,
/// `send_file` from a pipe whose writer is another task of that runtime.
/// A blocking `read()` of the empty pipe would stall the runtime, so the
/// writer would never run (before the fix this hung until the bound).
#[test]
fn send_file_from_a_pipe_lets_the_runtime_run_its_writer() {
    within_blocking(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (a, b) = tcp_pair().await;
            let data = bytes(MIB, 10);
            let (r, w) = os_pipe();
            let mut w = tokio::net::unix::pipe::Sender::from_file(w).expect("sender");
            let writer = tokio::spawn({
                let data = data.clone();
                async move {
                    use tokio::io::AsyncWriteExt;
                    for chunk in data.chunks(64 * 1024) {
                        w.write_all(chunk).await.expect("write");
                        tokio::task::yield_now().await;
                    }
                }
            });
            let reader = tokio::spawn(async move { receive_all(&b).await });
            let pipe = r;
            assert_eq!(
                a.send_file(&pipe).await.expect("send_file"),
                data.len() as u64
            );
            writer.await.expect("writer");
            a.shutdown(SHUT_WR).expect("shutdown");
            assert!(reader.await.expect("reader") == data);
        });
    });
}
