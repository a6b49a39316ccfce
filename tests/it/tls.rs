//! TLS (`rediss://`): the three programs against a real `redis-server`
//! serving TLS with certificates made at test time: a private CA, mutual
//! TLS, each mistake in one clear line, a frozen Redis behind TLS, a TLS
//! read interrupted by a stop and a continue, and the settings refused at
//! start; and the ACL rules of `docs/tls.md`. All but the ACL test need the
//! `openssl` command for their certificates: `#[ignore]`d for a plain
//! `cargo test`, run by `scripts/test`.

use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;
use redis::Commands;

const PASSWORD: &str = "tls-secret-pw";

/// A connection over the server's plain port, with its password.
fn plain_conn(redis: &TlsRedis) -> redis::Connection {
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}/1", redis.server.port);
    let conn = redis::Client::open(url)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .expect("plain connection");
    conn.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    conn
}

fn subscribers(conn: &mut redis::Connection) -> usize {
    let counts: Vec<(String, usize)> =
        redis::cmd("PUBSUB").arg("NUMSUB").arg(CHANNEL).query(conn).expect("numsub");
    counts.first().map_or(0, |(_, n)| *n)
}

/// Everything over TLS with the CA given in `REDIS_CA_FILE`: the host name
/// checked (`localhost`) and an address checked (`127.0.0.1`); the page,
/// the three links, the consumer, the subscriber and the stream consumer;
/// no password in any line.
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn every_program_works_over_tls_with_a_private_ca() {
    let redis = TlsRedis::start("server", "no", &["--requirepass", PASSWORD]);
    let ca = certs().ca();
    let by_name = redis.url("localhost", Some(PASSWORD));
    let by_address = redis.url("127.0.0.1", Some(PASSWORD));
    let web = Web::start_env(&[("REDIS_URL", &by_name), ("REDIS_CA_FILE", &ca)]);
    let env = [("REDIS_URL", by_address.as_str()), ("REDIS_CA_FILE", &ca)];
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &env);
    let subscriber = Program::start(env!("CARGO_BIN_EXE_subscriber"), &env);
    let stream = Program::start(env!("CARGO_BIN_EXE_stream_consumer"), &env);
    let mut conn = plain_conn(&redis);
    assert!(
        eventually(Duration::from_secs(10), || subscribers(&mut conn) == 1),
        "{:?}",
        subscriber.stderr_lines()
    );

    assert_eq!(web.get("/").status, 200);
    for _ in 0..3 {
        assert_eq!(web.get("/prodcons").status, 302);
        assert_eq!(web.get("/pubsub").status, 302);
        assert_eq!(web.get("/stream").status, 302);
    }
    let page = web.get("/").text();
    let read = stream.wait_stdout(4, Duration::from_secs(10));
    assert_eq!(
        tasks(&read).len(),
        3,
        "{read:?} {:?}",
        stream.stderr_lines()
    );
    let consumed = consumer.wait_stdout(4, Duration::from_secs(10));
    let heard = subscriber.wait_stdout(4, Duration::from_secs(10));
    assert_eq!(tasks(&consumed).len(), 3, "{consumed:?}");
    assert_eq!(tasks(&heard).len(), 3, "{heard:?}");
    assert!(page.contains("published"), "{page}");

    let mut lines = web.program.stderr_lines();
    lines.extend(consumer.stderr_lines());
    lines.extend(subscriber.stderr_lines());
    lines.extend(stream.stderr_lines());
    assert!(
        lines.iter().any(|l| l.contains("connected to Redis at 127.0.0.1:")),
        "{lines:?}"
    );
    for text in lines.iter().chain([&page]) {
        assert!(
            !text.contains(PASSWORD) && !text.contains("rediss://"),
            "{text}"
        );
        assert!(!text.contains("BEGIN"), "key material: {text}");
    }
}

/// A server that asks every client for a certificate: with
/// `REDIS_CLIENT_CERT` and `REDIS_CLIENT_KEY` all works; without, the page
/// and the consumer say so in one line, and the consumer keeps trying.
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn mutual_tls_with_and_without_a_client_certificate() {
    let redis = TlsRedis::start("server", "yes", &[]);
    let certs = certs();
    let url = redis.url("localhost", None);
    let ca = certs.ca();
    let cert = certs.path("client.crt");
    let key = certs.path("client.key");
    let with = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_CA_FILE", &ca),
        ("REDIS_CLIENT_CERT", &cert),
        ("REDIS_CLIENT_KEY", &key),
    ];
    let web = Web::start_env(&with);
    assert_eq!(web.get("/prodcons").status, 302);
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &with);
    let printed = consumer.wait_stdout(2, Duration::from_secs(10));
    assert_eq!(tasks(&printed).len(), 1, "{printed:?}");

    let without = &with[..2];
    let web = Web::start_env(without);
    let refused = web.get("/prodcons");
    assert_eq!(refused.status, 503);
    assert!(
        refused.text().contains("client certificate"),
        "{}",
        refused.text()
    );
    let mut consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), without);
    let said = consumer.wait_stderr("client certificate", Duration::from_secs(10));
    assert!(said.is_some(), "{:?}", consumer.stderr_lines());
    assert!(consumer.is_running(), "it keeps trying");
}

/// Each mistake, said in one line that names it, on the page (503, within
/// the click's bound) and by a worker, which keeps trying: a CA that did
/// not sign the server's certificate, a certificate for another name, a
/// plain server behind `rediss://`, and a TLS server behind `redis://`.
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn each_tls_mistake_is_one_clear_line() {
    let ca = certs().ca();
    let stranger = TlsRedis::start("stranger", "no", &[]);
    let elsewhere = TlsRedis::start("elsewhere", "no", &[]);
    let plain = RedisServer::start();
    let tls = TlsRedis::start("server", "no", &[]);
    let cases = [
        (
            stranger.url("localhost", None),
            "not signed by a CA we trust",
        ),
        (elsewhere.url("127.0.0.1", None), "not for this host name"),
        (
            format!("rediss://127.0.0.1:{}/1", plain.port),
            "does not speak TLS",
        ),
        (
            format!("redis://127.0.0.1:{}/1", tls.tls_port),
            "if it wants TLS, use rediss://",
        ),
    ];
    for (url, words) in cases {
        let mut env = vec![("REDIS_URL", url.as_str())];
        if url.starts_with("rediss") {
            env.push(("REDIS_CA_FILE", &ca));
        }
        let web = Web::start_env(&env);
        let started = Instant::now();
        let answer = web.get("/prodcons");
        let took = started.elapsed();
        assert_eq!(answer.status, 503, "{url}: {}", answer.text());
        assert!(answer.text().contains(words), "{url}: {}", answer.text());
        // A hang catcher, not a speed: the bound is 2 s, and a connect that
        // waited out a TLS read timeout per reply would take several.
        eprintln!("{url}: answered in {took:?}");
        assert!(took < Duration::from_secs(4), "{url}: {took:?}");
        let mut consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &env);
        let said = consumer.wait_stderr(words, Duration::from_secs(10));
        assert!(said.is_some(), "{url}: {:?}", consumer.stderr_lines());
        eprintln!("{url}: {}", said.unwrap_or_default());
        if !url.contains(&plain.port.to_string()) {
            assert!(
                answer.text().contains("restart the web server"),
                "{}",
                answer.text()
            );
        }
        // The retry is said too: the capped backoff, not an exit; the same
        // failure again is counted, not said again in full.
        thread::sleep(Duration::from_millis(1500));
        assert!(
            consumer.is_running(),
            "{url}: {:?}",
            consumer.stderr_lines()
        );
        let lines = consumer.stderr_lines();
        assert!(
            lines.iter().filter(|l| l.contains(words)).count() == 1
                && lines.iter().any(|l| l.contains("the same again; try 3"))
                && !lines.iter().any(|l| l.contains(url.as_str())),
            "{url}: {lines:?}"
        );
    }
}

/// `#insecure`: a certificate nobody trusts is taken, and every program
/// says at start, as a warning, that nothing is checked.
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn insecure_skips_the_check_and_says_so() {
    let redis = TlsRedis::start("stranger", "no", &[]);
    let url = format!("{}#insecure", redis.url("127.0.0.1", None));
    let web = Web::start_env(&[("REDIS_URL", &url)]);
    assert_eq!(web.get("/prodcons").status, 302);
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &[("REDIS_URL", &url)]);
    let printed = consumer.wait_stdout(2, Duration::from_secs(10));
    assert_eq!(tasks(&printed).len(), 1, "{printed:?}");
    for lines in [web.program.stderr_lines(), consumer.stderr_lines()] {
        assert!(
            lines.iter().any(|l| l.contains("WARN") && l.contains("NOT checked")),
            "{lines:?}"
        );
    }
}

/// A Redis frozen behind TLS (SIGSTOP: the kernel still accepts the TCP
/// connection, nobody answers the handshake): cold clicks (the handshake
/// never ends) and kept ones (a connection made before the freeze) are
/// answered within the click's bound.
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn a_frozen_tls_redis_answers_every_click_in_time() {
    let redis = TlsRedis::start("server", "no", &[]);
    let ca = certs().ca();
    let url = redis.url("localhost", None);
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_CA_FILE", &ca),
        ("WORKERS", "2"),
    ];
    let kept = Web::start_env(&env);
    // Both workers connect before the freeze (keep-alive clicks would do;
    // two at once reach both workers).
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| assert_eq!(kept.get("/prodcons").status, 302));
        }
    });
    signal(redis.server.pid(), "-STOP");
    let cold = Web::start_env(&env);
    let answers: Vec<(&str, u16, Duration)> = thread::scope(|s| {
        let handles: Vec<_> = [
            (&kept, "kept"),
            (&cold, "cold"),
            (&kept, "kept"),
            (&cold, "cold"),
        ]
        .into_iter()
        .map(|(web, which)| {
            s.spawn(move || {
                let started = Instant::now();
                let status = web.get("/prodcons").status;
                (which, status, started.elapsed())
            })
        })
        .collect();
        handles.into_iter().map(|h| h.join().expect("click")).collect()
    });
    signal(redis.server.pid(), "-CONT");
    eprintln!("answers with Redis frozen behind TLS: {answers:?}");
    for (which, status, took) in answers {
        assert!(matches!(status, 503 | 504), "{which}: {status}");
        // A hang catcher (the bound is 2 s; the times are printed above).
        assert!(took < Duration::from_secs(4), "{which} took {took:?}");
    }
    // Thawed, both answer again.
    let again = eventually(Duration::from_secs(10), || {
        kept.get("/prodcons").status == 302 && cold.get("/prodcons").status == 302
    });
    assert!(again);
}

/// A consumer stopped and continued while BLPOP waits on a TLS connection:
/// the TLS read is interrupted and read again; nothing is lost.
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn a_tls_consumer_stopped_and_continued_loses_nothing() {
    let redis = TlsRedis::start("server", "no", &["--requirepass", PASSWORD]);
    let ca = certs().ca();
    let url = redis.url("localhost", Some(PASSWORD));
    let consumer = Program::start(
        env!("CARGO_BIN_EXE_consumer"),
        &[("REDIS_URL", &url), ("REDIS_CA_FILE", &ca)],
    );
    consumer
        .wait_stderr("connected to Redis", Duration::from_secs(10))
        .expect("connected");
    let mut conn = plain_conn(&redis);
    let mut sent = Vec::new();
    for round in 0..4 {
        thread::sleep(Duration::from_millis(300));
        signal(consumer.pid(), "-STOP");
        for n in 0..3 {
            let name = format!("r{round}e{n}");
            let _: () = conn.lpush(QUEUE, &name).expect("lpush");
            sent.push(name);
        }
        thread::sleep(Duration::from_millis(300));
        signal(consumer.pid(), "-CONT");
        let printed = consumer.wait_stdout(sent.len() + 1, Duration::from_secs(10));
        assert_eq!(
            tasks(&printed).len(),
            sent.len(),
            "round {round}: {printed:?}"
        );
    }
    let mut printed = tasks(&consumer.stdout_lines());
    printed.sort();
    sent.sort();
    assert_eq!(printed, sent);
    let err = consumer.stderr_lines();
    assert!(
        !err.iter().any(|l| l.contains("lost the connection")),
        "{err:?}"
    );
}

/// TLS settings that cannot be used stop each program at start with one
/// line and exit status 2, naming the variable, never the URL.
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn unusable_tls_settings_are_one_line_and_exit_2() {
    let certs = certs();
    let garbage = certs.dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    )
    .expect("garbage");
    let garbage = garbage.to_str().expect("utf-8").to_owned();
    let tls = "rediss://:pw@127.0.0.1:1/1";
    let cert = certs.path("client.crt");
    let not_its_key = certs.path("server.key");
    let cases: [(Env, &str); 6] = [
        (
            &[("REDIS_URL", tls), ("REDIS_CA_FILE", "/no/such/ca.pem")],
            "REDIS_CA_FILE",
        ),
        (
            &[
                ("REDIS_URL", "redis://:pw@127.0.0.1:1/1"),
                ("REDIS_CA_FILE", &garbage),
            ],
            "rediss://",
        ),
        (
            &[("REDIS_URL", tls), ("REDIS_CLIENT_CERT", &cert)],
            "REDIS_CLIENT_KEY",
        ),
        (
            &[("REDIS_URL", tls), ("REDIS_CA_FILE", &garbage)],
            "TLS files",
        ),
        (
            &[("REDIS_URL", "rediss://:pw@127.0.0.1:1/1#trust-me")],
            "REDIS_URL",
        ),
        (
            &[
                ("REDIS_URL", tls),
                ("REDIS_CLIENT_CERT", &cert),
                ("REDIS_CLIENT_KEY", &not_its_key),
            ],
            "do not go together",
        ),
    ];
    for exe in [
        env!("CARGO_BIN_EXE_web"),
        env!("CARGO_BIN_EXE_consumer"),
        env!("CARGO_BIN_EXE_subscriber"),
    ] {
        for (env, words) in cases {
            let line = Program::start(exe, env).exits_with_one_line(2, &format!("{exe} {env:?}"));
            assert!(line.contains(words), "{exe} {env:?}: {line}");
            assert!(!line.contains("pw@"), "{line}");
        }
    }
}

/// The ACL rules of `docs/tls.md`, read from there: each program works
/// under its own user and those rules alone. No program says NOPERM.
#[test]
fn each_program_works_under_its_acl_rules() {
    let rules = acl_rules(&["tls.md"]);
    assert_eq!(rules.len(), 5, "{rules:?}");
    let redis = RedisServer::start();
    set_acl_rules(redis.port, &rules);
    each_program_works_as_its_acl_user(|user| {
        let url = format!(
            "redis://{user}:{}-pw@127.0.0.1:{}/1",
            &user[3..],
            redis.port
        );
        vec![("REDIS_URL", url)]
    });
    assert!(wait_empty(&redis, &[QUEUE, PROCESSING]));
}

/// With `REDIS_CA_FILE` the system's roots are not used, so a system store
/// that cannot be read (here `SSL_CERT_FILE` names a missing file) does not
/// matter. (The redis crate loaded the system's roots at every connect
/// all the same, and failed the connect: redis patch 6.)
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn a_ca_file_needs_no_system_store() {
    let redis = TlsRedis::start("server", "no", &[]);
    let ca = certs().ca();
    let url = redis.url("localhost", None);
    let consumer = Program::start(
        env!("CARGO_BIN_EXE_consumer"),
        &[
            ("REDIS_URL", &url),
            ("REDIS_CA_FILE", &ca),
            ("SSL_CERT_FILE", "/no/such/bundle.pem"),
        ],
    );
    let connected = consumer.wait_stderr("connected to Redis", Duration::from_secs(10));
    assert!(connected.is_some(), "{:?}", consumer.stderr_lines());
    let _: () = redis.server.conn().rpush(QUEUE, "1").expect("rpush");
    let printed = consumer.wait_stdout(2, Duration::from_secs(10));
    assert_eq!(tasks(&printed), ["1"]);
}

/// Redis restarted under TLS clients: the consumer and the web connect
/// again by themselves, and nothing says TLS failed (a closed TLS
/// connection is a lost connection, not a handshake that failed).
#[test]
#[ignore = "needs openssl (it makes the test certificates; scripts/test installs it)"]
fn a_restarted_tls_redis_is_reconnected() {
    let mut redis = TlsRedis::start("server", "no", &[]);
    let ca = certs().ca();
    let url = redis.url("localhost", None);
    let env = [("REDIS_URL", url.as_str()), ("REDIS_CA_FILE", &ca)];
    let web = Web::start_env(&env);
    assert_eq!(web.get("/prodcons").status, 302);
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &env);
    consumer.wait_stdout(2, Duration::from_secs(10));
    redis.server.kill();
    thread::sleep(Duration::from_millis(300));
    redis.server.restart();
    let back = eventually(Duration::from_secs(10), || {
        web.get("/prodcons").status == 302
    });
    assert!(back, "the web pushes again");
    let printed = consumer.wait_stdout(3, Duration::from_secs(15));
    assert_eq!(tasks(&printed).len(), 2, "{:?}", consumer.stderr_lines());
    let mut lines = consumer.stderr_lines();
    lines.extend(web.program.stderr_lines());
    assert!(!lines.iter().any(|l| l.contains("TLS failed")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("failed tries")),
        "{lines:?}"
    );
}
