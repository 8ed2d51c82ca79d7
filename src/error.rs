//! [`SocketError`]: one opaque error type with a kind, Blade's message texts for
//! library errors and the OS text for OS errors.

use std::{borrow::Cow, fmt, io, sync::Arc};

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
/// OS's text for an OS error (`Connection refused`). It keeps its detail:
/// [`io_kind`](SocketError::io_kind) is the fine [`io::ErrorKind`],
/// [`source`](std::error::Error::source) the OS error, and a failed send says
/// how much went out ([`bytes_sent`](SocketError::bytes_sent)).
#[derive(Clone)]
pub struct SocketError(Box<Repr>);

/// [`SocketError`]'s fields, boxed so that every `Result` in the crate is
/// small: a successful call then moves 16 bytes, not the whole error.
#[derive(Clone)]
struct Repr {
    kind: ErrorKind,
    reason: Reason,
    message: Cow<'static, str>,
    errno: Option<i32>,
    /// Whether `message` says more than the OS's text for `errno`.
    annotated: bool,
    bytes_sent: Option<u64>,
    /// The OS's (or tokio's) own error, for `source()`.
    source: Option<Arc<io::Error>>,
}

/// Why an error happened, inside the crate: it picks the error's kind and
/// its `io::ErrorKind`, so that nothing is decided by comparing texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Reported by the OS (`errno`), or by an `io::Error` of this kind.
    Io(io::ErrorKind),
    /// Closed: by the user (`cause` 0), or by the crate after a failure
    /// (`cause` is a [`CloseCause`] code).
    Closed(i32),
    /// `listen` before `bind`.
    NotBound,
    /// A datagram-only call on a stream socket.
    NoDatagrams,
    /// Shut down for reading.
    ShutForReading,
    /// Shut down for writing.
    ShutForWriting,
    /// A call a listening socket does not allow (`connect`, a second `listen`).
    Listening,
    /// `listen` on a connected socket.
    Connected,
    ExistingConnection,
    PreviouslyBound,
    NotConnected,
    NotListening,
    QueueTooLong,
    ReadOnlyOption,
    BadShutdown,
    NoRuntime,
    RuntimeShutDown,
    /// Any other bad argument.
    Invalid,
    TimedOut,
    Resolution,
}

// Blade's texts, each spelled once, in its reason.
/// Closed by the user (a close the crate made itself carries its cause).
pub(crate) const CLOSED: Reason = Reason::Closed(0);
/// The old name of [`CLOSED`], the state it always meant.
#[allow(dead_code)]
pub(crate) const ILLEGAL_STATE: Reason = CLOSED;
pub(crate) const NOT_BOUND: Reason = Reason::NotBound;
pub(crate) const NO_DATAGRAMS: Reason = Reason::NoDatagrams;
pub(crate) const SHUT_FOR_READING: Reason = Reason::ShutForReading;
pub(crate) const SHUT_FOR_WRITING: Reason = Reason::ShutForWriting;
pub(crate) const LISTENING: Reason = Reason::Listening;
pub(crate) const CONNECTED: Reason = Reason::Connected;

/// Blade's text for every wrong state; a cause in parentheses follows it.
const ILLEGAL_TEXT: &str = "socket is in an illegal state";

/// Why the crate closed a socket itself, in one `i32` (kept in the socket's
/// state cell): a positive `errno` (a reset, a broken pipe, a refused
/// connect), or one of the negative codes below for a failed connect that
/// has no `errno`. 0 means no such cause (the user closed it).
pub(crate) struct CloseCause;

impl CloseCause {
    /// A connect that timed out.
    pub(crate) const CONNECT_TIMED_OUT: i32 = -1;
    /// A connect whose host name did not resolve.
    pub(crate) const NOT_RESOLVED: i32 = -2;
    /// A connect that failed otherwise.
    pub(crate) const CONNECT_FAILED: i32 = -3;

    /// The code of `err`, the error that made the crate close a socket.
    pub(crate) fn of(err: &SocketError) -> i32 {
        match (err.raw_os_error(), err.kind()) {
            (Some(errno), _) if errno > 0 => errno,
            (_, ErrorKind::TimedOut) => CloseCause::CONNECT_TIMED_OUT,
            (_, ErrorKind::AddressResolution) => CloseCause::NOT_RESOLVED,
            _ => CloseCause::CONNECT_FAILED,
        }
    }

    /// What a code says, after `closed after: `.
    fn text(code: i32) -> Cow<'static, str> {
        match code {
            CloseCause::CONNECT_TIMED_OUT => "connect timed out".into(),
            CloseCause::NOT_RESOLVED => "host name not resolved".into(),
            c if c > 0 => os_text(c).into(),
            _ => "connect failed".into(),
        }
    }
}
pub(crate) const EXISTING_CONNECTION: Reason = Reason::ExistingConnection;
pub(crate) const PREVIOUSLY_BOUND: Reason = Reason::PreviouslyBound;
pub(crate) const NOT_CONNECTED: Reason = Reason::NotConnected;
pub(crate) const NOT_LISTENING: Reason = Reason::NotListening;
pub(crate) const QUEUE_TOO_LONG: Reason = Reason::QueueTooLong;
pub(crate) const READ_ONLY_OPTION: Reason = Reason::ReadOnlyOption;
pub(crate) const BAD_SHUTDOWN: Reason = Reason::BadShutdown;
pub(crate) const NO_RUNTIME: Reason = Reason::NoRuntime;
pub(crate) const RUNTIME_SHUT_DOWN: Reason = Reason::RuntimeShutDown;

impl Reason {
    /// The fixed text and kind of a library reason.
    fn text(self) -> (&'static str, ErrorKind) {
        use ErrorKind::{IllegalState, InvalidArgument};
        match self {
            Reason::ExistingConnection => ("socket has existing connection", IllegalState),
            Reason::PreviouslyBound => ("socket previously bound", IllegalState),
            Reason::NotConnected => ("socket not listening or connected", IllegalState),
            Reason::NotListening => ("socket not bound/listening", IllegalState),
            Reason::QueueTooLong => ("maximum queue length exceeded", InvalidArgument),
            Reason::ReadOnlyOption => ("the given option is read-only", InvalidArgument),
            Reason::BadShutdown => ("expected one of SHUT_* flags", InvalidArgument),
            Reason::NoRuntime => (
                "no tokio runtime: async socket methods must be awaited \
                 inside a tokio runtime with IO and time enabled",
                IllegalState,
            ),
            Reason::RuntimeShutDown => ("the tokio runtime is shutting down", IllegalState),
            Reason::Closed(0) => ("socket is in an illegal state (closed)", IllegalState),
            Reason::NotBound => ("socket is in an illegal state (not bound)", IllegalState),
            Reason::NoDatagrams => (
                "socket is in an illegal state (a stream socket has no datagrams)",
                IllegalState,
            ),
            Reason::ShutForReading => (
                "socket is in an illegal state (shut for reading)",
                IllegalState,
            ),
            Reason::ShutForWriting => (
                "socket is in an illegal state (shut for writing)",
                IllegalState,
            ),
            Reason::Listening => ("socket is in an illegal state (listening)", IllegalState),
            Reason::Connected => ("socket is in an illegal state (connected)", IllegalState),
            Reason::Closed(_) => (ILLEGAL_TEXT, IllegalState),
            Reason::Io(_) | Reason::Invalid | Reason::TimedOut | Reason::Resolution => {
                ("", InvalidArgument)
            }
        }
    }

    /// The `io::ErrorKind` an error of this reason converts to.
    fn io_kind(self) -> io::ErrorKind {
        match self {
            Reason::Io(kind) => kind,
            Reason::NotConnected => io::ErrorKind::NotConnected,
            Reason::ExistingConnection => io::ErrorKind::AlreadyExists,
            // What Linux says (EINVAL) for a second bind, accept on a socket
            // that is not listening, and bad arguments.
            Reason::PreviouslyBound
            | Reason::NotListening
            | Reason::QueueTooLong
            | Reason::ReadOnlyOption
            | Reason::BadShutdown
            | Reason::Invalid => io::ErrorKind::InvalidInput,
            Reason::TimedOut => io::ErrorKind::TimedOut,
            Reason::Resolution => io::ErrorKind::NotFound,
            // Closed by the user or by the crate: nothing is connected any more.
            Reason::Closed(_) => io::ErrorKind::NotConnected,
            // A call that the socket's state or type does not allow.
            Reason::NotBound
            | Reason::NoDatagrams
            | Reason::ShutForReading
            | Reason::ShutForWriting
            | Reason::Listening
            | Reason::Connected => io::ErrorKind::InvalidInput,
            Reason::NoRuntime | Reason::RuntimeShutDown => io::ErrorKind::Other,
        }
    }
}

impl From<Reason> for SocketError {
    fn from(reason: Reason) -> Self {
        if let Reason::Closed(cause @ (i32::MIN..=-1 | 1..)) = reason {
            let text = format!("{ILLEGAL_TEXT} (closed after: {})", CloseCause::text(cause));
            return SocketError::with_reason(ErrorKind::IllegalState, reason, text);
        }
        let (text, kind) = reason.text();
        SocketError::with_reason(kind, reason, text)
    }
}

impl SocketError {
    fn with_reason(kind: ErrorKind, reason: Reason, message: impl Into<Cow<'static, str>>) -> Self {
        SocketError(Box::new(Repr {
            kind,
            reason,
            message: message.into(),
            errno: None,
            annotated: false,
            bytes_sent: None,
            source: None,
        }))
    }

    /// A library error for a wrong state, with Blade's text.
    pub(crate) fn illegal(reason: Reason) -> Self {
        SocketError::from(reason)
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_reason(ErrorKind::InvalidArgument, Reason::Invalid, message)
    }

    pub(crate) fn timed_out(what: &str) -> Self {
        Self::with_reason(
            ErrorKind::TimedOut,
            Reason::TimedOut,
            format!("{what} timed out"),
        )
    }

    pub(crate) fn resolution(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_reason(ErrorKind::AddressResolution, Reason::Resolution, message)
    }

    /// A name that resolved to no usable address.
    pub(crate) fn no_address(host: &str) -> Self {
        Self::resolution(format!("{host}: no address found"))
    }

    /// An OS error from its `errno`, with the OS's text.
    pub(crate) fn from_errno(errno: i32) -> Self {
        SocketError::from_os(io::Error::from_raw_os_error(errno), errno)
    }

    fn from_os(err: io::Error, errno: i32) -> Self {
        let kind = match errno {
            libc::EWOULDBLOCK => ErrorKind::WouldBlock,
            libc::ETIMEDOUT => ErrorKind::TimedOut,
            _ => ErrorKind::Os,
        };
        SocketError(Box::new(Repr {
            kind,
            reason: Reason::Io(err.kind()),
            message: os_text(errno).into(),
            errno: Some(errno),
            annotated: false,
            bytes_sent: None,
            source: Some(Arc::new(err)),
        }))
    }

    /// The same error with another text (for a summary of several failures).
    pub(crate) fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.0.message = message.into();
        self.0.annotated = true;
        self
    }

    /// The same error, from a send that got `n` bytes out before it failed.
    pub(crate) fn with_bytes_sent(mut self, n: u64) -> Self {
        self.0.bytes_sent = Some(n);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The error's text; the same as `to_string()`.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether a deadline passed (`kind() == ErrorKind::TimedOut`).
    pub fn is_timeout(&self) -> bool {
        self.0.kind == ErrorKind::TimedOut
    }

    /// The OS's error number (`errno`), for an error the OS reported.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.0.errno
    }

    /// The fine-grained [`io::ErrorKind`]: `ConnectionRefused`, `AddrInUse`,
    /// `BrokenPipe`, `ConnectionReset`, `TimedOut`, `WouldBlock`,
    /// `NotConnected` (`socket not listening or connected`, and a closed
    /// socket: `socket is in an illegal state (closed)`), `InvalidInput` (a
    /// bad argument, or a call the socket's state or type does not allow,
    /// such as `listen` before `bind`)... so callers need not compare
    /// `errno` or texts by hand.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use std::io::ErrorKind;
    /// let mut taken = blade_socket::Socket::tcp()?;
    /// taken.bind(0, None).await?;
    /// taken.listen(None)?;                 // a listener holds the port
    /// let mut s = blade_socket::Socket::tcp()?;
    /// let err = s.bind(taken.port(), None).await.unwrap_err();
    /// assert_eq!(err.io_kind(), ErrorKind::AddrInUse);
    ///
    /// s.close()?;
    /// let err = s.listen(None).unwrap_err();
    /// assert_eq!(err.message(), "socket is in an illegal state (closed)");
    /// assert_eq!(err.io_kind(), ErrorKind::NotConnected);
    /// # Ok(()) }
    /// ```
    pub fn io_kind(&self) -> io::ErrorKind {
        self.0.reason.io_kind()
    }

    /// For a failed `send`, `send_to` or `send_file`: how many bytes the OS
    /// accepted before the failure (`Some(0)` if none), so the caller knows
    /// where the stream stands. `None` for every other operation's error.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(s: &blade_socket::Socket, data: &[u8]) {
    /// if let Err(e) = s.send(data).await {
    ///     let sent = e.bytes_sent().unwrap_or(0) as usize;
    ///     eprintln!("{e}; {} bytes still to send", data.len() - sent);
    /// }
    /// # }
    /// ```
    pub fn bytes_sent(&self) -> Option<u64> {
        self.0.bytes_sent
    }

    /// Whether this is the OS's error and nothing more (a send that failed
    /// before any byte went out says nothing more).
    fn is_bare_os(&self) -> bool {
        self.0.errno.is_some() && !self.0.annotated && self.0.bytes_sent.unwrap_or(0) == 0
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
            return SocketError::from_os(err, errno);
        }
        let io_kind = err.kind();
        let kind = match io_kind {
            io::ErrorKind::TimedOut => ErrorKind::TimedOut,
            io::ErrorKind::WouldBlock => ErrorKind::WouldBlock,
            io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
            _ => ErrorKind::Os,
        };
        let mut e = SocketError::with_reason(kind, Reason::Io(io_kind), err.to_string());
        e.0.source = Some(Arc::new(err));
        e
    }
}

/// Loses nothing: a bare OS error becomes [`io::Error::from_raw_os_error`]
/// (so `raw_os_error()` survives); any error with more to say (a library
/// message, every address a connect tried, a partial send) becomes
/// `io::Error::new(io_kind, the SocketError)`, whose `get_ref()` downcasts back.
impl From<SocketError> for io::Error {
    fn from(err: SocketError) -> io::Error {
        match err.0.errno {
            Some(errno) if err.is_bare_os() => io::Error::from_raw_os_error(errno),
            _ => io::Error::new(err.io_kind(), err),
        }
    }
}

impl PartialEq for SocketError {
    /// Equal kind, text, `errno` and partial count (the source is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.0.kind == other.0.kind
            && self.0.reason == other.0.reason
            && self.0.message == other.0.message
            && self.0.errno == other.0.errno
            && self.0.bytes_sent == other.0.bytes_sent
    }
}

impl Eq for SocketError {}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SocketError");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(errno) = self.0.errno {
            d.field("errno", &errno);
        }
        if let Some(n) = self.0.bytes_sent {
            d.field("bytes_sent", &n);
        }
        d.finish()
    }
}

impl std::error::Error for SocketError {
    /// The OS's error (an `io::Error`), for an error the OS reported.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
