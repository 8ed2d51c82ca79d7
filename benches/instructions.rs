//! User-space instructions per operation, ours against tokio and std
//! (issue 10): `cargo bench --bench instructions`.
//!
//! Each path runs in a child process (this binary re-executed with
//! `--child PATH SIDE N`) under `valgrind --tool=callgrind`, once with `N`
//! iterations and once with none; the difference divided by `N` is the cost
//! of one iteration, set-up excluded. Callgrind counts user-space
//! instructions only (syscalls and kernel time are not in it), so the figures
//! repeat exactly from run to run, whatever else the machine does.
//!
//! ```text
//! cargo bench --bench instructions              # every path
//! cargo bench --bench instructions -- udp       # paths whose name contains "udp"
//! cargo bench --bench instructions -- --keep    # keep callgrind.out.* for callgrind_annotate
//! ```
//!
//! Output, on stdout: one `instructions NAME OURS PEER RATIO` line per path
//! (per iteration; lower is better, ratio = ours / peer). The paths:
//! - `async_receive`: 64-byte ping-pong, client and server in one process on
//!   a current-thread runtime; ours `send` + `receive(Some(64))` on both
//!   ends, the peer tokio `write_all` + `read_exact`;
//! - `async_receive_into`: the same with `receive_into`;
//! - `blocking`: the facade's client against a std server thread, the peer a
//!   std client against the same std server;
//! - `connect_async`: connect + accept + close on a current-thread runtime,
//!   against tokio; `connect_blocking`: the same on the facade, against std;
//! - `udp`: one 64-byte `send_to` (to `"127.0.0.1"`) + `receive_from`,
//!   against `tokio::net::UdpSocket`'s `send_to` + `recv_from`;
//! - `udp_addr`: the same with `send_to_addr` (a `SocketAddr`), against the
//!   same tokio peer.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) every child
//! runs natively with a few iterations, as a smoke test, and nothing is
//! counted. When `valgrind` is missing, the counting is skipped with a note.

use std::{
    io::{Read, Write},
    net::{TcpListener as StdListener, TcpStream as StdStream},
    process::Command,
    thread,
    time::Duration,
};

use blade_socket::{Socket, blocking};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    runtime::Runtime,
};

const MSG: usize = 64;
/// Iterations per counted run.
const COUNTED: usize = 2_000;
/// Iterations per smoke run.
const SMOKE: usize = 3;
/// Every child must finish within this (valgrind runs code ~50× slower).
const CHILD_LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy)]
enum Side {
    Ours,
    Peer,
}

struct Path {
    name: &'static str,
    peer: &'static str,
    run: fn(Side, usize),
}

const PATHS: &[Path] = &[
    Path {
        name: "async_receive",
        peer: "tokio",
        run: async_receive,
    },
    Path {
        name: "async_receive_into",
        peer: "tokio",
        run: async_receive_into,
    },
    Path {
        name: "blocking",
        peer: "std",
        run: blocking_pingpong,
    },
    Path {
        name: "connect_async",
        peer: "tokio",
        run: connect_async,
    },
    Path {
        name: "connect_blocking",
        peer: "std",
        run: connect_blocking,
    },
    Path {
        name: "udp",
        peer: "tokio",
        run: udp,
    },
    Path {
        name: "udp_addr",
        peer: "tokio",
        run: udp_addr,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let path = PATHS
            .iter()
            .find(|p| p.name == args[i + 1])
            .expect("a known path");
        let side = if args[i + 2] == "ours" {
            Side::Ours
        } else {
            Side::Peer
        };
        let n = args[i + 3].parse().expect("an iteration count");
        (path.run)(side, n);
        return;
    }
    let bench = args.iter().any(|a| a == "--bench");
    future_sizes();
    let keep = args.iter().any(|a| a == "--keep");
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let chosen = PATHS
        .iter()
        .filter(|p| filter.is_empty() || filter.iter().any(|f| p.name.contains(f.as_str())));
    if !bench {
        for p in chosen {
            for side in ["ours", "peer"] {
                child(&[], p.name, side, SMOKE);
            }
        }
        println!(
            "instructions: smoke run only (counting needs `cargo bench --bench instructions`)"
        );
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!(
            "instructions: skipped, `valgrind` is not installed (Debian: apt-get install valgrind)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("blade-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    for p in chosen {
        let ours = per_iteration(&dir, p.name, "ours");
        let peer = per_iteration(&dir, p.name, p.peer);
        println!(
            "instructions {} {:.0} {:.0} {:.2}",
            p.name,
            ours,
            peer,
            ours / peer
        );
    }
    if keep {
        eprintln!("callgrind outputs kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Bytes of a parked receive future (what a task parked in it holds),
/// ours against tokio's `read`/`read_exact`, and of the datagram calls'
/// futures against tokio's `UdpSocket` (with a 64-byte array message):
/// `size NAME OURS PEER`.
fn future_sizes() {
    let rt = current_thread();
    rt.block_on(async {
        let (ours, _) = ours_pair().await;
        let (mut peer, _) = tokio_pair().await;
        let mut buf = [0u8; MSG];
        let receive = std::mem::size_of_val(&ours.receive(Some(MSG)));
        let receive_into = std::mem::size_of_val(&ours.receive_into(&mut buf));
        let read = std::mem::size_of_val(&peer.read(&mut buf));
        let read_exact = std::mem::size_of_val(&peer.read_exact(&mut buf));
        println!("size receive_future {receive} {read}");
        println!("size receive_into_future {receive_into} {read}");
        println!("size read_exact_future - {read_exact}");
        let msg = [7u8; MSG];
        let ours = Socket::udp().expect("socket");
        let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let to = peer.local_addr().expect("addr");
        let send_to = std::mem::size_of_val(&ours.send_to("127.0.0.1", 9, msg));
        let send_to_addr = std::mem::size_of_val(&ours.send_to_addr(to, msg));
        let receive_from = std::mem::size_of_val(&ours.receive_from(Some(MSG)));
        let tokio_send_to = std::mem::size_of_val(&peer.send_to(&msg, to));
        let recv_from = std::mem::size_of_val(&peer.recv_from(&mut buf));
        println!("size send_to_future {send_to} {tokio_send_to}");
        println!("size send_to_addr_future {send_to_addr} {tokio_send_to}");
        println!("size receive_from_future {receive_from} {recv_from}");
    });
}

/// Instructions per iteration of `name` on `side`: (I(N) - I(0)) / N.
fn per_iteration(dir: &std::path::Path, name: &str, side: &str) -> f64 {
    let side_arg = if side == "ours" { "ours" } else { "peer" };
    let count = |n: usize| {
        let out = dir.join(format!("callgrind.out.{name}.{side}.{n}"));
        let out_arg = format!("--callgrind-out-file={}", out.display());
        child(
            &["valgrind", "--tool=callgrind", "-q", &out_arg],
            name,
            side_arg,
            n,
        );
        totals(&out)
    };
    let full = count(COUNTED);
    let empty = count(0);
    (full as f64 - empty as f64) / COUNTED as f64
}

/// Runs this binary as a child for `name`/`side`/`n`, under `wrapper` if any.
fn child(wrapper: &[&str], name: &str, side: &str, n: usize) {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = match wrapper.split_first() {
        Some((prog, rest)) => {
            let mut c = Command::new(prog);
            c.args(rest).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args(["--child", name, side, &n.to_string()]);
    let mut proc = cmd.spawn().expect("spawn a child");
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = proc.try_wait().expect("wait for a child") {
            assert!(status.success(), "child {name} {side} {n} failed: {status}");
            return;
        }
        if started.elapsed() > CHILD_LIMIT {
            let _ = proc.kill();
            panic!("child {name} {side} {n} took over {CHILD_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The `totals:` (or `summary:`) figure of a callgrind output file.
fn totals(file: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(file).expect("a callgrind output");
    text.lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a totals line")
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A connected pair of our sockets on loopback.
async fn ours_pair() -> (Socket, Socket) {
    let mut listener = Socket::tcp().expect("socket");
    listener.bind(0, None).await.expect("bind");
    listener.listen(None).expect("listen");
    let mut client = Socket::tcp().expect("socket");
    client
        .connect(None, listener.port(), None)
        .await
        .expect("connect");
    let server = listener.accept().await.expect("accept");
    (client, server)
}

async fn tokio_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    (client, server)
}

/// Receives exactly `MSG` bytes with `receive(Some(..))`.
async fn ours_receive_exact(s: &Socket) {
    let mut got = 0;
    while got < MSG {
        let b = s.receive(Some(MSG - got)).await.expect("receive");
        got += b.expect("not end of file").len();
    }
}

async fn ours_receive_into_exact(s: &Socket, buf: &mut [u8; MSG]) {
    let mut got = 0;
    while got < MSG {
        let n = s.receive_into(&mut buf[got..]).await.expect("receive");
        assert!(n > 0, "end of file");
        got += n;
    }
}

fn async_pingpong(side: Side, n: usize, into: bool) {
    let rt = current_thread();
    rt.block_on(async move {
        let msg = [7u8; MSG];
        match side {
            Side::Ours => {
                let (client, server) = ours_pair().await;
                let echo = tokio::spawn(async move {
                    let mut buf = [0u8; MSG];
                    for _ in 0..n {
                        if into {
                            ours_receive_into_exact(&server, &mut buf).await;
                        } else {
                            ours_receive_exact(&server).await;
                        }
                        server.send(msg).await.expect("send");
                    }
                });
                let mut buf = [0u8; MSG];
                for _ in 0..n {
                    client.send(msg).await.expect("send");
                    if into {
                        ours_receive_into_exact(&client, &mut buf).await;
                    } else {
                        ours_receive_exact(&client).await;
                    }
                }
                echo.await.expect("echo task");
            }
            Side::Peer => {
                let (mut client, mut server) = tokio_pair().await;
                let echo = tokio::spawn(async move {
                    let mut buf = [0u8; MSG];
                    for _ in 0..n {
                        server.read_exact(&mut buf).await.expect("read");
                        server.write_all(&buf).await.expect("write");
                    }
                });
                let mut buf = [0u8; MSG];
                for _ in 0..n {
                    client.write_all(&msg).await.expect("write");
                    client.read_exact(&mut buf).await.expect("read");
                }
                echo.await.expect("echo task");
            }
        }
    });
}

fn async_receive(side: Side, n: usize) {
    async_pingpong(side, n, false);
}

fn async_receive_into(side: Side, n: usize) {
    async_pingpong(side, n, true);
}

/// A std echo server thread for `n` round trips on one connection.
fn std_echo(n: usize) -> (u16, thread::JoinHandle<()>) {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; MSG];
        for _ in 0..n {
            s.read_exact(&mut buf).expect("read");
            s.write_all(&buf).expect("write");
        }
    });
    (port, server)
}

fn blocking_pingpong(side: Side, n: usize) {
    let (port, server) = std_echo(n);
    let msg = [7u8; MSG];
    match side {
        Side::Ours => {
            let mut s = blocking::Socket::tcp().expect("socket");
            s.connect(None, port, None).expect("connect");
            for _ in 0..n {
                s.send(msg).expect("send");
                let mut got = 0;
                while got < MSG {
                    let b = s.receive(Some(MSG - got)).expect("receive");
                    got += b.expect("not end of file").len();
                }
            }
            drop(s);
        }
        Side::Peer => {
            let mut s = StdStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; MSG];
            for _ in 0..n {
                s.write_all(&msg).expect("write");
                s.read_exact(&mut buf).expect("read");
            }
        }
    }
    server.join().expect("server thread");
}

fn connect_async(side: Side, n: usize) {
    let rt = current_thread();
    rt.block_on(async move {
        match side {
            Side::Ours => {
                let mut listener = Socket::tcp().expect("socket");
                listener.bind(0, None).await.expect("bind");
                listener.listen(None).expect("listen");
                let port = listener.port();
                for _ in 0..n {
                    let mut client = Socket::tcp().expect("socket");
                    client.connect(None, port, None).await.expect("connect");
                    let server = listener.accept().await.expect("accept");
                    drop(client);
                    drop(server);
                }
            }
            Side::Peer => {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let addr = listener.local_addr().expect("addr");
                for _ in 0..n {
                    let client = TcpStream::connect(addr).await.expect("connect");
                    let (server, _) = listener.accept().await.expect("accept");
                    drop(client);
                    drop(server);
                }
            }
        }
    });
}

fn connect_blocking(side: Side, n: usize) {
    match side {
        Side::Ours => {
            let mut listener = blocking::Socket::tcp().expect("socket");
            listener.bind(0, None).expect("bind");
            listener.listen(None).expect("listen");
            let port = listener.port();
            for _ in 0..n {
                let mut client = blocking::Socket::tcp().expect("socket");
                client.connect(None, port, None).expect("connect");
                let server = listener.accept().expect("accept");
                drop(client);
                drop(server);
            }
        }
        Side::Peer => {
            let listener = StdListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            for _ in 0..n {
                let client = StdStream::connect(addr).expect("connect");
                let (server, _) = listener.accept().expect("accept");
                drop(client);
                drop(server);
            }
        }
    }
}

fn udp(side: Side, n: usize) {
    udp_with(side, n, false);
}

fn udp_addr(side: Side, n: usize) {
    udp_with(side, n, true);
}

/// Per iteration one `send_to` (text host, or `send_to_addr` when
/// `by_addr`) and the `receive_from` of it, on a current-thread runtime; the
/// peer is tokio's `send_to` + `recv_from` either way.
fn udp_with(side: Side, n: usize, by_addr: bool) {
    let rt = current_thread();
    rt.block_on(async move {
        let msg = [7u8; MSG];
        match side {
            Side::Ours => {
                let mut rx = Socket::udp().expect("socket");
                rx.bind(0, None).await.expect("bind");
                let port = rx.port();
                let to = rx.info().expect("info").socket_addr().expect("an IP");
                let tx = Socket::udp().expect("socket");
                for _ in 0..n {
                    if by_addr {
                        tx.send_to_addr(to, msg).await.expect("send_to_addr");
                    } else {
                        tx.send_to("127.0.0.1", port, msg).await.expect("send_to");
                    }
                    let d = rx.receive_from(Some(MSG)).await.expect("receive_from");
                    assert_eq!(d.data.len(), MSG);
                }
            }
            Side::Peer => {
                let rx = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
                let to = rx.local_addr().expect("addr");
                let tx = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
                let mut buf = [0u8; MSG];
                for _ in 0..n {
                    tx.send_to(&msg, to).await.expect("send_to");
                    let (len, _) = rx.recv_from(&mut buf).await.expect("recv_from");
                    assert_eq!(len, MSG);
                }
            }
        }
    });
}
