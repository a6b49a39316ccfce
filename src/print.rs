//! How a task is printed: the original's `print("Task get", task)`, onto a
//! stdout that says when it cannot be written.
//!
//! Rust's own stdout reports success when its descriptor was closed (the
//! runtime puts `/dev/null` in its place at start, opened read-write), so a
//! consumer started with `>&-` printed every element into nothing and the
//! reliable one then removed them from its processing list. [`stdout`]
//! refuses that case, and a reader that goes away (a closed pipe) turns
//! into an error on the next line instead of a panic.

use std::fs::File;
use std::io::{self, LineWriter, Write};
use std::os::fd::AsFd;
use std::os::raw::c_int;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// Where the `Task get` lines go: stdout, flushed after every line.
pub type Output = LineWriter<File>;

unsafe extern "C" {
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
}
const F_GETFL: c_int = 3;
const O_ACCMODE: c_int = 3;
const O_RDWR: c_int = 2;

/// Opens stdout for the `Task get` lines, or says why it cannot be used.
pub fn stdout() -> io::Result<Output> {
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    let file = File::from(fd);
    let meta = file.metadata()?;
    // /dev/null is character device 1:3. A shell's `>/dev/null` opens it
    // write-only; the runtime's stand-in for a closed stdout is read-write.
    let dev_null = meta.file_type().is_char_device() && meta.rdev() == 0x103;
    // SAFETY: F_GETFL only reads the flags of a descriptor we own.
    let flags = unsafe { fcntl(std::os::fd::AsRawFd::as_raw_fd(&file), F_GETFL) };
    if dev_null && flags >= 0 && flags & O_ACCMODE == O_RDWR {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "stdout is closed; nothing printed could be read",
        ));
    }
    Ok(LineWriter::new(file))
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
