//! TLS to Redis (`rediss://`): the certificate files, read and checked once
//! at start, so that a bad one is one line and exit 2, not a failure at
//! every connect.
//!
//! The TLS itself is redis-rs's (its rustls backend; ring does the
//! cryptography). A server's certificate is checked against the system's
//! roots, or only against `REDIS_CA_FILE` when that is set, and against the
//! name the programs connect to. `REDIS_CLIENT_CERT` and `REDIS_CLIENT_KEY`
//! answer a server that asks for a client certificate (mutual TLS). What a
//! failed handshake means is said in `src/failure.rs`, with every other
//! failure.

use std::fs::File;
use std::io::Read;

use redis::{ClientTlsConfig, TlsCertificates};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How the programs speak TLS to Redis, and to the sentinels too.
#[derive(Clone)]
pub(crate) struct Tls {
    pub certs: TlsCertificates,
    /// `rediss://...#insecure`: the certificate is not checked at all.
    pub insecure: bool,
}

/// Certificate bundles are kilobytes (the system's whole store is about
/// 200 KiB); anything larger is not one.
const LARGEST_FILE: u64 = 1024 * 1024;

/// The three files, each `(setting, path)` when set, read and checked: a
/// regular file of at most [`LARGEST_FILE`] bytes, holding at least one
/// PEM certificate (`REDIS_CA_FILE`, `REDIS_CLIENT_CERT`) or one
/// unencrypted private key (`REDIS_CLIENT_KEY`), and a key that belongs to
/// the certificate, checked as rustls checks it at every connect.
pub(crate) fn read_files(
    ca: Option<(&str, String)>,
    cert: Option<(&str, String)>,
    key: Option<(&str, String)>,
) -> Result<TlsCertificates, String> {
    let root_cert = ca.map(|file| certificates(&file)).transpose()?;
    let client_tls = match (cert, key) {
        (Some(cert), Some(key)) => {
            let (client_cert, chain) = certificates(&cert)?;
            let pem = read(&key)?;
            let private = private_key(&key, &pem)?;
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_client_auth_cert(chain, private)
                .map_err(|e| {
                    format!("REDIS_CLIENT_CERT and REDIS_CLIENT_KEY do not go together: {e}")
                })?;
            Some(ClientTlsConfig {
                client_cert,
                client_key: pem,
            })
        }
        (None, None) => None,
        _ => {
            return Err(
                "REDIS_CLIENT_CERT and REDIS_CLIENT_KEY go together: set both or neither".into(),
            );
        }
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert: root_cert.map(|(pem, _)| pem),
    })
}

/// The file's bytes: a regular file only (not a FIFO that never ends, nor
/// `/dev/zero`), and no larger than [`LARGEST_FILE`].
fn read((name, path): &(&str, String)) -> Result<Vec<u8>, String> {
    let bad = |why: String| format!("{name}={path:?} {why}");
    // Looked at before it is opened: opening a FIFO waits for a writer.
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(bad("is not a regular file".into()));
    }
    if meta.len() > LARGEST_FILE {
        return Err(bad(format!(
            "is {} bytes; a certificate file is a few KiB (at most {LARGEST_FILE})",
            meta.len()
        )));
    }
    let file = File::open(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(LARGEST_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    Ok(bytes)
}

/// A file's bytes and the PEM certificates in it; none is a mistake.
type Pem = (Vec<u8>, Vec<CertificateDer<'static>>);
fn certificates(file: &(&str, String)) -> Result<Pem, String> {
    let (name, path) = file;
    let pem = read(file)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{name}={path:?} is not PEM: {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "{name}={path:?} holds no certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok((pem, chain))
}

/// The one private key in `pem`; an encrypted one is said as such (rustls
/// cannot use it, and its own words would be "no items found").
fn private_key(
    (name, path): &(&str, String),
    pem: &[u8],
) -> Result<PrivateKeyDer<'static>, String> {
    // `BEGIN ENCRYPTED PRIVATE KEY` (PKCS#8), or `Proc-Type: 4,ENCRYPTED`
    // (the older OpenSSL form).
    let encrypted = pem.windows(9).any(|w| w == b"ENCRYPTED");
    if encrypted {
        return Err(format!(
            "{name}={path:?} is encrypted; give an unencrypted key (openssl pkey -in KEY -out PLAIN)"
        ));
    }
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|_| format!("{name}={path:?} holds no private key (-----BEGIN PRIVATE KEY-----)"))
}
