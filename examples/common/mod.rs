//! Helpers shared by the examples (not an example itself: cargo only builds
//! `examples/*.rs` and `examples/*/main.rs`).

/// Splits `HOST:PORT` or `[IPV6]:PORT` into its parts.
pub fn parse_address(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        rest.split_once("]:")
            .ok_or_else(|| format!("expected [HOST]:PORT, got {text:?}"))?
    } else {
        text.rsplit_once(':')
            .ok_or_else(|| format!("expected HOST:PORT, got {text:?}"))?
    };
    let port = port
        .parse::<u16>()
        .map_err(|e| format!("bad port {port:?}: {e}"))?;
    Ok((host.to_owned(), port))
}

/// The `main` of a server example taking one optional `HOST:PORT`
/// (`default` without it): prints usage for `-h`/`--help`, refuses other
/// arguments (exit 2), runs `serve` and turns its error into exit 1.
#[allow(dead_code)] // for the servers with one address argument
pub async fn serve_main<F, Fut>(name: &str, default: &str, serve: F) -> std::process::ExitCode
where
    F: FnOnce(String, u16) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    use std::process::ExitCode;
    let usage =
        format!("usage: {name} [HOST:PORT]   (default {default}; port 0: an ephemeral one)");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let address = match args.as_slice() {
        [] => default,
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        [address] => address.as_str(),
        _ => {
            eprintln!("{name}: too many arguments\n{usage}");
            return ExitCode::from(2);
        }
    };
    let (host, port) = match parse_address(address) {
        Ok(parts) => parts,
        Err(e) => {
            eprintln!("{name}: {e}\n{usage}");
            return ExitCode::from(2);
        }
    };
    match serve(host, port).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `[::1]:80` for IPv6, `127.0.0.1:80` otherwise.
pub fn show(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A listening TCP socket on `host`:`port`, after printing `listening on
/// HOST:PORT` with the real port as the first line. (A restarted server binds
/// at once despite connections in TIME_WAIT: `bind` sets `SO_REUSEADDR` on
/// TCP sockets by itself.)
#[allow(dead_code)] // netcat listens through the blocking facade instead
pub async fn listen(host: &str, port: u16) -> Result<blade_socket::Socket, String> {
    use blade_socket::{AF_INET, AF_INET6, IPPROTO_TCP, SOCK_STREAM, Socket};
    use std::io::Write;
    let family = if host.contains(':') {
        AF_INET6
    } else {
        AF_INET
    };
    let mut listener =
        Socket::new(family, SOCK_STREAM, IPPROTO_TCP).map_err(|e| format!("socket: {e}"))?;
    listener
        .bind(port, Some(host))
        .await
        .map_err(|e| format!("bind {}: {e}", show(host, port)))?;
    listener.listen(None).map_err(|e| format!("listen: {e}"))?;
    println!("listening on {}", show(&listener.host(), listener.port()));
    std::io::stdout()
        .flush()
        .map_err(|e| format!("stdout: {e}"))?;
    Ok(listener)
}

/// Resolves on Ctrl-C or `SIGTERM`, naming which. A signal that cannot be
/// watched is simply never seen.
#[allow(dead_code)] // for the servers that stop gracefully
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => "interrupt",
        () = terminate => "terminate",
    }
}
