//! The subscriber's watch over a quiet subscription: a channel can be quiet
//! because nothing is published, or because the network lost the
//! connection without a word. After a quiet spell a PING tells the two apart.

use std::time::{Duration, Instant};

use redis::{Msg, PubSub, RedisResult};

use crate::reconnect::WAIT;

/// Quiet time after which a subscription is checked with PING; no PONG
/// within as long again, and the connection is taken for dead.
const QUIET: Duration = Duration::from_secs(4);

/// When the subscription was last heard from.
pub struct Watch {
    heard: Instant,
}

impl Watch {
    pub fn new() -> Watch {
        Watch {
            heard: Instant::now(),
        }
    }

    /// `ps.get_message()`, waiting at most [`WAIT`]: the next message, or
    /// `None` when none came (time to look at the stop flag). An error means
    /// the connection is gone. Like the original's `if i['type'] ==
    /// 'message'`, only messages come out: redis-rs keeps subscription
    /// replies to itself.
    pub fn next_message(&mut self, ps: &mut PubSub<'_>) -> RedisResult<Option<Msg>> {
        match ps.get_message() {
            Ok(message) => {
                self.heard = Instant::now();
                Ok(Some(message))
            }
            Err(e) if e.is_timeout() && self.heard.elapsed() < QUIET => Ok(None),
            Err(e) if e.is_timeout() => {
                // PING on a subscribed connection; messages that come before
                // the PONG are kept for get_message.
                ps.set_read_timeout(Some(QUIET))?;
                let pong = ps.ping::<redis::Value>();
                // Back to short waits, also for the UNSUBSCRIBE that
                // dropping `ps` sends.
                ps.set_read_timeout(Some(WAIT))?;
                pong?;
                self.heard = Instant::now();
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl Default for Watch {
    fn default() -> Self {
        Watch::new()
    }
}
