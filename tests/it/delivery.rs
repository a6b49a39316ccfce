//! Delivery truth: one click is one push, every answer tells the truth, and
//! stopping a worker loses nothing. Each test reproduces a failure measured
//! on the earlier version, against a real redis-server and the real binaries.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;
use redis::Commands;

/// A connection that closes after Redis ran LPUSH and before the reply
/// left: the old retry pushed again (1,741 to 3,193 extra elements over
/// about 7,600 kills). Now a 302 is exactly one push, and an answer that
/// may hide a push says so (504).
#[test]
fn connection_kills_under_load_never_double_or_hide_a_push() {
    let redis = RedisServer::start();
    let web = Web::start_env(&[("REDIS_URL", &redis.url(1)), ("WORKERS", "2")]);
    let done = AtomicBool::new(false);
    let mut kills = 0usize;
    let statuses: Vec<u16> = thread::scope(|s| {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let mut statuses = Vec::new();
                    while !done.load(Ordering::SeqCst) && statuses.len() < 5_000 {
                        statuses.push(web.get("/prodcons").status);
                    }
                    statuses
                })
            })
            .collect();
        // CLIENT KILL spares the connection that sends it (SKIPME yes).
        let mut killer = redis.conn();
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            let killed: usize = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg("normal")
                .query(&mut killer)
                .expect("client kill");
            kills += killed;
            thread::sleep(Duration::from_millis(5));
        }
        done.store(true, Ordering::SeqCst);
        clients.into_iter().flat_map(|c| c.join().expect("client")).collect()
    });
    let counts = count_each(&statuses);
    let pushed: usize = redis.conn().llen(QUEUE).expect("llen");
    let found = counts.get(&302).copied().unwrap_or(0);
    let maybe = counts.get(&504).copied().unwrap_or(0);
    eprintln!("{kills} connections killed; answers {counts:?}; {pushed} pushed");
    assert!(kills > 50, "the kills happened: {kills}");
    assert!(found > 0, "clicks got through between kills");
    assert!(
        counts.keys().all(|s| [302, 503, 504].contains(s)),
        "{counts:?}"
    );
    assert!(pushed >= found, "every 302 is a push: {pushed} < {found}");
    assert!(
        pushed <= found + maybe,
        "a push hidden behind a 503, or pushed twice: {pushed} > {found} + {maybe}"
    );
}

/// Clicks while Redis is stalled by `stall` (it runs in its own thread and
/// returns once Redis answers again): each gets 503 (nothing sent) or 504
/// (sent, no answer: may have landed) within about 2 s, and what landed is
/// no more than the 504s. The old version said "not reachable, try again"
/// for pushes that had landed, after up to 3 s, and 20 clicks waited 8 s.
fn clicks_during_a_stall(redis: &RedisServer, stall: impl FnOnce() + Send, clicks: usize) {
    let web = Web::start_env(&[("REDIS_URL", &redis.url(1)), ("WORKERS", "2")]);
    for _ in 0..4 {
        assert_eq!(web.get("/prodcons").status, 302);
    }
    let before: usize = redis.conn().llen(QUEUE).expect("llen");
    let answers: Vec<(u16, Duration, String)> = thread::scope(|s| {
        s.spawn(stall);
        thread::sleep(Duration::from_millis(200));
        let handles: Vec<_> = (0..clicks)
            .map(|_| {
                s.spawn(|| {
                    let started = Instant::now();
                    let answer = web.get("/prodcons");
                    (answer.status, started.elapsed(), answer.text())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("click")).collect()
    });
    let slowest = answers.iter().map(|a| a.1).max().unwrap_or_default();
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    let counts = count_each(&statuses);
    eprintln!("{clicks} clicks during a stall: {counts:?}, slowest {slowest:?}");
    for (status, _, text) in &answers {
        match status {
            503 => assert!(text.contains("nothing was pushed"), "{text}"),
            504 => assert!(text.contains("may or may not"), "{text}"),
            _ => panic!("{status}: {text}"),
        }
    }
    // A bound that catches the old 3 s and 8 s, not a timing test.
    assert!(slowest < Duration::from_secs(4), "slowest {slowest:?}");
    // The scope above waited for the stall to end: Redis answers again.
    let after: usize = redis.conn().llen(QUEUE).expect("llen");
    let maybe = counts.get(&504).copied().unwrap_or(0);
    assert!(
        after - before <= maybe,
        "{} landed behind {maybe} answers that said it might",
        after - before
    );
    assert_eq!(web.get("/prodcons").status, 302, "and clicks work again");
}

/// Redis busy in `DEBUG SLEEP 3`: clicks get 503 or 504 in about 2 s, never a 503 for a push
/// that landed.
#[test]
fn debug_sleep_gets_honest_answers_within_about_2_s() {
    let redis = RedisServer::with_args(&["--save", "", "--enable-debug-command", "yes"]);
    let sleeper = || {
        let _: redis::RedisResult<()> =
            redis::cmd("DEBUG").arg("SLEEP").arg(3).query(&mut redis.conn());
    };
    clicks_during_a_stall(&redis, sleeper, 6);
}

/// Redis stopped (SIGSTOP) under 20 clicks at once: each answered in about 2 s, queue time
/// included, and honestly.
#[test]
fn a_stopped_redis_gets_honest_answers_within_about_2_s_for_20_clicks() {
    let redis = RedisServer::start();
    let pid = redis.pid();
    let stopper = move || {
        signal(pid, "-STOP");
        thread::sleep(Duration::from_secs(4));
        signal(pid, "-CONT");
    };
    clicks_during_a_stall(&redis, stopper, 20);
}

/// Starts `consumer` (with `args`) on a queue of 3,000 elements, sends
/// `sig` once it has printed some, and checks that every element is either
/// printed or still in Redis (in the queue or the processing list).
fn stop_while_draining(args: &[&str], sig: &str) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_consumer"));
    command.args(args);
    stop_while_draining_command(command, args, sig);
}

/// [`stop_while_draining`] for a consumer started by `command` (with
/// `args` already on it).
pub fn stop_while_draining_command(command: Command, args: &[&str], sig: &str) {
    let redis = RedisServer::start();
    let names: Vec<String> = (0..3000).map(|n| format!("e{n}")).collect();
    let _: () = redis.conn().rpush(QUEUE, &names).expect("rpush");
    let mut consumer = Program::start_with(
        command,
        &[("REDIS_URL", &redis.url(1)), ("CONSUMER_NAME", "test")],
    );
    consumer.wait_stdout(200, Duration::from_secs(20));
    signal(consumer.pid(), sig);
    let status = consumer.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status,
        Some(0),
        "{args:?} {sig}: {:?}",
        consumer.stderr_lines()
    );
    assert!(
        consumer.stderr_lines().iter().any(|l| l.contains("stopped, as asked")),
        "one log line"
    );
    let printed = tasks(&consumer.stdout_lines());
    let mut conn = redis.conn();
    let queued: Vec<String> = conn.lrange(QUEUE, 0, -1).expect("lrange");
    let processing: Vec<String> = conn.lrange(PROCESSING, 0, -1).expect("lrange");
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for name in printed.iter().chain(&queued).chain(&processing) {
        *seen.entry(name.as_str()).or_insert(0) += 1;
    }
    let lost: Vec<&String> = names.iter().filter(|n| !seen.contains_key(n.as_str())).collect();
    assert!(
        lost.is_empty(),
        "{args:?} {sig}: lost {lost:?}; printed {}, last {:?}; stderr {:?}",
        printed.len(),
        printed.last(),
        consumer.stderr_lines()
    );
    let twice = seen.values().filter(|&&c| c > 1).count();
    assert_eq!(twice, 0, "{args:?} {sig}: nothing printed and still held");
}

/// SIGTERM or SIGINT while draining: the plain consumer lost one element 13
/// times out of 13 (popped, never printed).
#[test]
fn ctrl_c_and_kill_stop_the_consumers_without_losing_an_element() {
    for round in 0..10 {
        let sig = if round % 2 == 0 { "-TERM" } else { "-INT" };
        stop_while_draining(&[], sig);
        stop_while_draining(&["--reliable"], sig);
    }
}

/// SIGHUP (a closed terminal, a dropped ssh session), SIGQUIT (Ctrl-\\),
/// SIGUSR1, SIGUSR2 and SIGALRM while draining: the plain consumer lost the
/// element it held each time. Now they stop it between elements, like
/// SIGTERM.
#[test]
fn hangup_quit_and_usr1_stop_the_consumers_without_losing_an_element() {
    for sig in ["-HUP", "-QUIT", "-USR1", "-USR2", "-ALRM"] {
        stop_while_draining(&[], sig);
        stop_while_draining(&["--reliable"], sig);
    }
}

/// SIGTERM or SIGINT: the subscriber stops within a second or so, exit 0, one log line.
#[test]
fn the_subscriber_stops_at_once_on_ctrl_c() {
    let redis = RedisServer::start();
    for sig in ["-TERM", "-INT"] {
        let mut subscriber = start_subscriber(&redis);
        let asked = Instant::now();
        signal(subscriber.pid(), sig);
        assert_eq!(subscriber.wait_exit(Duration::from_secs(10)), Some(0));
        eprintln!("subscriber stopped {:?} after {sig}", asked.elapsed());
        assert!(
            asked.elapsed() < Duration::from_secs(4),
            "{:?}",
            asked.elapsed()
        );
        assert!(subscriber.stderr_lines().iter().any(|l| l.contains("stopped, as asked")));
    }
}

/// `consumer >&-`: both consumers "printed" into nothing (Rust puts
/// /dev/null in place of a closed stdout), and the reliable one then removed
/// the elements from its processing list. Now they refuse to start.
#[test]
fn a_closed_stdout_is_refused_at_start() {
    let redis = RedisServer::start();
    let _: () = redis.conn().rpush(QUEUE, &["a", "b", "c"]).expect("rpush");
    for (exe, args) in [
        (env!("CARGO_BIN_EXE_consumer"), ""),
        (env!("CARGO_BIN_EXE_consumer"), " --reliable"),
        (env!("CARGO_BIN_EXE_subscriber"), ""),
    ] {
        let mut command = Command::new("sh");
        command.args(["-c", &format!("exec {exe}{args} >&-")]);
        let mut program = Program::start_with(command, &[("REDIS_URL", &redis.url(1))]);
        let line = program.exits_with_one_line(2, &format!("{exe}{args}"));
        assert!(line.contains("stdout"), "{line}");
        let len: usize = redis.conn().llen(QUEUE).expect("llen");
        assert_eq!(len, 3, "{exe}{args} took nothing");
    }
    // Output to /dev/null on purpose is the user's choice, and works.
    let mut command = Command::new("sh");
    command.args([
        "-c",
        &format!("exec {} >/dev/null", env!("CARGO_BIN_EXE_consumer")),
    ]);
    let _consumer = Program::start_with(command, &[("REDIS_URL", &redis.url(1))]);
    assert!(wait_empty(&redis, &[QUEUE]), "drained into /dev/null");
}

/// The reader goes away (`consumer | head -n 1`): the consumer panicked
/// (exit 101) or printed into a broken pipe. Now it exits with one line and
/// the element it could not print is still in Redis.
#[test]
fn a_reader_that_goes_away_loses_nothing() {
    for args in [&[][..], &["--reliable"][..]] {
        let redis = RedisServer::start();
        let mut child = Command::new(env!("CARGO_BIN_EXE_consumer"))
            .args(args)
            .env("REDIS_URL", redis.url(1))
            .env("CONSUMER_NAME", "test")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start consumer");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("start line");
        assert_eq!(first.trim(), "监听任务队列");
        drop(stdout); // the reader goes away
        let _: () = redis.conn().rpush(QUEUE, &["x", "y"]).expect("rpush");
        let output = child.wait_with_output().expect("exit");
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("cannot write to stdout") || err.contains("Broken pipe"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        let mut conn = redis.conn();
        let queued: Vec<String> = conn.lrange(QUEUE, 0, -1).expect("lrange");
        let processing: Vec<String> = conn.lrange(PROCESSING, 0, -1).expect("lrange");
        let mut held: Vec<String> = queued.into_iter().chain(processing).collect();
        held.sort();
        assert_eq!(held, ["x", "y"], "{args:?}: nothing lost");
    }
}

/// At `maxmemory` with `noeviction`, Redis refuses BLMOVE: the reliable
/// consumer drained 0 of 164 and retried for ever, while the plain one
/// drained them all.
#[test]
fn the_reliable_consumer_drains_a_redis_at_maxmemory() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let filler: Vec<String> = (0..20_000).map(|n| format!("{n:0>100}")).collect();
    let _: () = conn.rpush("filler", &filler).expect("filler");
    let names: Vec<String> = (0..164).map(|n| format!("m{n}")).collect();
    let _: () = conn.rpush(QUEUE, &names).expect("rpush");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query(&mut conn)
        .expect("policy");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1mb")
        .query(&mut conn)
        .expect("maxmemory");
    let refused: redis::RedisResult<Option<String>> = conn.blmove(
        QUEUE,
        "elsewhere",
        redis::Direction::Left,
        redis::Direction::Left,
        0.1,
    );
    assert!(
        refused.as_ref().is_err_and(|e| e.code() == Some("OOM")),
        "Redis is at maxmemory: {refused:?}"
    );

    let mut command = Command::new(env!("CARGO_BIN_EXE_consumer"));
    command.arg("--reliable");
    let consumer = Program::start_with(
        command,
        &[("REDIS_URL", &redis.url(1)), ("CONSUMER_NAME", "test")],
    );
    let lines = consumer.wait_stdout(165, Duration::from_secs(30));
    let mut printed = tasks(&lines);
    printed.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(printed, want);
    assert!(
        wait_empty(&redis, &[QUEUE, PROCESSING]),
        "nothing left behind"
    );
}

/// An ACL user without `INFO`: the version check refused to start on Redis
/// 7.0.15 ("of unknown version"). There is no such check now; BLMOVE itself
/// says when Redis is too old.
#[test]
fn the_reliable_consumer_starts_for_a_user_without_info() {
    let redis = RedisServer::start();
    let _: () = redis::cmd("ACL")
        .arg(&[
            "SETUSER", "worker", "on", ">pw", "~*", "&*", "+@all", "-info",
        ])
        .query(&mut redis.conn())
        .expect("acl");
    let url = format!("redis://worker:pw@127.0.0.1:{}/1", redis.port);
    let mut command = Command::new(env!("CARGO_BIN_EXE_consumer"));
    command.arg("--reliable");
    let consumer = Program::start_with(command, &[("REDIS_URL", &url)]);
    let _: () = redis.conn().rpush(QUEUE, &["p", "q"]).expect("rpush");
    let lines = consumer.wait_stdout(3, Duration::from_secs(15));
    assert_eq!(tasks(&lines), ["p", "q"], "{:?}", consumer.stderr_lines());
}

/// A wrong password or a db out of range was "cannot reach Redis" for ever,
/// and the page said "not reachable". Now each says what Redis said.
#[test]
fn errors_are_named_as_redis_named_them() {
    let redis = RedisServer::with_password("secret");
    let wrong = format!("redis://:nope@127.0.0.1:{}/1", redis.port);
    let bad_db = format!("redis://:secret@127.0.0.1:{}/99", redis.port);
    for (url, words) in [
        (&wrong, "refused the password"),
        (&bad_db, "DB index is out of range"),
    ] {
        for exe in [
            env!("CARGO_BIN_EXE_consumer"),
            env!("CARGO_BIN_EXE_subscriber"),
        ] {
            let program = Program::start(exe, &[("REDIS_URL", url)]);
            let said = program.wait_stderr(words, Duration::from_secs(10));
            let err = program.stderr_lines();
            assert!(said.is_some(), "{exe}: {err:?}");
            assert!(
                !err.iter().any(|l| l.contains("cannot reach")),
                "{exe}: {err:?}"
            );
        }
        let web = Web::start(url);
        let page = web.get("/").text();
        assert!(page.contains(words), "{page}");
        let click = web.get("/prodcons");
        assert_eq!(click.status, 500);
        assert!(click.text().contains(words), "{}", click.text());
    }
}

/// An IPv6 Redis address is shown as `[::1]:PORT`, not `::1:PORT`.
#[test]
fn an_ipv6_address_is_shown_in_brackets() {
    let web = Web::start("redis://[::1]:6390/1");
    let line = web.program.wait_stderr("serving", Duration::from_secs(5)).expect("start line");
    assert!(line.contains("Redis at [::1]:6390 (db 1)"), "{line}");
}

/// Ctrl-C while Redis is down: the workers were waiting to reconnect and
/// never looked at the stop flag (found when the benchmark's clean-up hung).
#[test]
fn ctrl_c_stops_the_workers_while_they_wait_for_redis() {
    let mut redis = RedisServer::start();
    let url = redis.url(1);
    redis.kill();
    for (exe, args) in [
        (env!("CARGO_BIN_EXE_consumer"), &[][..]),
        (env!("CARGO_BIN_EXE_consumer"), &["--reliable"][..]),
        (env!("CARGO_BIN_EXE_subscriber"), &[][..]),
    ] {
        let mut command = Command::new(exe);
        command.args(args);
        let mut program = Program::start_with(command, &[("REDIS_URL", &url)]);
        let waiting = program.wait_stderr("cannot reach Redis", Duration::from_secs(10));
        assert!(waiting.is_some(), "{:?}", program.stderr_lines());
        signal(program.pid(), "-TERM");
        assert_eq!(
            program.wait_exit(Duration::from_secs(5)),
            Some(0),
            "{exe} {args:?}"
        );
        assert!(program.stderr_lines().iter().any(|l| l.contains("stopped, as asked")));
    }
}
