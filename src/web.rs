//! The original's Flask app: one page and two links, a producer and a publisher.
//!
//! Each route reads like its Python counterpart. What a route returns is a
//! [`Reply`]; [`Reply::into_response`] is the one place that turns it, or a
//! Redis error, into an HTTP status.

use std::io::Cursor;

use log::{info, warn};
use redis::{Commands, RedisError, RedisResult};
use tiny_http::{Header, Method, Request, Response, StatusCode};

use crate::names::{PRODCONS_QUEUE, PUBSUB_CHANNEL};
use crate::redis_link::{self, Link, RedisTarget};

/// The original page, byte for byte; [`index`] adds one status line.
pub const INDEX_HTML: &str = r#"
<br>
<center><h3>Redis Message Queue</h3>
<br>
<a href="/prodcons">生产消费者模式</a>
<br>
<br>
<a href="/pubsub">发布订阅者模式</a>
</center>
"#;

/// What a route answers, before it becomes HTTP.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Page(String),
    Redirect(&'static str),
    NotFound,
    MethodNotAllowed,
    /// Redis did not answer; the text names where we looked.
    RedisDown(String),
    /// Redis answered with an error (a wrong key type, a refused AUTH...).
    RedisFailed(String),
}

/// `@app.route('/')`: the original page, and under it how long the queue
/// is and how many subscribers the channel has, so each click shows.
pub fn index(rcon: &mut Link) -> Reply {
    let status = match queue_status(rcon) {
        Ok((waiting, subscribers)) => format!(
            "{PRODCONS_QUEUE}: {waiting} waiting<br>\n{PUBSUB_CHANNEL}: {subscribers} subscribed"
        ),
        Err(e) => {
            warn!("Redis at {} is not reachable: {e}", rcon.target());
            format!(
                "Redis at {} is not reachable: queue length and subscribers unknown",
                escape_html(&rcon.target().to_string())
            )
        }
    };
    Reply::Page(format!(
        "{INDEX_HTML}<center><p><small>\n{status}\n</small></p></center>\n"
    ))
}

/// `LLEN task:prodcons:queue` and `PUBSUB NUMSUB task:pubsub:channel`, in
/// one round trip.
fn queue_status(rcon: &mut Link) -> RedisResult<(usize, usize)> {
    let (waiting, (_channel, subscribers)): (usize, (String, usize)) = rcon.run(|c| {
        redis::pipe()
            .cmd("LLEN")
            .arg(PRODCONS_QUEUE)
            .cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(PUBSUB_CHANNEL)
            .query(c)
    })?;
    Ok((waiting, subscribers))
}

/// The Redis address comes from the environment: show it as text.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `@app.route('/prodcons')`: the producer.
pub fn prodcons(rcon: &mut Link) -> RedisResult<Reply> {
    let elem = rand::random_range(0..10);
    rcon.run(|c| c.lpush::<_, _, ()>(PRODCONS_QUEUE, elem))?;
    info!("lpush {} -- {}", PRODCONS_QUEUE, elem);
    Ok(redirect("/"))
}

/// `@app.route('/pubsub')`: the publisher.
pub fn pubsub(rcon: &mut Link) -> RedisResult<Reply> {
    let elem = rand::random_range(0..10);
    let receivers: usize = rcon.run(|c| c.publish(PUBSUB_CHANNEL, elem))?;
    if receivers == 0 {
        info!(
            "publish {PUBSUB_CHANNEL} -- {elem} (no subscriber: pub/sub keeps nothing, so it is gone)"
        );
    } else {
        info!("publish {PUBSUB_CHANNEL} -- {elem} (received by {receivers} subscribers)");
    }
    Ok(redirect("/"))
}

/// Flask's `redirect('/')`.
fn redirect(to: &'static str) -> Reply {
    Reply::Redirect(to)
}

/// Picks the route for a request, as Flask's routing table did.
///
/// Oversized URLs and headers, bodies and bad framing never get here:
/// tiny_http answers them (see vendor/tiny_http/PATCHES.md).
pub fn route(method: &Method, url: &str, rcon: &mut Link) -> Reply {
    // A query string is ignored, as Flask ignores it for these routes.
    let path = url.split('?').next().unwrap_or(url);
    if !matches!(path, "/" | "/prodcons" | "/pubsub") {
        return Reply::NotFound;
    }
    let result = match (method, path) {
        (Method::Get | Method::Head, "/") => Ok(index(rcon)),
        // HEAD must not change anything: answer as GET would, without pushing.
        (Method::Head, _) => Ok(redirect("/")),
        (Method::Get, "/prodcons") => prodcons(rcon),
        (Method::Get, _) => pubsub(rcon),
        _ => Ok(Reply::MethodNotAllowed),
    };
    result.unwrap_or_else(|e| Reply::from_redis_error(&e, rcon.target()))
}

/// Answers one request; tiny_http leaves out the body for HEAD.
pub fn respond(request: Request, rcon: &mut Link) {
    let reply = route(request.method(), request.url(), rcon);
    // The client may have gone; nothing is lost by not telling it.
    let _ = request.respond(reply.into_response());
}

impl Reply {
    /// The one place a Redis error becomes something the user sees. The text
    /// names the address and db, never the URL (it may hold a password).
    pub fn from_redis_error(e: &RedisError, target: &RedisTarget) -> Reply {
        if redis_link::is_unreachable(e) {
            warn!("Redis at {target} is not reachable: {e}");
            Reply::RedisDown(format!(
                "Redis at {target} is not reachable right now. Try again in a moment.\n"
            ))
        } else {
            warn!("Redis at {target} answered with an error: {e}");
            Reply::RedisFailed(format!("Redis at {target} answered with an error: {e}\n"))
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Reply::Page(_) => 200,
            Reply::Redirect(_) => 302,
            Reply::NotFound => 404,
            Reply::MethodNotAllowed => 405,
            Reply::RedisFailed(_) => 500,
            Reply::RedisDown(_) => 503,
        }
    }

    pub fn into_response(self) -> Response<Cursor<Vec<u8>>> {
        let status = StatusCode(self.status());
        let (body, extra) = match self {
            Reply::Page(html) => return html_response(html),
            Reply::Redirect(to) => (String::new(), Some(header("Location", to))),
            Reply::NotFound => ("Not Found\n".to_owned(), None),
            Reply::MethodNotAllowed => (
                "Method Not Allowed: use GET\n".to_owned(),
                Some(header("Allow", "GET, HEAD")),
            ),
            Reply::RedisDown(text) | Reply::RedisFailed(text) => (text, None),
        };
        let mut response = Response::from_string(body)
            .with_status_code(status)
            .with_header(header("Content-Type", "text/plain; charset=utf-8"));
        if let Some(extra) = extra {
            response.add_header(extra);
        }
        response
    }
}

fn html_response(html: String) -> Response<Cursor<Vec<u8>>> {
    Response::from_string(html).with_header(header("Content-Type", "text/html; charset=utf-8"))
}

/// A header from constant text, which is always valid.
fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("constant header is valid")
}
