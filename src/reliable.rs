//! `consumer --reliable`: the at-least-once consumer (not in the original).
//!
//! Plain BLPOP removes the element before it is printed, so a consumer that
//! dies in between loses it. Here `BLMOVE` moves each element atomically to
//! a processing list; only after its line is written is it removed from
//! there with `LREM`. Whatever a dead consumer left in the processing list
//! is printed first at the next start (and after every reconnect). An
//! element can then be printed twice (killed after the print, before the
//! `LREM`), never lost.
//!
//! One processing list is shared, so run one reliable consumer per queue;
//! Redis Streams with consumer groups are the next step for several.

use std::io;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use log::{info, warn};
use redis::{Commands, Connection, Direction, RedisError, RedisResult};

use crate::names::{PROCESSING_LIST, PRODCONS_QUEUE};
use crate::print::{self, Output};
use crate::redis_link::{Reconnect, RedisTarget, WAIT, WORKER_READ_TIMEOUT};
use crate::stop;

/// `LMOVE` in a script that Redis runs even at `maxmemory` (Redis 7's
/// `allow-oom` flag): Redis refuses `BLMOVE` then, as a command that may
/// grow memory, but moving one element between two lists frees as much as
/// it takes (bar a few bytes of list header), and `LREM` only frees.
const MOVE_AT_MAXMEMORY: &str =
    "#!lua flags=allow-oom\nreturn redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'LEFT')";

/// `consumer --reliable`: prints the start line, then moves, prints and
/// removes until Ctrl-C.
pub fn main(target: RedisTarget, out: &mut Output) -> ExitCode {
    let reconnect = Reconnect::new(target, Some(WORKER_READ_TIMEOUT));
    let result =
        print::line(out, "监听任务队列").and_then(|()| Task::new(reconnect).listen_task(out));
    match result {
        Ok(()) => {
            info!("stopped, as asked");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("consumer: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Task {
    rcon: Connection,
    reconnect: Reconnect,
}

impl Task {
    fn new(reconnect: Reconnect) -> Task {
        let rcon = reconnect.first();
        Task { rcon, reconnect }
    }

    /// Move, print, remove; until Ctrl-C. An error means stdout failed (the
    /// element stays in the processing list) or Redis lacks `BLMOVE`.
    fn listen_task(&mut self, out: &mut Output) -> io::Result<()> {
        self.recover(out)?;
        while !stop::requested() {
            let task = match self.blmove() {
                Ok(Some(task)) => task,
                Ok(None) => continue,
                Err(e) if e.code() == Some("OOM") => match self.move_at_maxmemory(&e) {
                    Some(task) => task,
                    None => continue,
                },
                Err(e) if e.detail().is_some_and(|d| d.contains("unknown command")) => {
                    return Err(io::Error::other(format!(
                        "consumer --reliable needs Redis 6.2 or newer (for BLMOVE); Redis at {} said: {e}",
                        self.reconnect.target()
                    )));
                }
                Err(e) => {
                    self.rcon = self.reconnect.after(&e);
                    self.recover(out)?;
                    continue;
                }
            };
            print::task_get(out, &task)?;
            self.done(&task);
        }
        Ok(())
    }

    /// `BLMOVE task:prodcons:queue task:prodcons:processing LEFT LEFT 2`
    fn blmove(&mut self) -> RedisResult<Option<Vec<u8>>> {
        self.rcon.blmove(
            PRODCONS_QUEUE,
            PROCESSING_LIST,
            Direction::Left,
            Direction::Left,
            WAIT.as_secs_f64(),
        )
    }

    /// At `maxmemory` with `noeviction`: the same move through
    /// [`MOVE_AT_MAXMEMORY`], which cannot wait, so an empty queue is looked
    /// at again after a short pause.
    fn move_at_maxmemory(&mut self, oom: &RedisError) -> Option<Vec<u8>> {
        let moved: RedisResult<Option<Vec<u8>>> = redis::cmd("EVAL")
            .arg(MOVE_AT_MAXMEMORY)
            .arg(2)
            .arg(PRODCONS_QUEUE)
            .arg(PROCESSING_LIST)
            .query(&mut self.rcon);
        match moved {
            Ok(Some(task)) => Some(task),
            Ok(None) => {
                thread::sleep(Duration::from_millis(250));
                None
            }
            Err(e) => {
                warn!(
                    "Redis at {} is at maxmemory and refuses BLMOVE, and cannot run an allow-oom \
                     script ({e}; needs Redis 7): raise maxmemory or choose an eviction policy",
                    self.reconnect.target()
                );
                self.rcon = self.reconnect.after(oom);
                None
            }
        }
    }

    /// Prints what an earlier run (or a lost connection) left in the
    /// processing list, oldest first.
    fn recover(&mut self, out: &mut Output) -> io::Result<()> {
        loop {
            match self.rcon.lrange::<_, Vec<Vec<u8>>>(PROCESSING_LIST, -1, -1) {
                Ok(oldest) => {
                    let Some(task) = oldest.into_iter().next() else {
                        return Ok(());
                    };
                    warn!("printing an element a consumer took but did not finish");
                    print::task_get(out, &task)?;
                    self.done(&task);
                }
                Err(e) => self.rcon = self.reconnect.after(&e),
            }
        }
    }

    /// `LREM task:prodcons:processing -1 task`, retried until Redis takes it.
    fn done(&mut self, task: &[u8]) {
        while let Err(e) = self.rcon.lrem::<_, _, ()>(PROCESSING_LIST, -1, task) {
            self.rcon = self.reconnect.after(&e);
        }
    }
}
