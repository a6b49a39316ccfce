//! The web page: producer and publisher (the original's Flask app).
//!
//! `cargo run` starts it on http://127.0.0.1:5000. Like tiny_http's own
//! hello-world example: one `Server`, shared by `WORKERS` threads, each
//! looping over incoming requests with its own Redis connection.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use redis_mq::config::{self, or_exit};
use redis_mq::redis_link::Link;
use redis_mq::{logging, web};
use tiny_http::Server;

fn main() {
    let target = or_exit(config::redis_from_env());
    let bind = or_exit(config::bind_from_env());
    let workers = or_exit(config::workers_from_env());
    logging::init(or_exit(config::log_level_from_env()));

    let server = Arc::new(Server::http(bind).unwrap_or_else(|e| {
        eprintln!("redis_mq: cannot listen on {bind}: {e} (is another server using it? set BIND)");
        std::process::exit(1)
    }));
    // With BIND=127.0.0.1:0 the system picks the port; say which one it is.
    log::info!(
        "serving http://{}/ with {workers} workers; Redis at {target}",
        server.server_addr()
    );

    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let server = Arc::clone(&server);
            let target = target.clone();
            thread::spawn(move || {
                let mut rcon = Link::new(target.clone());
                for request in server.incoming_requests() {
                    // A panic answers this one request with 500 (tiny_http does
                    // that for a request dropped unanswered); the worker goes on
                    // with a fresh connection.
                    let answered =
                        panic::catch_unwind(AssertUnwindSafe(|| web::respond(request, &mut rcon)));
                    if answered.is_err() {
                        rcon = Link::new(target.clone());
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
