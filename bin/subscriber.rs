//! The subscriber: listens on the channel and prints each message, the
//! original's subscriber script. Each Python line stands as a comment
//! above the Rust that replaces it; a line marked `new:` has no Python
//! counterpart. The article prints the last lines as `if name == 'main':`,
//! its markup having eaten the underscores; quoted here as Python runs it.
//!
//! `Connection` (`src/connection.rs`) is `self.rcon` kept live;
//! `Subscription::open` subscribes on it (`src/subscription.rs`) and
//! iterates over the messages like `self.ps.listen()`, ending when the
//! connection is lost or a stop is requested. Pub/sub keeps nothing: what
//! is published while no subscription stands is gone, and the log says so.

use std::process::ExitCode;

use redis_mq::connection::{Connection, WAIT};
use redis_mq::exit::{self, Stop};
use redis_mq::names::PUBSUB_CHANNEL;
use redis_mq::print::{self, Output};
use redis_mq::signals;
use redis_mq::subscription::Subscription;
use redis_mq::target::Target;
use redis_mq::worker::{self, Start};

/// `class Task(object)`. The Python keeps `self.ps` beside `self.rcon`;
/// here a `PubSub` borrows the connection it listens on, and a struct
/// cannot hold both a value and a borrow of it, so `ps` lives in
/// `listen_task`, for as long as one subscription lasts.
struct Task {
    rcon: Connection,
    channel: &'static str,
}

impl Task {
    /// `def __init__(self)`; waits for Redis, unless asked to stop.
    fn new(target: Target) -> Result<Task, Stop> {
        // self.rcon = redis.StrictRedis(host='localhost')
        // (waits until Redis answers, and with Sentinel starts the thread that
        // follows the sentinels' switches; its reads wait 2 s at a time, then
        // look at the stop flag)
        let rcon = Connection::wait_for_redis(target, Some(WAIT))?;
        // new: the channel's name, kept as the consumer keeps self.queue
        let channel = PUBSUB_CHANNEL;
        Ok(Task { rcon, channel })
    }

    /// `def listen_task(self)`: until asked to stop, or until stdout fails.
    fn listen_task(&mut self, out: &mut Output) -> Result<(), Stop> {
        // new: subscribe again whenever the connection is lost
        while !signals::stop_requested() {
            // self.ps = self.rcon.pubsub()
            // self.ps.subscribe('task:pubsub:channel')
            // (after a lost connection, waits until Redis answers again; None
            // when Redis refused the SUBSCRIBE: said, and waited out)
            let Some(ps) = Subscription::open(&mut self.rcon, self.channel)? else {
                continue;
            };
            // for i in self.ps.listen():
            //     if i['type'] == 'message':
            for i in ps {
                // print("Task get", i['data'])
                print::task_get(out, i.get_payload_bytes())?;
            }
        }
        Ok(())
    }
}

/// `if __name__ == '__main__':`
fn run() -> Result<(), Stop> {
    // new: settings, logging, a thread for Ctrl-C and kill, stdout
    let Start { target, mut out } = worker::start()?;
    // print('监听任务频道')
    print::line(&mut out, "监听任务频道")?;
    // Task().listen_task()
    Task::new(target)?.listen_task(&mut out)
}

/// The one place the subscriber ends: its exit status, and a line saying why.
fn main() -> ExitCode {
    exit::status("subscriber", run())
}
