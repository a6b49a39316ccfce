//! Opening one connection to one Redis node (or sentinel), all of it by one
//! deadline: the name lookup, TCP, the TLS handshake, then `AUTH` and
//! `SELECT`. A failure comes back as a [`Failure`], already saying what it
//! means.
//!
//! The system's name lookup has no timeout of its own, so a name is looked
//! up on a helper thread that the caller waits for no longer than the
//! deadline (`localhost` is loopback without asking anyone, so a host with
//! no `/etc/hosts` works). Over TLS the certificate is checked against the
//! name, so the redis crate looks it up itself: that whole connect runs on
//! the helper thread, and ends by the deadline too (patch 5 of the
//! vendored redis bounds the handshake and the set-up commands), taking its
//! socket with it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use redis::{Client, ConnectionAddr, ConnectionInfo};

use crate::failure::{Failure, What};

/// The most one reply may take (redis patch 7), so that no node can make a
/// program hold more than it means to read: every connection starts with
/// it (a node's `CLUSTER SLOTS` takes less, `src/cluster.rs`); the workers
/// lift it for the queue's elements, which may be of any size.
pub(crate) const REPLY_LIMIT: usize = 1 << 20;

/// How long a worker's connect may take, and a web connect at most.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection to the node `info` names, opened by `deadline`; `at` is how
/// failures name it. Its reads wait at most the time that was left (the
/// caller sets another read timeout when it keeps it), and each reply may
/// be at most [`REPLY_LIMIT`] (redis patch 7).
pub(crate) fn open(
    info: ConnectionInfo,
    at: &str,
    deadline: Instant,
) -> Result<redis::Connection, Failure> {
    let failed = |e: &redis::RedisError, over_tls| Failure::at_connect(e, at, over_tls);
    let (info, over_tls, named) = match info.addr().clone() {
        ConnectionAddr::Tcp(host, port) => {
            let addr = resolve(host, port, deadline).map_err(|why| Failure::new(why, at))?;
            let plain = ConnectionAddr::Tcp(addr.ip().to_string(), addr.port());
            (info.set_addr(plain), false, false)
        }
        ConnectionAddr::TcpTls { host, .. } => {
            let named = host.parse::<IpAddr>().is_err();
            (info, true, named)
        }
        _ => return Err(Failure::new(What::Unusable("not a TCP address".into()), at)),
    };
    let left = time_left(deadline).map_err(|why| Failure::new(why, at))?;
    let client = Client::open(info).map_err(|e| failed(&e, over_tls))?;
    let mut rcon = if named {
        on_a_helper(move || client.get_connection_with_timeout(left), deadline)
            .unwrap_or_else(|| Err(timed_out()))
    } else {
        client.get_connection_with_timeout(left)
    }
    .map_err(|e| failed(&e, over_tls))?;
    rcon.set_reply_limit(Some(REPLY_LIMIT));
    let set = rcon
        .set_read_timeout(Some(left))
        .and_then(|()| rcon.set_write_timeout(Some(CONNECT_TIMEOUT)));
    set.map_err(|e| failed(&e, over_tls))?;
    Ok(rcon)
}

/// `ask` of each of `count` nodes in turn (by number), each by its share of
/// the time left until `deadline`, so that one that does not answer leaves
/// time for the others: the first answer, or the last failure.
pub(crate) fn first_answer<T>(
    count: usize,
    deadline: Instant,
    mut ask: impl FnMut(usize, Instant) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let mut last = Failure::new(What::NoAnswer, "");
    for tried in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        match ask(tried, Instant::now() + left / (count - tried) as u32) {
            Ok(answer) => return Ok(answer),
            Err(failure) => last = failure,
        }
    }
    Err(last)
}

/// The first address of `host`, by `deadline`. `localhost` is 127.0.0.1
/// without a lookup (RFC 6761).
fn resolve(host: String, port: u16, deadline: Instant) -> Result<SocketAddr, What> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    let failed = |why: String| What::Unreachable(format!("cannot resolve host {host}: {why}"));
    let name = (host.clone(), port);
    match on_a_helper(
        move || name.to_socket_addrs().map(|mut a| a.next()),
        deadline,
    ) {
        Some(Ok(Some(addr))) => Ok(addr),
        Some(Ok(None)) => Err(failed("no address".into())),
        Some(Err(e)) => Err(failed(e.to_string())),
        None => Err(failed("no answer in time".into())),
    }
}

/// `work` on a thread of its own, waited for until `deadline`; `None` when
/// it has not finished by then (it ends by itself later).
fn on_a_helper<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    deadline: Instant,
) -> Option<T> {
    let (tell, told) = mpsc::channel();
    thread::spawn(move || {
        let _ = tell.send(work());
    });
    let wait = deadline.saturating_duration_since(Instant::now());
    told.recv_timeout(wait + Duration::from_millis(50)).ok()
}

/// What is left until `deadline`, or "no answer in time" when nothing is.
pub(crate) fn time_left(deadline: Instant) -> Result<Duration, What> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return Err(What::NoAnswer);
    }
    Ok(left)
}

fn timed_out() -> redis::RedisError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time").into()
}
