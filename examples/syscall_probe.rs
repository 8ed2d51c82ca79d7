//! 64-byte ping-pong against a `std::net` echo thread, through either the
//! blocking facade or `std::net`, for counting syscalls per round trip:
//!
//! ```text
//! cargo build --release --example syscall_probe
//! strace -f -c -o std.txt  target/release/examples/syscall_probe std 5000
//! strace -f -c -o ours.txt target/release/examples/syscall_probe ours 5000
//! ```
//!
//! Both runs share the same server, so the difference in totals divided by
//! the round-trip count is the client's extra cost. It also prints a rate,
//! which is not a benchmark (`cargo bench --bench compare` is; its `-- --strace`
//! counts syscalls too): run-to-run noise here is large.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    time::Instant,
};

const MSG: [u8; 64] = [7; 64];

/// A std echo server on an ephemeral loopback port; returns the port.
fn echo_server() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let _ = conn.set_nodelay(true);
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

fn run_std(port: u16, rounds: usize) -> std::io::Result<()> {
    let mut c = TcpStream::connect(("127.0.0.1", port))?;
    c.set_nodelay(true)?;
    let mut buf = [0u8; 64];
    for _ in 0..rounds {
        c.write_all(&MSG)?;
        c.read_exact(&mut buf)?;
    }
    Ok(())
}

fn run_ours(port: u16, rounds: usize) -> blade_socket::Result<()> {
    let mut c = blade_socket::blocking::Socket::tcp()?;
    c.connect(None, port, None)?;
    c.set_nodelay(true)?;
    for _ in 0..rounds {
        c.send(MSG)?;
        let mut got = 0;
        while got < MSG.len() {
            match c.receive(Some(MSG.len() - got))? {
                Some(b) => got += b.len(),
                None => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
            }
        }
    }
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "ours".to_owned());
    let rounds: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000)
        .min(1_000_000);
    let result = echo_server()
        .map_err(blade_socket::SocketError::from)
        .and_then(|port| {
            let t = Instant::now();
            match which.as_str() {
                "std" => run_std(port, rounds).map_err(Into::into),
                _ => run_ours(port, rounds),
            }
            .map(|()| t.elapsed())
        });
    match result {
        Ok(el) => println!("{which}: {rounds} round trips in {el:?}"),
        Err(e) => {
            eprintln!("syscall_probe: {e}");
            std::process::exit(1);
        }
    }
}
