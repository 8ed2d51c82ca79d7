//! Resident memory per idle connection: ours against raw tokio.
//!
//! `ulimit -n` (20,000 here) cannot hold 10,000 connected pairs in one
//! process, and an allocator keeps what a previous variant freed, so every
//! measurement runs in a fresh child process (this binary, re-executed with
//! `--child memory VARIANT ADDR N`) that holds the client ends, while this
//! process holds the server ends. The child opens `WARM` connections first
//! (runtime threads, allocator arenas and reactor pages then exist), reads
//! its resident size, opens `N` more, and reads it again.
//!
//! An idle connection is what an idle server connection looks like: a task
//! per connection, parked on a read that waits for data (so it is registered
//! with the reactor), with no timeout. Ours waits in `receive(Some(1))`,
//! tokio's in `read` into a 1-byte buffer (a buffer in the task would count,
//! so the peer gets the smallest one).

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use blade_socket::Socket;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::JoinHandle,
};

use crate::{
    Ctx,
    conn::{self, Addr},
    harness::{self, CHILD_FLAG, RUN_LIMIT, STALL},
};

pub const NAME: &str = "memory";
pub const CHILD_ROLE: &str = "memory";

/// Connections opened before the baseline is read.
const WARM: usize = 256;

/// The bound on ours minus tokio, per connection.
const LIMIT: f64 = 1024.0;

/// Sent by the server on each accepted connection: once the client has read
/// it, the connection is known to be accepted (the backlog stays short).
const HELLO: &[u8] = b"h";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Ours,
    Tokio,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Ours => "ours",
            Variant::Tokio => "tokio",
        }
    }
}

/// Median resident bytes per idle connection, and the sizes of each
/// variant's idle task future and the read future in it (part of that memory).
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    conns: usize,
    ours: f64,
    tokio: f64,
    ours_futures: FutureSizes,
    tokio_futures: FutureSizes,
}

/// What one child measured.
#[derive(Clone, Copy, Debug)]
struct Measured {
    bytes_per_conn: f64,
    futures: FutureSizes,
}

pub fn run(ctx: &Ctx) -> Memory {
    let n = ctx.scale.idle_conns;
    let reps = ctx.scale.memory_reps;
    let (mut ours, mut tokio) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for rep in 0..reps {
        if rep % 2 == 0 {
            ours.push(measure_in_child(ctx, Variant::Ours, n));
            tokio.push(measure_in_child(ctx, Variant::Tokio, n));
        } else {
            tokio.push(measure_in_child(ctx, Variant::Tokio, n));
            ours.push(measure_in_child(ctx, Variant::Ours, n));
        }
    }
    let per_conn = |m: &[Measured]| m.iter().map(|m| m.bytes_per_conn).collect::<Vec<_>>();
    let (mut ours_pc, mut tokio_pc) = (per_conn(&ours), per_conn(&tokio));
    eprintln!("  {NAME}: ours {ours_pc:.0?} tokio {tokio_pc:.0?} bytes per connection");
    Memory {
        conns: n,
        ours: harness::median(&mut ours_pc),
        tokio: harness::median(&mut tokio_pc),
        ours_futures: ours[0].futures,
        tokio_futures: tokio[0].futures,
    }
}

pub fn report(m: &Memory) {
    let diff = m.ours - m.tokio;
    println!(
        "memory idle_conns {} ours_bytes_per_conn {:.0} tokio_bytes_per_conn {:.0} diff {:.0} ({} the {LIMIT:.0}-byte limit)",
        m.conns,
        m.ours,
        m.tokio,
        diff,
        if diff < LIMIT { "under" } else { "OVER" }
    );
    println!(
        "memory future_bytes idle_task ours {} tokio {}, read ours {} tokio {}",
        m.ours_futures.task, m.tokio_futures.task, m.ours_futures.read, m.tokio_futures.read
    );
}

/// Runs one child measuring `variant` with `n` idle connections, serving its
/// connections meanwhile.
fn measure_in_child(ctx: &Ctx, variant: Variant, n: usize) -> Measured {
    let (addr, server) = ctx.rt.block_on(async {
        let (listener, addr) = conn::tokio_listener();
        (addr, tokio::spawn(hold(listener, WARM + n)))
    });
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args([CHILD_FLAG, CHILD_ROLE, variant.name()])
        .args([addr.to_string(), n.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("run the memory child");
    assert!(
        out.status.success(),
        "the memory child failed: {}",
        out.status
    );
    // The child has exited; its connections are closed, so drop ours.
    drop(ctx.rt.block_on(harness::within(server)));
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| -> f64 {
        let mut words = text.split_whitespace();
        words.find(|w| *w == key);
        let value = words.next().and_then(|v| v.parse().ok());
        value.unwrap_or_else(|| panic!("no {key} in the memory child's output {text:?}"))
    };
    Measured {
        bytes_per_conn: (field("rss_after") - field("rss_before")) / n as f64,
        futures: FutureSizes {
            task: field("task_future") as usize,
            read: field("read_future") as usize,
        },
    }
}

/// The server ends: accepts `total` connections, greets each, and keeps them.
async fn hold(listener: TcpListener, total: usize) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(total);
    for _ in 0..total {
        let accepted = tokio::time::timeout(STALL, listener.accept()).await;
        let (mut conn, _) = accepted
            .expect("the memory child stopped connecting")
            .expect("accept");
        conn.write_all(HELLO).await.expect("greet");
        conns.push(conn);
    }
    conns
}

// ----- the child -------------------------------------------------------------

/// `--child memory VARIANT ADDR N`: prints `rss_before B rss_after A
/// task_future T read_future R`.
pub fn child(args: &[String]) {
    let variant = match args.first().map(String::as_str) {
        Some("ours") => Variant::Ours,
        Some("tokio") => Variant::Tokio,
        other => panic!("unknown memory variant {other:?}"),
    };
    let number = |i: usize| -> usize {
        let arg = args.get(i).and_then(|a| a.parse().ok());
        arg.unwrap_or_else(|| panic!("memory child: bad argument {i} in {args:?}"))
    };
    let addr: Addr = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .expect("memory child: address");
    let n = number(2);
    let rt = harness::runtime();
    let (before, after, sizes) = rt.block_on(async {
        let measuring = tokio::time::timeout(RUN_LIMIT, measure(variant, addr, n));
        measuring
            .await
            .expect("the memory child exceeded RUN_LIMIT")
    });
    println!(
        "rss_before {before} rss_after {after} task_future {} read_future {}",
        sizes.task, sizes.read
    );
    // Exit at once rather than tearing down 10,000 tasks and sockets.
    std::process::exit(0);
}

/// Resident bytes before and after opening `n` idle connections, and the
/// sizes of an idle task's futures.
async fn measure(variant: Variant, addr: Addr, n: usize) -> (usize, usize, FutureSizes) {
    let warm = open_idle(variant, addr, WARM).await;
    let before = resident_bytes();
    let (idle, sizes) = open_idle(variant, addr, n).await;
    let after = resident_bytes();
    drop((warm, idle));
    (before, after, sizes)
}

/// Opens `n` connections, one idle task on each, and returns once every
/// task is parked in its read; also the sizes of its futures.
async fn open_idle(variant: Variant, addr: Addr, n: usize) -> (Vec<JoinHandle<()>>, FutureSizes) {
    let parked = Arc::new(Parked::new(n));
    let mut tasks = Vec::with_capacity(n);
    let mut sizes = FutureSizes::default();
    for _ in 0..n {
        let parked = Arc::clone(&parked);
        let task = match variant {
            Variant::Ours => {
                let s = ours_greeted(addr).await;
                sizes.read = size_of_val(&s.receive(Some(1)));
                let idle = idle_ours(s, parked);
                sizes.task = size_of_val(&idle);
                tokio::spawn(idle)
            }
            Variant::Tokio => {
                let mut s = tokio_greeted(addr).await;
                sizes.read = size_of_val(&s.read(&mut [0u8; 1]));
                let idle = idle_tokio(s, parked);
                sizes.task = size_of_val(&idle);
                tokio::spawn(idle)
            }
        };
        tasks.push(task);
    }
    parked.wait_all().await;
    (tasks, sizes)
}

/// The bytes of an idle task's future, and of the read future inside it.
#[derive(Clone, Copy, Debug, Default)]
struct FutureSizes {
    task: usize,
    read: usize,
}

async fn idle_ours(s: Socket, parked: Arc<Parked>) {
    let _ = parked.watch(pin!(s.receive(Some(1)))).await;
}

async fn idle_tokio(mut s: TcpStream, parked: Arc<Parked>) {
    let mut buf = [0u8; 1];
    let _ = parked.watch(pin!(s.read(&mut buf))).await;
}

async fn ours_greeted(addr: Addr) -> Socket {
    let mut s = Socket::tcp().expect("socket");
    conn::ours_connect(&mut s, addr).await;
    let hello = s.receive(Some(HELLO.len())).await.expect("hello");
    assert_eq!(hello.as_deref(), Some(HELLO), "greeting");
    s
}

async fn tokio_greeted(addr: Addr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut hello = [0u8; HELLO.len()];
    s.read_exact(&mut hello).await.expect("hello");
    s
}

/// Counts tasks whose read has returned `Pending` (registered and parked).
struct Parked {
    count: AtomicUsize,
    target: usize,
    all: Notify,
}

impl Parked {
    fn new(target: usize) -> Parked {
        Parked {
            count: AtomicUsize::new(0),
            target,
            all: Notify::new(),
        }
    }

    /// Awaits `fut`, counting the first time it parks. It takes the future
    /// pinned in the caller's state, so that the future is not stored twice
    /// (an `async fn` keeps room for its argument and for a moved copy).
    async fn watch<F: Future>(&self, mut fut: Pin<&mut F>) -> F::Output {
        let mut counted = false;
        poll_fn(|cx| {
            let poll = fut.as_mut().poll(cx);
            if poll.is_pending() && !counted {
                counted = true;
                if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
                    // Stores a permit if `wait_all` is not waiting yet.
                    self.all.notify_one();
                }
            }
            poll
        })
        .await
    }

    async fn wait_all(&self) {
        if self.target > 0 {
            self.all.notified().await;
        }
    }
}

/// This process's resident set size (`VmRSS`), in bytes.
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}
