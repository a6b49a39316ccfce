//! What a push needs beyond the Python's `lpush` where there are replicas
//! (Sentinel, or a cluster): a 302 only once one of them has it, so that a
//! failover right after cannot lose what the page said was pushed.

use std::time::Duration;

use log::{debug, warn};

use crate::connection::Connection;
use crate::http::Reply;

/// `redirect(to)` once a replica has every write made so far on the
/// connection the push went out on (`WAIT 1`, within what is left of the
/// click's 2 s); [`Reply::NotOnAReplica`] (202) when none has it in time.
/// Without replicas, the redirect at once.
pub fn redirect_once_on_a_replica(rcon: &mut Connection, to: &'static str) -> Reply {
    if !rcon.target().has_replicas() || confirmed_on_a_replica(rcon) {
        return Reply::Redirect(to);
    }
    Reply::NotOnAReplica(rcon.node().unwrap_or_else(|| "(connection lost)".into()))
}

/// `WAIT 1 <ms>` where the push went: `WAIT` on another connection would
/// confirm nothing. True when a replica confirmed.
fn confirmed_on_a_replica(rcon: &mut Connection) -> bool {
    // WAIT must answer before the reply's deadline (the time left), so it
    // gets that less a margin for the round trip.
    let left = rcon.time_left().unwrap_or_default();
    let wait_ms = left.saturating_sub(Duration::from_millis(100)).as_millis() as u64;
    let Some(raw) = rcon.raw_and_retries().0.filter(|_| wait_ms > 0) else {
        return false;
    };
    match redis::cmd("WAIT").arg(1).arg(wait_ms).query::<usize>(raw) {
        Ok(confirmed) => confirmed > 0,
        // Refused (an ACL user without +wait): said, as every push will
        // answer 202 until that is fixed.
        Err(e) if e.code().is_some() => {
            warn!("{}; the push is not confirmed", rcon.failure(e));
            false
        }
        // No answer in time: the connection may be out of step.
        Err(e) => {
            debug!(
                "WAIT got no answer ({}); the push is not confirmed",
                rcon.failure(e)
            );
            rcon.reset();
            false
        }
    }
}
