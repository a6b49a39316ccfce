//! `scripts/demo`, as a new user runs it: it starts everything or nothing,
//! says why in one line when a part cannot start, allows one demo at a
//! time, and leaves nothing behind when stopped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::*;

/// A demo on its own ports and its own DEMO_DIR, running the binaries the
/// tests built (no release build inside a test).
/// It runs in a process group of its own, as a terminal's foreground job:
/// Ctrl-C there is SIGINT to the whole group (`signal(-pgid)`).
fn demo(redis_url: &str, bind: &str, dir: &Path) -> Program {
    Program::start_with(
        demo_command(dir, "exec scripts/demo \"$@\""),
        &[("REDIS_URL", redis_url), ("BIND", bind)],
    )
}

/// `run`, a line of `sh` that starts `scripts/demo` with the arguments
/// given to the command (`"$@"`), with its DEMO_DIR,
/// the tests' binaries, and a process group of its own.
fn demo_command(dir: &Path, run: &str) -> Command {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_web"))
        .parent()
        .expect("binary dir")
        .to_str()
        .expect("utf-8 path")
        .to_owned();
    let mut command = Command::new("sh");
    command
        .args(["-c", run, "sh"])
        .env("DEMO_DIR", dir)
        .env("BIN_DIR", bin_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .process_group(0);
    command
}

fn demo_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redis_mq-demo-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The processes the demo started (from DEMO_DIR/pids) that still run.
fn left_running(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("pids"))
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let pid = l.split_whitespace().nth(1).unwrap_or("0");
            Path::new(&format!("/proc/{pid}")).exists()
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ")
        })
        .map(str::to_owned)
        .collect()
}

/// Waits until the demo prints its address (all started).
fn wait_until_open(demo: &Program, timeout: Duration) {
    let opened = eventually(timeout, || {
        demo.stdout_lines().iter().any(|l| l.contains("demo: open http"))
    });
    assert!(
        opened,
        "{:?} {:?}",
        demo.stdout_lines(),
        demo.stderr_lines()
    );
}

/// Ctrl-C in the demo's terminal (SIGINT to its whole group): the demo
/// exits 0, each program's last line is `stopped, as asked`, there is no job
/// notice, nothing warns (Redis stops last, so no program loses it), and
/// nothing the demo started is left running.
fn ctrl_c_stops_everything(demo: &mut Program, dir: &Path) {
    let group = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", demo.pid())])
        .status()
        .is_ok_and(|s| s.success());
    assert!(group, "kill -INT the demo's group");
    assert_eq!(
        demo.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{:?}",
        demo.stderr_lines()
    );
    let out = demo.stdout_lines();
    for program in ["[web]", "[consumer]", "[subscriber]", "[stream]"] {
        assert!(
            out.iter().any(|l| l.starts_with(program) && l.contains("stopped, as asked")),
            "{program}'s last line: {out:?}"
        );
    }
    let everything = [out, demo.stderr_lines()].concat();
    assert!(
        !everything.iter().any(|l| l.contains("Killed")),
        "no job notice: {everything:?}"
    );
    let warned: Vec<&String> = everything
        .iter()
        .filter(|l| l.contains("lost the connection") || l.contains("cannot reach Redis"))
        .collect();
    assert!(warned.is_empty(), "a clean stop: {warned:?}");
    assert!(
        eventually(Duration::from_secs(5), || left_running(dir).is_empty()),
        "{:?}",
        left_running(dir)
    );
}

/// Port 5000 (here: any port) taken by another server: the demo ran on
/// without its web server and still printed the address, which led to the
/// other server. Now it says so and stops everything.
#[test]
#[ignore = "needs redis-cli and curl (scripts/test installs them)"]
fn a_taken_port_stops_the_demo_with_one_line() {
    let redis = RedisServer::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bind = taken.local_addr().expect("addr").to_string();
    let dir = demo_dir("taken");
    let mut demo = demo(&redis.url(1), &bind, &dir);
    let exited = demo.wait_exit(Duration::from_secs(20));
    assert_eq!(
        exited,
        Some(1),
        "{:?} {:?} {:?}",
        demo.stdout_lines(),
        demo.stderr_lines(),
        left_running(&dir)
    );
    let err = demo.stderr_lines();
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].contains("web cannot start") && err[0].contains("in use"),
        "{err:?}"
    );
    assert!(
        !demo.stdout_lines().iter().any(|l| l.contains("open http")),
        "no address printed: {:?}",
        demo.stdout_lines()
    );
    assert!(
        eventually(Duration::from_secs(5), || left_running(&dir).is_empty()),
        "{:?}",
        left_running(&dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The whole demo with a private Redis: both links work, a second demo is
/// refused, and Ctrl-C leaves nothing running.
#[test]
#[ignore = "needs redis-cli and curl (scripts/test installs them)"]
fn the_demo_runs_refuses_a_second_and_stops_on_ctrl_c() {
    let redis_port = free_port();
    let redis_url = format!("redis://127.0.0.1:{redis_port}/1");
    let bind = format!("127.0.0.1:{}", free_port());
    let dir = demo_dir("runs");
    let mut demo = demo(&redis_url, &bind, &dir);
    wait_until_open(&demo, Duration::from_secs(30));
    let out = demo.stdout_lines();
    assert!(
        out.iter().any(|l| l.contains("redis.log")),
        "says where Redis logs: {out:?}"
    );

    let addr: std::net::SocketAddr = bind.parse().expect("addr");
    assert_eq!(
        http(
            addr,
            b"GET /prodcons HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .status,
        302
    );
    assert_eq!(
        http(
            addr,
            b"GET /pubsub HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .status,
        302
    );
    assert_eq!(
        http(
            addr,
            b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .status,
        302
    );
    let join = format!("a second program joins it with: REDIS_URL={redis_url} ");
    assert!(out.iter().any(|l| l.contains(&join)), "{out:?}");
    for worker in [
        "[consumer] Task get",
        "[subscriber] Task get",
        "[stream] Task get",
    ] {
        let seen = eventually(Duration::from_secs(10), || {
            demo.stdout_lines().iter().any(|l| l.starts_with(worker))
        });
        assert!(seen, "{worker}: {:?}", demo.stdout_lines());
    }
    assert!(
        demo.stdout_lines().iter().any(|l| l.starts_with("[web] ")),
        "prefixed lines"
    );

    let mut second = self::demo(&redis_url, &format!("127.0.0.1:{}", free_port()), &dir);
    assert_eq!(second.wait_exit(Duration::from_secs(10)), Some(1));
    let err = second.stderr_lines();
    assert!(
        err.len() == 1 && err[0].contains("already running"),
        "{err:?}"
    );

    // Ctrl-C in the demo's terminal: SIGINT to every process of the group.
    // Each program stops by itself and its last line is shown (the demo
    // used to send SIGTERM on top, a second signal that ended them at once,
    // and its line readers died of the Ctrl-C first).
    ctrl_c_stops_everything(&mut demo, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A demo started as a background job of a script (`scripts/demo &`): the
/// shell starts it with SIGINT ignored, which bash cannot trap, so the
/// demo never heard a Ctrl-C. Its programs take an ignored SIGINT back and
/// stopped; the demo and its Redis ran on, for ever. Now the demo stops
/// its Redis and ends once every program has stopped.
#[test]
#[ignore = "needs redis-cli and curl (scripts/test installs them)"]
fn a_demo_whose_programs_all_stopped_stops_its_redis() {
    let redis_url = format!("redis://127.0.0.1:{}/1", free_port());
    let bind = format!("127.0.0.1:{}", free_port());
    let dir = demo_dir("background");
    let demo = Program::start_with(
        demo_command(&dir, "scripts/demo \"$@\" & wait $!"),
        &[("REDIS_URL", &redis_url), ("BIND", &bind)],
    );
    wait_until_open(&demo, Duration::from_secs(30));
    let group = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", demo.pid())])
        .status()
        .is_ok_and(|s| s.success());
    assert!(group, "kill -INT the demo's group");
    let stopped = eventually(Duration::from_secs(20), || {
        left_running(&dir).is_empty() && demo.stdout_lines().iter().any(|l| l == "demo stopped")
    });
    assert!(
        stopped,
        "left running: {:?}; {:?}",
        left_running(&dir),
        demo.stdout_lines()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `scripts/demo --cluster`, as README's cluster exercise starts it: six
/// nodes made into a cluster, both links 302, the page naming the node that
/// holds the queue's slot; Ctrl-C stops everything, the nodes last.
#[test]
#[ignore = "needs redis-cli and curl (scripts/test installs them)"]
fn the_cluster_demo_runs_and_stops_on_ctrl_c() {
    let _heavy = heavy();
    let bind = format!("127.0.0.1:{}", free_port());
    let dir = demo_dir("cluster");
    let mut command = demo_command(&dir, "exec scripts/demo \"$@\"");
    command.arg("--cluster");
    let mut demo = Program::start_with(command, &[("BIND", &bind)]);
    wait_until_open(&demo, Duration::from_secs(60));
    let addr = bind.parse().expect("addr");
    for path in ["/prodcons", "/pubsub", "/prodcons"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(http(addr, raw.as_bytes()).status, 302, "{path}");
    }
    let page = http(addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").text();
    assert!(page.contains("holds the queue's slot"), "{page}");
    ctrl_c_stops_everything(&mut demo, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// macOS runs `scripts/demo` with its bash 3.2 and BSD tools. The demo
/// used `flock` (not on macOS), a negative array index (bash 4.3) and
/// `sed -u`; none of these, nor their kin, may come back.
#[test]
fn the_demo_uses_nothing_that_macos_lacks() {
    let snippets = [
        ("[-1]", "a negative array index: bash 4.3"),
        ("declare -A", "associative arrays: bash 4"),
        (",,}", "case conversion: bash 4"),
        ("^^}", "case conversion: bash 4"),
        ("wait -n", "bash 4.3"),
        ("local -n", "bash 4.3"),
        ("&>>", "bash 4"),
        ("|&", "bash 4"),
        ("sed -u", "GNU sed"),
        ("sed -i", "GNU sed (BSD sed needs a suffix)"),
        ("stat -c", "GNU stat"),
        ("readlink -f", "GNU readlink"),
    ];
    let commands = [
        ("mapfile", "bash 4"),
        ("readarray", "bash 4"),
        ("coproc", "bash 4"),
        ("flock", "util-linux, not on macOS"),
        ("setsid", "util-linux, not on macOS"),
        ("timeout", "GNU coreutils, not on macOS"),
    ];
    for file in ["scripts/demo", "scripts/lib.sh"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(&path).expect("read the script");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let words: Vec<&str> =
                line.split(|c: char| c.is_whitespace() || ";|&()$`\"'".contains(c)).collect();
            for (construct, why) in snippets {
                assert!(
                    !line.contains(construct),
                    "{file}:{}: {construct:?} ({why}): {line}",
                    n + 1
                );
            }
            for (command, why) in commands {
                assert!(
                    !words.contains(&command),
                    "{file}:{}: {command} ({why}): {line}",
                    n + 1
                );
            }
        }
    }
}
