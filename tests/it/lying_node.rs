//! A cluster node that lies: answers that a misconfigured or broken node
//! (a wrong `cluster-announce-ip`, a proxy in front of a cluster, a node
//! mid-upgrade) could give and a real `redis-server` cannot be made to, from
//! the fake node in `support/lying_node.rs`. Whatever it says, the programs
//! wait with the capped backoff, print only printable text, hold a bounded
//! reply, and name a malformed one.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// The last lines `program` logged, for a failed assertion.
fn last_lines(program: &Program) -> Vec<String> {
    let lines = program.stderr_lines();
    lines[lines.len().saturating_sub(12)..].to_vec()
}

/// How many connections `nodes` took, and how many lines the program
/// logged, from its third second to its sixth: after the first waits of
/// the backoff (100 ms doubling), at most a few a second.
fn pace_after_the_first_seconds(program: &Program, nodes: &[&LyingNode]) -> (usize, usize) {
    let taken = || nodes.iter().map(|n| n.taken()).sum::<usize>();
    thread::sleep(Duration::from_secs(3));
    let (connections, lines) = (taken(), program.stderr_lines().len());
    thread::sleep(Duration::from_secs(3));
    (taken() - connections, program.stderr_lines().len() - lines)
}

/// A consumer pointed at `nodes[0]`: in seconds 3 to 6 it connects at most
/// three times a second and logs as little (before: about 2,500 connections
/// and 800 log lines a second, the same warning over and over). A click
/// answers 503 within its bound.
fn no_busy_loop(nodes: &[&LyingNode], what: &str) {
    let url = format!("redis://127.0.0.1:{}/0", nodes[0].port);
    let web = Web::start(&url);
    let started = Instant::now();
    let click = web.get("/prodcons");
    assert_eq!(click.status, 503, "{what}: {}", click.text());
    assert!(started.elapsed() < Duration::from_secs(5), "{what}");
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &[("REDIS_URL", &url)]);
    let (connections, lines) = pace_after_the_first_seconds(&consumer, nodes);
    eprintln!(
        "{what}: {connections} connections and {lines} log lines in 3 s: {:?}",
        last_lines(&consumer)
    );
    assert!(
        connections <= 9,
        "{what}: {connections} connections in 3 s: {:?}",
        last_lines(&consumer)
    );
    assert!(lines <= 9, "{what}: {:?}", last_lines(&consumer));
}

/// A node that answers `MOVED` naming itself.
#[test]
fn a_node_that_moves_to_itself_is_no_busy_loop() {
    let node = LyingNode::bind();
    let port = node.port;
    let me = format!("127.0.0.1:{port}");
    let node = node.serve(
        all_slots_at("127.0.0.1", port),
        Arc::new(move |_: &[String]| moved(&me)),
    );
    no_busy_loop(&[&node], "MOVED to itself");
}

/// Two nodes that each say the other holds the slot.
#[test]
fn two_nodes_that_name_each_other_are_no_busy_loop() {
    let (a, b) = (LyingNode::bind(), LyingNode::bind());
    let (to_a, to_b) = (
        format!("127.0.0.1:{}", a.port),
        format!("127.0.0.1:{}", b.port),
    );
    let slots = all_slots_at("127.0.0.1", a.port);
    let a = a.serve(slots.clone(), Arc::new(move |_: &[String]| moved(&to_b)));
    let b = b.serve(slots, Arc::new(move |_: &[String]| moved(&to_a)));
    no_busy_loop(&[&a, &b], "MOVED back and forth");
}

/// A node whose `MOVED` names a host that cannot be resolved.
#[test]
fn a_moved_to_a_host_that_does_not_resolve_is_no_busy_loop() {
    let node = LyingNode::bind();
    let port = node.port;
    let node = node.serve(
        all_slots_at("127.0.0.1", port),
        Arc::new(|_: &[String]| moved("nowhere.invalid:7000")),
    );
    no_busy_loop(&[&node], "MOVED to nowhere.invalid");
}

/// The control characters a node could put in a host name.
const CONTROLS: [char; 8] = [
    '\x1b', '\x07', '\0', '\x08', '\x0b', '\x7f', '\u{9b}', '\x0c',
];

/// A `MOVED` whose host holds ESC, BEL, NUL, BS, VT, DEL, CSI and FF: the
/// 503 page and the web's and the consumer's logs show them escaped, never
/// raw (before: `cannot reach Redis at a^[[31mb^G:7000`, which a terminal
/// showing the log obeys). A `MOVED` to port 99999 is a 503 with words
/// (before: a 500).
#[test]
fn control_characters_from_a_node_are_never_shown_raw() {
    let node = LyingNode::bind();
    let port = node.port;
    let host = "a\x1b[31mb\x07c\0d\x08e\x0bf\x7fg\u{9b}h\x0ci";
    let node = node.serve(
        all_slots_at("127.0.0.1", port),
        Arc::new(move |_: &[String]| moved(&format!("{host}:7000"))),
    );
    let url = format!("redis://127.0.0.1:{}/0", node.port);
    let web = Web::start(&url);
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &[("REDIS_URL", &url)]);
    let click = web.get("/prodcons");
    assert_eq!(click.status, 503, "{}", click.text());
    assert!(consumer.wait_stderr("WARN", Duration::from_secs(10)).is_some());
    let page = click.text();
    let raw = |text: &str| text.chars().any(|c| CONTROLS.contains(&c));
    assert!(!raw(&page), "the page: {page:?}");
    for (who, lines) in [
        ("web", web.program.stderr_lines()),
        ("consumer", consumer.stderr_lines()),
    ] {
        let shown: Vec<&String> = lines.iter().filter(|l| raw(l)).take(4).collect();
        assert!(shown.is_empty(), "the {who}'s log: {shown:?}");
    }
    eprintln!(
        "the page says: {:?}",
        page.lines().find(|l| l.contains("<p>"))
    );

    let odd = LyingNode::bind();
    let odd_port = odd.port;
    let odd = odd.serve(
        all_slots_at("127.0.0.1", odd_port),
        Arc::new(|_: &[String]| moved("127.0.0.1:99999")),
    );
    let web = Web::start(&format!("redis://127.0.0.1:{}/0", odd.port));
    let click = web.get("/prodcons");
    assert_eq!(click.status, 503, "{}", click.text());
    assert!(click.text().contains("99999"), "{}", click.text());
}

/// A node that answers commands on the queue itself (it holds the slot).
fn a_holder(_: &[String]) -> Vec<u8> {
    b":1\r\n".to_vec()
}

/// A `CLUSTER SLOTS` of 200,000 ranges (a real cluster has at most 16,384
/// slots): the web holds at most 20 MiB more than with a normal answer
/// (before: 265 to 413 MiB), and each click says why it failed.
#[test]
fn a_huge_cluster_slots_is_refused_within_bounded_memory() {
    let normal = LyingNode::bind();
    let normal_port = normal.port;
    let normal = normal.serve(all_slots_at("127.0.0.1", normal_port), Arc::new(a_holder));
    let huge = LyingNode::bind();
    let mut slots = b"*200000\r\n".to_vec();
    for n in 0..200_000 {
        let slot = n % 16384;
        slots.extend_from_slice(
            format!(
                "*3\r\n:{slot}\r\n:{slot}\r\n*3\r\n$9\r\n127.0.0.1\r\n:{}\r\n$2\r\nid\r\n",
                huge.port
            )
            .as_bytes(),
        );
    }
    let huge = huge.serve(slots, Arc::new(a_holder));
    let rss_after_clicks = |port: u16| {
        let url = format!("redis://127.0.0.1:{port}/0");
        let web = Web::start_env(&[("REDIS_URL", &url), ("WORKERS", "4")]);
        let statuses: Vec<(u16, String)> = (0..8)
            .map(|_| {
                let click = web.get("/prodcons");
                (click.status, click.text())
            })
            .collect();
        (web.rss_kib(), statuses)
    };
    let (usual, statuses) = rss_after_clicks(normal.port);
    assert!(statuses.iter().all(|(s, _)| *s == 302), "{statuses:?}");
    let (with_huge, statuses) = rss_after_clicks(huge.port);
    eprintln!(
        "RSS after 8 clicks on 4 workers: {usual} KiB with a normal CLUSTER SLOTS, {with_huge} KiB with 200,000 ranges"
    );
    for (status, text) in &statuses {
        assert_eq!(*status, 503, "{text}");
        assert!(text.contains("CLUSTER SLOTS"), "{text}");
    }
    assert!(
        with_huge < usual + 20 * 1024,
        "{with_huge} KiB, against {usual} KiB"
    );
}

/// A `CLUSTER SLOTS` whose range starts at a slot number that cannot be
/// read: a failure that says so (before: taken as slot -1, so that range,
/// naming a node that is not there, counted as holding the queue's slot).
#[test]
fn a_malformed_slot_number_is_a_failure_with_words() {
    let nowhere = free_port();
    let node = LyingNode::bind();
    let slots = format!(
        "*1\r\n*3\r\n$1\r\nx\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:{nowhere}\r\n$2\r\nid\r\n"
    );
    let node = node.serve(slots.into_bytes(), Arc::new(a_holder));
    let web = Web::start(&format!("redis://127.0.0.1:{}/0", node.port));
    let click = web.get("/prodcons");
    assert_eq!(click.status, 503, "{}", click.text());
    assert!(click.text().contains("CLUSTER SLOTS"), "{}", click.text());
    assert!(
        !click.text().contains(&nowhere.to_string()),
        "{}",
        click.text()
    );
}
