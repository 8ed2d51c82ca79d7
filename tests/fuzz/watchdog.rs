//! The watchdog: a call that outlives `HANG` aborts the process, naming the
//! call, and first prints the case it belongs to (how to replay it, its
//! operations) and the calls the case made up to it.

use super::*;

/// Calls in progress, per thread: when they started and what they are.
pub(crate) fn watch() -> &'static Mutex<HashMap<ThreadId, (Instant, String)>> {
    static WATCH: OnceLock<Mutex<HashMap<ThreadId, (Instant, String)>>> = OnceLock::new();
    WATCH.get_or_init(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let map = watch().lock().unwrap_or_else(|e| e.into_inner());
                for (id, (start, what)) in map.iter() {
                    if start.elapsed() > HANG {
                        eprintln!("fuzz: HANG: {what} has run for {:?}", start.elapsed());
                        let cases = cases().lock().unwrap_or_else(|e| e.into_inner());
                        match cases.get(id) {
                            Some(case) => {
                                eprintln!("fuzz: HANG in case: {}", case.what);
                                eprintln!("fuzz: HANG: the case's calls so far:");
                                for call in &case.calls {
                                    eprintln!("fuzz:   {call}");
                                }
                            }
                            None => eprintln!("fuzz: HANG outside a recorded case"),
                        }
                        std::process::abort();
                    }
                }
            }
        });
        Mutex::new(HashMap::new())
    })
}

/// The case each thread runs, and the calls it has made.
pub(crate) struct CaseLog {
    what: String,
    calls: Vec<String>,
}

/// The case running on each thread (see [`case_started`]).
fn cases() -> &'static Mutex<HashMap<ThreadId, CaseLog>> {
    static CASES: OnceLock<Mutex<HashMap<ThreadId, CaseLog>>> = OnceLock::new();
    CASES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Records that this thread starts the case `what` (how to replay it, and
/// its operations), for the watchdog to print if a call of it hangs.
pub(crate) fn case_started(what: String) {
    cases().lock().unwrap_or_else(|e| e.into_inner()).insert(
        std::thread::current().id(),
        CaseLog {
            what,
            calls: Vec::new(),
        },
    );
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
    let what = what();
    if let Some(case) = cases()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&id)
    {
        case.calls.push(what.clone());
    }
    watch()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, (Instant::now(), what));
    let _done = Done(id);
    f()
}
