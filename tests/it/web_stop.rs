//! The web server stops like the workers: on Ctrl-C or `kill` it answers
//! the clicks it has received, refuses the rest, and exits 0.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use redis::Commands;

use crate::support::*;

/// What one request of a clicking client got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Got {
    /// A whole response with this status.
    Whole(u16),
    /// No byte at all: the connection was refused, or closed before the answer.
    Nothing,
    /// Some bytes, but not a whole response.
    Half,
}

/// One client clicking `/prodcons` on a kept connection until the server
/// is gone, at most `max` times or 30 s.
fn click_until_gone(addr: SocketAddr, max: usize) -> Vec<Got> {
    let mut got = Vec::new();
    let mut stream: Option<TcpStream> = None;
    let started = Instant::now();
    while got.len() < max && started.elapsed() < Duration::from_secs(30) {
        let conn = match stream.take() {
            Some(conn) => conn,
            None => match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(conn) => conn,
                Err(_) => {
                    got.push(Got::Nothing);
                    break; // refused: the server is gone
                }
            },
        };
        let mut conn = conn;
        let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
        if conn.write_all(b"GET /prodcons HTTP/1.1\r\nHost: t\r\n\r\n").is_err() {
            got.push(Got::Nothing);
            continue;
        }
        let bytes = read_response(&mut conn);
        let answer = classify(&bytes);
        got.push(answer);
        if matches!(answer, Got::Whole(302)) {
            stream = Some(conn);
        }
    }
    got
}

fn classify(bytes: &[u8]) -> Got {
    if bytes.is_empty() {
        return Got::Nothing;
    }
    let Some(response) = parse_response(bytes) else {
        return Got::Half;
    };
    let declared = response.header("Content-Length").and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(len) if response.body.len() == len => Got::Whole(response.status),
        _ => Got::Half,
    }
}

/// Eight clients click as fast as they can; SIGTERM (or SIGINT) comes in
/// the middle. Before, the server died at once (exit 143 or 130, no line)
/// with clicks in flight. Now: exit 0 with `stopped, as asked`, every
/// request got a whole answer or none at all, and every 302 is in the queue
/// (and nothing else is).
#[test]
fn kill_under_load_answers_every_click_whole_and_every_302_landed() {
    for sig in ["-TERM", "-INT"] {
        let redis = RedisServer::start();
        let url = redis.url(1);
        let mut web = Web::start_env(&[("REDIS_URL", &url), ("WORKERS", "4")]);
        let addr = web.addr;
        let results = Arc::new(Mutex::new(Vec::new()));
        let go = Arc::new(AtomicBool::new(true));
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let results = Arc::clone(&results);
                let go = Arc::clone(&go);
                thread::spawn(move || {
                    let got = click_until_gone(addr, 2000);
                    results.lock().expect("results").extend(got);
                    go.store(false, Ordering::SeqCst);
                })
            })
            .collect();
        let mut llen = redis.conn();
        let clicked = eventually(Duration::from_secs(20), || {
            llen.llen::<_, usize>(QUEUE).is_ok_and(|n| n >= 200)
        });
        assert!(clicked, "the clients got going");
        signal(web.program.pid(), sig);
        let status = web.program.wait_exit(Duration::from_secs(10));
        for client in clients {
            client.join().expect("client");
        }
        let stderr = web.program.stderr_lines();
        assert_eq!(status, Some(0), "{sig}: exit 0; {:?}", stderr.last());
        assert!(
            stderr.iter().any(|l| l.contains("stopped, as asked")),
            "{sig}: one line says so"
        );
        let results = results.lock().expect("results").clone();
        let counts = count_each(&results);
        let pushed: usize = redis.conn().llen(QUEUE).expect("llen");
        let redirected = counts.get(&Got::Whole(302)).copied().unwrap_or(0);
        eprintln!("{sig}: {counts:?}, {pushed} in the queue");
        assert_eq!(counts.get(&Got::Half), None, "{sig}: nothing half-answered");
        let others: Vec<_> = counts
            .keys()
            .filter(|g| !matches!(g, Got::Whole(302 | 503) | Got::Nothing))
            .collect();
        assert!(
            others.is_empty(),
            "{sig}: only 302, 503 or nothing: {others:?}"
        );
        assert_eq!(
            pushed, redirected,
            "{sig}: every 302 landed, and only those"
        );
    }
}

/// A script that starts the web server in the background (`web &`) starts
/// it with SIGINT ignored, and the demo's Ctrl-C then left it running. Now
/// it stops all the same. (An ignored SIGHUP stays ignored: that is nohup.)
#[test]
fn a_web_server_started_with_sigint_ignored_stops_on_ctrl_c() {
    let redis = RedisServer::start();
    let mut command = Command::new("sh");
    command.args([
        "-c",
        &format!("trap '' INT; exec {}", env!("CARGO_BIN_EXE_web")),
    ]);
    let mut web = Web::start_command(
        command,
        &[("REDIS_URL", &redis.url(1)), ("BIND", "127.0.0.1:0")],
    );
    assert_eq!(web.get("/prodcons").status, 302);
    signal(web.program.pid(), "-INT");
    let status = web.program.wait_exit(Duration::from_secs(10));
    assert_eq!(status, Some(0), "{:?}", web.program.stderr_lines());
}
