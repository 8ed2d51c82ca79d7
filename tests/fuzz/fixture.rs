//! The loopback ports a fuzzing worker owns: listeners, a refused port, a full backlog, UDP partners.

use super::*;

/// Loopback ports this test owns: a listener (on 127.0.0.1 and ::1, same
/// port), a refused port (bound, not listening), a full backlog, and a UDP
/// partner (both families, same port).
pub(crate) struct Fixture {
    pub(crate) listen_port: u16,
    pub(crate) listeners: Vec<TcpListener>,
    pub(crate) refused_port: u16,
    pub(crate) _refused: Vec<socket2::Socket>,
    pub(crate) backlog_port: u16,
    pub(crate) _backlog: Vec<socket2::Socket>,
    pub(crate) _filler: TcpStream,
    pub(crate) udp_port: u16,
    pub(crate) udp: Vec<UdpSocket>,
    pub(crate) udp_refused_port: u16,
    pub(crate) v6: bool,
}

pub(crate) fn v6_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Binds `f(port)` for each family on one port number; retries on clashes.
pub(crate) fn same_port<T: std::os::fd::AsFd>(
    v6: bool,
    mut f: impl FnMut(&str, u16) -> std::io::Result<T>,
) -> (u16, Vec<T>) {
    for _ in 0..100 {
        let Ok(first) = f("127.0.0.1", 0) else {
            continue;
        };
        let port = match f_port(&first) {
            Some(p) => p,
            None => continue,
        };
        let mut all = vec![first];
        if v6 {
            match f("::1", port) {
                Ok(second) => all.push(second),
                Err(_) => continue,
            }
        }
        return (port, all);
    }
    panic!("no port free on both families");
}

/// The port a socket is bound to.
pub(crate) fn f_port(t: &impl std::os::fd::AsFd) -> Option<u16> {
    socket2::SockRef::from(t)
        .local_addr()
        .ok()?
        .as_socket()
        .map(|a| a.port())
}

pub(crate) fn sock2(host: &str, port: u16, ty: socket2::Type) -> std::io::Result<socket2::Socket> {
    let addr: SocketAddr = (host.parse::<IpAddr>().unwrap(), port).into();
    let s = socket2::Socket::new(socket2::Domain::for_address(addr), ty, None)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    Ok(s)
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let v6 = v6_available();
        let (listen_port, listeners) = same_port(v6, |h, p| {
            let l = TcpListener::bind((h.parse::<IpAddr>().unwrap(), p))?;
            l.set_nonblocking(true)?;
            // Room for everything our sends may leave in flight.
            socket2::SockRef::from(&l).set_recv_buffer_size(4 << 20)?;
            Ok(l)
        });
        let (refused_port, refused) = same_port(v6, |h, p| sock2(h, p, socket2::Type::STREAM));
        let (backlog_port, backlog) = same_port(v6, |h, p| sock2(h, p, socket2::Type::STREAM));
        backlog[0].listen(0).unwrap();
        let filler = TcpStream::connect(("127.0.0.1", backlog_port)).unwrap();
        let (udp_port, udp) = same_port(v6, |h, p| {
            let u = UdpSocket::bind((h.parse::<IpAddr>().unwrap(), p))?;
            u.set_nonblocking(true)?;
            Ok(u)
        });
        // A UDP port with nothing on it (bound, then released).
        let udp_refused_port = {
            let (p, socks) = same_port(v6, |h, p| {
                UdpSocket::bind((h.parse::<IpAddr>().unwrap(), p))
            });
            drop(socks);
            p
        };
        Fixture {
            listen_port,
            listeners,
            refused_port,
            _refused: refused,
            backlog_port,
            _backlog: backlog,
            _filler: filler,
            udp_port,
            udp,
            udp_refused_port,
            v6,
        }
    }

    /// The accepted end of our connection from `local` (discarding strays).
    pub(crate) fn accept_peer(&self, local: SocketAddr) -> Option<TcpStream> {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            for l in &self.listeners {
                match l.accept() {
                    Ok((s, from)) => {
                        if from.port() == local.port()
                            && from.ip().to_canonical() == local.ip().to_canonical()
                        {
                            s.set_nonblocking(true).unwrap();
                            // No Nagle delay: a probe byte must leave at once.
                            s.set_nodelay(true).unwrap();
                            return Some(s);
                        }
                        // A stray (a connect that gave up): drop it.
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("fixture accept: {e}"),
                }
            }
            std::thread::yield_now();
        }
        None
    }

    pub(crate) fn partner_udp(&self, v6: bool) -> &UdpSocket {
        &self.udp[usize::from(v6 && self.udp.len() > 1)]
    }
}
