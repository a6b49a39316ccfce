//! The third lesson: `/stream` adds to a Redis Stream, `stream_consumer`
//! reads it in a consumer group; and the Python version of the reader
//! (`python/stream_consumer.py`) against the Rust web, both ways.

use std::process::Command;
use std::time::{Duration, Instant};

use redis::Commands;

use crate::support::*;

const STREAM: &str = "{task:prodcons:queue}:stream";
const DEAD: &str = "{task:prodcons:queue}:stream:dead";
const GROUP: &str = "task:stream:group";

/// A stream consumer named `name` on db 1 of `redis`, once it printed its
/// start line.
fn reader(redis: &RedisServer, name: &str, env: &[(&str, &str)]) -> Program {
    let url = redis.url(1);
    let mut all = vec![("REDIS_URL", url.as_str()), ("CONSUMER_NAME", name)];
    all.extend_from_slice(env);
    let program = Program::start(env!("CARGO_BIN_EXE_stream_consumer"), &all);
    let first = program.wait_stdout(1, Duration::from_secs(10));
    assert_eq!(first.first().map(String::as_str), Some("监听任务流"));
    program
}

/// The Python reader (Debian's python3 with python3-redis).
fn python_reader(redis: &RedisServer, name: &str, env: &[(&str, &str)]) -> Program {
    let mut command = Command::new("/usr/bin/python3");
    command.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/python/stream_consumer.py"
    ));
    let url = redis.url(1);
    let mut all = vec![("REDIS_URL", url.as_str()), ("CONSUMER_NAME", name)];
    all.extend_from_slice(env);
    let program = Program::start_with(command, &all);
    let first = program.wait_stdout(1, Duration::from_secs(10));
    assert_eq!(
        first.first().map(String::as_str),
        Some("监听任务流"),
        "{:?}",
        program.stderr_lines()
    );
    program
}

/// `n` clicks on `/stream`, each a 302; the elements added, in order, as
/// the web's log says (read once it has said them all).
fn clicks(web: &Web, n: usize) -> Vec<String> {
    let added = || -> Vec<String> {
        let log = web.program.stderr_lines();
        log.iter()
            .filter_map(|l| l.split("xadd {task:prodcons:queue}:stream -- ").nth(1))
            .filter_map(|rest| rest.split(' ').next().map(str::to_owned))
            .collect()
    };
    let before = added().len();
    for _ in 0..n {
        let answer = web.get("/stream");
        assert_eq!(answer.status, 302, "{}", answer.text());
    }
    let said = eventually(Duration::from_secs(5), || added().len() >= before + n);
    assert!(said, "{:?}", web.program.stderr_lines());
    added()[before..before + n].to_vec()
}

/// Waits until the group has nothing pending (`XPENDING` counts 0).
fn all_acknowledged(redis: &RedisServer) -> bool {
    eventually(Duration::from_secs(20), || {
        let pending: Vec<redis::Value> = redis::cmd("XPENDING")
            .arg(STREAM)
            .arg(GROUP)
            .query(&mut redis.conn())
            .unwrap_or_default();
        matches!(pending.first(), Some(redis::Value::Int(0)))
    })
}

/// The page's third link adds to the stream; one reader prints each, in
/// order, and acknowledges it; the page shows the stream, the group and
/// the reader.
#[test]
fn a_stream_consumer_prints_every_click() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let page = web.get("/").text();
    assert!(
        page.contains("<a href=\"/stream\">流消费组模式</a>"),
        "{page}"
    );
    let one = reader(&redis, "one", &[]);
    let added = clicks(&web, 5);
    assert_eq!(tasks(&one.wait_stdout(6, Duration::from_secs(10))), added);
    assert!(all_acknowledged(&redis), "every entry acknowledged");
    let page = web.get("/").text();
    for shown in [
        "{task:prodcons:queue}:stream: 5 entries",
        "group task:stream:group: 0 pending, lag 0",
        "one 0 pending",
        "0 dead letters",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
}

/// A reader killed with -9 after its print and before its `XACK` (it
/// works 20 s on each entry): another member of the group prints the entry
/// once it has been idle for the claim time; and the killed one, started
/// again under its name, prints it again too (its own pending entries
/// come first). At least once: never lost.
#[test]
fn a_reader_killed_before_its_xack_loses_nothing() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let claim = [("CLAIM_IDLE_MS", "2000")];
    let mut slow = reader(&redis, "slow", &[("WORK_MS", "20000"), claim[0]]);
    let added = clicks(&web, 1);
    assert_eq!(tasks(&slow.wait_stdout(2, Duration::from_secs(10))), added);
    slow.kill();
    let killed = Instant::now();
    let other = reader(&redis, "other", &claim);
    let taken = other.wait_stdout(2, Duration::from_secs(15));
    eprintln!("taken over {:?} after the kill", killed.elapsed());
    assert_eq!(tasks(&taken), added, "{:?}", other.stderr_lines());
    assert!(all_acknowledged(&redis));
    let more = clicks(&web, 2);
    assert_eq!(
        tasks(&other.wait_stdout(4, Duration::from_secs(10)))[1..],
        more
    );
    drop(other);

    // One reader alone: started again under its name, it reads back what it
    // was given and never acknowledged, first.
    let mut alone = reader(&redis, "alone", &[("WORK_MS", "20000")]);
    let one = clicks(&web, 1);
    assert_eq!(tasks(&alone.wait_stdout(2, Duration::from_secs(10))), one);
    alone.kill();
    let again = reader(&redis, "alone", &[]);
    assert_eq!(tasks(&again.wait_stdout(2, Duration::from_secs(10))), one);
}

/// An entry whose handling always fails (`FAIL_ON`) is delivered again
/// after each claim time, and after `MAX_DELIVERIES` it goes to the dead
/// letters with why, acknowledged; so does one that has no `elem` field,
/// at once. The page shows both.
#[test]
fn what_always_fails_ends_among_the_dead_letters() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let env = [
        ("FAIL_ON", "poison"),
        ("MAX_DELIVERIES", "2"),
        ("CLAIM_IDLE_MS", "500"),
    ];
    let one = reader(&redis, "one", &env);
    let mut conn = redis.conn();
    let _: String = conn.xadd(STREAM, "*", &[("elem", "poison")]).expect("xadd");
    let _: String = conn.xadd(STREAM, "*", &[("junk", "1")]).expect("xadd");
    let dead = eventually(Duration::from_secs(15), || {
        conn.xlen::<_, usize>(DEAD).unwrap_or(0) == 2
    });
    assert!(dead, "{:?}", one.stderr_lines());
    let page = web.get("/").text();
    for shown in [
        "2 dead letters",
        "(poison: delivered 3 times)",
        "(: no elem field)",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(all_acknowledged(&redis));
    let added = clicks(&web, 2);
    assert_eq!(tasks(&one.wait_stdout(3, Duration::from_secs(10))), added);
}

/// Faults, each said in a sentence, none a panic or a busy loop: the
/// stream's key holds a string (the reader waits with the backoff, a click
/// is 500 WRONGTYPE); the group deleted under a running reader (made
/// again); Redis restarted without persistence (the reader reconnects and
/// makes the group again); entries trimmed by `MAXLEN` while a reader held
/// them (said, lost, acknowledged).
#[test]
fn stream_faults_are_said_and_waited_out() {
    let mut redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let _: () = redis.conn().set(STREAM, "not a stream").expect("set");
    let one = reader(&redis, "one", &[]);
    std::thread::sleep(Duration::from_secs(2));
    let refused = one.stderr_lines().iter().filter(|l| l.contains("WRONGTYPE")).count();
    assert_eq!(
        refused,
        1,
        "said once, then counted: {:?}",
        one.stderr_lines()
    );
    let click = web.get("/stream");
    assert_eq!(click.status, 500, "{}", click.text());
    assert!(click.text().contains("WRONGTYPE"), "{}", click.text());
    let _: () = redis.conn().del(STREAM).expect("del");
    let added = clicks(&web, 1);
    assert_eq!(tasks(&one.wait_stdout(2, Duration::from_secs(15))), added);

    let _: () = redis::cmd("XGROUP")
        .arg(&["DESTROY", STREAM, GROUP])
        .query(&mut redis.conn())
        .expect("destroy");
    // Made again from the stream's first entry: what is still in the
    // stream is delivered again (at least once), the new one too.
    let added = clicks(&web, 1);
    let again = eventually(Duration::from_secs(15), || {
        tasks(&one.stdout_lines())[1..].ends_with(&added)
    });
    assert!(again, "{:?} {:?}", one.stdout_lines(), one.stderr_lines());
    assert!(
        one.stderr_lines().iter().any(|l| l.contains("made the consumer group")),
        "{:?}",
        one.stderr_lines()
    );

    redis.kill();
    redis.restart();
    let back = eventually(Duration::from_secs(15), || web.get("/stream").status == 302);
    assert!(back, "the web adds again");
    let before = tasks(&one.stdout_lines()).len();
    let added = clicks(&web, 1);
    let printed = eventually(Duration::from_secs(20), || {
        tasks(&one.stdout_lines())[before..].ends_with(&added)
    });
    assert!(printed, "{:?}", one.stderr_lines());

    drop(one);
    let mut holder = reader(&redis, "holder", &[("WORK_MS", "20000")]);
    clicks(&web, 1);
    holder.wait_stdout(2, Duration::from_secs(10));
    holder.kill();
    let _: usize = redis::cmd("XTRIM")
        .arg(&[STREAM, "MAXLEN", "0"])
        .query(&mut redis.conn())
        .expect("xtrim");
    let again = reader(&redis, "holder", &[]);
    let said = again.wait_stderr("trimmed (MAXLEN)", Duration::from_secs(10));
    assert!(said.is_some(), "{:?}", again.stderr_lines());
    assert!(all_acknowledged(&redis));
}

/// The Python reader, in the article's style, reads what the Rust web
/// adds; a Rust reader killed before its `XACK` is taken over by the
/// Python one, and a Python one killed so by the Rust one.
#[test]
#[ignore = "needs python3-redis (Debian's; scripts/test installs it)"]
fn the_python_reader_and_the_rust_one_share_the_group() {
    let redis = RedisServer::start();
    let web = Web::start(&redis.url(1));
    let claim = ("CLAIM_IDLE_MS", "2000");
    let mut py = python_reader(&redis, "py", &[claim]);
    let added = clicks(&web, 3);
    assert_eq!(
        tasks(&py.wait_stdout(4, Duration::from_secs(10))),
        added,
        "{:?}",
        py.stderr_lines()
    );

    let mut rust = reader(&redis, "rust", &[("WORK_MS", "20000"), claim]);
    py.kill();
    let held = clicks(&web, 1);
    assert_eq!(tasks(&rust.wait_stdout(2, Duration::from_secs(10))), held);
    rust.kill();
    let py = python_reader(&redis, "py2", &[claim]);
    let taken = py.wait_stdout(2, Duration::from_secs(15));
    assert_eq!(tasks(&taken), held, "{:?}", py.stderr_lines());

    let mut py_slow = python_reader(&redis, "py-slow", &[("WORK_MS", "20000"), claim]);
    drop(py);
    let held = clicks(&web, 1);
    assert_eq!(
        tasks(&py_slow.wait_stdout(2, Duration::from_secs(10))),
        held
    );
    py_slow.kill();
    let rust = reader(&redis, "rust2", &[claim]);
    let taken = rust.wait_stdout(2, Duration::from_secs(15));
    assert_eq!(tasks(&taken), held, "{:?}", rust.stderr_lines());
    assert!(all_acknowledged(&redis));
}
