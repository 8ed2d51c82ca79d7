//! Side-by-side benchmark of `blade_socket` against `tokio::net` and
//! `std::net` (issue 3): `cargo bench --bench compare`.
//!
//! Every pair runs in this one process, ours and the peer interleaved in
//! each repetition (alternating which goes first), and reports medians.
//! Only the client differs within a pair: the server side is the same raw
//! tokio task (async pairs) or std thread (blocking pairs) for both. The
//! async pairs share one multi-thread runtime with 2 workers; the blocking
//! facade uses the runtime it starts itself. All traffic is loopback; every
//! loop is bounded in count, and every wait in time ([`harness::STALL`],
//! [`harness::RUN_LIMIT`]).
//!
//! ```text
//! cargo bench --bench compare                 # everything, about a minute
//! cargo bench --bench compare -- pingpong     # only sections whose name contains "pingpong"
//! cargo bench --bench compare -- --strace     # client syscalls per round trip (strace, perf)
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) every section
//! runs once with tiny counts, as a smoke test.
//!
//! Output, on stdout: one `ratio NAME VALUE` line per pair (ours divided by
//! the peer, higher is better; the seven pairs of issue 3, ping-pong through
//! `receive(Some(n))`, and the receiving
//! direction of bulk), a table with the medians and ping-pong latencies,
//! `receive_none` lines (ns per byte of one `receive(None)` of 1 MiB and of
//! 16 MiB already queued, or of as much as the OS lets queue), and `memory`
//! lines (resident bytes per idle connection, ours and tokio's, measured in
//! fresh child processes). Progress goes to stderr.
//!
//! The HTTP pair is a script, since it needs `wrk` and takes minutes:
//! `benches/wrk.sh` loads one keep-alive responder
//! (`examples/http_bench_server.rs`) on the crate and on `tokio::net`, and
//! prints `ratio wrk_http_vs_tokio VALUE`, unpinned and pinned.

#[path = "compare/bulk.rs"]
mod bulk;
#[path = "compare/concurrent.rs"]
mod concurrent;
#[path = "compare/conn.rs"]
mod conn;
#[path = "compare/connect.rs"]
mod connect;
#[path = "compare/harness.rs"]
mod harness;
#[path = "compare/memory.rs"]
mod memory;
#[path = "compare/pingpong.rs"]
mod pingpong;
#[path = "compare/snapshot.rs"]
mod snapshot;
#[path = "compare/syscalls.rs"]
mod syscalls;

use std::time::Instant;

use harness::PairResult;
use tokio::runtime::Runtime;

/// Counts and sizes for one mode.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// Repetitions of every pair (each runs ours and the peer once).
    pub reps: usize,
    /// Timed round trips per ping-pong run, after `pingpong_warmup` untimed ones.
    pub pingpong_rounds: usize,
    pub pingpong_warmup: usize,
    /// Bytes per bulk run, sent in `bulk::CHUNK` writes.
    pub bulk_bytes: usize,
    /// Connections per connect run.
    pub connects: usize,
    /// Connections, and round trips on each, per concurrent run.
    pub concurrent_conns: usize,
    pub concurrent_rounds: usize,
    /// Snapshot sizes for `receive(None)`, and repetitions of each.
    pub snapshot_sizes: [usize; 2],
    pub snapshot_reps: usize,
    /// Idle connections per memory measurement, and measurements per variant.
    pub idle_conns: usize,
    pub memory_reps: usize,
}

const MIB: usize = 1 << 20;

/// `cargo bench`: the sizes of issue 3.
const FULL: Scale = Scale {
    reps: 9,
    pingpong_rounds: 20_000,
    pingpong_warmup: 1_000,
    bulk_bytes: 256 * MIB,
    connects: 5_000,
    concurrent_conns: 1_000,
    concurrent_rounds: 100,
    snapshot_sizes: [MIB, 16 * MIB],
    snapshot_reps: 9,
    idle_conns: 10_000,
    memory_reps: 5,
};

/// `cargo test`: every code path once, in about a second.
const SMOKE: Scale = Scale {
    reps: 1,
    pingpong_rounds: 200,
    pingpong_warmup: 20,
    bulk_bytes: MIB,
    connects: 50,
    concurrent_conns: 10,
    concurrent_rounds: 10,
    snapshot_sizes: [64 * 1024, 256 * 1024],
    snapshot_reps: 1,
    idle_conns: 100,
    memory_reps: 1,
};

/// What every section gets: the sizes and the async pairs' runtime.
pub struct Ctx {
    pub scale: Scale,
    /// A multi-thread runtime with 2 workers, what `#[tokio::main]` gives a
    /// typical user on this 2-core machine; shared by both variants.
    pub rt: Runtime,
}

/// Measures one pair, under the name it is given.
type Pair = fn(&Ctx, &'static str) -> PairResult;

/// The pairs of issue 3, plus the receiving direction of bulk and ping-pong
/// through `receive(Some(n))` (issue 10).
const PAIRS: [(&str, Pair); 10] = [
    ("pingpong_async_vs_tokio", pingpong::async_pair),
    (
        "pingpong_receive_async_vs_tokio",
        pingpong::async_receive_pair,
    ),
    ("pingpong_blocking_vs_std", pingpong::blocking_pair),
    ("bulk_async_vs_tokio", bulk::async_send_pair),
    ("bulk_blocking_vs_std", bulk::blocking_send_pair),
    ("bulk_recv_async_vs_tokio", bulk::async_recv_pair),
    ("bulk_recv_blocking_vs_std", bulk::blocking_recv_pair),
    ("connect_async_vs_tokio", connect::async_pair),
    ("connect_blocking_vs_std", connect::blocking_pair),
    ("concurrent_async_vs_tokio", concurrent::async_pair),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Child roles re-exec this binary: memory measurements, traced clients.
    if args.first().map(String::as_str) == Some(harness::CHILD_FLAG) {
        child(&args[1..]);
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    watchdog(WATCHDOG);
    let ctx = Ctx {
        scale: if full { FULL } else { SMOKE },
        rt: harness::runtime(),
    };
    if let Some(i) = args.iter().position(|a| a == "--strace") {
        let rounds = args.get(i + 1).and_then(|s| s.parse().ok());
        syscalls::run(&ctx, rounds);
        return;
    }
    // Plain words select sections by substring; flags (`--bench`) are not words.
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    run(&ctx, &wanted, full);
}

/// The longest the whole bench may take: the blocking clients use default
/// sockets (no timeouts, like std's), so a stall would otherwise hang.
const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(600);

/// Ends the process, with an error, if it is still running after `limit`.
fn watchdog(limit: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("compare: still running after {limit:?}; a run stalled");
        std::process::exit(3);
    });
}

/// The roles a re-executed child plays (`--child ROLE ARGS..`).
fn child(args: &[String]) {
    match args.first().map(String::as_str) {
        Some(memory::CHILD_ROLE) => memory::child(&args[1..]),
        Some(syscalls::CHILD_ROLE) => syscalls::child(&args[1..]),
        other => panic!("unknown child role {other:?}"),
    }
}

fn run(ctx: &Ctx, wanted: &dyn Fn(&str) -> bool, full: bool) {
    let started = Instant::now();
    let mode = if full { "full" } else { "smoke (no --bench)" };
    eprintln!("compare: {mode} mode, {} repetitions", ctx.scale.reps);
    let results: Vec<PairResult> = PAIRS
        .iter()
        .filter(|(name, _)| wanted(name))
        .map(|&(name, pair)| pair(ctx, name))
        .collect();
    harness::print_ratios(&results);
    harness::print_table(&results);
    if wanted(snapshot::NAME) {
        snapshot::report(&snapshot::run(ctx));
    }
    if wanted(memory::NAME) {
        memory::report(&memory::run(ctx));
    }
    println!("total time {:.1} s", started.elapsed().as_secs_f64());
}
