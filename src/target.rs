//! Where Redis is ([`Target`]): the parsed `REDIS_URL` (the db, the
//! password, TLS), how to find the node that holds our keys, and how to show
//! all that without the password. Nothing here connects.
//!
//! The node is found one of two ways (`Finder`): it is the URL's host, or
//! it is the primary the sentinels name (`REDIS_SENTINELS`), and the URL
//! then gives only the db, the password and whether to use TLS. Behind the
//! URL there may be a Redis Cluster: what was learnt of it (`ClusterView`)
//! is shared by every clone of the target.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use redis::io::tcp::TcpSettings;
use redis::{
    Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo, RedisResult,
    TlsCertificates,
};

use crate::failure::{Failure, printable};
use crate::tls::Tls;

/// Where Redis is, and how to show that without the password.
#[derive(Clone)]
pub struct Target {
    host: String,
    port: u16,
    /// The db, user and password the node gets.
    settings: RedisConnectionInfo,
    /// `Some` for `rediss://`: how to speak TLS to the node (and sentinels).
    tls: Option<Tls>,
    shown: String,
    pub(crate) finder: Finder,
    /// What the programs learnt of a Redis Cluster behind the URL.
    pub(crate) cluster: Arc<ClusterView>,
}

/// A Redis Cluster behind the URL, as this program has learnt it: shared by
/// every clone of the target, so by every worker. A node that answers
/// `MOVED` says it is a cluster, and which node holds the queue's slot.
#[derive(Default)]
pub(crate) struct ClusterView {
    is_cluster: AtomicBool,
    /// The URL's node was asked whether it is a cluster (`INFO cluster`).
    pub asked: AtomicBool,
    /// Where the last `MOVED` or `CLUSTER SLOTS` said our keys are.
    holder: Mutex<Option<(String, u16)>>,
    /// Every node `CLUSTER SLOTS` named, to ask when the holder is gone.
    pub nodes: Mutex<Vec<(String, u16)>>,
}

impl ClusterView {
    pub(crate) fn is_cluster(&self) -> bool {
        self.is_cluster.load(Ordering::Relaxed)
    }

    /// Our keys are at `node` now (a `MOVED`, or `CLUSTER SLOTS`);
    /// `None`: look for them again.
    pub(crate) fn held_by(&self, node: Option<(String, u16)>) {
        if node.is_some() {
            self.is_cluster.store(true, Ordering::Relaxed);
        }
        *self.holder.lock().unwrap_or_else(|e| e.into_inner()) = node;
    }

    /// What the URL's node said of `INFO cluster` (nothing when refused).
    pub(crate) fn learn(&self, info: &str) {
        self.asked.store(true, Ordering::Relaxed);
        if info.contains("cluster_enabled:1") {
            self.is_cluster.store(true, Ordering::Relaxed);
        }
    }

    pub(crate) fn holder(&self) -> Option<(String, u16)> {
        self.holder.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How the node that holds our keys is found.
#[derive(Clone)]
pub(crate) enum Finder {
    /// It is the URL's host.
    Url,
    /// It is the primary the sentinels name.
    Sentinels(Sentinels),
}

/// Where the sentinels are, the name of the primary they watch, and their
/// own user and password (`REDIS_SENTINEL_USERNAME`,
/// `REDIS_SENTINEL_PASSWORD`; Redis lets them differ from the nodes').
#[derive(Clone)]
pub(crate) struct Sentinels {
    pub addrs: Vec<(String, u16)>,
    pub master: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sentinel that answered last, asked first next time (shared by
    /// every clone, so by every worker).
    pub first: Arc<AtomicUsize>,
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

impl Target {
    /// Parses a `redis://` or `rediss://` URL; `certs` are for TLS only.
    pub(crate) fn parse(url: &str, certs: TlsCertificates) -> RedisResult<Target> {
        let info = url.into_connection_info()?;
        let (host, port, tls) = match info.addr().clone() {
            ConnectionAddr::Tcp(host, port) => (host, port, None),
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                ..
            } => (host, port, Some(Tls { certs, insecure })),
            _ => {
                return Err((
                    redis::ErrorKind::InvalidClientConfig,
                    "only redis:// and rediss:// are supported",
                )
                    .into());
            }
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let settings = info.redis_settings().clone();
        let shown = format!("{} (db {})", show_addr(&host, port), settings.db());
        Ok(Target {
            host,
            port,
            settings,
            tls,
            shown,
            finder: Finder::Url,
            cluster: Arc::default(),
        })
    }

    /// The same db and password, on whichever node the `sentinels` name as
    /// the primary.
    pub(crate) fn through_sentinels(mut self, sentinels: Sentinels) -> Target {
        let listed: Vec<String> = sentinels.addrs.iter().map(|(h, p)| show_addr(h, *p)).collect();
        self.shown = format!(
            "the primary of {:?} per the sentinels {} (db {})",
            sentinels.master,
            listed.join(","),
            self.settings.db()
        );
        self.finder = Finder::Sentinels(sentinels);
        self
    }

    /// True when the sentinels name the node: there are replicas then, and
    /// a push is confirmed on one.
    pub(crate) fn uses_sentinel(&self) -> bool {
        matches!(self.finder, Finder::Sentinels(_))
    }

    /// True for `rediss://`.
    pub(crate) fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// True once a node said it is a Redis Cluster's.
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_cluster()
    }

    /// True with Sentinel, and on a cluster: the node is a primary with
    /// replicas, and a push is confirmed on one.
    pub(crate) fn has_replicas(&self) -> bool {
        self.uses_sentinel() || self.cluster.is_cluster()
    }

    /// The db every node gets (0 on a cluster).
    pub(crate) fn db(&self) -> i64 {
        self.settings.db()
    }

    /// The URL's host and port.
    pub(crate) fn url_node(&self) -> (&str, u16) {
        (&self.host, self.port)
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

    /// How to reach a node at `host:port`: the URL's db and password, TLS
    /// as the URL says.
    pub(crate) fn node_info(&self, host: &str, port: u16) -> Result<ConnectionInfo, Failure> {
        Ok(self.info(host, port)?.set_redis_settings(self.settings.clone()))
    }

    /// How to reach a sentinel at `host:port`: TLS as the nodes, its own
    /// user and password, no db.
    pub(crate) fn sentinel_info(
        &self,
        sentinels: &Sentinels,
        host: &str,
        port: u16,
    ) -> Result<ConnectionInfo, Failure> {
        let mut settings = RedisConnectionInfo::default();
        if let Some(username) = &sentinels.username {
            settings = settings.set_username(username);
        }
        if let Some(password) = &sentinels.password {
            settings = settings.set_password(password);
        }
        Ok(self.info(host, port)?.set_redis_settings(settings))
    }

    fn info(&self, host: &str, port: u16) -> Result<ConnectionInfo, Failure> {
        self.tcp_info(host, port)
            .map_err(|e| Failure::from_redis(&e, &self.shown, false, self.uses_sentinel()))
    }

    /// How to reach `host:port` over TCP, or TLS as the URL says; an error
    /// is the TLS files the redis crate cannot use.
    pub(crate) fn tcp_info(&self, host: &str, port: u16) -> RedisResult<ConnectionInfo> {
        let info = match &self.tls {
            None => ConnectionAddr::Tcp(host.to_owned(), port).into_connection_info()?,
            Some(tls) => Client::build_with_tls(
                ConnectionAddr::TcpTls {
                    host: host.to_owned(),
                    port,
                    insecure: tls.insecure,
                    tls_params: None,
                },
                tls.certs.clone(),
            )?
            .get_connection_info()
            .clone(),
        };
        // One small command per request: send it now rather than let Nagle wait.
        Ok(info.set_tcp_settings(TcpSettings::default().set_nodelay(true)))
    }
}

/// Like `Display`: the address and db, never the password.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({})", self.shown)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// `host:port`; an IPv6 address as `[::1]:6379`, so the port stands apart.
/// A host comes from outside (a `MOVED`, a node, a sentinel): it is made
/// [`printable`] here, where every address becomes text.
pub(crate) fn show_addr(host: &str, port: u16) -> String {
    let host = printable(host);
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `host:port` (`[::1]:6379` too) as a host and a port; `None` when it is
/// not one (no colon, a port that is not a number up to 65535).
pub(crate) fn parse_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_owned(), port.parse().ok()?))
}

#[cfg(test)]
#[path = "../tests/unit/target.rs"]
mod tests;
