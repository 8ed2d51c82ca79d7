//! The proxy benchmark of issue 21: client ⇄ proxy ⇄ upstream on loopback,
//! the proxy in its own process, ours (`blade_socket::copy_bidirectional`)
//! against `tokio::io::copy_bidirectional` (8 KiB buffers) and
//! `copy_bidirectional_with_sizes` (1 MiB) in the same run.
//!
//! ```text
//! cargo bench --bench proxy                        # 2 GiB bulk, unpinned then pinned
//! BLADE_PROXY_BENCH_BYTES=268435456 cargo bench --bench proxy   # 256 MiB bulk
//! cargo bench --bench proxy -- bulk                # only sections whose name contains "bulk"
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) every section
//! runs once with tiny counts, as a smoke test.
//!
//! Each proxy variant runs in a child process (this binary, re-executed
//! with `--proxy VARIANT UPSTREAM_PORT`), which prints its port and serves
//! until its stdin closes. The client and the upstream are plain tokio
//! sockets in this process, the same for every variant. The proxy's CPU is
//! its user + system time, read from `/proc/PID/stat` around each run.
//! Pinned runs put the proxy on CPU 1 and this process on CPU 0 (`taskset`).
//!
//! Sections:
//! - `bulk1`, `bulk8`: the bytes sent client → upstream over 1 and over 8
//!   connections (split evenly); throughput and proxy CPU per GiB.
//! - `pingpong`: 64-byte request, 64-byte response through the proxy, one
//!   connection; round trips per second and proxy CPU per round trip.
//! - `memory`: resident memory of the proxy per idle proxied connection
//!   (10,000 by default; the client ends in a child process, since
//!   `ulimit -n` is 20,000; the proxy's own limit is raised with `prlimit`
//!   where allowed, else the count shrinks to fit).
//!
//! Output: one `ratio NAME VALUE` line per measure and peer (ours divided by
//! the peer; for throughput and round trips higher is better, for CPU and
//! memory lower is better), then a table of medians.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// The longest one run may take before the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Ours,
    Tokio8k,
    Tokio1m,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Ours, Variant::Tokio8k, Variant::Tokio1m];

    fn name(self) -> &'static str {
        match self {
            Variant::Ours => "ours",
            Variant::Tokio8k => "tokio_8k",
            Variant::Tokio1m => "tokio_1m",
        }
    }

    fn from_name(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }
}

#[derive(Clone, Copy, Debug)]
struct Scale {
    reps: usize,
    bulk_bytes: u64,
    pings: usize,
    idle_conns: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--proxy") => return proxy_child(&args[1..]),
        Some("--clients") => return clients_child(&args[1..]),
        _ => {}
    }
    let full = args.iter().any(|a| a == "--bench");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    let scale = if full {
        Scale {
            reps: 5,
            bulk_bytes: std::env::var("BLADE_PROXY_BENCH_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2 << 30),
            pings: 20_000,
            idle_conns: 10_000,
        }
    } else {
        Scale {
            reps: 1,
            bulk_bytes: 8 << 20,
            pings: 200,
            idle_conns: 64,
        }
    };
    let pinnings: &[bool] = if full { &[false, true] } else { &[false] };
    let mut table = Vec::new();
    for &pinned in pinnings {
        if pinned && !pin_self() {
            eprintln!("taskset is not available: skipping the pinned runs");
            continue;
        }
        let tag = if pinned { "pinned" } else { "unpinned" };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        for (name, conns) in [("bulk1", 1), ("bulk8", 8)] {
            if wanted(name) {
                let r = rt.block_on(bulk(scale, conns, pinned));
                report(&mut table, &format!("{name}_{tag}"), &r);
            }
        }
        if wanted("pingpong") {
            let r = rt.block_on(pingpong(scale, pinned));
            report(&mut table, &format!("pingpong_{tag}"), &r);
        }
    }
    if wanted("memory") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        for v in Variant::ALL {
            let per_conn = rt.block_on(memory(v, scale.idle_conns));
            table.push(format!(
                "memory {:<9} {:>10.0} bytes per idle connection",
                v.name(),
                per_conn.0
            ));
            println!(
                "memory {} {:.0} bytes per connection ({} connections)",
                v.name(),
                per_conn.0,
                per_conn.1
            );
        }
    }
    println!();
    for line in table {
        println!("{line}");
    }
}

/// Pins this process (every thread) to CPU 0, and returns whether it could.
fn pin_self() -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", "0", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ------------------------------------------------------------- the proxies

/// A proxy child: prints `port N`, proxies every connection to the upstream,
/// exits when stdin closes.
fn proxy_child(args: &[String]) {
    let (Some(variant), Some(upstream)) = (
        args.first().and_then(|v| Variant::from_name(v)),
        args.get(1).and_then(|p| p.parse::<u16>().ok()),
    ) else {
        eprintln!("usage: --proxy VARIANT UPSTREAM_PORT");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        println!("port {port}");
        std::io::stdout().flush().expect("stdout");
        // Exit when the parent closes our stdin (or dies).
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            std::process::exit(0);
        });
        loop {
            let Ok((client, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                match variant {
                    Variant::Ours => {
                        let Ok(client) = blade_socket::Socket::try_from(client) else {
                            return;
                        };
                        let mut up = blade_socket::Socket::tcp().expect("socket");
                        if up.connect(Some("127.0.0.1"), upstream, None).await.is_err() {
                            return;
                        }
                        let _ = blade_socket::copy_bidirectional(&client, &up, None).await;
                    }
                    Variant::Tokio8k | Variant::Tokio1m => {
                        let mut client = client;
                        let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                            return;
                        };
                        let _ = if variant == Variant::Tokio8k {
                            tokio::io::copy_bidirectional(&mut client, &mut up).await
                        } else {
                            tokio::io::copy_bidirectional_with_sizes(
                                &mut client,
                                &mut up,
                                1 << 20,
                                1 << 20,
                            )
                            .await
                        };
                    }
                }
            });
        }
    });
}

/// A running proxy child; killed on drop.
struct ProxyProc {
    child: Child,
    port: u16,
}

impl ProxyProc {
    fn start(variant: Variant, upstream: u16, pinned: bool, nofile: Option<u64>) -> ProxyProc {
        let exe = std::env::current_exe().expect("own path");
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "1"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(["--proxy", variant.name(), &upstream.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("start the proxy");
        if let Some(n) = nofile {
            // Best effort: root may raise its own limits, others keep theirs.
            let _ = Command::new("prlimit")
                .arg(format!("--pid={}", child.id()))
                .arg(format!("--nofile={n}:{n}"))
                .stderr(Stdio::null())
                .status();
        }
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("the proxy's port");
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("proxy said {line:?}"));
        ProxyProc { child, port }
    }

    /// User + system CPU time of the proxy so far.
    fn cpu(&self) -> Duration {
        cpu_of(self.child.id())
    }

    /// Resident memory of the proxy, in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for ProxyProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system time of process `pid` (with all its threads), from
/// `/proc/PID/stat` (in clock ticks of 10 ms, Linux's `USER_HZ`).
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

// ------------------------------------------------------------ the workloads

/// Medians per variant: (rate, cpu per unit), and the units' names.
struct Measured {
    rate_unit: &'static str,
    cpu_unit: &'static str,
    medians: Vec<(Variant, f64, f64)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// An upstream listener whose every connection runs `serve`.
async fn upstream<F, Fut>(serve: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s));
        }
    });
    port
}

/// Runs `one` for each variant, `reps` times, alternating the order.
async fn paired<F, Fut>(
    scale: Scale,
    up: u16,
    pinned: bool,
    mut one: F,
) -> Vec<(Variant, Vec<(f64, f64)>)>
where
    F: FnMut(u16) -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let procs: Vec<(Variant, ProxyProc)> = Variant::ALL
        .into_iter()
        .map(|v| (v, ProxyProc::start(v, up, pinned, None)))
        .collect();
    let mut out: Vec<(Variant, Vec<(f64, f64)>)> =
        Variant::ALL.into_iter().map(|v| (v, Vec::new())).collect();
    for rep in 0..scale.reps {
        let mut order: Vec<usize> = (0..procs.len()).collect();
        order.rotate_left(rep % procs.len());
        for i in order {
            let p = &procs[i].1;
            let cpu0 = p.cpu();
            let started = Instant::now();
            let units = tokio::time::timeout(RUN_LIMIT, one(p.port))
                .await
                .expect("a run exceeded RUN_LIMIT");
            let wall = started.elapsed().as_secs_f64();
            let cpu = (p.cpu() - cpu0).as_secs_f64();
            out[i].1.push((units / wall, cpu / units));
        }
    }
    out
}

/// Client → upstream bulk over `conns` connections.
async fn bulk(scale: Scale, conns: usize, pinned: bool) -> Measured {
    let up = upstream(|mut s: TcpStream| async move {
        let mut buf = vec![0u8; 256 * 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
        let _ = s.shutdown().await;
    })
    .await;
    let per_conn = scale.bulk_bytes / conns as u64;
    let gib = (per_conn * conns as u64) as f64 / f64::from(1u32 << 30);
    let runs = paired(scale, up, pinned, |port| async move {
        let mut tasks = Vec::new();
        for _ in 0..conns {
            tasks.push(tokio::spawn(async move {
                let mut s = TcpStream::connect(("127.0.0.1", port))
                    .await
                    .expect("connect");
                let chunk = vec![0x5au8; 256 * 1024];
                let mut left = per_conn;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    s.write_all(&chunk[..n]).await.expect("write");
                    left -= n as u64;
                }
                s.shutdown().await.expect("shutdown");
                // The upstream closes after reading everything: wait for it.
                let mut b = [0u8; 1];
                let _ = s.read(&mut b).await;
            }));
        }
        for t in tasks {
            t.await.expect("client");
        }
        gib
    })
    .await;
    Measured {
        rate_unit: "GiB/s",
        cpu_unit: "CPU s per GiB",
        medians: medians(runs),
    }
}

/// 64-byte request/response through the proxy, one connection.
async fn pingpong(scale: Scale, pinned: bool) -> Measured {
    let up = upstream(|mut s: TcpStream| async move {
        let _ = s.set_nodelay(true);
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&buf).await.is_err() {
                break;
            }
        }
    })
    .await;
    let pings = scale.pings;
    let runs = paired(scale, up, pinned, |port| async move {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let _ = s.set_nodelay(true);
        let mut buf = [7u8; 64];
        for _ in 0..pings {
            s.write_all(&buf).await.expect("write");
            s.read_exact(&mut buf).await.expect("read");
        }
        pings as f64
    })
    .await;
    Measured {
        rate_unit: "round trips/s",
        cpu_unit: "CPU µs per round trip",
        medians: medians(runs)
            .into_iter()
            .map(|(v, r, c)| (v, r, c * 1e6))
            .collect(),
    }
}

fn medians(runs: Vec<(Variant, Vec<(f64, f64)>)>) -> Vec<(Variant, f64, f64)> {
    runs.into_iter()
        .map(|(v, s)| {
            let rate = median(s.iter().map(|x| x.0).collect());
            let cpu = median(s.iter().map(|x| x.1).collect());
            (v, rate, cpu)
        })
        .collect()
}

fn report(table: &mut Vec<String>, name: &str, m: &Measured) {
    let ours = m.medians.iter().find(|x| x.0 == Variant::Ours).copied();
    for &(v, rate, cpu) in &m.medians {
        table.push(format!(
            "{name:<18} {:<9} {rate:>12.3} {} {cpu:>10.4} {}",
            v.name(),
            m.rate_unit,
            m.cpu_unit
        ));
        if let (Some((_, r0, c0)), true) = (ours, v != Variant::Ours) {
            println!("ratio {name}_rate_vs_{} {:.3}", v.name(), r0 / rate);
            println!("ratio {name}_cpu_vs_{} {:.3}", v.name(), c0 / cpu);
        }
    }
}

// ----------------------------------------------------------------- memory

/// Bytes of proxy memory per idle proxied connection, and the count used.
async fn memory(variant: Variant, wanted: usize) -> (f64, usize) {
    const WARM: usize = 64;
    // Every connection costs the proxy two descriptors, and this process
    // one (the upstream end): keep within the limits.
    let n = wanted.min(fd_limit().saturating_sub(WARM + 200));
    let up_streams = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let up = upstream({
        let keep = Arc::clone(&up_streams);
        move |mut s: TcpStream| {
            let keep = Arc::clone(&keep);
            async move {
                // One byte down, so the client knows the whole path is up.
                if s.write_all(b"h").await.is_ok() {
                    keep.lock().await.push(s);
                }
            }
        }
    })
    .await;
    let nofile = (2 * (n + WARM) + 1000) as u64;
    let proxy = ProxyProc::start(variant, up, false, Some(nofile));
    let proxy_limit = proxy_fd_limit(proxy.child.id());
    let n = n.min(proxy_limit.saturating_sub(200) / 2 - WARM);
    let exe = std::env::current_exe().expect("own path");
    let mut clients = Command::new(exe)
        .args([
            "--clients",
            &proxy.port.to_string(),
            &WARM.to_string(),
            &n.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the clients");
    let mut out = BufReader::new(clients.stdout.take().expect("stdout"));
    let mut stdin = clients.stdin.take().expect("stdin");
    let read_line = move |out: &mut BufReader<std::process::ChildStdout>| {
        let mut line = String::new();
        out.read_line(&mut line).expect("clients");
        line
    };
    let (mut out, warm) = tokio::task::spawn_blocking(move || {
        let l = read_line(&mut out);
        (out, l)
    })
    .await
    .expect("task");
    assert_eq!(warm.trim(), "warm", "clients said {warm:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = proxy.rss();
    writeln!(stdin, "more").expect("clients stdin");
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        out.read_line(&mut line).expect("clients");
        line
    })
    .await
    .expect("task");
    assert_eq!(ready.trim(), "ready", "clients said {ready:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = proxy.rss();
    drop(stdin);
    let _ = clients.kill();
    let _ = clients.wait();
    drop(proxy);
    up_streams.lock().await.clear();
    ((after.saturating_sub(before)) as f64 / n.max(1) as f64, n)
}

/// This process's soft limit on descriptors.
fn fd_limit() -> usize {
    proxy_fd_limit(std::process::id())
}

/// A process's soft limit on descriptors, from `/proc/PID/limits`.
fn proxy_fd_limit(pid: u32) -> usize {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// The clients' child: opens `warm` connections through the proxy (each
/// reads the upstream's one byte), says `warm`, waits for a line, opens `n`
/// more, says `ready`, and holds them until stdin closes.
fn clients_child(args: &[String]) {
    let num = |i: usize| args.get(i).and_then(|v| v.parse::<usize>().ok());
    let (Some(port), Some(warm), Some(n)) = (num(0), num(1), num(2)) else {
        eprintln!("usage: --clients PORT WARM N");
        std::process::exit(2);
    };
    let port = u16::try_from(port).expect("port");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut held = Vec::with_capacity(warm + n);
        let open = |count: usize| async move {
            let mut out = Vec::with_capacity(count);
            // In batches, so the listen backlog is never overrun.
            for _ in 0..count.div_ceil(100) {
                let batch = (count - out.len()).min(100);
                let mut tasks = Vec::new();
                for _ in 0..batch {
                    tasks.push(tokio::spawn(async move {
                        let mut s = TcpStream::connect(("127.0.0.1", port))
                            .await
                            .expect("connect");
                        let mut b = [0u8; 1];
                        s.read_exact(&mut b).await.expect("hello through the proxy");
                        s
                    }));
                }
                for t in tasks {
                    out.push(t.await.expect("connect task"));
                }
            }
            out
        };
        held.extend(open(warm).await);
        println!("warm");
        std::io::stdout().flush().expect("stdout");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        held.extend(open(n).await);
        println!("ready");
        std::io::stdout().flush().expect("stdout");
        let _ = std::io::stdin().read_line(&mut line);
        drop(held);
    });
}
