//! Redis Cluster: which node holds the queue's slot. Every key of this
//! project is in that one slot (`src/names.rs`), so one node at a time is
//! all a program needs. A node that does not hold it answers `MOVED` with
//! the one that does (`src/connection.rs` follows that); when that node is
//! gone, the nodes known so far are asked `CLUSTER SLOTS`, each within its
//! share of the time, until one names the slot's primary.
//!
//! Why not the redis crate's cluster client: its sync client has no
//! pub/sub, it sends `WAIT` to every primary and takes the smallest answer,
//! and it would be a second connection type beside ours for what is, with
//! one slot, a single redirect.

use std::time::Instant;

use crate::connect;
use crate::failure::{Failure, What};
use crate::names::PRODCONS_QUEUE;
use crate::target::Target;

/// The primary that holds the queue's slot, as the first node known (the
/// URL's, or one `CLUSTER SLOTS` named before) that answers says by
/// `deadline`.
pub(crate) fn find_holder(target: &Target, deadline: Instant) -> Result<(String, u16), Failure> {
    let view = &target.cluster;
    let (host, port) = target.url_node();
    let mut nodes = view.nodes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !nodes.iter().any(|(h, p)| h == host && *p == port) {
        nodes.push((host.to_owned(), port));
    }
    let mut last = Failure::new(What::NoPrimaryYet, &target.to_string());
    for (tried, (host, port)) in nodes.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let ask_by = Instant::now() + left / (nodes.len() - tried) as u32;
        match ask(target, host, *port, ask_by) {
            Ok((holder, known)) => {
                *view.nodes.lock().unwrap_or_else(|e| e.into_inner()) = known;
                view.held_by(Some(holder.clone()));
                return Ok(holder);
            }
            Err(failure) => last = failure,
        }
    }
    Err(last)
}

/// Every node of the cluster `rcon` (on `host`) belongs to, remembered to
/// ask when the node the URL names is gone; said once a node turns out to
/// be a cluster's. A refusal leaves the list as it was.
pub(crate) fn remember_nodes(target: &Target, rcon: &mut redis::Connection, host: &str) {
    if let Ok((holder, known)) = slots(rcon, host) {
        *target.cluster.nodes.lock().unwrap_or_else(|e| e.into_inner()) = known;
        target.cluster.held_by(holder);
    }
}

/// A node, `(host, port)`.
type Node = (String, u16);

/// `CLUSTER KEYSLOT task:prodcons:queue` and `CLUSTER SLOTS` to one node:
/// the slot's primary, and every node named.
type Holder = (Node, Vec<Node>);
fn ask(target: &Target, host: &str, port: u16, ask_by: Instant) -> Result<Holder, Failure> {
    let shown = target.to_string();
    let info = target
        .node_info(host, port)
        .map_err(|e| Failure::from_redis(&e, &shown, false, false))?;
    let left = connect::time_left(ask_by).map_err(|why| Failure::new(why, &shown))?;
    let mut rcon = connect::open(info, &shown, ask_by, Some(left))?;
    match slots(&mut rcon, host) {
        Ok((Some(holder), known)) => Ok((holder, known)),
        Ok((None, _)) => Err(Failure::new(What::NoPrimaryYet, &shown)),
        Err(e) => Err(Failure::from_redis(&e, &shown, false, false)),
    }
}

/// The queue's slot's primary (if one holds it) and every node named, as
/// the node on `rcon` (`asked`) says.
fn slots(
    rcon: &mut redis::Connection,
    asked: &str,
) -> redis::RedisResult<(Option<Node>, Vec<Node>)> {
    let slot: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(PRODCONS_QUEUE).query(rcon)?;
    let ranges: Vec<Vec<redis::Value>> = redis::cmd("CLUSTER").arg("SLOTS").query(rcon)?;
    let mut holder = None;
    let mut known = Vec::new();
    for range in &ranges {
        let [start, end, nodes @ ..] = range.as_slice() else {
            continue;
        };
        let number = |v: &redis::Value| redis::from_redis_value_ref::<i64>(v).unwrap_or(-1);
        let addrs: Vec<(String, u16)> = nodes.iter().filter_map(|n| address(n, asked)).collect();
        if (number(start)..=number(end)).contains(&slot) {
            holder = addrs.first().cloned();
        }
        known.extend(addrs);
    }
    known.sort();
    known.dedup();
    Ok((holder, known))
}

/// A node of `CLUSTER SLOTS`, `[host, port, id, ...]`. No host (`NULL`, or
/// "" from a node that does not know its address yet) means the node that
/// answered (`asked`); `?` (asked for hostnames, it has none) is no
/// address at all.
fn address(node: &redis::Value, asked: &str) -> Option<(String, u16)> {
    let redis::Value::Array(fields) = node else {
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
mod tests {
    use super::*;
    use redis::Value::{Array, BulkString, Int, Nil};

    fn node(host: redis::Value) -> redis::Value {
        Array(vec![host, Int(7001), BulkString(b"id".to_vec())])
    }

    #[test]
    fn a_node_without_a_known_address_is_the_one_asked_or_none() {
        let named = node(BulkString(b"redis-1.example".to_vec()));
        assert_eq!(
            address(&named, "10.0.0.1"),
            Some(("redis-1.example".into(), 7001))
        );
        assert_eq!(
            address(&node(Nil), "10.0.0.1"),
            Some(("10.0.0.1".into(), 7001))
        );
        assert_eq!(
            address(&node(BulkString(vec![])), "10.0.0.1"),
            Some(("10.0.0.1".into(), 7001))
        );
        assert_eq!(address(&node(BulkString(b"?".to_vec())), "10.0.0.1"), None);
    }
}
