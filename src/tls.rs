//! TLS to Redis (`rediss://`): the certificates the programs use, read once
//! at start, and a failed handshake in words.
//!
//! The TLS itself is redis-rs's (its rustls backend; ring does the
//! cryptography). A server's certificate is checked against the system's
//! roots, or only against `REDIS_CA_FILE` when that is set, and against the
//! name the programs connect to: the host of `REDIS_URL`, or the address
//! the sentinels name. `REDIS_CLIENT_CERT` and `REDIS_CLIENT_KEY` answer a
//! server that asks for a client certificate (mutual TLS).

use std::io;

use redis::{ErrorKind, RedisError, TlsCertificates};
use rustls::{AlertDescription, CertificateError};

/// How the programs speak TLS to Redis, and to the sentinels too.
#[derive(Clone)]
pub(crate) struct Tls {
    pub certs: TlsCertificates,
    /// `rediss://...#insecure`: the certificate is not checked at all.
    pub insecure: bool,
}

/// What part of TLS failed, in words for the log and the 503 page; `None`
/// when `e` is not a TLS failure. Never the URL, never a certificate.
pub(crate) fn failure(e: &RedisError) -> Option<String> {
    let io = io_error(e)?;
    if io.get_ref().is_some_and(|e| e.is::<NoAnswer>()) {
        return Some("TLS failed: no answer in time (Redis may be busy or stopped, or it does not speak TLS on this port)".to_owned());
    }
    if io.get_ref().is_some_and(|e| e.is::<HungUp>()) {
        return Some(
            "it closed the connection at once (if it wants TLS, use rediss://)".to_owned(),
        );
    }
    let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        // The server hung up in the middle of the handshake.
        return (io.kind() == io::ErrorKind::UnexpectedEof && e.kind() == ErrorKind::Io)
            .then(|| "TLS failed: the server closed the connection during the handshake (does it speak TLS on this port?)".to_owned());
    };
    use rustls::Error as E;
    Some(match tls {
        E::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "TLS failed: its certificate is not signed by a CA we trust (REDIS_CA_FILE, or the system's roots when that is unset)".to_owned()
        }
        E::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "TLS failed: its certificate is not for this host name or address".to_owned(),
        E::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
            "TLS failed: its certificate has expired".to_owned()
        }
        E::InvalidCertificate(other) => format!("TLS failed: its certificate is not valid ({other:?})"),
        E::InvalidMessage(_) | E::PeerSentOversizedRecord => {
            "TLS failed: the server does not speak TLS on this port (try redis://)".to_owned()
        }
        E::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown,
        ) => "TLS failed: the server refused our client certificate, or wants one (REDIS_CLIENT_CERT, REDIS_CLIENT_KEY)".to_owned(),
        other => format!("TLS failed: {other}"),
    })
}

/// The I/O error inside `e`, if it is one. (The redis crate keeps it in an
/// `Arc`, which is what its `source()` hands out.)
pub(crate) fn io_error(e: &RedisError) -> Option<&io::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let source = std::error::Error::source(e)?;
    match source.downcast_ref::<Shared>() {
        Some(shared) => shared.downcast_ref::<io::Error>(),
        None => source.downcast_ref::<io::Error>(),
    }
}

/// A connect over TLS that timed out: the handshake or the first replies
/// never came. A plain Redis behind `rediss://` does just that (it waits
/// for the end of a line that the TLS greeting never sends), as does a
/// frozen one, so the words name both.
#[derive(Debug)]
struct NoAnswer;

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no answer over TLS in time")
    }
}

impl std::error::Error for NoAnswer {}

/// A plain connect that Redis closed as soon as it was opened: what a
/// TLS-only Redis does with a `redis://` client. (Marked at the connect:
/// a kept connection closed later is only a lost connection.)
#[derive(Debug)]
struct HungUp;

impl std::fmt::Display for HungUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("closed at once")
    }
}

impl std::error::Error for HungUp {}

/// A failed connect, marked with what it may mean: over TLS a timeout is
/// [`NoAnswer`]; over plain TCP a hang-up is [`HungUp`]. Anything else is
/// `e` as it is.
pub(crate) fn while_connecting(e: RedisError, over_tls: bool) -> RedisError {
    let hung_up = e.is_connection_dropped()
        || io_error(&e).is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            )
        });
    if over_tls && e.is_timeout() {
        RedisError::from(io::Error::new(io::ErrorKind::TimedOut, NoAnswer))
    } else if !over_tls && hung_up && !e.is_timeout() && !e.is_connection_refusal() {
        RedisError::from(io::Error::new(io::ErrorKind::ConnectionReset, HungUp))
    } else {
        e
    }
}
