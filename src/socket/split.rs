//! Owned halves: a socket split into a reader and a writer for two tasks,
//! as tokio's `TcpStream::into_split`.

use std::{
    error::Error,
    fmt,
    io::{self, IoSlice},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Socket, stream::async_io_impl};

/// The reading half of a [`Socket`], from [`Socket::into_split`]:
/// [`AsyncRead`] within the socket's receive timeout.
///
/// # Examples
/// ```
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let (a, b) = blade_socket::Socket::pair()?;
/// let (mut rd, mut wr) = a.into_split();
/// let reader = tokio::spawn(async move {
///     let mut got = String::new();
///     rd.read_to_string(&mut got).await.map(|_| got)
/// });
/// wr.write_all(b"ping").await?;
/// assert_eq!(b.receive(None).await?.as_deref(), Some(&b"ping"[..]));
/// b.send("pong").await?;
/// drop(b); // end of file for the reader
/// assert_eq!(reader.await.expect("task")?, "pong");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Arc<Socket>,
}

/// The writing half of a [`Socket`], from [`Socket::into_split`]:
/// [`AsyncWrite`] within the socket's send timeout, whose `poll_shutdown`
/// shuts the write side (`SHUT_WR`).
///
/// Dropping it shuts the write side too, as tokio's `OwnedWriteHalf` does,
/// so the peer sees end of file while the read half goes on reading
/// (unless it is given back to [`OwnedReadHalf::reunite`]).
///
/// # Examples
/// ```
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// use tokio::io::AsyncWriteExt;
/// let (a, b) = blade_socket::Socket::pair()?;
/// let (_rd, mut wr) = a.into_split();
/// wr.write_all(b"last words").await?;
/// wr.shutdown().await?;                 // SHUT_WR: b reads end of file
/// assert_eq!(b.receive(None).await?.as_deref(), Some(&b"last words"[..]));
/// assert_eq!(b.receive(None).await?, None);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Arc<Socket>,
    shutdown_on_drop: bool,
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different
/// sockets; both are handed back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl Error for ReuniteError {}

impl Socket {
    /// Splits the socket into a reading and a writing half that two tasks
    /// own, over one shared socket (no lock on the data path), as tokio's
    /// `TcpStream::into_split`. [`OwnedReadHalf::reunite`] puts them back
    /// together.
    ///
    /// A reader and a writer in two tasks can also share an `Arc<Socket>`
    /// and use `AsyncRead`/`AsyncWrite` for `&Socket`; the halves say in
    /// their types which task reads and which writes.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> std::io::Result<()> {
    /// use futures::{SinkExt, StreamExt};
    /// use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};
    /// let (a, b) = blade_socket::Socket::pair()?;
    /// let (rd, wr) = a.into_split();
    /// let mut lines = FramedRead::new(rd, LinesCodec::new());
    /// let mut out = FramedWrite::new(wr, LinesCodec::new());
    /// out.send("hello").await.expect("send");
    /// assert_eq!(b.receive(None).await?.as_deref(), Some(&b"hello\n"[..]));
    /// b.send("world\n").await?;
    /// assert_eq!(lines.next().await.expect("a line").expect("a line"), "world");
    /// # Ok(()) }
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let inner = Arc::new(self);
        (
            OwnedReadHalf {
                inner: Arc::clone(&inner),
            },
            OwnedWriteHalf {
                inner,
                shutdown_on_drop: true,
            },
        )
    }
}

impl OwnedReadHalf {
    /// Puts the halves back together into the socket they came from.
    ///
    /// # Errors
    /// [`ReuniteError`], with both halves, when they are not from the same socket.
    ///
    /// # Examples
    /// ```
    /// let (a, _b) = blade_socket::Socket::pair()?;
    /// let (rd, wr) = a.into_split();
    /// let a = rd.reunite(wr).expect("the same socket");
    /// assert!(a.is_connected());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<Socket, ReuniteError> {
        if !Arc::ptr_eq(&self.inner, &other.inner) {
            return Err(ReuniteError(self, other));
        }
        let mut other = other;
        other.shutdown_on_drop = false;
        drop(other);
        // Only the two halves hold the socket, and the writer is gone.
        Arc::try_unwrap(self.inner).map_err(|inner| {
            ReuniteError(
                OwnedReadHalf {
                    inner: Arc::clone(&inner),
                },
                OwnedWriteHalf {
                    inner,
                    shutdown_on_drop: true,
                },
            )
        })
    }

    /// Whether `other` is the writing half of the same socket.
    pub fn is_pair_of(&self, other: &OwnedWriteHalf) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The socket both halves share, for its properties (`peer_info()`,
/// `receive_timeout()`, ...), as tokio's halves lend their `TcpStream`.
impl AsRef<Socket> for OwnedReadHalf {
    fn as_ref(&self) -> &Socket {
        &self.inner
    }
}

impl OwnedWriteHalf {
    /// Puts the halves back together; see [`OwnedReadHalf::reunite`].
    ///
    /// # Errors
    /// [`ReuniteError`], with both halves, when they are not from the same socket.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<Socket, ReuniteError> {
        other.reunite(self)
    }

    /// Whether `other` is the reading half of the same socket.
    pub fn is_pair_of(&self, other: &OwnedReadHalf) -> bool {
        other.is_pair_of(self)
    }
}

/// The socket both halves share, for its properties.
impl AsRef<Socket> for OwnedWriteHalf {
    fn as_ref(&self) -> &Socket {
        &self.inner
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop && self.inner.is_connected() {
            // Best effort, as tokio's: a socket already shut or closed has
            // nothing left to tell the peer.
            let _ = self.inner.shutdown_write();
        }
    }
}

async_io_impl! {
    /// Reads as the socket does ([`AsyncRead`] for [`Socket`]).
    AsyncRead for OwnedReadHalf, |half| half.inner
}

async_io_impl! {
    /// Writes as the socket does; `poll_shutdown` shuts the write side
    /// (`SHUT_WR`), and the read half goes on reading.
    AsyncWrite for OwnedWriteHalf, |half| half.inner
}
