//! UDP datagrams received per second on loopback (issue 14):
//! `cargo bench --bench udp`.
//!
//! Three variants side by side in one process, interleaved in every
//! repetition, each at 64 and 1200 bytes per datagram:
//! - `tokio`: `tokio::net::UdpSocket::send_to` / `recv_from`, one datagram
//!   per call (the receive into one reused buffer);
//! - `ours_one`: this crate's `send_to(host, port, ..)` / `receive_from(None)`,
//!   one datagram per call;
//! - `ours_batch`: `send_many_to` with batches of 64 / `receive_many(64)`
//!   (UDP GSO and GRO where the kernel has them).
//!
//! Each run has a sender task and a receiver task on one multi-thread tokio
//! runtime with 2 workers. The sender sends a fixed count as fast as it can;
//! the receiver counts until it has them all, or until [`IDLE`] passes with
//! none after the sender finished (UDP drops what the receiver's buffer
//! cannot hold: the drops are reported). The rate is datagrams received
//! divided by the time from the first send to the last receive. Both
//! sockets ask for [`BUFFER`] bytes of `SO_RCVBUF`/`SO_SNDBUF` (the kernel
//! caps it at `net.core.rmem_max`/`wmem_max`); the sizes granted are printed.
//!
//! ```text
//! cargo bench --bench udp                  # 5 repetitions, medians
//! taskset -c 0 cargo bench --bench udp     # pinned: both tasks on one core
//! ```
//!
//! Output, on stdout: one `udp VARIANT SIZE` line per variant and size (median
//! rate, and the median run's sent, received and drops), then one `ratio`
//! line per size (ours / tokio). Without `--bench` (as `cargo test
//! --all-targets` runs it) each run happens once with small counts, as a
//! smoke test.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use blade_socket::{OptionValue, SO_RCVBUF, SO_SNDBUF, Socket};
use tokio::net::UdpSocket;

/// Datagrams per `send_many_to` and the most per `receive_many`.
const BATCH: usize = 64;
/// How long the receiver waits for one more datagram once the sender is done.
const IDLE: Duration = Duration::from_millis(50);
/// The socket buffer sizes asked for.
const BUFFER: i64 = 8 << 20;
/// Every run must finish within this.
const RUN_LIMIT: Duration = Duration::from_secs(60);
const SIZES: [usize; 2] = [64, 1200];

#[derive(Clone, Copy)]
struct Scale {
    reps: usize,
    /// Datagrams per run, one per call and batched.
    one: usize,
    batched: usize,
}

const FULL: Scale = Scale {
    reps: 5,
    one: 200_000,
    batched: BATCH * 40_000,
};
const SMOKE: Scale = Scale {
    reps: 1,
    one: 500,
    batched: BATCH * 20,
};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    Tokio,
    OursOne,
    OursBatch,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Tokio => "tokio",
            Variant::OursOne => "ours_one",
            Variant::OursBatch => "ours_batch",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Run {
    sent: usize,
    received: usize,
    rate: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale = if args.iter().any(|a| a == "--bench") {
        FULL
    } else {
        SMOKE
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (rcv, snd) = rt.block_on(buffers());
    println!(
        "udp buffers asked {BUFFER} bytes; granted SO_RCVBUF {rcv} SO_SNDBUF {snd}; batches of {BATCH}"
    );
    let variants = [Variant::Tokio, Variant::OursOne, Variant::OursBatch];
    for size in SIZES {
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); variants.len()];
        for rep in 0..scale.reps {
            // Alternate the order, so that no variant always goes first.
            for k in 0..variants.len() {
                let i = if rep % 2 == 0 {
                    k
                } else {
                    variants.len() - 1 - k
                };
                let v = variants[i];
                let count = if v == Variant::OursBatch {
                    scale.batched
                } else {
                    scale.one
                };
                let r = rt.block_on(async {
                    tokio::time::timeout(RUN_LIMIT, run(v, size, count))
                        .await
                        .expect("a run stalled")
                });
                eprintln!(
                    "  {} {size} B rep {rep}: {:.0}/s ({} of {})",
                    v.name(),
                    r.rate,
                    r.received,
                    r.sent
                );
                runs[i].push(r);
            }
        }
        let medians: Vec<Run> = runs.iter().map(|r| median(r)).collect();
        for (v, m) in variants.iter().zip(&medians) {
            println!(
                "udp {:<10} {size:>4} B  {:>12.0} received/s  sent {} received {} drops {}",
                v.name(),
                m.rate,
                m.sent,
                m.received,
                m.sent - m.received
            );
        }
        println!(
            "ratio {size} B  ours_one/tokio {:.2}x  ours_batch/tokio {:.1}x",
            medians[1].rate / medians[0].rate,
            medians[2].rate / medians[0].rate
        );
    }
}

/// The run with the median rate.
fn median(runs: &[Run]) -> Run {
    let mut v = runs.to_vec();
    v.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    v[v.len() / 2]
}

/// The buffer sizes the kernel grants for [`BUFFER`].
async fn buffers() -> (i64, i64) {
    let s = ours_socket().await;
    let get = |o| match s.get_option(o) {
        Ok(OptionValue::Int(n)) => n,
        _ => -1,
    };
    (get(SO_RCVBUF), get(SO_SNDBUF))
}

async fn ours_socket() -> Socket {
    let mut s = Socket::udp().expect("socket");
    s.set_option(SO_RCVBUF, BUFFER).expect("SO_RCVBUF");
    s.set_option(SO_SNDBUF, BUFFER).expect("SO_SNDBUF");
    s.bind(0, None).await.expect("bind");
    s
}

async fn tokio_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let r = socket2::SockRef::from(&s);
    r.set_recv_buffer_size(BUFFER as usize).expect("SO_RCVBUF");
    r.set_send_buffer_size(BUFFER as usize).expect("SO_SNDBUF");
    s
}

/// One run: `count` datagrams of `size` bytes from a sender task to a
/// receiver task.
async fn run(v: Variant, size: usize, count: usize) -> Run {
    let done = Arc::new(AtomicBool::new(false));
    let msg = vec![0x5au8; size];
    let start = Instant::now();
    let (sent, (received, last)) = match v {
        Variant::Tokio => {
            let rx = tokio_socket().await;
            let tx = tokio_socket().await;
            let to = rx.local_addr().expect("addr");
            let receiver = tokio::spawn(tokio_receive(rx, count, size, done.clone()));
            let sent = async {
                for _ in 0..count {
                    tx.send_to(&msg, to).await.expect("send_to");
                }
                count
            }
            .await;
            done.store(true, Ordering::Release);
            (sent, receiver.await.expect("receiver"))
        }
        Variant::OursOne => {
            let rx = ours_socket().await;
            let tx = ours_socket().await;
            let port = rx.port();
            let receiver = tokio::spawn(ours_receive(rx, count, size, false, done.clone()));
            for _ in 0..count {
                tx.send_to("127.0.0.1", port, &msg).await.expect("send_to");
            }
            done.store(true, Ordering::Release);
            (count, receiver.await.expect("receiver"))
        }
        Variant::OursBatch => {
            let rx = ours_socket().await;
            let tx = ours_socket().await;
            let to = SocketAddr::from(([127, 0, 0, 1], rx.port()));
            let receiver = tokio::spawn(ours_receive(rx, count, size, true, done.clone()));
            let batch = vec![msg.clone(); BATCH];
            let mut sent = 0;
            while sent < count {
                sent += tx.send_many_to(to, &batch).await.expect("send_many_to");
            }
            done.store(true, Ordering::Release);
            (sent, receiver.await.expect("receiver"))
        }
    };
    let secs = last.saturating_duration_since(start).as_secs_f64();
    Run {
        sent,
        received,
        rate: if secs > 0.0 {
            received as f64 / secs
        } else {
            0.0
        },
    }
}

/// Receives until `count` came, or [`IDLE`] passed after the sender was
/// done; returns how many came and when the last one did.
async fn tokio_receive(
    rx: UdpSocket,
    count: usize,
    size: usize,
    done: Arc<AtomicBool>,
) -> (usize, Instant) {
    let mut buf = vec![0u8; 65_536];
    let mut got = 0;
    let mut last = Instant::now();
    while got < count {
        match tokio::time::timeout(IDLE, rx.recv_from(&mut buf)).await {
            Ok(r) => {
                let (n, _) = r.expect("recv_from");
                assert_eq!(n, size);
                got += 1;
                last = Instant::now();
            }
            Err(_) if done.load(Ordering::Acquire) => break,
            Err(_) => {}
        }
    }
    (got, last)
}

async fn ours_receive(
    rx: Socket,
    count: usize,
    size: usize,
    batched: bool,
    done: Arc<AtomicBool>,
) -> (usize, Instant) {
    rx.set_receive_timeout(Some(IDLE));
    let mut got = 0;
    let mut last = Instant::now();
    while got < count {
        let r = if batched {
            rx.receive_many(BATCH).await.map(|v| {
                assert!(v.iter().all(|d| d.data.len() == size));
                v.len()
            })
        } else {
            rx.receive_from(None).await.map(|d| {
                assert_eq!(d.data.len(), size);
                1
            })
        };
        match r {
            Ok(n) => {
                got += n;
                last = Instant::now();
            }
            Err(e) if e.is_timeout() && done.load(Ordering::Acquire) => break,
            Err(e) if e.is_timeout() => {}
            Err(e) => panic!("receive: {e}"),
        }
    }
    (got, last)
}
