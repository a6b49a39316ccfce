//! Test support: a private `redis-server`, the real binaries, and a raw HTTP
//! client, so every test talks to real processes over real sockets.
//!
//! Each test starts its own Redis on a free loopback port with its own temp
//! dir, so tests run in parallel without sharing anything. One file per
//! concern, all re-exported here for the tests' `use crate::support::*`:
//!
//! - `redis_server`: the `RedisServer` guard (free port, PING, kill on drop).
//! - `program`: a real binary with its output collected line by line, and
//!   the starters for the consumer and the subscriber.
//! - `web`: the web server on a port the system picks, and what /proc says
//!   of it.
//! - `http_client`: a raw HTTP client over `TcpStream`.
//! - `tls`: certificates made at test time, and a Redis that serves TLS.
//! - `wine`: the Windows binaries under Wine.
//! - `acl`: the ACL users of the docs, and the five programs as those users.
//! - `lying_node`: a fake cluster node that answers as a broken one would.
//! - here: the names, the waits, and small helpers.

mod acl;
mod http_client;
mod lying_node;
mod program;
mod redis_server;
mod tls;
mod web;
mod wine;

pub use acl::*;
pub use http_client::*;
pub use lying_node::*;
pub use program::*;
pub use redis_server::*;
pub use tls::*;
pub use web::*;
pub use wine::*;

use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

pub const QUEUE: &str = "task:prodcons:queue";
pub const CHANNEL: &str = "task:pubsub:channel";
/// The processing list of the reliable consumers the tests start with
/// `CONSUMER_NAME=test`.
pub const PROCESSING: &str = "{task:prodcons:queue}:processing:test";

/// redis-server settings under which every acknowledged write is on disk
/// before Redis answers it, so a SIGKILL loses nothing Redis acknowledged.
pub const DURABLE: &[&str] = &[
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
];

/// Held by the tests that load the machine the most (the Windows programs
/// under Wine) and by the one most hurt by load (five Sentinel failovers,
/// whose sentinels missed a failover for 40 s while Wine tests ran beside
/// them in CI), so that those never run at the same time.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Environment variables for a program under test.
pub type Env<'a> = &'a [(&'a str, &'a str)];

/// True when the tests run as root (network namespaces, chroot).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next().map(|uid| uid == "0"))
        .unwrap_or(false)
}

/// How many times each item occurs.
pub fn count_each<T: std::hash::Hash + Eq + Clone>(
    items: &[T],
) -> std::collections::HashMap<T, usize> {
    let mut counts = std::collections::HashMap::new();
    for item in items {
        *counts.entry(item.clone()).or_insert(0) += 1;
    }
    counts
}

/// Sends a signal (`-STOP`, `-TERM`, ...) with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} {pid}");
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// Waits until `n` clients are subscribed to the channel.
pub fn wait_subscribers(redis: &RedisServer, n: usize) {
    let subscribed = eventually(Duration::from_secs(15), || {
        redis::Client::open(redis.url(1))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
            .and_then(|mut c| {
                redis::cmd("PUBSUB").arg("NUMSUB").arg(CHANNEL).query::<(String, usize)>(&mut c)
            })
            .is_ok_and(|(_, counted)| counted >= n)
    });
    assert!(subscribed, "{n} subscribers never showed up");
}

/// Waits (at most 60 s) until every list in `keys` is empty in db 1.
pub fn wait_empty(redis: &RedisServer, keys: &[&str]) -> bool {
    let mut conn = redis.conn();
    eventually(Duration::from_secs(60), || {
        keys.iter()
            .all(|key| redis::cmd("LLEN").arg(key).query::<usize>(&mut conn).is_ok_and(|n| n == 0))
    })
}

/// Waits for `check` to hold, for at most `timeout`.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
