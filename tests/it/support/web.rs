//! The web server under test, on a port the system picks, and what /proc
//! says of it.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::{HttpResponse, Program, http, tasks};

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

/// Three clicks on each link, all 302, and both workers print three:
/// the three programs work together (the subscriber already subscribed).
pub fn three_clicks_reach_both_workers(web: &Web, consumer: &Program, subscriber: &Program) {
    for _ in 0..3 {
        let answer = web.get("/prodcons");
        assert_eq!(answer.status, 302, "{}", answer.text());
        assert_eq!(web.get("/pubsub").status, 302);
    }
    let timeout = Duration::from_secs(10);
    assert_eq!(
        tasks(&consumer.wait_stdout(4, timeout)).len(),
        3,
        "{:?}",
        consumer.stderr_lines()
    );
    assert_eq!(
        tasks(&subscriber.wait_stdout(4, timeout)).len(),
        3,
        "{:?}",
        subscriber.stderr_lines()
    );
}
