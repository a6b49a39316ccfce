//! Redis Cluster: which node holds the queue's slot. Every key of this
//! project is in that one slot (`src/names.rs`), so one node at a time is
//! all a program needs. A node that does not hold it answers `MOVED` with
//! the one that does (`src/connection.rs` follows that); when that node is
//! gone, the nodes known so far are asked `CLUSTER SLOTS`, each within its
//! share of the time, until one names the slot's primary. Why not the
//! redis crate's cluster client: `docs/cluster.md`.

use std::time::Instant;

use redis::Value;

use crate::connect::{self, REPLY_LIMIT};
use crate::failure::{Failure, What};
use crate::names::PRODCONS_QUEUE;
use crate::target::Target;

/// A node, `(host, port)`.
type Node = (String, u16);

/// The most slots, and so ranges, a cluster has; and the most nodes
/// (Redis's own advice for a cluster's size, with room to spare).
const SLOTS: usize = 16384;
const MOST_NODES: usize = 1000;

/// The most a `CLUSTER SLOTS` answer may take: about 1,500 ranges of a
/// primary and a replica (a cluster resharded slot by slot may have that
/// many; most have a few). Parsed, an answer takes about ten times its
/// size, on each web worker that reads one.
const SLOTS_REPLY_LIMIT: usize = 256 << 10;

/// The primary that holds the queue's slot, as the first node known (the
/// URL's, or one `CLUSTER SLOTS` named before) that answers says by
/// `deadline`.
pub(crate) fn find_holder(target: &Target, deadline: Instant) -> Result<Node, Failure> {
    let view = &target.cluster;
    let (host, port) = target.url_node();
    let mut nodes = view.nodes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !nodes.iter().any(|(h, p)| h == host && *p == port) {
        nodes.push((host.to_owned(), port));
    }
    connect::first_answer(nodes.len(), deadline, |tried, ask_by| {
        let (host, port) = &nodes[tried];
        let shown = target.to_string();
        let mut rcon = connect::open(target.node_info(host, *port)?, &shown, ask_by)?;
        let holder = remember_nodes(target, &mut rcon, host)?;
        holder.ok_or_else(|| Failure::new(What::NoPrimaryYet, &shown))
    })
}

/// Asks the node on `rcon` (at `host`) which node holds the queue's slot,
/// and remembers every node it names, to ask when the URL's is gone. An
/// answer that is not a cluster's (too large, or not slot numbers) is a
/// failure that says so.
pub(crate) fn remember_nodes(
    target: &Target,
    rcon: &mut redis::Connection,
    host: &str,
) -> Result<Option<Node>, Failure> {
    let shown = target.to_string();
    let failed = |e: redis::RedisError| Failure::from_redis(&e, &shown, false, false);
    let asked = redis::cmd("CLUSTER").arg("KEYSLOT").arg(PRODCONS_QUEUE).query(rcon);
    rcon.set_reply_limit(Some(SLOTS_REPLY_LIMIT));
    let slots = asked.and_then(|slot| Ok((slot, redis::cmd("CLUSTER").arg("SLOTS").query(rcon)?)));
    rcon.set_reply_limit(Some(REPLY_LIMIT));
    let (slot, ranges): (i64, Value) = slots.map_err(|e| unusable(failed(e), &shown))?;
    let (holder, known) = read_slots(slot, &ranges, host)
        .ok_or_else(|| Failure::new(What::Unusable(MALFORMED.into()), &shown))?;
    *target.cluster.nodes.lock().unwrap_or_else(|e| e.into_inner()) = known;
    target.cluster.held_by(holder.clone());
    Ok(holder)
}

const MALFORMED: &str = "its CLUSTER SLOTS answer is not a cluster's (slot numbers from 0 to 16383, each range naming its nodes, at most 16,384 ranges and 1,000 nodes)";

/// A failure to read `CLUSTER SLOTS` (too large, say), saying so.
fn unusable(failure: Failure, shown: &str) -> Failure {
    match failure.what {
        What::Unusable(why) => Failure::new(What::Unusable(format!("CLUSTER SLOTS: {why}")), shown),
        _ => failure,
    }
}

/// From `CLUSTER SLOTS`: the primary of `slot` (if one holds it) and every
/// node named; `None` when the answer is not a cluster's.
fn read_slots(slot: i64, ranges: &Value, asked: &str) -> Option<(Option<Node>, Vec<Node>)> {
    let Value::Array(ranges) = ranges else {
        return None;
    };
    if ranges.len() > SLOTS {
        return None;
    }
    let mut holder = None;
    let mut known = Vec::new();
    for range in ranges {
        let Value::Array(range) = range else {
            return None;
        };
        let [start, end, nodes @ ..] = range.as_slice() else {
            return None;
        };
        let slot_number = |v| redis::from_redis_value_ref::<u16>(v).ok().filter(|n| *n < 16384);
        let addrs: Vec<Node> = nodes.iter().filter_map(|n| address(n, asked)).collect();
        if (i64::from(slot_number(start)?)..=i64::from(slot_number(end)?)).contains(&slot) {
            holder = addrs.first().cloned();
        }
        known.extend(addrs);
        known.sort();
        known.dedup();
        if known.len() > MOST_NODES {
            return None;
        }
    }
    Some((holder, known))
}

/// A node of `CLUSTER SLOTS`, `[host, port, id, ...]`. No host (`NULL`, or
/// "" from a node that does not know its address yet) means the node that
/// answered (`asked`); `?` (asked for hostnames, it has none) is no
/// address at all.
fn address(node: &Value, asked: &str) -> Option<Node> {
    let Value::Array(fields) = node else {
        return None;
    };
    let host: Option<String> = redis::from_redis_value_ref(fields.first()?).ok()?;
    let port: u16 = redis::from_redis_value_ref(fields.get(1)?).ok()?;
    match host.as_deref() {
        Some("?") => None,
        None | Some("") => Some((asked.to_owned(), port)),
        Some(host) => Some((host.to_owned(), port)),
    }
}

#[cfg(test)]
#[path = "../tests/unit/cluster.rs"]
mod tests;
