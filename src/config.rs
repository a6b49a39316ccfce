//! Settings from the environment, with the original's defaults.
//!
//! The original hard-coded `localhost`, db 1 and Flask's `127.0.0.1:5000`; those
//! stay the defaults, and each can be changed without editing code. A bad value
//! stops the program at once with one line saying which variable is wrong, so a
//! typo never turns into a server that quietly talks to the wrong place.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use log::LevelFilter;
use redis::TlsCertificates;

use crate::exit::Stop;
use crate::target::{self, Sentinels, Target};
use crate::{platform, tls};

/// The original's Redis: `redis.StrictRedis(host='localhost', db=1)`.
pub(crate) const DEFAULT_REDIS_URL: &str = "redis://localhost:6379/1";
/// Flask's default address for `app.run()`.
pub(crate) const DEFAULT_BIND: &str = "127.0.0.1:5000";

/// Reads `name`, or `None` when it is unset or empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `REDIS_URL`, default `redis://localhost:6379/1`, and how to find the
/// node: reads the TLS files and checks them (`src/tls.rs`).
///
/// The error never repeats the URL: it may hold a password.
///
/// With `rediss://`, `REDIS_CA_FILE` (PEM) replaces the system's roots,
/// and `REDIS_CLIENT_CERT` with `REDIS_CLIENT_KEY` (PEM) give a client
/// certificate; each is read once, here.
///
/// With `REDIS_SENTINELS=host:port,host:port,...` the programs ask those
/// sentinels for the primary of `REDIS_MASTER` (default `mq`), and
/// `REDIS_URL` gives only the db, the password and TLS;
/// `REDIS_SENTINEL_USERNAME` and `REDIS_SENTINEL_PASSWORD` are the
/// sentinels' own.
pub fn redis_from_env() -> Result<Target, Stop> {
    let url = var("REDIS_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
    let target = redis_url(&url, tls_files_from_env(url.starts_with("rediss://"))?)?;
    match var("REDIS_SENTINELS") {
        None => Ok(target),
        Some(list) => {
            let master = var("REDIS_MASTER").unwrap_or_else(|| DEFAULT_MASTER.to_owned());
            Ok(target.through_sentinels(Sentinels {
                addrs: sentinels(&list)?,
                master: printable("REDIS_MASTER", master)?,
                username: var("REDIS_SENTINEL_USERNAME"),
                password: var("REDIS_SENTINEL_PASSWORD"),
                first: Arc::new(AtomicUsize::new(0)),
            }))
        }
    }
}

/// `REDIS_CA_FILE`, `REDIS_CLIENT_CERT` and `REDIS_CLIENT_KEY`, read and
/// checked. Set without `rediss://`, they are a mistake to say, not to
/// ignore.
fn tls_files_from_env(tls: bool) -> Result<TlsCertificates, Stop> {
    let names = ["REDIS_CA_FILE", "REDIS_CLIENT_CERT", "REDIS_CLIENT_KEY"];
    let [ca, cert, key] = names.map(|name| var(name).map(|path| (name, path)));
    if !tls && let Some((name, _)) = ca.iter().chain(&cert).chain(&key).next() {
        return Err(Stop::Setting(format!(
            "{name} is set, but REDIS_URL does not start with rediss:// (TLS)"
        )));
    }
    tls::read_files(ca, cert, key)
        .map_err(|why| Stop::Setting(format!("the TLS files are not usable: {why}")))
}

/// The name Sentinel knows the primary by, when `REDIS_MASTER` is unset.
pub(crate) const DEFAULT_MASTER: &str = "mq";

fn sentinels(list: &str) -> Result<Vec<(String, u16)>, Stop> {
    let bad = || {
        Stop::Setting(format!(
            "REDIS_SENTINELS={list:?} is not a list like 127.0.0.1:26379,127.0.0.1:26380"
        ))
    };
    list.split(',')
        .map(|item| match target::parse_addr(item.trim()) {
            Some((host, port)) if port > 0 && !host.is_empty() => Ok((host, port)),
            _ => Err(bad()),
        })
        .collect()
}

/// `value` of the variable `name` when it is printable ASCII without
/// spaces: it names a Redis key or a Sentinel primary.
fn printable(name: &str, value: String) -> Result<String, Stop> {
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value)
    } else {
        Err(Stop::Setting(format!(
            "{name}={value:?} must be printable ASCII without spaces"
        )))
    }
}

fn redis_url(url: &str, certs: TlsCertificates) -> Result<Target, Stop> {
    let expected = "expected redis[s]://[[user]:password@]host[:port][/db]";
    if let Some(why) = target::unsupported(url) {
        return Err(Stop::Setting(format!(
            "REDIS_URL is not usable: {why} ({expected})"
        )));
    }
    let target = Target::parse(url, certs).map_err(|e| {
        Stop::Setting(format!(
            "REDIS_URL is not a usable Redis URL ({}); {expected}",
            e.detail().unwrap_or("it did not parse")
        ))
    })?;
    // What the redis crate makes of the TLS files, said now, not at every connect.
    let (host, port) = target.url_node();
    target
        .tcp_info(host, port)
        .map_err(|e| Stop::Setting(format!("the TLS files are not usable: {e}")))?;
    Ok(target)
}

/// `BIND`, default `127.0.0.1:5000`: loopback only unless asked otherwise.
pub fn bind_from_env() -> Result<SocketAddr, Stop> {
    bind(&var("BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned()))
}

/// An address and port (`0.0.0.0:5000`, `[::1]:5000`), or `localhost:PORT`
/// for 127.0.0.1: no name is looked up, so a start never waits on DNS.
fn bind(bind: &str) -> Result<SocketAddr, Stop> {
    let local = bind
        .strip_prefix("localhost:")
        .and_then(|port| port.parse::<u16>().ok())
        .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    local.or_else(|| bind.parse().ok()).ok_or_else(|| {
        Stop::Setting(format!(
            "BIND={bind:?} is not an address like 127.0.0.1:5000"
        ))
    })
}

/// The default `WORKERS`; docs/performance.md says why 16.
pub const DEFAULT_WORKERS: usize = 16;

/// `WORKERS`, default [`DEFAULT_WORKERS`]: how many requests use Redis at
/// once (`src/server.rs`).
pub fn workers_from_env() -> Result<usize, Stop> {
    match var("WORKERS") {
        None => Ok(DEFAULT_WORKERS),
        Some(text) => workers(&text),
    }
}

fn workers(text: &str) -> Result<usize, Stop> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(Stop::Setting(format!(
            "WORKERS={text:?} is not a whole number from 1 to 1024"
        ))),
    }
}

/// `LOG_LEVEL`, default `info`: one of off, error, warn, info, debug, trace.
pub fn log_level_from_env() -> Result<LevelFilter, Stop> {
    var("LOG_LEVEL").map_or(Ok(LevelFilter::Info), |text| log_level(&text))
}

fn log_level(text: &str) -> Result<LevelFilter, Stop> {
    text.trim().parse().map_err(|_| {
        Stop::Setting(format!(
            "LOG_LEVEL={text:?} is not one of off, error, warn, info, debug, trace"
        ))
    })
}

/// True for `consumer --reliable` (at-least-once), false without
/// arguments (the original's consumer); any other argument is refused.
pub fn reliable_flag_from_args() -> Result<bool, Stop> {
    reliable_flag(&std::env::args().skip(1).collect::<Vec<_>>())
}

fn reliable_flag(args: &[String]) -> Result<bool, Stop> {
    match args {
        [] => Ok(false),
        [flag] if flag == "--reliable" => Ok(true),
        _ => Err(Stop::Setting(format!(
            "unknown arguments {args:?}; usage: consumer [--reliable]"
        ))),
    }
}

/// `CONSUMER_NAME`, a reliable or stream consumer's name (its processing
/// list, or its name in the group); by default the host's name and the
/// process id, unique among running consumers.
pub(crate) fn consumer_name_from_env() -> Result<String, Stop> {
    match var("CONSUMER_NAME") {
        Some(name) => printable("CONSUMER_NAME", name),
        None => {
            let host = platform::hostname().unwrap_or_else(|| "host".to_owned());
            Ok(format!("{host}-{}", std::process::id()))
        }
    }
}

/// The whole number in the variable `name`, or `default` when it is unset.
pub(crate) fn number_from_env(name: &str, default: u64) -> Result<u64, Stop> {
    var(name).map_or(Ok(default), |text| {
        let bad = || Stop::Setting(format!("{name}={text:?} is not a whole number"));
        text.trim().parse().map_err(|_| bad())
    })
}

/// A stdout the workers cannot print to: refuse to start, rather than
/// print into nothing.
pub(crate) fn unusable_stdout(e: std::io::Error) -> Stop {
    Stop::Setting(format!("cannot print to stdout: {e}"))
}

#[cfg(test)]
#[path = "../tests/unit/config.rs"]
mod tests;
