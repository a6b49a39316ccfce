//! A `redis-server` of our own, on a free loopback port with its own temp
//! dir: started, waited for with PING, killed on drop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use super::{eventually, free_port};

/// A `redis-server` of our own, killed on drop.
pub struct RedisServer {
    pub port: u16,
    pub dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

/// No persistence, and a replica fed at once (no 5 s wait for others):
/// the nodes of a test's Sentinel or Cluster.
pub const IN_MEMORY: [&str; 6] = [
    "--save",
    "",
    "--appendonly",
    "no",
    "--repl-diskless-sync-delay",
    "0",
];

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
        self.child.as_ref().map(Child::id).expect("redis-server is running")
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
        conn.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
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

/// One command to a Redis node or sentinel on `port` (plain TCP, with its
/// password if any), or `None` when it does not answer within a second.
pub fn query_node(port: u16, password: Option<&str>, args: &[&str]) -> Option<redis::Value> {
    let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
    let client = redis::Client::open(format!("redis://{auth}127.0.0.1:{port}/")).ok()?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(1)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut conn).ok()
}
