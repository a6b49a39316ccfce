//! One web worker's connection to Redis ([`Link`]), and what a failed
//! command means for a click ([`Failure`]): whether it may have reached
//! Redis, and so whether the click must be reported as "may or may not have
//! happened".

use std::time::{Duration, Instant};

use log::{debug, warn};
use redis::{Connection, RedisError, RedisResult};

use crate::redis_target::{CONNECT_TIMEOUT, RedisTarget, is_unreachable, timed_out};
use crate::sentinel::{self, is_failover};

/// Why [`Link::run`] has no value for the caller.
#[derive(Debug)]
pub enum Failure {
    /// Nothing reached Redis: it is down, unreachable, or too slow to answer
    /// a PING or a connect. The command did not run.
    NotSent(RedisError),
    /// The command was sent and no answer came (a timeout, or the connection
    /// closed): it may or may not have run.
    MaybeSent(RedisError),
    /// Redis answered with an error (a wrong key type, a refused password,
    /// a missing permission): the command did not run. Also an answer this
    /// program cannot use (never one to a push or a publish, whose answers
    /// are plain numbers).
    Refused(RedisError),
}

impl Failure {
    /// A failure before the command was written: it did not run.
    fn before_sending(e: RedisError) -> Failure {
        if is_unreachable(&e) {
            Failure::NotSent(e)
        } else {
            Failure::Refused(e)
        }
    }
}

/// A connection kept longer than this without use is checked with PING
/// before it carries a command, so a connection that Redis closed meanwhile
/// (a restart, an idle timeout) is replaced before anything is sent on it.
/// Under load a worker is never idle this long, so the check costs nothing
/// there; a person's clicks are always further apart.
const CHECK_AFTER: Duration = Duration::from_millis(10);

/// One web worker's connection: opened on first use, checked after an idle
/// spell, dropped after an error and opened again on the next request.
pub struct Link {
    target: RedisTarget,
    rcon: Option<Connection>,
    last_used: Instant,
    /// When the request being answered must have its answer.
    deadline: Instant,
    /// The read and write timeout now set on `rcon`.
    timeout: Option<Duration>,
    /// Where `rcon` goes (`host:port`).
    node: String,
}

impl Link {
    pub fn new(target: RedisTarget) -> Link {
        Link {
            target,
            rcon: None,
            last_used: Instant::now(),
            deadline: Instant::now(),
            timeout: None,
            node: String::new(),
        }
    }

    pub(crate) fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// Sets when the next commands must be answered (each request's bound).
    pub(crate) fn answer_by(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// Forgets the connection (after a panic, it may be half-way through a reply).
    pub(crate) fn reset(&mut self) {
        self.rcon = None;
    }

    /// Runs `command` on a live connection, answering by the deadline.
    ///
    /// A command is sent once at most, so a click is never pushed twice: a
    /// new connection is opened (and the kept one replaced) only when the
    /// kept one fails its PING, before the command is written. Once the
    /// command is written, a lost connection or a timeout is
    /// [`Failure::MaybeSent`], never retried.
    pub(crate) fn run<T>(
        &mut self,
        command: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Failure> {
        self.live()?;
        self.bound().map_err(Failure::NotSent)?;
        let Some(rcon) = self.rcon.as_mut() else {
            return Err(Failure::NotSent(timed_out("no connection")));
        };
        let result = command(rcon);
        self.last_used = Instant::now();
        result.map_err(|e| {
            if is_unreachable(&e) {
                self.rcon = None;
                Failure::MaybeSent(e)
            } else {
                if is_failover(&e) {
                    // Not the primary (any more): the next click asks the
                    // sentinels again, never writing here again.
                    self.rcon = None;
                }
                Failure::Refused(e)
            }
        })
    }

    /// With replicas (Sentinel): waits, within what is left of the click's
    /// time, until at least one replica has every write made so far on this
    /// connection (`WAIT 1`). `None` without replicas; otherwise how many
    /// replicas confirmed, 0 when none did in time or when the answer did
    /// not come. Always on the connection the write went out on: `WAIT` on
    /// another would confirm nothing.
    pub(crate) fn confirm_on_a_replica(&mut self) -> Option<usize> {
        if !self.target.uses_sentinel() {
            return None;
        }
        // WAIT must answer before the connection's read timeout (the time
        // left) runs out, so it gets that less a margin for the round trip.
        let Ok(left) = time_left(self.deadline) else {
            return Some(0);
        };
        let wait_ms = left.saturating_sub(Duration::from_millis(100)).as_millis() as u64;
        if wait_ms == 0 || self.bound().is_err() {
            return Some(0);
        }
        let Some(rcon) = self.rcon.as_mut() else {
            return Some(0);
        };
        let confirmed = sentinel::wait_for_a_replica(rcon, wait_ms);
        self.last_used = Instant::now();
        match confirmed {
            Ok(replicas) => Some(replicas),
            Err(e) => {
                debug!("WAIT got no answer ({e}); the push is not confirmed");
                if is_unreachable(&e) || is_failover(&e) {
                    self.rcon = None;
                }
                Some(0)
            }
        }
    }

    /// The node the kept connection goes to, if there is one (with
    /// Sentinel: the primary it was named as).
    pub(crate) fn node(&self) -> Option<&str> {
        self.rcon.as_ref().map(|_| self.node.as_str())
    }

    /// Makes `self.rcon` the kept connection, checked if it sat idle, or a
    /// new one.
    fn live(&mut self) -> Result<(), Failure> {
        if self.rcon.is_some() && self.last_used.elapsed() > CHECK_AFTER {
            self.bound().map_err(Failure::NotSent)?;
            let Some(rcon) = self.rcon.as_mut() else {
                return Ok(());
            };
            match redis::cmd("PING").query::<()>(rcon) {
                Ok(()) => {}
                // Closed while idle: open another, below.
                Err(e) if e.is_connection_dropped() && !e.is_timeout() => {
                    debug!("kept Redis connection was closed ({e}); opening a new one");
                    self.rcon = None;
                }
                Err(e) => {
                    self.rcon = None;
                    return Err(Failure::before_sending(e));
                }
            }
        }
        if self.rcon.is_none() {
            let left = time_left(self.deadline).map_err(Failure::NotSent)?;
            let opened = self
                .target
                .open(left.min(CONNECT_TIMEOUT), None)
                .map_err(Failure::before_sending)?;
            self.rcon = Some(opened.rcon);
            if self.target.uses_sentinel() && !self.node.is_empty() && self.node != opened.node {
                warn!(
                    "moved to a new primary: connected to Redis at {}, {}; was {}",
                    opened.node, self.target, self.node
                );
            }
            self.node = opened.node;
            self.timeout = None;
        }
        self.last_used = Instant::now();
        Ok(())
    }

    /// Bounds the next command by the deadline: its read and write timeout
    /// is what is left. Under load every request has about the same time
    /// left, so the timeout is set again (two system calls) only when it is
    /// off by more than 50 ms.
    fn bound(&mut self) -> RedisResult<()> {
        let left = time_left(self.deadline)?;
        let close_enough = self
            .timeout
            .is_some_and(|t| t.abs_diff(left) <= Duration::from_millis(50));
        if let Some(rcon) = self.rcon.as_ref()
            && !close_enough
        {
            rcon.set_read_timeout(Some(left))?;
            rcon.set_write_timeout(Some(left))?;
            self.timeout = Some(left);
        }
        Ok(())
    }
}

/// What is left until `deadline`, or a timeout error when nothing is.
fn time_left(deadline: Instant) -> RedisResult<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return Err(timed_out("no time left for this request"));
    }
    Ok(left)
}
