//! Repetition, medians and the report, shared by every pair.

use std::time::{Duration, Instant};

use tokio::{runtime::Runtime, task::JoinHandle};

/// The longest any single wait may take before the run is declared stuck
/// (a receive timeout on our sockets, a read timeout on std's).
pub const STALL: Duration = Duration::from_secs(30);

/// The longest one variant's run may take, end to end.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// First argument of a re-executed child process (see `main`).
pub const CHILD_FLAG: &str = "--child";

/// The async pairs' runtime: multi-thread with 2 workers, as
/// `#[tokio::main]` builds on this 2-core machine.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build the tokio runtime")
}

/// Awaits a spawned run within [`RUN_LIMIT`]; a stuck or panicked run aborts
/// the benchmark rather than reporting a number.
pub async fn within<T>(task: JoinHandle<T>) -> T {
    tokio::time::timeout(RUN_LIMIT, task)
        .await
        .expect("a run exceeded RUN_LIMIT")
        .expect("a benchmark task panicked")
}

/// Round-trip latency percentiles of one run.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
}

/// One run of one variant: a rate (higher is better) and, for ping-pong,
/// its latency percentiles.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub rate: f64,
    pub latency: Option<Latency>,
}

impl Sample {
    /// `count` units in `elapsed`.
    pub fn rate(count: f64, elapsed: Duration) -> Sample {
        Sample {
            rate: count / elapsed.as_secs_f64(),
            latency: None,
        }
    }
}

/// Times a bounded series of round trips: the whole series for the rate,
/// each one for the percentiles.
pub struct Stopwatch {
    started: Instant,
    laps: Vec<Duration>,
}

impl Stopwatch {
    pub fn start(rounds: usize) -> Stopwatch {
        Stopwatch {
            laps: Vec::with_capacity(rounds),
            started: Instant::now(),
        }
    }

    /// Records one round trip that began at `since`.
    pub fn lap(&mut self, since: Instant) {
        self.laps.push(since.elapsed());
    }

    pub fn finish(mut self) -> Sample {
        let elapsed = self.started.elapsed();
        self.laps.sort_unstable();
        let at = |q: f64| self.laps[((self.laps.len() - 1) as f64 * q).round() as usize];
        Sample {
            rate: self.laps.len() as f64 / elapsed.as_secs_f64(),
            latency: Some(Latency {
                p50: at(0.50),
                p99: at(0.99),
            }),
        }
    }
}

/// A pair's medians over its repetitions.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub rate: f64,
    pub latency: Option<Latency>,
}

#[derive(Clone, Debug)]
pub struct PairResult {
    pub name: &'static str,
    pub unit: &'static str,
    pub ours: Summary,
    pub peer: Summary,
}

impl PairResult {
    /// Ours divided by the peer: above 1 means ours is faster.
    pub fn ratio(&self) -> f64 {
        self.ours.rate / self.peer.rate
    }
}

/// What a rate is divided by for display, and the unit it is shown in.
#[derive(Clone, Copy, Debug)]
pub struct Unit {
    pub name: &'static str,
    pub per: f64,
}

pub const PER_SECOND: Unit = Unit {
    name: "k/s",
    per: 1e3,
};
pub const GB_PER_SECOND: Unit = Unit {
    name: "GB/s",
    per: 1e9,
};

/// Runs `reps` repetitions of ours and the peer, alternating which goes first
/// so that neither always meets a warmer cache or a busier system, and
/// summarises each by its medians.
pub fn compare(
    name: &'static str,
    unit: Unit,
    reps: usize,
    mut ours: impl FnMut() -> Sample,
    mut peer: impl FnMut() -> Sample,
) -> PairResult {
    let mut o = Vec::with_capacity(reps);
    let mut p = Vec::with_capacity(reps);
    for rep in 0..reps {
        if rep % 2 == 0 {
            o.push(ours());
            p.push(peer());
        } else {
            p.push(peer());
            o.push(ours());
        }
    }
    let scale = |s: Summary| Summary {
        rate: s.rate / unit.per,
        ..s
    };
    let result = PairResult {
        name,
        unit: unit.name,
        ours: scale(summarize(&o)),
        peer: scale(summarize(&p)),
    };
    eprintln!(
        "  {name}: ours {:.3} peer {:.3} {} (ratio {:.3})",
        result.ours.rate,
        result.peer.rate,
        unit.name,
        result.ratio()
    );
    result
}

/// The median of each field separately.
fn summarize(samples: &[Sample]) -> Summary {
    let latencies: Vec<Latency> = samples.iter().filter_map(|s| s.latency).collect();
    let median_of = |f: fn(&Latency) -> Duration| {
        let mut d: Vec<f64> = latencies.iter().map(|l| f(l).as_secs_f64()).collect();
        Duration::from_secs_f64(median(&mut d))
    };
    Summary {
        rate: median(&mut samples.iter().map(|s| s.rate).collect::<Vec<_>>()),
        latency: (!latencies.is_empty()).then(|| Latency {
            p50: median_of(|l| l.p50),
            p99: median_of(|l| l.p99),
        }),
    }
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> f64 {
    assert!(!values.is_empty(), "median of no samples");
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        f64::midpoint(values[mid - 1], values[mid])
    }
}

/// One `ratio NAME VALUE` line per pair, for scripts.
pub fn print_ratios(results: &[PairResult]) {
    for r in results {
        println!("ratio {} {:.3}", r.name, r.ratio());
    }
}

/// The same results for people, with ping-pong latencies in microseconds.
pub fn print_table(results: &[PairResult]) {
    if results.is_empty() {
        return;
    }
    println!();
    println!(
        "{:<27} {:>10} {:>10} {:<5} {:>6}   {:>15} {:>15}",
        "pair", "ours", "peer", "unit", "ratio", "ours p50/p99", "peer p50/p99"
    );
    for r in results {
        println!(
            "{:<27} {:>10.3} {:>10.3} {:<5} {:>6.3}   {:>15} {:>15}",
            r.name,
            r.ours.rate,
            r.peer.rate,
            r.unit,
            r.ratio(),
            latency_cell(r.ours.latency),
            latency_cell(r.peer.latency),
        );
    }
    println!("(k/s: thousands per second; GB/s: 10^9 bytes per second; latencies in µs)");
    println!();
}

fn latency_cell(l: Option<Latency>) -> String {
    l.map_or_else(String::new, |l| {
        format!(
            "{:.1}/{:.1}",
            l.p50.as_secs_f64() * 1e6,
            l.p99.as_secs_f64() * 1e6
        )
    })
}
