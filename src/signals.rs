//! Stop requests: Ctrl-C, `kill`, a closed terminal or console window. A
//! worker stops between two elements, never in the middle of one; the web
//! server stops taking requests and answers the ones it has.
//!
//! How a request arrives differs by system (`platform`: signals on Unix,
//! console events on Windows); what it does is the same everywhere: the
//! first one only sets a flag, which the loops look at between elements
//! (they wait in Redis for at most a couple of seconds at a time, so they
//! notice soon). A second one ends the process at once, as users expect of
//! a second Ctrl-C.
//!
//! Why not the signal-hook or ctrlc crates: both take a signal with a
//! handler, which interrupts whatever read a thread is in (`EINTR`); here
//! the signals are blocked in every thread and one thread takes them with
//! `sigwait`, so no read is ever interrupted, and none needs them.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use log::warn;

use crate::exit::Stop;
use crate::platform;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static REQUESTED_AT: OnceLock<Instant> = OnceLock::new();

/// From now on a stop request sets the flag that [`stop_requested`] reads:
/// on Unix a thread of its own takes the signals. Call it first in `main`,
/// before any other thread starts: threads inherit the blocked signals.
pub fn catch_stop_requests() {
    if !platform::catch_stop_requests(first_request) {
        warn!(
            "cannot catch stop requests ({}); they will stop this program at once",
            platform::STOP_REQUESTS
        );
    }
}

/// Called for each stop request: true for the first, which this program
/// handles; false for any later one, which ends the process at once.
fn first_request() -> bool {
    let _ = REQUESTED_AT.set(Instant::now());
    !REQUESTED.swap(true, Ordering::SeqCst)
}

/// True once a stop request has arrived.
pub fn stop_requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// When the first stop request arrived, once one has.
pub(crate) fn stop_requested_at() -> Option<Instant> {
    REQUESTED.load(Ordering::SeqCst).then(|| REQUESTED_AT.get().copied())?
}

/// Waits `delay` (between two tries to reach Redis), or less when a stop
/// is asked for meanwhile: then [`Stop::Asked`].
pub(crate) fn sleep_unless_stopped(delay: Duration) -> Result<(), Stop> {
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
