//! The next lesson: `consumer --reliable` (at-least-once) and competing
//! consumers, against a real redis-server.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use redis::Commands;
use support::*;

const PROCESSING: &str = "task:prodcons:processing";

fn preload(redis: &RedisServer, count: usize) -> Vec<String> {
    let names: Vec<String> = (0..count).map(|n| format!("e{n}")).collect();
    let mut conn = redis.conn();
    for chunk in names.chunks(1000) {
        let _: () = conn.rpush(QUEUE, chunk).expect("rpush");
    }
    names
}

fn counts(printed: &[String]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for p in printed {
        *counts.entry(p.as_str()).or_insert(0) += 1;
    }
    counts
}

fn reliable_consumer(redis: &RedisServer) -> Program {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_consumer"));
    command.arg("--reliable");
    Program::start_with(command, &[("REDIS_URL", &redis.url(1))])
}

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

    let second = reliable_consumer(&redis);
    assert!(
        wait_empty(&redis, &[QUEUE, PROCESSING]),
        "both lists empty at the end"
    );
    std::thread::sleep(Duration::from_millis(200));
    let after = tasks(&second.stdout_lines());

    let all: Vec<String> = before.iter().chain(after.iter()).cloned().collect();
    let counts = counts(&all);
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

#[test]
fn plain_consumer_has_no_processing_list() {
    let redis = RedisServer::start();
    preload(&redis, 100);
    let consumer = start_consumer(&redis, &[]);
    consumer.wait_stdout(101, Duration::from_secs(10));
    let exists: bool = redis.conn().exists(PROCESSING).expect("exists");
    assert!(!exists, "the default mirrors the original: BLPOP only");
}

#[test]
fn four_competing_consumers_share_the_work_exactly_once() {
    let redis = RedisServer::start();
    let consumers: Vec<Program> = (0..4).map(|_| start_consumer(&redis, &[])).collect();
    let names = preload(&redis, 20_000);
    assert!(
        wait_empty(&redis, &[QUEUE, PROCESSING]),
        "the queue is drained"
    );
    std::thread::sleep(Duration::from_millis(300));
    let per_consumer: Vec<Vec<String>> =
        consumers.iter().map(|c| tasks(&c.stdout_lines())).collect();
    let all: Vec<String> = per_consumer.concat();
    assert_eq!(all.len(), 20_000, "none missing, none twice");
    let counts = counts(&all);
    assert_eq!(counts.len(), 20_000);
    assert!(names.iter().all(|n| counts.get(n.as_str()) == Some(&1)));
    let shares: Vec<usize> = per_consumer.iter().map(Vec::len).collect();
    eprintln!("elements per consumer: {shares:?}");
    assert!(shares.iter().filter(|&&s| s > 0).count() >= 2, "{shares:?}");
}

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
