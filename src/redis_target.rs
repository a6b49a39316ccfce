//! Where Redis is: the parsed `REDIS_URL`, shown without its password; how a
//! connection is opened within a time bound; and how its failures are put
//! in words.
//!
//! The host is resolved here, within the connect timeout (`localhost` is
//! loopback without asking anyone, so a host with no `/etc/hosts` works).
//! Over TLS (`rediss://`) the host name is what the certificate is checked
//! against, so the redis crate looks it up itself: that connect runs on a
//! helper thread, and the caller waits for it no longer than the bound.
//!
//! With Sentinel (`REDIS_SENTINELS`), the target is "the primary the
//! sentinels name", found again at every connect (`src/sentinel.rs`); the
//! URL then gives only the db, the password and whether to use TLS.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use redis::io::tcp::TcpSettings;

use crate::sentinel::{SentinelAuth, Sentinels};
use crate::tls::{self, Tls};
use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError,
    RedisResult, TlsCertificates,
};

/// How long a connect (name lookup, TCP, the TLS handshake, then AUTH and
/// SELECT) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Where Redis is, and how to show that without the password.
#[derive(Clone)]
pub struct RedisTarget {
    info: ConnectionInfo,
    host: String,
    port: u16,
    /// `Some` for `rediss://`: how to speak TLS to the node (and sentinels).
    tls: Option<Tls>,
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
        "redis" | "rediss" => None,
        "unix" | "redis+unix" => Some("Unix sockets are not supported; use redis://host:port/db"),
        "" => Some("it has no scheme; it should start with redis:// or rediss://"),
        _ => Some("only redis:// and rediss:// (TLS) URLs are supported"),
    }
}

impl RedisTarget {
    /// Parses a `redis://` or `rediss://` URL; `certs` are for TLS only
    /// (parsed here, so a bad PEM file is said at start). Nothing is
    /// connected or resolved yet.
    pub(crate) fn parse(url: &str, certs: TlsCertificates) -> RedisResult<RedisTarget> {
        let mut info = url.into_connection_info()?;
        let (host, port, tls) = match info.addr().clone() {
            ConnectionAddr::Tcp(host, port) => (host, port, None),
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                ..
            } => {
                info = Client::build_with_tls(info, certs.clone())?
                    .get_connection_info()
                    .clone();
                (host, port, Some(Tls { certs, insecure }))
            }
            _ => {
                return Err(RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "only redis:// and rediss:// are supported",
                )));
            }
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
            tls,
            shown,
            sentinels: None,
        })
    }

    /// True for `rediss://...#insecure`: TLS with no certificate check.
    pub(crate) fn skips_the_certificate_check(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| tls.insecure)
    }

    /// Says at start, as a warning, that `#insecure` turned the check off.
    pub(crate) fn warn_if_unchecked(&self) {
        if self.skips_the_certificate_check() {
            log::warn!(
                "REDIS_URL ends in #insecure: the TLS certificate of Redis is NOT checked; \
                 anyone on the way can read and change what is sent, the password too"
            );
        }
    }

    /// The same db and password, on whichever node the sentinels at `addrs`
    /// name as the primary of `master`.
    pub(crate) fn through_sentinels(
        mut self,
        addrs: Vec<(String, u16)>,
        master: &str,
        auth: SentinelAuth,
    ) -> RedisTarget {
        let sentinels = Sentinels::new(addrs, master, auth, self.tls.clone());
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
            // Over TLS the certificate is checked against the host as given:
            // an address needs no lookup, a name is looked up by the redis
            // crate (on a helper thread, below).
            None if self.tls.is_some() => (self.info.clone(), show_addr(&self.host, self.port)),
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
        let client = Client::open(info)?;
        let rcon = match client.get_connection_info().addr() {
            ConnectionAddr::TcpTls { host, .. } if host.parse::<IpAddr>().is_err() => {
                connect_on_a_helper(client, left).map_err(|e| tls::while_connecting(e, true))?
            }
            ConnectionAddr::TcpTls { .. } => client
                .get_connection_with_timeout(left)
                .map_err(|e| tls::while_connecting(e, true))?,
            _ => client
                .get_connection_with_timeout(left)
                .map_err(|e| tls::while_connecting(e, false))?,
        };
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

    /// True when `e` says the TLS settings do not fit this Redis: a
    /// certificate refused either way, or TLS spoken to one side only.
    pub(crate) fn is_tls_mismatch(&self, e: &RedisError) -> bool {
        tls::failure(e).is_some() && !e.is_timeout()
    }

    /// One sentence that says what went wrong: not reachable; Redis's own
    /// refusal in its words (a password, a permission, a bad db); or what
    /// this program could not make of Redis's answer.
    pub(crate) fn describe(&self, e: &RedisError) -> String {
        if let Some(why) = tls::failure(e) {
            format!("cannot reach Redis at {self}: {why}")
        } else if e.kind() == ErrorKind::MasterNameNotFoundBySentinel {
            format!(
                "Redis at {self}: the sentinels name no primary yet (a failover takes a few seconds)"
            )
        } else if e.is_timeout() {
            format!("Redis at {self} did not answer in time (it may be busy or stopped)")
        } else if is_unreachable(e) {
            format!("cannot reach Redis at {self}: {e}")
        } else if self.sentinels.is_some()
            && (e.kind() == ErrorKind::AuthenticationFailed
                || matches!(e.code(), Some("NOAUTH" | "WRONGPASS")))
        {
            // A sentinel or a node: the error does not say which.
            format!(
                "Redis at {self} refused the password: {} (with Sentinel the nodes' password is REDIS_URL's, the sentinels' own REDIS_SENTINEL_PASSWORD)",
                redis_words(e)
            )
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

/// A connect whose redis crate part (name lookup, TCP, TLS, AUTH, SELECT)
/// runs on its own thread, waited for at most `timeout`: the crate's name
/// lookup has no bound (the system's has none), the rest has `timeout`.
/// A lookup that hangs ends on its own later, and its thread with it.
fn connect_on_a_helper(client: Client, timeout: Duration) -> RedisResult<Connection> {
    let (tell, told) = mpsc::channel();
    thread::spawn(move || {
        let _ = tell.send(client.get_connection_with_timeout(timeout));
    });
    told.recv_timeout(timeout + Duration::from_millis(50))
        .unwrap_or_else(|_| Err(timed_out("no answer within the connect timeout")))
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
        let none = || TlsCertificates {
            client_tls: None,
            root_cert: None,
        };
        let target =
            RedisTarget::parse("redis://:hunter2@example.org:6380/3", none()).expect("parse");
        assert_eq!(target.to_string(), "example.org:6380 (db 3)");
        let tls = RedisTarget::parse("rediss://:hunter2@example.org/1", none()).expect("parse");
        assert_eq!(tls.to_string(), "example.org:6379 (db 1)");
        let v6 = RedisTarget::parse("redis://[::1]:6379/1", none()).expect("parse");
        assert_eq!(v6.to_string(), "[::1]:6379 (db 1)");
    }

    #[test]
    fn names_what_is_unsupported() {
        assert_eq!(unsupported("redis://localhost/1"), None);
        assert_eq!(unsupported("rediss://h/1"), None);
        assert!(unsupported("unix:///run/redis.sock").is_some_and(|w| w.contains("Unix")));
        assert!(unsupported("redis+unix:///x").is_some_and(|w| w.contains("Unix")));
        assert!(unsupported("http://h/").is_some_and(|w| w.contains("only redis://")));
        assert!(unsupported("localhost:6379").is_some_and(|w| w.contains("no scheme")));
    }
}
