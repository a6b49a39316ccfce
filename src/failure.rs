//! Every way a talk with Redis can fail, as one value ([`Failure`]), and
//! its words: one sentence for the log and the page, the page's advice,
//! and an HTTP status. Other modules say around that sentence what they
//! were doing ("could not put the element back (...)").
//!
//! The connection (`src/connection.rs`) makes a `Failure` where the error
//! happens, knowing what it was doing (connecting, or running a command it
//! had sent); the web, the page and the workers only choose what to do
//! with it. A sentence never holds the URL (it may hold a password), a
//! certificate, a line break or any other control character: what a node
//! or the system says is made [`printable`] here, so the page, the log and
//! the HTTP body show it as text and a terminal obeys none of it.

use std::fmt;
use std::io;

use redis::{ErrorKind, RedisError};
use rustls::{AlertDescription, CertificateError};

/// What went wrong, where (the target as shown, never the password), and
/// whether the command had been sent.
#[derive(Debug)]
pub struct Failure {
    pub what: What,
    /// `localhost:6379 (db 1)`, or the sentinels' words.
    pub at: String,
    /// The command was written and no answer came: it may have run.
    pub sent: bool,
}

/// What happened, in the terms the programs act on.
#[derive(Debug, PartialEq)]
pub enum What {
    /// No connection: refused, reset, closed, a name that does not resolve.
    Unreachable(String),
    /// No answer in time: Redis may be busy (a slow command) or stopped.
    NoAnswer,
    /// TLS did not work; the words say which part and what to fix.
    Tls(String),
    /// No primary holds our keys yet: the sentinels name none, the node
    /// named is not a primary, or no node of the cluster names the slot's.
    NoPrimaryYet,
    /// This node is not the primary any more (`READONLY`, `MASTERDOWN`,
    /// `UNBLOCKED`): find the node again, at once.
    NotPrimary(String),
    /// A cluster refused `SELECT`: it has only db 0.
    ClusterHasOnlyDb0,
    /// A cluster refuses for now (`CLUSTERDOWN`: a slot has no node;
    /// `TRYAGAIN`: a slot is moving): nothing ran, try again in a moment.
    TryAgain(String),
    /// Redis refused the password (`with_sentinel`: it may be the
    /// sentinels' or the nodes').
    Password { words: String, with_sentinel: bool },
    /// Redis answered with an error (`WRONGTYPE ...`, `NOPERM ...`).
    Refused(String),
    /// An answer this program cannot use.
    Unusable(String),
}

impl Failure {
    /// `e`, from Redis at `at`; `sent` when the command had been written.
    pub fn from_redis(e: &RedisError, at: &str, sent: bool, with_sentinel: bool) -> Failure {
        let what = if let Some(words) = tls_words(e) {
            What::Tls(words)
        } else if e.is_timeout() {
            What::NoAnswer
        } else if e.detail().is_some_and(|d| d.contains("SELECT is not allowed in cluster mode")) {
            What::ClusterHasOnlyDb0
        } else if matches!(e.code(), Some("CLUSTERDOWN" | "TRYAGAIN")) {
            What::TryAgain(redis_words(e))
        } else if matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "UNBLOCKED")) {
            What::NotPrimary(redis_words(e))
        } else if e.kind() == ErrorKind::AuthenticationFailed
            || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
        {
            What::Password {
                words: redis_words(e),
                with_sentinel,
            }
        } else if e.code().is_some() {
            What::Refused(redis_words(e))
        } else if io_error(e).is_some_and(|io| io.kind() == io::ErrorKind::InvalidData) {
            // The reply went over the limit set for it (redis patch 7).
            What::Unusable("its answer is larger than this program reads of it".into())
        } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
            What::Unreachable(io_words(e))
        } else {
            What::Unusable(e.to_string())
        };
        Failure {
            what,
            at: at.to_owned(),
            sent,
        }
    }

    /// A failed connect, where a hang-up or a silence says more than on a
    /// kept connection: over TLS, no answer may be a plain Redis on a TLS
    /// port, and a close the server refusing the handshake; over plain TCP,
    /// a close at once is what a TLS-only Redis does.
    pub fn at_connect(e: &RedisError, at: &str, over_tls: bool) -> Failure {
        let closed = io_error(e).is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
            )
        });
        let words = match (over_tls, e.is_timeout(), closed) {
            (true, true, _) => {
                "TLS failed: no answer in time (Redis may be busy or stopped, or it does not speak TLS on this port)"
            }
            (true, false, true) if tls_words(e).is_none() => {
                "TLS failed: the server closed the connection during the handshake (does it speak TLS on this port?)"
            }
            (false, false, true) => {
                return Failure::new(
                    What::Tls(format!("{CLOSED_AT_ONCE} (if it wants TLS, use rediss://)")),
                    at,
                );
            }
            _ => return Failure::from_redis(e, at, false, false),
        };
        Failure::new(What::Tls(words.to_owned()), at)
    }

    /// A failure of our own making (no time left, no address).
    pub fn new(what: What, at: &str) -> Failure {
        Failure {
            what,
            at: at.to_owned(),
            sent: false,
        }
    }

    /// "No answer, or no connection": waited out, not reported as Redis's
    /// own error.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self.what,
            What::Unreachable(_) | What::NoAnswer | What::NoPrimaryYet
        ) || matches!(&self.what, What::Tls(_) if self.sent)
    }

    /// The connection cannot carry another command: lost, silent, or on a
    /// node that is no longer the primary.
    pub fn ends_the_connection(&self) -> bool {
        self.is_unreachable() || matches!(self.what, What::NotPrimary(_) | What::Tls(_))
    }

    /// The HTTP status of a click that failed so: 504 when the command may
    /// have run, 503 when Redis could not be reached, did not answer, is a
    /// cluster that cannot run it now, or answered what cannot be used (it
    /// did not run), 500 when Redis refused it.
    pub fn status(&self) -> u16 {
        match self.what {
            _ if self.sent && self.is_unreachable() => 504,
            What::Unreachable(_)
            | What::NoAnswer
            | What::Tls(_)
            | What::NoPrimaryYet
            | What::TryAgain(_)
            | What::Unusable(_) => 503,
            _ => 500,
        }
    }

    /// What a click that failed so did, for the log and the page, and what
    /// the user can do about it.
    pub fn for_a_click(&self) -> (String, &'static str) {
        if self.sent && self.is_unreachable() {
            return (
                printable(&format!(
                    "Redis at {} did not answer ({}): the push or publish may or may not have happened.",
                    self.at,
                    self.reason()
                )),
                "Look at the queue on the page before clicking again, or the element may be pushed twice.",
            );
        }
        let advice = match &self.what {
            What::NoAnswer => {
                "A Redis that is stopped (kill -STOP, a debugger) or busy (a slow command) answers once it goes on. Then go back and click again."
            }
            What::Tls(_) => {
                "Fix REDIS_URL (rediss:// for TLS) or the certificate files (REDIS_CA_FILE, REDIS_CLIENT_CERT, REDIS_CLIENT_KEY; see docs/tls.md), and restart the web server."
            }
            What::Unreachable(_) | What::NoPrimaryYet => {
                "If Redis is not running, start it (scripts/demo starts one for you); if it is, see whether it takes connections (maxclients, a firewall). Then go back and click again."
            }
            What::Password { .. } => "Check the password in REDIS_URL and restart the web server.",
            What::ClusterHasOnlyDb0 => {
                "Set REDIS_URL's db to 0 (it ends in /0) and restart the web server."
            }
            What::TryAgain(_) => {
                "A cluster cannot run a command while its slot has no node (until a replica takes over, or the node is back), while the slot moves, or while its nodes disagree on which holds it. Go back and click again in a few seconds."
            }
            What::NotPrimary(_) | What::Refused(_) => {
                "Redis says what is wrong above; fix that in Redis, then click again."
            }
            What::Unusable(_) => {
                "Is REDIS_URL the address of a Redis, and is that Redis healthy? Fix it, then click again."
            }
        };
        let said = if self.status() == 500 {
            format!(
                "{}. Nothing was pushed or published.",
                self.to_string().trim_end_matches('.')
            )
        } else {
            format!("{self}: nothing was pushed or published.")
        };
        (said, advice)
    }

    /// What a worker says of a command that failed so, before it waits or
    /// connects again.
    pub fn for_a_worker(&self) -> String {
        if self.sent && self.is_unreachable() {
            printable(&format!(
                "lost the connection to Redis at {}: {}",
                self.at,
                self.reason()
            ))
        } else {
            self.to_string()
        }
    }

    /// The short reason inside the sentence.
    fn reason(&self) -> &str {
        match &self.what {
            What::Unreachable(why) | What::Tls(why) | What::Unusable(why) => why,
            What::NoAnswer => "no answer in time",
            What::ClusterHasOnlyDb0 => "a cluster has only db 0",
            What::NoPrimaryYet => "no primary holds our keys yet",
            What::NotPrimary(why) | What::Refused(why) | What::TryAgain(why) => why,
            What::Password { words, .. } => words,
        }
    }
}

/// A plain connect the server closed before answering.
pub(crate) const CLOSED_AT_ONCE: &str = "it closed the connection at once";

/// One sentence that says what went wrong, all of it [`printable`].
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.at;
        let sentence = match &self.what {
            What::Unreachable(why) | What::Tls(why) => format!("cannot reach Redis at {at}: {why}"),
            What::NoAnswer => {
                format!("Redis at {at} did not answer in time (it may be busy or stopped)")
            }
            What::NoPrimaryYet => format!(
                "Redis at {at}: no primary holds our keys yet (a failover takes a few seconds)"
            ),
            What::ClusterHasOnlyDb0 => {
                format!("Redis at {at} is a cluster, which has only db 0: end REDIS_URL with /0")
            }
            What::Password {
                words,
                with_sentinel: true,
            } => format!(
                "Redis at {at} refused the password: {words} (with Sentinel the nodes' password is REDIS_URL's, the sentinels' own REDIS_SENTINEL_PASSWORD)"
            ),
            What::Password { words, .. } => format!("Redis at {at} refused the password: {words}"),
            What::NotPrimary(words) | What::Refused(words) => {
                format!("Redis at {at} answered with an error: {words}")
            }
            What::TryAgain(words) => format!("Redis at {at} refuses for now: {words}"),
            What::Unusable(why) => format!("cannot use the answer of Redis at {at}: {why}"),
        };
        f.write_str(&printable(&sentence))
    }
}

/// Redis's error as Redis sent it (`NOPERM this user has no permissions
/// ...`), rather than as redis-rs names its kind (`NoPerm: ...`).
fn redis_words(e: &RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

/// An I/O failure in a few words: rustls's "peer closed connection
/// without sending TLS close_notify: https://..." is only "closed".
fn io_words(e: &RedisError) -> String {
    match io_error(e) {
        Some(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            "the connection was closed".to_owned()
        }
        Some(io) => io.to_string(),
        None => e.to_string(),
    }
}

/// Text from outside (Redis, the system, rustls) as one printable line: a
/// line break or tab is a space, any other control character is shown as
/// an escape (`\u{1b}`), so a log entry or a page never breaks and a
/// terminal obeys nothing in it.
pub fn printable(text: &str) -> String {
    let parts = text
        .split(|c: char| c.is_control() && c.is_whitespace())
        .map(str::trim)
        .filter(|part| !part.is_empty());
    let mut shown = String::with_capacity(text.len());
    for part in parts {
        if !shown.is_empty() {
            shown.push(' ');
        }
        for c in part.chars() {
            match c.is_control() {
                true => shown.extend(c.escape_unicode()),
                false => shown.push(c),
            }
        }
    }
    shown
}

/// The I/O error inside `e`, if it is one. (The redis crate keeps it in an
/// `Arc`, which is what its `source()` hands out.)
fn io_error(e: &RedisError) -> Option<&io::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let source = std::error::Error::source(e)?;
    match source.downcast_ref::<Shared>() {
        Some(shared) => shared.downcast_ref::<io::Error>(),
        None => source.downcast_ref::<io::Error>(),
    }
}

/// What part of TLS failed, and what to do, when `e` is rustls's error.
fn tls_words(e: &RedisError) -> Option<String> {
    let tls = io_error(e)?.get_ref()?.downcast_ref::<rustls::Error>()?;
    use rustls::Error as E;
    let words = match tls {
        E::InvalidCertificate(bad) => return Some(certificate_words(bad)),
        E::InvalidMessage(
            rustls::InvalidMessage::HandshakePayloadTooLarge
            | rustls::InvalidMessage::MessageTooLarge,
        ) => {
            "its certificate chain (or another handshake message) is larger than this program takes, 64 KiB; have the server send only its certificate and the CAs between it and the root"
        }
        E::InvalidMessage(_) | E::PeerSentOversizedRecord => {
            "the server does not speak TLS on this port (try redis://)"
        }
        E::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown,
        ) => {
            "the server refused our client certificate, or wants one (REDIS_CLIENT_CERT, REDIS_CLIENT_KEY)"
        }
        E::AlertReceived(AlertDescription::ProtocolVersion)
        | E::PeerIncompatible(_)
        | E::AlertReceived(AlertDescription::HandshakeFailure) => {
            "the server and this program share no TLS version or cipher (this program speaks TLS 1.2 and 1.3; an older server needs tls-protocols \"TLSv1.2 TLSv1.3\")"
        }
        other => return Some(format!("TLS failed: {other}")),
    };
    Some(format!("TLS failed: {words}"))
}

/// A certificate of the server that was refused, and what to do.
fn certificate_words(bad: &CertificateError) -> String {
    use CertificateError as C;
    let words = match bad {
        C::UnknownIssuer => {
            "its certificate is not signed by a CA we trust (REDIS_CA_FILE, or the system's roots when that is unset)"
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "its certificate is not for this host name or address"
        }
        C::Expired | C::ExpiredContext { .. } => "its certificate has expired",
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "its certificate is not valid yet (is this machine's clock behind?)"
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "its certificate is not one for a server (it is for a client only); make one with extendedKeyUsage serverAuth"
        }
        C::Revoked => "its certificate has been revoked",
        C::BadSignature | C::UnsupportedSignatureAlgorithmContext { .. } => {
            "its certificate has a signature this program cannot check"
        }
        C::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "its certificate is a CA's, which rustls refuses as a server's own; make a server certificate signed by that CA (see docs/tls.md)"
        }
        _ => "its certificate is not valid",
    };
    format!("TLS failed: {words}")
}

#[cfg(test)]
#[path = "../tests/unit/failure.rs"]
mod tests;
