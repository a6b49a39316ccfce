//! How a program ends: the one type that says why ([`Stop`]), and the one
//! place that turns it into a line on stderr and an exit status
//! ([`status`]), called from each `main`. Only a second stop request ends
//! a process otherwise, at once (`src/signals.rs`).

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use log::info;

/// Why a program stops.
#[derive(Debug)]
pub enum Stop {
    /// A signal asked it to (Ctrl-C, `kill`, a closed terminal): status 0.
    Asked,
    /// A setting cannot be used: status 2, the usual one for a usage error.
    Setting(String),
    /// Its output cannot be written (the reader went away): status 1.
    Output(io::Error),
    /// Anything else it cannot go on without (a port in use, a Redis too
    /// old for `--reliable`): status 1.
    Cannot(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Asked => f.write_str("stopped, as asked"),
            Stop::Setting(e) => write!(f, "{e}"),
            Stop::Output(e) => write!(f, "{e}"),
            Stop::Cannot(why) => f.write_str(why),
        }
    }
}

/// The exit status for how `program` ended, with one line on stderr when it
/// ended for a reason other than being asked.
pub fn status(program: &str, ended: Result<(), Stop>) -> ExitCode {
    let stop = match ended {
        Ok(()) | Err(Stop::Asked) => {
            info!("stopped, as asked");
            return ExitCode::SUCCESS;
        }
        Err(stop) => stop,
    };
    say(&format!("{program}: {stop}"));
    match stop {
        Stop::Setting(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// Writes one line to stderr. A stderr that nobody reads any more (a closed
/// pipe) is no reason to panic: the exit status still says what happened.
pub fn say(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}
