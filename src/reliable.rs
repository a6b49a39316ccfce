//! `consumer --reliable`: the at-least-once consumer (not in the original).
//!
//! Plain BLPOP removes the element before it is printed, so a consumer that
//! dies in between loses it. Here `BLMOVE` moves each element atomically to
//! a processing list; only after its line is written is it removed from
//! there with `LREM`. Whatever a dead consumer left in the processing list
//! is printed first when it starts again under the same `CONSUMER_NAME`
//! (and after every reconnect); under another name (the default holds the
//! process id), another consumer hands it back to the queue once the dead
//! one's sign of life has expired. An
//! element can then be printed twice (killed after the print, before the
//! `LREM`), never lost.
//!
//! Each reliable consumer has its own processing list, named after it
//! (`CONSUMER_NAME`, by default host name and process id), so several can
//! work on one queue from several hosts. Each writes its name into a
//! registry (a set) and keeps renewing, from a thread of its own, a key that
//! says it is alive; a list whose owner has not been seen for [`ALIVE_FOR`]
//! is handed back to the queue by whichever consumer looks first (at
//! start, then every [`ALIVE_FOR`]). A slow consumer is not a dead one: its
//! sign of life does not depend on how long one element takes. Redis
//! Streams with consumer groups do all of this for you: that is the next
//! step.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use redis::{Commands, Direction, RedisResult};

use crate::config;
use crate::connection::{CONSUMER_READ_TIMEOUT, Connection, WAIT};
use crate::exit::Stop;
use crate::failure::{Failure, What};
use crate::names::{ALIVE_PREFIX, CONSUMERS, PROCESSING_PREFIX, PRODCONS_QUEUE};
use crate::print::{self, Output};
use crate::signals;
use crate::target::Target;

/// `LMOVE` in a script that Redis runs even at `maxmemory` (Redis 7's
/// `allow-oom` flag): Redis refuses `BLMOVE` then, as a command that may
/// grow memory, but moving one element between two lists frees as much as
/// it takes (bar a few bytes of list header), and `LREM` only frees.
const MOVE_AT_MAXMEMORY: &str =
    "#!lua flags=allow-oom\nreturn redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'LEFT')";

/// Hands a consumer's processing list back to the queue, all at once and
/// only if its sign of life is gone (so never while it lives, and never
/// twice), and takes its name off the registry: KEYS are the sign of life,
/// the processing list, the queue and the registry; ARGV the name.
const HAND_BACK_IF_DEAD: &str = "\
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local handed = 0
while redis.call('LMOVE', KEYS[2], KEYS[3], 'RIGHT', 'LEFT') do handed = handed + 1 end
redis.call('SREM', KEYS[4], ARGV[1])
return handed";

/// A consumer whose sign of life is older than this is taken for dead, and
/// what it held goes back to the queue.
pub const ALIVE_FOR: Duration = Duration::from_secs(15);

/// How often the sign of life is renewed: three times within [`ALIVE_FOR`],
/// so one slow round trip does not let it lapse.
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// `consumer --reliable`: prints the start line, then moves, prints and
/// removes until asked to stop.
pub fn run(target: Target, out: &mut Output) -> Result<(), Stop> {
    let name = config::consumer_name_from_env()?;
    info!("consumer name {name:?}: processing list {PROCESSING_PREFIX}{name}");
    print::line(out, "监听任务队列")?;
    let rcon = Connection::wait_for_redis(target.clone(), Some(CONSUMER_READ_TIMEOUT))?;
    let mut task = Task::new(rcon, &name);
    // Renewed from its own thread, so that however long one element takes
    // (a stdout that blocks), this consumer is never taken for dead.
    let _alive = SignOfLife::keep(target, &name, &mut task.rcon);
    task.listen_task(out)
}

/// This consumer's sign of life, `{task:prodcons:queue}:consumer:NAME`, and its
/// name in the registry `{task:prodcons:queue}:consumers`, both renewed every
/// [`RENEW_EVERY`] by a thread with a connection of its own. Dropping it
/// (the consumer stops in any way but SIGKILL or a crash of its host) stops
/// and joins that thread, which first deletes the sign (one command, within
/// [`RENEW_WITHIN`]), so that another consumer hands back at once whatever
/// is still held.
struct SignOfLife {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SignOfLife {
    /// Renews once on `rcon` before the first element is taken, then
    /// from a thread.
    fn keep(target: Target, name: &str, rcon: &mut Connection) -> SignOfLife {
        let alive = format!("{ALIVE_PREFIX}{name}");
        if let Err(failure) = rcon.run(|rcon| renew(rcon, &alive, name)) {
            renew_failed(&alive, &failure);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let name = name.to_owned();
        let thread = thread::Builder::new()
            .name("sign of life".into())
            .spawn(move || {
                let mut rcon = Connection::bounded(target);
                let mut last = Instant::now();
                while !stopped.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(50));
                    if last.elapsed() < RENEW_EVERY {
                        continue;
                    }
                    last = Instant::now();
                    rcon.answer_by(last + RENEW_WITHIN);
                    if let Err(failure) = rcon.run(|rcon| renew(rcon, &alive, &name)) {
                        renew_failed(&alive, &failure);
                    }
                }
                rcon.answer_by(Instant::now() + RENEW_WITHIN);
                let _ = rcon.run(|rcon| rcon.del::<_, ()>(&alive));
            })
            .map_err(|e| warn!("cannot start the sign-of-life thread: {e}"))
            .ok();
        SignOfLife { stop, thread }
    }
}

impl Drop for SignOfLife {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long one renewal (its connect included) may take.
const RENEW_WITHIN: Duration = Duration::from_secs(2);

/// A lost connection is retried quietly; a refusal (an ACL without
/// `PSETEX` or `SADD`) is said: without its sign of life, other reliable
/// consumers take this one for dead and hand back what it holds.
fn renew_failed(alive: &str, failure: &Failure) {
    if failure.is_unreachable() {
        debug!("cannot renew {alive}: {failure}");
    } else {
        warn!(
            "cannot renew {alive} ({failure}): other reliable consumers may hand back what this one holds"
        );
    }
}

/// `PSETEX {task:prodcons:queue}:consumer:NAME 15000 1`, then `SADD
/// {task:prodcons:queue}:consumers NAME`. Two commands, not a pipeline: a
/// cluster's `MOVED` inside a pipeline's answer is not one the connection
/// can follow, and a consumer that never got into the registry is never
/// handed back.
fn renew(rcon: &mut Connection, alive: &str, name: &str) -> RedisResult<()> {
    rcon.pset_ex::<_, _, ()>(alive, 1, ALIVE_FOR.as_millis() as u64)?;
    rcon.sadd(CONSUMERS, name)
}

struct Task {
    rcon: Connection,
    /// This consumer's name and processing list.
    name: String,
    processing: String,
    /// When other consumers' lists were last looked at.
    looked: Option<Instant>,
}

impl Task {
    fn new(rcon: Connection, name: &str) -> Task {
        Task {
            rcon,
            name: name.to_owned(),
            processing: format!("{PROCESSING_PREFIX}{name}"),
            looked: None,
        }
    }

    /// Move, print, remove; until asked to stop. An error means stdout
    /// failed (the element stays in the processing list) or Redis lacks
    /// `BLMOVE`.
    fn listen_task(&mut self, out: &mut Output) -> Result<(), Stop> {
        self.recover(out)?;
        while !signals::stop_requested() {
            self.hand_back_the_dead();
            let task = match self.blmove() {
                Ok(Some(task)) => task,
                Ok(None) => continue,
                Err(f) if refused_with(&f, "OOM") => match self.move_at_maxmemory(&f)? {
                    Some(task) => task,
                    None => continue,
                },
                Err(f) if refused_with(&f, "ERR unknown command") => {
                    return Err(Stop::Cannot(format!(
                        "consumer --reliable needs Redis 6.2 or newer (for BLMOVE); {f}"
                    )));
                }
                Err(f) => {
                    self.rcon.wait_then_reconnect(&f)?;
                    self.recover(out)?;
                    continue;
                }
            };
            print::task_get(out, &task)?;
            self.lrem_until_redis_takes_it(&task)?;
        }
        Ok(())
    }

    /// Hands back to the queue what consumers that are no longer alive left
    /// in their processing lists ([`HAND_BACK_IF_DEAD`]). Their names come
    /// from the registry, so the cost does not grow with the db.
    fn hand_back_the_dead(&mut self) {
        if self.looked.is_some_and(|t| t.elapsed() < ALIVE_FOR) {
            return;
        }
        self.looked = Some(Instant::now());
        let names: Vec<String> = match self.rcon.run(|rcon| rcon.smembers(CONSUMERS)) {
            Ok(names) => names,
            Err(f) if f.is_unreachable() => return debug!("cannot read {CONSUMERS}: {f}"),
            Err(f) => {
                return warn!(
                    "cannot read {CONSUMERS} ({f}): what dead consumers held stays with them"
                );
            }
        };
        for owner in names.iter().filter(|n| **n != self.name) {
            let handed: Result<i64, Failure> = self.rcon.run(|rcon| {
                redis::cmd("EVAL")
                    .arg(HAND_BACK_IF_DEAD)
                    .arg(4)
                    .arg(format!("{ALIVE_PREFIX}{owner}"))
                    .arg(format!("{PROCESSING_PREFIX}{owner}"))
                    .arg(PRODCONS_QUEUE)
                    .arg(CONSUMERS)
                    .arg(owner)
                    .query(rcon)
            });
            match handed {
                Ok(handed) if handed > 0 => warn!(
                    "consumer {owner:?} has not been seen for {ALIVE_FOR:?}: handed back the \
                     {handed} elements it held to {PRODCONS_QUEUE}"
                ),
                Ok(_) => {}
                Err(e) => debug!("cannot hand back what {owner:?} held: {e}"),
            }
        }
    }

    /// `BLMOVE task:prodcons:queue {task:prodcons:queue}:processing:NAME LEFT LEFT 2`
    fn blmove(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        let processing = &self.processing;
        self.rcon.run(|rcon| {
            rcon.blmove(
                PRODCONS_QUEUE,
                processing,
                Direction::Left,
                Direction::Left,
                WAIT.as_secs_f64(),
            )
        })
    }

    /// At `maxmemory` with `noeviction`: the same move through
    /// [`MOVE_AT_MAXMEMORY`], which cannot wait, so an empty queue is looked
    /// at again after a short pause.
    fn move_at_maxmemory(&mut self, oom: &Failure) -> Result<Option<Vec<u8>>, Stop> {
        let processing = &self.processing;
        let moved: Result<Option<Vec<u8>>, Failure> = self.rcon.run(|rcon| {
            redis::cmd("EVAL")
                .arg(MOVE_AT_MAXMEMORY)
                .arg(2)
                .arg(PRODCONS_QUEUE)
                .arg(processing)
                .query(rcon)
        });
        match moved {
            Ok(Some(task)) => Ok(Some(task)),
            Ok(None) => {
                signals::sleep_unless_stopped(Duration::from_millis(250))?;
                Ok(None)
            }
            Err(e) => {
                warn!(
                    "Redis at {} is at maxmemory and refuses BLMOVE, and cannot run an allow-oom \
                     script ({e}; needs Redis 7): raise maxmemory or choose an eviction policy",
                    self.rcon.target()
                );
                self.rcon.wait_then_reconnect(oom)?;
                Ok(None)
            }
        }
    }

    /// Prints what an earlier run (or a lost connection) left in the
    /// processing list, oldest first.
    fn recover(&mut self, out: &mut Output) -> Result<(), Stop> {
        loop {
            let processing = &self.processing;
            match self.rcon.run(|rcon| rcon.lrange::<_, Vec<Vec<u8>>>(processing, -1, -1)) {
                Ok(oldest) => {
                    let Some(task) = oldest.into_iter().next() else {
                        return Ok(());
                    };
                    warn!("printing an element a consumer took but did not finish");
                    print::task_get(out, &task)?;
                    self.lrem_until_redis_takes_it(&task)?;
                }
                Err(f) => self.rcon.wait_then_reconnect(&f)?,
            }
        }
    }

    /// `LREM {task:prodcons:queue}:processing:NAME -1 task`, tried again (waiting
    /// for Redis each time) until Redis takes it, or a stop is asked for.
    fn lrem_until_redis_takes_it(&mut self, task: &[u8]) -> Result<(), Stop> {
        let processing = &self.processing;
        while let Err(f) = self.rcon.run(|rcon| rcon.lrem::<_, _, ()>(processing, -1, task)) {
            self.rcon.wait_then_reconnect(&f)?;
        }
        Ok(())
    }
}

/// True when Redis refused the command with words that start so.
fn refused_with(failure: &Failure, start: &str) -> bool {
    matches!(&failure.what, What::Refused(words) if words.starts_with(start))
}
