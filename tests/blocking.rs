//! The blocking facade (API.md §4): works from any thread without panicking or
//! deadlocking, converts to and from the async `Socket`, and takes a
//! user-supplied multi-thread runtime.
mod support;
use support::*;

use std::{
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use blade_socket::{ErrorKind, Socket, blocking};

/// A blocking call on a current-thread runtime's only thread also blocks the
/// runtime's timers, so `within` cannot fire there. This watchdog turns such a
/// hang into a failure (it aborts the test binary) instead of a stuck run.
struct Watchdog(Option<mpsc::Sender<()>>);

fn watchdog(what: &'static str) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) =
            rx.recv_timeout(LIMIT + Duration::from_secs(5))
        {
            eprintln!("DEADLOCK: {what} did not finish within {LIMIT:?}; aborting");
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// A blocking client exchanging a few messages with a std echo server.
fn echo_client(port: u16) {
    let mut c = blocking::Socket::tcp().expect("socket");
    c.connect(Some("127.0.0.1"), port, Some(Duration::from_secs(10)))
        .expect("connect");
    assert!(c.is_connected() && c.is_client());
    assert_eq!(c.port(), port);
    for msg in ["one", "two: longer", "three\0binary\u{7f}"] {
        assert_eq!(c.send(msg).expect("send"), msg.len());
        assert_eq!(blocking_receive_exact(&c, msg.len()), msg.as_bytes());
    }
    // Timeouts are honoured here too.
    c.set_receive_timeout(Some(Duration::from_millis(100)));
    let err = c.receive(None).expect_err("nothing queued");
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    c.close().unwrap();
    assert!(c.is_closed());
}

/// A blocking listener, client and accepted socket all on this thread.
fn local_pair_exchange() {
    let l = blocking_listener();
    let mut c = blocking::Socket::tcp().unwrap();
    c.connect(None, l.port(), None).unwrap();
    let s: blocking::Socket = l.accept().unwrap();
    assert!(s.is_connected() && s.is_client());
    assert_eq!(s.port(), c.info().unwrap().port);
    c.send("ping").unwrap();
    assert_eq!(blocking_receive_exact(&s, 4), b"ping");
    s.send("pong").unwrap();
    assert_eq!(blocking_receive_exact(&c, 4), b"pong");
}

#[test]
fn works_from_a_plain_thread() {
    let port = std_echo_server();
    within_blocking(move || {
        echo_client(port);
        local_pair_exchange();
    });
}

#[tokio::test]
async fn works_inside_spawn_blocking() {
    within(async {
        let port = std_echo_server();
        tokio::task::spawn_blocking(move || {
            echo_client(port);
            local_pair_exchange();
        })
        .await
        .expect("spawn_blocking task panicked");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_in_an_async_task_on_a_multi_thread_runtime() {
    within(async {
        let port = std_echo_server();
        // Directly in the test's async body (a worker of the runtime)...
        echo_client(port);
        local_pair_exchange();
        // ...and inside a spawned task, several at once.
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(async move {
                    echo_client(port);
                    local_pair_exchange();
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task panicked");
        }
        // The runtime's async sockets still work alongside.
        let (c, s) = tcp_pair().await;
        c.send("async").await.unwrap();
        assert_eq!(receive_exact(&s, 5).await, b"async");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_server_task_and_async_client_on_a_multi_thread_runtime() {
    within(async {
        let l = blocking_listener();
        let port = l.port();
        let server = tokio::spawn(async move {
            // Blocking accept + echo inside an async task.
            let s = l.accept().unwrap();
            let got = blocking_receive_exact(&s, 5);
            s.send(&got).unwrap();
        });
        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        c.send("hello").await.unwrap();
        assert_eq!(receive_exact(&c, 5).await, b"hello");
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn works_in_an_async_task_on_a_current_thread_runtime() {
    let _dog = watchdog("blocking facade on a current-thread runtime");
    within(async {
        let port = std_echo_server();
        echo_client(port);
        local_pair_exchange();
        // Inside a spawned task on the same (single) thread too.
        tokio::spawn(async move {
            echo_client(port);
            local_pair_exchange();
        })
        .await
        .expect("task panicked");
    })
    .await;
}

#[tokio::test]
async fn conversion_from_a_current_thread_runtime_socket_does_not_deadlock() {
    let _dog = watchdog("converted socket used blocking on a current-thread runtime");
    within(async {
        let (c, s) = tcp_pair().await;
        // Make `s` really wait on this runtime's reactor (registering it):
        // the receive is polled first and finds nothing, then `c` sends.
        let (got, sent) = tokio::join!(s.receive(Some(5)), async {
            tokio::task::yield_now().await;
            c.send("first").await
        });
        assert_eq!(sent.unwrap(), 5);
        let mut got = got.unwrap().expect("data").to_vec();
        if got.len() < 5 {
            got.extend(receive_exact(&s, 5 - got.len()).await);
        }
        assert_eq!(got, b"first");

        // Used blocking on this runtime's own thread: a wait must not go
        // through this (now blocked) runtime's reactor or timers.
        let bs = blocking::Socket::from(s);
        bs.set_receive_timeout(Some(Duration::from_millis(200)));
        let t = Instant::now();
        let err = bs.receive(None).expect_err("nothing queued");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        assert!(t.elapsed() >= Duration::from_millis(195));
        bs.set_receive_timeout(None);

        // Data from another thread arrives while this thread blocks.
        let bc = blocking::Socket::from(c);
        let peer = thread::spawn(move || {
            bc.send("second").unwrap();
            let back = blocking_receive_exact(&bc, 5);
            (bc, back)
        });
        assert_eq!(blocking_receive_exact(&bs, 6), b"second");
        bs.send("reply").unwrap();
        let (bc, back) = peer.join().unwrap();
        assert_eq!(back, b"reply");

        // And back to async: awaiting works on this runtime again.
        let s: Socket = bs.into();
        let c: Socket = bc.into();
        let (got, sent) = tokio::join!(s.receive(Some(5)), async {
            tokio::task::yield_now().await;
            c.send("third").await
        });
        assert_eq!(sent.unwrap(), 5);
        let mut got = got.unwrap().expect("data").to_vec();
        if got.len() < 5 {
            got.extend(receive_exact(&s, 5 - got.len()).await);
        }
        assert_eq!(got, b"third");
    })
    .await;
}

#[tokio::test]
async fn converted_listener_accepts_blocking_on_a_current_thread_runtime() {
    let _dog = watchdog("converted listener on a current-thread runtime");
    within(async {
        let l = listener().await;
        // Register the listener with this runtime: an accept that waits.
        l.set_receive_timeout(Some(Duration::from_millis(50)));
        assert_eq!(l.accept().await.unwrap_err().kind(), ErrorKind::TimedOut);
        l.set_receive_timeout(None);
        let bl = blocking::Socket::from(l);
        let port = bl.port();
        let client = thread::spawn(move || {
            let mut c = blocking::Socket::tcp().unwrap();
            c.connect(None, port, None).unwrap();
            c.send("x").unwrap();
            c
        });
        let s = bl.accept().expect("blocking accept");
        assert_eq!(blocking_receive_exact(&s, 1), b"x");
        drop(client.join().unwrap());
        // Converted back, the listener still accepts asynchronously.
        let l: Socket = bl.into();
        let (accepted, connected) = tokio::join!(l.accept(), async {
            let mut c = Socket::tcp().unwrap();
            c.connect(None, port, None).await.map(|()| c)
        });
        assert!(accepted.unwrap().is_connected());
        connected.unwrap();
    })
    .await;
}

#[test]
fn use_runtime_refuses_a_current_thread_handle_and_accepts_a_multi_thread_one() {
    within_blocking(|| {
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = blocking::use_runtime(current.handle().clone())
            .expect_err("a current-thread handle must be refused");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
        // The refusal changed nothing: the facade still works.
        local_pair_exchange();

        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let accepted = blocking::use_runtime(multi.handle().clone());
        // Keep the window short: one exchange on the user runtime, then restore.
        let exchange = std::panic::catch_unwind(local_pair_exchange);
        blocking::use_own_runtime();
        // Other tests may still hold the handle: never shut this runtime down.
        std::mem::forget(multi);
        accepted.expect("a multi-thread handle is accepted");
        exchange.expect("the facade works on the user's runtime");
        local_pair_exchange();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_runtime_refuses_a_current_thread_handle_from_inside_a_runtime() {
    within(async {
        // A multi-thread handle taken from inside a runtime is fine...
        let handle = tokio::runtime::Handle::current();
        assert_eq!(
            handle.runtime_flavor(),
            tokio::runtime::RuntimeFlavor::MultiThread
        );
        // ...but only check the refusal here (accepting would make the
        // global facade depend on this test's runtime, which ends with it).
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = blocking::use_runtime(rt.handle().clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        tokio::task::spawn_blocking(move || drop(rt)).await.unwrap();
    })
    .await;
}

#[test]
fn blocking_socket_is_send_sync_debug() {
    assert_send_sync::<blocking::Socket>();
    fn assert_debug<T: std::fmt::Debug>() {}
    assert_debug::<blocking::Socket>();
    within_blocking(|| {
        let mut s = blocking::Socket::tcp().unwrap();
        assert!(!format!("{s:?}").is_empty());
        s.close().unwrap();
        assert!(!format!("{s:?}").is_empty());
        // Shared across threads by reference (Sync) and moved (Send).
        let l = blocking_listener();
        let port = l.port();
        thread::scope(|scope| {
            let h = scope.spawn(|| l.accept().map(|s| s.is_connected()));
            let mut c = blocking::Socket::tcp().unwrap();
            c.connect(None, port, None).unwrap();
            assert!(h.join().unwrap().unwrap());
        });
    });
}

#[test]
fn accept_returns_a_blocking_socket_with_the_documented_state() {
    within_blocking(|| {
        let l = blocking_listener();
        l.set_receive_timeout(Some(Duration::from_secs(5)));
        l.set_send_timeout(Some(Duration::from_secs(5)));
        let mut c = blocking::Socket::tcp().unwrap();
        c.connect(None, l.port(), None).unwrap();
        let s: blocking::Socket = l.accept().unwrap();
        assert!(s.is_connected() && s.is_client());
        assert!(!s.is_listening() && !s.is_closed());
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(s.port(), c.info().unwrap().port);
        assert_eq!(s.receive_timeout(), None);
        assert_eq!(s.send_timeout(), None);
        assert!(s.is_blocking());
        assert_eq!(s.peer_info().unwrap().port, c.info().unwrap().port);
    });
}

#[test]
fn blocking_get_address_info_of_a_literal() {
    within_blocking(|| {
        let info = blocking::get_address_info("127.0.0.1", None, None).unwrap();
        assert_eq!(info.ip, std::net::IpAddr::from([127, 0, 0, 1]));
        let info = blocking::get_address_info("127.0.0.1", Some("8080"), None).unwrap();
        assert_eq!(info.ip, std::net::IpAddr::from([127, 0, 0, 1]));
        let info = blocking::get_address_info("localhost", Some("http"), None).unwrap();
        assert!(info.ip.is_loopback());
    });
}

#[tokio::test]
async fn blocking_get_address_info_on_a_current_thread_runtime() {
    let _dog = watchdog("get_address_info on a current-thread runtime");
    within(async {
        let info = blocking::get_address_info("127.0.0.1", None, None).unwrap();
        assert_eq!(info.ip, std::net::IpAddr::from([127, 0, 0, 1]));
    })
    .await;
}

/// The facade inside another (hand-written) executor's `block_on` on a plain
/// thread: it must neither panic nor deadlock. (`futures` is not a
/// dev-dependency, so this stands in for `futures::executor::block_on`.)
#[test]
fn works_inside_a_foreign_executor() {
    use std::{
        pin::pin,
        sync::Arc,
        task::{Context, Poll, Wake, Waker},
    };
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            thread::park();
        }
    }
    let port = std_echo_server();
    within_blocking(move || {
        block_on(async move {
            echo_client(port);
            local_pair_exchange();
        })
    });
}

// ----- constructors and shutdown through &self ------------------------------

#[test]
fn blocking_constructors_make_each_family_and_type() {
    use blade_socket::{AF_INET6, AF_UNIX, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM};
    let s = blocking::Socket::tcp6().unwrap();
    assert_eq!(
        (s.family(), s.socket_type(), s.protocol()),
        (AF_INET6, SOCK_STREAM, IPPROTO_TCP)
    );
    assert_eq!(s.host(), "::1");
    let s = blocking::Socket::udp6().unwrap();
    assert_eq!(
        (s.family(), s.socket_type(), s.protocol()),
        (AF_INET6, SOCK_DGRAM, IPPROTO_UDP)
    );
    let s = blocking::Socket::unix().unwrap();
    assert_eq!((s.family(), s.socket_type()), (AF_UNIX, SOCK_STREAM));
    assert_eq!(s.host(), "");
    let s = blocking::Socket::unix_datagram().unwrap();
    assert_eq!((s.family(), s.socket_type()), (AF_UNIX, SOCK_DGRAM));
}

#[test]
fn blocking_tcp6_and_unix_round_trips() {
    within_blocking(|| {
        let mut l = blocking::Socket::tcp6().unwrap();
        l.bind(0, None).unwrap();
        l.listen(None).unwrap();
        let mut c = blocking::Socket::tcp6().unwrap();
        c.connect(None, l.port(), None).unwrap();
        let s = l.accept().unwrap();
        c.send("v6").unwrap();
        assert_eq!(s.receive(None).unwrap().as_deref(), Some(&b"v6"[..]));

        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("b.sock");
        let path = path.to_str().unwrap();
        let mut l = blocking::Socket::unix().unwrap();
        l.bind(0, Some(path)).unwrap();
        l.listen(None).unwrap();
        let mut c = blocking::Socket::unix().unwrap();
        c.connect(Some(path), 0, None).unwrap();
        let s = l.accept().unwrap();
        s.send("unix").unwrap();
        assert_eq!(c.receive(None).unwrap().as_deref(), Some(&b"unix"[..]));

        let dpath = dir.path().join("d.sock");
        let dpath = dpath.to_str().unwrap();
        let mut rx = blocking::Socket::unix_datagram().unwrap();
        rx.bind(0, Some(dpath)).unwrap();
        let tx = blocking::Socket::unix_datagram().unwrap();
        tx.send_to(dpath, 0, "dgram").unwrap();
        assert_eq!(&rx.receive_from(None).unwrap().data[..], b"dgram");
    });
}

/// One thread blocks receiving the reply while another, through the same
/// `&Socket`, sends the request and half-closes.
#[test]
fn blocking_shutdown_through_a_shared_reference_while_another_thread_receives() {
    within_blocking(|| {
        let (c, s) = blocking_pair();
        let server = thread::spawn(move || {
            let mut n = 0;
            while let Some(b) = s.receive(None).expect("server receive") {
                n += b.len();
            }
            s.send(format!("got {n}")).expect("reply");
        });
        thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut reply = Vec::new();
                while let Some(b) = c.receive(None).expect("receive") {
                    reply.extend_from_slice(&b);
                }
                reply
            });
            c.send("request").unwrap();
            c.shutdown(blade_socket::SHUT_WR).unwrap();
            assert_eq!(c.shutdown_reason(), Some(blade_socket::SHUT_WR));
            server.join().unwrap();
            assert_eq!(reader.join().unwrap(), b"got 7");
        });
    });
}

// ----- SocketAddr forms -----------------------------------------------------

#[test]
fn blocking_socket_addr_forms() {
    use std::net::{Ipv4Addr, SocketAddr};
    within_blocking(|| {
        let mut l = blocking::Socket::tcp().unwrap();
        l.bind_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        l.listen(None).unwrap();
        let addr = l.info().unwrap().socket_addr().unwrap();
        let mut c = blocking::Socket::tcp().unwrap();
        c.connect_addr(addr, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(c.peer_info().unwrap().socket_addr(), Some(addr));
        let conn = l.accept().unwrap();
        c.send("tcp").unwrap();
        assert_eq!(conn.receive(None).unwrap().as_deref(), Some(&b"tcp"[..]));

        let mut server = blocking::Socket::udp().unwrap();
        server
            .bind_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let client = blocking::Socket::udp().unwrap();
        let to = server.info().unwrap().socket_addr().unwrap();
        assert_eq!(client.send_to_addr(to, "ping").unwrap(), 4);
        let d = server.receive_from(None).unwrap();
        // The client is bound to the wildcard by its first send_to.
        let port = client.info().unwrap().port;
        assert_eq!(
            d.sender(),
            Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        );
        server.send_to_addr(d.sender().unwrap(), "pong").unwrap();
        assert_eq!(&client.receive_from(None).unwrap().data[..], b"pong");

        let mut refused = blocking::Socket::tcp().unwrap();
        let e = refused
            .connect_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, closed_port())), None)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        assert!(refused.is_closed());
    });
}
