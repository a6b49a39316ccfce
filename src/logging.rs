//! One logger set-up for every program.
//!
//! Log lines go to stderr so that stdout carries only what the original
//! printed (`Task get N`), which keeps the output easy to read and to test.

use std::io::LineWriter;

use log::LevelFilter;
use simplelog::{ConfigBuilder, WriteLogger};

/// Starts logging at `level`. Time stamps are UTC: the crate is built without
/// simplelog's `local-offset` and `termcolor` features, which this example
/// does not need.
pub fn init(level: LevelFilter) {
    let config = ConfigBuilder::new()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .build();
    // simplelog writes a line in many small pieces, and stderr is unbuffered:
    // a LineWriter makes each line one write(2), which matters at one log
    // line per request.
    let stderr = LineWriter::new(std::io::stderr());
    // Only fails if a logger is already set, which would be a bug in main.
    let _ = WriteLogger::init(level, config, stderr);
}
