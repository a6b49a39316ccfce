//! What the consumer and subscriber share around their loops: the start
//! (settings, logging, Ctrl-C, a stdout that reports failure), the exit
//! status, and a watch over a quiet subscription.

use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use log::info;
use redis::{Msg, PubSub, RedisResult};

use crate::config::{self, or_exit};
use crate::print::{self, Output};
use crate::redis_link::RedisTarget;
use crate::{logging, stop};

/// What a worker needs before its loop.
pub struct Start {
    pub target: RedisTarget,
    pub out: Output,
}

/// Reads the settings (a wrong one: one line, exit status 2), starts
/// logging, takes over Ctrl-C, and opens stdout (refused when closed).
pub fn start() -> Start {
    let target = or_exit(config::redis_from_env());
    logging::init(or_exit(config::log_level_from_env()));
    stop::on_ctrl_c_and_term();
    let out = or_exit(print::stdout().map_err(config::output_error));
    Start { target, out }
}

/// The exit status of a worker's loop: 0 when it stopped as asked; 1, with
/// one line, when it cannot go on (stdout failed: the reader went away).
pub fn exit(program: &str, result: io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => {
            info!("stopped, as asked");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How often a subscriber looks up from its channel (for Ctrl-C).
pub const TICK: Duration = Duration::from_secs(1);
/// Quiet time after which a subscription is checked with PING; no PONG
/// within as long again, and the connection is taken for dead.
const QUIET: Duration = Duration::from_secs(5);

/// Watches a subscription that may go quiet because nothing is published,
/// or because the network lost the connection without a word.
pub struct Watch {
    heard: Instant,
}

impl Watch {
    pub fn new() -> Watch {
        Watch {
            heard: Instant::now(),
        }
    }

    /// The next message, or `None` after a quiet [`TICK`] (time to look at
    /// the stop flag). An error means the connection is gone.
    pub fn next_message(&mut self, ps: &mut PubSub<'_>) -> RedisResult<Option<Msg>> {
        match ps.get_message() {
            Ok(message) => {
                self.heard = Instant::now();
                Ok(Some(message))
            }
            Err(e) if e.is_timeout() && self.heard.elapsed() < QUIET => Ok(None),
            Err(e) if e.is_timeout() => {
                // PING on a subscribed connection; messages that come before
                // the PONG are kept for get_message.
                ps.set_read_timeout(Some(QUIET))?;
                let pong = ps.ping::<redis::Value>();
                // Back to short waits, also for the UNSUBSCRIBE that
                // dropping `ps` sends.
                ps.set_read_timeout(Some(TICK))?;
                pong?;
                self.heard = Instant::now();
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl Default for Watch {
    fn default() -> Self {
        Watch::new()
    }
}
