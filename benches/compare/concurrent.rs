//! Many connections at once, each doing 64-byte ping-pongs: total round
//! trips per second.
//!
//! The server (shared by both variants) is raw tokio: an acceptor that
//! spawns one echo task per connection. The client connects every socket
//! first, untimed; the clock then runs from spawning one task per connection
//! until the last task has finished its round trips.

use std::time::Instant;

use tokio::{net::TcpListener, task::JoinSet};

use crate::{
    Ctx,
    conn::{self, Addr, ours_async_connected, tokio_connected},
    harness::{self, PER_SECOND, PairResult, Sample},
    pingpong::{MSG, ours_round_trip, tokio_round_trip},
};

pub fn async_pair(ctx: &Ctx, name: &'static str) -> PairResult {
    let (conns, rounds) = (ctx.scale.concurrent_conns, ctx.scale.concurrent_rounds);
    let run = |ours: bool| {
        ctx.rt.block_on(async {
            let (listener, addr) = conn::tokio_listener();
            let server = tokio::spawn(echo_server(listener, conns, rounds));
            let client = if ours {
                tokio::spawn(ours_clients(addr, conns, rounds))
            } else {
                tokio::spawn(tokio_clients(addr, conns, rounds))
            };
            let sample = harness::within(client).await;
            harness::within(server).await;
            sample
        })
    };
    harness::compare(
        name,
        PER_SECOND,
        ctx.scale.reps,
        || run(true),
        || run(false),
    )
}

/// Accepts `conns` connections, echoes `rounds` messages on each, and
/// returns when every echo task has.
async fn echo_server(listener: TcpListener, conns: usize, rounds: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut echoes = JoinSet::new();
    for _ in 0..conns {
        let (mut conn, _) = listener.accept().await.expect("accept");
        conn.set_nodelay(true).expect("nodelay");
        echoes.spawn(async move {
            let mut buf = MSG;
            for _ in 0..rounds {
                conn.read_exact(&mut buf).await.expect("echo read");
                conn.write_all(&buf).await.expect("echo write");
            }
        });
    }
    while let Some(done) = echoes.join_next().await {
        done.expect("an echo task panicked");
    }
}

async fn ours_clients(addr: Addr, conns: usize, rounds: usize) -> Sample {
    let mut socks = Vec::with_capacity(conns);
    for _ in 0..conns {
        socks.push(ours_async_connected(addr).await);
    }
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for s in socks {
        clients.spawn(async move {
            for _ in 0..rounds {
                ours_round_trip(&s).await;
            }
        });
    }
    join_all(clients, conns * rounds, started).await
}

async fn tokio_clients(addr: Addr, conns: usize, rounds: usize) -> Sample {
    let mut socks = Vec::with_capacity(conns);
    for _ in 0..conns {
        socks.push(tokio_connected(addr).await);
    }
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for mut s in socks {
        clients.spawn(async move {
            for _ in 0..rounds {
                tokio_round_trip(&mut s).await;
            }
        });
    }
    join_all(clients, conns * rounds, started).await
}

/// Waits for every client task; `total` round trips since `started`.
async fn join_all(mut clients: JoinSet<()>, total: usize, started: Instant) -> Sample {
    while let Some(done) = clients.join_next().await {
        done.expect("a client task panicked");
    }
    Sample::rate(total as f64, started.elapsed())
}
