//! The consumer: pops the queue and prints each task, the original's
//! consumer script. Each Python line stands as a comment above the Rust
//! that replaces it; a line marked `new:` has no Python counterpart.
//!
//! What the Python leaves to chance is in `src/`: `Connection`
//! (`src/connection.rs`) is `self.rcon` kept live: `run_or_reconnect` runs a
//! command once and, when it fails, says why, waits until Redis answers and
//! connects again, so the loop goes round instead of the program dying.
//! `worker::start` reads the settings and starts a thread that takes
//! Ctrl-C and `kill`, which then only set the flag `signals::stop_requested`
//! reads: the loop stops between two elements. `consumer --reliable` is the
//! next lesson, `src/reliable.rs`.

use std::process::ExitCode;

use redis::Commands;
use redis_mq::connection::{BlpopReply, CONSUMER_READ_TIMEOUT, Connection, WAIT_SECS};
use redis_mq::exit::{self, Stop};
use redis_mq::names::PRODCONS_QUEUE;
use redis_mq::print::{self, Output};
use redis_mq::target::Target;
use redis_mq::worker::{self, Start};
use redis_mq::{config, reliable, signals};

/// `class Task(object)`
struct Task {
    rcon: Connection,
    queue: &'static str,
}

impl Task {
    /// `def __init__(self)`; waits for Redis, unless asked to stop.
    fn new(target: Target) -> Result<Task, Stop> {
        // self.rcon = redis.StrictRedis(host='localhost', db=1)
        // (waits until Redis answers, and with Sentinel starts the thread that
        // follows the sentinels' switches; its read timeout, 12 s, is well
        // above BLPOP's 2 s wait, so a reply is never cut off half-way)
        let rcon = Connection::wait_for_redis(target, Some(CONSUMER_READ_TIMEOUT))?;
        // self.queue = 'task:prodcons:queue'
        let queue = PRODCONS_QUEUE;
        Ok(Task { rcon, queue })
    }

    /// `def listen_task(self)`: until asked to stop, or until stdout fails.
    fn listen_task(&mut self, out: &mut Output) -> Result<(), Stop> {
        // while True:
        while !signals::stop_requested() {
            // task = self.rcon.blpop(self.queue, 0)[1]
            // (2 s at a time: Some(None) if nothing came, None if Redis failed
            // and the connection was replaced once Redis answered again)
            let popped: Option<BlpopReply> =
                self.rcon.run_or_reconnect(|rcon| rcon.blpop(self.queue, WAIT_SECS))?;
            if let Some(Some((_key, task))) = popped {
                // print("Task get", task)
                // new: a task that cannot be printed goes back to the queue
                print::task_get(out, &task)
                    .inspect_err(|_| worker::give_back(&mut self.rcon, self.queue, &task))?;
            }
        }
        Ok(())
    }
}

/// `if __name__ == '__main__':`
fn run() -> Result<(), Stop> {
    // new: settings, logging, a thread for Ctrl-C and kill, stdout
    let Start { target, mut out } = worker::start()?;
    // new: consumer --reliable, the at-least-once consumer: its own loop,
    // with a thread beside it that renews its sign of life (src/reliable.rs)
    if config::reliable_flag_from_args()? {
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
