//! The web page: producer and publisher, the original's Flask app (`app.py`).
//!
//! Read it beside the original; each Python line stands as a comment above
//! the Rust that replaces it.
//!
//! | app.py | here |
//! |---|---|
//! | `rcon = redis.StrictRedis(host='localhost', db=1)` | `main`: `Link::new(target)`, one per worker |
//! | `prodcons_queue`, `pubsub_channel` | `PRODCONS_QUEUE`, `PUBSUB_CHANNEL` (`src/names.rs`) |
//! | `@app.route(...)` | `route`, the table |
//! | `def index()`, `def prodcons()`, `def pubsub()` | `index`, `prodcons`, `pubsub` |
//! | `app.run(debug=True)` | `main`: one tiny_http `Server`, `WORKERS` threads |
//!
//! What keeps it safe lives in the library, out of these lines:
//! `Link::run` (timeouts, reconnects, never a command sent twice) and
//! `http::respond` (HEAD, the 2 s bound, one place that turns a Redis
//! failure into a status).

use std::sync::Arc;
use std::thread;

use log::info;
use redis::{Commands, Connection, RedisResult};
use redis_mq::config::{self, or_exit};
use redis_mq::http::{self, Reply};
use redis_mq::names::{PRODCONS_QUEUE, PUBSUB_CHANNEL};
use redis_mq::redis_link::Link;
use redis_mq::{logging, page};
use tiny_http::{Method, Server};

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
fn route(method: &Method, path: &str, link: &mut Link) -> Reply {
    match (method, path) {
        (Method::Get, "/") => index(link),
        (Method::Get, "/prodcons") => link.run(prodcons).into(),
        (Method::Get, "/pubsub") => link.run(pubsub).into(),
        (_, "/" | "/prodcons" | "/pubsub") => Reply::MethodNotAllowed,
        _ => Reply::NotFound,
    }
}

/// `@app.route('/')`: the original page, and under it what the last
/// clicks did, what waits in the queue and who listens (`src/page.rs`).
fn index(link: &mut Link) -> Reply {
    // return html
    Reply::Page(format!("{INDEX_HTML}{}", page::status(link)))
}

/// `@app.route('/prodcons')`: the producer.
fn prodcons(rcon: &mut Connection) -> RedisResult<Reply> {
    // elem = random.randrange(10)
    let elem = rand::random_range(0..10);
    // rcon.lpush(prodcons_queue, elem)
    let _: () = rcon.lpush(PRODCONS_QUEUE, elem)?;
    // logging.info("lpush {} -- {}".format(prodcons_queue, elem))
    info!("lpush {} -- {}", PRODCONS_QUEUE, elem);
    page::clicked(format!("pushed {elem}"));
    // return redirect('/')
    Ok(Reply::Redirect("/"))
}

/// `@app.route('/pubsub')`: the publisher.
fn pubsub(rcon: &mut Connection) -> RedisResult<Reply> {
    // elem = random.randrange(10)
    let elem = rand::random_range(0..10);
    // rcon.publish(pubsub_channel, elem)
    let receivers: usize = rcon.publish(PUBSUB_CHANNEL, elem)?;
    if receivers == 0 {
        info!(
            "publish {PUBSUB_CHANNEL} -- {elem} (no subscriber: pub/sub keeps nothing, so it is gone)"
        );
    } else {
        info!("publish {PUBSUB_CHANNEL} -- {elem} (received by {receivers} subscribers)");
    }
    page::clicked(format!(
        "published {elem}, received by {receivers} subscribers"
    ));
    // return redirect('/')
    Ok(Reply::Redirect("/"))
}

/// `app.run()`: like tiny_http's hello-world example, one `Server` shared by
/// `WORKERS` threads, each with its own connection to Redis.
fn main() {
    let target = or_exit(config::redis_from_env());
    let bind = or_exit(config::bind_from_env());
    let workers = or_exit(config::workers_from_env());
    logging::init(or_exit(config::log_level_from_env()));

    let server = Server::http(bind).unwrap_or_else(|e| {
        eprintln!("redis_mq: cannot listen on {bind}: {e} (is another server using it? set BIND)");
        std::process::exit(1)
    });
    // With BIND=127.0.0.1:0 the system picks the port; say which one it is.
    info!(
        "serving http://{}/ with {workers} workers; Redis at {target}",
        server.server_addr()
    );

    let server = Arc::new(server);
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let server = Arc::clone(&server);
            let mut link = Link::new(target.clone());
            thread::spawn(move || {
                for request in server.incoming_requests() {
                    http::respond(request, &mut link, route);
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
