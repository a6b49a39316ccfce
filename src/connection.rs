//! A connection to the Redis node that holds our keys ([`Connection`]): the
//! one type through which the web, the consumer, `consumer --reliable` and
//! the subscriber talk to Redis. It finds the node (the URL's host, the
//! primary the sentinels name, or the node of a cluster that holds the
//! queue's slot), connects within a bound, runs a command once
//! and, when that fails, says what happened as a [`Failure`]: whether the
//! command may have run, and whether the node must be looked for again.
//!
//! The programs differ only in the policy they open it with:
//!
//! - [`Connection::bounded`], the web's: every command answers by the
//!   click's deadline and is sent once at most; a kept connection that sat
//!   idle is checked with `PING` first, so a dead one is replaced before
//!   anything is written on it.
//! - [`Connection::wait_for_redis`], the workers': a failure is said, waited
//!   out with a capped `Backoff` and followed by a new connection, for as
//!   long as Redis is away, unless a stop is asked for.
//!
//! The original opened one connection at start and let any error end the
//! program.

use std::time::{Duration, Instant};

use log::{debug, info, warn};
use redis::{Commands, PubSub, RedisResult};

use crate::connect::{self, CONNECT_TIMEOUT};
use crate::exit::Stop;
use crate::failure::{Failure, What};
use crate::signals;
use crate::target::{Finder, Target, show_addr};
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

/// A connection to the node that holds our keys, opened again after a
/// failure; see the module doc for the two policies.
pub struct Connection {
    target: Target,
    policy: Policy,
    rcon: Option<redis::Connection>,
    /// Where `rcon` goes, or went last (`host:port`).
    node: String,
    /// The sentinels' switches of primary counted when `rcon` was opened.
    switches: u64,
    last_used: Instant,
    /// The web's: the write timeout now set on `rcon`.
    bound: Option<Duration>,
    /// The workers': waits between commands that Redis keeps refusing.
    refusals: Backoff,
    last_refusal: Option<Instant>,
    /// A subscription was made on `rcon`: it ends only when the connection
    /// is lost, so the next one needs a new connection.
    subscribed: bool,
    /// The connection the last command went out on after an `ASK`: only
    /// there can `WAIT` confirm it.
    asked: Option<redis::Connection>,
}

enum Policy {
    /// By this deadline, sent once at most.
    Bounded { deadline: Instant },
    /// Until Redis is back; this read timeout on every connection.
    Patient { read_timeout: Option<Duration> },
}

impl Connection {
    /// The web's connection: nothing is opened until the first command, and
    /// each command answers by the deadline given with
    /// [`answer_by`](Self::answer_by).
    pub fn bounded(target: Target) -> Connection {
        Connection::new(
            target,
            Policy::Bounded {
                deadline: Instant::now(),
            },
        )
    }

    /// A worker's connection, opened now: waits (and says so) until Redis
    /// answers; [`Stop::Asked`] when a stop is asked for meanwhile.
    pub fn wait_for_redis(
        target: Target,
        read_timeout: Option<Duration>,
    ) -> Result<Connection, Stop> {
        let mut rcon = Connection::new(target, Policy::Patient { read_timeout });
        rcon.reconnect_until_redis_answers()?;
        Ok(rcon)
    }

    /// One try to reach Redis, for a setting that only Redis can refuse: a
    /// db other than 0 on a cluster is [`Stop::Setting`]; anything else
    /// (Redis down, say) is for the first click to meet.
    pub fn check_the_db(target: &Target) -> Result<(), Stop> {
        let mut rcon = Connection::bounded(target.clone());
        rcon.answer_by(Instant::now() + CONNECT_TIMEOUT);
        match rcon.live() {
            Err(failure) if failure.what == What::ClusterHasOnlyDb0 => {
                Err(Stop::Setting(failure.to_string()))
            }
            _ => Ok(()),
        }
    }

    fn new(target: Target, policy: Policy) -> Connection {
        if let Finder::Sentinels(sentinels) = &target.finder {
            sentinel::follow_switches(&target, sentinels);
        }
        Connection {
            target,
            policy,
            rcon: None,
            node: String::new(),
            switches: 0,
            last_used: Instant::now(),
            bound: None,
            refusals: Backoff::new(),
            last_refusal: None,
            subscribed: false,
            asked: None,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The node the kept connection goes to, if there is one (with
    /// Sentinel: the primary it was named as).
    pub fn node(&self) -> Option<&str> {
        self.rcon.as_ref().map(|_| self.node.as_str())
    }

    /// Sets when the next commands must be answered (each click's bound).
    pub fn answer_by(&mut self, deadline: Instant) {
        if let Policy::Bounded { deadline: d } = &mut self.policy {
            *d = deadline;
        }
    }

    /// Forgets the kept connection (after a panic, it may be half-way
    /// through a reply).
    pub fn reset(&mut self) {
        self.rcon = None;
    }

    /// Runs `command` once on a live connection. After a failure the
    /// connection is replaced when it cannot carry another command, and the
    /// [`Failure`] says whether the command may have run.
    ///
    /// On a Redis Cluster, a node that does not hold our keys answers
    /// `MOVED` (the command did not run there): the command goes to the node
    /// named, which is kept; `ASK` (the slot is moving) sends it once to the
    /// node named, after `ASKING`. With Sentinel, a node no longer the
    /// primary (`READONLY`) did not run it either: it goes to the primary.
    pub fn run<T>(
        &mut self,
        mut command: impl FnMut(&mut redis::Connection) -> RedisResult<T>,
    ) -> Result<T, Failure> {
        self.asked = None;
        for _ in 0..3 {
            let rcon = self.live()?;
            let result = command(rcon);
            self.last_used = Instant::now();
            let e = match result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            match (e.code(), redirect(&e, &self.node)) {
                (Some("MOVED"), Some(node)) => {
                    self.target.cluster.held_by(Some(node));
                    self.rcon = None;
                }
                (Some("ASK"), Some((host, port))) => return self.run_asking(&host, port, command),
                _ => {
                    let failure = self.failure(&e, true);
                    if failure.ends_the_connection() {
                        self.rcon = None;
                    }
                    // With Sentinel the node was demoted (a failover): the
                    // command did not run, so it goes to the primary found now.
                    if !matches!(failure.what, What::NotPrimary(_)) || !self.target.uses_sentinel()
                    {
                        return Err(failure);
                    }
                }
            }
        }
        Err(Failure::new(What::NoPrimaryYet, &self.target.to_string()))
    }

    /// `ASKING`, then `command`, on a connection of its own to the node a
    /// slot is moving to, opened within the policy's bound.
    fn run_asking<T>(
        &mut self,
        host: &str,
        port: u16,
        mut command: impl FnMut(&mut redis::Connection) -> RedisResult<T>,
    ) -> Result<T, Failure> {
        let (deadline, read_timeout) = self.connect_bound();
        // The web's bound is the click's, for the command too.
        let read_timeout = match self.policy {
            Policy::Bounded { deadline } => connect::time_left(deadline).ok(),
            Policy::Patient { .. } => read_timeout,
        };
        let info = self.target.node_info(host, port).map_err(|e| self.failure(&e, false))?;
        let mut rcon = connect::open(info, &self.target.to_string(), deadline, read_timeout)?;
        if let Policy::Bounded { deadline } = self.policy {
            rcon.set_read_deadline(Some(deadline));
        }
        redis::cmd("ASKING")
            .query::<()>(&mut rcon)
            .map_err(|e| self.failure(&e, false))?;
        let done = command(&mut rcon).map_err(|e| self.failure(&e, true))?;
        self.asked = Some(rcon);
        Ok(done)
    }

    /// A worker's command: runs `command` once, whose `None` means "nothing
    /// this time" (no element within [`WAIT`]). When it fails, says why,
    /// waits and connects again ([`wait_then_reconnect`]) and returns
    /// `None` too: the caller's loop simply goes round again.
    ///
    /// [`wait_then_reconnect`]: Self::wait_then_reconnect
    pub fn run_or_reconnect<T>(
        &mut self,
        command: impl FnMut(&mut redis::Connection) -> RedisResult<Option<T>>,
    ) -> Result<Option<T>, Stop> {
        match self.run(command) {
            Ok(value) => Ok(value),
            Err(failure) => {
                self.wait_then_reconnect(&failure)?;
                Ok(None)
            }
        }
    }

    /// After a failed command of a worker: says what went wrong and connects
    /// again. When Redis answered with an error (say the key holds a
    /// string), it first waits, longer each time while Redis keeps refusing,
    /// so a command that keeps failing never turns into a busy loop.
    pub fn wait_then_reconnect(&mut self, failure: &Failure) -> Result<(), Stop> {
        if failure.is_unreachable() {
            warn!("{}", failure.for_a_worker());
        } else {
            // A refusal long after the last one starts the waits over.
            if self.last_refusal.is_some_and(|t| t.elapsed() > Duration::from_secs(30)) {
                self.refusals = Backoff::new();
            }
            self.last_refusal = Some(Instant::now());
            let delay = self.refusals.next_delay();
            warn!("{failure}; trying again in {} ms", delay.as_millis());
            signals::sleep_unless_stopped(delay)?;
        }
        self.rcon = None;
        self.reconnect_until_redis_answers()
    }

    /// Puts an element that could not be printed back where `BLPOP` took
    /// it, the head of `queue`.
    pub fn give_back(&mut self, queue: &str, task: &[u8]) {
        if let Err(failure) = self.run(|rcon| rcon.lpush::<_, _, ()>(queue, task)) {
            warn!("could not put the element back ({failure}): it is lost");
        }
    }

    /// `ps = rcon.pubsub()` and `ps.subscribe(channel)`, on a connection of
    /// its own: a new one when an earlier subscription ended (a
    /// subscription ends only when its connection is lost). `None` when
    /// Redis refused the `SUBSCRIBE` or the connection broke; it is said,
    /// waited out like a refused command, and the next call tries again.
    pub(crate) fn subscribe(&mut self, channel: &str) -> Result<Option<PubSub<'_>>, Stop> {
        if self.subscribed {
            warn!(
                "anything published until we are subscribed again is missed (pub/sub keeps nothing)"
            );
            self.rcon = None;
            self.reconnect_until_redis_answers()?;
        }
        self.subscribed = true;
        let at = self.shown(&self.node);
        let Connection {
            rcon,
            target,
            refusals,
            ..
        } = self;
        let Some(rcon) = rcon.as_mut() else {
            return Ok(None);
        };
        let mut ps = rcon.as_pubsub();
        match ps.subscribe(channel) {
            Ok(()) => {
                info!("subscribed to {channel} at {at}");
                Ok(Some(ps))
            }
            Err(e) => {
                drop(ps);
                let failure = Failure::from_redis(&e, &target.to_string(), true, false);
                let delay = refusals.next_delay();
                warn!(
                    "{}; trying again in {} ms",
                    failure.for_a_worker(),
                    delay.as_millis()
                );
                signals::sleep_unless_stopped(delay)?;
                Ok(None)
            }
        }
    }

    /// With replicas (Sentinel): waits, within what is left of the click's
    /// time, until at least one replica has every write made so far on this
    /// connection (`WAIT 1`). `None` without replicas; otherwise how many
    /// replicas confirmed, 0 when none did in time or when the answer did
    /// not come. Always on the connection the write went out on: `WAIT` on
    /// another would confirm nothing.
    pub fn confirm_on_a_replica(&mut self) -> Option<usize> {
        if !self.target.has_replicas() {
            return None;
        }
        let Policy::Bounded { deadline } = self.policy else {
            return None;
        };
        // WAIT must answer before the connection's read timeout (the time
        // left) runs out, so it gets that less a margin for the round trip.
        let left = connect::time_left(deadline).unwrap_or_default();
        let wait_ms = left.saturating_sub(Duration::from_millis(100)).as_millis() as u64;
        // The connection the push went out on, as it is: never a new one.
        let mut asked = self.asked.take();
        let Some(rcon) = asked.as_mut().or(self.rcon.as_mut()) else {
            return Some(0);
        };
        if wait_ms == 0 {
            return Some(0);
        }
        let confirmed = redis::cmd("WAIT").arg(1).arg(wait_ms).query(rcon);
        self.last_used = Instant::now();
        confirmed.map_or_else(
            |e| {
                if e.code().is_some() {
                    // Refused (an ACL user without +wait): said, as every
                    // push will answer 202 until that is fixed.
                    warn!("{}; the push is not confirmed", self.failure(&e, false));
                } else {
                    debug!("WAIT got no answer ({e}); the push is not confirmed");
                    if asked.is_none() {
                        self.rcon = None;
                    }
                }
                Some(0)
            },
            Some,
        )
    }

    /// The kept connection, or a new one: checked first if the web's sat
    /// idle; opened again after the sentinels switched the primary.
    fn live(&mut self) -> Result<&mut redis::Connection, Failure> {
        if self.rcon.is_some() && self.switches != sentinel::switches() {
            debug!("the sentinels switched the primary: looking for it again");
            self.rcon = None;
        }
        let bounded = matches!(self.policy, Policy::Bounded { .. });
        if bounded && self.rcon.is_some() && self.last_used.elapsed() > CHECK_AFTER {
            self.bound()?;
            if let Some(rcon) = self.rcon.as_mut() {
                match redis::cmd("PING").query::<()>(rcon) {
                    Ok(()) => {}
                    // Closed while idle: open another, below.
                    Err(e) if e.is_connection_dropped() && !e.is_timeout() => {
                        debug!("kept Redis connection was closed ({e}); opening a new one");
                        self.rcon = None;
                    }
                    Err(e) => {
                        self.rcon = None;
                        return Err(self.failure(&e, false));
                    }
                }
            }
        }
        if self.rcon.is_none() {
            let (rcon, node) = self.open()?;
            self.keep(rcon, node);
        }
        if bounded {
            self.bound()?;
        }
        self.last_used = Instant::now();
        self.rcon
            .as_mut()
            .ok_or_else(|| Failure::new(What::NoAnswer, &self.target.to_string()))
    }

    /// Keeps `rcon`, a new connection to `node`; says so and returns true
    /// when that is not the node of the last one.
    fn keep(&mut self, rcon: redis::Connection, node: String) -> bool {
        let was = std::mem::replace(&mut self.node, node);
        self.rcon = Some(rcon);
        self.bound = None;
        let moved = !was.is_empty() && was != self.node;
        if moved {
            let at = self.shown(&self.node);
            warn!("moved to a new primary: connected to Redis at {at}; was {was}");
        }
        moved
    }

    /// Finds the node and opens a connection to it, within the policy's
    /// bound for one connect.
    fn open(&mut self) -> Result<(redis::Connection, String), Failure> {
        let (deadline, read_timeout) = self.connect_bound();
        self.switches = sentinel::switches();
        let cluster = &self.target.cluster;
        let ((host, port), sentinels) = match &self.target.finder {
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
        let opened = self.open_node(&host, port, deadline, read_timeout, sentinels);
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

    /// The bound of one connect, and the read timeout it keeps (the web's
    /// is set again for each command, by [`bound`](Self::bound)).
    fn connect_bound(&self) -> (Instant, Option<Duration>) {
        match self.policy {
            Policy::Bounded { deadline } => {
                let by = deadline.min(Instant::now() + CONNECT_TIMEOUT);
                (
                    by,
                    Some(
                        by.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)),
                    ),
                )
            }
            Policy::Patient { read_timeout } => (Instant::now() + CONNECT_TIMEOUT, read_timeout),
        }
    }

    /// A connection to the node at `host:port`, checked with `ROLE` to be
    /// a primary where there are replicas (the Sentinel client spec's check).
    fn open_node(
        &self,
        host: &str,
        port: u16,
        deadline: Instant,
        read_timeout: Option<Duration>,
        sentinels: bool,
    ) -> Result<(redis::Connection, String), Failure> {
        let shown = self.shown(&show_addr(host, port));
        let with = |e: &redis::RedisError| Failure::from_redis(e, &shown, false, sentinels);
        let info = self.target.node_info(host, port).map_err(|e| with(&e))?;
        let mut rcon = connect::open(info, &shown, deadline, read_timeout).map_err(|mut f| {
            if let What::Password { with_sentinel, .. } = &mut f.what {
                *with_sentinel = sentinels;
            }
            f
        })?;
        if !self.target.cluster.asked.load(std::sync::atomic::Ordering::Relaxed) {
            // Once per program: a cluster's node says so, and then a push is
            // confirmed on a replica (a user without INFO: taken as not).
            let info: String =
                redis::cmd("INFO").arg("cluster").query(&mut rcon).unwrap_or_default();
            self.target.cluster.learn(&info);
            if self.target.cluster.is_cluster() {
                cluster::remember_nodes(&self.target, &mut rcon, host);
                // Straight on to the slot's holder: the subscriber too, so
                // that it is where the web publishes and counts subscribers.
                if let Some((h, p)) = self.target.cluster.holder()
                    && (h != host || p != port)
                {
                    return self.open_node(&h, p, deadline, read_timeout, sentinels);
                }
            }
        }
        if self.target.has_replicas() {
            // The node named is the primary now.
            let role: Vec<redis::Value> =
                redis::cmd("ROLE").query(&mut rcon).map_err(|e| with(&e))?;
            if !matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master") {
                return Err(Failure::new(What::NoPrimaryYet, &shown));
            }
        }
        Ok((rcon, show_addr(host, port)))
    }

    /// A worker's connect, retried with the capped backoff until Redis
    /// answers or a stop is asked for; one line for each failed try, and
    /// one when it answers.
    fn reconnect_until_redis_answers(&mut self) -> Result<(), Stop> {
        let mut backoff = Backoff::new();
        let mut failures = 0u32;
        self.rcon = None;
        self.subscribed = false;
        loop {
            match self.open() {
                Ok((rcon, node)) => {
                    let at = self.shown(&node);
                    match (self.keep(rcon, node), failures) {
                        (true, _) => {} // said: moved to a new primary
                        (false, 0) => info!("connected to Redis at {at}"),
                        (false, _) => {
                            warn!("connected to Redis at {at} after {failures} failed tries")
                        }
                    }
                    return Ok(());
                }
                Err(failure) if failure.what == What::ClusterHasOnlyDb0 => {
                    return Err(Stop::Setting(failure.to_string()));
                }
                Err(failure) => {
                    failures += 1;
                    let delay = backoff.next_delay();
                    warn!(
                        "{failure}; try {failures}, next in {} ms",
                        delay.as_millis()
                    );
                    signals::sleep_unless_stopped(delay)?;
                }
            }
        }
    }

    /// `node` and how it was found: `127.0.0.1:6379 (db 1)`; with
    /// Sentinel `127.0.0.1:6380, the primary of "mq" per the sentinels ...`;
    /// on a cluster `127.0.0.1:7000, which holds the queue's slot of the
    /// cluster at 127.0.0.1:7001 (db 0)`, or `127.0.0.1:7001 (db 0), which
    /// holds ...` when that is the URL's node.
    fn shown(&self, node: &str) -> String {
        let target = &self.target;
        if target.uses_sentinel() {
            return format!("{node}, {target}");
        } else if !target.cluster.is_cluster() {
            return target.to_string();
        }
        let holds = target.cluster.holder().is_some_and(|(h, p)| show_addr(&h, p) == node);
        let which = if holds {
            "which holds the queue's slot"
        } else {
            "a node"
        };
        let (host, port) = target.url_node();
        if show_addr(host, port) == node {
            format!("{target}, {which} of the cluster")
        } else {
            format!("{node}, {which} of the cluster at {target}")
        }
    }

    /// `e`, which Redis gave while connected, as a [`Failure`].
    fn failure(&self, e: &redis::RedisError, sent: bool) -> Failure {
        Failure::from_redis(
            e,
            &self.target.to_string(),
            sent,
            self.target.uses_sentinel(),
        )
    }

    /// Bounds the next command by the web's deadline: its reply must have
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

/// Waits that double from 100 ms up to 5 s: quick to recover from a blip,
/// never a busy loop during a long outage.
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    pub(crate) fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(Self::MAX);
        delay
    }
}

/// The node a `MOVED` or `ASK` names. `MOVED 3122 :7001` (no host: the
/// cluster does not know its nodes' address, as behind a load balancer)
/// means the host of the node that answered (`here`).
fn redirect(e: &redis::RedisError, here: &str) -> Option<(String, u16)> {
    let (host, port) = split_node(e.redirect_node()?.0)?;
    if host.is_empty() {
        return split_node(here).map(|(here, _)| (here, port));
    }
    Some((host, port))
}

/// `host:port` (`[::1]:6379` too) as a host and a port.
fn split_node(node: &str) -> Option<(String, u16)> {
    let (host, port) = node.rsplit_once(':')?;
    Some((
        host.trim_start_matches('[').trim_end_matches(']').to_owned(),
        port.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_to_5_s() {
        let mut backoff = Backoff::new();
        let delays: Vec<u128> = (0..9).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    }

    #[test]
    fn a_redirect_names_a_host_and_port() {
        assert_eq!(
            split_node("127.0.0.1:7000"),
            Some(("127.0.0.1".into(), 7000))
        );
        assert_eq!(split_node("[::1]:7000"), Some(("::1".into(), 7000)));
        assert_eq!(split_node("nowhere"), None);
        let moved = |to: &str| {
            redis::RedisError::from((
                redis::ErrorKind::Server(redis::ServerErrorKind::Moved),
                "moved",
                format!("3122 {to}"),
            ))
        };
        assert_eq!(
            redirect(&moved("10.0.0.2:7002"), "10.0.0.1:7000"),
            Some(("10.0.0.2".into(), 7002))
        );
        assert_eq!(
            redirect(&moved(":7002"), "10.0.0.1:7000"),
            Some(("10.0.0.1".into(), 7002))
        );
    }
}
