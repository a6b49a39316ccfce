//! A fake Redis Cluster node: a small RESP server on a free loopback port
//! that says it is a cluster's node, answers the set-up commands, and then
//! answers as a misconfigured or broken node would (a `MOVED` to itself or
//! to a host that is not one, a `CLUSTER SLOTS` that is huge or malformed).
//! A real `redis-server` cannot be made to say these things, which is why
//! this one exists; every other test runs against a real one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// What the node answers to a command (its words, upper-cased first):
/// the RESP bytes to send back.
pub type Answer = Arc<dyn Fn(&[String]) -> Vec<u8> + Send + Sync>;

/// A fake node, serving until the test process ends.
pub struct LyingNode {
    pub port: u16,
    /// Every connection it took so far.
    pub connections: Arc<AtomicUsize>,
    listener: Option<TcpListener>,
}

impl LyingNode {
    /// Binds a free port now, so that another node's answers can name it
    /// before it serves.
    pub fn bind() -> LyingNode {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        LyingNode {
            port,
            connections: Arc::default(),
            listener: Some(listener),
        }
    }

    /// Serves every connection on a thread of its own: the set-up commands,
    /// `INFO` (a cluster), `CLUSTER KEYSLOT`, `PING`, `ROLE` and `WAIT` as a
    /// healthy primary answers them; `CLUSTER SLOTS` as `slots`; anything
    /// else as `other`.
    pub fn serve(mut self, slots: Vec<u8>, other: Answer) -> LyingNode {
        let listener = self.listener.take().expect("served once");
        let connections = Arc::clone(&self.connections);
        let slots = Arc::new(slots);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                connections.fetch_add(1, Ordering::SeqCst);
                let (slots, other) = (Arc::clone(&slots), Arc::clone(&other));
                thread::spawn(move || answer_each_command(stream, &slots, &*other));
            }
        });
        self
    }

    /// How many connections it has taken.
    pub fn taken(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// `CLUSTER SLOTS` naming one node at `host:port` for every slot.
pub fn all_slots_at(host: &str, port: u16) -> Vec<u8> {
    format!(
        "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n${}\r\n{host}\r\n:{port}\r\n$2\r\nid\r\n",
        host.len()
    )
    .into_bytes()
}

/// A `MOVED` error naming `to` (`host:port`), as a node sends it.
pub fn moved(to: &str) -> Vec<u8> {
    format!("-MOVED 5000 {to}\r\n").into_bytes()
}

fn answer_each_command(stream: TcpStream, slots: &[u8], other: &dyn Fn(&[String]) -> Vec<u8>) {
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    while let Some(words) = read_command(&mut reader) {
        let first = |n: usize| words.get(n).map(|w| w.to_ascii_uppercase()).unwrap_or_default();
        let answer = match (first(0).as_str(), first(1).as_str()) {
            ("CLIENT" | "SELECT" | "AUTH" | "ASKING", _) => b"+OK\r\n".to_vec(),
            ("PING", _) => b"+PONG\r\n".to_vec(),
            ("INFO", _) => b"$28\r\n# Cluster\r\ncluster_enabled:1\r\n".to_vec(),
            ("CLUSTER", "KEYSLOT") => b":5000\r\n".to_vec(),
            ("CLUSTER", "SLOTS") => slots.to_vec(),
            ("ROLE", _) => b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n".to_vec(),
            ("WAIT", _) => b":1\r\n".to_vec(),
            _ => other(&words),
        };
        if writer.write_all(&answer).is_err() {
            return;
        }
    }
}

/// One command (`*N`, then `N` bulk strings), or `None` at the end.
fn read_command(reader: &mut BufReader<TcpStream>) -> Option<Vec<String>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok().filter(|n| *n > 0)?;
    let count: usize = String::from_utf8_lossy(line.get(1..)?).trim().parse().ok()?;
    let mut words = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        line.clear();
        reader.read_until(b'\n', &mut line).ok()?;
        let len: usize = String::from_utf8_lossy(line.get(1..)?).trim().parse().ok()?;
        let mut word = vec![0; len + 2];
        reader.read_exact(&mut word).ok()?;
        word.truncate(len);
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
    Some(words)
}
