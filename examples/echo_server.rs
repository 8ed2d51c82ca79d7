//! An async echo server: every connection gets its bytes back until it closes.
//!
//! ```text
//! cargo run --example echo_server                 # 127.0.0.1:7878
//! cargo run --example echo_server -- 127.0.0.1:0  # an ephemeral port
//! cargo run --example echo_server -- '[::1]:0'    # IPv6 loopback
//! ```
//!
//! The first line on stdout is `listening on HOST:PORT` with the real port;
//! connections are logged on stderr. Runs until killed.

mod common;

use common::{parse_address, show};

use std::{io::Write, process::ExitCode, time::Duration};

use blade_socket::{AF_INET, AF_INET6, IPPROTO_TCP, SO_REUSEADDR, SOCK_STREAM, Socket};

const DEFAULT_ADDRESS: &str = "127.0.0.1:7878";

#[tokio::main]
async fn main() -> ExitCode {
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let arg = std::env::args().nth(1);
    let (host, port) = parse_address(arg.as_deref().unwrap_or(DEFAULT_ADDRESS))?;
    let family = if host.contains(':') {
        AF_INET6
    } else {
        AF_INET
    };

    let mut listener =
        Socket::new(family, SOCK_STREAM, IPPROTO_TCP).map_err(|e| format!("socket: {e}"))?;
    listener
        .set_option(SO_REUSEADDR, true)
        .map_err(|e| format!("SO_REUSEADDR: {e}"))?;
    listener
        .bind(port, Some(&host))
        .await
        .map_err(|e| format!("bind {}: {e}", show(&host, port)))?;
    listener.listen(None).map_err(|e| format!("listen: {e}"))?;

    println!("listening on {}", show(&listener.host(), listener.port()));
    std::io::stdout()
        .flush()
        .map_err(|e| format!("stdout: {e}"))?;

    loop {
        match listener.accept().await {
            Ok(conn) => {
                tokio::spawn(echo(conn));
            }
            Err(e) => {
                // Such as `Too many open files`: report, breathe, carry on.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Echoes one connection until the peer's end of file, then closes it.
async fn echo(mut conn: Socket) {
    let peer = show(&conn.host(), conn.port());
    eprintln!("{peer}: connected");
    let _ = conn.set_nodelay(true);
    let mut total = 0usize;
    let outcome = loop {
        match conn.receive(None).await {
            Ok(Some(data)) => match conn.send(&data).await {
                Ok(n) => total += n,
                Err(e) => break format!("send failed: {e}"),
            },
            Ok(None) => break "closed".to_owned(),
            Err(e) => break format!("receive failed: {e}"),
        }
    };
    let _ = conn.close();
    eprintln!("{peer}: {outcome} after echoing {total} bytes");
}
