//! The web server's threads, and how they stop: Flask's `app.run()`.
//!
//! One tiny_http `Server` shared by `WORKERS` threads, each with its own
//! connection to Redis (`Connection::bounded`: every request answered
//! within [`ANSWER_WITHIN`] of its arrival), as in tiny_http's hello-world
//! example. A stop
//! request (Ctrl-C, `kill`, see `signals`) ends it without cutting a click
//! short: every request received before the stop is answered as usual,
//! within its 2 s; one that arrives after it gets 503 "stopping", and
//! nothing runs for it. Then the threads end and `run` returns, so the web
//! server exits 0 through `main` like the workers.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info};
use tiny_http::{ConfigListenAddr, Limits, Method, Server, ServerConfig};

use crate::connect::CONNECT_TIMEOUT;
use crate::connection::Connection;
use crate::exit::Stop;
use crate::failure::What;
use crate::http::{self, ANSWER_WITHIN, Reply};
use crate::signals;
use crate::target::Target;

/// How often an idle worker looks at the stop flag.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// Serves `route` on `bind` with `workers` threads until a stop request.
pub fn serve<R>(bind: SocketAddr, workers: usize, target: &Target, route: R) -> Result<(), Stop>
where
    R: Fn(&Method, &str, &mut Connection) -> Reply + Sync,
{
    check_the_db(target)?;
    // A client that pipelines without reading holds one worker, not all.
    let limits = Limits {
        one_handler_per_connection: true,
        ..Limits::default()
    };
    let addr = ConfigListenAddr::IP(vec![bind]);
    let server = Server::new(ServerConfig {
        addr,
        ssl: None,
        limits,
    })
    .map_err(|e| Stop::Cannot(http::cannot_listen(bind, e.as_ref())))?;
    // With BIND=127.0.0.1:0 the system picks the port; say which one it is.
    info!(
        "serving http://{}/ with {workers} workers; Redis at {target}",
        server.server_addr()
    );
    target.warn_if_unchecked();
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| work(&server, Connection::bounded(target.clone()), &route));
        }
        while signals::stop_requested_at().is_none() {
            thread::sleep(LOOK_EVERY);
        }
        info!("asked to stop: answering the requests already received; new ones get 503");
    });
    // Whatever came in while the last worker finished: refused, not dropped.
    while let Ok(Some(request)) = server.try_recv() {
        http::respond(request, |_, _| Reply::Stopping);
    }
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

/// One worker: answers requests until a stop request, then the ones that
/// were received before it.
fn work<R>(server: &Server, mut rcon: Connection, route: &R)
where
    R: Fn(&Method, &str, &mut Connection) -> Reply,
{
    let stop_at = loop {
        if let Some(at) = signals::stop_requested_at() {
            break at;
        }
        match server.recv_timeout(LOOK_EVERY) {
            Ok(Some(request)) => answer(request, &mut rcon, route),
            Ok(None) => {}
            Err(e) => debug!("no request: {e}"),
        }
    };
    while let Ok(Some(request)) = server.try_recv() {
        if request.received_at() <= stop_at {
            answer(request, &mut rcon, route);
        } else {
            http::respond(request, |_, _| Reply::Stopping);
        }
    }
}

/// One request, by its deadline; after a panic the connection is dropped,
/// as it may be half-way through a reply.
fn answer<R>(request: tiny_http::Request, rcon: &mut Connection, route: &R)
where
    R: Fn(&Method, &str, &mut Connection) -> Reply,
{
    rcon.answer_by(request.received_at() + ANSWER_WITHIN);
    if !http::respond(request, |method, path| route(method, path, rcon)) {
        rcon.reset();
    }
}
