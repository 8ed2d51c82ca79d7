//! The one trap is seen without a `tracing` subscriber: the warning goes to
//! stderr once, and a facade call that timed out on a current-thread
//! runtime's thread says where it waited. Without a subscriber a sync program
//! or a default `#[tokio::test]` would otherwise see only `receive timed
//! out`, or a hang.
//!
//! The warning is once per process and the subscriber is process-wide, so
//! the scenario runs in a child process (this binary, re-executed), whose
//! stderr the test reads.
mod support;
use support::*;

use std::time::Duration;

use blade_socket::blocking;

/// Set in the child's environment: run the scenario instead of spawning.
const CHILD_ENV: &str = "BLADE_SOCKET_TRAP_STDERR_CHILD";
/// What the child prints on stdout once every assertion of its own held.
const DONE: &str = "trap scenario done";

const NOTE: &str = "(waited on a current-thread runtime's thread: see the blocking module docs)";

/// A facade receive that must wait: nothing is queued, the timeout ends it.
fn receive_times_out() -> blade_socket::SocketError {
    let (a, _b) = blocking::Socket::pair().unwrap();
    a.set_receive_timeout(Some(Duration::from_millis(30)));
    let e = a.receive(None).unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    e
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The child: no subscriber anywhere.
fn scenario() {
    // On a plain thread: neither warning nor note.
    let e = receive_times_out();
    assert_eq!(e.message(), "receive timed out");
    eprintln!("-- plain thread done");

    // On a current-thread runtime's thread, twice: one warning, two notes.
    let rt = current_thread();
    for _ in 0..2 {
        let e = rt.block_on(async { receive_times_out() });
        assert_eq!(e.message(), format!("receive timed out {NOTE}"));
        assert_eq!(e.io_kind(), std::io::ErrorKind::TimedOut);
    }
    println!("{DONE}");
}

#[test]
fn the_trap_warning_reaches_stderr_without_a_subscriber() {
    if std::env::var_os(CHILD_ENV).is_some() {
        scenario();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = multi_thread_runtime().block_on(within(async {
        tokio::process::Command::new(exe)
            .args([
                "--exact",
                "the_trap_warning_reaches_stderr_without_a_subscriber",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .kill_on_drop(true)
            .output()
            .await
            .unwrap()
    }));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(DONE),
        "child failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("blade_socket") && l.contains("current-thread"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning on stderr:\n{stderr}");
    for needed in ["WARN", "multi_thread", "spawn_blocking"] {
        assert!(
            warnings[0].contains(needed),
            "names {needed}: {}",
            warnings[0]
        );
    }
    // Said at the first wait on that thread, not before (the plain thread's).
    let plain = stderr
        .find("-- plain thread done")
        .expect("child progress line");
    let warned = stderr.find(warnings[0]).expect("the warning");
    assert!(
        plain < warned,
        "warned only once the trap was hit:\n{stderr}"
    );
}
