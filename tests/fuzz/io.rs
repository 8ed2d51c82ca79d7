//! Fuzzed send and receive calls, checked byte for byte against the peer.

use super::*;

/// How long the probe after a receive timeout waits for its byte.
const PROBE_WAIT: Duration = Duration::from_secs(5);

impl Harness<'_> {
    pub(crate) fn send(&mut self, to: Option<(&'static str, PortArg)>, len: usize, closed: bool) {
        self.prepare_send(len);
        let (seed, off) = self
            .peer
            .as_ref()
            .map_or((self.seed, 0), |p| (p.seed, p.we_sent));
        let bytes = Pattern::new(seed).bytes(off, len);
        let r = match to {
            None => call!(
                self,
                format!("send({len})"),
                None,
                |s| s.send(&bytes),
                |r| r
            ),
            Some((h, p)) => {
                let port = self.port(p);
                call!(
                    self,
                    format!("send_to({h:?}, {port}, {len})"),
                    None,
                    |s| s.send_to(h, port, &bytes),
                    |r| r
                )
            }
        }
        .expect("not cut");
        if closed {
            return assert_illegal(&r, "send");
        }
        if matches!(self.m.shut, Some(Shutdown::Write | Shutdown::Both)) {
            return assert_illegal(&r, "send after SHUT_WR");
        }
        let unconnected_ok = !self.m.stream && to.is_some();
        if self.m.phase != Phase::Connected && !unconnected_ok {
            return assert_state_error(&r, "socket not listening or connected", "send unconnected");
        }
        match r {
            Ok(n) => {
                if self.m.blocking {
                    assert_eq!(n, len, "a blocking send sends everything");
                } else {
                    assert!(n <= len);
                }
                self.stats.bytes_out += n as u64;
                if let Some(p) = self.peer.as_mut() {
                    p.we_sent += n as u64;
                }
                // A datagram socket bound to the port it sends to (the
                // released "refused" port, say) receives its own datagram.
                if !self.m.stream {
                    let dest = match to {
                        Some((_, p)) => Some(self.port(p)),
                        None => self.m.udp_connected,
                    };
                    if dest.is_some_and(|d| d != 0 && self.local().is_some_and(|l| l.port() == d)) {
                        self.datagrams.push_back((bytes, false));
                    }
                }
            }
            Err(e) => {
                self.note_err("send", &e);
                match e.kind() {
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                        if e.kind() == ErrorKind::TimedOut {
                            self.stats.timeouts += 1;
                            assert!(
                                bounded(self.m.send_timeout),
                                "send timed out without a timeout"
                            );
                        } else {
                            assert!(!self.m.blocking);
                        }
                        if let Some(p) = self.peer.as_mut() {
                            p.sent_unknown = true; // part of it may have gone
                        }
                    }
                    ErrorKind::AddressResolution => assert!(to.is_some()),
                    _ if gone(&e) && self.m.stream => {
                        assert!(
                            plain!(self, |s| s.is_closed()),
                            "a vanished peer closes the socket"
                        );
                        self.set_closed();
                    }
                    ErrorKind::Os => {}
                    _ => panic!("send failed: {e:?}"),
                }
            }
        }
    }

    pub(crate) fn receive(
        &mut self,
        len: Option<usize>,
        from: bool,
        cut: Option<u64>,
        closed: bool,
    ) {
        let unbounded = !closed && len != Some(0) && !self.prepare_receive();
        let Some(cut) = self.cut_off(cut, unbounded) else {
            return;
        };
        // A datagram socket with no local address (not bound, not
        // connected, no earlier send_to) cannot receive anything.
        let no_local = !closed
            && !self.m.stream
            && self.m.phase == Phase::Fresh
            && self.local().is_none_or(|l| l.port() == 0);
        type Got = Result<(Option<bytes::Bytes>, Option<u16>), SocketError>;
        let r: Option<Got> = if from {
            call!(
                self,
                format!("receive_from({len:?})"),
                cut,
                |s| s.receive_from(len),
                |r| r.map(|d| (Some(d.data), Some(d.port)))
            )
        } else {
            call!(
                self,
                format!("receive({len:?})"),
                cut,
                |s| s.receive(len),
                |r| r.map(|b| (b, None))
            )
        };
        let Some(r) = r else {
            self.stats.cut_off += 1;
            return;
        };
        if closed {
            return assert_illegal(&r, "receive");
        }
        if matches!(self.m.shut, Some(Shutdown::Read | Shutdown::Both)) {
            return assert_illegal(&r, "receive after SHUT_RD");
        }
        if self.m.stream && self.m.phase != Phase::Connected {
            return assert_state_error(
                &r,
                "socket not listening or connected",
                "receive unconnected",
            );
        }
        if !self.m.stream && self.m.phase == Phase::Listening {
            unreachable!("a UDP socket cannot listen");
        }
        // `receive` needs a connected datagram socket; `receive_from` a local address.
        if !self.m.stream && self.m.phase != Phase::Connected && (!from || no_local) {
            return assert_state_error(
                &r,
                "socket not listening or connected",
                "datagram receive without a peer or local address",
            );
        }
        match r {
            Ok((data, port)) => {
                if len == Some(0) {
                    assert_eq!(data.as_deref(), Some(&b""[..]), "receive(Some(0))");
                    return;
                }
                if self.m.stream {
                    self.stream_data(data, len, from);
                } else {
                    let d = data.expect("a datagram socket never reports end of file");
                    if let Some(n) = len {
                        assert!(d.len() <= n);
                    }
                    if from {
                        // The partner, or this socket itself (see `send`).
                        let own = self.local().map(|l| l.port());
                        if port != Some(self.fx.udp_port) && port != own {
                            // Another worker's socket, sending to a port its
                            // fixture released and this socket took (workers
                            // share the loopback): not this case's to model.
                            assert!(port.is_some(), "a datagram without a sender");
                            self.stats.foreign_datagrams += 1;
                            return;
                        }
                    }
                    // The next datagram the partner sent, or a later one
                    // (a full receive buffer drops datagrams), never another.
                    let n = |w: &Vec<u8>| len.unwrap_or(usize::MAX).min(w.len());
                    let at = self.datagrams.iter().position(|(w, _)| d[..] == w[..n(w)]);
                    match at {
                        Some(i) => {
                            self.datagrams.drain(..=i);
                        }
                        None => panic!(
                            "a datagram ({} bytes) the partner never sent (queued: {:?})",
                            d.len(),
                            self.datagrams
                                .iter()
                                .map(|(w, _)| w.len())
                                .collect::<Vec<_>>()
                        ),
                    }
                }
            }
            Err(e) => {
                self.note_err("receive", &e);
                match e.kind() {
                    ErrorKind::TimedOut => {
                        self.stats.timeouts += 1;
                        assert!(
                            bounded(self.m.receive_timeout),
                            "receive timed out without a timeout"
                        );
                        assert!(
                            !plain!(self, |s| s.is_closed()),
                            "a timeout keeps the socket open"
                        );
                        self.probe_after_receive_timeout();
                    }
                    ErrorKind::WouldBlock => {
                        assert!(!self.m.blocking, "WouldBlock in blocking mode")
                    }
                    _ if gone(&e) && self.m.stream => {
                        let p = self.peer.as_ref();
                        assert!(p.is_none_or(|p| p.peer_reset), "a reset nobody made: {e:?}");
                        assert!(plain!(self, |s| s.is_closed()), "a reset closes the socket");
                        self.set_closed();
                    }
                    // A connected UDP socket learns of an unreachable port.
                    ErrorKind::Os if !self.m.stream => {}
                    _ => panic!("receive failed: {e:?}"),
                }
            }
        }
    }

    pub(crate) fn stream_data(
        &mut self,
        data: Option<bytes::Bytes>,
        len: Option<usize>,
        from: bool,
    ) {
        let Some(p) = self.peer.as_mut() else {
            // Connected to something that is not our fixture (cannot happen
            // for TCP: only the listener accepts).
            return;
        };
        match data {
            Some(b) if !b.is_empty() => {
                if let Some(n) = len {
                    assert!(b.len() <= n, "receive({n}) returned {}", b.len());
                }
                Pattern::new(p.seed ^ PEER_SEED)
                    .check(p.we_read, &b)
                    .unwrap_or_else(|at| panic!("received a wrong byte at offset {at}"));
                p.we_read += b.len() as u64;
                assert!(
                    p.we_read <= p.peer_wrote,
                    "received more than the peer sent"
                );
                self.stats.bytes_in += b.len() as u64;
            }
            // End of file: receive() says None, receive_from() empty data.
            Some(b) => {
                assert!(from && b.is_empty());
                assert!(
                    p.peer_eof || p.peer_reset,
                    "end of file the peer never sent"
                );
            }
            None => {
                assert!(!from, "receive_from reports end of file as empty data");
                assert!(
                    p.peer_eof || p.peer_reset,
                    "end of file the peer never sent"
                );
                if !p.peer_reset {
                    assert_eq!(p.we_read, p.peer_wrote, "end of file before every byte");
                }
            }
        }
    }

    /// After a receive timeout the socket still works: one more byte from
    /// the peer arrives. The probe waits up to 5 s, not the socket's own
    /// timeout: the byte may be queued behind data that TCP holds back (a
    /// tiny `SO_RCVBUF` closes the window until the persist timer probes
    /// it, some 200 ms later), and that is no fault of the socket.
    pub(crate) fn probe_after_receive_timeout(&mut self) {
        if !self.m.stream || !self.m.blocking {
            return;
        }
        let Some(p) = &self.peer else { return };
        if p.peer_eof || p.peer_reset || self.m.rcvlowat > 1 {
            return;
        }
        if self.peer_send(1) == 1 {
            let saved = plain!(self, |s| s.receive_timeout());
            plain_mut!(self, |s| s.set_receive_timeout(Some(PROBE_WAIT)));
            let r = call!(
                self,
                "receive after a timeout",
                None,
                |s| s.receive(Some(1)),
                |r| r
            );
            plain_mut!(self, |s| s.set_receive_timeout(saved));
            match r.expect("not cut") {
                Ok(data) => self.stream_data(data, Some(1), false),
                Err(e) => panic!("a timed-out socket is no longer usable: {e:?}"),
            }
        }
    }
}
