//! The subscriber: listens on the channel and prints each message, the
//! original's subscriber script. Each Python line stands as a comment above
//! the Rust that replaces it. The article prints the last lines as
//! `if name == 'main':`, its markup having eaten the underscores; quoted
//! here as Python runs it, `if __name__ == '__main__':`, as the article's
//! other two scripts have it.
//!
//! Pub/sub keeps nothing: a message published while this program is not
//! subscribed is gone, so after a lost connection it subscribes again and
//! says what it may have missed. `Watch` (`src/subscription.rs`) notices a
//! connection the network lost without a word.

use std::process::ExitCode;

use log::{info, warn};
use redis::Connection;
use redis_mq::exit::{self, Stop};
use redis_mq::names::PUBSUB_CHANNEL;
use redis_mq::print::{self, Output};
use redis_mq::reconnect::{Reconnect, WAIT};
use redis_mq::redis_target::RedisTarget;
use redis_mq::signals;
use redis_mq::subscription::Watch;
use redis_mq::worker::{self, Start};

/// `class Task(object)`. The Python keeps `self.rcon` and `self.ps`; here
/// `ps` cannot be a field beside `rcon`: a `PubSub` borrows the connection
/// it listens on (`as_pubsub(&mut self)`), and a struct cannot hold both a
/// value and a borrow of it. So `listen` makes `ps` from `rcon` for as long
/// as one subscription lasts, and a lost connection ends both.
struct Task {
    reconnect: Reconnect,
    channel: &'static str,
}

/// How one subscription ended.
enum Ended {
    /// Asked to stop (or stdout failed): the program ends.
    Stop(Stop),
    /// The connection is gone, or Redis refused the SUBSCRIBE: subscribe again.
    Lost(redis::RedisError),
}

impl Task {
    /// `def __init__(self)`
    fn new(target: RedisTarget) -> Task {
        Task {
            reconnect: Reconnect::new(target, Some(WAIT)),
            channel: PUBSUB_CHANNEL,
        }
    }

    /// `def listen_task(self)`: until asked to stop, or until stdout fails.
    fn listen_task(&mut self, out: &mut Output) -> Result<(), Stop> {
        // self.rcon = redis.StrictRedis(host='localhost')
        let mut rcon = self.reconnect.connect()?;
        loop {
            match self.listen(&mut rcon, out) {
                Ended::Stop(Stop::Asked) => return Ok(()),
                Ended::Stop(stop) => return Err(stop),
                Ended::Lost(e) => {
                    warn!(
                        "anything published until we are subscribed again is missed (pub/sub keeps nothing)"
                    );
                    rcon = self.reconnect.after(&e)?;
                }
            }
        }
    }

    /// Subscribes, then prints every message until asked to stop, until
    /// the connection is lost, or until stdout fails.
    fn listen(&self, rcon: &mut Connection, out: &mut Output) -> Ended {
        // self.ps = self.rcon.pubsub()
        let mut ps = rcon.as_pubsub();
        // self.ps.subscribe('task:pubsub:channel')
        if let Err(e) = ps.subscribe(self.channel) {
            return Ended::Lost(e);
        }
        info!(
            "subscribed to {} at {}",
            self.channel,
            self.reconnect.target()
        );
        let mut watch = Watch::new();
        // for i in self.ps.listen():
        while !signals::stop_requested() {
            // if i['type'] == 'message':
            let message = match watch.next_message(&mut ps) {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(e) => return Ended::Lost(e),
            };
            // print("Task get", i['data'])
            if let Err(e) = print::task_get(out, message.get_payload_bytes()) {
                return Ended::Stop(Stop::Output(e));
            }
        }
        Ended::Stop(Stop::Asked)
    }
}

/// `if __name__ == '__main__':`
fn run() -> Result<(), Stop> {
    let Start { target, mut out } = worker::start()?;
    // print('监听任务频道')
    print::line(&mut out, "监听任务频道")?;
    // Task().listen_task()
    Task::new(target).listen_task(&mut out)
}

/// The one place the subscriber ends: its exit status, and a line saying why.
fn main() -> ExitCode {
    exit::status("subscriber", run())
}
