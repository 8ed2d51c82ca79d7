//! A small netcat on the blocking facade: connect or listen, TCP or UDP;
//! stdin goes to the socket and the socket to stdout, as raw bytes.
//!
//! ```text
//! cargo run --example netcat -- [-l] [-u] [-w SECS] HOST:PORT
//! cargo run --example netcat -- -l 127.0.0.1:0      # listen; prints the port
//! cargo run --example netcat -- 127.0.0.1:PORT      # in another terminal
//! cargo run --example netcat -- -u -l '[::1]:9000'  # UDP over IPv6
//! printf 'GET / HTTP/1.0\r\n\r\n' | cargo run --example netcat -- 127.0.0.1:8080
//! ```
//!
//! - Connect mode (the default) connects to HOST:PORT. Listen mode (`-l`)
//!   binds it (port 0: an ephemeral one), prints `listening on HOST:PORT`
//!   with the real port as the first line on stdout, and serves one peer:
//!   the first connection (TCP), or the sender of the first datagram (UDP),
//!   which it then talks to alone, as `nc -u -l` does.
//! - TCP (the default): at stdin's end the write side is shut
//!   (`shutdown(SHUT_WR)`), so the peer reads end of file and can still
//!   answer; netcat exits 0 when the peer closes.
//! - UDP (`-u`): each read from stdin goes out as one datagram, and each
//!   datagram received is written to stdout. UDP has no end of file: netcat
//!   runs until killed, or until `-w`.
//! - `-w SECS` (fractions allowed) bounds the wait for the connection or the
//!   first datagram, and ends the session (exit 0) after SECS seconds with
//!   nothing received.
//!
//! Exit status: 0 when the session ends normally, 1 on an error, 2 on a
//! usage error.

mod common;

use common::{parse_address, show};

use std::{
    io::{Read, Write},
    process::ExitCode,
    sync::mpsc,
    thread,
    time::Duration,
};

use blade_socket::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SHUT_WR, SO_REUSEADDR, SOCK_DGRAM, SOCK_STREAM,
    SocketError, blocking::Socket,
};

const USAGE: &str = "usage: netcat [-l] [-u] [-w SECS] HOST:PORT
  -l       listen on HOST:PORT (port 0: an ephemeral one) instead of connecting
  -u       UDP instead of TCP
  -w SECS  give up waiting for a peer, and end the session, after SECS seconds idle";

/// The most bytes read from stdin at once: one datagram under UDP, so below
/// the 65,507-byte limit of a UDP payload over IPv4.
const CHUNK: usize = 16 * 1024;

/// What the command line asks for.
#[derive(Debug)]
struct Options {
    listen: bool,
    udp: bool,
    wait: Option<Duration>,
    host: String,
    port: u16,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("netcat: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netcat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the arguments; `Ok(None)` asks for help.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let (mut listen, mut udp, mut wait, mut address) = (false, false, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            flags if flags.starts_with('-') && flags.len() > 1 => {
                // Single-letter flags, combinable: `-lu`; `w` takes the next argument.
                for flag in flags.chars().skip(1) {
                    match flag {
                        'l' => listen = true,
                        'u' => udp = true,
                        'w' => {
                            let secs = args.next().ok_or("-w needs a number of seconds")?;
                            wait = Some(
                                secs.parse::<f64>()
                                    .ok()
                                    .filter(|s| *s > 0.0)
                                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                                    .ok_or(format!("bad number of seconds {secs:?}"))?,
                            );
                        }
                        other => return Err(format!("unknown option -{other}")),
                    }
                }
            }
            _ if address.is_some() => return Err(format!("unexpected argument {arg:?}")),
            _ => address = Some(arg),
        }
    }
    let address = address.ok_or("missing HOST:PORT")?;
    let (host, port) = parse_address(&address)?;
    if port == 0 && !listen {
        return Err("cannot connect to port 0".to_owned());
    }
    Ok(Some(Options {
        listen,
        udp,
        wait,
        host,
        port,
    }))
}

fn run(o: &Options) -> Result<(), String> {
    let family = if o.host.contains(':') {
        AF_INET6
    } else {
        AF_INET
    };
    let (ty, protocol) = if o.udp {
        (SOCK_DGRAM, IPPROTO_UDP)
    } else {
        (SOCK_STREAM, IPPROTO_TCP)
    };
    let mut sock = Socket::new(family, ty, protocol).map_err(|e| format!("socket: {e}"))?;
    // Bounds `accept` and the first datagram's wait (a `connect` has its own).
    sock.set_receive_timeout(o.wait);

    if o.listen {
        sock.set_option(SO_REUSEADDR, true)
            .map_err(|e| format!("SO_REUSEADDR: {e}"))?;
        sock.bind(o.port, Some(&o.host))
            .map_err(|e| format!("bind {}: {e}", show(&o.host, o.port)))?;
        if !o.udp {
            sock.listen(Some(1)).map_err(|e| format!("listen: {e}"))?;
        }
        println!("listening on {}", show(&sock.host(), sock.port()));
        std::io::stdout()
            .flush()
            .map_err(|e| format!("stdout: {e}"))?;
        sock = if o.udp {
            first_peer(sock)?
        } else {
            // One connection; dropping the listener then refuses the rest.
            sock.accept().map_err(|e| format!("accept: {e}"))?
        };
        eprintln!("netcat: talking to {}", show(&sock.host(), sock.port()));
    } else {
        sock.connect(Some(&o.host), o.port, o.wait)
            .map_err(|e| format!("connect to {}: {e}", show(&o.host, o.port)))?;
    }

    relay(sock, o.wait)
}

/// UDP listen mode: waits for the first datagram, writes it to stdout, and
/// connects the socket to its sender, so that peer is the only one heard
/// from and the one stdin goes to.
fn first_peer(mut sock: Socket) -> Result<Socket, String> {
    let first = sock
        .receive_from(None)
        .map_err(|e| format!("receive: {e}"))?;
    write_stdout(&first.data)?;
    sock.connect(Some(&first.host), first.port, None)
        .map_err(|e| format!("connect to {}: {e}", show(&first.host, first.port)))?;
    Ok(sock)
}

/// How one direction of the relay ended.
enum Event {
    /// stdin reached its end (and, under TCP, the write side is shut).
    StdinDone,
    /// The peer closed, or nothing arrived within `-w`.
    PeerDone,
    /// Either direction failed.
    Failed(String),
}

/// stdin to the socket on one thread, the socket to stdout on another,
/// until the peer is done (or a direction fails). Returning ends the
/// process, and with it a thread still blocked reading stdin.
fn relay(sock: Socket, idle: Option<Duration>) -> Result<(), String> {
    let stream = sock.socket_type() == SOCK_STREAM;
    // The writer shuts its direction at stdin's end while the reader is
    // still receiving, but `shutdown` takes `&mut self`: so each thread
    // gets its own handle on the connection.
    let (writer, reader) = split(sock).map_err(|e| format!("dup: {e}"))?;
    reader.set_receive_timeout(idle);
    let (events, event) = mpsc::channel();

    let to_socket = events.clone();
    thread::spawn(move || {
        let mut outcome = copy_stdin(|chunk| writer.send(chunk).map(drop));
        // A TCP peer reads end of file, and can still answer. (UDP has no
        // end of file to send.)
        if outcome.is_ok() && stream {
            outcome = writer
                .shutdown(SHUT_WR)
                .map_err(|e| format!("shutdown: {e}"));
        }
        let _ = to_socket.send(outcome.map_or_else(Event::Failed, |()| Event::StdinDone));
    });
    thread::spawn(move || {
        let _ = events.send(copy_socket(&reader));
    });

    loop {
        match event.recv() {
            Ok(Event::StdinDone) => {} // keep printing what the peer sends
            Ok(Event::PeerDone) => return Ok(()),
            Ok(Event::Failed(e)) => return Err(e),
            Err(mpsc::RecvError) => return Err("both directions stopped".to_owned()),
        }
    }
}

/// Two handles on one socket: the original and a duplicate of its
/// descriptor (`dup(2)`, as `TcpStream::try_clone` does).
fn split(sock: Socket) -> blade_socket::Result<(Socket, Socket)> {
    let twin = sock.try_clone()?;
    Ok((sock, twin))
}

/// Sends each read from stdin with `send`, until stdin's end.
fn copy_stdin(mut send: impl FnMut(&[u8]) -> Result<(), SocketError>) -> Result<(), String> {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0; CHUNK];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => send(&buf[..n]).map_err(|e| format!("send: {e}"))?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("stdin: {e}")),
        }
    }
}

/// Writes what arrives to stdout until the peer closes (or `-w` expires).
fn copy_socket(sock: &Socket) -> Event {
    loop {
        match sock.receive(None) {
            Ok(Some(bytes)) => {
                if let Err(e) = write_stdout(&bytes) {
                    return Event::Failed(e);
                }
            }
            Ok(None) => return Event::PeerDone,
            Err(e) if e.is_timeout() => return Event::PeerDone,
            Err(e) => return Event::Failed(format!("receive: {e}")),
        }
    }
}

/// Writes `bytes` to stdout at once: the peer may be waiting for an answer.
fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))
}
