//! Option values: any option number (named or not) with any value of any
//! kind, on TCP and UDP sockets of both faces' core: `set_option` never
//! panics, a failure leaves the socket open, and a value that was set reads
//! back as the same kind. Also the constants' `Debug` for any raw number.
#![no_main]

use std::time::Duration;

use blade_socket::{ErrorKind, Family, OptionValue, Protocol, SockType, Socket, SocketOption};
use libfuzzer_sys::fuzz_target;

const NAMED: &[SocketOption] = &[
    blade_socket::SO_DEBUG,
    blade_socket::SO_ACCEPTCONN,
    blade_socket::SO_REUSEADDR,
    blade_socket::SO_KEEPALIVE,
    blade_socket::SO_DONTROUTE,
    blade_socket::SO_BROADCAST,
    blade_socket::SO_USELOOPBACK,
    blade_socket::SO_LINGER,
    blade_socket::SO_OOBINLINE,
    blade_socket::SO_REUSEPORT,
    blade_socket::SO_TIMESTAMP,
    blade_socket::SO_SNDBUF,
    blade_socket::SO_RCVBUF,
    blade_socket::SO_SNDLOWAT,
    blade_socket::SO_RCVLOWAT,
    blade_socket::SO_SNDTIMEO,
    blade_socket::SO_RCVTIMEO,
    blade_socket::SO_ERROR,
    blade_socket::SO_TYPE,
];

fn word(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in data.iter().skip(at).take(8).enumerate() {
        b[i] = *x;
    }
    u64::from_le_bytes(b)
}

fn kind(v: &OptionValue) -> u8 {
    match v {
        OptionValue::Bool(_) => 0,
        OptionValue::Int(_) => 1,
        OptionValue::Duration(_) => 2,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (sel, kind_sel) = (data[0], data[1]);
    let (w, n) = (word(data, 2), word(data, 10));
    let option = if sel & 0x80 == 0 {
        NAMED[usize::from(sel) % NAMED.len()]
    } else {
        SocketOption::from_raw(w as i32)
    };
    let value = match kind_sel % 6 {
        0 => OptionValue::Bool(w & 1 == 1),
        1 => OptionValue::Int(w as i64),
        2 => OptionValue::Int((w % 8) as i64 - 2),
        3 => OptionValue::Duration(None),
        4 => OptionValue::Duration(Some(Duration::from_nanos(w))),
        _ => OptionValue::Duration(Some(Duration::new(w, (n % 1_000_000_000) as u32))),
    };
    let _ = format!(
        "{:?} {:?} {:?} {:?}",
        option,
        Family::from_raw(w as i32),
        SockType::from_raw(n as i32),
        Protocol::from_raw((w >> 32) as i32)
    );
    let sock = if kind_sel & 0x80 == 0 {
        Socket::tcp()
    } else {
        Socket::udp()
    };
    let Ok(mut s) = sock else { return };
    match s.set_option(option, value.clone()) {
        Ok(()) => {
            let back = s
                .get_option(option)
                .unwrap_or_else(|e| panic!("{option:?} set to {value:?} but unreadable: {e:?}"));
            // Flags also take 0/1, read back as Bool; otherwise the same kind.
            let flag_from_int = matches!(
                (&value, &back),
                (OptionValue::Int(0 | 1), OptionValue::Bool(_))
            );
            let timeout_from_int = matches!(
                (&value, &back),
                (OptionValue::Int(_), OptionValue::Duration(_))
            );
            let linger_from_int =
                option == blade_socket::SO_LINGER && matches!(back, OptionValue::Duration(_));
            assert!(
                kind(&back) == kind(&value) || flag_from_int || timeout_from_int || linger_from_int,
                "{option:?}: set {value:?}, read back {back:?}"
            );
        }
        Err(e) => {
            assert!(!s.is_closed(), "a failed set_option closed the socket");
            assert!(
                matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::Os),
                "{option:?} = {value:?}: {e:?}"
            );
        }
    }
});
