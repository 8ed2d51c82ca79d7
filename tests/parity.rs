//! Parity (API.md §4): the blocking facade "runs the async core's method to
//! completion and adds no logic of its own", so one scenario through both
//! faces must record the same results: values, error kinds, messages, errnos
//! and the state afterwards. The scenario is written once (`support::face`)
//! and run on each face.
mod support;
use support::*;

use std::{fmt::Debug, time::Duration};

use blade_socket::{ErrorKind, SHUT_RD, SHUT_WR, SO_REUSEADDR, SocketError};
use support::face::{Face, FaceSocket};

/// One step's result, as text that does not depend on ports or fds.
fn out<T: Debug>(r: &Result<T, SocketError>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!(
            "Err({:?}, {:?}, errno {:?}, timeout {})",
            e.kind(),
            e.message(),
            e.raw_os_error(),
            e.is_timeout()
        ),
    }
}

#[derive(Default, Debug)]
struct Log(Vec<(&'static str, String)>);

impl Log {
    fn rec<T: Debug>(&mut self, step: &'static str, r: &Result<T, SocketError>) {
        self.0.push((step, out(r)));
    }
    fn val(&mut self, step: &'static str, v: impl Debug) {
        self.0.push((step, format!("{v:?}")));
    }
    fn get(&self, step: &str) -> &str {
        &self
            .0
            .iter()
            .find(|(s, _)| *s == step)
            .unwrap_or_else(|| panic!("no step {step}"))
            .1
    }
}

const MSG: &str = "parity\0echo\u{ff}";
const RECV_TIMEOUT: Duration = Duration::from_millis(120);

// ---------------------------------------------------------------- scenario

fn receive_exact(s: &FaceSocket, n: usize) -> Result<Vec<u8>, SocketError> {
    let mut v = Vec::new();
    while v.len() < n {
        match s.receive(Some(n - v.len()))? {
            Some(b) => v.extend_from_slice(&b),
            None => break,
        }
    }
    Ok(v)
}

fn scenario(face: Face, echo_port: u16, refused_port: u16) -> Log {
    let mut log = Log::default();

    // Echo exchange with a std server.
    let mut c = face.tcp().unwrap();
    let r = c.connect(Some("127.0.0.1"), echo_port, None);
    log.rec("echo connect", &r);
    log.val(
        "echo state",
        (c.is_connected(), c.is_client(), c.port() == echo_port),
    );
    log.rec("echo send", &c.send(MSG));
    log.rec("echo receive", &receive_exact(&c, MSG.len()));
    log.rec("echo send empty", &c.send(""));
    log.rec("echo shutdown write", &c.shutdown(SHUT_WR));
    log.rec("echo receive eof", &c.receive(None));
    log.rec("echo receive eof again", &c.receive(Some(4)));
    log.rec("echo send after shutdown", &c.send("x"));
    log.val(
        "echo after",
        (c.is_shutdown(), c.shutdown_reason(), c.is_connected()),
    );

    // Receive timeout.
    let (c, mut s) = face.pair();
    s.set_receive_timeout(Some(RECV_TIMEOUT));
    log.rec("timeout receive", &s.receive(None));
    log.rec(
        "timeout receive_from",
        &s.receive_from(None).map(|d| d.data),
    );
    log.val("timeout state", (s.is_closed(), s.is_connected()));
    log.rec("timeout then send", &c.send("late"));
    log.rec("timeout then receive", &receive_exact(&s, 4));

    // Half-close.
    let (mut c, mut s) = face.pair();
    log.rec("half shutdown write", &c.shutdown(SHUT_WR));
    log.rec("half shutdown write again", &c.shutdown(SHUT_WR));
    log.val(
        "half client state",
        (c.is_shutdown(), c.shutdown_reason(), c.is_connected()),
    );
    log.rec("half peer sees eof", &s.receive(None));
    log.rec("half peer replies", &s.send("reply"));
    log.rec("half client receives", &receive_exact(&c, 5));
    log.rec("half client send", &c.send("x"));
    log.rec("half peer shutdown read", &s.shutdown(SHUT_RD));
    log.rec("half peer receive after shut read", &s.receive(None));
    log.rec("half peer send after shut read", &s.send("more"));
    log.rec("half client gets it", &receive_exact(&c, 4));
    log.rec("half client shutdown read", &c.shutdown(SHUT_RD));
    log.val(
        "half client both",
        (c.shutdown_reason(), c.is_connected(), c.is_closed()),
    );

    // Refused connect.
    let mut c = face.tcp().unwrap();
    log.rec(
        "refused connect",
        &c.connect(None, refused_port, Some(Duration::from_secs(5))),
    );
    log.val("refused state", (c.is_closed(), c.id(), c.is_connected()));

    // Not connected / not listening.
    let mut fresh = face.tcp().unwrap();
    log.rec("fresh send", &fresh.send("x"));
    log.rec("fresh receive", &fresh.receive(None));
    log.rec("fresh accept", &fresh.accept().map(|_| ()));
    log.rec("fresh shutdown", &fresh.shutdown(SHUT_WR));
    log.rec("fresh listen", &fresh.listen(None));
    log.rec("fresh listen too long", &fresh.listen(Some(u32::MAX)));

    // Operations on a closed socket.
    let file = tempfile::tempfile().unwrap();
    log.rec("close", &fresh.close());
    log.rec("close again", &fresh.close());
    let mut z = fresh;
    log.rec("closed connect", &z.connect(None, echo_port, None));
    log.rec("closed bind", &z.bind(0, None));
    log.rec("closed listen", &z.listen(None));
    log.rec("closed accept", &z.accept().map(|_| ()));
    log.rec("closed send", &z.send("x"));
    log.rec("closed send_file", &z.send_file(&file));
    log.rec("closed receive", &z.receive(None));
    log.rec("closed receive zero", &z.receive(Some(0)));
    log.rec("closed send_to", &z.send_to("127.0.0.1", echo_port, "x"));
    log.rec("closed receive_from", &z.receive_from(None).map(|d| d.data));
    log.rec("closed shutdown", &z.shutdown(SHUT_WR));
    log.rec(
        "closed set_option",
        &z.set_option(SO_REUSEADDR, true.into()),
    );
    log.rec("closed get_option", &z.get_option(SO_REUSEADDR));
    log.rec("closed set_blocking", &z.set_blocking(false));
    log.rec("closed set_nodelay", &z.set_nodelay(true));
    log.rec("closed nodelay", &z.nodelay());
    log.rec("closed info", &z.info().map(|_| ()));
    log.rec("closed peer_info", &z.peer_info().map(|_| ()));
    log.val("closed state", (z.is_closed(), z.id(), z.is_blocking()));
    log
}

// ------------------------------------------------------------------ checks

/// `socket is in an illegal state (CAUSE)`, as a log line.
fn illegal(cause: &str) -> String {
    format!(
        "Err({:?}, {:?}, errno None, timeout false)",
        ErrorKind::IllegalState,
        format!("{ILLEGAL} ({cause})")
    )
}

/// What API.md pins, checked on each face's log (so both cannot agree on a
/// wrong answer).
fn check_contract(face: &str, log: &Log) {
    let eq = |step: &str, want: &str| {
        assert_eq!(log.get(step), want, "{face}: step {step:?}");
    };
    eq("echo connect", "Ok(())");
    eq("echo state", "(true, true, true)");
    eq("echo send", &format!("Ok({})", MSG.len()));
    eq(
        "echo receive",
        &format!("Ok({:?})", MSG.as_bytes().to_vec()),
    );
    eq("echo send empty", "Ok(0)");
    eq("echo shutdown write", "Ok(())");
    eq("echo receive eof", "Ok(None)");
    eq("echo receive eof again", "Ok(None)");
    eq("echo send after shutdown", &illegal("shut for writing"));
    eq("echo after", "(true, Some(Write), true)");

    assert!(
        log.get("timeout receive").starts_with("Err(TimedOut, "),
        "{face}"
    );
    assert!(log.get("timeout receive").contains("timed out"), "{face}");
    assert!(
        log.get("timeout receive_from")
            .starts_with("Err(TimedOut, "),
        "{face}"
    );
    eq("timeout state", "(false, true)");
    eq("timeout then send", "Ok(4)");
    eq(
        "timeout then receive",
        &format!("Ok({:?})", b"late".to_vec()),
    );

    eq("half shutdown write", "Ok(())");
    eq("half shutdown write again", "Ok(())");
    eq("half client state", "(true, Some(Write), true)");
    eq("half peer sees eof", "Ok(None)");
    eq("half peer replies", "Ok(5)");
    eq(
        "half client receives",
        &format!("Ok({:?})", b"reply".to_vec()),
    );
    eq("half client send", &illegal("shut for writing"));
    eq("half peer shutdown read", "Ok(())");
    eq(
        "half peer receive after shut read",
        &illegal("shut for reading"),
    );
    eq("half peer send after shut read", "Ok(4)");
    eq(
        "half client gets it",
        &format!("Ok({:?})", b"more".to_vec()),
    );
    eq("half client shutdown read", "Ok(())");
    eq("half client both", "(Some(Both), false, false)");

    eq(
        "refused connect",
        "Err(Os, \"Connection refused\", errno Some(111), timeout false)",
    );
    eq("refused state", "(true, -1, false)");

    let not_connected =
        "Err(IllegalState, \"socket not listening or connected\", errno None, timeout false)";
    eq("fresh send", not_connected);
    eq("fresh receive", not_connected);
    eq(
        "fresh accept",
        "Err(IllegalState, \"socket not bound/listening\", errno None, timeout false)",
    );
    assert!(log.get("fresh shutdown").starts_with("Err(Os, "), "{face}");
    assert!(
        log.get("fresh shutdown").contains("errno Some(107)"),
        "{face}"
    );
    eq("fresh listen", &illegal("not bound"));

    eq("close", "Ok(())");
    eq("close again", "Ok(())");
    for step in [
        "closed connect",
        "closed bind",
        "closed listen",
        "closed accept",
        "closed send",
        "closed send_file",
        "closed receive",
        "closed receive zero",
        "closed send_to",
        "closed receive_from",
        "closed shutdown",
        "closed set_option",
        "closed get_option",
        "closed set_blocking",
        "closed set_nodelay",
        "closed nodelay",
        "closed info",
        "closed peer_info",
    ] {
        eq(step, &illegal("closed"));
    }
    eq("closed state", "(true, -1, true)");
}

fn assert_same(a: &Log, b: &Log) {
    assert_eq!(a.0.len(), b.0.len());
    for ((sa, oa), (sb, ob)) in a.0.iter().zip(&b.0) {
        assert_eq!(sa, sb);
        assert_eq!(oa, ob, "step {sa:?}: async vs blocking differ");
    }
}

/// Runs `face`'s scenario on a thread of its own, bounded.
fn on_thread(face: Face, echo: u16, refused: u16) -> Log {
    within_blocking(move || scenario(face, echo, refused))
}

#[test]
fn async_and_blocking_faces_give_the_same_results() {
    let echo = std_echo_server();
    let refused = closed_port();
    let a = on_thread(Face::Async, echo, refused);
    let b = on_thread(Face::Blocking, echo, refused);
    check_contract("async", &a);
    check_contract("blocking", &b);
    assert_same(&a, &b);
}

#[tokio::test]
async fn blocking_face_on_a_current_thread_runtime_matches_the_async_face() {
    within(async {
        let echo = std_echo_server();
        let refused = closed_port();
        // Run directly on this runtime's only thread (it blocks it).
        let b = scenario(Face::Blocking, echo, refused);
        // The async face on its own thread (its calls block on the shared
        // runtime, which a thread of this runtime must not do).
        let a = std::thread::spawn(move || scenario(Face::Async, echo, refused))
            .join()
            .expect("async scenario panicked");
        check_contract("blocking (current-thread)", &b);
        // Its timeouts say where they waited; otherwise the same.
        let note = " (waited on a current-thread runtime's thread: see the blocking module docs)";
        let mut b = b;
        let mut noted = 0;
        for (_, out) in &mut b.0 {
            if out.contains(note) {
                *out = out.replace(note, "");
                noted += 1;
            }
        }
        assert!(noted > 0, "a timeout on this thread says where it waited");
        assert_same(&a, &b);
    })
    .await;
}
