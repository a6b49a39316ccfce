//! The consumer: pops the queue and prints each task, the original's
//! consumer script. Each Python line stands as a comment above the Rust
//! that replaces it.
//!
//! Two things differ, both for delivery: the pop waits at most `WAIT` (2 s)
//! at a time, so Ctrl-C or `kill` is noticed between two elements and never
//! loses one; and an element whose line cannot be written goes back to the
//! head of the queue. Reconnecting is `Reconnect`'s (`src/reconnect.rs`).
//!
//! `consumer --reliable` is the at-least-once consumer of `src/reliable.rs`.

use std::process::ExitCode;

use log::warn;
use redis::{Commands, Connection, RedisResult};
use redis_mq::exit::{self, Stop};
use redis_mq::names::PRODCONS_QUEUE;
use redis_mq::print::{self, Output};
use redis_mq::reconnect::{CONSUMER_READ_TIMEOUT, Reconnect, WAIT};
use redis_mq::redis_target::RedisTarget;
use redis_mq::worker::{self, Start};
use redis_mq::{config, reliable, signals};

/// `class Task(object)`
struct Task {
    rcon: Connection,
    queue: &'static str,
    reconnect: Reconnect,
}

impl Task {
    /// `def __init__(self)`; `Err` only when asked to stop while Redis is away.
    fn new(target: RedisTarget) -> Result<Task, Stop> {
        let mut reconnect = Reconnect::new(target, Some(CONSUMER_READ_TIMEOUT));
        // self.rcon = redis.StrictRedis(host='localhost', db=1)
        let rcon = reconnect.connect()?;
        // self.queue = 'task:prodcons:queue'
        let queue = PRODCONS_QUEUE;
        Ok(Task {
            rcon,
            queue,
            reconnect,
        })
    }

    /// `def listen_task(self)`: until asked to stop, or until stdout fails.
    fn listen_task(&mut self, out: &mut Output) -> Result<(), Stop> {
        // while True:
        while !signals::stop_requested() {
            // task = self.rcon.blpop(self.queue, 0)[1]
            let task = match self.blpop() {
                Ok(Some(task)) => task,
                Ok(None) => continue, // nothing within WAIT
                Err(e) => {
                    self.rcon = self.reconnect.after(&e)?;
                    continue;
                }
            };
            // print("Task get", task)
            print::task_get(out, &task).inspect_err(|_| self.give_back(&task))?;
        }
        Ok(())
    }

    /// `self.rcon.blpop(self.queue, 0)[1]`, waiting at most `WAIT`.
    fn blpop(&mut self) -> RedisResult<Option<Vec<u8>>> {
        let popped: Option<(String, Vec<u8>)> = self.rcon.blpop(self.queue, WAIT.as_secs_f64())?;
        Ok(popped.map(|(_queue, task)| task))
    }

    /// Puts an element that could not be printed back where BLPOP took it.
    fn give_back(&mut self, task: &[u8]) {
        if let Err(e) = self.rcon.lpush::<_, _, ()>(self.queue, task) {
            warn!("could not put the element back ({e}): it is lost");
        }
    }
}

/// `if __name__ == '__main__':`
fn run() -> Result<(), Stop> {
    let reliable = config::consumer_args()?;
    let Start { target, mut out } = worker::start()?;
    if reliable {
        return reliable::run(target, &mut out);
    }
    // print('监听任务队列')
    print::line(&mut out, "监听任务队列")?;
    // Task().listen_task()
    Task::new(target)?.listen_task(&mut out)
}

/// The one place the consumer ends: its exit status, and a line saying why.
fn main() -> ExitCode {
    exit::status("consumer", run())
}
