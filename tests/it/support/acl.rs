//! The ACL users the docs give, run as written: the `ACL SETUSER mq-...`
//! lines of docs pages, and the five programs, each as its own user.

use std::process::Command;
use std::time::Duration;

use super::*;

/// The `ACL SETUSER mq-...` lines of `pages` (in `docs/`), in order, each
/// as its words.
pub fn acl_rules(pages: &[&str]) -> Vec<Vec<String>> {
    pages
        .iter()
        .flat_map(|page| {
            let path = format!("{}/docs/{page}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read_to_string(&path)
                .expect("a docs page")
                .lines()
                .filter(|l| l.starts_with("ACL SETUSER mq-"))
                .map(|l| l.split_whitespace().map(str::to_owned).collect())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Runs `rules` on the node at `port` (no password).
pub fn set_acl_rules(port: u16, rules: &[Vec<String>]) {
    for rule in rules {
        let words: Vec<&str> = rule.iter().map(String::as_str).collect();
        assert!(query_node(port, None, &words).is_some(), "{rule:?}");
    }
}

/// The web, the consumer, `consumer --reliable` (named `test`), the
/// subscriber and the stream consumer, each with the environment
/// `env(user)` gives for its user (`mq-web`, ...): four clicks on each link
/// are 302, the consumers print the four elements between them, the
/// subscriber the four messages and the stream consumer the four entries,
/// and no program is refused anything (no `NOPERM`, no warning). Returns
/// the web server, still running.
pub fn each_program_works_as_its_acl_user(
    env: impl Fn(&str) -> Vec<(&'static str, String)>,
) -> Web {
    let start = |exe: &str, args: &[&str], user: &str, extra: &[(&'static str, &str)]| {
        let env = env(user);
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra);
        let mut command = Command::new(exe);
        command.args(args);
        Program::start_with(command, &all)
    };
    let web_env = env("mq-web");
    let web = Web::start_env(&web_env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let consumer = start(env!("CARGO_BIN_EXE_consumer"), &[], "mq-consumer", &[]);
    let reliable = start(
        env!("CARGO_BIN_EXE_consumer"),
        &["--reliable"],
        "mq-reliable",
        &[("CONSUMER_NAME", "test")],
    );
    let subscriber = start(env!("CARGO_BIN_EXE_subscriber"), &[], "mq-subscriber", &[]);
    let stream = start(env!("CARGO_BIN_EXE_stream_consumer"), &[], "mq-stream", &[]);
    let subscribed = subscriber.wait_stderr("subscribed to", Duration::from_secs(10));
    assert!(subscribed.is_some(), "{:?}", subscriber.stderr_lines());
    let connected = reliable.wait_stderr("connected to Redis", Duration::from_secs(10));
    assert!(connected.is_some(), "{:?}", reliable.stderr_lines());
    let page = web.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("1 subscribed"), "{}", page.text());
    for _ in 0..4 {
        let click = web.get("/prodcons");
        assert_eq!(click.status, 302, "{}", click.text());
        assert_eq!(web.get("/pubsub").status, 302);
        assert_eq!(web.get("/stream").status, 302);
    }
    let printed = eventually(Duration::from_secs(10), || {
        tasks(&consumer.stdout_lines()).len() + tasks(&reliable.stdout_lines()).len() == 4
    });
    assert!(
        printed,
        "{:?} {:?}",
        consumer.stderr_lines(),
        reliable.stderr_lines()
    );
    let heard = subscriber.wait_stdout(5, Duration::from_secs(10));
    assert_eq!(tasks(&heard).len(), 4, "{heard:?}");
    let read = stream.wait_stdout(5, Duration::from_secs(10));
    assert_eq!(
        tasks(&read).len(),
        4,
        "{read:?} {:?}",
        stream.stderr_lines()
    );
    let shown = eventually(Duration::from_secs(10), || {
        web.get("/").text().contains("group task:stream:group: 0 pending")
    });
    assert!(shown, "{}", web.get("/").text());
    for lines in [
        web.program.stderr_lines(),
        consumer.stderr_lines(),
        reliable.stderr_lines(),
        subscriber.stderr_lines(),
        stream.stderr_lines(),
    ] {
        eprintln!("{lines:?}");
        assert!(
            !lines.iter().any(|l| l.contains("NOPERM") || l.contains("WARN")),
            "{lines:?}"
        );
    }
    web
}
