//! A request/response UDP server in the shape of a DNS resolver: it reads
//! requests in batches (`receive_many`) and answers the whole batch, every
//! sender at once, in one call (`send_many`).
//!
//! ```text
//! cargo run --example udp_server                 # 127.0.0.1:5353
//! cargo run --example udp_server -- 127.0.0.1:0  # an ephemeral port
//! cargo run --example udp_server -- '[::1]:0'    # IPv6 loopback
//! ```
//!
//! A request is `ID NAME` (text); the answer is `ID NAME A ADDRESS` for the
//! names in a small table, `ID NAME NXDOMAIN` otherwise, and `ID ERROR` for
//! a request without a name. Try it with `nc -u 127.0.0.1 5353` and type
//! `1 localhost`.
//!
//! The first line on stdout is `listening on HOST:PORT` with the real port.
//! It runs until Ctrl-C or `SIGTERM`, then prints how many requests it
//! answered.

mod common;

use std::{io::Write, net::SocketAddr, process::ExitCode};

use blade_socket::{AF_INET, AF_INET6, Datagram, IPPROTO_UDP, SOCK_DGRAM, Socket};

/// Requests read per `receive_many` at most.
const BATCH: usize = 64;

/// The names this server knows.
const TABLE: &[(&str, &str)] = &[
    ("localhost", "127.0.0.1"),
    ("gateway.example", "192.0.2.1"),
    ("www.example", "192.0.2.80"),
];

#[tokio::main]
async fn main() -> ExitCode {
    common::serve_main("udp_server", "127.0.0.1:5353", serve).await
}

async fn serve(host: String, port: u16) -> Result<(), String> {
    let family = if host.contains(':') {
        AF_INET6
    } else {
        AF_INET
    };
    let mut socket =
        Socket::new(family, SOCK_DGRAM, IPPROTO_UDP).map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(port, Some(&host))
        .await
        .map_err(|e| format!("bind {}: {e}", common::show(&host, port)))?;
    println!(
        "listening on {}",
        common::show(&socket.host(), socket.port())
    );
    std::io::stdout()
        .flush()
        .map_err(|e| format!("stdout: {e}"))?;

    let mut answered = 0u64;
    let stop = common::shutdown_signal();
    tokio::pin!(stop);
    loop {
        let batch = tokio::select! {
            batch = socket.receive_many(BATCH) => batch,
            signal = &mut stop => {
                eprintln!("udp_server: {signal}: answered {answered} requests");
                println!("answered {answered}");
                return Ok(());
            }
        };
        let requests = match batch {
            Ok(requests) => requests,
            // Such as an ICMP error from an earlier answer's sender that has
            // gone (`Connection refused`): one peer's trouble, not the server's.
            Err(e) => {
                eprintln!("receive_many: {e}");
                continue;
            }
        };
        let replies: Vec<(SocketAddr, Vec<u8>)> = requests.iter().filter_map(answer).collect();
        match socket.send_many(&replies).await {
            Ok(n) => answered += n as u64,
            Err(e) => eprintln!("send_many: {e}"),
        }
    }
}

/// The reply to one request, to its sender (`None`: a sender that is not an
/// IP address, which a UDP socket never sees).
fn answer(request: &Datagram) -> Option<(SocketAddr, Vec<u8>)> {
    let to = request.sender()?;
    let text = String::from_utf8_lossy(&request.data);
    let mut words = text.split_whitespace();
    let reply = match (words.next(), words.next()) {
        (Some(id), Some(name)) => match TABLE.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, address)) => format!("{id} {name} A {address}"),
            None => format!("{id} {name} NXDOMAIN"),
        },
        (Some(id), None) => format!("{id} ERROR"),
        (None, _) => "ERROR".to_owned(),
    };
    Some((to, reply.into_bytes()))
}
