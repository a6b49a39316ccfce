//! What a route answers ([`Reply`]) and how that becomes HTTP: the status,
//! the page of a failed click, HEAD, and a panic. The routes themselves are
//! in `bin/web.rs`, beside the original's; the threads that call
//! [`respond`] are in `src/server.rs`.
//!
//! What the routes never see: HEAD (answered as GET without a body, and
//! never running a route that writes), and panics. Oversized or malformed
//! requests never reach here at all: the patched tiny_http answers them
//! (`vendor/tiny_http/PATCHES.md`).

use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::Duration;

use log::warn;
use tiny_http::{Header, Method, Request, Response, StatusCode};

use crate::failure::Failure;

/// Every answer that needs Redis comes within this time of the request,
/// whatever Redis does, including the time the request waited for a worker.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// What a route answers, before it becomes HTTP.
#[derive(Debug)]
pub enum Reply {
    Page(String),
    Redirect(&'static str),
    NotFound,
    MethodNotAllowed,
    /// Redis did not do what the route asked; the [`Failure`] says whether
    /// it may have.
    Failed(Failure),
    /// Pushed on the primary (this node), and no replica confirmed it in
    /// time (where there are replicas: Sentinel, a cluster): a failover now
    /// may lose it.
    NotOnAReplica(String),
    /// The server was asked to stop before this request came: nothing ran.
    Stopping,
}

/// Answers one request with `route(method, path)`; false when the route
/// panicked (the request got 500, and the caller's connection may be
/// half-way through a reply).
///
/// HEAD must not change anything: `HEAD /` is answered as `GET /` (tiny_http
/// leaves out the body); any other HEAD asks the route table with HEAD,
/// which runs no route, so an unknown path is 404 and a route that writes
/// (405 for HEAD) answers its redirect to `/` without running. A query
/// string is ignored, as Flask ignores it here.
pub fn respond(request: Request, route: impl FnOnce(&Method, &str) -> Reply) -> bool {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let method = request.method().clone();
    let answered = panic::catch_unwind(AssertUnwindSafe(|| {
        let reply = match method {
            Method::Head if path == "/" => route(&Method::Get, &path),
            Method::Head => match route(&Method::Head, &path) {
                Reply::MethodNotAllowed => Reply::Redirect("/"),
                reply => reply,
            },
            _ => route(&method, &path),
        };
        // A failed or unconfirmed click: the log says what its page says,
        // once; the same again is counted.
        if let (Reply::Failed(_) | Reply::NotOnAReplica(_), Some((said, _))) =
            (&reply, reply.said())
        {
            say_once(&said);
        }
        // The client may have gone; nothing is lost by not telling it.
        let _ = request.respond(reply.into_response());
    }));
    if answered.is_err() {
        warn!("a request to {path} panicked; answered 500, and the worker goes on");
    }
    answered.is_ok()
}

/// Warns `said`, unless it is what the last failed click said: then only
/// at the 2nd, 4th, 8th... such click, with the count, so that an outage
/// under clicks is a few lines, not one per click.
fn say_once(said: &str) {
    static LAST: Mutex<(String, u64)> = Mutex::new((String::new(), 0));
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if last.0 == said {
        last.1 += 1;
        if last.1.is_power_of_two() {
            warn!("{} more clicks answered the same", last.1);
        }
    } else {
        warn!("{said}");
        *last = (said.to_owned(), 0);
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
            Reply::NotOnAReplica(_) => 202,
            Reply::Stopping => 503,
            Reply::Failed(failure) => failure.status(),
        }
    }

    /// What the page of a failed or unconfirmed click says, and what the
    /// user can do; `None` for the other replies.
    fn said(&self) -> Option<(String, &'static str)> {
        match self {
            Reply::Failed(failure) => Some(failure.for_a_click()),
            Reply::NotOnAReplica(node) => Some((
                format!(
                    "Pushed on the primary {node}, but no replica has it yet (none confirmed it in \
                     the click's time, or none is connected): until one has it, a failover may lose it."
                ),
                "It waits in the queue like any other; another click pushes another element. The page counts the primary's replicas: pushes are confirmed again once one is connected.",
            )),
            Reply::Stopping => Some((
                "The web server is stopping: nothing was pushed or published.".to_owned(),
                "Start it again, then click again.",
            )),
            _ => None,
        }
    }

    /// The reply as HTTP. The text names the address and db, never the
    /// URL: it may hold a password.
    fn into_response(self) -> Response<Cursor<Vec<u8>>> {
        let status = StatusCode(self.status_code());
        if let Some((said, advice)) = self.said() {
            return html_response(error_page(&said, advice)).with_status_code(status);
        }
        match self {
            Reply::Page(html) => html_response(html),
            Reply::Redirect(to) => Response::from_string("")
                .with_status_code(status)
                .with_header(header("Location", to)),
            Reply::MethodNotAllowed => text_response("Method Not Allowed: use GET\n")
                .with_status_code(status)
                .with_header(header("Allow", "GET, HEAD")),
            _ => text_response("Not Found\n").with_status_code(status),
        }
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
#[path = "../tests/unit/http.rs"]
mod tests;
