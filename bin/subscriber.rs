//! The subscriber: listens on the channel and prints each message, the
//! original's subscriber script. Each Python line stands as a comment above
//! the Rust that replaces it.
//!
//! Pub/sub keeps nothing: a message published while this program is not
//! subscribed is gone, so after a lost connection it subscribes again and
//! says what it may have missed. `Watch` (`src/worker.rs`) notices a
//! connection the network lost without a word.

use std::io;
use std::process::ExitCode;

use log::{info, warn};
use redis::{Connection, RedisError};
use redis_mq::names::PUBSUB_CHANNEL;
use redis_mq::print::{self, Output};
use redis_mq::redis_link::{Reconnect, RedisTarget};
use redis_mq::stop;
use redis_mq::worker::{self, Start, TICK, Watch};

/// `class Task(object)`
struct Task {
    reconnect: Reconnect,
    channel: &'static str,
}

impl Task {
    /// `def __init__(self)`
    fn new(target: RedisTarget) -> Task {
        let reconnect = Reconnect::new(target, Some(TICK));
        Task {
            reconnect,
            channel: PUBSUB_CHANNEL,
        }
    }

    /// `def listen_task(self)`: until Ctrl-C, or until stdout fails.
    fn listen_task(&mut self, out: &mut Output) -> io::Result<()> {
        // self.rcon = redis.StrictRedis(host='localhost')
        let mut rcon = self.reconnect.first();
        while let Err(e) = self.listen(&mut rcon, out)? {
            warn!(
                "anything published until we are subscribed again is missed (pub/sub keeps nothing)"
            );
            rcon = self.reconnect.after(&e);
        }
        Ok(())
    }

    /// Subscribes, then prints every message until Ctrl-C (`Ok(Ok(()))`),
    /// a lost connection (`Ok(Err(_))`) or a stdout that fails (`Err(_)`).
    fn listen(
        &self,
        rcon: &mut Connection,
        out: &mut Output,
    ) -> io::Result<Result<(), RedisError>> {
        // self.ps = self.rcon.pubsub()
        let mut ps = rcon.as_pubsub();
        // self.ps.subscribe('task:pubsub:channel')
        if let Err(e) = ps.subscribe(self.channel) {
            return Ok(Err(e));
        }
        info!(
            "subscribed to {} at {}",
            self.channel,
            self.reconnect.target()
        );
        let mut watch = Watch::new();
        // for i in self.ps.listen():
        while !stop::requested() {
            // get_message yields only messages, as `if i['type'] == 'message'` did.
            let message = match watch.next_message(&mut ps) {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(e) => return Ok(Err(e)),
            };
            // print("Task get", i['data'])
            print::task_get(out, message.get_payload_bytes())?;
        }
        Ok(Ok(()))
    }
}

/// `if name == 'main':`
fn main() -> ExitCode {
    let Start { target, mut out } = worker::start();
    // print('监听任务频道')
    let started = print::line(&mut out, "监听任务频道");
    // Task().listen_task()
    let done = started.and_then(|()| Task::new(target).listen_task(&mut out));
    worker::exit("subscriber", done)
}
