//! Fault injection inside a private network namespace.
//!
//! [`scenario`] re-executes the test binary, once per face, under
//! `unshare -n` with [`FACE_ENV`] set and a filter naming one test. Inside,
//! the namespace has only `lo`; [`setup`] brings it up as a link (MTU 1500,
//! no segmentation offload beyond one packet, retransmission back-off capped
//! at 1 s) and creates the nftables table `inet faults` with an input-hook
//! chain `inp`, where [`nft`] adds the faults and [`heal`] flushes them.
//! Nothing leaves the namespace; the host's rules are never touched (the
//! child checks that its namespace is not the parent's before any change).
//!
//! Needs root, `unshare` and `nft`. Without them the test fails when `CI` is
//! set (so the suite cannot silently stop testing) and prints why it
//! skipped otherwise.
//!
//! Included with `#[path = "support/netns.rs"] mod netns;`.
#![allow(dead_code, unreachable_pub)]

use std::{
    io::Read,
    process::{Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use crate::support::face::Face;

/// Set in the child: the face to run (`async` or `blocking`).
pub const FACE_ENV: &str = "BLADE_SOCKET_NETNS_FACE";
/// Set in the child: the parent's network namespace (`/proc/self/ns/net`
/// link text), which the child must not be in.
const PARENT_NS_ENV: &str = "BLADE_SOCKET_NETNS_PARENT";
/// The bound on one face's run of one scenario, namespace set-up included.
pub const CHILD_LIMIT: Duration = Duration::from_secs(150);

fn net_ns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Why fault injection cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        });
    if uid.as_deref() != Some("0") {
        return Some(format!("not root (effective uid {uid:?})"));
    }
    for (tool, arg) in [("unshare", "--version"), ("nft", "--version"), ("ip", "-V")] {
        match Command::new(tool).arg(arg).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => return Some(format!("`{tool} {arg}` failed: {:?}", o.status)),
            Err(e) => {
                return Some(format!(
                    "`{tool}` not found ({e}); install nftables/iproute2"
                ));
            }
        }
    }
    match Command::new("unshare").args(["-n", "true"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`unshare -n` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("`unshare -n` failed: {e}")),
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Runs `body` for each face, each in its own namespace process (the two
/// in parallel). `test` is this test's name (the `--exact` filter that
/// selects it in the child). In the child, runs `body` for its face.
pub fn scenario(test: &str, body: fn(Face)) {
    if let Ok(face) = std::env::var(FACE_ENV) {
        let face = Face::from_name(&face).expect("face name");
        setup();
        let t = Instant::now();
        body(face);
        println!(
            "{test} ({}): passed in {:.2} s",
            face.name(),
            t.elapsed().as_secs_f64()
        );
        return;
    }
    if let Some(why) = unavailable() {
        assert!(!in_ci(), "{test}: fault injection unavailable in CI: {why}");
        println!("{test}: SKIPPED (fault injection unavailable: {why})");
        return;
    }
    let children: Vec<_> = Face::BOTH
        .into_iter()
        .map(|face| (face, spawn(test, face)))
        .collect();
    let mut failures = Vec::new();
    for (face, rx) in children {
        let (ok, out) = rx
            .recv_timeout(CHILD_LIMIT + Duration::from_secs(5))
            .expect("child reporter");
        // The child's figures, for `--nocapture` runs and failure reports.
        for line in out
            .lines()
            .filter(|l| l.contains(test) || l.contains("panicked"))
        {
            println!("{line}");
        }
        if !ok {
            failures.push(format!("---- {} face ----\n{out}", face.name()));
        }
    }
    assert!(
        failures.is_empty(),
        "{test} failed:\n{}",
        failures.join("\n")
    );
}

/// Starts `unshare -n <this binary> --exact <test>` for `face`; the receiver
/// gets (passed, everything it printed) once it exits or is killed at
/// [`CHILD_LIMIT`].
fn spawn(test: &str, face: Face) -> mpsc::Receiver<(bool, String)> {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new("unshare")
        .arg("-n")
        .arg(exe)
        .args([
            "--exact",
            test,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FACE_ENV, face.name())
        .env(PARENT_NS_ENV, net_ns())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare");
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let err = thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        let status = child.wait();
        let err = err.join().unwrap_or_default();
        let _ = done_tx.send((status, out, err));
    });
    let (tx, rx) = mpsc::channel();
    let test = test.to_owned();
    thread::spawn(move || {
        let report = match done_rx.recv_timeout(CHILD_LIMIT) {
            Ok((status, out, err)) => {
                let ok = status.as_ref().is_ok_and(|s| s.success()) && out.contains("1 passed");
                (ok, format!("status {status:?}\n{out}\n[stderr]\n{err}"))
            }
            Err(_) => {
                // Ours, by its id: the child that outlived its bound.
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                let late = done_rx
                    .recv_timeout(Duration::from_secs(5))
                    .map(|(_, out, err)| format!("{out}\n[stderr]\n{err}"))
                    .unwrap_or_default();
                (
                    false,
                    format!("{test}: HANG, killed after {CHILD_LIMIT:?}\n{late}"),
                )
            }
        };
        let _ = tx.send(report);
    });
    rx
}

/// Runs a command, panicking with its output unless it succeeds.
fn run(cmd: &str, args: &[&str]) {
    let o = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Makes this (fresh, private) namespace's `lo` behave like a link and
/// creates the empty fault chain.
fn setup() {
    let parent = std::env::var(PARENT_NS_ENV).expect("parent namespace");
    let own = net_ns();
    assert!(
        !own.is_empty() && own != parent,
        "not in a private network namespace ({own} vs {parent}): refusing to add rules"
    );
    run("ip", &["link", "set", "lo", "up"]);
    // One drop loses one packet, not a 64 KiB block.
    run("ip", &["link", "set", "dev", "lo", "mtu", "1500"]);
    run("ip", &["link", "set", "dev", "lo", "gso_max_size", "1500"]);
    // Per namespace: keeps back-off under loss and partitions to 1 s.
    std::fs::write("/proc/sys/net/ipv4/tcp_rto_max_ms", "1000").expect("tcp_rto_max_ms");
    nft("add table inet faults");
    nft("add chain inet faults inp { type filter hook input priority 0; policy accept; }");
}

/// One `nft` command, e.g. `add rule inet faults inp tcp dport 80 drop`.
pub fn nft(command: &str) {
    run("nft", &[command]);
}

/// Adds a rule to the fault chain (`rule` is what follows the chain name).
pub fn fault(rule: &str) {
    nft(&format!("add rule inet faults inp {rule}"));
}

/// Removes every fault rule.
pub fn heal() {
    nft("flush chain inet faults inp");
}

/// Shapes `lo` to `rate` (a `tbf` qdisc, e.g. `1600kbit`).
pub fn shape(rate: &str) {
    run(
        "tc",
        &[
            "qdisc", "replace", "dev", "lo", "root", "tbf", "rate", rate, "burst", "80kb",
            "latency", "300ms",
        ],
    );
}

/// Removes the shaper.
pub fn unshape() {
    run("tc", &["qdisc", "del", "dev", "lo", "root"]);
}

/// A counter of `/proc/net/snmp` (`Tcp` `RetransSegs`, say): this
/// namespace's own, so it counts only the scenario's traffic.
pub fn snmp(proto: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/net/snmp").expect("/proc/net/snmp");
    let mut lines = text.lines().filter(|l| l.starts_with(&format!("{proto}:")));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        panic!("no {proto} lines in /proc/net/snmp");
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == field)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no {proto} {field} in /proc/net/snmp"))
}
