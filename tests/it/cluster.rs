//! Redis Cluster: three primaries with a replica each on loopback
//! (`redis-cli --cluster create`), `REDIS_URL` naming a node that does not
//! hold the queue's slot. The programs reach the slot's primary by
//! themselves (`MOVED`), and find it again when it dies. Each test waits
//! for the cluster's own word (`CLUSTER INFO`, `CLUSTER SLOTS`), never a
//! fixed sleep.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// Six nodes, killed on drop. The tests check the cluster through each
/// node's plain port (where `CLUSTER SLOTS` names plain ports); a TLS
/// cluster's programs use its TLS ports.
struct Cluster {
    nodes: Vec<RedisServer>,
    /// With TLS (`tls-cluster yes`): each node's TLS port, by plain port.
    tls_ports: Vec<(u16, u16)>,
}

impl Cluster {
    fn start() -> Cluster {
        Cluster::create(false)
    }

    /// Nodes that speak TLS to clients, to each other and to their
    /// replicas, each with the node certificate (the cluster bus asks for
    /// a client's certificate always); clients' certificates not asked for.
    fn start_tls() -> Cluster {
        Cluster::create(true)
    }

    fn create(tls: bool) -> Cluster {
        let certs = certs();
        let (cert, key, ca) = (certs.path("node.crt"), certs.path("node.key"), certs.ca());
        let mut nodes = Vec::new();
        let mut tls_ports = Vec::new();
        for _ in 0..6 {
            let mut args = vec!["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"];
            args.extend(IN_MEMORY);
            // The bus listens 10000 above the client port (TLS's with TLS).
            let tls_port = (0..100).map(|_| free_port()).find(|&p| p <= 55535).expect("a port");
            let tls_port_arg = tls_port.to_string();
            if tls {
                args.extend(["--tls-port", &tls_port_arg, "--tls-cluster", "yes"]);
                args.extend(["--tls-replication", "yes", "--tls-auth-clients", "no"]);
                args.extend(["--tls-cert-file", &cert, "--tls-key-file", &key]);
                args.extend(["--tls-ca-cert-file", &ca]);
            }
            let node = RedisServer::with_args(&args);
            tls_ports.push((node.port, tls_port));
            nodes.push(node);
        }
        let mut create = Command::new("redis-cli");
        if tls {
            create.args(["--tls", "--cacert", &ca]);
        }
        create.arg("--cluster").arg("create");
        for &(plain, tls_port) in &tls_ports {
            create.arg(format!("127.0.0.1:{}", if tls { tls_port } else { plain }));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("redis-cli (scripts/test installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        if !tls {
            tls_ports.clear();
        }
        let cluster = Cluster { nodes, tls_ports };
        let ok = eventually(Duration::from_secs(30), || {
            cluster.nodes.iter().all(|n| cluster.info(n.port).contains("cluster_state:ok"))
                && cluster.holder().is_some_and(|h| cluster.replicas_of(h) >= 1)
        });
        assert!(ok, "the cluster is up, the slot's primary has its replica");
        cluster
    }

    /// The URL of the node whose plain port is `port`: `rediss://` and its
    /// TLS port on a TLS cluster.
    fn url(&self, port: u16) -> String {
        match self.tls_ports.iter().find(|(plain, _)| *plain == port) {
            Some((_, tls)) => format!("rediss://127.0.0.1:{tls}/0"),
            None => format!("redis://127.0.0.1:{port}/0"),
        }
    }

    /// `CLUSTER INFO` of the node on `port`, or "" when it does not answer.
    fn info(&self, port: u16) -> String {
        query_node(port, None, &["CLUSTER", "INFO"])
            .and_then(|v| redis::from_redis_value(v).ok())
            .unwrap_or_default()
    }

    /// The port of the primary that holds the queue's slot, as the first
    /// node that answers says.
    fn holder(&self) -> Option<u16> {
        self.nodes.iter().find_map(|n| {
            let slot: i64 =
                redis::from_redis_value(query_node(n.port, None, &["CLUSTER", "KEYSLOT", QUEUE])?)
                    .ok()?;
            let ranges: Vec<(i64, i64, (String, u16))> =
                match query_node(n.port, None, &["CLUSTER", "SLOTS"])? {
                    redis::Value::Array(ranges) => ranges
                        .into_iter()
                        .filter_map(|r| match r {
                            redis::Value::Array(f) if f.len() >= 3 => {
                                let start = redis::from_redis_value_ref(&f[0]).ok()?;
                                let end = redis::from_redis_value_ref(&f[1]).ok()?;
                                let redis::Value::Array(m) = &f[2] else {
                                    return None;
                                };
                                let host = redis::from_redis_value_ref(&m[0]).ok()?;
                                let port = redis::from_redis_value_ref(&m[1]).ok()?;
                                Some((start, end, (host, port)))
                            }
                            _ => None,
                        })
                        .collect(),
                    _ => return None,
                };
            ranges
                .into_iter()
                .find(|(s, e, _)| (*s..=*e).contains(&slot))
                .map(|(_, _, (_, p))| p)
        })
    }

    /// How many replicas stream from the primary on `port` (`ROLE`).
    fn replicas_of(&self, port: u16) -> usize {
        match query_node(port, None, &["ROLE"]) {
            Some(redis::Value::Array(role)) => match role.get(2) {
                Some(redis::Value::Array(r)) => r.len(),
                _ => 0,
            },
            _ => 0,
        }
    }

    /// A primary that does not hold the queue's slot.
    fn other_primary(&self) -> u16 {
        let holder = self.holder().expect("holder");
        self.nodes
            .iter()
            .map(|n| n.port)
            .find(|&p| p != holder && self.role(p) == "master")
            .expect("another primary")
    }

    /// `master` or `slave`, as `ROLE` says ("" when it does not answer).
    fn role(&self, port: u16) -> String {
        match query_node(port, None, &["ROLE"]) {
            Some(redis::Value::Array(r)) => {
                r.first().and_then(|v| redis::from_redis_value_ref(v).ok()).unwrap_or_default()
            }
            _ => String::new(),
        }
    }

    fn node(&mut self, port: u16) -> &mut RedisServer {
        self.nodes.iter_mut().find(|n| n.port == port).expect("node")
    }
}

/// A line that shows a cluster's redirect or refusal, as Redis words it
/// (`MOVED 3122 ...`) or as the redis crate does (`Moved: 3122 ...`).
fn a_redirect_leaked(line: &str) -> bool {
    ["MOVED", "Moved:", "CROSSSLOT", "CrossSlot:"].iter().any(|w| line.contains(w))
}

/// `REDIS_URL` naming any node is enough: pointed at a primary that does not
/// hold the queue's slot, clicks are 302, the consumer, `consumer
/// --reliable` and the subscriber print, the page names the slot's
/// primary and counts the subscriber; db 1 (the original's) is refused in one line, exit 2. (Before:
/// every click 500 `MOVED`, the consumer retrying `SELECT` for ever.)
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn any_node_of_a_cluster_is_enough() {
    let cluster = Cluster::start();
    let other = cluster.other_primary();
    let url = format!("redis://127.0.0.1:{other}/0");
    let web = Web::start(&url);
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &[("REDIS_URL", &url)]);
    let subscriber = Program::start(env!("CARGO_BIN_EXE_subscriber"), &[("REDIS_URL", &url)]);
    assert!(subscriber.wait_stderr("subscribed to", Duration::from_secs(10)).is_some());
    three_clicks_reach_both_workers(&web, &consumer, &subscriber);
    let page = web.get("/").text();
    let holder = cluster.holder().expect("holder");
    assert!(
        page.contains(&format!("127.0.0.1:{holder} (holds the queue's slot")),
        "{page}"
    );
    // The counts are the node's (PUBLISH's answer, PUBSUB NUMSUB): the
    // subscriber listens where the web publishes, on the slot's holder.
    assert!(page.contains("task:pubsub:channel: 1 subscribed"), "{page}");
    let said = web.program.stderr_lines();
    assert!(
        said.iter().any(|l| l.contains("received by 1 subscribers")),
        "{said:?}"
    );
    // Pointed at the holder itself, no MOVED comes: it still knows it is a
    // cluster (INFO cluster), and confirms a push on the replica.
    let at_holder = Web::start(&format!("redis://127.0.0.1:{holder}/0"));
    assert_eq!(at_holder.get("/prodcons").status, 302);
    let page = at_holder.get("/").text();
    assert!(
        page.contains("holds the queue's slot") && page.contains("1 replicas"),
        "{page}"
    );
    // Pointed at a replica, the first click is 302 too.
    let replica = cluster.nodes.iter().map(|n| n.port).find(|&p| cluster.role(p) == "slave");
    let at_replica = Web::start(&format!(
        "redis://127.0.0.1:{}/0",
        replica.expect("a replica")
    ));
    let first = at_replica.get("/prodcons");
    assert_eq!(first.status, 302, "{}", first.text());

    // consumer --reliable beside them: its keys are in the queue's slot.
    let mut reliable = Command::new(env!("CARGO_BIN_EXE_consumer"));
    reliable.arg("--reliable");
    let reliable = Program::start_with(reliable, &[("REDIS_URL", &url), ("CONSUMER_NAME", "c1")]);
    assert!(reliable.wait_stderr("connected to Redis", Duration::from_secs(10)).is_some());
    let before = tasks(&consumer.stdout_lines()).len() + tasks(&reliable.stdout_lines()).len();
    for _ in 0..6 {
        assert_eq!(web.get("/prodcons").status, 302);
    }
    let all = eventually(Duration::from_secs(10), || {
        tasks(&consumer.stdout_lines()).len() + tasks(&reliable.stdout_lines()).len() == before + 6
    });
    assert!(
        all,
        "{:?} {:?}",
        consumer.stdout_lines(),
        reliable.stderr_lines()
    );
    let said = reliable.stderr_lines();
    assert!(!said.iter().any(|l| a_redirect_leaked(l)), "{said:?}");

    let db1 = format!("redis://127.0.0.1:{other}/1");
    for exe in [env!("CARGO_BIN_EXE_consumer"), env!("CARGO_BIN_EXE_web")] {
        let mut program = Program::start(exe, &[("REDIS_URL", &db1), ("BIND", "127.0.0.1:0")]);
        assert_eq!(program.wait_exit(Duration::from_secs(10)), Some(2), "{exe}");
        let said = program.stderr_lines();
        let last = said.last().cloned().unwrap_or_default();
        assert!(
            last.contains("only db 0") && last.contains("/0"),
            "{exe}: {said:?}"
        );
    }
}

/// `rediss://` naming any node of a cluster that speaks TLS everywhere
/// (`tls-cluster yes`): clicks are 302, the consumer and the subscriber
/// print, the page names the slot's primary by its TLS port. The slot's
/// primary SIGKILLed: the programs find its replica, over TLS too, and once
/// that has a replica of its own again, clicks are 302 and printed again.
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn a_tls_cluster_works_the_same() {
    let _heavy = heavy();
    let mut cluster = Cluster::start_tls();
    let url = cluster.url(cluster.other_primary());
    let ca = certs().ca();
    let env = [("REDIS_URL", url.as_str()), ("REDIS_CA_FILE", ca.as_str())];
    let web = Web::start_env(&env);
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &env);
    let subscriber = Program::start(env!("CARGO_BIN_EXE_subscriber"), &env);
    assert!(subscriber.wait_stderr("subscribed to", Duration::from_secs(10)).is_some());
    three_clicks_reach_both_workers(&web, &consumer, &subscriber);
    let old = cluster.holder().expect("holder");
    let page = web.get("/").text();
    let shown = cluster.url(old).replace("rediss://", "").replace("/0", "");
    assert!(
        page.contains(&format!("{shown} (holds the queue's slot")),
        "{page}"
    );

    cluster.node(old).kill();
    let mut new = None;
    let took_over = eventually(Duration::from_secs(40), || {
        new = cluster.holder().filter(|&h| h != old);
        new.is_some_and(|n| cluster.info(n).contains("cluster_state:ok"))
    });
    assert!(took_over, "a replica takes the slot over");
    let new = new.expect("new holder");
    cluster.node(old).restart();
    let streaming = eventually(Duration::from_secs(30), || cluster.replicas_of(new) >= 1);
    assert!(streaming, "the old primary streams from the new one");
    let mut answers = Vec::new();
    let again = eventually(Duration::from_secs(20), || {
        answers.push(web.get("/prodcons").status);
        answers.last() == Some(&302)
    });
    let web_said = web.program.stderr_lines();
    assert!(again, "302 again: {answers:?} {web_said:?}");
    let ok = answers.iter().filter(|&&s| s == 302).count();
    let printed = eventually(Duration::from_secs(15), || {
        tasks(&consumer.stdout_lines()).len() >= 3 + ok
    });
    assert!(printed, "{:?}", consumer.stderr_lines());
    let page = web.get("/").text();
    let shown = cluster.url(new).replace("rediss://", "").replace("/0", "");
    assert!(
        page.contains(&format!("{shown} (holds the queue's slot")),
        "{page}"
    );
}

/// The slot's primary announces a name that does not answer (here
/// `nowhere.invalid`, as a node whose announced address the client cannot
/// reach): a click answers 503 naming it, at once, and the consumer says
/// so and tries again. Once the node announces a name that answers, both
/// go on by themselves; nothing answered 302 is lost. Told to name no
/// host (`cluster-preferred-endpoint-type unknown-endpoint`), the cluster
/// is reached on the host that answered.
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn a_node_name_that_does_not_answer_is_said_and_waited_out() {
    let cluster = Cluster::start();
    let holder = cluster.holder().expect("holder");
    let other = cluster.other_primary();
    let url = format!("redis://127.0.0.1:{other}/0");
    let announce = |name: &str| {
        for node in &cluster.nodes {
            let _ = query_node(
                node.port,
                None,
                &[
                    "CONFIG",
                    "SET",
                    "cluster-preferred-endpoint-type",
                    "hostname",
                ],
            );
        }
        let set = query_node(
            holder,
            None,
            &["CONFIG", "SET", "cluster-announce-hostname", name],
        );
        assert!(set.is_some(), "CONFIG SET cluster-announce-hostname {name}");
        let heard = eventually(Duration::from_secs(20), || {
            format!("{:?}", query_node(other, None, &["CLUSTER", "SLOTS"])).contains(name)
        });
        assert!(heard, "the cluster names {holder} {name}");
    };
    announce("nowhere.invalid");
    let web = Web::start(&url);
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &[("REDIS_URL", &url)]);
    let started = Instant::now();
    let answer = web.get("/prodcons");
    let took = started.elapsed();
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(
        answer.text().contains("nowhere.invalid"),
        "{}",
        answer.text()
    );
    assert!(
        took < Duration::from_secs(5),
        "answered within the click's bound: {took:?}"
    );
    let said = consumer.wait_stderr("nowhere.invalid", Duration::from_secs(10));
    assert!(said.is_some(), "{:?}", consumer.stderr_lines());
    let page = answer.text();
    let why = page.lines().find(|l| l.contains("nowhere.invalid")).unwrap_or_default();
    eprintln!(
        "a click ({took:?}): {why}\nthe consumer: {}",
        said.unwrap_or_default()
    );

    announce("localhost");
    let mut answers = Vec::new();
    let again = eventually(Duration::from_secs(20), || {
        answers.push(web.get("/prodcons").status);
        answers.last() == Some(&302)
    });
    assert!(
        again,
        "302 again: {answers:?} {:?}",
        web.program.stderr_lines()
    );
    let ok = answers.iter().filter(|&&s| s == 302).count();
    let printed = eventually(Duration::from_secs(20), || {
        tasks(&consumer.stdout_lines()).len() >= ok
    });
    assert!(printed, "{:?}", consumer.stderr_lines());

    // Behind a load balancer a cluster names no host at all (`MOVED 3122
    // :PORT`): the node's host is the one that answered.
    for node in &cluster.nodes {
        let endpoint = [
            "CONFIG",
            "SET",
            "cluster-preferred-endpoint-type",
            "unknown-endpoint",
        ];
        assert!(query_node(node.port, None, &endpoint).is_some());
    }
    let fresh = Web::start(&url);
    let answer = fresh.get("/prodcons");
    assert_eq!(answer.status, 302, "{}", answer.text());
    let printed = eventually(Duration::from_secs(20), || {
        tasks(&consumer.stdout_lines()).len() > ok
    });
    assert!(printed, "{:?}", consumer.stderr_lines());
}

/// Another primary and its replica SIGKILLed: their slots have no node, so
/// the whole cluster refuses every command (`CLUSTERDOWN`) until they are
/// back. A click answers 503, nothing pushed, in words that say why (not
/// 500 "fix that in Redis"); the consumer waits it out with its backoff
/// (a few lines, not one per millisecond); once the two are back (the
/// cluster says `cluster_state:ok`), clicks are 302 and printed again.
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn a_cluster_that_is_down_answers_503_and_recovers() {
    let mut cluster = Cluster::start();
    let holder = cluster.holder().expect("holder");
    let other = cluster.other_primary();
    let url = format!("redis://127.0.0.1:{holder}/0");
    let web = Web::start(&url);
    let consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &[("REDIS_URL", &url)]);
    assert_eq!(web.get("/prodcons").status, 302);
    let replica = cluster
        .nodes
        .iter()
        .map(|n| n.port)
        .find(|&p| matches!(query_node(p, None, &["ROLE"]), Some(redis::Value::Array(r)) if r.get(2).is_some_and(|m| redis::from_redis_value_ref::<u16>(m).is_ok_and(|m| m == other))))
        .expect("the other primary's replica");
    cluster.node(replica).kill();
    cluster.node(other).kill();
    let down = eventually(Duration::from_secs(30), || {
        cluster.info(holder).contains("cluster_state:fail")
    });
    assert!(down, "the cluster says it is down");
    let lines_before = consumer.stderr_lines().len();
    let answer = web.get("/prodcons");
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(answer.text().contains("CLUSTERDOWN"), "{}", answer.text());
    let page = web.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("refuses for now: CLUSTERDOWN"),
        "{}",
        page.text()
    );
    thread::sleep(Duration::from_secs(3));
    let waited = consumer.stderr_lines().len() - lines_before;
    assert!(waited <= 10, "{:?}", consumer.stderr_lines());

    cluster.node(other).restart();
    cluster.node(replica).restart();
    let ok = eventually(Duration::from_secs(30), || {
        cluster.info(holder).contains("cluster_state:ok")
    });
    assert!(ok, "the cluster is up again");
    let mut answers = Vec::new();
    let again = eventually(Duration::from_secs(20), || {
        answers.push(web.get("/prodcons").status);
        answers.last() == Some(&302)
    });
    assert!(again, "{answers:?}");
    let ok = answers.iter().filter(|&&s| s == 302).count();
    let printed = eventually(Duration::from_secs(15), || {
        tasks(&consumer.stdout_lines()).len() > ok
    });
    assert!(printed, "{:?}", consumer.stderr_lines());
}

/// The slot's primary SIGKILLed under steady clicks: once the cluster says
/// its replica took over (`CLUSTER SLOTS`, `cluster_state:ok`) and the old
/// primary, started again, streams from it (`ROLE`), clicks are 302 again
/// by themselves, the consumer prints on, and every element answered 302
/// is printed or waiting.
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn the_slots_primary_killed_under_clicks_loses_no_302() {
    let _heavy = heavy();
    let mut cluster = Cluster::start();
    let url = format!("redis://127.0.0.1:{}/0", cluster.other_primary());
    let web = Web::start_env(&[("REDIS_URL", &url), ("WORKERS", "4")]);
    let mut consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &[("REDIS_URL", &url)]);
    let (answers, old, new, again) = clicks_through_a_failover(&mut cluster, &web, "/prodcons");
    let printed = consumer.stop_and_collect().len();
    let consumer_said = consumer.stderr_lines();
    let waiting: usize = query_node(new, None, &["LLEN", QUEUE])
        .and_then(|v| redis::from_redis_value(v).ok())
        .unwrap_or(0);
    let counts = count_each(&answers);
    eprintln!(
        "cluster failover {old} -> {new}: answers {counts:?}; printed {printed}, {waiting} waiting"
    );
    let web_said = web.program.stderr_lines();
    let tail = &web_said[web_said.len().saturating_sub(6)..];
    assert!(again, "302 again after the failover: {counts:?} {tail:?}");
    let ok = counts.get(&302).copied().unwrap_or(0);
    let lost_on_the_wire = consumer
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("lost the connection"))
        .count();
    assert!(
        printed + waiting + lost_on_the_wire >= ok,
        "every 302 printed or waiting: {counts:?} {consumer_said:?}"
    );
    for status in counts.keys() {
        assert!(matches!(status, 302 | 202 | 503 | 504), "{counts:?}");
    }
}

/// The same failover under clicks on `/stream`, read by two stream
/// consumers: every entry answered 302 (on a replica) is printed by one of
/// them (a reader that lost its connection reads what it held again).
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn the_streams_primary_killed_under_clicks_loses_no_302() {
    let _heavy = heavy();
    let mut cluster = Cluster::start();
    let url = format!("redis://127.0.0.1:{}/0", cluster.other_primary());
    let web = Web::start_env(&[("REDIS_URL", &url), ("WORKERS", "4")]);
    let readers: Vec<Program> = ["a", "b"]
        .map(|name| {
            let env = [("REDIS_URL", url.as_str()), ("CONSUMER_NAME", name)];
            Program::start(env!("CARGO_BIN_EXE_stream_consumer"), &env)
        })
        .into();
    let (answers, old, new, again) = clicks_through_a_failover(&mut cluster, &web, "/stream");
    let counts = count_each(&answers);
    let ok = counts.get(&302).copied().unwrap_or(0);
    let printed = || readers.iter().map(|r| tasks(&r.stdout_lines()).len()).sum::<usize>();
    let all = eventually(Duration::from_secs(30), || printed() >= ok);
    eprintln!(
        "stream, cluster failover {old} -> {new}: answers {counts:?}; printed {}",
        printed()
    );
    assert!(again, "302 again after the failover: {counts:?}");
    assert!(all, "every 302 printed: {counts:?}, {} printed", printed());
    for status in counts.keys() {
        assert!(matches!(status, 302 | 202 | 503 | 504), "{counts:?}");
    }
}

/// Clicks on `path` every 50 ms while the slot's primary is SIGKILLed, a
/// replica takes over (`CLUSTER SLOTS`, `cluster_state:ok`), and the old
/// primary, started again, streams from the new one (`ROLE`); then until a
/// click is 302 again (20 s at most). The answers, the old and the new
/// holder, and whether 302 came back.
fn clicks_through_a_failover(
    cluster: &mut Cluster,
    web: &Web,
    path: &'static str,
) -> (Vec<u16>, u16, u16, bool) {
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let clicker = {
        let (stop, answers, addr) = (Arc::clone(&stop), Arc::clone(&answers), web.addr);
        thread::spawn(move || {
            let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
            let started = Instant::now();
            while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(90) {
                let status = http(addr, request.as_bytes()).status;
                answers.lock().expect("answers").push(status);
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    thread::sleep(Duration::from_secs(1));
    let old = cluster.holder().expect("holder");
    cluster.node(old).kill();
    let mut new = None;
    let took_over = eventually(Duration::from_secs(40), || {
        new = cluster.holder().filter(|&h| h != old);
        new.is_some() && cluster.info(new.unwrap_or(0)).contains("cluster_state:ok")
    });
    assert!(took_over, "a replica takes the slot over");
    let new = new.expect("new holder");
    // Until the old primary is back as its replica, the new one has none to
    // confirm a push: 202.
    cluster.node(old).restart();
    let streaming = eventually(Duration::from_secs(30), || cluster.replicas_of(new) >= 1);
    assert!(streaming, "the old primary streams from the new one");
    let seen = answers.lock().expect("answers").len();
    let again = eventually(Duration::from_secs(20), || {
        answers.lock().expect("answers")[seen..].contains(&302)
    });
    stop.store(true, Ordering::SeqCst);
    clicker.join().expect("clicker");
    let answers = answers.lock().expect("answers").clone();
    (answers, old, new, again)
}

/// The queue's slot moved to another primary under steady clicks and a
/// consumer, the way `redis-cli --cluster reshard` moves one: `IMPORTING` on
/// the new holder, `MIGRATING` on the old, the keys `MIGRATE`d (the
/// programs meet `ASK` meanwhile), then `SETSLOT NODE` on every primary
/// (then `MOVED`). Nothing answered 302 is lost, and clicks stay 302.
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn the_slot_moved_under_clicks_loses_nothing() {
    let cluster = Cluster::start();
    let (answers, keys, to, url) = move_the_slot_under_clicks(&cluster, "/prodcons");
    // Started only now, so the queue held elements to MIGRATE.
    let mut consumer = Program::start(env!("CARGO_BIN_EXE_consumer"), &[("REDIS_URL", &url)]);
    consumer.wait_stdout(41, Duration::from_secs(10));
    let printed = consumer.stop_and_collect().len();
    let waiting: usize = query_node(to, None, &["LLEN", QUEUE])
        .and_then(|v| redis::from_redis_value(v).ok())
        .unwrap_or(0);
    let counts = count_each(&answers);
    eprintln!(
        "slot moved to {to} ({} keys): answers {counts:?}; printed {printed}, {waiting} waiting",
        keys.len()
    );
    let said = consumer.stderr_lines();
    assert_eq!(keys, [QUEUE], "the queue was migrated");
    assert_eq!(
        counts.get(&302).copied().unwrap_or(0),
        40,
        "{counts:?} {said:?}"
    );
    assert_eq!(printed + waiting, 40, "{said:?}");
}

/// The same move under clicks on `/stream`: the stream is migrated with
/// the slot, every click is 302, and a stream consumer started afterwards
/// prints all 40 entries.
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn the_slot_moved_under_stream_clicks_loses_nothing() {
    let cluster = Cluster::start();
    let (answers, keys, to, url) = move_the_slot_under_clicks(&cluster, "/stream");
    let env = [("REDIS_URL", url.as_str()), ("CONSUMER_NAME", "after")];
    let reader = Program::start(env!("CARGO_BIN_EXE_stream_consumer"), &env);
    let printed = tasks(&reader.wait_stdout(41, Duration::from_secs(15))).len();
    let counts = count_each(&answers);
    eprintln!("stream slot moved to {to}: answers {counts:?}; printed {printed}");
    assert_eq!(
        keys,
        ["{task:prodcons:queue}:stream"],
        "the stream was migrated"
    );
    assert_eq!(counts.get(&302).copied().unwrap_or(0), 40, "{counts:?}");
    assert_eq!(printed, 40, "{:?}", reader.stderr_lines());
}

/// Ten clicks on `path`, then the queue's slot moved from its holder to
/// another primary as `redis-cli --cluster reshard` does, ten clicks after
/// each step (`IMPORTING` and `MIGRATING`, the keys `MIGRATE`d, `SETSLOT
/// NODE` on every node). The answers, the keys moved, the new holder, and
/// a URL naming it.
fn move_the_slot_under_clicks(
    cluster: &Cluster,
    path: &str,
) -> (Vec<u16>, Vec<String>, u16, String) {
    let from = cluster.holder().expect("holder");
    let to = cluster.other_primary();
    let url = format!("redis://127.0.0.1:{to}/0");
    let web = Web::start(&url);
    let id = |port: u16| -> String {
        redis::from_redis_value(query_node(port, None, &["CLUSTER", "MYID"]).expect("MYID"))
            .expect("id")
    };
    let slot: i64 = redis::from_redis_value(
        query_node(from, None, &["CLUSTER", "KEYSLOT", QUEUE]).expect("slot"),
    )
    .expect("slot");
    let slot = slot.to_string();
    let (from_id, to_id) = (id(from), id(to));
    let mut answers = Vec::new();
    let mut click = |n: usize| {
        for _ in 0..n {
            answers.push(web.get(path).status);
        }
    };
    click(10);
    assert!(
        query_node(
            to,
            None,
            &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]
        )
        .is_some()
    );
    assert!(
        query_node(
            from,
            None,
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]
        )
        .is_some()
    );
    click(10);
    let keys: Vec<String> = redis::from_redis_value(
        query_node(from, None, &["CLUSTER", "GETKEYSINSLOT", &slot, "100"]).expect("keys"),
    )
    .expect("keys");
    for key in &keys {
        let port = to.to_string();
        let moved = query_node(
            from,
            None,
            &["MIGRATE", "127.0.0.1", &port, key, "0", "5000"],
        );
        assert!(moved.is_some(), "MIGRATE {key}");
    }
    click(10);
    for node in &cluster.nodes {
        let _ = query_node(
            node.port,
            None,
            &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id],
        );
    }
    let moved = eventually(Duration::from_secs(20), || cluster.holder() == Some(to));
    assert!(moved, "the slot is at {to}");
    click(10);
    (answers, keys, to, url)
}

/// The node the subscriber listens on (the slot's holder, though
/// `REDIS_URL` names another) killed: it finds the new holder by itself
/// and subscribes there; what is published afterwards reaches it (classic
/// pub/sub reaches every node). What was published while it was away is
/// gone, as always.
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn the_subscribers_node_killed_it_subscribes_elsewhere() {
    let _heavy = heavy();
    let mut cluster = Cluster::start();
    let old = cluster.holder().expect("holder");
    let url = format!("redis://127.0.0.1:{}/0", cluster.other_primary());
    let subscriber = Program::start(env!("CARGO_BIN_EXE_subscriber"), &[("REDIS_URL", &url)]);
    let first = subscriber.wait_stderr("subscribed to", Duration::from_secs(10));
    assert!(
        first.is_some_and(|l| l.contains(&format!("127.0.0.1:{old}, which holds"))),
        "{:?}",
        subscriber.stderr_lines()
    );
    cluster.node(old).kill();
    let again = eventually(Duration::from_secs(30), || {
        subscriber.stderr_lines().iter().filter(|l| l.contains("subscribed to")).count() >= 2
    });
    assert!(again, "{:?}", subscriber.stderr_lines());
    let holder = cluster.holder().expect("holder");
    let heard = eventually(Duration::from_secs(10), || {
        let _ = query_node(holder, None, &["PUBLISH", CHANNEL, "after"]);
        subscriber.stdout_lines().iter().any(|l| l.contains("Task get after"))
    });
    assert!(heard, "{:?}", subscriber.stderr_lines());
}

/// `consumer --reliable` SIGKILLed on a cluster while Redis had handed it
/// an element (it was stopped in its `BLMOVE`), and another started under
/// another name: that one prints what was waiting and, once the dead one's
/// sign of life expires, hands back and prints what it held. Nothing is
/// lost. The hand-back is one script over four keys, which a cluster runs
/// only when all are in one slot (the hash tag; with the old key names:
/// `CROSSSLOT`, never printed).
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn a_reliable_consumer_killed_on_a_cluster_loses_nothing() {
    let cluster = Cluster::start();
    let holder = cluster.holder().expect("holder");
    let url = format!("redis://127.0.0.1:{}/0", cluster.other_primary());
    let reliable = |name: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_consumer"));
        command.arg("--reliable");
        Program::start_with(command, &[("REDIS_URL", &url), ("CONSUMER_NAME", name)])
    };
    let blocked = || {
        let info: String = query_node(holder, None, &["INFO", "clients"])
            .and_then(|v| redis::from_redis_value(v).ok())
            .unwrap_or_default();
        !info.contains("blocked_clients:0")
    };
    let mut dead = reliable("dead");
    assert!(
        eventually(Duration::from_secs(10), blocked),
        "its BLMOVE waits"
    );
    signal(dead.pid(), "-STOP");
    let web = Web::start(&url);
    for _ in 0..3 {
        assert_eq!(web.get("/prodcons").status, 302);
    }
    let held: Vec<String> = redis::from_redis_value(
        query_node(
            holder,
            None,
            &["LRANGE", "{task:prodcons:queue}:processing:dead", "0", "-1"],
        )
        .expect("LRANGE"),
    )
    .expect("a list");
    assert_eq!(held.len(), 1, "Redis handed it the first element");
    dead.kill();

    let alive = reliable("alive");
    let printed = tasks(&alive.wait_stdout(4, Duration::from_secs(40)));
    let said = alive.stderr_lines();
    assert_eq!(printed.len(), 3, "{said:?}");
    assert!(printed.contains(&held[0]), "{printed:?}");
    assert!(
        said.iter().any(|l| l.contains("handed back the 1 elements")),
        "{said:?}"
    );
    assert!(!said.iter().any(|l| a_redirect_leaked(l)), "{said:?}");
}

/// The ACL users of docs/tls.md with the additions of docs/cluster.md, on
/// every node (each node keeps its own users), `REDIS_URL` naming a primary
/// that does not hold the queue's slot: clicks are 302, the consumer,
/// `consumer --reliable`, the subscriber and the stream consumer print,
/// and no program is refused anything (no `NOPERM`, no warning).
#[test]
#[ignore = "needs redis-cli (scripts/test installs it)"]
fn each_program_works_under_its_acl_rules_on_a_cluster() {
    let rules = acl_rules(&["tls.md", "cluster.md"]);
    assert_eq!(rules.len(), 10, "{rules:?}");
    let cluster = Cluster::start();
    for node in &cluster.nodes {
        set_acl_rules(node.port, &rules);
    }
    let other = cluster.other_primary();
    let web = each_program_works_as_its_acl_user(|user| {
        let url = format!("redis://{user}:{}-pw@127.0.0.1:{other}/0", &user[3..]);
        vec![("REDIS_URL", url)]
    });
    // Without +wait a push cannot be confirmed on a replica: 202, and the
    // log says why (before: a debug line only).
    for node in &cluster.nodes {
        let _ = query_node(node.port, None, &["ACL", "SETUSER", "mq-web", "-wait"]);
    }
    assert_eq!(web.get("/prodcons").status, 202);
    let said = web.program.stderr_lines();
    assert!(
        said.iter()
            .any(|l| l.contains("WARN") && l.contains("NOPERM") && l.contains("'wait'")),
        "{said:?}"
    );
}
