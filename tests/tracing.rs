//! Observability: the `tracing` events each operation records (descriptor,
//! family, local and peer addresses, byte counts, durations, outcomes,
//! timeouts included) and the guarantee that payload bytes are never logged.
//!
//! Each test installs its own capturing subscriber as the thread's default
//! (`set_default`), and runs on a current-thread runtime (or a plain thread
//! for the blocking facade), so every event of the test is recorded on that
//! thread and tests running in parallel never see each other's events.
mod support;
use support::*;

use std::{
    collections::BTreeMap,
    io::Write as _,
    sync::{Arc, Mutex},
    time::Duration,
};

use blade_socket::Socket;
use tracing::{Level, field::Field};
use tracing_subscriber::{Layer, layer::SubscriberExt};

/// A payload no event may ever contain.
const SECRET: &str = "PAYLOAD-SECRET-7f3a9c";

// ----- the capturing subscriber ----------------------------------------------------

#[derive(Clone, Debug)]
struct Record {
    level: Level,
    target: String,
    /// The `message` field (the event's format string, rendered).
    message: String,
    fields: BTreeMap<String, String>,
}

impl Record {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn num(&self, name: &str) -> Option<u64> {
        self.get(name)?.parse().ok()
    }
}

#[derive(Default)]
struct Visitor {
    message: String,
    fields: BTreeMap<String, String>,
}

impl tracing::field::Visit for Visitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.insert(field.name().to_owned(), text);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields
                .insert(field.name().to_owned(), value.to_owned());
        }
    }
}

#[derive(Clone, Default)]
struct Capture {
    records: Arc<Mutex<Vec<Record>>>,
    /// What `tracing_subscriber::fmt` printed, for the payload check.
    text: Arc<Mutex<Vec<u8>>>,
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut v = Visitor::default();
        event.record(&mut v);
        let meta = event.metadata();
        self.records.lock().unwrap().push(Record {
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: v.message,
            fields: v.fields,
        });
    }
}

/// A writer appending to the shared buffer.
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Installs this capture (and a `fmt` layer printing into it) as the
    /// current thread's default subscriber until the guard drops.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let text = Arc::clone(&self.text);
        let fmt = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || Sink(Arc::clone(&text)));
        let subscriber = tracing_subscriber::registry().with(self.clone()).with(fmt);
        tracing::subscriber::set_default(subscriber)
    }

    fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    /// The crate's events with this message.
    fn with_message(&self, message: &str) -> Vec<Record> {
        self.records()
            .into_iter()
            .filter(|r| r.message == message)
            .collect()
    }

    /// The operation events (`op = ...`) for `op` on descriptor `fd`.
    fn ops(&self, op: &str, fd: i32) -> Vec<Record> {
        self.records()
            .into_iter()
            .filter(|r| r.get("op") == Some(op) && r.num("fd") == Some(fd as u64))
            .collect()
    }

    /// Fails if the payload shows up anywhere, raw or hex-encoded.
    fn assert_no_payload(&self) {
        let hex: String = SECRET.bytes().map(|b| format!("{b:02x}")).collect();
        let decimal = format!("{:?}", SECRET.as_bytes());
        let inner = &decimal[1..decimal.len() - 1];
        let text = self.text();
        for r in self.records() {
            let all = format!("{r:?}");
            assert!(!all.contains(SECRET), "payload in an event: {all}");
            assert!(!all.contains(&hex), "hex payload in an event: {all}");
            assert!(!all.contains(inner), "payload bytes in an event: {all}");
        }
        assert!(!text.contains(SECRET), "payload in the log:\n{text}");
        assert!(!text.contains(&hex), "hex payload in the log:\n{text}");
        assert!(!text.contains(inner), "payload bytes in the log:\n{text}");
    }

    fn dump(&self) -> String {
        self.records().iter().map(|r| format!("{r:?}\n")).collect()
    }
}

fn one(records: Vec<Record>, what: &str, dump: &str) -> Record {
    assert_eq!(
        records.len(),
        1,
        "expected one {what} event; all events:\n{dump}"
    );
    records.into_iter().next().unwrap()
}

// ----- connection set-up ------------------------------------------------------------

#[tokio::test]
async fn connect_and_accept_record_both_ends() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let l = listener().await;
        let mut c = Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let s = l.accept().await.unwrap();
        let cport = c.info().unwrap().port;
        let dump = cap.dump();

        let bound = one(cap.with_message("bound"), "bound", &dump);
        assert_eq!(bound.num("fd"), Some(l.id() as u64));
        assert_eq!(bound.get("host"), Some("127.0.0.1"));
        assert_eq!(bound.num("port"), Some(u64::from(l.port())));
        assert_eq!(bound.get("family"), Some("AF_INET"));
        one(cap.with_message("listening"), "listening", &dump);

        let conn = one(cap.with_message("connected"), "connected", &dump);
        assert_eq!(conn.level, Level::DEBUG);
        assert!(conn.target.starts_with("blade_socket"), "{conn:?}");
        assert_eq!(conn.num("fd"), Some(c.id() as u64));
        assert_eq!(conn.get("family"), Some("AF_INET"));
        assert_eq!(conn.get("local"), Some(&*format!("127.0.0.1:{cport}")));
        assert_eq!(conn.get("peer"), Some(&*format!("127.0.0.1:{}", l.port())));

        let acc = one(cap.with_message("accepted"), "accepted", &dump);
        assert_eq!(acc.num("fd"), Some(s.id() as u64));
        assert_eq!(acc.num("listener_fd"), Some(l.id() as u64));
        assert_eq!(acc.get("local"), Some(&*format!("127.0.0.1:{}", l.port())));
        assert_eq!(acc.get("peer"), Some(&*format!("127.0.0.1:{cport}")));
    })
    .await;
}

#[tokio::test]
async fn ipv6_addresses_are_recorded() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let mut l = Socket::new(
            blade_socket::AF_INET6,
            blade_socket::SOCK_STREAM,
            blade_socket::IPPROTO_TCP,
        )
        .unwrap();
        l.bind(0, Some("::1")).await.unwrap();
        l.listen(None).unwrap();
        let mut c = Socket::new(
            blade_socket::AF_INET6,
            blade_socket::SOCK_STREAM,
            blade_socket::IPPROTO_TCP,
        )
        .unwrap();
        c.connect(Some("::1"), l.port(), None).await.unwrap();
        let dump = cap.dump();
        let conn = one(cap.with_message("connected"), "connected", &dump);
        assert_eq!(conn.get("family"), Some("AF_INET6"));
        let peer = conn.get("peer").unwrap();
        assert!(
            peer.contains("::1") && peer.ends_with(&l.port().to_string()),
            "{peer}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_failed_connect_records_the_address_and_error() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let port = closed_port();
        let mut c = Socket::tcp().unwrap();
        let fd = c.id();
        c.connect(None, port, None).await.unwrap_err();
        let dump = cap.dump();
        let failed = one(cap.with_message("connect failed"), "connect failed", &dump);
        assert_eq!(failed.num("fd"), Some(fd as u64));
        assert_eq!(failed.get("host"), Some("127.0.0.1"));
        assert_eq!(failed.num("port"), Some(u64::from(port)));
        assert_eq!(failed.get("error"), Some("Connection refused"));
        // The failure closed the socket, and that is recorded too.
        assert!(!cap.with_message("closed").is_empty(), "{dump}");
    })
    .await;
}

#[tokio::test]
async fn a_connect_timeout_is_recorded() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let (l, filler) = full_backlog().await;
        let mut c = Socket::tcp().unwrap();
        let e = c
            .connect(None, l.port(), Some(Duration::from_millis(100)))
            .await
            .unwrap_err();
        assert!(e.is_timeout());
        let dump = cap.dump();
        let failed = one(cap.with_message("connect failed"), "connect failed", &dump);
        assert!(failed.get("error").unwrap().contains("timed out"), "{dump}");
        drop(filler);
    })
    .await;
}

// ----- data transfer ------------------------------------------------------------------

#[tokio::test]
async fn send_and_receive_record_byte_counts_and_durations_never_payload() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let (c, s) = tcp_pair().await;
        assert_eq!(c.send(SECRET).await.unwrap(), SECRET.len());
        assert_eq!(receive_exact(&s, SECRET.len()).await, SECRET.as_bytes());
        let mut buf = [0u8; 64];
        c.send(SECRET).await.unwrap();
        let n = s.receive_into(&mut buf).await.unwrap();
        assert_eq!(n, SECRET.len());
        let dump = cap.dump();

        let sends = cap.ops("send", c.id());
        assert_eq!(sends.len(), 2, "{dump}");
        for e in &sends {
            assert_eq!(e.num("bytes"), Some(SECRET.len() as u64), "{e:?}");
            assert!(e.num("micros").is_some(), "{e:?}");
            assert_eq!(e.get("outcome"), Some("ok"));
            assert_eq!(e.get("family"), Some("AF_INET"));
            assert_eq!(e.level, Level::TRACE);
        }
        let recvs = cap.ops("receive", s.id());
        assert!(!recvs.is_empty(), "{dump}");
        let total: u64 = recvs.iter().filter_map(|r| r.num("bytes")).sum();
        assert_eq!(total, SECRET.len() as u64, "{dump}");
        let into = one(cap.ops("receive_into", s.id()), "receive_into", &dump);
        assert_eq!(into.num("bytes"), Some(SECRET.len() as u64));
        cap.assert_no_payload();
    })
    .await;
}

#[tokio::test]
async fn datagram_and_file_operations_are_recorded() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let mut rx = Socket::udp().unwrap();
        rx.bind(0, None).await.unwrap();
        let tx = Socket::udp().unwrap();
        tx.send_to("127.0.0.1", rx.port(), SECRET).await.unwrap();
        let d = rx.receive_from(None).await.unwrap();
        assert_eq!(&d.data[..], SECRET.as_bytes());

        let (c, s) = tcp_pair().await;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(SECRET.repeat(100).as_bytes()).unwrap();
        std::io::Seek::rewind(&mut file).unwrap(); // send_file starts at the offset
        let sent = c.send_file(&file).await.unwrap();
        assert_eq!(sent, (SECRET.len() * 100) as u64);
        receive_exact(&s, sent as usize).await;
        let dump = cap.dump();

        let e = one(cap.ops("send_to", tx.id()), "send_to", &dump);
        assert_eq!(e.num("bytes"), Some(SECRET.len() as u64));
        let e = one(cap.ops("receive_from", rx.id()), "receive_from", &dump);
        assert_eq!(e.num("bytes"), Some(SECRET.len() as u64));
        let e = one(cap.ops("send_file", c.id()), "send_file", &dump);
        assert_eq!(e.num("bytes"), Some(sent));
        assert!(e.num("micros").is_some());
        cap.assert_no_payload();
    })
    .await;
}

// ----- outcomes ---------------------------------------------------------------------

#[tokio::test]
async fn a_receive_timeout_is_recorded_with_its_duration() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let (_c, s) = tcp_pair().await;
        s.set_receive_timeout(Some(Duration::from_millis(60)));
        assert!(s.receive(None).await.unwrap_err().is_timeout());
        let dump = cap.dump();
        let e = one(cap.ops("receive", s.id()), "receive", &dump);
        assert_eq!(e.get("outcome"), Some("timeout"), "{e:?}");
        assert_eq!(e.level, Level::DEBUG);
        assert!(e.num("micros").unwrap() >= 55_000, "{e:?}");
        assert!(e.get("bytes").is_none(), "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn a_send_timeout_is_recorded() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let (_c, s) = tcp_pair().await;
        s.set_send_timeout(Some(Duration::from_millis(60)));
        let e = s.send(vec![0u8; 64 * 1024 * 1024]).await.unwrap_err();
        assert!(e.is_timeout());
        let dump = cap.dump();
        let e = one(cap.ops("send", s.id()), "send", &dump);
        assert_eq!(e.get("outcome"), Some("timeout"), "{e:?}");
        assert!(e.num("micros").unwrap() >= 55_000, "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn an_accept_timeout_is_recorded() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let l = listener().await;
        l.set_receive_timeout(Some(Duration::from_millis(60)));
        assert!(l.accept().await.unwrap_err().is_timeout());
        let dump = cap.dump();
        let e = one(cap.ops("accept", l.id()), "accept", &dump);
        assert_eq!(e.get("outcome"), Some("timeout"), "{e:?}");
        assert!(e.num("micros").unwrap() >= 55_000, "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn errors_and_would_block_are_recorded() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let (mut c, mut s) = tcp_pair().await;
        s.set_blocking(false).unwrap();
        let e = s.receive(None).await.unwrap_err();
        assert_eq!(e.kind(), blade_socket::ErrorKind::WouldBlock);
        let fd = s.id();
        c.abort().unwrap();
        let e = s.receive(None).await;
        // Non-blocking: the reset may not have landed yet; wait for it.
        let e = match e {
            Err(e) if e.kind() == blade_socket::ErrorKind::WouldBlock => {
                s.set_blocking(true).unwrap();
                s.receive(None).await.unwrap_err()
            }
            other => other.unwrap_err(),
        };
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
        let dump = cap.dump();
        let recs = cap.ops("receive", fd);
        assert!(
            recs.iter().any(|r| r.get("outcome") == Some("would block")),
            "{dump}"
        );
        let err = recs
            .iter()
            .find(|r| r.get("outcome") == Some("error"))
            .unwrap_or_else(|| panic!("no error outcome:\n{dump}"));
        assert_eq!(err.get("error"), Some("Connection reset by peer"));
        assert_eq!(err.level, Level::DEBUG);
    })
    .await;
}

#[tokio::test]
async fn close_is_recorded_once() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let mut s = Socket::tcp().unwrap();
        let fd = s.id();
        s.close().unwrap();
        s.close().unwrap();
        let closes: Vec<_> = cap
            .with_message("closed")
            .into_iter()
            .filter(|r| r.num("fd") == Some(fd as u64))
            .collect();
        assert_eq!(closes.len(), 1, "{}", cap.dump());
    })
    .await;
}

#[tokio::test]
async fn happy_eyeballs_attempts_are_recorded() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        // ::1 refuses (bound, not listening) and 127.0.0.1 listens, on one port.
        let (_hold, _l, port) = loop {
            let mut hold = Socket::new(
                blade_socket::AF_INET6,
                blade_socket::SOCK_STREAM,
                blade_socket::IPPROTO_TCP,
            )
            .unwrap();
            hold.bind(0, Some("::1")).await.unwrap();
            let port = hold.port();
            if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                break (hold, l, port);
            }
        };
        let mut c = Socket::new(
            blade_socket::AF_INET6,
            blade_socket::SOCK_STREAM,
            blade_socket::IPPROTO_TCP,
        )
        .unwrap();
        let fd_before = c.id(); // the IPv4 winner's descriptor replaces it
        c.connect(Some("localhost"), port, None).await.unwrap();
        let dump = cap.dump();
        let attempts = cap.with_message("connect attempt");
        assert_eq!(attempts.len(), 2, "{dump}");
        assert!(attempts[0].get("addr").unwrap().contains("::1"), "{dump}");
        assert!(
            attempts[1]
                .get("addr")
                .unwrap()
                .contains("::ffff:127.0.0.1"),
            "{dump}"
        );
        let failed = one(
            cap.with_message("connect attempt failed"),
            "attempt failed",
            &dump,
        );
        assert_eq!(failed.get("error"), Some("Connection refused"));
        one(cap.with_message("connected"), "connected", &dump);
        // The attempts happen inside the connect span, which names the target.
        let text = cap.text();
        let span = format!("connect{{fd={fd_before} family=AF_INET6 host=localhost port={port}}}");
        assert!(
            text.lines()
                .any(|l| l.contains(&span) && l.contains("connect attempt")),
            "{text}"
        );
    })
    .await;
}

// ----- the blocking facade, filters ---------------------------------------------------

#[test]
fn blocking_operations_are_recorded_on_the_calling_thread() {
    within_blocking(|| {
        let cap = Capture::default();
        let _guard = cap.install();
        let (c, s) = blocking_pair();
        c.send(SECRET).unwrap();
        assert_eq!(blocking_receive_exact(&s, SECRET.len()), SECRET.as_bytes());
        s.set_receive_timeout(Some(Duration::from_millis(50)));
        assert!(s.receive(None).unwrap_err().is_timeout());
        let dump = cap.dump();
        one(cap.with_message("connected"), "connected", &dump);
        one(cap.with_message("accepted"), "accepted", &dump);
        let send = one(cap.ops("send", c.id()), "send", &dump);
        assert_eq!(send.num("bytes"), Some(SECRET.len() as u64));
        let recvs = cap.ops("receive", s.id());
        assert!(
            recvs.iter().any(|r| r.get("outcome") == Some("timeout")),
            "{dump}"
        );
        cap.assert_no_payload();
    });
}

#[tokio::test]
async fn nothing_is_recorded_below_the_filter() {
    use tracing_subscriber::filter::LevelFilter;
    let cap = Capture::default();
    let subscriber =
        tracing_subscriber::registry().with(cap.clone().with_filter(LevelFilter::INFO));
    let _guard = tracing::subscriber::set_default(subscriber);
    within(async {
        let (c, s) = tcp_pair().await;
        c.send(SECRET).await.unwrap();
        receive_exact(&s, SECRET.len()).await;
    })
    .await;
    assert!(cap.records().is_empty(), "{}", cap.dump());
}

#[tokio::test]
async fn every_event_is_under_the_crate_target() {
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let (c, s) = tcp_pair().await;
        c.send("x").await.unwrap();
        receive_exact(&s, 1).await;
    })
    .await;
    let records = cap.records();
    assert!(!records.is_empty());
    for r in records {
        assert!(r.target.starts_with("blade_socket"), "{r:?}");
    }
    // And the fmt layer printed them.
    assert!(cap.text().contains("connected"), "{}", cap.text());
}

#[tokio::test]
async fn async_read_write_never_log_the_payload() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cap = Capture::default();
    let _guard = cap.install();
    within(async {
        let (mut c, mut s) = tcp_pair().await;
        c.write_all(SECRET.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; SECRET.len()];
        s.read_exact(&mut buf).await.unwrap();
    })
    .await;
    cap.assert_no_payload();
}
