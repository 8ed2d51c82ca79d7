//! Reliability 7: load.
//!
//! Many concurrent connections on loopback, each exchanging one message with
//! every byte verified. Both ends of 10,000 connections do not fit one
//! process under a 20,000 descriptor limit, so the server and the clients run
//! in two child processes (this test binary re-executed in a role), each
//! with its soft `RLIMIT_NOFILE` raised to the hard limit by `ulimit -n`
//! (no `unsafe`). The clients open every connection first and hold them all
//! (a barrier) before any message is sent, so all are open at once; then
//! each sends its own pseudo-random message, the server echoes it, and the
//! client checks every byte. Each process reports its peak memory (`VmHWM`)
//! and descriptors; the test prints the time and those figures and asserts
//! the whole run (connect, exchange, close) takes under [`BUDGET`].
//!
//! Sizes: the default run already opens 10,000 connections (1 KiB messages;
//! it takes about a second), so the processes need a hard descriptor limit
//! of at least 10,100; heavy (`BLADE_SOCKET_HEAVY=1`) sends 16 KiB messages
//! over the 10,000 connections.
mod support;
use support::*;

#[path = "support/reliability.rs"]
mod reliability;
use reliability::*;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use blade_socket::{ErrorKind, Socket};

/// The whole run must finish within this (the spec: 60 s on 2 cores).
const BUDGET: Duration = Duration::from_secs(60);
/// Bytes per message.
fn message_size() -> usize {
    pick(1024, 16 * 1024)
}
/// Connects in flight at once (the rest wait their turn; the established
/// connections all stay open).
const CONNECTS_IN_FLIGHT: usize = 256;

const TEST: &str = "load_concurrent_connections";

fn connections() -> usize {
    10_000
}

/// The message of connection `i`.
fn message(i: usize) -> Vec<u8> {
    let mut m = Pattern::new(i as u64 ^ 0x10ad).bytes(0, message_size());
    m[..8].copy_from_slice(&(i as u64).to_le_bytes());
    m
}

#[test]
fn load_concurrent_connections() {
    match child_role().as_deref() {
        Some("load-server") => return server(),
        Some("load-client") => return client(),
        Some(_) => return,
        None => {}
    }
    let n = connections();
    let mut server = ChildProc::spawn(TEST, "load-server", Nofile::RaiseToHard, &[]);
    let port = server.expect_line("PORT", LIMIT);
    let t = Instant::now();
    let mut client = ChildProc::spawn(
        TEST,
        "load-client",
        Nofile::RaiseToHard,
        &[
            ("BLADE_SOCKET_LOAD_PORT", port.clone()),
            ("BLADE_SOCKET_LOAD_N", n.to_string()),
        ],
    );
    let limit = BUDGET + Duration::from_secs(30);
    let connected = client.expect_line("CONNECTED", limit);
    let result = client.expect_line("RESULT", limit);
    let wall = t.elapsed();
    client.close_stdin();
    let client_peak = client.expect_line("PEAK", LIMIT);
    client.wait_success(LIMIT);
    server.close_stdin();
    let server_peak = server.expect_line("PEAK", LIMIT);
    server.wait_success(LIMIT);

    let f: Vec<u64> = result
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let (ok, ms) = (f[0] as usize, f[1]);
    println!(
        "load: {n} concurrent connections x {} bytes: all open after {connected} ms, done in {ms} ms ({:.1} s with process start-up); client {client_peak}; server {server_peak}",
        message_size(),
        wall.as_secs_f64()
    );
    assert_eq!(ok, n, "every exchange verified");
    assert!(
        Duration::from_millis(ms) < BUDGET,
        "{n} connections took {ms} ms (budget {BUDGET:?})"
    );
}

/// Peak memory of this process and a count, for the parent.
fn peak_line(what: &str, count: usize) -> String {
    format!(
        "PEAK VmHWM {} KiB, VmRSS {} KiB, {what} {count}",
        status_kib("VmHWM"),
        status_kib("VmRSS")
    )
}

fn server() {
    let rt = multi_thread_runtime();
    let peak = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let l = Arc::new(listener().await);
        say(format!("PORT {}", l.port()));
        // Stop when the parent closes stdin.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            while read_stdin_line().is_some() {}
            let _ = stop_tx.send(());
        });
        let acceptor = {
            let l = Arc::clone(&l);
            let (peak, open) = (Arc::clone(&peak), Arc::clone(&open));
            tokio::spawn(async move {
                loop {
                    let conn = match l.accept().await {
                        Ok(c) => c,
                        Err(e) if e.kind() == ErrorKind::IllegalState => return,
                        Err(e) => panic!("accept: {e:?}"),
                    };
                    let now = open.fetch_add(1, Ordering::Relaxed) + 1;
                    peak.fetch_max(now, Ordering::Relaxed);
                    let open = Arc::clone(&open);
                    tokio::spawn(async move {
                        // Echo one message, then close first: the TIME_WAIT
                        // entries then sit on the listener's port, not on
                        // 10,000 client ports that later binds would need.
                        let msg = receive_exact(&conn, message_size()).await;
                        if msg.len() == message_size() {
                            conn.send(&msg).await.expect("echo");
                        }
                        drop(msg);
                        drop(conn);
                        open.fetch_sub(1, Ordering::Relaxed);
                    });
                }
            })
        };
        let _ = stop_rx.await;
        l.close_shared().unwrap();
        acceptor.await.unwrap();
    });
    say(peak_line(
        "peak open connections",
        peak.load(Ordering::Relaxed),
    ));
    rt.shutdown_background();
}

fn client() {
    let port: u16 = std::env::var("BLADE_SOCKET_LOAD_PORT")
        .unwrap()
        .parse()
        .unwrap();
    let n: usize = std::env::var("BLADE_SOCKET_LOAD_N")
        .unwrap()
        .parse()
        .unwrap();
    let limit = nofile_limit().unwrap_or(0);
    assert!(
        limit >= n as u64 + 100,
        "the descriptor limit ({limit}) is too low for {n} connections; raise the hard limit"
    );
    let rt = multi_thread_runtime();
    let peak_fds = rt.block_on(async {
        let t = Instant::now();
        let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
        let in_flight = Arc::new(tokio::sync::Semaphore::new(CONNECTS_IN_FLIGHT));
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let barrier = Arc::clone(&barrier);
            let in_flight = Arc::clone(&in_flight);
            tasks.push(tokio::spawn(async move {
                let mut c = Socket::tcp().unwrap();
                {
                    let _permit = in_flight.acquire().await.unwrap();
                    c.connect(None, port, Some(Duration::from_secs(30)))
                        .await
                        .unwrap_or_else(|e| panic!("connect {i}: {e:?}"));
                }
                // Every connection is open before any message moves (the
                // second wait lets the main task count descriptors between).
                barrier.wait().await;
                barrier.wait().await;
                let msg = message(i);
                c.send(&msg).await.expect("send");
                let got = receive_exact(&c, msg.len()).await;
                assert!(got == msg, "connection {i}: echo differs");
                assert_eq!(
                    c.receive(None).await.expect("receive"),
                    None,
                    "connection {i}: EOF"
                );
                c.close().unwrap();
                true
            }));
        }
        barrier.wait().await;
        let all_open = fd_count();
        say(format!("CONNECTED {}", t.elapsed().as_millis()));
        barrier.wait().await;
        let mut ok = 0usize;
        for task in tasks {
            if task.await.expect("client task") {
                ok += 1;
            }
        }
        say(format!("RESULT {ok} {}", t.elapsed().as_millis()));
        all_open
    });
    while read_stdin_line().is_some() {}
    say(peak_line("descriptors with all connections open", peak_fds));
}

/// The message format the test relies on: each connection's message is
/// distinct and of the right size.
#[test]
fn messages_are_distinct() {
    let a = message(1);
    let b = message(2);
    assert_eq!(a.len(), message_size());
    assert_ne!(a, b);
    assert_eq!(&a[..8], &1u64.to_le_bytes());
}
