//! The consumer and subscriber binaries against a real redis-server, fed by
//! another client, as any other language's producer would.

use std::time::Duration;

use crate::support::*;
use redis::Commands;

/// The consumer prints everything another client pushes, in BLPOP order (a backlog newest
/// first).
#[test]
fn consumer_prints_every_element_in_blpop_order() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    // A backlog first: LPUSH and BLPOP both work on the left, so the newest
    // element comes out first, as in the original.
    let _: () = conn.lpush(QUEUE, &["a", "b", "c"]).expect("lpush");
    let consumer = start_consumer(&redis, &[]);
    let lines = consumer.wait_stdout(4, Duration::from_secs(10));
    assert_eq!(tasks(&lines), vec!["c", "b", "a"]);

    // Then one at a time, while it waits in BLPOP.
    for n in 0..20 {
        let _: () = conn.lpush(QUEUE, n.to_string()).expect("lpush");
    }
    let lines = consumer.wait_stdout(24, Duration::from_secs(10));
    let got = tasks(&lines);
    assert_eq!(got.len(), 23, "{got:?}");
    let mut later: Vec<u32> = got[3..].iter().map(|s| s.parse().expect("number")).collect();
    later.sort_unstable();
    assert_eq!(later, (0..20).collect::<Vec<_>>(), "each exactly once");
    let left: usize = conn.llen(QUEUE).expect("llen");
    assert_eq!(left, 0);
}

/// The consumer reads db 1 only, as the original.
#[test]
fn consumer_reads_db_1_only() {
    let redis = RedisServer::start();
    let mut db0 = redis::Client::open(redis.url(0))
        .and_then(|c| c.get_connection())
        .expect("db 0");
    let _: () = db0.lpush(QUEUE, "db0").expect("lpush");
    let consumer = start_consumer(&redis, &[]);
    let _: () = redis.conn().lpush(QUEUE, "db1").expect("lpush");
    let lines = consumer.wait_stdout(2, Duration::from_secs(10));
    assert_eq!(tasks(&lines), vec!["db1"]);
    let left: usize = db0.llen(QUEUE).expect("llen");
    assert_eq!(left, 1, "db 0 untouched");
}

/// What the web pushes is plain decimal text any other client can pop.
#[test]
fn what_the_web_pushes_any_client_can_pop() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    assert_eq!(web.get("/prodcons").status, 302);
    let popped: Option<(String, String)> = redis.conn().blpop(QUEUE, 1.0).expect("blpop");
    let (key, value) = popped.expect("an element");
    assert_eq!(key, QUEUE);
    assert!(matches!(value.parse::<u8>(), Ok(0..=9)), "{value}");
}

/// The subscriber prints messages only, not subscription replies.
#[test]
fn subscriber_prints_messages_only() {
    let redis = RedisServer::start();
    let subscriber = start_subscriber(&redis);
    let mut conn = redis.conn();
    let _: () = redis::cmd("PUBLISH")
        .arg("some:other:channel")
        .arg("not for us")
        .query(&mut conn)
        .expect("publish");
    for n in 0..10 {
        let receivers: usize = conn.publish(CHANNEL, n).expect("publish");
        assert_eq!(receivers, 1);
    }
    let lines = subscriber.wait_stdout(11, Duration::from_secs(10));
    let expected: Vec<String> = (0..10).map(|n| n.to_string()).collect();
    assert_eq!(tasks(&lines), expected, "in order, nothing else");
}

/// Empty, 1 MiB and non-UTF-8 elements and messages are printed, never fatal.
#[test]
fn strange_elements_are_printed_not_fatal() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let consumer = start_consumer(&redis, &[]);
    let subscriber = start_subscriber(&redis);
    let big = "x".repeat(1 << 20);
    let bad_utf8: &[u8] = b"caf\xe9 \xff\x00end";
    let values: [&[u8]; 4] = [b"", big.as_bytes(), bad_utf8, b"after"];
    for v in values {
        let _: () = conn.rpush(QUEUE, v).expect("rpush");
        let receivers: usize = conn.publish(CHANNEL, v).expect("publish");
        assert_eq!(receivers, 1);
    }
    let expected = ["", big.as_str(), "caf\u{fffd} \u{fffd}\u{0}end", "after"];
    for program in [&consumer, &subscriber] {
        let lines = program.wait_stdout(5, Duration::from_secs(15));
        assert_eq!(tasks(&lines), expected.map(str::to_owned).to_vec());
    }
    let left: usize = conn.llen(QUEUE).expect("llen");
    assert_eq!(left, 0);
}

/// A key of the wrong type: the consumer logs Redis's error, backs off (no busy loop) and
/// resumes once it is a list.
#[test]
fn consumer_waits_out_a_key_of_the_wrong_type() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let _: () = conn.set(QUEUE, "not a list").expect("set");
    let consumer = start_consumer(&redis, &[]);
    std::thread::sleep(Duration::from_secs(2));
    let refused = consumer
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("answered with an error") && l.contains("WRONGTYPE"))
        .count();
    assert!(
        (1..=6).contains(&refused),
        "backoff, not a busy loop: {refused} errors in 2 s"
    );

    let _: () = conn.del(QUEUE).expect("del");
    let _: () = conn.lpush(QUEUE, "fixed").expect("lpush");
    let lines = consumer.wait_stdout(2, Duration::from_secs(15));
    assert_eq!(tasks(&lines), vec!["fixed"]);
}

/// A subscriber on a quiet channel checks its connection with PING every 5
/// quiet seconds and stays subscribed: the PONG of a subscribed connection
/// is an array, which an earlier version took for an error and
/// re-subscribed every 5 s, missing what was published meanwhile.
#[test]
fn a_quiet_subscriber_stays_subscribed() {
    let redis = RedisServer::start();
    let subscriber = start_subscriber(&redis);
    std::thread::sleep(Duration::from_secs(12));
    let err = subscriber.stderr_lines();
    let subscribed = err.iter().filter(|l| l.contains("subscribed to")).count();
    assert_eq!(subscribed, 1, "{err:?}");
    assert!(!err.iter().any(|l| l.contains("missed")), "{err:?}");
    let receivers: usize = redis.conn().publish(CHANNEL, "late").expect("publish");
    assert_eq!(receivers, 1);
    let lines = subscriber.wait_stdout(2, Duration::from_secs(5));
    assert_eq!(tasks(&lines), ["late"]);
}

/// README exercise 1, step by step: a consumer stopped (SIGSTOP) while its
/// BLPOP waits in Redis is handed the first element pushed within 2 s and
/// holds it; the rest wait, newest on the left. Continued, it prints the
/// one it held, then the others newest first. Stopped longer than 2 s, its
/// BLPOP has ended and all four wait.
#[test]
fn exercise_1_a_stopped_consumer_holds_one_and_then_takes_the_newest_first() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let consumer = start_consumer(&redis, &[]);
    std::thread::sleep(Duration::from_millis(300));
    // Clicked at once: Redis hands "a" to the stopped consumer.
    signal(consumer.pid(), "-STOP");
    for e in ["a", "b", "c", "d"] {
        let _: () = conn.lpush(QUEUE, e).expect("lpush");
    }
    let waiting: Vec<String> = conn.lrange(QUEUE, 0, -1).expect("lrange");
    assert_eq!(
        waiting,
        ["d", "c", "b"],
        "three waiting, the newest on the left"
    );
    signal(consumer.pid(), "-CONT");
    let lines = consumer.wait_stdout(5, Duration::from_secs(10));
    assert_eq!(
        tasks(&lines),
        ["a", "d", "c", "b"],
        "the held one, then newest first"
    );

    // Clicked after 3 s: the BLPOP ended, so all four wait.
    signal(consumer.pid(), "-STOP");
    std::thread::sleep(Duration::from_secs(3));
    for e in ["e", "f", "g", "h"] {
        let _: () = conn.lpush(QUEUE, e).expect("lpush");
    }
    let waiting: Vec<String> = conn.lrange(QUEUE, 0, -1).expect("lrange");
    assert_eq!(waiting, ["h", "g", "f", "e"], "four waiting");
    signal(consumer.pid(), "-CONT");
    let lines = consumer.wait_stdout(9, Duration::from_secs(10));
    assert_eq!(tasks(&lines)[4..], ["h", "g", "f", "e"]);
}
