//! Ctrl-C and `kill`: the workers stop between two elements, never in the
//! middle of one.
//!
//! The default action of SIGINT and SIGTERM ends a process at once: a
//! consumer that had popped an element and not yet printed it lost it. Here
//! the signal only sets a flag; the loops check it between elements and wait
//! in Redis for at most a couple of seconds at a time, so they notice soon.
//! A second signal ends the process at once, as users expect of a second
//! Ctrl-C.
//!
//! std has no signal API and the only crates that do are more than this
//! needs, so the two C functions are declared here (every Unix libc has them,
//! glibc and musl alike).

use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};

const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;

static REQUESTED: AtomicBool = AtomicBool::new(false);

unsafe extern "C" {
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn _exit(status: c_int) -> !;
}

/// Runs in the signal handler: only async-signal-safe work here.
extern "C" fn on_signal(signum: c_int) {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { _exit(128 + signum) }
    }
}

/// From now on SIGINT and SIGTERM ask the program to stop.
pub fn on_ctrl_c_and_term() {
    for signum in [SIGINT, SIGTERM] {
        // SAFETY: `on_signal` only touches an atomic (and calls _exit).
        unsafe {
            signal(signum, on_signal);
        }
    }
}

/// True once SIGINT or SIGTERM has arrived.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
