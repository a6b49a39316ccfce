//! Signals that end a worker: it stops between two elements, never in the
//! middle of one.
//!
//! The default action of these signals ends a process at once: a consumer
//! that had popped an element and not yet printed it lost it. A signal
//! handler would not do either: a signal that lands while a thread reads a
//! socket with a timeout makes that read fail with EINTR, whatever
//! SA_RESTART says. So the signals are blocked in every thread and taken,
//! one at a time, by a thread of their own (`sigwait`), which only sets a
//! flag. The loops check it between elements, and wait in Redis for at most
//! a couple of seconds at a time, so they notice soon. A second signal ends
//! the process at once, as users expect of a second Ctrl-C.
//!
//! A stop and continue (Ctrl-Z then `fg`, `kill -STOP` then `-CONT`) is not
//! one of them: it ends nothing. It too fails a socket read that has a
//! timeout with EINTR, even with no handler (signal(7)); the patched redis
//! crate reads again (`vendor/redis/PATCHES.md`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use libc::c_int;
use log::warn;

use crate::exit::Stop;

/// The signals whose default action would end a worker at once, and that a
/// user or a supervisor sends to end one: SIGHUP (a closed terminal, a
/// dropped ssh session), SIGINT (Ctrl-C), SIGQUIT (Ctrl-\\; no core dump
/// here, since nothing went wrong), SIGTERM (`kill`, systemd,
/// `start-stop-daemon --stop`), and SIGUSR1, SIGUSR2 and SIGALRM, which
/// this program gives no other meaning. SIGKILL cannot be caught: that is
/// what `consumer --reliable` is for.
const STOPPING: [c_int; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
];

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// From now on the [`STOPPING`] signals ask the program to stop. Call it
/// first in `main`, before any thread starts: threads inherit the blocked
/// signals.
pub fn stop_between_elements() {
    // SAFETY: an all-zero sigset_t is a valid value to hand to sigemptyset,
    // which initialises it; the calls only read and write `set`.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    let blocked = unsafe {
        libc::sigemptyset(&mut set) == 0
            && STOPPING
                .iter()
                .all(|&signum| libc::sigaddset(&mut set, signum) == 0)
            && libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) == 0
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
                if unsafe { libc::sigwait(&set, &mut signum) } != 0 {
                    continue;
                }
                if REQUESTED.swap(true, Ordering::SeqCst) {
                    // The second one: the user wants out now, whatever is
                    // held. The signal's own default action ends the process.
                    act_as_default(signum);
                }
            }
        });
    if waiter.is_err() {
        // SAFETY: as above; nobody would take the signals, so let them act.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        warn!("cannot catch Ctrl-C; it will stop this program at once");
    }
}

/// Lets `signum` do what it does by default (end the process), now.
fn act_as_default(signum: c_int) {
    // SAFETY: plain libc calls on a local, initialised sigset_t.
    unsafe {
        let mut one: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut one);
        libc::sigaddset(&mut one, signum);
        libc::signal(signum, libc::SIG_DFL);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
        libc::raise(signum);
    }
}

/// True once one of the [`STOPPING`] signals has arrived.
pub fn stop_requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Waits `delay` (between two tries to reach Redis), or less when a stop
/// is asked for meanwhile: then [`Stop::Asked`].
pub fn sleep_unless_stopped(delay: Duration) -> Result<(), Stop> {
    let until = Instant::now() + delay;
    loop {
        if stop_requested() {
            return Err(Stop::Asked);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        thread::sleep(left.min(Duration::from_millis(50)));
    }
}
