//! `consumer --reliable`: the at-least-once consumer (not in the original).
//!
//! Plain BLPOP removes the element before it is printed, so a consumer that
//! dies in between loses it. Here `BLMOVE` moves each element atomically to
//! a processing list; only after printing is it removed from there with
//! `LREM`. Whatever a dead consumer left in the processing list is printed
//! first at the next start (and after every reconnect). An element can then
//! be printed twice (killed after the print, before the `LREM`), never lost.
//!
//! One processing list is shared, so run one reliable consumer per queue;
//! Redis Streams with consumer groups are the next step for several.

use std::io::{self, Write};

use log::warn;
use redis::{Commands, Connection, Direction, RedisError, RedisResult};

use crate::names::{PROCESSING_LIST, PRODCONS_QUEUE};
use crate::print;
use crate::redis_link::{Backoff, RedisTarget};

/// The oldest Redis with `BLMOVE`.
const NEEDS: (u32, u32) = (6, 2);

/// Why the reliable consumer cannot start.
#[derive(Debug)]
pub enum Refused {
    OldRedis(String),
}

pub struct Task {
    target: RedisTarget,
    rcon: Connection,
    /// Waits between commands that Redis keeps refusing.
    errors: Backoff,
}

impl Task {
    /// Connects (waiting out an outage) and checks that Redis has `BLMOVE`.
    pub fn new(target: RedisTarget) -> Result<Task, Refused> {
        let mut rcon = target.connect_until_ok();
        let version = redis_version(&mut rcon).unwrap_or_default();
        if !has_blmove(&version) {
            return Err(Refused::OldRedis(format!(
                "consumer --reliable needs Redis 6.2 or newer (for BLMOVE); Redis at {target} is {}",
                if version.is_empty() {
                    "of unknown version"
                } else {
                    &version
                }
            )));
        }
        Ok(Task {
            target,
            rcon,
            errors: Backoff::new(),
        })
    }

    /// Move, print, remove; for ever. Returns only if stdout fails.
    pub fn listen_task(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.recover(out)?;
        loop {
            let task = match self.blmove() {
                Ok(task) => task,
                Err(e) => {
                    self.reconnect(&e);
                    self.recover(out)?;
                    continue;
                }
            };
            self.errors = Backoff::new();
            print::task_get(out, &task)?;
            self.done(&task);
        }
    }

    /// `BLMOVE task:prodcons:queue task:prodcons:processing LEFT LEFT 0`
    fn blmove(&mut self) -> RedisResult<Vec<u8>> {
        let task: Vec<u8> = self.rcon.blmove(
            PRODCONS_QUEUE,
            PROCESSING_LIST,
            Direction::Left,
            Direction::Left,
            0.0,
        )?;
        Ok(task)
    }

    /// Prints what an earlier run (or a lost connection) left in the
    /// processing list, oldest first.
    fn recover(&mut self, out: &mut impl Write) -> io::Result<()> {
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
                Err(e) => self.reconnect(&e),
            }
        }
    }

    /// `LREM task:prodcons:processing 1 task`, retried until Redis takes it.
    fn done(&mut self, task: &[u8]) {
        while let Err(e) = self.rcon.lrem::<_, _, ()>(PROCESSING_LIST, -1, task) {
            self.reconnect(&e);
        }
    }

    fn reconnect(&mut self, e: &RedisError) {
        self.rcon = self.target.reconnect_after(e, &mut self.errors);
    }
}

/// True for a `redis_version` of 6.2 or newer.
fn has_blmove(version: &str) -> bool {
    let parts: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    parts.len() >= 2 && (parts[0], parts[1]) >= NEEDS
}

fn redis_version(rcon: &mut Connection) -> RedisResult<String> {
    let info: String = redis::cmd("INFO").arg("server").query(rcon)?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("")
        .trim()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::has_blmove;

    #[test]
    fn blmove_needs_6_2() {
        assert!(!has_blmove("6.0.16"));
        assert!(!has_blmove("5.0.7"));
        assert!(!has_blmove(""));
        assert!(has_blmove("6.2.0"));
        assert!(has_blmove("7.0.15"));
        assert!(has_blmove("10.0.1"));
    }
}
