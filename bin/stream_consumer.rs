//! The stream consumer: the third pattern, a Redis Stream read by a
//! consumer group. Not in the article: read it beside
//! `python/stream_consumer.py`, written in the article's style, whose lines
//! stand as comments above the Rust that replaces them; a line marked
//! `new:` has no Python counterpart.
//!
//! `Connection` is `self.rcon` kept live (`src/connection.rs`):
//! `run_or_reconnect` runs a command and, when it fails, says why, waits
//! and connects again, giving `None`; this reader then makes its group
//! again if it is gone and reads what it holds first. `src/stream.rs` holds
//! the settings and reads redis-rs's stream replies into entries.

use std::process::ExitCode;
use std::thread;
use std::time::Instant;

use log::warn;
use redis::Commands;
use redis_mq::connection::{CONSUMER_READ_TIMEOUT, Connection};
use redis_mq::exit::{self, Stop};
use redis_mq::failure::printable;
use redis_mq::names::{GROUP, STREAM};
use redis_mq::print::{self, Output};
use redis_mq::signals;
use redis_mq::stream::{self, Entry, Settings};
use redis_mq::target::Target;
use redis_mq::worker::{self, Start};

/// `class Task(object)`
struct Task {
    rcon: Connection,
    name: String,
    settings: Settings,
}

impl Task {
    /// `def __init__(self)`; waits for Redis, unless asked to stop.
    fn new(target: Target, settings: Settings) -> Result<Task, Stop> {
        // self.rcon = redis.StrictRedis.from_url(os.environ.get('REDIS_URL', ...))
        // (waits until Redis answers, as the consumer's does)
        let mut rcon = Connection::wait_for_redis(target, Some(CONSUMER_READ_TIMEOUT))?;
        // self.stream, self.dead, self.group: names.rs's STREAM, DEAD_LETTERS, GROUP
        // self.name = os.environ.get('CONSUMER_NAME') or '%s-%d' % (...)
        let name = settings.name.clone();
        // self.rcon.xgroup_create(self.stream, self.group, id='0', mkstream=True)
        // except redis.ResponseError: pass (BUSYGROUP: it is there already)
        stream::join_group(&mut rcon);
        Ok(Task {
            rcon,
            name,
            settings,
        })
    }

    /// `def listen_task(self)`: until asked to stop, or until stdout fails.
    fn listen_task(&mut self, out: &mut Output) -> Result<(), Stop> {
        // start = '0'
        let mut start = "0".to_owned();
        // claimed = 0
        let mut claimed: Option<Instant> = None;
        // while True:
        while !signals::stop_requested() {
            // if time.time() - claimed > CLAIM_IDLE / 4000:
            if claimed.is_none_or(|at| at.elapsed() > self.settings.claim_idle / 4) {
                // claimed = time.time()
                claimed = Some(Instant::now());
                // for entry_id, fields in self.rcon.xautoclaim(..., CLAIM_IDLE, count=10)[1]:
                let (name, idle) = (&self.name, self.settings.claim_idle);
                let taken = self.rcon.run_or_reconnect(|rcon| stream::xautoclaim(rcon, name, idle));
                for entry in taken?.unwrap_or_default() {
                    // self.handle(entry_id, fields, True)
                    self.handle(entry, true, out)?;
                }
            }
            // reply = self.rcon.xreadgroup(self.group, self.name, {self.stream: start}, count=10, block=2000)
            // entries = reply[0][1] if reply else []
            let name = &self.name;
            let read = self.rcon.run_or_reconnect(|rcon| stream::xreadgroup(rcon, name, &start));
            // new: after a failure (said and waited out), the group again if it is
            // gone, and what this reader holds first
            let Some(entries) = read? else {
                stream::join_group(&mut self.rcon);
                start = "0".into();
                continue;
            };
            // if start != '>' and not entries:
            if start != ">" && entries.is_empty() {
                // start = '>'
                start = ">".into();
            }
            // for entry_id, fields in entries:
            for entry in entries {
                // new: a stop asked for ends the loop between two entries; the
                // rest stay this reader's, read again first at its next start
                if signals::stop_requested() {
                    break;
                }
                let (again, id) = (start != ">", entry.id.clone());
                // self.handle(entry_id, fields, start != '>')
                self.handle(entry, again, out)?;
                // if start != '>': start = entry_id
                if again {
                    start = id;
                }
            }
        }
        Ok(())
    }

    /// `def handle(self, entry_id, fields, again)`: print it and `XACK`, or
    /// put it among the dead letters. A failure of Redis is said and waited
    /// out; the entry stays this reader's, to read again.
    fn handle(&mut self, entry: Entry, again: bool, out: &mut Output) -> Result<(), Stop> {
        // if not fields:
        if entry.trimmed {
            // new: say so
            let id = printable(&entry.id);
            warn!("entry {id} was trimmed (MAXLEN) before it was handled: it is lost");
            // self.rcon.xack(self.stream, self.group, entry_id)
            // return
            return self.xack(&entry.id);
        }
        // task = fields.get(b'elem')
        let task = entry.elem.as_deref();
        // deliveries = self.rcon.xpending_range(...)[0]['times_delivered'] if again else 1
        let deliveries = match again {
            true => self.rcon.run_or_reconnect(|rcon| stream::deliveries(rcon, &entry.id))?,
            false => Some(1),
        };
        let Some(deliveries) = deliveries else {
            return Ok(());
        };
        // if task is None or deliveries > MAX_DELIVERIES:
        if task.is_none() || deliveries > self.settings.max_deliveries {
            // why = 'no elem field' if task is None else 'delivered %d times' % deliveries
            let why = match task {
                None => "no elem field".to_owned(),
                Some(_) => format!("delivered {deliveries} times"),
            };
            // self.rcon.xadd(self.dead, {'id': entry_id, 'elem': task or b'', 'why': why})
            let dead = self.rcon.run_or_reconnect(|rcon| stream::xadd_dead(rcon, &entry, &why));
            // new: say so
            warn!(
                "entry {} ({why}) is put among the dead letters",
                printable(&entry.id)
            );
            // self.rcon.xack(self.stream, self.group, entry_id)
            // return
            return match dead? {
                Some(_) => self.xack(&entry.id),
                None => Ok(()),
            };
        }
        let task = task.unwrap_or_default();
        // if task.decode() == FAIL_ON: return
        if self.settings.fail_on.as_deref().is_some_and(|f| f.as_bytes() == task) {
            warn!(
                "entry {} failed (FAIL_ON): not acknowledged",
                printable(&entry.id)
            );
            return Ok(());
        }
        // print("Task get", task.decode())
        print::task_get(out, task)?;
        // time.sleep(WORK_MS / 1000)
        thread::sleep(self.settings.work);
        // self.rcon.xack(self.stream, self.group, entry_id)
        self.xack(&entry.id)
    }

    /// `self.rcon.xack(self.stream, self.group, entry_id)`
    fn xack(&mut self, id: &str) -> Result<(), Stop> {
        let acked = self
            .rcon
            .run_or_reconnect(|rcon| rcon.xack::<_, _, _, usize>(STREAM, GROUP, &[id]));
        acked.map(|_| ())
    }
}

/// `if __name__ == '__main__':`
fn run() -> Result<(), Stop> {
    // new: settings, logging, a thread for Ctrl-C and kill, stdout
    let Start { target, mut out } = worker::start()?;
    let settings = Settings::from_env()?;
    // print('监听任务流')
    print::line(&mut out, "监听任务流")?;
    // Task().listen_task()
    Task::new(target, settings)?.listen_task(&mut out)
}

/// The one place the stream consumer ends: its exit status, and a line
/// saying why.
fn main() -> ExitCode {
    exit::status("stream_consumer", run())
}
