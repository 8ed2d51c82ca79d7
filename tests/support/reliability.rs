//! Helpers for the reliability suites (`tests/reliability_*.rs`): heavy mode,
//! deterministic pseudo-random data and checksums, child processes (with a
//! lowered or raised descriptor limit) and readings from `/proc`.
//!
//! Included with `#[path = "support/reliability.rs"] mod reliability;` so that
//! the other suites do not compile it.
#![allow(dead_code, unreachable_pub)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

// ------------------------------------------------------------------ modes

/// The environment variable that selects the heavy versions of the suites.
pub const HEAVY_ENV: &str = "BLADE_SOCKET_HEAVY";

/// Whether `BLADE_SOCKET_HEAVY` asks for the heavy versions (`1`, `true`,
/// `yes`; unset, empty or `0` means the quick ones).
pub fn heavy() -> bool {
    match std::env::var(HEAVY_ENV) {
        Ok(v) => !matches!(v.trim(), "" | "0" | "false" | "no"),
        Err(_) => false,
    }
}

/// `quick` in the default run, `heavy` under `BLADE_SOCKET_HEAVY=1`.
pub fn pick<T>(quick: T, heavy_value: T) -> T {
    if heavy() { heavy_value } else { quick }
}

// ----------------------------------------------------- pseudo-random data

/// splitmix64: a small, fast, deterministic generator (not for cryptography).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        assert!(lo <= hi);
        lo + (self.next_u64() % ((hi - lo) as u64 + 1)) as usize
    }

    /// A chunk size: mostly small, sometimes large, in `1..=max`.
    pub fn chunk(&mut self, max: usize) -> usize {
        match self.next_u64() % 4 {
            0 => self.range(1, 64.min(max)),
            1 => self.range(1, 4096.min(max)),
            _ => self.range(1, max),
        }
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A pseudo-random byte stream addressable by offset: byte `i` of stream
/// `seed` is always the same, so a receiver can regenerate what it expects
/// at any offset without keeping a copy.
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    seed: u64,
}

impl Pattern {
    pub fn new(seed: u64) -> Pattern {
        Pattern {
            seed: mix(seed.wrapping_add(0x5eed)),
        }
    }

    fn word(&self, index: u64) -> [u8; 8] {
        mix(self.seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes()
    }

    /// Fills `buf` with the stream's bytes from `offset` on.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut pos = 0usize;
        let mut off = offset;
        // Leading partial word.
        let skip = (off % 8) as usize;
        if skip != 0 && !buf.is_empty() {
            let w = self.word(off / 8);
            let n = (8 - skip).min(buf.len());
            buf[..n].copy_from_slice(&w[skip..skip + n]);
            pos += n;
            off += n as u64;
        }
        let mut chunks = buf[pos..].chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.word(off / 8));
            off += 8;
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let w = self.word(off / 8);
            let n = rest.len();
            rest.copy_from_slice(&w[..n]);
        }
    }

    /// The stream's bytes `offset..offset + len`.
    pub fn bytes(&self, offset: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(offset, &mut v);
        v
    }

    /// Whether `got` equals the stream's bytes from `offset`; on a mismatch,
    /// the offset of the first wrong byte.
    pub fn check(&self, offset: u64, got: &[u8]) -> Result<(), u64> {
        let want = self.bytes(offset, got.len());
        if want == got {
            Ok(())
        } else {
            let i = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
            Err(offset + i as u64)
        }
    }
}

/// A streaming 64-bit checksum (FNV-style over little-endian words, then the
/// length): the same bytes give the same sum however they were split.
#[derive(Clone, Debug, Default)]
pub struct Checksum {
    h: u64,
    len: u64,
    tail: [u8; 8],
    tail_len: usize,
}

impl Checksum {
    pub fn new() -> Checksum {
        Checksum {
            h: 0xcbf2_9ce4_8422_2325,
            ..Checksum::default()
        }
    }

    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w)
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(29);
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.tail_len > 0 {
            let n = (8 - self.tail_len).min(data.len());
            self.tail[self.tail_len..self.tail_len + n].copy_from_slice(&data[..n]);
            self.tail_len += n;
            data = &data[n..];
            if self.tail_len < 8 {
                return;
            }
            let w = u64::from_le_bytes(self.tail);
            self.word(w);
            self.tail_len = 0;
        }
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.word(w);
        }
        let rest = chunks.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// The sum of everything so far (does not consume the state).
    pub fn sum(&self) -> u64 {
        let mut c = self.clone();
        if c.tail_len > 0 {
            let mut last = [0u8; 8];
            last[..c.tail_len].copy_from_slice(&c.tail[..c.tail_len]);
            c.word(u64::from_le_bytes(last));
        }
        let len = c.len;
        c.word(len);
        c.h
    }
}

// ------------------------------------------------------------ /proc

/// Open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Open descriptors of process `pid` (`None` once it is gone).
pub fn fd_count_of(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

/// The descriptor numbers open in process `pid` (`None` once it is gone).
pub fn fds_of(pid: u32) -> Option<Vec<u32>> {
    let d = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(
        d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
    )
}

/// How many of process `pid`'s descriptors are below `limit`: equal to
/// `limit` when its table is full under that limit (descriptors it
/// inherited above the limit do not count).
pub fn fds_below(pid: u32, limit: u64) -> Option<usize> {
    Some(
        fds_of(pid)?
            .into_iter()
            .filter(|&n| u64::from(n) < limit)
            .count(),
    )
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`...), in KiB.
pub fn status_kib(field: &str) -> u64 {
    status_kib_of("self", field)
}

/// A `kB` field of `/proc/<pid>/status`, in KiB (0 if absent).
pub fn status_kib_of(pid: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .unwrap_or(0)
}

/// User plus system CPU time of process `pid` so far, in clock ticks
/// (`/proc/<pid>/stat` fields 14 and 15).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it follow ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The descriptor soft limit, as `sh -c 'ulimit -n'` reports it.
pub fn nofile_limit() -> Option<u64> {
    let out = Command::new("sh").args(["-c", "ulimit -n"]).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

// ------------------------------------------------------- child processes

/// The environment variable that tells a re-executed test binary which role
/// to play.
pub const ROLE_ENV: &str = "BLADE_SOCKET_CHILD_ROLE";

/// The role this process was started for, if it is a child.
pub fn child_role() -> Option<String> {
    std::env::var(ROLE_ENV).ok()
}

/// A child process re-executing this test binary to run one test in a given
/// role; killed (and reaped) on drop. Its stdout arrives line by line.
pub struct ChildProc {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Every line read so far (stdout and stderr), for failure messages.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// One message from each pipe reader when it has read to end of file.
    drained: mpsc::Receiver<()>,
}

/// How to set the child's descriptor limit.
#[derive(Clone, Copy, Debug)]
pub enum Nofile {
    /// Leave it as inherited.
    Inherit,
    /// Set the soft limit to this value (`ulimit -n N`).
    Set(u64),
    /// Raise the soft limit to the hard limit.
    RaiseToHard,
}

impl ChildProc {
    /// Starts `<this test binary> --exact <test> --nocapture --test-threads=1`
    /// with `BLADE_SOCKET_CHILD_ROLE=<role>` and `env`, through `sh` so that
    /// `nofile` can be applied with `ulimit` (no `unsafe` needed).
    pub fn spawn(test: &str, role: &str, nofile: Nofile, env: &[(&str, String)]) -> ChildProc {
        let exe = std::env::current_exe().expect("current_exe");
        let ulimit = match nofile {
            Nofile::Inherit => String::new(),
            Nofile::Set(n) => format!("ulimit -n {n} || exit 97; "),
            Nofile::RaiseToHard => "ulimit -n \"$(ulimit -Hn)\" || exit 97; ".to_owned(),
        };
        let script = format!("{ulimit}exec \"$0\" \"$@\"");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .arg(exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(ROLE_ENV, role)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn child test process");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (drained_tx, drained) = mpsc::channel();
        {
            let log = log.clone();
            let drained_tx = drained_tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    log.lock().unwrap().push(line.clone());
                    if tx.send(line).is_err() {
                        // Keep draining so the child never blocks on a full pipe.
                    }
                }
                let _ = drained_tx.send(());
            });
        }
        {
            let log = log.clone();
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    log.lock().unwrap().push(format!("[stderr] {line}"));
                }
                let _ = drained_tx.send(());
            });
        }
        ChildProc {
            child,
            stdin,
            lines,
            log,
            drained,
        }
    }

    /// Sends one line to the child's stdin (see [`read_stdin_line`]).
    pub fn tell(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("child stdin");
        writeln!(stdin, "{line}").expect("write to child");
        stdin.flush().expect("flush child stdin");
    }

    /// Closes the child's stdin: it reads end of file.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the child printed so far.
    pub fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The next stdout line holding `@<prefix> ` (what follows it, trimmed;
    /// see [`say`]), waiting at most `limit`. Panics with the child's output on
    /// timeout or exit.
    pub fn expect_line(&self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    // libtest may print "test name ... " before the child's
                    // first line: look for the tag anywhere in the line.
                    if let Some((_, rest)) = line.split_once(&format!("@{prefix} ")) {
                        return rest.trim().to_owned();
                    }
                }
                Err(e) => panic!(
                    "child: no line starting with {prefix:?} within {limit:?} ({e:?}); output:\n{}",
                    self.output()
                ),
            }
        }
    }

    /// Waits (at most `limit`) for the child to exit, and asserts that it
    /// passed its test.
    pub fn wait_success(mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => {
                    // Both pipes reach end of file once the child is gone.
                    for _ in 0..2 {
                        let left = deadline.saturating_duration_since(Instant::now());
                        let _ = self.drained.recv_timeout(left.max(Duration::from_secs(1)));
                    }
                    let out = self.output();
                    assert!(status.success(), "child failed: {status:?}\n{out}");
                    assert!(
                        out.contains("1 passed"),
                        "child ran no test (name mismatch?):\n{out}"
                    );
                    return;
                }
                None if Instant::now() >= deadline => {
                    panic!(
                        "child did not exit within {limit:?}; output:\n{}",
                        self.output()
                    )
                }
                None => thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Reads one line from this process's stdin (a child's orders from its parent).
pub fn read_stdin_line() -> Option<String> {
    let mut s = String::new();
    match std::io::stdin().read_line(&mut s) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(s.trim().to_owned()),
    }
}

/// Prints one protocol line for the parent (`TAG value` becomes
/// `@TAG value`, found by [`ChildProc::expect_line`]) and flushes it.
pub fn say(line: impl AsRef<str>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "@{}", line.as_ref());
    let _ = out.flush();
}

/// Polls `cond` every `every` until it holds or `limit` passes; returns
/// whether it held. For conditions observable only by reading (a child's
/// `/proc` entries), where no signal exists to wait on.
pub fn poll_until(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(every);
    }
}

/// A two-sided timing summary: min, max and count of the errors
/// (elapsed minus requested) seen.
#[derive(Debug, Default, Clone)]
pub struct Errors {
    pub min: Option<Duration>,
    pub max: Option<Duration>,
    pub n: usize,
}

impl Errors {
    pub fn add(&mut self, e: Duration) {
        self.min = Some(self.min.map_or(e, |m| m.min(e)));
        self.max = Some(self.max.map_or(e, |m| m.max(e)));
        self.n += 1;
    }
}
