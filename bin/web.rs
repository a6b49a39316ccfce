//! The web page: producer and publisher, the original's Flask app (`app.py`),
//! and the stream lesson's producer (`python/app_stream.py`).
//!
//! Read it beside the original; each Python line of the routes stands as a
//! comment above the Rust that replaces it. Two lines have no counterpart:
//! `/pubsub` in app.py first makes a pubsub object and subscribes it
//! (`ps = rcon.pubsub()`, `ps.subscribe(pubsub_channel)`), which nothing
//! ever reads; `docs/differences.md` says why the port leaves them out.
//!
//! | app.py | here |
//! |---|---|
//! | `rcon = redis.StrictRedis(host='localhost', db=1)` | `config::redis_from_env`; `server::serve` gives each request a `Connection` of its `WORKERS`, its `rcon` |
//! | `prodcons_queue`, `pubsub_channel` | `PRODCONS_QUEUE`, `PUBSUB_CHANNEL` (`src/names.rs`) |
//! | `@app.route(...)` | `route`, the table |
//! | `def index()`, `def prodcons()`, `def pubsub()` | `index`, `prodcons`, `pubsub` |
//! | `def stream_add()` (`python/app_stream.py`, not in the original) | `stream` |
//! | `app.run(debug=True)` | `run`: `server::serve`, each request on its connection's thread |
//!
//! What keeps it safe lives in the library, out of these lines: `rcon` is a
//! `Connection` (`src/connection.rs`), which runs each command within the
//! click's 2 s bound on a connection that is replaced when it died, and
//! says why a command failed (`rcon.failure`, words from
//! `src/failure.rs`); `click::redirect_once_on_a_replica` makes a push a
//! 302 only once a replica has it, where there are replicas;
//! `http::respond` handles HEAD and panics; `server::serve` runs the
//! threads until a stop. Lines marked `new:` have no Python counterpart.

use std::process::ExitCode;

use log::info;
use redis::streams::StreamMaxlen;
use redis::{Commands, RedisResult};
use redis_mq::connection::Connection;
use redis_mq::exit::{self, Stop};
use redis_mq::failure::printable;
use redis_mq::http::Reply;
use redis_mq::names::{PRODCONS_QUEUE, PUBSUB_CHANNEL, STREAM};
use redis_mq::page::{self, Clicks};
use redis_mq::stream::STREAM_MAXLEN;
use redis_mq::{click, config, logging, server, signals};
use tiny_http::Method;

/// The original page, byte for byte; `index` adds what each click did under it.
const INDEX_HTML: &str = r#"
<br>
<center><h3>Redis Message Queue</h3>
<br>
<a href="/prodcons">生产消费者模式</a>
<br>
<br>
<a href="/pubsub">发布订阅者模式</a>
</center>
"#;

/// Flask's routing table: one arm per `@app.route`.
fn route(method: &Method, path: &str, rcon: &mut Connection, clicks: &Clicks) -> Reply {
    match (method, path) {
        (Method::Get, "/") => index(rcon, clicks),
        (Method::Get, "/prodcons") => {
            prodcons(rcon, clicks).unwrap_or_else(|e| Reply::Failed(rcon.failure(e)))
        }
        (Method::Get, "/pubsub") => {
            pubsub(rcon, clicks).unwrap_or_else(|e| Reply::Failed(rcon.failure(e)))
        }
        (Method::Get, "/stream") => {
            stream(rcon, clicks).unwrap_or_else(|e| Reply::Failed(rcon.failure(e)))
        }
        (_, "/" | "/prodcons" | "/pubsub" | "/stream") => Reply::MethodNotAllowed,
        _ => Reply::NotFound,
    }
}

/// The stream lesson's link, under the original page (not in the original).
const STREAM_LINK: &str = "<center><br><a href=\"/stream\">流消费组模式</a></center>\n";

/// `@app.route('/')`: the original page, and under it what the last
/// clicks did, what waits in the queue and the stream, and who listens
/// (`src/page.rs`).
fn index(rcon: &mut Connection, clicks: &Clicks) -> Reply {
    // return html
    // new: under it, the stream's link and what page::query_status asks Redis
    Reply::Page(format!(
        "{INDEX_HTML}{STREAM_LINK}{}",
        page::query_status(rcon, clicks)
    ))
}

/// `@app.route('/prodcons')`: the producer.
fn prodcons(rcon: &mut Connection, clicks: &Clicks) -> RedisResult<Reply> {
    // elem = random.randrange(10)
    let elem = rand::random_range(0..10);
    // rcon.lpush(prodcons_queue, elem)
    let _: () = rcon.lpush(PRODCONS_QUEUE, elem)?;
    // logging.info("lpush {} -- {}".format(prodcons_queue, elem))
    info!("lpush {} -- {}", PRODCONS_QUEUE, elem);
    // new: the page shows what each click did
    clicks.record(format!("pushed {elem}"));
    // return redirect('/')
    // (with replicas, once one has the push: src/click.rs)
    Ok(click::redirect_once_on_a_replica(rcon, "/"))
}

/// `@app.route('/pubsub')`: the publisher.
fn pubsub(rcon: &mut Connection, clicks: &Clicks) -> RedisResult<Reply> {
    // elem = random.randrange(10)
    let elem = rand::random_range(0..10);
    // rcon.publish(pubsub_channel, elem)
    let receivers: usize = rcon.publish(PUBSUB_CHANNEL, elem)?;
    // new: say how many got it; with none, the message is gone
    info!(
        "publish {PUBSUB_CHANNEL} -- {elem} ({})",
        click::heard_by(rcon, receivers)
    );
    // new: the page shows what each click did
    clicks.record(format!(
        "published {elem}, received by {receivers} subscribers"
    ));
    // return redirect('/')
    Ok(Reply::Redirect("/"))
}

/// `@app.route('/stream')`: the stream's producer (`python/app_stream.py`;
/// not in the original).
fn stream(rcon: &mut Connection, clicks: &Clicks) -> RedisResult<Reply> {
    // elem = random.randrange(10)
    let elem = rand::random_range(0..10);
    // rcon.xadd(stream, {'elem': elem}, maxlen=1000, approximate=True)
    let maxlen = StreamMaxlen::Approx(STREAM_MAXLEN);
    let id: String = rcon.xadd_maxlen(STREAM, maxlen, "*", &[("elem", elem)])?;
    // logging.info("xadd {} -- {}".format(stream, elem))
    info!("xadd {} -- {} ({})", STREAM, elem, printable(&id));
    // new: the page shows what each click did
    clicks.record(format!("added {elem} to the stream as {id}"));
    // return redirect('/')
    // (with replicas, once one has it: src/click.rs)
    Ok(click::redirect_once_on_a_replica(rcon, "/"))
}

/// `app.run()`: each request answered on its connection's thread, at most
/// `WORKERS` at once on Redis, until Ctrl-C or `kill` (`src/server.rs`).
fn run() -> Result<(), Stop> {
    // rcon = redis.StrictRedis(host='localhost', db=1)
    // (where Redis is; each of the WORKERS opens its own connection)
    let target = config::redis_from_env()?;
    // new: the address, the threads and the log level, from the environment
    let bind = config::bind_from_env()?;
    let workers = config::workers_from_env()?;
    logging::init(config::log_level_from_env()?);
    // new: a thread takes Ctrl-C and kill; they then only ask for a stop
    signals::catch_stop_requests();
    // new: the page shows what the last clicks did
    let clicks = Clicks::default();
    // app.run(debug=True)
    // (first one try of Redis, for the one setting only Redis can refuse,
    // a cluster's db: exit 2; then the threads until Ctrl-C or kill)
    server::serve(bind, workers, &target, move |method, path, rcon| {
        route(method, path, rcon, &clicks)
    })
}

/// The one place the web server ends: its exit status, and a line saying why.
fn main() -> ExitCode {
    exit::status("web", run())
}
