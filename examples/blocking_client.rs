//! A synchronous echo client on `blade_socket::blocking::Socket`: no async,
//! no runtime to set up.
//!
//! ```text
//! cargo run --example blocking_client -- [HOST [PORT [MESSAGE...]]]
//! cargo run --example blocking_client -- 127.0.0.1 7878 hello there
//! printf 'one\ntwo\n' | cargo run --example blocking_client -- 127.0.0.1 7878
//! ```
//!
//! HOST and PORT default to 127.0.0.1 and 7878. With a message, sends it and
//! prints the echo; without one, sends each line of stdin and prints its echo.

use std::{io::BufRead, process::ExitCode, time::Duration};

use blade_socket::{AF_INET, AF_INET6, IPPROTO_TCP, SHUT_WR, SOCK_STREAM, blocking::Socket};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blocking_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1".to_owned());
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = match args.next() {
        Some(p) => p
            .parse::<u16>()
            .map_err(|e| format!("bad port {p:?}: {e}"))?,
        None => 7878,
    };
    let message: Vec<String> = args.collect();

    let family = if host.contains(':') {
        AF_INET6
    } else {
        AF_INET
    };
    let mut sock =
        Socket::new(family, SOCK_STREAM, IPPROTO_TCP).map_err(|e| format!("socket: {e}"))?;
    sock.connect(Some(&host), port, Some(Duration::from_secs(10)))
        .map_err(|e| format!("connect to {host} port {port}: {e}"))?;
    sock.set_nodelay(true)
        .map_err(|e| format!("nodelay: {e}"))?;
    sock.set_receive_timeout(Some(Duration::from_secs(10)));

    if message.is_empty() {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| format!("stdin: {e}"))?;
            let echo = round_trip(&sock, format!("{line}\n").as_bytes())?;
            print!("{echo}");
        }
    } else {
        let echo = round_trip(&sock, message.join(" ").as_bytes())?;
        println!("{echo}");
    }

    // Tell the server we are done; it closes its side, and we see end of file.
    sock.shutdown(SHUT_WR)
        .map_err(|e| format!("shutdown: {e}"))?;
    match sock.receive(None) {
        Ok(None) => Ok(()),
        Ok(Some(extra)) => Err(format!("unexpected bytes after the echo: {extra:?}")),
        Err(e) => Err(format!("receive: {e}")),
    }
}

/// Sends `data` and receives exactly as many bytes back.
fn round_trip(sock: &Socket, data: &[u8]) -> Result<String, String> {
    sock.send(data).map_err(|e| format!("send: {e}"))?;
    let mut echo = Vec::with_capacity(data.len());
    while echo.len() < data.len() {
        match sock.receive(Some(data.len() - echo.len())) {
            Ok(Some(bytes)) => echo.extend_from_slice(&bytes),
            Ok(None) => return Err("the server closed the connection".to_owned()),
            Err(e) => return Err(format!("receive: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&echo).into_owned())
}
