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
//! Each reliable consumer has its own processing list, named after it
//! (`CONSUMER_NAME`, by default host name and process id), so several can
//! work on one queue from several hosts. Each renews a key that says it is
//! alive; a list whose owner has not been seen for [`ALIVE_FOR`] is handed
//! back to the queue by whichever consumer looks first (at start, then
//! every [`ALIVE_FOR`]). Redis Streams with consumer groups do all of this
//! for you: that is the next step.

use std::io;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use redis::{Commands, Connection, Direction, RedisError, RedisResult};

use crate::config::{self, or_exit};
use crate::names::{ALIVE_PREFIX, PROCESSING_PREFIX, PRODCONS_QUEUE};
use crate::print::{self, Output};
use crate::redis_link::{Reconnect, RedisTarget, WAIT, WORKER_READ_TIMEOUT};
use crate::{stop, worker};

/// `LMOVE` in a script that Redis runs even at `maxmemory` (Redis 7's
/// `allow-oom` flag): Redis refuses `BLMOVE` then, as a command that may
/// grow memory, but moving one element between two lists frees as much as
/// it takes (bar a few bytes of list header), and `LREM` only frees.
const MOVE_AT_MAXMEMORY: &str =
    "#!lua flags=allow-oom\nreturn redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'LEFT')";

/// A consumer whose sign of life is older than this is taken for dead, and
/// what it held goes back to the queue.
pub const ALIVE_FOR: Duration = Duration::from_secs(15);

/// `consumer --reliable`: prints the start line, then moves, prints and
/// removes until Ctrl-C.
pub fn main(target: RedisTarget, out: &mut Output) -> ExitCode {
    let name = or_exit(config::consumer_name_from_env());
    let reconnect = Reconnect::new(target, Some(WORKER_READ_TIMEOUT));
    info!("consumer name {name:?}: processing list {PROCESSING_PREFIX}{name}");
    let done = print::line(out, "监听任务队列")
        .and_then(|()| Task::new(reconnect, &name).listen_task(out));
    worker::exit("consumer", done)
}

struct Task {
    rcon: Connection,
    reconnect: Reconnect,
    /// This consumer's processing list, and its sign of life.
    processing: String,
    alive: String,
    /// When the sign of life was renewed, and other lists were last looked at.
    renewed: Option<Instant>,
    looked: Option<Instant>,
}

impl Task {
    fn new(reconnect: Reconnect, name: &str) -> Task {
        let rcon = reconnect.first();
        Task {
            rcon,
            reconnect,
            processing: format!("{PROCESSING_PREFIX}{name}"),
            alive: format!("{ALIVE_PREFIX}{name}"),
            renewed: None,
            looked: None,
        }
    }

    /// Move, print, remove; until Ctrl-C. An error means stdout failed (the
    /// element stays in the processing list) or Redis lacks `BLMOVE`.
    fn listen_task(&mut self, out: &mut Output) -> io::Result<()> {
        self.recover(out)?;
        while !stop::requested() {
            self.keep_alive();
            self.hand_back_the_dead();
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
        // Stopped between elements: nothing is held, so no sign of life is needed.
        let _: RedisResult<()> = self.rcon.del(&self.alive);
        Ok(())
    }

    /// Renews this consumer's sign of life (every couple of seconds at most).
    fn keep_alive(&mut self) {
        if self.renewed.is_some_and(|t| t.elapsed() < WAIT) {
            return;
        }
        let ms = ALIVE_FOR.as_millis() as u64;
        let renewed: RedisResult<()> = self.rcon.pset_ex(&self.alive, 1, ms);
        if let Err(e) = renewed {
            debug!("cannot renew {}: {e}", self.alive);
        }
        self.renewed = Some(Instant::now());
    }

    /// Hands back to the queue what consumers that are no longer alive left
    /// in their processing lists. One `LMOVE` per element, so two consumers
    /// doing this at once never hand back an element twice.
    fn hand_back_the_dead(&mut self) {
        if self.looked.is_some_and(|t| t.elapsed() < ALIVE_FOR) {
            return;
        }
        self.looked = Some(Instant::now());
        let lists: Vec<String> = match self
            .rcon
            .scan_match::<_, String>(format!("{PROCESSING_PREFIX}*"))
        {
            Ok(keys) => keys.filter_map(Result::ok).collect(),
            Err(e) => return debug!("cannot look for other consumers' lists: {e}"),
        };
        for list in lists.into_iter().filter(|l| *l != self.processing) {
            let owner = &list[PROCESSING_PREFIX.len()..];
            let alive: RedisResult<bool> = self.rcon.exists(format!("{ALIVE_PREFIX}{owner}"));
            if !matches!(alive, Ok(false)) {
                continue;
            }
            let mut handed = 0;
            while let Ok(Some(_)) = self.rcon.lmove::<_, _, Option<Vec<u8>>>(
                &list,
                PRODCONS_QUEUE,
                Direction::Right,
                Direction::Left,
            ) {
                handed += 1;
            }
            if handed > 0 {
                warn!(
                    "consumer {owner:?} has not been seen for {ALIVE_FOR:?}: handed back the \
                     {handed} elements it held to {PRODCONS_QUEUE}"
                );
            }
        }
    }

    /// `BLMOVE task:prodcons:queue task:prodcons:processing:NAME LEFT LEFT 2`
    fn blmove(&mut self) -> RedisResult<Option<Vec<u8>>> {
        self.rcon.blmove(
            PRODCONS_QUEUE,
            &self.processing,
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
            .arg(&self.processing)
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
            match self
                .rcon
                .lrange::<_, Vec<Vec<u8>>>(&self.processing, -1, -1)
            {
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

    /// `LREM task:prodcons:processing:NAME -1 task`, retried until Redis takes it.
    fn done(&mut self, task: &[u8]) {
        while let Err(e) = self.rcon.lrem::<_, _, ()>(&self.processing, -1, task) {
            self.rcon = self.reconnect.after(&e);
        }
    }
}
