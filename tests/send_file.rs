mod support;
use support::*;

use std::{
    io::{Seek, SeekFrom, Write},
    time::Duration,
};

use blade_socket::{ErrorKind, SO_LINGER, Shutdown, Socket, blocking};

/// Deterministic pseudo-random bytes (xorshift64*).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn temp_file_with(data: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(data).unwrap();
    f.flush().unwrap();
    f.rewind().unwrap();
    f
}

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn streams_a_whole_file_identically() {
    within(async {
        let data = pseudo_random(3 * MIB, 0x5eed);
        let file = temp_file_with(&data);
        let (c, s) = tcp_pair().await;
        let n = data.len();
        let reader = tokio::spawn(async move { receive_exact(&s, n).await });
        let sent = c.send_file(&file).await.unwrap();
        assert_eq!(sent, n as u64);
        let got = reader.await.unwrap();
        assert_eq!(got.len(), n);
        assert!(got == data, "received bytes differ from the file");
        assert!(c.is_connected());
    })
    .await;
}

#[tokio::test]
async fn starts_at_the_file_offset_and_advances_it() {
    within(async {
        let data = pseudo_random(200_000, 42);
        let mut file = temp_file_with(&data);
        file.seek(SeekFrom::Start(1000)).unwrap();
        let (c, s) = tcp_pair().await;
        let n = data.len();
        let reader = tokio::spawn(async move { receive_exact(&s, n - 1000).await });
        assert_eq!(c.send_file(&file).await.unwrap(), (n - 1000) as u64);
        assert_eq!(file.stream_position().unwrap(), n as u64, "offset advanced");
        // at its end, the file sends nothing (as Python's socket.sendfile)
        assert_eq!(c.send_file(&file).await.unwrap(), 0);
        let got = reader.await.unwrap();
        assert!(got == data[1000..], "the bytes from the offset on");
    })
    .await;
}

#[test]
fn blocking_send_file_starts_at_the_offset_and_advances_it() {
    within_blocking(|| {
        let data = pseudo_random(300_000, 43);
        let mut file = temp_file_with(&data);
        file.seek(SeekFrom::Start(77)).unwrap();
        let (c, s) = blocking::Socket::pair().unwrap();
        let n = data.len();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Some(b) = s.receive(None).unwrap() {
                got.extend_from_slice(&b);
            }
            got
        });
        assert_eq!(c.send_file(&file).unwrap(), (n - 77) as u64);
        assert_eq!(file.stream_position().unwrap(), n as u64);
        assert_eq!(c.send_file(&file).unwrap(), 0);
        drop(c);
        assert!(reader.join().unwrap() == data[77..]);
    });
}

#[tokio::test]
async fn a_pipe_is_sent_as_it_comes() {
    within(async {
        // A pipe has no offset (ESPIPE): the copy path reads it as a stream.
        let data = pseudo_random(100_000, 44);
        let (reader_end, mut writer_end) = std::io::pipe().unwrap();
        let feed = data.clone();
        let writer = std::thread::spawn(move || writer_end.write_all(&feed));
        let file = std::fs::File::from(std::os::fd::OwnedFd::from(reader_end));
        let (c, s) = tcp_pair().await;
        let n = data.len();
        let got = tokio::spawn(async move { receive_exact(&s, n).await });
        assert_eq!(c.send_file(&file).await.unwrap(), n as u64);
        writer.join().unwrap().unwrap();
        assert!(got.await.unwrap() == data);
    })
    .await;
}

#[tokio::test]
async fn empty_file_is_ok_zero() {
    within(async {
        let file = tempfile::tempfile().unwrap();
        let (c, s) = tcp_pair().await;
        assert_eq!(c.send_file(&file).await.unwrap(), 0);
        assert!(c.is_connected());
        // nothing was sent: the peer sees only our marker, then EOF
        c.send(b"!").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(&receive_exact(&s, 1).await[..], b"!");
        assert_eq!(s.receive(None).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn send_file_to_a_std_echo_server() {
    within(async {
        let port = std_echo_server();
        let data = pseudo_random(MIB, 7);
        let file = temp_file_with(&data);
        let mut c = Socket::tcp().unwrap();
        c.connect(None, port, None).await.unwrap();
        let c = std::sync::Arc::new(c);
        let rc = c.clone();
        let n = data.len();
        let reader = tokio::spawn(async move { receive_exact(&rc, n).await });
        assert_eq!(c.send_file(&file).await.unwrap(), n as u64);
        assert!(reader.await.unwrap() == data);
    })
    .await;
}

#[tokio::test]
async fn send_file_on_a_closed_socket() {
    within(async {
        let file = temp_file_with(b"abc");
        let (mut c, _s) = tcp_pair().await;
        c.close().unwrap();
        let err = c.send_file(&file).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IllegalState);
        assert!(
            err.message().starts_with("socket is in an illegal state"),
            "{}",
            err.message()
        );
        let mut fresh = Socket::tcp().unwrap();
        fresh.close().unwrap();
        let err = fresh.send_file(&file).await.unwrap_err();
        assert!(
            err.message().starts_with("socket is in an illegal state"),
            "{}",
            err.message()
        );
    })
    .await;
}

#[tokio::test]
async fn send_file_when_not_connected() {
    within(async {
        let file = temp_file_with(b"abc");
        let s = Socket::tcp().unwrap();
        let err = s.send_file(&file).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IllegalState);
        assert_eq!(err.message(), "socket not listening or connected");
        assert!(!s.is_closed());

        let mut b = Socket::tcp().unwrap();
        b.bind(0, None).await.unwrap();
        let err = b.send_file(&file).await.unwrap_err();
        assert_eq!(err.message(), "socket not listening or connected");
        assert!(b.is_bound());

        let l = listener().await;
        let err = l.send_file(&file).await.unwrap_err();
        assert_eq!(err.message(), "socket not listening or connected");
        assert!(l.is_listening() && !l.is_closed());
        // the listener still accepts
        let mut c = Socket::tcp().unwrap();
        c.connect(None, l.port(), None).await.unwrap();
        let _a = l.accept().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn send_file_after_shutdown_write_is_illegal_state() {
    within(async {
        let file = temp_file_with(b"abc");
        let (c, s) = tcp_pair().await;
        c.shutdown(Shutdown::Write).unwrap();
        let err = c.send_file(&file).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IllegalState);
        assert!(
            err.message().starts_with("socket is in an illegal state"),
            "{}",
            err.message()
        );
        // receive still works after a write shutdown
        s.send(b"r").await.unwrap();
        assert_eq!(&receive_exact(&c, 1).await[..], b"r");
    })
    .await;
}

#[tokio::test]
async fn send_file_send_timeout_then_socket_stays_open() {
    within(async {
        // nobody reads: a large file cannot all be sent within a short timeout
        let data = pseudo_random(32 * MIB, 9);
        let file = temp_file_with(&data);
        let (c, s) = tcp_pair().await;
        c.set_send_timeout(Some(Duration::from_millis(200)));
        let err = c.send_file(&file).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(!c.is_closed());
        drop(s);
    })
    .await;
}

#[tokio::test]
async fn send_file_to_a_vanished_peer_is_an_error_and_closes() {
    within(async {
        let file = temp_file_with(&pseudo_random(256 * 1024, 3));
        let (c, mut s) = tcp_pair().await;
        s.set_option(SO_LINGER, Duration::ZERO).unwrap();
        s.close().unwrap();
        let mut err = None;
        for _ in 0..1000 {
            (&file).rewind().unwrap();
            match c.send_file(&file).await {
                Ok(_) => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let err = err.expect("send_file to a reset peer never failed");
        assert!(err.raw_os_error().is_some(), "{err:?}");
        assert!(c.is_closed(), "peer gone must close the socket");
    })
    .await;
}

#[test]
fn blocking_send_file() {
    within_blocking(|| {
        let data = pseudo_random(MIB + 123, 11);
        let file = temp_file_with(&data);
        let mut l = blocking::Socket::tcp().unwrap();
        l.bind(0, None).unwrap();
        l.listen(None).unwrap();
        let mut c = blocking::Socket::tcp().unwrap();
        c.connect(None, l.port(), None).unwrap();
        let s = l.accept().unwrap();
        let n = data.len();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::with_capacity(n);
            while got.len() < n {
                match s.receive(Some(n - got.len())).unwrap() {
                    Some(b) => got.extend_from_slice(&b),
                    None => break,
                }
            }
            got
        });
        assert_eq!(c.send_file(&file).unwrap(), n as u64);
        let got = reader.join().unwrap();
        assert!(got == data);
        let empty = tempfile::tempfile().unwrap();
        assert_eq!(c.send_file(&empty).unwrap(), 0);
    });
}

// ----- no SIGPIPE, with the signal at its default disposition ------------------

const CHILD_ENV: &str = "BLADE_SOCKET_SIGPIPE_CHILD";
const CHILD_TEST: &str = "no_sigpipe_with_default_disposition";

/// Restores `SIGPIPE` to `SIG_DFL` (Rust's runtime ignores it): any `SIGPIPE`
/// raised from here on kills the process.
#[allow(unsafe_code)]
fn restore_default_sigpipe() {
    // SAFETY: `signal` with SIG_DFL installs no handler; nothing else in this
    // child process depends on SIGPIPE's disposition.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR);
}

/// Sends (with `op`) until it fails; at most `limit` attempts.
async fn until_err<F, Fut, T>(limit: usize, mut op: F) -> blade_socket::SocketError
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = blade_socket::Result<T>>,
{
    for _ in 0..limit {
        if let Err(e) = op().await {
            return e;
        }
    }
    panic!("no error after {limit} sends to a vanished peer");
}

async fn child_body() {
    restore_default_sigpipe();
    let chunk = vec![0x5au8; 16 * 1024];
    let file = temp_file_with(&pseudo_random(256 * 1024, 5));

    // 1. send to a peer that closed normally (FIN, then RST on our data)
    let (c, s) = tcp_pair().await;
    drop(s);
    let e = until_err(10_000, || c.send(&chunk)).await;
    assert!(e.raw_os_error().is_some(), "{e:?}");
    assert!(c.is_closed());

    // 2. send_file to a peer that closed normally
    let (c, s) = tcp_pair().await;
    drop(s);
    let e = until_err(10_000, || c.send_file(&file)).await;
    assert!(e.raw_os_error().is_some(), "{e:?}");

    // 3. send_file to a peer that reset (linger 0)
    let (c, mut s) = tcp_pair().await;
    s.set_option(SO_LINGER, Duration::ZERO).unwrap();
    s.close().unwrap();
    let _ = until_err(10_000, || c.send_file(&file)).await;

    // 4. send to a peer that reset
    let (c, mut s) = tcp_pair().await;
    s.set_option(SO_LINGER, Duration::ZERO).unwrap();
    s.close().unwrap();
    let _ = until_err(10_000, || c.send(&chunk)).await;

    // 5. a peer that vanishes while send_file is under way (a partial count)
    let big = temp_file_with(&pseudo_random(8 * MIB, 6));
    let (c, s) = tcp_pair().await;
    let closer = tokio::spawn(async move {
        // read a little, then vanish mid-transfer
        let _ = receive_exact(&s, 64 * 1024).await;
        drop(s);
    });
    let _ = until_err(10_000, || c.send_file(&big)).await;
    closer.await.unwrap();

    // 6. the blocking facade, both calls
    let (c, s) = tcp_pair().await;
    drop(s);
    let bc: blocking::Socket = c.into();
    let chunk2 = chunk.clone();
    let e = tokio::task::spawn_blocking(move || {
        for _ in 0..10_000 {
            if let Err(e) = bc.send(&chunk2) {
                return e;
            }
        }
        panic!("blocking send never failed");
    })
    .await
    .unwrap();
    assert!(e.raw_os_error().is_some());
    let (c, s) = tcp_pair().await;
    drop(s);
    let bc: blocking::Socket = c.into();
    let file2 = file.try_clone().unwrap();
    tokio::task::spawn_blocking(move || {
        for _ in 0..10_000 {
            if bc.send_file(&file2).is_err() {
                return;
            }
        }
        panic!("blocking send_file never failed");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn no_sigpipe_with_default_disposition() {
    within(async {
        if std::env::var_os(CHILD_ENV).is_some() {
            child_body().await;
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let out = tokio::process::Command::new(exe)
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "child killed by SIGPIPE\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            out.status.success(),
            "child failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        // the child really ran the test (not zero tests by a name mismatch)
        assert!(stdout.contains("1 passed"), "stdout:\n{stdout}");
    })
    .await;
}
