//! A worker's connection to Redis that stays live ([`LiveConnection`]):
//! the consumer and subscriber wait out an outage with a capped
//! [`Backoff`], one log line per failed try and one when Redis answers
//! again. The original opened one connection at start and let any error
//! end the program.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use log::{info, warn};
use redis::{Commands, Connection, RedisError, RedisResult};

use crate::exit::Stop;
use crate::redis_target::{CONNECT_TIMEOUT, RedisTarget, is_unreachable};
use crate::sentinel::is_failover;
use crate::signals;
use crate::subscription::Subscription;

/// How long one `BLPOP` (or `BLMOVE`) of the consumer waits in Redis, and
/// one read of the subscriber waits for a message, before its loop looks
/// at the stop flag again.
pub const WAIT: Duration = Duration::from_secs(2);

/// [`WAIT`] as Redis takes it, in seconds: `BLPOP task:prodcons:queue 2`.
pub const WAIT_SECS: f64 = WAIT.as_secs_f64();

/// What `BLPOP` answers: the key and the element, or nothing within the wait.
pub type BlpopReply = Option<(String, Vec<u8>)>;

/// The consumer's read timeout. Longer than [`WAIT`] by a margin, because
/// redis-rs drops a reply that arrives after a read timeout (with it the
/// element BLPOP had already taken); short enough that a connection the
/// network silently lost is noticed within about 12 s.
pub const CONSUMER_READ_TIMEOUT: Duration = Duration::from_secs(12);

/// A worker's connection: a live `redis::Connection` (it derefs to one),
/// replaced by a new one after a failure.
pub struct LiveConnection {
    rcon: Connection,
    target: RedisTarget,
    read_timeout: Option<Duration>,
    /// Waits between commands that Redis keeps refusing.
    refusals: Backoff,
    last_refusal: Option<Instant>,
    /// The node of the last connection (with Sentinel: the primary then).
    node: String,
    /// Why the last subscription ended, if the connection was lost.
    lost: Option<RedisError>,
}

impl LiveConnection {
    /// Connects, however long Redis takes to answer; [`Stop::Asked`] when a
    /// stop request comes meanwhile. `read_timeout` stays on every
    /// connection it opens.
    pub fn open(target: RedisTarget, read_timeout: Option<Duration>) -> Result<Self, Stop> {
        let (rcon, node) = connect(&target, read_timeout, None)?;
        Ok(LiveConnection {
            rcon,
            target,
            read_timeout,
            refusals: Backoff::new(),
            last_refusal: None,
            node,
            lost: None,
        })
    }

    pub(crate) fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// Runs `command`, whose `None` means "nothing this time" (no element
    /// within [`WAIT`]). When it fails, says why, waits as
    /// [`recover_from`](Self::recover_from) does, connects again and
    /// returns `None` too: the caller's loop simply goes round again.
    pub fn retry<T>(
        &mut self,
        command: impl FnOnce(&mut Connection) -> RedisResult<Option<T>>,
    ) -> Result<Option<T>, Stop> {
        match command(&mut self.rcon) {
            Ok(value) => Ok(value),
            Err(e) => {
                self.recover_from(&e)?;
                Ok(None)
            }
        }
    }

    /// After a failed command: says what went wrong and connects again.
    /// When Redis answered with an error (say the key holds a string), it
    /// first waits, longer each time while Redis keeps refusing, so a
    /// command that keeps failing never turns into a busy loop.
    pub(crate) fn recover_from(&mut self, e: &RedisError) -> Result<(), Stop> {
        if is_unreachable(e) {
            warn!("lost the connection to Redis at {}: {e}", self.target);
        } else if is_failover(e) && self.target.uses_sentinel() {
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
        let (rcon, node) = connect(&self.target, self.read_timeout, Some(&self.node))?;
        self.rcon = rcon;
        self.node = node;
        Ok(())
    }

    /// Puts an element that could not be printed back where `BLPOP` took
    /// it, the head of `queue`.
    pub fn give_back(&mut self, queue: &str, task: &[u8]) {
        if let Err(e) = self.rcon.lpush::<_, _, ()>(queue, task) {
            warn!("could not put the element back ({e}): it is lost");
        }
    }

    /// `ps = rcon.pubsub()` and `ps.subscribe(channel)`. After a lost
    /// connection, first says what may have been missed and connects
    /// again. `None` when Redis refused the SUBSCRIBE or the connection
    /// broke (then the next call connects again).
    pub fn subscribe(&mut self, channel: &str) -> Result<Option<Subscription<'_>>, Stop> {
        if let Some(e) = self.lost.take() {
            warn!(
                "anything published until we are subscribed again is missed (pub/sub keeps nothing)"
            );
            self.recover_from(&e)?;
        }
        let LiveConnection {
            rcon, lost, target, ..
        } = self;
        let mut ps = rcon.as_pubsub();
        if let Err(e) = ps.subscribe(channel) {
            drop(ps);
            *lost = Some(e);
            return Ok(None);
        }
        info!("subscribed to {channel} at {target}");
        Ok(Some(Subscription::new(ps, lost)))
    }
}

impl Deref for LiveConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.rcon
    }
}

impl DerefMut for LiveConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.rcon
    }
}

/// A connection, however long Redis takes to answer; one line for each
/// failed try, and one when it answers (naming the new primary if the
/// sentinels name another node than `was`).
fn connect(
    target: &RedisTarget,
    read_timeout: Option<Duration>,
    was: Option<&str>,
) -> Result<(Connection, String), Stop> {
    let mut backoff = Backoff::new();
    let mut failures = 0u32;
    loop {
        match target.open(CONNECT_TIMEOUT, read_timeout) {
            Ok(opened) => {
                let at = if target.uses_sentinel() {
                    format!("{}, {target}", opened.node)
                } else {
                    target.to_string()
                };
                match was {
                    Some(was) if was != opened.node => {
                        warn!("moved to a new primary: connected to Redis at {at}; was {was}")
                    }
                    _ if failures == 0 => info!("connected to Redis at {at}"),
                    _ => warn!("connected to Redis at {at} after {failures} failed tries"),
                }
                return Ok((opened.rcon, opened.node));
            }
            Err(e) => {
                failures += 1;
                let delay = backoff.next_delay();
                warn!(
                    "{}; try {failures}, next in {} ms",
                    target.describe(&e),
                    delay.as_millis()
                );
                signals::sleep_unless_stopped(delay)?;
            }
        }
    }
}

/// Waits that double from 100 ms up to 5 s: quick to recover from a blip,
/// never a busy loop during a long outage.
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    pub(crate) fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
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
