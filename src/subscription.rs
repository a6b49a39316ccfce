//! One subscription of the subscriber, as an iterator over its messages
//! (the original's `for i in self.ps.listen()`). It ends when a stop is
//! requested, the connection is lost, or the sentinels switch the primary,
//! saying which; then [`Subscription::open`] connects and subscribes again.
//!
//! A channel can be quiet because nothing is published, or because the
//! network lost the connection without a word: after a quiet spell a PING
//! tells the two apart.

use std::time::{Duration, Instant};

use log::{info, warn};
use redis::{Msg, PubSub, RedisResult};

use crate::connection::{Connection, WAIT};
use crate::exit::Stop;
use crate::failure::Failure;
use crate::{sentinel, signals};

/// Quiet time after which a subscription is checked with PING; no PONG
/// within as long again, and the connection is taken for dead.
const QUIET: Duration = Duration::from_secs(4);

/// A subscribed connection, yielding its messages.
pub struct Subscription<'a> {
    ps: PubSub<'a>,
    /// When the subscription was last heard from.
    heard: Instant,
    /// How failures name Redis.
    at: String,
    /// The sentinels' switches of primary counted when it was made: after
    /// another, it ends, to subscribe again on the new primary.
    switches: u64,
}

impl<'a> Subscription<'a> {
    /// `ps = rcon.pubsub()` and `ps.subscribe(channel)`, on a connection of
    /// its own: a new one when an earlier subscription ended (it ends only
    /// when its connection is lost), waiting for Redis. `None` when Redis
    /// refused the `SUBSCRIBE` or the connection broke: said, waited out
    /// with the workers' backoff, for the caller's loop to try again.
    pub fn open(rcon: &'a mut Connection, channel: &str) -> Result<Option<Self>, Stop> {
        if !rcon.is_fresh() {
            warn!(
                "anything published until we are subscribed again is missed (pub/sub keeps nothing)"
            );
            rcon.reconnect()?;
        }
        let (at, target) = (rcon.at(), rcon.target().to_string());
        let (raw, retries) = rcon.raw_and_retries();
        let Some(raw) = raw else {
            return Ok(None);
        };
        let mut ps = raw.as_pubsub();
        match ps.subscribe(channel) {
            Ok(()) => {
                info!("subscribed to {channel} at {at}");
                retries.succeeded();
                Ok(Some(Subscription {
                    ps,
                    heard: Instant::now(),
                    at: target,
                    switches: sentinel::switches(),
                }))
            }
            Err(e) => {
                drop(ps);
                retries.wait(&Failure::from_redis(&e, &target, true, false).for_a_worker())?;
                Ok(None)
            }
        }
    }

    /// `ps.get_message()`, waiting at most [`WAIT`]: the next message, or
    /// `None` when none came (time to look at the stop flag). An error means
    /// the connection is gone. Like the original's `if i['type'] ==
    /// 'message'`, only messages come out: redis-rs keeps subscription
    /// replies to itself.
    fn next_message(&mut self) -> RedisResult<Option<Msg>> {
        match self.ps.get_message() {
            Ok(message) => {
                self.heard = Instant::now();
                Ok(Some(message))
            }
            Err(e) if e.is_timeout() && self.heard.elapsed() < QUIET => Ok(None),
            Err(e) if e.is_timeout() => {
                // PING on a subscribed connection; messages that come before
                // the PONG are kept for get_message.
                self.ps.set_read_timeout(Some(QUIET))?;
                let pong = self.ps.ping::<redis::Value>();
                // Back to short waits, also for the UNSUBSCRIBE that
                // dropping `ps` sends.
                self.ps.set_read_timeout(Some(WAIT))?;
                pong?;
                self.heard = Instant::now();
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl Iterator for Subscription<'_> {
    type Item = Msg;

    /// The next message; `None` once a stop is requested or the connection
    /// is lost (said in the log).
    fn next(&mut self) -> Option<Msg> {
        while !signals::stop_requested() {
            match self.next_message() {
                Ok(Some(message)) => return Some(message),
                Ok(None) if self.switches != sentinel::switches() => {
                    info!("the sentinels switched the primary: subscribing there");
                    return None;
                }
                Ok(None) => {}
                Err(e) => {
                    warn!(
                        "{}",
                        Failure::from_redis(&e, &self.at, true, false).for_a_worker()
                    );
                    return None;
                }
            }
        }
        None
    }
}
