//! Plumbing for the web page: what a route answers ([`Reply`]), how that
//! becomes HTTP, and the one place where a Redis failure becomes a status.
//!
//! The routes themselves are in `bin/web.rs`, beside the original's. What
//! they never see: HEAD (answered as GET without a body, and never running a
//! route that writes), the time bound of each answer, and panics. Oversized
//! or malformed requests never reach here at all: the patched tiny_http
//! answers them (`vendor/tiny_http/PATCHES.md`).

use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use log::warn;
use redis::{Connection, RedisResult};
use tiny_http::{Header, Method, Request, Response, StatusCode};

use crate::redis_target::RedisTarget;
use crate::web_link::{Failure, Link};

/// Every answer that needs Redis comes within this time of the request,
/// whatever Redis does, including the time the request waited for a worker.
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// What a route answers, before it becomes HTTP.
#[derive(Debug)]
pub enum Reply {
    Page(String),
    Redirect(&'static str),
    NotFound,
    MethodNotAllowed,
    /// Redis did not do what the route asked; see [`Failure`].
    Failed(Failure),
    /// Pushed on the primary, and no replica confirmed it in time (only
    /// with Sentinel): a failover now may lose it.
    NotOnAReplica,
    /// The server was asked to stop before this request came: nothing ran.
    Stopping,
}

/// Runs a push (`/prodcons`) on the link's live connection. With Sentinel
/// it then waits, within the click's 2 s, until a replica has it (`WAIT 1`,
/// [`Link::confirm_on_a_replica`]): a 302 then means the element is on two
/// machines; none in time is [`Reply::NotOnAReplica`] (202).
pub fn push_and_confirm(
    link: &mut Link,
    push: impl FnOnce(&mut Connection) -> RedisResult<Reply>,
) -> Reply {
    match link.run(push) {
        Ok(reply) => match link.confirm_on_a_replica() {
            None | Some(1..) => reply,
            Some(0) => Reply::NotOnAReplica,
        },
        Err(failure) => Reply::Failed(failure),
    }
}

/// Runs a publish (`/pubsub`) on the link's live connection. Pub/sub
/// keeps nothing, so there is nothing for a replica to confirm.
pub fn publish(
    link: &mut Link,
    publish: impl FnOnce(&mut Connection) -> RedisResult<Reply>,
) -> Reply {
    link.run(publish).unwrap_or_else(Reply::Failed)
}

/// Answers one request with `route(method, path, link)`.
///
/// HEAD must not change anything: `HEAD /` is answered as `GET /` (tiny_http
/// leaves out the body); any other HEAD asks the route table with HEAD,
/// which runs no route, so an unknown path is 404 and a route that writes
/// (405 for HEAD) answers its redirect to `/` without running. A query string is ignored, as Flask ignores it here. A
/// panic answers this one request with 500 (tiny_http does so for a request
/// dropped unanswered) and leaves the worker running with a new connection.
pub(crate) fn respond(
    request: Request,
    link: &mut Link,
    route: impl FnOnce(&Method, &str, &mut Link) -> Reply,
) {
    link.answer_by(request.received_at() + ANSWER_WITHIN);
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let method = request.method().clone();
    let answered = panic::catch_unwind(AssertUnwindSafe(|| {
        let reply = match method {
            Method::Head if path == "/" => route(&Method::Get, &path, link),
            Method::Head => match route(&Method::Head, &path, link) {
                Reply::MethodNotAllowed => Reply::Redirect("/"),
                reply => reply,
            },
            _ => route(&method, &path, link),
        };
        let response = reply.into_response(link);
        // The client may have gone; nothing is lost by not telling it.
        let _ = request.respond(response);
    }));
    if answered.is_err() {
        warn!("a request to {path} panicked; answered 500, and the worker goes on");
        link.reset();
    }
}

impl Reply {
    /// The HTTP status code this reply is sent with.
    pub fn status_code(&self) -> u16 {
        match self {
            Reply::Page(_) => 200,
            Reply::Redirect(_) => 302,
            Reply::NotFound => 404,
            Reply::MethodNotAllowed => 405,
            Reply::NotOnAReplica => 202,
            Reply::Stopping => 503,
            Reply::Failed(failure) => match failure {
                Failure::Refused(_) => 500,
                Failure::NotSent(_) => 503,
                Failure::MaybeSent(_) => 504,
            },
        }
    }

    /// The one place a Redis failure becomes what the user sees (and the
    /// log says). The text names the address and db, never the URL: it may
    /// hold a password.
    fn into_response(self, link: &Link) -> Response<Cursor<Vec<u8>>> {
        let status = StatusCode(self.status_code());
        match self {
            Reply::Page(html) => html_response(html),
            Reply::Redirect(to) => Response::from_string("")
                .with_status_code(status)
                .with_header(header("Location", to)),
            Reply::NotFound => text_response("Not Found\n").with_status_code(status),
            Reply::MethodNotAllowed => text_response("Method Not Allowed: use GET\n")
                .with_status_code(status)
                .with_header(header("Allow", "GET, HEAD")),
            Reply::Failed(failure) => {
                let (said, advice) = failure_words(&failure, link.target());
                warn!("{said}");
                html_response(error_page(&said, advice)).with_status_code(status)
            }
            Reply::Stopping => html_response(error_page(
                "The web server is stopping: nothing was pushed or published.",
                "Start it again, then click again.",
            ))
            .with_status_code(status),
            Reply::NotOnAReplica => {
                let said = format!(
                    "Pushed on the primary {}, but no replica confirmed it within the click's time: \
                     until one has it, a failover may lose it.",
                    link.node().unwrap_or("(connection lost)")
                );
                warn!("{said}");
                let advice = "Look at the queue on the page before clicking again, or the element may be pushed twice.";
                html_response(error_page(&said, advice)).with_status_code(status)
            }
        }
    }
}

/// What a failure means for the click: one sentence for the log and the
/// page, and what the user can do about it. Redis's own refusals are put
/// the way the workers put them ([`RedisTarget::describe`]).
fn failure_words(failure: &Failure, target: &RedisTarget) -> (String, &'static str) {
    match failure {
        Failure::NotSent(e) if e.is_timeout() => (
            format!("{}: nothing was pushed or published.", target.describe(e)),
            "A Redis that is stopped (kill -STOP, a debugger) or busy (a slow command) answers once it goes on. Then go back and click again.",
        ),
        Failure::NotSent(e) if target.is_tls_mismatch(e) => (
            format!("{}: nothing was pushed or published.", target.describe(e)),
            "Fix REDIS_URL (rediss:// for TLS) or the certificate files (REDIS_CA_FILE, REDIS_CLIENT_CERT, REDIS_CLIENT_KEY; see docs/tls.md), and restart the web server.",
        ),
        Failure::NotSent(e) => (
            format!("{}: nothing was pushed or published.", target.describe(e)),
            "If Redis is not running, start it (scripts/demo starts one for you); if it is, see whether it takes connections (maxclients, a firewall). Then go back and click again.",
        ),
        Failure::MaybeSent(e) => (
            format!(
                "Redis at {target} did not answer ({e}): the push or publish may or may not have happened."
            ),
            "Look at the queue on the page before clicking again, or the element may be pushed twice.",
        ),
        Failure::Refused(e) => (
            format!("{}. Nothing was pushed or published.", target.describe(e)),
            if e.kind() == redis::ErrorKind::AuthenticationFailed {
                "Check the password in REDIS_URL and restart the web server."
            } else {
                "Redis says what is wrong above; fix that in Redis, then click again."
            },
        ),
    }
}

/// A small page for a failed click: what happened, what to do, and the way back.
fn error_page(said: &str, advice: &str) -> String {
    format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>Redis Message Queue</title>\n\
         <center><h3>Redis Message Queue</h3>\n<p>{}</p>\n<p>{}</p>\n<p><a href=\"/\">Back to the page</a></p></center>\n",
        escape_html(said),
        escape_html(advice)
    )
}

/// Why the web server cannot start on `bind`, in one line. An address this
/// host does not have is not "another server using it".
pub(crate) fn cannot_listen(
    bind: std::net::SocketAddr,
    e: &(dyn std::error::Error + Send + Sync + 'static),
) -> String {
    let hint = match e.downcast_ref::<std::io::Error>().map(std::io::Error::kind) {
        Some(std::io::ErrorKind::AddrInUse) => {
            "another server is using it; set BIND to another port"
        }
        Some(std::io::ErrorKind::AddrNotAvailable) => {
            "this host has no such address; set BIND to one of its own, such as 127.0.0.1:5000"
        }
        Some(std::io::ErrorKind::PermissionDenied) => {
            "ports below 1024 need privileges; set BIND to a higher port"
        }
        _ => "set BIND to another address",
    };
    format!("cannot listen on {bind}: {e} ({hint})")
}

/// The Redis address, its errors and queued elements come from outside:
/// show them as text.
pub(crate) fn escape_html(text: &str) -> String {
    if !text.contains(['&', '<', '>', '"']) {
        return text.to_owned();
    }
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_response(html: String) -> Response<Cursor<Vec<u8>>> {
    Response::from_string(html).with_header(header("Content-Type", "text/html; charset=utf-8"))
}

fn text_response(text: &str) -> Response<Cursor<Vec<u8>>> {
    Response::from_string(text).with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

/// A header from constant text, which is always valid.
fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("constant header is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_leaves_plain_text_alone() {
        assert_eq!(escape_html("pushed 7"), "pushed 7");
        assert_eq!(
            escape_html("<b>\"a\" & b</b>"),
            "&lt;b&gt;&quot;a&quot; &amp; b&lt;/b&gt;"
        );
    }
}
