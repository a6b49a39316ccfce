//! What a click needs beyond the Python's lines: where there are replicas
//! (Sentinel, or a cluster), a push is a 302 only once one of them has it,
//! so that a failover right after cannot lose what the page said was
//! pushed; and a publish's count said as what it is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use log::{debug, warn};
use redis::{ConnectionLike, RedisResult};

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

/// Set when no replica confirmed the last push: the next ones ask `ROLE`
/// first, and a primary with no replica connected answers 202 at once
/// rather than wait out the click's time for a `WAIT` that cannot succeed.
static UNCONFIRMED: AtomicBool = AtomicBool::new(false);

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
    if UNCONFIRMED.load(Ordering::Relaxed) && replicas_connected(raw).is_ok_and(|n| n == 0) {
        return false;
    }
    let confirmed = redis::cmd("WAIT").arg(1).arg(wait_ms).query::<usize>(raw);
    UNCONFIRMED.store(!matches!(confirmed, Ok(1..)), Ordering::Relaxed);
    match confirmed {
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

/// How many replicas the primary on `rcon` streams to (`ROLE`).
pub(crate) fn replicas_connected(rcon: &mut impl ConnectionLike) -> RedisResult<usize> {
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(rcon)?;
    Ok(match role.get(2) {
        Some(redis::Value::Array(replicas)) => replicas.len(),
        _ => 0,
    })
}

/// Who a publish reached, as the log and the page say it: on a cluster the
/// count is of the subscribers of the node that took the publish, so none
/// there does not mean none at all.
pub fn heard_by(rcon: &Connection, receivers: usize) -> String {
    match receivers {
        0 if rcon.target().is_cluster() => {
            "received by 0 subscribers on this node; a cluster counts them per node".into()
        }
        0 => "no subscriber: pub/sub keeps nothing, so it is gone".into(),
        n => format!("received by {n} subscribers"),
    }
}
