//! One scenario, both faces: [`Face`] makes sockets of either face and
//! [`FaceSocket`] calls either one with plain (blocking) calls, so a scenario
//! is written once and run on the async `Socket` and on
//! `blade_socket::blocking::Socket`.
//!
//! The async face's calls are awaited on a shared multi-thread runtime
//! ([`runtime`]) from the calling thread (`Runtime::block_on`), so several
//! test threads may drive one socket's calls concurrently, as tasks would.
#![allow(dead_code, unreachable_pub)]

use std::{sync::OnceLock, time::Duration};

use bytes::Bytes;

use blade_socket::{
    Family, OptionValue, Protocol, Result, Shutdown, SockType, Socket, SocketInfo, SocketOption,
    blocking,
};

/// The face a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// `blade_socket::Socket`, awaited on [`runtime`].
    Async,
    /// `blade_socket::blocking::Socket`.
    Blocking,
}

impl Face {
    /// Both faces, async first.
    pub const BOTH: [Face; 2] = [Face::Async, Face::Blocking];

    /// `"async"` or `"blocking"`.
    pub fn name(self) -> &'static str {
        match self {
            Face::Async => "async",
            Face::Blocking => "blocking",
        }
    }

    /// The face named `"async"` or `"blocking"`.
    pub fn from_name(name: &str) -> Option<Face> {
        Face::BOTH.into_iter().find(|f| f.name() == name)
    }

    /// An async socket handed to this face.
    pub fn wrap(self, s: Socket) -> FaceSocket {
        match self {
            Face::Async => FaceSocket::Async(s),
            Face::Blocking => FaceSocket::Blocking(s.into()),
        }
    }

    /// `Socket::new` on this face.
    pub fn new_socket(
        self,
        family: Family,
        ty: SockType,
        protocol: Protocol,
    ) -> Result<FaceSocket> {
        Ok(self.wrap(Socket::new(family, ty, protocol)?))
    }

    /// `Socket::tcp` on this face.
    pub fn tcp(self) -> Result<FaceSocket> {
        Ok(self.wrap(Socket::tcp()?))
    }

    /// A listening TCP socket on `host` (`None`: 127.0.0.1), ephemeral port.
    pub fn listener(self, host: Option<&str>) -> FaceSocket {
        let mut l = self.tcp().expect("socket");
        l.bind(0, host).expect("bind");
        l.listen(None).expect("listen");
        l
    }

    /// A listener whose backlog is full (`listen(0)` plus one connected
    /// client never accepted): a further connect's SYN is dropped, so that
    /// connect waits for its timeout. Keep both alive for the test.
    pub fn full_backlog(self) -> (FaceSocket, FaceSocket) {
        let mut l = self.tcp().expect("socket");
        l.bind(0, None).expect("bind");
        l.listen(Some(0)).expect("listen");
        let mut filler = self.tcp().expect("socket");
        filler
            .connect(None, l.port(), None)
            .expect("filler connect");
        (l, filler)
    }

    /// Runs `scenario` on each face, each on its own thread (the two at
    /// once), failing if either fails or outlives [`super::LIMIT`].
    pub fn both(scenario: impl Fn(Face) + Send + Sync + 'static) {
        let scenario = std::sync::Arc::new(scenario);
        let runs: Vec<_> = Face::BOTH
            .into_iter()
            .map(|face| {
                let scenario = scenario.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::Builder::new()
                    .name(format!("face-{}", face.name()))
                    .spawn(move || {
                        scenario(face);
                        let _ = tx.send(());
                    })
                    .expect("spawn");
                (face, rx)
            })
            .collect();
        for (face, rx) in runs {
            rx.recv_timeout(super::LIMIT).unwrap_or_else(|e| {
                panic!(
                    "the {} face failed or outlived its bound ({e:?})",
                    face.name()
                )
            });
        }
    }

    /// A connected TCP pair over 127.0.0.1: (client, accepted side).
    pub fn pair(self) -> (FaceSocket, FaceSocket) {
        let l = self.listener(None);
        let mut c = self.tcp().expect("socket");
        c.connect(None, l.port(), Some(Duration::from_secs(10)))
            .expect("connect");
        let s = l.accept().expect("accept");
        (c, s)
    }
}

/// The multi-thread runtime the async face's calls run on (built once).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// A socket of either face.
#[derive(Debug)]
pub enum FaceSocket {
    Async(Socket),
    Blocking(blocking::Socket),
}

/// The same call on either face: awaited on [`runtime`] for the async one.
macro_rules! io {
    ($self:expr, |$s:ident| $call:expr) => {
        match $self {
            FaceSocket::Async($s) => runtime().block_on($call),
            FaceSocket::Blocking($s) => $call,
        }
    };
}

/// The same non-async call on either face.
macro_rules! plain {
    ($self:expr, |$s:ident| $call:expr) => {
        match $self {
            FaceSocket::Async($s) => $call,
            FaceSocket::Blocking($s) => $call,
        }
    };
}

impl FaceSocket {
    pub fn face(&self) -> Face {
        match self {
            FaceSocket::Async(_) => Face::Async,
            FaceSocket::Blocking(_) => Face::Blocking,
        }
    }

    pub fn connect(
        &mut self,
        host: Option<&str>,
        port: u16,
        timeout: Option<Duration>,
    ) -> Result<()> {
        io!(self, |s| s.connect(host, port, timeout))
    }

    pub fn bind(&mut self, port: u16, host: Option<&str>) -> Result<()> {
        io!(self, |s| s.bind(port, host))
    }

    pub fn listen(&mut self, queue_length: Option<u32>) -> Result<()> {
        plain!(self, |s| s.listen(queue_length))
    }

    /// `accept`, the accepted socket on the same face.
    pub fn accept(&self) -> Result<FaceSocket> {
        match self {
            FaceSocket::Async(s) => runtime().block_on(s.accept()).map(FaceSocket::Async),
            FaceSocket::Blocking(s) => s.accept().map(FaceSocket::Blocking),
        }
    }

    pub fn send(&self, message: impl AsRef<[u8]>) -> Result<usize> {
        let message = message.as_ref();
        io!(self, |s| s.send(message))
    }

    pub fn send_to(&self, host: &str, port: u16, message: impl AsRef<[u8]>) -> Result<usize> {
        let message = message.as_ref();
        io!(self, |s| s.send_to(host, port, message))
    }

    pub fn send_file(&self, file: &std::fs::File) -> Result<u64> {
        io!(self, |s| s.send_file(file))
    }

    pub fn receive_from(&self, length: Option<usize>) -> Result<blade_socket::Datagram> {
        io!(self, |s| s.receive_from(length))
    }

    /// Receives until `n` bytes have arrived (or end of file).
    pub fn receive_exact(&self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self.receive(Some(n - out.len())).expect("receive") {
                Some(b) => out.extend_from_slice(&b),
                None => break,
            }
        }
        out
    }

    pub fn receive(&self, length: Option<usize>) -> Result<Option<Bytes>> {
        io!(self, |s| s.receive(length))
    }

    /// `shutdown` (called through `&mut`, which either receiver form takes).
    pub fn shutdown(&mut self, how: Shutdown) -> Result<()> {
        plain!(self, |s| s.shutdown(how))
    }

    pub fn close(&mut self) -> Result<()> {
        plain!(self, |s| s.close())
    }

    pub fn set_send_timeout(&mut self, t: Option<Duration>) {
        plain!(self, |s| s.set_send_timeout(t))
    }

    pub fn set_receive_timeout(&mut self, t: Option<Duration>) {
        plain!(self, |s| s.set_receive_timeout(t))
    }

    pub fn set_option(&mut self, option: SocketOption, value: OptionValue) -> Result<()> {
        plain!(self, |s| s.set_option(option, value))
    }

    pub fn get_option(&self, option: SocketOption) -> Result<OptionValue> {
        plain!(self, |s| s.get_option(option))
    }

    pub fn with_sockref<R>(
        &self,
        f: impl FnOnce(socket2::SockRef<'_>) -> std::io::Result<R>,
    ) -> Result<R> {
        plain!(self, |s| s.with_sockref(f))
    }

    pub fn info(&self) -> Result<SocketInfo> {
        plain!(self, |s| s.info())
    }

    pub fn peer_info(&self) -> Result<SocketInfo> {
        plain!(self, |s| s.peer_info())
    }

    pub fn host(&self) -> String {
        plain!(self, |s| s.host())
    }

    pub fn port(&self) -> u16 {
        plain!(self, |s| s.port())
    }

    pub fn id(&self) -> i32 {
        plain!(self, |s| s.id())
    }

    pub fn is_closed(&self) -> bool {
        plain!(self, |s| s.is_closed())
    }

    pub fn is_connected(&self) -> bool {
        plain!(self, |s| s.is_connected())
    }

    pub fn is_listening(&self) -> bool {
        plain!(self, |s| s.is_listening())
    }

    pub fn is_bound(&self) -> bool {
        plain!(self, |s| s.is_bound())
    }

    pub fn is_client(&self) -> bool {
        plain!(self, |s| s.is_client())
    }

    pub fn is_shutdown(&self) -> bool {
        plain!(self, |s| s.is_shutdown())
    }

    pub fn is_blocking(&self) -> bool {
        plain!(self, |s| s.is_blocking())
    }

    pub fn set_blocking(&mut self, mode: bool) -> Result<()> {
        plain!(self, |s| s.set_blocking(mode))
    }

    pub fn set_nodelay(&mut self, on: bool) -> Result<()> {
        plain!(self, |s| s.set_nodelay(on))
    }

    pub fn nodelay(&self) -> Result<bool> {
        plain!(self, |s| s.nodelay())
    }

    pub fn shutdown_reason(&self) -> Option<Shutdown> {
        plain!(self, |s| s.shutdown_reason())
    }

    pub fn send_timeout(&self) -> Option<Duration> {
        plain!(self, |s| s.send_timeout())
    }

    pub fn receive_timeout(&self) -> Option<Duration> {
        plain!(self, |s| s.receive_timeout())
    }
}

impl Drop for FaceSocket {
    fn drop(&mut self) {
        // An async socket may be registered with the runtime's reactor:
        // deregister inside its context (a blocking one needs no runtime,
        // and must not start one: a child may be out of descriptors).
        if let FaceSocket::Async(s) = self {
            let _g = runtime().enter();
            let _ = s.close();
        }
    }
}
