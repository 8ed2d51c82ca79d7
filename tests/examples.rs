//! Runs the example programs as a user would: `http_hello` against raw
//! `std::net` clients (good requests, garbage, abandoned and oversized
//! ones), `netcat` in each mode against `std::net` peers, and `hyper_server`
//! (hyper over the crate) against a hyper client on the crate's `Socket` and
//! against `curl`, `http_bench_server` (`benches/wrk.sh`'s responder) in
//! each variant, and `udp_server` against Python's `socket` clients. Each test
//! starts its own processes on ephemeral loopback ports, bounds every wait,
//! and kills what it started on the way out, pass or fail.

mod support;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, TcpListener, TcpStream, UdpSocket},
    path::PathBuf,
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, OnceLock, mpsc},
    thread,
    time::Instant,
};

use support::{LIMIT, closed_port, within, within_blocking};

// ------------------------------------------------------------ the programs

/// The path of a built example. `cargo test --test examples` alone does not
/// build examples (and a stale binary would test old code), so the first
/// call runs `cargo build` for them, into this test binary's own target
/// directory and profile: a no-op when `cargo test --all-targets` already has.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT.get_or_init(build_examples);
    let dir = match dir {
        Ok(dir) => dir,
        Err(e) => panic!("cannot build the examples: {e}"),
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "example binary {} is missing: build it with `cargo build --examples` \
         (or run `cargo test --all-targets`)",
        path.display()
    );
    path
}

/// Builds the examples under test; returns the directory holding them.
fn build_examples() -> Result<PathBuf, String> {
    // This binary is <target-dir>[/<triple>]/<profile>/deps/examples-<hash>.
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| format!("unexpected test binary path {}", exe.display()))?;
    let profile = profile_dir
        .file_name()
        .and_then(|p| p.to_str())
        .ok_or_else(|| format!("unexpected test binary path {}", exe.display()))?;
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(PathBuf::from)
        .ok_or("CARGO_TARGET_TMPDIR has no parent")?;

    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--quiet",
            "--example",
            "http_hello",
            "--example",
            "netcat",
            "--example",
            "hyper_server",
            "--example",
            "http_bench_server",
            "--example",
            "udp_server",
            "--example",
            "proxy",
            "--example",
            "fd_handoff",
        ])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cargo.arg("--release");
        }
        other => {
            cargo.args(["--profile", other]);
        }
    }
    // Cross-compiled layouts put the target triple between the two.
    if let Some(parent) = profile_dir.parent().filter(|p| *p != target_dir) {
        if let Some(triple) = parent.file_name() {
            cargo.arg("--target").arg(triple);
        }
    }
    let examples = profile_dir.join("examples");
    let out = match cargo.output() {
        Ok(out) => out,
        Err(e) => {
            // No cargo here (the test binary run by hand): use what is built.
            eprintln!("not rebuilding the examples: cannot run cargo: {e}");
            return Ok(examples);
        }
    };
    if !out.status.success() {
        return Err(format!(
            "cargo build failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(examples)
}

/// A running example. Dropping it kills the process; if the test is failing,
/// it also prints what the process wrote on stderr.
struct Program {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    /// Chunks of stdout from a reader thread; disconnected at end of file.
    stdout: mpsc::Receiver<Vec<u8>>,
    /// stdout received so far, and how much of it the test has consumed.
    seen: Vec<u8>,
    taken: usize,
    /// stderr so far, from a reader thread that ends at end of file.
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<thread::JoinHandle<()>>,
}

impl Program {
    fn start(name: &'static str, args: &[&str]) -> Program {
        let mut child = Command::new(example(name))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdin = child.stdin.take();
        let (tx, stdout) = mpsc::channel();
        let mut out = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            let mut buf = [0; 16 * 1024];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        let stderr_reader = thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
        Program {
            name,
            child,
            stdin,
            stdout,
            seen: Vec::new(),
            taken: 0,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Receives stdout until `done(unconsumed)` holds; false at end of file.
    fn read_stdout_until(&mut self, done: impl Fn(&[u8]) -> bool) -> bool {
        let deadline = Instant::now() + LIMIT;
        while !done(&self.seen[self.taken..]) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "{}: stdout stalled; so far {:?}",
                    self.name,
                    String::from_utf8_lossy(&self.seen[self.taken..])
                ),
            }
        }
        true
    }

    /// The next `n` bytes of stdout.
    fn stdout_bytes(&mut self, n: usize) -> Vec<u8> {
        let complete = self.read_stdout_until(|rest| rest.len() >= n);
        assert!(
            complete,
            "{}: stdout ended before {n} more bytes; got {:?}",
            self.name,
            String::from_utf8_lossy(&self.seen[self.taken..])
        );
        let bytes = self.seen[self.taken..self.taken + n].to_vec();
        self.taken += n;
        bytes
    }

    /// Reads the first line, `listening on 127.0.0.1:PORT`, and returns PORT.
    fn listening_port(&mut self) -> u16 {
        self.read_stdout_until(|rest| rest.contains(&b'\n'));
        let rest = &self.seen[self.taken..];
        let end = rest.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.taken += end;
        let port = line
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|p| p.trim_end().parse::<u16>().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{}: first line {line:?}, not `listening on 127.0.0.1:PORT`; stderr: {}",
                    self.name,
                    self.stderr_text()
                )
            });
        assert_ne!(port, 0, "{}: printed port 0, not the real port", self.name);
        port
    }

    fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(bytes).expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit, and asserts that it wrote nothing more.
    /// First stdout's end of file, whose wait is bounded, then `wait`: these
    /// programs close stdout only by exiting.
    fn wait_exit(&mut self) -> ExitStatus {
        self.read_stdout_until(|_| false); // returns only at end of file
        assert_eq!(
            String::from_utf8_lossy(&self.seen[self.taken..]),
            "",
            "{}: unexpected bytes on stdout",
            self.name
        );
        self.child.wait().expect("wait")
    }

    fn stderr_text(&self) -> String {
        let err = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&err).into_owned()
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            // The process is gone, so its stderr is at end of file: collect all of it.
            if let Some(reader) = self.stderr_reader.take() {
                let _ = reader.join();
            }
            eprintln!("--- {} stderr ---\n{}", self.name, self.stderr_text());
        }
    }
}

/// Runs an example to completion with no stdin: (exit status, stderr).
fn run_to_end(name: &str, args: &[&str]) -> (ExitStatus, String) {
    let path = example(name);
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    let out = within_blocking(move || {
        Command::new(path)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run example")
    });
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ------------------------------------------------------------ HTTP client

/// A loopback connection whose every read and write is bounded.
fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(LIMIT)).expect("read timeout");
    s.set_write_timeout(Some(LIMIT)).expect("write timeout");
    s
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response; a `HEAD` response has no body whatever its length.
fn read_response(r: &mut BufReader<TcpStream>, head: bool) -> Response {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("header line");
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header with a colon");
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let length: usize = response
        .header("content-length")
        .expect("Content-Length")
        .parse()
        .expect("numeric Content-Length");
    if !head {
        response.body = vec![0; length];
        r.read_exact(&mut response.body).expect("body");
    }
    response
}

/// Sends `request` on a fresh connection and reads one response.
fn exchange(port: u16, request: &[u8]) -> (Response, BufReader<TcpStream>) {
    let mut s = connect(port);
    s.write_all(request).expect("send request");
    let mut r = BufReader::new(s);
    (read_response(&mut r, false), r)
}

/// Asserts that the server has closed the connection, without a reset.
fn assert_closed(r: &mut BufReader<TcpStream>) {
    let mut rest = Vec::new();
    r.read_to_end(&mut rest)
        .expect("a clean end of file, not an error");
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "",
        "bytes after the response"
    );
}

fn assert_hello(response: &Response) {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        "Hello from blade-socket\n"
    );
    assert_eq!(response.header("content-length"), Some("24"));
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

// ------------------------------------------------------------ http_hello

#[test]
fn http_hello_serves_get_with_keep_alive_and_pipelining() {
    let mut server = Program::start("http_hello", &["127.0.0.1:0"]);
    let port = server.listening_port();

    let (response, mut r) = exchange(port, GET);
    assert_hello(&response);
    assert_eq!(response.header("connection"), None, "HTTP/1.1 keeps alive");

    // Three requests in one write, on the same connection: answered in order.
    r.get_mut()
        .write_all(
            b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n\
              GET /missing?q=1 HTTP/1.1\r\nHost: test\r\n\r\n\
              GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        )
        .expect("send pipelined requests");
    let head = read_response(&mut r, true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("24"));
    assert_eq!(read_response(&mut r, false).status, 404);
    let last = read_response(&mut r, false);
    assert_hello(&last);
    assert_eq!(last.header("connection"), Some("close"));
    assert_closed(&mut r);

    // HTTP/1.0 closes unless asked not to.
    let (response, mut r) = exchange(port, b"GET / HTTP/1.0\r\n\r\n");
    assert_hello(&response);
    assert_closed(&mut r);
}

#[test]
fn http_hello_survives_bad_and_vanishing_clients() {
    let mut server = Program::start("http_hello", &["127.0.0.1:0"]);
    let port = server.listening_port();

    // A slow client holds half a request for the whole test.
    let mut slow = connect(port);
    slow.write_all(b"GET / HTTP/1.1\r\nHo").expect("send half");

    // Garbage: 400, then the server closes.
    let (response, mut r) = exchange(port, b"\x00\xff\x16\x03 garbage\r\n\r\n");
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(response.header("connection"), Some("close"));
    assert_closed(&mut r);

    // Half a request, then a disconnect: the server shrugs it off.
    let mut quitter = connect(port);
    quitter
        .write_all(b"GET / HTTP/1.1\r\nHost: te")
        .expect("send half");
    drop(quitter);
    // A client that connects and leaves without a word.
    drop(connect(port));

    // Well-formed but refused requests get their status, not a crash.
    for (request, status) in [
        (&b"GET / HTTP/1.1\r\n\r\n"[..], 400), // HTTP/1.1 without Host
        (b"GET / HTTP/2.0\r\nHost: test\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost : test\r\n\r\n", 400), // space before the colon
        (b"DELETE / HTTP/1.1\r\nHost: test\r\n\r\n", 405),
    ] {
        let (response, _) = exchange(port, request);
        assert_eq!(response.status, status, "{request:?} gave {response:?}");
    }

    // A head that never ends: cut off at the size cap with 431.
    let mut big = b"GET / HTTP/1.1\r\nHost: test\r\nX-Filler: ".to_vec();
    big.resize(9 * 1024, b'a');
    let (response, mut r) = exchange(port, &big);
    assert_eq!(response.status, 431, "{response:?}");
    assert_closed(&mut r);

    // Through all of that, a fresh client is served...
    let (response, _) = exchange(port, GET);
    assert_hello(&response);

    // ...and so is the slow one, once it finishes its request.
    slow.write_all(b"st: test\r\nConnection: close\r\n\r\n")
        .expect("send the rest");
    let mut r = BufReader::new(slow);
    assert_hello(&read_response(&mut r, false));
    assert_closed(&mut r);
}

#[test]
fn http_hello_shrugs_off_random_bytes() {
    let mut server = Program::start("http_hello", &["127.0.0.1:0"]);
    let port = server.listening_port();
    // A fixed xorshift sequence: random-looking, and the same on every run.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..200 {
        let len = (next() % 2048) as usize;
        // Mostly bytes that matter to HTTP, so heads end and headers parse.
        const HTTP: &[u8] = b"GET /HTTP1.0: \t\r\n\r\nHost:aZ-~\x00\x7f\xff";
        let mut junk: Vec<u8> = (0..len)
            .map(|_| match next() % 4 {
                0 => next() as u8,
                _ => HTTP[(next() % HTTP.len() as u64) as usize],
            })
            .collect();
        // Sometimes a plausible start, so the parser gets past the first line.
        if next() % 2 == 0 {
            junk.splice(0..0, b"GET / HTTP/1.1\r\n".iter().copied());
        }
        let mut s = connect(port);
        let _ = s.write_all(&junk); // the server may answer and close first
        let _ = s.shutdown(Shutdown::Write);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer); // an answer (400, mostly), nothing, or a reset
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
            "{:?} gave {:?}",
            String::from_utf8_lossy(&junk),
            String::from_utf8_lossy(&answer)
        );
    }
    let (response, _) = exchange(port, GET);
    assert_hello(&response);
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "the server exited"
    );
}

#[test]
fn http_hello_stops_gracefully_on_ctrl_c() {
    let mut server = Program::start("http_hello", &["127.0.0.1:0"]);
    let port = server.listening_port();
    // A served request: the server is accepting, its signal handlers are
    // installed, and this connection now sits idle.
    let (response, mut idle) = exchange(port, GET);
    assert_hello(&response);
    // A request and half of the next in one write: once the first answer is
    // back, the server holds the second half-read (pipelining).
    let mut busy = connect(port);
    busy.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\nGET / HTTP/1.1\r\n")
        .expect("send");
    let mut busy = BufReader::new(busy);
    assert_hello(&read_response(&mut busy, false));

    let interrupt = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(interrupt.success());

    // An idle connection is closed, once the listener is.
    assert_closed(&mut idle);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after Ctrl-C"
    );
    // A request in flight is finished, with `Connection: close`.
    busy.get_mut()
        .write_all(b"Host: test\r\n\r\n")
        .expect("send the rest");
    let response = read_response(&mut busy, false);
    assert_hello(&response);
    assert_eq!(response.header("connection"), Some("close"));
    assert_closed(&mut busy);
    drop(busy);
    assert!(server.wait_exit().success());
}

// ------------------------------------------------------------ netcat

/// Every byte value, lines and NULs included.
fn binary() -> Vec<u8> {
    (0..=255u8).cycle().take(3 * 256 + 7).collect()
}

/// Reads from `s` until `n` bytes have arrived.
fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).expect("read from netcat");
    buf
}

/// Asserts that `s` reads end of file.
fn assert_eof(s: &mut TcpStream) {
    let mut one = [0; 1];
    assert_eq!(s.read(&mut one).expect("read"), 0, "expected end of file");
}

#[test]
fn netcat_tcp_listen_relays_both_ways_and_half_closes() {
    let mut nc = Program::start("netcat", &["-l", "127.0.0.1:0"]);
    let port = nc.listening_port();
    let mut peer = connect(port);

    // The peer's bytes appear on stdout, unchanged.
    let data = binary();
    peer.write_all(&data).expect("send");
    assert_eq!(nc.stdout_bytes(data.len()), data);

    // stdin's bytes reach the peer, unchanged.
    nc.write_stdin(&data);
    assert_eq!(read_n(&mut peer, data.len()), data);

    // stdin's end is a half-close: the peer reads end of file...
    nc.close_stdin();
    assert_eof(&mut peer);
    // ...and can still talk: netcat keeps printing.
    peer.write_all(b"after your EOF\n").expect("send after EOF");
    assert_eq!(nc.stdout_bytes(15), b"after your EOF\n");

    // The peer closes: netcat exits 0.
    drop(peer);
    assert!(nc.wait_exit().success());
}

#[test]
fn netcat_tcp_connect_relays_and_exits_when_the_peer_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let address = format!("127.0.0.1:{port}");
    let mut nc = Program::start("netcat", &[address.as_str()]);
    let (mut peer, _) = within_blocking(move || listener.accept()).expect("accept");
    peer.set_read_timeout(Some(LIMIT)).expect("read timeout");

    let data = binary();
    nc.write_stdin(&data);
    assert_eq!(read_n(&mut peer, data.len()), data);
    peer.write_all(&data).expect("send");
    assert_eq!(nc.stdout_bytes(data.len()), data);

    // End of stdin reaches the peer as end of file; the answer still comes back.
    nc.close_stdin();
    assert_eof(&mut peer);
    peer.write_all(b"bye\n").expect("send");
    peer.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(nc.stdout_bytes(4), b"bye\n");
    assert!(nc.wait_exit().success());
}

#[test]
fn netcat_udp_listen_and_connect_relay_datagrams() {
    // Listen mode: the first sender becomes the peer stdin goes to.
    let mut nc = Program::start("netcat", &["-u", "-l", "127.0.0.1:0"]);
    let port = nc.listening_port();
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    peer.set_read_timeout(Some(LIMIT)).expect("read timeout");
    peer.connect(("127.0.0.1", port)).expect("connect");
    peer.send(b"ping\0\n").expect("send");
    assert_eq!(nc.stdout_bytes(6), b"ping\0\n");
    nc.write_stdin(b"pong\xff");
    let mut buf = [0; 64];
    let n = peer.recv(&mut buf).expect("receive the reply");
    assert_eq!(&buf[..n], b"pong\xff");
    drop(nc);

    // Connect mode: each stdin chunk is a datagram; each datagram is printed.
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    server.set_read_timeout(Some(LIMIT)).expect("read timeout");
    let address = format!("127.0.0.1:{}", server.local_addr().expect("addr").port());
    let mut nc = Program::start("netcat", &["-u", address.as_str()]);
    nc.write_stdin(b"hello");
    let (n, from) = server.recv_from(&mut buf).expect("receive");
    assert_eq!(&buf[..n], b"hello");
    server.send_to(b"\x00\x01\x02", from).expect("reply");
    assert_eq!(nc.stdout_bytes(3), b"\x00\x01\x02");
}

#[test]
fn netcat_wait_ends_an_idle_session() {
    // A peer that accepts and never speaks: with -w, netcat leaves on its own.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let mut nc = Program::start("netcat", &["-w", "0.2", address.as_str()]);
    let (mut peer, _) = within_blocking(move || listener.accept()).expect("accept");
    peer.set_read_timeout(Some(LIMIT)).expect("read timeout");
    nc.close_stdin();
    assert_eof(&mut peer);
    assert!(nc.wait_exit().success());
}

#[test]
fn bad_arguments_are_usage_errors_and_failures_are_reported() {
    for args in [
        &[][..],
        &["-x", "127.0.0.1:1"],
        &["127.0.0.1"],
        &["127.0.0.1:99999"],
        &["127.0.0.1:0"], // nothing to connect to
        &["-w", "soon", "127.0.0.1:1"],
        &["-w"],
        &["127.0.0.1:1", "extra"],
    ] {
        let (status, stderr) = run_to_end("netcat", args);
        assert_eq!(status.code(), Some(2), "netcat {args:?}: {stderr}");
        assert!(
            stderr.contains("usage: netcat"),
            "netcat {args:?}: {stderr}"
        );
    }
    for server in ["http_hello", "hyper_server"] {
        for args in [&["nonsense"][..], &["127.0.0.1:0", "extra"]] {
            let (status, stderr) = run_to_end(server, args);
            assert_eq!(status.code(), Some(2), "{server} {args:?}: {stderr}");
            assert!(stderr.contains(&format!("usage: {server}")), "{stderr}");
        }
    }

    // A refused connection is an error (1) with the OS's words, not a panic.
    let address = format!("127.0.0.1:{}", closed_port());
    let (status, stderr) = run_to_end("netcat", &[address.as_str()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

// ------------------------------------------------------------ hyper_server

const HYPER_HELLO: &str = "Hello from hyper on blade-socket\n";

/// A body with every byte value, larger than the socket buffers on both
/// sides, so an echo streams rather than fitting in one write.
fn large_body() -> Vec<u8> {
    (0..3 * 1024 * 1024u32)
        .map(|i| (i ^ (i >> 11)) as u8)
        .collect()
}

/// Sends a kill signal (`-INT`, `-TERM`) to a running example.
fn signal(program: &Program, which: &str) {
    let sent = Command::new("kill")
        .args([which, &program.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
}

/// One request on a hyper client connection: (status, headers, whole body).
async fn hyper_exchange(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    method: hyper::Method,
    path: &str,
    body: Vec<u8>,
) -> (hyper::StatusCode, hyper::HeaderMap, bytes::Bytes) {
    use http_body_util::BodyExt;
    // hyper's rule: wait until the connection can take the next request.
    sender.ready().await.expect("connection ready");
    let request = hyper::Request::builder()
        .method(method.clone())
        .uri(path)
        .header("host", "127.0.0.1")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("request");
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let (head, body) = response.into_parts();
    let body = body.collect().await.expect("response body").to_bytes();
    (head.status, head.headers, body)
}

#[test]
fn hyper_server_serves_a_hyper_client_on_a_blade_socket() {
    use blade_socket::Socket;
    use hyper::{Method, StatusCode};
    use hyper_util::rt::TokioIo;

    let mut server = Program::start("hyper_server", &["127.0.0.1:0"]);
    let port = server.listening_port();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    // Both ends of the HTTP exchange run on the crate's sockets: the client
    // is a `Socket` under hyper's client connection.
    let (sender, connection) = runtime.block_on(within(async {
        let mut socket = Socket::tcp().expect("socket");
        socket.connect(None, port, None).await.expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(socket))
            .await
            .expect("handshake");
        let connection = tokio::spawn(connection);

        // Every request below goes over this one keep-alive connection:
        // hyper fails a request on a connection that has closed.
        let (status, headers, body) = hyper_exchange(&mut sender, Method::GET, "/", vec![]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-length"], "33");
        assert_eq!(body, HYPER_HELLO.as_bytes());

        let sent = large_body();
        let (status, _, echoed) =
            hyper_exchange(&mut sender, Method::POST, "/echo", sent.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(echoed == sent, "the echo differs from the body sent");

        let (status, headers, body) = hyper_exchange(&mut sender, Method::HEAD, "/", vec![]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-length"], "33");
        assert!(body.is_empty(), "a HEAD response has no body");

        for (method, path, status) in [
            (Method::GET, "/missing", StatusCode::NOT_FOUND),
            (Method::DELETE, "/", StatusCode::METHOD_NOT_ALLOWED),
            (Method::GET, "/echo", StatusCode::METHOD_NOT_ALLOWED),
        ] {
            let (got, _, _) = hyper_exchange(&mut sender, method.clone(), path, vec![]).await;
            assert_eq!(got, status, "{method} {path}");
        }
        // The connection stays open and idle, for the stop below.
        (sender, connection)
    }));

    // Ctrl-C: the server closes the idle keep-alive connection cleanly and
    // exits 0.
    signal(&server, "-INT");
    runtime.block_on(within(async {
        connection
            .await
            .expect("the connection task")
            .expect("a clean close, not an error");
    }));
    drop(sender);
    assert!(server.wait_exit().success());
    // The process is gone: its stderr is complete once the reader ends.
    if let Some(reader) = server.stderr_reader.take() {
        reader.join().expect("the stderr reader");
    }
    let log = server.stderr_text();
    assert!(
        log.contains("GET / 200") && log.contains("POST /echo 200"),
        "{log}"
    );
}

/// Runs `curl` with `args` (it must be installed: `.ci/run` installs it);
/// returns its stdout. Loopback only, and bounded twice: curl's own
/// `--max-time` and the test's.
fn curl(args: &[&str]) -> Vec<u8> {
    let args: Vec<String> = ["--silent", "--show-error", "--max-time", "10"]
        .iter()
        .chain(args)
        .map(|&a| a.to_owned())
        .collect();
    let out = within_blocking(move || Command::new("curl").args(&args).output());
    let out = out.unwrap_or_else(|e| {
        panic!("cannot run curl ({e}): install it, e.g. `apt-get install -y curl`")
    });
    assert!(
        out.status.success(),
        "curl failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn hyper_server_serves_curl() {
    let mut server = Program::start("hyper_server", &["127.0.0.1:0"]);
    let port = server.listening_port();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

    let response = String::from_utf8(curl(&["--include", &url("/")])).expect("utf-8");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with(&format!("\r\n\r\n{HYPER_HELLO}")),
        "{response}"
    );

    // Two URLs in one run: curl reuses the connection (keep-alive), so it
    // makes one connection, not two.
    let connects = String::from_utf8(curl(&[
        "--output",
        "/dev/null",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{num_connects}\\n",
        &url("/"),
        &url("/missing"),
    ]))
    .expect("utf-8");
    assert_eq!(connects, "200 1\n404 0\n");

    // A large body, streamed to the server and back.
    let sent = large_body();
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&sent).expect("write the body");
    let upload = format!("@{}", file.path().display());
    let echoed = curl(&["--data-binary", &upload, &url("/echo")]);
    assert!(
        echoed == sent,
        "curl's echo differs ({} bytes back)",
        echoed.len()
    );

    signal(&server, "-TERM");
    assert!(server.wait_exit().success());
}

// ------------------------------------------------------------ http_bench_server

#[test]
fn http_bench_server_answers_keep_alive_and_pipelined_requests_in_every_variant() {
    for variant in ["blade", "blade-methods", "tokio"] {
        let mut server = Program::start("http_bench_server", &[variant, "127.0.0.1:0"]);
        let port = server.listening_port();
        let hello = |r: &Response| {
            assert_eq!(r.status, 200, "{variant}: {r:?}");
            assert_eq!(r.body, b"Hello, world!", "{variant}");
        };
        let (response, mut r) = exchange(port, GET);
        hello(&response);
        // Three heads in one write, the last one arriving in two parts and
        // asking to close: three answers in order, then end of file.
        r.get_mut()
            .write_all(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\nGET /c HTTP/1.1\r\n")
            .expect("send pipelined requests");
        hello(&read_response(&mut r, false));
        hello(&read_response(&mut r, false));
        r.get_mut()
            .write_all(b"Connection: close\r\n\r\n")
            .expect("send the rest");
        hello(&read_response(&mut r, false));
        assert_closed(&mut r);
    }
    let (status, stderr) = run_to_end("http_bench_server", &["nope", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("usage: http_bench_server"), "{stderr}");
}

// ------------------------------------------------------------ UDP server

/// Python clients for `udp_server`: three sockets send interleaved
/// requests, all before reading, then each checks that it got exactly its
/// own answers, in order. Prints `ok N` with the number of answers.
const PYTHON_UDP_CLIENTS: &str = r#"
import socket, sys
port = int(sys.argv[1])
names = ["localhost", "www.example", "nowhere.example"]
table = {"localhost": "127.0.0.1", "www.example": "192.0.2.80"}
clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
expected = [[] for _ in clients]
for i in range(20):
    for k, c in enumerate(clients):
        name = names[(i + k) % len(names)]
        rid = "c%d-%d" % (k, i)
        c.sendto(("%s %s" % (rid, name)).encode(), ("127.0.0.1", port))
        answer = ("%s %s A %s" % (rid, name, table[name])) if name in table else ("%s %s NXDOMAIN" % (rid, name))
        expected[k].append(answer)
clients[0].sendto(b"lonely", ("127.0.0.1", port))
expected[0].append("lonely ERROR")
count = 0
for k, c in enumerate(clients):
    c.settimeout(10)
    for want in expected[k]:
        data, sender = c.recvfrom(2048)
        assert sender == ("127.0.0.1", port), sender
        got = data.decode()
        assert got == want, "client %d: got %r, want %r" % (k, got, want)
        count += 1
print("ok", count)
"#;

#[test]
fn udp_server_answers_python_clients_in_batches() {
    let mut server = Program::start("udp_server", &["127.0.0.1:0"]);
    let port = server.listening_port();
    // Bounded twice: coreutils' `timeout` kills python, and the test's own bound.
    let out = within_blocking(move || {
        Command::new("timeout")
            .args(["20", "python3", "-c", PYTHON_UDP_CLIENTS, &port.to_string()])
            .output()
            .expect("run python3")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "ok 61",
        "python clients: {}\nstdout: {stdout}\nstderr: {}\nserver: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server.stderr_text()
    );

    // SIGTERM: the server stops and says how many it answered.
    signal(&server, "-TERM");
    let summary = b"answered 61\n";
    assert_eq!(server.stdout_bytes(summary.len()), summary);
    assert!(server.wait_exit().success());
}

// ------------------------------------------------- proxy and fd_handoff

/// `proxy` in front of `hyper_server`: curl through the proxy gets what it
/// gets directly, for a small answer and for an upload echoed back (bytes
/// both ways, then the half-close).
#[test]
fn proxy_forwards_curl_to_an_http_server() {
    let mut server = Program::start("hyper_server", &["127.0.0.1:0"]);
    let server_port = server.listening_port();
    let upstream = format!("127.0.0.1:{server_port}");
    let mut proxy = Program::start("proxy", &["127.0.0.1:0", &upstream, "--idle", "10"]);
    let port = proxy.listening_port();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

    let response = String::from_utf8(curl(&["--include", &url("/")])).expect("utf-8");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with(&format!("\r\n\r\n{HYPER_HELLO}")),
        "{response}"
    );

    let body: String = (0..20_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let echoed = curl(&["--data-binary", &body, &url("/echo")]);
    assert_eq!(String::from_utf8(echoed).expect("utf-8"), body);

    // Nothing is listening there: the proxy aborts the client's connection.
    let dead = closed_port().to_string();
    let mut broken = Program::start("proxy", &["127.0.0.1:0", &format!("127.0.0.1:{dead}")]);
    let broken_port = broken.listening_port();
    let out = within_blocking(move || {
        Command::new("curl")
            .args(["--silent", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{broken_port}/"))
            .output()
    })
    .expect("run curl");
    assert!(
        !out.status.success(),
        "curl through a proxy with no upstream must fail"
    );
}

/// `fd_handoff`: connections accepted by the front process are served by
/// its worker, another process (the front keeps none of them).
#[test]
fn fd_handoff_hands_connections_to_its_worker() {
    let mut front = Program::start("fd_handoff", &["127.0.0.1:0"]);
    let port = front.listening_port();
    let front_pid = front.child.id();
    for i in 0..3 {
        let stream = connect(port);
        let mut writer = stream.try_clone().expect("clone");
        let (greeting, echoed) = within_blocking(move || {
            let mut reader = BufReader::new(stream);
            let mut greeting = String::new();
            reader.read_line(&mut greeting).expect("greeting");
            writer
                .write_all(format!("ping {i}\n").as_bytes())
                .expect("send");
            let mut echoed = String::new();
            reader.read_line(&mut echoed).expect("echo");
            (greeting, echoed)
        });
        let pid: u32 = greeting
            .strip_prefix("handled by worker ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("greeting {greeting:?}; stderr: {}", front.stderr_text()));
        assert_ne!(pid, front_pid, "served by another process");
        assert_eq!(echoed, format!("ping {i}\n"));
    }
}
