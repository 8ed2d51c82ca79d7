//! [`SocketError`]: one opaque error type with a kind, Blade's message texts for
//! library errors and the OS text for OS errors.

use std::{borrow::Cow, fmt, io};

/// The result of every fallible call in this crate.
pub type Result<T> = std::result::Result<T, SocketError>;

/// The name Blade gives [`SocketError`].
pub type SocketException = SocketError;

/// What kind of failure a [`SocketError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was out of range or of the wrong kind.
    InvalidArgument,
    /// The socket's state does not allow the operation (closed, not
    /// connected, already bound...), or no tokio runtime is running.
    IllegalState,
    /// A deadline (connect, accept, send or receive timeout) passed.
    TimedOut,
    /// The socket is in non-blocking mode and the operation would have to wait.
    WouldBlock,
    /// A host or service name could not be resolved.
    AddressResolution,
    /// The operating system refused the operation; see
    /// [`SocketError::raw_os_error`].
    Os,
}

/// The error of every fallible call in this crate (Blade's `SocketException`).
///
/// Its [`Display`](fmt::Display) text is [`message`](SocketError::message):
/// Blade's text for a library error (`socket is in an illegal state`), the
/// OS's text for an OS error (`Connection refused`).
#[derive(Clone, PartialEq, Eq)]
pub struct SocketError {
    kind: ErrorKind,
    message: Cow<'static, str>,
    errno: Option<i32>,
}

// Blade's texts, spelled once.
pub(crate) const ILLEGAL_STATE: &str = "socket is in an illegal state";
pub(crate) const EXISTING_CONNECTION: &str = "socket has existing connection";
pub(crate) const PREVIOUSLY_BOUND: &str = "socket previously bound";
pub(crate) const NOT_CONNECTED: &str = "socket not listening or connected";
pub(crate) const NOT_LISTENING: &str = "socket not bound/listening";
pub(crate) const QUEUE_TOO_LONG: &str = "maximum queue length exceeded";
pub(crate) const READ_ONLY_OPTION: &str = "the given option is read-only";
pub(crate) const BAD_SHUTDOWN: &str = "expected one of SHUT_* flags";
pub(crate) const NO_RUNTIME: &str = "no tokio runtime: async socket methods must be awaited \
     inside a tokio runtime with IO and time enabled";

impl SocketError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        SocketError {
            kind,
            message: message.into(),
            errno: None,
        }
    }

    pub(crate) fn illegal(message: &'static str) -> Self {
        Self::new(ErrorKind::IllegalState, message)
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn timed_out(what: &str) -> Self {
        Self::new(ErrorKind::TimedOut, format!("{what} timed out"))
    }

    pub(crate) fn resolution(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::AddressResolution, message)
    }

    /// A name that resolved to no usable address.
    pub(crate) fn no_address(host: &str) -> Self {
        Self::resolution(format!("{host}: no address found"))
    }

    /// An OS error from its `errno`, with the OS's text.
    pub(crate) fn from_errno(errno: i32) -> Self {
        let kind = match errno {
            libc::EWOULDBLOCK => ErrorKind::WouldBlock,
            libc::ETIMEDOUT => ErrorKind::TimedOut,
            _ => ErrorKind::Os,
        };
        SocketError {
            kind,
            message: os_text(errno).into(),
            errno: Some(errno),
        }
    }

    /// The same error with another text (for a summary of several failures).
    pub(crate) fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The error's text; the same as `to_string()`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether a deadline passed (`kind() == ErrorKind::TimedOut`).
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::TimedOut
    }

    /// The OS's error number (`errno`), for an error the OS reported.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.errno
    }
}

/// The OS's text for `errno`, without std's ` (os error N)` suffix.
fn os_text(errno: i32) -> String {
    let full = io::Error::from_raw_os_error(errno).to_string();
    match full.rfind(" (os error ") {
        Some(at) => full[..at].to_owned(),
        None => full,
    }
}

impl From<io::Error> for SocketError {
    fn from(err: io::Error) -> Self {
        if let Some(errno) = err.raw_os_error() {
            return SocketError::from_errno(errno);
        }
        let kind = match err.kind() {
            io::ErrorKind::TimedOut => ErrorKind::TimedOut,
            io::ErrorKind::WouldBlock => ErrorKind::WouldBlock,
            io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
            _ => ErrorKind::Os,
        };
        SocketError::new(kind, err.to_string())
    }
}

impl From<SocketError> for io::Error {
    fn from(err: SocketError) -> io::Error {
        if let Some(errno) = err.errno {
            return io::Error::from_raw_os_error(errno);
        }
        let kind = match err.kind {
            ErrorKind::InvalidArgument => io::ErrorKind::InvalidInput,
            ErrorKind::TimedOut => io::ErrorKind::TimedOut,
            ErrorKind::WouldBlock => io::ErrorKind::WouldBlock,
            ErrorKind::IllegalState if err.message == NOT_CONNECTED => io::ErrorKind::NotConnected,
            ErrorKind::IllegalState if err.message == NOT_LISTENING => io::ErrorKind::InvalidInput,
            ErrorKind::AddressResolution => io::ErrorKind::NotFound,
            ErrorKind::IllegalState | ErrorKind::Os => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SocketError");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(errno) = self.errno {
            d.field("errno", &errno);
        }
        d.finish()
    }
}

impl std::error::Error for SocketError {}
