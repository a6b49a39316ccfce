//! One of the real binaries, its stdout and stderr collected line by line,
//! and the starters for the consumer and the subscriber.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::{RedisServer, eventually, signal, wait_subscribers};

/// One of the real binaries, with its stdout and stderr collected line by line.
pub struct Program {
    child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Program {
    pub fn start(exe: &str, env: &[(&str, &str)]) -> Program {
        Program::start_with(Command::new(exe), env)
    }

    pub fn start_with(mut command: Command, env: &[(&str, &str)]) -> Program {
        command
            .env_remove("REDIS_URL")
            .env_remove("BIND")
            .env_remove("WORKERS")
            .env_remove("LOG_LEVEL")
            .env_remove("CONSUMER_NAME");
        for tls_or_sentinel in [
            "REDIS_CA_FILE",
            "REDIS_CLIENT_CERT",
            "REDIS_CLIENT_KEY",
            "REDIS_SENTINELS",
            "REDIS_MASTER",
            "REDIS_SENTINEL_USERNAME",
            "REDIS_SENTINEL_PASSWORD",
        ] {
            command.env_remove(tls_or_sentinel);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the program under test");
        let (stdout, out_reader) = collect_lines(child.stdout.take().expect("piped stdout"));
        let (stderr, err_reader) = collect_lines(child.stderr.take().expect("piped stderr"));
        Program {
            child,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        }
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().expect("lines").clone()
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("lines").clone()
    }

    /// Waits until stdout has at least `n` lines; returns them all.
    pub fn wait_stdout(&self, n: usize, timeout: Duration) -> Vec<String> {
        wait_lines(&self.stdout, n, timeout)
    }

    /// Waits until a stderr line contains `text`.
    pub fn wait_stderr(&self, text: &str, timeout: Duration) -> Option<String> {
        let find = || self.stderr_lines().into_iter().find(|l| l.contains(text));
        eventually(timeout, || find().is_some());
        find()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the exit status, killing the program after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let mut status = None;
        eventually(timeout, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        match status {
            Some(status) => {
                // The readers have every line once they see the pipes close
                // (a child the program left running may hold them longer).
                eventually(Duration::from_secs(5), || {
                    self.readers.iter().all(|r| r.is_finished())
                });
                status.code()
            }
            None => {
                let _ = self.child.kill();
                None
            }
        }
    }

    /// Waits (10 s at most) for the exit status `status` and returns the
    /// one line the program wrote on stderr; `what` names the case.
    pub fn exits_with_one_line(&mut self, status: i32, what: &str) -> String {
        assert_eq!(
            self.wait_exit(Duration::from_secs(10)),
            Some(status),
            "{what}"
        );
        let err = self.stderr_lines();
        assert_eq!(err.len(), 1, "{what}: one line: {err:?}");
        err[0].clone()
    }

    /// Stops the program with SIGTERM (between two elements), waits for it
    /// to exit 0 and for every line it printed; returns its `Task get`
    /// lines. For exact counts: nothing can come later.
    pub fn stop_and_collect(&mut self) -> Vec<String> {
        signal(self.pid(), "-TERM");
        let status = self.wait_exit(Duration::from_secs(10));
        assert_eq!(
            status,
            Some(0),
            "stopped, as asked: {:?}",
            self.stderr_lines()
        );
        tasks(&self.stdout_lines())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        self.kill();
    }
}

fn collect_lines(
    pipe: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<String>>>, thread::JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let reader = thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut line) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line).trim_end_matches('\n').to_owned();
            sink.lock().expect("lines").push(text);
            line.clear();
        }
    });
    (lines, reader)
}

fn wait_lines(lines: &Mutex<Vec<String>>, n: usize, timeout: Duration) -> Vec<String> {
    eventually(timeout, || lines.lock().expect("lines").len() >= n);
    lines.lock().expect("lines").clone()
}

/// The `Task get` lines printed so far, without the start line.
pub fn tasks(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("Task get ").map(str::to_owned))
        .collect()
}

/// Starts the consumer and waits for its start line and its first connect.
pub fn start_consumer(redis: &RedisServer, extra_env: &[(&str, &str)]) -> Program {
    start_worker(
        env!("CARGO_BIN_EXE_consumer"),
        "监听任务队列",
        redis,
        extra_env,
    )
}

/// Starts `consumer ARGS` and waits for its start line.
pub fn start_consumer_with(
    redis: &RedisServer,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> Program {
    let url = redis.url(1);
    let mut env = vec![("REDIS_URL", url.as_str())];
    env.extend_from_slice(extra_env);
    let mut command = Command::new(env!("CARGO_BIN_EXE_consumer"));
    command.args(args);
    let program = Program::start_with(command, &env);
    let lines = program.wait_stdout(1, Duration::from_secs(10));
    assert_eq!(lines.first().map(String::as_str), Some("监听任务队列"));
    program
}

/// Starts the subscriber and waits until Redis counts it on the channel.
pub fn start_subscriber(redis: &RedisServer) -> Program {
    let program = start_worker(env!("CARGO_BIN_EXE_subscriber"), "监听任务频道", redis, &[]);
    wait_subscribers(redis, 1);
    program
}

fn start_worker(exe: &str, first: &str, redis: &RedisServer, env: &[(&str, &str)]) -> Program {
    let url = redis.url(1);
    let mut all = vec![("REDIS_URL", url.as_str())];
    all.extend_from_slice(env);
    let program = Program::start(exe, &all);
    let lines = program.wait_stdout(1, Duration::from_secs(10));
    assert_eq!(lines.first().map(String::as_str), Some(first));
    program
}
