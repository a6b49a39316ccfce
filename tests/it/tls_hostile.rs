//! TLS against slow servers and bad files: a server that trickles its
//! handshake holds neither a click nor a stop; certificate files that hold
//! no certificate, never end or are far too large are refused at start in
//! one line; each refused certificate is a sentence with its fix, and no
//! message breaks over lines. All need the `openssl` command (the
//! certificates): `#[ignore]`d for a plain `cargo test`, run by
//! `scripts/test`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// A listener that answers each ClientHello with the header of a large
/// handshake record, then one byte every 0.5 s for 30 s: a server as slow
/// as it likes. Its port.
fn trickling_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for stream in listener.incoming().take(64).flatten() {
            thread::spawn(move || {
                let mut stream = stream;
                let mut hello = [0u8; 4096];
                let _ = stream.read(&mut hello);
                let _ = stream.write_all(b"\x16\x03\x03\x40\x00");
                for _ in 0..60 {
                    thread::sleep(Duration::from_millis(500));
                    if stream.write_all(b"\x00").is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// A click against a trickling handshake answers 503 within the click's
/// bound, by address and by host name, and leaves no thread behind; a
/// consumer stuck in such handshakes stops within seconds of SIGTERM,
/// with its stop line. (Before: 20 to 30 s per click by address, a
/// thread and a socket left per click by name, a stop held as long.)
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn a_trickling_handshake_is_bounded() {
    let port = trickling_server();
    let ca = certs().ca();
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("rediss://{host}:{port}/1");
        let web = Web::start_env(&[
            ("REDIS_URL", &url),
            ("REDIS_CA_FILE", &ca),
            ("WORKERS", "2"),
        ]);
        let threads = web.threads();
        for _ in 0..4 {
            let started = Instant::now();
            let answer = web.get("/prodcons");
            let took = started.elapsed();
            eprintln!("{url}: {} in {took:?}", answer.status);
            assert_eq!(answer.status, 503, "{url}: {}", answer.text());
            // A hang catcher, not a speed: the bound is 2 s.
            assert!(took < Duration::from_secs(5), "{url}: {took:?}");
        }
        let settled = eventually(Duration::from_secs(5), || web.threads() <= threads);
        assert!(settled, "{url}: threads {threads} -> {}", web.threads());

        let mut consumer = Program::start(
            env!("CARGO_BIN_EXE_consumer"),
            &[("REDIS_URL", &url), ("REDIS_CA_FILE", &ca)],
        );
        thread::sleep(Duration::from_millis(1500));
        let asked = Instant::now();
        signal(consumer.pid(), "-TERM");
        let status = consumer.wait_exit(Duration::from_secs(10));
        eprintln!(
            "{url}: consumer stopped {:?} after SIGTERM",
            asked.elapsed()
        );
        assert_eq!(status, Some(0), "{url}: {:?}", consumer.stderr_lines());
        let lines = consumer.stderr_lines();
        assert!(
            lines.last().is_some_and(|l| l.contains("stopped, as asked")),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("no answer in time")),
            "{lines:?}"
        );
    }
}

/// Files that hold no certificate, never end, or are far too large, and
/// an encrypted client key: each program refuses each at start with one
/// line naming the setting, exit 2 (before: /dev/zero read until memory ran
/// out, a FIFO hung every program, the others were taken and every connect
/// then failed).
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn bad_certificate_files_are_refused_at_start() {
    let certs = certs();
    let dir = certs.dir.join("bad-files");
    let _ = std::fs::create_dir_all(&dir);
    let file = |name: &str| dir.join(name).to_str().expect("utf-8").to_owned();
    std::fs::write(file("empty.pem"), "").expect("empty");
    let noise: Vec<u8> =
        (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(file("noise.bin"), noise).expect("noise");
    let fifo = file("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo");
    let encrypted = file("encrypted.key");
    let out = std::process::Command::new("openssl")
        .args([
            "pkey",
            "-in",
            &certs.path("client.key"),
            "-aes256",
            "-passout",
            "pass:x",
        ])
        .args(["-out", &encrypted])
        .output()
        .expect("openssl pkey");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tls = "rediss://:pw@127.0.0.1:1/1";
    let (noise, empty) = (file("noise.bin"), file("empty.pem"));
    let cert = certs.path("client.crt");
    let key_only = certs.path("client.key");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("REDIS_CA_FILE", "/dev/zero")], "not a regular file"),
        (vec![("REDIS_CA_FILE", &fifo)], "not a regular file"),
        (vec![("REDIS_CA_FILE", &noise)], "bytes"),
        (vec![("REDIS_CA_FILE", &empty)], "no certificate"),
        (vec![("REDIS_CA_FILE", &key_only)], "no certificate"),
        (
            vec![
                ("REDIS_CLIENT_CERT", &cert),
                ("REDIS_CLIENT_KEY", &encrypted),
            ],
            "encrypted",
        ),
        (
            vec![("REDIS_CLIENT_CERT", &cert), ("REDIS_CLIENT_KEY", &cert)],
            "no private key",
        ),
    ];
    for exe in [
        env!("CARGO_BIN_EXE_web"),
        env!("CARGO_BIN_EXE_consumer"),
        env!("CARGO_BIN_EXE_subscriber"),
    ] {
        for (files, words) in &cases {
            let mut env = vec![("REDIS_URL", tls)];
            env.extend(files.iter().copied());
            let line = Program::start(exe, &env).exits_with_one_line(2, &format!("{exe} {env:?}"));
            assert!(
                line.contains(words) && line.contains(files[files.len() - 1].0),
                "{exe} {env:?}: {line}"
            );
        }
    }
}

/// Certificates refused for what they are, each said in a sentence with
/// its fix, on the page (503) and in the log, never a debug dump: one
/// certificate used as both the server's and the CA (what `redis-cli --tls`
/// accepts), a client-only certificate as the server's, and a chain too
/// large for one handshake message (it was "does not speak TLS"). An HTTPS
/// server behind `rediss://` is not "fix that in Redis", and its words
/// hold no line break.
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn refused_certificates_are_sentences() {
    let certs = certs();
    let as_ca = TlsRedis::start("ca", "no", &[]);
    let client_only = TlsRedis::start("client", "no", &[]);
    // The server's certificate followed by 200 more (about 120 KiB): more
    // than one TLS handshake message can hold.
    let ca = std::fs::read_to_string(certs.ca()).expect("ca");
    let server = std::fs::read_to_string(certs.path("server.crt")).expect("server.crt");
    std::fs::write(certs.path("big-chain.crt"), server + &ca.repeat(200)).expect("big chain");
    std::fs::copy(certs.path("server.key"), certs.path("big-chain.key")).expect("key");
    let big_chain = TlsRedis::start("big-chain", "no", &[]);
    let cases = [
        (as_ca.url("127.0.0.1", None), "is a CA's"),
        (client_only.url("127.0.0.1", None), "not one for a server"),
        (
            big_chain.url("127.0.0.1", None),
            "certificate chain (or another",
        ),
    ];
    for (url, words) in cases {
        let env = [("REDIS_URL", url.as_str()), ("REDIS_CA_FILE", &certs.ca())];
        let web = Web::start_env(&env);
        let answer = web.get("/prodcons");
        assert_eq!(answer.status, 503, "{url}: {}", answer.text());
        let text = answer.text();
        assert!(
            text.contains(words) && !text.contains("Context"),
            "{url}: {text}"
        );
        let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &env);
        let said = consumer.wait_stderr(words, Duration::from_secs(10));
        assert!(said.is_some(), "{url}: {:?}", consumer.stderr_lines());
    }

    // An HTTPS server (openssl s_server -www) behind rediss://.
    let port = free_port();
    let mut https = std::process::Command::new("openssl")
        .args(["s_server", "-accept", &port.to_string(), "-www", "-quiet"])
        .args([
            "-cert",
            &certs.path("server.crt"),
            "-key",
            &certs.path("server.key"),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let up = eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "s_server listens");
    let url = format!("rediss://127.0.0.1:{port}/1");
    let env = [("REDIS_URL", url.as_str()), ("REDIS_CA_FILE", &certs.ca())];
    let web = Web::start_env(&env);
    let text = web.get("/prodcons").text();
    let said: Vec<&str> =
        text.split("<p>").skip(1).filter_map(|p| p.split("</p>").next()).collect();
    let _ = https.kill();
    let _ = https.wait();
    assert!(!said.is_empty(), "{text}");
    assert!(
        said.iter().all(|p| !p.contains('\n')),
        "one line each: {said:?}"
    );
    assert!(!text.contains("fix that in Redis"), "{text}");
}
