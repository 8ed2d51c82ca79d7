//! The fuzzer behind `tests/reliability_fuzz.rs`, in modules: what it calls
//! ([`ops`], [`hosts`]), on which face ([`faces`]), against which model
//! ([`model`]), checked how ([`harness`], [`calls`], [`io`], [`control`]),
//! run how ([`driver`]: parallel workers, each with its own [`fixture`]
//! and runtime, under the [`watchdog`]), and the random triples
//! ([`triples`]).
#![allow(unreachable_pub)]

pub(crate) use crate::reliability::*;

pub(crate) use std::{
    collections::{HashMap, VecDeque},
    io::{Read, Write},
    net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    sync::{Mutex, OnceLock},
    thread::ThreadId,
    time::{Duration, Instant},
};

pub(crate) use blade_socket::{
    AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, ErrorKind, Family, IPPROTO_TCP, IPPROTO_UDP,
    OptionValue, Protocol, SOCK_DGRAM, SOCK_STREAM, SOMAXCONN, Shutdown, SockType, Socket,
    SocketError, SocketOption, blocking,
};
pub(crate) use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};

/// Any call taking longer than this is a hang.
pub(crate) const HANG: Duration = Duration::from_secs(10);
/// A call the model says may wait forever runs under this cut-off (async).
pub(crate) const CUT_OFF: Duration = Duration::from_millis(3);
/// The most our sends may put in flight to a peer that does not read.
pub(crate) const MAX_IN_FLIGHT: u64 = 1 << 20;

/// Cases per face: `BLADE_SOCKET_FUZZ_CASES`, else 10,000 (1,000,000 with
/// `BLADE_SOCKET_HEAVY=1`).
pub(crate) fn cases_per_face() -> u32 {
    if let Some(n) = std::env::var("BLADE_SOCKET_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return n;
    }
    pick(10_000, 1_000_000)
}

pub(crate) mod hosts;
pub(crate) use hosts::*;
pub(crate) mod fixture;
pub(crate) use fixture::*;
pub(crate) mod watchdog;
pub(crate) use watchdog::*;
pub(crate) mod ops;
pub(crate) use ops::*;
#[macro_use]
pub(crate) mod faces;
pub(crate) use faces::*;
pub(crate) mod model;
pub(crate) use model::*;
pub(crate) mod calls;
pub(crate) mod control;
pub(crate) mod driver;
pub(crate) mod harness;
pub(crate) mod io;
pub(crate) use driver::*;
pub(crate) mod triples;
pub(crate) use triples::*;
