//! Test support: a private `redis-server`, the real binaries, and a raw HTTP
//! client, so every test talks to real processes over real sockets.
//!
//! Each test starts its own Redis on a free loopback port with its own temp
//! dir, so tests run in parallel without sharing anything.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const QUEUE: &str = "task:prodcons:queue";
pub const CHANNEL: &str = "task:pubsub:channel";
/// The processing list of the reliable consumers the tests start with
/// `CONSUMER_NAME=test`.
pub const PROCESSING: &str = "task:prodcons:processing:test";

/// redis-server settings under which every acknowledged write is on disk
/// before Redis answers it, so a SIGKILL loses nothing Redis acknowledged.
pub const DURABLE: &[&str] = &[
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
];

/// Environment variables for a program under test.
pub type Env<'a> = &'a [(&'a str, &'a str)];

/// True when the tests run as root (network namespaces, chroot).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next().map(|uid| uid == "0"))
        .unwrap_or(false)
}

/// How many times each item occurs.
pub fn count_each<T: std::hash::Hash + Eq + Clone>(
    items: &[T],
) -> std::collections::HashMap<T, usize> {
    let mut counts = std::collections::HashMap::new();
    for item in items {
        *counts.entry(item.clone()).or_insert(0) += 1;
    }
    counts
}

/// A `redis-server` of our own, killed on drop.
pub struct RedisServer {
    pub port: u16,
    pub dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

impl RedisServer {
    /// A server without persistence.
    pub fn start() -> RedisServer {
        RedisServer::with_args(&["--save", "", "--appendonly", "no"])
    }

    /// A server without persistence that asks for `password`.
    pub fn with_password(password: &str) -> RedisServer {
        RedisServer::with_args(&[
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            password,
        ])
    }

    /// A server with extra `redis-server` arguments.
    pub fn with_args(args: &[&str]) -> RedisServer {
        let dir = std::env::temp_dir().join(format!(
            "redis_mq-test-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let mut server = RedisServer {
            port: 0,
            dir,
            extra: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        // A free port can be taken by someone else before redis binds it: try again.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on a free port after 5 tries");
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", self.dir.to_str().expect("utf-8 temp dir")])
            .args(["--daemonize", "no", "--logfile", "redis.log"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot run redis-server ({e}). Install it first: \
                 sudo apt-get install -y redis-server (scripts/test does this)"
            ),
        };
        let mut exited = false;
        let up = eventually(Duration::from_secs(10), || {
            // Exited at once: the port was taken, most likely.
            exited = matches!(child.try_wait(), Ok(Some(_)));
            exited || self.ping()
        });
        if up && !exited {
            self.child = Some(child);
            return true;
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Any reply to PING, even "-NOAUTH" from a server with a password,
    /// means it is up.
    fn ping(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 1];
        s.write_all(b"PING\r\n").is_ok()
            && matches!(s.read(&mut reply), Ok(1) if matches!(reply[0], b'+' | b'-'))
    }

    /// The server's process id (for SIGSTOP and SIGCONT).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("redis-server is running")
    }

    /// `redis://127.0.0.1:PORT/DB`
    pub fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// A connection to db 1, as the programs use.
    pub fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(self.url(1)).expect("test redis url");
        let conn = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to test redis");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        conn
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and dir (after [`kill`](Self::kill)).
    pub fn restart(&mut self) {
        let restarted = eventually(Duration::from_secs(10), || self.spawn());
        assert!(restarted, "redis-server did not restart");
    }
}

impl Drop for RedisServer {
    /// Kills the server and removes its dir; a failing test first shows
    /// the end of the server's log.
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            eprintln!(
                "--- last lines of redis-server's log (port {}) ---",
                self.port
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends a signal (`-STOP`, `-TERM`, ...) with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} {pid}");
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

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
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches('\n')
                .to_owned();
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

/// Waits until `n` clients are subscribed to the channel.
pub fn wait_subscribers(redis: &RedisServer, n: usize) {
    let subscribed = eventually(Duration::from_secs(15), || {
        redis::Client::open(redis.url(1))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
            .and_then(|mut c| {
                redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(CHANNEL)
                    .query::<(String, usize)>(&mut c)
            })
            .is_ok_and(|(_, counted)| counted >= n)
    });
    assert!(subscribed, "{n} subscribers never showed up");
}

/// The web server on a port the system picks.
pub struct Web {
    pub program: Program,
    pub addr: SocketAddr,
}

impl Web {
    pub fn start(redis_url: &str) -> Web {
        Web::start_env(&[("REDIS_URL", redis_url)])
    }

    pub fn start_env(env: &[(&str, &str)]) -> Web {
        let mut all = vec![("BIND", "127.0.0.1:0")];
        all.extend_from_slice(env);
        Web::start_command(Command::new(env!("CARGO_BIN_EXE_web")), &all)
    }

    pub fn start_command(command: Command, env: &[(&str, &str)]) -> Web {
        let program = Program::start_with(command, env);
        let line = program
            .wait_stderr("serving http://", Duration::from_secs(10))
            .unwrap_or_else(|| panic!("web did not start: {:?}", program.stderr_lines()));
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .expect("address in the start line");
        Web { program, addr }
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        ))
    }

    pub fn request(&self, raw: &str) -> HttpResponse {
        http(self.addr, raw.as_bytes())
    }

    /// The web server's thread count, from /proc.
    pub fn threads(&self) -> usize {
        proc_status(self.program.pid(), "Threads:")
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> usize {
        proc_status(self.program.pid(), "VmRSS:")
    }

    /// Open file descriptors, from /proc.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.program.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

pub fn proc_status(pid: u32, field: &str) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `raw` and reads one response, within 10 s.
pub fn http(addr: SocketAddr, raw: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(raw).expect("send request");
    let bytes = read_response(&mut stream);
    let _ = stream.shutdown(Shutdown::Both);
    parse_response(&bytes).unwrap_or_else(|| panic!("not an HTTP response: {bytes:?}"))
}

/// Reads one response: the head, then `Content-Length` bytes of body (or
/// up to end-of-file without one). Does not wait for the peer to close.
pub fn read_response(stream: &mut impl Read) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(length) = length
                && bytes.len() >= end + 4 + length
            {
                return bytes;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return bytes,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
}

/// Parses the first response in `bytes`.
pub fn parse_response(bytes: &[u8]) -> Option<HttpResponse> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(bytes.len() - end - 4);
    let body = bytes[end + 4..].iter().take(len).copied().collect();
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Waits (at most 60 s) until every list in `keys` is empty in db 1.
pub fn wait_empty(redis: &RedisServer, keys: &[&str]) -> bool {
    let mut conn = redis.conn();
    eventually(Duration::from_secs(60), || {
        keys.iter().all(|key| {
            redis::cmd("LLEN")
                .arg(key)
                .query::<usize>(&mut conn)
                .is_ok_and(|n| n == 0)
        })
    })
}

/// Waits for `check` to hold, for at most `timeout`.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
