//! The next lesson: `consumer --reliable` (at-least-once) and competing
//! consumers, against a real redis-server.

use std::time::Duration;

use crate::support::*;
use redis::Commands;

fn preload(redis: &RedisServer, count: usize) -> Vec<String> {
    let names: Vec<String> = (0..count).map(|n| format!("e{n}")).collect();
    let mut conn = redis.conn();
    for chunk in names.chunks(1000) {
        let _: () = conn.rpush(QUEUE, chunk).expect("rpush");
    }
    names
}

fn reliable_consumer(redis: &RedisServer) -> Program {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_consumer"));
    command.arg("--reliable");
    Program::start_with(
        command,
        &[("REDIS_URL", &redis.url(1)), ("CONSUMER_NAME", "test")],
    )
}

/// `consumer --reliable` SIGKILLed half-way through 10,000 elements, restarted with the same
/// name: nothing lost, at most the one in flight printed twice.
#[test]
fn reliable_consumer_killed_mid_run_loses_nothing() {
    let redis = RedisServer::start();
    let names = preload(&redis, 10_000);
    let mut first = reliable_consumer(&redis);
    first.wait_stdout(3001, Duration::from_secs(30));
    first.kill(); // SIGKILL, in the middle of the run
    std::thread::sleep(Duration::from_millis(100));
    let before = tasks(&first.stdout_lines());
    assert!(
        before.len() >= 3000 && before.len() < 10_000,
        "{}",
        before.len()
    );

    let mut second = reliable_consumer(&redis);
    assert!(
        wait_empty(&redis, &[QUEUE, PROCESSING]),
        "both lists empty at the end"
    );
    let after = second.stop_and_collect();

    let all: Vec<String> = before.iter().chain(after.iter()).cloned().collect();
    let counts = count_each(&all);
    for name in &names {
        assert!(counts.contains_key(name.as_str()), "{name} never printed");
    }
    let duplicates: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        duplicates.len() <= 1,
        "only the one in flight: {duplicates:?}"
    );
    assert!(all.len() <= 10_001, "{}", all.len());
}

/// The plain consumer mirrors the original: BLPOP only, no processing list.
#[test]
fn plain_consumer_has_no_processing_list() {
    let redis = RedisServer::start();
    preload(&redis, 100);
    let consumer = start_consumer(&redis, &[]);
    consumer.wait_stdout(101, Duration::from_secs(10));
    let lists: Vec<String> = redis.conn().keys("{task:prodcons:queue}:processing*").expect("keys");
    assert!(
        lists.is_empty(),
        "the default mirrors the original: BLPOP only"
    );
}

/// Four plain consumers on one queue: each of 20,000 elements printed exactly once, the work
/// split.
#[test]
fn four_competing_consumers_share_the_work_exactly_once() {
    let redis = RedisServer::start();
    let mut consumers: Vec<Program> = (0..4).map(|_| start_consumer(&redis, &[])).collect();
    let names = preload(&redis, 20_000);
    assert!(
        wait_empty(&redis, &[QUEUE, PROCESSING]),
        "the queue is drained"
    );
    let per_consumer: Vec<Vec<String>> =
        consumers.iter_mut().map(Program::stop_and_collect).collect();
    let all: Vec<String> = per_consumer.concat();
    assert_eq!(all.len(), 20_000, "none missing, none twice");
    let counts = count_each(&all);
    assert_eq!(counts.len(), 20_000);
    assert!(names.iter().all(|n| counts.get(n.as_str()) == Some(&1)));
    let shares: Vec<usize> = per_consumer.iter().map(Vec::len).collect();
    eprintln!("elements per consumer: {shares:?}");
    assert!(shares.iter().filter(|&&s| s > 0).count() >= 2, "{shares:?}");
}

/// An unknown argument: one line naming `--reliable`, exit status 2.
#[test]
fn unknown_consumer_argument_exits_2() {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_consumer"));
    command.arg("--fast");
    let mut consumer = Program::start_with(command, &[]);
    assert_eq!(consumer.wait_exit(Duration::from_secs(10)), Some(2));
    let err = consumer.stderr_lines();
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(err[0].contains("--reliable"), "{err:?}");
}

/// One processing list was shared: a second reliable consumer that started
/// re-printed what the first was working on. Each now has its own.
#[test]
fn two_reliable_consumers_never_reprint_each_others_work() {
    let redis = RedisServer::start();
    let start = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_consumer"));
        command.arg("--reliable");
        // No CONSUMER_NAME: the default, host name and process id, differs.
        Program::start_with(command, &[("REDIS_URL", &redis.url(1))])
    };
    let mut consumers = [start(), start()];
    let names = preload(&redis, 10_000);
    let lists = || -> Vec<String> {
        redis.conn().keys("{task:prodcons:queue}:processing:*").expect("keys")
    };
    assert!(wait_empty(&redis, &[QUEUE]), "drained");
    let all_empty = eventually(Duration::from_secs(10), || {
        lists().iter().all(|l| redis.conn().llen::<_, usize>(l).is_ok_and(|n| n == 0))
    });
    assert!(all_empty, "{:?}", lists());
    let all: Vec<String> = consumers.iter_mut().flat_map(Program::stop_and_collect).collect();
    let counts = count_each(&all);
    assert_eq!(all.len(), 10_000, "none twice");
    assert!(names.iter().all(|n| counts.get(n.as_str()) == Some(&1)));
}

/// A consumer on another host died holding elements: its processing list
/// and its registered name stay, and its sign of life expires. Another consumer hands them back to
/// the queue (at start, and every 15 s), and they are printed.
#[test]
fn what_a_dead_reliable_consumer_held_is_handed_back() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    // Dead long ago: no sign of life at all.
    let _: () = conn
        .rpush("{task:prodcons:queue}:processing:gone", &["g1", "g2", "g3"])
        .expect("rpush");
    // Dead just now: its sign of life still runs for 3 s.
    let _: () = conn.rpush("{task:prodcons:queue}:processing:recent", &["r1"]).expect("rpush");
    let _: () = conn.pset_ex("{task:prodcons:queue}:consumer:recent", 1, 3000).expect("pset_ex");
    // Both had registered their names, as every reliable consumer does.
    let _: () = conn.sadd("{task:prodcons:queue}:consumers", &["gone", "recent"]).expect("sadd");

    let consumer = reliable_consumer(&redis);
    let lines = consumer.wait_stdout(4, Duration::from_secs(10));
    let mut first = tasks(&lines);
    first.sort();
    assert_eq!(first, ["g1", "g2", "g3"], "handed back at start");
    let still: usize = conn.llen("{task:prodcons:queue}:processing:recent").expect("llen");
    assert_eq!(still, 1, "a consumer seen 3 s ago is left alone");

    let lines = consumer.wait_stdout(5, Duration::from_secs(40));
    assert_eq!(tasks(&lines).last().map(String::as_str), Some("r1"));
    assert!(
        consumer
            .stderr_lines()
            .iter()
            .any(|l| l.contains("\"recent\" has not been seen")),
        "{:?}",
        consumer.stderr_lines()
    );
}

/// README exercise 5, step by step: a reliable consumer stopped while its
/// BLMOVE waits is handed an element, which Redis keeps in its processing
/// list; killed with SIGKILL and started again under the same name, it
/// prints that element first.
#[test]
fn exercise_5_what_a_killed_reliable_consumer_held_is_printed_at_its_restart() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let mut first = reliable_consumer(&redis);
    first.wait_stdout(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    signal(first.pid(), "-STOP");
    let _: () = conn.lpush(QUEUE, "held").expect("lpush");
    let held: Vec<String> = conn.lrange(PROCESSING, 0, -1).expect("lrange");
    assert_eq!(held, ["held"], "Redis moved it into the processing list");
    let waiting: usize = conn.llen(QUEUE).expect("llen");
    assert_eq!(waiting, 0, "the page shows 0 waiting");
    first.kill();
    assert!(tasks(&first.stdout_lines()).is_empty());
    let again = reliable_consumer(&redis);
    let lines = again.wait_stdout(2, Duration::from_secs(10));
    assert_eq!(tasks(&lines), ["held"]);
    assert!(wait_empty(&redis, &[PROCESSING]));
}
