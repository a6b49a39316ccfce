//! Where Redis is: the parsed `REDIS_URL`, shown without its password; how a
//! connection is opened within a time bound; and how its failures are put
//! in words.
//!
//! The host is resolved here, within the connect timeout (`localhost` is
//! loopback without asking anyone, so a host with no `/etc/hosts` works).
//!
//! With Sentinel (`REDIS_SENTINELS`), the target is "the primary the
//! sentinels name", found again at every connect (`src/sentinel.rs`); the
//! URL then gives only the db and the password.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use redis::io::tcp::TcpSettings;

use crate::sentinel::Sentinels;
use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError,
    RedisResult,
};

/// How long a connect (name lookup, TCP, then AUTH and SELECT) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Where Redis is, and how to show that without the password.
#[derive(Clone)]
pub struct RedisTarget {
    info: ConnectionInfo,
    host: String,
    port: u16,
    shown: String,
    sentinels: Option<Sentinels>,
}

/// A connection, and the node it goes to (`host:port`): with Sentinel, the
/// primary the sentinels named this time.
pub(crate) struct Opened {
    pub rcon: Connection,
    pub node: String,
}

/// Why a `REDIS_URL` cannot be used, in words for the user.
pub(crate) fn unsupported(url: &str) -> Option<&'static str> {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "redis" => None,
        "rediss" => Some("rediss:// (TLS) is not built into this program; use redis://"),
        "unix" | "redis+unix" => Some("Unix sockets are not supported; use redis://host:port/db"),
        "" => Some("it has no scheme; it should start with redis://"),
        _ => Some("only redis:// URLs are supported"),
    }
}

impl RedisTarget {
    /// Parses a `redis://` URL. Nothing is connected or resolved yet.
    pub(crate) fn parse(url: &str) -> RedisResult<RedisTarget> {
        let info = url.into_connection_info()?;
        let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
            return Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "only redis:// (TCP, no TLS) is supported",
            )));
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let db = info.redis_settings().db();
        let shown = format!("{} (db {db})", show_addr(&host, port));
        // One small command per request: send it now rather than let Nagle wait.
        let info = info.set_tcp_settings(TcpSettings::default().set_nodelay(true));
        Ok(RedisTarget {
            info,
            host,
            port,
            shown,
            sentinels: None,
        })
    }

    /// The same db and password, on whichever node the sentinels at `addrs`
    /// name as the primary of `master`.
    pub(crate) fn through_sentinels(
        mut self,
        addrs: Vec<(String, u16)>,
        master: &str,
    ) -> RedisTarget {
        let sentinels = Sentinels::new(addrs, master);
        self.shown = sentinels.shown(self.info.redis_settings().db());
        self.sentinels = Some(sentinels);
        self
    }

    /// True when the sentinels name the node (`REDIS_SENTINELS`): there are
    /// replicas then, and a push is confirmed on one.
    pub(crate) fn uses_sentinel(&self) -> bool {
        self.sentinels.is_some()
    }

    /// Opens a connection. Without Sentinel, `timeout` bounds the whole of
    /// it: name lookup, TCP connect and the handshake (AUTH, SELECT; the
    /// patched redis crate waits once, not once per reply, see
    /// `vendor/redis/PATCHES.md`). With Sentinel it bounds each step
    /// (`Sentinels::find_primary`) rather than the sum, and a
    /// sentinel's host name is looked up by the redis crate, with no bound
    /// of ours: give the sentinels as addresses. `read_timeout` then stays
    /// on the connection (`None`: wait for ever).
    pub(crate) fn connect(
        &self,
        timeout: Duration,
        read_timeout: Option<Duration>,
    ) -> RedisResult<Connection> {
        self.open(timeout, read_timeout).map(|opened| opened.rcon)
    }

    /// [`connect`](Self::connect), saying which node it reached.
    pub(crate) fn open(
        &self,
        timeout: Duration,
        read_timeout: Option<Duration>,
    ) -> RedisResult<Opened> {
        let started = std::time::Instant::now();
        let (info, node) = match &self.sentinels {
            None => {
                let addr = self.resolve(timeout)?;
                let node = show_addr(&addr.ip().to_string(), addr.port());
                let info = self
                    .info
                    .clone()
                    .set_addr(ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()));
                (info, node)
            }
            Some(sentinels) => sentinels.find_primary(self.info.redis_settings(), timeout)?,
        };
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(timed_out("no time left to connect"));
        }
        let rcon = Client::open(info)?.get_connection_with_timeout(left)?;
        rcon.set_read_timeout(read_timeout)?;
        rcon.set_write_timeout(Some(timeout.max(Duration::from_secs(1))))?;
        Ok(Opened { rcon, node })
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

    /// One sentence that says what went wrong: not reachable; Redis's own
    /// refusal in its words (a password, a permission, a bad db); or what
    /// this program could not make of Redis's answer.
    pub(crate) fn describe(&self, e: &RedisError) -> String {
        if e.kind() == ErrorKind::MasterNameNotFoundBySentinel {
            format!(
                "Redis at {self}: the sentinels name no primary yet (a failover takes a few seconds)"
            )
        } else if e.is_timeout() {
            format!("Redis at {self} did not answer in time (it may be busy or stopped)")
        } else if is_unreachable(e) {
            format!("cannot reach Redis at {self}: {e}")
        } else if e.kind() == ErrorKind::AuthenticationFailed {
            format!("Redis at {self} refused the password: {}", redis_words(e))
        } else if is_refusal(e) {
            format!("Redis at {self} answered with an error: {}", redis_words(e))
        } else {
            format!("cannot use the answer of Redis at {self}: {e}")
        }
    }
}

/// Like `Display`: the address and db, never the password.
impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTarget({})", self.shown)
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// `host:port`; an IPv6 address as `[::1]:6379`, so the port stands apart.
pub(crate) fn show_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// True when the error means "no answer from Redis" (down, unreachable, too
/// slow) rather than "Redis answered".
pub(crate) fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.kind() == ErrorKind::MasterNameNotFoundBySentinel
}

/// True when Redis itself answered with an error (its code, such as
/// `WRONGTYPE` or `NOPERM`, or a refused password).
pub(crate) fn is_refusal(e: &RedisError) -> bool {
    e.code().is_some() || e.kind() == ErrorKind::AuthenticationFailed
}

/// Redis's error as Redis sent it (`NOPERM this user has no permissions
/// ...`), rather than as redis-rs names its kind (`NoPerm: ...`).
fn redis_words(e: &RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

pub(crate) fn timed_out(why: &'static str) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_address_and_db_never_the_password() {
        let target = RedisTarget::parse("redis://:hunter2@example.org:6380/3").expect("parse");
        assert_eq!(target.to_string(), "example.org:6380 (db 3)");
        let v6 = RedisTarget::parse("redis://[::1]:6379/1").expect("parse");
        assert_eq!(v6.to_string(), "[::1]:6379 (db 1)");
    }

    #[test]
    fn names_what_is_unsupported() {
        assert_eq!(unsupported("redis://localhost/1"), None);
        assert!(unsupported("rediss://h/1").is_some_and(|w| w.contains("TLS")));
        assert!(unsupported("unix:///run/redis.sock").is_some_and(|w| w.contains("Unix")));
        assert!(unsupported("redis+unix:///x").is_some_and(|w| w.contains("Unix")));
        assert!(unsupported("http://h/").is_some_and(|w| w.contains("only redis://")));
        assert!(unsupported("localhost:6379").is_some_and(|w| w.contains("no scheme")));
    }
}
