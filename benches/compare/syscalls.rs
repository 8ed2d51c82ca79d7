//! Client syscalls per ping-pong round trip:
//! `cargo bench --bench compare -- --strace [ROUNDS]`.
//!
//! The echo server runs in this process, uncounted; the client runs in a
//! child (`--child pingpong VARIANT ADDR ROUNDS`) whose syscalls are counted,
//! threads included (our blocking facade's runtime, tokio's workers). Each
//! variant runs twice, with `BASE` and with `BASE + ROUNDS` round trips, so
//! that process start, runtime start and connect cancel out of the difference.
//!
//! Two counters: `strace -f -c` gives a count per syscall, but slows every
//! syscall down, which gives the server time to answer before the client
//! reads, so a client that tries the syscall first and waits only on
//! `EAGAIN` seldom waits under strace. `perf stat` on the syscall
//! tracepoints barely slows anything and gives the true total, and counts of
//! the syscalls these clients use. Either is skipped, with a note, when it
//! cannot run here.

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Stdio},
};

use crate::{
    Ctx,
    conn::Addr,
    harness::{self, CHILD_FLAG},
    pingpong::{self, Rounds},
};

pub const CHILD_ROLE: &str = "pingpong";

const VARIANTS: [&str; 4] = [
    "pingpong_blocking_ours",
    "pingpong_blocking_std",
    "pingpong_async_ours",
    "pingpong_async_tokio",
];

/// Round trips of the baseline run.
const BASE: usize = 1_000;
/// Round trips counted: fewer would drown in start-up noise (how often a
/// runtime's threads happen to wait is timing-dependent).
const DEFAULT_ROUNDS: usize = 10_000;
const MIN_ROUNDS: usize = 1_000;
const MAX_ROUNDS: usize = 1_000_000;

/// Syscall name to count (`"total"` included).
type Counts = BTreeMap<String, f64>;

/// The syscalls `perf` counts one by one (it counts the total in any case).
const PERF_SYSCALLS: [&str; 14] = [
    "recvfrom",
    "sendto",
    "recvmsg",
    "sendmsg",
    "read",
    "write",
    "poll",
    "ppoll",
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
    "futex",
    "ioctl",
    "sched_yield",
];

#[derive(Clone, Copy, Debug)]
enum Counter {
    Strace,
    Perf,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::Strace => "strace",
            Counter::Perf => "perf",
        }
    }

    /// Whether it runs here (installed, and permitted to trace).
    fn works(self) -> bool {
        let probe = self.command(Path::new("/dev/null"), Path::new("true"));
        let status = { probe }
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        status.is_ok_and(|s| s.success())
    }

    /// The command that runs `program`, counting into `report`.
    fn command(self, report: &Path, program: &Path) -> Command {
        let mut c;
        match self {
            Counter::Strace => {
                c = Command::new("strace");
                c.args(["-f", "-c", "-o"]);
            }
            Counter::Perf => {
                let events: Vec<String> = PERF_SYSCALLS
                    .iter()
                    .map(|name| format!("syscalls:sys_enter_{name}"))
                    .collect();
                c = Command::new("perf");
                c.args(["stat", "-x,", "-e", "raw_syscalls:sys_enter"]);
                c.args(["-e", &events.join(","), "-o"]);
            }
        }
        c.arg(report).arg(program);
        c
    }

    fn parse(self, report: &str) -> Counts {
        match self {
            Counter::Strace => parse_strace(report),
            Counter::Perf => parse_perf(report),
        }
    }
}

pub fn run(ctx: &Ctx, rounds: Option<usize>) {
    let rounds = rounds
        .unwrap_or(DEFAULT_ROUNDS)
        .clamp(MIN_ROUNDS, MAX_ROUNDS);
    for counter in [Counter::Strace, Counter::Perf] {
        if !counter.works() {
            println!(
                "syscalls {}: cannot run here; nothing counted",
                counter.name()
            );
            continue;
        }
        for variant in VARIANTS {
            let base = count(ctx, counter, variant, BASE);
            let full = count(ctx, counter, variant, BASE + rounds);
            report(counter, variant, &base, &full, rounds);
        }
    }
}

/// `syscalls COUNTER VARIANT per_round_trip N (syscall n, ...)`.
fn report(counter: Counter, variant: &str, base: &Counts, full: &Counts, rounds: usize) {
    let per_trip = |name: &str| {
        let at = |c: &Counts| c.get(name).copied().unwrap_or(0.0);
        (at(full) - at(base)) / rounds as f64
    };
    let mut detail: Vec<(&str, f64)> = full
        .keys()
        .filter(|name| *name != "total")
        .map(|name| (name.as_str(), per_trip(name)))
        .filter(|(_, n)| n.abs() >= 0.01)
        .collect();
    detail.sort_by(|a, b| b.1.total_cmp(&a.1));
    let detail: Vec<String> = detail.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", detail.join(", "))
    };
    println!(
        "syscalls {} {variant} per_round_trip {:.2}{detail}",
        counter.name(),
        per_trip("total"),
    );
}

/// Runs one counted client for `rounds` round trips against an uncounted server.
fn count(ctx: &Ctx, counter: Counter, variant: &str, rounds: usize) -> Counts {
    let report = std::env::temp_dir().join(format!(
        "compare-{}-{}-{variant}-{rounds}.txt",
        counter.name(),
        std::process::id()
    ));
    let exe = std::env::current_exe().expect("current_exe");
    let client = |addr: Addr| {
        let status = counter
            .command(&report, &exe)
            .args([CHILD_FLAG, CHILD_ROLE, variant])
            .args([addr.to_string(), rounds.to_string()])
            .stdout(Stdio::null())
            .status()
            .expect("run the counted client");
        assert!(
            status.success(),
            "the counted {variant} client failed: {status}"
        );
    };
    if variant.contains("blocking") {
        let (addr, server) = pingpong::start_std_echo(rounds);
        client(addr);
        server.join().expect("the echo thread panicked");
    } else {
        let (addr, server) = ctx.rt.block_on(pingpong::start_tokio_echo(rounds));
        client(addr);
        ctx.rt.block_on(harness::within(server));
    }
    let text = std::fs::read_to_string(&report).expect("read the counter's report");
    let _ = std::fs::remove_file(&report);
    counter.parse(&text)
}

/// The `calls` column of an `strace -c` summary, by syscall.
fn parse_strace(report: &str) -> Counts {
    report
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // % time, seconds, usecs/call, calls, [errors], syscall
            let calls: f64 = cols.get(3)?.parse().ok()?;
            cols[0].parse::<f64>().ok()?;
            Some((cols.last()?.to_string(), calls))
        })
        .collect()
}

/// The counts of `perf stat -x,` (`COUNT,,EVENT,...`), by syscall.
fn parse_perf(report: &str) -> Counts {
    let counts: Counts = report
        .lines()
        .filter_map(|line| {
            let mut cols = line.split(',');
            let count: f64 = cols.next()?.parse().ok()?;
            let event = cols.nth(1)?;
            let name = match event.strip_prefix("syscalls:sys_enter_") {
                Some(name) => name,
                None if event == "raw_syscalls:sys_enter" => "total",
                None => return None,
            };
            Some((name.to_owned(), count))
        })
        .collect();
    assert!(
        counts.contains_key("total"),
        "no total in perf's report {report:?}"
    );
    counts
}

// ----- the child -------------------------------------------------------------

/// `--child pingpong VARIANT ADDR ROUNDS`: one client, no warm-up.
pub fn child(args: &[String]) {
    let number = |i: usize| -> usize {
        let arg = args.get(i).and_then(|a| a.parse().ok());
        arg.unwrap_or_else(|| panic!("pingpong child: bad argument {i} in {args:?}"))
    };
    let addr: Addr = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .expect("pingpong child: address");
    let timed = number(2);
    let rounds = Rounds { warmup: 0, timed };
    let sample = match args.first().map(String::as_str) {
        Some("pingpong_blocking_ours") => pingpong::ours_blocking(addr, rounds),
        Some("pingpong_blocking_std") => pingpong::std_client(addr, rounds),
        Some("pingpong_async_ours") => harness::runtime().block_on(async {
            harness::within(tokio::spawn(pingpong::ours_async(addr, rounds))).await
        }),
        Some("pingpong_async_tokio") => harness::runtime().block_on(async {
            harness::within(tokio::spawn(pingpong::tokio_client(addr, rounds))).await
        }),
        other => panic!("unknown pingpong variant {other:?}"),
    };
    println!("{:.0} round trips/s", sample.rate);
}
