//! How a task is printed: the original's `print("Task get", task)`.

use std::io::{self, Write};

/// Prints `Task get <task>` and flushes, so each line shows up as soon as
/// the task arrives. Bytes that are not UTF-8 are shown as U+FFFD; an
/// element of any size or content is printed, never fatal.
pub fn task_get(out: &mut impl Write, task: &[u8]) -> io::Result<()> {
    writeln!(out, "Task get {}", String::from_utf8_lossy(task))?;
    out.flush()
}
