//! How a task is printed: the original's `print("Task get", task)`, onto a
//! stdout that says when it cannot be written.
//!
//! A stdout that was closed when the program started (`consumer >&-`) is
//! refused: nothing printed there could be read, and the reliable consumer
//! would then remove every element it "printed". How that is told apart
//! from a stdout sent to `/dev/null` on purpose is the system's business
//! (`platform`). A stdout sent to `/dev/null` (or `NUL`), in any open mode,
//! works: that is the user's choice. A reader that goes away (a closed
//! pipe) turns into an error on the next line instead of a panic.

use std::io::{self, LineWriter, Write};

use crate::exit::Stop;
use crate::platform;

/// Where the `Task get` lines go: stdout, flushed after every line.
pub type Output = LineWriter<platform::Stdout>;

/// Opens stdout for the `Task get` lines, or says why it cannot be used.
pub fn open_stdout() -> io::Result<Output> {
    if platform::stdout_closed_at_start() {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            platform::CLOSED_STDOUT,
        ));
    }
    Ok(LineWriter::new(platform::open_stdout()?))
}

/// Prints one line, such as the start line `监听任务队列`.
pub fn line(out: &mut impl Write, text: &str) -> Result<(), Stop> {
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(cannot_write)
}

/// Prints `Task get <task>`; the line is written (or the error returned)
/// before this returns. Bytes that are not UTF-8 are shown as U+FFFD; an
/// element of any size or content is printed, never fatal. A stdout that
/// fails is [`Stop::Output`]: the program cannot go on.
pub fn task_get(out: &mut impl Write, task: &[u8]) -> Result<(), Stop> {
    writeln!(out, "Task get {}", String::from_utf8_lossy(task))
        .and_then(|()| out.flush())
        .map_err(cannot_write)
}

/// Says where the error happened: `cannot write to stdout: Broken pipe`.
fn cannot_write(e: io::Error) -> Stop {
    Stop::Output(io::Error::new(
        e.kind(),
        format!("cannot write to stdout: {e}"),
    ))
}
