//! Everything Sentinel, in one place: where the sentinels are and how the
//! primary is found through them, which answers mean "this node is not the
//! primary any more", and the two questions the web asks only with
//! replicas (did a replica get this push? how many replicas are there?).
//! The other modules call these; none talks to a sentinel itself.

use std::time::Duration;

use redis::io::tcp::TcpSettings;
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo,
    RedisError, RedisResult, TlsMode,
};

use crate::redis_target::show_addr;
use crate::tls::Tls;

/// Where the sentinels are, the name of the primary they watch, and how to
/// talk to them: their own user and password (`REDIS_SENTINEL_USERNAME`,
/// `REDIS_SENTINEL_PASSWORD`; Redis lets them differ from the nodes'), and
/// TLS when the nodes use it.
#[derive(Clone)]
pub(crate) struct Sentinels {
    addrs: Vec<(String, u16)>,
    master: String,
    auth: SentinelAuth,
    tls: Option<Tls>,
}

/// The user and password the sentinels ask for, if any.
#[derive(Clone, Default)]
pub(crate) struct SentinelAuth {
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Sentinels {
    pub(crate) fn new(
        addrs: Vec<(String, u16)>,
        master: &str,
        auth: SentinelAuth,
        tls: Option<Tls>,
    ) -> Sentinels {
        Sentinels {
            addrs,
            master: master.to_owned(),
            auth,
            tls,
        }
    }

    /// How to reach one sentinel: TLS as the nodes, its own password.
    fn sentinel_info(&self, host: &str, port: u16) -> RedisResult<ConnectionInfo> {
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
        let mut settings = RedisConnectionInfo::default();
        if let Some(username) = &self.auth.username {
            settings = settings.set_username(username);
        }
        if let Some(password) = &self.auth.password {
            settings = settings.set_password(password);
        }
        Ok(info.set_redis_settings(settings))
    }

    /// `the primary of "mq" per the sentinels 127.0.0.1:26379,... (db 1)`.
    pub(crate) fn shown(&self, db: i64) -> String {
        let listed: Vec<String> = self.addrs.iter().map(|(h, p)| show_addr(h, *p)).collect();
        format!(
            "the primary of {:?} per the sentinels {} (db {db})",
            self.master,
            listed.join(",")
        )
    }

    /// The primary's address, from the first sentinel that names one whose
    /// `ROLE` says it is the primary (the redis crate's own Sentinel
    /// client does both). Each sentinel, and the check, get a quarter of
    /// `timeout` (patch 4 of the vendored redis bounds them), so a sentinel
    /// that does not answer costs little; the node gets `settings` (db,
    /// password) as with one Redis, and TLS when the sentinels get it.
    pub(crate) fn find_primary(
        &self,
        settings: &RedisConnectionInfo,
        timeout: Duration,
    ) -> RedisResult<(ConnectionInfo, String)> {
        let infos: Vec<ConnectionInfo> = self
            .addrs
            .iter()
            .map(|(host, port)| self.sentinel_info(host, *port))
            .collect::<RedisResult<_>>()?;
        // The certificates go to the primary too (patch 5 of the vendored
        // redis): it is checked like the sentinels, against REDIS_CA_FILE.
        let mut sentinel = match &self.tls {
            None => Sentinel::build(infos)?,
            Some(tls) => Sentinel::build_with_tls(infos, tls.certs.clone())?,
        };
        sentinel.set_timeout(Some(timeout / 4));
        let mut node_info = SentinelNodeConnectionInfo::default()
            .set_redis_connection_info(settings.clone())
            .set_tcp_settings(TcpSettings::default().set_nodelay(true));
        if let Some(tls) = &self.tls {
            node_info = node_info.set_tls_mode(if tls.insecure {
                TlsMode::Insecure
            } else {
                TlsMode::Secure
            });
        }
        let client = sentinel.master_for(&self.master, Some(&node_info))?;
        let info = client.get_connection_info().clone();
        let node = match info.addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                show_addr(host, *port)
            }
            other => other.to_string(),
        };
        Ok((info, node))
    }
}

/// True when Redis's answer means this node is not (or no longer) the
/// primary: a replica, or a demoted primary (`READONLY`), a replica that
/// lost its primary (`MASTERDOWN`), a blocked command ended by a role
/// change (`UNBLOCKED`). With Sentinel, ask the sentinels again at once:
/// they name a node only after `ROLE` says it is the primary, so this never
/// loops. (`NOREPLICAS` and `LOADING` come from the primary itself: those
/// are waited out with the backoff, like other refusals.)
pub(crate) fn is_failover(e: &RedisError) -> bool {
    matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "UNBLOCKED"))
}

/// `WAIT 1 wait_ms`: how many replicas have every write made so far on
/// `rcon`, once one has or `wait_ms` have passed. Only the connection the
/// write went out on can ask: `WAIT` on another would confirm nothing.
pub(crate) fn wait_for_a_replica(rcon: &mut Connection, wait_ms: u64) -> RedisResult<usize> {
    redis::cmd("WAIT").arg(1).arg(wait_ms).query(rcon)
}

/// How many replicas the primary streams to (`ROLE`), for the page.
pub(crate) fn replicas_of_the_primary(rcon: &mut Connection) -> RedisResult<usize> {
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(rcon)?;
    Ok(match role.get(2) {
        Some(redis::Value::Array(replicas)) => replicas.len(),
        _ => 0,
    })
}
