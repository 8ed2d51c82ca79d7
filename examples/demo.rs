//! A tour of `blade-socket` on the loopback interface.
//!
//! ```text
//! cargo run --release --example demo
//! ```
//!
//! Starts an async echo server on an ephemeral port of 127.0.0.1, then:
//! an async client and a blocking client (on a plain thread) exchange data
//! with it; a receive timeout on a connection where the server never writes;
//! a half-close (send, `shutdown(SHUT_WR)`, read the echo, then end of file);
//! and a refused connection reported as an error value. One line per step;
//! exits 0 when every step passed, non-zero (with the error) otherwise.

use std::{
    fmt::Display,
    process::ExitCode,
    time::{Duration, Instant},
};

use blade_socket::{ErrorKind, IP_LOCAL, SHUT_WR, Shutdown, Socket, blocking};

/// Every step's error is a readable line.
type Step<T = ()> = Result<T, String>;

/// Attaches what was being done to an error.
trait Context<T> {
    fn context(self, what: &str) -> Step<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Step<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// Fails with `msg` unless `cond` holds.
fn ensure(cond: bool, msg: impl Into<String>) -> Step {
    if cond { Ok(()) } else { Err(msg.into()) }
}

/// A safety net for every wait in the demo: nothing here should take long.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let failure = match tokio::time::timeout(Duration::from_secs(20), run()).await {
        Ok(Ok(())) => {
            println!("all steps passed in {} ms", started.elapsed().as_millis());
            return ExitCode::SUCCESS;
        }
        Ok(Err(e)) => e,
        Err(_) => "the demo did not finish within 20 s".to_owned(),
    };
    println!("[FAIL] {failure}");
    // Exit at once: dropping the runtime would wait for a stuck blocking thread.
    std::process::exit(1);
}

async fn run() -> Step {
    let port = start_echo_server().await?;
    println!("[ok] echo server: listening on {IP_LOCAL}:{port}");

    async_client(port).await?;
    blocking_client(port).await?;
    receive_timeout().await?;
    half_close(port).await?;
    refused().await?;
    Ok(())
}

/// Binds an ephemeral loopback port, listens, and spawns the accept loop.
async fn start_echo_server() -> Step<u16> {
    let mut listener = Socket::tcp().context("echo server: socket")?;
    listener
        .bind(0, Some(IP_LOCAL))
        .await
        .context("echo server: bind")?;
    listener.listen(None).context("echo server: listen")?;
    let port = listener.port();
    ensure(port != 0, "echo server: bind reported port 0")?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok(conn) => {
                    tokio::spawn(echo(conn));
                }
                Err(e) => {
                    println!("[FAIL] echo server: accept: {e}");
                    return;
                }
            }
        }
    });
    Ok(port)
}

/// Echoes one connection until the peer's end of file (or an error), then
/// drops it, which closes it.
async fn echo(conn: Socket) {
    while let Ok(Some(data)) = conn.receive(None).await {
        if conn.send(&data).await.is_err() {
            break;
        }
    }
}

/// Receives until `expected.len()` bytes have arrived and checks them.
async fn receive_echo(sock: &Socket, expected: &[u8], who: &str) -> Step {
    let mut got = Vec::with_capacity(expected.len());
    while got.len() < expected.len() {
        match sock
            .receive(Some(expected.len() - got.len()))
            .await
            .context(&format!("{who}: receive"))?
        {
            Some(bytes) => got.extend_from_slice(&bytes),
            None => {
                return Err(format!(
                    "{who}: end of file after {} of {} bytes",
                    got.len(),
                    expected.len()
                ));
            }
        }
    }
    ensure(
        got == expected,
        format!(
            "{who}: echo mismatch: sent {:?}, got {:?}",
            String::from_utf8_lossy(expected),
            String::from_utf8_lossy(&got)
        ),
    )
}

/// An async client: connect, send, read the echo back.
async fn async_client(port: u16) -> Step {
    const WHO: &str = "async client";
    let mut sock = Socket::tcp().context(WHO)?;
    sock.connect(Some(IP_LOCAL), port, Some(STEP_TIMEOUT))
        .await
        .context(&format!("{WHO}: connect"))?;
    sock.set_nodelay(true).context(WHO)?;
    sock.set_receive_timeout(Some(STEP_TIMEOUT));
    ensure(
        sock.is_client() && sock.is_connected(),
        format!("{WHO}: not connected after connect: {sock:?}"),
    )?;

    let message = b"Hello, Blade!";
    let sent = sock.send(message).await.context(&format!("{WHO}: send"))?;
    ensure(sent == message.len(), format!("{WHO}: sent {sent} bytes"))?;
    receive_echo(&sock, message, WHO).await?;
    println!("[ok] {WHO}: sent {sent} bytes, echo verified");
    Ok(())
}

/// A blocking client on a plain thread (`blade_socket::blocking::Socket`).
async fn blocking_client(port: u16) -> Step {
    const WHO: &str = "blocking client";
    let thread = std::thread::spawn(move || -> Step<usize> {
        let mut sock = blocking::Socket::tcp().context(WHO)?;
        sock.connect(Some(IP_LOCAL), port, Some(STEP_TIMEOUT))
            .context(&format!("{WHO}: connect"))?;
        sock.set_receive_timeout(Some(STEP_TIMEOUT));
        // Binary data, several lines: all of it comes back, byte for byte.
        let message: Vec<u8> = (0..=255u8)
            .chain(b"line one\nline two\n".iter().copied())
            .collect();
        let sent = sock.send(&message).context(&format!("{WHO}: send"))?;
        ensure(sent == message.len(), format!("{WHO}: sent {sent} bytes"))?;
        let mut got = Vec::new();
        while got.len() < message.len() {
            match sock.receive(None).context(&format!("{WHO}: receive"))? {
                Some(bytes) => got.extend_from_slice(&bytes),
                None => return Err(format!("{WHO}: end of file after {} bytes", got.len())),
            }
        }
        ensure(got == message, format!("{WHO}: echo mismatch"))?;
        sock.close().context(&format!("{WHO}: close"))?;
        Ok(sent)
    });
    let sent = tokio::task::spawn_blocking(move || thread.join())
        .await
        .map_err(|e| format!("{WHO}: {e}"))?
        .map_err(|_| format!("{WHO}: the thread panicked"))??;
    println!("[ok] {WHO}: sent {sent} bytes from a std::thread, echo verified");
    Ok(())
}

/// A receive with a short timeout where the server never writes.
async fn receive_timeout() -> Step {
    const WHO: &str = "timeout";
    // A second listener that accepts and keeps each connection open, silent.
    let mut silent = Socket::tcp().context(WHO)?;
    silent
        .bind(0, Some(IP_LOCAL))
        .await
        .context(&format!("{WHO}: bind"))?;
    silent.listen(None).context(&format!("{WHO}: listen"))?;
    let port = silent.port();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let conn = silent.accept().await;
        let _ = held_rx.await; // hold the connection, never write
        drop(conn);
    });

    let mut sock = Socket::tcp().context(WHO)?;
    sock.connect(Some(IP_LOCAL), port, Some(STEP_TIMEOUT))
        .await
        .context(&format!("{WHO}: connect"))?;
    let limit = Duration::from_millis(150);
    sock.set_receive_timeout(Some(limit));
    let t0 = Instant::now();
    let result = sock.receive(None).await;
    let waited = t0.elapsed();
    let err = match result {
        Err(e) => e,
        Ok(data) => return Err(format!("{WHO}: expected a timeout, got {data:?}")),
    };
    ensure(
        err.kind() == ErrorKind::TimedOut && err.is_timeout(),
        format!("{WHO}: expected TimedOut, got {err:?}"),
    )?;
    ensure(
        waited >= limit,
        format!("{WHO}: gave up after {waited:?}, before {limit:?}"),
    )?;
    ensure(
        !sock.is_closed() && sock.is_connected(),
        format!("{WHO}: socket not usable after the timeout: {sock:?}"),
    )?;
    // Still usable: it can send.
    let sent = sock
        .send("still here")
        .await
        .context(&format!("{WHO}: send after the timeout"))?;
    println!(
        "[ok] {WHO}: receive gave up after {} ms with {:?} \"{err}\"; socket still connected, then sent {sent} bytes",
        waited.as_millis(),
        err.kind()
    );
    let _ = held_tx.send(());
    server.await.context(&format!("{WHO}: silent server"))?;
    Ok(())
}

/// Send, shut the write side, still read the echo, then end of file.
async fn half_close(port: u16) -> Step {
    const WHO: &str = "half-close";
    let mut sock = Socket::tcp().context(WHO)?;
    sock.connect(Some(IP_LOCAL), port, Some(STEP_TIMEOUT))
        .await
        .context(&format!("{WHO}: connect"))?;
    sock.set_receive_timeout(Some(STEP_TIMEOUT));
    let message = b"last words before EOF";
    let sent = sock.send(message).await.context(&format!("{WHO}: send"))?;
    sock.shutdown(SHUT_WR)
        .context(&format!("{WHO}: shutdown(SHUT_WR)"))?;
    ensure(
        sock.shutdown_reason() == Some(Shutdown::Write) && sock.is_connected(),
        format!("{WHO}: unexpected state after shutdown(SHUT_WR): {sock:?}"),
    )?;
    // Sending is now refused, as a value.
    match sock.send("too late").await {
        Err(e) if e.kind() == ErrorKind::IllegalState => {}
        other => return Err(format!("{WHO}: send after SHUT_WR gave {other:?}")),
    }
    receive_echo(&sock, message, WHO).await?;
    match sock
        .receive(None)
        .await
        .context(&format!("{WHO}: receive"))?
    {
        None => {}
        Some(extra) => return Err(format!("{WHO}: expected end of file, got {extra:?}")),
    }
    ensure(
        !sock.is_closed(),
        format!("{WHO}: end of file closed the socket: {sock:?}"),
    )?;
    println!(
        "[ok] {WHO}: sent {sent} bytes, shutdown(SHUT_WR), echo verified, then Ok(None) at end of file"
    );
    sock.close().context(&format!("{WHO}: close"))?;
    Ok(())
}

/// Connecting to a port nobody listens on: an error value, not -1.
async fn refused() -> Step {
    const WHO: &str = "refused";
    // Find a free port: bind an ephemeral one, then release it.
    let port = {
        let mut probe = Socket::tcp().context(WHO)?;
        probe
            .bind(0, Some(IP_LOCAL))
            .await
            .context(&format!("{WHO}: bind"))?;
        probe.port()
    };
    let mut sock = Socket::tcp().context(WHO)?;
    match sock.connect(Some(IP_LOCAL), port, Some(STEP_TIMEOUT)).await {
        Err(e) => {
            ensure(
                sock.is_closed(),
                format!("{WHO}: a failed connect should close the socket: {sock:?}"),
            )?;
            println!(
                "[ok] {WHO}: connect to port {port} failed with {:?} \"{e}\" (errno {}); socket closed",
                e.kind(),
                e.raw_os_error().map_or("-".into(), |n| n.to_string())
            );
            Ok(())
        }
        Ok(()) => Err(format!(
            "{WHO}: connect to unused port {port} unexpectedly succeeded"
        )),
    }
}
