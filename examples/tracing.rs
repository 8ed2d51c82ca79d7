//! The crate's `tracing` events, printed by `tracing-subscriber`: a small
//! echo exchange, a receive timeout and a refused connect, all on loopback.
//!
//! ```text
//! cargo run --example tracing                            # blade_socket=trace
//! RUST_LOG=blade_socket=debug cargo run --example tracing  # failures and set-up only
//! ```
//!
//! Each event carries the socket's `fd` and `family`; connections add the
//! `local` and `peer` addresses; operations add `op`, `bytes`, `micros` and
//! `outcome` (`ok`, `timeout`, `would block`, `error`). Payload bytes are
//! never logged: the message below appears only in this program's own output.

use std::{process::ExitCode, time::Duration};

use blade_socket::Socket;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("blade_socket=trace"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracing example failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> blade_socket::Result<()> {
    // An echo server on 127.0.0.1, an ephemeral port.
    let mut server = Socket::tcp()?;
    server.bind(0, None).await?;
    server.listen(None)?;
    let port = server.port();
    let echo = tokio::spawn(async move {
        let conn = server.accept().await?;
        while let Some(data) = conn.receive(None).await? {
            conn.send(&data).await?;
        }
        Ok::<_, blade_socket::SocketError>(())
    });

    // 1. An echo exchange: connected/accepted, then send and receive with
    //    byte counts and durations.
    let mut client = Socket::tcp()?;
    client.set_nodelay(true)?;
    client
        .connect(None, port, Some(Duration::from_secs(5)))
        .await?;
    let message = "hello, tracing";
    client.send(message).await?;
    let mut echoed = Vec::new();
    while echoed.len() < message.len() {
        match client.receive(None).await? {
            Some(bytes) => echoed.extend_from_slice(&bytes),
            None => break,
        }
    }
    println!("echoed: {}", String::from_utf8_lossy(&echoed));

    // 2. A receive timeout: outcome = "timeout" with its duration.
    client.set_receive_timeout(Some(Duration::from_millis(100)));
    match client.receive(None).await {
        Err(e) if e.is_timeout() => println!("receive: {e}"),
        other => println!("receive: unexpected {other:?}"),
    }

    // 3. Close gracefully; the server sees end of file and ends.
    client.close_graceful(Some(Duration::from_secs(5))).await?;
    echo.await
        .map_err(|e| std::io::Error::other(e.to_string()))??;

    // 4. A refused connect: a loopback port with nothing listening.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let mut refused = Socket::tcp()?;
    match refused
        .connect(None, closed_port, Some(Duration::from_secs(5)))
        .await
    {
        Err(e) => println!("connect: {e}"),
        Ok(()) => println!("connect: unexpectedly connected"),
    }
    Ok(())
}
