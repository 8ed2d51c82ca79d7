//! Blade's `set_option`/`get_option`: option values, their kinds, and one
//! path to the OS for every option, whatever the socket's state.

use std::{os::fd::AsFd, time::Duration};

use socket2::SockRef;

use crate::{
    consts::*,
    error::{READ_ONLY_OPTION, Result, SocketError},
    sys,
};

/// A value for [`Socket::set_option`](crate::Socket::set_option), or read by
/// [`Socket::get_option`](crate::Socket::get_option).
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    /// An on/off flag (`SO_KEEPALIVE`, `SO_REUSEADDR`, ...).
    Bool(bool),
    /// An integer (`SO_SNDBUF`, `SO_RCVBUF`, the low-water marks, `SO_TYPE`,
    /// `SO_ERROR`); for a flag, 0 or 1; for a timeout, milliseconds (0 = none);
    /// for `SO_LINGER`, whole seconds (`<= 0` = off).
    Int(i64),
    /// A duration (`SO_SNDTIMEO`, `SO_RCVTIMEO`, `SO_LINGER`); `None` means none/off.
    Duration(Option<Duration>),
}

impl From<bool> for OptionValue {
    fn from(v: bool) -> Self {
        OptionValue::Bool(v)
    }
}
impl From<i32> for OptionValue {
    fn from(v: i32) -> Self {
        OptionValue::Int(v.into())
    }
}
impl From<i64> for OptionValue {
    fn from(v: i64) -> Self {
        OptionValue::Int(v)
    }
}
impl From<u32> for OptionValue {
    fn from(v: u32) -> Self {
        OptionValue::Int(v.into())
    }
}
impl From<Duration> for OptionValue {
    fn from(v: Duration) -> Self {
        OptionValue::Duration(Some(v))
    }
}
impl From<Option<Duration>> for OptionValue {
    fn from(v: Option<Duration>) -> Self {
        OptionValue::Duration(v)
    }
}

/// How an option's value is shaped, and where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Flag { read_only: bool },
    Int,
    SendTimeout,
    ReceiveTimeout,
    Linger,
    Type,
    Error,
}

impl Kind {
    pub(crate) fn of(option: SocketOption) -> Result<Kind> {
        let kind = match option {
            o if o.raw() < 0 => {
                return Err(SocketError::invalid(format!(
                    "{} is not supported on this platform",
                    name(o)
                )));
            }
            SO_ACCEPTCONN => Kind::Flag { read_only: true },
            SO_DEBUG | SO_REUSEADDR | SO_KEEPALIVE | SO_DONTROUTE | SO_BROADCAST | SO_OOBINLINE
            | SO_REUSEPORT | SO_TIMESTAMP | SO_USELOOPBACK => Kind::Flag { read_only: false },
            SO_SNDBUF | SO_RCVBUF | SO_SNDLOWAT | SO_RCVLOWAT => Kind::Int,
            SO_SNDTIMEO => Kind::SendTimeout,
            SO_RCVTIMEO => Kind::ReceiveTimeout,
            SO_LINGER => Kind::Linger,
            SO_TYPE => Kind::Type,
            SO_ERROR => Kind::Error,
            o => {
                return Err(SocketError::invalid(format!(
                    "unknown socket option {}",
                    o.raw()
                )));
            }
        };
        Ok(kind)
    }

    pub(crate) fn read_only(self) -> bool {
        matches!(
            self,
            Kind::Flag { read_only: true } | Kind::Type | Kind::Error
        )
    }
}

/// An option's name for a message (`SO_KEEPALIVE`), or its number when it
/// has none here.
fn name(option: SocketOption) -> String {
    let debug = format!("{option:?}");
    if debug.starts_with("SO_") {
        debug
    } else {
        format!("socket option {}", option.raw())
    }
}

/// `SO_KEEPALIVE takes true or false, not a duration`: what the option
/// takes and what it was given, in words rather than Rust syntax.
fn wrong_kind(option: SocketOption, value: &OptionValue) -> SocketError {
    let takes = match Kind::of(option) {
        Ok(Kind::Flag { .. }) => "true or false",
        Ok(Kind::Int) => "a number of bytes from 0 to 2147483647",
        Ok(Kind::SendTimeout | Kind::ReceiveTimeout) => {
            "a duration, None or a number of milliseconds"
        }
        Ok(Kind::Linger) => "a duration, None or a number of seconds",
        _ => "no value",
    };
    let given = match value {
        OptionValue::Bool(b) => b.to_string(),
        OptionValue::Int(n) => n.to_string(),
        OptionValue::Duration(Some(_)) => "a duration".to_owned(),
        OptionValue::Duration(None) => "None".to_owned(),
    };
    SocketError::invalid(format!("{} takes {takes}, not {given}", name(option)))
}

/// A timeout option's value: a duration, `None`, or milliseconds (0 = none).
/// Zero means no timeout and reads back as `None`.
pub(crate) fn timeout_value(option: SocketOption, value: &OptionValue) -> Result<Option<Duration>> {
    let t = match *value {
        OptionValue::Duration(d) => d,
        OptionValue::Int(ms) if ms >= 0 => Some(Duration::from_millis(ms.unsigned_abs())),
        _ => return Err(wrong_kind(option, value)),
    };
    Ok(normalize_timeout(t))
}

/// `Some(ZERO)` means no timeout.
pub(crate) fn normalize_timeout(t: Option<Duration>) -> Option<Duration> {
    t.filter(|t| !t.is_zero())
}

/// Sets an option kept by the OS (every kind but the timeouts).
pub(crate) fn set_os(
    fd: impl AsFd,
    option: SocketOption,
    kind: Kind,
    value: &OptionValue,
) -> Result<()> {
    let fd = fd.as_fd();
    if kind.read_only() {
        return Err(SocketError::from(READ_ONLY_OPTION));
    }
    let int = match (kind, value) {
        (Kind::Flag { .. }, OptionValue::Bool(b)) => i32::from(*b),
        (Kind::Flag { .. }, OptionValue::Int(n @ (0 | 1))) => *n as i32,
        // The kernel would take -1 as its maximum; Blade's sizes are never negative.
        (Kind::Int, OptionValue::Int(n)) if *n < 0 => {
            return Err(SocketError::invalid(format!(
                "{} cannot be negative: {n}",
                name(option)
            )));
        }
        (Kind::Int, OptionValue::Int(n)) => {
            i32::try_from(*n).map_err(|_| wrong_kind(option, value))?
        }
        (Kind::Linger, _) => return set_linger(fd, option, value),
        _ => return Err(wrong_kind(option, value)),
    };
    sys::setsockopt_int(fd, SOL_SOCKET, option.raw(), int).map_err(Into::into)
}

fn set_linger(
    fd: std::os::fd::BorrowedFd<'_>,
    option: SocketOption,
    value: &OptionValue,
) -> Result<()> {
    let too_long = || {
        SocketError::invalid(format!(
            "{} takes at most {} seconds",
            name(option),
            i32::MAX
        ))
    };
    let linger = match *value {
        OptionValue::Duration(None) => None,
        OptionValue::Duration(Some(d)) => {
            // Round up: 500 ms must linger 1 s, not reset the connection.
            let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
            if secs > i32::MAX as u64 {
                return Err(too_long());
            }
            Some(Duration::from_secs(secs))
        }
        OptionValue::Int(n) if n > i64::from(i32::MAX) => return Err(too_long()),
        OptionValue::Int(n) if n > 0 => Some(Duration::from_secs(n.unsigned_abs())),
        OptionValue::Int(_) => None,
        OptionValue::Bool(_) => return Err(wrong_kind(option, value)),
    };
    SockRef::from(&fd).set_linger(linger).map_err(Into::into)
}

/// Reads an option kept by the OS (every kind but the timeouts).
pub(crate) fn get_os(fd: impl AsFd, option: SocketOption, kind: Kind) -> Result<OptionValue> {
    let fd = fd.as_fd();
    let sock = SockRef::from(&fd);
    let value = match kind {
        Kind::Flag { .. } => {
            OptionValue::Bool(sys::getsockopt_int(fd, SOL_SOCKET, option.raw())? != 0)
        }
        Kind::Int | Kind::Type => {
            OptionValue::Int(sys::getsockopt_int(fd, SOL_SOCKET, option.raw())?.into())
        }
        Kind::Linger => OptionValue::Duration(sock.linger()?),
        Kind::Error => OptionValue::Int(
            sock.take_error()?
                .and_then(|e| e.raw_os_error())
                .unwrap_or(0)
                .into(),
        ),
        Kind::SendTimeout | Kind::ReceiveTimeout => {
            return Err(SocketError::invalid(format!(
                "{} is kept by the socket, not the OS",
                name(option)
            )));
        }
    };
    Ok(value)
}
