//! A connection to the Redis node that holds our keys ([`Connection`]): the
//! one type through which the web, the consumer, `consumer --reliable` and
//! the subscriber talk to Redis. It finds the node (the URL's host, the
//! primary the sentinels name, or the node of a cluster that holds the
//! queue's slot), connects within a bound, and runs each command on it,
//! following a cluster's `MOVED` and `ASK`. It is a redis-rs
//! `ConnectionLike`, so a lesson calls `rcon.lpush(...)` on it as the
//! Python does on its `rcon`; when a command fails,
//! [`failure`](Connection::failure) says what happened as a [`Failure`].
//!
//! The programs differ only in the policy they open it with:
//!
//! - [`Connection::bounded`], the web's: every command answers by the
//!   click's deadline; a kept connection that sat idle is checked with
//!   `PING` first, so a dead one is replaced before anything is written on
//!   it.
//! - [`Connection::wait_for_redis`], the workers': a failure is said, waited
//!   out with the capped backoff ([`Retries`]) and followed by a new
//!   connection, for as long as Redis is away, unless a stop is asked for.
//!
//! The original opened one connection at start and let any error end the
//! program.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use redis::{ConnectionLike, ErrorKind, RedisError, RedisResult, Value};

use crate::connect::{self, CONNECT_TIMEOUT};
use crate::exit::Stop;
use crate::failure::{CLOSED_AT_ONCE, Failure, What};
use crate::signals;
use crate::target::{Finder, Target, parse_addr, show_addr};
use crate::{cluster, sentinel};

/// How long one `BLPOP` (or `BLMOVE`) of the consumer waits in Redis, and
/// one read of the subscriber waits for a message, before its loop looks
/// at the stop flag again.
pub const WAIT: Duration = Duration::from_secs(2);

/// [`WAIT`] as Redis takes it, in seconds: `BLPOP task:prodcons:queue 2`.
pub const WAIT_SECS: f64 = WAIT.as_secs_f64();

/// What `BLPOP` answers: the key and the element, or nothing within the wait.
pub type BlpopReply = Option<(String, Vec<u8>)>;

/// The consumer's read timeout. Longer than [`WAIT`] by a margin, because
/// redis-rs drops a reply that arrives after a read timeout (with it the
/// element BLPOP had already taken); short enough that a connection the
/// network silently lost is noticed within about 12 s.
pub const CONSUMER_READ_TIMEOUT: Duration = Duration::from_secs(12);

/// A kept connection of the web idle longer than this is checked with PING
/// before it carries a command. Under load a worker is never idle this
/// long, so the check costs nothing there; a person's clicks are always
/// further apart.
const CHECK_AFTER: Duration = Duration::from_millis(10);

/// A node, `(host, port)`.
type Node = (String, u16);

/// A connection to the node that holds our keys, opened again after a
/// failure; see the module doc for the two policies.
pub struct Connection {
    target: Target,
    policy: Policy,
    rcon: Option<redis::Connection>,
    /// Where `rcon` goes, or went last.
    node: Option<Node>,
    /// The sentinels' switches of primary counted when `rcon` was opened.
    switches: u64,
    last_used: Instant,
    /// Something was sent on `rcon` since it was opened.
    used: bool,
    /// The web's: the write timeout now set on `rcon`.
    bound: Option<Duration>,
    /// The connection the last command went out on after an `ASK`.
    asked: Option<redis::Connection>,
    /// What the last command's error was, in full (see [`Self::failure`]).
    failed: Option<Failure>,
    /// The workers': the failures in a row, and the wait before the next try.
    retries: Retries,
}

enum Policy {
    /// Every command answered by this deadline.
    Bounded { deadline: Instant },
    /// Until Redis is back; this read timeout on every connection.
    Patient { read_timeout: Option<Duration> },
}

impl Connection {
    /// The web's connection: nothing is opened until the first command, and
    /// each command answers by the deadline given with
    /// [`answer_by`](Self::answer_by).
    pub fn bounded(target: Target) -> Connection {
        let deadline = Instant::now();
        Connection::new(target, Policy::Bounded { deadline })
    }

    /// A worker's connection, opened now: waits (and says so) until Redis
    /// answers; [`Stop::Asked`] when a stop is asked for meanwhile.
    pub fn wait_for_redis(
        target: Target,
        read_timeout: Option<Duration>,
    ) -> Result<Connection, Stop> {
        let mut rcon = Connection::new(target, Policy::Patient { read_timeout });
        rcon.reconnect()?;
        Ok(rcon)
    }

    fn new(target: Target, policy: Policy) -> Connection {
        if let Finder::Sentinels(sentinels) = &target.finder {
            sentinel::follow_switches(&target, sentinels);
        }
        Connection {
            target,
            policy,
            rcon: None,
            node: None,
            switches: 0,
            last_used: Instant::now(),
            used: false,
            bound: None,
            asked: None,
            failed: None,
            retries: Retries::default(),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The node the kept connection goes to, if there is one (with
    /// Sentinel: the primary it was named as).
    pub fn node(&self) -> Option<String> {
        let (host, port) = self.node.as_ref().filter(|_| self.rcon.is_some())?;
        Some(show_addr(host, *port))
    }

    /// Sets when the next commands must be answered (each click's bound).
    pub fn answer_by(&mut self, deadline: Instant) {
        if let Policy::Bounded { deadline: d } = &mut self.policy {
            *d = deadline;
        }
    }

    /// The web's: what is left of the time the commands must answer by.
    pub fn time_left(&self) -> Option<Duration> {
        match self.policy {
            Policy::Bounded { deadline } => connect::time_left(deadline).ok(),
            Policy::Patient { .. } => None,
        }
    }

    /// Forgets the kept connection (after a panic it may be half-way
    /// through a reply; after a command with no answer, out of step).
    pub fn reset(&mut self) {
        self.rcon = None;
    }

    /// The connection the last command went out on (where an `ASK` sent
    /// it, or the kept one), for what this type does not carry itself: a
    /// subscription, or a `WAIT` that must go where the write went; and
    /// the workers' [`Retries`] beside it, so that a borrow of the one (a
    /// subscription) leaves the other free.
    pub fn raw_and_retries(&mut self) -> (Option<&mut redis::Connection>, &mut Retries) {
        self.used = true;
        self.failed = None;
        self.last_used = Instant::now();
        (
            self.asked.as_mut().or(self.rcon.as_mut()),
            &mut self.retries,
        )
    }

    /// True when the kept connection was opened and nothing was sent on it
    /// yet.
    pub fn is_fresh(&self) -> bool {
        self.rcon.is_some() && !self.used
    }

    /// Where the kept connection goes, as the log says it.
    pub fn at(&self) -> String {
        match &self.node {
            Some(node) => self.shown(node),
            None => self.target.to_string(),
        }
    }

    /// The [`Failure`] behind `e`, an error a command on this connection
    /// returned: whether the command may have run, and what to do.
    pub fn failure(&mut self, e: RedisError) -> Failure {
        let failed = self.failed.take();
        failed.unwrap_or_else(|| self.failure_of(&e, true))
    }

    /// `command` on this connection; an error as its [`Failure`].
    pub fn run<T>(
        &mut self,
        command: impl FnOnce(&mut Self) -> RedisResult<T>,
    ) -> Result<T, Failure> {
        command(self).map_err(|e| self.failure(e))
    }

    /// A worker's command: runs `command`. When it fails, says why, waits
    /// and connects again ([`wait_then_reconnect`](Self::wait_then_reconnect))
    /// and returns `None`: the caller's loop simply goes round again.
    pub fn run_or_reconnect<T>(
        &mut self,
        command: impl FnOnce(&mut Self) -> RedisResult<T>,
    ) -> Result<Option<T>, Stop> {
        match self.run(command) {
            Ok(value) => Ok(Some(value)),
            Err(failure) => {
                self.wait_then_reconnect(&failure)?;
                Ok(None)
            }
        }
    }

    /// After a failed command of a worker: says what went wrong, waits (the
    /// capped backoff, whatever the failure, so no failure that repeats is
    /// a busy loop) and connects again, unless the connection is still
    /// good (Redis refused the command on it).
    pub fn wait_then_reconnect(&mut self, failure: &Failure) -> Result<(), Stop> {
        self.retries.wait(&failure.for_a_worker())?;
        if failure.ends_the_connection() {
            self.rcon = None;
        }
        match self.rcon {
            Some(_) => Ok(()),
            None => self.reconnect(),
        }
    }

    /// A worker's new connection: tried with the capped backoff until Redis
    /// answers or a stop is asked for.
    pub fn reconnect(&mut self) -> Result<(), Stop> {
        self.rcon = None;
        loop {
            match self.open() {
                Ok((rcon, node)) => {
                    let at = self.shown(&node);
                    match (self.keep(rcon, node), self.retries.failures) {
                        (true, _) => {} // said: it moved
                        (false, 0) => info!("connected to Redis at {at}"),
                        (false, 1) => warn!("connected to Redis at {at} after 1 failed try"),
                        (false, n) => warn!("connected to Redis at {at} after {n} failed tries"),
                    }
                    return Ok(());
                }
                Err(failure) if failure.what == What::ClusterHasOnlyDb0 => {
                    return Err(Stop::Setting(failure.to_string()));
                }
                Err(failure) => self.retries.wait(&failure.to_string())?,
            }
        }
    }

    /// Sends `cmd` (one command, as redis-rs packs it) on a live connection.
    /// A node that does not hold our keys answers `MOVED` (the command did
    /// not run there): it goes to the node named, which is kept; `ASK` (the
    /// slot is moving) sends it once to the node named, after `ASKING`.
    /// With Sentinel, a node no longer the primary (`READONLY`) did not run
    /// it either: it goes to the primary. Three tries at most.
    fn send(&mut self, cmd: &[u8]) -> Result<Value, Failure> {
        for _ in 0..3 {
            // Redis's error answers come as values; redis-rs's `query` turns
            // them into errors, and so does this, to follow MOVED and ASK.
            let result = self.live()?.req_packed_command(cmd).and_then(Value::extract_error);
            self.last_used = Instant::now();
            let e = match result {
                Ok(value) => {
                    self.retries.succeeded();
                    return Ok(value);
                }
                Err(e) => e,
            };
            match e.code() {
                Some("MOVED") => {
                    self.target.cluster.held_by(Some(self.redirect(&e)?));
                    self.rcon = None;
                }
                Some("ASK") => return self.send_asking(self.redirect(&e)?, cmd),
                _ => {
                    let failure = self.failure_of(&e, true);
                    if failure.ends_the_connection() {
                        self.rcon = None;
                    }
                    let demoted = matches!(failure.what, What::NotPrimary(_));
                    if !demoted || !self.target.uses_sentinel() {
                        return Err(failure);
                    }
                }
            }
        }
        let what = match self.target.uses_sentinel() {
            true => What::NoPrimaryYet,
            false => What::TryAgain(format!(
                "MOVED three times in a row, last to {}: its nodes disagree on which holds the queue's slot",
                self.node().unwrap_or_default()
            )),
        };
        Err(Failure::new(what, &self.target.to_string()))
    }

    /// `ASKING`, then `cmd`, on a connection of its own to `node`, where
    /// the slot is moving, opened within the policy's bound.
    fn send_asking(&mut self, node: Node, cmd: &[u8]) -> Result<Value, Failure> {
        let info = self.target.node_info(&node.0, node.1)?;
        let mut rcon = connect::open(info, &self.target.to_string(), self.connect_deadline())?;
        self.set_policy_on(&mut rcon);
        redis::cmd("ASKING")
            .query::<()>(&mut rcon)
            .map_err(|e| self.failure_of(&e, false))?;
        let value = rcon.req_packed_command(cmd).and_then(Value::extract_error);
        let value = value.map_err(|e| self.failure_of(&e, true))?;
        self.asked = Some(rcon);
        Ok(value)
    }

    /// The node a `MOVED` or `ASK` names. `MOVED 3122 :7001` (no host: the
    /// cluster does not know its nodes' address, as behind a load balancer)
    /// means the host of the node that answered. One that is not an
    /// address is a failure: the command did not run.
    fn redirect(&self, e: &RedisError) -> Result<Node, Failure> {
        let named = e.redirect_node().map_or("", |(addr, _)| addr);
        let here = self.node.as_ref().map(|(host, _)| host.clone());
        let node = match parse_addr(named) {
            Some((host, port)) if host.is_empty() => here.map(|here| (here, port)),
            node => node,
        };
        node.ok_or_else(|| {
            let code = e.code().unwrap_or("a redirect");
            let why = format!("{code} to {named}, which is not host:port with a port up to 65535");
            Failure::new(What::TryAgain(why), &self.target.to_string())
        })
    }

    /// The kept connection, or a new one: checked first if the web's sat
    /// idle; opened again after the sentinels switched the primary.
    fn live(&mut self) -> Result<&mut redis::Connection, Failure> {
        self.used = true;
        if self.rcon.is_some() && self.switches != sentinel::switches() {
            debug!("the sentinels switched the primary: looking for it again");
            self.rcon = None;
        }
        let bounded = matches!(self.policy, Policy::Bounded { .. });
        if bounded && self.rcon.is_some() && self.last_used.elapsed() > CHECK_AFTER {
            self.check_idle()?;
        }
        if self.rcon.is_none() {
            let (rcon, node) = self.open()?;
            self.keep(rcon, node);
        }
        self.bound()?;
        self.last_used = Instant::now();
        let at = self.target.to_string();
        self.rcon.as_mut().ok_or_else(|| Failure::new(What::NoAnswer, &at))
    }

    /// `PING` on the web's kept connection after an idle spell: one that
    /// was closed meanwhile is dropped, to be opened again.
    fn check_idle(&mut self) -> Result<(), Failure> {
        self.bound()?;
        let pinged = self.rcon.as_mut().map(|rcon| redis::cmd("PING").query::<()>(rcon));
        match pinged {
            Some(Err(e)) if e.is_connection_dropped() && !e.is_timeout() => self.rcon = None,
            Some(Err(e)) => {
                self.rcon = None;
                return Err(self.failure_of(&e, false));
            }
            _ => {}
        }
        Ok(())
    }

    /// Keeps `rcon`, a new connection to `node`; says so when that is not
    /// the node of the last one, and returns true then.
    fn keep(&mut self, mut rcon: redis::Connection, node: Node) -> bool {
        self.set_policy_on(&mut rcon);
        let was = self.node.replace(node.clone());
        self.rcon = Some(rcon);
        self.bound = None;
        self.used = false;
        // One line per move for the whole program, not one per connection
        // (each web worker, the reliable consumer's sign of life).
        static SAID: Mutex<Option<Node>> = Mutex::new(None);
        let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
        let moved = was.filter(|was| *was != node);
        let is_new = moved.is_some();
        if let Some((host, port)) = moved.filter(|_| said.as_ref() != Some(&node)) {
            *said = Some(node.clone());
            let was = show_addr(&host, port);
            match self.target.uses_sentinel() {
                true => warn!(
                    "moved to a new primary: connected to Redis at {}; was {was}",
                    self.shown(&node)
                ),
                false => info!(
                    "the queue's slot is at {} now (was {was})",
                    show_addr(&node.0, node.1)
                ),
            }
        }
        is_new
    }

    /// The workers' read timeout on a connection they keep, and no bound on
    /// the size of a reply: the lesson's elements may be of any size.
    fn set_policy_on(&self, rcon: &mut redis::Connection) {
        match self.policy {
            Policy::Bounded { deadline } => rcon.set_read_deadline(Some(deadline)),
            Policy::Patient { read_timeout } => {
                rcon.set_reply_limit(None);
                // Refused only for a zero timeout, which no worker has.
                let _ = rcon.set_read_timeout(read_timeout);
            }
        }
    }

    /// By when one connect must be done: the web's deadline, or one
    /// [`CONNECT_TIMEOUT`] from now.
    fn connect_deadline(&self) -> Instant {
        let by = Instant::now() + CONNECT_TIMEOUT;
        match self.policy {
            Policy::Bounded { deadline } => deadline.min(by),
            Policy::Patient { .. } => by,
        }
    }

    /// Finds the node and opens a connection to it, by one connect's
    /// deadline.
    fn open(&mut self) -> Result<(redis::Connection, Node), Failure> {
        let deadline = self.connect_deadline();
        self.switches = sentinel::switches();
        let cluster = &self.target.cluster;
        let (node, sentinels) = match &self.target.finder {
            Finder::Url if cluster.is_cluster() => match cluster.holder() {
                Some(holder) => (holder, false),
                None => (cluster::find_holder(&self.target, deadline)?, false),
            },
            Finder::Url => {
                let (host, port) = self.target.url_node();
                ((host.to_owned(), port), false)
            }
            Finder::Sentinels(sentinels) => (
                sentinel::find_primary(&self.target, sentinels, deadline)?,
                true,
            ),
        };
        let opened = self.open_node(node, deadline, sentinels);
        if opened.is_err() {
            // Gone, or no longer the primary: look for it again next time.
            match &self.target.finder {
                Finder::Sentinels(sentinels) => sentinel::ask_another_first(sentinels),
                Finder::Url if cluster.is_cluster() => cluster.held_by(None),
                Finder::Url => {}
            }
        }
        opened
    }

    /// A connection to `node`, checked with `ROLE` to be a primary where
    /// there are replicas (the Sentinel client spec's check). The first
    /// node a program reaches is asked whether it is a cluster's; if so,
    /// the connection goes straight on to the slot's holder (the subscriber
    /// too, so that it is where the web publishes and counts subscribers).
    fn open_node(
        &self,
        node: Node,
        deadline: Instant,
        sentinels: bool,
    ) -> Result<(redis::Connection, Node), Failure> {
        let shown = self.shown(&node);
        let info = self.target.node_info(&node.0, node.1)?;
        let mut rcon = connect::open(info, &shown, deadline).map_err(|mut f| {
            match &mut f.what {
                What::Password { with_sentinel, .. } => *with_sentinel = sentinels,
                // A close at once over plain TCP is what a TLS-only Redis
                // does; not one this program has talked to already (a node
                // going down closes too).
                What::Tls(_) if self.node.is_some() && !self.target.uses_tls() => {
                    f.what = What::Unreachable(CLOSED_AT_ONCE.into());
                }
                _ => {}
            }
            f
        })?;
        let cluster = &self.target.cluster;
        if !cluster.asked.load(std::sync::atomic::Ordering::Relaxed) {
            // A user without INFO: taken as no cluster.
            let info: String =
                redis::cmd("INFO").arg("cluster").query(&mut rcon).unwrap_or_default();
            cluster.learn(&info);
            if cluster.is_cluster() {
                match cluster::remember_nodes(&self.target, &mut rcon, &node.0) {
                    // A user without CLUSTER: MOVED finds the holder.
                    Err(failure) if matches!(failure.what, What::Refused(_)) => {}
                    Err(failure) => return Err(failure),
                    Ok(Some(holder)) if holder != node => {
                        return self.open_node(holder, deadline, sentinels);
                    }
                    Ok(_) => {}
                }
            }
        }
        if self.target.has_replicas() {
            let role: Vec<Value> = redis::cmd("ROLE")
                .query(&mut rcon)
                .map_err(|e| Failure::from_redis(&e, &shown, false, sentinels))?;
            if !matches!(role.first(), Some(Value::BulkString(r)) if r == b"master") {
                return Err(Failure::new(What::NoPrimaryYet, &shown));
            }
        }
        Ok((rcon, node))
    }

    /// `node` and how it was found: `127.0.0.1:6379 (db 1)`; with
    /// Sentinel `127.0.0.1:6380, the primary of "mq" per the sentinels ...`;
    /// on a cluster `127.0.0.1:7000, which holds the queue's slot of the
    /// cluster at 127.0.0.1:7001 (db 0)`, or `127.0.0.1:7001 (db 0), which
    /// holds ...` when that is the URL's node.
    fn shown(&self, node: &Node) -> String {
        let target = &self.target;
        let addr = show_addr(&node.0, node.1);
        if target.uses_sentinel() {
            return format!("{addr}, {target}");
        } else if !target.cluster.is_cluster() {
            return target.to_string();
        }
        let which = match target.cluster.holder().as_ref() == Some(node) {
            true => "which holds the queue's slot",
            false => "a node",
        };
        let (host, port) = target.url_node();
        match (host, port) == (node.0.as_str(), node.1) {
            true => format!("{target}, {which} of the cluster"),
            false => format!("{addr}, {which} of the cluster at {target}"),
        }
    }

    /// `e`, which Redis gave while connected, as a [`Failure`]; `sent` when
    /// the command had been written.
    fn failure_of(&self, e: &RedisError, sent: bool) -> Failure {
        let uses_sentinel = self.target.uses_sentinel();
        Failure::from_redis(e, &self.target.to_string(), sent, uses_sentinel)
    }

    /// Bounds the web's next command by its deadline: its reply must have
    /// come by then, however slowly it trickles (patch 6 of the vendored
    /// redis), and a write waits at most the time left. Under load every
    /// request has about the same time left, so the write timeout is set
    /// again (a system call) only when it is off by more than 50 ms.
    fn bound(&mut self) -> Result<(), Failure> {
        let Policy::Bounded { deadline } = self.policy else {
            return Ok(());
        };
        let at = self.target.to_string();
        let left = connect::time_left(deadline).map_err(|why| Failure::new(why, &at))?;
        let close_enough =
            self.bound.is_some_and(|t| t.abs_diff(left) <= Duration::from_millis(50));
        if let Some(rcon) = self.rcon.as_mut() {
            rcon.set_read_deadline(Some(deadline));
            if !close_enough {
                rcon.set_write_timeout(Some(left))
                    .map_err(|e| Failure::from_redis(&e, &at, false, false))?;
                self.bound = Some(left);
            }
        }
        Ok(())
    }
}

/// Every command of the lessons goes through here: once, by the policy's
/// bound, following redirects. An error keeps its [`Failure`] for
/// [`Connection::failure`]; the `RedisError` returned says the same.
impl ConnectionLike for Connection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.failed = None;
        self.asked = None;
        self.send(cmd).map_err(|failure| {
            let e = RedisError::from((ErrorKind::Client, "failed", failure.to_string()));
            self.failed = Some(failure);
            e
        })
    }

    /// No program here sends a pipeline: a `MOVED` inside one's answer is
    /// not one a connection can follow.
    fn req_packed_commands(&mut self, _: &[u8], _: usize, _: usize) -> RedisResult<Vec<Value>> {
        Err((ErrorKind::Client, "redis_mq sends no pipelines").into())
    }

    fn get_db(&self) -> i64 {
        self.target.db()
    }

    fn check_connection(&mut self) -> bool {
        redis::cmd("PING").query::<()>(self).is_ok()
    }

    fn is_open(&self) -> bool {
        self.rcon.as_ref().is_some_and(|rcon| rcon.is_open())
    }
}

/// The workers' failures in a row, whatever they are (Redis down, a
/// refusal, a redirect loop, a host that does not resolve): each waits
/// longer, doubling from 100 ms up to 5 s, so a failure that repeats is
/// never a busy loop; the first is said in full, the same one again only
/// counted. A command that succeeds ends the run.
#[derive(Default)]
pub struct Retries {
    failures: u32,
    said: String,
}

impl Retries {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    /// The wait before try number `failures + 1`.
    fn delay(failures: u32) -> Duration {
        let doubled = Self::FIRST.saturating_mul(1 << failures.saturating_sub(1).min(16));
        doubled.min(Self::MAX)
    }

    /// Says `failure` (in full when it differs from the last one said),
    /// then waits, unless a stop is asked for.
    pub fn wait(&mut self, failure: &str) -> Result<(), Stop> {
        self.failures += 1;
        let delay = Self::delay(self.failures);
        let next = format!(
            "try {}, next in {} ms",
            self.failures + 1,
            delay.as_millis()
        );
        if self.said == failure {
            warn!("the same again; {next}");
        } else {
            warn!("{failure}; {next}");
            failure.clone_into(&mut self.said);
        }
        signals::sleep_unless_stopped(delay)
    }

    /// A command was answered: the run of failures is over.
    pub fn succeeded(&mut self) {
        *self = Retries::default();
    }
}

#[cfg(test)]
#[path = "../tests/unit/connection.rs"]
mod tests;
