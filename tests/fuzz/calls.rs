//! Running one fuzzed call: the dispatcher, then connect, bind, listen, accept.

use super::*;

impl Harness<'_> {
    // -------------------------------------------------------- the calls

    pub(crate) fn run(&mut self, op: &Op) {
        let t = Instant::now();
        self.run_op(op);
        let kind: &'static str = op_name(op);
        let e = self.stats.time.entry(kind).or_default();
        e.0 += 1;
        e.1 += t.elapsed();
    }

    pub(crate) fn run_op(&mut self, op: &Op) {
        self.stats.calls += 1;
        let closed = self.m.phase == Phase::Closed;
        let label = format!("{op:?}");
        match op.clone() {
            Op::Connect(h, p, t) => self.connect(h, p, t, closed),
            Op::Bind(p, h) => self.bind(p, h, closed),
            Op::Listen(q) => self.listen(q, closed),
            Op::Accept => self.accept(None, closed),
            Op::AcceptCut(us) => self.accept(Some(us), closed),
            Op::Send(n) => self.send(None, n, closed),
            Op::SendTo(h, p, n) => self.send(Some((h, p)), n, closed),
            Op::Receive(n) => self.receive(n, false, None, closed),
            Op::ReceiveFrom(n) => self.receive(n, true, None, closed),
            Op::ReceiveCut(n, us) => self.receive(n, false, Some(us), closed),
            Op::Shutdown(raw) => self.shutdown(raw, closed),
            Op::Close => {
                let r = plain_mut!(self, |s| s.close());
                assert!(r.is_ok(), "close: {r:?}");
                self.set_closed();
            }
            Op::CloseShared => {
                let r = plain!(self, |s| s.close_shared());
                assert!(r.is_ok(), "close_shared: {r:?}");
                self.set_closed();
            }
            Op::CloseDuring(which, us) => self.close_during(which, us, closed),
            Op::SetOption(o, v) => self.set_option(o, v, closed),
            Op::GetOption(o) => self.get_option(o, closed),
            Op::SetBlocking(b) => {
                let r = plain_mut!(self, |s| s.set_blocking(b));
                if closed {
                    assert_illegal(&r, "set_blocking");
                } else {
                    r.unwrap();
                    self.m.blocking = b;
                }
            }
            Op::SetSendTimeout(t) => {
                plain_mut!(self, |s| s.set_send_timeout(t));
                self.m.send_timeout = normalize(t);
            }
            Op::SetReceiveTimeout(t) => {
                plain_mut!(self, |s| s.set_receive_timeout(t));
                self.m.receive_timeout = normalize(t);
            }
            Op::SetNodelay(b) => {
                let r = plain_mut!(self, |s| s.set_nodelay(b));
                if closed {
                    assert_illegal(&r, "set_nodelay");
                } else if self.m.stream {
                    r.unwrap();
                    self.m.nodelay = Some(b);
                } else {
                    assert!(r.is_err(), "TCP_NODELAY on UDP");
                }
            }
            Op::Nodelay => {
                let r = plain!(self, |s| s.nodelay());
                if closed {
                    assert_illegal(&r, "nodelay");
                } else if self.m.stream {
                    assert_eq!(r.unwrap(), self.m.nodelay.unwrap_or(false));
                }
            }
            Op::Info => {
                let r = plain!(self, |s| s.info());
                if closed {
                    assert_illegal(&r, "info");
                } else {
                    let i = r.expect("info on an open socket");
                    assert_eq!(i.family, if self.m.v6 { AF_INET6 } else { AF_INET });
                }
            }
            Op::PeerInfo => {
                let r = plain!(self, |s| s.peer_info());
                if closed {
                    assert_illegal(&r, "peer_info");
                } else if self.m.phase != Phase::Connected {
                    assert!(r.is_err(), "peer_info unconnected: {r:?}");
                }
            }
            Op::GetAddressInfo(h, svc, fam) => {
                assert_never_resolved(h);
                let r = match &self.sock {
                    Some(Sock::Async(_)) => guarded(
                        || format!("get_address_info({h:?})"),
                        || {
                            self.rt.block_on(async {
                                tokio::time::timeout(
                                    HANG,
                                    blade_socket::get_address_info(h, svc, fam),
                                )
                                .await
                            })
                        },
                    )
                    .expect("get_address_info hung"),
                    _ => guarded(
                        || format!("get_address_info({h:?})"),
                        || blocking::get_address_info(h, svc, fam),
                    ),
                };
                if let Err(e) = &r {
                    assert_eq!(e.kind(), ErrorKind::AddressResolution, "{h:?}: {e:?}");
                }
            }
            Op::SwitchFace => {
                let s = self.sock.take().expect("socket");
                self.sock = Some(match s {
                    Sock::Async(s) => Sock::Blocking(s.into()),
                    Sock::Blocking(s) => Sock::Async(s.into()),
                });
            }
            Op::PeerSend(n) => {
                self.peer_send(n);
            }
            Op::PeerShutWrite => {
                if let Some(p) = self.peer.as_mut()
                    && let Some(s) = &p.stream
                {
                    let _ = s.shutdown(std::net::Shutdown::Write);
                    p.peer_eof = true;
                }
            }
            Op::PeerReset => self.peer_reset(),
            Op::PeerDrain => self.peer_drain(),
            Op::PeerConnect => {
                self.partner_connect();
            }
            Op::PartnerDatagram(n) => self.partner_datagram(n),
        }
        self.check(&label);
        if self.m.phase == Phase::Closed && !closed {
            // Just closed: everything now fails with the illegal state.
            self.check_all_illegal();
        }
    }

    pub(crate) fn connect(
        &mut self,
        h: &'static str,
        p: PortArg,
        t: Option<Duration>,
        closed: bool,
    ) {
        let port = self.port(p);
        // A full backlog answers nothing: only a bounded timeout may try it.
        let t = if port == self.fx.backlog_port && self.m.stream && !bounded(t) {
            Some(Duration::from_millis(2))
        } else {
            t
        };
        let phase = self.m.phase;
        let r = call_mut!(self, format!("connect({h:?}, {port}, {t:?})"), |s| s
            .connect(Some(h), port, t));
        if closed {
            return assert_illegal(&r, "connect");
        }
        match phase {
            Phase::Connected => {
                return assert_state_error(
                    &r,
                    "socket has existing connection",
                    "connect while connected",
                );
            }
            Phase::Listening => {
                return assert_state_error(
                    &r,
                    "socket is in an illegal state (listening)",
                    "connect while listening",
                );
            }
            _ => {}
        }
        match r {
            Ok(()) => {
                self.m.phase = Phase::Connected;
                let got = plain!(self, |s| s.port());
                assert_eq!(got, port, "port() after connect");
                if self.m.stream {
                    let local = self.local().expect("local address of a connected socket");
                    let peer = self.fx.accept_peer(local);
                    if port == self.fx.listen_port {
                        let stream = peer.expect("the fixture saw our connection");
                        self.peer = Some(Peer {
                            stream: Some(stream),
                            peer_wrote: 0,
                            we_read: 0,
                            we_sent: 0,
                            peer_read: 0,
                            sent_unknown: false,
                            peer_eof: false,
                            peer_reset: false,
                            seed: self.seed,
                        });
                    }
                } else {
                    // Datagrams already queued stay queued (Linux keeps them).
                    self.m.udp_connected = Some(port);
                }
            }
            Err(e) => {
                self.note_err("connect", &e);
                assert!(
                    plain!(self, |s| s.is_closed()),
                    "a failed connect closes the socket: {e:?}"
                );
                if e.kind() == ErrorKind::TimedOut {
                    assert!(
                        bounded(t) || t == Some(Duration::from_secs(30)),
                        "timed out without a timeout: {t:?}"
                    );
                }
                self.set_closed();
            }
        }
    }

    pub(crate) fn bind(&mut self, p: PortArg, h: Option<&'static str>, closed: bool) {
        let port = self.port(p);
        let phase = self.m.phase;
        let r = call_mut!(self, format!("bind({port}, {h:?})"), |s| s.bind(port, h));
        if closed {
            return assert_illegal(&r, "bind");
        }
        if phase == Phase::Connected {
            return assert_state_error(&r, "socket has existing connection", "bind connected");
        }
        if phase != Phase::Fresh {
            return assert_state_error(&r, "socket previously bound", "bind again");
        }
        match r {
            Ok(()) => {
                self.m.phase = Phase::Bound;
                let got = plain!(self, |s| s.port());
                assert!(
                    got != 0 && (port == 0 || got == port),
                    "port() after bind: {got}"
                );
            }
            Err(e) => {
                self.note_err("bind", &e);
                assert!(
                    !plain!(self, |s| s.is_closed()),
                    "a failed bind keeps the socket: {e:?}"
                );
            }
        }
    }

    pub(crate) fn listen(&mut self, q: Option<u32>, closed: bool) {
        let r = plain_mut!(self, |s| s.listen(q));
        if closed {
            return assert_illegal(&r, "listen");
        }
        if self.m.phase != Phase::Bound {
            let cause = match self.m.phase {
                Phase::Listening => "listening",
                Phase::Connected => "connected",
                _ => "not bound",
            };
            let want = format!("socket is in an illegal state ({cause})");
            return assert_state_error(&r, &want, "listen unbound");
        }
        if q.is_some_and(|q| q > SOMAXCONN) {
            let e = r.expect_err("backlog over SOMAXCONN");
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e:?}");
            return;
        }
        match r {
            Ok(()) => {
                assert!(self.m.stream, "listen on UDP succeeded");
                self.m.phase = Phase::Listening;
            }
            Err(e) => {
                self.note_err("listen", &e);
                assert!(!self.m.stream, "listen on a bound TCP socket failed: {e:?}");
            }
        }
    }

    pub(crate) fn accept(&mut self, cut: Option<u64>, closed: bool) {
        let unbounded = !closed && !self.prepare_accept();
        let Some(cut) = self.cut_off(cut, unbounded) else {
            return;
        };
        let r = call!(self, "accept", cut, |s| s.accept(), |r| r
            .map(|c| accepted_state!(&c)));
        let Some(r) = r else {
            self.stats.cut_off += 1;
            return;
        };
        if closed {
            return assert_illegal(&r, "accept");
        }
        if self.m.phase != Phase::Listening {
            return assert_state_error(&r, "socket not bound/listening", "accept unlistening");
        }
        match r {
            Ok(state) => self.accepted(state),
            Err(e) => {
                self.note_err("accept", &e);
                match e.kind() {
                    ErrorKind::TimedOut => {
                        self.stats.timeouts += 1;
                        assert!(
                            bounded(self.m.receive_timeout),
                            "accept timed out without a timeout"
                        );
                        // Still usable: a partner connects and is accepted.
                        if self.partner_connect() {
                            let r =
                                call!(self, "accept after a timeout", None, |s| s.accept(), |r| r
                                    .map(|c| accepted_state!(&c)));
                            match r.expect("not cut") {
                                Ok(state) => self.accepted(state),
                                Err(e) => panic!("a timed-out listener is no longer usable: {e:?}"),
                            }
                        }
                    }
                    ErrorKind::WouldBlock => assert!(!self.m.blocking),
                    _ => panic!("accept failed: {e:?}"),
                }
            }
        }
    }

    pub(crate) fn accepted(&mut self, state: AcceptedState) {
        self.stats.accepted += 1;
        assert_eq!(
            state,
            AcceptedState {
                client: true,
                connected: true,
                listening: false,
                closed: false,
                timeouts: (None, None),
                blocking: true,
            },
            "the accepted socket's state"
        );
        self.partner_clients.pop_front();
    }
}
