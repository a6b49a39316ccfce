//! Settings from the environment, with the original's defaults.
//!
//! The original hard-coded `localhost`, db 1 and Flask's `127.0.0.1:5000`; those
//! stay the defaults, and each can be changed without editing code. A bad value
//! stops the program at once with one line saying which variable is wrong, so a
//! typo never turns into a server that quietly talks to the wrong place.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

use log::LevelFilter;

use crate::redis_target::{self, RedisTarget};

/// The original's Redis: `redis.StrictRedis(host='localhost', db=1)`.
pub const DEFAULT_REDIS_URL: &str = "redis://localhost:6379/1";
/// Flask's default address for `app.run()`.
pub const DEFAULT_BIND: &str = "127.0.0.1:5000";

/// A setting that cannot be used; its `Display` is the one line the user sees.
#[derive(Debug)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Reads `name`, or `None` when it is unset or empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `REDIS_URL`, default `redis://localhost:6379/1`.
///
/// The error never repeats the URL: it may hold a password.
pub fn redis_from_env() -> Result<RedisTarget, ConfigError> {
    let url = var("REDIS_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
    let expected = "expected redis://[[user]:password@]host[:port][/db]";
    if let Some(why) = redis_target::unsupported(&url) {
        return Err(ConfigError(format!(
            "REDIS_URL is not usable: {why} ({expected})"
        )));
    }
    RedisTarget::parse(&url).map_err(|e| {
        ConfigError(format!(
            "REDIS_URL is not a usable Redis URL ({}); {expected}",
            e.detail().unwrap_or("it did not parse")
        ))
    })
}

/// `BIND`, default `127.0.0.1:5000`: loopback only unless asked otherwise.
pub fn bind_from_env() -> Result<SocketAddr, ConfigError> {
    let bind = var("BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
    bind.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            ConfigError(format!(
                "BIND={bind:?} is not an address like 127.0.0.1:5000"
            ))
        })
}

/// `WORKERS`, default: the machine's parallelism, at least 2, so one slow
/// Redis call never stops the page from answering.
pub fn workers_from_env() -> Result<usize, ConfigError> {
    match var("WORKERS") {
        None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get().max(2))),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if (1..=1024).contains(&n) => Ok(n),
            _ => Err(ConfigError(format!(
                "WORKERS={text:?} is not a whole number from 1 to 1024"
            ))),
        },
    }
}

/// `LOG_LEVEL`, default `info`: one of off, error, warn, info, debug, trace.
pub fn log_level_from_env() -> Result<LevelFilter, ConfigError> {
    match var("LOG_LEVEL") {
        None => Ok(LevelFilter::Info),
        Some(text) => text.trim().parse().map_err(|_| {
            ConfigError(format!(
                "LOG_LEVEL={text:?} is not one of off, error, warn, info, debug, trace"
            ))
        }),
    }
}

/// `consumer` mirrors the original; `consumer --reliable` is at-least-once.
pub fn consumer_args() -> Result<bool, ConfigError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(false),
        [flag] if flag == "--reliable" => Ok(true),
        _ => Err(ConfigError(format!(
            "unknown arguments {args:?}; usage: consumer [--reliable]"
        ))),
    }
}

/// `CONSUMER_NAME`, the reliable consumer's name (its processing list is
/// named after it); `None` when unset, for the default the reliable
/// consumer makes.
pub fn consumer_name_from_env() -> Result<Option<String>, ConfigError> {
    match var("CONSUMER_NAME") {
        Some(name) if name.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(name)),
        Some(name) => Err(ConfigError(format!(
            "CONSUMER_NAME={name:?} must be printable ASCII without spaces"
        ))),
        None => Ok(None),
    }
}

/// A stdout the workers cannot print to: refuse to start, rather than
/// print into nothing.
pub fn unusable_stdout(e: std::io::Error) -> ConfigError {
    ConfigError(format!("cannot print to stdout: {e}"))
}
