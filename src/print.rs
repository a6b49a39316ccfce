//! How a task is printed: the original's `print("Task get", task)`, onto a
//! stdout that says when it cannot be written.
//!
//! A stdout that was closed when the program started (`consumer >&-`) is
//! refused: nothing printed there could be read, and the reliable consumer
//! would then remove every element it "printed". Rust's runtime puts
//! `/dev/null` in place of a closed descriptor before `main`, and that looks
//! the same as the `/dev/null` a daemonizer (`daemon(3)`,
//! `start-stop-daemon --background`, BusyBox, Python's `subprocess.DEVNULL`)
//! opens on purpose. So the descriptor is looked at once before the runtime
//! does, from an `.init_array` entry, which the C runtime (glibc and musl
//! alike) runs before Rust's start-up code: closed then is closed, exactly.
//! A stdout sent to `/dev/null`, in any open mode, works: that is the
//! user's choice. A reader that goes away (a closed pipe) turns into an
//! error on the next line instead of a panic.

use std::fs::File;
use std::io::{self, LineWriter, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where the `Task get` lines go: stdout, flushed after every line.
pub type Output = LineWriter<File>;

/// Whether descriptor 1 was closed when the process started.
static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// Runs before Rust's runtime replaces closed standard descriptors.
extern "C" fn record_stdout_at_start() {
    // SAFETY: F_GETFD only asks whether descriptor 1 is open.
    let closed = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1;
    STDOUT_CLOSED_AT_START.store(closed, Ordering::Relaxed);
}

#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_STDOUT_AT_START: extern "C" fn() = record_stdout_at_start;

/// Opens stdout for the `Task get` lines, or says why it cannot be used.
pub fn stdout() -> io::Result<Output> {
    if STDOUT_CLOSED_AT_START.load(Ordering::Relaxed) {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "stdout is closed (started with >&-); nothing printed could be read. \
             To discard the output, send it to /dev/null",
        ));
    }
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    Ok(LineWriter::new(File::from(fd)))
}

/// Prints one line, such as the start line `监听任务队列`.
pub fn line(out: &mut impl Write, text: &str) -> io::Result<()> {
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(cannot_write)
}

/// Prints `Task get <task>`; the line is written (or the error returned)
/// before this returns. Bytes that are not UTF-8 are shown as U+FFFD; an
/// element of any size or content is printed, never fatal.
pub fn task_get(out: &mut impl Write, task: &[u8]) -> io::Result<()> {
    writeln!(out, "Task get {}", String::from_utf8_lossy(task))
        .and_then(|()| out.flush())
        .map_err(cannot_write)
}

/// Says where the error happened: `cannot write to stdout: Broken pipe`.
fn cannot_write(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot write to stdout: {e}"))
}
