//! Errors that say why: Blade's text first, then the cause in parentheses
//! (API.md §2), with `io_kind()` telling a closed socket (`NotConnected`)
//! from a call its state or type does not allow (`InvalidInput`), on both
//! faces; and no Rust `Debug` syntax in any message.

mod support;
use support::*;

use std::{io, time::Duration};

use blade_socket::{
    ErrorKind, OptionValue, SHUT_RD, SHUT_WR, SO_KEEPALIVE, SO_LINGER, SO_RCVBUF, SO_RCVTIMEO,
    Socket, SocketError, SocketOption, blocking,
};

const CLOSED: &str = "socket is in an illegal state (closed)";

#[track_caller]
fn assert_says(e: &SocketError, message: &str, io_kind: io::ErrorKind) {
    assert_eq!(e.kind(), ErrorKind::IllegalState, "{e:?}");
    assert_eq!(e.message(), message, "{e:?}");
    assert_eq!(e.to_string(), message);
    assert_eq!(e.io_kind(), io_kind, "{e:?}");
    // Blade's text stays first, so `contains` checks written for it hold.
    assert!(e.message().starts_with("socket is in an illegal state"));
    let converted = io::Error::from(e.clone());
    assert_eq!(converted.kind(), io_kind);
    assert_eq!(converted.to_string(), message);
}

/// A reset peer: `c`'s next receive fails with `ECONNRESET` and closes it.
async fn reset_peer() -> Socket {
    let (c, mut s) = tcp_pair().await;
    s.set_option(SO_LINGER, Some(Duration::ZERO)).unwrap();
    s.close().unwrap();
    let e = c.receive(None).await.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e:?}");
    c
}

#[tokio::test]
async fn closed_by_the_user() {
    within(async {
        let (mut c, _s) = tcp_pair().await;
        c.close().unwrap();
        assert_says(
            &c.send("x").await.unwrap_err(),
            CLOSED,
            io::ErrorKind::NotConnected,
        );
        assert_says(
            &c.receive(None).await.unwrap_err(),
            CLOSED,
            io::ErrorKind::NotConnected,
        );
        assert_says(&c.info().unwrap_err(), CLOSED, io::ErrorKind::NotConnected);
        assert_says(
            &c.listen(None).unwrap_err(),
            CLOSED,
            io::ErrorKind::NotConnected,
        );
    })
    .await;
}

#[tokio::test]
async fn closed_after_a_reset_names_it_and_keeps_it() {
    within(async {
        let mut c = reset_peer().await;
        assert!(c.is_closed());
        let after = "socket is in an illegal state (closed after: Connection reset by peer)";
        assert_says(
            &c.receive(None).await.unwrap_err(),
            after,
            io::ErrorKind::NotConnected,
        );
        assert_says(
            &c.send("x").await.unwrap_err(),
            after,
            io::ErrorKind::NotConnected,
        );
        // The user's close after the crate's own keeps the first cause.
        c.close().unwrap();
        assert_says(
            &c.receive(None).await.unwrap_err(),
            after,
            io::ErrorKind::NotConnected,
        );
    })
    .await;
}

#[tokio::test]
async fn closed_after_a_failed_connect_names_its_error() {
    within(async {
        let mut c = Socket::tcp().unwrap();
        let e = c
            .connect(Some("127.0.0.1"), closed_port(), None)
            .await
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        assert_says(
            &c.send("x").await.unwrap_err(),
            "socket is in an illegal state (closed after: Connection refused)",
            io::ErrorKind::NotConnected,
        );
    })
    .await;
}

#[tokio::test]
async fn closed_after_a_connect_timeout_says_so() {
    within(async {
        let (l, _filler) = full_backlog().await;
        let port = l.port();
        let mut c = Socket::tcp().unwrap();
        let e = c
            .connect(None, port, Some(Duration::from_millis(100)))
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert_says(
            &c.send("x").await.unwrap_err(),
            "socket is in an illegal state (closed after: connect timed out)",
            io::ErrorKind::NotConnected,
        );
    })
    .await;
}

#[tokio::test]
async fn wrong_use_says_which() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        assert_says(
            &s.listen(None).unwrap_err(),
            "socket is in an illegal state (not bound)",
            io::ErrorKind::InvalidInput,
        );
        let no_datagrams = "socket is in an illegal state (a stream socket has no datagrams)";
        assert_says(
            &s.receive_many(8).await.unwrap_err(),
            no_datagrams,
            io::ErrorKind::InvalidInput,
        );
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
        assert_says(
            &s.send_many_to(to, &["x"]).await.unwrap_err(),
            no_datagrams,
            io::ErrorKind::InvalidInput,
        );
        s.bind(0, None).await.unwrap();
        s.listen(None).unwrap();
        assert_says(
            &s.listen(None).unwrap_err(),
            "socket is in an illegal state (listening)",
            io::ErrorKind::InvalidInput,
        );
        let port = s.port();
        assert_says(
            &s.connect(None, port, None).await.unwrap_err(),
            "socket is in an illegal state (listening)",
            io::ErrorKind::InvalidInput,
        );
        assert!(s.is_listening(), "the listener stays open");

        let (c, _s) = tcp_pair().await;
        c.shutdown(SHUT_WR).unwrap();
        assert_says(
            &c.send("x").await.unwrap_err(),
            "socket is in an illegal state (shut for writing)",
            io::ErrorKind::InvalidInput,
        );
        c.shutdown(SHUT_RD).unwrap();
        assert_says(
            &c.receive(None).await.unwrap_err(),
            "socket is in an illegal state (shut for reading)",
            io::ErrorKind::InvalidInput,
        );
    })
    .await;
}

#[test]
fn the_blocking_face_says_the_same() {
    within_blocking(|| {
        let mut s = blocking::Socket::tcp().unwrap();
        assert_says(
            &s.listen(None).unwrap_err(),
            "socket is in an illegal state (not bound)",
            io::ErrorKind::InvalidInput,
        );
        s.close().unwrap();
        assert_says(
            &s.receive(None).unwrap_err(),
            CLOSED,
            io::ErrorKind::NotConnected,
        );
        let mut c = blocking::Socket::tcp().unwrap();
        c.connect(Some("127.0.0.1"), closed_port(), None)
            .unwrap_err();
        assert_says(
            &c.send("x").unwrap_err(),
            "socket is in an illegal state (closed after: Connection refused)",
            io::ErrorKind::NotConnected,
        );
    });
}

/// Every option, given every kind of value: a failure's message never shows
/// Rust `Debug` syntax (`Some(`, `Duration(`, `Bool(`, `Int(`, `{`...).
#[test]
fn option_errors_are_in_words() {
    let mut s = Socket::tcp().unwrap();
    let e = s
        .set_option(SO_KEEPALIVE, Duration::from_secs(5))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        e.message(),
        "SO_KEEPALIVE takes true or false, not a duration"
    );
    let e = s.set_option(SO_KEEPALIVE, 7).unwrap_err();
    assert_eq!(e.message(), "SO_KEEPALIVE takes true or false, not 7");
    let e = s.set_option(SO_RCVTIMEO, true).unwrap_err();
    assert!(e.message().starts_with("SO_RCVTIMEO takes "), "{e}");
    let e = s.set_option(SO_RCVBUF, -1).unwrap_err();
    assert_eq!(e.message(), "SO_RCVBUF cannot be negative: -1");

    let values = [
        OptionValue::Bool(true),
        OptionValue::Int(-3),
        OptionValue::Int(i64::MAX),
        OptionValue::Duration(None),
        OptionValue::Duration(Some(Duration::from_millis(1500))),
        OptionValue::Duration(Some(Duration::MAX)),
    ];
    let options = blade_socket_options();
    for option in options {
        for v in &values {
            let mut s = Socket::tcp().unwrap();
            if let Err(e) = s.set_option(option, v.clone()) {
                no_debug_syntax(&e, &format!("{option:?} = {v:?}"));
            }
        }
        if let Err(e) = Socket::tcp().unwrap().get_option(option) {
            no_debug_syntax(&e, &format!("get {option:?}"));
        }
    }
    let e = s
        .set_option(SocketOption::from_raw(9999), true)
        .unwrap_err();
    no_debug_syntax(&e, "an unknown option");
}

fn blade_socket_options() -> Vec<SocketOption> {
    use blade_socket::*;
    vec![
        SO_DEBUG,
        SO_ACCEPTCONN,
        SO_REUSEADDR,
        SO_KEEPALIVE,
        SO_DONTROUTE,
        SO_BROADCAST,
        SO_USELOOPBACK,
        SO_LINGER,
        SO_OOBINLINE,
        SO_REUSEPORT,
        SO_TIMESTAMP,
        SO_SNDBUF,
        SO_RCVBUF,
        SO_SNDLOWAT,
        SO_RCVLOWAT,
        SO_SNDTIMEO,
        SO_RCVTIMEO,
        SO_ERROR,
        SO_TYPE,
    ]
}

#[track_caller]
fn no_debug_syntax(e: &SocketError, what: &str) {
    let m = e.message();
    for syntax in [
        "Some(",
        "None)",
        "Duration(",
        "Bool(",
        "Int(",
        "SocketOption(",
        "{",
        "\\\"",
    ] {
        assert!(!m.contains(syntax), "{what}: {m:?} shows {syntax}");
    }
}
