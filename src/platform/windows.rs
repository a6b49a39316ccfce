//! Windows (the MSVC and GNU targets). The one call std lacks,
//! `SetConsoleCtrlHandler`, is declared here by hand: it is in kernel32,
//! which every Windows program links, so no binding crate (windows-sys) is
//! needed for one line.

use std::io;
use std::os::windows::io::AsRawHandle;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

/// What stops a program, as the README and the log name it.
pub const STOP_REQUESTS: &str = "Ctrl-C, Ctrl-Break, a closed console window";

type Handler = unsafe extern "system" fn(event: u32) -> i32;

#[link(name = "kernel32")]
unsafe extern "system" {
    fn SetConsoleCtrlHandler(handler: Option<Handler>, add: i32) -> i32;
}

const CTRL_CLOSE_EVENT: u32 = 2;
const CTRL_LOGOFF_EVENT: u32 = 5;
const CTRL_SHUTDOWN_EVENT: u32 = 6;

static FIRST_REQUEST: OnceLock<fn() -> bool> = OnceLock::new();

/// Windows runs this on a new thread of its own for each console event:
/// Ctrl-C, Ctrl-Break, the console window closed, a log-off, a shutdown.
unsafe extern "system" fn on_console_event(event: u32) -> i32 {
    let first = FIRST_REQUEST.get().is_some_and(|first| first());
    if !first {
        // A second one: not handled here, so the default handler ends
        // the process at once.
        return 0;
    }
    if matches!(
        event,
        CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT
    ) {
        // For these Windows ends the process as soon as the handler
        // returns (or after about 5 s): hold it while `main` stops
        // between two elements and exits by itself.
        thread::sleep(Duration::from_secs(30));
    }
    1
}

/// From now on console control events call `first`; when it returns false
/// (a second Ctrl-C), the event does what it does by default: it ends the
/// process. Returns false when the handler cannot be set.
pub fn catch_stop_requests(first: fn() -> bool) -> bool {
    let _ = FIRST_REQUEST.set(first);
    // SAFETY: a null handler with FALSE turns Ctrl-C handling back on for a
    // process started with it off (CREATE_NEW_PROCESS_GROUP, `start /b`);
    // then our handler, a plain function that lives as long as the process.
    unsafe {
        SetConsoleCtrlHandler(None, 0);
        SetConsoleCtrlHandler(Some(on_console_event), 1) != 0
    }
}

/// Why a missing stdout is refused, in the user's words.
pub const CLOSED_STDOUT: &str = "the program has no stdout (started without one); nothing printed could be read. \
     To discard the output, send it to NUL";

/// Windows has no closed descriptor for Rust's runtime to replace: a
/// program started without a stdout has a null standard handle, and std
/// would then swallow every write without a word.
pub fn stdout_closed_at_start() -> bool {
    let handle = io::stdout().as_raw_handle();
    handle.is_null() || handle as isize == -1
}

/// std's own stdout: it writes Unicode to a console (`监听任务队列` shows as
/// such whatever the console's code page) and bytes to a pipe or a file.
pub type Stdout = io::Stdout;

pub fn open_stdout() -> io::Result<Stdout> {
    Ok(io::stdout())
}

/// The host's name, as Windows sets it for every process.
pub fn hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok().filter(|name| !name.trim().is_empty())
}
