//! Ending a connection other than by a plain `close`: gracefully (drain,
//! then close) or abruptly (reset).

use std::{os::fd::AsFd, time::Duration};

use tokio::io::Interest;

use super::{Phase, Socket};
use crate::{consts::SHUT_WR, driver::What, error::Result};

impl Socket {
    /// Closes a connection gracefully: shuts the write side (the peer reads
    /// end of file), reads and discards whatever the peer still sends until
    /// its own end of file, then closes. Within `timeout` as one deadline
    /// (`None` or zero: no limit). Returns the number of bytes discarded.
    ///
    /// This is the "lingering close" of HTTP servers: closing with unread
    /// data queued makes the kernel reset the connection, and the peer may
    /// then lose the last response it had not yet read.
    ///
    /// On a socket that is not connected (say, a listener) it just closes.
    /// The socket is closed when it returns, whatever the outcome.
    ///
    /// # Errors
    /// `TimedOut` when the peer has not closed its side in time; the OS's
    /// error if the peer resets the connection meanwhile; `socket is in an
    /// illegal state` when already closed; `no tokio runtime` outside one.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped midway, the write side is shut but the
    /// socket stays open; close it.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
    /// use std::{os::fd::AsFd, time::Duration};
    /// let (mut a, mut b) = blade_socket::Socket::pair()?;
    /// a.send("bye").await?;
    /// let peer = tokio::spawn(async move { b.close_graceful(None).await });
    /// let discarded = a.close_graceful(Some(Duration::from_secs(5))).await?;
    /// assert_eq!(discarded, 0);
    /// assert!(a.is_closed());
    /// assert_eq!(peer.await.expect("task")?, 3); // b discarded "bye"
    /// # Ok(()) }
    /// ```
    pub async fn close_graceful(&mut self, timeout: Option<Duration>) -> Result<u64> {
        let st = self.state.get();
        st.check_open()?;
        let result = if st.phase == Phase::Connected && !self.is_datagram() {
            self.drain(timeout).await
        } else {
            Ok(0)
        };
        self.close()?;
        result
    }

    /// Shuts the write side, then reads until end of file.
    async fn drain(&mut self, timeout: Option<Duration>) -> Result<u64> {
        if !self.state.write_shut() {
            self.shutdown(SHUT_WR)?;
        }
        if self.state.get().read_shut() {
            return Ok(0);
        }
        let call = self.begin(timeout)?;
        let mut sink = vec![0u8; 16 * 1024];
        let mut discarded = 0u64;
        loop {
            let n = call
                .ready(self, Interest::READABLE, What::Close, |s, flags| {
                    crate::sys::recv_slice(s, &mut sink, flags)
                })
                .await?;
            if n == 0 {
                return Ok(discarded);
            }
            discarded += n as u64;
        }
    }

    /// Resets the connection: closes with a zero `SO_LINGER`, so the kernel
    /// sends `RST` instead of `FIN` and drops any unsent data; the peer's
    /// next operation fails with `Connection reset by peer`. Never blocks.
    /// Idempotent, as [`close`](Socket::close).
    ///
    /// It ends the connection for every handle of the socket
    /// ([`try_clone`](Socket::try_clone), `from_fd` of a `dup`), whose next
    /// operation fails with `Connection reset by peer`: on a connected TCP
    /// socket it first disconnects it (`connect(2)` to `AF_UNSPEC`), since a
    /// zero-linger close alone resets only when no duplicate is left.
    ///
    /// # Errors
    /// None today; the `Result` matches [`close`](Socket::close).
    ///
    /// # Examples
    /// ```
    /// let mut s = blade_socket::Socket::tcp()?;
    /// s.abort()?;
    /// assert!(s.is_closed());
    /// # Ok::<(), blade_socket::SocketError>(())
    /// ```
    pub fn abort(&mut self) -> Result<()> {
        let tcp_connected = self.state.get().phase == Phase::Connected && self.is_tcp();
        if let Ok(io) = self.io_mut() {
            if tcp_connected {
                // Best effort: the zero-linger close below still resets
                // when this is the last descriptor.
                let _ = crate::sys::disconnect(io.sock().as_fd());
            }
            // Fails only on sockets without SO_LINGER, where close is the reset.
            let _ = io.sock().set_linger(Some(Duration::ZERO));
        }
        self.close()
    }
}
