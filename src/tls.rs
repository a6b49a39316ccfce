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

use redis::{RedisError, TlsCertificates};
use rustls::{AlertDescription, CertificateError};

/// How the programs speak TLS to Redis, and to the sentinels too.
#[derive(Clone)]
pub(crate) struct Tls {
    pub certs: TlsCertificates,
    /// `rediss://...#insecure`: the certificate is not checked at all.
    pub insecure: bool,
}

/// Whether a client certificate (PEM, its chain) and key (PEM) can be used
/// together, checked at start as rustls checks them at every connect: a
/// key that is not the certificate's would otherwise fail each connect.
pub(crate) fn check_client_pair(cert: &[u8], key: &[u8]) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("REDIS_CLIENT_CERT is not a PEM certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("REDIS_CLIENT_KEY is not a PEM private key: {e}"))?;
    rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map(|_| ())
        .map_err(|e| format!("REDIS_CLIENT_CERT and REDIS_CLIENT_KEY do not go together: {e}"))
}

/// What part of TLS failed, in words for the log and the 503 page; `None`
/// when `e` is not a TLS failure. Never the URL, never a certificate.
pub(crate) fn failure(e: &RedisError) -> Option<String> {
    let io = io_error(e)?;
    if let Some(marked) = io.get_ref().and_then(|e| e.downcast_ref::<AtConnect>()) {
        return Some(marked.words().to_owned());
    }
    let tls = io.get_ref()?.downcast_ref::<rustls::Error>()?;
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

/// What a failed connect may mean, marked where it happens: the same
/// errors on a kept connection mean only that it was lost.
#[derive(Debug)]
enum AtConnect {
    /// Over TLS, a timeout: the handshake or the first replies never came.
    /// A plain Redis behind `rediss://` does just that (it waits for the
    /// end of a line that the TLS greeting never sends), as does a frozen
    /// one, so the words name both.
    NoAnswerOverTls,
    /// Over TLS, closed before the handshake ended.
    ClosedDuringHandshake,
    /// Over plain TCP, closed as soon as it was opened: what a TLS-only
    /// Redis does with a `redis://` client.
    ClosedAtOnce,
}

impl AtConnect {
    fn words(&self) -> &'static str {
        match self {
            AtConnect::NoAnswerOverTls => {
                "TLS failed: no answer in time (Redis may be busy or stopped, or it does not speak TLS on this port)"
            }
            AtConnect::ClosedDuringHandshake => {
                "TLS failed: the server closed the connection during the handshake (does it speak TLS on this port?)"
            }
            AtConnect::ClosedAtOnce => {
                "it closed the connection at once (if it wants TLS, use rediss://)"
            }
        }
    }
}

impl std::fmt::Display for AtConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}

impl std::error::Error for AtConnect {}

/// A failed connect, marked with what it may mean ([`AtConnect`]); any
/// other error is `e` as it is.
pub(crate) fn while_connecting(e: RedisError, over_tls: bool) -> RedisError {
    // Only a peer that closed: not a refused connect, nor a name that did
    // not resolve (the redis crate counts both as "dropped").
    let closed = io_error(&e).is_some_and(|io| {
        matches!(
            io.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
        )
    });
    let marked = match (over_tls, e.is_timeout(), closed) {
        (true, true, _) => AtConnect::NoAnswerOverTls,
        (true, _, true) => AtConnect::ClosedDuringHandshake,
        (false, _, true) => AtConnect::ClosedAtOnce,
        _ => return e,
    };
    let kind = if e.is_timeout() {
        io::ErrorKind::TimedOut
    } else {
        io::ErrorKind::ConnectionReset
    };
    RedisError::from(io::Error::new(kind, marked))
}
