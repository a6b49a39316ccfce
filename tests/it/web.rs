//! The web page against a real redis-server: the three routes, the answers to
//! bad requests, and a Redis outage.

use std::time::{Duration, Instant};

use crate::support::*;
use redis::Commands;

/// The page is the original's HTML, UTF-8, with the status under it.
#[test]
fn page_is_the_original_in_utf8() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let page = web.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body).expect("page is UTF-8");
    assert!(html.contains("<h3>Redis Message Queue</h3>"), "{html}");
    assert!(
        html.contains(r#"<a href="/prodcons">生产消费者模式</a>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/pubsub">发布订阅者模式</a>"#),
        "{html}"
    );
    assert!(html.contains("task:prodcons:queue: 0 waiting"), "{html}");
    assert!(html.contains("task:pubsub:channel: 0 subscribed"), "{html}");
}

/// The page shows the queue and the subscribers, and still renders when Redis is down.
#[test]
fn page_shows_each_click_land_and_the_subscribers() {
    let mut redis = RedisServer::start();
    let _subscriber = start_subscriber(&redis);
    let web = Web::start(&redis.url(1));
    assert_eq!(web.get("/prodcons").status, 302);
    assert_eq!(web.get("/prodcons").status, 302);
    let html = web.get("/").text();
    assert!(html.contains("task:prodcons:queue: 2 waiting"), "{html}");
    assert!(html.contains("task:pubsub:channel: 1 subscribed"), "{html}");

    redis.kill();
    let page = web.get("/");
    assert_eq!(page.status, 200, "the page still renders");
    let html = page.text();
    assert!(html.contains("生产消费者模式"), "{html}");
    assert!(
        html.contains("not reachable: queue length and subscribers unknown"),
        "{html}"
    );
}

/// `/prodcons`: one push of a digit 0-9 per click, 302 to `/`, logged as the original logged
/// it.
#[test]
fn prodcons_pushes_one_digit_and_redirects() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let mut conn = redis.conn();
    for n in 1..=3 {
        let answer = web.get("/prodcons");
        assert_eq!(answer.status, 302);
        assert_eq!(answer.header("Location"), Some("/"));
        let len: usize = conn.llen(QUEUE).expect("llen");
        assert_eq!(len, n, "one push per request");
    }
    let values: Vec<String> = conn.lrange(QUEUE, 0, -1).expect("lrange");
    for v in &values {
        let digit: u8 = v.parse().expect("decimal text");
        assert!(digit <= 9, "{v}");
    }
    // The web server logs each push, as the original did.
    let logged = web
        .program
        .wait_stderr("lpush task:prodcons:queue -- ", Duration::from_secs(5))
        .expect("lpush log line");
    let value = logged.rsplit("-- ").next().expect("value");
    assert!(values.contains(&value.to_owned()), "{logged} vs {values:?}");
}

/// The queue is in db 1, and nothing else is written to Redis.
#[test]
fn the_queue_is_in_db_1_and_nothing_else_is_written() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    assert_eq!(web.get("/prodcons").status, 302);
    let mut db0 = redis::Client::open(redis.url(0))
        .and_then(|c| c.get_connection())
        .expect("db 0");
    let keys0: Vec<String> = db0.keys("*").expect("keys");
    assert!(keys0.is_empty(), "db 0 untouched: {keys0:?}");
    let keys1: Vec<String> = redis.conn().keys("*").expect("keys");
    assert_eq!(keys1, vec![QUEUE.to_owned()]);
}

/// `/pubsub`: the real subscriber prints the digit, and the log says it was received.
#[test]
fn pubsub_reaches_the_real_subscriber() {
    let redis = RedisServer::start();
    let subscriber = start_subscriber(&redis);
    let web = Web::start(&redis.url(1));
    let answer = web.get("/pubsub");
    assert_eq!(answer.status, 302);
    assert_eq!(answer.header("Location"), Some("/"));
    let lines = subscriber.wait_stdout(2, Duration::from_secs(10));
    let got = tasks(&lines);
    assert_eq!(got.len(), 1, "{lines:?}");
    let digit: u8 = got[0].parse().expect("digit");
    assert!(digit <= 9);
    let logged = web
        .program
        .wait_stderr("publish task:pubsub:channel -- ", Duration::from_secs(5))
        .expect("publish log line");
    assert!(
        logged.contains(&format!("-- {digit} (received by 1 subscribers)")),
        "{logged}"
    );
    // Nothing went to the list.
    let len: usize = redis.conn().llen(QUEUE).expect("llen");
    assert_eq!(len, 0);
}

/// A publish nobody hears: the log says it is gone (pub/sub keeps nothing).
#[test]
fn publish_with_no_subscriber_says_it_is_gone() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    assert_eq!(web.get("/pubsub").status, 302);
    let logged = web
        .program
        .wait_stderr("publish task:pubsub:channel", Duration::from_secs(5))
        .expect("publish log line");
    assert!(logged.contains("no subscriber"), "{logged}");
}

/// 404 for unknown paths (HEAD too), 405 with `Allow` for other methods, HEAD changes
/// nothing, query strings are ignored.
#[test]
fn unknown_paths_methods_head_and_queries() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let mut conn = redis.conn();

    for path in ["/nope", "/prodcons/", "/../", "/%70rodcons", "/favicon.ico"] {
        assert_eq!(web.get(path).status, 404, "{path}");
    }

    for method in ["POST", "PUT", "DELETE"] {
        let answer = web.request(&format!(
            "{method} /prodcons HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ));
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.header("Allow"), Some("GET, HEAD"));
    }

    let head = web.request("HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD has no body");
    let head = web.request("HEAD /prodcons HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 302);
    // Was 302, while GET answers 404.
    let head = web.request("HEAD /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 404, "HEAD of an unknown path");
    let len: usize = conn.llen(QUEUE).expect("llen");
    assert_eq!(len, 0, "neither 405s nor HEAD push anything");

    assert_eq!(web.get("/?x=1").status, 200);
    assert_eq!(web.get("/prodcons?x=1").status, 302);
    let len: usize = conn.llen(QUEUE).expect("llen");
    assert_eq!(len, 1, "a query string is ignored: /prodcons?x=1 pushes");
}

/// Redis down: 503, an HTML page saying nothing was pushed, how to start Redis and a way back;
/// 302 once it is back.
#[test]
fn redis_down_gives_503_then_recovers() {
    let mut redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    assert_eq!(web.get("/prodcons").status, 302);

    redis.kill();
    // A person's next click comes later than this; the worker's kept
    // connection then fails its PING, so nothing is sent: 503, not 504.
    std::thread::sleep(Duration::from_millis(50));
    for path in ["/prodcons", "/pubsub"] {
        let started = Instant::now();
        let answer = web.get(path);
        assert_eq!(answer.status, 503, "{path}");
        assert_eq!(
            answer.header("Content-Type"),
            Some("text/html; charset=utf-8")
        );
        // A generous bound: it only catches a request that hangs.
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{path} did not hang"
        );
        let text = answer.text();
        assert!(
            text.contains(&format!("127.0.0.1:{}", redis.port)),
            "{text}"
        );
        assert!(text.contains("cannot reach Redis"), "{text}");
        assert!(text.contains("nothing was pushed"), "{text}");
        assert!(text.contains(r#"<a href="/">"#), "a way back: {text}");
        assert!(text.contains("scripts/demo"), "how to start Redis: {text}");
    }
    // The page itself does not need Redis.
    assert_eq!(web.get("/").status, 200);

    redis.restart();
    assert_eq!(web.get("/prodcons").status, 302, "back without a restart");
    let len: usize = redis.conn().llen(QUEUE).expect("llen");
    assert_eq!(
        len, 1,
        "the fresh Redis holds the one push made after it came back"
    );
}

/// A bad setting: one line naming the variable (never the password), exit status 2, nothing
/// started.
#[test]
fn bad_settings_exit_2_with_one_line() {
    let cases: [(&str, &[(&str, &str)]); 6] = [
        (env!("CARGO_BIN_EXE_web"), &[("REDIS_URL", "http://nope")]),
        (
            env!("CARGO_BIN_EXE_consumer"),
            &[("REDIS_URL", "redis://:pw@host:notaport/1")],
        ),
        (
            env!("CARGO_BIN_EXE_subscriber"),
            &[("REDIS_URL", "not a url")],
        ),
        (env!("CARGO_BIN_EXE_web"), &[("BIND", "nowhere")]),
        (env!("CARGO_BIN_EXE_web"), &[("WORKERS", "0")]),
        (env!("CARGO_BIN_EXE_consumer"), &[("LOG_LEVEL", "loud")]),
    ];
    for (exe, env) in cases {
        let mut program = Program::start(exe, env);
        let line = program.exits_with_one_line(2, &format!("{exe} {env:?}"));
        let name = env[0].0;
        assert!(line.contains(name), "{line} names {name}");
        assert!(!line.contains("pw"), "no password in {line}");
        assert!(program.stdout_lines().is_empty(), "nothing started: {exe}");
    }
}

/// A port in use: one line naming the address and `in use`, exit status 1.
#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut web = Program::start(env!("CARGO_BIN_EXE_web"), &[("BIND", &addr)]);
    let status = web.wait_exit(Duration::from_secs(10));
    assert!(matches!(status, Some(s) if s != 0), "{status:?}");
    let err = web.stderr_lines().join("\n");
    assert!(err.contains(&addr) && err.contains("in use"), "{err}");
}

/// The queue's key holds a string: 500 with Redis's WRONGTYPE, and fine again once it is a
/// list.
#[test]
fn a_key_of_the_wrong_type_is_a_500_with_redis_words() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let _: () = redis.conn().set(QUEUE, "not a list").expect("set");
    let answer = web.get("/prodcons");
    assert_eq!(answer.status, 500);
    assert!(answer.text().contains("WRONGTYPE"), "{}", answer.text());
    let _: () = redis.conn().del(QUEUE).expect("del");
    assert_eq!(
        web.get("/prodcons").status,
        302,
        "fine again once it is a list"
    );
}

/// Every rejected `REDIS_URL` said "it did not parse", a `BIND` address this
/// host does not have said "is another server using it?". Now each says
/// what is wrong: an unsupported scheme by name, with what is supported.
#[test]
fn unusable_settings_say_what_is_wrong() {
    let cases: [(Env, &str, i32); 6] = [
        (&[("REDIS_SENTINELS", "nowhere")], "REDIS_SENTINELS", 2),
        (
            &[
                ("REDIS_SENTINELS", "127.0.0.1:26379"),
                ("REDIS_MASTER", "two words"),
            ],
            "REDIS_MASTER",
            2,
        ),
        (
            &[("REDIS_URL", "unix:///run/redis.sock")],
            "Unix sockets are not supported",
            2,
        ),
        (
            &[("REDIS_URL", "redis+unix:///run/redis.sock")],
            "Unix sockets are not supported",
            2,
        ),
        (&[("REDIS_URL", "http://h/")], "only redis://", 2),
        // TEST-NET-1: no host has it, so the bind fails at once and nothing is sent.
        (
            &[("BIND", "192.0.2.1:5000")],
            "this host has no such address",
            1,
        ),
    ];
    for (env, words, expected) in cases {
        let line = Program::start(env!("CARGO_BIN_EXE_web"), env)
            .exits_with_one_line(expected, &format!("{env:?}"));
        assert!(line.contains(words), "{env:?}: {line}");
        assert!(!line.contains("pw"), "{line}");
        assert!(!line.contains("another server"), "{line}");
    }
}
