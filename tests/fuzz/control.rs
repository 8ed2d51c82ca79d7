//! Fuzzed shutdown, option and close-during calls.

use super::*;

impl Harness<'_> {
    pub(crate) fn shutdown(&mut self, raw: i32, closed: bool) {
        let Some(how) = Shutdown::from_raw(raw) else {
            return; // not a direction: the API cannot even express it
        };
        let r = plain_mut!(self, |s| s.shutdown(how));
        if closed {
            return assert_illegal(&r, "shutdown");
        }
        if self.m.phase != Phase::Connected {
            let e = r.expect_err("shutdown unconnected");
            assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "{e:?}");
            return;
        }
        match r {
            Ok(()) => {
                self.m.shut = Some(match (self.m.shut, how) {
                    (None, h) => h,
                    (Some(a), b) if a == b => a,
                    _ => Shutdown::Both,
                });
            }
            Err(e) => {
                self.note_err("shutdown", &e);
                assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "{e:?}");
            }
        }
    }

    pub(crate) fn set_option(&mut self, o: SocketOption, v: Value, closed: bool) {
        // A receive low-water mark is a promise to wait for that many
        // bytes: keep it within what the harness's peer will send.
        let v = match (o == blade_socket::SO_RCVLOWAT, v) {
            (true, Value::Int(n)) if n > 4096 => Value::Int(4096),
            _ => v,
        };
        // Lingering on close blocks close: at most one second.
        let v = match (o == blade_socket::SO_LINGER, v) {
            (true, Value::Int(n)) if n > 1 => Value::Int(1),
            (true, Value::Dur(Some(d))) if d > Duration::from_secs(1) => {
                Value::Dur(Some(Duration::from_secs(1)))
            }
            _ => v,
        };
        let r = plain_mut!(self, |s| s.set_option(o, OptionValue::from(v)));
        if closed {
            return assert_illegal(&r, "set_option");
        }
        let read_only = [
            blade_socket::SO_TYPE,
            blade_socket::SO_ERROR,
            blade_socket::SO_ACCEPTCONN,
        ];
        if read_only.contains(&o) {
            let e = r.expect_err("a read-only option");
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(e.message(), "the given option is read-only");
            return;
        }
        let timeout = |v: Value| -> Option<Option<Duration>> {
            match v {
                Value::Dur(d) => Some(normalize(d)),
                Value::Int(ms) if ms >= 0 => {
                    Some(normalize(Some(Duration::from_millis(ms as u64))))
                }
                _ => None,
            }
        };
        if o == blade_socket::SO_SNDTIMEO || o == blade_socket::SO_RCVTIMEO {
            match timeout(v) {
                Some(t) => {
                    r.expect("a valid timeout");
                    if o == blade_socket::SO_SNDTIMEO {
                        self.m.send_timeout = t;
                    } else {
                        self.m.receive_timeout = t;
                    }
                }
                None => assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidArgument),
            }
            return;
        }
        match r {
            Ok(()) => {
                if o == blade_socket::SO_RCVLOWAT
                    && let Ok(OptionValue::Int(n)) = plain!(self, |s| s.get_option(o))
                {
                    self.m.rcvlowat = usize::try_from(n).unwrap_or(1);
                }
                if o == blade_socket::SO_RCVBUF
                    && let Ok(OptionValue::Int(n)) = plain!(self, |s| s.get_option(o))
                {
                    self.m.rcvbuf_small = n < 64 << 10;
                }
            }
            Err(e) => {
                self.note_err("set_option", &e);
                assert!(
                    matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::Os),
                    "set_option({o:?}, {v:?}): {e:?}"
                );
            }
        }
    }

    pub(crate) fn get_option(&mut self, o: SocketOption, closed: bool) {
        let r = plain!(self, |s| s.get_option(o));
        if closed {
            return assert_illegal(&r, "get_option");
        }
        if o == blade_socket::SO_SNDTIMEO {
            assert_eq!(r.unwrap(), OptionValue::Duration(self.m.send_timeout));
        } else if o == blade_socket::SO_RCVTIMEO {
            assert_eq!(r.unwrap(), OptionValue::Duration(self.m.receive_timeout));
        } else if o == blade_socket::SO_TYPE {
            let ty = if self.m.stream {
                SOCK_STREAM
            } else {
                SOCK_DGRAM
            };
            assert_eq!(r.unwrap(), OptionValue::Int(ty.raw().into()));
        } else if let Err(e) = r {
            assert!(
                matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::Os),
                "{e:?}"
            );
        }
    }

    /// A call pending while another task/thread closes the socket.
    pub(crate) fn close_during(&mut self, which: u8, us: u64, closed: bool) {
        if closed {
            return;
        }
        let delay = Duration::from_micros(us);
        let big = vec![0u8; 8 << 20];
        let r: Result<(), SocketError> = match self.sock.as_ref().expect("socket") {
            Sock::Async(s) => guarded(
                || format!("close_during({which}) on {s:?}"),
                || {
                    self.rt.block_on(async {
                        let op = async {
                            match which {
                                0 => s.receive(None).await.map(drop),
                                1 => s.accept().await.map(drop),
                                _ => s.send(&big).await.map(drop),
                            }
                        };
                        let closer = async {
                            tokio::time::sleep(delay).await;
                            s.close_shared().unwrap();
                        };
                        let (r, ()) =
                            tokio::time::timeout(HANG, async { tokio::join!(op, closer) })
                                .await
                                .expect("HANG: a pending call did not wake at close_shared");
                        r
                    })
                },
            ),
            Sock::Blocking(s) => guarded(
                || format!("close_during({which}) on {s:?}"),
                || {
                    std::thread::scope(|sc| {
                        sc.spawn(|| {
                            std::thread::sleep(delay);
                            s.close_shared().unwrap();
                        });
                        match which {
                            0 => s.receive(None).map(drop),
                            1 => s.accept().map(drop),
                            _ => s.send(&big).map(drop),
                        }
                    })
                },
            ),
        };
        if let Err(e) = &r {
            self.note_err("close_during", e);
        }
        // The peer's bytes may have been taken, or the send partly made:
        // stop checking byte streams for this connection.
        if let Some(p) = self.peer.as_mut() {
            p.sent_unknown = true;
        }
        self.peer = None;
        self.set_closed();
    }
}
