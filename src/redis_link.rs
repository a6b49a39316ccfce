//! Defences around the Redis connection: where Redis is, timeouts,
//! reconnects, backoff, and saying exactly what happened.
//!
//! The original opened one connection at start and let any error end the
//! program. Here:
//! - [`RedisTarget`] is the parsed `REDIS_URL`, shown without its password.
//!   It resolves the host itself, within the connect timeout (`localhost` is
//!   loopback without asking anyone, so a host with no `/etc/hosts` works).
//! - The consumer and subscriber wait out an outage with
//!   [`Reconnect`] and a capped [`Backoff`].
//! - Each web worker holds a [`Link`], whose [`Link::run`] knows whether a
//!   failed command may have reached Redis, and so whether a click may be
//!   retried or must be reported as "may or may not have happened".

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use crate::stop;
use redis::io::tcp::TcpSettings;
use redis::{Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisError, RedisResult};

use redis::Connection;

/// How long a connect (name lookup, TCP, then AUTH and SELECT) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Where Redis is, and how to show that without the password.
#[derive(Clone)]
pub struct RedisTarget {
    info: ConnectionInfo,
    host: String,
    port: u16,
    shown: String,
}

impl RedisTarget {
    /// Parses a `redis://` URL. Nothing is connected or resolved yet.
    pub fn open(url: &str) -> RedisResult<RedisTarget> {
        let info = url.into_connection_info()?;
        let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
            return Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "only redis:// (TCP, no TLS) is supported",
            )));
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let db = info.redis_settings().db();
        // An IPv6 address is shown as [::1]:6379, so the port stands apart.
        let shown = if host.contains(':') {
            format!("[{host}]:{port} (db {db})")
        } else {
            format!("{host}:{port} (db {db})")
        };
        // One small command per request: send it now rather than let Nagle wait.
        let info = info.set_tcp_settings(TcpSettings::default().set_nodelay(true));
        Ok(RedisTarget {
            info,
            host,
            port,
            shown,
        })
    }

    /// Opens a connection. `timeout` bounds the name lookup, the connect and
    /// the handshake (AUTH, SELECT) each; `read_timeout` then stays on the
    /// connection (`None`: wait for ever).
    pub fn connect(
        &self,
        timeout: Duration,
        read_timeout: Option<Duration>,
    ) -> RedisResult<Connection> {
        let addr = self.resolve(timeout)?;
        let info = self
            .info
            .clone()
            .set_addr(ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()));
        let rcon = Client::open(info)?.get_connection_with_timeout(timeout)?;
        rcon.set_read_timeout(read_timeout)?;
        rcon.set_write_timeout(Some(timeout.max(Duration::from_secs(1))))?;
        Ok(rcon)
    }

    /// The first address of the host, within `timeout`. `localhost` is
    /// 127.0.0.1 without a lookup (RFC 6761): a host with nothing in `/etc`
    /// still finds a local Redis. Other names are looked up on a helper
    /// thread, because the system's lookup has no timeout of its own.
    fn resolve(&self, timeout: Duration) -> RedisResult<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        if self.host.eq_ignore_ascii_case("localhost") {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port));
        }
        let (tell, told) = mpsc::channel();
        let name = (self.host.clone(), self.port);
        thread::spawn(move || {
            let _ = tell.send(name.to_socket_addrs().map(|mut a| a.next()));
        });
        let failed = |why: String| {
            RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("cannot resolve host {:?}: {why}", self.host),
            ))
        };
        match told.recv_timeout(timeout) {
            Ok(Ok(Some(addr))) => Ok(addr),
            Ok(Ok(None)) => Err(failed("no address".into())),
            Ok(Err(e)) => Err(failed(e.to_string())),
            Err(_) => Err(failed(format!("no answer within {timeout:?}"))),
        }
    }

    /// One sentence that says what went wrong in Redis's own words: not
    /// reachable, a refused password, a missing permission, a bad db.
    pub fn describe(&self, e: &RedisError) -> String {
        if is_unreachable(e) {
            format!("cannot reach Redis at {self}: {e}")
        } else if e.kind() == redis::ErrorKind::AuthenticationFailed {
            format!("Redis at {self} refused the password: {e}")
        } else {
            format!("Redis at {self} answered with an error: {e}")
        }
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// How long one `BLPOP` (or `BLMOVE`) of the consumer waits in Redis before
/// its loop looks at the stop flag again.
pub const WAIT: Duration = Duration::from_secs(2);

/// The consumer's and subscriber's read timeout. Longer than [`WAIT`] by a
/// margin, because redis-rs drops a reply that arrives after a read timeout
/// (with it the element BLPOP had already taken); short enough that a
/// connection the network silently lost is noticed within about 12 s.
pub const WORKER_READ_TIMEOUT: Duration = Duration::from_secs(12);

/// How the consumer and subscriber get (and get back) a connection: they
/// wait out an outage with a capped [`Backoff`], one log line per failed
/// try and one when Redis answers again.
pub struct Reconnect {
    target: RedisTarget,
    read_timeout: Option<Duration>,
    /// Waits between commands that Redis keeps refusing.
    refusals: Backoff,
    last_refusal: Option<Instant>,
}

impl Reconnect {
    pub fn new(target: RedisTarget, read_timeout: Option<Duration>) -> Reconnect {
        Reconnect {
            target,
            read_timeout,
            refusals: Backoff::new(),
            last_refusal: None,
        }
    }

    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// A connection, however long Redis takes to answer.
    pub fn first(&self) -> Connection {
        let mut backoff = Backoff::new();
        let mut failures = 0u32;
        loop {
            match self.target.connect(CONNECT_TIMEOUT, self.read_timeout) {
                Ok(rcon) => {
                    if failures == 0 {
                        info!("connected to Redis at {}", self.target);
                    } else {
                        warn!(
                            "connected to Redis at {} after {failures} failed tries",
                            self.target
                        );
                    }
                    return rcon;
                }
                Err(e) => {
                    failures += 1;
                    let delay = backoff.next_delay();
                    warn!(
                        "{}; try {failures}, next in {} ms",
                        self.target.describe(&e),
                        delay.as_millis()
                    );
                    stop::sleep_unless_asked(delay);
                }
            }
        }
    }

    /// After a failed command: says what went wrong and connects again.
    /// When Redis answered with an error (say the key holds a string), it
    /// first waits, longer each time while Redis keeps refusing, so a
    /// command that keeps failing never turns into a busy loop.
    pub fn after(&mut self, e: &RedisError) -> Connection {
        if is_unreachable(e) {
            warn!("lost the connection to Redis at {}: {e}", self.target);
        } else {
            // A refusal long after the last one starts the waits over.
            if self
                .last_refusal
                .is_some_and(|t| t.elapsed() > Duration::from_secs(30))
            {
                self.refusals = Backoff::new();
            }
            self.last_refusal = Some(Instant::now());
            let delay = self.refusals.next_delay();
            warn!(
                "{}; trying again in {} ms",
                self.target.describe(e),
                delay.as_millis()
            );
            stop::sleep_unless_asked(delay);
        }
        self.first()
    }
}

/// True when the error means "no answer from Redis" (down, unreachable, too
/// slow) rather than "Redis answered with an error".
pub fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// Waits that double from 100 ms up to 5 s: quick to recover from a blip,
/// never a busy loop during a long outage.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(Self::MAX);
        delay
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

/// Why [`Link::run`] has no value for the caller.
#[derive(Debug)]
pub enum Failure {
    /// Nothing reached Redis: it is down, unreachable, or too slow to answer
    /// a PING or a connect. The command did not run.
    NotSent(RedisError),
    /// The command was sent and no answer came (a timeout, or the connection
    /// closed): it may or may not have run.
    MaybeSent(RedisError),
    /// Redis answered with an error (a wrong key type, a refused password,
    /// a missing permission): the command did not run.
    Refused(RedisError),
}

/// A connection kept longer than this without use is checked with PING
/// before it carries a command, so a connection that Redis closed meanwhile
/// (a restart, an idle timeout) is replaced before anything is sent on it.
/// Under load a worker is never idle this long, so the check costs nothing
/// there; a person's clicks are always further apart.
const CHECK_AFTER: Duration = Duration::from_millis(10);

/// One web worker's connection: opened on first use, checked after an idle
/// spell, dropped after an error and opened again on the next request.
pub struct Link {
    target: RedisTarget,
    rcon: Option<Connection>,
    last_used: Instant,
    /// When the request being answered must have its answer.
    deadline: Instant,
    /// The read and write timeout now set on `rcon`.
    timeout: Option<Duration>,
}

impl Link {
    pub fn new(target: RedisTarget) -> Link {
        Link {
            target,
            rcon: None,
            last_used: Instant::now(),
            deadline: Instant::now(),
            timeout: None,
        }
    }

    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// Sets when the next commands must be answered (each request's bound).
    pub fn answer_by(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// Forgets the connection (after a panic, it may be half-way through a reply).
    pub fn reset(&mut self) {
        self.rcon = None;
    }

    /// Runs `command` on a live connection, answering by the deadline.
    ///
    /// A command is sent once at most, so a click is never pushed twice: a
    /// new connection is opened (and the kept one replaced) only when the
    /// kept one fails its PING, before the command is written. Once the
    /// command is written, a lost connection or a timeout is
    /// [`Failure::MaybeSent`], never retried.
    pub fn run<T>(
        &mut self,
        command: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Failure> {
        self.live()?;
        self.bound().map_err(Failure::NotSent)?;
        let Some(rcon) = self.rcon.as_mut() else {
            return Err(Failure::NotSent(timed_out("no connection")));
        };
        let result = command(rcon);
        self.last_used = Instant::now();
        result.map_err(|e| {
            if is_unreachable(&e) {
                self.rcon = None;
                Failure::MaybeSent(e)
            } else {
                Failure::Refused(e)
            }
        })
    }

    /// Makes `self.rcon` the kept connection, checked if it sat idle, or a
    /// new one.
    fn live(&mut self) -> Result<(), Failure> {
        if self.rcon.is_some() && self.last_used.elapsed() > CHECK_AFTER {
            self.bound().map_err(Failure::NotSent)?;
            let Some(rcon) = self.rcon.as_mut() else {
                return Ok(());
            };
            match redis::cmd("PING").query::<()>(rcon) {
                Ok(()) => {}
                // Closed while idle: open another, below.
                Err(e) if e.is_connection_dropped() && !e.is_timeout() => {
                    debug!("kept Redis connection was closed ({e}); opening a new one");
                    self.rcon = None;
                }
                Err(e) => {
                    self.rcon = None;
                    return Err(if is_unreachable(&e) {
                        Failure::NotSent(e)
                    } else {
                        Failure::Refused(e)
                    });
                }
            }
        }
        if self.rcon.is_none() {
            let left = time_left(self.deadline).map_err(Failure::NotSent)?;
            let rcon = self
                .target
                .connect(left.min(CONNECT_TIMEOUT), None)
                .map_err(|e| {
                    if is_unreachable(&e) {
                        Failure::NotSent(e)
                    } else {
                        Failure::Refused(e)
                    }
                })?;
            self.rcon = Some(rcon);
            self.timeout = None;
        }
        self.last_used = Instant::now();
        Ok(())
    }

    /// Bounds the next command by the deadline: its read and write timeout
    /// is what is left. Under load every request has about the same time
    /// left, so the timeout is set again (two system calls) only when it is
    /// off by more than 50 ms.
    fn bound(&mut self) -> RedisResult<()> {
        let left = time_left(self.deadline)?;
        let close_enough = self
            .timeout
            .is_some_and(|t| t.abs_diff(left) <= Duration::from_millis(50));
        if let Some(rcon) = self.rcon.as_ref()
            && !close_enough
        {
            rcon.set_read_timeout(Some(left))?;
            rcon.set_write_timeout(Some(left))?;
            self.timeout = Some(left);
        }
        Ok(())
    }
}

/// What is left until `deadline`, or a timeout error when nothing is.
fn time_left(deadline: Instant) -> RedisResult<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return Err(timed_out("no time left for this request"));
    }
    Ok(left)
}

fn timed_out(why: &'static str) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, why))
}
