//! The web page: producer and publisher (the original's Flask app).
//!
//! `cargo run` starts it on http://127.0.0.1:5000. Each of `WORKERS` threads
//! takes requests from tiny_http and holds its own Redis connection.

use redis_mq::config::{self, or_exit};
use redis_mq::redis_link::Link;
use redis_mq::{http_server, logging, web};

fn main() {
    let rcon = or_exit(config::redis_from_env());
    let bind = or_exit(config::bind_from_env());
    let workers = or_exit(config::workers_from_env());
    logging::init(or_exit(config::log_level_from_env()));

    let listener = http_server::bind(bind).unwrap_or_else(|e| {
        eprintln!("redis_mq: cannot listen on {bind}: {e} (is another server using it? set BIND)");
        std::process::exit(1)
    });
    // With BIND=127.0.0.1:0 the system picks the port; say which one it is.
    let bound = listener.local_addr().unwrap_or(bind);
    log::info!("serving http://{bound}/ with {workers} workers; Redis at {rcon}");

    let served = http_server::serve(listener, workers, || {
        let mut link = Link::new(rcon.clone());
        move |request| web::respond(request, &mut link)
    });
    if let Err(e) = served {
        eprintln!("redis_mq: the web server stopped: {e}");
        std::process::exit(1)
    }
}
