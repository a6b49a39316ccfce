//! Ctrl-C and `kill`: the workers stop between two elements, never in the
//! middle of one.
//!
//! The default action of SIGINT and SIGTERM ends a process at once: a
//! consumer that had popped an element and not yet printed it lost it. A
//! signal handler would not do either: a signal that lands while a thread
//! reads a socket with a timeout makes that read fail (EINTR, whatever
//! SA_RESTART says), and redis-rs then drops the reply, with the element
//! BLPOP had taken. So the two signals are blocked in every thread and
//! taken, one at a time, by a thread of their own (`sigwait`), which only
//! sets a flag. The loops check it between elements, and wait in Redis for
//! at most a couple of seconds at a time, so they notice soon. A second
//! signal ends the process at once, as users expect of a second Ctrl-C.
//!
//! std has no signal API, and the crates that have one bring more than this
//! needs, so the few C functions are declared here (glibc and musl alike).

use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};

const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;
const SIG_BLOCK: c_int = 0;
const SIG_UNBLOCK: c_int = 1;

/// `sigset_t`: 1,024 bits in glibc and in musl.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct SigSet([u8; 128]);

unsafe extern "C" {
    fn sigemptyset(set: *mut SigSet) -> c_int;
    fn sigaddset(set: *mut SigSet, signum: c_int) -> c_int;
    fn pthread_sigmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigwait(set: *const SigSet, signum: *mut c_int) -> c_int;
}

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// From now on SIGINT and SIGTERM ask the program to stop. Call it first in
/// `main`, before any thread starts: threads inherit the blocked signals.
pub fn on_ctrl_c_and_term() {
    let mut set = SigSet([0; 128]);
    // SAFETY: `set` is a valid sigset_t-sized buffer, initialised by
    // sigemptyset before use; blocking signals in this thread is what we want.
    let blocked = unsafe {
        sigemptyset(&mut set) == 0
            && sigaddset(&mut set, SIGINT) == 0
            && sigaddset(&mut set, SIGTERM) == 0
            && pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut()) == 0
    };
    if !blocked {
        warn!("cannot catch Ctrl-C; it will stop this program at once");
        return;
    }
    let waiter = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                let mut signum: c_int = 0;
                // SAFETY: `set` was initialised above; `signum` is a valid out-pointer.
                if unsafe { sigwait(&set, &mut signum) } != 0 {
                    continue;
                }
                if REQUESTED.swap(true, Ordering::SeqCst) {
                    std::process::exit(128 + signum);
                }
            }
        });
    if waiter.is_err() {
        // SAFETY: as above; nobody would take the signals, so let them act.
        unsafe { pthread_sigmask(SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        warn!("cannot catch Ctrl-C; it will stop this program at once");
    }
}

/// Waits `delay` between two tries to reach Redis, unless asked to stop:
/// then the program ends here, with status 0. A program that is waiting
/// for Redis holds nothing (the reliable consumer's element stays in its
/// processing list), so nothing is lost.
pub fn sleep_unless_asked(delay: Duration) {
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if requested() {
            info!("stopped, as asked (while waiting for Redis)");
            std::process::exit(0);
        }
        thread::sleep(
            Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())),
        );
    }
}

/// True once SIGINT or SIGTERM has arrived.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
