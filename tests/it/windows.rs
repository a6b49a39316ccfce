//! The Windows programs, end to end under Wine against a Linux
//! `redis-server`: the page and both links, the workers printing, a
//! reconnect after Redis restarts, TLS, and a Ctrl-C that loses nothing. Wine
//! turns SIGINT into the console's Ctrl-C event, the one a Windows user's
//! Ctrl-C sends.

use std::time::Duration;

use redis::Commands;

use crate::delivery::stop_while_draining_command;
use crate::support::*;

/// A Windows worker (`consumer` or `subscriber`), started once its first
/// line is printed.
fn start_windows_worker(bin: &str, first: &str, redis: &RedisServer) -> Program {
    let program = Program::start_with(wine().command(bin), &[("REDIS_URL", &redis.url(1))]);
    let lines = program.wait_stdout(1, Duration::from_secs(30));
    assert_eq!(
        lines.first().map(String::as_str),
        Some(first),
        "{bin}.exe: {:?}",
        program.stderr_lines()
    );
    program
}

/// Ctrl-C: exit 0 with `stopped, as asked`; returns the `Task get` lines.
fn ctrl_c(program: &mut Program) -> Vec<String> {
    signal(program.pid(), "-INT");
    let status = program.wait_exit(Duration::from_secs(15));
    assert_eq!(status, Some(0), "{:?}", program.stderr_lines());
    assert!(
        program.stderr_lines().iter().any(|l| l.contains("stopped, as asked")),
        "{:?}",
        program.stderr_lines()
    );
    tasks(&program.stdout_lines())
}

/// web.exe: the original page in UTF-8, a push, a publish that the
/// Windows subscriber prints, 404 and 405; Ctrl-C stops it.
#[test]
#[ignore = "needs wine64, mingw-w64 and the Windows binaries (scripts/test builds them)"]
fn windows_web_serves_the_page_and_both_links() {
    let _heavy = heavy();
    let redis = RedisServer::start();
    let mut subscriber = start_windows_worker("subscriber", "监听任务频道", &redis);
    wait_subscribers(&redis, 1);
    let mut web = Web::start_command(
        wine().command("web"),
        &[("REDIS_URL", &redis.url(1)), ("BIND", "127.0.0.1:0")],
    );

    let page = web.get("/");
    assert_eq!(page.status, 200);
    for text in ["Redis Message Queue", "生产消费者模式", "发布订阅者模式"] {
        assert!(page.text().contains(text), "{text}: {}", page.text());
    }
    let pushed = web.get("/prodcons");
    assert_eq!((pushed.status, pushed.header("Location")), (302, Some("/")));
    let queued: Vec<String> = redis.conn().lrange(QUEUE, 0, -1).expect("lrange");
    assert_eq!(queued.len(), 1, "one click, one push");
    assert!(queued[0].parse::<u8>().is_ok_and(|n| n < 10), "{queued:?}");
    assert_eq!(web.get("/pubsub").status, 302);
    assert_eq!(web.get("/nope").status, 404);
    let post =
        web.request("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert_eq!(post.status, 405);

    subscriber.wait_stdout(2, Duration::from_secs(10));
    let published = ctrl_c(&mut subscriber);
    assert_eq!(published.len(), 1, "the subscriber got the one message");
    ctrl_c(&mut web.program);
}

/// consumer.exe and subscriber.exe print what another client pushes and
/// publishes, in order.
#[test]
#[ignore = "needs wine64, mingw-w64 and the Windows binaries (scripts/test builds them)"]
fn windows_workers_print_what_they_get() {
    let _heavy = heavy();
    let redis = RedisServer::start();
    let mut consumer = start_windows_worker("consumer", "监听任务队列", &redis);
    let mut subscriber = start_windows_worker("subscriber", "监听任务频道", &redis);
    wait_subscribers(&redis, 1);
    let mut conn = redis.conn();
    let _: () = conn.rpush(QUEUE, &["1", "2", "3"]).expect("rpush");
    let _: usize = conn.publish(CHANNEL, "7").expect("publish");
    consumer.wait_stdout(4, Duration::from_secs(10));
    subscriber.wait_stdout(2, Duration::from_secs(10));
    assert_eq!(ctrl_c(&mut consumer), ["1", "2", "3"]);
    assert_eq!(ctrl_c(&mut subscriber), ["7"]);
}

/// Redis killed and started again on its port: both Windows workers say
/// so, connect again by themselves, and print what comes after.
#[test]
#[ignore = "needs wine64, mingw-w64 and the Windows binaries (scripts/test builds them)"]
fn windows_workers_reconnect_after_redis_restarts() {
    let _heavy = heavy();
    let mut redis = RedisServer::start();
    let mut consumer = start_windows_worker("consumer", "监听任务队列", &redis);
    let mut subscriber = start_windows_worker("subscriber", "监听任务频道", &redis);
    wait_subscribers(&redis, 1);
    redis.kill();
    std::thread::sleep(Duration::from_millis(500));
    redis.restart();
    wait_subscribers(&redis, 1);
    let mut conn = redis.conn();
    let _: () = conn.rpush(QUEUE, "after").expect("rpush");
    let _: usize = conn.publish(CHANNEL, "after").expect("publish");
    consumer.wait_stdout(2, Duration::from_secs(20));
    subscriber.wait_stdout(2, Duration::from_secs(20));
    for program in [&consumer, &subscriber] {
        let said = |text: &str| program.stderr_lines().iter().any(|l| l.contains(text));
        assert!(
            said("lost the connection") && said("failed tries"),
            "lines say it lost Redis and connected again: {:?}",
            program.stderr_lines()
        );
    }
    assert_eq!(ctrl_c(&mut consumer), ["after"]);
    assert_eq!(ctrl_c(&mut subscriber), ["after"]);
}

/// consumer.exe over TLS (`rediss://`, the test CA in `REDIS_CA_FILE`, a
/// Windows path): it prints what is pushed; with a certificate its CA did
/// not sign it says so in one line and keeps trying.
#[test]
#[ignore = "needs wine64, mingw-w64, the Windows binaries (scripts/test builds them) and openssl"]
fn windows_consumer_speaks_tls() {
    let _heavy = heavy();
    let ca = format!("Z:{}", certs().ca().replace('/', "\\"));
    let redis = TlsRedis::start("server", "no", &[]);
    let url = redis.url("localhost", None);
    let mut consumer = Program::start_with(
        wine().command("consumer"),
        &[("REDIS_URL", &url), ("REDIS_CA_FILE", &ca)],
    );
    let connected = consumer.wait_stderr("connected to Redis", Duration::from_secs(30));
    assert!(connected.is_some(), "{:?}", consumer.stderr_lines());
    let mut conn = redis.server.conn();
    let _: () = conn.rpush(QUEUE, &["1", "2", "3"]).expect("rpush");
    consumer.wait_stdout(4, Duration::from_secs(20));
    assert_eq!(ctrl_c(&mut consumer), ["1", "2", "3"]);

    let stranger = TlsRedis::start("stranger", "no", &[]);
    let url = stranger.url("localhost", None);
    let mut consumer = Program::start_with(
        wine().command("consumer"),
        &[("REDIS_URL", &url), ("REDIS_CA_FILE", &ca)],
    );
    let said = consumer.wait_stderr("not signed by a CA we trust", Duration::from_secs(30));
    assert!(said.is_some(), "{:?}", consumer.stderr_lines());
    ctrl_c(&mut consumer);
}

/// Ctrl-C while consumer.exe (plain and `--reliable`) drains 3,000
/// elements: it stops between two, and every element is printed or still
/// in Redis, none twice.
#[test]
#[ignore = "needs wine64, mingw-w64 and the Windows binaries (scripts/test builds them)"]
fn windows_ctrl_c_stops_the_consumers_without_losing_an_element() {
    let _heavy = heavy();
    for args in [&[][..], &["--reliable"][..]] {
        let mut command = wine().command("consumer");
        command.args(args);
        stop_while_draining_command(command, args, "-INT");
    }
}
