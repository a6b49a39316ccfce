//! The static binaries of `scripts/release` on a host with nothing
//! installed: each runs in an empty root (a temp dir holding only that
//! binary, entered with chroot) against a real redis-server on loopback.
//! The aarch64 ones run the same way under qemu-user. Needs root (chroot)
//! and `dist/` (scripts/test runs scripts/release first).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

const BINS: [&str; 3] = ["web", "consumer", "subscriber"];

/// An empty root holding `binary` (and the emulator, if any), removed on drop.
struct EmptyRoot(PathBuf);

impl EmptyRoot {
    fn with(binary: &Path, emulator: Option<&Path>) -> EmptyRoot {
        let dir = std::env::temp_dir().join(format!(
            "redis_mq-root-{}-{}",
            std::process::id(),
            binary.display().to_string().replace('/', "_")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp root");
        for file in [Some(binary), emulator].into_iter().flatten() {
            let name = file.file_name().expect("file name");
            std::fs::copy(file, dir.join(name)).expect("copy into the root");
        }
        EmptyRoot(dir)
    }

    /// `chroot ROOT [/emulator] /NAME`
    fn command(&self, name: &str, emulator: Option<&Path>) -> Command {
        let mut command = Command::new("chroot");
        command.arg(&self.0);
        if let Some(emulator) = emulator.and_then(Path::file_name) {
            command.arg(Path::new("/").join(emulator));
        }
        command.arg(format!("/{name}"));
        command
    }

    fn listing(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for EmptyRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The three programs of `target`, each in its own empty root: a click on
/// `/prodcons` reaches the consumer and one on `/pubsub` the subscriber.
fn serve_from_empty_roots(target: &str, emulator: Option<&str>) {
    assert!(is_root(), "chroot needs root: run this test as root");
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist").join(target);
    assert!(
        BINS.iter().all(|b| dist.join(b).is_file()),
        "no static binaries in {}: run scripts/release (scripts/test does)",
        dist.display()
    );
    let emulator = emulator.map(|name| {
        let path = Path::new("/usr/bin").join(name);
        assert!(
            path.is_file(),
            "{name} is missing (scripts/test installs qemu-user-static)"
        );
        path
    });
    let emulator = emulator.as_deref();
    let roots: Vec<EmptyRoot> =
        BINS.iter().map(|b| EmptyRoot::with(&dist.join(b), emulator)).collect();
    for root in &roots {
        assert!(root.listing().len() <= 2, "{:?}", root.listing());
    }

    let redis = RedisServer::start();
    // `localhost`, as the default URL has it: with no /etc/hosts in the root.
    let url = format!("redis://localhost:{}/1", redis.port);
    let started = Instant::now();
    let web = Web::start_command(
        roots[0].command("web", emulator),
        &[("REDIS_URL", &url), ("BIND", "127.0.0.1:0")],
    );
    assert_eq!(web.get("/").status, 200);
    let first_answer = started.elapsed();
    let consumer = Program::start_with(
        roots[1].command("consumer", emulator),
        &[("REDIS_URL", &url)],
    );
    let subscriber = Program::start_with(
        roots[2].command("subscriber", emulator),
        &[("REDIS_URL", &url)],
    );
    assert_eq!(
        consumer.wait_stdout(1, Duration::from_secs(20)),
        ["监听任务队列"]
    );
    wait_subscribers(&redis, 1);

    assert_eq!(web.get("/prodcons").status, 302);
    let lines = consumer.wait_stdout(2, Duration::from_secs(20));
    assert_eq!(
        tasks(&lines).len(),
        1,
        "{lines:?} {:?}",
        consumer.stderr_lines()
    );
    assert_eq!(web.get("/pubsub").status, 302);
    let lines = subscriber.wait_stdout(2, Duration::from_secs(20));
    assert_eq!(
        tasks(&lines).len(),
        1,
        "{lines:?} {:?}",
        subscriber.stderr_lines()
    );

    let rss = |pid| proc_status(pid, "VmRSS:");
    eprintln!(
        "{target}{}: start to first answer {first_answer:?}; RSS web {} KiB, consumer {} KiB, \
         subscriber {} KiB",
        if emulator.is_some() {
            " (under qemu: RSS is qemu's)"
        } else {
            ""
        },
        rss(web.program.pid()),
        rss(consumer.pid()),
        rss(subscriber.pid())
    );
}

/// The x86_64 static binaries, each alone in an empty root: a click reaches the consumer and
/// the subscriber.
#[test]
#[ignore = "needs root (chroot) and dist/ (scripts/release); scripts/test runs it"]
fn x86_64_static_binaries_serve_from_an_empty_root() {
    serve_from_empty_roots("x86_64-unknown-linux-musl", None);
}

/// The aarch64 static binaries, the same way, under qemu-user.
#[test]
#[ignore = "needs root (chroot) and dist/ (scripts/release); scripts/test runs it"]
fn aarch64_static_binaries_serve_from_an_empty_root_under_qemu() {
    serve_from_empty_roots("aarch64-unknown-linux-musl", Some("qemu-aarch64-static"));
}

/// With no /etc/hosts and no resolver, a name either resolves within the
/// connect timeout or the log names it at once: the consumer printed its
/// first line and then nothing for seconds.
#[test]
#[ignore = "needs root (chroot) and dist/ (scripts/release); scripts/test runs it"]
fn host_names_fail_fast_and_by_name_in_an_empty_root() {
    assert!(is_root(), "chroot needs root: run this test as root");
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/x86_64-unknown-linux-musl");
    assert!(
        dist.join("consumer").is_file(),
        "run scripts/release (scripts/test does)"
    );
    let root = EmptyRoot::with(&dist.join("consumer"), None);
    for (url, said) in [
        (None, "localhost:6379"),
        (
            Some("redis://no-such-host.invalid:6379/1"),
            "no-such-host.invalid",
        ),
    ] {
        let env: Vec<(&str, &str)> = url.map(|u| ("REDIS_URL", u)).into_iter().collect();
        let started = Instant::now();
        let consumer = Program::start_with(root.command("consumer", None), &env);
        let line = consumer.wait_stderr(said, Duration::from_secs(10));
        eprintln!("{said}: {line:?} after {:?}", started.elapsed());
        assert!(line.is_some(), "{:?}", consumer.stderr_lines());
        assert!(started.elapsed() < Duration::from_secs(5), "said at once");
    }
}

/// Daemonized as Debian's `start-stop-daemon --background` does it (stdin,
/// stdout and stderr on /dev/null opened read-write, detached): the static
/// consumers refused to start ("stdout is closed") and left the queue
/// untouched. Now they drain it, and `--stop` (SIGTERM) ends each between
/// elements.
#[test]
#[ignore = "needs start-stop-daemon (Debian's dpkg) and dist/ (scripts/release); scripts/test runs it"]
fn static_workers_started_by_start_stop_daemon_drain_the_queue() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/x86_64-unknown-linux-musl");
    assert!(
        dist.join("consumer").is_file(),
        "run scripts/release (scripts/test does)"
    );
    let redis = RedisServer::start();
    for args in [&[][..], &["--reliable"][..]] {
        let names: Vec<String> = (0..100).map(|n| format!("d{n}")).collect();
        let _: () = redis::Commands::rpush(&mut redis.conn(), QUEUE, &names).expect("rpush");
        let pidfile = redis.dir.join(format!("consumer{}.pid", args.len()));
        let started = Command::new("start-stop-daemon")
            .args(["--start", "--background", "--make-pidfile", "--pidfile"])
            .arg(&pidfile)
            .arg("--exec")
            .arg(dist.join("consumer"))
            .arg("--")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", redis.url(1))
            .status()
            .expect("start-stop-daemon");
        assert!(started.success(), "{args:?}");
        assert!(wait_empty(&redis, &[QUEUE]), "{args:?}: drained");
        let stopped = Command::new("start-stop-daemon")
            .args([
                "--stop",
                "--retry",
                "TERM/10",
                "--remove-pidfile",
                "--pidfile",
            ])
            .arg(&pidfile)
            .status()
            .expect("start-stop-daemon --stop");
        assert!(
            stopped.success(),
            "{args:?}: stopped by SIGTERM within 10 s"
        );
    }
}
