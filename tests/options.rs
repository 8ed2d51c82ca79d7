mod support;
use support::*;

use std::time::Duration;

use blade_socket::{
    ErrorKind, OptionValue, SO_ACCEPTCONN, SO_BROADCAST, SO_DONTROUTE, SO_ERROR, SO_KEEPALIVE,
    SO_LINGER, SO_OOBINLINE, SO_RCVBUF, SO_RCVLOWAT, SO_RCVTIMEO, SO_REUSEADDR, SO_REUSEPORT,
    SO_SNDBUF, SO_SNDLOWAT, SO_SNDTIMEO, SO_TIMESTAMP, SO_TYPE, SO_USELOOPBACK, SOCK_DGRAM,
    SOCK_STREAM, Socket, SocketError, SocketOption, blocking,
};

/// Sets `$opt` to `$set` on `$sock` and asserts it reads back as `$expect`.
macro_rules! round_trip {
    ($sock:expr, $opt:expr, $set:expr => $expect:expr) => {{
        let opt = $opt;
        $sock
            .set_option(opt, $set)
            .unwrap_or_else(|e| panic!("set {:?} = {:?}: {e}", opt, stringify!($set)));
        assert_eq!(
            $sock.get_option(opt).unwrap(),
            $expect,
            "{:?} after setting {}",
            opt,
            stringify!($set)
        );
    }};
}

/// The flags a user may set (and that Linux accepts unprivileged or as root).
const FLAGS: [SocketOption; 7] = [
    SO_REUSEADDR,
    SO_KEEPALIVE,
    SO_DONTROUTE,
    SO_BROADCAST,
    SO_OOBINLINE,
    SO_REUSEPORT,
    SO_TIMESTAMP,
];

fn assert_invalid(r: Result<(), SocketError>, what: &str) {
    let err = r.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{what}: {err:?}");
}

fn check_flags(s: &mut Socket) {
    for opt in FLAGS {
        round_trip!(s, opt, true => OptionValue::Bool(true));
        round_trip!(s, opt, false => OptionValue::Bool(false));
        round_trip!(s, opt, 1 => OptionValue::Bool(true));
        round_trip!(s, opt, 0 => OptionValue::Bool(false));
        round_trip!(s, opt, 1i64 => OptionValue::Bool(true));
        round_trip!(s, opt, 0u32 => OptionValue::Bool(false));
    }
}

#[tokio::test]
async fn flags_take_bool_or_0_1_and_read_back_bool() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        check_flags(&mut s);
        let mut u = Socket::udp().unwrap();
        check_flags(&mut u);
    })
    .await;
}

#[tokio::test]
async fn flags_reject_other_integers_and_other_kinds() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        for opt in FLAGS {
            s.set_option(opt, true).unwrap();
            for bad in [2i64, -1, 255, i64::MAX, i64::MIN] {
                assert_invalid(s.set_option(opt, bad), &format!("{opt:?} = {bad}"));
            }
            assert_invalid(
                s.set_option(opt, Duration::from_secs(1)),
                &format!("{opt:?} = duration"),
            );
            assert_invalid(
                s.set_option(opt, None::<Duration>),
                &format!("{opt:?} = None"),
            );
            // a rejected value changes nothing
            assert_eq!(s.get_option(opt).unwrap(), OptionValue::Bool(true));
            assert!(!s.is_closed());
        }
    })
    .await;
}

#[tokio::test]
async fn keepalive_is_really_set_in_the_os() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        s.set_option(SO_KEEPALIVE, true).unwrap();
        assert!(s.with_sockref(|r| r.keepalive()).unwrap());
        s.set_option(SO_KEEPALIVE, 0).unwrap();
        assert!(!s.with_sockref(|r| r.keepalive()).unwrap());
        s.set_option(SO_REUSEADDR, 1).unwrap();
        assert!(s.with_sockref(|r| r.reuse_address()).unwrap());
    })
    .await;
}

#[tokio::test]
async fn buffer_sizes_are_ints() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        for opt in [SO_SNDBUF, SO_RCVBUF] {
            let before = s.get_option(opt).unwrap();
            assert!(
                matches!(before, OptionValue::Int(n) if n > 0),
                "{opt:?}: {before:?}"
            );
            s.set_option(opt, 32768).unwrap();
            match s.get_option(opt).unwrap() {
                // Linux doubles the value it stores
                OptionValue::Int(n) => assert!(n >= 32768, "{opt:?} read back {n}"),
                other => panic!("{opt:?} read back {other:?}"),
            }
            s.set_option(opt, 65536i64).unwrap();
            let OptionValue::Int(big) = s.get_option(opt).unwrap() else {
                panic!("not an Int")
            };
            assert!(big >= 65536, "{opt:?} read back {big}");
            s.set_option(opt, 16384u32).unwrap();
            let OptionValue::Int(small) = s.get_option(opt).unwrap() else {
                panic!("not an Int")
            };
            assert!(small < big, "{opt:?}: {small} after {big}");
            // wrong kinds
            assert_invalid(s.set_option(opt, true), "buffer = bool");
            assert_invalid(
                s.set_option(opt, Duration::from_secs(1)),
                "buffer = duration",
            );
            assert_invalid(s.set_option(opt, i64::MAX), "buffer = i64::MAX");
            assert!(!s.is_closed());
        }
        // what the OS reports, exactly
        let os = s.with_sockref(|r| r.recv_buffer_size()).unwrap();
        assert_eq!(
            s.get_option(SO_RCVBUF).unwrap(),
            OptionValue::Int(os as i64)
        );
        let os = s.with_sockref(|r| r.send_buffer_size()).unwrap();
        assert_eq!(
            s.get_option(SO_SNDBUF).unwrap(),
            OptionValue::Int(os as i64)
        );
    })
    .await;
}

#[tokio::test]
async fn low_water_marks_read_back_as_int() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        assert!(matches!(
            s.get_option(SO_SNDLOWAT).unwrap(),
            OptionValue::Int(_)
        ));
        round_trip!(s, SO_RCVLOWAT, 10 => OptionValue::Int(10));
        round_trip!(s, SO_RCVLOWAT, 1 => OptionValue::Int(1));
        assert_invalid(s.set_option(SO_RCVLOWAT, true), "lowat = bool");
    })
    .await;
}

#[tokio::test]
async fn timeouts_take_duration_none_or_millis() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        for (opt, getter) in [
            (
                SO_SNDTIMEO,
                Socket::send_timeout as fn(&Socket) -> Option<Duration>,
            ),
            (SO_RCVTIMEO, Socket::receive_timeout),
        ] {
            assert_eq!(s.get_option(opt).unwrap(), OptionValue::Duration(None));
            assert_eq!(getter(&s), None);

            s.set_option(opt, Duration::from_millis(1500)).unwrap();
            assert_eq!(
                s.get_option(opt).unwrap(),
                OptionValue::Duration(Some(Duration::from_millis(1500)))
            );
            assert_eq!(getter(&s), Some(Duration::from_millis(1500)));

            s.set_option(opt, None::<Duration>).unwrap();
            assert_eq!(s.get_option(opt).unwrap(), OptionValue::Duration(None));
            assert_eq!(getter(&s), None);

            s.set_option(opt, 250).unwrap();
            assert_eq!(
                s.get_option(opt).unwrap(),
                OptionValue::Duration(Some(Duration::from_millis(250)))
            );
            assert_eq!(getter(&s), Some(Duration::from_millis(250)));

            s.set_option(opt, 3000i64).unwrap();
            assert_eq!(getter(&s), Some(Duration::from_secs(3)));
            s.set_option(opt, 0).unwrap();
            assert_eq!(s.get_option(opt).unwrap(), OptionValue::Duration(None));
            assert_eq!(getter(&s), None);

            s.set_option(opt, 700u32).unwrap();
            assert_eq!(getter(&s), Some(Duration::from_millis(700)));

            s.set_option(opt, Some(Duration::ZERO)).unwrap();
            assert_eq!(s.get_option(opt).unwrap(), OptionValue::Duration(None));
            assert_eq!(getter(&s), None);

            s.set_option(opt, Duration::MAX).unwrap();
            assert_eq!(
                s.get_option(opt).unwrap(),
                OptionValue::Duration(Some(Duration::MAX))
            );
            assert_eq!(getter(&s), Some(Duration::MAX));

            // invalid: negative, wrong kind; nothing changes
            s.set_option(opt, 100).unwrap();
            assert_invalid(s.set_option(opt, -1), "negative timeout");
            assert_invalid(s.set_option(opt, i64::MIN), "very negative timeout");
            assert_invalid(s.set_option(opt, true), "timeout = bool");
            assert_eq!(getter(&s), Some(Duration::from_millis(100)));
            assert!(!s.is_closed());
        }
    })
    .await;
}

#[tokio::test]
async fn setters_and_timeout_options_are_the_same_value() {
    within(async {
        let s = Socket::tcp().unwrap();
        s.set_send_timeout(Some(Duration::from_millis(1234)));
        assert_eq!(
            s.get_option(SO_SNDTIMEO).unwrap(),
            OptionValue::Duration(Some(Duration::from_millis(1234)))
        );
        s.set_receive_timeout(Some(Duration::from_millis(4321)));
        assert_eq!(
            s.get_option(SO_RCVTIMEO).unwrap(),
            OptionValue::Duration(Some(Duration::from_millis(4321)))
        );
        s.set_receive_timeout(Some(Duration::ZERO));
        assert_eq!(
            s.get_option(SO_RCVTIMEO).unwrap(),
            OptionValue::Duration(None)
        );
        s.set_send_timeout(Some(Duration::MAX));
        assert_eq!(
            s.get_option(SO_SNDTIMEO).unwrap(),
            OptionValue::Duration(Some(Duration::MAX))
        );
        // the two timeouts are independent
        assert_eq!(s.receive_timeout(), None);
    })
    .await;
}

#[tokio::test]
async fn rcvtimeo_option_bounds_receive_and_socket_stays_usable() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        s.set_option(SO_RCVTIMEO, 150).unwrap();
        let err = s.receive(None).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(!s.is_closed());
        c.send(b"now").await.unwrap();
        assert_eq!(&receive_exact(&s, 3).await[..], b"now");
    })
    .await;
}

#[tokio::test]
async fn duration_max_timeout_behaves_as_none() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        s.set_option(SO_RCVTIMEO, Duration::MAX).unwrap();
        let mut c = c;
        c.set_option(SO_SNDTIMEO, Duration::MAX).unwrap();
        let reader = tokio::spawn(async move {
            let got = s.receive(None).await;
            (s, got)
        });
        c.send(b"max").await.unwrap();
        let (s, got) = reader.await.unwrap();
        let got = got.unwrap().unwrap();
        assert!(b"max".starts_with(&got));
        drop(s);
    })
    .await;
}

#[tokio::test]
async fn linger_values() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        assert_eq!(s.get_option(SO_LINGER).unwrap(), OptionValue::Duration(None));
        round_trip!(s, SO_LINGER, Duration::from_secs(2) => OptionValue::Duration(Some(Duration::from_secs(2))));
        round_trip!(s, SO_LINGER, Some(Duration::ZERO) => OptionValue::Duration(Some(Duration::ZERO)));
        round_trip!(s, SO_LINGER, Duration::from_millis(500) => OptionValue::Duration(Some(Duration::from_secs(1))));
        round_trip!(s, SO_LINGER, Duration::from_millis(1500) => OptionValue::Duration(Some(Duration::from_secs(2))));
        round_trip!(s, SO_LINGER, Duration::from_nanos(1) => OptionValue::Duration(Some(Duration::from_secs(1))));
        round_trip!(s, SO_LINGER, None::<Duration> => OptionValue::Duration(None));
        round_trip!(s, SO_LINGER, 3 => OptionValue::Duration(Some(Duration::from_secs(3))));
        round_trip!(s, SO_LINGER, 0 => OptionValue::Duration(None));
        round_trip!(s, SO_LINGER, 7i64 => OptionValue::Duration(Some(Duration::from_secs(7))));
        round_trip!(s, SO_LINGER, -5 => OptionValue::Duration(None));
        round_trip!(s, SO_LINGER, 4u32 => OptionValue::Duration(Some(Duration::from_secs(4))));
        round_trip!(s, SO_LINGER, i32::MAX => OptionValue::Duration(Some(Duration::from_secs(i32::MAX as u64))));

        s.set_option(SO_LINGER, 5).unwrap();
        let too_long = i64::from(i32::MAX) + 1;
        assert_invalid(s.set_option(SO_LINGER, too_long), "linger > i32::MAX s");
        assert_invalid(s.set_option(SO_LINGER, u32::MAX), "linger u32::MAX s");
        assert_invalid(
            s.set_option(SO_LINGER, Duration::from_secs(too_long as u64)),
            "linger duration > i32::MAX s",
        );
        assert_invalid(s.set_option(SO_LINGER, Duration::MAX), "linger Duration::MAX");
        assert_invalid(s.set_option(SO_LINGER, true), "linger = bool");
        assert_eq!(
            s.get_option(SO_LINGER).unwrap(),
            OptionValue::Duration(Some(Duration::from_secs(5)))
        );
        // the OS holds the same
        assert_eq!(
            s.with_sockref(|r| r.linger()).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert!(!s.is_closed());
    })
    .await;
}

#[tokio::test]
async fn linger_zero_resets_the_connection_on_close() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        c.set_option(SO_LINGER, Duration::ZERO).unwrap();
        c.close().unwrap();
        let err = s.receive(None).await.expect_err("a reset, not EOF");
        assert_eq!(err.raw_os_error(), Some(libc::ECONNRESET), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn linger_half_second_lingers_instead_of_resetting() {
    within(async {
        let (mut c, s) = tcp_pair().await;
        c.set_option(SO_LINGER, Duration::from_millis(500)).unwrap();
        c.send(b"bye").await.unwrap();
        c.close().unwrap();
        assert_eq!(&receive_exact(&s, 3).await[..], b"bye");
        assert_eq!(s.receive(None).await.unwrap(), None, "orderly EOF expected");
    })
    .await;
}

#[tokio::test]
async fn so_type_and_so_error() {
    within(async {
        let t = Socket::tcp().unwrap();
        assert_eq!(
            t.get_option(SO_TYPE).unwrap(),
            OptionValue::Int(i64::from(SOCK_STREAM.raw()))
        );
        assert_eq!(
            t.get_option(SO_TYPE).unwrap(),
            OptionValue::Int(i64::from(libc::SOCK_STREAM))
        );
        let u = Socket::udp().unwrap();
        assert_eq!(
            u.get_option(SO_TYPE).unwrap(),
            OptionValue::Int(i64::from(SOCK_DGRAM.raw()))
        );
        assert_eq!(t.get_option(SO_ERROR).unwrap(), OptionValue::Int(0));
        assert_eq!(u.get_option(SO_ERROR).unwrap(), OptionValue::Int(0));
        let (c, s) = tcp_pair().await;
        assert_eq!(c.get_option(SO_ERROR).unwrap(), OptionValue::Int(0));
        assert_eq!(
            s.get_option(SO_TYPE).unwrap(),
            OptionValue::Int(i64::from(libc::SOCK_STREAM))
        );
    })
    .await;
}

#[tokio::test]
async fn read_only_options_refuse_set() {
    within(async {
        let mut l = listener().await;
        let mut t = Socket::tcp().unwrap();
        for s in [&mut t, &mut l] {
            for opt in [SO_TYPE, SO_ERROR, SO_ACCEPTCONN] {
                for value in [
                    OptionValue::Bool(true),
                    OptionValue::Int(1),
                    OptionValue::Int(0),
                ] {
                    let err = s.set_option(opt, value.clone()).unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{opt:?}");
                    assert_eq!(err.message(), "the given option is read-only", "{opt:?}");
                    assert_eq!(err.to_string(), "the given option is read-only");
                }
            }
            assert!(!s.is_closed());
        }
        assert!(l.is_listening());
        assert_eq!(
            l.get_option(SO_ACCEPTCONN).unwrap(),
            OptionValue::Bool(true)
        );
    })
    .await;
}

#[tokio::test]
async fn acceptconn_reflects_listening() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        assert_eq!(
            s.get_option(SO_ACCEPTCONN).unwrap(),
            OptionValue::Bool(false)
        );
        s.bind(0, None).await.unwrap();
        assert_eq!(
            s.get_option(SO_ACCEPTCONN).unwrap(),
            OptionValue::Bool(false)
        );
        s.listen(None).unwrap();
        assert_eq!(
            s.get_option(SO_ACCEPTCONN).unwrap(),
            OptionValue::Bool(true)
        );
        let (c, a) = tcp_pair().await;
        assert_eq!(
            c.get_option(SO_ACCEPTCONN).unwrap(),
            OptionValue::Bool(false)
        );
        assert_eq!(
            a.get_option(SO_ACCEPTCONN).unwrap(),
            OptionValue::Bool(false)
        );
    })
    .await;
}

#[tokio::test]
async fn option_the_os_rejects_is_an_error_and_socket_stays_open() {
    within(async {
        let (c, mut s) = tcp_pair().await;
        // Linux refuses to set SO_SNDLOWAT (ENOPROTOOPT).
        let err = s.set_option(SO_SNDLOWAT, 4096).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Os, "{err:?}");
        assert!(err.raw_os_error().is_some());
        assert!(!s.is_closed());
        assert!(s.is_connected());
        c.send(b"still").await.unwrap();
        assert_eq!(&receive_exact(&s, 5).await[..], b"still");
    })
    .await;
}

#[tokio::test]
async fn options_the_platform_lacks_or_unknown_are_errors() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        #[cfg(target_os = "linux")]
        {
            assert_eq!(SO_USELOOPBACK.raw(), -1);
            let err = s.set_option(SO_USELOOPBACK, true).unwrap_err();
            assert!(
                err.message().contains("not supported on this platform"),
                "{err}"
            );
            assert!(s.get_option(SO_USELOOPBACK).is_err());
        }
        let unknown = SocketOption::from_raw(987_654);
        assert!(s.set_option(unknown, 1).is_err());
        assert!(s.get_option(unknown).is_err());
        assert!(!s.is_closed());
        s.set_option(SO_KEEPALIVE, true).unwrap();
    })
    .await;
}

#[tokio::test]
async fn nodelay_round_trip() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        assert!(!s.nodelay().unwrap());
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
        assert!(s.with_sockref(|r| r.tcp_nodelay()).unwrap());
        s.set_nodelay(false).unwrap();
        assert!(!s.nodelay().unwrap());

        let (mut c, mut a) = tcp_pair().await;
        c.set_nodelay(true).unwrap();
        a.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap() && a.nodelay().unwrap());
        c.send(b"q").await.unwrap();
        assert_eq!(&receive_exact(&a, 1).await[..], b"q");

        // UDP has no TCP_NODELAY: an error, and the socket stays open
        let mut u = Socket::udp().unwrap();
        assert!(u.set_nodelay(true).is_err());
        assert!(!u.is_closed());
    })
    .await;
}

fn check_all_kinds(s: &mut Socket, state: &str) {
    round_trip!(s, SO_KEEPALIVE, true => OptionValue::Bool(true));
    round_trip!(s, SO_KEEPALIVE, false => OptionValue::Bool(false));
    round_trip!(s, SO_REUSEADDR, 1 => OptionValue::Bool(true));
    round_trip!(s, SO_RCVTIMEO, 300 => OptionValue::Duration(Some(Duration::from_millis(300))));
    round_trip!(s, SO_SNDTIMEO, Duration::from_secs(4) => OptionValue::Duration(Some(Duration::from_secs(4))));
    round_trip!(s, SO_LINGER, 2 => OptionValue::Duration(Some(Duration::from_secs(2))));
    round_trip!(s, SO_LINGER, None::<Duration> => OptionValue::Duration(None));
    s.set_option(SO_SNDBUF, 65536).unwrap();
    assert!(matches!(s.get_option(SO_SNDBUF).unwrap(), OptionValue::Int(n) if n >= 65536));
    assert_eq!(
        s.get_option(SO_TYPE).unwrap(),
        OptionValue::Int(i64::from(libc::SOCK_STREAM)),
        "{state}"
    );
    assert_eq!(
        s.get_option(SO_ERROR).unwrap(),
        OptionValue::Int(0),
        "{state}"
    );
    s.set_nodelay(true).unwrap();
    assert!(s.nodelay().unwrap(), "{state}");
    // back to no timeouts so later steps are not bounded by them
    s.set_option(SO_RCVTIMEO, None::<Duration>).unwrap();
    s.set_option(SO_SNDTIMEO, None::<Duration>).unwrap();
}

#[tokio::test]
async fn options_work_in_every_state() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        check_all_kinds(&mut s, "fresh");
        s.bind(0, None).await.unwrap();
        check_all_kinds(&mut s, "bound");
        s.listen(None).unwrap();
        check_all_kinds(&mut s, "listening");
        let mut c = Socket::tcp().unwrap();
        c.connect(None, s.port(), None).await.unwrap();
        check_all_kinds(&mut c, "connected");
        let mut a = s.accept().await.unwrap();
        check_all_kinds(&mut a, "accepted");
        c.send(b"ok").await.unwrap();
        assert_eq!(&receive_exact(&a, 2).await[..], b"ok");
        // shut down one direction: options still work
        c.shutdown(blade_socket::Shutdown::Write).unwrap();
        check_all_kinds(&mut c, "half-closed");
    })
    .await;
}

#[tokio::test]
async fn options_on_a_closed_socket_are_illegal_state_before_arguments() {
    within(async {
        let mut s = Socket::tcp().unwrap();
        s.close().unwrap();
        for r in [
            s.set_option(SO_KEEPALIVE, true),
            s.set_option(SO_KEEPALIVE, 7), // a bad value too: state is checked first
            s.set_option(SO_TYPE, 1),
            s.set_option(SO_RCVTIMEO, -1),
        ] {
            let err = r.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::IllegalState);
            assert!(
                err.message().starts_with("socket is in an illegal state"),
                "{}",
                err.message()
            );
        }
        let err = s.get_option(SO_KEEPALIVE).unwrap_err();
        assert!(
            err.message().starts_with("socket is in an illegal state"),
            "{}",
            err.message()
        );
        assert!(
            s.set_nodelay(true)
                .unwrap_err()
                .message()
                .starts_with("socket is in an illegal state")
        );
        assert!(
            s.nodelay()
                .unwrap_err()
                .message()
                .starts_with("socket is in an illegal state")
        );
    })
    .await;
}

#[test]
fn option_value_conversions() {
    assert_eq!(OptionValue::from(true), OptionValue::Bool(true));
    assert_eq!(OptionValue::from(5i32), OptionValue::Int(5));
    assert_eq!(OptionValue::from(-5i64), OptionValue::Int(-5));
    assert_eq!(
        OptionValue::from(u32::MAX),
        OptionValue::Int(i64::from(u32::MAX))
    );
    assert_eq!(
        OptionValue::from(Duration::from_secs(1)),
        OptionValue::Duration(Some(Duration::from_secs(1)))
    );
    assert_eq!(
        OptionValue::from(None::<Duration>),
        OptionValue::Duration(None)
    );
    let v = OptionValue::Int(3);
    assert_eq!(v.clone(), v);
    assert!(!format!("{v:?}").is_empty());
}

#[test]
fn blocking_socket_options() {
    within_blocking(|| {
        let mut s = blocking::Socket::tcp().unwrap();
        s.set_option(SO_KEEPALIVE, true).unwrap();
        assert_eq!(s.get_option(SO_KEEPALIVE).unwrap(), OptionValue::Bool(true));
        s.set_option(SO_RCVTIMEO, 250).unwrap();
        assert_eq!(s.receive_timeout(), Some(Duration::from_millis(250)));
        s.set_option(SO_LINGER, Duration::from_millis(500)).unwrap();
        assert_eq!(
            s.get_option(SO_LINGER).unwrap(),
            OptionValue::Duration(Some(Duration::from_secs(1)))
        );
        let err = s.set_option(SO_TYPE, 1).unwrap_err();
        assert_eq!(err.message(), "the given option is read-only");
        assert_invalid(s.set_option(SO_KEEPALIVE, 2), "blocking flag = 2");
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
    });
}
