//! The subscriber: listens on the channel and prints each message (the
//! original's subscriber script).
//!
//! Pub/sub keeps nothing: a message published while this program is not
//! subscribed is gone. After a lost connection it subscribes again and says so.

use std::io::{self, Write};

use redis::{Connection, RedisError};
use redis_mq::config::{self, or_exit};
use redis_mq::names::PUBSUB_CHANNEL;
use redis_mq::redis_link::{Backoff, RedisTarget};
use redis_mq::{logging, print};

/// The original's `class Task`.
struct Task {
    target: RedisTarget,
    channel: &'static str,
}

impl Task {
    fn new(target: RedisTarget) -> Task {
        Task {
            target,
            channel: PUBSUB_CHANNEL,
        }
    }

    /// `listen_task`: subscribe, then print every message, for ever.
    /// Returns only if stdout fails.
    fn listen_task(&self, out: &mut impl Write) -> io::Result<()> {
        let mut rcon = self.target.connect_until_ok();
        let mut errors = Backoff::new();
        loop {
            let e = match self.listen(&mut rcon, out) {
                Stopped::Stdout(e) => return Err(e),
                Stopped::Redis(e) => e,
            };
            log::warn!(
                "anything published until we are subscribed again is missed (pub/sub keeps nothing)"
            );
            rcon = self.target.reconnect_after(&e, &mut errors);
        }
    }

    /// `self.ps.subscribe(...)`, then `for i in self.ps.listen()`.
    fn listen(&self, rcon: &mut Connection, out: &mut impl Write) -> Stopped {
        let mut ps = rcon.as_pubsub();
        if let Err(e) = ps.subscribe(self.channel) {
            return Stopped::Redis(e);
        }
        log::info!("subscribed to {} at {}", self.channel, self.target);
        loop {
            // get_message yields only messages, as `if i['type'] == 'message'` did.
            let message = match ps.get_message() {
                Ok(message) => message,
                Err(e) => return Stopped::Redis(e),
            };
            if let Err(e) = print::task_get(out, message.get_payload_bytes()) {
                return Stopped::Stdout(e);
            }
        }
    }
}

/// Why [`Task::listen`] stopped: Redis went away (subscribe again), or
/// stdout did (nothing left to do).
enum Stopped {
    Redis(RedisError),
    Stdout(io::Error),
}

fn main() {
    let target = or_exit(config::redis_from_env());
    logging::init(or_exit(config::log_level_from_env()));

    println!("监听任务频道");
    let mut out = io::stdout().lock();
    if let Err(e) = Task::new(target).listen_task(&mut out) {
        eprintln!("subscriber: cannot write to stdout: {e}");
        std::process::exit(1)
    }
}
