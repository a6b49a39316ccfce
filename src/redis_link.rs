//! Defences around the Redis connection: timeouts, reconnects and backoff.
//!
//! The original opened one connection at start and let any error end the
//! program. Here the web workers hold a [`Link`] that opens its connection
//! lazily and reopens it after an error, and the consumer and subscriber wait
//! for Redis with a capped [`Backoff`] instead of exiting or spinning.

use std::fmt;
use std::thread;
use std::time::Duration;

use log::{debug, info, warn};
use redis::io::tcp::TcpSettings;
use redis::{Client, Connection, RedisError, RedisResult};

/// Where Redis is, and how to show that without the password.
#[derive(Clone)]
pub struct RedisTarget {
    client: Client,
    shown: String,
}

impl RedisTarget {
    /// Parses a `redis://` URL. Nothing is connected yet.
    pub fn open(url: &str) -> RedisResult<RedisTarget> {
        let info = Client::open(url)?.get_connection_info().clone();
        let shown = format!("{} (db {})", info.addr(), info.redis_settings().db());
        // One small command per request: send it now rather than let Nagle wait.
        let info = info.set_tcp_settings(TcpSettings::default().set_nodelay(true));
        Ok(RedisTarget {
            client: Client::open(info)?,
            shown,
        })
    }

    /// Opens a connection. `timeout` bounds the connect and the handshake
    /// (AUTH, SELECT); the connection itself is left without read timeout.
    pub fn connect(&self, timeout: Duration) -> RedisResult<Connection> {
        self.client.get_connection_with_timeout(timeout)
    }

    /// Opens a connection, waiting out an outage with [`Backoff`]: one log
    /// line per failed try, and one when Redis answers.
    ///
    /// For the consumer and subscriber, which have nothing better to do.
    pub fn connect_until_ok(&self) -> Connection {
        let mut backoff = Backoff::new();
        let mut failures = 0u32;
        loop {
            match self.connect(CONNECT_TIMEOUT) {
                Ok(conn) => {
                    if failures == 0 {
                        info!("connected to Redis at {self}");
                    } else {
                        warn!("connected to Redis at {self} after {failures} failed tries");
                    }
                    return conn;
                }
                Err(e) => {
                    failures += 1;
                    let delay = backoff.next_delay();
                    warn!(
                        "cannot reach Redis at {self}: {e}; try {failures}, next in {} ms",
                        delay.as_millis()
                    );
                    thread::sleep(delay);
                }
            }
        }
    }

    /// After a failed command in the consumer or subscriber: says what went
    /// wrong and opens a new connection. When Redis answered with an error
    /// (say the key holds a string), it first waits `errors.next_delay()`,
    /// so a command that keeps failing never turns into a busy loop.
    pub fn reconnect_after(&self, e: &RedisError, errors: &mut Backoff) -> Connection {
        if is_unreachable(e) {
            warn!("lost the connection to Redis at {self}: {e}");
        } else {
            let delay = errors.next_delay();
            warn!(
                "Redis at {self} answered with an error: {e}; trying again in {} ms",
                delay.as_millis()
            );
            thread::sleep(delay);
        }
        self.connect_until_ok()
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// How long a connect (with AUTH and SELECT) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long one web request may wait for Redis to answer. With the connect
/// timeout this keeps a request under about 2 s while Redis is down or stuck.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// One web worker's connection: opened on first use, dropped after an error
/// and opened again on the next request.
pub struct Link {
    target: RedisTarget,
    conn: Option<Connection>,
}

impl Link {
    pub fn new(target: RedisTarget) -> Link {
        Link { target, conn: None }
    }

    /// Runs `command`, connecting first if needed.
    ///
    /// A kept connection that Redis closed while we were idle (Redis restarted,
    /// or dropped an idle client) fails before Redis reads the command, so that
    /// one case is tried once more on a new connection; the user sees the push
    /// succeed instead of a needless 503. A timeout is never retried: the
    /// command may have run.
    pub fn run<T>(
        &mut self,
        mut command: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        if let Some(conn) = self.conn.as_mut() {
            match command(conn) {
                Ok(value) => return Ok(value),
                Err(e) if e.is_connection_dropped() && !e.is_timeout() => {
                    debug!("kept Redis connection was closed ({e}); opening a new one");
                    self.conn = None;
                }
                Err(e) => {
                    self.conn = None;
                    return Err(e);
                }
            }
        }
        let mut conn = self.open()?;
        let result = command(&mut conn);
        if result.is_ok() {
            self.conn = Some(conn);
        }
        result
    }

    fn open(&self) -> RedisResult<Connection> {
        let conn = self.target.connect(CONNECT_TIMEOUT)?;
        conn.set_read_timeout(Some(COMMAND_TIMEOUT))?;
        conn.set_write_timeout(Some(COMMAND_TIMEOUT))?;
        Ok(conn)
    }

    pub fn target(&self) -> &RedisTarget {
        &self.target
    }
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

/// True when the error means "no answer from Redis" (down, unreachable, too
/// slow) rather than "Redis answered with an error".
pub fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}
