//! What the page shows under the original's HTML, so that each click is
//! seen on the page itself and not only in a terminal: what the last clicks
//! did, what waits in the queue (in the order the consumer will take it),
//! how many subscribers listen, and the stream with its group and dead
//! letters (`stream::status_html`).
//!
//! Nothing of this is written to Redis: the web server remembers its own
//! last clicks in memory ([`Clicks`], shared by its workers), and reads the
//! queue and the subscriber count when the page is asked for. Whatever the
//! queue holds, the page stays small: at most `SHOWN` elements, each cut
//! to `PREVIEW_BYTES` by Redis before it is sent, shown as text.

use std::collections::VecDeque;
use std::sync::Mutex;

use redis::RedisResult;

use crate::click;
use crate::connection::Connection;
use crate::failure::printable;
use crate::http::escape_html;
use crate::names::{PRODCONS_QUEUE, PUBSUB_CHANNEL};
use crate::stream;

/// How many clicks, and how many waiting elements, the page lists.
const SHOWN: usize = 10;

/// How much of each waiting element the page shows.
const PREVIEW_BYTES: usize = 64;

/// The last clicks, newest first.
#[derive(Default)]
pub struct Clicks(Mutex<VecDeque<String>>);

impl Clicks {
    /// Remembers what a click did, for the page.
    pub fn record(&self, what: String) {
        // Made safe to show before the lock: every request thread takes it.
        let shown = escape_html(&printable(&what));
        let mut clicks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        clicks.push_front(shown);
        clicks.truncate(SHOWN);
    }

    fn html(&self) -> String {
        let clicks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if clicks.is_empty() {
            return "no clicks yet".to_owned();
        }
        let shown: Vec<&str> = clicks.iter().map(String::as_str).collect();
        format!("last clicks, newest first: {}", shown.join("; "))
    }
}

/// `LLEN`, the first [`SHOWN`] elements cut to [`PREVIEW_BYTES`] each (with
/// their full length), and `PUBSUB NUMSUB`, in one script: the web server
/// never receives more than it shows.
const READ_STATUS: &str = "\
local first = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local shown = {}
for i, element in ipairs(first) do
  shown[2 * i - 1] = #element
  shown[2 * i] = string.sub(element, 1, tonumber(ARGV[2]))
end
local numsub = redis.call('PUBSUB', 'NUMSUB', ARGV[3])
return {redis.call('LLEN', KEYS[1]), shown, numsub[2]}";

/// The queue and the channel as Redis has them now.
struct Status {
    waiting: usize,
    /// The first elements of the queue, leftmost first (BLPOP's order):
    /// each one's length in bytes and its first bytes.
    first: Vec<(usize, Vec<u8>)>,
    subscribers: usize,
}

fn read_status(rcon: &mut Connection) -> RedisResult<Status> {
    let (waiting, flat, subscribers): (usize, Vec<redis::Value>, usize) = redis::cmd("EVAL")
        .arg(READ_STATUS)
        .arg(1)
        .arg(PRODCONS_QUEUE)
        .arg(SHOWN)
        .arg(PREVIEW_BYTES)
        .arg(PUBSUB_CHANNEL)
        .query(rcon)?;
    let mut first = Vec::with_capacity(flat.len() / 2);
    for pair in flat.chunks(2) {
        if let [len, bytes] = pair {
            let len: usize = redis::from_redis_value_ref(len)?;
            let bytes: Vec<u8> = redis::from_redis_value_ref(bytes)?;
            first.push((len, bytes));
        }
    }
    Ok(Status {
        waiting,
        first,
        subscribers,
    })
}

/// Where there are replicas (Sentinel, a cluster): which node is the
/// primary now, and how many replicas it streams to (`ROLE`), so a
/// failover shows on the page.
fn primary_html(rcon: &mut Connection) -> String {
    if !rcon.target().has_replicas() {
        return String::new();
    }
    let named_by = if rcon.target().uses_sentinel() {
        "named by the sentinels"
    } else {
        "holds the queue's slot of the cluster"
    };
    let replicas = rcon.run(click::replicas_connected);
    let node = escape_html(&rcon.node().unwrap_or_else(|| "unknown".into()));
    match replicas {
        Ok(n) => format!("<br>\nprimary: {node} ({named_by}), {n} replicas connected"),
        Err(_) => format!("<br>\nprimary: {node} ({named_by}), replicas unknown"),
    }
}

/// One waiting element as the page shows it: text (U+FFFD where it is not
/// UTF-8), escaped, and shortened with its length when it is long.
fn shown(len: usize, bytes: &[u8]) -> String {
    let text = escape_html(&printable(&String::from_utf8_lossy(bytes)));
    if len > bytes.len() {
        format!("{text}… ({len} bytes)")
    } else {
        text
    }
}

/// Asks Redis for the queue's first elements (a script that shortens each
/// one in Redis), the subscribers, the stream and, where there are
/// replicas, the primary's replicas (`ROLE`); returns the HTML that goes
/// under the original page. It renders when Redis is down too, and says so.
pub fn query_status(rcon: &mut Connection, clicks: &Clicks) -> String {
    let last = clicks.html();
    let redis = match rcon.run(read_status) {
        Ok(s) => {
            let shown: Vec<String> = s.first.iter().map(|(len, b)| shown(*len, b)).collect();
            let more = if s.waiting > shown.len() { ", ..." } else { "" };
            let queue = if s.waiting == 0 {
                format!("{PRODCONS_QUEUE}: 0 waiting")
            } else {
                format!(
                    "{PRODCONS_QUEUE}: {} waiting: {}{more} (the consumer takes them from the left)",
                    s.waiting,
                    shown.join(", ")
                )
            };
            format!(
                "{queue}<br>\n{PUBSUB_CHANNEL}: {} subscribed<br>\n{}{}",
                s.subscribers,
                stream::status_html(rcon),
                primary_html(rcon)
            )
        }
        // Redis answered, with its own words: they say more than "not reachable".
        Err(failure) if !failure.is_unreachable() => escape_html(&failure.to_string()),
        Err(_) => format!(
            "Redis at {} is not reachable: queue length and subscribers unknown",
            escape_html(&rcon.target().to_string())
        ),
    };
    format!("<center><p><small>\n{last}<br>\n{redis}\n</small></p></center>\n")
}

#[cfg(test)]
#[path = "../tests/unit/page.rs"]
mod tests;
