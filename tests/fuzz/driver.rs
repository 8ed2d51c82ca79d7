//! Running cases: one case on a fresh socket, and one face's run over parallel workers.

use super::*;

pub(crate) fn run_case(
    rt: &tokio::runtime::Runtime,
    fx: &Fixture,
    stats: &mut Stats,
    async_face: bool,
    seed: u64,
    kind: u8,
    ops: &[Op],
) {
    let stream = kind < 2;
    let v6 = kind % 2 == 1;
    if v6 && !fx.v6 {
        return;
    }
    stats.cases += 1;
    let family = if v6 { AF_INET6 } else { AF_INET };
    let (ty, proto) = if stream {
        (SOCK_STREAM, IPPROTO_TCP)
    } else {
        (SOCK_DGRAM, IPPROTO_UDP)
    };
    let s = Socket::new(family, ty, proto).expect("socket");
    let sock = if async_face {
        Sock::Async(s)
    } else {
        Sock::Blocking(s.into())
    };
    let mut h = Harness {
        rt,
        fx,
        sock: Some(sock),
        m: Model {
            phase: Phase::Fresh,
            shut: None,
            blocking: true,
            send_timeout: None,
            receive_timeout: None,
            stream,
            v6,
            rcvlowat: 1,
            rcvbuf_small: false,
            nodelay: None,
            udp_connected: None,
        },
        peer: None,
        partner_clients: VecDeque::new(),
        datagrams: VecDeque::new(),
        seed,
        stats,
        async_face,
    };
    h.check("creation");
    for op in ops {
        h.run(op);
    }
    h.finish();
}

impl Harness<'_> {
    /// End of a case: the peer has received exactly what our sends
    /// reported (while the connection still stands), then all is dropped.
    pub(crate) fn finish(&mut self) {
        let intact = self.m.phase == Phase::Connected
            && !matches!(self.m.shut, Some(Shutdown::Write | Shutdown::Both));
        if let Some(p) = &self.peer
            && intact
            && !p.sent_unknown
            && !p.peer_reset
            && p.stream.is_some()
        {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                self.peer_drain();
                let p = self.peer.as_ref().expect("peer");
                if p.peer_read == p.we_sent {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the peer got {} bytes, our sends reported {}",
                    p.peer_read,
                    p.we_sent
                );
                // Wait for the bytes still in flight: a blocking peek with
                // the time left, then back to the non-blocking drain.
                let s = p.stream.as_ref().expect("peer stream");
                let left = deadline.saturating_duration_since(Instant::now());
                s.set_nonblocking(false).expect("blocking peer");
                s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .expect("peer read timeout");
                let _ = s.peek(&mut [0u8; 1]);
                s.set_nonblocking(true).expect("non-blocking peer");
            }
        }
        self.drop_partner_datagrams();
        let _ = self.async_face;
        // The peer closes first, so that TIME_WAIT entries sit on the
        // fixture's listening port instead of on thousands of ephemeral ones.
        self.peer = None;
        self.partner_clients.clear();
        // Drop the socket inside the runtime (an async socket may be
        // registered with its reactor).
        let s = self.sock.take();
        let _g = self.rt.enter();
        drop(s);
    }
}

/// Worker threads per face: `BLADE_SOCKET_FUZZ_THREADS`, else 4. Most of a
/// case's time is spent waiting (cut-offs, timeouts, the peer), so more
/// workers than cores still help.
pub(crate) fn workers() -> u32 {
    std::env::var("BLADE_SOCKET_FUZZ_THREADS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(4)
}

/// One worker: its own fixture, runtime and proptest runner, `cases` cases.
/// Stops early (passing the rest) once `failed` is set by another worker.
fn run_worker(
    async_face: bool,
    worker: u32,
    cases: u32,
    done: &std::sync::atomic::AtomicU64,
    failed: &std::sync::atomic::AtomicBool,
    total: u32,
) -> (Stats, Result<(), String>) {
    use std::sync::atomic::Ordering::Relaxed;
    let fx = Fixture::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stats = std::cell::RefCell::new(Stats::default());
    let seed = std::cell::Cell::new(u64::from(worker) << 40);
    let face = if async_face { "async" } else { "blocking" };
    // The worker's cases come from its own generator, seeded from the run's
    // seed: the same seed, face and worker draw the same cases again, so a
    // case is named by its index (see `Replay`).
    let replay = Replay::from_env();
    let cases = match replay {
        Some(r) if r.face == face && r.worker == worker => r.index + 1,
        Some(_) => 0,
        None => cases,
    };
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 2_000,
            ..Config::default()
        },
        worker_rng(run_seed(), face, worker),
    );
    let index = std::cell::Cell::new(0u32);
    let t = Instant::now();
    let tenth = u64::from(total / 10).max(1);
    let result = runner.run(&case(), |(kind, ops)| {
        if failed.load(Relaxed) {
            return Ok(());
        }
        let i = index.get();
        index.set(i + 1);
        seed.set(seed.get() + 1);
        if replay.is_some_and(|r| r.index != i) {
            return Ok(());
        }
        case_started(format!(
            "BLADE_SOCKET_FUZZ_SEED={} BLADE_SOCKET_FUZZ_REPLAY={face}:{worker}:{i} (kind {kind}, harness seed {}): {ops:?}",
            run_seed(),
            seed.get()
        ));
        run_case(
            &rt,
            &fx,
            &mut stats.borrow_mut(),
            async_face,
            seed.get(),
            kind,
            &ops,
        );
        let n = done.fetch_add(1, Relaxed) + 1;
        if total >= 100_000 && n % tenth == 0 {
            println!(
                "fuzz ({face}): {n} of {total} cases, {:.0} s",
                t.elapsed().as_secs_f64()
            );
        }
        Ok(())
    });
    if result.is_err() {
        failed.store(true, Relaxed);
    }
    (stats.into_inner(), result.map_err(|e| e.to_string()))
}

/// The run's seed: `BLADE_SOCKET_FUZZ_SEED`, else drawn from the clock
/// (printed at the start of each face's run, and with any hang).
pub(crate) fn run_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        std::env::var("BLADE_SOCKET_FUZZ_SEED")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
    })
}

/// A worker's case generator, from the run's seed, the face and the worker.
fn worker_rng(seed: u64, face: &str, worker: u32) -> proptest::test_runner::TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = u8::from(face == "async");
    bytes[12..16].copy_from_slice(&worker.to_le_bytes());
    proptest::test_runner::TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &bytes)
}

/// One case to run again, alone: `BLADE_SOCKET_FUZZ_REPLAY=face:worker:index`
/// with the `BLADE_SOCKET_FUZZ_SEED` of the run that drew it (both printed
/// by the watchdog). The case's calls are the same; the timing of the
/// peer's acts is not, so a race may need several replays.
#[derive(Clone, Copy, Debug)]
struct Replay {
    face: &'static str,
    worker: u32,
    index: u32,
}

impl Replay {
    fn from_env() -> Option<Replay> {
        let v = std::env::var("BLADE_SOCKET_FUZZ_REPLAY").ok()?;
        let mut parts = v.trim().split(':');
        let face = match parts.next()? {
            "async" => "async",
            "blocking" => "blocking",
            _ => return None,
        };
        Some(Replay {
            face,
            worker: parts.next()?.parse().ok()?,
            index: parts.next()?.parse().ok()?,
        })
    }
}

pub(crate) fn run_face(async_face: bool) {
    let cases = cases_per_face();
    println!(
        "fuzz ({}): seed {} (BLADE_SOCKET_FUZZ_SEED)",
        if async_face { "async" } else { "blocking" },
        run_seed()
    );
    let n = workers().min(cases.max(1));
    let done = std::sync::atomic::AtomicU64::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let t = Instant::now();
    let outcomes: Vec<(Stats, Result<(), String>)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..n)
            .map(|w| {
                // Cases split evenly, the remainder to the first workers.
                let share = cases / n + u32::from(w < cases % n);
                let (done, failed) = (&done, &failed);
                std::thread::Builder::new()
                    .name(format!("fuzz-{w}"))
                    .spawn_scoped(sc, move || {
                        run_worker(async_face, w, share, done, failed, cases)
                    })
                    .expect("spawn worker")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("fuzz worker panicked outside a case"))
            .collect()
    });
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for (s, r) in outcomes {
        stats.merge(s);
        if let Err(e) = r {
            failures.push(e);
        }
    }
    let result = match failures.first() {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    };
    let face = if async_face { "async" } else { "blocking" };
    let mut errors: Vec<_> = stats.errors.iter().collect();
    errors.sort_by_key(|e| std::cmp::Reverse(*e.1));
    println!(
        "fuzz ({face}): {cases} cases on {n} workers in {:.1} s: {} runs, {} calls, {} timeouts, {} cut off, {} unbounded skipped, {} closed-socket sweeps, {} accepted, {} bytes in, {} out, {} datagrams from other workers",
        t.elapsed().as_secs_f64(),
        stats.cases,
        stats.calls,
        stats.timeouts,
        stats.cut_off,
        stats.skipped_unbounded,
        stats.closed_checks,
        stats.accepted,
        stats.bytes_in,
        stats.bytes_out,
        stats.foreign_datagrams
    );
    for (e, n) in errors.iter().take(12) {
        println!("fuzz ({face}):   {n:>7} x {e}");
    }
    let mut time: Vec<_> = stats.time.iter().collect();
    time.sort_by_key(|t| std::cmp::Reverse(t.1.1));
    let top: Vec<String> = time
        .iter()
        .take(8)
        .map(|(k, (n, d))| format!("{k} {n} in {:.2} s", d.as_secs_f64()))
        .collect();
    println!("fuzz ({face}): time by call: {}", top.join(", "));
    if let Err(e) = result {
        panic!("fuzz ({face}) failed: {e}");
    }
}
