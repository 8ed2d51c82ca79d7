//! The one trap: a blocking call on a current-thread runtime's thread stalls
//! that runtime. The facade says so with one `tracing` warning per process,
//! the first time such a call actually waits; never for calls that do not
//! wait, nor for waits on plain threads or multi-thread runtimes' workers.
//!
//! The warning is once per process, so this binary holds this one test.
mod support;
use support::*;

use std::{
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use blade_socket::blocking;
use tracing::{Level, field::Field};
use tracing_subscriber::{Layer, layer::SubscriberExt};

/// The blade_socket warnings seen, process-wide.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() == Level::WARN && meta.target().starts_with("blade_socket") {
            let mut m = Message(String::new());
            event.record(&mut m);
            self.0.lock().unwrap().push(m.0);
        }
    }
}

/// A facade receive that must wait: nothing is queued, and the timeout ends it.
fn receive_times_out() {
    let (a, _b) = blocking::Socket::pair().unwrap();
    a.set_receive_timeout(Some(Duration::from_millis(30)));
    let e = a.receive(None).unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn one_warning_the_first_time_a_facade_call_waits_on_a_current_thread_runtime() {
    let warnings = Warnings::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(warnings.clone()))
        .expect("the only subscriber of this binary");
    let started = Instant::now();

    // Waits elsewhere: a plain thread, a multi-thread runtime's worker.
    receive_times_out();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    multi.block_on(async { tokio::spawn(async { receive_times_out() }).await.unwrap() });
    assert_eq!(
        warnings.count(),
        0,
        "no warning off a current-thread runtime"
    );

    // On a current-thread runtime, a call that does not wait.
    let rt = current_thread();
    rt.block_on(async {
        let (a, b) = blocking::Socket::pair().unwrap();
        a.send("queued").unwrap();
        assert_eq!(b.receive(None).unwrap().as_deref(), Some(&b"queued"[..]));
    });
    assert_eq!(
        warnings.count(),
        0,
        "no warning for a call that did not wait"
    );

    // One that waits with no timeout, for a peer on a plain thread that
    // answers once the warning is out (or after LIMIT, and then the
    // assertion below fails).
    let (a, b) = blocking::Socket::pair().unwrap();
    let peer = thread::spawn({
        let warnings = warnings.clone();
        move || {
            while warnings.count() == 0 && started.elapsed() < LIMIT {
                thread::yield_now();
            }
            b.send("late").unwrap();
        }
    });
    rt.block_on(async {
        assert_eq!(a.receive(None).unwrap().as_deref(), Some(&b"late"[..]));
    });
    peer.join().unwrap();
    assert_eq!(warnings.count(), 1, "one warning at the first wait");
    let text = warnings.0.lock().unwrap()[0].clone();
    for needed in ["current-thread", "multi_thread", "spawn_blocking"] {
        assert!(text.contains(needed), "the warning names {needed}: {text}");
    }

    // Never again in this process.
    rt.block_on(async { receive_times_out() });
    current_thread().block_on(async { receive_times_out() });
    assert_eq!(warnings.count(), 1, "once per process");
}
