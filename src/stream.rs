//! The stream lesson's own module (not in the original): what
//! `bin/stream_consumer.rs` and the web's `/stream` need beyond the lines
//! of their Python: the settings, redis-rs's stream replies read into
//! [`Entry`]s, the group made again when it is gone, and what the page
//! shows of the stream. Why a stream with a consumer group, and what it
//! keeps that the list and pub/sub do not: `docs/streams.md`.

use std::collections::HashMap;
use std::time::Duration;

use log::{debug, info};
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamMaxlen, StreamPendingCountReply,
    StreamRangeReply, StreamReadOptions, StreamReadReply,
};
use redis::{Commands, RedisResult, Value};

use crate::config;
use crate::connection::{Connection, WAIT};
use crate::exit::Stop;
use crate::failure::{What, printable};
use crate::http::escape_html;
use crate::names::{DEAD_LETTERS, GROUP, STREAM};

/// The stream is trimmed to about this many entries at each `XADD`
/// (`MAXLEN ~`): the oldest go, read or not. So are the dead letters.
pub const STREAM_MAXLEN: usize = 1000;

/// How many entries one read or one claim takes at most.
const COUNT: usize = 10;

/// The stream consumer's settings, from the environment.
pub struct Settings {
    /// `CONSUMER_NAME`, by default the host's name and the process id.
    pub name: String,
    /// `CLAIM_IDLE_MS` (default 10,000): an entry a reader held this long
    /// without `XACK` is taken over; a reader looks four times as often.
    pub claim_idle: Duration,
    /// `MAX_DELIVERIES` (default 3): an entry delivered more often goes to
    /// the dead letters.
    pub max_deliveries: usize,
    /// `FAIL_ON` (for the exercises): handling this element always fails.
    pub fail_on: Option<String>,
    /// `WORK_MS` (for the exercises, default 0): how long handling one
    /// entry takes, between its print and its `XACK`.
    pub work: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Settings, Stop> {
        Ok(Settings {
            name: config::consumer_name_from_env()?,
            claim_idle: Duration::from_millis(config::number_from_env("CLAIM_IDLE_MS", 10_000)?),
            max_deliveries: config::number_from_env("MAX_DELIVERIES", 3)? as usize,
            fail_on: std::env::var("FAIL_ON").ok().filter(|f| !f.is_empty()),
            work: Duration::from_millis(config::number_from_env("WORK_MS", 0)?),
        })
    }
}

/// One entry of the stream, as a reader gets it.
pub struct Entry {
    pub id: String,
    /// Its `elem` field; `None` when it has no such field (not what the
    /// web writes).
    pub elem: Option<Vec<u8>>,
    /// Trimmed (`MAXLEN`) after it was delivered and before it was
    /// acknowledged: Redis gives its id and nothing else.
    pub trimmed: bool,
}

impl From<StreamId> for Entry {
    fn from(entry: StreamId) -> Entry {
        let elem = entry.map.get("elem").and_then(|v| redis::from_redis_value_ref(v).ok());
        Entry {
            trimmed: entry.map.is_empty(),
            id: entry.id,
            elem,
        }
    }
}

/// `XGROUP CREATE stream group 0 MKSTREAM`, the group reading from the
/// stream's first entry: one that is there already (`BUSYGROUP`) is fine.
/// Any other failure is for the next read to meet and say.
pub fn join_group(rcon: &mut Connection) {
    let made = rcon.run(|rcon| rcon.xgroup_create_mkstream::<_, _, _, ()>(STREAM, GROUP, "0"));
    match made {
        Ok(()) => info!(
            "made the consumer group {GROUP} of {STREAM}, from its first entry (it was not there: new, deleted, or lost when Redis restarted without persistence; what the stream still holds is delivered again)"
        ),
        Err(f) if matches!(&f.what, What::Refused(w) if w.starts_with("BUSYGROUP")) => {}
        Err(f) => debug!("cannot make the consumer group {GROUP}: {f}"),
    }
}

/// `XREADGROUP GROUP group NAME COUNT 10 BLOCK 2000 STREAMS stream START`:
/// with `0`, what this reader was given and never acknowledged; with `>`,
/// new entries, waiting up to [`WAIT`].
pub fn xreadgroup(rcon: &mut Connection, name: &str, start: &str) -> RedisResult<Vec<Entry>> {
    let options = StreamReadOptions::default().group(GROUP, name).count(COUNT);
    let options = options.block(WAIT.as_millis() as usize);
    let reply: Option<StreamReadReply> = rcon.xread_options(&[STREAM], &[start], &options)?;
    let entries = reply.into_iter().flat_map(|reply| reply.keys).flat_map(|key| key.ids);
    Ok(entries.map(Entry::from).collect())
}

/// `XAUTOCLAIM stream group NAME IDLE 0-0 COUNT 10`: the entries other
/// readers (or this one) held longer than `idle` without `XACK`, now this
/// one's. Those trimmed meanwhile Redis drops from the group, and says so.
pub fn xautoclaim(rcon: &mut Connection, name: &str, idle: Duration) -> RedisResult<Vec<Entry>> {
    let options = StreamAutoClaimOptions::default().count(COUNT);
    let idle = idle.as_millis() as usize;
    let reply: StreamAutoClaimReply =
        rcon.xautoclaim_options(STREAM, GROUP, name, idle, "0-0", options)?;
    if !reply.deleted_ids.is_empty() {
        info!(
            "{} entries were trimmed (MAXLEN) before anyone acknowledged them: they are lost",
            reply.deleted_ids.len()
        );
    }
    Ok(reply.claimed.into_iter().map(Entry::from).collect())
}

/// How many times the entry `id` was delivered (`XPENDING`).
pub fn deliveries(rcon: &mut Connection, id: &str) -> RedisResult<usize> {
    let pending: StreamPendingCountReply = rcon.xpending_count(STREAM, GROUP, id, id, 1)?;
    Ok(pending.ids.first().map_or(0, |entry| entry.times_delivered))
}

/// `XADD dead MAXLEN ~ 1000 * id ID elem ELEM why WHY`.
pub fn xadd_dead(rcon: &mut Connection, entry: &Entry, why: &str) -> RedisResult<String> {
    let elem = entry.elem.as_deref().unwrap_or_default();
    let fields: [(&str, &[u8]); 3] = [
        ("id", entry.id.as_bytes()),
        ("elem", elem),
        ("why", why.as_bytes()),
    ];
    rcon.xadd_maxlen(
        DEAD_LETTERS,
        StreamMaxlen::Approx(STREAM_MAXLEN),
        "*",
        &fields,
    )
}

/// What the page shows of the stream: its length (and that trimming keeps
/// it near [`STREAM_MAXLEN`]), the group's pending count and lag, each
/// reader with its pending count and idle time, and the dead letters.
pub fn status_html(rcon: &mut Connection) -> String {
    let length: usize = rcon.xlen(STREAM).unwrap_or(0);
    let dead: usize = rcon.xlen(DEAD_LETTERS).unwrap_or(0);
    let groups: RedisResult<Vec<Value>> = redis::cmd("XINFO").arg("GROUPS").arg(STREAM).query(rcon);
    let group = groups.ok().into_iter().flatten().map(fields).find(|g| text(g, "name") == GROUP);
    let mut html = format!(
        "{STREAM}: {length} entries (trimmed to about {STREAM_MAXLEN}: the oldest go, read or not)"
    );
    match group {
        None => html.push_str("; no consumer group yet"),
        Some(g) => {
            let (pending, lag) = (text(&g, "pending"), text(&g, "lag"));
            html.push_str(&format!("; group {GROUP}: {pending} pending, lag {lag}"));
            let readers: RedisResult<Vec<Value>> =
                redis::cmd("XINFO").arg("CONSUMERS").arg(STREAM).arg(GROUP).query(rcon);
            for reader in readers.unwrap_or_default().into_iter().take(COUNT).map(fields) {
                let name = escape_html(&text(&reader, "name"));
                let (pending, idle) = (text(&reader, "pending"), text(&reader, "idle"));
                html.push_str(&format!("; {name} {pending} pending, idle {idle} ms"));
            }
        }
    }
    html.push_str(&format!("<br>\n{DEAD_LETTERS}: {dead} dead letters"));
    let last: RedisResult<StreamRangeReply> = rcon.xrevrange_count(DEAD_LETTERS, "+", "-", 3);
    for letter in last.map(|reply| reply.ids).unwrap_or_default() {
        let field = |name: &str| letter.get::<String>(name).unwrap_or_default();
        let shown = |name: &str| escape_html(&printable(&field(name)));
        let (id, elem, why) = (shown("id"), shown("elem"), shown("why"));
        html.push_str(&format!("; {id} ({elem}: {why})"));
    }
    html
}

/// A flat `[name, value, ...]` reply of `XINFO` by name.
fn fields(reply: Value) -> HashMap<String, Value> {
    redis::from_redis_value(reply).unwrap_or_default()
}

/// The field `name` of an `XINFO` reply as text (`?` when it is not there).
fn text(fields: &HashMap<String, Value>, name: &str) -> String {
    let value = fields.get(name);
    let text = value.and_then(|v| redis::from_redis_value_ref::<String>(v).ok());
    printable(&text.unwrap_or_else(|| "?".into()))
}

#[cfg(test)]
#[path = "../tests/unit/stream.rs"]
mod tests;
