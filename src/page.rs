//! What the page shows under the original's HTML, so that each click is
//! seen on the page itself and not only in a terminal: what the last clicks
//! did, what waits in the queue (in the order the consumer will take it),
//! and how many subscribers listen.
//!
//! Nothing of this is written to Redis: the web server remembers its own
//! last clicks in memory, shared by its workers, and reads the queue and
//! the subscriber count when the page is asked for.

use std::collections::VecDeque;
use std::sync::Mutex;

use redis::{Connection, RedisResult};

use crate::http::escape_html;
use crate::names::{PRODCONS_QUEUE, PUBSUB_CHANNEL};
use crate::redis_link::{Failure, Link};

/// How many clicks, and how many waiting elements, the page lists.
const SHOWN: usize = 10;

/// The last clicks, newest first.
static CLICKS: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Remembers what a click did, for the page. Under load, when another
/// worker is recording its own click at that moment, this one is left out
/// rather than made to wait: the list is for a person's clicks.
pub fn clicked(what: String) {
    if let Ok(mut clicks) = CLICKS.try_lock() {
        clicks.push_front(escape_html(&what));
        clicks.truncate(SHOWN);
    }
}

/// The queue and the channel as Redis has them now.
struct Status {
    waiting: usize,
    /// The first elements of the queue, leftmost first: BLPOP's order.
    first: Vec<String>,
    subscribers: usize,
}

/// `LLEN`, `LRANGE 0 9` and `PUBSUB NUMSUB`, in one round trip.
fn read_status(rcon: &mut Connection) -> RedisResult<Status> {
    let (waiting, first, (_channel, subscribers)): (usize, Vec<String>, (String, usize)) =
        redis::pipe()
            .cmd("LLEN")
            .arg(PRODCONS_QUEUE)
            .cmd("LRANGE")
            .arg(PRODCONS_QUEUE)
            .arg(0)
            .arg(SHOWN - 1)
            .cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(PUBSUB_CHANNEL)
            .query(rcon)?;
    Ok(Status {
        waiting,
        first,
        subscribers,
    })
}

/// The HTML that goes under the original page. It renders when Redis is
/// down too, and says so.
pub fn status(link: &mut Link) -> String {
    let last = {
        let clicks = CLICKS.lock().unwrap_or_else(|e| e.into_inner());
        if clicks.is_empty() {
            "no clicks yet".to_owned()
        } else {
            let shown: Vec<&str> = clicks.iter().map(String::as_str).collect();
            format!("last clicks, newest first: {}", shown.join("; "))
        }
    };
    let redis = match link.run(read_status) {
        Ok(s) => {
            let shown = s.first.iter().map(|e| escape_html(e)).collect::<Vec<_>>();
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
                "{queue}<br>\n{PUBSUB_CHANNEL}: {} subscribed",
                s.subscribers
            )
        }
        Err(Failure::Refused(e)) => escape_html(&link.target().describe(&e)),
        Err(_) => format!(
            "Redis at {} is not reachable: queue length and subscribers unknown",
            escape_html(&link.target().to_string())
        ),
    };
    format!("<center><p><small>\n{last}<br>\n{redis}\n</small></p></center>\n")
}
