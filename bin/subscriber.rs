//! The subscriber: listens on the channel and prints each message, the
//! original's subscriber script.
//!
//! Read it beside the original; each Python line stands as a comment above
//! the Rust that replaces it. Pub/sub keeps nothing: a message published
//! while this program is not subscribed is gone, so after a lost connection
//! it subscribes again and says what it may have missed. To notice a
//! connection the network lost silently, it sends PING after 5 quiet
//! seconds; no PONG within 5 more, and it connects again.

use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use log::{info, warn};
use redis::{Connection, RedisError};
use redis_mq::config::{self, or_exit};
use redis_mq::names::PUBSUB_CHANNEL;
use redis_mq::print::{self, Output};
use redis_mq::redis_link::Reconnect;
use redis_mq::{logging, stop};

/// How often the loop looks up from the channel (for Ctrl-C).
const TICK: Duration = Duration::from_secs(1);
/// Quiet time after which the connection is checked with PING.
const QUIET: Duration = Duration::from_secs(5);

/// `class Task(object)`
struct Task {
    channel: &'static str,
    reconnect: Reconnect,
}

/// Why [`Task::listen`] stopped.
enum Stopped {
    /// Ctrl-C or `kill`.
    Asked,
    /// Redis went away, or the link to it: subscribe again.
    Redis(RedisError),
    /// stdout cannot be written: nothing left to do.
    Stdout(io::Error),
}

impl Task {
    /// `def __init__(self)`
    fn new(reconnect: Reconnect) -> Task {
        Task {
            channel: PUBSUB_CHANNEL,
            reconnect,
        }
    }

    /// `def listen_task(self)`: until Ctrl-C, or until stdout fails.
    fn listen_task(&mut self, out: &mut Output) -> io::Result<()> {
        // self.rcon = redis.StrictRedis(host='localhost')
        let mut rcon = self.reconnect.first();
        loop {
            match self.listen(&mut rcon, out) {
                Stopped::Asked => return Ok(()),
                Stopped::Stdout(e) => return Err(e),
                Stopped::Redis(e) => {
                    warn!(
                        "anything published until we are subscribed again is missed (pub/sub keeps nothing)"
                    );
                    rcon = self.reconnect.after(&e);
                }
            }
        }
    }

    /// The subscription, then `for i in self.ps.listen()`.
    fn listen(&self, rcon: &mut Connection, out: &mut Output) -> Stopped {
        // self.ps = self.rcon.pubsub()
        let mut ps = rcon.as_pubsub();
        // self.ps.subscribe('task:pubsub:channel')
        if let Err(e) = ps.subscribe(self.channel) {
            return Stopped::Redis(e);
        }
        info!(
            "subscribed to {} at {}",
            self.channel,
            self.reconnect.target()
        );
        let mut heard = Instant::now();
        // for i in self.ps.listen():
        while !stop::requested() {
            // get_message yields only messages, as `if i['type'] == 'message'` did.
            let message = match ps.get_message() {
                Ok(message) => message,
                Err(e) if e.is_timeout() && heard.elapsed() < QUIET => continue,
                // Quiet for a while: is the connection still there?
                Err(e) if e.is_timeout() => match ping(&mut ps) {
                    Ok(()) => {
                        heard = Instant::now();
                        continue;
                    }
                    Err(e) => return Stopped::Redis(e),
                },
                Err(e) => return Stopped::Redis(e),
            };
            heard = Instant::now();
            // print("Task get", i['data'])
            if let Err(e) = print::task_get(out, message.get_payload_bytes()) {
                return Stopped::Stdout(e);
            }
        }
        Stopped::Asked
    }
}

/// PING on a subscribed connection, waiting up to `QUIET` for the PONG
/// (messages that come first are kept for `get_message`).
fn ping(ps: &mut redis::PubSub<'_>) -> redis::RedisResult<()> {
    ps.set_read_timeout(Some(QUIET))?;
    let pong = ps.ping::<String>();
    // Back to short waits, also for the UNSUBSCRIBE that dropping `ps` sends.
    ps.set_read_timeout(Some(TICK))?;
    pong.map(|_| ())
}

/// `if name == 'main':`
fn main() -> ExitCode {
    let target = or_exit(config::redis_from_env());
    logging::init(or_exit(config::log_level_from_env()));
    stop::on_ctrl_c_and_term();
    let mut out = or_exit(print::stdout().map_err(config::output_error));

    // print('监听任务频道')
    let said = print::line(&mut out, "监听任务频道");
    // Task().listen_task()
    let reconnect = Reconnect::new(target, Some(TICK));
    match said.and_then(|()| Task::new(reconnect).listen_task(&mut out)) {
        Ok(()) => {
            info!("stopped, as asked");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("subscriber: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
