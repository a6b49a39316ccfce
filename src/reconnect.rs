//! How the consumer and subscriber get (and get back) a connection: they
//! wait out an outage with a capped [`Backoff`], one log line per failed
//! try and one when Redis answers again. The original opened one
//! connection at start and let any error end the program.

use std::time::{Duration, Instant};

use log::{info, warn};
use redis::{Connection, RedisError};

use crate::exit::Stop;
use crate::redis_target::{CONNECT_TIMEOUT, RedisTarget, is_failover, is_unreachable};
use crate::signals;

/// How long one `BLPOP` (or `BLMOVE`) of the consumer waits in Redis, and
/// one read of the subscriber waits for a message, before its loop looks
/// at the stop flag again.
pub const WAIT: Duration = Duration::from_secs(2);

/// The consumer's read timeout. Longer than [`WAIT`] by a margin, because
/// redis-rs drops a reply that arrives after a read timeout (with it the
/// element BLPOP had already taken); short enough that a connection the
/// network silently lost is noticed within about 12 s.
pub const CONSUMER_READ_TIMEOUT: Duration = Duration::from_secs(12);

/// A worker's way to Redis, and back to it after a failure.
pub struct Reconnect {
    target: RedisTarget,
    read_timeout: Option<Duration>,
    /// Waits between commands that Redis keeps refusing.
    refusals: Backoff,
    last_refusal: Option<Instant>,
    /// The node of the last connection (with Sentinel: the primary then).
    node: Option<String>,
}

impl Reconnect {
    pub fn new(target: RedisTarget, read_timeout: Option<Duration>) -> Reconnect {
        Reconnect {
            target,
            read_timeout,
            refusals: Backoff::new(),
            last_refusal: None,
            node: None,
        }
    }

    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// A connection, however long Redis takes to answer; [`Stop::Asked`]
    /// when a signal asks to stop meanwhile.
    pub fn connect(&mut self) -> Result<Connection, Stop> {
        let mut backoff = Backoff::new();
        let mut failures = 0u32;
        loop {
            match self.target.open(CONNECT_TIMEOUT, self.read_timeout) {
                Ok(opened) => {
                    let at = if self.target.has_replicas() {
                        format!("{}, {}", opened.node, self.target)
                    } else {
                        self.target.to_string()
                    };
                    match self.node.replace(opened.node.clone()) {
                        Some(was) if was != opened.node => {
                            warn!("moved to a new primary: connected to Redis at {at}; was {was}")
                        }
                        _ if failures == 0 => info!("connected to Redis at {at}"),
                        _ => warn!("connected to Redis at {at} after {failures} failed tries"),
                    }
                    return Ok(opened.rcon);
                }
                Err(e) => {
                    failures += 1;
                    let delay = backoff.next_delay();
                    warn!(
                        "{}; try {failures}, next in {} ms",
                        self.target.describe(&e),
                        delay.as_millis()
                    );
                    signals::sleep_unless_stopped(delay)?;
                }
            }
        }
    }

    /// After a failed command: says what went wrong and connects again.
    /// When Redis answered with an error (say the key holds a string), it
    /// first waits, longer each time while Redis keeps refusing, so a
    /// command that keeps failing never turns into a busy loop.
    pub fn after(&mut self, e: &RedisError) -> Result<Connection, Stop> {
        if is_unreachable(e) {
            warn!("lost the connection to Redis at {}: {e}", self.target);
        } else if is_failover(e) && self.target.has_replicas() {
            // The node is no longer the primary: ask the sentinels at once.
            warn!(
                "{}; asking the sentinels for the primary",
                self.target.describe(e)
            );
        } else {
            // A refusal long after the last one starts the waits over.
            if self
                .last_refusal
                .is_some_and(|t| t.elapsed() > Duration::from_secs(30))
            {
                self.refusals = Backoff::new();
            }
            self.last_refusal = Some(Instant::now());
            let delay = self.refusals.next_delay();
            warn!(
                "{}; trying again in {} ms",
                self.target.describe(e),
                delay.as_millis()
            );
            signals::sleep_unless_stopped(delay)?;
        }
        self.connect()
    }
}

/// Waits that double from 100 ms up to 5 s: quick to recover from a blip,
/// never a busy loop during a long outage.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(Self::MAX);
        delay
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_to_5_s() {
        let mut backoff = Backoff::new();
        let delays: Vec<u128> = (0..9).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    }
}
