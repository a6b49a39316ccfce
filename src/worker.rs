//! What the consumer and subscriber do before their loops: read the
//! settings, start logging, take over the stop requests (Ctrl-C, `kill`),
//! and open stdout (refused only when it was closed at start); and what
//! the consumer does with an element it could not print.

use log::warn;
use redis::Commands;

use crate::connection::Connection;
use crate::exit::Stop;
use crate::print::{self, Output};
use crate::target::Target;
use crate::{config, logging, signals};

/// What a worker needs before its loop.
pub struct Start {
    pub target: Target,
    pub out: Output,
}

/// Everything a worker does before its loop: reads the settings (and the
/// TLS files), starts logging, starts the thread that takes the stop
/// requests, and opens stdout. A setting that cannot be used, or a closed
/// stdout, is [`Stop::Setting`] (exit status 2).
pub fn start() -> Result<Start, Stop> {
    let target = config::redis_from_env()?;
    logging::init(config::log_level_from_env()?);
    target.warn_if_unchecked();
    signals::catch_stop_requests();
    let out = print::open_stdout().map_err(config::unusable_stdout)?;
    Ok(Start { target, out })
}

/// Puts an element that could not be printed back where `BLPOP` took it,
/// the head of `queue`.
pub fn give_back(rcon: &mut Connection, queue: &str, task: &[u8]) {
    if let Err(failure) = rcon.run(|rcon| rcon.lpush::<_, _, ()>(queue, task)) {
        warn!("could not put the element back ({failure}): it is lost");
    }
}
