// redis_mq patch 8: `Server::new_with_handler` answers each request on the
// thread that read it from its connection, in order, and queues nothing
// for `recv`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

#[test]
fn each_request_is_answered_on_the_thread_that_read_it_in_order() {
    let seen: Arc<Mutex<Vec<(String, ThreadId)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let config = tiny_http::ServerConfig {
        addr: tiny_http::ConfigListenAddr::from_socket_addrs("127.0.0.1:0").unwrap(),
        ssl: None,
        limits: tiny_http::Limits::default(),
    };
    let server = tiny_http::Server::new_with_handler(config, move |rq| {
        let url = rq.url().to_owned();
        log.lock().unwrap().push((url.clone(), thread::current().id()));
        // The first answer is slow: the second, pipelined behind it, must
        // still come after it.
        if url == "/1" {
            thread::sleep(Duration::from_millis(200));
        }
        let _ = rq.respond(tiny_http::Response::from_string(url));
    })
    .unwrap();
    let port = server.server_addr().to_ip().unwrap().port();

    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client
        .write_all(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answers = String::new();
    client.read_to_string(&mut answers).unwrap();
    let first = answers.find("\r\n\r\n/1").expect("answer to /1");
    let second = answers.find("\r\n\r\n/2").expect("answer to /2");
    assert!(first < second, "{}", answers);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].1, seen[1].1, "one connection, one thread");
    assert_ne!(seen[0].1, thread::current().id());
    // Nothing was queued for `recv`.
    assert!(server.try_recv().unwrap().is_none());
}
