//! The harness's checks (getters against the model, every call on a closed socket) and the peer's acts.

use super::*;

impl<'a> Harness<'a> {
    pub(crate) fn sock_debug(&self) -> String {
        match &self.sock {
            Some(Sock::Async(s)) => format!("{s:?}"),
            Some(Sock::Blocking(s)) => format!("{s:?}"),
            None => "none".into(),
        }
    }

    pub(crate) fn port(&self, p: PortArg) -> u16 {
        let fx = self.fx;
        match (p, self.m.stream) {
            (PortArg::Listen, true) => fx.listen_port,
            (PortArg::Refused, true) | (PortArg::Udp, true) => fx.refused_port,
            (PortArg::Backlog, true) => fx.backlog_port,
            (PortArg::Listen | PortArg::Udp, false) => fx.udp_port,
            (PortArg::Refused | PortArg::Backlog, false) => fx.udp_refused_port,
            (PortArg::Zero, _) => 0,
        }
    }

    pub(crate) fn note_err(&mut self, what: &str, e: &SocketError) {
        let key = format!("{what}: {:?} {}", e.kind(), e.message());
        *self.stats.errors.entry(key).or_insert(0) += 1;
    }

    // ------------------------------------------------------------ checks

    /// The getters against the model, and the invariants.
    pub(crate) fn check(&self, after: &str) {
        let m = &self.m;
        let (closed, connected, listening, bound, client, id, shut, blocking_, st, rt_, dbg) =
            plain!(self, |s| (
                s.is_closed(),
                s.is_connected(),
                s.is_listening(),
                s.is_bound(),
                s.is_client(),
                s.id(),
                s.shutdown_reason(),
                s.is_blocking(),
                s.send_timeout(),
                s.receive_timeout(),
                format!("{s:?}")
            ));
        let ctx = || format!("after {after}: model {m:?}, socket {dbg}");
        assert!(
            !(connected && listening),
            "connected and listening: {}",
            ctx()
        );
        assert_eq!(closed, m.phase == Phase::Closed, "is_closed: {}", ctx());
        assert_eq!(id == -1, closed, "id() == -1 iff closed: {}", ctx());
        assert_eq!(
            listening,
            m.phase == Phase::Listening,
            "is_listening: {}",
            ctx()
        );
        // A listener stays bound.
        let want = matches!(m.phase, Phase::Bound | Phase::Listening);
        assert_eq!(bound, want, "is_bound: {}", ctx());
        assert_eq!(client, m.phase == Phase::Connected, "is_client: {}", ctx());
        assert_eq!(
            connected,
            m.phase == Phase::Connected && m.shut != Some(Shutdown::Both),
            "is_connected: {}",
            ctx()
        );
        assert_eq!(shut, m.shut, "shutdown_reason: {}", ctx());
        assert_eq!(blocking_, m.blocking, "is_blocking: {}", ctx());
        assert_eq!(st, m.send_timeout, "send_timeout: {}", ctx());
        assert_eq!(rt_, m.receive_timeout, "receive_timeout: {}", ctx());
        let (ty, fam) = plain!(self, |s| (s.socket_type(), s.family()));
        assert_eq!(ty, if m.stream { SOCK_STREAM } else { SOCK_DGRAM });
        assert_eq!(fam, if m.v6 { AF_INET6 } else { AF_INET });
    }

    /// On a closed socket, every operation fails with the illegal state.
    pub(crate) fn check_all_illegal(&mut self) {
        self.stats.closed_checks += 1;
        let p = self.fx.listen_port;
        let r = call_mut!(self, "connect", |s| s.connect(None, p, None));
        assert_illegal(&r, "connect");
        let r = call_mut!(self, "bind", |s| s.bind(0, None));
        assert_illegal(&r, "bind");
        let r = plain_mut!(self, |s| s.listen(None));
        assert_illegal(&r, "listen");
        let r = call!(self, "accept", None, |s| s.accept(), |r| r.map(drop));
        assert_illegal(&r.expect("not cut"), "accept");
        let r = call!(self, "send", None, |s| s.send("x"), |r| r);
        assert_illegal(&r.expect("not cut"), "send");
        let r = call!(
            self,
            "send_to",
            None,
            |s| s.send_to("127.0.0.1", p, "x"),
            |r| r
        );
        assert_illegal(&r.expect("not cut"), "send_to");
        let r = call!(self, "receive", None, |s| s.receive(Some(0)), |r| r);
        assert_illegal(&r.expect("not cut"), "receive");
        let r = call!(self, "receive_from", None, |s| s.receive_from(None), |r| r);
        assert_illegal(&r.expect("not cut"), "receive_from");
        let r = plain_mut!(self, |s| s.shutdown(Shutdown::Both));
        assert_illegal(&r, "shutdown");
        let r = plain_mut!(self, |s| s.set_option(blade_socket::SO_KEEPALIVE, true));
        assert_illegal(&r, "set_option");
        let r = plain!(self, |s| s.get_option(blade_socket::SO_TYPE));
        assert_illegal(&r, "get_option");
        let r = plain_mut!(self, |s| s.set_blocking(true));
        assert_illegal(&r, "set_blocking");
        let r = plain_mut!(self, |s| s.set_nodelay(true));
        assert_illegal(&r, "set_nodelay");
        let r = plain!(self, |s| s.nodelay());
        assert_illegal(&r, "nodelay");
        let r = plain!(self, |s| s.info());
        assert_illegal(&r, "info");
        let r = plain!(self, |s| s.peer_info());
        assert_illegal(&r, "peer_info");
        let file = std::fs::File::open("/dev/null").unwrap();
        let r = call!(self, "send_file", None, |s| s.send_file(&file), |r| r);
        assert_illegal(&r.expect("not cut"), "send_file");
        let r = plain_mut!(self, |s| s.close());
        assert!(r.is_ok(), "close is idempotent");
        self.check("the closed-socket checks");
    }

    pub(crate) fn set_closed(&mut self) {
        self.m.phase = Phase::Closed;
    }

    // ------------------------------------------------------- peer side

    pub(crate) fn peer_send(&mut self, len: usize) -> usize {
        let Some(p) = self.peer.as_mut() else {
            return 0;
        };
        let Some(s) = p.stream.as_mut() else { return 0 };
        if p.peer_eof {
            return 0;
        }
        let bytes = Pattern::new(p.seed ^ PEER_SEED).bytes(p.peer_wrote, len);
        match s.write(&bytes) {
            Ok(n) => {
                p.peer_wrote += n as u64;
                n
            }
            Err(_) => 0,
        }
    }

    pub(crate) fn peer_drain(&mut self) {
        let Some(p) = self.peer.as_mut() else { return };
        let Some(s) = p.stream.as_mut() else { return };
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if !p.sent_unknown {
                        Pattern::new(p.seed)
                            .check(p.peer_read, &buf[..n])
                            .unwrap_or_else(|at| {
                                panic!("the peer received a wrong byte at offset {at}")
                            });
                    }
                    p.peer_read += n as u64;
                    if !p.sent_unknown {
                        assert!(
                            p.peer_read <= p.we_sent,
                            "the peer got more than our sends reported ({} > {})",
                            p.peer_read,
                            p.we_sent
                        );
                    }
                }
                Err(_) => break,
            }
        }
    }

    pub(crate) fn peer_reset(&mut self) {
        if let Some(p) = self.peer.as_mut()
            && let Some(s) = p.stream.take()
        {
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            drop(s);
            p.peer_reset = true;
        }
    }

    /// Our socket's local address, if it has one.
    pub(crate) fn local(&self) -> Option<SocketAddr> {
        let info = plain!(self, |s| s.info()).ok()?;
        let ip: IpAddr = info.address.parse().ok()?;
        Some(SocketAddr::new(ip, info.port))
    }

    /// Has the partner connect to our listener.
    /// Has a partner connect to our listener, at the address it listens
    /// on; whether one did.
    pub(crate) fn partner_connect(&mut self) -> bool {
        if self.m.phase != Phase::Listening {
            return false;
        }
        let Some(local) = self.local() else {
            return false;
        };
        // The listener's own address (`::ffff:127.0.0.1` is 127.0.0.1); a
        // wildcard one is reached at its family's loopback.
        let ip: IpAddr = match local.ip().to_canonical() {
            ip if ip.is_unspecified() && self.m.v6 => "::1".parse().unwrap(),
            ip if ip.is_unspecified() => "127.0.0.1".parse().unwrap(),
            ip => ip,
        };
        match TcpStream::connect_timeout(
            &SocketAddr::new(ip, local.port()),
            Duration::from_millis(200),
        ) {
            Ok(c) => {
                self.partner_clients.push_back(c);
                true
            }
            Err(_) => false,
        }
    }

    /// Has the UDP partner send a datagram of `len` bytes to us; records it
    /// when it can reach us.
    pub(crate) fn partner_datagram(&mut self, len: usize) {
        if self.m.stream || self.m.phase == Phase::Closed {
            return;
        }
        let Some(local) = self.local() else { return };
        if local.port() == 0 {
            return;
        }
        let to_ip: IpAddr = if self.m.v6 {
            "::1".parse().unwrap()
        } else {
            "127.0.0.1".parse().unwrap()
        };
        let bytes = Pattern::new(self.seed ^ self.stats.datagrams).bytes(0, len);
        self.stats.datagrams += 1;
        let partner = self.fx.partner_udp(self.m.v6);
        if partner.send_to(&bytes, (to_ip, local.port())).is_ok() {
            // It surely arrives unless the socket filters the partner out
            // (connected elsewhere), listens on another address, or has a
            // receive buffer too small to hold it; record
            // it either way, with that certainty.
            let sure = self.m.udp_connected.is_none_or(|p| p == self.fx.udp_port)
                && (local.ip().is_unspecified() || local.ip().is_loopback())
                && !self.m.rcvbuf_small;
            self.datagrams.push_back((bytes, sure));
        }
    }

    pub(crate) fn drop_partner_datagrams(&mut self) {
        let mut buf = [0u8; 4096];
        for u in &self.fx.udp {
            while u.recv_from(&mut buf).is_ok() {}
        }
    }

    // ------------------------------------------------- bounding waits

    /// Makes a receive that would wait without limit complete: the peer
    /// sends (or a datagram arrives). Returns whether the receive is now
    /// bounded.
    /// The cut-off for a call that may wait: the case's own on the async
    /// face, or [`CUT_OFF`] when nothing bounds the wait; on the blocking
    /// face an unbounded call is skipped (`None`, and counted).
    pub(crate) fn cut_off(
        &mut self,
        cut: Option<u64>,
        unbounded: bool,
    ) -> Option<Option<Duration>> {
        let is_async = matches!(self.sock, Some(Sock::Async(_)));
        match (is_async, cut, unbounded) {
            (true, Some(us), _) => Some(Some(Duration::from_micros(us))),
            (true, None, true) => Some(Some(CUT_OFF)),
            (false, _, true) => {
                self.stats.skipped_unbounded += 1;
                None
            }
            _ => Some(None),
        }
    }

    pub(crate) fn prepare_receive(&mut self) -> bool {
        let m = &self.m;
        if m.phase == Phase::Closed || !m.blocking || bounded(m.receive_timeout) {
            return true;
        }
        if matches!(m.shut, Some(Shutdown::Read | Shutdown::Both)) {
            return true;
        }
        if m.stream {
            if m.phase != Phase::Connected {
                return true; // fails at once: not connected
            }
            let lowat = m.rcvlowat.max(1);
            let Some(p) = self.peer.as_ref() else {
                return false;
            };
            if p.peer_reset || p.peer_eof {
                return true; // error or end of file at once
            }
            let queued = (p.peer_wrote - p.we_read) as usize;
            if queued < lowat {
                let want = lowat - queued + 16;
                let sent = self.peer_send(want);
                return sent >= lowat.saturating_sub(queued);
            }
            true
        } else {
            if self.datagrams.iter().any(|(_, sure)| *sure) {
                return true;
            }
            self.partner_datagram(16);
            self.datagrams.iter().any(|(_, sure)| *sure)
        }
    }

    pub(crate) fn prepare_accept(&mut self) -> bool {
        let m = &self.m;
        if m.phase != Phase::Listening || !m.blocking || bounded(m.receive_timeout) {
            return true;
        }
        if self.partner_clients.is_empty() {
            self.partner_connect();
        }
        !self.partner_clients.is_empty()
    }

    /// Sends may fill the pipe: keep what is in flight under the cap.
    pub(crate) fn prepare_send(&mut self, len: usize) {
        if let Some(p) = &self.peer
            && p.we_sent + len as u64 - p.peer_read > MAX_IN_FLIGHT
        {
            self.peer_drain();
        }
    }
}
