//! The consumer: pops the queue and prints each task (the original's consumer
//! script).
//!
//! `BLPOP task:prodcons:queue 0` waits for ever, so the connection has no
//! read timeout: redis-rs drops a reply that arrives after one, and with it
//! the element BLPOP had already taken off the list.

use std::io::{self, Write};

use redis::{Commands, Connection, RedisResult};
use redis_mq::config::{self, ConfigError, or_exit};
use redis_mq::names::PRODCONS_QUEUE;
use redis_mq::redis_link::{Backoff, RedisTarget};
use redis_mq::{logging, print, reliable};

/// The original's `class Task`.
struct Task {
    target: RedisTarget,
    rcon: Connection,
    queue: &'static str,
}

impl Task {
    fn new(target: RedisTarget) -> Task {
        let rcon = target.connect_until_ok();
        Task {
            target,
            rcon,
            queue: PRODCONS_QUEUE,
        }
    }

    /// `listen_task`: pop, print, for ever. Returns only if stdout fails.
    fn listen_task(&mut self, out: &mut impl Write) -> io::Result<()> {
        let mut errors = Backoff::new();
        loop {
            let task = match self.blpop() {
                Ok(task) => task,
                Err(e) => {
                    self.rcon = self.target.reconnect_after(&e, &mut errors);
                    continue;
                }
            };
            errors = Backoff::new();
            print::task_get(out, &task)?;
        }
    }

    /// `self.rcon.blpop(self.queue, 0)[1]`
    fn blpop(&mut self) -> RedisResult<Vec<u8>> {
        let (_queue, task): (Vec<u8>, Vec<u8>) = self.rcon.blpop(self.queue, 0.0)?;
        Ok(task)
    }
}

/// `consumer` mirrors the original; `consumer --reliable` is at-least-once.
fn reliable_flag() -> Result<bool, ConfigError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(false),
        [flag] if flag == "--reliable" => Ok(true),
        _ => Err(ConfigError::new(format!(
            "unknown arguments {args:?}; usage: consumer [--reliable]"
        ))),
    }
}

fn main() {
    let reliable = or_exit(reliable_flag());
    let target = or_exit(config::redis_from_env());
    logging::init(or_exit(config::log_level_from_env()));

    println!("监听任务队列");
    let mut out = io::stdout().lock();
    let printed = if reliable {
        match reliable::Task::new(target) {
            Ok(mut task) => task.listen_task(&mut out),
            Err(reliable::Refused::OldRedis(why)) => {
                eprintln!("consumer: {why}");
                std::process::exit(1)
            }
        }
    } else {
        Task::new(target).listen_task(&mut out)
    };
    if let Err(e) = printed {
        eprintln!("consumer: cannot write to stdout: {e}");
        std::process::exit(1)
    }
}
