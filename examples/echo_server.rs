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

use std::{process::ExitCode, time::Duration};

use blade_socket::Socket;

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
    let listener = common::listen(&host, port).await?;

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
