//! The consumer: pops the queue and prints each task (the original's consumer
//! script).
//!
//! `BLPOP task:prodcons:queue 0` waits for ever, so the connection has no
//! read timeout: redis-rs drops a reply that arrives after one, and with it
//! the element BLPOP had already taken off the list.

use std::io::{self, Write};

use redis::{Commands, Connection, RedisResult};
use redis_mq::config::{self, or_exit};
use redis_mq::logging;
use redis_mq::names::PRODCONS_QUEUE;
use redis_mq::redis_link::RedisTarget;

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
        loop {
            let task = match self.blpop() {
                Ok(task) => task,
                Err(e) => {
                    log::warn!("lost the connection to Redis at {}: {e}", self.target);
                    self.rcon = self.target.connect_until_ok();
                    continue;
                }
            };
            writeln!(out, "Task get {}", String::from_utf8_lossy(&task))?;
            out.flush()?;
        }
    }

    /// `self.rcon.blpop(self.queue, 0)[1]`
    fn blpop(&mut self) -> RedisResult<Vec<u8>> {
        let (_queue, task): (Vec<u8>, Vec<u8>) = self.rcon.blpop(self.queue, 0.0)?;
        Ok(task)
    }
}

fn main() {
    let target = or_exit(config::redis_from_env());
    logging::init(or_exit(config::log_level_from_env()));

    println!("监听任务队列");
    let mut out = io::stdout().lock();
    if let Err(e) = Task::new(target).listen_task(&mut out) {
        eprintln!("consumer: cannot write to stdout: {e}");
        std::process::exit(1)
    }
}
