//! Everything that differs between operating systems, in one place: the
//! rest of the crate has no `cfg` and calls only what is here.
//!
//! | concern | Unix (Linux, macOS, FreeBSD) | Windows |
//! |---|---|---|
//! | a stop request | signals, taken by a `sigwait` thread | console control events (Ctrl-C, Ctrl-Break, a closed window) |
//! | a stdout closed at start | looked at before Rust's runtime hides it | a missing standard handle |
//! | where `Task get` lines go | a duplicate of descriptor 1 | std's stdout, which writes Unicode to a console |
//! | the host's name | `gethostname` | `COMPUTERNAME` |

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

pub use os::{
    CLOSED_STDOUT, STOP_REQUESTS, Stdout, catch_stop_requests, hostname, open_stdout,
    stdout_closed_at_start,
};
