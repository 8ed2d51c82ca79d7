//! Reliability 6: bad input, fuzzed.
//!
//! proptest drives random sequences of API calls with random arguments
//! (hosts, ports, lengths, options and values, modes, timeouts, shutdown
//! directions, closes at random points, conversions between the faces),
//! interleaved with random acts of the peer (sending, half-closing,
//! resetting, connecting, sending datagrams), on TCP and UDP sockets over
//! IPv4 and IPv6, through the async API and through the blocking facade.
//! A model of the socket's state predicts what each call may return, and
//! after every call the harness checks:
//! - no panic, no hang (async calls run under a timeout; a watchdog thread
//!   aborts the process, naming the call, if any call outlives [`HANG`]);
//! - the getters agree with the model; `is_connected` and `is_listening`
//!   are never both true; `id()` is `-1` exactly when closed;
//! - once closed, every operation returns `socket is in an illegal state`;
//! - every byte received is the next byte the peer sent (TCP), and the peer
//!   receives exactly the bytes our sends reported;
//! - after a timeout the socket is open, in the same state, and usable (the
//!   harness proves it with one more exchange).
//!
//! Calls that could legitimately wait forever (an unbounded `receive` with
//! nothing coming, say) are made bounded first, the way a real partner
//! would: the peer sends something, or connects. Where that is impossible,
//! the async face runs the call under a short cut-off (cancellation is part
//! of the API), and the blocking face skips it (counted and printed).
//!
//! Names: hosts are drawn only from IP literals, `localhost` variants and
//! strings that the crate rejects as invalid host names before any lookup
//! ([`assert_never_resolved`] re-checks that rule for every host listed), so
//! no case can reach DNS. All traffic is to loopback ports this test owns.
//!
//! A second property builds sockets from random family/type/protocol
//! triples (including invalid ones) and makes the local calls on them.
//!
//! Cases: 10,000 per face (and 2,000 random triples) in the default run
//! (a few seconds in a debug build); `BLADE_SOCKET_FUZZ_CASES=N` sets the
//! per-face count (triples: N / 5), `BLADE_SOCKET_HEAVY=1` makes it
//! 1,000,000. Each face runs on `BLADE_SOCKET_FUZZ_THREADS` workers
//! (default 4), each with its own loopback fixture and runtime, the two
//! faces in parallel. A million per face, in release (about 6 minutes on 2
//! cores):
//!
//! ```text
//! BLADE_SOCKET_FUZZ_CASES=1000000 cargo test --release --test reliability_fuzz -- --nocapture
//! ```
//!
//! The modules are in `tests/fuzz/`.
//! Each run draws new cases; a failure prints the shrunk sequence of calls.
#![cfg(target_os = "linux")] // network namespaces
#[path = "support/reliability.rs"]
mod reliability;

mod fuzz;
use fuzz::*;

#[test]
fn every_fuzzed_host_is_literal_local_or_invalid() {
    for h in HOSTS {
        assert_never_resolved(h);
    }
    // And the crate agrees: every non-literal, non-local one fails at once.
    for h in HOSTS.iter().filter(|h| !h.contains('[')) {
        let literal = *h;
        let local = h
            .trim_end_matches('.')
            .to_ascii_lowercase()
            .ends_with("localhost");
        if literal.parse::<IpAddr>().is_err() && !local {
            let t = Instant::now();
            let e = blocking::get_address_info(h, None, None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AddressResolution, "{h:?}: {e:?}");
            // Rejected by the crate's own check, before getaddrinfo.
            assert!(
                e.message().contains("not a valid host name"),
                "{h:?}: {e:?}"
            );
            assert!(t.elapsed() < Duration::from_secs(1), "{h:?} took a lookup");
        }
    }
}

/// `get_address_info` must answer a bracketed IP literal (`[::1]`) as that
/// literal, and reject an unbalanced bracket, without asking DNS. Run in a
/// child process inside a new, empty network namespace (`unshare -n`), so
/// that a lookup sent to DNS goes nowhere (and fails) instead of leaving
/// the machine. Needs `unshare` and the right to use it (root, or
/// unprivileged user namespaces); without them it says so and passes.
#[test]
fn bracketed_literals_never_reach_dns() {
    const TEST: &str = "bracketed_literals_never_reach_dns";
    if child_role().as_deref() == Some("no-network") {
        let t = Instant::now();
        let r = blocking::get_address_info("[::1]", None, Some(AF_INET6));
        assert!(
            matches!(&r, Ok(info) if info.ip == "::1".parse::<IpAddr>().unwrap()),
            "get_address_info(\"[::1]\") is not answered as the literal ::1: {r:?}"
        );
        let r = blocking::get_address_info("[127.0.0.1", None, None);
        let e = r.expect_err("an unbalanced bracket is not a host");
        assert!(
            e.message().contains("not a valid host name"),
            "\"[127.0.0.1\" went to the resolver: {e:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(1));
        return;
    }
    // A new network namespace: as root (`-n`), or in a new user namespace
    // where unprivileged ones are allowed (`-r -n`).
    let Some(flags) = [&["-n"][..], &["-r", "-n"][..]].into_iter().find(|flags| {
        std::process::Command::new("unshare")
            .args(*flags)
            .arg("true")
            .status()
            .is_ok_and(|s| s.success())
    }) else {
        println!("skipped: `unshare -n` is not available to this user");
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .args(flags)
        .arg(exe)
        .args([
            "--exact",
            TEST,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_ENV, "no-network")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
fn fuzz_async_face() {
    run_face(true);
}

#[test]
fn fuzz_blocking_face() {
    run_face(false);
}

/// Sockets from random family/type/protocol triples: `new` never panics;
/// a socket it makes answers every local call consistently.
#[test]
fn fuzz_random_triples() {
    let cases = (cases_per_face() / 5).max(1);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let made = std::cell::Cell::new(0u64);
    let t = Instant::now();
    let result = runner.run(
        &(
            any_family(),
            any_type(),
            any_protocol(),
            any::<bool>(),
            proptest::collection::vec(local_op(), 0..16),
        ),
        |(f, ty, p, async_face, ops)| {
            let (family, ty, proto) = (
                Family::from_raw(f),
                SockType::from_raw(ty),
                Protocol::from_raw(p),
            );
            let _ = format!("{family:?} {ty:?} {proto:?}");
            let made_one = if async_face {
                Socket::new(family, ty, proto).map(|s| local_ops_async(s, &ops))
            } else {
                blocking::Socket::new(family, ty, proto).map(|s| local_ops_blocking(s, &ops))
            };
            if made_one.is_ok() {
                made.set(made.get() + 1);
            }
            Ok(())
        },
    );
    println!(
        "fuzz (triples): {cases} cases in {:.1} s, {} sockets made",
        t.elapsed().as_secs_f64(),
        made.get()
    );
    if let Err(e) = result {
        panic!("fuzz (triples) failed: {e}");
    }
}
