//! The page in a real browser: Debian's headless chromium, driven over
//! WebDriver by chromedriver, against the real web server, consumer,
//! subscriber and redis-server.
//!
//! The WebDriver client is the few HTTP calls below over a std `TcpStream`,
//! with a small JSON reader: no browser-automation crate and no download.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::support::*;

/// The key WebDriver uses for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A person in headless Chromium: the page renders the original's texts and the third link;
/// one click is one push, publish or stream entry (no second request from the redirect or the
/// favicon), and the page then shows it, and the queue in BLPOP order.
#[test]
#[ignore = "needs chromium and chromium-driver (scripts/test installs them)"]
fn a_person_clicks_each_link() {
    for exe in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(exe).exists(),
            "{exe} is missing: install Debian's chromium and chromium-driver \
             (scripts/test does: apt-get install chromium chromium-driver)"
        );
    }
    let redis = RedisServer::start();
    let consumer = start_consumer(&redis, &[]);
    let subscriber = start_subscriber(&redis);
    let web = Web::start(&redis.url(1));
    let driver = ChromeDriver::start();
    let profile = redis.dir.join("chromium-profile");
    let browser = driver.session(&profile);

    browser.go(&format!("http://{}/", web.addr));
    assert_eq!(browser.text("css selector", "h3"), "Redis Message Queue");
    assert_eq!(
        browser.text("css selector", "a[href='/prodcons']"),
        "生产消费者模式"
    );
    assert_eq!(
        browser.text("css selector", "a[href='/pubsub']"),
        "发布订阅者模式"
    );
    assert_eq!(
        browser.text("css selector", "a[href='/stream']"),
        "流消费组模式"
    );
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
    save_screenshot(&png);

    browser.click("生产消费者模式");
    assert_eq!(browser.current_url(), format!("http://{}/", web.addr));
    let lines = consumer.wait_stdout(2, Duration::from_secs(10));
    thread::sleep(Duration::from_millis(500)); // room for a second push, if any
    assert_eq!(tasks(&consumer.stdout_lines()).len(), 1, "{lines:?}");

    browser.click("发布订阅者模式");
    assert_eq!(browser.current_url(), format!("http://{}/", web.addr));
    let lines = subscriber.wait_stdout(2, Duration::from_secs(10));
    thread::sleep(Duration::from_millis(500));
    assert_eq!(tasks(&subscriber.stdout_lines()).len(), 1, "{lines:?}");

    let url = redis.url(1);
    let reader = Program::start(
        env!("CARGO_BIN_EXE_stream_consumer"),
        &[("REDIS_URL", url.as_str()), ("CONSUMER_NAME", "person")],
    );
    reader.wait_stdout(1, Duration::from_secs(10));
    browser.click("流消费组模式");
    assert_eq!(browser.current_url(), format!("http://{}/", web.addr));
    let lines = reader.wait_stdout(2, Duration::from_secs(10));
    thread::sleep(Duration::from_millis(500));
    assert_eq!(tasks(&reader.stdout_lines()).len(), 1, "{lines:?}");

    // One click, one Redis write: no double request from the redirect or
    // the favicon.
    let log = web.program.stderr_lines();
    assert_eq!(
        log.iter().filter(|l| l.contains("lpush ")).count(),
        1,
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.contains("publish ")).count(),
        1,
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.contains("xadd ")).count(),
        1,
        "{log:?}"
    );
    let digit = &tasks(&consumer.stdout_lines())[0];
    assert!(matches!(digit.parse::<u8>(), Ok(0..=9)), "{digit}");

    // The page itself shows what each click did.
    let said = browser.text("css selector", "small");
    let published = tasks(&subscriber.stdout_lines())[0].clone();
    assert!(said.contains(&format!("pushed {digit}")), "{said}");
    assert!(
        said.contains(&format!("published {published}, received by 1 subscribers")),
        "{said}"
    );

    // With the consumer stopped, clicks wait in the queue, and the page
    // lists them in the order BLPOP will take them: newest first. (The
    // stopped consumer's own BLPOP, already waiting in Redis, takes the
    // first click, unless it was between two BLPOPs: 3 or 4 wait.)
    signal(consumer.pid(), "-STOP");
    for _ in 0..4 {
        browser.click("生产消费者模式");
    }
    let mut conn = redis.conn();
    let waiting: Vec<String> = redis::Commands::lrange(&mut conn, QUEUE, 0, -1).expect("lrange");
    assert!((3..=4).contains(&waiting.len()), "{waiting:?}");
    let said = browser.text("css selector", "small");
    assert!(
        said.contains(&format!(
            "{} waiting: {}",
            waiting.len(),
            waiting.join(", ")
        )),
        "{said} vs {waiting:?}"
    );
    let pushed: Vec<String> = said
        .split("pushed ")
        .skip(1)
        .take(waiting.len())
        .map(|p| p.chars().take(1).collect())
        .collect();
    assert_eq!(
        pushed, waiting,
        "newest click first, as the queue's left end"
    );
    signal(consumer.pid(), "-CONT");
    let lines = consumer.wait_stdout(6, Duration::from_secs(10));
    let printed = tasks(&lines);
    assert_eq!(
        printed[printed.len() - waiting.len()..],
        waiting[..],
        "BLPOP takes them leftmost first"
    );
    browser.close();
}

/// Keeps the screenshot in target/, and in docs/ when asked to
/// (`UPDATE_SCREENSHOT=1 scripts/test browser`).
fn save_screenshot(png: &[u8]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let _ = std::fs::write(root.join("target/page.png"), png);
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        std::fs::write(root.join("docs/page.png"), png).expect("write docs/page.png");
    }
}

/// chromedriver on a free loopback port, killed on drop.
struct ChromeDriver {
    program: Program,
    addr: SocketAddr,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command.arg(format!("--port={port}"));
        let program = Program::start_with(command, &[]);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let up = eventually(Duration::from_secs(20), || TcpStream::connect(addr).is_ok());
        assert!(
            up,
            "chromedriver did not start: {:?}",
            program.stderr_lines()
        );
        ChromeDriver { program, addr }
    }

    fn session(&self, profile: &std::path::Path) -> Session<'_> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=800,600",
            &format!("--user-data-dir={}", profile.display()),
        ]
        .map(|a| format!("\"{a}\""))
        .join(",");
        let body = format!(
            r#"{{"capabilities":{{"alwaysMatch":{{"goog:chromeOptions":{{"binary":"{CHROMIUM}","args":[{args}]}}}}}}}}"#
        );
        let reply = self.call("POST", "/session", &body);
        let id = json_string(&reply, "sessionId")
            .unwrap_or_else(|| panic!("no session: {reply} {:?}", self.program.stderr_lines()));
        Session { driver: self, id }
    }

    /// One WebDriver command; returns the JSON reply.
    fn call(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(self.addr).expect("connect to chromedriver");
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).expect("send to chromedriver");
        let bytes = read_response(&mut s);
        let answer = parse_response(&bytes).expect("chromedriver answered HTTP");
        let text = answer.text();
        assert_eq!(answer.status, 200, "{method} {path}: {text}");
        text
    }
}

struct Session<'a> {
    driver: &'a ChromeDriver,
    id: String,
}

impl Session<'_> {
    fn call(&self, method: &str, path: &str, body: &str) -> String {
        self.driver.call(method, &format!("/session/{}{path}", self.id), body)
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", &format!(r#"{{"url":"{url}"}}"#));
    }

    fn current_url(&self) -> String {
        json_string(&self.call("GET", "/url", ""), "value").expect("url")
    }

    fn find(&self, using: &str, value: &str) -> String {
        let body = format!(r#"{{"using":"{using}","value":"{value}"}}"#);
        let reply = self.call("POST", "/element", &body);
        json_string(&reply, ELEMENT).unwrap_or_else(|| panic!("no element {value}: {reply}"))
    }

    /// The text as the browser renders it.
    fn text(&self, using: &str, value: &str) -> String {
        let element = self.find(using, value);
        json_string(
            &self.call("GET", &format!("/element/{element}/text"), ""),
            "value",
        )
        .expect("text")
    }

    /// Clicks the link with this text, and waits for the page that follows.
    fn click(&self, link_text: &str) {
        let element = self.find("link text", link_text);
        self.call("POST", &format!("/element/{element}/click"), "{}");
    }

    fn screenshot(&self) -> Vec<u8> {
        let reply = self.call("GET", "/screenshot", "");
        base64_decode(&json_string(&reply, "value").expect("screenshot"))
    }

    fn close(self) {
        self.driver.call("DELETE", &format!("/session/{}", self.id), "");
    }
}

/// The string value of the first `"key":"..."` in `json`, unescaped. Enough
/// for WebDriver's replies, which are small and flat where we read them.
fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut out = String::new();
    let mut pending_high: Option<u32> = None;
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let unit = u32::from_str_radix(&hex, 16).ok()?;
                    if (0xD800..0xDC00).contains(&unit) {
                        pending_high = Some(unit);
                    } else if let Some(high) = pending_high.take() {
                        let code = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00);
                        out.push(char::from_u32(code)?);
                    } else {
                        out.push(char::from_u32(unit)?);
                    }
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    sextets
        .chunks(4)
        .flat_map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &s)| acc | (u32::from(s) << (18 - 6 * i)));
            let bytes = bits.to_be_bytes();
            bytes[1..chunk.len()].to_vec()
        })
        .collect()
}

/// The test's own small JSON and base64 readers (used to talk to chromedriver).
#[test]
fn json_and_base64_readers() {
    let reply =
        r#"{"value":{"element-6066-11e4-a52e-4f735466cecf":"f.1"},"x": "a\"b\u751f\ud83d\ude00"}"#;
    assert_eq!(json_string(reply, ELEMENT).as_deref(), Some("f.1"));
    assert_eq!(json_string(reply, "x").as_deref(), Some("a\"b生😀"));
    assert_eq!(json_string(reply, "missing"), None);
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
