//! The web server's threads, and how they stop: Flask's `app.run()`.
//!
//! Each HTTP connection has a thread of the patched tiny_http, which reads
//! a request, answers it, and reads the next (tiny_http patch 8): no
//! thread hands a request to another (why: docs/performance.md). At most
//! `WORKERS` requests use Redis at once, each with a `Connection` of its
//! own from a pool (`RconPool`; `Connection::bounded`: every request
//! answered within [`ANSWER_WITHIN`] of its arrival). One more waits for a
//! free one until its 2 s are up, then gets what any click out of time
//! gets: 503, nothing was pushed.
//!
//! A stop request (Ctrl-C, `kill`, see `signals`) ends it without cutting
//! a click short: every request received before the stop is answered as
//! usual, within its 2 s; one that arrives after it gets 503 "stopping",
//! and nothing runs for it. Once no request is using Redis, `serve`
//! returns, and the web server exits 0 through `main` like the workers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use log::info;
use tiny_http::{ConfigListenAddr, Limits, Method, Request, Server, ServerConfig};

use crate::connect::CONNECT_TIMEOUT;
use crate::connection::Connection;
use crate::exit::Stop;
use crate::failure::What;
use crate::http::{self, ANSWER_WITHIN, Reply};
use crate::signals;
use crate::target::Target;

/// How often `serve` looks at the stop flag.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// Serves `route` on `bind` until a stop request, with at most `workers`
/// requests using Redis at once.
pub fn serve<R>(bind: SocketAddr, workers: usize, target: &Target, route: R) -> Result<(), Stop>
where
    R: Fn(&Method, &str, &mut Connection) -> Reply + Send + Sync + 'static,
{
    check_the_db(target)?;
    let rcons = Arc::new(RconPool::new(workers, target));
    let for_requests = Arc::clone(&rcons);
    let config = ServerConfig {
        addr: ConfigListenAddr::IP(vec![bind]),
        ssl: None,
        limits: Limits::default(),
    };
    let server = Server::new_with_handler(config, move |request| {
        answer(request, &for_requests, &route)
    })
    .map_err(|e| Stop::Cannot(http::cannot_listen(bind, e.as_ref())))?;
    // With BIND=127.0.0.1:0 the system picks the port; say which one it is.
    info!(
        "serving http://{}/ with {workers} workers; Redis at {target}",
        server.server_addr()
    );
    target.warn_if_unchecked();
    while signals::stop_requested_at().is_none() {
        thread::sleep(LOOK_EVERY);
    }
    info!("asked to stop: answering the requests already received; new ones get 503");
    rcons.wait_until_all_back();
    Ok(())
}

/// One try to reach Redis at start, for a setting that only Redis can
/// refuse: a db other than 0 on a cluster is [`Stop::Setting`]; anything
/// else (Redis down, say) is for the first click to meet.
fn check_the_db(target: &Target) -> Result<(), Stop> {
    let mut rcon = Connection::bounded(target.clone());
    rcon.answer_by(Instant::now() + CONNECT_TIMEOUT);
    let refused = redis::cmd("PING").query::<()>(&mut rcon).err().map(|e| rcon.failure(e));
    match refused.filter(|failure| failure.what == What::ClusterHasOnlyDb0) {
        Some(failure) => Err(Stop::Setting(failure.to_string())),
        None => Ok(()),
    }
}

/// One request, on its connection's thread, by its deadline: 503 when it
/// came after a stop request; after a panic the `Connection` is dropped,
/// as it may be half-way through a reply.
fn answer<R>(request: Request, rcons: &RconPool, route: &R)
where
    R: Fn(&Method, &str, &mut Connection) -> Reply,
{
    let stopped_before = signals::stop_requested_at().is_some_and(|at| at < request.received_at());
    if stopped_before {
        http::respond(request, |_, _| Reply::Stopping);
        return;
    }
    let deadline = request.received_at() + ANSWER_WITHIN;
    let mut taken = rcons.take_by(deadline);
    let rcon = match taken.as_mut().and_then(|taken| taken.rcon.as_mut()) {
        Some(rcon) => rcon,
        // Every worker busy until the deadline: this runs the route on a
        // connection out of time, which sends nothing, as a request that
        // waited that long for a worker always got.
        None => &mut Connection::bounded(rcons.target.clone()),
    };
    rcon.answer_by(deadline);
    if !http::respond(request, |method, path| route(method, path, rcon)) {
        rcon.reset();
    }
}

/// The workers' `WORKERS` connections to Redis; a request takes one, and
/// gives it back when answered. Each is opened at its first use.
struct RconPool {
    target: Target,
    workers: usize,
    state: Mutex<PoolState>,
    given_back: Condvar,
}

struct PoolState {
    idle: VecDeque<Connection>,
    /// Threads waiting in `given_back`: a return wakes one only then
    /// (a wake-up is a system call, and under load nobody waits).
    waiting: usize,
}

/// A `Connection` taken from the pool until dropped.
struct Taken<'a> {
    rcon: Option<Connection>,
    pool: &'a RconPool,
}

impl RconPool {
    fn new(workers: usize, target: &Target) -> RconPool {
        let idle = (0..workers).map(|_| Connection::bounded(target.clone())).collect();
        RconPool {
            target: target.clone(),
            workers,
            state: Mutex::new(PoolState { idle, waiting: 0 }),
            given_back: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A free connection, waiting for one until `deadline`: the one idle
    /// longest, as the workers' threads took turns before. A click then
    /// rarely meets the connection the last click used, and a connection
    /// idle a while is checked before it carries a command, so a Redis
    /// killed since is a 503 (nothing pushed) rather than a push sent on a
    /// dead socket, a 504 (may or may not).
    fn take_by(&self, deadline: Instant) -> Option<Taken<'_>> {
        let mut state = self.lock();
        while state.idle.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            state.waiting += 1;
            state = self.given_back.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
            state.waiting -= 1;
        }
        let rcon = state.idle.pop_front();
        Some(Taken { rcon, pool: self })
    }

    /// Returns once every connection is back: no request uses Redis. It
    /// looks every [`LOOK_EVERY`] rather than wait in `given_back`, where
    /// it would take a wake-up meant for a request.
    fn wait_until_all_back(&self) {
        let mut state = self.lock();
        while state.idle.len() < self.workers {
            drop(state);
            thread::sleep(LOOK_EVERY);
            state = self.lock();
        }
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        state.idle.extend(self.rcon.take());
        if state.waiting > 0 {
            self.pool.given_back.notify_one();
        }
    }
}
