//! Descriptors over Unix sockets (`send_with_fds`/`receive_with_fds`) and
//! `peer_credentials`, on both faces, with concurrent callers, duplicates
//! and a close through `&self`.

mod support;
use support::*;

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom, Write},
    os::fd::{AsFd, AsRawFd, OwnedFd},
    sync::Arc,
    time::Duration,
};

use blade_socket::{ErrorKind, SOCK_DGRAM, SOCK_SEQPACKET, Socket, blocking};

/// A pipe's (read, write) ends as files (`std::io::pipe` needs Rust 1.87,
/// past the crate's MSRV): made by tokio, then taken back as plain descriptors.
fn os_pipe() -> (std::fs::File, std::fs::File) {
    let _in = support::face::runtime().enter();
    let (tx, rx) = tokio::net::unix::pipe::pipe().expect("pipe");
    let r = rx.into_blocking_fd().expect("read end");
    let w = tx.into_blocking_fd().expect("write end");
    (std::fs::File::from(r), std::fs::File::from(w))
}

fn temp_file_with(text: &str) -> File {
    let mut f = tempfile::tempfile().expect("tempfile");
    f.write_all(text.as_bytes()).expect("write");
    f.seek(SeekFrom::Start(0)).expect("seek");
    f
}

fn read_all(fd: OwnedFd) -> String {
    let mut f = File::from(fd);
    f.seek(SeekFrom::Start(0)).expect("seek");
    let mut s = String::new();
    f.read_to_string(&mut s).expect("read");
    s
}

/// Whether `fd` is close-on-exec, from `/proc/self/fdinfo` (octal flags).
fn is_cloexec(fd: &OwnedFd) -> bool {
    let info =
        std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).expect("fdinfo");
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| i64::from_str_radix(v.trim(), 8).ok())
        .expect("flags");
    flags & i64::from(libc::O_CLOEXEC) != 0
}

/// This process's effective uid and gid, from `/proc/self/status`.
fn own_ids() -> (u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let field = |name: &str| -> u32 {
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .expect("line");
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("effective id")
    };
    (field("Uid:"), field("Gid:"))
}

/// A file and a pipe's write end passed over a pair, used from the other
/// side: the file reads its content, the pipe carries bytes back.
#[tokio::test]
async fn a_file_and_a_pipe_are_used_from_the_other_side() {
    within(async {
        let (a, b) = Socket::pair().expect("pair");
        let file = temp_file_with("the file's content");
        let (mut pipe_r, pipe_w) = os_pipe();
        let n = a
            .send_with_fds(b"two", &[file.as_fd(), pipe_w.as_fd()])
            .await
            .expect("send_with_fds");
        assert_eq!(n, 3);
        drop(pipe_w); // only the passed copy keeps the pipe writable
        let got = b.receive_with_fds(None, 4).await.expect("receive_with_fds");
        assert_eq!(got.data.as_deref(), Some(&b"two"[..]));
        assert!(!got.fds_truncated);
        assert_eq!(got.fds.len(), 2);
        assert!(
            got.fds.iter().all(is_cloexec),
            "received descriptors are close-on-exec"
        );
        let mut fds = got.fds.into_iter();
        assert_eq!(read_all(fds.next().expect("file")), "the file's content");
        let mut w = File::from(fds.next().expect("pipe"));
        w.write_all(b"through the passed pipe").expect("write");
        drop(w);
        let mut s = String::new();
        pipe_r.read_to_string(&mut s).expect("read");
        assert_eq!(s, "through the passed pipe");
    })
    .await;
}

#[test]
fn a_file_passes_on_the_blocking_face() {
    within_blocking(|| {
        let (a, b) = blocking::Socket::pair().expect("pair");
        let file = temp_file_with("blocking");
        a.send_with_fds("f", &[file.as_fd()]).expect("send");
        let got = b.receive_with_fds(Some(1), 1).expect("receive");
        assert_eq!(got.data.as_deref(), Some(&b"f"[..]));
        assert_eq!(
            read_all(got.fds.into_iter().next().expect("fd")),
            "blocking"
        );
        assert_eq!(
            a.peer_credentials().expect("creds").pid,
            Some(std::process::id() as i32)
        );
    });
}

/// More descriptors than `max_fds`: only `max_fds` kept, the rest closed,
/// and `fds_truncated` says so; `max_fds == 0` keeps none. No copy leaks:
/// once the kept ones and the originals are dropped, every pipe whose write
/// end was passed reads end of file (a leaked copy would keep it open).
#[tokio::test]
async fn truncation_is_reported_and_nothing_leaks() {
    within(async {
        let (a, b) = Socket::pair().expect("pair");
        let pipes: Vec<_> = (0..5).map(|_| os_pipe()).collect();
        let (readers, writers): (Vec<_>, Vec<_>) = pipes.into_iter().unzip();
        let fds: Vec<_> = writers.iter().map(|w| w.as_fd()).collect();
        a.send_with_fds(b"x", &fds).await.expect("send");
        let got = b.receive_with_fds(None, 2).await.expect("receive");
        assert!(got.fds_truncated);
        assert_eq!(got.fds.len(), 2);
        a.send_with_fds(b"y", &fds[..1]).await.expect("send");
        let none = b.receive_with_fds(None, 0).await.expect("receive");
        assert_eq!(none.data.as_deref(), Some(&b"y"[..]));
        assert!(none.fds.is_empty() && none.fds_truncated);
        // An odd count: CMSG_SPACE's padding would admit one more than asked.
        a.send_with_fds(b"z", &fds[..3]).await.expect("send");
        let one = b.receive_with_fds(None, 1).await.expect("receive");
        assert_eq!((one.fds.len(), one.fds_truncated), (1, true));
        drop((got, none, one));
        drop(fds);
        drop(writers);
        for (i, r) in readers.into_iter().enumerate() {
            use tokio::io::AsyncReadExt;
            let mut r = tokio::net::unix::pipe::Receiver::from_file(r).expect("receiver");
            let mut buf = [0u8; 1];
            // End of file comes at once; a leaked write end would keep it waiting.
            match tokio::time::timeout(Duration::from_secs(5), r.read(&mut buf)).await {
                Ok(Ok(0)) => {}
                other => panic!("pipe {i}: a copy of its write end is still open: {other:?}"),
            }
        }
    })
    .await;
}

/// Descriptors of two sends never merge: a read ends where a message that
/// carried descriptors ends, even when both are queued.
#[tokio::test]
async fn two_sends_do_not_merge() {
    within(async {
        let (a, b) = Socket::pair().expect("pair");
        let (f1, f2) = (temp_file_with("one"), temp_file_with("two"));
        a.send_with_fds(b"ab", &[f1.as_fd()]).await.expect("send");
        a.send_with_fds(b"cd", &[f2.as_fd()]).await.expect("send");
        let first = b.receive_with_fds(None, 4).await.expect("receive");
        assert_eq!(first.data.as_deref(), Some(&b"ab"[..]));
        assert_eq!(read_all(first.fds.into_iter().next().expect("fd")), "one");
        let second = b.receive_with_fds(None, 4).await.expect("receive");
        assert_eq!(second.data.as_deref(), Some(&b"cd"[..]));
        assert_eq!(read_all(second.fds.into_iter().next().expect("fd")), "two");
    })
    .await;
}

/// A message bigger than the socket's buffer goes in several writes; its
/// descriptor travels with the first byte.
#[tokio::test(flavor = "multi_thread")]
async fn descriptors_travel_with_the_first_byte_of_a_long_message() {
    within(async {
        let (a, b) = Socket::pair().expect("pair");
        let data = pattern(4 * 1024 * 1024);
        let file = temp_file_with("first");
        let sender = tokio::spawn({
            let data = data.clone();
            async move {
                let fd = file.as_fd();
                a.send_with_fds(&data, &[fd]).await.expect("send");
                a
            }
        });
        let first = b.receive_with_fds(None, 1).await.expect("receive");
        assert_eq!(first.fds.len(), 1);
        let mut got = first.data.expect("data").to_vec();
        assert_eq!(read_all(first.fds.into_iter().next().expect("fd")), "first");
        while got.len() < data.len() {
            let more = b.receive_with_fds(None, 1).await.expect("receive");
            assert!(more.fds.is_empty(), "no descriptor after the first read");
            got.extend_from_slice(&more.data.expect("data"));
        }
        assert!(got == data);
        let _a = sender.await.expect("task");
    })
    .await;
}

/// Wrong family, empty stream message, too many descriptors: clear errors.
#[tokio::test]
async fn errors_on_tcp_and_bad_arguments() {
    within(async {
        let (t1, _t2) = tcp_pair().await;
        let file = temp_file_with("x");
        let e = t1.send_with_fds(b"x", &[file.as_fd()]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert_eq!(e.bytes_sent(), Some(0));
        let e = t1.receive_with_fds(None, 1).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        let e = t1.peer_credentials().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        let (a, b) = Socket::pair().expect("pair");
        let e = a.send_with_fds(b"", &[file.as_fd()]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        let many = vec![file.as_fd(); 254];
        let e = a.send_with_fds(b"x", &many).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        // 253 is the limit, and it passes.
        a.send_with_fds(b"x", &many[..253])
            .await
            .expect("253 descriptors");
        let got = b.receive_with_fds(None, 253).await.expect("receive");
        assert_eq!((got.fds.len(), got.fds_truncated), (253, false));
        // A record may be empty.
        let (s1, s2) = Socket::pair_of(SOCK_SEQPACKET).expect("seqpacket");
        s1.send_with_fds(b"", &[file.as_fd()])
            .await
            .expect("empty record");
        let got = s2.receive_with_fds(None, 1).await.expect("receive");
        assert_eq!((got.data.as_deref(), got.fds.len()), (Some(&b""[..]), 1));
        let mut closed = Socket::pair().expect("pair").0;
        closed.close().expect("close");
        assert_eq!(
            closed.peer_credentials().unwrap_err().kind(),
            ErrorKind::IllegalState
        );
    })
    .await;
}

/// The peer's credentials are this process's pid, uid and gid.
#[test]
fn peer_credentials_are_our_own() {
    let (a, b) = blocking::Socket::pair().expect("pair");
    for s in [&a, &b] {
        let c = s.peer_credentials().expect("peer_credentials");
        assert_eq!(c.pid, Some(std::process::id() as i32));
        assert_eq!((c.uid, c.gid), own_ids());
    }
}

/// Concurrent senders on one socket (and its `try_clone` duplicate):
/// every record arrives once, with exactly its own descriptor.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_and_a_duplicate_keep_each_descriptor_with_its_record() {
    within(async {
        let (a, b) = Socket::pair_of(SOCK_SEQPACKET).expect("pair");
        let a = Arc::new(a);
        let dup = Arc::new(a.try_clone().expect("try_clone"));
        let mut tasks = Vec::new();
        for i in 0..8u32 {
            let s = if i % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&dup)
            };
            tasks.push(tokio::spawn(async move {
                for j in 0..20u32 {
                    let name = format!("{i}-{j}");
                    let f = temp_file_with(&name);
                    s.send_with_fds(name.as_bytes(), &[f.as_fd()])
                        .await
                        .expect("send");
                }
            }));
        }
        let mut seen = std::collections::HashSet::new();
        for _ in 0..160 {
            let got = b.receive_with_fds(Some(64), 2).await.expect("receive");
            let name = String::from_utf8(got.data.expect("data").to_vec()).expect("utf-8");
            assert_eq!(got.fds.len(), 1, "{name}");
            assert_eq!(read_all(got.fds.into_iter().next().expect("fd")), name);
            assert!(seen.insert(name), "a record arrived twice");
        }
        for t in tasks {
            t.await.expect("task");
        }
    })
    .await;
}

/// A `receive_with_fds` waiting on a socket wakes when another task closes
/// it through `&self`; a duplicate still works after.
#[tokio::test(flavor = "multi_thread")]
async fn close_shared_wakes_a_waiting_receive_with_fds() {
    within(async {
        let (a, b) = Socket::pair_of(SOCK_DGRAM).expect("pair");
        let b = Arc::new(b);
        let waiting = tokio::spawn({
            let b = Arc::clone(&b);
            async move { b.receive_with_fds(None, 1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        b.close_shared().expect("close_shared");
        let e = waiting.await.expect("task").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IllegalState, "{e}");
        drop(a);
    })
    .await;
}

/// A receive timeout applies, as for `receive`.
#[tokio::test]
async fn receive_with_fds_times_out() {
    within(async {
        let (_a, b) = Socket::pair().expect("pair");
        b.set_receive_timeout(Some(Duration::from_millis(50)));
        let e = b.receive_with_fds(None, 1).await.unwrap_err();
        assert!(e.is_timeout(), "{e}");
    })
    .await;
}
