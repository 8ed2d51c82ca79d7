//! Reliability 4: no leaks.
//!
//! Counts this process's open descriptors (`/proc/self/fd`) before and after
//! each batch of work, after a warm-up (runtimes, the facade's runtime and
//! other lazily made descriptors exist before the first count); the count
//! must return exactly to where it started:
//! - connect/accept/close cycles, async and blocking, closing in every order
//!   (client first, server first, `close`, `close_shared`, drop, reset);
//! - cancelled accepts and receives (dropped after one poll, or cut off by
//!   `tokio::time::timeout`);
//! - timeouts of `receive`, `accept`, `send` and `connect`, both faces;
//! - failed connects (refused, and names that cannot resolve), both faces;
//! - `close_shared` while an operation is pending (async) or a thread is
//!   blocked (blocking).
//!
//! Then memory: the resident set (`VmRSS`) after a warm-up, after a long
//! mixed loop, and after a second one of the same length must not keep
//! growing.
//!
//! Everything runs in one `#[test]`, in sequence, so that no other test of
//! this process opens descriptors or allocates while it counts.
//!
//! Sizes: quick (default) runs 5,000 cycles per face, 1,000 of each kind of
//! cancellation, timeout and failed connect, 1,000 pending `close_shared`
//! (async; 200 blocked threads) and 2 x 10,000 iterations of the memory
//! loop (about 10 s on 2 cores); heavy (`BLADE_SOCKET_HEAVY=1`) multiplies
//! every count by 10 (about 100 s).
mod support;
use support::*;

#[path = "support/reliability.rs"]
mod reliability;
use reliability::*;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use blade_socket::{ErrorKind, SO_LINGER, SO_RCVBUF, SO_SNDBUF, Socket, blocking};

fn scale() -> usize {
    pick(1, 10)
}

/// Runs `batch`, then asserts the descriptor count is back where it was.
fn no_fd_leak(what: &str, batch: impl FnOnce()) {
    let before = fd_count();
    let t = Instant::now();
    batch();
    // Descriptors are released synchronously by close/drop; nothing to wait for.
    let after = fd_count();
    println!(
        "leaks: {what}: {before} descriptors before, {after} after ({:.2} s)",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(after, before, "{what}: descriptor count changed");
}

/// The whole suite, in sequence (see the module docs).
#[test]
fn descriptors_and_memory_return_to_their_baseline() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        suite();
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(pick(240, 1800)))
        .expect("leak suite exceeded its time bound (or panicked)");
}

fn suite() {
    let rt = multi_thread_runtime();
    let n = scale();
    // Warm up everything lazily made: the facade's runtime, the resolver
    // path, timers, a closed socket's stand-in descriptor.
    warm_up(&rt);
    let t0 = Instant::now();
    let start = fd_count();
    let mut peak = start;

    no_fd_leak("connect/accept/close cycles (async)", || {
        rt.block_on(async { cycles_async(5_000 * n, &mut peak).await })
    });
    no_fd_leak("connect/accept/close cycles (blocking)", || {
        cycles_blocking(5_000 * n, &mut peak)
    });
    no_fd_leak("cancelled accepts and receives", || {
        rt.block_on(cancellations(1_000 * n))
    });
    no_fd_leak("timeouts (async)", || {
        rt.block_on(timeouts_async(1_000 * n))
    });
    no_fd_leak("timeouts (blocking)", || timeouts_blocking(1_000 * n));
    no_fd_leak("failed connects (async)", || {
        rt.block_on(failed_connects_async(1_000 * n))
    });
    no_fd_leak("failed connects (blocking)", || {
        failed_connects_blocking(1_000 * n)
    });
    no_fd_leak("close_shared with an operation pending (async)", || {
        rt.block_on(close_shared_pending(1_000 * n))
    });
    no_fd_leak("close_shared with a thread blocked (blocking)", || {
        close_shared_blocked(pick(200, 2_000))
    });
    assert_eq!(fd_count(), start);
    println!(
        "leaks: descriptors: baseline {start}, peak {peak}, all batches in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    memory(&rt, 10_000 * n);
}

fn warm_up(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (c, s) = tcp_pair().await;
        c.send("w").await.unwrap();
        receive_exact(&s, 1).await;
        let s = s;
        s.set_receive_timeout(Some(Duration::from_millis(1)));
        let _ = s.receive(None).await;
        let mut x = Socket::tcp().unwrap();
        let _ = x.connect(Some("localhost"), closed_port(), None).await;
        let _ = x.close_shared();
    });
    let (c, s) = blocking_pair();
    c.send("w").unwrap();
    blocking_receive_exact(&s, 1);
    let _ = blocking::get_address_info("localhost", Some("http"), None);
}

// ------------------------------------------------------------ cycles

async fn cycles_async(n: usize, peak: &mut usize) {
    let l = listener().await;
    let mut rng = Rng::new(1);
    for i in 0..n {
        let mut c = Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let mut s = l.accept().await.unwrap();
        c.send(i.to_le_bytes()).await.unwrap();
        assert_eq!(receive_exact(&s, 8).await, i.to_le_bytes());
        if i % 500 == 0 {
            *peak = (*peak).max(fd_count());
        }
        match rng.next_u64() % 6 {
            0 => {
                c.close().unwrap();
                assert_eq!(s.receive(None).await.unwrap(), None);
                s.close().unwrap();
            }
            1 => {
                s.close().unwrap();
                drop(c);
            }
            2 => {
                c.close_shared().unwrap();
                s.close_shared().unwrap();
            }
            3 => {
                s.set_option(SO_LINGER, Duration::ZERO).unwrap();
                s.close().unwrap();
                let _ = c.receive(None).await; // the reset closes c
                drop(c);
            }
            4 => {
                // Through the other face and back.
                let b: blocking::Socket = c.into();
                let back: Socket = b.into();
                drop(back);
                drop(s);
            }
            _ => {
                drop(s);
                drop(c);
            }
        }
    }
}

fn cycles_blocking(n: usize, peak: &mut usize) {
    let l = blocking_listener();
    let mut rng = Rng::new(2);
    for i in 0..n {
        let mut c = blocking::Socket::tcp().unwrap();
        c.connect(None, l.port(), None).unwrap();
        let mut s = l.accept().unwrap();
        c.send(i.to_le_bytes()).unwrap();
        assert_eq!(blocking_receive_exact(&s, 8), i.to_le_bytes());
        if i % 500 == 0 {
            *peak = (*peak).max(fd_count());
        }
        match rng.next_u64() % 4 {
            0 => {
                c.close().unwrap();
                assert_eq!(s.receive(None).unwrap(), None);
                s.close().unwrap();
            }
            1 => {
                s.set_option(SO_LINGER, Duration::ZERO).unwrap();
                s.close().unwrap();
                let _ = c.receive(None);
                drop(c);
            }
            2 => {
                let a: Socket = s.into();
                drop(a);
                drop(c);
            }
            _ => {
                drop(c);
                drop(s);
            }
        }
    }
}

// ----------------------------------------------------- cancellations

async fn cancellations(n: usize) {
    let l = listener().await;
    let (c, s) = tcp_pair().await;
    for i in 0..n {
        // accept: dropped after one poll, or cut off by a timeout
        if i % 2 == 0 {
            let mut f = Box::pin(l.accept());
            assert!(poll_once(&mut f).await.is_pending());
        } else {
            let r = tokio::time::timeout(Duration::from_micros(200), l.accept()).await;
            assert!(r.is_err(), "nobody connects");
        }
        // receive: the same
        if i % 2 == 0 {
            let mut f = Box::pin(s.receive(None));
            assert!(poll_once(&mut f).await.is_pending());
        } else {
            let r = tokio::time::timeout(Duration::from_micros(200), s.receive(Some(10))).await;
            assert!(r.is_err(), "nothing sent");
        }
    }
    // Nothing was lost, and both still work.
    c.send("end").await.unwrap();
    assert_eq!(receive_exact(&s, 3).await, b"end");
    let mut c2 = Socket::tcp().unwrap();
    c2.connect(None, l.port(), None).await.unwrap();
    l.accept().await.unwrap();
}

// ---------------------------------------------------------- timeouts

async fn timeouts_async(n: usize) {
    let ms = Duration::from_millis(1);
    let l = listener().await;
    l.set_receive_timeout(Some(ms));
    let (c, s) = tcp_pair().await;
    s.set_receive_timeout(Some(ms));
    // A pair with full buffers for send timeouts.
    let (fc, _fs) = full_pair().await;
    fc.set_send_timeout(Some(ms));
    let (bl, _filler) = full_backlog().await;
    for i in 0..n {
        let e = match i % 4 {
            0 => l.accept().await.map(drop).unwrap_err(),
            1 => s.receive(None).await.map(drop).unwrap_err(),
            2 => fc.send([0u8; 4096]).await.map(drop).unwrap_err(),
            _ => {
                let mut x = Socket::tcp().unwrap();
                let e = x.connect(None, bl.port(), Some(ms)).await.unwrap_err();
                assert!(x.is_closed());
                e
            }
        };
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
    }
    c.set_receive_timeout(None);
    c.send("ok").await.unwrap();
    assert_eq!(receive_exact(&s, 2).await, b"ok");
}

/// A pair whose send side is full (the peer never reads).
async fn full_pair() -> (Socket, Socket) {
    let mut l = listener().await;
    l.set_option(SO_RCVBUF, 4096).unwrap();
    let mut c = Socket::tcp().unwrap();
    c.set_option(SO_SNDBUF, 4096).unwrap();
    c.connect(None, l.port(), None).await.unwrap();
    let s = l.accept().await.unwrap();
    c.set_send_timeout(Some(Duration::from_millis(20)));
    let chunk = vec![0u8; 64 * 1024];
    while c.send(&chunk).await.is_ok() {}
    (c, s)
}

fn timeouts_blocking(n: usize) {
    let ms = Duration::from_millis(1);
    let l = blocking_listener();
    l.set_receive_timeout(Some(ms));
    let (_c, s) = blocking_pair();
    s.set_receive_timeout(Some(ms));
    let (bl, _filler) = blocking_full_backlog();
    let mut fl = blocking_listener();
    fl.set_option(SO_RCVBUF, 4096).unwrap();
    let mut fc = blocking::Socket::tcp().unwrap();
    fc.set_option(SO_SNDBUF, 4096).unwrap();
    fc.connect(None, fl.port(), None).unwrap();
    let _fs = fl.accept().unwrap();
    fc.set_send_timeout(Some(Duration::from_millis(20)));
    let chunk = vec![0u8; 64 * 1024];
    while fc.send(&chunk).is_ok() {}
    fc.set_send_timeout(Some(ms));
    for i in 0..n {
        let e = match i % 4 {
            0 => l.accept().map(drop).unwrap_err(),
            1 => s.receive(None).map(drop).unwrap_err(),
            2 => fc.send([0u8; 4096]).map(drop).unwrap_err(),
            _ => {
                let mut x = blocking::Socket::tcp().unwrap();
                let e = x.connect(None, bl.port(), Some(ms)).unwrap_err();
                assert!(x.is_closed());
                e
            }
        };
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
    }
}

// ---------------------------------------------------- failed connects

async fn failed_connects_async(n: usize) {
    let port = closed_port();
    for i in 0..n {
        let mut c = Socket::tcp().unwrap();
        let host = match i % 4 {
            0 | 1 => None,
            2 => Some("localhost"),
            _ => Some("not a host name"), // rejected locally, never resolved
        };
        let e = c.connect(host, port, None).await.unwrap_err();
        assert!(c.is_closed(), "{e:?}");
        assert!(
            e.raw_os_error() == Some(libc::ECONNREFUSED)
                || e.kind() == ErrorKind::AddressResolution
                || e.message().contains("refused"),
            "{e:?}"
        );
    }
}

fn failed_connects_blocking(n: usize) {
    let port = closed_port();
    for i in 0..n {
        let mut c = blocking::Socket::tcp().unwrap();
        let host = match i % 3 {
            0 => None,
            1 => Some("localhost"),
            _ => Some("bad..name"),
        };
        let e = c.connect(host, port, None).unwrap_err();
        assert!(c.is_closed(), "{e:?}");
    }
}

// --------------------------------------------------- close_shared

async fn close_shared_pending(n: usize) {
    let l = Arc::new(listener().await);
    for i in 0..n {
        if i % 2 == 0 {
            let (c, _s) = tcp_pair_on(&l).await;
            let c = Arc::new(c);
            let mut f = Box::pin(c.receive(None));
            assert!(poll_once(&mut f).await.is_pending());
            c.close_shared().unwrap();
            let e = f.await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::IllegalState, "{e:?}");
        } else {
            let l2 = Arc::new(listener().await);
            let mut f = Box::pin(l2.accept());
            assert!(poll_once(&mut f).await.is_pending());
            l2.close_shared().unwrap();
            let e = f.await.map(drop).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::IllegalState, "{e:?}");
        }
    }
}

/// A thread blocked in `receive` or `accept`; another closes the socket.
fn close_shared_blocked(n: usize) {
    let l = blocking_listener();
    for i in 0..n {
        let (c, _s, l2);
        let target: &blocking::Socket = if i % 2 == 0 {
            let mut cc = blocking::Socket::tcp().unwrap();
            cc.connect(None, l.port(), None).unwrap();
            _s = Some(l.accept().unwrap());
            c = cc;
            &c
        } else {
            l2 = blocking_listener();
            &l2
        };
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            let t = scope.spawn(move || {
                tx.send(()).unwrap();
                if i % 2 == 0 {
                    target.receive(None).map(drop)
                } else {
                    target.accept().map(drop)
                }
            });
            rx.recv().unwrap();
            // Whether the thread is already parked or about to call, the
            // close makes it fail (which error: tests/reliability_faults.rs).
            target.close_shared().unwrap();
            assert!(t.join().unwrap().is_err());
        });
    }
}

async fn tcp_pair_on(l: &Socket) -> (Socket, Socket) {
    let mut c = Socket::tcp().unwrap();
    c.connect(None, l.port(), None).await.unwrap();
    let s = l.accept().await.unwrap();
    (c, s)
}

// ------------------------------------------------------------ memory

/// One iteration of mixed work for the memory loop.
async fn mixed_iteration(l: &Socket, i: usize, buf: &[u8]) {
    let mut c = Socket::tcp().unwrap();
    c.connect(None, l.port(), None).await.unwrap();
    let s = l.accept().await.unwrap();
    let len = 1 + (i * 7919) % buf.len();
    c.send(&buf[..len]).await.unwrap();
    assert_eq!(receive_exact(&s, len).await.len(), len);
    s.set_receive_timeout(Some(Duration::from_micros(100)));
    if i % 10 == 0 {
        assert!(s.receive(None).await.unwrap_err().is_timeout());
    }
    {
        let mut f = Box::pin(s.receive(None));
        let _ = poll_once(&mut f).await;
    }
    let _ = format!("{c:?} {s:?}");
    let _ = c.get_option(blade_socket::SO_RCVBUF);
    // The server side closes first throughout this loop, so that its
    // TIME_WAIT entries sit on the listener's port rather than on tens of
    // thousands of ephemeral ports.
    if i % 2 == 0 {
        s.close_shared().unwrap();
    }
    drop(s);
    drop(c);
}

fn memory(rt: &tokio::runtime::Runtime, n: usize) {
    let buf = vec![0x77u8; 64 * 1024];
    let l = rt.block_on(listener());
    let run = |count: usize| {
        rt.block_on(async {
            for i in 0..count {
                mixed_iteration(&l, i, &buf).await;
            }
        });
        let bl = blocking_listener();
        for i in 0..count / 10 {
            let mut c = blocking::Socket::tcp().unwrap();
            c.connect(None, bl.port(), None).unwrap();
            let s = bl.accept().unwrap();
            let len = 1 + (i * 31) % buf.len();
            c.send(&buf[..len]).unwrap();
            assert_eq!(blocking_receive_exact(&s, len).len(), len);
            drop(s);
            drop(c);
        }
    };
    run(n / 4); // warm-up: allocator arenas, runtime structures
    let r0 = status_kib("VmRSS");
    let t = Instant::now();
    run(n);
    let r1 = status_kib("VmRSS");
    run(n);
    let r2 = status_kib("VmRSS");
    println!(
        "leaks: memory: VmRSS {r0} KiB after warm-up, {r1} KiB after {n} iterations, {r2} KiB after {} ({:.1} s); VmHWM {} KiB",
        2 * n,
        t.elapsed().as_secs_f64(),
        status_kib("VmHWM")
    );
    // A leak of even 100 bytes per iteration would add ~1 MiB per 10,000.
    let growth = r2.saturating_sub(r1);
    assert!(
        growth < 1024,
        "VmRSS kept growing: {r1} KiB -> {r2} KiB over {n} more iterations"
    );
    assert!(
        r2.saturating_sub(r0) < 4096,
        "VmRSS grew {} KiB over {} iterations",
        r2.saturating_sub(r0),
        2 * n
    );
}
