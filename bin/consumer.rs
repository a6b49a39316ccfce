//! The consumer: pops the queue and prints each task, the original's
//! consumer script. Each Python line stands as a comment above the Rust
//! that replaces it.
//!
//! Two things differ, both for delivery: the pop waits at most `WAIT` (2 s)
//! at a time, so Ctrl-C or `kill` is noticed between two elements and never
//! loses one; and an element whose line cannot be written goes back to the
//! head of the queue. Reconnecting is `Reconnect`'s (`src/redis_link.rs`).
//!
//! `consumer --reliable` is the at-least-once consumer of `src/reliable.rs`.

use std::io;
use std::process::ExitCode;

use log::warn;
use redis::{Commands, Connection, RedisResult};
use redis_mq::config::{self, or_exit};
use redis_mq::names::PRODCONS_QUEUE;
use redis_mq::print::{self, Output};
use redis_mq::redis_link::{Reconnect, RedisTarget, WAIT, WORKER_READ_TIMEOUT};
use redis_mq::worker::{self, Start};
use redis_mq::{reliable, stop};

/// `class Task(object)`
struct Task {
    rcon: Connection,
    queue: &'static str,
    reconnect: Reconnect,
}

impl Task {
    /// `def __init__(self)`
    fn new(target: RedisTarget) -> Task {
        let reconnect = Reconnect::new(target, Some(WORKER_READ_TIMEOUT));
        // self.rcon = redis.StrictRedis(host='localhost', db=1)
        let rcon = reconnect.first();
        // self.queue = 'task:prodcons:queue'
        let queue = PRODCONS_QUEUE;
        Task {
            rcon,
            queue,
            reconnect,
        }
    }

    /// `def listen_task(self)`: until Ctrl-C, or until stdout fails.
    fn listen_task(&mut self, out: &mut Output) -> io::Result<()> {
        // while True:
        while !stop::requested() {
            // task = self.rcon.blpop(self.queue, 0)[1]
            let task = match self.blpop() {
                Ok(Some(task)) => task,
                Ok(None) => continue, // nothing within WAIT
                Err(e) => {
                    self.rcon = self.reconnect.after(&e);
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
fn main() -> ExitCode {
    let reliable = or_exit(config::consumer_args());
    let Start { target, mut out } = worker::start();
    if reliable {
        return reliable::main(target, &mut out);
    }
    // print('监听任务队列')
    let started = print::line(&mut out, "监听任务队列");
    // Task().listen_task()
    let done = started.and_then(|()| Task::new(target).listen_task(&mut out));
    worker::exit("consumer", done)
}
