//! Certificates made at test time (the `openssl` command, P-256 keys, valid
//! for two days), and a `redis-server` that serves TLS on a port of its own
//! beside its plain one (the tests check Redis through the plain one).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{RedisServer, free_port};

/// The files of a private CA and what it signed, in one temp dir.
pub struct Certs {
    pub dir: PathBuf,
}

impl Certs {
    /// The CA the programs are told to trust (`REDIS_CA_FILE`).
    pub fn ca(&self) -> String {
        self.path("ca.crt")
    }

    /// A file of the set, by name: `server.crt` (for `localhost` and
    /// 127.0.0.1), `node.crt` (the same, and a client too),
    /// `client.crt`/`client.key`, `elsewhere.crt` (for another
    /// name only), `stranger.crt` (signed by a CA nobody trusts).
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().expect("utf-8 dir").to_owned()
    }
}

/// The certificates, made once per test run.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("redis_mq-certs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("certs dir");
        make_ca(&dir, "ca", "redis_mq test CA");
        make_ca(&dir, "other-ca", "a CA nobody trusts");
        let server = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
        sign(&dir, "server", "ca", "localhost", server);
        sign(&dir, "stranger", "other-ca", "localhost", server);
        // A cluster's nodes show their certificate to each other as clients too.
        let node =
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n";
        sign(&dir, "node", "ca", "localhost", node);
        let elsewhere = "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n";
        sign(&dir, "elsewhere", "ca", "elsewhere.example", elsewhere);
        sign(
            &dir,
            "client",
            "ca",
            "redis_mq client",
            "extendedKeyUsage=clientAuth\n",
        );
        Certs { dir }
    })
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}); scripts/test installs it"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn key(dir: &Path, name: &str) {
    let file = format!("{name}.key");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &file,
        ],
    );
}

fn make_ca(dir: &Path, name: &str, cn: &str) {
    key(dir, name);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-sha256",
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

fn sign(dir: &Path, name: &str, ca: &str, cn: &str, extensions: &str) {
    key(dir, name);
    let csr = format!("{name}.csr");
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!("basicConstraints=CA:FALSE\n{extensions}"),
    )
    .expect("ext");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            &ext,
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// A `redis-server` with TLS on `tls_port` (its certificate: `cert`, one of
/// [`Certs::path`]'s names without `.crt`), and plain TCP on `port` as
/// always. `clients` is `tls-auth-clients`: `no`, `optional` or `yes`.
pub struct TlsRedis {
    pub server: RedisServer,
    pub tls_port: u16,
}

impl TlsRedis {
    pub fn start(cert: &str, clients: &str, extra: &[&str]) -> TlsRedis {
        let certs = certs();
        let tls_port = free_port();
        let mut args: Vec<String> = [
            "--save",
            "",
            "--appendonly",
            "no",
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &certs.path(&format!("{cert}.crt")),
            "--tls-key-file",
            &certs.path(&format!("{cert}.key")),
            "--tls-ca-cert-file",
            &certs.ca(),
            "--tls-auth-clients",
            clients,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        TlsRedis {
            server: RedisServer::with_args(&args),
            tls_port,
        }
    }

    /// `rediss://[:PASSWORD@]HOST:TLS_PORT/1`
    pub fn url(&self, host: &str, password: Option<&str>) -> String {
        let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
        format!("rediss://{auth}{host}:{}/1", self.tls_port)
    }
}
