//! The watchdog: a call that outlives `HANG` aborts the process, naming the call.

use super::*;

/// Calls in progress, per thread: when they started and what they are.
pub(crate) fn watch() -> &'static Mutex<HashMap<ThreadId, (Instant, String)>> {
    static WATCH: OnceLock<Mutex<HashMap<ThreadId, (Instant, String)>>> = OnceLock::new();
    WATCH.get_or_init(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let map = watch().lock().unwrap_or_else(|e| e.into_inner());
                for (start, what) in map.values() {
                    if start.elapsed() > HANG {
                        eprintln!("fuzz: HANG: {what} has run for {:?}", start.elapsed());
                        std::process::abort();
                    }
                }
            }
        });
        Mutex::new(HashMap::new())
    })
}

/// Runs `f` under the watchdog, labelled `what`.
pub(crate) fn guarded<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> T) -> T {
    struct Done(ThreadId);
    impl Drop for Done {
        fn drop(&mut self) {
            // Also on a panic (a failing case), so shrinking runs unwatched.
            watch()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.0);
        }
    }
    let id = std::thread::current().id();
    watch()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, (Instant::now(), what()));
    let _done = Done(id);
    f()
}
