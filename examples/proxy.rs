//! A TCP port forwarder on `copy_bidirectional`: every connection accepted
//! on LISTEN is joined to a new connection to UPSTREAM, and bytes move both
//! ways inside the kernel (`splice(2)`) until both sides are done.
//!
//! ```text
//! cargo run --example proxy                                   # 127.0.0.1:8081 -> 127.0.0.1:8080
//! cargo run --example proxy -- 127.0.0.1:0 127.0.0.1:8080     # an ephemeral listening port
//! cargo run --example proxy -- 127.0.0.1:8081 10.0.0.5:80 --idle 300
//! curl http://127.0.0.1:8081/
//! ```
//!
//! The first line on stdout is `listening on HOST:PORT` with the real port;
//! each connection's end is one line on stderr with its byte counts. A
//! connection whose upstream cannot be reached within 5 s, or whose copy
//! fails (a reset, the idle limit), is aborted (a reset, so the client
//! knows at once that the transfer did not complete) rather than closed.
//! Half-close travels: a client that shuts its write side lets the upstream
//! see end of file and still answer. Ctrl-C (or `SIGTERM`) stops accepting
//! and exits 0; connections in flight are cut.

mod common;

use std::{process::ExitCode, time::Duration};

use blade_socket::{Socket, copy_bidirectional};

const USAGE: &str = "usage: proxy [LISTEN [UPSTREAM]] [--idle SECONDS]\n\
     (defaults: 127.0.0.1:8081, 127.0.0.1:8080, 60 s; port 0: an ephemeral one)";
/// How long connecting to the upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

struct Args {
    listen: (String, u16),
    upstream: (String, u16),
    idle: Duration,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut addresses = Vec::new();
    let mut idle = Duration::from_secs(60);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--idle" => {
                let v = args.next().ok_or("--idle needs a number of seconds")?;
                let secs: f64 = v.parse().map_err(|e| format!("bad --idle {v:?}: {e}"))?;
                idle = Duration::try_from_secs_f64(secs)
                    .map_err(|e| format!("bad --idle {v:?}: {e}"))?;
            }
            _ => addresses.push(a),
        }
    }
    let (listen, upstream) = match addresses.as_slice() {
        [] => ("127.0.0.1:8081", "127.0.0.1:8080"),
        [l] => (l.as_str(), "127.0.0.1:8080"),
        [l, u] => (l.as_str(), u.as_str()),
        _ => return Err("too many arguments".into()),
    };
    Ok(Some(Args {
        listen: common::parse_address(listen)?,
        upstream: common::parse_address(upstream)?,
        idle,
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("proxy: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match common::listen(&args.listen.0, args.listen.1).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("proxy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let upstream = std::sync::Arc::new(args.upstream);
    let mut signal = std::pin::pin!(common::shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(client) => {
                    tokio::spawn(forward(client, std::sync::Arc::clone(&upstream), args.idle));
                }
                Err(e) => {
                    // Such as `Too many open files`: report, breathe, carry on.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            why = &mut signal => {
                eprintln!("proxy: {why}: stopping");
                return ExitCode::SUCCESS;
            }
        }
    }
}

/// Joins one client to a new upstream connection.
async fn forward(mut client: Socket, upstream: std::sync::Arc<(String, u16)>, idle: Duration) {
    let from = common::show(&client.host(), client.port());
    let (host, port) = (&upstream.0, upstream.1);
    let family = if host.contains(':') {
        blade_socket::AF_INET6
    } else {
        blade_socket::AF_INET
    };
    let connected = async {
        let mut up = Socket::new(family, blade_socket::SOCK_STREAM, blade_socket::IPPROTO_TCP)?;
        up.connect(Some(host), port, Some(CONNECT_TIMEOUT)).await?;
        Ok::<_, blade_socket::SocketError>(up)
    };
    let mut up = match connected.await {
        Ok(up) => up,
        Err(e) => {
            eprintln!("{from}: upstream {}: {e}", common::show(host, port));
            let _ = client.abort();
            return;
        }
    };
    match copy_bidirectional(&client, &up, Some(idle)).await {
        Ok((sent, received)) => {
            eprintln!("{from}: done, {sent} bytes up, {received} bytes down");
        }
        Err(e) => {
            eprintln!("{from}: {e}");
            let _ = client.abort();
            let _ = up.abort();
        }
    }
}
